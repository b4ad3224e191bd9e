"""Session 6's small games (helpers.game): the line, where the minimax G loss loses its gradient, and the
bilinear game, where gradient steps circle or spiral instead of converging."""

import math

import pytest
import torch

from helpers import game


def test_the_minimax_gradient_vanishes_as_d_learns_and_the_others_do_not():
    final = {name: game.gradient_as_d_learns(name, d_steps=150, record_every=50)[1] for name in game.LINE_G_LOSSES}
    assert all(len(gradients) == 4 for gradients in final.values())
    assert abs(final["minimax"][-1]) < 1e-3 < abs(final["minimax"][0])
    # both others push theta to the right, towards the data, and strongly
    assert final["non-saturating"][-1] < -0.5 and final["wasserstein"][-1] < -0.5


def test_under_minimax_g_stays_put_and_under_wasserstein_it_reaches_the_data():
    stuck = game.move_line_generator("minimax", g_steps=40)
    moving = game.move_line_generator("wasserstein", g_steps=100)
    assert stuck.shape == (41,) and stuck[0] == -4.0
    assert abs(stuck[-1] - stuck[0]) < 0.01
    assert moving[-1] > game.Line().data_centre - game.Line().width


def test_the_bilinear_game_spirals_out_together_and_circles_in_turn():
    together = game.bilinear_game(steps=50, lr=0.1)
    in_turn = game.bilinear_game(steps=50, lr=0.1, alternating=True)
    assert together.shape == in_turn.shape == (51, 2)
    # each simultaneous step multiplies the distance from (0, 0) by sqrt(1 + lr^2)
    assert together[-1].norm().item() == pytest.approx(math.sqrt(2) * (1 + 0.01) ** 25, rel=1e-5)
    assert in_turn.norm(dim=1).max() < 1.6 and in_turn.norm(dim=1).min() > 1.2  # bounded, away from (0, 0)


@pytest.mark.parametrize("call, message", [
    (lambda: game.gradient_as_d_learns("wgan"), "g_loss must be one of minimax, non-saturating, wasserstein"),
    (lambda: game.move_line_generator("minimax", g_steps=0), "steps"),
    (lambda: game.move_line_generator("minimax", g_lr=float("nan")), "g_lr"),
    (lambda: game.bilinear_game(lr=0), "lr"),
])
def test_bad_arguments_are_refused_in_words(call, message):
    with pytest.raises(ValueError, match=message):
        call()
