"""Pictures of images and of training curves.

- ``image_grid(images)``  any batch of images -> one ``[3, H, W]`` grid in [0,1];
- ``png_bytes(picture)`` / ``save_png(picture, path)``  such a picture as a PNG file;
- ``show_images(images)`` draws that grid (and can save it as a PNG);
- ``plot_history(history)`` draws loss and score curves.
"""

import io
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from PIL import Image

from .data import convert_pixels
from .guards import FLOAT_DTYPES, describe, require_tensor

SIDE = 28  # MNIST images are 28x28; a flat [B, 784] batch is reshaped to that


def as_image_batch(images, value_range=None):
    """Turn any batch of images into float ``[B, C, H, W]`` in [0, 1] on the CPU.

    Accepts ``[B, 784]`` (flat MNIST), ``[B, H, W]`` or ``[B, C, H, W]`` with
    C = 1 or 3, on any device. Floats may be in [-1, 1] (a Tanh generator) or
    in [0, 1]; ``value_range`` = ``"tanh"`` or ``"unit"`` says which, and by
    default it is guessed: any negative value means [-1, 1]. uint8 pixels in
    [0, 255] are accepted too.
    """
    require_tensor(images, "images", dtypes=FLOAT_DTYPES + (torch.uint8,), ndims=(2, 3, 4))
    x = images.detach().to("cpu")
    if x.is_floating_point():
        x = x.float()
    if x.dim() == 2:
        if x.shape[1] != SIDE * SIDE:
            raise ValueError(f"flat images must have {SIDE * SIDE} values each, got {describe(images)}")
        x = x.reshape(-1, 1, SIDE, SIDE)
    elif x.dim() == 3:
        x = x.unsqueeze(1)
    if x.shape[1] not in (1, 3):
        raise ValueError(
            f"images must have 1 or 3 channels as [B, C, H, W], got {describe(images)}"
        )
    if x.dtype == torch.uint8:
        return convert_pixels(x, "uint8", "unit")
    if value_range is None:
        value_range = "tanh" if x.numel() and x.min() < 0 else "unit"
    if value_range not in ("tanh", "unit"):
        raise ValueError(f"value_range must be 'tanh', 'unit' or None, got {value_range!r}")
    return convert_pixels(x, value_range, "unit")


def image_grid(images, nrow=8, value_range=None, padding=2):
    """A grid of images: float tensor ``[3, H, W]`` in [0, 1].

    ``nrow`` images per row, filled from the top left, with white lines
    ``padding`` pixels wide between and around them (the layout of
    torchvision's ``make_grid``).
    """
    batch = as_image_batch(images, value_range)
    if batch.shape[0] == 0:
        raise ValueError("images is an empty batch; there is nothing to show")
    n, _, h, w = batch.shape
    cols = min(nrow, n)
    rows = -(-n // cols)  # ceiling division
    grid = torch.ones(3, rows * (h + padding) + padding, cols * (w + padding) + padding)
    for i, image in enumerate(batch):
        top, left = padding + (i // cols) * (h + padding), padding + (i % cols) * (w + padding)
        grid[:, top:top + h, left:left + w] = image  # a grey image fills all three channels
    return grid


def pil_image(picture, scale=1):
    """A picture ``[C, H, W]`` (C = 1 or 3) in [0, 1] as a Pillow image, each pixel drawn ``scale`` x ``scale``."""
    pixels = convert_pixels(picture.detach().cpu().float(), "unit", "uint8")
    array = pixels[0].numpy() if pixels.shape[0] == 1 else pixels.permute(1, 2, 0).numpy()
    image = Image.fromarray(array)
    if scale != 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    return image


def png_bytes(picture, scale=1):
    """A picture ``[C, H, W]`` (C = 1 or 3) in [0, 1] as PNG file bytes, each pixel drawn ``scale`` x ``scale``."""
    buffer = io.BytesIO()
    pil_image(picture, scale).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(picture, path):
    """Write a picture ``[C, H, W]`` in [0, 1] (an ``image_grid``) to the PNG file ``path``."""
    Path(path).write_bytes(png_bytes(picture))


def show_images(images, nrow=8, title=None, path=None, value_range=None, ax=None):
    """Draw a batch of images as one grid; also save it as a PNG if ``path`` is given.

    ``images``: see ``as_image_batch`` for the shapes and ranges accepted.
    Returns the matplotlib ``Axes`` drawn on.
    """
    grid = image_grid(images, nrow=nrow, value_range=value_range)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_png(grid, path)
    if ax is None:
        rows, cols = grid.shape[1:]
        _, ax = plt.subplots(figsize=(min(10, cols / 40 + 1), min(10, rows / 40 + 1)))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_history(history, keys=None, title=None, path=None, ax=None, xlabel="epoch"):
    """Plot curves from a dict of equal-length lists, e.g. ``{"d_loss": [...], ...}``.

    ``keys`` picks which curves (default: all). Returns the ``Axes``; saves a
    PNG if ``path`` is given.
    """
    if not isinstance(history, dict) or not history:
        raise TypeError(f"history must be a non-empty dict of lists, got {type(history).__name__}")
    keys = list(history) if keys is None else list(keys)
    missing = [k for k in keys if k not in history]
    if missing:
        raise KeyError(f"history has no {missing}; it has {sorted(history)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for key in keys:
        values = [float(v) for v in history[key]]
        ax.plot(range(1, len(values) + 1), values, label=key, marker="o" if len(values) < 30 else None)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        ax.figure.savefig(path, dpi=100, bbox_inches="tight")
    return ax


def show_labelled(images, labels, class_names=None, ncols=8, value_range=None):
    """Draw images in a grid with their label above each one.

    ``images``: any layout ``as_image_batch`` accepts, ``labels``: ``[B]`` ints;
    ``class_names`` maps a label to a word (e.g. ``FASHION_CLASSES``).
    Returns the matplotlib ``Figure``.
    """
    batch = as_image_batch(images, value_range)
    labels = [int(label) for label in labels]
    if len(labels) != len(batch):
        raise ValueError(f"got {len(batch)} images but {len(labels)} labels")
    nrows = (len(batch) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, image, label in zip(axes.flat, batch, labels):
        ax.imshow(image.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(class_names[label] if class_names else str(label), fontsize=9)
    fig.tight_layout()
    return fig
