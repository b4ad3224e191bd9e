"""Autograding one submission alone, so that nothing it does reaches another.

Used by ``grading.py``; the README's "What grading isolates" says what this
covers and what it cannot. Where ``sandbox.available()``, each kernel also runs
in ``sandbox.py``'s sandbox (``Limits.sandbox``); without one, student code runs
as the instructor's user.

- ``autograde_alone`` runs nbgrader's autograde for one student in a fresh
  course folder of its own (a throwaway copy of the submission, outside the
  instructor's tree and the batch's course folder), in the grading kernel (``grading_kernel.py``), under a
  memory limit and an output-size limit. Processes the run leaves behind are
  killed. A cell that kills the kernel, runs it out of memory or output, or
  swallows the timeout interrupt is skipped on a second try, and the rest
  is graded.
- ``InstructorFiles`` remembers the instructor's files before any student
  code runs, and puts back whatever a submission changed.
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import sandbox
from .grading_kernel import KERNEL_NAME, code_hash, instructor_imports, kernel_argv, read_report, write_kernelspec
from .judge import read_replies

COURSE_ID = "gan-course"
MAX_SKIPS = 3  # cells a run may lose (kernel death, ignored interrupt, a limit) before it is given up
TOKEN_VARIABLE = "GAN_GRADING_TOKEN"
# what a try's kernel writes: the judge's replies, its events, its connection file and sockets, its notebook's folder,
# and its temporary files (TMPDIR): all inside the try's folder, so all count against the output limit
KERNEL_WRITES = ("replies", "events", "runtime", "autograded", "tmp")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # read by torch when the kernel imports it


@dataclass
class Limits:
    """Per-submission limits: seconds per cell, resident memory of all its processes, bytes it writes,
    and the threads its kernel's torch may use (None: as many as it likes; ``--jobs`` shares the cores).
    ``sandbox``: run the kernel in ``sandbox.kernel_command``'s sandbox, hiding ``hide`` (the submissions)
    besides what it always hides."""
    timeout: int = 120
    memory_mb: int = 6144
    output_mb: int = 512
    threads: int = None
    sandbox: bool = False
    hide: tuple = ()


@dataclass
class Run:
    """What one student's autograde left: the autograded notebook (text, or None), nbgrader's log,
    the grading kernel's events, the cells skipped on a later try (key -> (status, sentence)), the
    seconds it took in all, and the replies to the judge's questions (grade_id -> bytes, from the
    last try)."""
    autograded: str = None
    log: str = ""
    events: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)
    seconds: float = 0.0
    replies: dict = field(default_factory=dict)


def autograde_alone(course, name, student, notebook_text, instructor_cells, limits, judge=None):
    """Autograde ``student``'s ``name`` notebook alone; return a ``Run``.

    ``course``: the batch's nbgrader course folder (its gradebook and
    ``source/``). ``instructor_cells``: ``(source, is_test)`` for each code
    cell of the instructor's notebook that is not a solution. ``judge``:
    ``{"seed": int, "cells": {test cell sha1: grade_id}}``, the exercises the
    judge asks again in the kernel (``judge.py``). Each try gets
    a fresh temporary folder of its own, outside the course folder (so the
    gradebook is not among its parents), removed afterwards with everything
    the notebook wrote.
    """
    run, start = Run(), time.monotonic()
    for _ in range(MAX_SKIPS + 1):
        folder = Path(tempfile.mkdtemp(prefix=f"gan-grading-{student}-"))  # not inside the course folder
        try:
            result, events, killed = _one_try(course, folder, name, student, notebook_text, instructor_cells,
                                              limits, {key: sentence for key, (_, sentence) in run.skipped.items()},
                                              judge or {})
            run.replies = read_replies(folder / "replies")
            autograded = folder / "autograded" / student / name / f"{name}.ipynb"
            run.log += result.get("log", "") + result.get("error", "")
            run.events = events
            run.seconds = time.monotonic() - start
            if result.get("success") and autograded.is_file():
                run.autograded = autograded.read_text()
                return run
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        culprit = _last_started(events, run.skipped)
        if culprit is None:
            return run
        status, sentence = _why(events, culprit, killed, limits, result.get("log", "") + result.get("error", ""))
        run.skipped[culprit] = (status, sentence)
    return run


def _one_try(course, folder, name, student, notebook_text, instructor_cells, limits, skip, judge):
    """One autograde of one student in ``folder``; return (nbgrader's result, kernel events, limit hit)."""
    submitted = folder / "submitted" / student / name / f"{name}.ipynb"
    submitted.parent.mkdir(parents=True)
    submitted.write_text(notebook_text)
    source = folder / "source" / name / f"{name}.ipynb"
    source.parent.mkdir(parents=True)
    shutil.copyfile(Path(course) / "source" / name / f"{name}.ipynb", source)

    api = nbgrader_api(folder, gradebook=Path(course) / "gradebook.db", timeout=limits.timeout,
                       ipc=folder / "runtime" / "kernel" if limits.sandbox else None)
    for part in KERNEL_WRITES:
        (folder / part).mkdir()
    report = folder / "events" / "kernel-events.jsonl"
    token = secrets.token_hex(12)
    argv = kernel_argv()
    if limits.sandbox:  # the kernel writes only its working folder, its replies, its events and its sockets
        argv = sandbox.kernel_command(argv, course, limits.hide, [folder / part for part in KERNEL_WRITES],
                                      shared_memory_mb=limits.output_mb)
    settings = {
        "JUPYTER_PATH": write_kernelspec(str(folder / "kernelspec"), argv,
                                         interrupt="message" if limits.sandbox else "signal"),
        "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
        # temporary files and caches in the try's folder, where the limit counts them (and the only place a
        # sandboxed kernel can write): torch.compile's cache follows TMPDIR once a path inherited from the
        # grade command is unset
        "TMPDIR": str(folder / "tmp"), "XDG_CACHE_HOME": str(folder / "tmp" / "cache"),
        "MPLCONFIGDIR": str(folder / "tmp" / "matplotlib"), "TORCHINDUCTOR_CACHE_DIR": None, "TRITON_CACHE_DIR": None,
        "GAN_GRADER_HIDDEN": ",".join(code_hash(code) for code, is_test in instructor_cells if is_test),
        "GAN_GRADER_IMPORTS": json.dumps(instructor_imports(code for code, _ in instructor_cells)),
        "GAN_GRADER_SKIP": json.dumps(skip),
        "GAN_GRADER_TIMEOUT": str(limits.timeout),
        "GAN_GRADER_FILE_LIMIT": str(limits.output_mb * 2**20),
        "GAN_GRADER_REPORT": str(report),
        "GAN_GRADER_JUDGE": json.dumps({**judge, "folder": str(folder / "replies")}),
        TOKEN_VARIABLE: token,
        **({} if limits.threads is None else {name: str(limits.threads) for name in THREAD_VARIABLES}),
    }
    watchdog = Watchdog(token, folder, limits)
    stderr = folder / "stderr.log"
    with environment(settings), watchdog, _stderr_to(stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy warnings
        result = api.autograde(name, student)
    kill_processes_of(token)
    result["log"] = result.get("log", "") + stderr.read_text(errors="replace")
    return result, read_report(report), watchdog.tripped


@contextlib.contextmanager
def _stderr_to(path):
    """Send this process's standard error, and that of the kernels it starts, to ``path`` inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "w") as handle:
        os.dup2(handle.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def nbgrader_api(root, gradebook=None, timeout=None, ipc=None):
    """nbgrader's Python API for the course folder ``root`` (gradebook: ``root/gradebook.db`` unless given).

    ``timeout``: seconds per cell; notebooks then run in the grading kernel. ``ipc``: talk to it over
    ZMQ's ``ipc`` transport, through sockets named after this path (a kernel in a sandbox has no
    network), instead of TCP.
    In-process, it saves a Python start and nbgrader's imports (about 3 s)
    per call against the ``nbgrader`` command.
    """
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.course_id = COURSE_ID
    config.CourseDirectory.db_url = f"sqlite:///{Path(gradebook or Path(root) / 'gradebook.db')}"
    if timeout is not None:
        config.Execute.timeout = timeout
        config.Execute.interrupt_on_timeout = True
        config.Execute.kernel_name = KERNEL_NAME
        # Killed when its notebook is done, not asked to stop: a polite shutdown waits up to two seconds for
        # a kernel that has nothing left to save (its events and replies are written as they happen), and the
        # grade command kills whatever it left anyway (``kill_processes_of``).
        config.Execute.shutdown_kernel = "immediate"
    if ipc is not None:  # the connection file and the sockets, where a sandboxed kernel sees them too
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(ipc)
        config.KernelManager.connection_file = f"{ipc}.json"
    return NbGraderAPI(config=config)


def _last_started(events, skipped):
    """The key of the last cell the kernel started that is not already skipped, or None."""
    started = [e["cell"] for e in events if e.get("event") == "start" and e.get("cell") not in skipped]
    return started[-1] if started else None


def _why(events, culprit, killed, limits, log=""):
    """(status, sentence) for a cell that ended its kernel (``log``: what nbgrader logged of the try)."""
    if killed == "memory":
        return "memory-limit", (f"this cell made the notebook use more than {limits.memory_mb} MB of memory; "
                                f"it was stopped, and is not run again")
    if killed == "output":
        return "output-limit", (f"this cell made the notebook write more than {limits.output_mb} MB of files; "
                                f"it was stopped, and is not run again")
    # the kernel reports an interrupt it could not deliver, unless it was stopped first; nbclient's
    # CellTimeoutError says the same from outside (the cell still ran when nbclient gave up on it)
    if "CellTimeoutError" in log or any(e.get("event") == "ignored-interrupt" and e.get("cell") == culprit
                                        for e in events):
        return "timeout", (f"this cell ran past the {limits.timeout} s limit and ignored the interrupt; "
                           f"it is not run again")
    return "kernel-died", "this cell killed the notebook's kernel (os._exit, a native crash); it is not run again"


@contextlib.contextmanager
def environment(settings):
    """Set environment variables (None: unset) for the processes started inside the block; put the old
    values back after."""
    old = {key: os.environ.get(key) for key in settings}
    for key, value in settings.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Watchdog:
    """While the block runs, check every half second the memory of every process carrying ``token`` and the
    size of ``folder``; past a limit, kill those processes and remember which limit (``tripped``)."""

    def __init__(self, token, folder, limits):
        self.token, self.folder, self.limits = token, Path(folder), limits
        self.tripped = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _watch(self):
        while not self._stop.wait(0.5):
            pids = processes_of(self.token)
            if sum(_resident_mb(pid) for pid in pids) > self.limits.memory_mb:
                self.tripped = "memory"
            elif _folder_mb(self.folder) > self.limits.output_mb:
                self.tripped = "output"
            if self.tripped:
                kill_processes_of(self.token)
                return


def processes_of(token):
    """PIDs of the processes whose environment carries ``GAN_GRADING_TOKEN=token`` (not this one).

    Every process a notebook starts inherits its kernel's environment, so
    this finds them even after they leave the kernel's process group.
    Linux only (``/proc``); elsewhere it finds nothing.
    """
    marker = f"{TOKEN_VARIABLE}={token}".encode()
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(pid)
        except OSError:  # gone, or not ours to read
            continue
    return pids


def kill_processes_of(token):
    """SIGKILL every process carrying ``token``, until none is left (at most a few rounds)."""
    for _ in range(5):
        pids = processes_of(token)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _resident_mb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _folder_mb(folder):
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total / 2**20


class InstructorFiles:
    """The bytes of the instructor's files, read before any student code runs.

    ``paths``: the files to remember. ``restore()`` rewrites (atomically)
    every one that was changed or deleted since, and returns their paths.
    """

    def __init__(self, paths):
        self._files = {Path(path): Path(path).read_bytes() for path in paths}

    def restore(self):
        fixed = []
        for path, data in self._files.items():
            try:
                same = path.read_bytes() == data
            except OSError:
                same = False
            if not same:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(f".{path.name}.restore")
                partial.write_bytes(data)
                os.replace(partial, path)
                fixed.append(path)
        return fixed


def instructor_paths(solutions_dir, notebooks_dir):
    """The files a submission must not change: the source and student notebooks, the course's ``helpers``
    package and this one (the grader's)."""
    packages = [Path(sys.modules["helpers"].__file__).parent, Path(__file__).parent]
    return [*Path(solutions_dir).glob("*.ipynb"), *Path(notebooks_dir).glob("*.ipynb"),
            *(path for package in packages for path in package.rglob("*.py"))]
