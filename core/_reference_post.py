r"""Post-processing of the reference solvers' answers for network pruning, kept in one place.

:func:`nettrim.reference.solve` works in the caller's units and returns interior-point answers whose
"zeros" are tiny nonzeros. Until the reference does both itself, this module (and only this module)

* solves each layer on unit-scale data and maps the answer back (:func:`_reference_scaled`),
* sets the interior point's dust entries to exact zeros (:func:`_clean`), and
* re-maps the status so that "optimal" holds for the weights actually returned (:func:`solve_reference`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .problem import layer_problem
from .solution import OPTIMAL, OPTIMAL_INACCURATE, VIOLATION_TOL, Solution

__all__ = ["solve_reference", "REFERENCE_ZERO_TOL"]

#: Interior-point answers (the reference) are not exactly sparse: their "zeros" sit near 1e-8·max|W|
#: (Clarabel's default tolerances are 1e-8). Entries below this fraction of max|W| (or of the original
#: layer's max|W̃|, if larger) are set to exact zeros;
#: the report's violation is recomputed afterwards. The ADMM ("fast") returns exact zeros and is not touched.
REFERENCE_ZERO_TOL = 1e-6


def _reference_scaled(reference, Xc, Yc, eps, activation, V, backend, options) -> Solution:
    r"""Reference solve on unit-scale data, mapped back.

    Conic solvers use absolute tolerances, so a layer deep inside a link-normalized network (signals of
    order 1e-5) would be solved to no relative accuracy. With :math:`a = \max|X|` and
    :math:`b = \|Y\|_F/\sqrt{MP}`, :math:`U^\top X \approx Y \iff (U a/b)^\top (X/a) \approx Y/b`, and
    :math:`\|U\|_1` scales by the constant a/b, so :math:`\hat U = (b/a)\,\hat U'` with the same support.
    The relative violation and gap are scale-free.
    """
    a = float(np.abs(Xc).max()) or 1.0
    b = float(np.linalg.norm(Yc)) / np.sqrt(Yc.size) or 1.0
    sol = reference.solve(Xc / a, Yc / b, eps / b, activation=activation, V=None if V is None else V / b,
                          solver=backend, **options)
    W = sol.W * (b / a)
    return Solution(W=W, status=sol.status, objective=float(np.abs(W).sum()), violation=sol.violation,
                    gap=sol.gap, iterations=sol.iterations, solve_time=sol.solve_time, solver=sol.solver,
                    dual=None, info=dict(sol.info, scale_x=a, scale_y=b))


def _clean(W: np.ndarray, solver: str, original: np.ndarray, Xc, Yc, eps, activation, V) -> np.ndarray:
    """The solver's W with NaNs (no answer) replaced by zeros, so that the report and forward still work,
    and, for the interior-point reference, entries below a fraction of the larger of max|W| and the original
    layer's max|W̃| set to zero (the latter catches an answer that is all ~0). The fraction is
    :data:`REFERENCE_ZERO_TOL`, or 100× and 10,000× smaller when a larger one would push the recomputed
    violation past the reference's tolerance; an answer that was within tolerance stays within it."""
    W = np.asarray(W, dtype=float)
    W = np.where(np.isfinite(W), W, 0.0)
    if solver == "fast" or not W.size:
        return W
    scale = max(np.abs(W).max(), np.abs(original).max())
    before = _violation(Xc, Yc, eps, activation, V, W)
    for tol in (REFERENCE_ZERO_TOL, 1e-2 * REFERENCE_ZERO_TOL, 1e-4 * REFERENCE_ZERO_TOL):
        U = np.where(np.abs(W) > tol * scale, W, 0.0)
        if _violation(Xc, Yc, eps, activation, V, U) <= max(VIOLATION_TOL, before):
            return U
    return W


def _violation(Xc, Yc, eps, activation, V, U) -> float:
    """Relative constraint excess of the returned (cleaned) U, recomputed from scratch."""
    return layer_problem(Xc, Yc, eps, activation=activation, V=V).violation(U)


def solve_reference(Xc, Yc, eps, activation, V, backend, original, options) -> Solution:
    """Reference solve of one layer program; the returned Solution describes the cleaned weights."""
    from nettrim import reference

    sol = _reference_scaled(reference, Xc, Yc, eps, activation, V, backend, options)
    U = _clean(sol.W, "reference", original, Xc, Yc, eps, activation, V)
    violation = _violation(Xc, Yc, eps, activation, V, U)
    status = sol.status
    # zeroing the reference's tiny entries changed W: "optimal" must hold for the W we return
    if status == OPTIMAL and violation > VIOLATION_TOL:
        status = OPTIMAL_INACCURATE
    weights = options.get("weights")
    objective = float(np.abs(U).sum()) if weights is None else float(np.sum(weights * np.abs(U)))
    return replace(sol, W=U, status=status, violation=violation, objective=objective)
