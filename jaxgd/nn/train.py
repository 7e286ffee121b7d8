"""Train an :class:`~jaxgd.nn.MLP` with any optax/jaxgd optimizer: the whole run is one jitted ``lax.scan``.

Each epoch is a ``lax.scan`` over shuffled mini-batches (:mod:`jaxgd.nn.data`)
and the epochs are a ``lax.scan`` too, so :func:`fit` is one compiled program
and :func:`fit_ensemble` trains k seeds in one ``vmap``. The optimizer's, the
model's and the penalties' numeric hyperparameters are traced arguments: a
new learning rate, keep probability or lambda reuses the compiled program,
and ``jax.vmap`` can sweep them.

Per epoch (``e = 1 .. E``), with the epoch's key ``fold_in(key, e)``:

* the optimizer takes n // B steps on the mini-batch objective
  L_B(w) + l2 (1/2)||W||^2 + l1 ||W||_1 (dropout active); a
  ``GradientTransformationExtraArgs`` receives ``value``, ``grad`` and
  ``value_fn`` of that objective, as in :func:`jaxgd.run`. Schedules inside
  the optimizer count steps, not epochs;
* train and validation loss and accuracy are measured on the whole sets with
  the test-time network (no dropout, no penalty in the loss);
* reduce-on-plateau, when ``plateau`` is given, is stepped once per epoch on
  the *validation* loss: ``plateau.update({}, state, value=val_loss)`` (for
  :func:`jaxgd.schedules.reduce_on_plateau` or ``optax.contrib.reduce_on_plateau``,
  whose states hold ``scale``) and the next epoch's updates are multiplied by
  its ``scale``. Its ``patience`` therefore counts epochs;
* early stopping: the parameters with the lowest validation loss so far are
  kept in the scan's carry (an epoch improves when val_loss < best - min_delta);
  after ``patience`` epochs without improvement the remaining epochs are
  skipped (their metrics are NaN) and, with ``restore_best``, the best
  parameters are returned;
* checkpoint averaging: the mean of the end-of-epoch parameters from epoch
  ``average_from`` on (Polyak averaging over epochs, as in SWA, Izmailov et al. 2018).

Batch normalisation (``MLP(..., batch_norm=True)``): the running statistics
travel in the scan's carry beside the parameters; every step's mini-batch
forward pass updates them (momentum ``model.bn_momentum``), and the whole-set
metrics use them. :class:`TrainResult` returns them as ``batch_stats`` (paired
with ``params``) and ``last_batch_stats``; pass them to :func:`evaluate`.

Curvature: after every ``curvature_every`` epochs the sharpness lambda_max of the
Hessian of the full-batch training objective (test-time network, with the
penalties) is estimated by Lanczos on Hessian-vector products and its trace
by Hutchinson's estimator (:mod:`jaxgd.curvature`), so it can be compared with
the stability threshold 2 / eta of gradient descent (Cohen et al. 2021).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgd import _validate
from jaxgd._core import filter_jit, tree_norm, update_step
from jaxgd.nn.data import Dataset, batch_indices, check_dataset, num_batches, take
from jaxgd.nn.losses import LOSSES, accuracy, l1_penalty, l2_penalty
from jaxgd.nn.mlp import MLP, Params

__all__ = [
    "Curvature",
    "CurvatureHistory",
    "EpochMetrics",
    "FunctionModel",
    "TrainResult",
    "average_checkpoints",
    "ensemble_proba",
    "evaluate",
    "fit",
    "fit_ensemble",
    "network_curvature",
    "training_objective",
]


class EpochMetrics(NamedTuple):
    """One row per epoch (NaN for epochs skipped after early stopping).

    Attributes:
      train_loss, train_accuracy: on the whole training set, test-time network, data loss only.
      val_loss, val_accuracy: the same on the validation set.
      batch_loss: mean over the epoch's steps of the mini-batch objective (dropout and penalties included).
      grad_norm: mean over the epoch's steps of ||grad|| of the mini-batch objective.
      update_ratio: (E, L) mean over the epoch's steps of ||Delta W_l|| / ||W_l|| for each layer l
        (about 1e-3 is the usual healthy range).
      lr_scale: the reduce-on-plateau scale used during the epoch (1 without ``plateau``).
      layer_grad_norm: (E, L) mean over the epoch's steps of ||dL/dW_l|| for each layer l (vanishing or
        exploding gradients show as a spread of orders of magnitude between layers).
    """

    train_loss: jax.Array
    train_accuracy: jax.Array
    val_loss: jax.Array
    val_accuracy: jax.Array
    batch_loss: jax.Array
    grad_norm: jax.Array
    update_ratio: jax.Array
    lr_scale: jax.Array
    layer_grad_norm: jax.Array


class Curvature(NamedTuple):
    """Sharpness lambda_max (Lanczos) and trace (Hutchinson) of a loss's Hessian."""

    sharpness: jax.Array
    trace: jax.Array


class CurvatureHistory(NamedTuple):
    """Curvature measured after ``epochs`` completed epochs: c, 2c, ... (c = ``curvature_every``).

    Measured on the parameters at the end of those epochs (after early stopping
    they are the frozen last parameters). For the initial parameters call
    :func:`network_curvature`.
    """

    epochs: jax.Array
    sharpness: jax.Array
    trace: jax.Array


class TrainResult(NamedTuple):
    """The outcome of :func:`fit` (with a leading ensemble axis from :func:`fit_ensemble`).

    Attributes:
      params: the best-validation-loss parameters with ``restore_best``, else ``last_params``.
      last_params: the parameters after the last epoch run.
      averaged_params: the mean of end-of-epoch parameters from ``average_from`` on (None without).
      best_epoch: the epoch (1-based) with the lowest validation loss; 0 if none was finite.
      best_val_loss: that validation loss.
      epochs_run: the number of epochs trained before early stopping (``epochs`` without it).
      history: :class:`EpochMetrics`, one row per epoch.
      curvature: :class:`CurvatureHistory` (None without ``curvature_every``).
      param_history: end-of-epoch parameters, leading axis E (None unless ``record_params``).
      opt_state: the optimizer state after the last epoch run.
      batch_stats: the batch-norm running statistics that go with ``params`` (None without batch norm).
      last_batch_stats: those that go with ``last_params``.
    """

    params: Params
    last_params: Params
    averaged_params: Params | None
    best_epoch: jax.Array
    best_val_loss: jax.Array
    epochs_run: jax.Array
    history: EpochMetrics
    curvature: CurvatureHistory | None
    param_history: Params | None
    opt_state: Any
    batch_stats: Any = None
    last_batch_stats: Any = None


class _Config(NamedTuple):
    epochs: int
    batch_size: int | None
    loss: str
    patience: int | None
    restore_best: bool
    average_from: int | None
    curvature_every: int | None
    lanczos_iters: int
    hutchinson_samples: int
    record_params: bool


class _State(NamedTuple):
    params: Params
    opt_state: Any
    plateau_state: Any
    best_params: Params
    best_val: jax.Array
    best_epoch: jax.Array
    wait: jax.Array
    stopped: jax.Array
    epochs_run: jax.Array
    avg_sum: Params | None
    avg_count: jax.Array
    batch_stats: Any
    best_batch_stats: Any


class FunctionModel:
    """Any network given as ``apply(params, x, *, key=None, train=False) -> logits``: a flax.linen module's
    ``apply`` wrapped to that signature, an equinox model's call, a hand-written function.

    :func:`fit` and :func:`fit_ensemble` wrap a callable model in it; the update ratios of
    :class:`EpochMetrics` are then per parameter leaf (per layer for an :class:`MLP`).
    A pytree with no leaves: the function is static.

    Args:
        apply_fn: ``apply(params, x, *, key=None, train=False) -> logits``.
    """

    def __init__(self, apply_fn: Callable[..., jax.Array]):
        if not callable(apply_fn):
            raise TypeError(f"a model must be a jaxgd.nn.MLP or a callable apply function, got {apply_fn!r}")
        self.apply_fn = apply_fn

    def apply(self, params: Any, x: jax.Array, *, key: jax.Array | None = None, train: bool = False) -> jax.Array:
        return self.apply_fn(params, x, key=key, train=train)

    def predict_proba(self, params: Any, x: jax.Array) -> jax.Array:
        return jax.nn.softmax(self.apply(params, x), axis=-1)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FunctionModel) and other.apply_fn == self.apply_fn

    def __hash__(self) -> int:
        return hash(self.apply_fn)


jax.tree_util.register_pytree_node(FunctionModel, lambda m: ((), m.apply_fn), lambda fn, _: FunctionModel(fn))


def _as_model(model: Any) -> MLP | FunctionModel:
    if isinstance(model, (MLP, FunctionModel)):
        return model
    return FunctionModel(model)


def _layer_weights(model: MLP | FunctionModel, tree: Any) -> list[jax.Array]:
    """The arrays whose update ratio is reported: each layer's W for an MLP, else every leaf."""
    if isinstance(model, MLP):
        return [layer["w"] for layer in tree]
    return jax.tree.leaves(tree)


def training_objective(
    model: MLP, data: Dataset, *, loss: str = "cross_entropy", l2: Any = 0.0, l1: Any = 0.0
) -> Callable[[Params], jax.Array]:
    """params -> L(params; data) + l2 (1/2)||W||^2 + l1 ||W||_1 on the whole of ``data``, test-time network.

    Args:
        model: The :class:`MLP`.
        data: The :class:`Dataset`.
        loss: ``"cross_entropy"`` or ``"squared"``.
        l2: The weight of (1/2)||W||^2.
        l1: The weight of ||W||_1.

    Returns:
        The function params -> objective.
    """
    _validate.one_of("loss", loss, tuple(LOSSES))
    loss_fn = LOSSES[loss]

    def f(params: Params) -> jax.Array:
        out = model.apply(params, data.x)
        return loss_fn(out, data.y) + l2_penalty(params, l2) + l1_penalty(params, l1)

    return f


def network_curvature(
    model: MLP,
    params: Params,
    data: Dataset,
    key: jax.Array,
    *,
    loss: str = "cross_entropy",
    l2: Any = 0.0,
    l1: Any = 0.0,
    lanczos_iters: int = 20,
    hutchinson_samples: int = 8,
) -> Curvature:
    """Sharpness (largest Hessian eigenvalue, Lanczos) and Hessian trace (Hutchinson) of the training objective.

    Uses :mod:`jaxgd.curvature` (Hessian-vector products, no dense Hessian).
    ``hutchinson_samples=0`` skips the trace (NaN). Jittable.

    Args:
        model: The :class:`MLP` (or a :class:`FunctionModel`).
        params: Its parameters.
        data: The :class:`Dataset` of the objective.
        key: The PRNG key of the probes.
        loss: ``"cross_entropy"`` or ``"squared"``.
        l2: The weight of (1/2)||W||^2.
        l1: The weight of ||W||_1.
        lanczos_iters: The Lanczos iterations.
        hutchinson_samples: The trace probes (0: skipped).

    Returns:
        The curvature (:class:`Curvature`): sharpness and trace.
    """
    _validate.positive_int("lanczos_iters", lanczos_iters)
    if not isinstance(hutchinson_samples, (int, np.integer)) or hutchinson_samples < 0:
        raise ValueError(f"hutchinson_samples must be a non-negative integer, got {hutchinson_samples!r}")
    f = training_objective(model, data, loss=loss, l2=l2, l1=l1)
    return _curvature(f, params, key, lanczos_iters, hutchinson_samples)


def _curvature(f: Callable, params: Params, key: jax.Array, lanczos_iters: int, hutchinson_samples: int) -> Curvature:
    from jaxgd import curvature  # the analysis module; imported here so jaxgd.nn loads without it

    dtype = jax.tree.leaves(params)[0].dtype
    k_lanczos, k_trace = jax.random.split(key)
    sharpness = curvature.lanczos(f, params, k_lanczos, num_iters=lanczos_iters).lambda_max
    if hutchinson_samples:
        trace = curvature.hutchinson_trace(f, params, k_trace, num_samples=hutchinson_samples)
    else:
        trace = jnp.asarray(jnp.nan, dtype)
    return Curvature(jnp.asarray(sharpness, dtype), jnp.asarray(trace, dtype))


def _bn(model: Any) -> bool:
    return isinstance(model, MLP) and model.batch_norm


def _test_logits(model: Any, params: Any, x: jax.Array, batch_stats: Any) -> jax.Array:
    """The test-time network's output (batch-norm models normalise by the running ``batch_stats``)."""
    return model.apply(params, x, batch_stats=batch_stats) if _bn(model) else model.apply(params, x)


def evaluate(
    model: MLP, params: Params, data: Dataset, *, loss: str = "cross_entropy", batch_stats: Any = None
) -> tuple[jax.Array, jax.Array]:
    """(loss, accuracy) of the test-time network on ``data``; checks features and labels.

    A batch-norm MLP needs its running statistics, ``batch_stats`` (e.g. ``fit(...).batch_stats``).

    Args:
        model: The :class:`MLP` (or a :class:`FunctionModel`).
        params: Its parameters.
        data: The :class:`Dataset`.
        loss: ``"cross_entropy"`` or ``"squared"``.
        batch_stats: A batch-norm MLP's running statistics.

    Returns:
        ``(loss, accuracy)``, scalars.
    """
    _validate.one_of("loss", loss, tuple(LOSSES))
    model = _as_model(model)
    _check_model_data(model, params, data, "data")
    if isinstance(model, MLP):
        out = model.apply(params, data.x, batch_stats=batch_stats)
    else:
        out = model.apply(params, data.x)
    return LOSSES[loss](out, data.y), accuracy(out, data.y)


def ensemble_proba(model: MLP, params: Params, x: jax.Array, *, batch_stats: Any = None) -> jax.Array:
    """Mean of the members' class probabilities; ``params`` (and ``batch_stats``) have a leading ensemble axis.

    Args:
        model: The :class:`MLP`.
        params: The members' parameters, with a leading ensemble axis.
        x: The (n, d) inputs.
        batch_stats: The members' running statistics (batch norm), with the same leading axis.

    Returns:
        The (n, K) mean class probabilities.
    """
    model = _as_model(model)
    if isinstance(model, MLP):
        proba = jax.vmap(lambda p, s: model.predict_proba(p, x, batch_stats=s))(params, batch_stats)
    else:
        proba = jax.vmap(model.predict_proba, in_axes=(0, None))(params, x)
    return jnp.mean(proba, axis=0)


def average_checkpoints(params: Params) -> Params:
    """The mean over the leading axis of stacked parameters (checkpoints of one run, e.g. ``param_history``).

    Args:
        params: Parameters stacked along a leading axis.

    Returns:
        Their mean, one set of parameters.
    """
    return jax.tree.map(lambda a: jnp.mean(a, axis=0), params)


def _check_model_data(model: MLP | FunctionModel, params: Any, data: Dataset, name: str) -> None:
    """An MLP checks its parameters and the data's features and labels; for any other model the number of
    classes is read from its output on one example."""
    if isinstance(model, MLP):
        model.check_params(params)
        check_dataset(Dataset(*data), num_features=model.sizes[0], num_classes=model.sizes[-1], name=name)
        return
    check_dataset(Dataset(*data), name=name)
    out = jax.eval_shape(lambda p, x: model.apply(p, x), params, data[0][:1])
    if len(out.shape) != 2:
        raise ValueError(f"the model must return logits of shape (n, classes), got shape {out.shape} for {name}.x[:1]")
    check_dataset(Dataset(*data), num_classes=out.shape[-1], name=name)


def _check_fit(model, params, optimizer, train, val, key, plateau, kw) -> tuple[_Config, tuple]:
    for leaf in jax.tree.leaves(params):
        if not jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            raise TypeError(f"params must be floating point, got a leaf of dtype {jnp.result_type(leaf)}")
    for name, t in (("optimizer", optimizer), ("plateau", plateau)):
        if t is not None and not (hasattr(t, "init") and hasattr(t, "update")):
            raise TypeError(f"{name} must be an optax GradientTransformation, got {t!r}")
    for name, data in (("train", train), ("val", val)):
        if not isinstance(data, tuple) or len(data) != 2:
            raise TypeError(f"{name} must be a Dataset (x, y), got {type(data).__name__}")
        _check_model_data(model, params, data, name)
    if jnp.ndim(key) != 0 and jnp.shape(key) != (2,):
        raise ValueError(f"key must be one PRNG key, got an array of shape {jnp.shape(key)}")
    _validate.one_of("loss", kw["loss"], tuple(LOSSES))
    _validate.positive_int("epochs", kw["epochs"])
    if _bn(model) and (kw["curvature_every"] is not None or kw["average_from"] is not None):
        raise ValueError(
            "curvature_every and average_from are not supported with batch_norm=True (the test-time network "
            "depends on running statistics, which neither would track)"
        )
    num_batches(int(jnp.shape(train[0])[0]), kw["batch_size"])
    for name in ("patience", "curvature_every"):
        if kw[name] is not None:
            _validate.positive_int(name, kw[name])
    if kw["curvature_every"] is not None and kw["curvature_every"] > kw["epochs"]:
        raise ValueError(f"curvature_every={kw['curvature_every']} exceeds epochs={kw['epochs']}: nothing to measure")
    if kw["average_from"] is not None:
        _validate.positive_int("average_from", kw["average_from"])
        if kw["average_from"] > kw["epochs"]:
            raise ValueError(f"average_from={kw['average_from']} is after the last epoch (epochs={kw['epochs']})")
    _validate.positive_int("lanczos_iters", kw["lanczos_iters"])
    hs = kw["hutchinson_samples"]
    if isinstance(hs, bool) or not isinstance(hs, (int, np.integer)) or hs < 0:
        raise ValueError(f"hutchinson_samples must be a non-negative integer, got hutchinson_samples={hs!r}")
    for name in ("l2", "l1", "min_delta"):
        _validate.nonnegative(name, kw[name])
    if plateau is not None:
        state = jax.eval_shape(plateau.init, params)
        if not hasattr(state, "scale"):
            raise TypeError(
                "plateau must be a reduce-on-plateau transform whose state has a 'scale' field "
                f"(jaxgd.schedules.reduce_on_plateau), got state {type(state).__name__}"
            )
    cfg = _Config(
        epochs=int(kw["epochs"]),
        batch_size=None if kw["batch_size"] is None else int(kw["batch_size"]),
        loss=kw["loss"],
        patience=kw["patience"],
        restore_best=bool(kw["restore_best"]),
        average_from=kw["average_from"],
        curvature_every=kw["curvature_every"],
        lanczos_iters=int(kw["lanczos_iters"]),
        hutchinson_samples=int(hs),
        record_params=bool(kw["record_params"]),
    )
    dtype = jax.tree.leaves(params)[0].dtype
    data = tuple(Dataset(jnp.asarray(d[0], dtype), jnp.asarray(d[1], jnp.int32)) for d in (train, val))
    return cfg, data


def fit(
    model: MLP | Callable[..., jax.Array],
    params: Params,
    optimizer: optax.GradientTransformation,
    train: Dataset,
    val: Dataset,
    key: jax.Array,
    *,
    epochs: int,
    batch_size: int | None = 32,
    loss: str = "cross_entropy",
    l2: Any = 0.0,
    l1: Any = 0.0,
    patience: int | None = None,
    min_delta: Any = 0.0,
    restore_best: bool = True,
    plateau: optax.GradientTransformation | None = None,
    average_from: int | None = None,
    curvature_every: int | None = None,
    lanczos_iters: int = 20,
    hutchinson_samples: int = 8,
    record_params: bool = False,
    batch_stats: Any = None,
) -> TrainResult:
    """Train ``model`` from ``params`` for ``epochs`` epochs of mini-batches of ``batch_size`` (None: full batch).

    ``model`` is a :class:`~jaxgd.nn.MLP` or any ``apply(params, x, *, key=None, train=False) -> logits``
    (a flax or equinox network wrapped to that signature; see :class:`FunctionModel`).

    See the module docstring for what happens in an epoch. ``key`` drives the
    shuffling, the dropout masks and the curvature probes; epoch e uses
    ``fold_in(key, e)``, so a shorter run is a prefix of a longer one. The run
    is one jitted program, ``vmap``-able over ``params``, ``key`` and every
    numeric hyperparameter (learning rates, ``l2``, ``model.keep_prob``...).
    ``batch_stats``: a batch-norm MLP's running statistics to start from (default ``model.init_batch_stats()``).

    Args:
        model: The :class:`MLP`, or any ``apply(params, x, *, key=None, train=False) -> logits``.
        params: The initial parameters.
        optimizer: Any optax gradient transformation.
        train: The training :class:`Dataset`.
        val: The validation :class:`Dataset`.
        key: The PRNG key of the run.
        epochs: The number of epochs E.
        batch_size: B (None: the full batch).
        loss: ``"cross_entropy"`` or ``"squared"``.
        l2: The weight of (1/2)||W||^2 in the training objective.
        l1: The weight of ||W||_1 in the training objective.
        patience: Epochs without improvement before early stopping (None: no early stopping).
        min_delta: The decrease of the validation loss that counts as an improvement.
        restore_best: Whether to return the best-validation parameters as ``params``.
        plateau: A reduce-on-plateau transform stepped on the validation loss each epoch.
        average_from: The first epoch of checkpoint averaging (None: none).
        curvature_every: Estimate the curvature every this many epochs (None: never).
        lanczos_iters: The Lanczos iterations of the sharpness estimate.
        hutchinson_samples: The probes of the trace estimate (0: skipped).
        record_params: Whether to keep the end-of-epoch parameters.
        batch_stats: A batch-norm MLP's running statistics to start from.

    Returns:
        The result (:class:`TrainResult`).
    """
    kw = dict(
        epochs=epochs, batch_size=batch_size, loss=loss, l2=l2, l1=l1, patience=patience, min_delta=min_delta,
        restore_best=restore_best, average_from=average_from, curvature_every=curvature_every,
        lanczos_iters=lanczos_iters, hutchinson_samples=hutchinson_samples, record_params=record_params,
    )  # fmt: skip
    model = _as_model(model)
    cfg, (train, val) = _check_fit(model, params, optimizer, train, val, key, plateau, kw)
    if batch_stats is not None:
        if not isinstance(model, MLP):
            raise TypeError("batch_stats is for an MLP with batch_norm=True, not for a function model")
        model.check_batch_stats(batch_stats)
    return _fit_jit((model, optimizer, plateau, (l2, l1, min_delta)), params, train, val, key, batch_stats, cfg=cfg)


def fit_ensemble(
    model: MLP | Callable[..., jax.Array],
    params: Params,
    optimizer: optax.GradientTransformation,
    train: Dataset,
    val: Dataset,
    keys: jax.Array,
    **kwargs: Any,
) -> TrainResult:
    """Train k members in one ``vmap``: ``params`` (e.g. ``jax.vmap(model.init)(keys)``) and ``keys`` have a
    leading axis k; the data and hyperparameters are shared. Keyword arguments as in :func:`fit`.

    Every leaf of the result has a leading axis k. Predict with :func:`ensemble_proba`.

    Args:
        model: The :class:`MLP`, or any ``apply(params, x, *, key=None, train=False) -> logits``.
        params: The members' initial parameters, with a leading axis k.
        optimizer: Any optax gradient transformation.
        train: The training :class:`Dataset`.
        val: The validation :class:`Dataset`.
        keys: The members' PRNG keys, (k,).
        **kwargs: As in :func:`fit`.

    Returns:
        The result (:class:`TrainResult`), every leaf with a leading axis k.
    """
    sizes = {jnp.shape(a)[0] if jnp.ndim(a) else None for a in jax.tree.leaves(params)}
    k_keys = jnp.shape(keys)[0] if jnp.ndim(keys) else None
    if len(sizes) != 1 or None in sizes or sizes != {k_keys}:
        raise ValueError(
            f"params and keys need one shared leading ensemble axis, got params {sorted(map(str, sizes))}, "
            f"keys {jnp.shape(keys)}"
        )
    member = jax.tree.map(lambda a: a[0], params)
    defaults = dict(
        batch_size=32, loss="cross_entropy", l2=0.0, l1=0.0, patience=None, min_delta=0.0, restore_best=True,
        average_from=None, curvature_every=None, lanczos_iters=20, hutchinson_samples=8, record_params=False,
    )  # fmt: skip
    unknown = set(kwargs) - set(defaults) - {"epochs", "plateau"}
    if unknown:
        raise TypeError(f"fit_ensemble got unexpected keyword arguments {sorted(unknown)}")
    if "epochs" not in kwargs:
        raise TypeError("fit_ensemble needs epochs=")
    plateau = kwargs.pop("plateau", None)
    kw = {**defaults, **kwargs}
    model = _as_model(model)
    cfg, (train, val) = _check_fit(model, member, optimizer, train, val, keys[0], plateau, kw)
    parts = (model, optimizer, plateau, (kw["l2"], kw["l1"], kw["min_delta"]))
    return _fit_ensemble_jit(parts, params, train, val, keys, None, cfg=cfg)


class _Run(NamedTuple):
    """What every epoch of one run reads: the (combined) model, optimizer, plateau and penalties, the data."""

    model: MLP
    optimizer: optax.GradientTransformation
    plateau: Any
    l2: Any
    l1: Any
    min_delta: Any
    train: Dataset
    val: Dataset
    dtype: Any
    cfg: _Config

    def objective(self, p: Params, batch: Dataset, k: jax.Array, stats: Any = None) -> Any:
        """The mini-batch training objective: data loss (dropout active) plus the penalties.

        A batch-norm model returns (objective, updated running statistics)."""
        if _bn(self.model):
            out, stats = self.model.apply(p, batch.x, key=k, train=True, batch_stats=stats)
        else:
            out = self.model.apply(p, batch.x, key=k, train=True)
        value = LOSSES[self.cfg.loss](out, batch.y) + l2_penalty(p, self.l2) + l1_penalty(p, self.l1)
        return (value, stats) if _bn(self.model) else value

    def measure(self, p: Params, data: Dataset, stats: Any = None) -> tuple[jax.Array, jax.Array]:
        """(data loss, accuracy) of the test-time network on a whole set."""
        out = _test_logits(self.model, p, data.x, stats)
        return LOSSES[self.cfg.loss](out, data.y).astype(self.dtype), accuracy(out, data.y).astype(self.dtype)

    def scale_of(self, plateau_state: Any) -> jax.Array:
        return jnp.ones([], self.dtype) if self.plateau is None else jnp.asarray(plateau_state.scale, self.dtype)


def _train_step(run: _Run, carry: tuple, xs: tuple) -> tuple[tuple, tuple]:
    """One mini-batch step (:func:`jaxgd._core.update_step`, updates scaled by the plateau factor)."""
    p, s, scale, stats = carry
    idx, k = xs
    batch = take(run.train, idx)
    if _bn(run.model):
        step = update_step(run.optimizer, run.objective, p, s, (batch, k, stats), scale=scale, has_aux=True)
        stats = step.aux
    else:
        step = update_step(run.optimizer, run.objective, p, s, (batch, k), scale=scale)
    pairs = zip(_layer_weights(run.model, step.updates), _layer_weights(run.model, p))
    ratios = jnp.stack([tree_norm(u) / tree_norm(w) for u, w in pairs]).astype(run.dtype)
    layer_grads = jnp.stack([tree_norm(g) for g in _layer_weights(run.model, step.grad)]).astype(run.dtype)
    metrics = (step.value.astype(run.dtype), tree_norm(step.grad).astype(run.dtype), ratios, layer_grads)
    return (step.params, step.state, scale, stats), metrics


def _run_epoch(run: _Run, k_epochs: jax.Array, state: _State, epoch: jax.Array) -> tuple[_State, tuple]:
    """An epoch of shuffled mini-batches, then the whole-set metrics, plateau, early-stopping and averaging."""
    cfg = run.cfg
    n = run.train.x.shape[0]
    k_perm, k_drop = jax.random.split(jax.random.fold_in(k_epochs, epoch))
    idx = batch_indices(k_perm, n, cfg.batch_size)
    scale = run.scale_of(state.plateau_state)
    (p, s, _, stats), (values, gnorms, ratios, layer_grads) = jax.lax.scan(
        functools.partial(_train_step, run),
        (state.params, state.opt_state, scale, state.batch_stats),
        (idx, jax.random.split(k_drop, num_batches(n, cfg.batch_size))),
    )
    train_loss, train_acc = run.measure(p, run.train, stats)
    val_loss, val_acc = run.measure(p, run.val, stats)
    plateau_state = state.plateau_state
    if run.plateau is not None:
        _, plateau_state = run.plateau.update({}, plateau_state, None, value=val_loss)
    improved = val_loss < state.best_val - run.min_delta
    wait = jnp.where(improved, 0, state.wait + 1)
    stopped = wait >= cfg.patience if cfg.patience is not None else state.stopped
    avg_sum, avg_count = state.avg_sum, state.avg_count
    if cfg.average_from is not None:
        use = epoch >= cfg.average_from
        avg_sum = jax.tree.map(lambda a, x: a + jnp.where(use, x, jnp.zeros_like(x)), avg_sum, p)
        avg_count = avg_count + use.astype(avg_count.dtype)
    new_state = _State(
        params=p,
        opt_state=s,
        plateau_state=plateau_state,
        best_params=jax.tree.map(lambda b, x: jnp.where(improved, x, b), state.best_params, p),
        best_val=jnp.where(improved, val_loss, state.best_val),
        best_epoch=jnp.where(improved, epoch, state.best_epoch),
        wait=wait,
        stopped=stopped,
        epochs_run=epoch,
        avg_sum=avg_sum,
        avg_count=avg_count,
        batch_stats=stats,
        best_batch_stats=jax.tree.map(lambda b, x: jnp.where(improved, x, b), state.best_batch_stats, stats),
    )
    metrics = EpochMetrics(
        train_loss,
        train_acc,
        val_loss,
        val_acc,
        jnp.mean(values),
        jnp.mean(gnorms),
        jnp.mean(ratios, 0),
        scale,
        jnp.mean(layer_grads, 0),
    )
    return new_state, (metrics, p if cfg.record_params else None)


def _skip_epoch(run: _Run, state: _State, epoch: jax.Array) -> tuple[_State, tuple]:
    """An epoch after early stopping: nothing changes, its metrics are NaN."""
    nan = jnp.full([], jnp.nan, run.dtype)
    layers = jnp.full([len(_layer_weights(run.model, state.params))], jnp.nan, run.dtype)
    metrics = EpochMetrics(nan, nan, nan, nan, nan, nan, layers, nan, layers)
    return state, (metrics, state.params if run.cfg.record_params else None)


def _initial_state(run: _Run, params: Params, batch_stats: Any) -> _State:
    if _bn(run.model) and batch_stats is None:
        batch_stats = run.model.init_batch_stats(run.dtype)
    return _State(
        params=params,
        opt_state=run.optimizer.init(params),
        plateau_state=None if run.plateau is None else run.plateau.init(params),
        best_params=params,
        best_val=jnp.asarray(jnp.inf, run.dtype),
        best_epoch=jnp.zeros([], jnp.int32),
        wait=jnp.zeros([], jnp.int32),
        stopped=jnp.zeros([], bool),
        epochs_run=jnp.zeros([], jnp.int32),
        avg_sum=None if run.cfg.average_from is None else jax.tree.map(jnp.zeros_like, params),
        avg_count=jnp.zeros([], jnp.int32),
        batch_stats=batch_stats,
        best_batch_stats=batch_stats,
    )


def _scan_epochs(run: _Run, state: _State, key: jax.Array) -> tuple[_State, EpochMetrics, Any, Any]:
    """All epochs as one ``lax.scan`` (in chunks of ``curvature_every`` with the curvature measured after each)."""
    cfg = run.cfg
    k_epochs, k_curv = jax.random.split(key)
    run_epoch = functools.partial(_run_epoch, run, k_epochs)
    skip_epoch = functools.partial(_skip_epoch, run)

    def one_epoch(st: _State, epoch):
        if cfg.patience is None:
            return run_epoch(st, epoch)
        return jax.lax.cond(st.stopped, skip_epoch, run_epoch, st, epoch)

    epochs = jnp.arange(1, cfg.epochs + 1, dtype=jnp.int32)
    every = cfg.curvature_every
    if every is None:
        state, (metrics, recorded) = jax.lax.scan(one_epoch, state, epochs)
        return state, metrics, recorded, None

    def curvature_at(p, epoch):
        f = training_objective(run.model, run.train, loss=cfg.loss, l2=run.l2, l1=run.l1)
        return _curvature(f, p, jax.random.fold_in(k_curv, epoch), cfg.lanczos_iters, cfg.hutchinson_samples)

    def chunk(st, chunk_epochs):
        st, out = jax.lax.scan(one_epoch, st, chunk_epochs)
        return st, (out, curvature_at(st.params, chunk_epochs[-1]))

    n_outer = cfg.epochs // every
    state, (out, c) = jax.lax.scan(chunk, state, epochs[: n_outer * every].reshape(n_outer, every))
    parts = [jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), out)]
    if cfg.epochs > n_outer * every:
        state, out = jax.lax.scan(one_epoch, state, epochs[n_outer * every :])
        parts.append(out)
    metrics, recorded = jax.tree.map(lambda *a: jnp.concatenate(a), *parts)
    curvature = CurvatureHistory(jnp.arange(every, n_outer * every + 1, every, dtype=jnp.int32), *c)
    return state, metrics, recorded, curvature


def _fit_core(parts: tuple, params: Params, train: Dataset, val: Dataset, key: jax.Array, stats, cfg) -> TrainResult:
    model, optimizer, plateau, (l2, l1, min_delta) = parts
    dtype = jax.tree.leaves(params)[0].dtype
    run = _Run(model, optimizer, plateau, l2, l1, min_delta, train, val, dtype, cfg)
    state, metrics, recorded, curvature = _scan_epochs(run, _initial_state(run, params, stats), key)
    averaged = None
    if cfg.average_from is not None:
        count = state.avg_count
        averaged = jax.tree.map(
            lambda s, x: jnp.where(count > 0, s / jnp.maximum(count, 1).astype(s.dtype), x), state.avg_sum, state.params
        )
    return TrainResult(
        params=state.best_params if cfg.restore_best else state.params,
        last_params=state.params,
        averaged_params=averaged,
        best_epoch=state.best_epoch,
        best_val_loss=state.best_val,
        epochs_run=state.epochs_run,
        history=metrics,
        curvature=curvature,
        param_history=recorded,
        opt_state=state.opt_state,
        batch_stats=state.best_batch_stats if cfg.restore_best else state.batch_stats,
        last_batch_stats=state.batch_stats,
    )


@filter_jit(static_argnames=("cfg",))
def _fit_jit(parts: tuple, params: Params, train: Dataset, val: Dataset, key: jax.Array, stats, *, cfg: _Config):
    return _fit_core(parts, params, train, val, key, stats, cfg)


@filter_jit(static_argnames=("cfg",))
def _fit_ensemble_jit(parts: tuple, params: Params, train: Dataset, val: Dataset, keys: jax.Array, stats, *, cfg):
    return jax.vmap(lambda p, k: _fit_core(parts, p, train, val, k, stats, cfg))(params, keys)
