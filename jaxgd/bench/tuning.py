"""Tune one optimizer on one problem: a log grid of learning rates (and optionally a second axis), one compiled call.

Deterministic problems: one :func:`jaxgd.sweep` with its curve recorded every step, so steps to each
target are exact; its file (``out``) resumes. Stochastic problems (a :class:`jaxgd.stochastic.NoisyGradient`,
:class:`~jaxgd.stochastic.MiniBatch` or :class:`~jaxgd.stochastic.FiniteSum`): ``jit(vmap(vmap(run)))`` of
:func:`jaxgd.stochastic.run` over configurations x seeds, the full objective evaluated every ``steps/100``,
and, given an ``accuracy`` (a learning problem's held-out test split), its value at every run's x_T
inside the same compiled call.

Several optimizers on one problem (:func:`tune_many`): one compiled call for all of them, through
:func:`select` (the problem's gradient and the loop compiled once, not once per optimizer).

The choice rule (:class:`Rule`): the configuration with the lowest median over seeds of the final
gap f(x_T) - f*, or of the steps to reach f - f* <= tau (f(x_0) - f*) (ties: the final gap).
DeepOBS's grid: 36 learning rates log-spaced over [1e-5, 1e2] (Schneider et al., ICLR 2019).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxgd
from jaxgd import _validate, files
from jaxgd._core import start_of
from jaxgd.bench.metrics import steps_to_target

__all__ = [
    "TAUS",
    "OptimizerSpec",
    "Rule",
    "Tuning",
    "choose",
    "is_stochastic",
    "learning_rates",
    "select",
    "tune",
    "tune_many",
]

TAUS = (1e-1, 1e-3, 1e-6)


def learning_rates(num: int = 36, low: float = 1e-5, high: float = 1e2) -> np.ndarray:
    """``num`` learning rates log-spaced over [low, high] (DeepOBS: 36 over [1e-5, 1e2]).

    Args:
        num: The number of rates, a positive integer.
        low: The least rate, > 0.
        high: The greatest rate, >= low.

    Returns:
        The rates, a float64 array of shape (num,), increasing.

    Raises:
        ValueError: If num is not a positive integer or not 0 < low <= high.
    """
    _validate.positive_int("num", num)
    if not 0 < low <= high:
        raise ValueError(f"need 0 < low <= high, got low={low}, high={high}")
    return np.geomspace(low, high, num)


class OptimizerSpec(NamedTuple):
    """An optimizer to tune: ``make(learning_rate, **axes)`` (a GradientTransformation) and its other axes' grids."""

    name: str
    make: Callable[..., optax.GradientTransformation]
    axes: Mapping[str, Sequence[float]] = {}


class Rule(NamedTuple):
    """The choice rule: ``by`` ``"final_loss"`` (median final gap) or ``"steps"`` (median steps to ``tau``)."""

    by: str = "final_loss"
    tau: float = 1e-3


@dataclasses.dataclass(frozen=True)
class Tuning:
    """One (optimizer, problem) tuned over C configurations and S seeds (or starts).

    Attributes:
      optimizer: the optimizer's name (:attr:`OptimizerSpec.name`).
      problem: the problem's name.
      hyperparams: name -> (C,) values.
      final_gap: (C, S) f(x_T) - f*, inf where diverged.
      steps_to_target: (C, S, K) first step with f - f* <= tau_k (f(x_0) - f*), -1 if never.
      grad_evals_to_target: (C, S, K) gradient evaluations (per-example for finite sums) by then, -1 if never.
      taus: (K,) the targets.
      f0: f(x_0).
      f_star: f* (the best value seen where f* is unknown).
      chosen: the configuration picked by ``rule``.
      scores: (C,) its scores.
      rule: the :class:`Rule` that chose.
      steps: T.
      stochastic: whether the S runs of a configuration are seeds (else starts).
      seconds: wall time per run of the tuning's compiled call, its time after its last compilation divided
        by its runs (NaN if not timed or read from a file; shared by the optimizers of one :func:`tune_many`
        call, whose every step updates them all).
      accuracy: (C, S) ``accuracy(x_T)`` (test accuracy), NaN where the run diverged; None if not asked for.
    """

    optimizer: str
    problem: str
    hyperparams: dict[str, np.ndarray]
    final_gap: np.ndarray
    steps_to_target: np.ndarray
    grad_evals_to_target: np.ndarray
    taus: np.ndarray
    f0: float
    f_star: float
    chosen: int
    scores: np.ndarray
    rule: Rule
    steps: int
    stochastic: bool
    seconds: float = float("nan")
    accuracy: np.ndarray | None = None

    @property
    def best(self) -> dict[str, float]:
        """The chosen configuration's hyperparameters."""
        return {k: float(v[self.chosen]) for k, v in self.hyperparams.items()}


def is_stochastic(problem: Any) -> bool:
    """True for losses that need a key (NoisyGradient, MiniBatch) and for finite sums.

    Args:
        problem: A loss or a problem.

    Returns:
        Whether it is tuned over seeds, by :func:`jaxgd.stochastic.run`.
    """
    return getattr(problem, "__jaxgd_needs_key__", False) or isinstance(problem, jaxgd.stochastic.FiniteSum)


def choose(final_gap: np.ndarray, steps: np.ndarray, taus: np.ndarray, rule: Rule) -> tuple[int, np.ndarray]:
    """(index, scores) of the configuration ``rule`` picks; final_gap (C, S), steps (C, S, K).

    Args:
        final_gap: (C, S) f(x_T) - f* (non-finite: diverged).
        steps: (C, S, K) steps to each target, -1 if never.
        taus: (K,) the targets.
        rule: The choice rule (:class:`Rule`).

    Returns:
        index: The configuration with the lowest score (ties: the lowest median final gap).
        scores: (C,) each configuration's median over S of the rule's measure, +inf where never reached.

    Raises:
        ValueError: If ``rule.by`` is unknown or ``rule.tau`` is not one of ``taus``.
    """
    _validate.one_of("rule.by", rule.by, ("final_loss", "steps"))
    gap = np.where(np.isfinite(final_gap), final_gap, np.inf)
    by_gap = np.median(gap, axis=1)
    if rule.by == "final_loss":
        scores = by_gap
    else:
        k = np.flatnonzero(np.isclose(taus, rule.tau))
        if k.size == 0:
            raise ValueError(f"rule.tau={rule.tau} is not one of the targets {list(taus)}")
        s = steps[:, :, k[0]].astype(float)
        scores = np.median(np.where(s < 0, np.inf, s), axis=1)
    order = np.lexsort((by_gap, scores))
    return int(order[0]), scores


def tune(
    spec: OptimizerSpec,
    problem: Any,
    steps: int,
    *,
    lrs: Sequence[float] | None = None,
    taus: Sequence[float] = TAUS,
    rule: Rule | None = None,
    seeds: int = 3,
    x0: Any = None,
    name: str | None = None,
    batch_size: int | None = None,
    out: str | os.PathLike | None = None,
    timing: bool = False,
    accuracy: Callable[[Any], jax.Array] | None = None,
) -> Tuning:
    """Tune ``spec`` on ``problem`` over ``lrs`` (default :func:`learning_rates`) x ``spec.axes``, T = ``steps``.

    ``x0`` (default: the problem's ``x0``), ``name`` (default: its ``name``) describe stochastic losses
    built from a problem (a NoisyGradient keeps the problem's start, not its name). ``seeds``, ``batch_size``:
    stochastic runs.
    ``out``: the file of this tuning (a sweep's ``.npz``, or for stochastic problems this module's own),
    resumed when it holds this computation, refused (ValueError) when it holds another.
    ``accuracy``: stochastic problems only, a jittable pytree callable of the parameters (for instance a
    ``jax.tree_util.Partial`` over a test split), evaluated at every run's x_T inside the compiled call.

    Args:
        spec: The optimizer and its grids (:class:`OptimizerSpec`).
        problem: A :class:`jaxgd.Problem`, a loss, a stochastic loss or a finite sum.
        steps: T, the steps of every run.
        lrs: The learning rates; None: :func:`learning_rates`.
        taus: The targets tau of steps to f - f* <= tau (f(x_0) - f*).
        rule: How the configuration is chosen; None: ``Rule()``.
        seeds: Seeds per configuration (stochastic problems).
        x0: The start; None: the problem's ``x0``.
        name: The problem's name; None: its ``name``.
        batch_size: The mini-batch size of a finite sum.
        out: The tuning's file, resumed (see above); None: not saved.
        timing: Record the wall time per run (``Tuning.seconds``).
        accuracy: A jittable callable of the parameters, evaluated at x_T (see above).

    Returns:
        The tuning (:class:`Tuning`).

    Raises:
        ValueError: If steps or seeds is not a positive integer, there is no start, ``out`` holds another
            computation, ``accuracy`` is given for a deterministic problem, or as :func:`choose`.
        TypeError: If accuracy is not callable.
    """
    return tune_many(
        [spec],
        problem,
        steps,
        lrs=lrs,
        taus=taus,
        rule=rule,
        seeds=seeds,
        x0=x0,
        name=name,
        batch_size=batch_size,
        out=out,
        timing=timing,
        accuracy=accuracy,
    )[0]


def tune_many(
    specs: Sequence[OptimizerSpec],
    problem: Any,
    steps: int,
    *,
    lrs: Sequence[float] | None = None,
    taus: Sequence[float] = TAUS,
    rule: Rule | None = None,
    seeds: int = 3,
    x0: Any = None,
    name: str | None = None,
    batch_size: int | None = None,
    out: str | os.PathLike | None = None,
    timing: bool = False,
    accuracy: Callable[[Any], jax.Array] | None = None,
) -> list[Tuning]:
    """:func:`tune` every spec of ``specs`` on ``problem`` in one compiled call (arguments as :func:`tune`).

    Several specs run as one optimizer, :func:`select` of theirs, over the union of their grids with the
    spec's index as a hyperparameter: the problem's gradient and the sweep's loop are compiled once for
    all of them (XLA compilation dominates the suite's time on small problems). Each run is the chosen
    optimizer's own, equal to a separate :func:`tune` up to rounding (another program, other fusions).
    f* where unknown (the best value seen) is then common to the specs. One spec: exactly :func:`tune`'s program.

    Args:
        specs: The optimizers, with distinct names.
        problem: As in :func:`tune`.
        steps: As in :func:`tune`.
        lrs: As in :func:`tune`.
        taus: As in :func:`tune`.
        rule: As in :func:`tune`.
        seeds: As in :func:`tune`.
        x0: As in :func:`tune`.
        name: As in :func:`tune`.
        batch_size: As in :func:`tune`.
        out: As in :func:`tune`, one file for all the specs.
        timing: As in :func:`tune`.
        accuracy: As in :func:`tune`.

    Returns:
        The tunings (:class:`Tuning`), one per spec, in order.

    Raises:
        ValueError: If specs is empty or its names repeat, or as :func:`tune`.
        TypeError: As :func:`tune`.
    """
    _validate.positive_int("steps", steps)
    if not specs:
        raise ValueError("specs is empty: give at least one OptimizerSpec")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"specs need distinct names, got {names}")
    rule = Rule() if rule is None else rule
    x0 = jax.tree.map(jnp.asarray, _x0(problem) if x0 is None else x0)
    if accuracy is not None and not is_stochastic(problem):
        raise ValueError("accuracy is computed for stochastic problems (finite sums, mini-batch losses) only")
    if accuracy is not None and not callable(accuracy):
        raise TypeError(f"accuracy must be a callable of the parameters, got {type(accuracy).__name__}")
    lrs = learning_rates() if lrs is None else np.asarray(lrs, float)
    spec, space = specs[0], _grid(specs[0], lrs)
    if len(specs) > 1:
        spec, space = _union(specs, lrs)
    taus = np.asarray(taus, float)
    acc, fresh = None, out is None or not os.path.exists(out)
    with _AfterCompile() as clock:
        if is_stochastic(problem):
            raw, acc = _stochastic(spec, problem, x0, space, steps, seeds, batch_size, taus, out, accuracy)
        else:
            raw = _deterministic(spec, problem, x0, space, steps, taus, out)
    hp, final_gap, to_target, evals, f0, f_star = raw
    seconds = clock.seconds / final_gap.size if timing and fresh else np.nan
    name = name or getattr(problem, "name", None) or type(problem).__name__
    which = np.rint(hp.get(_INDEX, np.zeros(final_gap.shape[0]))).astype(int)
    tunings = []
    for k, sp in enumerate(specs):
        rows = which == k
        mine = {h: v[rows] for h, v in hp.items() if h == "learning_rate" or h in sp.axes}
        chosen, scores = choose(final_gap[rows], to_target[rows], taus, rule)
        tunings.append(
            Tuning(
                sp.name,
                name,
                mine,
                final_gap[rows],
                to_target[rows],
                evals[rows],
                taus,
                f0,
                f_star,
                chosen,
                scores,
                rule,
                steps,
                is_stochastic(problem),
                float(seconds),
                None if acc is None else acc[rows],
            )
        )
    return tunings


_INDEX = "optimizer_index"


def select(optimizers: Sequence[optax.GradientTransformation], index: Any) -> optax.GradientTransformation:
    """The update of ``optimizers[index]``, ``index`` a (traced) integer: one program for all of them.

    u_t = u_t^(index), where u_t^(k), s_t^(k) = optimizers[k].update(g_t, s_{t-1}^(k), x_t) for every k:
    each state advances on the same gradients (those of the chosen optimizer's iterates), only the chosen
    update is applied (``lax.select_n``, so a non-finite update of another never reaches x). Under ``vmap``
    over ``index`` every update is computed each step: cheap beside the loss's gradient on small problems.

    Args:
        optimizers: The optax transformations, each taking ``update(updates, state, params)``.
        index: Which one is applied, an integer (clipped to the range), may be traced.

    Returns:
        The transformation (``optax.GradientTransformation``); its state is the tuple of all their states.

    Raises:
        ValueError: If optimizers is empty.
    """
    optimizers = tuple(optimizers)
    if not optimizers:
        raise ValueError("select needs at least one optimizer")

    def init(params: Any) -> tuple:
        return tuple(o.init(params) for o in optimizers)

    def update(updates: Any, state: tuple, params: Any = None) -> tuple[Any, tuple]:
        outs = [o.update(updates, s, params) for o, s in zip(optimizers, state)]
        i = jnp.clip(jnp.asarray(index).astype(jnp.int32), 0, len(optimizers) - 1)
        chosen = jax.tree.map(lambda *us: jax.lax.select_n(i, *us), *[u for u, _ in outs])
        return chosen, tuple(s for _, s in outs)

    return optax.GradientTransformation(init, update)


def _grid(spec: OptimizerSpec, lrs: np.ndarray) -> jaxgd.sweeps.Space:
    return jaxgd.grid(learning_rate=lrs, **{k: np.asarray(v, float) for k, v in spec.axes.items()})


def _union(specs: Sequence[OptimizerSpec], lrs: np.ndarray) -> tuple[OptimizerSpec, jaxgd.sweeps.Space]:
    """One spec running :func:`select` of ``specs``, and the union of their grids with their index."""
    axes = list(dict.fromkeys(a for s in specs for a in s.axes))
    cols: dict[str, list[np.ndarray]] = {"learning_rate": [], _INDEX: [], **{a: [] for a in axes}}
    for k, s in enumerate(specs):
        g = _grid(s, lrs).columns
        n = len(g["learning_rate"])
        cols["learning_rate"].append(g["learning_rate"])
        cols[_INDEX].append(np.full(n, float(k)))
        for a in axes:  # another spec's axis: a placeholder the spec ignores
            cols[a].append(g[a] if a in s.axes else np.full(n, _first_axis(specs, a)))
    columns = {k: np.concatenate(v) for k, v in cols.items()}

    def make(learning_rate: Any, optimizer_index: Any, **values: Any) -> optax.GradientTransformation:
        return select(
            [s.make(learning_rate=learning_rate, **{a: values[a] for a in s.axes}) for s in specs], optimizer_index
        )

    scales = {"learning_rate": "log", _INDEX: "linear", **{a: "linear" for a in axes}}
    return OptimizerSpec("+".join(s.name for s in specs), make), jaxgd.sweeps.Space(columns, scales)


def _first_axis(specs: Sequence[OptimizerSpec], axis: str) -> float:
    return next(float(np.asarray(s.axes[axis])[0]) for s in specs if axis in s.axes)


def _deterministic(spec, problem, x0, space, steps, taus, out):
    minimum = getattr(problem, "minimum", None)
    # Only the summaries used (the best loss where f* is unknown): the curve, cheaper to compile than the targets.
    summaries = ("final", "diverged", "curve") + (("best",) if minimum is None else ())
    kw = dict(curve_every=1, keep_params=False, out=out, summaries=summaries)
    res = jaxgd.sweep(spec.make, problem, space, steps, x0=x0, **kw)
    c, s = res.num_configs, res.num_problems * res.num_starts
    curve = np.asarray(res.curve, float).reshape(c, s, -1)
    f0 = float(curve[0, 0, 0])
    f_star = float(minimum) if minimum is not None else float(np.nanmin(res.best_loss))
    final = np.asarray(res.final_loss, float).reshape(c, s) - f_star
    final[np.asarray(res.diverged).reshape(c, s)] = np.inf
    to_target = steps_to_target(curve, f_star, taus)
    hp = {k: np.asarray(v).reshape(c, s)[:, 0] for k, v in res.hyperparams.items()}
    return hp, final, to_target, to_target.copy(), f0, f_star


def _x0(problem: Any) -> Any:
    x0 = start_of(problem)
    if x0 is None:
        raise ValueError(f"{problem!r} has no default start x0 to tune from")
    return x0


def _full(problem: Any) -> Callable:
    return problem if isinstance(problem, jaxgd.stochastic.FiniteSum) else problem.full


def _stochastic(spec, problem, x0, space, steps, seeds, batch_size, taus, out, accuracy=None):
    _validate.positive_int("seeds", seeds)
    every = max(1, steps // 100)
    settings = {
        "optimizer": spec.name,
        "problem": repr(problem),
        "steps": steps,
        "seeds": seeds,
        "batch_size": batch_size,
        "every": every,
    }
    if accuracy is not None:
        fn = getattr(accuracy, "func", accuracy)  # a Partial's function
        settings["accuracy"] = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__name__)}"
    key = _fingerprint(space.columns, [x0, accuracy], settings)
    saved = _load(out, key)
    if saved is None:
        dtype = jax.tree.leaves(x0)[0].dtype
        cols = {k: jnp.asarray(v, dtype) for k, v in space.columns.items()}
        keys = jax.random.split(jax.random.key(0), seeds)
        loss, evals, acc = _stochastic_runs(spec.make, problem, x0, cols, keys, steps, every, batch_size, accuracy)
        saved = {
            "loss": np.asarray(loss, float),
            "evals": np.asarray(evals),
            **({} if acc is None else {"accuracy": np.asarray(acc, float)}),
            **{f"hp/{k}": v for k, v in space.columns.items()},
        }
        if out is not None:
            _save(out, key, saved)
    loss, evals = saved["loss"], saved["evals"]  # (C, S, E)
    minimum = getattr(problem, "minimum", None)
    f_star = float(minimum) if minimum is not None else float(np.nanmin(loss))
    bad = ~np.all(np.isfinite(loss), axis=-1)
    final = np.where(bad, np.inf, loss[..., -1] - f_star)
    idx = steps_to_target(np.where(np.isfinite(loss), loss, np.nan), f_star, taus)
    at_eval = np.arange(loss.shape[-1]) * every
    at_eval[-1] = steps
    to_target = np.where(idx >= 0, at_eval[idx], -1)
    ev = np.take_along_axis(evals[..., None, :], np.maximum(idx, 0)[..., None], -1)[..., 0]
    hp = {k[3:]: saved[k] for k in saved if k.startswith("hp/")}
    acc = np.where(bad, np.nan, saved["accuracy"]) if "accuracy" in saved else None
    return (hp, final, to_target, np.where(idx >= 0, ev, -1), float(loss[0, 0, 0]), f_star), acc


@jax.jit(static_argnames=("make", "steps", "every", "batch_size"))
def _stochastic_runs(make, problem, x0, cols, keys, steps, every, batch_size, accuracy=None):
    """(C, S) runs: the full objective's curve, gradient evaluations, and ``accuracy(x_T)`` (None without one)."""

    def one(hp, key):
        traj = jaxgd.stochastic.run(make(**hp), problem, x0, steps, key=key, batch_size=batch_size, eval_at=every)
        return traj.loss, traj.grad_evals, None if accuracy is None else accuracy(traj.final_params)

    return jax.vmap(lambda hp: jax.vmap(lambda k: one(hp, k))(keys))(cols)


def _fingerprint(columns: Mapping[str, np.ndarray], arrays: Any, settings: dict) -> str:
    """A hash of the settings, the grid and every leaf of ``arrays`` (the start, the accuracy's test data)."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for k in sorted(columns):
        h.update(k.encode() + np.asarray(columns[k], np.float64).tobytes())
    for leaf in jax.tree.leaves(arrays):
        h.update(np.asarray(leaf).astype(np.float64).tobytes())
    return h.hexdigest()


def _load(out: Any, key: str) -> dict | None:
    if out is None or not os.path.exists(out):
        return None
    with np.load(out, allow_pickle=False) as z:
        if "fingerprint" not in z or str(z["fingerprint"]) != key:
            raise ValueError(
                f"{out} holds the result of another computation (fingerprint differs): remove it or choose another path"
            )
        return {k: z[k] for k in z.files if k != "fingerprint"}


def _save(out: Any, key: str, arrays: dict) -> None:
    with files.atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, fingerprint=np.asarray(key), **arrays)


class _AfterCompile:
    """While entered, listens to XLA compilations; ``seconds``: the wall time from the end of the last one
    (or from entering, if none) to exiting: the compiled program's run, compilation excluded."""

    def _listen(self, event: str, start: float, end: float, **kwargs: Any) -> None:
        if event == _COMPILE_EVENT:
            self._mark = max(self._mark, end)

    def __enter__(self) -> _AfterCompile:
        self._mark, self.seconds = time.time(), float("nan")
        jax.monitoring.register_event_time_span_listener(self._listen)
        return self

    def __exit__(self, *exc: Any) -> None:
        jax.monitoring.unregister_event_time_span_listener(self._listen)
        self.seconds = time.time() - self._mark


_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
