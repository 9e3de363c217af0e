r"""``python -m nettrim.experiments compare-pruners``: Net-Trim against the modern one-shot pruners.

On the MLPs of ``prune-digits`` (64-128-64-10) and ``prune-mnist`` (784-300-100-10, MNIST-5k), without any
fine-tuning unless stated, every method prunes the whole network at the same budget:

* **matched points**: Net-Trim runs once per configuration of the dataset's list (:data:`NETTRIM_CONFIGS`
  on digits, fewer on MNIST: :data:`MNIST_CONFIGS`; keyword dicts of :func:`nettrim.prune_network`, its
  default solver options; each mode plain and with one round of reweighted ℓ1), and every peer is given
  Net-Trim's per-layer non-zero counts;
* **uniform points**: every layer keeps the same fraction 1 − s, s in :data:`SPARSITIES` (MNIST:
  :data:`MNIST_SPARSITIES`); Net-Trim joins
  where :data:`UNIFORM_NETTRIM` names a configuration for the dataset (``prune_network(..., density=[1 − s]·L)``,
  one ε search per layer).

The peers (:mod:`nettrim.experiments.pruners`): magnitude, magnitude + least-squares refit, Wanda,
SparseGPT, all layer after layer on the pruned signals; plus the diagnostic "Net-Trim + LS refit" (Net-Trim's
support, values refitted by least squares to the original pre-activations, as magnitude + refit does).
Measured per method: test accuracy, the exact McNemar test against Net-Trim on the same test images
(:func:`mcnemar`), accuracy after fine-tuning on the fixed support (:func:`~nettrim.experiments.pruning.finetune`),
and the CPU and wall time of the whole-network prune with one BLAS thread. Each point is one resumable
cell of :func:`~nettrim.experiments.runner.run_cells`; the table (CSV + Markdown), the figure and the
target check are written by :func:`make_outputs`.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from .pruning import Setting, setup

__all__ = ["NETTRIM_CONFIGS", "SPARSITIES", "UNIFORM_NETTRIM", "mcnemar", "matched_cell", "uniform_cell",
           "make_outputs", "check_targets", "run"]

HELP = "Net-Trim vs magnitude, magnitude + LS refit, Wanda and SparseGPT at equal budgets (digits, MNIST-5k)"

#: relative ε of the matched points per scheme (digits): 0.1 ... 0.5 spans about 37 % down to 10 % of the
#: weights kept with the default solver options (measured), the targets' range; cascade, the more accurate
#: scheme, also gets 0.25 and 0.4
EPS_GRID = {"cascade": (0.1, 0.2, 0.25, 0.3, 0.4, 0.5), "parallel": (0.1, 0.2, 0.3, 0.5)}
#: MNIST-5k: one whole-network prune at P = 4,000 takes minutes of CPU (2–4.5 min measured, cascade the
#: slower), so fewer points: cascade over the targets' range (25 % down to 8 % kept) and two parallel ones
MNIST_EPS_GRID = {"cascade": (0.1, 0.2, 0.3, 0.4), "parallel": (0.3, 0.5)}


#: one round of reweighted ℓ1 (prune_network(..., reweight=1)): at the same ε it keeps fewer weights at about
#: the same accuracy (digits cascade ε = 0.4: 6.4 % kept at 90.6 % against 13.1 % at 94.2 % without it), so
#: its grid starts lower; on MNIST-5k ε = 0.2 keeps 8.9–10.0 % (two runs) and ε = 0.25 7.1 % (94.0 %,
#: 94.9 % after the fine-tuning, original 95.7 %: the point that tests the 8 % fine-tuned target; measured)
REWEIGHT_GRID = {"cascade": (0.1, 0.2, 0.3, 0.4), "parallel": (0.1, 0.2)}
MNIST_REWEIGHT_GRID = {"cascade": (0.1, 0.15, 0.2, 0.25, 0.3)}


def nettrim_configs(grid: dict, **extra) -> list[dict]:
    """Net-Trim's configurations, one matched point each (keyword dicts of nettrim.prune_network)."""
    return [{"mode": mode, "epsilon": eps, **extra} for mode, values in grid.items() for eps in values]


NETTRIM_CONFIGS = nettrim_configs(EPS_GRID) + nettrim_configs(REWEIGHT_GRID, reweight=1)
MNIST_CONFIGS = nettrim_configs(MNIST_EPS_GRID) + nettrim_configs(MNIST_REWEIGHT_GRID, reweight=1)
#: --quick: one point (parallel is the faster scheme; a smoke run of every code path)
QUICK_NETTRIM_CONFIGS = [dict(mode="parallel", epsilon=0.3)]
#: uniform points: the fraction s of every layer's weights pruned (kept 1 − s), 30 % to 10 % kept (the
#: targets' range). Three because on digits each point is also a Net-Trim per-layer density search (about a
#: minute of CPU, measured) and on MNIST-5k each fine-tunes four networks; pass more to uniform_cell
SPARSITIES = (0.7, 0.8, 0.9)
MNIST_SPARSITIES = SPARSITIES
QUICK_SPARSITIES = (0.8,)
#: Net-Trim at the uniform points, per dataset: a prune_network keyword dict without the budget, run with
#: density=[1 − s]·L, or None. Parallel: every per-layer target is reachable (ε → 0 keeps the layer), while
#: a cascade layer ℓ ≥ 2 cannot go below its feasibility floor on ε and missed 20 % on digits' layer 2
#: (kept 16.3 %). Not on MNIST: the per-layer ε searches cost several minute-long prunes per point.
UNIFORM_NETTRIM: dict[str, dict | None] = {"digits": dict(mode="parallel"), "mnist": None}

PEERS = ("magnitude", "magnitude_refit", "wanda", "sparsegpt")
DIAGNOSTIC = "nettrim_lsq"
METHOD_LABELS = {"nettrim": "Net-Trim", DIAGNOSTIC: "Net-Trim + LS refit (diagnostic)", "magnitude": "magnitude",
                 "magnitude_refit": "magnitude + LS refit", "wanda": "Wanda", "sparsegpt": "SparseGPT"}
#: the targets' range of matched points (fraction of the weights kept) and significance level
TARGET_RANGE = (0.08, 0.30)
ALPHA = 0.05
#: the networks (the models of prune-digits and prune-mnist: same cache key), fine-tuning epochs (as there)
#: and the --quick calibration subsets (seconds per Net-Trim prune instead of minutes); the full runs' points
DATASETS = {"digits": dict(hidden=(128, 64), train_iter=200, finetune=20, quick_calib=300,
                           configs=NETTRIM_CONFIGS, sparsities=SPARSITIES),
            "mnist": dict(hidden=(300, 100), train_iter=200, finetune=10, quick_calib=500,
                          configs=MNIST_CONFIGS, sparsities=MNIST_SPARSITIES)}


# ----------------------------------------------------------------------------------------------- statistics
def mcnemar(correct_a, correct_b) -> tuple[int, int, float]:
    """Exact McNemar test of two classifiers on the same samples.

    Only the discordant pairs count: b = samples A gets right and B wrong, c = the reverse. Under the null
    hypothesis (equal accuracy) b ~ Binomial(b + c, ½); the p-value is the two-sided exact binomial test
    (:func:`scipy.stats.binomtest`), 1 when there are no discordant pairs.

    Returns
    -------
    b, c : int
    p : float

    Examples
    --------
    >>> a = [True] * 10 + [False] * 2 + [True] * 5     # 10 only A gets right, 2 only B, 5 both
    >>> b = [False] * 10 + [True] * 2 + [True] * 5
    >>> b_, c, p = mcnemar(a, b)
    >>> b_, c, round(p, 5)                              # 2·P(Bin(12, ½) <= 2) = 2·79/4096
    (10, 2, 0.03857)
    """
    a = np.asarray(correct_a, dtype=bool)
    b_ = np.asarray(correct_b, dtype=bool)
    if a.shape != b_.shape or a.ndim != 1:
        raise ValueError(f"correct_a and correct_b must be 1-D of the same length, got {a.shape} and {b_.shape}")
    b, c = int(np.sum(a & ~b_)), int(np.sum(~a & b_))
    p = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    return b, c, float(p)


# ----------------------------------------------------------------------------------------------- helpers
def config_label(cfg: dict) -> str:
    """A configuration as text, e.g. ``"mode=cascade,epsilon=0.1"`` (names the cell and the table row)."""
    return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in cfg.items())


def config_family(cfg: dict) -> str:
    """The configuration without its budget (ε or density): the points of one family form one curve."""
    return config_label({k: v for k, v in cfg.items() if k not in ("epsilon", "density")}) or "default"


def _setting(dataset: str, n_calib) -> Setting:
    spec = DATASETS[dataset]
    return Setting(dataset=dataset, hidden=spec["hidden"], train_iter=spec["train_iter"], n_calib=n_calib,
                   eps_grid=(), consistency_eps=(), noise_levels=())


def _timed(func, *args, **kwargs):
    """``func(*args, **kwargs)`` with one BLAS thread; returns (result, CPU seconds, wall seconds, warnings)."""
    from nettrim._threads import limit_blas

    with limit_blas(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c0, t0 = time.process_time(), time.perf_counter()
        out = func(*args, **kwargs)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    return out, cpu, wall, len(caught)


def lsq_refit_network(weights, biases, X, pruned_weights, pruned_biases):
    r"""Least-squares values on a pruned network's support, layer after layer on the refitted signals.

    Layer ℓ: :func:`~nettrim.experiments.pruners.refit` with the support of the pruned
    :math:`[\hat W_\ell; \hat b_\ell^\top]`, the input :math:`\hat Y^{(\ell-1)}` of the refitted network, and
    the target the original network's pre-activation (what "magnitude + LS refit" does with its own mask).
    """
    from nettrim.network import forward

    from .pruners import refit

    orig = forward(weights, biases, X, return_all=True)
    H, L = X, len(weights)
    out_W, out_b = [], []
    for i in range(L):
        ones = np.ones((1, len(X)))
        Wt = np.vstack([weights[i], biases[i]])
        support = np.vstack([pruned_weights[i], pruned_biases[i]]) != 0
        U = refit(Wt, np.vstack([H.T, ones]), support, target=Wt.T @ np.vstack([orig[i].T, ones]))
        out_W.append(U[:-1])
        out_b.append(U[-1])
        Z = H @ U[:-1] + U[-1]
        H = np.maximum(Z, 0.0) if i < L - 1 else Z
    return out_W, out_b


def _rows(dataset, point, label, family, budget_value, nets, times, data, model, X_cal, seed, finetune_epochs):
    """One row per method: kept, accuracy, McNemar against Net-Trim (when present), fine-tuned accuracy, times."""
    from nettrim.network import forward

    from .models import correct
    from .pruning import finetune

    Zte = forward(model.weights, model.biases, data.X_test)
    ok = {m: correct(W, b, data.X_test, data.y_test) for m, (W, b) in nets.items()}
    sizes = [W.size for W in model.weights]
    rows = []
    for m, (W, b) in nets.items():
        nnz = [int(np.count_nonzero(w)) for w in W]
        row = dict(dataset=dataset, point=point, config=label, family=family, budget=budget_value, method=m,
                   n_calib=len(X_cal), seed=seed, kept_total=sum(nnz) / sum(sizes), acc_orig=model.test_accuracy,
                   acc=float(ok[m].mean()),
                   logit_gap=float(np.linalg.norm(forward(W, b, data.X_test) - Zte) / np.linalg.norm(Zte)))
        row.update({f"kept_L{i + 1}": n / s for i, (n, s) in enumerate(zip(nnz, sizes, strict=False))})
        if "nettrim" in ok and m != "nettrim":
            row["mcnemar_b"], row["mcnemar_c"], row["p_value"] = mcnemar(ok["nettrim"], ok[m])
        else:
            row["mcnemar_b"] = row["mcnemar_c"] = 0
            row["p_value"] = np.nan
        if finetune_epochs:
            Wf, bf = finetune(W, b, data.X_train, data.y_train, epochs=finetune_epochs, seed=seed)
            row["acc_ft"] = float(correct(Wf, bf, data.X_test, data.y_test).mean())
        else:
            row["acc_ft"] = np.nan
        row.update(times.get(m, dict(cpu_s=np.nan, wall_s=np.nan, n_warnings=0)))
        rows.append(row)
    return rows


def _peers(model, X, budget, times) -> dict:
    from .pruners import prune_with

    nets = {}
    for m in PEERS:
        net, cpu, wall, nw = _timed(prune_with, m, model.weights, model.biases, X, nnz=budget)
        nets[m] = (net.weights, net.biases)
        times[m] = dict(cpu_s=cpu, wall_s=wall, n_warnings=nw)
    return nets


def _nettrim(model, X, cfg, times) -> tuple:
    from nettrim import prune_network

    net, cpu, wall, nw = _timed(prune_network, model.weights, model.biases, X, **cfg)
    status = "/".join(net.report["status"].astype(str))
    iterations = "/".join(str(int(i)) for i in net.report["iterations"])
    times["nettrim"] = dict(cpu_s=cpu, wall_s=wall, n_warnings=nw, nettrim_status=status,
                            nettrim_iterations=iterations)
    return net


# ----------------------------------------------------------------------------------------------- cells
def matched_cell(dataset: str, cfg: dict, seed: int, cache_dir: str, n_calib, finetune_epochs: int) -> list[dict]:
    """Net-Trim with ``cfg``, then every peer at its per-layer nnz; one row per method."""
    data, model, X = setup(_setting(dataset, n_calib), seed, cache_dir)
    times: dict = {}
    net = _nettrim(model, X, cfg, times)
    budget = [int(n) for n in net.report["nnz_after"]]
    nets = {"nettrim": (net.weights, net.biases)}
    nets.update(_peers(model, X, budget, times))
    (W, b), cpu, wall, nw = _timed(lsq_refit_network, model.weights, model.biases, X, net.weights, net.biases)
    nets[DIAGNOSTIC] = (W, b)
    times[DIAGNOSTIC] = dict(cpu_s=cpu + times["nettrim"]["cpu_s"], wall_s=wall + times["nettrim"]["wall_s"],
                             n_warnings=nw)
    return _rows(dataset, "matched", config_label(cfg), config_family(cfg), cfg.get("epsilon", cfg.get("density")),
                 nets, times, data, model, X, seed, finetune_epochs)


def uniform_cell(dataset: str, sparsity: float, nettrim_cfg: dict | None, seed: int, cache_dir: str, n_calib,
                 finetune_epochs: int) -> list[dict]:
    """Every peer keeping the fraction 1 − ``sparsity`` of each layer (and Net-Trim if ``nettrim_cfg``)."""
    from .pruners import layer_budgets

    data, model, X = setup(_setting(dataset, n_calib), seed, cache_dir)
    times: dict = {}
    nets = {}
    if nettrim_cfg is not None:
        cfg = dict(nettrim_cfg, density=[1.0 - sparsity] * len(model.weights))
        net = _nettrim(model, X, cfg, times)
        nets["nettrim"] = (net.weights, net.biases)
    nets.update(_peers(model, X, layer_budgets(model.weights, 1.0 - sparsity), times))
    label = f"uniform sparsity={sparsity:g}"
    return _rows(dataset, "uniform", label, "uniform", sparsity, nets, times, data, model, X, seed, finetune_epochs)


# ----------------------------------------------------------------------------------------------- outputs
MARKERS = {"nettrim": "o", DIAGNOSTIC: "o", "magnitude": "v", "magnitude_refit": "s", "wanda": "^",
           "sparsegpt": "D"}
COLORS = {"nettrim": "black", DIAGNOSTIC: "dimgray", "magnitude": "tab:gray", "magnitude_refit": "tab:orange",
          "wanda": "tab:green", "sparsegpt": "tab:purple"}


def _methods(df):
    return [m for m in ("nettrim", DIAGNOSTIC, *PEERS) if m in set(df["method"])]


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per point: kept, then each method's accuracy (``*`` = differs from Net-Trim, p < 0.05) and times."""
    rows = []
    # matched points first, then uniform; within each, family by family from dense to sparse (cells finish in
    # any order, so the rows are sorted here rather than taken in the order of the results file)
    order = df.sort_values(["point", "family", "budget"]).drop_duplicates(["point", "config"])
    for point, label in order[["point", "config"]].itertuples(index=False, name=None):
        g = df[(df["point"] == point) & (df["config"] == label)]
        g = g.set_index("method")
        ref = g.loc["nettrim"] if "nettrim" in g.index else g.iloc[0]
        row = {"point": point, "config": label, "kept_%": round(100 * ref["kept_total"], 2),
               "original_%": round(100 * ref["acc_orig"], 1)}
        for m in _methods(df):
            if m not in g.index:
                row[f"{m}_%"] = ""
                continue
            mark = "*" if g.loc[m, "p_value"] < ALPHA else ""
            row[f"{m}_%"] = f"{100 * g.loc[m, 'acc']:.1f}{mark}"
        if "nettrim" in g.index:
            row["nettrim_ft_%"] = f"{100 * g.loc['nettrim', 'acc_ft']:.1f}"
            row["nettrim_cpu_s"] = round(float(g.loc["nettrim", "cpu_s"]), 2)
        row["sparsegpt_cpu_s"] = round(float(g.loc["sparsegpt", "cpu_s"]), 3)
        if "nettrim" in g.index:
            row["time_ratio"] = round(float(g.loc["nettrim", "cpu_s"] / g.loc["sparsegpt", "cpu_s"]), 1)
        rows.append(row)
    return pd.DataFrame(rows)


def timing_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per method: median and max CPU/wall seconds of one whole-network prune (one BLAS thread)."""
    g = df.groupby("method")
    out = pd.DataFrame({"cpu_s_median": g["cpu_s"].median(), "cpu_s_max": g["cpu_s"].max(),
                        "wall_s_median": g["wall_s"].median(), "prunes": g.size()})
    return out.reindex([m for m in _methods(df)]).reset_index()


def check_targets(df: pd.DataFrame) -> list[dict]:
    """The targets, per dataset and Net-Trim family, from the measured rows (see the module docstring)."""
    out = []
    lo, hi = TARGET_RANGE
    for dataset, d in df.groupby("dataset"):
        m = d[d["point"] == "matched"]
        for family, f in m.groupby("family"):
            nt = f[f["method"] == "nettrim"]
            inrange = nt[(nt["kept_total"] >= lo - 1e-12) & (nt["kept_total"] <= hi + 1e-12)]["config"]
            peers = f[f["config"].isin(inrange) & f["method"].isin(PEERS)]
            losses = peers[(peers["p_value"] < ALPHA) & (peers["mcnemar_c"] > peers["mcnemar_b"])]
            wins = peers[(peers["p_value"] < ALPHA) & (peers["mcnemar_b"] > peers["mcnemar_c"])]
            acc0 = nt["acc_orig"].iloc[0]
            ok = nt[nt["acc"] >= acc0 - 0.01 - 1e-12]
            ok_ft = nt[nt["acc_ft"] >= acc0 - 0.01 - 1e-12]
            sg = f[f["method"] == "sparsegpt"].set_index("config")["cpu_s"]
            ratio = (nt.set_index("config")["cpu_s"] / sg).dropna()
            out.append(dict(
                dataset=dataset, family=family, points_in_range=len(inrange),
                losses=len(losses), loss_list="; ".join(f"{r.method}@{100 * r.kept_total:.1f}%(p={r.p_value:.2g})"
                                                       for r in losses.itertuples()),
                wins=len(wins), ties=len(peers) - len(losses) - len(wins),
                min_kept_within_1pt=float(ok["kept_total"].min()) if len(ok) else np.nan,
                min_kept_within_1pt_ft=float(ok_ft["kept_total"].min()) if len(ok_ft) else np.nan,
                time_ratio_median=float(ratio.median()) if len(ratio) else np.nan,
                time_ratio_max=float(ratio.max()) if len(ratio) else np.nan))
    return out


def _figure(df: pd.DataFrame, name: str, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from ._output import save_figure

    panels = [(f, df[(df["point"] == "matched") & (df["family"] == f)]) for f in
              sorted(df.loc[df["point"] == "matched", "family"].unique())]
    if (df["point"] == "uniform").any():
        panels.append(("uniform", df[df["point"] == "uniform"]))
    acc0 = 100 * df["acc_orig"].iloc[0]
    fig, axes = plt.subplots(2, len(panels), figsize=(5.2 * len(panels), 8.2), squeeze=False, sharex="col")
    for col, (family, g) in enumerate(panels):
        paired = "nettrim" in set(g["method"])
        for row, ax in enumerate(axes[:, col]):
            ax.axhline(acc0, color="black", lw=1, ls=":")
            ax.axvspan(100 * TARGET_RANGE[0], 100 * TARGET_RANGE[1], color="tab:blue", alpha=0.06, lw=0)
            for m in _methods(g):
                h = g[g["method"] == m].sort_values("kept_total")
                x, y = 100 * h["kept_total"], 100 * h["acc"]
                ax.plot(x, y, ls="--" if m == DIAGNOSTIC else "-", color=COLORS[m],
                        lw=2.2 if m == "nettrim" else 1.4, zorder=3 if m == "nettrim" else 2)
                # filled: differs from Net-Trim at that point (or no Net-Trim to compare with); hollow: a tie
                tie = (h["p_value"] >= ALPHA).to_numpy() if paired else np.zeros(len(h), dtype=bool)
                ax.scatter(x[~tie], y[~tie], marker=MARKERS[m], color=COLORS[m], s=30, zorder=4)
                ax.scatter(x[tie], y[tie], marker=MARKERS[m], facecolor="white", edgecolor=COLORS[m], s=30,
                           zorder=4)
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xticks([2, 5, 10, 20, 50])
            ax.grid(alpha=0.3, which="both")
            if row == 0:
                title = f"at Net-Trim's per-layer nnz ({family})" if family != "uniform" else \
                    "uniform: every layer keeps the same share" + ("" if paired else "\n(no Net-Trim point)")
                ax.set_title(title, fontsize=10)
            else:
                ax.set_ylim(acc0 - 10, acc0 + 1)
                ax.set_xlabel("weights kept (% of the network, log scale)")
            if col == 0:
                ax.set_ylabel("test accuracy (%)" + (" — zoom" if row else ""))
    handles = [plt.Line2D([], [], color=COLORS[m], ls="--" if m == DIAGNOSTIC else "-", marker=MARKERS[m],
                          lw=2.2 if m == "nettrim" else 1.4) for m in _methods(df)]
    labels = [METHOD_LABELS[m] for m in _methods(df)]
    handles += [plt.Line2D([], [], color="black", lw=1, ls=":"),
                plt.Line2D([], [], ls="", marker="o", mfc="white", mec="gray")]
    labels += [f"original ({acc0:.1f} %)", f"hollow: no significant difference from Net-Trim (p ≥ {ALPHA:g})"]
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=9, frameon=False)
    fig.suptitle(f"{name}: test accuracy against weights kept, no fine-tuning (exact McNemar test against "
                 f"Net-Trim; shaded: {100 * TARGET_RANGE[0]:g}–{100 * TARGET_RANGE[1]:g} % kept)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    save_figure(fig, folder, f"compare_pruners_{name}")


def make_outputs(df: pd.DataFrame, name: str, folder: Path) -> pd.DataFrame:
    """Write the table (CSV + Markdown), the timing and target tables and the figure of one dataset.

    Files in ``folder``: ``compare_pruners_NAME.{csv,md}`` (every row; the Markdown shows the summary per
    point), ``compare_pruners_NAME_timing.{csv,md}``, ``compare_pruners_NAME_targets.{csv,md}`` and the
    figure ``compare_pruners_NAME.{png,pdf}``, all through :mod:`nettrim.experiments._output`.
    """
    from ._output import write_table

    folder = Path(folder)
    keep = [c for c in ("dataset", "point", "config", "family", "budget", "method", "kept_total", "kept_L1",
                        "kept_L2", "kept_L3", "acc_orig", "acc", "acc_ft", "logit_gap", "mcnemar_b", "mcnemar_c",
                        "p_value", "cpu_s", "wall_s", "n_warnings", "nettrim_status", "nettrim_iterations", "n_calib",
                        "seed")
            if c in df.columns]
    table = summary_table(df)
    text = write_table(
        df[keep], folder, f"compare_pruners_{name}", display=table,
        caption=f"# compare-pruners: {name}\n\nTest accuracy (%) without fine-tuning; `*`: differs from Net-Trim "
                f"at the same point (exact McNemar, p < {ALPHA:g}); `nettrim_ft_%`: Net-Trim after fine-tuning on "
                "its fixed support. Times: CPU seconds of one whole-network prune, one BLAS thread. Every row "
                f"(one per method and point) is in `compare_pruners_{name}.csv`.")
    text += "\n" + write_table(timing_table(df), folder, f"compare_pruners_{name}_timing",
                               caption=f"## {name}: time per whole-network prune (CPU and wall seconds, one BLAS "
                                       "thread)")
    targets = pd.DataFrame(check_targets(df))
    if len(targets):
        text += "\n" + write_table(targets, folder, f"compare_pruners_{name}_targets",
                                   caption=f"## {name}: targets (matched points, "
                                           f"{100 * TARGET_RANGE[0]:g}–{100 * TARGET_RANGE[1]:g} % kept; a loss "
                                           f"is a peer better than Net-Trim with p < {ALPHA:g})")
    _figure(df, name, folder)
    print(text)
    return table


# ----------------------------------------------------------------------------------------------- driver
def add_arguments(parser) -> None:
    parser.add_argument("--datasets", default="digits,mnist",
                        help="comma-separated datasets among digits, mnist (default: both)")
    parser.add_argument("--finetune-epochs", type=int, default=None,
                        help="Adam epochs of fine-tuning on the fixed support (default 20 digits / 10 MNIST, "
                             "2 with --quick; 0 = off)")


def run(args) -> None:
    from .pruning import run_tag
    from .runner import Cell, run_cells

    names = [n.strip() for n in str(args.datasets).split(",") if n.strip()]
    bad = [n for n in names if n not in DATASETS]
    if not names or bad:
        raise SystemExit(f"--datasets takes names among {tuple(DATASETS)}, got {args.datasets!r}")
    if args.finetune_epochs is not None and args.finetune_epochs < 0:
        raise SystemExit("--finetune-epochs must be >= 0")
    tag = run_tag(args, ft=args.finetune_epochs)
    out = Path(args.out)
    cache = str(out / "models")
    for dataset in names:
        spec = DATASETS[dataset]
        configs = QUICK_NETTRIM_CONFIGS if args.quick else spec["configs"]
        sparsities = QUICK_SPARSITIES if args.quick else spec["sparsities"]
        n_calib = spec["quick_calib"] if args.quick else None
        ft = args.finetune_epochs if args.finetune_epochs is not None else (2 if args.quick else spec["finetune"])
        setup(_setting(dataset, n_calib), args.seed, cache)  # train the model once, before workers start
        cells = [Cell(f"{dataset},{tag},{config_label(cfg)},seed={args.seed}", matched_cell,
                      (dataset, cfg, args.seed, cache, n_calib, ft)) for cfg in configs]
        ucfg = UNIFORM_NETTRIM.get(dataset)
        cells += [Cell(f"{dataset},{tag},uniform,s={s:g}"
                       f"{',' + config_label(ucfg) if ucfg is not None else ''},seed={args.seed}", uniform_cell,
                       (dataset, s, ucfg, args.seed, cache, n_calib, ft)) for s in sparsities]
        df = run_cells(cells, out / f"compare-pruners-{dataset}-{tag}.csv", jobs=args.jobs, dask_address=args.dask,
                       label=f"compare-pruners-{dataset}", progress=args.progress)
        ids = {c.id for c in cells}
        df = df[df["cell"].isin(ids)]  # this run's cells only (a configuration list may have changed)
        name = dataset + ("" if tag == "full" else "_" + tag.replace("-", "_"))
        make_outputs(df, name, Path(args.figures))
