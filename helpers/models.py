"""The networks of the reference recipes, written out layer by layer.

Each function builds one network exactly as its recipe describes it (see
``shared/reference-recipes.md``), so you can read a recipe and its code side
by side. Every generator takes noise and returns images ``[B, 1, H, W]``;
every discriminator takes images ``[B, 1, H, W]`` and returns ``[B, 1]``
(a probability, or a logit where the recipe says so).
"""

from torch import nn

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

def r2_generator(latent_dim=64, hidden=256):
    """R2's G: noise ``[B, 64]`` -> images ``[B, 1, 28, 28]`` in (-1, 1)."""
    return nn.Sequential(
        nn.Linear(latent_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, PIXELS),
        nn.Tanh(),
        nn.Unflatten(1, IMAGE_SHAPE),
    )


def r2_discriminator(hidden=256):
    """R2's D: images ``[B, 1, 28, 28]`` -> probability of "real" ``[B, 1]``."""
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
