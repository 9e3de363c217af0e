r"""``cross-check``: every layer solver against every other, on families built to break them.

Solvers: the reference (:func:`nettrim.reference.solve`) with CLARABEL, ECOS and SCS, HIGHS (the exact LP)
at ε = 0, and the ADMM :func:`nettrim.fast.solve` when it is installed. The **reference objective** of an
instance is that of HIGHS at ε = 0, else CLARABEL, else ECOS (the first one with status "optimal").

The instances are the families of :mod:`nettrim.experiments.cross_check_families`: seeded Gaussian layers,
one layer in 169 pairs of units, ill-conditioned X, infeasible programs, huge V, U = 0 answers and
subsampled layers of the trained digits and MNIST networks.

A row *disagrees* (:func:`judge`) when a claim it makes is contradicted — "optimal" with an objective off
the reference by more than :data:`OBJ_TOL` plus what the answers' violations allow (:func:`dual_bound`: on
an ill-conditioned layer a violation of 1e-7 can be worth percents of ‖U‖₁), a violation or gap beyond its
tolerance, nonzeros where 0 is the answer, the wrong verdict on an infeasible program, a change with the
units — or when the ADMM or the instance's reference fails to solve a solvable program. The other
reference back-ends are witnesses: an honest non-optimal status from one of them is counted as
*unsolved*, not as a disagreement.
Each instance is two cells, one per side (the reference back-ends; the ADMM), whose ids carry a fingerprint
of that side's sources and of the shared layer spec (:func:`fingerprint`): rerunning the same command after
the ADMM changed solves the ADMM's cells again and keeps the reference's. The comparison with the reference
(:func:`compare`) and the disagreements (:func:`judge`) are computed from the stored rows at every summary,
so flipping :data:`FAST_CERTIFIES_INFEASIBILITY` needs no solve at all.
"""

from __future__ import annotations

import hashlib
import sys
import time
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from ._cli import cell_seed
from .cross_check_families import GAINS, NETWORKS, REAL_SIZES, REAL_SIZES_QUICK, Spec, families, instance
from .runner import Cell, run_cells

__all__ = ["GAINS", "NETWORKS", "REAL_SIZES", "REAL_SIZES_QUICK", "Spec", "families", "instance", "fingerprint",
           "solve_side", "compare", "judge", "run_instance", "summary_table", "family_table", "run"]

HELP = "cross-check the fast ADMM against the reference solvers (ECOS, SCS, CLARABEL, HIGHS) on adversarial layers"

#: relative objective / violation / gap tolerances per solver. Interior-point and simplex solvers work
#: to ~1e-8; SCS (first-order) runs at eps 1e-6 here, which is accurate to ~1e-5 in the objective;
#: the ADMM runs at eps_abs = 1e-7, eps_rel = 1e-6.
OBJ_TOL = {"HIGHS": 1e-6, "CLARABEL": 1e-5, "ECOS": 1e-5, "SCS": 1e-3, "fast": 1e-3}
VIOL_TOL = {"HIGHS": 1e-6, "CLARABEL": 1e-6, "ECOS": 1e-6, "SCS": 1e-4, "fast": 1e-6}
#: scale family: |objective·10^(k−j) / unscaled objective − 1| must stay below this for every solver
SCALE_TOL = 1e-6
SCS_OPTIONS = dict(eps_abs=1e-6, eps_rel=1e-6, max_iters=200_000)
FAST_OPTIONS = dict(eps_abs=1e-7, eps_rel=1e-6, max_iter=50_000)
#: supports are compared on entries above this fraction of max|W|
SUPPORT_THRESHOLD = 1e-6
REFERENCE_SOLVERS = ("CLARABEL", "ECOS", "SCS", "HIGHS")

#: Whether nettrim.fast.solve certifies infeasibility (status "infeasible" with a certificate in
#: ``Solution.dual``). While False, the ADMM is only required not to call an infeasible program "optimal";
#: set it to True (or run with ``--expect-fast-infeasible``) once it returns "infeasible".
FAST_CERTIFIES_INFEASIBILITY = True



# ---------------------------------------------------------------------------------------------- solving
def _fast_solve():
    """nettrim.fast.solve (imported on first use: the reference-only runs never load it)."""
    from nettrim.fast import solve

    return solve


# the spec both sides are judged by: a change there reruns everything
_SPEC_SOURCES = ("problem.py", "solution.py", "_validation.py")
# sources that cannot change an answer (the size guard, a timing tool): not part of the fingerprint
_NOT_ANSWERS = ("memory.py", "timing.py")


def fingerprint(side: str) -> str:
    """A short hash of everything that determines a row of one side ("reference" or "fast"): the side's
    sources, the shared layer spec, the instance generators and the code that measures a row. Part of the
    cell ids, so that results of another version are never resumed from, and results of an unchanged side
    are (a new ADMM reruns only the ADMM's cells)."""
    import inspect

    import nettrim
    import nettrim.fast
    import nettrim.reference

    from . import cross_check_families, layers

    package = {"reference": nettrim.reference, "fast": nettrim.fast}[side]
    core = Path(nettrim.__file__).parent
    files = [f for f in sorted(Path(package.__file__).parent.glob("*.py")) if f.name not in _NOT_ANSWERS]
    files += [core / name for name in _SPEC_SOURCES]
    files += [Path(cross_check_families.__file__), Path(layers.__file__)]
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    for func in (solve_side, dual_bound, _bits, _support):
        h.update(inspect.getsource(func).encode())
    h.update(repr((SCS_OPTIONS, FAST_OPTIONS, SUPPORT_THRESHOLD)).encode())
    return h.hexdigest()[:10]


def solver_names(spec: Spec, with_fast: bool) -> list[str]:
    names = ["CLARABEL", "ECOS", "SCS"] + (["HIGHS"] if spec.gain == 0 else [])
    return names + (["fast"] if with_fast else [])


def _support(W: np.ndarray) -> np.ndarray:
    scale = np.nanmax(np.abs(W)) if W.size and np.isfinite(W).any() else 0.0
    return np.abs(W) > SUPPORT_THRESHOLD * scale if scale > 0 else np.zeros(W.shape, bool)


def _bits(W: np.ndarray) -> str:
    """The support of W as a hex string (N·M/4 characters; "" for no answer): stored with each row so that
    supports can be compared when the table is summarized, across cells."""
    if not np.isfinite(W).all():
        return ""
    return "b" + np.packbits(_support(W).ravel()).tobytes().hex()   # "b": a CSV reader keeps it a string


def _jaccard(a: str, b: str) -> float:
    if not isinstance(a, str) or not isinstance(b, str) or not a or not b or len(a) != len(b):
        return np.nan
    x = np.unpackbits(np.frombuffer(bytes.fromhex(a[1:]), np.uint8))
    y = np.unpackbits(np.frombuffer(bytes.fromhex(b[1:]), np.uint8))
    union = np.count_nonzero(x | y)
    return np.count_nonzero(x & y) / union if union else 1.0


def dual_bound(prob, Lam) -> tuple[float, float]:
    r"""The lower bound a multiplier proves on the objective of *every* U, feasible or not: ``(d, s)`` with

    .. math::

        \textstyle\sum w_{ij}|u_{ij}| \ \ge\ d(\Lambda) - \mathrm{viol}(U)\, s(\Lambda), \qquad
        s(\Lambda) = \|\Lambda_\Omega\|_F\,\|Y\|_F + \|\Lambda_{\Omega^c}\|_1 \max|Y|,

    for Λ dual feasible (made so first) and viol the relative violation of
    :meth:`nettrim.LayerProblem.violation`. Proof: :math:`\sum w|u| \ge -\langle X\Lambda^\top, U\rangle
    = -\langle \Lambda, Z\rangle` with :math:`Z = U^\top X`; on Ω, :math:`-\langle\Lambda_\Omega, Z_\Omega\rangle
    \ge -\langle\Lambda_\Omega, Y_\Omega\rangle - \|\Lambda_\Omega\|_F(\varepsilon + (\|Z_\Omega - Y_\Omega\|_F -
    \varepsilon)_+)`; on Ωᶜ, :math:`-\langle\Lambda_{\Omega^c}, Z\rangle \ge -\langle\Lambda_{\Omega^c}, V\rangle -
    \|\Lambda_{\Omega^c}\|_1 \max (Z - V)_+`. So an answer within the violation tolerance may lie below the
    optimum by up to viol·s: on an ill-conditioned layer (s ≫ d) a violation of 1e-7 can buy several
    percent of the objective, and two correct answers may differ by that much. :func:`judge` allows it.
    """
    L = prob.project_dual(Lam)
    slack = float(np.linalg.norm(L[prob.ball])) * prob.y_norm
    if prob.inactive.any():
        slack += float(np.abs(L[prob.inactive]).sum()) * prob.y_max
    return prob.dual_objective(L), slack


def solve_side(spec_dict: dict, seed: int, side: str, cache_dir: str | None = None) -> list[dict]:
    """One cell: the solvers of one side ("reference": CLARABEL, ECOS, SCS and HIGHS at ε = 0; "fast") on one
    instance; one row per solver with what was measured. The comparison with the reference objective and
    support is made when the table is summarized (:func:`compare`)."""
    from nettrim import layer_problem, reference

    spec = Spec(**spec_dict)
    d = instance(spec, seed, cache_dir)
    V_arg = dict(V=d.V) if d.V is not None else {}
    prob = layer_problem(d.X, d.Y, d.epsilon, activation=spec.activation, **V_arg)
    names = ["fast"] if side == "fast" else solver_names(spec, False)
    rows = []
    for name in names:
        t0 = time.perf_counter()
        if name == "fast":
            sol = _fast_solve()(d.X, d.Y, d.epsilon, activation=spec.activation, **V_arg, **FAST_OPTIONS)
        else:
            opts = SCS_OPTIONS if name == "SCS" else {}
            sol = reference.solve(d.X, d.Y, d.epsilon, activation=spec.activation, solver=name, **V_arg, **opts)
        wall = time.perf_counter() - t0
        cert = dual_value = dual_slack = np.nan
        if sol.status == "infeasible" and sol.dual is not None:
            cert = bool(prob.check_certificate(sol.dual).valid)   # checked here, whoever produced it
        elif sol.dual is not None:
            dual_value, dual_slack = dual_bound(prob, sol.dual)
        rows.append(dict(instance=spec.name, seed=seed, **asdict(spec), expect=spec.expect,
                         expect_fast_infeasible=spec.expect == "infeasible", epsilon=d.epsilon,
                         size=spec.N * spec.M * spec.P, solver=name, status=sol.status, objective=sol.objective,
                         violation=sol.violation, gap=np.nan if sol.gap is None else sol.gap,
                         nnz=int(np.count_nonzero(np.nan_to_num(sol.W))), support=_bits(sol.W),
                         certificate_valid=cert, dual_value=dual_value, dual_slack=dual_slack,
                         iterations=sol.iterations if sol.iterations is not None else np.nan,
                         solve_time=sol.solve_time, wall_time=wall))
    return rows


def compare(df: pd.DataFrame) -> pd.DataFrame:
    """Add the reference of each instance (HIGHS at ε = 0, else CLARABEL, else ECOS: the first with status
    "optimal"), every row's relative objective difference to it (``obj_diff`` signed, ``rel_obj_diff`` its
    size), what the two answers' violations allow the objectives to differ by (``allow_below``: the row's
    violation times the reference's :func:`dual_bound` slack; ``allow_above``: the reference's violation
    times the row's slack; relative to the reference objective) and the Jaccard index of the supports."""
    df = df.copy()
    df["ref_solver"], df["ref_objective"], df["rel_obj_diff"], df["support_jaccard"] = "", np.nan, np.nan, np.nan
    df["obj_diff"], df["allow_below"], df["allow_above"] = np.nan, np.nan, np.nan
    for _, idx in df.groupby(["instance", "seed"]).groups.items():
        u = df.loc[idx]
        ref = None
        for name in ("HIGHS", "CLARABEL", "ECOS"):
            hit = u[(u["solver"] == name) & (u["status"] == "optimal")]
            if len(hit):
                ref = hit.iloc[0]
                break
        if ref is None:
            continue
        diff = u["objective"] - ref["objective"]
        p = abs(ref["objective"])
        signed = diff / p if p != 0 else diff.where(diff == 0, np.sign(diff) * np.inf)
        signed = signed.where(np.isfinite(u["objective"]))
        df.loc[idx, "ref_solver"] = ref["solver"]
        df.loc[idx, "ref_objective"] = ref["objective"]
        df.loc[idx, "obj_diff"] = signed
        df.loc[idx, "rel_obj_diff"] = signed.abs()
        if p != 0:
            df.loc[idx, "allow_below"] = u["violation"] * ref["dual_slack"] / p
            df.loc[idx, "allow_above"] = ref["violation"] * u["dual_slack"] / p
        df.loc[idx, "support_jaccard"] = [_jaccard(b, ref["support"]) for b in u["support"]]
    return df


def run_instance(spec_dict: dict, seed: int, with_fast: bool, cache_dir: str | None = None) -> list[dict]:
    """Every solver on one instance, compared and judged: the rows of both sides' cells, as the summary sees
    them."""
    rows = solve_side(spec_dict, seed, "reference", cache_dir)
    if with_fast:
        rows += solve_side(spec_dict, seed, "fast", cache_dir)
    return judge(compare(pd.DataFrame(rows))).to_dict("records")


# ---------------------------------------------------------------------------------------------- judging
def _reasons(r, fast_infeasible: bool) -> list[str]:
    name, status = r["solver"], r["status"]
    if r["expect"] == "infeasible":
        if name == "fast" and not fast_infeasible:
            return [f"status {status} on an infeasible program"] if status == "optimal" else []
        if status != "infeasible":
            return [f"status {status}, expected infeasible"]
        if r["certificate_valid"] is False or (name == "fast" and r["certificate_valid"] is not True):
            return ["infeasible without a certificate that checks"]
        return []
    if status != "optimal" and _witness(r):
        return []   # an honest abstention (see judge): counted as unsolved, not as a disagreement
    reasons = []
    if status != "optimal":
        reasons.append(f"status {status}")
    if not r["ref_solver"] or not isinstance(r["ref_solver"], str):
        reasons.append("no certified reference")
    else:
        below = OBJ_TOL[name] + _finite(r.get("allow_below"))
        above = OBJ_TOL[name] + _finite(r.get("allow_above"))
        if not -below <= r["obj_diff"] <= above:
            reasons.append(f"objective off by {r['obj_diff']:+.1e} (allowed -{below:.1e}..+{above:.1e})")
    if not r["violation"] <= VIOL_TOL[name]:
        reasons.append(f"violation {r['violation']:.1e}")
    if np.isfinite(r["gap"]) and not abs(r["gap"]) <= max(OBJ_TOL[name], 1e-6):
        reasons.append(f"gap {r['gap']:.1e}")
    if r["expect"] == "zero" and r["nnz"] != 0:
        reasons.append(f"nnz {r['nnz']} where U = 0 is the answer")
    return reasons


def _finite(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0.0
    return value if np.isfinite(value) else 0.0


def _witness(r) -> bool:
    """A reference back-end that is not the instance's reference, on a program that has a certified one."""
    return (r["solver"] in REFERENCE_SOLVERS and isinstance(r["ref_solver"], str) and bool(r["ref_solver"])
            and r["solver"] != r["ref_solver"])


def judge(df: pd.DataFrame, *, fast_infeasible: bool | None = None) -> pd.DataFrame:
    """Set ``disagree``, ``unsolved`` and ``reason`` of every row from its stored columns (module docstring),
    including the scale sweep's comparison with the unscaled layer. ``fast_infeasible`` defaults to
    :data:`FAST_CERTIFIES_INFEASIBILITY`.

    A row disagrees when a claim it makes is contradicted: "optimal" with an objective outside
    :data:`OBJ_TOL` plus what the violations allow (:func:`dual_bound`), a violation or gap beyond
    tolerance, nonzeros where U = 0 is the answer, "infeasible" where the program is feasible (or without a
    ray that checks), "optimal" on an infeasible program, or a change with the units. It also disagrees
    when the solver under test (``fast``) or the instance's reference does not solve a solvable program. A
    *witness* (a reference back-end other than the instance's reference) that honestly returns a non-optimal
    status on a feasible program abstains: the row is ``unsolved``, not a disagreement."""
    if fast_infeasible is None:
        fast_infeasible = FAST_CERTIFIES_INFEASIBILITY
    df = df.copy()
    cert = df["certificate_valid"].map(lambda v: v if isinstance(v, bool) else
                                       (str(v) == "True") if str(v) in ("True", "False") else None)
    df["certificate_valid"] = cert.astype(object)
    reasons = [_reasons(r, fast_infeasible) for r in df.to_dict("records")]
    df["scale_obj_diff"] = np.nan
    if (df["family"] == "scale").any():
        base = ["family", "N", "M", "P", "activation", "gain", "seed", "solver"]
        scale = df[df["family"] == "scale"]
        unscaled = scale[(scale["x_exp"] == 0) & (scale["y_exp"] == 0)].set_index(base)
        for i, r in scale.iterrows():
            key = tuple(r[b] for b in base)
            if key not in unscaled.index:
                continue
            u = unscaled.loc[[key]].iloc[0]
            if u["status"] != "optimal":
                continue   # the invariance is required of the solvers that solve the unscaled layer
            mapped = r["objective"] * 10.0 ** (r["x_exp"] - r["y_exp"])
            diff = abs(mapped / u["objective"] - 1) if u["objective"] != 0 else abs(mapped)
            df.loc[i, "scale_obj_diff"] = diff
            pos = df.index.get_loc(i)
            if r["status"] != u["status"]:
                reasons[pos].append(f"status {r['status']} where the unscaled layer is {u['status']}")
            elif not diff <= SCALE_TOL:
                reasons[pos].append(f"objective mapped back off the unscaled one by {diff:.1e}")
    df["disagree"] = [bool(x) for x in reasons]
    df["unsolved"] = [not x and r["expect"] != "infeasible" and r["status"] != "optimal" and _witness(r)
                      for x, r in zip(reasons, df.to_dict("records"), strict=True)]
    df["reason"] = ["; ".join(x) if x else (f"unsolved: status {r['status']}" if u else "")
                    for x, u, r in zip(reasons, df["unsolved"], df.to_dict("records"), strict=True)]
    return df


# ---------------------------------------------------------------------------------------------- summary
def add_arguments(parser) -> None:
    parser.add_argument("--no-fast", dest="fast", action="store_false",
                        help="leave out nettrim.fast (reference solvers only)")
    parser.add_argument("--expect-fast-infeasible", action="store_true", default=None,
                        help="require nettrim.fast to say 'infeasible' (with a certificate) on the infeasible "
                             f"family (default: {FAST_CERTIFIES_INFEASIBILITY}, FAST_CERTIFIES_INFEASIBILITY)")


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per solver: instances, worst and median errors, support agreement, disagreements and median time."""
    g = df.groupby("solver")
    tab = pd.DataFrame({
        "instances": g.size(),
        "max_rel_obj_diff": g["rel_obj_diff"].max(),
        "median_rel_obj_diff": g["rel_obj_diff"].median(),
        "max_scale_obj_diff": g["scale_obj_diff"].max(),
        "max_violation": g["violation"].max(),
        "max_gap": df["gap"].abs().groupby(df["solver"]).max(),   # |gap|: W can sit a hair below the optimum
        "median_support_jaccard": g["support_jaccard"].median(),
        "min_support_jaccard": g["support_jaccard"].min(),
        "disagreements": g["disagree"].sum().astype(int),
        "unsolved": g["unsolved"].sum().astype(int),
        "median_time_s": g["solve_time"].median(),
        "max_time_s": g["solve_time"].max(),
    })
    order = [s for s in ("fast", "HIGHS", "CLARABEL", "ECOS", "SCS") if s in tab.index]
    return tab.loc[order].reset_index()


def family_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per family: instances, and per solver "disagreements/rows" (with the unsolved rows, if any)."""
    fams = list(dict.fromkeys(df["family"]))
    solvers = [s for s in ("fast", "HIGHS", "CLARABEL", "ECOS", "SCS") if s in set(df["solver"])]
    rows = []
    for f in fams:
        u = df[df["family"] == f]
        row = {"family": f, "instances": u["instance"].nunique()}
        for s in solvers:
            v = u[u["solver"] == s]
            unsolved = int(v["unsolved"].sum())
            row[s] = (f"{int(v['disagree'].sum())}/{len(v)}" + (f" ({unsolved} unsolved)" if unsolved else "")
                      if len(v) else "-")
        rows.append(row)
    return pd.DataFrame(rows)


def _markdown(tab: pd.DataFrame) -> str:
    """The cross-check tables in Markdown: scientific floats, Jaccard indices as fractions, "n/a" for NaN."""
    from ._output import markdown_table

    return markdown_table(tab, ".2e", formats={c: ".3f" for c in tab.columns if "jaccard" in c}, na="n/a",
                          align=["left" if c in ("solver", "family") else "right" for c in tab.columns])


def _prepare_models(specs, cache_dir: Path) -> None:
    """Train (or load) the real-layer networks once, before workers race for the cache."""
    from .data import load_dataset
    from .models import get_model

    for net in dict.fromkeys(s.family for s in specs if s.family in NETWORKS):
        hidden, train_iter = NETWORKS[net]
        get_model(load_dataset(net), hidden, seed=0, max_iter=train_iter, cache_dir=str(cache_dir))


def run(args) -> None:
    from . import plots

    quick = bool(args.quick)
    with_fast = bool(getattr(args, "fast", True))
    fast_infeasible = getattr(args, "expect_fast_infeasible", None)
    if fast_infeasible is None:
        fast_infeasible = FAST_CERTIFIES_INFEASIBILITY
    specs = families(quick)
    cache_dir = Path(args.out) / "models"
    _prepare_models(specs, cache_dir)
    sides = ["reference"] + (["fast"] if with_fast else [])
    tags = {side: f"{side}@{fingerprint(side)}" for side in sides}
    cells = []
    for spec in specs:
        seed = cell_seed(args.seed, zlib.crc32(spec.base_name.encode()))
        for side in sides:
            cells.append(Cell(f"{spec.name} seed={seed} {tags[side]}", solve_side,
                              (asdict(spec), seed, side, str(cache_dir))))
    out_csv = Path(args.out) / "cross_check.csv"
    t0 = time.perf_counter()
    table = run_cells(cells, out_csv, jobs=args.jobs, dask_address=args.dask, label="cross-check",
                      progress=args.progress)
    ids = {c.id for c in cells}
    df = table[table["cell"].isin(ids)].copy() if len(table) else table
    print(f"cross-check: {len(specs)} instances, {len(df)} solves, {time.perf_counter() - t0:.1f} s wall",
          file=sys.stderr)
    if not len(df) or df["cell"].nunique() != len(cells):
        print(f"cross-check: only {df['cell'].nunique() if len(df) else 0} of {len(cells)} cells have results; "
              "no summary", file=sys.stderr)
        return
    df = compare(df)
    df = judge(df, fast_infeasible=fast_infeasible)
    tab = summary_table(df)
    fam = family_table(df)
    suffix = "_quick" if quick else ""
    folder = Path(args.figures)
    folder.mkdir(parents=True, exist_ok=True)
    tab.to_csv(folder / f"cross_check{suffix}.csv", index=False, float_format="%.4g")
    md = _markdown(tab)
    fmd = _markdown(fam)
    n_inst = df["instance"].nunique()
    notes = []
    if not with_fast:
        notes.append("nettrim.fast was not run (--no-fast).")
    inf = df[(df["expect"] == "infeasible") & (df["solver"] == "fast")]
    if len(inf):
        said = int((inf["status"] == "infeasible").sum())
        notes.append(f"fast on the infeasible family: {said}/{len(inf)} said 'infeasible'; "
                     + ("required (with a certificate that checks)." if fast_infeasible else
                        "not yet required (FAST_CERTIFIES_INFEASIBILITY = False): only 'optimal' counts as a "
                        "disagreement there."))
    note = "".join(f"\n{n}\n" for n in notes)
    (folder / f"cross_check{suffix}.md").write_text(
        f"Cross-check of the layer solvers on {n_inst} instances against the reference objective (HIGHS at "
        "ε = 0, else CLARABEL); max_scale_obj_diff: the scale sweep's objective mapped back against the "
        "unscaled layer's; unsolved: honest non-optimal statuses of a witness back-end (not disagreements). "
        "The figure shows the scale sweep in the unscaled layer's units.\n\n"
        + md + "\nDisagreements / rows per family\n\n" + fmd + note)
    print(md + "\n" + fmd + note)
    bad = df[df["disagree"]]
    if len(bad):
        print(f"{len(bad)} disagreement(s):")
        for _, r in bad.sort_values(["instance", "solver"]).iterrows():
            print(f"  {r['instance']} [{r['solver']}]: {r['reason']}  (objective {r['objective']:.6g} vs "
                  f"{r['ref_solver']} {r['ref_objective']:.6g}, violation {r['violation']:.1e}, gap {r['gap']:.1e})")
    else:
        print("no disagreements")
    unsolved = df[df["unsolved"]]
    if len(unsolved):
        print(f"{len(unsolved)} unsolved (a witness back-end returned an honest non-optimal status):")
        for _, r in unsolved.sort_values(["instance", "solver"]).iterrows():
            print(f"  {r['instance']} [{r['solver']}]: status {r['status']} (objective {r['objective']:.6g} vs "
                  f"{r['ref_solver']} {r['ref_objective']:.6g}, violation {r['violation']:.1e})")
    plots.cross_check_figures(_for_figure(df), folder, suffix=suffix)


def _for_figure(df: pd.DataFrame) -> pd.DataFrame:
    """The rows as the figure shows them: objectives of the scale sweep in the unscaled layer's units (its
    units are the experiment, its agreement is in the table), no objective for the U = 0 answers and the
    infeasible programs (log axes)."""
    shown = df.copy()
    sweep = shown["family"] == "scale"
    factor = 10.0 ** (shown.loc[sweep, "x_exp"] - shown.loc[sweep, "y_exp"])
    for col in ("objective", "ref_objective"):
        shown.loc[sweep, col] = shown.loc[sweep, col] * factor
    shown.loc[~(shown["ref_objective"] > 0) | ~(shown["objective"] > 0), ["objective", "ref_objective"]] = np.nan
    return shown
