"""Second-order benchmark: jaxgd.minimize against scipy.optimize and optax.lbfgs on chained Rosenbrock (float64).

Chained Rosenbrock f(x) = sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, n in {2, 10, 100, 1000},
start (-1.2, 1, -1.2, 1, ...), gradient tolerance 1e-8 (jaxgd and optax: Euclidean norm, each solve
one jitted call; scipy: its own gtol, the max-norm, with L-BFGS-B's ftol set to 0 so that only gtol
stops it). Wall time is after compilation (jit's ahead-of-time ``lower().compile()``), the best of
20 repeats for the jitted solvers (3 for scipy; one of each at n = 1000): one solve at n <= 100 takes
well under 10 ms, so a few repeats on a shared machine mostly measure its load. scipy gets analytic
derivatives (scipy.optimize.rosen_der, rosen_hess_prod). Then 1024 random 2-D starts in
[-2, 2] x [-1, 3]: one vmapped jaxgd.minimize against 1024 scipy BFGS calls. Last, every method
against scipy on classic badly scaled and singular functions (benchmarks/mgh.py: Moré, Garbow &
Hillstrom 1981) from their standard starts: iterations, function evaluations, f - f*, ||grad f||
and the status (scipy's codes: 0 converged, 1 maxiter, 2 no decrease / precision loss, 3 nan);
scipy gets JAX's gradient (and Hessian-vector products for Newton-CG).

    python benchmarks/second_order.py [--small] [--mgh-only]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import scipy.optimize as so  # noqa: E402

from jaxgd import problems  # noqa: E402
from jaxgd.second_order import minimize  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import mgh  # noqa: E402

TOL = 1e-8


def _best_time(fn, repeats: int) -> tuple[float, object]:
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _jaxgd(p, method: str, repeats: int) -> tuple:
    solve = jax.jit(lambda x0: minimize(p, x0, method, tol=TOL, max_steps=20000)).lower(p.x0).compile()

    def go():
        r = solve(p.x0)
        jax.block_until_ready(r.x)
        return r

    t, r = _best_time(go, repeats)
    return int(r.steps), int(r.n_fev), float(r.grad_norm), bool(r.converged), t


def _scipy(p, method: str, repeats: int) -> tuple:
    x0 = np.asarray(p.x0)
    if method == "BFGS":
        kw = {"jac": so.rosen_der, "options": {"gtol": TOL, "maxiter": 20000}}
    elif method == "L-BFGS-B":
        kw = {"jac": so.rosen_der, "options": {"gtol": TOL, "ftol": 0.0, "maxiter": 20000, "maxfun": 100000}}
    else:
        kw = {"jac": so.rosen_der, "hessp": so.rosen_hess_prod, "options": {"xtol": 1e-14, "maxiter": 20000}}

    def go():
        return so.minimize(so.rosen, x0, method=method, **kw)

    t, r = _best_time(go, repeats)
    gnorm = float(np.linalg.norm(so.rosen_der(r.x)))
    return int(r.nit), int(r.nfev), gnorm, gnorm <= TOL, t


def _optax_lbfgs(p, repeats: int) -> tuple:
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(p)

    def solve(x0):
        def cond(c):
            _, _, k, g_norm, _ = c
            return (k < 20000) & (g_norm > TOL)

        def body(c):
            x, state, k, _, nfev = c
            v, g = value_and_grad(x, state=state)
            u, state = opt.update(g, state, x, value=v, grad=g, value_fn=p)
            x = optax.apply_updates(x, u)
            info = optax.tree.get(state, "info")
            g_new = optax.tree.get(state, "grad")
            return x, state, k + 1, optax.tree.norm(g_new), nfev + info.num_linesearch_steps

        g0 = jnp.linalg.norm(jax.grad(p)(x0))
        return jax.lax.while_loop(cond, body, (x0, opt.init(x0), 0, g0, 1))

    solve = jax.jit(solve).lower(p.x0).compile()

    def go():
        out = solve(p.x0)
        jax.block_until_ready(out[0])
        return out

    t, (x, _, k, _, nfev) = _best_time(go, repeats)
    gnorm = float(jnp.linalg.norm(jax.grad(p)(x)))
    return int(k), int(nfev), gnorm, gnorm <= TOL, t


def table(dims: list[int], repeats: int) -> None:
    print(f"{'n':>5} {'method':<22} {'iters':>6} {'fevals':>7} {'||grad||':>9} {'conv':>5} {'time ms':>9}")
    for n in dims:
        p = problems.rosenbrock(n, x0=[(-1.2 if i % 2 == 0 else 1.0) for i in range(n)])
        repeats = 1 if n >= 1000 else repeats
        rows = []
        for m in ("bfgs", "lbfgs", "newton", "newton_cg"):
            rows.append((f"jaxgd {m}", _jaxgd(p, m, repeats)))
        for m in ("BFGS", "L-BFGS-B", "Newton-CG"):
            rows.append((f"scipy {m}", _scipy(p, m, min(repeats, 3))))
        rows.append(("optax.lbfgs", _optax_lbfgs(p, repeats)))
        for name, (it, fev, g, conv, t) in rows:
            print(f"{n:>5} {name:<22} {it:>6} {fev:>7} {g:>9.1e} {conv!s:>5} {1e3 * t:>9.2f}")
        print()


def many_starts(count: int) -> None:
    p = problems.rosenbrock()
    key = jax.random.key(0)
    starts = jax.random.uniform(key, (count, 2), minval=jnp.array([-2.0, -1.0]), maxval=jnp.array([2.0, 3.0]))
    solve = jax.jit(jax.vmap(lambda x0: minimize(p, x0, "bfgs", tol=TOL, max_steps=2000))).lower(starts).compile()

    def go_jax():
        r = solve(starts)
        jax.block_until_ready(r.x)
        return r

    t_jax, r = _best_time(go_jax, 3)
    xs = np.asarray(starts)

    def go_scipy():
        return [so.minimize(so.rosen, x0, jac=so.rosen_der, method="BFGS", options={"gtol": TOL}) for x0 in xs]

    t0 = time.perf_counter()
    refs = go_scipy()
    t_scipy = time.perf_counter() - t0
    agree = np.mean([np.max(np.abs(np.asarray(r.x[i]) - ref.x)) < 1e-6 for i, ref in enumerate(refs)])
    print(f"{count} random 2-D Rosenbrock starts, BFGS:")
    print(f"  jaxgd, one vmapped minimize: {1e3 * t_jax:9.2f} ms  converged {float(jnp.mean(r.converged)):.3f}")
    print(
        f"  scipy, {count} calls:          {1e3 * t_scipy:9.2f} ms  converged "
        f"{np.mean([np.linalg.norm(so.rosen_der(ref.x)) <= TOL for ref in refs]):.3f}"
    )
    print(f"  speed ratio scipy / jaxgd: {t_scipy / t_jax:.1f}x   same minimiser: {agree:.3f}")


MGH_JAXGD = (
    ("bfgs", {}),
    ("lbfgs", {}),
    ("newton", {}),
    ("newton_cg", {}),
    ("nonlinear_cg", {}),
    ("CG", {}),  # scipy's spelling: nonlinear CG with PR+
)
MGH_SCIPY = ("BFGS", "L-BFGS-B", "Newton-CG", "CG")


def _mgh_scipy(t: mgh.TestFunction, method: str) -> tuple:
    f, g = jax.jit(t.fun), jax.jit(jax.grad(t.fun))
    kw: dict = {"options": {"gtol": TOL, "maxiter": 1000}}
    if method == "L-BFGS-B":
        kw["options"].update(ftol=0.0, maxfun=100000)
    if method == "Newton-CG":
        hvp = jax.jit(lambda x, v: jax.jvp(jax.grad(t.fun), (x,), (v,))[1])
        kw = {"hessp": lambda x, v: np.asarray(hvp(x, v)), "options": {"xtol": 1e-14, "maxiter": 1000}}
    r = so.minimize(lambda x: float(f(x)), mgh.x0_of(t), jac=lambda x: np.asarray(g(x)), method=method, **kw)
    return int(r.nit), int(r.nfev), float(r.fun), float(np.linalg.norm(g(r.x))), int(r.status)


def mgh_table() -> None:
    """Every method against scipy on the test functions of benchmarks/mgh.py (float64, tol 1e-8)."""
    print(f"Moré-Garbow-Hillstrom functions, float64, ||grad f|| <= {TOL:g} (scipy: max-norm), max 1000 iterations")
    print(f"{'function':<24} {'method':<20} {'iters':>6} {'fevals':>7} {'f - f*':>10} {'||grad||':>9} {'status':>6}")
    for t in mgh.FUNCTIONS:
        x0 = jnp.asarray(mgh.x0_of(t))
        rows = []
        for method, kw in MGH_JAXGD:
            r = minimize(t.fun, x0, method, tol=TOL, max_steps=1000, **kw)
            counts = (int(r.steps), int(r.n_fev), float(r.value), float(r.grad_norm), int(r.status))
            rows.append((f"jaxgd {method}", *counts))
        for method in MGH_SCIPY:
            rows.append((f"scipy {method}", *_mgh_scipy(t, method)))
        for name, it, fev, f, g, status in rows:
            print(f"{t.name:<24} {name:<20} {it:>6} {fev:>7} {f - t.fmin:>10.1e} {g:>9.1e} {status:>6}")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="n in {2, 10} and 64 starts: a quick run")
    parser.add_argument("--mgh-only", action="store_true", help="only the Moré-Garbow-Hillstrom comparison")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, optax {optax.__version__}")
    if args.mgh_only:
        mgh_table()
    elif args.small:
        table([2, 10], repeats=20)
        many_starts(64)
    else:
        table([2, 10, 100, 1000], repeats=20)
        many_starts(1024)
    if not args.mgh_only:
        print()
        mgh_table()


if __name__ == "__main__":
    main()
