"""The shared layer spec: validation, violation, weak duality of the dual objective."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nettrim
from nettrim import layer_problem


def relu_layer(seed=0, N=12, M=4, P=30, bias=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, P))
    if bias:
        X = np.vstack([X, np.ones((1, P))])
    W = rng.standard_normal((X.shape[0], M))
    return X, W, np.maximum(W.T @ X, 0)


# ---------------------------------------------------------------- closed forms of the primal quantities

def test_original_weights_are_feasible_for_every_epsilon():
    X, W, Y = relu_layer(bias=True)
    for eps in (0.0, 1e-3, 1.0):
        lp = layer_problem(X, Y, eps)
        assert lp.violation(W) <= 1e-12
        ball, excess = lp.residuals(W)
        assert ball <= 1e-10 and excess == 0.0


def test_violation_of_zero_weights_is_the_relative_output_norm():
    X, W, Y = relu_layer()
    eps = 0.25 * np.linalg.norm(Y)
    lp = layer_problem(X, Y, eps)
    # U = 0: the ball residual is ||Y_Ω|| = ||Y||, the inactive excess is max(0 - 0)_+ = 0
    assert lp.violation(np.zeros_like(W)) == pytest.approx(0.75, rel=1e-12)
    lin = layer_problem(X, W.T @ X, eps, activation="linear")
    expected = (np.linalg.norm(W.T @ X) - eps) / np.linalg.norm(W.T @ X)
    assert lin.violation(np.zeros_like(W)) == pytest.approx(expected, rel=1e-12)


def test_inactive_excess_is_measured_against_max_abs_y():
    X, W, Y = relu_layer()
    lp = layer_problem(X, Y, 0.0)
    # Flip the sign of every weight: the former inactive entries become positive responses.
    Z = (-W).T @ X
    inactive = Y <= 0
    expected_excess = np.max(Z[inactive]) / np.max(Y)
    assert lp.violation(-W) >= expected_excess - 1e-12
    assert lp.residuals(-W)[1] == pytest.approx(np.max(Z[inactive]))


def test_shrunk_weights_are_feasible_with_the_closed_form_relu_error():
    # U = (1 - t) W keeps (UᵀX)_Ωᶜ = (1 - t)(WᵀX)_Ωᶜ <= 0 and has ball residual t·||Y||: feasible iff
    # t·||Y|| <= ε, and then relu(UᵀX) - Y = -t·Y exactly (Proposition 1 holds with equality at t = ε/||Y||).
    X, W, Y = relu_layer(seed=3)
    eps = 0.1 * np.linalg.norm(Y)
    lp = layer_problem(X, Y, eps)
    for t, feasible in ((0.05, True), (0.1, True), (0.2, False)):
        U = (1 - t) * W
        assert (lp.violation(U) <= 1e-12) == feasible
        assert lp.relu_error(U) == pytest.approx(t * np.linalg.norm(Y), rel=1e-10)
    assert lp.violation(0.8 * W) == pytest.approx(0.1, rel=1e-10)


# ---------------------------------------------------------------- weak duality: the certificate is sound

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), gain=st.sampled_from([0.0, 0.01, 0.2]),
       activation=st.sampled_from(["relu", "linear"]), scale=st.floats(1e-3, 1e3))
def test_projected_dual_is_feasible_and_lower_bounds_every_feasible_objective(seed, gain, activation, scale):
    X, W, Y = relu_layer(seed=seed, N=8, M=3, P=20, bias=True)
    if activation == "linear":
        Y = W.T @ X
    lp = layer_problem(X, Y, gain * np.linalg.norm(Y), activation=activation)
    Lam = lp.project_dual(scale * np.random.default_rng(seed).standard_normal(Y.shape))
    assert np.max(np.abs(X @ Lam.T)) <= 1 + 1e-12
    assert np.all(Lam[lp.inactive] >= 0)
    # W is feasible, so d(Λ) <= ||W||_1 (weak duality) and the gap of W is >= 0.
    assert lp.dual_objective(Lam) <= lp.objective(W) * (1 + 1e-12) + 1e-12
    assert lp.gap(W, Lam) >= -1e-12


def test_gap_is_zero_for_zero_weights():
    X, W, Y = relu_layer()
    lp = layer_problem(X, Y, 2 * np.linalg.norm(Y))
    assert lp.gap(np.zeros_like(W), np.ones_like(Y)) == 0.0


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
    lp = layer_problem(X, Y, 0)
    assert lp.X.dtype == np.float64 and lp.Y.dtype == np.float64
    assert X.flags.writeable and not lp.X.flags.writeable


def test_check_weights_names_the_argument():
    X, W, Y = GOOD
    lp = layer_problem(X, Y, 0.0)
    with pytest.raises(ValueError, match="warm_start"):
        lp.check_weights(np.ones((4, 2)), "warm_start")


def test_solution_reports_sparsity():
    sol = nettrim.Solution(W=np.array([[0.0, 1.0], [2.0, 0.0]]), status=nettrim.OPTIMAL, objective=3.0,
                           violation=0.0, gap=None, iterations=None, solve_time=0.0, solver="x")
    assert sol.nnz == 2 and sol.density == 0.5 and sol.optimal
    assert "optimal" in sol.summary()
