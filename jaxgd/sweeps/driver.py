"""The public :func:`sweep`: chunks of runs over the devices, saved after each, resumed from a partial file.

What one chunk computes is :mod:`jaxgd.sweeps.engine`; how the arguments become its
inputs is :mod:`jaxgd.sweeps.prepare`; the folder it saves to is :mod:`jaxgd.sweeps.store`.
Here: how many configurations a chunk holds, the mesh the chunk is sharded over, resuming, progress.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgd import _validate
from jaxgd.problems import Problem
from jaxgd.sweeps import engine, store
from jaxgd.sweeps import fingerprint as fp
from jaxgd.sweeps.prepare import Prepared, abstract, chunk_function, prepare, spec
from jaxgd.sweeps.result import SweepResult, empty_result, store_chunk
from jaxgd.sweeps.space import Space
from jaxgd.sweeps.store import Writer

__all__ = ["sweep"]


# sweep is over 80 lines only by its signature and its docstring (the contract of sweep files); its body is the
# named steps below.
def sweep(
    make_optimizer: Callable[..., optax.GradientTransformation],
    problem: Problem | Callable[[Any], jax.Array] | Sequence[Problem | Callable[[Any], jax.Array]],
    space: Space | Mapping[str, Any],
    steps: int,
    *,
    x0: Any = None,
    x0s: Any = None,
    tol: float | None = None,
    blowup: float | None = 1e4,
    blowup_floor: float = 1.0,
    max_loss: float | None = None,
    curve_every: int | None = None,
    keep_params: bool = True,
    chunk_size: int | None = None,
    out: str | os.PathLike | None = None,
    devices: Any = None,
    progress: bool = False,
    block: int | None = None,
    seeds: Any = None,
    eval_every: int | None = None,
    summaries: str | Sequence[str] | None = None,
    targets: Sequence[float] | None = None,
    f_star: Any = None,
) -> SweepResult:
    """Run ``make_optimizer(**config)`` for every configuration of ``space``, every problem, start and seed.

    ``make_optimizer`` takes the space's names as keyword arguments, e.g.
    ``lambda learning_rate, momentum: jaxgd.momentum(learning_rate, momentum)``
    or just ``jaxgd.momentum``; inside the sweep it is called with traced scalars.
    ``problem`` is a :class:`jaxgd.Problem`, a loss ``f(params)`` or a list of
    either with the same structure (e.g. quadratics of several condition
    numbers): their array data are stacked and mapped over. Starts: ``x0`` (one
    pytree), ``x0s`` (leaves with a leading axis S) or each problem's ``x0``.

    Every run takes ``steps`` updates inside one ``jit(vmap(lax.scan))`` and keeps
    only its summaries (see :class:`SweepResult`); ``curve_every=k`` also records
    f(x_t) every k steps. A run diverges at step t when f(x_t) is non-finite or
    f(x_t) > ``max_loss`` or > ``blowup`` max(|f(x_0)|, ``blowup_floor``); it is then
    frozen at x_{t-1}, so nothing non-finite reaches its summaries. The floor (default 1,
    in the loss's units) keeps a start near a minimum, f(x_0) ~ 0, from being flagged by
    rounding noise, and gives a start with f(x_0) = 0 a limit at all.

    Summaries: the compiled loop computes only those of ``summaries`` (a name or a tuple of names);
    the fields of the others are None in the result. The names, and the field each fills:

    * ``"final"``: ``final_loss``, f(x_T), +inf for a diverged run;
    * ``"best"``: ``best_loss``, min_t f(x_t) before divergence;
    * ``"diverged"``: ``diverge_step``, the exact step of divergence (-1 if none);
    * ``"tol"``: ``tol_step``, the first t with f(x_t) <= ``tol`` (needs ``tol``);
    * ``"targets"``: ``target_steps`` (R, K), the first t with f(x_t) - f* <= tau_k (f(x_0) - f*) for each
      tau_k of ``targets`` (steps to a relative target, Dolan & Moré 2002), -1 if never; f* is ``f_star``
      (one value, or one per problem), by default each problem's ``minimum``;
    * ``"grad_norm"``: ``final_grad_norm``, ||grad f|| at the final (or frozen) iterate;
    * ``"curve"``: ``curve``, f(x_t) every ``curve_every`` steps (needs ``curve_every``).

    The default (None) is ("final", "best", "diverged", "grad_norm"), with "tol", "targets" and "curve"
    when ``tol``, ``targets`` and ``curve_every`` are given; given names are exact, and these three options
    must come with their names. "best", "diverged", "tol" and "targets" check every step (a running
    minimum, checkpoints and a replay, as above); a sweep with none of them runs the plain loop a
    final-loss-only sweep writes by hand: nothing is checked or frozen per step, a run counts as diverged
    when its final loss is bad (``final_loss`` +inf, :attr:`SweepResult.diverged`), and a run that went
    bad and came back is not caught; ``final_params`` is then x_T. ``summaries="final"`` is the fastest.

    Scale: runs go in chunks of ``chunk_size`` runs (default: what fits in about a
    quarter of device memory, 1 GiB on CPU). With several ``devices`` (default: all of
    ``jax.devices()``; an int takes the first n) the run axis of each chunk is
    sharded over a 1-D mesh; under ``jax.distributed`` every process calls
    ``sweep`` with the same arguments. ``progress=True`` shows a tqdm bar.

    Saving: with ``out`` each chunk is saved as it finishes, into a folder at ``out`` that becomes one
    ``.npz`` (as :meth:`SweepResult.save` writes) when the sweep is done (:mod:`jaxgd.sweeps.store`);
    ``out`` is checked writable before anything compiles. A sweep that finds its own there resumes
    after its last saved chunk, or returns it whole; one of another sweep, or an unreadable one, raises
    :class:`~jaxgd.sweeps.SweepFileError` saying why. A save that fails raises its OSError with the
    result so far as ``err.result``. Results are bitwise reproducible for the same chunk size, devices
    and software, and may differ at rounding level between chunk sizes: a resume keeps its file's
    chunk size (adopted when ``chunk_size`` is None, refused when another is given).

    The loop keeps a running minimum and a checkpoint every ``block`` steps (default about
    sqrt(steps)) and replays at most ``block`` steps after it, so every summary is exact per
    step (:mod:`jaxgd.sweeps.engine`); the backend's speed choices are :mod:`jaxgd.sweeps.backend`'s.

    Stochastic losses: a loss ``loss(params, key)`` marked ``__jaxgd_needs_key__`` with a ``full``
    objective (:class:`jaxgd.stochastic.MiniBatch`, :class:`~jaxgd.stochastic.NoisyGradient`; default
    start ``loss.x0`` or ``loss.full.x0``) needs ``seeds``: an int K (keys ``jax.random.key(j)``, j < K) or an array
    of K PRNG keys. Every configuration x problem x start then runs once per seed, in the same
    ``jit(vmap)``; seed j's run takes at step t the gradient of ``loss(x_t, fold_in(keys[j], t))``,
    the steps of :func:`jaxgd.stochastic.run` with ``key=keys[j]`` (the same batches; the values agree to
    rounding, the sweep being another program), the batch drawn and gathered on the device. The seed axis is
    the outermost ``vmap``: the runs of one seed share each batch.
    Its summaries are of the *full* objective ``loss.full``, evaluated at steps 0, k, 2k, ..., ``steps``
    (k = ``eval_every``, default ``curve_every`` or about steps / 100), and divergence, best loss, the targets and
    ``tol_step`` are taken on that schedule (:mod:`jaxgd.sweeps.seeded`); ``curve_every``, if given, must
    equal it. Summaries that need no schedule ("final", "grad_norm") evaluate f at x_T alone.
    :meth:`SweepResult.seed_stats` gives statistics across seeds; ``best()`` ranks by the median
    across seeds. A deterministic loss takes no ``seeds``.

    Args:
        make_optimizer: ``make_optimizer(**config)`` -> an optax transformation; takes the space's names.
        problem: A :class:`jaxgd.Problem`, a loss ``f(params)`` (or ``loss(params, key)``), or a list of either
            with the same structure.
        space: The configurations: a :class:`Space` (:func:`grid`, :func:`random_search`) or a dict of value
            lists (its grid).
        steps: The updates of every run, a positive integer.
        x0: One start point (a pytree) for every problem.
        x0s: S start points, leaves with a leading axis S; default each problem's ``x0``.
        tol: The loss of ``tol_step`` (the summary "tol").
        blowup: A run diverges where f(x_t) > blowup max(|f(x_0)|, blowup_floor); None: no such limit.
        blowup_floor: The floor of that scale, > 0, in the loss's units.
        max_loss: An absolute limit on f(x_t); None: none.
        curve_every: Record f(x_t) every this many steps (the summary "curve"); None: no curve.
        keep_params: Keep each run's final (or frozen) iterate in ``final_params``.
        chunk_size: Runs per compiled chunk; None: what fits in about a quarter of device memory.
        out: Where to save the sweep and resume it from; None: not saved.
        devices: The devices the runs are sharded over: a list, or an int (the first n); None: all.
        progress: Show a tqdm progress bar.
        block: Steps between checkpoints (default about sqrt(steps)).
        seeds: For a stochastic loss, K seeds: an int or an array of K PRNG keys.
        eval_every: For a stochastic loss, steps between evaluations of the full objective.
        summaries: The summaries computed, a name or a sequence of names (see above); None: the default.
        targets: The relative targets tau_k of the summary "targets".
        f_star: The minimum f* of the targets, one value or one per problem; None: each problem's ``minimum``.

    Returns:
        The result (:class:`SweepResult`): one row per run, ordered (configuration, problem, start, seed).

    Raises:
        ValueError: If an option is out of range, the space's names do not match ``make_optimizer``, the starts
            are missing or disagree, or the summaries lack their options.
        TypeError: If a problem is not a Problem or a loss, or ``make_optimizer`` does not build a transformation.
        SweepFileError: If ``out`` holds another sweep or an unusable file.
        OSError: If ``out`` cannot be written (a failed save carries the result so far as ``err.result``).
    """
    if chunk_size is not None:
        _validate.positive_int("chunk_size", chunk_size)
    devs = _devices(devices)
    prep = prepare(
        make_optimizer,
        problem,
        space,
        steps,
        x0=x0,
        x0s=x0s,
        tol=tol,
        blowup=blowup,
        blowup_floor=blowup_floor,
        max_loss=max_loss,
        curve_every=curve_every,
        keep_params=keep_params,
        block=block,
        platform=_platform(devs),
        seeds=seeds,
        eval_every=eval_every,
        summaries=summaries,
        targets=targets,
        f_star=f_star,
    )
    per_chunk = _configs_per_chunk(prep, chunk_size, devs)
    result = _empty(prep, tol=tol, blowup=blowup, blowup_floor=blowup_floor, max_loss=max_loss)
    if out is None:
        return _run_chunks(prep, result, per_chunk, devs, None, progress)
    fingerprint = fp.of(prep, _settings(prep, result.info), devs)
    result, writer = store.open_out(out, result, fingerprint, per_chunk, chunk_given=chunk_size is not None)
    if writer is None:  # out holds this sweep, finished
        return result
    result = _run_chunks(prep, result, writer.per_chunk, devs, writer, progress)
    if jax.process_count() == 1:  # under jax.distributed each process keeps its folder
        _save(writer.finish, result)
    return result


def _empty(prep: Prepared, **bounds: float | None) -> SweepResult:
    """The result before any chunk has run, with its ``info``."""
    plan = prep.plan
    return empty_result(
        prep.space.columns,
        prep.num_problems,
        prep.num_starts,
        plan.steps,
        prep.real,
        prep.first_x0 if plan.keep_params else None,
        engine.curve_steps(plan.steps, plan.curve_every) if plan.curve_every is not None else None,
        _info(prep, **bounds),
        prep.num_seeds,
        plan.summaries,
    )


def _info(prep: Prepared, **bounds: float | None) -> dict:
    """The result's ``info``: the settings, as JSON-able values."""
    bounds = {k: None if v is None else float(v) for k, v in bounds.items()}
    info = {**bounds, "curve_every": prep.plan.curve_every, "kind": prep.space.kind, "scales": prep.space.scales}
    info["summaries"] = list(prep.plan.summaries)
    if "targets" in prep.plan.summaries:
        info["targets"], info["f_star"] = list(prep.targets), prep.f_star.tolist()
    if prep.keys is not None:  # the seeds' keys as their raw data, and the evaluation schedule
        info["seeds"] = np.asarray(jax.random.key_data(prep.keys)).tolist()
        info["seed_impl"] = str(jax.random.key_impl(prep.keys))
        info["eval_every"] = prep.plan.eval_every
    return info


def _settings(prep: Prepared, info: dict) -> dict:
    """What a sweep file's fingerprint records as the settings: every option that changes a number."""
    plan = prep.plan
    return {
        **{k: info[k] for k in ("tol", "blowup", "blowup_floor", "max_loss", "curve_every")},
        "steps": plan.steps,
        "keep_params": plan.keep_params,
        "block": plan.block,
        "unroll_sums": plan.unroll_sums,
        "value_with_grad": plan.value_with_grad,
        "num_problems": prep.num_problems,
        "num_starts": prep.num_starts,
        "dtype": jnp.dtype(prep.real).name,
        **{k: info[k] for k in ("seeds", "seed_impl", "eval_every", "summaries", "targets", "f_star") if k in info},
    }


def _devices(devices: Any) -> list[Any]:
    if devices is None:
        return list(jax.devices())
    if isinstance(devices, int) and not isinstance(devices, bool):
        available = jax.devices()
        if not 1 <= devices <= len(available):
            raise ValueError(f"devices={devices}, but {len(available)} device(s) are available")
        return list(available[:devices])
    devices = list(devices)
    if not devices:
        raise ValueError("devices is an empty list")
    return devices


def _platform(devs: list[Any]) -> str:
    """The devices' platform ("cpu", "gpu", ...), or "mixed"."""
    platforms = {d.platform for d in devs}
    return platforms.pop() if len(platforms) == 1 else "mixed"


@functools.lru_cache(maxsize=64)
def _state_size(make_optimizer: Callable, config: tuple, x0_spec: tuple) -> int:
    """Numbers in the optimizer's state at a point of ``x0_spec``'s shapes (for sizing chunks)."""
    state = jax.eval_shape(make_optimizer(**dict(config)).init, abstract(x0_spec))
    return sum(math.prod(a.shape) for a in jax.tree.leaves(state))


def _configs_per_chunk(prep: Prepared, chunk_size: int | None, devs: list[Any]) -> int:
    """Configurations per chunk: ``chunk_size`` runs, or what fits in the memory budget; a multiple of the
    number of devices."""
    plan, runs_per_config = prep.plan, prep.num_problems * prep.num_starts * prep.num_seeds
    n_elems = sum(math.prod(np.shape(a)) for a in jax.tree.leaves(prep.first_x0))
    config0 = tuple((k, v[0].item()) for k, v in prep.space.columns.items())
    n_state = _state_size(plan.make_optimizer, config0, spec(prep.first_x0))
    n_curve = len(engine.curve_steps(plan.steps, plan.curve_every)) if plan.curve_every else 0
    n_targets = len(prep.targets) * (n_elems + n_state + 1)  # a checkpoint per target
    per_run = 8 * jnp.dtype(prep.real).itemsize * (6 * n_elems + 4 * n_state + 16 + n_curve + n_targets)
    if chunk_size is None:
        per_chunk = _auto_chunk(per_run, runs_per_config, devs)
    else:
        per_chunk = max(1, chunk_size // runs_per_config)
    per_chunk = min(per_chunk, len(prep.space))
    return -(-per_chunk // len(devs)) * len(devs)


def _auto_chunk(per_run_bytes: int, runs_per_config: int, devices: list[Any]) -> int:
    budget = 1 << 30
    try:
        stats = devices[0].memory_stats() or {}
        if "bytes_limit" in stats:
            budget = int(stats["bytes_limit"]) // 4
    except Exception:  # memory_stats is not implemented on every backend
        pass
    return max(1, budget * len(devices) // max(1, per_run_bytes * runs_per_config))


def _run_chunks(
    prep: Prepared, result: SweepResult, per_chunk: int, devs: list[Any], writer: Writer | None, progress: bool
) -> SweepResult:
    """The chunks from ``result.completed`` on, each stored in ``result`` and saved by ``writer``."""
    sharded = None
    shared = prep.shared
    if len(devs) > 1:
        mesh = jax.sharding.Mesh(np.asarray(devs), ("runs",))
        sharded = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))
        shared = jax.device_put(shared, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
    num_configs, runs_per_config = result.num_configs, result.runs_per_config
    bar = _progress(result.num_runs, progress)
    if bar is not None:
        bar.update(result.completed * runs_per_config)
    try:
        while result.completed < num_configs:
            lo, hi = result.completed, min(result.completed + per_chunk, num_configs)
            idx = np.minimum(np.arange(lo, lo + per_chunk), num_configs - 1)  # pad with the last configuration
            cols = tuple(c[idx] for c in prep.columns)
            if sharded is not None:
                cols = jax.device_put(cols, sharded)
            store_chunk(result, _run_chunk(cols, shared, prep.plan), lo, hi)
            result = dataclasses.replace(result, completed=hi)
            if writer is not None:
                _save(functools.partial(writer.write, lo=lo, hi=hi), result)
            if bar is not None:
                bar.update((hi - lo) * runs_per_config)
    finally:
        if bar is not None:
            bar.close()
    return result


def _save(write: Callable[[SweepResult], None], result: SweepResult) -> None:
    """Save a chunk (or the finished sweep); an OSError carries the result so far (``err.result``), so nothing
    computed is lost."""
    try:
        write(result)
    except OSError as err:
        err.result = result
        err.add_note(
            f"jaxgd.sweep: the result so far ({result.completed} of {result.num_configs} configurations) "
            "is this error's .result"
        )
        raise


def _run_chunk(cols: tuple, shared: tuple, plan: engine.Plan) -> engine.Summary:
    """One compiled chunk, fetched to the host (gathered across processes under ``jax.distributed``)."""
    summary = chunk_function(plan)(cols, *shared, plan=plan)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(summary, tiled=True)
    return jax.tree.map(np.asarray, summary)


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="sweep", unit="run", file=sys.stderr)
