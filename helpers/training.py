"""Training a GAN: the losses, one training step, one epoch, and a history.

A GAN step has two halves:

1. **D step.** Show D a real batch (target "real") and a fake batch
   ``G(z).detach()`` (target "fake"); update D only. The ``.detach()`` (or
   ``torch.no_grad()``) keeps the D loss from pushing gradients into G.
2. **G step.** Show D a fake batch again, this time with target "real"
   (the non-saturating loss), and update G only.

Nothing here calls ``.item()`` inside the loop: step numbers stay on the
device in a ``History`` and are copied to the CPU once per epoch, so a GPU is
never made to wait for Python.
"""

import contextlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .validation import describe


# ---------------------------------------------------------------------------
# Noise and losses
# ---------------------------------------------------------------------------

def sample_noise(batch_size, latent_shape, device, generator=None):
    """Standard normal noise ``[batch_size, *latent_shape]`` on ``device``."""
    if isinstance(latent_shape, int):
        latent_shape = (latent_shape,)
    return torch.randn(batch_size, *latent_shape, device=device, generator=generator)


def _bce(d_out, target, logits):
    """Binary cross-entropy of D's outputs against a constant target in [0, 1]."""
    targets = torch.full_like(d_out, target)
    if logits:
        return F.binary_cross_entropy_with_logits(d_out, targets)
    return F.binary_cross_entropy(d_out, targets)


def discriminator_loss(d_real, d_fake, logits=False, real_target=1.0, fake_target=0.0):
    """D's loss: BCE(D(x), real_target) + BCE(D(G(z)), fake_target).

    ``d_real``, ``d_fake``: D's outputs ``[B, 1]``, probabilities (or logits
    if ``logits=True``). Targets 0.9 / 0.1 give label smoothing. Returns a
    0-dim tensor.
    """
    return _bce(d_real, real_target, logits) + _bce(d_fake, fake_target, logits)


def generator_loss(d_fake, logits=False, target=1.0):
    """G's non-saturating loss: BCE(D(G(z)), target=1) = -mean log D(G(z)).

    Minimising it pushes D(G(z)) up. (The original minimax form,
    ``log(1 - D(G(z)))``, has almost no gradient early on, when D easily
    rejects every fake.) Returns a 0-dim tensor.
    """
    return _bce(d_fake, target, logits)


def probabilities(d_out, logits):
    """D's outputs as probabilities of "real", whatever D returns."""
    return torch.sigmoid(d_out) if logits else d_out


# ---------------------------------------------------------------------------
# One step, one epoch
# ---------------------------------------------------------------------------

@dataclass
class GAN:
    """Everything a training step needs, in one place.

    ``logits``: D returns logits (use ``BCEWithLogits``) rather than
    probabilities. ``real_target``/``fake_target``: D's targets (1 and 0, or
    0.9 and 0.1 for label smoothing); ``g_target``: G's target (1).
    ``reuse_fake``: the G step reuses the D step's fake batch (as recipe R1
    does) instead of drawing fresh noise. ``amp_dtype``: run the networks
    under ``torch.autocast`` in this dtype (losses stay in float32).
    """

    generator: nn.Module
    discriminator: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    latent_shape: tuple
    logits: bool = False
    real_target: float = 1.0
    fake_target: float = 0.0
    g_target: float = 1.0
    reuse_fake: bool = False
    amp_dtype: Optional[torch.dtype] = None  # e.g. torch.bfloat16: forward passes in mixed precision

    @property
    def device(self):
        return next(self.generator.parameters()).device


def train_step(gan, real):
    """One D step then one G step on a batch of real images ``[B, C, H, W]``.

    Returns a dict of 0-dim tensors, still on the device (no sync):
    ``d_loss``, ``g_loss``, ``d_real`` (mean D(x)) and ``d_fake`` (mean D(G(z))).
    """
    G, D = gan.generator, gan.discriminator
    n = real.shape[0]

    # D step: fakes are made without a graph back into G (or detached), so
    # this loss cannot change G. D scores real and fake in one pass where it
    # can (see ``discriminate``).
    z = sample_noise(n, gan.latent_shape, real.device)
    with _precision(gan, real.device):
        if gan.reuse_fake:
            fake = G(z)  # kept, with its graph, for G's step
            d_real, d_fake = discriminate(D, real, fake.detach())
        else:
            with torch.no_grad():
                fake = G(z)
            d_real, d_fake = discriminate(D, real, fake)
    d_real, d_fake = d_real.float(), d_fake.float()
    d_loss = discriminator_loss(d_real, d_fake, gan.logits, gan.real_target, gan.fake_target)
    gan.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    gan.opt_d.step()

    # G step: only G's optimiser steps, so D's weights stay as they are. D is
    # frozen meanwhile: gradients flow through it to G, but none are computed
    # for D's own weights, which this step would not use.
    D.requires_grad_(False)
    with _precision(gan, real.device):
        if not gan.reuse_fake:
            fake = G(sample_noise(n, gan.latent_shape, real.device))
        d_on_fake = D(fake)
    g_loss = generator_loss(d_on_fake.float(), gan.logits, gan.g_target)
    gan.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    gan.opt_g.step()
    D.requires_grad_(True)

    return {
        "d_loss": d_loss.detach(),
        "g_loss": g_loss.detach(),
        "d_real": probabilities(d_real.detach(), gan.logits).mean(),
        "d_fake": probabilities(d_fake.detach(), gan.logits).mean(),
    }


def discriminate(D, real, fake):
    """D's outputs on a real and a fake batch: ``(D(real), D(fake))``.

    ``real``: ``[B, C, H, W]``; ``fake``: ``[B', C, H, W]``. Returns
    ``[B, 1]`` and ``[B', 1]``.

    A D without BatchNorm scores every image on its own, so one pass over the
    two batches stacked gives the same outputs as two passes: half the layer
    calls, bigger (faster) matrix products, and one weight gradient per layer
    instead of two to add up. BatchNorm normalises with the statistics of the
    whole batch, so there a stacked batch would mix real and fake statistics;
    such a D gets one pass per batch (the usual advice for BatchNorm GANs:
    batches that are all real or all fake).
    """
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(f"real and fake images must have the same shape (batch sizes aside); "
                         f"real: {describe(real)}; fake: {describe(fake)}. Does G reshape its output "
                         f"to [B, C, H, W]?")
    if uses_batch_statistics(D):
        return D(real), D(fake)
    fake = fake.to(real.dtype)  # under autocast G's images may be bfloat16, the real ones float32
    return D(torch.cat([real, fake])).split([real.shape[0], fake.shape[0]])


BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def uses_batch_statistics(module):
    """True if ``module`` holds a BatchNorm layer, whose output depends on the rest of the batch."""
    return any(isinstance(m, BATCH_NORMS) for m in module.modules())


def _precision(gan, device):
    """``torch.autocast`` in ``gan.amp_dtype`` when one is set, else a no-op context."""
    if gan.amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=gan.amp_dtype)


def train_epoch(gan, batches, history, max_steps=None, progress=None):
    """Run ``train_step`` over every batch (at most ``max_steps``); return the steps done.

    ``batches`` yields image tensors (or ``(images, labels)`` pairs);
    ``history`` records each step's numbers; ``progress`` is an optional
    ``tqdm`` bar to advance.
    """
    gan.generator.train()
    gan.discriminator.train()
    steps = 0
    for batch in batches:
        if max_steps is not None and steps >= max_steps:
            break
        real = batch[0] if isinstance(batch, (tuple, list)) else batch
        history.log(**train_step(gan, real))
        steps += 1
        if progress is not None:
            progress.update(1)
    return steps


# ---------------------------------------------------------------------------
# History: numbers per step and per epoch, synced once per epoch
# ---------------------------------------------------------------------------

class History:
    """Per-step and per-epoch training numbers.

    ``log(d_loss=t, ...)`` keeps 0-dim tensors on their device;
    ``end_epoch()`` copies the epoch's values to the CPU in one transfer and
    records their means. Afterwards ``history.steps["d_loss"]`` is a list of
    per-step floats and ``history.epochs["d_loss"]`` a list of per-epoch means.
    """

    def __init__(self):
        self.steps = defaultdict(list)
        self.epochs = defaultdict(list)
        self._pending = defaultdict(list)

    def log(self, **values):
        """Record one step's values (0-dim tensors or numbers); nothing is synced."""
        for key, value in values.items():
            if isinstance(value, torch.Tensor) and value.dim() != 0:
                raise ValueError(f"history values must be single numbers, got {key}: {describe(value)}")
            self._pending[key].append(value.detach() if isinstance(value, torch.Tensor) else torch.tensor(float(value)))

    def end_epoch(self):
        """Move this epoch's values to the CPU (one sync); return the epoch means."""
        if not self._pending:
            return {}
        keys = list(self._pending)
        lengths = [len(self._pending[k]) for k in keys]
        device = self._pending[keys[0]][0].device
        flat = torch.cat([torch.stack(self._pending[k]).float().to(device) for k in keys]).cpu()
        means = {}
        for key, chunk in zip(keys, flat.split(lengths)):
            self.steps[key].extend(chunk.tolist())
            means[key] = chunk.mean().item()
            self.epochs[key].append(means[key])
        self._pending.clear()
        return means

    def state_dict(self):
        """Plain lists, for checkpoints (pending values are flushed first)."""
        self.end_epoch()
        return {"steps": dict(self.steps), "epochs": dict(self.epochs)}

    def load_state_dict(self, state):
        self.steps = defaultdict(list, {k: list(v) for k, v in state["steps"].items()})
        self.epochs = defaultdict(list, {k: list(v) for k, v in state["epochs"].items()})
        self._pending.clear()

    def __repr__(self):
        last = {k: round(v[-1], 4) for k, v in self.epochs.items() if v}
        return f"History({len(next(iter(self.epochs.values()), []))} epochs, last: {last})"
