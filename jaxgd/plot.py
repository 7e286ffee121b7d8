"""Plots (the only module that imports matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxgd.problems import Problem
from jaxgd.runner import Trajectory

__all__ = ["contour", "loss_curves"]


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def contour(
    problem: Problem,
    paths: Mapping[str, Trajectory | Any] | None = None,
    *,
    log: bool = False,
    eps: float = 1e-3,
    levels: int = 30,
    resolution: int = 200,
    ax: Any = None,
    title: str | None = None,
):
    """Contour plot of a 2-D problem, with optimizer paths (Trajectories or (T, 2) arrays) drawn over it.

    ``log=True`` draws log(f - f* + eps), as is usual for Rosenbrock.
    """
    import jax

    if problem.dim != 2 or problem.box is None:
        raise ValueError(f"contour needs a 2-D problem with a box, got {problem!r}")
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    (x0, x1), (y0, y1) = problem.box
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    z = np.asarray(jax.vmap(problem)(grid.astype(np.asarray(problem.x0).dtype))).reshape(resolution, resolution)
    if log:
        fmin = float(problem.minimum) if problem.minimum is not None else float(z.min())
        z = np.log(z - fmin + eps)
    ax.contour(xs, ys, z, levels=levels, cmap="viridis", linewidths=0.7)
    for label, path in (paths or {}).items():
        pts = np.asarray(path.params if isinstance(path, Trajectory) else path)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        pts = pts[(pts[:, 0] > x0 - 10 * (x1 - x0)) & (pts[:, 0] < x1 + 10 * (x1 - x0))]
        ax.plot(pts[:, 0], pts[:, 1], ".-", ms=2, lw=1, label=label)
    if problem.minimizers is not None:
        m = np.asarray(problem.minimizers)
        ax.plot(m[:, 0], m[:, 1], "k*", ms=10, label="minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title or problem.name)
    if paths:
        ax.legend(fontsize=7)
    return ax


def loss_curves(
    curves: Mapping[str, Sequence[float] | Trajectory], *, ax: Any = None, title: str = "", fmin: float = 0.0
):
    """Loss (minus fmin) against step on a log scale, one line per label."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for label, c in curves.items():
        y = np.asarray(c.loss if isinstance(c, Trajectory) else c, dtype=float) - fmin
        ax.semilogy(np.arange(len(y)), np.where(y > 0, y, np.nan), lw=1, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("f(x) - f*")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


def save(fig_or_ax: Any, path: str) -> None:
    """Save a figure (or an axis's figure) to ``path`` whole (temp file + rename), then close it."""
    import os

    plt = _pyplot()
    fig = getattr(fig_or_ax, "figure", fig_or_ax)
    fig.tight_layout()
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    plt.close(fig)
