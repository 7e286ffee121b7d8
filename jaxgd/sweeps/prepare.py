"""From :func:`jaxgd.sweep`'s arguments to what its compiled chunk takes: the plan and the arrays.

:func:`prepare` checks the arguments, stacks the problems' data, lays out the starts,
casts the space's columns and makes the backend's speed choices (:mod:`jaxgd.sweeps.backend`).
``sweep`` calls it, then runs ``engine.sweep_chunk(columns[chunk], *shared, plan=plan)``
chunk after chunk; benchmarks call it to time or compile one chunk of their own.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgd import _validate
from jaxgd._core import Static, combine, objective_of, optimizer_update, partition, start_of
from jaxgd.problems import Problem
from jaxgd.sweeps import backend, engine
from jaxgd.sweeps.result import SUMMARY_NAMES
from jaxgd.sweeps.space import Space, as_space, check_factory

__all__ = ["Prepared", "prepare"]


class Prepared(NamedTuple):
    """A sweep ready to run.

    Attributes:
      plan: the chunk's static part (:class:`jaxgd.sweeps.engine.Plan`).
      space: the space swept.
      columns: one (C,) array per hyperparameter, in the runs' real dtype (int32 for integers).
      shared: the chunk's other arguments, the same for every chunk:
        ``(loss_dynamic, x0_table, tol, blowup, blowup_floor, max_loss, f_star, taus)``.
      first_x0: the first start point (shapes and dtypes of an iterate).
      real: the real dtype of the runs.
      num_problems: P, the problems.
      num_starts: S, the starts of each problem.
      keys: the seeds' PRNG keys (K,) for a stochastic loss (also in ``shared``, after the starts), else None.
      f_star: (P,) each problem's f* for the targets (zeros without "targets").
      targets: the targets tau_k, a tuple of floats (empty without "targets").
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
    keys: Any = None
    f_star: Any = None
    targets: tuple[float, ...] = ()

    @property
    def num_seeds(self) -> int:
        """K: the number of seeds (1 for a deterministic loss)."""
        return 1 if self.keys is None else len(self.keys)

    def run(self, **plan_changes: Any) -> engine.Summary:
        """Every configuration in one chunk, ``plan`` changed by ``plan_changes`` (e.g. ``unroll_sums=False``)."""
        plan = self.changed(**plan_changes)
        return chunk_function(plan)(self.columns, *self.shared, plan=plan)

    def lower(self, **plan_changes: Any) -> Any:
        """:meth:`run` lowered (``jax.jit(...).lower``), to compile or inspect it."""
        plan = self.changed(**plan_changes)
        return chunk_function(plan).lower(self.columns, *self.shared, plan=plan)

    def changed(self, **plan_changes: Any) -> engine.Plan:
        """``plan`` with some fields replaced."""
        return dataclasses.replace(self.plan, **plan_changes)


def chunk_function(plan: engine.Plan) -> Callable:
    """The jitted chunk for ``plan``: :func:`engine.sweep_chunk`, or :func:`seeded.sweep_chunk_seeded` when keyed."""
    if plan.keyed:
        from jaxgd.sweeps import seeded

        return seeded.sweep_chunk_seeded
    return engine.sweep_chunk


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
    seeds: Any = None,
    eval_every: int | None = None,
    summaries: str | Sequence[str] | None = None,
    targets: Sequence[float] | None = None,
    f_star: Any = None,
) -> Prepared:
    """Check ``sweep``'s arguments (same meaning) and lay them out for :func:`jaxgd.sweeps.engine.sweep_chunk`
    (:func:`jaxgd.sweeps.seeded.sweep_chunk_seeded` for a stochastic loss).

    Args:
        make_optimizer: As in :func:`jaxgd.sweep`.
        problem: As in :func:`jaxgd.sweep`.
        space: As in :func:`jaxgd.sweep`.
        steps: As in :func:`jaxgd.sweep`.
        x0: As in :func:`jaxgd.sweep`.
        x0s: As in :func:`jaxgd.sweep`.
        tol: As in :func:`jaxgd.sweep`.
        blowup: As in :func:`jaxgd.sweep`.
        blowup_floor: As in :func:`jaxgd.sweep`.
        max_loss: As in :func:`jaxgd.sweep`.
        curve_every: As in :func:`jaxgd.sweep`.
        keep_params: As in :func:`jaxgd.sweep`.
        block: As in :func:`jaxgd.sweep`.
        platform: The devices' platform, for :func:`jaxgd.sweeps.backend.choices_for`
            (default: ``jax.default_backend()``).
        seeds: As in :func:`jaxgd.sweep`.
        eval_every: As in :func:`jaxgd.sweep`.
        summaries: As in :func:`jaxgd.sweep`.
        targets: As in :func:`jaxgd.sweep`.
        f_star: As in :func:`jaxgd.sweep`.

    Returns:
        The sweep ready to run (:class:`Prepared`).

    Raises:
        ValueError: As :func:`jaxgd.sweep`, for bad arguments.
        TypeError: As :func:`jaxgd.sweep`, for bad arguments.
    """
    block = _check_options(steps, curve_every, block, tol, blowup, blowup_floor, max_loss)
    summaries = summaries_for(summaries, tol=tol, curve_every=curve_every, targets=targets, keep_params=keep_params)
    targets = _targets(targets)
    space = as_space(space)
    check_factory(make_optimizer, space)
    losses, default_starts, keyed = _losses(problem)
    keys = seed_keys(seeds, keyed)
    eval_every = _eval_every(steps, curve_every, eval_every, keyed)
    x0_table, num_starts = _starts(len(losses), default_starts, x0, x0s)
    f_star = _f_star(losses, problem, f_star, bool(targets))
    first_x0 = jax.tree.map(lambda a: a[0, 0], x0_table)
    loss_dynamic, loss_static, loss_jaxpr, dyn_spec = _stack_losses(losses, first_x0, keyed)

    dtype = jnp.result_type(*[a.dtype for a in jax.tree.leaves(first_x0)])
    real = jnp.finfo(dtype).dtype
    columns = tuple(v.astype(real) if v.dtype.kind == "f" else v.astype(np.int32) for v in space.columns.values())
    optimizer_jaxpr = _optimizer_jaxpr(make_optimizer, space, columns, loss_static, dyn_spec, spec(first_x0), keyed)
    scalar = functools.partial(np.asarray, dtype=real)  # numpy: a jnp conversion per scalar costs more than the call
    tol_a, blowup_a = scalar(tol if tol is not None else -np.inf), scalar(blowup if blowup is not None else np.inf)
    max_loss_a = scalar(max_loss if max_loss is not None else np.inf)
    floor_a = scalar(blowup_floor)
    f_star_a, taus_a = scalar(f_star), scalar(np.asarray(targets, float).reshape(-1))

    choices = backend.choices_for(platform if platform is not None else jax.default_backend())
    plan = engine.Plan(
        make_optimizer=make_optimizer,
        names=space.names,
        loss_static=loss_static,
        many_problems=len(losses) > 1,
        many_starts=num_starts > 1,
        steps=steps,
        curve_every=curve_every,
        keep_params=keep_params,
        block=block,
        summaries=summaries,
        unroll_sums=choices.unroll_sums and not keyed,
        value_with_grad=choices.value_with_grad(loss_jaxpr) and not keyed,
        **({"keyed": True, "eval_every": eval_every} if keyed else {}),
    )
    bounds = (tol_a, blowup_a, floor_a, max_loss_a, f_star_a, taus_a)
    shared = (loss_dynamic, x0_table, *(() if keys is None else (keys,)), *bounds)
    return Prepared(
        plan,
        space,
        columns,
        shared,
        first_x0,
        real,
        len(losses),
        num_starts,
        loss_jaxpr,
        optimizer_jaxpr,
        keys,
        np.asarray(f_star, float),
        targets,
    )


def summaries_for(
    summaries: str | Sequence[str] | None,
    *,
    tol: float | None = None,
    curve_every: int | None = None,
    targets: Any = None,
    keep_params: bool = True,
) -> tuple[str, ...]:
    """The summaries a sweep computes, in :data:`~jaxgd.sweeps.result.SUMMARY_NAMES`' order, checked against the
    options: None gives :data:`~jaxgd.sweeps.engine.DEFAULT_SUMMARIES` with "tol", "targets" and "curve" added
    when ``tol``, ``targets`` and ``curve_every`` are given; a name (or names) gives exactly those, and each
    of these three options must then be given with its summary and only with it."""
    given = {"tol": tol is not None, "targets": targets is not None, "curve": curve_every is not None}
    option = {"tol": "tol", "targets": "targets", "curve": "curve_every"}
    if summaries is None:
        names = set(engine.DEFAULT_SUMMARIES) | {k for k, v in given.items() if v}
    else:
        listed = [summaries] if isinstance(summaries, str) else summaries
        try:
            names = set(listed)
        except TypeError:
            raise TypeError(f"summaries must be a name or a sequence of names, got {summaries!r:.80}") from None
        unknown = sorted(str(n) for n in names if n not in SUMMARY_NAMES)
        if unknown:
            raise ValueError(
                f"unknown summaries {', '.join(map(repr, unknown))}: the summaries are {', '.join(SUMMARY_NAMES)} "
                "(jaxgd.sweep's docstring says what each computes)"
            )
        for name, is_given in given.items():
            if name in names and not is_given:
                raise ValueError(f"the summary {name!r} needs {option[name]}=...: give it, or drop {name!r}")
            if is_given and name not in names:
                raise ValueError(
                    f"{option[name]} is given but summaries={tuple(listed)!r} does not ask for {name!r}: "
                    f"add {name!r}, or drop {option[name]}"
                )
        if not names and not keep_params:
            raise ValueError(
                "summaries=() and keep_params=False: nothing would be kept; ask for a summary "
                f"({', '.join(SUMMARY_NAMES)}) or keep the final params"
            )
    return tuple(n for n in SUMMARY_NAMES if n in names)


def _targets(targets: Any) -> tuple[float, ...]:
    """The targets tau_k as floats, each finite and >= 0 (a non-empty sequence), or () for none."""
    if targets is None:
        return ()
    arr = np.asarray(targets, dtype=float)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(
            f"targets must be a non-empty sequence of finite taus >= 0 (reached at f - f* <= tau (f(x_0) - f*)), "
            f"got {targets!r:.80}"
        )
    return tuple(float(t) for t in arr)


def _f_star(losses: list[Any], problem: Any, f_star: Any, needed: bool) -> np.ndarray:
    """(P,) each problem's f* for the targets: ``f_star`` (one value or one per problem), else each problem's
    ``minimum``; zeros when there are no targets."""
    P = len(losses)
    if not needed:
        if f_star is not None:
            raise ValueError("f_star is for targets: give targets=... (the taus), or drop f_star")
        return np.zeros(P)
    if f_star is None:
        problems = list(problem) if isinstance(problem, (list, tuple)) else [problem]
        known = [getattr(p, "minimum", None) for p in problems]
        if any(m is None for m in known):
            raise ValueError(
                "targets need f*, the minimum: give f_star=... (one value, or one per problem); "
                "a problem without a `minimum` does not say it"
            )
        f_star = [float(np.asarray(m)) for m in known]
    arr = np.asarray(f_star, dtype=float).reshape(-1)
    if arr.size == 1:
        arr = np.full(P, arr[0])
    if arr.shape != (P,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"f_star must be one finite value or one per problem ({P}), got {f_star!r:.80}")
    return arr


def needs_key(loss: Any) -> bool:
    """Whether ``loss`` is a stochastic loss ``loss(params, key)`` (marked ``__jaxgd_needs_key__``)."""
    return bool(getattr(loss, "__jaxgd_needs_key__", False))


def seed_keys(seeds: Any, keyed: bool) -> jax.Array | None:
    """The seeds' PRNG keys (K,): ``seeds`` an int K (the keys ``jax.random.key(j)``, j < K), an array of K
    typed keys, or raw uint32 keys of shape (K, 2). None for a deterministic loss (which takes no seeds)."""
    if not keyed:
        if seeds is not None:
            raise ValueError("seeds are for a stochastic loss loss(params, key); this loss is deterministic")
        return None
    if seeds is None:
        raise ValueError(
            "a stochastic loss (marked __jaxgd_needs_key__) needs seeds: pass seeds=K (keys jax.random.key(j), "
            "j < K) or seeds=an array of PRNG keys"
        )
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        _validate.positive_int("seeds", int(seeds))
        return jnp.stack([jax.random.key(j) for j in range(int(seeds))])
    dtype = getattr(seeds, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        keys = seeds
    elif dtype == np.uint32 and np.ndim(seeds) == 2 and np.shape(seeds)[1] == 2:
        keys = jax.random.wrap_key_data(jnp.asarray(seeds))
    else:
        raise TypeError(
            f"seeds must be a positive int or an array of PRNG keys (jax.random.split(key, K)), got {seeds!r:.80}"
        )
    if keys.ndim != 1 or keys.shape[0] == 0:
        raise ValueError(f"seeds must be a non-empty 1-D array of PRNG keys, got shape {keys.shape}")
    return keys


def _eval_every(steps: int, curve_every: int | None, eval_every: int | None, keyed: bool) -> int | None:
    """The full objective's evaluation period of a stochastic sweep (default: the curve's, else about steps / 100)."""
    if not keyed:
        if eval_every is not None:
            raise ValueError("eval_every is for a stochastic loss; a deterministic sweep checks every step")
        return None
    if eval_every is None:
        return curve_every if curve_every is not None else max(1, steps // 100)
    _validate.positive_int("eval_every", eval_every)
    if curve_every is not None and curve_every != eval_every:
        raise ValueError(
            f"curve_every={curve_every} and eval_every={eval_every}: a stochastic sweep's curve is its full "
            "objective at the evaluation steps, so give one of them (or equal values)"
        )
    return eval_every


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


def _losses(problem: Any) -> tuple[list[Any], list[Any] | None, bool]:
    """Losses (callable pytrees), their default starts (or None) and whether they are stochastic, from a
    Problem, a loss or a list of them. A stochastic loss starts by default at its ``x0`` or its full objective's."""
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
            starts.append(start_of(p) if needs_key(p) else None)
        else:
            raise TypeError(f"a problem must be a jaxgd.Problem or a callable loss, got {type(p).__name__}")
    keyed = {needs_key(p) for p in losses}
    if len(keyed) > 1:
        raise ValueError("stochastic losses (loss(params, key)) and deterministic ones cannot be swept together")
    keyed = keyed.pop()
    if keyed:
        for p in losses:
            if not callable(getattr(p, "full", None)):
                raise TypeError(
                    f"a stochastic loss needs a `full` attribute, its exact objective, to be summarised on; "
                    f"{type(p).__name__} has none"
                )
    return losses, (None if any(s is None for s in starts) else starts), keyed


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


def _stack_losses(losses: list[Any], x0: Any, keyed: bool = False) -> tuple[Any, Static, Any, tuple]:
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
    loss_jaxpr, loss_out = _loss_jaxpr(loss_static, dyn_spec, spec(x0), keyed)
    for out in loss_out if keyed else (loss_out,):
        _validate.scalar(out)
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
    make_optimizer: Callable,
    space: Space,
    columns: tuple,
    loss_static: Static,
    dyn_spec: tuple,
    x0_spec: tuple,
    keyed: bool = False,
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
        return _trace_optimizer(make_optimizer, space.names, dtypes, loss_static, dyn_spec, x0_spec, (), keyed)
    except _TRACER_ERRORS as err:
        trace = functools.partial(
            _trace_optimizer, make_optimizer, space.names, dtypes, loss_static, dyn_spec, x0_spec, keyed=keyed
        )
        raise ValueError(_unsweepable(space, trace, err)) from None


@functools.lru_cache(maxsize=64)
def _trace_optimizer(make_optimizer, names, dtypes, loss_static, dyn_spec, x0_spec, fixed: tuple, keyed=False) -> Any:
    """:func:`_optimizer_jaxpr` with the names in ``fixed`` (name, value) pairs given as Python values."""
    fixed_values = dict(fixed)

    def step(hp, dyn, x, grad, value):
        optimizer = make_optimizer(**hp, **fixed_values)
        value_fn = _value_fn(dyn, loss_static, keyed)
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
def _loss_jaxpr(loss_static: Static, dyn_spec: tuple, x0_spec: tuple, keyed: bool = False) -> tuple[Any, Any]:
    """The loss's closed jaxpr and abstract output, its data and point abstract: traced once per loss and
    shapes, not once per sweep. A stochastic loss: ``(loss(x, key), loss.full(x))``, both outputs."""
    if keyed:
        fn = jax.make_jaxpr(lambda dyn, x: _keyed_pair(combine(dyn, loss_static), x), return_shape=True)
    else:
        fn = jax.make_jaxpr(lambda dyn, x: combine(dyn, loss_static)(x), return_shape=True)
    return fn(abstract(dyn_spec), abstract(x0_spec))


def _keyed_pair(loss: Any, x: Any) -> tuple[Any, Any]:
    return loss(x, jax.random.key(0)), loss.full(x)


def _value_fn(dyn: Any, loss_static: Static, keyed: bool) -> Callable:
    """The loss as a function of x alone (a stochastic one at a fixed key: for tracing only)."""
    loss = combine(dyn, loss_static)
    return (lambda x: loss(x, jax.random.key(0))) if keyed else loss
