"""Bad input gets a clear error and saved work is never lost: one test per kind of fault."""

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from commandlines import refused_by_argparse
from helpers import build, checkpoints, data, recipes, steps, train
from helpers.loop import History
from helpers.runtime import REPO_ROOT


def r3_gan():
    torch.manual_seed(0)
    return build.build_gan(recipes.get_recipe("r3"), "cpu")


# --- the real batch is checked at the door of every training step ---------------------------

@pytest.mark.parametrize("batch, message", [
    (torch.rand(8, 1, 28, 28) * 255, r"'tanh' range \[-1, 1\]: expected values in \[-1, 1\], got min"),
    (torch.full((8, 1, 28, 28), float("nan")), "NaN"),
    (torch.randint(0, 255, (8, 1, 28, 28), dtype=torch.uint8), "convert_pixels"),
    (torch.rand(8, 1, 28, 28, dtype=torch.float64).float()[:0], "at least 1 image"),
    (torch.rand(8, 28), r"images \[B, C, H, W\]|same shape"),
    ([[0.0]], "torch.Tensor"),
])
def test_train_step_refuses_a_bad_batch_before_changing_anything(batch, message):
    gan = r3_gan()
    before = [p.clone() for p in gan.generator.parameters()] + [p.clone() for p in gan.discriminator.parameters()]
    with pytest.raises((TypeError, ValueError), match=message):
        steps.train_step(gan, batch)
    after = list(gan.generator.parameters()) + list(gan.discriminator.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, after)), "nothing may train on a refused batch"
    assert not gan.opt_d.state and not gan.opt_g.state, "Adam must not advance"


def test_batchnorm_needs_two_images_and_a_wrong_latent_size_is_named():
    gan = build.build_gan(recipes.get_recipe("r4"), "cpu")
    with pytest.raises(ValueError, match="at least 2 image"):
        steps.train_step(gan, torch.zeros(1, 1, 28, 28))
    gan = r3_gan()
    gan.latent_shape = (64,)
    with pytest.raises(ValueError, match=r"cannot take noise of shape \(4, 64\)"):
        steps.train_step(gan, torch.zeros(4, 1, 28, 28))
    assert all(p.requires_grad for p in gan.discriminator.parameters())


def test_a_nan_generator_is_refused_when_drawn_not_shown_as_a_black_grid():
    from helpers.snapshots import Snapshots

    G = torch.nn.Sequential(torch.nn.Linear(4, 784), torch.nn.Unflatten(1, (1, 28, 28)))
    torch.nn.init.constant_(G[0].weight, float("nan"))
    with pytest.raises(ValueError, match="3136 NaN value.*NaN here usually means training diverged"):
        Snapshots(torch.randn(4, 4)).take(G, 3)


# --- checkpoints: validate before replacing, check everything before loading ---------------

def test_saving_a_gan_without_data_or_with_nan_weights_keeps_the_good_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    gan = r3_gan()
    checkpoints.save_checkpoint(path, gan, History(), 1)
    good = path.read_bytes()
    on_meta = build.build_gan(recipes.get_recipe("r3"), "cpu")
    on_meta.generator.to("meta")
    with pytest.raises(checkpoints.CheckpointError, match="holds no data"):
        checkpoints.save_checkpoint(path, on_meta, History(), 2)
    with torch.no_grad():
        gan.discriminator[1].weight[0, 0] = float("nan")
    with pytest.raises(checkpoints.CheckpointError, match="diverged"):
        checkpoints.save_checkpoint(path, gan, History(), 2)
    assert path.read_bytes() == good
    assert checkpoints.read_checkpoint(path)["epoch"] == 1


def onto_a_full_disk(monkeypatch, module):
    """Make ``module``'s temporary ``.part`` files open onto ``/dev/full``: every write fails with ENOSPC, as on a
    full disk (torch.save straight into such a file fails with "[enforce fail at inline_container.cc] unexpected
    pos" instead, which is what the user used to see)."""
    real_open = open

    def full_open(path, mode="r", *args, **kwargs):
        if str(path).endswith(".part") and "w" in mode:
            return real_open("/dev/full", mode, *args, **kwargs)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(module, "open", full_open, raising=False)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to fill a disk")
def test_a_full_disk_is_one_sentence_and_the_previous_checkpoint_is_intact(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    checkpoints.save_checkpoint(path, r3_gan(), History(), 1)
    good = path.read_bytes()
    onto_a_full_disk(monkeypatch, checkpoints)
    with pytest.raises(checkpoints.CheckpointError, match=f"disk is full.*in {tmp_path}.*previous checkpoint.*intact"):
        checkpoints.save_checkpoint(path, r3_gan(), History(), 2)
    assert path.read_bytes() == good and not list(tmp_path.glob(".*.part"))


def _press_ctrl_c_mid_write(monkeypatch):
    """Make ``torch.save`` (as checkpoints calls it) receive a Ctrl-C after its first bytes."""
    import signal

    real_save = torch.save

    def pressed_mid_write(obj, handle):
        handle.write(b"PK")  # the write has begun when Ctrl-C comes
        handle.seek(0)
        os.kill(os.getpid(), signal.SIGINT)
        real_save(obj, handle)

    monkeypatch.setattr(checkpoints.torch, "save", pressed_mid_write)


@pytest.fixture
def sigint_handler():
    """Set SIGINT's handler for one test (a test may run in a process that ignores Ctrl-C); put it back after."""
    import signal

    before = signal.getsignal(signal.SIGINT)
    yield lambda handler: signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_during_a_save_finishes_the_save_then_stops(tmp_path, monkeypatch, sigint_handler):
    import signal

    sigint_handler(signal.default_int_handler)  # Python's usual Ctrl-C
    path = tmp_path / "c.pt"
    checkpoints.save_checkpoint(path, r3_gan(), History(), 1)
    _press_ctrl_c_mid_write(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save_checkpoint(path, r3_gan(), History(), 2)
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the usual Ctrl-C is back
    assert not list(tmp_path.glob(".*.part"))
    assert checkpoints.read_checkpoint(path)["epoch"] == 2


def test_an_ignored_ctrl_c_stays_ignored_during_a_save(tmp_path, monkeypatch, sigint_handler):
    """A process started in the background by a shell ignores Ctrl-C: a save must not turn one into an error."""
    import signal

    sigint_handler(signal.SIG_IGN)
    path = tmp_path / "c.pt"
    _press_ctrl_c_mid_write(monkeypatch)
    checkpoints.save_checkpoint(path, r3_gan(), History(), 1)  # no KeyboardInterrupt
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert checkpoints.read_checkpoint(path)["epoch"] == 1


@pytest.mark.parametrize("damage, message", [
    (lambda state: state.pop("rng"), r"lacks \['rng'\]"),
    (lambda state: state["rng"].pop("numpy"), "random number state is incomplete"),
    (lambda state: state.update(opt_d=torch.optim.SGD(torch.nn.Linear(784, 256).parameters(), lr=0.1,
                                                       momentum=0.9).state_dict()), "parameter groups|another kind"),
    (lambda state: state.update(opt_g="adam"), "not an optimiser state"),
])
def test_loading_checks_everything_first_so_nothing_is_half_loaded(tmp_path, damage, message):
    trained = r3_gan()
    steps.train_step(trained, torch.rand(8, 1, 28, 28) * 2 - 1)
    path = tmp_path / "c.pt"
    checkpoints.save_checkpoint(path, trained, History(), 1)
    state = torch.load(path, weights_only=False)
    damage(state)
    torch.save(state, path)
    fresh = r3_gan()
    before = {k: v.clone() for k, v in fresh.generator.state_dict().items()}
    with pytest.raises(checkpoints.CheckpointError, match=message):
        checkpoints.load_checkpoint(path, fresh, History())
    assert all(torch.equal(before[k], v) for k, v in fresh.generator.state_dict().items()), "G was overwritten"
    assert not fresh.opt_g.state and not fresh.opt_d.state
    steps.train_step(fresh, torch.rand(8, 1, 28, 28) * 2 - 1)  # the optimisers still work


def test_loading_into_networks_without_data_is_refused(tmp_path):
    path = tmp_path / "c.pt"
    checkpoints.save_checkpoint(path, r3_gan(), History(), 1)
    on_meta = r3_gan()
    on_meta.generator.to("meta")
    with pytest.raises(checkpoints.CheckpointError, match="meta device"):
        checkpoints.load_checkpoint(path, on_meta)


def test_stale_part_files_of_dead_processes_are_cleaned_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".checkpoint.pt.{dead.stdout.strip()}.part"
    stale.write_bytes(b"x" * 100)
    live = tmp_path / f".checkpoint.pt.{os.getpid()}.part"
    live.write_bytes(b"y")
    assert checkpoints.remove_stale_parts(tmp_path) == [stale]
    assert not stale.exists() and live.exists()


# --- data files ---------------------------------------------------------------------------

def test_a_folder_where_a_data_file_should_be_is_named(tmp_path):
    (tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").mkdir(parents=True)
    with pytest.raises(data.DataFileError, match="is a folder, but a data file was expected"):
        data.load_mnist("test", root=tmp_path, download=False)


# --- the command line ---------------------------------------------------------------------

def cli(*args):
    return subprocess.run([sys.executable, "-m", "helpers.train", *args], cwd=REPO_ROOT, capture_output=True, text=True)


def test_command_line_faults_are_one_line(tmp_path):
    done = cli("--recipe", "r4", "--limit", "1", "--out", str(tmp_path / "run"), "--no-eval")
    assert done.returncode == 1, done.stdout + done.stderr
    message = "--limit 1 leaves 1 training image; recipe r4 has BatchNorm"
    assert message in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_device_and_cuda_without_a_gpu_list_the_devices_there_are(tmp_path, capsys):
    err = refused_by_argparse(train.main, ["--recipe", "r3", "--device", "gpu", "--out", str(tmp_path)], capsys)
    assert "argument --device: unknown device 'gpu'; this machine has: " in err
    if not torch.cuda.is_available():
        err = refused_by_argparse(train.main, ["--recipe", "r3", "--device", "cuda", "--out", str(tmp_path)], capsys)
        assert "argument --device: device 'cuda' is not available on this machine; it has: cpu" in err


def test_an_output_path_under_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    done = cli("--recipe", "r3", "--out", str(tmp_path / "file" / "run"))
    assert done.returncode != 0 and "cannot write to" in done.stderr and "Traceback" not in done.stderr


def test_a_second_run_into_the_same_folder_is_refused(tmp_path):
    first = subprocess.Popen([sys.executable, "-m", "helpers.train", "--recipe", "r3", "--epochs", "1000",
                              "--limit", "640", "--out", str(tmp_path), "--no-progress", "--no-eval"],
                             cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "checkpoint.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        second = cli("--recipe", "r3", "--epochs", "1000", "--out", str(tmp_path), "--resume", "--no-eval")
        assert second.returncode == 1, second.stderr
        assert "another training run (process" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.kill()
        first.wait()


def test_ctrl_c_before_the_first_epoch_says_nothing_was_saved(tmp_path):
    import signal

    run = subprocess.Popen([sys.executable, "-m", "helpers.train", "--recipe", "r4", "--epochs", "1",
                            "--out", str(tmp_path), "--no-progress", "--no-eval"],
                           cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not (tmp_path / "real_images.png").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=120)
    assert run.returncode == 130, output
    assert "interrupted before the first epoch finished: nothing was saved" in output
    assert not (tmp_path / "checkpoint.pt").exists()
