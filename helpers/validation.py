"""Argument checks that turn bad input into one clear sentence.

Every public helper calls these first, so a mistake (wrong shape, dtype, value
range) is reported in words that name what was expected and what came in,
instead of a traceback from deep inside torch.
"""

import torch


def describe(x):
    """One-line summary of a tensor: shape, dtype, device and value range."""
    if not isinstance(x, torch.Tensor):
        return f"a {type(x).__name__}"
    text = f"shape {tuple(x.shape)}, dtype {x.dtype}, device {x.device}"
    if x.numel() and (x.is_floating_point() or x.dtype == torch.uint8):
        text += f", min {x.min().item():.4g} max {x.max().item():.4g}"
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


def require_range(x, low, high, name, tolerance=1e-4):
    """Raise ``ValueError`` unless every value of ``x`` lies in ``[low, high]``.

    A small ``tolerance`` forgives float rounding. Returns ``x`` unchanged.
    """
    if x.numel() == 0:
        return x
    lo, hi = x.min().item(), x.max().item()
    if lo < low - tolerance or hi > high + tolerance:
        raise ValueError(
            f"{name}: expected values in [{low:g}, {high:g}], got min {lo:.4g} max {hi:.4g}"
        )
    return x


FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
