"""jaxgd: gradient-based optimizers as pure optax transformations, with problems, analysis and sweeps."""

from jaxgd import analysis, curvature, nn, problems, schedules, sweeps, transforms
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
from jaxgd.sweeps import (
    Space,
    SweepResult,
    coarse_to_fine,
    grid,
    log_uniform,
    lr_range_test,
    random_search,
    refine,
    sweep,
    uniform,
)

__version__ = "0.1.0"

__all__ = [
    "Optimizer",
    "Problem",
    "Schedule",
    "Space",
    "SweepResult",
    "Trajectory",
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "analysis",
    "chain",
    "coarse_to_fine",
    "curvature",
    "grid",
    "log_uniform",
    "lr_range_test",
    "momentum",
    "nadam",
    "nesterov",
    "nesterov_1983",
    "nn",
    "problems",
    "random_search",
    "refine",
    "rmsprop",
    "run",
    "schedules",
    "sgd",
    "sweep",
    "sweeps",
    "transforms",
    "tree_norm",
    "uniform",
]
