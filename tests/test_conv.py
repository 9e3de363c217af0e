"""Convolutional layer programs: patches against the convolution, the patch program against the program
stated with the convolution itself (CVXPY), sampling, kernel mapping, errors."""

import cvxpy as cp
import numpy as np
import pytest

from nettrim import layer_problem, reference
from nettrim.conv import (
    DEFAULT_MAX_PATCHES,
    conv2d,
    conv2d_spec,
    conv_program,
    kernel_to_matrix,
    matrix_to_kernel,
    output_columns,
    patches,
    sample_positions,
)

GEOMETRIES = [  # (C_in, C_out, kernel, stride, padding, dilation, padding_mode)
    (1, 2, 3, 1, 0, 1, "zeros"),
    (2, 3, (3, 2), (2, 1), (1, 2), 1, "zeros"),
    (2, 2, 2, 1, (1, 0, 2, 1), (2, 1), "zeros"),
    (2, 3, 3, 2, 1, 1, "reflect"),
    (1, 2, 3, 1, 2, 1, "replicate"),
    (2, 2, 3, 1, 1, 2, "circular"),
]


def shifted_conv(x, K, b, spec):
    """The convolution from its definition: a sum over kernel offsets of shifted slices of the padded input."""
    top, bottom, left, right = spec.padding
    mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[spec.padding_mode]
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=mode)
    ho, wo = spec.output_size(x.shape[2], x.shape[3])
    (sh, sw), (dh, dw) = spec.stride, spec.dilation
    out = np.zeros((x.shape[0], K.shape[0], ho, wo)) + (0 if b is None else b[None, :, None, None])
    for c in range(K.shape[1]):
        for a in range(K.shape[2]):
            for e in range(K.shape[3]):
                s = xp[:, c, a * dh: a * dh + sh * (ho - 1) + 1: sh, e * dw: e * dw + sw * (wo - 1) + 1: sw]
                out += K[None, :, c, a, e, None, None] * s[:, None]
    return out


def shifted_slices(x, spec):
    """Per kernel offset (c, a, e), the shifted input slice it multiplies, flattened in (image, i, j) order."""
    top, bottom, left, right = spec.padding
    mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[spec.padding_mode]
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=mode)
    ho, wo = spec.output_size(x.shape[2], x.shape[3])
    (sh, sw), (dh, dw) = spec.stride, spec.dilation
    kh, kw = spec.kernel_size
    return [xp[:, c, a * dh: a * dh + sh * (ho - 1) + 1: sh, e * dw: e * dw + sw * (wo - 1) + 1: sw].ravel()
            for c in range(spec.in_channels) for a in range(kh) for e in range(kw)]


def layer(seed, geometry, n_img=3, size=(7, 6)):
    rng = np.random.default_rng(seed)
    cin, cout, k, s, p, d, mode = geometry
    spec = conv2d_spec(cin, cout, k, stride=s, padding=p, dilation=d, padding_mode=mode)
    x = rng.standard_normal((n_img, cin, *size))
    K = rng.standard_normal(spec.kernel_shape)
    b = 0.3 * rng.standard_normal(cout)
    return spec, x, K, b


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("bias", [True, False])
def test_patches_reproduce_the_convolution(geometry, bias):
    spec, x, K, b = layer(0, geometry)
    b = b if bias else None
    ref = shifted_conv(x, K, b, spec)
    np.testing.assert_allclose(conv2d(x, K, b, spec), ref, rtol=1e-12, atol=1e-12)
    # sampled columns are the same columns, in the order of the index
    idx = np.array([5, 0, 17, 3, 17])
    Z = kernel_to_matrix(K, b).T @ patches(x, spec, bias=bias, index=idx)
    np.testing.assert_allclose(Z, output_columns(ref, idx), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_patches_match_torch(geometry):
    """Every geometry against torch: nn.Conv2d with its padding mode, or (asymmetric padding, which
    nn.Conv2d cannot state) F.pad by (left, right, top, bottom) followed by an unpadded F.conv2d."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    spec, x, K, b = layer(1, geometry)
    cin, cout, k, s, p, d, mode = geometry
    with torch.no_grad():
        if isinstance(p, tuple) and len(p) == 4:
            top, bottom, left, right = spec.padding
            xt = torch.nn.functional.pad(torch.as_tensor(x), (left, right, top, bottom), mode="constant")
            ref = torch.nn.functional.conv2d(xt, torch.as_tensor(K), torch.as_tensor(b), stride=s, dilation=d).numpy()
        else:
            conv = torch.nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, padding_mode=mode).double()
            conv.weight.copy_(torch.as_tensor(K))
            conv.bias.copy_(torch.as_tensor(b))
            ref = conv(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(conv2d(x, K, b, spec), ref, rtol=1e-12, atol=1e-12)


def test_average_pooling_folds_into_the_patches():
    """A channel-wise linear map after the convolution (2×2 average pooling) applied to the patch tensor:
    U^T T(X) = T(U^T X), the row of ones included."""
    spec, x, K, b = layer(2, GEOMETRIES[1], size=(9, 8))

    def pool(t):  # 2×2 average pooling, floor mode
        n, c, h, w = t.shape
        t = t[:, :, : h - h % 2, : w - w % 2]
        return t.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))

    ref = pool(shifted_conv(x, K, b, spec))
    idx = np.sort(np.random.default_rng(0).choice(ref.shape[0] * ref.shape[2] * ref.shape[3], 9, replace=False))
    Z = kernel_to_matrix(K, b).T @ patches(x, spec, index=idx, transform=pool)
    np.testing.assert_allclose(Z, output_columns(ref, idx), rtol=1e-12, atol=1e-12)
    Z_all = kernel_to_matrix(K, b).T @ patches(x, spec, transform=pool)
    np.testing.assert_allclose(Z_all, output_columns(ref), rtol=1e-12, atol=1e-12)


def direct_program(x, spec, Y, eps, activation, index, V=None, bias=True):
    """The layer program written with the convolution itself: the output is a sum over kernel offsets of a
    kernel entry times a shifted input slice (no patch matrix); constraints on the columns ``index``."""
    K = cp.Variable((spec.out_channels, spec.n_taps))
    b = cp.Variable(spec.out_channels) if bias else None
    slices = shifted_slices(x, spec)
    Z = sum(cp.reshape(K[:, t], (spec.out_channels, 1), order="F") @ s[None, :] for t, s in enumerate(slices))
    if bias:
        Z = Z + cp.reshape(b, (spec.out_channels, 1), order="F") @ np.ones((1, slices[0].size))
    if index is not None:
        Z = Z[:, index]
    objective = cp.sum(cp.abs(K)) + (cp.sum(cp.abs(b)) if bias else 0)
    if activation == "relu":
        on = (Y > 0).astype(float)
        cons = [cp.norm(cp.multiply(on, Z - Y), "fro") <= eps,
                cp.multiply(1 - on, Z) <= (1 - on) * (np.zeros_like(Y) if V is None else V)]
    else:
        cons = [cp.norm(Z - Y, "fro") <= eps]
    prob = cp.Problem(cp.Minimize(objective), cons)
    prob.solve(solver="CLARABEL")
    assert prob.status == cp.OPTIMAL
    return prob.value


@pytest.mark.parametrize("geometry,activation,max_patches,bias", [
    (GEOMETRIES[0], "relu", None, True),
    (GEOMETRIES[1], "relu", 40, True),
    (GEOMETRIES[2], "linear", 30, False),
    (GEOMETRIES[3], "relu", None, False),
])
def test_patch_program_equals_the_direct_convolution_program(geometry, activation, max_patches, bias):
    spec, x, K, b = layer(3, geometry, n_img=2)
    prog = conv_program(x, K, b if bias else None, spec, activation=activation, max_patches=max_patches, seed=4)
    assert prog.P == (prog.n_columns if max_patches is None else max_patches)
    # the program's Y is σ of the convolution itself (a permutation of the taps in the patches would still
    # give a program with the direct program's value, so this is what ties the patches to the layer)
    sigma = (lambda z: np.maximum(z, 0)) if activation == "relu" else (lambda z: z)
    np.testing.assert_allclose(prog.Y, sigma(output_columns(shifted_conv(x, K, b if bias else None, spec), prog.index)),
                               rtol=1e-12, atol=1e-12)
    eps = 0.2 * np.linalg.norm(prog.Y)
    sol = reference.solve(prog.X, prog.Y, eps, activation=activation)
    assert sol.status == "optimal"
    direct = direct_program(x, spec, prog.Y, eps, activation, prog.index, bias=bias)
    assert sol.objective == pytest.approx(direct, rel=1e-6)
    # Proposition 1 on the (sampled) positions, through the kernel of the answer
    Kh, bh = matrix_to_kernel(sol.W, spec, bias=bias)
    Z = output_columns(shifted_conv(x, Kh, bh, spec), prog.index)
    np.testing.assert_allclose(Z, output_columns(conv2d(x, Kh, bh, spec), prog.index), rtol=1e-10, atol=1e-10)
    err = np.linalg.norm(sigma(Z) - prog.Y)
    assert err <= eps * (1 + 1e-6)
    assert layer_problem(prog.X, prog.Y, eps, activation=activation).violation(sol.W) <= 1e-6


def test_patch_program_with_V_equals_the_direct_program():
    """The cascade's form: a threshold V on the inactive set."""
    spec, x, K, b = layer(5, GEOMETRIES[1], n_img=2)
    prog = conv_program(x, K, b, spec, max_patches=40, seed=1)
    rng = np.random.default_rng(0)
    V = 0.2 * np.abs(rng.standard_normal(prog.Y.shape))
    eps = 0.15 * np.linalg.norm(prog.Y)
    sol = reference.solve(prog.X, prog.Y, eps, activation="relu", V=V)
    direct = direct_program(x, spec, prog.Y, eps, "relu", prog.index, V=V)
    assert sol.objective == pytest.approx(direct, rel=1e-6)


def test_fast_solver_on_a_conv_program_is_certified():
    from nettrim import fast

    spec, x, K, b = layer(6, GEOMETRIES[0], n_img=4, size=(10, 10))
    prog = conv_program(x, K, b, spec, max_patches=200)
    eps = 0.1 * np.linalg.norm(prog.Y)
    sol = fast.solve(prog.X, prog.Y, eps, activation="relu", warm_start=prog.U)
    ref = reference.solve(prog.X, prog.Y, eps, activation="relu")
    assert sol.status == "optimal" and sol.gap <= 1e-3
    assert sol.objective == pytest.approx(ref.objective, rel=1e-3)
    assert sol.objective <= np.abs(prog.U).sum()   # the original kernel is feasible


def test_sample_positions():
    assert sample_positions(100, None) is None
    assert sample_positions(100, 100) is None
    a = sample_positions(10**6, 500, seed=3)
    assert a.shape == (500,) and np.all(np.diff(a) > 0) and a.min() >= 0 and a.max() < 10**6
    np.testing.assert_array_equal(a, sample_positions(10**6, 500, seed=3))
    assert not np.array_equal(a, sample_positions(10**6, 500, seed=4))
    assert DEFAULT_MAX_PATCHES >= 1000


def test_kernel_matrix_round_trip():
    spec, _, K, b = layer(7, GEOMETRIES[1])
    U = kernel_to_matrix(K, b)
    assert U.shape == (spec.n_taps + 1, spec.out_channels)
    K2, b2 = matrix_to_kernel(U, spec, bias=True)
    np.testing.assert_array_equal(K2, K)
    np.testing.assert_array_equal(b2, b)
    K3, b3 = matrix_to_kernel(U[:-1], spec, bias=False)
    np.testing.assert_array_equal(K3, K)
    assert b3 is None


def test_bad_input():
    spec = conv2d_spec(2, 3, 3)
    x = np.zeros((2, 2, 5, 5))
    with pytest.raises(ValueError, match="4-D"):
        patches(x[0], spec)
    with pytest.raises(ValueError, match="channels"):
        patches(np.zeros((2, 3, 5, 5)), spec)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        patches(bad, spec)
    with pytest.raises(TypeError, match="real numbers"):
        patches(x.astype(complex), spec)
    with pytest.raises(ValueError, match="smaller than"):
        patches(np.zeros((1, 2, 2, 2)), spec)
    with pytest.raises(ValueError, match="index"):
        patches(x, spec, index=np.array([0, 18]))
    with pytest.raises(TypeError, match="index"):
        patches(x, spec, index=np.array([0.5]))
    with pytest.raises(TypeError, match="bias"):
        patches(x, spec, bias=1)
    with pytest.raises(TypeError, match="spec"):
        patches(x, (2, 3, 3))
    with pytest.raises(ValueError, match="stride"):
        conv2d_spec(2, 3, 3, stride=0)
    with pytest.raises(ValueError, match="padding"):
        conv2d_spec(2, 3, 3, padding=-1)
    with pytest.raises(TypeError, match="kernel_size"):
        conv2d_spec(2, 3, (3, 3, 3))
    with pytest.raises(ValueError, match="padding_mode"):
        conv2d_spec(2, 3, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="reflect"):
        patches(x, conv2d_spec(2, 3, 3, padding=5, padding_mode="reflect"))
    with pytest.raises(ValueError, match="kernel must have shape"):
        conv2d(x, np.zeros((3, 2, 2, 2)), None, spec)
    # a kernel with too few output channels is named, not the bias of the right length beside it
    with pytest.raises(ValueError, match="kernel must have shape"):
        conv_program(x, np.zeros((2, 2, 3, 3)), np.zeros(3), spec)
    with pytest.raises(ValueError, match="x is empty"):
        patches(x[:0], spec)
    with pytest.raises(ValueError, match="x is empty"):
        conv2d(x[:0], np.zeros(spec.kernel_shape), None, spec)
    with pytest.raises(ValueError, match="out is empty"):
        output_columns(np.zeros((0, 3, 4, 4)))
    with pytest.raises(ValueError, match="bias must have shape"):
        kernel_to_matrix(np.zeros((3, 2, 3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="U must have shape"):
        matrix_to_kernel(np.zeros((18, 3)), spec, bias=True)
    with pytest.raises(ValueError, match="max_patches"):
        sample_positions(10, 0)
    with pytest.raises(ValueError, match="activation"):
        conv_program(x, np.zeros(spec.kernel_shape), None, spec, activation="tanh")
    with pytest.raises(ValueError, match="transform"):
        patches(x, spec, transform=lambda t: t[:, :1])


def test_docstring_examples():
    import doctest

    import nettrim.conv

    assert doctest.testmod(nettrim.conv, raise_on_error=False).failed == 0
