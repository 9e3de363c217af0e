"""nettrim: convex layer-by-layer pruning of trained ReLU networks (Net-Trim).

Aghasi, Abdi, Romberg, "Fast Convex Pruning of Deep Neural Networks", SIAM J. Math. Data Sci. 2020.

Subpackages
-----------
nettrim.reference
    The programs stated exactly in CVXPY (and the ε = 0 linear program through HiGHS).
nettrim.fast
    The ADMM solver for large layers.
nettrim.experiments
    The experiment harness (``python -m nettrim.experiments``).
nettrim.network
    Whole-network pruning: :func:`prune_network`, :class:`PrunedNetwork` and the layer-level API
    (``prune_layer``, ``cascade_program``, ``search_epsilon``) other front ends reuse.
"""

from .magnitude import magnitude_prune
from .problem import ACTIVATIONS, CERTIFICATE_TOL, Certificate, LayerProblem, layer_problem
from .solution import (GAP_TOL, INACCURATE, INFEASIBLE, MAX_ITER, OPTIMAL, OPTIMAL_INACCURATE, SOLVER_ERROR,
                       STATUSES, UNBOUNDED, VIOLATION_TOL, ConvergenceWarning, Solution)

__version__ = "0.1.0"


def __getattr__(name):
    # prune_network lives in nettrim.network, which imports pandas and the solvers; load it on first use so
    # that ``import nettrim`` stays light and free of import cycles.
    if name in ("prune_network", "PrunedNetwork"):
        from . import network

        return getattr(network, name)
    if name in ("reference", "fast", "experiments", "network"):  # `import nettrim; nettrim.fast.solve(...)`
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'nettrim' has no attribute {name!r}")


__all__ = ["prune_network", "PrunedNetwork", "magnitude_prune", "ACTIVATIONS", "LayerProblem", "layer_problem",
           "Certificate", "CERTIFICATE_TOL", "Solution", "STATUSES", "OPTIMAL", "OPTIMAL_INACCURATE", "INFEASIBLE",
           "UNBOUNDED", "SOLVER_ERROR", "MAX_ITER", "INACCURATE", "VIOLATION_TOL", "GAP_TOL", "ConvergenceWarning",
           "__version__"]
