"""Convex, constrained and non-smooth methods: the rows of the table of convergence rates.

Optax-shaped pieces (``optax.GradientTransformation`` factories returning
:class:`jaxgd.Optimizer` recipes, which run under ``jaxgd.run`` and compose with optax):

* :mod:`~jaxgd.convex.projections`: projections onto the box, the Euclidean ball, the
  simplex and the l1 ball; :func:`projected` applies any of them (or a user's) after
  any transform, :func:`projected_gradient` is projected (sub)gradient descent.
* :mod:`~jaxgd.convex.prox`: proximal operators (l1, squared l2, elastic net, box
  indicator, group lasso); :func:`proximal_gradient` (ISTA), :func:`fista` and
  :func:`backtracking_fista` for f + g.
* :mod:`~jaxgd.convex.subgradient`: the table's step sizes and the (weighted) averages
  its rates are stated for.
* :mod:`~jaxgd.convex.frank_wolfe`: linear minimisation oracles, Frank-Wolfe and its
  duality gap; :mod:`~jaxgd.convex.mirror`: entropic mirror descent, mirror prox for
  saddle points.

Solvers (one ``jit``-compiled ``lax.scan``, results as NamedTuples with their history):
:func:`ellipsoid` (ellipsoid method), :func:`barrier_lp` (log-barrier path following
for linear programs), :func:`mirror_prox`.

:mod:`~jaxgd.convex.problems` builds problems with their constants known exactly and
:mod:`~jaxgd.convex.bounds` holds each row's bound and the table itself.

Left out, as the table's other rows for non-smooth f: the centre of gravity method
(Levin 1965; Newman 1965) needs the centroid of the current convex body, an
n-dimensional integral with no closed form once the body has been cut (exactly, it is
#P-hard for a polytope, Rademacher 2007; approximately, it needs random-walk sampling,
Bertsimas & Vempala 2004); Vaidya's method (1989) needs volumetric centres and the
bookkeeping of adding and dropping constraints, heavy machinery for a rate exp(-t/n)
that the ellipsoid method matches up to a factor n in the exponent. Finite sums (SVRG)
belong with jaxgd's stochastic methods.
"""

from jaxgd.convex import bounds, problems, projections, prox
from jaxgd.convex.barrier import BarrierResult, barrier_lp, short_step_factor
from jaxgd.convex.ellipsoid import EllipsoidResult, ellipsoid, ellipsoid_volume_factor
from jaxgd.convex.frank_wolfe import (
    LMO,
    FrankWolfeState,
    duality_gap,
    frank_wolfe,
    lmo,
    lmo_box,
    lmo_l1_ball,
    lmo_simplex,
)
from jaxgd.convex.mirror import (
    EntropicMirrorState,
    MirrorProxResult,
    entropic_mirror_descent,
    entropic_step,
    game_gap,
    game_step_sizes,
    mirror_prox,
)
from jaxgd.convex.problems import ConvexProblem
from jaxgd.convex.projected import ProjectedGradientState, projected, projected_gradient
from jaxgd.convex.projections import (
    Projection,
    project_ball,
    project_box,
    project_l1_ball,
    project_simplex,
    projection,
)
from jaxgd.convex.prox import Prox
from jaxgd.convex.proximal import (
    BacktrackingFistaState,
    FistaState,
    ProximalGradientState,
    backtracking_fista,
    fista,
    prox_gradient_step,
    proximal_gradient,
)
from jaxgd.convex.subgradient import (
    AveragedState,
    StepSize,
    averaged,
    iterate_average,
    lipschitz_step,
    strongly_convex_step,
)

__all__ = [
    "LMO",
    "AveragedState",
    "BacktrackingFistaState",
    "BarrierResult",
    "ConvexProblem",
    "EllipsoidResult",
    "EntropicMirrorState",
    "FistaState",
    "FrankWolfeState",
    "MirrorProxResult",
    "ProjectedGradientState",
    "Projection",
    "Prox",
    "ProximalGradientState",
    "StepSize",
    "averaged",
    "backtracking_fista",
    "barrier_lp",
    "bounds",
    "duality_gap",
    "ellipsoid",
    "ellipsoid_volume_factor",
    "entropic_mirror_descent",
    "entropic_step",
    "fista",
    "frank_wolfe",
    "game_gap",
    "game_step_sizes",
    "iterate_average",
    "lipschitz_step",
    "lmo",
    "lmo_box",
    "lmo_l1_ball",
    "lmo_simplex",
    "mirror_prox",
    "problems",
    "project_ball",
    "project_box",
    "project_l1_ball",
    "project_simplex",
    "projected",
    "projected_gradient",
    "projection",
    "projections",
    "prox",
    "prox_gradient_step",
    "proximal_gradient",
    "short_step_factor",
    "strongly_convex_step",
]
