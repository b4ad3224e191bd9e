"""What the grade command, and every run, used to pay before any student code ran: each old way against the new.

- A new gradebook's schema version: nbgrader's own ``get_alembic_version`` (it starts an ``alembic heads``
  process) against ``gan_grader.grading.alembic_head`` (read in this process).
- ``import nbformat`` in a new Python: as installed (jsonschema compiles the ``rfc3987_syntax`` IRI grammar)
  against with that package marked absent, as ``gan_grader/__init__.py`` does.
- A run's ``samples.gif`` of 10 grids: matplotlib's animation writer (``Snapshots.animation().save``) against
  ``Snapshots.save_gif`` (Pillow).

Each is timed ``--runs`` times, in turns; the medians and their ratio are printed.

    python benchmarks/grade_startup.py            # the table in benchmarks/README.md
    python benchmarks/grade_startup.py --runs 1   # a smoke run (the test)
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from matplotlib import animation

from gan_grader import grading
from helpers import flags
from helpers.snapshots import Snapshots


def seconds(work):
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def import_nbformat(skip_iri_grammar):
    prefix = "import sys; sys.modules['rfc3987_syntax'] = None; " if skip_iri_grammar else ""
    subprocess.run([sys.executable, "-c", prefix + "import nbformat"], check=True)


def ten_grids():
    """Snapshots of a small G, 10 grids of 64 digits."""
    G = torch.nn.Sequential(torch.nn.Linear(8, 784), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 28, 28)))
    snapshots = Snapshots(torch.randn(64, 8), nrow=8)
    for epoch in range(10):
        snapshots.take(G, epoch)
    return snapshots


def pairs(folder):
    """``(what, old way, new way)``: each a function of no arguments."""
    from nbgrader.api import get_alembic_version

    grids = ten_grids()
    return [
        ("a new gradebook's schema version", get_alembic_version, grading.alembic_head),
        ("import nbformat (a new Python)", lambda: import_nbformat(False), lambda: import_nbformat(True)),
        ("samples.gif of 10 grids",
         lambda: grids.animation().save(str(folder / "old.gif"), writer=animation.PillowWriter(fps=2)),
         lambda: grids.save_gif(folder / "new.gif")),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=flags.positive_int, default=3, help="timings of each way (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        rows = []
        for what, old, new in pairs(Path(folder)):
            times = {"old": [], "new": []}
            for _ in range(args.runs):  # in turns, so that a busy moment falls on both
                times["old"].append(seconds(old))
                times["new"].append(seconds(new))
            rows.append((what, statistics.median(times["old"]), statistics.median(times["new"])))
    print(f"{'what':34} {'old (s)':>8} {'new (s)':>8} {'new/old':>8}   (medians of {args.runs})")
    for what, old, new in rows:
        print(f"{what:34} {old:8.3f} {new:8.3f} {new / old:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
