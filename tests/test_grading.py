"""The grading round trip, through the real `python -m gan_grader grade` command.

One batch holds these cases (the mistakes are graded in test_grading_mutants.py):

- ``solution``: each solution notebook handed in (up to its last graded cell) -> full marks;
- ``blank``: each student notebook handed in unmodified -> 0 on every graded cell;
- ``corrupt``: broken JSON -> status ``unreadable``;
- ``absent``: nothing handed in -> status ``missing``;
- odd folder names, a stripped graded cell, an older Jupyter's notebook, a near-miss file name;
- notebooks that are links (symbolic, inside the folder or out, a linked folder, hard links) -> ``linked``.

Cells that never end, kill their kernel or cross a limit, and hostile submissions, are
graded in ``test_grading_isolation.py``.
"""

import json
import os
import subprocess
import sys

import pytest

from grading_cases import (LOCK_ROUTES, SOURCES, STUDENTS, completed_submission, exercise_test_ids,
                           graded_points, points_of, run_grade, without_trailing_ungraded_cells, write_submission)
from helpers.runtime import REPO_ROOT

TIMEOUT = 300  # seconds per cell for correct work: fast-mode cells take a few, a busy machine must not matter
FIRST = sorted(SOURCES)[0]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade one batch of every case; return (rows keyed by (student, notebook), process, workdir)."""
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submissions"
    for name, source in SOURCES.items():
        # graded up to its last graded cell: running every solution whole is nbval's and the browser test's job
        write_submission(subs, "solution", name, without_trailing_ungraded_cells(json.loads(source.read_text())))
        write_submission(subs, "blank", name, json.loads(STUDENTS[name].read_text()))
    (subs / "absent").mkdir()  # handed nothing in
    complete = completed_submission(STUDENTS[FIRST], SOURCES[FIRST])
    stripped = json.loads(json.dumps(complete))
    first_test = next(iter(exercise_test_ids(SOURCES[FIRST]).values()))
    for cell in stripped["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == first_test:
            del cell["metadata"]["nbgrader"]
    write_submission(subs, "stripped", FIRST, stripped)
    old = json.loads(json.dumps(complete))  # as an older Jupyter saves it: nbformat 4.4, no cell ids
    old["nbformat_minor"] = 4
    for cell in old["cells"]:
        cell.pop("id", None)
    # odd folder names are graded like anyone else; each also hands in an odd file, to spare a kernel
    write_submission(subs, ".hidden", FIRST, old)  # a dot folder, and an older Jupyter's notebook
    near = subs / "x[1]*"  # glob characters, and a browser's download name
    near.mkdir()
    (near / f"{FIRST} (1).ipynb").write_text(SOURCES[FIRST].read_text())
    write_links(subs, subs / "solution")
    (subs / "corrupt").mkdir()
    (subs / "corrupt" / f"{FIRST}.ipynb").write_text('{"cells": [{"cell_type": "code", "source": ')
    workdir = root / "course"
    rows, process = run_grade(subs, root / "grades.csv", TIMEOUT, workdir)
    return rows, process, workdir


def write_links(subs, classmate):
    """Submissions that are links, not files (``classmate``: a folder that one student's folder links to); each
    is refused as ``linked`` (none is read, none runs)."""
    (subs / "symlinked").mkdir()
    (subs / "symlinked" / f"{FIRST}.ipynb").symlink_to(SOURCES[FIRST])  # to the course's own solution
    (subs / "inner-link").mkdir()
    (subs / "inner-link" / "mine.ipynb").write_text(SOURCES[FIRST].read_text())
    (subs / "inner-link" / f"{FIRST}.ipynb").symlink_to("mine.ipynb")  # a link inside the student's folder
    (subs / "linked-folder").symlink_to(classmate, target_is_directory=True)
    for student in ("hard-a", "hard-b"):
        (subs / student).mkdir()
    (subs / "hard-a" / f"{FIRST}.ipynb").write_text(SOURCES[FIRST].read_text())
    os.link(subs / "hard-a" / f"{FIRST}.ipynb", subs / "hard-b" / f"{FIRST}.ipynb")  # one file, two students


LINKED = [("symlinked", f"symbolic link (to {SOURCES[FIRST]})"), ("inner-link", "symbolic link (to mine.ipynb)"),
          ("linked-folder", "the student folder is a symbolic link"), ("hard-a", "hard link (2 names"),
          ("hard-b", "hard link (2 names")]


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
        student = next(s.id for s in gradebook.students if s.last_name == "blank")
        nb = gradebook.find_submission_notebook(name, name, student)
        assert nb.grades and all(g.score == 0 for g in nb.grades)


def test_corrupt_submission_is_reported_as_unreadable(graded):
    r = row(graded, "corrupt", FIRST)
    assert r["status"] == "unreadable" and float(r["score"]) == 0 and "JSON" in r["detail"]


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
    process = subprocess.run([sys.executable, "-m", "gan_grader", "grade", str(tmp_path / "nope"),
                              "--out", str(tmp_path / "g.csv")], cwd=REPO_ROOT, capture_output=True, text=True)
    assert process.returncode == 2
    assert "is not a folder of submissions" in process.stderr and "Traceback" not in process.stderr


@pytest.mark.parametrize("student, why", LINKED, ids=[student for student, _ in LINKED])
def test_a_notebook_that_is_a_link_is_refused_not_followed(graded, student, why):
    r = row(graded, student, FIRST)
    assert r["status"] == "linked" and float(r["score"]) == 0, r
    assert why in r["detail"] and "hand in the notebook file itself" in r["detail"], r


def test_links_and_the_answer_lock_hold_without_the_sandbox_too(tmp_path):
    """Links are refused by the grade command and the course's answers are locked in the kernel
    (``helpers.taught``): neither relies on the sandbox. One lock route per exercise of session 4 (the
    sandboxed batch in test_grading_mutants.py runs every route)."""
    subs = tmp_path / "submissions"
    subs.mkdir()
    write_submission(tmp_path, "classmate", FIRST, json.loads(SOURCES[FIRST].read_text()))
    write_links(subs, tmp_path / "classmate")
    locked = "04_evaluate"
    routes = {gid: code for gid, (_, code) in LOCK_ROUTES[locked].items() if gid != "count_modes"}  # not tampering
    nb = completed_submission(STUDENTS[locked], SOURCES[locked], routes)
    write_submission(subs, "lock", locked, without_trailing_ungraded_cells(nb))
    rows, process = run_grade(subs, tmp_path / "grades.csv", TIMEOUT, extra=["--no-sandbox"])
    assert process.returncode == 0, process.stdout + process.stderr
    assert {student for student, _ in rows} == {student for student, _ in LINKED} | {"lock"}
    for student, why in LINKED:
        r = rows[(student, FIRST)]
        assert r["status"] == "linked" and why in r["detail"], r
    r = rows[("lock", locked)]
    assert r["status"] == "graded", r
    assert float(r["score"]) == float(r["max_score"]) - points_of(locked, routes), (routes, r)


def test_results_inside_the_submissions_folder_are_refused_before_grading(tmp_path):
    subs = tmp_path / "submissions"
    write_submission(subs, "ann", FIRST, json.loads(STUDENTS[FIRST].read_text()))
    rows, process = run_grade(subs, subs / "grades.csv", TIMEOUT)
    assert process.returncode == 2 and not rows and "Traceback" not in process.stderr
    assert f"--out {subs / 'grades.csv'} is inside the submissions folder" in process.stderr
    assert "would grade it as a student" in process.stderr and sorted(p.name for p in subs.iterdir()) == ["ann"]


def test_more_jobs_than_students_says_what_will_run(tmp_path):
    subs = tmp_path / "submissions"
    (subs / "corrupt").mkdir(parents=True)  # read, refused as unreadable: no kernel starts
    (subs / "corrupt" / f"{FIRST}.ipynb").write_text("{")
    rows, process = run_grade(subs, tmp_path / "grades.csv", TIMEOUT, extra=["--jobs", "10000"])
    assert process.returncode == 0, process.stderr
    assert "--jobs 10000: 1 student folder to grade, so 1 at once" in process.stdout
    assert rows[("corrupt", FIRST)]["status"] == "unreadable"


@pytest.mark.parametrize("student", [".hidden", "x[1]*"])
def test_every_folder_gets_its_row_under_its_real_name(graded, student):
    r = row(graded, student, FIRST)
    assert r["status"] == "graded" and float(r["score"]) == float(r["max_score"]), r


def test_a_near_miss_file_name_is_graded_with_a_note(graded):
    r = row(graded, "x[1]*", FIRST)
    assert r["status"] == "graded" and float(r["score"]) == float(r["max_score"])
    assert f"graded '{FIRST} (1).ipynb' (expected {FIRST}.ipynb)" in r["detail"]


def test_out_pointing_at_a_folder_is_refused_before_grading(tmp_path):
    (tmp_path / "subs" / "someone").mkdir(parents=True)
    process = subprocess.run([sys.executable, "-m", "gan_grader", "grade", str(tmp_path / "subs"),
                              "--out", str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert process.returncode == 2 and "is a folder; give the path of the CSV file" in process.stderr
    assert "Traceback" not in process.stderr


def test_a_stripped_graded_cell_is_reported_not_silently_scored_lower(graded):
    r = row(graded, "stripped", FIRST)
    first_test = next(iter(exercise_test_ids(SOURCES[FIRST]).values()))
    assert r["status"] == "cells-missing" and first_test in r["detail"], r


def test_a_notebook_from_an_older_jupyter_is_graded(graded):
    r = row(graded, ".hidden", FIRST)
    assert r["status"] == "graded" and float(r["score"]) == float(r["max_score"]), r


def test_each_students_nbgrader_log_is_kept_beside_the_feedback(graded):
    _, _, workdir = graded
    log = workdir.parent / "grades-feedback" / "solution" / f"{FIRST}.log"
    assert log.is_file() and log.read_text().strip()


def test_cells_after_the_last_graded_one_are_not_run_while_grading(graded):
    """The blank submissions are whole student notebooks: their demos and long runs come after the last
    graded cell, carry no points, and are skipped (tagged ``skip-execution``)."""
    _, _, workdir = graded
    name = "03_dcgan"  # R5's 216 MB checkpoint is written in its last section
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}", course_id="gan-course") as gradebook:
        student = next(s.id for s in gradebook.students if s.last_name == "blank")
    cells = json.loads((workdir / "autograded" / student / name / f"{name}.ipynb").read_text())["cells"]
    last = max(i for i, c in enumerate(cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
    trailing = [c for c in cells[last + 1:] if c["cell_type"] == "code"]
    assert trailing and all("skip-execution" in c["metadata"].get("tags", []) and not c["outputs"]
                            for c in trailing)



HAND = "06_stable"  # the session with answers marked by hand


def test_answers_marked_by_hand_never_count_as_automatic_points(graded):
    """Session 6's two written answers: listed as needing manual grading, apart from the automatic score."""
    from gan_grader.manual import manual_cells
    from nbgrader.api import Gradebook

    cells = manual_cells(SOURCES[HAND])
    assert cells == {"answer_consent": 2.0, "answer_detection": 2.0}
    for student, score in (("solution", sum(graded_points(SOURCES[HAND]).values())), ("blank", 0.0)):
        r = row(graded, student, HAND)
        # the model answers in the solution and the empty ones in the blank notebook change nothing
        assert float(r["score"]) == score and float(r["max_score"]) == 11.0, r
        assert float(r["manual_max"]) == 4.0
        assert r["manual"] == "needs manual grading: answer_consent (2), answer_detection (2)"
    assert row(graded, "solution", FIRST)["manual"] == "" and float(row(graded, "solution", FIRST)["manual_max"]) == 0
    assert row(graded, "absent", FIRST)["manual"] == ""
    _, process, workdir = graded
    assert "python -m gan_grader marks GRADES.csv MARKS.csv --out FINAL.csv" in process.stdout
    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}", course_id="gan-course") as gradebook:
        student = next(s.id for s in gradebook.students if s.last_name == "solution")
        grades = {g.name: g for g in gradebook.find_submission_notebook(HAND, HAND, student).grades}
        for gid in cells:
            assert grades[gid].auto_score is None and grades[gid].manual_score is None
            assert grades[gid].needs_manual_grade


def marks_command(grades, marks, out):
    return subprocess.run([sys.executable, "-m", "gan_grader", "marks", str(grades), str(marks), "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True)


def test_the_instructors_marks_are_checked_then_entered(graded, tmp_path):
    import csv
    import re

    from gan_grader.manual import MarksError, enter_marks

    _, _, workdir = graded
    grades = workdir.parent / "grades.csv"
    before = grades.read_bytes()
    marks = tmp_path / "marks.csv"
    for bad, words in ((f"solution,{HAND},answer_consent,nan\n", "points must be a finite number, got 'nan'"),
                       (f"solution,{HAND},answer_other,1\n", "has no answer 'answer_other' to mark by hand"),
                       (f"nobody,{HAND},answer_consent,1\n", "no graded submission of '06_stable' by 'nobody'"),
                       (f"absent,{HAND},answer_consent,1\n", "absent's 06_stable was not graded (status missing"),
                       (f"solution,{HAND},answer_consent,1\nsolution,{HAND},answer_consent,2\n", "marked twice"),
                       ("student,points\n", "the marks need the columns student,notebook,grade_id,points")):
        marks.write_text(bad if bad.startswith("student") else "student,notebook,grade_id,points\n" + bad)
        with pytest.raises(MarksError, match=re.escape(words)):
            enter_marks(grades, marks, tmp_path / "final.csv")
        assert not (tmp_path / "final.csv").exists()  # nothing written until every mark is right
    with pytest.raises(MarksError, match="one of the inputs"):
        enter_marks(grades, marks, grades)
    marks.write_text(f"student,notebook,grade_id,points\nsolution,{HAND},answer_consent,3\n")
    done = marks_command(grades, marks, tmp_path / "final.csv")  # the command line: one line, exit code 2
    assert done.returncode == 2 and "answer_consent is worth 0 to 2 points, got 3" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "final.csv").exists()
    marks.write_text(f"student,notebook,grade_id,points\nsolution,{HAND},answer_consent,1.5\n"
                     f"solution,{HAND},answer_detection,2\nblank,{HAND},answer_consent,0\n")
    done = marks_command(grades, marks, tmp_path / "final.csv")
    assert done.returncode == 0, done.stderr
    assert f"blank {HAND}: needs manual grading: answer_detection (2)" in done.stdout
    with open(tmp_path / "final.csv") as handle:
        final = {(r["student"], r["notebook"]): r for r in csv.DictReader(handle)}
    solved = final[("solution", HAND)]
    assert (solved["manual_score"], solved["total"], solved["manual"]) == ("3.5", "14.5", "marked by hand")
    assert final[("solution", FIRST)]["total"] == final[("solution", FIRST)]["score"]
    assert grades.read_bytes() == before  # the grade CSV itself is never changed
    # a second sitting, its file saved by a spreadsheet (a byte-order mark): the first sitting's marks stay
    marks.write_bytes(f"\ufeffstudent,notebook,grade_id,points\nblank,{HAND},answer_detection,1\n".encode())
    done = marks_command(tmp_path / "final.csv", marks, tmp_path / "final2.csv")
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "final2.csv") as handle:
        again = {(r["student"], r["notebook"]): r for r in csv.DictReader(handle)}
    assert (again[("solution", HAND)]["total"], again[("solution", HAND)]["manual_marks"]) == \
        ("14.5", "answer_consent=1.5; answer_detection=2")
    assert (again[("blank", HAND)]["manual_score"], again[("blank", HAND)]["manual"]) == ("1", "marked by hand")
    marks.write_text(f"student,notebook,grade_id,points\nsolution,{HAND},answer_consent,2\n")
    with pytest.raises(MarksError, match="answer_consent of solution was marked in an earlier sitting"):
        enter_marks(tmp_path / "final2.csv", marks, tmp_path / "final3.csv")


def test_ctrl_c_stops_the_batch_and_keeps_the_earlier_results(tmp_path):
    import signal
    import time

    subs = tmp_path / "submissions"
    slow = completed_submission(STUDENTS[FIRST], SOURCES[FIRST])
    slow["cells"].insert(1, {"cell_type": "code", "execution_count": None, "id": "slow", "metadata": {},
                             "outputs": [], "source": "import time\ntime.sleep(120)\n"})
    for student in ("ann", "bob"):
        write_submission(subs, student, FIRST, slow)
    out = tmp_path / "grades.csv"
    out.write_text("an earlier run's grades\n")
    process = subprocess.Popen([sys.executable, "-m", "gan_grader", "grade", str(subs), "--out", str(out),
                                "--shard", "1/1"], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any("grading_kernel" in line for line in _descendant_commands(process.pid)):
        time.sleep(0.5)  # wait until the first student's kernel runs
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "stopped (Ctrl-C) before the batch was done" in err and "Traceback" not in err, err
    assert out.read_text() == "an earlier run's grades\n" and not (tmp_path / "grades-shard.json").exists()


def _descendant_commands(pid):
    """The command lines of the processes ``pid`` started, and theirs (Linux's /proc)."""
    import pathlib

    found, waiting = [], [pid]
    while waiting:
        for children in pathlib.Path(f"/proc/{waiting.pop()}/task").glob("*/children"):
            try:
                for child in children.read_text().split():
                    waiting.append(int(child))
                    found.append(pathlib.Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return found
