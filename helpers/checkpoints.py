"""Saving and resuming a GAN run, safely.

A checkpoint holds G, D, both optimisers, the average of G's weights where
the run keeps one, the history, the epoch and every random number generator's
state, so a resumed run continues exactly where the saved one stopped (on
the CPU, bit for bit).

Writes are atomic: the checkpoint is written to a temporary file in the same
folder, flushed to disk, then renamed over the old one. A crash or Ctrl-C in
the middle of a save leaves the previous checkpoint untouched. A Ctrl-C that
arrives while a checkpoint is being written waits until the write is finished,
then stops the program as usual: the save is never cut in half.
"""

import contextlib
import errno
import io
import os
import random
import signal
import threading
import zipfile
from pathlib import Path

import numpy as np
import torch

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # the OSError numbers of a full disk, or of a full quota
FORMAT = "gan-course-checkpoint"
VERSION = 1


def why_not_written(error):
    """The reason an ``OSError`` gives for a failed write, in words: "the disk is full" for a full disk or quota."""
    return "the disk is full" if error.errno in DISK_FULL else error.strerror or str(error)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used: damaged, not a checkpoint, or for another model."""


def rng_state(*generators):
    """The state of Python's, NumPy's and torch's RNGs, plus any ``torch.Generator``s given."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generators": [g.get_state() for g in generators],
    }


def set_rng_state(state, *generators):
    """Restore what ``rng_state`` returned (into the same generators, in order)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for g, saved in zip(generators, state["generators"]):
        g.set_state(saved)


def save_checkpoint(path, gan, history, epoch, generators=(), extra=None):
    """Write a checkpoint for ``gan`` (a ``training.GAN``) after ``epoch`` epochs.

    ``generators``: the run's own ``torch.Generator``s (e.g. the batch order's),
    saved with the global RNGs. ``extra``: a dict of anything else to keep
    (the recipe name, the snapshots). Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _check_savable(path, gan)
    state = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": epoch,
        "generator": gan.generator.state_dict(),
        "discriminator": gan.discriminator.state_dict(),
        "opt_g": gan.opt_g.state_dict(),
        "opt_d": gan.opt_d.state_dict(),
        "history": history.state_dict(),
        "rng": rng_state(*generators),
        "extra": extra or {},
    }
    if gan.average is not None:
        state["average"] = gan.average.state_dict()
    with _ctrl_c_after_block():
        payload = io.BytesIO()
        torch.save(state, payload)  # in memory first: a full disk then fails as a plain OSError, not inside torch
        try:
            write_atomically(path, payload.getbuffer())
        except OSError as error:
            size = f"{len(payload.getbuffer()) / 2**20:.1f} MB"
            if error.errno in DISK_FULL:
                raise CheckpointError(f"the disk is full: {path} ({size}) could not be written in {path.parent}; "
                                      f"the previous checkpoint (if any) is intact. Free some space there, then "
                                      f"resume") from None
            raise CheckpointError(f"{path} ({size}) could not be written ({why_not_written(error)}); the "
                                  f"previous checkpoint (if any) is intact") from None
    return path


def write_atomically(path, data):
    """Write the bytes ``data`` to ``path`` so that ``path`` is either the old file or the whole new one.

    The bytes go to ``.<name>.<pid>.part`` beside it, are flushed to disk, and
    the temporary file is renamed over ``path``; a Ctrl-C meanwhile waits for
    the rename. On any error (``OSError``; ``errno.ENOSPC`` when the disk is
    full) the temporary file is removed and ``path`` is as it was.
    """
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with _ctrl_c_after_block():
            with open(partial, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, path)  # atomic: the old file stays until this line
    finally:
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def _ctrl_c_after_block():
    """Hold back a Ctrl-C (SIGINT) until the ``with`` block ends, then deliver it as it would have been.

    With Python's usual handler that is a ``KeyboardInterrupt``; another
    Python handler is called; an ignored Ctrl-C stays ignored (a process
    started in the background by a shell ignores it). Only the main thread
    receives signals, so elsewhere this does nothing.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous in (None, signal.SIG_IGN):
        yield  # not ours to handle: another thread, a handler installed outside Python, or ignored
        return
    pressed = []
    signal.signal(signal.SIGINT, lambda number, frame: pressed.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if not pressed:
        return
    if previous is signal.SIG_DFL:
        os.kill(os.getpid(), signal.SIGINT)  # the default action: the process ends
    elif previous is signal.default_int_handler:
        raise KeyboardInterrupt
    else:
        previous(signal.SIGINT, None)


def _networks(gan):
    """``(what, network)`` for G, D and, if kept, the average of G's weights."""
    networks = [("generator", gan.generator), ("discriminator", gan.discriminator)]
    if gan.average is not None:
        networks.append(("average of the generator's weights", gan.average.network))
    return networks


def _check_savable(path, gan):
    """Raise ``CheckpointError`` before writing anything if ``gan`` holds no data or diverged weights.

    Saving such a GAN would replace a good checkpoint with one that cannot be
    loaded, or one whose weights are NaN: the work it held would be lost.
    """
    for what, model in _networks(gan):
        for name, tensor in model.state_dict().items():
            if tensor.is_meta:
                raise CheckpointError(f"not saved: the {what}'s '{name}' holds no data (meta device); "
                                      f"{path} was left as it was")
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise CheckpointError(f"not saved: the {what}'s '{name}' holds NaN or infinite values (training "
                                      f"diverged); {path} was left as it was")


def remove_stale_parts(folder):
    """Delete ``.<name>.<pid>.part`` files in ``folder`` left by processes that no longer run.

    A process killed in the middle of a save leaves its temporary file behind
    (the real checkpoint is untouched). Returns the paths removed.
    """
    removed = []
    for part in Path(folder).glob(".*.part"):
        pid = part.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)):
            part.unlink(missing_ok=True)
            removed.append(part)
    return removed


def _alive(pid):
    """True if a process with this id is running (or we may not signal it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_checkpoint(path):
    """Load a checkpoint file onto the CPU and check it is one; return its dict."""
    path = Path(path)
    if path.is_dir():
        inside = path / "checkpoint.pt"
        hint = f"its checkpoint is {inside}" if inside.is_file() else "it holds no checkpoint.pt either"
        raise FileNotFoundError(f"expected a checkpoint file, got the folder {path}: {hint}")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path} (expected a checkpoint.pt written by a training run)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as error:
        raise CheckpointError(
            f"{path} cannot be read as a checkpoint ({type(error).__name__}: "
            f"{str(error).splitlines()[0].split('. ')[0][:150]}); the file is truncated or damaged"
        ) from None
    except Exception as error:  # unpickling garbage raises all sorts of things
        raise CheckpointError(f"{path} cannot be read as a checkpoint ({type(error).__name__}); "
                              f"the file is damaged or not a checkpoint") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a torch file but not a GAN course checkpoint")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {state.get('version')}, expected {VERSION}")
    return state


def _check_fits(path, what, model, saved):
    """Raise ``CheckpointError`` naming the first difference between two state dicts."""
    current = model.state_dict()
    missing = sorted(set(current) - set(saved))
    unexpected = sorted(set(saved) - set(current))
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: the {what} in this checkpoint has a different architecture: "
            f"the model has {missing[:3] or 'no extra'} parameters the checkpoint lacks, "
            f"the checkpoint has {unexpected[:3] or 'no extra'} the model lacks"
        )
    for key, tensor in current.items():
        if tuple(saved[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{path}: the {what}'s '{key}' has shape {tuple(saved[key].shape)} in the "
                f"checkpoint but {tuple(tensor.shape)} in the model; was it saved from another recipe?"
            )


ENTRIES = ("epoch", "generator", "discriminator", "opt_g", "opt_d", "history", "rng", "extra")


def _check_complete(path, state, gan, generators):
    """Raise ``CheckpointError`` unless every part of ``state`` can be loaded into ``gan``: nothing is touched first."""
    missing = [key for key in ENTRIES if key not in state]
    if missing:
        raise CheckpointError(f"{path} lacks {missing}; nothing was loaded")
    if any(p.is_meta for p in gan.generator.parameters()) or any(p.is_meta for p in gan.discriminator.parameters()):
        raise CheckpointError(f"cannot load {path} into networks on the meta device (they hold no data); "
                              f"build them on a real device first")
    _check_fits(path, "generator", gan.generator, state["generator"])
    _check_fits(path, "discriminator", gan.discriminator, state["discriminator"])
    if gan.average is not None and "average" in state:
        _check_fits(path, "average of the generator's weights", gan.average.network, state["average"]["network"])
    for key, optimiser in (("opt_g", gan.opt_g), ("opt_d", gan.opt_d)):
        saved = state[key]
        if not isinstance(saved, dict) or "param_groups" not in saved or "state" not in saved:
            raise CheckpointError(f"{path}: its {key} is not an optimiser state; nothing was loaded")
        sizes = [len(g["params"]) for g in saved["param_groups"]]
        if sizes != [len(g["params"]) for g in optimiser.param_groups]:
            raise CheckpointError(f"{path}: its {key} has parameter groups of sizes {sizes}, this optimiser "
                                  f"{[len(g['params']) for g in optimiser.param_groups]}; nothing was loaded")
        kinds = {name for entry in saved["state"].values() for name in entry}
        if kinds and type(optimiser).__name__ == "Adam" and "exp_avg" not in kinds:
            raise CheckpointError(f"{path}: its {key} was saved by another kind of optimiser (it holds "
                                  f"{sorted(kinds)}), not Adam; nothing was loaded")
    rng = state["rng"]
    if not isinstance(rng, dict) or not {"python", "numpy", "torch", "generators"} <= set(rng):
        raise CheckpointError(f"{path}: its random number state is incomplete; nothing was loaded")
    if len(rng["generators"]) < len(generators):
        raise CheckpointError(f"{path} saved {len(rng['generators'])} random generator(s), this run needs "
                              f"{len(generators)}; nothing was loaded")


def load_checkpoint(path, gan, history=None, generators=()):
    """Restore ``gan`` (and ``history``, RNGs, ``generators``) from ``path``.

    Checks every entry first (present, of the right kind, G and D of the
    right shapes, the optimisers of the right kind and size), so nothing is
    ever half-loaded. ``gan.average``, if kept, gets the saved average of G's
    weights (or, from a checkpoint without one, starts again from the saved
    G). Returns ``(epoch, extra)``.
    """
    state = read_checkpoint(path)
    _check_complete(path, state, gan, generators)
    gan.generator.load_state_dict(state["generator"])
    gan.discriminator.load_state_dict(state["discriminator"])
    gan.opt_g.load_state_dict(state["opt_g"])
    gan.opt_d.load_state_dict(state["opt_d"])
    if gan.average is not None:  # a checkpoint saved without one starts the average from the saved G
        gan.average.load_state_dict(state.get("average", {"network": state["generator"], "updates": 0,
                                                          "decay": gan.average.decay}))
    if history is not None:
        history.load_state_dict(state["history"])
    set_rng_state(state["rng"], *generators)
    return state["epoch"], state["extra"]


def checkpoint_generator(path, build_generator, state=None, average=True):
    """The generator saved in the checkpoint at ``path``, in a new network from ``build_generator()``.

    For a checkpoint written by any training run of the course (a notebook's
    or the command line's). Where the run kept an average of G's weights
    (``averaging.WeightAverage``), that average is what you get: it is what
    the run drew its samples with (``average=False``: G's own last weights
    instead). ``state``: the checkpoint, if already read.
    Raises ``FileNotFoundError`` when there is none, ``CheckpointError`` when
    the saved generator has another architecture. Returns the network in eval
    mode, on the CPU.
    """
    state = read_checkpoint(path) if state is None else state
    weights = state["average"]["network"] if average and "average" in state else state["generator"]
    generator = build_generator()
    _check_fits(path, "generator", generator, weights)
    generator.load_state_dict(weights)
    return generator.eval()
