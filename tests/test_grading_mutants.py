"""Every graded exercise, done wrong in a realistic way, loses its points and no others;
correct code written another way keeps them.

Each mutant is a student notebook with every exercise solved correctly except
one (``grading_cases.MUTANTS``); each variant, one exercise solved correctly in
another way (``grading_cases.VARIANTS``). They are graded in one batch through
the real ``python -m helpers.course grade``, with the cells after the last
graded one dropped (they carry no points).
"""

import pytest

from grading_cases import (MUTANTS, SOURCES, VARIANTS, assert_keeps_full_marks, assert_loses_exactly_its_points,
                           exercise_test_ids, grade_batch, mutant_cases)

SESSIONS = tuple(SOURCES)
CASES = mutant_cases(MUTANTS, SESSIONS)
RIGHT = mutant_cases(VARIANTS, SESSIONS)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_batch(tmp_path_factory.mktemp("mutants"), CASES, RIGHT)


@pytest.mark.parametrize("name, gid, k, what, code", CASES, ids=[f"{n}-{g}-{k}" for n, g, k, _, _ in CASES])
def test_a_mistake_loses_that_exercise_and_nothing_else(graded, name, gid, k, what, code):
    assert_loses_exactly_its_points(graded, name, gid, k, what)


@pytest.mark.parametrize("name, gid, k, what, code", RIGHT, ids=[f"{n}-{g}-{k}" for n, g, k, _, _ in RIGHT])
def test_correct_code_written_another_way_keeps_full_marks(graded, name, gid, k, what, code):
    assert_keeps_full_marks(graded, name, gid, k, what)


def test_every_graded_exercise_of_every_session_has_a_mutant():
    for name, source in SOURCES.items():
        exercises = set(exercise_test_ids(source))
        covered = set(MUTANTS.get(name, {}))
        assert exercises <= covered, f"{name}: no wrong implementation tested for {sorted(exercises - covered)}"
