"""Session 4: measuring GANs: what the judge asks for each graded exercise of ``04_evaluate``, and how it marks it."""

import math

import torch
import torch.nn.functional as F

from helpers import collapse, metrics

from .marking import Exercise, draws, need, need_close, need_number

SESSION = "04_evaluate"

def _gaussians(seed):
    g = draws(seed, 17)
    a, b = torch.randn(8, 8, generator=g, dtype=torch.float64), torch.randn(8, 8, generator=g, dtype=torch.float64)
    return (torch.randn(8, generator=g, dtype=torch.float64), a @ a.T,
            torch.randn(8, generator=g, dtype=torch.float64), b @ b.T + 0.1 * torch.eye(8, dtype=torch.float64))


def ask_frechet_distance(answer, seed):
    """``{"apart": answer(m1, C1, m2, C2), "same": answer(m2, C2, m2, C2)}``: numbers."""
    m1, c1, m2, c2 = _gaussians(seed)
    return {"apart": float(answer(m1, c1, m2, c2)), "same": float(answer(m2, c2, m2, c2))}


def mark_frechet_distance(reply, seed):
    m1, c1, m2, c2 = _gaussians(seed)
    want = metrics.frechet_distance(m1, c1, m2, c2)
    need_number(reply["apart"], want, "the Frechet distance of two Gaussians", 1e-6 * max(1.0, abs(want)))
    need_number(reply["same"], 0.0, "the Frechet distance of a Gaussian to itself", 1e-6)


def _class_probabilities(seed):
    g = draws(seed, 18)
    classes = torch.tensor([0, 0, 0, 3, 3, 7, 7, 7, 7, 9])[torch.randint(0, 10, (200,), generator=g)]
    classes[:3] = 5  # a class with 1.5% of the samples: present, not covered
    return torch.softmax(torch.randn(200, 10, generator=g) + 6 * F.one_hot(classes, 10), 1)


def ask_class_coverage(answer, seed):
    """``{"covered": int, "entropy": float}`` from ``answer(probabilities [200, 10])``."""
    covered, entropy = answer(_class_probabilities(seed))
    return {"covered": int(covered), "entropy": float(entropy)}


def mark_class_coverage(reply, seed):
    want = metrics.class_coverage(_class_probabilities(seed))
    need_number(reply["covered"], want["covered"], "classes with at least 5% of the samples", 0)
    need_number(reply["entropy"], want["entropy"], "the entropy of the class histogram (nats)", 1e-5)


def _points(seed):
    """Points on the ring: within 2.5 standard deviations of a mode (one mode holds fewer than 40 of them),
    and 30 strays 4 to 8 standard deviations from mode 0; none near the 3-deviation line."""
    ring = collapse.ring()
    g = draws(seed, 19)
    counts = torch.randint(45, 90, (8,), generator=g)
    counts[int(seed) % 8] = int(torch.randint(3, 36, (1,), generator=g))

    def around(centre, n, low, high):
        angle = torch.rand(n, generator=g) * 2 * math.pi
        radius = (low + (high - low) * torch.rand(n, generator=g)) * ring.std
        return centre + radius[:, None] * torch.stack([angle.cos(), angle.sin()], 1)

    points = [around(centre, int(n), 0.0, 2.5) for centre, n in zip(ring.centres, counts)]
    return torch.cat([*points, around(ring.centres[0], 30, 4.0, 8.0)]), ring


def ask_count_modes(answer, seed):
    """``{"modes": int, "good": float}`` from ``answer(samples, ring centres, ring std, 40)``."""
    points, ring = _points(seed)
    modes, good = answer(points, ring.centres, ring.std, 40)
    return {"modes": int(modes), "good": float(good)}


def mark_count_modes(reply, seed):
    points, ring = _points(seed)
    report = collapse.mode_report(points, ring, min_samples=40)
    need_number(reply["modes"], report["modes"], "modes with at least 40 good samples", 0)
    need_number(reply["good"], report["high_quality"], "the share of samples within 3 standard deviations", 1e-6)


def _pack_size(seed):
    return (2, 3, 4, 6)[int(seed) % 4]


def ask_pack(answer, seed):
    """``{"packed": answer(x [12, 5], m), "uneven": what answer(x[:10], 4) did}``, m one of 2, 3, 4 or 6."""
    x = torch.randn(12, 5, generator=draws(seed, 20))
    try:
        answer(x[:10], 4)
        uneven = "returned"
    except Exception as error:  # noqa: BLE001 - which error is the reply
        uneven = type(error).__name__
    return {"packed": answer(x, _pack_size(seed)), "uneven": uneven}


def mark_pack(reply, seed):
    x, m = torch.randn(12, 5, generator=draws(seed, 20)), _pack_size(seed)
    need_close(reply["packed"], collapse.pack(x, m), f"pack(x, {m})", 0)
    need(reply["uneven"] == "ValueError", f"pack of 10 samples by 4 should raise ValueError, it {reply['uneven']!r}")


def _latents(seed):
    g = draws(seed, 21)
    return torch.randn(32, generator=g), torch.randn(32, generator=g)


def _same_direction(seed):
    """Two vectors [32] pointing exactly the same way (their cosine is 1 in floating point too)."""
    z = torch.zeros(32)
    z[int(seed) % 32] = 3.0
    return z, 2 * z


def ask_slerp(answer, seed):
    """``{"path": [answer(z0, z1, t) for 5 values of t], "same": answer(z, 2z, 0.4)}``: tensors [32]."""
    z0, z1 = _latents(seed)
    return {"path": [answer(z0, z1, t) for t in (0.0, 0.25, 0.5, 0.8, 1.0)],
            "same": answer(*_same_direction(seed), 0.4)}


def mark_slerp(reply, seed):
    z0, z1 = _latents(seed)
    omega = torch.arccos(torch.dot(z0, z1) / (z0.norm() * z1.norm()))
    for t, found in zip((0.0, 0.25, 0.5, 0.8, 1.0), reply["path"]):
        want = (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)
        need_close(found, want, f"slerp(z0, z1, {t})", 1e-4)
    z, twice = _same_direction(seed)
    need_close(reply["same"], 0.6 * z + 0.4 * twice, "slerp(z, 2z, 0.4), two vectors pointing the same way", 1e-4)


EXERCISES = {
    "test_frechet_distance": Exercise("frechet_distance", ask_frechet_distance, mark_frechet_distance),
    "test_class_coverage": Exercise("class_coverage", ask_class_coverage, mark_class_coverage),
    "test_count_modes": Exercise("count_modes", ask_count_modes, mark_count_modes),
    "test_pack": Exercise("pack", ask_pack, mark_pack),
    "test_slerp": Exercise("slerp", ask_slerp, mark_slerp),
}
