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

What each exercise is asked, and how it is marked, is its specification in
``exercises/`` (one module per session), the same one its hidden test runs
in the kernel (``exercises.verify``). A submission can only pass by sending back the numbers the exercise asks
for, for inputs it could not know in advance; rigging its own kernel no
longer changes its score.
"""

import io
import os
from pathlib import Path

import torch

from . import exercises
from .exercises import EXERCISES

MAX_REPLY_BYTES = 64 * 2**20  # the largest reply: session 3's G, about 10 MB


def ask(grade_id, namespace, seed, folder):
    """In the kernel: ask exercise ``grade_id`` of the ``namespace``'s answer (``exercises.ask``) and save
    the reply in ``folder`` as ``<grade_id>.pt``. A grade id the course does not know is left alone."""
    if grade_id not in EXERCISES:
        return
    reply = exercises.ask(grade_id, namespace, seed)
    path = Path(folder) / f"{grade_id}.pt"
    partial = path.with_name(f".{path.name}.part")
    torch.save(reply, partial)
    os.replace(partial, path)


def read_replies(folder):
    """In the grade command: ``{grade_id: bytes}`` of the replies in ``folder`` (oversized ones left out)."""
    replies = {}
    for path in sorted(Path(folder).glob("*.pt")) if Path(folder).is_dir() else []:
        if path.stem in EXERCISES and path.is_file() and path.stat().st_size <= MAX_REPLY_BYTES:
            replies[path.stem] = path.read_bytes()
    return replies


def mark(grade_id, reply_bytes, seed):
    """In the grade command: None when the saved reply to ``grade_id`` is right, else a sentence saying
    what is wrong (``exercises.judgment``). Raises ``Unjudged`` when the judge cannot mark it here."""
    if reply_bytes is None:
        return "no answer reached the judge"
    try:
        reply = torch.load(io.BytesIO(reply_bytes), weights_only=True)
    except Exception as error:  # noqa: BLE001 - a reply that is not plain data
        return f"the answer could not be read as data ({type(error).__name__})"
    return exercises.judgment(grade_id, reply, seed)


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
        except exercises.Unjudged as error:
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
