"""Session 6's losses (helpers.losses): the game's identity, each loss's value, the gradient penalty, power
iteration, and a GAN that trains with a penalty and several critic steps per G step."""

import math

import pytest
import torch
from torch import nn

from helpers import build, collapse, losses, recipes
from helpers.steps import GAN, train_step


def grid_densities():
    x = torch.linspace(-4, 8, 400, dtype=torch.float64)
    p = torch.exp(-0.5 * x ** 2) + torch.exp(-0.5 * (x - 2) ** 2)
    q = torch.exp(-0.5 * ((x - 1) / 1.5) ** 2)
    return p / p.sum(), q / q.sum()


def test_against_the_optimal_d_the_game_is_minus_log_4_plus_twice_the_jsd():
    p, q = grid_densities()
    value = losses.game_value(losses.optimal_discriminator(p, q), p, q)
    assert value.item() == pytest.approx(-math.log(4) + 2 * losses.js_divergence(p, q).item(), abs=1e-10)
    # any other D scores lower: D* is the maximum
    assert losses.game_value(torch.full_like(p, 0.5), p, q) < value
    assert losses.js_divergence(p, p).item() == pytest.approx(0, abs=1e-12)
    apart = torch.zeros_like(p)
    apart[-10:] = 0.1
    left = p * (torch.arange(len(p)) < 300)
    assert losses.js_divergence(left / left.sum(), apart).item() == pytest.approx(math.log(2))


def test_the_game_refuses_densities_it_cannot_compare():
    p, q = grid_densities()
    with pytest.raises(ValueError, match="p_g must hold probabilities"):
        losses.optimal_discriminator(p, torch.full_like(q, float("nan")))
    with pytest.raises(ValueError, match="on the same points"):
        losses.js_divergence(p, q[:10])
    with pytest.raises(ValueError, match="p_data must hold probabilities"):
        losses.optimal_discriminator(-p, q)


def test_each_loss_on_hand_computed_scores():
    real, fake = torch.tensor([[2.0], [0.5]]), torch.tensor([[-3.0], [0.0]])
    assert losses.lsgan_discriminator_loss(real, fake).item() == pytest.approx(0.5 * 1.25 / 2 + 0.5 * 9 / 2)
    assert losses.lsgan_generator_loss(fake).item() == pytest.approx(0.5 * (16 + 1) / 2)
    assert losses.hinge_discriminator_loss(real, fake).item() == pytest.approx(0.5 / 2 + 1 / 2)
    assert losses.raise_fake_scores(fake).item() == pytest.approx(1.5)
    assert losses.wasserstein_critic_loss(real, fake).item() == pytest.approx(-1.5 - 1.25)


def test_the_penalty_of_a_linear_critic_is_its_weights_distance_from_norm_1_and_it_trains_the_critic():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(4, 1))
    with torch.no_grad():
        critic[1].weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 0.0]]))
    real, fake = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2)
    penalty = losses.gradient_penalty(critic, real, fake, losses.random_mix(real))
    assert penalty.item() == pytest.approx((5 - 1) ** 2)
    grad, = torch.autograd.grad(penalty, [critic[1].weight])  # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    assert torch.allclose(grad, 2 * 4 * critic[1].weight / 5)
    assert losses.random_mix(real).shape == (5, 1, 1, 1)


def test_power_iteration_approaches_the_largest_singular_value_from_below():
    torch.manual_seed(0)
    weight, u = torch.randn(16, 8, 3, 3), torch.randn(16)
    exact = torch.linalg.matrix_norm(weight.flatten(1), ord=2).item()
    estimates = []
    for _ in range(200):
        sigma, u = losses.spectral_norm_step(weight, u)
        estimates.append(sigma.item())
    assert all(e <= exact + 1e-4 for e in estimates) and estimates[-1] == pytest.approx(exact, rel=1e-3)
    normalised = losses.with_spectral_norm(nn.Sequential(nn.Linear(8, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1)))
    for _ in range(30):
        normalised(torch.randn(4, 8))
    for layer in (normalised[0], normalised[2]):
        assert torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item() == pytest.approx(1, abs=0.02)


def test_a_gan_with_n_critic_steps_g_every_n_th_batch_and_adds_its_penalty():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    D = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    calls = []

    def penalty(D, real, fake):
        calls.append(len(real))
        return torch.zeros(())

    gan = GAN(G, D, torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1),
              latent_shape=(2,), logits=True, pixel_range=None, penalty=penalty, n_critic=3,
              **{k: v for k, v in losses.gan_settings("hinge").items() if k in ("d_loss_fn", "g_loss_fn")})
    g_before = [p.detach().clone() for p in G.parameters()]
    for step in range(1, 7):
        numbers = train_step(gan, torch.randn(4, 2))
        g_moved = any(not torch.equal(p, b) for p, b in zip(G.parameters(), g_before))
        assert g_moved == (step >= 3), step  # G's first step comes with the third batch
        assert set(numbers) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert calls == [4] * 6 and gan.d_steps == 6
    with pytest.raises(ValueError, match="n_critic"):
        GAN(G, D, gan.opt_g, gan.opt_d, latent_shape=(2,), n_critic=0)


def test_every_loss_trains_the_toy_gan_and_a_packed_critic_is_penalised_on_packs():
    for name in losses.LOSSES:
        G, history = collapse.train_toy_gan(collapse.ring(), m=2, steps=6, batch_size=16, loss=name, d_hidden=16)
        assert len(history.steps["d_loss"]) == 6 * losses.LOSSES[name].n_critic, name
        assert torch.isfinite(collapse.generate_points(G, 50)).all()
    with pytest.raises(ValueError, match="unknown loss 'wgan'; choose one of bce, lsgan, hinge, wgan-gp, bce-sn"):
        collapse.train_toy_gan(collapse.ring(), steps=2, loss="wgan")
    with pytest.raises(ValueError, match="cannot be combined with loss='hinge'"):
        collapse.train_toy_gan(collapse.ring(), steps=2, loss="hinge", g_loss_fn=collapse.saturating_generator_loss)


def test_each_loss_has_a_recipe_and_a_sigmoid_d_is_refused():
    for name, recipe_name in recipes.LOSS_RECIPES.items():
        recipe = recipes.get_recipe(recipe_name)
        assert recipe.loss == name and recipe.build_discriminator is recipes.RECIPES["course-dcgan"].build_discriminator
        gan = build.build_gan(recipe, torch.device("cpu"))
        assert gan.n_critic == losses.LOSSES[name].n_critic and (gan.penalty is not None) == (name == "wgan-gp")
        assert any("parametrizations" in key for key in gan.discriminator.state_dict()) == (name == "bce-sn")
    import dataclasses

    with pytest.raises(ValueError, match="the hinge loss reads D's raw scores: build D without its final Sigmoid"):
        build.build_gan(dataclasses.replace(recipes.get_recipe("r3"), loss="hinge"), torch.device("cpu"))


def test_a_gan_refuses_a_d_whose_last_layer_contradicts_its_loss():
    G = nn.Linear(2, 2)
    sigmoid_d, raw_d = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid()), nn.Sequential(nn.Linear(2, 1))

    def gan(D, **settings):
        return GAN(G, D, torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1),
                   latent_shape=(2,), pixel_range=None, **settings)

    lsgan = {k: v for k, v in losses.gan_settings("lsgan").items()}
    with pytest.raises(ValueError, match=r"the lsgan loss reads D's raw scores.*Sigmoid: True; logits=True"):
        gan(sigmoid_d, logits=True, **lsgan)
    with pytest.raises(ValueError, match=r"the lsgan loss reads D's raw scores.*Sigmoid: True; logits=False"):
        gan(sigmoid_d, **lsgan)
    with pytest.raises(ValueError, match=r"the lsgan loss reads D's raw scores.*Sigmoid: False; logits=False"):
        gan(raw_d, **lsgan)
    with pytest.raises(ValueError, match="logits=True says D returns raw scores, but D ends in a Sigmoid"):
        gan(sigmoid_d, logits=True)
    assert gan(raw_d, logits=True, **lsgan).n_critic == 1  # the right pairs are accepted
    assert gan(sigmoid_d).logits is False


def test_a_convolutions_norm_is_not_its_kernels_matrix_norm():
    torch.manual_seed(0)
    one_by_one = nn.Conv2d(3, 5, 1)  # a 1x1 convolution is the matrix applied at every pixel: the same norm
    matrix = torch.linalg.matrix_norm(one_by_one.weight.detach().flatten(1), ord=2).item()
    assert losses.convolution_norm(one_by_one, (3, 6, 6), steps=200) == pytest.approx(matrix, rel=1e-3)
    conv = losses.with_spectral_norm(nn.Conv2d(1, 8, 4, 2, 1))
    for _ in range(30):
        conv(torch.randn(2, 1, 28, 28))
    as_matrix = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2).item()
    assert as_matrix == pytest.approx(1.0, abs=1e-3)
    assert losses.convolution_norm(conv, (1, 28, 28)) > 1.2  # overlapping positions stretch more than the matrix
    with pytest.raises(ValueError, match=r"input_shape must be \[C, H, W\] with C = 1"):
        losses.convolution_norm(conv, (3, 28, 28))
    with pytest.raises(TypeError, match="conv must be an nn.Conv2d, got Linear"):
        losses.convolution_norm(nn.Linear(2, 2), (1, 2, 2))


def test_each_loss_names_its_papers_adam_and_its_recipe_trains_with_it():
    assert {name: (loss.lr, loss.betas) for name, loss in losses.LOSSES.items()} == {
        "bce": (2e-4, (0.5, 0.999)), "lsgan": (1e-3, (0.5, 0.999)), "hinge": (2e-4, (0.0, 0.9)),
        "wgan-gp": (1e-4, (0.0, 0.9)), "bce-sn": (2e-4, (0.0, 0.9))}
    for name, recipe_name in recipes.LOSS_RECIPES.items():
        recipe = recipes.get_recipe(recipe_name)
        assert (recipe.lr, recipe.betas) == (losses.LOSSES[name].lr, losses.LOSSES[name].betas), name
        assert losses.LOSSES[name].paper and losses.LOSSES[name].paper in recipe.notes


def test_session_6s_functions_refuse_what_they_cannot_compute_in_one_line():
    p, q = grid_densities()
    with pytest.raises(ValueError, match=r"q must be a probability vector summing to 1, got a sum of 2: divide it"):
        losses.js_divergence(p, 2 * q)
    with pytest.raises(ValueError, match=r"d must be D's probabilities .*got min -0.1 max 1.1"):
        losses.game_value(torch.linspace(-0.1, 1.1, len(p), dtype=p.dtype), p, q)
    with pytest.raises(ValueError, match=r"expected shape \(400,\), got \(3,\)"):
        losses.game_value(torch.full((3,), 0.5), p, q)
    critic = nn.Linear(2, 1)
    real, fake, eps = torch.randn(4, 2), torch.randn(4, 2), torch.rand(4, 1)
    with pytest.raises(ValueError, match=r"one score per sample, \[4, 1\] for this batch; it gave shape \(\)"):
        losses.gradient_penalty(lambda x: critic(x).mean(), real, fake, eps)
    with pytest.raises(ValueError, match=r"each weight in \[0, 1\]: expected values in \[0, 1\], got min -1"):
        losses.gradient_penalty(critic, real, fake, eps - 2 * eps.max())
    with pytest.raises(ValueError, match=r"eps must hold one mixing weight per sample, shape \(4, 1\), got \(4, 2\)"):
        losses.gradient_penalty(critic, real, fake, torch.rand(4, 2))
    weight = torch.randn(3, 5)
    with pytest.raises(ValueError, match=r"u is all zeros.*torch.randn\(weight.shape\[0\]\)"):
        losses.spectral_norm_step(weight, torch.zeros(3))
    with pytest.raises(ValueError, match="weight must hold finite numbers"):
        losses.spectral_norm_step(torch.full((3, 5), float("nan")), torch.ones(3))
    with pytest.raises(ValueError, match=r"u must have one entry per output of weight \(3\)"):
        losses.spectral_norm_step(weight, torch.ones(5))
    G, D = nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    with pytest.raises(ValueError, match="this D has BatchNorm, which mixes the samples"):
        GAN(G, D, torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1), (2,),
            logits=True, pixel_range=None, penalty=losses.penalty_term(10.0))


def test_session_6s_functions_name_a_wrong_shape_or_type_instead_of_a_torch_error():
    p, q = grid_densities()
    with pytest.raises(ValueError, match=r"p_data must have 1 dimensions, got 2"):
        losses.optimal_discriminator(p[None], q[None])
    for loss in (losses.lsgan_discriminator_loss, losses.hinge_discriminator_loss, losses.wasserstein_critic_loss):
        with pytest.raises(TypeError, match="d_real must be a torch.Tensor, got list"):
            loss([1.0], torch.zeros(2, 1))
        with pytest.raises(ValueError, match=r"d_fake must be D's raw scores, one per image, \[B, 1\] or \[B\] "
                                             r"with B > 0; got shape \(2, 10\)"):
            loss(torch.zeros(2, 1), torch.zeros(2, 10))
    for loss in (losses.lsgan_generator_loss, losses.raise_fake_scores):
        with pytest.raises(ValueError, match=r"d_fake must be D's raw scores.*got shape \(0, 1\)"):
            loss(torch.zeros(0, 1))
        with pytest.raises(TypeError, match=r"d_fake must have dtype .*, got torch.int64"):
            loss(torch.zeros(2, 1, dtype=torch.long))
    assert losses.lsgan_discriminator_loss(torch.ones(3), torch.zeros(2, 1)) == 0  # [B] and [B, 1] both read
    with pytest.raises(ValueError, match=r"the critic could not score the mixed batch \(shape \(3, 5\).*\): "
                                         r"mat1 and mat2 shapes cannot be multiplied"):
        losses.gradient_penalty(nn.Linear(4, 1), torch.zeros(3, 5), torch.zeros(3, 5), torch.rand(3, 1))
    with pytest.raises(ValueError, match=r"weight must be a layer's weight, \[out, in\] or a kernel "
                                         r"\[out, in, k, k\], got shape \(5,\)"):
        losses.spectral_norm_step(torch.randn(5), torch.randn(5))
    with pytest.raises(TypeError, match="network must be an nn.Module .*, got str"):
        losses.with_spectral_norm("D")
