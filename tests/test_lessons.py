"""benchmarks/lessons.py, the lesson ledger: in smoke mode it reports every session's lesson, each seed's
numbers and the verdict, consistently. It asserts no lesson: a smoke run trains for seconds, and whether a
lesson lands is what the ledger itself measures (benchmarks/README.md quotes the laptop runs)."""

import json
import subprocess
import sys
from pathlib import Path

from commandlines import benchmark, refused_by_argparse

ROOT = Path(__file__).resolve().parents[1]


def test_the_ledger_reports_every_session_in_smoke_mode(tmp_path):
    out = tmp_path / "ledger.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "lessons.py"), "--budget", "smoke", "--seeds", "1",
                          "--workers", "1", "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    ledger = json.loads(out.read_text())
    assert ledger["budget"] == "smoke" and ledger["seeds"] == 1
    lessons = benchmark("lessons")
    assert list(ledger["sessions"]) == list(lessons.SESSIONS)
    for session, entry in ledger["sessions"].items():
        assert entry["criterion"] == lessons.CRITERIA[session]
        [run_] = entry["runs"]
        assert run_["seed"] == 0 and isinstance(run_["holds"], bool)
        assert entry["held"] == int(run_["holds"])
        verdict = "LANDS" if run_["holds"] else "DOES NOT LAND"
        assert f"session {session}: {entry['criterion']}\n" in run.stdout
        assert f"  held in {entry['held']} of 1 seeds: {verdict}" in run.stdout
    sixth = ledger["sessions"]["06"]["runs"][0]
    assert set(sixth) >= {"bce_modes", "lsgan_modes", "hinge_modes", "wgan-gp_modes", "bce-sn_modes", "grad_minimax"}
    landed = sum(entry["held"] >= 1 for entry in ledger["sessions"].values())
    assert run.stdout.rstrip().endswith(f"{landed} of 5 lessons land")


def test_the_ledger_refuses_an_unwritable_report_before_training(tmp_path, capsys):
    message = refused_by_argparse(benchmark("lessons").main, ["--json", str(tmp_path)], capsys)
    assert f"expected a file to write, but {tmp_path} is a folder" in message
    message = refused_by_argparse(benchmark("lessons").main, ["--json", str(tmp_path / "no" / "x.json")], capsys)
    assert "its folder" in message and "does not exist" in message
