"""A recipe's training run on disk: build it, train it, write what it made.

``run_recipe(recipe, out_dir)`` is what ``python -m helpers.train`` runs, and
what notebooks call to train a preset. It holds the folder's lock, then a
``RecipeRun`` does the work in three moves, each one method:

- ``RecipeRun(...)`` builds the run's parts in one call (``build.build_run``:
  G, D, Adam, the data, the fixed noise) and starts it, or resumes the one in
  the folder;
- ``train(budget)`` runs ``loop.fit`` with ``steps.train_step`` as the step
  and the run's hooks (``helpers.hooks``): progress, training mode, the
  learning-rate schedule, TensorBoard, the fixed-noise grid, the checkpoint;
- ``finish()`` measures the final G and writes the reports.

Everything a run writes goes into its ``out_dir``:

- ``real_images.png``         a grid of real training images, once;
- ``samples/epoch_XXXX.png``  the fixed-noise grid, every few epochs (per recipe; one row per digit
                              for a conditional recipe);
- ``samples.gif``             those grids as an animation;
- ``losses.png``              per-step losses and per-epoch mean D scores;
- ``checkpoint.pt``           everything needed to resume (written atomically each epoch);
- ``history.json``            the per-epoch numbers and the final scores, for other tools;
- ``tensorboard/``            losses, D scores and image grids for TensorBoard.

Loading a saved run's G is ``helpers.saved_runs``.
"""

import contextlib
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
from torch.utils.tensorboard import SummaryWriter

from . import hooks
from .build import build_run, falling_lr, set_lr
from .checkpoints import CheckpointError, load_checkpoint, remove_stale_parts, save_checkpoint
from .loop import Budget, History, fit
from .losses import get_loss
from .metrics import evaluate_recipe
from .plotting import image_grid, plot_history, show_images
from .runtime import seed_everything
from .steps import train_step


def run_recipe(recipe, out_dir, epochs=None, max_steps=None, max_seconds=None, resume=False, seed=None,
               device=None, limit=None, root=None, progress=True, speed=None, evaluate=True):
    """Train ``recipe``, writing its artefacts into ``out_dir``; return the ``History``.

    ``epochs``: total epochs for the run (default: the recipe's). ``max_steps``
    / ``max_seconds``: stop after this many steps / this much training time in
    this call. ``seed``: default the recipe's.
    ``resume``: continue the checkpoint in ``out_dir``. ``limit``: use only
    the first ``limit`` training images. ``speed``: keyword arguments for
    ``build.apply_speed_options`` (e.g. ``{"amp": True}``), on top of the
    recipe's own (``build.speed_options``). ``evaluate``: measure the final
    generator (28x28 MNIST recipes only), print its scores and keep them in
    ``history.json`` and TensorBoard.
    """
    out_dir = Path(out_dir)
    checkpoint = out_dir / "checkpoint.pt"
    if checkpoint.exists() and not resume:
        raise FileExistsError(f"{out_dir} already holds a run ({checkpoint}); pass --resume to "
                              f"continue it, or choose another --out (nothing was overwritten)")
    if resume and not checkpoint.exists():
        raise FileNotFoundError(f"nothing to resume: no checkpoint at {checkpoint}")
    critic_steps = get_loss(recipe.loss).n_critic
    if max_steps is not None and max_steps < critic_steps:
        raise ValueError(f"recipe {recipe.name} takes {critic_steps} D steps per G step ({recipe.loss} loss), so "
                         f"{max_steps} steps would never step G: give --max-steps at least {critic_steps}")

    out_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_run(out_dir):
        remove_stale_parts(out_dir)
        run = RecipeRun(recipe, out_dir, resume=resume, seed=seed, device=device, limit=limit, root=root,
                        speed=speed)
        history = run.train(Budget(recipe.epochs if epochs is None else epochs, max_steps, max_seconds,
                                   first_epoch=run.start + 1), progress)
        run.finish(evaluate)
        return history


class RecipeRun:
    """One run of ``recipe`` in ``out_dir``, built (``build.build_run``) or resumed; ``train`` it, then
    ``finish`` it. ``parts``: what it trains with (a ``build.RunParts``); ``history``; ``start``: the
    epochs already trained."""

    def __init__(self, recipe, out_dir, resume=False, seed=None, device=None, limit=None, root=None, speed=None):
        self.recipe, self.out_dir, self.root = recipe, Path(out_dir), root
        self.checkpoint = self.out_dir / "checkpoint.pt"
        seed = seed_everything(recipe.seed if seed is None else seed)
        self.parts = build_run(recipe, seed, self.out_dir / "samples", device, limit, root, speed)
        self.history = History()
        self.start = self._resume() if resume else self._begin()

    def _resume(self):
        """Load the folder's checkpoint into this run; return the epochs it had trained."""
        parts = self.parts
        start, saved = load_checkpoint(self.checkpoint, parts.gan, self.history, generators=(parts.order,))
        if saved.get("recipe") != self.recipe.name:
            raise CheckpointError(f"{self.checkpoint} was saved by recipe {saved.get('recipe')!r}, "
                                  f"not {self.recipe.name!r}")
        if saved.get("style_sizes") != parts.extra.get("style_sizes"):
            raise CheckpointError(f"{self.checkpoint} was trained on other styles than these training images give "
                                  f"(another --limit?); resume with the images it was trained on")
        parts.snapshots.load_state_dict(saved["snapshots"])
        return start

    def _begin(self):
        """A new run: a grid of real images and the untrained G's samples. Returns 0 epochs trained."""
        parts, value_range = self.parts, self.recipe.pixel_range
        fig, ax = plt.subplots(figsize=(5, 5))
        show_images(parts.images[:64], nrow=8, title="real training images", value_range=value_range,
                    path=self.out_dir / "real_images.png", ax=ax)
        plt.close(fig)  # saved, not shown: a notebook calling this keeps its own figures
        parts.snapshots.take(parts.sampler, 0)
        with SummaryWriter(str(self.out_dir / "tensorboard")) as board:
            board.add_image("real", image_grid(parts.images[:64], nrow=8, value_range=value_range), 0)
            board.add_image("fixed_noise", parts.snapshots.grids[-1], 0)
        return 0

    def step(self, real, *labels):
        """One training step of the run: ``steps.train_step``, D then G."""
        return train_step(self.parts.gan, real, *labels)

    def save(self, epoch, history):
        """The run's checkpoint after ``epoch``, with its sample grids and what it was trained on."""
        parts = self.parts
        save_checkpoint(self.checkpoint, parts.gan, history, epoch, generators=(parts.order,),
                        extra={**parts.extra, "snapshots": parts.snapshots.state_dict()})

    def train(self, budget, progress=True):
        """Train within ``budget`` (a ``loop.Budget``); return the ``History``."""
        recipe, parts, gan = self.recipe, self.parts, self.parts.gan
        with SummaryWriter(str(self.out_dir / "tensorboard")) as board:
            run_hooks = [hooks.TrainMode(gan.generator, gan.discriminator), hooks.Board(board),
                         hooks.Snapshot(parts.snapshots, parts.sampler, recipe.sample_every, board),
                         hooks.AfterEpoch(self.save)]
            if recipe.lr_decay_to is not None:
                run_hooks.insert(0, hooks.Schedule(lambda share: set_lr(gan, falling_lr(recipe, share))))
            if progress:
                run_hooks.insert(0, hooks.Progress(f"{recipe.name} epoch"))
            return fit(self.step, parts.batches, budget, self.history, run_hooks)

    def finish(self, evaluate=True):
        """Measure the final G (where the recipe is measurable and ``evaluate``), then write the reports.
        Returns the ``Scores``, or None."""
        recipe, epochs = self.recipe, len(self.history.epochs.get("d_loss", []))
        scores = None
        if evaluate and recipe.measurable:
            scores = evaluate_recipe(self.parts.sampler, recipe, root=self.root)
            print(f"{recipe.name} after {epochs} epochs:\n{scores}")
            with SummaryWriter(str(self.out_dir / "tensorboard")) as board:
                for key in ("fd", "floor", "covered", "entropy", "precision", "recall", "accuracy"):
                    if hasattr(scores, key):
                        board.add_scalar(f"quality/{key}", getattr(scores, key), epochs)
        write_reports(self.out_dir, self.history, self.parts.snapshots, recipe, scores)
        return scores


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
