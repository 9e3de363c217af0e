"""The polish's fixed-t neuron QP, min Σ c_i|u_i| + ‖Au − y‖²/(2t) s.t. Bu ≤ v, in its two forms: the dual
interior point method (r×r systems, r = p + n) must give the primal one's signs, active rows and optimal value,
and both must match CVXPY; the dispatcher picks the smaller system."""

import cvxpy as cp
import numpy as np
import pytest

from nettrim.fast import _qp


def draw(rng, p, k, n):
    A = rng.standard_normal((p, k))
    y = rng.standard_normal(p)
    B = rng.standard_normal((n, k))
    v = np.abs(rng.standard_normal(n)) * rng.choice([0.0, 1.0], n)     # some bounds at 0, like V on Ωᶜ
    c = rng.uniform(0.5, 2.0, k)
    t = float(rng.uniform(0.1, 5.0))
    return A, y, t, c, B, v


def objective(A, y, t, c, u):
    return float(c @ np.abs(u) + 0.5 / t * np.sum((A @ u - y) ** 2))


def test_dual_form_gives_the_primal_forms_face_and_value():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p, k, n = int(rng.integers(0, 25)), int(rng.integers(1, 120)), int(rng.integers(0, 20))
        A, y, t, c, B, v = draw(rng, p, k, n)
        s1, a1, u1 = _qp._lasso_qp(A.T @ A / t, A.T @ y / t, c, B, v)
        s2, a2, u2 = _qp._lasso_qp_dual(A, y, t, c, B, v)
        np.testing.assert_array_equal(s2, s1)
        np.testing.assert_array_equal(a2, a1)
        f1 = objective(A, y, t, c, u1)
        assert objective(A, y, t, c, u2) == pytest.approx(f1, rel=1e-7, abs=1e-9)
        assert np.all(B @ u2 <= v + 1e-7)
        assert np.all(u2[s2 == 0] == pytest.approx(0.0, abs=1e-6))
        assert np.all(np.sign(u2[s2 != 0]) == s2[s2 != 0])


@pytest.mark.parametrize(("p", "k", "n"), [(20, 300, 0), (12, 150, 8), (0, 40, 10), (5, 60, 0)])
def test_both_forms_solve_the_qp_that_cvxpy_solves(p, k, n):
    rng = np.random.default_rng([p, k, n])
    A, y, t, c, B, v = draw(rng, p, k, n)
    u = cp.Variable(k)
    cons = [B @ u <= v] if n else []
    ref = cp.Problem(cp.Minimize(c @ cp.abs(u) + cp.sum_squares(A @ u - y) / (2 * t)), cons)
    ref.solve(solver=cp.CLARABEL)
    for sign, active, w in (_qp._lasso_qp_dual(A, y, t, c, B, v),
                            _qp._lasso_qp(A.T @ A / t, A.T @ y / t, c, B, v),
                            _qp.lasso_qp(A, y, t, c, B, v)):
        assert objective(A, y, t, c, w) == pytest.approx(ref.value, rel=1e-6, abs=1e-8)
        assert np.all(B @ w <= v + 1e-7)
        assert active.shape == (n,)
        # the active rows are the ones the answer meets with equality (and only those)
        if n:
            assert np.all(np.abs(B @ w - v)[active] <= 1e-6)
            assert np.all((v - B @ w)[~active] > -1e-7)
        assert np.count_nonzero(sign) <= p + n or p + n == 0   # a vertex of the face: at most p + n weights


def test_nothing_but_the_l1_term_gives_zero():
    sign, active, u = _qp._lasso_qp_dual(np.zeros((0, 7)), np.zeros(0), 1.0, np.ones(7), np.zeros((0, 7)),
                                         np.zeros(0))
    assert not sign.any() and not u.any() and active.shape == (0,)


def test_dispatcher_uses_the_smaller_system(monkeypatch):
    calls = []
    monkeypatch.setattr(_qp, "_lasso_qp_dual", lambda *a, **k: calls.append("dual") or (None, None, None))
    monkeypatch.setattr(_qp, "_lasso_qp", lambda *a, **k: calls.append("primal") or (None, None, None))
    rng = np.random.default_rng(3)
    _qp.lasso_qp(*draw(rng, 10, 100, 5))           # r = 15 < k = 100
    _qp.lasso_qp(*draw(rng, 200, 30, 5))           # r = 205 > k = 30
    gram_calls = []
    A, y, t, c, B, v = draw(rng, 200, 30, 0)
    _qp.lasso_qp(A, y, t, c, B, v, gram=lambda: gram_calls.append(1) or (A.T @ A, A.T @ y))
    assert calls == ["dual", "primal", "primal"] and gram_calls == [1]


def test_least_norm_from_the_rows_equals_lstsq_on_the_singular_gram():
    """The face's singular reduced Hessian H_z = FᵀF (fewer rows than weights): its least-norm solve from the SVD of
    F must equal lstsq's on H_z, for a consistent and an inconsistent right-hand side."""
    from scipy.linalg import lstsq

    from nettrim.fast._polish import _least_norm_gram

    rng = np.random.default_rng(11)
    F = rng.standard_normal((20, 300)) * np.logspace(0, -3, 20)[:, None]
    Hz = F.T @ F
    for rhs in (Hz @ rng.standard_normal((300, 2)), rng.standard_normal((300, 2))):
        want = lstsq(Hz, rhs, cond=1e-12, lapack_driver="gelsd")[0]
        got = _least_norm_gram(Hz, rhs, F)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9 * np.abs(want).max())
    np.testing.assert_array_equal(_least_norm_gram(Hz, rhs), lstsq(Hz, rhs, cond=1e-12, lapack_driver="gelsd")[0])


def test_ball_multiplier_bracket_moves_only_on_exact_faces_once_bounded():
    """The polish's t-update: exact faces bound t* (t_new above t: t* above t), a root outside the bracket gives
    the geometric midpoint, and faces still wrong for a few neurons move t only before any bound is known."""
    from nettrim.fast._polish import BallPolish

    pol = BallPolish.__new__(BallPolish)
    pol.t_lo, pol.t_hi = 0.0, np.inf
    assert pol._bracket(1.3, 0.2, exact=False) == 0.2            # nothing known yet: the faces' root
    assert pol._bracket(0.2, 1.2, exact=True) == 1.2             # exact: t* > 0.2
    assert (pol.t_lo, pol.t_hi) == (0.2, np.inf)
    assert pol._bracket(1.2, 0.22, exact=False) == 1.2           # a wrong face's root: t stays
    assert pol._bracket(1.2, 0.22, exact=False, stalled=True) == 0.22   # ... unless the rounds stalled
    assert pol._bracket(1.2, 1.3, exact=True) == 1.3             # exact again: t* > 1.2
    assert pol._bracket(1.3, 0.1, exact=True) == pytest.approx(np.sqrt(1.2 * 1.3))   # t* in (1.2, 1.3)
    assert (pol.t_lo, pol.t_hi) == (1.2, 1.3)


def test_multipliers_meet_the_kkt_conditions_in_both_forms():
    """The multipliers ν ≥ 0 of Bu ≤ v that both forms return (the polish prices left-out inputs with them)
    satisfy the QP's KKT conditions: g = Aᵀ(Au − y)/t + Bᵀν equals −c·sign(u) on the support, |g| ≤ c off
    it, and ν vanishes on the inequalities that do not bind. (The primal form is checked where the dispatcher
    uses it, p + n ≥ k: with fewer rows than weights its Hessian is singular.)"""
    rng = np.random.default_rng(3)
    for _ in range(100):
        p, k, n = int(rng.integers(1, 25)), int(rng.integers(1, 60)), int(rng.integers(0, 20))
        A, y, t, c, B, v = draw(rng, p, k, n)
        answers = [_qp._lasso_qp_dual(A, y, t, c, B, v, multipliers=True),
                   _qp.lasso_qp(A, y, t, c, B, v, multipliers=True)]
        if p + n >= k:
            answers.append(_qp._lasso_qp(A.T @ A / t, A.T @ y / t, c, B, v, multipliers=True))
        for sign, active, u, nu in answers:
            scale = max(1.0, float(np.abs(c).max()), float(np.abs(y).max()))
            assert nu.shape == (n,) and np.all(nu >= 0)
            g = A.T @ (A @ u - y) / t + B.T @ nu
            on = sign != 0
            np.testing.assert_allclose(g[on], -c[on] * sign[on], atol=1e-6 * scale)
            assert np.all(np.abs(g[~on]) <= c[~on] + 1e-6 * scale)
            assert np.all(nu[~active] <= 1e-6 * scale)
            assert np.all(np.abs(B @ u - v)[nu > 1e-6 * scale] <= 1e-6 * scale)
