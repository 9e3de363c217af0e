"""Bad input gets a clear error naming the argument, and no claim stands that its own checks cannot back.

Each case here once gave a traceback from inside numpy/scipy/a back-end, a silent wrong answer, or a status
("optimal", "infeasible") that rested on numbers that had under- or overflowed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import nettrim
from nettrim import fast, layer_problem, reference
from test_fast_certified import signed_bound_program


def _layer(seed=0, N=4, M=3, P=12):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, P))
    W = rng.standard_normal((N, M))
    Y = np.maximum(W.T @ X, 0.0)
    return X, Y, 0.1 * float(np.linalg.norm(Y)), W


# ------------------------------------------------------------------------------------------ magnitudes
@pytest.mark.parametrize("solve", [fast.solve, reference.solve, layer_problem])
@pytest.mark.parametrize("case", ["Y tiny", "X tiny", "X huge", "Y huge", "eps tiny", "eps huge"])
def test_data_beyond_double_precision_is_refused(solve, case):
    """Squares of 1e-170 underflow to 0: the residual of W = 0 read 0 and "optimal" was returned for an
    answer 10 times outside ε (and "infeasible" for a feasible program); now refused, naming the argument."""
    X, Y, e, _ = _layer()
    args, name = {
        "Y tiny": ((X, Y * 1e-200, e * 1e-200), "Y"),
        "X tiny": ((X * 1e-170, Y, e), "X"),
        "X huge": ((X * 1e170, Y, e), "X"),
        "Y huge": ((X, Y * 1e160, e * 1e160), "Y"),
        "eps tiny": ((X, Y, 1e-200), "epsilon"),
        "eps huge": ((X, Y, 1e120), "epsilon"),
    }[case]
    # a tiny positive ε is not a units problem: the message points to ε = 0 instead of rescaling
    match = "^epsilon = .* below 1e-100; pass epsilon=0" if case == "eps tiny" else \
        f"^{name} .*outside the supported magnitudes"
    with pytest.raises(ValueError, match=match):
        solve(*args)


@pytest.mark.parametrize("kwargs, name", [(dict(epsilon=10 ** 400), "epsilon"), (dict(rho=10 ** 400), "rho"),
                                          (dict(eps_gap=10 ** 400), "eps_gap")])
def test_an_integer_beyond_the_doubles_is_refused_by_name(kwargs, name):
    X, Y, e, _ = _layer()
    kwargs = dict(dict(epsilon=e), **kwargs)
    with pytest.raises(ValueError, match=f"^{name} "):
        fast.solve(X, Y, kwargs.pop("epsilon"), **kwargs)


def test_a_diverging_interior_point_qp_leaks_no_overflow_warning():
    """A 6×13 ReLU program with V (seeded as in the random cross-check) drove the polish's neuron QP into
    overflow: four RuntimeWarnings from fast/_qp.py, though the answer was certified. The QP now stops there
    (its answer is checked by the caller, as always)."""
    X, Y, V, eps = signed_bound_program(20_219)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        sol = fast.solve(X, Y, eps, V=V)
    prob = layer_problem(X, Y, eps, V=V)
    assert sol.status == "optimal" and prob.violation(sol.W) <= nettrim.VIOLATION_TOL
    assert abs(prob.gap(sol.W, sol.dual, project=False)) <= nettrim.GAP_TOL


@pytest.mark.parametrize("kx, ky", [(-90, 0), (90, 0), (0, -90), (0, 90), (-90, 90), (90, -90)])
def test_data_at_the_ends_of_the_supported_range_solve_as_in_plain_units(kx, ky):
    """Inside the range the answer is the unit-scaled one (W scales by 10^(ky − kx), up to 1e180)."""
    X, Y, e, _ = _layer(1)
    base = fast.solve(X, Y, e)
    sx, sy = 10.0 ** kx, 10.0 ** ky
    sol = fast.solve(X * sx, Y * sy, e * sy)
    assert sol.status == base.status == "optimal"
    assert sol.objective == pytest.approx(base.objective * sy / sx, rel=1e-6)
    assert layer_problem(X * sx, Y * sy, e * sy).violation(sol.W) <= fast.VIOLATION_TOL


def test_network_data_beyond_double_precision_is_refused_by_name():
    rng = np.random.default_rng(0)
    Ws, bs = [rng.standard_normal((4, 5)), rng.standard_normal((5, 2))], [np.zeros(5), np.zeros(2)]
    X = rng.standard_normal((20, 4))
    with pytest.raises(ValueError, match="^X .*outside the supported magnitudes"):
        nettrim.prune_network(Ws, bs, X * 1e160, epsilon=0.1)
    with pytest.raises(ValueError, match=r"^weights\[1\] .*outside the supported magnitudes"):
        nettrim.prune_network([Ws[0], Ws[1] * 1e120], bs, X, epsilon=0.1)
    with pytest.raises(ValueError, match=r"^biases\[0\] .*outside the supported magnitudes"):
        nettrim.prune_network(Ws, [np.full(5, 1e120), bs[1]], X, epsilon=0.1)
    # each within range, their products not: the layer whose output leaves double precision is named
    with pytest.raises(ValueError, match=r"^the network's own output of layer 1 .*rescale the weights or X"):
        nettrim.prune_network([Ws[0] * 1e90, Ws[1]], bs, X * 1e90, epsilon=0.1)
    with pytest.raises(ValueError, match=r"^the network's own output of layer 2 "):
        nettrim.prune_network([Ws[0] * 1e60, Ws[1] * 1e60], bs, X, epsilon=0.1)


# ------------------------------------------------------------------------------------------ array kinds
@pytest.mark.parametrize("make, match", [
    (lambda X: X.astype("m8[s]"), "dates or time spans"),
    (lambda X: np.ma.masked_array(X, mask=X > 1), "masked array"),
    (lambda X: sp.csr_matrix(X), r"scipy.sparse .*toarray"),
])
def test_arrays_that_are_not_plain_real_matrices_are_refused(make, match):
    X, Y, e, _ = _layer()
    with pytest.raises(TypeError, match=f"^X .*{match}|^X must hold real numbers.*{match}"):
        layer_problem(make(X), Y, e)


# ------------------------------------------------------------------------------------------ LayerProblem
def test_problem_methods_check_the_shape_and_dtype_of_their_operand():
    X, Y, e, W = _layer()
    prob = layer_problem(X, Y, e)
    Lam = np.zeros(Y.shape)
    for method in (prob.violation, prob.objective, prob.residuals, prob.relu_error):
        for bad in (np.zeros((3, 4)), np.zeros(4), np.ones((7, 7))):
            with pytest.raises(ValueError, match=r"^U must have shape \(N, M\)"):
                method(bad)
        with pytest.raises(TypeError, match="^U must hold real numbers"):
            method(np.full(W.shape, "a"))
    for method in (prob.dual_objective, prob.dual_infeasibility, prob.dual_scale,
                   lambda L: prob.gap(W, L, project=False), lambda L: prob.gap(np.zeros_like(W), L)):
        for bad in (Lam.T, Lam[0], np.zeros((12, 3))):
            with pytest.raises(ValueError, match=r"^Lam must have shape \(M, P\)"):
                method(bad)
    # the right shapes still give the numbers they gave
    assert prob.objective(W) == pytest.approx(np.abs(W).sum())
    assert prob.violation(W) == 0.0 and prob.gap(np.zeros_like(W), Lam) == 0.0


# ------------------------------------------------------------------------------------------ reference
def test_highs_options_are_checked_by_name():
    X, Y, _, _ = _layer()
    with pytest.raises(TypeError, match="unknown option 'foo'"):
        reference.solve(X, Y, 0.0, solver="HIGHS", foo=1)
    with pytest.raises(TypeError, match="^time_limit must be a real number"):
        reference.solve(X, Y, 0.0, solver="HIGHS", time_limit="abc")
    with pytest.raises(ValueError, match="^time_limit must be > 0"):
        reference.solve(X, Y, 0.0, solver="HIGHS", time_limit=-1.0)
    with pytest.raises(TypeError, match="presolve must be a bool"):
        reference.solve(X, Y, 0.0, solver="HIGHS", presolve="maybe")
    sol = reference.solve(X, Y, 0.0, solver="HIGHS", presolve=False, time_limit=60.0)
    assert sol.status == "optimal"


@pytest.mark.parametrize("solver, options, name", [("SCS", dict(eps_abs=-1.0), "eps_abs"),
                                                   ("ECOS", dict(max_iters=-1), "max_iters"),
                                                   ("CLARABEL", dict(max_iter=-1), "max_iter")])
def test_option_values_a_back_end_rejects_are_reported_with_the_options_passed(solver, options, name):
    X, Y, e, _ = _layer()
    with pytest.raises(ValueError, match=f"^invalid solver_options for {solver} \\({name}="):
        reference.solve(X, Y, e, solver=solver, **options)


def test_an_infeasible_claim_without_a_ray_is_checked_by_a_ray_from_clarabel():
    """CVXPY gives no ray from ECOS: a true "infeasible" gets CLARABEL's (checked), a false one (ECOS with
    tolerances loosened to 0.5 on a feasible program) becomes "solver_error" instead of standing unchecked."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((15, 40))
    X[:, 0] = 0.0                            # a zero sample cannot produce a positive response
    Y = np.maximum(rng.standard_normal((15, 4)).T @ X, 0.0)
    Y[:, 0] = 1.0
    sol = reference.solve(X, Y, 0.0, solver="ECOS")
    assert sol.status == "infeasible" and sol.info["ray_from"] == "CLARABEL"
    assert sol.info["certificate"].valid and layer_problem(X, Y, 0.0).check_certificate(sol.dual).valid
    X, Y, _, W = _layer()
    false = reference.solve(X, Y, 0.1, solver="ECOS", feastol=0.5, abstol=0.5, reltol=0.5)
    assert layer_problem(X, Y, 0.1).violation(W) == 0.0     # the original weights are feasible
    assert false.status == "solver_error" and "without an infeasibility ray" in false.info["message"]


# ------------------------------------------------------------------------------------------ fast
def test_a_warm_start_solutions_multiplier_is_validated():
    X, Y, e, _ = _layer()
    sol = fast.solve(X, Y, e)
    bad = nettrim.Solution(W=sol.W, status=sol.status, objective=sol.objective, violation=sol.violation,
                           gap=sol.gap, iterations=sol.iterations, solve_time=0.0, solver="ADMM",
                           dual=np.full(Y.shape, np.nan), info={})
    with pytest.raises(ValueError, match=r"^warm_start\.dual contains NaN or Inf"):
        fast.solve(X, Y, e, warm_start=bad)
    bad.dual = np.full(Y.shape, "a")
    with pytest.raises(TypeError, match=r"^warm_start\.dual must hold real numbers"):
        fast.solve(X, Y, e, warm_start=bad)
    again = fast.solve(X, Y, e, warm_start=sol)      # a good one is still taken
    assert again.status == "optimal" and again.objective == pytest.approx(sol.objective, rel=1e-4)


def test_paper_admm_checks_its_callback():
    X, Y, e, _ = _layer()
    with pytest.raises(TypeError, match="^callback must be callable"):
        fast.paper_admm(X, Y, e, callback=3)


# ------------------------------------------------------------------------------------------ networks
def test_an_exact_fit_prune_has_no_spurious_refit_fallbacks():
    """At ε = 0 both the ℓ1 answer's and the refit's errors are round-off (~1e-15): no neuron is a refit
    "fallback" and nothing is warned (every neuron of every layer was, before)."""
    rng = np.random.default_rng(0)
    Ws, bs = [rng.standard_normal((4, 5)), rng.standard_normal((5, 2))], [rng.standard_normal(5),
                                                                         rng.standard_normal(2)]
    X = rng.standard_normal((30, 4))
    for mode in ("parallel", "cascade"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            net = nettrim.prune_network(Ws, bs, X, epsilon=0.0, mode=mode)
        assert list(net.report["refit_fallbacks"]) == [0, 0]
        assert set(net.report["status"]) == {"optimal"}
        assert np.allclose(net.forward(X), nettrim.network.forward(Ws, bs, X), atol=1e-9)


def test_predict_checks_the_class_labels():
    rng = np.random.default_rng(0)
    Ws, bs = [rng.standard_normal((4, 5)), rng.standard_normal((5, 3))], [np.zeros(5), np.zeros(3)]
    X = rng.standard_normal((30, 4))
    net = nettrim.prune_network(Ws, bs, X, epsilon=0.1)
    net.classes = np.array(["a", "b", "c"])
    assert set(net.predict(X)) <= {"a", "b", "c"}
    net.classes = np.array(["a", "b"])
    with pytest.raises(ValueError, match="^classes must be 1-D with one label per class"):
        net.predict(X)


def test_torch_module_with_a_non_finite_parameter_is_named():
    torch = pytest.importorskip("torch")
    import nettrim.torch as nt

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)).eval()
    with torch.no_grad():
        model[2].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"^'2' \(Linear\) has NaN or Inf in its weight or bias"):
        nt.prune(model, torch.randn(30, 4), epsilon=0.1)


def test_loose_flags_and_shapes_are_refused_by_name():
    """Found by a review: a string taken for True, a 2-D density list flattened, numpy's reshape error for an
    empty kernel."""
    from nettrim import conv

    X, Y, e, W = _layer()
    prob = layer_problem(X, Y, e)
    with pytest.raises(TypeError, match="^project must be a bool"):
        prob.gap(W, np.zeros(Y.shape), project="no")
    spec = conv.conv2d_spec(2, 3, 2)
    U = conv.kernel_to_matrix(np.ones((3, 2, 2, 2)), np.ones(3))
    with pytest.raises(TypeError, match="^bias must be a bool"):
        conv.matrix_to_kernel(U, spec, bias="yes")
    with pytest.raises(ValueError, match="^kernel must be a non-empty 4-D array"):
        conv.kernel_to_matrix(np.zeros((0, 2, 3, 3)))
    rng = np.random.default_rng(0)
    Ws, bs = [rng.standard_normal((4, 5)), rng.standard_normal((5, 2))], [np.zeros(5), np.zeros(2)]
    with pytest.raises(ValueError, match="^density must be one number or a flat list"):
        nettrim.prune_network(Ws, bs, rng.standard_normal((30, 4)), density=np.array([[0.5, 0.7]]))


def test_a_memory_limit_names_the_first_layer_not_the_options_probe():
    from nettrim.reference.memory import ReferenceTooLarge

    rng = np.random.default_rng(0)
    Ws, bs = [rng.standard_normal((4, 5)), rng.standard_normal((5, 2))], [np.zeros(5), np.zeros(2)]
    with pytest.raises(ReferenceTooLarge, match=r"N=5, M=5, P=30"):
        nettrim.prune_network(Ws, bs, rng.standard_normal((30, 4)), epsilon=0.1, solver="reference", max_memory="1KB")
    with pytest.raises(ValueError, match="^max_memory: cannot read 'abc'"):
        nettrim.prune_network(Ws, bs, rng.standard_normal((30, 4)), epsilon=0.1, solver="reference", max_memory="abc")
