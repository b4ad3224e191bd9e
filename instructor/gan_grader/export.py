"""Marks into the learning platform: a CSV that Canvas's or Moodle's gradebook import reads.

``python -m gan_grader export final.csv --roster roster.csv --format canvas --out canvas.csv``

- The grades: any of the grade command's CSVs. Each notebook's mark is
  ``final`` where the late policy was applied (``late``), else ``total``
  where hand marks were entered (``marks``), else ``score``.
- The roster maps the course's student folder names to the platform's people:
  a CSV with a ``student`` column (the folder name) and the platform's own:
  for Canvas ``name`` ("Last, First"), ``id``, ``sis_user_id``, ``sis_login_id``
  and ``section`` (Canvas matches a row on ``id``, ``sis_user_id`` or
  ``sis_login_id``: each roster line needs one); for Moodle ``email`` (what the
  import is mapped on), and ``id_number``, ``first_name``, ``last_name``.
- The layout is each platform's own. Canvas: the columns of its gradebook
  export (``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``,
  then one column per notebook), with its ``Points Possible`` row second. Moodle:
  the columns of its grade export (``First name``, ``Last name``, ``ID number``,
  ``Email address``, then one column per notebook); its import is told to map
  ``Email address`` to the user's email.
- A student on the roster with no submission gets an empty cell, never a 0,
  unless ``--missing-as-zero`` is given (a notebook handed in but not gradable,
  ``unreadable`` or ``linked``, has the 0 the grade command gave it). A submission whose student is not on
  the roster is refused before anything is written, each one named. No network
  and no credentials: the file is uploaded through the platform's import page.
"""

from pathlib import Path

from helpers.checkpoints import write_atomically

from . import shards
from .manual import MISSING  # a notebook not handed in: an empty cell, not a 0

PLATFORMS = {
    # platform: (its columns for a person, roster column of each, roster columns of which a line needs one)
    "canvas": ((("Student", "name"), ("ID", "id"), ("SIS User ID", "sis_user_id"),
                ("SIS Login ID", "sis_login_id"), ("Section", "section")), ("id", "sis_user_id", "sis_login_id")),
    "moodle": ((("First name", "first_name"), ("Last name", "last_name"), ("ID number", "id_number"),
                ("Email address", "email")), ("email",)),
}
CANVAS_POINTS_ROW = "    Points Possible"  # the second row of Canvas's own export, as it writes it


class ExportError(ValueError):
    """The export cannot be written as asked; the message says which line or student and why."""


def mark_of(row):
    """A notebook's mark in a grade CSV row: ``final`` (late), else ``total`` (marks), else ``score``."""
    for field in ("final", "total", "score"):
        if row.get(field) not in (None, ""):
            return float(row[field])
    raise ExportError(f"{row.get('student')} / {row.get('notebook')} has no score")


def read_roster(path, platform):
    """``{student folder: {roster column: value}}``; ``ExportError`` for a roster the platform cannot use."""
    fields, lines = shards.read_table(path, ExportError)
    columns, needs_one = PLATFORMS[platform]
    if "student" not in fields or not set(needs_one) & set(fields):
        raise ExportError(f"{path}: a {platform} roster needs the column student and "
                          f"{' or '.join(needs_one)}, got {','.join(fields) or 'an empty file'}")
    roster = {}
    for number, line in enumerate(lines, start=2):
        where = f"{path}, line {number}"
        student = (line.get("student") or "").strip()
        if not student:
            raise ExportError(f"{where}: no student folder name")
        if student in roster:
            raise ExportError(f"{where}: {student} is on the roster twice")
        if not any((line.get(key) or "").strip() for key in needs_one):
            raise ExportError(f"{where}: {student} has no {' or '.join(needs_one)}, which {platform} matches on")
        roster[student] = {key: (line.get(key) or "").strip() for _, key in columns}
    return roster


def export(grades_csv, roster_csv, platform, out_csv, missing_as_zero=False):
    """Write ``out_csv`` for ``platform``'s gradebook import; return the number of people written."""
    if platform not in PLATFORMS:
        raise ExportError(f"unknown platform {platform!r}; choose one of {', '.join(PLATFORMS)}")
    out_csv = Path(out_csv)
    if out_csv.resolve() in (Path(grades_csv).resolve(), Path(roster_csv).resolve()):
        raise ExportError(f"--out {out_csv} is one of the inputs; write the export to a new file")
    fields, rows = shards.read_table(grades_csv, ExportError)
    if not {"student", "notebook", "score", "max_score", "status"} <= set(fields):
        raise ExportError(f"{grades_csv} is not a grade CSV of `python -m gan_grader grade`")
    roster = read_roster(roster_csv, platform)
    handed_in = {r["student"] for r in rows if r["status"] != MISSING}
    strangers = sorted(handed_in - set(roster))
    if strangers:
        raise ExportError(f"not on the roster {roster_csv}, so their marks would be lost: {', '.join(strangers)}; "
                          f"add them (student = the folder's name), nothing was written")
    notebooks = sorted({r["notebook"] for r in rows})
    worth = {r["notebook"]: float(r["max_score"]) + float(r.get("manual_max") or 0) for r in rows}
    marks = {(r["student"], r["notebook"]): mark_of(r) for r in rows if r["status"] != MISSING}
    columns, _ = PLATFORMS[platform]
    header = [title for title, _ in columns] + notebooks
    table = []
    if platform == "canvas":
        table.append({**{title: "" for title, _ in columns}, "Student": CANVAS_POINTS_ROW,
                      **{n: f"{worth[n]:g}" for n in notebooks}})
    for student, person in sorted(roster.items()):
        cells = {}
        for n in notebooks:
            mark = marks.get((student, n), 0.0 if missing_as_zero else None)
            cells[n] = "" if mark is None else f"{mark:g}"
        table.append({**{title: person[key] for title, key in columns}, **cells})
    write_atomically(out_csv, shards.csv_text(header, table).encode())
    return len(roster)
