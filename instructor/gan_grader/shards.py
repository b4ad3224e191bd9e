"""A class graded in shards, on several machines, and the shards joined into one result.

``python -m gan_grader grade SUBMISSIONS --out shard-2.csv --shard 2/4`` grades a stable slice of
the students: those whose folder name's CRC-32 is 1 modulo 4 (the same on every machine and every
Python). Every shard reads the whole folder first, so each student keeps the internal id and the
notebooks the whole batch gives them; beside its CSV it writes ``<stem>-shard.json``, the plan of
the whole batch (which shard it is, every student, every notebook).

``python -m gan_grader merge --out grades.csv shard-1.csv ... shard-4.csv`` checks the plans (one
batch, every shard once, no student twice) and joins what the shards wrote into what one unsharded
run writes: the CSV, the feedback folder and nbgrader's own export, in the same order. Only the
timings differ (the ``seconds`` column, nbgrader's timestamps).
"""

import csv
import io
import json
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from helpers.checkpoints import write_atomically


class ShardError(ValueError):
    """The shards cannot be joined: one is missing, from another batch, or holds a student twice."""


@dataclass(frozen=True)
class Shard:
    """Shard ``k`` of ``n`` (1 <= k <= n)."""
    k: int
    n: int

    def holds(self, student):
        """Whether this shard grades the student whose folder is called ``student``."""
        return zlib.crc32(student.encode("utf-8")) % self.n == self.k - 1

    def __str__(self):
        return f"{self.k}/{self.n}"


def parse(text):
    """``"2/4"`` -> ``Shard(2, 4)``; a ``ValueError`` naming what was expected otherwise (for argparse)."""
    k, slash, n = str(text).partition("/")
    if not (slash and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise ValueError(f"expected K/N with 1 <= K <= N (say 2/4), got {text!r}")
    return Shard(int(k), int(n))


def outputs(out_csv):
    """What a grade run writes beside ``out_csv``: (the CSV, the feedback folder, nbgrader's export, the plan)."""
    out_csv = Path(out_csv)
    return (out_csv, out_csv.with_name(out_csv.stem + "-feedback"), out_csv.with_name(out_csv.stem + "-nbgrader.csv"),
            out_csv.with_name(out_csv.stem + "-shard.json"))


def cells_csv(out_csv):
    """The per-exercise CSV a grade run writes beside ``out_csv``: ``<stem>-cells.csv``, one row per test cell
    of each submission that ran (``grading.CELL_FIELDS``)."""
    out_csv = Path(out_csv)
    return out_csv.with_name(out_csv.stem + "-cells.csv")


def write_plan(out_csv, shard, students, notebooks):
    """Write the plan of the whole batch beside a shard's CSV."""
    plan = outputs(out_csv)[3]
    write_atomically(plan, json.dumps({"shard": str(shard), "students": list(students),
                                       "notebooks": list(notebooks)}, indent=1).encode())


def merge(shard_csvs, out_csv):
    """Join the shards whose CSVs are ``shard_csvs`` into ``out_csv`` (and its feedback and export).

    Returns the number of rows. Raises ``ShardError`` before writing anything when the shards do not
    make one whole batch, or one of them is damaged (a row missing or cut short, not a CSV file).
    Merging again replaces what the last merge wrote; a shard is never written.
    """
    shard_csvs = [Path(p) for p in shard_csvs]
    _check_out(shard_csvs, Path(out_csv))
    plans = [_read_plan(path) for path in shard_csvs]
    _check_whole(shard_csvs, plans)
    fields = _header(shard_csvs[0])
    rows, seen = [], {}
    for path, plan in zip(shard_csvs, plans):
        mine = _read_rows(path, fields)
        for row in mine:
            key = (row["student"], row["notebook"])
            if key in seen:
                raise ShardError(f"{row['student']} / {row['notebook']} is in both {seen[key]} and {path}")
            seen[key] = path
        _check_complete(path, plan, mine)
        rows.extend(mine)
    out_csv, feedback, export, _ = outputs(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{feedback.name}-", dir=out_csv.parent))
    try:
        for path in shard_csvs:
            _copy_tree(outputs(path)[1], fresh)
        by_student = lambda r: (r["notebook"], r["student"])  # noqa: E731 (stable: each student's cells in order)
        _merge_cells([cells_csv(p) for p in shard_csvs], cells_csv(out_csv), by_student)
        write_atomically(out_csv, csv_text(fields, sorted(rows, key=by_student)).encode())
        _merge_exports([outputs(p)[2] for p in shard_csvs], export)
        if feedback.exists():
            shutil.rmtree(feedback)  # the last merge's, made again from the shards just above
        fresh.rename(feedback)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return len(rows)


def _check_out(shard_csvs, out_csv):
    """``out_csv`` and what is written beside it must not be a shard's own files."""
    theirs = {p.resolve() for path in shard_csvs for p in outputs(path)}
    clash = [p for p in outputs(out_csv) if p.resolve() in theirs]
    if clash:
        raise ShardError(f"--out {out_csv} would overwrite a shard's own file ({clash[0]}); "
                         f"give the merged CSV a name of its own, e.g. {out_csv.with_name('grades.csv')}")


def _read_plan(path):
    plan_path = outputs(path)[3]
    if not Path(path).is_file():
        raise ShardError(f"no shard's CSV at {path}")
    if not plan_path.is_file():
        raise ShardError(f"{path} was not graded with --shard: no plan at {plan_path}")
    try:
        plan = json.loads(plan_path.read_text(encoding="utf-8"))
        parse(plan["shard"]), list(plan["students"]), list(plan["notebooks"])
    except (ValueError, KeyError, TypeError) as error:
        raise ShardError(f"the plan {plan_path} is damaged ({type(error).__name__}: {str(error)[:80]}); "
                         f"grade that shard again") from None
    return plan


def _check_whole(paths, plans):
    """The plans must be of one batch, with every shard 1..N there once."""
    first = plans[0]
    for path, plan in zip(paths, plans):
        if (plan["students"], plan["notebooks"]) != (first["students"], first["notebooks"]):
            raise ShardError(f"{path} is a shard of another batch than {paths[0]} (other students or notebooks)")
    shards = [parse(plan["shard"]) for plan in plans]
    n = shards[0].n
    if any(shard.n != n for shard in shards):
        raise ShardError(f"the shards were cut in different numbers: {', '.join(str(s) for s in shards)}")
    counts = {k: sum(shard.k == k for shard in shards) for k in range(1, n + 1)}
    missing = [f"{k}/{n}" for k, count in counts.items() if count == 0]
    twice = [f"{k}/{n}" for k, count in counts.items() if count > 1]
    if missing or twice:
        raise ShardError(f"the shards are not each there once: missing {missing or 'none'}, twice {twice or 'none'}")


def _check_complete(path, plan, rows):
    """A shard's CSV must hold a row for each of its students and each notebook of the batch."""
    shard = parse(plan["shard"])
    wanted = {(student, notebook) for student in plan["students"] if shard.holds(student)
              for notebook in plan["notebooks"]}
    missing = sorted(wanted - {(row["student"], row["notebook"]) for row in rows})
    if missing:
        shown = ", ".join(f"{s} / {n}" for s, n in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ShardError(f"{path} lacks {len(missing)} of its shard's rows ({shown}): it was cut short or "
                         f"edited; grade shard {shard} again")


def csv_file_text(path, error=ValueError):
    """A CSV file's text, a spreadsheet's byte-order mark dropped; ``error`` (the caller's kind) if it is not
    text. ``merge`` and ``marks`` read every CSV through it."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise error(f"{path} is not a CSV text file (saved by a spreadsheet in its own format?); "
                    f"save it as 'CSV UTF-8'") from None


def read_table(path, error=ValueError):
    """``(header, rows)`` of a CSV file read through ``csv_file_text``, rows as dicts; ``error`` if it is not text."""
    reader = csv.DictReader(io.StringIO(csv_file_text(path, error), newline=""))
    return list(reader.fieldnames or []), list(reader)


def _text(path):
    return csv_file_text(path, ShardError)


def _header(path):
    return next(csv.reader(io.StringIO(_text(path), newline="")), [])


def _read_csv(path):
    return list(csv.DictReader(io.StringIO(_text(path), newline="")))


def _read_rows(path, fields):
    """A shard's rows, each checked whole: the grade command's header, and every field of every row."""
    if _header(path) != fields or "student" not in fields:
        raise ShardError(f"{path} does not start with the grade command's header ({','.join(fields[:3])},...)")
    rows = _read_csv(path)
    for number, row in enumerate(rows, start=2):
        if None in row.values() or None in row:
            raise ShardError(f"line {number} of {path} has {len([v for v in row.values() if v is not None])} "
                             f"fields, expected {len(fields)}: the file was cut short or edited")
    return rows


def csv_text(fields, rows):
    """The grade command's CSV (a header, then ``rows``, dicts with ``fields``) as text: what
    ``grading`` writes for one run and ``merge`` for the shards joined, the same bytes for the same rows."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _merge_cells(paths, target, order):
    """The shards' per-exercise CSVs joined into ``target``, rows sorted by ``order``; none written if no shard
    has one (graded by an older version), and ``ShardError`` if only some do."""
    present = [p for p in paths if p.is_file()]
    if not present:
        return
    if len(present) < len(paths):
        missing = ", ".join(str(p) for p in paths if not p.is_file())
        raise ShardError(f"{missing} is missing beside its shard: grade that shard again")
    fields = _header(present[0])
    rows = [row for path in present for row in _read_rows(path, fields)]
    write_atomically(target, csv_text(fields, sorted(rows, key=order)).encode())


def _merge_exports(paths, target):
    """nbgrader's exports, joined in the order nbgrader writes one: by notebook, then by student's name."""
    present = [p for p in paths if p.is_file()]
    if not present:
        return
    fields = _header(present[0])
    rows = [row for path in present for row in _read_csv(path)]
    rows.sort(key=lambda r: (r["assignment"], r["last_name"], r["first_name"]))
    text = ",".join(fields) + "\n" + "".join(",".join(row[f] for f in fields) + "\n" for row in rows)
    write_atomically(target, text.encode())  # nbgrader writes its rows unquoted, one per line


def _copy_tree(source, target):
    """Copy each student's feedback folder of a shard into ``target``; a file two shards wrote is refused."""
    if not source.is_dir():
        return
    for path in sorted(source.rglob("*")):
        if path.is_file():
            destination = target / path.relative_to(source)
            if destination.exists():
                raise ShardError(f"two shards wrote {destination.relative_to(target)} (the second: {path})")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
