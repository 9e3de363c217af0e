r"""``cross-check``: every layer solver against every other on seeded families of layer instances.

Instance (seeded): X (N×P) standard normal, optionally with a bias row of ones (then N counts it); a
teacher W₀ (N×M) with N(0, 1) entries kept with probability ½; Z₀ = W₀ᵀX; Y = relu(Z₀) ("relu") or Z₀
("linear"); ε = gain·‖Y‖_F with gain ∈ {0, 0.01, 0.05, 0.2}; for "relu" optionally a nonzero V, equal
to Z₀ plus a positive margin on Ωᶜ (so W₀ stays feasible, as in the cascade scheme).

Solvers: the reference (:func:`nettrim.reference.solve`) with CLARABEL, ECOS and SCS, HIGHS (the exact LP)
at ε = 0, and the ADMM :func:`nettrim.fast.solve` when it is installed. The **reference objective** of an
instance is that of HIGHS at ε = 0, else CLARABEL, else ECOS (the first one with status "optimal").
Every solver is compared with it: relative objective difference, recomputed violation, duality gap,
support agreement (Jaccard index of the supports {|W| > 1e-6·max|W|}) and time. A row *disagrees* when
its status is not "optimal", or its objective differs from the reference by more than its tolerance
(:data:`OBJ_TOL`), or its violation or gap exceeds it. Disagreements are printed one by one.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ._cli import cell_seed
from .runner import Cell, run_cells

HELP = "cross-check the fast ADMM against the reference solvers (ECOS, SCS, CLARABEL, HIGHS) on seeded layers"

GAINS = (0.0, 0.01, 0.05, 0.2)
#: relative objective / violation / gap tolerances per solver. Interior-point and simplex solvers work
#: to ~1e-8; SCS (first-order) runs at eps 1e-6 here, which is accurate to ~1e-5 in the objective;
#: the ADMM runs at eps_abs = 1e-7, eps_rel = 1e-6.
OBJ_TOL = {"HIGHS": 1e-6, "CLARABEL": 1e-5, "ECOS": 1e-5, "SCS": 1e-3, "fast": 1e-3}
VIOL_TOL = {"HIGHS": 1e-6, "CLARABEL": 1e-6, "ECOS": 1e-6, "SCS": 1e-4, "fast": 1e-6}
SCS_OPTIONS = dict(eps_abs=1e-6, eps_rel=1e-6, max_iters=200_000)
FAST_OPTIONS = dict(eps_abs=1e-7, eps_rel=1e-6, max_iter=50_000)
#: supports are compared on entries above this fraction of max|W| (conic solvers leave ~1e-9 dust)
SUPPORT_THRESHOLD = 1e-6


@dataclass(frozen=True)
class Spec:
    """One instance of the family (all that determines it, with the seed)."""

    N: int
    M: int
    P: int
    activation: str
    gain: float
    bias: bool
    nonzero_V: bool

    @property
    def name(self) -> str:
        return (f"{self.activation} N={self.N} M={self.M} P={self.P} gain={self.gain:g}"
                f"{' bias' if self.bias else ''}{' V' if self.nonzero_V else ''}")


def instance(spec: Spec, seed: int):
    """The seeded layer: (X, Y, epsilon, V) with V None unless ``spec.nonzero_V``."""
    rng = np.random.default_rng(seed)
    n_in = spec.N - 1 if spec.bias else spec.N
    X = rng.standard_normal((n_in, spec.P))
    if spec.bias:
        X = np.vstack([X, np.ones((1, spec.P))])
    W0 = rng.standard_normal((spec.N, spec.M)) * (rng.random((spec.N, spec.M)) < 0.5)
    Z0 = W0.T @ X
    Y = np.maximum(Z0, 0.0) if spec.activation == "relu" else Z0
    V = None
    if spec.nonzero_V:
        margin = 0.5 * np.abs(rng.standard_normal(Z0.shape)) * Z0.std()
        V = np.where(Z0 > 0, 0.0, Z0 + margin)
    return X, Y, spec.gain * float(np.linalg.norm(Y)), V


def families(quick: bool) -> list[Spec]:
    """The instance families: every combination on small layers, a subset on the large ones.

    Sizes (N, M, P) run from a single neuron to a 200×50 layer, and P up to 2000, with P < N and P > N.
    The large sizes keep a subset: one CVXPY statement of a layer has N·M·P nonzeros (10⁷ for 200×50×1000),
    and the interior-point solvers take minutes on it, so 200×50 gets one instance (P = 1000) and P = 2000
    goes with a 100×20 layer.
    """
    small = [(20, 1, 10), (20, 1, 60), (50, 10, 30)] if not quick else [(12, 1, 8), (20, 4, 60)]
    medium = [(50, 10, 200)] if not quick else []
    kinds = [("relu", False, False), ("relu", True, False), ("relu", False, True), ("relu", True, True),
             ("linear", False, False), ("linear", True, False)]
    specs = []
    for (N, M, P) in small + medium:
        for act, bias, nv in kinds:
            for gain in GAINS:
                specs.append(Spec(N, M, P, act, gain, bias, nv))
    if quick:
        return specs
    for act, bias, nv, gains in [("relu", True, False, GAINS), ("relu", False, True, (0.05,)),
                                 ("linear", True, False, (0.05,))]:
        specs.extend(Spec(100, 20, 500, act, g, bias, nv) for g in gains)
    specs.append(Spec(100, 20, 2000, "relu", 0.05, True, False))
    specs.append(Spec(100, 20, 2000, "linear", 0.05, False, False))
    specs.append(Spec(200, 50, 1000, "relu", 0.05, True, False))
    return specs


def _fast_solve():
    try:
        from nettrim.fast import solve
    except ImportError:
        return None
    return solve


def solver_names(spec: Spec, with_fast: bool) -> list[str]:
    names = ["CLARABEL", "ECOS", "SCS"] + (["HIGHS"] if spec.gain == 0 else [])
    return names + (["fast"] if with_fast else [])


def _support(W: np.ndarray) -> np.ndarray:
    scale = np.nanmax(np.abs(W)) if W.size and np.isfinite(W).any() else 0.0
    return np.abs(W) > SUPPORT_THRESHOLD * scale if scale > 0 else np.zeros(W.shape, bool)


def run_instance(spec_dict: dict, seed: int, with_fast: bool) -> list[dict]:
    """One cell: every solver on one instance; one row per solver, compared with the reference."""
    from nettrim import reference

    spec = Spec(**spec_dict)
    X, Y, eps, V = instance(spec, seed)
    V_arg = dict(V=V) if V is not None else {}
    sols = {}
    for name in solver_names(spec, with_fast):
        t0 = time.perf_counter()
        if name == "fast":
            sol = _fast_solve()(X, Y, eps, activation=spec.activation, **V_arg, **FAST_OPTIONS)
        else:
            opts = SCS_OPTIONS if name == "SCS" else {}
            sol = reference.solve(X, Y, eps, activation=spec.activation, solver=name, **V_arg, **opts)
        sols[name] = (sol, time.perf_counter() - t0)
    ref_name = next((n for n in ("HIGHS", "CLARABEL", "ECOS") if n in sols and sols[n][0].optimal), None)
    ref = sols[ref_name][0] if ref_name else None
    ref_support = _support(ref.W) if ref is not None else None
    rows = []
    for name, (sol, wall) in sols.items():
        rel = abs(sol.objective - ref.objective) / max(abs(ref.objective), 1e-300) if ref is not None else np.nan
        if ref is not None and np.isfinite(sol.W).all():
            s, r = _support(sol.W), ref_support
            union = np.count_nonzero(s | r)
            jaccard = np.count_nonzero(s & r) / union if union else 1.0
        else:
            jaccard = np.nan
        reasons = []
        if sol.status != "optimal":
            reasons.append(f"status {sol.status}")
        if ref is None:
            reasons.append("no certified reference")
        elif not rel <= OBJ_TOL[name]:
            reasons.append(f"objective off by {rel:.1e}")
        if not sol.violation <= VIOL_TOL[name]:
            reasons.append(f"violation {sol.violation:.1e}")
        if sol.gap is not None and not sol.gap <= max(OBJ_TOL[name], 1e-6):
            reasons.append(f"gap {sol.gap:.1e}")
        rows.append(dict(instance=spec.name, seed=seed, **asdict(spec), epsilon=eps, size=spec.N * spec.M * spec.P,
                         solver=name, status=sol.status, objective=sol.objective,
                         ref_solver=ref_name or "", ref_objective=ref.objective if ref is not None else np.nan,
                         rel_obj_diff=rel, violation=sol.violation, gap=np.nan if sol.gap is None else sol.gap,
                         support_jaccard=jaccard, nnz=int(np.count_nonzero(_support(sol.W))),
                         iterations=sol.iterations if sol.iterations is not None else np.nan,
                         solve_time=sol.solve_time, wall_time=wall, disagree=bool(reasons),
                         reason="; ".join(reasons)))
    return rows


def add_arguments(parser) -> None:
    parser.add_argument("--no-fast", dest="fast", action="store_false",
                        help="leave out nettrim.fast (reference solvers only)")


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per solver: instances, worst and median errors, support agreement, disagreements and median time."""
    g = df.groupby("solver")
    tab = pd.DataFrame({
        "instances": g.size(),
        "max_rel_obj_diff": g["rel_obj_diff"].max(),
        "median_rel_obj_diff": g["rel_obj_diff"].median(),
        "max_violation": g["violation"].max(),
        "max_gap": g["gap"].max(),
        "median_support_jaccard": g["support_jaccard"].median(),
        "min_support_jaccard": g["support_jaccard"].min(),
        "disagreements": g["disagree"].sum().astype(int),
        "median_time_s": g["solve_time"].median(),
        "max_time_s": g["solve_time"].max(),
    })
    order = [s for s in ("fast", "HIGHS", "CLARABEL", "ECOS", "SCS") if s in tab.index]
    return tab.loc[order].reset_index()


def _markdown(tab: pd.DataFrame) -> str:
    cols = list(tab.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---:" if c != "solver" else "---" for c in cols) + "|"]
    for _, r in tab.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, (float, np.floating)):
                cells.append("n/a" if not np.isfinite(v) else (f"{v:.3f}" if "jaccard" in c else f"{v:.2e}"))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run(args) -> None:
    from . import plots

    quick = bool(args.quick)
    with_fast = bool(getattr(args, "fast", True))
    if with_fast and _fast_solve() is None:
        print("cross-check: nettrim.fast.solve is NOT available in this installation; "
              "checking the reference solvers against each other only", file=sys.stderr)
        with_fast = False
    specs = families(quick)
    cells = []
    for i, spec in enumerate(specs):
        seed = cell_seed(args.seed, spec.N, spec.M, spec.P, i)
        tag = "+fast" if with_fast else ""
        cells.append(Cell(f"{spec.name} seed={seed}{tag}", run_instance, (asdict(spec), seed, with_fast)))
    out_csv = args.out / "cross_check.csv"
    t0 = time.perf_counter()
    table = run_cells(cells, out_csv, jobs=args.jobs, dask_address=args.dask, label="cross-check",
                      progress=args.progress)
    ids = {c.id for c in cells}
    df = table[table["cell"].isin(ids)].copy() if len(table) else table
    print(f"cross-check: {len(cells)} instances, {len(df)} solves, {time.perf_counter() - t0:.1f} s wall",
          file=sys.stderr)
    if not len(df):
        return
    df["disagree"] = df["disagree"].astype(bool)
    tab = summary_table(df)
    suffix = "_quick" if quick else ""
    args.figures.mkdir(parents=True, exist_ok=True)
    tab.to_csv(args.figures / f"cross_check{suffix}.csv", index=False, float_format="%.4g")
    md = _markdown(tab)
    note = "" if with_fast else "\nnettrim.fast was not run (not installed or --no-fast).\n"
    (args.figures / f"cross_check{suffix}.md").write_text(
        "Cross-check of the layer solvers against the reference objective (HIGHS at ε = 0, else CLARABEL)\n\n"
        + md + note)
    print(md + note)
    bad = df[df["disagree"]]
    if len(bad):
        print(f"{len(bad)} disagreement(s):")
        for _, r in bad.sort_values(["instance", "solver"]).iterrows():
            print(f"  {r['instance']} [{r['solver']}]: {r['reason']}  (objective {r['objective']:.6g} vs "
                  f"{r['ref_solver']} {r['ref_objective']:.6g}, violation {r['violation']:.1e}, gap {r['gap']:.1e})")
    else:
        print("no disagreements")
    plots.cross_check_figures(df, args.figures, suffix=suffix)
