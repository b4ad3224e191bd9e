"""Session 3: DCGAN: what the judge asks for each graded exercise of ``03_dcgan``, and how it marks it."""

import torch
from torch import nn

from helpers import models, steps

from .marking import Exercise, draws, load_weights, need, need_close, need_number, noise, seeded, weights

SESSION = "03_dcgan"

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
    """G = answer() and answer(width=16), each seeded and after two training-mode passes:
    ``{"weights", "out", "narrow_weights", "narrow_out"}``, ``out`` being G(z) [4, 1, 28, 28] in eval mode."""
    reply = {}
    for prefix, build in (("", answer), ("narrow_", lambda: answer(width=16))):
        G = seeded(seed, build)
        _trained_stats(G, [noise(seed, 16, 100, salt=10), noise(seed, 16, 100, salt=11)])
        with torch.no_grad():
            reply.update({f"{prefix}weights": weights(G), f"{prefix}out": G(noise(seed, 4, 100, salt=12))})
    return reply


def mark_make_dcgan_generator(reply, seed):
    for prefix, width, words in (("", 64, "R4's layers"), ("narrow_", 16, "R4's layers at width=16")):
        G = load_weights(models.r4_generator(width=width), reply[f"{prefix}weights"], "G").eval()
        with torch.no_grad():
            want = G(noise(seed, 4, 100, salt=12))
        need_close(reply[f"{prefix}out"], want, f"G(noise) in eval mode, with G's own weights in {words}", 1e-4)


def ask_make_dcgan_discriminator(answer, seed):
    """D = answer() and answer(width=16), each seeded: ``{"weights", "out", "narrow_weights", "narrow_out"}``,
    ``out`` being D(x) [4, 1] in eval mode."""
    reply = {}
    for prefix, build in (("", answer), ("narrow_", lambda: answer(width=16))):
        D = seeded(seed, build).eval()
        with torch.no_grad():
            reply.update({f"{prefix}weights": weights(D),
                          f"{prefix}out": D(torch.rand(4, 1, 28, 28, generator=draws(seed, 13)) * 2 - 1)})
    return reply


def mark_make_dcgan_discriminator(reply, seed):
    for prefix, width, words in (("", 64, "R4's layers"), ("narrow_", 16, "R4's layers at width=16")):
        D = load_weights(models.r4_discriminator(width=width), reply[f"{prefix}weights"], "D").eval()
        with torch.no_grad():
            want = D(torch.rand(4, 1, 28, 28, generator=draws(seed, 13)) * 2 - 1)
        need_close(reply[f"{prefix}out"], want, f"D(images) in eval mode (logits), with D's own weights in {words}",
                   1e-4)


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


EXERCISES = {
    "test_convtranspose_output_size": Exercise("convtranspose_output_size", ask_convtranspose_output_size, mark_convtranspose_output_size),
    "test_make_dcgan_generator": Exercise("make_dcgan_generator", ask_make_dcgan_generator, mark_make_dcgan_generator),
    "test_make_dcgan_discriminator": Exercise("make_dcgan_discriminator", ask_make_dcgan_discriminator, mark_make_dcgan_discriminator),
    "test_dcgan_init": Exercise("dcgan_init", ask_dcgan_init, mark_dcgan_init),
    "test_discriminator_loss_logits": Exercise("discriminator_loss_logits", ask_discriminator_loss_logits, mark_discriminator_loss_logits),
}
