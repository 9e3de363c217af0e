r"""ADMM for the Net-Trim layer programs: certified answers, infeasibility certificates, active-set polish.

See :func:`solve`; the iteration itself is :class:`_Core` (this module), the W³-step
:mod:`nettrim.fast._linalg`, the W¹-projection :mod:`nettrim.fast._project`, the polish
:mod:`nettrim.fast._polish`, the linear reduction :mod:`nettrim.fast._linear`.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import NamedTuple

import numpy as np
from array_api_compat import is_torch_array

from nettrim._validation import as_float_matrix, check_scalar
from nettrim.problem import (
    EXACT_RAY_MAX_P,
    RAY_ROUNDS,
    LayerProblem,
    layer_problem,
    null_space_basis,
    project_to_rays,
    refine_ray,
    row_space_basis,
)
from nettrim.solution import (
    GAP_TOL,
    INFEASIBLE,
    MAX_EPS_GAP,
    MAX_EPS_VIOLATION,
    MAX_ITER,
    OPTIMAL,
    SOLVER_ERROR,
    VIOLATION_TOL,
    Solution,
    gap_certifies,
)

from ._crossover import crossover_equality
from ._linalg import make_step
from ._linear import reduce_linear
from ._ops import paper_scale, soft_threshold
from ._polish import BallPolish, polish_equality
from ._project import Projector
from ._xp import NUMPY, NUMPY32, Backend, backend_of

__all__ = ["solve", "VIOLATION_TOL", "GAP_TOL", "RHO_RANGE"]


# Initial ρ in normalized units (see _Core): over seeded random layers of every shape tried (dense and
# sparse W, P/N from 0.6 to 10, with and without bias and V) the best fixed ρ lay in [3, 5] for ReLU
# layers and near 10 for the (reduced) linear program.
_RHO_RELU, _RHO_LINEAR = 3.0, 10.0
#: Accepted range of ``rho`` (normalized units, where the useful values are 0.1–100): outside it the
#: soft threshold 1/ρ or the scaled duals leave the range where double precision resolves them.
RHO_RANGE = (1e-6, 1e6)
# Adaptive ρ: residual balancing (Boyd et al. 2011 §3.4.1) on the normalized residuals of OSQP (Stellato et
# al. 2020 §5.2): at each check ρ is multiplied by sqrt((‖r‖/max(‖Ax‖,‖Bz‖)) / (‖s‖/‖y‖)) when that
# factor leaves [1/_ADAPT_TRIGGER, _ADAPT_TRIGGER]. A change is free (ρ cancels in the W³-step). A lower
# trigger (1.5–5) was tried and made the default start 2–3× slower on the same layers: balancing the
# residuals is a poor proxy of the best ρ here, so it only corrects a ρ that is far off.
_ADAPT_TRIGGER = 10.0
# Residuals (and the adaptive ρ) are evaluated every _CHECK_EVERY iterations (OSQP checks every 25): they
# cost several passes over M×P arrays, a noticeable fraction of an iteration when N is small.
_CHECK_EVERY = 10
# Polish schedule: attempts from iteration _POLISH_FIRST on, at checks where the support of the sparse
# iterate changed in at most a share of its entries since the last check (_POLISH_STABLE = 1 %, less for
# layers where a polish costs many iterations: _Core._stable_share) or the residual test holds, each at
# least _POLISH_SPACING times the iteration of the previous attempt (so that attempts stay a bounded
# share of the run). Measured on the digits and MNIST layers (bench-solvers): 0.3 %–3 % gave the same CPU
# time on the digits layers (fewer iterations, longer polishes), while the 785×300 MNIST layer needed
# 0.1 %–0.3 % (a polish there costs ~100 iterations when the support is still moving). A spacing of 1.5
# left a digits cascade layer (ε = 0.05) at 1,020 iterations after a failed attempt near 680; 1.2 took it to
# 160 and left the other digits layers unchanged (bench-solvers).
_POLISH_FIRST = 30
# ε = 0 (a linear program, often degenerate on trained layers): after _RELAX_AFTER iterations (at most half
# of max_iter) without a certificate, the program at ε' = _RELAX_SHARE·eps_violation·‖Y‖_F is solved,
# warm-started, in the remaining iterations. Its certified answer is certified for ε = 0 (docstring). A
# last resort: before the simplex crossover (fast/_crossover.py) it took a MNIST layer-2 LP from max_iter
# at 50,000 to certified at 2,300 iterations; since the crossover every ε = 0 program of the cross-check
# and of bench-solvers certifies exactly at the first polish. Below _RELAX_MIN_ITER a run is a probe (a
# test, a callback), not a solve: no switch.
_RELAX_AFTER = 1000
_RELAX_SHARE = 0.5
_RELAX_MIN_ITER = 1000
# iteration_dtype="float32": single-precision iterations before the run goes on in float64. Float32 stalls
# where the residuals reach its round-off (~1e-7 relative, times κ(XXᵀ + I) ≤ 1 + 11N after the
# normalization) before a certificate; every trained layer measured certified well before this (the
# LeNet cascade's slowest dense layer at 600–1,300 iterations).
_SINGLE_AFTER = 2000
_POLISH_STABLE = 1e-2
_POLISH_SPACING = 1.2
# ... but not while the residuals contract fast enough to meet the test within _POLISH_SKIP iterations at
# their current rate (a Gaussian 200×50 layer converges in 60 iterations; a polish there cost 2×).
_POLISH_SKIP = 30
# Infeasibility detection (Banjac et al. 2019): from iteration _INFEASIBLE_FIRST on, a check whose primal
# residual test fails tests the last dual increment δU¹ as a certificate (LayerProblem.check_certificate).
_INFEASIBLE_FIRST = 20
# A candidate that fails the check but has a positive dual value is refined by RAY_ROUNDS alternating
# projections (nettrim.problem.refine_ray: null space of X, sign cone on Ωᶜ) and checked again.
# ... when ‖δU¹‖ has not fallen below _RAY_SETTLED times its value at the previous check (measured on the
# infeasible layers of tests/test_fast_certified.py: the increment settles within ~100 iterations).
_RAY_SETTLED = 0.9
_RAY_SPACING = 1.0
# ... and only when the candidate is already within _RAY_SCREEN of a ray: its dual residual r (relative,
# LayerProblem.check_certificate) at most _RAY_SCREEN times its dual value v. Measured: on the infeasible
# layers of tests/test_fast_certified.py r/v ≤ 0.022 at every refinement (the one that certifies starts at
# r/v ≤ 6e-4, and 20 rounds cut r/v by 10–200×); on the trained cascade layers (digits and MNIST layer 2,
# bench-solvers) r/v ≈ 1 at every settled check and the refined candidate had no positive dual value, so
# each refinement (20 rounds of two M×P×rank(X) products, ~20 iterations' work) was wasted: 20 of them
# took a third of the MNIST layer-2 cascade program's CPU time.
_RAY_SCREEN = 0.1
# ... or of 1 where the candidate is projected exactly (P ≤ nettrim.problem.EXACT_RAY_MAX_P: one NNLS per
# neuron on a small program). Measured on the 9×17 signed-V program at ε = 0 of tests/test_fast_certified.py:
# certified infeasible at iteration 130 (screen 1, 3 projections) against 3,160 at 0.1 and 2,550 at 0.3
# (there the exact run at ε = 0 gave up at 1,000 and the relaxed ε' run certified).
_RAY_SCREEN_EXACT = 1.0
# Row scaling (solve, "Row scaling") only when its factors spread more than this (max/min; norms of the rows
# of X more than 2.25× apart): on the Gaussian layers (row norms within a few per cent) the scaled solve took
# the same iterations and 3–9 % more CPU (bench-solvers --quick).
_SCALING_SPREAD = 1.5


def solve(X, Y, epsilon, *, activation="relu", V=None, weights=None, eps_abs=1e-6, eps_rel=1e-5,
          eps_violation=VIOLATION_TOL, eps_gap=GAP_TOL, max_iter=10000, rho=None, adaptive_rho=True, alpha=1.6,
          polish=True, scaling=True, iteration_dtype=None, warm_start=None, verbose=False,
          callback=None) -> Solution:
    r"""Solve a Net-Trim layer program by ADMM; "optimal" only with a certified gap.

    The program (:func:`nettrim.layer_problem`; Ω = {Y > 0}, for a linear layer Ω = everything) is

    .. math::

        \min_W \|W\|_1 \quad\text{s.t.}\quad W^\top X \in C = \{Z : \|Z_\Omega - Y_\Omega\|_F \le \varepsilon,
        \ Z_{\Omega^c} \le V_{\Omega^c}\}.

    **Splitting** (Aghasi, Abdi & Romberg 2020): :math:`W^1 = W^{3\top}X` (M×P), :math:`W^2 = W^3` (N×M),
    minimize :math:`\iota_C(W^1) + \|W^2\|_1`, scaled duals :math:`U^1, U^2`, penalty ρ, relaxation α.
    One iteration:

    .. math::

        W^1 &= \Pi_C\big(W^{3\top}X - U^1\big) \\
        W^2 &= \mathcal S_{1/\rho}\big(W^3 - U^2\big), \qquad \mathcal S_\tau(z) = \mathrm{sign}(z)(|z|-\tau)_+ \\
        \hat W^1 &= \alpha W^1 + (1-\alpha) W^{3\top}X, \qquad \hat W^2 = \alpha W^2 + (1-\alpha) W^3 \\
        (XX^\top + I)\, W^3_+ &= X(\hat W^1 + U^1)^\top + \hat W^2 + U^2 \\
        U^1_+ &= U^1 + \hat W^1 - W^{3\top}_+X, \qquad U^2_+ = U^2 + \hat W^2 - W^3_+ .

    :math:`\Pi_C` is the radial projection onto the ball on Ω and :math:`\min(\cdot, V)` on Ωᶜ. ρ cancels
    in the W³-step, so :math:`XX^\top + I` is factored once (Cholesky; for P < N the Woodbury form with
    :math:`I + X^\top X`), and a change of ρ only rescales :math:`U^{1,2} \leftarrow U^{1,2}\rho/\rho_+`. One
    iteration costs two GEMMs (≈ 4·N·M·P flops) plus an N²·M product with the inverse (see
    :mod:`nettrim.fast._linalg`) and ~12 passes over M×P arrays. The data are first normalized
    (X by :math:`c_0 = 0.3\sqrt{\max_{ij}(XX^\top)_{ij}}` as in the paper, Y, V, ε by :math:`\|Y\|_F/\sqrt{MP}`);
    results are mapped back. A linear layer with P > N is first reduced to P = N (see
    :mod:`nettrim.fast._linear`): its iterations then cost O(N²M).

    **Certified stopping.** The answer is the sparse iterate :math:`W^2` (exact zeros), or a polished one.
    It is "optimal" only when its recomputed relative violation
    (:meth:`nettrim.LayerProblem.violation`) is ≤ ``eps_violation`` **and** its relative duality gap
    (:meth:`nettrim.LayerProblem.gap`) against the dual-feasible multiplier
    :math:`\Lambda = -\rho U^1` (made feasible by :meth:`nettrim.LayerProblem.project_dual`), or the
    polish's multiplier, is within ±``eps_gap`` (:func:`nettrim.solution.gap_certifies`; a gap below
    −``eps_gap`` proves the answer cheaper than the optimum by more than ``eps_gap``·‖W‖₁, i.e. set by the
    violation tolerance): a certificate of both feasibility and optimality, checked from the definitions; where the
    multiplier fails, its complementary version (:meth:`nettrim.LayerProblem.complementary_dual`: zero on
    the inequalities W leaves slack) is tried. Boyd's residual test (§3.3 of Boyd et al. 2011, every 10
    iterations, :math:`p = MP + NM`)

    .. math::

        \|r\| = \|(W^1 - W^{3\top}X,\ W^2 - W^3)\|_F \le \sqrt p\,\epsilon_{abs}
            + \epsilon_{rel}\max(\|(W^1, W^2)\|_F, \|(W^{3\top}X, W^3)\|_F), \\
        \|s\| = \rho\,\|(\Delta W^{3\top}X,\ \Delta W^3)\|_F \le \sqrt p\,\epsilon_{abs}
            + \epsilon_{rel}\,\rho\|(U^1, U^2)\|_F

    decides when that certificate is evaluated.

    **Polish** (``polish=True``). ADMM finds the support of the answer long before it converges on it.
    From iteration 30 on, when the support is stable, the iterate is polished: on the face it has
    identified (support, signs, tight inequalities) the program is solved exactly — for ε > 0 with one
    scalar multiplier for the ball and a few primal-dual active-set rounds (:mod:`nettrim.fast._polish`),
    for ε = 0 (a linear program) by the least-norm correction onto the active constraints on the support
    completed to a vertex; when that does not certify, by a crossover: each neuron's LP restricted to the
    iterate's support and the inputs whose multiplier is near its bound, solved by the HiGHS dual simplex,
    with inputs that price out added until none does (column generation, :mod:`nettrim.fast._crossover`).
    The degenerate trained-layer LPs of the cross-check certify at the first attempt (iteration 30). A
    polished W is returned only when the certificate above holds for it.

    **ε = 0 within tolerance** (a last resort: no measured program needs it since the crossover). When
    ε = 0 is not certified after 1,000 iterations (at most half of ``max_iter``; only with ``polish`` and
    ``max_iter`` ≥ 1,000), the remaining iterations solve, warm-started, the program at
    :math:`\varepsilon' = \tfrac12\,\epsilon_{viol}\|Y\|_F` to violation :math:`\tfrac12\epsilon_{viol}`.
    Its answer W has ε = 0 violation ≤ ε'/‖Y‖_F + ½ε_viol = ``eps_violation``, and its Λ is dual-feasible
    for ε = 0 with a larger dual value (:math:`d_0(\Lambda) = d_{\varepsilon'}(\Lambda) +
    \varepsilon'\|\Lambda_\Omega\|_F`), so the gap's upper side holds for the ε = 0 program itself,
    which is what the status reports. Such an answer meets Ω within ε' rather than to round-off, and can lie below
    the ε = 0 optimum; where that shows as a gap below −``eps_gap`` on the ε = 0 program, the status is
    "max_iter" and ``info["message"]`` says so; ``info["relaxed"]`` says when it happened (ε' and the exact
    iterations).

    **Infeasibility.** On an infeasible program the scaled dual diverges and its increment
    :math:`\delta U^1` converges to a ray of the dual (Banjac et al. 2019). From iteration 20 on, while
    the primal residual test fails, :math:`\Lambda = -\delta U^1` (clipped at 0 on Ωᶜ) is checked by
    :meth:`nettrim.LayerProblem.check_certificate`; a valid one ends the run with status "infeasible".
    A linear layer whose ε is below ‖Y⊥‖_F (the part of Y outside the row space of X) is infeasible
    before any iteration, with the certificate :math:`\Lambda = -Y_\perp`. A valid certificate proves that
    every feasible W has :math:`\sum w|u|` at least its ``lower_bound``, at least 1e6 times
    :math:`\|Y\|_F\min w/\max_i\|x_i\|`: a program is reported infeasible also when it is feasible only with
    weights that large, which happens when the norms of the inputs (rows of X) span more than about six
    decades and the outputs need the smallest ones (a seeded 6-input layer with rows scaled by 3000 and
    1/3000 ended "infeasible"; by 1000 and 1/1000, "optimal"). Rescale such inputs before pruning.

    **Inputs that are always 0** (rows :math:`X_i = 0`: blank pixels, neurons left dead by the previous
    layer's pruning) are dropped before anything runs, an exact reduction (their rows of W are 0 at every
    optimum and the multiplier is the same); ``info["zero_inputs"]`` counts them, and the answer's violation
    and gap are recomputed on the whole program.

    **Row scaling** (``scaling=True``), a diagonal preconditioner that is an exact change of variables: with
    :math:`d_i = (\|x_i\|/\mathrm{median}_k\|x_k\|)^{1/2}` (:math:`x_i` the rows of X), the program in
    :math:`W' = DW` with inputs :math:`X' = D^{-1}X` has the same responses :math:`W'^\top X' = W^\top X`
    (so the same constraints and multiplier Λ) and the weighted objective :math:`\sum_{ij} (c_{ij}/d_i)
    |W'_{ij}|`: it is solved instead and mapped back, :math:`W = D^{-1}W'`, with violation and gap
    recomputed on the program as given. The square root moves the rows' norms halfway (in log scale) to
    their median. Full equilibration (:math:`d_i = \|x_i\|`) slowed the MNIST first layer, whose row norms
    spread 2,700× (rarely lit border pixels then carry ℓ1 weights hundreds of times the others; at ε = 0.2
    many times the iterations, in a prototype outside the repository). The square root made the median
    trained-layer program of ``bench-solvers`` (which prints every program with ``scaling=False`` beside
    it) 1.13× faster in CPU time, from 0.78× (slower, on a few small layers) to 2.07×, the cascade
    programs gaining most; the objectives agree to round-off. Rows whose norms are all within 2.25× of each
    other (Gaussian X) are left as they are.

    **Arrays and devices.** X, Y (and V, ``weights``, a ``warm_start`` array) may be numpy arrays (array-likes)
    or torch tensors — all of one kind, tensors all float32 or all float64 on one device (CPU or CUDA). The
    iteration above is one implementation over an array namespace (:mod:`nettrim.fast._xp`) and runs in the
    tensors' dtype on their device; the validation, the set-up (normalization, the factorization, the linear
    reduction), the certificate checks (violation, gap, infeasibility) and the polish run on the host in
    float64 from a float64 copy of the data (the iterate is copied to the host only when a certificate is
    evaluated or a polish attempted). ``Solution.W`` comes back as the input's type, device and dtype;
    ``dual`` and ``info`` hold host numpy float64 arrays. In float32 the answer is rounded to float32
    *before* its violation and gap are computed (in float64, from the definitions), so "optimal" holds for
    the tensor returned. Measured on CPU (Gaussian 200×50, P = 2000 and seeded random ReLU layers with
    bias and V up to 300×50, P = 1500): float32 reaches the default tolerances (violation ≤ 1e-6, |gap| ≤
    1e-4) in the same number of iterations as float64, with violations ~2e-8 (the float32 rounding of W)
    once polished and ~2e-7 unpolished; at the pruning grade (:data:`nettrim.fast.PRUNING_OPTIONS`) both
    precisions stop at the same iteration. The float32 round-off (≈ 6e-8 relative) bounds what can be
    certified: an ``eps_violation`` much below 1e-7 is out of reach in float32 and ends in "max_iter".

    Parameters
    ----------
    X, Y, epsilon, activation, V
        The layer program, as for :func:`nettrim.layer_problem` (validated the same way, after tensors are
        copied to host float64). X, Y, V: numpy arrays or torch tensors (see above); epsilon a number or a
        0-d tensor.
    weights : array_like or tensor, shape (N, M), optional
        Positive ℓ1 weights c: minimize :math:`\sum_{ij} c_{ij}|W_{ij}|` instead of :math:`\|W\|_1`
        (reweighted ℓ1). The W²-step becomes the entrywise soft threshold :math:`\mathcal S_{c/\rho}`, and
        the dual constraint behind the gap :math:`|(X\Lambda^\top)_{ij}| \le c_{ij}`. The iteration runs on
        c/max c (the same program, whatever the units of c; ``info["weight_scale"]`` = max c, and Λ,
        Γ and the gap are those of c itself).
    eps_abs, eps_rel : float
        Absolute and relative residual tolerances (≥ 0, not both 0): when the residual test holds the
        certificate is evaluated (and the iterate polished).
    eps_violation : float
        Largest relative violation of the returned W for status "optimal" (default
        :data:`nettrim.VIOLATION_TOL` = 1e-6; at most :data:`nettrim.solution.MAX_EPS_VIOLATION` = 1e-2).
        It is an excess over ε in units of ‖Y‖_F: when ε is not far above ``eps_violation``·‖Y‖_F and X is
        badly conditioned, a W that uses it can undercut the optimum at ε by more than ``eps_gap`` without
        its own multiplier showing it (ε = 1e-7·‖Y‖_F, rows of X 1e±3 apart: 6 % below CLARABEL's
        bound, measured with a script outside the repository); give a smaller ``eps_violation`` there.
    eps_gap : float
        Largest absolute value of the certified relative duality gap for status "optimal" (default
        :data:`nettrim.GAP_TOL` = 1e-4; at most :data:`nettrim.solution.MAX_EPS_GAP` = 0.1).
    max_iter : int
        Iteration limit (≥ 1).
    rho : float, optional
        Initial penalty ρ in normalized units, in :data:`RHO_RANGE` (default 3 for ReLU layers, 10 for
        linear ones: the best fixed values on seeded random layers of many shapes).
    adaptive_rho : bool
        Rescale ρ by residual balancing when the normalized residuals are more than 10× out of balance
        (free: no refactorization).
    alpha : float
        Over-relaxation α ∈ (0, 2) (1 = plain ADMM; 1.6 is OSQP's default).
    polish : bool
        Polish the iterate on its face (see above).
    scaling : bool
        Solve the row-scaled program (see above) when the factors d spread more than 1.5× (max/min);
        ``info["scaling"]`` holds d (None when not scaled).
    iteration_dtype : {None, "float32", "float64"}
        Precision of the ADMM iteration for numpy input (None: float64). With "float32" the two GEMMs of
        an iteration run in single precision (about twice as fast on a CPU); the set-up, the checks, the
        polish and the certificate stay in float64, and W is returned in float64, certified as always. A
        program not certified after 2,000 single-precision iterations goes on in float64 from there
        (``info["double_after"]``); ε = 0 programs (linear programs, finished by the polish) always iterate
        in float64. Tensors iterate in their own dtype: only None or that dtype is accepted.
    warm_start : Solution or array_like (N, M), optional
        Initial :math:`W^3`. A :class:`~nettrim.Solution` also restores the duals when their shapes match:
        Λ from ``Solution.dual`` (any solver's) and Γ from ``Solution.info["dual_l1"]`` (this function's);
        a plain array starts from zero duals.
    verbose : bool
        Print the residuals every 100 iterations and a summary at the end.
    callback : callable, optional
        ``callback(W)`` after every iteration with the current sparse iterate W² (original units, a copy;
        a tensor like the input for tensor input).

    Returns
    -------
    Solution
        ``W`` in the original units: the certified answer, or the last sparse iterate :math:`W^2`.
        ``status``: "optimal" (certified, see above), "infeasible" (``W`` NaN, ``dual`` the certificate,
        ``info["certificate"]`` its :class:`~nettrim.problem.Certificate`), "max_iter" (the limit came
        first), or "solver_error" (the iterates left the floating-point range; ``info["message"]``).
        ``gap`` is the certified relative gap as computed, reported only for a W within ``eps_violation``
        (else None); it is negative when W, within that tolerance, sits below the optimum, and "optimal"
        needs it within ±``eps_gap``;
        ``dual`` is the dual-feasible Λ behind it. ``info`` holds ``history`` (per check: ``iteration``,
        ``r_prim``, ``r_dual``, ``eps_prim``, ``eps_dual``, ``rho``), ``rho`` (final), ``dual_l1``
        (Γ = ρU², N×M), ``factorization`` ("cholesky"/"woodbury"), ``reduced`` (linear reduction used),
        ``setup_time``, ``certificate_checks``, ``polishes`` (attempts), ``polished`` (the answer is a
        polished one), ``crossovers`` (ε = 0 simplex crossovers tried), ``polish_time``,
        ``scale_x``/``scale_y`` (the normalization), ``weight_scale`` (max c, with weights other than
        max c = 1 only), ``relaxed`` (None, or
        ε' and the ε = 0 iterations when an ε = 0 program was finished within tolerance, see above).

    Raises
    ------
    TypeError, ValueError
        Invalid data (as :func:`nettrim.layer_problem`) or settings, naming the argument; numpy arrays mixed
        with tensors, tensors of another dtype than float32/float64, of two dtypes or on two devices.

    References
    ----------
    A. Aghasi, A. Abdi, J. Romberg, "Fast convex pruning of deep neural networks", SIAM J. Math. Data
    Sci. 2(1), 2020. S. Boyd et al., "Distributed optimization and statistical learning via the
    alternating direction method of multipliers", Found. Trends Mach. Learn. 3(1), 2011. G. Banjac,
    P. Goulart, B. Stellato, S. Boyd, "Infeasibility detection in the alternating direction method of
    multipliers for convex optimization", J. Optim. Theory Appl. 183, 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from nettrim import fast
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 100))
    >>> Y = np.maximum(rng.standard_normal((20, 3)).T @ X, 0)
    >>> sol = fast.solve(X, Y, 0.05 * np.linalg.norm(Y))
    >>> sol.status, sol.violation <= 1e-6, abs(sol.gap) <= 1e-4
    ('optimal', True, True)
    """
    t0 = time.perf_counter()
    backend, arrays = backend_of({"X": X, "Y": Y, "V": V, "weights": weights,
                                  "warm_start": None if isinstance(warm_start, Solution) else warm_start})
    sol = _solve(t0, backend, arrays["X"], arrays["Y"], epsilon, activation=activation, V=arrays["V"],
                 weights=arrays["weights"], eps_abs=eps_abs, eps_rel=eps_rel, eps_violation=eps_violation,
                 eps_gap=eps_gap, max_iter=max_iter, rho=rho, adaptive_rho=adaptive_rho, alpha=alpha, polish=polish,
                 scaling=scaling, iteration_dtype=iteration_dtype,
                 warm_start=warm_start if isinstance(warm_start, Solution) else arrays["warm_start"],
                 verbose=verbose, callback=callback)
    sol.W = backend.out(sol.W)
    return sol


def _solve(t0, backend: Backend, X, Y, epsilon, *, activation, V, weights, eps_abs, eps_rel, eps_violation, eps_gap,
           max_iter, rho, adaptive_rho, alpha, polish, scaling, iteration_dtype, warm_start, verbose,
           callback, summary=True, outer=True) -> Solution:
    """:func:`solve` on host arrays (tensors already converted); the iteration runs on ``backend``. With
    ``verbose``, the answer's summary is printed unless ``summary`` is False (a reduced program's caller prints
    the whole program's). ``outer`` is False for the exact reformulations solved on the way (their weights,
    e.g. the row scaling's c/d, are internal and not divided by their largest again)."""
    prob = layer_problem(X, Y, epsilon, activation=activation, V=V, weights=weights)
    eps_abs = check_scalar(eps_abs, "eps_abs", low=0.0)
    eps_rel = check_scalar(eps_rel, "eps_rel", low=0.0)
    if eps_abs == 0 and eps_rel == 0:
        raise ValueError("eps_abs and eps_rel cannot both be 0 (the stopping test could never hold)")
    eps_violation = check_scalar(eps_violation, "eps_violation", low=0.0, high=MAX_EPS_VIOLATION)
    eps_gap = check_scalar(eps_gap, "eps_gap", low=0.0, high=MAX_EPS_GAP)
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    if rho is not None:
        rho = check_scalar(rho, "rho", low=RHO_RANGE[0], high=RHO_RANGE[1])
    for name, flag in (("adaptive_rho", adaptive_rho), ("polish", polish), ("scaling", scaling), ("verbose", verbose)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    alpha = check_scalar(alpha, "alpha", low=0.0, high=2.0, low_inclusive=False)
    if alpha >= 2.0:
        raise ValueError(f"alpha must be < 2 (over-relaxation needs alpha in (0, 2)), got {alpha}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    W0, Lam0, Gam0 = warm_start if isinstance(warm_start, _Start) else _warm_start(prob, warm_start)
    zero = ~np.any(prob.X, axis=1)
    settings = dict(eps_abs=eps_abs, eps_rel=eps_rel, eps_violation=eps_violation, eps_gap=eps_gap,
                    max_iter=max_iter, rho=rho, adaptive_rho=adaptive_rho, alpha=alpha, polish=polish,
                    scaling=scaling, iteration_dtype=iteration_dtype, verbose=verbose)
    if outer and prob.weights is not None and float(np.max(prob.weights)) != 1.0:
        return _weight_scaled(t0, backend, prob, (W0, Lam0, Gam0), callback, settings, summary)
    if zero.any() and not zero.all():
        return _without_zero_inputs(t0, backend, prob, zero, (W0, Lam0, Gam0), callback, settings, summary)
    if scaling and not zero.any() and _row_scales(prob.X) is not None:
        return _row_scaled(t0, backend, prob, (W0, Lam0, Gam0), callback, settings, summary)
    single = _check_iteration_dtype(iteration_dtype, backend) and prob.epsilon > 0
    core = _Core(prob, NUMPY32 if single else backend)
    red = core.reduction
    if red is not None and (red.y_perp_norm - prob.epsilon) / prob.y_norm > eps_violation:
        # Every W has ‖WᵀX − Y‖_F ≥ ‖Y⊥‖_F (the part of Y outside the row space of X): infeasible before any
        # iteration, and Λ = −Y⊥ proves it (a ray of the dual, checked from its definition)
        cert = prob.check_certificate(red.certificate())
        if cert.valid:
            return _infeasible(prob, red.certificate(), cert, 0, t0, core,
                               f"infeasible: epsilon = {prob.epsilon:g} < ||Y_perp||_F = {red.y_perp_norm:g}, "
                               "the least residual of any W")
    settings = dict(eps_abs=eps_abs, eps_rel=eps_rel, eps_gap=eps_gap, adaptive_rho=bool(adaptive_rho),
                    alpha=alpha, polish=bool(polish), verbose=bool(verbose), callback=callback)
    relax = prob.epsilon == 0 and polish and max_iter >= _RELAX_MIN_ITER
    first = min(_RELAX_AFTER, max_iter // 2) if relax else max_iter
    if single:
        first = min(_SINGLE_AFTER, max_iter)
    state = core.run(W0, Lam0, Gam0, eps_violation=eps_violation, max_iter=first,
                     rho=core.default_rho if rho is None else rho, **settings)
    relaxed = double_after = None
    if (single and state["status"] in (None, SOLVER_ERROR) and not state["converged"]
            and state["iterations"] < max_iter):
        # not certified in single precision: go on in float64 from where it stopped (see the docstring), or
        # from the start if the float32 iterates left their range
        double_after = state["iterations"]
        if state["status"] == SOLVER_ERROR:
            start, rho_next = (W0, Lam0, Gam0), core.default_rho if rho is None else rho
        else:
            start, rho_next = (state["W"], state["Lambda"], state["Gamma"]), state["rho"]
        core, state = _go_on(core, prob, NUMPY, state, start, max_iter=max_iter, eps_violation=eps_violation,
                             rho=rho_next, settings=settings)
    if relax and state["status"] is None and not state["converged"]:
        # ε = 0 not certified: solve the program at ε' = eps_violation·‖Y‖_F / 2 (warm), see the docstring
        eps2 = _RELAX_SHARE * eps_violation * prob.y_norm
        relaxed = dict(epsilon=eps2, exact_iterations=state["iterations"])
        prob2 = layer_problem(prob.X, prob.Y, eps2, activation=prob.activation, weights=prob.weights,
                              V=prob.V if prob.activation == "relu" else None)
        core, state = _go_on(core, prob2, backend, state, (state["W"], state["Lambda"], state["Gamma"]),
                             max_iter=max_iter, eps_violation=(1 - _RELAX_SHARE) * eps_violation,
                             rho=state["rho"], settings=settings)
    info = dict(history=state["history"], rho=state["rho"], dual_l1=state["Gamma"], scaling=None,
                factorization=core.step.kind,
                reduced=red is not None, setup_time=core.setup_time, certificate_checks=state["checks"],
                polishes=state["polishes"], crossovers=state["crossovers"], polished=state["polished"],
                polish_time=state["polish_time"],
                ray_refinements=core.ray_refinements,
                scale_x=core.a, scale_y=core.b, relaxed=relaxed,
                iteration_dtype="float32" if single and double_after is None else "float64",
                double_after=double_after)
    if state["status"] == INFEASIBLE:
        return _infeasible(prob, state["certificate"], state["cert"], state["iterations"], t0, core,
                           "infeasible: the dual increment of the ADMM is a certificate (a ray of the dual)", info)
    if state["status"] == SOLVER_ERROR:
        info["message"] = state["message"]
        return Solution(W=np.full((prob.N, prob.M), np.nan), status=SOLVER_ERROR, objective=float("nan"),
                        violation=float("nan"), gap=None, iterations=state["iterations"],
                        solve_time=time.perf_counter() - t0, solver="ADMM", info=info)
    W = state["W"]
    violation = prob.violation(W)
    Lam = state["Lambda"]
    gap = None
    if violation <= eps_violation:
        gap = prob.gap(W, Lam, project=False)
    status = OPTIMAL if state["converged"] and gap_certifies(gap, eps_gap) else MAX_ITER
    if state["converged"] and status != OPTIMAL:
        # certified on the program the iteration ran (the relaxed ε' of an ε = 0 program) but not on the
        # program as given: its lower side (d₀ = d_ε' + ε'‖Λ_Ω‖ can exceed ‖W‖₁ by more than eps_gap)
        info["message"] = (f"the answer certified for the program the iteration ran is not certified for the "
                           f"program as given: violation {violation:.2e}, gap "
                           f"{'n/a' if gap is None else format(gap, '.2e')} (eps_gap = {eps_gap:g})")
    sol = Solution(W=W, status=status, objective=prob.objective(W), violation=violation, gap=gap,
                   iterations=state["iterations"], solve_time=time.perf_counter() - t0, solver="ADMM",
                   dual=Lam, info=info)
    if verbose and summary:
        print(sol.summary())
    return sol


class _Start(NamedTuple):
    """A warm start already checked against its program (W, Λ, Γ; None = zero): passed on internally only, so
    that no user argument (a tuple is an array-like) is taken for one."""

    W: np.ndarray | None
    Lam: np.ndarray | None
    Gam: np.ndarray | None


def _without_zero_inputs(t0, backend, prob: LayerProblem, zero, start, callback, settings, summary) -> Solution:
    r"""Solve ``prob`` without its inputs that are 0 on every sample (rows :math:`X_i = 0`), an exact reduction.

    Such an input never changes :math:`W^\top X`, so setting its row of W to 0 keeps every W feasible
    and lowers the objective: every optimum has :math:`W_{i\cdot} = 0` there, and the program on the other
    inputs has the same optimal value. Its multiplier Λ (M×P) is the same for both programs,
    :math:`(X\Lambda^\top)_{i\cdot} = 0 \le c_{i\cdot}` on the dropped rows, so a certificate of optimality or of
    infeasibility of the reduced program is one of the full program; the violation and the gap of the
    answer are recomputed on the full program all the same (:func:`_lift`). MNIST has 128 blank border
    pixels in the 4,000 calibration images of the harness (16 % of the inputs of its first layer, and of that
    layer's work); a cascade program's input has a zero row for every neuron that the previous layer's
    pruning left dead.
    """
    keep = ~zero
    N, M = prob.N, prob.M
    W0, Lam0, Gam0 = start

    def expand(W):
        if is_torch_array(W):
            import torch

            full = W.new_zeros((N, M))
            full[torch.as_tensor(np.flatnonzero(keep), device=W.device)] = W
            return full
        full = np.zeros((N, M), dtype=np.asarray(W).dtype)
        full[keep] = W
        return full

    sub = _solve(t0, backend, prob.X[keep], prob.Y, prob.epsilon, activation=prob.activation,
                 V=prob.V if prob.activation == "relu" else None,
                 weights=None if prob.weights is None else prob.weights[keep],
                 warm_start=_Start(None if W0 is None else W0[keep], Lam0, None if Gam0 is None else Gam0[keep]),
                 callback=None if callback is None else (lambda W: callback(expand(W))), summary=False, outer=False,
                 **settings)
    info = dict(sub.info, zero_inputs=int(zero.sum()))
    if info.get("dual_l1") is not None:
        info["dual_l1"] = expand(info["dual_l1"])
    if info.get("scaling") is not None:
        info["scaling"] = expand(info["scaling"][:, None])[:, 0]
    return _lift(t0, prob, sub, expand, info, settings, summary)


def _weight_scaled(t0, backend, prob: LayerProblem, start, callback, settings, summary) -> Solution:
    r"""Solve ``prob`` with its ℓ1 weights divided by their largest, c = max w (an exact reformulation).

    :math:`\sum (w_{ij}/c)|u_{ij}|` has the minimizers of :math:`\sum w_{ij}|u_{ij}|`; a multiplier Λ' of the
    scaled program (:math:`|(X\Lambda'^\top)_{ij}| \le w_{ij}/c`) gives :math:`\Lambda = c\Lambda'` for the
    given one, with the same relative gap, and a ray keeps its direction. Without it the iteration's soft
    threshold :math:`w/\rho` and its duals follow the units of w: on a seeded 6×40 ReLU layer, weights all
    equal to 1e10 took 4,440 iterations where weights of 1 take 60, and 1e±30 ran to ``max_iter`` (the same
    program each time; 60 iterations for every one of them with the division). Reweighted
    ℓ1 weights δ/(|u| + δ) have maximum 1 wherever an entry is 0, and are passed on unchanged.
    """
    c = float(np.max(prob.weights))
    W0, Lam0, Gam0 = start
    sub = _solve(t0, backend, prob.X, prob.Y, prob.epsilon, activation=prob.activation,
                 V=prob.V if prob.activation == "relu" else None, weights=prob.weights / c,
                 warm_start=_Start(W0, None if Lam0 is None else Lam0 / c, None if Gam0 is None else Gam0 / c),
                 callback=callback, summary=False, outer=False, **settings)
    info = dict(sub.info, weight_scale=c)
    if info.get("dual_l1") is not None:
        info["dual_l1"] = info["dual_l1"] * c
    if sub.dual is not None:
        sub = replace(sub, dual=sub.dual * c)
    return _lift(t0, prob, sub, lambda W: W, info, settings, summary)


def _row_scaled(t0, backend, prob: LayerProblem, start, callback, settings, summary) -> Solution:
    r"""Solve ``prob`` in the row-scaled variables :math:`W' = DW`, :math:`X' = D^{-1}X` (see :func:`solve`,
    "Row scaling"); the rows of X are nonzero.

    The responses, the constraints and Λ are those of ``prob``; the objective :math:`\sum c_{ij}|w_{ij}|`
    becomes :math:`\sum (c_{ij}/d_i)|w'_{ij}|`, and the dual constraint :math:`|(X\Lambda^\top)_{ij}| \le
    c_{ij}` becomes :math:`|(X'\Lambda^\top)_{ij}| \le c_{ij}/d_i`, the same inequality divided by
    :math:`d_i`: a certificate of either program is one of the other. The ℓ1 dual Γ (N×M) maps as
    :math:`\Gamma = D\Gamma'`, a warm start as :math:`W'_0 = DW_0`, :math:`\Gamma'_0 = D^{-1}\Gamma_0`.
    """
    d = _row_scales(prob.X)
    W0, Lam0, Gam0 = start
    c = np.ones((prob.N, prob.M)) if prob.weights is None else prob.weights

    def unscale(W):
        if is_torch_array(W):
            import torch

            return W / torch.as_tensor(d, dtype=W.dtype, device=W.device)[:, None]
        return W / d[:, None]

    sub = _solve(t0, backend, prob.X / d[:, None], prob.Y, prob.epsilon, activation=prob.activation,
                 V=prob.V if prob.activation == "relu" else None, weights=c / d[:, None],
                 warm_start=_Start(None if W0 is None else W0 * d[:, None], Lam0,
                                   None if Gam0 is None else Gam0 / d[:, None]),
                 callback=None if callback is None else (lambda W: callback(unscale(W))), summary=False, outer=False,
                 **dict(settings, scaling=False))
    info = dict(sub.info, scaling=d)
    if info.get("dual_l1") is not None:
        info["dual_l1"] = info["dual_l1"] * d[:, None]
    return _lift(t0, prob, sub, unscale, info, settings, summary)


def _row_scales(X) -> np.ndarray | None:
    r"""The factors :math:`d_i = (\|x_i\|/\mathrm{median}\|x_k\|)^{1/2}` of the row scaling (rows nonzero), or
    None when they spread less than :data:`_SCALING_SPREAD` (max/min): a near-identity scaling cannot change
    the iteration, only add the weighted threshold's work (Gaussian rows: d within a few per cent of 1)."""
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    d = np.sqrt(norms / np.median(norms))
    return d if d.max() > _SCALING_SPREAD * d.min() else None


def _lift(t0, prob: LayerProblem, sub: Solution, to_full, info: dict, settings, summary) -> Solution:
    """The answer of ``prob`` from ``sub``, the answer of an exact reformulation of it (its W mapped by
    ``to_full``; its multiplier Λ is one of ``prob``): violation, gap and an infeasibility certificate
    recomputed on ``prob`` itself, "optimal" only within the tolerances there; with ``verbose``, its summary
    printed when ``summary`` (the outermost program)."""
    N, M = prob.N, prob.M
    if sub.status == INFEASIBLE:
        cert = info["certificate"] = prob.check_certificate(sub.dual)      # checked on the whole program too
        return Solution(W=np.full((N, M), np.nan), status=INFEASIBLE if cert.valid else MAX_ITER,
                        objective=float("nan"), violation=float("nan"),
                        gap=None, iterations=sub.iterations, solve_time=time.perf_counter() - t0, solver=sub.solver,
                        dual=sub.dual, info=info)
    W = to_full(sub.W)
    violation = prob.violation(W) if np.isfinite(W).all() else float("nan")
    gap = None
    if sub.gap is not None and sub.dual is not None and violation <= settings["eps_violation"]:
        gap = prob.gap(W, sub.dual, project=False)
    status = sub.status
    if status == OPTIMAL and not gap_certifies(gap, settings["eps_gap"]):
        status = MAX_ITER                   # never "optimal" beyond the tolerances on the full program
    sol = Solution(W=W, status=status, objective=prob.objective(W), violation=violation, gap=gap,
                   iterations=sub.iterations, solve_time=time.perf_counter() - t0, solver=sub.solver, dual=sub.dual,
                   info=info)
    if settings["verbose"] and summary:
        print(sol.summary())
    return sol


def _check_iteration_dtype(iteration_dtype, backend: Backend) -> bool:
    """Whether the iteration runs in float32 on numpy input (``iteration_dtype`` checked, named in errors)."""
    if iteration_dtype is None:
        return False
    name = getattr(iteration_dtype, "__name__", iteration_dtype)
    if isinstance(iteration_dtype, np.dtype):
        name = iteration_dtype.name
    if name not in ("float32", "float64"):
        raise ValueError(f"iteration_dtype must be None, 'float32' or 'float64', got {iteration_dtype!r}")
    if not backend.is_numpy:
        if str(backend.dtype) != f"torch.{name}":
            raise ValueError(f"iteration_dtype={name!r} does not match the tensors' dtype {backend.dtype}: tensors "
                             "iterate in their own dtype (leave iteration_dtype=None)")
        return False
    return name == "float32"


def _go_on(core, prob, backend, state, start, *, max_iter, eps_violation, rho, settings):
    """Continue a run on another core — another program (same X) or another precision — from ``start``
    (W, Λ, Γ) for the iterations ``state`` left; returns the new core and the run accounting for both.
    The factored W³-step is the same when the backend is (it depends on X only)."""
    new = _Core(prob, backend, step=core.step if backend is core.bk else None)
    new.setup_time += core.setup_time
    nxt = new.run(*start, eps_violation=eps_violation, max_iter=max_iter - state["iterations"], rho=rho, **settings)
    _append_run(state, nxt)
    return new, nxt


def _append_run(first, second):
    """Make ``second`` (a run continued from ``first``) account for both: iterations, checks, polishes,
    polish time, and the history with the second run's iterations counted on from the first's."""
    n = first["iterations"]
    second["history"] = {k: list(first["history"][k]) + ([v + n for v in second["history"][k]]
                                                         if k == "iteration" else list(second["history"][k]))
                         for k in first["history"]}
    for k in ("iterations", "checks", "polishes", "crossovers", "polish_time"):
        second[k] += first[k]


def _infeasible(prob, Lam, cert, iterations, t0, core, message, info=None) -> Solution:
    """The Solution of a program proved infeasible by the certificate Λ (checked: ``cert.valid``)."""
    info = dict(info or {}, message=message, certificate=cert, reduced=core.reduction is not None)
    return Solution(W=np.full((prob.N, prob.M), np.nan), status=INFEASIBLE, objective=float("nan"),
                    violation=float("nan"), gap=None, iterations=iterations, solve_time=time.perf_counter() - t0,
                    solver="ADMM", dual=Lam, info=info)


def _warm_start(prob: LayerProblem, warm_start):
    """(W, Λ, Γ) from a Solution or an array; None entries mean 'start at zero'."""
    if warm_start is None:
        return None, None, None
    if isinstance(warm_start, Solution):
        W = warm_start.W
        if is_torch_array(W):          # a Solution of a tensor solve
            W = W.detach().cpu().numpy()
        W = prob.check_weights(W, "warm_start.W")
        Lam = warm_start.dual
        Gam = warm_start.info.get("dual_l1") if isinstance(warm_start.info, dict) else None
        # a multiplier of another shape (a Solution of another program) is dropped; one of this shape is
        # checked like the weights (real and finite)
        if Lam is not None and np.shape(Lam) != (prob.M, prob.P):
            Lam = None
        if Gam is not None and np.shape(Gam) != (prob.N, prob.M):
            Gam = None
        if Lam is not None:
            Lam = as_float_matrix(_host(Lam), "warm_start.dual", shape=(prob.M, prob.P))
        if Gam is not None:
            Gam = as_float_matrix(_host(Gam), "warm_start.info['dual_l1']", shape=(prob.N, prob.M))
        return W, Lam, Gam
    return prob.check_weights(warm_start, "warm_start"), None, None


def _host(a):
    """A tensor as a host numpy array (anything else unchanged)."""
    return a.detach().cpu().numpy() if is_torch_array(a) else a


def _nrm(a) -> float:
    """Frobenius norm of a numpy array or a tensor (sqrt of one dot product, as float)."""
    f = a.reshape(-1)
    return math.sqrt(float(f @ f))


class _Core:
    """Normalized data, the W³-step, the W¹-projection and the iteration of one problem.

    The set-up and every check run on host float64 arrays (``self.X``, ``self.Y``, ...); the iteration runs
    in the namespace, dtype and device of ``backend`` (:mod:`nettrim.fast._xp`) on device copies of the
    operands it touches (``self.Yd``, ``self.w_td``, ...; the same objects for numpy).
    """

    def __init__(self, prob: LayerProblem, backend: Backend = NUMPY, step=None):
        t0 = time.perf_counter()
        self.prob = prob
        self.bk = backend
        self.xp = backend.xp
        X, Y, eps = prob.X, prob.Y, prob.epsilon
        self.reduction = None
        if prob.activation == "linear" and prob.P > prob.N:
            self.reduction = reduce_linear(X, Y, eps)
            X, Y, eps = self.reduction.X, self.reduction.Y, self.reduction.epsilon
        M, P = Y.shape
        # An input that is 0 on every sample (a border pixel, a dead neuron of the layer before) leaves UᵀX
        # unchanged and only costs ℓ1: its weights are 0 in every optimum, so it is dropped (exactly)
        live = np.any(X != 0, axis=1)
        self.rows = None if live.all() or not live.any() else np.flatnonzero(live)
        if self.rows is not None:
            X = X[self.rows]
        # Normalization: X by the paper's c0; Y, V, eps by the RMS of Y, so that unit rho is a sensible start
        self.a = paper_scale(X)
        y_rms = float(np.linalg.norm(Y)) / np.sqrt(M * P)
        self.b = y_rms if y_rms > 0 else 1.0
        self.X = X / self.a
        self.Y = Y / self.b
        self.eps = eps / self.b
        self.ball = prob.ball if self.reduction is None else np.ones(self.Y.shape, dtype=bool)
        self.V = prob.V / self.b if self.reduction is None else np.zeros(self.Y.shape)
        put = backend.put
        if prob.activation == "relu":
            self.project = Projector(self.Y, self.eps, prob.ball, self.V, put)
        else:
            self.project = Projector(self.Y, self.eps, None, None, put)
        self.step = make_step(self.X, put) if step is None else step   # a step of the same X may be reused
        self.Yd, self.Vd = put(self.Y), put(self.V)
        self.balld = put(self.ball)
        self.inactived = None if prob.activation != "relu" else put(~self.ball)
        self.default_rho = _RHO_LINEAR if prob.activation == "linear" else _RHO_RELU
        # ℓ1 weights in the internal (transposed, M×N) layout; the normalization scales the objective by
        # the constant b/a and leaves the weights as they are
        self.w_t = None if prob.weights is None else np.ascontiguousarray(prob.weights.T)
        if self.w_t is not None and self.rows is not None:
            self.w_t = np.ascontiguousarray(self.w_t[:, self.rows])
        self.w_td = put(self.w_t)
        self.polisher = None
        self.ray_basis = None           # of X's null space (small P) or row space: see _has_null_space
        self.ray_norm = None            # ‖δU¹‖ at the last infeasibility check
        self.next_ray = 0               # first iteration of the next refinement of a candidate ray
        self.ray_refinements = 0
        self.setup_time = time.perf_counter() - t0

    # ---------------------------------------------------------------- unit conversions
    def w_out(self, Ws: np.ndarray) -> np.ndarray:
        """Normalized weights (live inputs only) -> original (W = W' b / a, 0 on the dropped inputs)."""
        if self.rows is None:
            return Ws * (self.b / self.a)
        W = np.zeros((self.prob.N, Ws.shape[1]))
        W[self.rows] = Ws * (self.b / self.a)
        return W

    def w_in(self, W: np.ndarray) -> np.ndarray:
        W = W if self.rows is None else W[self.rows]
        return W * (self.a / self.b)

    def lam_out(self, y1: np.ndarray) -> np.ndarray:
        """Unscaled dual y¹ = ρU¹ (normalized, possibly reduced) -> Λ of the original program."""
        Lam = -y1 / self.a
        if self.reduction is not None:
            Lam = self.reduction.lift_dual(Lam)
        return Lam

    def lam_in(self, Lam: np.ndarray) -> np.ndarray:
        if self.reduction is not None:
            Lam = self.reduction.reduce_dual(Lam)
        return -self.a * np.asarray(Lam, dtype=float)

    def violation(self, Ws: np.ndarray) -> float:
        """Relative violation (original program) of the normalized weights Ws (N×M)."""
        if self.reduction is None:
            return self.prob.violation(self.w_out(Ws))
        red = self.reduction  # ‖WᵀX − Y‖² = ‖WᵀX̃ − Ỹ‖² + ‖Y⊥‖² (in the original units)
        Zr = (Ws.T @ self.X - self.Y) * self.b
        ball = float(np.sqrt(_nrm(Zr) ** 2 + red.y_perp_norm ** 2))
        return max(ball - self.prob.epsilon, 0.0) / self.prob.y_norm

    def certify(self, Wt: np.ndarray, y1: np.ndarray, eps_violation: float, eps_gap: float):
        """(W, Λ) in original units if the normalized pair (Wᵀ, y¹) certifies (violation and gap), else None.

        Wt and y1 are host float64 arrays. In single precision W is first rounded to float32 (what the
        caller receives) and its violation recomputed in float64 from the definition.
        """
        if self.bk.single:
            W = self.bk.rounded(self.w_out(Wt.T))
            if self.prob.violation(W) > eps_violation:
                return None
        else:
            if self.violation(Wt.T) > eps_violation:
                return None
            W = self.w_out(Wt.T)
        Lam = self.prob.project_dual(self.lam_out(y1))
        gap = self.prob.gap(W, Lam, project=False)
        if gap_certifies(gap, eps_gap):
            return W, Lam
        if not gap > -eps_gap:
            return None                 # Λ proves W below the optimum: no other multiplier undoes that
        if self.prob.activation == "relu" and self.prob.inactive.any():
            # the iterate's round-off multipliers on far-slack inequalities can swamp the dual value (a huge V)
            Lam = self.prob.complementary_dual(W, Lam)
            if gap_certifies(self.prob.gap(W, Lam, project=False), eps_gap):
                return W, Lam
        return None

    # ---------------------------------------------------------------- the iteration
    def run(self, W0, Lam0, Gam0, *, eps_abs, eps_rel, eps_violation, eps_gap, max_iter, rho, adaptive_rho, alpha,
            polish, verbose, callback):
        # Internal layout: weights transposed (M×N, C order) so that every array the loop touches is
        # contiguous. State: T = W³ᵀX, B = Ŵ¹ + U¹ (so U¹ = B − T), W³ᵀ, U²ᵀ. The loop runs in the backend's
        # namespace xp (numpy, or torch on the input's device and dtype); host() brings an iterate back
        # to numpy float64 for the checks and the polish.
        xp, bk, step, project = self.xp, self.bk, self.step, self.project
        put, host = bk.put, bk.host
        N, P = self.X.shape
        M = self.Y.shape[0]
        W3t = bk.zeros((M, N)) if W0 is None else put(np.ascontiguousarray(self.w_in(W0).T))
        T = W3t @ step.X
        # the input of the W³-step: B = Ŵ¹ + U¹ (M×P) and C = Ŵ² + U² (transposed, M×N)
        B = xp.asarray(T, copy=True)
        U2t = bk.zeros((M, N))
        if Gam0 is not None:
            Gam0 = np.asarray(Gam0, dtype=float)
            U2t = put(np.ascontiguousarray((Gam0 if self.rows is None else Gam0[self.rows]).T) / rho)
        if Lam0 is not None:
            U1 = self.lam_in(Lam0) / rho
            B += put(U1)
            U2t = put(-(U1 @ self.X.T))   # the pair every W³-step leaves: XU¹ᵀ + U² = 0 (so Γ follows from Λ)
        T_old = None                    # W³ᵀX before the step, kept on check iterations only
        U1_old = None                   # U¹ before the step, kept on check iterations only
        sqrt_p = np.sqrt(M * P + N * M)
        hist = {k: [] for k in ("iteration", "r_prim", "r_dual", "eps_prim", "eps_dual", "rho", "support_changes")}
        out = dict(converged=False, checks=0, polishes=0, crossovers=0, polished=False, polish_time=0.0,
                   status=None)
        answer = None                   # (W, Λ) certified, original units
        it = 0
        next_polish = _POLISH_FIRST
        signs_old = None
        q_prev = None
        W2t = W3t
        for it in range(1, max_iter + 1):
            check = it % _CHECK_EVERY == 0 or it == max_iter
            # step 1: W¹ = Π_C(W³ᵀX − U¹), with W³ᵀX − U¹ = 2T − B; A holds Z, then W¹, then α(W¹ − W³ᵀX)
            A = T - B
            A += T
            A = project(A, xp)
            # step 2: W² = S_{1/ρ}(W³ − U²)  (S_{c/ρ} entrywise with ℓ1 weights c)
            tau = 1.0 / rho if self.w_td is None else self.w_td / rho
            W2t = soft_threshold(W3t - U2t, tau, xp)
            # B₊ = Ŵ¹ + U¹ = B + α(W¹ − T);  C = Ŵ² + U² = α W² + (1 − α) W³ + U²
            A -= T
            if alpha != 1.0:
                A *= alpha
            if check:
                U1_old = B - T
                T_old = T               # the step returns a new T: no copy needed
            B += A
            # C = Ŵ² + U² = α W² + (1 − α) W³ + U² (U² + W³ is the previous C)
            Ct = W2t * alpha
            if alpha != 1.0:
                Ct += (1.0 - alpha) * W3t
            Ct += U2t
            # steps 3 and 4: the factored W³-solve (it also returns T = W³ᵀX), then the dual update of U²
            W3t_new, T = step(B, Ct)
            U2t = Ct - W3t_new
            if check:
                r_prim, r_dual, eps_prim, eps_dual, scale_prim, scale_dual = self._residuals(
                    A, T_old, T, B, W2t, W3t, W3t_new, U2t, rho, alpha, sqrt_p, eps_abs, eps_rel)
                for k, v in zip(hist, (it, r_prim, r_dual, eps_prim, eps_dual, rho), strict=False):
                    hist[k].append(v)
                if verbose and it % 100 == 0:
                    print(f"{it:6d}  r_prim {r_prim:.2e}/{eps_prim:.2e}  r_dual {r_dual:.2e}/{eps_dual:.2e}"
                          f"  rho {rho:.3g}")
            W3t = W3t_new
            if callback is not None:
                callback(bk.out(self.w_out(host(W2t).T)) if not bk.is_numpy else self.w_out(host(W2t).T))
            if not check:
                continue
            if not (np.isfinite(r_prim) and np.isfinite(r_dual)):
                out.update(status=SOLVER_ERROR, message=f"the iterates left the floating-point range at "
                           f"iteration {it} (rho = {rho:g}); try a rho nearer the default")
                break
            done = r_prim <= eps_prim and r_dual <= eps_dual
            if done:
                out["checks"] += 1
                answer = self.certify(host(W2t), host(rho * (B - T)), eps_violation, eps_gap)
                if answer is not None:
                    break
            elif it >= _INFEASIBLE_FIRST and r_prim > eps_prim:
                # δU¹ = U¹₊ − U¹ (= Ŵ¹ − W³₊ᵀX): on an infeasible program it tends to a ray of the dual
                found = self._certificate(B, T, U1_old, it)
                if found is not None:
                    out.update(status=INFEASIBLE, certificate=found[0], cert=found[1])
                    break
            signs = xp.sign(W2t)
            changed = int(xp.count_nonzero(signs != signs_old)) if signs_old is not None else M * N
            hist["support_changes"].append(changed)
            n_support = int(xp.count_nonzero(signs))
            stable = changed <= self._stable_share(n_support, M) * max(n_support, 1)
            signs_old = signs
            # iterations the residual test still needs at the current linear rate (∞ when not contracting)
            q = max(r_prim / max(eps_prim, 1e-300), r_dual / max(eps_dual, 1e-300))
            near = q_prev is not None and 1.0 < q < q_prev and \
                _CHECK_EVERY * np.log(q) / np.log(q_prev / q) <= _POLISH_SKIP
            q_prev = q
            # (ε = 0, a linear program, has no smooth ball to settle on: attempts at the schedule alone)
            if polish and it >= next_polish and (done or (stable and not near) or self.eps == 0):
                answer = self._polish(host(W2t), host(rho * (B - T)), eps_violation, eps_gap, out)
                next_polish = max(it + _CHECK_EVERY, (_POLISH_SPACING if self.eps > 0 else 2.0) * it)
                if answer is not None:
                    out["polished"] = True
                    break
            if adaptive_rho:
                new_rho = self._balance(rho, r_prim / max(scale_prim, 1e-300), r_dual / max(scale_dual, 1e-300))
                if new_rho != rho:
                    # keep the unscaled duals ρU fixed: U¹ = B − T and U² scale by ρ/ρ₊
                    c = rho / new_rho
                    B -= T
                    B *= c
                    B += T
                    U2t *= c
                    rho = new_rho
        if answer is not None:
            W, Lam = answer
            out["converged"] = True
        else:
            W = bk.rounded(self.w_out(host(W2t).T))
            y1 = host(rho * (B - T))
            Lam = self.prob.project_dual(self.lam_out(y1)) if np.all(np.isfinite(y1)) else None
        Gamma = rho * host(U2t).T
        if self.rows is not None:
            Gamma = np.zeros((self.prob.N, M))
            Gamma[self.rows] = rho * host(U2t).T
        out.update(W=W, Lambda=Lam, Gamma=np.ascontiguousarray(Gamma), iterations=it, history=hist, rho=rho)
        return out

    def _stable_share(self, n_support: int, M: int) -> float:
        r"""Largest share of the support that may change between checks for a polish attempt.

        A polish costs about :math:`k^2(|\Omega^c_m| + k)` flops per neuron (k its support) against
        :math:`4NP` per neuron and iteration: the more a polish costs in iterations (ratio r), the more
        settled the support must be. The share is :data:`_POLISH_STABLE` / r, clipped to
        [_POLISH_STABLE / 10, _POLISH_STABLE].
        """
        N, P = self.X.shape
        k = n_support / M
        omega_c = float(np.count_nonzero(~self.ball)) / M
        r = k * k * (omega_c + k) / (4.0 * N * P)
        return float(np.clip(_POLISH_STABLE / max(r, 1e-300), _POLISH_STABLE / 10, _POLISH_STABLE))

    def _polish(self, W2t, y1, eps_violation, eps_gap, out):
        """One polish attempt (see :mod:`nettrim.fast._polish`); the certified (W, Λ) or None."""
        t0 = time.perf_counter()
        out["polishes"] += 1
        found = []

        def accept(Wt, y):
            cert = self.certify(Wt, y, eps_violation, eps_gap)
            if cert is not None:
                found.append(cert)
            return cert is not None

        if self.eps > 0:
            if self.polisher is None:
                self.polisher = BallPolish(self.X, self.Y, self.V, self.ball, self.eps, self.w_t)
            self.polisher(W2t, y1, accept)
        else:
            polish_equality(self.X, self.Y, self.V, self.ball, W2t, y1, self.w_t, accept)
            if not found:       # a degenerate LP the active set did not complete: simplex crossover
                out["crossovers"] += 1
                crossover_equality(self.X, self.Y, self.V, self.ball, W2t, y1, self.w_t, accept)
        out["polish_time"] += time.perf_counter() - t0
        return found[0] if found else None

    def _certificate(self, B, T, U1_old, it):
        """Test the dual increment δU¹ as a certificate of infeasibility; (Λ, Certificate) or None.

        δU¹ tends to a ray of the dual only as fast as the iterates settle (O(1/k)); when it fails the check
        but has a positive dual value and a dual residual within :data:`_RAY_SCREEN` of it
        (:data:`_RAY_SCREEN_EXACT` for a small P), :meth:`_refine_ray` cleans it up (an exact projection onto
        the cone of rays for a small P, else a few alternating projections) and
        the result is checked again. Every answer is checked from the definition
        (:meth:`nettrim.LayerProblem.check_certificate`); the refinement only proposes candidates.
        """
        xp = self.xp
        Lam = U1_old                            # reused: Λ ∝ −δU¹ = U¹ − U¹₊ (normalized, possibly reduced)
        Lam -= B
        Lam += T
        if self.inactived is not None:
            Lam = xp.where(self.inactived, xp.maximum(Lam, 0.0), Lam)
        norm, previous = _nrm(Lam), self.ray_norm
        self.ray_norm = norm
        if not np.isfinite(norm) or self._dual_value(Lam) <= 0:
            return None                         # cheap screen: a certificate has a positive dual value
        # refine only a settled increment (on a feasible program δU¹ → 0) and at spaced checks, so that the
        # refinement stays a bounded share of a feasible run
        refine = previous is not None and norm >= _RAY_SETTLED * previous and it >= self.next_ray
        Lam = self.bk.host(Lam)                 # the checks (and a refinement) run on the host in float64
        cert = None
        for candidate in (Lam, None):
            if candidate is None:
                screen = _RAY_SCREEN_EXACT if self._exact_rays() else _RAY_SCREEN
                if not refine or not cert.dual_residual <= screen * cert.dual_value \
                        or not self._has_null_space():
                    break
                self.next_ray = _RAY_SPACING * it
                self.ray_refinements += 1
                candidate = self._refine_ray(Lam)
            out = self.lam_out(-candidate)      # lam_out maps y¹ to Λ = −y¹/a (and lifts a reduced one)
            cert = self.prob.check_certificate(out)
            if cert.valid:
                return out, cert
        return None

    def _dual_value(self, L):
        """Dual objective of a normalized multiplier L (= −y¹ up to a positive factor, in the iteration's
        namespace) in normalized units."""
        b = self.balld
        Lb = L[b]
        value = -float(Lb @ self.Yd[b]) - self.eps * _nrm(Lb)
        if self.inactived is not None and not self.ball.all():
            nb = self.inactived
            value -= float(L[nb] @ self.Vd[nb])
        return value

    def _exact_rays(self) -> bool:
        return self.X.shape[1] <= EXACT_RAY_MAX_P

    def _has_null_space(self) -> bool:
        """Whether X (normalized) has a null space on the left of Λᵀ (rank < P). Computes, once, the basis
        :meth:`_refine_ray` works with: of that null space for a small P, else of the row space of X."""
        if self.ray_basis is None:
            self.ray_basis = null_space_basis(self.X) if self._exact_rays() else row_space_basis(self.X)
        if self._exact_rays():
            return self.ray_basis.shape[1] > 0
        return self.ray_basis.shape[1] < self.X.shape[1]

    def _refine_ray(self, L, rounds=RAY_ROUNDS):
        """A candidate L (M×P, normalized units) projected exactly onto the cone of rays of the normalized X
        up to P = :data:`~nettrim.problem.EXACT_RAY_MAX_P` (:func:`nettrim.problem.project_to_rays`), else
        cleaned by :func:`nettrim.problem.refine_ray`."""
        inactive = ~self.ball if self.prob.activation == "relu" else None
        if self._exact_rays():
            return project_to_rays(L, self.ray_basis, inactive)
        return refine_ray(L, self.ray_basis, inactive, rounds)

    @staticmethod
    def _residuals(A, T_old, T, B, W2t, W3t, W3t_new, U2t, rho, alpha, sqrt_p, eps_abs, eps_rel):
        """Boyd §3.3 residuals and tolerances (A holds α(W¹ − T_old), T the new W³ᵀX)."""
        W1 = A / alpha
        W1 += T_old
        n_w1 = _nrm(W1)
        W1 -= T
        r1 = _nrm(W1)                             # ‖W¹ − W³₊ᵀX‖
        dT = _nrm(T - T_old)                      # ‖ΔW³ᵀX‖
        n_u1 = _nrm(B - T)                        # ‖U¹₊‖
        n_t = _nrm(T)
        r_prim = float(np.hypot(r1, _nrm(W2t - W3t_new)))
        r_dual = rho * float(np.hypot(dT, _nrm(W3t_new - W3t)))
        n_ax = float(np.hypot(n_w1, _nrm(W2t)))
        n_bz = float(np.hypot(n_t, _nrm(W3t_new)))
        n_y = rho * float(np.hypot(n_u1, _nrm(U2t)))
        eps_prim = sqrt_p * eps_abs + eps_rel * max(n_ax, n_bz)
        eps_dual = sqrt_p * eps_abs + eps_rel * n_y
        return r_prim, r_dual, eps_prim, eps_dual, max(n_ax, n_bz), n_y

    @staticmethod
    def _balance(rho, prim, dual):
        """Residual balancing: ρ·sqrt(prim/dual) for the relative residuals ‖r‖/max(‖Ax‖, ‖Bz‖) and
        ‖s‖/‖y‖, when that factor leaves [1/_ADAPT_TRIGGER, _ADAPT_TRIGGER]."""
        if prim <= 0 or dual <= 0:
            return rho
        factor = float(np.sqrt(prim / dual))
        if 1.0 / _ADAPT_TRIGGER <= factor <= _ADAPT_TRIGGER:
            return rho
        return float(np.clip(rho * factor, *RHO_RANGE))
