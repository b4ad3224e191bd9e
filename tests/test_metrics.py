"""helpers.metrics: the Frechet distance against independent computations, coverage, precision/recall,
the classifier's cache, and clear errors for bad samples."""

import math
import os
import shutil

import pytest
import torch

from helpers import data, metrics


def random_features(n, d, seed, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g) / math.sqrt(d)
    return (torch.randn(n, d, generator=g) @ mix) * scale + shift


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    m1, m2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    s1, s2 = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    expected = ((m1 - m2) ** 2).sum() + ((s1.sqrt() - s2.sqrt()) ** 2).sum()
    got = metrics.frechet_distance(m1, torch.diag(s1), m2, torch.diag(s2))
    assert got == pytest.approx(expected.item(), rel=1e-9)
    assert metrics.frechet_distance(m1, torch.diag(s1), m1, torch.diag(s1)) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_matches_scipy_on_full_covariances():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    a, b = random_features(400, 12, 0), random_features(400, 12, 1, scale=1.5, shift=0.3)
    (m1, c1), (m2, c2) = metrics.gaussian_statistics(a), metrics.gaussian_statistics(b)
    root = scipy_linalg.sqrtm(c1.numpy() @ c2.numpy()).real
    expected = ((m1 - m2) ** 2).sum().item() + (c1.trace() + c2.trace()).item() - 2 * root.trace()
    assert metrics.frechet_distance(m1, c1, m2, c2) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_is_stable_for_near_singular_covariances():
    low_rank = random_features(300, 3, 2) @ torch.randn(3, 64, generator=torch.Generator().manual_seed(3))
    other = low_rank + 1e-6 * torch.randn(300, 64, generator=torch.Generator().manual_seed(4))
    d = metrics.frechet_distance(*metrics.gaussian_statistics(low_rank), *metrics.gaussian_statistics(other))
    assert math.isfinite(d) and 0 <= d < 1e-6
    one = torch.zeros(64, dtype=torch.float64)  # a single repeated point: covariance all zeros
    d = metrics.frechet_distance(one, torch.zeros(64, 64), *metrics.gaussian_statistics(other))
    assert math.isfinite(d) and d > 0


def test_frechet_distance_agrees_with_torchmetrics_given_the_same_feature_extractor():
    fid_module = pytest.importorskip("torchmetrics.image.fid")
    torch.manual_seed(0)
    classifier = metrics.DigitClassifier().eval()  # any fixed feature extractor will do

    class Features(torch.nn.Module):
        def forward(self, x):
            return classifier.features(x.float())

    real = torch.rand(600, 1, 28, 28) * 2 - 1
    fake = (torch.rand(500, 1, 28, 28) * 2 - 1) * 0.5
    reference = fid_module.FrechetInceptionDistance(feature=Features(), input_img_size=(1, 28, 28))
    reference.update(real, real=True)
    reference.update(fake, real=False)
    with torch.no_grad():
        ours = metrics.frechet_distance(*metrics.gaussian_statistics(classifier.features(real)),
                                        *metrics.gaussian_statistics(classifier.features(fake)))
    assert ours == pytest.approx(reference.compute().item(), rel=1e-4)


def test_class_coverage_counts_classes_entropy_and_confidence():
    probabilities = torch.full((100, 10), 0.01)
    probabilities[:60, 3] = 0.91
    probabilities[60:96, 7] = 0.91
    probabilities[96:, 1] = 0.91  # 4% of the samples: below the 5% threshold
    coverage = metrics.class_coverage(probabilities)
    assert coverage["counts"] == [0, 4, 0, 60, 0, 0, 0, 36, 0, 0]
    assert coverage["covered"] == 2
    shares = torch.tensor([0.6, 0.36, 0.04], dtype=torch.float64)
    assert coverage["entropy"] == pytest.approx(-(shares * shares.log()).sum().item())
    assert coverage["confidence"] == pytest.approx(0.91)
    even = metrics.class_coverage(torch.eye(10).repeat(10, 1))
    assert even["covered"] == 10 and even["entropy"] == pytest.approx(math.log(10))


def test_precision_and_recall_tell_sharp_but_few_from_varied():
    real = random_features(600, 8, 5)
    assert metrics.precision_recall(real, real.clone()) == pytest.approx((1.0, 1.0))
    few = real[:30].repeat(20, 1)  # sharp (every sample is a real point) but only 30 kinds
    precision, recall = metrics.precision_recall(real, few)
    assert precision == pytest.approx(1.0) and recall < 0.2
    far = real + 100.0
    assert metrics.precision_recall(real, far) == pytest.approx((0.0, 0.0))


@pytest.mark.parametrize("bad, message", [
    (torch.rand(300, 1, 32, 32) * 2 - 1, r"\[N, 1, 28, 28\]"),
    (torch.zeros(300, 784, dtype=torch.uint8), "float images"),
    (torch.rand(300, 1, 28, 28), r"look like \[0, 1\] images"),
    (torch.full((300, 1, 28, 28), float("nan")), "NaN"),
    (torch.rand(300, 1, 28, 28) * 4 - 2, r"expected values in \[-1, 1\]"),
    (torch.rand(50, 1, 28, 28) * 2 - 1, "at least 200 samples"),
    ("images", "torch.Tensor"),
])
def test_bad_samples_get_a_clear_error(bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        metrics.check_samples(bad)


@pytest.fixture
def private_root(tmp_path):
    """A data root of its own (the MNIST files linked in), so its classifier cache is this test's alone."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for path in (data.data_root() / "MNIST" / "raw").glob("*.gz"):
        os.symlink(path, raw / path.name)
    return tmp_path


def test_a_damaged_classifier_cache_is_retrained_with_a_one_line_notice(private_root, capsys, monkeypatch):
    monkeypatch.setattr(metrics, "FAST", dict(metrics.FAST, train_images=1000))  # it trains 3 times
    first = metrics.digit_classifier(kind="fast", root=private_root, device="cpu")
    cache = private_root / "classifier" / f"digits-cnn-v{metrics.CACHE_VERSION}-fast.pt"
    assert cache.is_file() and first.kind == "fast" and 0.5 < first.test_accuracy <= 1
    capsys.readouterr()
    again = metrics.digit_classifier(kind="fast", root=private_root, device="cpu")
    assert "unusable" not in capsys.readouterr().err, "an intact cache is reused"
    assert again.test_accuracy == first.test_accuracy
    for damage in (b"\x00" * 50, None):
        if damage is None:
            torch.save({"format": "something else"}, cache)  # a foreign torch file
        else:
            cache.write_bytes(damage)
        model = metrics.digit_classifier(kind="fast", root=private_root, device="cpu")
        err = capsys.readouterr().err
        notices = [line for line in err.splitlines() if "unusable" in line]
        assert len(notices) == 1 and "Traceback" not in err
        assert model.kind == "fast" and model.test_accuracy == pytest.approx(first.test_accuracy)
    shutil.rmtree(private_root / "classifier")


def test_scores_say_which_classifier_made_them(private_root):
    classifier = metrics.digit_classifier(kind="fast", root=private_root, device="cpu")
    images, _ = data.load_mnist("test", root=private_root)
    real = data.convert_pixels(images[:400], "uint8", "tanh").unsqueeze(1)
    scores = metrics.evaluate_images(real, classifier, root=private_root)
    assert scores.classifier == "fast" and "fast classifier" in str(scores)
    assert scores.covered >= 8 and scores.fd < scores.collapse and scores.precision > 0.5


def test_references_use_digits_drawn_at_random_not_the_first_of_each_file(private_root):
    """MNIST's files are in order of writer: the first n digits of a split are not a fair sample of it."""
    classifier = metrics.digit_classifier(kind="fast", root=private_root, device="cpu")
    n = 1000
    refs = metrics.references(classifier, n, root=private_root)
    counts = {split: len(data.load_mnist(split, root=private_root)[1]) for split in ("test", "train")}
    for picked, count in ((refs.test_indices, counts["test"]), (refs.train_indices, counts["train"])):
        assert len(picked) == n and len(set(picked.tolist())) == n and int(picked.max()) < count
        share_in_first_half = float((picked < count // 2).float().mean())
        assert 0.4 < share_in_first_half < 0.6, "both halves of the file (different writers) are drawn from"
    assert torch.equal(refs.labels, data.load_mnist("test", root=private_root)[1][refs.test_indices])
    again = metrics.References(classifier, n, root=private_root)
    assert torch.equal(again.train_indices, refs.train_indices) and again.floor == pytest.approx(refs.floor), \
        "the draw is fixed, so the floor is the same every time"


def test_the_classifier_measures_in_channels_last_with_the_default_layouts_numbers():
    """``for_inference`` only changes the weights' memory layout (for speed): the features must not move."""
    classifier = metrics.digit_classifier(kind="fast", device="cpu")
    conv = classifier.features[3].weight  # 32 -> 64 channels (with one input channel both layouts coincide)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    default = metrics.DigitClassifier()
    default.load_state_dict(classifier.state_dict())
    default.eval()
    assert default.features[3].weight.is_contiguous()
    images = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    ours, _ = metrics.features_and_probabilities(classifier, images)
    theirs, _ = metrics.features_and_probabilities(default, images)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
