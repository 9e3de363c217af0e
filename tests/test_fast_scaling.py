r"""Diagonal preconditioning as an exact change of variables: the row-equilibrated program is the same program.

Scaling the inputs, :math:`X' = D^{-1}X` with :math:`D = \mathrm{diag}(\|X_i\|)`, and the weights,
:math:`U' = DU`, leaves every response :math:`U'^\top X' = U^\top X` (so the constraint set and Λ) unchanged
and turns :math:`\|U\|_1` into the weighted norm :math:`\sum_{ij} |U'_{ij}|/d_i`. ``fast.solve`` on the
weighted program (``weights``) must therefore return, mapped back, the optimum of the plain one: same
objective, feasible for the original program, and its Λ a certificate for it. (The solver keeps no built-in
preconditioner: row equilibration changed the iteration counts of the trained-layer benchmark both ways.)
"""

from __future__ import annotations

import numpy as np
import pytest

from nettrim import fast, layer_problem
from nettrim.experiments.layers import random_layer

TIGHT = dict(eps_violation=1e-10, eps_gap=1e-10)


def _spread_layer(seed, activation):
    """A seeded layer whose input rows have norms spread over four decades (Y = σ(W0ᵀX), ε = 5 % of ‖Y‖)."""
    d = random_layer(30, 4, 120, activation=activation, sparse=6, seed=seed)
    rng = np.random.default_rng(seed)
    X = d.X * 10.0 ** rng.uniform(-2, 2, size=(d.X.shape[0], 1))
    Z = d.W0.T @ X
    Y = np.maximum(Z, 0) if activation == "relu" else Z
    return X, Y, 0.05 * float(np.linalg.norm(Y))


@pytest.mark.parametrize("activation", ["relu", "linear"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_row_equilibrated_program_has_the_same_optimum(seed, activation):
    X, Y, eps = _spread_layer(seed, activation)
    prob = layer_problem(X, Y, eps, activation=activation)
    d = np.linalg.norm(X, axis=1)
    plain = fast.solve(X, Y, eps, activation=activation, **TIGHT)
    scaled = fast.solve(X / d[:, None], Y, eps, activation=activation,
                        weights=np.repeat(1.0 / d[:, None], Y.shape[0], axis=1), **TIGHT)
    assert plain.status == scaled.status == "optimal"
    U = scaled.W / d[:, None]                       # U = D⁻¹U'
    assert prob.violation(U) <= 1e-9
    assert abs(prob.objective(U) - plain.objective) <= 1e-6 * plain.objective
    # Λ is the same multiplier in both variables: it certifies the mapped-back weights for the plain program
    assert prob.gap(U, scaled.dual) <= 1e-6
