"""Stochastic sweep throughput: jaxgd.stochastic.run under one jit(vmap) over (rate, seed) against a hand-written one.

Mini-batch SGD (B = 32, with replacement) on L2-regularised logistic regression (breast cancer,
569 x 31), learning rates log-spaced in [1e-3, 3], several seeds:

  (a) one jitted ``vmap(vmap(jaxgd.stochastic.run))`` over (rate, key), the full objective evaluated
      at the last step only, against a hand-written ``jit(vmap(vmap(lax.scan)))`` doing the same per-step
      work with ``optax.sgd`` (the same key derivation, so both runs draw the same batches and end at
      the same loss): throughput ratio, expected about 1.0 (``run`` adds nothing to the loop the user vmaps:
      the same HLO, in the same vmap order);
  (b) compiled memory of the jaxgd program at 1e3 and 1e4 steps (target: flat; the batches are
      gathered inside the loop, nothing of length ``steps`` is materialised);
  (c) one ``jaxgd.sweep`` call over (rate, seed) on the ``MiniBatch`` loss, against a hand-written
      ``jit(vmap(vmap(lax.scan)))`` drawing the same batches (``fold_in(key, t)``, split, ``randint``) with
      ``optax.sgd`` and keeping the final full loss: throughput ratio (target >= 1.0; the sweep vmaps the seed axis
      outermost, so every batched product has its batch axis leading; the same loop written by hand with that
      nesting is printed too, for reference) with the default summaries
      (the full objective at the first and last steps only, ``eval_every=steps``; also the gradient norm at the
      end) and with ``summaries="final"`` (the same work as the hand-written one), the same final losses, the
      optimised HLO instructions of each, and the sweep chunk's compiled memory at 1e3 and 1e4 steps.

Prints optimizer-steps/s (runs x steps / seconds, median of --repeats, or their minimum with --stat min) and the ratio.

    python benchmarks/stochastic_sweep.py            # 256 rates x 8 seeds x 2000 steps
    python benchmarks/stochastic_sweep.py --small    # 32 rates x 8 seeds x 2000 steps, quicker
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxgd
from jaxgd import stochastic as st

BATCH = 32


def timed_pair(first, second, repeats: int) -> tuple[float, float]:
    """Median seconds of two calls, alternated in ABBA order so that a busy machine slows both alike."""
    return tuple(timed_group([first, second], repeats))


STAT = statistics.median  # --stat min: the least disturbed of the repeats, on a machine others are using


def timed_group(fns, repeats: int) -> list[float]:
    """Median (or ``STAT``) seconds of each call, the calls alternated (in order, then reversed: ABBA) so that a
    busy machine slows each alike."""
    for fn in fns:
        jax.block_until_ready(fn())  # compile and warm up
    times: list[list[float]] = [[] for _ in fns]
    for i in range(repeats):
        order = list(zip(fns, times))
        for fn, out in order if i % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            out.append(time.perf_counter() - t0)
    return [STAT(t) for t in times]


def over_rates_and_keys(one, keys_outer: bool = False):
    """``one(lr, key)`` over every (rate, key) in one jit, results (rates, keys): vmapped over rates then keys, or
    (``keys_outer``) over keys then rates, as jaxgd.sweep nests them."""
    if keys_outer:
        inner = jax.jit(jax.vmap(jax.vmap(one, (0, None)), (None, 0)))
        return lambda lrs, keys: inner(lrs, keys).T
    return jax.jit(jax.vmap(jax.vmap(one, (None, 0)), (0, None)))


def jaxgd_sweep(problem: st.FiniteSum, steps: int, keys_outer: bool = False):
    """Final full loss of every (rate, key): jaxgd.stochastic.run vmapped twice, one jit (``keys_outer``: the keys
    vmapped outside the rates, as run's docstring recommends; results (rates, keys) either way)."""

    def one(lr, key):
        return st.run(jaxgd.sgd(lr), problem, problem.x0, steps, key=key, batch_size=BATCH, eval_at=(steps,)).loss[-1]

    return over_rates_and_keys(one, keys_outer)


def _logistic(problem: st.FiniteSum):
    """The L2-regularised logistic loss of ``problem`` written out, with its features and labels."""
    z, y, l2 = problem.data["features"], problem.data["labels"], problem.consts["l2"]

    def loss(w, zb, yb):
        return jnp.mean(jax.nn.softplus(-yb * (zb @ w))) + 0.5 * l2 * jnp.sum(w * w)

    return loss, z, y


def hand_written(problem: st.FiniteSum, steps: int):
    """The same sweep written by hand with optax.sgd: a batch drawn and gathered each step inside lax.scan."""
    loss, z, y = _logistic(problem)
    n, x0 = z.shape[0], problem.x0

    def one(lr, key):
        opt = optax.sgd(lr)
        k_sample = jax.random.split(key)[0]

        def step(c, _):
            w, s, t = c
            idx = jax.random.randint(jax.random.fold_in(k_sample, t), (BATCH,), 0, n, dtype=jnp.int32)
            u, s = opt.update(jax.grad(loss)(w, z[idx], y[idx]), s, w)
            return (optax.apply_updates(w, u), s, t + 1), None

        (w, _, _), _ = jax.lax.scan(step, (x0, opt.init(x0), jnp.zeros([], jnp.int32)), None, length=steps)
        return loss(w, z, y)

    return over_rates_and_keys(one)


def hand_written_minibatch(problem: st.FiniteSum, steps: int, seeds_outer: bool = False):
    """By hand, what jaxgd.sweep does per step on ``problem.minibatch(BATCH)``: the key fold_in(key, t) split, a
    batch drawn with randint and gathered, an optax.sgd step; the full loss at the end. vmapped over rates, then
    keys (``seeds_outer``: keys, then rates, as the sweep nests them; results (rates, keys) either way)."""
    loss, z, y = _logistic(problem)
    n, x0 = z.shape[0], problem.x0

    def one(lr, key):
        opt = optax.sgd(lr)

        def step(c, _):
            w, s, t = c
            k_idx = jax.random.split(jax.random.fold_in(key, t))[0]
            idx = jax.random.randint(k_idx, (BATCH,), 0, n, dtype=jnp.int32)
            u, s = opt.update(jax.grad(loss)(w, z[idx], y[idx]), s, w)
            return (optax.apply_updates(w, u), s, t + 1), None

        (w, _, _), _ = jax.lax.scan(step, (x0, opt.init(x0), jnp.zeros([], jnp.int32)), None, length=steps)
        return loss(w, z, y)

    return over_rates_and_keys(one, seeds_outer)


def sweep_call(problem: st.FiniteSum, lrs: np.ndarray, keys: jax.Array, steps: int, summaries=None):
    """``jaxgd.sweep`` over (rate, seed) on the mini-batch loss, final full losses (R,) as an array."""
    space = {"learning_rate": lrs}
    kw = {"seeds": keys, "eval_every": steps, "keep_params": False, "blowup": None, "summaries": summaries}
    return lambda: jaxgd.sweep(jaxgd.sgd, problem.minibatch(BATCH), space, steps, **kw).final_loss


def compare_sweep(problem: st.FiniteSum, lrs: np.ndarray, keys: jax.Array, steps: int, repeats: int) -> None:
    """(c): one jaxgd.sweep call against the hand-written jit(vmap) drawing the same batches."""
    from jaxgd.sweeps.prepare import prepare

    hand = hand_written_minibatch(problem, steps)
    ours, ours_final = sweep_call(problem, lrs, keys, steps), sweep_call(problem, lrs, keys, steps, "final")
    lrs_dev = jnp.asarray(lrs, jnp.float32)
    theirs = np.asarray(hand(lrs_dev, keys)).ravel()
    diff = max(np.nanmax(np.abs(ours() - theirs)), np.nanmax(np.abs(ours_final() - theirs)))
    print(f"jaxgd.sweep against hand-written (same batches): max |final loss difference| {diff:.2e}")
    kw = dict(seeds=keys, eval_every=steps, keep_params=False, blowup=None)
    chunks = {s: prepare(jaxgd.sgd, problem.minibatch(BATCH), {"learning_rate": lrs}, steps, summaries=s, **kw)
              for s in (None, "final")}  # fmt: skip
    counts = {s: sum(" = " in line for line in c.lower().compile().as_text().splitlines()) for s, c in chunks.items()}
    print(f"optimised HLO instructions: sweep chunk {counts[None]} (summaries='final': {counts['final']}), "
          f"hand-written {instructions(hand, lrs_dev, keys)}")  # fmt: skip
    work = len(lrs) * len(keys) * steps
    hand_so = hand_written_minibatch(problem, steps, seeds_outer=True)
    fns = [ours, ours_final, lambda: hand(lrs_dev, keys), lambda: hand_so(lrs_dev, keys)]
    t_ours, t_final, t_hand, t_so = timed_group(fns, repeats)
    print(f"jaxgd.sweep, one call:            {work / t_ours:.3e} steps/s ({t_ours:.2f} s)")
    print(f"jaxgd.sweep, summaries='final':   {work / t_final:.3e} steps/s ({t_final:.2f} s)")
    print(f"hand-written jit(vmap) per batch: {work / t_hand:.3e} steps/s ({t_hand:.2f} s)")
    print(f"throughput ratio jaxgd.sweep / hand-written: {t_hand / t_ours:.2f} (target >= 1.0)")
    print(f"throughput ratio jaxgd.sweep summaries='final' / hand-written: {t_hand / t_final:.2f} (target >= 1.0)")
    print(f"hand-written, keys vmapped outside the rates (the sweep's nesting): {work / t_so:.3e} steps/s; "
          f"jaxgd.sweep summaries='final' / it: {t_so / t_final:.2f}")  # fmt: skip
    for n_steps in (1000, 10000):
        prep = prepare(jaxgd.sgd, problem.minibatch(BATCH), {"learning_rate": lrs}, n_steps, seeds=keys,
                       eval_every=n_steps, keep_params=False, blowup=None)  # fmt: skip
        mem = prep.lower().compile().memory_analysis()
        if mem is not None:
            print(f"jaxgd.sweep chunk buffers at {n_steps} steps: temp {mem.temp_size_in_bytes / 2**20:.2f} MiB, "
                  f"output {mem.output_size_in_bytes / 2**20:.2f} MiB")  # fmt: skip


def instructions(fn, *args) -> int:
    """HLO instructions of the optimised program (both sweeps should compile to the same loop)."""
    return sum(1 for line in fn.lower(*args).compile().as_text().splitlines() if " = " in line)


def compiled_bytes(fn, *args) -> dict:
    mem = fn.lower(*args).compile().memory_analysis()
    if mem is None:
        return {}
    keys = ("temp_size_in_bytes", "output_size_in_bytes", "argument_size_in_bytes", "generated_code_size_in_bytes")
    return {k.replace("_size_in_bytes", ""): int(getattr(mem, k, 0)) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="32 rates x 8 seeds x 2000 steps")
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--stat", choices=("median", "min"), default="median", help="of the repeats' times")
    args = parser.parse_args()
    global STAT
    STAT = min if args.stat == "min" else statistics.median
    rates, seeds, steps = (32, 8, 2000) if args.small else (256, 8, 2000)
    problem = st.logistic_regression(0.01)
    lrs = jnp.asarray(np.geomspace(1e-3, 3.0, rates), jnp.float32)
    keys = jax.random.split(jax.random.key(0), seeds)
    ours, theirs = jaxgd_sweep(problem, steps), hand_written(problem, steps)
    diff = float(jnp.max(jnp.abs(ours(lrs, keys) - theirs(lrs, keys))))
    print(f"{jax.default_backend()}: {rates} rates x {seeds} seeds x {steps} steps, batch {BATCH}, n = {problem.n}")
    print(f"max |final loss difference| between the two (same batches): {diff:.2e}")
    n_ours, n_theirs = instructions(ours, lrs, keys), instructions(theirs, lrs, keys)
    print(f"optimised HLO instructions: jaxgd {n_ours}, hand-written {n_theirs}")
    work = rates * seeds * steps
    outer = jaxgd_sweep(problem, steps, keys_outer=True)
    t_ours, t_theirs, t_outer = timed_group(
        [lambda: ours(lrs, keys), lambda: theirs(lrs, keys), lambda: outer(lrs, keys)], args.repeats
    )
    print(f"jaxgd.stochastic.run jit(vmap): {work / t_ours:.3e} steps/s ({t_ours:.2f} s)")
    print(f"hand-written optax jit(vmap):   {work / t_theirs:.3e} steps/s ({t_theirs:.2f} s)")
    print(f"throughput ratio jaxgd / hand-written: {t_theirs / t_ours:.2f} (same program: about 1.0)")
    print(f"jaxgd.stochastic.run, keys vmapped outside the rates: {work / t_outer:.3e} steps/s, "
          f"{t_theirs / t_outer:.2f}x the hand-written (rate, key) nesting")  # fmt: skip
    for n_steps in (1000, 10000):
        mem = compiled_bytes(jaxgd_sweep(problem, n_steps), lrs, keys)
        print(f"compiled buffers at {n_steps} steps: " + ", ".join(f"{k} {v / 2**20:.2f} MiB" for k, v in mem.items()))
    compare_sweep(problem, np.asarray(lrs), keys, steps, args.repeats)


if __name__ == "__main__":
    main()
