"""Checks for session 5 (the conditional GAN): joining the label, G(z, y), D(x, y), both steps, and
conditional accuracy.

Every message names the fix first, then what was seen. The checks test
behaviour on cases only the right code passes: a G or D that never looks at
its label gives the same output for two labels; a D step that shuffles the
labels shows D a real image with another digit's label; a frozen D stays
frozen. Expected values are computed here, never by ``helpers.models`` or
``helpers.metrics``.
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from . import expect, expect_close, expect_range, expect_scalar, expect_shape, expect_tensor, own_code, passed

SESSION = "05_conditional"  # the session whose exercises these check

LATENT = 8  # a small latent size for the check's own networks


@own_code(SESSION, "join_label")
def check_join_label(fn):
    """``fn(z [B, Z], labels [B], embedding)`` -> ``[B, Z + E]``: z, then the label's embedding."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4, 5, generator=g).requires_grad_()
    labels = torch.tensor([0, 3, 3, 9])
    embedding = nn.Embedding(10, 3)
    joined = fn(z, labels, embedding)
    expect_tensor(joined, "join_label(z, labels, embedding)")
    if joined.dim() == 2 and joined.shape[0] == 4 and joined.shape[1] not in (8,):
        expect(False, f"Look each label up in the embedding, embedding(labels) (3 numbers per label here), "
                      f"not a one-hot vector: expected shape (4, 8) = 5 noise + 3 embedding, got {tuple(joined.shape)}")
    expect_shape(joined, (4, 8), "join_label(z, labels, embedding)",
                 fix="Join along the feature dimension, torch.cat([z, embedding(labels)], dim=1)")
    expect_close(joined[:, :5].detach(), z.detach(), "the first 5 columns",
                 fix="Put the noise first: torch.cat([z, embedding(labels)], dim=1)")
    expect_close(joined[:, 5:].detach(), embedding.weight[labels].detach(), "the last 3 columns",
                 fix="Follow the noise with embedding(labels), each row's own label's embedding")
    joined.sum().backward()
    expect(embedding.weight.grad is not None and embedding.weight.grad.abs().sum() > 0,
           "Keep the embedding in the graph (no .detach(), no torch.no_grad()): it must learn, but it got no gradient")
    passed("join_label puts z first and each label's embedding after it")


def _generator_outputs(G, latent_dim, labels):
    """``G(z, labels)`` in eval mode for a fixed z, and the same z with every label moved by one."""
    g = torch.Generator().manual_seed(1)
    z = torch.randn(len(labels), latent_dim, generator=g)
    G.eval()
    with torch.no_grad():
        return z, G(z, labels), G(z, (labels + 1) % 10)


@own_code(SESSION, "ConditionalGenerator")
def check_conditional_generator(cls, latent_dim=64):
    """``cls()`` builds G(z, y): noise ``[B, latent_dim]``, labels ``[B]`` -> images ``[B, 1, 28, 28]`` in [-1, 1]."""
    torch.manual_seed(0)
    G = cls()
    expect(any(isinstance(m, nn.Embedding) for m in G.modules()),
           f"Give the generator a label table, self.embed = nn.Embedding(n_classes, embed_dim): "
           f"{type(G).__name__} has no nn.Embedding")
    labels = torch.arange(8)
    try:
        z, images, moved = _generator_outputs(G, latent_dim, labels)
    except RuntimeError as error:
        raise AssertionError(f"Build self.body for latent_dim + embed_dim inputs, the noise and the label's "
                             f"embedding joined: G(z, labels) failed ({str(error).splitlines()[0][:150]})") from None
    expect_shape(images, (8, 1, 28, 28), "G(z, labels)",
                 fix="End with 28x28 images: self.body = the DCGAN generator built for latent_dim + embed_dim inputs")
    expect_range(images, -1, 1, "G(z, labels)",
                 fix="End the generator with nn.Tanh() (or torch.tanh), so pixels are in [-1, 1]")
    expect(not torch.allclose(images, moved, atol=1e-6),
           "Pass the labels on in forward, self.body(join_label(z, labels, self.embed)): G(z, y) does not change "
           "when y does, so G ignores the digit it is asked for")
    passed("G(z, y) draws 28x28 images in [-1, 1], and the label changes them")


@own_code(SESSION, "ConditionalDiscriminator")
def check_conditional_discriminator(cls):
    """``cls()`` builds D(x, y): images ``[B, 1, 28, 28]`` and labels ``[B]`` -> logits ``[B, 1]``."""
    torch.manual_seed(0)
    D = cls()
    g = torch.Generator().manual_seed(2)
    images = torch.rand(6, 1, 28, 28, generator=g) * 2 - 1
    labels = torch.tensor([0, 1, 2, 7, 8, 9])
    D.eval()
    with torch.no_grad():
        try:
            out = D(images, labels)
        except RuntimeError as error:
            raise AssertionError(f"Build self.body for 2 input channels, the image and the label map "
                                 f"(models.course_dcgan_discriminator(in_channels=2)), and stack them with "
                                 f"torch.cat(..., dim=1): D(images, labels) failed "
                                 f"({str(error).splitlines()[0][:150]})") from None
        expect_shape(out, (6, 1), "D(images, labels)", fix="End with one number per image, nn.Linear(..., 1)")
        louder = copy.deepcopy(D)
        for p in louder.parameters():
            p.mul_(20)  # a logit then goes far outside [0, 1]; a probability cannot
        loud = louder(images, labels)
        expect(not bool(((loud >= 0) & (loud <= 1)).all()),
               "Return a logit: no nn.Sigmoid / torch.sigmoid at the end of D (the loss, BCE with logits, applies "
               "it): D's outputs never leave [0, 1]")
        other_labels = D(images, (labels + 1) % 10)
        expect(not torch.allclose(out, other_labels, atol=1e-6),
               "Give the label to D, torch.cat([images, self.label_map(labels).view(-1, 1, 28, 28)], dim=1): "
               "D(x, y) does not change when y does, so D cannot tell a real 3 from a real 3 labelled 8")
        other_images = D(torch.flip(images, dims=[0]), labels)
        expect(not torch.allclose(out, other_images, atol=1e-6),
               "Feed the images to D's body: D(x, y) does not change when x does")
    passed("D(x, y) returns one logit per image, and looks at both the image and its label")


class _Recorder(nn.Module):
    """Wraps a D: records every call's images, labels and outputs."""

    def __init__(self, D):
        super().__init__()
        self.D = D
        self.calls = []

    def forward(self, images, labels):
        out = self.D(images, labels)
        self.calls.append((images.detach().clone(), labels.detach().clone(), out))
        return out


def _tiny_pair():
    """A small conditional G and D (an MLP each) and their Adam optimisers, for the step checks."""
    torch.manual_seed(0)

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4)
            self.net = nn.Sequential(nn.Linear(LATENT + 4, 32), nn.ReLU(), nn.Linear(32, 784), nn.Tanh(),
                                     nn.Unflatten(1, (1, 28, 28)))

        def forward(self, z, labels):
            return self.net(torch.cat([z, self.embed(labels)], 1))

    class D(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4)
            self.net = nn.Sequential(nn.Linear(784 + 4, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))

        def forward(self, images, labels):
            return self.net(torch.cat([images.flatten(1), self.embed(labels)], 1))

    generator, discriminator = G(), D()
    return (generator, _Recorder(discriminator), torch.optim.Adam(generator.parameters(), 1e-3),
            torch.optim.Adam(discriminator.parameters(), 1e-3))


def _real_batch():
    g = torch.Generator().manual_seed(3)
    return torch.rand(8, 1, 28, 28, generator=g) * 2 - 1, torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])


def _weights(model):
    return [p.detach().clone() for p in model.parameters()]


def _changed(before, model):
    return any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@own_code(SESSION, "conditional_discriminator_step")
def check_conditional_discriminator_step(fn):
    """``fn(G, D, opt_d, real, labels, latent_dim)`` -> D's loss (0-dim): one update of D only."""
    G, D, opt_g, opt_d = _tiny_pair()
    real, labels = _real_batch()
    g_before, d_before = _weights(G), _weights(D)
    loss = fn(G, D, opt_d, real, labels, LATENT)
    expect_scalar(loss, "the D step's loss")
    expect(not _changed(g_before, G) and all(p.grad is None for p in G.parameters()),
           "Make the fakes without a graph into G, G(z, labels).detach() (or under torch.no_grad()): D's step "
           "computed gradients for G")
    expect(_changed(d_before, D), "Update D: opt_d.zero_grad(), loss.backward(), opt_d.step(); D's weights did not change")
    real_calls = [call for call in D.calls if call[0].shape == real.shape and torch.equal(call[0], real)]
    expect(real_calls, "Show D the real batch itself, D(real, labels): no call of D received it")
    expect(torch.equal(real_calls[0][1], labels),
           "Give D each real image with its own label, D(real, labels), in the batch's order: D saw real images "
           f"with labels {real_calls[0][1].tolist()}, expected {labels.tolist()}")
    fake_calls = [call for call in D.calls if not torch.equal(call[0], real)]
    expect(fake_calls, "Show D a batch of fakes, D(G(z, labels).detach(), labels): D only saw the real batch")
    out_real, out_fake = real_calls[0][2], fake_calls[0][2]
    want = (F.binary_cross_entropy_with_logits(out_real, torch.ones_like(out_real))
            + F.binary_cross_entropy_with_logits(out_fake, torch.zeros_like(out_fake)))
    expect(abs(float(loss) - float(want)) < 1e-4,
           f"Return BCE-with-logits of D(real) against 1 plus D(fake) against 0 (F.binary_cross_entropy_with_logits; "
           f"D returns logits): expected {float(want):.4f}, got {float(loss):.4f}")
    expect(all(p.requires_grad for p in D.parameters()), "Leave D trainable (requires_grad True) after its step")
    passed("the D step shows D each real image with its own label and the detached fakes, and updates D only")


@own_code(SESSION, "conditional_generator_step")
def check_conditional_generator_step(fn):
    """``fn(G, D, opt_g, labels, latent_dim)`` -> G's loss (0-dim): one update of G only."""
    G, D, opt_g, opt_d = _tiny_pair()
    _, labels = _real_batch()
    g_before, d_before = _weights(G), _weights(D)
    loss = fn(G, D, opt_g, labels, LATENT)
    expect_scalar(loss, "the G step's loss")
    expect(all(p.requires_grad for p in D.parameters()),
           "Unfreeze D after G's step, D.requires_grad_(True): D was left frozen, so its next step cannot learn")
    expect(not _changed(d_before, D), "Step only G's optimiser, opt_g.step(): D's weights changed in G's step")
    expect(_changed(g_before, G), "Update G: opt_g.zero_grad(), loss.backward(), opt_g.step(); G's weights did not change")
    expect(D.calls, "Score the fakes with D, D(fake, labels): D was never called")
    images, seen, out = D.calls[-1]
    expect(torch.equal(seen, labels),
           f"Ask D about the digits G was asked for, D(G(z, labels), labels): D saw labels {seen.tolist()}, "
           f"expected {labels.tolist()}")
    want = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
    expect(abs(float(loss) - float(want)) < 1e-4,
           f"Use the non-saturating loss, BCE-with-logits of D(fake, labels) against 1 (torch.ones_like): "
           f"expected {float(want):.4f}, got {float(loss):.4f}")
    passed("the G step asks D about the requested digits, updates G only and leaves D trainable")


class _OneHotPainter(nn.Module):
    """A stand-in conditional G that paints the digit it draws into the first row of pixels."""

    def __init__(self, shift=0, fixed=None):
        super().__init__()
        self.shift, self.fixed = shift, fixed
        self.weight = nn.Parameter(torch.zeros(1))
        self.requested = []

    def forward(self, z, labels):
        self.requested.append(labels.detach().cpu().clone())
        digits = torch.full_like(labels, self.fixed) if self.fixed is not None else (labels + self.shift) % 10
        images = -torch.ones(len(labels), 1, 28, 28) + 0 * self.weight
        images[:, 0, 0, :10] = F.one_hot(digits, 10).float() * 2 - 1
        return images + 0 * z[:, :1, None, None]


class _FirstRowReader(nn.Module):
    """A stand-in classifier that reads the painted digit back: logits [B, 10]."""

    def forward(self, images):
        return images[:, 0, 0, :10] * 10


@own_code(SESSION, "conditional_accuracy")
def check_conditional_accuracy(fn):
    """``fn(generator, classifier, latent_dim, n_per_class)`` -> ``(overall, per_class [10])``."""
    reader = _FirstRowReader()
    result = fn(_OneHotPainter(), reader, LATENT, 3)
    expect(isinstance(result, tuple) and len(result) == 2,
           f"Return two things, (overall, per_class): conditional_accuracy returned {type(result).__name__}")
    overall, per_class = result
    expect_tensor(per_class, "per_class")
    expect_shape(per_class, (10,), "per_class", fix="Give one accuracy per requested digit, 10 in all")
    expect(abs(float(overall) - 1.0) < 1e-6,
           f"Compare the classifier's argmax with the digits you asked G for: a G that always draws the requested "
           f"digit scores 1.0, got {float(overall):.3f}")
    overall, per_class = fn(_OneHotPainter(shift=1), reader, LATENT, 3)
    expect(float(overall) < 1e-6,
           f"Count a sample only when its predicted digit is the requested one: a G that always draws the next "
           f"digit scores 0, got {float(overall):.3f}")
    expect_close(torch.as_tensor(per_class).float(), torch.zeros(10), "per_class for a G that draws the next digit",
                 fix="Average the hits of each requested digit separately (accuracy per requested digit, "
                     "not the share of predictions per class)")
    only_fours = _OneHotPainter(fixed=4)
    overall, per_class = fn(only_fours, reader, LATENT, 20)
    asked = torch.bincount(torch.cat(only_fours.requested), minlength=10)
    expect(asked.tolist() == [20] * 10,
           f"Ask for every digit equally often, n_per_class of each (torch.arange(10).repeat_interleave(n_per_class)): "
           f"with n_per_class=20 G was asked for the digits 0-9 {asked.tolist()} times")
    want = torch.zeros(10)
    want[4] = 1.0
    expect(abs(float(overall) - 0.1) < 1e-6,
           f"Ask for every digit equally often, n_per_class of each (torch.arange(10).repeat_interleave(n_per_class)): "
           f"a G that only draws 4s scores 0.1, got {float(overall):.3f}")
    expect_close(per_class.float(), want, "per_class for a G that only draws 4s",
                 fix="Average the hits of each requested digit separately (accuracy per requested digit, "
                     "not the share of predictions per class)")
    passed("conditional accuracy: 1.0 for a G that obeys, 0.1 for one that ignores the label, 0 for one that "
           "draws the wrong digit")
