"""Refit on the support: exact (CVXPY agrees), never worse, feasible, and the network guarantees still hold."""

import warnings

import cvxpy as cp
import numpy as np
import pytest

from nettrim import layer_problem, reference
from nettrim._refit import EXCESS_TOL, refit_support
from nettrim.experiments.layers import random_layer
from nettrim.network import forward, link_normalize, prune_layer, prune_network
from test_network import TOL, assert_layer_bounds, augmented, random_net


def cvx_refit(prob, U):
    """The refit program stated in CVXPY: min ‖(UᵀX − Y)_Ω‖_F s.t. U_{Sᶜ} = 0, (UᵀX)_Ωᶜ ≤ max(V, ÛᵀX)."""
    S = U != 0
    Uv = cp.Variable(U.shape)
    Z = Uv.T @ prob.X
    cons = [cp.multiply(~S, Uv) == 0]
    if prob.inactive.any():
        # the refit keeps the ℓ1 answer feasible even where the solver left it a round-off above V
        cons.append(cp.multiply(prob.inactive, Z - np.maximum(prob.V, U.T @ prob.X)) <= 0)
    problem = cp.Problem(cp.Minimize(cp.norm(cp.multiply(prob.ball, Z - prob.Y), "fro")), cons)
    problem.solve(solver="CLARABEL")
    assert problem.status == cp.OPTIMAL
    return problem.value


def l1_answer(d, activation):
    sol = reference.solve(d.X, d.Y, d.epsilon, activation=activation, V=d.V)
    return np.where(np.abs(sol.W) > 1e-7 * np.abs(sol.W).max(), sol.W, 0.0)


CASES = [  # (N, M, P, activation, v_margin, bias): P < N cases make A rank deficient for some neurons
    (12, 5, 40, "relu", 0.0, True), (12, 5, 40, "relu", 0.5, True), (17, 5, 8, "relu", 0.0, False),
    (20, 3, 15, "relu", 0.5, True), (10, 4, 30, "linear", 0.0, True), (15, 4, 9, "linear", 0.0, False),
]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("N, M, P, activation, v_margin, bias", CASES)
def test_refit_is_the_exact_optimum_and_never_worse(N, M, P, activation, v_margin, bias, seed):
    d = random_layer(N, M, P, activation=activation, gain=0.2, bias=bias, v_margin=v_margin, seed=seed)
    prob = layer_problem(d.X, d.Y, d.epsilon, activation=activation, V=d.V)
    U = l1_answer(d, activation)
    fit = refit_support(prob, U)
    assert fit.fallbacks == 0
    assert np.all(fit.W[U == 0] == 0)                      # the support is kept
    assert fit.ball_error_l1 == pytest.approx(prob.residuals(U)[0], rel=1e-12)
    assert fit.ball_error == pytest.approx(prob.residuals(fit.W)[0], rel=1e-12)
    assert fit.ball_error <= fit.ball_error_l1             # never worse
    # the exact optimum of the refit program (CVXPY's answer is feasible only to ~1e-8, so it may be lower
    # by that much; never by more)
    optimum = cvx_refit(prob, U)
    assert fit.ball_error <= optimum * (1 + 1e-5) + 1e-9 * prob.y_norm
    assert fit.ball_error >= optimum * (1 - 1e-5) - 1e-9 * prob.y_norm
    # feasible for the Net-Trim program itself: Proposition 1 holds for the refit
    assert prob.violation(fit.W) <= prob.violation(U) + EXCESS_TOL
    assert prob.relu_error(fit.W) <= d.epsilon * (1 + TOL)


def test_refit_of_an_exact_fit_changes_nothing_and_a_linear_refit_is_least_squares():
    d = random_layer(8, 3, 30, activation="linear", gain=0.0, seed=3)
    prob = layer_problem(d.X, d.Y, 0.0, activation="linear")
    fit = refit_support(prob, d.W0)                        # W0 fits Y exactly: nothing to improve
    np.testing.assert_allclose(fit.W, d.W0, atol=1e-10)
    U = d.W0.copy()
    U[:4] = 0.0
    U[4:] *= 0.5                                           # a support, shrunk values
    fit = refit_support(prob, U)
    for m in range(3):                                     # linear layer: least squares on the support
        ls = np.linalg.lstsq(d.X[4:].T, d.Y[m], rcond=None)[0]
        np.testing.assert_allclose(fit.W[4:, m], ls, rtol=1e-9, atol=1e-12)


def test_rejected_refits_fall_back_to_the_l1_answer_and_say_so(monkeypatch):
    import nettrim._refit as refit_module

    d = random_layer(10, 4, 40, gain=0.2, bias=True, seed=5)
    prob = layer_problem(d.X, d.Y, d.epsilon)
    U = l1_answer(d, "relu")
    # a refit that returns garbage (worse error) for every neuron must be rejected by the check
    monkeypatch.setattr(refit_module, "_refit_neuron", lambda normal, b, G, h, u0: 3.0 * u0 + 1.0)
    fit = refit_support(prob, U)
    assert fit.fallbacks == np.count_nonzero(U.any(axis=0))
    np.testing.assert_array_equal(fit.W, U)
    Ws, bs, X = random_net(21)
    with pytest.warns(UserWarning, match="refit rejected"):
        net = prune_network(Ws, bs, X, epsilon=0.2, solver="reference")
    assert (net.report["refit_fallbacks"] > 0).all()
    np.testing.assert_allclose(net.report["layer_rel_error"], net.report["layer_rel_error_l1"], rtol=1e-12)


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_network_refit_lowers_every_layer_error_within_the_same_constraints(mode):
    Ws, bs, X = random_net(13, sizes=(6, 14, 10, 4), P=70)
    eps = 0.2
    on = prune_network(Ws, bs, X, epsilon=eps, mode=mode, solver="reference")
    off = prune_network(Ws, bs, X, epsilon=eps, mode=mode, solver="reference", refit=False)
    rep = on.report
    assert rep["refit"].all() and (rep["refit_fallbacks"] == 0).all()
    assert (rep["layer_rel_error"] <= rep["layer_rel_error_l1"] * (1 + 1e-12)).all()
    assert (rep["layer_rel_error"] <= rep["epsilon_rel"] * (1 + TOL)).all()       # Proposition 1
    assert (rep["violation"] <= rep["violation_l1"] + EXCESS_TOL).all()
    assert not off.report["refit"].any()
    np.testing.assert_allclose(off.report["layer_rel_error"], off.report["layer_rel_error_l1"])
    if mode == "parallel":  # the same ℓ1 programs: the refit only rewrites the values
        assert (rep["nnz_after"] <= off.report["nnz_after"]).all()
        np.testing.assert_allclose(rep["layer_rel_error_l1"], off.report["layer_rel_error"], rtol=1e-6)
        assert (rep["layer_rel_error"] < off.report["layer_rel_error"]).all()
    else:
        # the next layer sees the refitted signal (closer to the original one, so its cascade ε is smaller):
        # its program input is the refitted network's signal
        assert (rep["epsilon"].iloc[1:] < off.report["epsilon"].iloc[1:]).all()
        Yh = on.forward(X, return_all=True)
        Y = forward(Ws, bs, X, return_all=True)
        for i in range(1, len(Ws)):
            Xc = np.vstack([Yh[i].T, np.ones((1, X.shape[0]))])
            U = augmented(on.weights[i], on.biases[i])
            Z = U.T @ Xc
            Z = np.maximum(Z, 0) if i < len(Ws) - 1 else Z
            err = np.linalg.norm(Z - Y[i + 1].T) / np.linalg.norm(Y[i + 1])
            assert err == pytest.approx(rep["layer_rel_error"].iloc[i], rel=1e-9)


@pytest.mark.parametrize("eps", [0.05, 0.3])
@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_consistency_bounds_hold_after_the_refit(mode, eps):
    """The theorems on a link-normalized network hold for the refitted weights (default refit=True)."""
    Ws, bs, X = random_net(3, sizes=(5, 10, 10, 8, 3), P=50)
    W, b, _ = link_normalize(Ws, bs)
    Y = forward(W, b, X, return_all=True)
    gamma = 1.1
    net = prune_network(W, b, X, epsilon=eps, mode=mode, gamma=gamma, solver="reference")
    assert net.report["refit"].all()
    Yh = net.forward(X, return_all=True)
    e = net.report["epsilon"].to_numpy()
    for ell in range(1, len(W) + 1):
        measured = np.linalg.norm(Yh[ell] - Y[ell])
        bound = e[:ell].sum() if mode == "parallel" else e[0] * np.sqrt(gamma ** (ell - 1))
        assert measured <= bound * (1 + TOL), (ell, measured, bound)
        # the norm the parallel theorem charges to a layer is ‖Ŵ_ℓ‖₂ ≤ 1: the ℓ1 answer has
        # ‖Ŵ_ℓ‖₂ ≤ ‖Ŵ_ℓ‖₁ ≤ ‖W̃_ℓ‖₁ = 1; the refit can raise ‖Ŵ_ℓ‖₁ above 1 (measured 1.35 in cascade),
        # so the spectral norm itself is what must stay below 1
        assert np.linalg.norm(net.weights[ell - 1], 2) <= 1 + 1e-12
    # the per-layer step of the theorems, tight where their sums are not (they fail for a zeroed layer)
    assert_layer_bounds(net, W, b, X, mode)


def test_prune_layer_reports_before_and_after():
    d = random_layer(30, 6, 300, gain=0.1, bias=True, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = prune_layer(d.X, d.Y, d.epsilon, d.W0, solver="reference")
    prob = layer_problem(d.X, d.Y, d.epsilon)
    row = res.row
    assert row["refit"] and row["refit_fallbacks"] == 0 and row["refit_time"] > 0
    assert row["layer_rel_error"] == pytest.approx(prob.relu_error(res.W) / np.linalg.norm(d.Y), rel=1e-12)
    assert row["layer_rel_error_l1"] == pytest.approx(prob.relu_error(res.W_l1) / np.linalg.norm(d.Y), rel=1e-12)
    assert row["layer_rel_error"] < row["layer_rel_error_l1"] <= 0.1 * (1 + TOL)
    assert row["nnz_after"] == np.count_nonzero(res.W[:-1]) and row["bias_nnz_after"] == np.count_nonzero(res.W[-1])
    np.testing.assert_array_equal(res.W != 0, res.W_l1 != 0)
