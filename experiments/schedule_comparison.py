"""Learning-rate schedules on the ravine x1^2 + 10 x2^2 with noisy gradients (g + xi, xi ~ N(0, sigma^2 I)).

With a constant eta the iterates do not converge: they settle into a noise
floor, which for GD on f = 1/2 sum lambda_i x_i^2 is exactly
E f = sum_i eta sigma^2 / (2 (2 - eta lambda_i)) (stationary variance of an AR(1)
process). Decaying schedules go below the floor of their starting rate; the
measured mean loss of the constant schedules is compared with the exact
E f(x_t) (transient included).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from _common import Report

import jaxgd
from jaxgd import plot
from jaxgd import schedules as S

ORDER = 60  # place in the index page
NAME = "schedule_comparison"
TITLE = "Learning-rate schedules under gradient noise"
SIGMA = 1.0
ETA0 = 0.05


def noise_floor(lr: float, eigenvalues, sigma: float = SIGMA) -> float:
    """Stationary E f of GD with additive gradient noise N(0, sigma^2 I) on 1/2 sum lambda_i x_i^2."""
    lam = np.asarray(eigenvalues, dtype=float)
    return float(np.sum(lr * sigma**2 / (2 * (2 - lr * lam))))


def expected_loss(lr: float, eigenvalues, x0, t, sigma: float = SIGMA) -> np.ndarray:
    """Exact E f(x_t) of noisy GD at a constant rate, r_i = 1 - eta lambda_i::

    E f(x_t) = 1/2 sum_i lambda_i (x0_i^2 r_i^(2t) + eta^2 sigma^2 (1 - r_i^(2t)) / (1 - r_i^2))
    """
    lam, x0 = np.asarray(eigenvalues, float), np.asarray(x0, float)
    r2 = (1 - lr * lam) ** 2
    t = np.asarray(t, float)[..., None]
    return 0.5 * np.sum(lam * (x0**2 * r2**t + lr**2 * sigma**2 * (1 - r2**t) / (1 - r2)), axis=-1)


def schedules(steps: int) -> dict:
    return {
        f"constant {ETA0:g}": ETA0,
        f"constant {ETA0 / 10:g}": ETA0 / 10,
        "step decay (x0.5 every T/8)": S.step_decay(ETA0, 0.5, steps // 8),
        "exponential (x0.01 over T)": S.exponential_decay(ETA0, steps, 0.01),
        "1/t": S.inverse_time_decay(ETA0, 50.0 / steps),
        "power (c=0.5)": S.power_decay(ETA0, steps / 50, 0.5),
        "linear to floor": S.linear_to_floor(ETA0, ETA0 / 100, steps),
        "cyclical (triangular2)": S.cyclical(ETA0 / 100, ETA0, steps // 8, "triangular2"),
        "1cycle": S.one_cycle(ETA0, steps),
    }


def _noisy(x, xi, diag):
    return 0.5 * jnp.sum(diag * x * x) + jnp.dot(xi, x)


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    problem = jaxgd.problems.ravine(10.0)
    diag = problem.data["diag"]
    eig = np.asarray(diag, dtype=float)
    steps = 400 if small else 3000
    seeds = 32
    noise = SIGMA * jax.random.normal(jax.random.key(0), (seeds, steps, 2), problem.x0.dtype)
    loss = jax.tree_util.Partial(_noisy, diag=diag)
    scheds = schedules(steps)
    optimizers = {label: jaxgd.sgd(s) for label, s in scheds.items()}
    plateau = jaxgd.chain(jaxgd.sgd(ETA0), S.reduce_on_plateau(factor=0.5, patience=steps // 20))
    optimizers["reduce on plateau (x0.5)"] = plateau
    true_f = jax.vmap(jax.vmap(problem))
    curves, rows = {}, []
    tail = steps // 4
    for label, opt in optimizers.items():
        report.progress(f"{label}: {seeds} seeds x {steps} steps")
        traj = jax.vmap(lambda xi, opt=opt: jaxgd.run(opt, loss, problem.x0, steps, batches=xi))(noise)
        f = np.asarray(true_f(traj.params), dtype=float).mean(axis=0)  # mean over seeds of f(x_t)
        curves[label] = f
        row = {"schedule": label, "final_mean_f": float(f[-tail:].mean()), "steps": steps, "seeds": seeds}
        if label.startswith("constant"):
            lr = float(scheds[label])
            row["predicted_floor"] = noise_floor(lr, eig)
            row["predicted_final_mean_f"] = float(
                expected_loss(lr, eig, problem.x0, np.arange(steps - tail + 1, steps + 1)).mean()
            )
        rows.append(row)
    const = [r for r in rows if "predicted_final_mean_f" in r]
    err = max(abs(r["final_mean_f"] / r["predicted_final_mean_f"] - 1) for r in const)
    report.finding(f"Constant rates settle at their predicted noise floor (within {100 * err:.2g}%, {seeds} seeds).")
    best = min(rows, key=lambda r: r["final_mean_f"])
    decaying = min((r for r in rows if "predicted_floor" not in r), key=lambda r: r["final_mean_f"])
    floor = min(r["predicted_floor"] for r in const)
    report.claim(
        "course (SGD schedules)",
        "with a constant rate SGD stalls at a noise floor; decaying the rate goes below it",
        f"{decaying['schedule']}: mean f {decaying['final_mean_f']:.3g} against the lowest floor {floor:.3g}",
        decaying["final_mean_f"] < floor,
    )
    report.finding(f"Lowest mean loss at the end: {best['schedule']} ({best['final_mean_f']:.3g}).")
    ax = plot.loss_curves(curves, title=f"mean f(x_t) over {seeds} seeds, sigma = {SIGMA:g}", ylabel="E f(x_t)")
    for row in rows:
        if "predicted_floor" in row:
            ax.axhline(row["predicted_floor"], color="k", ls=":", lw=0.8)
    report.figure(
        ax, "schedules_loss.png", "Mean loss under gradient noise; dotted lines: the constant-rate noise floors."
    )
    lr_curves = {k: (lambda t, v=v: jnp.full(t.shape, v)) if not callable(v) else v for k, v in scheds.items()}
    ax = plot.learning_rates(lr_curves, steps)
    report.figure(ax, "schedules_lr.png", "The learning-rate schedules eta_t compared.")
    report.csv(
        rows, f"{NAME}.csv", "Per schedule: mean f over the last quarter; the predicted floor for constant rates."
    )
    report.results["runs"] = rows
    report.results["sigma"] = SIGMA
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
