"""Session 5: the conditional GAN: what the judge asks for each graded exercise of ``05_conditional``, and how it marks it."""

import torch
import torch.nn.functional as F
from torch import nn

from helpers import metrics, models, steps

from .marking import Exercise, as_list, draws, load_weights, need, need_close, need_number, need_params, noise, seeded, sgd_step, weights

SESSION = "05_conditional"

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
            G(noise(seed, 16, 64, salt=salt), torch.arange(16) % 10)
    G.eval()
    with torch.no_grad():
        z = noise(seed, 10, 64, salt=26, scale=1.0)
        return {"weights": weights(G), "out": G(z, y), "out_other": G(z, other)}


def mark_conditional_generator(reply, seed):
    G = load_weights(models.ConditionalGenerator(), reply["weights"], "G").eval()
    y, other = _labels_twice(seed)
    z = noise(seed, 10, 64, salt=26, scale=1.0)
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
    return {"loss": loss, "d_after": as_list(D.parameters()), "g_after": as_list(G.parameters()),
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
    need_params(reply["g_after"], as_list(G.parameters()), "G after D's step (it must not change)", 0)
    need(all(g is None or float(g.abs().sum()) == 0 for g in reply["g_grads"]), "D's loss sent gradients into G")
    need_params(reply["d_after"], sgd_step(D, loss_of, 0.1),
                "D after one SGD step, each image judged with its own label")


def ask_conditional_generator_step(answer, seed):
    """One G step (SGD, lr 0.1) with the judge's GAN: the loss, G and D after it, D's trainability, noise shape."""
    G, D = _conditional_gan(seed)
    _, labels = _conditional_batch(seed)
    loss = answer(G, D, torch.optim.SGD(G.parameters(), lr=0.1), labels, 6)
    return {"loss": loss, "g_after": as_list(G.parameters()), "d_after": as_list(D.parameters()),
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
    need_params(reply["d_after"], as_list(D.parameters()), "D after G's step (it must not change)", 0)
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


EXERCISES = {
    "test_join_label": Exercise("join_label", ask_join_label, mark_join_label),
    "test_conditional_generator": Exercise("ConditionalGenerator", ask_conditional_generator, mark_conditional_generator, ("join_label",)),
    "test_conditional_discriminator": Exercise("ConditionalDiscriminator", ask_conditional_discriminator, mark_conditional_discriminator),
    "test_conditional_discriminator_step": Exercise("conditional_discriminator_step", ask_conditional_discriminator_step, mark_conditional_discriminator_step),
    "test_conditional_generator_step": Exercise("conditional_generator_step", ask_conditional_generator_step, mark_conditional_generator_step),
    "test_conditional_accuracy": Exercise("conditional_accuracy", ask_conditional_accuracy, mark_conditional_accuracy),
}
