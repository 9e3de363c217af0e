r"""``python -m nettrim.experiments prune-lenet``: prune LeNet-5 (convolutional) trained on MNIST-5k.

LeNet-5 (:mod:`nettrim.experiments.lenet`) is trained with PyTorch on the 4,000 training images of the
offline MNIST split and pruned with :func:`nettrim.torch.prune` at its defaults (refit on the support,
the solver options of :data:`nettrim.fast.PRUNING_OPTIONS`) — both convolutions and the three dense
layers — in parallel and cascade mode over an ε grid, and in cascade mode without the refit, plain and with
one round of reweighted ℓ1 (:data:`REWEIGHTED`, the sparse end). Each cell compares, on the 1,000 test
images,

* the test accuracy of the Net-Trim model and of each baseline of :data:`BASELINES` at **the same
  per-layer nnz** (the weights of each kernel or weight matrix; the baselines leave biases untouched),
  none fine-tuned:

  - ``magnitude``: the largest :math:`|w|` of each layer;
  - ``sparsegpt`` (Frantar & Alistarh 2023) and ``wanda`` (Sun et al. 2024), from
    :mod:`nettrim.experiments.pruners`, layer by layer in order, each layer on the signal of the layers
    already pruned before it: a convolution is the same program on its patch matrix
    (:func:`nettrim.torch.layer_data`, the same sampled positions as Net-Trim's program);

* the logit discrepancy :math:`\|Z - \hat Z\|_F/\|Z\|_F`;
* per layer, the report of :func:`nettrim.torch.prune`: kept fraction, errors on the sampled and on all
  positions, ε, solver status, violation and certified duality gap, iterations, time.

Calibration: a seeded subset of the training images (2,000 by default, 500 with ``--quick``); each
convolutional program keeps at most ``--max-patches`` image × position columns (a seeded sample).
``--refit off`` prunes without the refit (the ℓ1 answer itself), ``--refit both`` draws both curves.
Cells run through :func:`nettrim.experiments.runner.run_cells` (resumable). Outputs (through
:mod:`nettrim.experiments._output`): the accuracy-vs-kept figure, the summary and per-layer tables, the
first convolution's six filters before and after pruning, and with ``--timing EPS`` one whole-network
prune at the defaults of :func:`nettrim.torch.prune`, timed.
"""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .runner import Cell, run_cells

HELP = ("prune LeNet-5 (2 conv + 3 dense layers, PyTorch) on MNIST-5k: Net-Trim parallel/cascade vs magnitude, "
        "SparseGPT and Wanda")

EPS_GRID = (0.05, 0.1, 0.15, 0.2, 0.3)
QUICK_EPS_GRID = (0.1, 0.3)
#: the full run's grid for the cascade with refit: its two ends only. It is the costliest variant (~140 s of
#: CPU per prune, measured) and, the later layers' ε being set by the refit first layer's small error, it
#: keeps 40–60 % of the weights over the whole grid, far from the sparse end where the methods differ.
CASCADE_REFIT_GRID = (0.05, 0.3)
CALIB, QUICK_CALIB = 2000, 500
QUICK_MAX_PATCHES = 2000
MODES = ("parallel", "cascade")
#: --refit -> the (mode, refit, reweight) variants run (and REWEIGHTED unless "on"). "both" (the default)
#: draws the cascade with and without the refit, the parallel mode with it only: in parallel mode every
#: layer keeps its ℓ1 support and its own ε, so the refit changes no nnz (it only lowers each layer's
#: error), while in cascade mode a refit layer passes on a smaller error and so a smaller ε to the layers
#: after it (ε_ℓ of nettrim.network.cascade_program): it keeps more weights at the same ε (measured: 58.9 %
#: against 13.3 % kept at ε = 0.15).
#: A variant is (mode, refit, reweight): reweight is the number of reweighted-ℓ1 rounds of nettrim.torch.prune.
REFIT_CHOICES = {"on": (("parallel", True, 0), ("cascade", True, 0)),
                 "off": (("parallel", False, 0), ("cascade", False, 0)),
                 "both": (("cascade", False, 0), ("parallel", True, 0), ("cascade", True, 0))}
#: the sparse end: the ℓ1-only cascade with one round of reweighted ℓ1 (Candès, Wakin & Boyd 2008), which
#: keeps more accuracy at the sparse end (measured, original 97.0 %: ε = 0.2 keeps 12.6 % at 96.6 % against
#: 11.1 % at 94.7 % without the round). Run with --refit both and off; its grid starts at 0.15
#: (ε = 0.1 keeps 23 % and costs ~3× more CPU, the later layers' programs being the tightest there).
REWEIGHTED = ("cascade", False, 1)
REWEIGHTED_GRID, QUICK_REWEIGHTED_GRID = (0.15, 0.2, 0.3), (0.3,)


@dataclass
class Setting:
    eps_grid: tuple
    n_calib: int
    max_patches: int | None
    tag: str
    epochs: int = 0                      # LeNet-5 training epochs (0: lenet.EPOCHS)
    variants: tuple = REFIT_CHOICES["both"]   # the (mode, refit, reweight) variants run
    grids: dict = field(default_factory=dict)  # variant -> its own ε grid instead of eps_grid
    solver_options: dict = field(default_factory=dict)  # empty: nettrim.torch.prune's defaults


def add_arguments(parser) -> None:
    parser.add_argument("--calib", type=int, default=None,
                        help=f"calibration images (default {CALIB}; {QUICK_CALIB} with --quick)")
    parser.add_argument("--max-patches", type=int, default=None,
                        help="columns kept per convolutional program (default: nettrim.conv.DEFAULT_MAX_PATCHES; "
                             f"{QUICK_MAX_PATCHES} with --quick)")
    parser.add_argument("--refit", choices=sorted(REFIT_CHOICES), default="both",
                        help="Net-Trim with the refit on the support (on: the default of nettrim.torch.prune), "
                             "without it (off), or both (the default: cascade with and without, parallel with)")
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
    refit = getattr(args, "refit", "both")
    tag = run_tag(args, calib=args.calib, mp=args.max_patches) + ("" if refit == "both" else f"-refit{refit}")
    variants = REFIT_CHOICES[refit] + ((REWEIGHTED,) if refit != "on" else ())
    grids = {REWEIGHTED: QUICK_REWEIGHTED_GRID if quick else REWEIGHTED_GRID}
    if not quick:
        grids[("cascade", True, 0)] = CASCADE_REFIT_GRID
    return Setting(eps_grid=QUICK_EPS_GRID if quick else EPS_GRID, n_calib=n_calib, max_patches=max_patches,
                   tag=tag, variants=variants, grids=grids)


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


def magnitude(model, report, calibration, *, max_patches=None, seed=0):
    """Magnitude pruning to the report's per-layer nnz (largest |w| of each kernel/weight; biases untouched)."""
    import torch

    from nettrim.network import magnitude_prune

    out = copy.deepcopy(model)
    mods = dict(out.named_modules())
    for name, k in zip(report["module"], report["nnz_after"], strict=False):
        w = mods[name].weight
        kept = magnitude_prune([w.detach().double().numpy().reshape(w.shape[0], -1)], [int(k)])[0]
        with torch.no_grad():
            w.copy_(torch.as_tensor(kept.reshape(w.shape), dtype=w.dtype))
    return out


def layerwise(method: str):
    """A baseline that prunes layer by layer with ``nettrim.experiments.pruners.METHODS[method]``.

    Layer ℓ is pruned to the report's nnz on its program input :math:`X` (:func:`nettrim.torch.layer_data`:
    samples, or patches for a convolution, with a row of ones for the bias) captured from the model whose
    layers before ℓ are already pruned — SparseGPT's and Wanda's sequential scheme; a convolution's kernel is
    the dense matrix :math:`\\tilde W` of its patch program, so the dense-layer method applies unchanged. The
    columns are Net-Trim's (same ``max_patches`` and ``seed``). The bias row is kept (never counted in k).
    """
    from .pruners import METHODS

    fn = METHODS[method]

    def prune(model, report, calibration, *, max_patches=None, seed=0):
        import nettrim.torch as nt

        out = copy.deepcopy(model)
        mods = dict(out.named_modules())
        for i, (name, k) in enumerate(zip(report["module"], report["nnz_after"], strict=False)):
            d = nt.layer_data(out, calibration, max_patches=max_patches, seed=seed)[i]
            if d.module != name:  # pragma: no cover - the report and layer_data list the same layers
                raise RuntimeError(f"layer {i + 1}: report names {name!r}, layer_data {d.module!r}")
            nt.assign_weights(mods[name], fn(d.U, d.X, int(k), bias=d.bias), mask=False)
        return out

    prune.__name__ = method
    return prune


#: baseline name -> f(original model, Net-Trim report, calibration tensor, *, max_patches, seed) -> pruned model
#: with the report's per-layer nnz
BASELINES = {"magnitude": magnitude, "sparsegpt": layerwise("sparsegpt"), "wanda": layerwise("wanda")}


# ----------------------------------------------------------------------------------------------- cells
def prune_cell(s: Setting, seed: int, cache_dir: str, weights_dir: str, mode: str, eps: float,
               refit: bool = True, reweight: int = 0) -> list[dict]:
    """Prune LeNet-5 once (``mode``, relative ``eps``, ``refit``, ``reweight`` rounds); one row per layer."""
    import nettrim.torch as nt

    from .lenet import lenet_accuracy

    data, net, X = setup(s, seed, cache_dir)
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        options = {"solver_options": s.solver_options} if s.solver_options else {}
        pruned, rep = nt.prune(net.model, X, epsilon=eps, mode=mode, refit=refit, reweight=reweight,
                               max_patches=s.max_patches, seed=seed, **options)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    Z = _logits(net.model, data.X_test, data.image_shape)
    common = {"mode": mode, "refit": refit, "reweight": reweight, "eps": eps, "n_calib": len(X), "seed": seed,
              "acc_orig": net.test_accuracy, "acc_nettrim": lenet_accuracy(pruned, data.X_test, data.y_test),
              "kept_total": float(rep["nnz_after"].sum() / rep["nnz_before"].sum()),
              "logit_gap_nettrim": float(np.linalg.norm(_logits(pruned, data.X_test, data.image_shape) - Z)
                                         / np.linalg.norm(Z)),
              "prune_time": wall, "prune_cpu": cpu, "n_warnings": len(caught)}
    arrays = {"nettrim": _weights(pruned, rep)}
    for name, make in BASELINES.items():
        t0 = time.perf_counter()
        model = make(net.model, rep, X, max_patches=s.max_patches, seed=seed)
        common[f"time_{name}"] = time.perf_counter() - t0
        common[f"acc_{name}"] = lenet_accuracy(model, data.X_test, data.y_test)
        common[f"logit_gap_{name}"] = float(np.linalg.norm(_logits(model, data.X_test, data.image_shape) - Z)
                                            / np.linalg.norm(Z))
        arrays[name] = _weights(model, rep)
    path = _weights_path(Path(weights_dir), s.tag, mode, refit, reweight, eps)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f"{method}:{layer}": W for method, ws in arrays.items() for layer, W in ws.items()})
    cols = ("layer", "module", "type", "n_in", "n_out", "nnz_before", "nnz_after", "kept", "bias_nnz_after",
            "rel_error", "layer_rel_error", "layer_rel_error_l1", "layer_rel_error_all", "epsilon", "epsilon_rel",
            "dead_neurons", "status", "violation", "gap", "iterations", "time", "refit_time", "peak_mem_mb",
            "positions_total", "positions_sampled", "program")
    return [dict(common, **{k: rec[k] for k in cols}) for rec in rep.to_dict("records")]


def _weights_path(wdir: Path, tag: str, mode: str, refit, reweight, eps: float) -> Path:
    rw = f"-rw{int(reweight)}" if reweight else ""
    return wdir / f"lenet-{tag}-{mode}-refit{int(refit)}{rw}-eps{eps:g}.npz"


def _variants(df):
    """The results with the columns that name a variant (results written before reweighting: reweight 0)."""
    if "refit" not in df:
        df = df.assign(refit=True)
    if "reweight" not in df:
        df = df.assign(reweight=0)
    return df.assign(reweight=df["reweight"].fillna(0).astype(int))


def _weights(model, rep) -> dict:
    mods = dict(model.named_modules())
    return {name: mods[name].weight.detach().double().numpy() for name in rep["module"]}


# ----------------------------------------------------------------------------------------------- outputs
def summary_table(df):
    """One row per (mode, refit, reweight, ε): kept fractions (total and per layer), accuracies, logit gaps,
    solver health."""
    import pandas as pd

    df = _variants(df)
    rows = []
    for (mode, refit, reweight, eps), g in df.groupby(["mode", "refit", "reweight", "eps"], sort=True):
        g = g.sort_values("layer")
        first = g.iloc[0]
        row = {"mode": mode, "refit": bool(refit), "reweight": int(reweight), "eps": eps,
               "kept_total": first["kept_total"]}
        row.update({f"kept_L{int(r['layer'])}": r["kept"] for _, r in g.iterrows()})
        row["acc_orig"] = first["acc_orig"]
        row["acc_nettrim"] = first["acc_nettrim"]
        row.update({f"acc_{b}": first[f"acc_{b}"] for b in BASELINES if f"acc_{b}" in g})
        row["logit_gap_nettrim"] = first["logit_gap_nettrim"]
        row.update({f"logit_gap_{b}": first[f"logit_gap_{b}"] for b in BASELINES if f"logit_gap_{b}" in g})
        row.update(time_s=first["prune_time"], cpu_s=first["prune_cpu"],
                   all_optimal=bool((g["status"] == "optimal").all()),
                   max_iter_layers=",".join(str(int(r["layer"])) for _, r in g.iterrows() if r["status"] == "max_iter"),
                   max_gap=g["gap"].abs().max(), max_violation=g["violation"].max())
        rows.append(row)
    out = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(MODES)}
    return out.sort_values(["mode", "refit", "reweight", "eps"], ascending=[True, False, True, True],
                           key=lambda c: c.map(order) if c.name == "mode" else c).reset_index(drop=True)


def _best(table):
    from .pruning_figures import best_tradeoff

    cascade = table[table["mode"] == "cascade"]
    best = best_tradeoff(cascade) if len(cascade) else None
    return best if best is not None else table.sort_values("kept_total").iloc[-1]


_COLORS = {("parallel", True, 0): "tab:blue", ("parallel", False, 0): "tab:cyan", ("cascade", False, 0): "tab:red",
           ("cascade", True, 0): "tab:orange", ("cascade", False, 1): "tab:brown", "magnitude": "tab:gray",
           "sparsegpt": "tab:green", "wanda": "tab:purple"}
_STYLES = {"magnitude": "--", "sparsegpt": "-.", "wanda": ":"}


def _variant_label(mode: str, refit: bool, reweight: int = 0) -> str:
    rw = f", reweighted ×{reweight}" if reweight else ""
    return f"Net-Trim {mode}" + (f" + refit{rw}" if refit else f" (ℓ1 only{rw})")


def _fig_accuracy(table, name: str, folder: Path) -> None:
    """Test accuracy vs weights kept, one column per Net-Trim variant (mode, refit, reweight) with the baselines
    at its per-layer nnz; the full range above, a zoom near the original below."""
    import matplotlib.pyplot as plt

    from ._output import save_figure

    order = {m: i for i, m in enumerate(MODES)}
    variants = sorted({(m, bool(r), int(k)) for m, r, k in zip(table["mode"], table["refit"], table["reweight"],
                                                              strict=False)},
                      key=lambda v: (order[v[0]], v[1], v[2]))
    fig, axes = plt.subplots(2, len(variants), figsize=(5.6 * len(variants), 8.4), squeeze=False, sharex=True)
    acc0 = table["acc_orig"].iloc[0]
    baselines = [b for b in BASELINES if f"acc_{b}" in table]
    for c, v in enumerate(variants):
        t = table[(table["mode"] == v[0]) & (table["refit"] == v[1]) & (table["reweight"] == v[2])]
        t = t.sort_values("kept_total")
        x = 100 * t["kept_total"]
        for r in range(2):
            ax = axes[r, c]
            ax.axhline(100 * acc0, color="black", lw=1, ls=":", label=f"original ({100 * acc0:.1f} %)")
            ax.axhline(100 * acc0 - 1, color="black", lw=0.6, ls="--", alpha=0.5, label="original − 1 point")
            for b in baselines:
                ax.plot(x, 100 * t[f"acc_{b}"], marker="o", ls=_STYLES.get(b, "--"), mfc="none",
                        color=_COLORS.get(b, "tab:olive"), label=f"{b} (same per-layer nnz)")
            ax.plot(x, 100 * t["acc_nettrim"], marker="s", color=_COLORS.get(v, "black"), lw=2,
                    label=_variant_label(*v))
            for _, row in t.iterrows():
                ax.annotate(f"{row['eps']:g}", (100 * row["kept_total"], 100 * row["acc_nettrim"]), fontsize=7,
                            xytext=(3, 4), textcoords="offset points", color=_COLORS.get(v, "black"))
            ax.set_xlabel("weights kept (% of the network's 61,470)")
            ax.set_ylabel("test accuracy (%), no fine-tuning")
            ax.set_xlim(0, 108 * table["kept_total"].max())   # room for the ε labels; one scale for all
            ax.tick_params(labelbottom=True)
            ax.grid(alpha=0.3)
            if r == 1:
                ax.set_ylim(100 * acc0 - 6, 100 * acc0 + 1)
                ax.set_title(f"{_variant_label(*v)}: zoom (labels: relative ε)", fontsize=10)
            else:
                ax.set_ylim(0, 100)
                ax.set_title(f"{_variant_label(*v)} (labels: relative ε)", fontsize=10)
                ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("LeNet-5 on MNIST-5k: test accuracy vs weights kept — Net-Trim vs baselines at equal per-layer nnz")
    fig.tight_layout()
    save_figure(fig, folder, f"prune_{name}_accuracy")


def _fig_filters(best, first: str, wdir: Path, tag: str, name: str, folder: Path) -> None:
    """The first convolution's 6 filters (5×5): original, Net-Trim at the best setting, each baseline."""
    import matplotlib.pyplot as plt

    from ._output import save_figure

    path = _weights_path(wdir, tag, best["mode"], best["refit"], best["reweight"], best["eps"])
    if not path.exists():
        return
    with np.load(path) as z:
        rows = [(m, z[f"{m}:{first}"]) for m in ["nettrim"] + list(BASELINES) if f"{m}:{first}" in z.files]
    orig_path = wdir / "original.npz"
    if orig_path.exists():
        with np.load(orig_path) as z:
            rows.insert(0, ("original", z[first]))
    vmax = max(float(np.abs(W).max()) for _, W in rows) or 1.0
    n_f = rows[0][1].shape[0]
    fig, axes = plt.subplots(len(rows), n_f, figsize=(1.5 * n_f + 1.4, 1.6 * len(rows) + 0.6), squeeze=False)
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
                label = {"nettrim": _variant_label(best["mode"], best["refit"], int(best["reweight"]))
                         .replace("Net-Trim ", "Net-Trim\n") + f"\nε={best['eps']:g}"}.get(method, method)
                ax.set_ylabel(f"{label}\n{np.count_nonzero(W)}/{W.size} kept", fontsize=8)
            if r == 0:
                ax.set_title(f"filter {f + 1}", fontsize=8)
    fig.colorbar(im, ax=axes, fraction=0.02, label="weight (× = exact zero)")
    fig.suptitle("LeNet-5 first convolution (6 filters, 5×5): before and after pruning at equal nnz", fontsize=10)
    save_figure(fig, folder, f"prune_{name}_filters")


def _name(s: Setting) -> str:
    return "lenet" + ("" if s.tag == "full" else "_" + s.tag.replace("-", "_"))


_LAYER_COLUMNS = ["mode", "refit", "reweight", "eps", "layer", "module", "type", "n_in", "n_out", "nnz_before",
                  "nnz_after", "kept", "rel_error", "layer_rel_error", "layer_rel_error_l1", "layer_rel_error_all",
                  "epsilon_rel", "status", "violation", "gap", "iterations", "time", "refit_time",
                  "positions_sampled", "positions_total"]


def make_outputs(s: Setting, df, wdir: Path, folder: Path):
    from ._output import markdown_table, write_table

    name = _name(s)
    df = _variants(df)
    table = summary_table(df)
    calib = f"{int(df['n_calib'].iloc[0]):,} calibration images"
    write_table(table, folder, f"prune_{name}_table",
                caption=f"LeNet-5 on MNIST-5k ({calib}): one row per Net-Trim run (relative ε); baselines at the "
                        "same per-layer nnz; accuracies on the 1,000 test images, no fine-tuning.")
    layers = df[[c for c in _LAYER_COLUMNS if c in df]].sort_values(["mode", "refit", "reweight", "eps", "layer"])
    write_table(layers, folder, f"prune_{name}_layers",
                caption=f"LeNet-5 on MNIST-5k ({calib}): the report of nettrim.torch.prune per layer. "
                        "layer_rel_error is on the program's (sampled) columns, bounded by epsilon_rel "
                        "(Proposition 1); layer_rel_error_all on all positions; gap is the certified relative "
                        "duality gap of the ℓ1 program, violation its constraint violation.")
    best = _best(table)
    _fig_accuracy(table, name, folder)
    first = df[df["layer"] == 1]["module"].iloc[0]
    _fig_filters(best, str(first), wdir, s.tag, name, folder)
    print(markdown_table(table[["mode", "refit", "reweight", "eps", "kept_total", "acc_orig", "acc_nettrim"]
                               + [f"acc_{b}" for b in BASELINES if f"acc_{b}" in table]
                               + ["all_optimal", "max_iter_layers", "max_gap", "time_s"]]))
    label = _variant_label(best["mode"], best["refit"], best["reweight"])
    print(f"cascade with at most 1 point lost (else the sparsest): {label} ε={best['eps']:g} keeps "
          f"{100 * best['kept_total']:.1f} % at {100 * best['acc_nettrim']:.2f} % (original "
          f"{100 * best['acc_orig']:.2f} %, " + ", ".join(f"{b} {100 * best[f'acc_{b}']:.2f} %" for b in BASELINES
                                                         if f"acc_{b}" in best) + ")")
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
    cells = [Cell(f"lenet,{s.tag},{mode},refit={int(refit)}" + (f",reweight={rw}" if rw else "")
                  + f",eps={eps:g},seed={args.seed}", prune_cell,
                  (s, args.seed, str(cache), str(wdir), mode, eps, refit, rw))
             for mode, refit, rw in s.variants for eps in s.grids.get((mode, refit, rw), s.eps_grid)]
    df = run_cells(cells, out / f"prune-lenet-{s.tag}.csv", jobs=args.jobs, dask_address=args.dask,
                   label="prune-lenet", progress=args.progress)
    df = df[df["seed"] == args.seed]
    make_outputs(s, df, wdir, Path(args.figures))


def timing(s: Setting, args, net, X, data) -> None:
    """One cascade prune at ε = ``args.timing`` with the defaults of :func:`nettrim.torch.prune`; CPU and wall time."""
    import torch

    import nettrim.torch as nt
    from nettrim._threads import limit_blas

    from ._output import write_table
    from .lenet import lenet_accuracy

    with limit_blas(1):
        torch.set_num_threads(1)
        t0, c0 = time.perf_counter(), time.process_time()
        pruned, rep = nt.prune(net.model, X, epsilon=args.timing, seed=args.seed, jobs=args.jobs)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tab = rep[["layer", "module", "type", "kept", "layer_rel_error", "layer_rel_error_all", "epsilon_rel", "status",
               "violation", "gap", "iterations", "time", "refit_time", "positions_sampled"]].copy()
    tab.insert(0, "eps", args.timing)
    tab.insert(1, "n_calib", len(X))
    tab["network_wall_s"], tab["network_cpu_s"], tab["jobs"] = wall, cpu, args.jobs
    tab["acc_orig"] = net.test_accuracy
    tab["acc_pruned"] = lenet_accuracy(pruned, data.X_test, data.y_test)
    text = write_table(tab, Path(args.figures), f"prune_{_name(s)}_timing",
                       caption=f"One cascade prune of LeNet-5 at the defaults of nettrim.torch.prune (ε = "
                               f"{args.timing:g}, {len(X):,} calibration images, jobs={args.jobs}, one BLAS thread): "
                               f"{wall:.1f} s wall, {cpu:.1f} s CPU.")
    print(text)
