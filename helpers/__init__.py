"""Helpers for the hands-on GAN course: one package for every notebook.

Modules, each named for what it holds:

- ``helpers.runtime``      device, seeds, fast mode, output folders
- ``helpers.data``         MNIST / Fashion-MNIST files, pixel ranges, batch iterators
- ``helpers.plotting``     image grids and training curves
- ``helpers.models``       the reference recipes' networks, layer by layer
- ``helpers.training``     losses, one GAN step, one epoch, the training history
- ``helpers.snapshots``    fixed-noise grids across training, as PNGs and an animation
- ``helpers.checkpoints``  saving and resuming a run, atomically
- ``helpers.recipes``      the reference recipes as named presets
- ``helpers.train``        ``python -m helpers.train``: train a recipe headless
- ``helpers.checks``       friendly checks that tell a student what to fix
- ``helpers.validation``   argument checks with clear error messages
- ``helpers.figures``      regenerates the static figures in ``fig/``
- ``helpers.course``       instructor tools: release student notebooks, grade submissions

The three switches every notebook needs are available at the top level.
"""

from .runtime import fast_mode, get_device, output_dir, seed_everything

__all__ = ["fast_mode", "get_device", "output_dir", "seed_everything"]
