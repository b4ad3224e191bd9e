"""The course's static figures, drawn by code so anyone can regenerate them.

``python -m helpers.static_figures`` rewrites these two files in ``fig/`` (the others are the
gallery's, made by training: ``python -m helpers.gallery``):

- ``fig/gan_diagram.png``  noise -> G -> fake; real/fake -> D -> probability; the two losses;
- ``fig/mnist_grid.png``   the first 64 real digits of the MNIST test split.
"""

import argparse
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .data import load_mnist
from .plotting import show_images
from .runtime import REPO_ROOT

FIG_DIR = REPO_ROOT / "fig"


def _box(ax, x, y, text, color, width=1.6, height=0.8):
    """A rounded box centred on (x, y) with a label."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.05", fc=color, ec="black", lw=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=11)


def _arrow(ax, start, end, text=None):
    """An arrow from ``start`` to ``end`` with an optional label above its middle."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=15, lw=1.3))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.15, text,
                ha="center", va="bottom", fontsize=9)


def draw_gan_diagram(path):
    """Draw the GAN block diagram and save it to ``path`` (PNG)."""
    fig, ax = plt.subplots(figsize=(10, 4.2))
    _box(ax, 0.9, 1.0, "noise z\n~ N(0, I)", "#eeeeee")
    _box(ax, 3.2, 1.0, "Generator\nG", "#cfe2ff")
    _box(ax, 5.5, 1.0, "fake images\nG(z)", "#fff3cd")
    _box(ax, 5.5, 3.0, "real images x\n(MNIST)", "#d1e7dd")
    _box(ax, 7.8, 2.0, "Discriminator\nD", "#f8d7da")
    _box(ax, 10.1, 2.0, "D(.) = P(real)\nin (0, 1)", "#eeeeee")
    _arrow(ax, (1.75, 1.0), (2.35, 1.0))
    _arrow(ax, (4.05, 1.0), (4.65, 1.0))
    _arrow(ax, (6.35, 1.1), (6.95, 1.8))
    _arrow(ax, (6.35, 2.9), (6.95, 2.2))
    _arrow(ax, (8.65, 2.0), (9.25, 2.0))
    ax.text(6.0, -0.35,
            "D's loss:  -[ log D(x) + log(1 - D(G(z))) ]    (tell real from fake)\n"
            "G's loss:  -log D(G(z))    (non-saturating: make D call fakes real)",
            ha="center", va="top", fontsize=10, family="monospace")
    ax.set_xlim(0, 11.2)
    ax.set_ylim(-1.2, 3.7)
    ax.set_axis_off()
    ax.set_title("A generative adversarial network")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def draw_mnist_grid(path, root=None):
    """Save the first 64 MNIST test digits as an 8x8 grid PNG at ``path``."""
    images, _ = load_mnist("test", root=root)
    fig, ax = plt.subplots(figsize=(5, 5))
    show_images(images[:64], nrow=8, title="Real MNIST digits (test split)", path=None, ax=ax)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def build_all(out_dir=FIG_DIR, root=None):
    """Regenerate every figure into ``out_dir``; return the list of paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [draw_gan_diagram(out_dir / "gan_diagram.png"),
            draw_mnist_grid(out_dir / "mnist_grid.png", root=root)]


def main(argv=None):
    matplotlib.use("Agg")  # files only, no window
    parser = argparse.ArgumentParser(description="Regenerate the course figures in fig/.")
    parser.add_argument("--out", default=str(FIG_DIR), help="folder to write into (default fig/)")
    parser.add_argument("--data", default=None, help="data root (default $GAN_COURSE_DATA or data/)")
    args = parser.parse_args(argv)
    for path in build_all(args.out, args.data):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
