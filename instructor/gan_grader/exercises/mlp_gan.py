"""Session 2: the MLP GAN: what the judge asks for each graded exercise of ``02_mlp_gan``, and how it marks it."""

import math

import torch
from torch import nn

from helpers import models, steps

from .marking import Exercise, as_list, draws, load_weights, need, need_close, need_params, noise, seeded, sgd_step, weights

SESSION = "02_mlp_gan"

def _mlp_sizes(seed):
    return 6 + int(seed) % 7, 20 + int(seed) % 13  # latent_dim, hidden


def ask_make_generator(answer, seed):
    """G = answer(latent_dim, hidden) with torch seeded: ``{"weights": {name: tensor}, "out": G(z) [8, 784]}``."""
    latent, hidden = _mlp_sizes(seed)
    G = seeded(seed, lambda: answer(latent_dim=latent, hidden=hidden))
    with torch.no_grad():
        return {"weights": weights(G), "out": G(noise(seed, 8, latent))}


def mark_make_generator(reply, seed):
    latent, hidden = _mlp_sizes(seed)
    G = load_weights(models.r2_generator(latent, hidden), reply["weights"], "G")
    with torch.no_grad():
        want = G(noise(seed, 8, latent)).flatten(1)
    need_close(reply["out"], want, "G(noise), with G's own weights in the exercise's layers", 1e-5)


def ask_make_discriminator(answer, seed):
    """D = answer(hidden) with torch seeded: ``{"weights": {name: tensor}, "out": D(x) [8, 1]}``."""
    _, hidden = _mlp_sizes(seed)
    D = seeded(seed, lambda: answer(hidden=hidden))
    with torch.no_grad():
        return {"weights": weights(D), "out": D(noise(seed, 8, 784, scale=2.0))}


def mark_make_discriminator(reply, seed):
    _, hidden = _mlp_sizes(seed)
    D = load_weights(models.r2_discriminator(hidden), reply["weights"], "D")
    with torch.no_grad():
        want = D(noise(seed, 8, 784, scale=2.0))
    need_close(reply["out"], want, "D(images), with D's own weights in the exercise's layers", 1e-5)


def ask_sample_noise(answer, seed):
    """Two draws of [4000, 8] noise, and the device of a draw on another device (a string)."""
    cpu = torch.device("cpu")
    return {"first": answer(4000, 8, cpu), "second": answer(4000, 8, cpu),
            "device": str(answer(2, 8, torch.device("meta")).device)}


def mark_sample_noise(reply, seed):
    first, second = reply["first"], reply["second"]
    for z in (first, second):
        need(isinstance(z, torch.Tensor) and tuple(z.shape) == (4000, 8) and z.dtype == torch.float32,
             "sample_noise(4000, 8, cpu) should return float32 [4000, 8]")
        need(bool(torch.isfinite(z).all()), "the noise holds NaN or infinite values")
        need(abs(z.mean().item()) < 0.05 and abs(z.std().item() - 1) < 0.05 and z.min() < -2.5 and z.max() > 2.5,
             f"the noise should be standard normal (torch.randn): mean {z.mean().item():.3f}, "
             f"std {z.std().item():.3f}, min {z.min().item():.2f}")
    need(not torch.equal(first, second), "two calls gave the same noise")
    need(reply["device"] == "meta", f"the noise should be made on the device asked for, got {reply['device']}")


def _probabilities(seed, n, salt):
    return torch.rand(n, 1, generator=draws(seed, salt)) * 0.96 + 0.02


def ask_discriminator_loss(answer, seed):
    """``{"loss": answer(d_real [7, 1], d_fake [7, 1])}``: a 0-dim tensor."""
    return {"loss": answer(_probabilities(seed, 7, 5), _probabilities(seed, 7, 6))}


def mark_discriminator_loss(reply, seed):
    want = steps.discriminator_loss(_probabilities(seed, 7, 5), _probabilities(seed, 7, 6))
    need_close(reply["loss"], want, "discriminator_loss(d_real, d_fake)", 1e-5)


def ask_generator_loss(answer, seed):
    """``{"loss": answer(d_fake [7, 1])}``: a 0-dim tensor."""
    return {"loss": answer(_probabilities(seed, 7, 7))}


def mark_generator_loss(reply, seed):
    need_close(reply["loss"], steps.generator_loss(_probabilities(seed, 7, 7)), "generator_loss(d_fake)", 1e-5)


class FixedG(nn.Module):
    """The judge's G: the same fake for any noise, ``tanh(bias)``, so its training steps can be worked out
    exactly. ``forward(z [B, Z]) -> [B, *shape]``; it keeps the shape of the last noise it was given in
    ``noise_shape``."""

    def __init__(self, shape=(784,)):
        super().__init__()
        self.shape = tuple(shape)
        self.bias = nn.Parameter(torch.randn(math.prod(self.shape)) * 0.7)
        self.noise_shape = None

    def forward(self, z):
        self.noise_shape = list(z.shape)
        return torch.tanh(self.bias + 0 * z.sum(1, keepdim=True)).view(len(z), *self.shape)

    def fake(self, n):
        return torch.tanh(self.bias).expand(n, -1).view(n, *self.shape)


def _judge_gan(seed, latent):
    """The judge's small GAN for session 2's steps: (FixedG, an MLP D ending in a Sigmoid)."""
    return seeded(seed, lambda: (FixedG(), nn.Sequential(nn.Linear(784, 16), nn.LeakyReLU(0.2),
                                                          nn.Linear(16, 1), nn.Sigmoid())))


def after_stale_step(model, step):
    """``model``'s parameters (a list of tensors) after ``step()``, called with every gradient of ``model``
    set to 1000 first: old gradients, which a right step clears before its own."""
    for p in model.parameters():
        p.grad = torch.full_like(p, 1e3)
    step()
    return as_list(model.parameters())


def need_two_sgd_steps(model, loss_of, lr, first, second, name):
    """``first`` and ``second`` (from the reply) must be ``model``'s parameters after one and two plain SGD
    steps (``lr``) on ``loss_of``, the second one taken with the old gradients cleared first."""
    after = sgd_step(model, loss_of, lr)
    need_params(first, after, f"{name} after one step of the optimiser it was given")
    with torch.no_grad():
        for p, value in zip(model.parameters(), after):
            p.copy_(value)
    need_params(second, sgd_step(model, loss_of, lr),
                f"{name} after a second step, with old gradients left in it (clear them first)")


def _step_inputs(seed):
    latent, _ = _mlp_sizes(seed)
    return latent, torch.rand(6 + int(seed) % 5, 784, generator=draws(seed, 8)) * 2 - 1


def on_meta(run_step):
    """``run_step()`` with the judge's networks on the ``meta`` device: "ok", or what went wrong."""
    from helpers.checks.mlp_gan import ReadableMeta

    try:
        with ReadableMeta():
            run_step()
        return "ok"
    except Exception as error:  # noqa: BLE001 - the error is the reply
        return f"{type(error).__name__}: {error}"[:300]


def ask_discriminator_step(answer, seed):
    """Two D steps (SGD, lr 0.1) with the judge's GAN, the second after ``after_stale_step``.

    Reply: the first step's 3 outputs, D and G after it (and G's gradients), D after the second,
    G's noise shape, and "ok" if the step also runs on another device.
    """
    latent, real = _step_inputs(seed)
    G, D = _judge_gan(seed, latent)
    out = answer(G, D, torch.optim.SGD(D.parameters(), lr=0.1), real, latent)
    reply = {"out": list(out) if isinstance(out, (tuple, list)) else out, "d_after": as_list(D.parameters()),
             "g_after": as_list(G.parameters()), "noise_shape": G.noise_shape,
             "g_grads": [None if p.grad is None else p.grad.clone() for p in G.parameters()]}
    reply["d_after_second"] = after_stale_step(D, lambda: answer(G, D, torch.optim.SGD(D.parameters(), lr=0.1),
                                                                 real, latent))
    G, D = _judge_gan(seed, latent)
    reply["meta"] = on_meta(lambda: answer(G.to("meta"), D.to("meta"), torch.optim.SGD(D.parameters(), lr=0.1),
                                           real.to("meta"), latent))
    return reply


def _d_loss(real, fake):
    return lambda D: steps.discriminator_loss(D(real), D(fake))


def mark_discriminator_step(reply, seed):
    latent, real = _step_inputs(seed)
    G, D = _judge_gan(seed, latent)
    fake = G.fake(len(real)).detach()
    out = reply["out"]
    need(isinstance(out, list) and len(out) == 3, "discriminator_step should return (d_loss, mean D(x), mean D(G(z)))")
    with torch.no_grad():
        want = [_d_loss(real, fake)(D), D(real).mean(), D(fake).mean()]
    for value, expected, what in zip(out, want, ("d_loss", "mean D(x)", "mean D(G(z))")):
        need_close(value, expected, what, 1e-5)
    need(reply["noise_shape"] == [len(real), latent],
         f"G was given noise of shape {reply['noise_shape']}, expected [{len(real)}, {latent}]")
    need_params(reply["g_after"], as_list(G.parameters()), "G after D's step (it must not change)", 0)
    need(all(g is None or float(g.abs().sum()) == 0 for g in reply["g_grads"]), "D's loss sent gradients into G")
    need_two_sgd_steps(D, _d_loss(real, fake), 0.1, reply["d_after"], reply["d_after_second"], "D")
    need(reply["meta"] == "ok", f"the step failed with the networks on another device: {reply['meta']}")


def _g_loss(D, n):
    return lambda G: steps.generator_loss(D(G.fake(n)))


def ask_generator_step(answer, seed):
    """Two G steps (SGD, lr 0.5) with the judge's GAN, the second after ``after_stale_step``.

    Reply: the loss, G and D after the first step (and whether D's parameters still require gradients),
    G after the second, G's noise shape, and "ok" if the step also runs on another device.
    """
    latent, real = _step_inputs(seed)
    n = len(real)
    G, D = _judge_gan(seed, latent)
    loss = answer(G, D, torch.optim.SGD(G.parameters(), lr=0.5), n, latent)
    reply = {"loss": loss, "g_after": as_list(G.parameters()), "d_after": as_list(D.parameters()),
             "d_trainable": [p.requires_grad for p in D.parameters()], "noise_shape": G.noise_shape}
    reply["g_after_second"] = after_stale_step(G, lambda: answer(G, D, torch.optim.SGD(G.parameters(), lr=0.5),
                                                                 n, latent))
    G, D = _judge_gan(seed, latent)
    reply["meta"] = on_meta(lambda: answer(G.to("meta"), D.to("meta"), torch.optim.SGD(G.parameters(), lr=0.5),
                                           n, latent))
    return reply


def mark_generator_step(reply, seed):
    latent, real = _step_inputs(seed)
    n = len(real)
    G, D = _judge_gan(seed, latent)
    loss = reply["loss"]
    need(isinstance(loss, torch.Tensor) and loss.dim() == 0 and not loss.requires_grad,
         "generator_step should return the detached loss, a 0-dim tensor")
    with torch.no_grad():
        need_close(loss, _g_loss(D, n)(G), "G's loss, BCE(D(G(z)), 1)", 1e-5)
    need(reply["noise_shape"] == [n, latent], f"G was given noise of shape {reply['noise_shape']}, expected [{n}, {latent}]")
    need_params(reply["d_after"], as_list(D.parameters()), "D after G's step (it must not change)", 0)
    need(reply["d_trainable"] == [True] * len(reply["d_trainable"]) and reply["d_trainable"],
         "D's parameters no longer require gradients after G's step: unfreeze D")
    need_two_sgd_steps(G, _g_loss(D, n), 0.5, reply["g_after"], reply["g_after_second"], "G")
    need(reply["meta"] == "ok", f"the step failed with the networks on another device: {reply['meta']}")


EXERCISES = {
    "test_make_generator": Exercise("make_generator", ask_make_generator, mark_make_generator),
    "test_make_discriminator": Exercise("make_discriminator", ask_make_discriminator, mark_make_discriminator),
    "test_sample_noise": Exercise("sample_noise", ask_sample_noise, mark_sample_noise),
    "test_discriminator_loss": Exercise("discriminator_loss", ask_discriminator_loss, mark_discriminator_loss),
    "test_generator_loss": Exercise("generator_loss", ask_generator_loss, mark_generator_loss),
    "test_discriminator_step": Exercise("discriminator_step", ask_discriminator_step, mark_discriminator_step, ("sample_noise", "discriminator_loss")),
    "test_generator_step": Exercise("generator_step", ask_generator_step, mark_generator_step, ("sample_noise", "generator_loss")),
}
