"""Hyperparameter sweeps: thousands of runs under one ``jit(vmap(lax.scan))``, chunked, saved and sharded.

A jaxgd optimizer is a pytree of its hyperparameters, so ``make_optimizer(**hp)``
called inside ``vmap`` with traced scalars is an optimizer per run: no
``optax.inject_hyperparams`` and none of its casts (optax issue 1532).

The pieces:

* spaces, tables of configurations: :func:`grid` (the product of lists),
  :func:`random_search` with :func:`log_uniform` and :func:`uniform` samplers
  (Bergstra & Bengio 2012), :func:`refine` (coarse to fine);
* :func:`sweep`: every configuration x problem x start point, with per-run
  summaries computed inside the loop (memory O(runs), not O(runs x steps));
* :class:`SweepResult`: the table and the summaries as arrays, ``best()``,
  ``save()``/``load()`` (one ``.npz`` written whole);
* :func:`lr_range_test`: many constant learning rates in parallel for a short budget.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import io
import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgd import _validate, files
from jaxgd._recipe import Static, combine, partition
from jaxgd._small_sums import unroll_small_sums
from jaxgd.problems import Problem
from jaxgd.runner import tree_norm

__all__ = [
    "Best",
    "LRRangeTest",
    "Sampler",
    "Space",
    "SweepResult",
    "check_factory",
    "coarse_to_fine",
    "grid",
    "infer_scale",
    "log_uniform",
    "lr_range_test",
    "random_search",
    "refine",
    "sweep",
    "uniform",
]

_SUMMARIES = ("final_loss", "best_loss", "final_grad_norm", "tol_step", "diverge_step")
_RANK_BY = ("final_loss", "best_loss", "final_grad_norm", "tol_step")


# --------------------------------------------------------------------------- spaces


class Space:
    """A table of hyperparameter configurations: ``columns[name][i]`` is the value of ``name`` in configuration i.

    ``scales[name]`` is ``"log"`` or ``"linear"``: how :func:`refine` narrows that axis.
    ``kind`` is ``"grid"``, ``"random"`` or ``"table"``.
    """

    def __init__(self, columns: Mapping[str, Any], scales: Mapping[str, str] | None = None, kind: str = "table"):
        if not columns:
            raise ValueError("a space needs at least one hyperparameter")
        cols = {str(k): _column(k, v) for k, v in columns.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) != 1:
            raise ValueError(
                f"every column of a space needs the same length, got { {k: len(v) for k, v in cols.items()} }"
            )
        self.columns = cols
        self.scales = {k: (scales or {}).get(k, infer_scale(v)) for k, v in cols.items()}
        for k, s in self.scales.items():
            _validate.one_of(f"scale of {k}", s, ("log", "linear"))
        self.kind = kind

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __repr__(self) -> str:
        return f"Space({self.kind}, {len(self)} configurations of {', '.join(self.names)})"


def _column(name: str, values: Any) -> np.ndarray:
    try:
        arr = np.asarray(values)
    except Exception as err:
        raise TypeError(f"hyperparameter {name!r}: cannot read values {values!r} ({err})") from None
    arr = arr.reshape(-1) if arr.ndim == 0 else arr
    if arr.ndim != 1:
        raise ValueError(f"hyperparameter {name!r}: values must be a flat list, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"hyperparameter {name!r}: empty list of values")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"hyperparameter {name!r}: values must be real numbers, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"hyperparameter {name!r}: values must be finite, got {arr.tolist()}")
    return arr if arr.dtype.kind in "iu" else arr.astype(np.float64)


def infer_scale(values: np.ndarray) -> str:
    """``"log"`` for positive values spanning a factor of 20 or more, else ``"linear"`` (axes of plots and grids)."""
    v = np.asarray(values, float)
    return "log" if np.all(v > 0) and v.max() / v.min() >= 20 else "linear"


def grid(**axes: Any) -> Space:
    """The full grid: every combination of the listed values (the first name varies slowest).

    ``grid(learning_rate=np.geomspace(1e-4, 1e-1, 16), momentum=[0.0, 0.9])`` has 32
    configurations. A scalar is a fixed value. An axis of positive values spanning
    a factor of 20 or more is refined on a log scale.
    """
    if not axes:
        raise ValueError("grid needs at least one hyperparameter")
    cols = {k: _column(k, v) for k, v in axes.items()}
    mesh = np.meshgrid(*cols.values(), indexing="ij")
    return Space({k: m.reshape(-1) for k, m in zip(cols, mesh)}, kind="grid")


class Sampler(NamedTuple):
    """A distribution for :func:`random_search`: ``"log_uniform"`` or ``"uniform"`` on [low, high]."""

    kind: str
    low: float
    high: float


def log_uniform(low: float, high: float) -> Sampler:
    """log10 x ~ Uniform(log10 low, log10 high): e.g. eta = 10^U(-6, 1) (Bergstra & Bengio 2012)."""
    _validate.positive("low", low)
    _validate.positive("high", high)
    if not high > low:
        raise ValueError(f"log_uniform needs low < high, got low={low!r}, high={high!r}")
    return Sampler("log_uniform", float(low), float(high))


def uniform(low: float, high: float) -> Sampler:
    """x ~ Uniform(low, high)."""
    _validate.finite("low", low)
    _validate.finite("high", high)
    if not high > low:
        raise ValueError(f"uniform needs low < high, got low={low!r}, high={high!r}")
    return Sampler("uniform", float(low), float(high))


def random_search(key: jax.Array, num: int, **samplers: Sampler | float) -> Space:
    """``num`` configurations drawn independently from the samplers (a float is a fixed value).

    Reproducible: the same key gives the same table; each name draws from its own
    ``jax.random.fold_in(key, i)``, in float64 on the host.
    """
    _validate.positive_int("num", num)
    if not samplers:
        raise ValueError("random_search needs at least one hyperparameter")
    cols, scales = {}, {}
    for i, (name, s) in enumerate(samplers.items()):
        if isinstance(s, Sampler):
            seed = np.asarray(jax.random.key_data(jax.random.fold_in(key, i))).ravel()
            u = np.random.default_rng(seed.astype(np.uint64).tolist()).uniform(size=num)
            if s.kind == "log_uniform":
                cols[name] = 10.0 ** (np.log10(s.low) + u * (np.log10(s.high) - np.log10(s.low)))
                scales[name] = "log"
            else:
                cols[name] = s.low + u * (s.high - s.low)
                scales[name] = "linear"
        else:
            col = _column(name, s)
            if col.size != 1:
                raise ValueError(f"random_search: {name!r} must be a sampler or one fixed value, got {col.size} values")
            cols[name] = np.repeat(col, num)
    return Space(cols, scales, kind="random")


def _as_space(space: Space | Mapping[str, Any]) -> Space:
    if isinstance(space, Space):
        return space
    if isinstance(space, Mapping):
        return grid(**space)
    raise TypeError(f"space must be a Space or a dict of value lists, got {type(space).__name__}")


# --------------------------------------------------------------------------- results


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
        _validate.one_of("by", by, _RANK_BY)
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
        arrays.update({k: getattr(self, k) for k in ("problem_index", "start_index", *_SUMMARIES)})
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
        _atomic_savez(path, arrays)

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
                **{k: z[k] for k in _SUMMARIES},
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


def _atomic_savez(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    files.write_bytes(path, buf.getbuffer())


# --------------------------------------------------------------------------- one run


class _Carry(NamedTuple):
    """The state of one run between blocks of steps."""

    x: Any  # the live iterate x_t; it runs on after a divergence (the lanes of vmap are independent)
    state: Any
    r: jax.Array  # min_{s <= t} f(x_s), or -inf once some f(x_s) was bad (non-finite or out of bounds)
    t: jax.Array
    div_ckpt: tuple  # (x, state, r, t) at the latest block end before r broke
    tol_ckpt: tuple  # (x, state, t) at the latest block end before r first fell to tol or below (or broke)


class _Summary(NamedTuple):
    final_loss: jax.Array
    best_loss: jax.Array
    final_grad_norm: jax.Array
    tol_step: jax.Array
    diverge_step: jax.Array
    final_params: Any
    curve: Any


def _all_finite(tree: Any) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


def _select(pred: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree.map(lambda p, q: jnp.where(pred, p, q), a, b)


def _run_one(
    optimizer: optax.GradientTransformation,
    loss_fn: Callable,
    x0: Any,
    tol: jax.Array,
    blowup: jax.Array,
    max_loss: jax.Array,
    *,
    steps: int,
    curve_every: int | None,
    track_tol: bool,
    keep_params: bool,
    block: int,
    value_with_grad: bool = False,
) -> _Summary:
    """One run with its summaries; vmapped by :func:`_sweep_chunk`.

    Fast path: a step makes x_{t+1} from grad f(x_t) and folds f(x_{t+1}) into one
    running number r = min_s f(x_s), which breaks for good (to -inf) at the
    first bad value (non-finite or above the blow-up limit). Nothing is
    frozen inside the loop, so a step costs one fused loop more than a
    final-loss-only sweep; a diverged run goes on (its non-finite numbers reach no
    other run, the lanes of ``vmap`` being independent). The steps run in blocks
    of ``block``: at each block's end, a run whose r has not broken (has not
    fallen to ``tol``) moves a checkpoint there, so the checkpoint stays at the
    start of the block in which that happened. After the loop at most
    ``block`` steps are replayed from each checkpoint, checking every step, which
    gives the exact divergence step d, the iterate x_{d-1} the run is frozen at,
    the best loss before d and the first step at ``tol``. Only the loss is
    checked; a non-finite gradient makes the next loss non-finite.

    ``value_with_grad``: a step folds f(x_t), taken from the forward pass of its
    gradient, instead of evaluating f(x_{t+1}) anew, and each block ends by folding
    f at its last iterate, so r means the same at every block's end. For a loss
    whose evaluation the gradient shares (a matrix product, a transcendental) this
    saves a forward pass per step; for a cheap polynomial XLA:CPU does better
    with the separate evaluation, fused on its own.
    """
    extra = isinstance(optimizer, optax.GradientTransformationExtraArgs)
    value_and_grad = jax.value_and_grad(loss_fn)
    f0, g0 = value_and_grad(x0)
    inf = jnp.asarray(jnp.inf, f0.dtype)
    nan = jnp.asarray(jnp.nan, f0.dtype)
    scale = jnp.where(f0 != 0, jnp.abs(f0), inf)
    limit = jnp.minimum(max_loss.astype(f0.dtype), jnp.where(jnp.isfinite(blowup), blowup * scale, inf))
    lowest = jnp.asarray(-jnp.finfo(f0.dtype).max, f0.dtype)
    limit = jnp.minimum(limit, -lowest)
    ok0 = jnp.isfinite(f0) & _all_finite(g0)
    minus1 = jnp.asarray(-1, jnp.int32)
    zero = jnp.asarray(0, jnp.int32)
    s0 = optimizer.init(x0)
    r0 = jnp.where(ok0, f0, -inf)
    carry = _Carry(x0, s0, r0, zero, (x0, s0, r0, zero), (x0, s0, zero))

    def good(value):
        return (value <= limit) & (value >= lowest)  # false for NaN and +-inf

    def update(x, state, value_grad=None):
        if value_grad is None:
            value_grad = value_and_grad(x) if extra else (None, jax.grad(loss_fn)(x))
        value, grad = value_grad
        if extra:
            updates, state = optimizer.update(grad, state, x, value=value, grad=grad, value_fn=loss_fn)
        else:
            updates, state = optimizer.update(grad, state, x)
        return optax.apply_updates(x, updates), state

    def broken(r):
        return ~(r >= lowest)

    def fold(r, value):
        # -inf for a bad value (NaN fails ``value <= limit``; -inf passes it and is kept), and -inf stays: r is
        # broken from the first bad value on. Two selects: a NaN-propagating minimum costs more on XLA:CPU.
        return jnp.where(value <= limit, jnp.where(value < r, value, r), -inf)

    def step(c: tuple, _: Any) -> tuple[tuple, None]:
        x, state, r = c
        if value_with_grad:
            value, grad = value_and_grad(x)
            return (*update(x, state, (value, grad)), fold(r, value)), None
        x, state = update(x, state)
        return (x, state, fold(r, loss_fn(x))), None

    def run_block(c: _Carry, n: int) -> _Carry:
        (x, state, r), _ = jax.lax.scan(step, (c.x, c.state, c.r), None, length=n)
        if value_with_grad:
            r = fold(r, loss_fn(x))
        t = c.t + n
        # Checkpoints move to the block's end, not kept from its start: the loop's inputs need no copy.
        div_ckpt = _select(broken(r), c.div_ckpt, (x, state, r, t))
        tol_ckpt = c.tol_ckpt
        if track_tol:
            tol_ckpt = _select(r <= tol, tol_ckpt, (x, state, t))  # -inf <= tol: it stops moving at r's break
        return _Carry(x, state, r, t, div_ckpt, tol_ckpt)

    def advance(c: _Carry, n: int) -> _Carry:
        n_blocks, rem = divmod(n, block)
        if n_blocks:
            c, _ = jax.lax.scan(lambda c, _: (run_block(c, block), None), c, None, length=n_blocks)
        if rem:
            c = run_block(c, rem)
        return c

    def recorded(c: _Carry) -> jax.Array:
        return jnp.where(broken(c.r), nan, loss_fn(c.x))

    curve = None
    if curve_every is None:
        carry = advance(carry, steps)
    else:
        n_outer, rem = divmod(steps, curve_every)
        parts = []
        if n_outer:
            carry, points = jax.lax.scan(
                lambda c, _: (advance(c, curve_every), recorded(c)), carry, None, length=n_outer
            )
            parts.append(points)
        if rem or not n_outer:
            parts.append(recorded(carry)[None])
            carry = advance(carry, rem)
        parts.append(recorded(carry)[None])
        curve = jnp.concatenate(parts)

    def rescan(x, state, r, t):
        """Up to ``block`` steps from a checkpoint, each checked: the first bad step d (-1 if none), the last
        iterate before d, the best loss and the tol step before d. Only x is kept, not frozen: a step costs
        the fast loop's fused loops plus one per number kept. With ``value_with_grad`` the values come from
        value_and_grad, f(x_t) before the step from x_t (the checkpoint's own, known good, first)."""

        def body(k, c):
            x, state, keep, r, tol_step, d = c  # tol_step and d counted from the checkpoint
            if value_with_grad:
                value, grad = value_and_grad(x)
                at, s = x, k  # value = f(x_{t+k})
                x, state = update(x, state, (value, grad))
            else:
                x, state = update(x, state)
                value, at, s = loss_fn(x), x, k + 1
            ok = (d < 0) & good(value)
            if track_tol:
                tol_step = jnp.where(ok & (tol_step < 0) & (value <= tol), s, tol_step)
            keep = _select(ok, at, keep)
            return x, state, keep, jnp.where(ok, jnp.minimum(r, value), r), tol_step, jnp.where(ok | (d >= 0), d, s)

        n = min(block, steps) + (1 if value_with_grad else 0)
        _, _, keep, r, tol_step, d = jax.lax.fori_loop(0, n, body, (x, state, x, r, minus1, minus1))
        return keep, r, jnp.where(tol_step >= 0, t + tol_step, minus1), jnp.where(d >= 0, t + d, minus1)

    # Divergence: the exact step d, x_{d-1}, and the best loss before d.
    dx, ds, dr, dt = carry.div_ckpt
    div_active = ok0 & broken(carry.r)
    x_div, best_div, _, div_step = rescan(dx, ds, dr, dt)
    diverged = ~ok0 | div_active
    div_step = jnp.where(~ok0, zero, jnp.where(div_active, div_step, minus1))
    x_final = _select(~ok0, x0, _select(div_active, x_div, carry.x))
    best = jnp.where(~ok0, inf, jnp.where(div_active, best_div, carry.r))

    tol_step = minus1
    if track_tol:
        tx, ts, tt = carry.tol_ckpt
        tol_replayed = rescan(tx, ts, jnp.asarray(inf, f0.dtype), tt)[2]
        # The replay stops counting at d; a run that never fell to tol (r > tol) replayed past its last step.
        tol_step = jnp.where(ok0 & (f0 <= tol), zero, jnp.where(ok0 & (carry.r <= tol), tol_replayed, minus1))
    f_final, g_final = value_and_grad(x_final)
    return _Summary(
        final_loss=jnp.where(diverged, inf, f_final),
        best_loss=best,
        final_grad_norm=tree_norm(g_final),
        tol_step=tol_step,
        diverge_step=div_step,
        final_params=x_final if keep_params else None,
        curve=curve,
    )


# Primitives a loss can be made of and still cost less to evaluate again, fused on its own, than to take from
# the gradient's forward pass (measured on XLA:CPU: the ravine, Rosenbrock); anything else (a matrix product,
# a transcendental, a division) makes the sweep take f(x_t) from value_and_grad.
_CHEAP = frozenset(
    "abs add and broadcast_in_dim clamp concatenate convert_element_type copy eq ge gt integer_pow iota le lt max "
    "min mul ne neg not or pad reduce_sum reshape rev select_n sign slice square squeeze sub transpose".split()
)


def _gradient_shares_value(loss_jaxpr: Any) -> bool:
    """True unless the loss (its closed jaxpr) is made only of :data:`_CHEAP` primitives (nested jits looked
    into)."""

    def costly(jaxpr) -> bool:
        for eqn in jaxpr.eqns:
            inner = eqn.params.get("jaxpr") if eqn.primitive.name in ("jit", "pjit") else None
            if inner is not None:
                if costly(inner.jaxpr):
                    return True
            elif eqn.primitive.name not in _CHEAP:
                return True
        return False

    return costly(loss_jaxpr.jaxpr)


def _spec(tree: Any) -> tuple:
    """A hashable stand-in for ``tree``'s structure, shapes and dtypes (weak types kept), for the caches below."""
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple(
        jax.ShapeDtypeStruct(np.shape(a), jnp.result_type(a), weak_type=bool(getattr(a, "weak_type", False)))
        for a in leaves
    )


def _abstract(spec: tuple) -> Any:
    treedef, leaves = spec
    return jax.tree.unflatten(treedef, leaves)


@functools.lru_cache(maxsize=64)
def _loss_jaxpr(loss_static: Static, dyn_spec: tuple, x0_spec: tuple) -> tuple[Any, Any]:
    """The loss's closed jaxpr and abstract output, its data and point abstract: traced once per loss and
    shapes, not once per sweep."""
    fn = jax.make_jaxpr(lambda dyn, x: combine(dyn, loss_static)(x), return_shape=True)
    return fn(_abstract(dyn_spec), _abstract(x0_spec))


@functools.lru_cache(maxsize=64)
def _state_size(make_optimizer: Callable, config: tuple, x0_spec: tuple) -> int:
    """Numbers in the optimizer's state at a point of ``x0_spec``'s shapes (for sizing chunks)."""
    state = jax.eval_shape(make_optimizer(**dict(config)).init, _abstract(x0_spec))
    return sum(math.prod(a.shape) for a in jax.tree.leaves(state))


def _default_block(steps: int) -> int:
    """About sqrt(steps): the per-block bookkeeping (steps / block) against the replay (block steps)."""
    return min(1024, max(8, math.isqrt(steps)))


def _curve_steps(steps: int, every: int) -> np.ndarray:
    n_outer, rem = divmod(steps, every)
    return np.asarray(list(range(0, n_outer * every + 1, every)) + ([steps] if rem else []), np.int32)


@functools.partial(
    jax.jit,
    static_argnames=(
        "make_optimizer",
        "names",
        "loss_static",
        "many_problems",
        "many_starts",
        "steps",
        "curve_every",
        "track_tol",
        "keep_params",
        "block",
        "unroll_sums",
        "value_with_grad",
    ),
)
def _sweep_chunk(
    columns: tuple,
    loss_dynamic: list,
    x0s: Any,
    tol: jax.Array,
    blowup: jax.Array,
    max_loss: jax.Array,
    *,
    make_optimizer: Callable,
    names: tuple[str, ...],
    loss_static: Static,
    many_problems: bool,
    many_starts: bool,
    steps: int,
    curve_every: int | None,
    track_tol: bool,
    keep_params: bool,
    block: int,
    unroll_sums: bool = False,
    value_with_grad: bool = False,
) -> _Summary:
    """Summaries of shape (chunk, P, S): configurations x problems x starts, each axis a ``vmap``.

    ``loss_dynamic`` leaves carry a leading problem axis P when ``many_problems``;
    ``x0s`` leaves carry leading axes (P, S). ``unroll_sums``: the loss's small sums
    become adds (:mod:`jaxgd._small_sums`, for XLA:CPU).
    """
    run = functools.partial(
        _run_one,
        steps=steps,
        curve_every=curve_every,
        track_tol=track_tol,
        keep_params=keep_params,
        block=block,
        value_with_grad=value_with_grad,
    )

    def lead(fn, many):
        if many:
            return jax.vmap(fn)
        return lambda *a: jax.tree.map(lambda y: y[None], fn(*jax.tree.map(lambda z: z[0], a)))

    def per_config(values):
        optimizer = make_optimizer(**dict(zip(names, values)))

        def per_problem(dyn, x0_row):
            loss_fn = combine(dyn, loss_static)
            if unroll_sums:
                loss_fn = unroll_small_sums(loss_fn)
            return lead(lambda x0: run(optimizer, loss_fn, x0, tol, blowup, max_loss), many_starts)(x0_row)

        if many_problems:
            return jax.vmap(per_problem)(loss_dynamic, x0s)
        return jax.tree.map(lambda y: y[None], per_problem(loss_dynamic, jax.tree.map(lambda z: z[0], x0s)))

    return jax.vmap(per_config)(columns)


# --------------------------------------------------------------------------- checks before compiling


def check_factory(make_optimizer: Callable, space: Space) -> None:
    """Check before compiling that ``make_optimizer`` takes exactly the space's names (those without a default
    included) and builds an optax transformation at the extreme rows of each column."""
    if not callable(make_optimizer):
        raise TypeError(f"make_optimizer must be callable, got {type(make_optimizer).__name__}")
    try:
        sig = inspect.signature(make_optimizer)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        params = sig.parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        named = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        unknown = [n for n in space.names if n not in named] if not takes_any else []
        if unknown:
            raise ValueError(
                f"make_optimizer does not take {', '.join(map(repr, unknown))}; it takes {', '.join(sorted(named))}"
            )
        missing = [
            n
            for n, p in params.items()
            if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in space.names
        ]
        if missing:
            raise ValueError(f"make_optimizer needs {', '.join(map(repr, missing))}, which the space does not give")
    # Build the optimizer at the extreme rows of each column: range checks fail here, before compiling.
    rows = sorted({int(f(col)) for col in space.columns.values() for f in (np.argmin, np.argmax)})
    for i in rows:
        opt = make_optimizer(**{k: v[i].item() for k, v in space.columns.items()})
        if not (hasattr(opt, "init") and hasattr(opt, "update")):
            raise TypeError(f"make_optimizer must return an optax GradientTransformation, got {type(opt).__name__}")


def _losses(problem: Any) -> tuple[list[Any], list[Any] | None]:
    """Losses (callable pytrees) and their default starts (or None) from a Problem, a loss or a list of them."""
    items = list(problem) if isinstance(problem, (list, tuple)) else [problem]
    if not items:
        raise ValueError("an empty list of problems")
    losses, starts = [], []
    for p in items:
        if isinstance(p, Problem):
            losses.append(jax.tree_util.Partial(p.fn, **p.data))
            starts.append(p.x0)
        elif callable(p):
            losses.append(p)
            starts.append(None)
        else:
            raise TypeError(f"a problem must be a jaxgd.Problem or a callable loss, got {type(p).__name__}")
    return losses, (None if any(s is None for s in starts) else starts)


def _stack(trees: list[Any]) -> Any:
    return jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *trees)


def _fingerprint(arrays: list[Any], settings: dict) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


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


def _auto_chunk(per_run_bytes: int, runs_per_config: int, devices: list[Any]) -> int:
    budget = 1 << 30
    try:
        stats = devices[0].memory_stats() or {}
        if "bytes_limit" in stats:
            budget = int(stats["bytes_limit"]) // 4
    except Exception:  # memory_stats is not implemented on every backend
        pass
    return max(1, budget * len(devices) // max(1, per_run_bytes * runs_per_config))


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="sweep", unit="run", file=sys.stderr)


# --------------------------------------------------------------------------- sweep


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
    max_loss: float | None = None,
    curve_every: int | None = None,
    keep_params: bool = True,
    chunk_size: int | None = None,
    out: str | os.PathLike | None = None,
    devices: Any = None,
    progress: bool = False,
    block: int | None = None,
) -> SweepResult:
    """Run ``make_optimizer(**config)`` for every configuration of ``space``, every problem and every start.

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
    f(x_t) > ``max_loss`` or > ``blowup`` |f(x_0)|; it is then
    frozen at x_{t-1}, so nothing non-finite reaches its summaries.

    Scale: runs go in chunks of ``chunk_size`` runs (default: what fits in about a
    quarter of device memory, 1 GiB on CPU). With ``out``, the result so far is
    saved after each chunk (one ``.npz``, written whole) and a sweep that finds
    its own partial file there resumes after the last saved chunk (a file of a
    different sweep raises ValueError). With several ``devices`` (default: all of
    ``jax.devices()``; an int takes the first n) the run axis of each chunk is
    sharded over a 1-D mesh; under ``jax.distributed`` every process calls
    ``sweep`` with the same arguments. ``progress=True`` shows a tqdm bar.

    Speed: the loop does not freeze runs step by step; each step folds a loss
    into one running minimum (f(x_t) from ``value_and_grad`` where the loss has
    work its gradient shares, such as a matrix product or a transcendental; else
    f(x_{t+1}), evaluated anew), and at the end of every ``block`` steps a run that
    has not yet diverged (or reached ``tol``) moves a checkpoint there. After the loop
    at most ``block`` steps are replayed from the checkpoints to recover the exact
    divergence step, x_{d-1}, the best loss before d and the tol step. Every
    summary stays exact per step; ``block`` (default about sqrt(steps), which
    balances the two) trades the per-block bookkeeping against the length of the
    replay. On CPU the loss's sums over at most 16 numbers are written as adds
    (:mod:`jaxgd._small_sums`): XLA:CPU runs a reduction as a slow loop of its
    own, which made f(x) = 1/2 sum_i lambda_i x_i^2 cost ten times its gradient.
    """
    _validate.positive_int("steps", steps)
    if curve_every is not None:
        _validate.positive_int("curve_every", curve_every)
    if chunk_size is not None:
        _validate.positive_int("chunk_size", chunk_size)
    if block is None:
        block = _default_block(steps)
    _validate.positive_int("block", block)
    if tol is not None:
        _validate.finite("tol", tol)
    if blowup is not None:
        _validate.positive("blowup", blowup)
    if max_loss is not None:
        _validate.finite("max_loss", max_loss)
    space = _as_space(space)
    check_factory(make_optimizer, space)

    losses, default_starts = _losses(problem)
    if x0 is not None and x0s is not None:
        raise ValueError("give x0 or x0s, not both")
    if x0 is not None:
        x0s = jax.tree.map(lambda a: jnp.asarray(a)[None], x0)
    if x0s is None and default_starts is None:
        raise ValueError("a loss that is not a jaxgd.Problem needs a start: pass x0 (or x0s)")
    num_problems = len(losses)
    if x0s is not None:
        _validate.float_tree("x0s", x0s)
        lead = {np.shape(a)[0] if np.ndim(a) else -1 for a in jax.tree.leaves(x0s)}
        if len(lead) != 1 or -1 in lead:
            raise ValueError(f"every leaf of x0s needs the same leading axis (one row per start), got {lead}")
        num_starts = lead.pop()
        x0_table = jax.tree.map(lambda a: jnp.broadcast_to(jnp.asarray(a), (num_problems, *jnp.shape(a))), x0s)
    else:
        num_starts = 1
        for s in default_starts:
            _validate.float_tree("the problem's x0", s)
        try:
            x0_table = jax.tree.map(
                lambda *xs: np.stack([np.asarray(x, jnp.result_type(x)) for x in xs])[:, None], *default_starts
            )
        except ValueError as err:
            raise ValueError(f"the problems' starts differ in shape ({err}); pass x0s") from None

    parts = [partition(loss) for loss in losses]
    loss_static = parts[0][1]
    for i, (dyn, st) in enumerate(parts[1:], 1):
        shapes0 = [(np.shape(a), jnp.result_type(a)) for a in parts[0][0]]
        if st != loss_static or [(np.shape(a), jnp.result_type(a)) for a in dyn] != shapes0:
            raise ValueError(
                f"problem {i} differs in structure from problem 0 (another function, or data of other shapes): "
                "problems swept together must differ only in the values of their data"
            )
    loss_dynamic = _stack([p[0] for p in parts]) if num_problems > 1 else parts[0][0]
    first_x0 = jax.tree.map(lambda a: a[0, 0], x0_table)
    try:
        hash(loss_static)
    except TypeError:
        raise TypeError("the loss has unhashable static parts; make its arrays pytree leaves") from None
    x0_spec = _spec(first_x0)
    loss_jaxpr, loss_out = _loss_jaxpr(loss_static, _spec(parts[0][0]), x0_spec)
    _validate.scalar(loss_out)

    dtype = jnp.result_type(*[a.dtype for a in jax.tree.leaves(first_x0)])
    real = jnp.finfo(dtype).dtype
    names = space.names
    columns_np = tuple(v.astype(real) if v.dtype.kind == "f" else v.astype(np.int32) for v in space.columns.values())
    num_configs = len(space)
    runs_per_config = num_problems * num_starts
    track_tol = tol is not None
    scalar = functools.partial(jnp.asarray, dtype=real)
    tol_a, blowup_a = scalar(tol if tol is not None else -np.inf), scalar(blowup if blowup is not None else np.inf)
    max_loss_a = scalar(max_loss if max_loss is not None else np.inf)
    curve_steps = _curve_steps(steps, curve_every) if curve_every is not None else None

    # Sizes: one chunk of configurations, a multiple of the number of devices.
    devs = _devices(devices)
    n_dev = len(devs)
    n_elems = sum(math.prod(np.shape(a)) for a in jax.tree.leaves(first_x0))
    n_state = _state_size(make_optimizer, tuple((k, v[0].item()) for k, v in space.columns.items()), x0_spec)
    per_run = 8 * jnp.dtype(real).itemsize * (6 * n_elems + 4 * n_state + 16 + (len(curve_steps) if curve_every else 0))
    if chunk_size is None:
        per_chunk = _auto_chunk(per_run, runs_per_config, devs)
    else:
        per_chunk = max(1, chunk_size // runs_per_config)
    per_chunk = min(per_chunk, num_configs)
    per_chunk = -(-per_chunk // n_dev) * n_dev

    settings = {
        "names": list(names),
        "steps": steps,
        "tol": tol,
        "blowup": blowup,
        "max_loss": max_loss,
        "curve_every": curve_every,
        "keep_params": keep_params,
        "num_problems": num_problems,
        "num_starts": num_starts,
        "factory": getattr(make_optimizer, "__qualname__", type(make_optimizer).__name__),
        "dtype": jnp.dtype(real).name,
    }
    fingerprint = _fingerprint([*columns_np, *jax.tree.leaves(loss_dynamic), *jax.tree.leaves(x0_table)], settings)
    info = {
        "tol": tol,
        "blowup": blowup,
        "max_loss": max_loss,
        "curve_every": curve_every,
        "kind": space.kind,
        "scales": space.scales,
        "fingerprint": fingerprint,
    }

    # Output arrays (R = configs x problems x starts), maybe resumed from a partial file.
    R = num_configs * runs_per_config
    hyperparams = {k: np.repeat(v, runs_per_config) for k, v in space.columns.items()}
    grid_idx = np.indices((num_configs, num_problems, num_starts)).reshape(3, -1)
    result = SweepResult(
        hyperparams=hyperparams,
        problem_index=grid_idx[1].astype(np.int32),
        start_index=grid_idx[2].astype(np.int32),
        final_loss=np.full(R, np.nan, real),
        best_loss=np.full(R, np.nan, real),
        final_grad_norm=np.full(R, np.nan, real),
        tol_step=np.full(R, -1, np.int32),
        diverge_step=np.full(R, -1, np.int32),
        final_params=(
            jax.tree.map(lambda a: np.full((R, *np.shape(a)), np.nan, np.asarray(a).dtype), first_x0)
            if keep_params
            else None
        ),
        curve=np.full((R, len(curve_steps)), np.nan, real) if curve_every is not None else None,
        curve_steps=curve_steps,
        steps=steps,
        num_configs=num_configs,
        num_problems=num_problems,
        num_starts=num_starts,
        completed=0,
        info=info,
    )
    completed = 0
    if out is not None and os.path.exists(out):
        saved = SweepResult.load(out)
        if saved.info.get("fingerprint") != fingerprint:
            raise ValueError(f"{os.fspath(out)!r} holds a different sweep; remove it or choose another out path")
        completed = saved.completed
        _copy_rows(result, saved, completed * runs_per_config)

    run_kwargs = dict(
        make_optimizer=make_optimizer,
        names=names,
        loss_static=loss_static,
        many_problems=num_problems > 1,
        many_starts=num_starts > 1,
        steps=steps,
        curve_every=curve_every,
        track_tol=track_tol,
        keep_params=keep_params,
        block=block,
        unroll_sums=all(d.platform == "cpu" for d in devs),
        value_with_grad=_gradient_shares_value(loss_jaxpr),
    )
    replicated = sharded = None
    if n_dev > 1:
        mesh = jax.sharding.Mesh(np.asarray(devs), ("runs",))
        sharded = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))
        replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    shared = (loss_dynamic, x0_table, tol_a, blowup_a, max_loss_a)
    if replicated is not None:
        shared = jax.device_put(shared, replicated)

    bar = _progress(R, progress)
    if bar is not None:
        bar.update(completed * runs_per_config)
    try:
        while completed < num_configs:
            lo, hi = completed, min(completed + per_chunk, num_configs)
            idx = np.minimum(np.arange(lo, lo + per_chunk), num_configs - 1)  # pad with the last configuration
            cols = tuple(c[idx] for c in columns_np)
            if sharded is not None:
                cols = jax.device_put(cols, sharded)
            summary = _run_chunk(cols, shared, run_kwargs)
            _store(result, summary, lo, hi, runs_per_config)
            completed = hi
            result = dataclasses.replace(result, completed=completed)
            if out is not None:
                result.save(out)
            if bar is not None:
                bar.update((hi - lo) * runs_per_config)
    finally:
        if bar is not None:
            bar.close()
    return result


def _run_chunk(cols: tuple, shared: tuple, run_kwargs: dict) -> _Summary:
    """One compiled chunk, fetched to the host (gathered across processes under ``jax.distributed``)."""
    summary = _sweep_chunk(cols, *shared, **run_kwargs)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(summary, tiled=True)
    return jax.tree.map(np.asarray, summary)


def _store(result: SweepResult, summary: _Summary, lo: int, hi: int, runs_per_config: int) -> None:
    n = hi - lo
    rows = slice(lo * runs_per_config, hi * runs_per_config)

    def flat(a):
        a = np.asarray(a)[:n]
        return a.reshape(n * runs_per_config, *a.shape[3:])

    for k in _SUMMARIES:
        getattr(result, k)[rows] = flat(getattr(summary, k))
    if result.curve is not None:
        result.curve[rows] = flat(summary.curve)
    if result.final_params is not None:
        for dst, src in zip(jax.tree.leaves(result.final_params), jax.tree.leaves(summary.final_params)):
            dst[rows] = flat(src)


def _copy_rows(result: SweepResult, saved: SweepResult, n: int) -> None:
    for k in _SUMMARIES:
        getattr(result, k)[:n] = getattr(saved, k)[:n]
    if result.curve is not None:
        result.curve[:n] = saved.curve[:n]
    if result.final_params is not None:
        src = saved.final_params
        src_leaves = [src] if isinstance(src, np.ndarray) else list(src.values())
        for dst, s in zip(jax.tree.leaves(result.final_params), src_leaves):
            dst[:n] = s[:n]


# --------------------------------------------------------------------------- coarse to fine


def refine(
    result: SweepResult,
    num: int | None = None,
    *,
    key: jax.Array | None = None,
    keep: int | None = None,
    by: str = "final_loss",
    reduce: str = "max",
) -> Space:
    """A narrower space around the ``keep`` best configurations of ``result``.

    For each hyperparameter the new range spans the kept configurations' values,
    widened to the neighbouring values the sweep tried (a grid: the best value's
    two grid neighbours; a random search, default ``keep`` = 10% of the runs:
    the next value tried outside their range). Then ``num`` points per axis on the
    axis's scale (log or linear): a grid, or with ``key`` a random search of ``num``
    configurations. Default ``num``: as many values per axis as before (grid) or
    as many configurations (random).
    """
    scores = result.config_scores(by, reduce)
    if not np.any(np.isfinite(scores)):
        raise ValueError("refine: no configuration has a finite score to refine around")
    kind = result.info.get("kind", "table")
    if keep is None:
        keep = 1 if kind == "grid" else max(2, math.ceil(0.1 * result.num_configs))
    _validate.positive_int("keep", keep)
    order = np.argsort(scores, kind="stable")[:keep]
    order = order[np.isfinite(scores[order])]
    step = result.num_problems * result.num_starts
    ranges: dict[str, tuple[float, float]] = {}
    counts: dict[str, int] = {}
    for name, col in result.hyperparams.items():
        values = col[::step]
        tried = np.unique(values)
        counts[name] = len(tried)
        lo, hi = values[order].min(), values[order].max()
        below, above = tried[tried < lo], tried[tried > hi]
        ranges[name] = (float(below.max() if below.size else lo), float(above.min() if above.size else hi))
    scales = result.info.get("scales", {})
    if key is not None:
        n = num if num is not None else result.num_configs
        samplers: dict[str, Sampler | float] = {}
        for name, (lo, hi) in ranges.items():
            if lo == hi:
                samplers[name] = lo
            elif scales.get(name) == "log" and lo > 0:
                samplers[name] = log_uniform(lo, hi)
            else:
                samplers[name] = uniform(lo, hi)
        return random_search(key, n, **samplers)
    axes = {}
    for name, (lo, hi) in ranges.items():
        n = num if num is not None else counts[name]
        if lo == hi:
            axes[name] = [lo]
        elif scales.get(name) == "log" and lo > 0:
            axes[name] = np.geomspace(lo, hi, n)
        else:
            axes[name] = np.linspace(lo, hi, n)
    space = grid(**axes)
    space.scales = {k: scales.get(k, space.scales[k]) for k in space.names}
    return space


def coarse_to_fine(
    make_optimizer: Callable[..., optax.GradientTransformation],
    problem: Any,
    space: Space | Mapping[str, Any],
    steps: int,
    *,
    rounds: int = 3,
    num: int | None = None,
    key: jax.Array | None = None,
    by: str = "final_loss",
    **sweep_kwargs: Any,
) -> list[SweepResult]:
    """``rounds`` sweeps, each over :func:`refine` of the one before; returns every round's result."""
    _validate.positive_int("rounds", rounds)
    results = [sweep(make_optimizer, problem, space, steps, **sweep_kwargs)]
    for r in range(1, rounds):
        sub = None if key is None else jax.random.fold_in(key, r)
        space = refine(results[-1], num, key=sub, by=by)
        results.append(sweep(make_optimizer, problem, space, steps, **sweep_kwargs))
    return results


# --------------------------------------------------------------------------- learning-rate range test


class LRRangeTest(NamedTuple):
    """A learning-rate range test.

    Attributes:
      learning_rates: (n,) the constant rates tried, increasing.
      final_loss: (n,) f(x_T) after the budget, averaged over problems and starts; +inf where any run diverged.
      diverge_step: (n,) the earliest divergence step over problems and starts, -1 if none.
      suggested: the rate with the lowest final loss.
      largest_stable: the largest rate none of whose runs diverged (an estimate of the stability edge,
        2 / lambda_max for GD on a quadratic); NaN if every rate diverged.
      result: the underlying :class:`SweepResult`.
    """

    learning_rates: np.ndarray
    final_loss: np.ndarray
    diverge_step: np.ndarray
    suggested: float
    largest_stable: float
    result: SweepResult


def lr_range_test(
    make_optimizer: Callable[..., optax.GradientTransformation],
    problem: Any,
    steps: int = 100,
    *,
    learning_rates: Sequence[float] | None = None,
    low: float = 1e-6,
    high: float = 10.0,
    num: int = 64,
    **sweep_kwargs: Any,
) -> LRRangeTest:
    """Run ``num`` constant learning rates, log-spaced in [low, high], in parallel for ``steps`` steps.

    Unlike fastai's single run with an exponentially growing rate (Smith 2017),
    each rate gets its own run from the same start, so the loss after the
    budget is a function of the rate alone: no mixing of early and late steps.
    ``make_optimizer`` takes ``learning_rate`` (e.g. ``jaxgd.sgd``, or
    ``lambda learning_rate: jaxgd.momentum(learning_rate, 0.9)``). The
    suggestion is the rate with the lowest final loss; on a quadratic with GD it
    approaches eta* = 2 / (lambda_max + lambda_min) as ``steps`` grows, below the
    stability edge 2 / lambda_max (see :mod:`jaxgd.analysis`).
    """
    if learning_rates is None:
        lrs = log_uniform(low, high)  # validates the bounds
        _validate.positive_int("num", num)
        learning_rates = np.geomspace(lrs.low, lrs.high, num)
    lrs_arr = np.sort(np.asarray(learning_rates, float))
    res = sweep(make_optimizer, problem, {"learning_rate": lrs_arr}, steps, **sweep_kwargs)
    per = res.num_problems * res.num_starts
    diverged = res.diverged.reshape(-1, per)
    final = res.final_loss.reshape(-1, per).astype(float).mean(1)
    final[diverged.any(1)] = np.inf
    dstep = np.where(diverged, res.diverge_step.reshape(-1, per), np.iinfo(np.int32).max).min(1)
    dstep = np.where(diverged.any(1), dstep, -1).astype(np.int32)
    lrs_used = res.hyperparams["learning_rate"][::per].astype(float)
    suggested = float(lrs_used[np.argmin(final)]) if np.any(np.isfinite(final)) else float("nan")
    stable = ~diverged.any(1)
    largest = float(lrs_used[stable].max()) if stable.any() else float("nan")
    return LRRangeTest(lrs_used, final, dstep, suggested, largest, res)
