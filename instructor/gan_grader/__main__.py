"""Command line: ``python -m gan_grader {release,grade,merge,exercise} ...``."""

import argparse
import functools
import sys
from pathlib import Path

from helpers import flags
from . import export, grading, isolation, late, manual, packet, report, shards, similarity
from . import release as releasing


def _release(args):
    try:
        return _release_or_check(args)
    except ValueError as error:
        print(f"release: {error}", file=sys.stderr)
        return 2


def _release_or_check(args):
    if args.check:
        problems = releasing.check_release(args.solutions, args.notebooks)
        for problem in problems:
            print(problem)
        if problems:
            print("run `python -m gan_grader release` to regenerate notebooks/")
            return 1
        count = len(releasing.source_notebooks(args.solutions))
        print(f"student notebooks are up to date with their sources ({count} notebooks)")
        return 0
    written = releasing.release(args.solutions, args.notebooks)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("student notebooks were already up to date")
    return 0


def _grade(args):
    try:
        rows = grading.grade_submissions(
            args.submissions, args.out, notebooks=args.notebook, timeout=args.timeout,
            feedback_dir=args.feedback, keep_workdir=args.keep_workdir, solutions=args.solutions,
            memory_mb=args.memory_mb, output_mb=args.output_mb, shard=args.shard, jobs=args.jobs,
            sandbox=False if args.no_sandbox else None,
        )
    except grading.GradingError as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"grade: stopped (Ctrl-C) before the batch was done: {args.out} and its nbgrader export were not "
              f"written (an earlier run's are as they were); grade again to finish", file=sys.stderr)
        return 130
    print(grading.format_table(rows))
    print(f"\ngrades written to {args.out}")
    return 0


def _shard(text):
    """argparse's type for ``--shard K/N``."""
    try:
        return shards.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _one_line_errors(command, expected):
    """Run the decorated command; an ``expected`` error (or an ``OSError``) becomes one line on stderr,
    ``<command>: <what is wrong>``, and exit status 2, never a traceback."""
    def decorate(run):
        @functools.wraps(run)
        def guarded(args):
            try:
                return run(args)
            except (expected, OSError) as error:
                print(f"{command}: {error}", file=sys.stderr)
                return 2
        return guarded
    return decorate


@_one_line_errors("merge", shards.ShardError)
def _merge(args):
    count = shards.merge(args.shards, args.out)
    print(f"{count} rows from {len(args.shards)} shards written to {args.out}")
    return 0


@_one_line_errors("marks", manual.MarksError)
def _marks(args):
    rows = manual.enter_marks(args.grades, args.marks, args.out, args.solutions)
    left = [r for r in rows if r["manual"].startswith("needs manual grading")]
    print(f"marks entered for {len(rows) - len(left)} of {len(rows)} rows; written to {args.out}")
    for row in left:
        print(f"  {row['student']} {row['notebook']}: {row['manual']}")
    return 0


@_one_line_errors("report", report.ReportError)
def _report(args):
    html, table = report.write_report(args.grades, args.out)
    print(f"class report written to {html}\nper-exercise table (otter-grader's layout) written to {table}")
    return 0


@_one_line_errors("packet", packet.PacketError)
def _packet(args):
    written = packet.make_packets(args.submissions, args.out, args.solutions, args.seed)
    for path in written:
        print(f"wrote {path}")
    print(f"fill in the points of {written[-1]}, then: python -m gan_grader marks GRADES.csv {written[-1]} "
          f"--out FINAL.csv")
    return 0


@_one_line_errors("late", late.LateError)
def _late(args):
    rows = late.apply_late_policy(args.grades, args.due, args.submissions, args.out, args.extensions)
    sources = [r["time_source"] for r in rows if r["time_source"]]
    print(f"{sum(r['days_late'] not in ('', '0') for r in rows)} of {len(sources)} submissions late; written to "
          f"{args.out}")
    if "file time" in sources:
        print(f"{sources.count('file time')} hand-in time(s) are the notebook file's modification time (no "
              f"timestamp.txt from nbgrader's collection): a copy or an edit after the deadline changes them")
    return 0


@_one_line_errors("export", export.ExportError)
def _export(args):
    count = export.export(args.grades, args.roster, args.format, args.out, args.missing_as_zero)
    print(f"{count} students' marks written to {args.out} for {args.format}'s gradebook import")
    return 0


@_one_line_errors("similarity", similarity.SimilarityError)
def _similarity(args):
    pairs = similarity.check_class(args.submissions, args.out, args.threshold, args.notebook, args.solutions)
    for pair in pairs:
        print(f"{pair['notebook']}: {pair['student_a']} and {pair['student_b']} share {pair['a_in_b']} and "
              f"{pair['b_in_a']} of each other's answer code")
    print(f"{len(pairs)} pair(s) at or above {args.threshold} written to {args.out / 'similar.csv'} (flags only: no "
          f"score was changed; read the shared code side by side in {args.out}/<notebook>.html)")
    return 0


def _exercise(args):
    """Where everything about one exercise is: its specification, its visible check, the course's answer."""
    import importlib
    import inspect

    from helpers import taught
    from helpers.checks import CHECKS

    from .exercises import EXERCISES

    for session in ("data", "mlp_gan", "dcgan", "evaluate", "conditional", "stable"):
        importlib.import_module(f"helpers.checks.{session}")
    found = {gid: ex for gid, ex in EXERCISES.items() if args.name in (gid, ex.name, gid.removeprefix("test_"))}
    if not found:
        print(f"exercise: no exercise is called {args.name!r}; the exercises are "
              f"{', '.join(sorted(ex.name for ex in EXERCISES.values()))}", file=sys.stderr)
        return 2

    def where(function):
        function = inspect.unwrap(function)
        path = Path(inspect.getsourcefile(function)).resolve()
        root = releasing.REPO_ROOT
        return f"{path.relative_to(root) if path.is_relative_to(root) else path}:{inspect.getsourcelines(function)[1]}"

    for gid, exercise in found.items():
        print(f"{exercise.name}: graded by the test cell {gid} of {exercise.session}")
        print(f"  specification (the hidden test and the judge): {where(exercise.ask)} {exercise.ask.__name__}, "
              f"{where(exercise.mark)} {exercise.mark.__name__}")
        check = CHECKS.get((exercise.session, exercise.name))
        print(f"  visible check (what the student runs):         "
              f"{where(check) + ' ' + check.__name__ if check else 'none'}")
        answer = taught.ANSWERS.get((exercise.session, exercise.name))
        print(f"  the course's own answer (locked while checked): "
              f"{f'{answer.__module__}.{answer.__qualname__}' if answer else 'none'}")
        if exercise.given:
            print(f"  given right answers while asked:               {', '.join(exercise.given)}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gan_grader",
                                     description="Instructor tools for the GAN course.")
    commands = parser.add_subparsers(dest="command", required=True)

    rel = commands.add_parser("release", help="regenerate notebooks/ from solutions/")
    rel.add_argument("--check", action="store_true",
                     help="only compare; exit 1 naming each stale or missing student notebook")
    rel.add_argument("--solutions", type=Path, default=None, help="source notebooks (default solutions/)")
    rel.add_argument("--notebooks", type=Path, default=None, help="student notebooks (default notebooks/)")
    rel.set_defaults(run=_release)

    grade = commands.add_parser("grade", help="autograde SUBMISSIONS/<student>/NN_name.ipynb")
    grade.add_argument("submissions", type=Path, help="folder with one sub-folder per student")
    grade.add_argument("--out", type=Path, required=True, help="CSV file to write")
    grade.add_argument("--notebook", action="append",
                       help="grade only this notebook (e.g. 01_data); repeatable. "
                            "Default: every notebook someone submitted")
    grade.add_argument("--timeout", type=flags.positive_int, default=grading.DEFAULT_TIMEOUT,
                       help=f"seconds per cell before it is stopped (default {grading.DEFAULT_TIMEOUT})")
    grade.add_argument("--feedback", type=Path, default=None,
                       help="folder for the feedback HTML (default: <out stem>-feedback/ beside the CSV)")
    grade.add_argument("--keep-workdir", type=Path, default=None,
                       help="build nbgrader's course directory here and keep it (default: a temporary one)")
    grade.add_argument("--solutions", type=Path, default=None,
                       help="the instructor's source notebooks (default solutions/)")
    grade.add_argument("--memory-mb", type=flags.positive_int, default=None,
                       help=f"memory for each submission's processes, in MB (default {isolation.Limits.memory_mb})")
    grade.add_argument("--output-mb", type=flags.positive_int, default=None,
                       help=f"files each submission may write, in MB (default {isolation.Limits.output_mb})")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run the kernels without the bubblewrap sandbox even where it works")
    grade.add_argument("--jobs", type=flags.positive_int, default=1,
                       help="submissions graded at once on this machine, each in a process of its own (default 1)")
    grade.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                       help="grade only shard K of N, a stable slice of the students; "
                            "join the shards with `python -m gan_grader merge`")
    grade.set_defaults(run=_grade)

    merge = commands.add_parser("merge", help="join the results of `grade --shard K/N` into one")
    merge.add_argument("shards", type=Path, nargs="+", help="the shards' CSV files (their --out)")
    merge.add_argument("--out", type=Path, required=True, help="CSV file to write, as one unsharded run would")
    merge.set_defaults(run=_merge)

    marks = commands.add_parser("marks", help="enter the marks of the answers marked by hand into a grade CSV")
    marks.add_argument("grades", type=Path, help="the grade CSV (grade's --out, or merge's)")
    marks.add_argument("marks", type=Path, help="a CSV of student,notebook,grade_id,points, one line per answer")
    marks.add_argument("--out", type=Path, required=True, help="CSV file to write: the grades with manual_score and total")
    marks.add_argument("--solutions", type=Path, default=None,
                       help="the instructor's source notebooks, which say what each answer is worth (default solutions/)")
    marks.set_defaults(run=_marks)

    summary = commands.add_parser("report", help="a class report (HTML) and a per-exercise table from a grade CSV")
    summary.add_argument("grades", type=Path, help="the grade CSV (grade's --out, or merge's), with its -cells.csv beside it")
    summary.add_argument("--out", type=Path, default=None,
                         help="HTML file to write (default: <grades stem>-report.html beside it)")
    summary.set_defaults(run=_report)

    pages = commands.add_parser("packet", help="a page per answer marked by hand, with the whole class's answers "
                                               "(anonymous, shuffled), and a marks.csv to fill in")
    pages.add_argument("submissions", type=Path, help="folder with one sub-folder per student")
    pages.add_argument("--out", type=flags.writable_dir, required=True,
                       help="folder to write the pages and marks.csv into")
    pages.add_argument("--solutions", type=Path, default=None, help="source notebooks (default solutions/)")
    pages.add_argument("--seed", type=flags.whole(0), default=None,
                       help="the shuffle's seed (default: a fresh one each time)")
    pages.set_defaults(run=_packet)

    lateness = commands.add_parser("late", help="apply due dates, extensions and a late penalty to a grade CSV")
    lateness.add_argument("grades", type=Path, help="the grade CSV (grade's, merge's or marks' --out)")
    lateness.add_argument("--due", type=Path, required=True, help="a TOML file: [policy] and [due] (see late.py)")
    lateness.add_argument("--submissions", type=Path, required=True,
                          help="the graded folder, for each hand-in time (timestamp.txt, else the file's time)")
    lateness.add_argument("--extensions", type=Path, default=None, help="a CSV of student,notebook,due")
    lateness.add_argument("--out", type=Path, required=True, help="CSV file to write")
    lateness.set_defaults(run=_late)

    platform = commands.add_parser("export", help="the marks as Canvas's or Moodle's gradebook import reads them")
    platform.add_argument("grades", type=Path, help="the grade CSV (grade's, merge's, marks' or late's --out)")
    platform.add_argument("--roster", type=Path, required=True,
                          help="a CSV mapping each student folder (column student) to the platform's ids")
    platform.add_argument("--format", choices=sorted(export.PLATFORMS), required=True, help="the platform")
    platform.add_argument("--out", type=Path, required=True, help="CSV file to write")
    platform.add_argument("--missing-as-zero", action="store_true",
                          help="a notebook not handed in scores 0 (default: its cell is left empty)")
    platform.set_defaults(run=_export)

    alike = commands.add_parser("similarity", help="pairs of students whose answer code is alike (copydetect)")
    alike.add_argument("submissions", type=Path, help="folder with one sub-folder per student")
    alike.add_argument("--out", type=flags.writable_dir, required=True,
                       help="folder for similar.csv and a report per notebook")
    alike.add_argument("--threshold", type=flags.number(above=0, at_most=1), default=similarity.THRESHOLD,
                       help=f"flag a pair when this share of one's code is found in the other's "
                            f"(default {similarity.THRESHOLD})")
    alike.add_argument("--notebook", action="append", default=None, help="only this notebook (repeatable)")
    alike.add_argument("--solutions", type=Path, default=None, help="source notebooks (default solutions/)")
    alike.set_defaults(run=_similarity)

    exercise = commands.add_parser("exercise", help="where an exercise's checks live (e.g. pack)")
    exercise.add_argument("name", help="the exercise's name (pack) or its test cell's grade id (test_pack)")
    exercise.set_defaults(run=_exercise)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
