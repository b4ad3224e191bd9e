"""The course's functions that answer an exercise: which session teaches each, and the lock that keeps
each out of its own exercise's grading.

Some of the course's functions are answers: ``metrics.frechet_distance`` is session 4's
``frechet_distance``. Later sessions use them, as d2l's package does, and their docstrings say which
session teaches them. Each is marked ``@answers(session, exercise)``.

While that exercise is being checked (inside ``checking(session, exercise)``: the visible checks,
the hidden tests and the judge all check this way), a marked function refuses to run unless the
course's own library code called it. So a student's answer that *is* the course's function, or
calls it, or wraps it, fails that exercise's checks with ``OwnCodeRequired``, and costs that
exercise's points and no others. Outside a check, and for every other session, it works as usual.

A submission that takes the trouble to undo the lock (through ``__wrapped__``, say) is not stopped
here: that is cheating on purpose, and a line of its code shows it.
"""

import contextlib
import functools
import sys

ANSWERS = {}  # (session, exercise) -> the course's function or class that answers it
_CHECKING = []  # the (session, exercise) pairs being checked right now, innermost last


class OwnCodeRequired(AssertionError):
    """A course function was asked to answer its own exercise while that exercise was checked."""


def answers(session, exercise):
    """Mark a course function (or class) as the answer to ``exercise`` of ``session`` (``"04_evaluate"``).

    Marks stack: a function that answers two exercises carries two. A function is wrapped, once; a
    class keeps its identity and has its ``__init__`` wrapped, so subclasses are covered too.
    """
    def mark(thing):
        target = thing.__init__ if isinstance(thing, type) else thing
        if not hasattr(target, "answers_to"):
            target = _guarded(target, f"{thing.__module__}.{thing.__qualname__}")
            if isinstance(thing, type):
                thing.__init__ = target
            else:
                thing = target
        target.answers_to[session] = target.answers_to.get(session, ()) + (exercise,)
        ANSWERS[(session, exercise)] = thing
        return thing
    return mark


def _guarded(function, course_name):
    """``function``, refusing callers other than the course's own code while its session is checked."""
    @functools.wraps(function)
    def guarded(*args, **kwargs):
        exercises = [name for session, name in _CHECKING if name in guarded.answers_to.get(session, ())]
        if exercises and not _called_by_the_course(sys._getframe(1)):
            raise OwnCodeRequired(
                f"Write {exercises[-1]} yourself: while it is checked, it may not use the course's "
                f"{course_name}, which is the answer to it (it works again in later sessions)")
        return function(*args, **kwargs)

    guarded.answers_to = {}
    return guarded


def _called_by_the_course(frame):
    """Whether ``frame`` runs the course's library code (``helpers``, but not the exercise checks)."""
    module = frame.f_globals.get("__name__", "")
    return (module == "helpers" or module.startswith("helpers.")) and not module.startswith("helpers.checks")


@contextlib.contextmanager
def checking(session, exercise):
    """While inside, the course's answer to ``exercise`` of ``session`` refuses callers other than the course.

    Only that exercise's: a step that calls the course's ``sample_noise`` is still checked as a step,
    and the noise costs ``sample_noise``'s points, in its own check."""
    _CHECKING.append((session, exercise))
    try:
        yield
    finally:
        _CHECKING.pop()


def course_answer(name, session=None):
    """The course's own function for exercise ``name``, without its lock: what the judge gives a
    student's step in place of an earlier exercise, so that one mistake costs one exercise's points."""
    for (answer_session, exercise), thing in ANSWERS.items():
        if exercise == name and session in (None, answer_session):
            return getattr(thing, "__wrapped__", thing)
    raise KeyError(f"no course function answers the exercise {name!r}")
