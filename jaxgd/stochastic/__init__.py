"""Stochastic optimization: finite sums, noisy gradients, stochastic runs, iterate averaging, variance reduction.

* :class:`FiniteSum` (:mod:`~jaxgd.stochastic.finite_sum`): f = (1/n) sum_i f_i over data on the device,
  the exact objective, mini-batch losses, per-example gradients; :class:`MiniBatch`, the pure
  stochastic loss ``loss(params, key)``. Built in (:mod:`~jaxgd.stochastic.problems`):
  :func:`least_squares`, :func:`ridge`, :func:`logistic_regression`, :func:`softmax_regression`.
* :func:`noisy_gradient`: any objective with Gaussian gradient noise of known sigma.
* :class:`Sampler`: with or without replacement, or epochs (random reshuffling).
* :func:`run`: a stochastic run with its own key, recording the full objective on a fixed schedule.
* :func:`polyak_averaging`, :func:`tail_averaging`, :func:`ema_averaging`, :func:`averaged_params`.
* Estimators: :func:`minibatch` (SGD), :func:`svrg`, :func:`saga`.
* Schedules of the theory (:mod:`~jaxgd.stochastic.schedules`) and their bounds (:mod:`~jaxgd.stochastic.bounds`).
* :func:`gradient_noise_scale` (B_simple), :func:`hessian_noise_scale` (B_noise), :func:`lr_finder` (Smith 2017).
"""

from jaxgd.stochastic import averaging, bounds, estimators, finite_sum, noise, problems, runs, sampling, schedules
from jaxgd.stochastic.averaging import (
    AveragingState,
    averaged_params,
    ema_averaging,
    polyak_averaging,
    tail_averaging,
)
from jaxgd.stochastic.bounds import (
    constant_step_bound,
    constant_step_floor,
    quadratic_noise_floor,
    smooth_convex_bound,
    strongly_convex_bound,
)
from jaxgd.stochastic.estimators import SAGA, SVRG, Estimate, MiniBatchGradient, minibatch, saga, svrg
from jaxgd.stochastic.finite_sum import FiniteSum, MiniBatch, sample_indices
from jaxgd.stochastic.lr_finder import LRFinderResult, lr_finder
from jaxgd.stochastic.noise import NoisyGradient, noisy_gradient
from jaxgd.stochastic.noise_scale import NoiseScale, gradient_noise_scale, hessian_noise_scale, two_batch_noise_scale
from jaxgd.stochastic.problems import least_squares, logistic_regression, ridge, softmax_regression
from jaxgd.stochastic.runs import StochasticTrajectory, evaluation_steps, log_steps, run
from jaxgd.stochastic.sampling import Sampler
from jaxgd.stochastic.schedules import exponential_range, inverse_sqrt_step, smooth_convex_step, strongly_convex_step

__all__ = [
    "SAGA",
    "SVRG",
    "AveragingState",
    "Estimate",
    "FiniteSum",
    "LRFinderResult",
    "MiniBatch",
    "MiniBatchGradient",
    "NoiseScale",
    "NoisyGradient",
    "Sampler",
    "StochasticTrajectory",
    "averaged_params",
    "averaging",
    "bounds",
    "constant_step_bound",
    "constant_step_floor",
    "ema_averaging",
    "estimators",
    "evaluation_steps",
    "exponential_range",
    "finite_sum",
    "gradient_noise_scale",
    "hessian_noise_scale",
    "inverse_sqrt_step",
    "least_squares",
    "log_steps",
    "logistic_regression",
    "lr_finder",
    "minibatch",
    "noise",
    "noisy_gradient",
    "polyak_averaging",
    "problems",
    "quadratic_noise_floor",
    "ridge",
    "run",
    "runs",
    "saga",
    "sample_indices",
    "sampling",
    "schedules",
    "smooth_convex_bound",
    "smooth_convex_step",
    "softmax_regression",
    "strongly_convex_bound",
    "strongly_convex_step",
    "svrg",
    "tail_averaging",
    "two_batch_noise_scale",
]
