r"""The one statement of a Net-Trim layer problem that every solver and experiment uses.

A layer maps inputs :math:`X \in \mathbb{R}^{N\times P}` (samples in columns) to outputs
:math:`Y \in \mathbb{R}^{M\times P}`. With :math:`\Omega = \{(m,p): Y_{mp} > 0\}` the active set,
the **ReLU program** is

.. math::

    \min_U \|U\|_1 \quad\text{s.t.}\quad \|(U^\top X - Y)_\Omega\|_F \le \varepsilon,
    \qquad (U^\top X)_{\Omega^c} \le V_{\Omega^c},

and the **linear program** (no activation) is :math:`\min \|U\|_1` s.t.
:math:`\|U^\top X - Y\|_F \le \varepsilon`. Writing :math:`C` for the set the constraints put
:math:`Z = U^\top X` in, the dual (Lagrange multiplier :math:`\Lambda \in \mathbb{R}^{M\times P}`
of :math:`Z = U^\top X`) is

.. math::

    \max_\Lambda\; -\langle \Lambda_\Omega, Y_\Omega\rangle - \varepsilon\|\Lambda_\Omega\|_F
    - \langle \Lambda_{\Omega^c}, V_{\Omega^c}\rangle
    \quad\text{s.t.}\quad \|X\Lambda^\top\|_{\max} \le 1,\; \Lambda_{\Omega^c} \ge 0,

(for the linear layer :math:`\Omega` is every entry). Every dual-feasible :math:`\Lambda` gives a lower
bound on :math:`\|U\|_1` for every feasible :math:`U`, hence a solver-independent optimality gap.

**Weighted ℓ1** (reweighted ℓ1, Candès, Wakin & Boyd 2008): with positive weights :math:`w_{ij}` the
objective is :math:`\sum_{ij} w_{ij}|u_{ij}|`, the constraints are unchanged, and the dual constraint
becomes :math:`|(X\Lambda^\top)_{ij}| \le w_{ij}` entrywise.

**Infeasibility certificate.** For every feasible U and every Λ with :math:`\Lambda_{\Omega^c} \ge 0`,

.. math::

    d(\Lambda) \le -\langle \Lambda, U^\top X\rangle = -\langle X\Lambda^\top, U\rangle
    \le \max_{ij} \frac{|(X\Lambda^\top)_{ij}|}{w_{ij}} \sum_{ij} w_{ij}|u_{ij}| ,

so a Λ with :math:`X\Lambda^\top = 0`, :math:`\Lambda_{\Omega^c} \ge 0` and :math:`d(\Lambda) > 0` proves that
no U is feasible (a ray of the dual: :math:`d(t\Lambda) \to \infty`). Numerically,
:meth:`LayerProblem.check_certificate` accepts a Λ whose scale-free dual residual is tiny and whose
scale-free dual value is clearly positive, and reports the lower bound
:math:`d(\Lambda)/\max_{ij}|(X\Lambda^\top)_{ij}|/w_{ij}` it proves on the objective of any feasible U.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from ._validation import SCALE_RANGE, as_float_matrix, check_scalar, check_scale, detached

__all__ = ["LayerProblem", "layer_problem", "ACTIVATIONS", "Certificate", "CERTIFICATE_TOL", "refine_ray",
           "row_space_basis", "null_space_basis", "project_to_rays", "EXACT_RAY_MAX_P"]

ACTIVATIONS = ("relu", "linear")

#: Default tolerance of :meth:`LayerProblem.check_certificate`: the scale-free dual residual must be at
#: most this times the scale-free dual value, i.e. the certificate proves that every feasible U would need
#: ‖U‖₁ ≥ 1e6 · ‖Y‖_F / max_i ‖x_i‖₂ — a million times the objective of a U that fits Y at all
#: (OSQP's default infeasibility tolerance, 1e-5 relative, is of the same order; Stellato et al. 2020).
CERTIFICATE_TOL = 1e-6

# The scale-free dual value must also exceed this: ~1e7 times double round-off, so that a ray of a program
# that is feasible on the boundary (d = 0 exactly) cannot pass on round-off alone.
_CERTIFICATE_VALUE_FLOOR = 1e-9

#: An inequality of Ωᶜ counts as slack for :meth:`LayerProblem.complementary_dual` when the response is
#: below its bound by more than this times max|Y|: 10× the polish's round-off margin (fast/_polish.py
#: ``_ROUND_OFF`` = 1e-10), far above double round-off, far below any bound that binds.
SLACK_TOL = 1e-9

#: Alternating projections per refinement of a candidate ray (:func:`refine_ray`): measured on the
#: infeasible layers of tests/test_fast_certified.py, 20 rounds cut the ratio r/v of the candidates that
#: certify by 10–200×.
RAY_ROUNDS = 20


def _ranked_qr(X: np.ndarray, full: bool) -> tuple[np.ndarray, int]:
    """Q of a pivoted QR of Xᵀ (P×N, or P×P when ``full``) and the rank r of X from the diagonal of R at the
    round-off level of the largest pivot."""
    from scipy.linalg import qr

    Q, R, _ = qr(X.T, mode="full" if full else "economic", pivoting=True, check_finite=False)
    d = np.abs(np.diag(R))
    return Q, int(np.count_nonzero(d > d[0] * max(X.shape) * np.finfo(float).eps)) if d.size else 0


def row_space_basis(X: np.ndarray) -> np.ndarray:
    """Orthonormal basis Q (P×r) of the row space of X (N×P)."""
    Q, r = _ranked_qr(X, full=False)
    return np.ascontiguousarray(Q[:, :r])


#: Largest P for which a candidate ray is projected exactly onto the cone of rays (:func:`project_to_rays`:
#: a full QR of Xᵀ, P×P, and one NNLS of at most P×|Ωᶜ_m| per neuron); above it, :func:`refine_ray`'s
#: alternating projections. Measured: a 9×17 ReLU program at ε = 0 with a signed V took 19,150 iterations to
#: certify its infeasibility with 20 alternating projections per check (1,472 refinements, the candidates'
#: r/v stuck near 3e-5); the exact projection of the candidate at the first refinement already checks.
EXACT_RAY_MAX_P = 300


def null_space_basis(X: np.ndarray) -> np.ndarray:
    """Orthonormal basis (P×(P − r)) of the null space of X (N×P): the trailing columns of a full pivoted QR
    of Xᵀ, with the rank r of :func:`row_space_basis`."""
    Q, r = _ranked_qr(X, full=True)
    return np.ascontiguousarray(Q[:, r:])


def project_to_rays(L: np.ndarray, Z: np.ndarray, inactive: np.ndarray | None) -> np.ndarray:
    r"""The nearest point (Frobenius) to L (M×P) of the cone :math:`\{X\Lambda^\top = 0,\ \Lambda_{\Omega^c}
    \ge 0\}`, row by row and exactly.

    With Z (P×k) an orthonormal basis of the null space of X (:func:`null_space_basis`), a row is
    :math:`\lambda = Zz`, and its projection solves :math:`\min_z \|z - z_0\|^2` s.t. :math:`A z \ge 0`
    (:math:`z_0 = Z^\top l`, :math:`A = Z_{S}` the rows of Ωᶜ_m). Its KKT conditions,
    :math:`z = z_0 + A^\top\mu`, :math:`\mu \ge 0 \perp A z \ge 0`, are those of the non-negative least
    squares :math:`\min_{\mu\ge 0}\|A^\top\mu + z_0\|` (scipy's active-set NNLS, finite). Only proposes,
    as :func:`refine_ray`."""
    from scipy.optimize import nnls

    L = np.asarray(L, dtype=float)
    out = np.empty_like(L)
    for m in range(L.shape[0]):
        z = Z.T @ L[m]
        S = inactive[m] if inactive is not None else None
        if S is not None and S.any() and Z.shape[1]:
            At = np.ascontiguousarray(Z[S].T)
            mu = nnls(At, -z, maxiter=50 * max(At.shape[1], 1))[0]
            z = z + At @ mu
        out[m] = Z @ z
    if inactive is not None:
        np.maximum(out, 0.0, out=out, where=inactive)      # round-off below 0 on Ωᶜ
    return out


def refine_ray(L: np.ndarray, Q: np.ndarray, inactive: np.ndarray | None, rounds: int = RAY_ROUNDS) -> np.ndarray:
    r"""Alternating projections of a candidate ray L (M×P) between the null space of X
    (:math:`X L^\top = 0`: :math:`L \leftarrow L - (LQ)Q^\top` with Q from :func:`row_space_basis`) and the sign
    cone (:math:`L_{\Omega^c} \ge 0`, ``inactive`` the mask of Ωᶜ or None), ending on the cone (von Neumann's
    alternating projections; the intersection of the two is the cone of rays). Only proposes: a candidate
    counts once :meth:`LayerProblem.check_certificate` accepts it."""
    L = np.array(L, dtype=float)
    for _ in range(rounds):
        L -= (L @ Q) @ Q.T
        if inactive is None or not inactive.any():
            break
        np.maximum(L, 0.0, out=L, where=inactive)
    return L


@dataclass(frozen=True)
class Certificate:
    r"""The check of a candidate infeasibility certificate Λ (see :meth:`LayerProblem.check_certificate`).

    Attributes
    ----------
    valid : bool
        Λ proves the program infeasible (within the tolerances).
    dual_residual : float
        :math:`\|X\Lambda^\top\|_{\max} / (\max_i\|x_i\|_2\,\|\Lambda\|_F)` (weighted: entry ij divided by
        :math:`w_{ij}/\min w`), in [0, 1]; 0 for an exact ray.
    dual_value : float
        :math:`d(\Lambda) / (\|Y\|_F\|\Lambda\|_F)`; must be > 0.
    sign_violation : float
        :math:`\max(-\Lambda_{\Omega^c})_+ / \|\Lambda\|_F`; must be 0.
    lower_bound : float
        The bound :math:`d(\Lambda) / \max_{ij}(|X\Lambda^\top|_{ij}/w_{ij})` that Λ proves on the
        objective of every feasible U (``inf`` for an exact ray; meaningless when ``dual_value`` ≤ 0).
    """

    valid: bool
    dual_residual: float
    dual_value: float
    sign_violation: float
    lower_bound: float


@dataclass(frozen=True, eq=False)
class LayerProblem:
    """A validated Net-Trim layer problem. Build it with :func:`layer_problem`.

    Attributes
    ----------
    X : ndarray, shape (N, P)
        Layer input, samples in columns (append a row of ones for a bias).
    Y : ndarray, shape (M, P)
        Layer output to reproduce.
    epsilon : float
        Absolute tolerance :math:`\\varepsilon \\ge 0` on :math:`\\|(U^\\top X - Y)_\\Omega\\|_F`.
    activation : {"relu", "linear"}
    V : ndarray, shape (M, P)
        Threshold on the inactive set (zeros unless given; unused for "linear").
    ball : ndarray of bool, shape (M, P)
        Entries under the Frobenius ball: :math:`\\Omega` for "relu", every entry for "linear".
    weights : ndarray, shape (N, M), or None
        Positive ℓ1 weights :math:`w_{ij}` of the objective :math:`\\sum w_{ij}|u_{ij}|`; None for the
        plain :math:`\\|U\\|_1` (all weights 1).

    Examples
    --------
    One neuron, two inputs, three samples; the original weights are feasible, half of them is not:

    >>> import numpy as np, nettrim
    >>> X = np.array([[1.0, -1.0, 0.5], [0.0, 1.0, 1.0]]); W = np.array([[1.0], [0.5]])
    >>> prob = nettrim.layer_problem(X, np.maximum(W.T @ X, 0), 0.1)
    >>> prob.active                            # Ω = {Y > 0}
    array([[ True, False,  True]])
    >>> prob.violation(W), prob.objective(W)
    (0.0, 1.5)
    >>> round(prob.violation(W / 2), 4)        # (‖(UᵀX − Y)_Ω‖_F − ε)₊ / ‖Y‖_F = (√½ − 0.1)/√2
    0.4293
    """

    X: np.ndarray
    Y: np.ndarray
    epsilon: float
    activation: str
    V: np.ndarray
    ball: np.ndarray = field(repr=False)
    weights: np.ndarray | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ sizes and scales
    @property
    def N(self) -> int:
        return self.X.shape[0]

    @property
    def M(self) -> int:
        return self.Y.shape[0]

    @property
    def P(self) -> int:
        return self.X.shape[1]

    @property
    def active(self) -> np.ndarray:
        """Entries under the Frobenius ball (boolean M×P): :math:`\\Omega = \\{Y > 0\\}` for a ReLU layer,
        every entry for a linear one. The same mask as :attr:`ball`; :attr:`inactive` is its complement."""
        return self.ball

    @property
    def inactive(self) -> np.ndarray:
        """Entries held by the inequality :math:`(U^\\top X)_{\\Omega^c} \\le V_{\\Omega^c}`: the complement
        of :attr:`active` (empty for a linear layer)."""
        return ~self.ball

    @property
    def y_norm(self) -> float:
        """:math:`\\|Y\\|_F`, the scale of the relative violation (1 when Y = 0)."""
        n = float(np.linalg.norm(self.Y))
        return n if n > 0 else 1.0

    @property
    def y_max(self) -> float:
        """:math:`\\max|Y|`, the scale of the inactive-set excess (1 when Y = 0)."""
        m = float(np.max(np.abs(self.Y)))
        return m if m > 0 else 1.0

    # ------------------------------------------------------------------ primal quantities
    def check_weights(self, U: ArrayLike, name: str = "U") -> np.ndarray:
        """Validate a candidate weight matrix of shape (N, M)."""
        return as_float_matrix(U, name, shape=(self.N, self.M))

    def _operand(self, value: ArrayLike, name: str, rows: str) -> np.ndarray:
        """``value`` as an array of shape (N, M) (``rows="U"``) or (M, P) (``rows="Z"``): real dtype and shape
        checked, naming ``name``; not copied, not cast, NaN passes (it shows as a NaN result)."""
        arr = np.asarray(detached(value))
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        shape = (self.N, self.M) if rows == "U" else (self.M, self.P)
        if arr.shape != shape:
            what = "(N, M) = (inputs, outputs)" if rows == "U" else "(M, P) = (outputs, samples)"
            raise ValueError(f"{name} must have shape {what} = {shape}, got {arr.shape}")
        return arr

    def objective(self, U: ArrayLike) -> float:
        """:math:`\\|U\\|_1`, the entrywise ℓ1 norm, or :math:`\\sum_{ij} w_{ij}|u_{ij}|` with weights."""
        U = self._operand(U, "U", "U")
        if self.weights is None:
            return float(np.abs(U).sum())
        return float(np.sum(self.weights * np.abs(U)))

    def residuals(self, U: ArrayLike) -> tuple[float, float]:
        """Absolute constraint residuals of ``U``.

        Returns
        -------
        ball_norm : float
            :math:`\\|(U^\\top X - Y)_\\Omega\\|_F` (all entries for "linear").
        inactive_excess : float
            :math:`\\max((U^\\top X - V)_{\\Omega^c})_+` (0 for "linear" or an empty :math:`\\Omega^c`).
        """
        Z = self._operand(U, "U", "U").T @ self.X
        return self.residuals_of_response(Z)

    def residuals_of_response(self, Z: np.ndarray) -> tuple[float, float]:
        """As :meth:`residuals`, from a precomputed response :math:`Z = U^\\top X`."""
        Z = self._operand(Z, "Z", "Z")
        D = Z - self.Y
        ball_norm = float(np.linalg.norm(D[self.ball]))
        inactive = self.inactive
        if inactive.any():
            excess = float(max(np.max(Z[inactive] - self.V[inactive]), 0.0))
        else:
            excess = 0.0
        return ball_norm, excess

    def violation(self, U: ArrayLike) -> float:
        """Relative constraint excess of ``U`` (0 when feasible).

        .. math::

            \\mathrm{viol}(U) = \\max\\Big(\\frac{(\\|(U^\\top X - Y)_\\Omega\\|_F - \\varepsilon)_+}{\\|Y\\|_F},
            \\frac{\\max((U^\\top X - V)_{\\Omega^c})_+}{\\max|Y|}\\Big)

        with only the first term for the linear layer.
        """
        return self.violation_of_response(self._operand(U, "U", "U").T @ self.X)

    def violation_of_response(self, Z: np.ndarray) -> float:
        """As :meth:`violation`, from a precomputed response :math:`Z = U^\\top X`."""
        ball_norm, excess = self.residuals_of_response(Z)
        return max(max(ball_norm - self.epsilon, 0.0) / self.y_norm, excess / self.y_max)

    # ------------------------------------------------------------------ dual quantities
    def dual_objective(self, Lam: ArrayLike) -> float:
        """Dual objective :math:`-\\langle\\Lambda_\\Omega,Y_\\Omega\\rangle - \\varepsilon\\|\\Lambda_\\Omega\\|_F
        - \\langle\\Lambda_{\\Omega^c},V_{\\Omega^c}\\rangle` (meaningful only for a dual-feasible Λ)."""
        Lam = self._operand(Lam, "Lam", "Z").astype(float, copy=False)
        b = self.ball
        lb = Lam[b]
        value = -float(lb @ self.Y[b]) - self.epsilon * float(np.linalg.norm(lb))
        inactive = self.inactive
        if inactive.any():
            value -= float(Lam[inactive] @ self.V[inactive])
        return value

    def dual_scale(self, Lam: ArrayLike) -> float:
        """:math:`\\max_{ij} |(X\\Lambda^\\top)_{ij}| / w_{ij}` (:math:`\\|X\\Lambda^\\top\\|_{\\max}` without weights):
        Λ meets the dual's norm constraint iff this is ≤ 1."""
        G = np.abs(self.X @ self._operand(Lam, "Lam", "Z").astype(float, copy=False).T)
        if self.weights is not None:
            G /= self.weights
        return float(np.max(G)) if G.size else 0.0

    def dual_infeasibility(self, Lam: ArrayLike) -> float:
        """How far Λ is from dual feasibility: :math:`\\max(\\text{dual\\_scale} - 1, \\max(-\\Lambda_{\\Omega^c})_+)`
        (0 for a dual-feasible Λ)."""
        Lam = self._operand(Lam, "Lam", "Z").astype(float, copy=False)
        inactive = self.inactive
        sign = float(max(-np.min(Lam[inactive]), 0.0)) if inactive.any() else 0.0
        return max(self.dual_scale(Lam) - 1.0, sign, 0.0)

    def project_dual(self, Lam: ArrayLike) -> np.ndarray:
        """Map any Λ (M×P) to a dual-feasible one.

        Clip :math:`\\Lambda_{\\Omega^c}` at 0, then divide by
        :math:`\\max(1, \\max_{ij}|(X\\Lambda^\\top)_{ij}|/w_{ij})` (:meth:`dual_scale`); the scaling
        keeps the sign constraint, so the result satisfies both dual constraints.
        """
        Lam = as_float_matrix(Lam, "Lam", shape=(self.M, self.P)).copy()
        inactive = self.inactive
        Lam[inactive] = np.maximum(Lam[inactive], 0.0)
        scale = self.dual_scale(Lam) if Lam.size else 0.0
        if scale > 1.0:
            Lam /= scale
        return Lam

    def complementary_dual(self, U: ArrayLike, Lam: ArrayLike) -> np.ndarray:
        r"""Λ with its multipliers zeroed on the inequalities that U leaves slack, made dual-feasible.

        At an optimum :math:`\lambda_p (V_p - (U^\top X)_p) = 0` on :math:`\Omega^c` (complementary
        slackness). A solver's Λ carries round-off multipliers on inequalities far from binding, and each
        adds :math:`-\lambda_p V_p` to the dual value: with V in the 1e12s (a bound meant never to bind),
        multipliers of 1e-16 cost a gap of 1e-4 and more. The multipliers where
        :math:`(U^\top X)_p < V_p - 10^{-9}\max|Y|` (:data:`SLACK_TOL`) are set to 0 and the result goes
        through :meth:`project_dual`, so it is dual-feasible whatever Λ was: a second candidate for the
        certificate of U, never worse in validity, better in value where those multipliers were noise.
        """
        L = as_float_matrix(Lam, "Lam", shape=(self.M, self.P)).copy()
        inactive = self.inactive
        if inactive.any():
            Z = self._operand(U, "U", "U").T @ self.X
            L[inactive & (Z < self.V - SLACK_TOL * self.y_max)] = 0.0
        return self.project_dual(L)

    def gap(self, U: ArrayLike, Lam: ArrayLike, *, project: bool = True) -> float:
        """Relative duality gap :math:`(\\|U\\|_1 - d(\\Lambda)) / \\|U\\|_1` (0 when U = 0).

        Λ is first made dual-feasible by :meth:`project_dual` unless ``project=False``. For a feasible U
        the gap is ≥ 0 and bounds its relative suboptimality; a slightly infeasible U can show a
        slightly negative gap, and a gap below −tol proves ‖U‖₁ below the optimum by more than tol·‖U‖₁
        (weak duality; :func:`nettrim.solution.gap_certifies`).
        """
        if not isinstance(project, (bool, np.bool_)):
            raise TypeError(f"project must be a bool, got {type(project).__name__}")
        p = self.objective(U)
        if p == 0.0:
            self._operand(Lam, "Lam", "Z")
            return 0.0
        L = self.project_dual(Lam) if project else self._operand(Lam, "Lam", "Z").astype(float, copy=False)
        return (p - self.dual_objective(L)) / p

    def check_certificate(self, Lam: ArrayLike, *, tol: float = CERTIFICATE_TOL) -> Certificate:
        r"""Check a candidate certificate of infeasibility Λ (M×P), from its definition.

        Λ is normalized to :math:`\|\Lambda\|_F = 1`; with :math:`\bar w = w/\min w` (1 without weights),

        * the sign violation :math:`\max(-\Lambda_{\Omega^c})_+` must be 0 (to round-off, ≤ 1e-12),
        * the dual value :math:`v = d(\Lambda_+)/\|Y\|_F` must be > 0 (beyond round-off),
        * the dual residual :math:`r = \max_{ij}(|X\Lambda_+^\top|_{ij}/\bar w_{ij}) / \max_i\|x_i\|_2` must be
          ≤ ``tol`` · v,

        with :math:`\Lambda_+` the Λ with its Ωᶜ part clipped at 0 and d the dual objective
        (:meth:`dual_objective`). Both ratios are invariant to the units of X and Y. By weak duality (module
        docstring) every feasible U then has :math:`\sum w|u| \ge d(\Lambda_+)/\max_{ij}(|X\Lambda_+^\top|_{ij}/w_{ij})`
        = ``lower_bound``, at least 1/``tol`` times :math:`\|Y\|_F/\max_i\|x_i\|_2\cdot\min w`: an exact ray
        (r = 0) proves infeasibility, a tiny one that no remotely sized U is feasible.

        Parameters
        ----------
        Lam : array_like, shape (M, P)
        tol : float
            Largest ratio r / v (default :data:`CERTIFICATE_TOL`).

        Returns
        -------
        Certificate

        Examples
        --------
        Two samples with the same input must give outputs within ε of each other; Λ = (−1, 1) proves that
        outputs 1 and 0 cannot both be met within ε = 0.1 (XΛᵀ = 0 and d(Λ) = 1 − 0.1·√2 > 0):

        >>> import numpy as np, nettrim
        >>> prob = nettrim.layer_problem(np.ones((1, 2)), np.array([[1.0, 0.0]]), 0.1, activation="linear")
        >>> cert = prob.check_certificate(np.array([[-1.0, 1.0]]))
        >>> cert.valid, cert.dual_residual, cert.lower_bound
        (True, 0.0, inf)
        """
        tol = check_scalar(tol, "tol", low=0.0)
        Lam = as_float_matrix(Lam, "Lam", shape=(self.M, self.P))
        top = float(np.max(np.abs(Lam))) if Lam.size else 0.0
        if top == 0.0:
            return Certificate(False, float("nan"), 0.0, 0.0, 0.0)
        L = Lam / top                 # first by max|Λ|: the Frobenius norm of a Λ near 1e±160 leaves the doubles
        L /= np.linalg.norm(L)
        inactive = self.inactive
        sign = float(max(-np.min(L[inactive]), 0.0)) if inactive.any() else 0.0
        L[inactive] = np.maximum(L[inactive], 0.0)
        x_max = float(np.sqrt(np.max(np.einsum("ij,ij->i", self.X, self.X))))
        w_min = 1.0 if self.weights is None else float(np.min(self.weights))
        scale = self.dual_scale(L)                            # max |XΛᵀ|/w
        residual = scale * w_min / x_max if x_max > 0 else 0.0
        value = self.dual_objective(L)
        rel_value = value / self.y_norm
        lower = value / scale if scale > 0 else (float("inf") if value > 0 else 0.0)
        valid = bool(sign <= 1e-12 and rel_value > _CERTIFICATE_VALUE_FLOOR and residual <= tol * rel_value)
        return Certificate(valid, residual, rel_value, sign, lower)

    def refine_certificate(self, Lam: ArrayLike, *, rounds: int = RAY_ROUNDS) -> tuple[np.ndarray, Certificate]:
        """A candidate ray cleaned up by :func:`refine_ray` on this program's X and Ωᶜ, and its check.

        An interior-point solver's ray of an infeasible program can miss :data:`CERTIFICATE_TOL` by a few
        times (its residual is at the solver's tolerance). Up to P = :data:`EXACT_RAY_MAX_P` samples Λ is
        projected exactly onto the cone of rays (:func:`project_to_rays`), above it the alternating
        projections of :func:`refine_ray` remove the part outside the null space of X while keeping the
        sign constraint (``rounds`` of them). Returns (Λ', its
        :class:`Certificate`); the caller keeps whichever of Λ and Λ' checks.
        """
        L = as_float_matrix(Lam, "Lam", shape=(self.M, self.P))
        inactive = self.inactive if self.activation == "relu" else None
        rounds = check_scalar(rounds, "rounds", low=1, integer=True)
        if self.P <= EXACT_RAY_MAX_P:
            L = project_to_rays(L, null_space_basis(self.X), inactive)
        else:
            L = refine_ray(L, row_space_basis(self.X), inactive, rounds)
        return L, self.check_certificate(L)

    def relu_error(self, U: ArrayLike) -> float:
        """:math:`\\|\\sigma(U^\\top X) - Y\\|_F` with σ the layer's activation (Proposition 1 bounds it by ε)."""
        Z = self._operand(U, "U", "U").T @ self.X
        if self.activation == "relu":
            Z = np.maximum(Z, 0.0)
        return float(np.linalg.norm(Z - self.Y))


def layer_problem(X: ArrayLike, Y: ArrayLike, epsilon: float, *, activation: str = "relu", V: ArrayLike | None = None,
                  weights: ArrayLike | None = None) -> LayerProblem:
    """Validate the data of one layer and return a :class:`LayerProblem`.

    Parameters
    ----------
    X : array_like, shape (N, P)
        Layer input with samples in **columns**; append a row of ones to model a bias.
    Y : array_like, shape (M, P)
        Layer output; must be ≥ 0 for ``activation="relu"`` (it is a ReLU response).
    epsilon : float
        Absolute tolerance ε ≥ 0 (relative use: ``epsilon = gain * norm(Y)``).
    activation : {"relu", "linear"}
    V : array_like, shape (M, P), optional
        Upper bound of :math:`U^\\top X` on the inactive set (relu only); default 0.
    weights : array_like, shape (N, M), optional
        Positive, finite ℓ1 weights: the objective becomes :math:`\\sum_{ij} w_{ij}|u_{ij}|`. None (the
        default) is the plain :math:`\\|U\\|_1`.

    Raises
    ------
    TypeError
        Non-numeric arrays, non-real ε, non-string activation.
    ValueError
        Non-2-D, empty or non-finite arrays, mismatched P, negative ε, negative Y for relu,
        V with the wrong shape or given for a linear layer, an unknown activation, weights of the
        wrong shape or not > 0 or spanning more than 1e100 (max/min); magnitudes outside
        :data:`~nettrim._validation.SCALE_RANGE` (1e-100 to 1e100, where norms and duality gaps stay inside
        double precision).

    Examples
    --------
    >>> import numpy as np, nettrim
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((5, 20)); W = rng.standard_normal((5, 3))
    >>> Y = np.maximum(W.T @ X, 0)
    >>> prob = nettrim.layer_problem(X, Y, 0.05 * np.linalg.norm(Y))      # relative ε made absolute
    >>> prob.N, prob.M, prob.P, prob.violation(W)
    (5, 3, 20, 0.0)
    >>> nettrim.layer_problem(X, -Y - 1, 0.1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Y must be >= 0 for a ReLU layer (it is a ReLU response); its smallest entry is ...
    """
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a string, one of {ACTIVATIONS}, got {type(activation).__name__}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    X = as_float_matrix(X, "X")
    Y = as_float_matrix(Y, "Y")
    if Y.shape[1] != X.shape[1]:
        raise ValueError(f"X and Y must have the same number of samples (columns): X has {X.shape[1]}, "
                         f"Y has {Y.shape[1]}; samples are columns, X is N×P and Y is M×P")
    epsilon = check_scalar(epsilon, "epsilon", low=0.0)
    check_scale(X, "X")
    check_scale(Y, "Y")
    check_scale(epsilon, "epsilon", small=False)
    if 0.0 < epsilon < SCALE_RANGE[0]:
        # not a units problem: a program this close to ε = 0 is the ε = 0 program to double precision
        raise ValueError(f"epsilon = {epsilon:.3g} is positive but below {SCALE_RANGE[0]:g}; pass epsilon=0 for the "
                         "exact-fit program (its answer is feasible for any epsilon >= 0)")
    if activation == "relu":
        if np.any(Y < 0):
            raise ValueError("Y must be >= 0 for a ReLU layer (it is a ReLU response); "
                             f"its smallest entry is {Y.min():g}. Use activation='linear' for signed outputs")
        if V is None:
            V = np.zeros_like(Y)
        else:
            V = as_float_matrix(V, "V", shape=Y.shape)
            check_scale(V, "V", small=False)
    else:
        if V is not None:
            raise ValueError("V applies to the inactive set of a ReLU layer; it must be None for activation='linear'")
        V = np.zeros_like(Y)
    if weights is not None:
        weights = as_float_matrix(weights, "weights", shape=(X.shape[0], Y.shape[0]))
        if np.any(weights <= 0):
            raise ValueError("weights must be > 0 (a zero weight leaves an entry unpenalized and the dual "
                             f"certificate undefined); the smallest is {weights.min():g}")
        check_scale(weights, "weights")
        check_scale(1.0 / weights, "1/weights")
        spread = float(weights.max() / weights.min())
        if spread > SCALE_RANGE[1]:
            # the solvers divide the weights by their largest (the same program): the smallest must stay in range
            raise ValueError(f"weights span {spread:.3g} (max/min), beyond the supported {SCALE_RANGE[1]:g}: the "
                             "solvers divide them by their largest, which would leave the smallest out of range")
        weights = _readonly_view(weights)
    ball = (Y > 0) if activation == "relu" else np.ones(Y.shape, dtype=bool)
    X, Y, V, ball = (_readonly_view(a) for a in (X, Y, V, ball))
    return LayerProblem(X=X, Y=Y, epsilon=epsilon, activation=activation, V=V, ball=ball, weights=weights)


def _readonly_view(arr: np.ndarray) -> np.ndarray:
    # A read-only *view*: the problem cannot be mutated, and the caller's array keeps its flags.
    view = arr.view()
    view.setflags(write=False)
    return view
