"""Fast solvers (ADMM) for the Net-Trim layer programs.

* :func:`solve`: ADMM with residual stopping, adaptive ρ, over-relaxation, warm starts and an honest status.
* :func:`paper_admm`: the published algorithm (fixed ρ, stop on the change of W³), as a baseline.
"""

from nettrim.solution import VIOLATION_TOL

from .admm import solve
from .paper import paper_admm

#: Solver options for pruning (what :func:`nettrim.prune_network` passes by default): an answer needs
#: ~1e-3 relative accuracy, not 1e-5, because its error is set by ε itself.
PRUNING_OPTIONS = dict(eps_abs=1e-4, eps_rel=1e-3, eps_violation=1e-4)

__all__ = ["solve", "paper_admm", "VIOLATION_TOL", "PRUNING_OPTIONS"]
