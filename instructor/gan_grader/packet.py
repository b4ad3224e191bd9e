"""A marking packet per written question: the whole class's answers to one question on one page.

``python -m gan_grader packet SUBMISSIONS --out DIR`` reads every student's
notebook the way the grade command does (``grading.prepare_submission``: a
link, a file that is not a notebook or a missing notebook has no answer to
mark) and writes, for each answer marked by hand in the sources (session 6
has two, ``manual.manual_cells``):

- ``DIR/<notebook>-<grade_id>.html``: the question and the course's model
  answer (the marking guide) at the top, then every student's answer under an
  anonymous label (``B-007``), in a shuffled order, so that a marker reads the
  class's answers to one question at a sitting without knowing whose they are;
- ``DIR/marks.csv``: one line per answer, ``answer,notebook,grade_id,points,student``,
  points left empty. Filled in, it is what ``marks`` takes
  (``python -m gan_grader marks grades.csv DIR/marks.csv --out final.csv``);
  the ``student`` column, last, maps the labels back.

Nothing is overwritten: a ``DIR`` that already holds a packet (or a filled-in
``marks.csv``) is refused.
"""

import html
import random
import secrets
from pathlib import Path

import nbformat

from helpers.checkpoints import write_atomically

from . import grading, manual, shards
from .release import SOLUTIONS_DIR

TEMPLATE_FIELDS = ("answer", "notebook", "grade_id", "points", "student")


class PacketError(ValueError):
    """The packet cannot be made as asked; the message says why."""


def make_packets(submissions, out_dir, solutions=None, seed=None):
    """Write a page per hand-marked question and ``marks.csv`` into ``out_dir``; return the paths written.

    ``seed``: the shuffle's seed (None: a fresh one, so no two packets share an order).
    """
    submissions, out_dir = Path(submissions), Path(out_dir)
    solutions = Path(solutions) if solutions else SOLUTIONS_DIR
    if not submissions.is_dir():
        raise PacketError(f"{submissions} is not a folder of submissions (expected SUBMISSIONS/<student>/NN_name.ipynb)")
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir())
    questions = [(path.stem, grade_id) for path in sorted(solutions.glob("*.ipynb"))
                 for grade_id in manual.manual_cells(path)]
    if not questions:
        raise PacketError(f"no notebook in {solutions} has an answer marked by hand")
    pages = {f"{name}-{grade_id}.html": (name, grade_id) for name, grade_id in questions}
    taken = [out_dir / f for f in (*pages, "marks.csv") if (out_dir / f).exists()]
    if taken:
        raise PacketError(f"{out_dir} already holds {', '.join(p.name for p in taken)}; choose another --out "
                          f"(nothing was overwritten)")
    shuffle = random.Random(secrets.randbits(32) if seed is None else seed)
    rendered, template = {}, []
    for letter, (page, (name, grade_id)) in zip(_letters(), pages.items()):
        source = nbformat.read(str(solutions / f"{name}.ipynb"), as_version=4)
        answers = _answers(submissions, students, name, grade_id, nbformat.writes(source))
        order = shuffle.sample(sorted(answers), len(answers))
        labels = {student: f"{letter}-{k:03d}" for k, student in enumerate(order, start=1)}
        rendered[page] = _page(source, name, grade_id, [(labels[s], answers[s]) for s in order])
        template += [dict(answer=labels[s], notebook=name, grade_id=grade_id, points="", student=s) for s in order]
    out_dir.mkdir(parents=True, exist_ok=True)
    for page, text in rendered.items():
        write_atomically(out_dir / page, text.encode())
    write_atomically(out_dir / "marks.csv", shards.csv_text(TEMPLATE_FIELDS, template).encode())
    return [out_dir / page for page in rendered] + [out_dir / "marks.csv"]


def _letters():
    """Question labels: A, B, ..., Z, then AA, AB, ..."""
    for k in range(1, 10_000):
        label = ""
        while k:
            k, rest = divmod(k - 1, 26)
            label = chr(65 + rest) + label
        yield label


def _answers(submissions, students, name, grade_id, source_text):
    """``{student: answer text}`` for the students whose ``name`` notebook the grade command would grade."""
    answers = {}
    for student in students:
        text, status, _ = grading.prepare_submission(submissions / student, name, source_text)
        if status != "graded":
            continue
        cell = next((c for c in nbformat.reads(text, as_version=4).cells
                     if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id), None)
        answers[student] = "" if cell is None else "".join(cell.source)
    return answers


def _page(source, name, grade_id, answers):
    """One question's page: the question (the cell above the answer), the model answer, then ``answers``
    (``[(label, text)]``) in the order given."""
    cells = source.cells
    at = next(k for k, c in enumerate(cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    question = "".join(cells[at - 1].source) if at > 0 else ""
    points = manual.manual_cells(source)[grade_id]
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(name)}: {html.escape(grade_id)}</title>",
             "<style>body{font-family:sans-serif;max-width:50em;margin:auto}pre{white-space:pre-wrap;"
             "background:#f6f6f6;padding:.6em}h2{border-top:1px solid #aaa;padding-top:.5em}</style>",
             f"<h1>{html.escape(name)}: {html.escape(grade_id)} ({points:g} points)</h1>",
             f"<h2>The question</h2><pre>{html.escape(question)}</pre>",
             f"<h2>The course's model answer (the marking guide)</h2><pre>{html.escape(''.join(cells[at].source))}</pre>",
             f"<p>{len(answers)} answers, each under a label; write each one's points in marks.csv on its "
             f"label's line.</p>"]
    for label, text in answers:
        shown = html.escape(text.strip()) or "<em>(left empty)</em>"
        parts.append(f"<h2 id='{label}'>{label}</h2><pre>{shown}</pre>")
    return "\n".join(parts) + "\n"
