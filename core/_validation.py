"""Input checks shared by every entry point (scikit-learn style: fail early, name the argument)."""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["as_float_matrix", "check_scalar", "check_scale", "SCALE_RANGE"]

#: Largest magnitudes accepted for the data of a layer or network (X, Y, V, ε, ℓ1 weights, network weights):
#: squares and products of two such numbers, and sums of up to 1e16 of them, stay inside the normal range of
#: float64 (2.2e-308 to 1.8e308), so that norms, Gram matrices and dual values neither underflow to 0 nor
#: overflow to inf. Outside it a residual can round to 0 and a wrong answer pass every check.
SCALE_RANGE = (1e-100, 1e100)


def check_dense_tensor(value, name: str) -> None:
    """Raise ``TypeError`` naming ``name`` for a sparse tensor or one on torch's meta device (no data)."""
    layout, device = getattr(value, "layout", None), getattr(getattr(value, "device", None), "type", None)
    if (layout is not None and str(layout) != "torch.strided") or device == "meta":
        raise TypeError(f"{name} must be a dense tensor with data, got layout {layout} on {device} (a sparse "
                        "tensor: call .to_dense(); a meta tensor has no data)")


def detached(value):
    """A torch tensor that records gradients as its plain values (nothing here is differentiated, and numpy
    refuses such a tensor); anything else as it is."""
    if getattr(value, "requires_grad", False) and callable(getattr(value, "detach", None)):
        return value.detach()
    return value


def as_float_matrix(value: ArrayLike, name: str, *, shape: tuple | None = None,
                    allow_empty: bool = False) -> np.ndarray:
    """Return ``value`` as a C-contiguous float64 2-D array, or raise naming ``name``.

    Accepts any real array-like (ints and bools are promoted); rejects complex, object and string
    dtypes with ``TypeError``, and non-2-D, empty, non-finite or wrongly shaped input with
    ``ValueError``. ``shape`` entries that are ``None`` are not checked.
    """
    if value is None:
        raise TypeError(f"{name} must be a 2-D array of floats, got None")
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(f"{name} is a masked array: fill or drop its masked entries first (its mask would be "
                        "ignored)")
    if hasattr(value, "tocsr") and hasattr(value, "nnz"):
        raise TypeError(f"{name} is a scipy.sparse {type(value).__name__}: pass a dense array ({name}.toarray())")
    check_dense_tensor(value, name)
    value = detached(value)
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to an array: {exc}") from None
    if arr.dtype.kind in "mM":
        raise TypeError(f"{name} must hold real numbers, got {arr.dtype} (dates or time spans)")
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got complex dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got an array with {arr.ndim} dimension(s) and shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or Inf")
    if shape is not None:
        for axis, (want, got) in enumerate(zip(shape, arr.shape, strict=True)):
            if want is not None and want != got:
                raise ValueError(f"{name} must have shape {_fmt(shape)}, got {arr.shape} (axis {axis} differs)")
    return arr


def check_scalar(value, name: str, *, low: float | None = None, high: float | None = None,
                 low_inclusive: bool = True, integer: bool = False):
    """Check that ``value`` is a finite real (or integer) scalar in the given range; return it.

    A 0-d numpy array (e.g. ``np.float64(0.1)`` after arithmetic, or ``np.array(0.1)``) or 0-d tensor counts as
    a scalar.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    elif getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        value = value.item()          # a 0-d tensor (torch, or any array library with .item())
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got a bool")
    kind = numbers.Integral if integer else numbers.Real
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a real number'}, got {type(value).__name__}")
    try:
        out = int(value) if integer else float(value)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got a number beyond the doubles (about 2**"
                         f"{int(value).bit_length()})") from None
    if not integer and not np.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (out < low or (out == low and not low_inclusive)):
        raise ValueError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {value}")
    if high is not None and out > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return out


def check_scale(arr: np.ndarray, name: str, *, small: bool = True) -> None:
    """Raise ``ValueError`` naming ``name`` when the largest magnitude of ``arr`` (a finite array or scalar)
    leaves :data:`SCALE_RANGE` (all zeros pass; with ``small=False`` only the upper end is checked)."""
    top = float(np.max(np.abs(arr))) if np.size(arr) else 0.0
    low, high = SCALE_RANGE
    if top > high or (small and 0.0 < top < low):
        what = f"{name} = {top:.3g} is" if np.ndim(arr) == 0 else f"{name} has entries of magnitude up to {top:.3g},"
        raise ValueError(f"{what} outside the supported magnitudes {low:g} to {high:g} (beyond them squares and "
                         "products leave double precision and the checks of the answer become meaningless): "
                         "rescale the data")


def _fmt(shape):
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
