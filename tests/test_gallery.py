"""The gallery (``python -m helpers.gallery``): it runs, and every figure a notebook shows is the real one."""

import json
import re
import subprocess
import sys
from pathlib import Path

from helpers import gallery

ROOT = Path(__file__).resolve().parents[1]
FIGURES = sorted(re.findall(r"``(\d\d_\w+\.png)``", gallery.__doc__))
STATIC = {"gan_diagram.png", "mnist_grid.png"}  # python -m helpers.static_figures


def notebook_figures(notebook):
    """The fig/ files that a notebook's text shows."""
    cells = json.loads(notebook.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return re.findall(r"\(\.\./fig/([\w.]+\.png)\)", text)


def test_the_gallery_runs_in_the_smoke_budget(tmp_path):
    out = tmp_path / "fig"
    run = subprocess.run([sys.executable, "-m", "helpers.gallery", "--budget", "smoke", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((out / "gallery.json").read_text())
    assert sorted(record["figures"]) == FIGURES == sorted(p.name for p in out.glob("*.png"))
    assert record["budget"] == "smoke" and record["command"] == "python -m helpers.gallery --budget smoke"
    for name in FIGURES:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_the_committed_gallery_is_the_laptop_budget_and_names_its_commit():
    record = json.loads((ROOT / "fig" / "gallery.json").read_text())
    assert record["budget"] == "laptop" and record["command"] == "python -m helpers.gallery --budget laptop"
    assert sorted(record["figures"]) == FIGURES
    assert re.fullmatch(r"[0-9a-f]{7,}", record["commit"]), "make the figures from a committed tree"
    for name in FIGURES:
        assert (ROOT / "fig" / name).exists(), name


def test_every_figure_a_notebook_shows_exists_and_says_where_it_came_from():
    record = json.loads((ROOT / "fig" / "gallery.json").read_text())
    shown = set()
    for folder in ("solutions", "notebooks"):
        for notebook in sorted((ROOT / folder).glob("0*.ipynb")):
            for name in notebook_figures(notebook):
                assert (ROOT / "fig" / name).exists(), f"{notebook}: shows fig/{name}, which is not there"
                shown.add(name)
            if any(name in record["figures"] for name in notebook_figures(notebook)):
                text = notebook.read_text()
                assert record["commit"] in text and "python -m helpers.gallery" in text, \
                    f"{notebook}: a gallery figure's caption must name the command and commit {record['commit']}"
    assert set(FIGURES) <= shown, f"figures no notebook shows: {sorted(set(FIGURES) - shown)}"
    assert STATIC <= shown, f"static figures no notebook shows: {sorted(STATIC - shown)}"
