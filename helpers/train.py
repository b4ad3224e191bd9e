"""Train a recipe without a notebook: ``python -m helpers.train --recipe r3``.

What a run writes into ``--out`` (default ``runs/<recipe>``):

- ``real_images.png``         a grid of real training images, once;
- ``samples/epoch_XXXX.png``  the fixed-noise grid, every few epochs (per recipe);
- ``samples.gif``             those grids as an animation;
- ``losses.png``              per-step losses and per-epoch mean D scores;
- ``checkpoint.pt``           everything needed to resume (written atomically each epoch);
- ``history.json``            the per-epoch numbers, for other tools;
- ``tensorboard/``            losses, D scores and image grids for TensorBoard
                              (``tensorboard --logdir runs``).

``--resume`` continues the run saved in ``--out``; ``--max-steps`` stops after
that many training steps in all (a smoke run). Ctrl-C stops cleanly: the last
epoch's checkpoint is kept, and ``--resume`` goes on from there.
"""

import argparse
import json
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from . import data
from .checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from .plotting import image_grid, plot_history, show_images
from .recipes import RECIPES, get_recipe
from .runtime import get_device, seed_everything
from .snapshots import Snapshots
from .training import GAN, History, sample_noise, train_epoch


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


def build_gan(recipe, device):
    """G, D and their Adam optimisers for ``recipe``, on ``device``, as a ``training.GAN``."""
    generator = recipe.build_generator().to(device)
    discriminator = recipe.build_discriminator().to(device)
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
    )


def use_gpu_fast_path(gan, amp=False, channels_last=False, compile=False):
    """Opt-in speed-ups for CUDA; each is a separate switch, all off by default.

    - ``amp``: forward passes in bfloat16 under autocast: tensor cores, half the
      memory traffic; no loss scaling needed, unlike float16.
    - ``channels_last``: NHWC layout, which cuDNN's convolution kernels prefer
      (only useful for convolutional models).
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


def training_images(recipe, device, limit=None, root=None):
    """The recipe's training split as one tensor ``[N, 1, S, S]`` on ``device``, in its pixel range."""
    images, _ = data.load_to_device(recipe.dataset, "train", device=device, limit=limit, root=root)
    if recipe.image_size != images.shape[-1]:
        images = torch.nn.functional.interpolate(images, size=recipe.image_size, mode="bilinear",
                                                 align_corners=False).clamp(-1, 1)
    return (images + 1) / 2 if recipe.pixel_range == "unit" else images


def run_recipe(recipe, out_dir, epochs=None, max_steps=None, resume=False, seed=None,
               device=None, limit=None, root=None, progress=True, fast_path=None):
    """Train ``recipe``, writing its artefacts into ``out_dir``; return the ``History``.

    ``epochs``: total epochs for the run (default: the recipe's). ``max_steps``:
    stop after this many steps in this call. ``seed``: default the recipe's.
    ``resume``: continue the
    checkpoint in ``out_dir``. ``limit``: use only the first ``limit``
    training images. ``fast_path``: keyword arguments for ``use_gpu_fast_path``
    (e.g. ``{"amp": True}``).
    """
    out_dir = Path(out_dir)
    checkpoint = out_dir / "checkpoint.pt"
    epochs = recipe.epochs if epochs is None else epochs
    if checkpoint.exists() and not resume:
        raise FileExistsError(f"{out_dir} already holds a run ({checkpoint}); pass --resume to "
                              f"continue it, or choose another --out (nothing was overwritten)")
    if resume and not checkpoint.exists():
        raise FileNotFoundError(f"nothing to resume: no checkpoint at {checkpoint}")

    seed = seed_everything(recipe.seed if seed is None else seed)
    device = torch.device(device) if device else get_device()
    gan = use_gpu_fast_path(build_gan(recipe, device), **(fast_path or {}))
    images = training_images(recipe, device, limit, root)
    order = torch.Generator().manual_seed(seed)
    batches = data.ShuffledBatches(images, batch_size=min(recipe.batch_size, len(images)), generator=order)
    noise = sample_noise(recipe.n_samples, recipe.latent_shape, "cpu", torch.Generator().manual_seed(seed + 1))
    value_range = recipe.pixel_range  # "tanh" or "unit": also the range G's outputs are in
    snapshots = Snapshots(noise.to(device), nrow=recipe.nrow, out_dir=out_dir / "samples", value_range=value_range)
    history = History()

    start = 0
    if resume:
        start, extra = load_checkpoint(checkpoint, gan, history, generators=(order,))
        if extra.get("recipe") != recipe.name:
            raise CheckpointError(f"{checkpoint} was saved by recipe {extra.get('recipe')!r}, not {recipe.name!r}")
        snapshots.load_state_dict(extra["snapshots"])
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=(5, 5))
        show_images(images[:64], nrow=8, title="real training images", value_range=value_range,
                    path=out_dir / "real_images.png", ax=ax)
        plt.close(fig)  # saved, not shown: a notebook calling this keeps its own figures
        snapshots.take(gan.generator, 0)

    board = SummaryWriter(str(out_dir / "tensorboard"))
    if start == 0:
        board.add_image("real", image_grid(images[:64], nrow=8, value_range=value_range), 0)
        board.add_image("fixed_noise", snapshots.grids[-1], 0)
    steps_left = max_steps
    for epoch in range(start + 1, epochs + 1):
        bar = tqdm(total=len(batches) if steps_left is None else min(len(batches), steps_left),
                   desc=f"{recipe.name} epoch {epoch}/{epochs}", leave=False, disable=not progress)
        done = train_epoch(gan, batches, history, max_steps=steps_left, progress=bar)
        bar.close()
        means = history.end_epoch()
        log_epoch(board, history, epoch, done)
        if progress:
            tqdm.write(f"epoch {epoch:4d}  " + "  ".join(f"{k} {v:.3f}" for k, v in means.items()))
        if steps_left is not None:
            steps_left -= done
        last = epoch == epochs or steps_left == 0
        if epoch % recipe.sample_every == 0 or epoch == 1 or last:
            board.add_image("fixed_noise", snapshots.take(gan.generator, epoch), epoch)
        save_checkpoint(checkpoint, gan, history, epoch, generators=(order,),
                        extra={"recipe": recipe.name, "snapshots": snapshots.state_dict()})
        if last:
            break

    board.close()
    write_reports(out_dir, history, snapshots, recipe)
    return history


def log_epoch(board, history, epoch, steps):
    """Send one epoch's numbers to TensorBoard: every step's, and the epoch means.

    Called after ``history.end_epoch()``, so it reads values already on the CPU
    and adds no device sync.
    """
    for key, values in history.steps.items():
        first = len(values) - steps
        for i, value in enumerate(values[first:], start=first):
            board.add_scalar(f"step/{key}", value, i)
    for key, values in history.epochs.items():
        board.add_scalar(f"epoch/{key}", values[-1], epoch)


def write_reports(out_dir, history, snapshots, recipe):
    """Write ``losses.png``, ``samples.gif`` and ``history.json`` for a run."""
    if history.steps:
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
        plot_history(dict(history.steps), keys=["d_loss", "g_loss"], ax=left, xlabel="step",
                     title=f"{recipe.title}: losses")
        plot_history(dict(history.epochs), keys=["d_real", "d_fake"], ax=right,
                     title="mean D(x) and D(G(z)) per epoch")
        fig.savefig(out_dir / "losses.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
    snapshots.save_gif(out_dir / "samples.gif")
    (out_dir / "history.json").write_text(json.dumps({"recipe": recipe.name, "epochs": dict(history.epochs)}))


def positive_int(text):
    """argparse type: an int of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def writable_dir(text):
    """argparse type: a folder that exists or can be created, and can be written to."""
    path = Path(text)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot write to {path}: {error.strerror or error}") from None
    return path


def main(argv=None):
    matplotlib.use("Agg")  # the command line saves its figures; it never opens a window
    parser = argparse.ArgumentParser(prog="python -m helpers.train",
                                     description="Train a reference GAN recipe headless.")
    parser.add_argument("--recipe", required=True, type=str.lower, choices=sorted(RECIPES),
                        help="which preset to train")
    parser.add_argument("--epochs", type=positive_int, default=None, help="total epochs (default: the recipe's)")
    parser.add_argument("--max-steps", type=positive_int, default=None,
                        help="stop after this many training steps (smoke runs)")
    parser.add_argument("--out", type=writable_dir, default=None, help="output folder (default runs/<recipe>)")
    parser.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the recipe's)")
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    parser.add_argument("--limit", type=positive_int, default=None, help="use only the first N training images")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or per-epoch lines")
    parser.add_argument("--amp", action="store_true", help="GPU fast path: bfloat16 autocast")
    parser.add_argument("--channels-last", action="store_true", help="GPU fast path: NHWC memory layout")
    parser.add_argument("--compile", action="store_true", help="GPU fast path: torch.compile both networks")
    args = parser.parse_args(argv)

    recipe = get_recipe(args.recipe)
    out = args.out or writable_dir(f"runs/{recipe.name}")
    try:
        history = run_recipe(recipe, out, epochs=args.epochs, max_steps=args.max_steps, resume=args.resume,
                             seed=args.seed, device=args.device, limit=args.limit, progress=not args.no_progress,
                             fast_path={"amp": args.amp, "channels_last": args.channels_last,
                                        "compile": args.compile})
    except KeyboardInterrupt:
        print(f"\ninterrupted: the last finished epoch is saved in {out / 'checkpoint.pt'}; "
              f"continue with --resume", file=sys.stderr)
        return 130
    except (FileExistsError, FileNotFoundError, CheckpointError, data.DataFileError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    epochs_done = len(next(iter(history.epochs.values()), []))
    print(f"{recipe.title}: {epochs_done} epochs done; outputs in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
