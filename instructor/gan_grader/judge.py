"""The judge: every graded exercise marked a second time, outside the student's kernel.

nbgrader scores a test cell by whether it raised in the kernel, and the kernel
runs the student's code: whatever the student's code changed there (a patched
``torch.allclose``, a rigged grading kernel) could make a wrong answer pass.
So the grade command asks each exercise again, and marks the answers itself:

1. **In the kernel** (``ask``), right after a test cell passed, the judge calls
   the student's function on inputs drawn from a seed that is new for every
   submission, and saves what came back (tensors, numbers, strings) as
   ``<folder>/<grade_id>.pt``. Nothing computed there is trusted. Earlier
   exercises the answer calls (a step calls the student's loss) are
   replaced by right answers meanwhile, so a mistake costs only its own
   exercise's points.
2. **In the grade command** (``mark``), where no student code runs, the
   judge reads that file as plain data (``torch.load(weights_only=True)``),
   draws the same inputs, works out the right answer with the course's own
   code, and compares. A cell that passed in the kernel but fails here
   scores 0, and the CSV's ``detail`` says why.

What each exercise is asked, and how it is marked, is in ``exercises.py``.
A submission can only pass by sending back the numbers the exercise asks
for, for inputs it could not know in advance; rigging its own kernel no
longer changes its score.
"""

import contextlib
import io
import os
from pathlib import Path

import torch

from .exercises import EXERCISES, RIGHT_ANSWERS, Unjudged

MAX_REPLY_BYTES = 64 * 2**20  # the largest reply: session 3's G, about 10 MB


def ask(grade_id, namespace, seed, folder):
    """In the kernel: ask exercise ``grade_id`` of the ``namespace``'s answer; save the reply in ``folder``.

    A failure (the name is missing, the answer raises) is saved as the
    reply ``{"error": ...}``. Torch's global random state is left as it was,
    and nothing is printed.
    """
    exercise = EXERCISES.get(grade_id)
    if exercise is None:
        return
    try:
        if exercise.name not in namespace:
            raise NameError(f"{exercise.name} is not defined")
        with _quiet(), torch.random.fork_rng(devices=[]), _right_answers(namespace, exercise.given):
            reply = plain(exercise.ask(namespace[exercise.name], seed))
    except Exception as error:  # noqa: BLE001 - the failure is the reply
        reply = {"error": f"{type(error).__name__}: {error}"[:500]}
    path = Path(folder) / f"{grade_id}.pt"
    partial = path.with_name(f".{path.name}.part")
    torch.save(reply, partial)
    os.replace(partial, path)


@contextlib.contextmanager
def _right_answers(namespace, names):
    """Bind ``names`` in ``namespace`` to right answers while the judge asks, then put back what was there."""
    saved = {name: namespace[name] for name in names if name in namespace}
    namespace.update({name: RIGHT_ANSWERS[name] for name in names})
    try:
        yield
    finally:
        for name in names:
            namespace.pop(name, None)
        namespace.update(saved)


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


@contextlib.contextmanager
def _quiet():
    """No output and no warnings while the judge asks: they would land in a graded cell's output."""
    import warnings

    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def read_replies(folder):
    """In the grade command: ``{grade_id: bytes}`` of the replies in ``folder`` (oversized ones left out)."""
    replies = {}
    for path in sorted(Path(folder).glob("*.pt")) if Path(folder).is_dir() else []:
        if path.stem in EXERCISES and path.is_file() and path.stat().st_size <= MAX_REPLY_BYTES:
            replies[path.stem] = path.read_bytes()
    return replies


def mark(grade_id, reply_bytes, seed):
    """In the grade command: None when the reply to ``grade_id`` is right, else a sentence saying what is wrong.

    Raises ``Unjudged`` when the judge cannot mark it here.
    """
    exercise = EXERCISES[grade_id]
    if reply_bytes is None:
        return "no answer reached the judge"
    try:
        reply = torch.load(io.BytesIO(reply_bytes), weights_only=True)
    except Exception as error:  # noqa: BLE001 - a reply that is not plain data
        return f"the answer could not be read as data ({type(error).__name__})"
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


def overrule(scores, replies, seed, judged, for_student=None):
    """Set to 0 each score in ``scores`` ({grade_id: points}) among ``judged`` that the judge marks wrong.

    Only cells that scored in the kernel are marked. Returns the sentences
    for the instructor: one per cell set to 0, or left as it was because
    the judge could not mark it here. ``for_student``: a dict that gets, for
    each cell set to 0, the sentence its feedback shows (grade_id -> words).
    """
    notes = []
    for grade_id in judged:
        if not scores.get(grade_id):
            continue
        try:
            why = mark(grade_id, replies.get(grade_id), seed)
        except Unjudged as error:
            notes.append(f"{grade_id} not checked outside the kernel: {error}")
            continue
        if why is not None:
            scores[grade_id] = 0.0
            notes.append(f"{grade_id} passed in the notebook but failed the check outside it, 0 points: {why}")
            if for_student is not None:
                for_student[grade_id] = (f"0 points: this cell passed in your notebook, but the grader asked your "
                                         f"code the same exercise again on new inputs, and its answer was wrong: "
                                         f"{why}")
    return notes
