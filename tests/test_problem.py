"""The shared layer spec: validation, violation, weak duality of the dual objective."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nettrim
from nettrim import layer_problem
from nettrim.experiments.layers import random_layer


def relu_layer(seed=0, N=12, M=4, P=30, bias=False):
    """(X, W, Y) of the shared seeded ReLU layer with N inputs (plus a row of ones with a bias), W ~ N(0, 1)."""
    d = random_layer(N + int(bias), M, P, bias=bias, scale=1.0, seed=seed)
    return d.X, d.W0, d.Y


# ---------------------------------------------------------------- closed forms of the primal quantities

def test_original_weights_are_feasible_for_every_epsilon():
    X, W, Y = relu_layer(bias=True)
    for eps in (0.0, 1e-3, 1.0):
        prob = layer_problem(X, Y, eps)
        assert prob.violation(W) <= 1e-12
        ball, excess = prob.residuals(W)
        assert ball <= 1e-10 and excess == 0.0


def test_violation_of_zero_weights_is_the_relative_output_norm():
    X, W, Y = relu_layer()
    eps = 0.25 * np.linalg.norm(Y)
    prob = layer_problem(X, Y, eps)
    # U = 0: the ball residual is ||Y_Ω|| = ||Y||, the inactive excess is max(0 - 0)_+ = 0
    assert prob.violation(np.zeros_like(W)) == pytest.approx(0.75, rel=1e-12)
    lin = layer_problem(X, W.T @ X, eps, activation="linear")
    expected = (np.linalg.norm(W.T @ X) - eps) / np.linalg.norm(W.T @ X)
    assert lin.violation(np.zeros_like(W)) == pytest.approx(expected, rel=1e-12)


def test_inactive_excess_is_measured_against_max_abs_y():
    X, W, Y = relu_layer()
    prob = layer_problem(X, Y, 0.0)
    # Flip the sign of every weight: the former inactive entries become positive responses.
    Z = (-W).T @ X
    inactive = Y <= 0
    expected_excess = np.max(Z[inactive]) / np.max(Y)
    assert prob.violation(-W) >= expected_excess - 1e-12
    assert prob.residuals(-W)[1] == pytest.approx(np.max(Z[inactive]))


def test_shrunk_weights_are_feasible_with_the_closed_form_relu_error():
    # U = (1 - t) W keeps (UᵀX)_Ωᶜ = (1 - t)(WᵀX)_Ωᶜ <= 0 and has ball residual t·||Y||: feasible iff
    # t·||Y|| <= ε, and then relu(UᵀX) - Y = -t·Y exactly (Proposition 1 holds with equality at t = ε/||Y||).
    X, W, Y = relu_layer(seed=3)
    eps = 0.1 * np.linalg.norm(Y)
    prob = layer_problem(X, Y, eps)
    for t, feasible in ((0.05, True), (0.1, True), (0.2, False)):
        U = (1 - t) * W
        assert (prob.violation(U) <= 1e-12) == feasible
        assert prob.relu_error(U) == pytest.approx(t * np.linalg.norm(Y), rel=1e-10)
    assert prob.violation(0.8 * W) == pytest.approx(0.1, rel=1e-10)


# ---------------------------------------------------------------- weak duality: the certificate is sound

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), gain=st.sampled_from([0.0, 0.01, 0.2]),
       activation=st.sampled_from(["relu", "linear"]), scale=st.floats(1e-3, 1e3))
def test_projected_dual_is_feasible_and_lower_bounds_every_feasible_objective(seed, gain, activation, scale):
    X, W, Y = relu_layer(seed=seed, N=8, M=3, P=20, bias=True)
    if activation == "linear":
        Y = W.T @ X
    prob = layer_problem(X, Y, gain * np.linalg.norm(Y), activation=activation)
    Lam = prob.project_dual(scale * np.random.default_rng(seed).standard_normal(Y.shape))
    assert np.max(np.abs(X @ Lam.T)) <= 1 + 1e-12
    assert np.all(Lam[prob.inactive] >= 0)
    # W is feasible, so d(Λ) <= ||W||_1 (weak duality) and the gap of W is >= 0.
    assert prob.dual_objective(Lam) <= prob.objective(W) * (1 + 1e-12) + 1e-12
    assert prob.gap(W, Lam) >= -1e-12


def test_gap_is_zero_for_zero_weights():
    X, W, Y = relu_layer()
    prob = layer_problem(X, Y, 2 * np.linalg.norm(Y))
    assert prob.gap(np.zeros_like(W), np.ones_like(Y)) == 0.0


# ---------------------------------------------------------------- validation names the argument

GOOD = relu_layer(N=5, M=2, P=7)


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(X=np.full((5, 7), np.nan)), ValueError, "X"),
    (dict(Y=np.full((2, 7), np.inf)), ValueError, "Y"),
    (dict(X=np.ones((5, 6))), ValueError, "samples"),
    (dict(X=np.ones(5)), ValueError, "X must be 2-D"),
    (dict(X=np.ones((0, 7))), ValueError, "X is empty"),
    (dict(Y=np.ones((2, 0)), X=np.ones((5, 0))), ValueError, "empty"),
    (dict(epsilon=-1.0), ValueError, "epsilon"),
    (dict(epsilon=float("nan")), ValueError, "epsilon"),
    (dict(epsilon="0.1"), TypeError, "epsilon"),
    (dict(epsilon=True), TypeError, "epsilon"),
    (dict(Y=-np.ones((2, 7))), ValueError, "Y must be >= 0"),
    (dict(V=np.zeros((3, 7))), ValueError, "V"),
    (dict(V=np.full((2, 7), np.nan)), ValueError, "V"),
    (dict(X=np.ones((5, 7), dtype=complex)), TypeError, "X"),
    (dict(X=np.full((5, 7), "a")), TypeError, "X"),
    (dict(X=[[1, 2], [3]]), ValueError, "X"),
    (dict(activation="tanh"), ValueError, "activation"),
    (dict(activation=None), TypeError, "activation"),
    (dict(activation="linear", V=np.zeros((2, 7))), ValueError, "V"),
    (dict(X=None), TypeError, "X"),
])
def test_bad_input_raises_a_named_error(kwargs, exc, word):
    X, _, Y = GOOD
    args = dict(X=X, Y=Y, epsilon=0.1)
    args.update(kwargs)
    with pytest.raises(exc, match=word):
        layer_problem(args.pop("X"), args.pop("Y"), args.pop("epsilon"), **args)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 4), p=st.integers(1, 9), q=st.integers(1, 9))
def test_any_sample_count_mismatch_is_a_value_error(n, m, p, q):
    X, Y = np.ones((n, p)), np.ones((m, q))
    if p == q:
        assert layer_problem(X, Y, 0.0).P == p
    else:
        with pytest.raises(ValueError, match="samples"):
            layer_problem(X, Y, 0.0)


def test_validation_accepts_integer_arrays_and_keeps_caller_arrays_writable():
    X = np.arange(12).reshape(3, 4).astype(np.float64)
    Y = np.ones((2, 4), dtype=int)
    prob = layer_problem(X, Y, 0)
    assert prob.X.dtype == np.float64 and prob.Y.dtype == np.float64
    assert X.flags.writeable and not prob.X.flags.writeable


def test_check_weights_names_the_argument():
    X, W, Y = GOOD
    prob = layer_problem(X, Y, 0.0)
    with pytest.raises(ValueError, match="warm_start"):
        prob.check_weights(np.ones((4, 2)), "warm_start")


def test_solution_reports_sparsity():
    sol = nettrim.Solution(W=np.array([[0.0, 1.0], [2.0, 0.0]]), status=nettrim.OPTIMAL, objective=3.0,
                           violation=0.0, gap=None, iterations=None, solve_time=0.0, solver="x")
    assert sol.nnz == 2 and sol.density == 0.5 and sol.optimal
    assert "optimal" in sol.summary()


# ---------------------------------------------------------------- weighted ℓ1 and infeasibility certificates

def test_weighted_objective_and_dual_constraint():
    X, W, Y = relu_layer(seed=7, N=6, M=3, P=25)
    w = np.random.default_rng(7).uniform(0.5, 3.0, W.shape)
    prob = layer_problem(X, Y, 0.1 * np.linalg.norm(Y), weights=w)
    assert prob.objective(W) == pytest.approx(np.sum(w * np.abs(W)))
    Lam = prob.project_dual(np.random.default_rng(8).standard_normal(Y.shape))
    # the weighted dual constraint |(XΛᵀ)_ij| <= w_ij holds, and is tight somewhere after the scaling
    G = np.abs(X @ Lam.T)
    assert np.all(G <= w * (1 + 1e-12)) and np.max(G / w) == pytest.approx(1.0)
    assert prob.dual_infeasibility(Lam) <= 1e-12
    # weak duality for the weighted norm: the original W is feasible, so d(Λ) <= Σ w|W|
    assert prob.dual_objective(Lam) <= prob.objective(W) + 1e-9


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_weights_must_be_positive(bad):
    X, W, Y = relu_layer()
    w = np.ones(W.shape)
    w[0, 0] = bad
    with pytest.raises(ValueError, match="weights"):
        layer_problem(X, Y, 0.0, weights=w)
    with pytest.raises(ValueError, match="weights"):
        layer_problem(X, Y, 0.0, weights=np.ones((W.shape[0] + 1, W.shape[1])))


def test_weights_spanning_more_than_the_supported_range_are_named():
    """Each weight within 1e±100 but together spanning more: the solvers divide by the largest (the same
    program), which would take the smallest out of range, so layer_problem refuses them by name."""
    from nettrim import fast, reference

    X, W, Y = relu_layer()
    w = np.ones(W.shape)
    w[0, 0], w[1, 1] = 1e-60, 1e50
    for call in (lambda: layer_problem(X, Y, 0.1, weights=w), lambda: fast.solve(X, Y, 0.1, weights=w),
                 lambda: reference.solve(X, Y, 0.1, weights=w)):
        with pytest.raises(ValueError, match=r"^weights span 1e\+110 \(max/min\)"):
            call()
    w[1, 1] = 1e39                                  # a span of 1e99 is accepted
    assert layer_problem(X, Y, 0.1, weights=w).weights.max() == 1e39


def test_active_and_inactive_are_complements_for_both_activations():
    X, W, Y = relu_layer()
    for act, Yl in (("relu", Y), ("linear", W.T @ X)):
        prob = layer_problem(X, Yl, 0.0, activation=act)
        assert np.array_equal(prob.active, ~prob.inactive)
    assert not layer_problem(X, W.T @ X, 0.0, activation="linear").inactive.any()


def test_certificate_of_a_known_infeasible_program():
    # One neuron, inputs x_p = +1 and x_p = -1 (N = 1): u·1 = 1 on sample 0 (active) and u·(-1) = 1 on
    # sample 1 (active) cannot both hold within ε = 0.1. Λ = (-1, -1) gives XΛᵀ = -1 + 1 = 0 and
    # d(Λ) = -<Λ, Y> - ε‖Λ‖ = 2 - 0.1·√2 > 0: an exact ray.
    X = np.array([[1.0, -1.0]])
    Y = np.array([[1.0, 1.0]])
    prob = layer_problem(X, Y, 0.1)
    cert = prob.check_certificate(np.array([[-1.0, -1.0]]))
    assert cert.valid and cert.dual_residual == 0.0 and cert.lower_bound == np.inf
    assert cert.dual_value == pytest.approx((2 - 0.1 * np.sqrt(2)) / np.sqrt(2) / np.sqrt(2))
    # scaling Λ or the data changes nothing
    assert prob.check_certificate(np.array([[-5.0, -5.0]])).valid
    # ... at any scale a double holds (‖Λ‖_F of 1e±160 over- and underflowed before Λ was divided by it)
    for scale in (1e160, 1e300, 1e-300, 5e-324):
        c = prob.check_certificate(scale * np.array([[-1.0, -1.0]]))
        assert c.valid and c.dual_value == pytest.approx(cert.dual_value) and c.dual_residual == 0.0
    assert layer_problem(1e6 * X, 1e-6 * Y, 1e-7).check_certificate(np.array([[-1.0, -1.0]])).valid
    # with ε large enough the same program is feasible (u = 0 is within ε = 2 of Y): no certificate
    assert not layer_problem(X, Y, 2.0).check_certificate(np.array([[-1.0, -1.0]])).valid


def test_no_certificate_for_a_feasible_program():
    # On a feasible program d(Λ) <= ‖XΛᵀ‖_max ‖W‖_1 for every sign-feasible Λ, so no random Λ passes.
    X, W, Y = relu_layer(seed=2)
    prob = layer_problem(X, Y, 0.05 * np.linalg.norm(Y))
    rng = np.random.default_rng(3)
    for _ in range(20):
        Lam = rng.standard_normal(Y.shape)
        cert = prob.check_certificate(Lam)
        assert not cert.valid
        if cert.dual_value > 0:
            assert cert.lower_bound <= prob.objective(W) * (1 + 1e-9)
    # a Λ with negative entries on Ωᶜ is never a certificate
    X = np.array([[1.0, -1.0]])
    Y = np.array([[1.0, 0.0]])
    cert = layer_problem(X, Y, 0.1).check_certificate(np.array([[-1.0, -1.0]]))
    assert not cert.valid and cert.sign_violation > 0


def test_violation_counts_the_inactive_set_alone():
    # V below the original response on Ωᶜ by exactly 1: W meets the ball exactly (residual 0) and exceeds the
    # inactive bound by 1 everywhere on Ωᶜ, so the violation is the inactive term alone, 1/max|Y|.
    X, W, Y = relu_layer(seed=4)
    Z = W.T @ X
    V = np.where(Y > 0, 0.0, Z - 1.0)
    prob = layer_problem(X, Y, 0.0, V=V)
    assert prob.residuals(W) == pytest.approx((0.0, 1.0), abs=1e-10)
    assert prob.violation(W) == pytest.approx(1.0 / np.max(Y), rel=1e-10)


@pytest.mark.parametrize("module", ["nettrim.problem", "nettrim.solution", "nettrim.reference",
                                    "nettrim.reference.memory", "nettrim.experiments.layers",
                                    "nettrim.experiments.theory"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
