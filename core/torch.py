r"""Prune a PyTorch model with Net-Trim: :func:`prune`.

**Models.** ``model`` is a :class:`torch.nn.Module` whose forward pass is a *chain* of ``nn.Linear``,
``nn.Conv2d`` (groups = 1), ``nn.ReLU``, ``nn.MaxPool2d``, ``nn.AvgPool2d``, ``nn.Flatten``, ``nn.Dropout``
(and its 1d/2d/3d/alpha variants) and ``nn.Identity``: an ``nn.Sequential``, nested or not, or a module
whose ``forward`` calls its submodules one after the other (a reshape such as ``x.view(len(x), -1)``
between two of them is accepted). The chain is checked on the first calibration batch with forward hooks:
every module's input must be the previous module's output and the model's output the last module's output,
so a residual add, a concatenation or a functional ``F.relu`` in ``forward`` is detected and named, as is
any other module type (``nn.LSTM``, ``nn.BatchNorm2d``, ...). The model must be in eval mode.

**Layer programs.** Every ``Linear`` and ``Conv2d`` is pruned with the program of
:func:`nettrim.layer_problem` on its augmented weights :math:`\tilde W = [W; b^\top]` (the bias rides on
a row of ones and is pruned with the weights, as in :func:`nettrim.prune_network`):

* ``Linear``: X is the layer input with samples in columns (every leading index of the input is a sample).
* ``Conv2d``: X holds the input's patches, one column per image and output position
  (:func:`nettrim.conv.patches`); at most ``max_patches`` columns are kept, a seeded uniform sample
  (:func:`nettrim.conv.sample_positions`). **Every guarantee then holds on the sampled positions**; the
  report also measures the error on all positions (``layer_rel_error_all``).

The activation σ of a program (Y = σ(layer output)) is read off the modules that follow the layer, up to
the next ``Linear``/``Conv2d``:

* ``Dropout``, ``Identity`` and ``Flatten`` are skipped (the identity, a reshape).
* ``ReLU`` makes it a ReLU program.
* ``MaxPool2d`` is skipped when looking for the ReLU: max pooling and ReLU **commute**
  (:math:`\max_i \mathrm{relu}(a_i) = \mathrm{relu}(\max_i a_i)`, relu being non-decreasing), so
  conv → max-pool → ReLU is the ReLU program of the convolution, on the positions before pooling. Max
  pooling over disjoint windows is 1-Lipschitz in the Frobenius norm, so the pooled signal keeps the bound.
* ``AvgPool2d`` directly after a convolution (before any max pooling) does **not** commute with the ReLU
  (:math:`\mathrm{relu}(\bar a) \ne \overline{\mathrm{relu}(a)}`), but it is linear, channel by channel, so
  it is folded into the patches (:func:`nettrim.conv.patches` with ``transform``): the program is then the
  exact program of conv → avg-pool → σ on the pooled positions. Anywhere else (after a max pooling, after a
  ``Linear``) an average pooling ends the search: the program is linear on the layer's own output.
* Anything else (the next layer, the end of the model) leaves the program linear.

**Schemes** (as :func:`nettrim.prune_network`): ``"parallel"`` prunes every layer from the original
model's signals; ``"cascade"`` feeds layer ℓ ≥ 2 the signal of the model pruned so far (captured with
forward hooks on the partly pruned copy) with :math:`V = \tilde W_\ell^\top \hat X` and
:math:`\varepsilon_\ell^2 = \gamma \sum_\Omega (\tilde w^\top \hat x - y)^2` (every entry for a linear
program; κ multiplies the last layer's), so the original layer stays feasible. ε is relative:
:math:`\varepsilon_\ell = \epsilon\,\|Y^{(\ell)}\|_F` on the program's columns.

**Result.** A deep copy of the model whose pruned weights are exact zeros, each pruned ``weight`` under a
``torch.nn.utils.prune`` mask (``prune.custom_from_mask``: ``weight_orig`` and ``weight_mask``, so
fine-tuning keeps the support), and a report (:data:`REPORT_COLUMNS`).
"""

from __future__ import annotations

import copy
import inspect
import numbers
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

try:
    import torch
    from torch import nn
    from torch.nn.utils import prune as torch_prune
except ImportError as exc:  # pragma: no cover - the extra is part of the test install
    raise ImportError("nettrim.torch needs PyTorch: pip install 'nettrim[torch]' (torch==2.13.0)") from exc

from . import network as _network
from ._validation import check_scalar
from .conv import (
    DEFAULT_MAX_PATCHES,
    Conv2dSpec,
    conv2d_spec,
    kernel_to_matrix,
    matrix_to_kernel,
    output_columns,
    patches,
    sample_positions,
)
from .problem import layer_problem
from .solution import OPTIMAL, OPTIMAL_INACCURATE, VIOLATION_TOL

__all__ = ["DEFAULT_MAX_PATCHES", "REPORT_COLUMNS", "SUPPORTED_MODULES", "LayerData", "layer_data", "prune"]

#: :data:`nettrim.network.REPORT_COLUMNS`, then: ``module`` (its name in the model), ``type`` ("Linear" or
#: "Conv2d"), ``program`` (how σ was chosen), ``positions_total`` (images × output positions, or samples, of
#: the calibration data), ``positions_sampled`` (columns of the program), ``layer_rel_error_all`` (the
#: layer alone on its program input at *all* positions; equal to ``layer_rel_error`` when nothing is sampled).
REPORT_COLUMNS = _network.REPORT_COLUMNS + ("module", "type", "program", "positions_total", "positions_sampled",
                                            "layer_rel_error_all")

_DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)
_PRUNABLE = (nn.Linear, nn.Conv2d)
_SKIPPED = _DROPOUTS + (nn.Identity, nn.Flatten)
#: the module types a prunable chain may contain
SUPPORTED_MODULES = _PRUNABLE + (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d) + _SKIPPED

# A single calibration tensor is fed to the model this many samples at a time (memory of the hooked signals).
_BATCH = 1024


# ---------------------------------------------------------------------------------------------- the chain
def _describe(name: str, module) -> str:
    return f"'{name}' ({type(module).__name__})" if name else f"the model ({type(module).__name__})"


def _check_modules(model) -> None:
    """Every leaf module has a supported type; no container holds parameters of its own."""
    names = ", ".join(t.__name__ for t in SUPPORTED_MODULES)
    for name, m in model.named_modules():
        children = list(m.children())
        if not children:
            if not isinstance(m, SUPPORTED_MODULES):
                raise TypeError(f"nettrim.torch cannot prune a model containing {_describe(name, m)}: only chains of "
                                f"{names} are supported")
            if isinstance(m, nn.Conv2d) and m.groups != 1:
                raise TypeError(f"{_describe(name, m)} has groups={m.groups}; only groups=1 convolutions are supported")
            if isinstance(m, nn.MaxPool2d) and m.return_indices:
                raise TypeError(f"{_describe(name, m)} returns indices; only return_indices=False is supported")
        elif any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False)):
            raise TypeError(f"{_describe(name, m)} holds parameters or buffers of its own besides its submodules; "
                            "nettrim.torch prunes chains of modules only")
        if m.training:
            raise ValueError(f"{_describe(name, m)} is in training mode: Net-Trim prunes the eval-mode network "
                             "(dropout off); call model.eval() first")


def _is_torch_pruned(m) -> bool:
    return any(n.endswith("_orig") for n, _ in m.named_parameters(recurse=False))


@dataclass
class _Call:
    name: str
    module: nn.Module
    in_shape: tuple
    out_shape: tuple


def _trace(model, batch) -> list[_Call]:
    """Run ``model`` on one batch with hooks on every leaf; check it is a chain; return the calls in order."""
    calls, tensors, handles = [], [], []

    def hook(name):
        def fn(module, inputs, output):
            calls.append(_Call(name, module, tuple(inputs[0].shape) if len(inputs) == 1 and torch.is_tensor(inputs[0])
                               else None, tuple(output.shape) if torch.is_tensor(output) else None))
            tensors.append((inputs, output))
        return fn

    for name, m in model.named_modules():
        if not any(True for _ in m.children()):
            handles.append(m.register_forward_hook(hook(name)))
    try:
        with torch.no_grad():
            out = model(batch)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        where = f" (after {_describe(calls[-1].name, calls[-1].module)})" if calls else ""
        raise ValueError(f"the model cannot run on calibration batches of shape {tuple(batch.shape)}{where}: "
                         f"{exc}") from None
    finally:
        for h in handles:
            h.remove()
    if not calls:
        raise ValueError("the model's forward called none of its modules")
    prev_out, prev_name = batch, "the model's input"
    seen = set()
    for call, (inputs, output) in zip(calls, tensors):
        who = _describe(call.name, call.module)
        if len(inputs) != 1 or not torch.is_tensor(inputs[0]) or not torch.is_tensor(output):
            raise ValueError(f"{who} must take one tensor and return one tensor")
        if not _same_signal(inputs[0], prev_out):
            raise ValueError(f"the forward of {type(model).__name__} is not a chain of its modules: the input of {who} "
                             f"is not the output of {prev_name} (an operation in forward() between them: a residual "
                             "add, a concatenation, a functional call such as F.relu?). nettrim.torch prunes "
                             "chains of modules only")
        if isinstance(call.module, _PRUNABLE):
            if id(call.module) in seen:
                raise ValueError(f"{who} is called more than once in forward(): a layer shared between positions of "
                                 "the chain cannot be pruned layer by layer")
            seen.add(id(call.module))
        prev_out, prev_name = output, who
    if not torch.is_tensor(out) or not _same_signal(out, prev_out):
        raise ValueError(f"the output of {type(model).__name__} is not the output of its last module {prev_name}: "
                         "forward() combines or transforms module outputs (a residual add?); nettrim.torch prunes "
                         "chains of modules only")
    return calls


def _same_signal(a, b) -> bool:
    """``a`` is ``b``, or the same values in the same order with the same leading (batch) size: a reshape."""
    if a is b:
        return True
    if not (torch.is_tensor(a) and torch.is_tensor(b)) or a.numel() != b.numel() or a.dim() == 0 or b.dim() == 0:
        return False
    return a.shape[0] == b.shape[0] and torch.equal(a.reshape(-1), b.reshape(-1))


# ---------------------------------------------------------------------------------------------- layers
@dataclass
class _Layer:
    index: int                  # 1-based among the pruned layers
    name: str
    module: nn.Module
    activation: str
    program: str                # how σ was chosen (report column)
    fold: nn.Module | None      # average pooling folded into the patches (and applied to the layer's output)
    spec: Conv2dSpec | None     # None for Linear
    per_image: int              # program columns per calibration sample
    n_columns: int = 0
    index_sampled: np.ndarray | None = None

    @property
    def kind(self) -> str:
        return "Conv2d" if self.spec is not None else "Linear"

    @property
    def has_bias(self) -> bool:
        return self.module.bias is not None

    @property
    def n_in(self) -> int:
        return self.spec.n_taps if self.spec is not None else self.module.in_features

    def weights(self) -> np.ndarray:
        """The module's augmented weights :math:`\\tilde W` as program weights U ((n_in (+1)) × n_out)."""
        W = self.module.weight.detach().cpu().double().numpy()
        b = None if self.module.bias is None else self.module.bias.detach().cpu().double().numpy()
        if self.spec is not None:
            return kernel_to_matrix(W, b)
        return np.ascontiguousarray(np.vstack([W.T, b[None, :]]) if b is not None else W.T)

    def program_columns(self, x: torch.Tensor, local_index) -> np.ndarray:
        """Program input X (samples in columns) of one batch of layer input ``x``."""
        xn = x.detach().cpu().double().numpy()
        if self.spec is None:
            X = xn.reshape(-1, self.module.in_features).T
            if local_index is not None:
                X = X[:, local_index]
            if self.has_bias:
                X = np.vstack([X, np.ones((1, X.shape[1]))])
            return np.ascontiguousarray(X)
        transform = None
        if self.fold is not None:
            fold = self.fold

            def transform(t):
                with torch.no_grad():
                    return fold(torch.from_numpy(t)).numpy()
        return patches(xn, self.spec, bias=self.has_bias, index=local_index, transform=transform)

    def pre_activation(self, output: torch.Tensor) -> torch.Tensor:
        """The program's pre-activation signal from the module's output: the output itself, or its average
        pooling when one is folded into the patches."""
        if self.fold is None:
            return output
        with torch.no_grad():
            return self.fold(output)

    def output_matrix(self, output: torch.Tensor, local_index) -> np.ndarray:
        """The program's pre-activation signal of a batch (from the module's ``output``), as n_out × columns."""
        zn = self.pre_activation(output).detach().cpu().double().numpy()
        if self.spec is None:
            Z = zn.reshape(-1, self.module.out_features).T
            return np.ascontiguousarray(Z if local_index is None else Z[:, local_index])
        return output_columns(zn, local_index)

    def sigma(self, Z):
        """σ of the program on a numpy array or a tensor."""
        if self.activation != "relu":
            return Z
        return torch.clamp(Z, min=0) if torch.is_tensor(Z) else np.maximum(Z, 0.0)


def _spec(m: nn.Conv2d) -> Conv2dSpec:
    if isinstance(m.padding, str):
        if m.padding == "valid":
            pad = (0, 0, 0, 0)
        else:  # "same" (stride 1): PyTorch pads total = d(k-1), the odd one at the bottom/right
            tot = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
            pad = (tot[0] // 2, tot[0] - tot[0] // 2, tot[1] // 2, tot[1] - tot[1] // 2)
    else:
        pad = (m.padding[0], m.padding[0], m.padding[1], m.padding[1])
    return conv2d_spec(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride, padding=pad,
                       dilation=m.dilation, padding_mode=m.padding_mode)


def _layers(calls: list[_Call]) -> list[_Layer]:
    """The prunable layers of the chain, each with its program's activation (rules: module docstring)."""
    layers = []
    for k, call in enumerate(calls):
        if not isinstance(call.module, _PRUNABLE):
            continue
        conv = isinstance(call.module, nn.Conv2d)
        activation, fold, note, passed = "linear", None, None, []
        for nxt in calls[k + 1:]:
            m = nxt.module
            if isinstance(m, _PRUNABLE):
                note = "linear (next layer follows)"
                break
            if isinstance(m, nn.ReLU):
                activation = "relu"
                note = "relu" + (f" (after {', '.join(passed)}: max pooling commutes with ReLU)"
                                 if "MaxPool2d" in passed else "")
                break
            if isinstance(m, _SKIPPED):
                continue
            if isinstance(m, nn.MaxPool2d):
                passed.append("MaxPool2d")
                continue
            if isinstance(m, nn.AvgPool2d) and conv and fold is None and "MaxPool2d" not in passed:
                fold = m
                continue
            note = f"linear ({type(m).__name__} does not commute with ReLU)"
            break
        if note is None:
            note = "linear (last layer)"
        if fold is not None:
            note += "; AvgPool2d folded into the patches (pooled positions)"
        if conv:
            if call.in_shape is None or len(call.in_shape) != 4:
                raise ValueError(f"{_describe(call.name, call.module)} must receive 4-D input (images, channels, "
                                 f"height, width), got shape {call.in_shape}")
            spec = _spec(call.module)
            ho, wo = spec.output_size(*call.in_shape[2:])
            if fold is not None:
                with torch.no_grad():
                    ho, wo = fold(torch.zeros(1, 1, ho, wo)).shape[2:]
            per_image = int(ho * wo)
        else:
            per_image = int(np.prod(call.in_shape[1:-1])) if len(call.in_shape) > 2 else 1
            spec = None
        layers.append(_Layer(len(layers) + 1, call.name, call.module, activation, note, fold, spec, per_image))
    if not layers:
        raise ValueError("the model has no nn.Linear or nn.Conv2d layer to prune")
    return layers


# ---------------------------------------------------------------------------------------------- data
def _as_batches(calibration, dtype, device) -> list[torch.Tensor]:
    """The calibration data as a list of tensors on the model's device and dtype (validated)."""
    if isinstance(calibration, (str, bytes)) or calibration is None:
        raise TypeError(f"calibration must be a tensor of inputs or an iterable of batches, got "
                        f"{type(calibration).__name__}")
    if torch.is_tensor(calibration) or isinstance(calibration, np.ndarray):
        t = torch.as_tensor(calibration)
        if t.dim() < 2:
            raise ValueError(f"calibration must have a batch dimension first (samples, ...), got shape {tuple(t.shape)}")
        items = list(torch.split(t, _BATCH))
    elif isinstance(calibration, Iterable):
        items = []
        for k, item in enumerate(calibration):
            if isinstance(item, (tuple, list)) and item:   # (inputs, targets) from a DataLoader
                item = item[0]
            if not (torch.is_tensor(item) or isinstance(item, np.ndarray)):
                raise TypeError(f"calibration batch {k} must be a tensor (or an (inputs, targets) pair), "
                                f"got {type(item).__name__}")
            items.append(torch.as_tensor(item))
    else:
        raise TypeError(f"calibration must be a tensor of inputs or an iterable of batches, got "
                        f"{type(calibration).__name__}")
    items = [t for t in items if t.numel() > 0]
    if not items:
        raise ValueError("calibration is empty: Net-Trim needs at least one input sample")
    for k, t in enumerate(items):
        if not (t.is_floating_point()):
            raise TypeError(f"calibration batch {k} must hold floating-point inputs, got dtype {t.dtype} (scale "
                            "integer pixels to floats first)")
        if t.dim() < 2 or t.shape[1:] != items[0].shape[1:]:
            raise ValueError(f"calibration batch {k} has shape {tuple(t.shape)}; every batch must have the shape "
                             f"(samples, {', '.join(map(str, items[0].shape[1:]))}) of the first")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"calibration batch {k} contains NaN or Inf")
    return [t.to(device=device, dtype=dtype) for t in items]


class _Stop(Exception):
    """Raised by a hook to end a forward pass once the signals it needs are captured."""


def _local(index, offset: int, count: int):
    """The part of a sorted global column ``index`` inside [offset, offset + count), shifted to 0."""
    if index is None:
        return None
    lo, hi = np.searchsorted(index, [offset, offset + count])
    return index[lo:hi] - offset


def _capture(model, layers: list[_Layer], batches, *, outputs: bool = False):
    """Program inputs X of ``layers`` from ``model`` (hooks; each pass stops after the last one needed).

    Returns a dict name -> X (columns at each layer's ``index_sampled``) and, with ``outputs``, a dict
    name -> the hooked pre-activation signal at the same columns.
    """
    mods = dict(model.named_modules())
    X = {L.name: [] for L in layers}
    Z = {L.name: [] for L in layers}
    last = max(layers, key=lambda L: L.index)
    img = 0
    for batch in batches:
        b = batch.shape[0]
        handles = []

        def hook(L, img=img, b=b):
            def fn(module, inputs, output):
                local = _local(L.index_sampled, img * L.per_image, b * L.per_image)
                X[L.name].append(L.program_columns(inputs[0], local))
                if outputs:
                    Z[L.name].append(L.output_matrix(output, local))
                if L is last:
                    raise _Stop
            return fn

        try:
            for L in layers:
                handles.append(mods[L.name].register_forward_hook(hook(L)))
            with torch.no_grad():
                model(batch)
        except _Stop:
            pass
        finally:
            for h in handles:
                h.remove()
        img += b
    Xs = {k: np.concatenate(v, axis=1) for k, v in X.items()}
    if outputs:
        return Xs, {k: np.concatenate(v, axis=1) for k, v in Z.items()}
    return Xs


def _check_program(L: _Layer, X: np.ndarray, U: np.ndarray, Z_hooked: np.ndarray, dtype) -> None:
    """The program reproduces the module: :math:`\\tilde W^\\top X` equals the hooked output to the round-off of
    ``dtype`` (catches a module whose forward is not the map its parameters describe)."""
    Z = U.T @ X
    scale = float(np.max(np.abs(U).T @ np.abs(X))) or 1.0
    err = float(np.max(np.abs(Z - Z_hooked)))
    if err > np.sqrt(torch.finfo(dtype).eps) * scale:
        raise ValueError(f"{_describe(L.name, L.module)} does not compute the {L.kind} its parameters describe "
                         f"(largest difference {err:.3g} against a scale of {scale:.3g}); a subclass with its own "
                         "forward is not supported")


# ---------------------------------------------------------------------------------------------- public data
@dataclass(frozen=True, eq=False)
class LayerData:
    """One layer program of a model on calibration data (see :func:`layer_data`).

    Attributes
    ----------
    layer : int
        1-based index among the pruned layers.
    module : str
        Its name in the model.
    type : {"Linear", "Conv2d"}
    activation : {"relu", "linear"}
    program : str
        How the activation was chosen.
    X : ndarray, shape (N (+1), P)
        Program input: samples or patches in columns (row of ones last for a bias).
    Y : ndarray, shape (M, P)
        :math:`\\sigma(\\tilde W^\\top X)` of the model's layer.
    U : ndarray, shape (N (+1), M)
        The layer's augmented weights :math:`\\tilde W`.
    index : ndarray of int or None
        The sampled columns among ``n_columns`` (None: all).
    n_columns : int
    """

    layer: int
    module: str
    type: str
    activation: str
    program: str
    X: np.ndarray
    Y: np.ndarray
    U: np.ndarray
    index: np.ndarray | None
    n_columns: int


def _setup(model, calibration, max_patches, seed):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_modules(model)
    params = list(model.parameters())
    dtype = params[0].dtype if params else torch.get_default_dtype()
    device = params[0].device if params else torch.device("cpu")
    batches = _as_batches(calibration, dtype, device)
    if max_patches is not None:
        max_patches = check_scalar(max_patches, "max_patches", low=1, integer=True)
    seed = check_scalar(seed, "seed", low=0, integer=True)
    calls = _trace(model, batches[0])
    layers = _layers(calls)
    n_samples = sum(t.shape[0] for t in batches)
    for L in layers:
        L.n_columns = n_samples * L.per_image
        if L.spec is not None:
            L.index_sampled = sample_positions(L.n_columns, DEFAULT_MAX_PATCHES if max_patches is None
                                               else max_patches, seed=seed)
    return batches, layers, dtype


def layer_data(model, calibration, *, max_patches=None, seed: int = 0) -> list[LayerData]:
    """The layer programs of ``model`` on ``calibration``: what :func:`prune` solves in parallel mode.

    Parameters
    ----------
    model, calibration, max_patches, seed
        As in :func:`prune`; the same arguments give the same sampled columns (``LayerData.index``), for the
        original and for a pruned copy of the model.

    Returns
    -------
    list of LayerData

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()
    >>> data = layer_data(model, torch.randn(10, 1, 8, 8), max_patches=100)
    >>> [(d.type, d.activation, d.X.shape) for d in data]
    [('Conv2d', 'relu', (10, 100)), ('Linear', 'linear', (145, 10))]
    """
    batches, layers, dtype = _setup(model, calibration, max_patches, seed)
    Xs, Zs = _capture(model, layers, batches, outputs=True)
    out = []
    for L in layers:
        U = L.weights()
        _check_program(L, Xs[L.name], U, Zs[L.name], dtype)
        out.append(LayerData(L.index, L.name, L.kind, L.activation, L.program, Xs[L.name],
                             L.sigma(U.T @ Xs[L.name]), U, L.index_sampled, L.n_columns))
    return out


# ---------------------------------------------------------------------------------------------- solving
def _cascade_budget(U, X_hat, Y, activation, gamma, kappa):
    r"""ε_ℓ and V of a cascade layer ℓ ≥ 2: :math:`V = \tilde W^\top\hat X`,
    :math:`\varepsilon^2 = \gamma\sum_\Omega(\tilde W^\top \hat X - Y)^2` (all entries for a linear program), times κ;
    the original layer is then feasible (Aghasi, Abdi & Romberg 2020)."""
    Z = U.T @ X_hat
    D = Z - Y
    if activation == "relu":
        return kappa * float(np.sqrt(gamma * np.sum(D[Y > 0] ** 2))), Z
    return kappa * float(np.sqrt(gamma * np.sum(D ** 2))), None


def _prune_program(X, Y, eps_layer, activation, V, *, solver, warm, options, refit):
    """Solve one layer program; return (Û, Solution, seconds, peak MB). The one place a layer is pruned."""
    sol, elapsed, peak = _network._solve_layer(X, Y, eps_layer, activation, V, solver, warm, options)
    U = _network._clean(sol.W, solver, warm, X, Y, eps_layer, activation, V)
    if refit:  # least-squares refit on the support (checked in prune(): not available yet)
        raise NotImplementedError("refit=True is not available yet in nettrim.torch; pass refit=False")
    return U, sol, elapsed, peak


def _prune_program_pinned(*args, **kwargs):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # one BLAS thread per worker process (2-core machines)
        return _prune_program(*args, **kwargs)


def _install(module, L: _Layer, U: np.ndarray) -> None:
    """Write Û into ``module`` (a layer of the copy) with exact zeros and a ``torch.nn.utils.prune`` mask."""
    if _is_torch_pruned(module):  # already masked by torch.nn.utils.prune: make that permanent first
        for n, _ in list(module.named_parameters(recurse=False)):
            if n.endswith("_orig"):
                torch_prune.remove(module, n[: -len("_orig")])
    n_in = L.n_in
    if L.spec is not None:
        W, b = matrix_to_kernel(U, L.spec, bias=L.has_bias)
    else:
        W, b = U[:n_in].T, (U[n_in] if L.has_bias else None)
    with torch.no_grad():
        module.weight.copy_(torch.as_tensor(np.ascontiguousarray(W), dtype=module.weight.dtype))
        if b is not None:
            module.bias.copy_(torch.as_tensor(b, dtype=module.bias.dtype))
    torch_prune.custom_from_mask(module, "weight", mask=torch.as_tensor(np.ascontiguousarray(W) != 0,
                                                                         device=module.weight.device))


def _evaluate(model, pruned, layers, batches, mode):
    """Per layer, on all calibration positions: ‖Ŷ − Y‖²/‖Y‖² pieces of the pruned network, and of the pruned
    layer alone on its program input (the original signal in parallel mode, the pruned one in cascade)."""
    mods, pmods = dict(model.named_modules()), dict(pruned.named_modules())
    sums = {L.name: np.zeros(3) for L in layers}   # ‖Y‖², ‖Ŷ−Y‖², ‖layer alone − Y‖²
    for batch in batches:
        got = {}

        def grab(key, got=got):
            def fn(module, inputs, output):
                got[key] = (inputs[0].detach().clone(), output.detach().clone())
            return fn

        handles = []
        try:
            for L in layers:
                handles.append(mods[L.name].register_forward_hook(grab(("orig", L.name))))
                handles.append(pmods[L.name].register_forward_hook(grab(("pruned", L.name))))
            with torch.no_grad():
                model(batch)
                pruned(batch)
        finally:
            for h in handles:
                h.remove()
        for L in layers:
            x_in, out = got[("orig", L.name)]
            Y = L.sigma(L.pre_activation(out).double())
            Yh = L.sigma(L.pre_activation(got[("pruned", L.name)][1]).double())
            if mode == "parallel":
                with torch.no_grad():
                    alone = L.sigma(L.pre_activation(pmods[L.name](x_in)).double())
            else:
                alone = Yh
            sums[L.name] += [float((Y ** 2).sum()), float(((Yh - Y) ** 2).sum()), float(((alone - Y) ** 2).sum())]
    out = {}
    for name, (y2, d2, a2) in sums.items():
        y = np.sqrt(y2) or 1.0
        out[name] = (np.sqrt(d2) / y, np.sqrt(a2) / y)
    return out


# ---------------------------------------------------------------------------------------------- prune
def _default_epsilon() -> float:
    # prune_network's default relative epsilon, stated once (in its signature)
    return inspect.signature(_network.prune_network).parameters["epsilon"].default


def prune(model, calibration, *, epsilon=None, density=None, mode: str = "cascade", refit: bool = True,
          solver: str = "fast", max_patches=None, jobs: int = 1, gamma: float = 1.1, kappa: float = 1.0,
          seed: int = 0, threads: int | None = 1, solver_options: dict | None = None):
    r"""Prune the ``Linear`` and ``Conv2d`` layers of a PyTorch model with Net-Trim.

    Parameters
    ----------
    model : torch.nn.Module
        A chain of supported modules in eval mode (module docstring); it is not modified.
    calibration : Tensor, ndarray or iterable of batches
        Inputs (samples first), or an iterable of input batches or of (inputs, targets) pairs (a
        ``DataLoader``); floating point and finite. A single tensor is fed 1,024 samples at a time.
    epsilon : float or sequence of float, optional
        Relative tolerance (the paper's ε_gain), as in :func:`nettrim.prune_network`:
        :math:`\varepsilon_\ell = \epsilon\|Y^{(\ell)}\|_F` on the program's columns (all layers in parallel
        mode, layer 1 in cascade mode); one per layer as a sequence. Default: ``prune_network``'s.
    density : float, optional
        Not available yet (``NotImplementedError``).
    mode : {"cascade", "parallel"}
    refit : bool
        Least-squares refit on the support; not available yet: pass ``refit=False`` (``True`` raises
        ``NotImplementedError``).
    solver : {"fast", "reference", "clarabel", "ecos", "scs"}
        As in :func:`nettrim.prune_network`; "fast" (the ADMM) starts from
        :data:`nettrim.fast.PRUNING_OPTIONS`, updated with ``solver_options``.
    max_patches : int, optional
        Largest number of columns (image × position patches) of a convolutional program; a seeded uniform
        sample is kept when there are more (:data:`nettrim.conv.DEFAULT_MAX_PATCHES` when None). Linear
        layers use every sample.
    jobs : int
        Parallel mode: solve up to ``jobs`` layers at once (joblib processes, one BLAS thread each).
    gamma, kappa : float
        The cascade's γ ≥ 1 and κ ∈ (0, 1] (see :func:`nettrim.prune_network`).
    seed : int
        Seed of the position sampling (:func:`nettrim.conv.sample_positions`).
    threads : int or None
        BLAS/OpenMP threads while pruning (``threadpoolctl``); None leaves them as they are. One by default:
        on a loaded 2-core machine two OpenBLAS threads made a small CNN's prune take 11× the CPU time
        (77 s against 7 s, the same iterations).
    solver_options : dict, optional
        Passed to the layer solver.

    Returns
    -------
    pruned_model : torch.nn.Module
        A deep copy with exact zeros, each pruned ``weight`` under a ``torch.nn.utils.prune`` mask.
    report : pandas.DataFrame
        One row per pruned layer, columns :data:`REPORT_COLUMNS`: those of :func:`nettrim.prune_network`
        (``n_in`` = C_in·k_h·k_w for a convolution; ``rel_error`` is the pruned network's signal against the
        original on *all* calibration positions; ``layer_rel_error``, ``epsilon_rel``, ``violation`` and
        ``gap`` are the program's, on the sampled positions), then the extras.

    Warns
    -----
    UserWarning
        A layer pruned to all zeros, or whose solver status is not "optimal".

    Raises
    ------
    TypeError, ValueError
        An unsupported module (named), a model in training mode or not a chain, bad calibration data
        (shape, dtype, NaN/Inf, empty), a bad argument.
    NotImplementedError
        ``refit=True`` or ``density`` (not available yet).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    ...                       nn.Linear(4 * 3 * 3, 3)).eval()
    >>> pruned, report = prune(model, torch.randn(50, 1, 8, 8), epsilon=0.1, refit=False)
    >>> list(report["type"]), bool((report["layer_rel_error"] <= report["epsilon_rel"] + 1e-6).all())
    (['Conv2d', 'Linear'], True)
    """
    if threads is not None:
        threads = check_scalar(threads, "threads", low=1, integer=True)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return _prune(model, calibration, epsilon=epsilon, density=density, mode=mode, refit=refit, solver=solver,
                      max_patches=max_patches, jobs=jobs, gamma=gamma, kappa=kappa, seed=seed,
                      solver_options=solver_options)


def _prune(model, calibration, *, epsilon, density, mode, refit, solver, max_patches, jobs, gamma, kappa, seed,
           solver_options):
    mode = _network._check_choice(mode, "mode", _network.MODES)
    solver = _network._check_choice(solver, "solver", _network.SOLVERS)
    if not isinstance(refit, (bool, np.bool_)):
        raise TypeError(f"refit must be a bool, got {type(refit).__name__}")
    if density is not None:
        raise NotImplementedError("density is not available yet in nettrim.torch; give epsilon")
    if refit:
        raise NotImplementedError("refit=True (least-squares refit on the support) is not available yet in "
                                  "nettrim.torch; pass refit=False")
    if isinstance(jobs, (bool, np.bool_)) or not isinstance(jobs, numbers.Integral):
        raise TypeError(f"jobs must be an integer >= 1, got {type(jobs).__name__}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    gamma = check_scalar(gamma, "gamma", low=1.0)
    kappa = check_scalar(kappa, "kappa", low=0.0, high=1.0, low_inclusive=False)
    if solver_options is not None and not isinstance(solver_options, dict):
        raise TypeError(f"solver_options must be a dict or None, got {type(solver_options).__name__}")
    options = {}
    if solver == "fast":
        from nettrim.fast import PRUNING_OPTIONS

        options.update(PRUNING_OPTIONS)
    options.update(solver_options or {})

    batches, layers, dtype = _setup(model, calibration, max_patches, seed)
    n_layers = len(layers)
    eps_rel = _network._check_epsilon(_default_epsilon() if epsilon is None else epsilon, n_layers)

    Xs, Zs = _capture(model, layers, batches, outputs=True)
    Ws, Ys = {}, {}
    for L in layers:
        Ws[L.name] = L.weights()
        _check_program(L, Xs[L.name], Ws[L.name], Zs[L.name], dtype)
        Ys[L.name] = L.sigma(Ws[L.name].T @ Xs[L.name])
    del Zs

    pruned = copy.deepcopy(model)
    pmods = dict(pruned.named_modules())
    results, programs = {}, {}
    kw = dict(solver=solver, options=options, refit=bool(refit))
    t_start = time.perf_counter()
    if mode == "parallel":
        tasks = []
        for L in layers:
            eps_layer = eps_rel[L.index - 1] * float(np.linalg.norm(Ys[L.name]))
            programs[L.name] = (Xs[L.name], eps_layer, None)
            tasks.append((Xs[L.name], Ys[L.name], eps_layer, L.activation, None))
        if jobs > 1 and n_layers > 1:
            from joblib import Parallel, delayed

            outs = Parallel(n_jobs=min(jobs, n_layers))(
                delayed(_prune_program_pinned)(*t, warm=Ws[L.name], **kw) for t, L in zip(tasks, layers))
        else:
            outs = [_prune_program(*t, warm=Ws[L.name], **kw) for t, L in zip(tasks, layers)]
        for L, o in zip(layers, outs):
            results[L.name] = o
            _install(pmods[L.name], L, o[0])
    else:
        for L in layers:
            if L.index == 1:
                X_hat, V = Xs[L.name], None
                eps_layer = eps_rel[0] * float(np.linalg.norm(Ys[L.name]))
            else:
                X_hat = _capture(pruned, [L], batches)[L.name]
                eps_layer, V = _cascade_budget(Ws[L.name], X_hat, Ys[L.name], L.activation, gamma,
                                               kappa if L.index == n_layers else 1.0)
            programs[L.name] = (X_hat, eps_layer, V)
            results[L.name] = _prune_program(X_hat, Ys[L.name], eps_layer, L.activation, V, warm=Ws[L.name], **kw)
            _install(pmods[L.name], L, results[L.name][0])
    del Xs

    errors = _evaluate(model, pruned, layers, batches, mode)
    rows = []
    for L in layers:
        U, sol, elapsed, peak = results[L.name]
        X, eps_layer, V = programs[L.name]
        Y = Ys[L.name]
        prob = layer_problem(X, Y, eps_layer, activation=L.activation, V=V)
        y_norm = float(np.linalg.norm(Y)) or 1.0
        n_in = L.n_in
        W0 = Ws[L.name][:n_in]
        status = sol.status
        violation = prob.violation(U)
        if solver != "fast" and status == OPTIMAL and violation > VIOLATION_TOL:
            status = OPTIMAL_INACCURATE
        rows.append(dict(
            layer=L.index, n_in=n_in, n_out=U.shape[1], activation=L.activation,
            nnz_before=int(np.count_nonzero(W0)), nnz_after=int(np.count_nonzero(U[:n_in])),
            kept=np.count_nonzero(U[:n_in]) / W0.size,
            bias_nnz_after=int(np.count_nonzero(U[n_in])) if L.has_bias else 0,
            rel_error=errors[L.name][0], layer_rel_error=prob.relu_error(U) / y_norm,
            epsilon=eps_layer, epsilon_rel=eps_layer / y_norm, dead_neurons=int(np.sum(~U.any(axis=0))),
            status=status, violation=violation, gap=sol.gap, iterations=sol.iterations, time=elapsed,
            peak_mem_mb=peak, module=L.name, type=L.kind, program=L.program, positions_total=L.n_columns,
            positions_sampled=X.shape[1], layer_rel_error_all=errors[L.name][1]))
        if not U.any():
            warnings.warn(f"layer {L.index} ({L.name}) was pruned to all zeros (weights and bias): the network output "
                          "no longer depends on its input; lower epsilon", stacklevel=3)
        if status != OPTIMAL:
            warnings.warn(f"layer {L.index} ({L.name}): solver {sol.solver} returned status {status!r} (relative "
                          f"violation {violation:.2e}); the layer may not meet its error bound", stacklevel=3)
    report = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    report.attrs["total_time"] = time.perf_counter() - t_start
    return pruned, report
