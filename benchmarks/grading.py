"""What autograding costs: every session's notebook, handed in correct, graded by the real grade command.

For each notebook, a batch of ``--students`` copies of the solution (whole,
as a student hands it in) goes through ``python -m gan_grader grade``.
The script prints, per notebook:

- the seconds each student's autograde took (the CSV's ``seconds`` column:
  a fresh folder, the grading kernel's start, every cell, the scores);
- the batch's fixed cost (the command's wall time minus those seconds:
  ``generate_assignment``, ``generate_feedback``, ``export``, Python start);
- seconds per notebook for one student (fixed cost + one student), against the
  goal of 15 s on an idle 2-core CPU.

Every graded row must have full marks, or the script exits 1: a fast grader
that marks correct work down measures nothing.

Usage::

    python benchmarks/grading.py                       # every notebook, 2 students each
    python benchmarks/grading.py --notebook 01_data --students 1 --json out.json

Reads data from ``$GAN_COURSE_DATA`` (or ``data/``), like the notebooks.
"""

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers import flags

REPO_ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 15


def grade_copies(name, students, folder):
    """Grade ``students`` copies of ``name``'s solution; return (rows, the command's wall seconds)."""
    source = (REPO_ROOT / "solutions" / f"{name}.ipynb").read_text()
    for i in range(students):
        path = folder / "submissions" / f"student{i + 1}" / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    out = folder / "grades.csv"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gan_grader", "grade", str(folder / "submissions"),
                           "--out", str(out), "--notebook", name], cwd=REPO_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"grading {name} failed:\n{done.stdout}{done.stderr}")
    with open(out) as handle:
        return list(csv.DictReader(handle)), wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", action="append", help="grade only this notebook (repeatable)")
    parser.add_argument("--students", type=flags.positive_int, default=2,
                        help="copies of each solution in a batch (default 2)")
    parser.add_argument("--json", default=None, help="also write the unrounded numbers to this JSON file")
    args = parser.parse_args(argv)
    names = args.notebook or sorted(p.stem for p in (REPO_ROOT / "solutions").glob("*.ipynb"))

    results = {}
    print(f"{'notebook':<16} {'per student':>12} {'fixed':>8} {'one student':>12}  (seconds; goal {GOAL_SECONDS} s)")
    for name in names:
        with tempfile.TemporaryDirectory(prefix="grading-bench-") as folder:
            rows, wall = grade_copies(name, args.students, Path(folder))
        wrong = [r for r in rows if r["status"] != "graded" or float(r["score"]) != float(r["max_score"])]
        if wrong:
            sys.exit(f"{name}: a correct submission was not given full marks: {wrong}")
        each = [float(r["seconds"]) for r in rows]
        per_student = sum(each) / len(each)
        fixed = max(wall - sum(each), 0.0)
        results[name] = {"per_student_s": per_student, "fixed_s": fixed, "one_student_s": fixed + per_student,
                         "wall_s": wall, "students": len(each)}
        print(f"{name:<16} {per_student:>12.1f} {fixed:>8.1f} {fixed + per_student:>12.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
