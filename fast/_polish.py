r"""Active-set polish of the ADMM iterate: the exact optimum on the face the iterate has identified.

ADMM finds the support of the answer long before it converges on it. Once the support :math:`S_m` of
every neuron, the signs :math:`\sigma_m` on it and the tight inequalities :math:`T_m \subset \Omega^c_m`
are known, the program restricted to that face is solved exactly.

**ε > 0** (:class:`BallPolish`). On the face the program is

.. math::

    \min \sum_m \sigma_m^\top u_m \quad\text{s.t.}\quad \sum_m \|A_m u_m - y_m\|^2 \le \varepsilon^2,
    \qquad B_m u_m = v_m ,

with :math:`A_m = (X_{S_m,\Omega_m})^\top`, :math:`B_m = (X_{S_m,T_m})^\top`, :math:`v_m = V_{m,T_m}` and
:math:`\sigma_m` the signs times the ℓ1 weights. Its KKT conditions share one scalar multiplier for the
ball: with :math:`t = 1/(2\mu)`,

.. math::

    u_m(t) = u_m^{LS} - t\,K_m\sigma_m, \qquad
    t^2 = \frac{\varepsilon^2 - \sum_m \|A_m u_m^{LS} - y_m\|^2}{\sum_m \sigma_m^\top K_m \sigma_m},

where :math:`u^{LS}_m` is the least-squares answer subject to :math:`B_m u = v_m` and :math:`K_m` the inverse
of :math:`A_m^\top A_m` on the null space of :math:`B_m` (the cross term vanishes:
:math:`A_m K_m \sigma_m \perp A_m u^{LS}_m - y_m`). Both are computed per neuron by the null-space method
(pivoted QR of :math:`B_m^\top`) and do not depend on t, so they are cached across rounds and attempts.
The multiplier of the layer program is :math:`\Lambda_{m,\Omega_m} = (A_m u_m - y_m)/t`,
:math:`\Lambda_{m,T_m} = \nu_m` (the face's equality multipliers), 0 elsewhere; it satisfies
:math:`(X\Lambda^\top)_{S_m,m} = -\sigma_m` exactly and gives a zero duality gap when the face is the
optimal one. When it is not, some neuron shows a sign flip, a negative :math:`\nu`, a broken
inequality off :math:`T_m` or an off-support :math:`|(X\Lambda^\top)_{im}| > c_{im}`; a primal-dual
active-set round (Hintermüller, Ito & Kunisch, SIAM J. Optim. 13(3), 2003) moves those entries between
the sets and solves again. Nothing here is trusted: the caller accepts a polished answer only when its
recomputed violation and the duality gap against this Λ certify it.

**ε = 0** (:func:`polish_equality`): the program is a linear program, on trained layers a degenerate one
(rank-deficient X, nearly as many active rows as inputs): its optimum is a vertex with as many nonzeros as
the rank of its active rows, and ADMM's sparse iterate lacks the smallest of them for tens of thousands
of iterations. The support is completed (by dual activity, or by orthogonal matching pursuit on the
residual of the equalities; the cheaper consistent face wins), the least-norm correction meets the active
rows with equality, and stationarity on the support gives the least-norm multiplier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, lstsq, qr, solve_triangular

from nettrim._gram import active_gram

from ._qp import _lasso_qp, lasso_qp  # noqa: F401  (_lasso_qp: the primal form, used by tests)

__all__ = ["BallPolish", "polish_equality"]

# An inequality of Ωᶜ starts in T when its ADMM multiplier exceeds _TIGHT_DUAL times the largest one or
# the iterate is within _TIGHT_PRIMAL·max|Y| of its bound (on trained layers the multipliers of the true
# tight set span several decades: the primal test catches the small ones; measured on digits layers).
_TIGHT_DUAL = 1e-3
_TIGHT_PRIMAL = 1e-6
# An inequality counts as tight for the multiplier LP (BallPolish._repair_dual) within this times max|Y| of
# its bound (the face's own tight rows are met to round-off, ~1e-15).
_TIGHT_LP = 1e-9
_DEBUG = False
# t follows the faces once at most this share of the neurons breaks a condition (BallPolish.__call__).
_FEW_BAD = 0.02
# An attempt ends when the number of neurons that break a condition has not fallen to _PROGRESS times its low
# for _NO_PROGRESS rounds while above that share: on LeNet's first dense layer pruned on 20 samples the first
# attempts (iterations 30-45) sat at 89-91 of 120 neurons for 8-11 rounds each (a neuron QP per bad neuron
# and round: 25 of the 35 s of the solve), while the attempts that certify fell by a quarter or more every
# other round (112, 80, 80, 62, 47, 28, 21, 8, 2).
_NO_PROGRESS = 3
_PROGRESS = 0.9
# A face whose multiplier misses stationarity on its support, |(XΛᵀ)_S + c_S·sign| > _STATIONARITY·c_S, gets
# it from the multiplier LP (a miss of δ costs about δ in relative gap once Λ is scaled to dual feasibility).
# On LeNet's first dense layer pruned on 20 samples a face with a singular KKT system (|Ω_m| = 7, four weights)
# missed it by 0.6 %: every attempt reached a KKT point by the other tests, and the caller rejected it (gap
# 6.3e-3).
_STATIONARITY = 1e-6
# An NNLS residual above this (relative) proves that no multiplier λ ≥ 0 meets the stationarity equalities.
_NNLS_INFEASIBLE = 1e-6
# Round-off allowances of the active-set tests (relative to max|Y|, max|Λ| and the ℓ1 weight).
_ROUND_OFF = 1e-10
# Rank decisions of the pivoted QR: a diagonal entry below this times the largest one counts as zero.
_RANK_TOL = 1e-10
# The face's Schur-complement solve (BallPolish._schur) goes through H⁻¹ and loses about cond(H) in relative
# accuracy; it is used only when the Cholesky factor's diagonal (√ of the pivots) spreads less than this
# (cond(H) ≲ 1e10), else the null-space method, which never inverts H. A round-off-singular H (rank 2 on a
# nearly dead neuron with |Ω_m| = 2, three inputs, cond 4e17) has a diagonal ratio of only ~1e-9, which a
# test at _RANK_TOL let through: the face then came out 4 away from its bounds on a third of its
# inequalities, and every polish of the reweighted MNIST layer-2 cascade program failed on it (10,000
# iterations, max_iter; `compare-pruners --datasets mnist`, ε = 0.2, reweight = 1).
_SCHUR_SPREAD = 1e-5
# The fixed-t neuron QP (BallPolish._neuron_qp) starts from this share of the inequalities of Ωᶜ_m (at least
# _WORKING_MIN), those nearest to binding at the ADMM iterate, and adds the ones its answer breaks: on the
# LeNet conv-2 cascade layer (|Ωᶜ_m| ≈ 5,000) the QP with all of them took 0.19 s per call. Measured (CPU s
# of fast.solve, share 1 / 0.3 / 0.1): LeNet conv-2 cascade 22.9 / 13.3 / 15.0, LeNet fc-1 cascade
# 53.8 / 58.3 / 68.7, mnist-L1-e0.2 29.4 / 21.3 / —, digits and mnist-L2 layers equal or faster at 0.3.
_WORKING_SET = 0.3
_WORKING_MIN = 200
# ... and, when the ADMM iterate's support holds less than _COLUMN_SHARE of more than _COLUMN_MIN candidate
# inputs, on that support first (the other candidates join when their optimality condition fails): on the
# MNIST 785×300 layer (ε = 0.4, default ρ) the active-set rounds had grown 31 of the polish's 208 neuron QPs
# past 150 candidate inputs (up to 510; the ADMM supports are ~60), and those QPs (k²n flops per interior
# point iteration) took 4.5 of the 7.7 s of all of them (a script outside the repository).
_COLUMN_SHARE = 0.5
_COLUMN_MIN = 100
# The multiplier LP (BallPolish._repair_dual) puts λ first on the _COL_SHARE of the tight rows R (at least
# _COL_MIN) where the cheap multiplier is largest, on all of R only when they hold none: on the MNIST 785×300
# cascade layer at ε = 0.4 a dead neuron has R = Ωᶜ_m (~2,500 samples), the LPs' answers had 11–77
# nonzeros, and 422 LPs on all of R took 570 s (cProfile).
_COL_SHARE = 0.1
_COL_MIN = 100
# ε = 0: inputs whose dual activity |(XΛᵀ)_i|/c_i is below this are tried last when the support is completed
# (at an optimum only inputs at 1 can be nonzero; ADMM's multiplier is a few per cent off early on).
_CANDIDATE_RATIO = 0.9
# The responses of new faces are computed in blocks of at most this many entries (2 rows per neuron times P):
# 2^22 float64 = 32 MiB, so that a convolutional layer with a large P does not allocate M×P twice at once.
_RESPONSE_BLOCK = 1 << 22


@dataclass
class _Face:
    """The per-neuron quantities of one face (independent of t)."""

    S: np.ndarray          # support (indices into N)
    sign: np.ndarray       # signs on S (±1)
    T: np.ndarray          # tight inequalities (indices into P, all in Ωᶜ)
    u_ls: np.ndarray       # least squares on the face
    u_s: np.ndarray        # -K σ
    r2: float              # ‖A u_ls − y‖²    (r2, res_ls, a_us: filled in by BallPolish._faces)
    q: float               # σᵀ K σ ≥ 0
    res_ls: np.ndarray     # A u_ls − y  (on Ω_m)
    a_us: np.ndarray       # A u_s       (on Ω_m)
    nu_ls: np.ndarray      # equality multipliers of the least-squares solve
    nu_s: np.ndarray       # ... of the σ solve


class BallPolish:
    """Active-set polish of the ε > 0 program for fixed (normalized) data; caches faces across calls.

    Parameters
    ----------
    X, Y, V : ndarray
        N×P, M×P, M×P (normalized units; V only read on Ωᶜ).
    ball : ndarray of bool, M×P
        Ω (every entry for a linear layer).
    epsilon : float
    weights_t : ndarray (M×N) or None
        ℓ1 weights in the transposed layout.
    """

    def __init__(self, X, Y, V, ball, epsilon, weights_t=None):
        self.X, self.Y, self.V, self.ball = X, Y, V, ball
        self.eps2 = float(epsilon) ** 2
        self.c = weights_t
        self.inactive = ~ball
        self.y_max = max(float(np.max(np.abs(Y))), 1e-300)
        M = Y.shape[0]
        self.omega = [np.flatnonzero(ball[m]) for m in range(M)]
        self.omega_c = [np.flatnonzero(~ball[m]) for m in range(M)]
        self.gram = self.xy = None
        self.h_cache: dict[int, tuple] = {}
        self.cache: dict[int, tuple] = {}
        self.faces_solved = 0
        self.t_lo, self.t_hi = 0.0, np.inf     # bracket of the ball multiplier t* (see _bracket)

    # ------------------------------------------------------------------ one face
    def _normal_equations(self, m, S):
        r""":math:`A_m^\top A_m = X_{S,\Omega_m}X_{S,\Omega_m}^\top` and :math:`A_m^\top y_m` from the Gram
        :math:`XX^\top` and :math:`XY^\top` (formed once): :math:`X_{S,\Omega}X_{S,\Omega}^\top =
        (XX^\top)_{SS} - X_{S,\Omega^c}X_{S,\Omega^c}^\top` costs :math:`|S|^2|\Omega^c_m|` instead of
        :math:`|S|^2|\Omega_m|`, and :math:`y_m` vanishes off :math:`\Omega_m` (Y = 0 on Ωᶜ of a ReLU layer;
        Ω is everything for a linear one), so :math:`A_m^\top y_m = (XY^\top)_{S,m}`. The last H of each
        neuron is kept: a round that changes only T reuses it."""
        if self.gram is None:
            self.gram = self.X @ self.X.T
            self.xy = self.X @ self.Y.T
        key = S.tobytes()
        hit = self.h_cache.get(m)
        if hit is not None and hit[0] == key:
            return hit[1], self.xy[S, m]
        H = active_gram(self.X, self.gram, S, self.omega[m], self.omega_c[m])
        self.h_cache[m] = (key, H)
        return H, self.xy[S, m]

    def _solve_face(self, m, S, sign, T) -> _Face:
        Om = self.omega[m]
        y = self.Y[m, Om]
        k = S.size
        if k == 0:
            z = np.zeros(0)
            return _Face(S, sign, T[:0], z, z, float(y @ y), 0.0, -y, np.zeros_like(y), z, z)
        sig = sign if self.c is None else sign * self.c[m, S]
        H, g = self._normal_equations(m, S)
        Bt = self.X[np.ix_(S, T)]                       # k×|T| (B_mᵀ)
        v = self.V[m, T]
        # H = AᵀA has rank ≤ |Ω_m|: with fewer rows than weights it is singular, and the null-space method
        # gets its least-norm solve from the rows A themselves (see _null_space)
        A = self.X[np.ix_(S, Om)].T if Om.size < k else None
        u_ls, u_s, nu_ls, nu_s = self._kkt(H, g, sig, Bt, v, A)
        # the responses A_m u_ls, A_m u_s (res_ls, a_us, r2) are filled in by _faces, for all new faces at once
        return _Face(S, sign, T, u_ls, u_s, np.nan, float(-sig @ u_s), None, None, nu_ls, nu_s)

    @classmethod
    def _kkt(cls, H, g, sig, Bt, v, A=None):
        r"""The face's two KKT solves, :math:`(u^{LS}, \nu^{LS})` for (h, b) = (g, v) and :math:`(u^s, \nu^s)`
        for (−σ, 0) (see :meth:`_schur`): through the Schur complement when H is well conditioned, else by
        the null-space method (``A``: rows with :math:`H = A^\top A`, optional)."""
        try:
            return cls._schur(H, g, sig, Bt, v)
        except LinAlgError:
            return cls._null_space(H, g, sig, Bt, v, A)

    @staticmethod
    def _schur(H, g, sig, Bt, v):
        r"""The face's two KKT solves through the Cholesky factor of :math:`H = A_m^\top A_m` (k³/3 flops) and
        the Schur complement :math:`B_m H^{-1} B_m^\top` (|T|×|T|; |T| is a fraction of k on trained layers):
        :math:`u = H^{-1}(h - B_m^\top\nu)`, :math:`(B_m H^{-1} B_m^\top)\nu = B_m H^{-1}h - b` for
        (h, b) = (g, v) and (−σ, 0). Raises LinAlgError when H is singular or too ill-conditioned for it
        (:data:`_SCHUR_SPREAD`; then :meth:`_null_space`)."""
        factor = cho_factor(H, lower=True, check_finite=False)
        d = np.abs(np.diag(factor[0]))
        if d.min() <= _SCHUR_SPREAD * d.max():
            raise LinAlgError("H is too ill-conditioned for the Schur complement (cond(H) above ~1e10)")
        Hh = cho_solve(factor, np.column_stack([g, -sig]), check_finite=False)
        if not Bt.shape[1]:
            z = np.zeros(0)
            return Hh[:, 0], Hh[:, 1], z, z
        HB = cho_solve(factor, Bt, check_finite=False)
        rhs = Bt.T @ Hh
        rhs[:, 0] -= v
        nu = None
        if Bt.shape[1] <= Bt.shape[0]:
            try:
                nu = cho_solve(cho_factor(Bt.T @ HB, lower=True, check_finite=False), rhs, check_finite=False)
            except LinAlgError:
                pass
        if nu is None:
            # dependent rows of B (more tight inequalities than weights, or coinciding inputs, as the many
            # identical all-background patches of a convolution): the least-norm multiplier; clashes show in
            # the checks
            nu = _least_norm_schur(np.tril(factor[0]), Bt, rhs)
        u = Hh - HB @ nu
        return u[:, 0], u[:, 1], nu[:, 0], nu[:, 1]

    @staticmethod
    def _null_space(H, g, sig, Bt, v, A=None):
        r"""The face's two KKT solves by the null-space method (pivoted QR of :math:`B_m^\top`), for a
        singular H: :math:`u = u_p + Q_2 z` with :math:`B_m u_p = v`, and :math:`Q_2^\top H Q_2` solved in the
        least-norm sense when it is singular too (a direction neither A_m nor B_m sees; the checks catch it)."""
        k, nT = H.shape[0], Bt.shape[1]
        r, Q1, Q2, u_p = 0, None, None, np.zeros(k)
        if nT:
            Q, R, piv = qr(Bt, mode="full", pivoting=True, check_finite=False)
            d = np.abs(np.diag(R))
            r = int(np.sum(d > _RANK_TOL * d[0])) if d.size and d[0] > 0 else 0
            R11 = R[:r, :r]
            Q1, Q2 = Q[:, :r], Q[:, r:]
            if r:
                u_p = Q1 @ solve_triangular(R11, v[piv[:r]], trans="T", check_finite=False)
        if Q2 is None:
            Hz, rhs = H, np.column_stack([g, -sig])
        else:
            Hz = Q2.T @ (H @ Q2)
            rhs = Q2.T @ np.column_stack([g - H @ u_p, -sig])
        if Hz.shape[0]:
            try:
                z = cho_solve(cho_factor(Hz, lower=True, check_finite=False), rhs, check_finite=False)
            except LinAlgError:
                z = _least_norm_gram(Hz, rhs, None if A is None else (A if Q2 is None else A @ Q2))
        else:
            z = np.zeros((0, 2))
        if Q2 is None:
            u_ls, u_s = z[:, 0], z[:, 1]
        else:
            u_ls, u_s = u_p + Q2 @ z[:, 0], Q2 @ z[:, 1]
        nu_ls, nu_s = np.zeros(nT), np.zeros(nT)
        if nT and r:
            # stationarity on S: A_mᵀ(A_m u − y) + B_mᵀν' = −tσ, solved for the basic ν' through the same QR
            rr = np.column_stack([g - H @ u_ls, -sig - H @ u_s])
            basic = solve_triangular(R11, Q1.T @ rr, check_finite=False)
            nu_ls[piv[:r]] = basic[:, 0]
            nu_s[piv[:r]] = basic[:, 1]
        return u_ls, u_s, nu_ls, nu_s

    # ------------------------------------------------------------------ rounds
    def __call__(self, W2t: np.ndarray, y1: np.ndarray, accept, rounds: int = 12):
        r"""Polish the sparse iterate W2t (M×N) with the ADMM dual y1 (M×P, Λ' = −y1).

        The neurons are coupled only through t. First t is held at one of two estimates — the value that
        makes the ball tight on the faces of the iterate, or the ADMM's
        :math:`t = \varepsilon/\|\Lambda_\Omega\|_F` (from :math:`\Lambda_\Omega = (Z - Y)_\Omega/t` on a
        tight ball), whichever breaks fewer faces; there every neuron is a separate program, and each one
        whose face breaks a condition is corrected (active-set rounds, then its exact fixed-t program).
        Once at most 2 % of the neurons are still wrong, t follows the faces (the value that makes the
        ball tight on them) from round to round, and each round's pair is offered to ``accept(Wt, y1)``
        (which recomputes violation and gap). Returns the accepted ``(Wt, y1)`` or None.
        """
        inactive = self.inactive
        M = W2t.shape[0]
        self._duals: dict = {}          # multiplier LPs of this call (see _conditions)
        S_mask = S_first = W2t != 0
        sign = np.sign(W2t)
        lam = self._lam_admm = -y1
        lam_max = float(np.max(lam[inactive])) if inactive.any() else 0.0
        Z = self._z_admm = W2t @ self.X
        T_mask = inactive & ((Z >= self.V - _TIGHT_PRIMAL * self.y_max)
                             | ((lam > _TIGHT_DUAL * lam_max) if lam_max > 0 else False))
        lam_ball = float(np.linalg.norm(lam[self.ball]))
        t = None
        strikes = np.zeros(M, dtype=int)
        settle = False                  # t follows the faces (few neurons left wrong, or a stalled round)
        fewest, since = M + 1, 0        # fewest primal-bad neurons so far, rounds since it was reached
        self.t_lo, self.t_hi = 0.0, np.inf
        for _ in range(rounds):
            faces = self._faces(S_mask, sign, T_mask)
            if t is None:
                # two estimates of t: the value that makes the ball tight on the faces of the iterate, and
                # the ADMM's ε/‖Λ_Ω‖; the one under which fewer faces break a primal condition is kept
                candidates = [c for c in (self._t(faces), float(np.sqrt(self.eps2)) / lam_ball if lam_ball > 0
                                          else None) if c is not None]
                if not candidates:
                    return None
                t = min(candidates, key=lambda c: self._primal_bad(*self._assemble(faces, c)[:1], S_mask, sign,
                                                                   T_mask).sum())
            Wt, Lam = self._assemble(faces, t)
            flags = self._conditions(Wt, Lam, S_mask, sign, T_mask)
            primal_bad = flags[0]
            if settle or primal_bad.sum() <= _FEW_BAD * M:
                # the faces are (nearly) settled: move t to the value that makes the ball tight on them
                t_new = self._t(faces)
                if _DEBUG:
                    print(f"    polish: t {t:.6g} -> {t_new}")
                if t_new is None:
                    return None    # the faces cannot make the ball tight: not the optimal face
                if t_new != t:
                    t_new = self._bracket(t, t_new, exact=not primal_bad.any(), stalled=settle)
                if t_new != t:
                    t = t_new
                    fewest, since = M + 1, 0        # a new t: the faces start over
                    Wt, Lam = self._assemble(faces, t)
                    flags = self._conditions(Wt, Lam, S_mask, sign, T_mask)
                    primal_bad = flags[0]
                # (a few faces that still break a condition may cost less than the caller's tolerance)
                if accept(Wt, -Lam):
                    return Wt, -Lam
                if not primal_bad.any():
                    return None    # a KKT point the caller does not accept: nothing left to move
            n_bad = int(primal_bad.sum())
            fewest, since = (n_bad, 0) if n_bad <= _PROGRESS * fewest else (fewest, since + 1)
            if since >= _NO_PROGRESS and n_bad > _FEW_BAD * M:
                return None    # the faces are not converging: the iterate is too far from its face yet
            moved = self._active_set_round(flags, S_mask, sign, T_mask, strikes, S_first, t)
            if (all(np.array_equal(a, b) for a, b in zip(moved[:3], (S_mask, sign, T_mask), strict=True))
                    and np.all(moved[3][flags[0]] >= 3)):
                # nothing moved although every bad neuron had its exact QP: the next round would repeat this
                # one (same faces, same t). Stalled: once, let t follow the faces anyway and offer the pair
                # (the few wrong faces may cost less than the caller's tolerance); then give up.
                if settle:
                    return None
                settle = True
            S_mask, sign, T_mask, strikes = moved
        return None

    def _bracket(self, t, t_new, exact, stalled=False):
        r"""The next ball multiplier after t: the faces' own root t_new, safeguarded by a bracket of t*.

        The residual :math:`\varphi(t) = \sum_m \|A_m u_m(t) - y_m\|^2` of the neurons' fixed-t programs
        does not decrease with t (a weaker fit term), and t* solves :math:`\varphi(t) = \varepsilon^2`. On
        ``exact`` faces (every neuron meets its conditions at t, so that they are those programs' answers)
        t_new above t (the ball is slack) puts t* above t, below puts it below: the bracket shrinks, and
        the move is to t_new inside it, to the geometric midpoint outside it. Faces that are still wrong
        for a few neurons move t to their root only until the first exact faces of the attempt are seen
        (the usual first step: the ADMM's t is close, and the move settles the last faces) or when the rounds
        have stalled; otherwise t stays for the rounds to finish the faces at t. Without this LeNet's first
        dense layer pruned on 20 samples cycled: t alternated between 0.20 (exact faces, t_new = 1.22) and
        1.22 (two neurons wrong, t_new = 0.22) through eight failed polish attempts. The bracket only
        steers; the caller certifies what it accepts."""
        if exact:
            if t_new > t:
                self.t_lo = max(self.t_lo, t)
            else:
                self.t_hi = min(self.t_hi, t)
            if self.t_lo >= self.t_hi:                      # round-off at a kink: start the bracket again
                self.t_lo, self.t_hi = (t, np.inf) if t_new > t else (0.0, t)
        elif not stalled and (self.t_lo > 0 or self.t_hi < np.inf):
            return t
        if self.t_lo < t_new < self.t_hi:
            return t_new
        if 0 < self.t_lo and self.t_hi < np.inf:
            return float(np.sqrt(self.t_lo * self.t_hi))
        return t

    def _faces(self, S_mask, sign, T_mask):
        """Every neuron's face; a neuron whose (S, signs, T) did not change since its last face keeps it.

        The responses of the new faces (:math:`A_m u^{LS}_m - y_m` and :math:`A_m u^s_m` on Ω_m) come from
        one product of their weights with X, in blocks of at most :data:`_RESPONSE_BLOCK` entries: one
        (2n×N)·(N×P) GEMM instead of n products of 2 rows with X, each of which streams all of X from
        memory (on the MNIST 657×4000 layer 2.3 ms per neuron against 0.15 ms in the batch, timed with a script
        outside the repository). A face without weights has its responses already (0 and −y_m)."""
        faces, keys = [], {}
        for m in range(S_mask.shape[0]):
            S, T = np.flatnonzero(S_mask[m]), np.flatnonzero(T_mask[m])
            sg = sign[m, S_mask[m]]
            key = (S.tobytes(), sg.tobytes(), T.tobytes())
            hit = self.cache.get(m)
            if hit is not None and hit[0] == key:
                faces.append(hit[1])
                continue
            faces.append(self._solve_face(m, S, sg, T))
            self.faces_solved += 1
            keys[m] = key
        new = [m for m in keys if faces[m].res_ls is None]
        N, P = self.X.shape
        block = max(1, _RESPONSE_BLOCK // (2 * P))
        for start in range(0, len(new), block):
            ms = new[start:start + block]
            U = np.zeros((2 * len(ms), N))
            for i, m in enumerate(ms):
                f = faces[m]
                U[2 * i, f.S], U[2 * i + 1, f.S] = f.u_ls, f.u_s
            resp = U @ self.X
            for i, m in enumerate(ms):
                f, Om = faces[m], self.omega[m]
                f.res_ls = resp[2 * i, Om] - self.Y[m, Om]
                f.a_us = resp[2 * i + 1, Om]
                f.r2 = float(f.res_ls @ f.res_ls)
        for m, key in keys.items():     # cached only once complete (responses filled in)
            self.cache[m] = (key, faces[m])
        return faces

    def _t(self, faces):
        """t from a tight ball on these faces (None when no t > 0 makes it tight)."""
        R2 = sum(f.r2 for f in faces)
        q = sum(f.q for f in faces)
        if not (q > 0 and self.eps2 > R2):
            return None
        return float(np.sqrt((self.eps2 - R2) / q))

    def _assemble(self, faces, t):
        """Weights (M×N) and multiplier (M×P) of the faces at this t."""
        M, N = self.Y.shape[0], self.X.shape[0]
        Wt = np.zeros((M, N))
        Lam = np.zeros_like(self.Y)
        for m, f in enumerate(faces):
            if f.S.size:
                Wt[m, f.S] = f.u_ls + t * f.u_s
            Lam[m, self.omega[m]] = f.res_ls / t + f.a_us
            if f.T.size:
                Lam[m, f.T] = f.nu_ls / t + f.nu_s
        return Wt, Lam

    def _primal_bad(self, Wt, S_mask, sign, T_mask):
        """Neurons whose weights leave their signs or break an inequality (the primal part of _conditions)."""
        Z = Wt @ self.X
        tol = _ROUND_OFF * self.y_max
        return ((S_mask & (np.sign(Wt) != sign)).any(axis=1) | (self.inactive & (Z > self.V + tol)).any(axis=1))

    def _conditions(self, Wt, Lam, S_mask, sign, T_mask):
        """Optimality conditions neuron by neuron; repairs Λ (in place) where only the multiplier is wrong.

        Returns ``(primal_bad, flips, neg, broken, enter, G)``: a neuron is primal-bad when a weight left its
        sign or an inequality off T is broken; one whose weights are right but whose multiplier is not (a
        degenerate face: more tight inequalities than the support pins down, or a dead neuron) gets its
        multiplier from an LP (:meth:`_repair_dual`), and is primal-bad only if that LP has no solution.
        """
        X, V = self.X, self.V
        Z = Wt @ X
        G = Lam @ X.T                                       # (XΛᵀ)ᵀ, M×N
        cap = 1.0 if self.c is None else self.c
        lam_tol = _ROUND_OFF * max(float(np.max(np.abs(Lam))), 1e-300)
        flips = S_mask & (np.sign(Wt) != sign)
        neg = T_mask & (Lam < -lam_tol)
        broken = self.inactive & ~T_mask & (Z > V + _ROUND_OFF * self.y_max)
        enter = ~S_mask & (np.abs(G) > cap * (1 + _ROUND_OFF))
        # stationarity on S, (XΛᵀ)_S = −c_S·sign, holds by construction unless the face's KKT system was
        # singular (the null-space method's least-norm answer): then the multiplier is repaired as well
        off_station = (S_mask & (np.abs(G + cap * sign) > _STATIONARITY * cap)).any(axis=1)
        # a face whose equalities contradict each other (dependent rows of B with different v: inputs
        # that coincide on S but not their bounds V, as in the cascade scheme) is wrong as well
        clash = (T_mask & (Z > V + _ROUND_OFF * self.y_max)).any(axis=1)
        primal_bad = flips.any(axis=1) | broken.any(axis=1) | clash
        for m in np.flatnonzero(~primal_bad & (neg.any(axis=1) | enter.any(axis=1) | off_station)):
            # the multiplier LP depends on the neuron's weights and its ball multiplier only (and on the ADMM
            # dual, fixed within a call): a face that did not change since an earlier round is not solved again
            key = (int(m), Wt[m].tobytes(), Lam[m, self.omega[m]].tobytes())
            if key not in self._duals:
                self._duals[key] = self._repair_dual(m, Wt[m], Lam[m], Z[m])
            row = self._duals[key]
            if row is None:
                primal_bad[m] = True
            else:
                Lam[m] = row
                neg[m], enter[m] = False, False
        if _DEBUG:
            print(f"    polish: primal_bad={int(primal_bad.sum())} flips={int(flips.sum())} "
                  f"broken={int(broken.sum())} enter={int(enter.sum())} neg={int(neg.sum())}")
        return primal_bad, flips, neg, broken, enter, G, clash

    def _active_set_round(self, flags, S_mask, sign, T_mask, strikes, S_first, t):
        """Move the offending entries of the primal-bad neurons between the sets (Hintermüller et al.);
        a neuron bad three times in a row gets its face from its exact fixed-t program (:meth:`_neuron_qp`)."""
        bad, flips, neg, broken, enter, G, clash = flags
        flips, neg, broken, enter = (f & bad[:, None] for f in (flips, neg, broken, enter))
        S_mask = (S_mask & ~flips) | enter
        sign = np.where(enter, -np.sign(G), np.where(S_mask, sign, 0.0))
        T_mask = (T_mask & ~neg) | broken
        strikes = np.where(bad, strikes + 1, 0)
        strikes[clash] = 3                  # nothing to move: which bound binds is for the exact program
        for m in np.flatnonzero(strikes >= 3):
            S_mask[m], sign[m], T_mask[m] = self._neuron_qp(m, S_mask[m] | S_first[m], t, first=S_first[m])
        return S_mask, sign, T_mask, strikes

    def _repair_dual(self, m, w, lam, z):
        r"""A multiplier for neuron m that certifies its weights w, or None (then w is not optimal).

        With :math:`\Lambda_{m,\Omega_m}` fixed (the ball's part), find :math:`\lambda \ge 0` on the tight
        inequalities R (:math:`z \ge V - 10^{-9}\max|Y|`) with :math:`(X\Lambda_m^\top)_S = -c_S\circ
        \mathrm{sign}(w_S)` and :math:`|(X\Lambda_m^\top)_i| \le c_i` off S: a linear program
        (HiGHS, :func:`_multiplier_lp`) of least :math:`\sum\lambda`, first with λ restricted to the rows of R
        where the cheap multiplier is largest (:data:`_COL_SHARE`; any λ that meets the conditions there is a
        multiplier), on all of R only when that has no solution.
        """
        from scipy.optimize import nnls

        X = self.X
        R = np.flatnonzero(self.inactive[m] & (z >= self.V[m] - _TIGHT_LP * self.y_max))
        if R.size == 0:
            return None
        ball = self.ball[m]
        # products with X over all P columns (the entries off Ω_m, resp. R, zeroed) instead of with copies of
        # its columns: X[:, R] (N×|R|, |R| up to |Ωᶜ_m|) is copied only for the LP below
        g0 = X @ np.where(ball, lam, 0.0)
        cost = np.ones(X.shape[0]) if self.c is None else self.c[m]
        S = w != 0
        Si = np.flatnonzero(S)
        A_eq = X[np.ix_(Si, R)] if Si.size else None
        b_eq = -np.sign(w[S]) * cost[S] - g0[S] if Si.size else None
        off = ~S

        def g_of(lam_R):
            full = np.zeros(X.shape[1])
            full[R] = lam_R
            return g0 + X @ full

        if Si.size:
            # first the nonnegative least-squares multiplier of the equalities (cheap), kept when it also
            # meets the bounds off S
            lam_R, res = nnls(A_eq, b_eq, maxiter=50 * R.size)
            if res > _NNLS_INFEASIBLE * max(float(np.linalg.norm(b_eq)), 1.0):
                return None        # no λ ≥ 0 meets the equalities (NNLS is exact): the weights are wrong
            if res <= _ROUND_OFF * max(float(np.linalg.norm(b_eq)), 1.0) and \
                    np.all(np.abs(g_of(lam_R)[off]) <= cost[off]):
                return self._row(m, lam, R, lam_R)
            if R.size <= Si.size and np.linalg.matrix_rank(A_eq) == R.size:
                return None        # the equalities fix λ: no other multiplier can meet the bounds off S
        else:
            # a dead neuron: the ADMM's own multiplier on R often meets the bounds already
            lam_R = np.maximum(self._lam_admm[m, R], 0.0)
            if np.all(np.abs(g_of(lam_R)) <= cost):
                return self._row(m, lam, R, lam_R)
        # λ on a subset of R first, the columns where the cheap multiplier (lam_R or the ADMM's) is largest:
        # any λ ≥ 0 there that meets every condition is a multiplier (0 on the other columns); only when the
        # subset has none is the LP solved on all of R
        k = max(_COL_MIN, int(_COL_SHARE * R.size))
        if k < R.size:
            cols = np.sort(np.argsort(-np.maximum(lam_R, self._lam_admm[m, R]), kind="stable")[:k])
            x = _multiplier_lp(X[:, R[cols]], g0, cost, S, b_eq)
            if x is not None:
                full = np.zeros(R.size)
                full[cols] = x
                return self._row(m, lam, R, full)
        x = _multiplier_lp(X[:, R], g0, cost, S, b_eq)
        return None if x is None else self._row(m, lam, R, x)

    def _row(self, m, lam, R, lam_R):
        """Neuron m's multiplier: its ball part from ``lam``, ``lam_R`` on the rows R of Ωᶜ, 0 elsewhere."""
        row = lam.copy()
        row[self.inactive[m]] = 0.0
        row[R] = lam_R
        return row

    def _neuron_qp(self, m, C_row, t, first=None):
        r"""The face of neuron m from its program at fixed t on the candidate inputs C (a convex QP).

        :math:`\min_u \sum_{i\in C} c_i|u_i| + \frac{1}{2t}\|A_m u - y_m\|^2` subject to every
        inequality of :math:`\Omega^c_m`, solved by :func:`~nettrim.fast._qp.lasso_qp` (primal or dual form):
        the entries that end nonzero form S (with their signs), the inequalities that end active form T.

        Both dimensions are generated. Most of the |Ωᶜ_m| inequalities (thousands on a convolutional layer)
        are far from their bounds, so the QP is first solved with the :data:`_WORKING_SET` share nearest to
        binding at the ADMM iterate, and the inequalities its answer breaks (or meets to round-off) are added
        until there are none. When ``first`` (the ADMM iterate's support, N booleans) holds less than
        :data:`_COLUMN_SHARE` of many candidates, the QP starts on those inputs only, and an input i left out
        joins when its optimality condition at :math:`u_i = 0` fails,
        :math:`|a_i^\top(A_m u - y_m)/t + b_i^\top\nu| > c_i` (ν the multipliers of the inequalities, 0 off
        the working set). When neither test adds anything the answer solves the whole QP: u is feasible for
        every inequality, and the KKT conditions of the restricted QP with these two tests are those of the
        whole one.
        """
        C = np.flatnonzero(C_row)
        N, P = self.X.shape[0], self.Y.shape[1]
        S_new, sign_new, T_new = np.zeros(N, dtype=bool), np.zeros(N), np.zeros(P, dtype=bool)
        if C.size == 0:
            return S_new, sign_new, T_new
        Oc = np.flatnonzero(self.inactive[m])
        Om = self.omega[m]
        y = self.Y[m, Om]
        A = self.X[np.ix_(C, Om)].T                      # |Ω_m|×|C|
        weights = np.ones(C.size) if self.c is None else self.c[m, C]
        B_all = self.X[np.ix_(C, Oc)].T                  # |Ωᶜ|×|C|
        v_all = self.V[m, Oc]
        n0 = max(_WORKING_MIN, int(np.ceil(_WORKING_SET * Oc.size)))
        work = np.zeros(Oc.size, dtype=bool)
        if Oc.size:
            gap = self._z_admm[m, Oc] - v_all             # ≥ 0: broken by the iterate, near 0: nearly binding
            work[np.argsort(-gap, kind="stable")[:n0]] = True
        cols = np.ones(C.size, dtype=bool)
        if first is not None:
            start = first[C]
            if C.size > _COLUMN_MIN and 0 < start.sum() < _COLUMN_SHARE * C.size:
                cols = start.copy()
        tol = _ROUND_OFF * 1e2 * self.y_max
        while True:
            ci = np.flatnonzero(cols)
            A_c, B_c = A[:, ci], B_all[:, ci]
            while True:
                idx = np.flatnonzero(work)
                sign, active, u, nu = lasso_qp(A_c, y, t, weights[ci], B_c[idx], v_all[idx],
                                               gram=lambda ci=ci: self._normal_equations(m, C[ci]),
                                               multipliers=True)
                near = ~work & (B_c @ u > v_all - tol)     # broken, or binding to round-off
                if not near.any():
                    break
                work |= near
            if cols.all():
                break
            out = np.flatnonzero(~cols)
            g = A[:, out].T @ ((A_c @ u - y) / t) + B_all[np.ix_(idx, out)].T @ nu
            enter = np.abs(g) > weights[out] * (1 + _ROUND_OFF * 1e2)
            if not enter.any():
                break
            cols[out[enter]] = True
        S_new[C[ci]] = sign != 0
        sign_new[C[ci]] = sign
        T_new[Oc[idx[active]]] = True
        return S_new, sign_new, T_new


def _rank(A) -> int:
    """Numerical rank (singular values above :data:`_RANK_TOL` times the largest)."""
    if not A.size:
        return 0
    sv = np.linalg.svd(A, compute_uv=False)
    return int(np.count_nonzero(sv > sv[0] * _RANK_TOL)) if sv[0] > 0 else 0


def _complete_by_ratio(XR, S, ratio, target):
    r"""S completed to rank ``target`` (that of ``XR``) by the inputs of largest dual activity ``ratio``
    whose rows :math:`x_{i,R}` leave the span of those of S (Gram–Schmidt residual above round-off): a
    vertex of the ε = 0 program has as many nonzeros as the rank of its active rows."""
    if XR.shape[1] == 0:
        return S
    Q = _span(XR, S)
    chosen = list(S)
    inside = np.zeros(XR.shape[0], dtype=bool)
    inside[S] = True
    for i in np.argsort(-np.abs(ratio)):
        if Q.shape[1] >= target:
            break
        x = XR[i]
        nx = float(np.linalg.norm(x))
        if inside[i] or nx == 0:
            continue
        res = x - Q @ (Q.T @ x)
        res -= Q @ (Q.T @ res)          # twice is enough (Giraud et al. 2005)
        nr = float(np.linalg.norm(res))
        if nr > _RANK_TOL * 1e2 * nx:
            Q = np.column_stack([Q, res / nr])
            chosen.append(int(i))
    return np.sort(np.asarray(chosen, dtype=int))


def _span(XR, S):
    """Orthonormal basis of the span of the rows S of XR (pivoted QR, rank by :data:`_RANK_TOL`)."""
    if not S.size:
        return np.zeros((XR.shape[1], 0))
    Q, Rq, _ = qr(XR[S].T, mode="economic", pivoting=True, check_finite=False)
    d = np.abs(np.diag(Rq))
    return Q[:, : int(np.count_nonzero(d > d[0] * _RANK_TOL))] if d.size and d[0] > 0 else Q[:, :0]


def _complete_support(XR, S, ratio, residual, *, candidates=_CANDIDATE_RATIO):
    r"""S completed by orthogonal matching pursuit until the face's equalities can be met.

    With :math:`a_i = x_{i,R}` (the rows of ``XR``), the least-norm correction on S meets the rows R
    exactly iff the ``residual`` :math:`r = t_R - X_{S,R}^\top w_S` lies in :math:`\mathrm{span}\{a_i: i \in S\}`.
    ADMM's sparse iterate often lacks the smallest entries of the answer (below the soft threshold): while
    the part :math:`r_\perp` of r outside that span is above round-off, the input i ∉ S whose projected row
    :math:`c_i = (I - QQ^\top)a_i` is best aligned with :math:`r_\perp` (largest :math:`|c_i^\top r_\perp|/\|c_i\|`)
    joins S (Pati, Rezaiifar & Krishnaprasad 1993). Candidates are the inputs whose dual activity
    ``ratio`` :math:`= |(X\Lambda^\top)_i|/c_i` is at least ``candidates`` (complementary slackness: only
    those can be nonzero at an optimum), all inputs if they do not suffice.
    """
    n, k = XR.shape
    if k == 0:
        return S
    tol = _RANK_TOL * 1e2 * max(float(np.linalg.norm(residual)), float(np.max(np.abs(XR))) * 1e-300, 1e-300)
    Q = _span(XR, S)
    r = residual - Q @ (Q.T @ residual)
    if np.linalg.norm(r) <= tol:
        return S
    inside = np.zeros(n, dtype=bool)
    inside[S] = True
    chosen = list(S)
    for pool in (np.flatnonzero(~inside & (np.abs(ratio) >= candidates)), np.flatnonzero(~inside)):
        pool = np.setdiff1d(pool, chosen, assume_unique=False)
        if not pool.size:
            continue
        C = XR[pool].T.copy()                           # k×|pool|, projected on the complement of span(Q)
        C -= Q @ (Q.T @ C)
        norms0 = np.linalg.norm(XR[pool], axis=1)
        alive = np.ones(pool.size, dtype=bool)
        while np.linalg.norm(r) > tol:
            cn = np.linalg.norm(C, axis=0)
            ok = alive & (cn > _RANK_TOL * 1e2 * np.maximum(norms0, 1e-300))
            if not ok.any():
                break
            score = np.where(ok, np.abs(C.T @ r) / np.where(ok, cn, 1.0), -1.0)
            j = int(np.argmax(score))
            q = C[:, j] / cn[j]
            r -= q * (q @ r)
            C -= np.outer(q, q @ C)
            alive[j] = False
            chosen.append(int(pool[j]))
        if np.linalg.norm(r) <= tol:
            break
        Q = np.linalg.qr(XR[np.asarray(chosen, dtype=int)].T)[0] if chosen else Q
    return np.sort(np.asarray(chosen, dtype=int))


def polish_equality(X, Y, V, ball, W2t, y1, weights_t, accept, *, active_tol=1e-6, dual_tol=1e-3, rounds=3):
    r"""Active-set polish of the ε = 0 program (a linear program); None when it does not certify.

    For each neuron m the rows R = Ω_m ∪ H_m hold with equality, H_m the inequalities the iterate marks
    active (within ``active_tol``·max|Y| of the bound, or an ADMM multiplier above ``dual_tol`` times the
    largest). The support S is the iterate's, with the entries where the ADMM multiplier is within
    ``dual_tol`` of its bound :math:`|(X\Lambda^	op)_{im}| = c_{im}`, completed to the rank of
    :math:`X_{:,R}` (:func:`_complete_support`: a vertex has as many nonzeros as active rows of full rank);
    every input when the rows R have rank N, so that they alone fix :math:`u_m`. The least-norm correction
    δ with :math:`X_{S,R}^	op(w_S + \delta) = t_R` (t = Y on Ω, V on H) moves w onto that face. When the
    marked inequalities make the system inconsistent (they are not all tight at the optimum), R falls back
    to Ω_m; inequalities the corrected w breaks join R for the next round. Stationarity on the support,
    :math:`(X\Lambda^	op)_S = -c_S\circ\mathrm{sign}(w_S)`, gives the least-norm multiplier on R.
    ``accept(Wt, y1)`` is tried with that multiplier, then with the ADMM's.
    """
    Wt = W2t.copy()
    Lam = np.zeros_like(Y)                              # KKT dual of the identified face (normalized)
    Z = Wt @ X
    scale = max(float(np.max(np.abs(Y))), 1e-300)
    tol = active_tol * scale
    dual = -y1                                           # Λ' ≥ 0 marks active inequalities
    d_tol = dual_tol * max(float(np.max(np.abs(dual))), 1e-300)
    hint = ~ball & ((Z >= V - tol) | (dual > d_tol))     # inequalities marked active by the iterate
    forced = np.zeros_like(ball)                         # inequalities a corrected w broke
    # the support: the iterate's, and every entry where the ADMM multiplier is at its bound |XΛᵀ| = c
    # (an entry of the answer below the soft threshold of an unconverged iterate shows there first)
    G = np.abs(dual @ X.T)
    cap = np.ones_like(W2t) if weights_t is None else weights_t
    support = (W2t != 0) | (G >= (1 - dual_tol) * cap)
    N = X.shape[0]
    todo = np.arange(Wt.shape[0])
    for _ in range(rounds):
        for m in todo:
            base = ball[m] | forced[m]
            best = None                                 # (ℓ1 cost, u, S, R, A) of the cheapest consistent face
            options = [base | hint[m]] + ([base] if (hint[m] & ~base).any() else [])
            for R in (np.flatnonzero(rows) for rows in options):
                if R.size == 0:
                    continue
                XR = X[:, R]
                target = np.where(ball[m, R], Y[m, R], V[m, R])
                rank = _rank(XR)
                if rank == N:
                    supports = [np.arange(N)]           # the rows R alone pin u_m
                else:
                    S0 = np.flatnonzero(support[m])
                    supports = [_complete_by_ratio(XR, S0, G[m] / cap[m], rank),
                                _complete_support(XR, S0, G[m] / cap[m], target - XR[S0].T @ W2t[m, S0])]
                for S in supports:
                    if S.size == 0:
                        continue
                    A = XR[S].T                         # |R|×|S|
                    delta = lstsq(A, target - A @ W2t[m, S], cond=None, check_finite=False,
                                  lapack_driver="gelsy")[0]
                    u = W2t[m, S] + delta
                    if np.max(np.abs(A @ u - target)) > _ROUND_OFF * 1e2 * scale:
                        continue                        # inconsistent: a marked inequality is not tight
                    cost_u = float(np.abs(u) @ cap[m, S])
                    if best is None or cost_u < best[0]:
                        best = (cost_u, u, S, R, A)
            if best is None:
                continue
            _, u, S, R, A = best
            Wt[m] = 0.0
            Wt[m, S] = u
            cost = -np.sign(u) * cap[m, S]
            Lam[m] = 0.0
            Lam[m, R] = lstsq(A.T, cost, cond=None, check_finite=False, lapack_driver="gelsy")[0]
        Z = Wt @ X
        broken = ~ball & ~forced & (Z > V)
        if not broken.any():
            break
        forced |= broken
        todo = np.flatnonzero(broken.any(axis=1))       # only the neurons with a broken inequality move
    for cand in (-Lam, y1):     # the face's KKT dual, then the ADMM dual
        if accept(Wt, cand):
            return Wt, cand
    return None


def _least_norm_gram(Hz, rhs, F=None):
    r"""The least-norm least-squares solution of :math:`H_z z = \text{rhs}` for a singular
    :math:`H_z \succeq 0` (``lstsq`` with ``cond = 1e-12``), from :math:`H_z = F^\top F` when F (p×n) is given
    with p < n: with the thin SVD :math:`F = U\Sigma V^\top`, :math:`H_z^+ = V\Sigma^{-2}V^\top` over the
    singular values above :math:`10^{-6}\sigma_1` (eigenvalues of :math:`H_z` above :math:`10^{-12}` of the
    largest). That costs :math:`p^2 n` instead of the n³ of ``lstsq`` on :math:`H_z`: a face of a neuron with
    |Ω_m| = 20 samples and 300 weights took 19 ms per solve (LeNet's first dense layer on 20 samples,
    cProfile)."""
    if F is None or F.shape[0] >= F.shape[1]:
        return lstsq(Hz, rhs, cond=1e-12, check_finite=False, lapack_driver="gelsd")[0]
    _, sv, Vt = np.linalg.svd(F, full_matrices=False)
    keep = sv > 1e-6 * sv[0] if sv.size and sv[0] > 0 else np.zeros(sv.shape, dtype=bool)
    Vk = Vt[keep]
    return Vk.T @ ((Vk @ rhs) / (sv[keep] ** 2)[:, None])


def _least_norm_schur(L, Bt, rhs):
    r"""Least-norm solution of :math:`(B H^{-1} B^\top)\nu = r` for a singular Schur complement, from the
    Cholesky factor L of H (:math:`H = LL^\top`): with :math:`C = L^{-1}B^\top = U\Sigma V^\top` (k×|T|, thin
    SVD), :math:`B H^{-1} B^\top = V\Sigma^2V^\top` and :math:`\nu = V\Sigma^{-2}V^\top r` over the singular
    values with :math:`\sigma_i^2 > 10^{-12}\sigma_1^2` — what ``lstsq(Sc, r, cond=1e-12)`` returns, in
    :math:`O(k^2|T|)` instead of :math:`O(|T|^3)` (a LeNet convolution had |T| in the thousands, k ≤ 26)."""
    C = solve_triangular(L, Bt, lower=True, check_finite=False)
    _, sv, Vt = np.linalg.svd(C, full_matrices=False)
    keep = sv * sv > 1e-12 * (sv[0] * sv[0] if sv.size else 0.0)
    Vk = Vt[keep]
    return Vk.T @ ((Vk @ rhs) / (sv[keep] ** 2)[:, None])


def _multiplier_lp(XR, g0, cost, S, b_eq):
    r"""λ ≥ 0 of least Σλ with :math:`(X_R\lambda)_S = b` and :math:`|g_0 + X_R\lambda| \le c` off S
    (HiGHS through :func:`scipy.optimize.milp` without integers, the bounds off S as ranges); None when it
    has no solution."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    off = ~S
    rows = [LinearConstraint(XR[off], -cost[off] - g0[off], cost[off] - g0[off])] if off.any() else []
    if S.any():
        rows.append(LinearConstraint(XR[S], b_eq, b_eq))
    res = milp(np.ones(XR.shape[1]), constraints=rows, bounds=Bounds(0.0, np.inf))
    return res.x if res.status == 0 else None
