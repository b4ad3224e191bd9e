"""Run a command line's ``main`` in this process, for tests of its flags (no interpreter to start: a second or so
less per case than a subprocess)."""

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def refused_by_argparse(main, argv, capsys):
    """Run ``main(argv)``; return its stderr, after checking that argparse refused it: exit 2, no traceback."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def benchmark(name):
    """The ``benchmarks/<name>.py`` script as a module (its ``main`` is not run on import)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
