"""Figures (PNG + PDF) and tables (CSV + Markdown) of the pruning experiments."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["make_outputs", "markdown_table", "summary_table", "best_tradeoff"]

COLORS = {"parallel": "tab:blue", "cascade": "tab:red", "magnitude": "tab:gray", "original": "black"}


def markdown_table(df: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """A GitHub Markdown table (pandas' ``to_markdown`` needs the optional ``tabulate``)."""
    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else format(v, floatfmt)
        return str(v)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _save(fig, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        fig.savefig(folder / f"{name}.{ext}", dpi=150, bbox_inches="tight")
    plt.close(fig)


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (mode, ε): overall and per-layer kept fraction, accuracies, logit gap, time."""
    lay = df[df["kind"] == "layer"]
    rows = []
    for (mode, eps), g in lay.groupby(["mode", "eps"], sort=True):
        g = g.sort_values("layer")
        first = g.iloc[0]
        row = {"mode": mode, "eps": eps, "kept_total": first["kept_total"]}
        for _, r in g.iterrows():
            row[f"kept_L{int(r['layer'])}"] = r["kept"]
        row.update(acc_orig=first["acc_orig"], acc_nettrim=first["acc_nt"], acc_magnitude=first["acc_mag"],
                   acc_nettrim_ft=first["acc_nt_ft"], acc_magnitude_ft=first["acc_mag_ft"],
                   logit_gap_nettrim=first["logit_gap_nt"], logit_gap_magnitude=first["logit_gap_mag"],
                   zero_pixels_nettrim=first["zero_pixels_nt"], zero_pixels_magnitude=first["zero_pixels_mag"],
                   time_s=first["prune_time"], max_layer_peak_mb=g["peak_mem_mb"].max(),
                   all_optimal=bool((g["status"] == "optimal").all()))
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.sort_values(["mode", "eps"], key=lambda c: c.map({"parallel": 0, "cascade": 1}) if c.name == "mode"
                           else c).reset_index(drop=True)


def best_tradeoff(table: pd.DataFrame, max_loss: float = 0.01, column: str = "acc_nettrim") -> pd.Series | None:
    """The setting with the fewest weights kept among those losing at most ``max_loss`` accuracy."""
    ok = table[table["acc_orig"] - table[column] <= max_loss + 1e-12]
    return None if ok.empty else ok.sort_values("kept_total").iloc[0]


def _fig_accuracy(table: pd.DataFrame, name: str, folder: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    acc0 = table["acc_orig"].iloc[0]
    for k, ax in enumerate(axes):
        ax.axhline(100 * acc0, color=COLORS["original"], lw=1, ls=":", label=f"original ({100 * acc0:.1f} %)")
        for mode, mk in (("parallel", "o"), ("cascade", "s")):
            t = table[table["mode"] == mode].sort_values("kept_total")
            if t.empty:
                continue
            x = 100 * t["kept_total"]
            ax.plot(x, 100 * t["acc_nettrim"], marker=mk, color=COLORS[mode], label=f"Net-Trim {mode}")
            ax.plot(x, 100 * t["acc_magnitude"], marker=mk, ls="--", color=COLORS["magnitude"], mfc="none",
                    label=f"magnitude, same per-layer nnz as {mode}")
            if t["acc_nettrim_ft"].notna().any():
                ax.plot(x, 100 * t["acc_nettrim_ft"], marker=mk, ls="-.", color=COLORS[mode], alpha=0.45,
                        label=f"Net-Trim {mode} + fine-tuning")
                ax.plot(x, 100 * t["acc_magnitude_ft"], marker=mk, ls=":", color=COLORS["magnitude"], alpha=0.6,
                        mfc="none", label=f"magnitude ({mode} nnz) + fine-tuning")
            for _, r in t.iterrows():
                ax.annotate(f"{r['eps']:g}", (100 * r["kept_total"], 100 * r["acc_nettrim"]), fontsize=7,
                            xytext=(3, -9 if mode == "cascade" else 4), textcoords="offset points",
                            color=COLORS[mode])
        ax.set_xlabel("weights kept (% of the network)")
        ax.grid(alpha=0.3)
        if k == 1:  # zoom on the useful range: within 8 points of the original
            ax.set_ylim(100 * acc0 - 8, 100 * acc0 + 1.5)
            ax.set_title("zoom (labels: relative ε)")
        else:
            ax.set_title("full range (labels: relative ε)")
            ax.set_ylabel("test accuracy (%)")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{name}: test accuracy vs weights kept — Net-Trim vs magnitude pruning at equal per-layer nnz")
    fig.tight_layout()
    _save(fig, folder, f"prune_{name}_accuracy")


def _fig_layers(df: pd.DataFrame, name: str, folder: Path) -> None:
    lay = df[df["kind"] == "layer"]
    layers = sorted(lay["layer"].unique())
    fig, axes = plt.subplots(1, len(layers) + 1, figsize=(3.2 * (len(layers) + 1), 3.4), sharey=True)
    for ax, ell in zip(axes, layers + ["all"]):
        for mode, mk in (("parallel", "o"), ("cascade", "s")):
            g = lay[lay["mode"] == mode]
            g = g[g["layer"] == ell] if ell != "all" else g.drop_duplicates("eps")
            g = g.sort_values("logit_gap_nt")
            y = g["kept"] if ell != "all" else g["kept_total"]
            ax.plot(g["logit_gap_nt"], 100 * y, marker=mk, color=COLORS[mode], label=mode)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(f"layer {int(ell)}" if ell != "all" else "whole network")
        ax.set_xlabel("logit discrepancy ‖Z−Ẑ‖/‖Z‖ (test)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("weights kept (%)")
    axes[0].legend()
    fig.suptitle(f"{name}: sparsity per layer vs logit discrepancy, cascade vs parallel")
    fig.tight_layout()
    _save(fig, folder, f"prune_{name}_layers")


def _fig_first_layer(table: pd.DataFrame, wdir: Path, data, name: str, tag: str, folder: Path) -> None:
    best = best_tradeoff(table) if best_tradeoff(table) is not None else table.sort_values("kept_total").iloc[0]
    path = wdir / f"{data.name}-{tag}-{best['mode']}-eps{best['eps']:g}.npz"
    if not path.exists():
        return
    with np.load(path) as z:
        W1, M1 = z["W0"], z["M0"]
    shape = data.image_shape
    panels = [("mean training image", data.X_train.mean(axis=0), "gray_r"),
              (f"Net-Trim {best['mode']} ε={best['eps']:g}\nzero rows of W₁: {int((~W1.any(axis=1)).sum())}",
               W1.any(axis=1).astype(float), "Blues"),
              (f"magnitude, same nnz\nzero rows of W₁: {int((~M1.any(axis=1)).sum())}",
               M1.any(axis=1).astype(float), "Greys"),
              ("non-zeros per row of W₁\nNet-Trim", np.count_nonzero(W1, axis=1).astype(float), "viridis")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.1 * len(panels), 3.4))
    for ax, (title, img, cmap) in zip(axes, panels):
        im = ax.imshow(img.reshape(shape), cmap=cmap)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if title.startswith("non-zeros"):
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"{name}: input pixels that keep outgoing weights (white = pixel pruned away)")
    fig.tight_layout()
    _save(fig, folder, f"prune_{name}_first_layer")


def _fig_consistency(cdf: pd.DataFrame, name: str, folder: Path) -> None:
    if cdf is None or cdf.empty:
        return
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4), sharey=True)
    for ax, mode, law in ((axes[0], "parallel", "Σ ε_j over j ≤ ℓ"), (axes[1], "cascade", "ε₁·√γ^(ℓ−1)")):
        g = cdf[cdf["mode"] == mode]
        for ell, mk in zip(sorted(g["layer"].unique()), "os^Dv"):
            h = g[g["layer"] == ell].sort_values("eps")
            ax.plot(h["eps"], h["measured"] / h["bound"], marker=mk, label=f"layer {ell}")
        ax.axhline(1.0, color="k", ls="--", lw=1, label="bound (ratio = 1)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("relative ε (ε₁ = ε·‖Y⁽¹⁾‖_F)")
        ax.set_title(f"{mode}: bound {law}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("‖Ŷ⁽ℓ⁾ − Y⁽ℓ⁾‖_F / bound")
    fig.suptitle(f"{name}: consistency theorems on the link-normalized network (every point must be ≤ 1)")
    fig.tight_layout()
    _save(fig, folder, f"prune_{name}_consistency")


def _fig_noise(df: pd.DataFrame, table: pd.DataFrame, name: str, folder: Path) -> None:
    noise = df[df["kind"] == "noise"]
    if noise.empty:
        return
    best = best_tradeoff(table)
    eps = best["eps"] if best is not None else sorted(noise["eps"].unique())[len(noise["eps"].unique()) // 2]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    g0 = noise[(noise["mode"] == "parallel") & (noise["eps"] == eps)].sort_values("r")
    ax.plot(g0["r"], 100 * g0["noise_acc_orig"], "k-", marker=".", label="original")
    for mode, mk in (("parallel", "o"), ("cascade", "s")):
        g = noise[(noise["mode"] == mode) & (noise["eps"] == eps)].sort_values("r")
        kept = 100 * g["kept_total"].iloc[0] if len(g) else np.nan
        ax.plot(g["r"], 100 * g["noise_acc_nt"], marker=mk, color=COLORS[mode],
                label=f"Net-Trim {mode} ({kept:.1f} % kept)")
        ax.plot(g["r"], 100 * g["noise_acc_mag"], marker=mk, ls="--", mfc="none", color=COLORS["magnitude"],
                label=f"magnitude, {mode} nnz")
    ax.set_xlabel("noise level r  (‖n‖ = r‖x‖)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{name}: robustness to input noise, ε = {eps:g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, folder, f"prune_{name}_noise")


def make_outputs(s, df: pd.DataFrame, cdf: pd.DataFrame, wdir: Path, data, folder: Path) -> pd.DataFrame:
    """Write every figure and table of one setting; return the summary table."""
    # the default full run owns the plain names; any other run (quick, or options set) carries its tag
    name = s.dataset + ("" if s.tag == "full" else "_" + s.tag.replace("-", "_"))
    folder.mkdir(parents=True, exist_ok=True)
    table = summary_table(df)
    table.to_csv(folder / f"prune_{name}_table.csv", index=False)
    (folder / f"prune_{name}_table.md").write_text(markdown_table(table))
    layers = df[df["kind"] == "layer"][["mode", "eps", "layer", "n_in", "n_out", "nnz_before", "nnz_after", "kept",
                                        "rel_error", "layer_rel_error", "epsilon_rel", "dead_neurons", "status",
                                        "iterations", "time", "peak_mem_mb"]]
    layers = layers.sort_values(["mode", "eps", "layer"])
    layers.to_csv(folder / f"prune_{name}_layers.csv", index=False)
    (folder / f"prune_{name}_layers.md").write_text(markdown_table(layers))
    if cdf is not None and len(cdf):
        c = cdf[["mode", "eps", "layer", "measured", "bound", "y_norm", "status", "violation"]].copy()
        c["ratio"] = c["measured"] / c["bound"]
        c.to_csv(folder / f"prune_{name}_consistency.csv", index=False)
        (folder / f"prune_{name}_consistency.md").write_text(markdown_table(c))
    _fig_accuracy(table, name, folder)
    _fig_layers(df, name, folder)
    _fig_first_layer(table, wdir, data, name, s.tag, folder)
    _fig_consistency(cdf, name, folder)
    _fig_noise(df, table, name, folder)
    best = best_tradeoff(table)
    print(markdown_table(table[["mode", "eps", "kept_total", "acc_orig", "acc_nettrim", "acc_magnitude",
                                "acc_nettrim_ft", "acc_magnitude_ft", "logit_gap_nettrim", "time_s"]]))
    if best is not None:
        print(f"best trade-off (≤ 1 point lost): {best['mode']} ε={best['eps']:g} keeps "
              f"{100 * best['kept_total']:.1f} % at {100 * best['acc_nettrim']:.2f} % "
              f"(original {100 * best['acc_orig']:.2f} %, magnitude {100 * best['acc_magnitude']:.2f} %)")
    return table
