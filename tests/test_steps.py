"""helpers.steps, loop, models and recipes: losses, one step, the loop, history, and the recipes' exact shapes."""

import math

import pytest
import torch

from helpers import build, hooks, loop, models, recipes, steps
from helpers.build import apply_speed_options, build_gan


def test_losses_match_hand_computed_values():
    d_real = torch.tensor([[0.8], [0.6]])
    d_fake = torch.tensor([[0.3], [0.1]])
    expected_d = -(math.log(0.8) + math.log(0.6)) / 2 - (math.log(0.7) + math.log(0.9)) / 2
    assert steps.discriminator_loss(d_real, d_fake).item() == pytest.approx(expected_d, rel=1e-6)
    expected_g = -(math.log(0.3) + math.log(0.1)) / 2
    assert steps.generator_loss(d_fake).item() == pytest.approx(expected_g, rel=1e-6)


def test_logit_losses_equal_probability_losses_and_smoothing_changes_targets():
    logits = torch.tensor([[2.0], [-1.0]])
    probs = torch.sigmoid(logits)
    a = steps.discriminator_loss(logits, -logits, logits=True)
    b = steps.discriminator_loss(probs, 1 - probs)
    assert a.item() == pytest.approx(b.item(), rel=1e-5)
    smoothed = steps.discriminator_loss(probs, 1 - probs, real_target=0.9, fake_target=0.1)
    expected = -(0.9 * torch.log(probs) + 0.1 * torch.log(1 - probs)).mean() * 2
    assert smoothed.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("name, g_params, d_params", [
    ("r1", 100 * 256 + 256 + 256 * 512 + 512 + 512 * 784 + 784, 784 * 512 + 512 + 512 * 256 + 256 + 257),
    ("r2", 64 * 256 + 256 + 256 * 256 + 256 + 256 * 784 + 784, 784 * 256 + 256 + 256 * 256 + 256 + 257),
    ("r3", 100 * 256 + 256 + 256 * 784 + 784, 784 * 256 + 256 + 257),
    ("r4", 100 * 12544 + 2 * 12544 + 256 * 128 * 25 + 2 * 128 + 128 * 64 * 25 + 2 * 64 + 64 * 25,
     64 * 25 + 64 + 64 * 128 * 25 + 128 + 6272 + 1),
    ("r5", sum(i * o * 16 + o for i, o in [(256, 1024), (1024, 512), (512, 256), (256, 128), (128, 1)])
     + 2 * (512 + 256 + 128),
     sum(i * o * 16 + o for i, o in [(1, 64), (64, 128), (128, 256), (256, 512), (512, 1)]) + 2 * (128 + 256 + 512)),
])
def test_recipe_networks_have_the_reference_sizes(name, g_params, d_params):
    recipe = recipes.get_recipe(name)
    G, D = recipe.build_generator(), recipe.build_discriminator()
    assert models.count_parameters(G) == g_params
    assert models.count_parameters(D) == d_params
    G.eval()
    images = G(torch.randn(5, *recipe.latent_shape))
    size = recipe.image_size
    assert images.shape == (5, 1, size, size)
    low = 0.0 if recipe.pixel_range == "unit" else -1.0
    assert images.min() >= low and images.max() <= 1
    out = D(images)
    assert out.shape == (5, 1)
    if not recipe.logits:
        assert out.min() >= 0 and out.max() <= 1


def test_r4_transposed_convolutions_go_7_14_28():
    G = models.r4_generator().eval()
    sizes = []
    x = torch.randn(2, 100)
    for layer in G:
        x = layer(x)
        if isinstance(layer, torch.nn.ConvTranspose2d):
            sizes.append(x.shape[-1])
    assert sizes == [7, 14, 28]


def test_dcgan_init_draws_the_dcgan_distributions():
    torch.manual_seed(0)
    G = models.r5_generator()
    G.apply(models.dcgan_init)
    convs = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    norms = torch.cat([m.weight for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(convs.mean().item()) < 1e-3 and abs(convs.std().item() - 0.02) < 1e-3
    assert abs(norms.mean().item() - 1) < 0.01 and abs(norms.std().item() - 0.02) < 0.01


def test_recipe_hyperparameters_are_the_reference_ones():
    r1, r2, r3 = (recipes.get_recipe(n) for n in ("r1", "r2", "r3"))
    assert (r1.batch_size, r1.epochs, r1.lr, r1.pixel_range, r1.reuse_fake) == (64, 100, 2e-4, "unit", True)
    assert (r2.batch_size, r2.epochs, r2.latent_shape, r2.reuse_fake, r2.sample_every) == (100, 20, (64,), False, 5)
    assert (r3.batch_size, r3.epochs, r3.latent_shape, r3.sample_every, r3.n_samples) == (64, 200, (100,), 3, 16)
    assert all(r.betas == (0.9, 0.999) for r in (r1, r2, r3))
    r4, r5 = recipes.get_recipe("r4"), recipes.get_recipe("r5")
    assert (r4.batch_size, r4.epochs, r4.lr, r4.logits, r4.n_samples) == (256, 50, 1e-4, True, 16)
    assert (r5.dataset, r5.image_size, r5.batch_size, r5.lr, r5.betas, r5.seed) == (
        "fashion_mnist", 64, 1024, 5e-4, (0.5, 0.999), 42)
    assert (r5.real_target, r5.fake_target, r5.g_target, r5.latent_shape) == (0.9, 0.1, 1.0, (256, 1, 1))
    with pytest.raises(ValueError, match="choose one of"):
        recipes.get_recipe("r99")


@pytest.mark.parametrize("reuse_fake", [False, True])
def test_train_step_updates_both_and_keeps_numbers_on_the_device(reuse_fake):
    torch.manual_seed(0)
    gan = build_gan(recipes.get_recipe("r3"), "cpu")
    gan.reuse_fake = reuse_fake
    g_before = [p.clone() for p in gan.generator.parameters()]
    d_before = [p.clone() for p in gan.discriminator.parameters()]
    stats = steps.train_step(gan, torch.rand(8, 1, 28, 28) * 2 - 1)
    assert set(stats) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad for v in stats.values())
    assert all(not torch.equal(a, b) for a, b in zip(g_before, gan.generator.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(d_before, gan.discriminator.parameters()))


def test_history_syncs_per_epoch_and_round_trips():
    history = loop.History()
    for i in range(4):
        history.log(d_loss=torch.tensor(float(i)), g_loss=torch.tensor(1.0))
    assert history.steps == {}  # nothing synced yet
    means = history.end_epoch()
    assert means == {"d_loss": 1.5, "g_loss": 1.0}
    assert history.steps["d_loss"] == [0.0, 1.0, 2.0, 3.0] and history.epochs["d_loss"] == [1.5]
    copy = loop.History()
    copy.load_state_dict(history.state_dict())
    assert copy.epochs == history.epochs and copy.steps == history.steps
    with pytest.raises(ValueError, match="single numbers"):
        history.log(d_loss=torch.zeros(3))


@pytest.mark.gpu
def test_train_step_runs_on_cuda():
    gan = build_gan(recipes.get_recipe("r2"), "cuda")
    stats = steps.train_step(gan, torch.rand(16, 1, 28, 28, device="cuda") * 2 - 1)
    assert all(v.device.type == "cuda" for v in stats.values())


def test_mixed_precision_path_runs_and_keeps_losses_in_float32():
    """bf16 autocast also works on the CPU, so the speed options' code is exercised here."""
    torch.manual_seed(0)
    gan = apply_speed_options(build_gan(recipes.get_recipe("r4"), "cpu"), amp=True, channels_last=True)
    stats = steps.train_step(gan, torch.rand(4, 1, 28, 28) * 2 - 1)
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in stats.values())


@pytest.mark.gpu
def test_gpu_fast_path_trains_the_dcgan():
    gan = apply_speed_options(build_gan(recipes.get_recipe("r4"), "cuda"), amp=True, channels_last=True, compile=True)
    for _ in range(3):
        stats = steps.train_step(gan, torch.rand(64, 1, 28, 28, device="cuda") * 2 - 1)
    assert all(torch.isfinite(v) for v in stats.values())


def _two_pass_d_step(gan, real, fake):
    """The textbook D step, one pass per batch: the reference the joint pass must match."""
    d_loss = steps.discriminator_loss(gan.discriminator(real), gan.discriminator(fake))
    gan.opt_d.zero_grad()
    d_loss.backward()
    return d_loss


def test_joint_d_pass_gives_the_same_loss_and_gradients_as_two_passes():
    """Without BatchNorm, one pass over real+fake is the same algorithm, only faster."""
    torch.manual_seed(0)
    gan = build_gan(recipes.get_recipe("r2"), "cpu")
    gan.discriminator.eval()  # no dropout here, so both routes see the same network
    real, fake = torch.rand(8, 1, 28, 28) * 2 - 1, torch.rand(8, 1, 28, 28) * 2 - 1
    expected = _two_pass_d_step(gan, real, fake)
    expected_grads = [p.grad.clone() for p in gan.discriminator.parameters()]
    d_real, d_fake = steps.discriminate(gan.discriminator, real, fake)
    assert d_real.shape == d_fake.shape == (8, 1)
    gan.opt_d.zero_grad()
    loss = steps.discriminator_loss(d_real, d_fake)
    loss.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    for got, want in zip((p.grad for p in gan.discriminator.parameters()), expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)


def _batch_sizes_seen(module):
    """Record the batch size of every forward call of ``module``."""
    seen = []
    module.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[0]))
    return seen


def test_d_with_batchnorm_never_sees_real_and_fake_mixed():
    bn_d = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 8), torch.nn.BatchNorm1d(8),
                               torch.nn.Linear(8, 1))
    plain_d = models.r3_discriminator()
    assert steps.uses_batch_statistics(bn_d) and not steps.uses_batch_statistics(plain_d)
    real, fake = torch.zeros(4, 1, 28, 28), torch.ones(6, 1, 28, 28)
    bn_seen, plain_seen = _batch_sizes_seen(bn_d), _batch_sizes_seen(plain_d)
    steps.discriminate(bn_d, real, fake)
    steps.discriminate(plain_d, real, fake)
    assert bn_seen == [4, 6] and plain_seen == [10]


def test_discriminate_names_both_shapes_when_g_forgets_to_reshape():
    with pytest.raises(ValueError, match=r"real: shape \(4, 1, 28, 28\).*fake: shape \(4, 784\)"):
        steps.discriminate(models.r3_discriminator(), torch.zeros(4, 1, 28, 28), torch.zeros(4, 784))


# --- the learning rate's fall and the speed options of a recipe ----------------------------------

def test_share_done_is_the_most_used_up_budget():
    assert loop.share_done(0.2, None, 0.7) == 0.7
    assert loop.share_done(0.9, 0.4, None) == 0.9
    assert loop.share_done(1.3) == 1.0  # a deadline overshot by one step still reads "done"


def test_fit_tells_the_schedule_how_far_the_run_is_by_steps_and_by_epochs():
    seen = []
    loop.fit(lambda real: {"loss": real.sum()}, [torch.ones(1)] * 4, 3, hooks=[hooks.Schedule(seen.append)])
    assert seen == pytest.approx([i / 12 for i in range(12)])
    seen.clear()
    history = loop.fit(lambda real: {"loss": real.sum()}, [torch.ones(1)] * 4, loop.Budget(100, steps=5),
                       hooks=[hooks.Schedule(seen.append)])
    assert seen == pytest.approx([i / 5 for i in range(5)])  # the step budget ends the run, so it counts
    assert len(history.steps["loss"]) == 5 and len(history.epochs["loss"]) == 2


def test_the_learning_rate_holds_then_falls_linearly_to_its_end_share():
    from helpers.build import falling_lr
    recipe = recipes.get_recipe("cgan")
    assert recipe.lr_decay_to == 0.1
    lrs = [falling_lr(recipe, share) / recipe.lr for share in (0.0, 0.5, 0.75, 1.0)]
    assert lrs == pytest.approx([1.0, 1.0, 0.55, 0.1])
    assert falling_lr(recipes.get_recipe("course-dcgan"), 1.0) == recipes.get_recipe("course-dcgan").lr


def test_a_recipe_run_ends_at_its_lowered_learning_rate(tmp_path):
    from helpers import checkpoints, runs
    recipe = recipes.get_recipe("cgan")
    runs.run_recipe(recipe, tmp_path, max_steps=4, limit=128, progress=False, evaluate=False)
    state = checkpoints.read_checkpoint(tmp_path / "checkpoint.pt")
    last = build.falling_lr(recipe, 3 / 4)  # set before the last of the 4 steps
    for name in ("opt_g", "opt_d"):
        assert state[name]["param_groups"][0]["lr"] == pytest.approx(last), name


def test_a_recipes_bfloat16_is_used_only_where_it_is_fast(monkeypatch, capsys):
    from helpers import build
    recipe = recipes.get_recipe("cgan")
    assert recipe.amp and recipe.channels_last
    monkeypatch.setattr(build, "fast_bfloat16", lambda device: False)
    assert build.speed_options(recipe, torch.device("cpu")) == {"amp": False, "channels_last": True}
    assert "bfloat16 is slow on this cpu, so it trains in float32" in capsys.readouterr().out
    assert build.speed_options(recipe, torch.device("cpu"), {"amp": True})["amp"]  # asked for: always on
    monkeypatch.setattr(build, "fast_bfloat16", lambda device: True)
    assert build.speed_options(recipe, torch.device("cpu"), {"amp": False, "compile": False}) == {
        "amp": True, "channels_last": True}
    assert build.speed_options(recipes.get_recipe("r3"), torch.device("cpu")) == {"amp": False, "channels_last": False}


def test_fast_bfloat16_answers_for_every_device():
    from helpers.runtime import fast_bfloat16
    assert isinstance(fast_bfloat16("cpu"), bool) and fast_bfloat16("meta") is False


class Recorder(loop.Hook):
    """Writes down every moment ``fit`` calls it at."""

    def __init__(self):
        self.seen = []

    def start_epoch(self, epoch, steps, budget):
        self.seen.append(("start", epoch, steps))

    def before_step(self, share):
        self.seen.append(("before", round(share, 3)))

    def after_step(self):
        self.seen.append(("after",))

    def end_epoch(self, epoch, history, means, last):
        self.seen.append(("end", epoch, dict(means), last))


def test_fit_calls_each_hook_at_its_four_moments_and_passes_labelled_batches_as_two_arguments():
    recorder, given = Recorder(), []

    def step(images, labels):
        given.append((images.shape, labels.tolist()))
        return {"loss": images.sum()}

    batches = [(torch.ones(2, 3), torch.tensor([1, 2])), (torch.zeros(2, 3), torch.tensor([3, 4]))]
    history = loop.fit(step, batches, loop.Budget(2, steps=3), hooks=[recorder])
    assert given == [((2, 3), [1, 2]), ((2, 3), [3, 4]), ((2, 3), [1, 2])]
    assert recorder.seen == [("start", 1, 2), ("before", 0.0), ("after",), ("before", 0.333), ("after",),
                             ("end", 1, {"loss": 3.0}, False),
                             ("start", 2, 1), ("before", 0.667), ("after",), ("end", 2, {"loss": 6.0}, True)]
    assert history.steps["loss"] == [6.0, 0.0, 6.0]
