"""The average of G's weights: its arithmetic, training through it, and checkpoints that keep it."""

import dataclasses

import pytest
import torch
from torch import nn

from helpers import build, checkpoints, recipes, runs
from helpers.averaging import WeightAverage
from helpers.saved_runs import load_generator


def tiny_generator():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh())


def test_the_average_follows_the_formula_with_its_warm_up():
    G = tiny_generator()
    average = WeightAverage(G, decay=0.5)
    expected = G[0].weight.detach().clone()
    for t in range(6):
        with torch.no_grad():
            G[0].weight.add_(1.0)
        decay = min(0.5, (1 + t) / (10 + t))
        expected = decay * expected + (1 - decay) * G[0].weight.detach()
        average.update(G)
    assert average.updates == 6
    assert torch.allclose(average.network[0].weight, expected)
    assert not torch.equal(average.network[0].weight, G[0].weight)


def test_batchnorm_statistics_are_averaged_and_counters_copied():
    G = tiny_generator()
    average = WeightAverage(G, decay=0.9)
    G.train()
    G(torch.randn(32, 3) * 5 + 3)  # moves BatchNorm's running statistics
    average.update(G)  # first update: decay 0.1, so 90% of the way
    bn, mine = G[1], average.network[1]
    assert torch.allclose(mine.running_mean, 0.1 * torch.zeros(4) + 0.9 * bn.running_mean)
    assert int(mine.num_batches_tracked) == int(bn.num_batches_tracked) == 1


def test_the_average_is_never_trained_and_draws_in_eval_mode():
    G = tiny_generator()
    average = WeightAverage(G)
    assert not average.network.training
    assert all(not p.requires_grad for p in average.network.parameters())
    average.update(G)
    assert all(p.grad is None for p in average.network.parameters())


@pytest.mark.parametrize("decay", [1.0, -0.1, 1.5])
def test_a_decay_outside_its_range_is_refused(decay):
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\)"):
        WeightAverage(tiny_generator(), decay=decay)


def averaged_r3():
    return dataclasses.replace(recipes.get_recipe("r3"), average_decay=0.99)


def test_a_training_step_updates_the_average_and_snapshots_use_it(tmp_path, monkeypatch):
    monkeypatch.setitem(recipes.RECIPES, "r3", averaged_r3())
    runs.run_recipe(recipes.get_recipe("r3"), tmp_path, epochs=1, limit=256, device="cpu", progress=False,
                    evaluate=False)
    state = checkpoints.read_checkpoint(tmp_path / "checkpoint.pt")
    assert state["average"]["updates"] == 4  # 256 images in batches of 64
    some = next(iter(state["generator"]))
    assert not torch.equal(state["average"]["network"][some], state["generator"][some])
    _, drawn = load_generator(tmp_path / "checkpoint.pt", "cpu")
    assert torch.equal(drawn.state_dict()[some], state["average"]["network"][some])


def test_a_resumed_run_with_an_average_matches_an_uninterrupted_one(tmp_path, monkeypatch):
    monkeypatch.setitem(recipes.RECIPES, "r3", averaged_r3())
    recipe = recipes.get_recipe("r3")
    kwargs = dict(limit=256, device="cpu", progress=False, evaluate=False)
    runs.run_recipe(recipe, tmp_path / "straight", epochs=2, **kwargs)
    runs.run_recipe(recipe, tmp_path / "resumed", epochs=1, **kwargs)
    runs.run_recipe(recipe, tmp_path / "resumed", epochs=2, resume=True, **kwargs)
    a = checkpoints.read_checkpoint(tmp_path / "straight" / "checkpoint.pt")["average"]
    b = checkpoints.read_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["average"]
    assert a["updates"] == b["updates"] == 8
    for key in a["network"]:
        assert torch.equal(a["network"][key], b["network"][key]), key


def test_resuming_a_checkpoint_without_an_average_starts_it_from_the_saved_generator(tmp_path, monkeypatch):
    kwargs = dict(limit=256, device="cpu", progress=False, evaluate=False)
    runs.run_recipe(recipes.get_recipe("r3"), tmp_path, epochs=1, **kwargs)
    monkeypatch.setitem(recipes.RECIPES, "r3", averaged_r3())
    gan = build.build_gan(recipes.get_recipe("r3"), "cpu")
    checkpoints.load_checkpoint(tmp_path / "checkpoint.pt", gan)
    assert gan.average.updates == 0
    for mine, theirs in zip(gan.average.network.parameters(), gan.generator.parameters()):
        assert torch.equal(mine, theirs)


def test_a_diverged_average_is_never_saved(tmp_path):
    gan = build.build_gan(averaged_r3(), "cpu")
    with torch.no_grad():
        next(gan.average.network.parameters()).fill_(float("nan"))
    with pytest.raises(checkpoints.CheckpointError, match="average of the generator's weights"):
        checkpoints.save_checkpoint(tmp_path / "c.pt", gan, runs.History(), 1)
    assert not (tmp_path / "c.pt").exists()
