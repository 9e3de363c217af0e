"""Run independent experiment cells in parallel, write their rows as they finish, resume after a kill.

A *cell* is a unit of work with a unique string id (e.g. ``"N=100,s=10,P=40,trial=3"``) and a pure
function that returns a list of row dicts. :func:`run_cells`

* holds an exclusive lock on the folder of the output CSV for the whole run (:func:`lock_folder`): a second
  run on the same folder is refused with a message naming the first (or waits for it), so two runs never
  write the same file;
* skips cells whose rows are already complete in the output CSV (resume),
* runs the rest with joblib (one BLAS thread per worker), locally or on a Dask cluster,
* appends each finished cell's rows to the CSV in one write and flushes, so a run killed at any
  moment loses at most the cells in flight (a cell that brings new columns triggers one atomic
  rewrite of the file with the union of the columns),
* on start, repairs a file damaged by a kill or a crash (:func:`read_results`): NUL bytes, a torn last line,
  rows with missing fields and every cell whose rows are incomplete are dropped and the file is rewritten
  atomically, so every cell ends up exactly once.

A cell that returns no rows leaves no trace and runs again on the next call. A cell that raises stops
the run with the cell's id in the message; the cells finished before it are kept. Problems a user can fix
(an unusable path, a run already holding the folder, an unreachable Dask scheduler) raise
:class:`RunnerError` with a message that says what to do.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "DASK_CONNECT_TIMEOUT",
    "Cell",
    "LockHeld",
    "Progress",
    "RunnerError",
    "lock_folder",
    "read_results",
    "run_cells",
]

#: seconds to wait for a Dask scheduler before giving up with a clear message (a typo in the address
#: would otherwise leave the run retrying for Dask's default 30 s, or hang on an unroutable host)
DASK_CONNECT_TIMEOUT = 10.0

#: the lock file :func:`lock_folder` holds in a results folder
LOCK_NAME = ".nettrim-run.lock"


class RunnerError(RuntimeError):
    """A problem with the run's set-up that the user can fix; the message says what and where."""


class LockHeld(RunnerError):
    """Another run holds the results folder."""


@dataclass(frozen=True)
class Cell:
    """One unit of work: ``func(*args)`` returns a list of row dicts (plain scalars)."""

    id: str
    func: Callable
    args: tuple = ()


def _run_one(cell: Cell) -> tuple[str, list[dict]]:
    from nettrim._threads import limit_blas

    # One BLAS thread per worker: on these 2-core machines a second thread made the solvers 3-6x slower.
    with limit_blas(1):
        try:
            rows = cell.func(*cell.args)
        except Exception as exc:  # name the cell: a bare traceback from a worker does not say which one
            raise RuntimeError(f"cell {cell.id!r} failed: {type(exc).__name__}: {exc}") from exc
    return cell.id, list(rows)


# ---------------------------------------------------------------------------------------------- lock
_HELD: dict[str, list] = {}  # lock file -> [open file, depth]: the lock is re-entrant within a process


def _describe(holder: dict) -> str:
    if not holder:
        return "another run (no details recorded)"
    return (f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}: "
            f"{holder.get('command')}")


def _make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise RunnerError(f"{folder} is a file, not a folder: give a folder for the results (--out)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunnerError(f"cannot create the results folder {folder}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def lock_folder(folder: str | os.PathLike, *, wait: bool = False, command: str | None = None):
    """Hold an exclusive lock on a results folder for the duration of the ``with`` block.

    The lock is ``fcntl.flock`` on ``folder/.nettrim-run.lock``: the kernel releases it when the holding
    process ends, however it ends (a killed run never leaves a stale lock; its record in the file is
    simply overwritten by the next run). The holder writes its pid, host, command and start time into the
    file, so that a refused run can say who holds the folder. Re-entrant within one process.

    Parameters
    ----------
    folder : path
        Created if missing.
    wait : bool
        Wait for the holder to finish instead of raising :class:`LockHeld`.
    command : str, optional
        What to record as the command (default: this process's command line).

    Raises
    ------
    LockHeld
        Another process holds the folder and ``wait`` is False.
    RunnerError
        The folder cannot be created or written.
    """
    folder = Path(folder)
    _make_folder(folder)
    path = folder / LOCK_NAME
    key = os.path.realpath(path)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    try:
        fh = open(path, "a+")
    except OSError as exc:
        raise RunnerError(f"cannot write in the results folder {folder}: {exc.strerror or exc} "
                          "(choose a writable folder with --out)") from None
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fh)
            if not wait:
                raise LockHeld(f"the results folder {folder} is in use by {_describe(holder)}. Wait for it to "
                               "finish (or add --wait), or use another --out") from None
            print(f"waiting for {_describe(holder)} to release {folder} ...", file=sys.stderr, flush=True)
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        record = dict(pid=os.getpid(), host=socket.gethostname(),
                      command=command if command is not None else " ".join([sys.executable] + sys.argv),
                      started=time.strftime("%Y-%m-%d %H:%M:%S %z"))
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(record) + "\n")
            fh.flush()
        except OSError:
            pass  # the record is informative only; the lock itself is what counts
        _HELD[key] = [fh, 1]
        try:
            yield
        finally:
            del _HELD[key]
            with contextlib.suppress(OSError):
                fh.seek(0)
                fh.truncate()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()


def _read_holder(fh) -> dict:
    try:
        fh.seek(0)
        return json.loads(fh.read() or "{}")
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------------------------------------- CSV
def _clean_lines(data: bytes) -> tuple[list[str], bool]:
    """Split raw file bytes into whole, decodable lines; NUL bytes (what a crash can leave where data
    never reached the disk) separate lines like newlines, so nothing on either side is glued together.
    Returns the lines and whether anything was dropped."""
    dropped = False
    if b"\0" in data:
        data = data.replace(b"\0", b"\n")
        dropped = True
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]  # a kill mid-write leaves a partial last line
        dropped = True
    lines = []
    for raw in data.split(b"\n")[:-1]:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:  # a torn multi-byte character: the line is damaged
            dropped = True
            continue
        if line.strip():
            lines.append(line)
    return lines, dropped


def _parse(path: Path) -> tuple[pd.DataFrame, str]:
    """The complete cells of ``path`` and the state of the file: "ok" (nothing else in it), "damaged"
    (something to drop) or "foreign" (no runner header: not ours, or its header was torn)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return pd.DataFrame(), "ok"
    except OSError as exc:
        raise RunnerError(f"cannot read the results file {path}: {exc.strerror or exc}") from None
    lines, dropped = _clean_lines(data)
    if not lines:
        return pd.DataFrame(), "damaged" if data else "ok"
    header = next(csv.reader([lines[0]]))
    if "cell" not in header or "cell_rows" not in header or len(set(header)) != len(header):
        return pd.DataFrame(), "foreign"
    n = len(header)
    kept = [lines[0]]
    for line in lines[1:]:
        fields = next(csv.reader([line]), [])
        if len(fields) == n and fields != header:
            kept.append(line)
        else:
            dropped = True  # a torn row (missing fields), a row glued to a fragment, a second header
    # ids such as "7" must stay strings, or they would not match the cell ids on resume
    df = pd.read_csv(io.StringIO("\n".join(kept) + "\n"), dtype={"cell": str})
    if len(df):
        claimed = pd.to_numeric(df["cell_rows"], errors="coerce")
        ok = claimed == df.groupby("cell")["cell"].transform("size")
        complete = ok.groupby(df["cell"]).transform("all")  # every row of the cell there, exactly once
        if not complete.all():
            dropped = True
            df = df[complete].reset_index(drop=True)
    return df, "damaged" if dropped else "ok"


def read_results(path: str | os.PathLike) -> pd.DataFrame:
    """Read a results CSV written by :func:`run_cells`, keeping complete cells only.

    Robust to any damage a kill or a crash can do to an append-only file: NUL bytes, a torn last line,
    undecodable bytes and rows with missing fields are dropped, then every cell whose rows are not all
    there exactly once (each row carries ``cell`` and ``cell_rows``).
    """
    return _parse(Path(path))[0]


def _atomic_write(path: Path, df: pd.DataFrame) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with open(tmp, "w", newline="") as fh:
            df.to_csv(fh, index=False, lineterminator="\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise RunnerError(f"cannot rewrite the results file {path}: {exc.strerror or exc}") from None


def _repair(path: Path) -> pd.DataFrame:
    """Rewrite ``path`` keeping complete cells only (atomic replace) if it holds anything else; return them.
    A file without a runner header is moved aside (``NAME.unreadable-TIME``), never deleted."""
    df, state = _parse(path)
    if state == "foreign":
        aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(path, aside)
        except OSError as exc:
            raise RunnerError(f"{path} is not a results file of this runner and cannot be moved aside: "
                              f"{exc.strerror or exc}") from None
        print(f"[runner] {path} has no readable results header (torn, or not a results file); moved to "
              f"{aside.name}, starting afresh", file=sys.stderr)
    elif state == "damaged":
        print(f"[runner] {path}: dropped damaged or incomplete rows (a killed or concurrent run); "
              f"{df['cell'].nunique() if len(df) else 0} complete cells kept", file=sys.stderr)
        if len(df):
            _atomic_write(path, df)
        else:
            path.unlink()
    return df


def _check_writable(path: Path) -> None:
    if path.exists() and not path.is_file():
        raise RunnerError(f"the results file {path} exists and is not a file")
    if path.exists():
        try:
            with open(path, "ab"):
                pass
        except OSError as exc:
            raise RunnerError(f"cannot write the results file {path}: {exc.strerror or exc} (is it read-only "
                              "or immutable? fix its permissions, or use another --out)") from None


def _one_line(value):
    # one CSV record per line, always: the repair works line by line
    return value.replace("\r", " ").replace("\n", " ") if isinstance(value, str) else value


# ---------------------------------------------------------------------------------------------- progress
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


# ---------------------------------------------------------------------------------------------- run
def _dask_client(address: str, timeout: float):
    try:
        from dask.distributed import Client
    except ImportError:
        raise RunnerError("--dask needs dask.distributed: pip install 'dask[distributed]'") from None
    try:
        return Client(address, timeout=timeout)
    except Exception as exc:  # OSError, TimeoutError, ValueError for a malformed address, ...
        raise RunnerError(f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s "
                          f"({type(exc).__name__}: {exc}). Check the address (e.g. tcp://host:8786) and "
                          "that the scheduler is running") from None


def run_cells(cells: Sequence[Cell] | Iterable[Cell], out_csv: str | os.PathLike, *, jobs: int = 1,
              dask_address: str | None = None, label: str = "cells", progress: bool = True,
              wait: bool = False, dask_timeout: float = DASK_CONNECT_TIMEOUT) -> pd.DataFrame:
    """Run every cell not yet in ``out_csv`` and return the full table (old and new rows).

    Parameters
    ----------
    cells : sequence of Cell
        Cell ids must be unique.
    out_csv : path
        Results file; rows get two extra columns, ``cell`` and ``cell_rows``. Its folder is locked for the
        run (:func:`lock_folder`).
    jobs : int
        joblib workers (processes); 1 runs in this process.
    dask_address : str, optional
        Scheduler address of a Dask cluster; cells then run through joblib's ``"dask"`` backend
        (``jobs`` is then ignored: the cluster's workers set the parallelism).
    label : str
        Name shown on the progress line.
    progress : bool
        Show the progress line on stderr.
    wait : bool
        If another run holds the folder, wait for it instead of raising :class:`LockHeld`.
    dask_timeout : float
        Seconds to wait for the Dask scheduler.

    Returns
    -------
    pandas.DataFrame
        Every complete cell in ``out_csv``, including cells of earlier runs that ``cells`` does not list.

    Raises
    ------
    LockHeld, RunnerError
        Another run holds the folder; an unusable path; an unreachable Dask scheduler.
    """
    from joblib import Parallel, delayed, parallel_config

    out = Path(out_csv)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    cells = list(cells)
    if any(not isinstance(c, Cell) or not isinstance(c.id, str) for c in cells):
        raise TypeError("cells must be Cell objects with string ids")
    ids = [c.id for c in cells]
    if len(set(ids)) != len(ids):
        raise ValueError("cell ids must be unique")
    with lock_folder(out.parent, wait=wait):
        _check_writable(out)
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
            frame = pd.DataFrame([{k: _one_line(v) for k, v in r.items()} for r in rows])
            frame["cell"] = cell_id
            frame["cell_rows"] = len(rows)
            if columns is not None and not set(frame.columns) <= set(columns):
                # a cell brought new columns: rewrite the file once with the union header (atomic replace)
                columns = columns + [c for c in frame.columns if c not in columns]
                _atomic_write(out, read_results(out).reindex(columns=columns))
            header = columns is None
            if header:
                columns = list(frame.columns)
            text = frame.reindex(columns=columns).to_csv(index=False, header=header, lineterminator="\n")
            try:
                with open(out, "a") as fh:  # one write per cell: a kill cuts at most this cell, dropped later
                    fh.write(text)
                    fh.flush()
                    # flush() already survives a killed process; fsync (survives an OS crash) at most once a
                    # second because thousands of fsyncs would cost more than the cells themselves
                    if time.monotonic() - last_sync > 1.0:
                        os.fsync(fh.fileno())
                        last_sync = time.monotonic()
            except OSError as exc:
                raise RunnerError(f"cannot write the results file {out}: {exc.strerror or exc}") from None

        if todo:
            client = _dask_client(dask_address, dask_timeout) if dask_address else None
            if client is not None:
                ctx = parallel_config(backend="dask")
            else:
                ctx = parallel_config(backend="loky", n_jobs=jobs) if jobs != 1 else contextlib.nullcontext()
            try:
                with ctx:
                    if jobs == 1 and not dask_address:
                        results = map(_run_one, todo)
                    else:
                        results = Parallel(n_jobs=jobs if not dask_address else -1,
                                           return_as="generator_unordered")(delayed(_run_one)(c) for c in todo)
                    for cell_id, rows in results:
                        if rows:
                            write(cell_id, rows)
                        bar.update()
            finally:
                if client is not None:
                    client.close()
        return read_results(out)
