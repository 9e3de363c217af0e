"""prune_network: Proposition 1 per layer, the consistency theorems, cascade feasibility, the report, errors."""

import types
import warnings

import numpy as np
import pytest

import nettrim
from nettrim import layer_problem
from nettrim.network import REPORT_COLUMNS, forward, link_normalize, magnitude_prune, prune_network

# The reference (CLARABEL) returns answers feasible to ~1e-8 relative; the bounds below allow this much
# relative slack (see nettrim.reference.VIOLATION_TOL).
TOL = 1e-6


def random_net(seed=0, sizes=(6, 12, 8, 3), P=60, bias=True):
    """A random ReLU network (He-scaled, so hidden layers have a healthy mix of active/inactive units)."""
    rng = np.random.default_rng(seed)
    Ws = [rng.standard_normal((a, b)) * np.sqrt(2 / a) for a, b in zip(sizes[:-1], sizes[1:], strict=False)]
    bs = [0.1 * rng.standard_normal(b) for b in sizes[1:]] if bias else None
    X = rng.standard_normal((P, sizes[0]))
    return Ws, bs, X


def augmented(W, b):
    return W if b is None else np.vstack([W, b[None, :]])


def test_forward_matches_scikit_learn():
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    d = load_digits()
    X, y = d.data[:300] / 16, d.target[:300]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((12, 7), activation="relu", max_iter=30, random_state=0).fit(X, y)
    Z = forward(clf.coefs_, clf.intercepts_, X)
    assert np.array_equal(np.argmax(Z, axis=1), clf.predict(X))
    # the softmax of the logits is scikit-learn's predict_proba
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(P / P.sum(axis=1, keepdims=True), clf.predict_proba(X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
def test_parallel_proposition_1_per_layer(bias):
    """Parallel: every layer alone, fed the ORIGINAL signal, stays within ε_ℓ = epsilon·‖Y⁽ℓ⁾‖ of Y⁽ℓ⁾."""
    Ws, bs, X = random_net(1, bias=bias)
    eps = 0.1
    net = prune_network(Ws, bs, X, epsilon=eps, mode="parallel", solver="reference")
    Y = forward(Ws, bs, X, return_all=True)
    for i in range(len(Ws)):
        Z = Y[i] @ net.weights[i] + (net.biases[i] if bias else 0.0)
        Z = np.maximum(Z, 0) if i < len(Ws) - 1 else Z
        err = np.linalg.norm(Z - Y[i + 1])
        assert err <= eps * np.linalg.norm(Y[i + 1]) * (1 + TOL)
        assert err == pytest.approx(net.report["layer_rel_error"].iloc[i] * np.linalg.norm(Y[i + 1]), rel=1e-9)
        # the ℓ1 norm of the ℓ1 answer (before the refit) cannot grow: the original layer is feasible
        assert np.abs(net.solutions[i].W).sum() <= np.abs(augmented(Ws[i], bs[i] if bias else None)).sum() * (1 + TOL)
        np.testing.assert_array_equal(net.solutions[i].W != 0,
                                      augmented(net.weights[i], net.biases[i] if bias else None) != 0)
    assert net.kept < 1.0  # something was pruned
    assert (net.report["status"] == "optimal").all()


def test_link_normalize_preserves_the_function_up_to_scale():
    Ws, bs, X = random_net(2)
    W2, b2, s = link_normalize(Ws, bs)
    for W, b in zip(W2, b2, strict=False):
        assert np.abs(W).sum() + np.abs(b).sum() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(forward(W2, b2, X), s * forward(Ws, bs, X), rtol=1e-10, atol=1e-14)
    Y, Y2 = forward(Ws, bs, X, return_all=True), forward(W2, b2, X, return_all=True)
    scales = [np.abs(Y2[i]).max() / np.abs(Y[i]).max() for i in range(1, len(Y))]
    assert scales[-1] == pytest.approx(s) and all(np.diff(np.log(scales)) < 0)  # every c_ℓ < 1 here


@pytest.mark.parametrize("eps", [0.05, 0.3])
def test_consistency_bounds_on_link_normalized_network(eps):
    """‖Ŷ⁽ℓ⁾ − Y⁽ℓ⁾‖ ≤ Σ_{j≤ℓ} ε_j (parallel) and ≤ ε₁ √(γ^{ℓ-1}) (cascade), on the calibration data."""
    Ws, bs, X = random_net(3, sizes=(5, 10, 10, 8, 3), P=50)
    W, b, _ = link_normalize(Ws, bs)
    Y = forward(W, b, X, return_all=True)
    gamma = 1.1
    for mode in ("parallel", "cascade"):
        net = prune_network(W, b, X, epsilon=eps, mode=mode, gamma=gamma, solver="reference")
        assert (net.report["status"] == "optimal").all()
        Yh = net.forward(X, return_all=True)
        e = net.report["epsilon"].to_numpy()
        for ell in range(1, len(W) + 1):
            measured = np.linalg.norm(Yh[ell] - Y[ell])
            bound = e[:ell].sum() if mode == "parallel" else e[0] * np.sqrt(gamma ** (ell - 1))
            assert 0 < measured <= bound * (1 + TOL), (mode, ell, measured, bound)
        # the theorems' bounds are loose past the first layer (link normalization shrinks the signals):
        # the per-layer step they are built from is not, and fails for a wrong layer (e.g. all zeros)
        assert_layer_bounds(net, W, b, X, mode)


def assert_layer_bounds(net, W, b, X, mode, slack=TOL):
    """The per-layer step of the consistency theorems (nettrim.experiments.pruning.step_bound) holds on the
    calibration data, to the solver's violation tolerance (relative to ‖Y⁽ℓ⁾‖)."""
    from nettrim.experiments.pruning import step_bound

    Y = forward(W, b, X, last_activation=net.last_activation, return_all=True)
    Yh = net.forward(X, return_all=True)
    for ell in range(1, len(W) + 1):
        measured = np.linalg.norm(Yh[ell] - Y[ell])
        bound = step_bound(net, W, b, Y, Yh, ell, mode)
        assert measured <= bound + slack * np.linalg.norm(Y[ell]), (mode, ell, measured, bound)


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_relu_last_layer(mode):
    """last_activation="relu": the last layer is pruned as a ReLU program (Ω = its positive outputs, the
    inequality on Ωᶜ), the pruned network's output is a ReLU response, and the per-layer bounds hold with the
    last layer's Ωᶜ term; apply_to refuses it (an estimator's last layer gives linear logits)."""
    Ws, bs, X = random_net(12, sizes=(6, 12, 8, 3), P=80)
    Y = forward(Ws, bs, X, last_activation="relu", return_all=True)
    net = prune_network(Ws, bs, X, epsilon=0.1, mode=mode, last_activation="relu", solver="reference")
    assert (net.report["status"] == "optimal").all() and net.last_activation == "relu"
    out = net.forward(X)
    assert out.min() >= 0.0 and (out == 0).any()
    # the last layer's program: its input (original or pruned signal), a ReLU response within its ε
    Xl = (Y if mode == "parallel" else net.forward(X, return_all=True))[len(Ws) - 1]
    Xc = np.vstack([Xl.T, np.ones((1, X.shape[0]))])
    V = None if mode == "parallel" else augmented(Ws[-1], bs[-1]).T @ Xc
    prob = layer_problem(Xc, Y[-1].T, net.report["epsilon"].iloc[-1], activation="relu", V=V)
    Ut = augmented(net.weights[-1], net.biases[-1])
    assert prob.violation(Ut) <= TOL
    assert prob.relu_error(Ut) <= prob.epsilon + TOL * prob.y_norm
    if mode == "cascade":      # its input is the pruned signal: the program's error is the network's
        assert prob.relu_error(Ut) == pytest.approx(np.linalg.norm(out - Y[-1]), rel=1e-9)
    assert_layer_bounds(net, Ws, bs, X, mode)
    fitted = types.SimpleNamespace(coefs_=list(Ws), intercepts_=list(bs), activation="relu")
    with pytest.raises(ValueError, match="apply_to needs linear logits"):
        net.apply_to(fitted)


def test_peak_memory_sees_an_allocation_in_the_block():
    """The report's peak_mem_mb: an array of 200 MB touched (and freed) in the block shows, one of 1 MB not
    much; the same work measures the same again (memory freed before the block is not reused unseen);
    nested blocks each see their own peak; NaN only where the kernel has no such counters."""
    from nettrim._memory import peak_memory

    with peak_memory() as probe:
        pass
    if np.isnan(probe()):
        pytest.skip("no /proc/self/clear_refs here: peak memory is not measured (NaN)")
    with peak_memory() as peak:
        a = np.ones(25 * 2**20)            # 200 MB
        del a
    assert 190 <= peak() <= 400
    runs = []
    for _ in range(3):
        with peak_memory() as peak:
            b = np.ones((1000, 3000))      # 24 MB, then an 8 MB product
            c = b @ b.T
            del b, c
        runs.append(peak())
    assert min(runs) >= 0.8 * max(runs) and min(runs) >= 25, runs
    with peak_memory() as outer:
        a = np.ones(25 * 2**20)
        del a
        with peak_memory() as inner:
            d = np.ones(2**17)             # 1 MB
            del d
    assert 190 <= outer() <= 400 and 0 <= inner() < 50


def test_cascade_never_makes_a_layer_infeasible():
    """With V = W_ℓᵀŶ⁽ℓ⁻¹⁾ and ε_ℓ² = γ Σ_Ω(...)², the original layer is feasible for its cascade program."""
    Ws, bs, X = random_net(4, sizes=(6, 14, 10, 4), P=70)
    gamma = 1.1
    net = prune_network(Ws, bs, X, epsilon=0.2, mode="cascade", gamma=gamma, solver="reference")
    assert (net.report["status"] == "optimal").all()
    Y = forward(Ws, bs, X, return_all=True)
    Yh = net.forward(X, return_all=True)
    for i in range(1, len(Ws)):
        Xc = np.vstack([Yh[i].T, np.ones((1, X.shape[0]))])  # the pruned network's signal, in columns
        Wt = augmented(Ws[i], bs[i])
        act = "relu" if i < len(Ws) - 1 else "linear"
        Z = Wt.T @ Xc
        prob = layer_problem(Xc, Y[i + 1].T, net.report["epsilon"].iloc[i], activation=act,
                             V=Z if act == "relu" else None)
        assert prob.violation(Wt) == 0.0
        # ε_ℓ is exactly √γ times the original layer's error on Ω (the whole output for the linear layer)
        assert prob.residuals(Wt)[0] * np.sqrt(gamma) == pytest.approx(prob.epsilon, rel=1e-12)
        Ut = augmented(net.weights[i], net.biases[i])
        assert prob.violation(Ut) <= TOL


def test_cascade_kappa_tightens_the_last_layer():
    Ws, bs, X = random_net(5)
    # without the refit, so that both runs feed the last layer the same signal
    full = prune_network(Ws, bs, X, epsilon=0.2, mode="cascade", kappa=1.0, solver="reference", refit=False)
    # κ²γ < 1: the original last layer is no longer feasible, but a least-squares fit on the pruned signal
    # still is at this κ (κ far below 1/√γ can make the program infeasible)
    tight = prune_network(Ws, bs, X, epsilon=0.2, mode="cascade", kappa=0.8, solver="reference", refit=False)
    assert (tight.report["status"] == "optimal").all()
    e1, e2 = full.report["epsilon"].to_numpy(), tight.report["epsilon"].to_numpy()
    np.testing.assert_allclose(e2[:-1], e1[:-1], rtol=1e-9)
    assert e2[-1] == pytest.approx(0.8 * e1[-1], rel=1e-9)
    assert tight.report["rel_error"].iloc[-1] < full.report["rel_error"].iloc[-1]


def test_report_columns_and_counts():
    Ws, bs, X = random_net(6)
    net = prune_network(Ws, bs, X, epsilon=0.2, solver="reference")
    rep = net.report
    assert list(rep.columns) == list(REPORT_COLUMNS) and len(rep) == len(Ws)
    for i, row in rep.iterrows():
        U = augmented(net.weights[i], net.biases[i])
        assert (row["n_in"], row["n_out"]) == Ws[i].shape
        assert row["nnz_before"] == np.count_nonzero(Ws[i])
        assert row["nnz_after"] == np.count_nonzero(net.weights[i])
        assert row["kept"] == pytest.approx(row["nnz_after"] / Ws[i].size)
        assert row["bias_nnz_after"] == np.count_nonzero(net.biases[i])
        assert row["dead_neurons"] == np.sum(~U.any(axis=0))
        assert row["epsilon_rel"] == pytest.approx(0.2)
        assert row["time"] > 0 and row["iterations"] >= 1
        assert row["peak_mem_mb"] >= 0 or np.isnan(row["peak_mem_mb"])   # NaN: no kernel counters here
    Yh, Y = net.forward(X, return_all=True), forward(Ws, bs, X, return_all=True)
    np.testing.assert_allclose(rep["rel_error"], [np.linalg.norm(Yh[i] - Y[i]) / np.linalg.norm(Y[i])
                                                   for i in range(1, len(Y))], rtol=1e-10)
    assert net.nnz == rep["nnz_after"].sum()
    assert np.array_equal(net.predict(X), np.argmax(Yh[-1], axis=1))


def test_parallel_jobs_give_the_same_answer():
    Ws, bs, X = random_net(7)
    # the ADMM (workers import no CVXPY, so they start fast); tight tolerances make both runs the optimum
    opts = dict(solver="fast", eps_abs=1e-10, eps_rel=1e-9, max_iter=100000)
    a = prune_network(Ws, bs, X, epsilon=0.1, jobs=1, **opts)
    b = prune_network(Ws, bs, X, epsilon=0.1, jobs=2, **opts)
    assert (b.report["status"] == "optimal").all()
    for Wa, Wb, ba, bb in zip(a.weights, b.weights, a.biases, b.biases, strict=False):
        scale = np.abs(Wa).max()
        np.testing.assert_allclose(Wb, Wa, rtol=0, atol=1e-5 * scale)
        np.testing.assert_allclose(bb, ba, rtol=0, atol=1e-5 * scale)


def test_all_zero_layer_is_warned_about():
    Ws, bs, X = random_net(8)
    # ε > ‖Y‖ makes U = 0 feasible (relu(0) = 0 is within ‖Y‖ of Y), and it has the smallest ℓ1 norm
    with pytest.warns(UserWarning, match="all zeros"):
        net = prune_network(Ws, bs, X, epsilon=1.5, solver="reference")
    assert net.report["nnz_after"].sum() == 0 and (net.report["dead_neurons"] == net.report["n_out"]).all()


def test_fast_solver_path_and_non_optimal_warning():
    Ws, bs, X = random_net(9)
    ref = prune_network(Ws, bs, X, epsilon=0.1, solver="reference")
    net = prune_network(Ws, bs, X, epsilon=0.1, solver="fast", eps_abs=1e-8, eps_rel=1e-7, max_iter=50000,
                        eps_gap=1e-6)
    assert (net.report["status"] == "optimal").all()
    # same optimum, same ℓ1 norm
    for Wf, Wr, bf, br in zip(net.weights, ref.weights, net.biases, ref.biases, strict=True):
        assert np.abs(augmented(Wf, bf)).sum() == pytest.approx(np.abs(augmented(Wr, br)).sum(), rel=1e-4)
    with pytest.warns(UserWarning, match="status"):
        prune_network(Ws, bs, X, epsilon=0.1, solver="fast", max_iter=1)


def test_magnitude_prune_keeps_the_largest_entries():
    Ws, _, _ = random_net(10)
    k = [5, 17, 0]
    out = magnitude_prune(Ws, k)
    for W, P, kk in zip(Ws, out, k, strict=False):
        assert np.count_nonzero(P) == kk
        kept = np.abs(W[P != 0])
        dropped = np.abs(W[P == 0])
        assert kk == 0 or kept.min() >= dropped.max()
        np.testing.assert_array_equal(P[P != 0], W[P != 0])
    with pytest.raises(ValueError, match=r"nnz_per_layer\[1\]"):
        magnitude_prune(Ws, [1, Ws[1].size + 1, 1])
    with pytest.raises(ValueError, match="nnz_per_layer has 2"):
        magnitude_prune(Ws, [1, 2])
    with pytest.raises(TypeError, match=r"nnz_per_layer\[0\]"):
        magnitude_prune(Ws, [1.5, 2, 3])


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(mode="serial"), ValueError, "mode"),
    (dict(mode=1), TypeError, "mode"),
    (dict(gamma=0.9), ValueError, "gamma"),
    (dict(gamma=1e300, mode="cascade"), ValueError, "^gamma = 1e\\+300 makes"),
    (dict(kappa=0.0), ValueError, "kappa"),
    (dict(kappa=1.5), ValueError, "kappa"),
    (dict(epsilon=-0.1), ValueError, "epsilon"),
    (dict(epsilon=[0.1, 0.2]), ValueError, "epsilon"),
    (dict(epsilon="0.1"), TypeError, "epsilon"),
    (dict(last_activation="tanh"), ValueError, "last_activation"),
    (dict(solver="gurobi"), ValueError, "solver"),
    (dict(jobs=0), ValueError, "jobs"),
    (dict(jobs=1.5), TypeError, "jobs"),
])
def test_bad_options_name_the_argument(kwargs, exc, match):
    Ws, bs, X = random_net(11)
    with pytest.raises(exc, match=match):
        prune_network(Ws, bs, X, **{"solver": "reference", **kwargs})


def test_bad_network_or_data_names_the_argument():
    Ws, bs, X = random_net(12)
    with pytest.raises(ValueError, match=r"X must have shape \(P, 6\)"):
        prune_network(Ws, bs, X.T, solver="reference")  # samples in columns by mistake
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        prune_network([Ws[0], Ws[1].T, Ws[2]], bs, X, solver="reference")
    with pytest.raises(ValueError, match=r"biases\[2\]"):
        prune_network(Ws, bs[:2] + [np.zeros(7)], X, solver="reference")
    with pytest.raises(ValueError, match=r"biases\[0\] must be 1-D"):
        prune_network(Ws, [bs[0][None, :]] + bs[1:], X, solver="reference")
    with pytest.raises(ValueError, match="biases has 2"):
        prune_network(Ws, bs[:2], X, solver="reference")
    with pytest.raises(TypeError, match="weights must be a list"):
        prune_network(Ws[0], bs, X, solver="reference")
    with pytest.raises(ValueError, match="X contains NaN"):
        prune_network(Ws, bs, np.full_like(X, np.nan), solver="reference")
    with pytest.raises(ValueError, match="weights is empty"):
        prune_network([], [], X)


def test_top_level_name_resolves():
    assert nettrim.prune_network is prune_network
