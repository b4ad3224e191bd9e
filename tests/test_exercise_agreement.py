"""The three graders of every exercise agree: the visible check the student runs, the hidden test
nbgrader scores, and the judge outside the kernel.

For every realistic mistake in ``grading_cases.MUTANTS`` all three fail that exercise and no other,
and the visible check names the fix first (the layer, the call or the argument) before the evidence.
For every correct solution written another way (``grading_cases.VARIANTS``) all three pass. The
cases run in rounds (``rounds``): a notebook with every other exercise holding one case each and the
exercises between them solved, so each run checks several cases and the clean ones beside them. The hidden test and the judge share one
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




def rounds(cases):
    """``cases`` ({notebook: {grade_id: [entry, ...]}}, exercises in notebook order) in rounds, so that one
    run of a notebook checks several cases at once: ``[(notebook, r, {grade_id: entry})]``.

    Round r holds every other exercise (the even ones in even rounds, the odd ones in odd rounds), each with
    its (r // 2)-th case. So each case still meets clean neighbours: the exercise just before it and the
    one just after it, the likeliest to build on it or under it, are solved in its round, and a mistake that
    cost them points would be seen. Every notebook runs about twice per case of its most-tested exercise,
    instead of once per case.
    """
    out = []
    for name, by_cell in cases.items():
        exercises = list(by_cell.items())
        for r in range(2 * max(len(entries) for _, entries in exercises)):
            chosen = {gid: entries[r // 2] for i, (gid, entries) in enumerate(exercises)
                      if i % 2 == r % 2 and r // 2 < len(entries)}
            if chosen:
                out.append((name, r, chosen))
    return out


MISTAKES = rounds(MUTANTS)
RIGHT = rounds(VARIANTS)


@pytest.fixture(autouse=True)
def own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the setup cells make an outputs/ folder here
    monkeypatch.setitem(os.environ, "GAN_COURSE_OUT", str(tmp_path / "outputs"))


def seed_for(*parts):
    """A judge's seed that differs from case to case, the same on every run."""
    return zlib.crc32("/".join(map(str, parts)).encode())


@pytest.mark.parametrize("name, k, mistakes", MISTAKES, ids=[f"{name}-round{k}" for name, k, _ in MISTAKES])
def test_a_mistake_fails_all_three_graders_of_its_exercise_and_no_other(name, k, mistakes):
    verdicts = run_graded_cells(name, {gid: code for gid, (_, code, _) in mistakes.items()},
                                judge_seed=seed_for(name, k))
    tests = exercise_test_ids(SOURCES[name])
    mine = sorted(tests[gid] for gid in mistakes)
    what = {tests[gid]: f"'{entry[0]}' in {gid}" for gid, entry in mistakes.items()}
    failed = {"visible check": sorted(t for t, message in verdicts.visible.items() if message),
              "hidden test": sorted(t for t, ok in verdicts.hidden.items() if not ok),
              "judge": sorted(t for t, why in verdicts.judge.items() if why)}
    for grader, found in failed.items():
        missed = [what[t] for t in mine if t not in found]
        extra = [t for t in found if t not in mine]
        assert not missed and not extra, (f"the {grader} lets through {missed} and fails exercises with no "
                                          f"mistake in them {extra}: {verdicts}")
    for gid, (mistake, _, fix) in mistakes.items():
        message = verdicts.visible[tests[gid]]
        assert fix.lower() in message.lower(), f"'{mistake}': the visible check does not name the fix {fix!r}:\n{message}"
        got = message.find(" got ")
        assert got == -1 or message.lower().find(fix.lower()) < got, \
            f"'{mistake}': the evidence comes before the fix:\n{message}"
        assert "meta" not in message, f"'{mistake}': the message names the meta device:\n{message}"


@pytest.mark.parametrize("name, k, variants", RIGHT, ids=[f"{name}-round{k}" for name, k, _ in RIGHT])
def test_correct_code_written_another_way_passes_all_three(name, k, variants):
    verdicts = run_graded_cells(name, {gid: code for gid, (_, code) in variants.items()},
                                judge_seed=seed_for(name, k, "right"))
    ways = [f"'{what}' in {gid}" for gid, (what, _) in variants.items()]
    assert not any(verdicts.visible.values()), f"{ways} are correct but a visible check fails: {verdicts.visible}"
    assert all(verdicts.hidden.values()), f"{ways} are correct but a hidden test fails: {verdicts.hidden}"
    assert not any(verdicts.judge.values()), f"{ways} are correct but the judge says {verdicts.judge}"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_solution_passes_all_three_and_a_broken_cell_is_seen_by_all_three(name):
    verdicts = run_graded_cells(name, judge_seed=seed_for(name))
    assert all(verdicts.passed.values()) and not any(verdicts.judge.values()), verdicts
    first = next(iter(exercise_test_ids(SOURCES[name])))
    mine = exercise_test_ids(SOURCES[name])[first]
    verdicts = run_graded_cells(name, {first: "raise RuntimeError('not solved')\n"}, judge_seed=seed_for(name, 1))
    assert verdicts.visible[mine] and not verdicts.hidden[mine]  # each grader can fail a cell
    assert "not defined" in verdicts.judge[mine]
