"""What every loop of jaxgd shares, at the bottom of the import graph.

* :func:`partition` / :func:`combine`: a pytree split into its array leaves and a
  hashable rest (functions, strings, static options), as ``equinox.partition`` does.
* :func:`filter_jit`: the one way jaxgd enters ``jit`` with such a pytree.
* :func:`evaluate`, :func:`optimizer_update`, :func:`update_step`: one optimizer step,
  with the extra arguments (``value``, ``grad``, ``value_fn``) that
  ``optax.GradientTransformationExtraArgs`` transforms take.
* tree helpers: :func:`tree_norm`, :func:`real_dtype`, :func:`flat_hessian`,
  :func:`eval_counts`; hyperparameters: :data:`Hyperparameter`, :func:`value_at`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

__all__ = [
    "Hyperparameter",
    "Static",
    "Step",
    "combine",
    "eval_counts",
    "evaluate",
    "filter_jit",
    "flat_hessian",
    "is_array_leaf",
    "objective_of",
    "optimizer_update",
    "partition",
    "real_dtype",
    "start_of",
    "tree_norm",
    "update_step",
    "value_at",
]

# --------------------------------------------------------------------------- hyperparameters

Hyperparameter = float | jax.typing.ArrayLike | Callable[[jax.Array], jax.Array]


def value_at(h: Hyperparameter, count: jax.Array) -> jax.Array:
    """The hyperparameter's value at step ``count``: ``h(count)`` for a schedule, else ``h``.

    Args:
        h: A number, an array or a schedule (a callable of the step count).
        count: The step count.

    Returns:
        ``h(count)`` or ``h``.
    """
    return h(count) if callable(h) else h


# --------------------------------------------------------------------------- partition / combine


def is_array_leaf(x: Any) -> bool:
    """True for values ``jit`` can take as traced arguments (numbers and arrays; not bools).

    Args:
        x: A pytree leaf.

    Returns:
        Whether ``x`` is a number or an array.
    """
    if isinstance(x, bool):
        return False
    return isinstance(x, (int, float, complex, np.ndarray, np.generic, jax.Array, jax.core.Tracer))


class _ByIdentity:
    """Wraps an unhashable leaf: equal only to itself (``is``), hashed by ``id``.

    A key that holds it keeps the object alive, so its ``id`` cannot be reused
    while a compiled program is cached under it.
    """

    __slots__ = ("obj",)

    def __init__(self, obj: Any):
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByIdentity) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __repr__(self) -> str:
        return f"<by identity: {type(self.obj).__name__}>"


def _hashable(leaf: Any) -> Hashable:
    try:
        hash(leaf)
    except TypeError:
        return _ByIdentity(leaf)
    return leaf


class Static:
    """The hashable, non-array part of a pytree split by :func:`partition`.

    Leaves that cannot be hashed are compared by identity (see :func:`filter_jit`).

    Args:
        treedef: The pytree's structure.
        mask: For each leaf, in order, whether it is an array leaf.
        others: The other leaves, in order (each hashable, or wrapped to compare by identity).
    """

    __slots__ = ("mask", "others", "treedef")

    def __init__(self, treedef: Any, mask: tuple[bool, ...], others: tuple[Hashable, ...]):
        self.treedef = treedef
        self.mask = mask
        self.others = others

    def _key(self) -> tuple:
        return (self.treedef, self.mask, self.others)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Static) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Static({self.treedef}, others={self.others})"


def partition(tree: Any) -> tuple[list[Any], Static]:
    """Split a pytree into its array leaves and a hashable :class:`Static` rest.

    Callables, strings and other non-array leaves (a plain optax transform's
    functions, a lambda schedule) go into the static part, as equinox's
    ``partition`` does.

    Args:
        tree: Any pytree.

    Returns:
        ``(arrays, static)``: the array leaves, in order, and the :class:`Static` rest.
    """
    leaves, treedef = jax.tree.flatten(tree)
    mask = tuple(is_array_leaf(leaf) for leaf in leaves)
    arrays = [leaf for leaf, m in zip(leaves, mask) if m]
    others = tuple(_hashable(leaf) for leaf, m in zip(leaves, mask) if not m)
    return arrays, Static(treedef, mask, others)


def combine(arrays: list[Any], static: Static) -> Any:
    """Inverse of :func:`partition`: ``combine(*partition(tree))`` is ``tree``.

    Args:
        arrays: The array leaves (or values standing for them: tracers, placeholders), in order.
        static: The :class:`Static` rest.

    Returns:
        The pytree.
    """
    arrays_it, others_it = iter(arrays), iter(static.others)
    leaves = []
    for m in static.mask:
        leaf = next(arrays_it) if m else next(others_it)
        leaves.append(leaf.obj if isinstance(leaf, _ByIdentity) else leaf)
    return jax.tree.unflatten(static.treedef, leaves)


def filter_jit(fn: Callable | None = None, *, static_argnames: tuple[str, ...] = ()) -> Callable:
    """``jit`` for ``fn(tree, *args, **kwargs)`` whose first argument may hold non-array leaves.

    ``tree`` is split by :func:`partition`: its array leaves (hyperparameters, a
    problem's data) are traced, so new values of the same shapes reuse the
    compiled program; its other leaves (functions, options) are static. The
    remaining positional arguments are traced; keyword arguments named in
    ``static_argnames`` are static.

    The rule for static leaves that cannot be hashed (an object defining ``__eq__``
    without ``__hash__``, a set): they are keyed by identity. The same object
    reuses its compiled program; an equal copy compiles anew. Nothing is lost
    but the cache hit.

    Args:
        fn: The function; None to use ``filter_jit(static_argnames=...)`` as a decorator.
        static_argnames: Keyword arguments of ``fn`` that are static (hashable).

    Returns:
        The jitted function (``.jitted`` is the underlying ``jax.jit``), or a decorator when ``fn`` is None.
    """
    if fn is None:
        return functools.partial(filter_jit, static_argnames=static_argnames)

    @functools.partial(jax.jit, static_argnames=("_static", *static_argnames))
    def jitted(_dynamic: list, _static: Static, *args: Any, **kwargs: Any) -> Any:
        return fn(combine(_dynamic, _static), *args, **kwargs)

    @functools.wraps(fn)
    def call(tree: Any, *args: Any, **kwargs: Any) -> Any:
        dynamic, static = partition(tree)
        return jitted(dynamic, static, *args, **kwargs)

    call.jitted = jitted  # type: ignore[attr-defined]  # the underlying jit
    call._cache_size = jitted._cache_size  # type: ignore[attr-defined]  # compiled programs, as jax.jit reports
    return call


# --------------------------------------------------------------------------- one optimizer step


def objective_of(loss: Any) -> Any:
    """The computation behind a loss: a :class:`jaxgd.Problem`'s ``objective`` (its function and array data,
    without its name, start or plotting box), else ``loss`` itself.

    Entry points (``run``, ``sweep``, ``minimize``, the analysis) call it before entering ``jit``, so problems
    that differ only in their data or description (``ravine(10)``, ``ravine(50)``) share one compilation.

    Args:
        loss: A :class:`jaxgd.Problem` or any callable.

    Returns:
        The callable to trace.
    """
    objective = getattr(loss, "__jaxgd_objective__", None)
    return loss if objective is None else objective()


def start_of(loss: Any) -> Any:
    """A loss's default start: its own ``x0`` (a :class:`jaxgd.Problem`'s, a finite sum's, a noisy problem's),
    else its exact objective's (``loss.full.x0``: a mini-batch loss's finite sum), else None.

    Args:
        loss: A problem, a stochastic loss or any callable.

    Returns:
        The start (a pytree), or None where the loss has none.
    """
    own = getattr(loss, "x0", None)
    return own if own is not None else getattr(getattr(loss, "full", None), "x0", None)


def evaluate(loss_fn: Callable, params: Any, args: tuple = (), has_aux: bool = False) -> tuple[jax.Array, Any, Any]:
    """``(f, grad f, aux)`` of ``loss_fn(params, *args)``, by one ``jax.value_and_grad``.

    Args:
        loss_fn: ``loss_fn(params, *args)`` -> scalar (``(scalar, aux)`` with ``has_aux``).
        params: Where to evaluate, a pytree.
        args: Extra arguments of ``loss_fn``.
        has_aux: Whether ``loss_fn`` returns ``(value, aux)``.

    Returns:
        ``(value, grad, aux)``; aux is None unless ``has_aux``.
    """
    if has_aux:
        (value, aux), grad = jax.value_and_grad(loss_fn, has_aux=True)(params, *args)
        return value, grad, aux
    value, grad = jax.value_and_grad(loss_fn)(params, *args)
    return value, grad, None


def optimizer_update(
    optimizer: optax.GradientTransformation,
    grad: Any,
    state: Any,
    params: Any,
    *,
    value: jax.Array | None = None,
    value_fn: Callable | None = None,
) -> tuple[Any, Any]:
    """``optimizer.update``, given ``value``, ``grad`` and ``value_fn`` when it takes extra arguments.

    Line searches and reduce-on-plateau read them, as ``optax.lbfgs`` does; a plain
    ``GradientTransformation`` is called with ``(grad, state, params)`` only.

    Args:
        optimizer: Any optax gradient transformation.
        grad: grad f(x), the incoming updates.
        state: The optimizer's state.
        params: x.
        value: f(x), if known.
        value_fn: ``x -> f(x)``, for line searches.

    Returns:
        ``(updates, new_state)``, as ``optimizer.update``.
    """
    if isinstance(optimizer, optax.GradientTransformationExtraArgs):
        return optimizer.update(grad, state, params, value=value, grad=grad, value_fn=value_fn)
    return optimizer.update(grad, state, params)


class Step(NamedTuple):
    """The result of :func:`update_step`: x_{t+1}, the new state, u_t, and f, grad f, aux at x_t."""

    params: Any
    state: Any
    updates: Any
    value: jax.Array | None
    grad: Any
    aux: Any


def update_step(
    optimizer: optax.GradientTransformation,
    loss_fn: Callable,
    params: Any,
    state: Any,
    args: tuple = (),
    *,
    has_aux: bool = False,
    value_grad: tuple[Any, Any] | None = None,
    scale: jax.Array | None = None,
) -> Step:
    """One step x_{t+1} = x_t + u_t of ``optimizer`` on ``loss_fn(x, *args)``.

    ``value_grad``: ``(f(x_t), grad f(x_t))`` when the caller has them already
    (``f`` may be None for a plain transform); else they are computed here.
    ``value_fn`` (for line searches) is ``x -> loss_fn(x, *args)``, returning
    ``(value, aux)`` when ``has_aux``. ``scale`` multiplies u_t before it is applied
    (a plateau factor); it is returned scaled.

    Args:
        optimizer: Any optax gradient transformation.
        loss_fn: ``loss_fn(x, *args)`` -> scalar (``(scalar, aux)`` with ``has_aux``).
        params: x_t.
        state: The optimizer's state at x_t.
        args: Extra arguments of ``loss_fn`` (a batch, a key).
        has_aux: Whether ``loss_fn`` returns ``(value, aux)``.
        value_grad: ``(f(x_t), grad f(x_t))`` if known; None: computed here.
        scale: A factor on u_t; None: 1.

    Returns:
        x_{t+1}, the new state, u_t, and f, grad f, aux at x_t, as a :class:`Step`.
    """
    if value_grad is None:
        value, grad, aux = evaluate(loss_fn, params, args, has_aux)
    else:
        (value, grad), aux = value_grad, None
    value_fn = functools.partial(_call_with, loss_fn, args) if args else loss_fn
    updates, state = optimizer_update(optimizer, grad, state, params, value=value, value_fn=value_fn)
    if scale is not None:
        updates = jax.tree.map(lambda u: (scale * u).astype(u.dtype), updates)
    return Step(optax.apply_updates(params, updates), state, updates, value, grad, aux)


def _call_with(loss_fn: Callable, args: tuple, x: Any) -> Any:
    return loss_fn(x, *args)


# --------------------------------------------------------------------------- tree helpers


def tree_norm(tree: Any) -> jax.Array:
    """Euclidean norm of all leaves of a pytree taken together (``optax.tree.norm``): sqrt(sum_i |x_i|^2).

    Args:
        tree: A pytree of arrays.

    Returns:
        The norm, a scalar.
    """
    return optax.tree.norm(tree)


def real_dtype(params: Any) -> Any:
    """The real dtype of ``params``' first leaf (float32 for complex64).

    Args:
        params: A pytree with at least one array leaf.

    Returns:
        The dtype.
    """
    return jnp.real(jnp.empty((), jax.tree.leaves(params)[0].dtype)).dtype


def flat_hessian(f: Callable, params: Any, args: tuple = ()) -> jax.Array:
    """The (n, n) Hessian of ``f(params, *args)`` in the coordinates of ``ravel_pytree(params)``.

    Args:
        f: ``f(params, *args)`` -> scalar.
        params: Where to evaluate, a pytree with n entries in all.
        args: Extra arguments of ``f``.

    Returns:
        The Hessian, an (n, n) array.
    """
    flat, unravel = ravel_pytree(params)
    return jax.hessian(lambda v: f(unravel(v), *args))(flat)


_COUNTERS = ("n_fev", "n_gev", "n_hev")


def eval_counts(state: Any) -> dict[str, jax.Array]:
    """Evaluations recorded in an optimizer state: the sum of every ``n_fev``, ``n_gev``, ``n_hev`` field.

    Found with ``optax.tree.get_all_with_path``, so any nesting (chains, wrappers) works.

    Args:
        state: An optimizer state.

    Returns:
        ``{"n_fev": ..., "n_gev": ..., "n_hev": ...}``, int32 scalars (0 where none is recorded).
    """
    totals = {}
    for name in _COUNTERS:
        found = optax.tree.get_all_with_path(state, name)
        total = jnp.zeros([], jnp.int32)
        for _, v in found:
            total = total + jnp.asarray(v, jnp.int32)
        totals[name] = total
    return totals
