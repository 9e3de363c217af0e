"""The reference tried adversarially: units, dust, huge V, size, and statuses it must not take on trust."""

import itertools

import numpy as np
import pytest

from nettrim import GAP_TOL, VIOLATION_TOL, layer_problem, reference
from nettrim.experiments.layers import random_layer
from nettrim.reference import certify, memory, scaling
from nettrim.reference.cvx import Answer

SOLVERS = ["CLARABEL", "ECOS", "SCS", "HIGHS"]
# SCS (first order) needs tighter settings than its defaults to be compared at 1e-6; they act on the
# normalized program, so they mean the same in every unit.
OPTIONS = {"SCS": dict(eps_abs=1e-8, eps_rel=1e-8, max_iters=100_000)}


def _layer(activation, gain, seed=1):
    return random_layer(20, 4, 60, activation=activation, gain=gain, seed=seed)


def _solve(X, Y, eps, activation, solver, **kw):
    return reference.solve(X, Y, eps, activation=activation, solver=solver, **OPTIONS.get(solver, {}), **kw)


def _check_scaled(activation, gain, solver, k, j, base):
    d = _layer(activation, gain)
    X, Y = d.X * 10.0 ** k, d.Y * 10.0 ** j
    eps = gain * float(np.linalg.norm(Y))
    sol = _solve(X, Y, eps, activation, solver)
    assert sol.status not in ("infeasible", "unbounded"), (k, j, sol.summary())  # the program is feasible
    assert sol.status == base.status, (k, j, sol.summary(), base.summary())
    mapped = sol.objective * 10.0 ** (k - j)          # ‖U‖₁ scales by 10^(j−k)
    assert mapped == pytest.approx(base.objective, rel=1e-6), (k, j, solver)
    # the answer is checked in the caller's units: feasible, and its multiplier dual feasible there
    prob = layer_problem(X, Y, eps, activation=activation)
    assert prob.violation(sol.W) == sol.violation <= VIOLATION_TOL
    assert sol.dual is not None and prob.dual_infeasibility(sol.dual) <= 1e-12
    assert sol.gap == pytest.approx(prob.gap(sol.W, sol.dual, project=False)) and sol.gap <= GAP_TOL


SWEEP_CASES = [(a, g, s) for a in ("relu", "linear") for g in (0.0, 0.05) for s in SOLVERS if s != "HIGHS" or g == 0]


@pytest.mark.parametrize("activation, gain, solver", SWEEP_CASES)
def test_units_change_neither_status_nor_objective(activation, gain, solver):
    # X·1e-6, Y·1e6 made every back-end say "infeasible"; X·1e6, Y·1e-6 gave "optimal" 14 % above the
    # optimum. A representative subset here; the full sweep k, j ∈ −6..6 is the slow test below.
    d = _layer(activation, gain)
    base = _solve(d.X, d.Y, d.epsilon, activation, solver)
    assert base.status == "optimal", base.summary()
    for k, j in [(-6, 6), (6, -6), (-6, -6), (6, 6), (4, -4), (3, -1)]:
        _check_scaled(activation, gain, solver, k, j, base)


@pytest.mark.slow
@pytest.mark.parametrize("activation, gain, solver", SWEEP_CASES)
def test_units_full_sweep(activation, gain, solver):
    d = _layer(activation, gain)
    base = _solve(d.X, d.Y, d.epsilon, activation, solver)
    for k, j in itertools.product(range(-6, 7), repeat=2):
        _check_scaled(activation, gain, solver, k, j, base)


def test_weighted_l1_is_unit_free():
    d = _layer("relu", 0.05, seed=3)
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=(20, 4))
    base = reference.solve(d.X, d.Y, d.epsilon, weights=w)
    assert base.status == "optimal"
    sol = reference.solve(d.X * 1e5, d.Y * 1e-3, d.epsilon * 1e-3, weights=w)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(base.objective * 1e-8, rel=1e-6)   # Σ w|u| scales by 10^(j−k)
    np.testing.assert_allclose(sol.W * 1e8, base.W, atol=1e-6 * np.abs(base.W).max())
    prob = layer_problem(d.X * 1e5, d.Y * 1e-3, d.epsilon * 1e-3, weights=w)
    assert prob.dual_infeasibility(sol.dual) <= 1e-12                      # |XΛᵀ| ≤ w in the caller's units


def test_normalization_maps_weights_and_duals_back():
    d = _layer("relu", 0.05)
    prob = layer_problem(d.X * 1e3, d.Y * 1e-2, d.epsilon * 1e-2)
    norm = scaling.normalize(prob)
    assert np.max(np.abs(norm.prob.X)) == pytest.approx(1.0)
    assert np.linalg.norm(norm.prob.Y) / np.sqrt(norm.prob.Y.size) == pytest.approx(1.0)
    # a feasible U maps to a feasible U' and back, objective scaled by a/b
    U = d.W0 * 1e-5
    Un = U / norm.weight_scale
    assert norm.prob.violation(Un) == pytest.approx(prob.violation(U), abs=1e-12)
    np.testing.assert_allclose(norm.weights_back(Un), U)
    # a normalized multiplier maps to one with the same constraint value and the same relative gap
    Lam_n = norm.prob.project_dual(np.random.default_rng(1).standard_normal(prob.Y.shape))
    Lam = norm.dual_back(Lam_n)
    assert prob.dual_scale(Lam) == pytest.approx(norm.prob.dual_scale(Lam_n))
    assert prob.gap(U, Lam, project=False) == pytest.approx(norm.prob.gap(Un, Lam_n, project=False))


# ---------------------------------------------------------------------------------------------- zeros
@pytest.mark.parametrize("activation", ["relu", "linear"])
@pytest.mark.parametrize("solver", ["CLARABEL", "ECOS", "SCS"])
@pytest.mark.parametrize("factor", [1.0, 1.5])
def test_zero_answer_is_exactly_zero_and_optimal(activation, solver, factor):
    # ε ≥ ‖Y_Ω‖_F: U = 0 is feasible and the unique minimizer. The interior point returns 1e-8..1e-14
    # dust, which used to be counted in nnz and gave a gap > 1.
    d = _layer(activation, 0.0)
    sol = _solve(d.X, d.Y, factor * np.linalg.norm(d.Y), activation, solver)
    assert sol.status == "optimal", sol.summary()
    assert sol.nnz == 0 and sol.objective == 0.0 and sol.violation == 0.0 and sol.gap == 0.0


def test_dust_threshold_falls_back_when_zeroing_would_break_feasibility():
    # A sparse neuron with weights spanning 1 .. 3e-6, recovered exactly at ε = 0 (P well above the
    # transition). Zeroing relative to a caller's scale 10× max|W| (threshold 1e-5·max|W|) would delete the
    # smallest weight and break the equality constraints; the next threshold (1e-7) keeps it.
    rng = np.random.default_rng(0)
    N, P = 40, 120
    w = np.zeros((N, 1))
    w[:4, 0] = [1.0, -0.3, 0.02, 3e-6]
    X = rng.standard_normal((N, P))
    Y = np.maximum(w.T @ X, 0.0)
    sol = reference.solve(X, Y, 0.0, solver="HIGHS", zero_scale=10.0)
    assert sol.status == "optimal" and sol.violation <= VIOLATION_TOL
    np.testing.assert_allclose(sol.W, w, atol=1e-9)
    assert sol.nnz == 4
    assert sol.info["zero_threshold"] == pytest.approx(reference.ZERO_TOL * 1e-2 * 10.0)
    # without a caller's scale the default threshold (1e-6 of max|W|) keeps it too
    assert reference.solve(X, Y, 0.0, solver="HIGHS").nnz == 4


def test_zero_dust_unit():
    d = _layer("relu", 0.05)
    prob = layer_problem(d.X, d.Y, d.epsilon)
    W = d.W0.copy()
    W[0, 0] = 1e-12                                   # dust on a feasible point
    U, threshold = certify.zero_dust(prob, W, float(np.abs(W).max()))
    assert U[0, 0] == 0.0 and threshold == pytest.approx(certify.ZERO_TOL * np.abs(W).max())
    assert prob.violation(U) <= VIOLATION_TOL
    V, t = certify.zero_dust(prob, W, 1e12)           # every entry "dust": zeroing breaks the ball at ε < ‖Y‖
    np.testing.assert_array_equal(V, W)
    assert t == 0.0


# ---------------------------------------------------------------------------------------------- huge V
@pytest.mark.parametrize("solver", SOLVERS)
def test_huge_v_is_not_unbounded(solver):
    # V = 1e12 on the inactive set made the back-ends report "unbounded" or fail: a program with
    # objective ≥ 0 cannot be unbounded. Bounds that cannot bind are left out of the statement.
    d = _layer("relu", 0.0)
    V = np.where(d.Y > 0, 0.0, 1e12)
    sol = _solve(d.X, d.Y, 0.0, "relu", solver, V=V)
    assert sol.status == "optimal", sol.summary()
    assert sol.info["dropped_bounds"] == np.count_nonzero(d.Y == 0)
    exact = reference.solve(d.X, d.Y, 0.0, V=V, solver="HIGHS")
    assert sol.objective == pytest.approx(exact.objective, rel=1e-6)
    prob = layer_problem(d.X, d.Y, 0.0, V=V)
    # The reported dual is projected (scaled so that ‖XΛᵀ‖_max = 1): feasible up to the rounding of
    # that division, a few ulps of 1.
    assert sol.gap is not None and sol.gap <= GAP_TOL and prob.dual_infeasibility(sol.dual) <= 1e-12


@pytest.mark.parametrize("seed, binds", [(2, True), (1, False)])
def test_dropped_bounds_are_checked_and_stated_if_they_bind(monkeypatch, seed, binds):
    # Drop every bound (V_DROP below every V). Layer 2: the relaxed answer violates some, so the program is
    # solved again with all of them. Layer 1: it happens to satisfy them all, so it is the optimum as it is.
    # Either way the answer is that of the plain solve.
    d = _layer("relu", 0.05, seed=seed)
    plain = reference.solve(d.X, d.Y, d.epsilon)
    monkeypatch.setattr(scaling, "V_DROP", -1.0)
    sol = reference.solve(d.X, d.Y, d.epsilon)
    assert sol.status == "optimal" and sol.violation <= VIOLATION_TOL
    assert sol.info["dropped_bounds"] == (0 if binds else np.count_nonzero(d.Y == 0))
    assert sol.objective == pytest.approx(plain.objective, rel=1e-7)


def _fake_backend(monkeypatch, answer_for):
    """Replace the CVXPY back-end by one that answers ``answer_for(norm_prob)`` (normalized units)."""
    import nettrim.reference as ref_module

    monkeypatch.setattr(ref_module, "solve_cvx", lambda prob, name, stated, **kw: answer_for(prob))


def test_unbounded_from_a_backend_is_an_honest_failure(monkeypatch):
    _fake_backend(monkeypatch, lambda prob: Answer(None, None, "unbounded", "CVXPY status unbounded", {}))
    d = _layer("relu", 0.05)
    sol = reference.solve(d.X, d.Y, d.epsilon)
    assert sol.status == "solver_error" and "unbounded" in sol.info["message"] and ">= 0" in sol.info["message"]
    assert np.isnan(sol.W).all() and sol.gap is None


def test_optimal_needs_the_certified_gap(monkeypatch):
    # a feasible W with a useless multiplier (Λ = 0 certifies nothing: gap 1) is not "optimal"
    d = _layer("relu", 0.05)
    good = reference.solve(d.X, d.Y, d.epsilon)
    _fake_backend(monkeypatch, lambda prob: Answer(good.W / good.info["scale_y"] * good.info["scale_x"],
                                                   np.zeros(prob.Y.shape), "optimal", "", {}))
    sol = reference.solve(d.X, d.Y, d.epsilon)
    assert sol.violation <= VIOLATION_TOL and sol.gap == pytest.approx(1.0) and sol.status == "optimal_inaccurate"


def test_gap_is_reported_only_for_a_feasible_answer(monkeypatch):
    d = _layer("relu", 0.05)
    good = reference.solve(d.X, d.Y, d.epsilon)
    scale = good.info["scale_x"] / good.info["scale_y"]
    # the back-end's W scaled up 10 %: outside the ball, so the gap bounds nothing
    _fake_backend(monkeypatch, lambda prob: Answer(1.1 * good.W * scale, good.dual * good.info["scale_x"],
                                                   "optimal", "", {}))
    sol = reference.solve(d.X, d.Y, d.epsilon)
    assert sol.violation > VIOLATION_TOL and sol.gap is None and sol.status == "optimal_inaccurate"
    assert sol.dual is not None   # the multiplier is still returned, dual feasible


def test_infeasible_needs_a_ray_that_checks(monkeypatch):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((10, 40)), rng.standard_normal((3, 40))   # P > N: Y is not in the row space
    true = reference.solve(X, Y, 0.1, activation="linear", solver="SCS")
    assert true.status == "infeasible" and true.info["certificate"].valid
    prob = layer_problem(X, Y, 0.1, activation="linear")
    assert prob.check_certificate(true.dual).valid and np.linalg.norm(true.dual) == pytest.approx(1.0)
    # a back-end that claims infeasibility with a ray that proves nothing is not believed
    _fake_backend(monkeypatch, lambda p: Answer(None, rng.standard_normal(p.Y.shape), "infeasible", "claim", {}))
    d = _layer("relu", 0.05)
    sol = reference.solve(d.X, d.Y, d.epsilon)
    assert sol.status == "solver_error" and "does not check" in sol.info["message"]


# ---------------------------------------------------------------------------------------------- size guard
def test_size_guard_refuses_before_building(monkeypatch):
    import nettrim.reference as ref_module

    def never(*args, **kwargs):
        raise AssertionError("the program must not be built")

    monkeypatch.setattr(ref_module, "solve_cvx", never)
    monkeypatch.setattr(ref_module, "solve_highs", never)
    d = _layer("relu", 0.05)
    for solver in SOLVERS:
        eps = 0.0 if solver == "HIGHS" else d.epsilon
        with pytest.raises(reference.ReferenceTooLarge) as info:
            reference.solve(d.X, d.Y, eps, solver=solver, max_memory="1kB")
        assert isinstance(info.value, MemoryError) and isinstance(info.value, ValueError)
        text = str(info.value)
        assert "N=20, M=4, P=60" in text and "nettrim.fast.solve" in text and "max_memory" in text


def test_size_guard_default_refuses_an_mnist_layer():
    # 784×300 with P = 5000 aborted the interpreter (std::bad_alloc) instead of raising
    rng = np.random.default_rng(0)
    X = rng.standard_normal((784, 5000))
    Y = np.maximum(rng.standard_normal((300, 5000)), 0)
    with pytest.raises(MemoryError, match=r"N=784, M=300, P=5000.*nettrim\.fast\.solve"):
        reference.solve(X, Y, 1.0)
    est = reference.estimate_memory(784, 300, 5000, "CLARABEL")
    assert est > 100e9                                       # hundreds of GB: far beyond any default
    assert reference.estimate_memory(784, 300, 5000, "HIGHS") < est / 100   # one neuron at a time


def test_size_guard_lets_a_raised_limit_through():
    d = _layer("relu", 0.05)
    small = reference.estimate_memory(20, 4, 60, "CLARABEL")
    assert reference.solve(d.X, d.Y, d.epsilon, max_memory=small * 1.01).status == "optimal"
    assert reference.solve(d.X, d.Y, d.epsilon, max_memory=None).info["memory_estimate"] == small


@pytest.mark.parametrize("text, value", [("8GB", 8e9), ("512 MiB", 512 * 2**20), ("1.5e3kB", 1.5e6),
                                         (1000, 1000.0), ("2gib", 2 * 2**30)])
def test_parse_bytes(text, value):
    assert memory.parse_bytes(text) == value


@pytest.mark.parametrize("bad, exc", [("lots", ValueError), ("8 parsecs", ValueError), (-1, ValueError),
                                      (0, ValueError), (True, TypeError), ([8], TypeError), (float("inf"), ValueError)])
def test_parse_bytes_rejects(bad, exc):
    with pytest.raises(exc, match="max_memory"):
        memory.parse_bytes(bad)


def test_bad_zero_scale_is_named():
    d = _layer("relu", 0.05)
    with pytest.raises(ValueError, match="zero_scale"):
        reference.solve(d.X, d.Y, d.epsilon, zero_scale=-1.0)
    with pytest.raises(TypeError, match="zero_scale"):
        reference.solve(d.X, d.Y, d.epsilon, zero_scale="big")


@pytest.mark.parametrize("claim, with_dual, expected", [("optimal_inaccurate", True, "optimal"),
                                                        ("max_iter", True, "optimal"),
                                                        ("optimal_inaccurate", False, "optimal_inaccurate"),
                                                        ("max_iter", False, "max_iter")])
def test_status_rests_on_what_was_checked_not_on_the_claim(monkeypatch, claim, with_dual, expected):
    # A feasible W with a multiplier certifying a gap <= GAP_TOL is optimal whatever the back-end thought of
    # its own accuracy; without a multiplier only the back-end's word is left, and it is kept.
    d = _layer("relu", 0.05)
    good = reference.solve(d.X, d.Y, d.epsilon)
    scale = good.info["scale_x"] / good.info["scale_y"]
    Lam = good.dual * good.info["scale_x"] if with_dual else None
    _fake_backend(monkeypatch, lambda prob: Answer(good.W * scale, Lam, claim, "", {}))
    sol = reference.solve(d.X, d.Y, d.epsilon)
    assert sol.status == expected and sol.info["backend_status"] == claim
    assert sol.violation <= VIOLATION_TOL and (sol.gap is None) == (not with_dual)
