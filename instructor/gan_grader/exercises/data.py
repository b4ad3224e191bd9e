"""Session 1: data: what the judge asks for each graded exercise of ``01_data``, and how it marks it."""

import torch

from helpers import data

from .marking import Exercise, Unjudged, draws, need, need_close

SESSION = "01_data"

def _pixels(seed):
    return torch.randint(0, 256, (3, 5, 7), generator=draws(seed), dtype=torch.uint8)


def ask_to_minus_one_one(answer, seed):
    """``{"out": answer(pixels) [3, 5, 7], "input_after": the pixels passed, afterwards}``."""
    given = _pixels(seed)
    return {"out": answer(given), "input_after": given}


def mark_to_minus_one_one(reply, seed):
    pixels, out = _pixels(seed), reply["out"]
    need(isinstance(out, torch.Tensor) and out.dtype == torch.float32, "to_minus_one_one should return float32")
    need_close(out, data.convert_pixels(pixels, "uint8", "tanh"), "to_minus_one_one(pixels)")
    need(torch.equal(reply["input_after"], pixels), "to_minus_one_one changed its input")


def _tanh_images(seed):
    return torch.rand(4, 28, 28, generator=draws(seed, 1)) * 2 - 1


def ask_to_zero_one(answer, seed):
    """``{"out": answer(x) [4, 28, 28]}`` for x in [-1, 1]."""
    return {"out": answer(_tanh_images(seed))}


def mark_to_zero_one(reply, seed):
    need_close(reply["out"], data.convert_pixels(_tanh_images(seed), "tanh", "unit"), "to_zero_one(x)", 1e-6)


def _loader_batch(seed):
    return 10 + int(seed) % 23


def ask_make_mnist_loader(answer, seed):
    """The first batch of two passes over ``answer(batch_size)``: images [B, 1, 28, 28] and labels [B] each."""
    loader = answer(_loader_batch(seed))
    (images, labels), (images2, labels2) = next(iter(loader)), next(iter(loader))
    return {"images": images, "labels": labels, "images2": images2, "labels2": labels2}


def mark_make_mnist_loader(reply, seed):
    b, images, labels = _loader_batch(seed), reply["images"], reply["labels"]
    need(isinstance(images, torch.Tensor) and tuple(images.shape) == (b, 1, 28, 28) and images.dtype == torch.float32,
         f"a batch of {b} should be float32 images [{b}, 1, 28, 28]")
    need(isinstance(labels, torch.Tensor) and tuple(labels.shape) == (b,) and labels.dtype == torch.int64,
         f"a batch of {b} should have int64 labels [{b}]")
    need(bool(torch.isfinite(images).all()) and images.min() >= -1 - 1e-5 and images.max() <= 1 + 1e-5
         and images.min() < -0.99, "the images should be in [-1, 1] (ToTensor, then Normalize((0.5,), (0.5,)))")
    need(not torch.equal(images, reply["images2"]), "two passes over the loader began with the same batch: shuffle it")
    known = _training_images()
    for image, label in zip(images, labels):
        pixels = data.convert_pixels(image.clamp(-1, 1), "tanh", "uint8").numpy().tobytes()
        need(pixels in known, "the images are not MNIST's training images: build the loader on the 'train' split")
        need(known[pixels] == int(label), "an image came with another image's label")


_TRAINING = {}


def _training_images():
    """``{image bytes: label}`` for MNIST's training split (read once)."""
    if not _TRAINING:
        try:
            images, labels = data.load_mnist("train", download=False)
        except Exception as error:  # noqa: BLE001 - no data, no verdict: the instructor is told
            raise Unjudged(f"MNIST's training split could not be read here: {error}") from None
        _TRAINING.update(zip((i.numpy().tobytes() for i in images), labels.tolist()))
    return _TRAINING


def _labels(seed):
    g = draws(seed, 2)
    return torch.randint(0, 7, (int(torch.randint(20, 60, (1,), generator=g)),), generator=g)


def ask_class_counts(answer, seed):
    """``{"ten": answer(labels) [10], "twelve": answer(labels, 12) [12]}``; no label is above 6."""
    return {"ten": answer(_labels(seed)), "twelve": answer(_labels(seed), 12)}


def mark_class_counts(reply, seed):
    labels = _labels(seed)
    for key, n in (("ten", 10), ("twelve", 12)):
        counts = reply[key]
        need(isinstance(counts, torch.Tensor) and counts.dtype == torch.int64,
             "class_counts should return an int64 tensor")
        need(torch.equal(counts, torch.bincount(labels, minlength=n)),
             f"class_counts(labels, {n}) gave {counts.tolist()}, expected {torch.bincount(labels, minlength=n).tolist()}")


def _uint8_images(seed):
    return torch.randint(0, 256, (9, 28, 28), generator=draws(seed, 3), dtype=torch.uint8)


def ask_mean_image(answer, seed):
    """``{"mean": answer(images) [28, 28]}``."""
    return {"mean": answer(_uint8_images(seed))}


def mark_mean_image(reply, seed):
    mean = reply["mean"]
    need(isinstance(mean, torch.Tensor) and mean.dtype == torch.float32, "mean_image should return float32")
    need_close(mean, _uint8_images(seed).double().mean(0) / 255, "mean_image(images)")


EXERCISES = {
    "test_to_minus_one_one": Exercise("to_minus_one_one", ask_to_minus_one_one, mark_to_minus_one_one),
    "test_to_zero_one": Exercise("to_zero_one", ask_to_zero_one, mark_to_zero_one),
    "test_make_mnist_loader": Exercise("make_mnist_loader", ask_make_mnist_loader, mark_make_mnist_loader),
    "test_class_counts": Exercise("class_counts", ask_class_counts, mark_class_counts),
    "test_mean_image": Exercise("mean_image", ask_mean_image, mark_mean_image),
}
