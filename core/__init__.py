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
"""

from .problem import ACTIVATIONS, LayerProblem, layer_problem
from .solution import (INACCURATE, INFEASIBLE, MAX_ITER, OPTIMAL, OPTIMAL_INACCURATE, SOLVER_ERROR, STATUSES,
                       UNBOUNDED, Solution)

__version__ = "0.1.0"

__all__ = ["ACTIVATIONS", "LayerProblem", "layer_problem", "Solution", "STATUSES", "OPTIMAL", "OPTIMAL_INACCURATE",
           "INFEASIBLE", "UNBOUNDED", "SOLVER_ERROR", "MAX_ITER", "INACCURATE", "__version__"]
