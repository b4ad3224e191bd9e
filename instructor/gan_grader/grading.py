"""Autograding a folder of submissions with nbgrader, in one command.

Input: ``SUBMISSIONS/<student>/NN_name.ipynb``. For each notebook graded, the
sources come from ``solutions/`` (or ``--solutions``). The steps:

1. Read every submission and every source first, before any student code
   runs. A file that is not a valid notebook is marked ``unreadable`` here
   (nbgrader would report it as a plain 0); a student who did not hand a
   notebook in is marked ``missing`` (a single near miss such as
   ``NN_name (1).ipynb`` is graded, with a note). Every student folder gets
   an internal id for nbgrader (which reads ids as glob patterns); the CSV
   keeps the folder's name.
2. Build nbgrader's course directory in a temporary folder (the gradebook,
   ``source/``) and run ``generate_assignment``.
3. Autograde one student at a time, each alone (``isolation.py``), up to the
   last graded cell (``skip_after_last_graded``): a fresh
   folder with a throwaway copy of the submission, the grading kernel
   (``grading_kernel.py``: hidden tests on pristine code), a memory and an
   output-size limit. Afterwards the scores are taken from the autograded
   notebook by nbgrader's rule, the judge (``judge.py``) marks its own
   questions outside the kernel and sets to 0 each cell that passed there
   but answers wrong, and the scores are written into the gradebook again;
   the instructor's files are put back if the submission changed them, and
   processes it left are killed.
4. ``generate_feedback`` (from the autograded notebook as ``for_feedback``
   shows it: printed output in one piece, the judge's reasons under their
   cells) and ``export`` (nbgrader's own table lands beside
   the CSV as ``<stem>-nbgrader.csv``); one CSV row per student and
   notebook: ``student,notebook,score,max_score,manual_max,manual,status,detail,seconds``
   (``seconds``: how long that student's autograde took, retries included).

``status`` is one of ``graded``; ``timeout`` (a cell ran past the time limit:
stopped, or skipped on a second try if it ignored the interrupt; the other
cells were still graded); ``kernel-died``, ``memory-limit`` and
``output-limit`` (a cell killed the kernel or crossed a limit: it is skipped
on a second try and the rest is graded); ``tampered`` (the submission
replaced code the hidden tests use, or wrote into the gradebook or the
instructor's files: all put back, the scores are right, ``detail`` says
what it did); ``cells-missing`` (graded cells deleted or stripped of their
nbgrader metadata, named in ``detail``); ``unreadable``; ``missing``;
``linked`` (the notebook, or the student's folder, is a symbolic or a hard
link: never followed, never graded, ``detail`` says where it points); and
``error`` (nbgrader could not grade it for another reason, quoted in
``detail``). One bad submission never stops the batch. nbgrader's log of
each student's autograde is kept beside their feedback, as
``<feedback>/<student>/NN_name.log``.
"""

import json
import os
import contextlib
import secrets
import shutil
import signal
import sys
import tempfile
import warnings
from pathlib import Path

import nbformat
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

from helpers.checkpoints import why_not_written, write_atomically
from helpers.data import DataFileError, data_root, unpack_for_torchvision
from helpers.guards import whole_problem
from . import isolation, judge, manual, shards
from . import sandbox as sandboxes
from .grading_kernel import code_hash
from .release import NOTEBOOKS_DIR, SOLUTIONS_DIR, source_notebooks

DEFAULT_TIMEOUT = 120  # seconds per cell; fast-mode cells take a few seconds
ROOM_PER_NOTEBOOK_MB = 2  # disk space asked for per graded notebook: its feedback page (figures inlined) and its rows
COURSE_ID = isolation.COURSE_ID
FIELDS = ("student", "notebook", "score", "max_score", "manual_max", "manual", "status", "detail", "seconds")
# the per-exercise CSV beside the grades (``shards.cells_csv``): one row per graded test cell of a submission that ran
CELL_FIELDS = ("student", "notebook", "grade_id", "points", "max_points", "message")


class GradingError(RuntimeError):
    """The grading tool itself cannot go on (bad arguments, nbgrader broken)."""


def grade_submissions(submissions, out_csv, notebooks=None, timeout=DEFAULT_TIMEOUT,
                      feedback_dir=None, keep_workdir=None, solutions=None, memory_mb=None, output_mb=None,
                      shard=None, jobs=1, sandbox=None):
    """Grade ``submissions`` and write ``out_csv``; return the rows as dicts.

    ``notebooks``: names like ``"01_data"`` to grade (default: every notebook
    some student handed in). ``timeout``: seconds per cell. ``feedback_dir``:
    where the feedback HTML goes (default ``<out stem>-feedback`` beside the CSV).
    ``keep_workdir``: build the nbgrader course directory there and keep it.
    ``solutions``: the instructor's source notebooks (default ``solutions/``).
    ``memory_mb`` / ``output_mb``: limits for each submission (defaults in
    ``isolation.Limits``). ``shard``: a ``shards.Shard``, to grade only its
    slice of the students (``merge`` joins the shards' results); the plan of
    the whole batch is written beside the CSV (``shards.write_plan``).
    ``jobs``: submissions graded at once, each in a process of its own, their
    kernels sharing the cores (``isolation.Limits.threads``). ``sandbox``: run
    each kernel in ``sandbox.py``'s sandbox: None where one can be made here
    (one printed line says which), False never, True or refuse to grade.
    """
    submissions, out_csv = Path(submissions), Path(out_csv)
    solutions = Path(solutions) if solutions else SOLUTIONS_DIR
    for flag, value in (("--timeout", timeout), ("--memory-mb", memory_mb), ("--output-mb", output_mb),
                        ("--jobs", jobs)):
        problem = value is not None and whole_problem(value)
        if problem:
            raise GradingError(f"{flag}: {problem}")
    try:
        source_notebooks(solutions)  # the same check as the release command's
    except ValueError as error:
        raise GradingError(str(error)) from None
    if out_csv.is_dir():
        raise GradingError(f"--out {out_csv} is a folder; give the path of the CSV file to write, "
                           f"e.g. {out_csv / 'grades.csv'}")
    feedback_dir = Path(feedback_dir) if feedback_dir else out_csv.with_name(out_csv.stem + "-feedback")
    for flag, place in (("--out", out_csv), ("--feedback", feedback_dir)):
        if submissions.is_dir() and place.resolve().is_relative_to(submissions.resolve()):
            raise GradingError(f"{flag} {place} is inside the submissions folder {submissions}, where the next run "
                               f"would grade it as a student; write it elsewhere, e.g. "
                               f"{submissions.resolve().parent / place.name}")
    for flag, folder in (("--feedback", feedback_dir), ("--keep-workdir", keep_workdir and Path(keep_workdir)),
                         ("--out's folder", out_csv.parent)):
        if folder and folder.exists() and not folder.is_dir():
            raise GradingError(f"{flag} {folder} is a file; expected a folder to write into")
    students, names = _survey(submissions, notebooks, solutions)
    # every student keeps the internal id the whole batch gives them, sharded or not
    ids = {student: f"student{i:04d}" for i, student in enumerate(students, start=1)}
    if shard is not None:
        students = [student for student in students if shard.holds(student)]
    if jobs > max(1, len(students)):
        count = f"{len(students)} student folder{'' if len(students) == 1 else 's'}"
        print(f"--jobs {jobs}: {count} to grade, so {max(1, len(students))} at once "
              f"(this machine has {os.cpu_count()} cores)")
        jobs = max(1, len(students))
    # Everything the instructor owns is read before any student code runs: the sources come from memory.
    sources = {name: (solutions / f"{name}.ipynb").read_text() for name in names}
    instructor_files = isolation.InstructorFiles(isolation.instructor_paths(solutions, NOTEBOOKS_DIR))
    limits = isolation.Limits(timeout, **{key: value for key, value in
                                          (("memory_mb", memory_mb), ("output_mb", output_mb)) if value is not None},
                              threads=None if jobs == 1 else max(1, (os.cpu_count() or 1) // jobs),
                              sandbox=_use_sandbox(sandbox),
                              # classmates' work, and the results: feedback and logs of earlier notebooks
                              hide=tuple(str(p.resolve()) for p in (submissions, out_csv.parent, feedback_dir)))
    try:
        out_csv.parent.mkdir(parents=True, exist_ok=True)
        feedback_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GradingError(f"cannot write the results: {error}") from None
    _check_room((out_csv.parent, feedback_dir), len(students) * len(names))
    _prepare_data_root()

    workdir = Path(keep_workdir).resolve() if keep_workdir else Path(tempfile.mkdtemp(prefix="gan-grading-"))
    try:
        with isolation.environment(grading_environment()), _noticing_ctrl_c():
            rows, cells = _grade_in(workdir, submissions, {s: ids[s] for s in students}, names, sources, limits,
                                    feedback_dir, instructor_files, jobs)
            _export(workdir, out_csv.with_name(out_csv.stem + "-nbgrader.csv"))  # nbgrader's own table
    finally:
        if not keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    _write_csv(shards.cells_csv(out_csv), cells, CELL_FIELDS)
    _write_csv(out_csv, rows)  # last: a grades CSV means its per-exercise CSV is there too
    if shard is not None:
        shards.write_plan(out_csv, shard, sorted(ids), names)
    return rows


_STOPPED = []  # holds True once Ctrl-C was pressed during grading


@contextlib.contextmanager
def _noticing_ctrl_c():
    """Inside, a Ctrl-C is remembered as well as raised: nbgrader catches every exception of a notebook it runs,
    the interrupt included, so the batch looks at ``_STOPPED`` after each student."""
    def noticed(signum, frame):
        _STOPPED.append(True)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, noticed)
    except ValueError:  # not the main thread: leave the interrupt as it is
        yield
        return
    _STOPPED.clear()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _prepare_data_root():
    """Unpack the data root's ``.gz`` files for torchvision now, as the instructor: every kernel sees the root
    read-only (the sandbox), and a root of ``.gz`` files only (a fresh copy, a USB stick) would otherwise cost
    every student the exercises that load data through torchvision."""
    try:
        unpacked = unpack_for_torchvision()
    except DataFileError as error:
        raise GradingError(f"the data root is not ready for grading: {error}") from None
    if unpacked:
        print(f"unpacked {len(unpacked)} data file(s) in {data_root()} for torchvision before grading "
              f"(the kernels see the data read-only)")


def _use_sandbox(asked):
    """Whether to sandbox the kernels (``asked``: None = where possible); says so in one line."""
    if asked is False:
        print("sandbox: off (--no-sandbox): each kernel runs as your user, isolated by process only")
        return False
    works, how = sandboxes.available()
    if not works and asked:
        raise GradingError(f"no sandbox can be made here: {how}")
    print(f"sandbox: {how}" if works else f"sandbox: none, {how}; each kernel runs as your user, isolated by "
                                          f"process only")
    return works


def _survey(submissions, notebooks, solutions):
    """Check the input folder; return (students, notebook names to grade)."""
    if not submissions.is_dir():
        raise GradingError(f"{submissions} is not a folder of submissions "
                           f"(expected SUBMISSIONS/<student>/NN_name.ipynb)")
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir())  # every folder gets its rows
    if not students:
        raise GradingError(f"{submissions} has no student folders "
                           f"(expected SUBMISSIONS/<student>/NN_name.ipynb)")
    available = {p.stem for p in solutions.glob("*.ipynb")}
    if notebooks:
        unknown = sorted(set(notebooks) - available)
        if unknown:
            raise GradingError(f"no source notebook for {unknown} in {solutions}; "
                               f"available: {sorted(available)}")
        return students, sorted(set(notebooks))
    handed_in = {name for name in available for s in students if find_notebook(submissions / s, name)[0]}
    names = sorted(handed_in & available)
    if not names:
        raise GradingError(f"no submission in {submissions} matches a notebook in "
                           f"{solutions} ({sorted(available)})")
    return students, names


def grading_environment():
    """The environment variables grading sets (None: unset) for nbgrader and every notebook kernel.

    nbgrader calls ``alembic`` through PATH when it creates the gradebook, so
    this interpreter's bin folder goes first on PATH. Notebooks are smoke
    runs, each writing under its own folder (``GAN_COURSE_OUT`` unset).
    """
    return {"PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
            "GAN_COURSE_FAST": "1", "GAN_COURSE_OUT": None,
            "MPLBACKEND": os.environ.get("MPLBACKEND", "Agg")}


def _nbgrader(workdir, command, *args):
    """Run one of nbgrader's commands for the batch, in this process; raise ``GradingError`` if it fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy and traitlets warnings
        result = getattr(isolation.nbgrader_api(workdir), command)(*args)
    if not result.get("success"):
        raise GradingError(f"nbgrader {command} {' '.join(args)} failed:\n{result.get('log', '')}"
                           f"{result.get('error', '')}")


def _export(workdir, path):
    """nbgrader's own CSV export of the gradebook (one row per student and notebook) to ``path``."""
    from nbgrader.plugins.export import CsvExportPlugin

    with _gradebook(workdir) as gradebook:
        CsvExportPlugin(to=str(path)).export(gradebook)


def _gradebook(workdir):
    """nbgrader's gradebook of the batch (a context manager)."""
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{workdir / 'gradebook.db'}", course_id=COURSE_ID)


def alembic_head():
    """The schema version nbgrader stamps on a new gradebook (its alembic migrations' head), read in this
    process. nbgrader's own ``Gradebook`` asks a new ``alembic`` process (``nbgrader.api.get_alembic_version``),
    about 3 s of every grade command (benchmarks/grade_startup.py)."""
    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    migrations = Config()
    migrations.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
    return ScriptDirectory.from_config(migrations).get_current_head()


def _create_gradebook(workdir):
    """Create the batch's gradebook as nbgrader's ``Gradebook`` does for a new one (its tables, and the
    ``alembic_version`` table holding ``alembic_head()``); nbgrader then opens it as an existing one."""
    from nbgrader.api import Base
    from sqlalchemy import create_engine, text

    path = workdir / "gradebook.db"
    if path.exists():  # a kept course folder (--keep-workdir) run again
        return
    engine = create_engine(f"sqlite:///{path}")
    try:
        Base.metadata.create_all(bind=engine)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
                               {"head": alembic_head()})
    finally:
        engine.dispose()


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


def _meta(cell):
    """A cell's nbgrader metadata (``{}`` for a plain cell): a dict, or nbformat's node."""
    return cell.get("metadata", {}).get("nbgrader", {})


def graded_cell_ids(nb):
    """The ``grade_id`` of every autograded cell of a notebook (a dict, or nbformat's node)."""
    return {_meta(c).get("grade_id") for c in nb["cells"]
            if _meta(c).get("grade")}


def drop_repeated_grade_ids(nb):
    """Keep the nbgrader metadata of the first cell with each grade_id only; return the repeated ids.

    A cell pasted twice keeps its grade_id. nbgrader's own fix keeps the
    last copy and leaves the others with empty metadata, which then fails
    its metadata check and the whole notebook (nbgrader issue #1083). Here
    the later copies become plain cells: they still run, and the answer
    where the student wrote it is the one graded.
    """
    seen, repeated = set(), []
    for cell in nb.cells:
        grade_id = _meta(cell).get("grade_id")
        if grade_id is None:
            continue
        if grade_id in seen:
            del cell.metadata["nbgrader"]
            repeated.append(grade_id)
        seen.add(grade_id)
    return sorted(set(repeated))


def skip_after_last_graded(nb):
    """Tag every code cell after the last graded one ``skip-execution``, so grading does not run it; return ``nb``.

    Those cells carry no points and cannot change a score (cells run in
    order): in the course's notebooks they are the demos and the longer
    runs, and in a student's, their own experiments. nbclient skips cells
    with that tag; the feedback shows them without outputs.
    """
    graded = [i for i, cell in enumerate(nb.cells) if _meta(cell).get("grade")]
    for cell in nb.cells[graded[-1] + 1:] if graded else []:
        if cell.cell_type == "code":
            tags = cell.metadata.setdefault("tags", [])
            if "skip-execution" not in tags:
                tags.append("skip-execution")
    return nb


def find_notebook(folder, name):
    """``(path, note)`` of ``name``'s notebook in a student's folder, or ``(None, reason)``.

    ``NN_name.ipynb`` itself, else one near miss such as ``NN_name (1).ipynb``
    or ``NN_name-copy.ipynb``, accepted with a note.
    """
    exact = folder / f"{name}.ipynb"
    if exact.is_file() or exact.is_symlink():  # a link is found, then refused (``_linked``)
        return exact, ""
    near = sorted(p for p in folder.glob("*.ipynb") if p.stem.startswith(name) and (p.is_file() or p.is_symlink()))
    if len(near) == 1:
        return near[0], f"graded '{near[0].name}' (expected {name}.ipynb)"
    if near:
        return None, f"no {name}.ipynb handed in; {len(near)} near misses, none chosen: {[p.name for p in near]}"
    return None, f"no {name}.ipynb handed in"


def _grade_in(workdir, submissions, ids, names, sources, limits, feedback_dir, instructor_files, jobs=1):
    """Grade the students of ``ids`` ({folder name: internal id}) in every notebook of ``names``; the rows."""
    workdir.mkdir(parents=True, exist_ok=True)
    _write_config(workdir, limits.timeout)
    _create_gradebook(workdir)
    # nbgrader reads student ids as glob patterns and path parts: each folder gets a plain internal id,
    # and the CSV keeps the folder's real name.
    students = list(ids)
    rows, cells = [], []
    for name in names:
        status, notes, texts = {}, {}, {}
        for student in students:
            text, state, note = prepare_submission(submissions / student, name, sources[name])
            sid = ids[student]
            if text is None:  # missing or unreadable: the note is the row's detail
                status[sid] = (state, note)
            else:
                status[sid], notes[sid], texts[sid] = (state, ""), note, text
        batch = _Batch(workdir, name, sources[name], {v: k for k, v in ids.items()}, limits, instructor_files)
        for row in batch.grade(status, texts, feedback_dir, jobs):
            note = notes.get(row.pop("id"), "")
            if note:
                row["detail"] = f"{note}; {row['detail']}" if row["detail"] else note
            if "graded cells missing" in note and row["status"] == "graded":
                row["status"] = "cells-missing"
            rows.append(row)
        cells.extend(batch.cells)
    by_student = lambda r: (r["notebook"], r["student"])  # noqa: E731 (stable: each submission's cells in order)
    return sorted(rows, key=by_student), sorted(cells, key=by_student)


def prepare_submission(folder, name, source_text):
    """Read a student's ``name`` notebook from ``folder``; return (the text to grade or None, status, note).

    The status is ``missing``, ``unreadable``, ``linked`` or ``graded``; the note says
    what else the instructor should know (a near-miss file name, graded cells
    deleted or pasted twice).
    """
    path, note = find_notebook(folder, name)
    if path is None:
        return None, "missing", note
    link = _linked(folder, path)
    if link:
        return None, "linked", link
    nb, reason = _read_submission(path)
    if nb is None:
        return None, "unreadable", reason
    notes = [note]
    lost = sorted(graded_cell_ids(json.loads(source_text)) - graded_cell_ids(nb))
    if lost:  # deleted, or their nbgrader metadata stripped: nbgrader alone would just give fewer points
        notes.append(f"graded cells missing or stripped of their nbgrader metadata: {', '.join(lost)}")
    pasted = drop_repeated_grade_ids(nb)
    if pasted:
        notes.append(f"cells repeated with the same grade_id (pasted?): {', '.join(pasted)}; the first of each "
                     f"was graded, the others ran as plain cells")
    return nbformat.writes(skip_after_last_graded(nb)), "graded", "; ".join(filter(None, notes))


def _linked(folder, path):
    """Why ``path`` (a notebook in the student folder ``folder``) is not the student's own file, or ``""``.

    A symbolic link could point at the course's solutions, or at a classmate's notebook; a hard link is
    the same file under two names. Neither is followed, wherever it points (inside the folder too).
    """
    fix = "hand in the notebook file itself (a copy, not a link)"
    for place, what in ((folder, "the student folder"), (path, path.name)):
        if place.is_symlink():
            return f"{what} is a symbolic link (to {os.readlink(place)}), not graded: {fix}"
    links = path.stat().st_nlink
    if links > 1:
        return f"{path.name} is a hard link ({links} names for one file), not graded: {fix}"
    return ""


class _Batch:
    """One notebook graded for every student, one student at a time (``isolation.autograde_alone``).

    The scores are taken from each autograded notebook by nbgrader's own rule
    (a test cell with an error output scores 0) and kept here, outside every
    kernel; after each student they are written into the gradebook again,
    so a submission that wrote into it changes nothing (and is reported).
    """

    def __init__(self, workdir, name, source_text, names_of, limits, instructor_files):
        self.workdir, self.name, self.names_of, self.limits = workdir, name, names_of, limits
        self.instructor_files = instructor_files
        self.source = json.loads(source_text)
        self.judged = judged_cells(self.source, SOLUTIONS_DIR / f"{name}.ipynb")
        path = workdir / "source" / name / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source_text)
        self.scores = {}  # student id -> {test grade_id: points}
        self.cells = []  # CELL_FIELDS rows, for the per-exercise CSV

    def grade(self, status, texts, feedback_dir, jobs=1):
        """Grade every readable submission (``texts``: id -> notebook text), ``jobs`` at once; return the rows."""
        _nbgrader(self.workdir, "generate_assignment", self.name)
        _register_students(self.workdir, self.names_of)
        instructor_cells = [(_text(c["source"]), _is_test(c)) for c in self.source["cells"]
                            if c["cell_type"] == "code" and not _meta(c).get("solution")]
        rows, runs, notices, judged = [], {}, {}, {}
        graded = [student for student, (state, _) in sorted(status.items()) if state == "graded"]
        # new inputs for the judge's questions, for every submission
        seeds = {student: secrets.randbelow(2**31) for student in graded}
        asked = {student: (self.workdir, self.name, student, texts[student], instructor_cells, self.limits,
                           {"seed": seeds[student], "cells": self.judged}) for student in graded}
        for student, run, others in _autograde_all(asked, jobs):
            if _STOPPED:  # nbgrader turns a Ctrl-C into a failed notebook: it must stop the batch instead
                raise KeyboardInterrupt
            runs[student] = run
            self.scores[student] = _test_scores(run.autograded, self.source)
            notices[student] = self._put_back(run, others)
            reasons = {}
            judged[student] = judge.overrule(self.scores[student], run.replies, seeds[student],
                                             self.judged.values(), reasons)
            self.cells.extend(self._cell_rows(student, run.autograded, reasons))
            run.autograded = for_feedback(run.autograded, reasons)
            _record_scores(self.workdir, self.name, self.scores)
        self._write_autograded(runs)
        if any(run.autograded is not None for run in runs.values()):
            _nbgrader(self.workdir, "generate_feedback", self.name)
        max_score = sum(_points(c) for c in self.source["cells"] if _is_test(c))
        by_hand = manual.manual_cells(self.source)  # never part of the score: see manual.py
        for student, (state, detail) in sorted(status.items()):
            to_mark = manual.needs_marking(by_hand) if state == "graded" else ""
            if state == "graded":
                state, detail = _outcome(runs[student], notices[student])
                detail = "; ".join(filter(None, [detail, *judged[student]]))
                _copy_feedback(self.workdir, self.name, student, self.names_of[student], feedback_dir)
                _write_student_log(runs[student].log, self.name, feedback_dir / self.names_of[student])
            score = sum(self.scores.get(student, {}).values())
            seconds = round(runs[student].seconds, 1) if student in runs else ""
            rows.append(dict(id=student, student=self.names_of[student], notebook=self.name, score=round(score, 2),
                             max_score=round(max_score, 2), manual_max=round(sum(by_hand.values()), 2),
                             manual=to_mark, status=state, detail=detail, seconds=seconds))
        return rows

    def _cell_rows(self, student, autograded, reasons):
        """CELL_FIELDS rows of one submission: each test cell's points, and why it lost them (the first line of
        its error, the judge's reason, or that it never ran)."""
        errors = cell_errors(autograded)
        rows = []
        for cell in self.source["cells"]:
            if not _is_test(cell):
                continue
            grade_id = _meta(cell)["grade_id"]
            points, most = self.scores[student].get(grade_id, 0.0), _points(cell)
            message = "" if points >= most else reasons.get(grade_id) or errors.get(grade_id, "did not run")
            rows.append(dict(student=self.names_of[student], notebook=self.name, grade_id=grade_id,
                             points=round(points, 2), max_points=round(most, 2), message=message))
        return rows

    def _put_back(self, run, others=()):
        """Undo what the run just finished changed outside its own folder; return what it did, in words.

        ``others``: the students graded at the same time (``--jobs``), who could have made the same
        change: a change of the instructor's files or of the gradebook then names them too.
        """
        notices = []
        for event, words in (("restored", "the submission replaced {}; the hidden tests ran on the originals"),
                             ("rebound", "the submission rebound {}, which the hidden tests use; they used the "
                                         "instructor's imports"),
                             ("hooks", "the submission registered {}; the hidden tests bypassed it")):
            names = sorted({n for e in run.events if e.get("event") == event for n in e.get("names", [])})
            if names:
                notices.append(words.format(", ".join(names[:6]) + (" ..." if len(names) > 6 else "")))
        who = "the submission" if not others else \
            f"this submission, or one graded at the same time ({', '.join(self.names_of[o] for o in others)}),"
        restored = self.instructor_files.restore()
        if restored:
            notices.append(f"{who} changed the instructor's files {', '.join(p.name for p in restored)}; "
                           f"they were put back")
        if _record_scores(self.workdir, self.name, self.scores):
            notices.append(f"{who} wrote into the gradebook; the scores were put back")
        return notices

    def _write_autograded(self, runs):
        """Put each autograded notebook where generate_feedback reads it (from the copy kept in memory)."""
        for student, run in runs.items():
            if run.autograded is not None:
                path = self.workdir / "autograded" / student / self.name / f"{self.name}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(run.autograded)
        _record_scores(self.workdir, self.name, self.scores)


def _autograde_all(asked, jobs):
    """Autograde each student of ``asked`` ({student: ``isolation.autograde_alone``'s arguments}).

    Yields ``(student, Run, others)`` as each finishes, ``others`` the students still being graded
    at that moment. ``jobs`` > 1: that many at once, each in a process of its own (started afresh,
    not forked from this one), so nothing one does in its process reaches another's.
    """
    if jobs == 1 or len(asked) < 2:
        for student, arguments in asked.items():
            yield student, isolation.autograde_alone(*arguments), ()
        return
    import concurrent.futures
    import multiprocessing

    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) \
            as pool:
        running = {pool.submit(isolation.autograde_alone, *arguments): student for student, arguments in asked.items()}
        for future in concurrent.futures.as_completed(running):
            student = running.pop(future)
            yield student, future.result(), tuple(sorted(s for f, s in running.items() if f.running()))


def for_feedback(autograded, reasons):
    """The autograded notebook's text as its feedback HTML shows it.

    - Each cell's printed output is one piece: a kernel sends what a cell
      prints in chunks that depend on timing (on how busy the machine was), so
      nbconvert's ``CoalesceStreamsPreprocessor`` joins them, and the feedback
      reads the same however the submission was graded.
    - Each of ``reasons`` (test grade_id -> sentence) is shown under its cell:
      a cell the judge set to 0 then says why, instead of only
      "All checks passed" above "0 / 2".
    """
    if autograded is None:
        return None
    notebook = nbformat.reads(autograded, as_version=nbformat.NO_CONVERT)
    notebook, _ = CoalesceStreamsPreprocessor().preprocess(notebook, {})
    for cell in notebook.cells:
        why = reasons.get(_meta(cell).get("grade_id"))
        if why and cell.cell_type == "code":
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=f"\n{why}\n"))
    return nbformat.writes(notebook)


def judged_cells(source, shipped_path):
    """``{sha1 of the test cell: grade_id}`` for the test cells of ``source`` the judge asks again.

    A cell is judged when the judge knows its exercise and the cell is the
    one the course ships (``shipped_path``, its solutions notebook): a test
    an instructor rewrote is left to nbgrader alone.
    """
    try:
        shipped = json.loads(Path(shipped_path).read_text())
    except (OSError, ValueError):
        return {}
    ours = {_meta(c).get("grade_id"): _text(c["source"]) for c in shipped["cells"] if _is_test(c)}
    return {code_hash(_text(c["source"])): _meta(c)["grade_id"] for c in source["cells"]
            if _is_test(c) and _meta(c)["grade_id"] in judge.EXERCISES
            and ours.get(_meta(c)["grade_id"]) == _text(c["source"])}


def _text(source):
    return "".join(source) if isinstance(source, list) else source


def _is_test(cell):
    """An autograded test cell: graded, and not a solution."""
    return bool(_meta(cell).get("grade")) and not _meta(cell).get("solution")


def _points(cell):
    return float(_meta(cell).get("points", 0))


def cell_errors(autograded_text):
    """``{grade_id: the first line of the cell's error}`` for the graded cells of an autograded notebook that
    raised (a visible check's message starts with the fix); ``{}`` for None."""
    if autograded_text is None:
        return {}
    errors = {}
    for cell in nbformat.reads(autograded_text, as_version=4).cells:
        grade_id = _meta(cell).get("grade_id")
        failed = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if grade_id and failed:
            value = (failed[0].get("evalue") or "").strip().splitlines()
            errors[grade_id] = f"{failed[0].get('ename', 'Error')}: {value[0] if value else ''}".rstrip(": ")
    return errors


def _test_scores(autograded_text, source):
    """``{test grade_id: points}`` for an autograded notebook (None: every test scores 0), by nbgrader's rule."""
    from nbgrader.utils import determine_grade

    scores = {_meta(c)["grade_id"]: 0.0 for c in source["cells"] if _is_test(c)}
    if autograded_text is None:
        return scores
    for cell in nbformat.reads(autograded_text, as_version=4).cells:
        grade_id = _meta(cell).get("grade_id")
        if grade_id in scores and _is_test(cell):
            scores[grade_id] = float(determine_grade(cell)[0] or 0.0)
    return scores


def _record_scores(workdir, name, scores):
    """Write ``scores`` (student id -> {grade_id: points}) into the gradebook, with no manual scores.

    Returns True when the gradebook held anything else for a student already
    recorded. The grade command never sets a manual score, so a difference
    was written by the only code that ran since the last call: the last
    submission graded.
    """
    from nbgrader.api import MissingEntry

    changed = False
    with _gradebook(workdir) as gradebook:
        for student, by_cell in scores.items():
            try:
                notebook = gradebook.find_submission_notebook(name, name, student)
            except MissingEntry:  # nbgrader never got to record it (the kernel died on every try)
                gradebook.add_submission(name, student)
                notebook = gradebook.find_submission_notebook(name, name, student)
            for grade in notebook.grades:
                # a hand-marked answer has no automatic score, and the grade command never marks it
                wanted = (by_cell[grade.name], None, None) if grade.name in by_cell else (None, None, None)
                found = (grade.auto_score, grade.manual_score, grade.extra_credit)
                if found != wanted:
                    # nbgrader's autograde itself scores an answer left as released 0 ("No response")
                    by_nbgrader = grade.name not in by_cell and found in ((0.0, None, None), (None, 0.0, None))
                    changed |= found != (None, None, None) and not by_nbgrader
                    grade.auto_score, grade.manual_score, grade.extra_credit = wanted
        gradebook.db.commit()
    return changed


def _register_students(workdir, names_of):
    """Put every student in the gradebook under their internal id, with their folder name as last name."""
    with _gradebook(workdir) as gradebook:
        for student_id, folder_name in names_of.items():
            gradebook.update_or_create_student(student_id, last_name=folder_name)


def _outcome(run, notices):
    """Status and detail for a submission that was autograded (``run``: ``isolation.Run``)."""
    skipped = [f"{_cell_label(run, key)}: {sentence}" for key, (_, sentence) in run.skipped.items()]
    if run.autograded is None:
        if run.skipped:
            first = next(iter(run.skipped.values()))[0]
            return first, "; ".join(skipped) + f"; gave up after {len(skipped)} cell(s), nothing else was graded"
        if "DeadKernelError" in run.log or "Kernel died" in run.log:
            return "kernel-died", ("the notebook's kernel died while it ran (os._exit, a crash in native code, or "
                                   "out of memory); nothing of this notebook could be graded")
        lines = [line for line in run.log.splitlines() if "ERROR" in line.upper()]
        return "error", (lines[0][:200] if lines else "nbgrader could not grade this submission")
    details = []
    state = "graded"
    if run.skipped:
        state = next(iter(run.skipped.values()))[0]
        details.append("; ".join(skipped) + "; the rest was graded")
    timed_out = [
        _meta(cell).get("grade_id", f"cell {i} (ungraded)")
        for i, cell in enumerate(json.loads(run.autograded)["cells"])
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error" and output.get("ename") == "CellTimeoutError"
    ]
    if timed_out:
        state = "timeout" if state == "graded" else state
        details.append(f"cell(s) ran past the time limit and were stopped: {', '.join(timed_out)}")
    if notices:
        state = "tampered" if state == "graded" else state
        details.extend(notices)
    return state, "; ".join(details)


def _cell_label(run, key):
    """A kernel cell key ("index:sha1") in words: the cell's grade_id, else its position."""
    index = int(key.split(":", 1)[0])
    if run.autograded is not None:
        code = [c for c in json.loads(run.autograded)["cells"]
                if c["cell_type"] == "code" and _text(c["source"]).strip()]
        if index < len(code):
            grade_id = _meta(code[index]).get("grade_id")
            if grade_id:
                return grade_id
    return f"code cell {index + 1}"


def _write_student_log(log, name, folder):
    """Keep nbgrader's log of one student's autograde as ``<folder>/<name>.log``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.log").write_text(log or "nbgrader logged nothing about this submission\n")


def _copy_feedback(workdir, name, student, folder_name, feedback_dir):
    html = workdir / "feedback" / student / name / f"{name}.html"
    if html.is_file():
        target = feedback_dir / folder_name / f"{name}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(html, target)


def _check_room(folders, notebooks):
    """Refuse to grade ``notebooks`` submissions where their results cannot be written: ``GradingError`` if a
    folder's disk has less free space than ``ROOM_PER_NOTEBOOK_MB`` per notebook (checked before any grading)."""
    needed = (notebooks + 1) * ROOM_PER_NOTEBOOK_MB * 2**20
    for folder in dict.fromkeys(Path(f).resolve() for f in folders):
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise GradingError(f"the disk holding {folder} has {free / 2**20:.1f} MB free, but the results of "
                               f"{notebooks} notebook(s) need about {needed / 2**20:.0f} MB "
                               f"({ROOM_PER_NOTEBOOK_MB} MB each): free some space there, or choose another --out "
                               f"(nothing was graded)")


def _write_csv(path, rows, fields=FIELDS):
    """Write the rows atomically (``checkpoints.write_atomically``), as ``shards.csv_text`` formats them."""
    try:
        write_atomically(path, shards.csv_text(fields, rows).encode())
    except OSError as error:  # the room was checked before grading, but the disk may have filled meanwhile
        raise GradingError(f"the grades could not be written to {path} ({why_not_written(error)}); an earlier "
                           f"{path.name}, if any, is intact, and the feedback is in its folder: free some space "
                           f"and grade again") from None


def format_table(rows):
    """A plain-text table, one line per student and notebook, for the terminal."""
    header = f"{'student':<20} {'notebook':<16} {'score':>11}  status"
    lines = [header, "-" * len(header)]
    for row in rows:
        score = f"{row['score']:g} / {row['max_score']:g}"
        note = f"  ({row['detail']})" if row["detail"] else ""
        lines.append(f"{row['student']:<20} {row['notebook']:<16} {score:>11}  {row['status']}{note}")
    waiting = [row for row in rows if row.get("manual")]
    if waiting:
        lines.append(f"\n{len(waiting)} submission(s) hold answers to mark by hand, kept out of the scores above "
                     f"(the CSV's manual_max and manual columns). Read them in the feedback, write "
                     f"student,notebook,grade_id,points in a CSV, and enter them with: "
                     f"python -m gan_grader marks GRADES.csv MARKS.csv --out FINAL.csv")
    return "\n".join(lines)
