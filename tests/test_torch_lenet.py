"""LeNet-5 and the prune-lenet experiment on a tiny stand-in data set (seconds): the model is a chain
nettrim.torch accepts, training is seeded and cached as arrays, the experiment writes its outputs and resumes."""

import argparse
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nettrim.torch as nt
from nettrim.experiments import lenet, prune_lenet
from nettrim.experiments.data import Dataset

torch.set_num_threads(1)


def tiny_mnist(n_train=60, n_test=30, seed=0):
    """Random 28×28 'digits' whose class is the quadrant of a bright blob (learnable in one epoch or two)."""
    rng = np.random.default_rng(seed)

    def make(n):
        y = rng.integers(0, 4, n)
        X = 0.1 * rng.random((n, 28, 28))
        for k, c in enumerate(y):
            i, j = 7 + 14 * (c // 2), 7 + 14 * (c % 2)
            X[k, i - 4:i + 4, j - 4:j + 4] += 0.9
        return X.reshape(n, -1), y

    Xtr, ytr = make(n_train)
    Xte, yte = make(n_test)
    return Dataset("mnist", Xtr, ytr, Xte, yte, (28, 28))


def test_lenet5_is_a_prunable_chain():
    model = lenet5 = lenet.lenet5().eval()
    assert sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight")) == 61470
    data = nt.layer_data(lenet5, torch.rand(3, 1, 28, 28), max_patches=300)
    assert [d.type for d in data] == ["Conv2d", "Conv2d", "Linear", "Linear", "Linear"]
    assert [d.activation for d in data] == ["relu", "relu", "relu", "relu", "linear"]
    assert [d.X.shape[0] for d in data] == [26, 151, 401, 121, 85]
    assert [d.n_columns for d in data] == [3 * 28 * 28, 3 * 10 * 10, 3, 3, 3]


def test_training_is_seeded_and_cached(tmp_path):
    data = tiny_mnist()
    a = lenet.get_lenet(data, seed=1, epochs=1, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as z:    # arrays only
        assert "meta" in z.files
    b = lenet.get_lenet(data, seed=1, epochs=1, cache_dir=tmp_path)   # loaded
    c = lenet.get_lenet(data, seed=1, epochs=1)                      # trained again, same seed
    for (k, v), (_, w), (_, u) in zip(a.model.state_dict().items(), b.model.state_dict().items(),
                                      c.model.state_dict().items(), strict=False):
        assert torch.equal(v, w) and torch.equal(v, u), k
    assert a.test_accuracy == b.test_accuracy == lenet.lenet_accuracy(b.model, data.X_test, data.y_test)
    with pytest.raises(ValueError, match="28×28"):
        lenet.get_lenet(Dataset("digits", data.X_train[:, :64], data.y_train, data.X_test[:, :64], data.y_test,
                                (8, 8)), epochs=1)


# The slowest test of the default suite (168 s, `pytest --durations`): its fully connected programs on 20 and
# 3 samples (N = 401 inputs) are degenerate, and their polish attempts cost seconds each; before the
# polish's fixed-t neuron QP was solved in its dual form (fast/_qp.py) the test took 832 s and sat behind the
# slow marker.
@pytest.mark.filterwarnings("ignore:layer .* returned status")   # a 3-image timing run at the defaults
def test_prune_lenet_experiment_runs_and_resumes(tmp_path, monkeypatch, capsys):
    data = tiny_mnist()
    monkeypatch.setattr("nettrim.experiments.data.load_dataset", lambda name: data)
    s = prune_lenet.Setting(eps_grid=(0.3,), n_calib=20, max_patches=200, tag="test", epochs=2,
                            variants=prune_lenet.REFIT_CHOICES["both"] + (prune_lenet.REWEIGHTED,))
    monkeypatch.setattr(prune_lenet, "setting", lambda args: s)
    args = argparse.Namespace(out=tmp_path / "out", figures=tmp_path / "fig", jobs=1, seed=0, dask=None,
                              progress=False, quick=True, timing=None)
    prune_lenet.run(args)
    for name in ("accuracy.png", "filters.png", "table.csv", "layers.csv", "layers.md"):
        assert (tmp_path / "fig" / f"prune_lenet_test_{name}").exists(), name
    import pandas as pd

    df = pd.read_csv(tmp_path / "out" / "prune-lenet-test.csv")
    # cascade with and without refit, parallel with it, and the reweighted ℓ1-only cascade: 4 prunes of 5 layers
    assert len(df) == 4 * 5 and set(df["mode"]) == {"parallel", "cascade"}
    assert set(zip(df["mode"], df["refit"], df["reweight"], strict=False)) == \
        set(prune_lenet.REFIT_CHOICES["both"]) | {prune_lenet.REWEIGHTED}
    assert {"acc_magnitude", "acc_sparsegpt", "acc_wanda"} <= set(df.columns)
    # every layer meets its program (Proposition 1 on the sampled positions, up to the solver's violation)
    assert (df["layer_rel_error"] <= df["epsilon_rel"] + df["violation"] + 1e-9).all()
    assert (df["positions_sampled"] <= df["positions_total"]).all()
    capsys.readouterr()
    prune_lenet.run(args)                       # resumes: nothing left to run
    assert "to run" not in capsys.readouterr().err
    # the timing run (the defaults of nettrim.torch.prune) on 3 images
    monkeypatch.setattr(prune_lenet, "setting", lambda args: replace(s, n_calib=3))
    args.timing = 0.2
    prune_lenet.run(args)
    assert (tmp_path / "fig" / "prune_lenet_test_timing.csv").exists()
