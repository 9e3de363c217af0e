r"""The Net-Trim programs stated exactly in CVXPY.

With :math:`Z = U^\top X` and :math:`\Omega` the ball set of the :class:`~nettrim.LayerProblem`
(the active set for a ReLU layer, every entry for a linear one):

* ε > 0: :math:`(\varepsilon,\ Z_\Omega - Y_\Omega) \in \mathcal{K}_{\mathrm{soc}}` (one second-order cone),
* ε = 0: :math:`Z_\Omega = Y_\Omega` (the theory's equality form),
* ReLU: :math:`Z_{\Omega^c} \le V_{\Omega^c}` (on the bounds that are stated, see
  :mod:`nettrim.reference.scaling`),

minimizing :math:`\|U\|_1` (or :math:`\sum w_{ij}|u_{ij}|` with ℓ1 weights). Everything is vectorized with
boolean masks; there is no loop over entries or neurons, so the compiled problem has one cone and one
linear block whatever the layer size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from nettrim.problem import LayerProblem
from nettrim.solution import (
    INFEASIBLE,
    MAX_ITER,
    OPTIMAL,
    OPTIMAL_INACCURATE,
    SOLVER_ERROR,
    UNBOUNDED,
)

__all__ = ["Answer", "CvxLayer", "build", "solve_cvx"]

_CVX_STATUS = {
    cp.OPTIMAL: OPTIMAL,
    cp.OPTIMAL_INACCURATE: OPTIMAL_INACCURATE,
    cp.INFEASIBLE: INFEASIBLE,
    cp.INFEASIBLE_INACCURATE: INFEASIBLE,
    cp.UNBOUNDED: UNBOUNDED,
    cp.UNBOUNDED_INACCURATE: UNBOUNDED,
    cp.USER_LIMIT: MAX_ITER,
}


@dataclass
class Answer:
    """What a back-end returns, in the units of the program it was given.

    ``W`` is None when the back-end has no primal answer; ``Lam`` is the multiplier of
    :math:`Z = U^\\top X` (sign convention of :meth:`nettrim.LayerProblem.dual_objective`), or for
    ``status == "infeasible"`` the back-end's infeasibility ray, or None.
    """

    W: np.ndarray | None
    Lam: np.ndarray | None
    status: str
    message: str
    info: dict


@dataclass
class CvxLayer:
    """A compiled-ready CVXPY statement of one layer program and handles to read its duals."""

    problem: cp.Problem
    U: cp.Variable
    ball: cp.Constraint | None       # SOC (ε > 0) or equality (ε = 0) on Ω; None when Ω is empty
    inactive: cp.Constraint | None   # inequality on the stated part of Ωᶜ; None if nothing is stated
    stated: np.ndarray               # (M, P) bool: the inactive-set bounds in ``inactive``

    def multiplier(self, prob: LayerProblem) -> np.ndarray | None:
        r"""The multiplier Λ (M×P) of :math:`Z = U^\top X` in the sign convention of
        :meth:`nettrim.LayerProblem.dual_objective`, read from CVXPY's dual values; None if unavailable.

        Matching CVXPY's sign conventions to the Lagrangian
        :math:`\|U\|_1 + \langle\Lambda, U^\top X - Z\rangle` gives Λ_Ω = −(vector part of the SOC dual)
        for ε > 0, Λ_Ω = (equality dual) for ε = 0, and Λ_Ωᶜ = (inequality dual) ≥ 0 (0 on the bounds
        that were not stated). For an infeasible program CVXPY fills the dual values with the back-end's
        infeasibility ray, in the same convention. The duality-gap tests pin these signs: a wrong one makes
        the gap O(1) instead of ~1e-8.
        """
        Lam = np.zeros((prob.M, prob.P))
        if self.ball is not None:
            dv = self.ball.dual_value
            if dv is None:
                return None
            if prob.epsilon > 0:
                # SOC dual is [t-part, x-part]; cvxpy returns it as a list of arrays
                vec = -np.asarray(dv[1] if isinstance(dv, (list, tuple)) else np.ravel(dv)[1:], dtype=float)
            else:
                vec = np.asarray(dv, dtype=float)
            Lam[prob.ball] = np.ravel(vec)
        if self.inactive is not None:
            dv = self.inactive.dual_value
            if dv is None:
                return None
            Lam[self.stated] = np.ravel(np.asarray(dv, dtype=float))
        return Lam if np.all(np.isfinite(Lam)) else None


def build(prob: LayerProblem, stated: np.ndarray | None = None) -> CvxLayer:
    """State the program of ``prob`` in CVXPY (see the module docstring for the exact form).

    ``stated`` (M×P bool, a subset of ``prob.inactive``) selects the inactive-set bounds to state; default
    all of them.
    """
    stated = prob.inactive if stated is None else np.asarray(stated, dtype=bool) & prob.inactive
    U = cp.Variable((prob.N, prob.M), name="U")
    Z = U.T @ prob.X  # M×P response of the pruned layer
    constraints = []
    ball = inactive = None
    if prob.ball.any():
        Zb, Yb = Z[prob.ball], np.asarray(prob.Y[prob.ball])
        if prob.epsilon > 0:
            ball = cp.SOC(cp.Constant(prob.epsilon), Zb - Yb)
        else:
            ball = Zb == Yb
        constraints.append(ball)
    if stated.any():
        inactive = Z[stated] <= np.asarray(prob.V[stated])
        constraints.append(inactive)
    if prob.weights is None:
        objective = cp.sum(cp.abs(U))
    else:
        objective = cp.sum(cp.multiply(np.asarray(prob.weights), cp.abs(U)))
    problem = cp.Problem(cp.Minimize(objective), constraints)
    return CvxLayer(problem=problem, U=U, ball=ball, inactive=inactive, stated=stated)


def solve_cvx(prob: LayerProblem, solver: str, stated: np.ndarray | None = None, **options) -> Answer:
    """Build and solve the program with the CVXPY back-end ``solver``; never raises for a back-end failure
    (a ``cvxpy.SolverError`` becomes status "solver_error"). Unknown options raise ``TypeError``, values a
    back-end rejects ``ValueError`` naming the options passed."""
    cvx = build(prob, stated)
    info: dict = {}
    try:
        with warnings.catch_warnings(record=True) as caught:  # inaccuracy shows in the status instead
            warnings.simplefilter("always")
            cvx.problem.solve(solver=solver, **options)
        if caught:
            info["warnings"] = [str(w.message) for w in caught]
    except cp.error.SolverError as exc:
        return Answer(None, None, SOLVER_ERROR, str(exc), info)
    except TypeError as exc:  # unknown keyword options are reported by the back-end as TypeError
        raise TypeError(f"invalid solver_options for {solver}: {exc}") from None
    except (ValueError, OverflowError) as exc:
        if not options:
            raise
        # a back-end's own check of an option's value (ECOS: "'maxit' must be a nonnegative integer"; Clarabel
        # converts max_iter=-1 to an unsigned integer and raises OverflowError)
        raise ValueError(f"invalid solver_options for {solver} ({', '.join(f'{k}={v!r}' for k, v in options.items())})"
                         f": {exc}") from None
    stats = cvx.problem.solver_stats
    info.update(cvxpy_status=cvx.problem.status, setup_time=getattr(cvx.problem, "compilation_time", None),
                backend_time=getattr(stats, "solve_time", None), iterations=getattr(stats, "num_iters", None))
    status = _CVX_STATUS.get(cvx.problem.status, SOLVER_ERROR)
    W = cvx.U.value
    if W is not None:
        W = np.asarray(W, dtype=float)
        if not np.all(np.isfinite(W)):
            W = None
    Lam = cvx.multiplier(prob) if (W is not None or status == INFEASIBLE) else None
    return Answer(W, Lam, status, f"CVXPY status {cvx.problem.status}", info)
