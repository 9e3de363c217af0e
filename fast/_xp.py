r"""Where the ADMM iteration of :func:`nettrim.fast.solve` runs: numpy float64, or torch (CPU or CUDA) tensors.

The iteration (:class:`nettrim.fast.admm._Core`) is written once against an array namespace
(``array_api_compat``: the same functions for numpy arrays and torch tensors) and a :class:`Backend`
that says where its arrays live. Everything else stays in numpy float64 on the host, on purpose:

* validation and the shared spec (:func:`nettrim.layer_problem`): the data are converted at the
  boundary (``tensor.detach().cpu().double().numpy()``), so the checks, the violation, the duality gap and
  the infeasibility certificate are always computed in float64 from their definitions;
* the set-up (normalization, the factorization of :math:`XX^\top + I` or :math:`I + X^\top X`, the
  QR of the linear reduction) runs in float64 with scipy and is then copied to the device once;
* the polish (:mod:`nettrim.fast._polish`, small active-set solves) runs on the host in float64.

For numpy input the backend is the identity (no copy, no conversion), so the numpy path computes
exactly what it did before tensors were accepted — unless ``iteration_dtype="float32"`` asks for the
iteration in single precision (:data:`NUMPY32`): the loop's arrays are float32 copies and everything
above stays float64, the returned W included (it comes from the host copies, never rounded).
"""

from __future__ import annotations

import numpy as np
from array_api_compat import array_namespace, is_torch_array

from nettrim._validation import check_dense_tensor

__all__ = ["Backend", "NUMPY", "NUMPY32", "backend_of"]


class Backend:
    """The namespace, dtype and device of the iteration, and the conversions to and from the host."""

    def __init__(self, xp, dtype=None, device=None, torch=None):
        self.xp = xp
        self.dtype = dtype
        self.device = device
        self.torch = torch                    # the torch module for tensor input, else None
        self.single = torch is not None and dtype == torch.float32

    @property
    def is_numpy(self) -> bool:
        return self.torch is None

    def put(self, a):
        """A host float64 array (or bool mask) on the iteration's device, in its dtype (numpy float64:
        unchanged)."""
        if a is None:
            return a
        if self.is_numpy:
            if self.dtype is None or a.dtype == np.bool_:
                return a
            return np.ascontiguousarray(a, dtype=self.dtype)
        dtype = self.torch.bool if a.dtype == np.bool_ else self.dtype
        return self.torch.tensor(np.ascontiguousarray(a), dtype=dtype, device=self.device)   # a copy

    def host(self, a) -> np.ndarray:
        """An iteration array as a host float64 numpy array (numpy float64: unchanged)."""
        if self.is_numpy:
            return a if self.dtype is None else np.asarray(a, dtype=np.float64)
        return a.detach().to(device="cpu", dtype=self.torch.float64).numpy()

    def rounded(self, W: np.ndarray) -> np.ndarray:
        """W (host float64) rounded to the working precision: what :meth:`out` will return, in float64."""
        if not self.single:
            return W
        return W.astype(np.float32).astype(np.float64)

    def out(self, W: np.ndarray):
        """The answer W (host float64) as the caller's array type, device and dtype."""
        if self.is_numpy:
            return W
        return self.torch.tensor(np.ascontiguousarray(W), dtype=self.dtype, device=self.device)

    def zeros(self, shape):
        dtype = self.dtype if self.dtype is not None else np.float64
        return self.xp.zeros(shape, dtype=dtype, device=self.device)


NUMPY = Backend(array_namespace(np.zeros(0)))
#: numpy, iterating in float32 (``iteration_dtype="float32"``); W is still returned in float64
NUMPY32 = Backend(array_namespace(np.zeros(0)), dtype=np.float32)


def backend_of(arrays: dict) -> tuple[Backend, dict]:
    """The backend the arrays call for, and the arrays converted to host numpy (float64 for tensors).

    ``arrays`` maps argument names to values (None for an absent one). Without a torch tensor among them
    the numpy backend is returned and the values are passed through (validated later, as before). With
    one, every array argument must be a tensor of the same floating dtype (float32 or float64) on the
    same device; otherwise ``TypeError``/``ValueError`` naming the argument.
    """
    tensors = {k: v for k, v in arrays.items() if v is not None and is_torch_array(v)}
    if not tensors:
        return NUMPY, arrays
    import torch

    first_name, first = next(iter(tensors.items()))
    dtype, device = first.dtype, first.device
    converted = {}
    for name, value in arrays.items():
        if value is None:
            converted[name] = None
            continue
        if not is_torch_array(value):
            raise TypeError(f"{name} must be a torch tensor like {first_name} (numpy arrays and torch tensors "
                            f"cannot be mixed), got {type(value).__name__}")
        if value.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"{name} must be a float32 or float64 tensor, got {value.dtype}")
        if value.dtype != dtype:
            raise TypeError(f"{name} has dtype {value.dtype} but {first_name} has {dtype}: pass every tensor "
                            "in one dtype")
        if value.device != device:
            raise ValueError(f"{name} is on device {value.device} but {first_name} is on {device}: pass every "
                             "tensor on one device")
        check_dense_tensor(value, name)
        converted[name] = value.detach().to(device="cpu", dtype=torch.float64).numpy()
    return Backend(array_namespace(first), dtype, device, torch), converted
