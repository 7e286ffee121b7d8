"""How many runs does it take to tune the learning rate: grid search, random search, or the hypergradient?

The criterion is L(eta) = (1/T) sum_{t=1..T} f(x_t), the average loss of a run of T steps (smooth in eta,
so all three methods chase the same number). L* is its minimum over 2000 log-spaced rates. Counted: the
runs until a method first holds a rate with L <= 1.01 L*:

* grid search: the smallest n for which the n-point log grid over [1e-5, 1e2] (DeepOBS's range) holds one;
* random search: rates log-uniform over the same range, median over 20 seeds (Bergstra & Bengio 2012);
* gradient: :func:`jaxgd.bench.hypergradients.gradient_tune` from eta = 1e-3, Adam on log eta of log L,
  each iteration one checkpointed hypergradient, charged at its measured cost in runs (wall time of a
  hypergradient / wall time of a run, both compiled).

Then a small benchmark (:func:`jaxgd.bench.bench`): leaderboard and profile of sgd and adam.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import Report

import jaxgd
from jaxgd import plot
from jaxgd.bench import bench
from jaxgd.bench.hypergradients import gradient_tune, hypergradient, run_loss

ORDER = 97  # place in the index page
NAME = "tuning"
TITLE = "Tuning the learning rate: grid, random and gradient-based search, and a small benchmark"
LOW, HIGH = 1e-5, 1e2


def cases(small: bool):
    ravine = jaxgd.problems.ravine(10.0)
    out = [("sgd on ravine10", jaxgd.sgd, ravine, 100)]
    if not small:
        quad = jaxgd.problems.get("quadratic10")
        rosen = jaxgd.problems.rosenbrock()
        out += [("sgd on quadratic10", jaxgd.sgd, quad, 200), ("adam on rosenbrock", jaxgd.adam, rosen, 300)]
    return out


def _losses(make, problem, steps, lrs):
    f = jax.jit(jax.vmap(lambda lr: run_loss(make, problem, {"learning_rate": lr}, problem.x0, steps, average=True)))
    v = np.asarray(f(jnp.asarray(lrs, problem.x0.dtype)), float)
    return np.where(np.isfinite(v), v, np.inf)


def grid_runs(make, problem, steps, target, max_n: int) -> int | None:
    """The smallest n whose n-point log grid over [LOW, HIGH] holds a rate with L <= target (all grids in one call)."""
    grids = [np.geomspace(LOW, HIGH, n) if n > 1 else np.array([np.sqrt(LOW * HIGH)]) for n in range(1, max_n + 1)]
    values = np.split(_losses(make, problem, steps, np.concatenate(grids)), np.cumsum([len(g) for g in grids])[:-1])
    hits = [n for n, v in zip(range(1, max_n + 1), values) if v.min() <= target]
    return hits[0] if hits else None


def random_runs(make, problem, steps, target, draws: int, seeds: int) -> float:
    """Median over seeds of the draws (log-uniform over [LOW, HIGH]) until one has L <= target."""
    u = np.random.default_rng(0).uniform(np.log(LOW), np.log(HIGH), (seeds, draws))
    values = _losses(make, problem, steps, np.exp(u).ravel()).reshape(seeds, draws)
    counts = [(np.flatnonzero(np.minimum.accumulate(v) <= target)[:1] + 1).tolist() or [np.inf] for v in values]
    return float(np.median([c[0] for c in counts]))


def run_cost(make, problem, steps) -> float:
    """Wall time of one hypergradient over that of one run (both compiled; best of 5)."""
    hp = {"learning_rate": 1e-3}
    one = jax.jit(lambda lr: run_loss(make, problem, {"learning_rate": lr}, problem.x0, steps, average=True))

    def best(call):
        jax.block_until_ready(call())
        times = []
        for _ in range(5):
            t = time.perf_counter()
            jax.block_until_ready(call())
            times.append(time.perf_counter() - t)
        return min(times)

    return best(lambda: hypergradient(make, problem, hp, problem.x0, steps, average=True)) / best(lambda: one(1e-3))


def compare(report: Report, label, make, problem, steps, small: bool) -> dict:
    fine = np.geomspace(1e-4, 1.0, 400 if small else 2000)
    values = _losses(make, problem, steps, fine)
    best = float(values.min())
    target = 1.01 * best
    row = {"case": label, "steps": steps, "best_lr": float(fine[np.argmin(values)]), "best_loss": best}
    row["grid_runs"] = grid_runs(make, problem, steps, target, 60 if small else 200)
    row["random_runs"] = random_runs(make, problem, steps, target, 100 if small else 400, 10 if small else 20)
    g = gradient_tune(make, problem, problem.x0, steps, learning_rate=1e-3, iterations=20 if small else 40, meta_lr=0.3)
    hit = np.flatnonzero(np.asarray(g.losses) <= target)
    row["gradient_iterations"] = int(hit[0]) if hit.size else None
    row["hypergradient_cost_in_runs"] = run_cost(make, problem, steps)
    row["gradient_runs"] = None if not hit.size else (hit[0] + 1) * row["hypergradient_cost_in_runs"]
    row["gradient_final_lr"] = float(g.learning_rates[-1])
    report.progress(f"{label}: grid {row['grid_runs']}, random {row['random_runs']}, gradient {row['gradient_runs']}")
    fig, axes = plot.subplots(size=(5.0, 3.5))
    ax = axes[0, 0]
    ax.loglog(fine, values, "-", lw=1, label="L(eta), fine grid")
    ax.loglog(np.asarray(g.learning_rates), np.asarray(g.losses), "o-", ms=3, label="gradient-based iterates")
    ax.axhline(target, color="k", ls=":", lw=0.8, label="1.01 L*")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("average loss over the run")
    ax.set_title(label)
    ax.legend(fontsize=7)
    report.figure(fig, f"tuning_{label.replace(' ', '_')}.png", f"L(eta) and the hypergradient iterates, {label}.")
    return row


def _fmt(v) -> str:
    return "never" if v is None or v == np.inf else f"{v:.3g}"


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    rows = [compare(report, *case, small) for case in cases(small)]
    for r in rows:
        report.finding(
            f"{r['case']} (T = {r['steps']}): within 1% of the best average loss (eta = {r['best_lr']:.3g}) "
            f"after {_fmt(r['grid_runs'])} runs of a log grid over [1e-5, 1e2], a median {_fmt(r['random_runs'])} "
            f"runs of random search, {_fmt(r['gradient_iterations'])} hypergradient steps from eta = 1e-3 "
            f"({_fmt(r['gradient_runs'])} run-equivalents at {r['hypergradient_cost_in_runs']:.2g} runs each)."
        )
    report.results["comparison"] = rows
    report.progress("small benchmark: sgd and adam")
    problems = ["ravine10", "mgh_beale"] if small else ["ravine10", "mgh_beale", "noisy_quadratic100", "wood"]
    board = bench(
        report.out / "bench",
        optimizers=["sgd", "adam"],
        problems=problems,
        steps=60 if small else 500,
        figures=not small,
        timing=not small,
        second_order=() if small else ("lbfgs", "newton_cg"),
    )
    for o in board["order"]:
        s = board["summary"][o]
        tuned = s["kind"] == "first_order"  # second-order methods: no learning rate, one run per problem
        report.finding(
            f"Benchmark ({len(problems)} problems, {board['steps']} steps): {o} reached f - f* <= 1e-3 (f0 - f*) on "
            f"{s['solved']['0.001']} of {s['problems']}, mean rank {s['mean_rank_final_gap']:.2g} by final gap"
            + (f", median good range {s['median_good_range_decades']:.2g} decades of learning rate." if tuned else ".")
        )
    report.outputs["bench/leaderboard.md"] = "the small benchmark's leaderboard (jaxgd.bench.bench)"
    report.results["bench"] = {k: board[k] for k in ("order", "summary", "steps")}
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
