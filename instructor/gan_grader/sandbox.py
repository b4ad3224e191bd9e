"""An operating-system sandbox for each submission's kernel: Debian's ``bubblewrap`` (``bwrap``).

Where ``bwrap`` works, the grading kernel starts inside one (``kernel_command``):

- its own PID namespace, and a new session: nothing it starts can see or signal the grade command,
  and everything in it dies with the kernel (``--die-with-parent``);
- its own network namespace, with no interface but loopback: no network. The kernel and the grade
  command talk over ZMQ's ``ipc`` transport, through sockets in a folder both see;
- a read-only view of the system, in which the repository (``solutions/``, ``notebooks/``, the
  tests), the batch's course folder (the gradebook and the source notebooks, hidden tests
  included), the submissions, the grade command's output folder (other students' feedback and
  logs), the instructor's home folder and the temporary folders of every other try are empty and
  read-only. Only what the kernel needs comes back: the Python installation, the ``helpers`` and
  ``gan_grader`` packages and the data, read-only; its own try folder (its working folder, its
  temporary folder, the judge's reply folder and the kernel's runtime folder), writable;
- nowhere else to write: ``/dev`` is read-only, and ``/dev/shm`` (shared memory, which
  multiprocessing and a DataLoader's workers use) is a RAM folder of a fixed size. Everything in the
  try folder counts against the output limit (``isolation.Watchdog``).

Where it does not (no ``bwrap``, or a kernel that forbids user namespaces), ``available()`` says why
in one line, and grading falls back to the isolation of ``isolation.py`` (a process of the
instructor's user).
"""

import functools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import helpers
from helpers.data import data_root

NAMESPACES = ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try")


@functools.lru_cache(maxsize=1)
def available():
    """``(True, "bubblewrap ...")`` where a sandbox can be made here, else ``(False, why)``."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, "bwrap not found (Debian: apt-get install bubblewrap)"
    trial = [bwrap, "--die-with-parent", *NAMESPACES, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
             sys.executable, "-c", "import os; print(os.getpid())"]
    try:
        done = subprocess.run(trial, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"bwrap could not start ({error})"
    if done.returncode != 0 or done.stdout.strip() != "2":
        return False, f"bwrap could not make a sandbox here ({(done.stderr or done.stdout).strip()[:200]})"
    return True, f"bubblewrap ({bwrap}): no network, its own PID namespace, the instructor's files hidden"


def hidden_places(course, hide=()):
    """The folders a kernel must not see: /tmp and the temporary folder, the home folder, the repository,
    the course folder and ``hide`` (the submissions, the output folder), each hidden under an empty,
    read-only folder. The root itself is never one of them (the system stays readable)."""
    places = [Path("/tmp"), Path(tempfile.gettempdir()), Path.home(), Path(helpers.__file__).resolve().parent.parent,
              Path(course), *(Path(p) for p in hide)]
    kept = []
    for place in (p.resolve() for p in places):
        if place == Path(place.anchor):
            continue
        if not any(place == other or other in place.parents for other in kept):
            kept = [other for other in kept if place not in other.parents] + [place]
    return sorted(kept)


def _package_folders():
    """The folders Python's installed packages live in (``site-packages``, a user's ``~/.local`` included)."""
    return [Path(p).resolve() for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]


@functools.lru_cache(maxsize=1)
def _sizes_tmpfs():
    """Whether this bwrap takes ``--size`` for a ``--tmpfs`` (bubblewrap 0.8 and later)."""
    shown = subprocess.run([shutil.which("bwrap"), "--help"], capture_output=True, text=True)
    return "--size" in shown.stdout + shown.stderr


def kernel_command(command, course, hide, writable, readable=(), shared_memory_mb=64):
    """``command`` (the kernel's argv) run inside a sandbox; returns the new argv.

    ``course``, ``hide``: folders to hide (see ``hidden_places``). ``writable``: folders the
    kernel writes (its working folder, its reply folder, the runtime folder with the connection
    file and the sockets); ``readable``: more folders to show read-only. The course's packages,
    the Python installation (its prefix and its package folders) and the data root are always
    shown read-only. ``shared_memory_mb``: the size of ``/dev/shm`` (where bwrap cannot size it, it is
    read-only).
    """
    import gan_grader

    # JPY_PARENT_PID: the kernel would watch a process it cannot see, and stop; it dies with bwrap instead
    argv = [shutil.which("bwrap"), "--die-with-parent", "--new-session", *NAMESPACES, "--unsetenv", "JPY_PARENT_PID",
            "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    sized = _sizes_tmpfs()
    argv += ["--size", str(int(shared_memory_mb) * 2**20)] if sized else []
    argv += ["--tmpfs", "/dev/shm"]
    hidden = hidden_places(course, hide)
    shown = [Path(helpers.__file__).resolve().parent, Path(gan_grader.__file__).resolve().parent,
             Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), *_package_folders(),
             *(Path(p).resolve() for p in readable)]
    try:
        shown.append(data_root().resolve())
    except Exception:  # noqa: BLE001 - no data root: nothing to show
        pass
    mounts = [(place, ["--tmpfs", str(place)]) for place in hidden]
    mounts += [(place, ["--ro-bind", str(place), str(place)]) for place in shown if place.exists()]
    mounts += [(Path(place).resolve(), ["--bind", str(Path(place).resolve()), str(Path(place).resolve())])
               for place in writable]
    # outer folders first: a folder shown inside a hidden one comes back, a hidden one inside a shown one stays hidden
    for _, mount in sorted(mounts, key=lambda m: len(m[0].parts)):
        argv += mount
    # the empty folders over hidden places, and /dev, become read-only once every mount inside them is made
    for place in [*hidden, Path("/dev"), *([] if sized else [Path("/dev/shm")])]:
        argv += ["--remount-ro", str(place)]
    return argv + list(command)
