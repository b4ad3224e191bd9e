"""Every graded exercise, done wrong in a realistic way, loses its points and no others;
correct code written another way keeps them.

Each mutant is a student notebook with every exercise solved correctly except
one (``grading_cases.MUTANTS``); each variant, one exercise solved correctly
in another way (``grading_cases.VARIANTS``). All are graded in one batch
through the real ``python -m helpers.course grade``. The cells after the last
graded one are dropped from these submissions to keep the suite fast; they
carry no points.
"""

import pytest

from grading_cases import (MUTANTS, SOURCES, STUDENTS, VARIANTS, completed_submission, exercise_test_ids,
                           graded_points, run_grade, without_trailing_ungraded_cells, write_submission)

TIMEOUT = 300  # seconds per cell: wide, so a busy machine never turns correct cells into timeouts


def cases(table):
    for name, by_cell in table.items():
        for gid, entries in by_cell.items():
            for k, (what, code, *_) in enumerate(entries):
                yield name, gid, k, what, code


CASES = list(cases(MUTANTS))
RIGHT = list(cases(VARIANTS))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("mutants")
    for prefix, table in (("mut", CASES), ("var", RIGHT)):
        for name, gid, k, _, code in table:
            nb = completed_submission(STUDENTS[name], SOURCES[name], {gid: code})
            write_submission(root / "submissions", f"{prefix}-{name}-{gid}-{k}", name,
                             without_trailing_ungraded_cells(nb))
    rows, process = run_grade(root / "submissions", root / "grades.csv", TIMEOUT)
    assert process.returncode == 0, process.stdout + process.stderr
    return rows


def test_every_graded_exercise_has_a_mutant():
    for name, source in SOURCES.items():
        exercises = set(exercise_test_ids(source))
        covered = set(MUTANTS.get(name, {}))
        assert exercises <= covered, f"{name}: no wrong implementation tested for {sorted(exercises - covered)}"


@pytest.mark.parametrize("name, gid, k, what, code", CASES, ids=[f"{n}-{g}-{k}" for n, g, k, _, _ in CASES])
def test_a_mistake_loses_that_exercise_and_nothing_else(graded, name, gid, k, what, code):
    r = graded[(f"mut-{name}-{gid}-{k}", name)]
    lost = graded_points(SOURCES[name])[exercise_test_ids(SOURCES[name])[gid]]
    assert r["status"] == "graded", r["detail"]
    assert float(r["score"]) == float(r["max_score"]) - lost, (
        f"'{what}' in {gid} should cost exactly {lost} points, got {r['score']}/{r['max_score']}")


@pytest.mark.parametrize("name, gid, k, what, code", RIGHT, ids=[f"{n}-{g}-{k}" for n, g, k, _, _ in RIGHT])
def test_correct_code_written_another_way_keeps_full_marks(graded, name, gid, k, what, code):
    r = graded[(f"var-{name}-{gid}-{k}", name)]
    assert r["status"] == "graded", r["detail"]
    assert float(r["score"]) == float(r["max_score"]), f"'{what}' is correct but got {r['score']}/{r['max_score']}"
