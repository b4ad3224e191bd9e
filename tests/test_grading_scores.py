"""Every mutant loses exactly its exercise's points, and every correct variant keeps full marks:
scored in this process, cell by cell, as the autograder scores a submission, and marked by the
judge outside the notebook's namespace (``helpers.course.judge``), which must agree on its own.

``grading_cases.run_graded_cells`` runs the student notebook with every exercise
solved (one replaced by the mutant or the variant) and the graded cells as the
instructor wrote them, hidden tests included. A graded cell scores its points
when it raises nothing, as in nbgrader. ``test_grading_mutants.py`` sends a
sample of the same submissions through nbgrader itself.
"""

import os
import zlib

import pytest

from grading_cases import MUTANTS, SOURCES, VARIANTS, exercise_test_ids, mutant_cases, run_graded_cells

ALL = mutant_cases(MUTANTS, tuple(SOURCES))
RIGHT = mutant_cases(VARIANTS, tuple(SOURCES))


@pytest.fixture(autouse=True)
def own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the setup cells make an outputs/ folder here
    monkeypatch.setitem(os.environ, "GAN_COURSE_OUT", str(tmp_path / "outputs"))


def seed_for(*parts):
    """A judge's seed that differs from case to case, the same on every run."""
    return zlib.crc32("/".join(map(str, parts)).encode())


@pytest.mark.parametrize("name, gid, k, what, code", ALL, ids=[f"{n}-{g}-{k}" for n, g, k, _, _ in ALL])
def test_a_mistake_fails_its_own_tests_and_no_others(name, gid, k, what, code):
    passed, judged = run_graded_cells(name, {gid: code}, judge_seed=seed_for(name, gid, k))
    failed = sorted(test for test, ok in passed.items() if not ok)
    assert failed == [exercise_test_ids(SOURCES[name])[gid]], f"'{what}' in {gid}: failing graded cells {failed}"
    wrong = sorted(test for test, why in judged.items() if why)
    assert wrong == failed, f"'{what}' in {gid}: the judge marks wrong {wrong}: { {t: judged[t] for t in wrong} }"


@pytest.mark.parametrize("name, gid, k, what, code", RIGHT, ids=[f"{n}-{g}-{k}" for n, g, k, _, _ in RIGHT])
def test_correct_code_written_another_way_passes_every_test(name, gid, k, what, code):
    passed, judged = run_graded_cells(name, {gid: code}, judge_seed=seed_for(name, gid, k))
    assert all(passed.values()), f"'{what}' in {gid} is correct but fails {[t for t, ok in passed.items() if not ok]}"
    assert not any(judged.values()), f"'{what}' in {gid} is correct but the judge says {judged}"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_solution_passes_every_test_and_a_broken_cell_is_seen(name):
    passed, judged = run_graded_cells(name, judge_seed=seed_for(name))
    assert all(passed.values())
    assert not any(judged.values()), judged
    first = next(iter(exercise_test_ids(SOURCES[name])))
    passed, judged = run_graded_cells(name, {first: "raise RuntimeError('not solved')\n"}, judge_seed=seed_for(name, 1))
    assert passed[exercise_test_ids(SOURCES[name])[first]] is False  # the scorer can fail a cell
    assert "not defined" in judged[exercise_test_ids(SOURCES[name])[first]]  # and so can the judge
