"""The grading round trip, through the real `python -m gan_grader grade` command.

One batch holds these cases (the mistakes are graded in test_grading_mutants.py):

- ``solution``: each solution notebook handed in (up to its last graded cell) -> full marks;
- ``blank``: each student notebook handed in unmodified -> 0 on every graded cell;
- ``corrupt``: broken JSON -> status ``unreadable``;
- ``absent``: nothing handed in -> status ``missing``;
- odd folder names, a stripped graded cell, an older Jupyter's notebook, a near-miss file name;
- notebooks that are links (symbolic, inside the folder or out, a linked folder, hard links) -> ``linked``.

Cells that never end, kill their kernel or cross a limit, and hostile submissions, are
graded in ``test_grading_isolation.py``.
"""

import csv
import html
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from grading_cases import (MUTANTS, SOURCES, STUDENTS, completed_submission, exercise_test_ids,
                           graded_points, points_of, run_grade, without_trailing_ungraded_cells, write_submission)
from gan_grader import manual
from gan_grader.shards import csv_text
from helpers.runtime import REPO_ROOT

TIMEOUT = 300  # seconds per cell for correct work: fast-mode cells take a few, a busy machine must not matter
FIRST = sorted(SOURCES)[0]
ODD = ".x[1]*"  # a student folder named with a dot and glob characters


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade one batch of every case; return (rows keyed by (student, notebook), process, workdir)."""
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submissions"
    for name, source in SOURCES.items():
        # graded up to its last graded cell: running every solution whole is nbval's and the browser test's job
        write_submission(subs, "solution", name, without_trailing_ungraded_cells(json.loads(source.read_text())))
        write_submission(subs, "blank", name, json.loads(STUDENTS[name].read_text()))
    (subs / "absent").mkdir()  # handed nothing in
    complete = completed_submission(STUDENTS[FIRST], SOURCES[FIRST])
    stripped = json.loads(json.dumps(complete))
    first_test = next(iter(exercise_test_ids(SOURCES[FIRST]).values()))
    for cell in stripped["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == first_test:
            del cell["metadata"]["nbgrader"]
    write_submission(subs, "stripped", FIRST, stripped)
    old = json.loads(json.dumps(complete))  # as an older Jupyter saves it: nbformat 4.4, no cell ids
    old["nbformat_minor"] = 4
    for cell in old["cells"]:
        cell.pop("id", None)
    # an odd folder name is graded like anyone else: a dot folder with glob characters, which hands in an
    # older Jupyter's notebook under a browser's download name (one kernel for all four)
    (subs / ODD).mkdir()
    (subs / ODD / f"{FIRST} (1).ipynb").write_text(json.dumps(old))
    write_links(subs, subs / "solution")
    (subs / "corrupt").mkdir()
    (subs / "corrupt" / f"{FIRST}.ipynb").write_text('{"cells": [{"cell_type": "code", "source": ')
    workdir = root / "course"
    rows, process = run_grade(subs, root / "grades.csv", TIMEOUT, workdir)
    return rows, process, workdir


def write_links(subs, classmate):
    """Submissions that are links, not files (``classmate``: a folder that one student's folder links to); each
    is refused as ``linked`` (none is read, none runs)."""
    (subs / "symlinked").mkdir()
    (subs / "symlinked" / f"{FIRST}.ipynb").symlink_to(SOURCES[FIRST])  # to the course's own solution
    (subs / "inner-link").mkdir()
    (subs / "inner-link" / "mine.ipynb").write_text(SOURCES[FIRST].read_text())
    (subs / "inner-link" / f"{FIRST}.ipynb").symlink_to("mine.ipynb")  # a link inside the student's folder
    (subs / "linked-folder").symlink_to(classmate, target_is_directory=True)
    for student in ("hard-a", "hard-b"):
        (subs / student).mkdir()
    (subs / "hard-a" / f"{FIRST}.ipynb").write_text(SOURCES[FIRST].read_text())
    os.link(subs / "hard-a" / f"{FIRST}.ipynb", subs / "hard-b" / f"{FIRST}.ipynb")  # one file, two students


LINKED = [("symlinked", f"symbolic link (to {SOURCES[FIRST]})"), ("inner-link", "symbolic link (to mine.ipynb)"),
          ("linked-folder", "the student folder is a symbolic link"), ("hard-a", "hard link (2 names"),
          ("hard-b", "hard link (2 names")]


def row(graded, student, name):
    rows, process, _ = graded
    assert (student, name) in rows, f"no CSV row for {student}/{name}\n{process.stdout}\n{process.stderr}"
    return rows[(student, name)]


def test_the_batch_completes_with_exit_code_0(graded):
    rows, process, _ = graded
    assert process.returncode == 0, process.stdout + process.stderr
    assert "student" in process.stdout and "solution" in process.stdout  # the printed table


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_solution_gets_full_marks(graded, name):
    r = row(graded, "solution", name)
    assert r["status"] == "graded"
    assert float(r["score"]) == float(r["max_score"]) == sum(graded_points(SOURCES[name]).values())


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_unmodified_student_notebook_gets_zero_on_every_graded_cell(graded, name):
    r = row(graded, "blank", name)
    assert r["status"] == "graded" and float(r["score"]) == 0.0
    from nbgrader.api import Gradebook

    _, _, workdir = graded
    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}", course_id="gan-course") as gradebook:
        student = next(s.id for s in gradebook.students if s.last_name == "blank")
        nb = gradebook.find_submission_notebook(name, name, student)
        assert nb.grades and all(g.score == 0 for g in nb.grades)


def test_corrupt_submission_is_reported_as_unreadable(graded):
    r = row(graded, "corrupt", FIRST)
    assert r["status"] == "unreadable" and float(r["score"]) == 0 and "JSON" in r["detail"]


def test_missing_notebooks_are_reported(graded):
    r = row(graded, "absent", FIRST)
    assert r["status"] == "missing" and float(r["score"]) == 0


def test_feedback_html_is_left_for_the_instructor(graded):
    _, process, workdir = graded
    feedback = workdir.parent / "grades-feedback" / "solution" / f"{FIRST}.html"
    assert feedback.is_file() and "html" in feedback.read_text()[:200].lower()


def test_each_graded_cells_points_and_why_it_lost_them_are_left_beside_the_csv(graded):
    _, _, workdir = graded
    cells = list(csv.DictReader(open(workdir.parent / "grades-cells.csv", newline="")))
    for name in SOURCES:
        points = graded_points(SOURCES[name])
        solution = [c for c in cells if c["student"] == "solution" and c["notebook"] == name]
        blank = [c for c in cells if c["student"] == "blank" and c["notebook"] == name]
        assert [c["grade_id"] for c in solution] == [c["grade_id"] for c in blank] == list(points), name
        assert all(float(c["points"]) == float(c["max_points"]) == points[c["grade_id"]] and not c["message"]
                   for c in solution), solution
        assert all(float(c["points"]) == 0 and c["message"] for c in blank), blank
    assert not [c for c in cells if c["student"] in ("absent", "corrupt", "symlinked")]  # never ran: no cell rows


def test_the_class_report_shows_each_notebooks_statuses_scores_and_failures(graded, capsys):
    from gan_grader.__main__ import main

    _, _, workdir = graded
    grades = workdir.parent / "grades.csv"
    assert main(["report", str(grades)]) == 0, capsys.readouterr().err
    page = grades.with_name("grades-report.html").read_text()
    for name in SOURCES:
        assert f"<h2>{name}</h2>" in page
    assert page.count("data:image/png;base64,") == len(SOURCES)
    assert "<td>linked</td>" in page and "<td>unreadable</td>" in page and "<td>missing</td>" in page
    blank = [c["message"] for c in csv.DictReader(open(grades.with_name("grades-cells.csv"), newline=""))
             if c["student"] == "blank"]
    assert html.escape(blank[0]) in page  # a failure message, counted under its exercise
    table = list(csv.reader(open(grades.with_name("grades-by-exercise.csv"), newline="")))
    header, possible = table[0], dict(zip(table[0], table[1]))
    assert possible["student"] == "points possible"
    for name in SOURCES:
        mine = graded_points(SOURCES[name])
        solution = next(dict(zip(header, r)) for r in table if r[:2] == ["solution", name])
        for gid, points in mine.items():
            assert float(possible[gid]) == float(solution[gid]) == points
        assert all(solution[gid] == "" for gid in header[2:] if gid not in mine)  # other notebooks' cells: empty


def test_the_report_refuses_what_is_not_a_graded_batch_in_one_line(tmp_path, capsys):
    from gan_grader.__main__ import main

    assert main(["report", str(tmp_path / "nope.csv")]) == 2
    assert capsys.readouterr().err.strip() == f"report: {tmp_path / 'nope.csv'} is not a file"
    grades = tmp_path / "grades.csv"
    grades.write_text("student,notebook,score,max_score,status\nann,01_data,1,2,graded\n")
    assert main(["report", str(grades)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'grades-cells.csv'} is not a file (grade writes it beside the grade CSV" in err
    (tmp_path / "grades-cells.csv").write_text("name,score\nann,1\n")
    assert main(["report", str(grades)]) == 2
    assert "is not a table of the grade command: expected the columns student, notebook, grade_id" in \
        capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades-cells.csv", "grades.csv"]  # nothing written


def test_a_marking_packet_per_written_question_and_its_filled_template_enters_the_marks(graded, capsys):
    from gan_grader.__main__ import main

    _, _, workdir = graded
    subs, grades, out = workdir.parent / "submissions", workdir.parent / "grades.csv", workdir.parent / "packet"
    assert main(["packet", str(subs), "--out", str(out), "--seed", "3"]) == 0, capsys.readouterr().err
    questions = [(name, gid) for name in sorted(SOURCES) for gid in manual.manual_cells(SOURCES[name])]
    assert len(questions) == 2 and sorted(p.name for p in out.iterdir()) == \
        sorted([f"{name}-{gid}.html" for name, gid in questions] + ["marks.csv"])
    template = list(csv.DictReader(open(out / "marks.csv", newline="")))
    for letter, (name, gid) in zip("AB", questions):
        page = (out / f"{name}-{gid}.html").read_text()
        source = next(c for c in json.loads(SOURCES[name].read_text())["cells"]
                      if c["metadata"].get("nbgrader", {}).get("grade_id") == gid)
        assert "The question" in page and html.escape("".join(source["source"]))[:200] in page  # the model answer
        mine = [t for t in template if t["grade_id"] == gid]
        assert {t["student"] for t in mine} == {"solution", "blank"}  # the two who handed session 6 in
        assert [t["answer"] for t in mine] == [f"{letter}-001", f"{letter}-002"]
        assert page.index(f"id='{letter}-001'") < page.index(f"id='{letter}-002'")
        assert "id='solution'" not in page and "id='blank'" not in page  # labels, not names
    for t in template:
        t["points"] = "1"
    filled = out / "filled.csv"
    filled.write_text(csv_text(list(template[0]), template))
    assert main(["marks", str(grades), str(filled), "--out", str(workdir.parent / "final.csv")]) == 0
    final = {(r["student"], r["notebook"]): r for r in csv.DictReader(open(workdir.parent / "final.csv"))}
    assert all(final[(t["student"], t["notebook"])]["manual_score"] == "2" for t in template)
    before = (out / "marks.csv").read_text()
    assert main(["packet", str(subs), "--out", str(out)]) == 2  # a second packet never overwrites the first
    assert f"{out} already holds" in capsys.readouterr().err and (out / "marks.csv").read_text() == before


def test_late_work_is_penalised_by_the_rule_after_its_extensions(graded, tmp_path, capsys):
    from gan_grader.__main__ import main

    _, _, workdir = graded
    grades, subs = workdir.parent / "grades.csv", tmp_path / "subs"
    for student in ("solution", "blank"):  # a copy: the batch's own folder stays as graded
        shutil.copytree(workdir.parent / "submissions" / student, subs / student)
    (subs / "solution" / "timestamp.txt").write_text("2026-10-07 12:00:00.000000 UTC")  # as nbgrader's collect
    for notebook in (subs / "blank").glob("*.ipynb"):
        os.utime(notebook, (1791158400, 1791158400))  # 2026-10-05T00:00:00Z, the file's own time
    due = tmp_path / "due.toml"
    due.write_text("[policy]\nper_day = 0.1\ncap = 0.25\ngrace_minutes = 30\n\n[due]\n" + "".join(
        f"{name} = 2026-10-05T12:00:00Z\n" for name in SOURCES))
    extensions = tmp_path / "extensions.csv"
    extensions.write_text(f"student,notebook,due\nsolution,{FIRST},2026-10-07T11:45:00+00:00\n")
    out = tmp_path / "late.csv"
    assert main(["late", str(grades), "--due", str(due), "--submissions", str(subs), "--extensions",
                 str(extensions), "--out", str(out)]) == 0, capsys.readouterr().err
    assert "hand-in time(s) are the notebook file's modification time" in capsys.readouterr().out
    rows = {(r["student"], r["notebook"]): r for r in csv.DictReader(open(out, newline=""))}
    on_time = rows[("solution", FIRST)]  # 15 minutes after its extension: within the grace
    assert (on_time["days_late"], on_time["penalty"], on_time["time_source"]) == ("0", "0", "timestamp.txt")
    assert float(on_time["final"]) == float(on_time["score"])
    two_days = rows[("solution", "02_mlp_gan")]  # 2 days late, 0.1 a day
    assert (two_days["days_late"], two_days["penalty"]) == ("2", "0.2")
    assert float(two_days["final"]) == pytest.approx(0.8 * float(two_days["score"]))
    early = rows[("blank", FIRST)]
    assert (early["days_late"], early["time_source"]) == ("0", "file time")
    assert rows[("absent", FIRST)]["submitted"] == "" and rows[("absent", FIRST)]["penalty"] == ""

    def refused(*argv):
        assert main(["late", str(grades), "--submissions", str(subs), "--out", str(tmp_path / "no.csv"),
                     *argv]) == 2
        return capsys.readouterr().err.strip()

    naive = tmp_path / "naive.toml"
    naive.write_text("[due]\n" + "".join(f"{name} = 2026-10-05T12:00:00\n" for name in SOURCES))
    assert "has no time zone; add one (+01:00, or Z for UTC)" in refused("--due", str(naive))
    short = tmp_path / "short.toml"
    short.write_text(f"[due]\n{FIRST} = 2026-10-05T12:00:00Z\n")
    assert "has no due time for 02_mlp_gan" in refused("--due", str(short))
    stranger = tmp_path / "stranger.csv"
    stranger.write_text(f"student,notebook,due\nzed,{FIRST},2026-10-07T11:45:00Z\n")
    assert f"{stranger}, line 2: no student 'zed' in the grade CSV" in refused("--due", str(due), "--extensions",
                                                                                str(stranger))
    (subs / "solution" / "timestamp.txt").write_text("2999-01-01 00:00:00.000000 UTC")
    assert "which is in the future" in refused("--due", str(due))
    assert not (tmp_path / "no.csv").exists()


def test_marks_go_out_as_canvas_and_moodle_import_them_with_a_roster(graded, tmp_path, capsys):
    from gan_grader.__main__ import main

    rows, _, workdir = graded
    grades = workdir.parent / "grades.csv"
    handed_in = sorted({student for (student, _), r in rows.items() if r["status"] != "missing"})
    people = [*handed_in, "absent", "zoe"]  # absent: a folder with nothing in it; zoe: no folder at all
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name,id,sis_user_id,sis_login_id,section,email,first_name,last_name,id_number\n" +
                      "".join(f"{p},\"{p}, A\",{100 + k},S{k},{p}@uni,Sec 1,{k}@uni.edu,A,{p},N{k}\n"
                              for k, p in enumerate(people)))
    out = tmp_path / "canvas.csv"
    assert main(["export", str(grades), "--roster", str(roster), "--format", "canvas", "--out", str(out)]) == 0
    table = list(csv.reader(open(out, newline="")))
    names = sorted(SOURCES)
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *names]
    worth = {name: r["max_score"] for (_, name), r in rows.items()}
    assert table[1][0] == "    Points Possible" and [float(x) for x in table[1][5:]] == \
        [float(worth[n]) + sum(manual.manual_cells(SOURCES[n]).values()) for n in names]
    by_name = {line[0]: dict(zip(table[0], line)) for line in table[2:]}
    assert len(by_name) == len(people)
    solution = by_name["solution, A"]
    assert [float(solution[n]) for n in names] == [float(rows[("solution", n)]["score"]) for n in names]
    assert all(by_name[f"{p}, A"][n] == "" for p in ("absent", "zoe") for n in names)  # empty, never 0
    assert by_name["blank, A"][FIRST] == "0" and by_name["corrupt, A"]["02_mlp_gan"] == ""

    late = tmp_path / "late.csv"  # a late penalty (``final``) and hand marks (``total``) are what is exported
    lines = list(csv.DictReader(open(grades, newline="")))
    for line in lines:
        line["total"], line["final"] = line["score"], ("1.5" if line["student"] == "solution" else line["score"])
    late.write_text(csv_text(list(lines[0]), lines))
    moodle = tmp_path / "moodle.csv"
    assert main(["export", str(late), "--roster", str(roster), "--format", "moodle", "--out", str(moodle),
                 "--missing-as-zero"]) == 0
    table = list(csv.reader(open(moodle, newline="")))
    assert table[0] == ["First name", "Last name", "ID number", "Email address", *names]
    by_name = {line[1]: dict(zip(table[0], line)) for line in table[1:]}
    assert all(by_name["solution"][n] == "1.5" for n in names) and by_name["zoe"][FIRST] == "0"
    capsys.readouterr()

    short = tmp_path / "short.csv"
    short.write_text("student,email\n" + "".join(f"{p},{p}@uni\n" for p in people if p not in ("blank", "corrupt")))
    assert main(["export", str(grades), "--roster", str(short), "--format", "moodle", "--out",
                 str(tmp_path / "no.csv")]) == 2
    assert "not on the roster" in (err := capsys.readouterr().err) and "blank, corrupt;" in err
    no_ids = tmp_path / "no_ids.csv"
    no_ids.write_text("student,email\nsolution,\n")
    assert main(["export", str(grades), "--roster", str(no_ids), "--format", "moodle", "--out",
                 str(tmp_path / "no.csv")]) == 2
    assert f"{no_ids}, line 2: solution has no email, which moodle matches on" in capsys.readouterr().err
    assert main(["export", str(grades), "--roster", str(short), "--format", "canvas", "--out",
                 str(tmp_path / "no.csv")]) == 2
    assert "a canvas roster needs the column student and id or sis_user_id or sis_login_id" in \
        capsys.readouterr().err
    assert not (tmp_path / "no.csv").exists()


def test_the_similarity_check_flags_identical_answers_and_never_the_template(graded, tmp_path, capsys):
    from gan_grader.__main__ import main

    _, _, workdir = graded
    subs, out = workdir.parent / "submissions", tmp_path / "similar"
    assert main(["similarity", str(subs), "--out", str(out), "--notebook", FIRST]) == 0, capsys.readouterr().err
    pairs = list(csv.DictReader(open(out / "similar.csv", newline="")))
    flagged = {frozenset((p["student_a"], p["student_b"])) for p in pairs}
    # the odd folder and stripped hand in the solution's own answers, as solution does: all three are alike
    assert {frozenset(("solution", ODD)), frozenset(("solution", "stripped"))} <= flagged, pairs
    assert not [p for p in pairs if "blank" in (p["student_a"], p["student_b"])]  # the template never counts
    assert all(p["notebook"] == FIRST and max(float(p["a_in_b"]), float(p["b_in_a"])) >= 0.9 for p in pairs)
    assert (out / f"{FIRST}.html").is_file() and "flags only: no score was changed" in capsys.readouterr().out
    assert main(["similarity", str(subs), "--out", str(out)]) == 2  # a second run never overwrites the first
    assert f"{out} already holds similar.csv" in capsys.readouterr().err


def test_nbgraders_own_export_is_left_beside_the_csv(graded):
    _, _, workdir = graded
    export = (workdir.parent / "grades-nbgrader.csv").read_text()
    assert "student_id" in export and "solution" in export


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_our_release_matches_nbgraders_generate_assignment(graded, name):
    _, _, workdir = graded
    cli = workdir / "release" / name / f"{name}.ipynb"
    assert cli.read_text() == STUDENTS[name].read_text()


def test_a_bad_submissions_folder_is_a_one_line_error(tmp_path):
    process = subprocess.run([sys.executable, "-m", "gan_grader", "grade", str(tmp_path / "nope"),
                              "--out", str(tmp_path / "g.csv")], cwd=REPO_ROOT, capture_output=True, text=True)
    assert process.returncode == 2
    assert "is not a folder of submissions" in process.stderr and "Traceback" not in process.stderr


@pytest.mark.parametrize("student, why", LINKED, ids=[student for student, _ in LINKED])
def test_a_notebook_that_is_a_link_is_refused_not_followed(graded, student, why):
    r = row(graded, student, FIRST)
    assert r["status"] == "linked" and float(r["score"]) == 0, r
    assert why in r["detail"] and "hand in the notebook file itself" in r["detail"], r


def test_links_and_the_answer_lock_hold_without_the_sandbox_too(tmp_path):
    """Links are refused by the grade command and the course's answers are locked in the kernel
    (``helpers.taught``): neither relies on the sandbox. One route here, the plainest: session 1's answer
    calls the course's own pixel converter (the sandboxed batch in test_grading_mutants.py runs every route)."""
    subs = tmp_path / "submissions"
    subs.mkdir()
    write_submission(tmp_path, "classmate", FIRST, json.loads(SOURCES[FIRST].read_text()))
    write_links(subs, tmp_path / "classmate")
    locked = FIRST
    routes = {"to_minus_one_one": next(code for what, code, _ in MUTANTS[FIRST]["to_minus_one_one"]
                                       if "course's own" in what)}
    nb = completed_submission(STUDENTS[locked], SOURCES[locked], routes)
    write_submission(subs, "lock", locked, without_trailing_ungraded_cells(nb))
    rows, process = run_grade(subs, tmp_path / "grades.csv", TIMEOUT, extra=["--no-sandbox"])
    assert process.returncode == 0, process.stdout + process.stderr
    assert {student for student, _ in rows} == {student for student, _ in LINKED} | {"lock"}
    for student, why in LINKED:
        r = rows[(student, FIRST)]
        assert r["status"] == "linked" and why in r["detail"], r
    r = rows[("lock", locked)]
    assert r["status"] == "graded", r
    assert float(r["score"]) == float(r["max_score"]) - points_of(locked, routes), (routes, r)
    assert "Write to_minus_one_one yourself" in (tmp_path / "grades-feedback" / "lock" / f"{FIRST}.html").read_text()


def test_the_gradebook_is_created_as_nbgrader_creates_one(tmp_path):
    """The grade command makes the gradebook itself (nbgrader would start an ``alembic`` process for its schema
    version): the same tables, the same version, and nbgrader opens it as its own."""
    from nbgrader.api import Gradebook, get_alembic_version

    from gan_grader import grading

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    grading._create_gradebook(ours)
    Gradebook(f"sqlite:///{theirs / 'gradebook.db'}").close()  # nbgrader's own, through its alembic process
    tables = {}
    for folder in (ours, theirs):
        with sqlite3.connect(folder / "gradebook.db") as db:
            tables[folder] = (sorted(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")),
                              db.execute("SELECT version_num FROM alembic_version").fetchall())
    assert tables[ours] == tables[theirs] and tables[ours][1] == [(get_alembic_version(),)]
    with Gradebook(f"sqlite:///{ours / 'gradebook.db'}", course_id=grading.COURSE_ID) as gradebook:
        assert gradebook.students == []


def test_results_inside_the_submissions_folder_are_refused_before_grading(tmp_path):
    subs = tmp_path / "submissions"
    write_submission(subs, "ann", FIRST, json.loads(STUDENTS[FIRST].read_text()))
    rows, process = run_grade(subs, subs / "grades.csv", TIMEOUT)
    assert process.returncode == 2 and not rows and "Traceback" not in process.stderr
    assert f"--out {subs / 'grades.csv'} is inside the submissions folder" in process.stderr
    assert "would grade it as a student" in process.stderr and sorted(p.name for p in subs.iterdir()) == ["ann"]


def test_more_jobs_than_students_says_what_will_run(tmp_path):
    subs = tmp_path / "submissions"
    (subs / "corrupt").mkdir(parents=True)  # read, refused as unreadable: no kernel starts
    (subs / "corrupt" / f"{FIRST}.ipynb").write_text("{")
    rows, process = run_grade(subs, tmp_path / "grades.csv", TIMEOUT, extra=["--jobs", "10000"])
    assert process.returncode == 0, process.stderr
    assert "--jobs 10000: 1 student folder to grade, so 1 at once" in process.stdout
    assert rows[("corrupt", FIRST)]["status"] == "unreadable"


def test_every_folder_gets_its_row_under_its_real_name(graded):
    r = row(graded, ODD, FIRST)
    assert r["status"] == "graded" and float(r["score"]) == float(r["max_score"]), r


def test_a_near_miss_file_name_is_graded_with_a_note(graded):
    r = row(graded, ODD, FIRST)
    assert r["status"] == "graded" and float(r["score"]) == float(r["max_score"])
    assert f"graded '{FIRST} (1).ipynb' (expected {FIRST}.ipynb)" in r["detail"]


def test_out_pointing_at_a_folder_is_refused_before_grading(tmp_path):
    (tmp_path / "subs" / "someone").mkdir(parents=True)
    process = subprocess.run([sys.executable, "-m", "gan_grader", "grade", str(tmp_path / "subs"),
                              "--out", str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert process.returncode == 2 and "is a folder; give the path of the CSV file" in process.stderr
    assert "Traceback" not in process.stderr


def test_a_stripped_graded_cell_is_reported_not_silently_scored_lower(graded):
    r = row(graded, "stripped", FIRST)
    first_test = next(iter(exercise_test_ids(SOURCES[FIRST]).values()))
    assert r["status"] == "cells-missing" and first_test in r["detail"], r


def test_a_notebook_from_an_older_jupyter_is_graded(graded):
    r = row(graded, ODD, FIRST)  # nbformat 4.4, no cell ids
    assert r["status"] == "graded" and float(r["score"]) == float(r["max_score"]), r


def test_each_students_nbgrader_log_is_kept_beside_the_feedback(graded):
    _, _, workdir = graded
    log = workdir.parent / "grades-feedback" / "solution" / f"{FIRST}.log"
    assert log.is_file() and log.read_text().strip()


def test_cells_after_the_last_graded_one_are_not_run_while_grading(graded):
    """The blank submissions are whole student notebooks: their demos and long runs come after the last
    graded cell, carry no points, and are skipped (tagged ``skip-execution``)."""
    _, _, workdir = graded
    name = "03_dcgan"  # R5's 216 MB checkpoint is written in its last section
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}", course_id="gan-course") as gradebook:
        student = next(s.id for s in gradebook.students if s.last_name == "blank")
    cells = json.loads((workdir / "autograded" / student / name / f"{name}.ipynb").read_text())["cells"]
    last = max(i for i, c in enumerate(cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
    trailing = [c for c in cells[last + 1:] if c["cell_type"] == "code"]
    assert trailing and all("skip-execution" in c["metadata"].get("tags", []) and not c["outputs"]
                            for c in trailing)



HAND = "06_stable"  # the session with answers marked by hand


def test_answers_marked_by_hand_never_count_as_automatic_points(graded):
    """Session 6's two written answers: listed as needing manual grading, apart from the automatic score."""
    from gan_grader.manual import manual_cells
    from nbgrader.api import Gradebook

    cells = manual_cells(SOURCES[HAND])
    assert cells == {"answer_consent": 2.0, "answer_detection": 2.0}
    for student, score in (("solution", sum(graded_points(SOURCES[HAND]).values())), ("blank", 0.0)):
        r = row(graded, student, HAND)
        # the model answers in the solution and the empty ones in the blank notebook change nothing
        assert float(r["score"]) == score and float(r["max_score"]) == 11.0, r
        assert float(r["manual_max"]) == 4.0
        assert r["manual"] == "needs manual grading: answer_consent (2), answer_detection (2)"
    assert row(graded, "solution", FIRST)["manual"] == "" and float(row(graded, "solution", FIRST)["manual_max"]) == 0
    assert row(graded, "absent", FIRST)["manual"] == ""
    _, process, workdir = graded
    assert "python -m gan_grader marks GRADES.csv MARKS.csv --out FINAL.csv" in process.stdout
    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}", course_id="gan-course") as gradebook:
        student = next(s.id for s in gradebook.students if s.last_name == "solution")
        grades = {g.name: g for g in gradebook.find_submission_notebook(HAND, HAND, student).grades}
        for gid in cells:
            assert grades[gid].auto_score is None and grades[gid].manual_score is None
            assert grades[gid].needs_manual_grade


def marks_command(grades, marks, out):
    return subprocess.run([sys.executable, "-m", "gan_grader", "marks", str(grades), str(marks), "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True)


def test_the_instructors_marks_are_checked_then_entered(graded, tmp_path):
    import csv
    import re

    from gan_grader.manual import MarksError, enter_marks

    _, _, workdir = graded
    grades = workdir.parent / "grades.csv"
    before = grades.read_bytes()
    marks = tmp_path / "marks.csv"
    for bad, words in ((f"solution,{HAND},answer_consent,nan\n", "points must be a finite number, got 'nan'"),
                       (f"solution,{HAND},answer_other,1\n", "has no answer 'answer_other' to mark by hand"),
                       (f"nobody,{HAND},answer_consent,1\n", "no graded submission of '06_stable' by 'nobody'"),
                       (f"absent,{HAND},answer_consent,1\n", "absent's 06_stable was not graded (status missing"),
                       (f"solution,{HAND},answer_consent,1\nsolution,{HAND},answer_consent,2\n", "marked twice"),
                       ("student,points\n", "the marks need the columns student,notebook,grade_id,points")):
        marks.write_text(bad if bad.startswith("student") else "student,notebook,grade_id,points\n" + bad)
        with pytest.raises(MarksError, match=re.escape(words)):
            enter_marks(grades, marks, tmp_path / "final.csv")
        assert not (tmp_path / "final.csv").exists()  # nothing written until every mark is right
    with pytest.raises(MarksError, match="one of the inputs"):
        enter_marks(grades, marks, grades)
    marks.write_text(f"student,notebook,grade_id,points\nsolution,{HAND},answer_consent,3\n")
    done = marks_command(grades, marks, tmp_path / "final.csv")  # the command line: one line, exit code 2
    assert done.returncode == 2 and "answer_consent is worth 0 to 2 points, got 3" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "final.csv").exists()
    marks.write_text(f"student,notebook,grade_id,points\nsolution,{HAND},answer_consent,1.5\n"
                     f"solution,{HAND},answer_detection,2\nblank,{HAND},answer_consent,0\n")
    done = marks_command(grades, marks, tmp_path / "final.csv")
    assert done.returncode == 0, done.stderr
    assert f"blank {HAND}: needs manual grading: answer_detection (2)" in done.stdout
    with open(tmp_path / "final.csv") as handle:
        final = {(r["student"], r["notebook"]): r for r in csv.DictReader(handle)}
    solved = final[("solution", HAND)]
    assert (solved["manual_score"], solved["total"], solved["manual"]) == ("3.5", "14.5", "marked by hand")
    assert final[("solution", FIRST)]["total"] == final[("solution", FIRST)]["score"]
    assert grades.read_bytes() == before  # the grade CSV itself is never changed
    # a second sitting, its file saved by a spreadsheet (a byte-order mark): the first sitting's marks stay
    marks.write_bytes(f"\ufeffstudent,notebook,grade_id,points\nblank,{HAND},answer_detection,1\n".encode())
    done = marks_command(tmp_path / "final.csv", marks, tmp_path / "final2.csv")
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "final2.csv") as handle:
        again = {(r["student"], r["notebook"]): r for r in csv.DictReader(handle)}
    assert (again[("solution", HAND)]["total"], again[("solution", HAND)]["manual_marks"]) == \
        ("14.5", "answer_consent=1.5; answer_detection=2")
    assert (again[("blank", HAND)]["manual_score"], again[("blank", HAND)]["manual"]) == ("1", "marked by hand")
    marks.write_text(f"student,notebook,grade_id,points\nsolution,{HAND},answer_consent,2\n")
    with pytest.raises(MarksError, match="answer_consent of solution was marked in an earlier sitting"):
        enter_marks(tmp_path / "final2.csv", marks, tmp_path / "final3.csv")


def test_ctrl_c_stops_the_batch_and_keeps_the_earlier_results(tmp_path):
    import signal
    import time

    subs = tmp_path / "submissions"
    slow = completed_submission(STUDENTS[FIRST], SOURCES[FIRST])
    slow["cells"].insert(1, {"cell_type": "code", "execution_count": None, "id": "slow", "metadata": {},
                             "outputs": [], "source": "import time\ntime.sleep(120)\n"})
    for student in ("ann", "bob"):
        write_submission(subs, student, FIRST, slow)
    out = tmp_path / "grades.csv"
    out.write_text("an earlier run's grades\n")
    process = subprocess.Popen([sys.executable, "-m", "gan_grader", "grade", str(subs), "--out", str(out),
                                "--shard", "1/1"], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any("grading_kernel" in line for line in _descendant_commands(process.pid)):
        time.sleep(0.5)  # wait until the first student's kernel runs
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "stopped (Ctrl-C) before the batch was done" in err and "Traceback" not in err, err
    assert out.read_text() == "an earlier run's grades\n" and not (tmp_path / "grades-shard.json").exists()


def _descendant_commands(pid):
    """The command lines of the processes ``pid`` started, and theirs (Linux's /proc)."""
    import pathlib

    found, waiting = [], [pid]
    while waiting:
        for children in pathlib.Path(f"/proc/{waiting.pop()}/task").glob("*/children"):
            try:
                for child in children.read_text().split():
                    waiting.append(int(child))
                    found.append(pathlib.Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return found
