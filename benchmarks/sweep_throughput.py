"""Sweep throughput: jaxgd.sweep against hand-written optax sweeps, a Python loop, and memory as steps grow.

Heavy ball (momentum 0.9) on 2-D Rosenbrock from (-1.5, 2), learning rates log-spaced in [1e-6, 1e-2]:

  (a) jaxgd.sweep (in-loop summaries: final, best, divergence step, grad norm) vs a hand-written
      optax.inject_hyperparams(optax.sgd) + vmap + lax.scan computing the same summaries (target >= 1.0),
      and vs the hand-written final-loss-only sweep (the ~1e9 steps/s the issue has in mind; target >= 0.70);
  (a') jaxgd.sweep(..., summaries="final"), which pays only for the final loss, vs the hand-written
      final-loss-only sweep (target >= 0.95);
  (b) vs a Python loop of per-learning-rate jitted runs (target >= 100x): the strongest form (one
      compilation, the rate an argument), final loss only and with the sweep's summaries (the same
      work), and the form optax's closures give (one compilation per rate);
  (c) in-loop summaries vs a hand-written final-loss-only sweep (target: <= 1.2x the time);
  the backend's own bounds, measured in the same run: the leanest in-loop summary written by hand
  (a running min of f, nothing frozen) against final-only, a floor for (c); and the hand-written
  final-only sweep against the Python loop, a ceiling for (b) that no vmapped program of this work
  exceeds on this backend;
  (d) compiled memory of one sweep as steps grow 1e3 -> 1e5 (target: flat).

Prints optimizer-steps/s (runs x steps / seconds, median of --repeats, or their minimum with --stat min; the
sweeps and the hand-written ones timed alternately, in forward then reverse order, so that a busy machine slows
each alike) and the ratios.

    python benchmarks/sweep_throughput.py            # 16384 rates x 5000 steps
    python benchmarks/sweep_throughput.py --small    # 4096 rates x 1000 steps, quick
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
from jaxgd import sweeps as S
from jaxgd.sweeps.prepare import prepare

X0 = (-1.5, 2.0)


def rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def make_momentum(learning_rate):
    return jaxgd.momentum(learning_rate, 0.9)


STAT = statistics.median  # --stat min: the least disturbed of the repeats, on a machine others are using


def timed(fn, repeats: int) -> float:
    return timed_group({"fn": fn}, repeats)["fn"]


def timed_group(fns: dict, repeats: int) -> dict:
    """Median (or ``STAT``) seconds of each call, the calls alternated (in order, then reversed: ABBA) so that a
    busy machine slows each alike."""
    for fn in fns.values():
        jax.block_until_ready(fn())  # compile and warm up
    times = {name: [] for name in fns}
    for i in range(repeats):
        for name in list(fns) if i % 2 == 0 else list(fns)[::-1]:
            t0 = time.perf_counter()
            jax.block_until_ready(fns[name]())
            times[name].append(time.perf_counter() - t0)
    return {name: STAT(t) for name, t in times.items()}


def hand_written(steps: int, summaries: bool | str, loss=rosenbrock, x0=X0):
    """What one would write by hand: inject_hyperparams + vmap + lax.scan (``summaries`` as in :func:`one_run`)."""
    return jax.jit(jax.vmap(one_run(steps, summaries, loss, x0)))


def one_run(steps: int, summaries: bool | str, loss=rosenbrock, x0=X0):
    """One learning rate's run of heavy ball on ``loss``: with ``summaries`` False, the final loss; with
    "min", the final loss and min_t f(x_t) (the leanest in-loop summary: one running number, nothing
    frozen); with True, (final loss, best loss, divergence step, grad norm), diverged runs frozen."""
    x0 = jnp.asarray(x0)

    def run_one(lr):
        opt = optax.inject_hyperparams(optax.sgd)(learning_rate=lr, momentum=0.9)
        state = opt.init(x0)
        if summaries in (False, "min"):

            def step(c, _):
                x, s, best = c
                u, s = opt.update(jax.grad(loss)(x), s, x)
                x = optax.apply_updates(x, u)
                f = loss(x)
                return (x, s, jnp.where(f < best, f, best) if summaries else best), None

            (x, _, best), _ = jax.lax.scan(step, (x0, state, loss(x0)), None, length=steps)
            return (loss(x), best) if summaries else loss(x)

        f0, g0 = jax.value_and_grad(loss)(x0)
        limit = 1e4 * jnp.abs(f0)

        def step(c, t):
            x, s, f, g, best, div = c
            u, s2 = opt.update(g, s, x)
            x2 = optax.apply_updates(x, u)
            f2, g2 = jax.value_and_grad(loss)(x2)
            bad = ~(jnp.isfinite(f2) & (f2 <= limit))
            ok = (div < 0) & ~bad
            keep = lambda a, b: jax.tree.map(lambda p, q: jnp.where(ok, p, q), a, b)  # noqa: E731
            return (
                keep(x2, x),
                keep(s2, s),
                jnp.where(ok, f2, f),
                keep(g2, g),
                jnp.where(ok, jnp.minimum(best, f2), best),
                jnp.where((div < 0) & bad, t + 1, div),
            ), None

        init = (x0, state, f0, g0, f0, jnp.asarray(-1, jnp.int32))
        (x, _, f, g, best, div), _ = jax.lax.scan(step, init, jnp.arange(steps, dtype=jnp.int32))
        return jnp.where(div < 0, f, jnp.inf), best, div, jnp.linalg.norm(g)

    return run_one


def python_loop(steps: int):
    """One jitted run per learning rate (compiled once: the rate is an argument), called in a Python loop."""
    x0 = jnp.asarray(X0)

    @jax.jit
    def run_one(lr):
        opt = optax.sgd(lr, momentum=0.9)

        def step(c, _):
            x, s = c
            u, s = opt.update(jax.grad(rosenbrock)(x), s, x)
            return (optax.apply_updates(x, u), s), None

        (x, _), _ = jax.lax.scan(step, (x0, opt.init(x0)), None, length=steps)
        return rosenbrock(x)

    return run_one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="4096 rates x 1000 steps, 8 loop rates, memory to 1e4")
    parser.add_argument("--lrs", type=int, default=None, help="number of learning rates (default 16384)")
    parser.add_argument("--steps", type=int, default=None, help="steps per run (default 5000)")
    parser.add_argument("--loop-lrs", type=int, default=None, help="rates run in the Python loop (default 64)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stat", choices=("median", "min"), default="median", help="of the repeats' times")
    args = parser.parse_args()
    global STAT
    STAT = min if args.stat == "min" else statistics.median
    n_lrs = args.lrs or (4096 if args.small else 16384)  # the small sweep still takes a few ms: the call's own
    steps = args.steps or (1000 if args.small else 5000)  # overhead (about 1 ms) would dominate a smaller one
    n_loop = args.loop_lrs or (8 if args.small else 64)
    mem_steps = (100, 1000, 10_000) if args.small else (1000, 10_000, 100_000)

    print(f"jax {jax.__version__}, {jax.devices()[0].platform}: {jax.device_count()} device(s) {jax.devices()[0]}")
    print(f"heavy ball (0.9) on Rosenbrock from {X0}: {n_lrs} learning rates in [1e-6, 1e-2] x {steps} steps")
    lrs = np.geomspace(1e-6, 1e-2, n_lrs)
    problem = jaxgd.problems.rosenbrock()
    work = n_lrs * steps

    def ours(summaries=None):
        r = S.sweep(make_momentum, problem, {"learning_rate": lrs}, steps, keep_params=False, summaries=summaries)
        return r.final_loss

    lrs_dev = jnp.asarray(lrs, jnp.float32)
    hand_sum, hand_final, hand_min = (hand_written(steps, s) for s in (True, False, "min"))
    t = timed_group(
        {
            "ours": ours,
            "ours_final": lambda: ours("final"),
            "final": lambda: hand_final(lrs_dev),
            "min": lambda: hand_min(lrs_dev),
            "hand": lambda: hand_sum(lrs_dev),
        },
        args.repeats,
    )
    t_ours, t_ours_final, t_hand, t_final, t_min = (t[k] for k in ("ours", "ours_final", "hand", "final", "min"))

    # Same summaries from both (on the finite runs) before comparing speeds.
    res = S.sweep(make_momentum, problem, {"learning_rate": lrs}, steps, keep_params=False)
    _, h_best, h_div, _ = (np.asarray(a) for a in hand_sum(lrs_dev))
    print(
        f"agreement with hand-written: diverged {int(res.diverged.sum())} vs {int((h_div >= 0).sum())} runs, "
        f"divergence steps equal in {np.mean(res.diverge_step == h_div):.1%}, best loss within 1e-3 relative in "
        f"{np.mean(np.isclose(res.best_loss, h_best, rtol=1e-3, atol=1e-6)):.1%} of runs"
    )

    loop = python_loop(steps)
    loop_sum = jax.jit(one_run(steps, True))  # the same summaries as the sweep, one rate per call
    loop_lrs = lrs[:: max(1, n_lrs // n_loop)][:n_loop]
    t_loop = timed(lambda: [loop(jnp.float32(lr)) for lr in loop_lrs], 1) * n_lrs / len(loop_lrs)
    t_loop_sum = timed(lambda: [loop_sum(jnp.float32(lr)) for lr in loop_lrs], 1) * n_lrs / len(loop_lrs)

    # The loop as one writes it with optax's closures: optax.sgd(lr) bakes lr into the program, so each
    # rate compiles anew (optax issue 577). Timed on a few rates, compilation included, extrapolated.
    x0 = jnp.asarray(X0)

    def closure_run(lr: float):
        opt = optax.sgd(lr, momentum=0.9)

        def step(c, _):
            x, s = c
            u, s = opt.update(jax.grad(rosenbrock)(x), s, x)
            return (optax.apply_updates(x, u), s), None

        @jax.jit
        def run():
            (x, _), _ = jax.lax.scan(step, (x0, opt.init(x0)), None, length=steps)
            return rosenbrock(x)

        return run()

    closure_lrs = loop_lrs[: max(2, len(loop_lrs) // 8)]
    t0 = time.perf_counter()
    jax.block_until_ready([closure_run(float(lr)) for lr in closure_lrs])
    t_closure = (time.perf_counter() - t0) * n_lrs / len(closure_lrs)

    def rate(t: float) -> str:
        return f"{work / t:.3e} steps/s ({t:.3f} s)"

    print(f"jaxgd.sweep, summaries:                 {rate(t_ours)}")
    print(f"jaxgd.sweep, summaries='final':         {rate(t_ours_final)}")
    print(f"hand-written, same summaries:           {rate(t_hand)}")
    print(f"hand-written, final loss only:          {rate(t_final)}")
    print(f"hand-written, final + running min only: {rate(t_min)}")
    print(f"Python loop of jitted runs (extrap.):   {rate(t_loop)}  [{len(loop_lrs)} rates timed, final loss only]")
    print(f"  the same, with the sweep's summaries: {rate(t_loop_sum)}")
    print(f"(a) jaxgd / hand-written, same summaries (steps/s):  {t_hand / t_ours:.2f}   target >= 1.0")
    print(f"(a) jaxgd / hand-written, final loss only (steps/s): {t_final / t_ours:.2f}   target >= 0.70")
    print(f"(a') jaxgd summaries='final' / hand-written final-only:  {t_final / t_ours_final:.2f}   target >= 0.95")
    print(f"Python loop, optax closures (extrap.):  {rate(t_closure)}  [{len(closure_lrs)} rates, one compile each]")
    print(f"(b) jaxgd / Python loop, compiled once (steps/s):    {t_loop / t_ours:.1f}   target >= 100")
    print(f"(b) the same, loop with the same summaries:          {t_loop_sum / t_ours:.1f}   target >= 100")
    print(f"(b) jaxgd / Python loop, optax closures (steps/s):   {t_closure / t_ours:.0f}   target >= 100")
    print(f"(c) summaries / final-only (time):                   {t_ours / t_final:.2f}   target <= 1.2")
    print(f"bounds of this backend, by hand: (c) floor, running min only / final-only (time): {t_min / t_final:.2f}")
    print(f"                                 (b) ceiling, final-only / Python loop (steps/s):  {t_loop / t_final:.1f}")

    # (d) memory: XLA's compiled buffer sizes of one chunk, and the device's peak where it reports one.
    print("(d) memory as steps grow (one chunk, compiled by XLA):")
    sizes = []
    for n in mem_steps:
        chunk = prepare(make_momentum, problem, {"learning_rate": lrs}, n, keep_params=False)  # as sweep runs it
        compiled = chunk.lower().compile()
        mem = compiled.memory_analysis()
        total = None
        if mem is not None:
            total = mem.temp_size_in_bytes + mem.output_size_in_bytes + mem.argument_size_in_bytes
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(chunk.columns, *chunk.shared))
        dt = time.perf_counter() - t0
        stats = jax.devices()[0].memory_stats() or {}
        peak = stats.get("peak_bytes_in_use")
        sizes.append(total)
        print(
            f"    steps={n:>7}: buffers {total / 2**20 if total is not None else float('nan'):8.2f} MiB"
            + (f", device peak {peak / 2**20:8.2f} MiB" if peak is not None else "")
            + f", {n_lrs * n / dt:.3e} steps/s"
        )
    if all(s is not None for s in sizes):
        print(
            f"    ratio of buffers at {mem_steps[-1]} vs {mem_steps[0]} steps: {sizes[-1] / sizes[0]:.3f}  target ~1.0"
        )


if __name__ == "__main__":
    main()
