"""Checks for session 3 (DCGAN): transposed-conv arithmetic, R4's networks, init, the logit loss.

Every message names the fix first, then what was seen.
"""

import math

import torch
from torch import nn

from ..models import count_parameters

from . import activations_called, expect, expect_close, expect_range, expect_scalar, expect_shape, own_code, passed

SESSION = "03_dcgan"  # the session whose exercises these check


CONV_CASES = [  # (size, kernel, stride, padding, output_padding)
    (7, 5, 1, 2, 0), (7, 5, 2, 2, 1), (14, 5, 2, 2, 1), (7, 5, 2, 2, 0), (1, 4, 1, 0, 0),
    (4, 4, 2, 1, 0), (16, 4, 2, 1, 0), (5, 3, 3, 1, 2), (10, 2, 2, 0, 0), (3, 7, 1, 3, 0),
]


@own_code(SESSION, "convtranspose_output_size")
def check_convtranspose_output_size(fn):
    """``fn(size, kernel, stride, padding, output_padding)`` must agree with ``nn.ConvTranspose2d``."""
    for size, kernel, stride, padding, output_padding in CONV_CASES:
        layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding)
        truth = layer(torch.zeros(1, 1, size, size)).shape[-1]
        got = fn(size, kernel, stride, padding, output_padding)
        expect(isinstance(got, int) and not isinstance(got, bool),
               f"Return an int (use // for any division): convtranspose_output_size returned {type(got).__name__}")
        case = (f"for input {size}, kernel {kernel}, stride {stride}, padding {padding}, "
                f"output_padding {output_padding}: PyTorch gives {truth}, you gave {got}")
        expect(got != truth - output_padding or output_padding == 0, f"Add output_padding at the end: {case}")
        expect(got == truth,
               f"Use the transposed convolution's formula, (size - 1) * stride - 2 * padding + (kernel - 1) "
               f"+ output_padding + 1 (an ordinary convolution's formula goes the other way): {case}")
    passed(f"your formula agrees with nn.ConvTranspose2d on {len(CONV_CASES)} cases")


@own_code(SESSION, "make_dcgan_generator")
def check_dcgan_generator(make_generator):
    """R4's G: noise [B, 100] -> [B, 1, 28, 28] in (-1, 1), BatchNorm, three transposed convolutions."""
    G = make_generator()
    expect(isinstance(G, nn.Module), f"Return an nn.Module from make_dcgan_generator, got {type(G).__name__}")
    G.eval()
    with torch.no_grad():
        out = G(torch.randn(3, 100) * 3)
    called = activations_called(G, torch.randn(3, 100))
    expect(out.shape[-1] != 25,
           f"Add output_padding=1 to the two stride-2 ConvTranspose2d layers: 7 -> 13 -> 25 without it, "
           f"got images of shape {tuple(out.shape)}")
    expect_shape(out, (3, 1, 28, 28), "G(noise) for 3 noise vectors",
                 "Follow the table: Linear to 256x7x7 (nn.Unflatten), then ConvTranspose2d 256->128->64->1")
    expect_range(out, -1.0, 1.0, "G(noise)", "End the generator with nn.Tanh() (or torch.tanh), whose range is (-1, 1)")
    expect(out.min() < 0, "End the generator with nn.Tanh(): G's outputs are never negative")
    convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    expect(len(convs) == 3, f"Use 3 ConvTranspose2d layers, as in the table: found {len(convs)}")
    expect(all(c.kernel_size == (5, 5) and c.bias is None for c in convs),
           "Give each ConvTranspose2d kernel 5 and bias=False (BatchNorm follows, so a bias is redundant)")
    norms = [m for m in G.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    expect(len(norms) == 3,
           f"Put a BatchNorm after the Linear and after the first two ConvTranspose2d layers: found {len(norms)}")
    slopes = [slope for name, slope in called if name == "leaky_relu"]
    others = [name for name, _ in called if name not in ("leaky_relu", "tanh")]
    expect(len(slopes) == 3 and all(abs(s - 0.3) < 1e-9 for s in slopes) and not others,
           f"Use nn.LeakyReLU(0.3) (or F.leaky_relu(x, 0.3)), Keras' default slope, after each BatchNorm: found "
           f"LeakyReLU slopes {slopes} and {others or 'no other activations'}")
    expected = 100 * 12544 + 2 * 12544 + 256 * 128 * 25 + 2 * 128 + 128 * 64 * 25 + 2 * 64 + 64 * 25
    expect(count_parameters(G) == expected,
           f"Check the layer sizes against the table: G should have {expected:,} parameters, got "
           f"{count_parameters(G):,}")
    narrow = built_at_width(make_generator, "make_dcgan_generator(latent_dim=LATENT_DIM, width=64)")
    expected = 100 * 7 * 7 * 64 + 2 * 7 * 7 * 64 + 64 * 32 * 25 + 2 * 32 + 32 * 16 * 25 + 2 * 16 + 16 * 25
    expect(count_parameters(narrow) == expected,
           f"Build every layer from width: 4 * width, 2 * width and width channels (R4's width is 64). With "
           f"width=16, G should have {expected:,} parameters, got {count_parameters(narrow):,}")
    passed("G turns 100 numbers into a 28x28 image: 7 -> 7 -> 14 -> 28, at R4's width and at width=16")


@own_code(SESSION, "make_dcgan_discriminator")
def check_dcgan_discriminator(make_discriminator):
    """R4's D: images [B, 1, 28, 28] -> one logit per image, no BatchNorm, dropout 0.3."""
    torch.manual_seed(0)  # the same weights every time: the logit test below is then deterministic
    D = make_discriminator()
    expect(isinstance(D, nn.Module), f"Return an nn.Module from make_dcgan_discriminator, got {type(D).__name__}")
    D.eval()
    with torch.no_grad():
        out = D(torch.randn(4, 1, 28, 28) * 50)
    expect_shape(out, (4, 1), "D(images) for 4 images",
                 "Follow the table: Conv2d 1->64->128 with stride 2, then Flatten and Linear(7*7*128, 1)")
    called = activations_called(D, torch.randn(4, 1, 28, 28))
    expect(not any(name == "sigmoid" for name, _ in called),
           "Remove the nn.Sigmoid (or torch.sigmoid) at the end: D should return a logit "
           "(BCEWithLogitsLoss applies the sigmoid, more safely)")
    expect(bool(out.min() < 0 or out.max() > 1),
           f"Return the last Linear layer's output as it is, not squashed into (0, 1) (a sigmoid written out by "
           f"hand?): D should return a logit, a score of any sign, but every output was in (0, 1): "
           f"{[round(v, 3) for v in out.flatten().tolist()]}")
    expect(not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in D.modules()),
           "Remove the BatchNorm: R4's D has none")
    drops = [rate for name, rate in called if name == "dropout"]
    expect(drops == [0.3, 0.3], f"Put nn.Dropout(0.3) (or F.dropout(x, 0.3, self.training)) after each LeakyReLU: "
                                f"found dropout rates {drops}")
    expected = 64 * 25 + 64 + 64 * 128 * 25 + 128 + 7 * 7 * 128 + 1
    expect(count_parameters(D) == expected,
           f"Check the layer sizes against the table: D should have {expected:,} parameters, got "
           f"{count_parameters(D):,}")
    narrow = built_at_width(make_discriminator, "make_dcgan_discriminator(width=64)")
    expected = 16 * 25 + 16 + 16 * 32 * 25 + 32 + 7 * 7 * 32 + 1
    expect(count_parameters(narrow) == expected,
           f"Build both convolutions from width: width and 2 * width channels, and Linear(7 * 7 * 2 * width, 1) "
           f"(R4's width is 64). With width=16, D should have {expected:,} parameters, got "
           f"{count_parameters(narrow):,}")
    passed("D turns a 28x28 image into one logit: 28 -> 14 -> 7 -> 1, at R4's width and at width=16")


def built_at_width(make, signature):
    """``make(width=16)``, a narrower network; a failed check naming the argument if ``make`` takes no width."""
    try:
        return make(width=16)
    except TypeError as error:
        raise AssertionError(f"Give the builder a width argument, R4's 64 by default: def {signature}. "
                             f"Calling it with width=16 said: {error}") from None


@own_code(SESSION, "dcgan_init")
def check_dcgan_init(init):
    """``model.apply(init)``: conv weights ~ N(0, 0.02), BatchNorm weights ~ N(1, 0.02), biases 0."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.ConvTranspose2d(64, 64, 4), nn.BatchNorm2d(4096), nn.Conv2d(64, 64, 4))
    model[1].bias.data.fill_(3.0)
    model.apply(init)
    for name, conv in (("ConvTranspose2d", model[0]), ("Conv2d", model[2])):
        w = conv.weight
        expect(abs(w.mean().item()) < 2e-3 and abs(w.std().item() - 0.02) < 2e-3,
               f"Draw {name} weights with nn.init.normal_(module.weight, 0.0, 0.02): got mean "
               f"{w.mean().item():.4f} std {w.std().item():.4f}")
    bn = model[1]
    expect(abs(bn.weight.mean().item() - 1) < 3e-3 and abs(bn.weight.std().item() - 0.02) < 3e-3,
           f"Draw BatchNorm weights with nn.init.normal_(module.weight, 1.0, 0.02): got mean "
           f"{bn.weight.mean().item():.4f} std {bn.weight.std().item():.4f}")
    expect(torch.all(bn.bias == 0), "Set BatchNorm biases to 0 with nn.init.zeros_(module.bias)")
    linear = nn.Linear(3, 3)
    linear.apply(init)  # must not fail on layers it does not handle
    passed("DCGAN initialisation for Conv, ConvTranspose and BatchNorm layers")


@own_code(SESSION, "discriminator_loss_logits")
def check_discriminator_loss_logits(loss_fn):
    """``loss_fn(real_logits, fake_logits, real_target, fake_target)``: BCE with logits, smoothed targets."""
    real, fake = torch.tensor([[2.0], [0.5]]), torch.tensor([[-1.0], [0.0]])

    def bce(logit, target):
        p = 1 / (1 + math.exp(-logit))
        return -(target * math.log(p) + (1 - target) * math.log(1 - p))

    loss = loss_fn(real, fake, 1.0, 0.0)
    expect_scalar(loss, "the loss")
    plain = (bce(2.0, 1) + bce(0.5, 1)) / 2 + (bce(-1.0, 0) + bce(0.0, 0)) / 2
    double = sum(bce(1 / (1 + math.exp(-x)), t) for x, t in ((2.0, 1), (0.5, 1))) / 2 \
        + sum(bce(1 / (1 + math.exp(-x)), t) for x, t in ((-1.0, 0), (0.0, 0))) / 2
    expect(abs(loss.item() - double) > 1e-4,
           "Pass the raw logits to binary_cross_entropy_with_logits, which applies the sigmoid itself: "
           "the logits went through a sigmoid twice")
    huge = loss_fn(torch.tensor([[-200.0]]), torch.tensor([[200.0]]), 1.0, 0.0)
    expect(bool(torch.isfinite(huge)) and abs(huge.item() - 400.0) < 1e-2,
           f"Use nn.functional.binary_cross_entropy_with_logits, not a sigmoid and BCE: for very confident "
           f"wrong logits (-200 real, +200 fake) the loss should be exactly 400, got {huge.item():.4g}")
    expect_close(loss, torch.tensor(plain), "loss with targets 1 / 0")
    for real_target, fake_target in ((0.9, 0.1), (0.9, 0.0), (0.8, 0.05)):
        want = sum(bce(x, real_target) for x in (2.0, 0.5)) / 2 + sum(bce(x, fake_target) for x in (-1.0, 0.0)) / 2
        got = loss_fn(real, fake, real_target, fake_target)
        expect(abs(got.item() - want) < 1e-4,
               f"Use real_target for the real logits and fake_target for the fake ones "
               f"(torch.full_like(logits, target)): with targets {real_target} / {fake_target} the loss should "
               f"be {want:.5f}, got {got.item():.5f}")
    passed("BCE with logits, label smoothing respected, stable for extreme logits")
