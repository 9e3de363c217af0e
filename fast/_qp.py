r"""The polish's fixed-t neuron program, a small dense convex QP, by interior point methods.

For one neuron with candidate inputs C (k of them), the rows :math:`A = (X_{C,\Omega_m})^\top`
(p×k, p = |Ω_m|) of its ball and n inequalities :math:`Bu \le v` of :math:`\Omega^c_m`, the program at a
fixed ball multiplier t is

.. math::

    \min_u\ \sum_i c_i|u_i| + \frac{1}{2t}\|Au - y\|^2 \quad\text{s.t.}\quad Bu \le v .

:func:`_lasso_qp` solves it in the primal (k×k Newton systems, k³/3 flops per iteration), for faces with
few candidate inputs and many rows (convolutional layers: |Ω_m| in the thousands). :func:`_lasso_qp_dual`
solves its dual in the r = p + n multipliers (r×r Newton systems, k·r² flops), for many candidates and
few rows: a fully connected layer pruned on a handful of samples (LeNet's first dense layer, N = 401 inputs
and P = 20 samples, had k ≈ 300 and r ≤ 20; there the primal form made one polish attempt cost a minute).
Both return the same triple (signs, active rows of B, u).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import LinAlgError
from scipy.linalg.lapack import dpotrf, dpotrs

__all__ = ["lasso_qp", "_lasso_qp", "_lasso_qp_dual", "_cho_regularized"]

# The dual method returns its last iterate that met the residual test once the residuals grow past this
# times the tolerance: on random programs with p ≈ r (tests/test_fast_qp.py) μ kept falling 100× per step
# after the residuals reached round-off, and a dozen steps later they had grown to 1e-2.
_DIVERGED = 1e3


def lasso_qp(A, y, t, cost, B, v, gram=None, multipliers=False):
    """The fixed-t neuron program (module docstring) in whichever form has the smaller Newton system: the
    dual when its p + n multipliers are fewer than the k weights, else the primal (``gram``: a callable
    returning :math:`(A^\\top A, A^\\top y)`, when the caller forms them more cheaply). Returns (sign, active, u),
    and with ``multipliers`` also ν ≥ 0, the multipliers of :math:`Bu \\le v`."""
    p, k = A.shape
    if p + B.shape[0] < k:
        return _lasso_qp_dual(A, y, t, cost, B, v, multipliers=multipliers)
    H, g = gram() if gram is not None else (A.T @ A, A.T @ y)
    return _lasso_qp(H / t, g / t, cost, B, v, multipliers=multipliers)


def _lasso_qp(H, g, cost, B, v, max_iter: int = 40, tol: float = 1e-9, multipliers: bool = False):
    r"""Signs and active inequalities of :math:`\min_u c^\top|u| + \frac12 u^\top H u - g^\top u` s.t. :math:`Bu \le v`.

    With :math:`u = u^+ - u^-`, :math:`u^\pm \ge 0` this is a convex QP (H ⪰ 0, small and dense), solved by
    Mehrotra's predictor-corrector primal-dual interior point method (Nocedal & Wright, *Numerical
    Optimization*, 2nd ed., §16.6). Its Newton matrix
    :math:`\begin{bmatrix} M + D^+ & -M \\ -M & M + D^- \end{bmatrix}`, :math:`M = H + B^\top D_B B`, is
    solved through the k×k system :math:`(M + \mathrm{diag}(1/E))\,\delta = \dots`,
    :math:`E = 1/D^+ + 1/D^-`, for the net step :math:`\delta = \delta u^+ - \delta u^-`. A bound (or
    inequality) counts as active when its multiplier exceeds its slack; the run continues until the
    complementarity is far below the residuals, so that this split is unambiguous. Returns the sign of
    each entry (0 where both bounds are active), the active rows of B and u (and, with ``multipliers``, the
    multipliers ν ≥ 0 of :math:`Bu \\le v`).
    """
    k, n = H.shape[0], B.shape[0]
    up, um = np.zeros(k), np.zeros(k)
    # slacks and multipliers stacked as [B-rows (n), u⁺ ≥ 0 (k), u⁻ ≥ 0 (k)]: one pass per update
    s = np.concatenate([np.maximum(v, 1.0), np.ones(2 * k)])
    lam = np.ones(n + 2 * k)
    sB, sp, sm = s[:n], s[n:n + k], s[n + k:]
    lB, lp, lm = lam[:n], lam[n:n + k], lam[n + k:]
    m_all = n + 2 * k
    scale = max(1.0, float(np.abs(cost).max()), float(np.abs(g).max()), float(np.abs(v).max(initial=0.0)))
    rp = np.empty(n + 2 * k)
    for _ in range(max_iter):
        with np.errstate(over="ignore", invalid="ignore"):
            u = up - um
            Hu = H @ u
            BtlB = B.T @ lB
            rdp = Hu + cost - g + BtlB - lp
            rdm = -Hu + cost + g - BtlB - lm
            rp[:n] = B @ u + sB - v
            rp[n:n + k] = sp - up
            rp[n + k:] = sm - um
            mu = float(s @ lam) / m_all
            res = max(np.linalg.norm(rdp), np.linalg.norm(rdm), np.linalg.norm(rp[:n]), np.linalg.norm(rp[n:n + k]),
                      np.linalg.norm(rp[n + k:]))
        if not (np.isfinite(mu) and np.isfinite(res)):
            break              # the iterates left the floating-point range: final (checked by the caller)
        if res <= tol * scale and mu <= 1e-10 * tol * scale:
            break
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            D = lam / s
        if not np.isfinite(D).all():
            break              # a slack reached 0 to working precision: the iterate is final (checked by the caller)
        dB, dp, dm = D[:n], D[n:n + k], D[n + k:]
        Mmat = H + B.T @ (dB[:, None] * B)                 # the only k²·n product of an iteration
        dsum = dp + dm
        K = Mmat.copy()
        K.flat[:: k + 1] += dp * dm / dsum                    # 1/E without forming 1/D (D spans decades)
        plus = dp >= dm                                        # recover the better-conditioned half first
        dp_plus, dm_plus = np.where(plus, dp, 1.0), np.where(plus, 1.0, dm)
        try:
            factor = _cho_regularized(K)
        except LinAlgError:
            break              # the barrier has made K singular to working precision: the iterate is final

        def direction(c):
            # right-hand side −r_d + Gᵀ((r_c − λ r_p)/s) of the condensed system, in blocks (c: the
            # complementarity target, stacked like s); returns the net steps of u⁺, u⁻ and of s, λ
            w = (c - lam * rp) / s
            BtwB = B.T @ w[:n]
            r1, r2 = -rdp + BtwB - w[n:n + k], -rdm - BtwB - w[n + k:]
            d = dpotrs(factor, (r1 * dm - r2 * dp) / dsum, lower=1)[0]
            Md = Mmat @ d
            a = np.where(plus, (r1 - Md) / dp_plus, 0.0)
            b = np.where(plus, a - d, (r2 + Md) / dm_plus)
            a = np.where(plus, a, b + d)
            ds = np.concatenate([-(B @ d), a, b])
            ds -= rp
            return a, b, ds, -(c + lam * ds) / s

        al, (a, b, ds, dl) = _predictor_corrector(direction, s, lam, mu)
        if not (np.isfinite(ds).all() and np.isfinite(dl).all() and np.isfinite(al)):
            break              # a slack so small that the step overflows: the iterate is final (checked by the caller)
        up += al * a
        um += al * b
        s += al * ds
        lam += al * dl
    free_p, free_m = ~(lp > sp), ~(lm > sm)
    sign = np.where(free_p & ~free_m, 1.0, np.where(free_m & ~free_p, -1.0, 0.0))
    if multipliers:
        return sign, lB > sB, up - um, lB.copy()
    return sign, lB > sB, up - um


def _lasso_qp_dual(A, y, t, cost, B, v, max_iter: int = 40, tol: float = 1e-9, multipliers: bool = False):
    r"""(sign, active, u) of the fixed-t neuron program (module docstring) from its dual, as :func:`_lasso_qp`.

    With :math:`\lambda = (Au - y)/t` (p) and the multipliers :math:`\nu \ge 0` of :math:`Bu \le v` (n), the dual
    is, as a minimization in :math:`z = (\lambda, \nu)` and with :math:`G = [A; B]` (r×k, r = p + n),

    .. math::

        \min_z\ \tfrac t2\|\lambda\|^2 + y^\top\lambda + v^\top\nu \quad\text{s.t.}\quad
        -c \le G^\top z \le c, \quad \nu \ge 0 ,

    solved by the same Mehrotra predictor-corrector method (Nocedal & Wright §16.6) with the r×r Newton
    matrix :math:`Q + G\,\mathrm{diag}(D_1 + D_2)\,G^\top + \mathrm{diag}(0, D_3)` (Q = diag(t I, 0), D the
    multiplier-to-slack ratios of the three blocks; positive definite). The primal weights are the
    multipliers: :math:`u = \mu_2 - \mu_1` (of :math:`-G^\top z \le c` and :math:`G^\top z \le c`), so that
    stationarity in λ reads :math:`t\lambda + y - Au = 0`; the slack of an inequality :math:`Bu \le v` is the
    multiplier of :math:`\nu \ge 0`. An entry is positive when :math:`\mu_2` exceeds its slack, negative when
    :math:`\mu_1` does, and a row of B is active when :math:`\nu_j` exceeds its multiplier.
    """
    p, k = A.shape
    n = B.shape[0]
    r = p + n
    if r == 0:                                         # nothing but the ℓ1 term: u = 0
        return (np.zeros(k), np.zeros(0, dtype=bool), np.zeros(k)) + ((np.zeros(0),) if multipliers else ())
    G = np.vstack([A, B]) if n else A                  # r×k: Gᵀz = Aᵀλ + Bᵀν
    q = np.concatenate([y, v])
    qdiag = np.concatenate([np.full(p, float(t)), np.zeros(n)])
    z = np.zeros(r)
    # slacks and multipliers stacked as [Gᵀz ≤ c (k), −Gᵀz ≤ c (k), −ν ≤ 0 (n)]
    s = np.concatenate([cost, cost, np.ones(n)]).astype(float)
    mult = np.ones(2 * k + n)
    m_all = 2 * k + n
    scale = max(1.0, float(np.abs(cost).max(initial=0.0)), float(np.abs(y).max(initial=0.0)),
                float(np.abs(v).max(initial=0.0)))
    rp = np.empty(m_all)
    good = None
    for _ in range(max_iter):
        s1, s2, s3 = s[:k], s[k:2 * k], s[2 * k:]
        m1, m2, m3 = mult[:k], mult[k:2 * k], mult[2 * k:]
        with np.errstate(over="ignore", invalid="ignore"):
            Gz = G.T @ z
            rd = qdiag * z + q + G @ (m1 - m2)
            rd[p:] -= m3
            rp[:k] = Gz + s1 - cost
            rp[k:2 * k] = -Gz + s2 - cost
            rp[2 * k:] = s3 - z[p:]
            mu = float(s @ mult) / m_all
            res = max(float(np.linalg.norm(rd)), float(np.linalg.norm(rp)))
        if not (np.isfinite(mu) and np.isfinite(res)):
            if good is not None:   # the iterates left the floating-point range: as on divergence below
                s[:], mult[:] = good
            break
        if res <= tol * scale and mu <= 1e-10 * tol * scale:
            break
        if res <= tol * scale:
            good = (s.copy(), mult.copy())
        elif good is not None and res > _DIVERGED * tol * scale:
            # round-off took over as μ fell further (the barrier ratios D span too many decades for the r×r
            # system): the last iterate that met the residual test is the answer
            s[:], mult[:] = good
            break
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            D = mult / s
        if not np.isfinite(D).all():
            break              # a slack reached 0 to working precision: the iterate is final (checked by the caller)
        K = (G * (D[:k] + D[k:2 * k])) @ G.T               # the only k·r² product of an iteration
        K.flat[:: r + 1] += qdiag
        K.flat[p * (r + 1):: r + 1] += D[2 * k:]
        try:
            factor = _cho_regularized(K)
        except LinAlgError:
            break

        def direction(c):
            # Newton step for the complementarity target c (stacked like s): (Q + EᵀDE)Δz = −r_d − Eᵀw with
            # w = (m∘r_p − c)/s, E = [Gᵀ; −Gᵀ; (0, −I)]; then Δs = −r_p − EΔz and Δm = −(c + m∘Δs)/s
            w = (mult * rp - c) / s
            rhs = -rd - G @ (w[:k] - w[k:2 * k])
            rhs[p:] += w[2 * k:]
            dz = dpotrs(factor, rhs, lower=1)[0]
            Gd = G.T @ dz
            ds = -rp - np.concatenate([Gd, -Gd, -dz[p:]])
            return dz, ds, -(c + mult * ds) / s

        al, (dz, ds, dm) = _predictor_corrector(direction, s, mult, mu)
        if not (np.isfinite(dz).all() and np.isfinite(ds).all() and np.isfinite(dm).all() and np.isfinite(al)):
            break
        z += al * dz
        s += al * ds
        mult += al * dm
    s1, s2, s3 = s[:k], s[k:2 * k], s[2 * k:]
    m1, m2, m3 = mult[:k], mult[k:2 * k], mult[2 * k:]
    pos, neg = m2 > s2, m1 > s1
    sign = np.where(pos & ~neg, 1.0, np.where(neg & ~pos, -1.0, 0.0))
    if multipliers:
        return sign, s3 > m3, m2 - m1, s3.copy()    # ν = s3, the slack of −ν ≤ 0 (restored with s on divergence)
    return sign, s3 > m3, m2 - m1


def _predictor_corrector(direction, s, lam, mu):
    r"""Mehrotra's predictor-corrector step (Nocedal & Wright §16.6) shared by both interior point methods.

    ``direction(c)`` solves the Newton system for the complementarity target c (stacked like the slacks s and
    multipliers λ) and returns a tuple ending in (Δs, Δλ). The predictor (c = s∘λ, affine scaling) gives the
    centering :math:`\sigma\mu = (\mu_{aff}/\mu)^3\mu`, the corrector c = s∘λ + Δs∘Δλ − σμ the step, taken
    to 0.99 of the boundary. Returns (step length, the corrector's direction tuple)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        d = direction(s * lam)                                              # predictor (affine scaling)
        ds, dl = d[-2], d[-1]
        al = _max_step(s, ds, lam, dl)
        mu_aff = float((s + al * ds) @ (lam + al * dl)) / s.size
        sigma_mu = (mu_aff / mu) ** 3 * mu
        d = direction(s * lam + ds * dl - sigma_mu)                         # corrector
        return 0.99 * _max_step(s, d[-2], lam, d[-1]), d


def _max_step(s, ds, lam, dl) -> float:
    """Longest step in (0, 1] that keeps s + α·Δs and λ + α·Δλ nonnegative."""
    step = 1.0
    for w, dw in ((s, ds), (lam, dl)):
        neg = dw < 0
        if neg.any():
            step = min(step, float(np.min(-w[neg] / dw[neg])))
    return step


def _cho_regularized(K):
    """Lower Cholesky factor of K ≻ 0 (LAPACK potrf, for :func:`dpotrs`), with a diagonal shift of 1e-14, then
    1e-10, times its mean diagonal when round-off makes K indefinite (the barrier terms of an interior point
    method span many decades). LAPACK is called directly: scipy's cho_factor/cho_solve wrappers cost more
    than the factorization of these small matrices (a third of the interior point method's time, cProfile
    on the digits layer-2 cascade program)."""
    shift = max(float(np.trace(K)) / K.shape[0], 1e-300)
    for rel in (0.0, 1e-14, 1e-10):
        Ks = K
        if rel:
            Ks = K.copy()
            Ks.flat[:: K.shape[0] + 1] += rel * shift
        c, info = dpotrf(Ks, lower=1, clean=0)
        if info == 0:
            return c
    raise LinAlgError("K is not positive definite even after a diagonal shift")
