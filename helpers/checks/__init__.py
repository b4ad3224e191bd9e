"""Friendly checks for the exercises: they name the fix first, then what they saw.

Each session has its own module (``helpers.checks.data`` for session 1, ...)
whose ``check_*`` functions call a student's function on small inputs and
raise ``AssertionError`` whose message names the fix first (the layer, the
call or the argument), then the evidence: "End the generator with nn.Tanh():
G(noise) expected values in [-1, 1], got min -1.2 max 1.6". The most specific
diagnosis runs first; a generic one only catches what no specific one named.
When everything is right they print one happy line.

The small ``expect_*`` functions below are the building blocks.
"""

import functools

import torch
from torch.overrides import TorchFunctionMode

from ..guards import range_problem
from ..taught import checking

ACTIVATIONS = {"relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid", "dropout"}
ARGUMENTS = {"leaky_relu": ("negative_slope", 0.01), "dropout": ("p", 0.5)}  # the one number each takes, and its default


class _Recorder(TorchFunctionMode):
    """Records each activation function torch is asked for, with its argument (a slope, a dropout rate)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "").rstrip("_")
        if name in ACTIVATIONS:
            keyword, default = ARGUMENTS.get(name, (None, None))
            self.calls.append((name, kwargs.get(keyword, args[1] if keyword and len(args) > 1 else default)))
        return func(*args, **kwargs)


CHECKS = {}  # (session, exercise) -> its visible check, filled in by ``own_code``


def own_code(session, exercise):
    """Decorator for the check of ``exercise`` of ``session`` (``"04_evaluate"``, ``"pack"``): while it
    runs, the course's own answer to that exercise refuses the student's calls (``helpers.taught``),
    so an answer that is, calls or wraps the course's fails here with ``Write pack yourself`` first.
    The check is listed in ``CHECKS``."""
    def decorate(check):
        @functools.wraps(check)
        def run(*args, **kwargs):
            with checking(session, exercise):
                return check(*args, **kwargs)
        CHECKS[(session, exercise)] = run
        return run
    return decorate


def expect(condition, message):
    """Raise ``AssertionError(message)`` unless ``condition`` is true."""
    if not condition:
        raise AssertionError(message)


def expect_tensor(x, what):
    """``x`` must be a torch tensor."""
    expect(isinstance(x, torch.Tensor),
           f"{what} should be a torch.Tensor, got {type(x).__name__}. Did you forget to return it?")


def expect_shape(x, shape, what, fix=""):
    """``x`` must be a tensor of exactly ``shape``; ``fix``, if given, comes first in the message."""
    expect_tensor(x, what)
    found = f"{what} should have shape {tuple(shape)}, got {tuple(x.shape)}"
    expect(tuple(x.shape) == tuple(shape), f"{fix} ({found})" if fix else found)


def expect_scalar(x, what):
    """``x`` must be a 0-dim tensor: one number, such as a loss."""
    expect_tensor(x, what)
    expect(x.dim() == 0, f"{what} should be a single number (0-dim tensor), got shape {tuple(x.shape)}")


def expect_dtype(x, dtype, what, hint=""):
    """``x`` must be a tensor of ``dtype``."""
    expect_tensor(x, what)
    expect(x.dtype == dtype, f"{what} should have dtype {dtype}, got {x.dtype}. {hint}".strip())


def expect_range(x, low, high, what, fix, tolerance=1e-4):
    """Every value of ``x`` must be a number in ``[low, high]``; else ``fix`` comes first in the message."""
    problem = range_problem(x, low, high, tolerance)
    expect(problem is None, f"{fix} ({what}: {problem})")


def expect_close(x, expected, what, atol=1e-5, fix=""):
    """``x`` must equal ``expected`` up to ``atol``; the message shows the worst value, after ``fix`` if given."""
    expect_tensor(x, what)
    expected = torch.as_tensor(expected, dtype=x.dtype if x.is_floating_point() else None)
    expect(x.shape == expected.shape, f"{what} should have shape {tuple(expected.shape)}, got {tuple(x.shape)}")
    diff = (x.double() - expected.double()).abs()
    if diff.numel() and diff.max() > atol:
        i = int(diff.argmax())
        found = f"{what}: value {i} is {x.flatten()[i].item():.6g}, expected {expected.flatten()[i].item():.6g}"
        raise AssertionError(f"{fix} ({found})" if fix else found)


def activations_called(model, *inputs):
    """The activations ``model(*inputs)`` computes, in order: ``[(name, slope or rate or None), ...]``.

    Names are torch's: ``"leaky_relu"`` (with its negative slope),
    ``"dropout"`` (with its rate), ``"relu"``, ``"tanh"``, ``"sigmoid"``, ...
    Modules (``nn.LeakyReLU(0.3)``) and functions in ``forward``
    (``F.leaky_relu(x, 0.3)``, ``torch.tanh(x)``, ``x.tanh()``) count alike,
    so a check built on this accepts either form.
    """
    recorder = _Recorder()
    with torch.no_grad(), recorder:
        model(*inputs)
    return recorder.calls


def passed(what):
    """Print the message a student sees when every check passed."""
    print(f"All checks passed: {what}")
