"""Session 5's helpers: the conditional step, its sample grid, conditional accuracy, and the demo."""

import dataclasses
import json

import pytest
import torch

from helpers import build, checkpoints, data, loop, metrics, models, recipes, runs, saved_runs, steps, styles
from helpers.demo import DigitDemo
from helpers.snapshots import Snapshots


def cgan():
    """Session 5's conditional GAN: the ``cgan`` recipe with one label per digit (no styles)."""
    torch.manual_seed(0)
    return build.build_gan(dataclasses.replace(recipes.get_recipe("cgan"), styles_per_digit=1), "cpu")


def real_batch(n=8):
    return torch.rand(n, 1, 28, 28) * 2 - 1, torch.arange(n) % 10


# --- the conditional training step -------------------------------------------------------------

def test_a_conditional_step_shows_d_every_image_with_its_label_and_trains_both():
    gan = cgan()
    seen = []
    gan.discriminator.register_forward_hook(lambda module, inputs, output: seen.append(inputs[1].clone()))
    before = [p.clone() for p in gan.generator.parameters()], [p.clone() for p in gan.discriminator.parameters()]
    real, labels = real_batch()
    out = steps.train_step(gan, real, labels)
    assert set(out) == {"d_loss", "g_loss", "d_real", "d_fake"} and all(v.dim() == 0 for v in out.values())
    assert torch.equal(seen[0], torch.cat([labels, labels]))  # the D step: real and fake with the same labels
    assert torch.equal(seen[-1], labels)                        # the G step: fakes judged with their labels
    for old, model in zip(before, (gan.generator, gan.discriminator)):
        assert any(not torch.equal(a, b) for a, b in zip(old, model.parameters()))


@pytest.mark.parametrize("labels, message", [
    (None, "this GAN is conditional: pass the batch's labels"),
    (torch.arange(8).float(), "int64"),
    (torch.arange(7), r"one per image, shape \(8,\)"),
    (torch.tensor([0, 1, 2, 3, 4, 5, 6, 10]), r"labels must be 0 to 9: expected values in \[0, 9\], got min 0 max 10"),
    (torch.tensor([-1, 1, 2, 3, 4, 5, 6, 7]), "labels must be 0 to 9"),
])
def test_bad_labels_are_refused_before_anything_trains(labels, message):
    gan = cgan()
    before = [p.clone() for p in gan.discriminator.parameters()]
    with pytest.raises((ValueError, TypeError), match=message):
        steps.train_step(gan, real_batch()[0], labels)
    assert all(torch.equal(a, b) for a, b in zip(before, gan.discriminator.parameters()))


def test_labels_given_to_an_unconditional_gan_are_refused():
    gan = build.build_gan(recipes.get_recipe("course-dcgan"), "cpu")
    with pytest.raises(ValueError, match="not conditional"):
        steps.train_step(gan, *real_batch())


def test_the_sample_grid_has_one_row_per_digit_and_one_noise_per_column():
    noise, labels = build.fixed_samples(recipes.get_recipe("cgan"), seed=0)
    assert tuple(noise.shape) == (100, 64) and labels.tolist() == [d for d in range(10) for _ in range(10)]
    grid = noise.view(10, 10, 64)
    assert torch.equal(grid[0], grid[7])  # every row reuses the same 10 noise vectors
    G = cgan().generator
    snapshots = Snapshots(noise, nrow=10, labels=labels)
    picture = snapshots.take(G, 0)
    assert picture.shape[-1] == picture.shape[-2]  # 10 x 10 images: square


# --- conditional accuracy: a broken conditioning shows in the number ---------------------------

class RealDigits(torch.nn.Module):
    """A "generator" that returns a real test digit of the requested class: a perfect conditional G."""

    def __init__(self, ignore_labels=False):
        super().__init__()
        images, labels = data.load_mnist("test")
        self.images = data.convert_pixels(images, "uint8", "tanh").unsqueeze(1)
        self.by_class = [torch.nonzero(labels == k).flatten() for k in range(10)]
        self.ignore_labels = ignore_labels
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, z, labels):
        if self.ignore_labels:  # what a G that ignores y, or one trained by a D that never saw y, draws
            labels = torch.randint(0, 10, labels.shape, generator=torch.Generator().manual_seed(1))
        picks = [self.by_class[int(k)][int(i * 7919) % len(self.by_class[int(k)])] for i, k in enumerate(labels)]
        return self.images[torch.stack(picks)]


def test_conditional_accuracy_is_high_for_real_digits_and_about_ten_percent_when_the_label_is_ignored():
    classifier = metrics.digit_classifier()
    obeys = metrics.evaluate_conditional(RealDigits(), (4,), n_per_class=100, classifier=classifier)
    ignores = metrics.evaluate_conditional(RealDigits(ignore_labels=True), (4,), n_per_class=100,
                                           classifier=classifier)
    assert obeys.accuracy >= classifier.test_accuracy - 0.1, obeys
    assert 0.03 <= ignores.accuracy <= 0.2, ignores
    assert len(obeys.class_accuracy) == len(obeys.class_fd) == len(obeys.class_floor) == 10
    # per digit, real digits sit near that digit's floor; a scrambled label is far from it
    assert sum(obeys.class_fd) < sum(ignores.class_fd)
    report = str(ignores)
    assert "conditional accuracy" in report and "FD per digit" in report


def test_conditional_accuracy_counts_hits_per_requested_digit():
    requested = metrics.balanced_labels(3)
    predicted = requested.clone()
    predicted[requested == 4] = 0
    overall, per_class = metrics.conditional_accuracy(predicted, requested)
    assert overall == pytest.approx(0.9) and per_class[4] == 0 and per_class[5] == 1


def test_the_command_line_measures_the_conditional_recipe_and_the_demo_opens_its_checkpoint(tmp_path):
    history = runs.run_recipe(recipes.get_recipe("cgan"), tmp_path, max_steps=2, limit=64, progress=False)
    assert history.epochs["d_loss"]
    scores = json.loads((tmp_path / "history.json").read_text())["scores"]
    assert 0 <= scores["accuracy"] <= 1 and len(scores["class_fd"]) == 10
    d = DigitDemo.from_checkpoint(tmp_path / "checkpoint.pt")
    assert bytes(d.image.value).startswith(b"\x89PNG") and not d.generator.training
    assert isinstance(d.generator, styles.StyleSampler) and d.morph(1, 7, d.current_z()).shape == (1, 28, 224)


def test_the_recipe_trains_on_styles_and_draws_digits_through_them(tmp_path):
    recipe = recipes.get_recipe("cgan")
    assert recipe.styles_per_digit == 5 and recipe.n_labels == 50
    G, D = recipe.networks()
    assert G.embed.num_embeddings == D.label_map.num_embeddings == 50
    runs.run_recipe(recipe, tmp_path, max_steps=1, limit=200, progress=False, evaluate=False)
    state = checkpoints.read_checkpoint(tmp_path / "checkpoint.pt")
    sizes = torch.tensor(state["extra"]["style_sizes"])
    labels = data.load_mnist("train")[1][:200]
    assert sizes.shape == (10, 5) and sizes.sum(1).tolist() == torch.bincount(labels, minlength=10).tolist()
    loaded, G = saved_runs.load_generator(tmp_path / "checkpoint.pt")
    assert loaded.name == "cgan" and isinstance(G, styles.StyleSampler) and not G.training
    drawn = G.styles_for(torch.arange(10).repeat(50))
    assert torch.equal(drawn // 5, torch.arange(10).repeat(50))  # each digit is drawn through one of its styles
    assert (sizes.flatten()[drawn] > 0).all()                     # and never through a style with no images
    assert tuple(G(torch.randn(3, 64), torch.tensor([0, 4, 9])).shape) == (3, 1, 28, 28)


def test_resuming_on_other_images_than_the_styles_came_from_is_refused(tmp_path):
    recipe = recipes.get_recipe("cgan")
    runs.run_recipe(recipe, tmp_path, max_steps=1, limit=200, progress=False, evaluate=False)
    saved = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(checkpoints.CheckpointError, match="other styles"):
        runs.run_recipe(recipe, tmp_path, max_steps=1, limit=100, resume=True, progress=False, evaluate=False)
    assert (tmp_path / "checkpoint.pt").read_bytes() == saved  # nothing was written over the run


def test_a_checkpoint_without_styles_opens_as_a_plain_conditional_g(tmp_path):
    gan = cgan()  # session 5's notebook saves one like this: one label per digit, recipe "cgan"
    checkpoints.save_checkpoint(tmp_path / "checkpoint.pt", gan, loop.History(), 1, extra={"recipe": "cgan"})
    _, G = saved_runs.load_generator(tmp_path / "checkpoint.pt")
    assert type(G) is models.ConditionalGenerator and G.embed.num_embeddings == 10
    assert type(DigitDemo.from_checkpoint(tmp_path / "checkpoint.pt").generator) is models.ConditionalGenerator


def test_the_recipe_trained_on_one_label_per_digit_keeps_its_refined_g(tmp_path):
    recipe = dataclasses.replace(recipes.get_recipe("cgan"), styles_per_digit=1)  # quality.py --styles 1
    runs.run_recipe(recipe, tmp_path, max_steps=1, limit=64, progress=False, evaluate=False)
    path = tmp_path / "checkpoint.pt"
    G = saved_runs.saved_generator(path, recipe, checkpoints.read_checkpoint(path))
    refined = [m for m in G.body if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.kernel_size) for m in refined] == [(64, (3, 3)), (32, (3, 3))]
    assert G.embed.num_embeddings == 10 and len(G.body) == len(models.ConditionalGenerator().body) + 6


# --- the demo: headless ------------------------------------------------------------------------

def demo():
    torch.manual_seed(0)
    return DigitDemo(models.ConditionalGenerator(), 64)


def test_the_demo_redraws_when_a_widget_changes():
    d = demo()
    first = d.image.value
    assert bytes(first).startswith(b"\x89PNG")
    d.digit.value = 8
    assert d.image.value != first
    after_digit = d.image.value
    d.sliders[0].value = 2.5
    assert d.image.value != after_digit
    strip = d.strip.value
    d.end.value = 2
    assert d.strip.value != strip
    before = d.image.value
    d.new_noise_button.click()
    assert d.image.value != before and d.sliders[0].value == round(float(d.z[0, 0]), 2)


def test_the_same_z_and_digit_draw_the_same_picture():
    d = demo()
    z = d.current_z()
    assert torch.equal(d.draw(5, z), d.draw(5, z))
    strip = d.morph(1, 7, z, steps=5)
    assert tuple(strip.shape) == (1, 28, 140)
    assert torch.allclose(strip[..., :28], d.draw(1, z), atol=1e-5)
    assert torch.allclose(strip[..., -28:], d.draw(7, z), atol=1e-5)


@pytest.mark.parametrize("digit, z, message", [
    (10, None, "digit must be a whole number from 0 to 9, got 10"),
    (2.5, None, "digit must be a whole number"),
    (3, torch.full((1, 64), float("nan")), "z must hold numbers"),
    (3, torch.zeros(1, 12), r"z must be a tensor of shape \(1, 64\)"),
])
def test_the_demo_refuses_bad_values_in_words(digit, z, message):
    d = demo()
    with pytest.raises(ValueError, match=message):
        d.draw(digit, d.current_z() if z is None else z)


def test_a_widget_refuses_a_digit_it_does_not_offer_and_the_picture_stays():
    from traitlets import TraitError

    d = demo()
    before = d.image.value
    with pytest.raises(TraitError):
        d.digit.value = 11
    assert d.image.value == before and d.digit.value == 3


def test_nothing_trains_in_the_demo():
    d = demo()
    weights = [p.clone() for p in d.generator.parameters()]
    for value in (0, 9, 4):
        d.digit.value = value
    d.sliders[1].value = -1.0
    d.new_noise_button.click()
    assert all(torch.equal(a, b) for a, b in zip(weights, d.generator.parameters()))
    assert all(p.grad is None for p in d.generator.parameters()) and not d.generator.training


def test_the_demo_needs_a_conditional_generator():
    with pytest.raises(TypeError, match="conditional generator with a label table"):
        DigitDemo(models.course_dcgan_generator(), 64)
