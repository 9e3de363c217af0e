"""Fast solvers (ADMM) for the Net-Trim layer programs.

* :func:`solve`: ADMM with residual stopping, adaptive ρ, over-relaxation, warm starts and an honest status.
* :func:`paper_admm`: the published algorithm (fixed ρ, stop on the change of W³), as a baseline.
"""

from .admm import VIOLATION_TOL, solve
from .paper import paper_admm

__all__ = ["solve", "paper_admm", "VIOLATION_TOL"]
