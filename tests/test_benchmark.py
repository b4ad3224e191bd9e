"""benchmarks/train_throughput.py runs end to end and prints what the README quotes.

This checks the script works and reports consistent numbers; it asserts no
speed: timings belong to the benchmark's output, not to a test's verdict.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py"
NUMBER = r"([\d,]+) images/s"


@pytest.mark.parametrize("model", ["mlp", "dcgan28"])
def test_benchmark_prints_both_loops_and_their_ratio_last(model):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--model", model,
         "--steps", "4", "--rounds", "2", "--warmup", "1", "--batch-size", "8"],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    classic = float(re.search("classic DataLoader loop : *" + NUMBER, result.stdout).group(1).replace(",", ""))
    course = float(re.search("course training path *: *" + NUMBER, result.stdout).group(1).replace(",", ""))
    assert "2 rounds of 2 steps" in result.stdout
    assert re.search(r"course, per round *: [\d,]+ to [\d,]+ images/s", result.stdout)
    assert re.search(r"per-round ratios *: min [\d.]+x, median [\d.]+x, max [\d.]+x", result.stdout)
    assert re.search(r"CPU threads at work *: a matrix product ran [\d.]+x to [\d.]+x", result.stdout)
    last = re.fullmatch(rf"{model} cpu speed-up \(course / classic\): ([\d.]+)x", lines[-1])
    assert last, lines[-1]
    assert float(last.group(1)) == pytest.approx(course / classic, abs=0.01 + 0.01 * course / classic)


def test_profile_prints_the_course_paths_top_operations():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--profile", "--batch-size", "8"],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "Self CPU time total" in result.stdout
    assert "aten::addmm" in result.stdout  # the MLP's linear layers


@pytest.mark.parametrize("flags, message", [
    (["--rounds", "0"], "--rounds must be between 1 and --steps"),
    (["--steps", "10", "--rounds", "20"], "--rounds must be between 1 and --steps"),
    (["--steps", "10", "--rounds", "3"], "must be a multiple of --rounds"),
    (["--warmup", "-1"], "--warmup must be >= 0"),
])
def test_bad_flags_get_a_one_line_error(flags, message):
    result = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", *flags],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
