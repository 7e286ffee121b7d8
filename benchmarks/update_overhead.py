"""Update overhead: a jitted jaxgd.adam update against optax.adam on a pytree of >= 10M parameters.

Prints the median of repeated timings of each (interleaved, in one process) and the ratio jaxgd / optax
(target: <= 1.05).

    python benchmarks/update_overhead.py [--params 10_000_000] [--repeats 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import optax

import jaxgd


def make_params(n: int, key: jax.Array) -> dict:
    # A transformer-ish pytree: a few big matrices and many small vectors.
    k = jax.random.split(key, 8)
    side = int((n * 0.9 / 4) ** 0.5)
    params = {f"w{i}": jax.random.normal(k[i], (side, side)) for i in range(4)}
    rest = n - 4 * side * side
    params["biases"] = [jax.random.normal(k[4], (rest // 50,)) for _ in range(50)]
    return params


def timed(step, params, state, grads, repeats: int) -> list[float]:
    params, state = step(params, state, grads)  # compile
    jax.block_until_ready(params)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        params, state = step(params, state, grads)
        jax.block_until_ready((params, state))
        out.append(time.perf_counter() - t0)
    return out


def make_step(tx):
    @jax.jit
    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    key = jax.random.PRNGKey(0)
    params = make_params(args.params, key)
    grads = jax.tree.map(lambda p: 1e-3 * jnp.sin(p), params)
    n = sum(x.size for x in jax.tree.leaves(params))
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), parameters: {n:,}")

    ours, theirs = jaxgd.adam(1e-3), optax.adam(1e-3)
    step_ours, step_theirs = make_step(ours), make_step(theirs)
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    t_ours, t_theirs = [], []
    for _ in range(5):  # interleave blocks so drift hits both alike
        t_ours += timed(step_ours, params, s_ours, grads, args.repeats // 5)
        t_theirs += timed(step_theirs, params, s_theirs, grads, args.repeats // 5)
    m_ours, m_theirs = statistics.median(t_ours), statistics.median(t_theirs)
    print(f"jaxgd.adam update: median {m_ours * 1e3:8.3f} ms over {len(t_ours)} runs")
    print(f"optax.adam update: median {m_theirs * 1e3:8.3f} ms over {len(t_theirs)} runs")
    print(f"ratio jaxgd/optax: {m_ours / m_theirs:.3f}  (target <= 1.05)")


if __name__ == "__main__":
    main()
