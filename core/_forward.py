r"""The network's signals: validation, the forward pass, the augmented layers and link normalization.

Network convention (scikit-learn's ``MLPClassifier.coefs_`` / ``intercepts_``): ``weights[ℓ]`` is
:math:`W_\ell` with shape (n_in, n_out), ``biases[ℓ]`` is :math:`b_\ell` with shape (n_out,), and data
have samples in **rows** (P × n_in). With :math:`Y^{(0)} = X^\top`,

.. math::

    Y^{(\ell)} = \sigma_\ell\big(W_\ell^\top Y^{(\ell-1)} + b_\ell \mathbf 1^\top\big)
               = \sigma_\ell\big(\tilde W_\ell^\top \tilde Y^{(\ell-1)}\big),
    \qquad \tilde W_\ell = \begin{bmatrix} W_\ell \\ b_\ell^\top \end{bmatrix},\quad
    \tilde Y = \begin{bmatrix} Y \\ \mathbf 1^\top \end{bmatrix},

with :math:`\sigma_\ell` = ReLU for hidden layers and ``last_activation`` for the last.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._validation import as_float_matrix, check_scale

__all__ = ["forward", "link_normalize", "LAST_ACTIVATIONS"]

LAST_ACTIVATIONS = ("linear", "relu")


def check_network(weights, biases):
    """Validate ``weights``/``biases``; return lists of float arrays (biases as 1-D)."""
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
        raise TypeError("weights must be a list (or tuple) of 2-D arrays, one per layer, "
                        f"got {type(weights).__name__}")
    if len(weights) == 0:
        raise ValueError("weights is empty: a network needs at least one layer")
    Ws = [as_float_matrix(W, f"weights[{i}]") for i, W in enumerate(weights)]
    for i, W in enumerate(Ws):
        check_scale(W, f"weights[{i}]", small=False)
    for i in range(1, len(Ws)):
        if Ws[i].shape[0] != Ws[i - 1].shape[1]:
            raise ValueError(f"weights[{i}] has {Ws[i].shape[0]} rows but weights[{i - 1}] has {Ws[i - 1].shape[1]} "
                             "columns; weights[i] must have shape (n_in, n_out) with n_in = n_out of the layer before")
    if biases is None:
        return Ws, None
    if isinstance(biases, np.ndarray) or not isinstance(biases, (list, tuple)):
        raise TypeError(f"biases must be a list (or tuple) of 1-D arrays or None, got {type(biases).__name__}")
    if len(biases) != len(Ws):
        raise ValueError(f"biases has {len(biases)} entries but weights has {len(Ws)} layers")
    bs = []
    for i, b in enumerate(biases):
        arr = np.asarray(b)
        if arr.ndim != 1:
            raise ValueError(f"biases[{i}] must be 1-D with shape ({Ws[i].shape[1]},), got shape {arr.shape}")
        arr = as_float_matrix(arr[None, :], f"biases[{i}]")[0]
        check_scale(arr, f"biases[{i}]", small=False)
        if arr.shape[0] != Ws[i].shape[1]:
            raise ValueError(f"biases[{i}] must have shape ({Ws[i].shape[1]},) to match weights[{i}] "
                             f"{Ws[i].shape}, got ({arr.shape[0]},)")
        bs.append(arr)
    return Ws, bs


def check_data(X, n_in: int, name: str = "X") -> np.ndarray:
    X = as_float_matrix(X, name)
    check_scale(X, name)
    if X.shape[1] != n_in:
        raise ValueError(f"{name} must have shape (P, {n_in}) with samples in ROWS (the network has {n_in} inputs), "
                         f"got {X.shape}")
    return X


def check_choice(value, name: str, choices) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {choices}, got {type(value).__name__}")
    if value.lower() not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value.lower()


def activations(n_layers: int, last_activation: str) -> list[str]:
    return ["relu"] * (n_layers - 1) + [last_activation]


def augment(W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    r""":math:`\tilde W = [W; b^\top]` (W itself without a bias)."""
    return W if b is None else np.vstack([W, b[None, :]])


def forward(weights, biases, X: ArrayLike, *, last_activation: str = "linear", return_all: bool = False):
    r"""Run the network on ``X`` (samples in rows).

    Parameters
    ----------
    weights, biases
        As in :func:`nettrim.prune_network` (``biases=None`` for a network without biases).
    X : array_like, shape (P, n_in)
    last_activation : {"linear", "relu"}
    return_all : bool
        Return every signal :math:`[Y^{(0)}, \dots, Y^{(L)}]` (each P × n_ℓ, samples in rows) instead of
        the output only.

    Returns
    -------
    ndarray (P, n_out) or list of ndarray

    Examples
    --------
    >>> import numpy as np
    >>> W = [np.array([[1.0, -1.0]]), np.array([[1.0], [1.0]])]
    >>> forward(W, None, np.array([[2.0], [-3.0]]))     # relu(x, -x) summed: |x|
    array([[2.],
           [3.]])
    """
    Ws, bs = check_network(weights, biases)
    last_activation = check_choice(last_activation, "last_activation", LAST_ACTIVATIONS)
    H = check_data(X, Ws[0].shape[0])
    signals = [H]
    for i, (W, act) in enumerate(zip(Ws, activations(len(Ws), last_activation), strict=False)):
        H = H @ W
        if bs is not None:
            H = H + bs[i]
        if act == "relu":
            H = np.maximum(H, 0.0)
        signals.append(H)
    return signals if return_all else H


def link_normalize(weights, biases) -> tuple[list, list | None, float]:
    r"""Rescale a ReLU network so that every augmented layer has :math:`\|\tilde W_\ell\|_1 = 1`.

    By positive homogeneity, :math:`\sigma(c\,z) = c\,\sigma(z)` for c > 0. Scaling
    :math:`W_\ell` by :math:`c_\ell` scales :math:`Y^{(\ell)}` by :math:`c_\ell` — but the appended row of
    ones does **not** scale, so a bias must carry the scale of everything before it. With
    :math:`s_\ell = \prod_{j\le\ell} c_j` (:math:`s_0 = 1`) the normalized network is

    .. math::

        W'_\ell = c_\ell W_\ell,\qquad b'_\ell = s_\ell\, b_\ell,\qquad
        Y'^{(\ell)} = s_\ell\, Y^{(\ell)} \ \text{(by induction)},

    and :math:`\|\tilde W'_\ell\|_1 = c_\ell(\|W_\ell\|_1 + s_{\ell-1}\|b_\ell\|_1) = 1` fixes
    :math:`c_\ell = 1/(\|W_\ell\|_1 + s_{\ell-1}\|b_\ell\|_1)`, layer after layer. The bias row counts in the
    norm because Net-Trim prunes the augmented matrix: the consistency theorems bound
    :math:`\|\hat W_\ell^\top D\|_F \le \|\hat W_\ell\|_1 \|D\|_F` on the weight rows only (a signal
    difference D has a zero ones-row), and :math:`\|\hat W_\ell\|_1 \le \|\hat{\tilde W}_\ell\|_1 \le
    \|\tilde W_\ell\|_1 = 1`. The predicted class (argmax of the output) is unchanged.

    Returns
    -------
    weights, biases : lists of ndarray
        The normalized network (``biases`` is None if it was None).
    scale : float
        :math:`s_L`: the normalized network's output is ``scale`` times the original one.

    Examples
    --------
    >>> import numpy as np
    >>> W, b, s = link_normalize([np.array([[2.0, -2.0]]), np.array([[1.0], [3.0]])], None)
    >>> [float(np.abs(w).sum()) for w in W], s
    ([1.0, 1.0], 0.0625)
    """
    Ws, bs = check_network(weights, biases)
    s = 1.0
    out_W, out_b = [], ([] if bs is not None else None)
    for i, W in enumerate(Ws):
        norm = np.abs(W).sum() + (s * np.abs(bs[i]).sum() if bs is not None else 0.0)
        if norm == 0:
            raise ValueError(f"layer {i} is all zero (weights[{i}] and biases[{i}]): it cannot be link-normalized")
        c = 1.0 / float(norm)
        s *= c
        out_W.append(c * W)
        if bs is not None:
            out_b.append(s * bs[i])
    return out_W, out_b, s


def columns(H: np.ndarray, with_bias: bool) -> np.ndarray:
    """Signal in rows (P × n) -> layer-program input in columns, with the row of ones if biased."""
    Xc = H.T
    if with_bias:
        Xc = np.vstack([Xc, np.ones((1, H.shape[0]))])
    return np.ascontiguousarray(Xc)
