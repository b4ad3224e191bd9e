"""Late work: due dates, extensions and a penalty rule, applied to the total after the hand marks.

``python -m gan_grader late final.csv --due due.toml --submissions submissions/ --out late.csv``
(``--extensions extensions.csv`` optional) reads:

- the grade CSV (``grade``'s, ``merge``'s or ``marks``' output: the total is
  ``total`` where hand marks were entered, else ``score``);
- ``due.toml``: each notebook's due time and the rule, e.g.::

      [policy]
      per_day = 0.10        # share of the total taken off per day late, any part of a day a whole day
      cap = 0.50            # at most this share
      grace_minutes = 15    # this late counts as on time

      [due]
      01_data = 2026-10-05T23:59:00+01:00

- ``extensions.csv``: ``student,notebook,due``, a later due time for one
  student's notebook;
- when each notebook was handed in: nbgrader's ``timestamp.txt`` in the
  student's folder, where its collection wrote one; else the notebook file's
  modification time, and the ``time_source`` column says so.

It writes the grade CSV with ``submitted``, ``due``, ``time_source``,
``days_late``, ``penalty`` (the share taken off) and ``final`` added. Every
input is checked before anything is written: a due time without a time zone,
a date that cannot be read, a notebook with no due time, an extension for an
unknown student or notebook, a hand-in time in the future.
"""

import datetime as dt
import math
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python before 3.11
    import tomli as tomllib

from helpers.checkpoints import write_atomically

from . import grading, shards
from .manual import MISSING

LATE_FIELDS = ("submitted", "due", "time_source", "days_late", "penalty", "final")
DAY = dt.timedelta(days=1)


class LateError(ValueError):
    """Lateness cannot be worked out as given; the message says which file, line or value and why."""


def read_due(path):
    """``(policy, {notebook: due datetime})`` from a ``due.toml``; ``LateError`` naming what is wrong."""
    try:
        config = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as error:
        raise LateError(f"{path} cannot be read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise LateError(f"{path} is not a TOML file: {error}") from None
    policy = {"per_day": 0.1, "cap": 1.0, "grace_minutes": 0, **config.get("policy", {})}
    for key, top in (("per_day", 1), ("cap", 1), ("grace_minutes", None)):
        value = policy[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value < 0 or (top is not None and value > top):
            bounds = "between 0 and 1" if top else "at least 0"
            raise LateError(f"{path}: policy.{key} must be a number {bounds}, got {value!r}")
    due = config.get("due")
    if not isinstance(due, dict) or not due:
        raise LateError(f"{path} gives no due times: add a [due] table, e.g. 01_data = 2026-10-05T23:59:00+01:00")
    return policy, {notebook: _aware(when, f"{path}: due time of {notebook}") for notebook, when in due.items()}


def _aware(when, where):
    """``when`` (a TOML datetime, or ISO 8601 text) as a UTC datetime; it must name its time zone."""
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.strip())
        except ValueError:
            raise LateError(f"{where}: {when!r} is not a date and time (expected e.g. 2026-10-05T23:59:00+01:00)") \
                from None
    if not isinstance(when, dt.datetime):
        raise LateError(f"{where}: {when!r} is not a date and time (expected e.g. 2026-10-05T23:59:00+01:00)")
    if when.tzinfo is None:
        raise LateError(f"{where}: {when.isoformat()} has no time zone; add one (+01:00, or Z for UTC)")
    return when.astimezone(dt.timezone.utc)


def read_extensions(path, rows, due):
    """``{(student, notebook): due}`` from ``extensions.csv``, checked against the grade CSV's ``rows``."""
    if path is None:
        return {}
    fields, lines = shards.read_table(path, LateError)
    if not {"student", "notebook", "due"} <= set(fields):
        raise LateError(f"{path}: the extensions need the columns student,notebook,due, got {','.join(fields)}")
    students = {r["student"] for r in rows}
    extended = {}
    for number, line in enumerate(lines, start=2):
        where = f"{path}, line {number}"
        if line["student"] not in students:
            raise LateError(f"{where}: no student {line['student']!r} in the grade CSV")
        if line["notebook"] not in due:
            raise LateError(f"{where}: no notebook {line['notebook']!r} in the due times ({', '.join(due)})")
        extended[(line["student"], line["notebook"])] = _aware(line["due"], where)
    return extended


def handed_in(submissions, student, notebook):
    """``(UTC datetime, source)`` of when ``student`` handed ``notebook`` in: nbgrader's ``timestamp.txt`` in
    their folder, else the modification time of the notebook file the grade command reads
    (``grading.find_notebook``); None where there is neither."""
    from nbgrader.utils import parse_utc

    folder = Path(submissions) / student
    stamp = folder / "timestamp.txt"
    if stamp.is_file():
        text = stamp.read_text().strip()
        try:
            return parse_utc(text).replace(tzinfo=dt.timezone.utc), "timestamp.txt"
        except (ValueError, OverflowError):
            raise LateError(f"{stamp}: {text!r} is not a time nbgrader wrote") from None
    path, _ = grading.find_notebook(folder, notebook) if folder.is_dir() else (None, "")
    if path is not None and path.is_file():
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc), "file time"
    return None


def penalty(late, policy):
    """``(days late, share taken off)`` for a hand-in ``late`` (a timedelta) after its due time."""
    late -= dt.timedelta(minutes=policy["grace_minutes"])
    days = math.ceil(late / DAY) if late > dt.timedelta(0) else 0
    return days, min(policy["cap"], days * policy["per_day"])


def apply_late_policy(grades_csv, due_toml, submissions, out_csv, extensions_csv=None, now=None):
    """Write ``out_csv``: the grade CSV with lateness and the penalty applied to each total. Returns the rows.

    ``now``: the present (UTC), to refuse hand-in times in the future (default: the clock).
    """
    grades_csv, out_csv = Path(grades_csv), Path(out_csv)
    if out_csv.resolve() in {Path(p).resolve() for p in (grades_csv, due_toml, extensions_csv) if p}:
        raise LateError(f"--out {out_csv} is one of the inputs; write the result to a new file")
    fields, rows = shards.read_table(grades_csv, LateError)
    if not {"student", "notebook", "score", "status"} <= set(fields):
        raise LateError(f"{grades_csv} is not a grade CSV of `python -m gan_grader grade`")
    policy, due = read_due(due_toml)
    unknown = sorted({r["notebook"] for r in rows} - set(due))
    if unknown:
        raise LateError(f"{due_toml} has no due time for {', '.join(unknown)}, which the grade CSV holds")
    extended = read_extensions(extensions_csv, rows, due)
    now = now or dt.datetime.now(dt.timezone.utc)
    for row in rows:
        _late_row(row, submissions, due, extended, policy, now)
    write_atomically(out_csv, shards.csv_text(fields + [f for f in LATE_FIELDS if f not in fields], rows).encode())
    return rows


def _late_row(row, submissions, due, extended, policy, now):
    """Fill ``row``'s LATE_FIELDS."""
    deadline = extended.get((row["student"], row["notebook"]), due[row["notebook"]])
    total = float(row.get("total") or row["score"])
    when = None if row["status"] == MISSING else handed_in(submissions, row["student"], row["notebook"])
    if when is None:
        row.update(submitted="", due=deadline.isoformat(), time_source="", days_late="", penalty="",
                   final=f"{total:g}")
        return
    submitted, source = when
    if submitted > now + dt.timedelta(minutes=5):
        raise LateError(f"{row['student']}'s {row['notebook']} was handed in at {submitted.isoformat()} ({source}), "
                        f"which is in the future: check the machine's clock, or the timestamp")
    days, share = penalty(submitted - deadline, policy)
    row.update(submitted=submitted.isoformat(timespec="seconds"), due=deadline.isoformat(), time_source=source,
               days_late=str(days), penalty=f"{share:g}", final=f"{round(total * (1 - share), 2):g}")
