"""From :func:`jaxgd.sweep`'s arguments to what its compiled chunk takes: the plan and the arrays.

:func:`prepare` checks the arguments, stacks the problems' data, lays out the starts,
casts the space's columns and makes the backend's speed choices (:mod:`jaxgd.sweeps.backend`).
``sweep`` calls it, then runs ``engine.sweep_chunk(columns[chunk], *shared, plan=plan)``
chunk after chunk; benchmarks call it to time or compile one chunk of their own.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgd import _validate
from jaxgd._core import Static, combine, objective_of, optimizer_update, partition
from jaxgd.problems import Problem
from jaxgd.sweeps import backend, engine
from jaxgd.sweeps.space import Space, as_space, check_factory

__all__ = ["Prepared", "prepare"]


class Prepared(NamedTuple):
    """A sweep ready to run.

    Attributes:
      plan: the chunk's static part (:class:`jaxgd.sweeps.engine.Plan`).
      space: the space swept.
      columns: one (C,) array per hyperparameter, in the runs' real dtype (int32 for integers).
      shared: the chunk's other arguments, the same for every chunk:
        ``(loss_dynamic, x0_table, tol, blowup, blowup_floor, max_loss)``.
      first_x0: the first start point (shapes and dtypes of an iterate).
      real: the real dtype of the runs.
      num_problems, num_starts: P and S.
      loss_jaxpr: the loss's closed jaxpr at the first problem's data and start (abstract).
      optimizer_jaxpr: the optimizer's ``init`` and ``update`` as one closed jaxpr, the space's names traced.
    """

    plan: engine.Plan
    space: Space
    columns: tuple[np.ndarray, ...]
    shared: tuple
    first_x0: Any
    real: Any
    num_problems: int
    num_starts: int
    loss_jaxpr: Any = None
    optimizer_jaxpr: Any = None

    def run(self, **plan_changes: Any) -> engine.Summary:
        """Every configuration in one chunk, ``plan`` changed by ``plan_changes`` (e.g. ``unroll_sums=False``)."""
        return engine.sweep_chunk(self.columns, *self.shared, plan=self.changed(**plan_changes))

    def lower(self, **plan_changes: Any) -> Any:
        """:meth:`run` lowered (``jax.jit(...).lower``), to compile or inspect it."""
        return engine.sweep_chunk.lower(self.columns, *self.shared, plan=self.changed(**plan_changes))

    def changed(self, **plan_changes: Any) -> engine.Plan:
        """``plan`` with some fields replaced."""
        return dataclasses.replace(self.plan, **plan_changes)


def prepare(
    make_optimizer: Callable[..., optax.GradientTransformation],
    problem: Any,
    space: Space | Mapping[str, Any],
    steps: int,
    *,
    x0: Any = None,
    x0s: Any = None,
    tol: float | None = None,
    blowup: float | None = 1e4,
    blowup_floor: float = 1.0,
    max_loss: float | None = None,
    curve_every: int | None = None,
    keep_params: bool = True,
    block: int | None = None,
    platform: str | None = None,
) -> Prepared:
    """Check ``sweep``'s arguments (same meaning) and lay them out for :func:`jaxgd.sweeps.engine.sweep_chunk`.

    ``platform``: the devices' platform, for :func:`jaxgd.sweeps.backend.choices_for`
    (default: ``jax.default_backend()``).
    """
    block = _check_options(steps, curve_every, block, tol, blowup, blowup_floor, max_loss)
    space = as_space(space)
    check_factory(make_optimizer, space)
    losses, default_starts = _losses(problem)
    x0_table, num_starts = _starts(len(losses), default_starts, x0, x0s)
    first_x0 = jax.tree.map(lambda a: a[0, 0], x0_table)
    loss_dynamic, loss_static, loss_jaxpr, dyn_spec = _stack_losses(losses, first_x0)

    dtype = jnp.result_type(*[a.dtype for a in jax.tree.leaves(first_x0)])
    real = jnp.finfo(dtype).dtype
    columns = tuple(v.astype(real) if v.dtype.kind == "f" else v.astype(np.int32) for v in space.columns.values())
    optimizer_jaxpr = _optimizer_jaxpr(make_optimizer, space, columns, loss_static, dyn_spec, spec(first_x0))
    scalar = functools.partial(jnp.asarray, dtype=real)
    tol_a, blowup_a = scalar(tol if tol is not None else -np.inf), scalar(blowup if blowup is not None else np.inf)
    max_loss_a = scalar(max_loss if max_loss is not None else np.inf)
    floor_a = scalar(blowup_floor)

    choices = backend.choices_for(platform if platform is not None else jax.default_backend())
    plan = engine.Plan(
        make_optimizer=make_optimizer,
        names=space.names,
        loss_static=loss_static,
        many_problems=len(losses) > 1,
        many_starts=num_starts > 1,
        steps=steps,
        curve_every=curve_every,
        track_tol=tol is not None,
        keep_params=keep_params,
        block=block,
        unroll_sums=choices.unroll_sums,
        value_with_grad=choices.value_with_grad(loss_jaxpr),
    )
    shared = (loss_dynamic, x0_table, tol_a, blowup_a, floor_a, max_loss_a)
    return Prepared(plan, space, columns, shared, first_x0, real, len(losses), num_starts, loss_jaxpr, optimizer_jaxpr)


def _check_options(steps, curve_every, block, tol, blowup, blowup_floor, max_loss) -> int:
    """Validate the numeric options; returns ``block`` (its default filled in)."""
    _validate.positive_int("steps", steps)
    if curve_every is not None:
        _validate.positive_int("curve_every", curve_every)
    if block is None:
        block = engine.default_block(steps)
    _validate.positive_int("block", block)
    if tol is not None:
        _validate.finite("tol", tol)
    if blowup is not None:
        _validate.positive("blowup", blowup)
    _validate.positive("blowup_floor", blowup_floor)
    if max_loss is not None:
        _validate.finite("max_loss", max_loss)
    return block


def _losses(problem: Any) -> tuple[list[Any], list[Any] | None]:
    """Losses (callable pytrees) and their default starts (or None) from a Problem, a loss or a list of them."""
    items = list(problem) if isinstance(problem, (list, tuple)) else [problem]
    if not items:
        raise ValueError("an empty list of problems")
    losses, starts = [], []
    for p in items:
        if isinstance(p, Problem):
            losses.append(objective_of(p))
            starts.append(p.x0)
        elif callable(p):
            losses.append(p)
            starts.append(None)
        else:
            raise TypeError(f"a problem must be a jaxgd.Problem or a callable loss, got {type(p).__name__}")
    return losses, (None if any(s is None for s in starts) else starts)


def _starts(num_problems: int, default_starts: list | None, x0: Any, x0s: Any) -> tuple[Any, int]:
    """The start points as a table with leading axes (P, S), and S."""
    if x0 is not None and x0s is not None:
        raise ValueError("give x0 or x0s, not both")
    if x0 is not None:
        x0s = jax.tree.map(lambda a: jnp.asarray(a)[None], x0)
    if x0s is None and default_starts is None:
        raise ValueError("a loss that is not a jaxgd.Problem needs a start: pass x0 (or x0s)")
    if x0s is not None:
        _validate.float_tree("x0s", x0s)
        lead = {np.shape(a)[0] if np.ndim(a) else -1 for a in jax.tree.leaves(x0s)}
        if len(lead) != 1 or -1 in lead:
            raise ValueError(f"every leaf of x0s needs the same leading axis (one row per start), got {lead}")
        table = jax.tree.map(lambda a: jnp.broadcast_to(jnp.asarray(a), (num_problems, *jnp.shape(a))), x0s)
        return table, lead.pop()
    for s in default_starts:
        _validate.float_tree("the problem's x0", s)
    try:
        table = jax.tree.map(
            lambda *xs: np.stack([np.asarray(x, jnp.result_type(x)) for x in xs])[:, None], *default_starts
        )
    except ValueError as err:
        raise ValueError(f"the problems' starts differ in shape ({err}); pass x0s") from None
    return table, 1


def _stack_losses(losses: list[Any], x0: Any) -> tuple[Any, Static, Any, tuple]:
    """The losses' array data stacked on a leading problem axis (when several), their shared static part,
    the loss's closed jaxpr at ``x0`` (its output checked to be a scalar) and the :func:`spec` of one's data."""
    parts = [partition(loss) for loss in losses]
    loss_static = parts[0][1]
    for i, (dyn, st) in enumerate(parts[1:], 1):
        shapes0 = [(np.shape(a), jnp.result_type(a)) for a in parts[0][0]]
        if st != loss_static or [(np.shape(a), jnp.result_type(a)) for a in dyn] != shapes0:
            raise ValueError(
                f"problem {i} differs in structure from problem 0 (another function, or data of other shapes): "
                "problems swept together must differ only in the values of their data"
            )
    loss_dynamic = _stack([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    try:
        hash(loss_static)
    except TypeError:
        raise TypeError("the loss has unhashable static parts; make its arrays pytree leaves") from None
    dyn_spec = spec(parts[0][0])
    loss_jaxpr, loss_out = _loss_jaxpr(loss_static, dyn_spec, spec(x0))
    _validate.scalar(loss_out)
    return loss_dynamic, loss_static, loss_jaxpr, dyn_spec


def _stack(trees: list[Any]) -> Any:
    return jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *trees)


def spec(tree: Any) -> tuple:
    """A hashable stand-in for ``tree``'s structure, shapes and dtypes (weak types kept), for caches."""
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple(
        jax.ShapeDtypeStruct(np.shape(a), jnp.result_type(a), weak_type=bool(getattr(a, "weak_type", False)))
        for a in leaves
    )


def abstract(spec: tuple) -> Any:
    """The pytree of ``jax.ShapeDtypeStruct`` that :func:`spec` describes."""
    treedef, leaves = spec
    return jax.tree.unflatten(treedef, leaves)


_TRACER_ERRORS = (
    jax.errors.ConcretizationTypeError,  # TracerBoolConversionError among them
    jax.errors.TracerIntegerConversionError,
    jax.errors.TracerArrayConversionError,
)


def _optimizer_jaxpr(
    make_optimizer: Callable, space: Space, columns: tuple, loss_static: Static, dyn_spec: tuple, x0_spec: tuple
) -> Any:
    """The optimizer's ``init`` and one ``update`` as a closed jaxpr, the space's names traced as in the chunk.

    Traced before compiling, so that a name that cannot be swept (an option that selects code, such as
    rmsprop's ``centered``) fails here with its name, not as a tracer error inside the chunk. Cached as the
    compiled chunk is, by the factory and the shapes."""
    dtypes = tuple(c.dtype for c in columns)
    try:
        hash(make_optimizer)
    except TypeError:
        raise TypeError("make_optimizer must be hashable: it is a static argument of the compiled chunk") from None
    try:
        return _trace_optimizer(make_optimizer, space.names, dtypes, loss_static, dyn_spec, x0_spec, ())
    except _TRACER_ERRORS as err:
        trace = functools.partial(_trace_optimizer, make_optimizer, space.names, dtypes, loss_static, dyn_spec, x0_spec)
        raise ValueError(_unsweepable(space, trace, err)) from None


@functools.lru_cache(maxsize=64)
def _trace_optimizer(make_optimizer, names, dtypes, loss_static, dyn_spec, x0_spec, fixed: tuple) -> Any:
    """:func:`_optimizer_jaxpr` with the names in ``fixed`` (name, value) pairs given as Python values."""
    fixed_values = dict(fixed)

    def step(hp, dyn, x, grad, value):
        optimizer = make_optimizer(**hp, **fixed_values)
        value_fn = combine(dyn, loss_static)
        return optimizer_update(optimizer, grad, optimizer.init(x), x, value=value, value_fn=value_fn)

    hp = {n: jax.ShapeDtypeStruct((), d) for n, d in zip(names, dtypes) if n not in fixed_values}
    x = abstract(x0_spec)
    value = jax.ShapeDtypeStruct((), jnp.result_type(*jax.tree.leaves(x)))
    return jax.make_jaxpr(step)(hp, abstract(dyn_spec), x, x, value)


def _unsweepable(space: Space, trace: Callable, err: Exception) -> str:
    """Which of the space's names make_optimizer needs as fixed values: those with which, fixed, it traces."""
    first = {n: space.columns[n][0].item() for n in space.names}
    static = []
    for name in space.names:
        try:
            trace(tuple((n, v) for n, v in first.items() if n != name))
        except _TRACER_ERRORS:
            static.append(name)
    names = static or list(space.names)
    which = ", ".join(map(repr, names))
    reason = str(err).strip().splitlines()[0]
    return (
        f"{which} cannot be swept: make_optimizer needs {'it' if len(names) == 1 else 'them'} as a fixed Python "
        f"value (an option that selects code, such as a flag), but a sweep passes every name of its space as a "
        f"traced number ({type(err).__name__}: {reason}). Run one sweep per value instead, e.g. with "
        f"functools.partial(make_optimizer, {names[0]}=...)"
    )


@functools.lru_cache(maxsize=64)
def _loss_jaxpr(loss_static: Static, dyn_spec: tuple, x0_spec: tuple) -> tuple[Any, Any]:
    """The loss's closed jaxpr and abstract output, its data and point abstract: traced once per loss and
    shapes, not once per sweep."""
    fn = jax.make_jaxpr(lambda dyn, x: combine(dyn, loss_static)(x), return_shape=True)
    return fn(abstract(dyn_spec), abstract(x0_spec))
