"""How long each session computes: three budgets, chosen in each notebook's budget cell.

Used by every session: its budget cell, right after the setup cell, picks one.

- ``smoke``: seconds. Every network trains a handful of steps, so the
  pictures are noise and the numbers only show that the code runs. CI and
  grading use it: ``GAN_COURSE_FAST=1`` forces it, whatever the cell says.
- ``laptop``: the default on a CPU. Each session runs top to bottom in at
  most about 10 minutes of a 2-core CPU, because its long cells train for a
  fixed time rather than a fixed number of steps. A faster machine trains
  more steps in that time, and draws better digits.
- ``full``: the default on a GPU: the recipes' own lengths, in steps.

``plan(session, budget)`` gives a session's numbers for a budget. A long
cell's ``Length`` says how long it trains, and ``announce`` prints that
before the cell starts.
"""

import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Optional

import torch

from .guards import require_number, require_whole
from .loop import Budget
from .runtime import fast_mode

BUDGETS = ("smoke", "laptop", "full")


@dataclass(frozen=True)
class Length:
    """How long one cell trains: at most ``epochs`` epochs, ``steps`` steps and ``seconds`` seconds of
    training, whichever ends first (``None``: no limit of that kind). ``note``: what it costs where no
    clock bounds it (measured), e.g. "about 90 s on one H200 GPU"."""
    epochs: Optional[int] = None
    steps: Optional[int] = None
    seconds: Optional[float] = None
    note: str = ""

    def __post_init__(self):
        for name in ("epochs", "steps"):
            if getattr(self, name) is not None:
                require_whole(getattr(self, name), name)
        if self.seconds is not None:
            require_number(self.seconds, "seconds", above=0)
        if self.epochs is None and self.steps is None and self.seconds is None:
            raise ValueError("a Length needs at least one of epochs, steps and seconds")

    def for_fit(self):
        """The ``loop.Budget`` that ``loop.fit`` trains this long with (its epochs are required)."""
        if self.epochs is None:
            raise ValueError(f"loop.fit needs a number of epochs; this length has none: {self}")
        return Budget(self.epochs, self.steps, self.seconds)

    def for_recipe(self):
        """Keyword arguments for ``runs.run_recipe``: ``epochs``, ``max_steps`` and ``max_seconds``."""
        return {"epochs": self.epochs, "max_steps": self.steps, "max_seconds": self.seconds}

    def describe(self):
        """In words, e.g. "at most 30 epochs, 1 min 30 s of training"."""
        parts = []
        if self.epochs is not None:
            parts.append(f"{self.epochs:,} epoch{'s' * (self.epochs != 1)}")
        if self.steps is not None:
            parts.append(f"{self.steps:,} step{'s' * (self.steps != 1)}")
        if self.seconds is not None:
            parts.append(f"{minutes(self.seconds)} of training")
        return ("at most " if len(parts) > 1 else "") + ", ".join(parts)


def minutes(seconds):
    """A duration in words: 45 -> "45 s", 90 -> "1 min 30 s", 300 -> "5 min"."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    whole, rest = divmod(seconds, 60)
    return f"{whole} min" + (f" {rest} s" if rest else "")


def default_budget():
    """The environment variable ``GAN_COURSE_BUDGET`` if set (how a script runs every notebook in one
    budget), else "full" where a CUDA GPU is there, else "laptop"."""
    chosen = os.environ.get("GAN_COURSE_BUDGET", "").strip()
    if chosen and chosen not in BUDGETS:
        raise ValueError(f"GAN_COURSE_BUDGET must be one of {', '.join(BUDGETS)}, got {chosen!r}")
    return chosen or ("full" if torch.cuda.is_available() else "laptop")


def announce(length, what):
    """Print, before a long cell starts, what it trains and for how long, e.g.
    "training your G and D: at most 30 epochs, 6 min of training"."""
    clock = "" if length.seconds is not None or not length.note else f" ({length.note})"
    print(f"{what}: {length.describe()}{clock}")


def plan(session, budget):
    """The numbers of ``session`` (a notebook's name, e.g. "02_mlp_gan") for ``budget``.

    Returns a namespace: ``budget`` (the one in force) and the session's
    knobs, e.g. ``plan.train`` (a ``Length``) and ``plan.n_train``. Prints one
    line saying which budget is in force; ``GAN_COURSE_FAST=1`` makes it
    "smoke" whatever was asked.
    """
    if session not in PLANS:
        raise ValueError(f"no budgets for a session called {session!r}; the sessions are {', '.join(PLANS)}")
    if budget not in BUDGETS and not fast_mode():  # under grading, even a mistyped budget must not stop the run
        raise ValueError(f"the budget must be one of {', '.join(map(repr, BUDGETS))}, got {budget!r}")
    chosen = "smoke" if fast_mode() else budget
    forced = f" (GAN_COURSE_FAST=1 overrides {budget!r})" if chosen != budget else ""
    print(f"budget: {chosen}{forced}. The whole notebook: {SESSION_TIME[session][chosen]}.")
    return SimpleNamespace(budget=chosen, **PLANS[session][chosen])


_H200 = "on one H200 GPU"

# Each session's knobs per budget. The laptop lengths were chosen so that the
# whole session fits about 10 minutes of a 2-core CPU; benchmarks/README.md
# ("A student's afternoon") has what each one measured.
PLANS = {
    "01_data": {
        "smoke": dict(train_limit=2000, timing_batches=20),
        "laptop": dict(train_limit=None, timing_batches=200),
        "full": dict(train_limit=None, timing_batches=200),
    },
    "02_mlp_gan": {
        "smoke": dict(batch_size=64, n_train=1024, train=Length(epochs=2)),
        # batches of 64: in 6 minutes, twice the updates of 128 (measured: all 10 digits, against 9 with 128)
        "laptop": dict(batch_size=64, n_train=None, train=Length(epochs=30, seconds=360)),
        "full": dict(batch_size=128, n_train=None, train=Length(epochs=30, note=f"about 80 s {_H200}")),
    },
    "03_dcgan": {
        # width and lr: section 5's DCGAN, R4's layers at this width (R4's own: 64) and Adam's learning rate. In its
        # 90 s a 2-core CPU trains width 16 about 1,900-2,200 steps, 9-10 classes (benchmarks/lessons.py --sessions
        # 03), against 350 steps and 4 classes for R4 at full width (the gallery, 2026-12-04); the other widths and
        # rates tried are in benchmarks/README.md, "The lesson ledger"
        "smoke": dict(batch_size=64, n_train=256, limit=64, width=16, lr=1e-3, train=Length(epochs=2), r5=Length(steps=2),
                      r5_limit=8,
                      compare=Length(steps=4), styles=Length(steps=8), styles_limit=512),
        # R5's 64x64 networks take about 25 s a step on a 2-core CPU: the laptop budget only shows it run
        "laptop": dict(batch_size=64, n_train=None, limit=None, width=16, lr=1e-3, train=Length(epochs=15, seconds=90),
                       r5=Length(steps=2), r5_limit=256, compare=Length(seconds=45), styles=Length(seconds=240),
                       styles_limit=None),
        "full": dict(batch_size=128, n_train=None, limit=None, width=64, lr=2e-4,
                     train=Length(epochs=15, note=f"about 1 min {_H200}"),
                     r5=Length(steps=600, note=f"about 30 s {_H200}"), r5_limit=None, compare=Length(steps=3000),
                     styles=Length(seconds=300), styles_limit=None),
    },
    "04_evaluate": {
        "smoke": dict(n_samples=500, limit=64, toy=Length(steps=100), chunks=2, run=Length(steps=8),
                      score=Length(steps=5)),
        "laptop": dict(n_samples=10000, limit=None, toy=Length(steps=6000), chunks=4, run=Length(seconds=40),
                       score=Length(seconds=20)),
        "full": dict(n_samples=10000, limit=None, toy=Length(steps=6000), chunks=4, run=Length(steps=1500),
                     score=Length(steps=3000)),
    },
    "05_conditional": {
        "smoke": dict(n_train=512, train=Length(epochs=10, steps=8), n_per_class=100),
        "laptop": dict(n_train=None, train=Length(epochs=20, steps=13000, seconds=300), n_per_class=1000),
        "full": dict(n_train=None, train=Length(epochs=20, steps=13000, note=f"about 2 min {_H200}"),
                     n_per_class=1000),
    },
    "06_stable": {
        # smoke: 5 steps, so that WGAN-GP's G steps once (5 critic steps per G step; run_recipe refuses fewer)
        # line_d_steps / line_rounds: section 1's GAN on a line, D's steps against a still G, then rounds of
        # 5 D steps and 1 G step (the lesson's numbers; smoke: enough to run, about 5 s less per run)
        "smoke": dict(toy=Length(steps=60), score=Length(steps=5), n_samples=500, limit=256,
                      line_d_steps=60, line_rounds=30),
        # the scoreboard, course-dcgan for 1 min per loss, is most of it: 7 min 48 s in all, its cell 5 min 43 s,
        # measured with benchmarks/afternoon.py on 2026-12-08; full: 7 min 4 s on the same CPU (2026-12-05), the
        # scoreboard (3,000 steps per loss) 5 min 1 s
        "laptop": dict(toy=Length(steps=4000), score=Length(seconds=60), n_samples=10000, limit=None,
                       line_d_steps=300, line_rounds=150),
        "full": dict(toy=Length(steps=6000), score=Length(steps=3000), n_samples=10000, limit=None,
                     line_d_steps=300, line_rounds=150),
    },
}

# What a whole session costs per budget, printed by ``plan`` and quoted at the top of each notebook:
# measured with ``python benchmarks/afternoon.py --budget laptop`` (benchmarks/README.md, "A student's
# afternoon") and, for the GPU, the notebooks at full length on one H200.
SESSION_TIME = {
    "01_data": {"smoke": "seconds", "laptop": "seconds", "full": "seconds"},
    "02_mlp_gan": {"smoke": "seconds (its pictures stay noise)", "laptop": "about 6 min on a 2-core CPU",
                   "full": f"about 90 s {_H200}, about 10 min on a 2-core CPU"},
    "03_dcgan": {"smoke": "seconds (its pictures stay noise)", "laptop": "about 8.5 min on a 2-core CPU",
                 "full": f"about 4.5 min {_H200}, hours on a 2-core CPU"},
    "04_evaluate": {"smoke": "about a minute (its pictures stay noise)", "laptop": "about 7 min on a 2-core CPU",
                    "full": f"about 4.5 min {_H200}, over an hour on a 2-core CPU"},
    "05_conditional": {"smoke": "seconds (its pictures stay noise)", "laptop": "about 5 min on a 2-core CPU",
                       "full": f"about 2 min {_H200} (6,500 steps took 1 min), about 5 min on a 2-core CPU"},
    "06_stable": {"smoke": "seconds (its pictures stay noise)", "laptop": "about 8 min on a 2-core CPU",
                  "full": "about 7 min on a 2-core CPU (not yet measured on a GPU)"},
}
