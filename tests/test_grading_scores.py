"""Every mutant loses exactly its exercise's points, and every correct variant keeps full marks:
scored in this process, cell by cell, as the autograder scores a submission.

``grading_cases.run_graded_cells`` runs the student notebook with every exercise
solved (one replaced by the mutant or the variant) and the graded cells as the
instructor wrote them, hidden tests included. A graded cell scores its points
when it raises nothing, as in nbgrader. ``test_grading_mutants.py`` sends a
sample of the same submissions through nbgrader itself.
"""

import os

import pytest

from grading_cases import MUTANTS, SOURCES, VARIANTS, exercise_test_ids, mutant_cases, run_graded_cells

ALL = mutant_cases(MUTANTS, tuple(SOURCES))
RIGHT = mutant_cases(VARIANTS, tuple(SOURCES))


@pytest.fixture(autouse=True)
def own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the setup cells make an outputs/ folder here
    monkeypatch.setitem(os.environ, "GAN_COURSE_OUT", str(tmp_path / "outputs"))


@pytest.mark.parametrize("name, gid, k, what, code", ALL, ids=[f"{n}-{g}-{k}" for n, g, k, _, _ in ALL])
def test_a_mistake_fails_its_own_tests_and_no_others(name, gid, k, what, code):
    passed = run_graded_cells(name, {gid: code})
    failed = sorted(test for test, ok in passed.items() if not ok)
    assert failed == [exercise_test_ids(SOURCES[name])[gid]], f"'{what}' in {gid}: failing graded cells {failed}"


@pytest.mark.parametrize("name, gid, k, what, code", RIGHT, ids=[f"{n}-{g}-{k}" for n, g, k, _, _ in RIGHT])
def test_correct_code_written_another_way_passes_every_test(name, gid, k, what, code):
    passed = run_graded_cells(name, {gid: code})
    assert all(passed.values()), f"'{what}' in {gid} is correct but fails {[t for t, ok in passed.items() if not ok]}"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_solution_passes_every_test_and_a_broken_cell_is_seen(name):
    assert all(run_graded_cells(name).values())
    first = next(iter(exercise_test_ids(SOURCES[name])))
    passed = run_graded_cells(name, {first: "raise RuntimeError('not solved')\n"})
    assert passed[exercise_test_ids(SOURCES[name])[first]] is False  # the scorer can fail a cell
