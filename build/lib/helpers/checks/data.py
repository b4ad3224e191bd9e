"""Checks for session 1 (data): normalisation, the DataLoader, class counts, the mean image.

Every message names the fix first, then what was seen.
"""

import torch

from . import expect, expect_close, expect_dtype, expect_range, expect_shape, own_code, passed

SESSION = "01_data"  # the session whose exercises these check


@own_code(SESSION, "to_minus_one_one")
def check_to_minus_one_one(fn):
    """``fn``: uint8 pixels [0,255] -> float32 in [-1,1], same shape."""
    pixels = torch.tensor([[0, 51, 102], [153, 204, 255]], dtype=torch.uint8)
    out = fn(pixels)
    expect_dtype(out, torch.float32, "to_minus_one_one(pixels)",
                 "Convert with .float() before dividing: uint8 cannot hold fractions.")
    expect_shape(out, pixels.shape, "to_minus_one_one(pixels)")
    lo, hi = out.min().item(), out.max().item()
    expect(not (abs(lo) < 1e-3 and abs(hi - 1) < 1e-3),
           f"Subtract 1 after scaling to [0, 2] (divide by 127.5, then subtract 1): your values are in "
           f"[0, 1], but pixel 0 must map to -1 and 255 to 1 (got {lo:.4g} and {hi:.4g})")
    expect(not (abs(lo + 1) < 1e-3 and 0.98 < hi < 0.999),
           f"Divide by 127.5, not 128: pixel 255 must map to exactly 1, got {hi:.4g}")
    expect_range(out, -1.0, 1.0, "to_minus_one_one(pixels)",
                 "Divide by 127.5, then subtract 1, so that 0 -> -1 and 255 -> 1")
    expect(lo < -0.99 and hi > 0.99,
           f"Use the whole range, divide by 127.5 then subtract 1: pixel 0 -> -1 and 255 -> 1, "
           f"got {lo:.4g} and {hi:.4g}")
    expect_close(out, [[-1.0, -0.6, -0.2], [0.2, 0.6, 1.0]], "to_minus_one_one(pixels)")
    expect(pixels[0, 0] == 0, "Return a new tensor: to_minus_one_one must not change its input in place")
    passed("to_minus_one_one maps 0 -> -1, 255 -> 1, linearly, as float32")


@own_code(SESSION, "to_zero_one")
def check_to_zero_one(fn):
    """``fn``: float in [-1,1] -> float in [0,1]: the inverse of the step above, rescaled."""
    x = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0])
    out = fn(x.clone())
    expect_dtype(out, torch.float32, "to_zero_one(x)")
    expect_shape(out, x.shape, "to_zero_one(x)")
    fix = "Compute (x + 1) / 2: shift by 1 first, then halve, so -1 -> 0 and 1 -> 1"
    expect_range(out, 0.0, 1.0, "to_zero_one(x)", fix)
    expect(abs(out[0].item()) < 1e-4 and abs(out[-1].item() - 1) < 1e-4,
           f"{fix}; got {out[0].item():.4g} for -1 and {out[-1].item():.4g} for 1")
    expect_close(out, [0.0, 0.25, 0.5, 0.75, 1.0], "to_zero_one(x)")
    passed("to_zero_one maps -1 -> 0, 0 -> 0.5, 1 -> 1")


@own_code(SESSION, "make_mnist_loader")
def check_mnist_loader(fn, batch_size=32):
    """``fn(batch_size)`` -> a shuffling DataLoader of ([B,1,28,28] in [-1,1], [B] int64) from the train split."""
    loader = fn(batch_size)
    expect(isinstance(loader, torch.utils.data.DataLoader),
           f"Return a torch.utils.data.DataLoader from make_mnist_loader, got {type(loader).__name__}")
    expect(getattr(loader.dataset, "train", True),
           "Build the dataset on the 'train' split: data.classic_dataset('mnist', 'train', ...); "
           "this loader reads the test split")
    expect(isinstance(loader.sampler, torch.utils.data.RandomSampler),
           "Pass shuffle=True to the DataLoader: without it every epoch sees the images in the same order")
    images, labels = next(iter(loader))
    expect_shape(images, (batch_size, 1, 28, 28), "a batch of images")
    expect_dtype(images, torch.float32, "a batch of images")
    expect(images.min().item() < -0.99,
           f"Add transforms.Normalize((0.5,), (0.5,)) after ToTensor(): batches should reach -1 (black "
           f"background), got min {images.min().item():.4g}")
    expect_range(images, -1.0, 1.0, "a batch of images",
                 "Use transforms.Normalize((0.5,), (0.5,)) after ToTensor(), and nothing else")
    expect_shape(labels, (batch_size,), "a batch of labels")
    expect_dtype(labels, torch.int64, "a batch of labels")
    passed(f"batches of shape {tuple(images.shape)} in [-1, 1], shuffled, from the training split")


@own_code(SESSION, "class_counts")
def check_class_counts(fn):
    """``fn(labels)`` -> int64 tensor [10]: how many times each digit occurs."""
    labels = torch.tensor([3, 1, 3, 0, 3, 1])
    out = fn(labels)
    expect_dtype(out, torch.int64, "class_counts(labels)")
    expect_shape(out, (10,), "class_counts(labels)",
                 "Pass minlength=num_classes to torch.bincount: a class that never occurs still gets a 0")
    expect(out.sum().item() == len(labels),
           f"Count every label once: the counts should add up to the {len(labels)} labels, got {out.sum().item()}")
    expect_close(out, [1, 2, 0, 3, 0, 0, 0, 0, 0, 0], "class_counts(labels)")
    passed("class_counts returns 10 counts, zeros included")


@own_code(SESSION, "mean_image")
def check_mean_image(fn):
    """``fn(images uint8 [N,28,28])`` -> float32 [28,28] in [0,1]: the average image."""
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    images[:, 0, 0] = 255
    images[:2, 27, 27] = 255
    out = fn(images)
    expect_dtype(out, torch.float32, "mean_image(images)",
                 "Convert to float before averaging (uint8 tensors have no mean).")
    expect_shape(out, (28, 28), "mean_image(images)",
                 "Average over the images only, with .mean(dim=0), so one 28x28 picture remains")
    expect(out.max().item() < 1 + 1e-4,
           f"Divide by 255 to bring pixels into [0, 1]: your image reaches {out.max().item():.4g}")
    expect_range(out, 0.0, 1.0, "mean_image(images)", "Divide by 255 and average with .mean(dim=0)")
    expect(abs(out[0, 0].item() - 1.0) < 1e-5,
           f"Average over dim=0 (the images): a pixel that is 255 in every image should average to 1.0, "
           f"got {out[0, 0].item():.4g}")
    expect(abs(out[27, 27].item() - 0.5) < 1e-5,
           f"Average over dim=0 (the images): a pixel that is 255 in half the images should average to 0.5, "
           f"got {out[27, 27].item():.4g}")
    passed("mean_image averages over the images, giving one 28x28 picture in [0, 1]")
