"""Train a recipe without a notebook: ``python -m helpers.train --recipe r3``.

A thin command line over ``runs.run_recipe``, which says what a run writes.
``--resume`` continues the run saved in ``--out``; ``--max-steps`` stops after
that many training steps in all (a smoke run). Ctrl-C stops cleanly: the last
finished epoch's checkpoint is kept, and ``--resume`` goes on from there.
"""

import argparse
import sys

import matplotlib

from .checkpoints import CheckpointError, read_checkpoint, why_not_written
from . import flags
from .data import DataFileError, DatasetNotFoundError
from .recipes import RECIPES, get_recipe
from .runs import RunInProgressError, run_recipe


def interrupted(checkpoint):
    """What Ctrl-C left behind, in one true sentence."""
    try:
        epoch = read_checkpoint(checkpoint)["epoch"]
    except (FileNotFoundError, CheckpointError):
        return f"interrupted before the first epoch finished: nothing was saved in {checkpoint.parent}"
    return f"interrupted: epoch {epoch} is saved in {checkpoint}; continue with --resume"


def parse_args(argv=None):
    """The command line's options, checked."""
    parser = argparse.ArgumentParser(prog="python -m helpers.train", description="Train a reference GAN recipe headless.")
    parser.add_argument("--recipe", required=True, type=str.lower, choices=sorted(RECIPES),
                        help="which preset to train")
    parser.add_argument("--epochs", type=flags.positive_int, default=None, help="total epochs (default: the recipe's)")
    parser.add_argument("--max-steps", type=flags.positive_int, default=None,
                        help="stop after this many training steps (smoke runs)")
    parser.add_argument("--out", type=flags.writable_dir, default=None, help="output folder (default runs/<recipe>)")
    parser.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    parser.add_argument("--seed", type=flags.whole(0), default=None, help="random seed (default: the recipe's)")
    parser.add_argument("--device", type=flags.device, default=None,
                        help="cuda, mps or cpu (default: the best available)")
    parser.add_argument("--limit", type=flags.positive_int, default=None, help="use only the first N training images")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or per-epoch lines")
    parser.add_argument("--no-eval", action="store_true", help="skip measuring the final generator (FD, coverage)")
    parser.add_argument("--amp", action="store_true",
                        help="speed option: bfloat16 autocast (cgan and course-styles use it where it is fast)")
    parser.add_argument("--channels-last", action="store_true",
                        help="speed option: NHWC memory layout (cgan and course-styles use it)")
    parser.add_argument("--compile", action="store_true", help="speed option: torch.compile both networks")
    args = parser.parse_args(argv)
    if args.out is None:  # the default folder, checked as a given --out would be
        try:
            args.out = flags.writable_dir(f"runs/{get_recipe(args.recipe).name}")
        except argparse.ArgumentTypeError as error:
            parser.error(f"argument --out (default runs/{args.recipe}): {error}")
    return args


def main(argv=None):
    matplotlib.use("Agg")  # the command line saves its figures; it never opens a window
    args = parse_args(argv)
    recipe = get_recipe(args.recipe)
    out = args.out
    speed = {"amp": args.amp, "channels_last": args.channels_last, "compile": args.compile}
    try:
        history = run_recipe(recipe, out, epochs=args.epochs, max_steps=args.max_steps, resume=args.resume,
                             seed=args.seed, device=args.device, limit=args.limit, progress=not args.no_progress,
                             speed=speed, evaluate=not args.no_eval)
    except KeyboardInterrupt:
        print(f"\n{interrupted(out / 'checkpoint.pt')}", file=sys.stderr)
        return 130
    except (FileExistsError, FileNotFoundError, CheckpointError, DataFileError, DatasetNotFoundError,
            RunInProgressError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # e.g. a full disk while writing the lock, a figure or the TensorBoard log
        where = error.filename or out
        print(f"error: could not write {where} ({why_not_written(error)}); the run's last checkpoint, if any, "
              f"is intact: free some space, then resume with --resume", file=sys.stderr)
        return 1
    epochs_done = len(next(iter(history.epochs.values()), []))
    print(f"{recipe.title}: {epochs_done} epochs done; outputs in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
