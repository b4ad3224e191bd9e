"""The sandbox's pieces (``gan_grader.sandbox``): when one can be made, what it hides, and what grading
says and does without one. The hostile submissions graded inside it are in ``test_grading_isolation.py``."""

import shutil
from pathlib import Path

import pytest

from gan_grader import grading, sandbox
from helpers.runtime import REPO_ROOT


def test_without_bwrap_there_is_no_sandbox_and_the_reason_names_the_package(monkeypatch):
    sandbox.available.cache_clear()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    try:
        assert sandbox.available() == (False, "bwrap not found (Debian: apt-get install bubblewrap)")
    finally:
        sandbox.available.cache_clear()


def test_grading_says_which_isolation_it_uses_and_refuses_a_sandbox_it_cannot_make(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sandbox, "available", lambda: (False, "bwrap not found (Debian: apt-get install bubblewrap)"))
    assert grading._use_sandbox(None) is False
    assert capsys.readouterr().out == ("sandbox: none, bwrap not found (Debian: apt-get install bubblewrap); "
                                       "each kernel runs as your user, isolated by process only\n")
    with pytest.raises(grading.GradingError, match="no sandbox can be made here: bwrap not found"):
        grading._use_sandbox(True)
    assert grading._use_sandbox(False) is False
    assert "sandbox: off (--no-sandbox)" in capsys.readouterr().out


def test_the_sandbox_hides_the_repository_the_course_the_submissions_and_every_temporary_folder(tmp_path):
    course, submissions = tmp_path / "course", Path("/srv/class/submissions")
    places = sandbox.hidden_places(course, [str(submissions)])

    def hidden(path):  # listed itself, or inside a listed place (a checkout cloned under /tmp is hidden with it)
        return any(place == path.resolve() or place in path.resolve().parents for place in places)

    assert Path("/tmp") in places and hidden(REPO_ROOT) and hidden(submissions) and hidden(course)
    assert course not in places or not course.is_relative_to(Path("/tmp"))  # inside /tmp: hidden with it
    argv = sandbox.kernel_command(["python", "-m", "kernel"], course, [str(submissions)], [tmp_path / "work"])
    assert argv[-3:] == ["python", "-m", "kernel"] and "--unshare-net" in argv and "--unshare-pid" in argv
    shown = [argv[i + 1] for i, a in enumerate(argv) if a == "--ro-bind"]
    assert str(REPO_ROOT / "helpers") in shown and str(REPO_ROOT / "solutions") not in shown
    assert argv.index("--tmpfs") < argv.index(str(REPO_ROOT / "helpers"))  # hidden first, then shown again
    assert ["--bind", str((tmp_path / "work").resolve()), str((tmp_path / "work").resolve())] == \
        argv[argv.index("--bind"):argv.index("--bind") + 3]


def test_every_place_a_kernel_could_write_is_read_only_or_has_a_size(tmp_path):
    course, out = tmp_path / "course", Path("/srv/class/grades")
    argv = sandbox.kernel_command(["python", "-m", "kernel"], course, [str(out)], [tmp_path / "work"],
                                  shared_memory_mb=7)
    read_only = [argv[i + 1] for i, a in enumerate(argv) if a == "--remount-ro"]
    for place in sandbox.hidden_places(course, [str(out)]):  # the empty folders over hidden places
        assert str(place) in read_only, place
        assert argv.index(str(place)) < argv.index("--remount-ro")  # made read-only after every mount inside
    assert "/dev" in read_only and str(out) in read_only
    shm = argv.index("/dev/shm")
    assert argv[shm - 3:shm - 1] == ["--size", str(7 * 2**20)] or "/dev/shm" in read_only
    assert Path("/") not in sandbox.hidden_places(course, ["/"])  # an output folder at the root hides nothing
