"""Lasso benchmark: jaxgd.convex.fista against scikit-learn's coordinate descent, to the same objective (float64).

The Lasso F(w) = ||X w - y||^2 / (2 m) + lam ||w||_1 on scikit-learn's diabetes data (10 features) and on the same
data with its 45 pairwise interactions (55 features, lambda_min(X^T X / m) ~ 6e-8). The reference F* is the exact
solution on scikit-learn's support (jaxgd.convex.problems.lasso_diabetes).

FISTA's smooth part is written with the Gram matrix G = X^T X / m (as scikit-learn's coordinate descent
precomputes it when m > n), so a gradient costs O(n^2), not O(m n).

1. One Lasso: time to a relative gap (F(w) - F*) / F* <= 1e-8. FISTA (eta = 1/beta) runs the fewest iterations
   that reach it (found from a recorded run), as one compiled ``jaxgd.run``; scikit-learn's ``Lasso`` gets the
   loosest ``tol`` in 1e-4, 1e-5, ... that reaches it. Best of several repeats, after compilation.
2. A whole path of 256 strengths from lam_max to lam_max / 100: one vmapped FISTA call (each strength its own
   FISTA) against ``sklearn.linear_model.lasso_path`` on the same grid (warm starts, coordinate descent), each
   with the fewest iterations / loosest tol that bring every strength to a relative gap <= 1e-8.

Prints the ratios time(FISTA) / time(scikit-learn): above 1, scikit-learn is faster. Timings on a shared machine
are noisy.

    python benchmarks/convex_lasso.py [--small]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the jaxgd of this checkout, not another installed one

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import Lasso, lasso_path  # noqa: E402

import jaxgd  # noqa: E402
from jaxgd import convex as C  # noqa: E402

GAP = 1e-8
TOLS = tuple(10.0**-k for k in range(4, 16))


def _best_time(fn, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def gram_fn(w, gram, xty, yty):
    """||X w - y||^2 / (2 m) = w^T G w / 2 - (X^T y / m)^T w + y^T y / (2 m), G = X^T X / m: O(n^2) per gradient."""
    return 0.5 * w @ (gram @ w) - xty @ w + 0.5 * yty


def gram_loss(x: np.ndarray, y: np.ndarray) -> jax.tree_util.Partial:
    m = x.shape[0]
    return jax.tree_util.Partial(
        gram_fn, gram=jnp.asarray(x.T @ x / m), xty=jnp.asarray(x.T @ y / m), yty=jnp.asarray(y @ y / m)
    )


def _objective(x: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float) -> float:
    return 0.5 * np.mean((x @ w - y) ** 2) + lam * np.abs(w).sum()


def one_lasso(interactions: bool, lam: float, repeats: int) -> dict:
    p = C.problems.lasso_diabetes(lam, interactions=interactions)
    x, y = np.asarray(p.data["x"]), np.asarray(p.data["y"])
    lr, f = 1 / p.constants["beta"], gram_loss(x, y)
    probe = jaxgd.run(C.fista(lr, p.prox), f, p.x0, 20000)
    values = np.asarray(jax.jit(jax.vmap(lambda v: p.value(C.prox_gradient_step(p.f, p.prox, lr, v))))(probe.params))
    reached = np.flatnonzero(values - p.f_star <= GAP * p.f_star)
    if not reached.size:
        raise RuntimeError("FISTA did not reach the gap in 20000 iterations")
    steps = int(reached[0]) + 1

    def fista():
        out = jaxgd.run(C.fista(lr, p.prox), f, p.x0, steps, record_every=steps)
        return jax.block_until_ready(out.final_state.x)

    fista()  # compile
    t_fista, w = _best_time(fista, repeats)
    gap_fista = (_objective(x, y, np.asarray(w), lam) - p.f_star) / p.f_star
    for tol in TOLS:
        model = Lasso(alpha=lam, fit_intercept=False, tol=tol, max_iter=1_000_000)
        gap_sk = (_objective(x, y, model.fit(x, y).coef_, lam) - p.f_star) / p.f_star
        if gap_sk <= GAP:
            break
    t_sk, _ = _best_time(lambda: model.fit(x, y), repeats)
    return {
        "problem": p.name,
        "features": x.shape[1],
        "lam": lam,
        "fista_steps": steps,
        "fista_s": t_fista,
        "fista_gap": gap_fista,
        "sklearn_tol": tol,
        "sklearn_iters": int(model.n_iter_),
        "sklearn_s": t_sk,
        "sklearn_gap": gap_sk,
    }


def _path_reference(interactions: bool, strengths: np.ndarray) -> np.ndarray:
    return np.array([C.problems.lasso_diabetes(float(lam), interactions=interactions).f_star for lam in strengths])


def lasso_path_race(interactions: bool, n: int, repeats: int) -> dict:
    p = C.problems.lasso_diabetes(1.0, interactions=interactions)
    x, y = np.asarray(p.data["x"]), np.asarray(p.data["y"])
    lam_max = float(np.max(np.abs(x.T @ y)) / x.shape[0])
    strengths = lam_max * np.geomspace(1.0, 1e-2, n)
    f_star = _path_reference(interactions, strengths)
    lr, f = 1 / p.constants["beta"], gram_loss(x, y)

    def gaps(ws: np.ndarray) -> np.ndarray:
        return np.array([(_objective(x, y, w, lam) - f) / f for w, lam, f in zip(ws, strengths, f_star)])

    for steps in (250, 500, 1000, 2000, 4000, 8000, 16000, 32000):
        solve = jax.jit(
            jax.vmap(
                lambda lam, s=steps: jaxgd.run(C.fista(lr, C.prox.l1(lam)), f, p.x0, s, record_every=s).final_state.x
            )
        )
        compiled = solve.lower(jnp.asarray(strengths)).compile()
        w = np.asarray(compiled(jnp.asarray(strengths)))
        if gaps(w).max() <= GAP:
            break
    t_fista, w = _best_time(lambda: jax.block_until_ready(compiled(jnp.asarray(strengths))), repeats)
    for tol in TOLS:
        coefs = lasso_path(x, y, alphas=strengths, tol=tol, max_iter=1_000_000)[1].T
        if gaps(coefs).max() <= GAP:
            break
    t_sk, _ = _best_time(lambda: lasso_path(x, y, alphas=strengths, tol=tol, max_iter=1_000_000), repeats)
    return {
        "problem": p.name,
        "strengths": n,
        "fista_steps": steps,
        "fista_s": t_fista,
        "fista_max_gap": float(gaps(np.asarray(w)).max()),
        "sklearn_tol": tol,
        "sklearn_s": t_sk,
        "sklearn_max_gap": float(gaps(coefs).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="fewer strengths and repeats, plain diabetes only")
    args = parser.parse_args()
    repeats = 3 if args.small else 10
    cases = ((False, 0.05),) if args.small else ((False, 0.05), (True, 0.01))
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; relative gap target {GAP:g}")
    print("\n1. one Lasso, time to the gap (best of repeats, after compilation)")
    for interactions, lam in cases:
        r = one_lasso(interactions, lam, repeats)
        print(
            f"  {r['problem']} ({r['features']} features, lam = {lam:g}): FISTA {r['fista_steps']} steps "
            f"{1e3 * r['fista_s']:.2f} ms (gap {r['fista_gap']:.1e}); scikit-learn tol {r['sklearn_tol']:g}, "
            f"{r['sklearn_iters']} sweeps, {1e3 * r['sklearn_s']:.2f} ms (gap {r['sklearn_gap']:.1e}); "
            f"ratio FISTA / scikit-learn = {r['fista_s'] / r['sklearn_s']:.2f}"
        )
    n = 32 if args.small else 256
    print(f"\n2. a Lasso path of {n} strengths, lam_max down to lam_max / 100, every strength to the gap")
    for interactions, _ in cases:
        r = lasso_path_race(interactions, n, max(2, repeats // 3))
        print(
            f"  {r['problem']}: vmapped FISTA {r['fista_steps']} steps {1e3 * r['fista_s']:.1f} ms (max gap "
            f"{r['fista_max_gap']:.1e}); lasso_path tol {r['sklearn_tol']:g} {1e3 * r['sklearn_s']:.1f} ms (max gap "
            f"{r['sklearn_max_gap']:.1e}); ratio FISTA / scikit-learn = {r['fista_s'] / r['sklearn_s']:.2f}"
        )


if __name__ == "__main__":
    main()
