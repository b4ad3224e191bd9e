"""python -m helpers.train: every recipe (each of session 6's code paths once) as a smoke run, resume, and one-line errors."""

import re
import subprocess
import sys

import pytest

from commandlines import refused_by_argparse
from helpers import train
from helpers.losses import get_loss
from helpers.recipes import RECIPES, get_recipe
from helpers.runtime import REPO_ROOT


def cli(*args):
    return subprocess.run([sys.executable, "-m", "helpers.train", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True)


# bce-dcgan is course-dcgan with DCGAN's Adam, and lsgan-dcgan and hinge-dcgan are course-dcgan with another pair
# of loss functions (and their papers' Adam), trained by the same code: tests/test_losses.py builds each one's GAN;
# here the recipes that add code paths (a penalty and critic steps, a spectrally normalised D in the checkpoint)
# run whole.
SAME_PATH_AS_COURSE_DCGAN = ("bce-dcgan", "lsgan-dcgan", "hinge-dcgan")


def in_process(capsys, *args):
    """``helpers.train``'s command line run in this process (no second start of Python and torch); its output.
    The command itself, in a process of its own, is run by the tests below."""
    code = train.main(list(args))
    printed = capsys.readouterr()
    assert code == 0, printed.err
    return printed.out


@pytest.mark.parametrize("recipe", sorted(set(RECIPES) - set(SAME_PATH_AS_COURSE_DCGAN)))
def test_every_recipe_runs_headless_and_resumes(recipe, tmp_path, capsys):
    # one batch, so one step, per epoch: 64 images, or 16 for the two costly DCGANs
    limit = "16" if recipe in ("r4", "r5") else "64"
    steps = get_loss(get_recipe(recipe).loss).n_critic  # G's first step comes after n_critic D steps
    done = in_process(capsys, "--recipe", recipe, "--max-steps", str(max(2, steps)), "--limit", limit,
                      "--out", str(tmp_path))
    for name in ("checkpoint.pt", "losses.png", "samples.gif", "real_images.png", "history.json"):
        assert (tmp_path / name).is_file(), name
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    again = in_process(capsys, "--recipe", recipe, "--max-steps", str(steps), "--limit", limit, "--out", str(tmp_path),
                       "--resume", "--no-eval")  # measuring was just tested, on the first call
    assert epochs_done(again) == epochs_done(done) + steps, "resume goes on with the next epoch"


def test_tensorboard_logs_are_readable(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    done = cli("--recipe", "r4", "--max-steps", "3", "--limit", "256", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {"step/d_loss", "step/g_loss", "epoch/d_real", "epoch/d_fake"} <= set(tags["scalars"])
    assert {"real", "fixed_noise"} <= set(tags["images"])
    assert len(events.Scalars("step/d_loss")) == 3


def epochs_done(stdout):
    return int(re.search(r"(\d+) epochs done", stdout).group(1))


@pytest.mark.parametrize("args, message", [
    (["--recipe", "r9"], "invalid choice: 'r9'"),
    (["--recipe", "r3", "--epochs", "-3"], "argument --epochs: expected a whole number of at least 1, got -3"),
    (["--recipe", "r3", "--max-steps", "many"], "expected a whole number"),
    (["--recipe", "r3", "--out", "/proc/not-writable"], "cannot write to the folder /proc/not-writable"),
])
def test_bad_flags_get_one_line_errors(args, message, capsys):
    assert message in refused_by_argparse(train.main, args, capsys)


def test_resume_without_a_run_and_a_damaged_checkpoint(tmp_path):
    done = cli("--recipe", "r3", "--resume", "--out", str(tmp_path))
    assert done.returncode == 1 and "nothing to resume" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "checkpoint.pt").write_bytes(b"\x00" * 100)
    done = cli("--recipe", "r3", "--resume", "--out", str(tmp_path))
    assert done.returncode == 1 and "cannot be read" in done.stderr and "Traceback" not in done.stderr


def test_ctrl_c_keeps_the_last_checkpoint_and_resume_goes_on(tmp_path):
    import signal
    import time

    from helpers.checkpoints import read_checkpoint

    run = subprocess.Popen(
        [sys.executable, "-m", "helpers.train", "--recipe", "r3", "--epochs", "1000", "--limit", "640",
         "--out", str(tmp_path), "--no-progress"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a real Ctrl-C, even from a background job
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # let it get into the middle of a later epoch
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=120)
    assert run.returncode == 130, output
    assert "continue with --resume" in output and "Traceback" not in output
    saved = read_checkpoint(tmp_path / "checkpoint.pt")["epoch"]
    assert saved >= 1
    again = cli("--recipe", "r3", "--epochs", str(saved + 1), "--limit", "640", "--out", str(tmp_path), "--resume")
    assert again.returncode == 0, again.stderr
    assert epochs_done(again.stdout) == saved + 1


@pytest.mark.gpu
@pytest.mark.parametrize("recipe", ["cgan", "course-dcgan"])
def test_a_cuda_run_resumes_on_cuda_and_is_measured_on_the_cpu(recipe, tmp_path):
    """The Colab-to-laptop path: train on the GPU, go on there, then evaluate on a CPU-only machine."""
    done = cli("--recipe", recipe, "--max-steps", "3", "--limit", "256", "--out", str(tmp_path), "--device", "cuda")
    assert done.returncode == 0, done.stderr
    again = cli("--recipe", recipe, "--max-steps", "2", "--limit", "256", "--out", str(tmp_path), "--device", "cuda",
                "--resume")
    assert again.returncode == 0, again.stderr
    assert epochs_done(again.stdout) == epochs_done(done.stdout) + 1
    measured = subprocess.run([sys.executable, "-m", "helpers.evaluate", "--checkpoint", str(tmp_path / "checkpoint.pt"),
                               "--device", "cpu", "--samples", "1000"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert measured.returncode == 0, measured.stderr
    assert "FD" in measured.stdout
