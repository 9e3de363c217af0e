"""Run independent experiment cells in parallel, write their rows as they finish, resume after a kill.

A *cell* is a unit of work with a unique string id (e.g. ``"N=100,s=10,P=40,trial=3"``) and a pure
function that returns a list of row dicts. :func:`run_cells`

* skips cells whose rows are already complete in the output CSV (resume),
* runs the rest with joblib (one BLAS thread per worker), locally or on a Dask cluster,
* appends each finished cell's rows to the CSV in one write and flushes, so a run killed at any
  moment loses at most the cells in flight (a cell that brings new columns triggers one atomic
  rewrite of the file with the union of the columns),
* on start, repairs a file cut by a kill: drops a trailing partial line and any cell whose rows are
  incomplete (each row carries ``cell`` and ``cell_rows``), so every cell ends up exactly once.

A cell that returns no rows leaves no trace and runs again on the next call. A cell that raises stops
the run with the cell's id in the message; the cells finished before it are kept.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["Cell", "run_cells", "read_results", "Progress"]


@dataclass(frozen=True)
class Cell:
    """One unit of work: ``func(*args)`` returns a list of row dicts (plain scalars)."""

    id: str
    func: Callable
    args: tuple = ()


def _run_one(cell: Cell) -> tuple[str, list[dict]]:
    from threadpoolctl import threadpool_limits

    # One BLAS thread per worker: on these 2-core machines a second thread made the solvers 3-6x slower.
    with threadpool_limits(limits=1):
        try:
            rows = cell.func(*cell.args)
        except Exception as exc:  # name the cell: a bare traceback from a worker does not say which one
            raise RuntimeError(f"cell {cell.id!r} failed: {type(exc).__name__}: {exc}") from exc
    return cell.id, list(rows)


def read_results(path: str | os.PathLike) -> pd.DataFrame:
    """Read a results CSV written by :func:`run_cells`, keeping complete cells only."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame()
    text = path.read_text()
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # a kill mid-write leaves a partial last line
    if text.count("\n") <= 1:
        return pd.DataFrame()
    # ids such as "7" must stay strings, or they would not match the cell ids on resume
    df = pd.read_csv(io.StringIO(text), on_bad_lines="skip", dtype={"cell": str})
    if "cell" not in df.columns or "cell_rows" not in df.columns:
        return df
    counts = df.groupby("cell")["cell"].transform("size")
    return df[counts == df["cell_rows"]].reset_index(drop=True)


def _repair(path: Path) -> pd.DataFrame:
    """Rewrite ``path`` keeping complete cells only (atomic replace); return them."""
    df = read_results(path)
    if path.exists():
        tmp = path.with_suffix(path.suffix + ".tmp")
        if len(df):
            df.to_csv(tmp, index=False)
            os.replace(tmp, path)
        else:
            path.unlink()
    return df


class Progress:
    """A minimal progress line on stderr: done/total, rate and ETA (no dependency)."""

    def __init__(self, total: int, label: str, enabled: bool = True, min_interval: float = 0.5):
        self.total, self.label, self.enabled = total, label, enabled and total > 0
        self.done, self.t0, self.last, self.min_interval = 0, time.perf_counter(), 0.0, min_interval
        self.tty = sys.stderr.isatty()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self.last >= (self.min_interval if self.tty else 10.0) or self.done == self.total):
            self.last = now
            el = now - self.t0
            eta = el / self.done * (self.total - self.done) if self.done else float("nan")
            end = "\r" if (self.tty and self.done < self.total) else "\n"
            print(f"[{self.label}] {self.done}/{self.total} cells ({100 * self.done / self.total:5.1f}%) "
                  f"{el:7.1f}s elapsed, eta {eta:6.1f}s", end=end, file=sys.stderr, flush=True)


def run_cells(cells: Sequence[Cell] | Iterable[Cell], out_csv: str | os.PathLike, *, jobs: int = 1,
              dask_address: str | None = None, label: str = "cells", progress: bool = True) -> pd.DataFrame:
    """Run every cell not yet in ``out_csv`` and return the full table (old and new rows).

    Parameters
    ----------
    cells : sequence of Cell
        Cell ids must be unique.
    out_csv : path
        Results file; rows get two extra columns, ``cell`` and ``cell_rows``.
    jobs : int
        joblib workers (processes); 1 runs in this process.
    dask_address : str, optional
        Scheduler address of a Dask cluster; cells then run through joblib's ``"dask"`` backend
        (``jobs`` is then ignored: the cluster's workers set the parallelism).
    label : str
        Name shown on the progress line.
    progress : bool
        Show the progress line on stderr.

    Returns
    -------
    pandas.DataFrame
        Every complete cell in ``out_csv``, including cells of earlier runs that ``cells`` does not list.
    """
    from joblib import Parallel, delayed, parallel_config

    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    cells = list(cells)
    if any(not isinstance(c, Cell) or not isinstance(c.id, str) for c in cells):
        raise TypeError("cells must be Cell objects with string ids")
    ids = [c.id for c in cells]
    if len(set(ids)) != len(ids):
        raise ValueError("cell ids must be unique")
    done_df = _repair(out)
    done = set(done_df["cell"].astype(str)) if len(done_df) and "cell" in done_df.columns else set()
    todo = [c for c in cells if c.id not in done]
    bar = Progress(len(todo), label, enabled=progress)
    if todo:
        print(f"[{label}] {len(done)} cells already in {out}, {len(todo)} to run", file=sys.stderr)
    columns = list(done_df.columns) if len(done_df) else None
    last_sync = time.monotonic()

    def write(cell_id: str, rows: list[dict]) -> None:
        nonlocal columns, last_sync
        frame = pd.DataFrame(rows)
        frame["cell"] = cell_id
        frame["cell_rows"] = len(rows)
        if columns is not None and not set(frame.columns) <= set(columns):
            # a cell brought new columns: rewrite the file once with the union header (atomic replace)
            columns = columns + [c for c in frame.columns if c not in columns]
            old = read_results(out).reindex(columns=columns)
            tmp = out.with_suffix(out.suffix + ".tmp")
            old.to_csv(tmp, index=False)
            os.replace(tmp, out)
        header = columns is None
        if header:
            columns = list(frame.columns)
        text = frame.reindex(columns=columns).to_csv(index=False, header=header)
        with open(out, "a") as fh:  # one write per cell: a kill cuts at most this cell, which is dropped later
            fh.write(text)
            fh.flush()
            # flush() already survives a killed process; fsync (survives an OS crash) at most once a second
            # because thousands of fsyncs would cost more than the cells themselves
            if time.monotonic() - last_sync > 1.0:
                os.fsync(fh.fileno())
                last_sync = time.monotonic()

    if todo:
        if dask_address:
            from dask.distributed import Client

            client = Client(dask_address)
            ctx = parallel_config(backend="dask")
        else:
            client = None
            ctx = parallel_config(backend="loky", n_jobs=jobs) if jobs != 1 else contextlib.nullcontext()
        try:
            with ctx:
                if jobs == 1 and not dask_address:
                    results = map(_run_one, todo)
                else:
                    results = Parallel(n_jobs=jobs if not dask_address else -1, return_as="generator_unordered")(
                        delayed(_run_one)(c) for c in todo)
                for cell_id, rows in results:
                    if rows:
                        write(cell_id, rows)
                    bar.update()
        finally:
            if client is not None:
                client.close()
    return read_results(out)
