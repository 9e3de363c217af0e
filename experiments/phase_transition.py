r"""``phase-transition``: exact recovery of one sparse ReLU neuron from P samples
(the reduction and the theory: docs/tutorial.md §4).

Instance (seeded by (seed, N, s, P, trial)): x_p ~ N(0, I_N) for p = 1..P (the columns of X), w* with
N(0, 1) entries on a uniformly random support of size s, y = relu(Xᵀw*), Ω = {p : y_p > 0}. Three
ε = 0 programs on the same instance:

* ``nettrim``: min ‖w‖₁ s.t. x_pᵀw = y_p on Ω, x_pᵀw ≤ 0 on Ωᶜ (the Net-Trim program, ReLU layer),
* ``bp``: min ‖w‖₁ s.t. Xᵀw = Xᵀw* (basis pursuit with every sample, linear layer),
* ``bp_active``: min ‖w‖₁ s.t. x_pᵀw = y_p on Ω only (basis pursuit on the active samples).

All three go through :func:`nettrim.reference.solve` with ``solver="HIGHS"`` (the exact LP; HiGHS
presolve is switched off because it doubles the time of these small dense LPs and changes nothing in
the answer). Success: ‖ŵ − w*‖/‖w*‖ < 1e-6. With ``--solver fast`` the programs are solved by the ADMM
of :mod:`nettrim.fast` instead, and success is judged at the looser :data:`FAST_TOL` (an ADMM stopped at
eps_abs = eps_rel = 1e-7 is accurate to ~1e-5, not to 1e-12 like a simplex vertex).

The theory (:mod:`nettrim.experiments.theory`) predicts the 50 % point at P ≈ 2δ(s, N) for ``nettrim``
and ``bp_active`` and P ≈ δ(s, N) for ``bp``.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import pandas as pd

from . import theory
from ._cli import cell_seed, grid_type
from .runner import Cell, run_cells

HELP = "sample-complexity phase transitions of one sparse ReLU neuron (Net-Trim vs basis pursuit)"

PROGRAMS = ("nettrim", "bp", "bp_active")
#: success threshold on ‖ŵ − w*‖/‖w*‖ for exact LP solutions: a recovered w* comes back to round-off, while a
#: 1e-3 test would also count near-misses that miss the tiny coefficients of w*
EXACT_TOL = 1e-6
#: success threshold for ADMM solutions: well above their ~1e-5 accuracy at eps_abs = eps_rel = 1e-7 and
#: well below the error of a wrong support (a failed recovery has relative error ≳ 1e-2 here)
FAST_TOL = 1e-3
#: ADMM settings used with --solver fast
FAST_OPTIONS = dict(eps_abs=1e-7, eps_rel=1e-7, max_iter=20_000)
#: trials per cell: a cell is (N, s, P, block of trials); 10 trials × 3 programs ≈ 0.1–0.5 s of work,
#: large enough that joblib and the per-cell CSV write cost nothing, small enough to resume finely
TRIAL_BLOCK = 10


# ----------------------------------------------------------------------------------------------- instances
def instance(N: int, s: int, P: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seeded instance: ``X`` (N×P, samples in columns) and the s-sparse ``w_star`` (N,)."""
    rng = np.random.default_rng(seed)
    w = np.zeros(N)
    support = rng.choice(N, size=s, replace=False)
    w[support] = rng.standard_normal(s)
    X = rng.standard_normal((N, P))
    return X, w


def _solver(name: str):
    """The solve function for ``name`` ("highs" or "fast")."""
    if name == "highs":
        from nettrim import reference

        def solve(X, Y, activation):
            return reference.solve(X, Y, 0.0, activation=activation, solver="HIGHS", presolve=False)

        return solve
    from nettrim.fast import solve as fast_solve

    def solve(X, Y, activation):
        return fast_solve(X, Y, 0.0, activation=activation, **FAST_OPTIONS)

    return solve


def solve_program(program: str, X: np.ndarray, w_star: np.ndarray, solve) -> tuple[np.ndarray, str, float]:
    """Solve one of :data:`PROGRAMS` on the instance; return (ŵ, status, seconds)."""
    y_lin = X.T @ w_star
    active = y_lin > 0
    if program == "nettrim":
        sol = solve(X, np.maximum(y_lin, 0.0)[None, :], "relu")
    elif program == "bp":
        sol = solve(X, y_lin[None, :], "linear")
    elif program == "bp_active":
        if not active.any():
            # no equations: the minimum-ℓ1 point of R^N is 0 (nothing to solve)
            return np.zeros_like(w_star), "optimal", 0.0
        sol = solve(X[:, active], y_lin[active][None, :], "linear")
    else:
        raise ValueError(f"program must be one of {PROGRAMS}, got {program!r}")
    return sol.W[:, 0], sol.status, sol.solve_time


def run_cell(N: int, s: int, P: int, trials: tuple[int, int], base_seed: int, programs: tuple[str, ...],
             solver: str) -> list[dict]:
    """One cell: every program on the instances of trials ``range(*trials)``; one row per (program, trial)."""
    solve = _solver(solver)
    if solve is None:
        raise RuntimeError("--solver fast needs nettrim.fast.solve, which this installation does not have")
    tol = EXACT_TOL if solver == "highs" else FAST_TOL
    rows = []
    for trial in range(*trials):
        seed = cell_seed(base_seed, N, s, P, trial)
        X, w = instance(N, s, P, seed)
        n_active = int(np.count_nonzero(X.T @ w > 0))
        for program in programs:
            cpu0 = time.process_time()   # CPU seconds of this process: a load-independent cost measure
            w_hat, status, seconds = solve_program(program, X, w, solve)
            cpu = time.process_time() - cpu0
            err = float(np.linalg.norm(w_hat - w) / np.linalg.norm(w)) if np.all(np.isfinite(w_hat)) else math.inf
            rows.append(dict(program=program, solver=solver, N=N, s=s, P=P, trial=trial, seed=seed,
                             success=bool(err < tol), rel_error=err, n_active=n_active, solve_time=seconds,
                             cpu_time=cpu,
                             status=status, nnz=int(np.count_nonzero(np.abs(w_hat) > 1e-9 * np.abs(w).max()))))
    return rows


# ----------------------------------------------------------------------------------------------- grids
def default_grids(N: int, quick: bool) -> tuple[list[int], list[int]]:
    """Default s and P grids for one N: 20 values of s up to 0.4 N, 50 values of P up to 2 N.

    At N = 100 that is the grid of the committed figures, ``--s 2:40:2 --P 4:200:4``; other N scale it
    (N = 50: s = 1..20, P = 2:100:2; N = 200: s = 4:80:4, P = 8:400:8). The quick grid keeps 7 values of s and 25 of P.
    """
    s_step = max(1, round(N / 50))
    p_step = max(1, round(N / 25))
    s_max, p_max = int(0.4 * N), 2 * N
    if quick:
        s_vals = list(range(s_step, s_max + 1, max(1, (s_max - s_step) // 6)))
        p_vals = list(range(2 * p_step, p_max + 1, 2 * p_step))
    else:
        s_vals = list(range(s_step, s_max + 1, s_step))
        p_vals = list(range(p_step, p_max + 1, p_step))
    return s_vals, p_vals


def default_trials(N: int, quick: bool) -> int:
    """Trials per (N, s, P) when --trials is not given: 10 in quick mode; 20, or 10 for N > 100 (an N = 200
    LP costs ~3× an N = 100 one, and P_50 needs fewer trials per cell when the grid has 50 values of P)."""
    return 10 if quick or N > 100 else 20


def make_cells(N_values, s_values, P_values, trials, base_seed: int, programs, solver: str,
               quick: bool = False) -> list[Cell]:
    """Cells (N, s, P, block of ≤ :data:`TRIAL_BLOCK` trials) with ids that name everything that
    determines their rows, so a rerun into the same folder reuses exactly the matching cells.
    ``trials`` is an int, or a callable N -> int."""
    cells = []
    prog = "+".join(programs)
    for N in N_values:
        s_grid, p_grid = default_grids(N, quick)
        s_grid = [s for s in (s_values or s_grid) if s <= N]
        n_trials = trials(N) if callable(trials) else trials
        for s in s_grid:
            for P in (P_values or p_grid):
                for start in range(0, n_trials, TRIAL_BLOCK):
                    block = (start, min(start + TRIAL_BLOCK, n_trials))
                    cid = (f"N={N},s={s},P={P},trials={block[0]}-{block[1] - 1},seed={base_seed},"
                           f"solver={solver},programs={prog}")
                    cells.append(Cell(cid, run_cell, (N, s, P, block, base_seed, tuple(programs), solver)))
    return cells


# ----------------------------------------------------------------------------------------------- CLI
def add_arguments(parser) -> None:
    parser.add_argument("--N", type=grid_type("--N", minimum=2), default=None,
                        help="input dimension(s), e.g. 100 or 50,100,200 (default: 50,100,200; --quick: 50)")
    parser.add_argument("--s", type=grid_type("--s", minimum=1), default=None,
                        help="sparsities: a value, a list or start:stop:step with stop included "
                             "(default per N: 20 values up to 0.4 N, e.g. 2:40:2 at N = 100)")
    parser.add_argument("--P", type=grid_type("--P", minimum=1), default=None,
                        help="sample counts, same forms (default per N: 50 values up to 2 N, e.g. 4:200:4)")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per (N, s, P) (default 20, 10 for N > 100; --quick: 10)")
    parser.add_argument("--programs", type=lambda t: t.split(","), default=None,
                        help=f"comma list out of {','.join(PROGRAMS)} (default: all; with --solver fast: nettrim)")
    parser.add_argument("--solver", choices=("highs", "fast"), default="highs",
                        help="highs: exact LP through nettrim.reference (default); fast: the ADMM of nettrim.fast "
                             f"(success at relative error < {FAST_TOL:g}; rows go to phase_transition_fast.csv)")
    parser.add_argument("--bootstrap", type=int, default=400, help="bootstrap replicates for the P_50 errors")


def run(args) -> None:
    quick = bool(args.quick)
    N_values = args.N or ([50] if quick else [50, 100, 200])
    trials = args.trials if args.trials is not None else (lambda N: default_trials(N, quick))
    if isinstance(trials, int) and trials < 1:
        raise SystemExit("--trials must be >= 1")
    if args.bootstrap < 0:
        raise SystemExit("--bootstrap must be >= 0")
    programs = tuple(args.programs or (PROGRAMS if args.solver == "highs" else ("nettrim",)))
    unknown = set(programs) - set(PROGRAMS)
    if unknown:
        raise SystemExit(f"--programs: unknown program(s) {sorted(unknown)}; choose from {PROGRAMS}")
    cells = make_cells(N_values, args.s, args.P, trials, args.seed, programs, args.solver, quick)
    if not cells:
        raise SystemExit(f"phase-transition: no cell to run: every s in --s exceeds every N in --N {N_values}")
    suffix = "" if args.solver == "highs" else "_fast"
    out_csv = args.out / f"phase_transition{suffix}.csv"
    t0 = time.perf_counter()
    table = run_cells(cells, out_csv, jobs=args.jobs, dask_address=args.dask, label="phase-transition",
                      progress=args.progress)
    elapsed = time.perf_counter() - t0
    ids = {c.id for c in cells}
    df = table[table["cell"].isin(ids)].copy() if len(table) else table
    n_lp = len(df)
    print(f"phase-transition: {len(cells)} cells, {n_lp} solves, {elapsed:.1f} s wall "
          f"({args.jobs} job(s){', dask' if args.dask else ''}; cells already done were skipped)", file=sys.stderr)
    if not len(df):
        return
    if args.solver == "fast":
        compare_with_exact(df, args.out / "phase_transition.csv")
    summarize(df, args.figures, suffix=suffix, replicates=args.bootstrap, seed=args.seed, quick=quick)


def compare_with_exact(fast: pd.DataFrame, exact_csv) -> pd.DataFrame | None:
    """Join ADMM rows with exact-LP rows of the same instances (same seeds) and print the disagreements."""
    from .runner import read_results

    exact = read_results(exact_csv)
    if not len(exact):
        print(f"  no exact-LP results in {exact_csv} to compare the ADMM with (run without --solver fast first)")
        return None
    key = ["program", "N", "s", "P", "trial", "seed"]
    both = fast.merge(exact[key + ["success", "rel_error"]], on=key, suffixes=("", "_exact"))
    bad = both[both["success"] != both["success_exact"]]
    print(f"  ADMM vs exact LP on {len(both)} common instances: {len(bad)} disagreement(s) in success "
          f"(ADMM threshold {FAST_TOL:g}, LP threshold {EXACT_TOL:g})")
    for _, r in bad.iterrows():
        print(f"    {r['program']} N={r['N']} s={r['s']} P={r['P']} trial={r['trial']}: "
              f"ADMM error {r['rel_error']:.1e} "
              f"({r['status']}), LP error {r['rel_error_exact']:.1e}")
    return both


def agreement(df: pd.DataFrame, a: str = "nettrim", b: str = "bp_active") -> tuple[int, int]:
    """(disagreements, trials) between the success of programs ``a`` and ``b`` on the same instances."""
    key = ["N", "s", "P", "trial", "seed"]
    left = df[df["program"] == a][key + ["success"]]
    right = df[df["program"] == b][key + ["success"]]
    both = left.merge(right, on=key, suffixes=("_a", "_b"))
    return int((both["success_a"] != both["success_b"]).sum()), len(both)


def p50_table(df: pd.DataFrame, replicates: int = 400, seed: int = 0) -> pd.DataFrame:
    """One row per (program, N, s): probit P_50 with bootstrap error, next to the predictions."""
    from ._stats import p50_bootstrap

    rows = []
    for (program, N, s), g in df.groupby(["program", "N", "s"], sort=True):
        agg = g.groupby("P")["success"].agg(["sum", "count"]).reset_index()
        fit = p50_bootstrap(agg["P"], agg["sum"], agg["count"], replicates=replicates,
                            seed=cell_seed(seed, int(N), int(s)))
        th = theory.theory(int(s), int(N))
        simple = th["delta_mc"] if program == "bp" else 2 * th["delta_mc"]
        model_fit = theory.p50_probit_of_model(program, agg["P"], th["delta_mc"], th["sigma_v"])
        se_ok = fit["se"] and np.isfinite(fit["se"]) and fit["se"] > 0
        z = (fit["p50"] - simple) / fit["se"] if se_ok else np.nan
        z_fit = (fit["p50"] - model_fit) / fit["se"] if se_ok else np.nan
        rows.append(dict(program=program, N=int(N), s=int(s), trials=int(agg["count"].min()), P50=fit["p50"],
                         se=fit["se"], ci_lo=fit["lo"], ci_hi=fit["hi"], width=fit["sigma"],
                         censored=fit["censored"], delta_mc=th["delta_mc"], delta_psi=th["delta_psi"],
                         sigma_v=th["sigma_v"], predicted=simple,
                         predicted_label="delta" if program == "bp" else "2*delta",
                         predicted_probit=model_fit, z=z, z_probit=z_fit,
                         within_2se=bool(abs(z) <= 2) if np.isfinite(z) else False,
                         within_2se_probit=bool(abs(z_fit) <= 2) if np.isfinite(z_fit) else False))
    return pd.DataFrame(rows)


def p50_display(tab: pd.DataFrame) -> pd.DataFrame:
    """The P_50 table as shown in Markdown: one row per (N, s), the three programs side by side, cells
    "P_50 ± SE" (or "< grid"/"> grid" when the curve does not cross ½ on the grid)."""
    def cell(r):
        if not len(r):
            return ""
        r = r.iloc[0]
        if not np.isfinite(r["P50"]):
            return {"below": "< grid", "above": "> grid"}.get(r["censored"], "n/a")
        return f"{r['P50']:.1f} ± {r['se']:.1f}" if np.isfinite(r["se"]) else f"{r['P50']:.1f}"

    rows = []
    for (N, s), g in tab.groupby(["N", "s"], sort=True):
        r0 = g.iloc[0]
        nt = g[g.program == "nettrim"] if (g.program == "nettrim").any() else g[g.program == "bp_active"]
        rows.append({"N": N, "s": s, "δ (MC)": f"{r0['delta_mc']:.1f}", "δ (ψ)": f"{r0['delta_psi']:.1f}",
                     "P_50 bp": cell(g[g.program == "bp"]), "2δ": f"{2 * r0['delta_mc']:.1f}",
                     "P_50 nettrim": cell(g[g.program == "nettrim"]),
                     "P_50 bp_active": cell(g[g.program == "bp_active"]),
                     "mixture, probit on grid": f"{nt['predicted_probit'].iloc[0]:.1f}" if len(nt) else ""})
    columns = ["N", "s", "δ (MC)", "δ (ψ)", "P_50 bp", "2δ", "P_50 nettrim", "P_50 bp_active",
               "mixture, probit on grid"]
    return pd.DataFrame(rows, columns=columns)


def markdown_p50(tab: pd.DataFrame) -> str:
    """The P_50 table in Markdown (:func:`p50_display`, right-aligned)."""
    from ._output import markdown_table

    return markdown_table(p50_display(tab), align="right")


def summarize(df: pd.DataFrame, figures, *, suffix: str = "", replicates: int = 400, seed: int = 0,
              quick: bool = False) -> pd.DataFrame:
    """Print the P_50 table and the agreement count; write the table (CSV + Markdown) and the figures."""
    from . import plots
    from ._output import write_table

    tab = p50_table(df, replicates=replicates, seed=seed)
    tag = "_quick" if quick else ""
    write_table(tab, figures, f"phase_transition_p50{suffix}{tag}", csv_float_format="%.4g",
                display=p50_display(tab), align="right",
                caption="P_50 (probit fit of the success rates over P, ± bootstrap standard error) against "
                        "δ(s, N) and the binomial-mixture prediction (the same probit fit applied to the "
                        "predicted curve on the same P grid)")
    print(markdown_p50(tab))
    for program in sorted(tab["program"].unique()):
        t = tab[(tab.program == program) & np.isfinite(tab.z)]
        if len(t):
            label = t["predicted_label"].iloc[0]
            d = t.P50 - t.predicted
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.nan
            print(f"  {program}: P_50 within 2 bootstrap SE of {label} for {int(t.within_2se.sum())}/{len(t)} (N, s), "
                  f"of the probit fit of the predicted curve for {int(t.within_2se_probit.sum())}/{len(t)}; "
                  f"mean (P_50 - {label}) = {d.mean():+.2f} ± {se:.2f}, "
                  f"mean (P_50 - predicted probit) = {(t.P50 - t.predicted_probit).mean():+.2f}")
    if {"nettrim", "bp_active"} <= set(df["program"]):
        bad, total = agreement(df)
        print(f"  nettrim vs bp_active: {bad} disagreements in {total} trials")
    has_cpu = df["cpu_time"].notna() if "cpu_time" in df else pd.Series(False, index=df.index)
    for program, g in df.groupby("program"):
        c = g.loc[has_cpu[g.index], "cpu_time"]
        cpu = f", CPU {1e3 * c.mean():.1f} ms (over {len(c)} solves timed)" if len(c) else ""
        print(f"  {program}: {len(g)} solves, mean wall {1e3 * g['solve_time'].mean():.1f} ms{cpu} per solve")
    for N, g in df.groupby("N"):
        c = g.loc[has_cpu[g.index], "cpu_time"]
        if len(c):
            # load-independent cost: CPU seconds of all solves (extrapolated from the timed ones) over 2 idle cores
            total = c.mean() * len(g)
            print(f"  N = {N}: {len(g)} solves ≈ {total:.0f} CPU s = {total / 2:.0f} s on 2 idle cores")
    plots.phase_transition_figures(df, tab, figures, suffix=suffix + tag)
    return tab
