r"""One layer of a network prune: the ℓ1 solve (with reweighting), the refit, and its report row.

This is the layer-level API that :func:`nettrim.prune_network` drives and that other front ends (e.g. a
convolutional layer written as a patch program) reuse: :func:`prune_layer` takes one layer program in the
paper's notation (X is N×P with samples in columns, the last row all ones for a bias; Y = σ(W̃ᵀX) is M×P;
absolute ε; V on Ωᶜ) and returns the pruned W̃ and a report row. :func:`cascade_program` gives the ε and V
of the cascade scheme for a layer fed the pruned signal.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import numbers
import sys
import time
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike

from ._memory import peak_memory as _peak_memory
from ._refit import refit_support
from ._validation import SCALE_RANGE, as_float_matrix, check_scalar
from .problem import ACTIVATIONS, layer_problem
from .solution import OPTIMAL, Solution

__all__ = ["LayerResult", "prune_layer", "refit_layer", "cascade_program", "resolve_options", "SOLVERS",
           "REWEIGHT_DELTA"]

#: "fast" is nettrim.fast.solve (ADMM); "reference" is nettrim.reference.solve with CLARABEL; the names of
#: the reference's conic back-ends select that back-end.
SOLVERS = ("fast", "reference", "clarabel", "ecos", "scs")

#: Reweighted ℓ1 (Candès, Wakin & Boyd, "Enhancing sparsity by reweighted ℓ1 minimization", 2008):
#: w = 1/(|u| + δ) with δ "slightly smaller than the expected nonzero magnitudes"; here δ is this
#: fraction of the mean |u| over the previous round's nonzeros, so it follows the layer's scale.
REWEIGHT_DELTA = 0.1

# Keywords of the layer solvers that the pruner sets itself (per layer, per round).
_MANAGED = ("X", "Y", "epsilon", "activation", "V", "weights", "warm_start", "verbose")


@dataclass
class LayerResult:
    """One pruned layer.

    Attributes
    ----------
    W : ndarray, shape (N, M)
        The pruned augmented layer :math:`\\hat{\\tilde W}` (last row the bias when ``bias``): the refit
        when it was run and accepted, else the ℓ1 answer.
    W_l1 : ndarray, shape (N, M)
        The (last round's) ℓ1 answer, before the refit.
    solution : Solution
        The last ℓ1 solve (its ``W`` is ``W_l1``; ``gap`` is certified for the weighted ℓ1 of that round).
    row : dict
        The layer's report fields (see :data:`nettrim.network.REPORT_COLUMNS`; all but ``layer`` and
        ``rel_error``, which need the whole network).
    l1_weights : ndarray or None
        The ℓ1 weights of the last round (None without reweighting).
    """

    W: np.ndarray
    W_l1: np.ndarray
    solution: Solution = field(repr=False)
    row: dict = field(repr=False)
    l1_weights: np.ndarray | None = field(default=None, repr=False)


def resolve_options(solver: str, options: dict | None) -> dict:
    """The layer solver's options: :data:`nettrim.fast.PRUNING_OPTIONS` overridden by ``options`` for "fast".

    Raises ``TypeError`` for a keyword the solver does not take (naming the allowed ones) or one that the
    pruner sets per layer. The reference back-ends' own settings are checked by the back-end at solve time
    (:func:`nettrim.prune_network` probes them up front).
    """
    options = dict(options or {})
    managed = sorted(set(options) & set(_MANAGED))
    if managed:
        raise TypeError(f"solver option(s) {managed} are set by the pruner for each layer and cannot be passed")
    if solver != "fast":
        return options
    from nettrim import fast

    allowed = sorted(p.name for p in inspect.signature(fast.solve).parameters.values()
                     if p.kind == p.KEYWORD_ONLY and p.name not in _MANAGED)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown} for solver='fast'; the options of nettrim.fast.solve are "
                        f"{allowed}")
    return {**fast.PRUNING_OPTIONS, **options}


def check_flag(value, name: str) -> bool:
    """A bool flag (numpy bools too); anything else (e.g. the string "yes") is a TypeError naming it."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def check_reweight(reweight) -> int:
    """The number of reweighting rounds: an integer ≥ 0 (not a bool)."""
    if isinstance(reweight, (bool, np.bool_)):
        raise TypeError("reweight must be an integer number of rounds, got a bool")
    return check_scalar(reweight, "reweight", low=0, integer=True)


def check_verbose(verbose) -> int:
    """``verbose`` as 0, 1 or 2 (False/True are 0/1); anything else (e.g. the string "no") is a TypeError."""
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    if not isinstance(verbose, numbers.Integral) or not 0 <= verbose <= 2:
        raise TypeError(f"verbose must be a bool or 0, 1, 2, got {verbose!r}")
    return int(verbose)


def cascade_program(original: ArrayLike, X: ArrayLike, Y: ArrayLike, *, activation: str = "relu",
                    gamma: float = 1.1, kappa: float = 1.0) -> tuple[float, np.ndarray | None]:
    r"""ε and V of the cascade scheme for a layer fed the pruned network's signal.

    With :math:`Z = \tilde W^\top \hat X` (the original layer on the pruned input X) and Y the original
    layer's output,

    .. math::

        V = Z,\qquad \varepsilon^2 = \gamma \sum_{(m,p)\in\Omega} (Z - Y)_{mp}^2 ,

    (a linear layer sums over every entry and has no V), times κ. For κ = 1 and γ ≥ 1 the original
    layer is feasible for the program it defines, so no cascade layer is ever infeasible.

    Parameters
    ----------
    original : array_like, shape (N, M)
        The original augmented layer :math:`\tilde W`.
    X : array_like, shape (N, P)
        The pruned network's signal into this layer, in columns (with the row of ones for a bias).
    Y : array_like, shape (M, P)
        The original network's output of this layer.
    activation : {"relu", "linear"}
    gamma : float
        γ ≥ 1 (1.1 in the paper).
    kappa : float
        κ ∈ (0, 1] multiplying ε (the paper applies it to the last layer).

    Returns
    -------
    epsilon : float
        Absolute ε of the layer program.
    V : ndarray (M, P) or None
        The inactive-set bound (None for a linear layer).

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[1.0], [-1.0]]); X = np.array([[1.0, 2.0], [0.5, 3.0]]); Y = np.array([[1.0, 0.0]])
    >>> eps_layer, V = cascade_program(W, X, Y, gamma=1.0)
    >>> float(eps_layer), V                       # only the active sample counts
    (0.5, array([[ 0.5, -1. ]]))
    """
    X = as_float_matrix(X, "X")
    Y = as_float_matrix(Y, "Y", shape=(None, X.shape[1]))
    original = as_float_matrix(original, "original", shape=(X.shape[0], Y.shape[0]))
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    gamma = check_scalar(gamma, "gamma", low=1.0)
    kappa = check_scalar(kappa, "kappa", low=0.0, high=1.0, low_inclusive=False)
    Z = original.T @ X
    D = Z - Y
    if activation == "relu":
        eps_layer = float(np.sqrt(gamma * np.sum(D[Y > 0] ** 2)))
        V = Z  # only its Ωᶜ entries enter the program
    else:
        eps_layer = float(np.sqrt(gamma * np.sum(D ** 2)))
        V = None
    if not np.isfinite(eps_layer) or eps_layer > SCALE_RANGE[1]:
        if gamma > 1.0:
            raise ValueError(f"gamma = {gamma:g} makes the cascade layer's epsilon {eps_layer:.3g}, outside the "
                             f"supported magnitudes (up to {SCALE_RANGE[1]:g}); gamma is a slack factor near 1")
        raise ValueError(f"the cascade layer's epsilon (the original layer's error on X) is {eps_layer:.3g}, "
                         f"outside the supported magnitudes (up to {SCALE_RANGE[1]:g}): rescale the data")
    return eps_layer * kappa, V


def prune_layer(X: ArrayLike, Y: ArrayLike, epsilon: float, original: ArrayLike, *, activation: str = "relu",
                V: ArrayLike | None = None, bias: bool = True, refit: bool = True, reweight: int = 0,
                solver: str = "fast", solver_options: dict | None = None, warm_start=None, verbose: int = 0,
                label: str = "layer") -> LayerResult:
    r"""Prune one layer program: ℓ1 solve, optional reweighting rounds, optional refit on the support.

    1. Solve :math:`\min \sum w_{ij}|u_{ij}|` s.t. :math:`\|(U^\top X - Y)_\Omega\|_F \le \varepsilon`,
       :math:`(U^\top X)_{\Omega^c} \le V_{\Omega^c}` (:func:`nettrim.layer_problem`), first with w = 1;
       then ``reweight`` rounds with :math:`w = \delta/(|u| + \delta)` from the previous round's answer
       (Candès, Wakin & Boyd 2008; the constant factor δ leaves the minimizer unchanged and keeps w ≤ 1),
       :math:`\delta` = :data:`REWEIGHT_DELTA` times the mean nonzero |u|, each round warm-started from
       the last. A round that does not end "optimal" is discarded (the previous answer stays).
    2. With ``refit``, refit the nonzero entries (:func:`nettrim._refit.refit_support`): the answer stays
       feasible for the same program with a smaller error, so Proposition 1,
       :math:`\|\sigma(\hat U^\top X) - Y\|_F \le \varepsilon`, still holds. The refit is kept only if the
       spectral norm of its weight rows is at most :math:`\|\tilde W\|_1` of the original layer — the
       Lipschitz constant the parallel consistency theorem charges to the layer (it is 1 on a
       link-normalized network, and an ℓ1 answer always meets it) — so that theorem holds as well.

    Parameters
    ----------
    X : array_like, shape (N, P)
        Layer input, samples in columns; with ``bias`` its last row is all ones.
    Y : array_like, shape (M, P)
        The original layer's output (≥ 0 for a ReLU layer).
    epsilon : float
        Absolute ε of the layer program (:math:`\varepsilon_\ell`, not the network's relative ε).
    original : array_like, shape (N, M)
        The original augmented layer: ``nnz_before`` and the bound on the refit's norm.
    activation : {"relu", "linear"}
    V : array_like, shape (M, P), optional
        Inactive-set bound (ReLU only; default 0).
    bias : bool
        The last row of X is the row of ones (its entries of W are the bias, not counted as weights).
    refit : bool
        Refit on the support (step 2).
    reweight : int
        Reweighting rounds after the first solve (0 = plain ℓ1).
    solver : {"fast", "reference", "clarabel", "ecos", "scs"}
    solver_options : dict, optional
        Options of the layer solver (:func:`resolve_options`: "fast" starts from
        :data:`nettrim.fast.PRUNING_OPTIONS`).
    warm_start : Solution or array_like (N, M), optional
        Start of the first "fast" round (default: a cold start; a start from the dense original layer
        costs more than it saves, see :func:`_l1_rounds`).
    verbose : int
        ≥ 2 passes ``verbose=True`` to the solver and prefixes its output lines with ``label``.
    label : str
        Name of the layer in printed output.

    Returns
    -------
    LayerResult

    Examples
    --------
    >>> import numpy as np
    >>> from nettrim.experiments.layers import random_layer
    >>> d = random_layer(20, 4, 200, bias=True, seed=0)
    >>> res = prune_layer(d.X, d.Y, 0.1 * np.linalg.norm(d.Y), d.W0)
    >>> res.row["layer_rel_error"] <= res.row["layer_rel_error_l1"] <= 0.1 + 1e-4
    True
    """
    reweight = check_reweight(reweight)
    refit, bias = check_flag(refit, "refit"), check_flag(bias, "bias")
    if not isinstance(solver, str) or solver.lower() not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if isinstance(verbose, (bool, np.bool_)):
        verbose = int(verbose)
    elif not isinstance(verbose, numbers.Integral) or not 0 <= verbose <= 2:
        raise TypeError(f"verbose must be a bool or 0, 1, 2, got {verbose!r}")
    solver = solver.lower()
    options = resolve_options(solver, solver_options)
    prob = layer_problem(X, Y, epsilon, activation=activation, V=V)
    original = prob.check_weights(original, "original")

    t0 = time.perf_counter()
    with _peak_memory() as peak:
        sol, l1_weights, rounds, iterations = _l1_rounds(prob, original, reweight, solver, options,
                                                         warm_start, verbose, label)
    l1 = dict(l1_weights=l1_weights, rounds=rounds, iterations=iterations, seconds=time.perf_counter() - t0,
              peak=peak())
    return _finish(prob, original, bool(bias), sol, l1, refit)


def refit_layer(result: LayerResult, X: ArrayLike, Y: ArrayLike, epsilon: float, original: ArrayLike, *,
                activation: str = "relu", V: ArrayLike | None = None, bias: bool = True) -> LayerResult:
    """Refit a layer pruned with ``refit=False`` (the same arguments as its :func:`prune_layer` call).

    The same as pruning it with ``refit=True`` in the first place (its row's ``time`` includes both), so a
    search over ε can skip the refit until it has chosen (the refit keeps the support, hence the count).
    """
    prob = layer_problem(X, Y, epsilon, activation=activation, V=V)
    original = prob.check_weights(original, "original")
    row = result.row
    l1 = dict(l1_weights=result.l1_weights, rounds=row["reweight_rounds"], iterations=row["iterations"],
              seconds=row["time"] - row["refit_time"], peak=row["peak_mem_mb"])
    return _finish(prob, original, bool(bias), result.solution, l1, True)


def _finish(prob, original, bias, sol, l1, refit) -> LayerResult:
    """The refit (if asked) and the report row of a layer whose ℓ1 stage gave ``sol``."""
    n_in = prob.N - int(bias)
    U_l1 = sol.W
    W, fallbacks, refit_time, refit_used, peak = U_l1, 0, 0.0, False, l1["peak"]
    if refit:
        t1 = time.perf_counter()
        with _peak_memory() as refit_peak:
            fit = refit_support(prob, U_l1)
        refit_time = time.perf_counter() - t1
        peak = float(np.fmax(peak, refit_peak()))      # NaN only where memory is not measured
        fallbacks = fit.fallbacks
        # the spectral norm the parallel consistency theorem charges to the layer: ‖Ŵ‖₂ ≤ ‖W̃‖₁
        if np.linalg.norm(fit.W[:n_in], 2) <= np.abs(original).sum():
            W, refit_used = fit.W, True
        else:
            fallbacks = prob.M
    y_norm = float(np.linalg.norm(prob.Y)) or 1.0
    gap = sol.gap
    row = dict(n_in=n_in, n_out=prob.M, activation=prob.activation,
               nnz_before=int(np.count_nonzero(original[:n_in])), nnz_after=int(np.count_nonzero(W[:n_in])),
               kept=np.count_nonzero(W[:n_in]) / max(n_in * prob.M, 1),
               bias_nnz_after=int(np.count_nonzero(W[n_in])) if bias else 0,
               layer_rel_error=prob.relu_error(W) / y_norm, layer_rel_error_l1=prob.relu_error(U_l1) / y_norm,
               epsilon=prob.epsilon, epsilon_rel=prob.epsilon / y_norm,
               dead_neurons=int(np.sum(~W.any(axis=0))), status=sol.status,
               violation=prob.violation(W), violation_l1=prob.violation(U_l1),
               gap=np.nan if gap is None else float(gap), iterations=l1["iterations"],
               time=l1["seconds"] + refit_time, refit=refit_used, refit_fallbacks=fallbacks, refit_time=refit_time,
               reweight_rounds=l1["rounds"], peak_mem_mb=peak)
    return LayerResult(W=W, W_l1=U_l1, solution=sol, row=row, l1_weights=l1["l1_weights"])


def _l1_rounds(prob, original, reweight, solver, options, warm_start, verbose, label):
    """The ℓ1 solve and its reweighting rounds; returns (last kept Solution, its weights, rounds, iterations)."""
    # The first round starts cold unless the caller gives a start: a start from the dense original layer
    # made the polish work on dense supports: `python -m nettrim.experiments prune-mnist --quick` (P = 500),
    # parallel ε = 0.05, took 494 s warm and 19 s cold for the same prune (kept 22.86 %, accuracy 94.4 %).
    sol = _solve(prob, None, solver, options, warm_start, original, verbose, label)
    weights, rounds, iterations = None, 0, sol.iterations or 0
    for r in range(reweight):
        U = sol.W
        nonzero = np.abs(U[U != 0])
        if nonzero.size == 0:
            break
        delta = REWEIGHT_DELTA * float(nonzero.mean())
        w = delta / (np.abs(U) + delta)
        nxt = _solve(prob, w, solver, options, sol, original, verbose, f"{label}, reweight round {r + 1}")
        iterations += nxt.iterations or 0
        if nxt.status != OPTIMAL:
            break
        sol, weights, rounds = nxt, w, r + 1
    return sol, weights, rounds, iterations


def _solve(prob, weights, solver, options, warm, original, verbose, label) -> Solution:
    """One layer solve; NaN answers (no solution) become zeros so that the report and forward still work."""
    verbose = int(verbose) >= 2
    V = prob.V if prob.activation == "relu" else None
    with _prefixed_stdout(f"[{label}] ", verbose):
        if solver == "fast":
            from nettrim.fast import solve as fast_solve

            sol = fast_solve(prob.X, prob.Y, prob.epsilon, activation=prob.activation, V=V, weights=weights,
                             warm_start=warm, verbose=verbose, **options)
        else:
            from nettrim import reference

            backend = "CLARABEL" if solver == "reference" else solver.upper()
            opts = dict(options, verbose=True) if verbose else dict(options)
            # the reference normalizes units, zeroes its interior-point dust (relative to the original
            # layer's weights too) and certifies its status for the weights it returns
            sol = reference.solve(prob.X, prob.Y, prob.epsilon, activation=prob.activation, V=V, weights=weights,
                                  solver=backend, zero_scale=float(np.abs(original).max()), **opts)
    if not np.all(np.isfinite(sol.W)):
        sol = replace(sol, W=np.where(np.isfinite(sol.W), sol.W, 0.0))
    return sol


class _Prefixed(io.TextIOBase):
    """A text stream that writes every line to ``target`` with ``prefix`` in front."""

    def __init__(self, target, prefix: str):
        self.target, self.prefix, self.at_line_start = target, prefix, True

    def write(self, s: str) -> int:
        for piece in s.splitlines(keepends=True):
            if self.at_line_start:
                self.target.write(self.prefix)
            self.target.write(piece)
            self.at_line_start = piece.endswith("\n")
        return len(s)

    def flush(self):
        self.target.flush()


@contextlib.contextmanager
def _prefixed_stdout(prefix: str, enabled: bool):
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(_Prefixed(sys.stdout, prefix)):
        yield
