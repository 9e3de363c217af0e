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

**Schemes and layers** (as :func:`nettrim.prune_network`, through its layer-level API): every program is
solved by :func:`nettrim.network.prune_layer` (ℓ1, optional reweighting rounds, refit on the support by
default). ``"parallel"`` prunes every layer from the original model's signals; ``"cascade"`` feeds layer
ℓ ≥ 2 the signal of the model pruned so far (captured with forward hooks on the partly pruned copy), with
ε and V of :func:`nettrim.network.cascade_program`, so the original layer stays feasible. ε is relative:
:math:`\varepsilon_\ell = \epsilon\,\|Y^{(\ell)}\|_F` on the program's columns. A ``density`` target is
met by :func:`nettrim.network.search_epsilon`, as in ``prune_network``.

**Result.** A deep copy of the model whose pruned weights are exact zeros, each pruned ``weight`` under a
``torch.nn.utils.prune`` mask (``prune.custom_from_mask``: ``weight_orig`` and ``weight_mask``, so
fine-tuning keeps the support), and a report (:data:`REPORT_COLUMNS`).
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pandas as pd

try:
    import torch
    from torch import nn
    from torch.nn.utils import prune as torch_prune
except ImportError as exc:  # pragma: no cover - the extra is part of the test install
    raise ImportError("nettrim.torch needs PyTorch: pip install 'nettrim[torch]' (torch==2.13.0)") from exc

from ._schemes import EPS_RANGE, Config
from ._validation import as_float_matrix, check_scalar
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
from .network import (  # the same settings checks, ε/density targets and certificate rule as prune_network
    DEFAULT_EPSILON,
    DENSITY_TOL,
    LayerResult,
    _config,
    _targets,
    _uncertified,
    cascade_program,
    prune_layer,
    refit_layer,
    search_epsilon,
    start_epsilon,
)
from .network import REPORT_COLUMNS as NETWORK_REPORT_COLUMNS
from .solution import OPTIMAL, ConvergenceWarning

__all__ = ["DEFAULT_MAX_PATCHES", "REPORT_COLUMNS", "SUPPORTED_MODULES", "LayerData", "layer_data", "prune",
           "assign_weights"]

#: :data:`nettrim.network.REPORT_COLUMNS`, then: ``module`` (its name in the model), ``type`` ("Linear" or
#: "Conv2d"), ``program`` (how σ was chosen), ``positions_total`` (images × output positions, or samples, of
#: the calibration data), ``positions_sampled`` (columns of the program), ``layer_rel_error_all`` (the
#: layer alone on its program input at *all* positions; equal to ``layer_rel_error`` when nothing is sampled).
REPORT_COLUMNS = NETWORK_REPORT_COLUMNS + ("module", "type", "program", "positions_total", "positions_sampled",
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
    for call, (inputs, output) in zip(calls, tensors, strict=False):
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
            tot = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size, strict=False)]
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
            raise ValueError("calibration must have a batch dimension first (samples, ...), "
                             f"got shape {tuple(t.shape)}")
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
    ``dtype`` (catches a module whose forward is not the map its parameters describe); its parameters and the
    input it sees on the calibration data are finite."""
    if not np.all(np.isfinite(U)):
        raise ValueError(f"{_describe(L.name, L.module)} has NaN or Inf in its weight or bias")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"the input of {_describe(L.name, L.module)} on the calibration data contains NaN or Inf "
                         "(from the calibration data or a module before it)")
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
    bias : bool
        The module has a bias: the last row of X is all ones and the last row of U is the bias.
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
    bias: bool


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
                             L.sigma(U.T @ Xs[L.name]), U, L.index_sampled, L.n_columns, L.has_bias))
    return out


# ---------------------------------------------------------------------------------------------- weights
def assign_weights(module, U, *, mask: bool = True) -> None:
    r"""Write augmented program weights into a ``Linear`` or ``Conv2d`` module, in place.

    ``U`` is the layer's :math:`\tilde W` in the program's layout (:attr:`LayerData.U`): (n_in (+1)) × n_out
    with n_in = ``in_features`` or C_in·k_h·k_w (rows in the order of ``weight.reshape(C_out, -1)``) and the
    bias as last row when the module has one. With ``mask`` the weight goes under a
    ``torch.nn.utils.prune`` mask of its nonzeros (``prune.custom_from_mask``: ``weight_orig`` and
    ``weight_mask``, so fine-tuning keeps the support); a mask already on the module is made permanent
    first.

    Parameters
    ----------
    module : torch.nn.Linear or torch.nn.Conv2d
    U : array_like, shape (n_in (+1), n_out)
    mask : bool

    Examples
    --------
    >>> import numpy as np, torch
    >>> lin = torch.nn.Linear(3, 2)
    >>> assign_weights(lin, np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0], [0.5, -0.5]]))
    >>> lin.weight.tolist(), lin.bias.tolist(), lin.weight_mask.tolist()
    ([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], [0.5, -0.5], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    """
    if not isinstance(module, _PRUNABLE) or (isinstance(module, nn.Conv2d) and module.groups != 1):
        raise TypeError(f"module must be a torch.nn.Linear or a groups=1 torch.nn.Conv2d, got {type(module).__name__}")
    if not isinstance(mask, (bool, np.bool_)):
        raise TypeError(f"mask must be a bool, got {type(mask).__name__}")
    conv = isinstance(module, nn.Conv2d)
    spec = _spec(module) if conv else None
    n_in = spec.n_taps if conv else module.in_features
    n_out = module.out_channels if conv else module.out_features
    has_bias = module.bias is not None
    U = as_float_matrix(U, "U", shape=(n_in + int(has_bias), n_out))
    if _is_torch_pruned(module):  # already masked by torch.nn.utils.prune: make that permanent first
        for n, _ in list(module.named_parameters(recurse=False)):
            if n.endswith("_orig"):
                torch_prune.remove(module, n[: -len("_orig")])
    if conv:
        W, b = matrix_to_kernel(U, spec, bias=has_bias)
    else:
        W, b = U[:n_in].T, (U[n_in] if has_bias else None)
    W = np.ascontiguousarray(W)
    with torch.no_grad():
        module.weight.copy_(torch.as_tensor(W, dtype=module.weight.dtype))
        if b is not None:
            module.bias.copy_(torch.as_tensor(b, dtype=module.bias.dtype))
    if mask:
        torch_prune.custom_from_mask(module, "weight", mask=torch.as_tensor(W != 0, device=module.weight.device))


# ---------------------------------------------------------------------------------------------- settings
def _settings(*, mode, refit, reweight, gamma, kappa, solver, solver_options, jobs, verbose, density_tol) -> Config:
    """The validated settings of one prune: :func:`nettrim.prune_network`'s (one set of checks)."""
    if solver_options is not None and not isinstance(solver_options, dict):
        raise TypeError(f"solver_options must be a dict or None, got {type(solver_options).__name__}")
    return _config(mode=mode, refit=refit, reweight=reweight, gamma=gamma, kappa=kappa, solver=solver, jobs=jobs,
                   verbose=verbose, density_tol=density_tol, options=solver_options)





# ---------------------------------------------------------------------------------------------- solving
@dataclass
class _Original:
    """The original model, its layers and their programs on the calibration data."""

    model: nn.Module
    layers: list
    batches: list
    X: dict         # layer name -> program input X (columns at the sampled positions)
    Y: dict         # layer name -> σ(W̃ᵀX)
    W: dict         # layer name -> W̃

    def program(self, L: _Layer, X: np.ndarray, V, tag: str = "") -> _Program:
        label = f"layer {L.index}/{len(self.layers)} ({L.name})" + (f", {tag}" if tag else "")
        return _Program(X, self.Y[L.name], self.W[L.name], L.activation, V, L.has_bias, label)

    def y_norm(self, L: _Layer) -> float:
        return float(np.linalg.norm(self.Y[L.name])) or 1.0


class _Program(NamedTuple):
    """One layer program, as :func:`nettrim.network.prune_layer` takes it (what a worker process needs)."""

    X: np.ndarray
    Y: np.ndarray
    original: np.ndarray
    activation: str
    V: np.ndarray | None
    bias: bool
    label: str


@dataclass
class _Run:
    """One prune of every layer: the pruned copy of the model, each layer's result and its program."""

    model: nn.Module
    results: dict = field(default_factory=dict)     # layer name -> LayerResult
    programs: dict = field(default_factory=dict)    # layer name -> _Program

    @property
    def kept(self) -> float:
        """Fraction of the model's weights kept (biases not counted)."""
        rows = [r.row for r in self.results.values()]
        return sum(r["nnz_after"] for r in rows) / sum(r["n_in"] * r["n_out"] for r in rows)


def _solve(p: _Program, eps_layer: float, warm, cfg: Config, refit: bool) -> LayerResult:
    return prune_layer(p.X, p.Y, eps_layer, p.original, activation=p.activation, V=p.V, bias=p.bias, refit=refit,
                       reweight=cfg.reweight, solver=cfg.solver, solver_options=cfg.options, warm_start=warm,
                       verbose=cfg.verbose, label=p.label)


def _solve_task(task) -> LayerResult:
    return _solve(*task)


def _refit_task(task) -> LayerResult:
    p, res = task
    return refit_layer(res, p.X, p.Y, res.row["epsilon"], p.original, activation=p.activation, V=p.V, bias=p.bias)


def _map(fn, tasks, cfg: Config) -> list:
    """``[fn(t) for t in tasks]``, in ``cfg.jobs`` worker processes (one BLAS thread each) when jobs > 1."""
    if cfg.jobs > 1 and len(tasks) > 1:
        from joblib import Parallel, delayed

        return Parallel(n_jobs=min(cfg.jobs, len(tasks)))(delayed(_pinned)(fn, t) for t in tasks)
    return [fn(t) for t in tasks]


def _pinned(fn, task):
    from ._threads import limit_blas

    # one BLAS thread per worker process: two processes with two threads each oversubscribe a 2-core machine
    with limit_blas(1):
        return fn(task)


def _progress(p: _Program, res: LayerResult, cfg: Config) -> None:
    """One line per pruned layer (``verbose``): kept, error (before the refit), status, time."""
    if not cfg.verbose:
        return
    r = res.row
    refit = f" (l1 {r['layer_rel_error_l1']:.4f})" if r["refit"] else ""
    print(f"{p.label}: kept {100 * r['kept']:.2f} % ({r['nnz_after']:,}/{r['n_in'] * r['n_out']:,}), error "
          f"{r['layer_rel_error']:.4f}{refit} at eps {r['epsilon_rel']:.4f}, {r['status']}, {r['time']:.2f} s",
          flush=True)


def _warm(warm: _Run | None, L: _Layer):
    return None if warm is None else warm.results[L.name].solution


def _scheme(orig: _Original, eps_gains, cfg: Config, *, refit: bool, warm: _Run | None = None,
            tag: str = "") -> _Run:
    """Prune every layer at relative ε ``eps_gains[ℓ]`` (cascade: only layer 1's is used); ``warm`` is an
    earlier run to warm-start from."""
    run = _Run(copy.deepcopy(orig.model))
    mods = dict(run.model.named_modules())
    layers = orig.layers
    if cfg.mode == "parallel":
        progs = [orig.program(L, orig.X[L.name], None, tag) for L in layers]
        tasks = [(p, eps_gains[L.index - 1] * orig.y_norm(L), _warm(warm, L), cfg, refit)
                 for p, L in zip(progs, layers, strict=True)]
        for L, p, res in zip(layers, progs, _map(_solve_task, tasks, cfg), strict=False):
            _progress(p, res, cfg)
            run.results[L.name], run.programs[L.name] = res, p
            assign_weights(mods[L.name], res.W)
        return run
    for L in layers:
        if L.index == 1:
            X, V, eps_layer = orig.X[L.name], None, eps_gains[0] * orig.y_norm(L)
        else:  # the signal of the model pruned so far; ε and V keep the original layer feasible
            X = _capture(run.model, [L], orig.batches)[L.name]
            eps_layer, V = cascade_program(orig.W[L.name], X, orig.Y[L.name], activation=L.activation,
                                           gamma=cfg.gamma, kappa=cfg.kappa if L.index == len(layers) else 1.0)
        p = orig.program(L, X, V, tag)
        res = _solve(p, eps_layer, _warm(warm, L), cfg, refit)
        _progress(p, res, cfg)
        run.results[L.name], run.programs[L.name] = res, p
        assign_weights(mods[L.name], res.W)
    return run


def _search_common(orig: _Original, density: float, cfg: Config):
    """One relative ε for every layer, found by :func:`nettrim.network.search_epsilon` (as prune_network).

    Parallel trials skip the refit (it keeps each layer's support, hence the count) and only the chosen
    prune is refitted; a cascade trial needs it, since the next layers see the refitted signal.
    """
    deferred = cfg.mode == "parallel" and cfg.refit
    n = len(orig.layers)

    def evaluate(eps_gain, warm):
        run = _scheme(orig, [eps_gain] * n, cfg, refit=cfg.refit and not deferred, warm=warm,
                      tag=f"eps={eps_gain:.4g}")
        if cfg.verbose:
            print(f"density search: eps = {eps_gain:.4g} -> kept {100 * run.kept:.2f} % (target "
                  f"{100 * density:.2f} ± {100 * cfg.density_tol:.2f} %)", flush=True)
        return run.kept, run

    search = search_epsilon(evaluate, density, lower=EPS_RANGE[0], upper=EPS_RANGE[1],
                            tol=cfg.density_tol)
    run = search.payload
    if deferred:
        mods = dict(run.model.named_modules())
        names = [L.name for L in orig.layers]
        fits = _map(_refit_task, [(run.programs[k], run.results[k]) for k in names], cfg)
        for k, res in zip(names, fits, strict=False):
            run.results[k] = res
            assign_weights(mods[k], res.W)
    return run, search


def _search_layer(p: _Program, floor: float, density: float, cfg: Config):
    """Search one layer's relative ε (at or above ``floor``, absolute); the trials skip the refit, the chosen
    one gets it."""
    y_norm = float(np.linalg.norm(p.Y)) or 1.0

    def evaluate(eps_gain, warm):
        res = _solve(p._replace(label=f"{p.label}, eps={eps_gain:.4g}"), eps_gain * y_norm,
                     None if warm is None else warm.solution, cfg, refit=False)
        _progress(p._replace(label=f"{p.label}, eps={eps_gain:.4g}"), res, cfg)
        return res.row["kept"], res

    lower = max(EPS_RANGE[0], floor / y_norm)
    # a layer's kept fraction moves in steps of one weight: a small layer cannot do better than that
    tol = max(cfg.density_tol, 1.0 / ((p.X.shape[0] - int(p.bias)) * p.Y.shape[0]))
    search = search_epsilon(evaluate, density, start=max(start_epsilon(density), lower), lower=lower,
                            upper=max(EPS_RANGE[1], 2 * lower), tol=tol)
    if cfg.refit:
        search.payload = _refit_task((p, search.payload))
    return search


def _search_layer_task(task):
    return _search_layer(*task)


def _search_per_layer(orig: _Original, densities, cfg: Config):
    """One ε per layer: parallel layers searched independently (in ``jobs`` workers); cascade layers in
    order, layer ℓ ≥ 2 searching its ε at or above the cascade's γ = 1 value, which keeps it feasible."""
    run = _Run(copy.deepcopy(orig.model))
    mods = dict(run.model.named_modules())
    if cfg.mode == "parallel":
        progs = [orig.program(L, orig.X[L.name], None) for L in orig.layers]
        searches = _map(_search_layer_task, [(p, 0.0, d, cfg) for p, d in zip(progs, densities, strict=False)], cfg)
    else:
        progs, searches = [], []
        for L, d in zip(orig.layers, densities, strict=False):
            if L.index == 1:
                X, V, floor = orig.X[L.name], None, 0.0
            else:
                X = _capture(run.model, [L], orig.batches)[L.name]
                floor, V = cascade_program(orig.W[L.name], X, orig.Y[L.name], activation=L.activation, gamma=1.0,
                                           kappa=1.0)
            progs.append(orig.program(L, X, V))
            searches.append(_search_layer(progs[-1], floor, d, cfg))
            assign_weights(mods[L.name], searches[-1].payload.W)
    for L, p, s in zip(orig.layers, progs, searches, strict=False):
        run.results[L.name], run.programs[L.name] = s.payload, p
        if cfg.mode == "parallel":
            assign_weights(mods[L.name], s.payload.W)
    return run, searches


# ---------------------------------------------------------------------------------------------- report
def _evaluate(model, pruned, layers, batches, mode):
    """Per layer, on all calibration positions: ‖Ŷ − Y‖/‖Y‖ of the pruned network, and of the pruned layer
    alone on its program input (the original signal in parallel mode, the pruned one in cascade)."""
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


def _warn(layers, run: _Run, searches, cfg: Config) -> None:
    """The warnings of :func:`nettrim.prune_network`, naming the module."""
    for L in layers:
        res = run.results[L.name]
        row, who = res.row, f"layer {L.index} ({L.name})"
        if not res.W.any():
            warnings.warn(f"{who} was pruned to all zeros (weights and bias): the network output no longer depends "
                          f"on its input; lower epsilon (now {row['epsilon_rel']:g} relative)", stacklevel=4)
        if row["status"] != OPTIMAL:
            warnings.warn(f"{who}: solver {res.solution.solver} returned status {row['status']!r} (relative "
                          f"violation {row['violation_l1']:.2e}); the layer may not meet its error bound",
                          ConvergenceWarning, stacklevel=4)
        else:
            uncertified = _uncertified(row, cfg.options)
            if uncertified:
                warnings.warn(f"{who}: {uncertified}", ConvergenceWarning, stacklevel=4)
        if row["refit_fallbacks"]:
            what = ("the whole layer (its spectral norm exceeded the original's l1 norm)"
                    if not row["refit"] else f"{row['refit_fallbacks']} neuron(s)")
            warnings.warn(f"{who}: refit rejected for {what}; the l1 answer was kept there", stacklevel=4)
    for L, s in zip(layers, searches, strict=False):
        if not s.converged:
            where = "" if len(searches) == 1 else f"layer {L.index} ({L.name}): "
            warnings.warn(f"{where}density target {s.target:g} not reached within {s.tol:g}: kept {s.kept:.4f} at "
                          f"relative epsilon {s.epsilon:.4g} after {len(s.trials)} trials", stacklevel=4)


def _light(search):
    """A density search without its payloads (the pruned models of every trial)."""
    return replace(search, payload=None, trials=[replace(t, payload=None) for t in search.trials])


# ---------------------------------------------------------------------------------------------- prune
def prune(model, calibration, *, epsilon=None, density=None, mode: str = "cascade", refit: bool = True,
          solver: str = "fast", max_patches=None, jobs: int = 1, reweight: int = 0, gamma: float = 1.1,
          kappa: float = 1.0, seed: int = 0, blas_threads: int | None = 1, verbose=False,
          density_tol: float = DENSITY_TOL, solver_options: dict | None = None):
    r"""Prune the ``Linear`` and ``Conv2d`` layers of a PyTorch model with Net-Trim.

    Every layer is the program of :func:`nettrim.network.prune_layer` (ℓ1 solve, optional reweighting,
    refit on the support) on its patches or samples (module docstring), in the parallel or the cascade
    scheme (:func:`nettrim.network.cascade_program`); ``epsilon``, ``density``, ``refit``, ``reweight``,
    ``gamma``, ``kappa``, ``solver`` mean what they mean in :func:`nettrim.prune_network`. Guarantees, for
    the weights returned (refit or not), **on the sampled positions** of a convolution: Proposition 1 per
    layer (report: ``layer_rel_error`` ≤ ``epsilon_rel``) and the feasibility of the original layer in
    the cascade.

    Parameters
    ----------
    model : torch.nn.Module
        A chain of supported modules in eval mode (module docstring); it is not modified.
    calibration : Tensor, ndarray or iterable of batches
        Inputs (samples first), or an iterable of input batches or of (inputs, targets) pairs (a
        ``DataLoader``); floating point and finite. A single tensor is fed 1,024 samples at a time.
    epsilon : float or sequence of float, optional
        Relative tolerance (the paper's ε_gain): :math:`\varepsilon_\ell = \epsilon\|Y^{(\ell)}\|_F` on the
        program's columns for every layer in parallel mode and for layer 1 in cascade mode; one per layer as
        a sequence (cascade uses only the first). Default :data:`nettrim.network.DEFAULT_EPSILON` when
        ``density`` is not given either.
    density : float or sequence of float, optional
        Instead of ``epsilon``: the fraction of the model's weights to keep (biases not counted; a
        convolution has C_out·C_in·k_h·k_w weights), in (0, 1]. One number: one common relative ε is
        searched (:func:`nettrim.network.search_epsilon`), so Net-Trim still allocates the sparsity across
        layers; the result is within ``density_tol`` unless a warning says otherwise. A sequence: one target
        per layer, each layer searching its own ε (in cascade mode at or above its γ = 1 value); a layer of
        n weights is within max(``density_tol``, 1/n). ``report.attrs["search"]`` holds the trials.
    mode : {"cascade", "parallel"}
        Parallel layers are independent; cascade feeds each layer the pruned (and refitted) model's signal.
    refit : bool
        Refit the kept weights of every layer exactly to its outputs under the same constraints: the support
        and the guarantees are unchanged, the error drops (``layer_rel_error_l1`` is the error before).
    solver : {"fast", "reference", "clarabel", "ecos", "scs"}
        "fast" (the ADMM) starts from :data:`nettrim.fast.PRUNING_OPTIONS`, updated with ``solver_options``.
    max_patches : int, optional
        Largest number of columns (image × position patches) of a convolutional program; a seeded uniform
        sample is kept when there are more (:data:`nettrim.conv.DEFAULT_MAX_PATCHES` when None). Linear
        layers use every sample.
    jobs : int
        Parallel mode: solve (or search) up to ``jobs`` layers at once (joblib processes, one BLAS thread
        each). Cascade layers run in order.
    reweight : int
        Rounds of reweighted ℓ1 after the first solve (0: plain Net-Trim).
    gamma, kappa : float
        The cascade's γ ≥ 1 and κ ∈ (0, 1] (κ multiplies the last layer's ε).
    seed : int
        Seed of the position sampling (:func:`nettrim.conv.sample_positions`).
    blas_threads : int or None
        BLAS/OpenMP threads while pruning (``threadpoolctl``); None leaves them as they are. One by default:
        on a loaded 2-core machine two OpenBLAS threads made a small CNN's prune take 11× the CPU time
        (77 s against 7 s, the same iterations).
    verbose : bool or int
        1: one line per pruned layer (and per density-search trial); 2: also the layer solver's output.
    density_tol : float
        Tolerance of ``density`` (absolute).
    solver_options : dict, optional
        Options of the layer solver (an unknown name raises ``TypeError`` before any work).

    Returns
    -------
    pruned_model : torch.nn.Module
        A deep copy with exact zeros, each pruned ``weight`` under a ``torch.nn.utils.prune`` mask.
    report : pandas.DataFrame
        One row per pruned layer, columns :data:`REPORT_COLUMNS`: those of :func:`nettrim.prune_network`
        (``n_in`` = C_in·k_h·k_w for a convolution; ``rel_error`` is the pruned network's signal against the
        original on *all* calibration positions; ``layer_rel_error``, ``epsilon_rel``, ``violation`` and
        ``gap`` are the program's, on the sampled positions), then the extras. ``report.attrs`` holds
        ``settings`` (with the relative ``epsilon`` a density search found), ``search`` (the density search
        without its payloads, or None) and ``total_time`` (s).

    Warns
    -----
    nettrim.ConvergenceWarning
        A layer whose ℓ1 solve did not end "optimal" or misses its solver's certificate.
    UserWarning
        A layer pruned to all zeros; a rejected refit; a density target not reached within ``density_tol``.

    Raises
    ------
    TypeError, ValueError
        An unsupported module (named), a model in training mode or not a chain, bad calibration data
        (shape, dtype, NaN/Inf, empty), a bad argument.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    ...                       nn.Linear(4 * 3 * 3, 3)).eval()
    >>> pruned, report = prune(model, torch.randn(50, 1, 8, 8), epsilon=0.1)
    >>> list(report["type"]), bool((report["layer_rel_error"] <= report["epsilon_rel"] + 1e-4).all())
    (['Conv2d', 'Linear'], True)
    >>> # keep about half of the weights (a 144-weight model: a 5% tolerance is 7 weights)
    >>> pruned, report = prune(model, torch.randn(50, 1, 8, 8), density=0.5, density_tol=0.05, mode="parallel")
    >>> bool(abs(report["nnz_after"].sum() / report["nnz_before"].sum() - 0.5) <= 0.05)
    True
    """
    cfg = _settings(mode=mode, refit=refit, reweight=reweight, gamma=gamma, kappa=kappa, solver=solver,
                    solver_options=solver_options, jobs=jobs, verbose=verbose, density_tol=density_tol)
    if blas_threads is not None:
        blas_threads = check_scalar(blas_threads, "blas_threads", low=1, integer=True)
    from ._threads import limit_blas

    with limit_blas(blas_threads):
        return _prune(model, calibration, epsilon=epsilon, density=density, cfg=cfg, max_patches=max_patches,
                      seed=seed)


def _prune(model, calibration, *, epsilon, density, cfg: Config, max_patches, seed):
    t_start = time.perf_counter()
    batches, layers, dtype = _setup(model, calibration, max_patches, seed)
    eps_gains, densities = _targets(epsilon, density, len(layers))

    Xs, Zs = _capture(model, layers, batches, outputs=True)
    orig = _Original(model, layers, batches, Xs, {}, {})
    for L in layers:
        orig.W[L.name] = L.weights()
        _check_program(L, Xs[L.name], orig.W[L.name], Zs[L.name], dtype)
        orig.Y[L.name] = L.sigma(orig.W[L.name].T @ Xs[L.name])
    del Zs

    searches, search = [], None
    if densities is None:
        run = _scheme(orig, eps_gains, cfg, refit=cfg.refit)
        found = DEFAULT_EPSILON if epsilon is None else epsilon
    elif len(densities) == 1:
        run, s = _search_common(orig, densities[0], cfg)
        searches, search, found = [s], _light(s), s.epsilon
    else:
        run, searches = _search_per_layer(orig, densities, cfg)
        search, found = [_light(s) for s in searches], [s.epsilon for s in searches]
    _warn(layers, run, searches, cfg)

    errors = _evaluate(model, run.model, layers, batches, cfg.mode)
    rows = []
    for L in layers:
        res, p = run.results[L.name], run.programs[L.name]
        rows.append(dict(res.row, layer=L.index, rel_error=errors[L.name][0], module=L.name, type=L.kind,
                         program=L.program, positions_total=L.n_columns, positions_sampled=p.X.shape[1],
                         layer_rel_error_all=errors[L.name][1]))
    report = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    report.attrs["settings"] = dict(epsilon=found, density=density, mode=cfg.mode, refit=cfg.refit,
                                    reweight=cfg.reweight, gamma=cfg.gamma, kappa=cfg.kappa, solver=cfg.solver,
                                    solver_options=cfg.options, max_patches=max_patches, seed=seed,
                                    calibration_samples=int(sum(t.shape[0] for t in batches)))
    report.attrs["search"] = search
    report.attrs["total_time"] = time.perf_counter() - t_start
    return run.model, report
