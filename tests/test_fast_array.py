"""nettrim.fast.solve on torch tensors: the same iteration as on numpy arrays, honest statuses in float32.

The iteration is written once over an array namespace; on CPU in float64 the torch iterates must follow the
numpy ones to round-off, and every status (optimal, infeasible) is checked from the definitions of the
shared spec (violation, duality gap, certificate) on the returned tensors.
"""

import numpy as np
import pytest

import nettrim
from nettrim import fast
from nettrim.experiments.layers import random_layer

torch = pytest.importorskip("torch")


def _t(a, dtype=None):
    return None if a is None else torch.tensor(a, dtype=dtype or torch.float64)


def _np(W):
    """A copy of W (array or tensor) as numpy float64."""
    return W.detach().double().numpy().copy() if torch.is_tensor(W) else np.array(W, dtype=float)


LAYERS = {
    "relu": dict(N=30, M=5, P=200, seed=1),
    "relu-bias-V": dict(N=30, M=5, P=200, seed=2, bias=True, v_margin=0.5),
    "woodbury": dict(N=60, M=4, P=40, seed=3),
    "linear": dict(N=20, M=4, P=150, seed=4, activation="linear"),
}


def _layer(name):
    kw = dict(LAYERS[name])
    d = random_layer(kw.pop("N"), kw.pop("M"), kw.pop("P"), **kw)
    act = kw.get("activation", "relu")
    return d, act


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_torch_float64_iterates_follow_numpy(name):
    """Over the first 50 iterations (no polish) the torch-CPU-float64 iterates W² equal numpy's to 1e-10."""
    d, act = _layer(name)
    runs = {}
    for kind, conv in (("numpy", lambda a: a), ("torch", _t)):
        seen = []
        fast.solve(conv(d.X), conv(d.Y), d.epsilon, activation=act, V=conv(d.V), max_iter=50, polish=False,
                   eps_abs=1e-14, eps_rel=1e-14, callback=lambda W, seen=seen: seen.append(_np(W)))
        runs[kind] = seen
    assert len(runs["numpy"]) == len(runs["torch"]) == 50
    for k, (a, b) in enumerate(zip(runs["numpy"], runs["torch"], strict=True)):
        assert np.max(np.abs(a - b)) <= 1e-10, k
    assert np.count_nonzero(runs["numpy"][-1]) > 0     # the comparison is not between zero matrices


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_torch_float64_answer_matches_numpy(name):
    d, act = _layer(name)
    a = fast.solve(d.X, d.Y, d.epsilon, activation=act, V=d.V)
    b = fast.solve(_t(d.X), _t(d.Y), d.epsilon, activation=act, V=_t(d.V))
    assert isinstance(b.W, torch.Tensor) and b.W.dtype == torch.float64 and b.W.device.type == "cpu"
    assert a.status == b.status == "optimal"
    np.testing.assert_allclose(b.W.numpy(), a.W, atol=1e-6)
    prob = nettrim.layer_problem(d.X, d.Y, d.epsilon, activation=act, V=d.V)
    assert prob.violation(b.W.numpy()) <= nettrim.VIOLATION_TOL
    assert prob.gap(b.W.numpy(), b.dual) <= nettrim.GAP_TOL


@pytest.mark.parametrize("name", ["relu", "relu-bias-V", "linear"])
@pytest.mark.parametrize("options", [{}, "pruning"])
def test_float32_status_is_honest(name, options):
    """A float32 solve returns a float32 tensor; "optimal" holds for that tensor, recomputed in float64."""
    options = dict(fast.PRUNING_OPTIONS) if options == "pruning" else {}
    d, act = _layer(name)
    f32 = torch.float32
    X, Y, V = _t(d.X, f32), _t(d.Y, f32), _t(d.V, f32)
    sol = fast.solve(X, Y, d.epsilon, activation=act, V=V, **options)
    assert isinstance(sol.W, torch.Tensor) and sol.W.dtype == f32
    W = _np(sol.W)
    # the program of the data as passed (rounded to float32), checked in float64
    prob = nettrim.layer_problem(_np(X), _np(Y), d.epsilon, activation=act, V=None if V is None else _np(V))
    eps_violation = options.get("eps_violation", nettrim.VIOLATION_TOL)
    eps_gap = options.get("eps_gap", nettrim.GAP_TOL)
    assert sol.status in ("optimal", "max_iter")
    assert sol.violation == pytest.approx(prob.violation(W), abs=1e-12)
    if sol.status == "optimal":
        assert prob.violation(W) <= eps_violation
        assert prob.gap(W, sol.dual) <= eps_gap
    if options:     # at the pruning grade float32 is accurate enough on these layers: the check above ran
        assert sol.status == "optimal"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_infeasible_program_has_a_certificate_for_tensors(dtype):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((10, 40))
    Y = np.abs(rng.standard_normal((3, 40)))       # not the output of any ReLU layer: infeasible at 5 %
    eps = 0.05 * np.linalg.norm(Y)
    sol = fast.solve(_t(X, getattr(torch, dtype)), _t(Y, getattr(torch, dtype)), eps)
    assert sol.status == "infeasible"
    assert isinstance(sol.W, torch.Tensor) and torch.isnan(sol.W).all()
    prob = nettrim.layer_problem(X, Y, eps)
    cert = prob.check_certificate(sol.dual)
    assert cert.valid and cert.dual_value > 0 and cert.dual_residual <= 1e-6 * np.linalg.norm(sol.dual)


def test_warm_start_from_a_tensor_solution():
    d, act = _layer("relu")
    first = fast.solve(_t(d.X), _t(d.Y), d.epsilon)
    again = fast.solve(_t(d.X), _t(d.Y), d.epsilon, warm_start=first)
    assert again.status == "optimal" and again.iterations <= first.iterations
    again = fast.solve(_t(d.X), _t(d.Y), d.epsilon, warm_start=first.W)
    assert again.status == "optimal"


def test_bad_tensor_input_is_named():
    d, _ = _layer("relu")
    X, Y = _t(d.X), _t(d.Y)
    bad = X.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="X contains NaN"):
        fast.solve(bad, Y, d.epsilon)
    with pytest.raises(TypeError, match="Y must be a torch tensor"):
        fast.solve(X, d.Y, d.epsilon)
    with pytest.raises(TypeError, match="X must be a torch tensor"):
        fast.solve(d.X, Y, d.epsilon)
    with pytest.raises(TypeError, match="X must be a float32 or float64 tensor"):
        fast.solve(X.to(torch.int64), Y, d.epsilon)
    with pytest.raises(TypeError, match="Y has dtype torch.float32"):
        fast.solve(X, Y.float(), d.epsilon)
    with pytest.raises(TypeError, match="V must be a torch tensor"):
        fast.solve(X, Y, d.epsilon, V=np.zeros(d.Y.shape))
    with pytest.raises(TypeError, match="weights must be a float32 or float64 tensor"):
        fast.solve(X, Y, d.epsilon, weights=torch.ones(d.W0.shape, dtype=torch.int32))
    with pytest.raises(ValueError, match="warm_start"):
        fast.solve(X, Y, d.epsilon, warm_start=torch.zeros(3, 3, dtype=torch.float64))
    # a 0-d tensor is a valid epsilon, float or integer, for every entry point (a bool or 1-d one is not)
    assert fast.solve(X, Y, torch.tensor(d.epsilon)).status == "optimal"
    assert fast.solve(X, Y, torch.tensor(round(d.epsilon))).status == "optimal"
    Xn, Yn = d.X, d.Y
    eps64 = torch.tensor(d.epsilon, dtype=torch.float64)
    assert nettrim.layer_problem(Xn, Yn, eps64).epsilon == d.epsilon
    assert nettrim.reference.solve(Xn, Yn, torch.tensor(d.epsilon, dtype=torch.float32)).status == "optimal"
    with pytest.raises(TypeError, match="epsilon must be a number, got a bool"):
        nettrim.layer_problem(Xn, Yn, torch.tensor(True))
    with pytest.raises(TypeError, match="epsilon"):
        nettrim.layer_problem(Xn, Yn, torch.tensor([d.epsilon]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_bench_solvers_cuda_without_cuda_fails_before_running(tmp_path):
    from nettrim.experiments.__main__ import main

    with pytest.raises(SystemExit, match="CUDA"):
        main(["bench-solvers", "--device", "cuda", "--instances", "a", "--out", str(tmp_path)])
    assert not (tmp_path / "bench_solvers.csv").exists()


def test_sparse_and_meta_tensors_are_named_and_grad_tensors_are_read_as_values():
    """Found by a review: a sparse or a meta tensor gave torch's own error from inside the conversion, and
    LayerProblem's methods raised torch's RuntimeError for a tensor that records gradients."""
    d = random_layer(5, 3, 30, seed=4)
    X, Y = torch.tensor(d.X), torch.tensor(d.Y)
    with pytest.raises(TypeError, match="^X must be a dense tensor with data"):
        fast.solve(X.to_sparse(), Y, d.epsilon)
    meta = torch.empty(X.shape, dtype=torch.float64, device="meta")
    with pytest.raises(TypeError, match="^X must be a dense tensor with data"):
        fast.solve(meta, torch.empty(Y.shape, dtype=torch.float64, device="meta"), d.epsilon)
    prob = nettrim.layer_problem(d.X, d.Y, d.epsilon)
    W = torch.tensor(d.W0, requires_grad=True)
    assert prob.violation(W) == prob.violation(d.W0) and prob.objective(W) == prob.objective(d.W0)
    Lam = torch.zeros(Y.shape, dtype=torch.float64, requires_grad=True)
    assert prob.gap(W, Lam) == prob.gap(d.W0, np.zeros(d.Y.shape))
