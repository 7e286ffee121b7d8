"""Hyperparameters as pytree leaves: :class:`Recipe`, the base of :class:`Optimizer` and :class:`Schedule`.

optax closes its transforms over Python floats, which ``jit`` bakes into the
compiled program: a new learning rate means a new compilation (optax issue 577).
jaxgd keeps the *recipe* instead: the factory and the arguments it was called
with, as a pytree. So

* ``jit`` sees hyperparameters as arguments: a new value of the same shape and
  dtype reuses the compiled program;
* ``vmap`` and ``jax.tree.map`` reach the hyperparameters directly;
* a schedule passed as a hyperparameter is itself a recipe, and its own
  parameters are leaves too.

The pytree children are every argument not declared static, whatever its type
(float, array, None, a schedule, a plain callable, an optax transform), in
signature order; the aux data are the factory and the declared static options.
The treedef therefore depends on the factory and those options only, never on
the leaves' values or types: ``jax.tree.map(lambda _: True, opt)`` has the
structure of ``opt``, and equinox-style partition/combine round-trips. Non-array
children (a lambda, a string) are not valid ``jax.jit`` arguments: enter ``jit``
with :func:`jaxgd._core.filter_jit`, which makes them static.

Construction through the public factory binds the arguments to its signature and
checks the concrete ones (an optimizer by building its transform, which it keeps;
a schedule by its ``validate`` callback). Unflattening never calls the factory:
JAX unflattens with placeholder leaves (None, ``object()``, tracers).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

import jax
import numpy as np
import optax

from jaxgd._core import Static, combine, is_array_leaf, partition

__all__ = [
    "Optimizer",
    "Recipe",
    "Schedule",
    "Static",
    "combine",
    "is_array_leaf",
    "optimizer",
    "partition",
    "schedule",
]

P = ParamSpec("P")


class _Factory:
    """What a decorated factory shares with all its recipes; compared by identity.

    ``fn`` is the undecorated function, ``public`` the decorated one (what users
    call, what pickle finds by module and qualified name), ``signature`` the
    public signature (a schedule's without ``count``).
    """

    def __init__(self, fn: Callable, signature: inspect.Signature, static_argnames: tuple[str, ...], recipe_cls: type):
        names = tuple(signature.parameters)
        unknown = [n for n in static_argnames if n not in names]
        if unknown:
            raise ValueError(f"static_argnames {unknown} are not arguments of {fn.__qualname__}{signature}")
        self.fn, self.signature, self.recipe_cls = fn, signature, recipe_cls
        self.argnames = names
        self.static_argnames = tuple(n for n in names if n in static_argnames)
        self.dynamic_argnames = tuple(n for n in names if n not in static_argnames)
        self.public: Callable = fn
        self.validate: Callable | None = None

    def call_args(self, arguments: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
        bound = inspect.BoundArguments(self.signature, arguments)  # type: ignore[arg-type]
        return bound.args, bound.kwargs

    @functools.cached_property
    def qualified_name(self) -> str:
        # The shortest public path: jaxgd.adam rather than jaxgd.optimizers.adam.
        module, name = self.public.__module__, self.public.__qualname__
        package = sys.modules.get(module.split(".")[0])
        if getattr(package, name, None) is self.public:
            return f"{package.__name__}.{name}"
        return f"{module}.{name}"

    def __repr__(self) -> str:
        return self.qualified_name

    def __reduce__(self) -> tuple:
        return (_factory_of, (self.public,))


def _factory_of(public: Callable) -> _Factory:
    return public.__jaxgd_factory__  # type: ignore[attr-defined]


def _restore(public: Callable, arguments: dict[str, Any]) -> Recipe:
    factory = _factory_of(public)
    return factory.recipe_cls._create(factory, arguments)


class Recipe:
    """A factory and the arguments it was called with, as a pytree of its non-static arguments.

    The one base of :class:`Optimizer` and :class:`Schedule`: one flatten/unflatten
    (registered for every subclass), one ``__eq__``/``__hash__`` (by factory,
    static options and leaf values; traced leaves by identity), one ``__repr__``
    (the public factory's call, ``jaxgd.adam(learning_rate=0.001, ...)``), and
    pickling by the public factory's name. Immutable; the arguments are also
    readable as attributes (``opt.learning_rate``), as in the pytree key paths.
    """

    __slots__ = ()
    _factory: _Factory
    _arguments: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        jax.tree_util.register_pytree_with_keys(cls, _flatten_with_keys, cls._unflatten, _flatten)

    # -- construction: the subclass makes the object; _create also checks concrete arguments

    @classmethod
    def _from_arguments(cls, factory: _Factory, arguments: dict[str, Any]) -> Recipe:
        raise NotImplementedError

    def _check(self) -> None:
        raise NotImplementedError

    @classmethod
    def _create(cls, factory: _Factory, arguments: dict[str, Any]) -> Recipe:
        recipe = cls._from_arguments(factory, arguments)
        recipe._check()
        return recipe

    @classmethod
    def _unflatten(cls, aux: tuple, children: Any) -> Recipe:
        factory, statics = aux
        given = dict(zip(factory.dynamic_argnames, children))
        given.update(zip(factory.static_argnames, statics))
        return cls._from_arguments(factory, {n: given[n] for n in factory.argnames})

    # -- reading

    @property
    def hyperparams(self) -> dict[str, Any]:
        """All arguments the recipe was made with, by name, in signature order."""
        return dict(self._arguments)

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_"):
            arguments = self.__dict__.get("_arguments", {})
            if name in arguments:
                return arguments[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: make a new one with its factory")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    # -- equality, hashing, printing, pickling

    def _key(self) -> tuple:
        arrays, static = partition(self)
        values = tuple(
            ("traced", id(a)) if isinstance(a, jax.core.Tracer) else _value_key(np.asarray(a)) for a in arrays
        )
        return (static, values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Recipe):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        parts = []
        for name, param in self._factory.signature.parameters.items():
            value = self._arguments[name]
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                parts.extend(repr(v) for v in value)
            else:
                parts.append(f"{name}={value!r}")
        return f"{self._factory.qualified_name}({', '.join(parts)})"

    def __reduce__(self) -> tuple:
        return (_restore, (self._factory.public, self._arguments))


def _value_key(a: np.ndarray) -> tuple:
    return (a.dtype.str, a.shape, a.tobytes())


def _flatten(recipe: Recipe) -> tuple[tuple, tuple]:
    factory, arguments = recipe._factory, recipe._arguments
    children = tuple(arguments[n] for n in factory.dynamic_argnames)
    return children, (factory, tuple(arguments[n] for n in factory.static_argnames))


def _flatten_with_keys(recipe: Recipe) -> tuple[tuple, tuple]:
    children, aux = _flatten(recipe)
    names = recipe._factory.dynamic_argnames
    return tuple((jax.tree_util.GetAttrKey(n), c) for n, c in zip(names, children)), aux


class _Built:
    """The optax transform of one :class:`Optimizer`, built on first use and kept (the recipe is immutable)."""

    __slots__ = ("_arguments", "_factory", "_transform")

    def __init__(self, factory: _Factory, arguments: dict[str, Any]):
        self._factory, self._arguments = factory, arguments
        self._transform: optax.GradientTransformationExtraArgs | None = None

    def transform(self) -> optax.GradientTransformationExtraArgs:
        if self._transform is None:
            args, kwargs = self._factory.call_args(self._arguments)
            self._transform = optax.with_extra_args_support(self._factory.fn(*args, **kwargs))
        return self._transform

    def init(self, params: optax.Params) -> optax.OptState:
        self._check_shapes(params)
        return self.transform().init(params)

    def _check_shapes(self, params: optax.Params) -> None:
        """An array hyperparameter (a per-coordinate learning rate) must broadcast to every leaf of params."""
        leaves = [np.shape(p) for p in jax.tree.leaves(params)]
        for name, value in self._arguments.items():
            shape = np.shape(value) if isinstance(value, (np.ndarray, np.generic, jax.Array)) else ()
            if not shape:
                continue
            for leaf in leaves:
                try:
                    ok = np.broadcast_shapes(shape, leaf) == leaf
                except ValueError:
                    ok = False
                if not ok:
                    raise ValueError(
                        f"{self._factory.qualified_name}: {name} has shape {shape}, which does not broadcast to a "
                        f"parameter of shape {leaf}"
                    )

    def update(
        self, updates: optax.Updates, state: optax.OptState, params: optax.Params | None = None, **extra_args: Any
    ) -> tuple[optax.Updates, optax.OptState]:
        return self.transform().update(updates, state, params, **extra_args)


class Optimizer(Recipe, optax.GradientTransformationExtraArgs):
    """An ``optax.GradientTransformationExtraArgs`` that is also a pytree of its hyperparameters.

    It drops into ``optax.chain``, ``optax.apply_updates`` and any optax-based
    training loop. Its transform is built once, on first use; ``jit`` treats its
    array leaves as arguments (no recompilation for a new value) and ``vmap`` can
    map over them. Made by factories decorated with :func:`optimizer`.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Optimizer:
        raise TypeError("an Optimizer is made by a factory decorated with jaxgd._recipe.optimizer")

    @classmethod
    def _from_arguments(cls, factory: _Factory, arguments: dict[str, Any]) -> Optimizer:
        built = _Built(factory, arguments)
        self = tuple.__new__(cls, (built.init, built.update))
        self.__dict__.update(_factory=factory, _arguments=arguments, _built=built)
        return self

    def _check(self) -> None:
        self.__dict__["_built"].transform()  # the transforms check their concrete arguments


class Schedule(Recipe):
    """A hyperparameter schedule: a pure function of the step count, and a pytree of its parameters.

    Made by functions ``fn(count, **params)`` decorated with :func:`schedule`.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Schedule:
        raise TypeError("a Schedule is made by a function decorated with jaxgd._recipe.schedule")

    @classmethod
    def _from_arguments(cls, factory: _Factory, arguments: dict[str, Any]) -> Schedule:
        self = object.__new__(cls)
        self.__dict__.update(_factory=factory, _arguments=arguments)
        return self

    def _check(self) -> None:
        if self._factory.validate is not None:
            self._factory.validate(**self._arguments)

    def __call__(self, count: jax.typing.ArrayLike) -> jax.Array:
        args, kwargs = self._factory.call_args(self._arguments)
        return self._factory.fn(count, *args, **kwargs)


def _host_scalar(value: Any) -> Any:
    """A concrete 0-d ``jax.Array`` as a NumPy scalar of the same dtype; anything else as it is.

    It stays a pytree leaf (traced under ``jit``, mapped by ``vmap``), but a NumPy scalar is not "data" to
    ``flax.nnx``, which keeps its optimizer's transform as a static attribute: so
    ``nnx.Optimizer(model, jaxgd.adam(jnp.asarray(1e-3)), wrt=nnx.Param)`` works.
    """
    if isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer) and value.ndim == 0:
        return np.asarray(value)[()]
    return value


def _public(factory: _Factory, fn: Callable) -> Callable:
    """The function users call: binds its arguments, checks them and returns the recipe."""

    def public(*args: Any, **kwargs: Any) -> Any:
        bound = factory.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = {n: _host_scalar(v) for n, v in bound.arguments.items()}
        try:
            return factory.recipe_cls._create(factory, arguments)
        except (TypeError, ValueError) as err:
            if type(err) not in (TypeError, ValueError) or str(err).startswith("jaxgd."):
                raise
            raise type(err)(f"{factory.qualified_name}: {err}") from None  # name the function as well as the argument

    functools.update_wrapper(public, fn)
    public.__signature__ = factory.signature  # type: ignore[attr-defined]
    public.__annotations__ = {  # the public return type, for help() and typing.get_type_hints
        **{n: p.annotation for n, p in factory.signature.parameters.items() if p.annotation is not p.empty},
        "return": factory.recipe_cls,
    }
    public.__jaxgd_factory__ = factory  # type: ignore[attr-defined]
    factory.public = public
    return public


def optimizer(
    *, static_argnames: tuple[str, ...] = ()
) -> Callable[[Callable[P, optax.GradientTransformation]], Callable[P, Optimizer]]:
    """Decorate a factory returning an optax transform so that it returns an :class:`Optimizer`.

    Arguments named in ``static_argnames`` (options such as a sign convention)
    are static: part of the treedef, not leaves. The factory is called once, at
    construction, so bad concrete input fails there; the transform is kept.

    Args:
        static_argnames: The factory's arguments that are static options, not leaves.

    Returns:
        The decorator: it takes the factory and returns the public function, of the same signature,
            returning an :class:`Optimizer`.

    Raises:
        ValueError: When it decorates, if a name in static_argnames is not an argument of the factory.
    """

    def decorate(fn: Callable[P, optax.GradientTransformation]) -> Callable[P, Optimizer]:
        signature = inspect.signature(fn).replace(return_annotation=Optimizer)
        return _public(_Factory(fn, signature, tuple(static_argnames), Optimizer), fn)

    return decorate


def schedule(
    *, static_argnames: tuple[str, ...] = (), validate: Callable[..., None] | None = None
) -> Callable[[Callable[Concatenate[Any, P], jax.Array]], Callable[P, Schedule]]:
    """Decorate ``fn(count, **params)`` so that ``fn(**params)`` returns a :class:`Schedule`.

    ``validate(**params)`` checks concrete parameters at construction.

    Args:
        static_argnames: Parameters that are static options, not leaves.
        validate: ``validate(**params)``, raising on bad concrete values; None: no check.

    Returns:
        The decorator: it takes ``fn`` and returns the public function, of ``fn``'s signature less
            ``count``, returning a :class:`Schedule`.

    Raises:
        ValueError: When it decorates, if a name in static_argnames is not a parameter of ``fn``.
    """

    def decorate(fn: Callable[Concatenate[Any, P], jax.Array]) -> Callable[P, Schedule]:
        sig = inspect.signature(fn)
        signature = sig.replace(parameters=list(sig.parameters.values())[1:], return_annotation=Schedule)
        factory = _Factory(fn, signature, tuple(static_argnames), Schedule)
        factory.validate = validate
        return _public(factory, fn)

    return decorate
