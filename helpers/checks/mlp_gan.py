"""Checks for session 2 (the MLP GAN): networks, noise, losses, and the two training steps."""

import math

import torch
from torch import nn

from ..models import count_parameters

from . import expect, expect_close, expect_dtype, expect_range, expect_scalar, expect_shape, passed

META = torch.device("meta")  # a device with no data: code that hard-codes "cpu" fails on it


def check_generator(make_generator):
    """``make_generator(latent_dim, hidden)``: noise [B, latent] -> images [B, 784] in (-1, 1)."""
    G = make_generator(latent_dim=10, hidden=32)
    expect(isinstance(G, nn.Module), f"make_generator should return an nn.Module, got {type(G).__name__}")
    out = G(torch.randn(5, 10) * 3)
    expect_shape(out, (5, 784), "G(noise) for 5 noise vectors")
    expect_range(out, -1.0, 1.0, "G(noise)")
    expect(out.min() < 0, "G's outputs are never negative: end the generator with nn.Tanh(), whose range is (-1, 1)")
    expected = (10 * 32 + 32) + (32 * 32 + 32) + (32 * 784 + 784)
    expect(count_parameters(G) == expected,
           f"with latent_dim=10, hidden=32, G should have {expected:,} parameters "
           f"(Linear 10->32, Linear 32->32, Linear 32->784), got {count_parameters(G):,}. Check the layers.")
    passed("G maps noise to 784 pixels in (-1, 1) with the right layers")


def check_discriminator(make_discriminator):
    """``make_discriminator(hidden)``: images [B, 784] -> probability of "real" [B, 1]."""
    D = make_discriminator(hidden=32)
    expect(isinstance(D, nn.Module), f"make_discriminator should return an nn.Module, got {type(D).__name__}")
    out = D(torch.randn(6, 784) * 5)
    expect_shape(out, (6, 1), "D(images) for 6 images")
    expect_range(out, 0.0, 1.0, "D(images)")
    expected = (784 * 32 + 32) + (32 * 32 + 32) + (32 + 1)
    expect(count_parameters(D) == expected,
           f"with hidden=32, D should have {expected:,} parameters (Linear 784->32, 32->32, 32->1), "
           f"got {count_parameters(D):,}. Check the layers.")
    slopes = [m.negative_slope for m in D.modules() if isinstance(m, nn.LeakyReLU)]
    expect(len(slopes) == 2 and all(abs(s - 0.2) < 1e-9 for s in slopes),
           f"D should use two nn.LeakyReLU(0.2) activations, found slopes {slopes}")
    passed("D maps 784 pixels to one probability with the right layers")


def check_sample_noise(sample_noise):
    """``sample_noise(batch_size, latent_dim, device)``: standard normal [B, latent] on ``device``."""
    z = sample_noise(4000, 16, torch.device("cpu"))
    expect_shape(z, (4000, 16), "sample_noise(4000, 16, cpu)")
    expect_dtype(z, torch.float32, "sample_noise(...)")
    expect(abs(z.mean().item()) < 0.05 and abs(z.std().item() - 1) < 0.05,
           f"noise should be standard normal (mean 0, std 1), got mean {z.mean().item():.3f} "
           f"std {z.std().item():.3f}. Use torch.randn, not torch.rand.")
    on_meta = sample_noise(3, 16, META)
    expect(on_meta.device == META,
           f"sample_noise must create the noise on the device it is given, got {on_meta.device}. "
           f"Pass device=device to torch.randn instead of hard-coding one.")
    passed("standard normal noise, on the device asked for")


def check_discriminator_loss(discriminator_loss):
    """``discriminator_loss(d_real, d_fake)``: BCE(D(x), 1) + BCE(D(G(z)), 0)."""
    d_real, d_fake = torch.tensor([[0.9], [0.6]]), torch.tensor([[0.2], [0.3]])
    loss = discriminator_loss(d_real, d_fake)
    expect_scalar(loss, "discriminator_loss(...)")
    expected = -(math.log(0.9) + math.log(0.6)) / 2 - (math.log(0.8) + math.log(0.7)) / 2
    swapped = -(math.log(0.1) + math.log(0.4)) / 2 - (math.log(0.2) + math.log(0.3)) / 2
    expect(abs(loss.item() - swapped) > 1e-3,
           "the labels are swapped: real images should be labelled 1 and fakes 0")
    expect_close(loss, torch.tensor(expected), "discriminator_loss(D(x)=[0.9, 0.6], D(G(z))=[0.2, 0.3])")
    passed("discriminator_loss = BCE(D(x), 1) + BCE(D(G(z)), 0)")


def check_generator_loss(generator_loss):
    """``generator_loss(d_fake)``: the non-saturating loss BCE(D(G(z)), 1) = -mean log D(G(z))."""
    d_fake = torch.tensor([[0.2], [0.5]])
    loss = generator_loss(d_fake)
    expect_scalar(loss, "generator_loss(...)")
    expected = -(math.log(0.2) + math.log(0.5)) / 2
    saturating = (math.log(0.8) + math.log(0.5)) / 2
    expect(abs(loss.item() - saturating) > 1e-3,
           "this is the saturating loss log(1 - D(G(z))); use -log D(G(z)) (BCE with target 1) instead")
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
    expect(change < 5, f"{name}'s weights jumped by {change:.0f} in one step: old gradients were added to the "
                       f"new ones. Call opt_{name.lower()}.zero_grad() before {loss}.backward().")


def _expect_any_device(function, hint, run_step, latent_dim=8):
    """``run_step(G, D)`` must work with both networks on the ``meta`` device."""
    G, D = _tiny_gan(latent_dim)
    try:
        run_step(G.to(META), D.to(META))
    except (RuntimeError, NotImplementedError) as error:
        raise AssertionError(f"{function} fails when the models are on another device ({error}). {hint}") from None


def check_discriminator_step(discriminator_step, latent_dim=8):
    """D's step updates D, returns (loss, mean D(x), mean D(G(z))), and leaves G alone."""
    G, D = _tiny_gan(latent_dim)
    opt_d = torch.optim.SGD(D.parameters(), lr=0.1)
    real = torch.rand(16, 784) * 2 - 1
    g_before, d_before = _copy(G), _copy(D)
    result = discriminator_step(G, D, opt_d, real, latent_dim)
    expect(isinstance(result, tuple) and len(result) == 3,
           "discriminator_step should return three things: (d_loss, mean D(x), mean D(G(z)))")
    d_loss, d_real, d_fake = result
    for name, value in (("d_loss", d_loss), ("mean D(x)", d_real), ("mean D(G(z))", d_fake)):
        expect_scalar(value, name)
        expect(not value.requires_grad, f"{name} should be detached (call .detach()), so the history keeps no graph")
    expect(0 <= d_real.item() <= 1 and 0 <= d_fake.item() <= 1,
           f"mean D(x) and mean D(G(z)) are probabilities, got {d_real.item():.3f} and {d_fake.item():.3f}")
    expect(not _unchanged(D, d_before), "D's weights did not change: call opt_d.step() after d_loss.backward()")
    expect(_unchanged(G, g_before), "G's weights changed during D's step: only opt_d may step here")
    expect(all(p.grad is None or p.grad.abs().sum() == 0 for p in G.parameters()),
           "D's loss pushed gradients into G: detach the fakes (G(z).detach()) before showing them to D")
    _expect_old_gradients_cleared(
        "D", lambda G, D: discriminator_step(G, D, torch.optim.SGD(D.parameters(), lr=0.1), real, latent_dim))
    _expect_any_device(
        "discriminator_step", "Create noise and labels on real.device, not on a fixed device.",
        lambda G, D: discriminator_step(G, D, torch.optim.SGD(D.parameters(), lr=0.1),
                                        torch.zeros(4, 784, device=META), latent_dim))
    passed("D's step trains D only, with fakes detached from G")


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
    expect(not g_loss.requires_grad, "return g_loss.detach(), so the history keeps no graph")
    expect(not _unchanged(G, g_before),
           "G's weights did not change: the fakes must keep their graph back to G (no .detach() here), "
           "then g_loss.backward() and opt_g.step()")
    expect(_unchanged(D, d_before), "D's weights changed during G's step: only opt_g may step here")
    with torch.no_grad():
        after = D(G(probe)).mean().item()
    expect(after > before,
           f"after G's step, D should rate fakes as *more* real, but mean D(G(z)) went from {before:.4f} "
           f"to {after:.4f}. G's loss should use target 1 (\"real\") for its fakes.")
    _expect_old_gradients_cleared(
        "G", lambda G, D: generator_step(G, D, torch.optim.SGD(G.parameters(), lr=0.1), 64, latent_dim))
    _expect_any_device(
        "generator_step", "Find the device with next(G.parameters()).device.",
        lambda G, D: generator_step(G, D, torch.optim.SGD(G.parameters(), lr=0.1), 4, latent_dim))
    passed("G's step trains G only, and D now rates the fakes as more real")
