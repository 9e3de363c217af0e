r"""The parallel and cascade schemes over a whole network, at given ε or at target densities.

Parallel scheme (every layer from the original signals, layers independent):

.. math::

    \hat{\tilde W}_\ell = \arg\min \|U\|_1 \ \text{s.t.}\ U \text{ feasible for }
    (\tilde Y^{(\ell-1)}, Y^{(\ell)}, V = 0, \varepsilon_\ell = \epsilon_\ell\,\|Y^{(\ell)}\|_F).

Cascade scheme (layer ℓ ≥ 2 from the pruned signal :math:`\hat Y^{(\ell-1)}`, target still
:math:`Y^{(\ell)}`; ε and V from :func:`nettrim.network.cascade_program`):

.. math::

    V = \tilde W_\ell^\top \hat{\tilde Y}^{(\ell-1)},\qquad
    \varepsilon_\ell^2 = \gamma \sum_{(m,p)\in\Omega} \big(\tilde w_{\ell,m}^\top \hat{\tilde y}_p^{(\ell-1)}
    - y^{(\ell)}_{mp}\big)^2

(every entry for a linear layer; :math:`\varepsilon_L` times κ). With a refit the next layer sees the
refitted signal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from ._density import search_epsilon, start_epsilon
from ._forward import activations, augment, columns, forward
from ._layer import LayerResult, cascade_program, prune_layer, refit_layer
from ._validation import SCALE_RANGE

__all__ = ["Config", "Signals", "prepare", "run_scheme", "search_common", "search_per_layer", "kept_fraction"]

# Range of the relative ε searched for a target density: below 1e-4 the ℓ1 answer is as dense as it gets
# at ε = 0; at 1 a ReLU layer's all-zero answer is feasible (‖relu(0) − Y‖ = ‖Y‖).
EPS_RANGE = (1e-4, 1.0)


@dataclass(frozen=True)
class Config:
    """Validated settings of one network prune (see :func:`nettrim.prune_network`)."""

    mode: str
    refit: bool
    reweight: int
    gamma: float
    kappa: float
    solver: str
    options: dict
    jobs: int
    verbose: int
    density_tol: float


@dataclass
class Signals:
    """The original network and its signals on the calibration data."""

    Ws: list
    bs: list | None
    Wt: list            # augmented layers [W; bᵀ]
    acts: list          # "relu" ... last_activation
    signals: list       # Y^(0..L), samples in rows
    targets: list       # Y^(1..L), M×P (columns)
    y_norms: list

    @property
    def L(self) -> int:
        return len(self.Ws)

    @property
    def biased(self) -> bool:
        return self.bs is not None


def prepare(Ws, bs, X, last_activation) -> Signals:
    with np.errstate(over="ignore", invalid="ignore"):
        signals = forward(Ws, bs, X, last_activation=last_activation, return_all=True)
    for i, Y in enumerate(signals[1:], 1):
        # weights and X each within range can still multiply past double precision, layer after layer
        top = float(np.max(np.abs(Y))) if Y.size else 0.0
        if not np.isfinite(top) or top > SCALE_RANGE[1]:
            raise ValueError(f"the network's own output of layer {i} on X reaches {top:.3g}, beyond the supported "
                             f"magnitudes (up to {SCALE_RANGE[1]:g}): rescale the weights or X")
    targets = [np.ascontiguousarray(signals[i + 1].T) for i in range(len(Ws))]
    return Signals(Ws=Ws, bs=bs, Wt=[augment(W, bs[i] if bs is not None else None) for i, W in enumerate(Ws)],
                   acts=activations(len(Ws), last_activation), signals=signals, targets=targets,
                   y_norms=[float(np.linalg.norm(T)) for T in targets])


def kept_fraction(net: Signals, layers: list[LayerResult]) -> float:
    """Fraction of the network's weights kept (bias rows not counted)."""
    return sum(r.row["nnz_after"] for r in layers) / sum(W.size for W in net.Ws)


def run_scheme(net: Signals, eps_gains: list[float], cfg: Config, warm: list | None = None,
               tag: str = "") -> list[LayerResult]:
    """Prune every layer at relative ε ``eps_gains[ℓ]`` (cascade: only layer 1's is used); ``warm`` holds
    the layers of an earlier prune to warm-start from."""
    if cfg.mode == "parallel":
        tasks = [(_layer(net, i, columns(net.signals[i], net.biased)), eps_gains[i] * net.y_norms[i], None,
                  cfg, _warm(warm, i), tag) for i in range(net.L)]
        return _map(_prune_task, tasks, cfg, progress=True)
    results = []
    H = net.signals[0]
    for i in range(net.L):
        data = _layer(net, i, columns(H, net.biased))
        eps_layer, V = _cascade_eps(net, i, data.X, cfg, eps_gains[0])
        res = _prune(data, eps_layer, V, cfg, _warm(warm, i), tag)
        _progress(res, data, cfg, tag)
        results.append(res)
        H = _layer_output(res.W, data.X, data.act)
    return results


def search_common(net: Signals, density: float, cfg: Config):
    """One relative ε for every layer, found by :func:`nettrim.network.search_epsilon`.

    In parallel mode the trials skip the refit (it keeps each layer's support, hence the count) and only
    the chosen prune is refitted; a cascade trial needs it, since the next layers see the refitted signal.
    """
    deferred = cfg.mode == "parallel" and cfg.refit
    trial_cfg = replace(cfg, refit=False) if deferred else cfg

    def evaluate(eps_gain, warm):
        layers = run_scheme(net, [eps_gain] * net.L, trial_cfg, warm=warm, tag=f"eps={eps_gain:.4g}")
        kept = kept_fraction(net, layers)
        if cfg.verbose:
            print(f"density search: eps = {eps_gain:.4g} -> kept {100 * kept:.2f} % (target {100 * density:.2f} "
                  f"± {100 * cfg.density_tol:.2f} %)", flush=True)
        return kept, layers

    search = search_epsilon(evaluate, density, lower=EPS_RANGE[0], upper=EPS_RANGE[1],
                            tol=cfg.density_tol)
    if deferred:
        tasks = [(_layer(net, i, columns(net.signals[i], net.biased)), None, res, "refit")
                 for i, res in enumerate(search.payload)]
        search.payload = _map(_refit_task, tasks, cfg, progress=True)
    return search


def search_per_layer(net: Signals, densities: list[float], cfg: Config):
    """One ε per layer: parallel layers searched independently (in ``jobs`` workers); cascade layers in
    order, layer ℓ ≥ 2 searching its ε at or above the cascade's γ = 1 value, which keeps it feasible."""
    if cfg.mode == "parallel":
        tasks = [(_layer(net, i, columns(net.signals[i], net.biased)), None, 0.0, densities[i], cfg)
                 for i in range(net.L)]
        searches = _map(_search_task, tasks, cfg)
        return [s.payload for s in searches], searches
    searches, results = [], []
    H = net.signals[0]
    for i in range(net.L):
        data = _layer(net, i, columns(H, net.biased))
        # the γ = 1 value of ε_ℓ (absolute): the original layer is feasible at and above it
        floor, V = (0.0, None) if i == 0 else _cascade_eps(net, i, data.X, replace(cfg, gamma=1.0, kappa=1.0), None)
        search = _search_layer(data, V, floor, densities[i], cfg)
        searches.append(search)
        results.append(search.payload)
        H = _layer_output(search.payload.W, data.X, data.act)
    return results, searches


# ----------------------------------------------------------------------------------------------- helpers
class _Layer(NamedTuple):
    """One layer program's data (what a worker process needs)."""

    index: int
    n_layers: int
    X: np.ndarray         # input in columns (with the ones row if biased)
    Y: np.ndarray         # original output, M×P
    original: np.ndarray  # original augmented layer
    act: str
    bias: bool

    @property
    def y_norm(self) -> float:
        return float(np.linalg.norm(self.Y)) or 1.0


def _layer(net: Signals, i: int, Xc: np.ndarray) -> _Layer:
    return _Layer(i, net.L, Xc, net.targets[i], net.Wt[i], net.acts[i], net.biased)


def _cascade_eps(net, i, Xc, cfg, eps_gain):
    """(absolute ε_ℓ, V) of cascade layer i; layer 1 from the relative ``eps_gain``."""
    if i == 0:
        return eps_gain * net.y_norms[0], None
    return cascade_program(net.Wt[i], Xc, net.targets[i], activation=net.acts[i], gamma=cfg.gamma,
                           kappa=cfg.kappa if i == net.L - 1 else 1.0)


def _layer_output(W, Xc, act):
    H = W.T @ Xc
    return (np.maximum(H, 0.0) if act == "relu" else H).T


def _warm(warm, i):
    return warm[i].solution if warm is not None else None


def _label(data: _Layer, tag: str) -> str:
    return f"layer {data.index + 1}/{data.n_layers}" + (f", {tag}" if tag else "")


def _prune(data: _Layer, eps_layer, V, cfg, warm, tag) -> LayerResult:
    return prune_layer(data.X, data.Y, eps_layer, data.original, activation=data.act, V=V, bias=data.bias,
                       refit=cfg.refit, reweight=cfg.reweight, solver=cfg.solver, solver_options=cfg.options,
                       warm_start=warm, verbose=cfg.verbose, label=_label(data, tag))


def _progress(res: LayerResult, data: _Layer, cfg: Config, tag: str = "") -> None:
    """One line per pruned layer: kept, error (before the refit), status, time."""
    if not cfg.verbose:
        return
    r = res.row
    refit = f" (l1 {r['layer_rel_error_l1']:.4f})" if r["refit"] else ""
    print(f"{_label(data, tag)}: kept {100 * r['kept']:.2f} % ({r['nnz_after']:,}/{r['n_in'] * r['n_out']:,}), "
          f"error {r['layer_rel_error']:.4f}{refit} at eps {r['epsilon_rel']:.4f}, {r['status']}, "
          f"{r['time']:.2f} s", flush=True)


def _prune_task(args) -> LayerResult:
    return _prune(*args)


def _search_layer(data: _Layer, V, floor, density, cfg):
    """Search one layer's relative ε; the trials skip the refit, the chosen one gets it."""
    trial_cfg = replace(cfg, refit=False)

    def evaluate(eps_gain, warm):
        res = _prune(data, eps_gain * data.y_norm, V, trial_cfg, None if warm is None else warm.solution,
                     f"eps={eps_gain:.4g}")
        _progress(res, data, cfg, f"eps={eps_gain:.4g}")
        return res.row["kept"], res

    lower = max(EPS_RANGE[0], floor / data.y_norm)
    # a layer's kept fraction moves in steps of one weight: a small layer cannot do better than that
    tol = max(cfg.density_tol, 1.0 / ((data.X.shape[0] - int(data.bias)) * data.Y.shape[0]))
    search = search_epsilon(evaluate, density, start=max(start_epsilon(density), lower), lower=lower,
                            upper=max(EPS_RANGE[1], 2 * lower), tol=tol)
    if cfg.refit:
        search.payload = _refit_task((data, V, search.payload, "refit"))
    return search


def _refit_task(args) -> LayerResult:
    data, V, res, _ = args
    return refit_layer(res, data.X, data.Y, res.row["epsilon"], data.original, activation=data.act, V=V,
                       bias=data.bias)


def _search_task(args):
    return _search_layer(*args)


def _map(fn, tasks, cfg, progress=False):
    """``[fn(t) for t in tasks]``, in ``cfg.jobs`` worker processes with one BLAS thread each when jobs > 1;
    with ``progress`` a line per result as it arrives (the first element of a task is its _Layer)."""
    if cfg.jobs > 1 and len(tasks) > 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=min(cfg.jobs, len(tasks)), return_as="generator")(
            delayed(_pinned)(fn, t) for t in tasks)
    else:
        results = (fn(t) for t in tasks)
    out = []
    for task, res in zip(tasks, results, strict=False):
        if progress:
            _progress(res, task[0], cfg, task[-1])
        out.append(res)
    return out


def _pinned(fn, task):
    from ._threads import limit_blas

    # one BLAS thread per worker process: two processes with two threads each oversubscribe a 2-core machine
    with limit_blas(1):
        return fn(task)
