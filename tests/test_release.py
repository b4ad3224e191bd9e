"""Student notebooks are generated from solutions/ by nbgrader's preprocessors."""

import json
import shutil
import subprocess
import sys

import pytest

from gan_grader import release
from helpers.runtime import REPO_ROOT

SOURCES = release.source_notebooks()


def test_there_are_solution_notebooks():
    assert SOURCES, "solutions/ holds no notebook"


def test_release_check_passes_on_the_committed_notebooks():
    result = subprocess.run([sys.executable, "-m", "gan_grader", "release", "--check"],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_student_version_hides_solutions_and_hidden_tests(source):
    text = release.student_notebook(source)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    nb = json.loads(text)
    solution_cells = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    code = [c for c in solution_cells if c["cell_type"] == "code"]
    assert code and all("raise NotImplementedError()" in "".join(c["source"]) for c in code)
    # written answers marked by hand (session 6): the model answer is gone, the cell stays editable
    assert all("".join(c["source"]) == "YOUR ANSWER HERE" and not c["metadata"]["nbgrader"]["locked"]
               for c in solution_cells if c["cell_type"] == "markdown")
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    tests = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade") and c not in solution_cells]
    assert tests and all(c["metadata"]["nbgrader"]["locked"] for c in tests)


def test_release_is_deterministic_and_check_finds_stale_and_missing(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    shutil.copytree(REPO_ROOT / "solutions", solutions)
    notebooks.mkdir()
    (notebooks / "my-notes.txt").write_text("not generated: must survive")
    assert release.check_release(solutions, notebooks)  # everything missing
    first = release.release(solutions, notebooks)
    assert first and release.check_release(solutions, notebooks) == []
    assert release.release(solutions, notebooks) == [], "a second run changes nothing"
    assert (notebooks / "my-notes.txt").read_text() == "not generated: must survive"

    target = first[0]
    target.write_text(target.read_text().replace("YOUR CODE HERE", "edited by hand"))
    problems = release.check_release(solutions, notebooks)
    assert len(problems) == 1 and "stale" in problems[0] and target.name in problems[0]
    target.unlink()
    assert "missing" in release.check_release(solutions, notebooks)[0]


def test_release_check_exits_1_naming_the_stale_notebook(tmp_path, capsys):
    from gan_grader.__main__ import main

    notebooks = tmp_path / "notebooks"
    assert main(["release", "--notebooks", str(notebooks)]) == 0
    assert main(["release", "--check", "--notebooks", str(notebooks)]) == 0
    stale = sorted(notebooks.glob("*.ipynb"))[0]
    stale.write_text(stale.read_text().replace("YOUR CODE HERE", "changed"))
    capsys.readouterr()
    assert main(["release", "--check", "--notebooks", str(notebooks)]) == 1
    assert stale.name in capsys.readouterr().out


def test_a_broken_source_is_named_and_nothing_is_released_before_it(tmp_path, capsys):
    from gan_grader.__main__ import main

    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    shutil.copytree(REPO_ROOT / "solutions", solutions)
    stripped = json.loads((solutions / "06_stable.ipynb").read_text())
    for cell in stripped["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            del cell["metadata"]["nbgrader"]["grade_id"]  # a solution cell whose grade_id was lost
    (solutions / "06_stable.ipynb").write_text(json.dumps(stripped))
    cases = {"02_mlp_gan.ipynb": ("{ not json", "cannot make the student notebook of"),
             "06_stable.ipynb": (None, "cannot make the student notebook of")}
    for name, (text, words) in cases.items():
        saved = (solutions / name).read_text()
        if text is not None:
            (solutions / name).write_text(text)
        capsys.readouterr()
        assert main(["release", "--solutions", str(solutions), "--notebooks", str(notebooks)]) == 2
        err = capsys.readouterr().err
        assert words in err and name in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert not notebooks.exists(), "a notebook was released before the broken source was found"
        (solutions / name).write_text(saved)
    afile = tmp_path / "a-file"
    afile.write_text("mine")
    assert main(["release", "--notebooks", str(afile)]) == 2
    assert "--notebooks " + str(afile) + " is a file" in capsys.readouterr().err and afile.read_text() == "mine"
