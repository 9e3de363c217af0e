"""``python -m nettrim.experiments NAME [options]`` (also the ``nettrim-experiments`` console script).

Each experiment lives in its own module of this package that defines

* ``HELP``: one line for ``--help``,
* ``add_arguments(parser)``: its own options (the common ones are added here),
* ``run(args) -> None``: does the work, writing results into ``args.out`` and figures and tables into
  ``args.figures`` (``figures/`` for full runs; ``OUT/figures`` for ``--quick`` runs, so that a quick run
  never overwrites the committed figures of the full runs).

Register a new one in :data:`EXPERIMENTS` (name -> module); ``all`` runs the names in :data:`ALL` in order.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

#: experiment name -> module (imported lazily so that ``--help`` stays fast)
EXPERIMENTS = {
    "phase-transition": "nettrim.experiments.phase_transition",
    "cross-check": "nettrim.experiments.cross_check",
    "bench-solvers": "nettrim.experiments.bench_solvers",
    "prune-digits": "nettrim.experiments.prune_digits",
    "prune-mnist": "nettrim.experiments.prune_mnist",
    "compare-pruners": "nettrim.experiments.compare_pruners",
}

#: what ``all`` runs, in order (the README's main job is ``all --quick``)
ALL = ["cross-check", "phase-transition", "prune-digits", "prune-mnist"]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a coarse run (about a minute per experiment)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: results/)")
    parser.add_argument("--figures", type=Path, default=None,
                        help="figures and tables folder (default: figures/, or OUT/figures with --quick)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel workers (joblib processes, 1 BLAS thread each)")
    parser.add_argument("--seed", type=int, default=0, help="base seed; every cell's seed derives from it")
    parser.add_argument("--dask", metavar="ADDRESS", default=None,
                        help="run cells on the Dask cluster at this scheduler address (joblib's dask backend)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress line on stderr")


def _load(name: str):
    """Import the module of experiment ``name``; None if that module does not exist (yet)."""
    module = EXPERIMENTS[name]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nettrim.experiments",
                                     description="Net-Trim experiments: cross-checks, phase transitions, pruning.")
    sub = parser.add_subparsers(dest="name", required=True, metavar="NAME")
    for name, module in EXPERIMENTS.items():
        mod = _load(name)
        if mod is None:
            continue
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        add_common_arguments(p)
        mod.add_arguments(p)
    p = sub.add_parser("all", help=f"run {', '.join(ALL)} in turn with their default options",
                       description=f"Run {', '.join(ALL)} in turn with their default options.")
    add_common_arguments(p)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    if args.figures is None:
        args.figures = args.out / "figures" if args.quick else Path("figures")
    names = [n for n in ALL if _load(n) is not None] if args.name == "all" else [args.name]
    for name in names:
        mod = _load(name)
        if args.name == "all":  # fill in the experiment's own defaults
            sub = argparse.ArgumentParser()
            add_common_arguments(sub)
            mod.add_arguments(sub)
            common = ["--out", str(args.out), "--figures", str(args.figures), "--jobs", str(args.jobs),
                      "--seed", str(args.seed)] + (["--quick"] if args.quick else []) \
                + (["--dask", args.dask] if args.dask else []) + ([] if args.progress else ["--no-progress"])
            run_args = sub.parse_args(common)
        else:
            run_args = args
        t0 = time.perf_counter()
        print(f"== {name}{' (quick)' if run_args.quick else ''}", file=sys.stderr)
        mod.run(run_args)
        print(f"== {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
