"""Mode collapse, measured: a plain GAN against PacGAN2 and PacGAN4 on PacGAN's two 2-D mixtures.

For each mixture (the ring of 8 and the 5x5 grid, ``helpers.collapse``) and
each packing degree (1: a plain GAN; 2; 4), the script trains the course's
small toy GAN over several seeds (D judges 256 inputs a step: samples, or
packs of m samples, as in PacGAN; 256 units in each of D's hidden layers,
twice session 4's toy GAN's, with which PacGAN4 did not learn the grid), draws 2,500
samples from each (with an average of G's weights, ``--average``), and prints
the mean and standard error of PacGAN's three numbers (modes captured, the
share of high-quality samples, the reverse KL of the mode histogram) beside
the rows of PacGAN's Table 1, with the CPU wall time of a trial.

``--losses`` trains every row with each of session 6's losses
(``helpers.losses.LOSSES``: ``bce``, the course's non-saturating BCE;
``lsgan``; ``hinge``; ``wgan-gp``, whose critic takes 5 steps per G step, so
``--steps`` counts G's steps; ``bce-sn``, BCE with a spectrally normalised D),
and ``--packing`` chooses the rows' packing degrees. ``--lr`` and ``--betas``
set Adam's for G and D (default: the course's toy GAN's, 2e-3 and 0.5/0.999).

A second part shows the other classic failure: G's original, saturating loss
log(1 - D(G(z))) against the non-saturating -log D(G(z)). It trains the same
plain GAN on the ring with each and prints mean D(G(z)) and the norm of G's
gradient over the first steps.

Trials run in parallel processes, one torch thread each (``--workers``, default
the number of cores).

Usage::

    python benchmarks/mode_collapse.py                     # 5 seeds, 30,000 steps a trial, a D of 256 units
    python benchmarks/mode_collapse.py --steps 6000 --average 0 --d-hidden 128   # session 4's toy GAN, shorter
    python benchmarks/mode_collapse.py --seeds 10 --steps 10000
    python benchmarks/mode_collapse.py --steps 15000 --d-hidden 512 --mixtures grid   # a stronger D, the grid only
    python benchmarks/mode_collapse.py --steps 4000 --d-hidden 512 --mixtures grid --packing GAN PacGAN2 \
        --losses bce lsgan hinge wgan-gp bce-sn                            # session 6's losses, side by side
    python benchmarks/mode_collapse.py --steps 4000 --d-hidden 512 --mixtures grid --packing GAN \
        --losses wgan-gp --lr 1e-4 --betas 0 0.9                           # WGAN-GP with its paper's Adam
    python benchmarks/mode_collapse.py --seeds 1 --steps 50 --loss-steps 20   # a smoke run
"""

import argparse
import math
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from helpers import collapse, flags, losses

MIXTURES = {"ring": collapse.ring, "grid": collapse.grid}
PACKING = {"GAN": 1, "PacGAN2": 2, "PacGAN4": 4}


def trial(args):
    """One training run: ``(mixture name, loss, model name, seed, steps, lr, betas, average decay, D's hidden
    units)`` -> (report dict, seconds)."""
    mixture_name, loss, model, seed, steps, lr, betas, average, d_hidden = args
    torch.set_num_threads(1)
    mixture = MIXTURES[mixture_name]()
    start = time.perf_counter()
    G, _ = collapse.train_toy_gan(mixture, m=PACKING[model], steps=steps, seed=seed, lr=lr, batch_size=256,
                                  average_decay=average or None, d_hidden=d_hidden, loss=loss, betas=betas)
    seconds = time.perf_counter() - start
    return collapse.mode_report(collapse.generate_points(G, 2500, seed=seed + 1000), mixture), seconds


def mean_and_error(values):
    """Mean and standard error of a list of numbers (error 0 for one value)."""
    mean = statistics.fmean(values)
    error = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return mean, error


def collapse_table(seeds, steps, lr, workers, average=0.999, d_hidden=256, mixtures=tuple(MIXTURES),
                   loss_names=("bce",), packing=tuple(PACKING), betas=(0.5, 0.999)):
    """Train every (mixture, loss, model, seed); print our table beside the published one (BCE's rows).
    Returns ``{(mixture, loss, model): numbers}``."""
    jobs = [(mixture, loss, model, seed, steps, lr, betas, average, d_hidden)
            for mixture in mixtures for loss in loss_names for model in packing for seed in range(seeds)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(trial, jobs))
    rows = {}
    for (mixture, loss, model, *_), (report, seconds) in zip(jobs, results):
        rows.setdefault((mixture, loss, model), []).append((report, seconds))
    drawn = f"an average of G's weights (decay {average})" if average else "G's last weights"
    print(f"{seeds} seed(s) per row, {steps:,} steps per trial, Adam lr {lr:g} betas {betas[0]:g}/{betas[1]:g}, "
          f"D of {d_hidden} units judging 256 samples or packs a step, "
          f"2,500 samples each from {drawn}; "
          f"mean +- standard error; the paper: 10 trials")
    header = f"{'':9} {'loss':8} {'model':8} {'modes':>12} {'high quality':>13} {'reverse KL':>16} {'s/trial':>8}"
    print(header)
    print("-" * len(header))
    table = {}
    for (mixture, loss, model), runs in rows.items():
        modes = mean_and_error([r["modes"] for r, _ in runs])
        quality = mean_and_error([r["high_quality"] for r, _ in runs])
        kl = mean_and_error([r["reverse_kl"] for r, _ in runs if not math.isnan(r["reverse_kl"])] or [math.nan])
        seconds = statistics.fmean(s for _, s in runs)
        size = len(MIXTURES[mixture]().centres)
        table[(mixture, loss, model)] = {"modes": modes, "high_quality": quality, "reverse_kl": kl,
                                         "seconds": seconds}
        print(f"{mixture:9} {loss:8} {model:8} {modes[0]:5.1f}+-{modes[1]:3.1f}/{size:<2} "
              f"{quality[0]:8.1%}+-{quality[1]:4.1%} {kl[0]:9.2f}+-{kl[1]:4.2f} {seconds:8.1f}")
        if loss == "bce":
            paper = collapse.PUBLISHED[mixture][model]
            print(f"{'  paper':9} {'bce':8} {model:8} {paper[0]:5.1f}+-{paper[1]:3.1f}/{size:<2} {paper[2]:8.1%}{'':6} "
                  f"{paper[3]:9.2f}")
    return table


def loss_comparison(steps, lr, record=(0, 1, 5, 10, 25, 50, 100, 200, 400)):
    """Train a plain GAN on the ring with each G loss; print mean D(G(z)) and G's gradient norm."""
    torch.set_num_threads(1)
    curves = {}
    for name, loss in (("non-saturating -log D(G(z))", None), ("saturating log(1 - D(G(z)))",
                                                                 collapse.saturating_generator_loss)):
        seen = []

        def watch(gan, numbers):
            norm = torch.sqrt(sum((p.grad ** 2).sum() for p in gan.generator.parameters() if p.grad is not None))
            seen.append((numbers["d_fake"].item(), norm.item()))

        collapse.train_toy_gan(collapse.ring(), m=1, steps=steps, lr=lr, seed=0, g_loss_fn=loss, on_step=watch)
        curves[name] = seen
    marks = [s for s in record if s < steps]
    print(f"\nG's loss, first {steps} steps of a plain GAN on the ring: mean D(G(z)) | norm of G's gradient")
    print(f"{'step':>6} " + " ".join(f"{name:>32}" for name in curves))
    for s in marks:
        print(f"{s + 1:6d} " + " ".join(f"{curves[n][s][0]:14.4f} | {curves[n][s][1]:14.4g}" for n in curves))
    return curves


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=flags.positive_int, default=5, help="trials per row (default 5)")
    parser.add_argument("--steps", type=flags.positive_int, default=30000,
                        help="training steps per trial (default 30,000)")
    parser.add_argument("--lr", type=flags.number(above=0), default=2e-3,
                        help="Adam's learning rate for G and D (default 2e-3)")
    parser.add_argument("--betas", type=flags.number(at_least=0, below=1), action=flags.ExactlyN, count=2,
                        default=[0.5, 0.999], metavar="BETA",
                        help="Adam's betas for G and D (default 0.5 0.999, the course's toy GAN's)")
    parser.add_argument("--average", type=flags.number(at_least=0, below=1), default=0.999,
                        help="draw samples with an average of G's weights of this decay (default 0.999; 0: G itself)")
    parser.add_argument("--d-hidden", type=flags.positive_int, default=256,
                        help="units in each hidden layer of D (default 256; session 4's toy GAN has 128)")
    parser.add_argument("--mixtures", nargs="+", choices=list(MIXTURES), default=list(MIXTURES),
                        help="which of PacGAN's mixtures to train on (default: both)")
    parser.add_argument("--losses", nargs="+", choices=list(losses.LOSSES), default=["bce"],
                        help="train every row with each of these losses (default: bce, the course's)")
    parser.add_argument("--packing", nargs="+", choices=list(PACKING), default=list(PACKING),
                        help="which packing degrees to train (default: all three)")
    parser.add_argument("--loss-steps", type=flags.positive_int, default=400,
                        help="steps of the G-loss comparison (default 400)")
    parser.add_argument("--workers", type=flags.positive_int, default=os.cpu_count() or 1,
                        help="parallel trials (default: cores)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print("losses: " + "; ".join(f"{name}: {losses.LOSSES[name].words}" for name in args.losses))
    collapse_table(args.seeds, args.steps, args.lr, args.workers, args.average, args.d_hidden, args.mixtures,
                   args.losses, args.packing, tuple(args.betas))
    loss_comparison(args.loss_steps, args.lr)
    print(f"\ntotal wall time {time.perf_counter() - start:.0f} s with {args.workers} worker(s)")


if __name__ == "__main__":
    main()
