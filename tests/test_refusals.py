"""Hardening, round 2: the newer surfaces refuse bad input at the door, in words that name what was expected
and what came in.

The metrics, the styles, the demo, the conditional step, the loop's batches,
the grade and release commands' folders and limits, and every benchmark's
flags. Each test calls the code in this process (no subprocess), so the whole
file runs in seconds. The full disk during a checkpoint save is in
``test_hardening.py``, beside the other ways a save can fail.
"""

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import collapse, flags, loop, metrics, models, runs, runtime, steps, styles
from gan_grader import __main__ as course_cli
from gan_grader import grading
from helpers.demo import DigitDemo
from helpers.guards import describe
from helpers.recipes import get_recipe
from helpers.train import parse_args as train_args

from commandlines import benchmark, refused_by_argparse
from test_hardening import onto_a_full_disk

# ---------------------------------------------------------------------------
# The metrics
# ---------------------------------------------------------------------------

def test_an_fd_from_too_few_samples_is_refused_naming_the_minimum_and_the_count():
    few = torch.randn(10, 128)
    with pytest.raises(ValueError, match=r"at least 50 samples .*10 against 10 .* got 10 \(shape \(10, 128\)"):
        metrics.gaussian_statistics(few)
    with pytest.raises(ValueError, match="at least 50 samples.*got 1 "):
        metrics.gaussian_statistics(few[:1])
    mean, cov = metrics.gaussian_statistics(torch.randn(60, 128))  # enough: no complaint
    assert mean.shape == (128,) and cov.shape == (128, 128)


def test_metrics_on_nan_or_inf_name_the_bad_values_instead_of_failing_in_eigh():
    bad = torch.randn(100, 8)
    bad[3, 2] = float("nan")
    bad[7, 1] = float("inf")
    with pytest.raises(ValueError, match=r"features must be numbers: .*1 NaN and 1 infinite"):
        metrics.gaussian_statistics(bad)
    mean, cov = metrics.gaussian_statistics(torch.randn(100, 8))
    with pytest.raises(ValueError, match=r"the second mean must be numbers: .*NaN"):
        metrics.frechet_distance(mean, cov, torch.full((8,), math.nan), cov)
    with pytest.raises(ValueError, match=r"one feature space: the first has 8 features, the second 4"):
        metrics.frechet_distance(mean, cov, mean[:4], cov[:4, :4])
    with pytest.raises(ValueError, match=r"covariance must be \[D, D\] for a mean of D = 8 .*shape \(8, 4\)"):
        metrics.frechet_distance(mean, cov[:, :4], mean, cov)
    with pytest.raises(ValueError, match=r"fake_features must be numbers: .*1 NaN and 1 infinite"):
        metrics.precision_recall(torch.randn(100, 8), bad)
    with pytest.raises(ValueError, match=r"real_features must hold more than k = 3 points.*shape \(1, 8\)"):
        metrics.precision_recall(torch.randn(1, 8), torch.randn(100, 8))
    with pytest.raises(ValueError, match=r"as many features each.*shape \(100, 8\).*shape \(100, 4\)"):
        metrics.precision_recall(torch.randn(100, 8), torch.randn(100, 4))


def test_class_coverage_refuses_no_samples_and_nan_instead_of_returning_nan():
    with pytest.raises(ValueError, match=r"at least one sample.*shape \(0, 10\)"):
        metrics.class_coverage(torch.zeros(0, 10))
    with pytest.raises(ValueError, match=r"probabilities must be in \[0, 1\]: .*5 NaN"):
        metrics.class_coverage(torch.cat([torch.full((5, 1), math.nan), torch.zeros(5, 9)], 1))
    with pytest.raises(ValueError, match=r"threshold \(a share of the samples\): expected a number above 0 and at most 1, got 5"):
        metrics.class_coverage(torch.eye(10), threshold=5)


def test_conditional_accuracy_names_a_label_outside_the_classes():
    with pytest.raises(ValueError, match=r"requested must be class numbers from 0 to 9: .*max 12"):
        metrics.conditional_accuracy(torch.tensor([1, 2]), torch.tensor([1, 12]))
    with pytest.raises(TypeError, match="predicted must have dtype torch.int64"):
        metrics.conditional_accuracy(torch.tensor([1.0, 2.0]), torch.tensor([1, 2]))


def test_a_sample_count_is_checked_before_any_sampling_zero_is_not_the_default(monkeypatch):
    never = torch.nn.Linear(4, 784)  # never called: the count is refused first
    for n in (0, 10, -5, 2.5):
        with pytest.raises(ValueError, match=f"at least 200 samples .*: expected a whole number of at least 200, got {n}"):
            metrics.evaluate_generator(never, (4,), n=n)
    with pytest.raises(ValueError, match="the FD of each digit needs at least 100 samples of it.*got 30"):
        metrics.evaluate_conditional(never, (4,), n_per_class=30)


def test_a_huge_sample_count_is_refused_in_words_from_a_memory_estimate(monkeypatch):
    monkeypatch.setattr(metrics, "available_memory", lambda: 2 * 2**30)  # a machine with 2 GB free
    with pytest.raises(ValueError, match=r"measuring 10,000,000 samples needs about \d+\.\d GB .* 2\.0 GB "
                                         r"available: use at most about [\d,]+ samples"):
        metrics.check_sample_count(10_000_000)
    metrics.check_sample_count(10_000)  # the default fits
    assert runtime.available_memory() > 0


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to fill a disk")
def test_a_full_disk_while_caching_the_classifier_is_a_notice_naming_the_disk(tmp_path, monkeypatch, capsys):
    from helpers import checkpoints

    onto_a_full_disk(monkeypatch, checkpoints)
    path = tmp_path / "classifier" / "digits.pt"
    metrics._save_cached(path, metrics.DigitClassifier(), metrics.FAST)
    err = capsys.readouterr().err
    assert f"could not cache the digit classifier in {path.parent} (the disk is full)" in err
    assert not path.exists() and not list(path.parent.glob(".*.part"))


def test_the_classifier_names_images_of_the_wrong_shape_or_with_nan():
    classifier = metrics.DigitClassifier().eval()
    with pytest.raises(ValueError, match=r"reads float images \[N, 1, 28, 28\] in \[-1, 1\], got shape \(5, 3, 32, 32\)"):
        metrics.features_and_probabilities(classifier, torch.zeros(5, 3, 32, 32))
    with pytest.raises(ValueError, match="needs images of numbers: .*784 NaN value"):
        metrics.predict(classifier, torch.zeros(5, 1, 28, 28).index_put_((torch.tensor([0]),), torch.tensor(math.nan)))


def test_describe_shows_the_values_of_integer_tensors():
    assert "min 3 max 12" in describe(torch.tensor([3, 12]))


# ---------------------------------------------------------------------------
# Styles
# ---------------------------------------------------------------------------

def test_kmeans_and_principal_components_refuse_a_nan_point():
    points = torch.randn(100, 5)
    points[3, 2] = math.nan
    with pytest.raises(ValueError, match=r"kmeans needs points that are all numbers .* 1 NaN"):
        styles.kmeans(points, 4)
    with pytest.raises(ValueError, match=r"principal_components needs points that are all numbers"):
        styles.principal_components(points, 2)
    with pytest.raises(ValueError, match=r"kmeans' k \(clusters\): expected a whole number of at least 1, got 2.5"):
        styles.kmeans(torch.randn(100, 5), 2.5)


def test_style_sampler_names_the_digit_that_is_out_of_range_and_the_dtype_apart():
    sampler = styles.StyleSampler(models.ConditionalGenerator(n_classes=20), torch.ones(10, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"digits must be from 0 to 9: .*min 12 max 12"):
        sampler.styles_for(torch.tensor([12]))
    with pytest.raises(TypeError, match=r"digits must have dtype torch.int64, got torch.float32"):
        sampler.styles_for(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="none can be negative; .*min -1"):
        styles.StyleSampler(models.ConditionalGenerator(n_classes=20), -torch.ones(10, 2, dtype=torch.int64))


def test_course_styles_says_how_many_styles_it_really_found(tmp_path, capsys):
    runs.run_recipe(get_recipe("course-styles"), tmp_path, max_steps=1, limit=30, progress=False, evaluate=False)
    assert "course-styles: k-means found 30 styles of the 70 asked for (30 training images)" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# The demo
# ---------------------------------------------------------------------------

def test_the_demo_takes_a_numpy_digit_and_refuses_a_bool():
    demo = DigitDemo(models.ConditionalGenerator(), 64)
    z = torch.zeros(1, 64)
    assert demo.draw(np.int64(3), z).shape == (1, 28, 28)
    demo.digit.value = 4
    assert demo.message.value.startswith("G(z, 4)")
    for bad in (True, np.bool_(True), 3.0, 10):
        with pytest.raises(ValueError, match=f"digit must be a whole number from 0 to 9, got {bad!r}"):
            demo.draw(bad, z)


def test_the_demo_refuses_a_latent_size_g_does_not_take_in_words(tmp_path):
    with pytest.raises(ValueError, match=r"cannot take noise of shape \(1, 32\).*does latent_shape match"):
        DigitDemo(models.ConditionalGenerator(), 32)
    runs.run_recipe(get_recipe("cgan"), tmp_path, max_steps=1, limit=64, progress=False, evaluate=False)
    with pytest.raises(ValueError, match=r"takes noise of 64 numbers \(recipe cgan\), got latent_dim=32"):
        DigitDemo.from_checkpoint(tmp_path / "checkpoint.pt", latent_dim=32)
    assert DigitDemo.from_checkpoint(tmp_path / "checkpoint.pt").latent_dim == 64


# ---------------------------------------------------------------------------
# The conditional step and the loop
# ---------------------------------------------------------------------------

def conditional_gan(n_classes):
    G, D = models.ConditionalGenerator(), models.ConditionalDiscriminator()
    return steps.GAN(G, D, torch.optim.SGD(G.parameters(), 0.1), torch.optim.SGD(D.parameters(), 0.1), (64,),
                     logits=True, n_classes=n_classes)


def test_a_gan_with_more_classes_than_its_label_tables_is_refused_when_built():
    with pytest.raises(ValueError, match=r"n_classes=20 labels, but G's label table G.embed has 10 rows: build G "
                                         r"and D with n_classes=20, or give the GAN n_classes=10"):
        conditional_gan(20)
    assert conditional_gan(10).n_classes == 10


def test_a_conditional_step_given_batches_without_labels_says_what_fit_needs():
    gan = conditional_gan(10)
    images = torch.rand(8, 1, 28, 28) * 2 - 1
    with pytest.raises(ValueError, match=r"this GAN is conditional: pass the batch's labels .*\(images, labels\) pairs"):
        loop.fit(lambda real, *labels: steps.train_step(gan, real, *labels), [images], 1)


# ---------------------------------------------------------------------------
# The command lines: folders, limits and every benchmark's flags
# ---------------------------------------------------------------------------

def test_train_out_naming_a_file_is_refused_as_a_file(tmp_path, capsys):
    plain = tmp_path / "notes.txt"
    plain.write_text("mine")
    err = refused_by_argparse(train_args, ["--recipe", "r3", "--out", str(plain)], capsys)
    assert f"argument --out: expected a folder to write into, but {plain} is a file" in err
    assert plain.read_text() == "mine"
    err = refused_by_argparse(train_args, ["--recipe", "r3", "--seed", "-1"], capsys)
    assert "argument --seed: expected a whole number of at least 0, got -1" in err


def test_fewer_steps_than_critic_steps_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="recipe wgan-gp takes 5 D steps per G step .* 3 steps would never step G: "
                                         "give --max-steps at least 5"):
        runs.run_recipe(get_recipe("wgan-gp"), tmp_path / "run", max_steps=3, progress=False)
    assert not (tmp_path / "run").exists()


def test_training_onto_a_full_disk_is_one_line_naming_the_folder(tmp_path, monkeypatch, capsys):
    from helpers import train

    import errno

    class FullDisk:
        """The run's lock file, on a full disk: writing its PID fails with ENOSPC."""
        def __init__(self, path, mode):
            self.file = real_open(path, mode)

        def __getattr__(self, name):
            return getattr(self.file, name)

        def flush(self):
            raise OSError(errno.ENOSPC, "No space left on device")

    real_open = open
    monkeypatch.setattr(runs, "open", FullDisk, raising=False)
    out = tmp_path / "run"
    assert train.main(["--recipe", "r3", "--out", str(out), "--max-steps", "1", "--no-progress", "--no-eval"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"error: could not write {out} (the disk is full); the run's last checkpoint, if any, is intact: "
                   f"free some space, then resume with --resume")


@pytest.mark.parametrize("flag, value", [("--memory-mb", "0"), ("--output-mb", "-5"), ("--timeout", "0"),
                                         ("--memory-mb", "lots"), ("--jobs", "0")])
def test_grade_limits_are_refused_naming_flag_and_value(tmp_path, capsys, flag, value):
    err = refused_by_argparse(course_cli.main, ["grade", str(tmp_path), "--out", str(tmp_path / "g.csv"),
                                                flag, value], capsys)
    got = repr(value) if value == "lots" else int(value)
    assert f"argument {flag}: expected a whole number of at least 1, got {got}" in err


def test_grade_limits_given_in_python_are_refused_not_replaced_by_the_defaults(tmp_path):
    for limit in ({"memory_mb": 0}, {"output_mb": -1}, {"timeout": 0}, {"jobs": 0}):
        with pytest.raises(grading.GradingError, match=f"--{next(iter(limit)).replace('_', '-')}: expected a whole "
                                                       f"number of at least 1, got {next(iter(limit.values()))}"):
            grading.grade_submissions(tmp_path, tmp_path / "g.csv", **limit)


def test_a_wrong_solutions_folder_is_named_not_the_submissions(tmp_path, capsys):
    (tmp_path / "alice").mkdir()
    assert course_cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "g.csv"), "--solutions",
                            str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert f"--solutions {tmp_path / 'nowhere'} is not a folder of source notebooks" in err
    assert "there is no such folder" in err and "submission" not in err.split("source notebooks")[0]
    assert course_cli.main(["release", "--solutions", str(tmp_path), "--notebooks", str(tmp_path / "out")]) == 2
    assert f"--solutions {tmp_path} is not a folder of source notebooks" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    feedback = tmp_path / "feedback.txt"
    feedback.write_text("mine")
    with pytest.raises(grading.GradingError, match=f"--feedback {feedback} is a file; expected a folder"):
        grading.grade_submissions(tmp_path / "submissions", tmp_path / "g.csv", feedback_dir=feedback)
    assert feedback.read_text() == "mine"


def test_grading_onto_a_full_disk_is_refused_before_any_kernel_runs(tmp_path, monkeypatch):
    import errno
    import shutil
    from collections import namedtuple

    from gan_grader import release

    (tmp_path / "subs" / "alice").mkdir(parents=True)
    shutil.copy(release.NOTEBOOKS_DIR / "01_data.ipynb", tmp_path / "subs" / "alice")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(grading.shutil, "disk_usage", lambda folder: usage(10 * 2**20, 9 * 2**20, 2**20))
    monkeypatch.setattr(grading, "_grade_in", lambda *a, **k: pytest.fail("graded onto a full disk"))
    out = tmp_path / "out" / "grades.csv"
    with pytest.raises(grading.GradingError, match=re.escape(
            f"the disk holding {out.parent} has 1.0 MB free, but the results of 1 notebook(s) need about 4 MB "
            f"(2 MB each): free some space there, or choose another --out (nothing was graded)")):
        grading.grade_submissions(tmp_path / "subs", out, sandbox=False)
    assert not out.exists()

    out.write_text("the last run's grades")  # a disk that fills during grading: the old CSV stays
    monkeypatch.setattr(grading, "write_atomically",
                        lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(grading.GradingError, match=re.escape(
            f"the grades could not be written to {out} (the disk is full); an earlier grades.csv, if any, is intact")):
        grading._write_csv(out, [])
    assert out.read_text() == "the last run's grades"


@pytest.mark.parametrize("script, argv, message", [
    ("mode_collapse", ["--lr", "0"], "argument --lr: expected a number above 0, got '0'"),
    ("mode_collapse", ["--lr", "nan"], "argument --lr: expected a number above 0, got 'nan'"),
    ("mode_collapse", ["--average", "nan"], "argument --average: expected a number at least 0 and below 1, got 'nan'"),
    ("mode_collapse", ["--seeds", "0"], "argument --seeds: expected a whole number of at least 1, got 0"),
    ("mode_collapse", ["--workers", "two"], "argument --workers: expected a whole number of at least 1, got 'two'"),
    ("quality", ["--lr", "inf"], "argument --lr: expected a number above 0, got 'inf'"),
    ("quality", ["--betas", "0.5", "1.0"], "argument --betas: expected a number at least 0 and below 1, got '1.0'"),
    ("quality", ["--betas", "0.5"], "argument --betas: expected 2 values, got 1: 0.5"),
    ("quality", ["--budgets", "60", "0"], "argument --budgets: expected a whole number of at least 1, got 0"),
    ("quality", ["--samples", "100"], "argument --samples: expected a whole number of at least 200, got 100"),
    ("quality", ["--device", "gpu"], "argument --device: unknown device 'gpu'"),
    ("train_throughput", ["--steps", "0"], "argument --steps: expected a whole number of at least 1, got 0"),
    ("grading", ["--students", "0"], "argument --students: expected a whole number of at least 1, got 0"),
    ("mode_collapse", ["--betas", "0.5"], "argument --betas: expected 2 values, got 1: 0.5"),
    ("mode_collapse", ["--betas", "0.5", "1"], "argument --betas: expected a number at least 0 and below 1, got '1'"),
])
def test_every_benchmark_flag_is_refused_by_argparse_naming_the_value(script, argv, message, capsys):
    assert message in refused_by_argparse(benchmark(script).main, argv, capsys)


def test_the_toy_gan_refuses_a_learning_rate_that_trains_nothing():
    for lr in (0, -1e-3, math.nan):
        with pytest.raises(ValueError, match=f"lr: expected a number above 0, got {lr}"):
            collapse.train_toy_gan(collapse.ring(), steps=1, lr=lr)
    with pytest.raises(ValueError, match="m \\(packing\\): expected a whole number of at least 1, got 0"):
        collapse.train_toy_gan(collapse.ring(), m=0, steps=1)
    with pytest.raises(ValueError, match=r"betas: Adam's two betas were expected, e.g. \(0.5, 0.999\); got 0.5"):
        collapse.train_toy_gan(collapse.ring(), steps=1, betas=0.5)
    with pytest.raises(ValueError, match="each of Adam's betas: expected a number at least 0 and below 1, got 1.0"):
        collapse.train_toy_gan(collapse.ring(), steps=1, betas=(0.5, 1.0))


def test_the_demo_refuses_more_sliders_than_noise():
    with pytest.raises(ValueError, match="sliders: expected at most latent_dim = 64, got 65"):
        DigitDemo(models.ConditionalGenerator(), 64, sliders=65)


def test_fit_refuses_a_budget_that_trains_nothing():
    for budget, message in (({"epochs": 0}, "epochs: expected a whole number of at least 1, got 0"),
                            ({"epochs": 1, "steps": 0}, "steps: expected a whole number of at least 1, got 0"),
                            ({"epochs": 1, "seconds": -1}, "seconds: expected a number above 0, got -1"),
                            ({"epochs": 1, "first_epoch": 0}, "first_epoch: expected a whole number of at least 1")):
        with pytest.raises(ValueError, match=message):
            loop.fit(lambda real: {}, [torch.zeros(2, 2)], loop.Budget(**budget))
    with pytest.raises(ValueError, match="epochs: expected a whole number of at least 1, got 0"):
        loop.fit(lambda real: {}, [torch.zeros(2, 2)], 0)


def test_small_helpers_refuse_counts_that_make_nothing():
    with pytest.raises(ValueError, match="n \\(samples\\): expected a whole number of at least 1, got 0"):
        metrics.sample_images(torch.nn.Linear(4, 784), (4,), 0)
    with pytest.raises(ValueError, match="styles must be style labels from 0 to 19 .*max 25"):
        styles.style_sizes(torch.tensor([3, 25]), 2)
    with pytest.raises(ValueError, match="steps \\(pictures in the strip\\): expected a whole number of at least 2"):
        DigitDemo(models.ConditionalGenerator(), 64).morph(1, 7, torch.zeros(1, 64), steps=0)


def test_the_flag_types_accept_what_they_should():
    assert flags.number(above=0)("2e-3") == 2e-3
    assert flags.number(at_least=0, below=1)("0") == 0.0
    assert flags.whole(0)("0") == 0 and flags.positive_int("7") == 7


def test_a_budget_that_trains_nothing_and_misused_hooks_are_refused_before_training():
    import pytest

    from helpers import hooks, loop

    with pytest.raises(ValueError, match="first_epoch 5 is past the last epoch, 3: nothing would train"):
        loop.Budget(3, first_epoch=5)
    steps = []
    batches = [1, 2]
    for bad, words in ((hooks.TrainMode, "hooks takes a list of hooks; put this one in a list"),
                       (hooks.TrainMode(), "hooks takes a list of hooks; put this one in a list"),
                       ([hooks.Progress], "hooks[0] is the class Progress; pass an object of it, Progress(...)"),
                       ([3], "hooks[0] is a int (3), not a Hook"),
                       (7, "hooks takes a list of Hook objects, got a int (7)")):
        with pytest.raises(TypeError, match=re.escape(words)):
            loop.fit(lambda x: steps.append(x) or {}, batches, 1, hooks=bad)
    assert not steps, "a step ran before the hooks were checked"
    with pytest.raises(TypeError, match=r"Schedule takes a function change\(share\)"):
        hooks.Schedule(0.5)
