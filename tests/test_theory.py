"""The phase-transition theory: δ(s, N) by exact-inner Monte Carlo and by ψ, σ_V, the mixture prediction."""

import itertools

import numpy as np
import pytest
from scipy import optimize, stats

from nettrim.experiments import theory


def _brute_min(g_on, g_off):
    """min over τ ≥ 0 of F_g(τ) by a bounded scalar search plus a dense grid (independent of the exact path)."""
    def F(t):
        return ((g_on - t) ** 2).sum() + (np.maximum(np.abs(g_off) - t, 0) ** 2).sum()

    hi = max(np.abs(g_off).max(initial=0.0), np.abs(g_on).max()) + 1
    grid = min(F(t) for t in np.linspace(0, hi, 4001))
    r = optimize.minimize_scalar(F, bounds=(0, hi), method="bounded", options={"xatol": 1e-12})
    return min(grid, r.fun, F(0.0))


@pytest.mark.parametrize("s,N", [(1, 10), (3, 12), (7, 30), (12, 12), (5, 6)])
def test_inner_problem_is_solved_exactly(s, N):
    rng = np.random.default_rng(s * 100 + N)
    g = rng.standard_normal((60, N))
    exact = theory.projection_sq_norms(g[:, :s], g[:, s:])
    brute = np.array([_brute_min(row[:s], row[s:]) for row in g])
    # the exact value is a minimum: never above any τ the search tried, and equal to the search's best
    assert np.all(exact <= brute + 1e-10)
    np.testing.assert_allclose(exact, brute, rtol=1e-7, atol=1e-9)


def test_inner_problem_clips_tau_at_zero():
    # a large negative on-support sum makes the unconstrained minimizer negative: τ = 0, F(0) = ‖g‖²
    g_on = np.array([[-5.0, -4.0]])
    g_off = np.array([[0.1, -0.2, 0.3]])
    assert theory.projection_sq_norms(g_on, g_off)[0] == pytest.approx((g_on**2).sum() + (g_off**2).sum())


def test_delta_full_support_closed_form():
    # s = N: min_τ≥0 Σ(g_i − τ)² = Σ(g_i − ḡ)² + N·ḡ²·1{ḡ < 0}, whose mean is (N − 1) + ½
    N = 20
    d, se = theory.delta_mc(N, N, return_se=True)
    assert abs(d - (N - 0.5)) < 4 * se


@pytest.mark.parametrize("s", [2, 5, 10, 20, 40, 70])
def test_delta_mc_against_closed_form_at_N100(s):
    N = 100
    d, se = theory.delta_mc(s, N, return_se=True)
    d_psi = theory.delta_psi(s, N)
    assert abs(d - d_psi) < 1.0                            # the closed form is an approximation: within 1 at N = 100
    assert d <= d_psi + 4 * se                             # Nψ(s/N) is an upper bound (ALMT Prop. 4.5)
    assert d >= d_psi - 2 * np.sqrt(N / s) - 4 * se        # ... and the lower bound of the same proposition


def test_delta_monotone_and_within_range():
    N = 60
    ds = [theory.delta_mc(s, N) for s in (1, 5, 10, 20, 40, 60)]
    assert all(a < b for a, b in itertools.pairwise(ds))
    assert 0 < ds[0] and ds[-1] < N


def test_monte_carlo_is_seeded_and_its_standard_error_honest():
    a = theory._mc_moments(10, 100, 20_000, seed=3)
    b = theory._mc_moments(10, 100, 20_000, seed=3)
    c = theory._mc_moments(10, 100, 20_000, seed=4)
    assert a == b and a != c
    # two independent estimates of the same mean differ by their standard errors, not more (5σ)
    assert abs(a[0] - c[0]) <= 5 * np.hypot(a[2], c[2])
    assert a[2] == pytest.approx(np.sqrt(a[1] / 20_000), rel=1e-12)


def test_sigma_v_obeys_variance_bound():
    # McCoy & Tropp (2014): Var[V_C] ≤ 2·min(δ, N − δ) for any closed convex cone
    for s, N in [(2, 50), (10, 50), (30, 50), (10, 100)]:
        d, sig = theory.delta_mc(s, N), theory.sigma_v(s, N)
        assert 0 < sig ** 2 <= 2 * min(d, N - d) + 0.5


def test_psi_limits():
    assert theory.psi(1.0) == 1.0
    assert 0 < theory.psi(0.01) < theory.psi(0.1) < theory.psi(0.5) < 1
    with pytest.raises(ValueError, match="rho"):
        theory.psi(0.0)


def test_mixture_with_a_sharp_bp_transition_is_a_binomial_tail():
    # σ_V → 0 makes p_BP(M) = 1{M > δ} (δ not an integer), so the mixture is P(Bin(P, ½) ≥ ⌈δ⌉)
    delta = 10.3
    P = np.arange(1, 60)
    expected = stats.binom.sf(np.ceil(delta) - 1, P, 0.5)
    np.testing.assert_allclose(theory.p_mixture(P, delta, 1e-12), expected, atol=1e-12)


def test_mixture_50_percent_point_is_near_two_delta():
    for delta, sig in [(10.0, 3.0), (32.35, 4.67), (74.2, 4.6)]:
        p = theory.p50("nettrim", delta, sig)
        assert abs(p - 2 * delta) < 0.5
        assert theory.p_mixture(int(np.floor(p)), delta, sig) <= 0.5 <= theory.p_mixture(int(np.ceil(p)), delta, sig)
        assert theory.p50("bp", delta, sig) == pytest.approx(delta)
    f = theory.p_mixture(np.arange(1, 150), 32.0, 4.0)
    assert np.all(np.diff(f) >= -1e-12)


def test_parity_sum_is_approximated_without_a_half_shift():
    # for a discretized normal v_k, 2(v_{m+1} + v_{m+3} + ...) is ≈ Q((m − δ)/σ) (midpoint rule), not Q((m + ½ − δ)/σ)
    delta, sig = 32.35, 4.67
    k = np.arange(0, 200)
    v = stats.norm.pdf((k - delta) / sig)
    v /= v.sum()
    for m in range(20, 46):
        fail = 2 * v[m + 1::2].sum()
        assert abs((1 - fail) - theory.p_bp(m, delta, sig)) < 0.02


def test_probit_of_the_skewed_mixture_sits_above_two_delta():
    P = np.arange(4, 201, 4)
    d, sig = theory.delta_mc(10, 100), theory.sigma_v(10, 100)
    fit = theory.p50_probit_of_model("nettrim", P, d, sig)
    assert 0.2 < fit - theory.p50("nettrim", d, sig) < 1.0        # the width grows with P: a right skew
    assert abs(theory.p50_probit_of_model("bp", P, d, sig) - d) < 0.05   # a probit curve is fitted exactly


def test_theory_point_widths():
    t = theory.theory(10, 100)
    assert t["width_nettrim"] == pytest.approx(2 * np.sqrt(t["sigma_v"] ** 2 + t["delta_mc"] / 2))
    assert 2.0 < t["width_nettrim"] / t["width_bp"] < 3.5   # 2.5–3× wider than basis pursuit's at s = 10


@pytest.mark.parametrize("s,N,err", [(0, 10, ValueError), (11, 10, ValueError), (2.0, 10, TypeError),
                                     (2, 0, ValueError), (True, 10, TypeError)])
def test_bad_arguments_are_named(s, N, err):
    with pytest.raises(err, match="s must|N must"):
        theory.delta_mc(s, N)
