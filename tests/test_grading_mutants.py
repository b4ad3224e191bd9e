"""Every graded exercise, done wrong in a realistic way, loses its points and no others;
correct code written another way keeps them.

Each mutant is a student notebook with every exercise solved correctly except
one (``grading_cases.MUTANTS``); each variant, one exercise solved correctly in
another way (``grading_cases.VARIANTS``).

Two ways, for speed:

- ``test_grading_scores.py`` scores *every* mutant and variant in this
  process, running the cells as the autograder does (hidden tests in): a
  second or two each, where a graded submission costs a kernel and an
  nbgrader run (about 10 s);
- here, a sample goes through the real ``python -m gan_grader grade`` in
  one batch (the first and the last exercise of every session, one mutant
  each, and the variants of ``grading_cases.VARIANTS_THROUGH_NBGRADER``: those
  whose point only nbgrader sees, such as a log line on stderr), which proves
  that nbgrader's scores agree.
"""

import pytest

from grading_cases import (MUTANTS, SOURCES, VARIANTS, VARIANTS_THROUGH_NBGRADER, assert_keeps_full_marks,
                           assert_loses_exactly_its_points, exercise_test_ids, grade_batch, mutant_cases)

SESSIONS = tuple(SOURCES)
ALL = mutant_cases(MUTANTS, SESSIONS)
RIGHT = [case for case in mutant_cases(VARIANTS, SESSIONS) if case[:3] in VARIANTS_THROUGH_NBGRADER]


def sample(cases):
    """The first mutant of the first and of the last exercise of every session."""
    chosen = []
    for name in SESSIONS:
        exercises = list(exercise_test_ids(SOURCES[name]))
        for gid in (exercises[0], exercises[-1]):
            chosen += [case for case in cases if case[0] == name and case[1] == gid and case[2] == 0]
    return chosen


CASES = sample(ALL)


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


def test_every_variant_sent_through_nbgrader_exists():
    assert len(RIGHT) == len(VARIANTS_THROUGH_NBGRADER)


def test_the_sample_covers_every_session():
    assert {case[0] for case in CASES} == set(SESSIONS) and len(CASES) == 2 * len(SESSIONS)
