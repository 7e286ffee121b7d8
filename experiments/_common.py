"""Helpers shared by the experiment scripts: vmapped runs, exact linear rates, rate fits, whole-file output.

Not an experiment itself (the leading underscore keeps it out of ``jaxgd reproduce``).
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxgd
from jaxgd import analysis, cli, files, plot

# --------------------------------------------------------------------------- output


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.ndarray, jax.Array)):
        return _jsonable(np.asarray(x).tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return float(x)
    return x


def write_json(path: Path, obj: Any) -> Path:
    """Strict JSON, written whole: a non-finite float (a diverged run's loss) is written as null."""
    files.write_text(path, cli.json_text(_jsonable(obj)))
    return Path(path)


def write_csv(path: Path, rows: Sequence[dict]) -> Path:
    """CSV of a list of dicts (the first row's keys are the header), written whole."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _jsonable(v) for k, v in row.items()})
    files.write_text(path, buf.getvalue())
    return Path(path)


FIGURE_DPI = 110  # every figure, --small included: legends stay readable


class Report:
    """Collects an experiment's output files (name -> one-line explanation) and numbers; writes ``<name>.json``.

    ``jaxgd reproduce`` builds its index page from these JSON files.
    """

    def __init__(self, out: str | os.PathLike, name: str, title: str, small: bool):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.name, self.title, self.small = name, title, small
        self.outputs: dict[str, str] = {}
        self.results: dict[str, Any] = {}
        self.findings: list[str] = []
        self.claims: list[dict[str, Any]] = []
        self.start = time.perf_counter()

    def progress(self, text: str) -> None:
        """Print ``  name: text (elapsed s)`` at once, so a long experiment shows what it is doing."""
        print(f"  {self.name}: {text} ({time.perf_counter() - self.start:.1f}s)", flush=True)

    def finding(self, text: str) -> None:
        """One line for the summary at the top of the index page, stating a number this run measured."""
        self.findings.append(text)

    def claim(self, lecture: str, claim: str, measured: Any, holds: bool | None) -> None:
        """A lecture's claim checked by this run: one row of the table at the top of the index page.

        ``lecture`` names the source (``"DD2424 L5"``), ``claim`` says what it states, ``measured``
        is what this run found (a string, or a number written with 4 significant digits) and
        ``holds`` whether the claim survives the measurement (None: not decidable by this run).
        """
        if not isinstance(measured, str):
            measured = f"{float(measured):.4g}"
        self.claims.append(
            {"lecture": lecture, "claim": claim, "measured": measured, "holds": None if holds is None else bool(holds)}
        )

    def figure(self, fig_or_ax: Any, filename: str, explanation: str) -> Path:
        path = self.out / filename
        plot.save(fig_or_ax, path, dpi=FIGURE_DPI)
        self.outputs[filename] = explanation
        return path

    def csv(self, rows: Sequence[dict], filename: str, explanation: str) -> Path:
        path = write_csv(self.out / filename, rows)
        self.outputs[filename] = explanation
        return path

    def finish(self) -> dict:
        summary = {
            "experiment": self.name,
            "title": self.title,
            "small": self.small,
            "outputs": {**self.outputs, f"{self.name}.json": "all the numbers of this experiment, as JSON"},
            "findings": self.findings,
            "claims": self.claims,
            "results": _jsonable(self.results),
        }
        write_json(self.out / f"{self.name}.json", summary)
        return summary


# --------------------------------------------------------------------------- running


def run_lrs(
    make_optimizer: Callable[[jax.Array], Any],
    loss: Callable,
    x0: Any,
    lrs: Sequence[float],
    steps: int,
    *,
    record_every: int = 1,
    lecture_iterate: bool = False,
) -> jaxgd.Trajectory:
    """One ``vmap`` of ``jaxgd.run`` over learning rates: a Trajectory whose leaves have a leading axis len(lrs).

    For experiments that need every iterate (paths, distances); :func:`jaxgd.sweep` when summaries suffice.
    ``lecture_iterate=True`` (Nesterov-type optimizers) keeps the lecture's x_t in ``traj.recorded``
    (:func:`jaxgd.nesterov_iterate`) next to the look-ahead y_t that jaxgd carries in ``traj.params``.
    """
    lrs = jnp.asarray(lrs, jnp.asarray(x0).dtype)

    def one(lr):
        opt = make_optimizer(lr)
        record = (lambda p, s: jaxgd.nesterov_iterate(opt, p, s)) if lecture_iterate else None
        return jaxgd.run(opt, loss, x0, steps, record_every=record_every, record=record)

    return jax.vmap(one)(lrs)


def index(tree: Any, i: int) -> Any:
    """Row ``i`` of a batched pytree (one run out of a vmapped Trajectory)."""
    return jax.tree.map(lambda a: a[i], tree)


def diverged(loss: Any, threshold: float = 1e10) -> np.ndarray:
    """True where a loss curve (last axis = steps) ever became non-finite or exceeded ``threshold``."""
    loss = np.asarray(loss, dtype=float)
    return np.any(~np.isfinite(loss) | (loss > threshold), axis=-1)


# --------------------------------------------------------------------------- theory for quadratics


def linear_rate(method: str, lr: float, momentum: float, eigenvalues: Sequence[float]) -> float:
    """Exact asymptotic rate of ||x_t - x*|| on a quadratic with the given Hessian eigenvalues.

    The spectral radius of the iteration matrix, max over eigenvalues lambda of
    the largest root modulus of the method's characteristic polynomial:

    * ``gd``:         z - (1 - eta lambda)                          (:func:`jaxgd.analysis.gd_rate`)
    * ``heavy_ball``: z^2 - (1 + b - eta lambda) z + b              (:func:`jaxgd.analysis.heavy_ball_rate`)
    * ``nesterov``:   z^2 - (1 + b)(1 - eta lambda) z + b (1 - eta lambda)   (look-ahead form, computed here)
    """
    eig = np.asarray(eigenvalues, dtype=float).ravel()
    if method == "gd":
        return float(analysis.gd_rate(lr, eig))
    if method == "heavy_ball":
        return float(analysis.heavy_ball_rate(lr, momentum, eig))
    if method != "nesterov":
        raise ValueError(f"method must be 'gd', 'heavy_ball' or 'nesterov', got {method!r}")
    h = lr * eig
    return float(max(np.max(np.abs(np.roots([1.0, -(1.0 + momentum) * (1.0 - x), momentum * (1.0 - x)]))) for x in h))


def measured_rate(distances: Any, *, floor: float = 1e-30, skip: float = 0.2) -> float:
    """Per-step rate fitted to a curve of ||x_t - x*||: :func:`jaxgd.analysis.fit_rate` over a window.

    The window drops the first ``skip`` fraction of the usable points (the
    transient) and every point from where the curve first falls below ``floor``
    or stops being finite (underflow, divergence). NaN with fewer than 2 usable points.
    """
    d = np.asarray(distances, dtype=float)
    ok = np.isfinite(d) & (d > floor)
    stop = int(np.argmin(ok)) if not ok.all() else len(d)
    start = int(skip * stop) if stop >= 10 else 0
    if stop - start < 2:
        return float("nan")
    steps = np.arange(len(d))
    window = np.where((steps >= start) & (steps < stop), d, np.nan)  # one shape per curve length: one compile
    return float(analysis.fit_rate(window, steps))


def distances(traj: jaxgd.Trajectory, xstar: Any) -> np.ndarray:
    """||x_t - x*|| along the recorded iterates (last axis = recorded steps)."""
    p = np.asarray(traj.params, dtype=float)
    return np.linalg.norm(p - np.asarray(xstar, dtype=float), axis=-1)


def rate_agreement(rows: Sequence[dict]) -> str:
    """'measured rate within x% of the predicted on n converging runs', over rows with both rates."""
    pairs = [
        (r["measured_rate"], r["predicted_rate"])
        for r in rows
        if r.get("measured_rate") is not None
        and np.isfinite(r["measured_rate"])
        and not r["diverged"]
        and r["predicted_rate"] < 0.99
    ]
    if not pairs:
        return "no converging run to compare rates on"
    worst = max(abs(m - p) / p for m, p in pairs)
    return f"measured per-step rate within {100 * worst:.2g}% of theory on {len(pairs)} converging runs"


def divergence(rows: Sequence[dict]) -> str:
    """Which learning rates of ``rows`` diverged, as a verb phrase ("diverged at eta = 0.021, not at 0.02")."""
    bad = sorted(r["lr"] for r in rows if r["diverged"])
    good = sorted(r["lr"] for r in rows if not r["diverged"])
    if not bad:
        return f"did not diverge at any eta up to {good[-1]:g}"
    if not good:
        return f"diverged at every eta, the smallest {bad[0]:g}"
    stable = [lr for lr in good if lr < bad[0]]
    below = f", not at {stable[-1]:g}" if stable else ""
    return f"diverged at eta = {', '.join(f'{lr:g}' for lr in bad)}{below}"


def script(main: Callable[..., dict]) -> None:
    """Command line for running one experiment file directly: ``python experiments/X.py [--out DIR] [--small]``."""
    import argparse

    parser = argparse.ArgumentParser(description=(main.__module__ and __import__(main.__module__).__doc__) or None)
    cli.add_experiment_options(parser)
    args = parser.parse_args()
    summary = main(args.out, small=args.small)
    print(f"{summary['title']}: wrote {', '.join(summary['outputs'])} to {args.out}")


def _panel_paths(traj: jaxgd.Trajectory, i: int, label: str, lecture_iterate: bool) -> dict:
    if not lecture_iterate:
        return {label: index(traj.params, i)}
    return {f"{label}: y_t (look-ahead, jaxgd)": traj.params[i], f"{label}: x_t (lecture)": traj.recorded[i]}


def lr_study(
    report: Report,
    problem: Any,
    label: str,
    make_optimizer: Callable[[jax.Array], Any],
    lrs: Sequence[float],
    steps: int,
    *,
    tag: str,
    method: str | None = None,
    momentum: float = 0.0,
    log: bool = False,
    record_every: int = 1,
    ncols: int = 3,
    lecture_iterate: bool = False,
) -> list[dict]:
    """Run one optimizer at several learning rates on a 2-D problem (one vmap) and write its figures.

    Writes a panel grid of paths (one panel per learning rate) and the loss curves.
    Returns one row per learning rate: final loss, distance to the minimiser,
    divergence and, on a quadratic with ``method`` given, the exact predicted
    rate (:func:`linear_rate`) against the measured one. ``lecture_iterate=True`` (Nesterov-type
    optimizers) draws the lecture's x_t next to the look-ahead y_t that jaxgd carries, and measures both.
    """
    traj = run_lrs(
        make_optimizer, problem, problem.x0, lrs, steps, record_every=record_every, lecture_iterate=lecture_iterate
    )
    xstar = np.asarray(problem.minimizers, dtype=float)[0] if problem.minimizers is not None else None
    div = diverged(traj.loss)
    rows = []
    for i, lr in enumerate(lrs):
        row = {"problem": problem.name, "optimizer": label, "lr": float(lr), "steps": steps}
        row["final_loss"] = float(traj.loss[i, -1])
        row["best_loss"] = float(np.nanmin(np.asarray(traj.loss[i], dtype=float)))
        row["diverged"] = bool(div[i])
        row["final_x"] = np.asarray(traj.final_params[i], dtype=float).tolist()
        if xstar is not None:
            row["final_distance"] = float(np.linalg.norm(np.asarray(traj.final_params[i], dtype=float) - xstar))
        if record_every == 1:
            row["first_step"] = (np.asarray(traj.params[i, 1], float) - np.asarray(traj.params[i, 0], float)).tolist()
        if method is not None:
            eig = np.asarray(problem.data["diag"], dtype=float)
            row["predicted_rate"] = linear_rate(method, float(lr), momentum, eig)
            row["measured_rate"] = measured_rate(distances(index(traj, i), xstar)) if record_every == 1 else None
        if lecture_iterate:
            x_t = np.asarray(traj.recorded[i], dtype=float)
            row["lecture_final_x"] = x_t[-1].tolist()
            if method is not None and record_every == 1:
                row["lecture_measured_rate"] = measured_rate(np.linalg.norm(x_t - xstar, axis=-1))
        rows.append(row)
    panels = {rf"$\eta$ = {lr:g}": _panel_paths(traj, i, label, lecture_iterate) for i, lr in enumerate(lrs)}
    fig = plot.path_panels(problem, panels, ncols=ncols, log=log, suptitle=f"{label} on {problem.name}, {steps} steps")
    report.figure(fig, f"{tag}_paths.png", f"{label} paths on {problem.name}, one panel per learning rate {list(lrs)}.")
    curves = {rf"$\eta$ = {lr:g}": traj.loss[i] for i, lr in enumerate(lrs)}
    ax = plot.loss_curves(curves, title=f"{label} on {problem.name}")
    report.figure(ax, f"{tag}_loss.png", f"Loss curves of {label} on {problem.name} (log scale; a cross = diverged).")
    return rows
