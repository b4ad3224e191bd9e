"""What each graded exercise is asked by the judge, and how its answers are marked.

The judge (``judge.py``) grades every exercise a second time, outside the
student's kernel. For each test cell, by ``grade_id``, an ``Exercise`` holds:

- ``name``: the function or class the student wrote;
- ``ask(answer, seed)``: runs **in the student's kernel**. It calls the
  student's ``answer`` on inputs drawn from ``seed`` (new for every
  submission) and returns what came back as plain data: tensors, numbers,
  strings, lists and dicts of them. Nothing it computes is trusted.
- ``mark(reply, seed)``: runs **in the grade command**, where no student code
  ever runs. It draws the same inputs from ``seed``, works out what a right
  answer gives with the course's own code (``helpers.models``,
  ``helpers.metrics``...), and raises ``Wrong`` with a sentence when the
  reply differs.

So a submission cannot pass by rigging its kernel: it has to send back the
numbers the exercise asks for, for inputs it could not know in advance. The
training steps are checked exactly: the judge's G makes the same fake for
any noise, so the weights after one SGD step are known to the last digit.

Shapes of the replies are given in each ``ask``.
"""

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from helpers import collapse, data, metrics, models, steps


class Wrong(AssertionError):
    """The reply shows the exercise is not solved: the message says how."""


class Unjudged(RuntimeError):
    """The judge cannot mark this exercise here (say, the data it compares with is missing)."""


@dataclass(frozen=True)
class Exercise:
    """``name``: what the student wrote; ``ask``/``mark``: see the module's docstring; ``given``: the names
    of earlier exercises the answer calls, replaced by right answers (``RIGHT_ANSWERS``) while it is asked,
    so that a mistake costs its own exercise's points and no others."""
    name: str
    ask: Callable
    mark: Callable
    given: tuple = ()


def need(condition, message):
    """Raise ``Wrong(message)`` unless ``condition`` is true."""
    if not condition:
        raise Wrong(message)


def need_close(x, want, what, atol=1e-5):
    """``x`` must be a tensor of ``want``'s shape, equal to it up to ``atol`` (NaN never is)."""
    need(isinstance(x, torch.Tensor), f"{what} should be a tensor, got {type(x).__name__}")
    need(tuple(x.shape) == tuple(want.shape), f"{what} should have shape {tuple(want.shape)}, got {tuple(x.shape)}")
    gap = (x.double() - want.double()).abs().max().item() if x.numel() else 0.0
    need(gap <= atol, f"{what} is off by up to {gap:.3g} from the right answer (allowed {atol:g})")


def need_number(x, want, what, atol=1e-5):
    """``x`` must be a number (or one-element tensor) within ``atol`` of ``want``."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        raise Wrong(f"{what} should be a number, got {type(x).__name__}") from None
    need(abs(value - want) <= atol, f"{what} is {value:.6g}, the right answer is {want:.6g}")


def draws(seed, salt=0):
    """A torch random generator for the judge's inputs: the same in the kernel and in the grade command."""
    return torch.Generator().manual_seed(int(seed) * 1009 + salt)


def seeded(seed, build):
    """``build()`` with torch's global random state set from ``seed`` (and put back afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


def weights(model):
    """A module's weights and buffers by name: a dict of tensors (what ``load_weights`` takes)."""
    return {name: t.detach().cpu().clone() for name, t in model.state_dict().items()}


def load_weights(model, named, what):
    """Load ``named`` weights (from ``weights``) into ``model``; ``Wrong`` when they cannot fit.

    Where the names are the model's own (the exercise text names the layers,
    e.g. ``embed`` and ``body``), each goes to its namesake, whatever order the
    student registered the layers in. Otherwise the i-th goes into the i-th
    entry, so a student's own names for the same layers still fit.
    """
    need(isinstance(named, dict) and all(isinstance(t, torch.Tensor) for t in named.values()),
         f"{what}'s weights did not come back as named tensors")
    entries = model.state_dict()
    if set(named) == set(entries) and all(named[k].shape == entries[k].shape for k in entries):
        model.load_state_dict({key: named[key].to(old.dtype) for key, old in entries.items()})
        return model
    return load_in_order(model, list(named.values()), what)


def load_in_order(model, tensors, what):
    """Load ``tensors`` into ``model``, the i-th into its i-th entry; ``Wrong`` on a mismatch."""
    entries = list(model.state_dict().items())
    shapes = [tuple(t.shape) for t in tensors] if isinstance(tensors, list) else None
    need(shapes is not None and all(isinstance(t, torch.Tensor) for t in tensors),
         f"{what}'s weights did not come back as a list of tensors")
    wanted = [tuple(t.shape) for _, t in entries]
    need(shapes == wanted, f"{what}'s layers do not match the exercise: weights of shapes {shapes[:8]}"
                           f"{' ...' if len(shapes) > 8 else ''}, expected {wanted[:8]}{' ...' if len(wanted) > 8 else ''}")
    model.load_state_dict({key: t.to(old.dtype) for (key, old), t in zip(entries, tensors)})
    return model


# Session 1: data ---------------------------------------------------------------

def _pixels(seed):
    return torch.randint(0, 256, (3, 5, 7), generator=draws(seed), dtype=torch.uint8)


def ask_to_minus_one_one(answer, seed):
    """``{"out": answer(pixels) [3, 5, 7], "input_after": the pixels passed, afterwards}``."""
    given = _pixels(seed)
    return {"out": answer(given), "input_after": given}


def mark_to_minus_one_one(reply, seed):
    pixels, out = _pixels(seed), reply["out"]
    need(isinstance(out, torch.Tensor) and out.dtype == torch.float32, "to_minus_one_one should return float32")
    need_close(out, data.convert_pixels(pixels, "uint8", "tanh"), "to_minus_one_one(pixels)")
    need(torch.equal(reply["input_after"], pixels), "to_minus_one_one changed its input")


def _tanh_images(seed):
    return torch.rand(4, 28, 28, generator=draws(seed, 1)) * 2 - 1


def ask_to_zero_one(answer, seed):
    """``{"out": answer(x) [4, 28, 28]}`` for x in [-1, 1]."""
    return {"out": answer(_tanh_images(seed))}


def mark_to_zero_one(reply, seed):
    need_close(reply["out"], data.convert_pixels(_tanh_images(seed), "tanh", "unit"), "to_zero_one(x)", 1e-6)


def _loader_batch(seed):
    return 10 + int(seed) % 23


def ask_make_mnist_loader(answer, seed):
    """The first batch of two passes over ``answer(batch_size)``: images [B, 1, 28, 28] and labels [B] each."""
    loader = answer(_loader_batch(seed))
    (images, labels), (images2, labels2) = next(iter(loader)), next(iter(loader))
    return {"images": images, "labels": labels, "images2": images2, "labels2": labels2}


def mark_make_mnist_loader(reply, seed):
    b, images, labels = _loader_batch(seed), reply["images"], reply["labels"]
    need(isinstance(images, torch.Tensor) and tuple(images.shape) == (b, 1, 28, 28) and images.dtype == torch.float32,
         f"a batch of {b} should be float32 images [{b}, 1, 28, 28]")
    need(isinstance(labels, torch.Tensor) and tuple(labels.shape) == (b,) and labels.dtype == torch.int64,
         f"a batch of {b} should have int64 labels [{b}]")
    need(bool(torch.isfinite(images).all()) and images.min() >= -1 - 1e-5 and images.max() <= 1 + 1e-5
         and images.min() < -0.99, "the images should be in [-1, 1] (ToTensor, then Normalize((0.5,), (0.5,)))")
    need(not torch.equal(images, reply["images2"]), "two passes over the loader began with the same batch: shuffle it")
    known = _training_images()
    for image, label in zip(images, labels):
        pixels = data.convert_pixels(image.clamp(-1, 1), "tanh", "uint8").numpy().tobytes()
        need(pixels in known, "the images are not MNIST's training images: build the loader on the 'train' split")
        need(known[pixels] == int(label), "an image came with another image's label")


_TRAINING = {}


def _training_images():
    """``{image bytes: label}`` for MNIST's training split (read once)."""
    if not _TRAINING:
        try:
            images, labels = data.load_mnist("train", download=False)
        except Exception as error:  # noqa: BLE001 - no data, no verdict: the instructor is told
            raise Unjudged(f"MNIST's training split could not be read here: {error}") from None
        _TRAINING.update(zip((i.numpy().tobytes() for i in images), labels.tolist()))
    return _TRAINING


def _labels(seed):
    g = draws(seed, 2)
    return torch.randint(0, 7, (int(torch.randint(20, 60, (1,), generator=g)),), generator=g)


def ask_class_counts(answer, seed):
    """``{"ten": answer(labels) [10], "twelve": answer(labels, 12) [12]}``; no label is above 6."""
    return {"ten": answer(_labels(seed)), "twelve": answer(_labels(seed), 12)}


def mark_class_counts(reply, seed):
    labels = _labels(seed)
    for key, n in (("ten", 10), ("twelve", 12)):
        counts = reply[key]
        need(isinstance(counts, torch.Tensor) and counts.dtype == torch.int64,
             "class_counts should return an int64 tensor")
        need(torch.equal(counts, torch.bincount(labels, minlength=n)),
             f"class_counts(labels, {n}) gave {counts.tolist()}, expected {torch.bincount(labels, minlength=n).tolist()}")


def _uint8_images(seed):
    return torch.randint(0, 256, (9, 28, 28), generator=draws(seed, 3), dtype=torch.uint8)


def ask_mean_image(answer, seed):
    """``{"mean": answer(images) [28, 28]}``."""
    return {"mean": answer(_uint8_images(seed))}


def mark_mean_image(reply, seed):
    mean = reply["mean"]
    need(isinstance(mean, torch.Tensor) and mean.dtype == torch.float32, "mean_image should return float32")
    need_close(mean, _uint8_images(seed).double().mean(0) / 255, "mean_image(images)")


# Session 2: the MLP GAN --------------------------------------------------------

def _mlp_sizes(seed):
    return 6 + int(seed) % 7, 20 + int(seed) % 13  # latent_dim, hidden


def _noise(seed, n, dim, salt=4, scale=3.0):
    return torch.randn(n, dim, generator=draws(seed, salt)) * scale


def ask_make_generator(answer, seed):
    """G = answer(latent_dim, hidden) with torch seeded: ``{"weights": {name: tensor}, "out": G(z) [8, 784]}``."""
    latent, hidden = _mlp_sizes(seed)
    G = seeded(seed, lambda: answer(latent_dim=latent, hidden=hidden))
    with torch.no_grad():
        return {"weights": weights(G), "out": G(_noise(seed, 8, latent))}


def mark_make_generator(reply, seed):
    latent, hidden = _mlp_sizes(seed)
    G = load_weights(models.r2_generator(latent, hidden), reply["weights"], "G")
    with torch.no_grad():
        want = G(_noise(seed, 8, latent)).flatten(1)
    need_close(reply["out"], want, "G(noise), with G's own weights in the exercise's layers", 1e-5)


def ask_make_discriminator(answer, seed):
    """D = answer(hidden) with torch seeded: ``{"weights": {name: tensor}, "out": D(x) [8, 1]}``."""
    _, hidden = _mlp_sizes(seed)
    D = seeded(seed, lambda: answer(hidden=hidden))
    with torch.no_grad():
        return {"weights": weights(D), "out": D(_noise(seed, 8, 784, scale=2.0))}


def mark_make_discriminator(reply, seed):
    _, hidden = _mlp_sizes(seed)
    D = load_weights(models.r2_discriminator(hidden), reply["weights"], "D")
    with torch.no_grad():
        want = D(_noise(seed, 8, 784, scale=2.0))
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


def sgd_step(model, loss_of, lr):
    """``model``'s parameters after one plain SGD step on ``loss_of(model)``: a list of tensors (``model`` is
    left as it was)."""
    params = [p for p in model.parameters()]
    grads = torch.autograd.grad(loss_of(model), params)
    return [(p - lr * g).detach() for p, g in zip(params, grads)]


def after_stale_step(model, step):
    """``model``'s parameters (a list of tensors) after ``step()``, called with every gradient of ``model``
    set to 1000 first: old gradients, which a right step clears before its own."""
    for p in model.parameters():
        p.grad = torch.full_like(p, 1e3)
    step()
    return _as_list(model.parameters())


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


def _as_list(params):
    return [p.detach().cpu().clone() for p in params]


def need_params(found, want, what, atol=1e-5):
    """Parameters ``found`` (a list of tensors from the kernel) must equal ``want``."""
    need(isinstance(found, list) and len(found) == len(want), f"{what}: the parameters did not come back")
    for i, (a, b) in enumerate(zip(found, want)):
        need_close(a, b, f"{what} (parameter {i})", atol)


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
    reply = {"out": list(out) if isinstance(out, (tuple, list)) else out, "d_after": _as_list(D.parameters()),
             "g_after": _as_list(G.parameters()), "noise_shape": G.noise_shape,
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
    need_params(reply["g_after"], _as_list(G.parameters()), "G after D's step (it must not change)", 0)
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
    reply = {"loss": loss, "g_after": _as_list(G.parameters()), "d_after": _as_list(D.parameters()),
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
    need_params(reply["d_after"], _as_list(D.parameters()), "D after G's step (it must not change)", 0)
    need(reply["d_trainable"] == [True] * len(reply["d_trainable"]) and reply["d_trainable"],
         "D's parameters no longer require gradients after G's step: unfreeze D")
    need_two_sgd_steps(G, _g_loss(D, n), 0.5, reply["g_after"], reply["g_after_second"], "G")
    need(reply["meta"] == "ok", f"the step failed with the networks on another device: {reply['meta']}")


# Session 3: DCGAN ---------------------------------------------------------------

def _layer_sizes(seed):
    g = draws(seed, 9)
    rows = []
    for _ in range(6):
        kernel, stride = int(torch.randint(1, 7, (1,), generator=g)), int(torch.randint(1, 4, (1,), generator=g))
        padding = int(torch.randint(0, kernel, (1,), generator=g)) // 2
        rows.append((int(torch.randint(2, 12, (1,), generator=g)), kernel, stride, padding,
                     int(torch.randint(0, stride, (1,), generator=g))))
    rows[-1] = (rows[-1][0], 5, 2, 2, 1)  # one row with output_padding, as DCGAN's layers have
    return rows


def ask_convtranspose_output_size(answer, seed):
    """``{"sizes": [answer(*row) for 6 rows of (size, kernel, stride, padding, output_padding)]}``."""
    return {"sizes": [answer(*row) for row in _layer_sizes(seed)]}


def mark_convtranspose_output_size(reply, seed):
    for row, found in zip(_layer_sizes(seed), reply["sizes"]):
        layer = nn.ConvTranspose2d(1, 1, *row[1:4], output_padding=row[4])
        want = layer(torch.zeros(1, 1, row[0], row[0])).shape[-1]
        need_number(found, want, f"convtranspose_output_size{row}", 0)
    need(len(reply["sizes"]) == 6, "not every size came back")


def _trained_stats(model, inputs):
    """Two training-mode passes, so BatchNorm's running statistics are not their defaults; then eval mode."""
    with torch.no_grad():
        for x in inputs:
            model(x)
    return model.eval()


def ask_make_dcgan_generator(answer, seed):
    """G = answer() seeded, after two training-mode passes: ``{"weights": {name: tensor}, "out": G(z) [4, 1, 28, 28]}``
    in eval mode."""
    G = seeded(seed, answer)
    _trained_stats(G, [_noise(seed, 16, 100, salt=10), _noise(seed, 16, 100, salt=11)])
    with torch.no_grad():
        return {"weights": weights(G), "out": G(_noise(seed, 4, 100, salt=12))}


def mark_make_dcgan_generator(reply, seed):
    G = load_weights(models.r4_generator(), reply["weights"], "G").eval()
    with torch.no_grad():
        want = G(_noise(seed, 4, 100, salt=12))
    need_close(reply["out"], want, "G(noise) in eval mode, with G's own weights in R4's layers", 1e-4)


def ask_make_dcgan_discriminator(answer, seed):
    """D = answer() seeded: ``{"weights": {name: tensor}, "out": D(x) [4, 1]}`` in eval mode."""
    D = seeded(seed, answer).eval()
    with torch.no_grad():
        return {"weights": weights(D), "out": D(torch.rand(4, 1, 28, 28, generator=draws(seed, 13)) * 2 - 1)}


def mark_make_dcgan_discriminator(reply, seed):
    D = load_weights(models.r4_discriminator(), reply["weights"], "D").eval()
    with torch.no_grad():
        want = D(torch.rand(4, 1, 28, 28, generator=draws(seed, 13)) * 2 - 1)
    need_close(reply["out"], want, "D(images) in eval mode (logits), with D's own weights in R4's layers", 1e-4)


def _init_target(seed):
    return seeded(seed, lambda: nn.Sequential(nn.Conv2d(16, 64, 5), nn.BatchNorm2d(4096), nn.ConvTranspose2d(64, 32, 5),
                                              nn.BatchNorm1d(4096), nn.Linear(8, 8)))


def ask_dcgan_init(answer, seed):
    """A module of every kind, with BatchNorm shifts set to 1, after ``.apply(answer)``: ``{"weights": [...]}``."""
    model = _init_target(seed)
    with torch.no_grad():
        model[1].bias.fill_(1.0)
        model[3].bias.fill_(1.0)
    model.apply(answer)
    return {"weights": [p.detach().clone() for p in model.parameters()]}


def mark_dcgan_init(reply, seed):
    model = _init_target(seed)
    found = reply["weights"]
    need(isinstance(found, list) and len(found) == len(list(model.parameters())), "the weights did not come back")
    conv, conv_bias, bn, bn_bias, tconv, tconv_bias, bn1, bn1_bias, linear, linear_bias = found
    for weight, what in ((conv, "Conv2d"), (tconv, "ConvTranspose2d")):
        need(abs(weight.mean().item()) < 3e-3 and abs(weight.std().item() - 0.02) < 2e-3,
             f"{what} weights should be N(0, 0.02): mean {weight.mean().item():.4f}, std {weight.std().item():.4f}")
    for weight, bias, what in ((bn, bn_bias, "BatchNorm2d"), (bn1, bn1_bias, "BatchNorm1d")):
        need(abs(weight.mean().item() - 1) < 3e-3 and abs(weight.std().item() - 0.02) < 3e-3,
             f"{what} scales should be N(1, 0.02): mean {weight.mean().item():.4f}, std {weight.std().item():.4f}")
        need(torch.all(bias == 0), f"{what} shifts should be 0")


def _logits(seed, salt):
    x = torch.randn(9, 1, generator=draws(seed, salt)) * 4
    x[0, 0] = 300.0 * (1 if salt % 2 else -1)  # an extreme logit: sigmoid then log would give inf
    return x


def _targets(seed):
    g = draws(seed, 14)
    return 0.75 + 0.2 * float(torch.rand(1, generator=g)), 0.05 + 0.2 * float(torch.rand(1, generator=g))


def ask_discriminator_loss_logits(answer, seed):
    """``{"smoothed": answer(real, fake, real_target, fake_target), "plain": answer(real, fake)}``: 0-dim tensors."""
    real, fake = _logits(seed, 15), _logits(seed, 16)
    return {"smoothed": answer(real, fake, *_targets(seed)), "plain": answer(real, fake)}


def mark_discriminator_loss_logits(reply, seed):
    real, fake = _logits(seed, 15), _logits(seed, 16)
    for key, (t_real, t_fake) in (("smoothed", _targets(seed)), ("plain", (1.0, 0.0))):
        want = steps.discriminator_loss(real, fake, logits=True, real_target=t_real, fake_target=t_fake)
        need_close(reply[key], want, f"the loss with targets {t_real:.3f} (real) and {t_fake:.3f} (fake)", 1e-4)


# Session 4: measuring ---------------------------------------------------------------

def _gaussians(seed):
    g = draws(seed, 17)
    a, b = torch.randn(8, 8, generator=g, dtype=torch.float64), torch.randn(8, 8, generator=g, dtype=torch.float64)
    return (torch.randn(8, generator=g, dtype=torch.float64), a @ a.T,
            torch.randn(8, generator=g, dtype=torch.float64), b @ b.T + 0.1 * torch.eye(8, dtype=torch.float64))


def ask_frechet_distance(answer, seed):
    """``{"apart": answer(m1, C1, m2, C2), "same": answer(m2, C2, m2, C2)}``: numbers."""
    m1, c1, m2, c2 = _gaussians(seed)
    return {"apart": float(answer(m1, c1, m2, c2)), "same": float(answer(m2, c2, m2, c2))}


def mark_frechet_distance(reply, seed):
    m1, c1, m2, c2 = _gaussians(seed)
    want = metrics.frechet_distance(m1, c1, m2, c2)
    need_number(reply["apart"], want, "the Frechet distance of two Gaussians", 1e-6 * max(1.0, abs(want)))
    need_number(reply["same"], 0.0, "the Frechet distance of a Gaussian to itself", 1e-6)


def _class_probabilities(seed):
    g = draws(seed, 18)
    classes = torch.tensor([0, 0, 0, 3, 3, 7, 7, 7, 7, 9])[torch.randint(0, 10, (200,), generator=g)]
    classes[:3] = 5  # a class with 1.5% of the samples: present, not covered
    return torch.softmax(torch.randn(200, 10, generator=g) + 6 * F.one_hot(classes, 10), 1)


def ask_class_coverage(answer, seed):
    """``{"covered": int, "entropy": float}`` from ``answer(probabilities [200, 10])``."""
    covered, entropy = answer(_class_probabilities(seed))
    return {"covered": int(covered), "entropy": float(entropy)}


def mark_class_coverage(reply, seed):
    want = metrics.class_coverage(_class_probabilities(seed))
    need_number(reply["covered"], want["covered"], "classes with at least 5% of the samples", 0)
    need_number(reply["entropy"], want["entropy"], "the entropy of the class histogram (nats)", 1e-5)


def _points(seed):
    """Points on the ring: within 2.5 standard deviations of a mode (one mode holds fewer than 40 of them),
    and 30 strays 4 to 8 standard deviations from mode 0; none near the 3-deviation line."""
    ring = collapse.ring()
    g = draws(seed, 19)
    counts = torch.randint(45, 90, (8,), generator=g)
    counts[int(seed) % 8] = int(torch.randint(3, 36, (1,), generator=g))

    def around(centre, n, low, high):
        angle = torch.rand(n, generator=g) * 2 * math.pi
        radius = (low + (high - low) * torch.rand(n, generator=g)) * ring.std
        return centre + radius[:, None] * torch.stack([angle.cos(), angle.sin()], 1)

    points = [around(centre, int(n), 0.0, 2.5) for centre, n in zip(ring.centres, counts)]
    return torch.cat([*points, around(ring.centres[0], 30, 4.0, 8.0)]), ring


def ask_count_modes(answer, seed):
    """``{"modes": int, "good": float}`` from ``answer(samples, ring centres, ring std, 40)``."""
    points, ring = _points(seed)
    modes, good = answer(points, ring.centres, ring.std, 40)
    return {"modes": int(modes), "good": float(good)}


def mark_count_modes(reply, seed):
    points, ring = _points(seed)
    report = collapse.mode_report(points, ring, min_samples=40)
    need_number(reply["modes"], report["modes"], "modes with at least 40 good samples", 0)
    need_number(reply["good"], report["high_quality"], "the share of samples within 3 standard deviations", 1e-6)


def _pack_size(seed):
    return (2, 3, 4, 6)[int(seed) % 4]


def ask_pack(answer, seed):
    """``{"packed": answer(x [12, 5], m), "uneven": what answer(x[:10], 4) did}``, m one of 2, 3, 4 or 6."""
    x = torch.randn(12, 5, generator=draws(seed, 20))
    try:
        answer(x[:10], 4)
        uneven = "returned"
    except Exception as error:  # noqa: BLE001 - which error is the reply
        uneven = type(error).__name__
    return {"packed": answer(x, _pack_size(seed)), "uneven": uneven}


def mark_pack(reply, seed):
    x, m = torch.randn(12, 5, generator=draws(seed, 20)), _pack_size(seed)
    need_close(reply["packed"], collapse.pack(x, m), f"pack(x, {m})", 0)
    need(reply["uneven"] == "ValueError", f"pack of 10 samples by 4 should raise ValueError, it {reply['uneven']!r}")


def _latents(seed):
    g = draws(seed, 21)
    return torch.randn(32, generator=g), torch.randn(32, generator=g)


def _same_direction(seed):
    """Two vectors [32] pointing exactly the same way (their cosine is 1 in floating point too)."""
    z = torch.zeros(32)
    z[int(seed) % 32] = 3.0
    return z, 2 * z


def ask_slerp(answer, seed):
    """``{"path": [answer(z0, z1, t) for 5 values of t], "same": answer(z, 2z, 0.4)}``: tensors [32]."""
    z0, z1 = _latents(seed)
    return {"path": [answer(z0, z1, t) for t in (0.0, 0.25, 0.5, 0.8, 1.0)],
            "same": answer(*_same_direction(seed), 0.4)}


def mark_slerp(reply, seed):
    z0, z1 = _latents(seed)
    omega = torch.arccos(torch.dot(z0, z1) / (z0.norm() * z1.norm()))
    for t, found in zip((0.0, 0.25, 0.5, 0.8, 1.0), reply["path"]):
        want = (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)
        need_close(found, want, f"slerp(z0, z1, {t})", 1e-4)
    z, twice = _same_direction(seed)
    need_close(reply["same"], 0.6 * z + 0.4 * twice, "slerp(z, 2z, 0.4), two vectors pointing the same way", 1e-4)


# Session 5: the conditional GAN ----------------------------------------------

def _join_inputs(seed):
    g = draws(seed, 22)
    table = seeded(seed, lambda: nn.Embedding(10, 3))
    return torch.randn(6, 5, generator=g), torch.randint(0, 10, (6,), generator=g), table


def ask_join_label(answer, seed):
    """``{"joined": answer(z [6, 5], labels [6], embedding(10, 3)) [6, 8], "grad": the table's gradient}``."""
    z, labels, table = _join_inputs(seed)
    joined = answer(z, labels, table)
    joined.sum().backward()
    return {"joined": joined.detach(), "grad": table.weight.grad}


def mark_join_label(reply, seed):
    z, labels, table = _join_inputs(seed)
    joined = models.join_label(z, labels, table)
    need_close(reply["joined"], joined.detach(), "join_label(z, labels, embedding)", 1e-6)
    joined.sum().backward()
    need(reply["grad"] is not None, "the embedding got no gradient: keep it in the graph")
    need_close(reply["grad"], table.weight.grad, "the embedding's gradient", 1e-6)


def _labels_twice(seed):
    y = torch.randperm(10, generator=draws(seed, 23))
    return y, (y + 1 + int(seed) % 9) % 10


def ask_conditional_generator(answer, seed):
    """G = answer() seeded, two training passes, then eval: ``{"weights": {name: tensor}, "out": G(z, y) [10, 1, 28, 28]}``."""
    G = seeded(seed, answer)
    y, other = _labels_twice(seed)
    with torch.no_grad():
        for salt in (24, 25):
            G(_noise(seed, 16, 64, salt=salt), torch.arange(16) % 10)
    G.eval()
    with torch.no_grad():
        z = _noise(seed, 10, 64, salt=26, scale=1.0)
        return {"weights": weights(G), "out": G(z, y), "out_other": G(z, other)}


def mark_conditional_generator(reply, seed):
    G = load_weights(models.ConditionalGenerator(), reply["weights"], "G").eval()
    y, other = _labels_twice(seed)
    z = _noise(seed, 10, 64, salt=26, scale=1.0)
    with torch.no_grad():
        need_close(reply["out"], G(z, y), "G(z, labels), with G's own weights in session 5's layers", 1e-4)
        need_close(reply["out_other"], G(z, other), "G(z, other labels)", 1e-4)


def ask_conditional_discriminator(answer, seed):
    """D = answer() seeded, eval: ``{"weights": {name: tensor}, "out": D(x, y) [10, 1], "out_other": D(x, y') [10, 1]}``."""
    D = seeded(seed, answer).eval()
    y, other = _labels_twice(seed)
    x = torch.rand(10, 1, 28, 28, generator=draws(seed, 27)) * 2 - 1
    with torch.no_grad():
        return {"weights": weights(D), "out": D(x, y), "out_other": D(x, other)}


def mark_conditional_discriminator(reply, seed):
    D = load_weights(models.ConditionalDiscriminator(), reply["weights"], "D").eval()
    y, other = _labels_twice(seed)
    x = torch.rand(10, 1, 28, 28, generator=draws(seed, 27)) * 2 - 1
    with torch.no_grad():
        need_close(reply["out"], D(x, y), "D(images, labels) (logits), with D's own weights in session 5's layers", 1e-4)
        need_close(reply["out_other"], D(x, other), "D(images, other labels)", 1e-4)


class FixedConditionalG(nn.Module):
    """The judge's conditional G: one fixed fake per label, ``tanh(table[y])``, whatever the noise.
    ``forward(z [B, Z], y [B]) -> [B, 1, 28, 28]``; it keeps the shape of the last noise in ``noise_shape``
    and the last labels it was asked for in ``asked``."""

    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.randn(10, 784) * 0.7)
        self.noise_shape = None
        self.asked = None

    def forward(self, z, labels):
        self.noise_shape = list(z.shape)
        self.asked = labels.detach().cpu().clone()
        return self.fake(labels, 0 * z.sum(1, keepdim=True))

    def fake(self, labels, shift=0.0):
        return torch.tanh(self.table[labels] + shift).view(-1, 1, 28, 28)


class LinearConditionalD(nn.Module):
    """The judge's conditional D: one Linear layer on the image and the one-hot label -> a logit [B, 1]."""

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(784 + 10, 1)

    def forward(self, x, labels):
        return self.net(torch.cat([x.flatten(1), F.one_hot(labels, 10).to(x.dtype)], 1))


def _conditional_gan(seed):
    return seeded(seed, lambda: (FixedConditionalG(), LinearConditionalD()))


def _conditional_batch(seed):
    g = draws(seed, 28)
    labels = torch.randint(0, 10, (8,), generator=g)
    return torch.rand(8, 1, 28, 28, generator=g) * 2 - 1, labels


def _cond_d_loss(G, real, labels, fake_labels=None):
    """D's loss on ``real`` with its ``labels`` and on G's fakes of ``fake_labels`` (default the same), each fake
    judged with the label it was drawn for: a function of D."""
    fake_labels = labels if fake_labels is None else fake_labels
    fake = G.fake(fake_labels).detach()
    return lambda D: steps.discriminator_loss(D(real, labels), D(fake, fake_labels), logits=True)


def ask_conditional_discriminator_step(answer, seed):
    """One D step (SGD, lr 0.1) with the judge's GAN: the loss, D and G after it, G's gradients and noise shape."""
    G, D = _conditional_gan(seed)
    real, labels = _conditional_batch(seed)
    loss = answer(G, D, torch.optim.SGD(D.parameters(), lr=0.1), real, labels, 6)
    return {"loss": loss, "d_after": _as_list(D.parameters()), "g_after": _as_list(G.parameters()),
            "g_grads": [None if p.grad is None else p.grad.clone() for p in G.parameters()],
            "noise_shape": G.noise_shape, "fake_labels": G.asked}


def mark_conditional_discriminator_step(reply, seed):
    """The fakes may be drawn for any labels (session 5 says so), as long as D judges each with its own: the
    expected loss and step use the labels G was asked for."""
    G, D = _conditional_gan(seed)
    real, labels = _conditional_batch(seed)
    asked = reply.get("fake_labels")
    need(isinstance(asked, torch.Tensor) and asked.dtype == torch.int64 and tuple(asked.shape) == (len(real),),
         f"G was not asked for one fake per real image ({len(real)} labels); it was asked for {asked!r}")
    loss_of = _cond_d_loss(G, real, labels, asked)
    with torch.no_grad():
        need_close(reply["loss"], loss_of(D), "D's loss on real and fake images", 1e-5)
    need(reply["noise_shape"] == [len(real), 6], f"G was given noise of shape {reply['noise_shape']}, "
                                                  f"expected [{len(real)}, 6]")
    need_params(reply["g_after"], _as_list(G.parameters()), "G after D's step (it must not change)", 0)
    need(all(g is None or float(g.abs().sum()) == 0 for g in reply["g_grads"]), "D's loss sent gradients into G")
    need_params(reply["d_after"], sgd_step(D, loss_of, 0.1),
                "D after one SGD step, each image judged with its own label")


def ask_conditional_generator_step(answer, seed):
    """One G step (SGD, lr 0.1) with the judge's GAN: the loss, G and D after it, D's trainability, noise shape."""
    G, D = _conditional_gan(seed)
    _, labels = _conditional_batch(seed)
    loss = answer(G, D, torch.optim.SGD(G.parameters(), lr=0.1), labels, 6)
    return {"loss": loss, "g_after": _as_list(G.parameters()), "d_after": _as_list(D.parameters()),
            "d_trainable": [p.requires_grad for p in D.parameters()], "noise_shape": G.noise_shape}


def mark_conditional_generator_step(reply, seed):
    G, D = _conditional_gan(seed)
    _, labels = _conditional_batch(seed)

    def loss_of(G):
        return steps.generator_loss(D(G.fake(labels), labels), logits=True)

    with torch.no_grad():
        need_close(reply["loss"], loss_of(G), "G's loss, BCE(D(G(z, y), y), 1)", 1e-5)
    need(reply["noise_shape"] == [len(labels), 6], f"G was given noise of shape {reply['noise_shape']}, "
                                                    f"expected [{len(labels)}, 6]")
    need_params(reply["d_after"], _as_list(D.parameters()), "D after G's step (it must not change)", 0)
    need(reply["d_trainable"] == [True, True], "D's parameters no longer require gradients after G's step: unfreeze D")
    need_params(reply["g_after"], sgd_step(G, loss_of, 0.1), "G after one step, its fakes judged with their own labels")


class Painter(nn.Module):
    """The judge's conditional G for the accuracy exercise: draws digit ``rule[y]`` as a one-hot row of pixels."""

    def __init__(self, rule):
        super().__init__()
        self.register_buffer("rule", rule)
        self.w = nn.Parameter(torch.zeros(1))
        self.requested = []

    def forward(self, z, labels):
        self.requested.append(labels.detach().cpu().clone())
        out = -torch.ones(len(labels), 1, 28, 28, device=z.device)
        out[:, 0, 1, :10] = F.one_hot(self.rule[labels], 10).float() * 2 - 1
        return out + 0 * self.w


class Reader(nn.Module):
    """The judge's classifier for the accuracy exercise: reads the row of pixels ``Painter`` draws."""

    def forward(self, x):
        return x[:, 0, 1, :10] * 5


def _rule(seed):
    rule = torch.arange(10)
    wrong = torch.randperm(10, generator=draws(seed, 29))[: 2 + int(seed) % 5]
    rule[wrong] = (wrong + 1) % 10
    return rule


def ask_conditional_accuracy(answer, seed):
    """``{"overall": float, "per_class": [10], "requested": the digits G was asked for}`` from
    ``answer(Painter(rule), Reader(), 4, n)``."""
    painter = Painter(_rule(seed))
    overall, per_class = answer(painter, Reader(), 4, 3 + int(seed) % 4)
    return {"overall": float(overall), "per_class": torch.as_tensor(per_class).float(),
            "requested": torch.cat(painter.requested) if painter.requested else None}


def mark_conditional_accuracy(reply, seed):
    rule = _rule(seed)
    requested = metrics.balanced_labels(3 + int(seed) % 4)
    overall, per_class = metrics.conditional_accuracy(rule[requested], requested)
    need_number(reply["overall"], overall, "the overall accuracy", 1e-6)
    need_close(reply["per_class"], per_class.float(), "the accuracy for each requested digit", 1e-6)
    asked = reply["requested"]
    need(isinstance(asked, torch.Tensor) and torch.equal(torch.bincount(asked, minlength=10),
                                                         torch.bincount(requested, minlength=10)),
         f"G should be asked for every digit {3 + int(seed) % 4} times")


RIGHT_ANSWERS = {"discriminator_loss": steps.discriminator_loss, "generator_loss": steps.generator_loss,
                 "sample_noise": steps.sample_noise, "join_label": models.join_label}  # the course's own

EXERCISES = {
    "test_to_minus_one_one": Exercise("to_minus_one_one", ask_to_minus_one_one, mark_to_minus_one_one),
    "test_to_zero_one": Exercise("to_zero_one", ask_to_zero_one, mark_to_zero_one),
    "test_make_mnist_loader": Exercise("make_mnist_loader", ask_make_mnist_loader, mark_make_mnist_loader),
    "test_class_counts": Exercise("class_counts", ask_class_counts, mark_class_counts),
    "test_mean_image": Exercise("mean_image", ask_mean_image, mark_mean_image),
    "test_make_generator": Exercise("make_generator", ask_make_generator, mark_make_generator),
    "test_make_discriminator": Exercise("make_discriminator", ask_make_discriminator, mark_make_discriminator),
    "test_sample_noise": Exercise("sample_noise", ask_sample_noise, mark_sample_noise),
    "test_discriminator_loss": Exercise("discriminator_loss", ask_discriminator_loss, mark_discriminator_loss),
    "test_generator_loss": Exercise("generator_loss", ask_generator_loss, mark_generator_loss),
    "test_discriminator_step": Exercise("discriminator_step", ask_discriminator_step, mark_discriminator_step,
                                        ("sample_noise", "discriminator_loss")),
    "test_generator_step": Exercise("generator_step", ask_generator_step, mark_generator_step,
                                    ("sample_noise", "generator_loss")),
    "test_convtranspose_output_size": Exercise("convtranspose_output_size", ask_convtranspose_output_size,
                                               mark_convtranspose_output_size),
    "test_make_dcgan_generator": Exercise("make_dcgan_generator", ask_make_dcgan_generator, mark_make_dcgan_generator),
    "test_make_dcgan_discriminator": Exercise("make_dcgan_discriminator", ask_make_dcgan_discriminator,
                                              mark_make_dcgan_discriminator),
    "test_dcgan_init": Exercise("dcgan_init", ask_dcgan_init, mark_dcgan_init),
    "test_discriminator_loss_logits": Exercise("discriminator_loss_logits", ask_discriminator_loss_logits,
                                               mark_discriminator_loss_logits),
    "test_frechet_distance": Exercise("frechet_distance", ask_frechet_distance, mark_frechet_distance),
    "test_class_coverage": Exercise("class_coverage", ask_class_coverage, mark_class_coverage),
    "test_count_modes": Exercise("count_modes", ask_count_modes, mark_count_modes),
    "test_pack": Exercise("pack", ask_pack, mark_pack),
    "test_slerp": Exercise("slerp", ask_slerp, mark_slerp),
    "test_join_label": Exercise("join_label", ask_join_label, mark_join_label),
    "test_conditional_generator": Exercise("ConditionalGenerator", ask_conditional_generator,
                                           mark_conditional_generator, ("join_label",)),
    "test_conditional_discriminator": Exercise("ConditionalDiscriminator", ask_conditional_discriminator,
                                               mark_conditional_discriminator),
    "test_conditional_discriminator_step": Exercise("conditional_discriminator_step",
                                                    ask_conditional_discriminator_step,
                                                    mark_conditional_discriminator_step),
    "test_conditional_generator_step": Exercise("conditional_generator_step", ask_conditional_generator_step,
                                                mark_conditional_generator_step),
    "test_conditional_accuracy": Exercise("conditional_accuracy", ask_conditional_accuracy, mark_conditional_accuracy),
}
