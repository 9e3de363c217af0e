"""cross-check: the instance families, the per-instance comparison, the judging and the printed disagreements."""

import argparse
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nettrim import layer_problem, reference
from nettrim.experiments import cross_check as cc
from nettrim.experiments.runner import read_results


def _args(tmp_path, **kw):
    ns = argparse.Namespace(quick=True, out=tmp_path / "out", figures=tmp_path / "fig", jobs=1, seed=0, dask=None,
                            progress=False, fast=True, expect_fast_infeasible=None)
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


QUICK = [s for s in cc.families(quick=True) if s.family not in cc.NETWORKS]


@pytest.mark.parametrize("spec", QUICK + [cc.Spec("gaussian", 30, 5, 40, "relu", 0.05, bias=True, v_margin=0.5)],
                         ids=lambda s: s.name)
def test_instances_are_what_their_family_says(spec):
    d = cc.instance(spec, seed=11)
    assert d.X.shape == (spec.N, spec.P) and d.Y.shape == (spec.M, spec.P)
    if spec.bias:
        assert np.all(d.X[-1] == 1)
    V = {} if d.V is None else dict(V=d.V)
    prob = layer_problem(d.X, d.Y, d.epsilon, activation=spec.activation, **V)
    if spec.expect == "infeasible":
        assert d.W0 is None
        # no U is feasible: the reference proves it with a certificate checked against the spec
        sol = reference.solve(d.X, d.Y, d.epsilon, activation=spec.activation, solver="CLARABEL", **V)
        assert sol.status == "infeasible" and prob.check_certificate(sol.dual).valid
        return
    assert prob.violation(d.W0) <= 1e-12          # the generating weights are feasible
    if spec.family == "gaussian":
        assert d.epsilon == pytest.approx(spec.gain * np.linalg.norm(d.Y))
        if spec.v_margin:
            assert np.any(d.V[prob.inactive] != 0)
    if spec.expect == "zero":
        assert prob.violation(np.zeros_like(d.W0)) == 0.0   # U = 0 is feasible, hence the unique optimum
    if spec.family == "large-V":
        assert np.all(d.V[prob.inactive] >= 10.0 ** spec.v_exp * 0.99 * np.sqrt(np.mean(d.Y ** 2)))


def test_scale_instances_are_one_layer_in_other_units():
    a = cc.Spec("scale", 20, 4, 60, "relu", 0.05, x_exp=0, y_exp=0)
    b = cc.Spec("scale", 20, 4, 60, "relu", 0.05, x_exp=-6, y_exp=6)
    assert a.base_name == b.base_name and a.name != b.name
    da, db = cc.instance(a, 3), cc.instance(b, 3)
    np.testing.assert_allclose(db.X, da.X * 1e-6)
    np.testing.assert_allclose(db.Y, da.Y * 1e6)
    assert db.epsilon == pytest.approx(da.epsilon * 1e6)


def test_families_cover_the_adversarial_matrix():
    full = cc.families(quick=False)
    fams = {s.family for s in full}
    assert fams == {"gaussian", "scale", "ill", "infeasible", "large-V", "zero", "digits", "mnist"}
    g = [s for s in full if s.family == "gaussian"]
    assert {s.activation for s in g} == {"relu", "linear"} and {s.gain for s in g} == set(cc.GAINS)
    assert {s.bias for s in g} == {True, False} and any(s.v_margin for s in g)
    assert any(s.M == 1 for s in g) and any((s.N, s.M) == (200, 50) for s in g) and max(s.P for s in g) == 2000
    assert any(s.P < s.N for s in g) and any(s.P > s.N for s in g)
    sweep = {(s.activation, s.gain, s.x_exp, s.y_exp) for s in full if s.family == "scale"}
    assert len(sweep) == 2 * 2 * 13 * 13 and {k for _, _, k, _ in sweep} == set(range(-6, 7))
    assert {s.v_exp for s in full if s.family == "large-V"} == {3.0, 6.0, 12.0}
    assert {s.kind for s in full if s.family == "infeasible"} == {"rank", "dup", "zero-sample"}
    assert {s.layer for s in full if s.family == "mnist"} == {1, 2, 3}
    assert all(s.N * s.M * s.P <= 1e6 for s in full if s.family in cc.NETWORKS)   # CVXPY fits
    assert len({s.name for s in full}) == len(full)
    quick = cc.families(quick=True)
    assert {s.family for s in quick} == fams - {"mnist"} and len(quick) < len(full) / 5


@pytest.mark.parametrize("spec", [cc.Spec("gaussian", 15, 2, 10, "relu", 0.0, bias=True, v_margin=0.5),
                                  cc.Spec("gaussian", 15, 2, 40, "linear", 0.05)], ids=lambda s: s.name)
def test_solvers_agree_on_an_instance(spec):
    rows = cc.run_instance(asdict(spec), seed=5, with_fast=True)
    assert {r["solver"] for r in rows} == set(cc.solver_names(spec, True))
    ref = "HIGHS" if spec.gain == 0 else "CLARABEL"
    for r in rows:
        assert r["ref_solver"] == ref
        assert not r["disagree"], r["reason"]
        assert r["rel_obj_diff"] <= cc.OBJ_TOL[r["solver"]]
        assert r["violation"] <= cc.VIOL_TOL[r["solver"]]
        assert 0 <= r["support_jaccard"] <= 1


def test_reference_says_infeasible_with_a_checked_certificate():
    spec = cc.Spec("infeasible", 12, 3, 40, "relu", 0.5, kind="dup")
    rows = cc.run_instance(asdict(spec), seed=5, with_fast=False)
    for r in rows:
        assert r["status"] == "infeasible" and not r["disagree"], r
        assert r["certificate_valid"] in (True, None)          # ECOS and HIGHS give no ray
    assert sum(r["certificate_valid"] is True for r in rows) >= 2    # CLARABEL and SCS do, and it checks


def _row(**kw):
    base = dict(instance="i", family="gaussian", N=1, M=1, P=1, activation="relu", gain=0.0, seed=0, x_exp=0,
                y_exp=0, expect="optimal", solver="CLARABEL", status="optimal", objective=1.0, ref_solver="HIGHS",
                ref_objective=1.0, obj_diff=0.0, rel_obj_diff=0.0, allow_below=np.nan, allow_above=np.nan,
                violation=0.0, gap=0.0, nnz=1, certificate_valid=np.nan)
    base.update(kw)
    return base


def test_judge_rules():
    rows = [
        _row(),                                                               # fine
        _row(solver="fast", status="max_iter"),                               # the solver under test fails
        _row(status="optimal_inaccurate"),                                    # a witness abstains: unsolved
        _row(solver="HIGHS", status="optimal_inaccurate", ref_solver="CLARABEL"),   # a witness too
        _row(obj_diff=1e-3),                                                  # objective off
        _row(obj_diff=-1e-2, allow_below=0.05),                               # ... explained by its violation
        _row(obj_diff=-1e-2, allow_above=0.05),                               # ... on the wrong side
        _row(obj_diff=1e-2, allow_above=0.05),                                # the reference's violation
        _row(violation=1e-3),                                                 # infeasible answer
        _row(gap=0.5),                                                        # uncertified
        _row(expect="zero", nnz=3),                                           # dust where 0 is the answer
        _row(expect="infeasible", status="infeasible", certificate_valid=True, ref_solver=""),
        _row(expect="infeasible", status="solver_error", ref_solver=""),      # reference must say infeasible
        _row(expect="infeasible", status="infeasible", certificate_valid=False, ref_solver=""),
        _row(expect="infeasible", solver="fast", status="max_iter", ref_solver=""),   # fine while not required
        _row(expect="infeasible", solver="fast", status="optimal", ref_solver=""),    # a lie, always
        _row(ref_solver="", status="optimal_inaccurate"),                     # nobody solved it
    ]
    df = cc.judge(pd.DataFrame(rows), fast_infeasible=False)
    assert list(df["disagree"]) == [False, True, False, False, True, False, True, False, True, True, True,
                                    False, True, True, False, True, True]
    assert list(df["unsolved"]) == [False, False, True, True] + [False] * 13
    # once the ADMM certifies infeasibility, it must say so, with a ray that checks
    fast = pd.DataFrame([_row(expect="infeasible", solver="fast", status="max_iter"),
                         _row(expect="infeasible", solver="fast", status="infeasible", certificate_valid=np.nan),
                         _row(expect="infeasible", solver="fast", status="infeasible", certificate_valid=True)])
    assert list(cc.judge(fast, fast_infeasible=True)["disagree"]) == [True, True, False]
    # values read back from a CSV (strings) are judged the same
    as_read = fast.astype({"certificate_valid": str})
    assert list(cc.judge(as_read, fast_infeasible=True)["disagree"]) == [True, True, False]


def test_judge_compares_the_scale_sweep_with_the_unscaled_layer():
    common = dict(family="scale", gain=0.05, solver="SCS")
    rows = [_row(x_exp=0, y_exp=0, objective=2.0, **common),  # (obj_diff is 0 in these rows: no reference)
            _row(x_exp=-3, y_exp=3, objective=2.0e6, **common),                 # ×10^(j−k): equal
            _row(x_exp=3, y_exp=0, objective=2.0e-3 * (1 + 1e-5), **common),    # off by 1e-5
            _row(x_exp=6, y_exp=6, objective=2.0, status="infeasible", **common)]
    df = cc.judge(pd.DataFrame(rows))
    assert list(df["disagree"]) == [False, False, True, True]
    assert df["scale_obj_diff"].iloc[1] == pytest.approx(0.0, abs=1e-12)
    assert "mapped back" in df["reason"].iloc[2] and "unscaled layer is optimal" in df["reason"].iloc[3]


def test_dual_bound_holds_for_every_weight_matrix():
    # d(Λ) − viol(U)·s(Λ) ≤ Σ|u| for any U, feasible or not: the allowance judge gives a violation is rigorous
    for activation, V in (("relu", None), ("relu", "margin"), ("linear", None)):
        spec = cc.Spec("gaussian", 15, 3, 40, activation, 0.05, v_margin=0.5 if V else 0.0)
        d = cc.instance(spec, seed=2)
        kw = {} if d.V is None else dict(V=d.V)
        sol = reference.solve(d.X, d.Y, d.epsilon, activation=activation, **kw)
        prob = layer_problem(d.X, d.Y, d.epsilon, activation=activation, **kw)
        value, slack = cc.dual_bound(prob, sol.dual)
        assert value == pytest.approx(sol.objective * (1 - sol.gap))
        rng = np.random.default_rng(0)
        for scale in (1e-6, 1e-3, 1e-1, 1.0):
            for _ in range(20):
                U = sol.W * (1 - scale * rng.random()) + scale * rng.standard_normal(sol.W.shape) * np.abs(sol.W).max()
                assert prob.objective(U) >= value - prob.violation(U) * slack - 1e-9 * abs(value)
        # the cheapest answers with a given violation: optima of the program with ε relaxed. The value
        # function is convex with slope −‖Λ_Ω‖ at ε, so the bound is tight to first order (a third of s fails)
        for t in (0.05, 0.3):
            relaxed = reference.solve(d.X, d.Y, d.epsilon * (1 + t), activation=activation, **kw)
            v = prob.violation(relaxed.W)
            assert v > 0 and relaxed.objective >= value - v * slack - 1e-7 * abs(value)
            assert relaxed.objective < value - v * slack / 3


def _small_families(quick):
    return [cc.Spec("gaussian", 10, 1, 6, "relu", 0.0), cc.Spec("gaussian", 10, 2, 30, "linear", 0.05, bias=True),
            cc.Spec("gaussian", 12, 2, 20, "relu", 0.2, bias=True, v_margin=0.5),
            cc.Spec("infeasible", 12, 3, 40, "relu", 0.5, kind="zero-sample")]


def test_run_writes_tables_and_figure_and_prints_disagreements(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cc, "families", _small_families)
    cc.run(_args(tmp_path))
    out = capsys.readouterr().out
    assert "no disagreements" in out and "Disagreements / rows per family" not in out  # Markdown only
    for name in ("cross_check_quick.csv", "cross_check_quick.md", "cross_check_quick.png", "cross_check_quick.pdf"):
        assert (tmp_path / "fig" / name).exists()
    md = (tmp_path / "fig" / "cross_check_quick.md").read_text()
    assert "| infeasible | 1 |" in md and "on 4 instances" in md
    # an impossible tolerance turns every feasible SCS row into a printed disagreement, judged again from
    # the stored rows (nothing is solved again)
    monkeypatch.setitem(cc.OBJ_TOL, "SCS", -1.0)
    def never(*args, **kwargs):
        raise AssertionError("nothing may be solved again")

    monkeypatch.setattr(reference, "solve", never)
    monkeypatch.setattr(cc, "_fast_solve", lambda: never)
    cc.run(_args(tmp_path))
    out = capsys.readouterr().out
    assert "3 disagreement(s)" in out and out.count("[SCS]: objective off by") == 3


@pytest.fixture
def no_figures(monkeypatch):
    from nettrim.experiments import plots

    monkeypatch.setattr(plots, "cross_check_figures", lambda *a, **k: [])


def test_a_changed_fast_solver_reruns_its_cells_only(tmp_path, monkeypatch, capsys, no_figures):
    monkeypatch.setattr(cc, "families", lambda quick: _small_families(quick)[:2])
    cc.run(_args(tmp_path))
    capsys.readouterr()
    real = cc.fingerprint
    monkeypatch.setattr(cc, "fingerprint", lambda side: "another" if side == "fast" else real(side))
    cc.run(_args(tmp_path))
    err = capsys.readouterr().err
    assert "4 cells already in" in err and "2 to run" in err
    df = read_results(tmp_path / "out" / "cross_check.csv")
    assert df["cell"].str.endswith("fast@another").sum() == 2 and df["cell"].nunique() == 6
    assert cc.fingerprint("reference") != cc.fingerprint("fast")


def test_no_fast_runs_the_reference_only(tmp_path, monkeypatch, capsys, no_figures):
    monkeypatch.setattr(cc, "families", lambda quick: _small_families(quick)[:2])

    def never(*args, **kwargs):
        raise AssertionError("--no-fast must not run nettrim.fast")

    monkeypatch.setattr(cc, "_fast_solve", lambda: never)
    cc.run(_args(tmp_path, fast=False))
    captured = capsys.readouterr()
    assert "nettrim.fast was not run (--no-fast)" in captured.out
    table = (tmp_path / "fig" / "cross_check_quick.csv").read_text()
    assert "CLARABEL" in table and "fast" not in table.split("\n", 1)[1]


def test_real_layer_instances(tmp_path):
    spec = cc.Spec("digits", 65, 4, 40, "relu", 0.05, bias=True, layer=1)
    d = cc.instance(spec, seed=3, cache_dir=str(tmp_path / "models"))
    assert list((tmp_path / "models").glob("digits-*.npz"))            # the trained model is cached
    assert d.X.shape == (65, 40) and np.all(d.X[-1] == 1) and d.Y.shape == (4, 40)
    assert np.all(d.Y.max(axis=1) > 0)                                   # neurons active on some sample
    prob = layer_problem(d.X, d.Y, d.epsilon)
    assert prob.violation(d.W0) <= 1e-12
    assert np.any(np.all(d.X[:-1] == 0, axis=1))                         # real data: pixels that are always 0


def test_cross_check_on_a_dask_cluster(tmp_path, monkeypatch, dask_address, no_figures):
    monkeypatch.setattr(cc, "families", _small_families)
    cc.run(_args(tmp_path, dask=dask_address, fast=False))
    df = cc.judge(cc.compare(read_results(Path(tmp_path / "out" / "cross_check.csv"))))
    assert df["instance"].nunique() == 4 and not df["disagree"].any()
