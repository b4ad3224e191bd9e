"""Guards at the door of every helper: bad input becomes one clear sentence.

Every public helper checks what it is given first, so a mistake (wrong type,
shape, dtype, value range, or NaN) is reported in words that name what was
expected and what came in, instead of a traceback from deep inside torch or,
worse, a plausible-looking wrong result.

- ``describe(x)``                      one line about a tensor: shape, dtype, device, range;
- ``require_tensor(x, name, ...)``     a tensor of the right dtype and number of dimensions;
- ``range_problem(x, low, high)``      what is wrong with ``x``'s values, in words, or None;
- ``require_range(x, low, high, name)`` raise ``ValueError`` with that sentence;
- ``number_problem(value, above=, ...)`` what is wrong with one number (a learning rate, a decay), or None;
- ``whole_problem(value, minimum)``    the same for a whole number (a count of steps, of samples);
- ``require_number``, ``require_whole``  raise ``ValueError`` with those sentences.

``range_problem`` is the course's one range check: the friendly exercise checks
in ``helpers.checks`` use it too, with the fix put in front.
"""

import math
import numbers

import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def describe(x):
    """One-line summary of a tensor: shape, dtype, device and value range (NaN counted; not for bool tensors)."""
    if not isinstance(x, torch.Tensor):
        return f"a {type(x).__name__}"
    text = f"shape {tuple(x.shape)}, dtype {x.dtype}, device {x.device}"
    if x.numel() and not x.is_meta and x.dtype != torch.bool and not x.is_complex():
        values = x.detach().float()
        finite = values[torch.isfinite(values)]
        if finite.numel():
            text += f", min {finite.min().item():.4g} max {finite.max().item():.4g}"
        bad = values.numel() - finite.numel()
        if bad:
            text += f", {bad} NaN or infinite value{'s' if bad > 1 else ''}"
    return text


def require_tensor(x, name, dtypes=None, ndims=None):
    """Raise ``TypeError``/``ValueError`` unless ``x`` is a tensor of the right kind.

    ``dtypes``: allowed dtypes (or None for any); ``ndims``: allowed numbers of
    dimensions (or None for any). Returns ``x`` unchanged.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if dtypes is not None and x.dtype not in dtypes:
        wanted = " or ".join(str(d) for d in dtypes)
        raise TypeError(f"{name} must have dtype {wanted}, got {x.dtype} ({describe(x)})")
    if ndims is not None and x.dim() not in ndims:
        wanted = " or ".join(str(n) for n in ndims)
        raise ValueError(f"{name} must have {wanted} dimensions, got {x.dim()} ({describe(x)})")
    return x


def range_problem(x, low, high, tolerance=1e-4):
    """What is wrong with the values of tensor ``x`` for the range ``[low, high]``, or None.

    NaN and infinite values are always a problem (a comparison with NaN is
    always False, so a plain min/max test would let them through). A small
    ``tolerance`` forgives float rounding. An empty tensor has no problem.
    """
    if x.numel() == 0:
        return None
    values = x.detach()
    lo, hi = torch.stack(torch.aminmax(values.float())).tolist()  # NaN propagates: one read of the device
    if not (math.isfinite(lo) and math.isfinite(hi)):
        nan = int(torch.isnan(values).sum())
        inf = int(torch.isinf(values).sum())
        kinds = " and ".join(f"{n} {word}" for n, word in ((nan, "NaN"), (inf, "infinite")) if n)
        return f"expected values in [{low:g}, {high:g}], got {kinds} value(s) out of {values.numel()}"
    if lo < low - tolerance or hi > high + tolerance:
        return f"expected values in [{low:g}, {high:g}], got min {lo:.4g} max {hi:.4g}"
    return None


def require_range(x, low, high, name, tolerance=1e-4):
    """Raise ``ValueError`` unless every value of ``x`` is a number in ``[low, high]``.

    Returns ``x`` unchanged. See ``range_problem`` for what counts as wrong.
    """
    problem = range_problem(x, low, high, tolerance)
    if problem:
        raise ValueError(f"{name}: {problem}")
    return x


def number_problem(value, above=None, at_least=None, below=None, at_most=None):
    """What is wrong with ``value`` as one finite number within the bounds given, in words, or None.

    NaN and infinity are always wrong, and so is a bool. The sentence reads
    "expected a number above 0, got nan". ``flags.number`` uses it for the
    command lines, ``require_number`` for Python callers.
    """
    tests = [(bound, word, holds) for bound, word, holds in (
        (above, "above", lambda v, b: v > b), (at_least, "at least", lambda v, b: v >= b),
        (below, "below", lambda v, b: v < b), (at_most, "at most", lambda v, b: v <= b)) if bound is not None]
    wanted = " and ".join(["a number"] + [f"{word} {bound:g}" for bound, word, _ in tests]).replace(" and ", " ", 1)
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or not all(holds(value, bound) for bound, _, holds in tests)):
        return f"expected {wanted}, got {value!r}"
    return None


def whole_problem(value, minimum=1):
    """What is wrong with ``value`` as a whole number of at least ``minimum``, in words, or None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        return f"expected a whole number of at least {minimum}, got {value!r}"
    return None


def require_number(value, name, **bounds):
    """Raise ``ValueError`` naming ``name`` unless ``number_problem(value, **bounds)`` finds nothing; return ``value``."""
    problem = number_problem(value, **bounds)
    if problem:
        raise ValueError(f"{name}: {problem}")
    return value


def require_whole(value, name, minimum=1):
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a whole number of at least ``minimum``; return it."""
    problem = whole_problem(value, minimum)
    if problem:
        raise ValueError(f"{name}: {problem}")
    return value
