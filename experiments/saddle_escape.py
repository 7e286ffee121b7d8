"""Escaping a strict saddle: f(x) = 1/2 (x1^2 - x2^2) from (1, delta), delta = 1e-8 .. 1e-1.

The origin is a strict saddle (:func:`jaxgd.analysis.classify_critical_point`).
GD multiplies x2 by (1 + eta) each step, so it needs exactly
ceil(log(1/delta) / log(1 + eta)) steps to reach |x2| >= 1: logarithmic in 1/delta,
and from delta = 0 (the stable subspace) it converges to the saddle. Heavy ball's
growth factor is the larger root of z^2 - (1 + b + eta) z + b, faster. Adam's
normalised first step is eta sign(g) whatever |g|, so its escape time hardly
depends on delta.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from _common import Report, linear_rate

import jaxgd
from jaxgd import analysis, plot

ORDER = 90  # place in the index page
NAME = "saddle_escape"
TITLE = "Escaping a strict saddle"
ETA = 0.1
MOMENTUM = 0.9


def escape_steps(x2_path: np.ndarray, radius: float = 1.0) -> np.ndarray:
    """First step at which |x2| >= radius, per run (-1 if never)."""
    hit = np.abs(x2_path) >= radius
    return np.where(hit.any(axis=-1), np.argmax(hit, axis=-1), -1)


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    problem = jaxgd.problems.strict_saddle((1.0, -1.0))
    deltas = np.logspace(-8, -1, 8 if small else 15)
    steps = 250 if small else 400
    starts = jnp.stack([jnp.ones(len(deltas)), jnp.asarray(deltas)], axis=1).astype(problem.x0.dtype)
    kind = analysis.classify_critical_point(problem, jnp.zeros(2, problem.x0.dtype))
    optimizers = {
        f"GD eta={ETA}": jaxgd.sgd(ETA),
        f"heavy ball eta={ETA}, b={MOMENTUM}": jaxgd.momentum(ETA, MOMENTUM),
        f"Adam eta={ETA}": jaxgd.adam(ETA),
    }
    growth = {
        f"GD eta={ETA}": linear_rate("gd", ETA, 0.0, [-1.0]),
        f"heavy ball eta={ETA}, b={MOMENTUM}": linear_rate("heavy_ball", ETA, MOMENTUM, [-1.0]),
    }
    rows, paths, esc = [], {}, {}
    for label, opt in optimizers.items():
        report.progress(f"{label}: {len(deltas)} starts x {steps} steps")
        traj = jax.vmap(lambda x0, opt=opt: jaxgd.run(opt, problem, x0, steps))(starts)
        x2 = np.asarray(traj.params[..., 1], dtype=float)
        esc[label] = escape_steps(x2)
        paths[label] = np.asarray(traj.params[::3], dtype=float)
        for d, e in zip(deltas, esc[label]):
            row = {"optimizer": label, "delta": float(d), "escape_step": int(e)}
            if label in growth:
                row["predicted_asymptotic"] = float(np.log(1 / d) / np.log(growth[label]))
            if label.startswith("GD"):
                row["predicted_exact"] = int(np.ceil(np.log(1 / d) / np.log(1 + ETA) - 1e-9))
            rows.append(row)
    stay = jaxgd.run(jaxgd.sgd(ETA), problem, jnp.asarray([1.0, 0.0], problem.x0.dtype), steps)
    to_saddle = float(jnp.linalg.norm(stay.final_params))
    fig, axes = plot.subplots(1, 2, size=(5.2, 4.2))
    plot.contour(
        problem, paths, ax=axes[0, 0], title="paths from (1, delta), several delta", box=((-1.5, 1.5), (-1.5, 1.5))
    )
    ax = axes[0, 1]
    for label, e in esc.items():
        ax.semilogx(deltas, np.where(e >= 0, e, np.nan), "o-", ms=3, label=label)
    ax.semilogx(deltas, np.log(1 / deltas) / np.log(1 + ETA), "k:", label="GD theory log(1/delta)/log(1+eta)")
    ax.set_xlabel("delta = initial x2")
    ax.set_ylabel("steps until |x2| >= 1")
    ax.set_title(f"escape time (the origin is a {kind})", fontsize=9)
    ax.legend(fontsize=7)
    report.figure(
        fig, "saddle_escape.png", "Paths leaving the saddle, and escape time against the initial offset delta."
    )
    exact = [r for r in rows if "predicted_exact" in r]
    off = max(abs(r["escape_step"] - r["predicted_exact"]) for r in exact)
    report.finding(
        f"The origin is a {kind}; GD escapes in the predicted number of steps (off by at most {off}) and, started "
        f"on the stable axis, ends {to_saddle:.1g} from the saddle."
    )
    report.claim(
        "course (saddle points)",
        "GD escapes a strict saddle, in about log(1/delta)/log(1 + eta) steps from an offset delta",
        f"escape steps off the prediction by at most {off}",
        off <= 1,
    )
    report.csv(rows, f"{NAME}.csv", "Per optimizer and delta: measured and predicted escape steps.")
    report.results.update(
        runs=rows, classification=kind, gd_from_stable_subspace_final_distance=to_saddle, steps=steps, lr=ETA
    )
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
