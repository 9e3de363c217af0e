r"""The reference's size guard: estimate a back-end's memory before building anything.

One CVXPY statement of a layer holds the linear map :math:`U \mapsto U^\top X` as a sparse matrix with
N·M·P nonzeros, and CVXPY and the back-end keep several copies of it (canonicalization, the back-end's
own format, the KKT system of an interior-point method). A layer too large for the machine does not raise
a Python exception: the back-end's C++ ``std::bad_alloc`` aborts the interpreter (784×300, P = 500 already
does). :func:`check_memory` refuses such a program up front, in well under a second.

HiGHS (``solver="HIGHS"``, ε = 0) solves one neuron at a time with a dense P × 2N constraint block, so its
footprint grows with N·P, not N·M·P.
"""

from __future__ import annotations

import math
import numbers
import re

__all__ = ["MAX_MEMORY", "ReferenceTooLarge", "check_memory", "estimate_memory", "parse_bytes"]

#: Default limit of :func:`check_memory` (bytes): 4 GB, what one process may take on a shared 24 GiB machine
#: without endangering the others. Raise it with ``reference.solve(..., max_memory="16GB")`` (or None).
MAX_MEMORY = 4 * 10**9

# Peak resident memory per unit of N·M·P (bytes) for the CVXPY back-ends: the increase of the peak RSS over
# the RSS just before the solve (data and imports excluded), each size in a fresh process with one BLAS
# thread, measured with
#     python -m nettrim.reference.timing --sizes 20x10x500,50x10x1000,50x20x1000,200x5x1000,10x100x1000,\
#         100x20x1000,100x20x2000 --gain G --activation A      (G in {0, 0.05}, A in {relu, linear})
# on a 2-core/24 GiB Linux machine with CVXPY 1.9: N·M·P from 1e5 to 4e6, flat in N·M·P (no size term
# beyond it), nearly the same for every shape, relu and linear, ε = 0 and ε > 0. Largest measured:
# Clarabel 233, ECOS 246, SCS 342 bytes (medians 195, 199, 290); the constants round the largest up.
_BYTES_PER_NMP = {"CLARABEL": 250.0, "ECOS": 250.0, "SCS": 350.0}
# Fixed overhead of a solve (CVXPY's and the back-end's own allocations; 20 MB at N·M·P = 1e5), bytes.
_BASE_BYTES = 20 * 10**6
# HiGHS, measured the same way (--solvers HIGHS, sizes 100x20x1000, 200x50x1000, 400x50x1000): 360 to 572
# bytes per N·P (the dense P × 2N block of one neuron and its copies in scipy and HiGHS), nearly
# independent of M; 16 bytes per M·P cover the multiplier and the outputs.
_HIGHS_BYTES_PER_NP = 600.0
_HIGHS_BYTES_PER_MP = 16.0


class ReferenceTooLarge(MemoryError, ValueError):
    """The program is too large for the reference within the memory limit (raised before building it).

    A :class:`MemoryError` (what it is about) and a :class:`ValueError` (it is raised for the size of the
    input, before any work), so either ``except`` catches it.
    """


_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(value, name: str = "max_memory") -> float | None:
    """A memory size in bytes from a number or a string such as ``"8GB"``, ``"512 MiB"``; None stays None
    (no limit). GB/MB/kB are powers of 10, GiB/MiB/KiB powers of 2."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number of bytes, a string such as '8GB', or None; got a bool")
    if isinstance(value, numbers.Real):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be > 0 and finite (bytes), got {value}")
        return float(value)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a number of bytes, a string such as '8GB', or None; "
                        f"got {type(value).__name__}")
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", value)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"{name}: cannot read {value!r} as a size; use e.g. '8GB', '512MB', '16GiB' or bytes")
    size = float(match.group(1)) * _UNITS[unit]
    if not size > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return size


def estimate_memory(N: int, M: int, P: int, solver: str) -> float:
    """Estimated peak memory (bytes) of the reference with ``solver`` on an N×M layer with P samples,
    beyond the data themselves (the measured constants above)."""
    if solver == "HIGHS":
        return _BASE_BYTES + _HIGHS_BYTES_PER_NP * N * P + _HIGHS_BYTES_PER_MP * M * P
    return _BASE_BYTES + _BYTES_PER_NMP[solver] * float(N) * M * P


def _fmt(size: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size:.0f} B"


def check_memory(N: int, M: int, P: int, solver: str, max_memory) -> float:
    """Raise :class:`ReferenceTooLarge` when the estimate exceeds ``max_memory`` (bytes, a string such as
    "8GB", or None for no limit); return the estimate."""
    limit = parse_bytes(max_memory)
    estimate = estimate_memory(N, M, P, solver)
    if limit is not None and estimate > limit:
        raise ReferenceTooLarge(
            f"the reference with {solver} would need about {_fmt(estimate)} for this layer (N={N}, M={M}, P={P}: "
            f"N·M·P = {float(N) * M * P:.3g}), more than max_memory = {_fmt(limit)}. Use nettrim.fast.solve "
            "(the ADMM; memory of order N·P + M·P) for layers this size, subsample the layer, or raise the "
            "limit with max_memory='16GB' (or None) if the machine has the memory")
    return estimate
