"""Session 6: why GANs are hard, and the losses that help: what the judge asks for each graded exercise of
``06_stable``, and how it marks it."""

import math

import torch
from torch import nn

from helpers import losses

from .marking import Exercise, as_list, draws, need, need_close, need_params, sgd_step
from .mlp_gan import FixedG, after_stale_step


SESSION = "06_stable"


def _densities(seed, n=40):
    """Two probability vectors ``[n]`` on the same points, each with a stretch of zeros (0 log 0 must be 0)."""
    g = draws(seed, 1)
    p, q = torch.rand(n, generator=g, dtype=torch.float64), torch.rand(n, generator=g, dtype=torch.float64)
    p[: n // 4] = 0  # where p has no mass
    q[-n // 4:] = 0  # where q has none
    q[n // 2: n // 2 + 3] = 0
    p[n // 2: n // 2 + 3] = 0  # where neither has any
    return p / p.sum(), q / q.sum()


def ask_optimal_discriminator(answer, seed):
    """``{"d": answer(p_data [40], p_g [40])}``: D* at each point."""
    return {"d": answer(*_densities(seed))}


def mark_optimal_discriminator(reply, seed):
    need_close(reply["d"], losses.optimal_discriminator(*_densities(seed)),
               "D* = p_data / (p_data + p_g), 0.5 where both are 0", 1e-6)


def ask_js_divergence(answer, seed):
    """``{"jsd": answer(p, q), "same": answer(p, p), "apart": answer(p, disjoint q)}``: three numbers."""
    p, q = _densities(seed)
    apart = torch.zeros_like(p)
    apart[: len(p) // 4] = 1.0 / (len(p) // 4)  # mass only where p has none
    return {"jsd": answer(p, q), "same": answer(p, p), "apart": answer(p, apart)}


def mark_js_divergence(reply, seed):
    p, q = _densities(seed)
    need_close(torch.as_tensor(reply["jsd"]).double(), losses.js_divergence(p, q), "JSD(p, q) in nats", 1e-6)
    need_close(torch.as_tensor(reply["same"]).double(), torch.tensor(0.0, dtype=torch.float64), "JSD(p, p)", 1e-6)
    need_close(torch.as_tensor(reply["apart"]).double(), torch.tensor(math.log(2), dtype=torch.float64),
               "JSD of two vectors with no point in common (log 2)", 1e-6)


def _scores(seed, n, salt):
    """Raw scores ``[n, 1]`` spread over [-3, 3], beyond the hinge's margins on both sides."""
    return torch.rand(n, 1, generator=draws(seed, salt)) * 6 - 3


def _loss_reply(value, inputs):
    """The loss and its gradient with respect to each input (None where it has none)."""
    if not isinstance(value, torch.Tensor) or not value.requires_grad:
        return {"loss": value, "grads": None}
    grads = torch.autograd.grad(value, inputs, allow_unused=True)
    return {"loss": value, "grads": list(grads)}


def _ask_d_loss(answer, seed):
    d_real, d_fake = _scores(seed, 9, 2).requires_grad_(), _scores(seed, 9, 3).requires_grad_()
    return _loss_reply(answer(d_real, d_fake), [d_real, d_fake])


def _mark_d_loss(reply, seed, right, what):
    d_real, d_fake = _scores(seed, 9, 2).requires_grad_(), _scores(seed, 9, 3).requires_grad_()
    want = right(d_real, d_fake)
    need_close(reply["loss"], want.detach(), what, 1e-5)
    need(reply["grads"] is not None and all(g is not None for g in reply["grads"]),
         f"{what} must stay in the graph of both scores (no .item(), no .detach())")
    for found, expected, name in zip(reply["grads"], torch.autograd.grad(want, [d_real, d_fake]), ("D(x)", "D(G(z))")):
        need_close(found, expected, f"the gradient of {what} with respect to {name}", 1e-5)


def ask_lsgan_discriminator_loss(answer, seed):
    """``{"loss": answer(d_real [9, 1], d_fake [9, 1]), "grads": [d/d d_real, d/d d_fake]}``."""
    return _ask_d_loss(answer, seed)


def mark_lsgan_discriminator_loss(reply, seed):
    _mark_d_loss(reply, seed, losses.lsgan_discriminator_loss, "LSGAN's D loss")


def ask_lsgan_generator_loss(answer, seed):
    """``{"loss": answer(d_fake [9, 1]), "grads": [d/d d_fake]}``."""
    d_fake = _scores(seed, 9, 4).requires_grad_()
    return _loss_reply(answer(d_fake), [d_fake])


def mark_lsgan_generator_loss(reply, seed):
    d_fake = _scores(seed, 9, 4).requires_grad_()
    want = losses.lsgan_generator_loss(d_fake)
    need_close(reply["loss"], want.detach(), "LSGAN's G loss", 1e-5)
    need(reply["grads"] is not None and reply["grads"][0] is not None,
         "LSGAN's G loss must stay in the graph of D(G(z))")
    need_close(reply["grads"][0], torch.autograd.grad(want, d_fake)[0], "its gradient with respect to D(G(z))", 1e-5)


def ask_hinge_discriminator_loss(answer, seed):
    """``{"loss": answer(d_real [9, 1], d_fake [9, 1]), "grads": [d/d d_real, d/d d_fake]}``."""
    return _ask_d_loss(answer, seed)


def mark_hinge_discriminator_loss(reply, seed):
    _mark_d_loss(reply, seed, losses.hinge_discriminator_loss, "the hinge D loss")


def _critic(seed):
    """A small critic whose gradient depends on where it is asked: images ``[B, 1, 4, 4]`` -> ``[B, 1]``."""
    g = draws(seed, 7)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(16, 6), nn.Tanh(), nn.Linear(6, 1))
    with torch.no_grad():
        for p in critic.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.8)
    return critic


def _penalty_inputs(seed):
    g = draws(seed, 8)
    real, fake = torch.rand(6, 1, 4, 4, generator=g) * 2 - 1, torch.rand(6, 1, 4, 4, generator=g) * 2 - 1
    return real, fake, torch.rand(6, 1, 1, 1, generator=g)


def ask_gradient_penalty(answer, seed):
    """``{"penalty": answer(critic, real [6, 1, 4, 4], fake, eps [6, 1, 1, 1]), "grads": [d/d critic's weights]}``."""
    critic = _critic(seed)
    penalty = answer(critic, *_penalty_inputs(seed))
    reply = {"penalty": penalty, "grads": None}
    if isinstance(penalty, torch.Tensor) and penalty.requires_grad:
        reply["grads"] = _gradients(penalty, critic)
    return reply


def _gradients(value, model):
    """d value / d each of ``model``'s parameters, zeros for those it does not depend on (the last bias)."""
    grads = torch.autograd.grad(value, list(model.parameters()), allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(model.parameters(), grads)]


def mark_gradient_penalty(reply, seed):
    critic = _critic(seed)
    want = losses.gradient_penalty(critic, *_penalty_inputs(seed))
    need_close(reply["penalty"], want.detach(), "the gradient penalty, mean of (||grad D(x_hat)|| - 1)^2", 1e-5)
    need(reply["grads"] is not None,
         "the penalty sends no gradient to the critic's weights: take the gradient with create_graph=True")
    need_params(reply["grads"], _gradients(want, critic),
                "the penalty's gradient with respect to the critic's weights")


# Exercise 7: one WGAN-GP iteration -------------------------------------------------
#
# The judge's G draws the same fake whatever the noise (mlp_gan.FixedG) and its critic is linear, so
# the critic's gradient is its weight vector wherever it is asked: the penalty, (||w|| - 1)^2, does
# not depend on the random mixing weights the step draws, and every step can be worked out exactly.

def _iteration_inputs(seed):
    g = draws(seed, 9)
    n_critic, batch = 2 + int(seed) % 3, 5
    return [torch.rand(batch, 1, 4, 4, generator=g) * 2 - 1 for _ in range(n_critic)], 3 + int(seed) % 4


def _wgan_pair(seed):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        G = FixedG(shape=(1, 4, 4))
        D = nn.Sequential(nn.Flatten(), nn.Linear(16, 1))
    return G, D


GP_WEIGHT = 2.0  # the judge's: large enough that a missing penalty shows, small enough to keep SGD tame
LR_D, LR_G = 0.05, 0.2


def ask_wgan_gp_iteration(answer, seed):
    """One iteration (``len(batches)`` critic steps, one G step), plain SGD; then a second one, with old
    gradients left in both networks. Reply: the two losses, both networks after each iteration, G's noise
    shape and whether D is trainable after it."""
    batches, latent = _iteration_inputs(seed)
    G, D = _wgan_pair(seed)

    def iteration():
        return answer(G, D, torch.optim.SGD(G.parameters(), lr=LR_G), torch.optim.SGD(D.parameters(), lr=LR_D),
                      batches, latent, gp_weight=GP_WEIGHT)

    out = iteration()
    reply = {"out": list(out) if isinstance(out, (tuple, list)) else out, "d_after": as_list(D.parameters()),
             "g_after": as_list(G.parameters()), "noise_shape": G.noise_shape,
             "d_trainable": [p.requires_grad for p in D.parameters()]}
    for p in G.parameters():
        p.grad = torch.full_like(p, 1e3)
    reply["d_after_second"] = after_stale_step(D, iteration)
    reply["g_after_second"] = as_list(G.parameters())
    return reply


def _critic_loss(real, fake):
    return lambda D: (D(fake).mean() - D(real).mean()
                      + GP_WEIGHT * losses.gradient_penalty(D, real, fake, torch.full((len(real), 1, 1, 1), 0.5)))


def _expected_iteration(G, D, batches):
    """Set ``G`` and ``D`` to what one right iteration leaves; return (last critic loss, G's loss)."""
    for real in batches:
        fake = G.fake(len(real)).detach()
        critic_loss = _critic_loss(real, fake)(D).detach()
        for p, value in zip(D.parameters(), sgd_step(D, _critic_loss(real, fake), LR_D)):
            p.data.copy_(value)
    g_loss_of = lambda G_: -D(G_.fake(len(batches[-1]))).mean()  # noqa: E731
    g_loss = g_loss_of(G).detach()
    for p, value in zip(G.parameters(), sgd_step(G, g_loss_of, LR_G)):
        p.data.copy_(value)
    return critic_loss, g_loss


def mark_wgan_gp_iteration(reply, seed):
    batches, latent = _iteration_inputs(seed)
    G, D = _wgan_pair(seed)
    out = reply["out"]
    need(isinstance(out, list) and len(out) == 2, "wgan_gp_iteration should return (critic_loss, g_loss)")
    critic_loss, g_loss = _expected_iteration(G, D, batches)
    need_close(out[0], critic_loss, f"the critic's loss on the last of the {len(batches)} batches "
                                    f"(mean D(fake) - mean D(real) + gp_weight * penalty)", 1e-4)
    need(not out[0].requires_grad and not out[1].requires_grad, "return the losses detached (.detach())")
    need_params(reply["d_after"], as_list(D.parameters()),
                f"the critic after {len(batches)} steps, one per real batch, each with its penalty", 1e-4)
    need_close(out[1], g_loss, "G's loss, -mean D(G(z)), with the critic after its steps", 1e-4)
    need_params(reply["g_after"], as_list(G.parameters()), "G after its one step, taken after the critic's", 1e-4)
    need(reply["noise_shape"] == [len(batches[-1]), latent],
         f"G was given noise of shape {reply['noise_shape']}, expected [{len(batches[-1])}, {latent}]")
    need(reply["d_trainable"] == [True] * len(reply["d_trainable"]),
         "the critic's parameters no longer require gradients after G's step: unfreeze it")
    _expected_iteration(G, D, batches)
    need_params(reply["d_after_second"], as_list(D.parameters()),
                "the critic after a second iteration, with old gradients left in it (clear them first)", 1e-4)
    need_params(reply["g_after_second"], as_list(G.parameters()),
                "G after a second iteration, with old gradients left in it (clear them first)", 1e-4)


def _power_inputs(seed):
    g = draws(seed, 10)
    out_channels = 3 + int(seed) % 3
    return torch.randn(out_channels, 2, 3, 3, generator=g), torch.randn(out_channels, generator=g)


def ask_spectral_norm_step(answer, seed):
    """``{"out": answer(weight [C, 2, 3, 3], u [C])}``: (sigma, new u), and the same for a Linear's ``[5, 7]``."""
    weight, u = _power_inputs(seed)
    g = draws(seed, 11)
    return {"conv": answer(weight, u), "linear": answer(torch.randn(5, 7, generator=g), torch.randn(5, generator=g))}


def mark_spectral_norm_step(reply, seed):
    weight, u = _power_inputs(seed)
    g = draws(seed, 11)
    for key, (w, start) in (("conv", (weight, u)), ("linear", (torch.randn(5, 7, generator=g), torch.randn(5, generator=g)))):
        out = reply[key]
        need(isinstance(out, list) and len(out) == 2, "spectral_norm_step should return (sigma, u)")
        sigma, new_u = losses.spectral_norm_step(w, start)
        what = "a convolution's kernel [C, 2, 3, 3], read as [C, 18]" if key == "conv" else "a Linear weight [5, 7]"
        need_close(out[1], new_u, f"the new u after one step, for {what}", 1e-5)
        need_close(torch.as_tensor(out[0]).float(), sigma, f"sigma after one step from u, for {what}", 1e-4)


EXERCISES = {
    "test_optimal_discriminator": Exercise("optimal_discriminator", ask_optimal_discriminator,
                                           mark_optimal_discriminator),
    "test_js_divergence": Exercise("js_divergence", ask_js_divergence, mark_js_divergence),
    "test_lsgan_discriminator_loss": Exercise("lsgan_discriminator_loss", ask_lsgan_discriminator_loss,
                                              mark_lsgan_discriminator_loss),
    "test_lsgan_generator_loss": Exercise("lsgan_generator_loss", ask_lsgan_generator_loss, mark_lsgan_generator_loss),
    "test_hinge_discriminator_loss": Exercise("hinge_discriminator_loss", ask_hinge_discriminator_loss,
                                              mark_hinge_discriminator_loss),
    "test_gradient_penalty": Exercise("gradient_penalty", ask_gradient_penalty, mark_gradient_penalty),
    "test_wgan_gp_iteration": Exercise("wgan_gp_iteration", ask_wgan_gp_iteration, mark_wgan_gp_iteration,
                                       ("gradient_penalty",)),
    "test_spectral_norm_step": Exercise("spectral_norm_step", ask_spectral_norm_step, mark_spectral_norm_step),
}
