"""Checks for session 2 (the MLP GAN): networks, noise, losses, and the two training steps.

Every message names the fix first, then what was seen. The step checks also
run each step with its networks on another device (torch's ``meta`` device,
which holds no data): code that hard-codes a device fails there. The student
is only ever told about "another device".
"""

import math

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..models import count_parameters

from . import (activations_called, expect, expect_close, expect_dtype, expect_range, expect_scalar, expect_shape,
               own_code, passed)

SESSION = "02_mlp_gan"  # the session whose exercises these check

META = torch.device("meta")  # a device with no data: code that hard-codes "cpu" fails on it


@own_code(SESSION, "make_generator")
def check_generator(make_generator):
    """``make_generator(latent_dim, hidden)``: noise [B, latent] -> images [B, 784] in (-1, 1)."""
    G = make_generator(latent_dim=10, hidden=32)
    expect(isinstance(G, nn.Module), f"make_generator should return an nn.Module, got {type(G).__name__}")
    out = G(torch.randn(5, 10) * 3)
    expect_shape(out, (5, 784), "G(noise) for 5 noise vectors", "End with Linear(hidden, 784): one value per pixel")
    expect_range(out, -1.0, 1.0, "G(noise)", "End the generator with nn.Tanh(), whose range is (-1, 1)")
    expect(out.min() < 0, "End the generator with nn.Tanh(), whose range is (-1, 1): G's outputs are never negative")
    linears = [m for m in G.modules() if isinstance(m, nn.Linear)]
    expect(len(linears) == 3,
           f"Use three Linear layers, Linear(latent_dim, hidden) -> Linear(hidden, hidden) -> Linear(hidden, 784), "
           f"with a ReLU after each of the first two: found {len(linears)}")
    expected = (10 * 32 + 32) + (32 * 32 + 32) + (32 * 784 + 784)
    expect(count_parameters(G) == expected,
           f"Size the layers Linear(latent_dim, hidden), Linear(hidden, hidden), Linear(hidden, 784): with "
           f"latent_dim=10, hidden=32, G should have {expected:,} parameters, got {count_parameters(G):,}")
    passed("G maps noise to 784 pixels in (-1, 1) with the right layers")


@own_code(SESSION, "make_discriminator")
def check_discriminator(make_discriminator):
    """``make_discriminator(hidden)``: images [B, 784] -> probability of "real" [B, 1]."""
    D = make_discriminator(hidden=32)
    expect(isinstance(D, nn.Module), f"make_discriminator should return an nn.Module, got {type(D).__name__}")
    out = D(torch.randn(6, 784) * 5)
    expect_shape(out, (6, 1), "D(images) for 6 images", "End with Linear(hidden, 1): one score per image")
    expect_range(out, 0.0, 1.0, "D(images)", "End the discriminator with nn.Sigmoid(), so it returns a probability")
    slopes = [slope for name, slope in activations_called(D, torch.randn(2, 784)) if name == "leaky_relu"]
    expect(len(slopes) == 2 and all(abs(s - 0.2) < 1e-9 for s in slopes),
           f"Use two nn.LeakyReLU(0.2) activations (or F.leaky_relu(x, 0.2)), one after each hidden Linear: found "
           f"slopes {slopes}")
    expected = (784 * 32 + 32) + (32 * 32 + 32) + (32 + 1)
    expect(count_parameters(D) == expected,
           f"Size the layers Linear(784, hidden), Linear(hidden, hidden), Linear(hidden, 1): with hidden=32, "
           f"D should have {expected:,} parameters, got {count_parameters(D):,}")
    passed("D maps 784 pixels to one probability with the right layers")


@own_code(SESSION, "sample_noise")
def check_sample_noise(sample_noise):
    """``sample_noise(batch_size, latent_dim, device)``: standard normal [B, latent] on ``device``."""
    z = sample_noise(4000, 16, torch.device("cpu"))
    expect_shape(z, (4000, 16), "sample_noise(4000, 16, cpu)", "Return torch.randn(batch_size, latent_dim, ...)")
    expect_dtype(z, torch.float32, "sample_noise(...)")
    expect(abs(z.mean().item()) < 0.05 and abs(z.std().item() - 1) < 0.05,
           f"Use torch.randn (standard normal), not torch.rand (uniform): noise should have mean 0 and std 1, "
           f"got mean {z.mean().item():.3f} std {z.std().item():.3f}")
    on_other = sample_noise(3, 16, META)
    expect(isinstance(on_other, torch.Tensor) and on_other.device == META,
           "Pass device=device to torch.randn instead of hard-coding one: the noise must be created on the "
           "device sample_noise is given, and it was not when asked for another device")
    passed("standard normal noise, on the device asked for")


@own_code(SESSION, "discriminator_loss")
def check_discriminator_loss(discriminator_loss):
    """``discriminator_loss(d_real, d_fake)``: BCE(D(x), 1) + BCE(D(G(z)), 0)."""
    d_real, d_fake = torch.tensor([[0.9], [0.6]]), torch.tensor([[0.2], [0.3]])
    loss = discriminator_loss(d_real, d_fake)
    expect_scalar(loss, "discriminator_loss(...)")
    expected = -(math.log(0.9) + math.log(0.6)) / 2 - (math.log(0.8) + math.log(0.7)) / 2
    swapped = -(math.log(0.1) + math.log(0.4)) / 2 - (math.log(0.2) + math.log(0.3)) / 2
    expect(abs(loss.item() - swapped) > 1e-3,
           "Swap the labels: real images get 1 (torch.ones_like(d_real)) and fakes 0 (torch.zeros_like(d_fake))")
    expect_close(loss, torch.tensor(expected), "discriminator_loss(D(x)=[0.9, 0.6], D(G(z))=[0.2, 0.3])")
    passed("discriminator_loss = BCE(D(x), 1) + BCE(D(G(z)), 0)")


@own_code(SESSION, "generator_loss")
def check_generator_loss(generator_loss):
    """``generator_loss(d_fake)``: the non-saturating loss BCE(D(G(z)), 1) = -mean log D(G(z))."""
    d_fake = torch.tensor([[0.2], [0.5]])
    loss = generator_loss(d_fake)
    expect_scalar(loss, "generator_loss(...)")
    expected = -(math.log(0.2) + math.log(0.5)) / 2
    saturating = (math.log(0.8) + math.log(0.5)) / 2
    expect(abs(loss.item() - saturating) > 1e-3,
           "Use the non-saturating loss, BCE(D(G(z)), 1) = -log D(G(z)): this is the saturating log(1 - D(G(z)))")
    expect_close(loss, torch.tensor(expected), "generator_loss(D(G(z))=[0.2, 0.5])")
    passed("generator_loss = -mean log D(G(z)) (non-saturating)")


def _tiny_gan(latent_dim=8, seed=0):
    """A small G and D (flat 784-pixel images), made the same way every time."""
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(latent_dim, 32), nn.ReLU(), nn.Linear(32, 784), nn.Tanh())
    D = nn.Sequential(nn.Linear(784, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Sigmoid())
    return G, D


def _copy(model):
    return [p.detach().clone() for p in model.parameters()]


def _unchanged(model, before):
    return all(torch.equal(p, b) for p, b in zip(model.parameters(), before))


def _stale_gradients(model, value=1000.0):
    """Fill ``model``'s .grad with a large constant: what an earlier backward could leave there."""
    for p in model.parameters():
        p.grad = torch.full_like(p, value)


def _largest_change(model, before):
    return max((p.detach() - b).abs().max().item() for p, b in zip(model.parameters(), before))


def _expect_old_gradients_cleared(name, run_step, latent_dim=8):
    """``run_step(G, D)`` updates network ``name`` ("G" or "D"); its stale .grad must not be applied.

    The other player's step leaves gradients behind; a step that forgets
    ``zero_grad()`` adds them to its own, and the weights jump.
    """
    G, D = _tiny_gan(latent_dim)
    model = G if name == "G" else D
    _stale_gradients(model)
    before = _copy(model)
    run_step(G, D)
    change = _largest_change(model, before)
    loss = "g_loss" if name == "G" else "d_loss"
    expect(change < 5, f"Call opt_{name.lower()}.zero_grad() before {loss}.backward(): {name}'s weights jumped by "
                       f"{change:.0f} in one step, because old gradients were added to the new ones")


class ReadableMeta(TorchFunctionMode):
    """Inside this mode, reading a number out of a ``meta`` tensor (``.item()``, ``float()``, a format)
    gives 0 instead of an error: printing a loss is no device mistake."""

    READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__float__, torch.Tensor.__int__,
             torch.Tensor.__bool__, torch.Tensor.__format__}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in self.READS and args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
            return format(0.0, *args[1:]) if func is torch.Tensor.__format__ else 0.0
        return func(*args, **(kwargs or {}))


def _expect_any_device(fix, run_step, latent_dim=8):
    """``run_step(G, D)`` must work with both networks on another device (``meta``, never named)."""
    G, D = _tiny_gan(latent_dim)
    try:
        with ReadableMeta():
            run_step(G.to(META), D.to(META))
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        raise AssertionError(f"{fix}: the step failed when the models and data were on another device "
                             f"than the CPU, so something in it is created on a fixed device") from None


@own_code(SESSION, "discriminator_step")
def check_discriminator_step(discriminator_step, latent_dim=8):
    """D's step updates D, returns (loss, mean D(x), mean D(G(z))), and leaves G alone."""
    G, D = _tiny_gan(latent_dim)
    opt_d = torch.optim.SGD(D.parameters(), lr=0.1)
    real = torch.rand(16, 784) * 2 - 1
    g_before, d_before = _copy(G), _copy(D)
    result = discriminator_step(G, D, opt_d, real, latent_dim)
    expect(isinstance(result, tuple) and len(result) == 3,
           "Return three things, (d_loss, mean D(x), mean D(G(z))): discriminator_step returned "
           f"{type(result).__name__}")
    d_loss, d_real, d_fake = result
    for name, value in (("d_loss", d_loss), ("mean D(x)", d_real), ("mean D(G(z))", d_fake)):
        expect_scalar(value, name)
        expect(not value.requires_grad, f"Call .detach() on {name} before returning it, so the history keeps no graph")
    expect(0 <= d_real.item() <= 1 and 0 <= d_fake.item() <= 1,
           f"Return the means of D's outputs, D(real).mean() and D(fake).mean(), which are probabilities: "
           f"got {d_real.item():.3f} and {d_fake.item():.3f}")
    expect(all(p.grad is None or p.grad.abs().sum() == 0 for p in G.parameters()),
           "Detach the fakes, G(z).detach(), before showing them to D: D's loss pushed gradients into G")
    expect(_unchanged(G, g_before), "Step only opt_d in D's step: G's weights changed")
    expect(not _unchanged(D, d_before), "Call opt_d.step() after d_loss.backward(): D's weights did not change")
    _expect_old_gradients_cleared(
        "D", lambda G, D: discriminator_step(G, D, torch.optim.SGD(D.parameters(), lr=0.1), real, latent_dim))
    _expect_any_device(
        "Create the noise on real.device, not on a fixed device",
        lambda G, D: discriminator_step(G, D, torch.optim.SGD(D.parameters(), lr=0.1),
                                        torch.zeros(4, 784, device=META), latent_dim))
    passed("D's step trains D only, with fakes detached from G")


@own_code(SESSION, "generator_step")
def check_generator_step(generator_step, latent_dim=8):
    """G's step updates G so that D rates its fakes higher, and leaves D alone."""
    G, D = _tiny_gan(latent_dim)
    opt_g = torch.optim.SGD(G.parameters(), lr=0.5)
    probe = torch.randn(512, latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = D(G(probe)).mean().item()
    g_before, d_before = _copy(G), _copy(D)
    g_loss = generator_step(G, D, opt_g, 256, latent_dim)
    expect_scalar(g_loss, "g_loss returned by generator_step")
    expect(not g_loss.requires_grad, "Return g_loss.detach(), so the history keeps no graph")
    expect(not _unchanged(G, g_before),
           "Remove any .detach() in G's step, and call g_loss.backward() then opt_g.step(): G's weights did "
           "not change, because the fakes must keep their graph back to G")
    expect(_unchanged(D, d_before), "Step only opt_g in G's step: D's weights changed")
    expect(all(p.requires_grad for p in D.parameters()),
           "Turn D's gradients back on (D.requires_grad_(True)) before returning: D is still frozen")
    with torch.no_grad():
        after = D(G(probe)).mean().item()
    expect(after > before,
           f"Label G's fakes 1 (\"real\") in its loss, generator_loss(D(fake)): after G's step D should rate "
           f"the fakes as more real, but mean D(G(z)) went from {before:.4f} to {after:.4f}")
    adam = torch.optim.Adam(G.parameters(), lr=1e-3)
    generator_step(G, D, adam, 16, latent_dim)
    expect(len(adam.state) > 0,
           "Step the optimiser you are given, opt_g.step(), instead of making your own: the opt_g passed in "
           "was never stepped")
    _expect_old_gradients_cleared(
        "G", lambda G, D: generator_step(G, D, torch.optim.SGD(G.parameters(), lr=0.1), 64, latent_dim))
    _expect_any_device(
        "Find the device with next(G.parameters()).device instead of hard-coding one",
        lambda G, D: generator_step(G, D, torch.optim.SGD(G.parameters(), lr=0.1), 4, latent_dim))
    passed("G's step trains G only, and D now rates the fakes as more real")
