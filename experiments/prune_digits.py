"""``python -m nettrim.experiments prune-digits``: prune a 64-128-64-10 MLP trained on scikit-learn's digits.

Net-Trim parallel and cascade over an ε grid against magnitude pruning at the same per-layer nnz, the
consistency theorems on a link-normalized copy, input-noise robustness and the first-layer pixel map
(see :mod:`nettrim.experiments.pruning`). Calibration: the 1,297 training images; test: 500 images.
"""

from __future__ import annotations

from .pruning import Setting, check_options, run_setting, run_tag

HELP = "prune a digits MLP (64-128-64-10): Net-Trim parallel/cascade vs magnitude pruning"

#: the issue's ε range (0.01 ... 0.5), roughly log-spaced
EPS_GRID = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
QUICK_EPS_GRID = (0.02, 0.1, 0.3)
NOISE_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def add_arguments(parser) -> None:
    parser.add_argument("--finetune-epochs", type=int, default=None,
                        help="Adam epochs of fine-tuning on the fixed support (default 20, 5 with --quick; 0 = off)")


def setting(args) -> Setting:
    check_options(args)
    quick = args.quick
    ft = args.finetune_epochs if args.finetune_epochs is not None else (5 if quick else 20)
    return Setting(dataset="digits", hidden=(128, 64), train_iter=200, n_calib=None,
                   eps_grid=QUICK_EPS_GRID if quick else EPS_GRID,
                   consistency_eps=(0.1,) if quick else EPS_GRID,
                   noise_levels=NOISE_LEVELS, finetune_epochs=ft,
                   tag=run_tag(args, ft=args.finetune_epochs))


def run(args) -> None:
    run_setting(setting(args), args)
