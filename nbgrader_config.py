"""nbgrader settings for instructors who use the formgrader in JupyterLab.

Run `jupyter lab` from the top of the repository. nbgrader then treats this
folder as the course directory: put each session in `source/<NN_name>/` (a copy
of `solutions/NN_name.ipynb`), and students' work in
`submitted/<student>/<NN_name>/`. For most classes the one-command route is
simpler: `python -m gan_grader grade SUBMISSIONS --out grades.csv`.
"""

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "gan-course"
c.CourseDirectory.root = "."

# Per-cell time limit while autograding. Grading runs the notebooks as smoke
# runs (set GAN_COURSE_FAST=1 in the environment that starts JupyterLab), in
# which every cell finishes in seconds.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# Student copies: the stub left where a solution was.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
