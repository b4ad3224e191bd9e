"""How many samples a measurement needs, and what they cost: the numbers behind the metrics' minimums.

    python benchmarks/sample_size.py

1. **The Frechet distance's bias from sample size.** Two sets of ``n``
   samples drawn from one 128-dimensional standard normal (the classifier's
   feature width) are measured against each other with
   ``metrics.gaussian_statistics`` and ``metrics.frechet_distance``. The true
   distance is 0; what comes out is sampling error alone. It is why
   ``gaussian_statistics`` refuses fewer than ``metrics.MIN_FD_SAMPLES`` and
   why every FD the course prints stands next to a floor from as many samples.
2. **Memory per sample.** ``metrics.evaluate_images`` on ``--memory`` small and
   large counts of images, each in a fresh process; the growth of peak
   memory between them, per sample, against ``metrics.BYTES_PER_SAMPLE``
   (what ``check_sample_count`` estimates with).
"""

import argparse
import resource
import subprocess
import sys

import torch

from helpers import flags, metrics

CHILD = """
import torch
from helpers import metrics
classifier = metrics.digit_classifier(verbose=False)
metrics.evaluate_images(torch.rand({n}, 1, 28, 28) * 2 - 1, classifier)
"""


def fd_bias(sizes, draws=3, dims=metrics.FEATURES):
    """``[(n, [FD of each draw])]``: FD between two sets of ``n`` standard-normal samples in ``dims`` dimensions."""
    rows = []
    for n in sizes:
        fds = []
        for seed in range(draws):
            g = torch.Generator().manual_seed(seed)
            a, b = torch.randn(n, dims, generator=g), torch.randn(n, dims, generator=g)
            fds.append(metrics.frechet_distance(*metrics.gaussian_statistics(a, minimum=2),
                                                *metrics.gaussian_statistics(b, minimum=2)))
        rows.append((n, fds))
    return rows


def peak_memory(n):
    """Peak resident memory, in bytes, of a fresh process that measures ``n`` random images."""
    subprocess.run([sys.executable, "-c", CHILD.format(n=n)], check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # the largest child so far, in KiB


def memory_per_sample(small, large):
    """``(peak at small, peak at large, bytes per sample between them)``; run ``small`` first."""
    low, high = peak_memory(small), peak_memory(large)
    return low, high, (high - low) / (large - small)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=flags.whole(2), default=[10, 50, 100, 200, 1000, 5000],
                        help="sample counts for the FD's bias (default 10 50 100 200 1000 5000)")
    parser.add_argument("--draws", type=flags.positive_int, default=3, help="draws of each size (default 3)")
    parser.add_argument("--memory", nargs=2, type=flags.whole(metrics.MIN_SAMPLES), default=[2000, 20000],
                        metavar=("SMALL", "LARGE"), help="image counts for memory per sample (default 2000 20000)")
    args = parser.parse_args(argv)
    small, large = args.memory
    if large <= small:
        parser.error(f"--memory needs SMALL below LARGE, got {small} and {large}")
    print(f"FD between two sets of n samples of one {metrics.FEATURES}-d standard normal (true distance 0)")
    print(f"{'n':>6}  FD of each draw")
    for n, fds in fd_bias(args.sizes, args.draws):
        print(f"{n:6,d}  " + "  ".join(f"{fd:7.1f}" for fd in fds))
    low, high, per_sample = memory_per_sample(small, large)
    print(f"\npeak memory measuring {small:,} images: {low / 2**20:,.0f} MB; {large:,} images: {high / 2**20:,.0f} MB")
    print(f"memory per sample: {per_sample / 1000:.1f} KB (metrics.BYTES_PER_SAMPLE: "
          f"{metrics.BYTES_PER_SAMPLE / 1000:.1f} KB)")


if __name__ == "__main__":
    main()
