r"""Find the relative ε that keeps a target fraction of the weights.

The kept fraction k(ε) of a Net-Trim prune falls as ε grows (a larger ball admits sparser answers), and
over the useful range it is close to a power law, :math:`\log k \approx a + s\log\varepsilon`, that
saturates at k = 1 for small ε. The search therefore works on :math:`t = \log\varepsilon` and
:math:`\ell(k) = \log(k/(1-k))` (≈ log k for small k, and straight again near k = 1):

1. evaluate at the start ε (default :func:`start_epsilon`: the power law through an anchor measured on
   the harness's networks);
2. while the target is not bracketed, take a secant step in :math:`(t, \ell)` from the
   two most recent trials (the first step uses the slope :data:`SLOPE`), at most a factor
   :data:`MAX_STEP` in ε;
3. once it is bracketed, interpolate in :math:`(t, \ell)` between the nearest trials on
   either side, kept inside the middle of the bracket and bisecting when one side has been kept twice
   (the Illinois safeguard of regula falsi), until a trial is within ``tol`` of the target.

Every evaluation is handed the answer of the trial nearest in :math:`\log\varepsilon`, to warm-start from.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._validation import check_scalar

__all__ = ["DensitySearch", "Trial", "search_epsilon", "start_epsilon", "DENSITY_TOL", "SLOPE", "MAX_STEP",
           "START_ANCHOR"]

#: Default tolerance on the kept fraction (absolute).
DENSITY_TOL = 0.005
#: d logit(k) / d log ε for the first step. Measured on the MNIST 784-300-100-10 network (P = 4000) over
#: ε = 0.02–0.2: −0.9 (parallel) to −1.2 (cascade).
SLOPE = -1.0
#: (ε, kept) through which the first trial's power law passes: at the pruners' defaults a relative ε of 0.1
#: kept 12–37 % of the weights on the harness's networks (measured: MNIST-5k cascade 25.5 %, parallel about
#: 20 %; digits cascade 37.4 %, parallel 26.7 %; LeNet-5 parallel 12.5 %, cascade ℓ1-only 22.2 %). Before it
#: the search started at ε = 0.05 whatever the target, one trial more on MNIST at density 0.2.
START_ANCHOR = (0.1, 0.25)
#: Largest factor between consecutive ε while the target is not bracketed.
MAX_STEP = 8.0
# k is clipped to [_K_FLOOR, 1 - _K_FLOOR] inside the logit (an all-zero prune has k = 0, a dense one 1).
_K_FLOOR = 1e-6
# Position of an interpolated step inside the bracket: never closer than this fraction to either end.
_GUARD = 0.1


@dataclass
class Trial:
    """One evaluation of the search."""

    epsilon: float
    kept: float
    seconds: float
    payload: Any = field(default=None, repr=False)


@dataclass
class DensitySearch:
    """The result of :func:`search_epsilon`.

    Attributes
    ----------
    epsilon, kept : float
        The chosen trial (the one closest to the target).
    target, tol : float
    converged : bool
        ``|kept - target| <= tol``.
    payload
        What the evaluation returned for the chosen trial (e.g. the pruned layers).
    trials : list of Trial
        Every evaluation, in order.
    """

    epsilon: float
    kept: float
    target: float
    tol: float
    converged: bool
    payload: Any = field(repr=False)
    trials: list = field(default_factory=list, repr=False)

    @property
    def seconds(self) -> float:
        """Wall-clock time of all evaluations."""
        return sum(t.seconds for t in self.trials)


def start_epsilon(target: float, slope: float = SLOPE) -> float:
    r"""The first ε of a search for the kept fraction ``target``: :math:`\log\varepsilon = \log\varepsilon_0 +
    (\ell(\text{target}) - \ell(k_0))/s` through the anchor :math:`(\varepsilon_0, k_0)` = :data:`START_ANCHOR`,
    with ℓ the logit and s = ``slope``.

    Examples
    --------
    >>> round(start_epsilon(0.25), 6), round(start_epsilon(0.2), 3), round(start_epsilon(0.5), 3)
    (0.1, 0.133, 0.033)
    """
    target = check_scalar(target, "target", low=0.0, high=1.0, low_inclusive=False)
    if check_scalar(slope, "slope", high=0.0) == 0.0:
        raise ValueError("slope must be < 0 (the kept fraction falls as epsilon grows)")
    eps0, k0 = START_ANCHOR
    k = min(max(target, _K_FLOOR), 1.0 - _K_FLOOR)
    return eps0 * math.exp((math.log(k / (1 - k)) - math.log(k0 / (1 - k0))) / slope)


def search_epsilon(evaluate: Callable[[float, Any], tuple[float, Any]], target: float, *, start: float | None = None,
                   lower: float = 1e-6, upper: float = 1.0, tol: float = DENSITY_TOL, max_evals: int = 12,
                   slope: float = SLOPE) -> DensitySearch:
    r"""Search ε in [lower, upper] until ``evaluate(ε)`` keeps the ``target`` fraction within ``tol``.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(epsilon, warm) -> (kept, payload)``: prune at ``epsilon`` and return the kept fraction
        (in [0, 1]) and anything to keep (returned for the chosen trial, and passed back as ``warm`` to
        the next evaluation that is nearest in log ε; ``warm`` is None on the first call).
    target : float
        Kept fraction to reach, in (0, 1].
    start, lower, upper : float
        First ε (default :func:`start_epsilon` of ``target``, clipped to the range) and the range searched
        (0 < lower ≤ upper).
    tol : float
        Accept a trial with ``|kept - target| <= tol``.
    max_evals : int
        Evaluation budget; the closest trial is returned (``converged=False``) if it runs out, if the
        target lies outside [k(upper), k(lower)], or if k jumps over the target between two ε closer than
        1e-4 relative.
    slope : float
        d logit(k) / d log ε for the first step (< 0).

    Returns
    -------
    DensitySearch

    Examples
    --------
    >>> res = search_epsilon(lambda eps, warm: (min(1.0, 0.004 / eps), None), 0.2, start=0.05)  # k = 0.004/ε
    >>> abs(res.kept - 0.2) <= 0.005, res.converged, len(res.trials)
    (True, True, 3)
    """
    if not callable(evaluate):
        raise TypeError(f"evaluate must be callable, got {type(evaluate).__name__}")
    target = check_scalar(target, "target", low=0.0, high=1.0, low_inclusive=False)
    lower = check_scalar(lower, "lower", low=0.0, low_inclusive=False)
    upper = check_scalar(upper, "upper", low=lower)
    tol = check_scalar(tol, "tol", low=0.0)
    max_evals = check_scalar(max_evals, "max_evals", low=1, integer=True)
    slope = check_scalar(slope, "slope", high=0.0)
    if slope == 0.0:
        raise ValueError("slope must be < 0 (the kept fraction falls as epsilon grows)")
    start = start_epsilon(target, slope) if start is None else start
    start = min(max(check_scalar(start, "start", low=0.0, low_inclusive=False), lower), upper)
    t_lo, t_hi = math.log(lower), math.log(upper)
    trials: list[Trial] = []

    def run(t: float) -> Trial:
        eps = math.exp(t)
        warm = min(trials, key=lambda tr: abs(math.log(tr.epsilon) - t)).payload if trials else None
        t0 = time.perf_counter()
        kept, payload = evaluate(eps, warm)
        trial = Trial(eps, float(kept), time.perf_counter() - t0, payload)
        trials.append(trial)
        return trial

    def logit(k: float) -> float:
        k = min(max(k, _K_FLOOR), 1.0 - _K_FLOOR)
        return math.log(k / (1.0 - k))

    def lk(trial: Trial) -> float:
        return logit(trial.kept)

    goal = logit(target)

    def done() -> bool:
        return abs(trials[-1].kept - target) <= tol

    run(math.log(start))
    kept_side = None  # which end of the bracket the last interpolation kept ("dense"/"sparse")
    while not done() and len(trials) < max_evals:
        dense = [tr for tr in trials if tr.kept > target]    # ε too small
        sparse = [tr for tr in trials if tr.kept < target]   # ε too large
        if dense and sparse:
            a = max(dense, key=lambda tr: tr.epsilon)
            b = min(sparse, key=lambda tr: tr.epsilon)
            ta, tb = math.log(a.epsilon), math.log(b.epsilon)
            if tb - ta < 1e-4:
                break                                        # k jumps over the target here
            if lk(a) > lk(b):
                t = ta + (goal - lk(a)) * (tb - ta) / (lk(b) - lk(a))
            else:
                t = 0.5 * (ta + tb)
            t = min(max(t, ta + _GUARD * (tb - ta)), tb - _GUARD * (tb - ta))
            side = "dense" if trials[-1] is b else "sparse"  # the end that did not move
            if side == kept_side:
                t = 0.5 * (ta + tb)                          # Illinois: the same end twice, bisect
            kept_side = side
        else:
            last = trials[-1]
            s = slope
            if len(trials) >= 2:
                prev = trials[-2]
                dt = math.log(last.epsilon) - math.log(prev.epsilon)
                if dt != 0 and lk(last) != lk(prev):
                    s = min(max((lk(last) - lk(prev)) / dt, 5 * slope), 0.2 * slope)
            step = (goal - lk(last)) / s
            step = min(max(step, -math.log(MAX_STEP)), math.log(MAX_STEP))
            t = min(max(math.log(last.epsilon) + step, t_lo), t_hi)
            if any(abs(math.log(tr.epsilon) - t) < 1e-12 for tr in trials):
                break                                        # at a bound already tried: out of reach
        run(t)
    best = min(trials, key=lambda tr: (abs(tr.kept - target), tr.epsilon))
    return DensitySearch(epsilon=best.epsilon, kept=best.kept, target=target, tol=tol,
                         converged=abs(best.kept - target) <= tol, payload=best.payload, trials=trials)
