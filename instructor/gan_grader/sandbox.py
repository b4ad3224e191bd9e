"""An operating-system sandbox for each submission's kernel: Debian's ``bubblewrap`` (``bwrap``).

Where ``bwrap`` works, the grading kernel starts inside one (``kernel_command``):

- its own PID namespace, and a new session: nothing it starts can see or signal the grade command,
  and everything in it dies with the kernel (``--die-with-parent``);
- its own network namespace, with no interface but loopback: no network. The kernel and the grade
  command talk over ZMQ's ``ipc`` transport, through sockets in a folder both see;
- a read-only view of the system, in which the repository (``solutions/``, ``notebooks/``, the
  tests), the batch's course folder (the gradebook and the source notebooks, hidden tests
  included), the submissions, and the temporary folders of every other try are empty. Only what the
  kernel needs comes back: the ``helpers`` and ``gan_grader`` packages and the data, read-only; its
  own working folder, the judge's reply folder and the kernel's runtime folder, writable.

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
    """The folders a kernel must not see: /tmp and the temporary folder, the repository, the course
    folder and ``hide`` (the submissions), each hidden under an empty, throwaway folder."""
    places = [Path("/tmp"), Path(tempfile.gettempdir()), Path(helpers.__file__).resolve().parent.parent,
              Path(course), *(Path(p) for p in hide)]
    kept = []
    for place in (p.resolve() for p in places):
        if not any(place == other or other in place.parents for other in kept):
            kept = [other for other in kept if place not in other.parents] + [place]
    return sorted(kept)


def kernel_command(command, course, hide, writable, readable=()):
    """``command`` (the kernel's argv) run inside a sandbox; returns the new argv.

    ``course``, ``hide``: folders to hide (see ``hidden_places``). ``writable``: folders the
    kernel writes (its working folder, its reply folder, the runtime folder with the connection
    file and the sockets); ``readable``: more folders to show read-only. The course's packages and
    the data root are always shown read-only.
    """
    import gan_grader

    # JPY_PARENT_PID: the kernel would watch a process it cannot see, and stop; it dies with bwrap instead
    argv = [shutil.which("bwrap"), "--die-with-parent", "--new-session", *NAMESPACES, "--unsetenv", "JPY_PARENT_PID",
            "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm"]
    for place in hidden_places(course, hide):
        argv += ["--tmpfs", str(place)]
    shown = [Path(helpers.__file__).resolve().parent, Path(gan_grader.__file__).resolve().parent,
             Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), *(Path(p).resolve() for p in readable)]
    try:
        shown.append(data_root().resolve())
    except Exception:  # noqa: BLE001 - no data root: nothing to show
        pass
    for place in shown:
        if place.exists():
            argv += ["--ro-bind", str(place), str(place)]
    for place in writable:
        argv += ["--bind", str(Path(place).resolve()), str(Path(place).resolve())]
    return argv + list(command)
