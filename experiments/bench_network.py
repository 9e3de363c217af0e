"""``python -m nettrim.experiments bench-network``: what the network pruner's options cost and buy.

On the MNIST-5k network (784-300-100-10, calibrated on the 4,000 training images; ``--quick``: the digits
64-128-64-10 network on its training split), four groups of whole-network prunes, each timed in CPU
seconds (``time.process_time``, one BLAS thread) beside wall seconds:

* ``density``: ``prune_network(density=d)`` (the ε search) and then one prune at the ε it found, cold
  (no earlier prune to start from); the ratio of their CPU times is the price of asking for
  a density instead of an ε;
* ``refit``: cascade prunes at a few ε with the refit on and off (kept, test accuracy, output error);
* ``reweight``: parallel prunes at one ε with 0, 1, 2 reweighting rounds (kept at equal ε);
* ``speed``: the parallel prune at ε = 0.05 with ``jobs=2`` at the defaults (:data:`nettrim.fast.PRUNING_OPTIONS`),
  with the iteration in float64 instead of the defaults' float32, and with loose residual tolerances
  (``eps_abs=1e-4, eps_rel=1e-3``), each layer's iterations, gap and violation (not in the default
  ``--groups``; with two worker processes, compare wall seconds: CPU seconds count the parent process only).

Rows are written as cells finish (a killed run resumes, :func:`nettrim.experiments.runner.run_cells`);
the table goes to ``FIGURES/bench_network.{csv,md}`` (``OUT/figures`` unless ``--figures`` says otherwise).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

HELP = "network pruner: density-search cost, refit on/off, reweighting (MNIST-5k; --quick: digits)"

FULL = dict(dataset="mnist", hidden=(300, 100), density=0.2, refit_eps=(0.05, 0.1, 0.12, 0.2), reweight_eps=0.1)
QUICK = dict(dataset="digits", hidden=(128, 64), density=0.2, refit_eps=(0.05, 0.2), reweight_eps=0.1)


def add_arguments(parser) -> None:
    parser.add_argument("--groups", default="density,refit,reweight",
                        help="comma-separated groups to run (density, refit, reweight, speed)")


def _model(dataset: str, hidden, seed: int, cache_dir: str):
    from .data import load_dataset
    from .models import get_model

    data = load_dataset(dataset)
    return data, get_model(data, hidden, seed=seed, max_iter=200, cache_dir=cache_dir)


def _prune(model, data, **kwargs):
    """One timed prune; returns (PrunedNetwork, row)."""
    from nettrim import prune_network

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0, c0 = time.perf_counter(), time.process_time()
        net = prune_network(model.weights, model.biases, data.X_train, **kwargs)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rep = net.report
    row = dict(kept=net.kept, acc=net.score(data.X_test, data.y_test), acc_orig=model.test_accuracy,
               output_rel_error=float(rep["rel_error"].iloc[-1]), cpu_s=cpu, wall_s=wall,
               eps=net.settings["epsilon"] if not isinstance(net.settings["epsilon"], list) else float("nan"),
               iterations=int(rep["iterations"].sum()), refit_s=float(rep["refit_time"].sum()),
               max_gap=float(rep["gap"].abs().max()), max_violation=float(rep["violation"].max()),
               all_optimal=bool((rep["status"] == "optimal").all()), n_warnings=len(caught))
    return net, row


def density_cell(cfg, seed, cache_dir, mode):
    data, model = _model(cfg["dataset"], cfg["hidden"], seed, cache_dir)
    net, row = _prune(model, data, density=cfg["density"], mode=mode)
    _, known = _prune(model, data, epsilon=net.search.epsilon, mode=mode)
    row.update(group="density", mode=mode, target=cfg["density"], trials=len(net.search.trials),
               known_cpu_s=known["cpu_s"], known_wall_s=known["wall_s"], known_kept=known["kept"],
               cpu_ratio=row["cpu_s"] / known["cpu_s"], wall_ratio=row["wall_s"] / known["wall_s"])
    return [row]


def refit_cell(cfg, seed, cache_dir, eps, refit):
    data, model = _model(cfg["dataset"], cfg["hidden"], seed, cache_dir)
    _, row = _prune(model, data, epsilon=eps, mode="cascade", refit=refit)
    row.update(group="refit", mode="cascade", refit=refit)
    return [row]


def reweight_cell(cfg, seed, cache_dir, k):
    data, model = _model(cfg["dataset"], cfg["hidden"], seed, cache_dir)
    _, row = _prune(model, data, epsilon=cfg["reweight_eps"], mode="parallel", reweight=k)
    row.update(group="reweight", mode="parallel", reweight=k)
    return [row]


#: the ``speed`` group: (label, solver options) at ε = 0.05, parallel, jobs = 2
SPEED = (("defaults", {}), ("float64 iteration", {"iteration_dtype": "float64"}),
         ("loose residuals", {"eps_abs": 1e-4, "eps_rel": 1e-3}))


def speed_cell(cfg, seed, cache_dir, label):
    data, model = _model(cfg["dataset"], cfg["hidden"], seed, cache_dir)
    net, row = _prune(model, data, epsilon=0.05, mode="parallel", jobs=2, **dict(SPEED)[label])
    rep = net.report
    row.update(group="speed", mode="parallel", options=label, eps=0.05,
               layer_iterations="/".join(str(int(i)) for i in rep["iterations"]))
    return [row]


def run(args) -> None:
    from ._output import write_table
    from .runner import Cell, run_cells

    cfg = QUICK if args.quick else FULL
    groups = {g.strip() for g in args.groups.split(",") if g.strip()}
    unknown = groups - {"density", "refit", "reweight", "speed"}
    if unknown:
        raise SystemExit(f"bench-network: unknown --groups {sorted(unknown)}; choose from density, refit, reweight, "
                         "speed")
    out = Path(args.out)
    cache = str(out / "models")
    tag = f"{cfg['dataset']}-seed{args.seed}"
    cells = []
    if "density" in groups:
        cells += [Cell(f"{tag},density,{mode}", density_cell, (cfg, args.seed, cache, mode))
                  for mode in ("parallel", "cascade")]
    if "refit" in groups:
        cells += [Cell(f"{tag},refit,eps={eps:g},refit={refit}", refit_cell, (cfg, args.seed, cache, eps, refit))
                  for eps in cfg["refit_eps"] for refit in (True, False)]
    if "reweight" in groups:
        cells += [Cell(f"{tag},reweight,k={k}", reweight_cell, (cfg, args.seed, cache, k)) for k in (0, 1, 2)]
    if "speed" in groups:
        cells += [Cell(f"{tag},speed,{label}", speed_cell, (cfg, args.seed, cache, label)) for label, _ in SPEED]
    # timings: one cell at a time, whatever --jobs says (the cells would compete for the same cores)
    df = run_cells(cells, out / f"bench_network-{cfg['dataset']}.csv", jobs=1, label="bench-network",
                   progress=args.progress)
    columns = [c for c in ("group", "mode", "eps", "target", "refit", "reweight", "options", "kept", "acc", "acc_orig",
                           "output_rel_error", "cpu_s", "wall_s", "trials", "known_cpu_s", "cpu_ratio", "wall_ratio",
                           "refit_s", "iterations", "layer_iterations", "max_gap", "max_violation", "all_optimal")
               if c in df.columns]
    caption = (f"Network pruner on {cfg['dataset']} ({'-'.join(map(str, cfg['hidden']))} hidden): CPU and wall "
               "seconds of whole-network prunes (one BLAS thread); cpu_ratio = density search / one prune at the "
               "epsilon it found.")
    print(write_table(df[columns], args.figures, "bench_network", caption=caption, align="auto"))
