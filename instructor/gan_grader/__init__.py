"""Instructor tools: ``python -m gan_grader release`` and ``... grade``.

- ``release``: regenerate the student notebooks in ``notebooks/`` from the
  instructor sources in ``solutions/``, with nbgrader's own preprocessors
  (``release.py``);
- ``grade``: autograde a folder of submissions with nbgrader and write one CSV
  (``grading.py``), one submission at a time, each alone (``isolation.py``),
  in a kernel whose hidden tests the student cannot rig (``grading_kernel.py``).
"""
