r"""The W¹-step of the Net-Trim ADMM: Euclidean projection onto the constraint set C, in place.

.. math::

    C = \{Z : \|Z_\Omega - Y_\Omega\|_F \le \varepsilon,\ Z_{\Omega^c} \le V_{\Omega^c}\}.

The set is a product of a Frobenius ball (on Ω) and a box (on Ωᶜ), so the projection is the radial
projection :math:`Y + \varepsilon D/\max(\|D\|_F, \varepsilon)`, :math:`D = Z_\Omega - Y_\Omega`, on Ω and
:math:`\min(Z, V)` on Ωᶜ. Written without fancy indexing (every pass is a contiguous BLAS-1/ufunc pass
over M×P): with :math:`V^\infty = +\infty` on Ω and V on Ωᶜ, :math:`E = (Z - Y)\circ 1_\Omega` and
:math:`s = \min(1, \varepsilon/\|E\|_F)`,

.. math::

    \Pi_C(Z) = \min(Z, V^\infty) - (1 - s)\,E,

because Y = 0 on Ωᶜ for a ReLU layer (Ω = {Y > 0}) and E = 0 there. For a linear layer Ω is everything
and the formula reduces to :math:`Y + s(Z - Y)`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Projector"]


class Projector:
    """In-place projection onto C for fixed (scaled) data Y, V, ε and mask Ω."""

    def __init__(self, Y: np.ndarray, epsilon: float, ball: np.ndarray | None, V: np.ndarray | None):
        self.Y = Y
        self.epsilon = float(epsilon)
        self.linear = ball is None
        if not self.linear:
            self.mask = ball.astype(Y.dtype)                  # 1 on Ω, 0 on Ωᶜ
            self.V_inf = np.where(ball, np.inf, V)            # +inf on Ω, V on Ωᶜ
        self.E = np.empty_like(Y)                             # work buffer, M×P

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        """Overwrite Z (M×P) with :math:`\\Pi_C(Z)` and return it."""
        E = self.E
        np.subtract(Z, self.Y, out=E)
        if not self.linear:
            E *= self.mask
        flat = E.ravel()
        nrm = float(np.sqrt(flat @ flat))
        s = 1.0 if nrm <= self.epsilon else self.epsilon / nrm
        if self.linear:
            if s < 1.0:
                E *= (1.0 - s)
                Z -= E
            return Z
        np.minimum(Z, self.V_inf, out=Z)
        if s < 1.0:
            E *= (1.0 - s)
            Z -= E
        return Z
