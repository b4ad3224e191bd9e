"""The course's answers to exercises (``helpers.taught``): each is marked, says which session teaches
it, works everywhere except in its own exercise's check, and a student's install holds no grading code.

That a submission using one loses exactly that exercise's points, by all three graders, is in
``test_exercise_agreement.py`` (the mutants that call, import or subclass the course's answer);
``test_grading_mutants.py`` sends one of them through the real grade command.
"""

import ast
import shutil
import subprocess
import sys
import zipfile

import pytest
import torch

from gan_grader.exercises import EXERCISES
from helpers import collapse, data, metrics, models, recipes, steps, taught
from helpers.build import build_gan
from helpers.runtime import REPO_ROOT


def test_every_marked_answer_is_a_graded_exercise_of_its_session_and_says_which_session_teaches_it():
    graded = {(exercise.session, exercise.name) for exercise in EXERCISES.values()}
    assert len(taught.ANSWERS) >= 19
    for (session, exercise), answer in taught.ANSWERS.items():
        assert (session, exercise) in graded, f"{answer.__qualname__} answers {exercise} of {session}: no such exercise"
        number = int(session[:2])
        assert f"session {number}" in answer.__doc__.lower(), f"{answer.__qualname__}'s docstring names no session"


def test_the_answer_refuses_a_student_only_inside_its_own_exercise_check():
    x = torch.randn(8, 3)

    def students_pack(x, m):  # a student's wrapper: this test module stands for the student's notebook
        return collapse.pack(x, m)

    assert students_pack(x, 2).shape == (4, 6)  # outside a check: the course's function works
    with taught.checking("04_evaluate", "pack"):
        with pytest.raises(taught.OwnCodeRequired, match=r"^Write pack yourself: .*helpers\.collapse\.pack"):
            students_pack(x, 2)
        assert steps.generator_loss(torch.tensor([[0.5]])).item() == pytest.approx(0.6931, abs=1e-4)  # another's
    with taught.checking("04_evaluate", "frechet_distance"):
        assert students_pack(x, 2).shape == (4, 6)  # another exercise of the same session


def test_every_route_to_the_answer_is_refused_inside_its_check_and_open_again_after():
    pixels = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    packed_d = collapse.toy_discriminator(m=2)  # a PackedDiscriminator: its forward calls collapse.pack
    as_if_the_course = {"__name__": "helpers.collapse", "collapse": collapse}  # a name is no passport
    exec("def pack_by_name(x, m):\n    return collapse.pack(x, m)\n", as_if_the_course)
    assert not hasattr(collapse.pack, "__wrapped__")  # no unlocked original behind a wrapper
    routes = {"the course's own code": lambda: data.convert_pixels(pixels, "uint8", "tanh"),
              "a course class that calls it": lambda: packed_d(torch.randn(6, 2)),
              "a function under a course module's name": lambda: as_if_the_course["pack_by_name"](
                  torch.randn(6, 2), 2)}
    with taught.checking("01_data", "to_minus_one_one"):
        with pytest.raises(taught.OwnCodeRequired, match="Write to_minus_one_one yourself"):
            routes["the course's own code"]()
    for route in ("a course class that calls it", "a function under a course module's name"):
        with taught.checking("04_evaluate", "pack"):
            with pytest.raises(taught.OwnCodeRequired, match="Write pack yourself"):
                routes[route]()
    for route in routes.values():  # outside the checks, every route works again
        route()
    gan = build_gan(recipes.get_recipe("cgan"), "cpu")
    real, labels = torch.rand(4, 1, 28, 28) * 2 - 1, torch.arange(4)
    with taught.checking("05_conditional", "conditional_discriminator_step"):  # the course's whole step
        with pytest.raises(taught.OwnCodeRequired, match="Write conditional_discriminator_step yourself"):
            steps.train_step(gan, real, labels)
    steps.train_step(gan, real, labels)


def test_a_class_is_refused_when_built_or_subclassed_and_works_again_afterwards():
    class Mine(models.ConditionalGenerator):
        pass

    with taught.checking("05_conditional", "ConditionalGenerator"):
        for cls in (models.ConditionalGenerator, Mine):
            with pytest.raises(taught.OwnCodeRequired, match="Write ConditionalGenerator yourself"):
                cls()
    assert isinstance(Mine(), models.ConditionalGenerator)
    assert metrics.conditional_accuracy is taught.ANSWERS[("05_conditional", "conditional_accuracy")]


def test_the_judge_gets_the_answers_it_gives_without_their_lock():
    loss = taught.course_answer("discriminator_loss")
    assert loss is not steps.discriminator_loss and loss.__code__ is steps.discriminator_loss.__code__
    with taught.checking("02_mlp_gan", "discriminator_loss"):
        assert loss(torch.tensor([[0.5]]), torch.tensor([[0.5]])).item() == pytest.approx(1.3863, abs=1e-4)
    with pytest.raises(KeyError, match="no course function answers the exercise 'slerp'"):
        taught.course_answer("slerp")


def test_no_module_of_the_students_package_imports_the_grader_or_nbgrader():
    for path in sorted((REPO_ROOT / "helpers").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] not in ("gan_grader", "nbgrader"), f"{path.name} imports {name}"


def test_a_students_install_holds_the_helpers_package_and_no_grading_code(tmp_path):
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info beside the sources
    source.mkdir()
    shutil.copy(REPO_ROOT / "pyproject.toml", source)
    shutil.copytree(REPO_ROOT / "helpers", source / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
                    str(source)], check=True, capture_output=True, cwd=tmp_path)
    wheel, = tmp_path.glob("gan_course_helpers-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("/METADATA"))).decode()
    packages = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert packages == {"helpers"}, packages
    assert "helpers/checks/evaluate.py" in names and not any("gan_grader" in n or "exercises/" in n for n in names)
    required = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert required and not any("nbgrader" in line for line in required), required
