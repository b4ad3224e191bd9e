"""Session 6's two smallest games: a GAN on a line, and the bilinear game x * y.

Both run in seconds, and each shows one reason why GANs are hard to train:

- **vanishing gradients** (section 1): the data is one bump on a line, and G
  is one number, the centre ``theta`` of its own bump, far from the data.
  ``gradient_as_d_learns`` trains D against this fixed G and records the
  slope G would feel, under each G loss, as D gets better. Under the original
  minimax loss it falls to nothing; under the non-saturating and Wasserstein
  losses it does not. ``move_line_generator`` then lets G move under each
  loss, D (or the critic) taking several steps per G step, and records where
  G's bump is.
- **game dynamics** (section 1): in f(x, y) = x * y, x wants f small and y
  wants it large; the only equilibrium is (0, 0). ``bilinear_game`` takes
  gradient steps on both players, together or one after the other, and
  returns the path. Neither converges: together they spiral out, in turn they
  circle for ever.

G's steps are plain gradient descent, so the length of a step is the size of
the gradient: Adam would rescale a tiny gradient into a full step and hide
what this section shows.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from .guards import require_number, require_whole

# G's loss on D's raw scores s = D(G(z)) [B, 1], to minimise
LINE_G_LOSSES = {
    "minimax": lambda s: -F.softplus(s).mean(),       # mean log(1 - sigmoid(s)), G's side of the original game
    "non-saturating": lambda s: F.softplus(-s).mean(),  # mean -log sigmoid(s), sessions 2-5
    "wasserstein": losses.raise_fake_scores,           # -mean s, with a critic trained by WGAN-GP
}


@dataclass(frozen=True)
class Line:
    """The game on a line: data ~ N(``data_centre``, ``width``^2); G's samples ``theta + width * z``."""

    data_centre: float = 4.0
    width: float = 0.5

    def real(self, n, generator):
        """``n`` data points ``[n, 1]``."""
        return self.data_centre + self.width * torch.randn(n, 1, generator=generator)

    def fake(self, theta, n, generator):
        """``n`` of G's points ``[n, 1]``, differentiable in ``theta`` (a 0-dim tensor)."""
        return theta + self.width * torch.randn(n, 1, generator=generator)


def line_discriminator(hidden=32):
    """D (or the critic) for points on a line: ``[B, 1]`` -> raw scores ``[B, 1]``."""
    return nn.Sequential(nn.Linear(1, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                         nn.Linear(hidden, 1))


def _d_step(D, opt, line, theta, g_loss, batch, generator):
    """One step of D: BCE for the minimax and non-saturating games, WGAN-GP's critic loss for Wasserstein."""
    real, fake = line.real(batch, generator), line.fake(theta.detach(), batch, generator)
    d_real, d_fake = D(real), D(fake)
    if g_loss == "wasserstein":
        loss = losses.wasserstein_critic_loss(d_real, d_fake) + losses.penalty_term(10.0)(D, real, fake)
    else:
        loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
    opt.zero_grad()
    loss.backward()
    opt.step()


def _g_gradient(D, line, theta, g_loss, batch, generator):
    """d(G's loss)/d(theta) under ``g_loss``, a float; D's weights are not touched."""
    theta = theta.detach().requires_grad_(True)
    loss = LINE_G_LOSSES[g_loss](D(line.fake(theta, batch, generator)))
    grad, = torch.autograd.grad(loss, theta)
    return grad.item()


def _check(g_loss, steps, batch, **numbers):
    if g_loss not in LINE_G_LOSSES:
        raise ValueError(f"g_loss must be one of {', '.join(LINE_G_LOSSES)}, got {g_loss!r}")
    for name, value in (("steps", steps), ("batch", batch)):
        require_whole(value, name)
    for name, value in numbers.items():
        require_number(value, name)


def gradient_as_d_learns(g_loss, theta=-4.0, d_steps=300, record_every=10, line=Line(), batch=256, d_lr=1e-2,
                         seed=0):
    """Train D against a G that stays at ``theta`` and record G's gradient as D improves.

    ``g_loss``: a name of ``LINE_G_LOSSES`` (D trains with BCE, or as a WGAN-GP
    critic for "wasserstein"). Returns ``(steps [K], gradient [K])``: D's step
    count and d(G's loss)/d(theta) after it, every ``record_every`` steps.
    A negative gradient means G is pushed to the right, towards the data.
    """
    _check(g_loss, d_steps, batch, theta=theta, d_lr=d_lr)
    require_whole(record_every, "record_every")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    D = line_discriminator()
    opt = torch.optim.Adam(D.parameters(), lr=d_lr, betas=(0.5, 0.9))
    theta = torch.tensor(float(theta))
    steps, gradients = [], []
    for step in range(d_steps + 1):
        if step % record_every == 0:
            steps.append(step)
            gradients.append(_g_gradient(D, line, theta, g_loss, batch, generator))
        if step < d_steps:
            _d_step(D, opt, line, theta, g_loss, batch, generator)
    return torch.tensor(steps), torch.tensor(gradients)


def move_line_generator(g_loss, theta=-4.0, g_steps=150, d_steps=5, g_lr=0.1, line=Line(), batch=256, d_lr=1e-2,
                        warm_up=200, seed=0):
    """Let G's bump move under ``g_loss``: D first trains ``warm_up`` steps (a strong D, as after a long
    D-only phase), then each of ``g_steps`` rounds is ``d_steps`` D steps and one plain gradient step of G
    (learning rate ``g_lr``). Returns ``theta`` after each round, ``[g_steps + 1]`` (the start first)."""
    _check(g_loss, g_steps, batch, theta=theta, g_lr=g_lr, d_lr=d_lr)
    require_whole(d_steps, "d_steps")
    require_whole(warm_up, "warm_up", minimum=0)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    D = line_discriminator()
    opt = torch.optim.Adam(D.parameters(), lr=d_lr, betas=(0.5, 0.9))
    theta = torch.tensor(float(theta))
    for _ in range(warm_up):
        _d_step(D, opt, line, theta, g_loss, batch, generator)
    path = [theta.item()]
    for _ in range(g_steps):
        for _ in range(d_steps):
            _d_step(D, opt, line, theta, g_loss, batch, generator)
        theta = theta - g_lr * _g_gradient(D, line, theta, g_loss, batch, generator)
        path.append(theta.item())
    return torch.tensor(path)


def bilinear_game(steps=100, lr=0.1, alternating=False, start=(1.0, 1.0)):
    """Gradient steps on f(x, y) = x * y: x descends, y ascends. Returns the path ``[steps + 1, 2]``.

    Together (``alternating=False``): ``x' = x - lr * y`` and ``y' = y + lr * x``, both from the old point;
    each step multiplies the distance from (0, 0) by sqrt(1 + lr^2), so the path spirals out. In turn
    (``alternating=True``): y answers the new x, ``y' = y + lr * x'``, and the path stays on a closed
    orbit: it circles, and never reaches (0, 0).
    """
    require_whole(steps, "steps")
    require_number(lr, "lr", above=0)
    x, y = (float(v) for v in start)
    path = [(x, y)]
    for _ in range(steps):
        new_x = x - lr * y
        y = y + lr * (new_x if alternating else x)
        x = new_x
        path.append((x, y))
    return torch.tensor(path)
