"""What the class got right and wrong: a class report and a per-exercise table, from a graded batch.

``python -m gan_grader report grades.csv`` reads the grade CSV and the
per-exercise CSV the grade command writes beside it (``grades-cells.csv``, one
row per test cell of each submission that ran: its points and, when it lost
them, the first line of its error) and writes, beside the grade CSV:

- ``grades-report.html``: one page, pictures inlined. Per notebook: how many
  submissions got each status (graded, missing, timeout, ...), the
  distribution of scores, and for each exercise its pass rate (full points),
  how its points spread (none, some, all), and the messages it most often
  failed with. A visible check's message starts with the fix, so the most
  common ones say what to teach again.
- ``grades-by-exercise.csv``: otter-grader's layout, one column per graded
  cell, one row per submission, and first a ``points possible`` row.

Nothing here changes a score; it only reads.
"""

import base64
import html
import io
from collections import Counter
from pathlib import Path

from helpers.checkpoints import write_atomically

from . import shards

TOP_MESSAGES = 3  # failure messages shown per exercise
POSSIBLE = "points possible"  # the first row of the per-exercise table, as otter-grader writes it


class ReportError(ValueError):
    """The report cannot be made from these files; the message says which and why."""


def read_batch(grades_csv):
    """``(rows, cells)`` of a graded batch: the grade CSV's rows and its per-exercise CSV's rows (dicts)."""
    grades_csv = Path(grades_csv)
    cells_csv = shards.cells_csv(grades_csv)
    tables = []
    for path, needs in ((grades_csv, ("student", "notebook", "score", "max_score", "status")),
                        (cells_csv, ("student", "notebook", "grade_id", "points", "max_points", "message"))):
        if not path.is_file():
            made = "" if path == grades_csv else " (grade writes it beside the grade CSV; grade again to make it)"
            raise ReportError(f"{path} is not a file{made}")
        header, rows = shards.read_table(path, ReportError)
        missing = [f for f in needs if f not in header]
        if not rows or missing:
            raise ReportError(f"{path} is not a table of the grade command: expected the columns "
                              f"{', '.join(needs)}, {'got no rows' if not rows else 'missing ' + ', '.join(missing)}")
        tables.append(rows)
    return tables[0], tables[1]


def exercise_table(cells):
    """``(fields, rows)`` of the per-exercise table: ``student``, ``notebook`` and one column per graded cell
    (in the order the notebooks hold them); its first row gives each cell's ``points possible``."""
    order, possible = [], {}
    for cell in cells:
        if cell["grade_id"] not in possible:
            order.append(cell["grade_id"])
            possible[cell["grade_id"]] = cell["max_points"]
    submissions = {}
    for cell in cells:
        submissions.setdefault((cell["student"], cell["notebook"]), {})[cell["grade_id"]] = cell["points"]
    rows = [{"student": POSSIBLE, "notebook": "", **possible}]
    rows += [{"student": student, "notebook": notebook, **points}
             for (student, notebook), points in sorted(submissions.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    return ["student", "notebook", *order], rows


def exercise_summary(cells):
    """Per graded cell, in order: ``{grade_id, notebook, submissions, passed, none, some, max_points, messages}``;
    ``messages``: the most common failure messages, ``[(message, count)]``."""
    summary = {}
    for cell in cells:
        entry = summary.setdefault(cell["grade_id"], {"grade_id": cell["grade_id"], "notebook": cell["notebook"],
                                                       "submissions": 0, "passed": 0, "none": 0, "some": 0,
                                                       "max_points": float(cell["max_points"]), "why": Counter()})
        points = float(cell["points"])
        entry["submissions"] += 1
        entry["passed"] += points >= entry["max_points"]
        entry["none"] += points == 0
        entry["some"] += 0 < points < entry["max_points"]
        if cell["message"]:
            entry["why"][cell["message"]] += 1
    for entry in summary.values():
        entry["messages"] = entry.pop("why").most_common(TOP_MESSAGES)
    return list(summary.values())


def write_report(grades_csv, out_html=None):
    """Write the class report and the per-exercise table beside ``grades_csv``; return their paths."""
    grades_csv = Path(grades_csv)
    out_html = Path(out_html) if out_html else grades_csv.with_name(grades_csv.stem + "-report.html")
    table = grades_csv.with_name(grades_csv.stem + "-by-exercise.csv")
    if out_html.is_dir():
        raise ReportError(f"--out {out_html} is a folder; give the path of the HTML file to write")
    rows, cells = read_batch(grades_csv)
    fields, wide = exercise_table(cells)
    page = report_html(grades_csv.name, rows, exercise_summary(cells))
    out_html.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(table, shards.csv_text(fields, wide).encode())
    write_atomically(out_html, page.encode())
    return out_html, table


def report_html(title, rows, summary):
    """The class report as one HTML page: a section per notebook (statuses, scores, exercises)."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>Class report: {html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:auto}td,th{padding:2px 8px;text-align:left}"
             "table{border-collapse:collapse}tr:nth-child(even){background:#f3f3f3}</style>",
             f"<h1>Class report: {html.escape(title)}</h1>"]
    for notebook in sorted({r["notebook"] for r in rows}):
        mine = [r for r in rows if r["notebook"] == notebook]
        exercises = [e for e in summary if e["notebook"] == notebook]
        parts.append(f"<h2>{html.escape(notebook)}</h2>")
        parts.append(_status_table(mine))
        parts.append(f"<img alt='scores and pass rates of {html.escape(notebook)}' "
                     f"src='data:image/png;base64,{_figure(mine, exercises)}'>")
        parts.append(_exercise_table_html(exercises))
    return "\n".join(parts) + "\n"


def _status_table(rows):
    counts = Counter(r["status"] for r in rows)
    cells = "".join(f"<tr><td>{html.escape(s)}</td><td>{n}</td></tr>" for s, n in counts.most_common())
    return f"<table><tr><th>status</th><th>submissions</th></tr>{cells}</table>"


def _exercise_table_html(exercises):
    lines = ["<table><tr><th>exercise</th><th>pass rate</th><th>no points / some / all</th>"
             "<th>most common failures</th></tr>"]
    for e in exercises:
        why = "<br>".join(f"{n} x {html.escape(m)}" for m, n in e["messages"]) or "-"
        rate = e["passed"] / e["submissions"] if e["submissions"] else 0
        lines.append(f"<tr><td>{html.escape(e['grade_id'])}</td><td>{rate:.0%} of {e['submissions']}</td>"
                     f"<td>{e['none']} / {e['some']} / {e['passed']}</td><td>{why}</td></tr>")
    return "".join(lines) + "</table>"


def _figure(rows, exercises):
    """Two panels as a base64 PNG: the notebook's score distribution, and each exercise's points spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, max(3, 0.35 * len(exercises) + 1)))
    scores = [float(r["score"]) for r in rows if r["status"] not in ("missing", "unreadable", "linked")]
    most = max((float(r["max_score"]) for r in rows), default=1) or 1
    left.hist(scores, bins=min(20, max(5, len(scores))), range=(0, most), color="tab:blue")
    left.set(xlabel=f"score (of {most:g})", ylabel="submissions", title="scores")
    names = [e["grade_id"] for e in exercises][::-1]
    spread = [(e["none"], e["some"], e["passed"]) for e in exercises][::-1]
    start = [0] * len(names)
    for k, (label, colour) in enumerate((("no points", "tab:red"), ("some", "tab:orange"), ("all", "tab:green"))):
        widths = [s[k] for s in spread]
        right.barh(names, widths, left=start, color=colour, label=label)
        start = [a + b for a, b in zip(start, widths)]
    right.set(xlabel="submissions", title="each exercise's points")
    right.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()
