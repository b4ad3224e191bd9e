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
  batches sliced by ``data.ShuffledBatches``, ``training.train_step`` (which
  freezes D's weights during G's step) with fused Adam, and a
  ``training.History`` that syncs once per epoch.

Both run the same algorithm (the recipe's: fresh noise for G's step unless
the recipe reuses the D step's fakes) and time only the training steps, after
20 warm-up steps; reading the data files happens before the clock starts. Each
loop runs ``--repeats`` times, alternating, and the medians are compared, so
one slow moment on a busy machine does not decide the result.

Usage::

    python benchmarks/train_throughput.py                    # MLP (R3's networks), batch 64, best device
    python benchmarks/train_throughput.py --model dcgan28    # DCGAN 28x28 (R4's networks), batch 64
    python benchmarks/train_throughput.py --device cpu --steps 400

It reads the MNIST training split from ``$GAN_COURSE_DATA`` (or ``data/``).
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from helpers import data, get_device, recipes, seed_everything, training
from helpers.train import build_gan, use_gpu_fast_path

ARCHITECTURES = {"mlp": "r3", "dcgan28": "r4"}  # benchmark name -> the recipe whose networks it trains
WARMUP = 20  # steps run before the clock starts, in both loops


def synchronize(device):
    """Wait for queued GPU work, so wall-clock times are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def classic_loop(recipe, device, steps, batch_size):
    """The seed-style loop; returns images per second over ``steps`` steps."""
    seed_everything(0)
    G = recipe.build_generator().to(device)
    D = recipe.build_discriminator().to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=recipe.lr, betas=recipe.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=recipe.lr, betas=recipe.betas)
    dataset = data.classic_dataset("mnist", "train", transform=data.classic_transform())
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True)
    bce = F.binary_cross_entropy_with_logits if recipe.logits else F.binary_cross_entropy
    losses = []
    done, start = 0, None
    while done < steps + WARMUP:
        for real, _ in loader:
            if done == WARMUP:  # the first steps warm up allocators and caches
                synchronize(device)
                start = time.perf_counter()
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
            done += 1
            if done == steps + WARMUP:
                break
    synchronize(device)
    return steps * batch_size / (time.perf_counter() - start)


def course_loop(recipe, device, steps, batch_size, fast_path=None):
    """The course's path; returns images per second over ``steps`` steps.

    As for the classic loop, reading the files happens before the clock starts.
    """
    seed_everything(0)
    gan = use_gpu_fast_path(build_gan(recipe, device), **(fast_path or {}))
    images, _ = data.load_to_device("mnist", "train", device=device)
    batches = data.ShuffledBatches(images, batch_size=batch_size, generator=torch.Generator().manual_seed(0))
    history = training.History()
    training.train_epoch(gan, batches, history, max_steps=WARMUP)  # the same warm-up steps
    history = training.History()
    synchronize(device)
    start = time.perf_counter()
    done = 0
    while done < steps:
        done += training.train_epoch(gan, batches, history, max_steps=steps - done)
        history.end_epoch()  # one host sync per epoch
    synchronize(device)
    return steps * batch_size / (time.perf_counter() - start)


def data_only(route, device, steps, batch_size):
    """Images per second of a data route alone, no training: where the classic loop's time goes.

    ``route``: ``"classic"`` (DataLoader + transforms + copy to the device) or
    ``"course"`` (slices of the tensor already on the device).
    """
    if route == "classic":
        dataset = data.classic_dataset("mnist", "train", transform=data.classic_transform())
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True)
    else:
        images, _ = data.load_to_device("mnist", "train", device=device)
        loader = data.ShuffledBatches(images, batch_size=batch_size, generator=torch.Generator().manual_seed(0))
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
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the best available)")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--amp", action="store_true", help="course path: bfloat16 autocast")
    parser.add_argument("--channels-last", action="store_true", help="course path: NHWC layout")
    parser.add_argument("--compile", action="store_true", help="course path: torch.compile")
    args = parser.parse_args(argv)

    device = torch.device(args.device) if args.device else get_device()
    recipe = recipes.get_recipe(ARCHITECTURES[args.model])
    torch_threads = torch.get_num_threads()
    print(f"model {args.model} ({recipe.name} networks), batch {args.batch_size}, {args.steps} steps, "
          f"device {device}, torch threads {torch_threads}, "
          f"course options: {[k for k in ('amp', 'channels_last', 'compile') if getattr(args, k)] or 'none'}")
    fast_path = {"amp": args.amp, "channels_last": args.channels_last, "compile": args.compile}
    classic_runs, course_runs = [], []
    for _ in range(args.repeats):
        classic_runs.append(classic_loop(recipe, device, args.steps, args.batch_size))
        course_runs.append(course_loop(recipe, device, args.steps, args.batch_size, fast_path))
    classic, course = statistics.median(classic_runs), statistics.median(course_runs)
    print(f"classic DataLoader loop : {classic:10,.0f} images/s (median of {args.repeats})")
    print(f"course training path    : {course:10,.0f} images/s (median of {args.repeats})")
    print(f"  data alone, classic   : {data_only('classic', device, args.steps, args.batch_size):10,.0f} images/s")
    print(f"  data alone, course    : {data_only('course', device, args.steps, args.batch_size):10,.0f} images/s")
    print(f"{args.model} {device.type} speed-up (course / classic): {course / classic:.2f}x")


if __name__ == "__main__":
    main()
