"""Checks for session 6 (why GANs are hard, and the losses that help): the optimal D, the
Jensen-Shannon divergence, LSGAN's and the hinge losses, the gradient penalty, a WGAN-GP iteration, and a
power-iteration step.

Every message names the fix first, then what was seen. Expected values are
worked out here by hand, on small inputs, never with ``helpers.losses``.
"""

import contextlib
import copy
import math

import torch
from torch import nn

from . import expect, expect_close, expect_scalar, expect_shape, expect_tensor, own_code, passed

SESSION = "06_stable"  # the session whose exercises these check


@own_code(SESSION, "optimal_discriminator")
def check_optimal_discriminator(fn):
    """``fn(p_data [N], p_g [N])`` -> D* ``[N]``: p_data / (p_data + p_g), and 0.5 where both are 0."""
    p_data = torch.tensor([0.5, 0.3, 0.2, 0.0, 0.0], dtype=torch.float64)
    p_g = torch.tensor([0.0, 0.1, 0.2, 0.7, 0.0], dtype=torch.float64)
    d = fn(p_data, p_g)
    expect_shape(d, (5,), "optimal_discriminator(p_data, p_g)", "Return one value per point, p_data / (p_data + p_g)")
    expect(not bool(torch.isclose(d[:4], torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=d.dtype)).all()),
           "Put p_data on top: D* = p_data / (p_data + p_g) is D's belief that a point is real, so it is 1 where "
           "only the data has mass (got p_g / (p_data + p_g))")
    expect(bool(torch.isfinite(d).all()),
           f"Give the points where p_data and p_g are both 0 the value 0.5 (torch.where(total > 0, ..., 0.5)): "
           f"0 / 0 is NaN (got {d.tolist()})")
    expect_close(d, torch.tensor([1.0, 0.75, 0.5, 0.0, 0.5], dtype=torch.float64),
                 "optimal_discriminator([0.5, 0.3, 0.2, 0, 0], [0, 0.1, 0.2, 0.7, 0])", 1e-6,
                 fix="Return p_data / (p_data + p_g), and 0.5 where both are 0")
    passed("D* = p_data / (p_data + p_g): 1 where only the data lives, 0 where only G does")


def _kl(p, q):
    """KL(p || q) for lists of probabilities, by hand: points where p is 0 add nothing."""
    return sum(a * math.log(a / b) for a, b in zip(p, q) if a > 0)


@own_code(SESSION, "js_divergence")
def check_js_divergence(fn):
    """``fn(p [N], q [N])`` -> JSD(p, q) in nats, a 0-dim tensor (or a number)."""
    p, q = [0.5, 0.5, 0.0, 0.0], [0.0, 0.2, 0.8, 0.0]
    m = [(a + b) / 2 for a, b in zip(p, q)]
    right, half = (_kl(p, m) + _kl(q, m)) / 2, _kl(p, m)
    value = fn(torch.tensor(p, dtype=torch.float64), torch.tensor(q, dtype=torch.float64))
    expect(isinstance(value, (float, torch.Tensor)) and torch.as_tensor(value).numel() == 1,
           f"Return one number, a 0-dim tensor: js_divergence returned {type(value).__name__}")
    value = float(value)
    expect(not math.isnan(value),
           "Leave out the points where p (or q) is 0: 0 * log 0 counts as 0, but torch computes NaN there "
           "(sum over p > 0 only, or use torch.xlogy)")
    expect(abs(value - right / math.log(2)) > 1e-6,
           f"Use the natural logarithm (torch.log), not log2: the course measures in nats (got {value:.6f}, "
           f"expected {right:.6f})")
    expect(abs(value - half) > 1e-6, "Average the two halves, KL(p || m) / 2 + KL(q || m) / 2: this is KL(p || m) alone")
    expect(abs(value - right) < 1e-6,
           f"Compare each vector with their average m = (p + q) / 2: JSD = KL(p || m) / 2 + KL(q || m) / 2 "
           f"(got {value:.6f} for p = {p}, q = {q}, expected {right:.6f})")
    apart = float(fn(torch.tensor(p, dtype=torch.float64), torch.tensor([0.0, 0.0, 0.5, 0.5], dtype=torch.float64)))
    expect(abs(apart - math.log(2)) < 1e-6,
           f"Leave out the points where p (or q) is 0: two vectors with no point in common are log 2 = 0.6931 apart, "
           f"got {apart:.6f}")
    same = float(fn(torch.tensor(p, dtype=torch.float64), torch.tensor(p, dtype=torch.float64)))
    expect(abs(same) < 1e-9, f"A vector is 0 away from itself: js_divergence(p, p) is {same}")
    passed("JSD = KL(p || m) / 2 + KL(q || m) / 2: 0 for equal vectors, log 2 for vectors with nothing in common")


def _scores(*values):
    return torch.tensor(values).view(-1, 1).requires_grad_()


def _expect_graph(loss, inputs, what):
    """``loss`` must be a 0-dim tensor in the graph of every input (a loss that trains nothing is a bug)."""
    expect(isinstance(loss, torch.Tensor),
           f"Keep {what} a tensor in the graph (no .item() or float()): it returned {type(loss).__name__}")
    expect_scalar(loss, what)
    expect(loss.requires_grad and all(g is not None for g in torch.autograd.grad(loss, inputs, allow_unused=True,
                                                                                  retain_graph=True)),
           f"Keep {what} in the graph: build it from the scores with torch operations (no .item(), .detach() "
           f"or float())")


@own_code(SESSION, "lsgan_discriminator_loss")
def check_lsgan_discriminator_loss(fn):
    """``fn(d_real [B, 1], d_fake [B, 1])`` -> mean((D(x) - 1)^2) / 2 + mean(D(G(z))^2) / 2."""
    d_real, d_fake = _scores(0.5, 2.0), _scores(-1.0, 1.0)
    loss = fn(d_real, d_fake)
    _expect_graph(loss, [d_real, d_fake], "lsgan_discriminator_loss(...)")
    right = 0.5 * (0.25 + 1.0) / 2 + 0.5 * (1.0 + 1.0) / 2
    squashed = 0.5 * sum((torch.sigmoid(torch.tensor(v)) - 1) ** 2 for v in (0.5, 2.0)).item() / 2 \
        + 0.5 * sum(torch.sigmoid(torch.tensor(v)) ** 2 for v in (-1.0, 1.0)).item() / 2
    expect(abs(loss.item() - squashed) > 1e-5,
           "Square the raw scores, with no sigmoid: LSGAN's D is a regression on its scores")
    expect(abs(loss.item() - 2 * right) > 1e-5,
           f"Halve each mean squared error: mean((D(x) - 1)^2) / 2 + mean(D(G(z))^2) / 2 (got {loss.item():.4f}, "
           f"twice the expected {right:.4f})")
    expect_close(loss.detach(), torch.tensor(right), "lsgan_discriminator_loss(D(x)=[0.5, 2], D(G(z))=[-1, 1])",
                 fix="Pull real scores to 1 and fake scores to 0: mean((D(x) - 1)^2) / 2 + mean(D(G(z))^2) / 2")
    passed("LSGAN's D loss: real scores pulled to 1, fake scores to 0, by squared error")


@own_code(SESSION, "lsgan_generator_loss")
def check_lsgan_generator_loss(fn):
    """``fn(d_fake [B, 1])`` -> mean((D(G(z)) - 1)^2) / 2."""
    d_fake = _scores(-1.0, 0.5)
    loss = fn(d_fake)
    _expect_graph(loss, [d_fake], "lsgan_generator_loss(...)")
    right = 0.5 * (4.0 + 0.25) / 2
    expect(abs(loss.item() - 0.5 * (1.0 + 0.25) / 2) > 1e-5,
           "Pull the fakes' scores to 1, the real label: mean((D(G(z)) - 1)^2) / 2, not towards 0 (that is D's goal)")
    expect_close(loss.detach(), torch.tensor(right), "lsgan_generator_loss(D(G(z))=[-1, 0.5])",
                 fix="Return mean((D(G(z)) - 1)^2) / 2, on the raw scores")
    passed("LSGAN's G loss: the fakes' scores pulled to 1")


@own_code(SESSION, "hinge_discriminator_loss")
def check_hinge_discriminator_loss(fn):
    """``fn(d_real [B, 1], d_fake [B, 1])`` -> mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))."""
    d_real, d_fake = _scores(2.0, 0.5), _scores(-3.0, 0.0)
    loss = fn(d_real, d_fake)
    _expect_graph(loss, [d_real, d_fake], "hinge_discriminator_loss(...)")
    right = (0.0 + 0.5) / 2 + (0.0 + 1.0) / 2  # relu(1 - [2, 0.5]) and relu(1 + [-3, 0]), averaged
    expect(abs(loss.item() - ((-1.0 + 0.5) / 2 + (-2.0 + 1.0) / 2)) > 1e-5,
           "Clip each term at 0 with torch.relu: a real score above 1, or a fake one below -1, costs nothing")
    expect(abs(loss.item() - ((3.0 + 1.5) / 2 + (4.0 + 1.0) / 2)) > 1e-5,
           "Real images want scores above +1 (relu(1 - D(x))) and fakes below -1 (relu(1 + D(G(z)))): the signs "
           "are swapped")
    expect_close(loss.detach(), torch.tensor(right), "hinge_discriminator_loss(D(x)=[2, 0.5], D(G(z))=[-3, 0])",
                 fix="Return mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))")
    grads = torch.autograd.grad(loss, [d_real, d_fake])
    expect(grads[0][0].item() == 0 and grads[1][0].item() == 0,
           "Clip each term at 0 with torch.relu: scores beyond the margin must get no gradient")
    passed("the hinge D loss: only scores inside the margin of +-1 cost anything")


def _two_point_critic():
    """A critic on ``[B, 2]`` points: ``D(x) = x0^2 + 3 x1``, so grad D = (2 x0, 3)."""
    class Critic(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(1.0))

        def forward(self, x):
            return (self.scale * x[:, :1] ** 2 + 3 * x[:, 1:2])
    return Critic()


@own_code(SESSION, "gradient_penalty")
def check_gradient_penalty(fn):
    """``fn(critic, real [B, ...], fake [B, ...], eps [B, 1, ...])`` -> mean over samples of (||grad|| - 1)^2."""
    critic = _two_point_critic()
    real = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    fake = torch.tensor([[-1.0, 0.0], [0.0, -1.0]])
    eps = torch.tensor([[1.0], [0.25]])
    penalty = fn(critic, real, fake, eps)
    expect_scalar(penalty, "gradient_penalty(...)")
    # x_hat = [1, 0] and [0, -0.5]: gradients (2, 3) and (0, 3), norms sqrt(13) and 3
    right = ((math.sqrt(13) - 1) ** 2 + (3 - 1) ** 2) / 2
    expect(abs(penalty.item() - (13 + 9) / 2) > 1e-4,
           "Penalise (||grad|| - 1)^2, the distance of the norm from 1, not the squared norm")
    expect(abs(penalty.item() - (math.sqrt(13 + 9) - 1) ** 2) > 1e-4,
           "Take one gradient norm per sample, grad.flatten(1).norm(dim=1), not one norm of the whole batch")
    expect_close(penalty.detach(), torch.tensor(right), "the penalty for two mixed points", 1e-4,
                 fix="Penalise mean((||grad|| - 1)^2), grad = torch.autograd.grad(critic(x_hat).sum(), x_hat, "
                     "create_graph=True) at x_hat = eps * real + (1 - eps) * fake")
    expect(penalty.requires_grad,
           "Pass create_graph=True to torch.autograd.grad: the penalty must train the critic, so its gradient "
           "needs a graph of its own")
    grad, = torch.autograd.grad(penalty, [critic.scale])
    expect(abs(grad.item() - (math.sqrt(13) - 1) / math.sqrt(13) * 4) < 1e-4,
           f"Pass create_graph=True to torch.autograd.grad: the penalty's gradient for the critic's weight is "
           f"{grad.item():.4f}, expected {(math.sqrt(13) - 1) / math.sqrt(13) * 4:.4f}")
    mixed = fn(critic, torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 0.0]]), torch.tensor([[0.75]]))
    # x_hat = 0.75 * 2 = 1.5: gradient (3, 3); with real and fake swapped, 0.5: gradient (1, 3)
    expect(abs(mixed.item() - (math.sqrt(10) - 1) ** 2) > 1e-4,
           "Weight the real batch by eps and the fake by 1 - eps: x_hat = eps * real + (1 - eps) * fake")
    expect_close(mixed.detach(), torch.tensor((math.sqrt(18) - 1) ** 2), "the penalty at x_hat = 1.5", 1e-4,
                 fix="Mix x_hat = eps * real + (1 - eps) * fake")
    passed("the gradient penalty: one norm per mixed sample, kept in the graph to train the critic")


class _Shift(nn.Module):
    """The check's G: one fake image for any noise, ``tanh(bias)``; it records the noise's shape."""

    def __init__(self, shape):
        super().__init__()
        self.bias = nn.Parameter(torch.linspace(-1, 1, math.prod(shape)).view(1, *shape))
        self.noise_shape = None

    def forward(self, z):
        self.noise_shape = tuple(z.shape)
        return torch.tanh(self.bias + 0 * z.sum()).expand(len(z), *self.bias.shape[1:])


def _sgd_step(model, loss_of):
    """One plain SGD step (lr 0.1) of ``model`` on ``loss_of()``; returns the loss, detached."""
    loss = loss_of()
    with torch.no_grad():
        for p, g in zip(model.parameters(), torch.autograd.grad(loss, list(model.parameters()))):
            p -= 0.1 * g
    return loss.detach()


def _critic_after(critic, fake, batches, gp_weight):
    """A copy of the linear ``critic`` after one right SGD step per real batch. Its gradient is its weight w
    everywhere, so the penalty is (||w|| - 1)^2 whatever the mixing weights."""
    critic = copy.deepcopy(critic)
    for real in batches:
        _sgd_step(critic, lambda: critic(fake).mean() - critic(real).mean()
                  + gp_weight * (critic[1].weight.norm() - 1) ** 2)
    return critic


def _linear_critic():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(4, 1))
    with torch.no_grad():
        critic[1].weight.copy_(torch.tensor([[0.3, -0.2, 0.1, 0.4]]))
        critic[1].bias.zero_()
    return critic


def _right_penalty(critic, real, fake, eps):
    """The check's own gradient penalty, written out here (not the course's, not yours)."""
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


@contextlib.contextmanager
def _right_penalty_in(namespace):
    """While inside, ``gradient_penalty`` in ``namespace`` (a notebook's globals) is the check's own: a mistake
    in Exercise 6 then shows in Exercise 6's check only."""
    saved = namespace.get("gradient_penalty", _MISSING)
    namespace["gradient_penalty"] = _right_penalty
    try:
        yield
    finally:
        if saved is _MISSING:
            namespace.pop("gradient_penalty", None)
        else:
            namespace["gradient_penalty"] = saved


_MISSING = object()


class _CountingSGD(torch.optim.SGD):
    """Plain SGD that counts its steps."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


@own_code(SESSION, "wgan_gp_iteration")
def check_wgan_gp_iteration(fn):
    """``fn(G, D, opt_g, opt_d, real_batches, latent_dim, gp_weight)``: one critic step per real batch, then
    one G step; returns (the last critic loss, G's loss), detached. It runs with a right gradient penalty
    in place of yours (Exercise 6 checks yours)."""
    G, D = _Shift((1, 2, 2)), _linear_critic()
    batches = [torch.full((3, 1, 2, 2), 0.5), torch.full((3, 1, 2, 2), -0.5)]
    g_before, d_before = copy.deepcopy(G), copy.deepcopy(D)
    opt_g, opt_d = _CountingSGD(G.parameters(), lr=0.1), _CountingSGD(D.parameters(), lr=0.1)
    with _right_penalty_in(getattr(fn, "__globals__", {})):
        out = fn(G, D, opt_g, opt_d, batches, 5, gp_weight=2.0)
    expect(opt_d.steps == len(batches),
           f"Take one critic step per real batch (for real in real_batches: ... opt_d.step()): opt_d stepped "
           f"{opt_d.steps} time(s) for {len(batches)} batches")
    expect(opt_g.steps == 1, f"Take one G step, after all the critic's steps: opt_g stepped {opt_g.steps} time(s)")
    expect(isinstance(out, (tuple, list)) and len(out) == 2,
           f"Return two numbers, (critic_loss, g_loss): got {type(out).__name__}")
    for value, what in zip(out, ("critic_loss", "g_loss")):
        expect_scalar(value, what)
        expect(not value.requires_grad, f"Return {what} detached (.detach()): it still holds the graph")
    expect(G.noise_shape == (3, 5), f"Draw noise for the batch, torch.randn(len(real), latent_dim): G got noise of "
                                    f"shape {G.noise_shape}, expected (3, 5)")
    fake = g_before(torch.zeros(3, 5)).detach()
    want_d = _critic_after(d_before, fake, batches, gp_weight=2.0)
    right_critic = torch.allclose(D[1].weight, want_d[1].weight, atol=1e-5)
    no_penalty = _critic_after(d_before, fake, batches, gp_weight=0.0)
    expect(right_critic or not torch.allclose(D[1].weight, no_penalty[1].weight, atol=1e-5),
           "Add gp_weight * gradient_penalty(D, real, fake, eps) to the critic's loss: the critic stepped without it")
    expect(right_critic, "Make each critic step minimise mean D(fake) - mean D(real) + gp_weight * penalty, on "
                         "fakes made without a graph into G: the critic's weights are not what that gives "
                         f"(got {D[1].weight.detach().flatten().tolist()}, expected "
                         f"{want_d[1].weight.detach().flatten().tolist()})")
    want_g = copy.deepcopy(g_before)
    g_loss = _sgd_step(want_g, lambda: -want_d(want_g(torch.zeros(3, 5))).mean())
    expect_close(G.bias.detach(), want_g.bias.detach(), "G's weights after the iteration", 1e-5,
                 fix="Take one G step, after all the critic's steps, on -mean D(G(z)) with fresh noise")
    expect_close(out[1], g_loss, "g_loss", 1e-5, fix="Return G's loss, -mean D(G(z))")
    expect(all(p.requires_grad for p in D.parameters()),
           "Unfreeze the critic after G's step (D.requires_grad_(True)): its weights no longer require gradients")
    passed("one WGAN-GP iteration: a critic step per real batch, each with its penalty, then one G step")


@own_code(SESSION, "spectral_norm_step")
def check_spectral_norm_step(fn):
    """``fn(weight [out, ...], u [out])`` -> (sigma, u): one power-iteration step."""
    weight = torch.tensor([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    u = torch.tensor([1.0, 1.0])
    out = fn(weight, u)
    expect(isinstance(out, (tuple, list)) and len(out) == 2, f"Return (sigma, u): got {type(out).__name__}")
    sigma, new_u = out
    expect_tensor(new_u, "the new u")
    expect_shape(new_u, (2,), "the new u", "Return the new left vector u' = normalise(W v), one value per row of W")
    # v = normalise(W^T u) = (3, 1, 0) / sqrt(10); W v = (9, 1) / sqrt(10); u' = (9, 1) / sqrt(82); sigma = sqrt(82 / 10)
    expect(abs(new_u.norm().item() - 1) < 1e-5,
           f"Normalise u' = W v to length 1 (F.normalize(..., dim=0)): its length is {new_u.norm().item():.4f}")
    expect_close(new_u, torch.tensor([9.0, 1.0]) / math.sqrt(82), "the new u", 1e-5,
                 fix="Step from u: v = normalise(W^T u), then u' = normalise(W v)")
    sigma = float(sigma)
    expect(abs(sigma - 3.0) > 1e-4,
           "Estimate sigma from this one step, sigma = u' . (W v): the exact norm (torch.linalg.matrix_norm) is "
           "what power iteration approaches over many steps, and it costs a full SVD each time")
    expect(abs(sigma - math.sqrt(8.2)) < 1e-4,
           f"Return sigma = u' . (W v), the length of W v: got {sigma:.4f}, expected {math.sqrt(8.2):.4f}")
    kernel = torch.arange(24.0).view(2, 3, 2, 2) / 24
    try:
        sigma_k, u_k = fn(kernel, torch.tensor([1.0, 0.0]))
    except RuntimeError as error:
        raise AssertionError(f"Read a convolution's kernel [out, in, k, k] as a matrix [out, in * k * k] with "
                             f"weight.flatten(1) first (torch said: {str(error).splitlines()[0]})") from None
    matrix = kernel.flatten(1)
    v = matrix[0] / matrix[0].norm()
    expect(abs(float(sigma_k) - (matrix @ v).norm().item()) < 1e-4,
           "Read a convolution's kernel [out, in, k, k] as a matrix [out, in * k * k] with weight.flatten(1)")
    passed("one power-iteration step: v = normalise(W^T u), u' = normalise(W v), sigma = u' . W v")
