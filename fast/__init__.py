"""Fast solvers (ADMM) for the Net-Trim layer programs.

* :func:`solve`: ADMM with residual stopping, adaptive ρ, over-relaxation, an active-set polish, warm starts,
  infeasibility certificates and a certified status ("optimal" means a recomputed violation ≤
  ``eps_violation`` and a duality gap ≤ ``eps_gap``, both checked from their definitions).
* :func:`paper_admm`: the published algorithm (fixed ρ, stop on the change of W³), as a baseline.
* :data:`PRUNING_OPTIONS`: the settings for pruning whole networks.
"""

from nettrim.solution import GAP_TOL, VIOLATION_TOL

from .admm import solve
from .paper import paper_admm

#: Solver options for pruning (what :func:`nettrim.prune_network` passes by default), looser than the
#: defaults of :func:`solve` (violation ≤ 1e-6, gap ≤ 1e-4) because a pruned layer's error is set by ε
#: itself: every layer is returned "optimal" only with a recomputed relative violation ≤ 1e-4 (its error
#: ‖(ÛᵀX − Y)_Ω‖ exceeds ε by at most 1e-4·‖Y‖_F) and a certified relative duality gap ≤ 1e-3 (its ‖Û‖₁ is
#: within 0.1 % of the optimum). Both are certificates, not residual heuristics; the report of
#: :func:`nettrim.prune_network` lists each layer's violation and gap.
PRUNING_OPTIONS = {"eps_violation": 1e-4, "eps_gap": 1e-3}

__all__ = ["solve", "paper_admm", "VIOLATION_TOL", "GAP_TOL", "PRUNING_OPTIONS"]
