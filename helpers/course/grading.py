"""Autograding a folder of submissions with nbgrader, in one command.

Input: ``SUBMISSIONS/<student>/NN_name.ipynb``. For each notebook graded, the
sources come from ``solutions/``. The steps:

1. Read every submission first. A file that is not a valid notebook is marked
   ``unreadable`` here (nbgrader would report it as a plain 0); a student who
   did not hand a notebook in is marked ``missing``.
2. Build nbgrader's course directory in a temporary folder: the config with a
   per-cell timeout, the sqlite gradebook, ``source/`` from ``solutions/``,
   ``submitted/`` from the readable submissions.
3. Run nbgrader's ``generate_assignment``, ``autograde``, ``generate_feedback``
   and ``export``, with ``GAN_COURSE_FAST=1`` so notebooks are smoke runs
   (nbgrader's own export lands beside the CSV as ``<stem>-nbgrader.csv``).
4. Read the scores from the gradebook and write one CSV row per student and
   notebook: ``student,notebook,score,max_score,status,detail``.

``status`` is one of ``graded``, ``timeout`` (a cell ran past the time limit;
the other cells were still graded), ``unreadable``, ``missing`` and ``error``
(nbgrader could not grade it at all). One bad submission never stops the batch.
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
    students, names = _survey(submissions, notebooks)
    feedback_dir = Path(feedback_dir) if feedback_dir else out_csv.with_name(out_csv.stem + "-feedback")
    try:
        out_csv.parent.mkdir(parents=True, exist_ok=True)
        feedback_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GradingError(f"cannot write the results: {error}") from None

    workdir = Path(keep_workdir) if keep_workdir else Path(tempfile.mkdtemp(prefix="gan-grading-"))
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
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
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
    handed_in = {p.stem for s in students for p in (submissions / s).glob("*.ipynb")}
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
    """``(notebook, None)`` for a valid notebook file, else ``(None, reason)``."""
    try:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # JSON errors, schema errors, bad encodings
        return None, f"not a valid notebook: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
    return nb, None


def _grade_in(workdir, submissions, students, names, timeout, feedback_dir):
    workdir.mkdir(parents=True, exist_ok=True)
    _write_config(workdir, timeout)
    rows = []
    for name in names:
        status = {}
        for student in students:
            path = submissions / student / f"{name}.ipynb"
            if not path.is_file():
                status[student] = ("missing", f"no {name}.ipynb handed in")
                continue
            nb, reason = _read_submission(path)
            if nb is None:
                status[student] = ("unreadable", reason)
                continue
            target = workdir / "submitted" / student / name / f"{name}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(target))
            status[student] = ("graded", "")
        rows += _grade_notebook(workdir, name, status, feedback_dir)
    return rows


def _grade_notebook(workdir, name, status, feedback_dir):
    """Autograde one notebook for every readable submission; return its rows."""
    source = workdir / "source" / name / f"{name}.ipynb"
    source.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOLUTIONS_DIR / f"{name}.ipynb", source)
    done = _nbgrader(workdir, "generate_assignment", name, "--force")
    if done.returncode != 0:
        raise GradingError(f"nbgrader generate_assignment {name} failed:\n{done.stdout}{done.stderr}")
    if any(s == "graded" for s, _ in status.values()):
        autograde = _nbgrader(workdir, "autograde", name, "--force")
        _nbgrader(workdir, "generate_feedback", name, "--force")
        log = autograde.stdout + autograde.stderr
    else:
        log = ""
    scores, max_score = _gradebook_scores(workdir, name)
    rows = []
    for student, (state, detail) in sorted(status.items()):
        score = scores.get(student, 0.0)
        if state == "graded":
            state, detail = _outcome(workdir, name, student, student in scores, log)
            _copy_feedback(workdir, name, student, feedback_dir)
        rows.append(dict(student=student, notebook=name, score=round(score, 2),
                         max_score=round(max_score, 2), status=state, detail=detail))
    return rows


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


def _outcome(workdir, name, student, in_gradebook, log):
    """Status and detail for a submission nbgrader was asked to grade."""
    autograded = workdir / "autograded" / student / name / f"{name}.ipynb"
    if not in_gradebook or not autograded.is_file():
        lines = [line for line in log.splitlines() if student in line and "ERROR" in line.upper()]
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


def _copy_feedback(workdir, name, student, feedback_dir):
    html = workdir / "feedback" / student / name / f"{name}.html"
    if html.is_file():
        target = feedback_dir / student / f"{name}.html"
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
