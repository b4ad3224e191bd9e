"""Instructor tools: ``python -m gan_grader release`` and ``... grade``.

- ``release``: regenerate the student notebooks in ``notebooks/`` from the
  instructor sources in ``solutions/``, with nbgrader's own preprocessors
  (``release.py``);
- ``grade``: autograde a folder of submissions with nbgrader and write one CSV
  (``grading.py``), one submission at a time, each alone (``isolation.py``),
  in a kernel whose hidden tests the student cannot rig (``grading_kernel.py``).
"""

import sys

# nbformat checks notebooks with jsonschema, which on import compiles a grammar for the "iri" string format
# (the rfc3987_syntax package, when installed): over 1 s of every grade command (benchmarks/grade_startup.py).
# No notebook schema uses any format, so the grammar is never needed: marking the package absent skips it.
sys.modules.setdefault("rfc3987_syntax", None)
