"""Stochastic runs: one ``jit``-compiled ``lax.scan`` per run, each run with its own PRNG key.

Every step draws its sample inside the loop (a mini-batch gathered on the device, or the
noise of a noisy-gradient oracle), so nothing goes back to the host; the *full* objective,
not the mini-batch loss, is evaluated on a fixed schedule of steps, and at the averaged
iterate too when the optimizer averages (:mod:`jaxgd.stochastic.averaging`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgd import _validate
from jaxgd._core import filter_jit, real_dtype, tree_norm, update_step
from jaxgd.stochastic.averaging import averaged_params
from jaxgd.stochastic.estimators import MiniBatchGradient
from jaxgd.stochastic.finite_sum import FiniteSum, check_batch_size
from jaxgd.stochastic.sampling import Sampler

__all__ = ["StochasticTrajectory", "evaluation_steps", "log_steps", "run"]


class StochasticTrajectory(NamedTuple):
    """The record of a stochastic run of T steps, at the evaluation steps t_0 < ... < t_{E-1} = T.

    Attributes:
      steps: (E,) the evaluation steps.
      loss: (E,) the full objective f(x_t) (not a mini-batch loss).
      grad_norm: (E,) ||grad f(x_t)||, the full gradient.
      averaged_loss: (E,) f at the averaged iterate where the optimizer averages, else None.
      grad_evals: (E,) per-example gradients spent before step t (divide by n for epochs), int32.
      final_params: x_T. final_state: the optimizer state after T updates.
      final_average: the averaged iterate after T updates, or None.
    """

    steps: jax.Array
    loss: jax.Array
    grad_norm: jax.Array
    averaged_loss: jax.Array | None
    grad_evals: jax.Array
    final_params: Any
    final_state: Any
    final_average: Any


def log_steps(steps: int, num: int = 50) -> tuple[int, ...]:
    """About ``num`` steps log-spaced over [1, steps], with 0 and ``steps``: evaluations for log-log slopes.

    Args:
        steps: The run's length T.
        num: About how many steps.

    Returns:
        The sorted steps, a tuple from 0 to T.
    """
    _validate.positive_int("steps", steps)
    _validate.positive_int("num", num)
    grid = np.unique(np.round(np.geomspace(1, steps, num)).astype(int))
    return tuple(int(s) for s in np.concatenate([[0], grid]))


def evaluation_steps(steps: int, eval_at: int | Sequence[int] | None = None) -> tuple[int, ...]:
    """The sorted evaluation steps of a run: every ``eval_at`` steps (an int), the given steps (a sequence),
    or about 100 evenly spaced (None); the last step ``steps`` is always included.

    Args:
        steps: The run's length T.
        eval_at: Every so many steps (an int), the steps (a sequence), or None.

    Returns:
        The sorted steps, a tuple ending in T.
    """
    _validate.positive_int("steps", steps)
    if eval_at is None:
        eval_at = max(1, steps // 100)
    if isinstance(eval_at, (int, np.integer)) and not isinstance(eval_at, bool):
        _validate.positive_int("eval_at", eval_at)
        chosen = set(range(0, steps + 1, int(eval_at)))
    else:
        arr = np.asarray(eval_at)
        if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"eval_at must be a positive int or a non-empty sequence of step numbers, got {eval_at!r}")
        if arr.min() < 0 or arr.max() > steps:
            raise ValueError(f"eval_at must lie in [0, steps={steps}], got values from {arr.min()} to {arr.max()}")
        chosen = {int(s) for s in arr}
    return tuple(sorted(chosen | {steps}))


def _check_key(key: Any) -> None:
    dtype = getattr(key, "dtype", None)
    typed = dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    raw = dtype == jnp.uint32 and jnp.shape(key)[-1:] == (2,)
    if not (typed or raw):
        raise TypeError(f"key must be a PRNG key (jax.random.key(seed)), got {type(key).__name__}")
    if jnp.shape(key) != (() if typed else (2,)):
        raise ValueError(
            f"key must be one PRNG key, got a batch of shape {jnp.shape(key)}: vmap the run over keys instead"
        )


def _kind(problem: Any) -> str:
    if isinstance(problem, FiniteSum):
        return "finite_sum"
    if callable(problem) and getattr(problem, "full", None) is not None:
        return "keyed"
    raise TypeError(
        "problem must be a jaxgd.stochastic.FiniteSum or a stochastic loss loss(params, key) with a `full` "
        f"attribute, the exact objective (a MiniBatch, a NoisyGradient); got {type(problem).__name__}"
    )


def _check(problem, kind, key, batch_size, sampling, estimator) -> None:
    _validate.one_of("sampling", sampling, Sampler.SCHEMES)
    deterministic = kind == "finite_sum" and batch_size is None and not problem.takes_key
    if key is None and not deterministic:
        raise ValueError(
            "a stochastic run needs a PRNG key: pass key=jax.random.key(seed) (every run draws its samples from it)"
        )
    if key is not None:
        _check_key(key)
    if kind == "keyed":
        if batch_size is not None:
            raise ValueError("batch_size is for finite sums; this stochastic loss draws its own samples from its key")
        if not isinstance(estimator, MiniBatchGradient):
            raise TypeError(f"{estimator!r} needs a jaxgd.stochastic.FiniteSum, got {type(problem).__name__}")
        return
    if batch_size is not None:
        check_batch_size(batch_size, problem.n)
    if not (hasattr(estimator, "init") and hasattr(estimator, "estimate")):
        raise TypeError(f"estimator must be a gradient estimator (minibatch(), svrg(m), saga()), got {estimator!r}")
    if getattr(estimator, "needs_batches", False) and batch_size is None:
        raise ValueError(f"{estimator!r} needs mini-batches: give batch_size")
    if getattr(estimator, "needs_distinct", False):
        if batch_size > 1 and sampling == "with_replacement":
            raise ValueError(
                f"{estimator!r} needs batches of distinct examples: use batch_size=1 or "
                "sampling='without_replacement' or 'epochs'"
            )


def run(
    optimizer: optax.GradientTransformation,
    problem: Any,
    params: Any,
    steps: int,
    *,
    key: jax.Array | None,
    batch_size: int | None = None,
    sampling: str = "with_replacement",
    estimator: Any = None,
    eval_at: int | Sequence[int] | None = None,
) -> StochasticTrajectory:
    """Run ``optimizer`` on a stochastic problem for ``steps`` updates, recording the full objective.

    ``problem`` is either

    * a :class:`FiniteSum`: each step draws ``batch_size`` example indices by ``sampling``
      (see :class:`Sampler`; ``batch_size=None`` is the full batch) and the ``estimator``
      (:func:`minibatch` by default, :func:`svrg`, :func:`saga`) gives the gradient estimate;
    * a stochastic loss ``loss(params, key)`` with a ``full`` attribute, the exact objective
      (:class:`MiniBatch`, :class:`NoisyGradient`): step t uses the key ``fold_in(key, t)``.

    ``key`` is the run's PRNG key (for a finite sum it is split in two: the sampler's key and
    the model's own, folded with t at each step); the result is a pure function of it,
    so a fixed seed reproduces a run bit for bit and ``vmap`` over keys gives independent
    runs (over keys and rates, vmap the keys outermost: the runs of one key share each batch,
    and the batched products then have their batch axis first, as :func:`jaxgd.sweep` nests them;
    benchmarks/stochastic_sweep.py: 1.05-1.15x the other at 256 rates x 8 keys on CPU). f(x_t),
    ||grad f(x_t)|| (and f at the averaged iterate) are evaluated at the steps
    of :func:`evaluation_steps` (``eval_at``), inside the loop: memory does not grow with
    ``steps`` at a fixed number of evaluations. The optimizer's and problem's arrays are traced:
    new values of the same shapes reuse the compiled program, and the run ``vmap`` s over them.

    Args:
        optimizer: Any optax gradient transformation.
        problem: A :class:`FiniteSum`, or a stochastic loss ``loss(params, key)`` with a ``full`` attribute.
        params: The starting point.
        steps: The number of updates T.
        key: The run's PRNG key.
        batch_size: B for a finite sum (None: the full batch).
        sampling: The sampling scheme (see :class:`Sampler`).
        estimator: The gradient estimator (None: :func:`minibatch`).
        eval_at: The evaluation steps (see :func:`evaluation_steps`).

    Returns:
        The trajectory (:class:`StochasticTrajectory`).
    """
    eval_steps = evaluation_steps(steps, eval_at)
    _validate.float_tree("params", params)
    estimator = check_problem(problem, key, batch_size, sampling, estimator)
    _validate.scalar_output(problem.full, params, what="full objective")
    config = {"steps": steps, "batch_size": batch_size, "sampling": sampling}
    return _run((optimizer, problem, estimator), params, key, eval_steps=eval_steps, **config)


class _Oracle(NamedTuple):
    """One step's sample: the gradient estimate, the loss function and arguments it came from, its cost."""

    value: jax.Array
    grad: Any
    loss_fn: Any
    args: tuple
    state: Any
    cost: jax.Array


def _finite_sum_oracle(problem, estimator, sampler, key):
    k_sample, k_model = (None, None) if key is None else jax.random.split(key)

    def init(params):
        est_state, cost = estimator.init(problem, params)
        return (None if sampler is None else sampler.init(k_sample), est_state), cost

    def step(state, params, t):
        sampler_state, est_state = state
        idx = None
        if sampler is not None:
            idx, sampler_state = sampler.draw(sampler_state, t)
        mkey = jax.random.fold_in(k_model, t) if problem.takes_key else None
        est = estimator.estimate(problem, params, idx, mkey, est_state, t)
        loss_fn, args = (problem.full_loss, (mkey,)) if idx is None else (problem.batch_loss, (idx, mkey))
        return _Oracle(est.value, est.grad, loss_fn, args, (sampler_state, est.state), est.cost)

    return init, step


def _keyed_oracle(loss, key):
    cost = jnp.asarray(getattr(loss, "examples_per_call", 1), jnp.int32)

    def init(params):
        return (), jnp.zeros([], jnp.int32)

    def step(state, params, t):
        kt = jax.random.fold_in(key, t)
        value, grad = jax.value_and_grad(loss)(params, kt)
        return _Oracle(value, grad, loss, (kt,), state, cost)

    return init, step


def make_oracle(problem: Any, estimator: Any, batch_size: int | None, sampling: str, key: Any):
    """``(init, step)`` of the per-step gradient oracle of a checked problem (inside a trace)."""
    if isinstance(problem, FiniteSum):
        sampler = None if batch_size is None else Sampler(problem.n, batch_size, sampling)
        return _finite_sum_oracle(problem, estimator, sampler, key)
    return _keyed_oracle(problem, key)


def check_problem(problem: Any, key: Any, batch_size: int | None, sampling: str, estimator: Any) -> Any:
    """Check a stochastic problem and its options (clear errors naming the argument); the estimator to use."""
    kind = _kind(problem)
    estimator = MiniBatchGradient() if estimator is None else estimator
    _check(problem, kind, key, batch_size, sampling, estimator)
    return estimator


def _evaluate(full, params, opt_state, dtype) -> tuple[jax.Array, jax.Array, jax.Array]:
    f, g = jax.value_and_grad(full)(params)
    avg = averaged_params(opt_state)
    f_avg = full(avg) if avg is not None else jnp.asarray(jnp.nan, dtype)
    return f.astype(dtype), tree_norm(g).astype(dtype), f_avg.astype(dtype)


def _regular(eval_steps: tuple[int, ...], steps: int) -> int | None:
    """k when the evaluations before the last step are 0, k, 2k, ... (0 for none, or only 0), else None."""
    inner = [s for s in eval_steps if s < steps]
    if not inner:
        return 0
    if inner[0] != 0:
        return None
    if len(inner) == 1:
        return 0
    k = inner[1]
    return k if inner == list(range(0, inner[-1] + 1, k)) else None


class _Carry(NamedTuple):
    params: Any
    state: Any
    oracle: Any
    t: jax.Array
    evals: jax.Array


@filter_jit(static_argnames=("steps", "batch_size", "sampling", "eval_steps"))
def _run(fns, params, key, *, steps, batch_size, sampling, eval_steps) -> StochasticTrajectory:
    optimizer, problem, estimator = fns
    oracle_init, oracle_step = make_oracle(problem, estimator, batch_size, sampling, key)
    dtype = real_dtype(params)
    opt_state = optimizer.init(params)

    def step(c: _Carry, _=None) -> tuple[_Carry, None]:
        sample = oracle_step(c.oracle, c.params, c.t)
        out = update_step(
            optimizer, sample.loss_fn, c.params, c.state, sample.args, value_grad=(sample.value, sample.grad)
        )
        return _Carry(out.params, out.state, sample.state, c.t + 1, c.evals + sample.cost), None

    def record(c: _Carry) -> tuple:
        return (*_evaluate(problem.full, c.params, c.state, dtype), c.evals)

    o_state, cost0 = oracle_init(params)
    carry = _Carry(params, opt_state, o_state, jnp.zeros([], jnp.int32), cost0)
    every = _regular(eval_steps, steps)
    if every is None:
        carry, records = _loop_with_branches(step, record, carry, eval_steps, steps, dtype)
    else:
        carry, records = _loop_in_chunks(step, record, carry, every, len(eval_steps) - 1, steps)
    loss, gnorm, avg_loss, grad_evals = records
    return StochasticTrajectory(
        steps=jnp.asarray(eval_steps, jnp.int32),
        loss=loss,
        grad_norm=gnorm,
        averaged_loss=avg_loss if averaged_params(opt_state) is not None else None,
        grad_evals=grad_evals,
        final_params=carry.params,
        final_state=carry.state,
        final_average=averaged_params(carry.state),
    )


def _stack(records: list[tuple]) -> tuple:
    return tuple(jnp.concatenate([jnp.reshape(r[i], (-1,)) for r in records]) for i in range(len(records[0])))


def _loop_in_chunks(step, record, carry, every: int, n_inner: int, steps: int):
    """Evaluations at 0, k, ..., (m - 1) k and T: an outer scan over chunks of k steps, no branch per step."""
    records = []
    whole = n_inner if every and n_inner * every == steps else n_inner - 1  # chunks of exactly k steps

    def chunk(c, _):
        rec = record(c)
        c, _ = jax.lax.scan(step, c, None, length=every)
        return c, rec

    if whole == n_inner:  # 0, k, ..., T - k: the chunks cover the run
        carry, recs = jax.lax.scan(chunk, carry, None, length=n_inner)
        return carry, _stack([recs, record(carry)])
    if whole > 0:
        carry, recs = jax.lax.scan(chunk, carry, None, length=whole)
        records.append(recs)
    if n_inner >= 1:
        records.append(record(carry))
    carry, _ = jax.lax.scan(step, carry, None, length=steps - max(n_inner - 1, 0) * every)
    records.append(record(carry))
    return carry, _stack(records)


def _loop_with_branches(step, record, carry, eval_steps: tuple[int, ...], steps: int, dtype):
    """Any evaluation steps: a ``lax.cond`` on t (unbatched under ``vmap``) writes the record when t is one."""
    ev = jnp.asarray(eval_steps, jnp.int32)
    n_ev = len(eval_steps)
    bufs = (jnp.zeros(n_ev, dtype), jnp.zeros(n_ev, dtype), jnp.zeros(n_ev, dtype), jnp.zeros(n_ev, jnp.int32))

    def write(bufs, ptr, c):
        return tuple(b.at[ptr].set(v) for b, v in zip(bufs, record(c)))

    def body(state, _):
        c, ptr, bufs = state
        due = c.t == ev[jnp.minimum(ptr, n_ev - 1)]
        bufs = jax.lax.cond(due, lambda b: write(b, ptr, c), lambda b: b, bufs)
        c, _ = step(c)
        return (c, ptr + due.astype(jnp.int32), bufs), None

    (carry, ptr, bufs), _ = jax.lax.scan(body, (carry, jnp.zeros([], jnp.int32), bufs), None, length=steps)
    return carry, write(bufs, ptr, carry)
