"""The grading round trip, through the real `python -m helpers.course grade` command.

One batch holds these cases (the mistakes are graded in test_grading_mutants.py):

- ``solution``: each solution notebook handed in as is -> full marks;
- ``blank``: each student notebook handed in unmodified -> 0 on every graded cell;
- ``corrupt``: broken JSON -> status ``unreadable``;
- ``loop``: an exercise that never finishes -> status ``timeout``, the rest graded;
- ``absent``: nothing handed in -> status ``missing``.
"""

import json
import subprocess
import sys

import pytest

from grading_cases import (SOURCES, STUDENTS, completed_submission, exercise_test_ids,
                           graded_points, run_grade, write_submission)
from helpers.runtime import REPO_ROOT

TIMEOUT = 40  # seconds per cell: fast-mode cells take a few, the infinite loop is cut here
FIRST = sorted(SOURCES)[0]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade one batch of every case; return (rows keyed by (student, notebook), process, workdir)."""
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submissions"
    for name, source in SOURCES.items():
        write_submission(subs, "solution", name, json.loads(source.read_text()))
        write_submission(subs, "blank", name, json.loads(STUDENTS[name].read_text()))
    (subs / "absent").mkdir()  # handed nothing in
    (subs / "corrupt").mkdir()
    (subs / "corrupt" / f"{FIRST}.ipynb").write_text('{"cells": [{"cell_type": "code", "source": ')
    first_exercise = next(iter(exercise_test_ids(SOURCES[FIRST])))
    looping = completed_submission(STUDENTS[FIRST], SOURCES[FIRST], {first_exercise: "while True:\n    pass\n"})
    write_submission(subs, "loop", FIRST, looping)

    workdir = root / "course"
    rows, process = run_grade(subs, root / "grades.csv", TIMEOUT, workdir)
    return rows, process, workdir


def row(graded, student, name):
    rows, process, _ = graded
    assert (student, name) in rows, f"no CSV row for {student}/{name}\n{process.stdout}\n{process.stderr}"
    return rows[(student, name)]


def test_the_batch_completes_with_exit_code_0(graded):
    rows, process, _ = graded
    assert process.returncode == 0, process.stdout + process.stderr
    assert "student" in process.stdout and "solution" in process.stdout  # the printed table


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_solution_gets_full_marks(graded, name):
    r = row(graded, "solution", name)
    assert r["status"] == "graded"
    assert float(r["score"]) == float(r["max_score"]) == sum(graded_points(SOURCES[name]).values())


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_unmodified_student_notebook_gets_zero_on_every_graded_cell(graded, name):
    r = row(graded, "blank", name)
    assert r["status"] == "graded" and float(r["score"]) == 0.0
    from nbgrader.api import Gradebook

    _, _, workdir = graded
    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}", course_id="gan-course") as gradebook:
        nb = gradebook.find_submission_notebook(name, name, "blank")
        assert nb.grades and all(g.score == 0 for g in nb.grades)


def test_corrupt_submission_is_reported_as_unreadable(graded):
    r = row(graded, "corrupt", FIRST)
    assert r["status"] == "unreadable" and float(r["score"]) == 0 and "JSON" in r["detail"]


def test_infinite_loop_is_reported_as_timeout_and_the_rest_is_graded(graded):
    r = row(graded, "loop", FIRST)
    points = graded_points(SOURCES[FIRST])
    first_test = next(iter(exercise_test_ids(SOURCES[FIRST]).values()))
    assert r["status"] == "timeout"
    assert float(r["score"]) == float(r["max_score"]) - points[first_test]


def test_missing_notebooks_are_reported(graded):
    r = row(graded, "absent", FIRST)
    assert r["status"] == "missing" and float(r["score"]) == 0


def test_feedback_html_is_left_for_the_instructor(graded):
    _, process, workdir = graded
    feedback = workdir.parent / "grades-feedback" / "solution" / f"{FIRST}.html"
    assert feedback.is_file() and "html" in feedback.read_text()[:200].lower()


def test_nbgraders_own_export_is_left_beside_the_csv(graded):
    _, _, workdir = graded
    export = (workdir.parent / "grades-nbgrader.csv").read_text()
    assert "student_id" in export and "solution" in export


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_our_release_matches_nbgraders_generate_assignment(graded, name):
    _, _, workdir = graded
    cli = workdir / "release" / name / f"{name}.ipynb"
    assert cli.read_text() == STUDENTS[name].read_text()


def test_a_bad_submissions_folder_is_a_one_line_error(tmp_path):
    process = subprocess.run([sys.executable, "-m", "helpers.course", "grade", str(tmp_path / "nope"),
                              "--out", str(tmp_path / "g.csv")], cwd=REPO_ROOT, capture_output=True, text=True)
    assert process.returncode == 2
    assert "is not a folder of submissions" in process.stderr and "Traceback" not in process.stderr
