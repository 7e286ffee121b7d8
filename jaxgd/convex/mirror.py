"""Mirror descent with the entropic mirror map on the simplex, and mirror prox for convex-concave saddle points.

With Phi(x) = sum_i x_i log x_i (1-strongly convex w.r.t. ||.||_1 on the simplex,
R^2 = sup Phi - Phi(uniform) = log n), the mirror step is multiplicative:

    x_{s+1} = x_s exp(-eta g_s) / sum_i x_{s,i} exp(-eta g_{s,i})        (exponentiated gradient)

For f L-Lipschitz w.r.t. ||.||_1 (||g||_inf <= L), eta = (R/L) sqrt(2/t) from the
uniform start gives f(average of x_1..x_t) - f* <= R L sqrt(2 / t) (Bubeck 2015, Theorem 4.2).

Mirror prox (Nemirovski 2004) for min_x max_y phi(x, y) on two simplices takes an
extra-gradient step: w_s = MD step from z_s with the gradient at z_s, then
z_{s+1} = MD step from z_s with the gradient at w_s; the average of w_1..w_t has a
duality gap <= 4 max(beta_11 R_X^2, beta_22 R_Y^2, beta_12 R_X R_Y, beta_21 R_X R_Y) / t
with the mirror map Phi_X / R_X^2 + Phi_Y / R_Y^2 and eta = 1 / (2 max(...)) (Bubeck 2015,
Theorem 5.2). For the matrix game phi = x^T A y, beta_11 = beta_22 = 0, beta_12 = beta_21 = max |A_ij|.

References: Nemirovski & Yudin (1983); Beck & Teboulle (2003), "Mirror descent and
nonlinear projected subgradient methods for convex optimization"; Nemirovski (2004),
"Prox-method with rate of convergence O(1/t)", SIAM J. Optim. 15(1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from jaxgd import _validate
from jaxgd._core import Hyperparameter, filter_jit, value_at
from jaxgd._recipe import optimizer

__all__ = [
    "EntropicMirrorState",
    "MirrorProxResult",
    "entropic_mirror_descent",
    "entropic_step",
    "game_gap",
    "game_step_sizes",
    "mirror_prox",
]


def entropic_step(
    x: jax.Array, g: jax.Array, eta: jax.typing.ArrayLike, radius: jax.typing.ArrayLike = 1.0
) -> jax.Array:
    """r softmax(log(x / r) - eta g): the entropic mirror step on the simplex of radius r (zeros stay zero).

    Args:
        x: The point, in the simplex.
        g: The (sub)gradient.
        eta: The step size.
        radius: r.

    Returns:
        The next point, like x.
    """
    logits = jnp.where(x > 0, jnp.log(jnp.where(x > 0, x, 1)), -jnp.inf) - eta * g
    return (radius * jax.nn.softmax(logits)).astype(x.dtype)


class EntropicMirrorState(NamedTuple):
    count: jax.Array


@optimizer()
def entropic_mirror_descent(
    learning_rate: Hyperparameter, radius: jax.typing.ArrayLike = 1.0
) -> optax.GradientTransformation:
    """Mirror descent with the entropic mirror map on {x >= 0, sum x = r}: x_{s+1} proportional to x_s exp(-eta_s g_s)
    (all leaves flattened together). Start inside the simplex (the uniform point r/n is the usual start).

    Args:
        learning_rate: eta > 0 (a float, an array or a schedule).
        radius: r, the simplex's total.

    Returns:
        The optimizer (:class:`jaxgd.Optimizer`); its update needs the parameters.
    """
    _validate.positive("learning_rate", learning_rate)
    _validate.positive("radius", radius)

    def init_fn(params):
        del params
        return EntropicMirrorState(jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("entropic_mirror_descent needs params: call update(grad, state, params)")
        x, unravel = ravel_pytree(params)
        g, _ = ravel_pytree(updates)
        x_new = entropic_step(x, g, value_at(learning_rate, state.count), radius)
        return unravel(x_new - x), EntropicMirrorState(optax.safe_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


# --------------------------------------------------------------------------- mirror prox


class MirrorProxResult(NamedTuple):
    """x, y: the last z_T; x_average, y_average: (T, n), (T, m) running averages of the extrapolated points w_1..w_s,
    the points the rate is stated for; x_final_average, y_final_average: their last rows."""

    x: jax.Array
    y: jax.Array
    x_average: jax.Array
    y_average: jax.Array
    x_final_average: jax.Array
    y_final_average: jax.Array


def _mirror_prox_scan(phi: Callable, x0: jax.Array, y0: jax.Array, eta_x: jax.Array, eta_y: jax.Array, steps: int):
    gx, gy = jax.grad(phi, argnums=0), jax.grad(phi, argnums=1)

    def step(carry, s):
        x, y, sx, sy = carry
        wx = entropic_step(x, gx(x, y), eta_x)
        wy = entropic_step(y, -gy(x, y), eta_y)
        x_new = entropic_step(x, gx(wx, wy), eta_x)
        y_new = entropic_step(y, -gy(wx, wy), eta_y)
        sx, sy = sx + wx, sy + wy
        k = (s + 1).astype(x.dtype)
        return (x_new, y_new, sx, sy), (sx / k, sy / k)

    init = (x0, y0, jnp.zeros_like(x0), jnp.zeros_like(y0))
    (x, y, _, _), (xa, ya) = jax.lax.scan(step, init, jnp.arange(steps))
    return MirrorProxResult(x, y, xa, ya, xa[-1], ya[-1])


@filter_jit(static_argnames=("steps",))
def _mirror_prox(fns, x0, y0, eta_x, eta_y, *, steps):
    return _mirror_prox_scan(fns[0], x0, y0, eta_x, eta_y, steps)


def mirror_prox(
    phi: Callable[[jax.Array, jax.Array], jax.Array],
    x0: jax.typing.ArrayLike,
    y0: jax.typing.ArrayLike,
    steps: int,
    learning_rate: Any,
) -> MirrorProxResult:
    """Mirror prox with entropic maps for min over the simplex in x, max over the simplex in y, of phi(x, y).

    ``learning_rate``: eta, or a pair (eta_x, eta_y) (:func:`game_step_sizes` gives Bubeck's choice for a matrix
    game). One ``jit``-compiled ``lax.scan``; ``phi`` may be a ``jax.tree_util.Partial`` holding its data.

    Args:
        phi: phi(x, y), convex in x and concave in y.
        x0: The start in the x simplex.
        y0: The start in the y simplex.
        steps: The number of steps.
        learning_rate: eta, or a pair (eta_x, eta_y).

    Returns:
        The result (:class:`MirrorProxResult`): the averaged iterates and the history.
    """
    _validate.positive_int("steps", steps)
    x0, y0 = jnp.asarray(x0), jnp.asarray(y0)
    for name, v in (("x0", x0), ("y0", y0)):
        if v.ndim != 1:
            raise ValueError(f"{name} must be a vector, got shape {v.shape}")
        _validate.float_tree(name, v)
    eta_x, eta_y = learning_rate if isinstance(learning_rate, (tuple, list)) else (learning_rate, learning_rate)
    _validate.positive("learning_rate", eta_x)
    _validate.positive("learning_rate", eta_y)
    dtype = x0.dtype
    return _mirror_prox((phi,), x0, y0.astype(dtype), jnp.asarray(eta_x, dtype), jnp.asarray(eta_y, dtype), steps=steps)


def game_step_sizes(matrix: Any) -> tuple[float, float]:
    """Bubeck's (Theorem 5.2) steps for phi = x^T A y on simplices of sizes n, m: with a = max |A_ij|,
    R_X^2 = log n, R_Y^2 = log m, eta = 1 / (2 a R_X R_Y) for the scaled map, i.e. (eta R_X^2, eta R_Y^2) per block.

    Args:
        matrix: A, (n, m).

    Returns:
        (eta_x, eta_y), floats.
    """
    a = np.asarray(matrix, dtype=float)
    if a.ndim != 2 or min(a.shape) < 2:
        raise ValueError(f"matrix must be 2-D with at least 2 rows and columns, got shape {a.shape}")
    amax = float(np.max(np.abs(a)))
    if not amax > 0:
        raise ValueError("matrix must have a non-zero entry")
    rx, ry = math.sqrt(math.log(a.shape[0])), math.sqrt(math.log(a.shape[1]))
    eta = 1.0 / (2 * amax * rx * ry)
    return eta * rx * rx, eta * ry * ry


def game_gap(matrix: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    """Duality gap of (x, y) in min_x max_y x^T A y: max_j (A^T x)_j - min_i (A y)_i >= 0, zero at an equilibrium.

    Args:
        matrix: A, (n, m).
        x: The row player's mixed strategy, (n,).
        y: The column player's mixed strategy, (m,).

    Returns:
        The gap, a scalar.
    """
    return jnp.max(x @ matrix, axis=-1) - jnp.min(y @ matrix.T, axis=-1)
