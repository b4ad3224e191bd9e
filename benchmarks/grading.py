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

With ``--jobs 1 2`` the same batch is graded once per value of ``--jobs``
(submissions graded at once, each in its own process) and the script prints
submissions per minute for each, their ratio to the first, and what a class
of ``--class-size`` submissions (300 students x 6 notebooks by default) would
take on 1, 4 and 16 machines, each grading its shard with that ``--jobs``:
the batch's fixed cost plus its share of submissions at the measured rate.

Every graded row must have full marks, or the script exits 1: a fast grader
that marks correct work down measures nothing.

Usage::

    python benchmarks/grading.py                       # every notebook, 2 students each
    python benchmarks/grading.py --notebook 01_data --students 1 --json out.json
    python benchmarks/grading.py --notebook 02_mlp_gan --students 12 --jobs 1 2

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


MACHINES = (1, 4, 16)


def grade_copies(name, students, folder, jobs=1):
    """Grade ``students`` copies of ``name``'s solution, ``jobs`` at once; return (rows, the command's wall seconds)."""
    source = (REPO_ROOT / "solutions" / f"{name}.ipynb").read_text()
    for i in range(students):
        path = folder / "submissions" / f"student{i + 1}" / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    out = folder / f"grades-jobs{jobs}.csv"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gan_grader", "grade", str(folder / "submissions"),
                           "--out", str(out), "--notebook", name, "--jobs", str(jobs)],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"grading {name} failed:\n{done.stdout}{done.stderr}")
    with open(out) as handle:
        return list(csv.DictReader(handle)), wall


def measure(name, students, jobs):
    """Grade one batch with ``jobs``; the numbers of one row (exits 1 if a correct submission lost points)."""
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as folder:
        rows, wall = grade_copies(name, students, Path(folder), jobs)
    wrong = [r for r in rows if r["status"] != "graded" or float(r["score"]) != float(r["max_score"])]
    if wrong:
        sys.exit(f"{name}: a correct submission was not given full marks: {wrong}")
    each = [float(r["seconds"]) for r in rows]
    per_student = sum(each) / len(each)
    # with one job the students' seconds add up, and the rest of the wall time is the batch's fixed cost
    fixed = max(wall - sum(each), 0.0) if jobs == 1 else None
    return {"per_student_s": per_student, "fixed_s": fixed, "wall_s": wall, "students": len(each), "jobs": jobs,
            "per_minute": 60 * len(each) / wall}


def projection(row, fixed, class_size):
    """Hours for ``class_size`` submissions on each of ``MACHINES`` machines, each a shard graded like ``row``."""
    per_submission = max(row["wall_s"] - fixed, 0.0) / row["students"]
    return {machines: (fixed + -(-class_size // machines) * per_submission) / 3600 for machines in MACHINES}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", action="append", help="grade only this notebook (repeatable)")
    parser.add_argument("--students", type=flags.positive_int, default=2,
                        help="copies of each solution in a batch (default 2)")
    parser.add_argument("--jobs", type=flags.positive_int, nargs="+", default=[1],
                        help="grade each batch once with each of these --jobs, 1 among them (default 1)")
    parser.add_argument("--class-size", type=flags.positive_int, default=1800,
                        help="submissions in the class the projection is for (default 1800: 300 students x 6)")
    parser.add_argument("--json", default=None, help="also write the unrounded numbers to this JSON file")
    args = parser.parse_args(argv)
    if 1 not in args.jobs:
        parser.error(f"argument --jobs: expected the values to include 1 (the batch's fixed cost is measured "
                     f"with one job), got {' '.join(map(str, args.jobs))}")
    names = args.notebook or sorted(p.stem for p in (REPO_ROOT / "solutions").glob("*.ipynb"))

    results = {}
    print(f"{'notebook':<16} {'jobs':>4} {'per student':>12} {'fixed':>8} {'one student':>12} {'per minute':>11}"
          f"  (seconds; goal {GOAL_SECONDS} s for one student)")
    for name in names:
        rows = [measure(name, args.students, jobs) for jobs in args.jobs]
        fixed = next(row["fixed_s"] for row in rows if row["jobs"] == 1)
        for row in rows:
            ratio = f"  {row['per_minute'] / rows[0]['per_minute']:.2f}x jobs {rows[0]['jobs']}" if row is not rows[0] else ""
            one = f"{fixed + row['per_student_s']:>12.1f}" if row["jobs"] == 1 else f"{'':>12}"
            print(f"{name:<16} {row['jobs']:>4} {row['per_student_s']:>12.1f} {fixed:>8.1f} {one} "
                  f"{row['per_minute']:>11.1f}{ratio}")
            row["projected_h"] = projection(row, fixed, args.class_size)
            row["one_student_s"] = fixed + row["per_student_s"]
        results[name] = rows[0] if len(rows) == 1 else {f"jobs{row['jobs']}": row for row in rows}
        for row in rows:
            hours = ", ".join(f"{m} machine{'s' if m > 1 else ''} {h:.2f} h" for m, h in row["projected_h"].items())
            print(f"  {args.class_size:,} submissions like these, --jobs {row['jobs']} per machine: {hours}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
