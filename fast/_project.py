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

import math

import numpy as np

__all__ = ["Projector"]


class Projector:
    """Projection onto C for fixed (scaled) data Y, V, ε and mask Ω, in the namespace of the iteration.

    Y, V and the mask are host float64 arrays; ``put`` copies them to the iteration's device and dtype
    (the identity for numpy).
    """

    def __init__(self, Y: np.ndarray, epsilon: float, ball: np.ndarray | None, V: np.ndarray | None, put=None):
        put = put or (lambda a: a)
        self.Y = put(Y)
        self.epsilon = float(epsilon)
        self.linear = ball is None
        if not self.linear:
            self.mask = put(ball.astype(Y.dtype))             # 1 on Ω, 0 on Ωᶜ
            self.V_inf = put(np.where(ball, np.inf, V))       # +inf on Ω, V on Ωᶜ

    def __call__(self, Z, xp=np):
        """:math:`\\Pi_C(Z)` for Z (M×P), possibly overwriting Z; returns the projection."""
        E = Z - self.Y
        if not self.linear:
            E *= self.mask
        flat = xp.reshape(E, (-1,))
        nrm = math.sqrt(float(flat @ flat))
        s = 1.0 if nrm <= self.epsilon else self.epsilon / nrm
        if not self.linear:
            Z = xp.minimum(Z, self.V_inf)
        if s < 1.0:
            E *= (1.0 - s)
            Z -= E
        return Z
