r"""The Net-Trim programs stated exactly in CVXPY.

With :math:`Z = U^\top X` and :math:`\Omega` the ball set of the :class:`~nettrim.LayerProblem`
(the active set for a ReLU layer, every entry for a linear one):

* ε > 0: :math:`(\varepsilon,\ Z_\Omega - Y_\Omega) \in \mathcal{K}_{\mathrm{soc}}` (one second-order cone),
* ε = 0: :math:`Z_\Omega = Y_\Omega` (the theory's equality form),
* ReLU: :math:`Z_{\Omega^c} \le V_{\Omega^c}`,

minimizing :math:`\|U\|_1` (or :math:`\sum w_{ij}|u_{ij}|` with ℓ1 weights). Everything is vectorized with boolean masks; there is no loop over entries
or neurons, so the compiled problem has one cone and one linear block whatever the layer size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from nettrim.problem import LayerProblem

__all__ = ["CvxLayer", "build"]


@dataclass
class CvxLayer:
    """A compiled-ready CVXPY statement of one layer program and handles to read its duals."""

    problem: cp.Problem
    U: cp.Variable
    ball: cp.Constraint | None       # SOC (ε > 0) or equality (ε = 0) on Ω; None when Ω is empty
    inactive: cp.Constraint | None   # inequality on Ωᶜ; None for a linear layer or an empty Ωᶜ

    def multiplier(self, lp: LayerProblem) -> np.ndarray | None:
        r"""The multiplier Λ (M×P) of :math:`Z = U^\top X` in the sign convention of
        :meth:`nettrim.LayerProblem.dual_objective`, read from CVXPY's dual values; None if unavailable.

        Matching CVXPY's sign conventions to the Lagrangian
        :math:`\|U\|_1 + \langle\Lambda, U^\top X - Z\rangle` gives Λ_Ω = −(vector part of the SOC dual)
        for ε > 0, Λ_Ω = (equality dual) for ε = 0, and Λ_Ωᶜ = (inequality dual) ≥ 0. The duality-gap
        tests pin these signs: a wrong one makes the gap O(1) instead of ~1e-8.
        """
        Lam = np.zeros((lp.M, lp.P))
        if self.ball is not None:
            dv = self.ball.dual_value
            if dv is None:
                return None
            if lp.epsilon > 0:
                # SOC dual is [t-part, x-part]; cvxpy returns it as a list of arrays
                vec = -np.asarray(dv[1] if isinstance(dv, (list, tuple)) else np.ravel(dv)[1:], dtype=float)
            else:
                vec = np.asarray(dv, dtype=float)
            Lam[lp.ball] = np.ravel(vec)
        if self.inactive is not None:
            dv = self.inactive.dual_value
            if dv is None:
                return None
            Lam[lp.inactive] = np.ravel(np.asarray(dv, dtype=float))
        return Lam


def build(lp: LayerProblem) -> CvxLayer:
    """State the program of ``lp`` in CVXPY (see the module docstring for the exact form)."""
    U = cp.Variable((lp.N, lp.M), name="U")
    Z = U.T @ lp.X  # M×P response of the pruned layer
    constraints = []
    ball = inactive = None
    if lp.ball.any():
        Zb, Yb = Z[lp.ball], np.asarray(lp.Y[lp.ball])
        if lp.epsilon > 0:
            ball = cp.SOC(cp.Constant(lp.epsilon), Zb - Yb)
        else:
            ball = Zb == Yb
        constraints.append(ball)
    mask = lp.inactive
    if mask.any():
        inactive = Z[mask] <= np.asarray(lp.V[mask])
        constraints.append(inactive)
    if lp.weights is None:
        objective = cp.sum(cp.abs(U))
    else:
        objective = cp.sum(cp.multiply(np.asarray(lp.weights), cp.abs(U)))
    problem = cp.Problem(cp.Minimize(objective), constraints)
    return CvxLayer(problem=problem, U=U, ball=ball, inactive=inactive)
