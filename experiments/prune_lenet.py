r"""``python -m nettrim.experiments prune-lenet``: prune LeNet-5 (convolutional) trained on MNIST-5k.

LeNet-5 (:mod:`nettrim.experiments.lenet`) is trained with PyTorch on the 4,000 training images of the
offline MNIST split and pruned with :func:`nettrim.torch.prune` — both convolutions and the three dense
layers — in parallel and cascade mode over an ε grid. Each cell compares, on the 1,000 test images,

* the test accuracy of the Net-Trim model and of each baseline at **the same per-layer nnz** (magnitude:
  the largest :math:`|w|` of each layer's kernel or weight matrix, biases untouched; more baselines plug
  in through :data:`BASELINES`), none fine-tuned;
* the logit discrepancy :math:`\|Z - \hat Z\|_F/\|Z\|_F`;
* per layer, the report of :func:`nettrim.torch.prune`: kept fraction, errors on the sampled and on all
  positions, ε, solver status, violation and certified duality gap, iterations, time.

Calibration: a seeded subset of the training images (2,000 by default, 500 with ``--quick``); each
convolutional program keeps at most ``--max-patches`` image × position columns (a seeded sample).
Cells run through :func:`nettrim.experiments.runner.run_cells` (resumable). Outputs: the accuracy-vs-kept
figure, the per-layer table, the first convolution's six filters before and after pruning, and with
``--timing EPS`` one whole-network prune at the defaults of :func:`nettrim.torch.prune`, timed.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .runner import Cell, run_cells

HELP = "prune LeNet-5 (2 conv + 3 dense layers, PyTorch) on MNIST-5k: Net-Trim parallel/cascade vs magnitude"

# measured (2,000 calibration images, no refit, no fine-tuning): cascade ε = 0.15 keeps 13.4 % of the weights at
# 96.1 % test accuracy (original 97.0 %; magnitude at the same per-layer nnz 60.3 %)
EPS_GRID = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
QUICK_EPS_GRID = (0.1, 0.3)
CALIB, QUICK_CALIB = 2000, 500
QUICK_MAX_PATCHES = 2000
# pruning-grade ADMM options, as in prune-mnist: an answer needs ~1e-3 relative accuracy because its error
# is set by ε itself; max_iter bounds the few slow layers (their status then says "max_iter")
SOLVER_OPTIONS = dict(eps_abs=1e-4, eps_rel=1e-3, eps_violation=1e-3, max_iter=2000)


@dataclass
class Setting:
    eps_grid: tuple
    n_calib: int
    max_patches: int | None
    tag: str
    epochs: int = 0                      # LeNet-5 training epochs (0: lenet.EPOCHS)
    solver_options: dict = field(default_factory=lambda: dict(SOLVER_OPTIONS))


def add_arguments(parser) -> None:
    parser.add_argument("--calib", type=int, default=None,
                        help=f"calibration images (default {CALIB}; {QUICK_CALIB} with --quick)")
    parser.add_argument("--max-patches", type=int, default=None,
                        help="columns kept per convolutional program (default: nettrim.conv.DEFAULT_MAX_PATCHES; "
                             f"{QUICK_MAX_PATCHES} with --quick)")
    parser.add_argument("--timing", type=float, default=None, metavar="EPS",
                        help="only time one whole-network prune (cascade, the defaults of nettrim.torch.prune) at "
                             "this relative epsilon; writes prune_lenet_timing.{csv,md}")


def setting(args) -> Setting:
    from .pruning import run_tag

    if args.calib is not None and args.calib < 1:
        raise SystemExit("--calib must be >= 1")
    if args.max_patches is not None and args.max_patches < 1:
        raise SystemExit("--max-patches must be >= 1")
    if args.timing is not None and not (np.isfinite(args.timing) and args.timing >= 0):
        raise SystemExit("--timing takes a relative epsilon >= 0")
    quick = args.quick
    n_calib = args.calib if args.calib is not None else (QUICK_CALIB if quick else CALIB)
    max_patches = args.max_patches if args.max_patches is not None else (QUICK_MAX_PATCHES if quick else None)
    return Setting(eps_grid=QUICK_EPS_GRID if quick else EPS_GRID, n_calib=n_calib, max_patches=max_patches,
                   tag=run_tag(args, calib=args.calib, mp=args.max_patches))


# ----------------------------------------------------------------------------------------------- helpers
def setup(s: Setting, seed: int, cache_dir: str):
    """The MNIST split, the trained (cached) LeNet-5 and the calibration images (a tensor)."""
    import torch

    from .data import load_dataset
    from .lenet import get_lenet

    torch.set_num_threads(1)
    data = load_dataset("mnist")
    net = get_lenet(data, seed=seed, cache_dir=cache_dir, **({"epochs": s.epochs} if s.epochs else {}))
    X = data.X_train
    if s.n_calib < len(X):  # the split is ordered by class: a seeded random subset, never a prefix
        X = X[np.sort(np.random.default_rng(seed).permutation(len(X))[: s.n_calib])]
    return data, net, torch.as_tensor(X.reshape(-1, 1, *data.image_shape), dtype=torch.float32)


def _logits(model, X: np.ndarray, shape) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.as_tensor(X.reshape(-1, 1, *shape), dtype=torch.float32)).double().numpy()


def magnitude(model, report, calibration):
    """Magnitude pruning to the report's per-layer nnz (largest |w| of each kernel/weight; biases untouched)."""
    import copy

    import torch
    from nettrim.network import magnitude_prune

    out = copy.deepcopy(model)
    mods = dict(out.named_modules())
    for name, k in zip(report["module"], report["nnz_after"]):
        w = mods[name].weight
        kept = magnitude_prune([w.detach().double().numpy().reshape(w.shape[0], -1)], [int(k)])[0]
        with torch.no_grad():
            w.copy_(torch.as_tensor(kept.reshape(w.shape), dtype=w.dtype))
    return out


#: baseline name -> f(original model, Net-Trim report, calibration tensor) -> pruned model with the report's
#: per-layer nnz
BASELINES = {"magnitude": magnitude}


# ----------------------------------------------------------------------------------------------- cells
def prune_cell(s: Setting, seed: int, cache_dir: str, weights_dir: str, mode: str, eps: float) -> list[dict]:
    """Prune LeNet-5 once (``mode``, relative ``eps``); one row per layer."""
    import nettrim.torch as nt

    from .lenet import lenet_accuracy

    data, net, X = setup(s, seed, cache_dir)
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pruned, rep = nt.prune(net.model, X, epsilon=eps, mode=mode, refit=False, max_patches=s.max_patches,
                               seed=seed, solver_options=s.solver_options)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    Z = _logits(net.model, data.X_test, data.image_shape)
    common = dict(mode=mode, eps=eps, n_calib=len(X), seed=seed, acc_orig=net.test_accuracy,
                  acc_nettrim=lenet_accuracy(pruned, data.X_test, data.y_test),
                  kept_total=float(rep["nnz_after"].sum() / rep["nnz_before"].sum()),
                  logit_gap_nettrim=float(np.linalg.norm(_logits(pruned, data.X_test, data.image_shape) - Z)
                                          / np.linalg.norm(Z)),
                  prune_time=wall, prune_cpu=cpu, n_warnings=len(caught))
    arrays = {"nettrim": _weights(pruned, rep)}
    for name, make in BASELINES.items():
        model = make(net.model, rep, X)
        common[f"acc_{name}"] = lenet_accuracy(model, data.X_test, data.y_test)
        common[f"logit_gap_{name}"] = float(np.linalg.norm(_logits(model, data.X_test, data.image_shape) - Z)
                                            / np.linalg.norm(Z))
        arrays[name] = _weights(model, rep)
    path = Path(weights_dir) / f"lenet-{s.tag}-{mode}-eps{eps:g}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f"{method}:{layer}": W for method, ws in arrays.items() for layer, W in ws.items()})
    cols = ("layer", "module", "type", "n_in", "n_out", "nnz_before", "nnz_after", "kept", "bias_nnz_after",
            "rel_error", "layer_rel_error", "layer_rel_error_all", "epsilon", "epsilon_rel", "dead_neurons", "status",
            "violation", "gap", "iterations", "time", "peak_mem_mb", "positions_total", "positions_sampled", "program")
    return [dict(common, **{k: rec[k] for k in cols}) for rec in rep.to_dict("records")]


def _weights(model, rep) -> dict:
    mods = dict(model.named_modules())
    return {name: mods[name].weight.detach().double().numpy() for name in rep["module"]}


# ----------------------------------------------------------------------------------------------- outputs
def summary_table(df):
    """One row per (mode, ε): kept fractions (total and per layer), accuracies, logit gaps, solver health."""
    import pandas as pd

    rows = []
    for (mode, eps), g in df.groupby(["mode", "eps"], sort=True):
        g = g.sort_values("layer")
        first = g.iloc[0]
        row = {"mode": mode, "eps": eps, "kept_total": first["kept_total"]}
        row.update({f"kept_L{int(r['layer'])}": r["kept"] for _, r in g.iterrows()})
        row["acc_orig"] = first["acc_orig"]
        row["acc_nettrim"] = first["acc_nettrim"]
        row.update({f"acc_{b}": first[f"acc_{b}"] for b in BASELINES if f"acc_{b}" in g})
        row["logit_gap_nettrim"] = first["logit_gap_nettrim"]
        row.update({f"logit_gap_{b}": first[f"logit_gap_{b}"] for b in BASELINES if f"logit_gap_{b}" in g})
        row.update(time_s=first["prune_time"], cpu_s=first["prune_cpu"], all_optimal=bool((g["status"] == "optimal").all()),
                   max_gap=g["gap"].max(), max_violation=g["violation"].max())
        rows.append(row)
    out = pd.DataFrame(rows)
    order = {"parallel": 0, "cascade": 1}
    return out.sort_values(["mode", "eps"], key=lambda c: c.map(order) if c.name == "mode" else c).reset_index(drop=True)


def _best(table):
    from .pruning_figures import best_tradeoff

    cascade = table[table["mode"] == "cascade"]
    best = best_tradeoff(cascade) if len(cascade) else None
    return best if best is not None else table.sort_values("kept_total").iloc[-1]


def _fig_accuracy(table, name: str, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import save

    colors = {"parallel": "tab:blue", "cascade": "tab:red", "magnitude": "tab:gray"}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    acc0 = table["acc_orig"].iloc[0]
    for k, ax in enumerate(axes):
        ax.axhline(100 * acc0, color="black", lw=1, ls=":", label=f"original ({100 * acc0:.1f} %)")
        ax.axhline(100 * acc0 - 1, color="black", lw=0.6, ls="--", alpha=0.5, label="original − 1 point")
        for mode, mk in (("parallel", "o"), ("cascade", "s")):
            t = table[table["mode"] == mode].sort_values("kept_total")
            if t.empty:
                continue
            x = 100 * t["kept_total"]
            ax.plot(x, 100 * t["acc_nettrim"], marker=mk, color=colors[mode], label=f"Net-Trim {mode}")
            for b, ls in zip(BASELINES, ("--", "-.", ":")):
                ax.plot(x, 100 * t[f"acc_{b}"], marker=mk, ls=ls, mfc="none", color=colors.get(b, "tab:green"),
                        label=f"{b}, same per-layer nnz as {mode}")
            for _, r in t.iterrows():
                ax.annotate(f"{r['eps']:g}", (100 * r["kept_total"], 100 * r["acc_nettrim"]), fontsize=7,
                            xytext=(3, -9 if mode == "cascade" else 4), textcoords="offset points", color=colors[mode])
        ax.set_xlabel("weights kept (% of the network's 61,470)")
        ax.grid(alpha=0.3)
        if k == 1:
            ax.set_ylim(100 * acc0 - 6, 100 * acc0 + 1)
            ax.set_title("zoom (labels: relative ε)")
        else:
            ax.set_ylabel("test accuracy (%), no fine-tuning")
            ax.set_title("full range (labels: relative ε)")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("LeNet-5 on MNIST-5k: test accuracy vs weights kept — Net-Trim vs baselines at equal per-layer nnz")
    fig.tight_layout()
    save(fig, folder, f"prune_{name}_accuracy")


def _fig_filters(best, first: str, wdir: Path, tag: str, name: str, folder: Path) -> None:
    """The first convolution's 6 filters (5×5): original, Net-Trim at the best setting, each baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import save

    path = wdir / f"lenet-{tag}-{best['mode']}-eps{best['eps']:g}.npz"
    if not path.exists():
        return
    with np.load(path) as z:
        rows = [(m, z[f"{m}:{first}"]) for m in ["nettrim"] + list(BASELINES)]
    orig_path = wdir / "original.npz"
    if orig_path.exists():
        with np.load(orig_path) as z:
            rows.insert(0, ("original", z[first]))
    vmax = max(float(np.abs(W).max()) for _, W in rows) or 1.0
    n_f = rows[0][1].shape[0]
    fig, axes = plt.subplots(len(rows), n_f, figsize=(1.5 * n_f + 1, 1.6 * len(rows) + 0.6), squeeze=False)
    for r, (method, W) in enumerate(rows):
        for f in range(n_f):
            ax = axes[r, f]
            k = W[f, 0]
            im = ax.imshow(k, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            zi, zj = np.nonzero(k == 0)
            ax.plot(zj, zi, "x", color="0.45", ms=4, mew=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if f == 0:
                label = {"nettrim": f"Net-Trim\n{best['mode']} ε={best['eps']:g}"}.get(method, method)
                ax.set_ylabel(f"{label}\n{np.count_nonzero(W)}/{W.size} kept", fontsize=8)
            if r == 0:
                ax.set_title(f"filter {f + 1}", fontsize=8)
    fig.colorbar(im, ax=axes, fraction=0.02, label="weight (× = exact zero)")
    fig.suptitle("LeNet-5 first convolution (6 filters, 5×5): before and after pruning at equal nnz", fontsize=10)
    save(fig, folder, f"prune_{name}_filters")


def make_outputs(s: Setting, df, wdir: Path, folder: Path):
    from .pruning_figures import markdown_table

    name = "lenet" + ("" if s.tag == "full" else "_" + s.tag.replace("-", "_"))
    folder.mkdir(parents=True, exist_ok=True)
    table = summary_table(df)
    table.to_csv(folder / f"prune_{name}_table.csv", index=False)
    (folder / f"prune_{name}_table.md").write_text(markdown_table(table))
    layers = df[["mode", "eps", "layer", "module", "type", "n_in", "n_out", "nnz_before", "nnz_after", "kept",
                 "rel_error", "layer_rel_error", "layer_rel_error_all", "epsilon_rel", "status", "violation", "gap",
                 "iterations", "time", "positions_sampled", "positions_total"]]
    layers = layers.sort_values(["mode", "eps", "layer"])
    layers.to_csv(folder / f"prune_{name}_layers.csv", index=False)
    (folder / f"prune_{name}_layers.md").write_text(markdown_table(layers))
    best = _best(table)
    _fig_accuracy(table, name, folder)
    first = df[df["layer"] == 1]["module"].iloc[0]
    _fig_filters(best, str(first), wdir, s.tag, name, folder)
    print(markdown_table(table[["mode", "eps", "kept_total", "acc_orig", "acc_nettrim"]
                               + [f"acc_{b}" for b in BASELINES] + ["all_optimal", "max_gap", "time_s"]]))
    print(f"cascade with at most 1 point lost (else the sparsest): ε={best['eps']:g} keeps "
          f"{100 * best['kept_total']:.1f} % at {100 * best['acc_nettrim']:.2f} % (original "
          f"{100 * best['acc_orig']:.2f} %, " + ", ".join(f"{b} {100 * best[f'acc_{b}']:.2f} %" for b in BASELINES) + ")")
    return table


# ----------------------------------------------------------------------------------------------- driver
def run(args) -> None:
    s = setting(args)
    out = Path(args.out)
    cache = out / "models"
    data, net, X = setup(s, args.seed, str(cache))  # train once here, before workers race for the cache
    print(f"[lenet] LeNet-5: train accuracy {net.train_accuracy:.4f}, test accuracy {net.test_accuracy:.4f}")
    if args.timing is not None:
        return timing(s, args, net, X, data)
    wdir = out / f"prune-lenet-{s.tag}-weights"
    wdir.mkdir(parents=True, exist_ok=True)
    mods = dict(net.model.named_modules())
    np.savez(wdir / "original.npz", **{n: m.weight.detach().double().numpy() for n, m in mods.items()
                                       if hasattr(m, "weight") and m.weight is not None})
    cells = [Cell(f"lenet,{s.tag},{mode},eps={eps:g},seed={args.seed}", prune_cell,
                  (s, args.seed, str(cache), str(wdir), mode, eps))
             for eps in s.eps_grid for mode in ("parallel", "cascade")]
    df = run_cells(cells, out / f"prune-lenet-{s.tag}.csv", jobs=args.jobs, dask_address=args.dask,
                   label="prune-lenet", progress=args.progress)
    df = df[df["seed"] == args.seed]
    make_outputs(s, df, wdir, Path(args.figures))


def timing(s: Setting, args, net, X, data) -> None:
    """One cascade prune at ε = ``args.timing`` with the defaults of :func:`nettrim.torch.prune`; CPU and wall time."""
    import nettrim.torch as nt
    import torch
    from threadpoolctl import threadpool_limits

    from .lenet import lenet_accuracy
    from .pruning_figures import markdown_table

    with threadpool_limits(limits=1):
        torch.set_num_threads(1)
        t0, c0 = time.perf_counter(), time.process_time()
        pruned, rep = nt.prune(net.model, X, epsilon=args.timing, refit=False, seed=args.seed, jobs=args.jobs)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tab = rep[["layer", "module", "type", "kept", "layer_rel_error", "layer_rel_error_all", "status", "violation", "gap",
               "iterations", "time", "positions_sampled"]].copy()
    tab.insert(0, "eps", args.timing)
    tab.insert(1, "n_calib", len(X))
    tab["network_wall_s"], tab["network_cpu_s"], tab["jobs"] = wall, cpu, args.jobs
    tab["acc_orig"] = net.test_accuracy
    tab["acc_pruned"] = lenet_accuracy(pruned, data.X_test, data.y_test)
    folder = Path(args.figures)
    folder.mkdir(parents=True, exist_ok=True)
    name = "lenet" + ("" if s.tag == "full" else "_" + s.tag.replace("-", "_"))
    tab.to_csv(folder / f"prune_{name}_timing.csv", index=False)
    (folder / f"prune_{name}_timing.md").write_text(markdown_table(tab))
    print(markdown_table(tab))
