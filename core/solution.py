"""The result type every nettrim solver returns (modelled on OSQP's results object)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Solution", "STATUSES", "OPTIMAL", "OPTIMAL_INACCURATE", "INFEASIBLE", "UNBOUNDED",
           "SOLVER_ERROR", "MAX_ITER", "INACCURATE", "VIOLATION_TOL", "GAP_TOL", "MAX_EPS_VIOLATION",
           "MAX_EPS_GAP", "ConvergenceWarning", "gap_certifies"]

#: Every solver reports "optimal" only if the relative violation of the returned W, recomputed from W
#: (:meth:`nettrim.LayerProblem.violation`), is at most this. Interior-point solvers stop at feasibility
#: tolerances ~1e-8, so 1e-6 leaves room for round-off without admitting a visibly infeasible answer.
VIOLATION_TOL = 1e-6

#: ... and only if the relative duality gap certified by a dual-feasible multiplier is at most this
#: (when the solver has a multiplier at all): a feasible W within 0.01 % of the optimum.
GAP_TOL = 1e-4

#: The loosest tolerances a solver accepts in place of the two above (``eps_violation``, ``eps_gap``). A
#: relative violation of 1e-2 overshoots the error budget by 1 % of ‖Y‖_F, a fifth of a typical ε (2–20 %
#: of ‖Y‖_F); a gap of 1e-1 certifies the ℓ1 norm within 10 %. Looser values would let "optimal" stand for
#: answers that meet neither the constraint nor the objective in any useful sense (W = 0 has violation
#: ≤ 1 and, with Λ = 0, gap 1).
MAX_EPS_VIOLATION = 1e-2
MAX_EPS_GAP = 1e-1


def gap_certifies(gap: float | None, eps_gap: float) -> bool:
    r"""Whether a relative duality gap certifies optimality to ``eps_gap``: :math:`|\text{gap}| \le
    \epsilon_{gap}` (False for None or NaN).

    For a W within the violation tolerance, gap = (‖W‖₁ − d(Λ))/‖W‖₁ with a dual-feasible Λ. Weak duality,
    d(Λ) ≤ p* (the program's optimum), bounds it from one side only: a feasible W has gap ≥ 0 and is within
    the gap of p*. A W that uses the violation tolerance may be cheaper than p*, and then its gap is negative;
    a gap below −``eps_gap`` *proves* that ‖W‖₁ < p*/(1 + ``eps_gap``), more than ``eps_gap``·‖W‖₁ below p*:
    the tolerance, not the program, set the answer's value (ε = 1e-7·‖Y‖_F, far below ``eps_violation``·‖Y‖_F,
    on input rows 1e±3 apart: CLARABEL's W came 2.9 % below the dual value of its own multiplier). Such an answer is not
    "optimal" for either solver. (The converse does not hold: a gap within ±``eps_gap`` against a loose Λ
    cannot see a W that the tolerance let undercut p*; only a smaller ``eps_violation`` prevents that. And
    W = 0 has gap 0 by convention, whatever Λ: an ε a hair below ‖Y‖_F is certified at W = 0.)
    """
    return gap is not None and bool(abs(gap) <= eps_gap)


class ConvergenceWarning(UserWarning):
    """A solver stopped without a certified answer (iteration limit, inaccurate or failed solve).

    Filter it like any warning category: ``warnings.simplefilter("ignore", nettrim.ConvergenceWarning)``.
    """

OPTIMAL = "optimal"                        # converged and the returned W's recomputed violation is within tolerance
OPTIMAL_INACCURATE = "optimal_inaccurate"  # the solver claims optimality but W violates beyond tolerance
INFEASIBLE = "infeasible"
UNBOUNDED = "unbounded"
SOLVER_ERROR = "solver_error"              # the backend failed; see info["message"]
MAX_ITER = "max_iter"                      # iteration limit reached before the stopping criteria held
INACCURATE = "inaccurate"                  # stopping criteria held but the returned W is not feasible enough
STATUSES = (OPTIMAL, OPTIMAL_INACCURATE, INFEASIBLE, UNBOUNDED, SOLVER_ERROR, MAX_ITER, INACCURATE)


@dataclass
class Solution:
    """Result of solving one Net-Trim layer program.

    Attributes
    ----------
    W : ndarray, shape (N, M)
        The pruned weights Û (NaN-filled when the solver produced none).
    status : str
        One of :data:`STATUSES`. ``"optimal"`` is reported only when the *recomputed* violation of ``W``
        is within the solver's stated tolerance.
    objective : float
        :math:`\\|\\hat U\\|_1`.
    violation : float
        Relative constraint excess of ``W`` (:meth:`nettrim.LayerProblem.violation`), recomputed from ``W``.
    gap : float or None
        Relative duality gap (‖W‖₁ − d(Λ))/‖W‖₁ of ``W`` against the dual-feasible Λ in ``dual``, as
        computed: negative when W, within the violation tolerance, undercuts the optimum. "optimal" needs
        |gap| ≤ the solver's gap tolerance (:func:`gap_certifies`). None when no multiplier is known or
        ``W`` is outside the violation tolerance.
    iterations : int or None
        Iterations of an iterative solver; None when not meaningful.
    solve_time : float
        Wall-clock seconds, set-up included.
    solver : str
        Name of the solver that produced ``W``.
    dual : ndarray, shape (M, P), or None
        The dual-feasible multiplier Λ behind ``gap``.
    info : dict
        Solver-specific extras (message, residual history, set-up time, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from nettrim import reference
    >>> X = np.array([[1.0, 0.4, -0.6], [0.2, 1.0, 0.8]]); Y = np.maximum(np.array([[1.0, 0.35]]) @ X, 0)
    >>> sol = reference.solve(X, Y, 0.0, solver="HIGHS")
    >>> sol.optimal, sol.nnz, sol.W.shape
    (True, 2, (2, 1))
    """

    W: np.ndarray
    status: str
    objective: float
    violation: float
    gap: float | None
    iterations: int | None
    solve_time: float
    solver: str
    dual: np.ndarray | None = field(default=None, repr=False)
    info: dict = field(default_factory=dict, repr=False)

    @property
    def optimal(self) -> bool:
        """True when ``status == "optimal"``."""
        return self.status == OPTIMAL

    @property
    def nnz(self) -> int:
        """Number of nonzero weights in ``W``."""
        return int(np.count_nonzero(self.W))

    @property
    def density(self) -> float:
        """Fraction of nonzero weights in ``W``."""
        return self.nnz / self.W.size if self.W.size else 0.0

    def summary(self) -> str:
        gap = "n/a" if self.gap is None else f"{self.gap:.2e}"
        its = "" if self.iterations is None else f", {self.iterations} iterations"
        return (f"{self.solver}: {self.status}, ||W||_1 = {self.objective:.6g}, violation = {self.violation:.2e}, "
                f"gap = {gap}, nnz = {self.nnz}/{self.W.size}{its}, {self.solve_time:.3g} s")
