"""Checks for session 4 (evaluating GANs): the Frechet distance, class coverage, counting modes,
packing, and spherical interpolation.

Every message names the fix first, then what was seen. Expected values are
computed here independently of ``helpers.metrics`` and ``helpers.collapse``
(with NumPy's eigen-decompositions, or by hand), so a check never trusts the
course's own answer to the exercise it checks.
"""

import math

import numpy as np
import torch

from . import expect, expect_close, expect_shape, expect_tensor, own_code, passed

SESSION = "04_evaluate"  # the session whose exercises these check


def _independent_fd(m1, c1, m2, c2):
    """||m1 - m2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)), from NumPy's eigenvalues of C1 C2."""
    product = c1.numpy() @ c2.numpy()
    root_trace = np.sqrt(np.clip(np.linalg.eigvals(product).real, 0, None)).sum()
    return float(((m1 - m2) ** 2).sum() + np.trace(c1.numpy()) + np.trace(c2.numpy()) - 2 * root_trace)


@own_code(SESSION, "frechet_distance")
def check_frechet_distance(fn):
    """``fn(mu1, sigma1, mu2, sigma2)`` -> the Frechet distance between two Gaussians, a float."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 6, generator=g, dtype=torch.float64), torch.randn(6, 6, generator=g, dtype=torch.float64)
    c1, c2 = a @ a.T + 0.1 * torch.eye(6, dtype=torch.float64), b @ b.T + 0.1 * torch.eye(6, dtype=torch.float64)
    m1, m2 = torch.randn(6, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64)
    diagonal = fn(torch.zeros(2, dtype=torch.float64), torch.diag(torch.tensor([4.0, 9.0], dtype=torch.float64)),
                  torch.zeros(2, dtype=torch.float64), torch.diag(torch.tensor([1.0, 1.0], dtype=torch.float64)))
    expect(isinstance(diagonal, (float, int)) or (isinstance(diagonal, torch.Tensor) and diagonal.numel() == 1),
           f"Return one number (a float, or call .item()): frechet_distance returned {type(diagonal).__name__}")
    expect(abs(float(diagonal) - 5.0) < 1e-6,
           f"Subtract 2 * trace(sqrt(sigma1 @ sigma2)) from trace(sigma1) + trace(sigma2), with the square root of "
           f"the product: for variances (4, 9) against (1, 1) the distance is (2-1)^2 + (3-1)^2 = 5, "
           f"got {float(diagonal):.6g}")
    same = fn(m1, c1, m1, c1)
    expect(abs(float(same)) < 1e-6,
           f"Take the square root of the product sigma1 @ sigma2 (its eigenvalues, real part, clipped at 0): "
           f"two identical Gaussians must be 0 apart, got {float(same):.6g}")
    means_only = fn(m1, c1, m2, c1)
    expect(abs(float(means_only) - float(((m1 - m2) ** 2).sum())) < 1e-6,
           f"Add the squared distance between the means, ((mu1 - mu2) ** 2).sum(): with equal covariances the "
           f"distance is {float(((m1 - m2) ** 2).sum()):.6g}, got {float(means_only):.6g}")
    want = _independent_fd(m1, c1, m2, c2)
    got = float(fn(m1, c1, m2, c2))
    expect(abs(got - want) < 1e-6 * max(1.0, abs(want)),
           f"Use the formula ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 sqrt(sigma1 sigma2)): for two random "
           f"Gaussians expected {want:.6g}, got {got:.6g}")
    passed("the Frechet distance agrees with an independent computation")


@own_code(SESSION, "class_coverage")
def check_class_coverage(fn):
    """``fn(probabilities [N, 10])`` -> ``(classes covered by >= 5% of samples, entropy in nats)``."""
    probabilities = torch.full((100, 10), 0.01)
    probabilities[:60, 3] = 0.91
    probabilities[60:96, 7] = 0.91
    probabilities[96:, 1] = 0.91
    result = fn(probabilities)
    expect(isinstance(result, tuple) and len(result) == 2,
           f"Return two things, (covered, entropy): class_coverage returned {type(result).__name__}")
    covered, entropy = result
    covered, entropy = int(covered), float(entropy)
    shares = np.array([0.6, 0.36, 0.04])
    expect(covered != 3,
           f"Count only classes with at least 5% of the samples (share >= 0.05): one class here has 4%, got {covered}")
    expect(covered == 2, f"Count the classes whose share of argmax predictions is >= 0.05: expected 2, got {covered}")
    in_bits = float(-(shares * np.log2(shares)).sum())
    expect(abs(entropy - in_bits) > 1e-3,
           f"Use the natural logarithm (torch.log), so the maximum entropy is ln 10 = 2.303: {entropy:.4f} is in bits")
    want = float(-(shares * np.log(shares)).sum())
    expect(abs(entropy - want) < 1e-4,
           f"Compute the entropy of the histogram of predicted classes, -sum(p * log p) over classes with p > 0 "
           f"(not of each sample's probabilities): expected {want:.4f}, got {entropy:.4f}")
    even_covered, even_entropy = fn(torch.eye(10).repeat(5, 1))
    expect(int(even_covered) == 10 and abs(float(even_entropy) - math.log(10)) < 1e-4,
           f"Give every one of the 10 classes its entry (torch.bincount(..., minlength=10)): an even spread "
           f"should give 10 classes and entropy ln 10 = 2.303, got {even_covered} and {float(even_entropy):.4f}")
    passed("coverage and entropy of the predicted-class histogram")


@own_code(SESSION, "count_modes")
def check_count_modes(fn, mixture):
    """``fn(samples [N, 2], centres [K, 2], std)`` -> ``(modes with >= 20 good samples, share of good samples)``."""
    centres = mixture.centres
    g = torch.Generator().manual_seed(0)
    near = centres[torch.arange(300) % 3] + mixture.std * 0.5 * torch.randn(300, 2, generator=g)  # 3 modes, 100 each
    between = (centres[0] + centres[1]) / 2 + torch.zeros(100, 2)  # on no mode
    result = fn(torch.cat([near, between]), centres, mixture.std)
    expect(isinstance(result, tuple) and len(result) == 2,
           f"Return two things, (modes, high_quality): count_modes returned {type(result).__name__}")
    modes, quality = int(result[0]), float(result[1])
    expect(abs(quality - 0.75) < 1e-6,
           f"A sample is high quality when its distance to the nearest centre is at most 3 * std "
           f"(torch.cdist, then .min(1)): 300 of these 400 samples are, so expected 0.75, got {quality:.4g}")
    expect(modes == 3, f"Count a mode when at least 20 high-quality samples are nearest to it (torch.bincount on "
                       f"the nearest-centre index of the good samples): expected 3, got {modes}")
    few = centres[:2].repeat_interleave(torch.tensor([30, 10]), dim=0)
    expect(int(fn(few, centres, mixture.std)[0]) == 1,
           "Count a mode only when at least 20 high-quality samples fall on it: 10 samples on a mode are not enough")
    passed("modes and high-quality samples counted as PacGAN counts them")


@own_code(SESSION, "pack")
def check_pack(fn):
    """``fn(x [B, D], m)`` -> ``[B // m, m * D]``, consecutive samples side by side."""
    x = torch.arange(24.0).reshape(6, 4)
    out = fn(x, 2)
    expect_tensor(out, "pack(x, 2)")
    expect_shape(out, (3, 8), "pack(x [6, 4], m=2)", "Reshape to [B // m, m * D], with x.reshape(B // m, m * D)")
    expect(torch.equal(out[0], torch.arange(8.0)),
           f"Put consecutive samples together (x.reshape, not a transpose): pack 0 of pack(x, 2) must hold samples "
           f"0 and 1, {torch.arange(8.0).tolist()}, got {out[0].tolist()}")
    expect(torch.equal(fn(x, 3), x.reshape(2, 12)),
           "Put consecutive samples together (reshape, not transpose or stack): pack 0 must hold samples 0..m-1")
    try:
        fn(torch.zeros(5, 2), 2)
    except ValueError:
        pass
    except Exception as error:  # noqa: BLE001 - any other error type is the student's to fix
        raise AssertionError(f"Raise ValueError when the batch is not a multiple of m: got "
                             f"{type(error).__name__}") from None
    else:
        raise AssertionError("Raise ValueError when the batch is not a multiple of m: 5 samples in packs of 2 passed")
    passed("packs of m samples, side by side")


@own_code(SESSION, "slerp")
def check_slerp(fn):
    """``fn(z0, z1, t)`` -> the spherical interpolation between two latent vectors ``[D]``."""
    z0, z1 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])
    start, end = fn(z0, z1, 0.0), fn(z0, z1, 1.0)
    expect_tensor(start, "slerp(z0, z1, 0)")
    expect(torch.allclose(start, z0, atol=1e-5) and torch.allclose(end, z1, atol=1e-5),
           f"Start at z0 for t = 0 and end at z1 for t = 1: got {start.tolist()} and {end.tolist()}")
    middle = fn(z0, z1, 0.5)
    linear = (z0 + z1) / 2
    expect(not torch.allclose(middle, linear, atol=1e-4),
           "Interpolate along the arc, not the straight line: sin((1 - t) w) / sin(w) * z0 + sin(t w) / sin(w) * z1, "
           "with w the angle between z0 and z1")
    w = math.acos(0.0)
    want = torch.tensor([math.sin(0.5 * w) / math.sin(w), 2 * math.sin(0.5 * w) / math.sin(w), 0.0])
    expect_close(middle, want, "slerp([1, 0, 0], [0, 2, 0], 0.5)", atol=1e-5,
                 fix="Use sin((1 - t) w) / sin(w) * z0 + sin(t w) / sin(w) * z1, with w = arccos of the cosine of z0 and z1")
    same = fn(z0, z0 * 3, 0.25)
    expect(bool(torch.isfinite(same).all()) and torch.allclose(same, z0 * 1.5, atol=1e-4),
           f"Fall back to the straight line when z0 and z1 point the same way (the angle is 0 and sin(w) = 0): "
           f"got {same.tolist()}")
    passed("spherical interpolation: on the arc, with the straight line as a fallback")
