"""The training loop: every GAN in the course trains through ``fit``.

``fit`` is the whole loop, top to bottom, in one place: for each epoch, one
training step per batch with a progress bar, one copy of the epoch's numbers
to the CPU, a printed line, TensorBoard scalars, a fixed-noise snapshot and a
checkpoint. What a step *does* is up to its caller, who passes it in as a
function, so each session trains exactly what its student wrote:

- session 2 passes a step built from the student's ``discriminator_step`` and
  ``generator_step``;
- session 3 passes ``steps.train_step`` with the student's own loss;
- session 5 passes a step built from the student's conditional steps, which
  also get each batch's labels;
- ``python -m helpers.train`` and the throughput benchmark pass
  ``steps.train_step`` for a recipe.

``History`` keeps the numbers: per step on the device while the epoch runs,
then per step and per epoch on the CPU, after one transfer.
"""

import time
from collections import defaultdict

import torch
from tqdm.auto import tqdm

from .guards import describe, require_number, require_whole


def fit(step, batches, epochs, history=None, *, first_epoch=1, max_steps=None, max_seconds=None, generator=None,
        discriminator=None, sampler=None, snapshots=None, sample_every=1, board=None, save=None, progress=True,
        label="epoch", with_labels=False, schedule=None):
    """Train from epoch ``first_epoch`` to ``epochs`` (inclusive); return the ``History``.

    ``step(real)``: one training step on a real batch; returns a dict of
    0-dim tensors (``d_loss``, ``g_loss``, ...), ideally still on the device.
    ``batches``: an iterable of real batches (or ``(images, labels)`` pairs),
    gone through once per epoch, with a ``len``. ``with_labels``: call
    ``step(real, labels)`` instead, for a conditional GAN.
    ``max_steps``: stop after this many steps in all; ``max_seconds``: after
    this much wall time (the last epoch may end early).
    ``generator``/``discriminator``: put in training mode at the start of
    every epoch. ``snapshots`` (a ``Snapshots``): draws ``generator`` after
    epoch 1, every ``sample_every``-th epoch and the last; ``sampler``: the
    network it draws with instead, e.g. an average of G's weights.
    ``board``: a TensorBoard ``SummaryWriter``. ``save(epoch, history)``:
    called after every epoch, e.g. to write a checkpoint. ``progress``: a
    tqdm bar per epoch and one printed line per epoch.
    ``schedule(share)``: called before every step with the share of the run
    done so far, 0 to 1 (``share_done``), e.g. to lower the learning rate.
    """
    require_whole(epochs, "epochs")
    require_whole(first_epoch, "first_epoch")
    require_whole(sample_every, "sample_every")
    if max_steps is not None:
        require_whole(max_steps, "max_steps")
    if max_seconds is not None:
        require_number(max_seconds, "max_seconds", above=0)
    history = History() if history is None else history
    steps_left = max_steps
    started = time.perf_counter()
    deadline = None if max_seconds is None else started + max_seconds
    for epoch in range(first_epoch, epochs + 1):
        for model in (generator, discriminator):
            if model is not None:
                model.train()
        total = len(batches) if steps_left is None else min(len(batches), steps_left)
        done = 0
        with tqdm(total=total, desc=f"{label} {epoch}/{epochs}", leave=False, disable=not progress) as bar:
            for batch in batches:
                if done == total:
                    break
                if schedule is not None:
                    epochs_share = (epoch - 1 + done / len(batches)) / epochs
                    steps_share = None if max_steps is None else (max_steps - steps_left + done) / max_steps
                    time_share = None if max_seconds is None else (time.perf_counter() - started) / max_seconds
                    schedule(share_done(epochs_share, steps_share, time_share))
                if with_labels:
                    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                        raise ValueError(f"fit(with_labels=True) needs batches of (images, labels), got "
                                         f"{_batch_form(batch)}; pass with_labels=False, or batches with labels")
                    history.log(**step(*batch))  # (images, labels)
                else:
                    history.log(**step(batch[0] if isinstance(batch, (tuple, list)) else batch))
                done += 1
                bar.update(1)
                if deadline is not None and time.perf_counter() > deadline:
                    break
        means = history.end_epoch()  # the epoch's one copy from the device to the CPU
        if steps_left is not None:
            steps_left -= done
        last = epoch == epochs or steps_left == 0 or (deadline is not None and time.perf_counter() > deadline)
        if progress:
            tqdm.write(epoch_line(epoch, means))
        if board is not None:
            log_epoch(board, history, epoch, done)
        if snapshots is not None and (epoch == 1 or epoch % sample_every == 0 or last):
            grid = snapshots.take(generator if sampler is None else sampler, epoch)
            if board is not None:
                board.add_image("fixed_noise", grid, epoch)
        if save is not None:
            save(epoch, history)
        if last:
            break
    return history


def _batch_form(batch):
    """What a batch is, in words: a tensor's description, or a tuple of how many parts."""
    if isinstance(batch, (tuple, list)):
        return f"a {type(batch).__name__} of {len(batch)} ({'; '.join(describe(part) for part in batch)})"
    return describe(batch)


def share_done(*shares):
    """How much of a run is done, 0 to 1: the largest of its budgets' shares.

    ``shares``: the share used of each budget (epochs, steps, seconds; None
    where the run has no such budget).

    A run ends at whichever budget runs out first, so the one most used up
    says how far it is. A resumed run counts its epochs from the first one,
    and its steps and seconds from where it resumed.
    """
    return min(1.0, max(share for share in shares if share is not None))


def epoch_line(epoch, means):
    """The line printed after each epoch: ``epoch    3  d_loss 1.234  g_loss 0.876 ...``."""
    return f"epoch {epoch:4d}  " + "  ".join(f"{key} {value:.3f}" for key, value in means.items())


def log_epoch(board, history, epoch, steps):
    """Send one epoch's numbers to TensorBoard: ``step/<name>`` for each step, ``epoch/<name>`` for the mean.

    Called after ``history.end_epoch()``, so it reads values already on the
    CPU and adds no device sync. ``steps``: how many steps the epoch ran.
    """
    for key, values in history.steps.items():
        first = len(values) - steps
        for i, value in enumerate(values[first:], start=first):
            board.add_scalar(f"step/{key}", value, i)
    for key, values in history.epochs.items():
        board.add_scalar(f"epoch/{key}", values[-1], epoch)


class History:
    """Per-step and per-epoch training numbers.

    ``log(d_loss=t, ...)`` keeps 0-dim tensors on their device;
    ``end_epoch()`` copies the epoch's values to the CPU in one transfer and
    records their means. Afterwards ``history.steps["d_loss"]`` is a list of
    per-step floats and ``history.epochs["d_loss"]`` a list of per-epoch means.
    """

    def __init__(self):
        self.steps = defaultdict(list)
        self.epochs = defaultdict(list)
        self._pending = defaultdict(list)

    def log(self, **values):
        """Record one step's values (0-dim tensors or numbers); nothing is synced."""
        for key, value in values.items():
            if isinstance(value, torch.Tensor) and value.dim() != 0:
                raise ValueError(f"history values must be single numbers, got {key}: {describe(value)}")
            self._pending[key].append(value.detach() if isinstance(value, torch.Tensor) else torch.tensor(float(value)))

    def end_epoch(self):
        """Move this epoch's values to the CPU (one sync); return the epoch means."""
        if not self._pending:
            return {}
        keys = list(self._pending)
        lengths = [len(self._pending[k]) for k in keys]
        device = self._pending[keys[0]][0].device
        flat = torch.cat([torch.stack(self._pending[k]).float().to(device) for k in keys]).cpu()
        means = {}
        for key, chunk in zip(keys, flat.split(lengths)):
            self.steps[key].extend(chunk.tolist())
            means[key] = chunk.mean().item()
            self.epochs[key].append(means[key])
        self._pending.clear()
        return means

    def state_dict(self):
        """Plain lists, for checkpoints (pending values are flushed first)."""
        self.end_epoch()
        return {"steps": dict(self.steps), "epochs": dict(self.epochs)}

    def load_state_dict(self, state):
        """Restore what ``state_dict`` returned."""
        self.steps = defaultdict(list, {k: list(v) for k, v in state["steps"].items()})
        self.epochs = defaultdict(list, {k: list(v) for k, v in state["epochs"].items()})
        self._pending.clear()

    def __repr__(self):
        last = {k: round(v[-1], 4) for k, v in self.epochs.items() if v}
        return f"History({len(next(iter(self.epochs.values()), []))} epochs, last: {last})"
