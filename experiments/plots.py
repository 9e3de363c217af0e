"""Figures of the phase-transition and cross-check experiments (matplotlib Agg, PNG + PDF)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.patheffects as pe  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from . import theory  # noqa: E402
from ._output import DPI, save_figure  # noqa: E402,F401  (DPI re-exported for callers of the old module)

__all__ = ["phase_transition_figures", "heatmap_figure", "curves_figure", "p50_plot", "cross_check_figures",
           "integer_ticks", "save", "SUCCESS_CMAP"]

TITLES = {"nettrim": "Net-Trim (ε = 0, ReLU)", "bp": "basis pursuit, all P samples",
          "bp_active": "basis pursuit, active samples only"}
COLORS = {"nettrim": "C0", "bp": "C3", "bp_active": "C2"}
#: success-rate colour map: perceptually uniform, and both ends (0 = dark violet, 1 = yellow) stand out
#: against the white background (a grey map draws success = 1 as white, i.e. as no data)
SUCCESS_CMAP = "viridis"
#: theory curves drawn over the heat map: white with a dark outline, visible on both ends of the map
_OUTLINE = [pe.Stroke(linewidth=3.6, foreground="black"), pe.Normal()]

#: the old name of :func:`nettrim.experiments._output.save_figure` (cross_check.py imports it)
save = save_figure


def integer_ticks(ax, axis: str = "both") -> None:
    """Integer-valued ticks on ``axis`` ("x", "y" or "both") for counts such as s and P, in steps of
    1, 2 or 5 times a power of ten (never 2.5, 7.5)."""
    if axis in ("x", "both"):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    if axis in ("y", "both"):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def _edges(v: np.ndarray) -> np.ndarray:
    """Cell edges around grid values (midpoints, extended by half a step at both ends)."""
    v = np.asarray(v, dtype=float)
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _solver_note(df: pd.DataFrame) -> str:
    """A second title line for rows of ``--solver fast`` (the default exact LP needs no note)."""
    if "solver" in df and (df["solver"] == "fast").all():
        from .phase_transition import FAST_TOL

        return f"\nsolved by the ADMM of nettrim.fast; success at relative error < {FAST_TOL:g}"
    return ""


def _delta_curve(N: int, s_values) -> tuple[np.ndarray, np.ndarray]:
    s = np.array(sorted(set(int(v) for v in s_values)))
    return s, np.array([theory.delta_mc(int(v), int(N)) for v in s])


# ------------------------------------------------------------------------------------------ phase transition
def phase_transition_figures(df: pd.DataFrame, tab: pd.DataFrame, folder: Path, suffix: str = "") -> list[Path]:
    """Heat maps and success curves per N, and P_50 against N, s and the predictions."""
    paths = []
    for N, g in df.groupby("N"):
        paths += heatmaps(g, int(N), folder, suffix)
        paths += success_curves(g, int(N), folder, suffix)
    paths += p50_figure(tab, folder, suffix)
    return paths


def heatmap_figure(df: pd.DataFrame, N: int):
    """Success rate over the (s, P) grid, one panel per program, with P = δ, P = 2δ and the empirical 50 %
    contour; success from 0 (dark violet) to 1 (yellow) on :data:`SUCCESS_CMAP` with a colour bar."""
    programs = [p for p in ("nettrim", "bp_active", "bp") if p in set(df["program"])]
    rate = df.groupby(["program", "s", "P"])["success"].mean()
    trials = int(df.groupby(["program", "s", "P"]).size().min())
    s_vals = np.sort(df["s"].unique())
    p_vals = np.sort(df["P"].unique())
    s_th, d_th = _delta_curve(N, s_vals)
    fig, axes = plt.subplots(1, len(programs), figsize=(4.6 * len(programs), 4.6), sharey=True,
                             squeeze=False, layout="constrained")
    contour = False
    for ax, program in zip(axes[0], programs):
        grid = rate[program].unstack("s").reindex(index=p_vals, columns=s_vals).to_numpy()
        mesh = ax.pcolormesh(_edges(s_vals), _edges(p_vals), grid, cmap=SUCCESS_CMAP, vmin=0, vmax=1,
                             shading="flat")
        ax.plot(s_th, 2 * d_th, color="white", lw=2, path_effects=_OUTLINE, label="P = 2δ(s, N)")
        ax.plot(s_th, d_th, color="white", lw=2, ls=(0, (4, 2)), path_effects=_OUTLINE, label="P = δ(s, N)")
        if len(s_vals) > 1 and len(p_vals) > 1 and np.nanmin(grid) < 0.5 < np.nanmax(grid):
            ax.contour(s_vals, p_vals, grid, levels=[0.5], colors="C3", linewidths=1.6)
            contour = True
        ax.set_title(TITLES[program], fontsize=10)
        ax.set_xlabel("sparsity s")
        ax.set_xlim(_edges(s_vals)[[0, -1]])
        ax.set_ylim(_edges(p_vals)[[0, -1]])
        integer_ticks(ax)
        if len(s_vals) <= 8:   # a coarse grid: one tick per column, at the measured sparsities
            ax.set_xticks(s_vals)
    axes[0][0].set_ylabel("samples P")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if contour:  # a legend entry for the contour lines
        handles.append(plt.Line2D([], [], color="C3", lw=1.6))
        labels.append("measured 50 % success")
    fig.legend(handles, labels, loc="outside lower center", ncol=len(handles), fontsize=9, frameon=False)
    cbar = fig.colorbar(mesh, ax=axes[0].tolist(), shrink=0.9, ticks=np.linspace(0, 1, 5))
    cbar.set_label("success rate (fraction of trials)")
    fig.suptitle(f"Exact recovery of an s-sparse neuron, N = {N} ({trials} trials per cell){_solver_note(df)}")
    return fig


def heatmaps(df: pd.DataFrame, N: int, folder: Path, suffix: str = "") -> list[Path]:
    """Write :func:`heatmap_figure` as ``phase_transition_heatmap_N{N}{suffix}``."""
    return save_figure(heatmap_figure(df, N), folder, f"phase_transition_heatmap_N{N}{suffix}")


def curves_figure(df: pd.DataFrame, N: int, n_panels: int = 4):
    """Success rate against P at up to ``n_panels`` sparsities, measured (± binomial SE) and predicted."""
    s_vals = np.sort(df["s"].unique())
    pick = s_vals[np.unique(np.linspace(0, len(s_vals) - 1, min(n_panels, len(s_vals))).round().astype(int))]
    fig, axes = plt.subplots(1, len(pick), figsize=(3.6 * len(pick), 3.8), sharey=True, squeeze=False,
                             layout="constrained")
    for ax, s in zip(axes[0], pick):
        g = df[df["s"] == s]
        d = theory.delta_mc(int(s), N)
        sig = theory.sigma_v(int(s), N)
        P_fine = np.arange(1, int(g["P"].max()) + 1)
        for program in ("nettrim", "bp_active", "bp"):
            h = g[g["program"] == program]
            if not len(h):
                continue
            agg = h.groupby("P")["success"].agg(["mean", "count"])
            err = np.sqrt(agg["mean"] * (1 - agg["mean"]) / agg["count"])
            # nettrim and bp_active coincide trial by trial: big open circles vs small dots keep both visible
            style = dict(fmt="o", ms=7, mfc="none") if program == "nettrim" else dict(fmt="o", ms=3)
            ax.errorbar(agg.index, agg["mean"], yerr=err, color=COLORS[program], alpha=0.85,
                        label=f"measured: {TITLES[program]}", **style)
        ax.plot(P_fine, theory.p_mixture(P_fine, d, sig), color="k", lw=1.2,
                label="predicted, Net-Trim: Σ Bin(M; P, ½)·p_BP(M)")
        ax.plot(P_fine, theory.p_bp(P_fine, d, sig), color="k", lw=1.2, ls="--",
                label="predicted, basis pursuit: p_BP(P)")
        ax.axvline(d, color="C0", lw=0.8, ls=":")
        ax.axvline(2 * d, color="C1", lw=0.8, ls=":")
        ax.set_title(f"s = {s}: δ = {d:.1f}, σ_V = {sig:.1f}", fontsize=10)
        ax.set_xlabel("samples P")
        integer_ticks(ax, "x")
    axes[0][0].set_ylabel("success rate")
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles += [plt.Line2D([], [], color="C0", lw=0.8, ls=":"), plt.Line2D([], [], color="C1", lw=0.8, ls=":")]
    labels += ["P = δ", "P = 2δ"]
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"Success rate against the predictions (N = {N}){_solver_note(df)}")
    return fig


def success_curves(df: pd.DataFrame, N: int, folder: Path, suffix: str = "", n_panels: int = 4) -> list[Path]:
    """Write :func:`curves_figure` as ``phase_transition_curves_N{N}{suffix}``."""
    return save_figure(curves_figure(df, N, n_panels), folder, f"phase_transition_curves_N{N}{suffix}")


def fit_slog(tab: pd.DataFrame) -> float:
    """Least-squares C in P_50 ≈ C·s·log(N/s) over the finite rows of ``tab``."""
    t = tab[np.isfinite(tab["P50"])]
    f = t["s"] * np.log(t["N"] / t["s"])
    return float((f * t["P50"]).sum() / (f * f).sum()) if len(t) else float("nan")


def p50_plot(tab: pd.DataFrame):
    """P_50 against s per N with the predictions (one panel per program), and P_50/δ against s/N;
    None when ``tab`` has neither ``nettrim`` nor ``bp`` rows."""
    programs = [p for p in ("nettrim", "bp") if p in set(tab["program"])]
    if not programs:
        return None
    fig, axes = plt.subplots(1, len(programs) + 1, figsize=(4.8 * (len(programs) + 1), 4.2), squeeze=False,
                             layout="constrained")
    axes = axes[0]
    Ns = sorted(tab["N"].unique())
    for ax, program in zip(axes, programs):
        t = tab[tab["program"] == program]
        C = fit_slog(t)
        factor = 1 if program == "bp" else 2
        for i, N in enumerate(Ns):
            u = t[t["N"] == N].sort_values("s")
            color = f"C{i}"
            ax.errorbar(u["s"], u["P50"], yerr=u["se"], fmt="o", ms=3.5, color=color, label=f"measured, N = {N}")
            s_th, d_th = _delta_curve(int(N), u["s"])
            ax.plot(s_th, factor * d_th, color=color, lw=1.5)
            s_f = np.linspace(max(1, u["s"].min()), u["s"].max(), 100)
            ax.plot(s_f, C * s_f * np.log(N / s_f), color=color, lw=1, ls="--")
        ax.plot([], [], color="k", lw=1.5, label=("δ(s, N)" if factor == 1 else "2δ(s, N)"))
        ax.plot([], [], color="k", lw=1, ls="--", label=f"C·s·log(N/s), C = {C:.2f}")
        ax.set_xlabel("sparsity s")
        ax.set_ylabel("P_50 (probit fit, ± bootstrap SE)")
        integer_ticks(ax)
        ax.set_title(TITLES[program], fontsize=10)
        ax.legend(fontsize=7)
    ax = axes[-1]
    for program in programs:
        t = tab[tab["program"] == program]
        for i, N in enumerate(Ns):
            u = t[t["N"] == N].sort_values("s")
            ax.errorbar(u["s"] / N, u["P50"] / u["delta_mc"], yerr=u["se"] / u["delta_mc"],
                        fmt="o" if program == "nettrim" else "s", ms=3.5, color=f"C{i}",
                        mfc="none" if program == "bp" else None,
                        label=f"{program}, N = {N}")
    ax.axhline(2, color="C1", lw=1, label="2 (Net-Trim theory)")
    ax.axhline(1, color="C0", lw=1, ls="--", label="1 (basis pursuit theory)")
    ax.set_xlabel("s / N")
    ax.set_ylabel("P_50 / δ(s, N)")
    ax.set_title("P_50 in units of the statistical dimension", fontsize=10)
    ax.legend(fontsize=6.5, ncol=2)
    fig.suptitle("50 % recovery point: Net-Trim needs 2δ samples, basis pursuit δ")
    return fig


def p50_figure(tab: pd.DataFrame, folder: Path, suffix: str = "") -> list[Path]:
    """Write :func:`p50_plot` as ``phase_transition_p50{suffix}`` (nothing when it has no panel)."""
    fig = p50_plot(tab)
    return [] if fig is None else save_figure(fig, folder, f"phase_transition_p50{suffix}")


# ------------------------------------------------------------------------------------------ cross-check
def cross_check_figures(df: pd.DataFrame, folder: Path, suffix: str = "") -> list[Path]:
    """Fast vs reference objective, every solver's relative objective difference, time against size."""
    ok = df[np.isfinite(df["objective"]) & np.isfinite(df["ref_objective"])]
    solvers = [s for s in ("fast", "CLARABEL", "ECOS", "SCS", "HIGHS") if s in set(df["solver"])]
    markers = {"fast": "o", "CLARABEL": "s", "ECOS": "^", "SCS": "v", "HIGHS": "D"}
    colors = {s: f"C{i}" for i, s in enumerate(("fast", "CLARABEL", "ECOS", "SCS", "HIGHS"))}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), layout="constrained")

    ax = axes[0]
    main = "fast" if "fast" in solvers else next((s for s in ("SCS", "ECOS") if s in solvers), solvers[0])
    u = ok[ok["solver"] == main]
    for act, m in (("relu", "o"), ("linear", "s")):
        v = u[u["activation"] == act]
        bad = v["disagree"].astype(bool)
        ax.scatter(v.loc[~bad, "ref_objective"], v.loc[~bad, "objective"], s=18, marker=m, color=colors[main],
                   alpha=0.75, label=f"{act} layers")
        if bad.any():
            ax.scatter(v.loc[bad, "ref_objective"], v.loc[bad, "objective"], s=40, marker=m, facecolor="none",
                       edgecolor="C3", label=f"{act}: disagreement")
    lim = [ok["ref_objective"].min() * 0.8, ok["ref_objective"].max() * 1.25]
    ax.plot(lim, lim, color="k", lw=0.8, label="equal objectives")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("reference objective ‖U‖₁ (HIGHS at ε = 0, else CLARABEL)")
    ax.set_ylabel(f"{main} objective ‖U‖₁")
    ax.set_title(f"{main} against the reference", fontsize=10)
    ax.legend(fontsize=8)

    ax = axes[1]
    for solver in solvers:
        u = ok[(ok["solver"] == solver) & (ok["solver"] != ok["ref_solver"])]
        if not len(u):
            continue
        ax.scatter(u["size"] * np.exp(0.08 * (solvers.index(solver) - 2)), np.maximum(u["rel_obj_diff"], 1e-16),
                   s=16, marker=markers[solver], color=colors[solver], alpha=0.75, label=solver)
    ax.axhline(1e-16, color="0.7", lw=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("problem size N·M·P")
    ax.set_ylabel("|objective − reference| / reference  (floored at 1e-16)")
    ax.set_title("Objective agreement (the reference solver itself left out)", fontsize=10)
    ax.legend(fontsize=8)

    ax = axes[2]
    for solver in solvers:
        u = df[df["solver"] == solver]
        ax.scatter(u["size"] * np.exp(0.08 * (solvers.index(solver) - 2)), u["solve_time"], s=16,
                   marker=markers[solver], color=colors[solver], alpha=0.75, label=solver)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("problem size N·M·P")
    ax.set_ylabel("solve time [s] (CVXPY compile included)")
    ax.set_title("Time against problem size", fontsize=10)
    ax.legend(fontsize=8)
    n = df["instance"].nunique()
    fig.suptitle(f"Cross-check of the layer solvers on {n} seeded instances")
    return save_figure(fig, folder, f"cross_check{suffix}")
