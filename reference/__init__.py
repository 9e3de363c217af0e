r"""Reference solvers: the Net-Trim layer programs stated exactly, solved by mature conic/LP solvers.

The ground truth for small problems. ``problem`` returns the CVXPY statement (for printing and
teaching); ``solve`` returns a :class:`nettrim.Solution`.

ReLU layer (:math:`\Omega = \{Y > 0\}`)::

    minimize ||U||_1  s.t.  ||(U^T X - Y)_Ω||_F <= ε,   (U^T X)_Ωᶜ <= V_Ωᶜ

Linear layer::

    minimize ||U||_1  s.t.  ||U^T X - Y||_F <= ε
"""

from __future__ import annotations

import time
import warnings

import cvxpy as cp
import numpy as np

from nettrim.problem import layer_problem
from nettrim.solution import (INFEASIBLE, MAX_ITER, OPTIMAL, OPTIMAL_INACCURATE, SOLVER_ERROR, UNBOUNDED,
                              VIOLATION_TOL, Solution)

from .cvx import CvxLayer, build
from .lp import solve_lp

__all__ = ["problem", "solve", "SOLVERS", "VIOLATION_TOL"]

SOLVERS = ("CLARABEL", "ECOS", "SCS", "HIGHS")


_CVX_STATUS = {
    cp.OPTIMAL: OPTIMAL,
    cp.OPTIMAL_INACCURATE: OPTIMAL_INACCURATE,
    cp.INFEASIBLE: INFEASIBLE,
    cp.INFEASIBLE_INACCURATE: INFEASIBLE,
    cp.UNBOUNDED: UNBOUNDED,
    cp.UNBOUNDED_INACCURATE: UNBOUNDED,
    cp.USER_LIMIT: MAX_ITER,
}


def problem(X, Y, epsilon, *, activation="relu", V=None, weights=None):
    """Return ``(cvxpy.Problem, U)``: the layer program stated in CVXPY and its N×M variable.

    Parameters are those of :func:`nettrim.layer_problem` (validated the same way). Call
    ``prob.solve()`` yourself, or use :func:`solve` to get a checked :class:`nettrim.Solution`.
    """
    cvx = build(layer_problem(X, Y, epsilon, activation=activation, V=V, weights=weights))
    return cvx.problem, cvx.U


def solve(X, Y, epsilon, *, activation="relu", V=None, weights=None, solver="CLARABEL",
          **solver_options) -> Solution:
    r"""Solve one Net-Trim layer program exactly.

    Parameters
    ----------
    X : array_like, shape (N, P)
        Layer input, samples in columns (a bias is a row of ones).
    Y : array_like, shape (M, P)
        Layer output (≥ 0 for a ReLU layer).
    epsilon : float
        Absolute tolerance ε ≥ 0 on :math:`\|(U^\top X - Y)_\Omega\|_F`.
    activation : {"relu", "linear"}
    V : array_like, shape (M, P), optional
        Bound on :math:`U^\top X` over the inactive set (relu only; default 0).
    weights : array_like, shape (N, M), optional
        Positive ℓ1 weights: minimize :math:`\sum_{ij} w_{ij}|u_{ij}|` (reweighted ℓ1); the gap is then
        certified for the weighted norm.
    solver : {"CLARABEL", "ECOS", "SCS", "HIGHS"}
        Conic solvers through CVXPY; "HIGHS" solves the ε = 0 program as a linear program with
        ``scipy.optimize.linprog(method="highs")``, neuron by neuron (exact, and 10–100× faster
        than a CVXPY round trip).
    **solver_options
        Passed to ``cvxpy.Problem.solve`` (e.g. ``eps=1e-8`` for SCS) or to HiGHS's ``options``.

    Returns
    -------
    Solution
        ``status`` is ``"optimal"`` only when the solver reports optimality *and* the recomputed
        relative violation of ``W`` is ≤ :data:`VIOLATION_TOL` (1e-6); a claimed optimum beyond that
        is ``"optimal_inaccurate"``. Infeasible/unbounded are mapped; a ``cvxpy.SolverError`` gives
        ``"solver_error"`` with the message in ``info["message"]`` and a NaN ``W``. ``gap`` is the
        relative duality gap of ``W`` against the solver's multipliers made dual-feasible
        (:meth:`nettrim.LayerProblem.gap`).
    """
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a string, one of {SOLVERS}, got {type(solver).__name__}")
    name = solver.upper()
    if name not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    lp = layer_problem(X, Y, epsilon, activation=activation, V=V, weights=weights)
    if name == "HIGHS" and lp.epsilon != 0:
        raise ValueError(f"solver='HIGHS' is for epsilon = 0 only (the linear program); got epsilon = {lp.epsilon}. "
                         "Use CLARABEL, ECOS or SCS for epsilon > 0")

    t0 = time.perf_counter()
    info: dict = {}
    if name == "HIGHS":
        W, Lam, raw_status, message = solve_lp(lp, **solver_options)
        info["message"] = message
    else:
        cvx: CvxLayer = build(lp)
        try:
            with warnings.catch_warnings(record=True) as caught:  # inaccuracy shows in the status instead
                warnings.simplefilter("always")
                cvx.problem.solve(solver=name, **solver_options)
            if caught:
                info["warnings"] = [str(w.message) for w in caught]
        except cp.error.SolverError as exc:
            return _failed(lp, name, SOLVER_ERROR, str(exc), time.perf_counter() - t0)
        except TypeError as exc:  # unknown keyword options are reported by the backend as TypeError
            raise TypeError(f"invalid solver_options for {name}: {exc}") from None
        raw_status = _CVX_STATUS.get(cvx.problem.status, SOLVER_ERROR)
        stats = cvx.problem.solver_stats
        info.update(cvxpy_status=cvx.problem.status,
                    setup_time=getattr(cvx.problem, "compilation_time", None),
                    backend_time=getattr(stats, "solve_time", None),
                    iterations=getattr(stats, "num_iters", None))
        info["message"] = f"CVXPY status {cvx.problem.status}"
        W = cvx.U.value
        Lam = cvx.multiplier(lp) if W is not None else None
    elapsed = time.perf_counter() - t0

    if W is None or np.isnan(W).any():
        return _failed(lp, name, SOLVER_ERROR if raw_status == OPTIMAL else raw_status, info["message"], elapsed, info)
    W = np.asarray(W, dtype=float)
    violation = lp.violation(W)
    if raw_status in (OPTIMAL, OPTIMAL_INACCURATE):
        # Trust no claim: "optimal" needs the recomputed violation of W within VIOLATION_TOL.
        status = OPTIMAL if (raw_status == OPTIMAL and violation <= VIOLATION_TOL) else OPTIMAL_INACCURATE
    else:
        status = raw_status
    dual = lp.project_dual(Lam) if Lam is not None else None
    gap = lp.gap(W, dual, project=False) if dual is not None else None
    return Solution(W=W, status=status, objective=lp.objective(W), violation=violation, gap=gap,
                    iterations=info.get("iterations"), solve_time=elapsed, solver=name, dual=dual, info=info)


def _failed(lp, name, status, message, elapsed, info=None) -> Solution:
    info = dict(info or {})
    info["message"] = message
    return Solution(W=np.full((lp.N, lp.M), np.nan), status=status, objective=float("nan"),
                    violation=float("nan"), gap=None, iterations=None, solve_time=elapsed, solver=name, info=info)
