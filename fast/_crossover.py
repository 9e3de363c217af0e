r"""Crossover of an ε = 0 ADMM iterate to an exact vertex: column generation with a simplex solver.

At ε = 0 the layer program separates into one linear program per neuron m,

.. math::

    \min_u\ c_m^\top |u| \quad\text{s.t.}\quad X_{:,\Omega_m}^\top u = y_{m,\Omega_m},\qquad
    X_{:,\Omega^c_m}^\top u \le v_{m,\Omega^c_m},

with c the ℓ1 weights (1 without). Its optimum is a vertex with few nonzeros, which the ADMM locates long
before it converges on it, and which the active-set polish (:func:`nettrim.fast._polish.polish_equality`)
does not always complete on degenerate trained layers. The crossover solves the program restricted to a
small set C of candidate inputs exactly — the iterate's support and the inputs whose ADMM multiplier is
near its bound, :math:`|(X\Lambda^\top)_{im}| \ge (1-\delta)c_{im}` — by the HiGHS dual simplex
(``scipy.optimize.linprog``), as an interior-point code's crossover finishes on a basis. Its multipliers
give :math:`\Lambda_m` (:math:`\Lambda_{m,\Omega^c} \ge 0`); an input i outside C with
:math:`|(X\Lambda_m^\top)_i| > c_{im}` would lower the cost if it entered (its reduced cost is negative),
so it joins C and the restricted program is solved again (column generation, Dantzig–Wolfe). When no input
prices out, :math:`\Lambda_m` is dual-feasible for the full program and the restricted optimum is the
neuron's optimum. Nothing is trusted: the caller certifies the assembled W and Λ from their definition
(recomputed violation and duality gap).
"""

from __future__ import annotations

import numpy as np

__all__ = ["crossover_equality"]

# Candidate inputs: the iterate's support and the inputs with |XΛᵀ| ≥ (1 − _CANDIDATE_SLACK)·c (an input of
# the optimal support has |XΛᵀ| = c exactly, and the ADMM multiplier is still off by a few per cent when
# the polish first fails: measured on the MNIST and digits ε = 0 cross-check layers).
_CANDIDATE_SLACK = 0.1
# An input prices out (joins C) when |XΛᵀ| exceeds c by more than this relative margin (HiGHS's default
# dual feasibility tolerance is 1e-7).
_PRICE_TOL = 1e-6
# Column-generation rounds per neuron; each adds every input that prices out.
_ROUNDS = 8
# When the restricted program is infeasible, C grows by this factor (the inputs next in |XΛᵀ|/c).
_GROW = 2


def crossover_equality(X, Y, V, ball, W2t, y1, weights_t, accept):
    r"""Exact optimum of the ε = 0 program by column generation from the ADMM iterate; None if it fails.

    ``X`` (N×P), ``Y`` and ``V`` (M×P), ``ball`` (Ω, M×P) and the iterate ``W2t`` (M×N) and dual ``y1``
    (= −Λ, M×P) are the ADMM's normalized arrays; ``accept(Wt, y1)`` certifies a candidate.
    """
    from scipy.optimize import linprog

    N, P = X.shape
    M = Y.shape[0]
    cap = np.ones((M, N)) if weights_t is None else weights_t
    ratio = np.abs((-y1) @ X.T) / cap                # |XΛᵀ|/c of the ADMM multiplier (≤ 1 when feasible)
    Wt = np.zeros((M, N))
    Lam = np.zeros((M, P))
    for m in range(M):
        order = np.argsort(-ratio[m], kind="stable")
        C = (W2t[m] != 0) | (ratio[m] >= 1.0 - _CANDIDATE_SLACK)
        C[order[0]] = True                               # never an empty program
        n_c = max(int(C.sum()), 1)
        Om, Oc = np.flatnonzero(ball[m]), np.flatnonzero(~ball[m])
        done = False
        for _ in range(_ROUNDS):
            idx = np.flatnonzero(C)
            k = idx.size
            c = cap[m, idx]
            A = X[idx]                                   # k×P
            A_eq = np.hstack([A[:, Om].T, -A[:, Om].T]) if Om.size else None
            A_ub = np.hstack([A[:, Oc].T, -A[:, Oc].T]) if Oc.size else None
            res = linprog(np.concatenate([c, c]), A_ub=A_ub, b_ub=V[m, Oc] if Oc.size else None,
                          A_eq=A_eq, b_eq=Y[m, Om] if Om.size else None, bounds=(0, None), method="highs-ds")
            if res.status == 2:                          # infeasible on C: let the next inputs in
                if k >= N:
                    return None                          # the neuron's own program is infeasible
                n_c = min(N, _GROW * max(n_c, k))
                C[order[:n_c]] = True
                continue
            if res.status != 0:
                return None
            lam = np.zeros(P)
            # scipy's marginals are ∂(optimal cost)/∂b: the multipliers of the spec's Lagrangian
            # ‖u‖₁ + ⟨Λ, Xᵀu − y⟩ are their negatives (Λ ≥ 0 on the inequalities)
            if Om.size:
                lam[Om] = -res.eqlin.marginals
            if Oc.size:
                lam[Oc] = np.maximum(-res.ineqlin.marginals, 0.0)
            g = np.abs(X @ lam) / cap[m]
            enter = ~C & (g > 1.0 + _PRICE_TOL)
            Wt[m] = 0.0
            Wt[m, idx] = res.x[:k] - res.x[k:]
            Lam[m] = lam
            if not enter.any():
                done = True
                break
            C |= enter
        if not done:
            return None
    return (Wt, -Lam) if accept(Wt, -Lam) else None
