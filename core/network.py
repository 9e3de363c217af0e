r"""Prune a whole fully connected ReLU network with Net-Trim, layer by layer.

Network convention (scikit-learn's ``MLPClassifier.coefs_`` / ``intercepts_``): ``weights[ℓ]`` is
:math:`W_\ell` with shape (n_in, n_out), ``biases[ℓ]`` is :math:`b_\ell` with shape (n_out,), and the
calibration data ``X`` has samples in **rows** (P × n_in). With :math:`Y^{(0)} = X^\top`,

.. math::

    Y^{(\ell)} = \sigma_\ell\big(W_\ell^\top Y^{(\ell-1)} + b_\ell \mathbf 1^\top\big)
               = \sigma_\ell\big(\tilde W_\ell^\top \tilde Y^{(\ell-1)}\big),
    \qquad \tilde W_\ell = \begin{bmatrix} W_\ell \\ b_\ell^\top \end{bmatrix},\quad
    \tilde Y = \begin{bmatrix} Y \\ \mathbf 1^\top \end{bmatrix},

with :math:`\sigma_\ell` = ReLU for hidden layers and ``last_activation`` (linear logits by default) for
the last. Each layer program is the one of :func:`nettrim.layer_problem` on the *augmented* pair, so the
bias is pruned and re-fitted together with the weights (it is one more row of :math:`\tilde W`).

Parallel scheme (every layer from the original signals, layers independent):

.. math::

    \hat{\tilde W}_\ell = \arg\min \|U\|_1 \ \text{s.t.}\ U \text{ feasible for }
    (\tilde Y^{(\ell-1)}, Y^{(\ell)}, V = 0, \varepsilon_\ell = \epsilon\,\|Y^{(\ell)}\|_F).

Cascade scheme (layer ℓ ≥ 2 from the pruned signal :math:`\hat Y^{(\ell-1)}`, target still
:math:`Y^{(\ell)}`):

.. math::

    V = \tilde W_\ell^\top \hat{\tilde Y}^{(\ell-1)},\qquad
    \varepsilon_\ell^2 = \gamma \sum_{(m,p)\in\Omega} \big(\tilde w_{\ell,m}^\top \hat{\tilde y}_p^{(\ell-1)}
    - y^{(\ell)}_{mp}\big)^2

(the sum runs over every entry for a linear layer, and :math:`\varepsilon_L` is multiplied by κ), which
keeps the original :math:`\tilde W_\ell` feasible, so no layer is ever infeasible for κ = 1.
"""

from __future__ import annotations

import numbers
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ._validation import as_float_matrix, check_scalar
from .magnitude import magnitude_prune
from .problem import layer_problem
from .solution import OPTIMAL, OPTIMAL_INACCURATE, VIOLATION_TOL, Solution

__all__ = ["prune_network", "PrunedNetwork", "forward", "link_normalize", "magnitude_prune", "MODES",
           "SOLVERS", "REPORT_COLUMNS"]

MODES = ("parallel", "cascade")
#: "fast" is nettrim.fast.solve (ADMM); "reference" is nettrim.reference.solve with CLARABEL; the names of
#: the reference's conic back-ends select that back-end.
SOLVERS = ("fast", "reference", "clarabel", "ecos", "scs")
LAST_ACTIVATIONS = ("linear", "relu")

#: Interior-point answers (the reference) are not exactly sparse: their "zeros" sit near 1e-8·max|W|
#: (Clarabel's default tolerances are 1e-8). Entries below this fraction of max|W| (or of the original
#: layer's max|W̃|, if larger) are set to exact zeros;
#: the report's violation is recomputed afterwards. The ADMM ("fast") returns exact zeros and is not touched.
REFERENCE_ZERO_TOL = 1e-6

#: one row per layer in :attr:`PrunedNetwork.report`
REPORT_COLUMNS = ("layer", "n_in", "n_out", "activation", "nnz_before", "nnz_after", "kept", "bias_nnz_after",
                  "rel_error", "layer_rel_error", "epsilon", "epsilon_rel", "dead_neurons", "status",
                  "violation", "gap", "iterations", "time", "peak_mem_mb")


# ---------------------------------------------------------------------------------------------- helpers
def _check_network(weights, biases):
    """Validate ``weights``/``biases``; return lists of float arrays (biases as 1-D)."""
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
        raise TypeError("weights must be a list (or tuple) of 2-D arrays, one per layer, "
                        f"got {type(weights).__name__}")
    if len(weights) == 0:
        raise ValueError("weights is empty: a network needs at least one layer")
    Ws = [as_float_matrix(W, f"weights[{i}]") for i, W in enumerate(weights)]
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
        if arr.shape[0] != Ws[i].shape[1]:
            raise ValueError(f"biases[{i}] must have shape ({Ws[i].shape[1]},) to match weights[{i}] "
                             f"{Ws[i].shape}, got ({arr.shape[0]},)")
        bs.append(arr)
    return Ws, bs


def _check_data(X, n_in: int, name: str = "X") -> np.ndarray:
    X = as_float_matrix(X, name)
    if X.shape[1] != n_in:
        raise ValueError(f"{name} must have shape (P, {n_in}) with samples in ROWS (the network has {n_in} inputs), "
                         f"got {X.shape}")
    return X


def _check_choice(value, name: str, choices) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {choices}, got {type(value).__name__}")
    if value.lower() not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value.lower()


def _activations(n_layers: int, last_activation: str) -> list[str]:
    return ["relu"] * (n_layers - 1) + [last_activation]


def _augment(W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    return W if b is None else np.vstack([W, b[None, :]])


def forward(weights, biases, X, *, last_activation: str = "linear", return_all: bool = False):
    r"""Run the network on ``X`` (samples in rows).

    Parameters
    ----------
    weights, biases
        As in :func:`prune_network` (``biases=None`` for a network without biases).
    X : array_like, shape (P, n_in)
    last_activation : {"linear", "relu"}
    return_all : bool
        Return every signal :math:`[Y^{(0)}, \dots, Y^{(L)}]` (each P × n_ℓ, samples in rows) instead of
        the output only.

    Returns
    -------
    ndarray (P, n_out) or list of ndarray
    """
    Ws, bs = _check_network(weights, biases)
    last_activation = _check_choice(last_activation, "last_activation", LAST_ACTIVATIONS)
    H = _check_data(X, Ws[0].shape[0])
    signals = [H]
    for i, (W, act) in enumerate(zip(Ws, _activations(len(Ws), last_activation))):
        H = H @ W
        if bs is not None:
            H = H + bs[i]
        if act == "relu":
            H = np.maximum(H, 0.0)
        signals.append(H)
    return signals if return_all else H


def link_normalize(weights, biases):
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
    """
    Ws, bs = _check_network(weights, biases)
    s = 1.0
    out_W, out_b = [], ([] if bs is not None else None)
    for i, W in enumerate(Ws):
        norm = np.abs(W).sum() + (s * np.abs(bs[i]).sum() if bs is not None else 0.0)
        if norm == 0:
            raise ValueError(f"layer {i} is all zero (weights[{i}] and biases[{i}]): it cannot be link-normalized")
        c = 1.0 / norm
        s *= c
        out_W.append(c * W)
        if bs is not None:
            out_b.append(s * bs[i])
    return out_W, out_b, s


# ---------------------------------------------------------------------------------------------- result
@dataclass
class PrunedNetwork:
    """A pruned network and how it was obtained.

    Attributes
    ----------
    weights, biases : list of ndarray
        The pruned :math:`\\hat W_\\ell` (n_in × n_out) and :math:`\\hat b_\\ell` (n_out,); ``biases`` is None
        for a network without biases.
    report : pandas.DataFrame
        One row per layer, columns :data:`REPORT_COLUMNS`: ``nnz_before``/``nnz_after``/``kept`` count the
        weight matrix only (the bias row is reported as ``bias_nnz_after``); ``rel_error`` is
        :math:`\\|\\hat Y^{(\\ell)} - Y^{(\\ell)}\\|_F/\\|Y^{(\\ell)}\\|_F` of the pruned *network* fed with X;
        ``layer_rel_error`` is the same for the layer alone on its program input (the original signal in
        parallel mode, the pruned one in cascade mode; Proposition 1 bounds it by ``epsilon_rel``);
        ``epsilon`` is the absolute :math:`\\varepsilon_\\ell` and ``epsilon_rel`` = ε_ℓ/‖Y⁽ℓ⁾‖_F;
        ``dead_neurons`` counts all-zero columns of :math:`\\hat{\\tilde W}_\\ell` (weights and bias zero);
        ``violation``/``gap``/``iterations``/``status`` come from the layer solver, ``time`` is its wall
        clock (s) and ``peak_mem_mb`` the peak of memory allocated during the solve (tracemalloc, MB).
    mode : str
    last_activation : str
    solutions : list of Solution
        The layer solutions (augmented weights in ``Solution.W``). For the reference solvers ``W``,
        ``objective``, ``violation`` and ``status`` describe the returned weights, after the interior
        point's tiny entries were set to zero (status "optimal_inaccurate" if that broke the tolerance).
    """

    weights: list
    biases: list | None
    report: pd.DataFrame
    mode: str
    last_activation: str = "linear"
    solutions: list = field(default_factory=list, repr=False)

    def forward(self, X, *, return_all: bool = False):
        """Output of the pruned network on ``X`` (samples in rows); see :func:`forward`."""
        return forward(self.weights, self.biases, X, last_activation=self.last_activation, return_all=return_all)

    def predict(self, X) -> np.ndarray:
        """Class index per sample: argmax of the output (the logits of a classifier)."""
        return np.argmax(self.forward(X), axis=1)

    @property
    def nnz(self) -> int:
        """Non-zero weights (bias rows excluded)."""
        return int(sum(np.count_nonzero(W) for W in self.weights))

    @property
    def kept(self) -> float:
        """Fraction of weights kept over the whole network (bias rows excluded)."""
        return self.nnz / sum(W.size for W in self.weights)


# ---------------------------------------------------------------------------------------------- solving
def _solve_layer(Xc, Yc, eps, activation, V, solver, warm, options):
    """Solve one layer program (samples in columns); return (Solution, seconds, peak MB)."""
    own_trace = not tracemalloc.is_tracing()
    if own_trace:
        tracemalloc.start()
    else:
        tracemalloc.reset_peak()
    t0 = time.perf_counter()
    try:
        if solver == "fast":
            from nettrim.fast import solve as fast_solve

            opts = dict(options)
            if warm is not None and "warm_start" not in opts:
                opts["warm_start"] = warm
            sol = fast_solve(Xc, Yc, eps, activation=activation, V=V, **opts)
        else:
            from nettrim import reference

            backend = "CLARABEL" if solver == "reference" else solver.upper()
            sol = _reference_scaled(reference, Xc, Yc, eps, activation, V, backend, options)
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        if own_trace:
            tracemalloc.stop()
    return sol, elapsed, peak


def _reference_scaled(reference, Xc, Yc, eps, activation, V, backend, options) -> Solution:
    r"""Reference solve on unit-scale data, mapped back.

    Conic solvers use absolute tolerances, so a layer deep inside a link-normalized network (signals of
    order 1e-5) would be solved to no relative accuracy. With :math:`a = \max|X|` and
    :math:`b = \|Y\|_F/\sqrt{MP}`, :math:`U^\top X \approx Y \iff (U a/b)^\top (X/a) \approx Y/b`, and
    :math:`\|U\|_1` scales by the constant a/b, so :math:`\hat U = (b/a)\,\hat U'` with the same support.
    The relative violation and gap are scale-free.
    """
    a = float(np.abs(Xc).max()) or 1.0
    b = float(np.linalg.norm(Yc)) / np.sqrt(Yc.size) or 1.0
    sol = reference.solve(Xc / a, Yc / b, eps / b, activation=activation, V=None if V is None else V / b,
                          solver=backend, **options)
    W = sol.W * (b / a)
    return Solution(W=W, status=sol.status, objective=float(np.abs(W).sum()), violation=sol.violation,
                    gap=sol.gap, iterations=sol.iterations, solve_time=sol.solve_time, solver=sol.solver,
                    dual=None, info=dict(sol.info, scale_x=a, scale_y=b))


def _solve_layer_pinned(*args):
    from threadpoolctl import threadpool_limits

    # one BLAS thread per worker process: two processes with two threads each oversubscribe a 2-core machine
    with threadpool_limits(limits=1):
        return _solve_layer(*args)


def _columns(H: np.ndarray, with_bias: bool) -> np.ndarray:
    """Signal in rows (P × n) -> layer-program input in columns, with the row of ones if biased."""
    Xc = H.T
    if with_bias:
        Xc = np.vstack([Xc, np.ones((1, H.shape[0]))])
    return np.ascontiguousarray(Xc)


def _check_epsilon(epsilon, L: int) -> list[float]:
    if isinstance(epsilon, (list, tuple, np.ndarray)) and np.ndim(epsilon) > 0:
        eps = list(np.asarray(epsilon, dtype=object).ravel())
        if len(eps) != L:
            raise ValueError(f"epsilon has {len(eps)} entries but the network has {L} layers; "
                             "give one relative epsilon or one per layer")
        return [check_scalar(e, f"epsilon[{i}]", low=0.0) for i, e in enumerate(eps)]
    return [check_scalar(epsilon, "epsilon", low=0.0)] * L


def prune_network(weights, biases, X, *, epsilon=0.05, mode="parallel", gamma=1.1, kappa=1.0,
                  last_activation="linear", solver="fast", jobs=1, **solver_options) -> PrunedNetwork:
    r"""Prune every layer of a fully connected ReLU network with Net-Trim.

    Parameters
    ----------
    weights : list of array_like, each shape (n_in, n_out)
        :math:`W_\ell` in scikit-learn's ``coefs_`` convention (the paper's W: column m is neuron m).
    biases : list of array_like, each shape (n_out,), or None
        :math:`b_\ell` (scikit-learn's ``intercepts_``); it rides on an appended row of ones and is pruned
        with the weights. None for a network without biases.
    X : array_like, shape (P, n_in)
        Calibration data, samples in **rows** (as in scikit-learn).
    epsilon : float or sequence of float
        Relative tolerance (the paper's ε_gain): :math:`\varepsilon_\ell = \epsilon\,\|Y^{(\ell)}\|_F` for
        every layer in parallel mode and for layer 1 in cascade mode. A sequence gives one per layer
        (cascade uses only the first).
    mode : {"parallel", "cascade"}
        See the module docstring. Parallel layers are independent; cascade feeds each layer the pruned
        signal and derives :math:`V` and :math:`\varepsilon_\ell` (ℓ ≥ 2) from γ.
    gamma : float
        γ ≥ 1 of the cascade scheme (1.1 in the paper); unused in parallel mode.
    kappa : float
        κ ∈ (0, 1] multiplying the cascade's last-layer :math:`\varepsilon_L` (smaller = more faithful logits;
        below :math:`1/\sqrt\gamma` the original last layer may be infeasible); unused in parallel mode.
    last_activation : {"linear", "relu"}
        Activation of the last layer (hidden layers are ReLU).
    solver : {"fast", "reference", "clarabel", "ecos", "scs"}
        "fast" is :func:`nettrim.fast.solve` (ADMM, warm-started from the original layer); "reference" is
        :func:`nettrim.reference.solve` with CLARABEL (exact, for small layers); a back-end name selects
        that back-end of the reference.
    jobs : int
        Parallel mode only: solve up to ``jobs`` layers at once in joblib worker processes, one BLAS thread
        each. Cascade layers depend on each other and run in order.
    **solver_options
        Passed to the layer solver (e.g. ``eps_abs``, ``max_iter`` for "fast").

    Returns
    -------
    PrunedNetwork
        ``weights``, ``biases``, the per-layer ``report`` and helpers ``forward``/``predict``.

    Warns
    -----
    UserWarning
        A layer whose pruned weights and bias are all zero, or whose solver status is not "optimal".

    Raises
    ------
    TypeError, ValueError
        Malformed network or data, an unknown mode/solver/activation, ε < 0, γ < 1, κ ∉ (0, 1], jobs < 1.
    """
    Ws, bs = _check_network(weights, biases)
    L = len(Ws)
    X = _check_data(X, Ws[0].shape[0])
    eps_rel = _check_epsilon(epsilon, L)
    mode = _check_choice(mode, "mode", MODES)
    gamma = check_scalar(gamma, "gamma", low=1.0)
    kappa = check_scalar(kappa, "kappa", low=0.0, high=1.0, low_inclusive=False)
    last_activation = _check_choice(last_activation, "last_activation", LAST_ACTIVATIONS)
    solver = _check_choice(solver, "solver", SOLVERS)
    if isinstance(jobs, (bool, np.bool_)) or not isinstance(jobs, numbers.Integral):
        raise TypeError(f"jobs must be an integer >= 1, got {type(jobs).__name__}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if solver == "fast":
        try:
            from nettrim.fast import solve  # noqa: F401
        except ImportError:
            raise ValueError("solver='fast' needs nettrim.fast.solve, which is not available in this "
                             "installation; use solver='reference' for small networks") from None

    acts = _activations(L, last_activation)
    biased = bs is not None
    signals = forward(Ws, bs, X, last_activation=last_activation, return_all=True)  # original Y^(0..L), rows
    Wt = [_augment(W, bs[i] if biased else None) for i, W in enumerate(Ws)]
    targets = [np.ascontiguousarray(signals[i + 1].T) for i in range(L)]  # Y^(ℓ), M×P
    y_norms = [float(np.linalg.norm(T)) for T in targets]

    results = [None] * L  # (Solution, time, peak, eps_abs, program input Xc)
    V_used = [None] * L
    if mode == "parallel":
        tasks = []
        for i in range(L):
            Xc = _columns(signals[i], biased)
            eps_i = eps_rel[i] * y_norms[i]
            tasks.append((Xc, targets[i], eps_i, acts[i], None, solver, Wt[i], solver_options))
        if jobs > 1 and L > 1:
            from joblib import Parallel, delayed

            outs = Parallel(n_jobs=min(jobs, L))(delayed(_solve_layer_pinned)(*t) for t in tasks)
        else:
            outs = [_solve_layer(*t) for t in tasks]
        for i, (t, o) in enumerate(zip(tasks, outs)):
            results[i] = (*o, t[2], t[0])
    else:
        H = signals[0]
        for i in range(L):
            Xc = _columns(H, biased)
            if i == 0:
                eps_i, V = eps_rel[0] * y_norms[0], None
            else:
                Z = Wt[i].T @ Xc  # the original layer on the pruned signal
                D = Z - targets[i]
                if acts[i] == "relu":
                    active = targets[i] > 0
                    eps_i = float(np.sqrt(gamma * np.sum(D[active] ** 2)))
                    V = Z  # only its Ωᶜ entries enter the program
                else:
                    eps_i = float(np.sqrt(gamma * np.sum(D ** 2)))
                    V = None
                if i == L - 1:
                    eps_i *= kappa
            sol, el, peak = _solve_layer(Xc, targets[i], eps_i, acts[i], V, solver, Wt[i], solver_options)
            results[i] = (sol, el, peak, eps_i, Xc)
            V_used[i] = V
            Uhat = _clean(sol.W, solver, Wt[i], Xc, targets[i], eps_i, acts[i], V)
            H = Uhat.T @ Xc
            H = (np.maximum(H, 0.0) if acts[i] == "relu" else H).T

    new_W, new_b, rows, sols = [], ([] if biased else None), [], []
    for i, (sol, el, peak, eps_i, Xc) in enumerate(results):
        U = _clean(sol.W, solver, Wt[i], Xc, targets[i], eps_i, acts[i], V_used[i])
        n_in = Ws[i].shape[0]
        new_W.append(U[:n_in].copy())
        if biased:
            new_b.append(U[n_in].copy())
        Zl = U.T @ Xc
        Zl = np.maximum(Zl, 0.0) if acts[i] == "relu" else Zl
        layer_err = float(np.linalg.norm(Zl - targets[i]))
        violation = _violation(Xc, targets[i], eps_i, acts[i], V_used[i], U)
        status = sol.status
        if solver != "fast":
            # zeroing the reference's tiny entries changed W: "optimal" must hold for the W we return
            if status == OPTIMAL and violation > VIOLATION_TOL:
                status = OPTIMAL_INACCURATE
            sol = replace(sol, W=U, status=status, violation=violation, objective=float(np.abs(U).sum()))
        sols.append(sol)
        rows.append(dict(layer=i + 1, n_in=n_in, n_out=Ws[i].shape[1], activation=acts[i],
                         nnz_before=int(np.count_nonzero(Ws[i])), nnz_after=int(np.count_nonzero(U[:n_in])),
                         kept=np.count_nonzero(U[:n_in]) / Ws[i].size,
                         bias_nnz_after=int(np.count_nonzero(U[n_in])) if biased else 0,
                         layer_rel_error=layer_err / (y_norms[i] or 1.0),
                         epsilon=eps_i, epsilon_rel=eps_i / (y_norms[i] or 1.0),
                         dead_neurons=int(np.sum(~U.any(axis=0))), status=status,
                         violation=violation,
                         gap=sol.gap, iterations=sol.iterations, time=el,
                         peak_mem_mb=peak))
        if not U.any():
            warnings.warn(f"layer {i + 1} was pruned to all zeros (weights and bias): the network output no longer "
                          f"depends on its input; lower epsilon (now {eps_rel[i]:g} relative)", stacklevel=2)
        if status != OPTIMAL:
            warnings.warn(f"layer {i + 1}: solver {sol.solver} returned status {status!r} (relative violation "
                          f"{violation:.2e}); the layer may not meet its error bound", stacklevel=2)
    pruned = forward(new_W, new_b, X, last_activation=last_activation, return_all=True)
    for i, row in enumerate(rows):
        row["rel_error"] = float(np.linalg.norm(pruned[i + 1] - signals[i + 1])) / (y_norms[i] or 1.0)
    report = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    return PrunedNetwork(weights=new_W, biases=new_b, report=report, mode=mode, last_activation=last_activation,
                         solutions=sols)


def _clean(W: np.ndarray, solver: str, original: np.ndarray, Xc, Yc, eps, activation, V) -> np.ndarray:
    """The solver's W with NaNs (no answer) replaced by zeros, so that the report and forward still work,
    and, for the interior-point reference, entries below a fraction of the larger of max|W| and the original
    layer's max|W̃| set to zero (the latter catches an answer that is all ~0). The fraction is
    :data:`REFERENCE_ZERO_TOL`, or 100× and 10,000× smaller when a larger one would push the recomputed
    violation past the reference's tolerance; an answer that was within tolerance stays within it."""
    W = np.asarray(W, dtype=float)
    W = np.where(np.isfinite(W), W, 0.0)
    if solver == "fast" or not W.size:
        return W
    scale = max(np.abs(W).max(), np.abs(original).max())
    before = _violation(Xc, Yc, eps, activation, V, W)
    for tol in (REFERENCE_ZERO_TOL, 1e-2 * REFERENCE_ZERO_TOL, 1e-4 * REFERENCE_ZERO_TOL):
        U = np.where(np.abs(W) > tol * scale, W, 0.0)
        if _violation(Xc, Yc, eps, activation, V, U) <= max(VIOLATION_TOL, before):
            return U
    return W


def _violation(Xc, Yc, eps, activation, V, U) -> float:
    """Relative constraint excess of the returned (cleaned) U, recomputed from scratch."""
    return layer_problem(Xc, Yc, eps, activation=activation, V=V).violation(U)
