"""The gallery (``python -m helpers.gallery``): it runs, and every figure a notebook shows is the real one."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

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
    for name, figure in record["figures"].items():
        assert figure["budget"] == "smoke" and figure["command"] == "python -m helpers.gallery --budget smoke"
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    # one session again (in this process: no second start of Python and torch): its entries are replaced,
    # the others kept as they were
    gallery.make_gallery("smoke", out, "cpu", sessions=("04",))
    after = json.loads((out / "gallery.json").read_text())["figures"]
    assert after["04_ring.png"]["command"] == "python -m helpers.gallery --budget smoke --sessions 04"
    assert {k: v for k, v in after.items() if not k.startswith("04")} == \
        {k: v for k, v in record["figures"].items() if not k.startswith("04")}


def test_the_committed_gallery_is_the_laptop_budget_and_names_its_commit():
    record = json.loads((ROOT / "fig" / "gallery.json").read_text())
    assert sorted(record["figures"]) == FIGURES
    for name, figure in record["figures"].items():
        assert figure["budget"] == "laptop" and figure["command"].startswith("python -m helpers.gallery --budget laptop")
        assert re.fullmatch(r"[0-9a-f]{7,}", figure["commit"]), f"{name}: make the figures from a committed tree"
        assert (ROOT / "fig" / name).exists(), name


def test_every_figure_a_notebook_shows_exists_and_says_where_it_came_from():
    record = json.loads((ROOT / "fig" / "gallery.json").read_text())
    shown = set()
    for folder in ("solutions", "notebooks"):
        for notebook in sorted((ROOT / folder).glob("0*.ipynb")):
            for name in notebook_figures(notebook):
                assert (ROOT / "fig" / name).exists(), f"{notebook}: shows fig/{name}, which is not there"
                shown.add(name)
            sources = "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"])
            for name in set(notebook_figures(notebook)) & set(record["figures"]):
                assert gallery.caption(record, name) in sources, \
                    f"{notebook}: under fig/{name}, write the caption of fig/gallery.json: {gallery.caption(record, name)}"
    assert set(FIGURES) <= shown, f"figures no notebook shows: {sorted(set(FIGURES) - shown)}"
    assert STATIC <= shown, f"static figures no notebook shows: {sorted(STATIC - shown)}"


def test_an_output_that_is_a_file_is_refused_before_training_and_a_stop_leaves_figures_and_record_agreeing(
        tmp_path, monkeypatch, capsys):
    afile = tmp_path / "fig.png"
    afile.write_text("mine")
    with pytest.raises(SystemExit):
        gallery.main(["--budget", "smoke", "--out", str(afile), "--sessions", "04"])
    assert f"expected a folder to write into, but {afile} is a file" in capsys.readouterr().err
    assert afile.read_text() == "mine"

    def stopped(budget, device, out, measure):  # Ctrl-C in the middle of session 5: one figure made, not the rest
        (out / "05_rows.png").write_bytes(b"half made")
        raise KeyboardInterrupt

    monkeypatch.setattr(gallery, "session_5", stopped)
    out = tmp_path / "fig"
    with pytest.raises(KeyboardInterrupt):
        gallery.make_gallery("smoke", out, "cpu", sessions=("04", "05"))
    record = json.loads((out / "gallery.json").read_text())["figures"]
    assert sorted(record) == sorted(p.name for p in out.glob("*.png")) and all(n.startswith("04") for n in record)
