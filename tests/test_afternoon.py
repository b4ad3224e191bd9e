"""benchmarks/afternoon.py runs notebooks in a budget and reads back the scores they printed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import metrics

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import afternoon  # noqa: E402


def scores(**changes):
    numbers = dict(fd=123.45, floor=7.1, collapse=900.0, covered=9, entropy=2.2, confidence=0.9, precision=0.71,
                   recall=0.42, samples=10000, classifier="full")
    return numbers | changes


def test_it_reads_the_scores_a_notebook_prints():
    printed = "warming up\n" + str(metrics.Scores(**scores())) + "\nthen\n" + str(metrics.Scores(**scores(fd=50.0)))
    found = [m.groupdict() for m in afternoon.SCORES.finditer(printed)]
    assert [float(f["fd"]) for f in found] == [123.45, 50.0]
    assert found[0]["covered"] == "9" and found[0]["precision"] == "0.710" and found[0]["recall"] == "0.420"
    assert float(found[1]["ratio"]) == pytest.approx(50.0 / 7.1, abs=0.05)
    conditional = metrics.ConditionalScores(**scores(), accuracy=0.991, class_accuracy=[0.99] * 10,
                                            class_fd=[1.0] * 10, class_floor=[1.0] * 10)
    assert afternoon.ACCURACY.findall(str(conditional)) == ["99.1"]
    assert afternoon.SCORES.search(str(conditional))


def test_it_runs_a_notebook_in_a_budget(tmp_path):
    out = tmp_path / "rows.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "afternoon.py"), "--notebooks", "01_data",
                          "--budget", "smoke", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    [row] = json.loads(out.read_text())
    assert row["notebook"] == "01_data" and row["budget"] == "smoke" and row["last_scores"] is None
    assert 0 <= row["longest_cell"] <= row["seconds"] + 1
    assert "| 01_data | smoke |" in run.stdout


def test_a_json_path_it_cannot_write_is_refused_before_any_notebook_runs(tmp_path, capsys):
    afile = tmp_path / "a-file"
    afile.write_text("mine")
    with pytest.raises(SystemExit):
        afternoon.main(["--notebooks", "01_data", "--budget", "smoke", "--json", str(afile / "rows.json")])
    assert f"its folder {afile} does not exist (it is a file)" in capsys.readouterr().err
