"""Each graded exercise's one specification, used by its hidden test and by the judge alike.

Where to find what is checked for an exercise, say ``pack`` of session 4: its specification is
``ask_pack`` and ``mark_pack`` in ``exercises/evaluate.py`` (one module per session, named as its
visible checks are in ``helpers/checks/``); its visible check, for the student, is ``check_pack``
in ``helpers/checks/evaluate.py``.

For each test cell, by ``grade_id``, an ``Exercise`` holds:

- ``name``: the function or class the student wrote;
- ``ask(answer, seed)``: runs **in the student's kernel**. It calls the student's ``answer`` on
  inputs drawn from ``seed`` and returns what came back (``plain``: tensors, numbers, strings, lists
  and dicts of them). Nothing it computes is trusted. Shapes are given in each ``ask``.
- ``mark(reply, seed)``: draws the same inputs from ``seed``, works out what a right answer gives
  with the course's own code (``helpers.models``, ``helpers.metrics``...), and raises ``Wrong`` with
  a sentence when the reply differs.

The same pair grades twice:

1. **The hidden test** in the solution notebook is ``verify(grade_id, globals())``: ask and mark, in
   the kernel, on inputs from a fixed seed. nbgrader scores the cell.
2. **The judge** (``judge.py``) asks again in the kernel, with a seed that is new for every
   submission, and marks the saved reply in the grade command, where no student code runs. A
   submission that rigged its kernel to pass the hidden test still has to send back the numbers
   the exercise asks for, for inputs it could not know in advance.

So the hidden test and the judge cannot disagree about what is right. While an answer is asked,
the course's own answer to that exercise refuses it (``helpers.taught``), so an answer that is,
calls or wraps the course's fails both, and costs that exercise's points only.
"""

import contextlib
import dataclasses
import os
import zlib

import torch

from helpers import taught

from . import conditional, data, dcgan, evaluate, mlp_gan, stable
from .marking import Exercise, Unjudged, Wrong

__all__ = ["EXERCISES", "RIGHT_ANSWERS", "Exercise", "Unjudged", "Wrong", "ask", "judgment", "plain", "verify"]

SESSIONS = (data, mlp_gan, dcgan, evaluate, conditional, stable)
EXERCISES = {grade_id: dataclasses.replace(exercise, session=module.SESSION)
             for module in SESSIONS for grade_id, exercise in module.EXERCISES.items()}
# What an answer is given for the earlier exercises it calls: the course's own, without their lock.
RIGHT_ANSWERS = {name: taught.course_answer(name)
                 for name in sorted({name for exercise in EXERCISES.values() for name in exercise.given})}


def ask(grade_id, namespace, seed):
    """In the kernel: exercise ``grade_id`` asked of ``namespace``'s answer; its reply as plain data.

    Meanwhile the earlier exercises it calls are right answers, the course's own answer to this
    exercise refuses it, torch's random state is kept, and nothing is printed. A failure
    (the name is missing, the answer raises) is the reply ``{"error": "Type: message"}``.
    """
    exercise = EXERCISES[grade_id]
    try:
        if exercise.name not in namespace:
            raise NameError(f"{exercise.name} is not defined")
        with _quiet(), torch.random.fork_rng(devices=[]), _right_answers(namespace, exercise.given), \
                taught.checking(exercise.session, exercise.name):
            return plain(exercise.ask(namespace[exercise.name], seed))
    except Exception as error:  # noqa: BLE001 - the failure is the reply
        return {"error": f"{type(error).__name__}: {error}"[:500]}


def judgment(grade_id, reply, seed):
    """None when ``reply`` (from ``ask``, as plain data) is right for ``grade_id``, else a sentence.

    Raises ``Unjudged`` when it cannot be marked here (the data it compares with is missing).
    """
    exercise = EXERCISES[grade_id]
    if not isinstance(reply, dict):
        return "the answer could not be read as data"
    if "error" in reply:
        return f"{exercise.name} failed on the judge's inputs: {reply['error']}"
    try:
        exercise.mark(reply, seed)
    except Unjudged:
        raise
    except AssertionError as wrong:
        return str(wrong)
    except Exception as error:  # noqa: BLE001 - a reply of the wrong kind
        return f"the answer is not what {exercise.name} should give ({type(error).__name__}: {error})"[:300]
    return None


def verify(grade_id, namespace, seed=None):
    """The hidden test: ``grade_id`` asked of ``namespace``'s answer and marked, here in the kernel.

    ``seed``: the inputs' seed, by default one fixed per exercise. Returns None when the answer is
    right, else the sentence saying what is wrong (the cell then asserts it).
    """
    seed = zlib.crc32(grade_id.encode()) % 100_000 if seed is None else seed
    return judgment(grade_id, ask(grade_id, namespace, seed), seed)


@contextlib.contextmanager
def _right_answers(namespace, names):
    """Bind ``names`` in ``namespace`` to right answers while an answer is asked, then put back what was there."""
    saved = {name: namespace[name] for name in names if name in namespace}
    namespace.update({name: RIGHT_ANSWERS[name] for name in names})
    try:
        yield
    finally:
        for name in names:
            namespace.pop(name, None)
        namespace.update(saved)


@contextlib.contextmanager
def _quiet():
    """No output and no warnings while an answer is asked: they would land in a graded cell's output."""
    import warnings

    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def plain(value):
    """``value`` as data ``torch.load(weights_only=True)`` reads back: tensors (detached, on the CPU),
    numbers, strings, None, and lists and dicts of them; anything else becomes its type's name."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone() if not value.is_meta else "a tensor on the meta device"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, torch.Size)):
        return [plain(v) for v in value]
    return f"a {type(value).__name__}"
