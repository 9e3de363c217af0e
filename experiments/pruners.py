r"""One-shot pruners that Net-Trim is compared with, written from their papers.

**Layer level** (the paper's notation): a layer maps inputs :math:`X \in \mathbb R^{N\times P}` (samples in
columns) to pre-activations :math:`Z = W^\top X` with :math:`W \in \mathbb R^{N\times M}` (column m is
neuron m). With ``bias=True`` the last row of X is all ones and the last row of W is the bias; the bias row
is never pruned and not counted in ``k``, the number of weights to keep. Every layer function is a pure
function ``f(W, X, k, **settings) -> W_pruned`` on numpy arrays (it never changes its arguments):

* :func:`magnitude` — keep the k largest :math:`|w_{ij}|` (:func:`nettrim.network.magnitude_prune`).
* :func:`magnitude_refit` — the magnitude mask, then per neuron the least-squares fit of the kept weights
  (and the bias) to a target pre-activation, by default the layer's own :math:`Z = W^\top X` (:func:`refit`).
* :func:`wanda` — Sun, Liu, Bair & Kolter, "A simple and effective pruning approach for large language
  models", ICLR 2024: score :math:`|w_{ij}|\,\|x_i\|_2`, compared among the weights of one output neuron,
  no update of the kept values.
* :func:`sparsegpt` — Frantar & Alistarh, "SparseGPT: massive language models can be accurately pruned in
  one-shot", ICML 2023: the inverse-Hessian (OBS) mask and update, processed in blocks of inputs.

**Network level** (:func:`prune_with`): scikit-learn's convention as in :func:`nettrim.prune_network`
(``weights[ℓ]`` is n_in × n_out, ``biases[ℓ]`` n_out, ``X`` P × n_in with samples in rows), a budget given
as a uniform ``density`` or per-layer non-zero counts ``nnz``. Layers are pruned in order, each on the
signal of the *already pruned* layers before it (as both papers do); the target of the least-squares
refit is the *original* network's pre-activation of that layer, so the refit also corrects the error that
the earlier pruned layers let through.
"""

from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg

from nettrim._validation import as_float_matrix, check_scalar
from nettrim.network import forward, magnitude_prune

__all__ = ["magnitude", "magnitude_refit", "refit", "wanda", "sparsegpt", "METHODS", "prune_with",
           "layer_budgets", "PeerNetwork"]

#: SparseGPT's dampening λ = damp·mean(diag H) (1 % in Frantar & Alistarh 2023, §3 and their experiments)
SPARSEGPT_DAMP = 0.01
#: SparseGPT's block of inputs for the lazy batch update and the adaptive mask (B = Bs = 128 in the paper)
SPARSEGPT_BLOCK = 128


# ----------------------------------------------------------------------------------------------- checks
def _check_layer(W, X, k, bias):
    """Validate a layer call; return float copies of W and X and the number of prunable rows."""
    W = as_float_matrix(W, "W")
    X = as_float_matrix(X, "X")
    if X.shape[0] != W.shape[0]:
        raise ValueError(f"X must have N = {W.shape[0]} rows (one per row of W, samples in columns), "
                         f"got shape {X.shape}")
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
    n = W.shape[0] - int(bias)
    if bias and (n < 0 or not np.all(X[-1] == 1.0)):
        raise ValueError("bias=True needs the last row of X to be all ones (the bias input)")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer, got {type(k).__name__}")
    if not 0 <= k <= n * W.shape[1]:
        raise ValueError(f"k must be in [0, {n * W.shape[1]}] (the weights of W{', bias row excluded' if bias else ''}), "
                         f"got {k}")
    return W.copy(), X, n, int(k)


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    """Integers proportional to ``shares`` that sum to ``total`` (largest-remainder rounding)."""
    exact = total * shares / shares.sum()
    out = np.floor(exact).astype(int)
    out[np.argsort(-(exact - out), kind="stable")[: total - out.sum()]] += 1
    return out


# ----------------------------------------------------------------------------------------------- layers
def magnitude(W: ArrayLike, X: ArrayLike, k: int, *, bias: bool = False) -> np.ndarray:
    r"""Keep the ``k`` weights of largest :math:`|w_{ij}|` (X is not used beyond its shape check).

    Parameters
    ----------
    W : array_like, shape (N, M)
    X : array_like, shape (N, P)
    k : int
        Weights to keep (the bias row excluded).
    bias : bool
        The last row of W is a bias (kept unchanged) and the last row of X is ones.

    Returns
    -------
    ndarray, shape (N, M)

    Examples
    --------
    >>> import numpy as np
    >>> magnitude(np.array([[1.0, -3.0], [2.0, 0.5]]), np.ones((2, 4)), 2)
    array([[ 0., -3.],
           [ 2.,  0.]])
    """
    W, X, n, k = _check_layer(W, X, k, bias)
    W[:n] = magnitude_prune([W[:n]], [k])[0]
    return W


def refit(W: ArrayLike, X: ArrayLike, support: ArrayLike, *, target: ArrayLike | None = None) -> np.ndarray:
    r"""Least-squares values on a fixed support, neuron by neuron.

    With :math:`S_m = \{i : \text{support}_{im}\}` and the target :math:`Z` (M × P; default :math:`W^\top X`),

    .. math::

        \hat u_m = \arg\min_{u:\ u_{S_m^c} = 0} \|X^\top u - z_m\|_2,

    the minimum-norm solution when :math:`X_{S_m}` has dependent rows (an input that is zero on every
    sample, e.g. a border pixel, gets exactly 0). Solved from the normal equations
    :math:`(X X^\top)_{S_m S_m} u = (X Z^\top)_{S_m m}` by an SVD-based least squares (scipy ``gelsd``), so
    the N × N Gram matrix is formed once for all neurons.

    Parameters
    ----------
    W : array_like, shape (N, M)
        Only used for the default target.
    X : array_like, shape (N, P)
    support : array_like of bool, shape (N, M)
        The entries allowed to be non-zero (a bias row belongs to the support like any other).
    target : array_like, shape (M, P), optional
        The pre-activations to fit; default the layer's own :math:`W^\top X`.

    Returns
    -------
    ndarray, shape (N, M)
        Zero off the support.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    >>> refit(np.array([[1.0], [1.0]]), X, np.array([[True], [False]])).round(6)  # fit [1, 1, 2] by u·[1, 0, 1]
    array([[1.5],
           [0. ]])
    """
    W = as_float_matrix(W, "W")
    X = as_float_matrix(X, "X", shape=(W.shape[0], None))
    S = np.asarray(support)
    if S.dtype != np.bool_ or S.shape != W.shape:
        raise ValueError(f"support must be a boolean array of shape {W.shape}, got {S.dtype} {S.shape}")
    Z = W.T @ X if target is None else as_float_matrix(target, "target", shape=(W.shape[1], X.shape[1]))
    G = X @ X.T
    R = X @ Z.T
    out = np.zeros_like(W)
    live = X.any(axis=1)  # an input that is zero on every sample gets exactly 0 (its min-norm value)
    for m in range(W.shape[1]):
        idx = np.flatnonzero(S[:, m] & live)
        if idx.size:
            out[idx, m] = linalg.lstsq(G[np.ix_(idx, idx)], R[idx, m], lapack_driver="gelsd")[0]
    return out


def magnitude_refit(W: ArrayLike, X: ArrayLike, k: int, *, bias: bool = False,
                    target: ArrayLike | None = None) -> np.ndarray:
    r"""Magnitude mask, then the least-squares refit of the kept weights and the bias (:func:`refit`).

    Per neuron m, with :math:`S_m` the kept weights of column m (plus the bias row when ``bias``):
    :math:`\hat u_m = \arg\min_{u_{S_m^c}=0} \|X^\top u - z_m\|_2`, where :math:`z_m` is row m of the
    target pre-activation, the layer's own :math:`W^\top X` by default. The network driver
    :func:`prune_with` passes the *original network's* pre-activation of the layer as the target while X
    is the pruned network's signal. A kept weight on an all-zero input row is refitted to 0, so the result
    may have fewer than k non-zeros.

    Parameters
    ----------
    W : array_like, shape (N, M)
    X : array_like, shape (N, P)
    k : int
        Weights to keep (the bias row excluded).
    bias : bool
        The last row of W is a bias (always kept, refitted) and the last row of X is ones.
    target : array_like, shape (M, P), optional

    Returns
    -------
    ndarray, shape (N, M)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    >>> magnitude_refit(np.array([[2.0], [1.0]]), X, 1).round(6)  # keeps w_1, fits [2, 1, 3] by u·[1, 0, 1]
    array([[2.5],
           [0. ]])
    """
    mask = magnitude(W, X, k, bias=bias) != 0
    if bias:
        mask[-1] = True
    return refit(W, X, mask, target=target)


def wanda(W: ArrayLike, X: ArrayLike, k: int, *, bias: bool = False) -> np.ndarray:
    r"""Wanda (Sun et al., ICLR 2024): keep the weights of largest :math:`|w_{im}|\,\|x_i\|_2` per neuron.

    :math:`x_i` is row i of X (input feature i over the P calibration samples). Scores are compared among
    the weights of one output neuron (column m), and every neuron keeps the same number,
    :math:`\lfloor k/M \rfloor`; the :math:`k \bmod M` extra weights go to the neurons whose next candidate
    scores highest. Kept weights keep their values; the bias row is untouched.

    Parameters
    ----------
    W : array_like, shape (N, M)
    X : array_like, shape (N, P)
    k : int
        Weights to keep (the bias row excluded).
    bias : bool
        The last row of W is a bias and the last row of X is ones.

    Returns
    -------
    ndarray, shape (N, M)

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[4.0, 1.0], [1.0, 1.0], [1.0, -2.0]])
    >>> X = np.array([[0.5, 0.0], [3.0, 4.0], [1.0, 0.0]])  # row norms 0.5, 5, 1
    >>> wanda(W, X, 2)  # scores [[2, 0.5], [5, 5], [1, 2]]
    array([[0., 0.],
           [1., 1.],
           [0., 0.]])
    """
    W, X, n, k = _check_layer(W, X, k, bias)
    M = W.shape[1]
    score = np.abs(W[:n]) * np.linalg.norm(X[:n], axis=1)[:, None]
    order = np.argsort(-score, axis=0, kind="stable")  # per column, best first (ties: first row wins)
    base, extra = divmod(k, M)
    counts = np.full(M, base)
    if extra:
        nxt = score[order[base], np.arange(M)]  # each neuron's best candidate beyond its base share
        counts[np.argsort(-nxt, kind="stable")[:extra]] += 1
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n)[:, None], axis=0)
    keep = rank < counts[None, :]
    W[:n] = np.where(keep, W[:n], 0.0)
    return W


def sparsegpt(W: ArrayLike, X: ArrayLike, k: int, *, bias: bool = False, damp: float = SPARSEGPT_DAMP,
              block_size: int = SPARSEGPT_BLOCK) -> np.ndarray:
    r"""SparseGPT (Frantar & Alistarh, ICML 2023, Algorithm 1) for one layer.

    The layer's reconstruction error :math:`\|\hat W^\top X - W^\top X\|_F^2` has the Hessian
    :math:`H = XX^\top + \lambda I` (per neuron), :math:`\lambda` = ``damp``·mean(diag :math:`XX^\top`).
    Let :math:`U` be the upper Cholesky factor of :math:`H^{-1} = U^\top U`. The inputs (rows of W) are
    processed in order, in blocks of ``block_size``:

    1. at the start of a block, prune in it the entries of smallest :math:`w_{im}^2 / U_{ii}^2`, computed
       from the *current* (already updated) W; each block prunes its share of the N·M − k entries, in
       proportion to its size;
    2. row by row, :math:`e = (1 - \text{mask}_i)\odot w_i / U_{ii}` and every later row r of the block
       :math:`w_r \mathrel{-}= U_{ir}\,e` (the OBS update of the remaining weights; it also zeroes the
       pruned entries of row i);
    3. after the block, the rows after it receive the block's errors at once:
       :math:`W_{\text{rest}} \mathrel{-}= U_{\text{block},\text{rest}}^\top E`.

    With ``bias`` the bias row, last, is never pruned and receives the OBS updates (the bias is the weight
    of the constant input). Inputs that are zero on every sample (:math:`H_{ii} = 0`) get the weight 0, as
    in the paper's implementation; they are pruned first because their score is 0.

    Parameters
    ----------
    W : array_like, shape (N, M)
    X : array_like, shape (N, P)
    k : int
        Weights to keep (the bias row excluded).
    bias : bool
        The last row of W is a bias and the last row of X is ones.
    damp : float
        Relative dampening λ/mean(diag XXᵀ), >= 0 (1 % in the paper).
    block_size : int
        Rows per block (128 in the paper).

    Returns
    -------
    ndarray, shape (N, M)

    Examples
    --------
    >>> import numpy as np
    >>> W, X = np.array([[1.0], [1.0]]), np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    >>> sparsegpt(W, X, 1, damp=0.0).round(6)  # prunes w_1, w_2 absorbs it: fits [2, 2, 1] by u·[1, 1, 1]
    array([[0.      ],
           [1.666667]])
    """
    W, X, n, k = _check_layer(W, X, k, bias)
    damp = check_scalar(damp, "damp", low=0.0)
    block_size = check_scalar(block_size, "block_size", low=1, integer=True)
    N, M = W.shape
    H = X @ X.T
    dead = np.diag(H) == 0
    W[dead] = 0.0
    # any positive value would do: a dead input's row and column of H are zero and its weight is zero
    H[dead, dead] = 1.0
    H[np.diag_indices(N)] += damp * np.mean(np.diag(H))
    try:
        c, low = linalg.cho_factor(H, lower=True)
    except linalg.LinAlgError:
        raise ValueError("X Xᵀ + λI is not positive definite: use damp > 0 for inputs that are linearly "
                         "dependent") from None
    Hinv = linalg.cho_solve((c, low), np.eye(N))
    U = linalg.cholesky((Hinv + Hinv.T) / 2, lower=False)
    starts = list(range(0, n, block_size))
    sizes = np.array([min(block_size, n - s) for s in starts], dtype=float)
    prune = _largest_remainder(n * M - k, sizes) if n * M > k else np.zeros(len(starts), dtype=int)
    keep = np.ones((N, M), dtype=bool)
    for s, q in zip(starts, prune):
        e_ = min(s + block_size, n)
        d = np.diag(U)[s:e_]
        score = (W[s:e_] / d[:, None]) ** 2
        mask = np.ones(score.size, dtype=bool)
        mask[np.argsort(score.ravel(), kind="stable")[:q]] = False
        mask = mask.reshape(score.shape)
        keep[s:e_] = mask
        E = np.zeros((e_ - s, M))
        for j in range(s, e_):
            err = np.where(mask[j - s], 0.0, W[j]) / U[j, j]
            W[j:e_] -= np.outer(U[j, j:e_], err)
            E[j - s] = err
        W[e_:] -= U[s:e_, e_:].T @ E
    return np.where(keep, W, 0.0)


#: name -> layer function (all with the signature ``f(W, X, k, *, bias, **settings)``)
METHODS = {"magnitude": magnitude, "magnitude_refit": magnitude_refit, "wanda": wanda, "sparsegpt": sparsegpt}


# ---------------------------------------------------------------------------------------------- network
@dataclass
class PeerNetwork:
    """A network pruned by :func:`prune_with`.

    Attributes
    ----------
    weights, biases : list of ndarray
        Pruned :math:`W_\\ell` (n_in × n_out) and :math:`b_\\ell` (None for a network without biases).
    method : str
    nnz : list of int
        Non-zero weights per layer (biases not counted); at most the budget (a refit can zero a weight).
    """

    weights: list
    biases: list | None
    method: str
    nnz: list

    @property
    def kept(self) -> float:
        """Fraction of the network's weights kept (biases not counted)."""
        return sum(self.nnz) / sum(W.size for W in self.weights)


def layer_budgets(weights, density) -> list[int]:
    """Per-layer non-zero counts ``round(d_ℓ · size_ℓ)`` for a uniform ``density`` d or one per layer.

    Examples
    --------
    >>> import numpy as np
    >>> layer_budgets([np.zeros((4, 5)), np.zeros((5, 2))], 0.25)
    [5, 2]
    """
    sizes = [np.asarray(W).size for W in weights]
    if isinstance(density, (list, tuple, np.ndarray)):
        if len(density) != len(sizes):
            raise ValueError(f"density has {len(density)} entries but the network has {len(sizes)} layers")
        ds = [check_scalar(d, f"density[{i}]", low=0.0, high=1.0) for i, d in enumerate(density)]
    else:
        ds = [check_scalar(density, "density", low=0.0, high=1.0)] * len(sizes)
    return [round(d * s) for d, s in zip(ds, sizes)]


def prune_with(method: str, weights, biases, X: ArrayLike, *, density=None, nnz=None,
               last_activation: str = "linear", **settings) -> PeerNetwork:
    r"""Prune a whole network with one of :data:`METHODS`, layer after layer on the pruned signals.

    With :math:`\hat Y^{(0)} = X^\top` and :math:`\tilde W_\ell = [W_\ell; b_\ell^\top]`, layer ℓ is
    :math:`\hat{\tilde W}_\ell = f(\tilde W_\ell, [\hat Y^{(\ell-1)}; \mathbf 1^\top], k_\ell)` and
    :math:`\hat Y^{(\ell)} = \sigma_\ell(\hat{\tilde W}_\ell^\top [\hat Y^{(\ell-1)}; \mathbf 1^\top])`.
    For "magnitude_refit" the target is the original network's pre-activation
    :math:`\tilde W_\ell^\top [Y^{(\ell-1)}; \mathbf 1^\top]` (original weights on the original signal).

    Parameters
    ----------
    method : {"magnitude", "magnitude_refit", "wanda", "sparsegpt"}
    weights, biases
        As in :func:`nettrim.prune_network` (``biases`` None for a network without biases).
    X : array_like, shape (P, n_in)
        Calibration data, samples in rows.
    density : float or sequence of float, optional
        Fraction of each layer's weights to keep (:func:`layer_budgets`).
    nnz : sequence of int, optional
        Weights to keep per layer. Exactly one of ``density``/``nnz``.
    last_activation : {"linear", "relu"}
    **settings
        Passed to the layer function (e.g. ``damp``, ``block_size`` for "sparsegpt").

    Returns
    -------
    PeerNetwork

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Ws, bs = [rng.standard_normal((5, 4)), rng.standard_normal((4, 3))], [np.zeros(4), np.zeros(3)]
    >>> net = prune_with("sparsegpt", Ws, bs, rng.standard_normal((50, 5)), density=0.5)
    >>> net.nnz
    [10, 6]
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {tuple(METHODS)}, got {method!r}")
    func = METHODS[method]
    allowed = set(inspect.signature(func).parameters) - {"W", "X", "k", "bias", "target"}
    unknown = set(settings) - allowed
    if unknown:
        raise TypeError(f"unknown setting(s) {sorted(unknown)} for method {method!r}; it takes {sorted(allowed)}")
    signals = forward(weights, biases, X, last_activation=last_activation, return_all=True)  # validates all
    Ws = [np.asarray(W, dtype=float) for W in weights]
    bs = None if biases is None else [np.asarray(b, dtype=float) for b in biases]
    if (density is None) == (nnz is None):
        raise ValueError("give exactly one of density and nnz")
    if density is not None:
        budget = layer_budgets(Ws, density)
    else:
        if isinstance(nnz, (str, bytes)) or not hasattr(nnz, "__len__") or len(nnz) != len(Ws):
            raise ValueError(f"nnz must be a sequence of {len(Ws)} integers (one per layer), got {nnz!r}")
        budget = list(nnz)
    L, biased, last_relu = len(Ws), bs is not None, last_activation.lower() == "relu"
    H = signals[0]
    new_W, new_b = [], ([] if biased else None)
    for i in range(L):
        Wt = Ws[i] if not biased else np.vstack([Ws[i], bs[i][None, :]])
        Xc = H.T if not biased else np.vstack([H.T, np.ones((1, H.shape[0]))])
        extra = dict(settings)
        if method == "magnitude_refit":
            X0 = signals[i].T if not biased else np.vstack([signals[i].T, np.ones((1, H.shape[0]))])
            extra["target"] = Wt.T @ X0
        try:
            U = func(Wt, Xc, budget[i], bias=biased, **extra)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"layer {i + 1}: {exc}") from None
        n_in = Ws[i].shape[0]
        new_W.append(U[:n_in])
        if biased:
            new_b.append(U[n_in])
        Z = U.T @ Xc
        H = (np.maximum(Z, 0.0) if (i < L - 1 or last_relu) else Z).T
    return PeerNetwork(new_W, new_b, method, [int(np.count_nonzero(W)) for W in new_W])
