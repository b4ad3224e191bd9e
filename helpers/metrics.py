"""Measuring a GAN with numbers: a digit classifier the course trains itself, and what it sees.

Eyes are a poor judge of a generator. Session 4 measures it instead, through
a small CNN that classifies MNIST digits (``digit_classifier``): no weights
are downloaded, the course trains it in about a minute on a CPU and caches it
under the data root. From its 128 penultimate features and its class
probabilities come:

- ``frechet_distance``: the Frechet distance between two Gaussians, here the
  real and generated feature distributions (classifier-feature FD; FID is the
  same formula on Inception features). Lower is better; it always stands next
  to its **floor** (real train vs real test: the best a generator can do) and a
  **collapse reference** (one real digit repeated: what total collapse costs);
- ``class_coverage``: which digits the samples are, how evenly (entropy, at
  most ln 10) and how confidently;
- ``precision_recall``: k-nearest-neighbour manifolds in feature space
  (Kynkaenniemi et al. 2019): precision, the share of samples that look like
  some real digit; recall, the share of real digits that some sample resembles.

``evaluate_generator(G, latent_shape)`` gives all of them at once, as a
``Scores`` that prints as a short report. For a conditional G (session 5),
``evaluate_conditional`` adds the **conditional accuracy** (how often the
classifier sees the digit G was asked for) and the FD of each digit on its
own, next to that digit's floor.
"""

import io
import math
import sys
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import why_not_written, write_atomically
from .data import PIXEL_RANGES, convert_pixels, data_root, load_mnist
from .guards import (describe, range_problem, require_number, require_range, require_tensor, require_whole,
                     whole_problem)
from .runtime import available_memory, fast_mode, resolve_device
from .taught import answers

FEATURES = 128  # the classifier's penultimate width: the feature space every metric here works in
MIN_SAMPLES = 200  # the fewest samples a report measures (evaluate_images, evaluate_generator, the evaluate command)
MIN_FD_SAMPLES = 50  # the fewest a Frechet distance is taken from (gaussian_statistics); see there why
MIN_CLASS_SAMPLES = 100  # the fewest samples of each digit evaluate_conditional draws: each digit's real set, a
# random tenth of 10 * n real digits, must then hold MIN_FD_SAMPLES as well
BYTES_PER_SAMPLE = 36_000  # memory a measurement takes per sample, for check_sample_count: peak memory grows by
# 31-33 KB a sample from 2,000 to 20,000 samples (benchmarks/sample_size.py), rounded up
CACHE_FORMAT = "gan-course-digit-classifier"
CACHE_VERSION = 2
FULL = {"kind": "full", "train_images": 60000, "epochs": 3}
FAST = {"kind": "fast", "train_images": 2000, "epochs": 2}   # fast mode: seconds, and every number says so


# ---------------------------------------------------------------------------
# The classifier
# ---------------------------------------------------------------------------

class DigitClassifier(nn.Module):
    """A small CNN: images ``[B, 1, 28, 28]`` in [-1, 1] -> logits ``[B, 10]``.

    ``features(x)`` gives the 128 numbers before the last layer, ``[B, 128]``,
    taken before their ReLU: after it, many are 0 for anything that is not a
    digit, and a plain grey image would land inside the real digits' cloud.
    ``kind`` ("full" or "fast") and ``test_accuracy`` say how it was trained.
    """

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 14x14
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 7x7
            nn.Flatten(), nn.Linear(64 * 7 * 7, FEATURES),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(FEATURES, 10))
        self.kind = "untrained"
        self.test_accuracy = float("nan")

    def forward(self, x):
        return self.head(self.features(x))


def digit_classifier(device=None, kind=None, root=None, verbose=True):
    """The course's trained digit classifier, from the cache or trained now (and cached).

    ``kind``: ``"full"`` (all 60,000 training images, about a minute on a
    2-core CPU) or ``"fast"`` (2,000 images, seconds); default ``"fast"`` in
    fast mode, else ``"full"``. The cache is ``<data root>/classifier/``; a
    damaged or foreign cache file is retrained with a one-line notice.
    Returns a ``DigitClassifier`` in eval mode on ``device``.
    """
    kind = kind or ("fast" if fast_mode() else "full")
    setting = {"full": FULL, "fast": FAST}.get(kind)
    if setting is None:
        raise ValueError(f"kind must be 'full' or 'fast', got {kind!r}")
    device = resolve_device(device)
    path = data_root(root) / "classifier" / f"digits-cnn-v{CACHE_VERSION}-{kind}.pt"
    model = _load_cached(path, setting, verbose)
    if model is None:
        model = train_classifier(setting, root=root, verbose=verbose)
        _save_cached(path, model, setting)
    return for_inference(model, device)


def for_inference(model, device="cpu"):
    """``model`` on ``device``, in eval mode, its weights laid out channels-last (NHWC).

    The same numbers as the default layout (features within 1e-5; the floor
    and the collapse reference unchanged), but on a CPU the classifier's
    convolutions and pooling ran 2-4 times faster in NHWC, and every metric
    here spends most of its time in them (measured on the course's 2-core
    CPU; the test suite's time fell from 812 to 674 s).
    """
    return model.to(device, memory_format=torch.channels_last).eval()


def _load_cached(path, setting, verbose):
    """The cached classifier at ``path``, or None (with a one-line notice if the file is unusable)."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != CACHE_FORMAT or state.get("setting") != setting:
            raise ValueError("not this course's classifier, or trained another way")
        model = DigitClassifier()
        model.load_state_dict(state["weights"])
    except Exception as error:  # noqa: BLE001 - any unreadable cache means: train again
        if verbose:
            print(f"note: the cached digit classifier {path} is unusable ({type(error).__name__}: "
                  f"{str(error).splitlines()[0][:80] if str(error) else 'damaged'}); training a new one",
                  file=sys.stderr)
        return None
    model.kind, model.test_accuracy = setting["kind"], float(state["test_accuracy"])
    return model


def _save_cached(path, model, setting):
    """Write the classifier atomically (``checkpoints.write_atomically``); a failure is a one-line notice."""
    payload = io.BytesIO()
    torch.save({"format": CACHE_FORMAT, "setting": setting, "test_accuracy": model.test_accuracy,
                "weights": model.state_dict()}, payload)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, payload.getbuffer())
    except OSError as error:
        print(f"note: could not cache the digit classifier in {path.parent} ({why_not_written(error)}); "
              f"it will be trained again next time", file=sys.stderr)


def train_classifier(setting=FULL, root=None, verbose=True, seed=0):
    """Train a ``DigitClassifier`` on MNIST train and measure it on MNIST test; return it (CPU, eval).

    Adam with a one-cycle learning rate, batch 128, a few pixels of random
    shift as augmentation. ``setting``: ``FULL`` or ``FAST``.
    """
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    images, labels = load_mnist("train", root=root)
    images = convert_pixels(images[: setting["train_images"]], "uint8", "tanh").unsqueeze(1)
    labels = labels[: setting["train_images"]]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = DigitClassifier()
    batch = 128
    steps = setting["epochs"] * (len(images) // batch)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=4e-3, total_steps=steps)
    model.train()
    for _ in range(setting["epochs"]):
        order = torch.randperm(len(images), generator=generator)
        for b in range(len(images) // batch):
            idx = order[b * batch:(b + 1) * batch]
            x = _shift(images[idx], generator)
            loss = F.cross_entropy(model(x), labels[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
    model = for_inference(model)
    test_images, test_labels = load_mnist("test", root=root)
    predicted = predict(model, convert_pixels(test_images, "uint8", "tanh").unsqueeze(1)).argmax(1)
    model.kind, model.test_accuracy = setting["kind"], (predicted == test_labels).float().mean().item()
    if verbose:
        print(f"trained the {model.kind} digit classifier on {len(images):,} images in "
              f"{time.perf_counter() - started:.0f} s: {model.test_accuracy:.2%} test accuracy", file=sys.stderr)
    return model


def _shift(x, generator, pixels=2):
    """Each image moved by up to ``pixels`` in x and y (background -1 fills in): cheap augmentation."""
    dx, dy = (torch.randint(-pixels, pixels + 1, (2,), generator=generator)).tolist()
    return torch.roll(F.pad(x, (pixels,) * 4, value=-1.0), shifts=(dy, dx), dims=(2, 3))[
        :, :, pixels:pixels + 28, pixels:pixels + 28]


@torch.no_grad()
def predict(classifier, images, batch=1000):
    """Class probabilities ``[N, 10]`` for images ``[N, 1, 28, 28]`` in [-1, 1] (on the CPU)."""
    return torch.cat([F.softmax(classifier(chunk), 1).cpu() for chunk in _chunks(classifier, images, batch)])


@torch.no_grad()
def features_and_probabilities(classifier, images, batch=1000):
    """``(features [N, 128], probabilities [N, 10])`` for images ``[N, 1, 28, 28]`` in [-1, 1], on the CPU."""
    feats, probs = [], []
    for chunk in _chunks(classifier, images, batch):
        f = classifier.features(chunk)
        feats.append(f.cpu())
        probs.append(F.softmax(classifier.head(f), 1).cpu())
    return torch.cat(feats), torch.cat(probs)


def _chunks(classifier, images, batch):
    """``images`` in pieces of ``batch``, as float32 on the classifier's device, after checking their shape."""
    require_tensor(images, "images", ndims=(4,))
    if tuple(images.shape[1:]) != (1, 28, 28) or not images.is_floating_point():
        raise ValueError(f"the digit classifier reads float images [N, 1, 28, 28] in [-1, 1], got {describe(images)}")
    require_range(images, -math.inf, math.inf, "the digit classifier needs images of numbers")
    device = next(classifier.parameters()).device
    for start in range(0, len(images), batch):
        yield images[start:start + batch].to(device).float()


# ---------------------------------------------------------------------------
# The metrics
# ---------------------------------------------------------------------------

def gaussian_statistics(features, minimum=MIN_FD_SAMPLES):
    """Mean ``[D]`` and covariance ``[D, D]`` of features ``[N, D]``, in float64.

    Refuses fewer than ``minimum`` samples (default ``MIN_FD_SAMPLES``, 50)
    and features that are not numbers. A Frechet distance from few samples is
    mostly sampling error: two sets drawn from one 128-dimensional standard
    normal are FD 220-240 apart with 10 samples each, 130 with 50, 8.5 with
    1,000 and 1.7 with 5,000 (``benchmarks/sample_size.py`` prints these). So
    every FD the course prints stands next to a floor taken from as many real
    samples.
    """
    require_tensor(features, "features", ndims=(2,))
    if not features.is_floating_point():
        raise TypeError(f"features must be float numbers [N, D], got {describe(features)}")
    if len(features) < max(minimum, 2):
        raise ValueError(f"a Frechet distance needs the statistics of at least {max(minimum, 2)} samples (from "
                         f"fewer it is mostly sampling error: 10 against 10 of one distribution give about 230), "
                         f"got {len(features)} ({describe(features)})")
    require_range(features, -math.inf, math.inf, "features must be numbers")
    x = features.double()
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / (len(x) - 1)


@answers("04_evaluate", "frechet_distance")
def frechet_distance(mean1, cov1, mean2, cov2):
    """Frechet distance between N(mean1, cov1) and N(mean2, cov2): a float >= 0.

    ``||m1 - m2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2))``, computed in float64. The
    trace of the matrix square root uses ``(C1 C2)^(1/2)`` having the same
    eigenvalues as ``C1^(1/2) C2 C1^(1/2)``, which is symmetric: two symmetric
    eigen-decompositions, stable even for near-singular covariances (where
    ``scipy.linalg.sqrtm`` of ``C1 C2`` can return complex noise).
    Means ``[D]`` and covariances ``[D, D]`` of one ``D``, every value a number.
    Taught in session 4, section 2 (Exercise 1).
    """
    _check_gaussian(mean1, cov1, "first")
    _check_gaussian(mean2, cov2, "second")
    if len(mean1) != len(mean2):
        raise ValueError(f"both Gaussians must live in one feature space: the first has {len(mean1)} features, "
                         f"the second {len(mean2)}")
    m1, m2 = mean1.double(), mean2.double()
    c1, c2 = cov1.double(), cov2.double()
    values, vectors = torch.linalg.eigh(c1)
    root1 = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
    middle = root1 @ c2 @ root1
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (m1 - m2).square().sum() + torch.trace(c1) + torch.trace(c2) - 2 * trace_root
    return max(distance.item(), 0.0)


def _check_gaussian(mean, cov, which):
    """Raise unless ``mean [D]`` and ``cov [D, D]`` are float tensors of numbers (``frechet_distance``'s door)."""
    require_tensor(mean, f"the {which} mean", ndims=(1,))
    require_tensor(cov, f"the {which} covariance", ndims=(2,))
    if tuple(cov.shape) != (len(mean), len(mean)):
        raise ValueError(f"the {which} covariance must be [D, D] for a mean of D = {len(mean)} features, "
                         f"got {describe(cov)}")
    for what, x in (("mean", mean), ("covariance", cov)):
        if not x.is_floating_point():
            raise TypeError(f"the {which} {what} must be float numbers, got {describe(x)}")
        require_range(x, -math.inf, math.inf, f"the {which} {what} must be numbers")


@answers("04_evaluate", "class_coverage")
def class_coverage(probabilities, threshold=0.05):
    """What the classifier says a set of samples is.

    ``probabilities``: ``[N, 10]``, each row summing to 1 (N at least 1).
    Returns a dict:
    ``counts`` (samples per predicted class, a list of 10), ``covered`` (how
    many classes hold at least ``threshold`` of the samples), ``entropy`` (of
    the predicted-class histogram, in nats; at most ln 10 = 2.303, for a
    perfectly even spread) and ``confidence`` (the mean top probability).
    Taught in session 4, section 3 (Exercise 2).
    """
    require_tensor(probabilities, "probabilities", ndims=(2,))
    if not probabilities.is_floating_point() or len(probabilities) == 0:
        raise ValueError(f"class_coverage needs the probabilities of at least one sample, [N, classes] floats, "
                         f"got {describe(probabilities)}")
    require_range(probabilities, 0, 1, "probabilities must be in [0, 1]")
    require_number(threshold, "threshold (a share of the samples)", above=0, at_most=1)
    counts = torch.bincount(probabilities.argmax(1), minlength=probabilities.shape[1])
    share = counts.double() / counts.sum()
    nonzero = share[share > 0]
    return {
        "counts": counts.tolist(),
        "covered": int((share >= threshold).sum()),
        "entropy": max(0.0, float(-(nonzero * nonzero.log()).sum())),  # never print -0.000
        "confidence": float(probabilities.max(1).values.mean()),
    }


def precision_recall(real_features, fake_features, k=3, batch=2000):
    """Improved precision and recall (Kynkaenniemi et al. 2019): ``(precision, recall)``, floats in [0, 1].

    Each real point gets a ball reaching its k-th nearest real neighbour; the
    union of those balls is the real manifold. Precision is the share of fake
    points inside it. Recall is the same with the roles swapped.
    ``real_features`` ``[N, D]``, ``fake_features`` ``[M, D]``: more than
    ``k`` points each, every value a number.
    """
    require_whole(k, "k (neighbours)")
    for name, x in (("real_features", real_features), ("fake_features", fake_features)):
        require_tensor(x, name, ndims=(2,))
        if len(x) <= k:
            raise ValueError(f"{name} must hold more than k = {k} points (each needs {k} neighbours), "
                             f"got {describe(x)}")
        require_range(x, -math.inf, math.inf, f"{name} must be numbers")
    if real_features.shape[1] != fake_features.shape[1]:
        raise ValueError(f"real and fake features must have as many features each, got {describe(real_features)} "
                         f"and {describe(fake_features)}")
    real, fake = real_features.float(), fake_features.float()
    return _inside_share(fake, real, k, batch), _inside_share(real, fake, k, batch)


def _inside_share(points, manifold, k, batch):
    """The share of ``points`` inside any k-NN ball of ``manifold``."""
    radii = torch.cat([torch.cdist(manifold[i:i + batch], manifold).kthvalue(k + 1, dim=1).values
                       for i in range(0, len(manifold), batch)])  # k + 1: each point is its own nearest
    inside = torch.cat([(torch.cdist(points[i:i + batch], manifold) <= radii).any(1)
                        for i in range(0, len(points), batch)])
    return inside.float().mean().item()


# ---------------------------------------------------------------------------
# All of it for a generator, next to its references
# ---------------------------------------------------------------------------

@dataclass
class Scores:
    """Every number ``evaluate_generator`` measures; ``str()`` gives a short report."""

    fd: float
    floor: float
    collapse: float
    covered: int
    entropy: float
    confidence: float
    precision: float
    recall: float
    samples: int
    classifier: str
    counts: list = field(default_factory=list)

    def as_dict(self):
        """Plain numbers, for ``history.json`` and TensorBoard."""
        return {key: value for key, value in self.__dict__.items()}

    def __str__(self):
        note = "" if self.classifier == "full" else f"  [{self.classifier} classifier: rough numbers]"
        return (f"FD {self.fd:.2f} (floor {self.floor:.2f}, one repeated digit {self.collapse:.1f}; "
                f"{self.fd / max(self.floor, 1e-9):.1f}x the floor)\n"
                f"classes with >= 5% of {self.samples:,} samples: {self.covered}/10, entropy "
                f"{self.entropy:.3f} (max {math.log(10):.3f}), mean confidence {self.confidence:.3f}\n"
                f"precision {self.precision:.3f}, recall {self.recall:.3f} (k=3){note}")


class References:
    """The real-data side of every measurement, computed once per classifier.

    ``test``: features and probabilities of ``n`` real test digits (what
    samples are compared with); ``floor``: FD of ``n`` real training digits
    against them; ``collapse``: FD of one real digit repeated against them.

    Both sets of ``n`` are drawn at random (a fixed seed), never the first
    ``n`` of a file: MNIST's files are in order of who wrote the digits. The
    test split's first 5,000 digits are from one group of writers and its
    last 5,000 from another, and with the full classifier the two halves are
    FD 222 apart (two random halves: 6.5). The training split's first 10,000
    are FD 10.9 from the test split, a random 10,000 of it 7.0 to 8.3
    (``benchmarks/quality.py --floors`` prints these).
    ``test_indices``, ``train_indices``: which digits of each split were used.
    """

    def __init__(self, classifier, n, root=None):
        test_images, test_labels = load_mnist("test", root=root)
        train_images, train_labels = load_mnist("train", root=root)
        self.test_indices = random_subset(len(test_images), n)
        self.train_indices = random_subset(len(train_images), n)
        as_tanh = lambda x: convert_pixels(x, "uint8", "tanh").unsqueeze(1)  # noqa: E731
        self.features, _ = features_and_probabilities(classifier, as_tanh(test_images[self.test_indices]))
        self.labels = test_labels[self.test_indices]
        self.statistics = gaussian_statistics(self.features)
        self.train_features, _ = features_and_probabilities(classifier, as_tanh(train_images[self.train_indices]))
        self.train_labels = train_labels[self.train_indices]
        self.floor = frechet_distance(*gaussian_statistics(self.train_features), *self.statistics)
        one = self.train_features[:1].double()
        self.collapse = frechet_distance(one[0], torch.zeros(FEATURES, FEATURES, dtype=torch.float64),
                                         *self.statistics)

    def class_statistics(self, digit):
        """Mean and covariance of the real test features of one digit."""
        return gaussian_statistics(self.features[self.labels == digit])

    def class_floor(self, digit):
        """FD of real training digits of one class against the real test digits of that class."""
        return frechet_distance(*gaussian_statistics(self.train_features[self.train_labels == digit]),
                                *self.class_statistics(digit))


def random_subset(count, n, seed=0):
    """``n`` of the indices ``0 .. count - 1`` (all of them if ``n >= count``), in a random order fixed by ``seed``.

    How the course picks real digits to measure against (session 4, section 2):
    at random, because MNIST's files are in order of writer.
    """
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:n]


def references(classifier, n, root=None):
    """``References`` for this classifier and sample count, computed on first use and kept on the classifier."""
    cache = classifier.__dict__.setdefault("_references", {})
    key = (n, str(data_root(root)))
    if key not in cache:
        cache[key] = References(classifier, n, root)
    return cache[key]


def check_sample_count(n, minimum=MIN_SAMPLES):
    """Raise ``ValueError`` unless ``n`` samples are enough to measure (``minimum``) and fit in memory.

    The memory is estimated up front (``BYTES_PER_SAMPLE`` a sample) and
    compared with what this machine has available now, so a huge ``n`` is
    refused in words instead of running until the memory is gone.
    """
    problem = whole_problem(n, minimum)
    if problem:
        raise ValueError(f"the metrics need at least {minimum} samples (a covariance of {FEATURES} features, and a "
                         f"floor from as many): {problem}")
    needed, available = n * BYTES_PER_SAMPLE, available_memory()
    if available is not None and needed > 0.8 * available:
        most = int(0.8 * available // BYTES_PER_SAMPLE)
        raise ValueError(f"measuring {n:,} samples needs about {needed / 2**30:.1f} GB of memory, and this machine "
                         f"has {available / 2**30:.1f} GB available: use at most about {most:,} samples")


def check_samples(images, pixel_range="tanh", minimum=MIN_SAMPLES):
    """Raise ``ValueError``/``TypeError`` unless ``images`` are enough MNIST-shaped samples in ``pixel_range``."""
    require_tensor(images, "samples", ndims=(2, 4))
    if not images.is_floating_point():
        raise TypeError(f"samples must be float images in the {pixel_range!r} range, got {describe(images)}")
    if images.dim() == 2:
        images = images.reshape(-1, 1, 28, 28) if images.shape[1] == 784 else images
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"samples must be MNIST-sized images [N, 1, 28, 28] (or flat [N, 784]), got {describe(images)}")
    check_sample_count(len(images), minimum)
    low, high = PIXEL_RANGES[pixel_range]
    problem = range_problem(images, low, high, tolerance=1e-3)
    if problem:
        raise ValueError(f"samples must be in the {pixel_range!r} range: {problem}")
    if pixel_range == "tanh" and images.min() >= 0:
        raise ValueError("samples look like [0, 1] images (no value below 0), but [-1, 1] was expected: "
                         "convert them with data.convert_pixels(x, 'unit', 'tanh'), or pass pixel_range='unit'")
    return convert_pixels(images, pixel_range, "tanh")


@torch.no_grad()
def sample_images(generator, latent_shape, n, device=None, seed=0, batch=1000, labels=None):
    """``n`` images from ``generator`` in eval mode, on the CPU: ``[n, ...]`` as G returns them.

    ``labels``: for a conditional G, the ``n`` labels ``[n]`` to ask for.
    """
    require_whole(n, "n (samples)")
    require_whole(batch, "batch")
    if labels is not None and (not isinstance(labels, torch.Tensor) or labels.shape != (n,)):
        raise ValueError(f"labels must be one per sample, shape ({n},), got {describe(labels)}")
    device = device or next(generator.parameters()).device
    noise = torch.Generator().manual_seed(seed)
    was_training = generator.training
    generator.eval()
    try:
        out = []
        for i in range(0, n, batch):
            z = torch.randn(min(batch, n - i), *latent_shape, generator=noise).to(device)
            given = () if labels is None else (labels[i:i + batch].to(device),)
            out.append(generator(z, *given).float().cpu())
    finally:
        generator.train(was_training)
    return torch.cat(out)


def evaluate_images(images, classifier=None, pixel_range="tanh", root=None):
    """``Scores`` for a batch of generated images ``[N, 1, 28, 28]`` (or ``[N, 784]``)."""
    classifier = classifier or digit_classifier(root=root)
    images = check_samples(images, pixel_range)
    return _scores(classifier, *features_and_probabilities(classifier, images), root)


def _scores(classifier, fake_features, fake_probabilities, root):
    """``Scores`` from the classifier's features ``[N, 128]`` and probabilities ``[N, 10]`` of N samples."""
    n = len(fake_features)
    refs = references(classifier, n, root)
    coverage = class_coverage(fake_probabilities)
    precision, recall = precision_recall(refs.features[:n], fake_features)
    return Scores(fd=frechet_distance(*gaussian_statistics(fake_features), *refs.statistics),
                  floor=refs.floor, collapse=refs.collapse, covered=coverage["covered"],
                  entropy=coverage["entropy"], confidence=coverage["confidence"], precision=precision,
                  recall=recall, samples=n, classifier=classifier.kind, counts=coverage["counts"])


def evaluate_generator(generator, latent_shape, n=None, classifier=None, pixel_range="tanh", root=None, seed=0):
    """``Scores`` for ``n`` samples of ``generator`` (default 10,000; 1,000 in fast mode)."""
    n = (1000 if fast_mode() else 10000) if n is None else n
    check_sample_count(n)
    images = sample_images(generator, latent_shape, n, seed=seed)
    return evaluate_images(images, classifier, pixel_range, root)


# ---------------------------------------------------------------------------
# A conditional generator: does it draw the digit it is asked for?
# ---------------------------------------------------------------------------

def balanced_labels(n_per_class, n_classes=10):
    """``[0]*n, [1]*n, ..., [9]*n`` as one int64 tensor ``[n_classes * n_per_class]``."""
    return torch.arange(n_classes).repeat_interleave(n_per_class)


@answers("05_conditional", "conditional_accuracy")
def conditional_accuracy(predicted, requested, n_classes=10):
    """``(overall, per_class)``: how often the predicted digit is the requested one.

    ``predicted``, ``requested``: int64 ``[N]``. ``overall``: a float in
    [0, 1]; ``per_class``: ``[n_classes]``, the accuracy for each requested
    digit. A G that ignores its label scores about 1 / n_classes. Taught in
    session 5, section 7 (Exercise 6, where the samples are drawn as well).
    """
    for name, x in (("predicted", predicted), ("requested", requested)):
        require_tensor(x, name, dtypes=(torch.int64,), ndims=(1,))
        require_range(x, 0, n_classes - 1, f"{name} must be class numbers from 0 to {n_classes - 1}", tolerance=0)
    if predicted.shape != requested.shape or len(requested) == 0:
        raise ValueError(f"predicted and requested must be one class each per sample, at least one sample, "
                         f"got {describe(predicted)} and {describe(requested)}")
    hits = (predicted == requested).double()
    per_class = torch.zeros(n_classes, dtype=torch.float64).index_add_(0, requested, hits)
    per_class /= torch.bincount(requested, minlength=n_classes).clamp(min=1)
    return hits.mean().item(), per_class


@dataclass
class ConditionalScores(Scores):
    """``Scores`` plus what only a conditional G has: accuracy and FD, per digit."""

    accuracy: float = 0.0
    class_accuracy: list = field(default_factory=list)
    class_fd: list = field(default_factory=list)
    class_floor: list = field(default_factory=list)

    def __str__(self):
        worst = min(range(len(self.class_accuracy)), key=self.class_accuracy.__getitem__)
        per_digit = "  ".join(f"{k}: {fd:.1f} ({floor:.1f})"
                              for k, (fd, floor) in enumerate(zip(self.class_fd, self.class_floor)))
        return (f"{super().__str__()}\n"
                f"conditional accuracy {self.accuracy:.1%} (the digit asked for; worst: {worst} at "
                f"{self.class_accuracy[worst]:.1%})\n"
                f"FD per digit (floor): {per_digit}")


def evaluate_conditional(generator, latent_shape, n_per_class=None, classifier=None, pixel_range="tanh", root=None,
                         seed=0):
    """``ConditionalScores`` for a conditional ``generator(z, labels)``.

    Draws ``n_per_class`` samples of every digit (default 1,000; 100 in fast
    mode) and measures them all (as ``evaluate_generator`` does), then each
    digit's conditional accuracy and its FD against the real test digits of
    that class, next to that class's floor.
    """
    n_per_class = (100 if fast_mode() else 1000) if n_per_class is None else n_per_class
    require_whole(n_per_class, f"n_per_class (the FD of each digit needs at least {MIN_CLASS_SAMPLES} samples of it)",
                  MIN_CLASS_SAMPLES)
    check_sample_count(10 * n_per_class)
    classifier = classifier or digit_classifier(root=root)
    requested = balanced_labels(n_per_class)
    images = check_samples(sample_images(generator, latent_shape, len(requested), seed=seed, labels=requested),
                           pixel_range)
    features, probabilities = features_and_probabilities(classifier, images)
    overall = _scores(classifier, features, probabilities, root)
    accuracy, per_class = conditional_accuracy(probabilities.argmax(1), requested)
    refs = references(classifier, len(images), root)
    class_fd = [frechet_distance(*gaussian_statistics(features[requested == k]), *refs.class_statistics(k))
                for k in range(10)]
    return ConditionalScores(**overall.as_dict(), accuracy=accuracy, class_accuracy=per_class.tolist(),
                             class_fd=class_fd, class_floor=[refs.class_floor(k) for k in range(10)])


def evaluate_recipe(generator, recipe, n=None, classifier=None, root=None):
    """``Scores`` for ``generator``, a G of ``recipe`` (``recipes.Recipe``): ``evaluate_generator``, or
    ``evaluate_conditional`` for a conditional recipe.

    ``n``: samples in all (default: the metrics' own; a conditional recipe
    draws ``n // 10`` of each digit). ``classifier``: default the course's.
    """
    if recipe.conditional:
        return evaluate_conditional(generator, recipe.latent_shape, None if n is None else max(n // 10, 1),
                                    classifier=classifier, pixel_range=recipe.pixel_range, root=root)
    return evaluate_generator(generator, recipe.latent_shape, n=n, classifier=classifier,
                              pixel_range=recipe.pixel_range, root=root)
