"""helpers.collapse: PacGAN's mixtures and metrics, packing, and a toy GAN through the course's loop."""

import math

import pytest
import torch

from helpers import collapse


def test_the_mixtures_are_pacgans():
    ring, grid = collapse.ring(), collapse.grid()
    assert ring.centres.shape == (8, 2) and ring.std == 0.01
    assert torch.allclose(ring.centres.norm(dim=1), torch.ones(8))
    assert grid.centres.shape == (25, 2) and grid.std == 0.05
    assert sorted(set(grid.centres[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_real_samples_score_perfectly_and_a_collapsed_set_does_not():
    ring = collapse.ring()
    report = collapse.mode_report(ring.sample(2500, torch.Generator().manual_seed(0)), ring)
    assert report["modes"] == 8 and report["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)  # 3 std in 2-D
    assert report["reverse_kl"] < 0.01
    one_mode = ring.centres[:1].repeat(2500, 1)
    report = collapse.mode_report(one_mode, ring)
    assert report["modes"] == 1 and report["high_quality"] == 1.0
    assert report["reverse_kl"] == pytest.approx(math.log(8))
    nowhere = collapse.mode_report(torch.zeros(100, 2), ring)
    assert nowhere["modes"] == 0 and nowhere["high_quality"] == 0.0


@pytest.mark.parametrize("bad, message", [
    (torch.zeros(10, 3), r"points \[N, 2\]"),
    (torch.full((10, 2), float("nan")), "NaN"),
    ([[0.0, 1.0]], "torch.Tensor"),
])
def test_bad_samples_get_a_clear_error(bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        collapse.mode_report(bad, collapse.ring())


def test_packing_puts_consecutive_samples_side_by_side():
    x = torch.arange(12.0).reshape(6, 2)
    assert torch.equal(collapse.pack(x, 3), torch.tensor([[0.0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]))
    with pytest.raises(ValueError, match="multiple of m"):
        collapse.pack(torch.zeros(5, 2), 2)
    D = collapse.toy_discriminator(m=4)
    out = D(torch.randn(8, 2))
    assert out.shape == (8, 1) and torch.equal(out[:4], out[:1].expand(4, 1)), "one score per pack, repeated"


def test_a_toy_gan_trains_through_the_course_loop_and_reports():
    seen = []
    G, history = collapse.train_toy_gan(collapse.ring(), m=2, steps=20, seed=0,
                                        on_step=lambda gan, numbers: seen.append(numbers["d_fake"].item()))
    assert len(seen) == 20 and len(history.steps["d_loss"]) == 20
    points = collapse.generate_points(G, 300)
    assert points.shape == (300, 2) and torch.isfinite(points).all()
    assert all(p.requires_grad for p in G.parameters()), "without average_decay, G itself comes back"
    saturating = collapse.saturating_generator_loss(torch.tensor([[-5.0], [5.0]]))
    assert saturating.item() == pytest.approx(-(math.log1p(math.exp(-5.0)) + math.log1p(math.exp(5.0))) / 2)


def test_a_packed_discriminator_judges_batch_size_packs_per_step_as_in_pacgan():
    """Each pack costs m samples: D sees as many packs as a plain GAN's D sees samples."""
    rows, hooked = [], []

    def watch(gan, numbers):  # after step 1, watch what the network inside PackedDiscriminator gets
        if not hooked:
            hooked.append(gan.discriminator.discriminator.register_forward_hook(
                lambda module, inputs, output: rows.append(tuple(inputs[0].shape))))

    collapse.train_toy_gan(collapse.grid(), m=4, steps=2, batch_size=8, on_step=watch)
    assert rows == [(16, 8), (8, 8)], "step 2: real and fake packs together (8 + 8), then G's 8 packs of 4 points"


def test_a_toy_gan_can_return_the_average_of_its_weights():
    """average_decay: the benchmark draws with an average of G's weights, never trained and in eval mode."""
    G, _ = collapse.train_toy_gan(collapse.grid(), m=1, steps=15, seed=0)
    average, _ = collapse.train_toy_gan(collapse.grid(), m=1, steps=15, seed=0, average_decay=0.9)
    assert not average.training and not any(p.requires_grad for p in average.parameters())
    same_noise = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert not torch.allclose(average(same_noise), G(same_noise)), "the average is not G's last weights"


def test_a_looser_radius_tells_a_spread_g_from_a_collapsed_one():
    ring = collapse.ring()
    g = torch.Generator().manual_seed(0)
    spread = ring.centres[torch.randint(8, (800,), generator=g)] + 0.05 * torch.randn(800, 2, generator=g)
    assert collapse.mode_report(spread, ring)["modes"] < 8  # few samples within 3 std (0.03): looks lost
    modes, share = collapse.modes_within(spread, ring, radius=0.1)
    assert modes == 8 and share > 0.8  # every mode is there, only not yet sharp
    collapsed = ring.centres[:1].repeat(800, 1)
    assert collapse.modes_within(collapsed, ring, radius=0.1) == (1, 1.0)
    assert collapse.modes_within(spread, ring, radius=0.03)[0] == collapse.mode_report(spread, ring)["modes"]
    with pytest.raises(ValueError, match="radius"):
        collapse.modes_within(spread, ring, radius=0)
