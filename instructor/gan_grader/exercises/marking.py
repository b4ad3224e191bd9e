"""The judge's tools for marking: ``Wrong`` and ``need`` (a verdict in words), the random inputs
both sides draw from one seed, a model's weights by name, and the exact result of an SGD step.

Each session's exercises (``data.py`` ... ``conditional.py`` beside this file) are written with them.
"""

from dataclasses import dataclass
from typing import Callable

import torch


class Wrong(AssertionError):
    """The reply shows the exercise is not solved: the message says how."""


class Unjudged(RuntimeError):
    """The judge cannot mark this exercise here (say, the data it compares with is missing)."""


@dataclass(frozen=True)
class Exercise:
    """One graded exercise's specification.

    ``name``: what the student wrote; ``ask``/``mark``: see ``exercises/__init__.py``; ``given``: the
    names of earlier exercises the answer calls, replaced by right answers while it is asked, so that a
    mistake costs its own exercise's points and no others; ``session``: the notebook it belongs to
    (``"04_evaluate"``), filled in by ``exercises/__init__.py``."""
    name: str
    ask: Callable
    mark: Callable
    given: tuple = ()
    session: str = ""


def need(condition, message):
    """Raise ``Wrong(message)`` unless ``condition`` is true."""
    if not condition:
        raise Wrong(message)


def need_close(x, want, what, atol=1e-5):
    """``x`` must be a tensor of ``want``'s shape, equal to it up to ``atol`` (NaN never is)."""
    need(isinstance(x, torch.Tensor), f"{what} should be a tensor, got {type(x).__name__}")
    need(tuple(x.shape) == tuple(want.shape), f"{what} should have shape {tuple(want.shape)}, got {tuple(x.shape)}")
    gap = (x.double() - want.double()).abs().max().item() if x.numel() else 0.0
    need(gap <= atol, f"{what} is off by up to {gap:.3g} from the right answer (allowed {atol:g})")


def need_number(x, want, what, atol=1e-5):
    """``x`` must be a number (or one-element tensor) within ``atol`` of ``want``."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        raise Wrong(f"{what} should be a number, got {type(x).__name__}") from None
    need(abs(value - want) <= atol, f"{what} is {value:.6g}, the right answer is {want:.6g}")


def draws(seed, salt=0):
    """A torch random generator for the judge's inputs: the same in the kernel and in the grade command."""
    return torch.Generator().manual_seed(int(seed) * 1009 + salt)


def seeded(seed, build):
    """``build()`` with torch's global random state set from ``seed`` (and put back afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


def weights(model):
    """A module's weights and buffers by name: a dict of tensors (what ``load_weights`` takes)."""
    return {name: t.detach().cpu().clone() for name, t in model.state_dict().items()}


def load_weights(model, named, what):
    """Load ``named`` weights (from ``weights``) into ``model``; ``Wrong`` when they cannot fit.

    Where the names are the model's own (the exercise text names the layers,
    e.g. ``embed`` and ``body``), each goes to its namesake, whatever order the
    student registered the layers in. Otherwise the i-th goes into the i-th
    entry, so a student's own names for the same layers still fit.
    """
    need(isinstance(named, dict) and all(isinstance(t, torch.Tensor) for t in named.values()),
         f"{what}'s weights did not come back as named tensors")
    entries = model.state_dict()
    if set(named) == set(entries) and all(named[k].shape == entries[k].shape for k in entries):
        model.load_state_dict({key: named[key].to(old.dtype) for key, old in entries.items()})
        return model
    return load_in_order(model, list(named.values()), what)


def load_in_order(model, tensors, what):
    """Load ``tensors`` into ``model``, the i-th into its i-th entry; ``Wrong`` on a mismatch."""
    entries = list(model.state_dict().items())
    shapes = [tuple(t.shape) for t in tensors] if isinstance(tensors, list) else None
    need(shapes is not None and all(isinstance(t, torch.Tensor) for t in tensors),
         f"{what}'s weights did not come back as a list of tensors")
    wanted = [tuple(t.shape) for _, t in entries]
    need(shapes == wanted, f"{what}'s layers do not match the exercise: weights of shapes {shapes[:8]}"
                           f"{' ...' if len(shapes) > 8 else ''}, expected {wanted[:8]}{' ...' if len(wanted) > 8 else ''}")
    model.load_state_dict({key: t.to(old.dtype) for (key, old), t in zip(entries, tensors)})
    return model


# Inputs and training steps, shared by several sessions ---------------------------

def noise(seed, n, dim, salt=4, scale=3.0):
    return torch.randn(n, dim, generator=draws(seed, salt)) * scale


def sgd_step(model, loss_of, lr):
    """``model``'s parameters after one plain SGD step on ``loss_of(model)``: a list of tensors (``model`` is
    left as it was)."""
    params = [p for p in model.parameters()]
    grads = torch.autograd.grad(loss_of(model), params)
    return [(p - lr * g).detach() for p, g in zip(params, grads)]


def as_list(params):
    return [p.detach().cpu().clone() for p in params]


def need_params(found, want, what, atol=1e-5):
    """Parameters ``found`` (a list of tensors from the kernel) must equal ``want``."""
    need(isinstance(found, list) and len(found) == len(want), f"{what}: the parameters did not come back")
    for i, (a, b) in enumerate(zip(found, want)):
        need_close(a, b, f"{what} (parameter {i})", atol)
