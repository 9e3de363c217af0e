r"""The instance families of ``cross-check`` (:mod:`nettrim.experiments.cross_check`): layer programs built to
break the solvers. All seeded; ε = gain·‖Y‖_F unless said otherwise.

* ``gaussian``: :func:`nettrim.experiments.layers.random_layer` layers (teacher entries N(0, 1) kept with
  probability ½), relu and linear, with and without a bias row, with a cascade-like nonzero V, ε gains
  {0, 0.01, 0.05, 0.2}, from a single neuron to 200×50 and P up to 2000, P < N and P > N;
* ``scale``: one layer with X×10^k and Y×10^j, k, j ∈ −6..6 (relu and linear, gains 0 and 0.05): status and
  objective mapped back (×10^(k−j)) must equal those of the unscaled layer (k = j = 0) within
  :data:`~nettrim.experiments.cross_check.SCALE_TOL`, for every solver that solves the unscaled one;
* ``ill``: X with row scales (``rows``) or singular values (``svd``) spread over 10^c, c ∈ {3, 6};
* ``infeasible``: programs with no feasible U — a linear layer with P > N and a Y outside the row space of
  X (ε half the least-squares residual, or 0), a ReLU layer with one input sample repeated with an active
  and an inactive output, a zero input sample with a positive output. Every reference back-end must say
  "infeasible" (with a certificate that checks, where it gives one); the ADMM must never say "optimal",
  and once it certifies infeasibility (:data:`~nettrim.experiments.cross_check.FAST_CERTIFIES_INFEASIBILITY`, or
  ``--expect-fast-infeasible``) it must say "infeasible" with a certificate that checks;
* ``large-V``: V on the inactive set 10^e times the RMS of Y, e ∈ {3, 6, 12} (the last made every
  back-end fail before the reference dropped such bounds);
* ``zero``: ε ≥ ‖Y_Ω‖_F, where U = 0 is the unique optimum: every solver must return exactly 0 (nnz 0);
* ``digits``/``mnist``: real layers of the MLPs of ``prune-digits`` (64-128-64-10) and ``prune-mnist``
  (784-300-100-10), trained and cached under ``OUT/models`` like those experiments do, subsampled to a
  seeded subset of neurons (of those active on some sample) and samples so that CVXPY fits.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .layers import LayerData, ill_layer, random_layer

__all__ = ["Spec", "instance", "families", "GAINS", "NETWORKS", "REAL_SIZES", "REAL_SIZES_QUICK"]

GAINS = (0.0, 0.01, 0.05, 0.2)
#: the networks of prune-digits and prune-mnist (same training settings, so the cached model is shared)
NETWORKS = {"digits": ((128, 64), 200), "mnist": ((300, 100), 200)}
#: real-layer subsamples: layer -> (neurons kept, samples); N·M·P stays below ~1e6 so CVXPY takes seconds
REAL_SIZES = {"digits": {1: (16, 300), 2: (16, 300), 3: (10, 300)},
              "mnist": {1: (4, 200), 2: (8, 300), 3: (10, 500)}}
#: --quick: the digits layers only, smaller (seconds each)
REAL_SIZES_QUICK = {"digits": {1: (4, 150), 2: (4, 150), 3: (10, 150)}}


@dataclass(frozen=True)
class Spec:
    """One instance (all that determines it, with the seed); fields that do not apply keep their default."""

    family: str
    N: int
    M: int
    P: int
    activation: str
    gain: float
    bias: bool = False
    v_margin: float = 0.0       # gaussian: > 0 draws a cascade-like V
    x_exp: int = 0              # scale: X × 10^x_exp
    y_exp: int = 0              # scale: Y × 10^y_exp
    kind: str = ""              # ill: "rows"/"svd"; infeasible: "rank"/"dup"/"zero-sample"
    spread: float = 0.0         # ill: log10 of the spread of the row scales or singular values
    v_exp: float = 0.0          # large-V: V = 10^v_exp · RMS(Y) on Ωᶜ
    layer: int = 0              # digits/mnist: layer number (1 = first)

    @property
    def expect(self) -> str:
        """What the answer must be: "optimal", "zero" (U = 0, optimal) or "infeasible"."""
        return {"infeasible": "infeasible", "zero": "zero"}.get(self.family, "optimal")

    @property
    def base_name(self) -> str:
        """The name without the scale exponents: the seed derives from it, so that the instances of a
        scale sweep are one layer in different units."""
        parts = [self.family, self.activation, f"N={self.N} M={self.M} P={self.P}", f"gain={self.gain:g}"]
        defaults = {f.name: f.default for f in fields(Spec)}
        for f in ("bias", "v_margin", "kind", "spread", "v_exp", "layer"):
            value = getattr(self, f)
            if value != defaults[f]:
                parts.append(f if value is True else f"{f}={value:g}" if isinstance(value, float) else f"{f}={value}")
        return " ".join(parts)

    @property
    def name(self) -> str:
        if self.family != "scale":
            return self.base_name
        return f"{self.base_name} X*1e{self.x_exp} Y*1e{self.y_exp}"


# ---------------------------------------------------------------------------------------------- instances
def _gaussian(spec: Spec, seed: int) -> LayerData:
    return random_layer(spec.N, spec.M, spec.P, activation=spec.activation, gain=spec.gain, bias=spec.bias,
                        density=0.5, scale=1.0, v_margin=spec.v_margin, seed=seed)


def _ill(spec: Spec, seed: int) -> LayerData:
    return ill_layer(spec.N, spec.M, spec.P, spread=spec.spread, kind=spec.kind, activation=spec.activation,
                     gain=spec.gain, density=0.5, seed=seed)


def _infeasible(spec: Spec, seed: int) -> LayerData:
    rng = np.random.default_rng(seed)
    if spec.kind == "rank":  # linear, P > N, Y outside the row space of X
        X = rng.standard_normal((spec.N, spec.P))
        Y = rng.standard_normal((spec.M, spec.P))
        U, *_ = np.linalg.lstsq(X.T, Y.T, rcond=None)
        residual = float(np.linalg.norm(U.T @ X - Y))   # the least ‖UᵀX − Y‖_F over all U
        return LayerData(X, Y, spec.gain * residual, None, None)
    d = random_layer(spec.N, spec.M, spec.P, activation="relu", gain=0.0, density=0.5, scale=1.0, seed=seed)
    X, Y = d.X.copy(), d.Y.copy()
    if spec.kind == "dup":   # sample 1 repeats sample 0, whose active outputs it must map to 0
        m = int(np.argmax(Y[:, 0]))
        if Y[m, 0] == 0:
            Y[m, 0] = 1.0
        X[:, 1] = X[:, 0]
        Y[:, 1] = 0.0
        tight = float(Y[m, 0])      # ‖(UᵀX − Y)_Ω‖ ≥ y_m0 for every U with (Uᵀx_1)_m ≤ 0
    else:                    # "zero-sample": a zero input cannot produce a positive output
        X[:, 0] = 0.0
        Y[:, 0] = np.abs(Y[:, 0]) + 1.0
        tight = float(np.linalg.norm(Y[:, 0]))
    return LayerData(X, Y, spec.gain * tight, None, None)


def _large_v(spec: Spec, seed: int) -> LayerData:
    d = random_layer(spec.N, spec.M, spec.P, activation="relu", gain=spec.gain, density=0.5, scale=1.0,
                     bias=spec.bias, seed=seed)
    rms = float(np.linalg.norm(d.Y)) / np.sqrt(d.Y.size)
    V = np.where(d.Y > 0, 0.0, 10.0 ** spec.v_exp * rms)   # ≥ 0 ≥ W0ᵀX on Ωᶜ: W0 stays feasible
    return d._replace(V=V)


def _zero(spec: Spec, seed: int) -> LayerData:
    d = random_layer(spec.N, spec.M, spec.P, activation=spec.activation, gain=0.0, density=0.5, scale=1.0,
                     bias=spec.bias, v_margin=spec.v_margin, seed=seed)
    # U = 0 meets the ball iff ε ≥ ‖Y_Ω‖_F = ‖Y‖_F (Y = 0 off Ω), and the inequality iff 0 ≤ V on Ωᶜ: a
    # cascade-like V is clipped at 0 from below (W0 stays feasible: W0ᵀX ≤ 0 on Ωᶜ)
    V = None if d.V is None else np.maximum(d.V, 0.0)
    return d._replace(epsilon=spec.gain * float(np.linalg.norm(d.Y)), V=V)


def _real(spec: Spec, seed: int, cache_dir) -> LayerData:
    from nettrim.network import forward

    from .data import load_dataset
    from .models import get_model

    hidden, train_iter = NETWORKS[spec.family]
    data = load_dataset(spec.family)
    model = get_model(data, hidden, seed=0, max_iter=train_iter, cache_dir=cache_dir)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.permutation(len(data.X_train))[: spec.P])
    signals = forward(model.weights, model.biases, data.X_train[rows], return_all=True)
    i = spec.layer - 1
    X = np.vstack([signals[i].T, np.ones((1, spec.P))])          # input with the bias row
    W = np.vstack([model.weights[i], model.biases[i][None, :]])  # the trained layer, bias row last
    alive = np.flatnonzero(np.abs(signals[i + 1]).max(axis=0) > 0)
    keep = np.sort(rng.permutation(alive)[: spec.M]) if len(alive) > spec.M else alive
    W0 = np.ascontiguousarray(W[:, keep])
    Z = W0.T @ X   # the layer's output, computed from exactly the X the solvers see
    Y = np.maximum(Z, 0.0) if spec.activation == "relu" else Z
    return LayerData(X, Y, spec.gain * float(np.linalg.norm(Y)), None, W0)


def instance(spec: Spec, seed: int, cache_dir=None) -> LayerData:
    """The seeded program of ``spec``: (X, Y, epsilon, V, W0) with V None for V = 0 and W0 a feasible
    point (the generating or trained weights; None for an infeasible program). ``cache_dir`` is where the
    real-layer families keep their trained models."""
    if spec.family in ("gaussian", "scale"):
        d = _gaussian(spec, seed)
        if spec.family == "scale":
            X, Y = d.X * 10.0 ** spec.x_exp, d.Y * 10.0 ** spec.y_exp
            W0 = d.W0 * 10.0 ** (spec.y_exp - spec.x_exp)
            d = LayerData(X, Y, spec.gain * float(np.linalg.norm(Y)), d.V, W0)
        return d
    if spec.family == "ill":
        return _ill(spec, seed)
    if spec.family == "infeasible":
        return _infeasible(spec, seed)
    if spec.family == "large-V":
        return _large_v(spec, seed)
    if spec.family == "zero":
        return _zero(spec, seed)
    if spec.family in NETWORKS:
        return _real(spec, seed, cache_dir)
    raise ValueError(f"unknown family {spec.family!r}")


def families(quick: bool) -> list[Spec]:
    """Every instance of the run (module docstring); ``quick`` keeps a small subset of each family.

    The gaussian sizes run from a single neuron to a 200×50 layer, and P up to 2000. The large sizes keep
    a subset: one CVXPY statement of a layer has N·M·P nonzeros (10⁷ for 200×50×1000), and the
    interior-point solvers take minutes on it, so 200×50 gets one instance (P = 1000) and P = 2000 goes
    with a 100×20 layer.
    """
    specs = []
    small = [(20, 1, 10), (20, 1, 60), (50, 10, 30)] if not quick else [(12, 1, 8), (20, 4, 60)]
    medium = [(50, 10, 200)] if not quick else []
    kinds = [("relu", False, 0.0), ("relu", True, 0.0), ("relu", False, 0.5), ("relu", True, 0.5),
             ("linear", False, 0.0), ("linear", True, 0.0)]
    for (N, M, P) in small + medium:
        for act, bias, vm in kinds:
            for gain in GAINS:
                specs.append(Spec("gaussian", N, M, P, act, gain, bias=bias, v_margin=vm))
    if not quick:
        for act, bias, vm, gains in [("relu", True, 0.0, GAINS), ("relu", False, 0.5, (0.05,)),
                                     ("linear", True, 0.0, (0.05,))]:
            specs.extend(Spec("gaussian", 100, 20, 500, act, g, bias=bias, v_margin=vm) for g in gains)
        specs.append(Spec("gaussian", 100, 20, 2000, "relu", 0.05, bias=True))
        specs.append(Spec("gaussian", 100, 20, 2000, "linear", 0.05))
        specs.append(Spec("gaussian", 200, 50, 1000, "relu", 0.05, bias=True))

    exps = range(-6, 7) if not quick else (-6, 0, 6)
    for act in ("relu", "linear"):
        for gain in (0.0, 0.05):
            specs.extend(Spec("scale", 20, 4, 60, act, gain, x_exp=k, y_exp=j) for k in exps for j in exps
                         if not quick or k == j or k == -j)

    for act in ("relu", "linear"):
        for kind in ("rows", "svd"):
            for spread in ((3.0, 6.0) if not quick else (6.0,)):
                for gain in ((0.0, 0.05) if not quick else (0.05,)):
                    specs.append(Spec("ill", 30, 5, 100, act, gain, kind=kind, spread=spread))

    for gain in ((0.0, 0.5) if not quick else (0.5,)):
        specs.append(Spec("infeasible", 12, 3, 40, "linear", gain, kind="rank"))
        specs.append(Spec("infeasible", 12, 3, 40, "relu", gain, kind="dup"))
        specs.append(Spec("infeasible", 12, 3, 40, "relu", gain, kind="zero-sample"))
    if not quick:
        specs.append(Spec("infeasible", 30, 5, 100, "linear", 0.5, kind="rank"))
        specs.append(Spec("infeasible", 30, 5, 100, "relu", 0.3, kind="dup"))

    for e in ((3.0, 6.0, 12.0) if not quick else (12.0,)):
        for gain in ((0.0, 0.05) if not quick else (0.05,)):
            specs.append(Spec("large-V", 20, 4, 60, "relu", gain, bias=True, v_exp=e))

    for act, bias, vm in (("linear", False, 0.0), ("relu", False, 0.0), ("relu", True, 0.5)):
        for gain in ((1.0, 1.5) if not quick else (1.0,)):
            specs.append(Spec("zero", 20, 4, 60, act, gain, bias=bias, v_margin=vm))

    for net, sizes in (REAL_SIZES_QUICK if quick else REAL_SIZES).items():
        for layer, (M, P) in sizes.items():
            act = "linear" if layer == 3 else "relu"
            for gain in ((0.0, 0.05, 0.2) if not quick else (0.05,)):
                n_in = {"digits": (64, 128, 64), "mnist": (784, 300, 100)}[net][layer - 1] + 1
                specs.append(Spec(net, n_in, M, P, act, gain, bias=True, layer=layer))
    return specs
