"""Where the code runs and how it is made repeatable.

Three small switches every notebook uses:

- ``get_device()``   pick the fastest device this machine has (``resolve_device``
  turns a name a user typed into a device, or says which ones exist);
- ``seed_everything(seed)``   make a run repeatable;
- ``fast_mode()``   True when ``GAN_COURSE_FAST=1``: the notebook becomes a smoke run.

``fast_bfloat16(device)`` says whether a device computes bfloat16 in
hardware, for the recipes that train in it where it is fast.
"""

import os
import random
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent

_TRUE_WORDS = {"1", "true", "yes", "on"}


def get_device():
    """Return the best available ``torch.device``: cuda, then mps, then cpu."""
    return torch.device(available_devices()[0])


def available_devices():
    """The device names this machine can train on, best first, e.g. ``["cuda", "cpu"]``."""
    names = []
    if torch.cuda.is_available():
        names.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names + ["cpu"]


def resolve_device(device=None):
    """The ``torch.device`` to use: ``device`` if given (a name or a device), else ``get_device()``.

    This is the one place a default device is worked out. A name this machine
    cannot use (``"gpu"``, or ``"cuda"`` without a GPU) raises ``ValueError``
    listing the devices it has.
    """
    if device is None:
        return get_device()
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; this machine has: {', '.join(available_devices())}") from None
    if device.type not in available_devices():
        raise ValueError(f"device {device.type!r} is not available on this machine; "
                         f"it has: {', '.join(available_devices())}")
    return device


def fast_bfloat16(device):
    """True when ``device`` computes in bfloat16 faster than in float32.

    A CUDA GPU with bfloat16 support, or a CPU with Intel's AMX or AVX-512
    BF16 instructions (recent Xeons). Elsewhere (most laptops, Apple's chips)
    bfloat16 is emulated and slower, so a recipe that trains under bfloat16
    autocast (``Recipe.amp``) trains in float32 there instead.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private, so looked up with care
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return False


def available_memory():
    """Bytes of memory this machine can still give a process without swapping (Linux: ``MemAvailable``).

    Elsewhere, the physical memory; None where even that is unknown.
    """
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def seed_everything(seed):
    """Seed Python, NumPy and PyTorch (CPU and every GPU) with ``seed``.

    After this call a CPU run repeats bit for bit. On CUDA, cuDNN is asked
    for deterministic kernels too, which makes GPU runs repeat in practice.
    Returns the seed, so ``seed = seed_everything(0)`` reads naturally.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return seed


def fast_mode():
    """True when the environment variable ``GAN_COURSE_FAST`` is ``1``.

    Fast mode is the one switch that turns a notebook into a smoke run (a small
    subset, a few steps), for CI and autograding. Without it, notebooks train
    for real.
    """
    return os.environ.get("GAN_COURSE_FAST", "0").strip().lower() in _TRUE_WORDS


def output_dir(name):
    """Return (and create) the folder where a notebook or run saves its files.

    ``name`` is a short label such as ``"02_mlp_gan"``. The folder is
    ``outputs/<name>`` under ``GAN_COURSE_OUT`` if set, else under the current
    working directory (the notebook's own folder in Jupyter).
    """
    base = Path(os.environ.get("GAN_COURSE_OUT", "outputs"))
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def warnings_to_stdout():
    """Show Python warnings on standard output instead of standard error, from now on.

    nbgrader gives 0 points to a graded cell that wrote anything to standard
    error, so a harmless warning from a library (a DataLoader asked for more
    workers than there are cores, a deprecated argument) would cost a correct
    answer its points. On standard output the student still sees every
    warning, and the grade depends only on whether the checks pass.
    """
    def show(message, category, filename, lineno, file=None, line=None):
        sys.stdout.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show
