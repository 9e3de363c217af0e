r"""Unit normalization of a layer program: what the back-ends see, and how their answers map back.

Conic and simplex solvers stop on *absolute* tolerances (~1e-8), so a program whose data are of order
1e-6 or 1e6 is solved to no relative accuracy, or declared infeasible. With

.. math::

    a = \max_{ij}|X_{ij}|, \qquad b = \|Y\|_F/\sqrt{MP} \ \text{(the RMS of Y)},

the program is stated on :math:`X' = X/a`, :math:`Y' = Y/b`, :math:`V' = V/b`, :math:`\varepsilon' = \varepsilon/b`
(every input entry at most 1, outputs of RMS 1). Since :math:`U^\top X = b\,(aU/b)^\top X'`,
:math:`U' = (a/b)\,U` is feasible for the normalized program iff U is feasible for the original one, and
:math:`\sum w_{ij}|u'_{ij}| = (a/b)\sum w_{ij}|u_{ij}|` (ℓ1 weights are scale-free): the two programs have
the same solutions up to the factor a/b, so the answer is mapped back as :math:`U = (b/a)\,U'`.

The dual maps back too. A Λ' feasible for the normalized dual (:math:`|X'\Lambda'^\top| \le w`) gives
:math:`\Lambda = \Lambda'/a` with :math:`X\Lambda^\top = X'\Lambda'^\top`, hence feasible, and
:math:`d(\Lambda) = (b/a)\,d'(\Lambda')`: primal and dual objectives scale by the same b/a, so the relative
duality gap is unit-free. An infeasibility ray keeps its direction (:math:`X'\Lambda^\top = 0 \iff
X\Lambda^\top = 0`, :math:`d' = d/b`).

ℓ1 weights are divided by their largest, :math:`c = \max w` (:math:`w' = w/c`, a constant factor of the
objective: the same minimizers), so that the objective is of the size the tolerances expect whatever the
weights' units; a Λ' feasible for :math:`|X'\Lambda'^\top| \le w'` maps back as :math:`\Lambda = c\Lambda'/a`
(before this, CLARABEL reported "optimal_inaccurate" for weights all 1e-4 and failed for 1e10 on a seeded
6×40 layer, measured with a script outside the repository).

Both scales are the data's own: multiplying X by :math:`10^k` and Y by :math:`10^j` leaves X', Y' equal up to
one rounding per entry, so the back-end solves the same program whatever the units.

**Huge V.** In normalized units :math:`|(U'^\top X')_{mp}| \le \|u'_m\|_1`, so an inactive-set bound
:math:`V'_{mp} \ge` :data:`V_DROP` can bind only for a neuron with :math:`\|u'_m\|_1 \ge` :data:`V_DROP`.
Such bounds (1e12 in the wrong units makes every back-end fail) are left out of the statement; the
caller re-checks the answer against them (the violation is recomputed on the full program) and states them
after all if one is violated. A bound left out has multiplier 0, which is dual feasible, so the gap stays
a certificate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nettrim.problem import LayerProblem, layer_problem

__all__ = ["V_DROP", "Normalized", "normalize"]

#: Inactive-set bounds at or above this (normalized units: max|X'| = 1, RMS(Y') = 1) are left out of the
#: statement. A normalized answer has ‖u'_m‖₁ of order 1 to N (it reproduces outputs of RMS 1 from inputs at
#: most 1), far below 1e6; interior-point solvers keep ~8 significant digits, so bounds 1e6 times the data's
#: size are where they start to lose the rest of the program in round-off.
V_DROP = 1e6


@dataclass(frozen=True)
class Normalized:
    """A program in normalized units and the map back to the caller's units.

    Attributes
    ----------
    prob : LayerProblem
        The normalized program (X' = X/a, Y' = Y/b, V' = V/b, ε' = ε/b; same weights and activation).
    scale_x, scale_y : float
        a and b of the module docstring.
    stated : ndarray of bool, shape (M, P)
        The inactive-set bounds the back-end is given: ``prob.inactive`` less the huge ones.
    scale_w : float
        c: the normalized program's ℓ1 weights are the caller's divided by it (1 without weights).
    """

    prob: LayerProblem
    scale_x: float
    scale_y: float
    stated: np.ndarray
    scale_w: float = 1.0

    @property
    def weight_scale(self) -> float:
        """b/a: a normalized weight of 1 is this in the caller's units."""
        return self.scale_y / self.scale_x

    @property
    def dropped(self) -> int:
        """Number of inactive-set bounds left out of the statement."""
        return int(np.count_nonzero(self.prob.inactive & ~self.stated))

    def state_all(self) -> Normalized:
        """The same program with every inactive-set bound stated."""
        return Normalized(self.prob, self.scale_x, self.scale_y, self.prob.inactive.copy(), self.scale_w)

    def weights_back(self, W: np.ndarray) -> np.ndarray:
        """U = (b/a) U'."""
        return np.asarray(W, dtype=float) * self.weight_scale

    def dual_back(self, Lam: np.ndarray) -> np.ndarray:
        """Λ = cΛ'/a (a multiplier or an infeasibility ray)."""
        return np.asarray(Lam, dtype=float) * (self.scale_w / self.scale_x)


def normalize(prob: LayerProblem) -> Normalized:
    """State ``prob`` in normalized units (module docstring).

    A zero X or Y has scale 1 (nothing to normalize); a Y that is all zero takes the RMS of V on the
    inactive set instead, so that V still ends up of order 1.
    """
    a = float(np.max(np.abs(prob.X))) or 1.0
    b = float(np.linalg.norm(prob.Y) / np.sqrt(prob.Y.size))
    if b == 0.0 and prob.inactive.any():
        b = float(np.linalg.norm(prob.V[prob.inactive]) / np.sqrt(np.count_nonzero(prob.inactive)))
    b = b or 1.0
    V = prob.V / b if prob.activation == "relu" else None
    c = 1.0 if prob.weights is None else float(np.max(prob.weights))
    weights = None if prob.weights is None else prob.weights / c
    scaled = layer_problem(prob.X / a, prob.Y / b, prob.epsilon / b, activation=prob.activation, V=V,
                           weights=weights)
    if not np.array_equal(scaled.ball, prob.ball):  # an output so small that Y/b underflowed to 0
        unit = layer_problem(prob.X, prob.Y, prob.epsilon, activation=prob.activation,
                             V=prob.V if prob.activation == "relu" else None, weights=weights)
        return Normalized(unit, 1.0, 1.0, prob.inactive & (prob.V < V_DROP), c)
    stated = scaled.inactive & (scaled.V < V_DROP)
    return Normalized(scaled, a, b, stated, c)
