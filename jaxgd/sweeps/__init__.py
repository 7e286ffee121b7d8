"""Hyperparameter sweeps: thousands of runs under one ``jit(vmap(lax.scan))``, chunked, saved and sharded.

A jaxgd optimizer is a pytree of its hyperparameters, so ``make_optimizer(**hp)``
called inside ``vmap`` with traced scalars is an optimizer per run: no
``optax.inject_hyperparams`` and none of its casts (optax issue 1532).

Where things are:

* :mod:`~jaxgd.sweeps.space`: tables of configurations, :func:`grid`, :func:`random_search` with
  :func:`log_uniform` and :func:`uniform` samplers (Bergstra & Bengio 2012), :func:`check_factory`;
* :mod:`~jaxgd.sweeps.result`: :class:`SweepResult` (the summaries as arrays, ``best()``,
  ``save()``/``load()`` of one ``.npz`` written whole), :class:`SweepFileError`;
* :mod:`~jaxgd.sweeps.driver`: :func:`sweep`, every configuration x problem x start, in chunks over the
  devices, saved and resumed;
* :mod:`~jaxgd.sweeps.store`: what a sweep with ``out=`` writes, a file per chunk and an index in a folder
  that becomes one ``.npz`` when the sweep is done (:func:`delete` removes either);
  :mod:`~jaxgd.sweeps.fingerprint`: what it records of the computation, so a sweep resumes only its own;
* :mod:`~jaxgd.sweeps.prepare`: sweep's arguments made into the compiled chunk's plan and arrays;
* :mod:`~jaxgd.sweeps.engine`: the compiled chunk, one run's loop with per-run summaries computed
  inside it (memory O(runs), not O(runs x steps)) and its checkpoint-and-replay;
* :mod:`~jaxgd.sweeps.backend`: the speed choices that depend on the backend;
  :mod:`~jaxgd.sweeps.small_sums`: the CPU one, small sums written as adds;
* :mod:`~jaxgd.sweeps.search`: :func:`refine`, :func:`coarse_to_fine`, :func:`lr_range_test`.
"""

from jaxgd.sweeps.driver import sweep
from jaxgd.sweeps.result import Best, SweepFileError, SweepResult
from jaxgd.sweeps.search import LRRangeTest, coarse_to_fine, lr_range_test, refine
from jaxgd.sweeps.space import Sampler, Space, check_factory, grid, infer_scale, log_uniform, random_search, uniform
from jaxgd.sweeps.store import delete

__all__ = [
    "Best",
    "LRRangeTest",
    "Sampler",
    "Space",
    "SweepFileError",
    "SweepResult",
    "check_factory",
    "coarse_to_fine",
    "delete",
    "grid",
    "infer_scale",
    "log_uniform",
    "lr_range_test",
    "random_search",
    "refine",
    "sweep",
    "uniform",
]
