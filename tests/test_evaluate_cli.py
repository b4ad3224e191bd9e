"""python -m helpers.evaluate, and the training command's own final measurement.

Both commands' ``main`` run in this process (no interpreter to start); ``test_train_cli.py`` runs the
training command as a process of its own too.
"""

import json
from types import SimpleNamespace

from commandlines import refused_by_argparse
from helpers import evaluate, train


def run(capsys, main, *args):
    """``main(args)`` in this process, as a finished command: ``returncode``, ``stdout``, ``stderr``."""
    capsys.readouterr()
    code = main(list(args))
    printed = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=printed.out, stderr=printed.err)


def test_a_run_is_measured_at_its_end_and_again_by_the_evaluate_command(tmp_path, capsys):
    done = run(capsys, train.main, "--recipe", "r3", "--max-steps", "3", "--limit", "256", "--out", str(tmp_path),
               "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "FD " in done.stdout and "classes with >= 5%" in done.stdout and "fast classifier" in done.stdout
    scores = json.loads((tmp_path / "history.json").read_text())["scores"]
    assert scores["fd"] > scores["floor"] > 0 and 0 <= scores["covered"] <= 10 and scores["classifier"] == "fast"
    measured = run(capsys, evaluate.main, "--checkpoint", str(tmp_path / "checkpoint.pt"), "--samples", "500")
    assert measured.returncode == 0, measured.stderr
    assert "FD " in measured.stdout and "precision" in measured.stdout and "R3" in measured.stdout


def test_the_evaluate_command_refuses_with_one_line(tmp_path, capsys):
    missing = run(capsys, evaluate.main, "--checkpoint", str(tmp_path / "nope.pt"))
    assert missing.returncode == 1 and "no checkpoint at" in missing.stderr and "Traceback" not in missing.stderr
    done = run(capsys, train.main, "--recipe", "r3", "--max-steps", "1", "--limit", "64", "--out", str(tmp_path),
               "--no-progress", "--no-eval")
    assert done.returncode == 0, done.stderr
    other = run(capsys, evaluate.main, "--checkpoint", str(tmp_path / "checkpoint.pt"), "--recipe", "r2")
    assert other.returncode == 1 and "holds a run of recipe 'r3', not 'r2'" in other.stderr
    for samples in ("10", "0"):  # refused by argparse, naming the value (0 used to measure the default number)
        few = refused_by_argparse(evaluate.main, ["--checkpoint", str(tmp_path / "checkpoint.pt"), "--samples", samples],
                                  capsys)
        assert f"argument --samples: expected a whole number of at least 200, got {samples}" in few
    assert evaluate.main(["--checkpoint", str(tmp_path)]) == 1  # the run's folder, not its checkpoint
    assert f"expected a checkpoint file, got the folder {tmp_path}: its checkpoint is {tmp_path / 'checkpoint.pt'}" \
        in capsys.readouterr().err
