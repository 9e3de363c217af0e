"""``bench-solvers``: the ADMM of ``nettrim.fast`` against the published ADMM, CVXPY+SCS and SPGL1.

Instances (seeded; X Gaussian with samples in columns, W0 Gaussian / sqrt(N), Y = relu(W0ᵀX)):

* ``a0``/``a``: one neuron, N = 100, P = 300, s = 10-sparse w*, ε = 0 and ε = 0.05‖Y‖;
* ``b``: a 200×50 layer, P = 2000, dense W0, ε = 0.05‖Y‖;
* ``c``: a 784×300 layer, P = 5000 (MNIST-sized), ε = 0.05‖Y‖ (full mode only);
* ``b-lin``/``c-lin``: the same shapes without the ReLU (Y = W0ᵀX), where SPGL1 is the anchor.

Every solver gets the median wall time of ``--repeats`` runs (CPU time beside it), iterations, objective,
violation, nnz and duality gap; the relative objective gap is taken against the most accurate answer
(``ADMM-tight``: nettrim.fast.solve at eps_rel = 1e-9, or CLARABEL where it runs). ``paper_admm`` is
run twice per ρ: as published (its own stopping rule) and *to accuracy* (the iteration count at which its
iterate first has violation ≤ 1e-5 and objective within 1e-4 of the anchor, found by a first run with a
callback, then timed without it). The same cell times the two GEMMs of one iteration and the ADMM's
per-iteration time (difference of two fixed-length runs), so their ratio is measured side by side.
BLAS is pinned to one thread (threadpoolctl) in every cell.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

HELP = "time nettrim.fast.solve against the published ADMM, CVXPY+SCS and SPGL1 on seeded layers"

RHOS = (1.0, 3.0, 10.0, 30.0, 100.0)
ACC_VIOLATION, ACC_OBJECTIVE = 1e-5, 1e-4   # the accuracy every timed answer is held to


def add_arguments(parser) -> None:
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per solver (median reported)")
    parser.add_argument("--instances", default=None,
                        help="comma-separated subset of a0,a,b,c,b-lin,c-lin (default: all; --quick: a0,a,b,b-lin)")


# ---------------------------------------------------------------------------------------------- instances
SHAPES = {"a0": (100, 1, 300, "relu", 0.0, 10), "a": (100, 1, 300, "relu", 0.05, 10),
          "b": (200, 50, 2000, "relu", 0.05, None), "c": (784, 300, 5000, "relu", 0.05, None),
          "b-lin": (200, 50, 2000, "linear", 0.05, None), "c-lin": (784, 300, 5000, "linear", 0.05, None)}


def make_instance(name: str, seed: int = 0):
    """(X, Y, epsilon, activation) of benchmark instance ``name`` (deterministic in ``seed``)."""
    N, M, P, act, gain, s = SHAPES[name]
    rng = np.random.default_rng([seed, sorted(SHAPES).index(name)])
    X = rng.standard_normal((N, P))
    W0 = rng.standard_normal((N, M)) / np.sqrt(N)
    if s is not None:
        for m in range(M):
            W0[rng.permutation(N)[s:], m] = 0.0
    Z = W0.T @ X
    Y = np.maximum(Z, 0.0) if act == "relu" else Z
    return X, Y, gain * float(np.linalg.norm(Y)), act


# ---------------------------------------------------------------------------------------------- helpers
def _timed(fn, repeats: int, memory: bool = False):
    """Median wall and CPU time of ``repeats`` calls; the last result; peak traced memory (MB) of one call."""
    walls, cpus, out, peak = [], [], None, float("nan")
    for k in range(repeats):
        trace = memory and k == repeats - 1
        if trace:
            tracemalloc.start()
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        if trace:
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    return statistics.median(walls), statistics.median(cpus), out, peak


def _row(instance, solver, sol, wall, cpu, peak=float("nan"), **extra):
    return dict(instance=instance, solver=solver, status=sol.status, wall_s=wall, cpu_s=cpu,
                iterations=sol.iterations if sol.iterations is not None else -1, objective=sol.objective,
                violation=sol.violation, gap=sol.gap if sol.gap is not None else float("nan"), nnz=sol.nnz,
                peak_mb=peak, **extra)


def _anchor_path(out: Path, name: str, seed: int) -> Path:
    return out / f"bench_anchor_{name}_seed{seed}.json"


def _anchor(out: Path, name: str, seed: int) -> float:
    path = _anchor_path(out, name, seed)
    if path.exists():
        return json.loads(path.read_text())["objective"]
    _cell_anchor(str(out), name, seed)
    return json.loads(path.read_text())["objective"]


# ---------------------------------------------------------------------------------------------- cells
def _cell_anchor(out, name, seed):
    from nettrim import fast
    X, Y, eps, act = make_instance(name, seed)
    t0 = time.perf_counter()
    sol = fast.solve(X, Y, eps, activation=act, eps_abs=1e-10, eps_rel=1e-9, eps_violation=1e-9, max_iter=100000)
    wall = time.perf_counter() - t0
    _anchor_path(Path(out), name, seed).write_text(json.dumps({"objective": sol.objective, "status": sol.status}))
    return [_row(name, "ADMM-tight", sol, wall, float("nan"))]


def _cell_fast(out, name, seed, repeats, memory):
    from nettrim import fast
    X, Y, eps, act = make_instance(name, seed)
    wall, cpu, sol, peak = _timed(lambda: fast.solve(X, Y, eps, activation=act), repeats, memory)
    # per-iteration time: difference of two fixed-length runs (no stopping: eps_rel tiny), same process
    k1, k2 = 20, 45   # below the first ε = 0 polish attempt (iteration 50)
    tight = dict(activation=act, eps_abs=1e-14, eps_rel=1e-14, adaptive_rho=False)
    # CPU time (one BLAS thread): robust to other processes sharing the cores, unlike wall time
    t1 = _timed(lambda: fast.solve(X, Y, eps, max_iter=k1, **tight), repeats)[1]
    t2 = _timed(lambda: fast.solve(X, Y, eps, max_iter=k2, **tight), repeats)[1]
    per_iter = (t2 - t1) / (k2 - k1)
    gemm = _gemm_time(X, Y.shape[0], repeats=max(5, repeats))
    return [_row(name, "ADMM (nettrim.fast)", sol, wall, cpu, peak, per_iter_ms=1e3 * per_iter, gemm_ms=1e3 * gemm,
                 reduced=bool(sol.info.get("reduced")), polished=bool(sol.info.get("polished")))]


def _gemm_time(X, M, repeats):
    """Median CPU time of the two GEMMs of one iteration on the original data: (XBᵀ)ᵀ = BXᵀ and W³ᵀX."""
    rng = np.random.default_rng(0)
    N, P = X.shape
    B, Wt, T = rng.standard_normal((M, P)), rng.standard_normal((M, N)), np.empty((M, P))
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        B @ X.T
        np.matmul(Wt, X, out=T)
        times.append(time.process_time() - t0)
    return statistics.median(times)


def _cell_paper(out, name, seed, rho, repeats, memory):
    from nettrim import fast
    from nettrim.problem import layer_problem
    X, Y, eps, act = make_instance(name, seed)
    rows = []
    wall, cpu, sol, peak = _timed(lambda: fast.paper_admm(X, Y, eps, activation=act, rho=rho), 1, memory)
    rows.append(_row(name, f"paper rho={rho:g} (published stop)", sol, wall, cpu, peak))
    # iterations to accuracy: a run without the published stop, watched by a callback
    lp = layer_problem(X, Y, eps, activation=act)
    target = _anchor(Path(out), name, seed)
    def watch(W):
        watch.k += 1
        if lp.violation(W) <= ACC_VIOLATION and abs(lp.objective(W) - target) <= ACC_OBJECTIVE * target:
            raise _Reached(watch.k)
    watch.k = 0
    cap = 20000 if X.size * Y.shape[0] < 1e8 else 3000
    k = None
    try:
        fast.paper_admm(X, Y, eps, activation=act, rho=rho, max_iter=cap, stop_tol=0.0, callback=watch)
    except _Reached as hit:
        k = hit.args[0]
    if k is not None:
        wall, cpu, sol, _ = _timed(lambda: fast.paper_admm(X, Y, eps, activation=act, rho=rho, max_iter=k,
                                                           stop_tol=0.0), repeats)
        rows.append(_row(name, f"paper rho={rho:g} (to accuracy)", sol, wall, cpu))
    else:
        rows.append(dict(instance=name, solver=f"paper rho={rho:g} (to accuracy)", status=f"not reached in {cap}",
                         iterations=cap))
    return rows


class _Reached(Exception):
    pass


def _cell_scs(out, name, seed, repeats):
    import nettrim.reference as ref
    X, Y, eps, act = make_instance(name, seed)
    wall, cpu, sol, _ = _timed(lambda: ref.solve(X, Y, eps, activation=act, solver="SCS"), repeats)
    return [_row(name, "CVXPY+SCS", sol, wall, cpu)]


def _cell_clarabel(out, name, seed, repeats):
    import nettrim.reference as ref
    X, Y, eps, act = make_instance(name, seed)
    solver = "HIGHS" if eps == 0 else "CLARABEL"
    wall, cpu, sol, _ = _timed(lambda: ref.solve(X, Y, eps, activation=act, solver=solver), repeats)
    return [_row(name, f"CVXPY+{solver}" if solver == "CLARABEL" else "HiGHS (LP)", sol, wall, cpu)]


def _cell_spgl1(out, name, seed, repeats):
    try:
        import spgl1
    except ImportError:
        print(f"[bench-solvers] spgl1 is not installed: skipping its row on {name} "
              "(pip install 'nettrim[bench]')", file=sys.stderr)
        return []
    from scipy.sparse.linalg import LinearOperator

    from nettrim.problem import layer_problem
    from nettrim.solution import Solution
    X, Y, eps, act = make_instance(name, seed)
    N, P = X.shape
    M = Y.shape[0]
    # vec(U) (row-major N×M) -> vec(UᵀX) (row-major M×P), and its adjoint vec(Z) -> vec(X Zᵀ)
    A = LinearOperator((M * P, N * M), matvec=lambda u: (u.reshape(N, M).T @ X).ravel(),
                       rmatvec=lambda z: (X @ z.reshape(M, P).T).ravel(), dtype=float)
    lp = layer_problem(X, Y, eps, activation=act)

    def run():
        x, _, _, info = spgl1.spg_bpdn(A, Y.ravel(), eps, iter_lim=100000)
        W = x.reshape(N, M)
        viol = lp.violation(W)
        return Solution(W=W, status="optimal" if viol <= 1e-6 else "inaccurate", objective=lp.objective(W),
                        violation=viol, gap=None, iterations=int(info["niters"]), solve_time=0.0, solver="SPGL1")
    wall, cpu, sol, _ = _timed(run, repeats)
    return [_row(name, "SPGL1", sol, wall, cpu)]


# ---------------------------------------------------------------------------------------------- driver
def run(args) -> None:
    from nettrim.experiments.runner import Cell, read_results, run_cells

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    default = "a0,a,b,b-lin" if args.quick else "a0,a,b,c,b-lin,c-lin"
    names = [n.strip() for n in (args.instances or default).split(",") if n.strip()]
    unknown = [n for n in names if n not in SHAPES]
    if unknown:
        raise SystemExit(f"bench-solvers: unknown instance(s) {unknown}; choose from {sorted(SHAPES)}")
    if args.repeats < 1:
        raise SystemExit("bench-solvers: --repeats must be >= 1")
    seed = args.seed
    cells = []
    for name in names:
        big = name.startswith("c")
        reps = 1 if big else args.repeats
        tag = f"{name},seed={seed}"
        cells.append(Cell(f"{tag},anchor", _cell_anchor, (str(out), name, seed)))
        cells.append(Cell(f"{tag},fast", _cell_fast, (str(out), name, seed, args.repeats, big)))
        if name in ("a0", "a"):
            cells.append(Cell(f"{tag},reference", _cell_clarabel, (str(out), name, seed, args.repeats)))
        if name in ("a0", "a") or (name == "b" and not args.quick):
            cells.append(Cell(f"{tag},scs", _cell_scs, (str(out), name, seed, 1 if name == "b" else args.repeats)))
        if name.endswith("-lin"):
            cells.append(Cell(f"{tag},spgl1", _cell_spgl1, (str(out), name, seed, reps)))
        if big:
            rhos = (1.0, 30.0, 100.0)        # ρ = 1 alone runs ~5 minutes on (c)
        elif args.quick and name == "b":
            rhos = (1.0, 30.0)
        elif args.quick and name == "b-lin":
            rhos = (30.0, 100.0)
        else:
            rhos = RHOS
        for rho in rhos:
            cells.append(Cell(f"{tag},paper,rho={rho:g}", _cell_paper,
                              (str(out), name, seed, rho, 1 if args.quick else reps, big)))
    csv = out / "bench_solvers.csv"
    if args.jobs != 1 or args.dask:
        # timings measured side by side need the machine to themselves: cells always run one at a time
        print("[bench-solvers] --jobs/--dask ignored: benchmark cells run one at a time", file=sys.stderr)
    run_cells(cells, csv, jobs=1, dask_address=None, label="bench-solvers", progress=args.progress)
    df = read_results(csv)
    df = df[df["instance"].isin(names)]
    text = summarize(df, seed)
    print(text)
    folder = Path(args.figures)
    folder.mkdir(parents=True, exist_ok=True)
    # the default full run owns the plain name; a quick run or a subset of instances is named as such
    name = "bench_solvers" + ("_quick" if args.quick else "") + (f"_{'_'.join(names)}" if args.instances else "")
    df.to_csv(folder / f"{name}.csv", index=False)
    (folder / f"{name}.md").write_text(
        f"`python -m nettrim.experiments bench-solvers{' --quick' if args.quick else ''}` (1 BLAS thread)\n\n"
        + text + "\n")


def summarize(df, seed=0) -> str:
    """Markdown table of one run, with the ratios against the targets."""
    import pandas as pd

    df = df.copy()
    for col in ("objective", "wall_s", "cpu_s", "iterations", "violation", "gap", "nnz", "peak_mb",
                "per_iter_ms", "gemm_ms"):
        if col not in df:
            df[col] = np.nan
        df[col] = pd.to_numeric(df[col], errors="coerce")
    lines = ["| instance | solver | status | wall s | CPU s | iters | objective | rel. obj. gap | violation | "
             "duality gap | nnz | peak MB |", "|" + "---|" * 12]
    ratios = []
    for name, g in df.groupby("instance", sort=False):
        anchor = g[g.solver == "ADMM-tight"]["objective"]
        best = float(anchor.iloc[0]) if len(anchor) else np.nan
        for _, r in g.iterrows():
            rel = (r.objective - best) / best if best == best and best else np.nan
            lines.append(f"| {name} | {r.solver} | {r.status} | {r.wall_s:.3g} | {r.cpu_s:.3g} | "
                         f"{r.iterations:.0f} | {r.objective:.7g} | {rel:.1e} | {r.violation:.1e} | {r.gap:.1e} | "
                         f"{r.nnz:.0f} | {r.peak_mb:.0f} |".replace("nan", "—"))
        fast_rows = g[g.solver == "ADMM (nettrim.fast)"]
        if not len(fast_rows):
            continue
        f = fast_rows.iloc[0]
        ratios.append(f"{name}: ADMM {f.wall_s:.3g} s wall, {f.cpu_s:.3g} s CPU; per-iteration {f.per_iter_ms:.3g} ms"
                      f" CPU = {f.per_iter_ms / f.gemm_ms:.2f}× the two GEMMs ({f.gemm_ms:.3g} ms)")

        def ratio(label, o):
            ratios.append(f"{name}: {label} / ADMM = {o.wall_s / f.wall_s:.1f}× wall, {o.cpu_s / f.cpu_s:.1f}× CPU")
        acc = g[g.solver.str.endswith("(to accuracy)") & g.wall_s.notna()]
        if len(acc):
            rho1 = acc[acc.solver.str.contains("rho=1 ")]
            if len(rho1):
                ratio("paper rho=1 to accuracy", rho1.iloc[0])
            bestp = acc.loc[acc.cpu_s.idxmin()]
            ratio(f"best fixed-rho paper, {bestp.solver}", bestp)
        for other in ("CVXPY+SCS", "SPGL1"):
            o = g[g.solver == other]
            if len(o):
                ratio(other, o.iloc[0])
    return "\n".join(lines + ["", "Ratios (same run, 1 BLAS thread; CPU time is robust to other load on the machine):"] + ["  " + r for r in ratios])
