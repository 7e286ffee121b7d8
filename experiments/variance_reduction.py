"""Finite sums: SVRG and SAGA against SGD and full-batch GD per gradient evaluation; batch size against noise scale.

1. Ridge regression on n = 2000 examples (rows of equal norm, feature scales from 1 to 0.03:
   kappa ~ 400), float64, every method given the same budget of per-example gradients:
   SVRG (Johnson & Zhang 2013) and SAGA (Defazio et al. 2014) with eta = 1/(3 beta_max)
   converge linearly to f - f* < 1e-10, constant-step SGD stalls at its noise floor, the
   O(1/t) step crawls, and full-batch GD pays n gradients per step.
2. ST449 / Hildesheim: single-example, mini-batch and full-batch SGD. On a well-conditioned
   ridge problem, the steps S(B) to reach f - f* <= eps at the best constant rate for each
   batch size B fall like 1/B for small B and flatten beyond a knee: McCandlish et al. (2018)
   predict S = S_min (1 + B_crit / B) with B_crit ~ the gradient noise scale at the target,
   B_simple = tr(Sigma) / |G|^2. The knee is fitted and compared with B_simple (and B_noise).
   Examples E = B S. The learning-rate finder (Smith 2017) is run at one batch size.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from _common import Report

import jaxgd
from jaxgd import plot
from jaxgd import schedules as S
from jaxgd import stochastic as st

ORDER = 66  # place in the index page
NAME = "variance_reduction"
TITLE = "Variance reduction and batch size on finite sums"
TARGET = 1e-10


def ill_conditioned_ridge(n: int = 2000, d: int = 10, seed: int = 0) -> st.FiniteSum:
    """Ridge (l2 = 1e-4) on features N(0, diag(s^2)), s log-spaced from 1 to 10^-1.5, rows rescaled to one norm."""
    rng = np.random.default_rng(seed)
    scales = np.logspace(0.0, -1.5, d)
    a = rng.standard_normal((n, d)) * scales
    a *= np.sqrt(np.sum(scales**2)) / np.linalg.norm(a, axis=1, keepdims=True)  # beta_max = mean ||a_i||^2
    b = a @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n)
    return st.ridge(1e-4, a, b)


def race(report: Report, epochs: int) -> dict:
    """Every method with ``epochs`` x n per-example gradients, f - f* against epochs."""
    with jax.enable_x64(True):
        p = ill_conditioned_ridge()
        n, c = p.n, {k: float(v) for k, v in p.constants.items()}
        eta = 1.0 / (3.0 * c["beta_max"])
        key = jax.random.key(0)
        plans = {  # name: (optimizer, steps, options); SVRG's m = n steps cost 3n gradients
            "SVRG": (jaxgd.sgd(eta), epochs * n // 3, {"batch_size": 1, "estimator": st.svrg(n)}),
            "SAGA": (jaxgd.sgd(eta), epochs * n - n, {"batch_size": 1, "estimator": st.saga()}),
            "full-batch GD, 1/beta": (jaxgd.sgd(1.0 / c["beta"]), epochs, {"batch_size": None}),
        }
        curves = {}
        for name, (tx, steps, kw) in plans.items():
            traj = st.run(tx, p, p.x0, steps, key=key, eval_at=max(1, steps // 150), **kw)
            curves[name] = (np.asarray(traj.grad_evals) / n, np.asarray(traj.loss, float) - float(p.minimum))
        # constant and decaying SGD in one vmap: eta_0 / (1 + t / t0) = 2 / (mu (t + t0)) for t0 = 2 / (mu eta_0)
        rates = jnp.asarray([0.0, c["mu"] * eta / 2.0])
        sgd = jax.vmap(
            lambda r: st.run(
                jaxgd.sgd(S.inverse_time_decay(eta, r)),
                p,
                p.x0,
                epochs * n,
                key=key,
                batch_size=1,
                eval_at=epochs * n // 150,
            )
        )(rates)
        for i, name in enumerate(("SGD, constant eta", "SGD, eta_t = 2/(mu (t + t0))")):
            curves[name] = (np.asarray(sgd.grad_evals[i]) / n, np.asarray(sgd.loss[i], float) - float(p.minimum))
    res = {"n": n, "constants": c, "learning_rate": eta, "epochs": epochs, "methods": {}}
    for name, (ep, excess) in curves.items():
        below = np.nonzero(excess < TARGET)[0]
        res["methods"][name] = {
            "epochs_to_target": float(ep[below[0]]) if len(below) else None,
            "final_excess": float(max(excess[-1], 0.0)),
            "epochs": ep,
            "excess": excess,
        }
    _, axes = plot.subplots(1, 1, size=(6.0, 4.2))
    ax = axes[0, 0]
    for name, (ep, excess) in curves.items():
        ax.semilogy(ep, np.where(excess > 0, excess, np.nan), lw=1.2, label=name)
    ax.axhline(TARGET, color="k", ls=":", lw=0.8)
    kappa = c["beta"] / c["mu"]
    ax.set(xlabel="epochs (per-example gradients / n)", ylabel="f - f*", title=f"ridge, n = {n}, kappa = {kappa:.0f}")
    ax.legend(fontsize=7)
    report.figure(ax, "variance_reduction.png", "f - f* against gradient evaluations: SVRG, SAGA, SGD and GD.")
    return res


def steps_to_target(problem, batch_size: int, lrs, keys, steps: int, target: float) -> tuple[float, float]:
    """The fewest steps to f - f* <= target over the learning rates (median over seeds), and that rate."""
    eval_at = st.log_steps(steps, 80)

    def one(lr, key):
        return st.run(jaxgd.sgd(lr), problem, problem.x0, steps, key=key, batch_size=batch_size, eval_at=eval_at).loss

    f = np.asarray(jax.vmap(lambda lr: jax.vmap(lambda k: one(lr, k))(keys))(lrs), float) - float(problem.minimum)
    t = np.asarray(eval_at, float)
    reach = np.where(f <= target, t, np.inf).min(axis=-1)  # (lr, seed)
    median = np.median(reach, axis=1)
    best = int(np.argmin(median))
    return float(median[best]), float(lrs[best])


def fit_knee(batch_sizes, steps) -> tuple[float, float]:
    """Least squares in log S of S = S_min (1 + B_crit / B): B_crit on a log grid, S_min in closed form."""
    b, log_s = np.asarray(batch_sizes, float), np.log(np.asarray(steps, float))
    best = (np.inf, np.nan, np.nan)
    for knee in np.geomspace(0.1, 1e5, 2000):
        model = np.log1p(knee / b)
        log_min = np.mean(log_s - model)
        err = np.sum((log_s - log_min - model) ** 2)
        if err < best[0]:
            best = (err, float(knee), float(np.exp(log_min)))
    return best[1], best[2]


def batch_size(report: Report, small: bool) -> dict:
    """Steps and examples to a target against B; the fitted knee against the noise scale at the target."""
    p = st.ridge(0.05, n=1024, d=20, noise=1.0, seed=0)
    target = 0.1
    beta = float(p.constants["beta"])
    sizes = (1, 4, 16, 64, 256) if small else (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    lrs = jnp.asarray(np.geomspace(1e-3, 10.0 / beta, 10 if small else 20))
    keys = jax.random.split(jax.random.key(1), 2 if small else 4)
    rows = []
    for b in sizes:
        s, lr = steps_to_target(p, b, lrs, keys, max(60, 1500 // b), target)
        rows.append({"batch_size": b, "steps": s, "examples": s * b, "best_lr": lr})
    knee, s_min = fit_knee([r["batch_size"] for r in rows], [r["steps"] for r in rows])
    gd = jaxgd.run(jaxgd.sgd(0.1 / beta), p, p.x0, 400)  # a finely resolved path: the first iterate at the target
    x = gd.params[int(np.argmax(np.asarray(gd.loss) - float(p.minimum) <= target))]
    noise = st.gradient_noise_scale(p, x)
    res = {
        "target_excess": target,
        "rows": rows,
        "knee": knee,
        "s_min": s_min,
        "b_simple": float(noise.b_simple),
        "b_noise": float(st.hessian_noise_scale(p, x)),
    }
    finder = st.lr_finder(jaxgd.sgd, p, p.x0, key=jax.random.key(2), batch_size=16, low=1e-3, high=10.0, steps=200)
    res["lr_finder"] = {
        "batch_size": 16,
        "suggested": finder.suggested,
        "steepest": finder.steepest,
        "best_constant_rate": next(r["best_lr"] for r in rows if r["batch_size"] == 16),
    }
    _batch_figure(report, res, sizes)
    return res


def _batch_figure(report: Report, res: dict, sizes) -> None:
    b = np.asarray([r["batch_size"] for r in res["rows"]], float)
    s = np.asarray([r["steps"] for r in res["rows"]], float)
    grid = np.geomspace(b.min(), b.max(), 100)
    model = res["s_min"] * (1 + res["knee"] / grid)
    _, axes = plot.subplots(1, 2, size=(4.6, 4.0))
    axes[0, 0].loglog(b, s, "o-", label="measured (best rate)")
    axes[0, 0].loglog(
        grid, model, "k--", lw=1, label=rf"$S_{{min}}(1 + B_{{crit}}/B)$, $B_{{crit}}$ = {res['knee']:.0f}"
    )
    axes[0, 0].set(xlabel="batch size B", ylabel="steps to target", title=f"f - f* <= {res['target_excess']:g}")
    axes[0, 1].loglog(b, s * b, "o-", label="measured")
    axes[0, 1].loglog(grid, model * grid, "k--", lw=1, label="fit")
    axes[0, 1].set(xlabel="batch size B", ylabel="examples to target (B S)", title="examples")
    for ax in axes[0]:
        ax.axvline(res["knee"], color="tab:green", lw=1, label="fitted knee")
        ax.axvline(res["b_simple"], color="tab:red", ls=":", lw=1, label=f"B_simple = {res['b_simple']:.0f}")
        ax.legend(fontsize=7)
    report.figure(
        axes[0, 0],
        "batch_size.png",
        "Steps and examples to a target loss against the batch size, "
        "with the fitted knee and the gradient noise scale.",
    )


def main(out: str = "results", small: bool = False) -> dict:
    report = Report(out, NAME, TITLE, small)
    vr = race(report, 30 if small else 40)
    m = vr["methods"]
    gd, sgd, dec = m["full-batch GD, 1/beta"], m["SGD, constant eta"], m["SGD, eta_t = 2/(mu (t + t0))"]

    def reached(name):
        e = m[name]["epochs_to_target"]
        return f"{e:.0f} epochs" if e is not None else f"not within {vr['epochs']} epochs"

    report.finding(
        f"SVRG and SAGA reach f - f* < 1e-10 in {reached('SVRG')} and {reached('SAGA')} of gradient evaluations "
        f"(linear); in {vr['epochs']} epochs full-batch GD gets to {gd['final_excess']:.1e}, constant-step SGD "
        f"stalls at its noise floor ({sgd['final_excess']:.1e}) and the 1/t step reaches {dec['final_excess']:.1e}."
    )
    report.claim("Johnson & Zhang 2013; Defazio et al. 2014", "SVRG and SAGA converge linearly where constant-step "
                 "SGD stalls at its noise floor", f"SVRG {reached('SVRG')}, SAGA {reached('SAGA')} to 1e-10; SGD "
                 f"{sgd['final_excess']:.1e}", m["SVRG"]["epochs_to_target"] is not None
                 and m["SAGA"]["epochs_to_target"] is not None and sgd["final_excess"] > 1e-4)  # fmt: skip
    bs = batch_size(report, small)
    first, last = bs["rows"][0], bs["rows"][-1]
    report.finding(
        f"Batch size: the steps to f - f* <= {bs['target_excess']:g} fall like 1/B, then flatten (from "
        f"{first['steps']:.0f} steps at B = 1 to {last['steps']:.0f} at B = {last['batch_size']}); "
        f"fitted knee B_crit = {bs['knee']:.0f} against the noise scale at the target B_simple = {bs['b_simple']:.0f} "
        f"(B_noise = {bs['b_noise']:.0f}; McCandlish et al. predict B_crit ~ B_noise)."
    )
    report.claim(
        "McCandlish et al. 2018",
        "the critical batch size is about the gradient noise scale",
        f"knee {bs['knee']:.0f}, B_simple {bs['b_simple']:.0f}",
        0.25 < bs["knee"] / bs["b_simple"] < 4,
    )
    lf = bs["lr_finder"]
    report.finding(
        f"The LR finder (B = 16) suggests eta = {lf['suggested']:.2g}; the fastest constant rate of the sweep at "
        f"B = 16 was {lf['best_constant_rate']:.2g}."
    )
    report.results.update({"race": vr, "batch_size": bs})
    return report.finish()


if __name__ == "__main__":
    from _common import script

    script(main)
