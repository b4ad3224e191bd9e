"""The repository itself: CI files are valid and call what the README says."""

import re
import subprocess
import sys

import pytest

from helpers.runtime import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))


def lint_workflow(path):
    """Validate a workflow file against GitHub's schema (check-jsonschema, vendored)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True, text=True,
    )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid(path):
    result = lint_workflow(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linter_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    steps: []\n")  # no runs-on
    assert lint_workflow(broken).returncode != 0


def test_there_is_a_cpu_and_a_gpu_workflow():
    texts = {p.name: p.read_text() for p in WORKFLOWS}
    assert "push" in texts["cpu.yml"] and "pull_request" in texts["cpu.yml"]
    assert "cache: pip" in texts["cpu.yml"]
    gpu = texts["gpu.yml"]
    assert "workflow_dispatch" in gpu and "schedule" in gpu and "gpu" in gpu
    assert "GAN_COURSE_FAST=0" in gpu


def readme_commands():
    """The set-up commands from the README's 'Set up' block."""
    text = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"<!-- setup-commands -->\s*```bash\n(.*?)```", text, re.S)
    assert block, "README.md must keep its set-up commands in a ```bash block after <!-- setup-commands -->"
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_ci_runs_the_readme_commands():
    commands = readme_commands()
    assert commands == ["pip install -r requirements.txt", "pytest"]
    ci_lines = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()]
    for command in commands:
        assert command in ci_lines, f".ci/run must run the README command {command!r}"


def test_requirements_install_the_helpers_package_with_every_tool_and_pin_nothing_exactly():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    lines = [line.split("#")[0].strip() for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()]
    assert [line for line in lines if line] == ["-e .[course]", "-e ./instructor"], \
        "requirements.txt installs the package with its course extra, and the grader"
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    grader = tomllib.loads((REPO_ROOT / "instructor" / "pyproject.toml").read_text())["project"]["dependencies"]
    student, course = project["dependencies"], project["optional-dependencies"]["course"]
    assert not [d for d in student + course + grader if "==" in d], "use lower bounds, not exact pins"
    for name in ("torch", "torchvision", "matplotlib", "tqdm", "tensorboard", "ipywidgets"):
        assert any(re.match(rf"{name}\b", d) for d in student), f"{name} missing from the student dependencies"
    for name, extra in (("jupyterlab", course), ("nbval", course), ("pytest", course), ("nbgrader", grader)):
        assert any(re.match(rf"{name}\b", d) for d in extra), f"{name} missing from the course extra or the grader"
        assert not any(re.match(rf"{name}\b", d) for d in student), f"a student does not need {name}"


def test_importing_helpers_keeps_the_notebooks_plot_backend():
    """A helper that switched matplotlib to Agg on import would silently hide every plot in a notebook."""
    code = ("import matplotlib, pkgutil, importlib, helpers\n"
            "before = matplotlib.get_backend()\n"
            "for m in pkgutil.walk_packages(helpers.__path__, 'helpers.'):\n"
            "    if not m.name.endswith('__main__'):\n"
            "        importlib.import_module(m.name)\n"
            "assert matplotlib.get_backend() == before, (before, matplotlib.get_backend())\n")
    env = {**__import__("os").environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
