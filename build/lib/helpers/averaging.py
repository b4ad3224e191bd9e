"""An average of G's weights over training (an exponential moving average, EMA).

A GAN's generator never settles: every step moves it towards what fools
*this* D, and the next D pushes it somewhere else, so the last weights carry
the noise of the last few hundred steps. Averaging G's weights over those
steps cancels much of that noise. The average is never trained: it is what
you draw samples with, while G itself keeps training as before.

Each update moves the average a small step towards G's current weights::

    average = decay * average + (1 - decay) * weights        (decay 0.999: about the last 1,000 steps)

At the start the average follows G more closely (a decay of
``(1 + t) / (10 + t)`` after ``t`` updates, until that reaches ``decay``),
so a short run's average is not stuck near G's random first weights.
BatchNorm's running mean and variance are averaged the same way, so the
averaged network normalises with statistics that match its own weights.

On a 2-core CPU, after 5 minutes of training, the average of the
conditional DCGAN's G (``recipes.RECIPES["cgan"]``) had an FD about a fifth
lower than G's own last weights (``benchmarks/quality.py`` and session 5
print both). Taught in session 5.
"""

import copy

import torch
from torch import nn


class WeightAverage:
    """A copy of ``network`` whose weights follow the average of ``network``'s over training.

    ``update(network)`` after each optimiser step of ``network``;
    ``average.network`` is the averaged copy (in eval mode, never trained),
    with the same class and ``state_dict`` keys as ``network``.
    ``state_dict()``/``load_state_dict()`` save and restore it for checkpoints.
    """

    def __init__(self, network, decay=0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1) (0.999 averages about the last 1,000 steps), got {decay!r}")
        self.network = copy.deepcopy(network).requires_grad_(False).eval()
        self.decay = decay
        self.updates = 0

    def current_decay(self):
        """This update's decay: ``(1 + t) / (10 + t)`` after ``t`` updates, at most ``decay``."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, network):
        """Move the average towards ``network``'s weights and BatchNorm statistics (no device sync)."""
        weight = 1.0 - self.current_decay()
        for mine, theirs in zip(_tensors(self.network), _tensors(network)):
            if mine.is_floating_point():
                mine.lerp_(theirs.detach(), weight)  # mine + weight * (theirs - mine)
            else:
                mine.copy_(theirs)  # counters, such as BatchNorm's num_batches_tracked
        self.updates += 1

    def state_dict(self):
        """The averaged weights, the number of updates and the decay: what a checkpoint keeps."""
        return {"network": self.network.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state):
        """Restore what ``state_dict`` returned."""
        self.network.load_state_dict(state["network"])
        self.updates, self.decay = int(state["updates"]), float(state["decay"])


def _tensors(network: nn.Module):
    """Every parameter, then every buffer, of ``network``, in a fixed order."""
    return [*network.parameters(), *network.buffers()]
