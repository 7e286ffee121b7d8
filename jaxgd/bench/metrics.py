"""Benchmark metrics: steps to a relative target and Dolan-Moré performance profiles.

* target reached: f(x_t) - f* <= tau (f(x_0) - f*) (Dolan & Moré 2002; DeepOBS, Schneider et al. 2019);
* performance ratio r_{p,s} = t_{p,s} / min_s t_{p,s}, set to r_max where solver s fails on p;
  profile rho_s(tau) = |{p : r_{p,s} <= tau}| / |P| (Dolan & Moré, Math. Program. 91 (2002) 201-213;
  AlgoPerf, Dahl et al. 2023, which caps ratios at r_max).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["performance_profile", "performance_ratios", "steps_to_target"]


def steps_to_target(curve: np.ndarray, f_star: float, taus: Sequence[float]) -> np.ndarray:
    """First t with f(x_t) - f* <= tau (f(x_0) - f*), for each tau; -1 where never.

    Args:
        curve: (..., T + 1) the loss at steps 0..T (NaN after divergence counts as not reached).
        f_star: f*, the minimum.
        taus: The targets tau >= 0.

    Returns:
        The steps, an int array of shape (..., len(taus)); -1 where never reached.

    Raises:
        ValueError: If curve has no steps, or a tau is negative.
    """
    curve = np.asarray(curve, dtype=float)
    taus = np.asarray(taus, dtype=float)
    if curve.ndim < 1 or curve.shape[-1] < 1:
        raise ValueError(f"curve needs a last axis of steps, got shape {curve.shape}")
    if np.any(taus < 0):
        raise ValueError(f"every tau must be >= 0, got {taus}")
    gap = curve - f_star
    gap0 = gap[..., :1]
    hit = gap[..., None, :] <= taus[:, None] * gap0[..., None, :]  # (..., K, T+1)
    first = np.argmax(hit, axis=-1)
    return np.where(hit.any(axis=-1), first, -1)


def performance_ratios(costs: np.ndarray) -> np.ndarray:
    """r_{p,s} = t_{p,s} / min_s t_{p,s} for costs (P problems, S solvers); inf where s fails on p.

    A failure is a cost that is inf, NaN or negative (the -1 of "never reached"); a problem no
    solver solves has every ratio inf. A zero cost beside a zero best gives 1.

    Args:
        costs: (P, S) each solver's cost on each problem (steps, gradient evaluations, seconds).

    Returns:
        The ratios, (P, S), >= 1 or inf.

    Raises:
        ValueError: If costs is not 2-D.
    """
    t = np.asarray(costs, dtype=float)
    if t.ndim != 2:
        raise ValueError(f"costs must be (problems, solvers), got shape {t.shape}")
    t = np.where(np.isfinite(t) & (t >= 0), t, np.inf)
    best = t.min(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(best == 0, np.where(t == 0, 1.0, np.inf), t / best)
    return np.where(np.isnan(r), np.inf, r)


def performance_profile(
    costs: np.ndarray, taus: np.ndarray | None = None, r_max: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """rho_s(tau) = |{p : r_{p,s} <= tau}| / |P| on 1 <= tau <= r_max (Dolan & Moré 2002).

    Default taus: 1, the distinct ratios below r_max (the jumps of the step function) and r_max,
    AlgoPerf's cap (failures, r = inf, count at no tau).

    Args:
        costs: (P, S) as in :func:`performance_ratios`.
        taus: The ratios tau at which rho is evaluated; None: the default above.
        r_max: The largest ratio, >= 1.

    Returns:
        taus: The ratios tau, (n,).
        rho: (n, S) the fraction of problems each solver solves within tau times the best cost.

    Raises:
        ValueError: If r_max < 1 or costs is not 2-D.
    """
    if not r_max >= 1:
        raise ValueError(f"r_max must be >= 1, got {r_max}")
    r = performance_ratios(costs)
    if taus is None:
        inside = r[(r >= 1) & (r <= r_max)]
        taus = np.unique(np.concatenate([[1.0, r_max], inside]))
    taus = np.asarray(taus, dtype=float)
    rho = (r[None, :, :] <= taus[:, None, None]).mean(axis=1)
    return taus, rho
