"""Autograding a folder of submissions with nbgrader, in one command.

Input: ``SUBMISSIONS/<student>/NN_name.ipynb``. For each notebook graded, the
sources come from ``solutions/``. The steps:

1. Read every submission first. A file that is not a valid notebook is marked
   ``unreadable`` here (nbgrader would report it as a plain 0); a student who
   did not hand a notebook in is marked ``missing`` (a single near miss such as
   ``NN_name (1).ipynb`` is graded, with a note). Every student folder gets an
   internal id for nbgrader (which reads ids as glob patterns); the CSV keeps
   the folder's name.
2. Build nbgrader's course directory in a temporary folder: the config with a
   per-cell timeout, the sqlite gradebook, ``source/`` from ``solutions/``,
   ``submitted/`` from the readable submissions.
3. Run nbgrader's ``generate_assignment``, ``autograde``, ``generate_feedback``
   and ``export``, with ``GAN_COURSE_FAST=1`` so notebooks are smoke runs
   (nbgrader's own export lands beside the CSV as ``<stem>-nbgrader.csv``).
4. Read the scores from the gradebook and write one CSV row per student and
   notebook: ``student,notebook,score,max_score,status,detail``.

``status`` is one of ``graded``, ``timeout`` (a cell ran past the time limit;
the other cells were still graded), ``cells-missing`` (graded cells deleted
or stripped of their nbgrader metadata, named in ``detail``), ``unreadable``,
``missing``, ``kernel-died`` (the notebook's kernel died: ``os._exit``, a
crash in native code, memory) and ``error`` (nbgrader could not grade it for
another reason, quoted in ``detail``). One bad submission never stops the
batch. nbgrader's log about each student (its traceback included) is kept
beside their feedback, as ``<feedback>/<student>/NN_name.log``.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from .release import SOLUTIONS_DIR

DEFAULT_TIMEOUT = 120  # seconds per cell; fast-mode cells take a few seconds
COURSE_ID = "gan-course"
FIELDS = ("student", "notebook", "score", "max_score", "status", "detail")


class GradingError(RuntimeError):
    """The grading tool itself cannot go on (bad arguments, nbgrader broken)."""


def grade_submissions(submissions, out_csv, notebooks=None, timeout=DEFAULT_TIMEOUT,
                      feedback_dir=None, keep_workdir=None):
    """Grade ``submissions`` and write ``out_csv``; return the rows as dicts.

    ``notebooks``: names like ``"01_data"`` to grade (default: every notebook
    some student handed in). ``timeout``: seconds per cell. ``feedback_dir``:
    where the feedback HTML goes (default ``<out stem>-feedback`` beside the CSV).
    ``keep_workdir``: build the nbgrader course directory there and keep it.
    """
    submissions, out_csv = Path(submissions), Path(out_csv)
    if out_csv.is_dir():
        raise GradingError(f"--out {out_csv} is a folder; give the path of the CSV file to write, "
                           f"e.g. {out_csv / 'grades.csv'}")
    students, names = _survey(submissions, notebooks)
    feedback_dir = Path(feedback_dir) if feedback_dir else out_csv.with_name(out_csv.stem + "-feedback")
    try:
        out_csv.parent.mkdir(parents=True, exist_ok=True)
        feedback_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GradingError(f"cannot write the results: {error}") from None

    workdir = Path(keep_workdir).resolve() if keep_workdir else Path(tempfile.mkdtemp(prefix="gan-grading-"))
    try:
        rows = _grade_in(workdir, submissions, students, names, timeout, feedback_dir)
        export = workdir / "nbgrader_export.csv"
        _nbgrader(workdir, "export", "--to", str(export))  # nbgrader's own per-assignment table
        if export.is_file():
            shutil.copyfile(export, out_csv.with_name(out_csv.stem + "-nbgrader.csv"))
    finally:
        if not keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    _write_csv(out_csv, rows)
    return rows


def _survey(submissions, notebooks):
    """Check the input folder; return (students, notebook names to grade)."""
    if not submissions.is_dir():
        raise GradingError(f"{submissions} is not a folder of submissions "
                           f"(expected SUBMISSIONS/<student>/NN_name.ipynb)")
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir())  # every folder gets its rows
    if not students:
        raise GradingError(f"{submissions} has no student folders "
                           f"(expected SUBMISSIONS/<student>/NN_name.ipynb)")
    available = {p.stem for p in SOLUTIONS_DIR.glob("*.ipynb")}
    if notebooks:
        unknown = sorted(set(notebooks) - available)
        if unknown:
            raise GradingError(f"no source notebook for {unknown} in {SOLUTIONS_DIR}; "
                               f"available: {sorted(available)}")
        return students, sorted(set(notebooks))
    handed_in = {name for name in available for s in students if _find_notebook(submissions / s, name)[0]}
    names = sorted(handed_in & available)
    if not names:
        raise GradingError(f"no submission in {submissions} matches a notebook in "
                           f"{SOLUTIONS_DIR} ({sorted(available)})")
    return students, names


def _nbgrader(workdir, *args):
    """Run one nbgrader command in the course directory; return the finished process.

    nbgrader calls ``alembic`` through PATH when it creates the gradebook, so
    this interpreter's bin folder goes first on PATH.
    """
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["GAN_COURSE_FAST"] = "1"
    # Each notebook then writes its images and checkpoints under its own
    # folder, autograded/<student>/<notebook>/outputs/: students never share files.
    env.pop("GAN_COURSE_OUT", None)
    env.setdefault("MPLBACKEND", "Agg")
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=workdir, env=env,
                          capture_output=True, text=True)


def _write_config(workdir, timeout):
    (workdir / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(workdir)!r}\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Execute.timeout = {int(timeout)}\n"
        "c.Execute.interrupt_on_timeout = True\n"
    )


def _read_submission(path):
    """``(notebook, None)`` for a valid notebook file, else ``(None, reason)``.

    A notebook saved by an older Jupyter (nbformat 4.4, no cell ids) is
    brought to 4.5 first, with fresh cell ids, as Jupyter itself would.
    """
    try:
        nb = nbformat.read(str(path), as_version=4)
        if nb.get("nbformat_minor", 0) < 5:
            for i, cell in enumerate(nb.cells):
                cell.setdefault("id", f"cell-{i:04d}")
            nb["nbformat_minor"] = 5
        nbformat.validate(nb)
    except Exception as error:  # JSON errors, schema errors, bad encodings
        return None, f"not a valid notebook: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
    return nb, None


def graded_cell_ids(nb):
    """The ``grade_id`` of every autograded cell of a notebook (a dict, or nbformat's node)."""
    return {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb["cells"]
            if c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def _find_notebook(folder, name):
    """``(path, note)`` of ``name``'s notebook in a student's folder, or ``(None, reason)``.

    ``NN_name.ipynb`` itself, else one near miss such as ``NN_name (1).ipynb``
    or ``NN_name-copy.ipynb``, accepted with a note.
    """
    exact = folder / f"{name}.ipynb"
    if exact.is_file():
        return exact, ""
    near = sorted(p for p in folder.glob("*.ipynb") if p.stem.startswith(name) and p.is_file())
    if len(near) == 1:
        return near[0], f"graded '{near[0].name}' (expected {name}.ipynb)"
    if near:
        return None, f"no {name}.ipynb handed in; {len(near)} near misses, none chosen: {[p.name for p in near]}"
    return None, f"no {name}.ipynb handed in"


def _grade_in(workdir, submissions, students, names, timeout, feedback_dir):
    workdir.mkdir(parents=True, exist_ok=True)
    _write_config(workdir, timeout)
    # nbgrader reads student ids as glob patterns and path parts: each folder gets a plain internal id,
    # and the CSV keeps the folder's real name.
    ids = {student: f"student{i:04d}" for i, student in enumerate(students, start=1)}
    rows = []
    for name in names:
        status, notes = {}, {}
        for student in students:
            path, note = _find_notebook(submissions / student, name)
            if path is None:
                status[ids[student]] = ("missing", note)
                continue
            notes[ids[student]] = note
            nb, reason = _read_submission(path)
            if nb is None:
                status[ids[student]] = ("unreadable", reason)
                continue
            lost = sorted(graded_cell_ids(json.loads((SOLUTIONS_DIR / f"{name}.ipynb").read_text()))
                          - graded_cell_ids(nb))
            if lost:  # deleted, or their nbgrader metadata stripped: nbgrader alone would just give fewer points
                notes[ids[student]] = "; ".join(filter(None, [note, f"graded cells missing or stripped of their "
                                                                  f"nbgrader metadata: {', '.join(lost)}"]))
            target = workdir / "submitted" / ids[student] / name / f"{name}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(target))
            status[ids[student]] = ("graded", "")
        for row in _grade_notebook(workdir, name, status, feedback_dir, names_of={v: k for k, v in ids.items()}):
            note = notes.get(row.pop("id"), "")
            if note:
                row["detail"] = f"{note}; {row['detail']}" if row["detail"] else note
            if "graded cells missing" in note and row["status"] == "graded":
                row["status"] = "cells-missing"
            rows.append(row)
    return sorted(rows, key=lambda r: (r["notebook"], r["student"]))


def _grade_notebook(workdir, name, status, feedback_dir, names_of):
    """Autograde one notebook for every readable submission; return its rows.

    ``status`` is keyed by internal student id; ``names_of`` maps an id to the
    student's folder name, which the rows carry (with the id under ``"id"``).
    """
    source = workdir / "source" / name / f"{name}.ipynb"
    source.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOLUTIONS_DIR / f"{name}.ipynb", source)
    done = _nbgrader(workdir, "generate_assignment", name, "--force")
    if done.returncode != 0:
        raise GradingError(f"nbgrader generate_assignment {name} failed:\n{done.stdout}{done.stderr}")
    if any(s == "graded" for s, _ in status.values()):
        _register_students(workdir, names_of)
        autograde = _nbgrader(workdir, "autograde", name, "--force")
        _nbgrader(workdir, "generate_feedback", name, "--force")
        logs = student_logs(autograde.stdout + autograde.stderr)
    else:
        logs = {}
    scores, max_score = _gradebook_scores(workdir, name)
    rows = []
    for student, (state, detail) in sorted(status.items()):
        score = scores.get(student, 0.0)
        if state == "graded":
            log = logs.get(student, "")
            state, detail = _outcome(workdir, name, student, student in scores, log)
            _copy_feedback(workdir, name, student, names_of[student], feedback_dir)
            _write_student_log(log, name, feedback_dir / names_of[student])
        rows.append(dict(id=student, student=names_of[student], notebook=name, score=round(score, 2),
                         max_score=round(max_score, 2), status=state, detail=detail))
    return rows


def _register_students(workdir, names_of):
    """Put every student in the gradebook under their internal id, with their folder name as last name."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        for student_id, folder_name in names_of.items():
            gradebook.update_or_create_student(student_id, last_name=folder_name)


def _gradebook_scores(workdir, name):
    """``({student: score}, max_score)`` for notebook ``name``, from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        max_score = gradebook.find_notebook(name, name).max_score
        scores = {}
        for student in gradebook.students:
            try:
                scores[student.id] = gradebook.find_submission_notebook(name, name, student.id).score
            except MissingEntry:
                continue
    return scores, max_score


def student_logs(log):
    """nbgrader's autograde log cut into ``{student id: that student's part}``.

    autograde grades one student after the other, and each student's part
    starts with its "Creating/updating student with ID 'studentNNNN'" line;
    the traceback of a failure (which never names the student) stays in it.
    """
    parts, current = {}, None
    for line in log.splitlines():
        if "Creating/updating student with ID '" in line:
            current = line.split("ID '", 1)[1].split("'", 1)[0]
        if current is not None:
            parts.setdefault(current, []).append(line)
    return {student: "\n".join(lines) + "\n" for student, lines in parts.items()}


def _outcome(workdir, name, student, in_gradebook, log):
    """Status and detail for a submission nbgrader was asked to grade; ``log``: its part of nbgrader's log."""
    autograded = workdir / "autograded" / student / name / f"{name}.ipynb"
    if not in_gradebook or not autograded.is_file():
        if "DeadKernelError" in log or "Kernel died" in log:
            return "kernel-died", ("the notebook's kernel died while it ran (os._exit, a crash in native code, or "
                                   "out of memory); nothing of this notebook could be graded")
        lines = [line for line in log.splitlines() if "ERROR" in line.upper()]
        return "error", (lines[0][:200] if lines else "nbgrader could not grade this submission")
    timed_out = [
        cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", f"cell {i} (ungraded)")
        for i, cell in enumerate(json.loads(autograded.read_text())["cells"])
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error" and output.get("ename") == "CellTimeoutError"
    ]
    if timed_out:
        return "timeout", f"cell(s) ran past the time limit and were stopped: {', '.join(timed_out)}"
    return "graded", ""


def _write_student_log(log, name, folder):
    """Keep nbgrader's log about one student (``student_logs``) as ``<folder>/<name>.log``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.log").write_text(log or "nbgrader logged nothing about this submission\n")


def _copy_feedback(workdir, name, student, folder_name, feedback_dir):
    html = workdir / "feedback" / student / name / f"{name}.html"
    if html.is_file():
        target = feedback_dir / folder_name / f"{name}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(html, target)


def _write_csv(path, rows):
    """Write the rows atomically: a temporary file renamed over the old CSV."""
    partial = path.with_name(f".{path.name}.part")
    with open(partial, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(partial, path)


def format_table(rows):
    """A plain-text table, one line per student and notebook, for the terminal."""
    header = f"{'student':<20} {'notebook':<16} {'score':>11}  status"
    lines = [header, "-" * len(header)]
    for row in rows:
        score = f"{row['score']:g} / {row['max_score']:g}"
        note = f"  ({row['detail']})" if row["detail"] else ""
        lines.append(f"{row['student']:<20} {row['notebook']:<16} {score:>11}  {row['status']}{note}")
    return "\n".join(lines)
