"""The networks of the reference recipes, written out layer by layer.

Each function builds one network exactly as its recipe describes it (see
``shared/reference-recipes.md``), so you can read a recipe and its code side
by side. Every generator takes noise and returns images ``[B, 1, H, W]``;
every discriminator takes images ``[B, 1, H, W]`` and returns ``[B, 1]``
(a probability, or a logit where the recipe says so). The conditional pair
of session 5 takes the digit's label as a second input: ``G(z, labels)`` and
``D(images, labels)``.
"""

import torch
from torch import nn

from .taught import answers

IMAGE_SHAPE = (1, 28, 28)
PIXELS = 28 * 28


def count_parameters(model):
    """Number of trainable numbers in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# R1: MLP GAN, pixels in [0, 1], Sigmoid output --------------------------------

def r1_generator(latent_dim=100):
    """R1's G: noise ``[B, 100]`` -> images ``[B, 1, 28, 28]`` in (0, 1)."""
    return nn.Sequential(
        nn.Linear(latent_dim, 256),
        nn.Linear(256, 512),  # no activation between the first two layers: part of the recipe
        nn.ReLU(),
        nn.Linear(512, PIXELS),
        nn.Sigmoid(),
        nn.Unflatten(1, IMAGE_SHAPE),
    )


def r1_discriminator():
    """R1's D: images ``[B, 1, 28, 28]`` -> probability of "real" ``[B, 1]``."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(PIXELS, 512),
        nn.ReLU(),
        nn.Linear(512, 256),
        nn.ReLU(),
        nn.Linear(256, 1),
        nn.Sigmoid(),
    )


# R2: MLP GAN, pixels in [-1, 1], LeakyReLU discriminator ----------------------

@answers("02_mlp_gan", "make_generator")
def r2_generator(latent_dim=64, hidden=256):
    """R2's G: noise ``[B, 64]`` -> images ``[B, 1, 28, 28]`` in (-1, 1).

    Session 2's Exercise 1 builds the same layers, with ``hidden=1024`` (its G returns flat images).
    """
    return nn.Sequential(
        nn.Linear(latent_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, PIXELS),
        nn.Tanh(),
        nn.Unflatten(1, IMAGE_SHAPE),
    )


@answers("02_mlp_gan", "make_discriminator")
def r2_discriminator(hidden=256):
    """R2's D: images ``[B, 1, 28, 28]`` -> probability of "real" ``[B, 1]``.

    Session 2's Exercise 2 builds the same layers, with ``hidden=1024`` (its D takes flat images).
    """
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(PIXELS, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, 1),
        nn.Sigmoid(),
    )


# R3: the minimal MLP GAN, one hidden layer each -------------------------------

def r3_generator(latent_dim=100):
    """R3's G: noise ``[B, 100]`` -> images ``[B, 1, 28, 28]`` in (-1, 1)."""
    return nn.Sequential(
        nn.Linear(latent_dim, 256),
        nn.ReLU(),
        nn.Linear(256, PIXELS),
        nn.Tanh(),
        nn.Unflatten(1, IMAGE_SHAPE),
    )


def r3_discriminator():
    """R3's D: images ``[B, 1, 28, 28]`` -> probability of "real" ``[B, 1]``."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(PIXELS, 256),
        nn.LeakyReLU(0.2),
        nn.Linear(256, 1),
        nn.Sigmoid(),
    )


# DCGAN initialisation ---------------------------------------------------------

@answers("03_dcgan", "dcgan_init")
def dcgan_init(module):
    """DCGAN's initialisation, for ``model.apply(dcgan_init)``.

    Convolution weights ~ N(0, 0.02); BatchNorm scales ~ N(1, 0.02) and shifts 0.
    Taught in session 3, section 3 (Exercise 4).
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


# R4: DCGAN 28x28 (written for Keras) ------------------------------------------

KERAS_LEAK = 0.3  # Keras' LeakyReLU default slope, which R4 keeps


@answers("03_dcgan", "make_dcgan_generator")
def r4_generator(latent_dim=100, width=64):
    """R4's G: noise ``[B, 100]`` -> images ``[B, 1, 28, 28]`` in (-1, 1).

    ``width``: the channels of the last hidden layer; the three hidden layers
    have ``4 * width``, ``2 * width`` and ``width`` (R4's: 64, so 256, 128, 64).
    A narrower G trains many more steps in a CPU's minutes. Keras'
    ``padding='same'`` with stride 2 and kernel 5 becomes ``padding=2,
    output_padding=1`` in PyTorch: 7 -> 14 -> 28. Taught in session 3,
    section 2 (Exercise 2).
    """
    w = width
    return nn.Sequential(
        nn.Linear(latent_dim, 7 * 7 * 4 * w, bias=False),
        nn.BatchNorm1d(7 * 7 * 4 * w),
        nn.LeakyReLU(KERAS_LEAK),
        nn.Unflatten(1, (4 * w, 7, 7)),
        nn.ConvTranspose2d(4 * w, 2 * w, 5, stride=1, padding=2, bias=False),                  # 7x7
        nn.BatchNorm2d(2 * w),
        nn.LeakyReLU(KERAS_LEAK),
        nn.ConvTranspose2d(2 * w, w, 5, stride=2, padding=2, output_padding=1, bias=False),    # 14x14
        nn.BatchNorm2d(w),
        nn.LeakyReLU(KERAS_LEAK),
        nn.ConvTranspose2d(w, 1, 5, stride=2, padding=2, output_padding=1, bias=False),        # 28x28
        nn.Tanh(),
    )


@answers("03_dcgan", "make_dcgan_discriminator")
def r4_discriminator(width=64):
    """R4's D: images ``[B, 1, 28, 28]`` -> a logit ``[B, 1]`` (no Sigmoid: use BCE with logits).

    ``width``: the first convolution's channels, the second has twice as many
    (R4's: 64 and 128). Taught in session 3, section 2 (Exercise 3).
    """
    w = width
    return nn.Sequential(
        nn.Conv2d(1, w, 5, stride=2, padding=2),          # 14x14
        nn.LeakyReLU(KERAS_LEAK),
        nn.Dropout(0.3),
        nn.Conv2d(w, 2 * w, 5, stride=2, padding=2),      # 7x7
        nn.LeakyReLU(KERAS_LEAK),
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(7 * 7 * 2 * w, 1),
    )


# R5: DCGAN 64x64 on Fashion-MNIST ----------------------------------------------

def r5_generator(noise_channels=256, features=64):
    """R5's G: noise ``[B, 256, 1, 1]`` -> images ``[B, 1, 64, 64]`` in (-1, 1).

    ReLU comes *before* BatchNorm in each block, as the recipe is written.
    """
    f = features
    return nn.Sequential(
        nn.ConvTranspose2d(noise_channels, 16 * f, 4, 1, 0),   # 4x4
        nn.ReLU(),
        nn.ConvTranspose2d(16 * f, 8 * f, 4, 2, 1),            # 8x8
        nn.ReLU(),
        nn.BatchNorm2d(8 * f),
        nn.ConvTranspose2d(8 * f, 4 * f, 4, 2, 1),             # 16x16
        nn.ReLU(),
        nn.BatchNorm2d(4 * f),
        nn.ConvTranspose2d(4 * f, 2 * f, 4, 2, 1),             # 32x32
        nn.ReLU(),
        nn.BatchNorm2d(2 * f),
        nn.ConvTranspose2d(2 * f, 1, 4, 2, 1),                 # 64x64
        nn.Tanh(),
    )


def r5_discriminator(features=64):
    """R5's D: images ``[B, 1, 64, 64]`` -> probability of "real" ``[B, 1]``."""
    f = features
    return nn.Sequential(
        nn.Conv2d(1, f, 4, 2, 1),              # 32x32
        nn.LeakyReLU(0.2),
        nn.Conv2d(f, 2 * f, 4, 2, 1),          # 16x16
        nn.BatchNorm2d(2 * f),
        nn.LeakyReLU(0.2),
        nn.Conv2d(2 * f, 4 * f, 4, 2, 1),      # 8x8
        nn.BatchNorm2d(4 * f),
        nn.LeakyReLU(0.2),
        nn.Conv2d(4 * f, 8 * f, 4, 2, 1),      # 4x4
        nn.BatchNorm2d(8 * f),
        nn.LeakyReLU(0.2),
        nn.Conv2d(8 * f, 1, 4, 1, 0),          # 1x1
        nn.Flatten(),
        nn.Sigmoid(),
    )


# The course's own recommended networks ------------------------------------------
#
# Chosen by measuring (benchmarks/quality.py), not from a seed recipe: the
# sizes that learn the most per second on a 2-core CPU.

def course_mlp_generator(latent_dim=64):
    """The course's MLP G: noise ``[B, 64]`` -> images ``[B, 1, 28, 28]`` in (-1, 1); widening layers, LeakyReLU."""
    return nn.Sequential(
        nn.Linear(latent_dim, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 1024), nn.LeakyReLU(0.2),
        nn.Linear(1024, PIXELS), nn.Tanh(),
        nn.Unflatten(1, IMAGE_SHAPE),
    )


def course_mlp_discriminator():
    """The course's MLP D: images ``[B, 1, 28, 28]`` -> a logit ``[B, 1]``."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(PIXELS, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 1),
    )


def course_dcgan_generator(latent_dim=64, channels=32, refine=False):
    """The course's small DCGAN G, sized for a CPU: noise ``[B, 64]`` -> ``[B, 1, 28, 28]``: 7 -> 14 -> 28.

    ``channels``: 32 was chosen by measuring (the runs are in
    ``benchmarks/README.md``): on a 2-core CPU it trains more steps per second
    than 64 channels, and after 5 minutes its samples are closer to real
    digits (lower FD). ``refine``: one more layer on each small map
    (``refining_layers``, on the 7x7 and the 14x14 map), as the conditional
    recipe's G has (``recipes.RECIPES["cgan"]``).
    """
    c = channels
    return nn.Sequential(
        nn.Linear(latent_dim, 2 * c * 7 * 7, bias=False), nn.BatchNorm1d(2 * c * 7 * 7), nn.LeakyReLU(0.2),
        nn.Unflatten(1, (2 * c, 7, 7)),
        *(refining_layers(2 * c) if refine else []),
        nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.LeakyReLU(0.2),   # 14x14
        *(refining_layers(c) if refine else []),
        nn.ConvTranspose2d(c, 1, 4, 2, 1), nn.Tanh(),                                               # 28x28
    )


def refining_layers(channels):
    """A 3x3 convolution that keeps the map's size and channels, then BatchNorm and LeakyReLU 0.2: a list of 3 layers.

    It gives G one more layer to shape a map with before the map is
    enlarged, for little cost: the map is small.
    """
    return [nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.LeakyReLU(0.2)]


def course_dcgan_discriminator(channels=32, in_channels=1):
    """The course's small DCGAN D: images ``[B, 1, 28, 28]`` -> a logit ``[B, 1]``: 28 -> 14 -> 7.

    ``in_channels``: 2 for the conditional D, which stacks a label map on the image.
    """
    c = channels
    return nn.Sequential(
        nn.Conv2d(in_channels, c, 4, 2, 1), nn.LeakyReLU(0.2),  # 14x14
        nn.Conv2d(c, 2 * c, 4, 2, 1), nn.LeakyReLU(0.2),      # 7x7
        nn.Flatten(), nn.Linear(2 * c * 7 * 7, 1),
    )


# The course's conditional GAN (session 5): choose the digit -------------------
#
# The label enters each network through a learned table, nn.Embedding: one row
# of numbers per digit, looked up by the label (the same as a one-hot vector
# times a weight matrix, without building the one-hot vector). G joins its
# row to the noise; D draws its row as a 28x28 map and stacks it on the image
# as a second channel. (The other classic way for D is the projection
# discriminator of Miyato and Koyama, 2018: D's features dotted with the
# label's row, added to the logit.)

@answers("05_conditional", "join_label")
def join_label(z, labels, embedding):
    """Noise ``[B, Z]`` and labels ``[B]`` (int64) -> ``[B, Z + E]``: ``z`` followed by ``embedding(labels)``.

    ``embedding``: an ``nn.Embedding(n_classes, E)``. Taught in session 5,
    section 2 (Exercise 1).
    """
    return torch.cat([z, embedding(labels)], dim=1)


@answers("05_conditional", "ConditionalGenerator")
class ConditionalGenerator(nn.Module):
    """G(z, y): noise ``[B, 64]`` and labels ``[B]`` -> images ``[B, 1, 28, 28]`` in [-1, 1].

    The label's embedding (``embed_dim`` numbers) is joined to the noise; the
    rest is the course's small DCGAN generator (``refine``: with its refining
    layers, as in the ``cgan`` recipe). Taught in session 5, section 3
    (Exercise 2).
    """

    def __init__(self, latent_dim=64, n_classes=10, embed_dim=16, channels=32, refine=False):
        super().__init__()
        self.embed = nn.Embedding(n_classes, embed_dim)
        self.body = course_dcgan_generator(latent_dim + embed_dim, channels, refine)

    def forward(self, z, labels):
        return self.body(join_label(z, labels, self.embed))


@answers("05_conditional", "ConditionalDiscriminator")
class ConditionalDiscriminator(nn.Module):
    """D(x, y): images ``[B, 1, 28, 28]`` and labels ``[B]`` -> a logit ``[B, 1]``.

    The label's embedding is a 28x28 map, stacked on the image as a second
    channel, so D judges "is this a real *3*?", not only "is this real?".
    Taught in session 5, section 4 (Exercise 3).
    """

    def __init__(self, n_classes=10, channels=32):
        super().__init__()
        self.label_map = nn.Embedding(n_classes, PIXELS)
        self.body = course_dcgan_discriminator(channels, in_channels=2)

    def forward(self, images, labels):
        maps = self.label_map(labels).view(-1, *IMAGE_SHAPE)
        return self.body(torch.cat([images, maps], dim=1))
