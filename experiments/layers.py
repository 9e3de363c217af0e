r"""Seeded random layer programs: the one generator the tests, the benchmark and the cross-check share.

A layer is drawn as

.. math::

    X_{ip} \sim \mathcal N(0, 1)\ \text{(the last row all ones with a bias)},\qquad
    W^0_{im} \sim \mathcal N(0, \sigma^2)\cdot \text{mask}_{im},\qquad
    Y = \sigma(W^{0\top} X),\qquad \varepsilon = \text{gain}\cdot\|Y\|_F ,

with the mask either Bernoulli(``density``) entries or exactly ``sparse`` nonzeros per column (an
s-sparse neuron, the setting of the recovery theory), and σ the ReLU or the identity. With
``v_margin > 0`` the inactive set gets a cascade-like threshold
:math:`V_{\Omega^c} = (W^{0\top}X)_{\Omega^c} + \text{margin}\cdot|g|\cdot\mathrm{std}(W^{0\top}X)`
(g standard normal), so the original weights stay feasible.

:func:`ill_layer` draws the same program on an ill-conditioned X of condition number
:math:`\kappa = 10^{\text{spread}}`: either :math:`X = Q_1\,\mathrm{diag}(\sigma)\,Q_2^\top\sqrt P` with
orthonormal :math:`Q_1` (N×N), :math:`Q_2` (P×N) and singular values σ log-spaced from 1 to 1/κ (correlated
features, ``kind="svd"``), or Gaussian rows scaled by those factors (features in wildly different units,
``kind="rows"``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["LayerData", "ill_layer", "random_layer"]


class LayerData(NamedTuple):
    """One seeded layer program and the weights that generated it."""

    X: np.ndarray          # N×P input (samples in columns; last row ones with a bias)
    Y: np.ndarray          # M×P output
    epsilon: float         # absolute ε = gain·‖Y‖_F
    V: np.ndarray | None   # M×P inactive-set threshold, or None (V = 0)
    W0: np.ndarray         # N×M generating weights (feasible for the program)


def random_layer(N: int, M: int, P: int, *, activation: str = "relu", gain: float = 0.05, bias: bool = False,
                 sparse: int | None = None, density: float = 1.0, scale: float | None = None,
                 v_margin: float = 0.0, seed=0) -> LayerData:
    """Draw one seeded layer program (see the module docstring).

    Parameters
    ----------
    N, M, P : int
        Inputs (the ones row included when ``bias``), neurons, samples.
    activation : {"relu", "linear"}
    gain : float
        Relative ε: ``epsilon = gain * ||Y||_F``.
    bias : bool
        Make the last row of X all ones (a bias input).
    sparse : int, optional
        Exactly this many nonzeros per column of W0 (positions uniformly at random).
    density : float
        Otherwise, keep each entry of W0 with this probability (1 = dense).
    scale : float, optional
        Standard deviation σ of the entries of W0 (default 1/sqrt(N)).
    v_margin : float
        > 0 draws a nonzero V on the inactive set (relu only), the original weights staying feasible.
    seed : int or sequence of int
        Seed of ``numpy.random.default_rng``: the same seed gives the same layer.

    Returns
    -------
    LayerData
        ``(X, Y, epsilon, V, W0)``; ``W0`` is feasible for the program.

    Examples
    --------
    >>> import numpy as np, nettrim
    >>> from nettrim.experiments.layers import random_layer
    >>> data = random_layer(20, 5, 100, gain=0.1, seed=0)
    >>> data.X.shape, data.Y.shape, round(float(data.epsilon / np.linalg.norm(data.Y)), 6)
    ((20, 100), (5, 100), 0.1)
    >>> nettrim.layer_problem(data.X, data.Y, data.epsilon, V=data.V).violation(data.W0)
    0.0
    """
    if activation not in ("relu", "linear"):
        raise ValueError(f"activation must be 'relu' or 'linear', got {activation!r}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, P))
    if bias:
        X[-1] = 1.0
    sigma = 1.0 / np.sqrt(N) if scale is None else float(scale)
    W0 = sigma * rng.standard_normal((N, M))
    if sparse is not None:
        for m in range(M):
            W0[rng.permutation(N)[sparse:], m] = 0.0
    elif density < 1.0:
        W0 *= rng.random((N, M)) < density
    Z = W0.T @ X
    Y = np.maximum(Z, 0.0) if activation == "relu" else Z
    V = None
    if v_margin > 0:
        if activation != "relu":
            raise ValueError("v_margin applies to a ReLU layer's inactive set")
        V = np.where(Y > 0, 0.0, Z + v_margin * np.abs(rng.standard_normal(Z.shape)) * Z.std())
    return LayerData(X, Y, gain * float(np.linalg.norm(Y)), V, W0)


def ill_layer(N: int, M: int, P: int, *, spread: float, kind: str = "svd", activation: str = "relu",
              gain: float = 0.0, sparse: int | None = None, density: float = 1.0, seed=0) -> LayerData:
    r"""Draw one seeded layer program on an ill-conditioned X (see the module docstring).

    Parameters
    ----------
    N, M, P : int
        Inputs, neurons, samples (P ≥ N for ``kind="svd"``).
    spread : float
        log10 of the condition number: the scales run from 1 down to :math:`10^{-\text{spread}}`.
    kind : {"svd", "rows"}
        Spread the singular values of X (``"svd"``) or the scales of its rows (``"rows"``).
    activation, gain, sparse, density, seed
        As in :func:`random_layer` (W0 has standard deviation 1/sqrt(N)).

    Returns
    -------
    LayerData
        ``(X, Y, epsilon, None, W0)``; ``W0`` is feasible for the program.

    Examples
    --------
    >>> import numpy as np
    >>> from nettrim.experiments.layers import ill_layer
    >>> d = ill_layer(30, 5, 100, spread=6, seed=0)
    >>> s = np.linalg.svd(d.X, compute_uv=False)
    >>> round(float(np.log10(s[0] / s[-1])), 6)
    6.0
    """
    if activation not in ("relu", "linear"):
        raise ValueError(f"activation must be 'relu' or 'linear', got {activation!r}")
    if kind not in ("svd", "rows"):
        raise ValueError(f"kind must be 'svd' or 'rows', got {kind!r}")
    rng = np.random.default_rng(seed)
    scales = np.logspace(0, -float(spread), N)
    if kind == "svd":
        if P < N:
            raise ValueError(f"kind='svd' needs P >= N, got N={N}, P={P}")
        Q1, _ = np.linalg.qr(rng.standard_normal((N, N)))
        Q2, _ = np.linalg.qr(rng.standard_normal((P, N)))
        X = (Q1 * scales) @ Q2.T * np.sqrt(P)
    else:
        X = rng.standard_normal((N, P)) * scales[:, None]
    W0 = rng.standard_normal((N, M)) / np.sqrt(N)
    if sparse is not None:
        for m in range(M):
            W0[rng.permutation(N)[sparse:], m] = 0.0
    elif density < 1.0:
        W0 *= rng.random((N, M)) < density
    Z = W0.T @ X
    Y = np.maximum(Z, 0.0) if activation == "relu" else Z
    return LayerData(X, Y, gain * float(np.linalg.norm(Y)), None, W0)
