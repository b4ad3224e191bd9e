"""Checks for session 3 (DCGAN): transposed-conv arithmetic, R4's networks, init, the logit loss."""

import math

import torch
from torch import nn

from ..models import count_parameters

from . import expect, expect_close, expect_range, expect_scalar, expect_shape, passed


CONV_CASES = [  # (size, kernel, stride, padding, output_padding)
    (7, 5, 1, 2, 0), (7, 5, 2, 2, 1), (14, 5, 2, 2, 1), (7, 5, 2, 2, 0), (1, 4, 1, 0, 0),
    (4, 4, 2, 1, 0), (16, 4, 2, 1, 0), (5, 3, 3, 1, 2), (10, 2, 2, 0, 0), (3, 7, 1, 3, 0),
]


def check_convtranspose_output_size(fn):
    """``fn(size, kernel, stride, padding, output_padding)`` must agree with ``nn.ConvTranspose2d``."""
    for size, kernel, stride, padding, output_padding in CONV_CASES:
        layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding)
        truth = layer(torch.zeros(1, 1, size, size)).shape[-1]
        got = fn(size, kernel, stride, padding, output_padding)
        expect(isinstance(got, int) and not isinstance(got, bool),
               f"convtranspose_output_size should return an int, got {type(got).__name__}")
        expect(got == truth,
               f"for input {size}, kernel {kernel}, stride {stride}, padding {padding}, "
               f"output_padding {output_padding}: PyTorch gives {truth}, you gave {got}. "
               f"Formula: (size - 1) * stride - 2 * padding + (kernel - 1) + output_padding + 1")
    passed(f"your formula agrees with nn.ConvTranspose2d on {len(CONV_CASES)} cases")


def check_dcgan_generator(make_generator):
    """R4's G: noise [B, 100] -> [B, 1, 28, 28] in (-1, 1), BatchNorm, three transposed convolutions."""
    G = make_generator()
    expect(isinstance(G, nn.Module), f"make_dcgan_generator should return an nn.Module, got {type(G).__name__}")
    G.eval()
    with torch.no_grad():
        out = G(torch.randn(3, 100) * 3)
    expect_shape(out, (3, 1, 28, 28), "G(noise) for 3 noise vectors")
    expect_range(out, -1.0, 1.0, "G(noise)")
    expect(out.min() < 0, "G's outputs are never negative: end with nn.Tanh()")
    convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    expect(len(convs) == 3, f"G should have 3 ConvTranspose2d layers, found {len(convs)}")
    expect(all(c.kernel_size == (5, 5) and c.bias is None for c in convs),
           "each ConvTranspose2d should have kernel 5 and bias=False (BatchNorm follows, so a bias is redundant)")
    norms = [m for m in G.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    expect(len(norms) == 3, f"G should have 3 BatchNorm layers (after the Linear and the first two convs), found {len(norms)}")
    expected = 100 * 12544 + 2 * 12544 + 256 * 128 * 25 + 2 * 128 + 128 * 64 * 25 + 2 * 64 + 64 * 25
    expect(count_parameters(G) == expected, f"G should have {expected:,} parameters, got {count_parameters(G):,}. Check the layer sizes.")
    passed("G turns 100 numbers into a 28x28 image: 7 -> 7 -> 14 -> 28")


def check_dcgan_discriminator(make_discriminator):
    """R4's D: images [B, 1, 28, 28] -> one logit per image, no BatchNorm, dropout 0.3."""
    D = make_discriminator()
    expect(isinstance(D, nn.Module), f"make_dcgan_discriminator should return an nn.Module, got {type(D).__name__}")
    D.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        out = D(torch.randn(4, 1, 28, 28) * 50)
    expect_shape(out, (4, 1), "D(images) for 4 images")
    expect(not any(isinstance(m, nn.Sigmoid) for m in D.modules()),
           "D should return a logit: remove the Sigmoid (BCEWithLogitsLoss applies it, more safely)")
    expect(not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in D.modules()),
           "R4's D has no BatchNorm: remove it")
    drops = [m.p for m in D.modules() if isinstance(m, nn.Dropout)]
    expect(drops == [0.3, 0.3], f"D should have two Dropout(0.3) layers, found {drops}")
    expected = 64 * 25 + 64 + 64 * 128 * 25 + 128 + 7 * 7 * 128 + 1
    expect(count_parameters(D) == expected, f"D should have {expected:,} parameters, got {count_parameters(D):,}. Check the layer sizes.")
    passed("D turns a 28x28 image into one logit: 28 -> 14 -> 7 -> 1")


def check_dcgan_init(init):
    """``model.apply(init)``: conv weights ~ N(0, 0.02), BatchNorm weights ~ N(1, 0.02), biases 0."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.ConvTranspose2d(64, 64, 4), nn.BatchNorm2d(4096), nn.Conv2d(64, 64, 4))
    model[1].bias.data.fill_(3.0)
    model.apply(init)
    for name, conv in (("ConvTranspose2d", model[0]), ("Conv2d", model[2])):
        w = conv.weight
        expect(abs(w.mean().item()) < 2e-3 and abs(w.std().item() - 0.02) < 2e-3,
               f"{name} weights should be drawn from N(0, 0.02), got mean {w.mean().item():.4f} "
               f"std {w.std().item():.4f}")
    bn = model[1]
    expect(abs(bn.weight.mean().item() - 1) < 3e-3 and abs(bn.weight.std().item() - 0.02) < 3e-3,
           f"BatchNorm weights should be drawn from N(1, 0.02), got mean {bn.weight.mean().item():.4f} "
           f"std {bn.weight.std().item():.4f}")
    expect(torch.all(bn.bias == 0), "BatchNorm biases should be set to 0")
    linear = nn.Linear(3, 3)
    linear.apply(init)  # must not fail on layers it does not handle
    passed("DCGAN initialisation for Conv, ConvTranspose and BatchNorm layers")


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
           "the logits went through a Sigmoid twice: BCEWithLogits applies it itself, so pass raw logits")
    expect_close(loss, torch.tensor(plain), "loss with targets 1 / 0")
    smoothed = (bce(2.0, 0.9) + bce(0.5, 0.9)) / 2 + (bce(-1.0, 0.1) + bce(0.0, 0.1)) / 2
    expect_close(loss_fn(real, fake, 0.9, 0.1), torch.tensor(smoothed),
                 "loss with smoothed targets 0.9 / 0.1 (use real_target and fake_target)")
    huge = loss_fn(torch.tensor([[-200.0]]), torch.tensor([[200.0]]), 1.0, 0.0)
    expect(torch.isfinite(huge) and abs(huge.item() - 400.0) < 1e-2,
           f"for very confident wrong logits (-200 real, +200 fake) the loss should be exactly 400, got "
           f"{huge.item():.4g}. Use nn.functional.binary_cross_entropy_with_logits, not a Sigmoid and BCE.")
    passed("BCE with logits, label smoothing respected, stable for extreme logits")
