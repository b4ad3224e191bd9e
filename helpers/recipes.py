"""The reference recipes as named presets: architecture plus hyperparameters.

``RECIPES["r3"]`` holds everything needed to train recipe R3 exactly as
``shared/reference-recipes.md`` describes it; ``"course-mlp"``,
``"course-dcgan"``, ``"course-styles"`` and ``"cgan"`` are the course's own
settings, chosen by measuring them against the recipes
(``benchmarks/quality.py``). ``python -m helpers.train
--recipe r3`` trains one; benchmarks and notebooks use the same presets, so
results can be compared side by side.
"""

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Callable, Optional

from . import losses, models


@dataclass(frozen=True)
class Recipe:
    """One GAN recipe. Fields not set keep the defaults of the common GAN set-up."""

    name: str
    title: str
    build_generator: Callable
    build_discriminator: Callable
    latent_shape: tuple
    batch_size: int
    epochs: int
    lr: float
    betas: tuple = (0.9, 0.999)  # Adam's defaults
    dataset: str = "mnist"
    pixel_range: str = "tanh"  # "tanh": data in [-1, 1]; "unit": data in [0, 1]
    image_size: int = 28
    logits: bool = False  # D returns logits (trained with BCE-with-logits)
    real_target: float = 1.0
    fake_target: float = 0.0
    g_target: float = 1.0
    reuse_fake: bool = False  # G step reuses the D step's fake batch
    loss: str = "bce"  # a name of helpers.losses.LOSSES: "bce", "lsgan", "hinge", "wgan-gp" or "bce-sn"
    conditional: bool = False  # G(z, labels) and D(images, labels): the label chooses the digit
    styles_per_digit: int = 1  # train on this many styles of each digit (of all images, if not conditional)
    init: Optional[Callable] = None  # weight initialisation applied to G and D
    average_decay: Optional[float] = None  # keep an average of G's weights (averaging.WeightAverage) to sample with
    lr_decay_to: Optional[float] = None  # over the run's second half, lr falls linearly to lr * lr_decay_to
    amp: bool = False  # bfloat16 autocast, where the device computes it fast (runtime.fast_bfloat16)
    channels_last: bool = False  # NHWC memory layout for the convolutions
    seed: int = 0
    sample_every: int = 1  # save a fixed-noise grid every this many epochs
    n_samples: int = 64
    nrow: int = 8
    notes: str = field(default="", compare=False)

    @property
    def n_labels(self):
        """How many labels G and D are trained with (digits, or styles: ``helpers.styles``); None for none."""
        if self.conditional:
            return 10 * self.styles_per_digit
        return self.styles_per_digit if self.styles_per_digit > 1 else None

    def networks(self):
        """A new ``(G, D)`` from ``build_generator`` and ``build_discriminator``.

        Networks that take labels are built for ``n_labels`` of them
        (``n_classes=n_labels``), so the number of labels is set in one place:
        ``conditional`` and ``styles_per_digit``.
        """
        labelled = {} if self.n_labels is None else {"n_classes": self.n_labels}
        generator, discriminator = self.build_generator(**labelled), self.build_discriminator(**labelled)
        if losses.get_loss(self.loss).spectral_norm:
            losses.with_spectral_norm(discriminator)
        return generator, discriminator

    @property
    def measurable(self):
        """True when the course's digit classifier can judge its samples: 28x28 MNIST digits."""
        return self.dataset == "mnist" and self.image_size == 28


RECIPES = {
    "r1": Recipe(
        name="r1", title="R1: MLP GAN, pixels in [0, 1], Sigmoid output",
        build_generator=models.r1_generator, build_discriminator=models.r1_discriminator,
        latent_shape=(100,), batch_size=64, epochs=100, lr=2e-4,
        pixel_range="unit", reuse_fake=True, sample_every=10, n_samples=6, nrow=6,
        notes="D on real + D on G(z).detach(), summed; G step reuses the same fake batch.",
    ),
    "r2": Recipe(
        name="r2", title="R2: MLP GAN, pixels in [-1, 1], LeakyReLU discriminator",
        build_generator=models.r2_generator, build_discriminator=models.r2_discriminator,
        latent_shape=(64,), batch_size=100, epochs=20, lr=2e-4,
        sample_every=5, n_samples=100, nrow=10,
        notes="G step draws fresh noise; a 10-per-row grid of fixed noise every 5 epochs.",
    ),
    "r3": Recipe(
        name="r3", title="R3: minimal MLP GAN, one hidden layer",
        build_generator=models.r3_generator, build_discriminator=models.r3_discriminator,
        latent_shape=(100,), batch_size=64, epochs=200, lr=2e-4,
        sample_every=3, n_samples=16, nrow=4,
        notes="Real and fake D losses each call backward before one optimiser step: "
              "the same gradient as backward on their sum, which is what the course does.",
    ),
    "r4": Recipe(
        name="r4", title="R4: DCGAN 28x28 (from Keras)",
        build_generator=models.r4_generator, build_discriminator=models.r4_discriminator,
        latent_shape=(100,), batch_size=256, epochs=50, lr=1e-4,
        logits=True, n_samples=16, nrow=4, sample_every=1,
        notes="D returns a logit (BCE with logits); Keras' LeakyReLU slope 0.3; dropout 0.3 in D; "
              "PyTorch's BatchNorm defaults instead of Keras' (momentum 0.99, eps 1e-3).",
    ),
    "r5": Recipe(
        name="r5", title="R5: DCGAN 64x64 on Fashion-MNIST",
        build_generator=models.r5_generator, build_discriminator=models.r5_discriminator,
        latent_shape=(256, 1, 1), batch_size=1024, epochs=50, lr=5e-4, betas=(0.5, 0.999),
        dataset="fashion_mnist", image_size=64, real_target=0.9, fake_target=0.1, g_target=1.0,
        seed=42, n_samples=64, nrow=8, sample_every=10,
        notes="Images resized to 64x64; label smoothing 0.9 / 0.1 for D, 1.0 for G; no DCGAN init, as written.",
    ),
    "course-mlp": Recipe(
        name="course-mlp", title="The course's MLP GAN: widening G, logit D, Adam betas (0.5, 0.999)",
        build_generator=models.course_mlp_generator, build_discriminator=models.course_mlp_discriminator,
        latent_shape=(64,), batch_size=64, epochs=20, lr=2e-4, betas=(0.5, 0.999), logits=True,
        sample_every=1, n_samples=64, nrow=8,
        notes="The course's recommended MLP settings, chosen by measuring (benchmarks/quality.py).",
    ),
    "cgan": Recipe(
        name="cgan", title="The course's conditional DCGAN: choose the digit",
        build_generator=functools.partial(models.ConditionalGenerator, refine=True),
        build_discriminator=models.ConditionalDiscriminator,
        latent_shape=(64,), batch_size=64, epochs=10, lr=2e-3, betas=(0.0, 0.99), logits=True,
        conditional=True, styles_per_digit=5, average_decay=0.999, lr_decay_to=0.1, amp=True, channels_last=True,
        sample_every=1, n_samples=100, nrow=10,
        notes="Session 5's model: the label enters G through an embedding joined to the noise, and D "
              "as a 28x28 map stacked on the image. G has one more layer on each small map than session 5's "
              "(models.refining_layers). It trains on 5 styles of each digit (50 labels, found by "
              "k-means in each digit's training images: helpers.styles) and draws a digit through one of its "
              "styles. The sample grid has one row per digit. Samples are drawn with an average of G's weights. "
              "Chosen by measuring, after 5 minutes on a CPU: 5 styles per digit (FD 25.8) beat 1, the digit "
              "alone (FD 36-40), and in a throwaway script 3 and 10; lr 2e-3 beat 5e-4, 1e-3 and 3e-3, and "
              "Adam without momentum (betas 0.0, 0.99) beat betas (0.5, 0.999). bfloat16 autocast and the "
              "NHWC layout (where the CPU has bfloat16 instructions) train 1.7-1.8x the steps, and with those "
              "steps the refined G and a learning rate that falls to a tenth over the second half of the run "
              "pay off; benchmarks/README.md has each run, and benchmarks/quality.py "
              "--styles/--lr/--betas/--lr-decay-to/--plain-generator/--float32 repeats them. The average's FD was "
              "well below G's own (quality.py prints both).",
    ),
    "course-dcgan": Recipe(
        name="course-dcgan", title="The course's small DCGAN, sized for a CPU",
        build_generator=models.course_dcgan_generator, build_discriminator=models.course_dcgan_discriminator,
        latent_shape=(64,), batch_size=64, epochs=10, lr=1e-3, betas=(0.0, 0.99), logits=True,
        average_decay=0.999, sample_every=1, n_samples=64, nrow=8,
        notes="The course's recommended DCGAN settings, chosen by measuring after 5 minutes on a CPU: "
              "32 channels in G and lr 1e-3 beat 64 channels, lr 2e-4 or 5e-4, batches of 32 or 128 and a "
              "faster D (TTUR), and Adam without momentum (betas 0.0, 0.99) beat betas (0.5, 0.999); "
              "benchmarks/README.md has each run, and benchmarks/quality.py --lr/--betas repeats the lr and "
              "betas ones. Samples are drawn with an average of G's weights.",
    ),
    "course-styles": Recipe(
        name="course-styles", title="The course's small DCGAN on 70 styles of digits, found with no labels",
        build_generator=functools.partial(models.ConditionalGenerator, refine=True),
        build_discriminator=models.ConditionalDiscriminator,
        latent_shape=(64,), batch_size=64, epochs=10, lr=2e-3, betas=(0.0, 0.99), logits=True,
        styles_per_digit=70, average_decay=0.999, lr_decay_to=0.1, amp=True, channels_last=True,
        sample_every=1, n_samples=64, nrow=8,
        notes="Unconditional: no digit label is used. k-means splits all the training images into 70 styles "
              "(helpers.styles); G and D are session 5's conditional pair, trained on the style, and a sample "
              "draws its style in proportion to the style's size. The idea of self-conditioned GANs (Liu et "
              "al. 2020). Chosen by measuring, after 5 minutes on a CPU: with the same networks and settings, "
              "a throwaway script gave FD 154 for 1 style (no styles at all), 73 for 10, 22.5 for 50 and 22.7 "
              "for 100. It has the cgan recipe's G (with refining layers), speed options and falling learning "
              "rate; with them, after 5 minutes, benchmarks/quality.py --settings course-styles --styles K "
              "measured FD 33.9 for 30 styles, 21.6-22.6 for 50, 18.5-18.6 (2.8x the floor) for 70 and 24.5 "
              "for 100 (benchmarks/README.md). "
              "Samples are drawn with an average of G's weights.",
    ),
}


def _course_dcgan_with(loss, name, title):
    """course-dcgan's networks and average, trained with session 6's loss ``loss`` and that loss's own
    paper's Adam settings (``losses.Loss.lr``, ``.betas``)."""
    chosen = losses.LOSSES[loss]
    return dataclasses.replace(
        RECIPES["course-dcgan"], name=name, title=title, loss=loss, lr=chosen.lr, betas=chosen.betas,
        notes=f"course-dcgan's networks (a D without BatchNorm, as WGAN-GP's per-sample penalty needs) and average "
              f"of G's weights, trained with session 6's {loss!r} loss ({chosen.words}; helpers.losses) and the "
              f"Adam settings of its paper, {chosen.paper}. benchmarks/quality.py --settings course-dcgan --losses "
              f"... --paper-adam compares them.")


_SESSION_6 = (
    _course_dcgan_with("bce", "bce-dcgan", "The course's small DCGAN with DCGAN's own Adam (session 6)"),
    _course_dcgan_with("lsgan", "lsgan-dcgan", "The course's small DCGAN with least-squares losses (session 6)"),
    _course_dcgan_with("hinge", "hinge-dcgan", "The course's small DCGAN with hinge losses (session 6)"),
    _course_dcgan_with("wgan-gp", "wgan-gp", "The course's small DCGAN as a WGAN-GP: 5 critic steps per G step "
                                             "(session 6)"),
    _course_dcgan_with("bce-sn", "sn-dcgan", "The course's small DCGAN with a spectrally normalised D (session 6)"),
)
RECIPES.update({recipe.name: recipe for recipe in _SESSION_6})
# The recipe that trains the course's small DCGAN with each of session 6's losses, each with its paper's Adam
LOSS_RECIPES = {recipe.loss: recipe.name for recipe in _SESSION_6}


def get_recipe(name):
    """The recipe called ``name`` (case-insensitive); ``ValueError`` listing the choices otherwise."""
    key = str(name).lower()
    if key not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(sorted(RECIPES))}")
    return RECIPES[key]
