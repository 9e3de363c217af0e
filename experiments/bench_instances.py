r"""The layer programs of ``bench-solvers``: Gaussian layers, ill-conditioned X, and the layers of trained networks.

Every instance is named, deterministic in the seed, and returned by :func:`load_instance` as
``(X, Y, epsilon, activation, V)`` (X is N×P with samples in columns, ε absolute, V None or M×P).

* **Gaussian** (``a0``, ``a``, ``b``, ``c``, ``b-lin``, ``c-lin``): X Gaussian, W0 Gaussian / √N,
  Y = relu(W0ᵀX) (or W0ᵀX), ε = gain·‖Y‖_F; ``a0``/``a`` are one s = 10-sparse neuron (N = 100, P = 300)
  at ε = 0 and 0.05‖Y‖, ``b`` a 200×50 layer with P = 2000, ``c`` a 784×300 layer with P = 5000.
* **Ill-conditioned** (``ill1e4-e0`` … ``ill1e8-e0.05``): X = U diag(σ) Vᵀ √P with orthonormal U, V and
  singular values σ log-spaced from 1 to 1/κ (κ = 1e4, 1e6, 1e8), N = 100, P = 300, five 10-sparse ReLU
  neurons, ε = 0 and 0.05‖Y‖.
* **Trained layers** (``digits-L2-e0.05``, ``mnist-L1-c0.2``, …): the 64-128-64-10 digits and 784-300-100-10
  MNIST-5k networks of the pruning experiments, trained (and cached under ``OUT/models``) exactly as
  :func:`nettrim.experiments.pruning.setup` does, calibration data = their full training splits (1,297 and
  4,000 images). ``-e<g>``: the parallel program of layer ℓ (the original input with a row of ones, the
  original output, ε = g·‖Y⁽ℓ⁾‖_F; g = 0 only for the linear last layer, whose equations the original
  weights meet exactly); ``-c<g>``: the program that :func:`nettrim.prune_network` builds for layer ℓ ≥ 2 in
  cascade mode at relative ε = g (its pruned input, V and ε_ℓ from γ = 1.1), recorded from a cascade prune
  at its defaults (:data:`nettrim.fast.PRUNING_OPTIONS`, refit on the support). The programs are cached
  under ``OUT/bench_layers``.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import numpy as np

from .layers import ill_layer, random_layer

__all__ = ["GAUSSIAN", "ILL", "ill_instance", "load_instance", "make_instance", "real_names"]

# ---------------------------------------------------------------------------------------------- Gaussian
#: name -> (N, M, P, activation, gain, s-sparse columns or None)
GAUSSIAN = {"a0": (100, 1, 300, "relu", 0.0, 10), "a": (100, 1, 300, "relu", 0.05, 10),
            "b": (200, 50, 2000, "relu", 0.05, None), "c": (784, 300, 5000, "relu", 0.05, None),
            "b-lin": (200, 50, 2000, "linear", 0.05, None), "c-lin": (784, 300, 5000, "linear", 0.05, None)}


def make_instance(name: str, seed: int = 0):
    """(X, Y, epsilon, activation) of Gaussian instance ``name`` (deterministic in ``seed``)."""
    N, M, P, act, gain, s = GAUSSIAN[name]
    d = random_layer(N, M, P, activation=act, gain=gain, sparse=s, seed=[seed, sorted(GAUSSIAN).index(name)])
    return d.X, d.Y, d.epsilon, act


# ---------------------------------------------------------------------------------------------- ill-conditioned
ILL = [f"ill{kappa}-e{gain}" for kappa in ("1e4", "1e6", "1e8") for gain in ("0", "0.05")]
_ILL_SHAPE = (100, 5, 300, 10)        # N, M, P, nonzeros per neuron


def ill_instance(name: str, seed: int = 0):
    """(X, Y, epsilon, "relu") of ill-conditioned instance ``name`` (see the module docstring)."""
    kappa, gain = name[3:].split("-e")
    N, M, P, s = _ILL_SHAPE
    d = ill_layer(N, M, P, spread=np.log10(float(kappa)), kind="svd", gain=float(gain), sparse=s,
                  seed=[seed, 1000 + ILL.index(name)])
    return d.X, d.Y, d.epsilon, "relu"


# ---------------------------------------------------------------------------------------------- trained layers
NETS = ("digits", "mnist")
PARALLEL_GAINS = (0.02, 0.05, 0.1, 0.2)
CASCADE_GAINS = (0.05, 0.2)


def real_names(nets=NETS, gains=PARALLEL_GAINS, cascade_gains=CASCADE_GAINS) -> list[str]:
    """Names of the trained-layer instances of ``nets`` (parallel programs at ``gains``, cascade programs at
    ``cascade_gains``, the linear last layer at ε = 0), in benchmark order."""
    names = []
    for net in nets:
        names += [f"{net}-L{layer}-e{g:g}" for layer in (1, 2, 3) for g in gains]
        names += [f"{net}-L{layer}-c{g:g}" for layer in (2, 3) for g in cascade_gains]
        names.append(f"{net}-L3-e0")
    return names


def _setting(net: str):
    """The harness's own Setting of ``net`` (full run: every training image calibrates)."""
    from . import prune_digits, prune_mnist

    module = prune_digits if net == "digits" else prune_mnist
    args = argparse.Namespace(quick=False, finetune_epochs=0, calib=None, timing=None)
    return module.setting(args)


def _save(path: Path, arrays: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def _network(out: Path, net: str, seed: int):
    """The trained (cached) model of ``net`` and its calibration rows."""
    from .pruning import setup

    _, model, X = setup(_setting(net), seed, str(out / "models"))
    return model, X


def _parallel_programs(out: Path, net: str, seed: int) -> Path:
    """Build (once) and cache the signals of ``net``: layer ℓ's input (with a row of ones) and output."""
    path = out / "bench_layers" / f"{net}-seed{seed}.npz"
    if path.exists():
        return path
    from nettrim.network import forward

    model, X = _network(out, net, seed)
    signals = forward(model.weights, model.biases, X, return_all=True)
    arrays = {}
    for i in range(len(model.weights)):
        arrays[f"L{i + 1}_X"] = np.vstack([signals[i].T, np.ones((1, len(X)))])
        arrays[f"L{i + 1}_Y"] = np.ascontiguousarray(signals[i + 1].T)
    _save(path, arrays)
    return path


def _cascade_programs(out: Path, net: str, seed: int, gain: float) -> Path:
    """Build (once) and cache the cascade programs (input, ε, V of layers ℓ ≥ 2) of ``net`` at relative ε ``gain``."""
    path = out / "bench_layers" / f"{net}-seed{seed}-cascade{gain:g}.npz"
    if path.exists():
        return path
    from unittest import mock

    import nettrim
    import nettrim.fast

    model, X = _network(out, net, seed)
    solve = nettrim.fast.solve
    recorded = []

    @functools.wraps(solve)           # the pruner reads the solver's signature to check its options
    def record(Xc, Yc, eps, **options):
        recorded.append((np.array(Xc), float(eps), None if options.get("V") is None else np.array(options["V"])))
        return solve(Xc, Yc, eps, **options)

    # the programs prune_network itself builds: its layer solver is wrapped, nothing is restated here
    with mock.patch.object(nettrim.fast, "solve", record):
        nettrim.prune_network(model.weights, model.biases, X, epsilon=gain, mode="cascade", solver="fast")
    arrays = {}
    for i, (Xc, eps, V) in enumerate(recorded[1:], start=2):
        arrays[f"L{i}_X"] = Xc
        arrays[f"L{i}_eps"] = np.array(eps)
        if V is not None:
            arrays[f"L{i}_V"] = V
    _save(path, arrays)
    return path


def real_instance(name: str, out, seed: int = 0):
    """(X, Y, epsilon, activation, V) of trained-layer instance ``name`` (see the module docstring)."""
    net, layer, kind = name.split("-")
    i = int(layer[1:])
    act = "linear" if i == 3 else "relu"         # the last layer of both networks is the linear logits
    with np.load(_parallel_programs(Path(out), net, seed)) as z:
        X, Y = z[f"L{i}_X"], z[f"L{i}_Y"]
    if kind[0] == "e":
        return X, Y, float(kind[1:]) * float(np.linalg.norm(Y)), act, None
    with np.load(_cascade_programs(Path(out), net, seed, float(kind[1:]))) as z:
        V = z[f"L{i}_V"] if f"L{i}_V" in z.files else None
        return z[f"L{i}_X"], Y, float(z[f"L{i}_eps"]), act, V


def load_instance(name: str, out, seed: int = 0):
    """(X, Y, epsilon, activation, V) of any benchmark instance."""
    if name in GAUSSIAN:
        return (*make_instance(name, seed), None)
    if name in ILL:
        return (*ill_instance(name, seed), None)
    return real_instance(name, out, seed)


def family(name: str) -> str:
    """"gaussian", "ill-conditioned" or "trained"."""
    return "gaussian" if name in GAUSSIAN else "ill-conditioned" if name in ILL else "trained"
