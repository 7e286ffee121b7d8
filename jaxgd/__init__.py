"""jaxgd: gradient-based optimizers as pure optax transformations, with problems, analysis and sweeps."""

from jaxgd import (
    analysis,
    convex,
    curvature,
    files,
    linesearch,
    nn,
    problems,
    schedules,
    second_order,
    stochastic,
    sweeps,
    transforms,
)
from jaxgd._core import filter_jit
from jaxgd._recipe import Optimizer, Recipe, Schedule
from jaxgd.optimizers import (
    adadelta,
    adagrad,
    adam,
    adamax,
    adamw,
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
from jaxgd.second_order import (
    MinimizeResult,
    bfgs,
    lbfgs,
    minimize,
    newton,
    newton_cg,
    nonlinear_cg,
    regularized_newton,
    saddle_free_newton,
)
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
from jaxgd.transforms import nesterov_iterate

# isort: split
from jaxgd import bench  # last: its suite reads the aliases above when it is imported

__version__ = "0.1.0"

__all__ = [
    "MinimizeResult",
    "Optimizer",
    "Problem",
    "Recipe",
    "Schedule",
    "Space",
    "SweepResult",
    "Trajectory",
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "analysis",
    "bench",
    "bfgs",
    "chain",
    "coarse_to_fine",
    "convex",
    "curvature",
    "files",
    "filter_jit",
    "grid",
    "lbfgs",
    "linesearch",
    "log_uniform",
    "lr_range_test",
    "minimize",
    "momentum",
    "nadam",
    "nesterov",
    "nesterov_1983",
    "nesterov_iterate",
    "newton",
    "newton_cg",
    "nn",
    "nonlinear_cg",
    "problems",
    "random_search",
    "refine",
    "regularized_newton",
    "rmsprop",
    "run",
    "saddle_free_newton",
    "schedules",
    "second_order",
    "sgd",
    "stochastic",
    "sweep",
    "sweeps",
    "transforms",
    "tree_norm",
    "uniform",
]
