r"""From a back-end's answer to a :class:`nettrim.Solution` that says only what was checked.

The answer is mapped back to the caller's units (:mod:`nettrim.reference.scaling`), its interior-point
"dust" is set to exact zeros, and everything the status rests on is recomputed from the returned W on the
caller's program:

* **Zeros.** Interior-point answers are not exactly sparse: their zeros sit near the back-end's tolerance
  (1e-8 relative, Clarabel's and ECOS's defaults). Entries below :data:`ZERO_TOL` times the *zero scale*
  are set to 0, where the zero scale is the larger of max|W|, the caller's ``zero_scale`` (e.g. the
  original layer's max|W|, which catches an answer that is all dust) and b/a, the weight that maps the
  largest input entry to an output of RMS size (:mod:`~nettrim.reference.scaling`; it plays the same role
  when no ``zero_scale`` is given). If zeroing at that threshold would push the recomputed violation past
  max(:data:`~nettrim.VIOLATION_TOL`, the violation before zeroing), 100× and 10,000× smaller thresholds are
  tried, and then none: an answer that was within tolerance stays within it.
* **Status.** "optimal" only when the recomputed relative violation is ≤ :data:`~nettrim.VIOLATION_TOL`
  and, when the back-end gives a multiplier, the duality gap certified by it (made dual feasible in the
  caller's units by :meth:`~nettrim.LayerProblem.project_dual`) is within ±:data:`~nettrim.GAP_TOL`
  (:func:`nettrim.solution.gap_certifies`: a gap below −GAP_TOL proves that the violation tolerance, not
  the program, set the answer's value). The gap is reported only for a W within the violation tolerance (it
  bounds nothing otherwise). A back-end's
  "unbounded" cannot be true (the objective is ≥ 0) and becomes "solver_error"; its "infeasible" stands
  only if the infeasibility ray it gives, or that ray cleaned up by
  :meth:`~nettrim.LayerProblem.refine_certificate`, passes :meth:`~nettrim.LayerProblem.check_certificate` (a conic
back-end's claim without a ray, as ECOS's through CVXPY, takes its ray from CLARABEL and becomes
"solver_error" when that finds none; HiGHS's simplex verdict, which scipy returns without a Farkas ray,
stands).
"""

from __future__ import annotations

import numpy as np

from nettrim.problem import LayerProblem
from nettrim.solution import (
    GAP_TOL,
    INFEASIBLE,
    MAX_ITER,
    OPTIMAL,
    OPTIMAL_INACCURATE,
    SOLVER_ERROR,
    UNBOUNDED,
    VIOLATION_TOL,
    Solution,
    gap_certifies,
)

__all__ = ["ZERO_TOL", "solution", "zero_dust"]

#: Entries of a reference answer below this fraction of the zero scale (module docstring) are set to
#: exact zeros. Interior-point dust sits near the back-ends' tolerance, 1e-8 of the answer's scale; 1e-6
#: leaves two orders of margin above it, and an entry of 1e-6 of the scale changes an output by at most
#: 1e-6 of its RMS per input (the violation is recomputed after zeroing anyway).
ZERO_TOL = 1e-6

# thresholds tried in turn when a larger one breaks the violation tolerance (then none)
_FALLBACKS = (1.0, 1e-2, 1e-4)


def zero_dust(prob: LayerProblem, W: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
    """Set the entries of ``W`` below ``ZERO_TOL * scale`` to zero, falling back to smaller thresholds when
    that breaks the violation tolerance (module docstring). Returns the new W and the threshold used (0 if
    none)."""
    if not W.size or scale <= 0:
        return W, 0.0
    before = prob.violation(W)
    allowed = max(VIOLATION_TOL, before)
    for factor in _FALLBACKS:
        threshold = ZERO_TOL * factor * scale
        small = np.abs(W) < threshold
        if not small.any():
            return W, threshold
        U = np.where(small, 0.0, W)
        if prob.violation(U) <= allowed:
            return U, threshold
    return W, 0.0


def solution(prob: LayerProblem, W, Lam, status: str, message: str, *, solver: str, elapsed: float, info: dict,
             zero_scale: float) -> Solution:
    """The checked :class:`~nettrim.Solution` of ``prob`` (caller's units) from a back-end's W, Λ and status,
    already mapped back (module docstring). ``zero_scale`` is the larger of the caller's and b/a."""
    info = dict(info, backend_status=status, message=message)
    if status == UNBOUNDED:
        return failed(prob, SOLVER_ERROR, solver, elapsed, info,
                      f"the back-end reported 'unbounded' ({message}), which this program cannot be: its "
                      "objective is >= 0. A numerical failure; try another solver or nettrim.fast.solve")
    if status == INFEASIBLE:
        return _infeasible(prob, Lam, solver, elapsed, info, message)
    if W is None:
        return failed(prob, status if status != OPTIMAL else SOLVER_ERROR, solver, elapsed, info, message)
    W = np.asarray(W, dtype=float)
    W, threshold = zero_dust(prob, W, max(float(np.max(np.abs(W))) if W.size else 0.0, zero_scale))
    info["zero_threshold"] = threshold
    violation = prob.violation(W)
    dual = prob.project_dual(Lam) if Lam is not None else None
    feasible = violation <= VIOLATION_TOL
    gap = prob.gap(W, dual, project=False) if (dual is not None and feasible) else None
    certified = feasible and (gap is None or gap_certifies(gap, GAP_TOL))
    if certified and (status == OPTIMAL or dual is not None) and status in (OPTIMAL, OPTIMAL_INACCURATE, MAX_ITER):
        # with a multiplier the certificate stands on its own: a back-end's "inaccurate" or iteration
        # limit does not change what was checked
        final = OPTIMAL
    elif status in (OPTIMAL, OPTIMAL_INACCURATE):
        final = OPTIMAL_INACCURATE
    else:
        final = status
    return Solution(W=W, status=final, objective=prob.objective(W), violation=violation, gap=gap,
                    iterations=info.get("iterations"), solve_time=elapsed, solver=solver, dual=dual, info=info)


def _infeasible(prob, Lam, solver, elapsed, info, message) -> Solution:
    """The back-end says infeasible: keep that claim unless the ray it gives fails the certificate check."""
    if Lam is None:
        info["certificate"] = None
        if solver.upper() == "HIGHS":
            # the simplex's phase-1 verdict, exact in rational terms up to HiGHS's feasibility tolerance
            # (scipy's linprog returns no Farkas ray to check)
            return failed(prob, INFEASIBLE, solver, elapsed, info, message)
        # an interior-point back-end's claim with no ray (its dual values missing or not finite, e.g. after
        # loosened tolerances), and none from CLARABEL either (reference.solve asks it), proves nothing
        return failed(prob, SOLVER_ERROR, solver, elapsed, info,
                      f"the back-end reported 'infeasible' ({message}) without an infeasibility ray to check; "
                      "try another solver or nettrim.fast.solve")
    cert = prob.check_certificate(Lam)
    if not cert.valid and cert.dual_value > 0:
        # an interior-point ray carries the back-end's residual (r/v a few times CERTIFICATE_TOL on small
        # infeasible ε = 0 programs): the shared alternating projections clean it up, and it is checked again
        refined, again = prob.refine_certificate(Lam)
        info["ray_refined"] = bool(again.valid)
        if again.valid:
            Lam, cert = refined, again
    info["certificate"] = cert
    if not cert.valid:
        return failed(prob, SOLVER_ERROR, solver, elapsed, info,
                      f"the back-end reported 'infeasible' ({message}) but its infeasibility ray does not "
                      f"check: dual residual {cert.dual_residual:.1e}, dual value {cert.dual_value:.1e}, sign "
                      f"violation {cert.sign_violation:.1e}")
    ray = np.array(Lam, dtype=float)
    ray[prob.inactive] = np.maximum(ray[prob.inactive], 0.0)
    ray /= np.max(np.abs(ray))          # first by its largest entry: the Frobenius norm of a ray near 1e±170 leaves
    ray /= np.linalg.norm(ray)          # the doubles (check_certificate accepts such a ray)
    return failed(prob, INFEASIBLE, solver, elapsed, info, message, dual=ray)


def failed(prob: LayerProblem, status: str, solver: str, elapsed: float, info: dict, message: str,
           dual=None) -> Solution:
    """A Solution without weights (NaN W), e.g. for an infeasible program or a back-end failure."""
    info = dict(info, message=message)
    return Solution(W=np.full((prob.N, prob.M), np.nan), status=status, objective=float("nan"),
                    violation=float("nan"), gap=None, iterations=info.get("iterations"), solve_time=elapsed,
                    solver=solver, dual=dual, info=info)
