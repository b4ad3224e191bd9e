"""The course's functions that answer an exercise: which session teaches each, and the lock that keeps
each out of its own exercise's grading.

Some of the course's functions are answers: ``metrics.frechet_distance`` is session 4's
``frechet_distance``. Later sessions use them, as d2l's package does, and their docstrings say which
session teaches them. Each is marked ``@answers(session, exercise)``.

While that exercise is being checked (inside ``checking(session, exercise)``: the visible checks,
the hidden tests and the judge all check this way), the answer's code is swapped for a stub that
refuses to run, and put back afterwards. The lock is on the code, not on a name: whoever calls it,
by whatever route (the function itself, a course class or function that calls it, a copy of the
module under another name, the function behind a wrapper), reaches the stub and fails that
exercise's checks with ``OwnCodeRequired``, which costs that exercise's points and no others.
Outside a check, and for every other exercise, the answer works as usual.

A class that answers is locked through its own ``__init__``, so building it or a subclass of it
fails too. The judge gives a step right answers to the earlier exercises it calls: those come from
``course_answer``, copies made when the course was imported, which no lock touches.
"""

import contextlib
import types

ANSWERS = {}  # (session, exercise) -> the course's function or class that answers it
_COPIES = {}  # (session, exercise) -> the function's unlocked copy (``course_answer``); a class is its own


class OwnCodeRequired(AssertionError):
    """A course function was asked to answer its own exercise while that exercise was checked."""


def answers(session, exercise):
    """Mark a course function (or class) as the answer to ``exercise`` of ``session`` (``"04_evaluate"``).

    The function is returned unchanged: marks only register it. A class must define its own
    ``__init__`` (the lock goes there). Marks stack: a function may answer two exercises.
    """
    def mark(thing):
        if isinstance(thing, type) and "__init__" not in vars(thing):
            raise TypeError(f"{thing.__qualname__} answers {exercise} but defines no __init__ of its own to lock")
        ANSWERS[(session, exercise)] = thing
        _COPIES[(session, exercise)] = thing if isinstance(thing, type) else _copy(thing)
        return thing
    return mark


def _copy(function):
    """A new function object with ``function``'s code, globals, defaults and closure (not locked with it)."""
    copy = types.FunctionType(function.__code__, function.__globals__, function.__name__, function.__defaults__,
                              function.__closure__)
    copy.__kwdefaults__, copy.__qualname__, copy.__doc__ = function.__kwdefaults__, function.__qualname__, \
        function.__doc__
    copy.__module__ = function.__module__
    return copy


def _locked_function(thing):
    """The function whose code the lock swaps: the answer itself, or a class's own ``__init__``."""
    return vars(thing)["__init__"] if isinstance(thing, type) else thing


def _refusing_code(code, message):
    """Code that raises ``OwnCodeRequired(message)`` at once, with as many free variables as ``code``
    (a function's code may only be swapped for code that fits its closure)."""
    free = [f"_v{i}" for i in range(len(code.co_freevars))]
    source = "def _outer():\n" + "".join(f"    {name} = None\n" for name in free)
    source += "    def refuse(*args, **kwargs):\n"
    source += f"        ({', '.join(free)},)\n" if free else ""
    source += "        raise 'REFUSAL'\n    return refuse\n"
    namespace = {}
    exec(compile(source, f"<locked: {code.co_name}>", "exec"), namespace)
    stub = namespace["_outer"]().__code__
    refusal = OwnCodeRequired(message)  # raised as a constant: the stub runs in the answer's module, not here
    return stub.replace(co_consts=tuple(refusal if c == "REFUSAL" else c for c in stub.co_consts))


@contextlib.contextmanager
def checking(session, exercise):
    """While inside, the course's answer to ``exercise`` of ``session`` refuses to run, whoever calls it.

    Only that exercise's: a step that calls the course's ``sample_noise`` is still checked as a step,
    and the noise costs ``sample_noise``'s points, in its own check."""
    thing = ANSWERS.get((session, exercise))
    if thing is None:
        yield
        return
    function = _locked_function(thing)
    kept = function.__code__
    function.__code__ = _refusing_code(kept, f"Write {exercise} yourself: while it is checked, it may not use the course's "
                                    f"{thing.__module__}.{thing.__qualname__}, which is the answer to it (it works "
                                    f"again in later sessions)")
    try:
        yield
    finally:
        function.__code__ = kept


def course_answer(name, session=None):
    """The course's own function for exercise ``name``, without its lock: what the judge gives a
    student's step in place of an earlier exercise, so that one mistake costs one exercise's points."""
    for (answer_session, exercise), thing in _COPIES.items():
        if exercise == name and session in (None, answer_session):
            return thing
    raise KeyError(f"no course function answers the exercise {name!r}")
