"""The learning-rate finder (Smith 2017, sec. 3.3; as fastai does it): one run with an exponentially rising rate.

Beside :func:`jaxgd.sweeps.lr_range_test`, which runs many constant rates in parallel, this is
the classic single run over mini-batches: the rate rises from ``low`` to ``high`` over at most
``steps`` steps, the mini-batch loss is smoothed by a debiased exponential moving average, and
the run stops once the smoothed loss exceeds ``stop_factor`` times the best so far.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgd import _validate
from jaxgd._core import filter_jit, real_dtype, update_step
from jaxgd.stochastic.runs import check_problem, make_oracle
from jaxgd.stochastic.schedules import exponential_range

__all__ = ["LRFinderResult", "lr_finder"]


class LRFinderResult(NamedTuple):
    """The finder's record (NaN after the stop) and its suggestions.

    Attributes:
      learning_rates: (T,) eta_t = low (high/low)^(t/(T-1)).
      loss: (T,) the mini-batch loss at step t (before the update with eta_t).
      smoothed: (T,) a_t / (1 - s^(t+1)), a_t = s a_{t-1} + (1 - s) loss_t (s = ``smoothing``).
      stop_step: the step at which the smoothed loss first exceeded ``stop_factor`` x its best (T if never).
      suggested: fastai's "valley" rule: 2/3 of the way along the longest decreasing stretch of the smoothed loss.
      steepest: the rate where the smoothed loss falls fastest against log eta (fastai 1's suggestion; noisy).
      min_loss_rate: the rate of the lowest smoothed loss; fastai's older rule takes a tenth of it.
    """

    learning_rates: np.ndarray
    loss: np.ndarray
    smoothed: np.ndarray
    stop_step: int
    suggested: float
    steepest: float
    min_loss_rate: float


def lr_finder(
    make_optimizer: Callable[[Any], optax.GradientTransformation],
    problem: Any,
    params: Any,
    *,
    key: jax.Array,
    batch_size: int | None = None,
    sampling: str = "with_replacement",
    low: float = 1e-7,
    high: float = 10.0,
    steps: int = 100,
    smoothing: float = 0.98,
    stop_factor: float = 4.0,
    skip_start: int = 10,
    skip_end: int = 5,
) -> LRFinderResult:
    """Run ``make_optimizer(schedule)`` once on mini-batches with eta rising exponentially from ``low`` to ``high``.

    ``problem``, ``batch_size`` and ``sampling`` are as in :func:`jaxgd.stochastic.run`.
    The loop is one jitted ``lax.scan``; after the stop the iterate is frozen. The
    suggestions skip the first ``skip_start`` and last ``skip_end`` steps before the stop
    (fastai's defaults). Its smoothing lags by about 1 / (1 - smoothing) steps: give the run
    several times that many steps, and batches large enough for the loss to be legible.
    Reference: Smith (2017), "Cyclical learning rates for training neural
    networks"; Howard & Gugger (2020), fastai's ``lr_find``.

    Args:
        make_optimizer: ``make_optimizer(learning_rate) -> optimizer``; it receives the rising schedule.
        problem: A finite sum or a stochastic loss, as in :func:`jaxgd.stochastic.run`.
        params: The starting point.
        key: The run's PRNG key.
        batch_size: B (None: the full batch).
        sampling: The sampling scheme (see :class:`Sampler`).
        low: The first learning rate.
        high: The last learning rate.
        steps: The number of steps T.
        smoothing: The weight of the loss's exponential moving average.
        stop_factor: Stop when the smoothed loss exceeds this many times its minimum.
        skip_start: Steps skipped at the start by the suggestions.
        skip_end: Steps skipped before the stop by the suggestions.

    Returns:
        The result (:class:`LRFinderResult`): the rates, losses and suggestions.
    """
    _validate.positive("low", low)
    _validate.positive("high", high)
    if not low < high:
        raise ValueError(f"need low < high, got low={low}, high={high}")
    _validate.positive_int("steps", steps)
    _validate.decay("smoothing", smoothing)
    _validate.positive("stop_factor", stop_factor)
    _validate.float_tree("params", params)
    estimator = check_problem(problem, key, batch_size, sampling, None)
    schedule = exponential_range(low, high, steps)
    opt = make_optimizer(schedule)
    config = {"steps": steps, "batch_size": batch_size, "sampling": sampling}
    loss, smoothed, stop = _find((opt, problem, estimator), params, key, smoothing, stop_factor, **config)
    lrs = np.asarray(schedule(jnp.arange(steps)), dtype=float)
    loss, smoothed, stop = np.asarray(loss, float), np.asarray(smoothed, float), int(stop)
    return LRFinderResult(lrs, loss, smoothed, stop, *_suggest(lrs, smoothed, stop, skip_start, skip_end))


def _valley(losses: np.ndarray) -> int:
    """fastai's "valley": the longest decreasing run of the loss (a longest decreasing subsequence), 2/3 along it."""
    n = len(losses)
    lds = np.ones(n, dtype=int)
    start = end = 0
    for i in range(1, n):
        earlier = lds[:i][losses[:i] > losses[i]]
        if earlier.size:
            lds[i] = earlier.max() + 1
        if lds[i] > lds[end]:
            end = i
            start = end - lds[end]
    third = (end - start) / 3
    return int(min(start + int(third) + int(third / 2), n - 1))


def _suggest(lrs: np.ndarray, smoothed: np.ndarray, stop: int, skip_start: int, skip_end: int) -> tuple:
    recorded = min(stop + 1, len(lrs))
    lo, hi = skip_start, recorded - skip_end
    if hi - lo < 2:
        lo, hi = 0, recorded
    s, lr = smoothed[lo:hi], lrs[lo:hi]
    if s.size < 2 or not np.all(np.isfinite(s)):
        return float("nan"), float("nan"), float("nan")
    steepest = int(np.argmin(np.gradient(s, np.log(lr))))
    return float(lr[_valley(s)]), float(lr[steepest]), float(lr[int(np.argmin(s))])


@filter_jit(static_argnames=("steps", "batch_size", "sampling"))
def _find(fns, params, key, smoothing, stop_factor, *, steps, batch_size, sampling):
    optimizer, problem, estimator = fns
    oracle_init, oracle_step = make_oracle(problem, estimator, batch_size, sampling, key)
    dtype = real_dtype(params)
    s = jnp.asarray(smoothing, dtype)

    def body(carry, t):
        x, opt_state, o, avg, best, stop = carry
        sample = oracle_step(o, x, t)
        step = update_step(optimizer, sample.loss_fn, x, opt_state, sample.args, value_grad=(sample.value, sample.grad))
        value = sample.value.astype(dtype)
        avg = s * avg + (1 - s) * value
        smooth = avg / (1 - s ** (t + 1).astype(dtype))
        running = stop == steps
        blew_up = (t > 0) & ((smooth > stop_factor * best) | ~jnp.isfinite(smooth))
        stop = jnp.where(running & blew_up, t, stop)
        live = stop == steps
        best = jnp.where(live & ((t == 0) | (smooth < best)), smooth, best)
        x, opt_state = jax.tree.map(lambda a, b: jnp.where(live, a, b), (step.params, step.state), (x, opt_state))
        nan = jnp.asarray(jnp.nan, dtype)
        out = (jnp.where(running, value, nan), jnp.where(running, smooth, nan))
        return (x, opt_state, sample.state, avg, best, stop), out

    o_state, _ = oracle_init(params)
    zero = jnp.zeros([], dtype)
    carry = (params, optimizer.init(params), o_state, zero, jnp.asarray(jnp.inf, dtype), jnp.asarray(steps, jnp.int32))
    carry, (loss, smoothed) = jax.lax.scan(body, carry, jnp.arange(steps, dtype=jnp.int32))
    return loss, smoothed, carry[-1]
