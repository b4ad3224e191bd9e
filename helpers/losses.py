"""Session 6: the game behind a GAN, and the losses that make it easier to play.

The first GAN loss (session 2) is binary cross-entropy: D is a classifier of
real against fake. Session 6 shows what that game computes and adds the three
families of losses that later GANs train with:

- **the game on a grid** (section 1): ``optimal_discriminator`` and
  ``js_divergence`` for two densities given as probabilities on the same
  points; against the best D, BCE's game measures the Jensen-Shannon
  divergence of the data and G's distribution;
- **least squares** (LSGAN, Mao et al. 2017, section 2): D regresses real
  to 1 and fake to 0, G pulls its fakes' scores to 1;
- **hinge** (section 3): D only cares about scores on the wrong side of
  +-1; G raises its fakes' scores (``-mean D(G(z))``, also WGAN's G loss);
- **Wasserstein with a gradient penalty** (WGAN-GP, Gulrajani et al. 2017,
  section 4): a *critic* scores real above fake, with a norm-1 gradient
  between them (``gradient_penalty`` at ``random_mix`` points), and takes ``n_critic`` steps per G step;
- **spectral normalisation** (Miyato et al. 2018, section 5): every layer of D
  divided by its largest singular value, found by power iteration
  (``spectral_norm_step``); ``with_spectral_norm`` applies PyTorch's version.

Every loss takes D's raw scores (logits) ``[B, 1]`` and returns a 0-dim tensor.
``LOSSES`` names each choice; ``steps.GAN`` trains with any of them
(``gan_settings``), and so do the recipes (``Recipe.loss``), the toy GANs of
``helpers.collapse`` and both benchmarks.
"""

from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .guards import FLOAT_DTYPES, describe, range_problem, require_number, require_tensor, require_whole
from .taught import answers


# ---------------------------------------------------------------------------
# Section 1: the game, on a grid of points
# ---------------------------------------------------------------------------

def _densities(p_data, p_g):
    """Refuse two densities that cannot be compared: vectors ``[N]`` of one shape, no NaN, no negative value."""
    for name, p in (("p_data", p_data), ("p_g", p_g)):
        require_tensor(p, name, ndims=(1,))
        if not bool(torch.isfinite(p).all()) or bool((p < 0).any()):
            raise ValueError(f"{name} must hold probabilities (finite, >= 0), got {describe(p)}")
    if p_data.shape != p_g.shape:
        raise ValueError(f"p_data and p_g must be given on the same points, got {describe(p_data)} and {describe(p_g)}")


@answers("06_stable", "optimal_discriminator")
def optimal_discriminator(p_data, p_g):
    """The best D for a fixed G: ``p_data / (p_data + p_g)`` at each point; 0.5 where both are 0.

    ``p_data``, ``p_g``: densities (or probabilities) at the same points ``[N]``.
    Returns ``[N]`` in [0, 1]. Taught in session 6, section 1 (Exercise 1).
    """
    _densities(p_data, p_g)
    total = p_data + p_g
    return torch.where(total > 0, p_data / total.clamp_min(torch.finfo(total.dtype).tiny), torch.full_like(total, 0.5))


def _kl(p, q):
    """KL(p || q) for probability vectors, with 0 log 0 = 0."""
    inside = p > 0
    return (p[inside] * (p[inside] / q[inside]).log()).sum()


@answers("06_stable", "js_divergence")
def js_divergence(p, q):
    """The Jensen-Shannon divergence of two probability vectors ``[N]`` (each summing to 1), in nats: a 0-dim tensor.

    JSD(p, q) = KL(p || m) / 2 + KL(q || m) / 2, with m = (p + q) / 2. It is 0 for
    equal vectors and log 2 for vectors with no point in common. Taught in
    session 6, section 1 (Exercise 2).
    """
    _densities(p, q)
    for name, vector in (("p", p), ("q", q)):
        total = float(vector.sum())
        if abs(total - 1) > 1e-4:
            raise ValueError(f"{name} must be a probability vector summing to 1, got a sum of {total:.6g}: "
                             f"divide it by {name}.sum() first")
    m = (p + q) / 2
    return (_kl(p, m) + _kl(q, m)) / 2


def game_value(d, p_data, p_g):
    """BCE's game for a D given as probabilities ``d [N]`` on the points: E_data[log D] + E_G[log(1 - D)].

    ``p_data``, ``p_g``: probability vectors ``[N]``. Points where a density is 0 add nothing.
    Against ``optimal_discriminator`` it equals ``-log 4 + 2 * js_divergence(p_data, p_g)``.
    """
    _densities(p_data, p_g)
    require_tensor(d, "d")
    problem = range_problem(d, 0, 1, tolerance=0) or (None if d.shape == p_data.shape else
                                                     f"expected shape {tuple(p_data.shape)}, got {tuple(d.shape)}")
    if problem:
        raise ValueError(f"d must be D's probabilities on the same points as p_data: {problem}")
    real = torch.where(p_data > 0, p_data * d.clamp_min(1e-300).log(), torch.zeros_like(d))
    fake = torch.where(p_g > 0, p_g * (1 - d).clamp_min(1e-300).log(), torch.zeros_like(d))
    return real.sum() + fake.sum()


# ---------------------------------------------------------------------------
# Sections 2-4: the losses, on D's raw scores [B, 1]
# ---------------------------------------------------------------------------

@answers("06_stable", "lsgan_discriminator_loss")
def lsgan_discriminator_loss(d_real, d_fake):
    """LSGAN's D loss: ``mean((D(x) - 1)^2) / 2 + mean(D(G(z))^2) / 2`` (targets 1 and 0, no sigmoid).

    Taught in session 6, section 2 (Exercise 3).
    """
    _check_scores(d_real=d_real, d_fake=d_fake)
    return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake ** 2).mean()


@answers("06_stable", "lsgan_generator_loss")
def lsgan_generator_loss(d_fake):
    """LSGAN's G loss: ``mean((D(G(z)) - 1)^2) / 2``. Taught in session 6, section 2 (Exercise 4)."""
    _check_scores(d_fake=d_fake)
    return 0.5 * ((d_fake - 1) ** 2).mean()


@answers("06_stable", "hinge_discriminator_loss")
def hinge_discriminator_loss(d_real, d_fake):
    """The hinge D loss: ``mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))``.

    A real image scored above 1, or a fake below -1, costs nothing. Taught in
    session 6, section 3 (Exercise 5).
    """
    _check_scores(d_real=d_real, d_fake=d_fake)
    return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()


def _check_scores(**scores):
    """Refuse what is not D's raw scores for a batch: a non-empty float tensor ``[B]`` or ``[B, 1]``. (No NaN
    test: that would wait for the GPU on every step; a NaN score gives a NaN loss, which the run reports.)"""
    for name, x in scores.items():
        require_tensor(x, name, dtypes=FLOAT_DTYPES)
        if x.dim() not in (1, 2) or (x.dim() == 2 and x.shape[1] != 1) or x.shape[0] == 0:
            raise ValueError(f"{name} must be D's raw scores, one per image, [B, 1] or [B] with B > 0; got "
                             f"{describe(x)}: a D for these losses ends in Linear(..., 1) (or a 1-channel "
                             f"convolution, flattened), without a Sigmoid")


def raise_fake_scores(d_fake):
    """G's loss for the hinge and Wasserstein games: ``-mean D(G(z))``, lower when D scores fakes higher."""
    _check_scores(d_fake=d_fake)
    return -d_fake.mean()


def wasserstein_critic_loss(d_real, d_fake):
    """The critic's loss without its penalty: ``mean D(G(z)) - mean D(x)`` (real should score higher)."""
    _check_scores(d_real=d_real, d_fake=d_fake)
    return d_fake.mean() - d_real.mean()


@answers("06_stable", "gradient_penalty")
def gradient_penalty(critic, real, fake, eps, *labels):
    """WGAN-GP's penalty at given mixing weights: ``mean over i of (||grad_x D(x_i)|| - 1)^2``.

    ``real``, ``fake``: batches of one shape ``[B, ...]``; ``eps``: weights ``[B, 1, ...]``
    (one per sample, broadcast over the rest), each in [0, 1]; ``labels``: a
    conditional critic's labels ``[B]``. ``x_i = eps_i * real_i + (1 - eps_i) * fake_i``,
    and the gradient is kept in the graph (``create_graph=True``) so that the
    penalty itself trains the critic. Returns a 0-dim tensor. Taught in
    session 6, section 4 (Exercise 6).
    """
    _check_mix(real, fake, eps)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    try:
        scores = critic(mixed, *labels)
    except (RuntimeError, TypeError, ValueError) as error:  # e.g. a critic built for images of another size
        raise ValueError(f"the critic could not score the mixed batch ({describe(mixed)}): "
                         f"{str(error).splitlines()[0]}") from None
    if scores.dim() == 0 or scores.shape[0] != real.shape[0] or scores.numel() != real.shape[0]:
        raise ValueError(f"the critic must give one score per sample, [{real.shape[0]}, 1] for this batch; it "
                         f"gave shape {tuple(scores.shape)}: a score for the whole batch makes every sample's "
                         f"gradient the wrong one (reduce inside the loss, not the critic)")
    grad, = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def _check_mix(real, fake, eps):
    """``real`` and ``fake`` of one shape, and one mixing weight in [0, 1] per sample."""
    for name, x in (("real", real), ("fake", fake), ("eps", eps)):
        require_tensor(x, name)
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must be batches of one shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    wanted = (real.shape[0], *[1] * (real.dim() - 1))
    if tuple(eps.shape) != wanted:
        raise ValueError(f"eps must hold one mixing weight per sample, shape {wanted}, got {tuple(eps.shape)}")
    problem = range_problem(eps, 0, 1, tolerance=0)
    if problem:
        raise ValueError(f"eps must mix real and fake, each weight in [0, 1]: {problem}")


def penalty_term(weight):
    """WGAN-GP's term of the critic's loss, as ``steps.GAN.penalty`` takes it: ``term(D, real, fake, *labels)``
    is ``weight`` times ``gradient_penalty`` at fresh ``random_mix`` points."""
    def term(critic, real, fake, *labels):
        return weight * gradient_penalty(critic, real, fake, random_mix(real), *labels)
    return term


def random_mix(real):
    """Fresh mixing weights for ``gradient_penalty``: one per sample, uniform in [0, 1], ``[B, 1, ...]``."""
    return torch.rand(real.shape[0], *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)


# ---------------------------------------------------------------------------
# Section 5: spectral normalisation
# ---------------------------------------------------------------------------

@answers("06_stable", "spectral_norm_step")
def spectral_norm_step(weight, u):
    """One power-iteration step for the largest singular value of ``weight``: ``(sigma, new u)``.

    ``weight``: ``[out, ...]`` (a convolution's kernel is read as ``[out, in * k * k]``);
    ``u``: ``[out]``, the last estimate of the top left singular vector. Then
    ``v = normalise(W^T u)``, ``u' = normalise(W v)`` and ``sigma = u' . W v``,
    a 0-dim tensor that never exceeds the true norm. Taught in session 6,
    section 5 (Exercise 8).
    """
    if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
        require_tensor(weight, "weight")
        raise ValueError(f"weight must be a layer's weight, [out, in] or a kernel [out, in, k, k], got "
                         f"{describe(weight)}")
    require_tensor(u, "u", ndims=(1,))
    if u.shape[0] != weight.shape[0]:
        raise ValueError(f"u must have one entry per output of weight ({weight.shape[0]}), got {tuple(u.shape)}")
    for name, x in (("weight", weight), ("u", u)):
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} must hold finite numbers, got {describe(x)}")
    if not bool(u.any()):
        raise ValueError("u is all zeros, so no step can find a direction: start from a random vector, "
                         "torch.randn(weight.shape[0])")
    matrix = weight.flatten(1)
    v = F.normalize(matrix.t() @ u, dim=0, eps=1e-12)
    wv = matrix @ v
    u = F.normalize(wv, dim=0, eps=1e-12)
    return u @ wv, u


def convolution_norm(conv, input_shape, steps=50, seed=0):
    """The most a ``nn.Conv2d`` can stretch an input of ``input_shape`` ``[C, H, W]``: its operator norm.

    Power iteration on the convolution itself (its linear part, without the
    bias): apply it, then its transpose (``conv_transpose2d``), ``steps`` times.
    This is the number that bounds D's slope. It is not the norm of the kernel
    read as a matrix ``[out, in * k * k]``, which spectral normalisation divides
    by: the kernel is applied at many overlapping positions. Returns a float.
    """
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"conv must be an nn.Conv2d, got {type(conv).__name__}")
    require_whole(steps, "steps")
    if len(input_shape) != 3 or input_shape[0] != conv.in_channels:
        raise ValueError(f"input_shape must be [C, H, W] with C = {conv.in_channels} (the layer's in_channels), "
                         f"got {tuple(input_shape)}")
    weight = conv.weight.detach()
    settings = dict(stride=conv.stride, padding=conv.padding, dilation=conv.dilation, groups=conv.groups)
    x = torch.randn(1, *input_shape, generator=torch.Generator().manual_seed(seed), dtype=weight.dtype)
    for _ in range(steps):
        x = F.normalize(x.flatten(), dim=0).view_as(x)
        y = F.conv2d(x, weight, **settings)
        x = F.conv_transpose2d(y, weight, **settings, output_padding=_output_padding(conv, x.shape, y.shape))
    x = F.normalize(x.flatten(), dim=0).view_as(x)
    return F.conv2d(x, weight, **settings).norm().item()


def _output_padding(conv, in_shape, out_shape):
    """The output padding that makes the transposed convolution return ``in_shape`` from ``out_shape``."""
    return tuple(i - ((o - 1) * s - 2 * p + d * (k - 1) + 1)
                 for i, o, s, p, d, k in zip(in_shape[2:], out_shape[2:], conv.stride, conv.padding, conv.dilation,
                                             conv.kernel_size))


SPECTRAL_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def with_spectral_norm(network):
    """``network`` with PyTorch's spectral normalisation on each Linear and convolution layer, in place.

    ``torch.nn.utils.parametrizations.spectral_norm`` divides each weight by its
    power-iteration estimate of the top singular value, one step per forward
    pass in training mode. Embeddings are left alone. Returns ``network``.
    """
    if not isinstance(network, nn.Module):
        raise TypeError(f"network must be an nn.Module (a D built from layers), got {type(network).__name__}")
    for module in list(network.modules()):
        if isinstance(module, SPECTRAL_LAYERS):
            nn.utils.parametrizations.spectral_norm(module)
    return network


# ---------------------------------------------------------------------------
# The choices, by name
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Loss:
    """A GAN loss by name: D's and G's loss functions (None: BCE from the GAN's own targets), the gradient
    penalty's weight (0: none), critic steps per G step, and whether D is spectrally normalised.

    ``lr`` and ``betas``: Adam's settings for G and D in the paper that introduced the loss (``paper``),
    the settings it is fairly compared with (session 6, section 6, and ``benchmarks/quality.py
    --paper-adam``)."""
    name: str
    d_loss: Optional[Callable] = None
    g_loss: Optional[Callable] = None
    penalty_weight: float = 0.0
    n_critic: int = 1
    spectral_norm: bool = False
    words: str = ""
    lr: float = 2e-4
    betas: tuple = (0.5, 0.999)
    paper: str = ""


LOSSES = {
    "bce": Loss("bce", words="binary cross-entropy, G non-saturating (sessions 2-5)",
                paper="DCGAN (Radford et al. 2015): Adam lr 2e-4, betas (0.5, 0.999)"),
    "lsgan": Loss("lsgan", lsgan_discriminator_loss, lsgan_generator_loss, words="least squares (LSGAN)",
                  lr=1e-3, paper="LSGAN (Mao et al. 2017): Adam lr 1e-3 (their LSUN runs), betas (0.5, 0.999)"),
    "hinge": Loss("hinge", hinge_discriminator_loss, raise_fake_scores, words="hinge", betas=(0.0, 0.9),
                  paper="SN-GAN (Miyato et al. 2018), which trained the hinge loss: Adam lr 2e-4, betas (0, 0.9), "
                        "here with 1 D step per G step (the paper: 1 to 5)"),
    "wgan-gp": Loss("wgan-gp", wasserstein_critic_loss, raise_fake_scores, penalty_weight=10.0, n_critic=5,
                    words="Wasserstein, gradient penalty 10, 5 critic steps per G step", lr=1e-4, betas=(0.0, 0.9),
                    paper="WGAN-GP (Gulrajani et al. 2017, Algorithm 1): Adam lr 1e-4, betas (0, 0.9), "
                          "5 critic steps, penalty weight 10"),
    "bce-sn": Loss("bce-sn", spectral_norm=True, words="binary cross-entropy, D spectrally normalised",
                   betas=(0.0, 0.9), paper="SN-GAN (Miyato et al. 2018): Adam lr 2e-4, betas (0, 0.9), "
                                           "here with 1 D step per G step (the paper: 1 to 5)"),
}


def get_loss(name):
    """The ``Loss`` called ``name``; ``ValueError`` naming the choices otherwise."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]


def raw_score_loss(d_loss_fn):
    """The name of the course loss whose D loss is ``d_loss_fn``, if it reads D's raw scores (every loss here but
    BCE, whose D may end in a Sigmoid); None for any other function."""
    return next((loss.name for loss in LOSSES.values() if loss.d_loss is not None and loss.d_loss is d_loss_fn), None)


def gan_settings(name, n_critic=None):
    """The ``steps.GAN`` fields that train with loss ``name``: a dict of ``d_loss_fn``, ``g_loss_fn``,
    ``penalty`` and ``n_critic`` (``n_critic``: instead of the loss's own). D must return raw scores."""
    loss = get_loss(name)
    critic_steps = loss.n_critic if n_critic is None else n_critic
    require_whole(critic_steps, "n_critic")
    weight = loss.penalty_weight
    require_number(weight, "penalty weight", at_least=0)
    return {"d_loss_fn": loss.d_loss, "g_loss_fn": loss.g_loss, "n_critic": critic_steps,
            "penalty": penalty_term(weight) if weight else None}
