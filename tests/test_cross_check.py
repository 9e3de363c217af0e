"""cross-check: the instance families, the per-instance comparison and the printed disagreements."""

import argparse
from pathlib import Path

import numpy as np
import pytest

from nettrim import layer_problem
from nettrim.experiments import cross_check as cc


def _args(tmp_path, **kw):
    ns = argparse.Namespace(quick=True, out=tmp_path / "out", figures=tmp_path / "fig", jobs=1, seed=0, dask=None,
                            progress=False, fast=True)
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


@pytest.mark.parametrize("spec", cc.families(quick=True) + [cc.Spec(30, 5, 40, "relu", 0.05, True, True)],
                         ids=lambda s: s.name)
def test_teacher_weights_are_feasible(spec):
    X, Y, eps, V = cc.instance(spec, seed=11)
    assert X.shape == (spec.N, spec.P) and Y.shape == (spec.M, spec.P)
    if spec.bias:
        assert np.all(X[-1] == 1)
    if spec.nonzero_V:
        lp = layer_problem(X, Y, eps, activation=spec.activation, V=V)
        assert np.any(V[lp.inactive] != 0)
    else:
        lp = layer_problem(X, Y, eps, activation=spec.activation)
    assert eps == pytest.approx(spec.gain * np.linalg.norm(Y))
    # regenerate the teacher with the same stream: the instance is built so that it is feasible for every ε
    rng = np.random.default_rng(11)
    rng.standard_normal((spec.N - spec.bias, spec.P))
    W0 = rng.standard_normal((spec.N, spec.M)) * (rng.random((spec.N, spec.M)) < 0.5)
    assert lp.violation(W0) <= 1e-12


def test_families_cover_the_issue_matrix():
    full = cc.families(quick=False)
    assert {s.activation for s in full} == {"relu", "linear"}
    assert {s.gain for s in full} == set(cc.GAINS)
    assert {s.bias for s in full} == {True, False} and any(s.nonzero_V for s in full)
    assert any(s.M == 1 for s in full) and any((s.N, s.M) == (200, 50) for s in full)
    assert max(s.P for s in full) == 2000
    assert any(s.P < s.N for s in full) and any(s.P > s.N for s in full)
    assert len({s.name for s in full}) == len(full)


@pytest.mark.parametrize("spec", [cc.Spec(15, 2, 10, "relu", 0.0, True, True),
                                  cc.Spec(15, 2, 40, "linear", 0.05, False, False)], ids=lambda s: s.name)
def test_solvers_agree_on_an_instance(spec):
    with_fast = cc._fast_solve() is not None
    rows = cc.run_instance(vars(spec), seed=5, with_fast=with_fast)
    names = {r["solver"] for r in rows}
    assert names == set(cc.solver_names(spec, with_fast))
    ref = "HIGHS" if spec.gain == 0 else "CLARABEL"
    for r in rows:
        assert r["ref_solver"] == ref
        assert not r["disagree"], r["reason"]
        assert r["rel_obj_diff"] <= cc.OBJ_TOL[r["solver"]]
        assert r["violation"] <= cc.VIOL_TOL[r["solver"]]
        assert 0 <= r["support_jaccard"] <= 1


def _small_families(quick):
    return [cc.Spec(10, 1, 6, "relu", 0.0, False, False), cc.Spec(10, 2, 30, "linear", 0.05, True, False),
            cc.Spec(12, 2, 20, "relu", 0.2, True, True)]


def test_run_writes_table_and_figure_and_prints_disagreements(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cc, "families", _small_families)
    cc.run(_args(tmp_path))
    out = capsys.readouterr().out
    assert "no disagreements" in out
    for name in ("cross_check_quick.csv", "cross_check_quick.md", "cross_check_quick.png", "cross_check_quick.pdf"):
        assert (tmp_path / "fig" / name).exists()
    # an impossible tolerance turns every SCS row into a printed disagreement (new cells: new results folder)
    monkeypatch.setitem(cc.OBJ_TOL, "SCS", 0.0)
    cc.run(_args(tmp_path, out=tmp_path / "out2"))
    out = capsys.readouterr().out
    assert "3 disagreement(s)" in out and out.count("[SCS]: objective off by") == 3


def test_missing_fast_solver_is_reported_and_reference_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cc, "families", _small_families)
    monkeypatch.setattr(cc, "_fast_solve", lambda: None)
    cc.run(_args(tmp_path))
    captured = capsys.readouterr()
    assert "nettrim.fast.solve is NOT available" in captured.err
    assert "nettrim.fast was not run" in captured.out
    table = (tmp_path / "fig" / "cross_check_quick.csv").read_text()
    assert "CLARABEL" in table and "fast" not in table.split("\n", 1)[1]


def test_cross_check_on_a_dask_cluster(tmp_path, monkeypatch, dask_address):
    monkeypatch.setattr(cc, "families", _small_families)
    cc.run(_args(tmp_path, dask=dask_address, fast=False))
    from nettrim.experiments.runner import read_results

    df = read_results(Path(tmp_path / "out" / "cross_check.csv"))
    assert df["instance"].nunique() == 3 and not df["disagree"].astype(bool).any()
