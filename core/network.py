r"""Prune a whole fully connected ReLU network with Net-Trim, layer by layer.

Network convention (scikit-learn's ``MLPClassifier.coefs_`` / ``intercepts_``): ``weights[ℓ]`` is
:math:`W_\ell` (n_in × n_out), ``biases[ℓ]`` is :math:`b_\ell` (n_out,), data have samples in **rows**.
Each layer program is the one of :func:`nettrim.layer_problem` on the augmented pair
:math:`(\tilde W_\ell = [W_\ell; b_\ell^\top],\ \tilde Y = [Y; \mathbf 1^\top])`, so the bias is pruned
with the weights.

What lives where (each module readable in one sitting):

* :func:`prune_network` (here): validation and the driver;
* :mod:`nettrim._forward`: :func:`forward`, :func:`link_normalize`, the augmented layers;
* :mod:`nettrim._schemes`: the parallel and cascade schemes, at given ε or target densities;
* :mod:`nettrim._layer`: the layer-level API, :func:`prune_layer` (ℓ1 solve, reweighting, refit, report
  row) and :func:`cascade_program` (ε and V of the cascade);
* :mod:`nettrim._refit`: the exact refit on the support; :mod:`nettrim._density`: :func:`search_epsilon`;
* :mod:`nettrim._result`: :class:`PrunedNetwork` and its report.

Units of ε: ``epsilon`` of :func:`prune_network` is relative (the paper's ε_gain,
:math:`\varepsilon_\ell = \epsilon\,\|Y^{(\ell)}\|_F`); :func:`prune_layer` and the report's ``epsilon``
column are absolute (the layer program's ε).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from numpy.typing import ArrayLike

from ._density import DENSITY_TOL, START_ANCHOR, DensitySearch, Trial, search_epsilon, start_epsilon
from ._forward import LAST_ACTIVATIONS, check_choice, check_data, check_network, forward, link_normalize
from ._layer import (
    REWEIGHT_DELTA,
    SOLVERS,
    LayerResult,
    cascade_program,
    check_flag,
    check_reweight,
    check_verbose,
    prune_layer,
    refit_layer,
    resolve_options,
)
from ._result import REPORT_COLUMNS, PrunedNetwork, build_report
from ._schemes import Config, prepare, run_scheme, search_common, search_per_layer
from ._threads import limit_blas
from ._validation import check_scalar
from .magnitude import magnitude_prune
from .solution import OPTIMAL, ConvergenceWarning, gap_certifies

__all__ = ["prune_network", "PrunedNetwork", "forward", "link_normalize", "magnitude_prune", "MODES", "SOLVERS",
           "REPORT_COLUMNS", "DEFAULT_EPSILON", "prune_layer", "refit_layer", "cascade_program", "LayerResult",
           "search_epsilon", "start_epsilon", "START_ANCHOR", "DensitySearch", "Trial", "DENSITY_TOL",
           "REWEIGHT_DELTA"]

MODES = ("parallel", "cascade")
#: The relative ε used when neither ``epsilon`` nor ``density`` is given.
DEFAULT_EPSILON = 0.05


def prune_network(weights, biases, X: ArrayLike, *, epsilon=None, density=None, mode="parallel", refit=True,
                  reweight=0, gamma=1.1, kappa=1.0, last_activation="linear", solver="fast", jobs=1, verbose=False,
                  blas_threads=None, density_tol=DENSITY_TOL, **solver_options) -> PrunedNetwork:
    r"""Prune every layer of a fully connected ReLU network with Net-Trim.

    Each layer ℓ is the program :math:`\min\|U\|_1` s.t. :math:`\|(U^\top X_\ell - Y^{(\ell)})_\Omega\|_F
    \le \varepsilon_\ell`, :math:`(U^\top X_\ell)_{\Omega^c} \le V_{\Omega^c}`, in the parallel scheme
    (:math:`X_\ell` the original signal, V = 0) or the cascade scheme (:math:`X_\ell` the pruned signal,
    V and :math:`\varepsilon_\ell` from γ; see :func:`cascade_program`). Guarantees, for the weights
    returned (refit or not):

    * Proposition 1: each layer alone on its program input is within :math:`\varepsilon_\ell` of
      :math:`Y^{(\ell)}` after its activation (report column ``layer_rel_error`` ≤ ``epsilon_rel``);
    * on a link-normalized network (:func:`link_normalize`) the consistency theorems,
      :math:`\|\hat Y^{(\ell)} - Y^{(\ell)}\|_F \le \sum_{j\le\ell}\varepsilon_j` (parallel) and
      :math:`\le \varepsilon_1\sqrt{\gamma^{\ell-1}}` (cascade, κ = 1).

    The refit (default) keeps these: it only lowers each layer's error under the same constraints (see
    :func:`prune_layer`). With the defaults every layer's ℓ1 solve is certified (report: ``gap`` within ±1e-3
    relative duality gap, ``violation`` ≤ 1e-4 relative constraint excess) or a
    :class:`nettrim.ConvergenceWarning` says which layer is not.

    Parameters
    ----------
    weights : list of array_like, each shape (n_in, n_out)
        :math:`W_\ell` in scikit-learn's ``coefs_`` convention (the paper's W: column m is neuron m).
    biases : list of array_like, each shape (n_out,), or None
        :math:`b_\ell` (scikit-learn's ``intercepts_``); it rides on an appended row of ones and is pruned
        with the weights. None for a network without biases.
    X : array_like, shape (P, n_in)
        Calibration data, samples in **rows** (as in scikit-learn).
    epsilon : float or sequence of float, optional
        Relative tolerance (the paper's ε_gain): :math:`\varepsilon_\ell = \epsilon\,\|Y^{(\ell)}\|_F` for
        every layer in parallel mode and for layer 1 in cascade mode. A sequence gives one per layer
        (cascade uses only the first). Default :data:`DEFAULT_EPSILON` (0.05) when ``density`` is not
        given either.
    density : float or sequence of float, optional
        Instead of ``epsilon``: the fraction of the network's weights to keep (biases not counted), in
        (0, 1]. One number: one common relative ε is searched (:func:`search_epsilon`: secant steps on
        log ε, each prune warm-started from the nearest earlier one), so Net-Trim still allocates the
        sparsity across layers; the result is within ``density_tol`` of the target unless a warning
        says otherwise, and :attr:`PrunedNetwork.search` holds the trials. A sequence: one target per
        layer, each layer searching its own ε (in cascade mode layer ℓ ≥ 2 searches
        :math:`\varepsilon_\ell` at or above its γ = 1 value, which keeps it feasible, so a target denser
        than that value allows is out of reach); a layer of n weights is within max(``density_tol``, 1/n).
    mode : {"parallel", "cascade"}
        Parallel layers are independent; cascade feeds each layer the pruned (and refitted) signal.
    refit : bool
        Refit the kept weights of every layer exactly to its outputs under the same constraints
        (:func:`prune_layer`): the support and the guarantees are unchanged, the error drops. The
        report's ``layer_rel_error_l1`` is the error before.
    reweight : int
        Rounds of reweighted ℓ1 after the first solve (Candès, Wakin & Boyd 2008), each warm-started
        from the last, weights :math:`\delta/(|u| + \delta)` with δ = :data:`REWEIGHT_DELTA` × the mean
        nonzero |u| of the layer: fewer weights at the same ε. 0 (default) is plain Net-Trim.
    gamma : float
        γ ≥ 1 of the cascade scheme (1.1 in the paper); unused in parallel mode.
    kappa : float
        κ ∈ (0, 1] multiplying the cascade's last-layer :math:`\varepsilon_L` (smaller = more faithful
        logits; below :math:`1/\sqrt\gamma` the original last layer may be infeasible).
    last_activation : {"linear", "relu"}
        Activation of the last layer (hidden layers are ReLU).
    solver : {"fast", "reference", "clarabel", "ecos", "scs"}
        "fast" is :func:`nettrim.fast.solve` (ADMM, from a cold start) with
        :data:`nettrim.fast.PRUNING_OPTIONS` as defaults; "reference" is :func:`nettrim.reference.solve`
        with CLARABEL (exact, for small layers); a back-end name selects that back-end.
    jobs : int
        Parallel mode: prune up to ``jobs`` layers at once (or run per-layer density searches at once)
        in joblib worker processes, each pinned to one BLAS thread. Cascade layers run in order.
    verbose : bool or int
        0/False: silent. 1/True: one line per pruned layer (kept, error, status, time), and one per
        density-search trial. 2: also the layer solver's own output, each line prefixed by its layer.
    blas_threads : int, optional
        BLAS threads for the work done in this process (``threadpoolctl``); None leaves the BLAS as it
        is. Worker processes (``jobs`` > 1) always use one. On a machine shared with other work, more
        threads than free cores slow the solvers down (on 2 busy cores a second thread made the ADMM
        3–6× slower), so pin to 1 there; on idle cores a few threads speed the large layers up.
    density_tol : float
        Tolerance of ``density`` (absolute, default 0.005).
    **solver_options
        Options of the layer solver, overriding the defaults (e.g. ``eps_abs``, ``max_iter`` for "fast";
        the back-end's settings for the reference). An unknown name raises ``TypeError`` before any work.

    Returns
    -------
    PrunedNetwork
        ``weights``, ``biases``, the per-layer ``report``, ``settings`` and helpers (``forward``,
        ``predict``, ``score``, ``apply_to``, ``save``).

    Warns
    -----
    nettrim.ConvergenceWarning
        A layer whose ℓ1 solve did not end "optimal" (status in the report).
    UserWarning
        A layer pruned to all zeros; refits rejected by their check (the ℓ1 answer kept); a density
        target not reached within ``density_tol``.

    Raises
    ------
    TypeError, ValueError
        Malformed network or data, an unknown mode/solver/activation or solver option, both ``epsilon``
        and ``density``, ε < 0, density ∉ (0, 1], γ < 1, κ ∉ (0, 1], jobs < 1, non-bool flags.

    Examples
    --------
    >>> import numpy as np, nettrim
    >>> rng = np.random.default_rng(0)
    >>> W = [rng.standard_normal((10, 20)), rng.standard_normal((20, 3))]
    >>> X = rng.standard_normal((200, 10))
    >>> net = nettrim.prune_network(W, None, X, epsilon=0.1, mode="cascade")
    >>> bool((net.report["layer_rel_error"] <= net.report["epsilon_rel"] + 1e-4).all())
    True
    >>> net = nettrim.prune_network(W, None, X, density=0.9)     # keep 90 % of the weights
    >>> abs(net.kept - 0.9) <= 0.005
    True
    """
    Ws, bs = check_network(weights, biases)
    L = len(Ws)
    X = check_data(X, Ws[0].shape[0])
    cfg = _config(mode=mode, refit=refit, reweight=reweight, gamma=gamma, kappa=kappa, solver=solver, jobs=jobs,
                  verbose=verbose, density_tol=density_tol, options=solver_options)
    eps_gains, densities = _targets(epsilon, density, L)
    last_activation = check_choice(last_activation, "last_activation", LAST_ACTIVATIONS)
    threads = None if blas_threads is None else check_scalar(blas_threads, "blas_threads", low=1, integer=True)

    with limit_blas(threads):
        net = prepare(Ws, bs, X, last_activation)
        search = None
        if densities is None:
            layers = run_scheme(net, eps_gains, cfg)
        elif len(densities) == 1:
            search = search_common(net, densities[0], cfg)
            layers = search.payload
        else:
            layers, search = search_per_layer(net, densities, cfg)
    _warn(layers, search, cfg)

    new_W = [r.W[: W.shape[0]].copy() for r, W in zip(layers, Ws, strict=False)]
    new_b = [r.W[W.shape[0]].copy() for r, W in zip(layers, Ws, strict=False)] if bs is not None else None
    pruned = forward(new_W, new_b, X, last_activation=last_activation, return_all=True)
    report = build_report([r.row for r in layers], net.signals, pruned)
    if densities is None:
        found = DEFAULT_EPSILON if epsilon is None else epsilon
    else:  # the relative ε the search found (one per layer for per-layer targets)
        found = search.epsilon if len(densities) == 1 else [s.epsilon for s in search]
    settings = dict(epsilon=found, density=density, mode=cfg.mode, refit=cfg.refit,
                    reweight=cfg.reweight, gamma=cfg.gamma, kappa=cfg.kappa, last_activation=last_activation,
                    solver=cfg.solver, solver_options=cfg.options, calibration_samples=X.shape[0])
    return PrunedNetwork(weights=new_W, biases=new_b, report=report, mode=cfg.mode, last_activation=last_activation,
                         solutions=[r.solution for r in layers], settings=settings, search=search)


# ----------------------------------------------------------------------------------------------- checks
def _config(*, mode, refit, reweight, gamma, kappa, solver, jobs, verbose, density_tol, options) -> Config:
    mode = check_choice(mode, "mode", MODES)
    solver = check_choice(solver, "solver", SOLVERS)
    refit, verbose, reweight = check_flag(refit, "refit"), check_verbose(verbose), check_reweight(reweight)
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
    options = resolve_options(solver, options)
    if solver != "fast" and options:
        _probe_reference(solver, options)
    return Config(mode=mode, refit=refit, reweight=reweight, gamma=check_scalar(gamma, "gamma", low=1.0),
                  kappa=check_scalar(kappa, "kappa", low=0.0, high=1.0, low_inclusive=False), solver=solver,
                  options=options, jobs=int(jobs), verbose=int(verbose),
                  density_tol=check_scalar(density_tol, "density_tol", low=0.0))


def _probe_reference(solver, options):
    """Check the reference back-end's settings up front, on a 1×1 program (the back-end names a bad one).

    ``max_memory`` is only parsed here: the 1×1 probe is not a layer, and a limit below its estimate would be
    reported as the probe's (N = M = P = 1) instead of the first layer's."""
    from nettrim import reference
    from nettrim.reference.memory import parse_bytes

    backend = "CLARABEL" if solver == "reference" else solver.upper()
    options = dict(options)
    if "max_memory" in options:
        parse_bytes(options.pop("max_memory"))
    try:
        reference.solve(np.ones((1, 1)), np.ones((1, 1)), 0.5, activation="linear", solver=backend, **options)
    except TypeError as exc:
        raise TypeError(f"{exc} (solver={solver!r}; the allowed options are the back-end's settings, see its "
                        "documentation)") from None


def _sequence(value, name, L):
    """A scalar, or one value per layer (a list of length L); returns a list or None."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) > 0:
        if np.ndim(value) > 1:
            raise ValueError(f"{name} must be one number or a flat list of one per layer, got shape "
                             f"{np.shape(value)}")
        values = list(np.asarray(value, dtype=object).ravel())
        if len(values) != L:
            raise ValueError(f"{name} has {len(values)} entries but the network has {L} layers; "
                             f"give one {name} or one per layer")
        return values
    return [value]


def _targets(epsilon, density, L):
    """(relative ε per layer, None) or (None, densities: one common or one per layer)."""
    if epsilon is not None and density is not None:
        raise ValueError("give either epsilon or density, not both")
    if density is None:
        eps = _sequence(DEFAULT_EPSILON if epsilon is None else epsilon, "epsilon", L)
        eps = [check_scalar(e, f"epsilon[{i}]" if len(eps) > 1 else "epsilon", low=0.0) for i, e in enumerate(eps)]
        return (eps * L if len(eps) == 1 else eps), None
    dens = _sequence(density, "density", L)
    return None, [check_scalar(d, f"density[{i}]" if len(dens) > 1 else "density", low=0.0, high=1.0,
                               low_inclusive=False) for i, d in enumerate(dens)]


def _uncertified(row, options) -> str:
    """Why an "optimal" layer misses the certificate its solver options ask for ("" when it does not).

    The thresholds are the solver's own options in force (for "fast": ``eps_violation`` and, where the solver
    has it, ``eps_gap``, from :data:`nettrim.fast.PRUNING_OPTIONS` unless overridden).
    """
    problems = []
    tol_violation, tol_gap = options.get("eps_violation"), options.get("eps_gap")
    if tol_violation is not None and row["violation_l1"] > tol_violation:
        problems.append(f"relative violation {row['violation_l1']:.2e} > eps_violation = {tol_violation:g}")
    if tol_gap is not None and not gap_certifies(row["gap"], tol_gap):
        problems.append(f"certified gap {row['gap']:.2e} outside ±eps_gap = {tol_gap:g}")
    return "; ".join(problems)


def _warn(layers: list[LayerResult], search, cfg: Config):
    for i, res in enumerate(layers):
        row = res.row
        if not res.W.any():
            warnings.warn(f"layer {i + 1} was pruned to all zeros (weights and bias): the network output no longer "
                          f"depends on its input; lower epsilon (now {row['epsilon_rel']:g} relative)", stacklevel=3)
        if row["status"] != OPTIMAL:
            warnings.warn(f"layer {i + 1}: solver {res.solution.solver} returned status {row['status']!r} (relative "
                          f"violation {row['violation_l1']:.2e}); the layer may not meet its error bound",
                          ConvergenceWarning, stacklevel=3)
        else:
            uncertified = _uncertified(row, cfg.options)
            if uncertified:
                warnings.warn(f"layer {i + 1}: {uncertified}", ConvergenceWarning, stacklevel=3)
        if row["refit_fallbacks"]:
            what = ("the whole layer (its spectral norm exceeded the original's l1 norm)"
                    if not row["refit"] else f"{row['refit_fallbacks']} neuron(s)")
            warnings.warn(f"layer {i + 1}: refit rejected for {what}; the l1 answer was kept there", stacklevel=3)
    searches = [] if search is None else (search if isinstance(search, list) else [search])
    for j, s in enumerate(searches):
        if not s.converged:
            where = "" if len(searches) == 1 else f"layer {j + 1}: "
            warnings.warn(f"{where}density target {s.target:g} not reached within {s.tol:g}: kept {s.kept:.4f} at "
                          f"relative epsilon {s.epsilon:.4g} after {len(s.trials)} trials", stacklevel=3)

