"""A barrier (path-following interior-point) method for small linear programs min c^T x s.t. A x <= b.

The log barrier F(x) = -sum_i log(b_i - a_i^T x) is nu-self-concordant with
nu = m (the number of constraints). The central path x*(t) = argmin t c^T x + F(x)
has c^T x*(t) - c* = m / t. The method follows it: t_{k+1} = mu t_k, then Newton
steps on t_{k+1} c^T x + F(x), with gradient t c + A^T (1/s) and Hessian
A^T diag(1/s^2) A (s = b - A x), solved by ``jnp.linalg.solve``:

    dx = -H^{-1} (t c + A^T (1/s)),   lambda = sqrt(dx^T H dx),
    x <- x + dx             if lambda < 1/4, else   x <- x + dx / (1 + lambda)   (damped)

The damped step stays strictly feasible for any self-concordant barrier. With
mu = 1 + 1/(13 sqrt(nu)) and one Newton step per update, from a point near the path,
c^T x_k - c* <= (2 nu / t_0) exp(-k / (1 + 13 sqrt(nu))) (Bubeck 2015, section 5.3;
Nesterov 2004, section 4.2.5): the short-step method. A larger mu with several
Newton steps per update is the practical long-step method.

Needs a strictly feasible start (A x_0 < b) and a bounded optimal set (for
example, box constraints among the rows).

References: Frisch (1955); Karmarkar (1984); Nesterov & Nemirovski (1994);
Boyd & Vandenberghe (2004), section 11.3.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd import _validate

__all__ = ["BarrierResult", "barrier_lp", "short_step_factor"]


class BarrierResult(NamedTuple):
    """x: the final iterate; objective: c^T x; t: (K + 1,) t_0..t_K; xs: (K + 1, n) the iterate after each update of
    t (row 0: after centring at t_0); objectives: (K + 1,) c^T xs; path_gap: m / t, the duality gap on the central
    path; decrement: (K + 1,) the Newton decrement lambda at each update's last step (inf where rounding made the step
    infeasible and it was rejected: in float32 from about t = 1e5 on)."""

    x: jax.Array
    objective: jax.Array
    t: jax.Array
    xs: jax.Array
    objectives: jax.Array
    path_gap: jax.Array
    decrement: jax.Array


def short_step_factor(nu: float) -> float:
    """mu = 1 + 1 / (13 sqrt(nu)), the short-step update t_{k+1} = mu t_k of the theory.

    Args:
        nu: The barrier parameter (m for the log barrier of m inequalities).

    Returns:
        mu, a float.
    """
    _validate.positive("nu", nu)
    return 1.0 + 1.0 / (13.0 * math.sqrt(nu))


def _newton(c: jax.Array, a: jax.Array, b: jax.Array, x: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One Newton step on t c^T x + F(x) (damped when lambda >= 1/4); returns (x_new, lambda)."""
    inv_s = 1 / (b - a @ x)
    grad = t * c + a.T @ inv_s
    hess = (a * inv_s[:, None] ** 2).T @ a
    dx = -jnp.linalg.solve(hess, grad)
    lam = jnp.sqrt(jnp.maximum(-(grad @ dx), 0))
    step = jnp.where(lam < 0.25, 1.0, 1 / (1 + lam)).astype(x.dtype)
    x_new = x + step * dx
    ok = jnp.all(jnp.isfinite(x_new)) & jnp.all(a @ x_new < b)  # rounding (float32, large t) can break feasibility
    return jnp.where(ok, x_new, x), jnp.where(ok, lam, jnp.inf)


def _centre(c, a, b, x, t, steps):
    def body(carry, _):
        x, _ = carry
        return _newton(c, a, b, x, t), None

    (x, lam), _ = jax.lax.scan(body, (x, jnp.zeros([], x.dtype)), length=steps)
    return x, lam


@functools.partial(jax.jit, static_argnames=("outer_steps", "newton_steps", "centering_steps"))
def _path(c, a, b, x0, t0, mu, *, outer_steps, newton_steps, centering_steps):
    x, lam = _centre(c, a, b, x0, t0, centering_steps) if centering_steps else (x0, jnp.zeros([], x0.dtype))

    def outer(carry, _):
        x, t = carry
        t = mu * t
        x, lam = _centre(c, a, b, x, t, newton_steps)
        return (x, t), (x, t, lam)

    (x_last, _), (xs, ts, lams) = jax.lax.scan(outer, (x, t0), length=outer_steps)
    xs = jnp.concatenate([x[None], xs])
    ts = jnp.concatenate([t0[None], ts])
    lams = jnp.concatenate([lam[None], lams])
    objectives = xs @ c
    return BarrierResult(x_last, x_last @ c, ts, xs, objectives, a.shape[0] / ts, lams)


def _check_lp(c: np.ndarray, a: np.ndarray, b: np.ndarray, x0: np.ndarray) -> None:
    if a.ndim != 2 or c.shape != (a.shape[1],) or b.shape != (a.shape[0],) or x0.shape != c.shape:
        raise ValueError(f"need c (n,), A (m, n), b (m,), x0 (n,); got {c.shape}, {a.shape}, {b.shape}, {x0.shape}")
    for name, v in (("c", c), ("A", a), ("b", b), ("x0", x0)):
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} contains non-finite values")
    if np.linalg.matrix_rank(a) < a.shape[1]:
        raise ValueError("A must have full column rank (else the barrier's Hessian is singular); add bounds on x")
    slack = b - a @ x0
    if not np.all(slack > 0):
        raise ValueError(f"x0 is not strictly feasible: min(b - A x0) = {slack.min():.3g} <= 0")


def barrier_lp(
    c: jax.typing.ArrayLike,
    a: jax.typing.ArrayLike,
    b: jax.typing.ArrayLike,
    x0: jax.typing.ArrayLike | None = None,
    *,
    t0: float = 1.0,
    mu: float | None = None,
    outer_steps: int = 40,
    newton_steps: int = 1,
    centering_steps: int = 50,
) -> BarrierResult:
    """Solve min c^T x s.t. A x <= b by following the central path from t_0.

    ``x0``: a strictly feasible start (default 0, which needs b > 0). ``centering_steps`` Newton steps at t_0 first
    bring x near the path; then ``outer_steps`` updates t <- mu t, each followed by ``newton_steps`` Newton steps.
    ``mu`` defaults to the short-step 1 + 1/(13 sqrt(m)). One ``jit``-compiled call; concrete inputs are checked.

    Args:
        c: The (n,) objective.
        a: The (m, n) constraint matrix A.
        b: The (m,) right-hand side.
        x0: A strictly feasible start (A x0 < b); None: 0.
        t0: The first barrier weight t_0 > 0.
        mu: The factor of t per update, > 1 (None: the short step).
        outer_steps: The number K of updates of t.
        newton_steps: Newton steps after each update of t.
        centering_steps: Newton steps at t_0.

    Returns:
        The result (:class:`BarrierResult`): the final x, c^T x and the path.

    Raises:
        ValueError: If the sizes disagree, A lacks full column rank, x0 is not strictly feasible or a
            setting is out of range (concrete inputs).
    """
    c, a, b = jnp.asarray(c), jnp.asarray(a), jnp.asarray(b)
    dtype = jnp.result_type(c, a, b, float)
    c, a, b = c.astype(dtype), a.astype(dtype), b.astype(dtype)
    x0 = jnp.zeros(c.shape, dtype) if x0 is None else jnp.asarray(x0, dtype)
    if not any(isinstance(v, jax.core.Tracer) for v in (c, a, b, x0)):
        _check_lp(*(np.asarray(v, dtype=float) for v in (c, a, b, x0)))
    _validate.positive("t0", t0)
    mu = short_step_factor(a.shape[0]) if mu is None else mu
    for v in _validate._values(mu):
        if not (math.isfinite(v) and v > 1):
            raise ValueError(f"mu must be > 1, got mu={v!r}")
    _validate.positive_int("outer_steps", outer_steps)
    _validate.positive_int("newton_steps", newton_steps)
    if isinstance(centering_steps, bool) or not isinstance(centering_steps, int) or centering_steps < 0:
        raise ValueError(f"centering_steps must be a non-negative integer, got centering_steps={centering_steps!r}")
    t0, mu = jnp.asarray(t0, dtype), jnp.asarray(mu, dtype)
    return _path(
        c, a, b, x0, t0, mu, outer_steps=outer_steps, newton_steps=newton_steps, centering_steps=centering_steps
    )
