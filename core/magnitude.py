r"""Magnitude pruning: the baseline Net-Trim is compared against.

Layer by layer, keep the ``k_ℓ`` entries of :math:`W_\ell` with the largest :math:`|w|` and set the rest
to zero. Comparing at the *same per-layer* non-zero count as a Net-Trim result isolates the question
"which weights", not "how many".
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import as_float_matrix

__all__ = ["magnitude_prune", "support_masks"]


def magnitude_prune(weights, nnz_per_layer) -> list[np.ndarray]:
    """Keep the ``nnz_per_layer[ℓ]`` largest-magnitude entries of each ``weights[ℓ]``.

    Parameters
    ----------
    weights : sequence of array_like, each shape (n_in, n_out)
        The layer weights :math:`W_\\ell` (biases are not pruned; pass them through unchanged).
    nnz_per_layer : sequence of int
        How many entries to keep in each layer, ``0 <= nnz_per_layer[ℓ] <= weights[ℓ].size``.

    Returns
    -------
    list of ndarray
        New arrays; exactly ``nnz_per_layer[ℓ]`` entries kept (ties at the threshold are broken by
        position, first in row-major order wins), unless the kept entries include exact zeros of
        ``weights[ℓ]``.

    Raises
    ------
    TypeError, ValueError
        Non-sequence input, a length mismatch, a non-integer or out-of-range count.
    """
    if isinstance(weights, np.ndarray) or not hasattr(weights, "__len__"):
        raise TypeError("weights must be a list of 2-D arrays (one per layer)")
    if isinstance(nnz_per_layer, (str, bytes)) or not hasattr(nnz_per_layer, "__len__"):
        raise TypeError("nnz_per_layer must be a sequence of integers (one per layer)")
    if len(nnz_per_layer) != len(weights):
        raise ValueError(f"nnz_per_layer has {len(nnz_per_layer)} entries but weights has {len(weights)} layers")
    out = []
    for i, (W, k) in enumerate(zip(weights, nnz_per_layer, strict=False)):
        W = as_float_matrix(W, f"weights[{i}]")
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
            raise TypeError(f"nnz_per_layer[{i}] must be an integer, got {type(k).__name__}")
        k = int(k)
        if not 0 <= k <= W.size:
            raise ValueError(f"nnz_per_layer[{i}] must be in [0, {W.size}] (the size of weights[{i}]), got {k}")
        flat = np.abs(W).ravel()
        # stable sort on -|w|: equal magnitudes keep their row-major order, so the result is deterministic
        keep = np.argsort(-flat, kind="stable")[:k]
        mask = np.zeros(W.size, dtype=bool)
        mask[keep] = True
        out.append(np.where(mask.reshape(W.shape), W, 0.0))
    return out


def support_masks(weights) -> list[np.ndarray]:
    """Boolean masks of the non-zero entries of each layer (the support a fine-tuning keeps fixed)."""
    return [np.asarray(W) != 0 for W in weights]
