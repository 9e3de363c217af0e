r"""The ADMM as published (Aghasi, Abdi & Romberg 2020), kept as the baseline to compare against.

Read from the paper (its ADMM section), not from the authors' code: normalize X, Y, V and ε by
:math:`c_0 = 0.3\sqrt{\max(XX^\top)}` — read here as the **largest entry** of :math:`XX^\top` (which is
the largest squared row norm of X) —, start from zeros, iterate with a fixed ρ, and stop when
:math:`\|W^3_{k+1} - W^3_k\|_F < 5\cdot10^{-9}\,M N` (in normalized units) or at ``max_iter``. There is no
residual test, no over-relaxation and no feasibility check in the published method; the only additions
here are the honest bookkeeping of the returned :class:`~nettrim.Solution` (recomputed violation, status,
a duality gap from the same duals as :func:`nettrim.fast.solve`).
"""

from __future__ import annotations

import time

import numpy as np

from nettrim._validation import check_scalar
from nettrim.problem import layer_problem
from nettrim.solution import INACCURATE, MAX_EPS_VIOLATION, MAX_ITER, OPTIMAL, Solution

from ._linalg import CholeskyStep
from ._ops import paper_scale, soft_threshold
from ._project import Projector
from .admm import VIOLATION_TOL

__all__ = ["paper_admm"]

#: The published stopping threshold per weight: stop when ‖ΔW³‖_F < 5e-9 · M · N.
_PAPER_TOL = 5e-9


def paper_admm(X, Y, epsilon, *, activation="relu", V=None, rho=1.0, max_iter=20000,
               eps_violation=VIOLATION_TOL, callback=None, stop_tol=_PAPER_TOL) -> Solution:
    r"""The Net-Trim ADMM exactly as published (fixed ρ, stop on the change of :math:`W^3`).

    Iteration (normalized data :math:`X/c_0, Y/c_0, V/c_0, \varepsilon/c_0`; :math:`W^1 = W^{3\top}X`,
    :math:`W^2 = W^3`, scaled duals :math:`U^1, U^2`, all starting at 0):

    .. math::

        W^1 &= \Pi_C(W^{3\top}X - U^1), \qquad W^2 = \mathcal S_{1/\rho}(W^3 - U^2), \\
        (XX^\top + I)\,W^3_+ &= X(W^1 + U^1)^\top + W^2 + U^2, \\
        U^1_+ &= U^1 + W^1 - W^{3\top}_+X, \qquad U^2_+ = U^2 + W^2 - W^3_+ .

    Parameters
    ----------
    X, Y, epsilon, activation, V
        The layer program (see :func:`nettrim.layer_problem`).
    rho : float
        The fixed penalty (1 in the authors' manual, 100 in their scripts).
    max_iter : int
        Iteration limit (the published method has none; it is needed to return at all).
    eps_violation : float
        Status "optimal" (and a reported gap) requires the recomputed relative violation of W to be at most
        this (at most :data:`nettrim.solution.MAX_EPS_VIOLATION` = 1e-2).
    callback : callable, optional
        ``callback(W)`` after every iteration with the current :math:`W^2` (a copy); used by the
        benchmark to count the iterations the method needs to reach a given accuracy.
    stop_tol : float
        The constant of the published stopping rule ‖ΔW³‖_F < stop_tol·M·N (5e-9 as published; 0 turns
        the rule off, so the loop runs ``max_iter`` iterations).

    Returns
    -------
    Solution
        ``W`` is :math:`W^2` (exact zeros). ``status``: "optimal" if the published criterion stopped the
        loop and the recomputed violation is ≤ ``eps_violation``, "inaccurate" if it stopped with a larger
        violation, "max_iter" if the limit came first. ``gap`` as in :func:`nettrim.fast.solve`: the relative
        duality gap of W and the projected multiplier :math:`\Lambda = -\rho U^1/c_0`, reported only for a W
        within ``eps_violation`` (None otherwise: the gap of an infeasible W bounds nothing and can be
        negative).
    """
    t0 = time.perf_counter()
    prob = layer_problem(X, Y, epsilon, activation=activation, V=V)
    rho = check_scalar(rho, "rho", low=0.0, low_inclusive=False)
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    eps_violation = check_scalar(eps_violation, "eps_violation", low=0.0, high=MAX_EPS_VIOLATION)
    N, M, P = prob.N, prob.M, prob.P
    c0 = paper_scale(prob.X)
    Xs, Ys = prob.X / c0, prob.Y / c0
    project = Projector(Ys, prob.epsilon / c0, prob.ball if prob.activation == "relu" else None, prob.V / c0)
    step = CholeskyStep(Xs)  # the published method always factors XXᵀ + I
    # weights are kept transposed (M×N), the layout of the shared W³-step
    W3t, U2t = np.zeros((M, N)), np.zeros((M, N))
    T, U1 = np.zeros((M, P)), np.zeros((M, P))
    stop_tol = check_scalar(stop_tol, "stop_tol", low=0.0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    stop = stop_tol * M * N
    stopped = False
    W2t = W3t
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is returned after the loop)
        W1 = project(T - U1)
        W2t = soft_threshold(W3t - U2t, 1.0 / rho)
        B = W1 + U1
        Ct = W2t + U2t
        W3t_new, T_new = step(B, Ct)
        U1 = B - T_new
        U2t = Ct - W3t_new
        change = float(np.linalg.norm(W3t_new - W3t))
        W3t, T = W3t_new, T_new
        if callback is not None:
            callback(W2t.T.copy())
        if change < stop:
            stopped = True
            break
    W = np.ascontiguousarray(W2t.T)  # W = W' (X and Y were scaled by the same c0)
    violation = prob.violation(W)
    status = (OPTIMAL if violation <= eps_violation else INACCURATE) if stopped else MAX_ITER
    Lam = prob.project_dual(-rho * U1 / c0)
    gap = prob.gap(W, Lam, project=False) if violation <= eps_violation else None
    return Solution(W=W, status=status, objective=prob.objective(W), violation=violation,
                    gap=gap, iterations=it, solve_time=time.perf_counter() - t0,
                    solver=f"paper-ADMM(rho={rho:g})", dual=Lam, info={"c0": c0, "rho": rho})
