"""Target density (one common ε or one per layer) and reweighted ℓ1 (certified weighted gap, warm starts)."""

import math
import warnings

import numpy as np
import pytest

from nettrim import layer_problem
from nettrim.experiments.layers import random_layer
from nettrim.network import DENSITY_TOL, prune_layer, prune_network, search_epsilon
from test_network import random_net


# ------------------------------------------------------------------------------------------ the search
@pytest.mark.parametrize("kept, target", [
    (lambda e: min(1.0, (0.01 / e) ** 0.5), 0.2),     # flatter than the first step assumes
    (lambda e: min(1.0, (0.003 / e) ** 2), 0.2),      # steeper
    (lambda e: math.floor(200 * min(1.0, 0.01 / e)) / 200, 0.3),  # a staircase, as nnz counts are
    (lambda e: 1.0 / (1.0 + (e / 0.02) ** 3), 0.9),   # near dense
])
def test_search_reaches_the_target_within_tolerance(kept, target):
    seen = []

    def evaluate(eps, warm):
        # the warm start handed over is the payload of the trial nearest in log ε
        if seen:
            nearest = min(seen, key=lambda e: abs(math.log(e) - math.log(eps)))
            assert warm == nearest
        else:
            assert warm is None
        seen.append(eps)
        return kept(eps), eps

    res = search_epsilon(evaluate, target)
    assert res.converged and abs(res.kept - target) <= DENSITY_TOL
    assert res.kept == kept(res.epsilon) and res.payload == res.epsilon
    assert len(res.trials) <= 6


def test_search_reports_an_unreachable_target():
    res = search_epsilon(lambda e, w: (min(0.15, 0.01 / e), None), 0.2, lower=1e-4)
    assert not res.converged and res.kept == pytest.approx(0.15)
    with pytest.raises(ValueError, match="target"):
        search_epsilon(lambda e, w: (0.5, None), 1.5)


# ------------------------------------------------------------------------------------------ networks
def trained_net(seed=0):
    """A small trained MLP (16-32-16-4 on synthetic data) and its 300 training rows: a realistic, smooth k(ε)
    on layers the ADMM solves in a few hundred iterations."""
    from sklearn.datasets import make_classification
    from sklearn.neural_network import MLPClassifier

    X, y = make_classification(n_samples=300, n_features=16, n_informative=8, n_classes=4, n_clusters_per_class=2,
                               random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((32, 16), max_iter=300, random_state=seed).fit(X, y)
    return clf.coefs_, clf.intercepts_, X


@pytest.mark.parametrize("mode, target", [("parallel", 0.7), ("cascade", 0.85)])
def test_common_density_is_reached_with_one_epsilon_for_every_layer(mode, target):
    Ws, bs, X = trained_net()
    net = prune_network(Ws, bs, X, density=target, mode=mode)
    assert abs(net.kept - target) <= DENSITY_TOL
    assert net.search.converged and net.search.kept == pytest.approx(net.kept)
    eps = net.search.epsilon
    if mode == "parallel":
        np.testing.assert_allclose(net.report["epsilon_rel"], eps, rtol=1e-12)
    else:
        assert net.report["epsilon_rel"].iloc[0] == pytest.approx(eps, rel=1e-12)
    assert (net.report["status"] == "optimal").all()
    assert net.settings["density"] == target and net.settings["epsilon"] == eps
    # the network found is the prune at that ε (warm starts change iterations, not the answer's support
    # beyond the solver's tolerance)
    again = prune_network(Ws, bs, X, epsilon=eps, mode=mode)
    assert abs(again.kept - net.kept) <= DENSITY_TOL


@pytest.mark.parametrize("mode, targets", [("parallel", [0.75, 0.6, 0.7]), ("cascade", [0.7, 0.85, 0.8])])
def test_per_layer_densities(mode, targets):
    Ws, bs, X = trained_net(1)
    net = prune_network(Ws, bs, X, density=targets, mode=mode)
    assert_per_layer_search(net, targets, mode)


def assert_per_layer_search(net, targets, mode) -> set:
    """Each layer's search either meets its target (within the tolerance or one weight) or ends where it
    must; returns the kinds of ending seen ("met", "jump", "floor")."""
    assert len(net.search) == len(targets)
    sizes = net.report["n_in"] * net.report["n_out"]
    kinds = set()
    for s, kept, target, size in zip(net.search, net.report["kept"], targets, sizes, strict=False):
        if s.converged:
            assert abs(kept - target) <= max(DENSITY_TOL, 1 / size)  # one weight
            kinds.add("met")
        else:
            below = [t.epsilon for t in s.trials if t.kept < target]
            above = [t.epsilon for t in s.trials if t.kept > target]
            if above:
                # the kept share jumps over the window at one ε (the ℓ1 optimum there is not unique: exact
                # solvers may return supports of different sizes): the search must have bracketed that jump
                assert below and min(below) - max(above) <= 1e-2 * min(below)
                kinds.add("jump")
            else:
                # a cascade layer keeps less than its target even at its feasibility floor (the least ε_ℓ it
                # may search): the search stops there, at the smallest ε it could try
                assert mode == "cascade" and s.epsilon == min(below)
                kinds.add("floor")
    if mode == "cascade":  # layers ≥ 2 search ε_ℓ at or above the γ = 1 value: still feasible, still optimal
        assert (net.report["status"] == "optimal").all()
    return kinds


def test_per_layer_targets_beyond_the_cascade_floor():
    """Targets the cascade cannot reach: layers 2 and 3 keep less than 95 % even at their feasibility floor
    (ε_ℓ at γ = 1), so their searches stop there, each with a warning; the test above never sees this."""
    Ws, bs, X = trained_net(1)
    with pytest.warns(UserWarning, match="layer 2: density target 0.95 not reached"):
        net = prune_network(Ws, bs, X, density=[0.3, 0.95, 0.95], mode="cascade")
    assert "floor" in assert_per_layer_search(net, [0.3, 0.95, 0.95], "cascade")
    assert not net.search[1].converged and not net.search[2].converged


def test_density_errors_name_the_argument():
    Ws, bs, X = random_net(42)
    with pytest.raises(ValueError, match="either epsilon or density"):
        prune_network(Ws, bs, X, epsilon=0.1, density=0.2)
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="density"):
            prune_network(Ws, bs, X, density=bad)
    with pytest.raises(ValueError, match="density has 2"):
        prune_network(Ws, bs, X, density=[0.2, 0.3])
    with pytest.raises(TypeError, match=r"density\[1\]"):
        prune_network(Ws, bs, X, density=[0.2, "0.3", 0.4])


def test_unreachable_density_warns():
    Ws, bs, X = random_net(43)
    with pytest.warns(UserWarning, match="density target 1 not reached"):
        net = prune_network(Ws, bs, X, density=1.0, solver="reference")
    assert not net.search.converged and net.kept < 1


# ------------------------------------------------------------------------------------------ reweighting
def test_reweighted_rounds_are_certified_for_the_weighted_norm():
    d = random_layer(40, 6, 400, gain=0.1, bias=True, seed=11)
    plain = prune_layer(d.X, d.Y, d.epsilon, d.W0, refit=False)
    res = prune_layer(d.X, d.Y, d.epsilon, d.W0, refit=False, reweight=2)
    assert res.row["reweight_rounds"] == 2 and res.solution.status == "optimal"
    w = res.l1_weights
    assert w.shape == d.W0.shape and np.all((w > 0) & (w <= 1))
    prob = layer_problem(d.X, d.Y, d.epsilon, weights=w)
    # the reported gap is the weighted program's, certified by a dual-feasible Λ
    assert prob.dual_infeasibility(res.solution.dual) <= 1e-12
    assert res.row["gap"] == pytest.approx(prob.gap(res.W_l1, res.solution.dual), rel=1e-9, abs=1e-12)
    assert abs(res.row["gap"]) <= 1e-3
    assert prob.violation(res.W_l1) <= 1e-4
    # the exact weighted optimum (reference) agrees, and weak duality holds
    from nettrim import reference

    ref = reference.solve(d.X, d.Y, d.epsilon, weights=w)
    assert prob.dual_objective(res.solution.dual) <= ref.objective * (1 + 1e-6)
    assert prob.objective(res.W_l1) == pytest.approx(ref.objective, rel=2e-3)
    # reweighting moves toward ℓ0: fewer weights at the same ε on this layer
    assert res.row["nnz_after"] < plain.row["nnz_after"]


def test_network_reweight_rounds_and_refit_together():
    Ws, bs, X = trained_net(2)
    plain = prune_network(Ws, bs, X, epsilon=0.1, mode="cascade")
    net = prune_network(Ws, bs, X, epsilon=0.1, mode="cascade", reweight=1)
    rep = net.report
    assert (rep["reweight_rounds"] == 1).all() and (rep["status"] == "optimal").all()
    assert (rep["layer_rel_error"] <= rep["epsilon_rel"] * (1 + 1e-6)).all()
    assert net.nnz < plain.nnz
    Ws, bs, X = random_net(44)  # the reference (CVXPY) path passes the weights through as well
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = prune_network(Ws, bs, X, epsilon=0.1, mode="parallel", reweight=1, solver="reference")
    assert (ref.report["reweight_rounds"] == 1).all() and (ref.report["status"] == "optimal").all()


def test_start_epsilon_is_the_anchored_power_law_and_checks_its_input():
    """The first ε of a density search: logit(k) moves by slope·Δlog ε from the anchor (ε₀, k₀)."""
    import math

    import pytest

    from nettrim.network import START_ANCHOR, start_epsilon

    eps0, k0 = START_ANCHOR
    assert start_epsilon(k0) == pytest.approx(eps0, rel=1e-12)
    for target in (0.05, 0.2, 0.6):
        eps = start_epsilon(target, slope=-1.5)
        logit = math.log(target / (1 - target)) - math.log(k0 / (1 - k0))
        assert math.log(eps / eps0) == pytest.approx(logit / -1.5, rel=1e-12)
    for bad, err in ((0.0, ValueError), (1.5, ValueError), (float("nan"), ValueError), ("x", TypeError)):
        with pytest.raises(err, match="target"):
            start_epsilon(bad)
    with pytest.raises(ValueError, match="slope"):
        start_epsilon(0.2, slope=0.0)
