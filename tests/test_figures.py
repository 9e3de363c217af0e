"""Figures and tables of the experiments: the shared writers, and every figure builder on small synthetic frames
(colour limits, integer ticks, legends, labels that do not collide, columns that may or may not be there)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from nettrim.experiments import _output, plots, pruning_figures, theory  # noqa: E402
from nettrim.experiments import phase_transition as pt  # noqa: E402


# ----------------------------------------------------------------------------------------------- writers
def test_markdown_table_default_layout_and_formats():
    df = pd.DataFrame({"mode": ["a", "b"], "eps": [0.1, np.nan], "n": [3, 4], "ok": [True, False]})
    assert _output.markdown_table(df) == ("| mode | eps | n | ok |\n|---|---|---|---|\n"
                                          "| a | 0.1 | 3 | True |\n| b |  | 4 | False |\n")
    md = _output.markdown_table(df, floatfmt=".2e", formats={"n": "03d"}, na="n/a", align="auto")
    lines = md.splitlines()
    assert lines[1] == "|---|---:|---:|---|"            # numbers right, text and booleans left
    assert lines[2] == "| a | 1.00e-01 | 003 | True |" and lines[3] == "| b | n/a | 004 | False |"
    assert _output.markdown_table(df, align="right").splitlines()[1] == "|---:|---:|---:|---:|"
    assert _output.markdown_table(df, formats={"mode": str.upper}).splitlines()[2].startswith("| A |")


@pytest.mark.parametrize("kwargs,match", [({"formats": {"missing": ".2f"}}, "missing"),
                                          ({"align": "centre"}, "align"), ({"align": ["left"]}, "align")])
def test_markdown_table_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _output.markdown_table(pd.DataFrame({"a": [1], "b": [2]}), **kwargs)


def test_write_table_and_save_figure(tmp_path):
    df = pd.DataFrame({"x": [1.23456789], "y": ["z"]})
    text = _output.write_table(df, tmp_path / "t", "tab", caption="Caption", note="note", floatfmt=".3g")
    assert text == "Caption\n\n| x | y |\n|---|---|\n| 1.23 | z |\n\nnote\n"
    assert (tmp_path / "t" / "tab.md").read_text() == text
    assert pd.read_csv(tmp_path / "t" / "tab.csv")["x"].iloc[0] == pytest.approx(1.23456789)
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    paths = _output.save_figure(fig, tmp_path / "f", "line")
    assert [p.name for p in paths] == ["line.png", "line.pdf"] and all(p.stat().st_size > 0 for p in paths)
    assert not plt.fignum_exists(fig.number)          # closed
    assert plots.save is _output.save_figure and pruning_figures.markdown_table is _output.markdown_table


# ----------------------------------------------------------------------------------------------- phase transition
def _sweep(N=20, s_vals=(1, 2, 3, 4), P_vals=range(2, 41, 2), trials=4, programs=pt.PROGRAMS):
    """Synthetic sweep rows: success iff P exceeds the program's predicted 50 % point (plus a per-trial offset)."""
    rows = []
    for s in s_vals:
        d = theory.delta_mc(s, N, draws=2000)
        for P in P_vals:
            for t in range(trials):
                for program in programs:
                    target = d if program == "bp" else 2 * d
                    rows.append(dict(program=program, N=N, s=s, P=P, trial=t, seed=t,
                                     success=bool(P > target + 2 * (t - trials / 2)), solve_time=1e-3,
                                     cpu_time=1e-3))
    return pd.DataFrame(rows)


def _visible_ticks(axis, lo, hi):
    return [v for v in axis.get_ticklocs() if lo <= v <= hi]


def test_heatmap_colour_map_limits_colour_bar_and_integer_ticks():
    df = _sweep()
    fig = plots.heatmap_figure(df, 20)
    fig.canvas.draw()
    panels = [ax for ax in fig.axes if ax.collections and ax.get_label() != "<colorbar>"]
    assert len(panels) == 3
    background = np.array(mcolors.to_rgb(fig.get_facecolor()))
    for ax in panels:
        mesh = ax.collections[0]
        assert mesh.get_clim() == (0, 1) and mesh.cmap.name == plots.SUCCESS_CMAP
        for value in (0.0, 1.0):   # both ends stand out against the background (a grey map fails at 1)
            assert np.abs(np.array(mesh.cmap(value)[:3]) - background).max() > 0.5
        lo, hi = ax.get_xlim()
        xt = _visible_ticks(ax.xaxis, lo, hi)
        assert len(xt) >= 2 and all(float(v).is_integer() for v in xt)
        lo, hi = ax.get_ylim()
        yt = _visible_ticks(ax.yaxis, lo, hi)
        assert len(yt) >= 2 and all(float(v).is_integer() for v in yt)
        assert all("." not in t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_text())
        for ticks in (xt, yt):   # steps of 1, 2 or 5 times a power of ten
            step = np.diff(ticks)[0]
            assert step / 10 ** np.floor(np.log10(step)) in (1, 2, 5)
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1 and "success rate" in bars[0].get_ylabel()
    assert fig.legends and "P = 2δ(s, N)" in [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)


def test_phase_transition_figures_are_written(tmp_path, monkeypatch):
    # rendering to files is covered by the end-to-end sweeps of test_phase_transition; here: which figures
    written = {}

    def record(fig, folder, name):
        written[name] = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        plt.close(fig)
        return [tmp_path / f"{name}.png"]

    monkeypatch.setattr(plots, "save_figure", record)
    df = _sweep(s_vals=(1, 3), P_vals=range(2, 31, 4), trials=2)
    tab = pt.p50_table(df, replicates=20)
    plots.phase_transition_figures(df, tab, tmp_path, suffix="_t")
    assert set(written) == {"phase_transition_heatmap_N20_t", "phase_transition_curves_N20_t",
                            "phase_transition_p50_t"}
    assert len(written["phase_transition_heatmap_N20_t"]) == 3 and len(written["phase_transition_p50_t"]) == 3
    fig = plots.curves_figure(df, 20)
    assert all(float(v).is_integer() for v in fig.axes[0].get_xticks())
    plt.close(fig)
    assert plots.p50_plot(tab[tab.program == "bp_active"]) is None   # no nettrim/bp rows: no figure


def test_heatmap_of_a_single_program_and_a_single_s():
    df = _sweep(s_vals=(2,), trials=2, programs=("nettrim",))
    fig = plots.heatmap_figure(df, 20)
    assert len([ax for ax in fig.axes if ax.get_label() != "<colorbar>"]) == 1
    assert "ADMM" not in fig._suptitle.get_text()
    plt.close(fig)
    fig = plots.heatmap_figure(df.assign(solver="fast"), 20)   # --solver fast says so, with its threshold
    assert f"ADMM of nettrim.fast; success at relative error < {pt.FAST_TOL:g}" in fig._suptitle.get_text()
    plt.close(fig)


def test_markdown_p50_keeps_its_layout():
    df = _sweep(s_vals=(1, 3), P_vals=range(2, 31, 4), trials=2)
    md = pt.markdown_p50(pt.p50_table(df, replicates=20))
    lines = md.splitlines()
    assert lines[0].startswith("| N | s | δ (MC) |") and lines[1] == "|" + "---:|" * 9
    assert len(lines) == 2 + 2 and lines[2].startswith("| 20 | 1 |")


# ----------------------------------------------------------------------------------------------- pruning
def _cells(modes=("parallel", "cascade"), eps=(0.01, 0.02, 0.05, 0.1, 0.12, 0.13, 0.15, 0.2), ft=True,
           extra=False):
    """Raw rows like pruning.prune_cell's: 3 layers per (mode, ε), accuracies falling with the kept fraction."""
    rows = []
    for mode in modes:
        for e in eps:
            kept = 0.6 * (0.01 / e) ** 0.35
            acc = 0.97 - 0.3 * e - (0.02 if mode == "parallel" else 0.0)
            common = dict(kind="layer", mode=mode, eps=e, kept_total=kept, acc_orig=0.97, acc_nt=acc,
                          acc_mag=acc - 0.1, acc_nt_ft=acc + 0.01 if ft else np.nan,
                          acc_mag_ft=acc - 0.005 if ft else np.nan, logit_gap_nt=e, logit_gap_mag=3 * e,
                          zero_pixels_nt=10, zero_pixels_mag=3, prune_time=1.0, r=np.nan)
            if extra:
                common["acc_nt_refit"] = acc + 0.005
            for layer in (1, 2, 3):
                rows.append(dict(common, layer=layer, kept=kept, peak_mem_mb=5.0, status="optimal", n_in=8,
                                 n_out=8, nnz_before=64, nnz_after=int(64 * kept), rel_error=e, layer_rel_error=e,
                                 epsilon_rel=e, dead_neurons=0, iterations=10, time=0.1))
            for r in (0.0, 0.5):
                rows.append(dict(common, kind="noise", r=r, noise_acc_orig=0.9 - r / 2, noise_acc_nt=0.88 - r / 2,
                                 noise_acc_mag=0.8 - r / 2))
    return pd.DataFrame(rows)


def test_summary_table_keeps_known_columns_in_order_and_carries_new_ones():
    table = pruning_figures.summary_table(_cells(extra=True))
    cols = list(table.columns)
    assert cols[:3] == ["mode", "eps", "kept_total"] and cols[3:6] == ["kept_L1", "kept_L2", "kept_L3"]
    assert cols.index("acc_orig") < cols.index("acc_nettrim") < cols.index("acc_magnitude_ft")
    assert "acc_nettrim_refit" in cols and cols[-3:] == ["time_s", "max_layer_peak_mb", "all_optimal"]
    assert list(table["mode"].unique()) == ["parallel", "cascade"]
    old = _cells().drop(columns=["acc_nt_ft", "acc_mag_ft", "zero_pixels_mag"])   # older frames lack columns
    assert "acc_nettrim_ft" not in pruning_figures.summary_table(old)


def _boxes_overlap(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_accuracy_figure_panels_series_and_labels_that_do_not_collide():
    table = pruning_figures.summary_table(_cells(extra=True))
    fig = pruning_figures.accuracy_figure(table, "synthetic")
    panels = [ax for ax in fig.axes if ax.lines]
    assert len(panels) == 4                               # 2 modes × (one-shot, fine-tuned)
    one_shot = panels[0]
    labels = [line.get_label() for line in one_shot.lines if not line.get_label().startswith("_")]
    assert labels == ["Net-Trim parallel", "magnitude pruning at Net-Trim parallel's per-layer nnz", "Net-Trim refit"]
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)   # one legend, outside the data
    renderer = fig.canvas.get_renderer()
    for ax in panels:
        texts = [t for t in ax.texts if t.get_text()]
        assert sorted(t.get_text() for t in texts) == sorted(f"{e:g}" for e in table["eps"].unique())
        boxes = [t.get_window_extent(renderer) for t in texts]
        assert not any(_boxes_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    plt.close(fig)


def test_accuracy_figure_without_fine_tuning_has_one_row():
    fig = pruning_figures.accuracy_figure(pruning_figures.summary_table(_cells(ft=False, modes=("cascade",))), "x")
    assert len([ax for ax in fig.axes if ax.lines]) == 1
    plt.close(fig)


def test_label_points_avoids_the_markers():
    fig, ax = plt.subplots()
    x = np.array([1.0, 1.1, 1.2, 1.3])
    ax.plot(x, x, "o")
    ax.set_xlim(0.8, 1.6)
    ax.set_ylim(0.8, 1.6)
    anns = pruning_figures.label_points(ax, x, x, ["a", "bb", "ccc", "dddd"])
    r = fig.canvas.get_renderer()
    half = 3 * fig.dpi / 72
    for ann in anns:
        bb = ann.get_window_extent(r)
        for px, py in ax.transData.transform(np.column_stack([x, x])):
            assert not (bb.x0 < px + half and px - half < bb.x1 and bb.y0 < py + half and py - half < bb.y1)
    plt.close(fig)


def test_layers_and_noise_figures_run():
    df = _cells()
    table = pruning_figures.summary_table(df)
    for fig in (pruning_figures.layers_figure(df, "x"), pruning_figures.noise_figure(df, table, "x")):
        assert fig.axes and all(ax.get_xlabel() for ax in fig.axes if ax.lines)
        plt.close(fig)
    assert pruning_figures.noise_figure(df[df.kind == "layer"], table, "x") is None


def _consistency(with_norm=True):
    rows = []
    for mode in ("parallel", "cascade"):
        for e in (0.01, 0.1, 0.3):
            for layer, y in ((1, 0.3), (2, 1e-3), (3, 1e-5)):
                row = dict(mode=mode, eps=e, layer=layer, measured=e * y, bound=e * 0.3 * layer)
                if with_norm:
                    row["y_norm"] = y
                rows.append(row)
    return pd.DataFrame(rows)


def test_consistency_figure_explains_the_small_ratios_and_shows_relative_errors():
    fig = pruning_figures.consistency_figure(_consistency(), "x")
    panels = [ax for ax in fig.axes if ax.lines]
    assert len(panels) == 4
    assert "link normalization" in fig._suptitle.get_text()
    legend = [t.get_text() for t in panels[1].get_legend().get_texts()]
    assert any("‖Y⁽²⁾‖/‖Y⁽¹⁾‖ = 3.3e-03" in t for t in legend)
    # bottom row: measured / ‖Y⁽ℓ⁾‖ = ε for every layer of this frame
    for line in panels[2].lines[:3]:
        np.testing.assert_allclose(line.get_ydata(), line.get_xdata())
    plt.close(fig)
    fig = pruning_figures.consistency_figure(_consistency(with_norm=False), "x")
    assert len([ax for ax in fig.axes if ax.lines]) == 2
    plt.close(fig)


def test_first_layer_masks_share_one_colour_map_and_legend():
    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((16, 5))
    W1[[0, 3, 15]] = 0.0
    M1 = rng.standard_normal((16, 5))
    M1[5] = 0.0
    X = rng.random((20, 16))
    fig = pruning_figures.first_layer_figure(W1, M1, X, (4, 4), "x", "cascade, ε = 0.1")
    masks = [ax for ax in fig.axes if ax.images and ax.images[0].cmap is pruning_figures.PIXEL_CMAP]
    assert len(masks) == 2
    for ax, unused in zip(masks, (3, 1)):
        img = ax.images[0]
        assert img.get_clim() == (0, 1) and int(np.asarray(img.get_array()).sum()) == unused
        assert f"{unused} of 16 pixels unused" in ax.get_title()
    legend = [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert len(legend) == 1 and any("unused" in t.get_text() for t in legend[0].get_texts())
    unused_rgb = np.array(mcolors.to_rgb(pruning_figures.PIXEL_COLORS["unused"]))
    read_rgb = np.array(mcolors.to_rgb(pruning_figures.PIXEL_COLORS["read"]))
    assert unused_rgb.sum() < read_rgb.sum() and np.abs(read_rgb - 1).max() > 0.15   # dark = unused; not white
    counts = [ax for ax in fig.axes if ax.images and ax.images[0].cmap.name == "viridis"]
    assert len(counts) == 2 and counts[0].images[0].get_clim() == counts[1].images[0].get_clim()
    plt.close(fig)
