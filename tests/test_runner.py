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


# ---------------------------------------------------------------------------------------------- damage
def _rows_text(path: Path) -> str:
    return path.read_text()


@pytest.mark.parametrize("damage", ["nul-middle", "nul-tail", "torn-row", "glued", "bad-utf8", "dup-cell",
                                    "second-header", "mixed-claims"])
def test_repair_survives_any_torn_write(tmp_path, damage):
    out = tmp_path / "r.csv"
    run_cells(_cells(5), out, progress=False)
    lines = out.read_bytes().splitlines(keepends=True)   # header + 2 rows per cell
    header, body = lines[0], lines[1:]
    if damage == "nul-middle":      # a crash left zeros where cell 2's rows should be, later cells follow
        data = header + b"".join(body[:4]) + b"\0" * 57 + b"".join(body[6:])
        lost = {"cell 2"}
    elif damage == "nul-tail":      # zeros after a torn half row
        data = header + b"".join(body[:9]) + body[9][:10] + b"\0" * 100
        lost = {"cell 4"}
    elif damage == "torn-row":      # a row cut mid-line and the next write glued to it: both cells lose a row
        data = header + b"".join(body[:5]) + body[5][:7] + b"".join(body[6:])
        lost = {"cell 2", "cell 3"}
    elif damage == "glued":         # the fragment of a row glued to a complete row: a row with too many fields
        data = header + b"".join(body[:4]) + body[4][:-1] + b"," + b"".join(body[5:])
        lost = {"cell 2"}
    elif damage == "bad-utf8":
        data = header + b"".join(body[:2]) + b"\xff\xfe" + body[2] + b"".join(body[3:])
        lost = {"cell 1"}
    elif damage == "dup-cell":      # two runs both wrote cell 3: 4 rows claim 2
        data = header + b"".join(body) + body[6] + body[7]
        lost = {"cell 3"}
    elif damage == "second-header":  # a second run wrote its own header into the file
        data = header + b"".join(body[:4]) + header + b"".join(body[4:])
        lost = set()
    else:                           # a row whose cell_rows was cut from 2 to nothing
        data = header + b"".join(body[:3]) + body[3].rsplit(b",", 1)[0] + b",\n" + b"".join(body[4:])
        lost = {"cell 1"}
    out.write_bytes(data)
    kept = set(read_results(out)["cell"])
    assert kept == {f"cell {i}" for i in range(5)} - lost
    # a rerun repairs the file (atomically) and runs exactly the lost cells again
    calls = []
    df = run_cells([Cell(f"cell {i}", lambda i: calls.append(i) or square_rows(i), (i,)) for i in range(5)], out,
                   progress=False)
    assert sorted(calls) == sorted(int(c.split()[1]) for c in lost)
    _check_exactly_once(df, 5)
    raw = pd.read_csv(out, dtype={"cell": str})   # the file itself is clean: a plain reader sees every cell once
    assert len(raw) == 10 and not raw.duplicated(["i", "j"]).any() and b"\0" not in out.read_bytes()


def test_a_file_that_is_not_a_results_file_is_moved_aside_not_deleted(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("a,b\n1,2\n")
    _check_exactly_once(run_cells(_cells(2), out, progress=False), 2)
    aside = list(tmp_path.glob("r.csv.unreadable-*"))
    assert len(aside) == 1 and aside[0].read_text() == "a,b\n1,2\n"


def test_newlines_in_values_stay_on_one_line(tmp_path):
    out = tmp_path / "r.csv"
    run_cells([Cell("x", lambda: [dict(msg="two\nlines\r\nhere", v=1)], ())], out, progress=False)
    assert out.read_text().count("\n") == 2
    assert read_results(out)["msg"].iloc[0] == "two lines  here"


# ---------------------------------------------------------------------------------------------- lock
HOLD_SCRIPT = textwrap.dedent("""
    import sys, time
    from nettrim.experiments.runner import lock_folder

    with lock_folder(sys.argv[1], command="holder-command --out x"):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def _start_holder(tmp_path, seconds):
    script = tmp_path / "hold.py"
    script.write_text(HOLD_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "out"), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_is_refused_with_the_holder_named(tmp_path):
    from nettrim.experiments.runner import LockHeld

    proc = _start_holder(tmp_path, 60)
    try:
        with pytest.raises(LockHeld) as info:
            run_cells(_cells(2), tmp_path / "out" / "r.csv", progress=False)
        text = str(info.value)
        assert f"pid {proc.pid}" in text and "holder-command --out x" in text and "started" in text
        assert not (tmp_path / "out" / "r.csv").exists()       # nothing was written
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_holder_releases_the_lock_and_its_record_is_taken_over(tmp_path):
    from nettrim.experiments.runner import LOCK_NAME

    proc = _start_holder(tmp_path, 60)
    proc.kill()                       # SIGKILL: no cleanup runs, the record stays in the file
    proc.wait()
    assert str(proc.pid) in (tmp_path / "out" / LOCK_NAME).read_text()
    _check_exactly_once(run_cells(_cells(3), tmp_path / "out" / "r.csv", progress=False), 3)


def test_wait_waits_for_the_holder(tmp_path):
    proc = _start_holder(tmp_path, 1.5)
    t0 = time.monotonic()
    df = run_cells(_cells(2), tmp_path / "out" / "r.csv", progress=False, wait=True)
    assert time.monotonic() - t0 >= 0.5 and proc.wait(timeout=30) == 0
    _check_exactly_once(df, 2)


def test_lock_is_reentrant_in_one_process(tmp_path):
    from nettrim.experiments.runner import lock_folder

    with lock_folder(tmp_path):
        with lock_folder(tmp_path):
            run_cells(_cells(1), tmp_path / "r.csv", progress=False)
        run_cells(_cells(2), tmp_path / "r.csv", progress=False)


# ---------------------------------------------------------------------------------------------- paths
def make_readonly(path: Path):
    """Make ``path`` unwritable even for root (immutable attribute), else by permissions; return an undo."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("running as root without chattr support: cannot make a path read-only")
        return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)
    mode = path.stat().st_mode
    path.chmod(0o555 if path.is_dir() else 0o444)
    return lambda: path.chmod(mode)


def test_immutable_results_file_is_a_clear_error(tmp_path):
    from nettrim.experiments.runner import RunnerError

    out = tmp_path / "r.csv"
    run_cells(_cells(1), out, progress=False)
    undo = make_readonly(out)
    try:
        with pytest.raises(RunnerError, match="cannot write the results file .*r.csv"):
            run_cells(_cells(2), out, progress=False)
    finally:
        undo()


def test_readonly_folder_is_a_clear_error(tmp_path):
    from nettrim.experiments.runner import RunnerError

    folder = tmp_path / "ro"
    folder.mkdir()
    undo = make_readonly(folder)
    try:
        with pytest.raises(RunnerError, match="cannot write in the results folder"):
            run_cells(_cells(1), folder / "r.csv", progress=False)
        with pytest.raises(RunnerError, match="cannot create the results folder"):
            run_cells(_cells(1), folder / "sub" / "r.csv", progress=False)
    finally:
        undo()


def test_unreachable_dask_scheduler_is_a_clear_error(tmp_path):
    from nettrim.experiments.runner import RunnerError

    pytest.importorskip("distributed")
    t0 = time.monotonic()
    with pytest.raises(RunnerError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        run_cells(_cells(1), tmp_path / "r.csv", dask_address="tcp://127.0.0.1:9", dask_timeout=2, progress=False)
    assert time.monotonic() - t0 < 30


# ---------------------------------------------------------------------------------------------- CLI
TOY_EXPERIMENT = textwrap.dedent('''
    """A toy experiment for the command-line tests."""
    import os
    import time
    from nettrim.experiments.runner import Cell, run_cells

    HELP = "toy"

    def add_arguments(parser):
        parser.add_argument("--cells", type=int, default=6)
        parser.add_argument("--gate", default=None, help="cells after the first wait until this file exists")

    def slow(i, gate):
        t0 = time.monotonic()
        while gate and i > 0 and not os.path.exists(gate) and time.monotonic() - t0 < 120:
            time.sleep(0.02)
        return [dict(i=i, j=j, value=i * i + j) for j in range(2)]

    def run(args):
        cells = [Cell(f"cell {i}", slow, (i, args.gate)) for i in range(args.cells)]
        df = run_cells(cells, args.out / "toy.csv", jobs=args.jobs, dask_address=args.dask, progress=False)
        args.figures.mkdir(parents=True, exist_ok=True)
        (args.figures / "toy.md").write_text(f"{df['cell'].nunique()} cells")
        print(f"SUMMARY cells={df['cell'].nunique()} rows={len(df)}", flush=True)
''')

CLI = ("import sys; from nettrim.experiments import __main__ as m; m.EXPERIMENTS['toy'] = 'toy_experiment'; "
       "sys.exit(m.main(sys.argv[1:]))")


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy experiment, registered for in-process (``main``) and subprocess runs; returns the env."""
    from nettrim.experiments import __main__ as cli

    mod_dir = tmp_path / "toy_module"
    mod_dir.mkdir()
    (mod_dir / "toy_experiment.py").write_text(TOY_EXPERIMENT)
    monkeypatch.syspath_prepend(str(mod_dir))
    monkeypatch.setitem(cli.EXPERIMENTS, "toy", "toy_experiment")
    env = dict(os.environ, PYTHONPATH=str(mod_dir) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return env


def _cli(env, *args, cwd=None):
    return subprocess.Popen([sys.executable, "-c", CLI, *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("wait", [False, True])
def test_concurrent_runs_on_one_out(tmp_path, toy, wait, capsys):
    out, gate = tmp_path / "out", tmp_path / "gate"
    first = _cli(toy, "toy", "--out", str(out), "--cells", "12", "--gate", str(gate))
    deadline = time.monotonic() + 60
    while not (out / "toy.csv").exists():        # the first run holds the lock, wrote cell 0, waits at the gate
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.02)
    if wait:
        second = _cli(toy, "toy", "--out", str(out), "--cells", "12", "--wait")
        line = second.stderr.readline()          # the second run says whom it waits for, then blocks
        assert f"waiting for pid {first.pid}" in line, line
        gate.touch()
        o2, e2 = second.communicate(timeout=120)
        assert second.returncode == 0
        assert "SUMMARY cells=12 rows=24" in o2  # it ran after the first: complete data, nothing rerun
        assert "to run" not in e2
    else:
        assert _main("toy", "--out", str(out), "--cells", "12") == 2   # refused while the first is mid-run
        o2, e2 = capsys.readouterr()
        gate.touch()
        assert "SUMMARY" not in o2 and "Traceback" not in e2
        assert f"in use by pid {first.pid}" in e2 and "toy --out" in e2 and "started" in e2 and "--wait" in e2
    o1, _ = first.communicate(timeout=120)
    assert first.returncode == 0 and "SUMMARY cells=12 rows=24" in o1
    _check_exactly_once(read_results(out / "toy.csv"), 12)
    raw = pd.read_csv(out / "toy.csv", dtype={"cell": str})
    assert len(raw) == 24 and not raw.duplicated(["i", "j"]).any()


def test_every_file_goes_under_out_and_committed_figures_only_on_request(tmp_path, toy, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for quick in ([], ["--quick"]):
        assert _main("toy", "--out", str(tmp_path / "out"), *quick) == 0
    assert (tmp_path / "out" / "figures" / "toy.md").exists()
    assert list(cwd.iterdir()) == []                                  # nothing written where it ran
    assert _main("toy", "--out", str(tmp_path / "out"), "--figures", "figures") == 0
    assert (cwd / "figures" / "toy.md").exists()


def _main(*args):
    from nettrim.experiments.__main__ import main

    return main(list(args))


def test_out_is_a_file(tmp_path, toy, capsys):
    (tmp_path / "f").write_text("x")
    with pytest.raises(SystemExit) as info:
        _main("toy", "--out", str(tmp_path / "f"))
    assert info.value.code == 2 and "is a file, not a folder" in capsys.readouterr().err
    assert _main("toy", "--out", str(tmp_path / "f" / "sub")) == 2
    assert "cannot create the results folder" in capsys.readouterr().err


def test_unusable_paths_give_one_line_messages(tmp_path, toy, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    undo = make_readonly(ro)
    try:
        assert _main("toy", "--out", str(ro)) == 2
        err = capsys.readouterr().err
        assert "cannot write in the results folder" in err and "Traceback" not in err
    finally:
        undo()
    out = tmp_path / "out"
    assert _main("toy", "--out", str(out), "--cells", "1") == 0
    undo = make_readonly(out / "toy.csv")
    try:
        assert _main("toy", "--out", str(out), "--cells", "3") == 2
        assert "cannot write the results file" in capsys.readouterr().err
    finally:
        undo()
    figs = tmp_path / "figs"
    figs.mkdir()
    undo = make_readonly(figs)
    try:
        assert _main("toy", "--out", str(out), "--figures", str(figs)) == 2
        assert "cannot write in --figures" in capsys.readouterr().err
    finally:
        undo()


def test_unreachable_dask_address_from_the_command_line(tmp_path, toy, capsys, monkeypatch):
    from nettrim.experiments import runner

    pytest.importorskip("distributed")
    monkeypatch.setattr(runner, "DASK_CONNECT_TIMEOUT", 2.0)
    monkeypatch.setattr(runner.run_cells, "__kwdefaults__", dict(runner.run_cells.__kwdefaults__, dask_timeout=2.0))
    assert _main("toy", "--out", str(tmp_path / "out"), "--dask", "tcp://127.0.0.1:9") == 2
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler" in err and "Traceback" not in err
