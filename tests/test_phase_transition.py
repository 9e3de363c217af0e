"""phase-transition: grids, cell seeds, the recovery programs, the sweep, P_50 fits, resume and Dask."""

import sys

import numpy as np
import pandas as pd
import pytest

from nettrim.experiments import _cli, theory
from nettrim.experiments import phase_transition as pt
from nettrim.experiments.__main__ import main
from nettrim.experiments._stats import p50_bootstrap, probit_fit
from nettrim.experiments.runner import read_results
from test_runner import kill_after

COLUMNS = {"program", "N", "s", "P", "trial", "seed", "success", "rel_error", "n_active", "solve_time"}


# ----------------------------------------------------------------------------------------------- grids
@pytest.mark.parametrize("text,expected", [
    ("100", [100]), ("50,100,200", [50, 100, 200]), ("2:40:2", list(range(2, 41, 2))),
    ("4:10:4", [4, 8]), ("1:3", [1, 2, 3]), ("5:5:1", [5]), ("10,2:6:2,4", [2, 4, 6, 10]),
])
def test_parse_grid(text, expected):
    assert _cli.parse_grid(text, "--s") == expected


@pytest.mark.parametrize("text,match", [("", "empty"), ("2:x", "not an integer"), ("2:40:0", "step"),
                                        ("40:2:2", "stop < start"), ("1:2:3:4", "start:stop"), ("3,,4", "empty")])
def test_parse_grid_errors_name_the_option(text, match):
    with pytest.raises(ValueError, match=match) as info:
        _cli.parse_grid(text, "--P")
    assert "--P" in str(info.value)


def test_grid_option_errors_through_argparse(capsys):
    with pytest.raises(SystemExit):
        main(["phase-transition", "--s", "0:4:2", "--out", "unused"])
    assert "--s" in capsys.readouterr().err


def test_default_grid_at_N100_is_the_issue_grid():
    s, P = pt.default_grids(100, quick=False)
    assert s == list(range(2, 41, 2)) and P == list(range(4, 201, 4))
    s, P = pt.default_grids(200, quick=False)
    assert len(s) == 20 and len(P) == 50 and P[-1] == 400
    assert pt.default_trials(100, False) == 20 and pt.default_trials(200, False) == 10
    assert pt.default_trials(100, True) == 10
    # blocks of trials are shared: the 10-trial cells are a subset of the 20-trial ones (resume reuses them)
    ids10 = {c.id for c in pt.make_cells([30], [2], [8], 10, 0, pt.PROGRAMS, "highs")}
    ids20 = {c.id for c in pt.make_cells([30], [2], [8], 20, 0, pt.PROGRAMS, "highs")}
    assert ids10 < ids20


# ----------------------------------------------------------------------------------------------- seeds
def test_cell_seed_is_deterministic_and_distinct():
    keys = [(0, N, s, P, t) for N in (50, 100) for s in (2, 3) for P in (10, 11) for t in range(5)]
    seeds = [_cli.cell_seed(*k) for k in keys]
    assert seeds == [_cli.cell_seed(*k) for k in keys]           # same key, same seed, any order
    assert len(set(seeds)) == len(seeds)                          # neighbouring keys never collide here
    assert _cli.cell_seed(1, 50, 2, 10, 0) != _cli.cell_seed(0, 50, 2, 10, 0)   # --seed changes everything
    with pytest.raises(ValueError):
        _cli.cell_seed(-1, 2)


def test_instance_is_reproduced_from_its_seed():
    X1, w1 = pt.instance(30, 4, 20, 1234)
    X2, w2 = pt.instance(30, 4, 20, 1234)
    X3, _ = pt.instance(30, 4, 20, 1235)
    assert np.array_equal(X1, X2) and np.array_equal(w1, w2) and not np.array_equal(X1, X3)
    assert X1.shape == (30, 20) and np.count_nonzero(w1) == 4


def test_cells_cover_the_grid_once_and_split_trials_in_blocks():
    cells = pt.make_cells([20], [2, 3], [5, 10], trials=25, base_seed=0, programs=pt.PROGRAMS, solver="highs")
    assert len(cells) == 2 * 2 * 3                     # blocks 0-9, 10-19, 20-24
    assert len({c.id for c in cells}) == len(cells)
    rows = pt.run_cell(*cells[-1].args)
    assert sorted({r["trial"] for r in rows}) == list(range(20, 25))
    for r in rows:   # the recorded seed is the seed of (seed, N, s, P, trial)
        assert r["seed"] == _cli.cell_seed(0, r["N"], r["s"], r["P"], r["trial"])


# ----------------------------------------------------------------------------------------------- programs
def test_programs_recover_with_many_samples_and_fail_with_few():
    N, s = 30, 3
    solve = pt._solver("highs")
    X, w = pt.instance(N, s, 90, 7)
    for program in pt.PROGRAMS:
        w_hat, status, _ = pt.solve_program(program, X, w, solve)
        assert status == "optimal" and np.linalg.norm(w_hat - w) < 1e-6 * np.linalg.norm(w)
    X, w = pt.instance(N, s, 3, 7)
    for program in pt.PROGRAMS:
        w_hat, _, _ = pt.solve_program(program, X, w, solve)
        assert np.linalg.norm(w_hat - w) > 1e-3 * np.linalg.norm(w)
        assert np.abs(w_hat).sum() <= np.abs(w).sum() + 1e-9     # w* is feasible, so ‖ŵ‖₁ ≤ ‖w*‖₁


def test_bp_active_with_no_active_sample_returns_zero():
    X = np.ones((5, 2))
    w = np.array([-1.0, 0, 0, 0, 0])                 # every x_pᵀw* < 0
    w_hat, status, _ = pt.solve_program("bp_active", X, w, pt._solver("highs"))
    assert status == "optimal" and np.all(w_hat == 0)


def _sweep(tmp_path, extra, name="phase_transition.csv"):
    out = tmp_path / "out"
    main(["phase-transition", "--out", str(out), "--figures", str(tmp_path / "fig"), "--no-progress",
          "--bootstrap", "50"] + extra)
    return read_results(out / name)


def test_small_sweep_succeeds_far_above_two_delta_and_fails_far_below_delta(tmp_path):
    N, s = 40, 3
    d = theory.delta_mc(s, N)
    w_nt = theory.theory(s, N)["width_nettrim"]
    # below: P = s − 1 < δ/4. A vertex of each LP has at most P nonzeros, so recovering s > P nonzeros
    # is impossible. above: 2δ plus 4 widths of the predicted mixture.
    below, above = s - 1, int(np.ceil(2 * d + 4 * w_nt))
    assert below < d / 4
    df = _sweep(tmp_path, ["--N", str(N), "--s", str(s), "--P", f"{below},{above}", "--trials", "12"])
    assert COLUMNS <= set(df.columns)
    assert len(df) == 3 * 2 * 12 and not df.duplicated(["program", "N", "s", "P", "trial"]).any()
    rate = df.groupby(["program", "P"])["success"].mean()
    for program in pt.PROGRAMS:
        assert rate[(program, above)] == 1.0
        assert rate[(program, below)] == 0.0
    # n_active is the number of active samples of the instance, the same for every program
    assert (df.groupby(["P", "trial"])["n_active"].nunique() == 1).all()
    assert (tmp_path / "fig" / f"phase_transition_heatmap_N{N}.png").exists()
    assert (tmp_path / "fig" / "phase_transition_p50.md").exists()


def test_nettrim_and_bp_active_agree_on_every_trial_near_the_transition(tmp_path):
    # docs/tutorial.md §4: Net-Trim (ε = 0) recovers w* iff basis pursuit on the active samples does
    N, s = 30, 3
    d = theory.delta_mc(s, N)
    P = f"{int(2 * d) - 4}:{int(2 * d) + 4}:2"
    df = _sweep(tmp_path, ["--N", str(N), "--s", str(s), "--P", P, "--trials", "10",
                           "--programs", "nettrim,bp_active"])
    bad, total = pt.agreement(df)
    assert total == 5 * 10 and bad == 0
    assert 0 < df["success"].mean() < 1          # the grid does sit on the transition


def test_killed_sweep_resumes_with_every_row_exactly_once(tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "nettrim.experiments", "phase-transition", "--N", "30", "--s", "2:6:2",
            "--P", "4:40:8", "--trials", "10", "--out", str(out), "--figures", str(tmp_path / "fig"),
            "--jobs", "2", "--no-progress"]
    n_cells = 3 * 5
    at_kill = kill_after(args, out / "phase_transition.csv", min_cells=3)
    assert 3 <= at_kill < n_cells
    main(args[3:] + ["--bootstrap", "20"])
    df = read_results(out / "phase_transition.csv")
    assert df["cell"].nunique() == n_cells
    assert len(df) == n_cells * 10 * 3
    assert not df.duplicated(["program", "N", "s", "P", "trial"]).any()
    raw = pd.read_csv(out / "phase_transition.csv")
    assert len(raw) == len(df)


def test_sweep_on_a_dask_cluster(tmp_path, dask_address):
    df = _sweep(tmp_path, ["--N", "20", "--s", "2", "--P", "4,30", "--trials", "4", "--dask", dask_address])
    assert len(df) == 2 * 4 * 3
    assert df[df.P == 30]["success"].all() and not df[df.P == 4]["success"].any()


def test_fast_solver_matches_exact_lp_away_from_the_threshold(tmp_path):
    N, s = 30, 2
    args = ["--N", str(N), "--s", str(s), "--P", "3,60", "--trials", "6"]
    exact = _sweep(tmp_path, args + ["--programs", "nettrim"])
    fast = _sweep(tmp_path, args + ["--solver", "fast"], name="phase_transition_fast.csv")
    assert (fast["solver"] == "fast").all() and (fast["program"] == "nettrim").all()
    key = ["N", "s", "P", "trial"]
    both = exact.merge(fast, on=key, suffixes=("_exact", "_fast"))
    assert len(both) == 12 and (both["seed_exact"] == both["seed_fast"]).all()
    assert (both["success_exact"] == both["success_fast"]).all()


# ----------------------------------------------------------------------------------------------- P_50 fits
def test_probit_fit_recovers_a_known_transition():
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    P = np.arange(4, 201, 4.0)
    mu, sig = 64.7, 12.3
    k = rng.binomial(400, norm.cdf((P - mu) / sig))
    fit = p50_bootstrap(P, k, np.full(P.size, 400), replicates=200)
    assert abs(fit["p50"] - mu) < 4 * fit["se"] and fit["se"] < 1.0
    assert abs(fit["sigma"] - sig) < 1.5
    assert fit["lo"] < fit["p50"] < fit["hi"]


def test_probit_fit_of_separated_data_lands_in_the_gap():
    P = np.arange(10, 101, 10.0)
    k = np.where(P >= 60, 20, 0)
    mu, sig = probit_fit(P, k, np.full(P.size, 20))
    assert 50 < mu < 60 and sig > 0


def test_probit_fit_reports_censored_curves():
    P = np.arange(10, 51, 10.0)
    fit = p50_bootstrap(P, np.zeros(5), np.full(5, 10), replicates=20)
    assert np.isnan(fit["p50"]) and fit["censored"] == "above"
    fit = p50_bootstrap(P, np.full(5, 10), np.full(5, 10), replicates=20)
    assert np.isnan(fit["p50"]) and fit["censored"] == "below"
