"""The three graders of every exercise agree: the visible check the student runs, the hidden test
nbgrader scores, and the judge outside the kernel.

For every realistic mistake in ``grading_cases.MUTANTS`` (a student notebook with every exercise
solved except one) all three fail that exercise and no other, and the visible check names the fix
first (the layer, the call or the argument) before the evidence. For every correct solution written
another way (``grading_cases.VARIANTS``) all three pass. The hidden test and the judge share one
specification per exercise (``instructor/gan_grader/exercises/``), so only the visible check is
written apart; this is where the three are held together. There is no exception today: a mutant
that one grader let through would have to be listed here, with the reason.

``grading_cases.run_graded_cells`` runs each submission in this process, cell by cell, as the
autograder runs it; ``test_grading_mutants.py`` sends a sample of the same submissions through
nbgrader itself.
"""

import os
import zlib

import pytest

from grading_cases import MUTANTS, SOURCES, VARIANTS, exercise_test_ids, run_graded_cells

MISTAKES = [(name, gid, k, what, code, fix) for name, by_cell in MUTANTS.items()
            for gid, entries in by_cell.items() for k, (what, code, fix) in enumerate(entries)]
RIGHT = [(name, gid, k, what, code) for name, by_cell in VARIANTS.items()
         for gid, entries in by_cell.items() for k, (what, code) in enumerate(entries)]


@pytest.fixture(autouse=True)
def own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the setup cells make an outputs/ folder here
    monkeypatch.setitem(os.environ, "GAN_COURSE_OUT", str(tmp_path / "outputs"))


def seed_for(*parts):
    """A judge's seed that differs from case to case, the same on every run."""
    return zlib.crc32("/".join(map(str, parts)).encode())


@pytest.mark.parametrize("name, gid, k, what, code, fix", MISTAKES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in MISTAKES])
def test_a_mistake_fails_all_three_graders_of_its_exercise_and_no_other(name, gid, k, what, code, fix):
    verdicts = run_graded_cells(name, {gid: code}, judge_seed=seed_for(name, gid, k))
    mine = exercise_test_ids(SOURCES[name])[gid]
    failed = {"visible check": sorted(t for t, message in verdicts.visible.items() if message),
              "hidden test": sorted(t for t, ok in verdicts.hidden.items() if not ok),
              "judge": sorted(t for t, why in verdicts.judge.items() if why)}
    for grader, tests in failed.items():
        assert tests == [mine], f"'{what}' in {gid}: the {grader} fails {tests}, not [{mine}]: {verdicts}"
    message = verdicts.visible[mine]
    assert fix.lower() in message.lower(), f"'{what}': the visible check does not name the fix {fix!r}:\n{message}"
    got = message.find(" got ")
    assert got == -1 or message.lower().find(fix.lower()) < got, f"'{what}': the evidence comes before the fix:\n{message}"
    assert "meta" not in message, f"'{what}': the message names the meta device:\n{message}"


@pytest.mark.parametrize("name, gid, k, what, code", RIGHT, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in RIGHT])
def test_correct_code_written_another_way_passes_all_three(name, gid, k, what, code):
    verdicts = run_graded_cells(name, {gid: code}, judge_seed=seed_for(name, gid, k))
    assert not any(verdicts.visible.values()), f"'{what}' in {gid} is correct but a visible check fails: {verdicts.visible}"
    assert all(verdicts.hidden.values()), f"'{what}' in {gid} is correct but a hidden test fails: {verdicts.hidden}"
    assert not any(verdicts.judge.values()), f"'{what}' in {gid} is correct but the judge says {verdicts.judge}"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_solution_passes_all_three_and_a_broken_cell_is_seen_by_all_three(name):
    verdicts = run_graded_cells(name, judge_seed=seed_for(name))
    assert all(verdicts.passed.values()) and not any(verdicts.judge.values()), verdicts
    first = next(iter(exercise_test_ids(SOURCES[name])))
    mine = exercise_test_ids(SOURCES[name])[first]
    verdicts = run_graded_cells(name, {first: "raise RuntimeError('not solved')\n"}, judge_seed=seed_for(name, 1))
    assert verdicts.visible[mine] and not verdicts.hidden[mine]  # each grader can fail a cell
    assert "not defined" in verdicts.judge[mine]
