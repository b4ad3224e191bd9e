"""The training loop: every GAN in the course trains through ``fit``.

``fit`` is the whole loop, top to bottom, in one place: for each epoch, one
training step per batch, then one copy of the epoch's numbers to the CPU.
Everything else a run does happens in its *hooks* (``helpers.hooks``), which
``fit`` calls at four moments: an epoch starts, a step is about to run, a step
ran, an epoch ended. A progress bar, training mode, the fixed-noise snapshot,
TensorBoard, the checkpoint and a falling learning rate are each one hook, so
a run says what it wants in one list and the loop stays short.

What a step *does* is up to its caller, who passes it in as a function, so
each session trains exactly what its student wrote:

- session 2 passes a step built from the student's ``discriminator_step`` and
  ``generator_step``;
- session 3 passes ``steps.train_step`` with the student's own loss;
- session 5 passes a step built from the student's conditional steps, which
  also get each batch's labels;
- ``runs.RecipeRun`` (``python -m helpers.train``) and the throughput
  benchmark pass ``steps.train_step`` for a recipe.

How long it trains is a ``Budget``: epochs, and optionally steps and seconds.
``History`` keeps the numbers: per step on the device while the epoch runs,
then per step and per epoch on the CPU, after one transfer.
"""

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Optional

import torch

from .guards import describe, require_number, require_whole


@dataclass(frozen=True)
class Budget:
    """How long ``fit`` trains: up to epoch ``epochs`` (counted from 1), and at most ``steps`` steps and
    ``seconds`` of wall time in this call, whichever ends first (the last epoch may end early).
    ``first_epoch``: where a resumed run starts. Bad values are refused when the budget is made."""
    epochs: int
    steps: Optional[int] = None
    seconds: Optional[float] = None
    first_epoch: int = 1

    def __post_init__(self):
        require_whole(self.epochs, "epochs")
        require_whole(self.first_epoch, "first_epoch")
        if self.first_epoch > self.epochs + 1:
            raise ValueError(f"first_epoch {self.first_epoch} is past the last epoch, {self.epochs}: nothing would "
                             f"train; epochs counts from 1, so ask for epochs={self.first_epoch} or more")
        if self.steps is not None:
            require_whole(self.steps, "steps")
        if self.seconds is not None:
            require_number(self.seconds, "seconds", above=0)


class Hook:
    """Something a run does besides training. ``fit`` calls each method at its moment; each does nothing
    unless a hook overrides it (``helpers.hooks`` has the course's)."""

    def start_epoch(self, epoch, steps, budget):
        """Epoch ``epoch`` of ``budget`` (the run's ``Budget``) begins; it will run at most ``steps`` steps."""

    def before_step(self, share):
        """A step is about to run; ``share`` of the run is done (0 to 1, see ``share_done``)."""

    def after_step(self):
        """A step ran."""

    def end_epoch(self, epoch, history, means, last):
        """Epoch ``epoch`` ended: ``history`` holds its numbers on the CPU, ``means`` their means;
        ``last``: no epoch follows in this call."""


def fit(step, batches, budget, history=None, hooks=()):
    """Train within ``budget`` (a ``Budget``, or a number of epochs); return the ``History``.

    ``step(real)``, or ``step(real, labels)`` when ``batches`` yields pairs:
    one training step; returns a dict of 0-dim tensors (``d_loss``, ...),
    ideally still on the device. ``batches``: an iterable of batches with a
    ``len``, gone through once per epoch. ``history``: a ``History`` to add to
    (a resumed run's). ``hooks``: ``Hook``s, called in their order.
    """
    budget = budget if isinstance(budget, Budget) else Budget(budget)
    hooks = _checked_hooks(hooks)
    history = History() if history is None else history
    clock = _Clock(budget, len(batches))
    for epoch in range(budget.first_epoch, budget.epochs + 1):
        steps = clock.steps_this_epoch()
        _call(hooks, "start_epoch", epoch, steps, budget)
        for done, batch in zip(range(steps), batches):
            _call(hooks, "before_step", clock.share_done(epoch, done))
            numbers = step(*batch) if isinstance(batch, (tuple, list)) else step(batch)  # (images, labels) or images
            history.log(**numbers)
            clock.count_step()
            _call(hooks, "after_step")
            if clock.out_of_time():
                break
        means = history.end_epoch()  # the epoch's one copy from the device to the CPU
        last = epoch == budget.epochs or clock.out_of_steps() or clock.out_of_time()
        _call(hooks, "end_epoch", epoch, history, means, last)
        if last:
            break
    return history


def _checked_hooks(hooks):
    """``hooks`` as a list of ``Hook`` instances; a ``TypeError`` saying what to pass otherwise."""
    if isinstance(hooks, Hook) or (isinstance(hooks, type) and issubclass(hooks, Hook)):
        raise TypeError(f"hooks takes a list of hooks; put this one in a list: hooks=[{_named(hooks)}]")
    try:
        hooks = list(hooks)
    except TypeError:
        raise TypeError(f"hooks takes a list of Hook objects, got {_named(hooks)}") from None
    for i, hook in enumerate(hooks):
        if isinstance(hook, type):
            raise TypeError(f"hooks[{i}] is the class {hook.__name__}; pass an object of it, {hook.__name__}(...)")
        if not isinstance(hook, Hook):
            raise TypeError(f"hooks[{i}] is {_named(hook)}, not a Hook (helpers.hooks has the course's: Progress, "
                            f"Schedule(change), ...)")
    return hooks


def _named(thing):
    return thing.__name__ if isinstance(thing, type) else f"a {type(thing).__name__} ({thing!r:.40})"


def _call(hooks, moment, *args):
    for hook in hooks:
        getattr(hook, moment)(*args)


class _Clock:
    """What ``fit`` has used of its ``Budget``: steps taken and seconds since it started."""

    def __init__(self, budget, batches_per_epoch):
        self.budget, self.per_epoch = budget, batches_per_epoch
        self.taken, self.started = 0, time.perf_counter()

    def steps_this_epoch(self):
        left = None if self.budget.steps is None else self.budget.steps - self.taken
        return self.per_epoch if left is None else min(self.per_epoch, left)

    def count_step(self):
        self.taken += 1

    def out_of_steps(self):
        return self.budget.steps is not None and self.taken >= self.budget.steps

    def out_of_time(self):
        return self.budget.seconds is not None and time.perf_counter() - self.started > self.budget.seconds

    def share_done(self, epoch, done):
        """The share of the run done before step ``done`` of ``epoch`` (see ``share_done``)."""
        b = self.budget
        return share_done((epoch - 1 + done / self.per_epoch) / b.epochs,
                          None if b.steps is None else self.taken / b.steps,
                          None if b.seconds is None else (time.perf_counter() - self.started) / b.seconds)


def share_done(*shares):
    """How much of a run is done, 0 to 1: the largest of its budgets' shares.

    ``shares``: the share used of each budget (epochs, steps, seconds; None
    where the run has no such budget).

    A run ends at whichever budget runs out first, so the one most used up
    says how far it is. A resumed run counts its epochs from the first one,
    and its steps and seconds from where it resumed.
    """
    return min(1.0, max(share for share in shares if share is not None))


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
