"""The ADMM solver (nettrim.fast): agreement with the exact reference, honesty of its status, certificates."""

from __future__ import annotations

import numpy as np
import pytest

import nettrim
import nettrim.reference as ref
from nettrim import fast
from nettrim.experiments.layers import random_layer
from nettrim.fast._linalg import CholeskyStep, WoodburyStep
from nettrim.fast._linear import reduce_linear
from nettrim.fast._project import Projector


def make_layer(N, M, P, activation="relu", gain=0.05, seed=0, bias=False, nonzero_v=False, sparse=None):
    """(X, Y, epsilon, V) of the shared seeded layer (:func:`nettrim.experiments.layers.random_layer`);
    ``nonzero_v`` draws a cascade-like V (margin 0.1)."""
    d = random_layer(N, M, P, activation=activation, gain=gain, bias=bias, sparse=sparse,
                     v_margin=0.1 if nonzero_v else 0.0, seed=seed)
    return d.X, d.Y, d.epsilon, d.V


# (N, M, P, activation, gain, bias, nonzero V, sparse W0): relu and linear, eps = 0 and eps > 0, bias rows,
# P < N and P > N, nonzero V; each with its own seed below.
CASES = [
    (30, 5, 80, "relu", 0.05, False, False, None),
    (30, 5, 80, "relu", 0.0, False, False, None),
    (30, 5, 80, "relu", 0.2, True, False, None),
    (30, 5, 20, "relu", 0.05, True, False, None),
    (40, 4, 25, "relu", 0.0, True, False, None),
    (30, 5, 80, "relu", 0.1, False, True, None),
    (30, 5, 80, "relu", 0.0, False, True, None),
    (25, 3, 15, "relu", 0.1, False, True, None),
    (40, 3, 120, "relu", 0.0, False, False, 4),
    (40, 3, 120, "relu", 0.02, True, False, 4),
    (20, 6, 60, "relu", 0.01, False, False, None),
    (60, 2, 40, "relu", 0.3, False, False, None),
    (30, 5, 80, "linear", 0.05, False, False, None),
    (30, 5, 80, "linear", 0.0, False, False, None),
    (30, 5, 20, "linear", 0.1, False, False, None),
    (30, 5, 20, "linear", 0.0, True, False, None),
    (25, 4, 60, "linear", 0.2, True, False, None),
    (40, 3, 120, "linear", 0.0, False, False, 4),
    (40, 3, 30, "linear", 0.05, False, False, 4),
    (15, 8, 50, "linear", 0.01, False, False, None),
    (1, 1, 30, "relu", 0.05, False, False, None),
    (50, 1, 90, "relu", 0.0, False, False, 5),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_agrees_with_reference(case):
    N, M, P, act, gain, bias, nonzero_v, sparse = CASES[case]
    X, Y, eps, V = make_layer(N, M, P, act, gain, seed=100 + case, bias=bias, nonzero_v=nonzero_v, sparse=sparse)
    sol = fast.solve(X, Y, eps, activation=act, V=V)
    exact = ref.solve(X, Y, eps, activation=act, V=V, solver="HIGHS" if eps == 0 else "CLARABEL")
    assert exact.status == "optimal"
    assert sol.status == "optimal", sol.summary()
    lp = nettrim.layer_problem(X, Y, eps, activation=act, V=V)
    assert sol.violation == pytest.approx(lp.violation(sol.W), abs=1e-15)   # recomputed, not claimed
    assert sol.violation <= 1e-5
    assert abs(sol.objective - exact.objective) <= 1e-4 * max(exact.objective, 1e-12)
    assert -1e-5 <= sol.gap <= 1e-3
    # the certificate is a true lower bound: the reference optimum is not below the dual value
    assert lp.dual_objective(sol.dual) <= exact.objective * (1 + 1e-7) + 1e-9
    assert np.max(np.abs(X @ sol.dual.T)) <= 1 + 1e-9
    if act == "relu":
        assert np.all(sol.dual[lp.inactive] >= 0)


def test_unconverged_run_is_not_optimal():
    X, Y, eps, V = make_layer(30, 5, 80, "relu", 0.05, seed=7)
    for max_iter in (1, 2, 5, 10, 20):
        sol = fast.solve(X, Y, eps, max_iter=max_iter)
        assert sol.iterations == max_iter
        assert sol.violation > fast.VIOLATION_TOL          # these iterates are infeasible ...
        assert sol.status != "optimal"                       # ... and the status says so
        assert sol.status == "max_iter"


def test_status_matches_recomputed_violation():
    """Whatever the settings, 'optimal' implies a recomputed violation within eps_violation."""
    X, Y, eps, V = make_layer(30, 5, 40, "relu", 0.05, seed=8, bias=True)
    lp = nettrim.layer_problem(X, Y, eps)
    for kw in (dict(eps_abs=1e-2, eps_rel=1e-2), dict(eps_violation=1e-3, eps_rel=1e-3), dict(alpha=1.0),
               dict(rho=100.0, adaptive_rho=False, max_iter=300), dict(rho=0.01, max_iter=500)):
        sol = fast.solve(X, Y, eps, **kw)
        tol = kw.get("eps_violation", fast.VIOLATION_TOL)
        assert sol.violation == lp.violation(sol.W)
        assert (sol.status == "optimal") <= (sol.violation <= tol)


def test_returned_weights_are_exactly_sparse():
    X, Y, eps, _ = make_layer(40, 3, 120, "relu", 0.02, seed=9, sparse=4)
    sol = fast.solve(X, Y, eps)
    assert sol.optimal
    assert sol.nnz < 0.5 * sol.W.size   # exact zeros, not tiny values
    exact = ref.solve(X, Y, eps)
    assert sol.nnz <= np.count_nonzero(np.abs(exact.W) > 1e-6 * np.abs(exact.W).max()) + 2


def test_warm_start_from_solution_and_from_weights():
    X, Y, eps, _ = make_layer(30, 5, 80, "relu", 0.05, seed=10)
    cold = fast.solve(X, Y, eps)
    again = fast.solve(X, Y, eps, warm_start=cold)           # W and duals restored
    assert again.optimal and again.iterations <= 10 < cold.iterations
    assert again.objective == pytest.approx(cold.objective, rel=1e-5)
    # an epsilon path: warm-starting the next epsilon from the previous answer saves iterations
    nxt_cold = fast.solve(X, Y, 1.1 * eps)
    nxt_warm = fast.solve(X, Y, 1.1 * eps, warm_start=cold)
    assert nxt_warm.optimal and nxt_warm.iterations < nxt_cold.iterations
    assert nxt_warm.objective == pytest.approx(nxt_cold.objective, rel=1e-4)
    from_w = fast.solve(X, Y, eps, warm_start=cold.W)         # weights only, zero duals
    assert from_w.optimal and from_w.objective == pytest.approx(cold.objective, rel=1e-4)


def test_callback_and_history():
    X, Y, eps, _ = make_layer(20, 3, 50, "relu", 0.05, seed=11)
    seen = []
    sol = fast.solve(X, Y, eps, callback=lambda W: seen.append(W.shape))
    assert len(seen) == sol.iterations and set(seen) == {(20, 3)}
    hist = sol.info["history"]
    assert len(hist["r_prim"]) == len(hist["iteration"]) >= 1
    # the residual test held at the last check of a converged run
    if not sol.info["polished"]:
        assert hist["r_prim"][-1] <= hist["eps_prim"][-1] and hist["r_dual"][-1] <= hist["eps_dual"][-1]


@pytest.mark.parametrize("adaptive", [True, False])
@pytest.mark.parametrize("rho", [0.3, 30.0])
def test_any_rho_converges(rho, adaptive):
    X, Y, eps, _ = make_layer(30, 4, 70, "relu", 0.05, seed=12)
    exact = ref.solve(X, Y, eps)
    sol = fast.solve(X, Y, eps, rho=rho, adaptive_rho=adaptive, max_iter=20000)
    assert sol.optimal
    assert sol.objective == pytest.approx(exact.objective, rel=1e-4)


def test_bad_settings_raise_clear_errors():
    X, Y, eps, _ = make_layer(10, 2, 20, "relu", 0.05, seed=13)
    with pytest.raises(ValueError, match="eps_abs"):
        fast.solve(X, Y, eps, eps_abs=-1)
    with pytest.raises(ValueError, match="both be 0"):
        fast.solve(X, Y, eps, eps_abs=0, eps_rel=0)
    with pytest.raises(ValueError, match="max_iter"):
        fast.solve(X, Y, eps, max_iter=0)
    with pytest.raises(TypeError, match="max_iter"):
        fast.solve(X, Y, eps, max_iter=2.5)
    with pytest.raises(ValueError, match="rho"):
        fast.solve(X, Y, eps, rho=0)
    with pytest.raises(ValueError, match="alpha"):
        fast.solve(X, Y, eps, alpha=2.0)
    with pytest.raises(TypeError, match="adaptive_rho"):
        fast.solve(X, Y, eps, adaptive_rho="yes")
    with pytest.raises(ValueError, match="warm_start"):
        fast.solve(X, Y, eps, warm_start=np.zeros((3, 3)))
    with pytest.raises(TypeError, match="callback"):
        fast.solve(X, Y, eps, callback=3)
    with pytest.raises(ValueError, match="epsilon"):
        fast.solve(X, Y, -1.0)
    with pytest.raises(ValueError, match="V"):
        fast.solve(X, Y, eps, activation="linear", V=np.zeros_like(Y))
    # tolerances so loose that "optimal" would certify nothing (W = 0 has violation < 1, gap 1 with Λ = 0)
    with pytest.raises(ValueError, match="eps_violation"):
        fast.solve(X, Y, eps, eps_violation=0.99)
    with pytest.raises(ValueError, match="eps_gap"):
        fast.solve(X, Y, eps, eps_gap=1e6)
    with pytest.raises(ValueError, match="eps_violation"):
        fast.paper_admm(X, Y, eps, eps_violation=0.5)
    # ... while the loosest accepted ones still only certify what holds
    loose = fast.solve(X, Y, eps, eps_violation=nettrim.solution.MAX_EPS_VIOLATION,
                       eps_gap=nettrim.solution.MAX_EPS_GAP)
    lp = nettrim.layer_problem(X, Y, eps)
    assert loose.status == "optimal" and lp.violation(loose.W) <= nettrim.solution.MAX_EPS_VIOLATION
    assert lp.gap(loose.W, loose.dual) <= nettrim.solution.MAX_EPS_GAP


def test_woodbury_and_cholesky_steps_agree():
    rng = np.random.default_rng(14)
    X = rng.standard_normal((30, 12)) / 3
    B, Ct = rng.standard_normal((4, 12)), rng.standard_normal((4, 30))
    (W1, T1), (W2, T2) = CholeskyStep(X)(B, Ct), WoodburyStep(X)(B, Ct)
    direct = np.linalg.solve(X @ X.T + np.eye(30), X @ B.T + Ct.T)
    np.testing.assert_allclose(W1.T, direct, atol=1e-10)
    np.testing.assert_allclose(W2.T, direct, atol=1e-10)
    np.testing.assert_allclose(T1, direct.T @ X, atol=1e-10)
    np.testing.assert_allclose(T2, direct.T @ X, atol=1e-10)   # T = B − Hᵀ without a GEMM


def test_projection_is_the_nearest_point_of_C():
    rng = np.random.default_rng(15)
    Y = np.maximum(rng.standard_normal((4, 30)), 0)
    V = np.where(Y > 0, 0.0, 0.3 * rng.standard_normal(Y.shape))
    eps = 0.5
    proj = Projector(Y, eps, Y > 0, V)
    lp = nettrim.layer_problem(rng.standard_normal((2, 30)), Y, eps, V=V)  # for residuals_of_response
    for _ in range(20):
        Z = 2 * rng.standard_normal(Y.shape)
        P = proj(Z.copy())
        ball, excess = lp.residuals_of_response(P)
        assert ball <= eps * (1 + 1e-12) and excess <= 1e-12
        # variational inequality <Z − P, C − P> <= 0 for points C of the set
        for _ in range(20):
            Cpt = proj(P + 0.5 * rng.standard_normal(Y.shape))
            assert np.sum((Z - P) * (Cpt - P)) <= 1e-9


def test_linear_reduction_preserves_the_program():
    rng = np.random.default_rng(16)
    X = rng.standard_normal((10, 40))
    Y = rng.standard_normal((3, 40))
    eps = 0.9 * np.linalg.norm(Y)
    red = reduce_linear(X, Y, eps)
    U = rng.standard_normal((10, 3))
    full = np.linalg.norm(U.T @ X - Y) ** 2
    reduced = np.linalg.norm(U.T @ red.X - red.Y) ** 2 + red.y_perp_norm ** 2
    assert full == pytest.approx(reduced, rel=1e-10)
    lp = nettrim.layer_problem(X, Y, eps, activation="linear")
    lam_r = rng.standard_normal((3, 10))
    lam = red.lift_dual(lam_r)
    np.testing.assert_allclose(X @ lam.T, red.X @ lam_r.T, atol=1e-10)
    reduced_dual = -np.sum(lam_r * red.Y) - red.epsilon * np.linalg.norm(lam_r)
    assert lp.dual_objective(lam) == pytest.approx(reduced_dual, rel=1e-10)


def test_paper_admm_is_honest():
    X, Y, eps, _ = make_layer(30, 5, 80, "relu", 0.05, seed=17)
    lp = nettrim.layer_problem(X, Y, eps)
    exact = ref.solve(X, Y, eps)
    for rho in (1.0, 30.0):
        sol = fast.paper_admm(X, Y, eps, rho=rho)
        assert sol.violation == lp.violation(sol.W)
        assert (sol.status == "optimal") == (sol.violation <= fast.VIOLATION_TOL) or sol.status == "max_iter"
        # measured: 1.6e-5 (ρ = 1, stopped "inaccurate") and 6e-9 (ρ = 30) from the reference's optimum
        assert sol.objective == pytest.approx(exact.objective, rel=1e-4)
        # a gap only for a W within eps_violation: that of an infeasible W bounds nothing (and can be < 0)
        if sol.violation <= fast.VIOLATION_TOL:
            assert sol.gap is not None and sol.gap >= -1e-12
            assert sol.gap == pytest.approx(lp.gap(sol.W, sol.dual, project=False))
        else:
            assert sol.gap is None
    assert fast.paper_admm(X, Y, eps, rho=1.0).gap is None        # this one stops at violation 5e-5
    short = fast.paper_admm(X, Y, eps, max_iter=5)
    assert short.status == "max_iter"
    with pytest.raises(ValueError, match="rho"):
        fast.paper_admm(X, Y, eps, rho=-1)


def test_bench_solvers_smoke(tmp_path, capsys):
    """The benchmark runs end to end on its smallest instance, writes its CSV and prints the ratios."""
    from nettrim.experiments.__main__ import main
    from nettrim.experiments.runner import read_results

    assert main(["bench-solvers", "--instances", "a", "--repeats", "1", "--out", str(tmp_path),
                 "--figures", str(tmp_path / "fig"), "--no-progress"]) == 0
    assert (tmp_path / "fig" / "bench_solvers_a.md").read_text().count("| a |") >= 3
    df = read_results(tmp_path / "bench_solvers.csv")
    fast_row = df[df.solver == "ADMM (nettrim.fast)"].iloc[0]
    assert fast_row.status == "optimal" and fast_row.violation <= 1e-6
    anchor = df[df.solver == "ADMM-tight"].iloc[0]
    clarabel = df[df.solver == "CVXPY+CLARABEL"].iloc[0]
    assert abs(anchor.objective - clarabel.objective) <= 1e-6 * clarabel.objective
    assert {"paper rho=1 (published stop)", "paper rho=1 (to accuracy)"} <= set(df.solver)
    assert "per-iteration" in capsys.readouterr().out


def test_linear_layer_with_epsilon_below_the_unreachable_residual_is_infeasible():
    # Y has a part outside the row space of X (P > N): no U reaches it, so ε below ‖Y⊥‖ is infeasible.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((10, 60))
    Y = rng.standard_normal((4, 10)) @ X + 0.5 * rng.standard_normal((4, 60))
    Q = np.linalg.qr(X.T)[0]
    y_perp = np.linalg.norm(Y - Y @ Q @ Q.T)
    sol = nettrim.fast.solve(X, Y, 0.9 * y_perp, activation="linear")
    assert sol.status == "infeasible" and sol.iterations == 0 and np.isnan(sol.W).all()
    assert nettrim.reference.solve(X, Y, 0.9 * y_perp, activation="linear").status == "infeasible"
    # just above ‖Y⊥‖ the program is feasible again and both solvers agree
    fast_sol = nettrim.fast.solve(X, Y, 1.05 * y_perp, activation="linear")
    ref_sol = nettrim.reference.solve(X, Y, 1.05 * y_perp, activation="linear")
    assert fast_sol.status == "optimal" and ref_sol.status == "optimal"
    assert fast_sol.objective == pytest.approx(ref_sol.objective, rel=1e-4)


@pytest.mark.parametrize("act,gain,bias", [("relu", 0.05, True), ("relu", 0.0, False), ("linear", 0.1, False),
                                           ("linear", 0.0, True)])
def test_weighted_l1_agrees_with_the_reference_and_certifies_its_gap(act, gain, bias):
    X, Y, eps, V = make_layer(20, 4, 60, act, gain, seed=321, bias=bias)
    w = np.random.default_rng(5).uniform(0.2, 5.0, (X.shape[0], Y.shape[0]))
    sol = fast.solve(X, Y, eps, activation=act, weights=w)
    exact = ref.solve(X, Y, eps, activation=act, weights=w, solver="HIGHS" if eps == 0 else "CLARABEL")
    prob = nettrim.layer_problem(X, Y, eps, activation=act, weights=w)
    assert exact.status == "optimal" and sol.status == "optimal", sol.summary()
    assert sol.objective == pytest.approx(prob.objective(sol.W)) == pytest.approx(np.sum(w * np.abs(sol.W)))
    assert abs(sol.objective - exact.objective) <= 1e-4 * exact.objective
    for s in (sol, exact):
        assert prob.dual_infeasibility(s.dual) <= 1e-9          # |XΛᵀ| <= w entrywise, Λ_Ωᶜ >= 0
        assert -1e-6 <= s.gap <= 1e-3
        assert prob.dual_objective(s.dual) <= exact.objective * (1 + 1e-7) + 1e-9
    if eps > 0:  # (at ε = 0 these layers have P > N equations: one feasible point, whatever the weights)
        # the weights change the answer: the unweighted optimum is not optimal for the weighted program
        plain = ref.solve(X, Y, eps, activation=act, solver="CLARABEL")
        assert prob.objective(plain.W) > exact.objective * (1 + 1e-3)


@pytest.mark.parametrize("c", [1e-30, 1e-4, 1e10, 1e30])
def test_the_units_of_the_weights_do_not_change_the_answer(c):
    """Σ c·w|u| has the minimizers of Σ w|u|: both solvers return the same W (fast: after the same iterations)
    and a multiplier c times as large, certified for the program as given."""
    X, Y, eps, _ = make_layer(20, 4, 60, "relu", 0.05, seed=322, bias=True)
    w = np.random.default_rng(6).uniform(0.2, 5.0, (X.shape[0], Y.shape[0]))
    prob = nettrim.layer_problem(X, Y, eps, weights=c * w)
    base, sol = fast.solve(X, Y, eps, weights=w), fast.solve(X, Y, eps, weights=c * w)
    assert sol.status == "optimal" and sol.iterations == base.iterations
    np.testing.assert_allclose(sol.W, base.W, rtol=0, atol=1e-12 * np.abs(base.W).max())
    np.testing.assert_allclose(sol.dual, c * base.dual, rtol=1e-9, atol=1e-12 * c * np.abs(base.dual).max())
    assert prob.dual_infeasibility(sol.dual) <= 1e-9 and abs(prob.gap(sol.W, sol.dual)) <= fast.GAP_TOL
    exact_1, exact_c = ref.solve(X, Y, eps, weights=w), ref.solve(X, Y, eps, weights=c * w)
    assert exact_c.status == "optimal" and prob.dual_infeasibility(exact_c.dual) <= 1e-9
    assert exact_c.objective == pytest.approx(c * exact_1.objective, rel=1e-6)
    assert sol.objective == pytest.approx(exact_c.objective, rel=1e-4)


def test_internal_weights_are_not_rescaled(monkeypatch):
    """Only the caller's weights are divided by their largest: the weights c/d of the row scaling (and of
    the zero-input reduction) are the reformulation's own, and rescaling them changed the iteration of every
    row-scaled solve (the README's PyTorch example printed another last layer)."""
    import nettrim.fast.admm as admm

    calls = []
    real = admm._weight_scaled
    monkeypatch.setattr(admm, "_weight_scaled", lambda *a, **k: calls.append(1) or real(*a, **k))
    X, Y, eps, _ = make_layer(20, 4, 60, "relu", 0.05, seed=323)
    X = X * np.geomspace(0.1, 10.0, X.shape[0])[:, None]        # rows spread 100×: row scaling is on
    X[3] = 0.0                                                  # and an input that is always 0
    Y = np.maximum(np.random.default_rng(7).standard_normal((X.shape[0], 4)).T @ X, 0.0)
    sol = fast.solve(X, Y, 0.05 * np.linalg.norm(Y))
    assert sol.status == "optimal" and sol.info["scaling"] is not None and sol.info["zero_inputs"] == 1
    assert calls == []
    fast.solve(X, Y, 0.05 * np.linalg.norm(Y), weights=np.full((X.shape[0], 4), 3.0))
    assert calls == [1]                                         # the caller's weights, once


# ------------------------------------------------------------------------------- inputs that are always 0
@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_inputs_that_are_always_zero_are_dropped_exactly(activation):
    """Rows X_i = 0 (blank pixels, dead neurons): the same optimum as the reference on the full program,
    0 weights there, and a certificate recomputed on the full program."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((25, 60))
    X[[0, 9, 24]] = 0.0
    Z = rng.standard_normal((25, 4)).T @ X
    Y = np.maximum(Z, 0.0) if activation == "relu" else Z
    eps = 0.05 * float(np.linalg.norm(Y))
    w = rng.uniform(0.5, 2.0, (25, 4))
    seen = []
    sol = fast.solve(X, Y, eps, activation=activation, weights=w, callback=lambda W: seen.append(W.shape))
    exact = ref.solve(X, Y, eps, activation=activation, weights=w)
    prob = nettrim.layer_problem(X, Y, eps, activation=activation, weights=w)
    assert sol.status == "optimal" and sol.info["zero_inputs"] == 3
    assert sol.W.shape == (25, 4) and np.all(sol.W[[0, 9, 24]] == 0)
    assert set(seen) == {(25, 4)}
    assert abs(sol.objective - exact.objective) <= 1e-4 * exact.objective
    assert prob.violation(sol.W) <= fast.VIOLATION_TOL
    assert prob.gap(sol.W, sol.dual) <= fast.GAP_TOL
    assert sol.info["dual_l1"].shape == (25, 4)
    # a warm start of the full shape is accepted and cuts nothing it should not
    again = fast.solve(X, Y, eps, activation=activation, weights=w, warm_start=sol)
    assert again.status == "optimal" and abs(again.objective - sol.objective) <= 1e-4 * sol.objective


def test_infeasible_program_with_zero_inputs_keeps_its_certificate():
    X = np.random.default_rng(0).standard_normal((20, 100)).round()
    Y = np.maximum(np.random.default_rng(1).standard_normal((20, 5)).T @ X, 0.0).round()
    X = np.vstack([X, np.zeros((4, 100))])
    sol = fast.solve(X, Y, 1.0)
    prob = nettrim.layer_problem(X, Y, 1.0)
    assert sol.status == "infeasible" and sol.info["zero_inputs"] == 4
    assert np.isnan(sol.W).all() and sol.W.shape == (24, 5)
    assert prob.check_certificate(sol.dual).valid


def test_a_tuple_warm_start_is_an_array_like_not_an_internal_start():
    """A user's tuple is validated as an array-like (never taken for the solver's internal warm start)."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 40))
    X[1] = 0.0
    Y = np.maximum(rng.standard_normal((6, 3)).T @ X, 0.0)
    eps = 0.1 * float(np.linalg.norm(Y))
    sol = fast.solve(X, Y, eps, warm_start=tuple(map(tuple, np.ones((6, 3)))))
    assert sol.status == "optimal" and sol.info["zero_inputs"] == 1
    with pytest.raises(ValueError, match="warm_start"):
        fast.solve(X, Y, eps, warm_start=(np.zeros((6, 3)), None, None))


def test_verbose_summary_is_that_of_the_whole_program(capsys):
    """With zero inputs dropped, ``verbose`` prints one summary, of the full N×M answer (not the reduced one)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((8, 50))
    X[[2, 5]] = 0.0
    Y = np.maximum(rng.standard_normal((8, 3)).T @ X, 0.0)
    sol = fast.solve(X, Y, 0.1 * float(np.linalg.norm(Y)), verbose=True)
    summaries = [line for line in capsys.readouterr().out.splitlines() if line.startswith("ADMM:")]
    assert sol.status == "optimal" and sol.info["zero_inputs"] == 2
    assert len(summaries) == 1
    # the same line as the returned answer's summary, but for the solve time (its last field)
    assert summaries[0].rsplit(", ", 1)[0] == sol.summary().rsplit(", ", 1)[0]
    assert f"/{X.shape[0] * Y.shape[0]}," in summaries[0]
