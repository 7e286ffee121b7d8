"""Optimizer and Schedule share one Recipe base: a treedef independent of the leaves, signature-ordered
leaves and reprs, true annotations, a transform built once, pickling, and states without duplicate fields."""

import functools
import inspect
import pickle
import typing

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxgd
from jaxgd import _core, optimizers, schedules, transforms
from jaxgd._recipe import Optimizer, Recipe, Schedule, optimizer, schedule

SCHED = schedules.natural_exp_decay(0.1, 0.01)


def _alias_args(name):
    """Arguments that every alias in optimizers.__all__ (but chain) accepts."""
    return () if name in ("adadelta", "adam", "nadam", "adamax") else (0.1,)


ALIASES = [n for n in optimizers.__all__ if n != "chain"]

RECIPES = {
    **{name: getattr(jaxgd, name)(*_alias_args(name)) for name in ALIASES},
    "adam_schedule_lr": jaxgd.adam(SCHED),
    "sgd_lambda_lr": jaxgd.sgd(lambda t: 0.1 / (1.0 + t)),
    "momentum_velocity": jaxgd.momentum(0.1, 0.8, convention="velocity"),
    "rmsprop_no_momentum": jaxgd.rmsprop(0.01),  # momentum=None is a child too
    "rmsprop_nesterov": jaxgd.rmsprop(0.01, momentum=SCHED, nesterov=True, centered=True),
    "chain_with_optax": jaxgd.chain(jaxgd.adam(SCHED), optax.clip_by_global_norm(1.0)),
    "chain_plateau": jaxgd.chain(jaxgd.sgd(0.1), schedules.reduce_on_plateau(factor=0.5)),
    "newton_string_option": jaxgd.newton(linesearch="backtracking"),
    "schedule": schedules.cyclical(0.1, 1.0, 10, mode="triangular2"),
}

PARAMS = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(0.5)}


def _loss(p):
    return jnp.sum((p["w"] - 1.0) ** 2) + 3.0 * (p["b"] + 1.0) ** 2


def _steps(opt, n=5, params=PARAMS):
    state = opt.init(params)
    for _ in range(n):
        value, grad = jax.value_and_grad(_loss)(params)
        updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=_loss)
        params = optax.apply_updates(params, updates)
    return params


def _is_none(x):
    return x is None


# --------------------------------------------------------------------------- the treedef


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_treedef_does_not_depend_on_leaf_values_or_types(name):
    r = RECIPES[name]
    treedef = jax.tree.structure(r)
    assert jax.tree.structure(jax.tree.map(lambda _: True, r)) == treedef
    assert jax.tree.structure(jax.tree.map(lambda _: object(), r)) == treedef
    assert jax.tree.structure(jax.tree.map(lambda x: jnp.asarray(1.0), r)) == treedef
    nones = jax.tree.map(lambda _: None, r)
    assert jax.tree.structure(nones, is_leaf=_is_none) == jax.tree.structure(r, is_leaf=_is_none)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_unflatten_with_placeholders_and_back(name):
    r = RECIPES[name]
    leaves, treedef = jax.tree.flatten(r)
    for placeholder in (None, object(), True):
        blank = jax.tree.unflatten(treedef, [placeholder] * len(leaves))  # never calls the factory
        assert type(blank) is type(r)
        repr(blank)
    back = jax.tree.unflatten(treedef, leaves)
    assert back == r and hash(back) == hash(r)


def _eqx_partition(tree, keep):
    """As ``equinox.partition``: the leaves ``keep`` selects, None elsewhere; and the rest."""
    return jax.tree.map(lambda x: x if keep(x) else None, tree), jax.tree.map(lambda x: None if keep(x) else x, tree)


def _eqx_combine(*trees):
    """As ``equinox.combine``: the first non-None leaf of each position."""

    def first(*xs):
        return next((x for x in xs if x is not None), None)

    return jax.tree.map(first, *trees, is_leaf=_is_none)


def _eqx_is_array(x):
    return isinstance(x, (jax.Array, np.ndarray, np.generic))


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize("name", ["adam", "adam_schedule_lr", "sgd_lambda_lr", "rmsprop_nesterov", "chain_with_optax"])
def test_equinox_style_partition_combine_and_jit(name, x64):
    with jax.enable_x64(x64):
        # float leaves as arrays, which equinox traces (it keeps Python floats static)
        r = jax.tree.map(lambda x: jnp.asarray(x) if _core.is_array_leaf(x) else x, RECIPES[name])
        params = jax.tree.map(lambda p: p.astype(jnp.float64 if x64 else jnp.float32), PARAMS)
        for keep in (_eqx_is_array, _core.is_array_leaf):
            dynamic, static = _eqx_partition(r, keep)
            assert _eqx_combine(dynamic, static) == r
            hash(static)  # the static half is a jit static argument

        @functools.partial(jax.jit, static_argnums=1)
        def steps(dynamic, static):
            return _steps(_eqx_combine(dynamic, static), params=params)

        dynamic, static = _eqx_partition(r, _eqx_is_array)
        got = steps(dynamic, static)
        want = _steps(r, params=params)
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            assert g.dtype == w.dtype == (jnp.float64 if x64 else jnp.float32)
            np.testing.assert_allclose(g, w, rtol=1e-12 if x64 else 1e-5, atol=1e-12 if x64 else 1e-6)


def test_filter_jit_compiles_once_for_new_hyperparameter_values():
    clip = optax.clip_by_global_norm(1.0)
    lam = lambda t: 1.0 / (1.0 + t)  # noqa: E731

    @_core.filter_jit
    def first_update(opt, x):
        return opt.update(x, opt.init(x), x)[0]

    outs = [
        first_update(jaxgd.chain(jaxgd.adam(schedules.natural_exp_decay(lr, 0.1)), clip, jaxgd.sgd(lam)), jnp.ones(2))
        for lr in (0.1, 0.2, 0.3)
    ]
    assert first_update._cache_size() == 1
    assert not np.allclose(outs[0], outs[1])


# --------------------------------------------------------------------------- order, repr, annotations


def test_leaves_and_hyperparams_in_signature_order():
    opt = jaxgd.adam(1e-3, b2=0.99)
    assert jax.tree.leaves(opt) == [1e-3, 0.9, 0.99, 1e-8, 0.0]
    assert list(opt.hyperparams) == list(inspect.signature(jaxgd.adam).parameters)
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(opt)[0]]
    assert paths == [".learning_rate", ".b1", ".b2", ".eps", ".eps_root"]
    assert opt.b2 == 0.99
    # static options are not leaves; the order is the signature's, not the alphabet's
    rms = jaxgd.rmsprop(0.01, momentum=0.9, centered=True)
    assert list(rms.hyperparams) == list(inspect.signature(jaxgd.rmsprop).parameters)
    assert jax.tree.leaves(rms) == [0.01, 0.9, 1e-8, 0.0, 0.9]


def test_reprs_are_the_public_calls():
    assert repr(jaxgd.adam(1e-3)) == "jaxgd.adam(learning_rate=0.001, b1=0.9, b2=0.999, eps=1e-08, eps_root=0.0)"
    assert repr(jaxgd.chain(jaxgd.sgd(0.1), jaxgd.momentum(0.01))) == (
        "jaxgd.chain(jaxgd.sgd(learning_rate=0.1, weight_decay=None, mask=None), "
        "jaxgd.momentum(learning_rate=0.01, momentum=0.9, convention='descent', weight_decay=None, mask=None))"
    )
    assert repr(SCHED) == "jaxgd.schedules.natural_exp_decay(init_value=0.1, rate=0.01)"
    assert repr(jaxgd.sgd(SCHED)) == f"jaxgd.sgd(learning_rate={SCHED!r}, weight_decay=None, mask=None)"
    assert repr(schedules.reduce_on_plateau()).startswith("jaxgd.transforms.reduce_on_plateau(factor=0.1, patience=10,")
    assert repr(jaxgd.newton()).startswith("jaxgd.newton(")
    assert str(jaxgd.sgd(0.1)) == repr(jaxgd.sgd(0.1))


def test_factories_are_annotated_with_what_they_return():
    for name in optimizers.__all__:
        f = getattr(jaxgd, name)
        assert inspect.signature(f).return_annotation is Optimizer, name
        assert typing.get_type_hints(f)["return"] is Optimizer, name
    assert inspect.signature(jaxgd.newton).return_annotation is Optimizer
    assert inspect.signature(schedules.reduce_on_plateau).return_annotation is Optimizer
    for name in schedules.__all__:
        f = getattr(schedules, name)
        if callable(f) and hasattr(f, "__jaxgd_factory__") and name != "reduce_on_plateau":
            sig = inspect.signature(f)
            assert sig.return_annotation is Schedule and "count" not in sig.parameters, name
            assert typing.get_type_hints(f)["return"] is Schedule, name
    assert issubclass(Optimizer, Recipe) and issubclass(Schedule, Recipe)
    assert isinstance(jaxgd.adam(1e-3), optax.GradientTransformationExtraArgs)


# --------------------------------------------------------------------------- built once


def test_the_transform_is_built_once_per_instance():
    calls = []

    @optimizer(static_argnames=("nesterov",))
    def counted(learning_rate: float = 0.1, nesterov: bool = False) -> optax.GradientTransformation:
        calls.append(learning_rate)
        return optax.sgd(learning_rate, momentum=0.9, nesterov=nesterov)

    opt = counted(0.1)
    assert len(calls) == 1  # at construction: the check, and the transform is kept
    _steps(opt, 4)
    optax.chain(opt, optax.identity()).init(PARAMS)
    assert len(calls) == 1
    jax.jit(lambda o: _steps(o, 2))(opt)  # a new instance from traced leaves: one build in the trace
    assert len(calls) == 2
    copy = jax.tree.map(lambda x: x, opt)  # unflattening builds nothing
    assert len(calls) == 2
    _steps(copy, 2)
    assert len(calls) == 3
    # static options sit in the treedef, by name
    assert jax.tree.leaves(counted(0.1, nesterov=True)) == [0.1]
    assert jax.tree.structure(counted(0.1, nesterov=True)) != jax.tree.structure(opt)


def test_decorators_keep_their_call_api():
    with pytest.raises(ValueError, match="static_argnames"):
        optimizer(static_argnames=("nope",))(lambda learning_rate: optax.sgd(learning_rate))

    @schedule(static_argnames=("kind",), validate=lambda value, kind: None if value > 0 else 1 / 0)
    def flat(count, value, kind="a"):
        return jnp.full(jnp.shape(count), value)

    s = flat(0.5)
    assert float(s(3)) == 0.5 and jax.tree.leaves(s) == [0.5]
    with pytest.raises(ZeroDivisionError):
        flat(-1.0)
    with pytest.raises(TypeError):
        Optimizer(lambda p: p, lambda u, s, p=None: (u, s))
    with pytest.raises(AttributeError, match="immutable"):
        s.value = 2.0


# --------------------------------------------------------------------------- equality and pickling


def test_equality_and_hash_by_factory_options_and_values():
    assert jaxgd.adam(0.1) == jaxgd.adam(0.1) and hash(jaxgd.adam(0.1)) == hash(jaxgd.adam(0.1))
    assert jaxgd.adam(0.1) != jaxgd.adam(0.2)
    assert jaxgd.adam(0.1) != jaxgd.nadam(0.1)
    assert jaxgd.momentum(0.1) != jaxgd.momentum(0.1, convention="velocity")
    assert len({jaxgd.sgd(SCHED), jaxgd.sgd(schedules.natural_exp_decay(0.1, 0.01))}) == 1
    assert SCHED != schedules.natural_exp_decay(0.1, 0.02)


@pytest.mark.parametrize(
    "make",
    [
        lambda: jaxgd.adam(1e-3),
        lambda: jaxgd.chain(jaxgd.adam(SCHED), jaxgd.sgd(jnp.asarray(0.5))),
        lambda: jaxgd.rmsprop(0.01, momentum=0.9, nesterov=True),
        lambda: schedules.reduce_on_plateau(factor=0.5),
        lambda: SCHED,
    ],
)
def test_pickle_round_trips(make):
    r = make()
    back = pickle.loads(pickle.dumps(r))
    assert type(back) is type(r) and back == r and repr(back) == repr(r)
    if isinstance(r, Optimizer) and "plateau" not in repr(r):
        for a, b in zip(jax.tree.leaves(_steps(back)), jax.tree.leaves(_steps(r))):
            np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- states


def _field_names(state):
    paths = jax.tree_util.tree_flatten_with_path(state, is_leaf=_is_none)[0]
    return {k.name for path, _ in paths for k in path if hasattr(k, "name")}


STATE_CASES = {
    **{name: getattr(jaxgd, name)(*_alias_args(name)) for name in ALIASES},
    **{f"{name}_schedule": getattr(jaxgd, name)(SCHED) for name in ALIASES},
    "momentum_schedules": jaxgd.momentum(SCHED, schedules.constant(0.9)),
    "rmsprop_momentum": jaxgd.rmsprop(0.01, momentum=0.9),
    "rmsprop_centered_nesterov_schedules": jaxgd.rmsprop(SCHED, SCHED, centered=True, momentum=SCHED, nesterov=True),
    "adam_all_schedules": jaxgd.adam(SCHED, schedules.constant(0.9), schedules.constant(0.999)),
}


@pytest.mark.parametrize("name", sorted(STATE_CASES))
def test_no_state_holds_two_fields_of_the_same_name(name):
    opt = STATE_CASES[name]
    state = opt.init(PARAMS)
    names = _field_names(state)
    assert names
    for field in names:
        assert len(optax.tree.get_all_with_path(state, field)) == 1, (name, field)


def test_the_adam_step_count_is_found_by_name():
    grads = jax.grad(_loss)(PARAMS)
    for opt in (jaxgd.adam(1e-3), jaxgd.adam(SCHED), jaxgd.chain(jaxgd.adam(1e-3), optax.clip(1.0))):
        state = opt.init(PARAMS)
        assert int(optax.tree.get(state, "count")) == int(optax.tree.get(optax.adam(1e-3).init(PARAMS), "count")) == 0
        for _ in range(3):
            _, state = opt.update(grads, state, PARAMS)
        assert int(optax.tree.get(state, "count")) == 3
    # a constant learning rate keeps no count (as optax.scale), a schedule keeps its own
    assert jaxgd.sgd(0.1).init(PARAMS) == transforms.ScaleByLearningRateState(None)
    assert int(optax.tree.get(jaxgd.sgd(SCHED).init(PARAMS), "schedule_count")) == 0


def test_reduce_on_plateau_lives_in_transforms_and_is_importable_from_schedules():
    assert schedules.reduce_on_plateau is transforms.reduce_on_plateau
    assert schedules.ReduceOnPlateauState is transforms.ReduceOnPlateauState
