"""What a training run does besides training: each a ``loop.Hook`` that ``loop.fit`` calls.

A run lists the hooks it wants, in the order they should act after each epoch:

- ``Progress``:   a progress bar per epoch, then one printed line of the epoch's means;
- ``TrainMode``:  G and D in training mode at the start of every epoch (a snapshot or a
                  measurement may have left them in eval mode);
- ``Schedule``:   a function of the share of the run done, called before every step
                  (a falling learning rate, ``build.falling_lr``);
- ``Board``:      the epoch's numbers to TensorBoard;
- ``Snapshot``:   the fixed-noise grid after epoch 1, every few epochs and the last
                  (and to TensorBoard, given a board);
- ``AfterEpoch``: any function of ``(epoch, history)``, e.g. one that saves a checkpoint.

Session 2 builds its run from these, and ``runs.RecipeRun`` does the same for a recipe.
"""

from tqdm.auto import tqdm

from .guards import require_whole
from .loop import Hook


class Progress(Hook):
    """A tqdm bar per epoch (``label``, e.g. ``"r3 epoch"``), then ``epoch    3  d_loss 1.234 ...``.
    The bar reads ``epoch 3/30`` where the epochs end the run, ``epoch 3`` where steps or seconds may."""

    def __init__(self, label="epoch"):
        self.label, self.bar = label, None

    def start_epoch(self, epoch, steps, budget):
        of = f"/{budget.epochs}" if budget.steps is None and budget.seconds is None else ""
        self.bar = tqdm(total=steps, desc=f"{self.label} {epoch}{of}", leave=False)

    def after_step(self):
        self.bar.update(1)

    def end_epoch(self, epoch, history, means, last):
        self.bar.close()
        tqdm.write(f"epoch {epoch:4d}  " + "  ".join(f"{key} {value:.3f}" for key, value in means.items()))


class TrainMode(Hook):
    """Put ``networks`` (G, D) in training mode at the start of every epoch."""

    def __init__(self, *networks):
        self.networks = networks

    def start_epoch(self, epoch, steps, budget):
        for network in self.networks:
            network.train()


class Schedule(Hook):
    """Call ``change(share)`` before every step, ``share`` the part of the run done (0 to 1)."""

    def __init__(self, change):
        if not callable(change):
            raise TypeError(f"Schedule takes a function change(share) called before every step, got "
                            f"{type(change).__name__} {change!r:.40}: for a fixed value, set it once instead")
        self.change = change

    def before_step(self, share):
        self.change(share)


class Board(Hook):
    """Send each epoch's numbers to TensorBoard (a ``SummaryWriter``): ``step/<name>`` for every step,
    ``epoch/<name>`` for the epoch's mean. They are already on the CPU: no device sync is added."""

    def __init__(self, board):
        self.board, self.steps = board, 0

    def start_epoch(self, epoch, steps, budget):
        self.steps = 0

    def after_step(self):
        self.steps += 1

    def end_epoch(self, epoch, history, means, last):
        for key, values in history.steps.items():
            first = len(values) - self.steps
            for i, value in enumerate(values[first:], start=first):
                self.board.add_scalar(f"step/{key}", value, i)
        for key, values in history.epochs.items():
            self.board.add_scalar(f"epoch/{key}", values[-1], epoch)


class Snapshot(Hook):
    """Draw ``snapshots`` (a ``Snapshots``) with ``network`` after epoch 1, every ``every``-th epoch and
    the last; with a ``board``, each grid goes to TensorBoard too. ``network``: G, or what draws for it
    (an average of its weights)."""

    def __init__(self, snapshots, network, every=1, board=None):
        require_whole(every, "every")
        self.snapshots, self.network, self.every, self.board = snapshots, network, every, board

    def end_epoch(self, epoch, history, means, last):
        if epoch == 1 or epoch % self.every == 0 or last:
            grid = self.snapshots.take(self.network, epoch)
            if self.board is not None:
                self.board.add_image("fixed_noise", grid, epoch)


class AfterEpoch(Hook):
    """Call ``function(epoch, history)`` after every epoch: a checkpoint, a measurement."""

    def __init__(self, function):
        self.function = function

    def end_epoch(self, epoch, history, means, last):
        self.function(epoch, history)
