"""Neural-network training lab: MLPs with dropout, initialisation and regularisation on real data.

* :mod:`jaxgd.nn.data`: scikit-learn's digits and breast cancer, splits, standardisation, mini-batches.
* :mod:`jaxgd.nn.mlp`: :class:`MLP` over plain pytree parameters.
* :mod:`jaxgd.nn.initializers`, :mod:`jaxgd.nn.dropout`, :mod:`jaxgd.nn.losses` (with entropy and KL).
* :mod:`jaxgd.nn.gradients`: the delta recursion by hand, :func:`output_bias_init`, :func:`dead_units`.
* :mod:`jaxgd.nn.train`: :func:`fit` (one jitted scan over epochs), ensembles, early stopping, curvature.
"""

from jaxgd.nn import data, dropout, gradients, initializers, losses, mlp, train
from jaxgd.nn.data import Dataset, DataSplits, load, make_dataset, split
from jaxgd.nn.dropout import dropout as apply_dropout
from jaxgd.nn.gradients import backprop, dead_units, output_bias_init
from jaxgd.nn.initializers import gaussian, he_normal, xavier_uniform
from jaxgd.nn.losses import (
    accuracy,
    cross_entropy,
    entropy,
    kl_divergence,
    l1_penalty,
    l2_penalty,
    misclassification_rate,
    softmax_cross_entropy,
    squared_loss,
)
from jaxgd.nn.mlp import MLP
from jaxgd.nn.train import (
    Curvature,
    CurvatureHistory,
    EpochMetrics,
    FunctionModel,
    TrainResult,
    average_checkpoints,
    ensemble_proba,
    evaluate,
    fit,
    fit_ensemble,
    network_curvature,
    training_objective,
)

__all__ = [
    "MLP",
    "Curvature",
    "CurvatureHistory",
    "DataSplits",
    "Dataset",
    "EpochMetrics",
    "FunctionModel",
    "TrainResult",
    "accuracy",
    "apply_dropout",
    "average_checkpoints",
    "backprop",
    "cross_entropy",
    "data",
    "dead_units",
    "dropout",
    "ensemble_proba",
    "entropy",
    "evaluate",
    "fit",
    "fit_ensemble",
    "gaussian",
    "gradients",
    "he_normal",
    "initializers",
    "kl_divergence",
    "l1_penalty",
    "l2_penalty",
    "load",
    "losses",
    "make_dataset",
    "misclassification_rate",
    "mlp",
    "network_curvature",
    "output_bias_init",
    "softmax_cross_entropy",
    "split",
    "squared_loss",
    "train",
    "training_objective",
    "xavier_uniform",
]
