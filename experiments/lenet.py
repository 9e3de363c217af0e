"""LeNet-5 for the convolutional pruning experiment: built and trained with PyTorch on CPU, seeded, cached.

Architecture (LeCun et al. 1998, with ReLU and max pooling; padding 2 on the first convolution so that a
28×28 MNIST image plays the role of the original 32×32 input)::

    conv 1→6 @5×5 (pad 2) → ReLU → max-pool 2 → conv 6→16 @5×5 → ReLU → max-pool 2 → flatten (400)
    → linear 400→120 → ReLU → linear 120→84 → ReLU → linear 84→10 (logits)

61,706 parameters (61,470 weights). Training: Adam (learning rate 1e-3, PyTorch's default, as scikit-learn's
``MLPClassifier`` in :mod:`nettrim.experiments.models`), batches of 64, cross-entropy, on the 4,000 training
images of :func:`nettrim.experiments.data.load_dataset` ("mnist"), one CPU thread. The first training writes
``<cache_dir>/<key>.npz`` (the state dict as arrays and a JSON meta record; no pickle), later runs load it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import Dataset

__all__ = ["EPOCHS", "LeNet", "get_lenet", "lenet5", "lenet_accuracy", "predict"]

#: training epochs: 20 passes over the 4,000 images reach 97.0 % test accuracy (train 99.8 %) in ~15 s of CPU
EPOCHS = 20
_BATCH = 64
_LR = 1e-3


def lenet5():
    """A fresh (untrained) LeNet-5 as an ``nn.Sequential`` (module docstring)."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


@dataclass
class LeNet:
    model: object           # the torch module, in eval mode
    train_accuracy: float
    test_accuracy: float
    key: str


def _images(X: np.ndarray, shape):
    import torch

    return torch.as_tensor(X.reshape(-1, 1, *shape), dtype=torch.float32)


def predict(model, X: np.ndarray, shape=(28, 28), batch: int = 1000) -> np.ndarray:
    """Class index (argmax of the logits) of every row of ``X`` (flattened images)."""
    import torch

    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch):
            out.append(model(_images(X[start:start + batch], shape)).argmax(1).numpy())
    return np.concatenate(out)


def lenet_accuracy(model, X: np.ndarray, y: np.ndarray, shape=(28, 28)) -> float:
    """Accuracy of the model's argmax prediction on rows ``X``, labels ``y``."""
    return float(np.mean(predict(model, X, shape) == y))


def _key(data: Dataset, seed: int, epochs: int) -> str:
    import torch

    return f"{data.name}-lenet5-seed{seed}-ep{epochs}-torch{torch.__version__.split('+')[0]}"


def get_lenet(data: Dataset, *, seed: int = 0, epochs: int = EPOCHS, cache_dir=None) -> LeNet:
    """Train (or load from ``cache_dir``) LeNet-5 on ``data``'s training split.

    Parameters
    ----------
    data : Dataset
        28×28 images (``load_dataset("mnist")``).
    seed : int
        Seeds the initialization (``torch.manual_seed``) and the batch order.
    epochs : int
    cache_dir : path, optional
        Where the trained weights are kept; no caching when None.
    """
    import torch

    if tuple(data.image_shape) != (28, 28):
        raise ValueError(f"LeNet-5 here takes 28×28 images (MNIST), got {data.image_shape}")
    key = _key(data, seed, epochs)
    path = Path(cache_dir) / f"{key}.npz" if cache_dir is not None else None
    model = lenet5()
    if path is not None and path.exists():
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            model.load_state_dict({k: torch.from_numpy(z[f"p:{k}"]) for k in meta["params"]})
        return LeNet(model.eval(), meta["train_accuracy"], meta["test_accuracy"], key)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        model = lenet5()
        opt = torch.optim.Adam(model.parameters(), lr=_LR)
        X, y = _images(data.X_train, data.image_shape), torch.as_tensor(data.y_train)
        rng = np.random.default_rng(seed)
        model.train()
        for _ in range(epochs):
            for idx in np.array_split(rng.permutation(len(X)), max(1, len(X) // _BATCH)):
                idx = torch.as_tensor(idx)
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
                opt.step()
        model.eval()
    finally:
        torch.set_num_threads(threads)
    net = LeNet(model, lenet_accuracy(model, data.X_train, data.y_train),
                lenet_accuracy(model, data.X_test, data.y_test), key)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
        meta = json.dumps({"train_accuracy": net.train_accuracy, "test_accuracy": net.test_accuracy, "seed": seed,
                           "epochs": epochs, "params": list(state)})
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, meta=meta, **{f"p:{k}": v for k, v in state.items()})
        tmp.replace(path)
    return net
