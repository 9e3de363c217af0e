"""``python -m nettrim.experiments NAME [options]`` (also the ``nettrim-experiments`` console script).

Each experiment lives in its own module of this package that defines

* ``HELP``: one line for ``--help``,
* ``add_arguments(parser)``: its own options (the common ones are added here),
* ``run(args) -> None``: does the work, writing results into ``args.out`` and figures and tables into
  ``args.figures`` (``OUT/figures`` unless ``--figures`` says otherwise).

Every file a run writes is under ``--out`` unless ``--figures`` names another folder: the committed
figures in ``figures/`` change only with an explicit ``--figures figures``. A run holds an exclusive lock
on ``--out`` (:func:`nettrim.experiments.runner.lock_folder`) from start to end: a second run on the same
folder is refused with a message naming the first (pid, host, command, start time), or with ``--wait``
waits for it, so no run ever reads, resumes from or summarizes another's partial results. Problems with
paths or the Dask address end in a one-line message and exit status 2, not a traceback.

Register a new one in :data:`EXPERIMENTS` (name -> module); ``all`` runs the names in :data:`ALL` in order.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

from .runner import RunnerError, lock_folder

#: experiment name -> module (imported lazily so that ``--help`` stays fast)
EXPERIMENTS = {
    "phase-transition": "nettrim.experiments.phase_transition",
    "cross-check": "nettrim.experiments.cross_check",
    "bench-solvers": "nettrim.experiments.bench_solvers",
    "prune-digits": "nettrim.experiments.prune_digits",
    "prune-mnist": "nettrim.experiments.prune_mnist",
    "bench-network": "nettrim.experiments.bench_network",
    "prune-lenet": "nettrim.experiments.prune_lenet",
    "compare-pruners": "nettrim.experiments.compare_pruners",
}

#: what ``all`` runs, in order (the README's main job is ``all --quick``)
ALL = ["cross-check", "phase-transition", "prune-digits", "prune-mnist"]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="a coarse run on small grids (minutes; the full runs take tens of minutes to hours)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: results/)")
    parser.add_argument("--figures", type=Path, default=None,
                        help="figures and tables folder (default: OUT/figures; --figures figures regenerates the "
                             "committed ones)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel workers (joblib processes, 1 BLAS thread each)")
    parser.add_argument("--seed", type=int, default=0, help="base seed; every cell's seed derives from it")
    parser.add_argument("--dask", metavar="ADDRESS", default=None,
                        help="run cells on the Dask cluster at this scheduler address (joblib's dask backend)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress line on stderr")
    parser.add_argument("--wait", action="store_true",
                        help="if another run holds --out, wait for it to finish instead of refusing")


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
    for name in EXPERIMENTS:
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


def _check_folder(parser, path: Path, option: str) -> None:
    if path.exists() and not path.is_dir():
        parser.error(f"{option} {path} is a file, not a folder")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    if args.figures is None:
        args.figures = args.out / "figures"
    _check_folder(parser, args.out, "--out")
    _check_folder(parser, args.figures, "--figures")
    command = "python -m nettrim.experiments " + " ".join(sys.argv[1:] if argv is None else list(argv))
    try:
        with lock_folder(args.out, wait=args.wait, command=command):
            _check_writable_folder(args.figures, "--figures")
            _run(parser, args)
    except RunnerError as exc:
        print(f"{parser.prog} {args.name}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None:
            raise
        # a path that became unusable during the run: say which, without a traceback
        print(f"{parser.prog} {args.name}: cannot use {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


def _check_writable_folder(folder: Path, option: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise RunnerError(f"cannot write in {option} {folder}: {exc.strerror or exc}") from None


def _run(parser, args) -> None:
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


if __name__ == "__main__":
    sys.exit(main())
