"""Hyperparameters as pytree leaves.

optax closes its transforms over Python floats, which ``jit`` bakes into the
compiled program: a new learning rate means a new compilation (optax issue 577).
jaxgd instead keeps the *recipe* of an optimizer or schedule, the factory and
its arguments, as a pytree whose leaves are the numeric hyperparameters and
whose static part is the factory and its non-numeric arguments. So

* ``jit`` sees hyperparameters as arguments: a new value of the same shape and
  dtype reuses the compiled program;
* ``vmap`` and ``jax.tree.map`` reach the hyperparameters directly;
* a schedule passed as a hyperparameter is itself a recipe, and its own
  parameters are leaves too.

Unflattening never calls the factory: the transform is built when ``init`` or
``update`` runs, so JAX may unflatten recipes with placeholder leaves.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import optax

from jaxgd._core import Static, combine, is_array_leaf, partition

__all__ = ["Optimizer", "Schedule", "Static", "combine", "is_array_leaf", "partition"]


class _Recipe:
    """Mixin: a factory, its static keyword arguments and its dynamic ones."""

    def _init_recipe(self, factory: Callable, static: dict, dynamic: dict) -> None:
        self._factory = factory
        self._static = static
        self._dynamic = dynamic

    @property
    def hyperparams(self) -> dict[str, Any]:
        """All arguments the recipe was built with, by name."""
        return {**self._static, **self._dynamic}

    def _flatten(self) -> tuple[list[Any], tuple]:
        arrays, rest = partition(self._dynamic)
        aux = (self._factory, tuple(sorted(self._static.items())), rest)
        return arrays, aux

    @staticmethod
    def _unflatten_parts(aux: tuple, arrays: list[Any]) -> tuple[Callable, dict, dict]:
        factory, static_items, rest = aux
        return factory, dict(static_items), combine(list(arrays), rest)

    def _args_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hyperparams.items())


class Optimizer(optax.GradientTransformationExtraArgs, _Recipe):
    """An ``optax.GradientTransformationExtraArgs`` that is also a pytree of its hyperparameters.

    It drops into ``optax.chain``, ``optax.apply_updates`` and any optax-based
    training loop. Its pytree leaves are its numeric hyperparameters, so ``jit``
    treats them as arguments (no recompilation for a new value) and ``vmap`` can
    map over them.
    """

    def __new__(cls, factory: Callable, static: dict, dynamic: dict) -> Optimizer:
        def build() -> optax.GradientTransformationExtraArgs:
            return optax.with_extra_args_support(factory(**static, **dynamic))

        def init_fn(params: optax.Params) -> optax.OptState:
            return build().init(params)

        def update_fn(updates, state, params=None, **extra_args):
            return build().update(updates, state, params, **extra_args)

        self = super().__new__(cls, init_fn, update_fn)
        self._init_recipe(factory, static, dynamic)
        return self

    def __reduce__(self):
        return (type(self), (self._factory, self._static, self._dynamic))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Optimizer):
            return NotImplemented
        return _recipe_key(self) == _recipe_key(other)

    def __hash__(self) -> int:
        return hash(self._flatten()[1])

    def __repr__(self) -> str:
        return f"{self._factory.__name__}({self._args_repr()})"


class Schedule(_Recipe):
    """A learning-rate (or any hyperparameter) schedule: a pure function of the step count.

    A pytree of its own parameters, so they may be traced and swept.
    """

    def __init__(self, factory: Callable, static: dict, dynamic: dict):
        self._init_recipe(factory, static, dynamic)

    def __call__(self, count: jax.typing.ArrayLike) -> jax.Array:
        return self._factory(count, **self._static, **self._dynamic)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return _recipe_key(self) == _recipe_key(other)

    def __hash__(self) -> int:
        return hash(self._flatten()[1])

    def __repr__(self) -> str:
        return f"{self._factory.__name__}({self._args_repr()})"


def _recipe_key(r: _Recipe) -> tuple:
    arrays, aux = r._flatten()
    if any(isinstance(a, jax.core.Tracer) for a in arrays):
        return (*aux, id(r))
    values = tuple((np.asarray(a).dtype.str, np.asarray(a).shape, np.asarray(a).tobytes()) for a in arrays)
    return (*aux, values)


def _register(cls: type) -> None:
    def flatten(r):
        return r._flatten()

    def unflatten(aux, arrays):
        return cls(*_Recipe._unflatten_parts(aux, arrays))

    jax.tree_util.register_pytree_node(cls, flatten, unflatten)


_register(Optimizer)
_register(Schedule)


def _bind(fn: Callable, static_argnames: tuple[str, ...], args: tuple, kwargs: dict) -> tuple[dict, dict]:
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    static = {k: arguments.pop(k) for k in static_argnames if k in arguments}
    return static, arguments


def optimizer(*, static_argnames: tuple[str, ...] = ()) -> Callable:
    """Decorate a factory returning a GradientTransformation so it returns an :class:`Optimizer`.

    The factory validates its concrete arguments (it is called once here, so bad
    input fails at construction) and is called again, with traced values, each
    time the transform is traced.
    """

    def decorate(factory: Callable) -> Callable[..., Optimizer]:
        @functools.wraps(factory)
        def wrapper(*args: Any, **kwargs: Any) -> Optimizer:
            static, dynamic = _bind(factory, static_argnames, args, kwargs)
            factory(**static, **dynamic)  # validate early
            return Optimizer(factory, static, dynamic)

        return wrapper

    return decorate


def schedule(*, static_argnames: tuple[str, ...] = (), validate: Callable | None = None) -> Callable:
    """Decorate ``fn(count, **params)`` so that ``fn(**params)`` returns a :class:`Schedule`."""

    def decorate(fn: Callable) -> Callable[..., Schedule]:
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())[1:]
        public_sig = sig.replace(parameters=params, return_annotation=Schedule)

        def wrapper(*args: Any, **kwargs: Any) -> Schedule:
            bound = public_sig.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            if validate is not None:
                validate(**arguments)
            static = {k: arguments.pop(k) for k in static_argnames if k in arguments}
            return Schedule(fn, static, arguments)

        functools.update_wrapper(wrapper, fn)
        wrapper.__signature__ = public_sig  # type: ignore[attr-defined]
        return wrapper

    return decorate
