"""A student's afternoon: every solution notebook, top to bottom, in one budget, timed and measured.

Runs each notebook in its own kernel, one after another (never two at once:
two torch processes on the same cores slow each other down many times over),
in the budget given (``GAN_COURSE_BUDGET``, read by each notebook's budget
cell; ``smoke`` also sets ``GAN_COURSE_FAST=1``, as CI and grading do). For each notebook it prints the wall time, the longest cell, and what
the course's metrics printed last: FD beside its floor, the classes covered,
precision and recall (and the conditional accuracy, for session 5).

Usage::

    python benchmarks/afternoon.py                          # every notebook, laptop budget
    python benchmarks/afternoon.py --notebooks 02_mlp_gan --budget full
    python benchmarks/afternoon.py --budget smoke --json out.json

Reads data from ``$GAN_COURSE_DATA`` (or ``data/``), like the notebooks; the
notebooks' files go to a temporary folder.
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from helpers import budgets, flags

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = tuple(budgets.PLANS)

SCORES = re.compile(r"FD (?P<fd>[\d.]+) \(floor (?P<floor>[\d.]+).*?(?P<ratio>[\d.]+)x the floor\)\n"
                    r"classes with >= 5% of [\d,]+ samples: (?P<covered>\d+)/10.*?\n"
                    r"precision (?P<precision>[\d.]+), recall (?P<recall>[\d.]+)")
ACCURACY = re.compile(r"conditional accuracy (?P<accuracy>[\d.]+)%")


def text_of(cell):
    """Everything a code cell printed, as one string."""
    return "".join(out.get("text", "") for out in cell.get("outputs", []) if out.get("output_type") == "stream")


def run_notebook(name, budget, out_dir, timeout):
    """Run ``solutions/<name>.ipynb`` in ``budget``; return a dict of its times and last printed scores."""
    notebook = nbformat.read(REPO_ROOT / "solutions" / f"{name}.ipynb", as_version=4)
    fast = "1" if budget == "smoke" else "0"  # smoke is fast mode: its rough classifier, as in CI and grading
    os.environ.update(GAN_COURSE_BUDGET=budget, GAN_COURSE_FAST=fast, GAN_COURSE_OUT=str(out_dir), MPLBACKEND="Agg")
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO_ROOT / "solutions")}})
    cell_seconds = []
    client.on_cell_executed = lambda cell, **_: cell_seconds.append(time.perf_counter())
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start
    steps = [b - a for a, b in zip([start] + cell_seconds, cell_seconds)]
    printed = "\n".join(text_of(cell) for cell in notebook.cells if cell.cell_type == "code")
    found = [m.groupdict() for m in SCORES.finditer(printed)]
    accuracy = ACCURACY.findall(printed)
    return {"notebook": name, "budget": budget, "seconds": round(wall), "longest_cell": round(max(steps, default=0)),
            "last_scores": {k: float(v) for k, v in found[-1].items()} if found else None,
            "conditional_accuracy": float(accuracy[-1]) if accuracy else None}


def table(rows):
    """The results as a markdown table."""
    lines = ["| notebook | budget | wall | longest cell | last FD | x floor | classes | precision | recall |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        s = row["last_scores"]
        numbers = ([f"{s['fd']:.1f}", f"{s['ratio']:.1f}", f"{int(s['covered'])}/10", f"{s['precision']:.2f}",
                    f"{s['recall']:.2f}"] if s else ["-"] * 5)
        lines.append(f"| {row['notebook']} | {row['budget']} | {budgets.minutes(row['seconds'])} | "
                     f"{budgets.minutes(row['longest_cell'])} | " + " | ".join(numbers) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", choices=budgets.BUDGETS, default="laptop", help="the budget (default: laptop)")
    parser.add_argument("--notebooks", nargs="+", choices=NOTEBOOKS, default=list(NOTEBOOKS),
                        help="which notebooks, in the order given (default: all, in order: session 4 "
                             "measures the checkpoints that sessions 2 and 3 leave)")
    parser.add_argument("--timeout", type=flags.whole(1), default=1800, help="seconds a cell may take (1800)")
    parser.add_argument("--json", type=flags.writable_file, default=None,
                        help="also write the rows to this JSON file (checked before any notebook runs)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="afternoon-") as out_dir:
        for name in args.notebooks:
            rows.append(run_notebook(name, args.budget, out_dir, args.timeout))
            print(f"{name}: {budgets.minutes(rows[-1]['seconds'])}", flush=True)
    print(table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
