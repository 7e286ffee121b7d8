"""As optax's alias_test: every optimizer, at documented hyperparameters, reaches the minimum of a 3-D
parabola and of 2-D Rosenbrock, in float32 and float64."""

import jax
import jax.numpy as jnp
import pytest

import jaxgd

# name -> (factory, steps); hyperparameters that work on both problems.
OPTIMIZERS = {
    "sgd": (lambda: jaxgd.sgd(1e-3), 30000),
    "momentum": (lambda: jaxgd.momentum(1e-4, 0.9), 30000),
    "momentum_velocity": (lambda: jaxgd.momentum(1e-4, 0.9, convention="velocity"), 30000),
    "nesterov": (lambda: jaxgd.nesterov(1e-4, 0.9), 30000),
    "nesterov_1983": (lambda: jaxgd.nesterov_1983(1e-3), 30000),
    "adagrad": (lambda: jaxgd.adagrad(0.5), 30000),
    "adadelta": (lambda: jaxgd.adadelta(0.03, rho=0.9, eps=1e-8), 50000),
    "rmsprop": (lambda: jaxgd.rmsprop(1e-3), 30000),
    "rmsprop_centered": (lambda: jaxgd.rmsprop(1e-4, centered=True, momentum=0.9), 30000),
    "rmsprop_nesterov": (lambda: jaxgd.rmsprop(1e-4, momentum=0.9, nesterov=True), 30000),
    "adam": (lambda: jaxgd.adam(1e-2), 30000),
    "nadam": (lambda: jaxgd.nadam(1e-2), 30000),
    "adamax": (lambda: jaxgd.adamax(1e-2), 30000),
}


def _problems():
    return (
        jaxgd.problems.quadratic(jnp.array([1.0, 2.0, 4.0]), jnp.array([1.0, -2.0, 3.0])),
        jaxgd.problems.rosenbrock(),
    )


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_reaches_minimum(name, x64):
    factory, steps = OPTIMIZERS[name]
    with jax.enable_x64(x64):
        for problem in _problems():
            traj = jaxgd.run(factory(), problem, problem.x0, steps, record_every=steps)
            assert traj.final_params.dtype == (jnp.float64 if x64 else jnp.float32)
            err = float(jnp.linalg.norm(traj.final_params - problem.minimizers[0]))
            assert err < 1e-2, f"{name} on {problem.name}: ||x - x*|| = {err}"
