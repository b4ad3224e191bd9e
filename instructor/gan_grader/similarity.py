"""Copied work: which students' answers share more code than independent work does.

``python -m gan_grader similarity SUBMISSIONS --out DIR`` takes, for each
notebook, every student's answer cells (the cells nbgrader marks as
solutions; links and files that are not notebooks are left out, as the grade
command leaves them out) and compares them pairwise with copydetect, which
fingerprints code MOSS's way (winnowing over k-grams of tokens; names,
strings and comments are normalised away, so renaming variables or
rewording comments does not hide a copy). The released notebook's own answer
cells (the stubs: signatures, docstrings, ``raise NotImplementedError()``)
are given to copydetect as boilerplate, so the template never counts.

It writes ``DIR/similar.csv`` (``notebook,student_a,student_b,a_in_b,b_in_a``:
the share of each one's fingerprints found in the other) with the pairs at or
above ``--threshold``, most similar first, and copydetect's HTML report per
notebook (``DIR/<notebook>.html``), which shows each flagged pair's shared
code side by side. It flags; it never changes a score. The threshold's default
was chosen from a measurement on a synthetic class (``benchmarks/similarity.py``,
numbers in ``benchmarks/README.md``).
"""

import contextlib
import io
import tempfile
from pathlib import Path

import nbformat

from helpers.checkpoints import write_atomically

from . import grading, shards
from .release import NOTEBOOKS_DIR, SOLUTIONS_DIR

THRESHOLD = 0.9  # the share of one answer's fingerprints found in the other: chosen in benchmarks/similarity.py
TOKENS = 10  # k-gram length (copydetect's noise threshold); an answer is a few lines (8 to 20 measured the same)
PAIR_FIELDS = ("notebook", "student_a", "student_b", "a_in_b", "b_in_a")


class SimilarityError(ValueError):
    """The comparison cannot run as asked; the message says why."""


def answer_code(notebook_text):
    """The code of a notebook's answer cells (nbgrader's solution cells), one after another."""
    cells = nbformat.reads(notebook_text, as_version=4).cells
    return "\n\n".join("".join(c.source) for c in cells if c.cell_type == "code"
                       and c.get("metadata", {}).get("nbgrader", {}).get("solution"))


def compare(codes, boilerplate="", threshold=THRESHOLD, tokens=TOKENS, report=None):
    """Pairs of ``codes`` ({name: source}) sharing at least ``threshold`` of either one's fingerprints.

    ``boilerplate``: code whose fingerprints never count. ``report``: a path for copydetect's HTML report
    (None: none). Returns ``[(a, b, share of a found in b, share of b found in a)]``, most similar first.
    """
    from copydetect import CopyDetector

    names = sorted(codes)
    with tempfile.TemporaryDirectory(prefix="gan-similarity-") as folder:
        folder = Path(folder)
        files = {}
        for k, name in enumerate(names):  # numbered files: any folder name is safe
            files[name] = folder / f"{k:04d}.py"
            files[name].write_text(codes[name] + "\n")
        (folder / "boilerplate").mkdir()
        (folder / "boilerplate" / "template.py").write_text(boilerplate + "\n")
        detector = CopyDetector(noise_t=tokens, guarantee_t=tokens, display_t=threshold, extensions=["py"],
                                autoopen=False, silent=True, out_file=str(report or folder / "report.html"))
        for name in names:
            detector.add_file(str(files[name]))
        detector.add_file(str(folder / "boilerplate" / "template.py"), type="boilerplate")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            detector.run()
            if report is not None:
                detector.generate_html_report()
        pairs = {}
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                if i < j:
                    a_in_b = float(detector.similarity_matrix[i, j, 0])
                    b_in_a = float(detector.similarity_matrix[i, j, 1])
                    if max(a_in_b, b_in_a) >= threshold:
                        pairs[(a, b)] = (a_in_b, b_in_a)
    return sorted(((a, b, *shares) for (a, b), shares in pairs.items()), key=lambda p: -max(p[2], p[3]))


def check_class(submissions, out_dir, threshold=THRESHOLD, notebooks=None, solutions=None):
    """Compare every notebook of ``submissions`` across the class; write ``similar.csv`` and a report per
    notebook into ``out_dir``. Returns the flagged pairs as dicts (PAIR_FIELDS)."""
    submissions, out_dir = Path(submissions), Path(out_dir)
    solutions = Path(solutions) if solutions else SOLUTIONS_DIR
    if not submissions.is_dir():
        raise SimilarityError(f"{submissions} is not a folder of submissions "
                              f"(expected SUBMISSIONS/<student>/NN_name.ipynb)")
    if not 0 < threshold <= 1:
        raise SimilarityError(f"--threshold must be a share above 0 and at most 1, got {threshold}")
    if (out_dir / "similar.csv").exists():
        raise SimilarityError(f"{out_dir} already holds similar.csv; choose another --out (nothing was overwritten)")
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir())
    names = notebooks or sorted(p.stem for p in solutions.glob("*.ipynb"))
    rows, reports = [], {}
    for name in names:
        source = (solutions / f"{name}.ipynb").read_text()
        codes = {}
        for student in students:
            text, status, _ = grading.prepare_submission(submissions / student, name, source)
            if status == "graded":
                codes[student] = answer_code(text)
        if len(codes) < 2:
            continue
        template = answer_code((NOTEBOOKS_DIR / f"{name}.ipynb").read_text())
        with tempfile.TemporaryDirectory() as scratch:
            report = Path(scratch) / f"{name}.html"
            pairs = compare(codes, template, threshold, report=report)
            if pairs:
                reports[name] = report.read_bytes()
        rows += [dict(notebook=name, student_a=a, student_b=b, a_in_b=f"{x:.2f}", b_in_a=f"{y:.2f}")
                 for a, b, x, y in pairs]
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, page in reports.items():
        write_atomically(out_dir / f"{name}.html", page)
    write_atomically(out_dir / "similar.csv", shards.csv_text(PAIR_FIELDS, rows).encode())
    return rows
