"""The result of a network prune: the pruned layers, their report, and the way back to scikit-learn."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ._forward import check_network, forward

__all__ = ["PrunedNetwork", "REPORT_COLUMNS", "build_report"]

#: one row per layer in :attr:`PrunedNetwork.report`
REPORT_COLUMNS = ("layer", "n_in", "n_out", "activation", "nnz_before", "nnz_after", "kept", "bias_nnz_after",
                  "rel_error", "layer_rel_error", "epsilon", "epsilon_rel", "dead_neurons", "status",
                  "violation", "gap", "iterations", "time", "peak_mem_mb",
                  # added with the refit and reweighting (the columns above keep their meaning)
                  "layer_rel_error_l1", "violation_l1", "refit", "refit_fallbacks", "refit_time", "reweight_rounds")

# dtypes of the report's columns when read back from a file
_INT_COLUMNS = ("layer", "n_in", "n_out", "nnz_before", "nnz_after", "bias_nnz_after", "dead_neurons", "iterations",
                "refit_fallbacks", "reweight_rounds")
_STR_COLUMNS = ("activation", "status")
_FORMAT = "nettrim.PrunedNetwork/1"


def build_report(rows: list[dict], signals: list, pruned: list) -> pd.DataFrame:
    """The report: the layers' rows with ``layer`` and the network-level ``rel_error`` added.

    ``signals``/``pruned`` are the original and pruned networks' signals Y⁽⁰…ᴸ⁾ on the calibration data.
    """
    out = []
    for i, row in enumerate(rows):
        y_norm = float(np.linalg.norm(signals[i + 1])) or 1.0
        out.append(dict(row, layer=i + 1, rel_error=float(np.linalg.norm(pruned[i + 1] - signals[i + 1])) / y_norm))
    return pd.DataFrame(out, columns=list(REPORT_COLUMNS))


@dataclass(repr=False, eq=False)
class PrunedNetwork:
    """A pruned network and how it was obtained.

    Attributes
    ----------
    weights, biases : list of ndarray
        The pruned :math:`\\hat W_\\ell` (n_in × n_out) and :math:`\\hat b_\\ell` (n_out,); ``biases`` is None
        for a network without biases.
    report : pandas.DataFrame
        One row per layer, columns :data:`REPORT_COLUMNS`:

        * ``nnz_before``/``nnz_after``/``kept`` count the weight matrix only (the bias row is reported as
          ``bias_nnz_after``); ``dead_neurons`` counts all-zero columns of :math:`\\hat{\\tilde W}_\\ell`;
        * ``rel_error`` is :math:`\\|\\hat Y^{(\\ell)} - Y^{(\\ell)}\\|_F/\\|Y^{(\\ell)}\\|_F` of the pruned
          *network* fed with X; ``layer_rel_error`` the same for the layer alone on its program input
          (the original signal in parallel mode, the pruned one in cascade mode; Proposition 1 bounds it by
          ``epsilon_rel``), ``layer_rel_error_l1`` that of the ℓ1 answer before the refit;
        * ``epsilon`` is the absolute :math:`\\varepsilon_\\ell` and ``epsilon_rel`` = ε_ℓ/‖Y⁽ℓ⁾‖_F;
        * ``status``, ``gap`` (relative duality gap, certified for the last ℓ1 round's weighted norm) and
          ``iterations`` (all rounds) come from the ℓ1 solves; ``violation`` is the relative constraint
          excess of the returned weights (:meth:`nettrim.LayerProblem.violation`, recomputed), and
          ``violation_l1`` that of the ℓ1 answer;
        * ``refit`` tells whether the refit replaced the ℓ1 answer, ``refit_fallbacks`` how many neurons
          kept their ℓ1 column because their refit failed its check, ``refit_time`` its seconds;
          ``reweight_rounds`` the reweighting rounds kept;
        * ``time`` is the layer's wall clock (s, solves and refit) and ``peak_mem_mb`` the peak growth of the
          process's resident memory meanwhile (MB, from the kernel's counters; NaN where the platform has
          none, i.e. outside Linux).
    mode : str
    last_activation : str
    solutions : list of Solution
        The last ℓ1 solve of each layer (augmented weights in ``Solution.W``, before the refit). Not saved
        by :meth:`save`.
    settings : dict
        How the network was pruned: ``epsilon`` (relative; the one a density search found), ``density``,
        ``mode``, ``refit``, ``reweight``, ``gamma``, ``kappa``, ``solver`` and its ``solver_options``.
    search : object
        The density search (:class:`nettrim.network.DensitySearch`, or a list of them, one per layer)
        when a density was asked for; None otherwise. Not saved by :meth:`save`.
    classes : ndarray, optional
        Labels of the output classes (scikit-learn's ``classes_``): :meth:`predict` returns them instead
        of class indices.

    Examples
    --------
    >>> import numpy as np, nettrim
    >>> rng = np.random.default_rng(0)
    >>> W = [rng.standard_normal((4, 8)), rng.standard_normal((8, 3))]
    >>> net = nettrim.prune_network(W, None, rng.standard_normal((50, 4)), epsilon=0.1)
    >>> net.weights[0].shape, 0 < net.kept < 1
    ((4, 8), True)
    """

    weights: list
    biases: list | None
    report: pd.DataFrame
    mode: str
    last_activation: str = "linear"
    solutions: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    search: object = None
    classes: np.ndarray | None = None

    # ------------------------------------------------------------------ using it
    def forward(self, X: ArrayLike, *, return_all: bool = False):
        """Output of the pruned network on ``X`` (samples in rows); see :func:`nettrim.network.forward`."""
        return forward(self.weights, self.biases, X, last_activation=self.last_activation, return_all=return_all)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class per sample, as scikit-learn's ``MLPClassifier.predict``.

        Several outputs: the argmax of the logits. One output (a binary classifier, logistic output):
        class 1 where the logit is > 0, i.e. probability > 0.5. Class indices, or ``classes[index]`` when
        :attr:`classes` is set.
        """
        Z = self.forward(X)
        idx = (Z[:, 0] > 0).astype(int) if Z.shape[1] == 1 else np.argmax(Z, axis=1)
        if self.classes is None:
            return idx
        classes = np.asarray(self.classes)
        n_classes = max(Z.shape[1], 2)
        if classes.ndim != 1 or classes.shape[0] != n_classes:
            raise ValueError(f"classes must be 1-D with one label per class ({n_classes} for a network with "
                             f"{Z.shape[1]} output(s)), got shape {classes.shape}")
        return classes[idx]

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Mean accuracy of :meth:`predict` on ``(X, y)`` (scikit-learn's ``ClassifierMixin.score``)."""
        y = np.asarray(y)
        pred = self.predict(X)
        if y.shape != pred.shape:
            raise ValueError(f"y must have shape {pred.shape} (one label per row of X), got {y.shape}")
        if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or Inf labels (they match no prediction)")
        return float(np.mean(pred == y))

    @property
    def nnz(self) -> int:
        """Non-zero weights (bias rows excluded)."""
        return int(sum(np.count_nonzero(W) for W in self.weights))

    @property
    def kept(self) -> float:
        """Fraction of weights kept over the whole network (bias rows excluded)."""
        return self.nnz / sum(W.size for W in self.weights)

    def apply_to(self, estimator):
        """A copy of a fitted scikit-learn ``MLPClassifier``/``MLPRegressor`` with the pruned weights.

        The copy's ``coefs_``/``intercepts_`` are the pruned weights and biases (zeros for a network pruned
        without biases); everything else (classes, output activation) is the estimator's, so
        ``net.apply_to(clf).score(X, y) == net.score(X, y)`` when :attr:`classes` is ``clf.classes_``.

        Raises
        ------
        TypeError
            ``estimator`` has no fitted ``coefs_``/``intercepts_``.
        ValueError
            Its layer shapes differ from the pruned network's, or its hidden activation is not ReLU, or the
            network's last layer is ReLU (scikit-learn applies its own output activation to linear logits).
        """
        if not (hasattr(estimator, "coefs_") and hasattr(estimator, "intercepts_")):
            raise TypeError(f"estimator must be a fitted scikit-learn MLP (with coefs_ and intercepts_), got "
                            f"{type(estimator).__name__}")
        shapes = [np.shape(W) for W in estimator.coefs_]
        if shapes != [W.shape for W in self.weights]:
            raise ValueError(f"estimator's layers {shapes} differ from the pruned network's "
                             f"{[W.shape for W in self.weights]}")
        if getattr(estimator, "activation", "relu") != "relu":
            raise ValueError(f"the estimator's hidden activation is {estimator.activation!r}; Net-Trim prunes ReLU "
                             "networks")
        if self.last_activation != "linear":
            raise ValueError("apply_to needs linear logits in the last layer (last_activation='linear'): the "
                             "estimator applies its own output activation")
        out = copy.deepcopy(estimator)
        out.coefs_ = [W.copy() for W in self.weights]
        out.intercepts_ = ([b.copy() for b in self.biases] if self.biases is not None
                           else [np.zeros(W.shape[1]) for W in self.weights])
        return out

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Write weights, biases, report, settings and classes to an ``.npz`` file (no pickle).

        ``solutions`` and ``search`` are not saved. Returns the path written (``.npz`` is appended by
        numpy when missing). Read it back with :meth:`load`.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays = {f"W{i}": W for i, W in enumerate(self.weights)}
        if self.biases is not None:
            arrays.update({f"b{i}": b for i, b in enumerate(self.biases)})
        for col in self.report.columns:
            values = self.report[col].to_numpy()
            arrays[f"report.{col}"] = values.astype(str) if col in _STR_COLUMNS else values.astype(float)
        if self.classes is not None:
            arrays["classes"] = np.asarray(self.classes)
        meta = dict(format=_FORMAT, n_layers=len(self.weights), biases=self.biases is not None, mode=self.mode,
                    last_activation=self.last_activation, columns=list(self.report.columns),
                    settings=_jsonable(self.settings))
        np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, path) -> PrunedNetwork:
        """Read a network written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"{path} is not a file written by PrunedNetwork.save (format {meta.get('format')!r})")
            L = meta["n_layers"]
            weights = [z[f"W{i}"] for i in range(L)]
            biases = [z[f"b{i}"] for i in range(L)] if meta["biases"] else None
            data = {}
            for col in meta["columns"]:
                values = z[f"report.{col}"]
                if col in _INT_COLUMNS:
                    values = values.astype(int)
                elif col == "refit":
                    values = values.astype(bool)
                data[col] = values
            classes = z["classes"] if "classes" in z.files else None
        check_network(weights, biases)
        return cls(weights=weights, biases=biases, report=pd.DataFrame(data, columns=meta["columns"]),
                   mode=meta["mode"], last_activation=meta["last_activation"], settings=meta["settings"],
                   classes=classes)

    def __repr__(self) -> str:
        sizes = "-".join(str(n) for n in [self.weights[0].shape[0]] + [W.shape[1] for W in self.weights])
        status = self.report["status"] if "status" in self.report else pd.Series([], dtype=str)
        bad = int((status != "optimal").sum())
        err = self.report["rel_error"].iloc[-1] if len(self.report) else float("nan")
        return (f"PrunedNetwork({sizes}, mode={self.mode!r}, kept {100 * self.kept:.1f} % "
                f"({self.nnz:,}/{sum(W.size for W in self.weights):,} weights), output rel_error {err:.3g}, "
                + ("all layers optimal)" if bad == 0 else f"{bad} layer(s) not optimal)"))


def _jsonable(value):
    """Settings as JSON: numbers, strings, bools, None, lists and dicts of them; anything else by repr."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
