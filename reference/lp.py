r"""The ε = 0 program as a linear program, solved exactly by HiGHS (``scipy.optimize.linprog``).

At ε = 0 the program separates over neurons. For neuron m with active samples
:math:`\Omega_m = \{p : Y_{mp} > 0\}` (every sample for a linear layer), split
:math:`u = u^+ - u^-` with :math:`u^\pm \ge 0` (:math:`w_m` the ℓ1 weights of neuron m, all 1 by default):

.. math::

    \min\ w_m^\top u^+ + w_m^\top u^- \quad\text{s.t.}\quad
    X_{\Omega_m}^\top (u^+ - u^-) = y_{m,\Omega_m},\qquad
    X_{\Omega_m^c}^\top (u^+ - u^-) \le v_{m,\Omega_m^c}.

HiGHS's marginals are :math:`\partial(\text{optimal value})/\partial b`, so the multiplier of
:math:`Z = U^\top X` in the convention of :meth:`nettrim.LayerProblem.dual_objective` is
Λ = −marginals on both blocks (Λ_Ωᶜ ≥ 0 because the inequality marginals are ≤ 0).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from nettrim.problem import LayerProblem

__all__ = ["solve_lp"]

# scipy.optimize.linprog status codes -> nettrim status (the caller re-checks feasibility of W)
_LINPROG_STATUS = {0: "optimal", 1: "max_iter", 2: "infeasible", 3: "unbounded", 4: "solver_error"}


def solve_lp(lp: LayerProblem, **options) -> tuple[np.ndarray, np.ndarray | None, str, str]:
    """Solve the ε = 0 program of ``lp`` neuron by neuron.

    Returns
    -------
    W : ndarray (N, M)
    Lam : ndarray (M, P) or None
        The multiplier (None when some neuron failed).
    status : str
        The worst status over the neurons.
    message : str
        HiGHS's message for the first neuron that was not optimal, else "".
    """
    if lp.epsilon != 0:
        raise ValueError("solver='HIGHS' solves only the epsilon = 0 program (a linear program); "
                         f"got epsilon = {lp.epsilon}. Use CLARABEL, ECOS or SCS for epsilon > 0")
    N, M = lp.N, lp.M
    W = np.full((N, M), np.nan)
    Lam = np.zeros((M, lp.P))
    status, message = "optimal", ""
    for m in range(M):
        w = np.ones(N) if lp.weights is None else lp.weights[:, m]
        c = np.concatenate([w, w])                           # Σ_i w_im (u⁺_i + u⁻_i)
        eq = lp.ball[m]
        ub = ~eq
        Xe, Xu = lp.X[:, eq].T, lp.X[:, ub].T
        res = linprog(
            c,
            A_eq=np.hstack([Xe, -Xe]) if eq.any() else None,
            b_eq=lp.Y[m, eq] if eq.any() else None,
            A_ub=np.hstack([Xu, -Xu]) if ub.any() else None,
            b_ub=lp.V[m, ub] if ub.any() else None,
            bounds=(0, None), method="highs", options=options or None,
        )
        if res.status != 0 or res.x is None:
            if status == "optimal":
                status, message = _LINPROG_STATUS.get(res.status, "solver_error"), f"neuron {m}: {res.message}"
            Lam = None
            continue
        W[:, m] = res.x[:N] - res.x[N:]
        if Lam is not None:
            if eq.any():
                Lam[m, eq] = -res.eqlin.marginals
            if ub.any():
                Lam[m, ub] = -res.ineqlin.marginals
    return W, Lam, status, message
