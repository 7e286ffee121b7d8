"""Figures for optimizer studies (the only module of jaxgd that imports matplotlib).

Every function draws on a given axis (or a new figure) and returns the axis or
figure, so plots compose; :func:`save` writes a figure whole (temp file and
rename) and closes it. Diverged runs (non-finite values) are shown, not hidden:
paths stop where they leave the finite range, loss curves end with a cross,
sweep points are marked "diverged" at the top edge, heatmap cells are grey.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from jaxgd import files
from jaxgd.problems import Problem
from jaxgd.runner import Trajectory

__all__ = [
    "animate_paths",
    "contour",
    "heatmap",
    "hessian_spectrum",
    "learning_rates",
    "loss_curves",
    "path_panels",
    "save",
    "subplots",
    "sweep_plot",
    "train_val_curves",
    "update_ratios",
]

Path2D = Trajectory | np.ndarray | Any
PATH_COLORS = ("tab:red", "black", "tab:orange", "magenta", "tab:cyan", "tab:brown", "tab:pink", "tab:gray")


def _pyplot():
    import matplotlib

    backend = matplotlib.get_backend().lower()
    if backend not in ("agg", "module://matplotlib_inline.backend_inline", "inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def subplots(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] = (4.5, 3.5), **kwargs: Any):
    """``plt.subplots`` with each panel ``size`` inches; axes always a 2-D array (``squeeze=False``).

    Args:
        nrows: The number of rows.
        ncols: The number of columns.
        size: Each panel's size in inches.
        **kwargs: Passed to ``plt.subplots``.

    Returns:
        ``(fig, axes)``, axes a 2-D array.
    """
    plt = _pyplot()
    kwargs.setdefault("figsize", (size[0] * ncols, size[1] * nrows))
    return plt.subplots(nrows, ncols, squeeze=False, **kwargs)


def _new_ax(ax: Any, size: tuple[float, float] = (6.0, 4.0)):
    if ax is not None:
        return ax
    _, axes = subplots(1, 1, size=size)
    return axes[0, 0]


def _values(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


# --------------------------------------------------------------------------- contours and paths


def _surface(problem: Problem, box, resolution: int, log: bool, eps: float):
    import jax

    (x0, x1), (y0, y1) = box
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    dtype = np.asarray(problem.x0).dtype
    z = np.asarray(jax.vmap(problem)(grid.astype(dtype)), dtype=float).reshape(resolution, resolution)
    if log:
        fmin = float(problem.minimum) if problem.minimum is not None else float(np.nanmin(z))
        z = np.log(np.maximum(z - fmin, 0.0) + eps)
    return xs, ys, z


def _path_points(path: Path2D) -> np.ndarray:
    pts = _values(path.params if isinstance(path, Trajectory) else path)
    if pts.ndim not in (2, 3) or pts.shape[-1] != 2:
        raise ValueError(f"a path must have shape (T, 2) or (n, T, 2), got {pts.shape}")
    return pts


def _truncate(pts: np.ndarray, box) -> np.ndarray:
    """The path up to its first non-finite or absurdly far point (that point excluded)."""
    (x0, x1), (y0, y1) = box
    far = 1e3 * max(x1 - x0, y1 - y0)
    bad = ~np.all(np.isfinite(pts), axis=1) | (np.abs(pts).max(axis=1) > far)
    stop = int(np.argmax(bad)) if bad.any() else len(pts)
    return pts[:stop]


def _box_from(problem: Problem, paths: Mapping[str, Path2D]):
    if problem.box is not None:
        return problem.box
    pts = [p.reshape(-1, 2) for p in map(_path_points, paths.values())]
    pts = np.concatenate(pts) if pts else np.zeros((0, 2))
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if not len(pts):
        raise ValueError(f"problem {problem.name!r} has no box and no finite path points to make one from")
    lo, hi = pts.min(0), pts.max(0)
    pad = 0.1 * np.maximum(hi - lo, 1e-3)
    return ((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]))


def contour(
    problem: Problem,
    paths: Mapping[str, Path2D] | None = None,
    *,
    log: bool = False,
    eps: float = 1e-3,
    levels: int = 30,
    resolution: int = 200,
    box: tuple[tuple[float, float], tuple[float, float]] | None = None,
    ax: Any = None,
    title: str | None = None,
    legend: bool = True,
    _surface_cache: tuple | None = None,
):
    """Contour plot of a 2-D problem with optimizer paths drawn over it.

    ``paths`` maps a label to a Trajectory, a (T, 2) array of iterates, or an
    (n, T, 2) array of n paths drawn in one colour (many starting points).
    ``log=True`` draws log(f - f* + eps), as is usual for Rosenbrock. A path
    is drawn up to its first non-finite point; its start is a circle.

    Args:
        problem: A 2-D :class:`jaxgd.Problem`.
        paths: Label -> a Trajectory, a (T, 2) array, or an (n, T, 2) array of n paths.
        log: Whether to draw log(f - f* + eps).
        eps: The offset of the log scale.
        levels: The number of contour levels.
        resolution: Grid points per axis.
        box: ((x_low, x_high), (y_low, y_high)); the problem's box when None.
        ax: The axis to draw on (a new figure when None).
        title: The title (the problem's name when None).
        legend: Whether to draw a legend.

    Returns:
        The matplotlib axis.
    """
    paths = dict(paths or {})
    if problem.dim != 2:
        raise ValueError(f"contour needs a 2-D problem, got {problem!r}")
    box = box or _box_from(problem, paths)
    ax = _new_ax(ax, (6.0, 4.5))
    xs, ys, z = _surface_cache if _surface_cache is not None else _surface(problem, box, resolution, log, eps)
    ax.contour(xs, ys, z, levels=levels, cmap="viridis", linewidths=0.6, alpha=0.7)
    for n, (label, path) in enumerate(paths.items()):
        pts = _path_points(path)
        group = pts if pts.ndim == 3 else pts[None]
        color = PATH_COLORS[n % len(PATH_COLORS)]
        for k, one in enumerate(group):
            one = _truncate(one, box)
            if not len(one):
                continue
            ax.plot(one[:, 0], one[:, 1], ".-", ms=2, lw=0.9, color=color, label=label if k == 0 else None)
            ax.plot(one[0, 0], one[0, 1], "o", ms=4, mfc="none", color=color)
    if problem.minimizers is not None:
        m = _values(problem.minimizers).reshape(-1, 2)
        ax.plot(m[:, 0], m[:, 1], "k*", ms=10, label="minimum")
    (x0, x1), (y0, y1) = box
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(problem.name if title is None else title, fontsize=9)
    if paths and legend:
        ax.legend(fontsize=6, loc="best")
    return ax


def path_panels(
    problem: Problem,
    panels: Mapping[str, Mapping[str, Path2D]],
    *,
    ncols: int = 3,
    log: bool = False,
    eps: float = 1e-3,
    levels: int = 30,
    resolution: int = 150,
    box: tuple[tuple[float, float], tuple[float, float]] | None = None,
    size: tuple[float, float] = (4.2, 3.2),
    suptitle: str | None = None,
):
    """A grid of contour plots of one problem, one panel per entry of ``panels`` (title -> paths).

    The usual use: one panel per learning rate, ``{"eta=0.01": {"GD": traj}, ...}``.
    The surface is computed once. Returns the figure.

    Args:
        problem: A 2-D :class:`jaxgd.Problem`.
        panels: Panel title -> (label -> path), as :func:`contour`'s ``paths``.
        ncols: The number of columns.
        log: Whether to draw log(f - f* + eps).
        eps: The offset of the log scale.
        levels: The number of contour levels.
        resolution: Grid points per axis.
        box: ((x_low, x_high), (y_low, y_high)); the problem's box when None.
        size: Each panel's size in inches.
        suptitle: The figure's title.

    Returns:
        The matplotlib figure.
    """
    if not panels:
        raise ValueError("path_panels needs at least one panel")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got ncols={ncols}")
    ncols = min(ncols, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = subplots(nrows, ncols, size=size)
    all_paths = {f"{t}/{k}": v for t, ps in panels.items() for k, v in ps.items()}
    box = box or _box_from(problem, all_paths)
    surface = _surface(problem, box, resolution, log, eps)
    labels = [tuple(paths) for paths in panels.values()]
    same = all(lab == labels[0] for lab in labels)  # the same labels everywhere: one legend is enough
    for i, (ax, (title, paths)) in enumerate(zip(axes.ravel(), panels.items())):
        contour(
            problem,
            paths,
            box=box,
            ax=ax,
            title=title,
            levels=levels,
            legend=len(paths) > 1 and (i == 0 or not same),
            _surface_cache=surface,
        )
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def animate_paths(
    problem: Problem,
    paths: Mapping[str, Path2D],
    path: str | os.PathLike,
    *,
    frames: int = 40,
    fps: int = 8,
    log: bool = False,
    eps: float = 1e-3,
    box: tuple[tuple[float, float], tuple[float, float]] | None = None,
    size: tuple[float, float] = (4.0, 3.1),
    dpi: int = 80,
    title: str | None = None,
) -> str:
    """An animated GIF of optimizers racing on a 2-D problem: each (T, 2) path grows over ``frames`` frames.

    Written by matplotlib's Pillow writer, whole (a temporary file, then renamed). Paths of different
    lengths are drawn at the same fraction of their length in each frame. Returns the path.

    Args:
        problem: A 2-D :class:`jaxgd.Problem`.
        paths: Label -> a Trajectory or a (T, 2) array of iterates.
        path: The GIF file to write.
        frames: The number of frames.
        fps: Frames per second.
        log: Whether to draw log(f - f* + eps).
        eps: The offset of the log scale.
        box: ((x_low, x_high), (y_low, y_high)); the problem's box when None.
        size: The figure size in inches.
        dpi: The resolution.
        title: The title.

    Returns:
        The path written, a str.
    """
    from matplotlib.animation import FuncAnimation, PillowWriter

    if frames < 2:
        raise ValueError(f"an animation needs at least 2 frames, got frames={frames}")
    plt = _pyplot()
    pts = {label: _path_points(p) for label, p in paths.items()}
    box = box or _box_from(problem, pts)
    pts = {label: _truncate(p, box) for label, p in pts.items()}
    fig, axes = subplots(1, 1, size=size)
    ax = axes[0, 0]
    contour(problem, {}, log=log, eps=eps, box=box, ax=ax, title=title, resolution=100, levels=15)
    lines = {
        label: ax.plot([], [], "-", lw=1.4, color=PATH_COLORS[i % len(PATH_COLORS)], label=label)[0]
        for i, label in enumerate(pts)
    }
    heads = {label: ax.plot([], [], "o", ms=4, color=line.get_color())[0] for label, line in lines.items()}
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()

    def draw(k):
        for label, p in pts.items():
            n = max(1, round(len(p) * (k + 1) / frames))
            lines[label].set_data(p[:n, 0], p[:n, 1])
            heads[label].set_data(p[n - 1 : n, 0], p[n - 1 : n, 1])
        return [*lines.values(), *heads.values()]

    anim = FuncAnimation(fig, draw, frames=frames, blit=False)
    target = os.fspath(path)
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{os.path.splitext(name)[0]}.{os.getpid()}.gif")
    try:
        anim.save(tmp, writer=PillowWriter(fps=fps), dpi=dpi)
        os.replace(tmp, target)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


# --------------------------------------------------------------------------- curves


def _curve(c: Any, attr: str) -> np.ndarray:
    return _values(getattr(c, attr) if isinstance(c, Trajectory) else c)


def _semilogy_curves(ax, curves: Mapping[str, Any], attr: str, shift: float = 0.0, blowup: float | None = None) -> None:
    """Log-scale curves; a curve that goes non-finite or above ``blowup`` x its largest start value ends in a cross."""
    ys = {label: _curve(c, attr) - shift for label, c in curves.items()}
    for label, y in ys.items():
        if y.ndim != 1:
            raise ValueError(f"curve {label!r} must be 1-D, got shape {y.shape}")
    starts = [abs(y[0]) for y in ys.values() if len(y) and np.isfinite(y[0]) and y[0] != 0]
    top = blowup * max(starts) if (blowup is not None and starts) else np.inf
    clipped = False
    for label, y in ys.items():
        bad = ~np.isfinite(y) | (y > top)
        stop = int(np.argmax(bad)) if bad.any() else len(y)
        shown = np.where(y[:stop] > 0, y[:stop], np.nan)
        (line,) = ax.semilogy(np.arange(stop), shown, lw=1, label=label)
        if stop < len(y):  # diverged: a cross where it left the plot (or its last finite value)
            clipped |= np.isfinite(top)
            mark = top if np.isfinite(top) else (y[stop - 1] if stop > 0 else np.nan)
            ax.plot(max(stop - 1, 0), mark, "x", color=line.get_color(), ms=7)
    if clipped:
        ax.set_ylim(top=top * 1.5)


def loss_curves(
    curves: Mapping[str, Sequence[float] | Trajectory],
    *,
    ax: Any = None,
    title: str = "",
    fmin: float = 0.0,
    ylabel: str = "f(x) - f*",
    blowup: float | None = 1e4,
):
    """Loss minus ``fmin`` against step on a log scale, one line per label.

    A curve that becomes non-finite or exceeds ``blowup`` times the largest
    starting value is cut there and ends in a cross (diverged).

    Args:
        curves: Label -> a sequence of losses or a Trajectory.
        ax: The axis to draw on (a new figure when None).
        title: The title.
        fmin: f*, subtracted.
        ylabel: The y label.
        blowup: The factor over the largest start beyond which a curve counts as diverged (None: never).

    Returns:
        The matplotlib axis.
    """
    ax = _new_ax(ax)
    _semilogy_curves(ax, curves, "loss", fmin, blowup=blowup)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    if curves:
        ax.legend(fontsize=7)
    return ax


def update_ratios(
    ratios: Mapping[str, Sequence[float] | Trajectory],
    *,
    target: float | None = 1e-3,
    ax: Any = None,
    title: str = "update-to-parameter ratio",
):
    """||u_t|| / ||x_t|| against step, log scale, with the r ~ 1e-3 rule of thumb as a dashed line.

    Args:
        ratios: Label -> a sequence of ratios or a Trajectory (its ``update_ratio``).
        target: The rule of thumb drawn as a dashed line (None: none).
        ax: The axis to draw on (a new figure when None).
        title: The title.

    Returns:
        The matplotlib axis.
    """
    ax = _new_ax(ax)
    _semilogy_curves(ax, ratios, "update_ratio")
    if target is not None:
        ax.axhline(target, color="k", ls="--", lw=0.8, label=f"{target:g} rule of thumb")
    ax.set_xlabel("step")
    ax.set_ylabel("||update|| / ||params||")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return ax


def learning_rates(
    schedules: Mapping[str, Callable[[Any], Any] | Sequence[float]],
    steps: int,
    *,
    ax: Any = None,
    log: bool = True,
    title: str = "learning rate schedules",
):
    """eta_t for t = 0 .. steps-1, one line per schedule (a callable of the step or a sequence).

    Args:
        schedules: Label -> a callable of the step or a sequence of values.
        steps: The number of steps drawn.
        ax: The axis to draw on (a new figure when None).
        log: Whether the y axis is logarithmic.
        title: The title.

    Returns:
        The matplotlib axis.
    """
    import jax.numpy as jnp

    ax = _new_ax(ax)
    t = np.arange(steps)
    for label, s in schedules.items():
        y = _values(s(jnp.arange(steps)) if callable(s) else s)
        ax.plot(t[: len(y)], y, lw=1, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return ax


def _metric_groups(history: Mapping[str, Sequence[float]]) -> dict[str, dict[str, np.ndarray]]:
    groups: dict[str, dict[str, np.ndarray]] = {}
    for key, values in history.items():
        for split in ("train", "val", "test"):
            if key.startswith(split + "_"):
                groups.setdefault(key[len(split) + 1 :], {})[split] = _values(values)
    return groups


def train_val_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]] | Mapping[str, Sequence[float]],
    *,
    x_label: str = "epoch",
    log_loss: bool = False,
    title: str = "",
):
    """Train (solid) and validation (dashed) curves, one panel per metric, one colour per run.

    ``histories`` is one history ``{"train_loss": [...], "val_loss": [...],
    "train_accuracy": [...], ...}`` or a mapping of run labels to such
    histories. Keys are grouped by the part after ``train_`` / ``val_`` / ``test_``.
    Returns the figure.

    Args:
        histories: One history (key -> values per epoch) or run label -> history.
        x_label: The x label.
        log_loss: Whether the loss panels are logarithmic.
        title: The figure's title.

    Returns:
        The matplotlib figure.
    """
    if histories and all(not isinstance(v, Mapping) for v in histories.values()):
        histories = {"": histories}  # a single history
    groups = {label: _metric_groups(h) for label, h in histories.items()}
    metrics = list(dict.fromkeys(m for g in groups.values() for m in g))
    if not metrics:
        raise ValueError("train_val_curves found no train_*/val_*/test_* keys in the histories")
    fig, axes = subplots(1, len(metrics), size=(4.5, 3.4))
    styles = {"train": "-", "val": "--", "test": ":"}
    for ax, metric in zip(axes[0], metrics):
        for i, (label, g) in enumerate(groups.items()):
            for split, y in g.get(metric, {}).items():
                name = f"{label} {split}".strip()
                ax.plot(np.arange(1, len(y) + 1), y, styles[split], color=f"C{i}", lw=1.1, label=name)
        if log_loss and "loss" in metric:
            ax.set_yscale("log")
        ax.set_xlabel(x_label)
        ax.set_ylabel(metric)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- sweeps and heatmaps


def sweep_plot(
    values: Sequence[float],
    final_loss: Mapping[str, Sequence[float]] | Sequence[float],
    *,
    stability_bound: float | None = None,
    optimal_lr: float | None = None,
    lines: Mapping[str, float] | None = None,
    fmin: float = 0.0,
    ceiling: float | None = None,
    ax: Any = None,
    xlabel: str = "learning rate",
    ylabel: str = "final f(x) - f*",
    title: str = "",
):
    """Final loss against a hyperparameter (usually the learning rate), log-log.

    ``final_loss`` is one array or a mapping of labels to arrays. Runs whose
    loss is non-finite or above ``ceiling`` are drawn as crosses at the top
    edge, labelled "diverged". Vertical lines mark 2/lambda_max
    (``stability_bound``), eta* = 2/(lambda_max + lambda_min) (``optimal_lr``)
    and any other ``lines`` (label -> value).

    Args:
        values: The hyperparameter's values (x).
        final_loss: The final losses, one array or label -> array.
        stability_bound: 2/lambda_max, drawn as a vertical line.
        optimal_lr: eta*, drawn as a vertical line.
        lines: Further label -> value vertical lines.
        fmin: f*, subtracted.
        ceiling: Losses above it count as diverged.
        ax: The axis to draw on (a new figure when None).
        xlabel: The x label.
        ylabel: The y label.
        title: The title.

    Returns:
        The matplotlib axis.
    """
    x = _values(values)
    series = final_loss if isinstance(final_loss, Mapping) else {"": final_loss}
    ax = _new_ax(ax)
    ys = {k: _values(v) - fmin for k, v in series.items()}
    for k, y in ys.items():
        if y.shape != x.shape:
            raise ValueError(f"final_loss {k!r} has shape {y.shape}, values have shape {x.shape}")
    ok_all = np.concatenate([y[np.isfinite(y) & (y > 0)] for y in ys.values()] + [np.zeros(0)])
    ceiling_ = ceiling if ceiling is not None else np.inf
    finite_top = ok_all[ok_all <= ceiling_].max() if (ok_all <= ceiling_).any() else 1.0
    top = 10 * finite_top
    for i, (k, y) in enumerate(ys.items()):
        bad = ~np.isfinite(y) | (y > ceiling_)
        good = ~bad & (y > 0)
        ax.loglog(x[good], y[good], ".-", color=f"C{i}", ms=3, lw=1, label=k or None)
        if bad.any():
            ax.plot(x[bad], np.full(bad.sum(), top), "x", color=f"C{i}", ms=5, label=f"{k} diverged".strip())
    marks = dict(lines or {})
    if stability_bound is not None:
        marks = {r"$2/\lambda_{max}$": stability_bound, **marks}
    if optimal_lr is not None:
        marks = {r"$\eta^*$": optimal_lr, **marks}
    for j, (label, v) in enumerate(marks.items()):
        ax.axvline(v, color="k", ls=["--", ":", "-.", (0, (1, 3))][j % 4], lw=0.9, label=f"{label} = {v:.3g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return ax


def heatmap(
    x: Sequence[float],
    y: Sequence[float],
    z: Any,
    *,
    xlabel: str = "learning rate",
    ylabel: str = "momentum",
    log_x: bool = True,
    log_y: bool = False,
    log_z: bool = True,
    region: Callable[[np.ndarray, np.ndarray], np.ndarray] | np.ndarray | None = None,
    region_label: str = "stability region edge",
    colorbar_label: str = "final loss",
    ax: Any = None,
    title: str = "",
):
    """A value over a grid of two hyperparameters: ``z[i, j]`` at (``x[j]``, ``y[i]``).

    Non-finite cells (diverged runs) are grey. ``region`` draws the edge of a
    region over the map: a boolean array shaped like z, or a function of
    meshgrids (X, Y) -> bool, evaluated on a fine grid (e.g. heavy ball's
    stability region ``0 < a lambda_max < 2 + 2 b``).

    Args:
        x: The column values (e.g. learning rates).
        y: The row values (e.g. momenta).
        z: The (len(y), len(x)) values.
        xlabel: The x label.
        ylabel: The y label.
        log_x: Whether x is on a log scale.
        log_y: Whether y is on a log scale.
        log_z: Whether the colours are on a log scale.
        region: A boolean array like z, or a function of meshgrids (X, Y) -> bool, whose edge is drawn.
        region_label: The legend label of that edge.
        colorbar_label: The colour bar's label.
        ax: The axis to draw on (a new figure when None).
        title: The title.

    Returns:
        The matplotlib axis.
    """
    plt = _pyplot()
    xv, yv, zv = _values(x), _values(y), _values(z)
    if zv.shape != (len(yv), len(xv)):
        raise ValueError(f"z must have shape (len(y), len(x)) = {(len(yv), len(xv))}, got {zv.shape}")
    ax = _new_ax(ax, (6.0, 4.5))
    from matplotlib import colors

    finite = np.isfinite(zv)
    shown = np.where(finite, zv, np.nan)
    norm = None
    if log_z:
        pos = shown[finite & (shown > 0)]
        lo, hi = (pos.min(), pos.max()) if len(pos) else (1e-3, 1.0)
        shown = np.where(np.isfinite(shown) & (shown <= 0), lo, shown)  # exact zeros at the floor, NaN stays grey
        norm = colors.LogNorm(vmin=lo, vmax=max(hi, lo * 10))
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.75")
    mesh = ax.pcolormesh(_edges(xv, log_x), _edges(yv, log_y), np.ma.masked_invalid(shown), cmap=cmap, norm=norm)
    ax.figure.colorbar(mesh, ax=ax, label=colorbar_label)
    if region is not None:
        if callable(region):
            fx = np.geomspace(xv.min(), xv.max(), 400) if log_x else np.linspace(xv.min(), xv.max(), 400)
            fy = np.geomspace(yv.min(), yv.max(), 400) if log_y else np.linspace(yv.min(), yv.max(), 400)
            gx, gy = np.meshgrid(fx, fy)
            mask = np.asarray(region(gx, gy), dtype=float)
        else:
            gx, gy = np.meshgrid(xv, yv)
            mask = np.asarray(region, dtype=float)
            if mask.shape != zv.shape:
                raise ValueError(f"region must have the shape of z {zv.shape}, got {mask.shape}")
        if 0 < mask.mean() < 1:
            ax.contour(gx, gy, mask, levels=[0.5], colors="r", linewidths=1.5)
            ax.plot([], [], "r-", label=region_label)
            ax.legend(fontsize=7, loc="lower left")
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    return ax


def _edges(v: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges around the centres v (geometric midpoints on a log axis)."""
    if len(v) == 1:
        return np.array([v[0] / 2, v[0] * 2]) if log else np.array([v[0] - 0.5, v[0] + 0.5])
    w = np.log(v) if log else v
    mid = (w[1:] + w[:-1]) / 2
    e = np.concatenate([[2 * w[0] - mid[0]], mid, [2 * w[-1] - mid[-1]]])
    return np.exp(e) if log else e


# --------------------------------------------------------------------------- spectra


def hessian_spectrum(
    eigenvalues: Sequence[float],
    *,
    lines: Mapping[str, float] | None = None,
    bins: int = 50,
    ax: Any = None,
    title: str = "Hessian spectrum",
):
    """Hessian eigenvalues: sorted stems for up to 60 of them, else a histogram (log counts).

    Negative eigenvalues (directions of negative curvature) are red. ``lines``
    marks reference values, e.g. ``{"2/eta": 2 / lr}`` to compare sharpness with
    the stability threshold.

    Args:
        eigenvalues: The eigenvalues.
        lines: Label -> value, drawn as vertical lines.
        bins: The number of histogram bins (over 60 eigenvalues).
        ax: The axis to draw on (a new figure when None).
        title: The title.

    Returns:
        The matplotlib axis.
    """
    ev = np.sort(_values(eigenvalues).ravel())
    if not len(ev) or not np.all(np.isfinite(ev)):
        raise ValueError("hessian_spectrum needs a non-empty array of finite eigenvalues")
    ax = _new_ax(ax)
    if len(ev) <= 60:
        idx = np.arange(1, len(ev) + 1)
        neg = ev < 0
        ax.vlines(idx, 0, ev, colors=np.where(neg, "tab:red", "tab:blue"), lw=1.5)
        ax.plot(idx[~neg], ev[~neg], "o", color="tab:blue", ms=4, label="eigenvalue")
        if neg.any():
            ax.plot(idx[neg], ev[neg], "o", color="tab:red", ms=4, label="negative")
        if ev.min() > 0 and ev.max() / ev.min() > 100:
            ax.set_yscale("log")
        elif np.abs(ev).max() / max(np.abs(ev[ev != 0]).min() if (ev != 0).any() else 1.0, 1e-300) > 100:
            ax.set_yscale("symlog", linthresh=max(np.abs(ev[ev != 0]).min(), 1e-12))
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("index (sorted)")
        ax.set_ylabel(r"$\lambda_i$")
        for j, (label, v) in enumerate((lines or {}).items()):
            ax.axhline(v, color="k", ls=["--", ":", "-."][j % 3], lw=0.9, label=f"{label} = {v:.3g}")
    else:
        neg = ev[ev < 0]
        ax.hist(ev[ev >= 0], bins=bins, color="tab:blue", log=True, label="eigenvalues")
        if len(neg):
            ax.hist(neg, bins=bins, color="tab:red", log=True, label="negative")
        ax.set_xlabel(r"$\lambda$")
        ax.set_ylabel("count")
        for j, (label, v) in enumerate((lines or {}).items()):
            ax.axvline(v, color="k", ls=["--", ":", "-."][j % 3], lw=0.9, label=f"{label} = {v:.3g}")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return ax


# --------------------------------------------------------------------------- output


def save(fig_or_ax: Any, path: str | os.PathLike, *, dpi: int = 110) -> str:
    """Write a figure (or an axis's figure) to ``path`` whole (temp file + rename), close it, return the path.

    The format follows the file's extension (``.png``, ``.pdf``, ``.svg``).

    Args:
        fig_or_ax: A matplotlib figure or axis.
        path: The file to write; its extension sets the format.
        dpi: The resolution.

    Returns:
        The path written, a str.
    """
    plt = _pyplot()
    fig = getattr(fig_or_ax, "figure", fig_or_ax)
    if hasattr(fig, "get_figure") and fig.get_figure() is not None:
        fig = fig.get_figure()
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    top = 1.0 - 0.35 / fig.get_figheight() if fig.get_suptitle() else 1.0  # leave room for a suptitle
    fig.tight_layout(rect=(0, 0, 1, top))
    try:
        with files.atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=ext)
    finally:
        plt.close(fig)
    return path
