"""benchmarks/train_throughput.py runs end to end and prints what the README quotes.

This checks the script works and reports consistent numbers; it asserts no
speed: timings belong to the benchmark's output, not to a test's verdict.
"""

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from commandlines import benchmark, refused_by_argparse
from helpers import losses

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py"
NUMBER = r"([\d,]+) images/s"


@pytest.mark.parametrize("model", ["mlp", "dcgan28"])
def test_benchmark_prints_both_loops_and_their_ratio_last(model, tmp_path):
    numbers = tmp_path / "numbers.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--model", model,
         "--steps", "4", "--rounds", "2", "--warmup", "1", "--batch-size", "8", "--json", str(numbers)],
        capture_output=True, text=True, timeout=600, check=False)
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
    # compare what the script computed, unrounded: a slow machine's few images/s must not matter
    raw = json.loads(numbers.read_text())
    assert raw["ratio"] == pytest.approx(raw["course_images_per_s"] / raw["classic_images_per_s"], rel=1e-12)
    assert last.group(1) == f"{raw['ratio']:.2f}"
    assert f"{raw['classic_images_per_s']:,.0f}" == f"{classic:,.0f}" and f"{raw['course_images_per_s']:,.0f}" == f"{course:,.0f}"


def test_profile_prints_the_course_paths_top_operations():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--profile", "--batch-size", "8"],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "Self CPU time total" in result.stdout
    assert "aten::addmm" in result.stdout  # the MLP's linear layers


@pytest.mark.parametrize("flags, message", [
    (["--rounds", "0"], "argument --rounds: expected a whole number of at least 1, got 0"),
    (["--steps", "10", "--rounds", "20"], "--rounds must be between 1 and --steps"),
    (["--steps", "10", "--rounds", "3"], "must be a multiple of --rounds"),
    (["--warmup", "-1"], "argument --warmup: expected a whole number of at least 0, got -1"),
    (["--batch-size", "x"], "argument --batch-size: expected a whole number of at least 1, got 'x'"),
    (["--device", "gpu"], "argument --device: unknown device 'gpu'"),
])
def test_bad_flags_get_a_one_line_error(flags, message, capsys):
    assert message in refused_by_argparse(benchmark("train_throughput").main, ["--device", "cpu", *flags], capsys)


QUALITY = SCRIPT.parent / "quality.py"


def quality(capsys, *argv):
    """``benchmarks/quality.py`` run in this process (its training is the same; no interpreter and no torch to
    start), as a finished command: ``returncode``, ``stdout``, ``stderr``."""
    capsys.readouterr()
    code = benchmark("quality").main(list(argv))
    printed = capsys.readouterr()
    return SimpleNamespace(returncode=code or 0, stdout=printed.out, stderr=printed.err)
COLLAPSE = SCRIPT.parent / "mode_collapse.py"


def test_quality_benchmark_prints_a_consistent_row_per_setting(capsys):
    result = quality(capsys, "--budgets", "1", "--samples", "1000",
                     "--settings", "r3", "cgan", "--yardstick")
    assert result.returncode == 0, result.stderr
    changes = re.findall(r"^(none|noise, std 0\.05|noise, std 0\.1|moved one pixel|strokes 1 px thicker|3x3 blur) +"
                         r"([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)$", result.stdout, re.M)
    assert len(changes) == 6, result.stdout
    rows = re.findall(r"^(r3|cgan) +bce +1 +([\d,]+) +([\d,]+) +\d+ +([\d.]+) +([\d.]+) +(\d+)/10 +([\d.]+) +([\d.]+) +"
                      r"([\d.]+%|-)$", result.stdout, re.M)
    assert [r[0] for r in rows] == ["r3", "cgan"], result.stdout
    floor = float(re.search(r"floor \(real train vs real test\) FD ([\d.]+)", result.stdout).group(1))
    for change, fd, times_floor, precision, recall in changes:
        assert float(times_floor) == pytest.approx(float(fd) / floor, abs=0.051 + 0.001 * float(fd) / floor), change
        assert 0 <= float(precision) <= 1 and 0 <= float(recall) <= 1
    batch = {"r3": 64, "cgan": 64}
    for name, steps, images, fd, times_floor, covered, precision, recall, accuracy in rows:
        assert int(images.replace(",", "")) == int(steps.replace(",", "")) * batch[name]
        assert float(times_floor) == pytest.approx(float(fd) / floor, abs=0.051 + 0.001 * float(fd) / floor)
        assert 0 <= float(precision) <= 1 and 0 <= float(recall) <= 1 and 0 <= int(covered) <= 10
        assert (accuracy == "-") == (name == "r3")  # only the conditional recipe has a requested digit
        assert accuracy == "-" or 0 <= float(accuracy[:-1]) <= 100
    # cgan draws with an average of G's weights: G's own last weights are measured beside it
    own = re.search(r"^cgan \(bce\), 1 s: FD ([\d.]+) for G's own last weights, ([\d.]+) for their average", result.stdout,
                    re.M)
    assert own and float(own.group(2)) == pytest.approx(float(rows[1][3]), abs=0.051), result.stdout
    assert not re.search(r"^r3 \(bce\), 1 s: FD", result.stdout, re.M), "r3 keeps no average"


def test_quality_benchmark_trains_a_row_per_loss_and_seed_with_each_papers_adam(capsys):
    done = quality(capsys, "--budgets", "1", "--samples", "300", "--settings",
                   "course-dcgan", "--losses", "wgan-gp", "bce-sn", "--paper-adam", "--seeds", "2")
    assert done.returncode == 0, done.stderr
    for loss in ("wgan-gp", "bce-sn"):
        assert f"{loss} trains with {losses.LOSSES[loss].paper}" in done.stdout
    rows = re.findall(r"^course-dcgan +(\S+) +1 +([\d,]+) +[\d,]+ +\d+ +([\d.]+) ", done.stdout, re.M)
    assert [loss for loss, *_ in rows] == ["wgan-gp", "wgan-gp", "bce-sn", "bce-sn"], done.stdout
    spread = re.findall(r"^course-dcgan +(\S+) +1 +([\d.]+) \(([\d.]+)-([\d.]+)\) ", done.stdout, re.M)
    assert [loss for loss, *_ in spread] == ["wgan-gp", "bce-sn"], done.stdout
    for loss, mean, low, high in spread:
        fds = [float(fd) for name, _, fd in rows if name == loss]
        assert (float(low), float(high)) == (min(fds), max(fds))
        assert float(mean) == pytest.approx(sum(fds) / 2, abs=0.051)
    bad = refused_by_argparse(benchmark("quality").main, ["--settings", "r3", "--losses", "hinge"], capsys)
    assert "--losses needs settings whose D returns scores (logits); ['r3'] end in a Sigmoid" in bad
    bad = refused_by_argparse(benchmark("quality").main, ["--settings", "course-dcgan", "--paper-adam"], capsys)
    assert "--paper-adam gives each loss its paper's Adam settings: pass --losses too" in bad
    bad = refused_by_argparse(benchmark("quality").main, ["--settings", "course-dcgan", "--losses", "bce",
                                                          "--paper-adam", "--lr", "1e-3"], capsys)
    assert "--paper-adam sets each loss's own lr and betas" in bad


def test_quality_benchmark_prints_the_floors_spread(capsys):
    done = quality(capsys, "--budgets", "1", "--samples", "5000", "--settings", "r3",
                   "--floors")
    assert done.returncode == 0, done.stderr
    blocks = re.findall(r"^training digits [\d,]+-[\d,]+ +([\d.]+)$", done.stdout, re.M)
    draws = re.findall(r"^5,000 training digits at random, draw \d +([\d.]+)$", done.stdout, re.M)
    halves = re.findall(r"^test digits, (?:first half against second|two random halves) +([\d.]+)$", done.stdout,
                        re.M)
    whole = re.findall(r"^all [\d,]+ training digits +([\d.]+)$", done.stdout, re.M)
    assert len(blocks) == 12 and len(draws) == 5 and len(whole) == 1 and len(halves) == 2, done.stdout
    floor = float(re.search(r"floor \(real train vs real test\) FD ([\d.]+)", done.stdout).group(1))
    assert float(draws[0]) == pytest.approx(floor, abs=0.006), "draw 0 is the floor's own draw"


def test_quality_benchmark_trains_with_other_betas_and_refuses_bad_ones(capsys):
    done = quality(capsys, "--budgets", "1", "--samples", "300", "--settings", "r3",
                   "--betas", "0.0", "0.99", "--lr", "1e-3")
    assert done.returncode == 0, done.stderr
    assert "every setting trains with {'lr': 0.001, 'betas': (0.0, 0.99)}" in done.stdout
    bad = refused_by_argparse(benchmark("quality").main, ["--betas", "1", "0.9"], capsys)
    assert "argument --betas: expected a number at least 0 and below 1, got '1'" in bad


def test_mode_collapse_benchmark_prints_our_rows_beside_the_papers():
    result = subprocess.run([sys.executable, str(COLLAPSE), "--seeds", "1", "--steps", "30", "--loss-steps", "12",
                             "--workers", "1", "--d-hidden", "32"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "D of 32 units" in result.stdout
    for mixture, size in (("ring", 8), ("grid", 25)):
        for model in ("GAN", "PacGAN2", "PacGAN4"):
            ours = re.search(rf"^{mixture} +bce +{model} +([\d.]+)\+-[\d.]+/{size} +([\d.]+)%", result.stdout, re.M)
            assert ours and 0 <= float(ours.group(1)) <= size and 0 <= float(ours.group(2)) <= 100, result.stdout
            assert re.search(rf"^  paper +bce +{model} +[\d.]+\+-[\d.]+/{size}", result.stdout, re.M)
    assert "saturating log(1 - D(G(z)))" in result.stdout and "total wall time" in result.stdout


def test_mode_collapse_benchmark_trains_only_the_mixtures_losses_and_packings_asked_for(capsys):
    result = subprocess.run([sys.executable, str(COLLAPSE), "--seeds", "2", "--steps", "5", "--loss-steps", "3",
                             "--workers", "1", "--d-hidden", "8", "--mixtures", "grid", "--packing", "GAN", "PacGAN4",
                             "--losses", "hinge", "wgan-gp", "bce-sn", "--lr", "1e-4", "--betas", "0", "0.9"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = re.findall(r"^grid +(\S+) +(\S+) +([\d.]+)\+-([\d.]+)/25 ", result.stdout, re.M)
    assert [(loss, model) for loss, model, *_ in rows] == [(loss, model) for loss in ("hinge", "wgan-gp", "bce-sn")
                                                           for model in ("GAN", "PacGAN4")], result.stdout
    assert all(0 <= float(modes) <= 25 and float(error) >= 0 for *_, modes, error in rows)
    assert not re.search(r"^  paper", result.stdout, re.M) and not re.search(r"^ring ", result.stdout, re.M)  # the paper has BCE only
    assert "wgan-gp: Wasserstein, gradient penalty 10, 5 critic steps per G step" in result.stdout
    assert "Adam lr 0.0001 betas 0/0.9" in result.stdout
    assert "invalid choice: 'cube'" in refused_by_argparse(benchmark("mode_collapse").main, ["--mixtures", "cube"],
                                                           capsys)


def test_grading_benchmark_reports_a_consistent_row_per_notebook(tmp_path):
    numbers = tmp_path / "grading.json"
    result = subprocess.run([sys.executable, str(SCRIPT.with_name("grading.py")), "--notebook", "01_data",
                             "--students", "1", "--json", str(numbers)],
                            capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout + result.stderr  # it exits 1 if a correct notebook lost points
    row = json.loads(numbers.read_text())["01_data"]
    assert row["students"] == 1 and row["per_student_s"] > 0
    assert row["one_student_s"] == pytest.approx(row["fixed_s"] + row["per_student_s"])
    assert row["wall_s"] >= row["per_student_s"]
    assert row["per_minute"] == pytest.approx(60 / row["wall_s"])
    hours = row["projected_h"]
    assert hours["1"] > hours["4"] > hours["16"] > 0, hours  # more machines, less time
    assert re.search(r"^01_data +1 +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+$", result.stdout, re.M), result.stdout
    assert "1,800 submissions like these, --jobs 1 per machine: 1 machine " in result.stdout


def test_quality_benchmark_trains_cgan_with_another_g_and_other_styles_and_only_cgan(capsys):
    done = quality(capsys, "--budgets", "1", "--samples", "1000", "--settings", "cgan",
                   "--plain-generator", "--styles", "2", "--lr-decay-to", "0.5", "--channels-last",
                   "--float32")
    assert done.returncode == 0, done.stderr
    assert "cgan trains with session 5's own G" in done.stdout and "cgan trains on 2 style(s) per digit" in done.stdout
    changes = "every setting trains with {'lr_decay_to': 0.5, 'amp': False, 'channels_last': True}"
    assert changes in done.stdout, done.stdout
    assert re.search(r"^cgan: k-means found 20 styles in [\d.]+ s", done.stdout, re.M), done.stdout
    assert re.search(r"^cgan +bce +1 +[\d,]+ +[\d,]+ +\d+ +[\d.]+ +[\d.]+ +\d+/10 .*%$", done.stdout, re.M), done.stdout
    for flags, message in ((["--settings", "r3", "--plain-generator"], "--settings cgan"),
                           (["--settings", "r3", "--styles", "2"], "--settings cgan"),
                           (["--settings", "cgan", "--styles", "0"], "argument --styles: expected a whole number of at least 1, got 0"),
                           (["--settings", "cgan", "--samples", "500"], "--samples 500 is 50 of each digit"),
                           (["--settings", "course-styles", "--styles", "1"], "--settings course-styles (K >= 2"),
                           (["--settings", "cgan", "--lr-decay-to", "0"], "argument --lr-decay-to: expected a number above 0 and at most 1, got '0'"),
                           (["--settings", "cgan", "--float32", "--amp"], "--float32 and --amp contradict")):
        assert message in refused_by_argparse(benchmark("quality").main, flags, capsys), flags


def test_sample_size_prints_the_fd_bias_falling_with_n_and_the_memory_per_sample(capsys):
    benchmark("sample_size").main(["--sizes", "10", "1000", "--draws", "1", "--memory", "200", "600"])
    out = capsys.readouterr().out
    fds = [float(x) for x in re.findall(r"^ +[\d,]+ +([\d.]+)$", out, re.M)]
    assert len(fds) == 2 and fds[0] > 150 > 20 > fds[1], out  # 10 samples: about 230; 1,000: about 8.5
    assert re.search(r"^memory per sample: -?[\d.]+ KB \(metrics.BYTES_PER_SAMPLE: 36.0 KB\)$", out, re.M), out
    assert "--memory needs SMALL below LARGE" in refused_by_argparse(benchmark("sample_size").main,
                                                                     ["--memory", "600", "200"], capsys)


def test_grading_benchmark_refuses_jobs_without_the_one_job_run_that_measures_the_fixed_cost(capsys):
    err = refused_by_argparse(benchmark("grading").main, ["--jobs", "2", "4"], capsys)
    assert "argument --jobs: expected the values to include 1" in err and "got 2 4" in err


def test_the_similarity_benchmark_prints_both_rates_per_threshold(capsys):
    assert benchmark("similarity").main(["--exercises", "2"]) == 0
    printed = capsys.readouterr().out
    head = re.search(r"^2 exercises with independent versions: (\d+) independent pairs, (\d+) disguised copies",
                     printed, re.M)
    assert head, printed
    rows = re.findall(r"^ +([\d.]+) +(\d+) of (\d+) +(\d+) of (\d+) *$", printed, re.M)
    assert [float(r[0]) for r in rows] == [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0]
    assert all(r[2] == head.group(1) and r[4] == head.group(2) for r in rows)
    flagged = [int(r[1]) for r in rows]
    assert flagged == sorted(flagged, reverse=True), "a higher threshold never flags more pairs"


def test_the_start_up_benchmark_times_each_old_way_beside_the_new(capsys):
    assert benchmark("grade_startup").main(["--runs", "1"]) == 0
    printed = capsys.readouterr().out
    rows = re.findall(r"^(.+?) +([\d.]+) +([\d.]+) +([\d.]+)$", printed, re.M)
    assert [what for what, *_ in rows] == ["a new gradebook's schema version", "import nbformat (a new Python)",
                                          "samples.gif of 10 grids"], printed
    for _, old, new, ratio in rows:
        assert float(ratio) == pytest.approx(float(new) / float(old), abs=0.002)
