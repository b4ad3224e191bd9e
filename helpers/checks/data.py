"""Checks for session 1 (data): normalisation, the DataLoader, class counts, the mean image."""

import torch

from . import expect, expect_close, expect_dtype, expect_range, expect_shape, passed


def check_to_minus_one_one(fn):
    """``fn``: uint8 pixels [0,255] -> float32 in [-1,1], same shape."""
    pixels = torch.tensor([[0, 51, 102], [153, 204, 255]], dtype=torch.uint8)
    out = fn(pixels)
    expect_dtype(out, torch.float32, "to_minus_one_one(pixels)",
                 "Convert with .float() before dividing: uint8 cannot hold fractions.")
    expect_shape(out, pixels.shape, "to_minus_one_one(pixels)")
    expect_range(out, -1.0, 1.0, "to_minus_one_one(pixels)")
    expect(out.min().item() < -0.99 and out.max().item() > 0.99,
           f"to_minus_one_one should use the whole range: pixel 0 -> -1 and 255 -> 1, "
           f"got {out.min().item():.4g} and {out.max().item():.4g}")
    expect_close(out, [[-1.0, -0.6, -0.2], [0.2, 0.6, 1.0]], "to_minus_one_one(pixels)")
    expect(pixels[0, 0] == 0, "to_minus_one_one must not change its input in place")
    passed("to_minus_one_one maps 0 -> -1, 255 -> 1, linearly, as float32")


def check_to_zero_one(fn):
    """``fn``: float in [-1,1] -> float in [0,1]: the inverse of the step above, rescaled."""
    x = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0])
    out = fn(x.clone())
    expect_dtype(out, torch.float32, "to_zero_one(x)")
    expect_shape(out, x.shape, "to_zero_one(x)")
    expect_range(out, 0.0, 1.0, "to_zero_one(x)")
    expect_close(out, [0.0, 0.25, 0.5, 0.75, 1.0], "to_zero_one(x)")
    passed("to_zero_one maps -1 -> 0, 0 -> 0.5, 1 -> 1")


def check_mnist_loader(fn, batch_size=32):
    """``fn(batch_size)`` -> a shuffling DataLoader of ([B,1,28,28] in [-1,1], [B] int64)."""
    loader = fn(batch_size)
    expect(isinstance(loader, torch.utils.data.DataLoader),
           f"make_mnist_loader should return a torch.utils.data.DataLoader, got {type(loader).__name__}")
    images, labels = next(iter(loader))
    expect_shape(images, (batch_size, 1, 28, 28), "a batch of images")
    expect_dtype(images, torch.float32, "a batch of images")
    expect_range(images, -1.0, 1.0, "a batch of images")
    expect(images.min().item() < -0.99,
           f"a batch of images should reach -1 (black background), got min {images.min().item():.4g}. "
           f"Did you add Normalize((0.5,), (0.5,)) after ToTensor()?")
    expect_shape(labels, (batch_size,), "a batch of labels")
    expect_dtype(labels, torch.int64, "a batch of labels")
    first = loader.dataset.targets[:batch_size] if hasattr(loader.dataset, "targets") else None
    if first is not None:
        expect(not torch.equal(labels, torch.as_tensor(first)),
               "the first batch is the first images of the dataset in order: pass shuffle=True")
    passed(f"batches of shape {tuple(images.shape)} in [-1, 1], shuffled")


def check_class_counts(fn):
    """``fn(labels)`` -> int64 tensor [10]: how many times each digit occurs."""
    labels = torch.tensor([3, 1, 3, 0, 3, 1])
    out = fn(labels)
    expect_dtype(out, torch.int64, "class_counts(labels)")
    expect_shape(out, (10,), "class_counts(labels)")
    expect(out.sum().item() == len(labels),
           f"the counts should add up to the {len(labels)} labels, got {out.sum().item()}")
    expect_close(out, [1, 2, 0, 3, 0, 0, 0, 0, 0, 0], "class_counts(labels)")
    passed("class_counts returns 10 counts, zeros included")


def check_mean_image(fn):
    """``fn(images uint8 [N,28,28])`` -> float32 [28,28] in [0,1]: the average image."""
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    images[:, 0, 0] = 255
    images[:2, 27, 27] = 255
    out = fn(images)
    expect_dtype(out, torch.float32, "mean_image(images)",
                 "Convert to float before averaging (uint8 tensors have no mean).")
    expect_shape(out, (28, 28), "mean_image(images)")
    expect_range(out, 0.0, 1.0, "mean_image(images)")
    expect(abs(out[0, 0].item() - 1.0) < 1e-5,
           f"a pixel that is 255 in every image should average to 1.0, got {out[0, 0].item():.4g}")
    expect(abs(out[27, 27].item() - 0.5) < 1e-5,
           f"a pixel that is 255 in half the images should average to 0.5, got {out[27, 27].item():.4g}")
    passed("mean_image averages over the images, giving one 28x28 picture in [0, 1]")
