r"""Reduction of the linear layer program to P = N (an O(N²M) iteration instead of O(NMP)).

Without a ReLU the program sees X only through its row space. With the thin QR factorization
:math:`X^\top = QR` (:math:`Q \in \mathbb{R}^{P\times N}` orthonormal columns, :math:`R` N×N upper
triangular, possibly singular) and :math:`Y_\perp = Y - YQQ^\top`,

.. math::

    \|U^\top X - Y\|_F^2 = \|U^\top R^\top - YQ\|_F^2 + \|Y_\perp\|_F^2 ,

so the program is the same program for the data :math:`\tilde X = R^\top` (N×N),
:math:`\tilde Y = YQ` (M×N) and :math:`\tilde\varepsilon = \sqrt{\varepsilon^2 - \|Y_\perp\|_F^2}`
(infeasible when that is negative, beyond round-off).

Duals map back as well: for a reduced multiplier :math:`\tilde\Lambda` (M×N),

.. math::

    \Lambda = \tilde\Lambda Q^\top - \frac{\|\tilde\Lambda\|_F}{\tilde\varepsilon}\, Y_\perp

has :math:`X\Lambda^\top = \tilde X\tilde\Lambda^\top` (so it is dual-feasible iff :math:`\tilde\Lambda` is)
and the same dual objective :math:`-\langle\tilde\Lambda,\tilde Y\rangle - \tilde\varepsilon\|\tilde\Lambda\|_F`
(the coefficient of :math:`Y_\perp` maximizes the original dual objective along that direction).

When :math:`\varepsilon < \|Y_\perp\|_F` no U is feasible, and :math:`\Lambda = -Y_\perp` proves it:
:math:`X\Lambda^\top = 0` (the rows of :math:`Y_\perp` are orthogonal to the row space of X) and
:math:`d(\Lambda) = \|Y_\perp\|_F^2 - \varepsilon\|Y_\perp\|_F > 0`, a ray of the dual
(:meth:`LinearReduction.certificate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import qr

__all__ = ["LinearReduction", "reduce_linear"]


@dataclass
class LinearReduction:
    X: np.ndarray          # R^T, N×N
    Y: np.ndarray          # Y Q, M×N
    epsilon: float         # reduced ε (0 when ε² < ‖Y⊥‖², beyond which the program is infeasible)
    Q: np.ndarray          # P×N
    Y_perp: np.ndarray     # Y − YQQᵀ, M×P (computed once: every dual lift needs it)
    y_perp_norm: float     # ‖Y⊥‖_F

    def lift_dual(self, Lam_r: np.ndarray) -> np.ndarray:
        """Map a reduced multiplier (M×N) to one of the original program (M×P)."""
        Lam = Lam_r @ self.Q.T
        if self.y_perp_norm > 0 and self.epsilon > 0:
            Lam -= (np.linalg.norm(Lam_r) / self.epsilon) * self.Y_perp
        return Lam

    def certificate(self) -> np.ndarray:
        """:math:`-Y_\\perp` (M×P): a certificate of infeasibility when ε < ‖Y⊥‖_F (see the module docstring)."""
        return -self.Y_perp

    def reduce_dual(self, Lam: np.ndarray) -> np.ndarray:
        """Map an original multiplier (M×P) to the reduced coordinates (M×N)."""
        return Lam @ self.Q


def reduce_linear(X: np.ndarray, Y: np.ndarray, epsilon: float) -> LinearReduction:
    """Thin QR of Xᵀ and the reduced data (see the module docstring)."""
    Q, R = qr(X.T, mode="economic", check_finite=False)
    Yr = Y @ Q
    # ‖Y⊥‖ from Y⊥ itself: ‖Y‖² − ‖YQ‖² would lose everything below ~1e-8·‖Y‖ to cancellation
    Y_perp = Y - Yr @ Q.T
    Y_perp -= (Y_perp @ Q) @ Q.T    # a second pass ("twice is enough"): Y⊥Q = 0 to round-off of Y⊥, not of Y
    y_perp_norm = float(np.linalg.norm(Y_perp))
    eps_r = float(np.sqrt(max(epsilon ** 2 - y_perp_norm ** 2, 0.0)))
    return LinearReduction(X=np.ascontiguousarray(R.T), Y=Yr, epsilon=eps_r, Q=Q, Y_perp=Y_perp,
                           y_perp_norm=y_perp_norm)
