r"""Convolutional layers as Net-Trim layer programs: patches (im2col), sampled positions, kernel ↔ U.

A 2-D convolution (groups = 1) with kernel :math:`K \in \mathbb{R}^{C_{out}\times C_{in}\times k_h\times k_w}`
and bias :math:`b` maps an input :math:`x` (images × :math:`C_{in}` × H × W) to

.. math::

    z_{o}(n, i, j) = b_o + \sum_{c, a, e} K_{o c a e}\,
    \bar x\big(n, c,\ i s_h + a d_h,\ j s_w + e d_w\big),

with :math:`\bar x` the padded input, strides :math:`(s_h, s_w)` and dilations :math:`(d_h, d_w)`. It is
linear in :math:`(K, b)`. Take one **column per image and output position** :math:`p = (n, i, j)` (column
index :math:`p = n H_o W_o + i W_o + j`), holding the :math:`N = C_{in} k_h k_w` input values the kernel
sees there (rows ordered :math:`(c, a, e)`, the order of ``K.reshape(C_out, -1)``), plus a row of ones for
the bias. With these *patches* as X (N+1 × P) and the layer output :math:`Y = \sigma(z)` as an
:math:`C_{out} \times P` matrix in the same column order,

.. math::

    Z = U^\top X, \qquad U = \begin{bmatrix} K_{\text{mat}} \\ b^\top \end{bmatrix}
    \in \mathbb{R}^{(N+1)\times C_{out}},\quad K_{\text{mat}} = \texttt{K.reshape(C\_out, -1)}^\top ,

so the Net-Trim program for the kernel is exactly the dense layer program of :func:`nettrim.layer_problem`
on (X, Y): weight sharing is automatic, one column of U per output channel (Aghasi, Abdi & Romberg 2020
prune convolutional layers with the same program in operator form).

**Sampled positions.** P = images × output positions is large (MNIST 28×28: 784 columns per image). With
``max_patches`` set, :func:`sample_positions` draws a seeded uniform subset of the columns without
replacement; the program, and so every guarantee of Net-Trim (Proposition 1:
:math:`\|\sigma(\hat U^\top X) - Y\|_F \le \varepsilon`, and the feasibility of the original layer), then
holds **on the sampled columns only**. The error on all positions is measured, not guaranteed.

**A linear map after the convolution** (average pooling) can be folded into the patches: a per-channel
linear map :math:`T` applied to the output satisfies :math:`T(U^\top X) = U^\top T(X)` when T acts on the
patch tensor channel by channel (the row of ones included), so ``transform=T`` builds the patches of
:math:`T \circ \text{conv}` and the program stays exact (see :mod:`nettrim.torch`).

Everything here is numpy (strided views, no copy of the input beyond its padding); :mod:`nettrim.torch`
drives it from PyTorch models.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._validation import as_float_matrix, check_scalar

__all__ = [
    "DEFAULT_MAX_PATCHES",
    "PADDING_MODES",
    "Conv2dSpec",
    "ConvProgram",
    "conv2d",
    "conv2d_spec",
    "conv_program",
    "kernel_to_matrix",
    "matrix_to_kernel",
    "output_columns",
    "patches",
    "sample_positions",
]

#: torch's ``padding_mode`` -> numpy's ``np.pad`` mode (PyTorch's "reflect" excludes the edge, as numpy's does)
PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}

#: Columns kept per convolutional program when ``max_patches`` is not given. Measured on LeNet-5's two
#: convolutions (MNIST, 2,000 images, ε = 0.1, parallel, two sampling seeds): with 10,000 sampled columns the
#: error on *all* positions is within 1 % of the sampled one (1,000 columns: up to 5 % above it, 2,000: up to
#: 10 %), and 20,000 doubles the CPU time for no gain in fidelity.
DEFAULT_MAX_PATCHES = 10_000

# Patch tensors built for a ``transform`` are processed a few images at a time: at most this many
# floats (8 bytes each, so 64 MB) per chunk.
_CHUNK_FLOATS = 8_000_000


@dataclass(frozen=True)
class Conv2dSpec:
    """The geometry of a 2-D convolution (groups = 1). Build it with :func:`conv2d_spec`.

    Attributes
    ----------
    in_channels, out_channels : int
    kernel_size : (int, int)
        :math:`(k_h, k_w)`.
    stride, dilation : (int, int)
    padding : (int, int, int, int)
        (top, bottom, left, right) rows/columns added around the input.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        PyTorch's names.
    """

    in_channels: int
    out_channels: int
    kernel_size: tuple
    stride: tuple = (1, 1)
    padding: tuple = (0, 0, 0, 0)
    dilation: tuple = (1, 1)
    padding_mode: str = "zeros"

    @property
    def n_taps(self) -> int:
        """:math:`N = C_{in} k_h k_w`, the rows of the patches without the row of ones."""
        return self.in_channels * self.kernel_size[0] * self.kernel_size[1]

    @property
    def kernel_shape(self) -> tuple:
        """(C_out, C_in, k_h, k_w)."""
        return (self.out_channels, self.in_channels, *self.kernel_size)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Output (H_o, W_o) for an input of (height, width):
        :math:`\\lfloor(H + p_t + p_b - d_h(k_h-1) - 1)/s_h\\rfloor + 1`."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        top, bottom, left, right = self.padding
        ho = (height + top + bottom - dh * (kh - 1) - 1) // sh + 1
        wo = (width + left + right - dw * (kw - 1) - 1) // sw + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"an input of {height}×{width} is smaller than the (dilated, padded) kernel "
                             f"{self.kernel_size} with padding {self.padding}: no output position")
        return ho, wo


def _pair(value, name: str, *, low: int) -> tuple[int, int]:
    if isinstance(value, (numbers.Integral,)) and not isinstance(value, (bool, np.bool_)):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return tuple(check_scalar(v, f"{name}[{i}]", low=low, integer=True) for i, v in enumerate(value))


def conv2d_spec(in_channels, out_channels, kernel_size, *, stride=1, padding=0, dilation=1,
                padding_mode: str = "zeros") -> Conv2dSpec:
    """Validate the geometry of a 2-D convolution (PyTorch's conventions) and return a :class:`Conv2dSpec`.

    Parameters
    ----------
    in_channels, out_channels : int
        ≥ 1.
    kernel_size, stride, dilation : int or (int, int)
        ≥ 1.
    padding : int, (int, int) or (int, int, int, int)
        ≥ 0; a pair is (rows, columns) on both sides (PyTorch's ``Conv2d``), four values are
        (top, bottom, left, right).
    padding_mode : {"zeros", "reflect", "replicate", "circular"}

    Examples
    --------
    >>> spec = conv2d_spec(1, 6, 5, padding=2)
    >>> spec.output_size(28, 28), spec.n_taps
    ((28, 28), 25)
    """
    cin = check_scalar(in_channels, "in_channels", low=1, integer=True)
    cout = check_scalar(out_channels, "out_channels", low=1, integer=True)
    ks = _pair(kernel_size, "kernel_size", low=1)
    st = _pair(stride, "stride", low=1)
    dil = _pair(dilation, "dilation", low=1)
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        pad = tuple(check_scalar(v, f"padding[{i}]", low=0, integer=True) for i, v in enumerate(padding))
    else:
        ph, pw = _pair(padding, "padding", low=0)
        pad = (ph, ph, pw, pw)
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {tuple(PADDING_MODES)}, got {padding_mode!r}")
    return Conv2dSpec(cin, cout, ks, st, pad, dil, padding_mode)


def _check_input(x, spec: Conv2dSpec) -> np.ndarray:
    if not isinstance(spec, Conv2dSpec):
        raise TypeError(f"spec must be a Conv2dSpec (see conv2d_spec), got {type(spec).__name__}")
    arr = np.asarray(x)
    if arr.ndim != 4:
        raise ValueError(f"x must be 4-D (images, channels, height, width), got shape {arr.shape}")
    if arr.shape[1] != spec.in_channels:
        raise ValueError(f"x has {arr.shape[1]} channels but the convolution takes {spec.in_channels} "
                         f"(x must be images × channels × height × width), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"x is empty (shape {arr.shape}): at least one image with nonzero height and width")
    # as_float_matrix checks dtype and finiteness once, on a 2-D view
    flat = as_float_matrix(arr.reshape(arr.shape[0], -1), "x")
    return flat.reshape(arr.shape)


def _windows(x: np.ndarray, spec: Conv2dSpec) -> np.ndarray:
    """Strided view (images, C_in, H_o, W_o, k_h, k_w) of the padded input: entry (n, c, i, j, a, e) is
    :math:`\\bar x(n, c, i s_h + a d_h, j s_w + e d_w)`. No copy beyond the padding."""
    top, bottom, left, right = spec.padding
    if any(spec.padding):
        mode = PADDING_MODES[spec.padding_mode]
        if mode == "reflect" and (max(top, bottom) >= x.shape[2] or max(left, right) >= x.shape[3]):
            raise ValueError(f"reflect padding {spec.padding} must be smaller than the input "
                             f"({x.shape[2]}×{x.shape[3]})")
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=mode)
    (kh, kw), (sh, sw), (dh, dw) = spec.kernel_size, spec.stride, spec.dilation
    ho, wo = spec.output_size(x.shape[2] - top - bottom, x.shape[3] - left - right)
    view = sliding_window_view(x, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    return view[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw, ::dh, ::dw]


def _check_index(index, n_columns: int) -> np.ndarray | None:
    if index is None:
        return None
    idx = np.asarray(index)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"index must be a 1-D array of integer column indices, got dtype {idx.dtype}, "
                        f"shape {idx.shape}")
    if idx.size == 0:
        raise ValueError("index is empty: a program needs at least one column")
    if idx.min() < 0 or idx.max() >= n_columns:
        raise ValueError(f"index must lie in [0, {n_columns}) (images × output positions), "
                         f"got values in [{idx.min()}, {idx.max()}]")
    return idx.astype(np.int64, copy=False)


def patches(x, spec: Conv2dSpec, *, bias: bool = True, index=None,
            transform: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    r"""The patch matrix X of a convolution: one column per image and output position.

    Parameters
    ----------
    x : array_like, shape (images, C_in, H, W)
        Layer input.
    spec : Conv2dSpec
    bias : bool
        Append a row of ones (the bias rides on it, as for a dense layer).
    index : array_like of int, optional
        Columns to return (see :func:`sample_positions`), in the order :math:`p = n H_o W_o + i W_o + j`
        of the (transformed) output grid; all columns when None.
    transform : callable, optional
        A linear map applied channel by channel to the patch tensor (images, N(+1), H_o, W_o) ->
        (images, N(+1), H', W'), e.g. the average pooling that follows the convolution; the columns are
        then those of the transformed grid. It is called on a few images at a time.

    Returns
    -------
    ndarray, shape (N (+1), P)
        :math:`N = C_{in}k_hk_w` rows ordered (c, a, e), as ``K.reshape(C_out, -1)``; P = len(index) or
        images × H_o × W_o (× the transformed grid).

    Examples
    --------
    >>> import numpy as np
    >>> spec = conv2d_spec(1, 2, 3)
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> patches(x, spec).shape
    (10, 4)
    >>> patches(x, spec, bias=False)[:, 0]          # the top-left 3×3 window, row by row
    array([ 0.,  1.,  2.,  4.,  5.,  6.,  8.,  9., 10.])
    """
    x = _check_input(x, spec)
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
    view = _windows(x, spec)                                   # (n, c, ho, wo, kh, kw)
    n_img, _, ho, wo = view.shape[:4]
    if transform is None:
        idx = _check_index(index, n_img * ho * wo)
        if idx is None:
            cols = view.transpose(0, 2, 3, 1, 4, 5).reshape(n_img * ho * wo, spec.n_taps)
        else:
            n, rest = np.divmod(idx, ho * wo)
            i, j = np.divmod(rest, wo)
            cols = view[n, :, i, j].reshape(idx.size, spec.n_taps)  # advanced indices first: (S, c, kh, kw)
        X = cols.T
        if bias:
            X = np.vstack([X, np.ones((1, X.shape[1]))])
        return np.ascontiguousarray(X)
    if not callable(transform):
        raise TypeError(f"transform must be callable, got {type(transform).__name__}")
    rows = spec.n_taps + int(bias)
    step = max(1, _CHUNK_FLOATS // (rows * ho * wo))
    pieces, out, grid, offset, idx = [], None, None, 0, None
    for start in range(0, n_img, step):
        chunk = view[start:start + step]
        b = chunk.shape[0]
        T = chunk.transpose(0, 1, 4, 5, 2, 3).reshape(b, spec.n_taps, ho, wo)
        if bias:
            T = np.concatenate([T, np.ones((b, 1, ho, wo))], axis=1)
        T = np.asarray(transform(np.ascontiguousarray(T)), dtype=float)
        if T.ndim != 4 or T.shape[:2] != (b, rows) or (grid is not None and T.shape[2] * T.shape[3] != grid):
            raise ValueError(f"transform must map (images, {rows}, H, W) to (images, {rows}, H', W') channel by "
                             f"channel, got shape {T.shape}")
        if grid is None:
            grid = T.shape[2] * T.shape[3]
            idx = _check_index(index, n_img * grid)
            if idx is not None:
                out = np.empty((rows, idx.size))
        cols = T.transpose(0, 2, 3, 1).reshape(b * grid, rows)
        if idx is None:
            pieces.append(cols)
        else:
            here = np.flatnonzero((idx >= offset) & (idx < offset + b * grid))
            out[:, here] = cols[idx[here] - offset].T
        offset += b * grid
    return np.ascontiguousarray(np.concatenate(pieces).T) if idx is None else out


def output_columns(out, index=None) -> np.ndarray:
    """A layer output (images, C, H, W) as the C × P matrix of the patch columns (optionally ``index``-ed).

    Column :math:`p = n H W + i W + j` is the output of image n at position (i, j), matching :func:`patches`.

    Examples
    --------
    >>> import numpy as np
    >>> output_columns(np.arange(8.0).reshape(1, 2, 2, 2))
    array([[0., 1., 2., 3.],
           [4., 5., 6., 7.]])
    """
    arr = np.asarray(out)
    if arr.ndim != 4:
        raise ValueError(f"out must be 4-D (images, channels, height, width), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"out is empty (shape {arr.shape})")
    n_img, c, h, w = arr.shape
    flat = as_float_matrix(arr.reshape(n_img, -1), "out").reshape(arr.shape)
    idx = _check_index(index, n_img * h * w)
    if idx is None:
        return np.ascontiguousarray(flat.transpose(1, 0, 2, 3).reshape(c, n_img * h * w))
    n, rest = np.divmod(idx, h * w)
    i, j = np.divmod(rest, w)
    return np.ascontiguousarray(flat[n, :, i, j].T)


def sample_positions(n_columns: int, max_patches, *, seed: int = 0) -> np.ndarray | None:
    """The columns a program keeps: all (None) when ``n_columns <= max_patches``, else a seeded uniform
    sample of ``max_patches`` distinct columns, sorted.

    Parameters
    ----------
    n_columns : int
        Images × output positions of the layer.
    max_patches : int or None
        Largest number of columns; None keeps all.
    seed : int
        Seed of ``numpy.random.default_rng``; the same (n_columns, max_patches, seed) gives the same sample.

    Examples
    --------
    >>> sample_positions(10, 20) is None
    True
    >>> sample_positions(1000, 5, seed=1).shape
    (5,)
    """
    n_columns = check_scalar(n_columns, "n_columns", low=1, integer=True)
    if max_patches is None:
        return None
    max_patches = check_scalar(max_patches, "max_patches", low=1, integer=True)
    if n_columns <= max_patches:
        return None
    seed = check_scalar(seed, "seed", low=0, integer=True)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_columns, size=max_patches, replace=False)).astype(np.int64)


def kernel_to_matrix(kernel, bias=None) -> np.ndarray:
    r"""The program's weights :math:`U = [K_{mat}; b^\top]` ((N (+1)) × C_out) of a kernel and bias.

    Examples
    --------
    >>> import numpy as np
    >>> kernel_to_matrix(np.ones((6, 1, 5, 5)), np.zeros(6)).shape
    (26, 6)
    """
    K = np.asarray(kernel)
    if K.ndim != 4 or K.size == 0:
        raise ValueError(f"kernel must be a non-empty 4-D array (C_out, C_in, k_h, k_w), got shape {K.shape}")
    U = as_float_matrix(K.reshape(K.shape[0], -1), "kernel").T
    if bias is not None:
        b = np.asarray(bias)
        if b.shape != (K.shape[0],):
            raise ValueError(f"bias must have shape ({K.shape[0]},) to match kernel {K.shape}, got {b.shape}")
        U = np.vstack([U, as_float_matrix(b[None, :], "bias")])
    return np.ascontiguousarray(U)


def matrix_to_kernel(U, spec: Conv2dSpec, *, bias: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverse of :func:`kernel_to_matrix`: (kernel (C_out, C_in, k_h, k_w), bias (C_out,) or None).

    Examples
    --------
    >>> import numpy as np
    >>> spec = conv2d_spec(2, 3, 2)
    >>> K = np.arange(24.0).reshape(3, 2, 2, 2)
    >>> K2, b = matrix_to_kernel(kernel_to_matrix(K, np.ones(3)), spec, bias=True)
    >>> bool((K2 == K).all()), b.tolist()
    (True, [1.0, 1.0, 1.0])
    """
    if not isinstance(spec, Conv2dSpec):
        raise TypeError(f"spec must be a Conv2dSpec, got {type(spec).__name__}")
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
    U = as_float_matrix(U, "U", shape=(spec.n_taps + int(bool(bias)), spec.out_channels))
    K = np.ascontiguousarray(U[: spec.n_taps].T).reshape(spec.kernel_shape)
    return K, (U[spec.n_taps].copy() if bias else None)


def _kernel_matrix(kernel, bias, spec: Conv2dSpec) -> np.ndarray:
    """:func:`kernel_to_matrix` of a kernel checked against ``spec`` first (so that a kernel with the wrong
    number of output channels is named, not the bias that no longer matches it)."""
    if np.shape(kernel) != spec.kernel_shape:
        raise ValueError(f"kernel must have shape {spec.kernel_shape}, got {np.shape(kernel)}")
    return kernel_to_matrix(kernel, bias)


def conv2d(x, kernel, bias, spec: Conv2dSpec) -> np.ndarray:
    """The convolution itself, through the patches: output (images, C_out, H_o, W_o).

    Examples
    --------
    >>> import numpy as np
    >>> spec = conv2d_spec(1, 1, 2)
    >>> conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.array([1.0]), spec)[0, 0]
    array([[5., 5.],
           [5., 5.]])
    """
    x = _check_input(x, spec)
    U = _kernel_matrix(kernel, bias, spec)
    ho, wo = spec.output_size(x.shape[2], x.shape[3])
    Z = U.T @ patches(x, spec, bias=bias is not None)
    return np.ascontiguousarray(Z.reshape(spec.out_channels, x.shape[0], ho, wo).transpose(1, 0, 2, 3))


@dataclass(frozen=True, eq=False)
class ConvProgram:
    """The data of a convolutional layer program (see :func:`conv_program`).

    Attributes
    ----------
    X : ndarray, shape (N (+1), P)
        Patches at the kept columns (row of ones last when the layer has a bias).
    Y : ndarray, shape (C_out, P)
        :math:`\\sigma(U^\\top X)` of the original layer at those columns.
    U : ndarray, shape (N (+1), C_out)
        The original kernel (and bias) as program weights.
    index : ndarray of int or None
        The kept columns (None: all of them).
    n_columns : int
        Images × output positions before sampling.
    spec : Conv2dSpec
    activation : {"relu", "linear"}
    """

    X: np.ndarray
    Y: np.ndarray
    U: np.ndarray
    index: np.ndarray | None
    n_columns: int
    spec: Conv2dSpec
    activation: str

    @property
    def P(self) -> int:
        return self.X.shape[1]


def conv_program(x, kernel, bias, spec: Conv2dSpec, *, activation: str = "relu", max_patches=None,
                 seed: int = 0) -> ConvProgram:
    r"""The Net-Trim program of one convolutional layer, on (sampled) patches.

    Parameters
    ----------
    x : array_like, shape (images, C_in, H, W)
        Calibration input of the layer.
    kernel : array_like, shape (C_out, C_in, k_h, k_w)
    bias : array_like, shape (C_out,), or None
    spec : Conv2dSpec
    activation : {"relu", "linear"}
        σ of :math:`Y = \sigma(\text{conv}(x))`.
    max_patches : int, optional
        Keep at most this many columns (seeded uniform sample, :func:`sample_positions`); all when None.
    seed : int

    Returns
    -------
    ConvProgram
        Solve it with any layer solver, e.g. ``nettrim.fast.solve(prog.X, prog.Y, eps, activation=...)``,
        and map the answer back with :func:`matrix_to_kernel`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> spec = conv2d_spec(2, 3, 3, padding=1)
    >>> prog = conv_program(rng.standard_normal((4, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3)),
    ...                     np.zeros(3), spec, max_patches=50)
    >>> prog.X.shape, prog.Y.shape, prog.n_columns
    ((19, 50), (3, 50), 144)
    """
    from .problem import ACTIVATIONS

    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    x = _check_input(x, spec)
    U = _kernel_matrix(kernel, bias, spec)
    ho, wo = spec.output_size(x.shape[2], x.shape[3])
    n_columns = x.shape[0] * ho * wo
    index = sample_positions(n_columns, max_patches, seed=seed)
    X = patches(x, spec, bias=bias is not None, index=index)
    Z = U.T @ X
    Y = np.maximum(Z, 0.0) if activation == "relu" else Z
    return ConvProgram(X=X, Y=Y, U=U, index=index, n_columns=n_columns, spec=spec, activation=activation)
