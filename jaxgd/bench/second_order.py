"""Second-order methods on the suite's deterministic problems, counted in gradient and Hessian-vector evaluations.

A method of :func:`jaxgd.minimize` (``"lbfgs"``, ``"newton_cg"``, ...) has no learning rate to tune; its
line search spends a varying number of evaluations per step, so it is compared with the tuned first-order
methods by evaluations, not steps: to reach f - f* <= tau (f(x_0) - f*) at step t it spent
1 + sum_{s<=t} (gradients of step s) gradients and sum_{s<=t} (Hessian-vector products of step s),
the accounting of :func:`jaxgd.minimize` (its counters ``n_gev``, ``n_hev``). One Hessian-vector product is
charged as two gradients (forward-over-reverse costs about 2-4 gradients: Pearlmutter 1994; Griewank &
Walther 2008), in ``gradient_equivalents``: the cost measure of the performance profiles, where a
first-order step costs one gradient. The iterates are those of ``minimize`` (same transform).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

import jaxgd
from jaxgd._core import eval_counts
from jaxgd.bench.metrics import steps_to_target
from jaxgd.second_order import METHODS

__all__ = ["HVP_COST", "second_order_row"]

HVP_COST = 2.0


def _counts(params: Any, state: Any) -> dict[str, Any]:
    return eval_counts(state)  # one function, so that a second run reuses the compiled program


def second_order_row(
    method: str, problem: jaxgd.Problem, steps: int, taus: Sequence[float], *, timing: bool = False
) -> dict[str, Any]:
    """A leaderboard row of ``method`` on ``problem``: steps, gradients, Hessian-vector products and
    gradient-equivalents to each tau, the final gap, and with ``timing`` the seconds of one run after compilation.

    Args:
        method: A method of :data:`jaxgd.second_order.METHODS` (``"lbfgs"``, ``"newton_cg"``, ...).
        problem: A :class:`jaxgd.Problem` with a known ``minimum``.
        steps: The iterations.
        taus: The targets tau of f - f* <= tau (f(x_0) - f*).
        timing: Time a second run (compilation excluded).

    Returns:
        The row, a dict with the keys of :func:`jaxgd.bench.report.leaderboard`'s rows; inf where a target is
            never reached.

    Raises:
        ValueError: If method is unknown.
    """
    if method not in METHODS:
        raise ValueError(f"unknown second-order method {method!r}; choose from {sorted(METHODS)}")
    opt = METHODS[method]()

    def call():
        return jaxgd.run(opt, problem, problem.x0, steps, record=_counts)

    traj = call()
    seconds = float("nan")
    if timing:
        start = time.perf_counter()
        jax.block_until_ready(call().loss)
        seconds = time.perf_counter() - start
    loss = np.asarray(traj.loss, float)
    f_star = float(problem.minimum)
    grads = 1 + np.cumsum(np.asarray(traj.recorded["n_gev"]))
    hvps = np.cumsum(np.asarray(traj.recorded["n_hev"]))
    at = steps_to_target(np.where(np.isfinite(loss), loss, np.nan), f_star, taus)

    def pick(a):
        return {f"{tau:g}": (float(a[k]) if k >= 0 else float("inf")) for tau, k in zip(taus, at)}

    gap = float(loss[-1] - f_star) if np.isfinite(loss[-1]) else float("inf")
    return {
        "problem": problem.name,
        "optimizer": method,
        "kind": "second_order",
        "hyperparams": {},
        "final_gap": gap,
        "final_gap_min": gap,
        "final_gap_max": gap,
        "steps_to_target": pick(np.arange(steps + 1)),
        "grad_evals_to_target": pick(grads),
        "hvps_to_target": pick(hvps),
        "gradient_equivalents_to_target": pick(grads + HVP_COST * hvps),
        "test_accuracy": None,
        "test_accuracy_std": None,
        "test_accuracy_seeds": None,
        "seconds": seconds,
        "good_range_decades": None,
        "seeds": 1,
        "stochastic": False,
        "f0": float(loss[0]),
        "f_star": f_star,
    }
