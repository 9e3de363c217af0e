"""Small command-line helpers shared by the experiments: value grids like ``--s 2:40:2``."""

from __future__ import annotations

import argparse

import numpy as np

__all__ = ["parse_grid", "grid_type", "cell_seed"]


def _number(text: str, name: str, kind):
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if kind is float and not np.isfinite(value):
        raise ValueError(f"{name}: {text!r} is not finite")
    return value


def parse_grid(text: str, name: str = "value", kind=int) -> list:
    """Parse a grid of values.

    Accepted forms (and comma-separated combinations of them): a single value ``"100"``, a list
    ``"50,100,200"``, or an inclusive range ``"start:stop:step"`` (``"2:40:2"`` is 2, 4, ..., 40; ``stop``
    is included when it lies on the grid; ``"a:b"`` means step 1). Duplicates are removed and the result
    is sorted.

    Raises
    ------
    ValueError
        Naming ``name``, for empty input, non-numbers, a non-positive step or stop < start.
    """
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string such as '2:40:2', got {type(text).__name__}")
    values = []
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise ValueError(f"{name}: empty value in {text!r}; use e.g. '10', '10,20' or '2:40:2'")
    for part in parts:
        fields = part.split(":")
        if len(fields) == 1:
            values.append(_number(fields[0], name, kind))
            continue
        if len(fields) not in (2, 3):
            raise ValueError(f"{name}: {part!r} must be start:stop or start:stop:step")
        start, stop = _number(fields[0], name, kind), _number(fields[1], name, kind)
        step = _number(fields[2], name, kind) if len(fields) == 3 else kind(1)
        if step <= 0:
            raise ValueError(f"{name}: the step in {part!r} must be > 0")
        if stop < start:
            raise ValueError(f"{name}: stop < start in {part!r}")
        n = int(np.floor((stop - start) / step + 1e-9)) + 1   # stop included when on the grid
        values.extend(kind(start + i * step) for i in range(n))
    return sorted(set(values))


def grid_type(name: str, kind=int, minimum=None):
    """An argparse ``type=`` that parses a grid (:func:`parse_grid`) and checks a lower bound."""

    def convert(text: str) -> list:
        try:
            values = parse_grid(text, name, kind)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if minimum is not None and min(values) < minimum:
            raise argparse.ArgumentTypeError(f"{name}: values must be >= {minimum}, got {min(values)}")
        return values

    convert.__name__ = name  # argparse names the type in its error messages
    return convert


def cell_seed(*key: int) -> int:
    """A deterministic 32-bit seed from integer keys, e.g. ``cell_seed(base_seed, N, s, P, trial)``.

    NumPy's :class:`~numpy.random.SeedSequence` hashes the whole key, so nearby keys give unrelated
    streams, and the seed depends on nothing but the key (not on the order cells run in).
    """
    if not key or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0 for k in key):
        raise ValueError(f"seed keys must be non-negative integers, got {key!r}")
    return int(np.random.SeedSequence([int(k) for k in key]).generate_state(1, dtype=np.uint32)[0])
