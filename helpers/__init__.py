"""Helpers for the hands-on GAN course: one package for every notebook.

Modules, each named for what it holds, from the bottom up (each imports only
the ones above it in this list):

- ``helpers.runtime``         device, seeds, fast mode, output folders
- ``helpers.guards``          checks of a helper's arguments, with clear error messages
- ``helpers.flags``           the command lines' flag types: a bad value is refused by argparse, in words
- ``helpers.data``            MNIST / Fashion-MNIST files, the pixel-range converter, batch iterators
- ``helpers.plotting``        image grids and training curves, drawn in a notebook
- ``helpers.static_figures``  ``python -m helpers.static_figures``: regenerates the diagram and the MNIST grid in ``fig/``
- ``helpers.snapshots``       fixed-noise grids across training, as PNGs and an animation
- ``helpers.models``          the reference recipes' networks, layer by layer, and the conditional pair
- ``helpers.losses``          session 6: the game on a grid (optimal D, JSD), LSGAN, hinge, WGAN-GP's penalty,
                              spectral norm, and each loss by name
- ``helpers.game``            session 6's smallest games: a GAN on a line (vanishing gradients), and x * y
- ``helpers.recipes``         the reference recipes as named presets
- ``helpers.averaging``       an average of G's weights over training (EMA), to draw samples with
- ``helpers.styles``          styles of each digit (k-means), the finer labels the conditional recipe trains on
- ``helpers.steps``           noise, the two losses, and one GAN training step
- ``helpers.loop``            the training loop, ``fit``: every epoch of every GAN runs through it
- ``helpers.budgets``         how long each session computes: the smoke, laptop and full budgets
- ``helpers.checkpoints``     saving and resuming a run, atomically
- ``helpers.metrics``         the course-trained digit classifier; FD, class coverage, precision and recall,
                              conditional accuracy
- ``helpers.collapse``        mode collapse on 2-D mixtures of Gaussians, PacGAN's metrics, packing
- ``helpers.hooks``           what a run does besides training (progress, snapshots, TensorBoard, checkpoints)
- ``helpers.build``           building a recipe's run: its GAN and optimisers, speed options, data, fixed noise
- ``helpers.runs``            a recipe's training run on disk (``run_recipe``, ``RecipeRun``), measured at its end
- ``helpers.saved_runs``      generators from saved runs: load one, or train a short run once and reuse it
- ``helpers.train``           ``python -m helpers.train``: the command line over ``runs``
- ``helpers.evaluate``        ``python -m helpers.evaluate``: measure a saved run
- ``helpers.gallery``         ``python -m helpers.gallery``: each session's key figures in the laptop budget, into ``fig/``
- ``helpers.demo``            session 5's interactive demo (ipywidgets): choose the digit, move the noise
- ``helpers.checks``          each session's friendly exercise checks: the fix first, then the evidence
- ``helpers.taught``          which session teaches each course function that answers an exercise, and the
                              lock that keeps it out of that exercise's checks

A helper that solves an exercise says so in its docstring ("taught in session
2, ..."); the session that teaches it never uses it.

The switches every notebook needs are available at the top level.
"""

from .runtime import fast_mode, get_device, output_dir, seed_everything, warnings_to_stdout

__all__ = ["fast_mode", "get_device", "output_dir", "seed_everything", "warnings_to_stdout"]
