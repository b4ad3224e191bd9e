"""One GAN training step: the noise, the two losses, the D step and the G step.

A GAN step has two halves:

1. **D step.** Show D a real batch (target "real") and a fake batch
   ``G(z).detach()`` (target "fake"); update D only. The ``.detach()`` (or
   ``torch.no_grad()``) keeps the D loss from pushing gradients into G.
2. **G step.** Show D a fake batch again, this time with target "real"
   (the non-saturating loss), and update G only.

A conditional GAN (session 5) passes the batch's labels too: G draws fakes
of the same digits as the real batch, and D sees every image with its label.

``train_step`` returns its numbers as 0-dim tensors that stay on the device;
``loop.fit`` runs it over every batch and copies them to the CPU once per
epoch. The one read it makes of the device is its check of the real batch at
the door: a batch in the wrong range, or holding NaN, is refused in words
before it can train anything.

``sample_noise``, ``discriminator_loss`` and ``generator_loss`` are the
answers to session 2's Exercises 3-5; session 2 never imports them.
"""

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .averaging import WeightAverage
from .data import PIXEL_RANGES
from .guards import FLOAT_DTYPES, describe, range_problem, require_whole
from .losses import raw_score_loss
from .taught import answers


# ---------------------------------------------------------------------------
# Noise and losses
# ---------------------------------------------------------------------------

@answers("02_mlp_gan", "sample_noise")
def sample_noise(batch_size, latent_shape, device, generator=None):
    """Standard normal noise ``[batch_size, *latent_shape]`` on ``device``.

    Taught in session 2, section 3 (Exercise 3).
    """
    if isinstance(latent_shape, int):
        latent_shape = (latent_shape,)
    return torch.randn(batch_size, *latent_shape, device=device, generator=generator)


def _bce(d_out, target, logits):
    """Binary cross-entropy of D's outputs against a constant target in [0, 1]."""
    targets = torch.full_like(d_out, target)
    if logits:
        return F.binary_cross_entropy_with_logits(d_out, targets)
    return F.binary_cross_entropy(d_out, targets)


@answers("02_mlp_gan", "discriminator_loss")
@answers("03_dcgan", "discriminator_loss_logits")
def discriminator_loss(d_real, d_fake, logits=False, real_target=1.0, fake_target=0.0):
    """D's loss: BCE(D(x), real_target) + BCE(D(G(z)), fake_target).

    ``d_real``, ``d_fake``: D's outputs ``[B, 1]``, probabilities (or logits
    if ``logits=True``). A real target of 0.9 gives one-sided label smoothing.
    Returns a 0-dim tensor. Taught in session 2 (``discriminator_loss``), and
    with logits and targets in session 3 (``discriminator_loss_logits``).
    """
    return _bce(d_real, real_target, logits) + _bce(d_fake, fake_target, logits)


@answers("02_mlp_gan", "generator_loss")
def generator_loss(d_fake, logits=False, target=1.0):
    """G's non-saturating loss: BCE(D(G(z)), target=1) = -mean log D(G(z)).

    Minimising it pushes D(G(z)) up. (The original minimax form,
    ``log(1 - D(G(z)))``, has almost no gradient early on, when D easily
    rejects every fake.) Returns a 0-dim tensor. Taught in session 2,
    section 4 (Exercise 5).
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
    ``d_loss_fn(d_real, d_fake)`` and ``g_loss_fn(d_fake)``: your own losses,
    used instead of the ones built from those settings (a session passes the
    loss its student wrote). ``reuse_fake``: the G step reuses the D step's
    fake batch (as recipe R1 does) instead of drawing fresh noise.
    ``pixel_range``: the range real images must be in (``"tanh"`` or
    ``"unit"``; None for data that are not images, where only NaN and
    infinity are refused). ``amp_dtype``: run the networks under ``torch.autocast`` in
    this dtype (losses stay in float32). ``n_classes``: for a conditional GAN,
    ``G(z, labels)`` and ``D(images, labels)``, the number of labels (None:
    not conditional). ``average``: a ``WeightAverage`` of G's weights, updated
    after every G step (None: no average); samples are best drawn with
    ``average.network`` (see ``sampler``). ``penalty(D, real, fake, *labels)``: a
    term added to D's loss, e.g. WGAN-GP's gradient penalty (None: none).
    ``n_critic``: D steps per G step (WGAN-GP takes 5): ``train_step`` then
    steps G on every ``n_critic``-th batch only. ``helpers.losses.gan_settings``
    gives these four fields for each of session 6's losses.
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
    d_loss_fn: Optional[Callable] = None
    g_loss_fn: Optional[Callable] = None
    reuse_fake: bool = False
    pixel_range: str = "tanh"
    amp_dtype: Optional[torch.dtype] = None  # e.g. torch.bfloat16: forward passes in mixed precision
    n_classes: Optional[int] = None  # conditional GANs: labels are 0 .. n_classes - 1
    average: Optional[WeightAverage] = None  # an average of G's weights, to draw samples with
    penalty: Optional[Callable] = None  # penalty(D, real, fake, *labels): a term added to D's loss (WGAN-GP's)
    n_critic: int = 1  # D steps per G step: G steps after every n_critic-th call of train_step
    d_steps: int = field(default=0, init=False)  # D steps taken so far
    last_g_loss: Optional[torch.Tensor] = field(default=None, init=False, repr=False)

    def __post_init__(self):
        """Refuse a critic with BatchNorm under a gradient penalty, and a conditional GAN whose networks' label
        tables are too small for ``n_classes`` labels."""
        require_whole(self.n_critic, "GAN.n_critic (D steps per G step)")
        self._check_last_layer()
        if self.penalty is not None and uses_batch_statistics(self.discriminator):
            raise ValueError("a gradient penalty is taken per sample, but this D has BatchNorm, which mixes the "
                             "samples of a batch: drop it from the critic (Gulrajani et al. use none, or layer "
                             "normalisation)")
        if self.n_classes is None:
            return
        require_whole(self.n_classes, "GAN.n_classes (labels; None: not conditional)")
        for who, network in (("G", self.generator), ("D", self.discriminator)):
            for name, table in network.named_modules():
                if isinstance(table, nn.Embedding) and table.num_embeddings < self.n_classes:
                    raise ValueError(f"this GAN has n_classes={self.n_classes} labels, but {who}'s label table "
                                     f"{who}.{name} has {table.num_embeddings} rows: build G and D with "
                                     f"n_classes={self.n_classes}, or give the GAN n_classes={table.num_embeddings}")

    def _check_last_layer(self):
        """Refuse a D whose last layer contradicts ``logits`` or the loss: a Sigmoid under BCE-with-logits, or
        under a loss that reads raw scores (``losses.raw_score_loss``)."""
        sigmoid = ends_in_sigmoid(self.discriminator)
        loss = raw_score_loss(self.d_loss_fn)
        if loss is not None and (sigmoid or not self.logits):
            raise ValueError(f"the {loss} loss reads D's raw scores: build D without its final Sigmoid and give the "
                             f"GAN logits=True (D ends in a Sigmoid: {sigmoid}; logits={self.logits})")
        if sigmoid and self.logits:
            raise ValueError("logits=True says D returns raw scores, but D ends in a Sigmoid: drop the Sigmoid, "
                             "or give the GAN logits=False")

    @property
    def sampler(self):
        """The network to draw samples with: the average of G's weights if kept, else G itself."""
        return self.generator if self.average is None else self.average.network

    def d_loss(self, d_real, d_fake):
        """D's loss on its outputs for a real and a fake batch: a 0-dim tensor."""
        if self.d_loss_fn is not None:
            return self.d_loss_fn(d_real, d_fake)
        return discriminator_loss(d_real, d_fake, self.logits, self.real_target, self.fake_target)

    def g_loss(self, d_fake):
        """G's loss on D's outputs for a fake batch: a 0-dim tensor."""
        if self.g_loss_fn is not None:
            return self.g_loss_fn(d_fake)
        return generator_loss(d_fake, self.logits, self.g_target)


@answers("02_mlp_gan", "discriminator_step")
@answers("02_mlp_gan", "generator_step")
@answers("05_conditional", "conditional_discriminator_step")
@answers("05_conditional", "conditional_generator_step")
def train_step(gan, real, labels=None):
    """One D step then one G step on a batch of real images ``[B, C, H, W]``.

    Session 2's two step exercises are its halves, and session 5's conditional ones: while one of those
    is checked, this function is locked (``helpers.taught``).

    ``labels``: for a conditional GAN, the batch's labels ``[B]`` (int64).
    G's fakes get the same labels, and D judges every image with its label.
    Returns a dict of 0-dim tensors, still on the device (no sync):
    ``d_loss``, ``g_loss``, ``d_real`` (mean D(x)) and ``d_fake`` (mean D(G(z))),
    the last two as probabilities (the sigmoid of a score, for a D that returns
    scores). With ``gan.n_critic`` above 1, G steps only on every
    ``n_critic``-th call; the other calls report G's last loss (0 before its first).
    The batch is checked first (``check_real_batch``, ``check_labels``):
    nothing is trained on a batch that is not images in the GAN's pixel range.
    """
    G, D = gan.generator, gan.discriminator
    check_real_batch(gan, real)
    given = check_labels(gan, real, labels)  # () or (labels,): what G and D get after their first input
    n = real.shape[0]

    # D step: fakes are made without a graph back into G (or detached), so
    # this loss cannot change G. D scores real and fake in one pass where it
    # can (see ``discriminate``).
    z = sample_noise(n, gan.latent_shape, real.device)
    with _precision(gan, real.device):
        if gan.reuse_fake:
            fake = generate(G, z, *given)  # kept, with its graph, for G's step
            d_real, d_fake = discriminate(D, real, fake.detach(), *given)
        else:
            with torch.no_grad():
                fake = generate(G, z, *given)
            d_real, d_fake = discriminate(D, real, fake, *given)
    d_real, d_fake = d_real.float(), d_fake.float()
    d_loss = gan.d_loss(d_real, d_fake)
    if gan.penalty is not None:
        with _precision(gan, real.device):
            d_loss = d_loss + gan.penalty(D, real, fake.detach(), *given).float()
    gan.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    gan.opt_d.step()
    gan.d_steps += 1
    numbers = {"d_loss": d_loss.detach(), "d_real": probabilities(d_real.detach(), gan.logits).mean(),
               "d_fake": probabilities(d_fake.detach(), gan.logits).mean()}
    if gan.d_steps % gan.n_critic:  # a critic step only: G waits for its n_critic-th batch
        numbers["g_loss"] = gan.last_g_loss if gan.last_g_loss is not None else torch.zeros((), device=real.device)
        return numbers

    # G step: only G's optimiser steps, so D's weights stay as they are. D is
    # frozen meanwhile: gradients flow through it to G, but none are computed
    # for D's own weights, which this step would not use.
    D.requires_grad_(False)
    try:
        with _precision(gan, real.device):
            if not gan.reuse_fake:
                fake = G(sample_noise(n, gan.latent_shape, real.device), *given)
            d_on_fake = D(fake, *given)
        g_loss = gan.g_loss(d_on_fake.float())
        gan.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        gan.opt_g.step()
        if gan.average is not None:
            gan.average.update(G)
    finally:
        D.requires_grad_(True)  # even if G's step failed: D must be trainable again

    gan.last_g_loss = numbers["g_loss"] = g_loss.detach()
    return numbers


def ends_in_sigmoid(network):
    """Whether the last layer ``network`` registers is an ``nn.Sigmoid`` (for a ``Sequential``, its output layer)."""
    layers = [m for m in network.modules() if not any(True for _ in m.children())]
    return bool(layers) and isinstance(layers[-1], nn.Sigmoid)


def check_real_batch(gan, real):
    """Raise ``ValueError``/``TypeError`` unless ``real`` is a batch ``gan`` can train on.

    A float tensor ``[B, C, H, W]`` (or ``[B, features]`` for a flat MLP), at
    least 2 images where a network has BatchNorm, every value a number in the
    GAN's pixel range. Reads the batch's minimum and maximum: the one host
    sync of a step.
    """
    if not isinstance(real, torch.Tensor):
        raise TypeError(f"the real batch must be a torch.Tensor of images, got {type(real).__name__}")
    if real.dtype not in FLOAT_DTYPES:
        hint = (" Convert pixels first: data.convert_pixels(images, 'uint8', 'tanh')."
                if real.dtype == torch.uint8 else "")
        raise TypeError(f"the real batch must be float images, got {describe(real)}.{hint}")
    if real.dim() not in (2, 4):
        raise ValueError(f"the real batch must be images [B, C, H, W] (or flat [B, features]), got {describe(real)}")
    smallest = 2 if uses_batch_statistics(gan.generator) or uses_batch_statistics(gan.discriminator) else 1
    if real.shape[0] < smallest:
        raise ValueError(f"the real batch must hold at least {smallest} image(s)"
                         f"{' (BatchNorm needs 2 to compute a variance)' if smallest == 2 else ''}, "
                         f"got {describe(real)}")
    if gan.pixel_range is None:  # not images (points in the plane, say): only NaN and infinity are refused
        problem = range_problem(real, -math.inf, math.inf)
        if problem:
            raise ValueError(f"the real batch holds values that are not numbers: {problem}")
        return
    low, high = PIXEL_RANGES[gan.pixel_range]
    problem = range_problem(real, low, high, tolerance=1e-3)
    if problem:
        raise ValueError(f"the real batch is not images in the {gan.pixel_range!r} range [{low:g}, {high:g}]: "
                         f"{problem}. Convert it with data.convert_pixels, and look for NaN in the data.")


def check_labels(gan, real, labels):
    """``()`` for an unconditional GAN, ``(labels,)`` for a conditional one; ``ValueError``/``TypeError`` otherwise.

    A conditional GAN (``gan.n_classes`` set) needs ``labels``: int64 ``[B]``
    for a batch of ``B`` images, each in ``0 .. n_classes - 1``.
    """
    if gan.n_classes is None:
        if labels is not None:
            raise ValueError("labels were given, but this GAN is not conditional (GAN.n_classes is None)")
        return ()
    if labels is None:
        raise ValueError(f"this GAN is conditional: pass the batch's labels (0 to {gan.n_classes - 1}) with it "
                         f"(fit passes them when its batches are (images, labels) pairs)")
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64:
        raise TypeError(f"labels must be an int64 tensor [B] of digits, got {describe(labels)}")
    if tuple(labels.shape) != (real.shape[0],):
        raise ValueError(f"labels must be one per image, shape ({real.shape[0]},), got {describe(labels)}")
    problem = range_problem(labels, 0, gan.n_classes - 1, tolerance=0)
    if problem:
        raise ValueError(f"labels must be 0 to {gan.n_classes - 1}: {problem}")
    return (labels,)


def generate(G, z, *labels):
    """``G(z)`` (or ``G(z, labels)``), with a clear error when G cannot take noise of ``z``'s shape."""
    try:
        return G(z, *labels)
    except RuntimeError as error:
        if "shape" not in str(error) and "size" not in str(error):
            raise
        raise ValueError(f"the generator cannot take noise of shape {tuple(z.shape)} (latent_shape "
                         f"{tuple(z.shape[1:])}); does latent_shape match G's first layer? "
                         f"torch said: {str(error).splitlines()[0]}") from None


def discriminate(D, real, fake, *labels):
    """D's outputs on a real and a fake batch: ``(D(real), D(fake))``.

    ``real``: ``[B, C, H, W]``; ``fake``: ``[B', C, H, W]``. Returns
    ``[B, 1]`` and ``[B', 1]``. For a conditional D pass ``labels [B]``: the
    real and the fake batch are judged with the same labels.

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
        return D(real, *labels), D(fake, *labels)
    fake = fake.to(real.dtype)  # under autocast G's images may be bfloat16, the real ones float32
    both = [torch.cat([y, y]) for y in labels]
    return D(torch.cat([real, fake]), *both).split([real.shape[0], fake.shape[0]])


BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def uses_batch_statistics(module):
    """True if ``module`` holds a BatchNorm layer, whose output depends on the rest of the batch."""
    return any(isinstance(m, BATCH_NORMS) for m in module.modules())


def _precision(gan, device):
    """``torch.autocast`` in ``gan.amp_dtype`` when one is set, else a no-op context."""
    if gan.amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=gan.amp_dtype)
