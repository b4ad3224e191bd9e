"""The three budgets (``helpers.budgets``): each session's plan, and the notebooks that read it."""

import json
import re
from pathlib import Path

import pytest

from helpers import budgets, loop

ROOT = Path(__file__).resolve().parents[1]


def code_of(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_every_session_has_the_three_budgets_with_the_same_knobs():
    for session, plans in budgets.PLANS.items():
        assert set(plans) == set(budgets.BUDGETS), session
        knobs = {name: set(values) for name, values in plans.items()}
        assert knobs["smoke"] == knobs["laptop"] == knobs["full"], (session, knobs)
        assert set(budgets.SESSION_TIME[session]) == set(budgets.BUDGETS), session


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_each_notebook_reads_its_own_plan_and_only_knobs_it_has(folder):
    notebooks = sorted((ROOT / folder).glob("0*.ipynb"))
    assert [n.stem for n in notebooks] == list(budgets.PLANS)
    for notebook in notebooks:
        code = code_of(notebook)
        assert f'budgets.plan("{notebook.stem}", BUDGET)' in code, notebook.name
        used = set(re.findall(r"\bplan\.(\w+)", code)) - {"budget"}
        assert used and used <= set(budgets.PLANS[notebook.stem]["laptop"]), (notebook.name, used)
        assert "FAST" not in code, f"{notebook.name}: the budget, not FAST, decides how long it runs"


def test_the_budget_cell_is_editable_and_not_graded():
    for notebook in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        budget_cells = [c for c in cells if "BUDGET = " in "".join(c["source"])]
        assert len(budget_cells) == 1, notebook.name
        assert budget_cells[0]["metadata"].get("nbgrader", {}) == {}, notebook.name


def test_fast_mode_forces_the_smoke_budget(monkeypatch, capsys):
    monkeypatch.setenv("GAN_COURSE_FAST", "1")
    plan = budgets.plan("02_mlp_gan", "full")
    assert plan.budget == "smoke" and plan.train == budgets.PLANS["02_mlp_gan"]["smoke"]["train"]
    assert "GAN_COURSE_FAST=1 overrides 'full'" in capsys.readouterr().out
    assert budgets.plan("02_mlp_gan", "fast").budget == "smoke"  # grading never stops on a mistyped budget
    assert "overrides 'fast'" in capsys.readouterr().out
    monkeypatch.setenv("GAN_COURSE_FAST", "0")
    assert budgets.plan("02_mlp_gan", "laptop").budget == "laptop"


def test_laptop_lengths_are_bounded_by_a_clock_or_a_few_steps():
    """A laptop length with no clock must be short: the ring's 2-D GANs (6,000 steps in seconds) and R5's two."""
    for session, plans in budgets.PLANS.items():
        for name, value in plans["laptop"].items():
            if isinstance(value, budgets.Length):
                assert value.seconds is not None or (value.steps or 10**9) <= 6000, (session, name, value)


def test_bad_choices_are_named(monkeypatch):
    monkeypatch.setenv("GAN_COURSE_FAST", "0")
    monkeypatch.setenv("GAN_COURSE_BUDGET", "quick")
    with pytest.raises(ValueError, match="GAN_COURSE_BUDGET must be one of smoke, laptop, full, got 'quick'"):
        budgets.default_budget()
    monkeypatch.setenv("GAN_COURSE_BUDGET", "full")
    assert budgets.default_budget() == "full"
    with pytest.raises(ValueError, match=r"one of 'smoke', 'laptop', 'full', got 'fast'"):
        budgets.plan("02_mlp_gan", "fast")
    with pytest.raises(ValueError, match="no budgets for a session called '07_x'"):
        budgets.plan("07_x", "laptop")
    with pytest.raises(ValueError, match="at least one of"):
        budgets.Length()
    with pytest.raises(ValueError, match="seconds"):
        budgets.Length(seconds=float("nan"))
    with pytest.raises(ValueError, match="needs a number of epochs"):
        budgets.Length(seconds=30).for_fit()


def test_a_length_in_words_and_as_arguments(capsys):
    length = budgets.Length(epochs=30, seconds=360)
    assert length.describe() == "at most 30 epochs, 6 min of training"
    assert length.for_fit() == loop.Budget(30, None, 360)
    assert budgets.Length(steps=1500).for_recipe() == {"epochs": None, "max_steps": 1500, "max_seconds": None}
    assert [budgets.minutes(s) for s in (45, 90, 300)] == ["45 s", "1 min 30 s", "5 min"]
    budgets.announce(budgets.Length(steps=600, note="about 30 s on one H200 GPU"), "training R5")
    assert capsys.readouterr().out == "training R5: 600 steps (about 30 s on one H200 GPU)\n"


def test_each_session_opens_with_its_reading_exercise_and_computing_time():
    for folder in ("solutions", "notebooks"):
        for notebook in sorted((ROOT / folder).glob("0*.ipynb")):
            cells = json.loads(notebook.read_text())["cells"]
            opening = "".join(cells[0]["source"])
            times = re.search(r"\*\*Time\.\*\* Reading: about \d+ min\. Exercises: about [\w ]+ \((\d+) code "
                              r"exercises[^)]*\)\. Running", opening)
            assert times, notebook
            exercises = sum(1 for cell in cells if cell["cell_type"] == "code"
                            and cell["metadata"].get("nbgrader", {}).get("solution"))
            assert int(times.group(1)) == exercises, (notebook, "the opening counts the exercises wrongly")
            for budget, words in budgets.SESSION_TIME[notebook.stem].items():
                assert f"`{budget}` {words}" in opening, (notebook, budget)
