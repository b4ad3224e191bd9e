"""Every realistic mistake fails its exercise's *visible* check, with a message that names the fix first.

For each mutant in ``grading_cases.MUTANTS`` this runs, in this process, what
a student's notebook runs before the check: the setup cell and every
exercise's code (all correct except the mutant's), then the visible check
cell as students have it. The check must raise, and its message must name the
fix (the layer, the call or the argument) before the evidence ("got ...").
It must never mention the ``meta`` device the step checks use internally.
"""

import os

import pytest

import json

from grading_cases import (MUTANTS, SOURCES, STUDENTS, VARIANTS, completed_submission, exercise_test_ids, grade_id,
                           is_solution, solution_code)

CASES = [(name, gid, k, what, code, fix)
         for name, by_cell in MUTANTS.items()
         for gid, entries in by_cell.items()
         for k, (what, code, fix) in enumerate(entries)]


def visible_check_message(name, gid, code, workdir):
    """Run the setup cell, every exercise (``gid`` replaced by ``code``) and ``gid``'s visible check.

    Returns the message of the exception the check raised, or None if it passed.
    """
    nb = completed_submission(STUDENTS[name], SOURCES[name], {gid: code})
    test_id = exercise_test_ids(SOURCES[name])[gid]
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"
             and (grade_id(c) == "setup" or is_solution(c) or grade_id(c) == test_id)]
    namespace = {"__name__": "__main__"}
    for cell in cells:
        source = "".join(cell["source"])
        try:
            exec(compile(source, f"<{name}:{grade_id(cell)}>", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - any failure of the check cell is the student's message
            assert grade_id(cell) == test_id, f"{grade_id(cell)} failed before the check ran: {error!r}"
            return str(error)
    return None


@pytest.mark.parametrize("name, gid, k, what, code, fix", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_the_visible_check_names_the_fix_first(name, gid, k, what, code, fix, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the setup cell makes an outputs/ folder here
    monkeypatch.setitem(os.environ, "GAN_COURSE_OUT", str(tmp_path / "outputs"))
    message = visible_check_message(name, gid, code, tmp_path)
    assert message is not None, f"'{what}' passes the visible check of {gid}"
    assert fix.lower() in message.lower(), f"'{what}': the message does not name the fix {fix!r}:\n{message}"
    got = message.find(" got ")
    assert got == -1 or message.lower().find(fix.lower()) < got, f"'{what}': the evidence comes before the fix:\n{message}"
    assert "meta" not in message, f"'{what}': the message names the meta device:\n{message}"


VARIANT_CASES = [(name, gid, what, code)
                 for name, by_cell in VARIANTS.items()
                 for gid, entries in by_cell.items()
                 for what, code in entries]


@pytest.mark.parametrize("name, gid, what, code", VARIANT_CASES, ids=[f"{c[0]}-{c[1]}" for c in VARIANT_CASES])
def test_correct_code_written_another_way_passes_the_visible_check(name, gid, what, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(os.environ, "GAN_COURSE_OUT", str(tmp_path / "outputs"))
    assert visible_check_message(name, gid, code, tmp_path) is None, f"'{what}' is correct but fails the check"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_solution_passes_every_visible_check(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(os.environ, "GAN_COURSE_OUT", str(tmp_path / "outputs"))
    for gid in exercise_test_ids(SOURCES[name]):
        solved = "".join(next(c for c in json.loads(SOURCES[name].read_text())["cells"] if grade_id(c) == gid)["source"])
        assert visible_check_message(name, gid, solution_code(solved), tmp_path) is None, f"{name}: {gid}"
