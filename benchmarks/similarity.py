"""Does the similarity check flag copies and spare independent work? Measured on a synthetic class.

The class is built from ``tests/grading_cases.py``. For each exercise that has
correct variants (``VARIANTS``), its versions are the course's own solution
and each variant: correct code written independently. Each version also gets
a disguised copy: every local name and argument renamed, top-level
definitions in reverse order, comments rewritten (``disguise``). Every pair is
compared with ``gan_grader.similarity.compare`` against the released stub as
boilerplate, scored by the larger share of one answer's fingerprints found in
the other. Printed: for each threshold, the share of independent pairs
flagged (false alarms) and of copies flagged (detection).

    python benchmarks/similarity.py                 # the table in benchmarks/README.md
    python benchmarks/similarity.py --exercises 2   # a smoke run (the test)

A single answer is a few lines, so this is the hardest case for
fingerprinting: a whole notebook's answers, as the command compares them,
give each pair far more code to agree or differ on.
"""

import argparse
import ast
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the synthetic class's code comes from the grading cases

import grading_cases as cases  # noqa: E402
from gan_grader import similarity  # noqa: E402
from gan_grader.release import NOTEBOOKS_DIR  # noqa: E402
from helpers import flags  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


class _Rename(ast.NodeTransformer):
    """Rename every name bound inside a function (arguments, assignments, loop variables)."""

    def __init__(self, bound):
        self.names = {name: f"renamed_{k}" for k, name in enumerate(sorted(bound))}

    def visit_arg(self, node):
        node.arg = self.names.get(node.arg, node.arg)
        return node

    def visit_Name(self, node):
        node.id = self.names.get(node.id, node.id)
        return node


def disguise(code):
    """``code`` as a student hiding a copy would hand it in: local names renamed, top-level definitions
    reordered, comments rewritten."""
    tree = ast.parse(code)
    bound = set()
    for function in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda))]:
        for node in ast.walk(function):
            if isinstance(node, ast.arg) and node.arg != "self":
                bound.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
    tree = _Rename(bound).visit(tree)
    definitions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    others = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    tree.body = others + definitions[::-1]
    lines = ast.unparse(tree).splitlines()
    return "# my own solution\n" + "\n".join(f"{line}  # done" if line.strip().startswith("return") else line
                                              for line in lines) + "\n"


def versions():
    """``[(notebook, grade_id, [independent versions], stub)]`` for every exercise with variants."""
    found = []
    for name, exercises in cases.VARIANTS.items():
        source = {cases.grade_id(c): c for c in cases.load(cases.SOURCES[name])["cells"] if cases.is_solution(c)}
        stubs = {cases.grade_id(c): "".join(c["source"]) for c in cases.load(NOTEBOOKS_DIR / f"{name}.ipynb")["cells"]
                 if cases.is_solution(c)}
        for gid, variants in exercises.items():
            own = cases.solution_code("".join(source[gid]["source"]))
            found.append((name, gid, [own, *(code for _, code in variants)], stubs[gid]))
    return found


def scores(exercises):
    """``(independent scores, copy scores)``: the larger share of each pair, over ``exercises``."""
    independent, copies = [], []
    for _, _, written, stub in exercises:
        codes = {f"v{k}": code for k, code in enumerate(written)}
        codes.update({f"v{k}-copy": disguise(code) for k, code in enumerate(written)})
        for a, b, a_in_b, b_in_a in similarity.compare(codes, stub, threshold=0.0):
            same = a.removesuffix("-copy") == b.removesuffix("-copy")
            (copies if same else independent).append(max(a_in_b, b_in_a))
    return independent, copies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exercises", type=flags.positive_int, default=None,
                        help="only the first N exercises with variants (a smoke run)")
    args = parser.parse_args(argv)
    exercises = versions()[:args.exercises]
    independent, copies = scores(exercises)
    print(f"{len(exercises)} exercises with independent versions: {len(independent)} independent pairs, "
          f"{len(copies)} disguised copies (k = {similarity.TOKENS} tokens)")
    print(f"{'threshold':>9} {'independent flagged':>20} {'copies flagged':>15}")
    for threshold in THRESHOLDS:
        flagged = sum(s >= threshold for s in independent), sum(s >= threshold for s in copies)
        print(f"{threshold:9.2f} {flagged[0]:>11} of {len(independent):<5} {flagged[1]:>6} of {len(copies):<5}")
    chosen = similarity.THRESHOLD
    print(f"the command's threshold: {chosen} (independent flagged "
          f"{sum(s >= chosen for s in independent)}/{len(independent)}, copies flagged "
          f"{sum(s >= chosen for s in copies)}/{len(copies)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
