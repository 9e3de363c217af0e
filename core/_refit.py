r"""Refit (debiasing) of a Net-Trim layer on its support.

The ℓ1 objective shrinks the values it keeps. With :math:`S` the support of a Net-Trim answer
:math:`\hat U` (N×M, samples of X in columns), the refit solves

.. math::

    \min_U \|(U^\top X - Y)_\Omega\|_F \quad\text{s.t.}\quad U_{S^c} = 0,\qquad
    (U^\top X)_{\Omega^c} \le V_{\Omega^c}

(a linear layer has no inequality: plain least squares on S). :math:`\hat U` is feasible for it, so the
answer :math:`U^*` has :math:`\|(U^{*\top}X - Y)_\Omega\|_F \le \|(\hat U^\top X - Y)_\Omega\|_F \le
\varepsilon` and meets the same inequality on :math:`\Omega^c`: it is feasible for the Net-Trim program
itself, so Proposition 1 (:math:`\|\sigma(U^{*\top}X) - Y\|_F \le \varepsilon`) and the cascade's
feasibility argument hold unchanged, with a smaller error. This is the "debiasing" step of compressed
sensing (Figueiredo, Nowak & Wright, GPSR, 2007).

The program separates over neurons (the squared Frobenius norm is a sum over rows of :math:`U^\top X`):
for neuron m, with :math:`s = |S_m|` unknowns :math:`u \in \mathbb R^s`,

.. math::

    \min_u \|A u - b\|_2 \ \text{s.t.}\ G u \le h, \qquad A = (X_{S_m,\Omega_m})^\top,\ b = y_{m,\Omega_m},\
    G = (X_{S_m,\Omega^c_m})^\top,\ h = v_{m,\Omega^c_m},

a least-squares problem with linear inequality constraints (LSI). It is solved exactly by the classical
reduction of Lawson & Hanson (*Solving Least Squares Problems*, 1974, ch. 23):

1. **LSI → LDP.** With :math:`\tilde A = QR` (thin QR), :math:`f = Q^\top \tilde b` and the change of
   variables :math:`z = Ru - f`, the objective is :math:`\|z\|^2` plus a constant and the constraints read
   :math:`GR^{-1} z \le h - GR^{-1} f`: a least-distance program (LDP).
2. **LDP → NNLS.** :math:`\min\|z\|` s.t. :math:`Ez \le g` is solved by the non-negative least squares
   :math:`\min_{w\ge 0}\|[-E^\top; -g^\top] w - e_{s+1}\|` (``scipy.optimize.nnls``): with residual r,
   :math:`z = -r_{1:s}/r_{s+1}` (Lawson & Hanson, Theorem 23.4).

Implementation details, each keeping the answer exact or certified:

* :math:`\tilde A = [A;\ \delta I]`, :math:`\tilde b = [b;\ \delta u_0]` with :math:`u_0` the ℓ1 answer and
  :math:`\delta` = :data:`PROX_REL`·‖A‖_F: a proximal term that makes R invertible when A is rank
  deficient (more kept weights than active samples) and caps :math:`\kappa(R)` at about 1/``PROX_REL``.
  Its cost is bounded: the answer is within :math:`\delta^2\|u^* - u_0\|^2` of the optimal squared error.
* Only constraints that bind are passed to the NNLS (and only their rows of :math:`GR^{-1}` formed):
  start from those violated by the unconstrained minimizer, add the ones the LDP answer violates, repeat
  (a cutting-plane loop that ends when no constraint is violated, which makes the answer optimal for the
  full program).
* R is the Cholesky factor of :math:`\tilde A^\top\tilde A` (see :func:`_triangular`).
* The inequality bound is relaxed to :math:`h' = \max(h, G u_0)`, so that :math:`u_0` is feasible even when
  the ℓ1 solver returned it with a small violation (within its tolerance): the refit's violation is then
  never larger than the ℓ1 answer's.
* :math:`A^\top A` and :math:`A^\top b` of a ReLU neuron come from the Gram matrices :math:`XX^\top` and
  :math:`XY^\top`, formed once per layer (minus the :math:`\Omega^c` part when that is the smaller).
* Every neuron's answer is checked from scratch: its error must not exceed :math:`u_0`'s and its
  inequality excess must not exceed :math:`u_0`'s by more than :data:`EXCESS_TOL`·max|Y|; otherwise the
  neuron keeps :math:`u_0` and is counted in :attr:`Refit.fallbacks`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cholesky, lstsq, qr, solve_triangular
from scipy.optimize import nnls

from ._gram import active_gram
from .problem import LayerProblem

__all__ = ["Refit", "refit_support", "PROX_REL", "EXCESS_TOL"]

#: δ of the proximal term, relative to ‖A‖_F: κ(R) ≤ ~1e6 keeps the LDP's triangular solves accurate to
#: ~1e-10 in double precision, and the optimal squared error moves by at most δ²‖u* − u₀‖², i.e. 1e-12
#: relative in the directions A sees.
PROX_REL = 1e-6
#: A refitted neuron may exceed V on Ωᶜ by this much more than the ℓ1 answer (relative to max|Y|):
#: round-off of the LDP's triangular solves, 1e4× below nettrim's VIOLATION_TOL.
EXCESS_TOL = 1e-10
# A refit whose error exceeds the ℓ1 answer's by less than this (relative) lost to round-off only: the
# ℓ1 answer was already optimal on its support.
_SAME_REL = 1e-9
# ... or by less than this times ‖y_Ω‖ (absolute round-off): at ε = 0 both errors are round-off (~1e-15 of
# ‖y‖) and their ratio is noise, which made every neuron of an exact-fit layer a "fallback".
_SAME_ABS = 1e-12
# Cutting-plane rounds per neuron before the neuron falls back to the ℓ1 answer (each round adds every
# violated constraint; two or three rounds sufficed on every layer tried).
_MAX_ROUNDS = 50


@dataclass
class Refit:
    """The refitted layer.

    Attributes
    ----------
    W : ndarray, shape (N, M)
        The refitted weights (support within that of the ℓ1 answer).
    fallbacks : int
        Neurons whose refit failed its check and kept the ℓ1 answer's column.
    ball_error, ball_error_l1 : float
        :math:`\\|(U^\\top X - Y)_\\Omega\\|_F` after and before the refit.
    """

    W: np.ndarray
    fallbacks: int
    ball_error: float
    ball_error_l1: float


def refit_support(prob: LayerProblem, U) -> Refit:
    r"""Refit the nonzero entries of ``U`` to the layer's outputs (see the module docstring).

    Parameters
    ----------
    prob : LayerProblem
        The layer program whose answer ``U`` is (:func:`nettrim.layer_problem`; its ε is not used:
        the refit only lowers the error of a feasible U).
    U : array_like, shape (N, M)
        The ℓ1 answer; its support S is kept, its values are the starting point u₀.

    Returns
    -------
    Refit

    Examples
    --------
    >>> import numpy as np
    >>> from nettrim import layer_problem
    >>> X = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]); Y = np.array([[2.0, 0.0, 2.0]])
    >>> prob = layer_problem(X, Y, 1.0, activation="relu")
    >>> refit_support(prob, np.array([[1.5], [0.0]])).W.ravel()   # 1.5 shrunk by ℓ1, refit to 2
    array([2., 0.])
    """
    U0 = prob.check_weights(U, "U")
    W = U0.copy()
    y_max = prob.y_max
    X, Y = prob.X, prob.Y
    relu = prob.activation == "relu"
    # ReLU layers: A_mᵀA_m and A_mᵀb from the Gram XXᵀ and XYᵀ, formed once (b vanishes off Ω: Y = 0 on Ωᶜ;
    # nettrim._gram); only G = X_{S,Ωᶜ}ᵀ is gathered.
    gram = X @ X.T if relu else None
    xy = X @ Y.T if relu else None
    for m in range(prob.M):
        S = np.flatnonzero(U0[:, m])
        if S.size == 0:
            continue
        act = prob.ball[m]
        u0 = U0[S, m]
        Om, Oc = np.flatnonzero(act), np.flatnonzero(~act)
        Xc = X[np.ix_(S, Oc)]
        # without an inequality (a linear layer) the plain least squares on A needs no normal equations
        H, c = (active_gram(X, gram, S, Om, Oc, Xc), xy[S, m]) if Oc.size else (None, None)
        u = _refit_neuron((H, c, lambda S=S, Om=Om: X[np.ix_(S, Om)].T), Y[m, act], Xc.T, prob.V[m, Oc], u0)
        W[S, m] = u0 if u is None else u
    # every neuron's answer checked from scratch, all at once: one response per answer
    Z, Z0 = W.T @ X, U0.T @ X
    fallbacks = 0
    for m in np.flatnonzero(np.any(W != U0, axis=0)):
        verdict = _check(Z[m], Z0[m], Y[m], prob.ball[m], prob.V[m], EXCESS_TOL * y_max)
        if verdict != "ok":
            W[:, m] = U0[:, m]
            fallbacks += verdict == "fail"
        # "same": u0 was already optimal to round-off; it stays
    return Refit(W=W, fallbacks=fallbacks, ball_error=prob.residuals(W)[0], ball_error_l1=prob.residuals(U0)[0])


def _check(z, z0, y, act, v, excess_tol) -> str:
    """"ok": the response z of the refit is no worse than z0 of the ℓ1 answer and breaks no inequality
    that z0 kept (beyond round-off); "same": worse only by round-off (u0 was already optimal); "fail":
    otherwise (also for a non-finite z)."""
    if not np.all(np.isfinite(z)):
        return "fail"
    off = ~act
    if off.any():
        excess = max(float(np.max(z[off] - v[off])), 0.0)
        excess0 = max(float(np.max(z0[off] - v[off])), 0.0)
        if excess > excess0 + excess_tol:
            return "fail"
    err, err0 = np.linalg.norm(z[act] - y[act]), np.linalg.norm(z0[act] - y[act])
    if err <= err0:
        return "ok"
    floor = _SAME_ABS * float(np.linalg.norm(y[act]))
    return "same" if err <= err0 * (1 + _SAME_REL) + floor else "fail"


def _refit_neuron(normal, b, G, h, u0):
    """Exact LSI answer for one neuron, or None when the LDP reports (numerically) incompatible constraints.

    ``normal`` = (AᵀA, Aᵀb, a function returning A), the normal equations of the least squares."""
    if b.size == 0:
        return u0  # no active sample: every feasible u has the same (zero) error
    if G.shape[0] == 0:
        return lstsq(normal[2](), b, lapack_driver="gelsd")[0]  # plain least squares (min-norm when rank deficient)
    h = np.maximum(h, G @ u0)  # u0 feasible by construction
    R, f = _triangular(normal, b, u0)
    if R is None:
        return u0  # A = 0: the error does not depend on u
    u_c = solve_triangular(R, f)                               # unconstrained minimizer
    slack = h - G @ u_c                                        # constraints: E z <= slack, E = G R^-1
    K = np.flatnonzero(slack < 0)
    if K.size == 0:
        return u_c
    scale = float(np.linalg.norm(R @ u0 - f))                  # ‖z0‖ of the feasible u0: the LDP optimum is ≤ it
    if scale == 0.0:
        return u0
    tol = 1e-12 * max(float(np.abs(slack).max()), float(np.abs(h).max()), np.finfo(float).tiny)
    EK = _rows_of_E(R, G[K])                                   # only the rows of constraints met so far
    for _ in range(_MAX_ROUNDS):
        z = _ldp(EK, slack[K] / scale)
        if z is None:
            return None
        u = u_c + solve_triangular(R, z * scale)
        new = np.setdiff1d(np.flatnonzero(G @ u - h > tol), K, assume_unique=True)
        if new.size == 0:
            return u
        K = np.concatenate([K, new])
        EK = np.vstack([EK, _rows_of_E(R, G[new])])
    return None


def _triangular(normal, b, u0):
    r"""R (s×s, upper triangular) and f with :math:`\|\tilde A u - \tilde b\|^2 = \|Ru - f\|^2 + c`.

    :math:`\tilde A = [A; \delta I]`, :math:`\tilde b = [b; \delta u_0]`, δ = :data:`PROX_REL`·‖A‖_F, so
    that :math:`\kappa(\tilde A^\top\tilde A) \le 1 + 1/\text{PROX\_REL}^2`. R is the Cholesky factor
    of :math:`\tilde A^\top \tilde A` (from ``normal`` = (AᵀA, Aᵀb, A-maker)) and
    :math:`f = R^{-\top}\tilde A^\top\tilde b`; the normal equations lose accuracy only along singular
    directions of A below ~1e-6·‖A‖, where the error cannot see it. If the factorization fails, a QR of
    :math:`[\tilde A\ \tilde b]` gives both without forming Q. Returns (None, None) for A = 0.
    """
    H, c, make_A = normal
    H = H.copy()
    delta2 = PROX_REL ** 2 * float(np.trace(H))
    if delta2 == 0.0:
        return None, None
    s = u0.size
    H[np.diag_indices(s)] += delta2
    c = c + delta2 * u0
    try:
        R = cholesky(H, lower=False)
        return R, solve_triangular(R, c, trans="T")
    except LinAlgError:
        A = make_A()
        delta = np.sqrt(delta2)
        At = np.vstack([A, delta * np.eye(s)])
        bt = np.concatenate([b, delta * u0])
        Rf = qr(np.column_stack([At, bt]), mode="r", overwrite_a=True)[0]
        return Rf[:s, :s], Rf[:s, s]


def _rows_of_E(R, G_rows):
    """:math:`G R^{-1}` for the given rows of G (a triangular solve with Rᵀ)."""
    return solve_triangular(R, G_rows.T, trans="T").T


def _ldp(E, g):
    """min ‖z‖ s.t. E z ≤ g by NNLS (Lawson & Hanson, Algorithm LDP, ch. 23), scaled so that ‖z‖ ≲ 1.

    The NNLS stops at a tolerance, so its z can miss a binding constraint by more than round-off when E
    is ill-conditioned. Its positive multipliers name the binding constraints B; the LDP answer is then the
    least-norm solution of :math:`E_B z = g_B`, computed exactly and used when it meets every constraint.
    """
    n = E.shape[1]
    B = np.vstack([-E.T, -g[None, :]])                         # LH's form G z >= h with G = -E, h = -g
    e = np.zeros(n + 1)
    e[n] = 1.0
    w, _ = nnls(B, e, maxiter=50 * B.shape[1] + 100)
    r = B @ w - e
    if abs(r[n]) < 1e-14:
        return None                                            # incompatible constraints
    z = -r[:n] / r[n]
    binding = w > 0
    if binding.any():
        z_b = lstsq(E[binding], g[binding], lapack_driver="gelsd")[0]
        if np.max(E @ z_b - g) <= np.max(E @ z - g):
            z = z_b
    return z
