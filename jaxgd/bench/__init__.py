"""Benchmark and tune optimizers: the DeepOBS / AlgoPerf protocol in a few compiled calls.

* :mod:`~jaxgd.bench.problems`: 21 classic test functions (Moré, Garbow & Hillstrom 1981) as Problems;
* :mod:`~jaxgd.bench.tuning`: :func:`tune`, one optimizer on one problem over a log grid of learning rates
  (x a second axis, x seeds for stochastic problems) in one compiled call, chosen by a stated :class:`Rule`;
  :func:`tune_many`, several optimizers in one compiled call;
* :mod:`~jaxgd.bench.metrics`: :func:`steps_to_target`, :func:`performance_profile` (Dolan & Moré 2002);
* :mod:`~jaxgd.bench.suite`: the tasks (test accuracy on learning problems) and optimizers, :func:`run_suite`;
* :mod:`~jaxgd.bench.report`: leaderboard, profiles in gradient-equivalents, sensitivity curves with 2/lambda_max;
* :mod:`~jaxgd.bench.second_order`: :func:`jaxgd.minimize`'s methods as solvers, by gradients and HVPs;
* :mod:`~jaxgd.bench.benchmark`: :func:`bench`, all of it written to a folder;
* :mod:`~jaxgd.bench.cli`: ``jaxgd bench``;
* :mod:`~jaxgd.bench.hypergradients`: d(loss of a run)/d(hyperparameters), checkpointed, :func:`gradient_tune`;
* :mod:`~jaxgd.bench.hypergradient_descent`: :func:`sgd_hd`, :func:`adam_hd` (Baydin et al. 2018).
"""

from jaxgd.bench import hypergradient_descent, hypergradients, metrics, problems, report, second_order, suite, tuning
from jaxgd.bench.benchmark import bench
from jaxgd.bench.hypergradient_descent import adam_hd, scale_by_hypergradient, sgd_hd
from jaxgd.bench.hypergradients import GradientTuning, gradient_tune, hypergradient, run_loss
from jaxgd.bench.metrics import performance_profile, performance_ratios, steps_to_target
from jaxgd.bench.suite import OPTIMIZERS, Task, default_tasks, run_suite, small_tasks, tasks
from jaxgd.bench.tuning import TAUS, OptimizerSpec, Rule, Tuning, learning_rates, tune, tune_many

__all__ = [
    "OPTIMIZERS",
    "TAUS",
    "GradientTuning",
    "OptimizerSpec",
    "Rule",
    "Task",
    "Tuning",
    "adam_hd",
    "bench",
    "default_tasks",
    "gradient_tune",
    "hypergradient",
    "hypergradient_descent",
    "hypergradients",
    "learning_rates",
    "metrics",
    "performance_profile",
    "performance_ratios",
    "problems",
    "report",
    "run_loss",
    "run_suite",
    "scale_by_hypergradient",
    "second_order",
    "sgd_hd",
    "small_tasks",
    "steps_to_target",
    "suite",
    "tasks",
    "tune",
    "tune_many",
    "tuning",
]
