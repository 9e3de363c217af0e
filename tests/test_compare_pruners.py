"""compare-pruners: the paired test, the target bookkeeping, the diagnostic refit and a quick run."""

import numpy as np
import pandas as pd
import pytest

from nettrim.experiments.compare_pruners import check_targets, lsq_refit_network, mcnemar
from nettrim.experiments.pruners import prune_with
from nettrim.network import magnitude_prune


def test_mcnemar_on_a_hand_contingency_table():
    # both right 5, only A right 10, only B right 2, both wrong 3: only the 12 discordant pairs count,
    # p = 2·P(Bin(12, ½) <= 2) = 2·(1 + 12 + 66)/4096
    a = np.array([1] * 5 + [1] * 10 + [0] * 2 + [0] * 3, dtype=bool)
    b = np.array([1] * 5 + [0] * 10 + [1] * 2 + [0] * 3, dtype=bool)
    assert mcnemar(a, b) == (10, 2, pytest.approx(2 * 79 / 4096))
    assert mcnemar(b, a) == (2, 10, pytest.approx(2 * 79 / 4096))
    assert mcnemar(a, a) == (0, 0, 1.0)
    assert mcnemar([True, False], [False, True])[2] == pytest.approx(1.0)  # 1 vs 1: no evidence
    with pytest.raises(ValueError, match="same length"):
        mcnemar(a, b[:-1])


def _row(config, method, kept, acc, b=0, c=0, p=np.nan, cpu=1.0, acc_ft=np.nan):
    return dict(dataset="d", point="matched", config=config, family="mode=cascade", method=method, kept_total=kept,
                acc_orig=0.95, acc=acc, acc_ft=acc_ft, mcnemar_b=b, mcnemar_c=c, p_value=p, cpu_s=cpu)


def test_check_targets_counts_significant_losses_in_range_only():
    df = pd.DataFrame([
        _row("e1", "nettrim", 0.20, 0.90, cpu=30.0), _row("e1", "sparsegpt", 0.20, 0.93, b=3, c=20, p=0.001),
        _row("e1", "wanda", 0.20, 0.80, b=40, c=2, p=1e-6), _row("e1", "magnitude", 0.20, 0.905, b=4, c=5, p=1.0),
        _row("e2", "nettrim", 0.05, 0.70, cpu=10.0, acc_ft=0.945),  # out of range: its loss does not count
        _row("e2", "sparsegpt", 0.05, 0.80, b=1, c=60, p=1e-9, cpu=2.0),
        _row("e3", "nettrim", 0.35, 0.945, cpu=40.0), _row("e3", "sparsegpt", 0.35, 0.95, b=1, c=2, p=1.0)])
    (t,) = check_targets(df)
    assert t["points_in_range"] == 1 and t["losses"] == 1 and t["wins"] == 1 and t["ties"] == 1
    assert t["loss_list"].startswith("sparsegpt@20.0%")
    assert t["min_kept_within_1pt"] == pytest.approx(0.35) and t["min_kept_within_1pt_ft"] == pytest.approx(0.05)
    assert t["time_ratio_max"] == pytest.approx(40.0) and t["time_ratio_median"] == pytest.approx(30.0)


def test_lsq_refit_of_the_magnitude_mask_is_magnitude_refit():
    rng = np.random.default_rng(0)
    sizes = (6, 9, 4)
    Ws = [rng.standard_normal((a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=False)]
    bs = [rng.standard_normal(b) for b in sizes[1:]]
    X = rng.standard_normal((50, 6))
    nnz = [20, 10]
    W, b = lsq_refit_network(Ws, bs, X, magnitude_prune(Ws, nnz), bs)
    net = prune_with("magnitude_refit", Ws, bs, X, nnz=nnz)
    for u, v in zip(W + b, net.weights + net.biases, strict=False):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)


def test_quick_run_on_digits(tmp_path):
    from nettrim.experiments.__main__ import main

    argv = ["compare-pruners", "--quick", "--datasets", "digits", "--out", str(tmp_path), "--no-progress"]
    main(argv)
    csv = tmp_path / "compare-pruners-digits-quick.csv"
    df = pd.read_csv(csv)
    methods = {"nettrim", "nettrim_lsq", "magnitude", "magnitude_refit", "wanda", "sparsegpt"}
    matched, uniform = df[df["point"] == "matched"], df[df["point"] == "uniform"]
    # Net-Trim joins the uniform points on digits (a per-layer density search), the diagnostic does not
    assert set(matched["method"]) == methods and set(uniform["method"]) == methods - {"nettrim_lsq"}
    nt = matched.set_index("method")
    for m in ("magnitude", "wanda", "sparsegpt"):  # exactly Net-Trim's per-layer nnz
        for layer in (1, 2, 3):
            assert nt.loc[m, f"kept_L{layer}"] == pytest.approx(nt.loc["nettrim", f"kept_L{layer}"])
    for m in ("magnitude_refit", "nettrim_lsq"):  # a refit can only lose weights (dead inputs)
        assert nt.loc[m, "kept_total"] <= nt.loc["nettrim", "kept_total"] + 1e-12
    peers = matched[matched["method"] != "nettrim"]
    assert peers["p_value"].between(0, 1).all() and (peers["mcnemar_b"] + peers["mcnemar_c"] > 0).any()
    assert ((df["acc"] >= 0) & (df["acc"] <= 1)).all() and df["acc_ft"].notna().all()
    assert (df["cpu_s"] > 0).all()
    exact = uniform[uniform["method"].isin(["magnitude", "wanda", "sparsegpt"])]
    assert (exact[["kept_L1", "kept_L2", "kept_L3"]].round(3) == 0.2).all().all()
    peers = uniform[uniform["method"] != "nettrim"]
    assert (peers["kept_total"] <= 0.2 + 1e-4).all()
    # Net-Trim's per-layer density search: each layer within the default tolerance of its target
    from nettrim.network import DENSITY_TOL

    nt_u = uniform[uniform["method"] == "nettrim"].iloc[0]
    for layer in (1, 2, 3):
        assert abs(nt_u[f"kept_L{layer}"] - 0.2) <= DENSITY_TOL + 1e-12
    assert uniform[uniform["method"] != "nettrim"]["p_value"].between(0, 1).all()
    fig = tmp_path / "figures"
    for ext in ("png", "pdf", "csv", "md"):
        assert (fig / f"compare_pruners_digits_quick.{ext}").stat().st_size > 0
    for table in ("timing", "targets"):
        for ext in ("csv", "md"):
            assert (fig / f"compare_pruners_digits_quick_{table}.{ext}").stat().st_size > 0
    assert "| point |" in (fig / "compare_pruners_digits_quick.md").read_text()
    targets = pd.read_csv(fig / "compare_pruners_digits_quick_targets.csv")
    assert set(targets["family"]) == {"mode=parallel"} and (targets["dataset"] == "digits").all()
    before = csv.read_text()
    main(argv)  # every cell is done: nothing is recomputed
    assert csv.read_text() == before


@pytest.mark.slow
def test_quick_run_on_mnist(tmp_path):
    from nettrim.experiments.__main__ import main

    main(["compare-pruners", "--quick", "--datasets", "mnist", "--out", str(tmp_path), "--no-progress"])
    df = pd.read_csv(tmp_path / "compare-pruners-mnist-quick.csv")
    assert len(df) == 6 + 4 and (df["n_calib"] == 500).all()
