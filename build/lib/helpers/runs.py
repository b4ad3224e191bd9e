"""A recipe's training run on disk: build it, train it, write what it made.

``run_recipe(recipe, out_dir)`` is what ``python -m helpers.train`` runs, and
what notebooks call to train a preset. Everything a run writes goes into its
``out_dir``:

- ``real_images.png``         a grid of real training images, once;
- ``samples/epoch_XXXX.png``  the fixed-noise grid, every few epochs (per recipe; one row per digit
                              for a conditional recipe);
- ``samples.gif``             those grids as an animation;
- ``losses.png``              per-step losses and per-epoch mean D scores;
- ``checkpoint.pt``           everything needed to resume (written atomically each epoch);
- ``history.json``            the per-epoch numbers and the final scores, for other tools;
- ``tensorboard/``            losses, D scores and image grids for TensorBoard.

The epochs themselves run in ``loop.fit``, the course's one training loop.
"""

import contextlib
import json
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch.utils.tensorboard import SummaryWriter

from . import data, models
from .averaging import WeightAverage
from .checkpoints import (CheckpointError, checkpoint_generator, load_checkpoint, read_checkpoint,
                          remove_stale_parts, save_checkpoint)
from .loop import History, fit
from .metrics import balanced_labels, evaluate_conditional, evaluate_generator
from .plotting import image_grid, plot_history, show_images
from .recipes import RECIPES, get_recipe
from .runtime import fast_bfloat16, resolve_device, seed_everything
from .snapshots import Snapshots
from .steps import GAN, sample_noise, train_step, uses_batch_statistics
from .styles import StyleSampler, style_labels, style_sizes


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
    """G, D and their Adam optimisers for ``recipe``, on ``device``, as a ``training.GAN``."""
    generator, discriminator = (network.to(device) for network in recipe.networks())
    if recipe.init is not None:
        generator.apply(recipe.init)
        discriminator.apply(recipe.init)
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


def run_recipe(recipe, out_dir, epochs=None, max_steps=None, max_seconds=None, resume=False, seed=None,
               device=None, limit=None, root=None, progress=True, speed=None, evaluate=True):
    """Train ``recipe``, writing its artefacts into ``out_dir``; return the ``History``.

    ``epochs``: total epochs for the run (default: the recipe's). ``max_steps``
    / ``max_seconds``: stop after this many steps / this much training time in
    this call. ``seed``: default the recipe's.
    ``resume``: continue the checkpoint in ``out_dir``. ``limit``: use only
    the first ``limit`` training images. ``speed``: keyword arguments for
    ``apply_speed_options`` (e.g. ``{"amp": True}``), on top of the recipe's
    own (``speed_options``). ``evaluate``: measure the final generator with
    ``metrics.evaluate_generator`` (28x28 MNIST recipes only), print its
    scores and keep them in ``history.json`` and TensorBoard.
    """
    out_dir = Path(out_dir)
    checkpoint = out_dir / "checkpoint.pt"
    epochs = recipe.epochs if epochs is None else epochs
    if checkpoint.exists() and not resume:
        raise FileExistsError(f"{out_dir} already holds a run ({checkpoint}); pass --resume to "
                              f"continue it, or choose another --out (nothing was overwritten)")
    if resume and not checkpoint.exists():
        raise FileNotFoundError(f"nothing to resume: no checkpoint at {checkpoint}")

    out_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_run(out_dir):
        remove_stale_parts(out_dir)
        return _train(recipe, out_dir, checkpoint, epochs, max_steps, max_seconds, resume, seed, device, limit,
                      root, progress, speed, evaluate)


class RunInProgressError(RuntimeError):
    """Another process is training into the same output folder."""


@contextlib.contextmanager
def exclusive_run(out_dir):
    """Hold ``out_dir/.run.lock`` while training: a second run into the same folder is refused.

    The lock is the operating system's (``fcntl.flock``), so it is released
    when the process ends, however it ends; the file keeps the holder's PID.
    """
    import fcntl

    handle = open(Path(out_dir) / ".run.lock", "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RunInProgressError(f"another training run (process {holder}) is writing to {out_dir}; "
                                     f"wait for it, or choose another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def _train(recipe, out_dir, checkpoint, epochs, max_steps, max_seconds, resume, seed, device, limit, root,
           progress, speed, evaluate):
    """The body of ``run_recipe``, run while its folder is locked."""
    seed = seed_everything(recipe.seed if seed is None else seed)
    device = resolve_device(device)
    gan = apply_speed_options(build_gan(recipe, device), **speed_options(recipe, device, speed))
    images, labels = training_data(recipe, device, limit, root)
    if len(images) < 2 and (uses_batch_statistics(gan.generator) or uses_batch_statistics(gan.discriminator)):
        raise ValueError(f"--limit {limit} leaves {len(images)} training image; recipe {recipe.name} has BatchNorm, "
                         f"which needs batches of at least 2 images: use --limit 2 or more")
    sampler, extra = gan.sampler, {"recipe": recipe.name}
    if recipe.styles_per_digit > 1:  # train on styles (of each digit, or of all images); draw through them
        digits = labels if recipe.conditional else torch.zeros_like(labels)
        started = time.perf_counter()
        labels = style_labels(images, digits, recipe.styles_per_digit, seed=seed)
        sizes = style_sizes(labels, recipe.styles_per_digit, 10 if recipe.conditional else 1)
        found = int((sizes > 0).sum())
        short = "" if found == recipe.n_labels else f" of the {recipe.n_labels} asked for ({len(images):,} training images)"
        print(f"{recipe.name}: k-means found {found} styles{short} in {time.perf_counter() - started:.1f} s "
              f"(before training: not in its time)")
        extra["style_sizes"] = sizes.tolist()
        sampler = StyleSampler(gan.sampler, extra["style_sizes"])
    order = torch.Generator().manual_seed(seed)
    tensors = (images, labels) if recipe.n_labels else (images,)
    batches = data.ShuffledBatches(*tensors, batch_size=min(recipe.batch_size, len(images)), generator=order)
    noise, fixed_labels = fixed_samples(recipe, seed)
    value_range = recipe.pixel_range  # "tanh" or "unit": also the range G's outputs are in
    snapshots = Snapshots(noise.to(device), nrow=recipe.nrow, out_dir=out_dir / "samples", value_range=value_range,
                          labels=None if fixed_labels is None else fixed_labels.to(device))
    history = History()

    start = 0
    if resume:
        start, saved = load_checkpoint(checkpoint, gan, history, generators=(order,))
        if saved.get("recipe") != recipe.name:
            raise CheckpointError(f"{checkpoint} was saved by recipe {saved.get('recipe')!r}, not {recipe.name!r}")
        if saved.get("style_sizes") != extra.get("style_sizes"):
            raise CheckpointError(f"{checkpoint} was trained on other styles than these training images give "
                                  f"(another --limit?); resume with the images it was trained on")
        snapshots.load_state_dict(saved["snapshots"])
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=(5, 5))
        show_images(images[:64], nrow=8, title="real training images", value_range=value_range,
                    path=out_dir / "real_images.png", ax=ax)
        plt.close(fig)  # saved, not shown: a notebook calling this keeps its own figures
        snapshots.take(sampler, 0)

    board = SummaryWriter(str(out_dir / "tensorboard"))
    if start == 0:
        board.add_image("real", image_grid(images[:64], nrow=8, value_range=value_range), 0)
        board.add_image("fixed_noise", snapshots.grids[-1], 0)

    def save(epoch, history):
        save_checkpoint(checkpoint, gan, history, epoch, generators=(order,),
                        extra={**extra, "snapshots": snapshots.state_dict()})

    fit(lambda real, *labels: train_step(gan, real, *labels), batches, epochs, history, first_epoch=start + 1,
        max_steps=max_steps, max_seconds=max_seconds, generator=gan.generator, discriminator=gan.discriminator,
        sampler=sampler, snapshots=snapshots, sample_every=recipe.sample_every, board=board, save=save,
        progress=progress, label=f"{recipe.name} epoch", with_labels=recipe.n_labels is not None,
        schedule=None if recipe.lr_decay_to is None else lambda share: set_lr(gan, falling_lr(recipe, share)))
    scores = None
    if evaluate and recipe.measurable:
        scores = measure(sampler, recipe, root=root)
        print(f"{recipe.name} after {len(history.epochs.get('d_loss', []))} epochs:\n{scores}")
        for key in ("fd", "floor", "covered", "entropy", "precision", "recall", "accuracy"):
            if hasattr(scores, key):
                board.add_scalar(f"quality/{key}", getattr(scores, key), len(history.epochs.get("d_loss", [])))
    board.close()
    write_reports(out_dir, history, snapshots, recipe, scores)
    return history


def load_generator(path, device=None, recipe=None):
    """``(recipe, generator)`` from a training-run checkpoint; G in eval mode on ``device``.

    G's weights are the run's average of them where it kept one (see
    ``checkpoints.checkpoint_generator``).

    ``recipe``: the name the caller expects; a checkpoint saved by another
    recipe raises ``CheckpointError`` saying which one it holds.
    """
    state = read_checkpoint(path)
    saved = state.get("extra", {}).get("recipe")
    if saved not in RECIPES:
        raise CheckpointError(f"{path} names no known recipe ({saved!r}); was it saved by python -m helpers.train?")
    if recipe is not None and get_recipe(recipe).name != saved:
        raise CheckpointError(f"{path} holds a run of recipe {saved!r}, not {recipe!r}")
    chosen = get_recipe(saved)
    return chosen, saved_generator(path, chosen, state).to(resolve_device(device))


def saved_generator(path, recipe, state, average=True):
    """G from checkpoint ``state`` (read from ``path``) of a run of ``recipe``, ready to draw with, in eval mode.

    A run trained on styles (``recipe.styles_per_digit > 1``) kept their sizes
    in the checkpoint: its G comes wrapped in a ``styles.StyleSampler``, so
    ``G(z, digits)`` (or ``G(z)``, for an unconditional recipe) works as for
    any G. A conditional run saved without them holds a G with one label per
    digit: the recipe's, or (from session 5's notebook) session 5's own
    ``models.ConditionalGenerator``, without refining layers. ``average``: as
    for ``checkpoints.checkpoint_generator``.
    """
    sizes = state.get("extra", {}).get("style_sizes")
    n_labels = len(sizes) * len(sizes[0]) if sizes else (10 if recipe.conditional else None)
    labelled = {} if n_labels is None else {"n_classes": n_labels}
    try:
        generator = checkpoint_generator(path, lambda: recipe.build_generator(**labelled), state, average=average)
    except CheckpointError:
        if sizes or not recipe.conditional:
            raise
        # session 5's notebook trains its own G, without the recipe's refining layers
        generator = checkpoint_generator(path, models.ConditionalGenerator, state, average=average)
    return StyleSampler(generator, sizes).eval() if sizes else generator


def trained_generator(recipe, out_dir, steps, device=None, limit=None, root=None):
    """G of a run of ``recipe`` trained for ``steps`` steps in ``out_dir``: loaded if it is there, else trained.

    For scoreboards, which compare short runs and reuse them when run again.
    A run in ``out_dir`` that cannot be used as this recipe (another recipe's,
    or one saved by an older version of the course with other networks) is
    never deleted: its folder is renamed ``<out_dir>-old-<n>``, one line says
    so, and a new run is trained. ``limit``: train on only the first
    ``limit`` images. Returns G in eval mode on ``device`` (the average of its
    weights, where the recipe keeps one).
    """
    checkpoint = Path(out_dir) / "checkpoint.pt"
    if checkpoint.exists():
        try:
            return load_generator(checkpoint, device, recipe.name)[1]
        except CheckpointError as error:
            print(f"{recipe.name}: the run in {out_dir} cannot be used ({error}); it is kept as "
                  f"{set_aside(out_dir)}, and a new one is trained")
    run_recipe(recipe, out_dir, max_steps=steps, device=device, limit=limit, root=root, progress=False,
               evaluate=False)
    return load_generator(checkpoint, device, recipe.name)[1]


def set_aside(folder):
    """Rename ``folder`` to ``<name>-old-<n>``, the first ``n`` not taken; return the new path. Nothing is deleted."""
    folder, n = Path(folder), 1
    while folder.with_name(f"{folder.name}-old-{n}").exists():
        n += 1
    return folder.rename(folder.with_name(f"{folder.name}-old-{n}"))


def measure(generator, recipe, n=None, classifier=None, root=None):
    """The recipe's ``Scores`` for ``generator``: ``evaluate_conditional`` for a conditional recipe.

    ``n``: samples in all (default: the metrics' own; a conditional recipe
    draws ``n // 10`` of each digit). ``classifier``: default the course's.
    """
    if recipe.conditional:
        return evaluate_conditional(generator, recipe.latent_shape, None if n is None else max(n // 10, 1),
                                    classifier=classifier, pixel_range=recipe.pixel_range, root=root)
    return evaluate_generator(generator, recipe.latent_shape, n=n, classifier=classifier,
                              pixel_range=recipe.pixel_range, root=root)


def write_reports(out_dir, history, snapshots, recipe, scores=None):
    """Write ``losses.png``, ``samples.gif`` and ``history.json`` (with ``scores``, if measured) for a run."""
    if history.steps:
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
        plot_history(dict(history.steps), keys=["d_loss", "g_loss"], ax=left, xlabel="step",
                     title=f"{recipe.title}: losses")
        plot_history(dict(history.epochs), keys=["d_real", "d_fake"], ax=right,
                     title="mean D(x) and D(G(z)) per epoch")
        fig.savefig(out_dir / "losses.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
    snapshots.save_gif(out_dir / "samples.gif")
    report = {"recipe": recipe.name, "epochs": dict(history.epochs)}
    if scores is not None:
        report["scores"] = scores.as_dict()
    (out_dir / "history.json").write_text(json.dumps(report))
