"""Mistakes lose exactly their exercises' points and correct code written another way keeps them,
through the real ``python -m gan_grader grade``: nbgrader's scores agree with the in-process ones.

``test_exercise_agreement.py`` scores *every* mutant and variant in this process, by the visible
check, the hidden test and the judge: a second or two each, where a graded submission costs a
kernel and an nbgrader run (about 8 s). Here a sample goes through the grade command, in as few
submissions as prove the point: for each session, one submission holds the first mutant of its
first and of its last exercise (it must lose exactly those two exercises' points) and the correct
variants of ``grading_cases.VARIANTS_THROUGH_NBGRADER`` for other exercises of that session (those
whose point only nbgrader sees, such as a log line on stderr: they must keep theirs). A second
variant of an exercise already in that submission gets one of its own. Session 4's first mutant
answers with the course's own ``metrics.frechet_distance``: the lock on the course's answers holds
through the grade command too; and one submission each for sessions 4 and 5 takes every other route
to the course's answers (``grading_cases.LOCK_ROUTES``: a course class that calls the answer, a
function under a course module's name, a wrapper's original, the lock's own state cleared, the
course's whole training step) and loses exactly those exercises' points.
"""

import os
from pathlib import Path

import pytest

from grading_cases import (LOCK_ROUTES, MUTANTS, SOURCES, VARIANTS, VARIANTS_THROUGH_NBGRADER, exercise_test_ids,
                           grade_batch, points_of)

SESSIONS = tuple(SOURCES)


def first_and_last(name):
    exercises = list(exercise_test_ids(SOURCES[name]))
    return exercises[0], exercises[-1]


def plan():
    """{student: (notebook, {gid: code}, [mutant gids], [(gid, k, what) of the variants])}."""
    students = {}
    for name in SESSIONS:
        overrides = {gid: MUTANTS[name][gid][0][1] for gid in first_and_last(name)}
        students[f"mix-{name}"] = (name, overrides, list(overrides), [])
    for name, gid, k in VARIANTS_THROUGH_NBGRADER:
        what, code = VARIANTS[name][gid][k]
        student = f"mix-{name}" if gid not in students[f"mix-{name}"][1] else f"var-{name}-{gid}-{k}"
        students.setdefault(student, (name, {}, [], []))
        students[student][1][gid] = code
        students[student][3].append((gid, k, what))
    for name, routes in LOCK_ROUTES.items():
        students[f"lock-{name}"] = (name, {gid: code for gid, (_, code) in routes.items()}, list(routes), [])
    return students


PLAN = plan()
MIXED = [(student, name, mutants) for student, (name, _, mutants, _) in PLAN.items()
         if mutants and not student.startswith("lock-")]
LOCKED = [(student, name, mutants) for student, (name, _, mutants, _) in PLAN.items() if student.startswith("lock-")]
RIGHT = [(student, name, gid, k, what) for student, (name, _, _, variants) in PLAN.items()
         for gid, k, what in variants]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    # A grade command started by a process that once ran torch.compile inherits its cache folder, under /tmp,
    # which no kernel may write (the sandbox): the kernels must keep their caches in their own folders.
    os.environ["TORCHINDUCTOR_CACHE_DIR"], saved = "/tmp/torchinductor_grade", os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    try:
        return grade_batch(tmp_path_factory.mktemp("mutants"),
                           {student: (name, overrides) for student, (name, overrides, _, _) in PLAN.items()})
    finally:
        if saved is None:
            os.environ.pop("TORCHINDUCTOR_CACHE_DIR")
        else:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = saved


def expected_score(rows, student):
    name, _, mutants, _ = PLAN[student]
    r = rows[(student, name)]
    return r, float(r["max_score"]) - points_of(name, mutants)


@pytest.mark.parametrize("student, name, mutants", MIXED, ids=[m[0] for m in MIXED])
def test_two_mistakes_lose_exactly_their_two_exercises(graded, student, name, mutants):
    r, want = expected_score(graded, student)
    assert r["status"] == "graded", r["detail"]
    assert float(r["score"]) == want, (f"{name}: mistakes in {mutants} (and correct variants) should leave "
                                       f"{want}, got {r['score']}/{r['max_score']}: {r['detail']}")


@pytest.mark.parametrize("student, name, routes", LOCKED, ids=[m[0] for m in LOCKED])
def test_every_route_to_the_courses_own_answer_loses_exactly_that_exercise(graded, student, name, routes):
    r, want = expected_score(graded, student)
    assert float(r["score"]) == want, (f"{name}: answers that reach the course's own {routes} should leave {want}, "
                                       f"got {r['score']}/{r['max_score']}: {r['detail']}")
    if any("lock's own state" in LOCK_ROUTES[name][gid][0] for gid in routes):  # cleared, and put back
        assert r["status"] == "tampered" and "helpers.taught.ANSWERS" in r["detail"], r
    else:
        assert r["status"] == "graded", r


@pytest.mark.parametrize("student, name, gid, k, what", RIGHT, ids=[f"{r[1]}-{r[2]}-{r[3]}" for r in RIGHT])
def test_correct_code_written_another_way_keeps_its_points(graded, student, name, gid, k, what):
    r, want = expected_score(graded, student)
    assert r["status"] == "graded", r["detail"]
    assert float(r["score"]) == want, f"'{what}' in {gid} is correct but {student} got {r['score']}/{want}"


def test_every_graded_exercise_of_every_session_has_a_mutant():
    for name, source in SOURCES.items():
        exercises = set(exercise_test_ids(source))
        covered = set(MUTANTS.get(name, {}))
        assert exercises <= covered, f"{name}: no wrong implementation tested for {sorted(exercises - covered)}"


def test_the_sample_covers_every_session_and_every_variant_sent_through_nbgrader():
    assert {name for _, name, _ in MIXED} == set(SESSIONS) and all(len(m) == 2 for _, _, m in MIXED)
    assert sorted((n, g, k) for _, n, g, k, _ in RIGHT) == sorted(VARIANTS_THROUGH_NBGRADER)
    assert len(PLAN) == 9  # a kernel and an nbgrader run each: the sample stays this small
    assert "metrics.frechet_distance" in MUTANTS["04_evaluate"]["frechet_distance"][0][1]


def test_the_readme_counts_the_mutants_there_are():
    cases = [case for exercises in MUTANTS.values() for mutants in exercises.values() for case in mutants]
    own = sum("course's own" in what for what, *_ in cases)
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert f"{len(cases)} across the {len(SOURCES)} sessions, {own} of them using the course's own answer" in readme
