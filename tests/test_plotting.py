"""helpers.plotting: every accepted image layout, and clear errors for the rest."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from helpers import plotting  # noqa: E402


@pytest.mark.parametrize("images", [
    torch.rand(6, 784) * 2 - 1,
    torch.rand(6, 28, 28),
    torch.rand(6, 1, 28, 28) * 2 - 1,
    torch.rand(6, 3, 64, 64),
    torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8),
])
def test_show_images_accepts_every_layout(images, tmp_path):
    path = tmp_path / "grid.png"
    ax = plotting.show_images(images, nrow=3, path=path)
    assert path.is_file() and Image.open(path).size[0] > 0
    plt.close(ax.figure)


def test_tanh_range_is_mapped_to_unit():
    grid = plotting.image_grid(torch.full((1, 1, 4, 4), -1.0), padding=0)
    assert grid.shape == (3, 4, 4) and grid.max() == 0.0
    grid = plotting.image_grid(torch.full((1, 1, 4, 4), 0.5), value_range="tanh", padding=0)
    assert torch.allclose(grid, torch.full_like(grid, 0.75))


@pytest.mark.parametrize("bad, message", [
    (torch.rand(4, 100), "784 values"),
    (torch.rand(4, 2, 28, 28), "1 or 3 channels"),
    (torch.rand(28), "2 or 3 or 4 dimensions"),
    (torch.randint(0, 9, (4, 28, 28)), "dtype"),
    (torch.rand(4, 28, 28) * 255, r"expected values in \[0, 1\], got min"),
    (torch.rand(4, 28, 28) * 4 - 2, r"expected values in \[-1, 1\]"),
    ("not a tensor", "torch.Tensor"),
])
def test_show_images_rejects_bad_input_with_a_clear_message(bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        plotting.show_images(bad)


def test_plot_history_draws_and_saves(tmp_path):
    ax = plotting.plot_history({"d_loss": [1.0, 0.8], "g_loss": [2.0, 1.5]}, path=tmp_path / "h.png")
    assert len(ax.lines) == 2 and (tmp_path / "h.png").is_file()
    plt.close(ax.figure)
    with pytest.raises(KeyError, match="has no"):
        plotting.plot_history({"d_loss": [1.0]}, keys=["g_loss"])


def test_the_gif_holds_one_captioned_frame_per_snapshot_pixel_for_pixel(tmp_path):
    from helpers.snapshots import CAPTION_HEIGHT, Snapshots

    G = torch.nn.Sequential(torch.nn.Linear(4, 784), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 28, 28)))
    snapshots = Snapshots(torch.randn(16, 4), nrow=4)
    with pytest.raises(ValueError, match="no snapshots yet"):
        snapshots.save_gif(tmp_path / "none.gif")
    for epoch in (0, 1, 2):
        snapshots.take(G, epoch)
    gif = Image.open(snapshots.save_gif(tmp_path / "run" / "samples.gif"))
    grid = snapshots.grids[-1]
    assert gif.n_frames == 3 and gif.info["duration"] == 400
    assert gif.size == (grid.shape[2], grid.shape[1] + CAPTION_HEIGHT)
    gif.seek(2)
    below_caption = np.asarray(gif.convert("L"))[CAPTION_HEIGHT:]
    expected = np.asarray(plotting.pil_image(grid).convert("L"))
    assert np.abs(below_caption.astype(int) - expected.astype(int)).max() <= 8  # the last grid, GIF palette aside
