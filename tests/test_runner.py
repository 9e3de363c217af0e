"""The cell runner: rows written as cells finish, exactly-once resume after a kill, Dask backend."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from nettrim.experiments.runner import Cell, read_results, run_cells


def square_rows(i: int, n_rows: int = 2) -> list[dict]:
    """A deterministic toy cell: ``n_rows`` rows that encode the cell's input."""
    return [dict(i=i, j=j, value=i * i + j) for j in range(n_rows)]


def wide_rows(i: int) -> list[dict]:
    return [dict(i=i, j=0, value=i * i, extra=f"x{i}")]


def failing(i: int) -> list[dict]:
    raise ZeroDivisionError("boom")


def _cells(n, func=square_rows):
    return [Cell(f"cell {i}", func, (i,)) for i in range(n)]


def _check_exactly_once(df: pd.DataFrame, n: int, n_rows: int = 2):
    assert sorted(df["cell"].unique()) == sorted(f"cell {i}" for i in range(n))
    assert len(df) == n * n_rows
    assert not df.duplicated(["i", "j"]).any()
    assert (df["value"] == df["i"] ** 2 + df["j"]).all()


def test_runs_every_cell_once_and_skips_done_cells(tmp_path):
    out = tmp_path / "r.csv"
    df = run_cells(_cells(5), out, progress=False)
    _check_exactly_once(df, 5)
    first = out.read_text()
    # a second run with more cells runs only the new ones and leaves the old rows untouched
    df = run_cells(_cells(8), out, progress=False)
    _check_exactly_once(df, 8)
    assert out.read_text().startswith(first)


def test_numeric_looking_ids_resume(tmp_path):
    out = tmp_path / "r.csv"
    cells = [Cell(str(i), square_rows, (i,)) for i in range(3)]
    run_cells(cells, out, progress=False)
    calls = []
    cells2 = [Cell(str(i), lambda i: calls.append(i) or square_rows(i), (i,)) for i in range(3)]
    run_cells(cells2, out, progress=False)
    assert calls == []  # ids "0", "1", "2" were recognized as done, not re-parsed as integers


def test_repair_drops_partial_line_and_incomplete_cell(tmp_path):
    out = tmp_path / "r.csv"
    run_cells(_cells(4), out, progress=False)
    lines = out.read_text().splitlines(keepends=True)
    # a kill in the middle of the last cell's write: its second row is cut mid-line
    out.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    assert sorted(read_results(out)["cell"].unique()) == [f"cell {i}" for i in range(3)]
    # and a kill between the two rows of a cell: one complete row, but the cell is incomplete
    out.write_text("".join(lines[:-1]))
    assert "cell 3" not in set(read_results(out)["cell"])
    _check_exactly_once(run_cells(_cells(4), out, progress=False), 4)


def test_new_columns_are_merged(tmp_path):
    out = tmp_path / "r.csv"
    run_cells([Cell("a", square_rows, (1, 1))], out, progress=False)
    df = run_cells([Cell("a", square_rows, (1, 1)), Cell("b", wide_rows, (2,))], out, progress=False)
    assert set(df.columns) >= {"i", "j", "value", "extra", "cell", "cell_rows"}
    assert df.set_index("cell").loc["b", "extra"] == "x2"
    assert pd.isna(df.set_index("cell").loc["a", "extra"])


def test_failing_cell_is_named_and_finished_cells_are_kept(tmp_path):
    out = tmp_path / "r.csv"
    cells = _cells(2) + [Cell("bad one", failing, (0,))]
    with pytest.raises(RuntimeError, match="bad one.*ZeroDivisionError"):
        run_cells(cells, out, progress=False)
    assert set(read_results(out)["cell"]) == {"cell 0", "cell 1"}


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unique"):
        run_cells([Cell("a", square_rows, (1,)), Cell("a", square_rows, (2,))], tmp_path / "r.csv")
    with pytest.raises(ValueError, match="jobs"):
        run_cells(_cells(1), tmp_path / "r.csv", jobs=0)
    with pytest.raises(TypeError, match="Cell"):
        run_cells([("a", square_rows)], tmp_path / "r.csv")


def test_parallel_jobs(tmp_path):
    _check_exactly_once(run_cells(_cells(6), tmp_path / "r.csv", jobs=2, progress=False), 6)


def test_dask_backend(tmp_path, dask_address):
    df = run_cells(_cells(6), tmp_path / "r.csv", dask_address=dask_address, progress=False)
    _check_exactly_once(df, 6)


SLOW_SCRIPT = textwrap.dedent("""
    import sys, time
    from nettrim.experiments.runner import Cell, run_cells

    def slow(i):
        time.sleep(0.15)
        return [dict(i=i, j=j, value=i * i + j) for j in range(2)]

    if __name__ == "__main__":
        run_cells([Cell(f"cell {i}", slow, (i,)) for i in range(int(sys.argv[2]))], sys.argv[1],
                  jobs=2, progress=False)
""")


def _complete_cells(path: Path) -> int:
    return read_results(path)["cell"].nunique() if path.exists() else 0


def kill_after(cmd, out: Path, min_cells: int, timeout: float = 120.0, cwd=None) -> int:
    """Start ``cmd`` in its own process group, SIGKILL the whole group once ``out`` holds ``min_cells``
    complete cells; return the number of complete cells at the kill."""
    proc = subprocess.Popen(cmd, start_new_session=True, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    try:
        while _complete_cells(out) < min_cells:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() - t0 < timeout, "the run did not produce cells in time"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)   # the runner and its joblib workers
        proc.wait()
    return _complete_cells(out)


def test_killed_run_resumes_with_every_cell_exactly_once(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(SLOW_SCRIPT)
    out = tmp_path / "r.csv"
    n = 30
    at_kill = kill_after([sys.executable, str(script), str(out), str(n)], out, min_cells=4)
    assert 4 <= at_kill < n
    subprocess.run([sys.executable, str(script), str(out), str(n)], check=True, timeout=300)
    _check_exactly_once(read_results(out), n)
    # the file itself (not only the filtered view) holds every cell once
    raw = pd.read_csv(out, dtype={"cell": str})
    assert len(raw) == 2 * n and not raw.duplicated(["i", "j"]).any()
