"""Styles of digits (helpers.styles): k-means within each digit, and drawing digits from a style-trained G."""

import pytest
import torch

from helpers import checkpoints, models, recipes, runs, saved_runs, styles
from helpers.demo import DigitDemo


def blobs(centres, per_blob=30, spread=0.05, seed=0):
    """``per_blob`` points around each of ``centres [K, F]``, in blob order: ``[K * per_blob, F]``."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([c + spread * torch.randn(per_blob, len(c), generator=g) for c in centres])


def test_kmeans_finds_separated_blobs():
    centres = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    points = blobs(centres)
    found = styles.kmeans(points, 3)
    assert found.dtype == torch.int64 and found.shape == (90,)
    groups = [set(found[i * 30:(i + 1) * 30].tolist()) for i in range(3)]
    assert all(len(g) == 1 for g in groups) and len(set.union(*groups)) == 3  # one cluster per blob


def test_kmeans_is_repeatable_and_refuses_bad_k():
    points = blobs(torch.randn(4, 3), seed=1)
    assert torch.equal(styles.kmeans(points, 4, seed=2), styles.kmeans(points, 4, seed=2))
    with pytest.raises(ValueError, match="k \\(clusters\\): expected a whole number of at least 1, got 0"):
        styles.kmeans(points, 0)
    with pytest.raises(ValueError, match="1 <= k <= N"):
        styles.kmeans(points, len(points) + 1)


def test_principal_components_keep_the_largest_spread():
    g = torch.Generator().manual_seed(0)
    points = torch.randn(500, 3, generator=g) * torch.tensor([10.0, 1.0, 0.1])
    projected = styles.principal_components(points, 1)
    assert projected.shape == (500, 1)
    assert abs(projected.std().item() - points[:, 0].std().item()) < 0.1  # the first axis: the widest one
    with pytest.raises(ValueError, match="dims"):
        styles.principal_components(points, 4)


def images_of_two_styles(per_style=20):
    """Digits 0 and 1, each drawn in two clearly different "styles" (bright top half, or bottom half)."""
    top, bottom = -torch.ones(1, 28, 28), -torch.ones(1, 28, 28)
    top[:, :14], bottom[:, 14:] = 1.0, 1.0
    images = torch.stack([top, bottom] * per_style + [bottom, top] * per_style)
    images = images + 0.01 * torch.randn(images.shape, generator=torch.Generator().manual_seed(0))
    digits = torch.tensor([0] * (2 * per_style) + [1] * (2 * per_style))
    return images, digits


def test_style_labels_split_each_digit_on_its_own():
    images, digits = images_of_two_styles()
    labels = styles.style_labels(images, digits, per_digit=2, dims=5)
    assert labels.dtype == torch.int64 and labels.shape == digits.shape
    assert torch.equal(labels // 2, digits)  # a style of digit d is d * per_digit + its cluster
    for digit in (0, 1):
        mine = labels[digits == digit]
        assert torch.equal(mine[0::2], mine[0].expand(20)) and torch.equal(mine[1::2], mine[1].expand(20))
        assert mine[0] != mine[1]  # the two styles of each digit are told apart
    assert styles.style_sizes(labels, 2)[:2].tolist() == [[20, 20], [20, 20]]


def test_style_labels_cope_with_a_digit_with_fewer_images_than_styles():
    images, digits = images_of_two_styles(per_style=1)  # two images of each digit, three styles asked for
    labels = styles.style_labels(images, digits, per_digit=3, dims=2)
    assert torch.equal(labels // 3, digits)
    with pytest.raises(ValueError, match="per_digit"):
        styles.style_labels(images, digits, per_digit=0)
    with pytest.raises(ValueError, match=r"digits \[N\]"):
        styles.style_labels(images, digits[:3], per_digit=2)
    with pytest.raises(ValueError, match="digits from 0 to 9.*max 10"):
        styles.style_labels(images, digits + 9, per_digit=2)
    images[1, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="images of numbers.*NaN"):
        styles.style_labels(images, digits, per_digit=2)


def test_style_sampler_draws_only_the_asked_digits_styles_by_size():
    torch.manual_seed(0)
    generator = models.ConditionalGenerator(n_classes=30).eval()
    sizes = torch.zeros(10, 3, dtype=torch.int64)
    sizes[4] = torch.tensor([900, 100, 0])
    sizes[7] = torch.tensor([0, 0, 5])
    sampler = styles.StyleSampler(generator, sizes)
    drawn = sampler.styles_for(torch.tensor([4] * 2000 + [7] * 10))
    assert set(drawn[:2000].tolist()) == {12, 13} and 0.85 < (drawn[:2000] == 12).float().mean() < 0.95
    assert set(drawn[2000:].tolist()) == {23}  # digit 7 has one style with images: its third
    assert styles.StyleSampler(generator, torch.zeros(10, 3)).styles_for(torch.tensor([2])).item() == 6
    z = torch.randn(5, 64)
    with torch.no_grad():
        images = sampler(z, torch.full((5,), 7))
        assert torch.equal(images, generator(z, torch.full((5,), 23)))
        assert torch.equal(sampler(z, torch.full((5,), 4)), sampler(z, torch.full((5,), 4)))  # the same draws
    assert torch.equal(sampler.embed(torch.tensor([7])), generator.embed(torch.tensor([23])))


def test_style_sampler_refuses_sizes_that_do_not_fit_g():
    generator = models.ConditionalGenerator(n_classes=30)
    with pytest.raises(ValueError, match=r"\[digits, per_digit\].*30 rows"):
        styles.StyleSampler(generator, torch.ones(10, 5))
    with pytest.raises(ValueError, match=r"digits \* per_digit rows"):
        styles.StyleSampler(generator, torch.ones(30))
    with pytest.raises(ValueError, match=r"pass them, G\(z, digits\)"):
        styles.StyleSampler(generator, torch.ones(10, 3))(torch.randn(2, 64))
    for digits, error, message in ((torch.tensor([3, 10]), ValueError, "digits must be from 0 to 9: .*max 10"),
                                   (torch.tensor([-1]), ValueError, "digits must be from 0 to 9: .*min -1"),
                                   (torch.tensor([2.0]), TypeError, r"digits must have dtype torch.int64")):
        with pytest.raises(error, match=message):
            styles.StyleSampler(generator, torch.ones(10, 3))(torch.randn(len(digits), 64), digits)


def test_style_sampler_without_digits_draws_from_every_style():
    generator = models.ConditionalGenerator(n_classes=4).eval()
    sampler = styles.StyleSampler(generator, torch.tensor([[10, 0, 30, 60]]))
    drawn = sampler.styles_for(torch.zeros(3000, dtype=torch.int64))
    shares = torch.bincount(drawn, minlength=4).float() / 3000
    assert shares[1] == 0 and abs(shares[3] - 0.6) < 0.05 and abs(shares[0] - 0.1) < 0.03
    z = torch.randn(6, 64)
    with torch.no_grad():
        assert torch.equal(sampler(z), generator(z, sampler.styles_for(torch.zeros(6, dtype=torch.int64))))


def test_the_unconditional_recipe_trains_on_styles_of_all_images_and_draws_without_labels(tmp_path):
    recipe = recipes.get_recipe("course-styles")
    assert not recipe.conditional and recipe.n_labels == 70
    runs.run_recipe(recipe, tmp_path, max_steps=1, limit=100, progress=False, evaluate=False)
    sizes = torch.tensor(checkpoints.read_checkpoint(tmp_path / "checkpoint.pt")["extra"]["style_sizes"])
    assert sizes.shape == (1, 70) and sizes.sum() == 100 and (sizes > 0).all()  # 70 styles among 100 images
    _, G = saved_runs.load_generator(tmp_path / "checkpoint.pt")
    assert isinstance(G, styles.StyleSampler)
    with torch.no_grad():
        assert tuple(G(torch.randn(4, 64)).shape) == (4, 1, 28, 28)
    with pytest.raises(checkpoints.CheckpointError, match="run of recipe 'course-styles', not 'cgan'"):
        DigitDemo.from_checkpoint(tmp_path / "checkpoint.pt")
