"""The network API as a user meets it: predictions, the way back to scikit-learn, files, options, output."""

import warnings

import numpy as np
import pandas as pd
import pytest

import nettrim
from nettrim.network import PrunedNetwork, forward, prune_network
from test_network import random_net


def mlp(n_classes, seed=0):
    """A real MLPClassifier trained in the test on a tiny data set (binary: one logistic output)."""
    from sklearn.datasets import make_classification
    from sklearn.neural_network import MLPClassifier

    X, y = make_classification(n_samples=240, n_features=8, n_informative=5, n_classes=n_classes,
                               n_clusters_per_class=1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((16, 8), activation="relu", max_iter=300, random_state=seed).fit(X, y)
    return clf, X, y


def unpruned(clf) -> PrunedNetwork:
    """The estimator's own weights wrapped as a PrunedNetwork (nothing pruned)."""
    return PrunedNetwork(weights=[np.array(W) for W in clf.coefs_], biases=[np.array(b) for b in clf.intercepts_],
                         report=pd.DataFrame(), mode="parallel", classes=clf.classes_)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_matches_scikit_learn(n_classes):
    """Binary classifiers have ONE logistic output: class 1 where the logit is > 0 (argmax of a P×1 array
    would say class 0 for every sample)."""
    clf, X, y = mlp(n_classes)
    assert clf.coefs_[-1].shape[1] == (1 if n_classes == 2 else n_classes)
    net = unpruned(clf)
    np.testing.assert_array_equal(net.predict(X), clf.predict(X))
    assert net.score(X, y) == clf.score(X, y) > 0.8
    assert len(np.unique(net.predict(X))) == n_classes
    with pytest.raises(ValueError, match="y contains NaN"):
        net.score(X, np.full(len(y), np.nan))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_round_trip_reproduces_the_estimator_score(n_classes, tmp_path):
    clf, X, y = mlp(n_classes, seed=1)
    assert unpruned(clf).apply_to(clf).score(X, y) == clf.score(X, y)   # nothing pruned: the same model
    net = prune_network(clf.coefs_, clf.intercepts_, X, epsilon=0.1, mode="cascade", solver="reference")
    assert 0 < net.kept < 1
    net.classes = clf.classes_
    pruned_clf = net.apply_to(clf)
    assert pruned_clf is not clf and clf.coefs_[0] is not pruned_clf.coefs_[0]
    assert np.count_nonzero(np.concatenate([W.ravel() for W in pruned_clf.coefs_])) == net.nnz
    np.testing.assert_array_equal(pruned_clf.predict(X), net.predict(X))
    assert pruned_clf.score(X, y) == net.score(X, y)
    # save and load: weights, biases, report, settings, classes
    path = net.save(tmp_path / "pruned")
    assert path.suffix == ".npz"
    back = PrunedNetwork.load(path)
    for a, b in zip(back.weights + back.biases, net.weights + net.biases, strict=False):
        np.testing.assert_array_equal(a, b)
    assert list(back.report.columns) == list(net.report.columns)
    for col in net.report.columns:
        if not pd.api.types.is_numeric_dtype(net.report[col]) or net.report[col].dtype == bool:
            assert list(back.report[col]) == list(net.report[col])
        else:
            np.testing.assert_allclose(back.report[col].to_numpy(dtype=float), net.report[col].to_numpy(dtype=float))
    assert back.settings["epsilon"] == 0.1 and back.settings["mode"] == "cascade"
    assert back.apply_to(clf).score(X, y) == pruned_clf.score(X, y)
    np.testing.assert_array_equal(back.classes, clf.classes_)
    with np.load(path, allow_pickle=False) as z:        # readable without pickle
        assert "W0" in z.files and "meta" in z.files


def test_apply_to_checks_the_estimator():
    clf, _, _ = mlp(3)
    net = unpruned(clf)
    with pytest.raises(TypeError, match="fitted scikit-learn MLP"):
        net.apply_to(object())
    clf2, _, _ = mlp(2)
    with pytest.raises(ValueError, match="differ"):
        net.apply_to(clf2)


def test_repr_is_compact():
    Ws, bs, X = random_net(30)
    net = prune_network(Ws, bs, X, epsilon=0.2, solver="reference")
    text = repr(net)
    assert text.startswith("PrunedNetwork(6-12-8-3, mode='parallel', kept ") and "\n" not in text and len(text) < 200


def test_unknown_options_fail_up_front_naming_the_allowed_ones(monkeypatch):
    Ws, bs, X = random_net(31)
    import nettrim._schemes as schemes

    def no_work(*args, **kwargs):
        raise AssertionError("the options must be checked before any work")

    monkeypatch.setattr(schemes, "forward", no_work)
    with pytest.raises(TypeError, match=r"\['eps'\].*eps_abs.*max_iter"):
        prune_network(Ws, bs, X, eps=0.1)
    with pytest.raises(TypeError, match="'eps'"):
        prune_network(Ws, bs, X, solver="clarabel", eps=0.1)
    with pytest.raises(TypeError, match="weights"):
        prune_network(Ws, bs, X, weights=np.ones((7, 12)))
    for bad in ("no", 3, 0.5):
        with pytest.raises(TypeError, match="verbose"):
            prune_network(Ws, bs, X, verbose=bad)
    with pytest.raises(TypeError, match="refit"):
        prune_network(Ws, bs, X, refit="yes")
    with pytest.raises(TypeError, match="reweight"):
        prune_network(Ws, bs, X, reweight=True)
    with pytest.raises(ValueError, match="blas_threads"):
        prune_network(Ws, bs, X, blas_threads=0)


def test_solver_options_default_to_the_pruning_options_and_override_them():
    from nettrim.fast import PRUNING_OPTIONS

    Ws, bs, X = random_net(32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = prune_network(Ws, bs, X, epsilon=0.1)
    assert net.settings["solver_options"] == PRUNING_OPTIONS
    # the documented pruning grade: every layer certified at the options in force, or a warning names it
    warned = {int(str(w.message).split(":")[0].split()[1]) for w in caught
              if issubclass(w.category, nettrim.ConvergenceWarning)}
    for _, row in net.report.iterrows():
        if row["layer"] in warned:
            continue
        assert row["status"] == "optimal"
        assert row["violation"] <= row["violation_l1"] <= PRUNING_OPTIONS["eps_violation"]
        if "eps_gap" in PRUNING_OPTIONS:
            assert abs(row["gap"]) <= PRUNING_OPTIONS["eps_gap"]
    net = prune_network(Ws, bs, X, epsilon=0.1, eps_rel=1e-6, refit=False)
    assert net.settings["solver_options"] == {**PRUNING_OPTIONS, "eps_rel": 1e-6}


def test_optimal_layers_above_the_certificate_asked_for_are_named():
    from nettrim.network import _uncertified

    row = dict(violation_l1=2e-4, gap=5e-3)
    assert _uncertified(row, dict(eps_violation=1e-4, eps_gap=1e-3)) == (
        "relative violation 2.00e-04 > eps_violation = 0.0001; certified gap 5.00e-03 outside ±eps_gap = 0.001")
    # a gap below −eps_gap (the answer provably below the optimum) is named too
    assert _uncertified(dict(violation_l1=0.0, gap=-5e-3), dict(eps_gap=1e-3)).startswith("certified gap -5.00e-03")
    assert _uncertified(dict(violation_l1=0.0, gap=float("nan")), dict(eps_gap=1e-3)).startswith("certified gap nan")
    assert _uncertified(row, dict(eps_violation=1e-3, eps_gap=1e-2)) == ""
    assert _uncertified(row, {}) == ""                    # the reference: its status is the check


def test_non_optimal_layers_warn_with_a_filterable_category():
    Ws, bs, X = random_net(33)
    with pytest.warns(nettrim.ConvergenceWarning, match="status 'max_iter'"):
        prune_network(Ws, bs, X, epsilon=0.1, max_iter=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", nettrim.ConvergenceWarning)
        prune_network(Ws, bs, X, epsilon=0.1, max_iter=1)
    assert not [w for w in caught if issubclass(w.category, nettrim.ConvergenceWarning)]


def test_progress_lines_per_layer_and_labelled_solver_output(capsys):
    Ws, bs, X = random_net(34)
    prune_network(Ws, bs, X, epsilon=0.1)
    assert capsys.readouterr().out == ""                 # silent by default
    prune_network(Ws, bs, X, epsilon=0.1, verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines):
        assert line.startswith(f"layer {i + 1}/3: kept ") and "error" in line and "optimal" in line and " s" in line
    prune_network(Ws, bs, X, epsilon=0.1, verbose=2, mode="cascade")
    out = capsys.readouterr().out.strip().splitlines()
    solver_lines = [line for line in out if line.startswith("[layer ")]
    assert solver_lines and {line.split("]")[0] for line in solver_lines} == {"[layer 1/3", "[layer 2/3", "[layer 3/3"}
    assert sum(line.startswith("layer ") for line in out) == 3


def test_blas_threads_and_workers_give_the_same_network():
    Ws, bs, X = random_net(35)
    a = prune_network(Ws, bs, X, epsilon=0.1, blas_threads=1)
    b = prune_network(Ws, bs, X, epsilon=0.1, jobs=2)
    for Wa, Wb in zip(a.weights, b.weights, strict=False):
        np.testing.assert_allclose(Wa, Wb, atol=1e-9 * np.abs(Wa).max())


def test_top_level_names():
    from nettrim.magnitude import magnitude_prune

    assert nettrim.magnitude_prune is magnitude_prune
    assert nettrim.PrunedNetwork is PrunedNetwork
    assert issubclass(nettrim.ConvergenceWarning, UserWarning)
    assert callable(forward)


@pytest.mark.parametrize("module", ["_forward", "_layer", "_refit", "_gram", "_density", "_result", "network"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(importlib.import_module(f"nettrim.{module}"))
    assert result.attempted > 0 and result.failed == 0
