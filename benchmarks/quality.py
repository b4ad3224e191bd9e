"""Sample quality on a clock: the course's settings against the reference recipes, on real MNIST.

Each setting (a preset of ``helpers.recipes``) trains through the course's own
training command path (``runs.run_recipe``) on the MNIST training split for the
same wall-clock budget, on the same machine, one after the other; its final
generator is then measured by ``helpers.metrics`` with the full digit
classifier on 10,000 samples. The script prints, per setting and budget:
steps, images seen, training seconds, FD next to its floor, classes covered,
precision and recall; for the conditional recipe (``cgan``) also the
conditional accuracy, the share of samples the classifier reads as the digit
that was asked for.

``--lr`` and ``--betas`` train every setting with another learning rate or
Adam's betas, to compare a choice against the presets'. For a setting that
draws with an average of G's weights, the average is what the table measures;
the lines under it give G's own last weights beside it.

``--plain-generator`` trains the conditional recipe (``cgan``) with session
5's own G, without the refining layers the recipe's G has
(``models.refining_layers``), as the recipe did before. ``--lr-decay-to F``
trains every setting with a learning rate that falls to ``F`` times its own
over the run's second half (1: no fall). ``--amp`` and ``--channels-last``
set those recipe fields for every setting (bfloat16 autocast where the
device computes it fast, and the NHWC layout; ``cgan`` and ``course-styles``
have both already); ``--float32`` trains every setting without bfloat16, as
on a CPU without bfloat16 instructions.

``--styles K`` trains the conditional recipe on ``K`` styles per digit
(``helpers.styles``) instead of its own number (``--styles 1`` is the
conditional GAN with one label per digit, as it was before styles), or
``course-styles`` on ``K`` styles in all (``K`` at least 2).

``--losses`` trains every setting with each of session 6's losses
(``helpers.losses.LOSSES``: ``bce``, the presets' own; ``lsgan``; ``hinge``;
``wgan-gp``, whose critic takes 5 steps per G step; ``bce-sn``, with a
spectrally normalised D), one row each, for settings whose D returns scores.
With ``--paper-adam`` each loss trains with the Adam settings of its own paper
(``losses.Loss.lr`` and ``.betas``: DCGAN's for ``bce``, Miyato et al.'s for
``hinge`` and ``bce-sn``, and so on) instead of the preset's, which were tuned
for BCE: the fair comparison.

``--seeds N`` trains every row N times (the recipe's seed 0 to N-1) and ends
with the mean and the spread (smallest to largest) of each row's numbers: a
difference smaller than the spread is no measurable difference.

``--yardstick`` first prints what small, known changes to real digits cost
in FD (real training digits with a little noise, moved by one pixel, blurred,
with thicker strokes), so the FDs below can be read on a human scale.

``--floors`` first prints why the floor draws its real digits at random:
the FD of real training digits against the test split for each block of the
training file in order and for a few random draws, and of the test split's
two halves against each other, in file order and at random.

A budget on a clock rather than in steps: the settings differ in cost per step
by 50x (R4's batch of 256 through 2.3 M parameters against R3's batch of 64),
and the question a student asks is what a few minutes of CPU buy.

Usage::

    python benchmarks/quality.py                                  # every setting, 60 s and 300 s
    python benchmarks/quality.py --budgets 120 --settings course-mlp r3
    python benchmarks/quality.py --budgets 2 --samples 1000 --settings r3 course-mlp   # a smoke run
    python benchmarks/quality.py --budgets 300 --settings cgan --yardstick
    python benchmarks/quality.py --budgets 1 --settings r3 --floors     # the floor's spread, then a 1 s smoke run
    python benchmarks/quality.py --budgets 300 --settings cgan --betas 0.5 0.999   # the betas cgan had before
    python benchmarks/quality.py --budgets 300 --settings cgan --plain-generator   # session 5's G, as before
    python benchmarks/quality.py --budgets 300 --settings cgan --lr-decay-to 1     # no fall of the learning rate
    python benchmarks/quality.py --budgets 300 --settings cgan --float32           # as on a CPU without bfloat16
    python benchmarks/quality.py --budgets 300 --settings cgan --styles 1   # one label per digit, no styles
    python benchmarks/quality.py --settings course-dcgan --losses bce lsgan hinge wgan-gp bce-sn   # session 6
    python benchmarks/quality.py --budgets 60 --settings course-dcgan --losses bce lsgan hinge wgan-gp bce-sn \
        --paper-adam --seeds 3                      # session 6, fairly: each loss with its paper's Adam, 3 seeds
"""

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from helpers import flags, losses, metrics, models, recipes
from helpers.checkpoints import read_checkpoint
from helpers.data import convert_pixels, load_mnist, load_to_device
from helpers.metrics import evaluate_recipe
from helpers.runs import run_recipe
from helpers.saved_runs import saved_generator

DEFAULT = ["course-mlp", "course-dcgan", "course-styles", "cgan", "r1", "r2", "r3", "r4"]


def train_and_measure(name, seconds, classifier, samples, workdir, device, changes=None):
    """Train setting ``name`` for ``seconds``; return a dict of what it did and how good it is.

    ``changes``: recipe fields to train with instead of the preset's (e.g. ``{"lr": 1e-3}``).
    ``"scores"`` measures what the run draws with (its average of G's weights, if kept);
    ``"own_scores"`` G's own last weights, for a run that keeps an average (else None).
    """
    recipe = dataclasses.replace(recipes.get_recipe(name), **(changes or {}))
    out = Path(workdir) / f"{name}-{recipe.loss}-{seconds}-seed{recipe.seed}"
    start = time.perf_counter()
    history = run_recipe(recipe, out, max_seconds=seconds, epochs=10 ** 6, device=device, progress=False,
                         evaluate=False)
    wall = time.perf_counter() - start
    steps = len(history.steps["d_loss"])
    saved = read_checkpoint(out / "checkpoint.pt")

    def scores(average):
        generator = saved_generator(out / "checkpoint.pt", recipe, saved, average=average)
        return evaluate_recipe(generator.to(device), recipe, n=samples, classifier=classifier)

    return {"setting": name, "loss": recipe.loss, "seed": recipe.seed, "budget": seconds, "steps": steps, "images": steps * recipe.batch_size,
            "seconds": wall, "scores": scores(True),
            "own_scores": None if recipe.average_decay is None else scores(False)}


def _moved_one_pixel(x):
    """Every digit moved one pixel right (the background fills in)."""
    return F.pad(x, (1, 0, 0, 0), value=-1.0)[..., :28]


def _blurred(x):
    """Every digit under a 3x3 binomial blur."""
    kernel = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    return F.conv2d(F.pad(x, (1, 1, 1, 1), value=-1.0), kernel.view(1, 1, 3, 3))


CHANGES = {  # what is done to real digits [N, 1, 28, 28] in [-1, 1]
    "none": lambda x: x,
    "noise, std 0.05": lambda x: (x + 0.05 * torch.randn_like(x)).clamp(-1, 1),
    "noise, std 0.1": lambda x: (x + 0.1 * torch.randn_like(x)).clamp(-1, 1),
    "moved one pixel": _moved_one_pixel,
    "strokes 1 px thicker": lambda x: F.max_pool2d(x, 3, stride=1, padding=1),
    "3x3 blur": _blurred,
}


def yardstick(classifier, samples):
    """``[(change, Scores)]``: real training digits not used by the floor, each change of ``CHANGES`` applied."""
    images, _ = load_mnist("train")
    unused = torch.ones(len(images), dtype=torch.bool)
    unused[metrics.references(classifier, samples).train_indices] = False
    if int(unused.sum()) < samples:
        raise ValueError(f"the yardstick needs {2 * samples:,} training images (the floor uses {samples:,}), "
                         f"the split has {len(images):,}; pass fewer --samples")
    pool = unused.nonzero().flatten()
    pick = pool[metrics.random_subset(len(pool), samples, seed=1)]  # at random: the file is in order of writer
    real = convert_pixels(images[pick], "uint8", "tanh").unsqueeze(1)
    torch.manual_seed(0)
    return [(change, metrics.evaluate_images(make(real), classifier)) for change, make in CHANGES.items()]


def floor_spread(classifier, samples, draws=5):
    """FDs of real digits against real digits: ``[(what, FD)]``, the floor's spread by how digits are picked.

    The training split's consecutive blocks of ``samples`` digits, then
    ``draws`` random draws of ``samples`` (draw 0 is the floor's own), then
    the whole split, against the ``samples`` test digits the floor uses; then
    the test split's first half against its second, and two random halves
    against each other.
    """
    refs = metrics.references(classifier, samples)
    train, _ = load_to_device("mnist", "train", device="cpu")
    test, _ = load_to_device("mnist", "test", device="cpu")
    features = lambda x: metrics.features_and_probabilities(classifier, x)[0]  # noqa: E731
    fd = lambda a, b: metrics.frechet_distance(*metrics.gaussian_statistics(a), *b)  # noqa: E731
    train_features, test_features = features(train), features(test)
    rows = [(f"training digits {start:,}-{start + samples - 1:,}", fd(train_features[start:start + samples],
                                                                      refs.statistics))
            for start in range(0, len(train) - samples + 1, samples)]
    rows += [(f"{samples:,} training digits at random, draw {seed}",
              fd(train_features[metrics.random_subset(len(train), samples, seed)], refs.statistics))
             for seed in range(draws)]
    rows.append((f"all {len(train):,} training digits", fd(train_features, refs.statistics)))
    half = len(test) // 2
    shuffled = metrics.random_subset(len(test), len(test))
    for what, first, second in (("test digits, first half against second", slice(0, half), slice(half, 2 * half)),
                                ("test digits, two random halves", shuffled[:half], shuffled[half:2 * half])):
        rows.append((what, fd(test_features[first], metrics.gaussian_statistics(test_features[second]))))
    return rows


def print_floor_spread(rows):
    """One line per way of picking real digits, and its FD."""
    print(f"{'real digits against real test digits':45} {'FD':>8}")
    for what, fd in rows:
        print(f"{what:45} {fd:8.2f}")
    print()


def print_yardstick(rows):
    """One line per change to real digits: its FD, x floor, precision and recall."""
    print(f"{'real training digits, changed':30} {'FD':>9} {'x floor':>8} {'precision':>9} {'recall':>6}")
    for change, s in rows:
        print(f"{change:30} {s.fd:9.1f} {s.fd / s.floor:8.1f} {s.precision:9.2f} {s.recall:6.2f}")
    print()


def print_table(rows):
    """One line per setting and budget; the floor once per budget."""
    header = (f"{'setting':14} {'loss':8} {'budget':>6} {'steps':>7} {'images':>10} {'wall s':>7} {'FD':>9} {'x floor':>8} "
              f"{'classes':>7} {'precision':>9} {'recall':>6} {'cond acc':>8}")
    print(header)
    print("-" * len(header))
    for row in rows:
        s = row["scores"]
        print(f"{row['setting']:14} {row['loss']:8} {row['budget']:6d} {row['steps']:7,d} {row['images']:10,d} {row['seconds']:7.0f} "
              f"{s.fd:9.1f} {s.fd / s.floor:8.1f} {s.covered:5d}/10 {s.precision:9.2f} {s.recall:6.2f} "
              f"{format(s.accuracy, '8.1%') if hasattr(s, 'accuracy') else '-':>8}")
    if rows:
        s = rows[0]["scores"]
        print(f"floor (real train vs real test) FD {s.floor:.2f}; one real digit repeated FD {s.collapse:.1f}; "
              f"{s.samples:,} samples each; {s.classifier} classifier")
    for row in rows:
        if row["own_scores"] is not None:
            print(f"{row['setting']} ({row['loss']}), {row['budget']} s: FD {row['own_scores'].fd:.1f} for G's own last weights, "
                  f"{row['scores'].fd:.1f} for their average (the table's)")


def print_spread(rows):
    """Per setting, loss and budget trained with several seeds: the mean and the range of each number."""
    groups = {}
    for row in rows:
        groups.setdefault((row["setting"], row["loss"], row["budget"]), []).append(row["scores"])
    groups = {key: runs for key, runs in groups.items() if len(runs) > 1}
    if not groups:
        return
    print(f"\nmean (smallest-largest) over {max(len(runs) for runs in groups.values())} seeds")
    header = (f"{'setting':14} {'loss':8} {'budget':>6} {'FD':>24} {'x floor':>8} {'classes':>15} {'precision':>16} "
              f"{'recall':>16}")
    print(header)
    print("-" * len(header))

    def spread(values, form):
        return f"{format(statistics.fmean(values), form)} ({format(min(values), form)}-{format(max(values), form)})"

    for (setting, loss, budget), runs in groups.items():
        fds = [s.fd for s in runs]
        print(f"{setting:14} {loss:8} {budget:6d} {spread(fds, '.1f'):>24} "
              f"{statistics.fmean(fds) / runs[0].floor:8.1f} {spread([s.covered for s in runs], '.1f'):>15} "
              f"{spread([s.precision for s in runs], '.2f'):>16} {spread([s.recall for s in runs], '.2f'):>16}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", default=DEFAULT, choices=sorted(recipes.RECIPES),
                        help="presets to train (default: the course's three and R1-R4)")
    parser.add_argument("--budgets", nargs="+", type=flags.positive_int, default=[60, 300],
                        help="training seconds (default 60 300)")
    parser.add_argument("--samples", type=flags.whole(metrics.MIN_SAMPLES), default=10000,
                        help="samples per measurement (default 10,000)")
    parser.add_argument("--device", type=flags.device, default="cpu", help="device to train on (default cpu)")
    parser.add_argument("--lr", type=flags.number(above=0), help="train every setting with this learning rate")
    parser.add_argument("--betas", type=flags.number(at_least=0, below=1), action=flags.ExactlyN, count=2,
                        metavar="BETA", help="train every setting with these Adam betas")
    parser.add_argument("--lr-decay-to", type=flags.number(above=0, at_most=1), metavar="F",
                        help="train every setting with lr falling to F times its own over the second half (1: none)")
    parser.add_argument("--plain-generator", action="store_true",
                        help="train cgan with session 5's own G (no refining layers), as the recipe did before")
    parser.add_argument("--styles", type=flags.positive_int, metavar="K",
                        help="train cgan on K styles per digit (helpers.styles; 1: one label per digit, as before), "
                             "or course-styles on K styles in all (K >= 2)")
    parser.add_argument("--amp", action="store_true",
                        help="train every setting with bfloat16 autocast where the device computes it fast")
    parser.add_argument("--float32", action="store_true",
                        help="train every setting in float32, as on a CPU without bfloat16 instructions")
    parser.add_argument("--channels-last", action="store_true",
                        help="train every setting with the NHWC memory layout")
    parser.add_argument("--losses", nargs="+", choices=list(losses.LOSSES),
                        help="train every setting with each of these losses, a row each (default: the presets' own)")
    parser.add_argument("--paper-adam", action="store_true",
                        help="with --losses: each loss trains with its own paper's Adam settings (helpers.losses)")
    parser.add_argument("--seeds", type=flags.positive_int, default=1,
                        help="train every row with seeds 0..N-1 and print each row's mean and spread (default 1)")
    parser.add_argument("--floors", action="store_true",
                        help="first print the FD of real digits against real digits, picked in file order and at random")
    parser.add_argument("--yardstick", action="store_true",
                        help="first print the FD of real digits with small known changes (noise, a shift, a blur)")
    args = parser.parse_args(argv)
    conditional = [name for name in args.settings if recipes.get_recipe(name).conditional]
    if conditional and args.samples < 10 * metrics.MIN_CLASS_SAMPLES:
        parser.error(f"--samples {args.samples} is {args.samples // 10} of each digit for {conditional}, whose FD per "
                     f"digit needs at least {metrics.MIN_CLASS_SAMPLES}: pass --samples {10 * metrics.MIN_CLASS_SAMPLES} "
                     f"or more")
    unmeasurable = [name for name in args.settings if not recipes.get_recipe(name).measurable]
    if unmeasurable:
        parser.error(f"{unmeasurable}: the digit classifier judges 28x28 MNIST only")
    if args.plain_generator and args.settings != ["cgan"]:
        parser.error(f"--plain-generator is a G for the conditional recipe: pass --settings cgan, got {args.settings}")
    if args.losses and any(not recipes.get_recipe(name).logits for name in args.settings):
        parser.error(f"--losses needs settings whose D returns scores (logits); "
                     f"{[n for n in args.settings if not recipes.get_recipe(n).logits]} end in a Sigmoid")
    if args.paper_adam and not args.losses:
        parser.error("--paper-adam gives each loss its paper's Adam settings: pass --losses too")
    if args.paper_adam and (args.lr or args.betas):
        parser.error("--paper-adam sets each loss's own lr and betas: drop --lr and --betas, or --paper-adam")
    if args.float32 and args.amp:
        parser.error("--float32 and --amp contradict each other: pass one")
    if args.styles is not None and not (args.settings == ["cgan"] and args.styles >= 1
                                        or args.settings == ["course-styles"] and args.styles >= 2):
        parser.error(f"--styles K is for one recipe that trains on styles: pass --settings cgan (K >= 1 per digit) "
                     f"or --settings course-styles (K >= 2 in all), got {args.settings} and K={args.styles}")
    changes = {key: value for key, value in (("lr", args.lr), ("betas", args.betas and tuple(args.betas)),
                                             ("lr_decay_to", args.lr_decay_to),
                                             ("amp", True if args.amp else False if args.float32 else None),
                                             ("channels_last", args.channels_last or None)) if value is not None}
    torch.manual_seed(0)
    classifier = metrics.digit_classifier(device=args.device)  # the full one, unless GAN_COURSE_FAST=1
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, {classifier.kind} classifier, test "
          f"accuracy {classifier.test_accuracy:.2%}" + (f"; every setting trains with {changes}" if changes else ""))
    if args.styles is not None:
        print(f"{args.settings[0]} trains on {args.styles} style(s) "
              f"{'per digit' if args.settings == ['cgan'] else 'in all'} (helpers.styles)")
        changes["styles_per_digit"] = args.styles
    if args.plain_generator:
        print("cgan trains with session 5's own G (models.ConditionalGenerator, no refining layers)")
        changes["build_generator"] = models.ConditionalGenerator
    if args.floors:
        print_floor_spread(floor_spread(classifier, args.samples))
    if args.yardstick:
        print_yardstick(yardstick(classifier, args.samples))
    for loss in args.losses if args.paper_adam else []:
        print(f"{loss} trains with {losses.get_loss(loss).paper}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="gan-quality-") as workdir:
        for seconds in args.budgets:
            for name in args.settings:
                for loss in args.losses or [None]:
                    for seed in range(args.seeds):
                        changed = {**changes, **({} if loss is None else {"loss": loss}),
                                   **(paper_adam(loss) if args.paper_adam else {}),
                                   **({"seed": seed} if args.seeds > 1 else {})}
                        rows.append(train_and_measure(name, seconds, classifier, args.samples, workdir, args.device,
                                                      changed))
                        print(f"  {name} ({rows[-1]['loss']}, seed {rows[-1]['seed']}), {seconds} s: "
                              f"FD {rows[-1]['scores'].fd:.1f}", flush=True)
    print()
    print_table(rows)
    print_spread(rows)


def paper_adam(loss):
    """The recipe fields that train with ``loss``'s own paper's Adam settings."""
    chosen = losses.get_loss(loss)
    return {"lr": chosen.lr, "betas": chosen.betas}


if __name__ == "__main__":
    main()
