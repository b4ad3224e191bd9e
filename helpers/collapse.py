"""Mode collapse on a clock: two 2-D mixtures of Gaussians, their metrics, and packing (PacGAN).

On images, mode collapse is hard to see and slow to reproduce. On points in
the plane it takes seconds: the data is a mixture of Gaussians with known
centres, so every generated point can be checked against the modes. The two
mixtures and the three numbers are those of PacGAN (Lin et al. 2018, Table 1):

- ``ring()``: 8 Gaussians on the unit circle, standard deviation 0.01;
- ``grid()``: 25 Gaussians at -4, -2, 0, 2, 4 on each axis, standard deviation 0.05;
- ``mode_report(samples, mixture)``: modes captured, the share of
  high-quality samples (within 3 standard deviations of a mode), and the
  reverse KL divergence of the mode histogram from the uniform one.

Packing (``pack``, ``PackedDiscriminator``) lets D judge ``m`` samples at once,
all real or all fake: a collapsed G, whose samples look alike, is then easy
to catch. ``train_toy_gan`` trains a small GAN on a mixture through the
course's own loop, ``loop.fit`` with ``steps.train_step``.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from .averaging import WeightAverage
from .guards import describe, require_number, require_tensor, require_whole
from .hooks import TrainMode
from .loop import fit
from .steps import GAN, train_step
from .taught import answers

# PacGAN's Table 1 (mean and standard error over 10 trials), for comparison.
PUBLISHED = {
    "ring": {"GAN": (6.3, 0.5, 0.982, 0.45), "PacGAN2": (7.9, 0.1, 0.956, 0.07), "PacGAN4": (7.8, 0.1, 0.959, 0.07)},
    "grid": {"GAN": (17.3, 0.8, 0.948, 0.70), "PacGAN2": (23.8, 0.7, 0.913, 0.13), "PacGAN4": (24.8, 0.2, 0.936, 0.04)},
}


@dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of 2-D Gaussians: ``centres [K, 2]``, one standard deviation for all."""

    name: str
    centres: torch.Tensor
    std: float

    def sample(self, n, generator=None):
        """``n`` points ``[n, 2]``: a random mode each, plus Gaussian noise of ``std``."""
        modes = torch.randint(len(self.centres), (n,), generator=generator)
        return self.centres[modes] + self.std * torch.randn(n, 2, generator=generator)


def ring(modes=8, radius=1.0, std=0.01):
    """PacGAN's ring: ``modes`` Gaussians evenly spaced on a circle."""
    angles = torch.arange(modes) * (2 * math.pi / modes)
    return Mixture("ring", radius * torch.stack([angles.cos(), angles.sin()], 1), std)


def grid(side=5, spacing=2.0, std=0.05):
    """PacGAN's grid: ``side`` x ``side`` Gaussians, centred on 0, ``spacing`` apart."""
    axis = (torch.arange(side) - (side - 1) / 2) * spacing
    return Mixture("grid", torch.cartesian_prod(axis, axis), std)


def nearest_mode(samples, centres):
    """For points ``[N, 2]``: ``(index of the nearest centre [N], distance to it [N])``."""
    distances = torch.cdist(samples.double(), centres.double())
    distance, index = distances.min(1)
    return index, distance


@answers("04_evaluate", "count_modes")
def mode_report(samples, mixture, min_samples=20):
    """PacGAN's three numbers for generated points ``[N, 2]``, as a dict.

    - ``high_quality``: the share of samples within 3 standard deviations of their nearest mode;
    - ``modes``: how many modes hold at least ``min_samples`` high-quality samples;
    - ``reverse_kl``: KL(q || uniform), q the histogram of high-quality samples over the
      modes (0 when every mode gets the same share; ln K when all fall on one).
    Taught in session 4, section 5 (Exercise 3).
    """
    counts, good = _counts_within(samples, mixture, 3 * mixture.std)
    counts = counts.double()
    share = counts / counts.sum() if counts.sum() > 0 else counts
    nonzero = share[share > 0]
    reverse_kl = float((nonzero * (nonzero * len(share)).log()).sum()) if len(nonzero) else float("nan")
    return {"modes": int((counts >= min_samples).sum()), "high_quality": float(good.double().mean()),
            "reverse_kl": reverse_kl, "counts": counts.long().tolist()}


def modes_within(samples, mixture, radius, min_samples=20):
    """``mode_report``'s count with a looser rule: ``(modes, share)``.

    ``modes``: how many modes have at least ``min_samples`` samples within
    ``radius`` of their centre; ``share``: the share of samples within
    ``radius`` of any mode. With ``radius`` = 3 standard deviations this is
    PacGAN's rule. A looser radius tells a G that has found every mode but
    still spreads its samples around them (under-trained) from one that has
    lost modes (collapsed). Used in session 6, section 6.
    """
    require_number(radius, "radius", above=0)
    counts, near = _counts_within(samples, mixture, radius)
    return int((counts >= min_samples).sum()), float(near.double().mean())


def _counts_within(samples, mixture, radius):
    """``(counts [K], near [N])``: per mode, how many samples lie within ``radius`` of it (their nearest
    mode); and which samples lie within ``radius`` of any mode. ``samples``: finite points ``[N, 2]``, N >= 1."""
    require_tensor(samples, "samples")
    if samples.dim() != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"samples must be points [N, 2], got {describe(samples)}")
    if not bool(torch.isfinite(samples).all()):
        raise ValueError(f"samples hold NaN or infinite values ({describe(samples)})")
    index, distance = nearest_mode(samples, mixture.centres)
    near = distance <= radius
    return torch.bincount(index[near], minlength=len(mixture.centres)), near


@answers("04_evaluate", "pack")
def pack(x, m):
    """Join every ``m`` consecutive samples into one: ``[B, D]`` -> ``[B // m, m * D]``.

    ``B`` must be a multiple of ``m``. Taught in session 4, section 5 (Exercise 4).
    """
    require_tensor(x, "x", ndims=(2,))
    if m < 1 or x.shape[0] % m:
        raise ValueError(f"cannot pack {x.shape[0]} samples in groups of {m}: the batch must be a multiple of m")
    return x.reshape(x.shape[0] // m, m * x.shape[1])


class PackedDiscriminator(nn.Module):
    """D over packs of ``m`` samples: ``[B, D]`` -> one score per pack, repeated for its ``m`` members ``[B, 1]``.

    Repeating each pack's score keeps the batch shape every loss and step in
    the course expects; the mean over the batch is the mean over the packs.
    """

    def __init__(self, discriminator, m):
        super().__init__()
        self.discriminator, self.m = discriminator, m

    def forward(self, x):
        return self.discriminator(pack(x, self.m)).repeat_interleave(self.m, dim=0)


def toy_generator(noise=2, hidden=128):
    """G for 2-D points: noise ``[B, noise]`` -> points ``[B, 2]``."""
    return nn.Sequential(nn.Linear(noise, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2))


def toy_discriminator(m=1, hidden=128):
    """D for packs of ``m`` points: ``[B, 2]`` -> logits ``[B, 1]`` (one score per pack, repeated)."""
    body = nn.Sequential(nn.Linear(2 * m, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                         nn.Linear(hidden, 1))
    return PackedDiscriminator(body, m)


class Points:
    """Fresh batches of mixture samples, ``batches_per_epoch`` of them per pass."""

    def __init__(self, mixture, batch_size, batches_per_epoch, generator):
        self.mixture, self.batch_size, self.n, self.generator = mixture, batch_size, batches_per_epoch, generator

    def __len__(self):
        return self.n

    def __iter__(self):
        for _ in range(self.n):
            yield self.mixture.sample(self.batch_size, self.generator)


def saturating_generator_loss(d_fake_logits):
    """The original minimax G loss, to minimise: mean log(1 - D(G(z))) = -mean softplus(logit)."""
    return -F.softplus(d_fake_logits).mean()


def packed_penalty(weight):
    """WGAN-GP's penalty, ``weight`` times it, for a ``PackedDiscriminator``: taken on packs, the inputs its
    critic judges (a pack's score reaches each of its members ``m`` times, so a penalty per sample would
    not be the critic's)."""
    term = losses.penalty_term(weight)

    def penalty(D, real, fake):
        return term(D.discriminator, pack(real, D.m), pack(fake, D.m))
    return penalty


def train_toy_gan(mixture, m=1, steps=3000, batch_size=128, lr=1e-3, seed=0, g_loss_fn=None, on_step=None,
                  average_decay=None, d_hidden=128, loss="bce", betas=(0.5, 0.999)):
    """Train a small GAN (packing degree ``m``) on ``mixture`` for ``steps`` steps; return ``(G, history)``.

    ``batch_size``: how many inputs D judges per step, as in PacGAN: packs of
    ``m`` samples each, so every step draws ``batch_size * m`` real points and
    as many fakes. (Cutting a fixed batch into packs instead would give a
    packed D fewer examples per step, ``batch_size / m``, and a noisier
    gradient: on the grid, PacGAN4 trained that way failed.)
    ``g_loss_fn``: G's loss on D's logits (default: the non-saturating one).
    ``on_step(gan, numbers)``: called after every step (e.g. to record G's gradient norm).
    ``average_decay``: keep an average of G's weights (``averaging.WeightAverage``)
    and return it, in eval mode, instead of G's last weights (None: return G).
    ``d_hidden``: units in each of D's hidden layers. ``lr``, ``betas``: Adam's, for G and D.
    ``loss``: a name of ``losses.LOSSES`` (session 6). ``steps`` counts G's
    steps: a loss with ``n_critic`` critic steps per G step (WGAN-GP: 5) trains
    D ``n_critic * steps`` times, each on a fresh batch.
    """
    for name, value in (("m (packing)", m), ("steps", steps), ("batch_size", batch_size), ("d_hidden", d_hidden)):
        require_whole(value, name)
    require_number(lr, "lr", above=0)
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ValueError(f"betas: Adam's two betas were expected, e.g. (0.5, 0.999); got {betas!r}")
    for beta in betas:
        require_number(beta, "each of Adam's betas", at_least=0, below=1)
    chosen = losses.get_loss(loss)
    if g_loss_fn is not None and loss != "bce":
        raise ValueError(f"g_loss_fn replaces BCE's G loss; it cannot be combined with loss={loss!r}")
    torch.manual_seed(seed)
    G, D = toy_generator(), toy_discriminator(m, d_hidden)
    if chosen.spectral_norm:
        losses.with_spectral_norm(D)
    gan = GAN(G, D, torch.optim.Adam(G.parameters(), lr=lr, betas=tuple(betas)),
              torch.optim.Adam(D.parameters(), lr=lr, betas=tuple(betas)), latent_shape=(2,), logits=True,
              d_loss_fn=chosen.d_loss, g_loss_fn=g_loss_fn or chosen.g_loss, pixel_range=None,
              penalty=packed_penalty(chosen.penalty_weight) if chosen.penalty_weight else None,
              n_critic=chosen.n_critic,
              average=None if average_decay is None else WeightAverage(G, average_decay))
    points = Points(mixture, batch_size * m, steps * chosen.n_critic, torch.Generator().manual_seed(seed))

    def step(real):
        numbers = train_step(gan, real)
        if on_step is not None:
            on_step(gan, numbers)
        return numbers

    history = fit(step, points, 1, hooks=[TrainMode(G, D)])
    return gan.sampler.eval(), history


@torch.no_grad()
def generate_points(G, n=2500, seed=1):
    """``n`` points ``[n, 2]`` from a toy generator (2-D noise)."""
    return G(torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)))
