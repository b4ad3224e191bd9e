"""Choose the digit: an interactive demo of a conditional generator (session 5).

``DigitDemo(G, latent_dim)`` builds ipywidgets controls around a trained
conditional ``G(z, labels)``:

- a digit picker (0-9);
- a few sliders for the first numbers of the noise z, and a "new noise" button;
- the 28x28 sample, redrawn at once whenever a control changes;
- a strip that morphs one digit into another with the *same* z, by blending
  the two digits' rows of G's label table (``G.embed``).

Its callbacks only draw: G is in eval mode under ``torch.no_grad()``, and
nothing is trained. Every callback goes through ``draw``, which refuses a
digit outside 0-9 or a noise vector with NaN in words, so the demo can be
tested without a browser: set a widget's value and read ``demo.image.value``.
``DigitDemo.from_checkpoint(path)`` opens a saved run (the notebook's own, or
one of ``python -m helpers.train --recipe cgan``).
"""

import math
import numbers

import numpy as np
import torch

from .data import convert_pixels
from .guards import describe, range_problem, require_whole
from .plotting import png_bytes
from .steps import generate


class DigitDemo:
    """Widgets around a conditional generator; ``demo.view`` is what a notebook displays.

    ``generator``: a trained ``G(z, labels)`` whose label table is
    ``generator.embed`` and whose layers after the join are ``generator.body``
    (as in session 5's ``ConditionalGenerator``). ``latent_dim``: the size of
    z; ``sliders``: how many of z's first numbers get a slider.
    """

    def __init__(self, generator, latent_dim, sliders=4, seed=0, scale=6):
        import ipywidgets as widgets

        if not (hasattr(generator, "embed") and hasattr(generator, "body")):
            raise TypeError(f"the demo needs a conditional generator with a label table .embed and layers .body "
                            f"(session 5's ConditionalGenerator); got {type(generator).__name__}")
        require_whole(latent_dim, "latent_dim (the size of G's noise)")
        require_whole(sliders, f"sliders (how many of z's {latent_dim} numbers get one)", minimum=0)
        require_whole(scale, "scale (screen pixels per image pixel)", minimum=2)
        if sliders > latent_dim:
            raise ValueError(f"sliders: expected at most latent_dim = {latent_dim}, got {sliders}")
        self.generator = generator.eval()
        self.latent_dim = latent_dim
        self.draw(0, torch.zeros(1, latent_dim))  # a G that takes noise of another size is refused here, in words
        self.scale = scale
        self.noise = torch.Generator().manual_seed(seed)
        self.z = torch.randn(1, latent_dim, generator=self.noise)
        self.digit = widgets.Dropdown(options=list(range(10)), value=3, description="digit")
        self.sliders = [widgets.FloatSlider(value=round(float(self.z[0, i]), 2), min=-3.0, max=3.0, step=0.05,
                                            description=f"z[{i}]", continuous_update=True) for i in range(sliders)]
        self.new_noise_button = widgets.Button(description="new noise", icon="refresh")
        self.image = widgets.Image(format="png")
        self.start = widgets.Dropdown(options=list(range(10)), value=1, description="from")
        self.end = widgets.Dropdown(options=list(range(10)), value=7, description="to")
        self.strip = widgets.Image(format="png")
        self.message = widgets.Label(value="")
        for control in (self.digit, *self.sliders, self.start, self.end):
            control.observe(self._redraw, names="value")
        self.new_noise_button.on_click(self.new_noise)
        self.view = widgets.VBox([
            widgets.HBox([widgets.VBox([self.digit, *self.sliders, self.new_noise_button]), self.image]),
            widgets.HBox([self.start, self.end]), self.strip, self.message,
        ])
        self._redraw()

    def current_z(self):
        """The noise the picture uses: ``[1, latent_dim]``, its first numbers taken from the sliders."""
        z = self.z.clone()
        for i, slider in enumerate(self.sliders):
            z[0, i] = slider.value
        return z

    @classmethod
    def from_checkpoint(cls, path, latent_dim=None, **options):
        """The demo for a conditional run saved at ``path``: session 5's notebook or ``--recipe cgan``.

        Either checkpoint holds a ``ConditionalGenerator``'s weights (the
        notebook's class has the same layers); the command line's, trained on
        styles of digits, comes as a ``styles.StyleSampler``. ``latent_dim``:
        default the recipe's; another value is refused. ``options``: as for
        ``DigitDemo``.
        """
        from .saved_runs import load_generator  # it imports most of the course: only when needed

        recipe, generator = load_generator(path, "cpu", recipe="cgan")
        saved = recipe.latent_shape[0]
        if latent_dim is not None and latent_dim != saved:
            raise ValueError(f"the G saved in {path} takes noise of {saved} numbers (recipe {recipe.name}), "
                             f"got latent_dim={latent_dim!r}: leave latent_dim out, or pass {saved}")
        return cls(generator, saved, **options)

    @torch.no_grad()
    def draw(self, digit, z):
        """``G(z, digit)`` as an image ``[1, 28, 28]`` in [-1, 1]; ``ValueError`` for a bad digit or z."""
        if isinstance(digit, (bool, np.bool_)) or not isinstance(digit, numbers.Integral) or not 0 <= digit <= 9:
            raise ValueError(f"digit must be a whole number from 0 to 9, got {digit!r}")
        digit = int(digit)  # a NumPy integer too
        if not isinstance(z, torch.Tensor) or tuple(z.shape) != (1, self.latent_dim):
            raise ValueError(f"z must be a tensor of shape (1, {self.latent_dim}), got {describe(z)}")
        problem = range_problem(z, -math.inf, math.inf)
        if problem:
            raise ValueError(f"z must hold numbers: {problem}")
        device = next(self.generator.parameters()).device
        return generate(self.generator, z.to(device), torch.tensor([digit], device=device))[0].float().cpu()

    @torch.no_grad()
    def morph(self, start, end, z, steps=8):
        """``steps`` images from digit ``start`` to digit ``end`` with the same ``z``, side by side: ``[1, 28, 28 * steps]``.

        The label's embedding is blended, ``(1 - t) * embed(start) + t * embed(end)``,
        and joined to z as G's forward does.
        """
        require_whole(steps, "steps (pictures in the strip)", minimum=2)
        for digit in (start, end):
            self.draw(digit, z)  # the same checks as a single picture
        device = next(self.generator.parameters()).device
        first, last = (self.generator.embed(torch.tensor([d], device=device)) for d in (start, end))
        t = torch.linspace(0, 1, steps, device=device)[:, None]
        blended = (1 - t) * first + t * last
        images = self.generator.body(torch.cat([z.to(device).expand(steps, -1), blended], dim=1)).float().cpu()
        return torch.cat(list(images), dim=-1)

    def new_noise(self, button=None):
        """Draw a new z and redraw (the button's callback)."""
        self.z = torch.randn(1, self.latent_dim, generator=self.noise)
        with self.view.hold_sync():
            for i, slider in enumerate(self.sliders):
                slider.unobserve(self._redraw, names="value")
                slider.value = round(float(self.z[0, i]), 2)
                slider.observe(self._redraw, names="value")
        self._redraw()

    def _redraw(self, change=None):
        """Redraw the picture and the strip from the widgets' values (every control's callback)."""
        z = self.current_z()
        try:
            picture = convert_pixels(self.draw(self.digit.value, z), "tanh", "unit")
            self.image.value = png_bytes(picture, self.scale)
            strip = convert_pixels(self.morph(self.start.value, self.end.value, z), "tanh", "unit")
            self.strip.value = png_bytes(strip, self.scale // 2)
            self.message.value = (f"G(z, {self.digit.value});  from {self.start.value} to {self.end.value} "
                                  f"with the same z")
        except ValueError as error:
            self.message.value = f"not drawn: {error}"
