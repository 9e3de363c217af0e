r"""Probit fits of success curves and their bootstrap errors (the P_50 of a phase transition).

Model: a trial with P samples succeeds with probability :math:`\Phi((P - \mu)/\sigma)`; μ is the 50 %
point P_50 and σ the transition width. The maximum-likelihood fit uses the aggregated counts (k
successes out of n trials at each P) and is vectorized over bootstrap replicates. The bootstrap
resamples the trials of every P with replacement, i.e. draws k* ~ Bin(n, k/n) independently per P.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["probit_fit", "p50_bootstrap"]


def _loglik(z, k, n):
    return (k * special.log_ndtr(z) + (n - k) * special.log_ndtr(-z)).sum(axis=-1)


def _mills(z):
    """φ(z)/Φ(z), computed in logs so that it stays finite far in the tails."""
    return np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - special.log_ndtr(z))


def probit_fit(P, k, n, *, sigma_min: float | None = None, iterations: int = 60):
    r"""Maximum-likelihood probit fit of success counts, vectorized over leading axes of ``k``.

    Parameters
    ----------
    P : array (L,)
        Sample counts of the grid (increasing).
    k : array (..., L)
        Successes at each P (one row per data set, e.g. per bootstrap replicate).
    n : array (L,) or (..., L)
        Trials at each P.
    sigma_min : float, optional
        Lower bound on σ. When the data are perfectly separated (all failures below some P, all
        successes above) the likelihood increases without bound as σ → 0; the bound then puts μ in
        the gap between the last failure and the first success. Default: a quarter of the smallest
        grid spacing (a width below the grid resolution is not measurable).
    iterations : int
        Fisher-scoring steps (the fit converges in ~10; step halving keeps every step an ascent).

    Returns
    -------
    mu, sigma : arrays of shape k.shape[:-1]
        NaN for a data set whose success rate never crosses ½ on the grid (μ outside the grid).
    """
    P = np.asarray(P, dtype=float)
    k = np.asarray(k, dtype=float)
    n = np.broadcast_to(np.asarray(n, dtype=float), k.shape)
    if sigma_min is None:
        sigma_min = 0.25 * (np.min(np.diff(P)) if P.size > 1 else 1.0)
    # work in x = (P - c)/h, z = a + b x; then mu = c - a h / b, sigma = h / b
    c, h = P.mean(), max(P.std(), 1e-12)
    x = (P - c) / h
    b_max = h / sigma_min
    b_min = h / (10.0 * (P.max() - P.min() + 1.0))   # widths beyond 10x the grid span are not resolved
    rate = np.divide(k, n, out=np.zeros_like(k), where=n > 0)
    cross = rate >= 0.5
    valid = cross.any(axis=-1) & (~cross).any(axis=-1)
    # start: the first P whose rate reaches ½, width = 2 grid steps
    first = np.argmax(cross, axis=-1)
    mu0 = P[first]
    b = np.full(k.shape[:-1], h / (2.0 * (sigma_min * 4.0)))
    a = (c - mu0) / h * b
    shape = a.shape
    a, b, k2, n2 = a.ravel().copy(), b.ravel().copy(), k.reshape(-1, x.size), n.reshape(-1, x.size)
    ll = _loglik(a[:, None] + b[:, None] * x, k2, n2)
    active = np.ones(a.shape, dtype=bool)      # data sets still moving
    for _ in range(iterations):
        i = np.flatnonzero(active)
        if not i.size:
            break
        ki, ni = k2[i], n2[i]
        z = a[i, None] + b[i, None] * x
        r_pos, r_neg = _mills(z), _mills(-z)
        d = ki * r_pos - (ni - ki) * r_neg       # dℓ/dz per grid point
        w = ni * r_pos * r_neg                   # Fisher information per grid point
        g0, g1 = d.sum(-1), (d * x).sum(-1)
        h00, h01, h11 = w.sum(-1), (w * x).sum(-1), (w * x * x).sum(-1)
        det = h00 * h11 - h01 ** 2
        det = np.where(det > 1e-300, det, np.inf)
        da, db = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        step = np.ones(i.size)
        accepted = np.zeros(i.size, dtype=bool)
        a_new, b_new, ll_new = a[i].copy(), b[i].copy(), ll[i].copy()
        for _ in range(20):                      # halve until the log-likelihood does not decrease
            j = ~accepted
            a_try = a[i][j] + step[j] * da[j]
            b_try = np.clip(b[i][j] + step[j] * db[j], b_min, b_max)
            ll_try = _loglik(a_try[:, None] + b_try[:, None] * x, ki[j], ni[j])
            ok = ll_try >= ll[i][j] - 1e-12
            jj = np.flatnonzero(j)[ok]
            a_new[jj], b_new[jj], ll_new[jj] = a_try[ok], b_try[ok], ll_try[ok]
            accepted[jj] = True
            step[np.flatnonzero(j)[~ok]] /= 2
            if accepted.all():
                break
        moved = np.maximum(np.abs(a_new - a[i]), np.abs(b_new - b[i]))
        a[i], b[i], ll[i] = a_new, b_new, ll_new
        active[i] = accepted & (moved > 1e-9)   # no ascent step left, or converged: done
    a, b = a.reshape(shape), b.reshape(shape)
    mu = c - a * h / b
    sigma = h / b
    mu = np.where(valid, mu, np.nan)
    return mu, np.where(valid, sigma, np.nan)


def p50_bootstrap(P, k, n, *, replicates: int = 400, seed: int = 0, sigma_min: float | None = None) -> dict:
    """P_50 by probit fit with its bootstrap standard error and 95 % percentile interval.

    Returns
    -------
    dict
        ``p50, sigma, se, lo, hi`` (NaN when the curve does not cross ½ on the grid) and ``censored``:
        ``"below"`` if every rate is ≥ ½, ``"above"`` if none is, else ``""``.
    """
    P = np.asarray(P, dtype=float)
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    order = np.argsort(P)
    P, k, n = P[order], k[order], n[order]
    rate = k / np.maximum(n, 1)
    censored = "below" if (rate >= 0.5).all() else ("above" if (rate < 0.5).all() else "")
    mu, sig = probit_fit(P, k, n, sigma_min=sigma_min)
    rng = np.random.default_rng(seed)
    kb = rng.binomial(n.astype(int), rate, size=(replicates, P.size))
    mub, _ = probit_fit(P, kb, n, sigma_min=sigma_min)
    mub = mub[np.isfinite(mub)]
    if mub.size >= 10 and np.isfinite(mu):
        se, lo, hi = float(np.std(mub, ddof=1)), *map(float, np.percentile(mub, [2.5, 97.5]))
    else:
        se = lo = hi = float("nan")
    return dict(p50=float(mu), sigma=float(sig), se=se, lo=lo, hi=hi, censored=censored)
