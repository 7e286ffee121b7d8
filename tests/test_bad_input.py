"""Bad input gets a clear, early error; every JAX floating dtype is accepted (issue: results are never silently
wrong)."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("0.01", "the string '0.01'"),
        (True, "the boolean True"),
        (None, "got None"),
        ([0.1, 0.2], "a list"),
        ((0.1,), "a tuple"),
        (0.1 + 1j, "complex"),
        (np.array([True, False]), "boolean array"),
        (np.array(["a"]), "dtype <U1"),
    ],
)
def test_a_hyperparameter_of_the_wrong_type_is_refused_at_construction(value, said):
    with pytest.raises(TypeError, match="learning_rate") as err:
        jaxgd.sgd(value)
    assert said in str(err.value)
    with pytest.raises(TypeError, match="momentum"):
        jaxgd.momentum(0.1, value)


def test_numbers_arrays_and_schedules_are_still_accepted():
    for lr in (0.1, 1, np.float32(0.1), jnp.asarray(0.1), jnp.full(3, 0.1), jaxgd.schedules.constant(0.1)):
        jaxgd.sgd(lr)
    # A piecewise schedule's values are a list by design.
    jaxgd.schedules.piecewise_constant([10, 20], [0.1, 0.01, 0.001])
    with pytest.raises(TypeError, match="values"):
        jaxgd.schedules.piecewise_constant([10, 20], [0.1, "0.01", 0.001])


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_low_precision_floats_run(dtype):
    x0 = jnp.asarray([1.0, -2.0], dtype)
    traj = jaxgd.run(jaxgd.sgd(0.1), lambda x: jnp.sum(x * x), x0, 20)
    assert traj.final_params.dtype == dtype
    assert float(traj.loss[-1]) < 0.1 * float(traj.loss[0])


def test_complex_parameters_are_refused_with_a_reason():
    x0 = jnp.asarray([1.0 + 1.0j, 0.5 - 0.5j])
    with pytest.raises(TypeError, match="complex parameters are not supported"):
        jaxgd.run(jaxgd.sgd(0.1), lambda x: jnp.sum(jnp.abs(x) ** 2), x0, 5)


def test_an_array_hyperparameter_must_broadcast_to_the_parameters():
    opt = jaxgd.sgd(jnp.full(3, 0.1))  # a per-coordinate learning rate
    opt.init(jnp.zeros(3))
    opt.init(jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"jaxgd.sgd: learning_rate has shape \(3,\).*shape \(4,\)"):
        opt.init({"w": jnp.zeros(4)})
    with pytest.raises(ValueError, match="momentum has shape"):
        jaxgd.run(jaxgd.momentum(0.1, jnp.full(2, 0.9)), lambda x: jnp.sum(x * x), jnp.ones(5), 3)


def test_an_error_at_construction_names_the_function_and_the_argument():
    with pytest.raises(ValueError, match=r"^jaxgd.adam: learning_rate must be positive"):
        jaxgd.adam(-1.0)
    with pytest.raises(TypeError, match=r"^jaxgd.momentum: momentum must be a real number"):
        jaxgd.momentum(0.1, "0.9")
