"""Measure a trained run: ``python -m helpers.evaluate --checkpoint runs/r3/checkpoint.pt``.

Loads the generator saved by ``python -m helpers.train`` (the recipe is read
from the checkpoint), draws samples and prints every number of
``helpers.metrics``: the Frechet distance next to its floor and collapse
reference, class coverage, precision and recall; for a conditional recipe
also the conditional accuracy and the FD of each digit.
"""

import argparse
import sys

import matplotlib

from .checkpoints import CheckpointError
from .data import DataFileError, DatasetNotFoundError
from . import flags
from .metrics import MIN_SAMPLES
from .recipes import RECIPES
from .metrics import evaluate_recipe
from .saved_runs import load_generator


def main(argv=None):
    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(prog="python -m helpers.evaluate",
                                     description="Measure a trained GAN: FD, coverage, precision and recall.")
    parser.add_argument("--checkpoint", required=True, help="a checkpoint.pt written by python -m helpers.train")
    parser.add_argument("--recipe", default=None, type=str.lower, choices=sorted(RECIPES),
                        help="refuse the checkpoint unless it is of this recipe")
    parser.add_argument("--samples", type=flags.whole(MIN_SAMPLES), default=None,
                        help=f"how many samples, at least {MIN_SAMPLES} (default 10,000; 1,000 in fast mode)")
    parser.add_argument("--device", type=flags.device, default=None,
                        help="cuda, mps or cpu (default: the best available)")
    args = parser.parse_args(argv)
    try:
        recipe, generator = load_generator(args.checkpoint, args.device, args.recipe)
        if not recipe.measurable:
            raise ValueError(f"recipe {recipe.name} makes {recipe.image_size}x{recipe.image_size} {recipe.dataset} "
                             f"images; the course's classifier judges 28x28 MNIST digits only")
        scores = evaluate_recipe(generator, recipe, n=args.samples)
    except (FileNotFoundError, CheckpointError, DataFileError, DatasetNotFoundError, ValueError, MemoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{recipe.title}, {args.checkpoint}:")
    print(scores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
