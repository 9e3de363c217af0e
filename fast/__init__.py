"""Fast solvers (ADMM) for the Net-Trim layer programs.

* :func:`solve`: ADMM with residual stopping, adaptive ρ, over-relaxation, an active-set polish, warm starts,
  infeasibility certificates and a certified status ("optimal" means a recomputed violation ≤
  ``eps_violation`` and a duality gap within ±``eps_gap``, both checked from their definitions).
* :func:`paper_admm`: the published algorithm (fixed ρ, stop on the change of W³), as a baseline.
* :data:`PRUNING_OPTIONS`: the settings for pruning whole networks.
"""

from nettrim.solution import GAP_TOL, VIOLATION_TOL

from .admm import solve
from .paper import paper_admm

#: Solver options for pruning: what :func:`nettrim.prune_network` (and the layer API, :mod:`nettrim.torch`) pass
#: to :func:`solve` by default. A layer is returned "optimal" only with a recomputed relative violation
#: ≤ ``eps_violation`` = 1e-4 (its error ‖(ÛᵀX − Y)_Ω‖_F exceeds ε by at most 1e-4·‖Y‖_F, a hundredth of the
#: smallest ε_gain in use, 0.01) and a certified relative duality gap within ±``eps_gap`` = 1e-3 (its ‖Û‖₁ is within
#: 0.1 % of the optimum, far below the spread of ‖Û‖₁ over the ε grid of a pruning run): the pruning grade
#: asked of every layer, looser than the defaults of :func:`solve` (1e-6, 1e-4) because a pruned layer's
#: error is set by ε itself. Both are certificates checked from their definitions, not residual heuristics;
#: the residual tolerances stay at :func:`solve`'s (they only decide when a certificate is tried). Measured
#: with ``python -m nettrim.experiments bench-solvers`` (the trained digits and MNIST-5k layers): most
#: layers end with a polished answer whose gap is far below 1e-3. The report of :func:`nettrim.prune_network`
#: lists each layer's ``violation`` and ``gap``. The iteration runs in single precision
#: (``iteration_dtype="float32"``; checks, polish, certificate and the returned W stay float64): the GEMMs of
#: an iteration are the cost on large layers, and ``bench-network --groups speed`` prunes the MNIST-5k network
#: (P = 4,000, ε = 0.05, jobs = 2) in 14.5 s wall against 19.2 s with the iteration in float64, every layer
#: certified either way (one run at commit a3a8875; README, "Whole network").
PRUNING_OPTIONS = {"eps_violation": 1e-4, "eps_gap": 1e-3, "iteration_dtype": "float32"}

__all__ = ["solve", "paper_admm", "VIOLATION_TOL", "GAP_TOL", "PRUNING_OPTIONS"]
