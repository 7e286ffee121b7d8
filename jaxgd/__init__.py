"""jaxgd: gradient-based optimizers as pure optax transformations, with problems, analysis and sweeps."""

from jaxgd import analysis, curvature, nn, problems, schedules, transforms
from jaxgd._recipe import Optimizer, Schedule
from jaxgd.optimizers import (
    adadelta,
    adagrad,
    adam,
    adamax,
    chain,
    momentum,
    nadam,
    nesterov,
    nesterov_1983,
    rmsprop,
    sgd,
)
from jaxgd.problems import Problem
from jaxgd.runner import Trajectory, run, tree_norm

__version__ = "0.1.0"

__all__ = [
    "Optimizer",
    "Problem",
    "Schedule",
    "Trajectory",
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "analysis",
    "chain",
    "curvature",
    "momentum",
    "nadam",
    "nesterov",
    "nesterov_1983",
    "nn",
    "problems",
    "rmsprop",
    "run",
    "schedules",
    "sgd",
    "transforms",
    "tree_norm",
]
