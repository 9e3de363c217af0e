"""Compile and solve time of the reference on one seeded dense ReLU layer, per solver.

    python -m nettrim.reference.timing [--N 200] [--M 50] [--P 1000] [--gain 0.05] [--solvers CLARABEL,ECOS,SCS]

Each solver runs in a fresh process (one BLAS thread) so that its peak resident memory is its own.
Prints one line per solver: CVXPY compile time, backend time, total, peak RSS, status, objective.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import resource
import sys

import numpy as np


def layer(N: int, M: int, P: int, gain: float, seed: int = 0):
    """A dense ReLU layer Y = relu(W0ᵀX) with Gaussian X, W0 and ε = gain·||Y||_F."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, P))
    W0 = rng.standard_normal((N, M)) / np.sqrt(N)
    Y = np.maximum(W0.T @ X, 0)
    return X, Y, gain * float(np.linalg.norm(Y))


def _measure(solver: str, N: int, M: int, P: int, gain: float) -> dict:
    from threadpoolctl import threadpool_limits

    from nettrim import reference

    X, Y, eps = layer(N, M, P, gain)
    with threadpool_limits(limits=1):
        sol = reference.solve(X, Y, eps, solver=solver)
    return dict(solver=solver, status=sol.status, objective=sol.objective, violation=sol.violation,
                gap=sol.gap, total=sol.solve_time, compile=sol.info.get("setup_time"),
                backend=sol.info.get("backend_time"), message=sol.info.get("message", ""),
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nettrim.reference.timing", description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, default=200)
    ap.add_argument("--M", type=int, default=50)
    ap.add_argument("--P", type=int, default=1000)
    ap.add_argument("--gain", type=float, default=0.05, help="ε = gain·||Y||_F")
    ap.add_argument("--solvers", default="CLARABEL,ECOS,SCS")
    args = ap.parse_args(argv)
    print(f"dense ReLU layer N={args.N} M={args.M} P={args.P}, epsilon = {args.gain}·||Y||_F, 1 BLAS thread")
    for solver in args.solvers.split(","):
        with cf.ProcessPoolExecutor(max_workers=1) as pool:  # a fresh process: its own peak RSS
            try:
                r = pool.submit(_measure, solver.strip().upper(), args.N, args.M, args.P, args.gain).result()
            except Exception as exc:  # e.g. a solver process killed for memory
                print(f"{solver:9s} failed: {exc!r}")
                continue
        fmt = lambda v: "   n/a" if v is None else f"{v:6.1f}"  # noqa: E731
        gap = "n/a" if r["gap"] is None else f"{r['gap']:.1e}"
        print(f"{r['solver']:9s} compile {fmt(r['compile'])} s  solve {fmt(r['backend'])} s  total {r['total']:6.1f} s  "
              f"peak {r['peak_rss_mb']:7.0f} MB  {r['status']}  ||W||_1={r['objective']:.6g}  "
              f"viol={r['violation']:.1e}  gap={gap}  {r['message'] if r['status'] != 'optimal' else ''}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
