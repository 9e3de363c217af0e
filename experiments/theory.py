r"""Theory of the ε = 0 phase transition for one ReLU neuron (derived in docs/tutorial.md §4).

Setting: x_p ~ N(0, I_N) for p = 1..P, an s-sparse w* and y_p = relu(x_pᵀ w*). Let D be the descent
cone of ‖·‖₁ at w*. Three programs are compared on the same instance:

* ``bp``: basis pursuit with all P equalities x_pᵀ w = x_pᵀ w*. By Amelunxen–Lotz–McCoy–Tropp
  ("Living on the edge", 2014) it succeeds with probability
  :math:`p_{BP}(P) = 1 - 2\sum_{k \ge 1,\ k \text{ odd}} v_{P+k}(D)`, where v_k are the intrinsic
  volumes of D; they form a distribution of a random variable :math:`V_D` with mean δ(s, N) (the
  *statistical dimension*) and variance :math:`\sigma_V^2`.
* ``nettrim`` (ε = 0 ReLU program) and ``bp_active`` (equalities on the active samples only). At w*
  every inactive constraint has strictly positive slack, so it leaves the tangent cone: Net-Trim
  recovers w* iff basis pursuit on the active samples does. The number of active samples is
  M ~ Bin(P, ½), and flipping the signs of rows does not change a row space, so the active rows span a
  subspace distributed like that of M Gaussian rows. Hence, exactly,

  .. math:: P(\text{success} \mid P) = \sum_M \mathrm{Bin}(M; P, \tfrac12)\, p_{BP}(M).

**Statistical dimension.** With g ~ N(0, I_N) and S the support of w*,

.. math::

    \delta(s, N) = \mathbb E \min_{\tau \ge 0} F_g(\tau),\qquad
    F_g(\tau) = \sum_{i\in S} (g_i - \tau\,\mathrm{sign}(w^*_i))^2 + \sum_{i \notin S} (|g_i| - \tau)_+^2 .

:math:`\min_\tau F_g(\tau) = \mathrm{dist}^2(g, \mathrm{cone}\,\partial\|w^*\|_1) = \|\Pi_D(g)\|^2`
(Moreau), so the same Monte Carlo draws also give :math:`\mathrm{Var}\|\Pi_D(g)\|^2 = \sigma_V^2 + 2\delta`
(the "master Steiner formula": given V_D = k, ‖Π_D g‖² ~ χ²_k; McCoy & Tropp 2014), hence σ_V².
The closed form is δ ≈ N ψ(s/N) with
:math:`\psi(\rho) = \inf_{\tau\ge0} \rho(1+\tau^2) + (1-\rho)\,2[(1+\tau^2)Q(\tau) - \tau\varphi(\tau)]`,
an upper bound: :math:`N\psi(s/N) - 2\sqrt{N/s} \le \delta \le N\psi(s/N)` (ALMT, Prop. 4.5).

**Prediction used here (the choice, documented).** The intrinsic volumes of an ℓ1 descent cone
concentrate like a normal law around δ (ALMT Thm. 6.1 / McCoy–Tropp), v_k ≈ φ((k − δ)/σ_V)/σ_V. The
parity sum 2(v_{m+1} + v_{m+3} + ...) samples every other integer from m + 1 on, each sample standing
for an interval of length 2 ([m, m+2], [m+2, m+4], ...), so by the midpoint rule it is
≈ ∫_m^∞ φ((x − δ)/σ_V)/σ_V dx, i.e.

.. math:: p_{BP}(m) \approx \Phi\Big(\frac{m - \delta}{\sigma_V}\Big)

(no half-integer shift: that is what the midpoint rule gives, and the measured 50 % point of ``bp``
sits at δ within ±0.2 at N = 100). The mixture then has its 50 % point at P ≈ 2δ and, in P, a
standard deviation ≈ 2·√(σ_V² + δ/2) against σ_V for basis pursuit. Note that the mixture curve is
slightly skewed (its width grows with P), so a *symmetric* probit fit to it lands ≈ 0.6 above 2δ
at N = 100: compare measured probit fits with :func:`p50_probit_of_model`, which applies the same fit
to the predicted curve on the same grid.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import optimize, stats

__all__ = ["delta_mc", "delta_psi", "psi", "sigma_v", "p_bp", "p_mixture", "p50", "predicted_curve",
           "p50_probit_of_model", "TheoryPoint", "theory"]

#: Monte Carlo draws per (s, N): the standard error of δ is then ≈ √((σ_V² + 2δ)/10⁵) < 0.05 at N = 200.
DEFAULT_DRAWS = 100_000
#: draws processed per vectorized block (keeps the (block × N) work arrays ≈ 16 MB at N = 200)
_BLOCK = 10_000


def _check_sN(s, N):
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
        raise TypeError(f"s must be an integer, got {type(s).__name__}")
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)):
        raise TypeError(f"N must be an integer, got {type(N).__name__}")
    if N < 1:
        raise ValueError(f"N must be >= 1, got {N}")
    if not 1 <= s <= N:
        raise ValueError(f"s must satisfy 1 <= s <= N = {N}, got {s}")
    return int(s), int(N)


def projection_sq_norms(g_on: np.ndarray, g_off: np.ndarray) -> np.ndarray:
    r"""Exact :math:`\min_{\tau\ge0} F_g(\tau)` for each row of a block of draws.

    Parameters
    ----------
    g_on : ndarray (B, s)
        Coordinates on the support, already multiplied by sign(w*_i) (same law, N(0, 1)).
    g_off : ndarray (B, N - s)
        Coordinates off the support.

    Notes
    -----
    F is convex and piecewise quadratic. Sort a = |g_off| decreasingly, a_(1) ≥ a_(2) ≥ ...; on the
    piece where exactly k of them exceed τ, ½F'(τ) = (s + k)τ − G − A_k with G = Σ_S g_i and A_k the
    sum of the k largest, whose root is τ_k = (G + A_k)/(s + k). ½F' evaluated at a_(j) equals
    (s + j − 1)a_(j) − G − A_{j−1}, decreasing in j, so the right piece is k = #{j : ½F'(a_(j)) > 0};
    the constraint τ ≥ 0 clips τ_k at 0 (F' > 0 everywhere on [0, ∞) in that case).
    """
    B, s = g_on.shape
    a = -np.sort(-np.abs(g_off), axis=1)                    # decreasing
    G = g_on.sum(axis=1, keepdims=True)
    A = np.concatenate([np.zeros((B, 1)), np.cumsum(a, axis=1)], axis=1)   # A[:, k] = sum of k largest
    j = np.arange(1, a.shape[1] + 1)
    slope_at_a = (s + j - 1) * a - G - A[:, :-1]
    k = np.count_nonzero(slope_at_a > 0, axis=1)
    tau = np.maximum((G[:, 0] + A[np.arange(B), k]) / (s + k), 0.0)
    on = ((g_on - tau[:, None]) ** 2).sum(axis=1)
    off = (np.maximum(a - tau[:, None], 0.0) ** 2).sum(axis=1)
    return on + off


def _mc_moments(s: int, N: int, draws: int, seed: int) -> tuple[float, float, float]:
    """Mean, variance and standard error of the mean of ‖Π_D(g)‖² over ``draws`` Gaussian draws."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, s, N]))
    total = total_sq = 0.0
    done = 0
    while done < draws:
        b = min(_BLOCK, draws - done)
        g = rng.standard_normal((b, N))
        v = projection_sq_norms(g[:, :s], g[:, s:])
        total += v.sum()
        total_sq += (v * v).sum()
        done += b
    mean = total / draws
    var = max(total_sq / draws - mean * mean, 0.0) * draws / max(draws - 1, 1)
    return mean, var, np.sqrt(var / draws)


@lru_cache(maxsize=4096)
def _mc_cached(s, N, draws, seed):
    return _mc_moments(s, N, draws, seed)


def delta_mc(s, N, *, draws: int = DEFAULT_DRAWS, seed: int = 0, return_se: bool = False):
    r"""Statistical dimension δ(s, N) of the ℓ1 descent cone at an s-sparse point, by Monte Carlo.

    The inner problem :math:`\min_{\tau\ge0}F_g(\tau)` is solved exactly (:func:`projection_sq_norms`),
    vectorized over draws: 10⁵ draws take well under a second at N = 100.

    Returns
    -------
    float, or (float, float) with ``return_se``
        δ and the standard error of the Monte Carlo mean.

    Examples
    --------
    >>> from nettrim.experiments import theory
    >>> d = theory.delta_mc(10, 100)
    >>> 30 < d < theory.delta_psi(10, 100) < 34    # Nψ(s/N) is a close upper bound
    True
    """
    s, N = _check_sN(s, N)
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 2:
        raise ValueError(f"draws must be an integer >= 2, got {draws!r}")
    mean, _, se = _mc_cached(s, N, int(draws), int(seed))
    return (mean, se) if return_se else mean


def sigma_v(s, N, *, draws: int = DEFAULT_DRAWS, seed: int = 0) -> float:
    r"""Standard deviation σ_V of the intrinsic-volume distribution of the descent cone.

    From :math:`\mathrm{Var}\|\Pi_D(g)\|^2 = \sigma_V^2 + 2\delta` (both estimated on the same draws;
    clipped at 0 against Monte Carlo noise).
    """
    s, N = _check_sN(s, N)
    mean, var, _ = _mc_cached(s, N, int(draws), int(seed))
    return float(np.sqrt(max(var - 2.0 * mean, 0.0)))


def psi(rho: float) -> float:
    r""":math:`\psi(\rho) = \inf_{\tau\ge0} \rho(1+\tau^2) + 2(1-\rho)[(1+\tau^2)Q(\tau) - \tau\varphi(\tau)]`.

    The stationarity condition is ρτ = 2(1 − ρ)(φ(τ) − τQ(τ)); its left side grows and its right side
    decreases in τ, so the root is unique and bracketed by [0, τ_max].

    Examples
    --------
    >>> from nettrim.experiments import theory
    >>> round(theory.psi(0.1), 4), theory.psi(1.0)
    (0.3288, 1.0)
    """
    rho = float(rho)
    if not 0.0 < rho <= 1.0:
        raise ValueError(f"rho must be in (0, 1], got {rho}")
    if rho == 1.0:
        return 1.0
    Q, phi = stats.norm.sf, stats.norm.pdf

    def h(t):
        return rho * t - 2.0 * (1.0 - rho) * (phi(t) - t * Q(t))

    hi = 1.0
    while h(hi) < 0:
        hi *= 2.0
    tau = optimize.brentq(h, 0.0, hi, xtol=1e-13)
    return float(rho * (1 + tau**2) + 2 * (1 - rho) * ((1 + tau**2) * Q(tau) - tau * phi(tau)))


def delta_psi(s, N) -> float:
    """The closed-form approximation δ(s, N) ≈ N ψ(s/N) (an upper bound on δ).

    Examples
    --------
    >>> from nettrim.experiments import theory
    >>> round(theory.delta_psi(10, 100), 2)
    32.88
    """
    s, N = _check_sN(s, N)
    return N * psi(s / N)


def p_bp(m, delta: float, sigma: float) -> np.ndarray:
    r"""Basis-pursuit success probability with m Gaussian equations, :math:`\Phi((m - δ)/σ_V)`."""
    m = np.asarray(m, dtype=float)
    sigma = max(float(sigma), 1e-9)  # σ_V = 0 means a step at δ
    return stats.norm.cdf((m - delta) / sigma)


def p_mixture(P, delta: float, sigma: float) -> np.ndarray:
    r"""Net-Trim (and active-sample basis pursuit) success probability with P samples:
    :math:`\sum_{M=0}^{P} \mathrm{Bin}(M; P, ½)\, p_{BP}(M)`."""
    P_arr = np.atleast_1d(np.asarray(P, dtype=int))
    out = np.empty(P_arr.shape, dtype=float)
    for i, p in enumerate(P_arr.ravel()):
        M = np.arange(p + 1)
        out.ravel()[i] = float(stats.binom.pmf(M, p, 0.5) @ p_bp(M, delta, sigma))
    return out if np.ndim(P) else out[0]


def p50(program: str, delta: float, sigma: float) -> float:
    """The P at which the predicted success probability of ``program`` is ½ (continuous in P)."""
    if program == "bp":
        return float(delta)   # Φ((P − δ)/σ) = ½
    if program not in ("nettrim", "bp_active"):
        raise ValueError(f"program must be 'nettrim', 'bp' or 'bp_active', got {program!r}")
    # the mixture is increasing in integer P; interpolate linearly between the two integers around ½
    lo, hi = 1, max(8, int(4 * delta) + 8)
    P = np.arange(lo, hi + 1)
    f = p_mixture(P, delta, sigma)
    i = int(np.searchsorted(f, 0.5))
    if i == 0:
        return float(P[0])
    return float(P[i - 1] + (0.5 - f[i - 1]) / (f[i] - f[i - 1]))


def predicted_curve(program: str, P, delta: float, sigma: float) -> np.ndarray:
    """Predicted success probability of ``program`` at sample counts ``P``."""
    if program == "bp":
        return p_bp(P, delta, sigma)
    if program not in ("nettrim", "bp_active"):
        raise ValueError(f"program must be 'nettrim', 'bp' or 'bp_active', got {program!r}")
    return p_mixture(P, delta, sigma)


def p50_probit_of_model(program: str, P_grid, delta: float, sigma: float) -> float:
    """The probit-fit P_50 of the *predicted* curve sampled on ``P_grid`` (the like-for-like comparison
    with a probit fit of measured success rates on that grid)."""
    from ._stats import probit_fit

    P_grid = np.asarray(sorted(P_grid), dtype=float)
    n = 1e6   # expected counts of a huge number of trials: the fit of the curve itself
    mu, _ = probit_fit(P_grid, n * predicted_curve(program, P_grid.astype(int), delta, sigma), np.full(P_grid.size, n))
    return float(mu)


class TheoryPoint(dict):
    """δ by Monte Carlo (with standard error), δ by ψ, σ_V and the predicted P_50 per program."""


def theory(s, N, *, draws: int = DEFAULT_DRAWS, seed: int = 0) -> TheoryPoint:
    """All predictions for one (s, N) in a dict (cheap after the first call: Monte Carlo is cached).

    Examples
    --------
    >>> from nettrim.experiments import theory
    >>> t = theory.theory(10, 100)
    >>> round(t["p50_nettrim"] / t["p50_bp"], 1)   # Net-Trim needs about twice the samples: P_50 ≈ 2δ
    2.0
    """
    d, se = delta_mc(s, N, draws=draws, seed=seed, return_se=True)
    sig = sigma_v(s, N, draws=draws, seed=seed)
    return TheoryPoint(s=int(s), N=int(N), delta_mc=d, delta_mc_se=se, delta_psi=delta_psi(s, N), sigma_v=sig,
                       p50_bp=p50("bp", d, sig), p50_nettrim=p50("nettrim", d, sig),
                       width_bp=sig, width_nettrim=2.0 * np.sqrt(sig**2 + d / 2.0))
