"""Real classification data that ships with scikit-learn, splits, standardisation and mini-batches.

* :func:`load`: scikit-learn's ``digits`` (1797 8x8 grey images, 64 features,
  10 classes) or ``breast_cancer`` (569 samples, 30 features, 2 classes);
  both ship inside the package, nothing is downloaded.
* :func:`split`: a stratified train / validation / test split from a seed,
  standardised with the mean and standard deviation of the training split
  only, so no statistic of the validation or test data leaks into training.
* :func:`batch_indices`, :func:`iterate_batches`, :func:`scan_epoch`: an epoch
  is a random permutation of the training set, cut into n // B batches of B;
  the last partial batch (n mod B samples) is dropped, so every batch has the
  same shape and an epoch is one ``lax.scan``. A fresh permutation each epoch
  means every sample is dropped in only a fraction (n mod B) / n of the epochs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd import _validate

__all__ = [
    "DATASETS",
    "DataSplits",
    "Dataset",
    "Standardizer",
    "batch_indices",
    "check_dataset",
    "fit_standardizer",
    "iterate_batches",
    "load",
    "make_dataset",
    "num_batches",
    "scan_epoch",
    "split",
    "take",
]

DATASETS = ("digits", "breast_cancer")


class Dataset(NamedTuple):
    """Features ``x`` (n, d), floating point, and integer labels ``y`` (n,) in [0, K)."""

    x: jax.Array
    y: jax.Array


class Standardizer(NamedTuple):
    """x -> (x - mean) / scale, fitted on training data; scale is 1 for a constant feature."""

    mean: jax.Array
    scale: jax.Array

    def __call__(self, x: jax.Array) -> jax.Array:
        return (x - self.mean) / self.scale


@dataclasses.dataclass(frozen=True)
class DataSplits:
    """Train, validation and test sets, the standardiser fitted on train, and the number of classes.

    Args:
        train: The training set.
        val: The validation set.
        test: The test set.
        standardizer: The standardiser fitted on train (the identity without standardising).
        num_classes: K.
    """

    train: Dataset
    val: Dataset
    test: Dataset
    standardizer: Standardizer
    num_classes: int

    @property
    def num_features(self) -> int:
        return int(jnp.shape(self.train.x)[-1])


jax.tree_util.register_dataclass(
    DataSplits, data_fields=["train", "val", "test", "standardizer"], meta_fields=["num_classes"]
)


def check_dataset(
    data: Dataset, *, num_features: int | None = None, num_classes: int | None = None, name: str = "data"
) -> None:
    """Raise a clear error for a malformed dataset, a wrong feature count or labels outside [0, K).

    Shapes are always checked; label values only when they are concrete.

    Args:
        data: The :class:`Dataset`.
        num_features: The expected number of features (None: not checked).
        num_classes: K, to check the labels against (None: not checked).
        name: The name used in the messages.

    Raises:
        ValueError: If shapes, the feature count or (concrete) labels are wrong.
        TypeError: If x is not floating point or y not integer.
    """
    x, y = data
    if jnp.ndim(x) != 2:
        raise ValueError(f"{name}.x must have shape (n, d), got shape {jnp.shape(x)}")
    if jnp.ndim(y) != 1 or jnp.shape(y)[0] != jnp.shape(x)[0]:
        raise ValueError(f"{name}.y must have shape ({jnp.shape(x)[0]},) to match {name}.x, got {jnp.shape(y)}")
    if jnp.shape(x)[0] == 0:
        raise ValueError(f"{name} is empty")
    if not jnp.issubdtype(jnp.result_type(x), jnp.floating):
        raise TypeError(f"{name}.x must be floating point, got dtype {jnp.result_type(x)}")
    if not jnp.issubdtype(jnp.result_type(y), jnp.integer):
        raise TypeError(f"{name}.y must hold integer class labels, got dtype {jnp.result_type(y)}")
    if num_features is not None and jnp.shape(x)[1] != num_features:
        raise ValueError(f"{name}.x has {jnp.shape(x)[1]} features, the model expects {num_features}")
    if num_classes is not None and not isinstance(y, jax.core.Tracer):
        labels = np.asarray(y)
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= num_classes:
            bad = low if low < 0 else high
            raise ValueError(f"{name}.y holds label {bad}, outside [0, {num_classes}) for {num_classes} classes")


def make_dataset(x: Any, y: Any, *, num_classes: int | None = None, dtype: Any = None) -> Dataset:
    """A checked :class:`Dataset`: ``x`` cast to ``dtype`` (JAX's default float), ``y`` to int32.

    Args:
        x: The (n, d) features.
        y: The (n,) integer labels.
        num_classes: K, to check the labels against (None: not checked).
        dtype: The features' dtype (None: JAX's default float).

    Returns:
        The data set (:class:`Dataset`).
    """
    x_np, y_np = np.asarray(x), np.asarray(y)
    if not np.issubdtype(y_np.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {y_np.dtype}")
    if not np.issubdtype(x_np.dtype, np.number):
        raise TypeError(f"x must be numeric, got dtype {x_np.dtype}")
    data = Dataset(x_np.astype(float), y_np)
    check_dataset(data, num_classes=num_classes)
    dtype = dtype or jnp.result_type(float)
    return Dataset(jnp.asarray(x_np, dtype), jnp.asarray(y_np, jnp.int32))


def fit_standardizer(x: Any) -> Standardizer:
    """Per-feature mean and standard deviation of ``x``; a constant feature gets scale 1.

    Args:
        x: The (n, d) training features.

    Returns:
        The standardizer (:class:`Standardizer`).
    """
    x = jnp.asarray(x)
    std = jnp.std(x, axis=0)
    return Standardizer(jnp.mean(x, axis=0), jnp.where(std > 0, std, jnp.ones_like(std)))


def split(
    x: Any,
    y: Any,
    *,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    train_size: int | None = None,
    standardize: bool = True,
    num_classes: int | None = None,
    dtype: Any = None,
) -> DataSplits:
    """Stratified train / validation / test split of (x, y) from ``seed``.

    Each class c is shuffled and round(f n_c) of its samples go to the test and
    validation sets (fractions ``test_fraction``, ``val_fraction``), the rest to
    training; ``train_size`` then keeps a random subset of the training set (a
    small-data regime). With ``standardize`` the features are transformed by
    (x - mean) / std of the training split. ``num_classes`` defaults to max(y) + 1.

    Args:
        x: The (n, d) features.
        y: The (n,) integer labels.
        seed: The seed of the shuffles.
        val_fraction: The fraction of each class in the validation set.
        test_fraction: The fraction of each class in the test set.
        train_size: Keep only this many training samples (None: all).
        standardize: Whether to standardise with the training split's statistics.
        num_classes: K (None: max(y) + 1).
        dtype: The features' dtype (None: JAX's default float).

    Returns:
        The splits (:class:`DataSplits`).
    """
    _validate.in_closed_interval("val_fraction", val_fraction, 0.0, 1.0)
    _validate.in_closed_interval("test_fraction", test_fraction, 0.0, 1.0)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be below 1, got {val_fraction} + {test_fraction} (nothing to train on)"
        )
    x_np, y_np = np.asarray(x, dtype=float), np.asarray(y)
    if not np.issubdtype(y_np.dtype, np.integer):
        raise TypeError(f"y must hold integer class labels, got dtype {y_np.dtype}")
    if num_classes is None:
        num_classes = int(y_np.max()) + 1
    check_dataset(Dataset(x_np, y_np), num_classes=num_classes)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c in np.unique(y_np):
        idx = rng.permutation(np.flatnonzero(y_np == c))
        n_test, n_val = round(test_fraction * idx.size), round(val_fraction * idx.size)
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    index = {k: rng.permutation(np.concatenate(v)) for k, v in parts.items()}
    if train_size is not None:
        _validate.positive_int("train_size", train_size)
        if train_size > index["train"].size:
            raise ValueError(f"train_size={train_size} exceeds the {index['train'].size} training samples")
        index["train"] = index["train"][:train_size]
    if index["train"].size == 0:
        raise ValueError("the training split is empty: lower val_fraction or test_fraction")
    dtype = dtype or jnp.result_type(float)
    x_train = x_np[index["train"]]
    if standardize:
        std = x_train.std(axis=0)
        stats = Standardizer(x_train.mean(axis=0), np.where(std > 0, std, 1.0))
    else:
        stats = Standardizer(np.zeros(x_np.shape[1]), np.ones(x_np.shape[1]))

    def subset(k: str) -> Dataset:
        return Dataset(jnp.asarray(stats(x_np[index[k]]), dtype), jnp.asarray(y_np[index[k]], jnp.int32))

    standardizer = Standardizer(jnp.asarray(stats.mean, dtype), jnp.asarray(stats.scale, dtype))
    return DataSplits(subset("train"), subset("val"), subset("test"), standardizer, int(num_classes))


def load(name: str = "digits", **kwargs: Any) -> DataSplits:
    """Load ``"digits"`` or ``"breast_cancer"`` from scikit-learn and :func:`split` it (``kwargs`` go there).

    Args:
        name: ``"digits"`` or ``"breast_cancer"``.
        **kwargs: Passed to :func:`split`.

    Returns:
        The splits (:class:`DataSplits`).

    Raises:
        ValueError: If the name is unknown.
    """
    _validate.one_of("name", name, DATASETS)
    from sklearn import datasets  # a dependency (it ships the data); imported here so jaxgd.nn loads fast

    loader = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer}[name]
    x, y = loader(return_X_y=True)
    num_classes = {"digits": 10, "breast_cancer": 2}[name]
    return split(x, y, num_classes=num_classes, **kwargs)


def num_batches(n: int, batch_size: int | None) -> int:
    """n // batch_size, the number of full batches in an epoch (1 for the full batch, ``batch_size=None``).

    Args:
        n: The number of samples.
        batch_size: B (None: the full batch).

    Returns:
        The number of batches, an int.
    """
    if batch_size is None:
        return 1
    _validate.positive_int("batch_size", batch_size)
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} exceeds the {n} samples: not one full batch per epoch")
    return n // batch_size


def batch_indices(key: jax.Array, n: int, batch_size: int | None) -> jax.Array:
    """(n // B, B) sample indices of one epoch: a permutation drawn from ``key``, last partial batch dropped.

    ``batch_size=None`` is the full batch: one row 0 .. n-1, no shuffling.

    Args:
        key: The PRNG key of the permutation.
        n: The number of samples.
        batch_size: B (None: the full batch).

    Returns:
        The (n // B, B) int32 indices.
    """
    nb = num_batches(n, batch_size)
    if batch_size is None:
        return jnp.arange(n, dtype=jnp.int32)[None]
    perm = jax.random.permutation(key, n).astype(jnp.int32)
    return perm[: nb * batch_size].reshape(nb, batch_size)


def take(data: Any, idx: jax.Array) -> Any:
    """The rows ``idx`` of every leaf of ``data``.

    Args:
        data: A pytree whose leaves have a leading axis.
        idx: The row indices.

    Returns:
        The selected rows, like data.
    """
    return jax.tree.map(lambda a: a[idx], data)


def iterate_batches(key: jax.Array, data: Dataset, batch_size: int | None) -> Iterator[Dataset]:
    """Python iterator over one shuffled epoch of ``data`` (for eager loops; prefer :func:`scan_epoch` in jit).

    Args:
        key: The PRNG key of the shuffle.
        data: The :class:`Dataset`.
        batch_size: B (None: the full batch).

    Yields:
        One data set (:class:`Dataset`) per batch.
    """
    n = int(jnp.shape(jax.tree.leaves(data)[0])[0])
    for idx in batch_indices(key, n, batch_size):
        yield take(data, idx)


def scan_epoch(
    step: Callable[[Any, Any], tuple[Any, Any]], carry: Any, key: jax.Array, data: Any, batch_size: int | None
) -> tuple[Any, Any]:
    """One epoch as ``lax.scan``: ``carry, out = step(carry, batch)`` over the shuffled batches.

    Batches are gathered inside the scan (no shuffled copy of the data). Jittable.

    Args:
        step: ``step(carry, batch) -> (carry, out)``.
        carry: The initial carry.
        key: The PRNG key of the shuffle.
        data: A pytree whose leaves have a leading axis n (a :class:`Dataset`).
        batch_size: B (None: the full batch).

    Returns:
        ``(carry, outs)``, outs stacked over the batches.
    """
    n = int(jnp.shape(jax.tree.leaves(data)[0])[0])

    def body(c, idx):
        return step(c, take(data, idx))

    return jax.lax.scan(body, carry, batch_indices(key, n, batch_size))
