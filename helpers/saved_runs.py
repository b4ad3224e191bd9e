"""Generators from saved runs: load a checkpoint's G ready to draw with, or train a short run once
and reuse it (session 4's scoreboard, ``python -m helpers.evaluate``, session 5's demo)."""

from pathlib import Path

from . import models
from .budgets import Length
from .checkpoints import CheckpointError, checkpoint_generator, read_checkpoint
from .recipes import RECIPES, get_recipe
from .runs import run_recipe
from .runtime import resolve_device
from .styles import StyleSampler


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


def trained_generator(recipe, out_dir, length, device=None, limit=None, root=None):
    """G of a run of ``recipe`` trained for ``length`` in ``out_dir``: loaded if it is there, else trained.

    ``length``: a number of steps, or a ``budgets.Length`` (steps, seconds or
    epochs, whichever ends first).

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
    length = length if isinstance(length, Length) else Length(steps=length)
    run_recipe(recipe, out_dir, **length.for_recipe(), device=device, limit=limit, root=root, progress=False,
               evaluate=False)
    return load_generator(checkpoint, device, recipe.name)[1]


def set_aside(folder):
    """Rename ``folder`` to ``<name>-old-<n>``, the first ``n`` not taken; return the new path. Nothing is deleted."""
    folder, n = Path(folder), 1
    while folder.with_name(f"{folder.name}-old-{n}").exists():
        n += 1
    return folder.rename(folder.with_name(f"{folder.name}-old-{n}"))
