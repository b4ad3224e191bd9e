"""Building a recipe's run: its GAN (networks and Adam), speed options, learning-rate schedule,
training data, styles and fixed sample noise.

``build_run`` makes all of a run's parts in one call; ``runs.RecipeRun`` trains them and keeps them
on disk. The throughput benchmark and the tests build GANs with the pieces too. Nothing here
trains or writes a file.
"""

import time
from dataclasses import dataclass, field

import torch

from . import data, losses
from .averaging import WeightAverage
from .metrics import balanced_labels
from .runtime import fast_bfloat16, resolve_device
from .snapshots import Snapshots
from .steps import GAN, sample_noise, uses_batch_statistics
from .styles import StyleSampler, style_labels, style_sizes


@dataclass
class RunParts:
    """What a run of a recipe trains with: ``gan``, the ``images`` [N, C, S, S] and their ``batches``
    (with labels for a conditional or style recipe), ``sampler`` (what draws samples: G, its average,
    or G through its styles), ``snapshots`` of the fixed noise, ``order`` (the random generator that
    shuffles the batches, saved with checkpoints) and ``extra`` (what the checkpoint must remember)."""
    gan: GAN
    images: torch.Tensor
    batches: data.ShuffledBatches
    sampler: torch.nn.Module
    snapshots: Snapshots
    order: torch.Generator
    extra: dict = field(default_factory=dict)


def build_run(recipe, seed, samples_dir=None, device=None, limit=None, root=None, speed=None):
    """Every part of a run of ``recipe`` (a ``RunParts``), on ``device``, from ``seed``.

    ``samples_dir``: where the snapshots save their grids (None: nowhere). ``limit``: train on the
    first ``limit`` images only; ``speed``: speed options asked for on top of the recipe's own
    (``speed_options``).
    """
    device = resolve_device(device)
    gan = apply_speed_options(build_gan(recipe, device), **speed_options(recipe, device, speed))
    images, labels = training_data(recipe, device, limit, root)
    if len(images) < 2 and (uses_batch_statistics(gan.generator) or uses_batch_statistics(gan.discriminator)):
        raise ValueError(f"--limit {limit} leaves {len(images)} training image; recipe {recipe.name} has BatchNorm, "
                         f"which needs batches of at least 2 images: use --limit 2 or more")
    sampler, extra = gan.sampler, {"recipe": recipe.name}
    if recipe.styles_per_digit > 1:  # train on styles (of each digit, or of all images); draw through them
        labels, extra["style_sizes"] = styles_of(recipe, images, labels, seed)
        sampler = StyleSampler(gan.sampler, extra["style_sizes"])
    order = torch.Generator().manual_seed(seed)
    tensors = (images, labels) if recipe.n_labels else (images,)
    batches = data.ShuffledBatches(*tensors, batch_size=min(recipe.batch_size, len(images)), generator=order)
    noise, fixed_labels = fixed_samples(recipe, seed)
    snapshots = Snapshots(noise.to(device), nrow=recipe.nrow, out_dir=samples_dir, value_range=recipe.pixel_range,
                          labels=None if fixed_labels is None else fixed_labels.to(device))
    return RunParts(gan, images, batches, sampler, snapshots, order, extra)


def styles_of(recipe, images, labels, seed):
    """The style of each image, by k-means (of each digit, or of all images): ``(styles [N], sizes)``,
    ``sizes`` a list of lists of images per style, as checkpoints keep them."""
    digits = labels if recipe.conditional else torch.zeros_like(labels)
    started = time.perf_counter()
    styles = style_labels(images, digits, recipe.styles_per_digit, seed=seed)
    sizes = style_sizes(styles, recipe.styles_per_digit, 10 if recipe.conditional else 1)
    found = int((sizes > 0).sum())
    short = "" if found == recipe.n_labels else f" of the {recipe.n_labels} asked for ({len(images):,} training images)"
    print(f"{recipe.name}: k-means found {found} styles{short} in {time.perf_counter() - started:.1f} s "
          f"(before training: not in its time)")
    return styles, sizes.tolist()


def adam(parameters, lr, betas):
    """Adam, fused where this PyTorch supports it.

    Fused Adam updates every parameter in one kernel instead of several small
    ones per tensor: the same update rule, with far fewer kernel launches, which
    is what dominates the optimiser's time on these small models.
    """
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError):  # older PyTorch, or a device without a fused kernel
        return torch.optim.Adam(parameters, lr=lr, betas=betas)


def falling_lr(recipe, share):
    """The learning rate after ``share`` (0 to 1) of a run of ``recipe``.

    ``recipe.lr`` for the first half; then it falls linearly, to
    ``recipe.lr * recipe.lr_decay_to`` at the end (``recipe.lr`` throughout
    if ``lr_decay_to`` is None). Smaller steps at the end let G settle
    instead of chasing the last few D updates.
    """
    if recipe.lr_decay_to is None or share <= 0.5:
        return recipe.lr
    return recipe.lr * (1.0 - (1.0 - recipe.lr_decay_to) * (share - 0.5) / 0.5)


def set_lr(gan, lr):
    """Set the learning rate of both of ``gan``'s optimisers to ``lr``."""
    for optimiser in (gan.opt_g, gan.opt_d):
        for group in optimiser.param_groups:
            group["lr"] = lr


def speed_options(recipe, device, asked=None):
    """The ``apply_speed_options`` switches to train ``recipe`` with on ``device``.

    The recipe's own (``amp``, ``channels_last``), plus those ``asked`` for
    (a dict, e.g. from the command line's flags). A recipe's ``amp`` is left
    off, with one printed line, on a device where bfloat16 is slow
    (``runtime.fast_bfloat16``); asked for, it is always on.
    """
    asked = {key: on for key, on in (asked or {}).items() if on}
    options = {"amp": recipe.amp, "channels_last": recipe.channels_last, **asked}
    if options["amp"] and "amp" not in asked and not fast_bfloat16(device):
        print(f"{recipe.name}: bfloat16 is slow on this {device.type}, so it trains in float32 (--amp forces it)")
        options["amp"] = False
    return options


def build_gan(recipe, device):
    """G, D and their Adam optimisers for ``recipe``, on ``device``, as a ``steps.GAN``."""
    generator, discriminator = (network.to(device) for network in recipe.networks())
    if recipe.init is not None:
        generator.apply(recipe.init)
        discriminator.apply(recipe.init)
    loss = losses.get_loss(recipe.loss)  # GAN refuses a D that ends in a Sigmoid for a loss that reads raw scores
    return GAN(
        generator=generator,
        discriminator=discriminator,
        opt_g=adam(generator.parameters(), recipe.lr, recipe.betas),
        opt_d=adam(discriminator.parameters(), recipe.lr, recipe.betas),
        latent_shape=recipe.latent_shape,
        logits=recipe.logits,
        real_target=recipe.real_target,
        fake_target=recipe.fake_target,
        g_target=recipe.g_target,
        reuse_fake=recipe.reuse_fake,
        pixel_range=recipe.pixel_range,
        n_classes=recipe.n_labels,
        average=None if recipe.average_decay is None else WeightAverage(generator, recipe.average_decay),
        **losses.gan_settings(loss.name),
    )


def apply_speed_options(gan, amp=False, channels_last=False, compile=False):
    """Speed-ups, each a separate switch, all off by default; a recipe may switch some on (``speed_options``).

    - ``amp``: forward passes in bfloat16 under autocast: tensor cores on a GPU,
      AMX tiles on a recent Xeon, half the memory traffic; no loss scaling
      needed, unlike float16. Where the hardware lacks bfloat16 it is slower.
    - ``channels_last``: NHWC layout, which cuDNN's and oneDNN's convolution
      kernels prefer (only useful for convolutional models).
    - ``compile``: ``torch.compile`` fuses the many small element-wise kernels of
      these small networks; it costs a minute of compiling up front.

    Fused Adam and the on-device data are always on (see ``adam`` and
    ``data.load_to_device``). Returns ``gan``.
    """
    if amp:
        gan.amp_dtype = torch.bfloat16
    if channels_last:
        gan.generator.to(memory_format=torch.channels_last)
        gan.discriminator.to(memory_format=torch.channels_last)
    if compile:
        gan.generator.compile()  # in place: state_dict keys, and so checkpoints, stay the same
        gan.discriminator.compile()
    return gan


def training_data(recipe, device, limit=None, root=None):
    """The recipe's training split on ``device``: images ``[N, 1, S, S]`` in its pixel range, labels ``[N]``."""
    images, labels = data.load_to_device(recipe.dataset, "train", device=device, limit=limit, root=root)
    if recipe.image_size != images.shape[-1]:
        images = torch.nn.functional.interpolate(images, size=recipe.image_size, mode="bilinear",
                                                 align_corners=False).clamp(-1, 1)
    return data.convert_pixels(images, "tanh", recipe.pixel_range), labels


def fixed_samples(recipe, seed):
    """The noise (and, for a conditional recipe, the labels) of the run's sample grid, on the CPU.

    A conditional grid has one row per digit, and each column keeps one noise
    vector: along a column only the digit changes.
    """
    noise = torch.Generator().manual_seed(seed + 1)
    if not recipe.conditional:
        return sample_noise(recipe.n_samples, recipe.latent_shape, "cpu", noise), None
    per_row = recipe.n_samples // 10
    z = sample_noise(per_row, recipe.latent_shape, "cpu", noise)
    return z.repeat(10, *[1] * len(recipe.latent_shape)), balanced_labels(per_row)
