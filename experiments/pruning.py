r"""Shared logic of the pruning experiments (``prune-digits``, ``prune-mnist``).

For one trained MLP and an ε grid, each *cell* prunes the whole network once (Net-Trim parallel or
cascade, :func:`nettrim.prune_network`) and measures, on the held-out test split:

* test accuracy of the pruned network and of **magnitude pruning to the same per-layer nnz**
  (biases untouched), optionally both after fine-tuning on their fixed support;
* the logit discrepancy :math:`\|Z - \hat Z\|_F / \|Z\|_F`;
* accuracy under input noise :math:`x + n`, :math:`\|n\| = r\|x\|` (one seeded noise draw per sample,
  the same for every model);
* the input pixels whose outgoing weights (row of :math:`W_1`) are all zero.

Consistency cells prune a **link-normalized** copy (:func:`nettrim.network.link_normalize`) of the
bias-free form of the network (:func:`bias_free`) and compare
the measured :math:`\|\hat Y^{(\ell)} - Y^{(\ell)}\|_F` with :math:`\sum_{j\le\ell}\varepsilon_j` (parallel)
and :math:`\varepsilon_1\sqrt{\gamma^{\ell-1}}` (cascade, γ constant, κ = 1) on the calibration data.

Cells run through :func:`nettrim.experiments.runner.run_cells` (one row per layer / noise level; a killed
run resumes). Figures and tables are written by :func:`make_outputs`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import load_dataset
from .models import accuracy, get_model
from .runner import Cell, run_cells

__all__ = ["Setting", "run_setting", "prune_cell", "consistency_cell", "bias_free", "finetune", "save_pruned",
           "load_pruned"]


@dataclass
class Setting:
    """Everything one experiment run needs (see ``prune_digits``/``prune_mnist`` for the values)."""

    dataset: str
    hidden: tuple
    train_iter: int
    n_calib: int | None                  # calibration samples (None = the whole training split)
    eps_grid: tuple
    consistency_eps: tuple
    noise_levels: tuple
    gamma: float = 1.1                   # the paper's γ
    # passed to prune_network: empty = its defaults (what a user gets); only the tests set anything here
    solver_options: dict = field(default_factory=dict)
    finetune_epochs: int = 0             # 0 = no fine-tuning
    tag: str = "full"


# ----------------------------------------------------------------------------------------------- helpers
def setup(s: Setting, seed: int, cache_dir: str):
    """The data split, the trained (cached) model and the calibration rows of setting ``s``."""
    data = load_dataset(s.dataset)
    model = get_model(data, s.hidden, seed=seed, max_iter=s.train_iter, cache_dir=cache_dir)
    X = data.X_train
    if s.n_calib is not None and s.n_calib < len(X):
        # the training split is ordered by class for MNIST: take a seeded random subset, never a prefix
        idx = np.sort(np.random.default_rng(seed).permutation(len(X))[: s.n_calib])
        X = X[idx]
    return data, model, X


def _logit_gap(weights, biases, ref_logits, X) -> float:
    from nettrim.network import forward

    Z = forward(weights, biases, X)
    return float(np.linalg.norm(Z - ref_logits) / np.linalg.norm(ref_logits))


def _noisy(X: np.ndarray, r: float, seed: int) -> np.ndarray:
    """x + n with n Gaussian in direction and ‖n‖ = r‖x‖ exactly, per sample (seeded)."""
    G = np.random.default_rng(seed).standard_normal(X.shape)
    G *= (r * np.linalg.norm(X, axis=1) / np.linalg.norm(G, axis=1))[:, None]
    return X + G


def finetune(weights, biases, X, y, *, epochs: int, seed: int, lr: float = 1e-3, batch: int = 200):
    """Fine-tune on the fixed support: Adam on the softmax cross-entropy, gradients masked to the non-zeros.

    The support (and so the nnz) never changes; biases are all trained. ``lr`` and ``batch`` are
    scikit-learn's ``MLPClassifier`` defaults (Adam, learning rate 1e-3, batch min(200, n)).
    """
    Ws = [W.copy() for W in weights]
    bs = [b.copy() for b in biases]
    masks = [W != 0 for W in Ws]
    params = Ws + bs
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, tiny = 0.9, 0.999, 1e-8  # Adam's defaults (Kingma & Ba 2015)
    rng = np.random.default_rng(seed)
    Y1 = np.eye(Ws[-1].shape[1])[y]
    t = 0
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(len(X)), max(1, len(X) // batch)):
            acts = [X[idx]]
            for i in range(len(Ws)):
                h = acts[-1] @ Ws[i] + bs[i]
                acts.append(np.maximum(h, 0.0) if i < len(Ws) - 1 else h)
            Z = acts[-1] - acts[-1].max(axis=1, keepdims=True)
            Pm = np.exp(Z)
            Pm /= Pm.sum(axis=1, keepdims=True)
            delta = (Pm - Y1[idx]) / len(idx)
            grads_W, grads_b = [None] * len(Ws), [None] * len(Ws)
            for i in range(len(Ws) - 1, -1, -1):
                grads_W[i] = (acts[i].T @ delta) * masks[i]
                grads_b[i] = delta.sum(axis=0)
                if i:
                    delta = (delta @ Ws[i].T) * (acts[i] > 0)
            t += 1
            for p, g, mm, vv in zip(params, grads_W + grads_b, m, v, strict=False):
                mm *= b1
                mm += (1 - b1) * g
                vv *= b2
                vv += (1 - b2) * g * g
                p -= lr * (mm / (1 - b1 ** t)) / (np.sqrt(vv / (1 - b2 ** t)) + tiny)
    return Ws, bs


#: array-name prefixes of the saved pruned networks: weights, biases of Net-Trim and of magnitude pruning
_SAVED = {"nettrim": ("W", "b"), "magnitude": ("M", "Mb")}


def save_pruned(path, nets: dict) -> None:
    """Save pruned networks ``{"nettrim": (weights, biases), "magnitude": (...)}`` in one ``.npz``.

    Arrays ``W0, W1, ...`` and ``b0, b1, ...`` (Net-Trim), ``M0, ...`` and ``Mb0, ...`` (magnitude): the
    biases are saved too, because Net-Trim prunes and re-fits the bias row with the weights.
    """
    arrays = {}
    for name, (weights, biases) in nets.items():
        w, b = _SAVED[name]
        arrays.update({f"{w}{i}": W for i, W in enumerate(weights)})
        arrays.update({f"{b}{i}": v for i, v in enumerate(biases)})
    np.savez(path, **arrays)


def load_pruned(path, name: str = "nettrim"):
    """``(weights, biases)`` of network ``name`` ("nettrim" or "magnitude") from a file of :func:`save_pruned`."""
    w, b = _SAVED[name]
    with np.load(path) as z:
        L = sum(1 for key in z.files if key[len(w):].isdigit() and key.startswith(w))
        return [z[f"{w}{i}"] for i in range(L)], [z[f"{b}{i}"] for i in range(L)]


# ----------------------------------------------------------------------------------------------- cells
def prune_cell(s: Setting, seed: int, cache_dir: str, weights_dir: str, mode: str, eps: float) -> list[dict]:
    """Prune the model once (``mode``, relative ``eps``); rows: one per layer, then one per noise level."""
    from nettrim import prune_network
    from nettrim.network import forward, magnitude_prune

    data, model, X = setup(s, seed, cache_dir)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = prune_network(model.weights, model.biases, X, epsilon=eps, mode=mode, gamma=s.gamma,
                            solver="fast", jobs=1, **s.solver_options)
    wall = time.perf_counter() - t0
    rep = net.report
    mag_W = magnitude_prune(model.weights, list(rep["nnz_after"]))
    mag_b = [b.copy() for b in model.biases]
    Zte = forward(model.weights, model.biases, data.X_test)
    common = dict(dataset=s.dataset, mode=mode, eps=eps, n_calib=len(X), seed=seed,
                  acc_orig=model.test_accuracy, acc_nt=accuracy(net.weights, net.biases, data.X_test, data.y_test),
                  acc_mag=accuracy(mag_W, mag_b, data.X_test, data.y_test),
                  kept_total=net.kept, logit_gap_nt=_logit_gap(net.weights, net.biases, Zte, data.X_test),
                  logit_gap_mag=_logit_gap(mag_W, mag_b, Zte, data.X_test),
                  zero_pixels_nt=int(np.sum(~net.weights[0].any(axis=1))),
                  zero_pixels_mag=int(np.sum(~mag_W[0].any(axis=1))),
                  prune_time=wall, n_warnings=len(caught))
    if s.finetune_epochs:
        ft = dict(epochs=s.finetune_epochs, seed=seed)
        common["acc_nt_ft"] = accuracy(*finetune(net.weights, net.biases, data.X_train, data.y_train, **ft),
                                       data.X_test, data.y_test)
        common["acc_mag_ft"] = accuracy(*finetune(mag_W, mag_b, data.X_train, data.y_train, **ft),
                                        data.X_test, data.y_test)
    else:
        common["acc_nt_ft"] = common["acc_mag_ft"] = np.nan
    path = Path(weights_dir) / f"{s.dataset}-{s.tag}-{mode}-eps{eps:g}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_pruned(path, {"nettrim": (net.weights, net.biases), "magnitude": (mag_W, mag_b)})
    rows = []
    for rec in rep.to_dict("records"):
        rows.append(dict(common, kind="layer", r=np.nan, noise_acc_orig=np.nan, noise_acc_nt=np.nan,
                         noise_acc_mag=np.nan, **{k: rec[k] for k in
                                                  ("layer", "n_in", "n_out", "nnz_before", "nnz_after", "kept",
                                                   "rel_error", "layer_rel_error", "epsilon", "epsilon_rel",
                                                   "dead_neurons", "status", "violation", "iterations", "time",
                                                   "peak_mem_mb")}))
    for j, r in enumerate(s.noise_levels):
        Xn = _noisy(data.X_test, r, seed + 1000 + j)  # same draw for every model of this (seed, r)
        rows.append(dict(common, kind="noise", r=r,
                         noise_acc_orig=accuracy(model.weights, model.biases, Xn, data.y_test),
                         noise_acc_nt=accuracy(net.weights, net.biases, Xn, data.y_test),
                         noise_acc_mag=accuracy(mag_W, mag_b, Xn, data.y_test),
                         **dict.fromkeys(("layer", "n_in", "n_out", "nnz_before", "nnz_after", "kept", "rel_error",
                                          "layer_rel_error", "epsilon", "epsilon_rel", "dead_neurons", "status",
                                          "violation", "iterations", "time", "peak_mem_mb"), np.nan)))
    return rows


def bias_free(weights, biases, X):
    r"""The same network without biases: a constant channel carries the 1 through the hidden layers.

    Input :math:`[x, 1]`; hidden layer :math:`W'_\ell = \begin{bmatrix} W_\ell & 0 \\ b_\ell^\top & 1
    \end{bmatrix}` (relu(1) = 1 keeps the channel), last layer :math:`W'_L = \begin{bmatrix} W_L \\ b_L^\top
    \end{bmatrix}`. Returns ``(weights', X')``; the outputs are identical.

    Why: with a bias riding on a row of ones that does not scale, link normalization shrinks the signals
    by :math:`\prod c_\ell` while the ones stay 1, and deep layers become badly conditioned programs
    (ADMM stalls). Without biases, normalization is a pure per-layer scaling and Net-Trim with a
    relative ε is exactly equivariant to it, so the normalized programs are as well-posed as the originals.
    """
    L = len(weights)
    out = []
    for i, (W, b) in enumerate(zip(weights, biases, strict=False)):
        top = np.hstack([W, np.zeros((W.shape[0], 1))]) if i < L - 1 else W
        bottom = np.append(b, 1.0)[None, :] if i < L - 1 else b[None, :]
        out.append(np.vstack([top, bottom]))
    return out, np.hstack([X, np.ones((X.shape[0], 1))])


def consistency_cell(s: Setting, seed: int, cache_dir: str, mode: str, eps: float) -> list[dict]:
    """Prune a link-normalized copy; one row per layer with the measured error and the theorem's bound."""
    from nettrim import prune_network
    from nettrim.network import forward, link_normalize

    _, model, X = setup(s, seed, cache_dir)
    W, X = bias_free(model.weights, model.biases, X)
    W, b, scale = link_normalize(W, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = prune_network(W, b, X, epsilon=eps, mode=mode, gamma=s.gamma, solver="fast", **s.solver_options)
    Y = forward(W, b, X, return_all=True)
    Yh = forward(net.weights, net.biases, X, return_all=True)
    e = net.report["epsilon"].to_numpy()
    rows = []
    for ell in range(1, len(W) + 1):
        bound = e[:ell].sum() if mode == "parallel" else e[0] * np.sqrt(s.gamma ** (ell - 1))
        rows.append(dict(dataset=s.dataset, mode=mode, eps=eps, layer=ell, scale=scale,
                         measured=float(np.linalg.norm(Yh[ell] - Y[ell])), bound=float(bound),
                         step_bound=step_bound(net, W, b, Y, Yh, ell, mode),
                         y_norm=float(np.linalg.norm(Y[ell])), status=net.report["status"].iloc[ell - 1],
                         violation=net.report["violation"].iloc[ell - 1]))
    return rows


def step_bound(net, W, b, Y, Yh, ell, mode) -> float:
    r"""The per-layer step the consistency theorems are built from, for layer ``ell`` of the original network
    (``W``, ``b``; signals ``Y``) pruned into ``net`` (signals ``Yh``), samples in rows.

    Parallel: :math:`\varepsilon_\ell + \|\hat W_\ell\|_2\,\|\hat Y^{(\ell-1)} - Y^{(\ell-1)}\|_F`
    (Proposition 1 on the original signal, then the 1-Lipschitz activation; the bias row cancels in the
    difference). Cascade: :math:`\sqrt{\varepsilon_\ell^2 + \|(V_{\Omega^c})_+\|^2}`, with
    V = :math:`W_\ell^\top\hat Y^{(\ell-1)} + b_\ell` the program's bound on Ωᶜ (no Ωᶜ term for a linear
    last layer). Unlike the theorems' sums, it is tight past the first layer, where link normalization makes
    the sums far exceed the signals."""
    e = float(net.report["epsilon"].iloc[ell - 1])
    if mode == "parallel":
        return e + float(np.linalg.norm(net.weights[ell - 1], 2) * np.linalg.norm(Yh[ell - 1] - Y[ell - 1]))
    if ell == len(W) and net.last_activation == "linear":
        return e
    V = Yh[ell - 1] @ W[ell - 1] + (0.0 if b is None else b[ell - 1])
    return float(np.sqrt(e ** 2 + np.sum(np.maximum(V, 0.0)[Y[ell] <= 0] ** 2)))


def run_tag(args, **options) -> str:
    """The tag that names a run's result files and cell ids: "full" or "quick", plus every option the user
    set explicitly (``name=value`` pairs whose value is not None), so that a rerun with other options never
    resumes from, or draws figures of, results computed with different ones."""
    tag = "quick" if args.quick else "full"
    return tag + "".join(f"-{name}{value:g}" for name, value in options.items() if value is not None)


def check_options(args) -> None:
    """Range checks of the pruning experiments' own options (argparse checks only the types)."""
    if getattr(args, "finetune_epochs", None) is not None and args.finetune_epochs < 0:
        raise SystemExit("--finetune-epochs must be >= 0")
    if getattr(args, "calib", None) is not None and args.calib < 1:
        raise SystemExit("--calib must be >= 1")
    timing = getattr(args, "timing", None)
    if timing is not None and not (np.isfinite(timing) and timing >= 0):
        raise SystemExit("--timing takes a relative epsilon >= 0")


# ----------------------------------------------------------------------------------------------- driver
def run_setting(s: Setting, args) -> None:
    """Run (or resume) the prune and consistency cells of ``s``, then write figures and tables."""
    out = Path(args.out)
    cache = out / "models"
    data, model, _ = setup(s, args.seed, str(cache))  # train once here, before workers race for the cache
    print(f"[{s.dataset}] {'-'.join(map(str, [data.n_features, *s.hidden, 10]))} MLP: train accuracy "
          f"{model.train_accuracy:.4f}, test accuracy {model.test_accuracy:.4f}")
    wdir = out / f"prune-{s.dataset}-{s.tag}-weights"
    cells = [Cell(f"{s.dataset},{s.tag},{mode},eps={eps:g},seed={args.seed}", prune_cell,
                  (s, args.seed, str(cache), str(wdir), mode, eps))
             for eps in s.eps_grid for mode in ("parallel", "cascade")]
    prune_csv = out / f"prune-{s.dataset}-{s.tag}.csv"
    df = run_cells(cells, prune_csv, jobs=args.jobs, dask_address=args.dask, label=f"prune-{s.dataset}",
                   progress=args.progress)
    ccells = [Cell(f"{s.dataset},{s.tag},{mode},eps={eps:g},seed={args.seed}", consistency_cell,
                   (s, args.seed, str(cache), mode, eps))
              for eps in s.consistency_eps for mode in ("parallel", "cascade")]
    cdf = run_cells(ccells, out / f"consistency-{s.dataset}-{s.tag}.csv", jobs=args.jobs, dask_address=args.dask,
                    label=f"consistency-{s.dataset}", progress=args.progress)
    df = df[df["seed"] == args.seed]
    from .pruning_figures import make_outputs

    make_outputs(s, df, cdf, wdir, data, Path(args.figures))

