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


@pytest.mark.parametrize("block", [1, 40, 1 << 22])
def test_faces_responses_in_blocks_match_each_neuron(block, monkeypatch):
    # BallPolish._faces computes the new faces' responses A_m u_LS − y_m and A_m u_s in one product per
    # block of neurons: each must equal the neuron's own product on Ω_m, whatever the block size (1 entry:
    # one neuron per block; 40 entries with 2·P = 24: one neuron per block too; 2^22: all at once), and a
    # neuron whose face did not change keeps its cached face
    from nettrim.fast import _polish

    monkeypatch.setattr(_polish, "_RESPONSE_BLOCK", block)
    rng = np.random.default_rng(11)
    N, M, P = 8, 5, 12
    X = rng.standard_normal((N, P))
    Y = np.maximum(rng.standard_normal((M, N)) @ X, 0.0)
    ball = Y > 0
    polish = BallPolish(X, Y, np.zeros_like(Y), ball, 0.1 * np.linalg.norm(Y))
    S_mask = rng.random((M, N)) < 0.5
    S_mask[:, 0] = True
    sign = np.where(S_mask, rng.choice([-1.0, 1.0], (M, N)), 0.0)
    T_mask = ~ball & (rng.random((M, P)) < 0.2)
    faces = polish._faces(S_mask, sign, T_mask)
    for m, f in enumerate(faces):
        Om = np.flatnonzero(ball[m])
        A = X[np.ix_(f.S, Om)].T
        np.testing.assert_allclose(f.res_ls, A @ f.u_ls - Y[m, Om], atol=1e-12)
        np.testing.assert_allclose(f.a_us, A @ f.u_s, atol=1e-12)
        assert f.r2 == pytest.approx(float(np.sum((A @ f.u_ls - Y[m, Om]) ** 2)), rel=1e-12)
    solved = polish.faces_solved
    sign[0, S_mask[0]] *= -1.0                          # only neuron 0's face changes
    again = polish._faces(S_mask, sign, T_mask)
    assert polish.faces_solved == solved + 1
    assert all(a is b for a, b in zip(again[1:], faces[1:], strict=True)) and again[0] is not faces[0]
