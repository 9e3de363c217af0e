r"""ADMM for the Net-Trim layer programs, with residual stopping, adaptive ρ and an honest status.

See :func:`solve`.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.linalg import lstsq

from nettrim.problem import LayerProblem, layer_problem
from nettrim.solution import INACCURATE, INFEASIBLE, MAX_ITER, OPTIMAL, VIOLATION_TOL, Solution
from nettrim._validation import check_scalar

from ._linalg import make_step
from ._linear import reduce_linear
from ._project import Projector

__all__ = ["solve", "VIOLATION_TOL"]


# Initial ρ in normalized units (see _Core): over seeded random layers of every shape tried (dense and
# sparse W, P/N from 0.6 to 10, with and without bias and V) the best fixed ρ lay in [3, 5] for ReLU
# layers and near 10 for the (reduced) linear program.
_RHO_RELU, _RHO_LINEAR = 3.0, 10.0
# Adaptive ρ: residual balancing (Boyd et al. 2011 §3.4.1) on the normalized residuals of OSQP (Stellato et
# al. 2020 §5.2): at each check ρ is multiplied by sqrt((‖r‖/max(‖Ax‖,‖Bz‖)) / (‖s‖/‖y‖)) when that
# factor leaves [1/_ADAPT_TRIGGER, _ADAPT_TRIGGER]. A change is free (ρ cancels in the W³-step). A lower
# trigger (1.5–5) was tried and made the default start 2–3× slower on the same layers: balancing the
# residuals is a poor proxy of the best ρ here, so it only corrects a ρ that is far off.
_ADAPT_TRIGGER = 10.0
_RHO_MIN, _RHO_MAX = 1e-6, 1e6
# Residuals (and the adaptive ρ) are evaluated every _CHECK_EVERY iterations (OSQP checks every 25): they
# cost several passes over M×P arrays, a noticeable fraction of an iteration when N is small.
_CHECK_EVERY = 10
# X is divided by _X_SCALE·sqrt(max_ij (XXᵀ)_ij), the paper's c0 = 0.3·sqrt(max XXᵀ); 0.1 and 1 were slower.
_X_SCALE = 0.3
# Polish of the ε = 0 program (see _Core._polish): first attempt at iteration _POLISH_FIRST, then at
# doubling iterations and whenever the residual test holds; an inequality counts as active when it is
# within _ACTIVE_TOL·max|Y| of its bound or its ADMM multiplier exceeds _ACTIVE_DUAL_TOL times the largest
# one; a polished W is accepted only with a certified relative duality gap ≤ _POLISH_GAP.
_POLISH_FIRST = 50
_POLISH_ROUNDS = 3
_ACTIVE_TOL = 1e-6
_ACTIVE_DUAL_TOL = 1e-3
_POLISH_GAP = 1e-5


def _nrm(a: np.ndarray) -> float:
    f = a.ravel()
    return float(np.sqrt(f @ f))


def solve(X, Y, epsilon, *, activation="relu", V=None, weights=None, eps_abs=1e-6, eps_rel=1e-5, eps_violation=VIOLATION_TOL,
          max_iter=10000, rho=None, adaptive_rho=True, alpha=1.6, warm_start=None, verbose=False,
          callback=None) -> Solution:
    r"""Solve a Net-Trim layer program by ADMM.

    The program (:func:`nettrim.layer_problem`; Ω = {Y > 0}, for a linear layer Ω = everything) is

    .. math::

        \min_W \|W\|_1 \quad\text{s.t.}\quad W^\top X \in C = \{Z : \|Z_\Omega - Y_\Omega\|_F \le \varepsilon,
        \ Z_{\Omega^c} \le V_{\Omega^c}\}.

    **Splitting** (Aghasi, Abdi & Romberg 2020): :math:`W^1 = W^{3\top}X` (M×P), :math:`W^2 = W^3` (N×M),
    minimize :math:`\iota_C(W^1) + \|W^2\|_1`, scaled duals :math:`U^1, U^2`, penalty ρ, relaxation α.
    One iteration:

    .. math::

        W^1 &= \Pi_C\big(W^{3\top}X - U^1\big) \\
        W^2 &= \mathcal S_{1/\rho}\big(W^3 - U^2\big), \qquad \mathcal S_\tau(z) = \mathrm{sign}(z)(|z|-\tau)_+ \\
        \hat W^1 &= \alpha W^1 + (1-\alpha) W^{3\top}X, \qquad \hat W^2 = \alpha W^2 + (1-\alpha) W^3 \\
        (XX^\top + I)\, W^3_+ &= X(\hat W^1 + U^1)^\top + \hat W^2 + U^2 \\
        U^1_+ &= U^1 + \hat W^1 - W^{3\top}_+X, \qquad U^2_+ = U^2 + \hat W^2 - W^3_+ .

    :math:`\Pi_C` is the radial projection onto the ball on Ω and :math:`\min(\cdot, V)` on Ωᶜ. ρ cancels
    in the W³-step, so :math:`XX^\top + I` is factored once (Cholesky; for P < N the Woodbury form with
    :math:`I + X^\top X`), and a change of ρ only rescales :math:`U^{1,2} \leftarrow U^{1,2}\rho/\rho_+`. One
    iteration costs two GEMMs (≈ 4·N·M·P flops) plus an N²·M product with the inverse (see
    :mod:`nettrim.fast._linalg`) and ~12 passes over M×P arrays. The data are first normalized
    (X by :math:`c_0 = 0.3\sqrt{\max_{ij}(XX^\top)_{ij}}` as in the paper, Y, V, ε by :math:`\|Y\|_F/\sqrt{MP}`);
    results are mapped back. A linear layer with P > N is first reduced to P = N (see
    :mod:`nettrim.fast._linear`): its iterations then cost O(N²M).

    **Stopping** (Boyd et al. 2011, §3.3), with :math:`p = MP + NM`:

    .. math::

        \|r\| = \|(W^1 - W^{3\top}X,\ W^2 - W^3)\|_F \le \sqrt p\,\epsilon_{abs}
            + \epsilon_{rel}\max(\|(W^1, W^2)\|_F, \|(W^{3\top}X, W^3)\|_F), \\
        \|s\| = \rho\,\|(\Delta W^{3\top}X,\ \Delta W^3)\|_F \le \sqrt p\,\epsilon_{abs}
            + \epsilon_{rel}\,\rho\|(U^1, U^2)\|_F,

    (in the normalized units, evaluated every 10 iterations) **and** the returned sparse iterate
    :math:`W^2` itself has a relative violation (:meth:`nettrim.LayerProblem.violation`) ≤
    ``eps_violation``. The last test matters: :math:`W^2` and :math:`W^3` differ until convergence and
    only :math:`W^2` has exact zeros, so the residual test alone does not make :math:`W^2` feasible.

    **ε = 0** makes the program a linear program, on which ADMM finds the optimal face fast but converges
    slowly on it. There the iterate is also *polished* (at iterations 50, 100, 200, … and whenever the
    residual test holds): on the support of :math:`W^2` and the active rows (Ω and the inequalities at
    their bound or with a positive multiplier), the least-norm correction that meets them with equality
    and the least-norm KKT multiplier are computed neuron by neuron; the polished W is returned only if
    its violation is ≤ ``eps_violation`` and its duality gap against that multiplier (or the ADMM dual)
    is ≤ 1e-5 — a certificate, not a heuristic.

    Parameters
    ----------
    X, Y, epsilon, activation, V
        The layer program, as for :func:`nettrim.layer_problem` (validated the same way).
    weights : array_like, shape (N, M), optional
        Positive ℓ1 weights c: minimize :math:`\sum_{ij} c_{ij}|W_{ij}|` instead of :math:`\|W\|_1`
        (reweighted ℓ1). The W²-step becomes the entrywise soft threshold :math:`\mathcal S_{c/\rho}`, and
        the dual constraint behind the gap :math:`|(X\Lambda^\top)_{ij}| \le c_{ij}`.
    eps_abs, eps_rel : float
        Absolute and relative residual tolerances (≥ 0, not both 0).
    eps_violation : float
        Largest relative violation of the returned W for status "optimal" (default 1e-6).
    max_iter : int
        Iteration limit (≥ 1).
    rho : float, optional
        Initial penalty ρ > 0 in normalized units (default 3 for ReLU layers, 10 for linear ones: the
        best fixed values on seeded random layers of many shapes).
    adaptive_rho : bool
        Rescale ρ by residual balancing when the normalized residuals are more than 10× out of balance
        (free: no refactorization).
    alpha : float
        Over-relaxation α ∈ (0, 2) (1 = plain ADMM; 1.6 is OSQP's default).
    warm_start : Solution or array_like (N, M), optional
        Initial :math:`W^3`. A :class:`~nettrim.Solution` also restores the duals when their shapes match:
        Λ from ``Solution.dual`` (any solver's) and Γ from ``Solution.info["dual_l1"]`` (this function's);
        a plain array starts from zero duals.
    verbose : bool
        Print the residuals every 100 iterations and a summary at the end.
    callback : callable, optional
        ``callback(W)`` after every iteration with the current sparse iterate W² (original units, a copy).

    Returns
    -------
    Solution
        ``W`` is the soft-thresholded iterate :math:`W^2` (exact zeros) in the original units.
        ``status`` is "optimal" when the stopping test held and the recomputed violation of ``W`` is
        ≤ ``eps_violation``, "max_iter" when the limit was reached first, "inaccurate" when the
        stopping test held but the final recomputed violation exceeds ``eps_violation``, "infeasible"
        (NaN ``W``, no iteration) for a linear layer whose ε is below ‖Y⊥‖_F, the residual of the part
        of Y outside the row space of X, by more than ``eps_violation``·‖Y‖_F. ``gap`` is the
        relative duality gap :meth:`nettrim.LayerProblem.gap` against :math:`\Lambda = -\rho U^1`
        (in original units) made dual-feasible; ``dual`` is that feasible Λ. ``info`` holds
        ``history`` (per check: ``iteration``, ``r_prim``, ``r_dual``, ``eps_prim``, ``eps_dual``,
        ``rho``), ``rho`` (final), ``dual_l1`` (Γ = ρU², N×M), ``factorization``
        ("cholesky"/"woodbury"), ``reduced`` (linear reduction used), ``setup_time``,
        ``violation_checks``, ``polishes`` (attempts), ``polished`` (the answer is a polished one).

    References
    ----------
    A. Aghasi, A. Abdi, J. Romberg, "Fast convex pruning of deep neural networks", SIAM J. Math. Data
    Sci. 2(1), 2020. S. Boyd et al., "Distributed optimization and statistical learning via the
    alternating direction method of multipliers", Found. Trends Mach. Learn. 3(1), 2011.
    """
    t0 = time.perf_counter()
    lp = layer_problem(X, Y, epsilon, activation=activation, V=V, weights=weights)
    eps_abs = check_scalar(eps_abs, "eps_abs", low=0.0)
    eps_rel = check_scalar(eps_rel, "eps_rel", low=0.0)
    if eps_abs == 0 and eps_rel == 0:
        raise ValueError("eps_abs and eps_rel cannot both be 0 (the stopping test could never hold)")
    eps_violation = check_scalar(eps_violation, "eps_violation", low=0.0)
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    if rho is not None:
        rho = check_scalar(rho, "rho", low=0.0, low_inclusive=False)
    if not isinstance(adaptive_rho, (bool, np.bool_)):
        raise TypeError(f"adaptive_rho must be a bool, got {type(adaptive_rho).__name__}")
    alpha = check_scalar(alpha, "alpha", low=0.0, high=2.0, low_inclusive=False)
    if alpha >= 2.0:
        raise ValueError(f"alpha must be < 2 (over-relaxation needs alpha in (0, 2)), got {alpha}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    W0, Lam0, Gam0 = _warm_start(lp, warm_start)

    core = _Core(lp)
    if core.reduction is not None and (core.reduction.y_perp_norm - lp.epsilon) / lp.y_norm > eps_violation:
        # Every W has ‖WᵀX − Y‖_F ≥ ‖Y⊥‖_F (the part of Y outside the row space of X), so no answer can come
        # within eps_violation of the constraint: the program is infeasible, known before any iteration.
        return Solution(W=np.full((lp.N, lp.M), np.nan), status=INFEASIBLE, objective=float("nan"),
                        violation=float("nan"), gap=None, iterations=0, solve_time=time.perf_counter() - t0,
                        solver="ADMM", info=dict(message=f"infeasible: epsilon = {lp.epsilon:g} < ||Y_perp||_F = "
                                                 f"{core.reduction.y_perp_norm:g}, the least residual of any W"))
    state = core.run(W0, Lam0, Gam0, eps_abs=eps_abs, eps_rel=eps_rel, eps_violation=eps_violation,
                     max_iter=max_iter, rho=core.default_rho if rho is None else rho, adaptive_rho=bool(adaptive_rho),
                     alpha=alpha, verbose=verbose, callback=callback)

    W = state["W"]
    violation = lp.violation(W)
    Lam = lp.project_dual(state["Lambda"])
    gap = lp.gap(W, Lam, project=False)
    if state["converged"]:
        status = OPTIMAL if violation <= eps_violation else INACCURATE
    else:
        status = MAX_ITER
    info = dict(history=state["history"], rho=state["rho"], dual_l1=state["Gamma"], factorization=core.step.kind,
                reduced=core.reduction is not None, setup_time=core.setup_time,
                violation_checks=state["checks"], polishes=state["polishes"], polished=state["polished"],
                scale_x=core.a, scale_y=core.b)
    sol = Solution(W=W, status=status, objective=lp.objective(W), violation=violation, gap=gap,
                   iterations=state["iterations"], solve_time=time.perf_counter() - t0, solver="ADMM",
                   dual=Lam, info=info)
    if verbose:
        print(sol.summary())
    return sol


def _warm_start(lp: LayerProblem, warm_start):
    """(W, Λ, Γ) from a Solution or an array; None entries mean 'start at zero'."""
    if warm_start is None:
        return None, None, None
    if isinstance(warm_start, Solution):
        W = lp.check_weights(warm_start.W, "warm_start.W")
        Lam = warm_start.dual
        Gam = warm_start.info.get("dual_l1") if isinstance(warm_start.info, dict) else None
        if Lam is not None and np.shape(Lam) != (lp.M, lp.P):
            Lam = None
        if Gam is not None and np.shape(Gam) != (lp.N, lp.M):
            Gam = None
        return W, Lam, Gam
    return lp.check_weights(warm_start, "warm_start"), None, None


class _Core:
    """Normalized data, the W³-step and the W¹-projection of one problem."""

    def __init__(self, lp: LayerProblem):
        t0 = time.perf_counter()
        self.lp = lp
        X, Y, eps = lp.X, lp.Y, lp.epsilon
        self.reduction = None
        if lp.activation == "linear" and lp.P > lp.N:
            self.reduction = reduce_linear(X, Y, eps)
            X, Y, eps = self.reduction.X, self.reduction.Y, self.reduction.epsilon
        M, P = Y.shape
        # Normalization: X by the paper's c0 = 0.3 sqrt(max (XX^T)_ij) (the largest entry is a diagonal
        # one, the largest squared row norm); Y, V, eps by the RMS of Y, so that unit rho is a sensible start.
        dmax = float(np.max(np.einsum("ij,ij->i", X, X)))
        self.a = _X_SCALE * np.sqrt(dmax) if dmax > 0 else 1.0
        y_rms = float(np.linalg.norm(Y)) / np.sqrt(M * P)
        self.b = y_rms if y_rms > 0 else 1.0
        self.X = X / self.a
        self.Y = Y / self.b
        self.eps = eps / self.b
        if lp.activation == "relu":
            self.project = Projector(self.Y, self.eps, lp.ball, lp.V / self.b)
        else:
            self.project = Projector(self.Y, self.eps, None, None)
        self.step = make_step(self.X)
        # the ε = 0 program is a linear program: ADMM identifies its face quickly but converges slowly on
        # it, so an active-set polish finishes the job (see _polish)
        self.can_polish = lp.epsilon == 0
        self.ball = lp.ball if self.reduction is None else np.ones(self.Y.shape, dtype=bool)
        self.V = lp.V / self.b if self.reduction is None else np.zeros(self.Y.shape)
        # initial ρ in normalized units: the best fixed ρ on seeded random layers of every shape tried
        # (dense and sparse W, P/N from 0.6 to 10) lay in [3, 5] for ReLU layers and near 10 for the
        # reduced linear program (the benchmark and tests/test_fast.py use such layers)
        self.default_rho = _RHO_LINEAR if lp.activation == "linear" else _RHO_RELU
        # ℓ1 weights in the internal (transposed, M×N) layout; the normalization scales the objective by
        # the constant b/a and leaves the weights as they are
        self.w_t = None if lp.weights is None else np.ascontiguousarray(lp.weights.T)
        self.setup_time = time.perf_counter() - t0

    # ---------------------------------------------------------------- unit conversions
    def w_out(self, Ws: np.ndarray) -> np.ndarray:
        """Normalized weights -> original (W = W' b / a)."""
        return Ws * (self.b / self.a)

    def w_in(self, W: np.ndarray) -> np.ndarray:
        return W * (self.a / self.b)

    def lam_out(self, y1: np.ndarray) -> np.ndarray:
        """Unscaled dual y¹ = ρU¹ (normalized, possibly reduced) -> Λ of the original program."""
        Lam = -y1 / self.a
        if self.reduction is not None:
            Lam = self.reduction.lift_dual(Lam)
        return Lam

    def lam_in(self, Lam: np.ndarray) -> np.ndarray:
        if self.reduction is not None:
            Lam = self.reduction.reduce_dual(Lam)
        return -self.a * np.asarray(Lam, dtype=float)

    def violation(self, Ws: np.ndarray) -> float:
        """Relative violation (original program) of the normalized weights Ws."""
        if self.reduction is None:
            return self.lp.violation(self.w_out(Ws))
        red = self.reduction  # ‖WᵀX − Y‖² = ‖WᵀX̃ − Ỹ‖² + ‖Y⊥‖² (in the original units)
        Zr = (Ws.T @ self.X - self.Y) * self.b
        ball = float(np.sqrt(_nrm(Zr) ** 2 + red.y_perp_norm ** 2))
        return max(ball - self.lp.epsilon, 0.0) / self.lp.y_norm

    # ---------------------------------------------------------------- the iteration
    def run(self, W0, Lam0, Gam0, *, eps_abs, eps_rel, eps_violation, max_iter, rho, adaptive_rho, alpha,
            verbose, callback):
        check_every = _CHECK_EVERY
        # Internal layout: weights transposed (M×N, C order) so that every array the loop touches is
        # contiguous. State: T = W³ᵀX, B = Ŵ¹ + U¹ (so U¹ = B − T), W³ᵀ, U²ᵀ.
        X, step, project = self.X, self.step, self.project
        N, P = X.shape
        M = self.Y.shape[0]
        W3t = np.zeros((M, N)) if W0 is None else np.ascontiguousarray(self.w_in(W0).T)
        T = W3t @ X
        B = T.copy()
        if Lam0 is not None:
            B += self.lam_in(Lam0) / rho
        U2t = np.zeros((M, N)) if Gam0 is None else np.ascontiguousarray(np.asarray(Gam0, dtype=float).T) / rho
        A = np.empty((M, P))            # Z = W³ᵀX − U¹, then W¹, then α(W¹ − W³ᵀX)
        T_old = np.empty((M, P))        # W³ᵀX before the step, kept on check iterations only
        sqrt_p = np.sqrt(M * P + N * M)
        hist = {k: [] for k in ("iteration", "r_prim", "r_dual", "eps_prim", "eps_dual", "rho")}
        converged, checks, it = False, 0, 0
        polishes, polish_ok, next_polish = 0, False, _POLISH_FIRST
        y1_polish = None
        W2t = W3t
        for it in range(1, max_iter + 1):
            check = it % check_every == 0 or it == max_iter
            # W¹ = Π_C(W³ᵀX − U¹), with W³ᵀX − U¹ = 2T − B
            np.subtract(T, B, out=A)
            A += T
            project(A)
            # W² = S_{1/ρ}(W³ − U²)
            W2t = W3t - U2t
            tau = 1.0 / rho if self.w_t is None else self.w_t / rho
            W2t = np.sign(W2t) * np.maximum(np.abs(W2t) - tau, 0.0)
            # B₊ = Ŵ¹ + U¹ = B + α(W¹ − T);  C = Ŵ² + U² = α W² + (1 − α) W³ + U²
            A -= T
            if alpha != 1.0:
                A *= alpha
            B += A
            Ct = alpha * W2t
            if alpha != 1.0:
                Ct += (1.0 - alpha) * W3t
            Ct += U2t
            if check:
                np.copyto(T_old, T)
            W3t_new = step(B, Ct, T)          # T ← W³₊ᵀX
            np.subtract(Ct, W3t_new, out=U2t)  # U²₊ = Ĉ − W³₊
            if check:
                r_prim, r_dual, eps_prim, eps_dual, scale_prim, scale_dual = self._residuals(
                    A, T_old, T, B, W2t, W3t, W3t_new, U2t, rho, alpha, sqrt_p, eps_abs, eps_rel)
                for k, v in zip(hist, (it, r_prim, r_dual, eps_prim, eps_dual, rho)):
                    hist[k].append(v)
                if verbose and it % 100 == 0:
                    print(f"{it:6d}  r_prim {r_prim:.2e}/{eps_prim:.2e}  r_dual {r_dual:.2e}/{eps_dual:.2e}"
                          f"  rho {rho:.3g}")
            W3t = W3t_new
            if callback is not None:
                callback(self.w_out(W2t.T))
            if not check:
                continue
            done = r_prim <= eps_prim and r_dual <= eps_dual
            if done:
                checks += 1
                if self.violation(W2t.T) <= eps_violation:
                    converged = True
                    break
            if self.can_polish and (done or it >= next_polish):
                next_polish = 2 * it
                polished = self._polish(W2t, rho * (B - T), eps_violation)
                polishes += 1
                if polished is not None:
                    (W2t, y1_polish), converged, polish_ok = polished, True, True
                    break
            if adaptive_rho:
                new_rho = self._balance(rho, r_prim / max(scale_prim, 1e-300), r_dual / max(scale_dual, 1e-300))
                if new_rho != rho:
                    # keep the unscaled duals ρU fixed: U¹ = B − T and U² scale by ρ/ρ₊
                    c = rho / new_rho
                    B -= T
                    B *= c
                    B += T
                    U2t *= c
                    rho = new_rho
        U1 = B - T
        U1 *= rho
        if y1_polish is not None:
            U1 = y1_polish
        return dict(W=self.w_out(W2t.T), Lambda=self.lam_out(U1), Gamma=np.ascontiguousarray(rho * U2t.T),
                    converged=converged, iterations=it, history=hist, rho=rho, checks=checks,
                    polishes=polishes, polished=polish_ok)

    def _polish(self, W2t, y1, eps_violation):
        r"""Active-set polish of the ε = 0 program (a linear program); None when it does not certify.

        For each neuron m, with support S of the sparse iterate and rows R = Ω_m ∪ {active inequalities},
        the least-norm correction δ with :math:`X_{S,R}^\top(w_S + \delta) = t_R` (t = Y on Ω, V on the
        active rows) moves :math:`w` onto the face ADMM has identified; inequalities it breaks join R
        (a few rounds). The result is accepted only if its violation is ≤ ``eps_violation`` and its
        duality gap against the current dual :math:`-\rho U^1` is ≤ :data:`_POLISH_GAP`.
        """
        X, Y = self.X, self.Y
        ball = self.ball
        Wt = W2t.copy()
        Lam = np.zeros_like(Y)                              # KKT dual of the identified face (normalized)
        Z = Wt @ X
        tol = _ACTIVE_TOL * max(float(np.max(np.abs(Y))), 1e-300)
        dual = -y1                                           # Λ' ≥ 0 marks active inequalities
        dual_tol = _ACTIVE_DUAL_TOL * max(float(np.max(np.abs(dual))), 1e-300)
        rows = ball | (Z >= self.V - tol) | (dual > dual_tol)
        for _ in range(_POLISH_ROUNDS):
            for m in range(Wt.shape[0]):
                S = np.flatnonzero(W2t[m])
                R = np.flatnonzero(rows[m])
                if S.size == 0 or R.size == 0:
                    continue
                A = X[np.ix_(S, R)].T                       # |R|×|S|
                target = np.where(ball[m, R], Y[m, R], self.V[m, R])
                delta = lstsq(A, target - A @ W2t[m, S], cond=None, check_finite=False,
                              lapack_driver="gelsy")[0]
                Wt[m, S] = W2t[m, S] + delta
                # stationarity on the support: (XΛᵀ)_S = −c_S∘sign(w_S) (c the ℓ1 weights, 1 by default),
                # Λ supported on R (least norm)
                Lam[m] = 0.0
                cost = -np.sign(Wt[m, S]) if self.w_t is None else -np.sign(Wt[m, S]) * self.w_t[m, S]
                Lam[m, R] = lstsq(A.T, cost, cond=None, check_finite=False,
                                  lapack_driver="gelsy")[0]
            Z = Wt @ X
            broken = ~ball & ~rows & (Z > self.V)
            if not broken.any():
                break
            rows |= broken
        W = self.w_out(Wt.T)
        lp = self.lp
        if lp.violation(W) > eps_violation:
            return None
        best = None
        for cand in (-Lam, y1):     # the face's KKT dual, then the ADMM dual
            g = lp.gap(W, self.lam_out(cand))
            if g <= _POLISH_GAP:
                best = cand
                break
        if best is None:
            return None
        return Wt, best

    @staticmethod
    def _residuals(A, T_old, T, B, W2t, W3t, W3t_new, U2t, rho, alpha, sqrt_p, eps_abs, eps_rel):
        """Boyd §3.3 residuals and tolerances (A holds α(W¹ − T_old), T the new W³ᵀX)."""
        W1 = A / alpha
        W1 += T_old
        n_w1 = _nrm(W1)
        W1 -= T
        r1 = _nrm(W1)                             # ‖W¹ − W³₊ᵀX‖
        np.subtract(T, T_old, out=T_old)
        dT = _nrm(T_old)                          # ‖ΔW³ᵀX‖
        np.subtract(B, T, out=W1)
        n_u1 = _nrm(W1)                           # ‖U¹₊‖
        n_t = _nrm(T)
        r_prim = float(np.hypot(r1, _nrm(W2t - W3t_new)))
        r_dual = rho * float(np.hypot(dT, _nrm(W3t_new - W3t)))
        n_ax = float(np.hypot(n_w1, _nrm(W2t)))
        n_bz = float(np.hypot(n_t, _nrm(W3t_new)))
        n_y = rho * float(np.hypot(n_u1, _nrm(U2t)))
        eps_prim = sqrt_p * eps_abs + eps_rel * max(n_ax, n_bz)
        eps_dual = sqrt_p * eps_abs + eps_rel * n_y
        return r_prim, r_dual, eps_prim, eps_dual, max(n_ax, n_bz), n_y

    @staticmethod
    def _balance(rho, prim, dual):
        """Residual balancing: ρ·sqrt(prim/dual) for the relative residuals ‖r‖/max(‖Ax‖, ‖Bz‖) and
        ‖s‖/‖y‖, when that factor leaves [1/_ADAPT_TRIGGER, _ADAPT_TRIGGER]."""
        if prim <= 0 or dual <= 0:
            return rho
        factor = float(np.sqrt(prim / dual))
        if 1.0 / _ADAPT_TRIGGER <= factor <= _ADAPT_TRIGGER:
            return rho
        return float(np.clip(rho * factor, _RHO_MIN, _RHO_MAX))
