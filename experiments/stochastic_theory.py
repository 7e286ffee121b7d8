"""SGD theory measured over seeds: the ST449 theorem, constant vs decaying vs averaged steps, Nesterov under noise.

Gradient noise comes from the exact oracle of :func:`jaxgd.stochastic.noisy_gradient`
(g = grad f + xi, E ||xi||^2 = sigma^2), so every constant of the theorems is known.

1. ST449 lecture 3: SGD with eta_t = 1/(beta + (sigma/R) sqrt(t/2)) on a convex quadratic
   (eigenvalues log-spaced from 1 to 1e-4): E f(x~_t) - f* <= sqrt(2) sigma R / sqrt(t) + beta R^2 / t
   for the average x~_t; in the noise-dominated regime the excess falls like t^(-1/2).
2. On a strongly convex quadratic (mu = 0.1, beta = 1) a constant eta stalls at the exact noise
   floor sum_i eta sigma^2 / (2 d (2 - eta lambda_i)), growing with eta; eta_t = c / (mu (t + t0))
   gives O(1/t) under the bound of Bottou, Curtis & Nocedal (2018, Thm 4.7); averaging the
   iterates of a constant step is O(1/t) too (Bach & Moulines 2013).
3. SYS 6016: with noise and the O(1/t) step, SGD, heavy ball and Nesterov decay at the same slope;
   without noise, on the convex quadratic, Nesterov (1983) is O(1/t^2) where GD is O(1/t).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from _common import Report

import jaxgd
from jaxgd import plot
from jaxgd import stochastic as st

ORDER = 65  # place in the index page
NAME = "stochastic_theory"
TITLE = "Stochastic gradient descent: theorems measured over seeds"
SIGMA_CONVEX = 1.0
SIGMA_STRONG = 1.0
C, MOMENTUM = 2.0, 0.9
CONSTANT_LRS = (0.5, 0.2, 0.05)


def slope(t, y, lo: float, hi: float | None = None) -> float:
    """Least-squares slope of log y against log t over lo <= t <= hi."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    m = (t >= lo) & (t <= (hi if hi is not None else t.max())) & (y > 0)
    return float(np.polyfit(np.log(t[m]), np.log(y[m]), 1)[0])


def over_seeds(tx, loss, x0, steps: int, keys, eval_at) -> st.StochasticTrajectory:
    """One ``jit(vmap)`` of :func:`jaxgd.stochastic.run` over PRNG keys."""
    return jax.vmap(lambda k: st.run(tx, loss, x0, steps, key=k, eval_at=eval_at))(keys)


def theorem(report: Report, steps: int, seeds: int) -> dict:
    """ST449's theorem: last vs averaged iterate over seeds, the bound, the fitted slope of the average."""
    lam = jnp.logspace(0.0, -4.0, 50)
    problem = jaxgd.problems.quadratic(lam)  # x* = 0, f* = 0, start (1, ..., 1)
    beta, sigma = 1.0, SIGMA_CONVEX
    radius = float(jnp.linalg.norm(problem.x0))
    tx = st.polyak_averaging(jaxgd.sgd(st.smooth_convex_step(beta, sigma, radius)))
    keys = jax.random.split(jax.random.key(0), seeds)
    traj = over_seeds(tx, st.noisy_gradient(problem, sigma), problem.x0, steps, keys, st.log_steps(steps, 40))
    t = np.asarray(traj.steps[0])[1:]
    avg, last = np.asarray(traj.averaged_loss, float)[:, 1:], np.asarray(traj.loss, float)[:, 1:]
    mean, se = avg.mean(0), avg.std(0) / np.sqrt(seeds)
    bound = np.asarray(st.smooth_convex_bound(t, beta, sigma, radius), float)
    noisy_from = 10 * 2 * (beta * radius / sigma) ** 2  # sqrt(2) sigma R / sqrt(t) > 10 beta R^2 / t
    window = (min(noisy_from, steps / 10), steps)
    res = {
        "t": t,
        "mean_averaged": mean,
        "se_averaged": se,
        "mean_last": last.mean(0),
        "bound": bound,
        "radius": radius,
        "beta": beta,
        "sigma": sigma,
        "seeds": seeds,
        "fit_window": window,
        "slope_averaged": slope(t, mean, *window),
        "slope_last": slope(t, last.mean(0), *window),
        "bound_holds": bool(np.all(mean + 3 * se <= bound)),
        "worst_fraction_of_bound": float(np.max(mean / bound)),
    }
    _, axes = plot.subplots(1, 1, size=(6.0, 4.2))
    ax = axes[0, 0]
    ax.loglog(t, res["mean_last"], label="last iterate")
    ax.loglog(t, mean, label="average iterate")
    ax.fill_between(t, mean - 2 * se, mean + 2 * se, alpha=0.3)
    ax.loglog(t, bound, "k--", lw=1, label=r"bound $\sqrt{2}\sigma R/\sqrt{t} + \beta R^2/t$")
    ax.loglog(t, mean[-1] * np.sqrt(t[-1] / t), "k:", lw=0.8, label=r"$t^{-1/2}$")
    ax.axvline(window[0], color="gray", lw=0.6)
    ax.set(xlabel="step t", ylabel="E f - f*", title=f"SGD with the theorem's step, {seeds} seeds, sigma = {sigma:g}")
    ax.legend(fontsize=7)
    report.figure(ax, "theorem_bound.png", "ST449 theorem: mean excess error of the last and averaged iterate, bound.")
    return res


def strongly_convex(report: Report, steps: int, seeds: int) -> dict:
    """Constant steps and their floors, the O(1/t) step and its bound, averaging, momentum under noise."""
    lam = jnp.logspace(0.0, -1.0, 10)
    problem = jaxgd.problems.quadratic(lam)
    mu, beta, sigma = 0.1, 1.0, SIGMA_STRONG
    noisy = st.noisy_gradient(problem, sigma)
    keys = jax.random.split(jax.random.key(1), seeds)
    eval_at = st.log_steps(steps, 40)
    t0 = C * beta / mu  # eta_0 = 1/beta
    res = {"mu": mu, "beta": beta, "sigma": sigma, "c": C, "t0": t0, "seeds": seeds, "constant": []}
    curves = {}
    lrs = jnp.asarray(CONSTANT_LRS)  # each averaged too: the last iterate stalls, the average keeps falling
    const = jax.vmap(
        lambda lr: over_seeds(st.polyak_averaging(jaxgd.sgd(lr)), noisy, problem.x0, steps, keys, eval_at)
    )(lrs)
    t = np.asarray(const.steps[0, 0])
    for i, lr in enumerate(CONSTANT_LRS):
        f = np.asarray(const.loss[i], float).mean(0)
        curves[rf"constant $\eta$ = {lr:g}"] = f
        tail = f[t >= steps / 2].mean()
        exact = float(st.quadratic_noise_floor(lr, lam, sigma))
        bcn = float(st.constant_step_floor(lr, mu, beta, sigma))
        res["constant"].append({"lr": lr, "measured_floor": tail, "exact_floor": exact, "bound_floor": bcn})
    # SGD and heavy ball in one vmap (momentum 0 is SGD), the step scaled by 1 - momentum; Nesterov apart
    momenta = jnp.asarray([0.0, MOMENTUM])

    def heavy_ball(m):
        return jaxgd.momentum(st.strongly_convex_step(C * (1 - m), mu, t0), m)

    hb = jax.vmap(lambda m: over_seeds(heavy_ball(m), noisy, problem.x0, steps, keys, eval_at))(momenta)
    nag = over_seeds(
        jaxgd.nesterov(st.strongly_convex_step(C * (1 - MOMENTUM), mu, t0), MOMENTUM),
        noisy,
        problem.x0,
        steps,
        keys,
        eval_at,
    )
    decaying = {
        "SGD": np.asarray(hb.loss[0], float).mean(0),
        f"heavy ball {MOMENTUM:g}": np.asarray(hb.loss[1], float).mean(0),
        f"Nesterov {MOMENTUM:g}": np.asarray(nag.loss, float).mean(0),
    }
    averaged = np.asarray(const.averaged_loss[0], float).mean(0)
    bound = np.asarray(st.strongly_convex_bound(t, C, mu, beta, sigma, float(problem(problem.x0)), t0), float)
    lo = steps / 10
    res["t"] = t
    res["decaying"] = {k: {"curve": v, "slope": slope(t, v, lo), "final": float(v[-1])} for k, v in decaying.items()}
    res["averaged_constant"] = {"lr": CONSTANT_LRS[0], "curve": averaged, "slope": slope(t, averaged, lo)}
    res["decaying_bound"] = bound
    res["decaying_under_bound"] = bool(np.all(decaying["SGD"] <= bound))
    _strong_figure(report, t, curves, res, decaying["SGD"], averaged, bound)
    return res


def _strong_figure(report, t, curves, res, sgd, averaged, bound) -> None:
    _, axes = plot.subplots(1, 1, size=(6.0, 4.2))
    ax = axes[0, 0]
    for (label, f), row in zip(curves.items(), res["constant"]):
        (line,) = ax.loglog(t[1:], f[1:], lw=1, label=label)
        ax.axhline(row["exact_floor"], color=line.get_color(), ls=":", lw=0.8)
    ax.loglog(t[1:], sgd[1:], lw=1.5, label=rf"$\eta_t = {C:g}/(\mu(t + {res['t0']:g}))$")
    ax.loglog(t[1:], bound[1:], "k--", lw=1, label="its O(1/t) bound")
    ax.loglog(t[1:], averaged[1:], lw=1.5, label=rf"average of constant $\eta$ = {CONSTANT_LRS[0]:g}")
    ax.set(xlabel="step t", ylabel="E f - f*", title=f"strongly convex quadratic, {res['seeds']} seeds")
    ax.legend(fontsize=7)
    report.figure(
        ax,
        "constant_vs_decaying.png",
        "Constant steps stall at their exact noise floor (dotted); the O(1/t) step and averaging keep falling.",
    )


def nesterov(report: Report, res_strong: dict, steps: int) -> dict:
    """Without noise on the convex quadratic: GD (1/t) against Nesterov 1983 (1/t^2); beside the noisy slopes."""
    problem = jaxgd.problems.quadratic(jnp.logspace(0.0, -6.0, 100))
    gd = np.asarray(jaxgd.run(jaxgd.sgd(1.0), problem, problem.x0, steps).loss, float)
    nag = np.asarray(jaxgd.run(jaxgd.nesterov_1983(1.0), problem, problem.x0, steps).loss, float)
    t = np.arange(steps + 1)
    window = (10, steps / 10)
    res = {"gd_slope": slope(t, gd, *window), "nesterov_1983_slope": slope(t, nag, *window), "window": window}
    _, axes = plot.subplots(1, 2, size=(5.0, 4.0))
    for label, v in res_strong["decaying"].items():
        axes[0, 0].loglog(res_strong["t"][1:], v["curve"][1:], lw=1, label=f"{label} (slope {v['slope']:.2f})")
    axes[0, 0].set(xlabel="step t", ylabel="E f - f*", title="with noise: eta_t ~ 1/t, the same slope")
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].loglog(t[1:], gd[1:], label=f"GD 1/beta (slope {res['gd_slope']:.2f})")
    axes[0, 1].loglog(t[1:], nag[1:], label=f"Nesterov 1983 (slope {res['nesterov_1983_slope']:.2f})")
    axes[0, 1].set(xlabel="step t", ylabel="f - f*", title="without noise, convex: 1/t against 1/t^2")
    axes[0, 1].legend(fontsize=7)
    report.figure(axes[0, 0], "nesterov_noise.png", "Momentum under noise (left) and without (right).")
    return res


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    steps = 2000 if small else 10000
    seeds = 32 if small else 64
    thm = theorem(report, steps, seeds)
    strong = strongly_convex(report, steps, seeds)
    nag = nesterov(report, strong, steps)
    report.finding(
        f"ST449 theorem: over {seeds} seeds the averaged iterate's mean excess error stays below "
        f"sqrt(2) sigma R / sqrt(t) + beta R^2 / t at every t (at most {100 * thm['worst_fraction_of_bound']:.0f}% "
        f"of it); fitted slope {thm['slope_averaged']:.2f} in the noise-dominated regime (predicted -1/2), "
        f"last iterate {thm['slope_last']:.2f}."
    )
    floors = strong["constant"]
    worst = max(abs(r["measured_floor"] / r["exact_floor"] - 1) for r in floors)
    report.finding(
        "Constant steps stall at the exact noise floor, which grows with eta: "
        + ", ".join(f"eta = {r['lr']:g}: {r['measured_floor']:.3g} (predicted {r['exact_floor']:.3g})" for r in floors)
        + f", within {100 * worst:.2g}%; eta_t = c/(mu t) falls at slope {strong['decaying']['SGD']['slope']:.2f} "
        f"(predicted -1), {'under' if strong['decaying_under_bound'] else 'NOT under'} its O(1/t) bound; averaging "
        f"a constant step: slope {strong['averaged_constant']['slope']:.2f}."
    )
    report.claim("ST449 L3", "averaged SGD: E f(w_bar_t) - f* <= sqrt(2) sigma R / sqrt(t) + beta R^2 / t",
                 f"at most {100 * thm['worst_fraction_of_bound']:.0f}% of the bound over {seeds} seeds; slope "
                 f"{thm['slope_averaged']:.2f}", bool(thm["bound_holds"]))  # fmt: skip
    report.claim(
        "SYS 6016",
        "SGD with a decaying step: excess error O(1/k)",
        f"slope {strong['decaying']['SGD']['slope']:.2f}",
        -1.2 < strong["decaying"]["SGD"]["slope"] < -0.8,
    )
    nag_slope = next(v["slope"] for k, v in strong["decaying"].items() if k.startswith("Nesterov"))
    report.claim(
        "SYS 6016",
        "in the stochastic case Nesterov does not improve the rate; without noise O(1/k^2)",
        f"noisy slope {nag_slope:.2f}; noiseless Nesterov {nag['nesterov_1983_slope']:.2f} vs GD {nag['gd_slope']:.2f}",
        abs(nag_slope - strong["decaying"]["SGD"]["slope"]) < 0.2 and nag["nesterov_1983_slope"] < -1.6,
    )
    slopes = ", ".join(f"{k} {v['slope']:.2f}" for k, v in strong["decaying"].items())
    report.finding(
        f"With noise the slopes are the same ({slopes}; predicted -1); without noise Nesterov's slope is "
        f"{nag['nesterov_1983_slope']:.2f} against GD's {nag['gd_slope']:.2f} (predicted -2 and -1)."
    )
    report.results.update({"theorem": thm, "strongly_convex": strong, "nesterov": nag, "steps": steps})
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
