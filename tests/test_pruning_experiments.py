"""The pruning experiments: offline data, cached models, the cells' measurements, outputs and resume."""

import argparse
import warnings

import numpy as np
import pandas as pd
import pytest

from nettrim.experiments.data import load_dataset
from nettrim.experiments.models import accuracy, get_model, predict_classes
from nettrim.experiments.pruning import (
    Setting,
    bias_free,
    consistency_cell,
    finetune,
    load_pruned,
    prune_cell,
    run_setting,
    setup,
)
from nettrim.network import forward

TINY = dict(dataset="digits", hidden=(16,), train_iter=40, n_calib=300, eps_grid=(0.1,), consistency_eps=(0.1,),
            noise_levels=(0.0, 0.5), finetune_epochs=2, tag="test",
            solver_options=dict(eps_abs=1e-5, eps_rel=1e-4, eps_violation=1e-4, max_iter=20000))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_split_is_deterministic_stratified_and_scaled(digits):
    again = load_dataset("digits")
    assert np.array_equal(digits.X_test, again.X_test) and np.array_equal(digits.y_train, again.y_train)
    assert digits.X_train.shape == (1297, 64) and digits.X_test.shape == (500, 64)
    assert 0.0 <= digits.X_train.min() and digits.X_train.max() <= 1.0
    # each class gets its proportional share of the 500 test images (largest remainder: within one)
    y = np.concatenate([digits.y_train, digits.y_test])
    share = 500 * np.bincount(y) / len(y)
    assert np.all(np.abs(np.bincount(digits.y_test) - share) < 1)
    # no test image is also a training image
    train = {row.tobytes() for row in digits.X_train}
    assert sum(row.tobytes() in train for row in digits.X_test) <= 5  # digits has a few exact duplicates


def test_mnist_split():
    m = load_dataset("mnist")
    assert m.X_train.shape == (4000, 784) and m.X_test.shape == (1000, 784)
    assert np.array_equal(np.bincount(m.y_test), np.full(10, 100))
    assert m.image_shape == (28, 28) and m.X_train.max() == 1.0


def test_model_is_cached_and_reloaded(digits, tmp_path):
    a = get_model(digits, (8,), seed=3, max_iter=20, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    b = get_model(digits, (8,), seed=3, max_iter=20, cache_dir=tmp_path)
    for Wa, Wb in zip(a.weights + a.biases, b.weights + b.biases, strict=False):
        np.testing.assert_array_equal(Wa, Wb)
    assert a.test_accuracy == b.test_accuracy == accuracy(b.weights, b.biases, digits.X_test, digits.y_test)
    assert [W.shape for W in a.weights] == [(64, 8), (8, 10)]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_accuracy_of_a_binary_classifier_matches_scikit_learn(digits):
    """One logistic output: class 1 where the logit is > 0 (an argmax over one column always said 0)."""
    from sklearn.neural_network import MLPClassifier

    pick = np.isin(digits.y_train, (3, 8))
    X, y = digits.X_train[pick], (digits.y_train[pick] == 8).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=60, random_state=0).fit(X, y)
    assert clf.coefs_[-1].shape[1] == 1 and 0.4 < y.mean() < 0.6
    assert accuracy(clf.coefs_, clf.intercepts_, X, y) == pytest.approx(clf.score(X, y))
    assert clf.score(X, y) > 0.9
    multi = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(digits.X_train, digits.y_train)
    Z = forward(multi.coefs_, multi.intercepts_, digits.X_test)
    np.testing.assert_array_equal(predict_classes(Z), multi.predict(digits.X_test))


def test_bias_free_form_computes_the_same_function():
    rng = np.random.default_rng(0)
    sizes = (5, 7, 4, 3)
    Ws = [rng.standard_normal((a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=False)]
    bs = [rng.standard_normal(b) for b in sizes[1:]]
    X = rng.standard_normal((20, 5))
    W2, X2 = bias_free(Ws, bs, X)
    np.testing.assert_allclose(forward(W2, None, X2), forward(Ws, bs, X), rtol=1e-12, atol=1e-12)


def test_finetune_keeps_the_support_and_lowers_the_loss(digits, tmp_path):
    m = get_model(digits, (16,), seed=0, max_iter=40, cache_dir=tmp_path)
    Ws = [np.where(np.abs(W) > np.quantile(np.abs(W), 0.8), W, 0.0) for W in m.weights]

    def loss(W, b):
        Z = forward(W, b, digits.X_train)
        Z = Z - Z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(len(Z)), digits.y_train]))

    W2, b2 = finetune(Ws, m.biases, digits.X_train, digits.y_train, epochs=3, seed=0)
    for a, b in zip(Ws, W2, strict=False):
        np.testing.assert_array_equal(a != 0, b != 0)
    assert loss(W2, b2) < loss(Ws, m.biases)


def test_prune_cell_measurements(tmp_path):
    s = Setting(**TINY)
    rows = pd.DataFrame(prune_cell(s, 0, str(tmp_path / "models"), str(tmp_path / "w"), "parallel", 0.1))
    data = load_dataset("digits")
    model = get_model(data, (16,), seed=0, max_iter=40, cache_dir=tmp_path / "models")
    lay, noise = rows[rows["kind"] == "layer"], rows[rows["kind"] == "noise"]
    assert len(lay) == 2 and len(noise) == 2
    assert (lay["status"] == "optimal").all()
    # Proposition 1 on the calibration data (up to the solver's violation tolerance 1e-4·‖Y‖)
    assert (lay["layer_rel_error"] <= lay["epsilon_rel"] + 1e-4).all()
    # magnitude pruning used exactly Net-Trim's per-layer nnz
    with np.load(tmp_path / "w" / "digits-test-parallel-eps0.1.npz") as z:
        for i, n in enumerate(lay.sort_values("layer")["nnz_after"]):
            assert np.count_nonzero(z[f"W{i}"]) == n == np.count_nonzero(z[f"M{i}"])
        kept = sum(np.count_nonzero(z[f"W{i}"]) for i in range(2)) / sum(W.size for W in model.weights)
    assert rows["kept_total"].iloc[0] == pytest.approx(kept)
    # the saved file (weights and biases) reproduces the cell's accuracies
    path = tmp_path / "w" / "digits-test-parallel-eps0.1.npz"
    assert accuracy(*load_pruned(path, "nettrim"), data.X_test, data.y_test) == rows["acc_nt"].iloc[0]
    assert accuracy(*load_pruned(path, "magnitude"), data.X_test, data.y_test) == rows["acc_mag"].iloc[0]
    W, b = load_pruned(path)
    assert len(W) == len(b) == 2 and [v.shape for v in b] == [(16,), (10,)]
    assert any(not np.array_equal(u, v) for u, v in zip(b, model.biases, strict=False))  # Net-Trim changed the biases
    # r = 0 is the clean test set
    clean = noise[noise["r"] == 0].iloc[0]
    assert clean["noise_acc_orig"] == pytest.approx(model.test_accuracy)
    assert clean["noise_acc_nt"] == pytest.approx(clean["acc_nt"]) and clean["noise_acc_mag"] == pytest.approx(
        clean["acc_mag"])


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_consistency_cell_bounds_hold(mode, tmp_path):
    rows = pd.DataFrame(consistency_cell(Setting(**TINY), 0, str(tmp_path), mode, 0.1))
    assert (rows["status"] == "optimal").all()
    # the solver's violation tolerance (1e-4 relative) is the only slack
    assert (rows["measured"] <= rows["bound"] + 1e-4 * rows["y_norm"]).all()
    assert (rows["measured"] > 0).all()
    # the per-layer step, tight where the theorems' sums are not (past the first layer)
    assert (rows["measured"] <= rows["step_bound"] + 1e-4 * rows["y_norm"]).all()
    assert (rows["step_bound"] <= rows["bound"] * (1 + 1e-9)).all() or mode == "cascade"


def test_run_tag_names_every_explicit_option():
    from nettrim.experiments.pruning import run_tag

    assert run_tag(argparse.Namespace(quick=False), ft=None, calib=None) == "full"
    assert run_tag(argparse.Namespace(quick=True), ft=0, calib=None) == "quick-ft0"
    assert run_tag(argparse.Namespace(quick=False), ft=None, calib=1000) == "full-calib1000"


def test_run_setting_writes_outputs_and_resumes(tmp_path):
    s = Setting(**TINY)
    args = argparse.Namespace(out=tmp_path / "out", figures=tmp_path / "fig", seed=0, jobs=1, dask=None,
                              progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_setting(s, args)
    csv = tmp_path / "out" / "prune-digits-test.csv"
    before = csv.read_text()
    for kind in ("accuracy", "layers", "first_layer", "consistency", "noise"):
        for ext in ("png", "pdf"):
            assert (tmp_path / "fig" / f"prune_digits_test_{kind}.{ext}").stat().st_size > 0
    table = pd.read_csv(tmp_path / "fig" / "prune_digits_test_table.csv")
    assert set(table["mode"]) == {"parallel", "cascade"} and len(table) == 2
    assert (tmp_path / "fig" / "prune_digits_test_table.md").read_text().startswith("| mode |")
    assert not (tmp_path / "fig" / "prune_digits_table.csv").exists()  # the full run's names stay untouched
    run_setting(s, args)  # every cell is done: nothing is recomputed
    assert csv.read_text() == before


@pytest.mark.slow
def test_mnist_whole_network_within_three_minutes(tmp_path):
    """The issue's target: 784-300-100-10, all 4,000 training images, one ε, ≤ 3 min with 2 workers."""
    import time

    from nettrim import prune_network
    from nettrim.experiments.prune_mnist import setting

    s = setting(argparse.Namespace(quick=False, finetune_epochs=0, calib=None))
    _, model, X = setup(s, 0, str(tmp_path))
    assert X.shape == (4000, 784)
    t0 = time.perf_counter()
    net = prune_network(model.weights, model.biases, X, epsilon=0.05, jobs=2, **s.solver_options)
    assert time.perf_counter() - t0 <= 180
    assert (net.report["status"] == "optimal").all()
    assert (net.report["layer_rel_error"] <= 0.05 + 1e-3).all()  # Proposition 1 up to eps_violation
    assert net.kept < 0.5
