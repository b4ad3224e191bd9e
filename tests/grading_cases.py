"""Wrong submissions a student could realistically hand in, for the grading tests.

``MUTANTS[notebook][grade_id]`` lists ``(what is wrong, replacement code, fix)``
for the solution cell ``grade_id``. Each mutant is a whole submission: the
student notebook with every exercise solved correctly except that one cell.
Grading it must cost exactly that exercise's points, and the exercise's
visible check must fail with a message that names ``fix`` first.

``VARIANTS`` lists correct solutions written differently from ours: they must
keep full marks.
"""

import csv
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from gan_grader import release
from helpers.runtime import REPO_ROOT

SOURCES = {p.stem: p for p in release.source_notebooks()}
STUDENTS = {name: release.NOTEBOOKS_DIR / f"{name}.ipynb" for name in SOURCES}

MUTANTS = {
    "01_data": {
        "to_minus_one_one": [
            ("divides by 255 only, so the range is [0, 1]",
             "def to_minus_one_one(images):\n    return images.float() / 255\n", "subtract 1"),
            ("divides by 128, so 255 maps to 0.99 instead of 1",
             "def to_minus_one_one(images):\n    return images.float() / 128 - 1\n", "127.5"),
            ("calls the course's own pixel converter",
             "def to_minus_one_one(images):\n    return data.convert_pixels(images, 'uint8', 'tanh')\n",
             "Write to_minus_one_one yourself"),
        ],
        "to_zero_one": [
            ("halves without shifting, so -1 maps to -0.5",
             "def to_zero_one(x):\n    return x * 0.5\n", "(x + 1) / 2"),
            ("maps back to pixel values instead of [0, 1]",
             "def to_zero_one(x):\n    return (x + 1) * 127.5\n", "(x + 1) / 2"),
        ],
        "make_mnist_loader": [
            ("forgets Normalize, so batches are in [0, 1]",
             "from torch.utils.data import DataLoader\nfrom torchvision import transforms\n\n"
             "def make_mnist_loader(batch_size):\n"
             "    dataset = data.classic_dataset('mnist', 'train', transform=transforms.ToTensor())\n"
             "    return DataLoader(dataset, batch_size=batch_size, shuffle=True)\n", "Normalize((0.5,), (0.5,))"),
            ("does not shuffle",
             "from torch.utils.data import DataLoader\nfrom torchvision import transforms\n\n"
             "def make_mnist_loader(batch_size):\n"
             "    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])\n"
             "    return DataLoader(data.classic_dataset('mnist', 'train', transform=t), batch_size=batch_size)\n", "shuffle=True"),
        ],
        "class_counts": [
            ("bincount without minlength: absent top classes have no entry",
             "def class_counts(labels, num_classes=10):\n    return torch.bincount(labels)\n", "minlength"),
            ("counts only the classes present",
             "def class_counts(labels, num_classes=10):\n"
             "    return torch.unique(labels, return_counts=True)[1]\n", "minlength"),
        ],
        "mean_image": [
            ("forgets to divide by 255",
             "def mean_image(images):\n    return images.float().mean(dim=0)\n", "Divide by 255"),
            ("averages everything into one number",
             "def mean_image(images):\n    return images.float().mean() / 255\n", "dim=0"),
        ],
    },
    "02_mlp_gan": {
        "make_generator": [
            ("forgets the Tanh, so pixels are unbounded",
             "def make_generator(latent_dim=LATENT_DIM, hidden=HIDDEN):\n"
             "    return nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden),\n"
             "                         nn.ReLU(), nn.Linear(hidden, 784))\n", "nn.Tanh()"),
            ("only one hidden layer",
             "def make_generator(latent_dim=LATENT_DIM, hidden=HIDDEN):\n"
             "    return nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784), nn.Tanh())\n", "three Linear layers"),
        ],
        "make_discriminator": [
            ("forgets the Sigmoid, so D returns scores, not probabilities",
             "def make_discriminator(hidden=HIDDEN):\n"
             "    return nn.Sequential(nn.Linear(784, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),\n"
             "                         nn.LeakyReLU(0.2), nn.Linear(hidden, 1))\n", "nn.Sigmoid()"),
        ],
        "sample_noise": [
            ("uniform noise (torch.rand) instead of normal",
             "def sample_noise(batch_size, latent_dim, device):\n"
             "    return torch.rand(batch_size, latent_dim, device=device)\n", "torch.randn"),
            ("is the course's own, imported", "from helpers.steps import sample_noise\n",
             "Write sample_noise yourself"),
        ],
        "discriminator_loss": [
            ("labels swapped: real 0, fake 1",
             "def discriminator_loss(d_real, d_fake):\n"
             "    return (nn.functional.binary_cross_entropy(d_real, torch.zeros_like(d_real))\n"
             "            + nn.functional.binary_cross_entropy(d_fake, torch.ones_like(d_fake)))\n", "Swap the labels"),
        ],
        "generator_loss": [
            ("the saturating loss log(1 - D(G(z)))",
             "def generator_loss(d_fake):\n    return torch.log(1 - d_fake).mean()\n", "non-saturating"),
        ],
        "discriminator_step": [
            ("no .detach(): D's loss sends gradients into G",
             "def discriminator_step(G, D, opt_d, real, latent_dim):\n"
             "    fake = G(sample_noise(real.shape[0], latent_dim, real.device))\n"
             "    d_real, d_fake = D(real), D(fake)\n"
             "    d_loss = discriminator_loss(d_real, d_fake)\n"
             "    opt_d.zero_grad()\n    d_loss.backward()\n    opt_d.step()\n"
             "    return d_loss.detach(), d_real.detach().mean(), d_fake.detach().mean()\n", "G(z).detach()"),
            ("forgets opt_d.zero_grad(), so old gradients pile up",
             "def discriminator_step(G, D, opt_d, real, latent_dim):\n"
             "    fake = G(sample_noise(real.shape[0], latent_dim, real.device)).detach()\n"
             "    d_real, d_fake = D(real), D(fake)\n"
             "    d_loss = discriminator_loss(d_real, d_fake)\n"
             "    d_loss.backward()\n    opt_d.step()\n"
             "    return d_loss.detach(), d_real.detach().mean(), d_fake.detach().mean()\n", "opt_d.zero_grad()"),
            ("hard-codes the CPU for the noise",
             "def discriminator_step(G, D, opt_d, real, latent_dim):\n"
             "    fake = G(torch.randn(real.shape[0], latent_dim, device='cpu')).detach()\n"
             "    d_real, d_fake = D(real), D(fake)\n"
             "    d_loss = discriminator_loss(d_real, d_fake)\n"
             "    opt_d.zero_grad()\n    d_loss.backward()\n    opt_d.step()\n"
             "    return d_loss.detach(), d_real.detach().mean(), d_fake.detach().mean()\n", "real.device"),
        ],
        "generator_step": [
            ("labels its fakes 0 (fake) instead of 1",
             "def generator_step(G, D, opt_g, batch_size, latent_dim):\n"
             "    d_fake = D(G(sample_noise(batch_size, latent_dim, next(G.parameters()).device)))\n"
             "    g_loss = nn.functional.binary_cross_entropy(d_fake, torch.zeros_like(d_fake))\n"
             "    opt_g.zero_grad()\n    g_loss.backward()\n    opt_g.step()\n"
             "    return g_loss.detach()\n", "Label G's fakes 1"),
            ("forgets opt_g.zero_grad()",
             "def generator_step(G, D, opt_g, batch_size, latent_dim):\n"
             "    g_loss = generator_loss(D(G(sample_noise(batch_size, latent_dim, next(G.parameters()).device))))\n"
             "    g_loss.backward()\n    opt_g.step()\n"
             "    return g_loss.detach()\n", "opt_g.zero_grad()"),
            ("detaches the fakes, so G gets no gradient",
             "def generator_step(G, D, opt_g, batch_size, latent_dim):\n"
             "    fake = G(sample_noise(batch_size, latent_dim, next(G.parameters()).device)).detach()\n"
             "    g_loss = generator_loss(D(fake))\n"
             "    opt_g.zero_grad()\n    g_loss.backward()\n    opt_g.step()\n"
             "    return g_loss.detach()\n", "Remove any .detach()"),
        ],
    },
    "03_dcgan": {
        "convtranspose_output_size": [
            ('forgets output_padding',
             'def convtranspose_output_size(size, kernel, stride=1, padding=0, output_padding=0):\n    return (size - 1) * stride - 2 * padding + (kernel - 1) + 1\n', "Add output_padding"),
            ("uses the ordinary convolution's formula",
             'def convtranspose_output_size(size, kernel, stride=1, padding=0, output_padding=0):\n    return (size + 2 * padding - kernel) // stride + 1\n', "transposed convolution's formula"),
        ],
        "make_dcgan_generator": [
            ('no output_padding: 7 -> 13 -> 25',
             'def make_dcgan_generator(latent_dim=LATENT_DIM):\n    return nn.Sequential(\n        nn.Linear(latent_dim, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256), nn.LeakyReLU(0.3),\n        nn.Unflatten(1, (256, 7, 7)),\n        nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.3),\n        nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.3),\n        nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, bias=False), nn.Tanh())\n', "output_padding=1"),
            ('forgets the Tanh',
             'def make_dcgan_generator(latent_dim=LATENT_DIM):\n    return nn.Sequential(\n        nn.Linear(latent_dim, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256), nn.LeakyReLU(0.3),\n        nn.Unflatten(1, (256, 7, 7)),\n        nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.3),\n        nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.3),\n        nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1, bias=False), nn.Identity())\n', "nn.Tanh()"),
        ],
        "make_dcgan_discriminator": [
            ('ends with a Sigmoid, then BCEWithLogits applies a second one',
             'def make_dcgan_discriminator():\n    return nn.Sequential(\n        nn.Conv2d(1, 64, 5, stride=2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),\n        nn.Conv2d(64, 128, 5, stride=2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),\n        nn.Flatten(), nn.Linear(7 * 7 * 128, 1), nn.Sigmoid())\n', "Remove the nn.Sigmoid"),
            ("BatchNorm in D's first layer",
             'def make_dcgan_discriminator():\n    return nn.Sequential(\n        nn.Conv2d(1, 64, 5, stride=2, padding=2), nn.BatchNorm2d(64), nn.LeakyReLU(0.3), nn.Dropout(0.3),\n        nn.Conv2d(64, 128, 5, stride=2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),\n        nn.Flatten(), nn.Linear(7 * 7 * 128, 1))\n', "Remove the BatchNorm"),
        ],
        "dcgan_init": [
            ('standard deviation 0.2 instead of 0.02',
             'def dcgan_init(module):\n    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):\n        nn.init.normal_(module.weight, 0.0, 0.2)\n    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):\n        nn.init.normal_(module.weight, 1.0, 0.02)\n        nn.init.zeros_(module.bias)\n', "0.0, 0.02"),
            ('BatchNorm scales centred on 0 instead of 1',
             'def dcgan_init(module):\n    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm1d, nn.BatchNorm2d)):\n        nn.init.normal_(module.weight, 0.0, 0.02)\n', "1.0, 0.02"),
            ("is the course's own, imported", "from helpers.models import dcgan_init\n", "Write dcgan_init yourself"),
        ],
        "discriminator_loss_logits": [
            ('sigmoid first, then BCEWithLogits: a double sigmoid',
             'def discriminator_loss_logits(real_logits, fake_logits, real_target=1.0, fake_target=0.0):\n    bce = nn.functional.binary_cross_entropy_with_logits\n    r, f = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)\n    return bce(r, torch.full_like(r, real_target)) + bce(f, torch.full_like(f, fake_target))\n', "raw logits"),
            ('ignores the smoothed targets',
             'def discriminator_loss_logits(real_logits, fake_logits, real_target=1.0, fake_target=0.0):\n    bce = nn.functional.binary_cross_entropy_with_logits\n    return bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))\n', "real_target"),
            ('Sigmoid + BCELoss: breaks for extreme logits',
             'def discriminator_loss_logits(real_logits, fake_logits, real_target=1.0, fake_target=0.0):\n    bce = nn.functional.binary_cross_entropy\n    r, f = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)\n    return bce(r, torch.full_like(r, real_target)) + bce(f, torch.full_like(f, fake_target))\n', "binary_cross_entropy_with_logits"),
        ],
    },
}


# Realistic mistakes that older checks let through with full marks.
MUTANTS["01_data"]["make_mnist_loader"].append(
    ("builds the loader on the test split",
     "from torch.utils.data import DataLoader\nfrom torchvision import transforms\n\n"
     "def make_mnist_loader(batch_size):\n"
     "    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])\n"
     "    return DataLoader(data.classic_dataset('mnist', 'test', transform=t), batch_size=batch_size, shuffle=True)\n",
     "'train' split"))
MUTANTS["02_mlp_gan"]["generator_step"] += [
    ("ignores its optimiser argument and steps an Adam of its own",
     "def generator_step(G, D, opt_g, batch_size, latent_dim):\n"
     "    own = torch.optim.Adam(G.parameters(), lr=2e-4)\n"
     "    g_loss = generator_loss(D(G(sample_noise(batch_size, latent_dim, next(G.parameters()).device))))\n"
     "    own.zero_grad()\n    g_loss.backward()\n    own.step()\n"
     "    return g_loss.detach()\n",
     "optimiser you are given"),
    ("freezes D for its step and never unfreezes it",
     "def generator_step(G, D, opt_g, batch_size, latent_dim):\n"
     "    D.requires_grad_(False)\n"
     "    g_loss = generator_loss(D(G(sample_noise(batch_size, latent_dim, next(G.parameters()).device))))\n"
     "    opt_g.zero_grad()\n    g_loss.backward()\n    opt_g.step()\n"
     "    return g_loss.detach()\n",
     "D.requires_grad_(True)"),
]
MUTANTS["03_dcgan"]["make_dcgan_generator"].append(
    ("ReLU where the recipe says LeakyReLU(0.3)",
     'def make_dcgan_generator(latent_dim=LATENT_DIM):\n    return nn.Sequential(\n'
     '        nn.Linear(latent_dim, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256), nn.ReLU(),\n'
     '        nn.Unflatten(1, (256, 7, 7)),\n'
     '        nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False), nn.BatchNorm2d(128), nn.ReLU(),\n'
     '        nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),\n'
     '        nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1, bias=False), nn.Tanh())\n',
     "nn.LeakyReLU(0.3)"))
MUTANTS["03_dcgan"]["make_dcgan_generator"] += [
    ("takes a width but builds R4's channels whatever it says",
     'def make_dcgan_generator(latent_dim=LATENT_DIM, width=64):\n    return nn.Sequential(\n'
     '        nn.Linear(latent_dim, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256), nn.LeakyReLU(0.3),\n'
     '        nn.Unflatten(1, (256, 7, 7)),\n'
     '        nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.3),\n'
     '        nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.3),\n'
     '        nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1, bias=False), nn.Tanh())\n',
     "Build every layer from width"),
    ("has no width argument",
     'def make_dcgan_generator(latent_dim=LATENT_DIM):\n    return nn.Sequential(\n'
     '        nn.Linear(latent_dim, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256), nn.LeakyReLU(0.3),\n'
     '        nn.Unflatten(1, (256, 7, 7)),\n'
     '        nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.3),\n'
     '        nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.3),\n'
     '        nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1, bias=False), nn.Tanh())\n',
     "Give the builder a width argument"),
]
MUTANTS["03_dcgan"]["make_dcgan_discriminator"].append(
    ("scales the first convolution with width but not the second",
     'def make_dcgan_discriminator(width=64):\n    return nn.Sequential(\n'
     '        nn.Conv2d(1, width, 5, stride=2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),\n'
     '        nn.Conv2d(width, 128, 5, stride=2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),\n'
     '        nn.Flatten(), nn.Linear(7 * 7 * 128, 1))\n',
     "Build both convolutions from width"))
MUTANTS["03_dcgan"]["make_dcgan_discriminator"].append(
    ("applies torch.sigmoid in forward, before a logits loss",
     'class SigmoidD(nn.Module):\n    def __init__(self):\n        super().__init__()\n'
     '        self.body = nn.Sequential(\n'
     '            nn.Conv2d(1, 64, 5, stride=2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),\n'
     '            nn.Conv2d(64, 128, 5, stride=2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),\n'
     '            nn.Flatten(), nn.Linear(7 * 7 * 128, 1))\n\n'
     '    def forward(self, x):\n        return torch.sigmoid(self.body(x))\n\n\n'
     'def make_dcgan_discriminator():\n    return SigmoidD()\n',
     "torch.sigmoid"))
MUTANTS["03_dcgan"]["discriminator_loss_logits"].append(
    ("smooths the fake target on the wrong side: 1 - real_target",
     'def discriminator_loss_logits(real_logits, fake_logits, real_target=1.0, fake_target=0.0):\n'
     '    bce = nn.functional.binary_cross_entropy_with_logits\n'
     '    return (bce(real_logits, torch.full_like(real_logits, real_target))\n'
     '            + bce(fake_logits, torch.full_like(fake_logits, 1 - real_target)))\n',
     "fake_target"))

MUTANTS["04_evaluate"] = {
    "frechet_distance": [
        ("calls the course's own answer, metrics.frechet_distance",
         "def frechet_distance(mu1, sigma1, mu2, sigma2):\n"
         "    return metrics.frechet_distance(mu1, sigma1, mu2, sigma2)\n", "Write frechet_distance yourself"),
        ("square roots each covariance on its own instead of their product",
         "def frechet_distance(mu1, sigma1, mu2, sigma2):\n"
         "    r1 = torch.linalg.eigvalsh(sigma1).clamp(min=0).sqrt().sum()\n"
         "    r2 = torch.linalg.eigvalsh(sigma2).clamp(min=0).sqrt().sum()\n"
         "    return float(((mu1 - mu2) ** 2).sum() + torch.trace(sigma1) + torch.trace(sigma2) - 2 * r1 * r2)\n",
         "sigma1 @ sigma2"),
        ("forgets the mean term",
         "def frechet_distance(mu1, sigma1, mu2, sigma2):\n"
         "    ev = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)\n"
         "    return float(torch.trace(sigma1) + torch.trace(sigma2) - 2 * ev.sqrt().sum())\n",
         "((mu1 - mu2) ** 2).sum()"),
        ("subtracts the root trace once instead of twice",
         "def frechet_distance(mu1, sigma1, mu2, sigma2):\n"
         "    ev = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)\n"
         "    return float(((mu1 - mu2) ** 2).sum() + torch.trace(sigma1) + torch.trace(sigma2) - ev.sqrt().sum())\n",
         "2 * trace(sqrt(sigma1 @ sigma2))"),
    ],
    "class_coverage": [
        ("counts every class that appears, however rarely",
         "def class_coverage(probabilities, threshold=0.05):\n"
         "    counts = torch.bincount(probabilities.argmax(1), minlength=10)\n"
         "    shares = counts.double() / counts.sum()\n"
         "    nz = shares[shares > 0]\n"
         "    return int((counts > 0).sum()), float(-(nz * nz.log()).sum())\n",
         "at least 5%"),
        ("entropy of each sample's probabilities, averaged, not of the histogram",
         "def class_coverage(probabilities, threshold=0.05):\n"
         "    counts = torch.bincount(probabilities.argmax(1), minlength=10)\n"
         "    shares = counts.double() / counts.sum()\n"
         "    return int((shares >= threshold).sum()), float(-(probabilities * probabilities.log()).sum(1).mean())\n",
         "histogram of predicted classes"),
        ("entropy in bits (log2)",
         "def class_coverage(probabilities, threshold=0.05):\n"
         "    counts = torch.bincount(probabilities.argmax(1), minlength=10)\n"
         "    shares = counts.double() / counts.sum()\n"
         "    nz = shares[shares > 0]\n"
         "    return int((shares >= threshold).sum()), float(-(nz * torch.log2(nz)).sum())\n",
         "natural logarithm"),
    ],
    "count_modes": [
        ("a sample is good within 3 of anything, not 3 standard deviations",
         "def count_modes(samples, centres, std, min_samples=20):\n"
         "    distance, nearest = torch.cdist(samples, centres).min(1)\n"
         "    good = distance <= 3\n"
         "    per_mode = torch.bincount(nearest[good], minlength=len(centres))\n"
         "    return int((per_mode >= min_samples).sum()), float(good.float().mean())\n",
         "3 * std"),
        ("counts a mode as soon as one sample lands on it",
         "def count_modes(samples, centres, std, min_samples=20):\n"
         "    distance, nearest = torch.cdist(samples, centres).min(1)\n"
         "    good = distance <= 3 * std\n"
         "    per_mode = torch.bincount(nearest[good], minlength=len(centres))\n"
         "    return int((per_mode >= 1).sum()), float(good.float().mean())\n",
         "at least 20"),
    ],
    "pack": [
        ("interleaves instead of putting consecutive samples together",
         "def pack(x, m):\n"
         "    if x.shape[0] % m:\n        raise ValueError('not a multiple of m')\n"
         "    return x.reshape(m, x.shape[0] // m, x.shape[1]).transpose(0, 1).reshape(x.shape[0] // m, -1)\n",
         "consecutive samples"),
        ("silently drops the samples that do not fill a pack",
         "def pack(x, m):\n"
         "    n = x.shape[0] - x.shape[0] % m\n"
         "    return x[:n].reshape(n // m, m * x.shape[1])\n",
         "Raise ValueError"),
    ],
    "slerp": [
        ("the straight line (lerp) instead of the arc",
         "def slerp(z0, z1, t):\n    return (1 - t) * z0 + t * z1\n",
         "arc"),
        ("divides by sin(omega) with no fallback: NaN when z0 and z1 point the same way",
         "def slerp(z0, z1, t):\n"
         "    omega = torch.arccos((torch.dot(z0, z1) / (z0.norm() * z1.norm())).clamp(-1, 1))\n"
         "    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)\n",
         "Fall back to the straight line"),
    ],
}

# What session 5's mutants share with the solution, written once
COND_D_INIT = ("class ConditionalDiscriminator(nn.Module):\n"
               "    def __init__(self, n_classes=N_CLASSES):\n"
               "        super().__init__()\n"
               "        self.label_map = nn.Embedding(n_classes, 28 * 28)\n"
               "        self.body = models.course_dcgan_discriminator(in_channels=2)\n\n")
COND_D_LOSS_AND_STEP = ("    loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))\n"
                        "            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))\n"
                        "    opt_d.zero_grad()\n    loss.backward()\n    opt_d.step()\n"
                        "    return loss.detach()\n")

MUTANTS["05_conditional"] = {
    "join_label": [
        ("detaches the embedding, so the label table never learns",
         "def join_label(z, labels, embedding):\n"
         "    return torch.cat([z, embedding(labels).detach()], dim=1)\n",
         "Keep the embedding in the graph"),
        ("the embedding first, then the noise",
         "def join_label(z, labels, embedding):\n"
         "    return torch.cat([embedding(labels), z], dim=1)\n",
         "Put the noise first"),
    ],
    "conditional_generator": [
        ("G ignores its label: every request is drawn as a 0",
         "class ConditionalGenerator(nn.Module):\n"
         "    def __init__(self, latent_dim=LATENT_DIM, n_classes=N_CLASSES, embed_dim=16):\n"
         "        super().__init__()\n"
         "        self.embed = nn.Embedding(n_classes, embed_dim)\n"
         "        self.body = models.course_dcgan_generator(latent_dim + embed_dim)\n\n"
         "    def forward(self, z, labels):\n"
         "        return self.body(join_label(z, torch.zeros_like(labels), self.embed))\n",
         "Pass the labels on in forward"),
        ("a one-hot label of the wrong width (11 for 10 digits) instead of an embedding",
         "class ConditionalGenerator(nn.Module):\n"
         "    def __init__(self, latent_dim=LATENT_DIM, n_classes=N_CLASSES, embed_dim=16):\n"
         "        super().__init__()\n"
         "        self.body = models.course_dcgan_generator(latent_dim + 11)\n\n"
         "    def forward(self, z, labels):\n"
         "        return self.body(torch.cat([z, F.one_hot(labels, 11).float()], dim=1))\n",
         "nn.Embedding(n_classes, embed_dim)"),
        ("subclasses the course's own G",
         "class ConditionalGenerator(models.ConditionalGenerator):\n    pass\n", "Write ConditionalGenerator yourself"),
    ],
    "conditional_discriminator": [
        ("the label never reaches D: a blank map instead of the label's",
         COND_D_INIT +
         "    def forward(self, images, labels):\n"
         "        return self.body(torch.cat([images, torch.zeros_like(images)], dim=1))\n",
         "Give the label to D"),
        ("a sigmoid in forward before a logits loss",
         COND_D_INIT +
         "    def forward(self, images, labels):\n"
         "        maps = self.label_map(labels).view(-1, 1, 28, 28)\n"
         "        return torch.sigmoid(self.body(torch.cat([images, maps], dim=1)))\n",
         "Return a logit"),
    ],
    "conditional_discriminator_step": [
        ("the real batch's labels are shuffled before D sees them",
         "def conditional_discriminator_step(G, D, opt_d, real, labels, latent_dim):\n"
         "    z = torch.randn(real.shape[0], latent_dim, device=real.device)\n"
         "    fake = G(z, labels).detach()\n"
         "    d_real = D(real, labels[torch.randperm(len(labels))])\n"
         "    d_fake = D(fake, labels)\n"
         + COND_D_LOSS_AND_STEP,
         "its own label"),
        ("no .detach(): D's loss sends gradients into G",
         "def conditional_discriminator_step(G, D, opt_d, real, labels, latent_dim):\n"
         "    z = torch.randn(real.shape[0], latent_dim, device=real.device)\n"
         "    fake = G(z, labels)\n"
         "    d_real, d_fake = D(real, labels), D(fake, labels)\n"
         + COND_D_LOSS_AND_STEP,
         ".detach()"),
    ],
    "conditional_generator_step": [
        ("D left frozen after G's step",
         "def conditional_generator_step(G, D, opt_g, labels, latent_dim):\n"
         "    z = torch.randn(labels.shape[0], latent_dim, device=labels.device)\n"
         "    D.requires_grad_(False)\n"
         "    d_fake = D(G(z, labels), labels)\n"
         "    loss = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))\n"
         "    opt_g.zero_grad()\n    loss.backward()\n    opt_g.step()\n"
         "    return loss.detach()\n",
         "D.requires_grad_(True)"),
        ("D judges the fakes with random labels, not the ones G was given",
         "def conditional_generator_step(G, D, opt_g, labels, latent_dim):\n"
         "    z = torch.randn(labels.shape[0], latent_dim, device=labels.device)\n"
         "    D.requires_grad_(False)\n"
         "    d_fake = D(G(z, labels), torch.randint(0, 10, labels.shape))\n"
         "    loss = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))\n"
         "    opt_g.zero_grad()\n    loss.backward()\n    opt_g.step()\n"
         "    D.requires_grad_(True)\n"
         "    return loss.detach()\n",
         "the digits G was asked for"),
    ],
    "conditional_accuracy": [
        ("per class: the share of predictions of each digit, not the accuracy per requested digit",
         "@torch.no_grad()\n"
         "def conditional_accuracy(generator, classifier, latent_dim, n_per_class=100):\n"
         "    requested = torch.arange(10).repeat_interleave(n_per_class)\n"
         "    generator.eval()\n"
         "    predicted = classifier(generator(torch.randn(len(requested), latent_dim), requested)).argmax(1)\n"
         "    hits = (predicted == requested).float()\n"
         "    return hits.mean().item(), torch.bincount(predicted, minlength=10).float() / len(predicted)\n",
         "Average the hits of each requested digit"),
        ("asks for random digits, so a G that always draws one digit is not pinned at 10%",
         "@torch.no_grad()\n"
         "def conditional_accuracy(generator, classifier, latent_dim, n_per_class=100):\n"
         "    requested = torch.randint(0, 10, (10 * n_per_class,), generator=torch.Generator().manual_seed(0))\n"
         "    generator.eval()\n"
         "    predicted = classifier(generator(torch.randn(len(requested), latent_dim), requested)).argmax(1)\n"
         "    hits = (predicted == requested).float()\n"
         "    per_class = torch.stack([hits[requested == k].mean() for k in range(10)])\n"
         "    return hits.mean().item(), per_class\n",
         "every digit equally often"),
    ],
}


VARIANTS = {
    "01_data": {
        "make_mnist_loader": [
            ("asks for more DataLoader workers than there are cores: a harmless UserWarning",
             "import os\n\nfrom torch.utils.data import DataLoader\nfrom torchvision import transforms\n\n"
             "def make_mnist_loader(batch_size):\n"
             "    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])\n"
             "    return DataLoader(data.classic_dataset('mnist', 'train', transform=t), batch_size=batch_size,\n"
             "                      shuffle=True, num_workers=(os.cpu_count() or 1) + 1)\n"),
        ],
    },
    "02_mlp_gan": {
        "discriminator_step": [
            ("prints its loss with .item() (fine: reading a number is no device mistake)",
             "def discriminator_step(G, D, opt_d, real, latent_dim):\n"
             "    fake = G(sample_noise(real.shape[0], latent_dim, real.device)).detach()\n"
             "    d_real, d_fake = D(real), D(fake)\n"
             "    d_loss = discriminator_loss(d_real, d_fake)\n"
             "    opt_d.zero_grad()\n    d_loss.backward()\n    opt_d.step()\n"
             "    if d_loss.item() > 100:\n        print(f'd_loss is large: {d_loss.item():.1f}')\n"
             "    return d_loss.detach(), d_real.detach().mean(), d_fake.detach().mean()\n"),
            ("logs its loss through Python's logging, which writes to stderr (nbgrader zeroes a cell with stderr)",
             "import logging\n\n"
             "def discriminator_step(G, D, opt_d, real, latent_dim):\n"
             "    fake = G(sample_noise(real.shape[0], latent_dim, real.device)).detach()\n"
             "    d_real, d_fake = D(real), D(fake)\n"
             "    d_loss = discriminator_loss(d_real, d_fake)\n"
             "    opt_d.zero_grad()\n    d_loss.backward()\n    opt_d.step()\n"
             "    logging.getLogger('my_gan').warning('d_loss %.3f', d_loss.item())\n"
             "    return d_loss.detach(), d_real.detach().mean(), d_fake.detach().mean()\n"),
        ],
    },
    "03_dcgan": {
        "make_dcgan_generator": [
            ("torch.tanh in forward instead of an nn.Tanh module (session 3 allows either)",
             'class Generator(nn.Module):\n    def __init__(self, latent_dim, width):\n        super().__init__()\n'
             '        c1, c2, c3 = 4 * width, 2 * width, width\n'
             '        self.body = nn.Sequential(\n'
             '            nn.Linear(latent_dim, 7 * 7 * c1, bias=False), nn.BatchNorm1d(7 * 7 * c1), nn.LeakyReLU(0.3),\n'
             '            nn.Unflatten(1, (c1, 7, 7)),\n'
             '            nn.ConvTranspose2d(c1, c2, 5, stride=1, padding=2, bias=False), nn.BatchNorm2d(c2), nn.LeakyReLU(0.3),\n'
             '            nn.ConvTranspose2d(c2, c3, 5, stride=2, padding=2, output_padding=1, bias=False),\n'
             '            nn.BatchNorm2d(c3), nn.LeakyReLU(0.3),\n'
             '            nn.ConvTranspose2d(c3, 1, 5, stride=2, padding=2, output_padding=1, bias=False))\n\n'
             '    def forward(self, z):\n        return torch.tanh(self.body(z))\n\n\n'
             'def make_dcgan_generator(latent_dim=LATENT_DIM, width=64):\n    return Generator(latent_dim, width)\n'),
            ("F.leaky_relu and torch.tanh in forward instead of modules (the text does not ask for modules)",
             'import torch.nn.functional as F\n\n\n'
             'class Generator(nn.Module):\n    def __init__(self, latent_dim, width=64):\n        super().__init__()\n'
             '        self.width = width\n'
             '        self.fc = nn.Linear(latent_dim, 7 * 7 * 4 * width, bias=False)\n'
             '        self.bn0 = nn.BatchNorm1d(7 * 7 * 4 * width)\n'
             '        self.up1 = nn.ConvTranspose2d(4 * width, 2 * width, 5, stride=1, padding=2, bias=False)\n'
             '        self.bn1 = nn.BatchNorm2d(2 * width)\n'
             '        self.up2 = nn.ConvTranspose2d(2 * width, width, 5, stride=2, padding=2, output_padding=1, bias=False)\n'
             '        self.bn2 = nn.BatchNorm2d(width)\n'
             '        self.up3 = nn.ConvTranspose2d(width, 1, 5, stride=2, padding=2, output_padding=1, bias=False)\n\n'
             '    def forward(self, z):\n'
             '        x = F.leaky_relu(self.bn0(self.fc(z)), 0.3).view(-1, 4 * self.width, 7, 7)\n'
             '        x = F.leaky_relu(self.bn1(self.up1(x)), 0.3)\n'
             '        x = F.leaky_relu(self.bn2(self.up2(x)), 0.3)\n'
             '        return torch.tanh(self.up3(x))\n\n\n'
             'def make_dcgan_generator(latent_dim=LATENT_DIM, width=64):\n    return Generator(latent_dim, width=width)\n'),
        ],
    },
    "05_conditional": {
        "conditional_generator": [
            ("registers body before embed (the judge used to load weights in registration order)",
             "class ConditionalGenerator(nn.Module):\n"
             "    def __init__(self, latent_dim=LATENT_DIM, n_classes=N_CLASSES, embed_dim=16):\n"
             "        super().__init__()\n"
             "        self.body = models.course_dcgan_generator(latent_dim + embed_dim)\n"
             "        self.embed = nn.Embedding(n_classes, embed_dim)\n\n"
             "    def forward(self, z, labels):\n"
             "        return self.body(join_label(z, labels, self.embed))\n"),
        ],
        "conditional_discriminator_step": [
            ("draws random labels for the fakes, which the text allows (G and D get the same ones)",
             "def conditional_discriminator_step(G, D, opt_d, real, labels, latent_dim):\n"
             "    fake_labels = torch.randint(0, N_CLASSES, labels.shape, device=labels.device)\n"
             "    fake = G(torch.randn(len(labels), latent_dim, device=real.device), fake_labels).detach()\n"
             "    d_real, d_fake = D(real, labels), D(fake, fake_labels)\n"
             "    loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))\n"
             "            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))\n"
             "    opt_d.zero_grad()\n    loss.backward()\n    opt_d.step()\n"
             "    return loss.detach()\n"),
            ("makes the fakes under torch.no_grad() instead of detaching them, and one loss call on both halves",
             "def conditional_discriminator_step(G, D, opt_d, real, labels, latent_dim):\n"
             "    with torch.no_grad():\n"
             "        fake = G(torch.randn(len(labels), latent_dim, device=real.device), labels)\n"
             "    d_real, d_fake = D(real, labels), D(fake, labels)\n"
             "    targets = torch.cat([torch.ones_like(d_real), torch.zeros_like(d_fake)])\n"
             "    loss = 2 * F.binary_cross_entropy_with_logits(torch.cat([d_real, d_fake]), targets)\n"
             "    opt_d.zero_grad()\n    loss.backward()\n    opt_d.step()\n"
             "    return loss.detach()\n"),
        ],
    },
}


ITERATION_HEAD = ("def wgan_gp_iteration(G, D, opt_g, opt_d, real_batches, latent_dim, gp_weight=10.0):\n")
CRITIC_STEP = ("        z = torch.randn(len(real), latent_dim, device=real.device)\n"
               "        with torch.no_grad():\n            fake = G(z)\n"
               "        eps = torch.rand(len(real), 1, 1, 1, device=real.device)\n")
G_STEP = ("    g_loss = -D(G(torch.randn(len(real), latent_dim, device=real.device))).mean()\n"
          "    opt_g.zero_grad()\n    g_loss.backward()\n    opt_g.step()\n")
POWER_HEAD = "def spectral_norm_step(weight, u):\n"

MUTANTS["06_stable"] = {
    "optimal_discriminator": [
        ("puts p_g on top: the chance a point is fake",
         "def optimal_discriminator(p_data, p_g):\n    total = p_data + p_g\n"
         "    return torch.where(total > 0, p_g / total, torch.full_like(total, 0.5))\n", "Put p_data on top"),
        ("divides 0 by 0 where neither density has mass",
         "def optimal_discriminator(p_data, p_g):\n    return p_data / (p_data + p_g)\n", "0.5"),
        ("calls the course's own optimal D",
         "def optimal_discriminator(p_data, p_g):\n    return losses.optimal_discriminator(p_data, p_g)\n",
         "Write optimal_discriminator yourself"),
    ],
    "js_divergence": [
        ("keeps 0 * log 0, which torch computes as NaN",
         "def js_divergence(p, q):\n    m = (p + q) / 2\n"
         "    return ((p * torch.log(p / m)).sum() + (q * torch.log(q / m)).sum()) / 2\n", "Leave out the points"),
        ("returns KL(p || m) alone",
         "def js_divergence(p, q):\n    m = (p + q) / 2\n    inside = p > 0\n"
         "    return (p[inside] * torch.log(p[inside] / m[inside])).sum()\n", "Average the two halves"),
        ("measures in bits (log2)",
         "def js_divergence(p, q):\n    m = (p + q) / 2\n\n    def kl(a, b):\n        inside = a > 0\n"
         "        return (a[inside] * torch.log2(a[inside] / b[inside])).sum()\n\n"
         "    return (kl(p, m) + kl(q, m)) / 2\n", "natural logarithm"),
    ],
    "lsgan_discriminator_loss": [
        ("squashes the scores through a sigmoid first",
         "def lsgan_discriminator_loss(d_real, d_fake):\n"
         "    real, fake = torch.sigmoid(d_real), torch.sigmoid(d_fake)\n"
         "    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean()\n", "no sigmoid"),
        ("forgets the halves",
         "def lsgan_discriminator_loss(d_real, d_fake):\n"
         "    return ((d_real - 1) ** 2).mean() + (d_fake ** 2).mean()\n", "Halve each mean squared error"),
    ],
    "lsgan_generator_loss": [
        ("pulls the fakes' scores to 0, D's target",
         "def lsgan_generator_loss(d_fake):\n    return 0.5 * (d_fake ** 2).mean()\n", "Pull the fakes' scores to 1"),
        ("returns a Python float",
         "def lsgan_generator_loss(d_fake):\n    return 0.5 * ((d_fake - 1) ** 2).mean().item()\n",
         "Keep lsgan_generator_loss(...) a tensor"),
    ],
    "hinge_discriminator_loss": [
        ("forgets the relu: the Wasserstein loss plus 2",
         "def hinge_discriminator_loss(d_real, d_fake):\n    return (1 - d_real).mean() + (1 + d_fake).mean()\n",
         "Clip each term at 0 with torch.relu"),
        ("swaps the margins of real and fake",
         "def hinge_discriminator_loss(d_real, d_fake):\n"
         "    return torch.relu(1 + d_real).mean() + torch.relu(1 - d_fake).mean()\n", "the signs are swapped"),
    ],
    "gradient_penalty": [
        ("forgets create_graph=True, so the penalty trains nothing",
         "def gradient_penalty(critic, real, fake, eps):\n"
         "    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)\n"
         "    grad = torch.autograd.grad(critic(x_hat).sum(), x_hat)[0]\n"
         "    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()\n", "create_graph=True"),
        ("takes one norm of the whole batch's gradient",
         "def gradient_penalty(critic, real, fake, eps):\n"
         "    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)\n"
         "    grad = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)[0]\n"
         "    return (grad.norm() - 1) ** 2\n", "one gradient norm per sample"),
        ("mixes the other way round, eps * fake + (1 - eps) * real",
         "def gradient_penalty(critic, real, fake, eps):\n"
         "    x_hat = (eps * fake + (1 - eps) * real).detach().requires_grad_(True)\n"
         "    grad = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)[0]\n"
         "    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()\n", "Weight the real batch by eps"),
        ("calls the course's own penalty",
         "def gradient_penalty(critic, real, fake, eps):\n"
         "    return losses.gradient_penalty(critic, real, fake, eps)\n", "Write gradient_penalty yourself"),
    ],
    "wgan_gp_iteration": [
        ("takes one critic step, on the first batch only",
         ITERATION_HEAD + "    real = real_batches[0]\n" + "    if True:\n" + CRITIC_STEP +
         "        critic_loss = D(fake).mean() - D(real).mean() + gp_weight * gradient_penalty(D, real, fake, eps)\n"
         "        opt_d.zero_grad()\n        critic_loss.backward()\n        opt_d.step()\n" + G_STEP +
         "    return critic_loss.detach(), g_loss.detach()\n", "one critic step per real batch"),
        ("forgets the gradient penalty",
         ITERATION_HEAD + "    for real in real_batches:\n" + CRITIC_STEP +
         "        critic_loss = D(fake).mean() - D(real).mean()\n"
         "        opt_d.zero_grad()\n        critic_loss.backward()\n        opt_d.step()\n" + G_STEP +
         "    return critic_loss.detach(), g_loss.detach()\n", "Add gp_weight * gradient_penalty"),
        ("steps G after every critic step",
         ITERATION_HEAD + "    for real in real_batches:\n" + CRITIC_STEP +
         "        critic_loss = D(fake).mean() - D(real).mean() + gp_weight * gradient_penalty(D, real, fake, eps)\n"
         "        opt_d.zero_grad()\n        critic_loss.backward()\n        opt_d.step()\n"
         "        g_loss = -D(G(torch.randn(len(real), latent_dim, device=real.device))).mean()\n"
         "        opt_g.zero_grad()\n        g_loss.backward()\n        opt_g.step()\n"
         "    return critic_loss.detach(), g_loss.detach()\n", "Take one G step, after all the critic's steps"),
        ("flips the critic's loss: real scored below fake",
         ITERATION_HEAD + "    for real in real_batches:\n" + CRITIC_STEP +
         "        critic_loss = D(real).mean() - D(fake).mean() + gp_weight * gradient_penalty(D, real, fake, eps)\n"
         "        opt_d.zero_grad()\n        critic_loss.backward()\n        opt_d.step()\n" + G_STEP +
         "    return critic_loss.detach(), g_loss.detach()\n", "minimise mean D(fake) - mean D(real)"),
    ],
    "spectral_norm_step": [
        ("returns the exact norm instead of this step's estimate",
         POWER_HEAD + "    W = weight.flatten(1)\n    v = F.normalize(W.t() @ u, dim=0)\n"
         "    return torch.linalg.matrix_norm(W, ord=2), F.normalize(W @ v, dim=0)\n", "Estimate sigma from this one step"),
        ("forgets to read a kernel as a matrix",
         POWER_HEAD + "    v = F.normalize(weight.t() @ u, dim=0)\n    Wv = weight @ v\n    u = F.normalize(Wv, dim=0)\n"
         "    return u @ Wv, u\n", "weight.flatten(1)"),
        ("forgets to normalise the new u",
         POWER_HEAD + "    W = weight.flatten(1)\n    v = F.normalize(W.t() @ u, dim=0)\n    u = W @ v\n"
         "    return u.norm(), u\n", "Normalise u'"),
    ],
}

VARIANTS["06_stable"] = {
    "optimal_discriminator": [
        ("divides, then turns 0 / 0 into 0.5 with torch.nan_to_num",
         "def optimal_discriminator(p_data, p_g):\n    return torch.nan_to_num(p_data / (p_data + p_g), nan=0.5)\n"),
    ],
    "js_divergence": [
        ("torch.xlogy, for which 0 log 0 is 0",
         "def js_divergence(p, q):\n    m = (p + q) / 2\n"
         "    kl_p = (torch.xlogy(p, p) - torch.xlogy(p, m)).sum()\n"
         "    kl_q = (torch.xlogy(q, q) - torch.xlogy(q, m)).sum()\n    return (kl_p + kl_q) / 2\n"),
    ],
    "lsgan_discriminator_loss": [
        ("F.mse_loss against targets 1 and 0",
         "def lsgan_discriminator_loss(d_real, d_fake):\n"
         "    return (F.mse_loss(d_real, torch.ones_like(d_real)) + F.mse_loss(d_fake, torch.zeros_like(d_fake))) / 2\n"),
    ],
    "hinge_discriminator_loss": [
        ("clamps at 0 instead of relu",
         "def hinge_discriminator_loss(d_real, d_fake):\n"
         "    return (1 - d_real).clamp(min=0).mean() + (1 + d_fake).clamp(min=0).mean()\n"),
    ],
    "gradient_penalty": [
        ("grad_outputs of ones instead of the scores' sum",
         "def gradient_penalty(critic, real, fake, eps):\n"
         "    x_hat = eps * real.detach() + (1 - eps) * fake.detach()\n    x_hat.requires_grad_(True)\n"
         "    scores = critic(x_hat)\n"
         "    grad, = torch.autograd.grad(scores, x_hat, grad_outputs=torch.ones_like(scores), create_graph=True)\n"
         "    return ((grad.reshape(len(grad), -1).norm(2, dim=1) - 1) ** 2).mean()\n"),
    ],
    "wgan_gp_iteration": [
        ("leaves D trainable during G's step, and detaches the fakes instead of torch.no_grad()",
         ITERATION_HEAD + "    for real in real_batches:\n"
         "        fake = G(torch.randn(len(real), latent_dim, device=real.device)).detach()\n"
         "        eps = torch.rand(len(real), 1, 1, 1, device=real.device)\n"
         "        critic_loss = D(fake).mean() - D(real).mean() + gp_weight * gradient_penalty(D, real, fake, eps)\n"
         "        opt_d.zero_grad()\n        critic_loss.backward()\n        opt_d.step()\n" + G_STEP +
         "    return critic_loss.detach(), g_loss.detach()\n"),
    ],
    "spectral_norm_step": [
        ("sigma as the length of W v, which equals u' . W v",
         POWER_HEAD + "    W = weight.reshape(weight.shape[0], -1)\n    v = W.t() @ u\n    v = v / v.norm()\n"
         "    Wv = W @ v\n    return Wv.norm(), Wv / Wv.norm()\n"),
    ],
}


# The variants that also go through nbgrader itself (test_grading_mutants.py), as (notebook, grade_id, k): those
# whose point only nbgrader sees (a warning or a log line on stderr, printed output) and one of sessions 3 and 5.
# Every variant is scored in this process by its visible check, its hidden tests and the judge
# (test_exercise_agreement.py).
VARIANTS_THROUGH_NBGRADER = [("01_data", "make_mnist_loader", 0), ("02_mlp_gan", "discriminator_step", 0),
                             ("02_mlp_gan", "discriminator_step", 1), ("03_dcgan", "make_dcgan_generator", 0),
                             ("05_conditional", "conditional_discriminator_step", 1),
                             ("06_stable", "wgan_gp_iteration", 0)]


# Routes around the lock on the course's answers (``helpers.taught``), each one a way a submission could hand in
# the course's own answer: each must cost exactly its exercise's points through the grade command
# (test_grading_mutants.py). Without the lock each passes its hidden test and the judge.
LOCK_ROUTES = {
    "04_evaluate": {
        "frechet_distance": ("defined under the course's module name",
                             "import helpers.metrics as _metrics\n"
                             "_as_the_course = {'__name__': 'helpers.metrics', '_metrics': _metrics}\n"
                             "exec('def frechet_distance(mu1, sigma1, mu2, sigma2):\\n'\n"
                             "     '    return _metrics.frechet_distance(mu1, sigma1, mu2, sigma2)\\n', _as_the_course)\n"
                             "frechet_distance = _as_the_course['frechet_distance']\n"),
        "class_coverage": ("the function behind a wrapper, if there is one",
                           "from helpers import metrics as _metrics\n"
                           "class_coverage = getattr(_metrics.class_coverage, '__wrapped__', _metrics.class_coverage)\n"),
        "count_modes": ("the lock's own state cleared first",
                        "from helpers import collapse as _collapse, taught as _taught\n"
                        "_taught.ANSWERS.clear()\n"
                        "def count_modes(samples, centres, std, min_samples=20):\n"
                        "    report = _collapse.mode_report(samples, _collapse.Mixture('any', centres, std), min_samples)\n"
                        "    return report['modes'], report['high_quality']\n"),
        "pack": ("a course class that calls the answer (PackedDiscriminator calls pack)",
                 "from helpers.collapse import PackedDiscriminator as _Packed\n"
                 "def pack(x, m):\n"
                 "    seen = []\n"
                 "    _Packed(lambda packed: seen.append(packed) or packed[:, :1], m)(x)\n"
                 "    return seen[0]\n"),
    },
    "05_conditional": {
        "conditional_discriminator_step": (
            "the course's whole training step, with G never stepping",
            "from helpers import steps as _steps\n"
            "def conditional_discriminator_step(G, D, opt_d, real, labels, latent_dim):\n"
            "    gan = _steps.GAN(G, D, torch.optim.SGD(G.parameters(), lr=0.0), opt_d, (latent_dim,), logits=True,\n"
            "                     pixel_range=None, n_classes=N_CLASSES, n_critic=2)\n"
            "    return _steps.train_step(gan, real, labels)['d_loss']\n"),
        "conditional_generator_step": (
            "the course's whole training step, with D's step a no-op",
            "from helpers import steps as _steps\n"
            "def conditional_generator_step(G, D, opt_g, labels, latent_dim):\n"
            "    gan = _steps.GAN(G, D, opt_g, torch.optim.SGD(D.parameters(), lr=0.0), (latent_dim,), logits=True,\n"
            "                     pixel_range=None, n_classes=N_CLASSES)\n"
            "    with torch.no_grad():\n"
            "        real = G(torch.randn(len(labels), latent_dim, device=labels.device), labels)\n"
            "    loss = _steps.train_step(gan, real, labels)['g_loss']\n"
            "    D.zero_grad(set_to_none=True)\n"
            "    return loss\n"),
    },
}


def solution_code(cell_source):
    """A solution cell's code with the BEGIN/END SOLUTION marker lines removed."""
    lines = cell_source.splitlines()
    return "\n".join(line for line in lines if not re.search(r"### (BEGIN|END) SOLUTION", line)) + "\n"


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_solution(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("solution", False)


def load(path):
    return json.loads(Path(path).read_text())


def completed_submission(student_path, solution_path, overrides=None):
    """A student notebook with every exercise filled in from the solution.

    ``overrides`` maps a solution cell's ``grade_id`` to the code to put there
    instead. Returns the notebook as a dict.
    """
    overrides = dict(overrides or {})
    solutions = {grade_id(c): c for c in load(solution_path)["cells"] if is_solution(c)}
    nb = load(student_path)
    for cell in nb["cells"]:
        if is_solution(cell):
            gid = grade_id(cell)
            code = overrides.pop(gid, None)
            cell["source"] = code if code is not None else solution_code("".join(solutions[gid]["source"]))
    if overrides:
        raise KeyError(f"no solution cells named {sorted(overrides)}")
    return nb


def graded_points(solution_path):
    """``{test grade_id: points}`` of the autograded cells of a source notebook (not the answers marked by hand)."""
    return {grade_id(c): c["metadata"]["nbgrader"]["points"]
            for c in load(solution_path)["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade")
            and not is_solution(c)}


def exercise_test_ids(solution_path):
    """``{solution grade_id: grade_id of the first graded cell after it}``."""
    pairs, pending = {}, None
    for cell in load(solution_path)["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            pending = meta["grade_id"]
        elif meta.get("grade") and pending:
            pairs[pending] = meta["grade_id"]
            pending = None
    return pairs


def without_trailing_ungraded_cells(nb):
    """Drop the code cells after the last autograded test (training demos, plots); keep every markdown cell,
    the answers that are marked by hand among them.

    Used for mutant submissions only, to keep the test suite fast: those cells
    carry no automatic points, and the solution and blank submissions still run whole.
    """
    meta = [c.get("metadata", {}).get("nbgrader", {}) for c in nb["cells"]]
    last = max(i for i, m in enumerate(meta) if m.get("grade") and not m.get("solution"))
    nb["cells"] = [c for i, c in enumerate(nb["cells"]) if i <= last or c["cell_type"] == "markdown"]
    return nb


@dataclass
class Verdicts:
    """What each of the three graders said of a submission, by test ``grade_id``.

    ``visible``: the check the student sees, None when it passed, else its message; ``hidden``: whether
    the hidden tests passed (run after the visible check, whatever it said); ``judge``: the judge's
    sentence, None when right. ``passed``: what nbgrader scores, the whole test cell raising nothing.
    """
    visible: dict = field(default_factory=dict)
    hidden: dict = field(default_factory=dict)
    judge: dict = field(default_factory=dict)

    @property
    def passed(self):
        return {gid: self.visible[gid] is None and self.hidden[gid] for gid in self.visible}


HIDDEN = "### BEGIN HIDDEN TESTS"


def run_graded_cells(name, overrides=None, judge_seed=0):
    """The three graders' verdicts on a submission, run in this process the way the autograder runs it.

    The student notebook, every exercise solved (``overrides`` maps a
    solution cell's ``grade_id`` to other code), its graded cells replaced by
    the instructor's versions with their hidden tests, as nbgrader's
    autograde does; the cells after the last graded one are dropped. Every
    code cell runs in order in one namespace; a cell that raises is recorded
    and the run goes on (nbgrader allows errors too). A graded cell runs in
    two parts, the visible check and then the hidden tests, so that each
    one's verdict is seen; then the judge (``gan_grader.judge``) asks and
    marks its exercise with ``judge_seed``, through the same files the grade
    command reads. Returns ``Verdicts``. It costs no kernel start and no
    nbgrader process, so every mutant can be scored; ``grade_batch`` proves
    on a sample that nbgrader agrees.
    """
    import tempfile

    from IPython.display import display

    from gan_grader import judge

    nb = without_trailing_ungraded_cells(completed_submission(STUDENTS[name], SOURCES[name], overrides))
    graded = {grade_id(c): "".join(c["source"]) for c in load(SOURCES[name])["cells"]
              if c.get("metadata", {}).get("nbgrader", {}).get("grade")}
    namespace = {"__name__": "__main__", "display": display}
    verdicts = Verdicts()
    with tempfile.TemporaryDirectory() as replies:
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            gid = grade_id(cell)
            if gid not in graded:
                _run(namespace, "".join(cell["source"]), f"<{name}:{gid or 'cell'}>")
                continue
            visible, _, hidden = graded[gid].partition(HIDDEN)
            verdicts.visible[gid] = _run(namespace, visible, f"<{name}:{gid}>")
            verdicts.hidden[gid] = _run(namespace, hidden, f"<{name}:{gid}:hidden>") is None
            if gid in judge.EXERCISES:
                judge.ask(gid, namespace, judge_seed, replies)
                verdicts.judge[gid] = judge.mark(gid, judge.read_replies(replies).get(gid), judge_seed)
    return verdicts


def _run(namespace, source, where):
    """Run ``source`` in ``namespace``: None, or the message of what it raised."""
    try:
        exec(compile(source, where, "exec"), namespace)
    except Exception as error:  # noqa: BLE001 - a failing cell is what is being measured
        return f"{type(error).__name__}: {error}"
    return None


def write_submission(folder, student, name, nb):
    """Save ``nb`` as ``folder/<student>/<name>.ipynb``."""
    path = Path(folder) / student / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))


def run_grade(submissions, out_csv, timeout, workdir=None, cwd=REPO_ROOT, extra=()):
    """Run the real ``python -m gan_grader grade`` (``extra``: more options); return (rows by
    (student, notebook), process)."""
    command = [sys.executable, "-m", "gan_grader", "grade", str(submissions), "--out", str(out_csv),
               "--timeout", str(timeout), *extra]
    if workdir is not None:
        command += ["--keep-workdir", str(workdir)]
    process = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    rows = {}
    if Path(out_csv).exists():
        with open(out_csv) as handle:
            rows = {(r["student"], r["notebook"]): r for r in csv.DictReader(handle)}
    return rows, process


def grade_batch(root, submissions, timeout=300):
    """Grade ``submissions`` ({student: (notebook, {solution grade_id: code})}) in one batch; return the rows.

    Each is the student notebook with every exercise solved, those cells replaced. The per-cell
    limit is wide, so a busy machine never turns correct cells into timeouts.
    """
    for student, (name, overrides) in submissions.items():
        nb = completed_submission(STUDENTS[name], SOURCES[name], overrides)
        write_submission(Path(root) / "submissions", student, name, without_trailing_ungraded_cells(nb))
    rows, process = run_grade(Path(root) / "submissions", Path(root) / "grades.csv", timeout)
    assert process.returncode == 0, process.stdout + process.stderr
    return rows


def points_of(name, gids):
    """The points of the exercises ``gids`` (solution grade ids) of notebook ``name``."""
    return sum(graded_points(SOURCES[name])[exercise_test_ids(SOURCES[name])[gid]] for gid in gids)
