"""A class graded in shards and merged equals the class graded in one run with ``--jobs 2``, byte
for byte apart from timings; ``merge`` refuses shards that do not make one whole batch.

The batch is small on purpose, as each kernel costs seconds: session 1 only, two blank notebooks
(the quickest that need a kernel). It is graded three times: whole, two submissions at once
(``--jobs 2``), and as shards 1/2 and 2/2, one at a time. ``bob`` and ``absent`` fall in shard 1,
``blank`` and ``corrupt`` in shard 2 (CRC-32 of the folder name, modulo 2). So the test proves
both that shards merge into the whole and that grading in parallel changes nothing. That correct
work is scored the same either way is the business of every other grading test: a shard is an
ordinary run over fewer students, and ``--jobs`` runs the same function in other processes.
"""

import csv
import json
import re
import shutil

import pytest

from gan_grader import shards
from grading_cases import STUDENTS, run_grade, write_submission

NAME = "01_data"
TIMINGS = {"seconds", "timestamp"}  # the only columns that may differ


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    subs = root / "submissions"
    for student in ("bob", "blank"):
        write_submission(subs, student, NAME, json.loads(STUDENTS[NAME].read_text()))
    (subs / "absent").mkdir()
    (subs / "corrupt").mkdir()
    (subs / "corrupt" / f"{NAME}.ipynb").write_text('{"cells": [')
    runs = {}
    for label, extra in (("whole", ["--jobs", "2"]), ("shard-1", ["--shard", "1/2"]), ("shard-2", ["--shard", "2/2"])):
        rows, process = run_grade(subs, root / label / f"{label}.csv", 300, extra=["--notebook", NAME, *extra])
        assert process.returncode == 0, process.stdout + process.stderr
        runs[label] = rows
    return root, runs


def table(path):
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k not in TIMINGS} for row in csv.DictReader(handle)]


def without_timings(text):
    """``text`` with times, and in traceback paths the kernel's process id (``ipykernel_2291``) and its try's
    temporary folder (``gan-grading-student0002-uwp9da2h``), masked."""
    text = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?", "<time>", text)
    text = re.sub(r"gan-grading-(student\d+)-[A-Za-z0-9_]+", r"gan-grading-\1-<try>", text)
    return re.sub(r"ipykernel_\d+", "ipykernel_<pid>", text)


def test_each_shard_grades_its_own_slice(graded):
    _, runs = graded
    assert {s for s, _ in runs["shard-1"]} == {"bob", "absent"}
    assert {s for s, _ in runs["shard-2"]} == {"blank", "corrupt"}
    assert set(runs["whole"]) == set(runs["shard-1"]) | set(runs["shard-2"])


def test_merged_shards_equal_the_whole_run_apart_from_timings(graded, capsys):
    from gan_grader.__main__ import main

    root, _ = graded
    merged = root / "merged" / "whole.csv"
    assert main(["merge", "--out", str(merged), str(root / "shard-2" / "shard-2.csv"),
                 str(root / "shard-1" / "shard-1.csv")]) == 0
    assert "4 rows from 2 shards" in capsys.readouterr().out
    whole = root / "whole" / "whole.csv"
    assert table(merged) == table(whole)
    assert [line.split(",")[:2] for line in merged.read_text().splitlines()] == \
        [line.split(",")[:2] for line in whole.read_text().splitlines()]  # the same rows in the same order
    assert table(merged.with_name("whole-nbgrader.csv")) == table(whole.with_name("whole-nbgrader.csv"))
    assert table(shards.cells_csv(merged)) == table(shards.cells_csv(whole)) and table(shards.cells_csv(whole))
    feedback, reference = merged.with_name("whole-feedback"), whole.with_name("whole-feedback")
    files = sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(feedback) for p in feedback.rglob("*") if p.is_file())
    for relative in files:
        if relative.suffix == ".html":
            assert without_timings((feedback / relative).read_text()) == \
                without_timings((reference / relative).read_text()), relative


def test_merge_refuses_a_missing_a_doubled_or_a_foreign_shard(graded, tmp_path):
    root, _ = graded
    one, two = root / "shard-1" / "shard-1.csv", root / "shard-2" / "shard-2.csv"
    with pytest.raises(shards.ShardError, match=r"missing \['2/2'\], twice none"):
        shards.merge([one], tmp_path / "a.csv")
    with pytest.raises(shards.ShardError, match=r"missing \['2/2'\], twice \['1/2'\]"):
        shards.merge([one, one], tmp_path / "b.csv")
    with pytest.raises(shards.ShardError, match="was not graded with --shard"):
        shards.merge([one, root / "whole" / "whole.csv"], tmp_path / "c.csv")
    foreign = json.loads(shards.outputs(two)[3].read_text())
    foreign["students"] = ["someone", "else"]
    other = tmp_path / "other.csv"
    other.write_text(two.read_text())
    shards.outputs(other)[3].write_text(json.dumps(foreign))
    with pytest.raises(shards.ShardError, match="is a shard of another batch"):
        shards.merge([one, other], tmp_path / "d.csv")
    assert not list(tmp_path.glob("[abcd].csv"))  # nothing was written


def copies(root, tmp_path):
    """Copies of the two shards' outputs under ``tmp_path``; return their CSV paths."""
    for label in ("shard-1", "shard-2"):
        shutil.copytree(root / label, tmp_path / label)
    return tmp_path / "shard-1" / "shard-1.csv", tmp_path / "shard-2" / "shard-2.csv"


def merge_command(capsys, *args):
    """``python -m gan_grader merge`` in this process: (exit code, what it printed on stderr)."""
    from gan_grader.__main__ import main

    code = main(["merge", *map(str, args)])
    return code, capsys.readouterr().err


def test_merge_refuses_a_damaged_shard_in_one_line_and_writes_nothing(graded, tmp_path, capsys):
    root, _ = graded
    one, two = copies(root, tmp_path)
    good = two.read_text()
    out = tmp_path / "merged" / "grades.csv"
    damages = {
        "cut to its header": (good.splitlines(keepends=True)[0], "lacks 2 of its shard's rows"),
        "cut mid-row": (good[:good.rindex(",")], "has 8 fields, expected 9"),
        "saved by a spreadsheet in its own format": (None, "is not a CSV text file"),
    }
    for what, (text, message) in damages.items():
        if text is None:
            two.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb9\xc4")  # an .xlsx starts so
        else:
            two.write_text(text)
        code, err = merge_command(capsys, "--out", out, one, two)
        assert code == 2 and message in err and "Traceback" not in err, (what, err)
        assert len(err.strip().splitlines()) == 1, (what, err)
    two.write_text(good)
    plan = shards.outputs(two)[3]
    saved_plan = plan.read_text()
    plan.write_text(saved_plan[:20])
    code, err = merge_command(capsys, "--out", out, one, two)
    assert code == 2 and f"the plan {plan} is damaged" in err and "grade that shard again" in err, err
    plan.write_text(saved_plan)
    code, err = merge_command(capsys, "--out", one, one, two)  # --out names a shard: refused, the shard kept
    assert code == 2 and "would overwrite a shard's own file" in err, err
    assert not out.parent.exists() and one.read_bytes() == (root / "shard-1" / "shard-1.csv").read_bytes()


def test_merge_reads_a_spreadsheets_byte_order_mark_and_can_be_run_again(graded, tmp_path, capsys):
    root, _ = graded
    one, two = copies(root, tmp_path)
    two.write_bytes(b"\xef\xbb\xbf" + two.read_bytes())  # Excel's "CSV UTF-8" starts with a byte-order mark
    out = tmp_path / "merged" / "grades.csv"
    for _ in range(2):  # a second merge replaces the first one's outputs
        code, err = merge_command(capsys, "--out", out, one, two)
        assert code == 0, err
        assert table(out) == table(root / "whole" / "whole.csv")
    feedback = sorted(p.relative_to(out.parent) for p in out.parent.rglob("*") if p.is_file())
    assert feedback and all(str(p).startswith(("grades.csv", "grades-cells.csv", "grades-nbgrader.csv", "grades-feedback"))
                            for p in feedback)


def test_a_shard_is_named_k_of_n_and_is_stable():
    assert shards.parse("2/4") == shards.Shard(2, 4) and str(shards.parse("1/1")) == "1/1"
    for bad in ("0/2", "3/2", "2", "a/b", "-1/2"):
        with pytest.raises(ValueError, match="expected K/N with 1 <= K <= N"):
            shards.parse(bad)
    students = [f"student-{i}" for i in range(40)]
    slices = [[s for s in students if shards.Shard(k, 4).holds(s)] for k in range(1, 5)]
    assert sorted(sum(slices, [])) == sorted(students) and all(slices)  # every student in exactly one
    assert shards.Shard(2, 2).holds("blank") and shards.Shard(1, 2).holds("bob")  # CRC-32: the same everywhere


def test_feedback_prints_a_cells_output_in_one_piece_however_the_kernel_chunked_it():
    """Under load a kernel may send ``images: (2000, 28, 28)`` as two messages; the feedback must not
    depend on that, or a class graded in parallel would read differently from one graded alone."""
    import nbformat

    from gan_grader.grading import for_feedback

    cell = nbformat.v4.new_code_cell("print('images:', x.shape)", metadata={"nbgrader": {"grade_id": "test_a"}})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="images:"),
                    nbformat.v4.new_output("stream", name="stdout", text=" (2000, 28, 28)\n"),
                    nbformat.v4.new_output("stream", name="stderr", text="a warning\n")]
    notebook = nbformat.writes(nbformat.v4.new_notebook(cells=[cell]))
    shown = nbformat.reads(for_feedback(notebook, {"test_a": "the judge: D's loss is wrong"}), as_version=4)
    assert [(o.name, o.text) for o in shown.cells[0].outputs] == [
        ("stdout", "images: (2000, 28, 28)\n"), ("stderr", "a warning\n"),
        ("stdout", "\nthe judge: D's loss is wrong\n")]
    assert for_feedback(None, {}) is None
