"""Checkpoints: atomic writes, exact resume, and clear errors for bad files."""

import pytest
import torch

from helpers import build, checkpoints, recipes, runs, saved_runs
from helpers.loop import History


def small_run(out, **kwargs):
    return runs.run_recipe(recipes.get_recipe("r3"), out, limit=256, device="cpu", progress=False, **kwargs)


def test_resumed_cpu_run_matches_an_uninterrupted_one_bit_for_bit(tmp_path):
    small_run(tmp_path / "straight", epochs=3)
    small_run(tmp_path / "resumed", epochs=1)
    small_run(tmp_path / "resumed", epochs=3, resume=True)
    a = checkpoints.read_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = checkpoints.read_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert a["epoch"] == b["epoch"] == 3
    for part in ("generator", "discriminator"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs after resuming"
    assert a["history"] == b["history"]


def test_a_run_writes_every_artefact(tmp_path):
    small_run(tmp_path, epochs=2)
    for name in ("checkpoint.pt", "losses.png", "samples.gif", "real_images.png", "history.json"):
        assert (tmp_path / name).is_file(), name
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "epoch_0000.png", "epoch_0001.png", "epoch_0002.png"]


def test_a_new_run_never_overwrites_a_saved_one(tmp_path):
    small_run(tmp_path, epochs=1)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(FileExistsError, match="--resume"):
        small_run(tmp_path, epochs=1)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_an_interrupted_save_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    small_run(tmp_path, epochs=1)
    path = tmp_path / "checkpoint.pt"
    before = path.read_bytes()

    def crash_halfway(obj, handle):
        handle.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.torch, "save", crash_halfway)
    gan = build.build_gan(recipes.get_recipe("r3"), "cpu")
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save_checkpoint(path, gan, History(), 2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    small_run(tmp_path, epochs=1)
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:2000])
    gan = build.build_gan(recipes.get_recipe("r3"), "cpu")
    with pytest.raises(checkpoints.CheckpointError, match=r"checkpoint.pt cannot be read .* truncated or damaged"):
        checkpoints.load_checkpoint(path, gan)


def test_checkpoint_of_another_architecture_names_the_mismatch(tmp_path):
    small_run(tmp_path, epochs=1)
    gan = build.build_gan(recipes.get_recipe("r1"), "cpu")
    with pytest.raises(checkpoints.CheckpointError, match=r"checkpoint.pt: the generator"):
        checkpoints.load_checkpoint(tmp_path / "checkpoint.pt", gan)


def test_shape_mismatch_is_named(tmp_path):
    gan = build.build_gan(recipes.get_recipe("r3"), "cpu")
    checkpoints.save_checkpoint(tmp_path / "c.pt", gan, History(), 1)
    other = build.build_gan(recipes.get_recipe("r3"), "cpu")
    other.generator[0] = torch.nn.Linear(100, 128)
    other.generator[2] = torch.nn.Linear(128, 784)
    with pytest.raises(checkpoints.CheckpointError, match=r"'0.weight' has shape \(256, 100\) in the checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "c.pt", other)


def test_a_file_that_is_not_a_checkpoint(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    gan = build.build_gan(recipes.get_recipe("r3"), "cpu")
    with pytest.raises(checkpoints.CheckpointError, match="not a GAN course checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "other.pt", gan)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        checkpoints.load_checkpoint(tmp_path / "missing.pt", gan)


def test_a_scoreboard_run_is_reused_and_a_stale_one_set_aside_never_deleted(tmp_path, monkeypatch, capsys):
    import dataclasses

    from helpers import models
    r3 = recipes.get_recipe("r3")
    first = saved_runs.trained_generator(r3, tmp_path / "board", 3, device="cpu", limit=256)
    again = saved_runs.trained_generator(r3, tmp_path / "board", 3, device="cpu", limit=256)  # reused: no training
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    saved = (tmp_path / "board" / "checkpoint.pt").read_bytes()
    wider = dataclasses.replace(r3, build_generator=lambda: models.r2_generator(latent_dim=100))
    monkeypatch.setitem(recipes.RECIPES, "r3", wider)  # as if a newer course changed the recipe's networks
    G = saved_runs.trained_generator(wider, tmp_path / "board", 3, device="cpu", limit=256)
    assert "it is kept as" in capsys.readouterr().out
    assert (tmp_path / "board-old-1" / "checkpoint.pt").read_bytes() == saved
    assert models.count_parameters(G) == models.count_parameters(wider.build_generator())
