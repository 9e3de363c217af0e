"""The bench-network experiment runs end to end (on a tiny network) and writes its table."""

import argparse

import pandas as pd

from nettrim.experiments import bench_network


def test_bench_network_smoke(tmp_path, monkeypatch):
    monkeypatch.setitem(bench_network.QUICK, "hidden", (12,))
    monkeypatch.setitem(bench_network.QUICK, "refit_eps", (0.2,))
    monkeypatch.setitem(bench_network.QUICK, "density", 0.4)
    args = argparse.Namespace(quick=True, out=tmp_path, figures=tmp_path / "figures", seed=0, progress=False,
                              groups="density,refit,reweight")
    bench_network.run(args)
    table = pd.read_csv(tmp_path / "figures" / "bench_network.csv")
    assert set(table["group"]) == {"density", "refit", "reweight"} and len(table) == 2 + 2 + 3
    density = table[table["group"] == "density"]
    assert ((density["kept"] - 0.4).abs() <= 0.005).all()
    assert (density["cpu_ratio"] == density["cpu_s"] / density["known_cpu_s"]).all()
    refit = table[table["group"] == "refit"].set_index("refit")
    assert refit.loc[True, "refit_s"] > 0 and refit.loc[False, "refit_s"] == 0
    # a rerun finds every cell done and only rewrites the table
    bench_network.run(args)
    assert len(pd.read_csv(tmp_path / "figures" / "bench_network.csv")) == 7
