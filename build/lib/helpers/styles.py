"""Styles: clusters of each digit's training images, the finer labels the course's conditional GAN trains on.

Ten labels are coarse: "7" covers sevens with and without a bar, upright and
slanted. A conditional G given only the digit must still choose the style on
its own. The course's ``cgan`` recipe takes that choice off its hands too: it
splits each digit's training images into a few styles with k-means (no one
labels them: the clusters are found in the pixels), and trains G and D on the
style's number instead of the digit's. Everything else in the training is the
same conditional GAN, with ``10 * per_digit`` labels instead of 10.

To draw a digit, ``StyleSampler`` picks one of that digit's styles, in
proportion to how many training images it holds, and asks G for it.

The idea is that of self-conditioned GANs (Liu et al., 2020, "Diverse image
generation via self-conditioned GANs"), which cluster with no labels at all;
here the clusters are found within each digit. On a 2-core CPU, after 5
minutes of training, it brings the conditional GAN's FD from about 36 down
to about 23 (``benchmarks/quality.py --settings cgan``, and ``--styles 1``
for one label per digit; ``benchmarks/README.md`` has the runs). Taught in
session 5, section 9.
"""

import math

import torch
from torch import nn

from .guards import describe, range_problem, require_range, require_tensor, require_whole

NAN_POINTS = "{} needs points that are all numbers (one NaN point makes a NaN centre)"


def principal_components(points, dims):
    """``points [N, F]`` projected on their ``dims`` directions of largest variance: ``[N, dims]`` (float32).

    Computed exactly, from the eigenvectors of the ``[F, F]`` covariance (in
    float64): the same points always give the same projection.
    """
    if points.dim() != 2 or not 1 <= dims <= points.shape[1]:
        raise ValueError(f"principal_components needs points [N, F] and 1 <= dims <= F, got {describe(points)} "
                         f"and dims={dims!r}")
    require_range(points, -math.inf, math.inf, NAN_POINTS.format("principal_components"))
    centred = points.double() - points.double().mean(0)
    _, vectors = torch.linalg.eigh(centred.T @ centred)  # eigenvalues in ascending order
    return (centred @ vectors[:, -dims:].flip(1)).float()


def kmeans(points, k, iterations=30, seed=0):
    """Lloyd's k-means: the cluster of each of ``points [N, F]``, ``[N]`` int64 in ``0 .. k - 1``.

    The centres start at ``k`` points drawn with ``seed``; each iteration
    assigns every point to its nearest centre, then moves each centre to the
    mean of its points (a centre left without points jumps to a random point).
    ``k`` must be from 1 to N.
    """
    require_whole(k, "kmeans' k (clusters)")
    if points.dim() != 2 or k > len(points):
        raise ValueError(f"kmeans needs points [N, F] and 1 <= k <= N, got {describe(points)} and k={k!r}")
    require_range(points, -math.inf, math.inf, NAN_POINTS.format("kmeans"))
    draws = torch.Generator().manual_seed(seed)
    centres = points[torch.randperm(len(points), generator=draws)[:k]].clone()
    for _ in range(iterations):
        nearest = torch.cdist(points, centres).argmin(1)
        for j in range(k):
            members = points[nearest == j]
            if len(members):
                centres[j] = members.mean(0)
            else:
                centres[j] = points[torch.randint(len(points), (1,), generator=draws)][0]
    return torch.cdist(points, centres).argmin(1)


def style_labels(images, digits, per_digit, dims=50, seed=0):
    """The style of each training image: ``digit * per_digit + cluster``, ``[N]`` int64 in ``0 .. 10 * per_digit - 1``.

    ``images``: ``[N, 1, 28, 28]`` (any pixel range); ``digits``: ``[N]``
    int64 in 0..9. Each digit's images are clustered on their own (k-means on
    the ``dims`` principal components of all the images), into ``per_digit``
    styles, or into as many as it has images if that is fewer.
    """
    if not isinstance(per_digit, int) or per_digit < 1:
        raise ValueError(f"per_digit must be a whole number of styles, at least 1, got {per_digit!r}")
    if len(images) != len(digits) or digits.dtype != torch.int64 or len(images) == 0:
        raise ValueError(f"style_labels needs images [N, ...] and digits [N] (int64), got {describe(images)} "
                         f"and {describe(digits)}")
    problem = range_problem(digits, 0, 9, tolerance=0) or range_problem(images, -math.inf, math.inf)
    if problem:
        raise ValueError(f"style_labels needs digits from 0 to 9 and images of numbers: {problem}")
    points = images.flatten(1).float().cpu()
    points = principal_components(points, min(dims, *points.shape))
    digits = digits.cpu()
    styles = digits * per_digit
    for digit in digits.unique().tolist():
        mine = (digits == digit).nonzero().flatten()
        styles[mine] += kmeans(points[mine], min(per_digit, len(mine)), seed=seed + digit)
    return styles.to(images.device)


def style_sizes(styles, per_digit, n_digits=10):
    """How many training images each style holds: ``[n_digits, per_digit]`` int64 (row = digit).

    ``n_digits``: 1 for styles of all the images, found with no digits at all.
    """
    require_whole(per_digit, "per_digit")
    require_tensor(styles, "styles", dtypes=(torch.int64,))
    require_range(styles, 0, n_digits * per_digit - 1, f"styles must be style labels from 0 to "
                  f"{n_digits * per_digit - 1} ({n_digits} digit(s) x {per_digit})", tolerance=0)
    return torch.bincount(styles.cpu(), minlength=n_digits * per_digit).view(n_digits, per_digit)


class StyleSampler(nn.Module):
    """A G trained on styles, drawn by digit: ``sampler(z [B, Z], digits [B])`` -> ``G(z, styles)``.

    ``generator``: a conditional G trained on style labels (``style_labels``);
    ``sizes``: ``style_sizes`` of its training data, ``[10, per_digit]``. Each
    image's style is one of its digit's, drawn in proportion to the style's
    size (a digit with no training images gets its first style). For a G
    trained on styles of all the images, with no digits (``sizes`` of one
    row), ``sampler(z)`` draws from every style. The draws use a fixed
    ``seed`` on every call, so the same call gives the same images (a sample
    grid keeps its styles from epoch to epoch). ``embed`` and ``body`` make it
    usable wherever session 5's ``ConditionalGenerator`` is (the demo):
    ``embed(digits)`` is the label vector G is given.
    """

    def __init__(self, generator, sizes, seed=0):
        super().__init__()
        sizes = torch.as_tensor(sizes, dtype=torch.int64)
        if sizes.numel() and sizes.min() < 0:
            raise ValueError(f"style sizes count training images, so none can be negative; got {describe(sizes)}")
        rows = getattr(getattr(generator, "embed", None), "num_embeddings", None)
        if sizes.dim() != 2 or rows != sizes.numel():
            raise ValueError(f"StyleSampler needs style sizes [digits, per_digit] and a G whose label table .embed "
                             f"has digits * per_digit rows; got sizes {describe(sizes)} and a table of {rows} rows")
        self.generator = generator
        self.register_buffer("sizes", sizes)
        self.seed = seed
        self.train(generator.training)  # in G's mode: code that puts a sampler's mode back restores G's

    @property
    def per_digit(self):
        return self.sizes.shape[1]

    @property
    def body(self):
        return self.generator.body

    def styles_for(self, digits):
        """The style label drawn for each of ``digits [B]``: ``[B]`` int64, on ``digits``' device."""
        require_tensor(digits, "digits", dtypes=(torch.int64,))
        require_range(digits, 0, len(self.sizes) - 1, f"digits must be from 0 to {len(self.sizes) - 1}", tolerance=0)
        weights = self.sizes.double().cpu()
        weights[weights.sum(1) == 0, 0] = 1.0  # a digit never seen in training: its first style
        drawn = torch.multinomial(weights[digits.cpu()], 1, generator=torch.Generator().manual_seed(self.seed))
        return (digits.cpu() * self.per_digit + drawn.flatten()).to(digits.device)

    def embed(self, digits):
        """The label vectors G is given for ``digits [B]``: its table's rows for their drawn styles, ``[B, E]``."""
        return self.generator.embed(self.styles_for(digits))

    def forward(self, z, digits=None):
        if digits is None:
            if len(self.sizes) != 1:
                raise ValueError(f"this G draws digits (styles of {len(self.sizes)} digits): pass them, G(z, digits)")
            digits = torch.zeros(len(z), dtype=torch.int64, device=z.device)
        return self.generator(z, self.styles_for(digits))
