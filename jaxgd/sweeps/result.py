"""The result of a sweep: one row per run, its ranking, and its file (one ``.npz`` written whole).

Also what the sweep's loop writes into it: the rows of a finished chunk, the rows of a
partial file it resumes from, and the fingerprint that tells its own file from another's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgd import _validate, files

__all__ = ["Best", "SweepResult"]

SUMMARIES = ("final_loss", "best_loss", "final_grad_norm", "tol_step", "diverge_step")
RANK_BY = ("final_loss", "best_loss", "final_grad_norm", "tol_step")


class Best(NamedTuple):
    """The best configuration: its index in the space, its hyperparameters and the value it was ranked by."""

    index: int
    hyperparams: dict[str, float]
    value: float


@dataclasses.dataclass(frozen=True, eq=False)
class SweepResult:
    """The outcome of a sweep: one row per run, runs ordered (configuration, problem, start).

    With C configurations, P problems and S starts there are R = C P S runs, so
    ``result.final_loss.reshape(C, P, S)`` puts the axes back.

    Attributes:
      hyperparams: name -> (R,) the configuration of each run.
      problem_index, start_index: (R,) which problem and which start point each run used.
      final_loss: (R,) f(x_T); +inf where the run diverged.
      best_loss: (R,) min_t f(x_t) over the steps before divergence.
      final_grad_norm: (R,) ||grad f|| at the final (or frozen) iterate.
      tol_step: (R,) first t with f(x_t) <= tol; -1 if never (or no tol).
      diverge_step: (R,) the step t at which f(x_t) became non-finite or exceeded the
        blow-up threshold; -1 if the run did not diverge. The run was frozen at x_{t-1}.
      final_params: the final (or frozen) iterates, leaves with a leading axis R; None if not kept.
      curve: (R, K) f(x_t) at the steps ``curve_steps`` (NaN from divergence on), or None.
      curve_steps: (K,) or None.
      steps: the number of steps of every run.
      num_configs, num_problems, num_starts: C, P, S.
      completed: the number of configurations run so far (C once finished; fewer in a
        partial file of an interrupted sweep, whose remaining rows are NaN / -1).
      info: the settings (tol, blow-up, scales, ...), as JSON-able values.
    """

    hyperparams: dict[str, np.ndarray]
    problem_index: np.ndarray
    start_index: np.ndarray
    final_loss: np.ndarray
    best_loss: np.ndarray
    final_grad_norm: np.ndarray
    tol_step: np.ndarray
    diverge_step: np.ndarray
    final_params: Any
    curve: np.ndarray | None
    curve_steps: np.ndarray | None
    steps: int
    num_configs: int
    num_problems: int
    num_starts: int
    completed: int
    info: dict

    @property
    def num_runs(self) -> int:
        return self.num_configs * self.num_problems * self.num_starts

    def __len__(self) -> int:
        return self.num_runs

    @property
    def diverged(self) -> np.ndarray:
        """(R,) True where the run diverged."""
        return self.diverge_step >= 0

    @property
    def done(self) -> bool:
        return self.completed == self.num_configs

    def config_scores(self, by: str = "final_loss", reduce: str = "max") -> np.ndarray:
        """(C,) a score per configuration, lower is better: ``by`` reduced over problems and starts.

        ``by`` is one of final_loss, best_loss, final_grad_norm, tol_step (a run
        that never reached tol scores +inf). A configuration with a diverged run,
        or not yet run, scores +inf. ``reduce`` is ``"max"`` (the worst case) or ``"mean"``.
        """
        _validate.one_of("by", by, RANK_BY)
        _validate.one_of("reduce", reduce, ("max", "mean"))
        v = np.asarray(getattr(self, by), float).copy()
        if by == "tol_step":
            v[v < 0] = np.inf
        v[self.diverged | ~np.isfinite(v)] = np.inf
        v = v.reshape(self.num_configs, -1)
        v[self.completed :] = np.inf
        return v.max(1) if reduce == "max" else v.mean(1)

    def best(self, by: str = "final_loss", reduce: str = "max") -> Best:
        """The configuration with the lowest :meth:`config_scores`; ValueError if every run diverged."""
        scores = self.config_scores(by, reduce)
        if not np.any(np.isfinite(scores)):
            raise ValueError(f"no configuration has a finite {by} (every one diverged, or none has run)")
        i = int(np.argmin(scores))
        row = i * self.num_problems * self.num_starts
        return Best(i, {k: v[row].item() for k, v in self.hyperparams.items()}, float(scores[i]))

    def save(self, path: str | os.PathLike) -> None:
        """Write the result to ``path`` as one ``.npz``: a temporary file in the same folder, then ``os.replace``."""
        arrays = {f"hp/{k}": v for k, v in self.hyperparams.items()}
        arrays.update({k: getattr(self, k) for k in ("problem_index", "start_index", *SUMMARIES)})
        if self.curve is not None:
            arrays["curve"], arrays["curve_steps"] = self.curve, self.curve_steps
        params_keys = None
        if self.final_params is not None:
            flat = jax.tree_util.tree_flatten_with_path(self.final_params)[0]
            params_keys = [jax.tree_util.keystr(p) for p, _ in flat]
            arrays.update({f"params/{i}": np.asarray(v) for i, (_, v) in enumerate(flat)})
        meta = {
            "steps": self.steps,
            "num_configs": self.num_configs,
            "num_problems": self.num_problems,
            "num_starts": self.num_starts,
            "completed": self.completed,
            "names": list(self.hyperparams),
            "params_keys": params_keys,
            "info": self.info,
        }
        arrays["meta"] = np.asarray(json.dumps(meta))
        atomic_savez(path, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SweepResult:
        """Read a file written by :meth:`save`. ``final_params`` comes back as one array when it was one,
        else as a dict from ``jax.tree_util.keystr`` paths to arrays."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            keys = meta["params_keys"]
            params = None
            if keys is not None:
                leaves = [z[f"params/{i}"] for i in range(len(keys))]
                params = leaves[0] if keys == [""] else dict(zip(keys, leaves))
            return cls(
                hyperparams={k: z[f"hp/{k}"] for k in meta["names"]},
                problem_index=z["problem_index"],
                start_index=z["start_index"],
                **{k: z[k] for k in SUMMARIES},
                final_params=params,
                curve=z["curve"] if "curve" in z else None,
                curve_steps=z["curve_steps"] if "curve_steps" in z else None,
                steps=meta["steps"],
                num_configs=meta["num_configs"],
                num_problems=meta["num_problems"],
                num_starts=meta["num_starts"],
                completed=meta["completed"],
                info=meta["info"],
            )


def atomic_savez(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` to ``path`` written whole (:func:`jaxgd.files.write_bytes`): an old file stays if it fails."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    files.write_bytes(path, buf.getbuffer())


def fingerprint(arrays: list[Any], settings: dict) -> str:
    """SHA-256 of a sweep's settings and input arrays: a partial file resumes only the sweep that wrote it."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def empty_result(
    columns: dict[str, np.ndarray],
    num_problems: int,
    num_starts: int,
    steps: int,
    real: Any,
    params_like: Any,
    curve_steps: np.ndarray | None,
    info: dict,
) -> SweepResult:
    """A result with no run done yet: summaries NaN / -1, ``final_params`` shaped like ``params_like`` (or None)."""
    num_configs = len(next(iter(columns.values())))
    runs_per_config = num_problems * num_starts
    R = num_configs * runs_per_config
    grid_idx = np.indices((num_configs, num_problems, num_starts)).reshape(3, -1)
    return SweepResult(
        hyperparams={k: np.repeat(v, runs_per_config) for k, v in columns.items()},
        problem_index=grid_idx[1].astype(np.int32),
        start_index=grid_idx[2].astype(np.int32),
        final_loss=np.full(R, np.nan, real),
        best_loss=np.full(R, np.nan, real),
        final_grad_norm=np.full(R, np.nan, real),
        tol_step=np.full(R, -1, np.int32),
        diverge_step=np.full(R, -1, np.int32),
        final_params=(
            jax.tree.map(lambda a: np.full((R, *np.shape(a)), np.nan, np.asarray(a).dtype), params_like)
            if params_like is not None
            else None
        ),
        curve=np.full((R, len(curve_steps)), np.nan, real) if curve_steps is not None else None,
        curve_steps=curve_steps,
        steps=steps,
        num_configs=num_configs,
        num_problems=num_problems,
        num_starts=num_starts,
        completed=0,
        info=info,
    )


def store_chunk(result: SweepResult, summary: Any, lo: int, hi: int) -> None:
    """Write configurations ``lo:hi`` from a chunk's summaries (leading axes (chunk, P, S)) into ``result``."""
    n = hi - lo
    runs_per_config = result.num_problems * result.num_starts
    rows = slice(lo * runs_per_config, hi * runs_per_config)

    def flat(a):
        a = np.asarray(a)[:n]
        return a.reshape(n * runs_per_config, *a.shape[3:])

    for k in SUMMARIES:
        getattr(result, k)[rows] = flat(getattr(summary, k))
    if result.curve is not None:
        result.curve[rows] = flat(summary.curve)
    if result.final_params is not None:
        for dst, src in zip(jax.tree.leaves(result.final_params), jax.tree.leaves(summary.final_params)):
            dst[rows] = flat(src)


def copy_rows(result: SweepResult, saved: SweepResult, n: int) -> None:
    """Copy the first ``n`` runs of a loaded partial file into ``result``."""
    for k in SUMMARIES:
        getattr(result, k)[:n] = getattr(saved, k)[:n]
    if result.curve is not None:
        result.curve[:n] = saved.curve[:n]
    if result.final_params is not None:
        src = saved.final_params
        src_leaves = [src] if isinstance(src, np.ndarray) else list(src.values())
        for dst, s in zip(jax.tree.leaves(result.final_params), src_leaves):
            dst[:n] = s[:n]
