"""Training throughput: the classic seed-style loop against the course's training path.

Both train the same GAN, with the same batch size, for the same number of
steps, in this one process, and the script prints images per second for each
and their ratio (course / classic) on the last line. Two lines before it time
each data route alone (no training): how much of the classic loop's time goes
into just getting batches.

- classic: torchvision's ``MNIST`` dataset with ``ToTensor`` + ``Normalize``
  transforms, a shuffling ``DataLoader``, and ``.item()`` on the losses every
  step (the way most tutorials log);
- course: the whole split as one tensor on the device (``data.load_to_device``),
  batches sliced by ``data.ShuffledBatches``, ``steps.train_step`` (one D
  pass over real and fake together when D has no BatchNorm, D's weights frozen
  during G's step) with fused Adam, run by the course's one training loop,
  ``loop.fit``, which copies the numbers to the CPU once per epoch.

Both run the same algorithm (the recipe's: fresh noise for G's step unless
the recipe reuses the D step's fakes). Reading the data files and the warm-up
steps (``--warmup``, 20) happen before any clock starts. The two loops then
take turns: a chunk of ``--steps / --rounds`` steps of one, then of the other,
and so on. On a shared machine, whose speed drifts from second to second, both
loops see the same slow and fast moments, so their ratio stays steadier than
the absolute numbers. The script prints the images per second of each loop
over all its chunks, the spread of the per-round ratios, and the overall ratio
last. On a CPU it also prints how much faster a matrix product ran on all
threads than on one, probed before each round: on a shared virtual machine the
host sometimes takes a core away, which slows the (multi-threaded,
compute-bound) course path far more than the (single-threaded, Python-bound)
classic loop. The line shows when that happened (not every slow phase of such
a machine is of that kind).

Usage::

    python benchmarks/train_throughput.py                    # MLP (R3's networks), batch 64, best device
    python benchmarks/train_throughput.py --model dcgan28    # DCGAN 28x28 (R4's networks), batch 64
    python benchmarks/train_throughput.py --device cpu --steps 1000 --rounds 20
    python benchmarks/train_throughput.py --device cpu --profile   # where the course path's time goes

It reads the MNIST training split from ``$GAN_COURSE_DATA`` (or ``data/``).
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from helpers import data, flags, hooks, loop, recipes, seed_everything
from helpers.build import apply_speed_options, build_gan
from helpers.runtime import resolve_device
from helpers.steps import train_step

ARCHITECTURES = {"mlp": "r3", "dcgan28": "r4"}  # benchmark name -> the recipe whose networks it trains
WARMUP = 20  # steps run before the clock starts, in both loops


def synchronize(device):
    """Wait for queued GPU work, so wall-clock times are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def classic_loader(batch_size):
    """The classic data route: torchvision's MNIST, ToTensor + Normalize, a shuffling DataLoader."""
    dataset = data.classic_dataset("mnist", "train", transform=data.classic_transform())
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True)


def course_batches(device, batch_size):
    """The course's data route: the split as one tensor on ``device``, sliced in shuffled batches."""
    images, _ = data.load_to_device("mnist", "train", device=device)
    return data.ShuffledBatches(images, batch_size=batch_size, generator=torch.Generator().manual_seed(0))


def classic_steps(recipe, device, batch_size):
    """The seed-style loop as a generator: each ``next()`` runs one training step."""
    seed_everything(0)
    G = recipe.build_generator().to(device)
    D = recipe.build_discriminator().to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=recipe.lr, betas=recipe.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=recipe.lr, betas=recipe.betas)
    loader = classic_loader(batch_size)
    bce = F.binary_cross_entropy_with_logits if recipe.logits else F.binary_cross_entropy
    losses = []
    while True:
        for real, _ in loader:
            real = real.to(device)
            real_labels = torch.full((real.size(0), 1), recipe.real_target, device=device)
            fake_labels = torch.full((real.size(0), 1), recipe.fake_target, device=device)
            fake = G(torch.randn(real.size(0), *recipe.latent_shape, device=device))
            d_loss = bce(D(real), real_labels) + bce(D(fake.detach()), fake_labels)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            if not recipe.reuse_fake:  # the same algorithm as the course's step
                fake = G(torch.randn(real.size(0), *recipe.latent_shape, device=device))
            g_loss = bce(D(fake), torch.full_like(real_labels, recipe.g_target))
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            losses.append((d_loss.item(), g_loss.item()))  # a host sync every step
            yield


def time_classic(steps, n):
    """Seconds that ``n`` steps of a ``classic_steps`` generator take."""
    start = time.perf_counter()
    for _ in range(n):
        next(steps)
    return time.perf_counter() - start


class CoursePath:
    """The course's path: ``loop.fit`` running ``steps.train_step`` over shuffled slices of the on-device split."""

    def __init__(self, recipe, device, batch_size, speed=None):
        seed_everything(0)
        self.gan = apply_speed_options(build_gan(recipe, device), **(speed or {}))
        self.batches = course_batches(device, batch_size)
        self.history = loop.History()

    def time(self, n):
        """Seconds that ``n`` training steps take, ending with the once-per-epoch sync."""
        start = time.perf_counter()
        loop.fit(lambda real: train_step(self.gan, real), self.batches, loop.Budget(n, steps=n), self.history,
                 [hooks.TrainMode(self.gan.generator, self.gan.discriminator)])
        return time.perf_counter() - start


def thread_speedup(repeats=20):
    """How many times faster a CPU matrix product runs on all torch threads than on one.

    With N free cores this is close to N. On a shared virtual machine whose
    host is busy it drops towards 1 for a while, and every multi-threaded
    computation (the course path's, on a CPU) slows down with it, while the
    classic loop's single-threaded Python hardly notices.
    """
    a, b = torch.randn(128, 784), torch.randn(784, 256)
    threads = torch.get_num_threads()
    seconds = {}
    for n in (1, threads):
        torch.set_num_threads(n)
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        seconds[n] = time.perf_counter() - start
    torch.set_num_threads(threads)
    return seconds[1] / seconds[threads]


def compare(recipe, device, steps, rounds, batch_size, speed=None, warmup=WARMUP):
    """Run both loops in turns, ``rounds`` chunks each.

    Returns ``(chunk, pairs, speedups)``: the steps per chunk, one
    ``(classic_seconds, course_seconds)`` pair per round, and (on a CPU) the
    ``thread_speedup`` measured before each round.
    """
    classic = classic_steps(recipe, device, batch_size)
    course = CoursePath(recipe, device, batch_size, speed)
    time_classic(classic, warmup)  # warm-up: allocators, caches, compilation
    course.time(warmup)
    chunk = steps // rounds
    pairs, speedups = [], []
    for _ in range(rounds):
        if device.type == "cpu":
            speedups.append(thread_speedup())
        synchronize(device)
        classic_seconds = time_classic(classic, chunk)
        synchronize(device)
        start = time.perf_counter()
        course.time(chunk)
        synchronize(device)
        pairs.append((classic_seconds, time.perf_counter() - start))
    return chunk, pairs, speedups


def profile_course(recipe, device, batch_size, speed=None, steps=100, warmup=WARMUP):
    """Print where the course path's time goes: ``torch.profiler``'s table of its top operations."""
    from torch.profiler import ProfilerActivity, profile

    course = CoursePath(recipe, device, batch_size, speed)
    course.time(warmup)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        course.time(steps)
    sort_by = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=sort_by, row_limit=12, max_name_column_width=40))


def data_only(route, device, steps, batch_size):
    """Images per second of a data route alone, no training: where the classic loop's time goes.

    ``route``: ``"classic"`` (DataLoader + transforms + copy to the device) or
    ``"course"`` (slices of the tensor already on the device).
    """
    loader = classic_loader(batch_size) if route == "classic" else course_batches(device, batch_size)
    steps = min(steps, len(loader) - 1)  # stay within one epoch
    batches = iter(loader)
    next(batches)  # warm-up
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        next(batches)
    synchronize(device)
    return steps * batch_size / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(ARCHITECTURES), default="mlp")
    parser.add_argument("--device", type=flags.device, default=None, help="cpu or cuda (default: the best available)")
    parser.add_argument("--steps", type=flags.positive_int, default=500)
    parser.add_argument("--batch-size", type=flags.positive_int, default=64)
    parser.add_argument("--rounds", type=flags.positive_int, default=10,
                        help="chunks each loop runs, taking turns (default 10)")
    parser.add_argument("--warmup", type=flags.whole(0), default=WARMUP,
                        help="untimed steps first (default %(default)s)")
    parser.add_argument("--profile", action="store_true",
                        help="print a profile of 100 course-path steps instead of the comparison")
    parser.add_argument("--amp", action="store_true", help="course path: bfloat16 autocast")
    parser.add_argument("--channels-last", action="store_true", help="course path: NHWC layout")
    parser.add_argument("--compile", action="store_true", help="course path: torch.compile")
    parser.add_argument("--json", default=None, help="also write the unrounded numbers to this JSON file")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= args.steps:
        parser.error(f"--rounds must be between 1 and --steps ({args.steps}), got {args.rounds}")
    if args.steps % args.rounds:
        parser.error(f"--steps ({args.steps}) must be a multiple of --rounds ({args.rounds}), "
                     f"so that every round runs the same number of steps")

    device = resolve_device(args.device)  # --device was checked by argparse (flags.device)
    recipe = recipes.get_recipe(ARCHITECTURES[args.model])
    torch_threads = torch.get_num_threads()
    print(f"model {args.model} ({recipe.name} networks), batch {args.batch_size}, {args.steps} steps, "
          f"device {device}, torch threads {torch_threads}, "
          f"course options: {[k for k in ('amp', 'channels_last', 'compile') if getattr(args, k)] or 'none'}")
    speed = {"amp": args.amp, "channels_last": args.channels_last, "compile": args.compile}
    if args.profile:
        profile_course(recipe, device, args.batch_size, speed, warmup=args.warmup)
        return
    chunk, pairs, speedups = compare(recipe, device, args.steps, args.rounds, args.batch_size, speed, args.warmup)
    images = chunk * args.batch_size * len(pairs)
    classic = images / sum(c for c, _ in pairs)
    course = images / sum(k for _, k in pairs)
    ratios = sorted(c / k for c, k in pairs)
    course_rounds = sorted(chunk * args.batch_size / k for _, k in pairs)
    print(f"classic DataLoader loop : {classic:10,.0f} images/s ({len(pairs)} rounds of {chunk} steps)")
    print(f"course training path    : {course:10,.0f} images/s ({len(pairs)} rounds of {chunk} steps)")
    print(f"  per-round ratios      : min {ratios[0]:.2f}x, median {statistics.median(ratios):.2f}x, "
          f"max {ratios[-1]:.2f}x")
    print(f"  course, per round     : {course_rounds[0]:,.0f} to {course_rounds[-1]:,.0f} images/s")
    if speedups:
        speedups.sort()
        print(f"  CPU threads at work   : a matrix product ran {speedups[0]:.2f}x to {speedups[-1]:.2f}x "
              f"(median {statistics.median(speedups):.2f}x) faster on {torch_threads} threads than on 1 "
              f"({torch_threads}x: every core free)")
    print(f"  data alone, classic   : {data_only('classic', device, args.steps, args.batch_size):10,.0f} images/s")
    print(f"  data alone, course    : {data_only('course', device, args.steps, args.batch_size):10,.0f} images/s")
    print(f"{args.model} {device.type} speed-up (course / classic): {course / classic:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"classic_images_per_s": classic, "course_images_per_s": course,
                                               "ratio": course / classic, "round_ratios": ratios}))


if __name__ == "__main__":
    main()
