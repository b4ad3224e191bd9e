"""Answers an instructor marks by hand: found in the sources, kept apart in the grade CSV, entered afterwards.

A source notebook may hold written answers that no test can mark: nbgrader's
"manually graded answer" cells (markdown cells with ``grade`` and
``solution`` set, and their ``points``). Session 6 ends with two. The grade
command never scores them. Each CSV row says instead, in two columns:

- ``manual_max``: the points the notebook's hand-marked answers are worth,
  never part of ``score`` or ``max_score``;
- ``manual``: ``needs manual grading: answer_consent (2), answer_detection (2)``
  for a graded submission, empty for a notebook with no such answer.

The instructor reads the answers in each student's feedback HTML (or the
submission itself), writes their marks in a CSV of their own,
``student,notebook,grade_id,points``, and runs::

    python -m gan_grader marks grades.csv marks.csv --out final.csv

which checks every mark first (a known student, notebook and answer, a
submission that was graded, points between 0 and the answer's worth, no answer
marked twice) and only then writes ``final.csv``: the grade CSV with
``manual_score``, ``total`` and ``manual_marks`` (each answer's mark,
``answer_consent=2; answer_detection=1.5``) added, and ``manual`` saying
``marked by hand`` or which answers still need a mark. A second sitting starts
from the first one's result (``marks final.csv more.csv --out final2.csv``):
the marks already entered are kept, and marking one of them again is refused.
"""

import math
from pathlib import Path

import nbformat

from helpers.checkpoints import write_atomically

from . import shards
from .release import SOLUTIONS_DIR

MARK_FIELDS = ("student", "notebook", "grade_id", "points")
MISSING = "missing"  # the grade command's status of a notebook not handed in
NOT_READ = (MISSING, "unreadable", "linked")  # the grade command's statuses of a notebook it never read


class MarksError(ValueError):
    """The marks cannot be entered as given; the message says which line and why."""


def manual_cells(source):
    """``{grade_id: points}`` of the answers marked by hand in ``source`` (a notebook as a dict, or a path)."""
    notebook = nbformat.read(str(source), as_version=4) if isinstance(source, (str, Path)) else source
    found = {}
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("solution"):
            found[meta["grade_id"]] = float(meta.get("points", 0))
    return found


def needs_marking(cells):
    """The ``manual`` column for a graded submission with hand-marked answers ``cells`` ({grade_id: points})."""
    if not cells:
        return ""
    return "needs manual grading: " + ", ".join(f"{gid} ({points:g})" for gid, points in cells.items())


def _number(text, where):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise MarksError(f"{where}: points must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise MarksError(f"{where}: points must be a finite number, got {text!r}")
    return value


def _read_table(path):
    """(header, rows) of a CSV file, read as ``merge`` reads one (``shards.read_table``)."""
    return shards.read_table(path, MarksError)


def earlier_marks(row):
    """``{grade_id: points}`` entered for ``row`` by an earlier sitting (its ``manual_marks`` column)."""
    marks = {}
    for part in filter(None, (p.strip() for p in (row.get("manual_marks") or "").split(";"))):
        grade_id, _, points = part.partition("=")
        marks[grade_id.strip()] = _number(points, f"{row['student']} / {row['notebook']}'s manual_marks")
    return marks


def read_marks(path, rows, solutions_dir=None):
    """``{(student, notebook): {grade_id: points}}`` from the instructor's CSV at ``path``, each mark checked
    against the grade CSV's ``rows`` and the source notebooks; ``MarksError`` naming the first bad line."""
    fields, lines = _read_table(path)
    if not set(MARK_FIELDS) <= set(fields):
        raise MarksError(f"{path}: the marks need the columns {','.join(MARK_FIELDS)}, "
                         f"got {','.join(fields) or 'an empty file'}")
    known = {(r["student"], r["notebook"]): r for r in rows}
    marks = {}
    for number, line in enumerate(lines, start=2):
        where = f"{path}, line {number}"
        key = (line["student"], line["notebook"])
        if key not in known:
            raise MarksError(f"{where}: no graded submission of {line['notebook']!r} by {line['student']!r} in the "
                             f"grade CSV")
        row = known[key]
        if row.get("status") in NOT_READ:
            raise MarksError(f"{where}: {line['student']}'s {line['notebook']} was not graded (status "
                             f"{row['status']}: {row.get('detail') or 'nothing handed in'}), so it has no answer "
                             f"to mark")
        cells = cells_of(line["notebook"], solutions_dir)
        if line["grade_id"] not in cells:
            raise MarksError(f"{where}: {line['notebook']} has no answer {line['grade_id']!r} to mark by hand; its "
                             f"answers are {', '.join(cells) or 'none'}")
        points = _number(line["points"], where)
        worth = cells[line["grade_id"]]
        if not 0 <= points <= worth:
            raise MarksError(f"{where}: {line['grade_id']} is worth 0 to {worth:g} points, got {points:g}")
        if line["grade_id"] in marks.get(key, {}):
            raise MarksError(f"{where}: {line['grade_id']} of {line['student']} is marked twice")
        if line["grade_id"] in earlier_marks(row):
            raise MarksError(f"{where}: {line['grade_id']} of {line['student']} was marked in an earlier sitting "
                             f"({earlier_marks(row)[line['grade_id']]:g} points); to change it, start again from "
                             f"the grade CSV with every mark in one file")
        marks.setdefault(key, {})[line["grade_id"]] = points
    return marks


def cells_of(notebook, solutions_dir=None):
    """``manual_cells`` of the source notebook called ``notebook`` (``"06_stable"``)."""
    return manual_cells(Path(solutions_dir or SOLUTIONS_DIR) / f"{notebook}.ipynb")


def enter_marks(grades_csv, marks_csv, out_csv, solutions_dir=None):
    """Write ``out_csv``: the grade CSV with the hand marks entered (``manual_score``, ``total``). Returns the
    rows. Everything is checked before anything is written; ``out_csv`` may not be one of the inputs."""
    grades_csv, marks_csv, out_csv = Path(grades_csv), Path(marks_csv), Path(out_csv)
    if out_csv.resolve() in (grades_csv.resolve(), marks_csv.resolve()):
        raise MarksError(f"--out {out_csv} is one of the inputs; write the result to a new file")
    fields, rows = _read_table(grades_csv)
    missing = [f for f in ("student", "notebook", "score", "manual_max", "manual") if f not in fields]
    if missing:
        raise MarksError(f"{grades_csv} is not a grade CSV of `python -m gan_grader grade`: it lacks {missing}")
    marks = read_marks(marks_csv, rows, solutions_dir)
    for row in rows:
        given = {**earlier_marks(row), **marks.get((row["student"], row["notebook"]), {})}
        if not (row["manual"].startswith("needs manual grading") or given):
            row["manual_score"], row["total"], row["manual_marks"] = "", row["score"], ""
            continue
        cells = cells_of(row["notebook"], solutions_dir)
        left = {gid: points for gid, points in cells.items() if gid not in given}
        row["manual_score"] = f"{sum(given.values()):g}"
        row["total"] = f"{float(row['score']) + sum(given.values()):g}"
        row["manual"] = "marked by hand" if not left else needs_marking(left)
        row["manual_marks"] = "; ".join(f"{gid}={points:g}" for gid, points in given.items())
    out_fields = fields + [f for f in ("manual_score", "total", "manual_marks") if f not in fields]
    write_atomically(out_csv, shards.csv_text(out_fields, rows).encode())
    return rows
