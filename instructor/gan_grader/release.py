"""Student notebooks, generated from the instructor sources.

``solutions/NN_name.ipynb`` is the only hand-edited copy. Its student twin
``notebooks/NN_name.ipynb`` is produced by running nbgrader's own
preprocessors over it, in the order ``nbgrader generate_assignment`` uses
(minus the steps that need a course directory or a gradebook):
solutions are replaced by ``# YOUR CODE HERE`` stubs, hidden tests removed,
outputs cleared, graded and read-only cells locked, checksums recorded.
The result is deterministic, so ``--check`` can compare it byte for byte.
"""

from pathlib import Path

import nbformat
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    LockCells,
)

from helpers.checkpoints import write_atomically
from helpers.runtime import REPO_ROOT

SOLUTIONS_DIR = REPO_ROOT / "solutions"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"

# ComputeChecksums runs before ClearHiddenTests (the gradebook's checksums) and
# again after it (the student copy's own), exactly as nbgrader does.
PREPROCESSORS = (
    LockCells, ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums,
    ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata,
)


def student_notebook(source_path):
    """Read an nbgrader source notebook and return the student version as text.

    The text is byte for byte what ``nbgrader generate_assignment`` writes.
    """
    try:
        nb = nbformat.read(str(source_path), as_version=nbformat.NO_CONVERT)
        resources = {}
        for preprocessor in PREPROCESSORS:
            nb, resources = preprocessor().preprocess(nb, resources)
    except Exception as error:  # noqa: BLE001 - not JSON, not a notebook, nbgrader's metadata broken
        raise ValueError(f"cannot make the student notebook of {source_path}: {type(error).__name__}: "
                         f"{str(error).strip().splitlines()[0][:160] if str(error).strip() else 'no detail'}"
                         f"{_metadata_hint(error)}") from None
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"  # as nbgrader's writer ends the file


def _metadata_hint(error):
    """A hint when nbgrader refused a cell's metadata (a graded cell stripped of it, or edited)."""
    return ("; a cell's nbgrader metadata is missing or wrong (Create Assignment in the notebook's toolbar "
            "shows every cell's)" if "metadata" in str(error).lower() or "grade_id" in str(error) else "")


def source_notebooks(solutions_dir=None):
    """The instructor notebooks, sorted by name; ``ValueError`` naming the folder when it holds none."""
    folder = Path(solutions_dir or SOLUTIONS_DIR)
    found = sorted(folder.glob("*.ipynb"))
    if not found:
        raise ValueError(f"--solutions {folder} is not a folder of source notebooks (expected the instructor's "
                         f"NN_name.ipynb files, like solutions/); "
                         f"{'it has no .ipynb file' if folder.is_dir() else 'there is no such folder'}")
    return found


def release(solutions_dir=None, notebooks_dir=None):
    """Write the student twin of every source notebook; return the paths written.

    Only ``notebooks/<name>.ipynb`` files with a source of the same name are
    written; nothing else in ``notebooks/`` is touched or deleted.
    """
    sources = source_notebooks(solutions_dir)  # checked before anything is made
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    if notebooks_dir.exists() and not notebooks_dir.is_dir():
        raise ValueError(f"--notebooks {notebooks_dir} is a file; expected the folder to write the student "
                         f"notebooks into (like notebooks/)")
    texts = {source: student_notebook(source) for source in sources}  # every source made before one is written
    notebooks_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source, text in texts.items():
        target = notebooks_dir / source.name
        if not target.exists() or target.read_text() != text:
            write_atomically(target, text.encode())  # a student twin is never left half written
            written.append(target)
    return written


def check_release(solutions_dir=None, notebooks_dir=None):
    """Compare ``notebooks/`` with what ``release`` would write, without writing.

    Returns a list of problems in words (empty when everything is up to date).
    """
    problems = []
    solutions_dir = Path(solutions_dir or SOLUTIONS_DIR)
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    sources = source_notebooks(solutions_dir)
    for source in sources:
        target = notebooks_dir / source.name
        if not target.exists():
            problems.append(f"{target} is missing (generate it from {source})")
        elif target.read_text() != student_notebook(source):
            problems.append(f"{target} is stale: it differs from what {source} generates")
    names = {s.name for s in sources}
    for orphan in sorted(notebooks_dir.glob("*.ipynb")):
        if orphan.name not in names:
            problems.append(f"{orphan} has no source in {solutions_dir}")
    return problems
