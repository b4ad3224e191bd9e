"""The lesson ledger: does each session's lesson show in the student's own run, seed after seed?

Every session teaches one thing the student should *see* in the ``laptop``
budget (about 10 minutes of a 2-core CPU). This script trains each session's
key step the way its notebook does (``helpers.gallery``'s trainers, with the
notebook's budget from ``helpers.budgets``), for several seeds, measures it,
and prints, per session, the criterion, each seed's numbers, and in how many
seeds the lesson held. A lesson counts as landing when it holds in at least 2
of 3 seeds; a notebook claims no more than that.

- 02 the MLP GAN draws every digit: 10/10 classes;
- 03 the student's DCGAN draws digits: at least 9/10 classes and precision at
  least 0.5; and ``course-styles`` is within 3x the floor;
- 04 on the ring, packing (m=2) finds at least 7 of the 8 modes, and more
  than the plain GAN (which is also reported as collapsed or not: 3 modes or
  fewer);
- 05 the conditional GAN draws the digit asked for: conditional accuracy at
  least 95%;
- 06 on the ring, a stable loss with its paper's Adam finds at least 6 of 8
  modes where BCE finds at most 3; and on a line, the minimax G loss's
  gradient vanishes (below 1e-3 after 300 of D's steps) while the
  non-saturating and Wasserstein ones do not (above 0.1), and the minimax G
  stays put while the Wasserstein G reaches the data.

The toy GANs (04, 06) train a fixed number of steps, so they run two at a time
in processes of one torch thread each; the MNIST lessons (02, 03, 05) train
for the budget's seconds, one after the other, with every core, as a student's
laptop would.

Usage::

    python benchmarks/lessons.py                          # every session, seeds 0, 1, 2 (about an hour on 2 cores)
    python benchmarks/lessons.py --sessions 04 06         # the toy lessons only (minutes)
    python benchmarks/lessons.py --budget smoke --seeds 1 # a smoke run: every session reports, in a minute or two
    python benchmarks/lessons.py --json ledger.json       # also write the ledger as JSON
"""

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from helpers import budgets, collapse, flags, game, gallery, losses, metrics
from helpers.checkpoints import write_atomically
from helpers.runtime import resolve_device

SESSIONS = ("02", "03", "04", "05", "06")
STABLE = [name for name in losses.LOSSES if name != "bce"]


def measure_02(budget, seed, device, work):
    """Session 2: the MLP GAN's classes, FD and precision after the budget."""
    G, history = gallery.train_session_2(budget, device, seed)
    s = metrics.evaluate_generator(G, (64,))
    return {"steps": len(history.steps["d_loss"]), "classes": s.covered, "fd_x_floor": round(s.fd / s.floor, 1),
            "precision": round(s.precision, 2), "recall": round(s.recall, 2), "holds": s.covered == 10}


def measure_03(budget, seed, device, work):
    """Session 3: the student's DCGAN (R4's layers at the budget's width) and ``course-styles``."""
    G, history = gallery.train_session_3_dcgan(budget, device, seed)
    s = metrics.evaluate_generator(G, (100,))
    G_styles, styles_history = gallery.train_session_3_styles(budget, device, Path(work) / f"styles_{seed}", seed)
    styles = metrics.evaluate_generator(G_styles, (64,))
    return {"dcgan_steps": len(history.steps["d_loss"]), "dcgan_classes": s.covered,
            "dcgan_precision": round(s.precision, 2), "dcgan_fd_x_floor": round(s.fd / s.floor, 1),
            "styles_steps": len(styles_history.steps["d_loss"]), "styles_fd_x_floor": round(styles.fd / styles.floor, 2),
            "holds": s.covered >= 9 and s.precision >= 0.5 and styles.fd <= 3 * styles.floor}


def measure_05(budget, seed, device, work):
    """Session 5: the conditional GAN's conditional accuracy (its average of G's weights)."""
    gan, history = gallery.train_session_5(budget, device, seed)
    s = metrics.evaluate_conditional(gan.sampler, (64,), n_per_class=budgets.plan("05_conditional", budget).n_per_class)
    return {"steps": len(history.steps["d_loss"]), "accuracy": round(s.accuracy, 4),
            "fd_x_floor": round(s.fd / s.floor, 1), "holds": s.accuracy >= 0.95}


def ring_modes(job):
    """One toy GAN on the ring, in a process of one thread: ``(job, ring_report's numbers)``."""
    session, budget, variant, seed = job
    torch.set_num_threads(1)
    if session == "04":
        G = gallery.train_session_4_ring(budget, variant, seed)
    else:
        G = gallery.train_session_6_ring(budget, variant, seed)
    return job, gallery.ring_report(G, collapse.ring())[1]


def toy_runs(sessions, budget, seeds, workers):
    """Every toy GAN the ring lessons need, two (``workers``) at a time: ``{(session, variant, seed): numbers}``."""
    jobs = [("04", budget, m, seed) for m in (1, 2) for seed in range(seeds) if "04" in sessions]
    jobs += [("06", budget, name, seed) for name in losses.LOSSES for seed in range(seeds) if "06" in sessions]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return {(session, variant, seed): found for (session, _, variant, seed), found in pool.map(ring_modes, jobs)}


def measure_04(toys, seed):
    """Session 4: packing finds (nearly) every mode of the ring, and more than the plain GAN; whether the plain
    GAN collapsed outright (3 modes or fewer) is reported beside it."""
    plain, packed = toys[("04", 1, seed)], toys[("04", 2, seed)]
    return {"plain_modes": plain["modes"], "packed_modes": packed["modes"], "plain_collapsed": plain["modes"] <= 3,
            "holds": packed["modes"] >= 7 and packed["modes"] > plain["modes"]}


def measure_06(toys, seed):
    """Session 6: the ring with each loss (its paper's Adam), and the line game's gradients and paths."""
    found = {name: toys[("06", name, seed)] for name in losses.LOSSES}
    best = max(STABLE, key=lambda name: found[name]["modes"])
    gradients = {name: game.gradient_as_d_learns(name, seed=seed)[1][-1].item() for name in game.LINE_G_LOSSES}
    paths = {name: game.move_line_generator(name, seed=seed) for name in ("minimax", "wasserstein")}
    arrived = (paths["wasserstein"] >= game.Line().data_centre - game.Line().width).nonzero()
    reached = int(arrived[0, 0]) if len(arrived) else None  # the first round within one width of the data
    ring_holds = found["bce"]["modes"] <= 3 and found[best]["modes"] >= 6
    line_holds = (abs(gradients["minimax"]) < 1e-3 and min(abs(gradients["non-saturating"]),
                                                           abs(gradients["wasserstein"])) > 0.1
                  and abs(paths["minimax"][-1].item() - paths["minimax"][0].item()) < 0.1 and reached is not None)
    return {**{f"{name}_modes": f"{entry['modes']} ({entry['modes_within_0.1']})" for name, entry in found.items()},
            "best_stable": best,
            **{f"grad_{name}": float(f"{value:.2g}") for name, value in gradients.items()},
            "minimax_moved": round(paths["minimax"][-1].item() - paths["minimax"][0].item(), 3),
            "wasserstein_reached_round": reached, "holds": ring_holds and line_holds}


CRITERIA = {
    "02": "the MLP GAN draws 10/10 classes",
    "03": "the student's DCGAN: >= 9/10 classes and precision >= 0.5; course-styles within 3x the floor",
    "04": "ring: packing (m=2) finds >= 7 of 8 modes, and more than the plain GAN",
    "05": "conditional accuracy >= 95%",
    "06": "ring: BCE <= 3 modes, a stable loss (its paper's Adam) >= 6; line: minimax gradient < 1e-3, "
          "the others > 0.1, minimax G stays, Wasserstein G reaches the data",
}


def ledger(sessions=SESSIONS, budget="laptop", seeds=3, device="cpu", workers=2):
    """Measure every lesson in ``sessions`` for ``seeds`` seeds; return ``{session: {"criterion", "runs",
    "held"}}``, ``runs`` one dict of numbers per seed (``holds`` among them)."""
    device = resolve_device(device)
    result = {}
    toys = toy_runs(sessions, budget, seeds, workers) if {"04", "06"} & set(sessions) else {}
    with tempfile.TemporaryDirectory(prefix="lessons-") as work:
        for session in sessions:
            start = time.perf_counter()
            runs = []
            for seed in range(seeds):
                if session in ("04", "06"):
                    numbers = (measure_04 if session == "04" else measure_06)(toys, seed)
                else:
                    measure = {"02": measure_02, "03": measure_03, "05": measure_05}[session]
                    numbers = measure(budget, seed, device, work)
                runs.append({"seed": seed, **numbers})
            result[session] = {"criterion": CRITERIA[session], "runs": runs,
                               "held": sum(run["holds"] for run in runs), "seconds": round(time.perf_counter() - start)}
            print_session(session, result[session], seeds)
    return result


def print_session(session, entry, seeds):
    """One session's lines of the ledger."""
    verdict = "LANDS" if entry["held"] >= min(2, seeds) else "DOES NOT LAND"
    print(f"session {session}: {entry['criterion']}")
    for run in entry["runs"]:
        numbers = ", ".join(f"{key} {value}" for key, value in run.items() if key not in ("seed", "holds"))
        print(f"  seed {run['seed']}: {'holds' if run['holds'] else 'fails'}: {numbers}")
    print(f"  held in {entry['held']} of {seeds} seeds: {verdict}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", nargs="+", choices=SESSIONS, default=list(SESSIONS),
                        help="which sessions' lessons to measure (default: all)")
    parser.add_argument("--budget", choices=budgets.BUDGETS, default="laptop", help="the notebooks' budget (default laptop)")
    parser.add_argument("--seeds", type=flags.positive_int, default=3, help="seeds 0..N-1 per lesson (default 3)")
    parser.add_argument("--device", type=flags.device, default="cpu", help="device for the MNIST lessons (default cpu)")
    parser.add_argument("--workers", type=flags.positive_int, default=min(2, os.cpu_count() or 1),
                        help="toy GANs trained at once, one thread each (default 2)")
    parser.add_argument("--json", type=flags.writable_file,
                        help="also write the ledger to this file (checked before anything trains)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(f"the lesson ledger: {args.budget} budget, {args.seeds} seed(s), {gallery.machine()}")
    result = ledger(tuple(args.sessions), args.budget, args.seeds, args.device, args.workers)
    print(f"total {time.perf_counter() - start:.0f} s; {sum(e['held'] >= min(2, args.seeds) for e in result.values())} "
          f"of {len(result)} lessons land")
    if args.json is not None:
        write_atomically(args.json, (json.dumps({"budget": args.budget, "seeds": args.seeds,
                                                 "machine": gallery.machine(), "sessions": result}, indent=1)
                                     + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
