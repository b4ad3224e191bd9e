"""What a student should see: each session's key pictures, made in the laptop budget.

``python -m helpers.gallery`` trains each session's key steps the way its
notebook does, with the course's own networks and the notebook's budget
(``helpers.budgets``, ``laptop`` unless ``--budget`` says otherwise), and
writes the figures into ``fig/``:

- ``02_samples.png``, ``02_curves.png``  session 2's MLP GAN: its final grid; its losses, D(x) and D(G(z));
- ``03_dcgan_samples.png``               session 3's DCGAN (R4), after section 5's training;
- ``03_styles_samples.png``              session 3's section 9, ``course-styles``;
- ``04_ring.png``                        session 4's ring: the data, a plain GAN, and packing (PacGAN2);
- ``04_latent_walk.png``                 session 4's walk through the noise of ``course-mlp``;
- ``05_rows.png``                        session 5's conditional GAN: one row per digit;
- ``06_ring_losses.png``                 session 6's ring with each of the five losses;
- ``06_scoreboard.png``                  session 6's scoreboard: the course's DCGAN with each loss.

``fig/gallery.json`` says, for each figure, what it shows, the budget, the
machine, what the course's metrics measured on it, and the command and commit
that made it. ``--sessions 04`` makes one session's figures again and keeps
the others'. Each notebook shows its figure beside the student's own, so a
student can tell a bug from a run that was simply short.
``--budget smoke --out DIR`` checks that it all runs, in seconds.
"""

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import torch

from . import budgets, collapse, data, hooks, losses, loop, metrics, models, plotting, recipes
from .averaging import WeightAverage
from .checkpoints import write_atomically
from .flags import device as device_flag, writable_dir
from .runs import run_recipe
from .runtime import REPO_ROOT, resolve_device, seed_everything
from .saved_runs import load_generator, trained_generator
from .snapshots import Snapshots
from .steps import GAN, train_step

FIG_DIR = REPO_ROOT / "fig"
COMMAND = "python -m helpers.gallery"


def adam(network, lr, betas):
    """Adam over ``network``'s weights, as the notebooks build it."""
    return torch.optim.Adam(network.parameters(), lr=lr, betas=betas)


def train_like_a_notebook(gan, images, labels, batch_size, length, seed=0):
    """Train ``gan`` on ``images`` (and ``labels``, or None) with ``train_step``, as a notebook's
    training cell does, the batches shuffled by ``seed``; return the ``loop.History``."""
    tensors = (images,) if labels is None else (images, labels)
    batches = data.ShuffledBatches(*tensors, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    step = (lambda real: train_step(gan, real)) if labels is None else (lambda real, y: train_step(gan, real, y))
    return loop.fit(step, batches, length.for_fit(), hooks=[hooks.TrainMode(gan.generator, gan.discriminator)])


def sample_grid(generator, noise, nrow=8, labels=None):
    """The grid ``[3, H, W]`` of ``generator(noise)`` (or ``generator(noise, labels)``), drawn in eval mode:
    ``Snapshots.take``, the same drawing as the notebooks' fixed-noise grids."""
    return Snapshots(noise, nrow=nrow, labels=labels).take(generator, 0)


def noise(n, latent_dim, seed=0):
    """``n`` fixed standard normal vectors ``[n, latent_dim]``, the same on every run."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


def write_figure(figure, path):
    """Save a matplotlib ``figure`` as a PNG at ``path``, atomically, and close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    write_atomically(path, buffer.getvalue())


def write_grid(grid, path):
    """Save an ``image_grid`` picture as a PNG at ``path``, atomically (each pixel drawn 2 x 2)."""
    write_atomically(path, plotting.png_bytes(grid, scale=2))


def scores_of(generator, latent_dim, measure, conditional=False):
    """The course's metrics of ``generator`` as a dict, or None when ``measure`` is False (smoke)."""
    if not measure:
        return None
    if conditional:
        return metrics.evaluate_conditional(generator, (latent_dim,), n_per_class=1000).as_dict()
    return metrics.evaluate_generator(generator, (latent_dim,)).as_dict()


def train_session_2(budget, device, seed=0):
    """Session 2's MLP GAN (1,024 units, probabilities, Adam 2e-4 (0.5, 0.999)), trained as its notebook
    trains it in ``budget``: ``(G, history)``."""
    plan = budgets.plan("02_mlp_gan", budget)
    images, _ = data.load_to_device("mnist", "train", device=device, limit=plan.n_train)
    seed_everything(seed)
    G, D = models.r2_generator(hidden=1024).to(device), models.r2_discriminator(hidden=1024).to(device)
    gan = GAN(G, D, adam(G, 2e-4, (0.5, 0.999)), adam(D, 2e-4, (0.5, 0.999)), latent_shape=(64,))
    return G, train_like_a_notebook(gan, images, None, plan.batch_size, plan.train, seed)


def session_2(budget, device, out, measure):
    """Session 2's figures: the MLP GAN's grid and curves."""
    plan = budgets.plan("02_mlp_gan", budget)
    G, history = train_session_2(budget, device)
    write_grid(sample_grid(G, noise(64, 64)), out / "02_samples.png")
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
    plotting.plot_history(dict(history.steps), keys=["d_loss", "g_loss"], ax=left, xlabel="step", title="losses")
    plotting.plot_history(dict(history.epochs), keys=["d_real", "d_fake"], ax=right, title="mean D scores")
    right.axhline(0.5, color="grey", ls="--", lw=1)
    write_figure(figure, out / "02_curves.png")
    trained = f"{budget} budget, {plan.train.describe()}; it trained {len(history.steps['d_loss']):,} steps"
    return {"02_samples.png": ("session 2's MLP GAN, final samples", trained, scores_of(G, 64, measure)),
            "02_curves.png": ("session 2's MLP GAN, losses and mean D scores", trained, None)}


def train_session_3_dcgan(budget, device, seed=0):
    """Session 3's DCGAN, R4's layers at the budget's width and learning rate (``plan.width``, ``plan.lr``),
    trained as section 5 trains it: ``(G, history)``."""
    plan = budgets.plan("03_dcgan", budget)
    images, _ = data.load_to_device("mnist", "train", device=device, limit=plan.n_train)
    seed_everything(seed)
    G, D = models.r4_generator(width=plan.width).to(device), models.r4_discriminator(width=plan.width).to(device)
    G.apply(models.dcgan_init)
    D.apply(models.dcgan_init)
    gan = GAN(G, D, adam(G, plan.lr, (0.5, 0.999)), adam(D, plan.lr, (0.5, 0.999)), latent_shape=(100,),
              logits=True, real_target=0.9, fake_target=0.0)
    return G, train_like_a_notebook(gan, images, None, plan.batch_size, plan.train, seed)


def train_session_3_styles(budget, device, work, seed=0):
    """Session 3's ``course-styles``, run as section 9 runs it, in the folder ``work``: ``(G, history)``."""
    plan = budgets.plan("03_dcgan", budget)
    styles = recipes.get_recipe("course-styles")
    history = run_recipe(styles, work, **plan.styles.for_recipe(), limit=plan.styles_limit, seed=seed,
                         device=device, progress=False, evaluate=False)
    return load_generator(work / "checkpoint.pt", device, styles.name)[1], history


def session_3(budget, device, out, measure, work):
    """Session 3's figures: its DCGAN after section 5, ``course-styles`` after section 9."""
    plan = budgets.plan("03_dcgan", budget)
    G, history = train_session_3_dcgan(budget, device)
    write_grid(sample_grid(G, noise(64, 100)), out / "03_dcgan_samples.png")
    G_styles, styles_history = train_session_3_styles(budget, device, work / "course_styles")
    write_grid(sample_grid(G_styles, noise(64, 64)), out / "03_styles_samples.png")
    return {"03_dcgan_samples.png": ("session 3's DCGAN (R4), final samples",
                                     f"{budget} budget, {plan.train.describe()}; it trained {len(history.steps['d_loss']):,} steps",
                                     scores_of(G, 100, measure)),
            "03_styles_samples.png": ("session 3's course-styles, final samples",
                                      f"{budget} budget, {plan.styles.describe()}; it trained "
                                      f"{len(styles_history.steps['d_loss']):,} steps", scores_of(G_styles, 64, measure))}


def ring_report(generator, ring):
    """What a toy ``generator`` draws on the ``ring``: ``(points [2500, 2], numbers)``, the numbers being
    ``collapse.mode_report``'s modes and high-quality share, and the same within the looser radius 0.1
    (``collapse.modes_within``): ``{"modes", "high_quality", "modes_within_0.1", "within_0.1"}``."""
    points = collapse.generate_points(generator)
    report = collapse.mode_report(points, ring)
    loose, near = collapse.modes_within(points, ring, radius=0.1)
    return points, {"modes": report["modes"], "high_quality": round(report["high_quality"], 3),
                    "modes_within_0.1": loose, "within_0.1": round(near, 3)}


def ring_panel(ax, generator, ring, label):
    """Draw a toy ``generator``'s points over the ``ring``'s centres on ``ax``, titled ``label`` and what
    ``ring_report`` found; return those numbers."""
    points, found = ring_report(generator, ring)
    ax.scatter(*points.T, s=2, color="tab:orange")
    ax.scatter(*ring.centres.T, marker="x", color="black")
    ax.set_title(f"{label}\n{found['modes']}/8 modes, {found['high_quality']:.0%} high quality\n"
                 f"{found['modes_within_0.1']}/8 modes, {found['within_0.1']:.0%} within 0.1", fontsize=9)
    ax.set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), aspect="equal")
    return found


def train_session_4_ring(budget, m, seed=0):
    """Session 4's toy GAN on the ring with packing degree ``m`` (1: a plain GAN), as its notebook trains it."""
    plan = budgets.plan("04_evaluate", budget)
    return collapse.train_toy_gan(collapse.ring(), m=m, steps=plan.toy.steps, lr=2e-3, batch_size=256, seed=seed)[0]


def train_session_6_ring(budget, name, seed=0):
    """Session 6's toy GAN on the ring with loss ``name``, its paper's Adam and the same number of D steps
    as every other loss (``plan.toy.steps``), as section 6 trains it."""
    plan = budgets.plan("06_stable", budget)
    loss = losses.get_loss(name)
    return collapse.train_toy_gan(collapse.ring(), steps=plan.toy.steps // loss.n_critic, lr=loss.lr,
                                  betas=loss.betas, batch_size=256, loss=name, seed=seed)[0]


def session_4(budget, device, out, measure, work):
    """Session 4: the ring without and with packing; a walk through ``course-mlp``'s noise."""
    plan = budgets.plan("04_evaluate", budget)
    ring = collapse.ring()
    figure, axes = plt.subplots(1, 3, figsize=(12, 4))
    axes[0].scatter(*ring.sample(2500, torch.Generator().manual_seed(0)).T, s=2)
    axes[0].set_title("real: 8 narrow modes")
    found = {}
    for ax, m in zip(axes[1:], (1, 2)):
        found[f"m={m}"] = ring_panel(ax, train_session_4_ring(budget, m), ring,
                                     "plain GAN" if m == 1 else f"packing m={m}")
    axes[0].set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), aspect="equal")
    write_figure(figure, out / "04_ring.png")

    course_mlp = recipes.get_recipe("course-mlp")
    run_dir = work / "course_mlp"
    for chunk in range(plan.chunks):
        run_recipe(course_mlp, run_dir, **plan.run.for_recipe(), resume=chunk > 0, device=device, limit=plan.limit,
                   progress=False, evaluate=False)
    _, G_run = load_generator(run_dir / "checkpoint.pt", device, course_mlp.name)
    g = torch.Generator().manual_seed(4)
    z0, z1 = torch.randn(64, generator=g), torch.randn(64, generator=g)
    walk = torch.stack([(1 - t) * z0 + t * z1 for t in torch.linspace(0, 1, 10).tolist()])
    write_grid(sample_grid(G_run, walk, nrow=10), out / "04_latent_walk.png")
    return {"04_ring.png": ("session 4's ring: the data, a plain GAN, packing m=2",
                            f"{budget} budget, {plan.toy.describe()} each", found),
            "04_latent_walk.png": ("session 4's latent walk, course-mlp, along the straight line",
                                   f"{budget} budget, {plan.chunks} x {plan.run.describe()}",
                                   scores_of(G_run, 64, measure))}


def train_session_5(budget, device, seed=0):
    """Session 5's conditional GAN (lr 2e-3, Adam (0.0, 0.99), an average of G's weights), trained as its
    notebook trains it: ``(gan, history)``; draw with ``gan.sampler``."""
    plan = budgets.plan("05_conditional", budget)
    images, labels = data.load_to_device("mnist", "train", device=device, limit=plan.n_train)
    torch.manual_seed(seed)
    G, D = models.ConditionalGenerator().to(device), models.ConditionalDiscriminator().to(device)
    gan = GAN(G, D, adam(G, 2e-3, (0.0, 0.99)), adam(D, 2e-3, (0.0, 0.99)), latent_shape=(64,), logits=True,
              n_classes=10, average=WeightAverage(G))
    return gan, train_like_a_notebook(gan, images, labels, 64, plan.train, seed)


def session_5(budget, device, out, measure):
    """Session 5's figure: the conditional GAN, one row per digit."""
    plan = budgets.plan("05_conditional", budget)
    gan, history = train_session_5(budget, device)
    rows = torch.arange(10).repeat_interleave(10)  # one row per digit, one noise vector per column
    grid = sample_grid(gan.sampler, noise(10, 64, seed=1).repeat(10, 1), nrow=10, labels=rows)
    write_grid(grid, out / "05_rows.png")
    return {"05_rows.png": ("session 5's conditional GAN (the average of G's weights), one row per digit",
                            f"{budget} budget, {plan.train.describe()}; it trained {len(history.steps['d_loss']):,} steps",
                            scores_of(gan.sampler, 64, measure, conditional=True))}


def session_6(budget, device, out, measure, work):
    """Session 6, section 6: the ring with each loss, and the scoreboard, ``course-dcgan`` trained with each."""
    plan = budgets.plan("06_stable", budget)
    ring = collapse.ring()
    figure, axes = plt.subplots(1, len(losses.LOSSES), figsize=(3.2 * len(losses.LOSSES), 3.8))
    found = {}
    for ax, name in zip(axes, losses.LOSSES):
        found[name] = ring_panel(ax, train_session_6_ring(budget, name), ring, name)
    write_figure(figure, out / "06_ring_losses.png")

    figure, axes = plt.subplots(1, len(recipes.LOSS_RECIPES), figsize=(3.2 * len(recipes.LOSS_RECIPES), 3.6))
    board = {}
    for ax, (name, recipe_name) in zip(axes, recipes.LOSS_RECIPES.items()):
        recipe = recipes.get_recipe(recipe_name)
        G_board = trained_generator(recipe, work / f"scoreboard_{recipe_name}", plan.score, device=device,
                                    limit=plan.limit)
        grid = sample_grid(G_board, noise(16, *recipe.latent_shape), nrow=4)
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_axis_off()
        board[name] = scores_of(G_board, *recipe.latent_shape, measure)
        ax.set_title(name + ("" if board[name] is None else f": FD {board[name]['fd']:.1f}"), fontsize=10)
    write_figure(figure, out / "06_scoreboard.png")
    return {"06_ring_losses.png": ("session 6's ring with each loss, each with its paper's Adam",
                                   f"{budget} budget, {plan.toy.describe()} of D each",
                                   found),
            "06_scoreboard.png": ("session 6's scoreboard: course-dcgan with each loss, 16 samples each",
                                  f"{budget} budget, {plan.score.describe()} per loss",
                                  board if measure else None)}


def machine():
    """This machine in words, e.g. "2 CPUs (AMD EPYC 7B13), no GPU, torch 2.14.0"."""
    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} CPUs ({cpu}), {gpu}, torch {torch.__version__}"


def commit():
    """The repository's commit (with "+changes" if the tree differs from it), or "unknown"."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain", "--", "helpers") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def caption(record, name):
    """The caption a notebook shows under figure ``name`` of a ``gallery.json`` ``record``: how long it
    trained, what it measured, on which machine, by which command at which commit."""
    figure = record["figures"][name]
    return (f"*{figure['trained'][0].upper()}{figure['trained'][1:]}{measured_in_words(figure['measured'])}. "
            f"{figure['machine']}; `{figure['command']}`, commit {figure['commit']}.*")


def measured_in_words(measured):
    """"; FD 20.1 (2.8x the floor), 10/10 classes, ..." for scores; "; m=1: 0/8 modes, ..." for the ring
    (one entry per packing degree or loss); "; bce: FD 172.7 (24.3x the floor), ..." for a scoreboard;
    "" for nothing."""
    if not measured:
        return ""
    if "fd" not in measured:  # one entry per packing degree or loss
        return "; " + ", ".join(f"{name}: {briefly(entry)}" for name, entry in measured.items())
    words = (f"; FD {measured['fd']:.1f} ({measured['fd'] / measured['floor']:.1f}x the floor), "
             f"{measured['covered']}/10 classes, precision {measured['precision']:.2f}, recall {measured['recall']:.2f}")
    return words + (f", conditional accuracy {measured['accuracy']:.1%}" if "accuracy" in measured else "")


def briefly(entry):
    """"8/8 modes" for a ring's report, "FD 172.7 (24.3x the floor)" for scores."""
    if "modes_within_0.1" in entry:
        return f"{entry['modes']}/8 modes ({entry['modes_within_0.1']}/8 within 0.1)"
    if "modes" in entry:
        return f"{entry['modes']}/8 modes"
    return f"FD {entry['fd']:.1f} ({entry['fd'] / entry['floor']:.1f}x the floor)"


SESSIONS = ("02", "03", "04", "05", "06")


def make_gallery(budget, out, device=None, sessions=SESSIONS):
    """Train ``sessions``' key steps in ``budget`` and write their figures into ``out``; return the record.

    ``out/gallery.json`` keeps, for every figure, what it shows, what it
    measured, and the budget, command, commit and machine that made it. A run
    of some sessions only replaces their figures' entries and keeps the rest.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(device)
    measure = budget != "smoke"
    record_path = out / "gallery.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {"figures": {}}
    command = f"{COMMAND} --budget {budget}" + ("" if tuple(sessions) == SESSIONS else f" --sessions {' '.join(sessions)}")
    made_by = {"budget": budget, "command": command, "commit": commit(), "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="gallery-") as work:
        stage = Path(work) / "figures"  # a session's figures land here, and move into out once it is done
        stage.mkdir()
        makers = {"02": lambda: session_2(budget, device, stage, measure),
                  "03": lambda: session_3(budget, device, stage, measure, Path(work)),
                  "04": lambda: session_4(budget, device, stage, measure, Path(work)),
                  "05": lambda: session_5(budget, device, stage, measure),
                  "06": lambda: session_6(budget, device, stage, measure, Path(work))}
        for name in sessions:
            start = time.perf_counter()
            figures = makers[name]()
            seconds = round(time.perf_counter() - start)
            print(f"session {name}: {seconds} s")
            for file, (shows, trained, measured) in figures.items():
                record["figures"][file] = {"shows": shows, "trained": trained, "measured": measured,
                                           "session_seconds": seconds, **made_by}
            # the session's figures and their record together: stopped later (Ctrl-C), out/ still agrees with itself
            for file in figures:
                shutil.move(stage / file, out / file)
            write_atomically(record_path, (json.dumps(record, indent=1) + "\n").encode())
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", choices=budgets.BUDGETS, default="laptop",
                        help="the notebooks' budget to train in (default: laptop)")
    parser.add_argument("--out", type=writable_dir, default=FIG_DIR,
                        help="where the figures go, checked before training (default: fig/)")
    parser.add_argument("--device", type=device_flag, default=None, help="cpu, cuda or mps (default: the best)")
    parser.add_argument("--sessions", nargs="+", choices=SESSIONS, default=list(SESSIONS),
                        help="make only these sessions' figures, keeping the others' (default: all)")
    args = parser.parse_args(argv)
    matplotlib.use("Agg")
    record = make_gallery(args.budget, args.out, args.device, tuple(args.sessions))
    print(f"wrote the figures of sessions {' '.join(args.sessions)} into {args.out}; "
          f"{args.out / 'gallery.json'} describes all {len(record['figures'])}")


if __name__ == "__main__":
    main()
