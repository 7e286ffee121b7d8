"""Spaces of hyperparameter configurations: a table of columns, built as a grid or drawn at random.

A :class:`Space` is what :func:`jaxgd.sweep` runs; :func:`check_factory` checks an
optimizer factory against one before anything compiles.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgd import _validate

__all__ = [
    "Sampler",
    "Space",
    "as_space",
    "check_factory",
    "grid",
    "infer_scale",
    "log_uniform",
    "random_search",
    "uniform",
]


class Space:
    """A table of hyperparameter configurations: ``columns[name][i]`` is the value of ``name`` in configuration i.

    ``scales[name]`` is ``"log"`` or ``"linear"``: how :func:`refine` narrows that axis.
    ``kind`` is ``"grid"``, ``"random"`` or ``"table"``.

    Args:
        columns: Each hyperparameter's values, a flat list of finite real numbers; all of one length.
        scales: ``"log"`` or ``"linear"`` for some names; the others by :func:`infer_scale`.
        kind: How the table was made: ``"grid"``, ``"random"`` or ``"table"``.

    Raises:
        ValueError: If there are no columns, their lengths differ, a column is empty, not flat or not finite,
            or a scale is neither ``"log"`` nor ``"linear"``.
        TypeError: If a column's values are not real numbers.
    """

    def __init__(self, columns: Mapping[str, Any], scales: Mapping[str, str] | None = None, kind: str = "table"):
        if not columns:
            raise ValueError("a space needs at least one hyperparameter")
        cols = {str(k): _column(k, v) for k, v in columns.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) != 1:
            raise ValueError(
                f"every column of a space needs the same length, got { {k: len(v) for k, v in cols.items()} }"
            )
        self.columns = cols
        self.scales = {k: (scales or {}).get(k, infer_scale(v)) for k, v in cols.items()}
        for k, s in self.scales.items():
            _validate.one_of(f"scale of {k}", s, ("log", "linear"))
        self.kind = kind

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __repr__(self) -> str:
        return f"Space({self.kind}, {len(self)} configurations of {', '.join(self.names)})"


def _column(name: str, values: Any) -> np.ndarray:
    try:
        arr = np.asarray(values)
    except Exception as err:
        raise TypeError(f"hyperparameter {name!r}: cannot read values {values!r} ({err})") from None
    arr = arr.reshape(-1) if arr.ndim == 0 else arr
    if arr.ndim != 1:
        raise ValueError(f"hyperparameter {name!r}: values must be a flat list, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"hyperparameter {name!r}: empty list of values")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"hyperparameter {name!r}: values must be real numbers, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"hyperparameter {name!r}: values must be finite, got {arr.tolist()}")
    return arr if arr.dtype.kind in "iu" else arr.astype(np.float64)


def infer_scale(values: np.ndarray) -> str:
    """``"log"`` for positive values spanning a factor of 20 or more, else ``"linear"`` (axes of plots and grids).

    Args:
        values: A column of real numbers.

    Returns:
        The scale, ``"log"`` or ``"linear"``.
    """
    v = np.asarray(values, float)
    return "log" if np.all(v > 0) and v.max() / v.min() >= 20 else "linear"


def grid(**axes: Any) -> Space:
    """The full grid: every combination of the listed values (the first name varies slowest).

    ``grid(learning_rate=np.geomspace(1e-4, 1e-1, 16), momentum=[0.0, 0.9])`` has 32
    configurations. A scalar is a fixed value. An axis of positive values spanning
    a factor of 20 or more is refined on a log scale.

    Args:
        **axes: Each hyperparameter's values (a list, an array or one fixed number).

    Returns:
        The grid (:class:`Space`), ``kind="grid"``, of ``prod(len(values))`` configurations.

    Raises:
        ValueError: If no axis is given, or an axis is empty, not flat or not finite.
        TypeError: If an axis's values are not real numbers.
    """
    if not axes:
        raise ValueError("grid needs at least one hyperparameter")
    cols = {k: _column(k, v) for k, v in axes.items()}
    mesh = np.meshgrid(*cols.values(), indexing="ij")
    return Space({k: m.reshape(-1) for k, m in zip(cols, mesh)}, kind="grid")


class Sampler(NamedTuple):
    """A distribution for :func:`random_search`: ``"log_uniform"`` or ``"uniform"`` on [low, high]."""

    kind: str
    low: float
    high: float


def log_uniform(low: float, high: float) -> Sampler:
    """log10 x ~ Uniform(log10 low, log10 high): e.g. eta = 10^U(-6, 1) (Bergstra & Bengio 2012).

    Args:
        low: The least value, > 0.
        high: The greatest value, > low.

    Returns:
        The sampler (:class:`Sampler`) for :func:`random_search`.

    Raises:
        ValueError: If low or high is not positive, or high <= low.
    """
    _validate.positive("low", low)
    _validate.positive("high", high)
    if not high > low:
        raise ValueError(f"log_uniform needs low < high, got low={low!r}, high={high!r}")
    return Sampler("log_uniform", float(low), float(high))


def uniform(low: float, high: float) -> Sampler:
    """x ~ Uniform(low, high).

    Args:
        low: The least value, finite.
        high: The greatest value, finite and > low.

    Returns:
        The sampler (:class:`Sampler`) for :func:`random_search`.

    Raises:
        ValueError: If low or high is not finite, or high <= low.
    """
    _validate.finite("low", low)
    _validate.finite("high", high)
    if not high > low:
        raise ValueError(f"uniform needs low < high, got low={low!r}, high={high!r}")
    return Sampler("uniform", float(low), float(high))


def random_search(key: jax.Array, num: int, **samplers: Sampler | float) -> Space:
    """``num`` configurations drawn independently from the samplers (a float is a fixed value).

    Reproducible: the same key gives the same table; each name draws from its own
    ``jax.random.fold_in(key, i)``, in float64 on the host.

    Args:
        key: A PRNG key.
        num: The number of configurations, a positive integer.
        **samplers: Each hyperparameter's :class:`Sampler` (:func:`log_uniform`, :func:`uniform`), or one fixed
            value.

    Returns:
        The table (:class:`Space`), ``kind="random"``; a sampled axis has the sampler's scale.

    Raises:
        ValueError: If num is not a positive integer, no sampler is given, or a fixed value is not one number.
    """
    _validate.positive_int("num", num)
    if not samplers:
        raise ValueError("random_search needs at least one hyperparameter")
    cols, scales = {}, {}
    for i, (name, s) in enumerate(samplers.items()):
        if isinstance(s, Sampler):
            seed = np.asarray(jax.random.key_data(jax.random.fold_in(key, i))).ravel()
            u = np.random.default_rng(seed.astype(np.uint64).tolist()).uniform(size=num)
            if s.kind == "log_uniform":
                cols[name] = 10.0 ** (np.log10(s.low) + u * (np.log10(s.high) - np.log10(s.low)))
                scales[name] = "log"
            else:
                cols[name] = s.low + u * (s.high - s.low)
                scales[name] = "linear"
        else:
            col = _column(name, s)
            if col.size != 1:
                raise ValueError(f"random_search: {name!r} must be a sampler or one fixed value, got {col.size} values")
            cols[name] = np.repeat(col, num)
    return Space(cols, scales, kind="random")


def as_space(space: Space | Mapping[str, Any]) -> Space:
    """``space`` itself, or the :func:`grid` of a dict of value lists.

    Args:
        space: A :class:`Space`, or a dict from names to value lists.

    Returns:
        The space (:class:`Space`).

    Raises:
        TypeError: If space is neither a Space nor a mapping.
    """
    if isinstance(space, Space):
        return space
    if isinstance(space, Mapping):
        return grid(**space)
    raise TypeError(f"space must be a Space or a dict of value lists, got {type(space).__name__}")


def check_factory(make_optimizer: Callable, space: Space) -> None:
    """Check before compiling that ``make_optimizer`` takes exactly the space's names (those without a default
    included) and builds an optax transformation at the extreme rows of each column.

    Args:
        make_optimizer: The factory, called as ``make_optimizer(**row)``.
        space: The configurations it will be called with (:class:`Space`).

    Raises:
        TypeError: If make_optimizer is not callable or does not return an optax transformation.
        ValueError: If it does not take one of the space's names, or needs a name the space does not give; the
            factory's own errors (a hyperparameter out of range) are raised as they are.
    """
    if not callable(make_optimizer):
        raise TypeError(f"make_optimizer must be callable, got {type(make_optimizer).__name__}")
    rows = sorted({int(f(col)) for col in space.columns.values() for f in (np.argmin, np.argmax)})
    extremes = tuple(tuple((k, v[i].item()) for k, v in space.columns.items()) for i in rows)
    try:
        _checked_factory(make_optimizer, space.names, extremes)  # a sweep repeated checks nothing again
    except TypeError as err:
        if "unhashable" not in str(err):
            raise
        _check_factory(make_optimizer, space.names, extremes)


def _check_factory(make_optimizer: Callable, names: tuple[str, ...], extremes: tuple) -> None:
    try:
        sig = inspect.signature(make_optimizer)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        params = sig.parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        named = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        unknown = [n for n in names if n not in named] if not takes_any else []
        if unknown:
            raise ValueError(
                f"make_optimizer does not take {', '.join(map(repr, unknown))}; it takes {', '.join(sorted(named))}"
            )
        missing = [
            n
            for n, p in params.items()
            if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in names
        ]
        if missing:
            raise ValueError(f"make_optimizer needs {', '.join(map(repr, missing))}, which the space does not give")
    # Build the optimizer at the extreme rows of each column: range checks fail here, before compiling.
    for row in extremes:
        opt = make_optimizer(**dict(row))
        if not (hasattr(opt, "init") and hasattr(opt, "update")):
            raise TypeError(f"make_optimizer must return an optax GradientTransformation, got {type(opt).__name__}")


_checked_factory = functools.lru_cache(maxsize=256)(_check_factory)  # errors are raised, never cached
