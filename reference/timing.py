"""Time and memory of the reference on seeded dense layers, per solver.

    python -m nettrim.reference.timing [--sizes 200x50x1000] [--gain 0.05] [--activation relu]
                                       [--solvers CLARABEL,ECOS,SCS]

Each (size, solver) runs in a fresh process (one BLAS thread) so that its peak resident memory is its own.
Prints one line per run: CVXPY compile time, back-end time, total, the peak RSS above the RSS before the
solve (data and imports excluded) and that increase per N·M·P (per N·P for HIGHS, which solves one neuron
at a time) — the constants behind :func:`nettrim.reference.estimate_memory` — with the status, the
objective and the estimate. No memory limit is applied.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import resource
import sys


def _rss() -> int:
    """Current resident set size in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _seconds(v) -> str:
    return "   n/a" if v is None else f"{v:6.1f}"


def _measure(solver: str, N: int, M: int, P: int, gain: float, activation: str) -> dict:
    from nettrim import reference
    from nettrim._threads import limit_blas
    from nettrim.experiments.layers import random_layer

    gain = 0.0 if solver == "HIGHS" else gain   # HIGHS solves the ε = 0 program only
    small = random_layer(3, 2, 5, activation=activation, gain=gain, seed=1)
    # imports and first-call allocations of the back-end, before the baseline
    reference.solve(small.X, small.Y, small.epsilon, activation=activation, solver=solver)
    d = random_layer(N, M, P, activation=activation, gain=gain, seed=0)
    base = _rss()
    with limit_blas(1):
        sol = reference.solve(d.X, d.Y, d.epsilon, activation=activation, solver=solver, max_memory=None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux: kB
    return dict(solver=solver, N=N, M=M, P=P, status=sol.status, objective=sol.objective,
                violation=sol.violation, gap=sol.gap, total=sol.solve_time, compile=sol.info.get("setup_time"),
                backend=sol.info.get("backend_time"), message=sol.info.get("message", ""),
                increase=peak - base, estimate=reference.estimate_memory(N, M, P, solver))


def _size(text: str) -> tuple[int, int, int]:
    try:
        N, M, P = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} must be NxMxP, e.g. 200x50x1000") from None
    return N, M, P


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nettrim.reference.timing", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200x50x1000",
                    help="comma-separated NxMxP sizes (default 200x50x1000)")
    ap.add_argument("--gain", type=float, default=0.05, help="ε = gain·||Y||_F (0 for HIGHS)")
    ap.add_argument("--activation", choices=("relu", "linear"), default="relu")
    ap.add_argument("--solvers", default="CLARABEL,ECOS,SCS")
    args = ap.parse_args(argv)
    try:
        sizes = [_size(s) for s in args.sizes.split(",")]
    except argparse.ArgumentTypeError as exc:
        ap.error(str(exc))
    print(f"dense {args.activation} layers, epsilon = {args.gain}·||Y||_F, 1 BLAS thread, a fresh process per run")
    for N, M, P in sizes:
        for solver in args.solvers.split(","):
            solver = solver.strip().upper()
            with cf.ProcessPoolExecutor(max_workers=1) as pool:  # a fresh process: its own peak RSS
                try:
                    r = pool.submit(_measure, solver, N, M, P, args.gain, args.activation).result()
                except Exception as exc:  # e.g. a solver process killed for memory
                    print(f"{N}x{M}x{P} {solver:9s} failed: {exc!r}")
                    continue
            gap = "n/a" if r["gap"] is None else f"{r['gap']:.1e}"
            # HiGHS solves one neuron at a time: its memory grows with N·P, the others' with N·M·P
            unit, size = ("N·P", N * P) if solver == "HIGHS" else ("N·M·P", N * M * P)
            print(f"{N}x{M}x{P} {r['solver']:9s} compile {_seconds(r['compile'])} s  solve {_seconds(r['backend'])} s  "
                  f"total {r['total']:6.1f} s  peak +{r['increase'] / 1e6:7.0f} MB "
                  f"({r['increase'] / size:5.0f} B per {unit}; estimate {r['estimate'] / 1e6:7.0f} MB)  "
                  f"{r['status']}  ||W||_1={r['objective']:.6g}  viol={r['violation']:.1e}  gap={gap}  "
                  f"{r['message'] if r['status'] != 'optimal' else ''}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
