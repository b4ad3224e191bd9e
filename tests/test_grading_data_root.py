"""A fresh data root, holding only the ``.gz`` files (as ``tests/offline_data.py`` lays it out, or as an
instructor copies it from a USB stick), costs no student a point: the grade command unpacks it for
torchvision before any kernel starts, because every kernel sees the root read-only."""

import shutil

import pytest

from gan_grader import sandbox
from grading_cases import (SOURCES, STUDENTS, completed_submission, run_grade, without_trailing_ungraded_cells,
                           write_submission)
from helpers import data


def gz_only_copy(destination):
    """The current data root's ``.gz`` files alone, laid out as torchvision lays them out."""
    for name in data.DATASETS:
        source = data.raw_folder(name)
        target = destination / source.relative_to(data.data_root())
        target.mkdir(parents=True)
        for gz in source.glob("*.gz"):
            shutil.copy(gz, target / gz.name)
    return destination


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "no-sandbox"])
def test_a_root_of_gz_files_only_is_unpacked_before_grading_and_the_loader_keeps_its_points(
        sandboxed, tmp_path, monkeypatch):
    if sandboxed and not sandbox.available()[0]:
        pytest.skip(f"no sandbox here: {sandbox.available()[1]}")
    root = gz_only_copy(tmp_path / "fresh-data")
    assert not list(root.rglob("*-ubyte")), "the copy holds .gz files only"
    monkeypatch.setenv("GAN_COURSE_DATA", str(root))
    nb = without_trailing_ungraded_cells(completed_submission(STUDENTS["01_data"], SOURCES["01_data"]))
    write_submission(tmp_path / "subs", "ada", "01_data", nb)
    rows, process = run_grade(tmp_path / "subs", tmp_path / "grades.csv", 300,
                              extra=() if sandboxed else ("--no-sandbox",))
    assert process.returncode == 0, process.stdout + process.stderr
    row = rows[("ada", "01_data")]
    assert row["status"] == "graded" and float(row["score"]) == float(row["max_score"]), row
    assert "data file(s) in" in process.stdout and "for torchvision before grading" in process.stdout
    assert (root / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()


def test_unpacking_writes_only_what_is_missing(tmp_path):
    root = gz_only_copy(tmp_path / "data")
    written = data.unpack_for_torchvision(root)
    assert sorted(p.name for p in written) == sorted(
        base for info in data.DATASETS.values() for split in info.files.values() for base, _ in split
        if (root / info.folder / "raw" / f"{base}.gz").exists())
    assert data.unpack_for_torchvision(root) == []  # a second call finds nothing left to do


def test_a_root_the_grader_cannot_unpack_stops_grading_before_any_kernel(monkeypatch):
    from gan_grader import grading

    def refuse():
        raise data.DataFileError("cannot unpack /x/MNIST/raw/t10k-images-idx3-ubyte.gz into /x/MNIST/raw for "
                                 "torchvision (read-only); point GAN_COURSE_DATA at a writable copy of the data")

    monkeypatch.setattr(grading, "unpack_for_torchvision", refuse)
    with pytest.raises(grading.GradingError, match="the data root is not ready for grading: cannot unpack .* "
                                                   "point GAN_COURSE_DATA at a writable copy"):
        grading._prepare_data_root()
