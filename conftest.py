"""Shared test set-up: fast mode, an offline data root, and the ``gpu`` marker.

Under ``pytest`` every notebook is a smoke run (``GAN_COURSE_FAST=1``) unless
the caller set ``GAN_COURSE_FAST`` already (the GPU job sets it to 0).

If ``GAN_COURSE_DATA`` is not set and the course's shared offline data sits
beside the repository (``../shared/data``), a complete root is built
from it once per session (see ``tests/offline_data.py``). Otherwise the normal
default (``data/``, downloading what is missing) applies.
"""

import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))

from offline_data import build_offline_root  # noqa: E402

os.environ.setdefault("GAN_COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def _share_the_cores():
    """Under pytest-xdist, give each worker its share of the cores, for torch here and in every child.

    Torch slows down badly when its threads outnumber the cores (two workers
    with 2 threads each on 2 cores ran matrix products at 0.06x-0.3x speed).
    OMP_NUM_THREADS reaches the notebook kernels, nbgrader and the command
    lines the tests start.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        os.environ["MKL_NUM_THREADS"] = str(threads)
        import torch

        torch.set_num_threads(threads)


_share_the_cores()

_SHARED_DATA = Path(os.environ.get("GAN_COURSE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
if not os.environ.get("GAN_COURSE_DATA") and (_SHARED_DATA / "MNIST" / "raw").is_dir():
    _root = Path(tempfile.mkdtemp(prefix="gan-course-data-"))
    os.environ["GAN_COURSE_DATA"] = str(build_offline_root(_SHARED_DATA, _root))


# The longest files first: pytest-xdist hands each worker its next file as it finishes one, so a long file
# started last would leave the other worker idle at the end (the longest-first rule). Seconds on a 2-core CPU:
# test_grading 135, test_exercise_agreement 140 (in all), test_browser 160, test_benchmark 130, the rest less.
LONGEST_FIRST = ("test_browser.py", "test_exercise_agreement.py", "test_grading.py", "test_benchmark.py",
                 "test_grading_isolation.py", "test_grading_mutants.py", "test_grading_shards.py")


def pytest_collection_modifyitems(config, items):
    """Run the longest test files first; skip tests marked ``gpu`` when CUDA is not available."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def real_test_split():
    """Paths of the real MNIST test files inside the session's data root."""
    raw = Path(os.environ["GAN_COURSE_DATA"]) / "MNIST" / "raw"
    paths = [raw / "t10k-images-idx3-ubyte.gz", raw / "t10k-labels-idx1-ubyte.gz"]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"real MNIST test split not found in {raw}")
    return paths
