"""nettrim.torch: chains of PyTorch modules pruned layer by layer; Proposition 1 per layer on the sampled
positions, the report reproduced by the pruned modules, masks, the cascade, unsupported models, bad input."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn

import nettrim.torch as nt
from nettrim.conv import output_columns
from nettrim.network import REPORT_COLUMNS as NETWORK_COLUMNS
from nettrim.network import prune_network

torch.set_num_threads(1)

# the reference (CLARABEL) answers are feasible to ~1e-8 relative; float32 modules add ~1e-7
TOL = 1e-5


def tiny_cnn(seed=0, pool="max", dtype=torch.float64):
    """conv → ReLU → pool → conv → ReLU → flatten → linear → ReLU → linear, on 1×8×8 inputs."""
    torch.manual_seed(seed)
    pool_layer = nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), pool_layer,
                          nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Dropout(0.5),
                          nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    return model.to(dtype).eval()


def calib(n=12, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 8, 8, generator=g, dtype=dtype)


def layer_io(model, x, name):
    """Input and output of module ``name`` of ``model`` on ``x`` (a forward hook)."""
    got = {}
    mod = dict(model.named_modules())[name]
    h = mod.register_forward_hook(lambda m, i, o: got.update(x=i[0].detach().clone(), y=o.detach().clone()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        h.remove()
    return got["x"], got["y"]


def columns(t, index):
    a = t.double().numpy()
    return output_columns(a, index) if a.ndim == 4 else (a.T if index is None else a.T[:, index])


def prune_quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nt.prune(*args, **kwargs)


# ---------------------------------------------------------------------------------------------- the math
@pytest.mark.parametrize("mode,refit", [("parallel", True), ("cascade", True), ("parallel", False),
                                        ("cascade", False)])
def test_proposition_1_per_layer_on_the_sampled_positions(mode, refit):
    """Each pruned torch module, fed its program input (the original signal in parallel mode, the pruned
    one in cascade mode), meets its program on the sampled positions: ‖(Ẑ − Y)_Ω‖ ≤ ε_ℓ and Ẑ_Ωᶜ ≤ V, so
    (Proposition 1) ‖σ(Ẑ) − Y‖ ≤ ε_ℓ when V = 0 (parallel), ≤ √(ε_ℓ² + ‖relu(V)_Ωᶜ‖²) in cascade. The
    refit (the default) keeps all of it."""
    model, x = tiny_cnn(), calib()
    pruned, rep = prune_quiet(model, x, epsilon=0.15, mode=mode, refit=refit, solver="reference",
                              max_patches=150, seed=3)
    assert rep["refit"].all() == refit
    assert (rep["status"] == "optimal").all()
    orig = nt.layer_data(model, x, max_patches=150, seed=3)
    hat = nt.layer_data(pruned, x, max_patches=150, seed=3)
    assert [d.X.shape[1] for d in orig] == list(rep["positions_sampled"])
    assert rep["positions_sampled"].iloc[0] == 150 < rep["positions_total"].iloc[0]   # the first conv is sampled
    for d, dh, (_, row) in zip(orig, hat, rep.iterrows(), strict=False):
        np.testing.assert_array_equal(d.index, dh.index)          # the same sampled positions
        x_in, _ = layer_io(model if mode == "parallel" else pruned, x, d.module)
        with torch.no_grad():
            z = dict(pruned.named_modules())[d.module](x_in)      # the pruned torch module itself
        Z = columns(z, d.index)
        relu = d.activation == "relu"
        on = d.Y > 0 if relu else np.ones(d.Y.shape, dtype=bool)
        V = np.zeros_like(d.Y) if (mode == "parallel" or row["layer"] == 1) else d.U.T @ dh.X
        y_max = np.abs(d.Y).max()
        assert np.linalg.norm((Z - d.Y)[on]) <= row["epsilon"] * (1 + TOL)
        assert np.all(Z[~on] <= V[~on] + TOL * y_max)
        err = np.linalg.norm((np.maximum(Z, 0) if relu else Z) - d.Y)
        bound = np.sqrt(row["epsilon"] ** 2 + np.sum(np.maximum(V[~on], 0) ** 2))
        assert err <= bound * (1 + TOL)
        assert err / np.linalg.norm(d.Y) == pytest.approx(row["layer_rel_error"], rel=1e-6, abs=1e-9)
        if not refit:   # the ℓ1 norm of the augmented weights cannot grow: the original layer is feasible
            assert np.abs(dh.U).sum() <= np.abs(d.U).sum() * (1 + TOL)
        if mode == "cascade" and row["layer"] > 1:
            # ε_ℓ² = γ Σ_Ω (W̃ᵀX̂ − Y)²: the original layer on the pruned signal has error ε/√γ on Ω
            assert np.linalg.norm((V - d.Y)[on]) == pytest.approx(row["epsilon"] / np.sqrt(1.1), rel=1e-9)


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_pruned_modules_reproduce_the_report(mode):
    """float32 model: the report's network errors (all positions) and layer errors (sampled positions) are
    what the pruned torch modules compute."""
    model, x = tiny_cnn(1, dtype=torch.float32), calib(16, dtype=torch.float32)
    pruned, rep = prune_quiet(model, x, epsilon=0.2, mode=mode, max_patches=100)
    assert list(rep.columns) == list(nt.REPORT_COLUMNS) and rep["refit"].all()
    assert list(rep.columns[:len(NETWORK_COLUMNS)]) == list(NETWORK_COLUMNS)
    data = nt.layer_data(model, x, max_patches=100)
    for d, (_, row) in zip(data, rep.iterrows(), strict=False):
        relu = d.activation == "relu"
        _, y = layer_io(model, x, d.module)
        _, yh = layer_io(pruned, x, d.module)
        Y, Yh = columns(y, None), columns(yh, None)
        if relu:
            Y, Yh = np.maximum(Y, 0), np.maximum(Yh, 0)
        assert np.linalg.norm(Yh - Y) / np.linalg.norm(Y) == pytest.approx(row["rel_error"], rel=1e-4, abs=1e-6)
        x_in, _ = layer_io(model if mode == "parallel" else pruned, x, d.module)
        with torch.no_grad():
            z = dict(pruned.named_modules())[d.module](x_in)
        Z = columns(z, None)
        Z = np.maximum(Z, 0) if relu else Z
        rel = np.linalg.norm(Z - Y) / np.linalg.norm(Y)
        assert rel == pytest.approx(row["layer_rel_error_all"], rel=1e-4, abs=1e-6)
        Zs = columns(z, d.index)
        Zs = np.maximum(Zs, 0) if relu else Zs
        # the target is the original model's output in both modes
        assert np.linalg.norm(Zs - d.Y) / np.linalg.norm(d.Y) == pytest.approx(row["layer_rel_error"], rel=1e-4,
                                                                                abs=1e-6)
        # nnz and exact zeros
        W = dict(pruned.named_modules())[d.module].weight
        assert int(torch.count_nonzero(W)) == row["nnz_after"]
        assert row["positions_total"] == d.n_columns


def test_masks_and_copy():
    model, x = tiny_cnn(2), calib()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pruned, rep = prune_quiet(model, x, epsilon=0.3, mode="parallel", max_patches=100)
    for k, v in model.state_dict().items():          # the model itself is untouched
        assert torch.equal(v, before[k])
    for name in rep["module"]:
        m = dict(pruned.named_modules())[name]
        assert hasattr(m, "weight_orig") and hasattr(m, "weight_mask")
        assert torch.equal(m.weight, m.weight_orig * m.weight_mask)
        assert torch.equal(m.weight_mask.bool(), m.weight != 0)
    assert (rep["nnz_after"] < rep["nnz_before"]).any()
    # pruning an already masked model again works and keeps exact zeros
    again, rep2 = prune_quiet(pruned, x, epsilon=0.3, mode="parallel", max_patches=100)
    for name in rep2["module"]:
        m = dict(again.named_modules())[name]
        assert torch.equal(m.weight_mask.bool(), m.weight != 0)
    assert (rep2["nnz_before"].to_numpy() == rep["nnz_after"].to_numpy()).all()


def random_mlp(seed, sizes, P):
    """Seeded MLP weights (scikit-learn layout), calibration rows, and the same MLP as an nn.Sequential."""
    rng = np.random.default_rng(seed)
    Ws = [rng.standard_normal((a, b)) * np.sqrt(2 / a) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    bs = [0.1 * rng.standard_normal(b) for b in sizes[1:]]
    X = rng.standard_normal((P, sizes[0]))
    mods = []
    for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        lin = nn.Linear(*W.shape).double()
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W.T))
            lin.bias.copy_(torch.as_tensor(b))
        mods += [lin] + ([nn.ReLU()] if i < len(Ws) - 1 else [])
    return Ws, bs, X, nn.Sequential(*mods).eval()


def test_linear_model_matches_prune_network():
    """An MLP as nn.Sequential gives the programs (ε, inputs, targets) and answers of prune_network, with and
    without the refit."""
    Ws, bs, X, model = random_mlp(0, (6, 12, 8, 3), 60)
    for mode, refit in (("parallel", False), ("cascade", False), ("parallel", True), ("cascade", True)):
        net = prune_network(Ws, bs, X, epsilon=0.1, mode=mode, refit=refit, solver="reference")
        _, rep = prune_quiet(model, torch.as_tensor(X), epsilon=0.1, mode=mode, refit=refit, solver="reference")
        for col in ("epsilon", "epsilon_rel", "layer_rel_error", "rel_error"):
            np.testing.assert_allclose(rep[col], net.report[col], rtol=1e-5, err_msg=col)
        np.testing.assert_array_equal(rep["nnz_after"], net.report["nnz_after"])


def test_density_target_is_met_as_in_prune_network():
    """A density target: the kept fraction is within density_tol of it (when reachable), the one relative ε
    found is the one prune_network finds on the same MLP, and every layer still meets that ε."""
    Ws, bs, X, model = random_mlp(3, (10, 30, 20, 4), 200)
    net = prune_network(Ws, bs, X, density=0.4, mode="parallel", solver="reference")
    _, rep = prune_quiet(model, torch.as_tensor(X), density=0.4, mode="parallel", solver="reference",
                         density_tol=0.01)
    kept = rep["nnz_after"].sum() / rep["nnz_before"].sum()
    assert abs(kept - 0.4) <= 0.01
    np.testing.assert_allclose(rep["epsilon_rel"], net.report["epsilon_rel"], rtol=1e-6)
    np.testing.assert_array_equal(rep["nnz_after"], net.report["nnz_after"])
    assert (rep["layer_rel_error"] <= rep["epsilon_rel"] + TOL).all()


@pytest.mark.parametrize("mode", ["parallel", "cascade"])
def test_per_layer_densities_are_met_as_in_prune_network(mode):
    """density=[d1, d2, d3]: each layer's kept fraction within density_tol of its own target, with the ε
    (per layer) and the answers prune_network finds on the same MLP; in cascade each layer searches on the
    signal of the layers pruned before it."""
    Ws, bs, X, model = random_mlp(3, (10, 30, 20, 4), 200)
    targets = [0.3, 0.2, 0.1]       # reachable in cascade too (each layer keeps the most at its γ = 1 floor)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every target reached
        net = prune_network(Ws, bs, X, density=targets, mode=mode, solver="reference", density_tol=0.01)
    _, rep = prune_quiet(model, torch.as_tensor(X), density=targets, mode=mode, solver="reference",
                         density_tol=0.01)
    kept = (rep["nnz_after"] / rep["nnz_before"]).to_numpy()
    # within density_tol, or one weight of a layer too small to resolve it (the last: 80 weights)
    assert (np.abs(kept - targets) <= np.maximum(0.01, 1.0 / rep["nnz_before"].to_numpy()) + 1e-12).all(), kept
    np.testing.assert_allclose(rep["epsilon_rel"], net.report["epsilon_rel"], rtol=1e-6)
    np.testing.assert_array_equal(rep["nnz_after"], net.report["nnz_after"])
    assert (rep["layer_rel_error"] <= rep["epsilon_rel"] + TOL).all()


def test_parallel_jobs_give_the_same_prune():
    model, x = tiny_cnn(3), calib()
    _, one = prune_quiet(model, x, epsilon=0.2, mode="parallel", refit=False, max_patches=100)
    _, two = prune_quiet(model, x, epsilon=0.2, mode="parallel", refit=False, max_patches=100, jobs=2)
    for col in ("nnz_after", "layer_rel_error", "rel_error", "iterations"):
        np.testing.assert_array_equal(one[col], two[col], err_msg=col)


def test_activation_rules():
    """ReLU after max pooling: a ReLU program (they commute); average pooling before the ReLU: folded into
    the patches; average pooling after max pooling: a linear program."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),
                          nn.Conv2d(2, 3, 3, padding=1), nn.AvgPool2d(2), nn.ReLU(),
                          nn.Conv2d(3, 3, 1), nn.MaxPool2d(1), nn.AvgPool2d(1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(12, 2)).double().eval()
    x = calib(6)
    data = nt.layer_data(model, x)
    assert [d.activation for d in data] == ["relu", "relu", "linear", "linear"]
    assert "commutes" in data[0].program and "folded" in data[1].program
    # the folded program is the exact program of conv → avg-pool → ReLU on the pooled positions
    x_in, _ = layer_io(model, x, "3")
    with torch.no_grad():
        target = torch.relu(model[4](model[3](x_in)))
    np.testing.assert_allclose(data[1].Y, columns(target, data[1].index), rtol=1e-10, atol=1e-12)
    assert data[1].n_columns == 6 * 2 * 2
    _, rep = prune_quiet(model, x, epsilon=0.2, mode="parallel", refit=False, solver="reference")
    assert (rep["layer_rel_error"] <= rep["epsilon_rel"] * (1 + TOL)).all()


def test_custom_forward_chain_and_batches():
    """A module whose forward calls its children in turn (with a reshape) is a chain; batches of a
    DataLoader give the same programs as one tensor."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 3, 3)
            self.act = nn.ReLU()
            self.fc = nn.Linear(3 * 6 * 6, 4)
            self.out = nn.Linear(4, 2)

        def forward(self, x):
            x = self.act(self.conv(x))
            x = x.view(len(x), -1)
            return self.out(self.act(self.fc(x)))     # the ReLU module is used twice

    torch.manual_seed(0)
    model = Net().double().eval()
    x = calib(10)
    a = nt.layer_data(model, x, max_patches=80)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.zeros(10)), batch_size=3)
    b = nt.layer_data(model, loader, max_patches=80)
    assert [d.activation for d in a] == ["relu", "relu", "linear"]
    for da, db in zip(a, b, strict=False):
        # a batched forward pass may round differently in the last bit (BLAS blocking): equal to 1e-12
        np.testing.assert_allclose(da.X, db.X, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(da.index, db.index)
    _, r1 = prune_quiet(model, x, epsilon=0.1, refit=False, max_patches=80)
    _, r2 = prune_quiet(model, loader, epsilon=0.1, refit=False, max_patches=80)
    np.testing.assert_allclose(r1["layer_rel_error"], r2["layer_rel_error"], rtol=1e-9)


# ---------------------------------------------------------------------------------------------- errors
class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(x))) + x


class InnerResidual(Residual):
    def forward(self, x):
        h = self.relu(self.fc1(x))
        return self.fc2(h + x)


class Functional(Residual):
    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class SharedLayer(Residual):
    def forward(self, x):
        return self.fc1(self.relu(self.fc1(x)))


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(4, 4, batch_first=True)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.rnn(x)[0])


@pytest.mark.parametrize("model,match", [
    (Recurrent(), "'rnn' \\(LSTM\\)"),
    (nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)), "'1' \\(BatchNorm1d\\)"),
    (nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)), "Tanh"),
    (Residual(), "not the output of its last module 'fc2'.*residual"),
    (InnerResidual(), "input of 'fc2' \\(Linear\\) is not the output of 'relu'"),
    (Functional(), "input of 'fc2' \\(Linear\\) is not the output of 'fc1'"),
    (SharedLayer(), "'fc1' \\(Linear\\) is called more than once"),
])
def test_unsupported_models_are_named(model, match):
    with pytest.raises((TypeError, ValueError), match=match):
        nt.prune(model.eval(), torch.randn(5, 3, 4), refit=False)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv_geometries_reproduce_the_modules():
    """'same' padding with an even kernel, stride, dilation, reflect padding, no bias: the patch programs
    reproduce each module's output (checked inside layer_data), and a pruned model keeps its geometry."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 4, padding="same", bias=False), nn.ReLU(),
                          nn.Conv2d(3, 4, 3, stride=2, padding=1, padding_mode="reflect"), nn.ReLU(),
                          nn.Conv2d(4, 2, 2, dilation=2, padding=(1, 0), padding_mode="circular"), nn.Flatten(),
                          nn.Linear(2 * 5 * 2, 2)).double().eval()
    x = torch.randn(5, 2, 9, 8, dtype=torch.float64)
    data = nt.layer_data(model, x)
    assert [d.X.shape[0] for d in data] == [2 * 16, 3 * 9 + 1, 4 * 4 + 1, 20 + 1]
    for d in data[:3]:
        _, out = layer_io(model, x, d.module)
        np.testing.assert_allclose(d.U.T @ d.X, columns(out, d.index), rtol=1e-12, atol=1e-12)
    pruned, rep = prune_quiet(model, x, epsilon=0.2, refit=False, solver="reference")
    assert rep["bias_nnz_after"].iloc[0] == 0 and (rep["layer_rel_error"] <= rep["epsilon_rel"] + 1e-6).iloc[0]


class OwnForward(nn.Conv2d):
    def forward(self, x):
        return 2 * super().forward(x)


def test_a_module_that_is_not_its_parameters_is_refused():
    model = nn.Sequential(OwnForward(1, 2, 3), nn.ReLU()).eval()
    with pytest.raises(ValueError, match="'0' \\(OwnForward\\) does not compute the Conv2d"):
        nt.layer_data(model, torch.randn(3, 1, 6, 6))


def test_unsupported_conv_options():
    with pytest.raises(TypeError, match="groups"):
        nt.layer_data(nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)).eval(), torch.randn(2, 2, 5, 5))


def test_bad_input():
    model, x = tiny_cnn(), calib()
    with pytest.raises(ValueError, match="training mode"):
        nt.prune(tiny_cnn().train(), x, refit=False)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        nt.prune(lambda t: t, x, refit=False)
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        nt.prune(model, bad, refit=False)
    with pytest.raises(TypeError, match="floating-point"):
        nt.prune(model, (x * 100).to(torch.int64), refit=False)
    with pytest.raises(ValueError, match="cannot run on calibration batches of shape \\(12, 2, 8, 8\\)"):
        nt.prune(model, torch.randn(12, 2, 8, 8, dtype=torch.float64), refit=False)
    with pytest.raises(ValueError, match="batch 1 has shape"):
        nt.prune(model, [x[:5], x[5:, :, :6]], refit=False)
    with pytest.raises(ValueError, match="empty"):
        nt.prune(model, [], refit=False)
    with pytest.raises(ValueError, match="batch dimension"):
        nt.prune(model, torch.randn(8), refit=False)
    with pytest.raises(TypeError, match="calibration"):
        nt.prune(model, "images", refit=False)
    with pytest.raises(ValueError, match="mode"):
        nt.prune(model, x, mode="serial", refit=False)
    with pytest.raises(ValueError, match="solver"):
        nt.prune(model, x, solver="sgd", refit=False)
    with pytest.raises(TypeError, match="refit"):
        nt.prune(model, x, refit=1)
    with pytest.raises(ValueError, match="max_patches"):
        nt.prune(model, x, max_patches=0, refit=False)
    with pytest.raises(ValueError, match="epsilon"):
        nt.prune(model, x, epsilon=-0.1, refit=False)
    with pytest.raises(ValueError, match="4 layers"):
        nt.prune(model, x, epsilon=[0.1, 0.2], refit=False)
    with pytest.raises(ValueError, match="blas_threads"):
        nt.prune(model, x, blas_threads=0, refit=False)
    with pytest.raises(ValueError, match="jobs"):
        nt.prune(model, x, jobs=0, refit=False)
    with pytest.raises(ValueError, match="gamma"):
        nt.prune(model, x, gamma=0.5, refit=False)
    with pytest.raises(TypeError, match="solver_options"):
        nt.prune(model, x, solver_options=[1], refit=False)
    with pytest.raises(TypeError, match="prune\\(\\) got an unexpected keyword"):
        nt.prune(model, x, epsilon_gain=0.1)
    with pytest.raises(ValueError, match="density"):
        nt.prune(model, x, density=1.5)
    with pytest.raises(ValueError, match="either epsilon or density"):
        nt.prune(model, x, epsilon=0.1, density=0.2)


def test_docstring_examples():
    import doctest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(nt, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0
