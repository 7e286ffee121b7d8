"""The result of a sweep: one row per run, its ranking, and its file (one ``.npz`` written whole).

Also what the sweep's loop writes into it (the rows of a finished chunk, the rows of a
partial file it resumes from) and the checks a file read back passes before anything uses it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgd import _validate, files

__all__ = ["SUMMARY_NAMES", "Best", "SeedStats", "SweepFileError", "SweepResult"]

# The summaries a sweep can compute (``jaxgd.sweep(..., summaries=...)``) and the field of each in a SweepResult.
SUMMARY_FIELDS = {
    "final": "final_loss",
    "best": "best_loss",
    "diverged": "diverge_step",
    "tol": "tol_step",
    "targets": "target_steps",
    "grad_norm": "final_grad_norm",
    "curve": "curve",
}
SUMMARY_NAMES = tuple(SUMMARY_FIELDS)
# The per-run arrays among them (the curve, with its steps, is apart), in their order in a file.
SUMMARIES = ("final_loss", "best_loss", "final_grad_norm", "tol_step", "diverge_step", "target_steps")
# What a file without a list of its summaries holds (one written before the list was recorded).
OLD_SUMMARIES = ("final", "best", "diverged", "tol", "grad_norm")
RANK_BY = ("final_loss", "best_loss", "final_grad_norm", "tol_step")
SEED_REDUCE = ("median", "mean", "max")
QUANTILES = (0.1, 0.5, 0.9)


class Best(NamedTuple):
    """The best configuration: its index in the space, its hyperparameters and the value it was ranked by."""

    index: int
    hyperparams: dict[str, float]
    value: float


class SeedStats(NamedTuple):
    """Statistics across seeds, one per (configuration, problem, start): arrays of shape (C, P, S).

    ``final_loss`` and ``best_loss`` map ``mean``, ``std`` (ddof 0), ``q10``, ``q50``, ``q90`` to
    the statistic over the seeds that did not diverge (NaN where every seed diverged);
    ``diverged`` is the fraction of seeds that diverged.
    """

    final_loss: dict[str, np.ndarray] | None
    best_loss: dict[str, np.ndarray] | None
    diverged: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class SweepResult:
    """The outcome of a sweep: one row per run, runs ordered (configuration, problem, start, seed).

    With C configurations, P problems, S starts and K seeds there are R = C P S K runs, so
    ``result.final_loss.reshape(C, P, S, K)`` puts the axes back (K = 1 for a deterministic loss).
    For a stochastic loss the losses are the *full* objective's, evaluated every ``info["eval_every"]``
    steps (see :func:`jaxgd.sweep`); :meth:`seed_stats` summarises them across seeds.

    Only the summaries the sweep was asked for are computed (``summaries``, see :func:`jaxgd.sweep`); the
    field of any other is None, and a method that needs it (:meth:`best` by it, :attr:`diverged`) raises a
    ValueError that names the summary to ask for.

    Attributes:
      hyperparams: name -> (R,) the configuration of each run.
      problem_index: (R,) which problem each run used.
      start_index: (R,) which start point each run used.
      final_loss: (R,) f(x_T); +inf where the run diverged ("final").
      best_loss: (R,) min_t f(x_t) over the steps before divergence ("best").
      final_grad_norm: (R,) ||grad f|| at the final (or frozen) iterate ("grad_norm").
      tol_step: (R,) first t with f(x_t) <= tol; -1 if never ("tol").
      diverge_step: (R,) the step t at which f(x_t) became non-finite or exceeded the
        blow-up threshold; -1 if the run did not diverge. The run was frozen at x_{t-1} ("diverged").
      final_params: the final (or frozen) iterates, leaves with a leading axis R; None if not kept.
      curve: (R, K) f(x_t) at the steps ``curve_steps`` (NaN from divergence on), or None ("curve").
      curve_steps: (K,) or None.
      steps: the number of steps of every run.
      num_configs: C, the configurations.
      num_problems: P, the problems.
      num_starts: S, the start points of each problem.
      num_seeds: K, the seeds of each run (1 for a deterministic loss).
      completed: the number of configurations run so far (C once finished; fewer in a
        partial file of an interrupted sweep, whose remaining rows are NaN / -1).
      info: the settings (tol, blow-up, scales, ...), as JSON-able values.
      params_keys: for a result read from a file, the paths of ``final_params``' leaves (see :meth:`load`).
      target_steps: (R, K) for each target tau_k of ``info["targets"]``, the first t with
        f(x_t) - f* <= tau_k (f(x_0) - f*), -1 if never ("targets"; f* is ``info["f_star"]``, per problem).
      summaries: the names of the summaries computed.
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
    params_keys: tuple[str, ...] | None = dataclasses.field(default=None, repr=False)
    num_seeds: int = 1
    target_steps: np.ndarray | None = None
    summaries: tuple[str, ...] = OLD_SUMMARIES

    @property
    def runs_per_config(self) -> int:
        """P S K: the runs of one configuration."""
        return self.num_problems * self.num_starts * self.num_seeds

    @property
    def num_runs(self) -> int:
        return self.num_configs * self.runs_per_config

    @property
    def seed_index(self) -> np.ndarray:
        """(R,) which seed each run used (all 0 for a deterministic loss)."""
        return np.tile(np.arange(self.num_seeds, dtype=np.int32), self.num_runs // self.num_seeds)

    def __len__(self) -> int:
        return self.num_runs

    @property
    def diverged(self) -> np.ndarray:
        """(R,) True where the run diverged: from ``diverge_step`` ("diverged"), else where ``final_loss`` is
        +inf ("final" alone: its final loss was bad)."""
        if self.diverge_step is not None:
            return self.diverge_step >= 0
        if self.final_loss is not None:
            return self.final_loss == np.inf
        raise ValueError(
            f"which runs diverged is known from the summary 'diverged' or 'final'; this sweep computed "
            f"{_listed(self.summaries)}: ask for one of them (jaxgd.sweep(..., summaries=...))"
        )

    def summary(self, name: str) -> Any:
        """The array of the summary ``name`` (one of :data:`SUMMARY_NAMES`); ValueError if it was not computed.

        Args:
            name: The summary's name, e.g. ``"final"`` (``final_loss``) or ``"curve"``.

        Returns:
            Its array (rows ordered as the runs).

        Raises:
            ValueError: If name is not a summary, or the sweep did not compute it.
        """
        _validate.one_of("summary", name, SUMMARY_NAMES)
        value = getattr(self, SUMMARY_FIELDS[name])
        if value is None:
            raise ValueError(
                f"the summary {name!r} ({SUMMARY_FIELDS[name]}) was not computed: this sweep computed "
                f"{_listed(self.summaries)}; ask for it with jaxgd.sweep(..., summaries=(..., {name!r}))"
            )
        return value

    @property
    def done(self) -> bool:
        return self.completed == self.num_configs

    def config_scores(self, by: str = "final_loss", reduce: str = "max", seeds: str = "median") -> np.ndarray:
        """(C,) a score per configuration, lower is better: ``by`` reduced over seeds, then problems and starts.

        ``by`` is one of final_loss, best_loss, final_grad_norm, tol_step (a run that never reached
        tol scores +inf). A diverged run, or one not yet run, scores +inf. Across seeds ``seeds``
        (``"median"``, ``"mean"`` or ``"max"``) reduces first, so with the default median a configuration
        scores finitely while fewer than half its seeds diverge; then ``reduce`` (``"max"``, the worst
        case, or ``"mean"``) over problems and starts, where any +inf makes the configuration +inf.

        Args:
            by: The summary ranked: ``"final_loss"``, ``"best_loss"``, ``"final_grad_norm"`` or ``"tol_step"``.
            reduce: Over problems and starts: ``"max"`` or ``"mean"``.
            seeds: Over seeds: ``"median"``, ``"mean"`` or ``"max"``.

        Returns:
            The scores, an array of shape (C,); +inf for a configuration that diverged or has not run.

        Raises:
            ValueError: If an argument is not one of its choices, or the sweep did not compute ``by``.
        """
        _validate.one_of("by", by, RANK_BY)
        _validate.one_of("reduce", reduce, ("max", "mean"))
        _validate.one_of("seeds", seeds, SEED_REDUCE)
        v = np.asarray(self.summary(_NAME_OF[by]), float).copy()
        if by == "tol_step":
            v[v < 0] = np.inf
        v[self.diverged | ~np.isfinite(v)] = np.inf
        v = v.reshape(self.num_configs, -1, self.num_seeds)
        v[self.completed :] = np.inf
        with np.errstate(invalid="ignore"):  # inf - inf inside the median of two infinite values
            v = {"median": np.median, "mean": np.mean, "max": np.max}[seeds](v, axis=2)
        v[np.isnan(v)] = np.inf
        return v.max(1) if reduce == "max" else v.mean(1)

    def best(self, by: str = "final_loss", reduce: str = "max", seeds: str = "median") -> Best:
        """The configuration with the lowest :meth:`config_scores`; ValueError if every run diverged.

        ``by`` must be a summary the sweep computed: the default, the final loss, needs "final" (a sweep
        without it ranks by ``by="best_loss"`` or ``"tol_step"``); ranking also needs "diverged" or "final".

        Args:
            by: The summary ranked (see :meth:`config_scores`).
            reduce: Over problems and starts: ``"max"`` or ``"mean"``.
            seeds: Over seeds: ``"median"``, ``"mean"`` or ``"max"``.

        Returns:
            The best configuration (:class:`Best`): its index, hyperparameters and score.

        Raises:
            ValueError: If no configuration scores finitely, or as :meth:`config_scores`.
        """
        scores = self.config_scores(by, reduce, seeds)
        if not np.any(np.isfinite(scores)):
            raise ValueError(f"no configuration has a finite {by} (every one diverged, or none has run)")
        i = int(np.argmin(scores))
        row = i * self.runs_per_config
        return Best(i, {k: v[row].item() for k, v in self.hyperparams.items()}, float(scores[i]))

    def seed_stats(self) -> SeedStats:
        """Mean, standard deviation and 10/50/90% quantiles across seeds of the final and best loss (over the
        seeds that did not diverge), and the fraction diverged: arrays of shape (C, P, S). Configurations not
        yet run are NaN; a loss the sweep did not compute ("final", "best") is None.

        Returns:
            The statistics (:class:`SeedStats`).
        """
        shape = (self.num_configs, self.num_problems, self.num_starts, self.num_seeds)
        diverged = self.diverged.reshape(shape)
        stats = []
        for name in ("final_loss", "best_loss"):
            if getattr(self, name) is None:
                stats.append(None)
                continue
            v = np.where(diverged, np.nan, np.asarray(getattr(self, name), float).reshape(shape))
            v[self.completed :] = np.nan
            with warnings.catch_warnings():  # every seed diverged: NaN, as documented
                warnings.simplefilter("ignore", RuntimeWarning)
                q = np.nanquantile(v, QUANTILES, axis=3)
                stats.append(
                    {
                        "mean": np.nanmean(v, axis=3),
                        "std": np.nanstd(v, axis=3),
                        **{f"q{round(100 * p)}": q[i] for i, p in enumerate(QUANTILES)},
                    }
                )
        frac = diverged.mean(axis=3)
        frac[self.completed :] = np.nan
        return SeedStats(stats[0], stats[1], frac)

    def param_items(self) -> list[tuple[str, np.ndarray]]:
        """``final_params`` as (``jax.tree_util.keystr`` path, leaf) pairs in saved order; [] if not kept."""
        if self.final_params is None:
            return []
        if self.params_keys is not None:  # a loaded result: an array, or a dict from paths to arrays
            return [("", self.final_params)] if self.params_keys == ("",) else list(self.final_params.items())
        flat = jax.tree_util.tree_flatten_with_path(self.final_params)[0]
        return [(jax.tree_util.keystr(p), v) for p, v in flat]

    def save(self, path: str | os.PathLike) -> None:
        """Write the result to ``path`` as one ``.npz``, whole: a temporary file in the same folder, then
        ``os.replace``; temporary files beside it that a killed process left are removed first.

        Args:
            path: The file to write (``.npz``); its folder is created if missing.
        """
        save_whole(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SweepResult:
        """Read a file written by :meth:`save` or by a finished sweep with ``out=``, or the folder of an
        unfinished one.

        ``final_params`` comes back as one array when it was one, else as a dict from
        ``jax.tree_util.keystr`` paths to arrays. A file that is not a sweep result (truncated, another
        format, counts or arrays that disagree) raises :class:`SweepFileError` naming it and what is wrong.

        Args:
            path: A ``.npz`` result file, or a sweep's folder (or the ``out`` path it was given).

        Returns:
            The result (:class:`SweepResult`); that of an unfinished sweep has ``completed < num_configs``.

        Raises:
            FileNotFoundError: If there is nothing at path.
            SweepFileError: If the file is not a usable sweep result.
        """
        from jaxgd.sweeps import store

        folder = store.folder_of(path)
        if folder is not None:
            return store.read(folder)[0]
        return load_whole(path)[0]


def save_whole(result: SweepResult, path: str | os.PathLike, **extra_meta: Any) -> None:
    """:meth:`SweepResult.save`, with ``extra_meta`` (JSON-able) added to the file's metadata."""
    arrays = {f"hp/{k}": v for k, v in result.hyperparams.items()}
    arrays.update({k: getattr(result, k) for k in ("problem_index", "start_index", *SUMMARIES)})
    arrays = {k: v for k, v in arrays.items() if v is not None}
    if result.curve is not None:
        arrays["curve"], arrays["curve_steps"] = result.curve, result.curve_steps
    items = result.param_items()
    arrays.update({f"params/{i}": np.asarray(v) for i, (_, v) in enumerate(items)})
    meta = {
        "steps": result.steps,
        "num_configs": result.num_configs,
        "num_problems": result.num_problems,
        "num_starts": result.num_starts,
        "completed": result.completed,
        **({"num_seeds": result.num_seeds} if result.num_seeds > 1 else {}),
        "names": list(result.hyperparams),
        "summaries": list(result.summaries),
        "params_keys": [k for k, _ in items] if result.final_params is not None else None,
        "info": result.info,
        **extra_meta,
    }
    arrays["meta"] = np.asarray(json.dumps(meta))
    from jaxgd.sweeps.store import clean_stale_tmp

    target = Path(path)
    if target.parent.is_dir():
        clean_stale_tmp(target.parent, target.name)
    atomic_savez(path, arrays)


def load_whole(path: str | os.PathLike) -> tuple[SweepResult, dict]:
    """A result file and its metadata, checked before use: SweepFileError naming it if it is not one."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no sweep result at {os.fspath(path)!r}")
    try:
        result, meta = _read_npz(path)
        check_rows(result)
    except Exception as err:
        raise file_error(path, _reason(err)) from None
    return result, meta


class SweepFileError(ValueError):
    """A sweep file that cannot be used: corrupt, of another format, or of another sweep."""


def file_error(path: str | os.PathLike, what: str) -> SweepFileError:
    """The error for an unusable sweep file: names it, says what is wrong and what to do."""
    return SweepFileError(
        f"sweep file {os.fspath(path)!r} {what}. It cannot be used: delete it or move it away "
        "(jaxgd.sweeps.delete removes a sweep's files), or give the sweep another out path."
    )


def _reason(err: Exception) -> str:
    if isinstance(err, _Bad):
        return str(err)
    return f"cannot be read as a sweep result ({type(err).__name__}: {str(err).strip() or 'no detail'})"


class _Bad(ValueError):
    """What is wrong with a file whose contents were read (becomes a :class:`SweepFileError`)."""


def need(ok: bool, what: str) -> None:
    """Raise that a read file is bad (``what``: how) unless ``ok``."""
    if not ok:
        raise _Bad(what)


def check_meta(meta: Any) -> None:
    """The counts of a result's metadata: positive ints, ``completed`` within 0..num_configs, names as str."""
    need(isinstance(meta, dict), "has metadata that is not a JSON object")
    for k in ("steps", "num_configs", "num_problems", "num_starts", "completed"):
        v = meta.get(k)
        need(isinstance(v, int) and not isinstance(v, bool), f"has {k}={v!r} in its metadata, not an integer")
        need(v >= (0 if k == "completed" else 1), f"has {k}={v} in its metadata")
    need(
        meta["completed"] <= meta["num_configs"],
        f"counts {meta['completed']} completed configurations of {meta['num_configs']}",
    )
    names = meta.get("names")
    need(isinstance(names, list) and bool(names) and all(isinstance(n, str) for n in names), "names no hyperparameters")
    need(isinstance(meta.get("info", {}), dict), "has info that is not a JSON object")
    k = meta.get("num_seeds", 1)
    need(isinstance(k, int) and not isinstance(k, bool) and k >= 1, f"has num_seeds={k!r} in its metadata")
    summaries_of(meta)


def summaries_of(meta: dict) -> tuple[str, ...]:
    """The summaries a file's metadata lists (a file from before they were listed: :data:`OLD_SUMMARIES`)."""
    names = meta.get("summaries")
    if names is None:
        return OLD_SUMMARIES + (("curve",) if meta.get("curve_points") or meta.get("has_curve") else ())
    need(isinstance(names, list) and all(n in SUMMARY_FIELDS for n in names), f"has summaries={names!r}")
    return tuple(names)


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(map(repr, names)) if names else "none"


_NAME_OF = {field: name for name, field in SUMMARY_FIELDS.items()}


def read_npz(path: str | os.PathLike, what: str = "is") -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``; a file that is not one is bad (``what``: how to name it)."""
    with open(path, "rb") as f:
        head = f.read(4)
    need(bool(head), f"{what} empty")
    need(head == b"PK\x03\x04", f"{what} not an .npz file (it does not begin as a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    except Exception as err:
        need(False, f"{what} truncated or damaged ({type(err).__name__}: {str(err).strip()})")
        raise


def _read_npz(path: str | os.PathLike) -> tuple[SweepResult, dict]:
    arrays = read_npz(path)
    need("meta" in arrays, "has no metadata (not a file written by SweepResult.save)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as err:
        need(False, f"has metadata that is not JSON ({err})")
    check_meta(meta)
    keys = meta.get("params_keys")
    need(keys is None or (isinstance(keys, list) and all(isinstance(k, str) for k in keys)), "has bad params_keys")
    summaries = summaries_of({**meta, "has_curve": "curve" in arrays})
    fields = [f for f in SUMMARIES if _NAME_OF[f] in summaries]
    missing = [
        k for k in (*(f"hp/{n}" for n in meta["names"]), "problem_index", "start_index", *fields) if k not in arrays
    ]
    need(not missing, f"lacks the arrays {', '.join(missing)}")
    params = None
    if keys is not None:
        need(all(f"params/{i}" in arrays for i in range(len(keys))), "lacks some of its final_params arrays")
        leaves = [arrays[f"params/{i}"] for i in range(len(keys))]
        params = leaves[0] if keys == [""] else dict(zip(keys, leaves))
    result = SweepResult(
        hyperparams={k: arrays[f"hp/{k}"] for k in meta["names"]},
        problem_index=arrays["problem_index"],
        start_index=arrays["start_index"],
        **{k: arrays.get(k) for k in SUMMARIES if k != "target_steps"},
        final_params=params,
        curve=arrays.get("curve"),
        curve_steps=arrays.get("curve_steps"),
        steps=meta["steps"],
        num_configs=meta["num_configs"],
        num_problems=meta["num_problems"],
        num_starts=meta["num_starts"],
        completed=meta["completed"],
        info=meta.get("info", {}),
        params_keys=None if keys is None else tuple(keys),
        num_seeds=meta.get("num_seeds", 1),
        target_steps=arrays.get("target_steps"),
        summaries=summaries,
    )
    return result, meta


def check_rows(r: SweepResult) -> None:
    """Every array of ``r`` has one row per run (R = C P S) and the dtype kind its field needs."""
    R = r.num_runs
    for name in (*SUMMARIES, "curve"):
        need((getattr(r, name) is None) == (_NAME_OF[name] not in r.summaries), f"has {name} against its summaries")
    present = [k for k in ("problem_index", "start_index", *SUMMARIES) if getattr(r, k) is not None]
    for name, a in [
        *((f"hyperparameter {k!r}", v) for k, v in r.hyperparams.items()),
        *((k, getattr(r, k)) for k in present),
    ]:
        one = np.ndim(a) == 1 or (name == "target_steps" and np.ndim(a) == 2)
        need(one and len(a) == R, f"has {name} of shape {np.shape(a)}, not ({R},) for its {R} runs")
    for k in ("final_loss", "best_loss", "final_grad_norm"):
        if k in present:
            need(getattr(r, k).dtype.kind == "f", f"has {k} of dtype {getattr(r, k).dtype}")
    for k in ("problem_index", "start_index", "tol_step", "diverge_step", "target_steps"):
        if k in present:
            need(getattr(r, k).dtype.kind in "iu", f"has {k} of dtype {getattr(r, k).dtype}")
    if r.target_steps is not None:
        K = len(r.info.get("targets") or ())
        need(r.target_steps.shape == (R, K), f"has target_steps of shape {r.target_steps.shape}, not ({R}, {K})")
    if r.curve is not None or r.curve_steps is not None:
        need(r.curve is not None and r.curve_steps is not None, "has a curve without its steps (or steps alone)")
        K = len(r.curve_steps)
        need(r.curve.shape == (R, K), f"has a curve of shape {r.curve.shape}, not ({R}, {K})")
    for key, leaf in r.param_items():
        need(np.ndim(leaf) >= 1 and len(leaf) == R, f"has final_params{key} of shape {np.shape(leaf)}, not {R} rows")


def atomic_savez(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` to ``path`` written whole (:func:`jaxgd.files.write_bytes`): an old file stays if it fails."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    files.write_bytes(path, buf.getbuffer())


def empty_result(
    columns: dict[str, np.ndarray],
    num_problems: int,
    num_starts: int,
    steps: int,
    real: Any,
    params_like: Any,
    curve_steps: np.ndarray | None,
    info: dict,
    num_seeds: int = 1,
    summaries: tuple[str, ...] = OLD_SUMMARIES,
) -> SweepResult:
    """A result with no run done yet: the ``summaries`` NaN / -1 (the others None), ``final_params`` shaped like
    ``params_like`` (or None). With "targets", ``info["targets"]`` lists them."""
    num_configs = len(next(iter(columns.values())))
    runs_per_config = num_problems * num_starts * num_seeds
    R = num_configs * runs_per_config
    grid_idx = np.indices((num_configs, num_problems, num_starts, num_seeds)).reshape(4, -1)

    def full(name, shape, value, dtype):
        return np.full(shape, value, dtype) if name in summaries else None

    return SweepResult(
        hyperparams={k: np.repeat(v, runs_per_config) for k, v in columns.items()},
        problem_index=grid_idx[1].astype(np.int32),
        start_index=grid_idx[2].astype(np.int32),
        final_loss=full("final", R, np.nan, real),
        best_loss=full("best", R, np.nan, real),
        final_grad_norm=full("grad_norm", R, np.nan, real),
        tol_step=full("tol", R, -1, np.int32),
        diverge_step=full("diverged", R, -1, np.int32),
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
        num_seeds=num_seeds,
        target_steps=full("targets", (R, len(info.get("targets") or ())), -1, np.int32),
        summaries=tuple(summaries),
    )


def store_chunk(result: SweepResult, summary: Any, lo: int, hi: int) -> None:
    """Write configurations ``lo:hi`` from a chunk's summaries (leading axes (chunk, P, S K)) into ``result``."""
    n = hi - lo
    runs_per_config = result.runs_per_config
    rows = slice(lo * runs_per_config, hi * runs_per_config)

    def flat(a):
        a = np.asarray(a)[:n]
        return a.reshape(n * runs_per_config, *a.shape[3:])

    for k in SUMMARIES:
        if getattr(result, k) is not None:
            getattr(result, k)[rows] = flat(getattr(summary, k))
    if result.curve is not None:
        result.curve[rows] = flat(summary.curve)
    if result.final_params is not None:
        for dst, src in zip(jax.tree.leaves(result.final_params), jax.tree.leaves(summary.final_params)):
            dst[rows] = flat(src)


def copy_rows(result: SweepResult, saved: SweepResult, n: int) -> None:
    """Copy the first ``n`` runs of a loaded partial file into ``result`` (final_params matched by path)."""
    for k in SUMMARIES:
        if getattr(result, k) is not None:
            getattr(result, k)[:n] = getattr(saved, k)[:n]
    if result.curve is not None:
        result.curve[:n] = saved.curve[:n]
    src = dict(saved.param_items())
    for key, dst in result.param_items():
        dst[:n] = src[key][:n]
