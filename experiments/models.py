"""Trained ReLU networks for the pruning experiments: scikit-learn MLPs, seeded and cached on disk.

A model is ``MLPClassifier(activation="relu", solver="adam")`` trained on a :class:`Dataset`'s training
split. Its ``coefs_``/``intercepts_`` are exactly the ``weights``/``biases`` of
:func:`nettrim.prune_network` (last layer: linear logits; the softmax does not change the argmax).
The first training writes ``<cache_dir>/<key>.npz`` (arrays only, no pickle); later runs load it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import Dataset

__all__ = ["Model", "get_model", "accuracy", "correct", "predict_classes"]


@dataclass
class Model:
    weights: list
    biases: list
    train_accuracy: float
    test_accuracy: float
    key: str


def predict_classes(Z) -> np.ndarray:
    """Class index per sample from the network's output ``Z`` (P × n_out), as ``MLPClassifier.predict`` does.

    Several outputs (softmax logits): the argmax. One output (a binary classifier, logistic output): class 1
    where the logit is > 0 (probability > ½), else class 0 — an argmax over one column would always say 0.
    """
    Z = np.asarray(Z)
    if Z.ndim != 2:
        raise ValueError(f"Z must be 2-D (samples × outputs), got shape {Z.shape}")
    return (Z[:, 0] > 0).astype(int) if Z.shape[1] == 1 else np.argmax(Z, axis=1)


def correct(weights, biases, X, y) -> np.ndarray:
    """Per sample: is the network's prediction (:func:`predict_classes`) the label ``y``? (bool array)"""
    from nettrim.network import forward

    return predict_classes(forward(weights, biases, X)) == np.asarray(y)


def accuracy(weights, biases, X, y) -> float:
    """Test accuracy of the network's prediction (:func:`predict_classes`)."""
    return float(np.mean(correct(weights, biases, X, y)))


def _key(data: Dataset, hidden, seed: int, max_iter: int) -> str:
    import sklearn

    return f"{data.name}-{'-'.join(map(str, hidden))}-seed{seed}-it{max_iter}-sk{sklearn.__version__}"


def get_model(data: Dataset, hidden, *, seed: int = 0, max_iter: int = 200, cache_dir=None) -> Model:
    """Train (or load from ``cache_dir``) an MLP with ReLU hidden layers of sizes ``hidden``.

    Parameters
    ----------
    data : Dataset
    hidden : sequence of int
        Hidden layer sizes, e.g. (300, 100) for 784-300-100-10.
    seed : int
        ``random_state`` of the MLP (initialization and batch order).
    max_iter : int
        Adam epochs (training stops earlier when the loss stalls, scikit-learn's ``tol``).
    cache_dir : path, optional
        Where the trained weights are kept; no caching when None.
    """
    hidden = tuple(int(h) for h in hidden)
    key = _key(data, hidden, seed, max_iter)
    path = Path(cache_dir) / f"{key}.npz" if cache_dir is not None else None
    if path is not None and path.exists():
        with np.load(path) as z:
            L = int(z["n_layers"])
            meta = json.loads(str(z["meta"]))
            return Model([z[f"W{i}"] for i in range(L)], [z[f"b{i}"] for i in range(L)],
                         meta["train_accuracy"], meta["test_accuracy"], key)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from nettrim._threads import limit_blas

    clf = MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam", max_iter=max_iter,
                        random_state=seed)
    with warnings.catch_warnings(), limit_blas(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(data.X_train, data.y_train)
    weights = [np.asarray(W, dtype=float) for W in clf.coefs_]
    biases = [np.asarray(b, dtype=float) for b in clf.intercepts_]
    model = Model(weights, biases, accuracy(weights, biases, data.X_train, data.y_train),
                  accuracy(weights, biases, data.X_test, data.y_test), key)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"train_accuracy": model.train_accuracy, "test_accuracy": model.test_accuracy,
                           "hidden": hidden, "seed": seed, "max_iter": max_iter, "n_iter": int(clf.n_iter_)})
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, n_layers=len(weights), meta=meta, **{f"W{i}": W for i, W in enumerate(weights)},
                 **{f"b{i}": b for i, b in enumerate(biases)})
        tmp.replace(path)
    return model
