"""The modern one-shot pruners, each checked on a case with a known answer."""

import numpy as np
import pytest

from nettrim.experiments.layers import random_layer
from nettrim.experiments.pruners import (METHODS, layer_budgets, magnitude, magnitude_refit, prune_with, refit,
                                         sparsegpt, wanda)
from nettrim.network import forward, magnitude_prune


def _layer(N=9, M=5, P=60, bias=True, seed=0):
    d = random_layer(N, M, P, bias=bias, seed=seed)
    return d.W0, d.X


def _orthogonal_rows(N, P, seed):
    """X (N×P) with X Xᵀ = diag(d²): rows of an orthogonal matrix scaled by distinct d."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((P, N)))
    d = rng.uniform(0.5, 3.0, N)
    return d[:, None] * Q.T, d


# ---------------------------------------------------------------------------------------------- SparseGPT
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("block_size", [1, 4, 128])
def test_sparsegpt_keeping_everything_returns_w(bias, block_size):
    W, X = _layer(bias=bias)
    n = W.shape[0] - bias
    out = sparsegpt(W, X, n * W.shape[1], bias=bias, block_size=block_size)
    np.testing.assert_array_equal(out, W)


def test_sparsegpt_with_diagonal_hessian_is_magnitude_by_w2_hii():
    N, M, P, damp = 12, 5, 40, 0.01
    X, d = _orthogonal_rows(N, P, seed=1)
    W = np.random.default_rng(2).standard_normal((N, M))
    Hii = d ** 2 + damp * np.mean(d ** 2)
    score = W ** 2 * Hii[:, None]
    # one block: the k entries of largest w²·H_ii over the whole layer, values unchanged (U is diagonal)
    k = 23
    expect = np.where(score >= np.sort(score.ravel())[-k], W, 0.0)
    np.testing.assert_allclose(sparsegpt(W, X, k, damp=damp, block_size=N), expect, rtol=1e-12, atol=1e-14)
    # blocks of 4 rows: each block prunes its third of the N·M - k = 30 entries, by the same score
    out = sparsegpt(W, X, k + 7, damp=damp, block_size=4)
    for s in range(0, N, 4):
        blk = score[s:s + 4]
        keep = blk > np.sort(blk.ravel())[(N * M - k - 7) // 3 - 1]
        np.testing.assert_allclose(out[s:s + 4], np.where(keep, W[s:s + 4], 0.0), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("damp", [0.0, 0.05])
def test_sparsegpt_update_is_the_obs_optimum(damp):
    """Pruned rows all before the kept ones: the result minimizes (u - w)ᵀ H (u - w) with u = 0 on the pruned
    rows, i.e. u_K = w_K + H_KK⁻¹ H_KP w_P (with damp = 0: the least-squares refit to WᵀX)."""
    N, M, P = 7, 4, 50
    rng = np.random.default_rng(3)
    X = rng.standard_normal((N, P))
    W = rng.standard_normal((N, M))
    W[:3] *= 1e-3  # the three first rows have by far the smallest scores: they are the pruned ones
    out = sparsegpt(W, X, 4 * M, damp=damp, block_size=N)
    assert np.all(out[:3] == 0)
    H = X @ X.T
    H += damp * np.mean(np.diag(H)) * np.eye(N)
    expect = W[3:] + np.linalg.solve(H[3:, 3:], H[3:, :3] @ W[:3])
    np.testing.assert_allclose(out[3:], expect, rtol=1e-9, atol=1e-12)
    if damp == 0:
        support = np.zeros((N, M), dtype=bool)
        support[3:] = True
        np.testing.assert_allclose(out, refit(W, X, support), rtol=1e-8, atol=1e-10)


def test_sparsegpt_counts_dead_inputs_and_bias():
    W, X = _layer(N=10, M=6, bias=True, seed=4)
    X[2] = 0.0  # an input that is zero on every sample
    out = sparsegpt(W, X, 20, bias=True, block_size=3)
    assert np.count_nonzero(out[:-1]) == 20 and not out[2].any()
    assert np.all(out[-1] != 0)  # the bias row is never pruned (it absorbs part of the error)


# ---------------------------------------------------------------------------------------------- Wanda
def test_wanda_scores_on_a_hand_example():
    W = np.array([[4.0, 1.0], [1.0, 1.0], [1.0, -3.0], [0.3, 0.2]])
    X = np.array([[0.5, 0.0], [3.0, 4.0], [1.0, 0.0], [1.0, 1.0]])
    X[-1] = 1.0  # bias row (ones): untouched, not counted
    # row norms 0.5, 5, 1 -> scores column 0: 2, 5, 1; column 1: 0.5, 5, 3
    np.testing.assert_array_equal(wanda(W, X, 2, bias=True), [[0, 0], [1, 1], [0, 0], [0.3, 0.2]])
    # k = 3: one each, the extra one goes to column 1 (its next score 3 beats column 0's 2)
    np.testing.assert_array_equal(wanda(W, X, 3, bias=True), [[0, 0], [1, 1], [0, -3], [0.3, 0.2]])
    np.testing.assert_array_equal(wanda(W, X, 4, bias=True), [[4, 0], [1, 1], [0, -3], [0.3, 0.2]])


def test_wanda_ignores_the_scale_of_a_dead_input():
    W = np.array([[100.0], [1.0]])
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(wanda(W, X, 1), [[0.0], [1.0]])  # magnitude would keep the 100
    np.testing.assert_array_equal(magnitude(W, X, 1), [[100.0], [0.0]])


# ---------------------------------------------------------------------------------------------- magnitude (+ refit)
def test_magnitude_is_magnitude_prune_with_the_bias_row_untouched():
    W, X = _layer(bias=True, seed=5)
    out = magnitude(W, X, 17, bias=True)
    np.testing.assert_array_equal(out[:-1], magnitude_prune([W[:-1]], [17])[0])
    np.testing.assert_array_equal(out[-1], W[-1])


@pytest.mark.parametrize("bias", [False, True])
def test_magnitude_refit_is_least_squares_on_the_kept_support(bias):
    W, X = _layer(N=9, M=5, P=40, bias=bias, seed=6)
    k = 14
    target = np.random.default_rng(7).standard_normal((5, 40))
    for tgt in (None, target):
        out = magnitude_refit(W, X, k, bias=bias, target=tgt)
        Z = W.T @ X if tgt is None else tgt
        mask = magnitude(W, X, k, bias=bias) != 0
        if bias:
            mask[-1] = True
        for m in range(W.shape[1]):
            S = np.flatnonzero(mask[:, m])
            u = np.linalg.lstsq(X[S].T, Z[m], rcond=None)[0]
            np.testing.assert_allclose(out[S, m], u, rtol=1e-8, atol=1e-10)
            assert not out[~mask[:, m], m].any()


def test_refit_on_dependent_rows_is_the_minimum_norm_solution():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((6, 30))
    X[1] = 0.0            # a dead input
    X[4] = 2.0 * X[3]     # two collinear inputs
    W = rng.standard_normal((6, 3))
    S = np.ones((6, 3), dtype=bool)
    S[0, 1] = False
    out = refit(W, X, S)
    for m in range(3):
        idx = np.flatnonzero(S[:, m])
        np.testing.assert_allclose(out[idx, m], np.linalg.lstsq(X[idx].T, W[:, m] @ X, rcond=None)[0], atol=1e-8)
    assert not out[1].any()


# ---------------------------------------------------------------------------------------------- network level
def _net(seed=0):
    rng = np.random.default_rng(seed)
    sizes = (8, 12, 6, 3)
    Ws = [rng.standard_normal((a, b)) / np.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [0.1 * rng.standard_normal(b) for b in sizes[1:]]
    return Ws, bs, rng.standard_normal((80, 8))


@pytest.mark.parametrize("method", ["magnitude", "wanda", "sparsegpt"])
def test_network_budget_is_met_exactly(method):
    Ws, bs, X = _net()
    net = prune_with(method, Ws, bs, X, nnz=[30, 20, 5])
    assert net.nnz == [30, 20, 5] and [np.count_nonzero(W) for W in net.weights] == [30, 20, 5]
    assert net.kept == pytest.approx(55 / (96 + 72 + 18))
    assert prune_with(method, Ws, bs, X, density=0.5).nnz == layer_budgets(Ws, 0.5) == [48, 36, 9]


def test_network_layers_run_on_the_pruned_signals():
    Ws, bs, X = _net(1)
    budget = [40, 25, 9]
    for method in ("sparsegpt", "magnitude_refit"):
        net = prune_with(method, Ws, bs, X, nnz=budget, **({"block_size": 5} if method == "sparsegpt" else {}))
        orig = forward(Ws, bs, X, return_all=True)
        Yhat = X
        for i in range(3):
            Wt = np.vstack([Ws[i], bs[i]])
            Xc = np.vstack([Yhat.T, np.ones(len(X))])
            if method == "sparsegpt":
                U = sparsegpt(Wt, Xc, budget[i], bias=True, block_size=5)
            else:  # target: the original network's pre-activation of the layer
                X0 = np.vstack([orig[i].T, np.ones(len(X))])
                U = magnitude_refit(Wt, Xc, budget[i], bias=True, target=Wt.T @ X0)
            np.testing.assert_allclose(net.weights[i], U[:-1], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(net.biases[i], U[-1], rtol=1e-10, atol=1e-12)
            Z = U.T @ Xc
            Yhat = (np.maximum(Z, 0) if i < 2 else Z).T
        np.testing.assert_allclose(forward(net.weights, net.biases, X), Yhat, rtol=1e-10, atol=1e-12)


def test_refit_fits_the_original_outputs_better_than_magnitude():
    Ws, bs, X = _net(2)
    Z = forward(Ws, bs, X)
    errs = {m: np.linalg.norm(forward(*_wb(prune_with(m, Ws, bs, X, density=0.4)), X) - Z)
            for m in ("magnitude", "magnitude_refit")}
    assert errs["magnitude_refit"] < errs["magnitude"]


def _wb(net):
    return net.weights, net.biases


def test_network_without_biases_and_every_method_runs():
    Ws, _, X = _net(3)
    for method in METHODS:
        net = prune_with(method, Ws, None, X, density=0.3)
        assert net.biases is None and all(n <= b for n, b in zip(net.nnz, layer_budgets(Ws, 0.3)))


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_input_names_the_argument():
    W, X = _layer(bias=True)
    with pytest.raises(ValueError, match="k must be in"):
        sparsegpt(W, X, W.size, bias=True)  # the bias row does not count
    with pytest.raises(TypeError, match="k must be an integer"):
        wanda(W, X, 3.0)
    with pytest.raises(ValueError, match="X must have N"):
        magnitude(W, X[1:], 3)
    with pytest.raises(ValueError, match="last row of X"):
        magnitude_refit(W, X[::-1], 3, bias=True)
    with pytest.raises(TypeError, match="bias must be a bool"):
        wanda(W, X, 3, bias=1)
    with pytest.raises(ValueError, match="damp"):
        sparsegpt(W, X, 3, damp=-1.0)
    with pytest.raises(ValueError, match="block_size"):
        sparsegpt(W, X, 3, block_size=0)
    with pytest.raises(ValueError, match="NaN"):
        sparsegpt(np.full_like(W, np.nan), X, 3)
    Ws, bs, Xn = _net()
    with pytest.raises(TypeError, match="unknown setting"):
        prune_with("wanda", Ws, bs, Xn, density=0.5, damp=0.1)
    with pytest.raises(ValueError, match="exactly one"):
        prune_with("wanda", Ws, bs, Xn, density=0.5, nnz=[1, 1, 1])
    with pytest.raises(ValueError, match="method must be"):
        prune_with("obs", Ws, bs, Xn, density=0.5)
    with pytest.raises(ValueError, match="density"):
        prune_with("magnitude", Ws, bs, Xn, density=1.5)
    with pytest.raises(ValueError, match="layer 2: k must be in"):
        prune_with("magnitude", Ws, bs, Xn, nnz=[1, 1000, 1])
