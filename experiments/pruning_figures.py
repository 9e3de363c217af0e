"""Figures (PNG + PDF) and tables (CSV + Markdown) of the pruning experiments.

Each figure has a builder that returns the matplotlib figure (``accuracy_figure``, ``layers_figure``,
``first_layer_figure``, ``consistency_figure``, ``noise_figure``) and is written by :func:`make_outputs`.
The builders read the columns they know and skip what a frame does not have; accuracy columns added
later (``acc_<method>`` and ``acc_<method>_ft`` in the summary table, e.g. a refit or another pruner) are
drawn as further series next to Net-Trim and magnitude pruning.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

# markdown_table is re-exported: prune_mnist imports it from here
from ._output import markdown_table, save_figure, write_table  # noqa: E402

__all__ = ["make_outputs", "markdown_table", "summary_table", "best_tradeoff", "accuracy_figure", "layers_figure",
           "first_layer_figure", "consistency_figure", "noise_figure", "label_points", "pixel_mask",
           "pixel_legend_handles", "PIXEL_COLORS", "PIXEL_CMAP"]

COLORS = {"parallel": "tab:blue", "cascade": "tab:red", "magnitude": "tab:gray", "original": "black"}
MARKERS = {"parallel": "o", "cascade": "s"}
#: colours and markers of accuracy series other than Net-Trim and magnitude (new columns of the table)
EXTRA_STYLES = [("tab:green", "^"), ("tab:purple", "v"), ("tab:orange", "D"), ("tab:brown", "P"),
                ("tab:pink", "X"), ("tab:olive", "<"), ("tab:cyan", ">")]
#: first-layer pixel maps: an input pixel whose row of W₁ is all zero is no longer read by the network.
#: Dark = unused, light = still read (the tutorial's convention, docs/tutorial.md §5); neither is the
#: white of the background.
PIXEL_COLORS = {"read": "#bdd7e7", "unused": "black"}
PIXEL_CMAP = ListedColormap([PIXEL_COLORS["read"], PIXEL_COLORS["unused"]], name="pixel_usage")

# summary-table names of the raw per-model columns of the cells (pruning.prune_cell)
_RENAME = {"acc_nt": "acc_nettrim", "acc_mag": "acc_magnitude", "acc_nt_ft": "acc_nettrim_ft",
           "acc_mag_ft": "acc_magnitude_ft", "logit_gap_nt": "logit_gap_nettrim",
           "logit_gap_mag": "logit_gap_magnitude", "zero_pixels_nt": "zero_pixels_nettrim",
           "zero_pixels_mag": "zero_pixels_magnitude"}
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_PER_MODEL = ("acc_", "logit_gap_", "zero_pixels_")
_LAYER_COLUMNS = ["mode", "eps", "layer", "n_in", "n_out", "nnz_before", "nnz_after", "kept", "rel_error",
                  "layer_rel_error", "epsilon_rel", "dead_neurons", "status", "iterations", "time", "peak_mem_mb"]
_CONSISTENCY_COLUMNS = ["mode", "eps", "layer", "measured", "bound", "y_norm", "status", "violation"]


def _table_name(col: str) -> str:
    """Summary-table name of a raw column: ``_nt`` → ``_nettrim``, ``_mag`` → ``_magnitude``."""
    if col in _RENAME:
        return _RENAME[col]
    return "_".join({"nt": "nettrim", "mag": "magnitude"}.get(t, t) for t in col.split("_"))


def _mode_order(c: pd.Series) -> pd.Series:
    return c.map({"parallel": 0, "cascade": 1}).fillna(2) if c.name == "mode" else c


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (mode, ε): overall and per-layer kept fraction, accuracies, logit gap, time.

    Every per-model column of the cells (``acc_*``, ``logit_gap_*``, ``zero_pixels_*``) is carried over,
    renamed by :func:`_table_name`; known ones come first, in the order of the committed tables.
    """
    lay = df[df["kind"] == "layer"]
    known = ["acc_orig", *_RENAME]
    extra = [c for c in df.columns if c.startswith(_PER_MODEL) and c not in known]
    per_model = [c for c in known if c in df.columns] + extra
    rows = []
    for (mode, eps), g in lay.groupby(["mode", "eps"], sort=True):
        g = g.sort_values("layer")
        first = g.iloc[0]
        row = {"mode": mode, "eps": eps, "kept_total": first["kept_total"]}
        for _, r in g.iterrows():
            row[f"kept_L{int(r['layer'])}"] = r["kept"]
        row.update({_table_name(c): first[c] for c in per_model})
        row.update(time_s=first.get("prune_time", np.nan),
                   max_layer_peak_mb=g["peak_mem_mb"].max() if "peak_mem_mb" in g else np.nan,
                   all_optimal=bool((g["status"] == "optimal").all()))
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return out.sort_values(["mode", "eps"], key=_mode_order).reset_index(drop=True)


def best_tradeoff(table: pd.DataFrame, max_loss: float = 0.01, column: str = "acc_nettrim") -> pd.Series | None:
    """The setting with the fewest weights kept among those losing at most ``max_loss`` accuracy."""
    ok = table[table["acc_orig"] - table[column] <= max_loss + 1e-12]
    return None if ok.empty else ok.sort_values("kept_total").iloc[0]


# ----------------------------------------------------------------------------------------------- helpers
def label_points(ax, x, y, texts, *, color="black", fontsize=7, obstacles=None, lines=None,
                 marker_px=None) -> list:
    """Annotate points (x, y) with ``texts`` where the labels collide neither with each other nor with markers.

    Each label tries sixteen positions around its point (two rings of eight, upper right first) and keeps
    the first whose box overlaps no label placed before, no marker in ``obstacles`` (data coordinates,
    n×2; default: the labelled points), no polyline in ``lines`` (a list of n×2 arrays in data
    coordinates) and stays inside the axes; if none is free, the least-overlapping one. Call it once the
    axes have their final size and limits (the figure is drawn here to measure the text).

    Returns
    -------
    list of matplotlib.text.Annotation
    """
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pts = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
    obs = pts if obstacles is None else np.asarray(obstacles, float).reshape(-1, 2)
    obs = obs[np.all(np.isfinite(obs), axis=1)]
    half = 0.5 * (marker_px if marker_px is not None else 6 * fig.dpi / 72)
    obs_px = ax.transData.transform(obs) if len(obs) else np.zeros((0, 2))
    obs_boxes = [(px - half, py - half, px + half, py + half) for px, py in obs_px]
    for line in lines or []:
        # a line is an obstacle through points every ~2 px along each segment (boxes of its width)
        q = ax.transData.transform(np.asarray(line, float).reshape(-1, 2))
        q = q[np.all(np.isfinite(q), axis=1)]
        for a, b in zip(q[:-1], q[1:]):
            n = max(2, int(np.hypot(*(b - a)) / 2))
            for px, py in a + np.linspace(0, 1, n)[:, None] * (b - a):
                obs_boxes.append((px - 1, py - 1, px + 1, py + 1))
    axes_box = ax.get_window_extent(renderer)
    candidates = []
    for d in (3.5, 7.0):
        candidates += [(d, d, "left", "bottom"), (d, -d, "left", "top"), (-d, d, "right", "bottom"),
                       (-d, -d, "right", "top"), (0, 2 * d, "center", "bottom"), (0, -2 * d, "center", "top"),
                       (2 * d, 0, "left", "center"), (-2 * d, 0, "right", "center")]

    def overlap(a, b):
        return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))

    placed, boxes = [], []
    for (px, py), text in zip(pts, texts):
        if not (np.isfinite(px) and np.isfinite(py)):
            continue
        best = None
        for dx, dy, ha, va in candidates:
            ann = ax.annotate(text, (px, py), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                              fontsize=fontsize, color=color)
            bb = ann.get_window_extent(renderer)
            box = (bb.x0, bb.y0, bb.x1, bb.y1)
            cost = sum(overlap(box, b) for b in boxes) + sum(overlap(box, b) for b in obs_boxes)
            inside = (box[0] >= axes_box.x0 and box[2] <= axes_box.x1 and box[1] >= axes_box.y0
                      and box[3] <= axes_box.y1)
            cost += 0.0 if inside else (bb.width * bb.height)
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, ann, box)
            else:
                ann.remove()
            if cost == 0:
                break
        placed.append(best[1])
        boxes.append(best[2])
    return placed


def _accuracy_columns(table: pd.DataFrame) -> dict[str, list[str]]:
    """Accuracy series of the table: {"one-shot": [methods], "fine-tuned": [methods]} with data."""
    methods = {"one-shot": [], "fine-tuned": []}
    for c in table.columns:
        if not c.startswith("acc_") or c == "acc_orig" or not table[c].notna().any():
            continue
        method = c[len("acc_"):]
        if method.endswith("_ft"):
            methods["fine-tuned"].append(method[: -len("_ft")])
        else:
            methods["one-shot"].append(method)
    order = {"nettrim": 0, "magnitude": 1}
    return {k: sorted(v, key=lambda m: (order.get(m, 2), m)) for k, v in methods.items() if v}


def _acc_column(method: str, state: str) -> str:
    return f"acc_{method}" + ("_ft" if state == "fine-tuned" else "")


def _method_label(method: str, mode: str) -> str:
    if method == "nettrim":
        return f"Net-Trim {mode}"
    if method == "magnitude":
        return f"magnitude pruning at Net-Trim {mode}'s per-layer nnz"
    return method.replace("nettrim", "Net-Trim").replace("_", " ")


def _error_scale(ax) -> None:
    """Accuracy axis spaced by the logarithm of the error rate: 90 → 99 % as wide as 0 → 90 %."""
    def forward(a):
        return -np.log10(np.clip(100.0 - np.asarray(a, float), 0.05, None))

    def inverse(v):
        return 100.0 - 10.0 ** (-np.asarray(v, float))

    ax.set_yscale("function", functions=(forward, inverse))
    ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator([0, 20, 50, 70, 80, 90, 95, 97, 98, 99, 99.5]))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def _percent_log_axis(ax) -> None:
    """Log x axis of percentages with plain-number ticks (1, 2, 5, 10, 20, 50, 100)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100]))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _plain_log_labels(axis) -> None:
    """Plain-number labels (0.05, 0.1, 0.2) on a log axis instead of 5×10⁻² (minor ticks labelled only
    when the axis spans less than a decade, which matplotlib decides)."""
    fmt = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(fmt)
    axis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
        lambda v, _: f"{v:g}" if np.isclose(v / 10 ** np.floor(np.log10(v)), (2, 3, 5)).any() else ""))


# ----------------------------------------------------------------------------------------------- figures
def accuracy_figure(table: pd.DataFrame, name: str):
    """Test accuracy against the fraction of weights kept: one panel per mode (columns) and per state
    (rows: one-shot, and after fine-tuning on the fixed support when the table has it); in each panel
    Net-Trim (labelled with its relative ε), magnitude pruning to the same per-layer nnz and any further
    ``acc_<method>`` column; the original accuracy and a 1-point band; the legend below the panels."""
    series = _accuracy_columns(table)
    modes = [m for m in ("parallel", "cascade") if (table["mode"] == m).any()]
    modes += sorted(set(table["mode"]) - set(modes))
    states = list(series)
    fig, axes = plt.subplots(len(states), len(modes), figsize=(5.6 * len(modes), 3.9 * len(states) + 0.6),
                             sharex=True, sharey=True, squeeze=False, layout="constrained")
    acc0 = 100 * float(table["acc_orig"].iloc[0])
    extra_style = {}
    all_acc = [acc0] + [100 * v for state, ms in series.items() for m in ms
                        for v in table[_acc_column(m, state)].dropna()]
    labelled = []
    for i, state in enumerate(states):
        for j, mode in enumerate(modes):
            ax = axes[i][j]
            t = table[table["mode"] == mode].sort_values("kept_total")
            x = 100 * t["kept_total"].to_numpy()
            ax.axhspan(acc0 - 1, acc0, color="0.9", zorder=0)
            ax.axhline(acc0, color=COLORS["original"], lw=1, ls=":")
            marker = MARKERS.get(mode, "o")
            pts, lines = [], []
            for method in series[state]:
                y = 100 * t[_acc_column(method, state)].to_numpy(dtype=float)
                if method == "nettrim":
                    style = dict(color=COLORS.get(mode, "tab:blue"), marker=marker, ls="-", ms=6)
                elif method == "magnitude":
                    style = dict(color=COLORS["magnitude"], marker=marker, ls="--", mfc="white", ms=6)
                else:
                    c, mk = extra_style.setdefault(method, EXTRA_STYLES[len(extra_style) % len(EXTRA_STYLES)])
                    style = dict(color=c, marker=mk, ls="-.", ms=5)
                ax.plot(x, y, label=_method_label(method, mode), **style)
                pts.append(np.column_stack([x, y]))
                lines.append(pts[-1])
            _percent_log_axis(ax)
            _error_scale(ax)
            ax.grid(alpha=0.3)
            title = "one-shot (no retraining)" if state == "one-shot" else "after fine-tuning on the fixed support"
            ax.set_title(f"{mode}: {title}", fontsize=10)
            if i == len(states) - 1:
                ax.set_xlabel("weights kept (% of the network, log scale)")
            if j == 0:
                ax.set_ylabel("test accuracy (%)")
            if "nettrim" in series[state]:
                y_nt = 100 * t[_acc_column("nettrim", state)].to_numpy(dtype=float)
                labelled.append((ax, x, y_nt, [f"{e:g}" for e in t["eps"]], COLORS.get(mode, "tab:blue"),
                                 np.vstack(pts), lines))
    lo = max(0.0, min(all_acc) - 5)
    axes[0][0].set_ylim(lo, min(99.8, max(all_acc) + 0.6 * (100 - max(all_acc))))
    kept = 100 * table["kept_total"]
    axes[0][0].set_xlim(kept.min() / 1.25, min(100.0, kept.max() * 1.25))
    # one legend for the figure: the methods (by their style in the first mode) and the reference lines
    handles, labels = [], []
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    handles += [plt.Line2D([], [], color=COLORS["original"], lw=1, ls=":"), Patch(color="0.9")]
    labels += [f"original network ({acc0:.1f} %)", "within 1 point of the original"]
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(handles)), fontsize=8, frameon=False)
    fig.suptitle(f"{name}: test accuracy against weights kept (numbers at the Net-Trim points: relative ε; "
                 "accuracy axis spaced by log of the error)", fontsize=11)
    fig.canvas.draw()
    fig.set_layout_engine("none")   # freeze the panels: the labels are placed in their final geometry
    for ax, x, y, texts, color, obstacles, lines in labelled:
        label_points(ax, x, y, texts, color=color, obstacles=obstacles, lines=lines)
    return fig


def layers_figure(df: pd.DataFrame, name: str):
    """Weights kept per layer (and in the whole network) against the logits' relative discrepancy."""
    lay = df[df["kind"] == "layer"]
    layers = sorted(lay["layer"].unique())
    fig, axes = plt.subplots(1, len(layers) + 1, figsize=(3.2 * (len(layers) + 1), 3.6), sharey=True,
                             layout="constrained")
    for ax, ell in zip(axes, [*layers, "all"]):
        for mode in ("parallel", "cascade"):
            g = lay[lay["mode"] == mode]
            g = g[g["layer"] == ell] if ell != "all" else g.drop_duplicates("eps")
            g = g.sort_values("logit_gap_nt")
            y = g["kept"] if ell != "all" else g["kept_total"]
            ax.plot(g["logit_gap_nt"], 100 * y, marker=MARKERS[mode], color=COLORS[mode], label=mode)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(f"layer {int(ell)}" if ell != "all" else "whole network")
        ax.set_xlabel("logit discrepancy ‖Z−Ẑ‖/‖Z‖ (test)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("weights kept (%)")
    axes[0].legend()
    fig.suptitle(f"{name}: sparsity per layer vs logit discrepancy, cascade vs parallel")
    return fig


def pixel_mask(ax, W1: np.ndarray, shape, title: str = "") -> int:
    """Draw which input pixels the first layer still reads: a pixel is unused when its row of ``W1``
    (N×M, one row per input) is all zero. Colours: :data:`PIXEL_COLORS` (dark = unused; the legend is
    :func:`pixel_legend_handles`). ``title`` may use ``{unused}`` and ``{total}``. Returns the number of
    unused pixels.

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> W1 = np.ones((4, 3)); W1[0] = 0
    >>> pixel_mask(ax, W1, (2, 2), "{unused} of {total} pixels unused"), ax.get_title()
    (1, '1 of 4 pixels unused')
    >>> _ = ax.legend(handles=pixel_legend_handles())
    """
    unused = ~np.asarray(W1).any(axis=1)
    ax.imshow(unused.reshape(shape).astype(float), cmap=PIXEL_CMAP, vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title.format(unused=int(unused.sum()), total=unused.size), fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return int(unused.sum())


def pixel_legend_handles() -> list:
    """Legend patches of :func:`pixel_mask`'s two colours."""
    return [Patch(facecolor=PIXEL_COLORS["unused"], edgecolor="0.5", label="unused: its row of W₁ is all zero"),
            Patch(facecolor=PIXEL_COLORS["read"], edgecolor="0.5", label="still read by the network")]


def first_layer_figure(W1: np.ndarray, M1: np.ndarray, X_train: np.ndarray, shape, name: str, label: str):
    """First-layer maps of Net-Trim (``W1``) and magnitude pruning at the same nnz (``M1``): which pixels
    are still read (one shared two-colour map and legend) and how many weights leave each pixel (one
    shared colour bar), next to the data's pixel standard deviation and mean image."""
    fig, axes = plt.subplots(2, 3, figsize=(9.6, 6.9), layout="constrained")
    for ax, img, title, cmap in ((axes[0][0], X_train.std(axis=0), "pixel std. dev. (training data)", "magma"),
                                 (axes[1][0], X_train.mean(axis=0), "mean training image", "magma")):
        im = ax.imshow(img.reshape(shape), cmap=cmap)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, label="pixel value")
    pixel_mask(axes[0][1], W1, shape, f"Net-Trim ({label})\n{{unused}} of {{total}} pixels unused")
    pixel_mask(axes[0][2], M1, shape, "magnitude, same per-layer nnz\n{unused} of {total} pixels unused")
    axes[0][1].legend(handles=pixel_legend_handles(), loc="upper left", bbox_to_anchor=(0.0, -0.03), ncol=1,
                      fontsize=8, frameon=False)
    counts = [np.count_nonzero(W, axis=1) for W in (W1, M1)]
    vmax = max(1, max(int(c.max()) for c in counts))
    for ax, c, title in ((axes[1][1], counts[0], "non-zero weights per pixel,\nNet-Trim"),
                         (axes[1][2], counts[1], "non-zero weights per pixel,\nmagnitude")):
        im = ax.imshow(c.reshape(shape), cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[1][2], fraction=0.046, label="non-zeros in the pixel's row of W₁")
    fig.suptitle(f"{name}: input pixels the pruned first layer still reads")
    return fig


def consistency_figure(cdf: pd.DataFrame, name: str):
    """The consistency theorems on the link-normalized network.

    Top row: measured ‖Ŷ⁽ℓ⁾ − Y⁽ℓ⁾‖_F over the theorem's bound (must be ≤ 1). Layers ≥ 2 sit orders of
    magnitude below 1 because link normalization (‖W_ℓ‖₁ = 1) shrinks their signals ‖Y⁽ℓ⁾‖_F while the
    bound carries ε₁ = ε‖Y⁽¹⁾‖_F unshrunk: it is loose by about the product of the link scales, shown as
    ‖Y⁽ℓ⁾‖/‖Y⁽¹⁾‖ in the legend. Bottom row (when the frame has ``y_norm``): the error relative to the
    layer's own signal, ‖Ŷ⁽ℓ⁾ − Y⁽ℓ⁾‖_F/‖Y⁽ℓ⁾‖_F, which compares the layers on one scale, with the line ε.
    """
    relative = "y_norm" in cdf and cdf["y_norm"].notna().any()
    modes = [m for m in ("parallel", "cascade") if (cdf["mode"] == m).any()]
    laws = {"parallel": "bound Σ ε_j over j ≤ ℓ", "cascade": "bound ε₁·√(γ^(ℓ−1))"}
    fig, axes = plt.subplots(2 if relative else 1, len(modes), figsize=(5.2 * len(modes), 8.4 if relative else 4.6),
                             sharex=True, squeeze=False, layout="constrained")
    scale = {}
    if relative:
        y1 = cdf[cdf["layer"] == cdf["layer"].min()]["y_norm"].median()
        scale = {ell: g["y_norm"].median() / y1 for ell, g in cdf.groupby("layer")}
    for j, mode in enumerate(modes):
        g = cdf[cdf["mode"] == mode]
        for ell, mk in zip(sorted(g["layer"].unique()), "os^Dv<>p"):
            h = g[g["layer"] == ell].sort_values("eps")
            sup = str(int(ell)).translate(_SUPERSCRIPT)
            lab = f"layer {ell}"
            if ell in scale and ell != min(scale):
                lab += f": ‖Y⁽{sup}⁾‖/‖Y⁽¹⁾‖ = {scale[ell]:.1e}"
            axes[0][j].plot(h["eps"], h["measured"] / h["bound"], marker=mk, color=f"C{int(ell) - 1}", label=lab)
            if relative:
                axes[1][j].plot(h["eps"], h["measured"] / h["y_norm"], marker=mk, color=f"C{int(ell) - 1}",
                                label=f"layer {ell}")
        ax = axes[0][j]
        ax.axhline(1.0, color="k", ls="--", lw=1, label="bound (ratio = 1)")
        ax.set_yscale("log")
        ax.set_title(f"{mode}: measured / {laws.get(mode, 'bound')}", fontsize=10)
        if relative:
            ax = axes[1][j]
            e = np.sort(cdf["eps"].unique())
            ax.plot(e, e, color="k", ls="--", lw=1, label="ε (one layer alone, Proposition 1)")
            ax.set_yscale("log")
            ax.set_title(f"{mode}: error relative to the layer's own signal", fontsize=10)
        for ax in axes[:, j]:
            ax.set_xscale("log")
            _plain_log_labels(ax.xaxis)
            ax.grid(alpha=0.3, which="both")
        if relative:
            _plain_log_labels(axes[1][j].yaxis)
        axes[-1][j].set_xlabel("relative ε (ε₁ = ε·‖Y⁽¹⁾‖_F)")
    for row in axes:   # one legend per row, right of the panels (the data fill the panels' whole height)
        row[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    axes[0][0].set_ylabel("‖Ŷ⁽ℓ⁾ − Y⁽ℓ⁾‖_F / bound  (≤ 1)")
    if relative:
        axes[1][0].set_ylabel("‖Ŷ⁽ℓ⁾ − Y⁽ℓ⁾‖_F / ‖Y⁽ℓ⁾‖_F")
    fig.suptitle(f"{name}: consistency theorems on the link-normalized network (top: every point ≤ 1)\n"
                 "layers ≥ 2 sit far below 1: link normalization shrinks their signals, and the bound, which "
                 "carries ε₁ unshrunk, is loose by the product of the link scales", fontsize=10)
    return fig


def noise_figure(df: pd.DataFrame, table: pd.DataFrame, name: str):
    """Test accuracy against input noise ‖n‖ = r‖x‖ at the best trade-off ε; None without noise rows."""
    noise = df[df["kind"] == "noise"]
    if noise.empty:
        return None
    best = best_tradeoff(table)
    eps = best["eps"] if best is not None else sorted(noise["eps"].unique())[len(noise["eps"].unique()) // 2]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    g0 = noise[(noise["mode"] == "parallel") & (noise["eps"] == eps)].sort_values("r")
    ax.plot(g0["r"], 100 * g0["noise_acc_orig"], "k-", marker=".", label="original")
    for mode in ("parallel", "cascade"):
        g = noise[(noise["mode"] == mode) & (noise["eps"] == eps)].sort_values("r")
        kept = 100 * g["kept_total"].iloc[0] if len(g) else np.nan
        ax.plot(g["r"], 100 * g["noise_acc_nt"], marker=MARKERS[mode], color=COLORS[mode],
                label=f"Net-Trim {mode} ({kept:.1f} % kept)")
        ax.plot(g["r"], 100 * g["noise_acc_mag"], marker=MARKERS[mode], ls="--", mfc="white",
                color=COLORS["magnitude"], label=f"magnitude, {mode} nnz")
    ax.set_xlabel("noise level r  (‖n‖ = r‖x‖)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{name}: robustness to input noise, ε = {eps:g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _first_layer_from_weights(table: pd.DataFrame, wdir: Path, data, name: str, tag: str):
    """:func:`first_layer_figure` of the best trade-off's saved weights; None when they are not on disk."""
    best = best_tradeoff(table)
    if best is None:
        best = table.sort_values("kept_total").iloc[0]
    path = Path(wdir) / f"{data.name}-{tag}-{best['mode']}-eps{best['eps']:g}.npz"
    if not path.exists():
        return None
    with np.load(path) as z:
        W1, M1 = z["W0"], z["M0"]
    return first_layer_figure(W1, M1, data.X_train, data.image_shape, name, f"{best['mode']}, ε = {best['eps']:g}")


def make_outputs(s, df: pd.DataFrame, cdf: pd.DataFrame, wdir: Path, data, folder: Path) -> pd.DataFrame:
    """Write every figure and table of one setting; return the summary table."""
    # the default full run owns the plain names; any other run (quick, or options set) carries its tag
    name = s.dataset + ("" if s.tag == "full" else "_" + s.tag.replace("-", "_"))
    table = summary_table(df)
    write_table(table, folder, f"prune_{name}_table")
    layers = df[df["kind"] == "layer"][[c for c in _LAYER_COLUMNS if c in df.columns]]
    write_table(layers.sort_values(["mode", "eps", "layer"]), folder, f"prune_{name}_layers")
    has_consistency = cdf is not None and len(cdf) > 0
    if has_consistency:
        c = cdf[[col for col in _CONSISTENCY_COLUMNS if col in cdf.columns]].copy()
        c["ratio"] = c["measured"] / c["bound"]
        write_table(c, folder, f"prune_{name}_consistency")
    figures = {"accuracy": accuracy_figure(table, name), "layers": layers_figure(df, name),
               "first_layer": _first_layer_from_weights(table, wdir, data, name, s.tag),
               "consistency": consistency_figure(cdf, name) if has_consistency else None,
               "noise": noise_figure(df, table, name)}
    for kind, fig in figures.items():
        if fig is not None:
            save_figure(fig, folder, f"prune_{name}_{kind}")
    best = best_tradeoff(table)
    shown = ["mode", "eps", "kept_total", "acc_orig", "acc_nettrim", "acc_magnitude", "acc_nettrim_ft",
             "acc_magnitude_ft", "logit_gap_nettrim", "time_s"]
    print(markdown_table(table[[c for c in shown if c in table.columns]]))
    if best is not None:
        print(f"best trade-off (≤ 1 point lost): {best['mode']} ε={best['eps']:g} keeps "
              f"{100 * best['kept_total']:.1f} % at {100 * best['acc_nettrim']:.2f} % "
              f"(original {100 * best['acc_orig']:.2f} %, magnitude {100 * best['acc_magnitude']:.2f} %)")
    return table
