"""The polish's face solve (nettrim.fast._polish.BallPolish._kkt): on the face with support S and tight
inequalities T, u(t) = u_LS + t·u_s solves

    [ H   Bᵀ ] [u]   [h]
    [ B   0  ] [ν] = [b],   (h, b) = (g, v) for u_LS and (−σ, 0) for u_s,

with H = A_mᵀA_m. Checked against a direct solve of that system, and on an H that is singular up to
round-off (a nearly dead neuron: |Ω_m| = 2 samples, three inputs), where the Schur-complement route through
H⁻¹ is meaningless and the face is fixed by B alone."""

from __future__ import annotations

import numpy as np
import pytest

from nettrim.fast._polish import BallPolish


def _direct(H, g, sig, Bt, v):
    k, nT = Bt.shape
    K = np.block([[H, Bt], [Bt.T, np.zeros((nT, nT))]])
    rhs = np.column_stack([np.concatenate([g, v]), np.concatenate([-sig, np.zeros(nT)])])
    sol = np.linalg.solve(K, rhs)
    return sol[:k, 0], sol[:k, 1], sol[k:, 0], sol[k:, 1]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("nT", [0, 1, 3])
def test_face_kkt_matches_the_direct_solve(seed, nT):
    rng = np.random.default_rng([7, seed, nT])
    k = 6
    A = rng.standard_normal((20, k))
    H, g = A.T @ A, A.T @ rng.standard_normal(20)
    sig = rng.choice([-1.0, 1.0], k) * rng.uniform(0.1, 1.0, k)
    Bt, v = rng.standard_normal((k, nT)), rng.standard_normal(nT)
    got, want = BallPolish._kkt(H, g, sig, Bt, v), _direct(H, g, sig, Bt, v)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * max(1.0, float(np.abs(b).max(initial=0))))


@pytest.mark.parametrize("seed", range(5))
def test_face_kkt_on_a_round_off_singular_gram_is_fixed_by_the_inequalities(seed):
    # H = AᵀA of rank 2 (two samples in Ω, three inputs) plus round-off: positive definite in floating point
    # (Cholesky succeeds) with cond(H) ~ 1e16, while three tight inequalities (B square, invertible) fix u
    rng = np.random.default_rng([8, seed])
    A = rng.standard_normal((2, 3))
    H = A.T @ A
    H += 1e-16 * np.linalg.norm(H) * np.diag(rng.uniform(1.0, 2.0, 3))
    g = A.T @ rng.standard_normal(2)
    sig = -rng.uniform(0.02, 0.1, 3)
    Bt = 0.05 * rng.standard_normal((3, 3))
    v = rng.uniform(-4.0, 0.1, 3)
    u_ls, u_s, _, _ = BallPolish._kkt(H, g, sig, Bt, v)
    np.testing.assert_allclose(Bt.T @ u_ls, v, atol=1e-9 * np.abs(v).max())
    np.testing.assert_allclose(u_ls, np.linalg.solve(Bt.T, v), rtol=1e-8)
    np.testing.assert_allclose(u_s, 0.0, atol=1e-8 * np.abs(u_ls).max())
