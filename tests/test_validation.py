"""Concrete hyperparameters are validated at construction, naming the argument and the value."""

import jax
import jax.numpy as jnp
import pytest

import jaxgd

NAN = float("nan")


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: jaxgd.sgd(-0.1), "learning_rate"),
        (lambda: jaxgd.sgd(0.0), "learning_rate"),
        (lambda: jaxgd.sgd(NAN), "learning_rate"),
        (lambda: jaxgd.sgd(float("inf")), "learning_rate"),
        (lambda: jaxgd.momentum(0.1, 1.0), "momentum"),
        (lambda: jaxgd.momentum(0.1, -0.1), "momentum"),
        (lambda: jaxgd.momentum(0.1, 0.9, convention="sideways"), "convention"),
        (lambda: jaxgd.nesterov(0.1, NAN), "momentum"),
        (lambda: jaxgd.nesterov_1983(-1.0), "learning_rate"),
        (lambda: jaxgd.adagrad(0.1, eps=0.0), "eps"),
        (lambda: jaxgd.adagrad(0.1, initial_accumulator_value=-1.0), "initial_accumulator_value"),
        (lambda: jaxgd.adadelta(1.0, rho=1.2), "rho"),
        (lambda: jaxgd.rmsprop(0.1, decay=1.0), "decay"),
        (lambda: jaxgd.rmsprop(0.1, eps=-1e-8), "eps"),
        (lambda: jaxgd.adam(0.1, b1=1.0), "b1"),
        (lambda: jaxgd.adam(0.1, b2=-0.5), "b2"),
        (lambda: jaxgd.adam(0.1, eps=0.0), "eps"),
        (lambda: jaxgd.adam(jnp.array([0.1, -0.2])), "learning_rate"),
        (lambda: jaxgd.nadam(NAN), "learning_rate"),
        (lambda: jaxgd.adamax(0.1, b1=1.5), "b1"),
    ],
)
def test_bad_hyperparameters_raise_value_error_naming_them(make, name):
    with pytest.raises(ValueError, match=name) as info:
        make()
    assert "got" in str(info.value)  # the message shows the offending value


def test_rmsprop_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="momentum"):
        jaxgd.rmsprop(0.1, nesterov=True)


def test_traced_values_are_not_checked():
    # Inside a trace the value is unknown: no error, no host round-trip.
    out = jax.jit(lambda lr: jaxgd.run(jaxgd.sgd(lr), lambda x: jnp.sum(x**2), jnp.ones(2), 3).loss[-1])(-1.0)
    assert float(out) > 2.0  # a negative rate climbs, as the equations say


def test_chain_rejects_non_transforms():
    with pytest.raises(TypeError, match="argument 1"):
        jaxgd.chain(jaxgd.sgd(0.1), 3.0)
    with pytest.raises(ValueError):
        jaxgd.chain()
