"""nettrim.fast.solve tells the truth: certificates of infeasibility checked from their definition, "optimal"
only within the violation/gap thresholds (recomputed with the shared spec), gaps only where they mean
something, agreement with the reference on seeded random layers, and clear errors for bad settings."""

from __future__ import annotations

import numpy as np
import pytest

import nettrim
import nettrim.reference as ref
from nettrim import fast
from nettrim.experiments.layers import random_layer
from nettrim.fast.admm import _Core
from nettrim.solution import GAP_TOL, VIOLATION_TOL


# ------------------------------------------------------------------------------------------- helpers
def rounded_layer(seed):
    """A rounded ReLU program: integer X and Y, ε = 1 — infeasible."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((20, 100)).round()
    Y = np.maximum(rng.standard_normal((20, 5)).T @ X, 0.0).round()
    return X, Y, 1.0


def random_nonnegative_layer(seed):
    """Random Y ≥ 0 (not the output of any layer) with P > N and ε = 5 % of ‖Y‖_F: infeasible."""
    rng = np.random.default_rng([21, seed])
    N = int(rng.integers(3, 15))
    P = int(rng.integers(N + 5, 4 * N + 20))
    M = int(rng.integers(1, 6))
    X = rng.standard_normal((N, P))
    Y = np.abs(rng.standard_normal((M, P))) * (rng.random((M, P)) < 0.6)
    return X, Y, 0.05 * float(np.linalg.norm(Y))


def assert_ray(prob, Lam):
    """Λ proves infeasibility, checked from the definition (independently of check_certificate)."""
    L = np.asarray(Lam, dtype=float) / np.linalg.norm(Lam)
    inactive = prob.inactive
    assert not inactive.any() or L[inactive].min() >= -1e-12                     # Λ_Ωᶜ ≥ 0
    b = prob.ball
    d = -L[b] @ prob.Y[b] - prob.epsilon * np.linalg.norm(L[b]) - L[inactive] @ prob.V[inactive]
    assert d > 1e-9 * prob.y_norm                                                 # d(Λ) > 0
    x_max = np.sqrt((prob.X ** 2).sum(axis=1).max())
    assert np.abs(prob.X @ L.T).max() <= 1e-6 * x_max * d / prob.y_norm           # ‖XΛᵀ‖_max ≈ 0


def small_case(i):
    """Seeded random feasible small layer i: N, M ≤ 8, P ≤ 30, relu/linear, with/without V and a bias row."""
    rng = np.random.default_rng([7, i])
    N, M, P = int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(2, 31))
    act = "relu" if rng.random() < 0.6 else "linear"
    bias = bool(rng.random() < 0.5) and N >= 2
    v = 0.2 if act == "relu" and rng.random() < 0.4 else 0.0
    gain = float(rng.choice([0.0, 0.01, 0.05, 0.1, 0.3]))
    return random_layer(N, M, P, activation=act, gain=gain, bias=bias, v_margin=v, seed=[11, i]), act


def assert_agrees_with_reference(i):
    layer, act = small_case(i)
    sol = fast.solve(layer.X, layer.Y, layer.epsilon, activation=act, V=layer.V)
    exact = ref.solve(layer.X, layer.Y, layer.epsilon, activation=act, V=layer.V,
                      solver="HIGHS" if layer.epsilon == 0 else "CLARABEL")
    assert exact.status == "optimal"
    assert sol.status == "optimal", (i, sol.status, sol.iterations)        # never max_iter, never "infeasible"
    assert sol.objective == pytest.approx(exact.objective, rel=1e-4, abs=1e-9), i
    prob = nettrim.layer_problem(layer.X, layer.Y, layer.epsilon, activation=act, V=layer.V)
    assert prob.violation(sol.W) <= VIOLATION_TOL and prob.gap(sol.W, sol.dual) <= GAP_TOL


# ------------------------------------------------------------------------------------------- infeasibility
@pytest.mark.parametrize("seed", range(4))
def test_rounded_relu_program_is_proved_infeasible(seed):
    X, Y, eps = rounded_layer(seed)
    sol = fast.solve(X, Y, eps)
    prob = nettrim.layer_problem(X, Y, eps)
    assert sol.status == "infeasible" and sol.iterations <= 500
    assert np.isnan(sol.W).all() and sol.gap is None
    assert prob.check_certificate(sol.dual).valid and sol.info["certificate"].valid
    assert_ray(prob, sol.dual)
    if seed == 0:
        assert ref.solve(X, Y, eps).status == "infeasible"


@pytest.mark.parametrize("seed", range(12))
def test_random_nonnegative_outputs_are_proved_infeasible(seed):
    X, Y, eps = random_nonnegative_layer(seed)
    sol = fast.solve(X, Y, eps)
    prob = nettrim.layer_problem(X, Y, eps)
    assert sol.status == "infeasible" and sol.iterations <= 500
    assert prob.check_certificate(sol.dual).valid
    assert_ray(prob, sol.dual)


def test_certificate_check_rejects_what_is_not_a_ray():
    X, Y, eps = rounded_layer(0)
    prob = nettrim.layer_problem(X, Y, eps)
    Lam = fast.solve(X, Y, eps).dual
    assert not prob.check_certificate(-Lam).valid                      # the wrong sign: d(Λ) < 0
    rng = np.random.default_rng(0)
    assert not prob.check_certificate(Lam + 1e-3 * np.linalg.norm(Lam) * rng.random(Lam.shape)).valid


def test_certificate_tolerance_is_the_ratio_of_residual_to_value():
    """A near-ray with r/v between 1e-6 and 1e-3 fails at the default tol (1e-6) and passes at tol = 1e-3."""
    X, Y, eps = rounded_layer(0)
    prob = nettrim.layer_problem(X, Y, eps)
    Lam = fast.solve(X, Y, eps).dual
    cert = prob.check_certificate(Lam)
    assert cert.valid and cert.dual_residual <= nettrim.CERTIFICATE_TOL * cert.dual_value
    # perturb the ball part only (the sign constraint on Ωᶜ stays met): the residual grows linearly in the size
    D = np.where(prob.ball, np.random.default_rng(1).standard_normal(Lam.shape), 0.0)
    near = Lam + 2e-6 * np.linalg.norm(Lam) / np.linalg.norm(D) * D
    c = prob.check_certificate(near)
    assert c.sign_violation == 0.0 and 1e-6 < c.dual_residual / c.dual_value < 1e-3
    assert not c.valid
    assert prob.check_certificate(near, tol=1e-3).valid


def test_weighted_certificate():
    """With ℓ1 weights w the ray is the same, its residual is measured in w/min w, and its lower bound on
    Σ w|u| is d(Λ)/max|XΛᵀ|/w: scaling w by c keeps it valid and scales the bound by c."""
    X, Y, eps = rounded_layer(2)
    w = np.random.default_rng(3).uniform(0.5, 2.0, (X.shape[0], Y.shape[0]))
    sol = fast.solve(X, Y, eps, weights=w)
    assert sol.status == "infeasible"
    prob = nettrim.layer_problem(X, Y, eps, weights=w)
    cert = prob.check_certificate(sol.dual)
    assert cert.valid
    L = sol.dual / np.linalg.norm(sol.dual)
    assert L[prob.inactive].min() >= -1e-12                                       # Λ_Ωᶜ ≥ 0
    d = prob.dual_objective(L)
    assert d > 1e-9 * prob.y_norm                                                 # d(Λ) > 0
    G = np.abs(X @ L.T)
    x_max = np.sqrt((X ** 2).sum(axis=1).max())
    assert np.max(G * w.min() / w) <= 1e-6 * x_max * d / prob.y_norm              # ‖XΛᵀ/w̄‖_max ≈ 0
    # the formulas of the bound and the residual, on a ray moved off the null space (the solver's ray is
    # exact to round-off since small programs project onto the cone of rays, and round-off has no formula)
    L2 = L + 1e-6 * np.where(prob.inactive, 0.0, np.random.default_rng(4).standard_normal(L.shape))
    L2 /= np.linalg.norm(L2)
    c2, G2 = prob.check_certificate(L2), np.abs(X @ L2.T)
    assert c2.lower_bound == pytest.approx(prob.dual_objective(L2) / np.max(G2 / w), rel=1e-9)
    assert c2.dual_residual == pytest.approx(np.max(G2 / (w / w.min())) / x_max, rel=1e-9)
    scaled = nettrim.layer_problem(X, Y, eps, weights=10.0 * w).check_certificate(sol.dual)
    assert scaled.valid and scaled.dual_residual == pytest.approx(cert.dual_residual, rel=1e-12)
    assert scaled.lower_bound == pytest.approx(10.0 * cert.lower_bound, rel=1e-12)


# ------------------------------------------------------------------------------------------- honest status
def _layers():
    """Feasible layers of several shapes (relu/linear, ε = 0 and > 0, bias, V, P < N and P > N)."""
    out = []
    for k, (N, M, P, act, gain, bias, v) in enumerate([
            (30, 5, 80, "relu", 0.05, False, 0.0), (30, 5, 80, "relu", 0.0, True, 0.0),
            (30, 5, 20, "relu", 0.1, True, 0.0), (30, 5, 80, "relu", 0.1, False, 0.3),
            (30, 5, 80, "linear", 0.05, False, 0.0), (30, 5, 20, "linear", 0.0, True, 0.0),
            (40, 3, 120, "linear", 0.02, True, 0.0), (20, 6, 60, "relu", 0.01, False, 0.0)]):
        layer = random_layer(N, M, P, activation=act, gain=gain, bias=bias, v_margin=v, seed=[5, k])
        out.append((layer, act))
    return out


@pytest.mark.parametrize("options", [{}, dict(fast.PRUNING_OPTIONS), {"eps_abs": 1e-3, "eps_rel": 1e-2},
                                     {"eps_violation": 1e-3, "eps_gap": 1e-2, "eps_abs": 1e-3, "eps_rel": 1e-2}])
def test_no_optimal_answer_beyond_its_thresholds(options):
    """Whatever the tolerances, "optimal" means the recomputed violation and certified gap meet them."""
    tol_v = options.get("eps_violation", VIOLATION_TOL)
    tol_g = options.get("eps_gap", GAP_TOL)
    for layer, act in _layers():
        sol = fast.solve(layer.X, layer.Y, layer.epsilon, activation=act, V=layer.V, **options)
        assert sol.status == "optimal"
        prob = nettrim.layer_problem(layer.X, layer.Y, layer.epsilon, activation=act, V=layer.V)
        assert prob.violation(sol.W) <= tol_v and sol.violation == prob.violation(sol.W)
        assert prob.dual_infeasibility(sol.dual) <= 1e-9              # the Λ behind the gap is dual-feasible
        assert abs(prob.gap(sol.W, sol.dual, project=False)) <= tol_g
        assert sol.gap == pytest.approx(prob.gap(sol.W, sol.dual, project=False), abs=1e-12)
        assert nettrim.fast.solve(layer.X, layer.Y, layer.epsilon, activation=act, V=layer.V).status == "optimal"


@pytest.mark.parametrize("max_iter", [1, 3, 10, 25, 40])
def test_gap_only_for_a_feasible_answer_and_a_dual_feasible_multiplier(max_iter):
    for layer, act in _layers():
        sol = fast.solve(layer.X, layer.Y, layer.epsilon, activation=act, V=layer.V, max_iter=max_iter)
        prob = nettrim.layer_problem(layer.X, layer.Y, layer.epsilon, activation=act, V=layer.V)
        if sol.status != "optimal":
            assert sol.status == "max_iter"
        if sol.gap is None:
            assert prob.violation(sol.W) > VIOLATION_TOL and sol.status != "optimal"
            continue
        assert prob.violation(sol.W) <= VIOLATION_TOL
        assert prob.dual_infeasibility(sol.dual) <= 1e-9
        # the gap is reported as computed (not clipped at 0), and "optimal" only within ±eps_gap
        assert sol.gap == pytest.approx(prob.gap(sol.W, sol.dual, project=False), abs=1e-12)
        assert sol.status != "optimal" or abs(sol.gap) <= GAP_TOL
        # weak duality: the certified bound never exceeds the optimum
        assert prob.dual_objective(sol.dual) <= prob.objective(sol.W) * (1 + 1e-9)


def test_a_stopped_feasible_answer_reports_its_uncertified_gap():
    """The case the test above is about, found by scanning max_iter: a W within the violation tolerance
    whose run stopped before it was certified reports its gap, from a dual-feasible Λ, with status "max_iter"."""
    layers = _layers()
    for k in [4] + [i for i in range(len(layers)) if i != 4]:   # measured: layer 4 at 28 iterations
        layer, act = layers[k]
        prob = nettrim.layer_problem(layer.X, layer.Y, layer.epsilon, activation=act, V=layer.V)
        for max_iter in range(11, 80):
            sol = fast.solve(layer.X, layer.Y, layer.epsilon, activation=act, V=layer.V, max_iter=max_iter)
            if sol.status == "max_iter" and sol.gap is not None:
                assert prob.violation(sol.W) <= VIOLATION_TOL
                assert sol.gap == pytest.approx(max(prob.gap(sol.W, sol.dual, project=False), 0.0), abs=1e-12)
                assert prob.dual_infeasibility(sol.dual) <= 1e-9
                assert prob.dual_objective(sol.dual) <= prob.objective(sol.W) * (1 + 1e-9)
                return
            if sol.status == "optimal":
                break
    pytest.fail("no run stopped with a feasible W and an uncertified gap")


# ------------------------------------------------------------------------------------------- agreement
SLOW_CASES = 300
FAST_CASES = 40


@pytest.mark.parametrize("i", range(FAST_CASES))
def test_random_small_layers_agree_with_the_reference(i):
    assert_agrees_with_reference(i)


@pytest.mark.slow
@pytest.mark.parametrize("i", range(FAST_CASES, SLOW_CASES))
def test_random_small_layers_agree_with_the_reference_all(i):
    assert_agrees_with_reference(i)


# ------------------------------------------------------------------------------------------- pieces
def test_reduced_linear_violation_counts_the_unreachable_residual():
    """The linear reduction's violation is the original program's: ‖WᵀX − Y‖² = ‖WᵀX̃ − Ỹ‖² + ‖Y⊥‖²."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((8, 50))
    Y = rng.standard_normal((3, 8)) @ X + 0.3 * rng.standard_normal((3, 50))
    Q = np.linalg.qr(X.T)[0]
    y_perp = np.linalg.norm(Y - Y @ Q @ Q.T)
    prob = nettrim.layer_problem(X, Y, 1.2 * y_perp, activation="linear")
    core = _Core(prob)
    assert core.reduction is not None
    W_ls = np.linalg.lstsq(X.T, Y.T, rcond=None)[0]               # the least residual: ‖Y⊥‖ < ε, feasible
    for W in (W_ls, 0.9 * W_ls, W_ls + 0.01 * rng.standard_normal(W_ls.shape), np.zeros_like(W_ls)):
        assert core.violation(core.w_in(W)) == pytest.approx(prob.violation(W), rel=1e-9, abs=1e-12)
    sol = fast.solve(X, Y, 1.2 * y_perp, activation="linear")
    exact = ref.solve(X, Y, 1.2 * y_perp, activation="linear")
    assert sol.status == "optimal" and sol.objective == pytest.approx(exact.objective, rel=1e-4)


def test_published_admm_duals_certify_its_answer():
    """At convergence the published ADMM's W² and Λ = −ρU¹ certify a small gap: its soft threshold must be
    exactly 1/ρ (any other threshold solves a rescaled objective, whose multiplier is off by that factor)."""
    layer = random_layer(12, 3, 40, activation="relu", gain=0.1, seed=[3, 1])
    exact = ref.solve(layer.X, layer.Y, layer.epsilon)
    sol = fast.paper_admm(layer.X, layer.Y, layer.epsilon, rho=10.0, max_iter=4000, stop_tol=0.0)
    assert sol.objective == pytest.approx(exact.objective, rel=1e-5)
    assert sol.gap is not None and abs(sol.gap) <= 1e-5


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_relaxed_eps0_answer_is_certified_for_the_exact_program(monkeypatch, activation):
    """When ε = 0 is not certified early, the program at ε' = ½·eps_violation·‖Y‖_F finishes it; its answer
    must still be within eps_violation and eps_gap of the ε = 0 program itself (recomputed with the shared
    spec) and agree with the exact LP. The switch is forced before the first polish to reach that path."""
    import nettrim.fast.admm as admm

    monkeypatch.setattr(admm, "_RELAX_AFTER", 10)
    layer = random_layer(15, 3, 60, activation=activation, gain=0.0, seed=[4, 2])
    sol = fast.solve(layer.X, layer.Y, 0.0, activation=activation)
    relaxed = sol.info["relaxed"]
    assert relaxed is not None and relaxed["exact_iterations"] == 10
    assert relaxed["epsilon"] == pytest.approx(0.5 * VIOLATION_TOL * np.linalg.norm(layer.Y))
    prob = nettrim.layer_problem(layer.X, layer.Y, 0.0, activation=activation)
    assert sol.status == "optimal"
    assert prob.violation(sol.W) <= VIOLATION_TOL
    assert prob.dual_infeasibility(sol.dual) <= 1e-9
    assert prob.gap(sol.W, sol.dual, project=False) <= GAP_TOL
    exact = ref.solve(layer.X, layer.Y, 0.0, activation=activation, solver="HIGHS")
    assert sol.objective == pytest.approx(exact.objective, rel=1e-3)
    its = sol.info["history"]["iteration"]
    assert its == sorted(its) and its[-1] <= sol.iterations


@pytest.mark.parametrize("activation, nonzero_v", [("relu", False), ("relu", True), ("linear", False)])
def test_eps0_crossover_reaches_the_exact_lp_optimum(monkeypatch, activation, nonzero_v):
    """With the active-set polish disabled, the simplex crossover alone must certify ε = 0 at the first
    polish (iteration 30) and meet the exact LP (HiGHS) to round-off."""
    import nettrim.fast.admm as admm

    monkeypatch.setattr(admm, "polish_equality", lambda *args, **kwargs: None)
    layer = random_layer(25, 4, 60, activation=activation, gain=0.0, seed=[5, 1])
    V = None
    if nonzero_v:
        V = np.where(layer.Y > 0, 0.0, np.random.default_rng(0).uniform(0.0, 0.5, layer.Y.shape))
    sol = fast.solve(layer.X, layer.Y, 0.0, activation=activation, V=V)
    assert sol.status == "optimal" and sol.info["crossovers"] >= 1 and sol.iterations <= 60
    prob = nettrim.layer_problem(layer.X, layer.Y, 0.0, activation=activation, V=V)
    assert prob.violation(sol.W) <= 1e-9
    assert prob.gap(sol.W, sol.dual, project=False) <= 1e-8
    exact = ref.solve(layer.X, layer.Y, 0.0, activation=activation, V=V, solver="HIGHS")
    assert sol.objective == pytest.approx(exact.objective, rel=1e-8)


def test_crossover_prices_in_every_input_it_needs():
    """From an empty iterate and a zero multiplier (no hint at all) column generation still ends at the
    optimum: every input of the optimal support has to enter by pricing or by the feasibility growth."""
    from nettrim.fast._crossover import crossover_equality

    layer = random_layer(20, 3, 40, activation="relu", gain=0.0, seed=[5, 2])
    prob = nettrim.layer_problem(layer.X, layer.Y, 0.0)
    M, N = layer.Y.shape[0], layer.X.shape[0]
    got = crossover_equality(layer.X, layer.Y, np.zeros_like(layer.Y), prob.active, np.zeros((M, N)),
                             np.zeros_like(layer.Y), None, lambda Wt, y1: True)
    assert got is not None
    Wt, y1 = got
    exact = ref.solve(layer.X, layer.Y, 0.0, solver="HIGHS")
    assert np.abs(Wt).sum() == pytest.approx(exact.objective, rel=1e-8)
    assert prob.violation(Wt.T) <= 1e-9 and prob.dual_infeasibility(-y1) <= 1e-6


def test_neuron_qp_with_generated_constraints_solves_the_whole_qp(monkeypatch):
    """The polish's fixed-t neuron QP starts from a few inequalities and adds the ones its answer breaks:
    from an uninformative start it must end on the face (signs, tight inequalities) of the QP with every
    inequality."""
    import nettrim.fast._polish as pol

    layer = random_layer(15, 4, 400, activation="relu", gain=0.05, seed=[6, 1])
    rng = np.random.default_rng(1)
    V = np.zeros_like(layer.Y)
    ball = layer.Y > 0
    polisher = pol.BallPolish(layer.X, layer.Y, V, ball, layer.epsilon)
    polisher._z_admm = rng.standard_normal(layer.Y.shape)   # a useless hint: generation must do the work
    C_row = np.ones(layer.X.shape[0], dtype=bool)
    faces = {}
    for share, minimum in ((1.0, 200), (0.05, 5)):
        monkeypatch.setattr(pol, "_WORKING_SET", share)
        monkeypatch.setattr(pol, "_WORKING_MIN", minimum)
        faces[share] = [polisher._neuron_qp(m, C_row, 5.0) for m in range(layer.Y.shape[0])]
    assert sum(int(face[2].sum()) for face in faces[1.0]) >= 4      # inequalities that bind at this t
    for full, generated in zip(faces[1.0], faces[0.05], strict=True):
        for a, b in zip(full, generated, strict=True):
            np.testing.assert_array_equal(a, b)
    # and the generation had work to do: without the inequalities the QP's answer breaks some
    m = 0
    Oc = np.flatnonzero(~ball[m])
    H, g = polisher._normal_equations(m, np.arange(layer.X.shape[0]))
    B = layer.X[:, Oc].T
    _, _, u = pol._lasso_qp(H / 5.0, g / 5.0, np.ones(layer.X.shape[0]), B[:0], V[m, Oc[:0]])
    assert np.any(B @ u > V[m, Oc] + 1e-8)


def test_least_norm_schur_equals_lstsq_on_a_singular_complement():
    """More tight inequalities than weights (|T| > k, repeated columns as identical patches give): the face
    solve's Schur complement B H⁻¹ Bᵀ is singular and its least-norm multiplier from the thin SVD of L⁻¹Bᵀ
    must equal lstsq's on the |T|×|T| matrix, and solve the system where it is consistent."""
    from scipy.linalg import cholesky, lstsq

    import nettrim.fast._polish as pol

    rng = np.random.default_rng(9)
    k, nT = 6, 40
    A = rng.standard_normal((30, k))
    H = A.T @ A
    Bt = rng.standard_normal((k, 10))[:, rng.integers(0, 10, nT)]     # 40 columns, only 10 distinct
    rhs = rng.standard_normal((nT, 2))
    L = cholesky(H, lower=True)
    Sc = Bt.T @ np.linalg.solve(H, Bt)
    got = pol._least_norm_schur(L, Bt, rhs)
    want = lstsq(Sc, rhs, cond=1e-12, lapack_driver="gelsd")[0]
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    consistent = Sc @ rng.standard_normal((nT, 2))
    np.testing.assert_allclose(Sc @ pol._least_norm_schur(L, Bt, consistent), consistent, atol=1e-9)


def test_multiplier_lp_meets_its_conditions_or_proves_there_is_none():
    """The polish's multiplier LP: λ ≥ 0 of least Σλ with (X_Rλ)_S = b and |g₀ + X_Rλ| ≤ c off S.
    Planted: a sparse λ* meets them, so the answer must too, at no larger Σλ; on a column subset that holds
    supp(λ*) it is feasible as well (what _repair_dual tries first); and equalities that no λ ≥ 0 can meet
    (positive rows, negative right-hand side) give None."""
    import nettrim.fast._polish as pol

    rng = np.random.default_rng(8)
    N, R = 30, 400
    XR = rng.standard_normal((N, R))
    lam_star = np.zeros(R)
    lam_star[rng.choice(R, 6, replace=False)] = rng.uniform(0.5, 2.0, 6)
    g0 = 0.1 * rng.standard_normal(N)
    z = g0 + XR @ lam_star
    S = np.zeros(N, dtype=bool)
    S[:3] = True
    cost = np.abs(z) + 0.05
    b = z[S] - g0[S]
    x = pol._multiplier_lp(XR, g0, cost, S, b)
    assert x is not None and np.all(x >= -1e-12)
    g = g0 + XR @ x
    np.testing.assert_allclose(g[S], z[S], atol=1e-7)
    assert np.all(np.abs(g[~S]) <= cost[~S] + 1e-7)
    assert x.sum() <= lam_star.sum() + 1e-7
    cols = np.union1d(np.flatnonzero(lam_star), rng.choice(R, 40, replace=False))
    assert pol._multiplier_lp(XR[:, cols], g0, cost, S, b) is not None
    assert pol._multiplier_lp(np.abs(XR), g0, cost, S, -np.ones(3)) is None


@pytest.mark.parametrize("activation, nonzero_v", [("relu", False), ("relu", True), ("linear", False)])
def test_single_precision_iteration_gives_the_certified_double_answer(activation, nonzero_v):
    """iteration_dtype="float32" runs the loop in float32 (its operands are float32) and still returns a
    float64 W certified from the float64 definitions, with the objective of the float64 run."""
    from nettrim.fast._xp import NUMPY32

    layer = random_layer(40, 6, 300, activation=activation, gain=0.05, seed=[7, 1])
    V = None
    if nonzero_v:
        V = np.where(layer.Y > 0, 0.0, np.random.default_rng(3).uniform(0.0, 0.2, layer.Y.shape))
    prob = nettrim.layer_problem(layer.X, layer.Y, layer.epsilon, activation=activation, V=V)
    assert _Core(prob, NUMPY32).step.X.dtype == np.float32
    double = fast.solve(layer.X, layer.Y, layer.epsilon, activation=activation, V=V)
    single = fast.solve(layer.X, layer.Y, layer.epsilon, activation=activation, V=V, iteration_dtype="float32")
    assert single.status == "optimal" and single.info["iteration_dtype"] == "float32"
    assert single.W.dtype == np.float64
    assert prob.violation(single.W) <= VIOLATION_TOL
    assert prob.gap(single.W, single.dual, project=False) <= GAP_TOL
    assert single.objective == pytest.approx(double.objective, rel=2 * GAP_TOL)


def test_single_precision_goes_on_in_double_when_not_certified(monkeypatch):
    import nettrim.fast.admm as admm

    monkeypatch.setattr(admm, "_SINGLE_AFTER", 10)
    layer = random_layer(40, 6, 300, activation="relu", gain=0.05, seed=[7, 2])
    sol = fast.solve(layer.X, layer.Y, layer.epsilon, iteration_dtype="float32", polish=False)
    assert sol.info["double_after"] == 10 and sol.info["iteration_dtype"] == "float64"
    assert sol.status == "optimal" and sol.iterations > 10
    its = sol.info["history"]["iteration"]
    assert its == sorted(its) and its[0] == 10
    exact = ref.solve(layer.X, layer.Y, layer.epsilon)
    assert sol.objective == pytest.approx(exact.objective, rel=1e-4)
    # ε = 0 (a linear program) always iterates in float64
    lp = fast.solve(layer.X, layer.Y, 0.0, iteration_dtype="float32")
    assert lp.info["iteration_dtype"] == "float64" and lp.status == "optimal"


def test_single_precision_overflow_restarts_in_double(monkeypatch):
    """Float32 iterates that leave their range (status solver_error) are not the answer: the run starts
    over in float64 and ends certified."""
    import nettrim.fast.admm as admm
    from nettrim.fast._xp import NUMPY32

    run = admm._Core.run

    def overflowing(self, *args, **kwargs):
        state = run(self, *args, **{**kwargs, "max_iter": 10} if self.bk is NUMPY32 else kwargs)
        if self.bk is NUMPY32:
            state.update(status=admm.SOLVER_ERROR, message="overflow")
        return state

    monkeypatch.setattr(admm._Core, "run", overflowing)
    layer = random_layer(40, 6, 300, activation="relu", gain=0.05, seed=[7, 3])
    sol = fast.solve(layer.X, layer.Y, layer.epsilon, iteration_dtype="float32")
    assert sol.status == "optimal" and sol.info["double_after"] == 10
    exact = ref.solve(layer.X, layer.Y, layer.epsilon)
    assert sol.objective == pytest.approx(exact.objective, rel=1e-4)


def test_iteration_dtype_is_checked():
    layer = random_layer(6, 2, 20, activation="relu", gain=0.05, seed=[1, 2])
    for bad in ("float16", "double", 32, np.int32):
        with pytest.raises(ValueError, match="iteration_dtype"):
            fast.solve(layer.X, layer.Y, layer.epsilon, iteration_dtype=bad)
    for ok in ("float64", np.float64, np.dtype("float32")):
        assert fast.solve(layer.X, layer.Y, layer.epsilon, iteration_dtype=ok).status == "optimal"
    torch = pytest.importorskip("torch")
    X, Y = torch.tensor(layer.X), torch.tensor(layer.Y)
    with pytest.raises(ValueError, match="iteration_dtype"):
        fast.solve(X, Y, layer.epsilon, iteration_dtype="float32")
    assert fast.solve(X, Y, layer.epsilon, iteration_dtype="float64").status == "optimal"


def test_settings_are_checked():
    layer = random_layer(6, 2, 20, activation="relu", gain=0.05, seed=[1, 2])
    for bad in ("yes", 1, None, np.array([True])):
        with pytest.raises(TypeError, match="verbose"):
            fast.solve(layer.X, layer.Y, layer.epsilon, verbose=bad)
    for rho in (1e300, 1e-300, float("inf"), float("nan"), -1.0, 0.0):
        with pytest.raises(ValueError, match="rho"):
            fast.solve(layer.X, layer.Y, layer.epsilon, rho=rho)
    with pytest.raises(TypeError, match="rho"):
        fast.solve(layer.X, layer.Y, layer.epsilon, rho="1")
    for name in ("eps_gap", "eps_violation"):
        with pytest.raises(ValueError, match=name):
            fast.solve(layer.X, layer.Y, layer.epsilon, **{name: -1.0})
    with pytest.raises(TypeError, match="unexpected keyword"):
        fast.solve(layer.X, layer.Y, layer.epsilon, tolerance=1e-3)


# ------------------------------------------------------------------------------------------- trained layers
@pytest.fixture(scope="module")
def bench_out(tmp_path_factory):
    """The output folder of the benchmark's trained-layer instances (the digits model is trained once)."""
    return tmp_path_factory.mktemp("bench")


QUICK_TRAINED = ["digits-L1-e0.05", "digits-L2-e0.05", "digits-L3-e0.05", "digits-L3-e0"]


def _assert_trained_layer_converges(name, out):
    from nettrim.experiments.bench_instances import load_instance

    X, Y, eps, act, V = load_instance(name, out)
    sol = fast.solve(X, Y, eps, activation=act, V=V)          # the defaults: what a user gets
    assert sol.status == "optimal", (name, sol.status, sol.iterations)
    prob = nettrim.layer_problem(X, Y, eps, activation=act, V=V)
    assert prob.violation(sol.W) <= VIOLATION_TOL and prob.gap(sol.W, sol.dual) <= GAP_TOL


@pytest.mark.parametrize("name", QUICK_TRAINED)
def test_trained_digits_layers_converge_at_the_defaults(name, bench_out):
    _assert_trained_layer_converges(name, bench_out)


@pytest.mark.slow
def test_trained_digits_family_converges_at_the_defaults(bench_out):
    from nettrim.experiments.bench_instances import real_names

    for name in real_names(("digits",)):
        _assert_trained_layer_converges(name, bench_out)


def test_degenerate_trained_layer_lp_is_polished_to_the_highs_optimum(bench_out):
    """ε = 0 on a trained ReLU layer is a degenerate LP (digits layer 1: rank(X) = 59 < 60 live inputs, a
    vertex per neuron with as many nonzeros as its active rows): ADMM alone takes > 50,000 iterations to a
    1e-4 violation. The polish completes the iterate's support to a vertex and certifies it early."""
    from nettrim.experiments.bench_instances import load_instance

    X, Y, _, _, _ = load_instance("digits-L1-e0.05", bench_out)
    rng = np.random.default_rng(7)
    cols = np.sort(rng.permutation(X.shape[1])[:300])
    rows = np.sort(rng.permutation(np.flatnonzero(Y[:, cols].max(axis=1) > 0))[:16])
    X, Y = X[:, cols], Y[rows][:, cols]
    sol = fast.solve(X, Y, 0.0, max_iter=2000)
    exact = ref.solve(X, Y, 0.0, solver="HIGHS")
    assert exact.status == "optimal"
    assert sol.status == "optimal", (sol.status, sol.iterations)
    assert sol.info["polished"]
    prob = nettrim.layer_problem(X, Y, 0.0)
    assert prob.violation(sol.W) <= VIOLATION_TOL and prob.gap(sol.W, sol.dual) <= GAP_TOL
    assert sol.objective == pytest.approx(exact.objective, rel=1e-6)


def test_neuron_qp_with_generated_inputs_solves_the_whole_qp(monkeypatch):
    """With many candidate inputs and a small start (``first``, the ADMM iterate's support) the neuron QP
    prices the inputs it left out with the multipliers of its answer and adds those that break their
    optimality condition: from an uninformative start it must end on the face of the QP on every candidate."""
    import nettrim.fast._polish as pol

    layer = random_layer(150, 4, 400, activation="relu", gain=0.3, seed=[6, 2])
    ball = layer.Y > 0
    V = np.zeros_like(layer.Y)
    polisher = pol.BallPolish(layer.X, layer.Y, V, ball, layer.epsilon)
    polisher._z_admm = layer.W0.T @ layer.X
    N = layer.X.shape[0]
    C_row = np.ones(N, dtype=bool)
    rng = np.random.default_rng(2)
    entered = 0
    for m in range(layer.Y.shape[0]):
        full = polisher._neuron_qp(m, C_row, 2.0)
        first = np.zeros(N, dtype=bool)
        first[rng.choice(N, 10, replace=False)] = True          # a useless hint: pricing must do the work
        generated = polisher._neuron_qp(m, C_row, 2.0, first=first)
        for a, b in zip(full, generated, strict=True):
            np.testing.assert_array_equal(a, b)
        entered += int((full[0] & ~first).sum())
    assert entered >= 20            # inputs outside the start that the answer needs had to be priced in


@pytest.mark.parametrize("v", [1e8, 1e12, 1e50])
def test_a_bound_that_never_binds_does_not_spoil_the_certificate(v):
    """With V = 1e12 on Ωᶜ (a bound meant never to bind) the iterate's round-off multipliers there (1e-16)
    cost −λ·V in the dual value: the solver ran to max_iter with the right W. The complementary multiplier
    (zero where W leaves the bound slack) certifies it, and the certificate checks from its definition."""
    rng = np.random.default_rng(0)
    W0, X = rng.standard_normal((6, 8)), rng.standard_normal((6, 60))
    Y = np.maximum(W0.T @ X, 0)
    V = np.full_like(Y, v)
    prob = nettrim.layer_problem(X, Y, 0.1 * np.linalg.norm(Y), V=V)
    sol = fast.solve(X, Y, prob.epsilon, V=V)
    assert sol.status == "optimal" and sol.iterations < 1000
    assert prob.violation(sol.W) <= VIOLATION_TOL
    assert prob.dual_infeasibility(sol.dual) <= 1e-9 and np.all(sol.dual[prob.inactive] >= 0)
    assert abs(prob.gap(sol.W, sol.dual, project=False)) <= GAP_TOL
    # the same program without the bound (V = 1e8 already never binds): the same optimum
    ref = nettrim.reference.solve(X, Y, prob.epsilon, V=np.full_like(Y, 1e8))
    assert sol.objective == pytest.approx(ref.objective, rel=2 * GAP_TOL)


def test_complementary_dual_zeroes_only_slack_multipliers_and_stays_dual_feasible():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 30))
    Y = np.maximum(rng.standard_normal((5, 4)).T @ X, 0)
    prob = nettrim.layer_problem(X, Y, 0.1 * np.linalg.norm(Y))
    U = rng.standard_normal((5, 4))
    Lam = rng.standard_normal((4, 30))
    L = prob.complementary_dual(U, Lam)
    Z = U.T @ X
    slack = prob.inactive & (Z < -1e-9 * prob.y_max)
    assert np.all(L[slack] == 0) and np.all(L[prob.inactive] >= 0)
    assert prob.dual_infeasibility(L) <= 1e-12
    # off the slack set it is the input, up to the one positive factor of project_dual
    keep = ~slack & (np.abs(Lam) > 0) & ~(prob.inactive & (Lam < 0))
    ratio = L[keep] / Lam[keep]
    assert np.allclose(ratio, ratio[0]) and 0 < ratio[0] <= 1


def test_a_multiplier_that_proves_the_answer_below_the_optimum_is_final():
    """The certifier's second candidate (the complementary multiplier) must not undo the first one's proof:
    one ReLU neuron with p* = 0.9 (Ωᶜ needs u ≥ 0.5 at V = −0.5), W = 0.9·(1 − 0.005) within a violation
    tolerance of 1e-2, and a dual-feasible Λ₁ whose gap −2.8e-3 proves W 0.5 % below p*. Zeroing Λ₁'s slack
    multiplier gives a gap of 0; the certifier accepted W with it until a gap below −eps_gap became final."""
    import types

    X, Y, V = np.array([[1.0, -1.0]]), np.array([[1.0, 0.0]]), np.array([[0.0, -0.5]])
    prob = nettrim.layer_problem(X, Y, 0.1, V=V)
    W = np.array([[0.9 * (1 - 5e-3)]])
    Lam1 = np.array([[-1 + 5e-3, 5e-3]])
    assert prob.dual_infeasibility(Lam1) == 0 and prob.gap(W, Lam1, project=False) < -1e-3
    assert abs(prob.gap(W, prob.complementary_dual(W, Lam1), project=False)) <= 1e-3
    core = types.SimpleNamespace(bk=types.SimpleNamespace(single=False), prob=prob, violation=prob.violation,
                                 w_out=lambda Ws: Ws, lam_out=lambda y1: y1)
    assert _Core.certify(core, W.T.copy(), Lam1, 1e-2, 1e-3) is None


def test_the_gap_is_reported_as_computed_below_zero_too():
    """ε = 1e-7·‖Y‖_F on input rows 1e±3 apart at the pruning grade: the W within eps_violation = 1e-4 is
    8 % below the dual value of its own multiplier. The gap was reported clipped to 0 (and the status rested
    on it); it is reported as computed, and the answer is not "optimal"."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((5, 9)) * np.logspace(-3, 3, 5)[:, None]
    W = rng.standard_normal((5, 7)) * (rng.random((5, 7)) < 0.5)
    Y = W.T @ X
    prob = nettrim.layer_problem(X, Y, 1e-7 * np.linalg.norm(Y), activation="linear")
    sol = fast.solve(X, Y, prob.epsilon, activation="linear", eps_violation=1e-4, eps_gap=1e-3)
    assert sol.gap is not None and sol.gap < -1e-3
    assert sol.gap == pytest.approx(prob.gap(sol.W, sol.dual, project=False), abs=1e-12)
    assert sol.status != "optimal"


def signed_bound_program(seed):
    """(X, Y, V, ε) of a small ReLU program with a signed V, drawn as a review's random search drew them
    (N, M ≤ 8, P ≤ 30, a bias row with probability 0.3, ε/‖Y‖_F ∈ {0, 0.01, 0.1, 0.5})."""
    g = np.random.default_rng(seed)
    N, M, P = int(g.integers(1, 9)), int(g.integers(1, 9)), int(g.integers(1, 31))
    X = g.standard_normal((N, P))
    if g.random() < 0.3:
        X = np.vstack([X, np.ones((1, P))])
    Y = np.maximum(g.standard_normal((X.shape[0], M)).T @ X, 0)
    V = g.standard_normal(Y.shape) * float(g.choice([0.01, 0.3, 1.0]))
    return X, Y, V, float(g.choice([0.0, 0.01, 0.1, 0.5])) * np.linalg.norm(Y)


def test_a_signed_bound_exact_fit_program_is_certified_infeasible_early():
    """A 9×17 ReLU program at ε = 0 with a signed V (seeded as in the random cross-check): the candidate rays
    sat near r/v = 3e-5 and 20 alternating projections per check could not clean them up; it was certified
    at iteration 19,150 (max_iter at the default). The exact projection onto the cone of rays (small P) does
    it at the first settled check; the certificate checks from its definition."""
    X, Y, V, eps = signed_bound_program(20_134)
    assert eps == 0 and X.shape == (9, 17)
    sol = fast.solve(X, Y, eps, V=V)
    assert sol.status == "infeasible" and sol.iterations <= 500
    assert nettrim.layer_problem(X, Y, eps, V=V).check_certificate(sol.dual).valid


def test_project_to_rays_is_the_nearest_point_of_the_cone():
    """Against CVXPY on a small program: the projection meets XΛᵀ = 0 and Λ_Ωᶜ ≥ 0 and is as near as the
    conic solver's."""
    import cvxpy as cp

    from nettrim.problem import null_space_basis, project_to_rays

    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 12))
    inactive = rng.random((3, 12)) < 0.5
    L = rng.standard_normal((3, 12))
    out = project_to_rays(L, null_space_basis(X), inactive)
    assert np.abs(X @ out.T).max() <= 1e-12 and out[inactive].min() >= 0
    Z = cp.Variable((3, 12))
    cp.Problem(cp.Minimize(cp.sum_squares(Z - L)), [X @ Z.T == 0, Z[inactive] >= 0]).solve(solver="CLARABEL")
    assert np.linalg.norm(out - L) <= np.linalg.norm(Z.value - L) * (1 + 1e-6)
    assert np.allclose(out, Z.value, atol=1e-6)
