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

Only the ε = 0 program is a linear program; :func:`nettrim.reference.solve` checks that before it
calls :func:`solve_highs`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from nettrim.problem import LayerProblem
from nettrim.solution import INFEASIBLE, MAX_ITER, OPTIMAL, SOLVER_ERROR, UNBOUNDED

from .cvx import Answer

__all__ = ["solve_highs"]

# scipy.optimize.linprog status codes -> nettrim status (the caller re-checks feasibility of W)
_LINPROG_STATUS = {0: OPTIMAL, 1: MAX_ITER, 2: INFEASIBLE, 3: UNBOUNDED, 4: SOLVER_ERROR}


#: HiGHS options of ``scipy.optimize.linprog(method="highs")`` (scipy ≥ 1.9) and their checks: a bool, a real
#: > 0, an integer ≥ 1, or one of a few strings. scipy itself only warns about an unknown option and replaces
#: a bad value by its default, so they are checked here.
_OPTIONS = {"disp": "bool", "presolve": "bool", "time_limit": "positive", "maxiter": "count",
            "dual_feasibility_tolerance": "positive", "primal_feasibility_tolerance": "positive",
            "ipm_optimality_tolerance": "positive",
            "simplex_dual_edge_weight_strategy": ("dantzig", "devex", "steepest-devex", "steepest")}


def check_options(options: dict) -> dict:
    """Validate HiGHS ``options`` (:data:`_OPTIONS`): ``TypeError`` for an unknown name or a wrong type,
    ``ValueError`` for a value out of range, each naming the option."""
    from nettrim._validation import check_scalar

    for key, value in options.items():
        kind = _OPTIONS.get(key)
        if kind is None:
            raise TypeError(f"invalid solver_options for HIGHS: unknown option {key!r}; known: {sorted(_OPTIONS)}")
        if kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"HIGHS option {key} must be a bool, got {type(value).__name__}")
        elif kind == "positive":
            check_scalar(value, key, low=0.0, low_inclusive=False)
        elif kind == "count":
            check_scalar(value, key, low=1, integer=True)
        elif not isinstance(value, str) or value not in kind:
            raise ValueError(f"HIGHS option {key} must be one of {kind}, got {value!r}")
    return options


def solve_highs(prob: LayerProblem, stated: np.ndarray | None = None, **options) -> Answer:
    """Solve the ε = 0 program of ``prob`` neuron by neuron.

    ``stated`` (M×P bool, a subset of ``prob.inactive``) selects the inactive-set bounds to state (default
    all). The answer's status is the worst over the neurons, its message HiGHS's for the first neuron that
    was not optimal; W and Λ are None when some neuron failed.
    """
    check_options(options)
    stated = prob.inactive if stated is None else np.asarray(stated, dtype=bool) & prob.inactive
    N, M = prob.N, prob.M
    W = np.full((N, M), np.nan)
    Lam = np.zeros((M, prob.P))
    status, message, iterations = OPTIMAL, "", 0
    for m in range(M):
        w = np.ones(N) if prob.weights is None else prob.weights[:, m]
        c = np.concatenate([w, w])                           # Σ_i w_im (u⁺_i + u⁻_i)
        eq, ub = prob.ball[m], stated[m]
        Xe, Xu = prob.X[:, eq].T, prob.X[:, ub].T
        res = linprog(
            c,
            A_eq=np.hstack([Xe, -Xe]) if eq.any() else None,
            b_eq=prob.Y[m, eq] if eq.any() else None,
            A_ub=np.hstack([Xu, -Xu]) if ub.any() else None,
            b_ub=prob.V[m, ub] if ub.any() else None,
            bounds=(0, None), method="highs", options=options or None,
        )
        iterations += int(getattr(res, "nit", 0) or 0)
        if res.status != 0 or res.x is None:
            if status == OPTIMAL:
                status, message = _LINPROG_STATUS.get(res.status, SOLVER_ERROR), f"neuron {m}: {res.message}"
            continue
        W[:, m] = res.x[:N] - res.x[N:]
        if eq.any():
            Lam[m, eq] = -res.eqlin.marginals
        if ub.any():
            Lam[m, ub] = -res.ineqlin.marginals
    if status != OPTIMAL:
        return Answer(None, None, status, message, dict(iterations=iterations))
    return Answer(W, Lam, status, "", dict(iterations=iterations))
