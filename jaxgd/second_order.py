"""Second-order and quasi-Newton methods, with line searches, and a jitted ``minimize``.

Two layers, as in optax:

* ``scale_by_*`` transforms turn the incoming gradient into a descent direction
  d (Newton: d = -H^{-1} g; BFGS: d = -H_k g; ...). Those that need the
  objective (the Newton family) read it from the ``value_fn`` extra argument.
* the aliases (:func:`newton`, :func:`bfgs`, :func:`lbfgs`, ...) chain a
  direction, an optional learning rate and a line search from
  :mod:`jaxgd.linesearch`. They return :class:`jaxgd.Optimizer`, so they run in
  ``jaxgd.run`` and ``jaxgd.sweep`` (which pass ``value``, ``grad`` and
  ``value_fn``), and their numeric hyperparameters are pytree leaves.

``linesearch`` takes ``"auto"`` (the method's default, given in its docstring),
``"backtracking"``, ``"zoom"`` (strong Wolfe), ``"exact"`` (1-D Newton, exact on
quadratics), ``None`` (a unit step, times ``learning_rate``) or any transform of
:mod:`jaxgd.linesearch`. ``has_aux=True`` accepts objectives returning
``(value, aux)``. Matrices (Hessians, BFGS's inverse) are formed on the
flattened parameters (``jax.flatten_util.ravel_pytree``); Newton-CG and L-BFGS
only use vectors.

:func:`minimize` runs any of them to a gradient tolerance in one
``lax.while_loop``, counting evaluations, and is ``vmap``-able over starts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from jaxgd import _validate
from jaxgd import linesearch as ls
from jaxgd import transforms as T
from jaxgd._recipe import Optimizer, Static, combine, optimizer, partition
from jaxgd.runner import tree_norm
from jaxgd.transforms import Hyperparameter

__all__ = [
    "BFGSState",
    "LBFGSState",
    "LevenbergMarquardtState",
    "MinimizeResult",
    "NewtonCGState",
    "NewtonState",
    "NonlinearCGState",
    "bfgs",
    "lbfgs",
    "minimize",
    "newton",
    "newton_cg",
    "nonlinear_cg",
    "regularized_newton",
    "saddle_free_newton",
    "scale_by_bfgs",
    "scale_by_lbfgs",
    "scale_by_newton",
    "scale_by_newton_cg",
    "scale_by_nonlinear_cg",
    "scale_by_regularized_newton",
    "scale_by_saddle_free_newton",
]

Fallback = Literal["shift", "gradient", "saddle_free", "none"]
CGVariant = Literal["polak_ribiere", "fletcher_reeves", "hestenes_stiefel", "pr_plus"]
LinesearchSpec = str | optax.GradientTransformation | None


def _zero() -> jax.Array:
    return jnp.zeros([], jnp.int32)


def _one() -> jax.Array:
    return jnp.ones([], jnp.int32)


def _objective(value_fn, has_aux, extra_args, who):
    return ls.scalar_fn(value_fn, has_aux, ls.fn_kwargs(value_fn, extra_args), who)


def _flat_hessian(f: Callable, params: Any) -> jax.Array:
    flat, unravel = ravel_pytree(params)
    return jax.hessian(lambda v: f(unravel(v)))(flat)


def _abs_eig_solve(hess: jax.Array, g: jax.Array, floor: Any) -> jax.Array:
    """|H|^{-1} g through H = V diag(lam) V^T, with |lam| floored at ``floor`` (``_EPS``: machine epsilon)."""
    lam, vecs = jnp.linalg.eigh(hess)
    if floor is _EPS:
        floor = jnp.finfo(g.dtype).eps
    return vecs @ ((vecs.T @ g) / jnp.maximum(jnp.abs(lam), floor))


_EPS = object()


def _cholesky_solve(mat: jax.Array, g: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(mat^{-1} g, whether mat is numerically positive definite), by Cholesky."""
    chol = jnp.linalg.cholesky(mat)
    sol = jax.scipy.linalg.cho_solve((chol, True), g)
    ok = jnp.all(jnp.isfinite(chol)) & jnp.all(jnp.isfinite(sol))
    return sol, ok


# --------------------------------------------------------------------------- Newton family


class NewtonState(NamedTuple):
    """count: updates so far; positive_definite: whether the last (regularised) Hessian was PD."""

    count: jax.Array
    positive_definite: jax.Array
    n_hev: jax.Array


def _shifted_solve(hess: jax.Array, g: jax.Array) -> jax.Array:
    """(H + tau I)^{-1} g by Cholesky with an added multiple of the identity (Nocedal & Wright, Algorithm 3.3).

    tau starts at 0 if min(diag H) > 0, else at beta - min(diag H), and doubles (at least to beta)
    until the factorisation succeeds; beta = sqrt(eps) max(1, max |H_ij|).
    """
    eye = jnp.eye(g.shape[0], dtype=g.dtype)
    beta = jnp.sqrt(jnp.finfo(g.dtype).eps) * jnp.maximum(1.0, jnp.max(jnp.abs(hess)))
    dmin = jnp.min(jnp.diagonal(hess))
    tau0 = jnp.where(dmin > 0, 0.0, beta - dmin)

    def attempt(tau):
        return _cholesky_solve(hess + tau * eye, g)

    def cond(c):
        i, _, _, ok = c
        return ~ok & (i < 200)

    def body(c):
        i, tau, _, _ = c
        tau = jnp.maximum(2.0 * tau, beta)
        sol, ok = attempt(tau)
        return i + 1, tau, sol, ok

    sol, ok = attempt(tau0)
    _, _, sol, _ = jax.lax.while_loop(cond, body, (_zero(), tau0, sol, ok))
    return sol


def scale_by_newton(fallback: Fallback = "shift", *, has_aux: bool = False) -> optax.GradientTransformationExtraArgs:
    """Newton direction ``d = -H^{-1} g``, H the exact Hessian of ``value_fn``, solved by Cholesky.

    When the Cholesky factorisation fails (H not positive definite) the
    direction is, by ``fallback``: ``"shift"``, ``-(H + tau I)^{-1} g`` with
    tau increased until Cholesky succeeds (Nocedal & Wright, Algorithm 3.3);
    ``"gradient"``, ``-g``;
    ``"saddle_free"``, ``-|H|^{-1} g``. ``fallback="none"`` is the pure Newton
    step ``-H^{-1} g`` by an LU solve, attracted to any critical point (saddles
    and maxima included). Reference: Nocedal & Wright (2006), section 3.3.
    """
    _validate.one_of("fallback", fallback, ("shift", "gradient", "saddle_free", "none"))

    def init_fn(params):
        del params
        return NewtonState(_zero(), jnp.ones([], bool), _zero())

    def update_fn(updates, state, params, *, value_fn=None, **extra_args):
        extra_args.pop("value", None), extra_args.pop("grad", None)
        f = _objective(value_fn, has_aux, extra_args, "newton")
        g, unravel = ravel_pytree(updates)
        hess = _flat_hessian(f, params).astype(g.dtype)
        if fallback == "none":
            d = -jnp.linalg.solve(hess, g)
            pd = jnp.all(jnp.linalg.eigvalsh(hess) > 0)
        else:
            sol, pd = _cholesky_solve(hess, g)
            if fallback == "gradient":
                d = jnp.where(pd, -sol, -g)
            else:
                alt = _shifted_solve if fallback == "shift" else functools.partial(_abs_eig_solve, floor=_EPS)
                # the fallback (an eigendecomposition or more factorisations) only runs when needed
                d = -jax.lax.cond(pd, lambda: sol, lambda: alt(hess, g))
        return unravel(d), NewtonState(optax.safe_increment(state.count), pd, _one())

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_regularized_newton(
    alpha: Hyperparameter = 1e-3, *, has_aux: bool = False
) -> optax.GradientTransformationExtraArgs:
    """Regularised Newton direction ``d = -(H + alpha I)^{-1} g`` with a fixed alpha (a schedule allowed).

    Falls back to ``-g`` when H + alpha I is not positive definite. Alpha
    interpolates between Newton (alpha -> 0) and gradient descent with step
    1/alpha (alpha -> inf). Reference: Nocedal & Wright (2006), section 3.4.
    """
    _validate.nonnegative("alpha", alpha)

    def init_fn(params):
        del params
        return NewtonState(_zero(), jnp.ones([], bool), _zero())

    def update_fn(updates, state, params, *, value_fn=None, **extra_args):
        extra_args.pop("value", None), extra_args.pop("grad", None)
        f = _objective(value_fn, has_aux, extra_args, "regularized_newton")
        g, unravel = ravel_pytree(updates)
        hess = _flat_hessian(f, params).astype(g.dtype)
        a = T.value_at(alpha, state.count)
        sol, pd = _cholesky_solve(hess + a * jnp.eye(g.shape[0], dtype=g.dtype), g)
        d = jnp.where(pd, -sol, -g)
        return unravel(d), NewtonState(optax.safe_increment(state.count), pd, _one())

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class LevenbergMarquardtState(NamedTuple):
    """alpha: the current damping; accepted: whether the last step was taken; rho: its gain ratio."""

    count: jax.Array
    alpha: jax.Array
    accepted: jax.Array
    rho: jax.Array
    n_fev: jax.Array
    n_hev: jax.Array


def scale_by_levenberg_marquardt(
    alpha: jax.typing.ArrayLike = 1.0,
    increase_factor: jax.typing.ArrayLike = 4.0,
    decrease_factor: jax.typing.ArrayLike = 1.0 / 3.0,
    *,
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Regularised Newton with an adaptive alpha, Levenberg-Marquardt style, accepting or rejecting steps.

    With H = V diag(lam) V^T, the damping is mu = max(alpha, -lam_min + delta)
    (so H + mu I is positive definite; delta = sqrt(eps) max(1, |lam|_max)),
    ``d = -(H + mu I)^{-1} g``, and the gain ratio of actual to predicted decrease::

        rho = (f(x) - f(x + d)) / -(g.d + d^T H d / 2)

    The step is taken if rho > 1e-4 (else the update is 0). Then
    ``alpha <- decrease_factor mu`` if rho > 3/4, ``increase_factor mu`` if
    rho < 1/4 (or the trial is not finite), else mu. Near a strict saddle mu
    exceeds |lam_min|, so the step leaves along negative curvature.
    References: Levenberg (1944); Marquardt (1963); Nocedal & Wright (2006), ch. 4.
    """
    _validate.positive("alpha", alpha)
    for v in _validate._values(increase_factor):
        if not 1.0 < v < np.inf:
            raise ValueError(f"increase_factor must be > 1 and finite, got increase_factor={v!r}")
    for v in _validate._values(decrease_factor):
        if not 0.0 < v < 1.0:
            raise ValueError(f"decrease_factor must lie in (0, 1), got decrease_factor={v!r}")

    def init_fn(params):
        dtype = ls._real_dtype(params)
        return LevenbergMarquardtState(
            _zero(), jnp.asarray(alpha, dtype), jnp.ones([], bool), jnp.zeros([], dtype), _zero(), _zero()
        )

    def update_fn(updates, state, params, *, value=None, value_fn=None, **extra_args):
        extra_args.pop("grad", None)
        f = _objective(value_fn, has_aux, extra_args, "levenberg_marquardt")
        g, unravel = ravel_pytree(updates)
        x, _ = ravel_pytree(params)
        dtype = g.dtype
        hess = _flat_hessian(f, params).astype(dtype)
        lam, vecs = jnp.linalg.eigh(hess)
        delta = jnp.sqrt(jnp.finfo(dtype).eps) * jnp.maximum(1.0, jnp.max(jnp.abs(lam)))
        mu = jnp.maximum(state.alpha, -lam[0] + delta)
        c = vecs.T @ g
        d = -vecs @ (c / (lam + mu))
        predicted = -(g @ d + 0.5 * jnp.sum(lam * (vecs.T @ d) ** 2))
        f0 = f(params) if value is None else value
        n_fev = 2 if value is None else 1
        f_trial = f(unravel(x + d))
        rho = (f0 - f_trial) / predicted
        finite = jnp.isfinite(rho)
        accept = finite & (rho > 1e-4)
        new_alpha = jnp.where(
            finite & (rho > 0.75), decrease_factor * mu, jnp.where(finite & (rho >= 0.25), mu, increase_factor * mu)
        )
        new_alpha = jnp.maximum(new_alpha, jnp.finfo(dtype).tiny).astype(state.alpha.dtype)
        d = jnp.where(accept, d, jnp.zeros_like(d))
        new_state = LevenbergMarquardtState(
            optax.safe_increment(state.count),
            new_alpha,
            accept,
            jnp.where(finite, rho, -jnp.inf).astype(state.rho.dtype),
            jnp.asarray(n_fev, jnp.int32),
            _one(),
        )
        return unravel(d), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_saddle_free_newton(
    damping: Hyperparameter = 1e-6, *, has_aux: bool = False
) -> optax.GradientTransformationExtraArgs:
    """Saddle-free Newton direction ``d = -|H|^{-1} g`` with ``|H| = V |diag(lam)| V^T``.

    Eigenvalues with |lam| < damping are replaced by damping. Newton's step
    along each eigenvector, with the sign of negative-curvature directions
    flipped, so saddles repel. Reference: Dauphin et al. (2014), "Identifying and
    attacking the saddle point problem in high-dimensional non-convex optimization".
    """
    _validate.positive("damping", damping)

    def init_fn(params):
        del params
        return NewtonState(_zero(), jnp.ones([], bool), _zero())

    def update_fn(updates, state, params, *, value_fn=None, **extra_args):
        extra_args.pop("value", None), extra_args.pop("grad", None)
        f = _objective(value_fn, has_aux, extra_args, "saddle_free_newton")
        g, unravel = ravel_pytree(updates)
        hess = _flat_hessian(f, params).astype(g.dtype)
        floor = jnp.asarray(T.value_at(damping, state.count), g.dtype)
        lam, vecs = jnp.linalg.eigh(hess)
        d = -vecs @ ((vecs.T @ g) / jnp.maximum(jnp.abs(lam), floor))
        pd = jnp.all(lam > 0)
        return unravel(d), NewtonState(optax.safe_increment(state.count), pd, _one())

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class NewtonCGState(NamedTuple):
    """cg_steps: CG iterations of the last solve; negative_curvature: whether it stopped on p^T H p <= 0."""

    count: jax.Array
    cg_steps: jax.Array
    negative_curvature: jax.Array
    n_hev: jax.Array


def scale_by_newton_cg(
    max_cg_steps: int | None = None, *, has_aux: bool = False
) -> optax.GradientTransformationExtraArgs:
    """Truncated Newton: solve ``H d = -g`` by conjugate gradients on Hessian-vector products.

    H is never formed: each CG step costs one HVP (forward-over-reverse
    ``jax.linearize`` of the gradient). CG stops when ||H d + g|| <=
    min(1/2, sqrt(||g||)) ||g|| (superlinear convergence), after
    ``max_cg_steps`` (default: the dimension), or on a direction of non-positive
    curvature, returning the current iterate (at the first CG step: -g scaled by
    ||g||^2 / |g^T H g|, as scipy).
    Reference: Nocedal & Wright (2006), Algorithm 7.1.
    """
    if max_cg_steps is not None:
        _validate.positive_int("max_cg_steps", max_cg_steps)

    def init_fn(params):
        del params
        return NewtonCGState(_zero(), _zero(), jnp.zeros([], bool), _zero())

    def update_fn(updates, state, params, *, value_fn=None, **extra_args):
        extra_args.pop("value", None), extra_args.pop("grad", None)
        f = _objective(value_fn, has_aux, extra_args, "newton_cg")
        g, unravel = ravel_pytree(updates)
        x, unravel_x = ravel_pytree(params)
        dtype = g.dtype
        _, hvp = jax.linearize(jax.grad(lambda v: f(unravel_x(v))), x)
        gnorm = jnp.linalg.norm(g)
        tol = jnp.minimum(0.5, jnp.sqrt(gnorm)) * gnorm
        limit = g.shape[0] if max_cg_steps is None else max_cg_steps

        def cond(c):
            j, _, _, _, done, _ = c
            return ~done & (j < limit)

        def body(c):
            j, z, r, p, _, _ = c
            hp = hvp(p).astype(dtype)
            curv = p @ hp
            neg = curv <= 0
            rr = r @ r
            a = rr / curv
            z_new = z + a * p
            r_new = r + a * hp
            beta = (r_new @ r_new) / rr
            small = jnp.linalg.norm(r_new) <= tol
            sd = jnp.where(curv < 0, rr / -curv, 1.0) * -g  # scipy's scaled steepest descent
            z_out = jnp.where(neg, jnp.where(j == 0, sd, z), z_new)
            return j + 1, z_out, r_new, -r_new + beta * p, neg | small, neg

        zeros = jnp.zeros_like(g)
        start = (_zero(), zeros, g, -g, gnorm == 0, jnp.zeros([], bool))
        j, d, _, _, _, neg = jax.lax.while_loop(cond, body, start)
        return unravel(d), NewtonCGState(optax.safe_increment(state.count), j, neg, j)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


# --------------------------------------------------------------------------- nonlinear conjugate gradients


class NonlinearCGState(NamedTuple):
    """prev_grad and prev_direction: g_{k-1} and d_{k-1}; restarted: whether the last d was -g."""

    count: jax.Array
    prev_grad: jax.Array
    prev_direction: jax.Array
    restarted: jax.Array


def scale_by_nonlinear_cg(
    variant: CGVariant = "polak_ribiere", restart_every: int | None = None
) -> optax.GradientTransformation:
    """Nonlinear conjugate gradient direction ``d_k = -g_k + beta_k d_{k-1}``, with y = g_k - g_{k-1}::

        polak_ribiere     beta = g_k . y / ||g_{k-1}||^2
        fletcher_reeves   beta = ||g_k||^2 / ||g_{k-1}||^2
        hestenes_stiefel  beta = g_k . y / d_{k-1} . y
        pr_plus           beta = max(0, polak_ribiere)

    Restarts (d = -g) at the first step, every ``restart_every`` steps if given,
    and whenever d is not a descent direction. With exact line searches on a
    quadratic all four are linear CG. Needs a line search; for Fletcher-Reeves
    strong Wolfe with c2 < 1/2 guarantees descent.
    Reference: Nocedal & Wright (2006), section 5.2.
    """
    _validate.one_of("variant", variant, ("polak_ribiere", "fletcher_reeves", "hestenes_stiefel", "pr_plus"))
    if restart_every is not None:
        _validate.positive_int("restart_every", restart_every)

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        return NonlinearCGState(_zero(), jnp.zeros_like(flat), jnp.zeros_like(flat), jnp.ones([], bool))

    def update_fn(updates, state, params=None):
        del params
        g, unravel = ravel_pytree(updates)
        pg, pd = state.prev_grad, state.prev_direction
        y = g - pg
        if variant == "fletcher_reeves":
            beta = (g @ g) / (pg @ pg)
        elif variant == "hestenes_stiefel":
            beta = (g @ y) / (pd @ y)
        else:
            beta = (g @ y) / (pg @ pg)
            if variant == "pr_plus":
                beta = jnp.maximum(beta, 0.0)
        restart = (state.count == 0) | ~jnp.isfinite(beta)
        if restart_every is not None:
            restart = restart | (state.count % restart_every == 0)
        d = -g + jnp.where(restart, 0.0, beta) * pd
        not_descent = ~(g @ d < 0)
        d = jnp.where(not_descent, -g, d)
        new_state = NonlinearCGState(optax.safe_increment(state.count), g, d, restart | not_descent)
        return unravel(d), new_state

    return optax.GradientTransformation(init_fn, update_fn)


# --------------------------------------------------------------------------- quasi-Newton


class BFGSState(NamedTuple):
    """inv_hessian: H_k, the approximation of the inverse Hessian on the flattened parameters."""

    count: jax.Array
    prev_params: jax.Array
    prev_grad: jax.Array
    inv_hessian: jax.Array


def _first_scale(g: jax.Array) -> jax.Array:
    """min(1, 1/||g||): the first step is at most 1 long (optax's L-BFGS convention, as scipy's first guess)."""
    return jnp.minimum(1.0, 1.0 / jnp.linalg.norm(g))


def scale_by_bfgs(scale_init: bool = True) -> optax.GradientTransformation:
    """BFGS direction ``d = -H_k g`` with the dense inverse-Hessian update (s = x_k - x_{k-1}, y = g_k - g_{k-1})::

        H_k = (I - rho s y^T) H_{k-1} (I - rho y s^T) + rho s s^T,    rho = 1 / y^T s

    The update is skipped unless y^T s > eps ||s|| ||y|| (a Wolfe line search
    ensures y^T s > 0). H_0 = I, with the first direction scaled by
    min(1, 1/||g||); with ``scale_init`` H_0 is replaced by (y^T s / y^T y) I
    before the first update (Nocedal & Wright (6.20)).
    Reference: Nocedal & Wright (2006), Algorithm 6.1.
    """

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        n = flat.shape[0]
        return BFGSState(_zero(), jnp.zeros_like(flat), jnp.zeros_like(flat), jnp.eye(n, dtype=flat.dtype))

    def update_fn(updates, state, params):
        g, unravel = ravel_pytree(updates)
        x, _ = ravel_pytree(params)
        s, y = x - state.prev_params, g - state.prev_grad
        ys, yy = y @ s, y @ y
        eps = jnp.finfo(g.dtype).eps
        ok = (state.count > 0) & (ys > eps * jnp.linalg.norm(s) * jnp.sqrt(yy))
        h = state.inv_hessian
        if scale_init:
            h = jnp.where(state.count == 1, (ys / yy) * jnp.eye(g.shape[0], dtype=g.dtype), h)
        rho = 1.0 / ys
        hy = h @ y
        updated = h - rho * (jnp.outer(s, hy) + jnp.outer(hy, s)) + (rho * rho * (y @ hy) + rho) * jnp.outer(s, s)
        h = jnp.where(ok, updated, state.inv_hessian)
        d = jnp.where(state.count == 0, -_first_scale(g) * g, -(h @ g))
        return unravel(d), BFGSState(optax.safe_increment(state.count), x, g, h)

    return optax.GradientTransformation(init_fn, update_fn)


class LBFGSState(NamedTuple):
    """The last ``memory_size`` pairs s_i = x_{i+1} - x_i, y_i = g_{i+1} - g_i, weights 1 / y_i^T s_i."""

    count: jax.Array
    prev_params: jax.Array
    prev_grad: jax.Array
    s_memory: jax.Array
    y_memory: jax.Array
    rho_memory: jax.Array
    gamma: jax.Array


def scale_by_lbfgs(memory_size: int = 10, scale_init: bool = True) -> optax.GradientTransformation:
    """L-BFGS direction ``d = -H_k g`` by the two-loop recursion over the last m = ``memory_size`` pairs.

    H_k^0 = gamma I with gamma = s^T y / y^T y of the newest pair (1 without
    ``scale_init``), and min(1, 1/||g||) at the first step, as ``optax.scale_by_lbfgs``,
    whose directions it reproduces; pairs with y^T s <= 0 get weight 0.
    Reference: Nocedal & Wright (2006), Algorithms 7.4 and 7.5; Liu & Nocedal (1989).
    """
    _validate.positive_int("memory_size", memory_size)

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        mem = jnp.zeros((memory_size, flat.shape[0]), flat.dtype)
        dtype = flat.dtype
        zeros = jnp.zeros_like(flat)
        return LBFGSState(_zero(), zeros, zeros, mem, mem, jnp.zeros(memory_size, dtype), jnp.ones([], dtype))

    def update_fn(updates, state, params):
        g, unravel = ravel_pytree(updates)
        x, _ = ravel_pytree(params)
        first = state.count == 0
        s = jnp.where(first, 0.0, x - state.prev_params)
        y = jnp.where(first, 0.0, g - state.prev_grad)
        ys, yy = y @ s, y @ y
        good = ys > 0
        rho = jnp.where(good, 1.0 / jnp.where(good, ys, 1.0), 0.0)
        prev_idx = (state.count - 1) % memory_size
        # in-place row updates (prev_idx is in range, so no bounds-checking select over the whole memory)
        s_mem = jax.lax.dynamic_update_index_in_dim(state.s_memory, s, prev_idx, 0)
        y_mem = jax.lax.dynamic_update_index_in_dim(state.y_memory, y, prev_idx, 0)
        rho_mem = jax.lax.dynamic_update_index_in_dim(state.rho_memory, rho, prev_idx, 0)
        if scale_init:
            gamma = jnp.where(good & (yy > 0), ys / jnp.where(yy > 0, yy, 1.0), state.gamma)
            gamma = jnp.where(first, _first_scale(g), gamma)
        else:
            gamma = jnp.ones([], g.dtype)
        order = (state.count + jnp.arange(memory_size)) % memory_size  # oldest to newest

        def right(q, i):
            a = rho_mem[i] * (s_mem[i] @ q)
            return q - a * y_mem[i], a

        q, alphas = jax.lax.scan(right, g, order, reverse=True)
        r = gamma * q

        def left(r, i_a):
            i, a = i_a
            b = rho_mem[i] * (y_mem[i] @ r)
            return r + (a - b) * s_mem[i], None

        r, _ = jax.lax.scan(left, r, (order, alphas))
        new_state = LBFGSState(optax.safe_increment(state.count), x, g, s_mem, y_mem, rho_mem, gamma.astype(g.dtype))
        return unravel(-r), new_state

    return optax.GradientTransformation(init_fn, update_fn)


# --------------------------------------------------------------------------- aliases


def _make_linesearch(spec: Any, default: Callable[[], Any], has_aux: bool) -> Any:
    if isinstance(spec, str):
        _validate.one_of("linesearch", spec, ("auto", "backtracking", "zoom", "exact", "none"))
        if spec == "auto":
            return default()
        if spec == "backtracking":
            return ls.scale_by_backtracking_linesearch(has_aux=has_aux)
        if spec == "zoom":
            return ls.scale_by_zoom_linesearch(has_aux=has_aux)
        if spec == "exact":
            return ls.scale_by_exact_linesearch(has_aux=has_aux)
        return None
    if spec is None:
        return None
    if not (hasattr(spec, "init") and hasattr(spec, "update")):
        raise TypeError(f"linesearch must be a name, None or a GradientTransformation, got {spec!r}")
    return spec


def _assemble(direction, learning_rate, linesearch, default, has_aux) -> optax.GradientTransformationExtraArgs:
    parts = [optax.with_extra_args_support(direction)]
    if learning_rate is not None:
        parts.append(T.scale_by_learning_rate(learning_rate, flip_sign=False))
    search = _make_linesearch(linesearch, default, has_aux)
    if search is not None:
        parts.append(search)
    return optax.chain(*parts)


def _backtracking(has_aux: bool) -> Callable[[], Any]:
    return lambda: ls.scale_by_backtracking_linesearch(has_aux=has_aux)


def _zoom(has_aux: bool, **kwargs: Any) -> Callable[[], Any]:
    return lambda: ls.scale_by_zoom_linesearch(has_aux=has_aux, **kwargs)


@optimizer(static_argnames=("fallback", "has_aux"))
def newton(
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    fallback: Fallback = "shift",
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Newton's method, ``x <- x - a H^{-1} g`` (Cholesky; see :func:`scale_by_newton` for ``fallback``).

    Default line search: backtracking from a = 1, so near a minimiser with a
    positive definite Hessian the unit step is taken and convergence is quadratic.
    ``newton(linesearch=None, fallback="none")`` is the pure Newton iteration.
    """
    direction = scale_by_newton(fallback, has_aux=has_aux)
    return _assemble(direction, learning_rate, linesearch, _backtracking(has_aux), has_aux)


@optimizer(static_argnames=("adaptive", "has_aux"))
def regularized_newton(
    alpha: Hyperparameter = 1e-3,
    adaptive: bool = False,
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    increase_factor: jax.typing.ArrayLike = 4.0,
    decrease_factor: jax.typing.ArrayLike = 1.0 / 3.0,
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Regularised Newton, ``x <- x - a (H + alpha I)^{-1} g``.

    ``adaptive=False``: fixed alpha (:func:`scale_by_regularized_newton`), with a
    backtracking line search by default. ``adaptive=True``: alpha adapted by the
    gain ratio, Levenberg-Marquardt style, steps accepted or rejected by the
    method itself (:func:`scale_by_levenberg_marquardt`); no line search by default.
    """
    if adaptive:
        direction = scale_by_levenberg_marquardt(alpha, increase_factor, decrease_factor, has_aux=has_aux)
        return _assemble(direction, learning_rate, linesearch, lambda: None, has_aux)
    direction = scale_by_regularized_newton(alpha, has_aux=has_aux)
    return _assemble(direction, learning_rate, linesearch, _backtracking(has_aux), has_aux)


@optimizer(static_argnames=("has_aux",))
def saddle_free_newton(
    damping: Hyperparameter = 1e-6,
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Saddle-free Newton, ``x <- x - a |H|^{-1} g`` (:func:`scale_by_saddle_free_newton`); backtracking by default."""
    direction = scale_by_saddle_free_newton(damping, has_aux=has_aux)
    return _assemble(direction, learning_rate, linesearch, _backtracking(has_aux), has_aux)


@optimizer(static_argnames=("max_cg_steps", "has_aux"))
def newton_cg(
    max_cg_steps: int | None = None,
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Hessian-free Newton-CG (:func:`scale_by_newton_cg`); default line search: strong Wolfe from a = 1."""
    direction = scale_by_newton_cg(max_cg_steps, has_aux=has_aux)
    return _assemble(direction, learning_rate, linesearch, _zoom(has_aux), has_aux)


@optimizer(static_argnames=("variant", "restart_every", "has_aux"))
def nonlinear_cg(
    variant: CGVariant = "polak_ribiere",
    restart_every: int | None = None,
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Nonlinear conjugate gradients (:func:`scale_by_nonlinear_cg`).

    Default line search: strong Wolfe with c2 = 0.1 and scipy's initial guess
    2 (f_k - f_{k-1}) / slope (a CG direction carries no step length).
    """
    direction = scale_by_nonlinear_cg(variant, restart_every)
    default = _zoom(has_aux, c2=0.1, initial_guess="quadratic")
    return _assemble(direction, learning_rate, linesearch, default, has_aux)


@optimizer(static_argnames=("scale_init", "has_aux"))
def bfgs(
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    scale_init: bool = True,
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """BFGS with a dense inverse Hessian (:func:`scale_by_bfgs`); default line search: strong Wolfe from a = 1."""
    return _assemble(scale_by_bfgs(scale_init), learning_rate, linesearch, _zoom(has_aux), has_aux)


@optimizer(static_argnames=("memory_size", "scale_init", "has_aux"))
def lbfgs(
    memory_size: int = 10,
    learning_rate: Hyperparameter | None = None,
    linesearch: LinesearchSpec = "auto",
    scale_init: bool = True,
    has_aux: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """L-BFGS (:func:`scale_by_lbfgs`); default line search: strong Wolfe from a = 1.

    ``lbfgs(learning_rate=eta, linesearch=None)`` matches
    ``optax.lbfgs(learning_rate=eta, linesearch=None)`` step for step.
    """
    return _assemble(scale_by_lbfgs(memory_size, scale_init), learning_rate, linesearch, _zoom(has_aux), has_aux)


METHODS: dict[str, Callable[..., Optimizer]] = {
    "bfgs": bfgs,
    "lbfgs": lbfgs,
    "newton": newton,
    "newton_cg": newton_cg,
    "nonlinear_cg": nonlinear_cg,
    "regularized_newton": regularized_newton,
    "saddle_free_newton": saddle_free_newton,
}


# --------------------------------------------------------------------------- minimize


class MinimizeResult(NamedTuple):
    """The outcome of :func:`minimize`.

    Attributes:
      x: the final iterate.
      value: f(x).
      grad: grad f(x).
      grad_norm: ||grad f(x)|| (Euclidean, over all leaves).
      steps: iterations taken.
      n_fev, n_gev, n_hev: function, gradient and Hessian (or Hessian-vector product) evaluations.
      converged: grad_norm <= tol.
      linesearch_failed: the last line search found no step meeting its conditions
        (when it found no decrease at all, the run stops there).
      aux: the objective's aux output at x (``has_aux=True``), else None.
    """

    x: Any
    value: jax.Array
    grad: Any
    grad_norm: jax.Array
    steps: jax.Array
    n_fev: jax.Array
    n_gev: jax.Array
    n_hev: jax.Array
    converged: jax.Array
    linesearch_failed: jax.Array
    aux: Any


def _counts(state: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Evaluations made by the last update: the sums of the n_fev, n_gev, n_hev fields found in the state."""

    def counted(s):
        return isinstance(s, tuple) and hasattr(s, "_fields") and any(k in s._fields for k in ("n_fev", "n_hev"))

    totals = {"n_fev": _zero(), "n_gev": _zero(), "n_hev": _zero()}
    for node in jax.tree.leaves(state, is_leaf=counted):
        if counted(node):
            for k in totals:
                if k in node._fields:
                    totals[k] = totals[k] + getattr(node, k)
    return totals["n_fev"], totals["n_gev"], totals["n_hev"]


def _last_linesearch(state: Any) -> ls.LinesearchState | None:
    while isinstance(state, tuple) and not isinstance(state, ls.LinesearchState) and len(state):
        state = state[-1]
    return state if isinstance(state, ls.LinesearchState) else None


def minimize(
    fun: Callable[..., Any],
    x0: Any,
    method: str | optax.GradientTransformation = "bfgs",
    *,
    tol: jax.typing.ArrayLike = 1e-8,
    max_steps: int = 1000,
    has_aux: bool = False,
    **options: Any,
) -> MinimizeResult:
    """Minimise ``fun`` from ``x0`` until ||grad f|| <= ``tol`` or ``max_steps`` iterations.

    ``method`` is one of ``"bfgs"``, ``"lbfgs"``, ``"newton"``, ``"newton_cg"``,
    ``"nonlinear_cg"``, ``"regularized_newton"``, ``"saddle_free_newton"``
    (``options`` go to that alias, e.g. ``memory_size=5``, ``linesearch="backtracking"``)
    or any ``GradientTransformationExtraArgs`` taking ``value``, ``grad``, ``value_fn``.
    The loop is one jitted ``lax.while_loop``; the value and gradient found by a
    final line search are reused, not evaluated again. It stops early when a
    line search fails without any decrease. ``fun`` (and a ``Problem``'s data)
    and ``tol`` are traced, so new values do not recompile, and ``jax.vmap``
    over ``x0`` (or over problem data) solves many problems in one call.
    ``has_aux=True``: ``fun`` returns ``(value, aux)``; the result carries the aux at x.
    """
    _validate.positive_int("max_steps", max_steps)
    _validate.nonnegative("tol", tol)
    _validate.float_tree("x0", x0)
    if isinstance(method, str):
        _validate.one_of("method", method, tuple(METHODS))
        opt = METHODS[method](has_aux=has_aux, **options)
    else:
        if options:
            raise TypeError(f"options {sorted(options)} apply only to a method given by name")
        if not (hasattr(method, "init") and hasattr(method, "update")):
            raise TypeError(f"method must be a name or a GradientTransformation, got {method!r}")
        opt = method
    dynamic, static = partition((opt, fun))
    return _minimize(dynamic, static, x0, jnp.asarray(tol), max_steps=max_steps, has_aux=has_aux)


class _Carry(NamedTuple):
    x: Any
    value: jax.Array
    grad: Any
    state: Any
    steps: jax.Array
    n_fev: jax.Array
    n_gev: jax.Array
    n_hev: jax.Array
    failed: jax.Array
    stalled: jax.Array


@functools.partial(jax.jit, static_argnames=("static", "max_steps", "has_aux"))
def _minimize(
    dynamic: list, static: Static, x0: Any, tol: jax.Array, *, max_steps: int, has_aux: bool
) -> MinimizeResult:
    opt, fun = combine(dynamic, static)
    _validate.scalar_output(fun, x0, (), has_aux, what="objective")  # at trace time: once per compilation
    extra = isinstance(opt, optax.GradientTransformationExtraArgs)

    def f(x):
        out = fun(x)
        return out[0] if has_aux else out

    value_and_grad = jax.value_and_grad(f)
    v0, g0 = value_and_grad(x0)
    one = _one()

    def cond(c: _Carry):
        return (c.steps < max_steps) & (tree_norm(c.grad) > tol) & ~c.stalled & jnp.isfinite(c.value)

    def body(c: _Carry) -> _Carry:
        if extra:
            updates, state = opt.update(c.grad, c.state, c.x, value=c.value, grad=c.grad, value_fn=fun)
        else:
            updates, state = opt.update(c.grad, c.state, c.x)
        x = optax.apply_updates(c.x, updates)
        n_fev, n_gev, n_hev = _counts(state)
        search = _last_linesearch(state)
        if search is None:
            value, grad = value_and_grad(x)
            n_fev, n_gev = n_fev + 1, n_gev + 1
            failed = jnp.zeros([], bool)
            stalled = failed
        else:
            value = search.value.astype(c.value.dtype)
            if search.grad is None:
                grad = jax.grad(f)(x)
                n_gev = n_gev + 1
            else:
                grad = optax.tree.cast_like(search.grad, c.grad)
            failed = search.failed
            stalled = failed & (tree_norm(updates) == 0)
        return _Carry(
            x, value, grad, state, c.steps + 1, c.n_fev + n_fev, c.n_gev + n_gev, c.n_hev + n_hev, failed, stalled
        )

    start = _Carry(x0, v0, g0, opt.init(x0), _zero(), one, one, _zero(), jnp.zeros([], bool), jnp.zeros([], bool))
    c = jax.lax.while_loop(cond, body, start)
    gnorm = tree_norm(c.grad)
    aux = fun(c.x)[1] if has_aux else None
    return MinimizeResult(
        x=c.x,
        value=c.value,
        grad=c.grad,
        grad_norm=gnorm,
        steps=c.steps,
        n_fev=c.n_fev,
        n_gev=c.n_gev,
        n_hev=c.n_hev,
        converged=gnorm <= tol,
        linesearch_failed=c.failed,
        aux=aux,
    )
