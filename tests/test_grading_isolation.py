"""Hostile submissions are graded right, and the rest of the batch stays intact.

One batch of session 1 submissions, graded by the real ``python -m gan_grader grade``
against a copy of the sources (``--solutions``), so a vandal can do no harm here:

- ``cheater`` has four exercises wrong and rigs each one's test a different way: it
  replaces ``torch.allclose`` and the visible check, makes ``isinstance`` lie, binds
  ``torch`` to a fake, and registers an IPython input transformer that blanks the test
  cells; it must lose exactly those four exercises' points;
- ``vandal`` writes scores into the gradebook (manual scores for itself, zeros for everyone
  before it), overwrites the instructor's source notebook and leaves a process running (one
  that left its process group); it also tries to read the solutions and the hidden tests, to
  reach the network, to write a file outside its folder and to delete other students' replies
  to the judge, and, where the kernel is sandboxed (``gan_grader.sandbox``), to read an earlier
  run's grades and feedback in the output folder (outside /tmp, as an instructor's is), to write
  into /tmp, /dev, the home folder and the hidden repository, to fill /dev/shm, and to kill the
  grade command. In the sandbox every one of those fails (/dev/shm fills only to the output limit,
  and temporary files go to the try's own folder, where the limit counts them); without it, the scores stay right, the
  source comes back, and the process is killed;
- ``kernel-rigger`` has one exercise wrong and rigs the grading kernel itself, which no
  snapshot undoes: it makes the kernel report every failed cell as passed. nbgrader then
  gives full marks; the judge outside the kernel must take that exercise's points away,
  and keep every other exercise's;
- ``copycat`` pasted a solution cell twice (a duplicate grade_id, which used to abort
  nbgrader's whole batch): graded, full marks;
- ``zz-honest``, graded last, gets full marks.

A second batch, with a short per-cell limit and small limits (``LOOP_TIMEOUT``; correct
work elsewhere gets a wide one), holds an infinite loop (stopped by the interrupt), and
cells that kill the kernel, swallow the interrupt, take too much memory or write too much (into
the temporary folder):
each of those is skipped on a second try, and the rest is graded.
"""

import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from gan_grader import sandbox
from helpers.runtime import REPO_ROOT
from grading_cases import (MUTANTS, SOURCES, STUDENTS, completed_submission, exercise_test_ids, graded_points,
                           run_grade, without_trailing_ungraded_cells, write_submission)

NAME = "01_data"
LOOP_TIMEOUT = 12  # seconds per cell in the batch of cells that never end
TESTS = exercise_test_ids(SOURCES[NAME])  # exercise grade_id -> its test cell's grade_id
POINTS = graded_points(SOURCES[NAME])
FULL = sum(POINTS.values())


def mutant(exercise, k=0):
    return MUTANTS[NAME][exercise][k][1]


def submission(overrides=None, before=None):
    """Session 1 solved (``overrides``: exercise -> other code), with ``before``: {test grade_id: code}
    put in a cell of its own just before that test cell."""
    nb = without_trailing_ungraded_cells(completed_submission(STUDENTS[NAME], SOURCES[NAME], overrides))
    for test_id, code in (before or {}).items():
        at = next(i for i, c in enumerate(nb["cells"]) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                  == test_id)
        nb["cells"].insert(at, {"cell_type": "code", "execution_count": None, "id": f"extra-{at}",
                                "metadata": {}, "outputs": [], "source": code})
    return nb


PATCHER = """import torch
import helpers.checks.data as _checks
torch.allclose = lambda *args, **kwargs: True
_checks.check_to_minus_one_one = lambda f: print("All checks passed")
"""
ISINSTANCE = """import builtins, torch
_real = builtins.isinstance
builtins.isinstance = lambda o, t: True if t is torch.utils.data.RandomSampler else _real(o, t)
"""
REBINDER = """_real_globals = globals
def globals():  # the hidden test asks its exercise of globals(): show it a right mean_image instead
    return {**_real_globals(), "mean_image": lambda images: images.float().mean(0) / 255}
"""
TRANSFORMER = """def _blank(lines):
    return ["pass\\n"] if any("HIDDEN TESTS" in line or "check_to_zero_one" in line for line in lines) else lines
get_ipython().input_transformers_cleanup.append(_blank)
"""
GRADEBOOK = """import sqlite3
with sqlite3.connect({path!r}) as _c:
    _c.execute("UPDATE grade SET auto_score = 0")
    _c.execute("UPDATE grade SET manual_score = 100")
"""
VANDAL = "open({path!r}, 'w').write('not a notebook')\n"
DAEMON = """import subprocess, sys
_p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)  # {marker}"], start_new_session=True)
"""
SNOOP = """import glob, os, signal, socket
def _try(what, act):
    try:
        act()
        print("SNOOP", what, "done")
    except Exception as error:
        print("SNOOP", what, "refused", type(error).__name__)
_try("read-solutions", lambda: open({solutions!r}).read())
_try("read-hidden-tests", lambda: open({source!r}).read())
_try("network", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=5).close())
if {sandboxed}:  # unsandboxed, these would end the batch, outlive it, leave files or reach other tests' grading
    _own = os.path.dirname(os.path.dirname(os.path.dirname(os.getcwd())))  # <try>/autograded/<id>/<notebook>
    _try("other-replies", lambda: [os.remove(p) for p in glob.glob({replies!r}) if not p.startswith(_own)] and None)
    _try("write-outside", lambda: open({intruder!r}, "w").write("was here"))
    _try("add-to-solutions", lambda: open({added!r}, "w").write("{{}}"))
    _try("read-earlier-feedback", lambda: open({earlier_feedback!r}).read())
    _try("read-earlier-grades", lambda: open({earlier_grades!r}).read())
    for _place in ("/tmp", "/dev", {home!r}, {hidden_repo!r}):  # writable once, unseen by any limit
        _try("write-" + _place, lambda: open(os.path.join(_place, "gan-course-flood"), "wb").write(bytes(2**20)))
    def _flood_shared_memory():
        _written = 0
        try:
            with open("/dev/shm/gan-course-flood", "wb") as _out:
                while _written < 2 * {output_mb}:
                    _out.write(bytes(2**20))
                    _out.flush()
                    _written += 1
        except OSError:
            pass
        print("SNOOP shared memory took", _written, "MB")
    _flood_shared_memory()
    import tempfile
    print("SNOOP temporary files go", "inside" if tempfile.gettempdir().startswith(_own) else "outside",
          "the try's folder")
    _try("kill-grader", lambda: os.kill(os.getppid(), signal.SIGKILL))
    import subprocess, sys  # a process with a clean environment, which the token sweep cannot find
    _try("clean-daemon", lambda: subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)  # {marker}-clean"],
                                                  env={{}}, start_new_session=True))
"""
MARKER = "gan-course-test-daemon"
SANDBOXED = sandbox.available()[0]
SWALLOWER = """import time
def to_minus_one_one(images):
    return images.float() / 127.5 - 1.0
while True:
    try:
        time.sleep(0.5)
    except KeyboardInterrupt:
        pass
"""
KERNEL_RIGGER = """import gc
for _kernel in gc.get_objects():
    if type(_kernel).__name__ == "GradingKernel":
        _kernel._error_reply = lambda error, show_traceback=True: {
            "status": "ok", "execution_count": 0, "payload": [], "user_expressions": {}}
"""
HOG = "_hog = bytearray(3 * 2**30)\nfor _i in range(0, len(_hog), 4096):\n    _hog[_i] = 1\n"
RIGGED = {  # exercise -> (the cell before its test that rigs it, what the detail must name)
    "to_minus_one_one": (PATCHER, "torch.allclose"),
    "make_mnist_loader": (ISINSTANCE, "builtins.isinstance"),
    "mean_image": (REBINDER, "rebound globals"),
    "to_zero_one": (TRANSFORMER, "an input transformer"),
}
# into the temporary folder (TMPDIR), which lies in the try's folder with the notebook's own, under one limit
FLOOD = ("import os, tempfile\n_to = os.path.join(tempfile.gettempdir(), 'flood')\nos.makedirs(_to, exist_ok=True)\n"
         "for _i in range(10**6):\n    open(os.path.join(_to, str(_i)), 'wb').write(bytes(2**20))\n")
HOSTILE_OUTPUT_MB = 64  # the hostile batch's output limit, and so the size of its /dev/shm


def outside_tmp():
    """A new folder outside /tmp (which the sandbox hides anyway), as an instructor's output folder would be."""
    for parent in ("/var/tmp", Path.home() / ".cache"):
        try:
            Path(parent).mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix="gan-course-test-", dir=parent))
        except OSError:
            continue
    pytest.skip("no writable folder outside /tmp")


@pytest.fixture(scope="module")
def hostile():
    """Grade the hostile batch, with its output outside /tmp beside an earlier run's results; return (rows,
    process, solutions copy, the batch's folder)."""
    root = outside_tmp()
    (root / "grades-feedback" / "earlier").mkdir(parents=True)
    (root / "grades-feedback" / "earlier" / f"{NAME}.html").write_text("a classmate's feedback")
    (root / "grades.csv").write_text("an earlier run's grades")
    solutions = root / "solutions"
    solutions.mkdir()
    shutil.copy(SOURCES[NAME], solutions)
    listener = socket.create_server(("127.0.0.1", 0))  # what the vandal tries to reach
    subs = root / "submissions"
    # one wrong exercise per way of rigging its test
    write_submission(subs, "cheater", NAME, submission(
        {exercise: mutant(exercise, 1 if exercise == "make_mnist_loader" else 0) for exercise in RIGGED},
        {TESTS[exercise]: code for exercise, (code, _) in RIGGED.items()}))
    write_submission(subs, "vandal", NAME, submission({"class_counts": mutant("class_counts")}, {
        TESTS["to_zero_one"]: VANDAL.format(path=str(solutions / f"{NAME}.ipynb")),
        TESTS["class_counts"]: GRADEBOOK.format(path=str(root / "course" / "gradebook.db")),
        TESTS["mean_image"]: DAEMON.format(marker=MARKER),
        TESTS["make_mnist_loader"]: SNOOP.format(
            solutions=str(SOURCES[NAME]), source=str(root / "course" / "source" / NAME / f"{NAME}.ipynb"),
            port=listener.getsockname()[1], intruder=str(root / "intruder.txt"),
            added=str(SOURCES[NAME].parent / "zz-added-by-a-submission.ipynb"), marker=MARKER,
            replies=f"{tempfile.gettempdir()}/gan-grading-*/replies/*.pt", sandboxed=SANDBOXED,
            earlier_feedback=str(root / "grades-feedback" / "earlier" / f"{NAME}.html"),
            earlier_grades=str(root / "grades.csv"), home=str(Path.home()),
            hidden_repo=str(REPO_ROOT), output_mb=HOSTILE_OUTPUT_MB)}))
    write_submission(subs, "kernel-rigger", NAME, submission({"class_counts": mutant("class_counts")},
                                                             {TESTS["to_minus_one_one"]: KERNEL_RIGGER}))
    copycat = submission()  # a solution cell pasted twice keeps its grade_id (nbgrader issue #1083)
    copycat["cells"].append(dict(next(c for c in copycat["cells"] if c.get("metadata", {}).get("nbgrader", {})
                                      .get("grade_id") == "to_minus_one_one"), id="pasted"))
    write_submission(subs, "copycat", NAME, copycat)
    write_submission(subs, "zz-honest", NAME, submission())
    rows, process = run_grade(subs, root / "grades.csv", 300, root / "course",
                              extra=["--solutions", str(solutions), "--output-mb", str(HOSTILE_OUTPUT_MB)])
    listener.close()
    yield rows, process, solutions, root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """Grade, with a short per-cell limit and small limits, the batch of cells that never end or cross a
    limit; return (rows, process, the kept course folder)."""
    root = tmp_path_factory.mktemp("limits")
    first = "to_minus_one_one"
    subs = root / "submissions"
    for student, overrides, before in (
            ("loop", {first: "while True:\n    pass\n"}, None),
            ("crash", {first: "import os\nos._exit(3)\n"}, None),
            ("swallower", {first: SWALLOWER}, None),
            ("hog", None, {TESTS[first]: HOG}),
            ("flood", None, {TESTS[first]: FLOOD})):
        write_submission(subs, student, NAME, submission(overrides, before))
    rows, process = run_grade(subs, root / "grades.csv", LOOP_TIMEOUT, "course-rel", cwd=root,
                              extra=["--memory-mb", "2500", "--output-mb", "64", "--jobs", "2"])  # waits overlap
    return rows, process, root / "course-rel"


def row(rows, process, student):
    assert (student, NAME) in rows, f"no CSV row for {student}\n{process.stdout}\n{process.stderr}"
    return rows[(student, NAME)]


def score(r):
    return float(r["score"])


def test_rigging_the_tests_does_not_save_a_wrong_answer(hostile):
    rows, process, _, _ = hostile
    r = row(rows, process, "cheater")
    assert score(r) == FULL - sum(POINTS[TESTS[exercise]] for exercise in RIGGED), r
    assert r["status"] == "tampered", r
    for _, named in RIGGED.values():
        assert named in r["detail"], (named, r["detail"])


def test_rigging_the_kernel_itself_is_caught_by_the_judge_outside_it(hostile):
    rows, process, _, _ = hostile
    r = row(rows, process, "kernel-rigger")
    assert score(r) == FULL - POINTS[TESTS["class_counts"]], r
    assert f"{TESTS['class_counts']} passed in the notebook but failed the check outside it" in r["detail"], r
    assert "no answer reached the judge" in r["detail"], r
    _, _, solutions, _ = hostile  # the student's feedback says why too, under the cell the judge set to 0
    feedback = (solutions.parent / "grades-feedback" / "kernel-rigger" / f"{NAME}.html").read_text()
    assert "the grader asked your code the same exercise again on new inputs" in feedback


def test_the_gradebook_the_instructors_files_and_leftover_processes_are_put_right(hostile):
    rows, process, solutions, root = hostile
    r = row(rows, process, "vandal")
    assert score(r) == FULL - POINTS[TESTS["class_counts"]], r
    if SANDBOXED:  # the gradebook and the sources are not even in the sandbox: nothing to put back
        assert r["status"] == "graded", r
    else:
        assert r["status"] == "tampered" and "gradebook" in r["detail"] and f"{NAME}.ipynb" in r["detail"], r
    assert (solutions / f"{NAME}.ipynb").read_bytes() == SOURCES[NAME].read_bytes()
    assert not processes_with(MARKER), "the vandal's process outlived its notebook"
    cheater = row(rows, process, "cheater")  # graded before the vandal zeroed the gradebook
    assert score(cheater) == FULL - sum(POINTS[TESTS[exercise]] for exercise in RIGGED)


@pytest.mark.skipif(not SANDBOXED, reason=f"no sandbox here: {sandbox.available()[1]}")
def test_in_the_sandbox_a_submission_reads_no_instructors_file_reaches_no_network_and_writes_nowhere_else(hostile):
    rows, process, _, root = hostile
    feedback = (root / "grades-feedback" / "vandal" / f"{NAME}.html").read_text()
    for act in ("read-solutions", "read-hidden-tests", "network", "write-outside", "add-to-solutions",
                "read-earlier-feedback", "read-earlier-grades"):
        assert f"SNOOP {act} refused" in feedback, act
    for place in ("/tmp", "/dev", str(Path.home()), str(REPO_ROOT)):
        assert f"SNOOP write-{place} refused" in feedback, place
    shared = int(re.search(r"SNOOP shared memory took (\d+) MB", feedback).group(1))
    assert shared <= HOSTILE_OUTPUT_MB, f"/dev/shm took {shared} MB, past the output limit of {HOSTILE_OUTPUT_MB}"
    assert "SNOOP temporary files go inside the try's folder" in feedback
    for act in ("kill-grader", "clean-daemon"):  # they ran, and harmed nobody
        assert f"SNOOP {act} done" in feedback or f"SNOOP {act} refused" in feedback, act
    assert not (root / "intruder.txt").exists()
    assert not (SOURCES[NAME].parent / "zz-added-by-a-submission.ipynb").exists()
    assert not processes_with(f"{MARKER}-clean"), "a process with a clean environment outlived the sandbox"
    assert process.returncode == 0 and "sandbox: bubblewrap" in process.stdout  # the grade command lived on


def processes_with(marker):
    """PIDs of this user's processes whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker in open(f"/proc/{entry}/cmdline").read().replace("\0", " "):
                found.append(int(entry))
        except OSError:
            continue
    return found


def test_a_pasted_solution_cell_with_a_duplicate_grade_id_is_graded(hostile):
    rows, process, _, _ = hostile
    r = row(rows, process, "copycat")
    assert r["status"] == "graded" and score(r) == FULL, r


def test_the_rest_of_the_batch_is_graded_as_if_alone(hostile):
    rows, process, solutions, _ = hostile
    assert process.returncode == 0, process.stdout + process.stderr
    honest = row(rows, process, "zz-honest")
    assert honest["status"] == "graded" and score(honest) == FULL, honest
    export = (solutions.parent / "grades-nbgrader.csv").read_text()  # nbgrader's own table agrees
    assert "zz-honest" in export and f",{FULL:g}," in export.replace(".0,", ",")


def test_the_feedback_folder_holds_only_feedback_and_logs(hostile):
    """No run outputs (images, checkpoints) are copied beside the feedback."""
    _, _, solutions, _ = hostile
    suffixes = {p.suffix for p in (solutions.parent / "grades-feedback").rglob("*") if p.is_file()}
    assert suffixes == {".html", ".log"}, suffixes


def test_an_infinite_loop_is_stopped_and_the_rest_graded(limited):
    rows, process, _ = limited
    r = row(rows, process, "loop")
    assert r["status"] == "timeout" and float(r["score"]) == FULL - POINTS[TESTS["to_minus_one_one"]], r


@pytest.mark.parametrize("student, status, logged", [
    ("crash", "kernel-died", "DeadKernelError"),  # os._exit in the exercise's cell
    ("swallower", "timeout", "CellTimeoutError"),  # catches the interrupt and goes on forever
])
def test_a_cell_that_ends_its_kernel_is_skipped_and_the_rest_graded(limited, student, status, logged):
    rows, process, workdir = limited
    r = row(rows, process, student)
    assert r["status"] == status and "to_minus_one_one: " in r["detail"] and "the rest was graded" in r["detail"], r
    assert score(r) == FULL - POINTS[TESTS["to_minus_one_one"]], r
    log = (workdir.parent / "grades-feedback" / student / f"{NAME}.log").read_text()
    assert logged in log, log[-2000:]  # the first try's failure, kept for the instructor


@pytest.mark.parametrize("student, status", [("hog", "memory-limit"), ("flood", "output-limit")])
def test_a_cell_past_a_limit_is_skipped_and_the_rest_graded(limited, student, status):
    rows, process, _ = limited
    r = row(rows, process, student)
    assert r["status"] == status and "code cell" in r["detail"] and "the rest was graded" in r["detail"], r
    assert score(r) == FULL, r  # the cell was one of the student's own: skipping it costs no points


def test_a_relative_keep_workdir_is_kept_where_it_says(limited):
    _, process, workdir = limited
    assert process.returncode == 0, process.stderr
    assert (workdir / "gradebook.db").is_file()
