r"""Diagonal preconditioning as an exact change of variables: the row-equilibrated program is the same program.

Scaling the inputs, :math:`X' = D^{-1}X` with :math:`D = \mathrm{diag}(\|X_i\|)`, and the weights,
:math:`U' = DU`, leaves every response :math:`U'^\top X' = U^\top X` (so the constraint set and Λ) unchanged
and turns :math:`\|U\|_1` into the weighted norm :math:`\sum_{ij} |U'_{ij}|/d_i`. ``fast.solve`` on the
weighted program (``weights``) must therefore return, mapped back, the optimum of the plain one: same
objective, feasible for the original program, and its Λ a certificate for it. ``fast.solve`` does this
itself with ``scaling=True`` (its default, :math:`d_i = (\|x_i\|/\mathrm{median})^{1/2}`): the preconditioned
and the plain iterations must solve the same program.
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


@pytest.mark.parametrize("activation", ["relu", "linear"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_preconditioned_and_plain_iterations_solve_the_same_program(seed, activation):
    """The built-in row scaling (default) against scaling=False: same objective within 1e-6, both answers
    feasible and certified on the program as given, the scaled one's W the original units' (D⁻¹W')."""
    X, Y, eps = _spread_layer(seed, activation)
    prob = layer_problem(X, Y, eps, activation=activation)
    seen = []
    scaled = fast.solve(X, Y, eps, activation=activation, callback=lambda W: seen.append(W), **TIGHT)
    plain = fast.solve(X, Y, eps, activation=activation, scaling=False, **TIGHT)
    assert scaled.status == plain.status == "optimal"
    d = scaled.info["scaling"]
    assert d is not None and plain.info["scaling"] is None
    assert np.allclose(d, np.sqrt(np.linalg.norm(X, axis=1) / np.median(np.linalg.norm(X, axis=1))))
    assert abs(scaled.objective - plain.objective) <= 1e-6 * plain.objective
    for sol in (scaled, plain):
        assert prob.violation(sol.W) <= 1e-9 and prob.gap(sol.W, sol.dual) <= 1e-6
        assert sol.objective == pytest.approx(prob.objective(sol.W))
    # the callback sees the iterate in the original units (W, not W' = DW, whose rows differ from W's by
    # factors d spread over a decade): the last one is near the (polished) answer
    last = seen[-1]
    assert np.linalg.norm(last - scaled.W) <= 0.1 * np.linalg.norm(scaled.W)
    assert np.linalg.norm(last * d[:, None] - scaled.W) > 0.1 * np.linalg.norm(scaled.W)
    # Γ = ρU² mapped to the original variables (N×M; used by the warm starts below)
    G = scaled.info["dual_l1"]
    assert G.shape == X.shape[:1] + Y.shape[:1] and np.isfinite(G).all()
    # a warm start from either answer, scaled or not, is taken in the original units
    for ws, sc in ((plain, True), (scaled, False)):
        again = fast.solve(X, Y, eps, activation=activation, warm_start=ws, scaling=sc, **TIGHT)
        assert again.status == "optimal" and abs(again.objective - plain.objective) <= 1e-6 * plain.objective


def test_scaling_with_weights_and_zero_inputs_is_the_same_program():
    """User ℓ1 weights (divided by d inside) and inputs that are 0 on every sample (dropped first): the
    weighted optimum, zeros on the dropped rows, the scaling factors of the kept rows only."""
    X, Y, eps = _spread_layer(3, "relu")
    X[[4, 17]] = 0.0
    Y = np.maximum(np.random.default_rng(3).standard_normal((X.shape[0], Y.shape[0])).T @ X, 0.0)
    eps = 0.05 * float(np.linalg.norm(Y))
    w = np.random.default_rng(4).uniform(0.5, 2.0, (X.shape[0], Y.shape[0]))
    prob = layer_problem(X, Y, eps, weights=w)
    scaled = fast.solve(X, Y, eps, weights=w, **TIGHT)
    plain = fast.solve(X, Y, eps, weights=w, scaling=False, **TIGHT)
    assert scaled.status == plain.status == "optimal" and scaled.info["zero_inputs"] == 2
    assert np.all(scaled.W[[4, 17]] == 0) and np.all(scaled.info["scaling"][[4, 17]] == 0)
    assert abs(scaled.objective - plain.objective) <= 1e-6 * plain.objective
    assert prob.gap(scaled.W, scaled.dual) <= 1e-6


def test_rows_of_equal_norm_are_not_scaled():
    """Gaussian X (row norms within a few per cent): the scaling is skipped, the run is the plain one."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 200))
    Y = np.maximum(rng.standard_normal((30, 4)).T @ X, 0.0)
    eps = 0.05 * float(np.linalg.norm(Y))
    a, b = fast.solve(X, Y, eps), fast.solve(X, Y, eps, scaling=False)
    assert a.info["scaling"] is None and a.iterations == b.iterations and np.array_equal(a.W, b.W)


def test_scaled_infeasible_program_keeps_a_valid_certificate():
    X = np.random.default_rng(0).standard_normal((20, 100)).round()
    X *= np.logspace(-1, 1, 20)[:, None]                 # spread rows: the scaling is on
    Y = np.maximum(np.random.default_rng(1).standard_normal((20, 5)).T @ X, 0.0).round()
    sol = fast.solve(X, Y, 1.0)
    assert sol.status == "infeasible"
    assert layer_problem(X, Y, 1.0).check_certificate(sol.dual).valid


def test_scaling_must_be_a_bool():
    X, Y, eps = _spread_layer(0, "relu")
    with pytest.raises(TypeError, match="^scaling must be a bool"):
        fast.solve(X, Y, eps, scaling="yes")
