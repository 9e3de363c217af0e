r"""Reference solvers: the Net-Trim layer programs stated exactly, solved by mature conic/LP solvers.

The ground truth for small problems. ``problem`` returns the CVXPY statement (for printing and
teaching); ``solve`` returns a checked :class:`nettrim.Solution`.

ReLU layer (:math:`\Omega = \{Y > 0\}`)::

    minimize ||U||_1  s.t.  ||(U^T X - Y)_Ω||_F <= ε,   (U^T X)_Ωᶜ <= V_Ωᶜ

Linear layer::

    minimize ||U||_1  s.t.  ||U^T X - Y||_F <= ε

What ``solve`` adds to the back-ends, so that its answer does not depend on units and its status does
not take a back-end's word:

* the data are normalized before the back-end sees them and the answer and the multiplier are mapped back
  (:mod:`nettrim.reference.scaling`);
* the interior-point "dust" is set to exact zeros, the violation and the duality gap are recomputed on
  the caller's program, and "optimal" needs both within tolerance (:mod:`nettrim.reference.certify`);
* a program too large for the memory limit is refused before it is built (:mod:`nettrim.reference.memory`).
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import ArrayLike

from nettrim._validation import check_scalar
from nettrim.problem import layer_problem
from nettrim.solution import GAP_TOL, INFEASIBLE, VIOLATION_TOL, Solution

from . import certify
from .certify import ZERO_TOL
from .cvx import build, solve_cvx
from .highs import check_options as check_highs_options
from .highs import solve_highs
from .memory import MAX_MEMORY, ReferenceTooLarge, check_memory, estimate_memory
from .scaling import normalize

__all__ = [
    "GAP_TOL",
    "MAX_MEMORY",
    "SOLVERS",
    "VIOLATION_TOL",
    "ZERO_TOL",
    "ReferenceTooLarge",
    "estimate_memory",
    "problem",
    "solve",
]

SOLVERS = ("CLARABEL", "ECOS", "SCS", "HIGHS")


def problem(X: ArrayLike, Y: ArrayLike, epsilon: float, *, activation: str = "relu", V: ArrayLike | None = None,
            weights: ArrayLike | None = None):
    """Return ``(cvxpy.Problem, U)``: the layer program stated in CVXPY and its N×M variable.

    Parameters are those of :func:`nettrim.layer_problem` (validated the same way). The statement is in
    the caller's units (not normalized). Call ``cvx_problem.solve()`` yourself, or use :func:`solve` to get
    a checked :class:`nettrim.Solution`.

    Examples
    --------
    >>> import numpy as np
    >>> from nettrim import reference
    >>> X = np.eye(2); Y = np.array([[1.0, 0.0]])
    >>> cvx_problem, U = reference.problem(X, Y, 0.1)
    >>> U.shape
    (2, 1)
    """
    cvx = build(layer_problem(X, Y, epsilon, activation=activation, V=V, weights=weights))
    return cvx.problem, cvx.U


def solve(X: ArrayLike, Y: ArrayLike, epsilon: float, *, activation: str = "relu", V: ArrayLike | None = None,
          weights: ArrayLike | None = None, solver: str = "CLARABEL", zero_scale: float | None = None,
          max_memory=MAX_MEMORY, **solver_options) -> Solution:
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
        than a CVXPY round trip). HIGHS is for ε = 0 only.
    zero_scale : float, optional
        A weight scale of the caller's (e.g. the original layer's max|W|): entries of the answer below
        :data:`ZERO_TOL` times the larger of max|W|, ``zero_scale`` and the data's own weight scale are
        set to exact zeros (:mod:`nettrim.reference.certify`).
    max_memory : int, float, str or None
        Refuse a program whose estimated memory (:func:`estimate_memory`) exceeds this many bytes, or a
        size such as ``"16GB"``; None for no limit. Default :data:`MAX_MEMORY` (4 GB).
    **solver_options
        Passed to ``cvxpy.Problem.solve`` (e.g. ``eps=1e-8`` for SCS) or to HiGHS's ``options``. They act
        on the normalized program (max|X| = 1, RMS(Y) = 1), which is what absolute tolerances need.

    Returns
    -------
    Solution
        In the caller's units. ``status`` is ``"optimal"`` only when the recomputed relative violation of
        ``W`` (after zeroing) is ≤ :data:`VIOLATION_TOL` and, when the back-end gives a multiplier, the
        certified relative duality gap is within ±:data:`GAP_TOL`; ``gap`` is None when there is no multiplier or
        W violates the tolerance. ``dual`` is the back-end's multiplier made dual feasible, or for
        ``"infeasible"`` its checked infeasibility ray (``info["certificate"]``). A back-end failure gives
        a NaN ``W`` and the reason in ``info["message"]``; so does "unbounded" (impossible here: the
        objective is ≥ 0), reported as ``"solver_error"``. ``info`` also holds ``scale_x``, ``scale_y``
        (the normalization), ``zero_threshold``, ``memory_estimate``, ``backend_status``.

    Raises
    ------
    ReferenceTooLarge
        (a ``MemoryError`` and a ``ValueError``) when the estimated memory exceeds ``max_memory``; nothing
        is built.
    TypeError, ValueError
        Bad data (as :func:`nettrim.layer_problem`), an unknown solver, ε > 0 with HIGHS, unknown options.

    Examples
    --------
    >>> import numpy as np
    >>> from nettrim import reference
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((10, 40)); W = rng.standard_normal((10, 3))
    >>> Y = np.maximum(W.T @ X, 0)
    >>> sol = reference.solve(X * 1e-6, Y * 1e6, 0.0, solver="HIGHS")   # units do not matter
    >>> sol.status
    'optimal'
    """
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a string, one of {SOLVERS}, got {type(solver).__name__}")
    name = solver.upper()
    if name not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    prob = layer_problem(X, Y, epsilon, activation=activation, V=V, weights=weights)
    if name == "HIGHS" and prob.epsilon != 0:
        raise ValueError(f"solver='HIGHS' is for epsilon = 0 only (the linear program); got epsilon = {prob.epsilon}. "
                         "Use CLARABEL, ECOS or SCS for epsilon > 0")
    if name == "HIGHS":
        check_highs_options(solver_options)
    if zero_scale is not None:
        zero_scale = check_scalar(zero_scale, "zero_scale", low=0.0)
    estimate = check_memory(prob.N, prob.M, prob.P, name, max_memory)

    t0 = time.perf_counter()
    norm = normalize(prob)
    answer = _backend(norm, name, solver_options)
    if answer.W is not None and norm.dropped:
        # a bound left out of the statement (huge V) binds after all: state every bound and solve again
        dropped = norm.prob.inactive & ~norm.stated
        if np.any((answer.W.T @ norm.prob.X)[dropped] > norm.prob.V[dropped]):
            norm = norm.state_all()
            answer = _backend(norm, name, solver_options)
    if answer.status == INFEASIBLE and answer.Lam is None and name not in ("HIGHS", "CLARABEL"):
        # a conic back-end's "infeasible" without a ray (CVXPY returns none from ECOS): the claim stands only
        # if CLARABEL finds a ray that checks (reference.certify); otherwise it becomes "solver_error"
        second = _backend(norm, "CLARABEL", {})
        answer.info["ray_from"] = "CLARABEL"
        if second.status == INFEASIBLE and second.Lam is not None:
            answer.Lam = second.Lam
        else:
            answer.message += f"; CLARABEL, asked for a ray, says {second.status}"
    info = dict(answer.info, scale_x=norm.scale_x, scale_y=norm.scale_y, memory_estimate=estimate,
                dropped_bounds=norm.dropped)
    W = norm.weights_back(answer.W) if answer.W is not None else None
    Lam = norm.dual_back(answer.Lam) if answer.Lam is not None else None
    scale = max(norm.weight_scale, zero_scale or 0.0)
    return certify.solution(prob, W, Lam, answer.status, answer.message, solver=name,
                            elapsed=time.perf_counter() - t0, info=info, zero_scale=scale)


def _backend(norm, name: str, options: dict):
    if name == "HIGHS":
        return solve_highs(norm.prob, norm.stated, **options)
    return solve_cvx(norm.prob, name, norm.stated, **options)

