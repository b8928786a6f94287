"""``compare_domains`` / ``galvae compare-domains``: latent MSE, MMD², Table 4 and defect shares."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

import galvae
from _float32 import latent_tolerance, mmd_tolerance, mse_tolerance
from galvae.cli import main
from galvae.config import StretchConfig
from galvae.data.store import ImageStore, write_store
from galvae.errors import GalvaeFileError, GalvaeValueError
from galvae.evaluate import paper
from galvae.evaluate.domains import (
    TABLE4_COLUMNS,
    compare_domains,
    high_mse_defects,
    table4_markdown,
    table4_repeat_summary,
)
from galvae.latents import GalaxyVAE
from galvae.losses.mmd import DEFAULT_SCALES, median_bandwidth, mmd2
from galvae.plots.domains import plot_mse_histogram, plot_pair_gallery


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """80 simulated galaxies (60 also in BASS+MzLS), a 'before' run on DECaLS and a stand-in 'after' run."""
    root = tmp_path_factory.mktemp("domains")
    res = galvae.simulate.simulate(
        root / "sim",
        n_galaxies=80,
        overlap=60,
        size=32,
        seed=0,
        workers=1,
        defect_fraction=0.15,
        progress=False,
        votes_follow_visibility=False,  # votes from the truth: the same labels' mechanics, 4 s sooner
    )
    opts = dict(latent_dim=4, epochs=1, batch_size=32, val_fraction=0.2, progress=False, accelerator="cpu")
    galvae.train(res.stores["decals"], root / "before", seed=0, **opts)
    galvae.train(res.stores["bass_mzls"], root / "after", seed=1, **opts)
    return res, root


@pytest.fixture(scope="module")
def compared(sim):
    res, root = sim
    out = root / "out"
    r = compare_domains(
        root / "before",
        res.stores["decals"],
        res.stores["bass_mzls"],
        res.catalog,
        after=root / "after",
        out_dir=out,
        min_galaxies=10,
        n_estimators=10,
        n_gallery=3,
        batch_size=16,
        progress=False,
    )
    return r, out


def test_mse_and_mmd_exact(sim, compared):
    res, root = sim
    r, _ = compared
    assert r.n_matched == 60 and r.unmatched == {"source": 20, "target": 0}
    with ImageStore(res.stores["decals"]) as s, ImageStore(res.stores["bass_mzls"]) as t:
        ids = [f"sim{i:06d}" for i in range(60)]
        assert r.pairs["id"].tolist() == ids
        bandwidths = None
        for stage in ("before", "after"):
            vae = GalaxyVAE.load(root / stage)
            ms = vae.encode(s.read(s.index_of(ids))).astype(np.float64)
            mt = vae.encode(t.read(t.index_of(ids))).astype(np.float64)
            want = ((ms - mt) ** 2).mean(axis=1)
            # compare_domains encodes in batches of 16, this test in one batch of 60: the float32 latents
            # agree to rounding only, and the MSE of two nearly equal latents magnifies that (tests/_float32.py)
            tol = mse_tolerance(want, 2 * latent_tolerance(np.concatenate([ms, mt]), vae.network.fc_mu.in_features))
            got = r.pairs[f"mse_{stage}"].to_numpy()
            assert np.all(np.abs(got - want) <= tol), np.max(np.abs(got - want) / tol)
            assert np.median(tol / want) < 0.2  # the bound still tells a wrong pairing or a factor apart
            assert abs(r.mse[stage]["median"] - np.median(want)) <= tol.max()
            assert abs(r.mse[stage]["mean"] - want.mean()) <= tol.mean()
            if bandwidths is None:  # one kernel for both stages, fixed on the "before" latents
                sigma0 = float(median_bandwidth(torch.from_numpy(ms), torch.from_numpy(mt)))
                bandwidths = [sigma0 * np.sqrt(s) for s in DEFAULT_SCALES]
            dmu = latent_tolerance(np.concatenate([ms, mt]), vae.network.fc_mu.in_features)
            assert abs(r.mmd2[stage] - mmd2(ms, mt, bandwidths=bandwidths)) <= mmd_tolerance(dmu, ms.shape[1], sigma0)
            rand = np.median(((ms - mt[np.random.default_rng(0).permutation(60)]) ** 2).mean(axis=1))
            assert r.mse[stage]["paired_over_random"] == pytest.approx(np.median(want) / rand, rel=0.05)
    # the two runs differ, so before and after differ
    assert not np.allclose(r.pairs["mse_before"], r.pairs["mse_after"])


def test_outputs(compared):
    r, out = compared
    for name in (
        "pairs.csv",
        "mse_hist.png",
        "table4.csv",
        "table4.md",
        "domains.json",
        "pairs_lowest_before.png",
        "pairs_highest_before.png",
        "pairs_lowest_after.png",
        "pairs_highest_after.png",
    ):
        assert (out / name).is_file(), name
    pairs = pd.read_csv(out / "pairs.csv", dtype={"id": str})
    assert {"id", "mse_before", "mse_after", "defect", "defect_decals", "defect_bass_mzls"} <= set(pairs.columns)
    s = json.loads((out / "domains.json").read_text())
    assert s["n_matched"] == 60 and s["unmatched"] == {"source": 20, "target": 0}
    assert s["mmd2"]["before"] == pytest.approx(r.mmd2["before"])
    assert [row["feature"] for row in s["table4"]] == r.table["feature"].tolist()
    assert s["params"]["min_galaxies"] == 10 and s["defects"]["before"]["n_pairs"] == 60
    md = (out / "table4.md").read_text()
    assert "Before DA BASS+MzLS" in md and "82.53 %" in md  # the paper's bar row is quoted
    t = r.table
    # a feature is kept with at least min_galaxies (10) labelled overlap galaxies, skipped below
    assert len(t) and (t["total"] >= 10).all() and (t["n_train"] + t["n_test"] == t["total"]).all()
    assert t[["source_before", "target_before", "target_after", "source_after"]].notna().all().all()
    assert set(r.skipped) | set(t["feature"]) == set(galvae.LabelConfig().features)


def test_defect_share_hand_built():
    pairs = pd.DataFrame(
        {
            "mse_before": [9.0, 8.0, 7.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
            "defect_a": ["bright_star", "none", "chip_edge", "none", "bright_star"] + ["none"] * 5,
            "defect_b": ["none", "none", "bright_star", None, "none"] + ["none"] * 5,
        }
    )
    d = high_mse_defects(pairs, fraction=0.3, threshold=7.5)
    assert d["defect_columns"] == ["defect_a", "defect_b"]
    assert d["top"]["n"] == 3 and d["top"]["n_defect"] == 2 and d["top"]["share"] == pytest.approx(2 / 3)
    assert d["top"]["by_kind"]["bright_star"]["n"] == 2 and d["top"]["by_kind"]["chip_edge"]["n"] == 1
    assert d["all"]["n_defect"] == 3 and d["all"]["share"] == pytest.approx(0.3)
    assert d["all"]["by_kind"]["bright_star"]["n"] == 3  # counted once per pair
    assert d["above_threshold"]["n"] == 2 and d["above_threshold"]["n_defect"] == 1
    assert d["enrichment"] == pytest.approx((2 / 3) / 0.3) and d["mse_cut"] == 7.0
    assert high_mse_defects(pairs, fraction=0.01)["top"]["n"] == 1  # at least one pair
    only = high_mse_defects(pairs.rename(columns={"defect_a": "defect"}).drop(columns="defect_b"), fraction=0.1)
    assert only["defect_columns"] == ["defect"] and only["top"]["n_defect"] == 1
    with pytest.raises(GalvaeValueError, match="no defect column"):
        high_mse_defects(pairs[["mse_before"]])
    with pytest.raises(GalvaeValueError, match="fraction must be in"):
        high_mse_defects(pairs, fraction=1.5)
    with pytest.raises(GalvaeValueError, match="'mse_after'"):
        high_mse_defects(pairs, column="mse_after")


def _latent_df(ids, mu):
    return pd.DataFrame({"id": ids, **{f"mu_{j}": mu[:, j] for j in range(mu.shape[1])}})


def _synthetic(n=150, seed=0):
    """Overlap ids whose 'bar' class is coded in mu_0 (none 0, weak 1, strong 2)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"x{i:03d}" for i in range(n)])
    y = rng.choice(["none", "weak", "strong"], n)
    code = pd.Series(y).map({"none": 0.0, "weak": 1.0, "strong": 2.0}).to_numpy()
    mu = np.column_stack([code + rng.normal(0, 0.05, n), rng.normal(0, 1, (n, 2))])
    return ids, y, mu


def test_target_before_uses_source_forest():
    ids, y, mu = _synthetic()
    cat = pd.DataFrame({"id": ids, "bar": y})
    src = _latent_df(ids, mu)
    same = compare_domains(
        (src, src.copy()),
        catalog=cat,
        after=(src, src.copy()),
        features=["bar"],
        min_galaxies=20,
        n_estimators=20,
        progress=False,
    )
    row = same.table.iloc[0]
    assert row["source_before"] == 1.0 and row["target_before"] == row["source_before"]
    assert row["target_after"] == row["source_after"] == 1.0
    assert same.mse["before"]["max"] == 0.0
    # target latents shifted by one class: the source forest is fooled, a retrained one is not
    shifted = mu.copy()
    shifted[:, 0] += 1.0
    tgt = _latent_df(ids, shifted)
    r = compare_domains(
        (src, tgt), catalog=cat, after=(src, tgt), features=["bar"], min_galaxies=20, n_estimators=20, progress=False
    )
    row = r.table.iloc[0]
    test = r.splits["bar"]["test"]
    strong_share = np.mean(pd.Series(y, index=ids).loc[test].to_numpy() == "strong")
    assert row["source_before"] == 1.0 and row["target_after"] == 1.0
    assert row["target_before"] == pytest.approx(strong_share)  # only 'strong' stays right
    # no adaptation happened (after == before): the controls say so. Retraining alone reaches "after",
    # and the adapted source forest applied to the target is as fooled as before
    assert row["target_before_retrained"] == row["target_after"] == 1.0
    assert row["target_after_source_forest"] == pytest.approx(strong_share) != row["target_after"]
    assert r.pairs["mse_before"].to_numpy() == pytest.approx(np.full(len(ids), 1.0 / 3))


def test_repeated_splits_of_table4(tmp_path):
    # the class is in mu_0; the target's mu_0 is shifted by one class, so the source forest is fooled before DA
    # (only "strong" stays right), while a forest retrained on the target ("after", and the retrained control)
    # is nearly always right
    ids, y, mu = _synthetic(n=150, seed=2)
    shifted = mu.copy()
    shifted[:, 0] += 1.0
    src, tgt = _latent_df(ids, mu), _latent_df(ids, shifted)
    cat = pd.DataFrame({"id": ids, "bar": y})
    kw = dict(catalog=cat, after=(src, tgt), features=["bar"], min_galaxies=20, n_estimators=10, progress=False)
    single = compare_domains((src, tgt), seed=3, **kw)
    assert single.table4_repeats is None and "table4_repeats" not in single.summary
    r = compare_domains((src, tgt), seed=3, repeats=3, out_dir=tmp_path / "d", n_gallery=0, **kw)
    per = r.table4_repeats
    assert per["seed"].tolist() == [3, 4, 5] and (per["feature"] == "bar").all()
    # the first split is the single run's table, and the splits differ
    pd.testing.assert_frame_equal(per[per.seed == 3].drop(columns="seed").reset_index(drop=True), single.table)
    assert r.splits == single.splits
    strong = pd.Series(y, index=ids)
    shares, tests = [], []
    for seed in (3, 4, 5):
        tests.append(frozenset(compare_domains((src, tgt), seed=seed, **kw).splits["bar"]["test"]))
        shares.append(np.mean(strong.loc[list(tests[-1])].to_numpy() == "strong"))
    assert len(set(tests)) == 3  # each seed draws other test galaxies (stratified: the same class shares)
    assert per["target_before"].to_numpy() == pytest.approx(shares)
    # "after" is a forest retrained on the same target latents as the retrained control: equal on every split
    assert (per["target_after"] > 0.9).all() and (per["target_after"] == per["target_before_retrained"]).all()
    summ = table4_repeat_summary(per)
    row = summ.iloc[0]
    assert row["splits"] == 3 and row["target_before_mean"] == pytest.approx(np.mean(shares))
    assert row["target_before_sd"] == pytest.approx(np.std(shares, ddof=1))
    assert row["after_above_before"] == 3 and row["after_above_retrained"] == 0  # a tie is no improvement
    counts = r.summary["table4_repeats"]
    assert counts["seeds"] == [3, 4, 5] and counts["feature_splits"] == 3
    assert counts["after_above_before"]["holds"] == 3
    assert counts["after_above_retrained"] == {"holds": 0, "ties": 3, "mean_difference": 0.0}
    assert counts["after_above_before"]["mean_difference"] == pytest.approx(
        (per.target_after - per.target_before).mean()
    )
    md = (tmp_path / "d" / "table4_repeats.md").read_text()
    assert "Table 4 over 3 splits" in md and "| 3 of 3 (0 ties) |" in md
    assert pd.read_csv(tmp_path / "d" / "table4_repeats.csv")["seed"].tolist() == [3, 4, 5]
    assert json.loads((tmp_path / "d" / "domains.json").read_text())["table4_repeats"]["seeds"] == [3, 4, 5]
    with pytest.raises(GalvaeValueError, match="repeats"):
        compare_domains((src, tgt), repeats=0, **kw)


def test_source_train_all_and_min_galaxies():
    ids, y, mu = _synthetic(n=200, seed=1)
    extra_ids = np.array([f"e{i:03d}" for i in range(50)])
    extra_y = np.array(["none"] * 50)
    src = _latent_df(np.concatenate([ids, extra_ids]), np.vstack([mu, np.zeros((50, 3))]))
    tgt = _latent_df(ids, mu)
    cat = pd.DataFrame({"id": np.concatenate([ids, extra_ids]), "bar": np.concatenate([y, extra_y])})
    kw = dict(catalog=cat, features=["bar"], min_galaxies=20, n_estimators=10, progress=False)
    r = compare_domains((src, tgt), source_train="all", **kw)
    assert r.unmatched == {"source": 50, "target": 0} and r.n_matched == 200
    row = r.table.iloc[0]
    assert row["total"] == 200 and row["n_test"] == 60
    assert row["n_train_source"] == 250 - 60  # every labelled source galaxy except the overlap test set
    assert np.isnan(row["target_after"])  # no 'after' stage
    assert compare_domains((src, tgt), **kw).table.iloc[0]["n_train_source"] == 250 - 60  # "all" is the default
    o = compare_domains((src, tgt), source_train="overlap", **kw)
    assert o.table.iloc[0]["n_train_source"] == 140 and o.splits == r.splits
    # min_galaxies is a minimum: the 200 overlap galaxies enter Table 4 with 200, not with 201
    assert compare_domains((src, tgt), **{**kw, "min_galaxies": 200}).table["total"].tolist() == [200]
    skip = compare_domains((src, tgt), **{**kw, "min_galaxies": 201}, repeats=2)
    assert skip.table.empty and skip.table4_repeats is None  # no feature enters Table 4: nothing to repeat
    assert skip.skipped == {"bar": "overlap galaxies: 200 labelled galaxies, fewer than min_galaxies=201"}


def test_mmd_subsample_and_latent_dims():
    ids, _, mu = _synthetic(n=60)
    rng = np.random.default_rng(3)
    tgt = mu + rng.normal(0, 0.5, mu.shape)
    r = compare_domains((_latent_df(ids, mu), _latent_df(ids, tgt)), max_mmd_points=20, seed=4, progress=False)
    sub = np.sort(np.random.default_rng(4).choice(60, 20, replace=False))
    assert r.summary["mmd_points"] == 20 and r.mmd2["before"] == pytest.approx(mmd2(mu[sub], tgt[sub]))
    assert r.table.empty and r.defects == {}


def test_errors(sim, tmp_path):
    res, root = sim
    ids, y, mu = _synthetic(n=10)
    pair = (_latent_df(ids, mu), _latent_df(ids, mu))
    with pytest.raises(GalvaeValueError, match="unknown source_train.*'everything'"):
        compare_domains(pair, source_train="everything")
    with pytest.raises(GalvaeValueError, match=r"high_mse_fraction must be a number in \(0, 1\] \(got 0\)"):
        compare_domains(pair, high_mse_fraction=0)
    with pytest.raises(GalvaeValueError, match="unknown feature 'bars'"):
        compare_domains(pair, features=["bars"])
    with pytest.raises(GalvaeValueError, match=r"n_gallery must be a non-negative integer \(got -1\)"):
        compare_domains(pair, n_gallery=-1)
    with pytest.raises(GalvaeValueError, match=r"n_jobs \(or -1: all cores\) must be .*\(got 0\)"):
        compare_domains(pair, n_jobs=0)
    with pytest.raises(GalvaeValueError, match="fewer than two ids"):
        compare_domains((_latent_df(ids[:5], mu[:5]), _latent_df(ids[5:], mu[5:])))
    with pytest.raises(GalvaeValueError, match="source_store and target_store are needed"):
        compare_domains(root / "before")
    with pytest.raises(GalvaeValueError, match="a GalaxyVAE, or a"):
        compare_domains(42, res.stores["decals"], res.stores["bass_mzls"])
    big = write_store(
        tmp_path / "b.h5",
        np.zeros((2, 3, 16, 16), np.float32),
        ["a", "b"],
        survey="x",
        normalisation=StretchConfig(kind="none"),
    )
    with pytest.raises(GalvaeValueError, match="expects size 32"):
        compare_domains(root / "before", res.stores["decals"], big)
    with pytest.raises(GalvaeFileError, match="no exported galvae model"):
        compare_domains(tmp_path, res.stores["decals"], res.stores["bass_mzls"])


def test_cli(sim, tmp_path, capsys):
    res, root = sim
    out = tmp_path / "cli"
    rc = main(
        [
            "-q",
            "compare-domains",
            str(root / "before"),
            str(res.stores["decals"]),
            str(res.stores["bass_mzls"]),
            "--catalog",
            str(res.catalog),
            "--after",
            str(root / "after"),
            "--out",
            str(out),
            "--min-galaxies",
            "10",
            "--n-estimators",
            "5",
            "--n-gallery",
            "2",
            "--high-mse-fraction",
            "0.1",
            "--repeats",
            "2",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "60 galaxies in both surveys (20 only in the source, 0 only in the target)" in text
    assert "MMD^2" in text and " -> " in text and "| Feature |" in text and "highest-MSE pairs" in text
    s = json.loads((out / "domains.json").read_text())
    assert s["params"]["high_mse_fraction"] == 0.1 and s["defects"]["before"]["top"]["n"] == 6
    n = s["table4_repeats"]["feature_splits"]
    assert s["table4_repeats"]["seeds"] == [0, 1] and n == 2 * len(s["table4"])
    assert f"Table 4 over 2 splits (seeds 0-1), {n} feature-splits:" in text and "  after > before: " in text
    assert "table4_repeats.md" in s["files"] and (out / "table4_repeats.csv").is_file()
    stores = [str(res.stores["decals"]), str(res.stores["bass_mzls"])]
    bad = ["compare-domains", str(root / "before"), *stores, "--out", str(out), "--repeats", "0"]
    assert main(bad) == 2 and "repeats must be" in capsys.readouterr().err
    assert (
        main(
            [
                "compare-domains",
                str(tmp_path / "nope"),
                str(res.stores["decals"]),
                str(res.stores["bass_mzls"]),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("galvae compare-domains: error:") and "no exported galvae model" in err
    # --control: a run fine-tuned without the alignment terms, compared on the adaptation's test pairs
    import shutil

    after = tmp_path / "after"
    shutil.copytree(root / "after", after)
    with ImageStore(res.stores["bass_mzls"]) as st:
        test_ids = [str(i) for i in st.ids[:20]]
    (after / "split.json").write_text(json.dumps({"test_ids": test_ids}))
    args = ["-q", "compare-domains", str(root / "before"), str(res.stores["decals"]), str(res.stores["bass_mzls"])]
    assert main([*args, "--after", str(after), "--control", str(root / "before"), "--out", str(tmp_path / "c")]) == 0
    text = capsys.readouterr().out
    # the control is the unadapted model itself: its ratio is the "before" one, and all of the gain is alignment's
    assert "fine-tuned without the alignment terms (control)" in text and "(1.00x lower)" in text
    held = json.loads((tmp_path / "c" / "domains.json").read_text())["heldout"]
    assert held["n"] == 20 and held["gain_control"] == pytest.approx(1.0)
    assert held["gain_over_control"] == pytest.approx(held["gain"])


def test_plots():
    imgs = np.random.default_rng(0).random((3, 3, 8, 8), dtype=np.float32)
    fig = plot_pair_gallery(imgs, imgs[::-1], ["a", "b", "c"], row_names=("DECaLS", "BASS+MzLS"), title="t")
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    assert fig.axes[0].get_title() == "a" and fig.axes[0].get_ylabel() == "DECaLS"
    with pytest.raises(GalvaeValueError, match="same number of images"):
        plot_pair_gallery(imgs, imgs[:2])
    h = plot_mse_histogram({"before": [0.0, 0.1, 1.0, 10.0], "after": [0.05, 0.2]}, threshold=8)
    assert h.axes[0].get_xscale() == "log" and len(h.axes[0].get_legend().get_texts()) == 3
    with pytest.raises(GalvaeValueError, match="non-finite"):
        plot_mse_histogram({"before": [np.nan, 1.0]})


def test_paper_table4_and_markdown():
    assert set(paper.TABLE4) <= set(galvae.LabelConfig().features)
    assert paper.TABLE4["bar"]["source_before"] == 82.53 and paper.TABLE4["edge_on"]["total"] == 1229
    t = pd.DataFrame(
        [
            {
                "feature": "bar",
                "n_classes": 3,
                "classes": "none,weak,strong",
                "total": 150,
                "n_train": 105,
                "n_test": 45,
                "n_train_source": 105,
                "n_train_source_after": float("nan"),
                "source_before": 0.5,
                "target_before": 0.25,
                "target_after": float("nan"),
                "source_after": float("nan"),
                "target_before_retrained": 0.3,
                "target_after_source_forest": float("nan"),
                "majority_rate": 0.4,
            }
        ]
    )
    assert list(t.columns) == list(TABLE4_COLUMNS)
    md = table4_markdown(t, paper=False)
    assert "| bar | 3 | 150 | 50.00 % | 25.00 % | – | – | 30.00 % | – | 40.00 % |" in md and "paper" not in md
    # a table4.csv of an older galvae, whose source column was called decals_before, reads the same
    assert table4_markdown(t.rename(columns={"source_before": "decals_before"}), paper=False) == md
    with_paper = table4_markdown(t)
    assert "| bar | 3 | 168 | 82.53 % | 70.59 % | 86.27 % |" in with_paper


def test_adapted_source_forest_learns_from_the_same_galaxies_as_the_source_forest():
    """An 'after' stage identical to 'before' scores exactly like it on the source-forest columns."""
    ids, y, mu = _synthetic(n=200, seed=2)
    rng = np.random.default_rng(5)
    extra_ids = np.array([f"e{i:03d}" for i in range(120)])
    extra_y = rng.choice(["none", "weak", "strong"], 120)
    extra_mu = np.column_stack(
        [pd.Series(extra_y).map({"none": 0.0, "weak": 1.0, "strong": 2.0}) + rng.normal(0, 0.6, 120)]
        + [rng.normal(0, 1, (120, 2))]
    )
    noisy = mu.copy()
    noisy[:, 0] += rng.normal(0, 0.6, len(ids))  # classes overlap: the training set matters
    src = _latent_df(np.concatenate([ids, extra_ids]), np.vstack([noisy, extra_mu]))
    tgt = _latent_df(ids, noisy + rng.normal(0, 0.3, noisy.shape))
    cat = pd.DataFrame({"id": np.concatenate([ids, extra_ids]), "bar": np.concatenate([y, extra_y])})
    kw = dict(catalog=cat, features=["bar"], min_galaxies=20, n_estimators=30, progress=False)
    row = compare_domains((src, tgt), after=(src, tgt), **kw).table.iloc[0]
    assert row["n_train_source"] == row["n_train_source_after"] == 320 - 60
    assert row["source_after"] == row["source_before"]
    assert row["target_after_source_forest"] == row["target_before"]
    # an 'after' catalogue without the source-only galaxies: the adapted forest learns from the overlap split
    short = compare_domains((src, tgt), after=(_latent_df(ids, noisy), tgt), **kw).table.iloc[0]
    assert short["n_train_source_after"] == short["n_train"] == 140
    # with source_train="overlap" both forests learn from the overlap split
    o = compare_domains((src, tgt), after=(src, tgt), source_train="overlap", **kw).table.iloc[0]
    assert o["n_train_source"] == o["n_train_source_after"] == 140
    assert o["target_after_source_forest"] == o["target_before"]


def test_heldout_pairs_are_measured_apart_from_the_training_pairs(tmp_path):
    ids, _, mu = _synthetic(n=120, seed=2)
    tgt = mu + np.random.default_rng(5).normal(0, 0.3, mu.shape)
    after_tgt = tgt.copy()
    after_tgt[:100] = mu[:100]  # an "adaptation" that matched its 100 training pairs and nothing else
    src = _latent_df(ids, mu)
    r = compare_domains(
        (src, _latent_df(ids, tgt)), after=(src, _latent_df(ids, after_tgt)), heldout_ids=ids[100:], progress=False
    )
    h = r.heldout
    assert h["n"] == 20 and h["source"] == "heldout_ids" and r.summary["heldout"]["n"] == 20
    # over every pair the training pairs' zero MSE is the median; over the held-out ones nothing changed
    assert r.mse["after"]["median"] == 0.0 < r.mse["before"]["median"]
    assert h["after"]["median"] == pytest.approx(h["before"]["median"]) and h["gain"] == pytest.approx(1.0)
    # random pairs: every ordered pair of two different held-out galaxies
    s, t = mu[100:], tgt[100:]
    rand = [np.mean((s[i] - t[j]) ** 2) for i in range(20) for j in range(20) if i != j]
    assert h["before"]["random_median"] == pytest.approx(np.median(rand))
    # the adaptation's validation metric (galvae adapt --monitor val_pair_ratio) is the same measure
    from galvae.training.adapt import pair_ratio

    assert h["before"]["paired_over_random"] == pytest.approx(pair_ratio(s, t), rel=1e-9)
    assert compare_domains((src, _latent_df(ids, tgt)), progress=False).heldout == {}


def test_a_control_run_separates_what_fine_tuning_alone_does_from_the_alignment(tmp_path):
    ids, _, mu = _synthetic(n=120, seed=2)
    rng = np.random.default_rng(5)
    tgt = mu + rng.normal(0, 0.3, mu.shape)
    # the control halves every pair's offset (fine-tuning alone), the adapted run quarters it
    ctl, aft = mu + (tgt - mu) / 2, mu + (tgt - mu) / 4
    src = _latent_df(ids, mu)
    held = ids[60:]
    kw = dict(heldout_ids=held, progress=False)
    r = compare_domains(
        (src, _latent_df(ids, tgt)), after=(src, _latent_df(ids, aft)), control=(src, _latent_df(ids, ctl)), **kw
    )
    h = r.heldout
    assert set(h) >= {"before", "after", "control", "gain", "gain_control", "gain_over_control"}
    # the control's own ratio, on the same held-out pairs and the same random pairs
    s, c = mu[60:], ctl[60:]
    rand = [np.mean((s[i] - c[j]) ** 2) for i in range(60) for j in range(60) if i != j]
    assert h["control"]["median"] == pytest.approx(np.median(np.mean((s - c) ** 2, axis=1)))
    assert h["control"]["random_median"] == pytest.approx(np.median(rand))
    assert h["gain"] == pytest.approx(h["gain_control"] * h["gain_over_control"], rel=1e-12)
    # paired MSE falls 4x (control) and 16x (adapted); random pairs barely move: the alignment adds ~4x
    assert 3 < h["gain_over_control"] < 5 and 3 < h["gain_control"] < 5
    # the control enters neither the stages nor Table 4, only the held-out measure and the inputs
    assert r.summary["stages"] == ["before", "after"] and set(r.mse) == {"before", "after"}
    assert r.summary["paths"]["control"] == ["DataFrame", "DataFrame"]
    # a control with nothing to compare it with is refused, naming the parameter
    with pytest.raises(galvae.GalvaeValueError, match="control .* give after too"):
        compare_domains((src, _latent_df(ids, tgt)), control=(src, _latent_df(ids, ctl)), **kw)
    # without held-out ids the control is not compared (and said so), the rest as before
    r = compare_domains(
        (src, _latent_df(ids, tgt)),
        after=(src, _latent_df(ids, aft)),
        control=(src, _latent_df(ids, ctl)),
        progress=False,
    )
    assert r.heldout == {}


def test_heldout_ids_come_from_the_adaptation_split(tmp_path):
    from galvae.evaluate.domains import _heldout_ids

    run = tmp_path / "run_da"
    run.mkdir()
    assert _heldout_ids(None, run) == (None, None)  # no split.json: not an adaptation run
    (run / "split.json").write_text(json.dumps({"seed": 0, "val_ids": ["a", "b"], "train_ids": ["c"]}))
    for where in (run, run / "model.json", str(run)):
        ids, source = _heldout_ids(None, where)
        assert ids.tolist() == ["a", "b"] and source == f"{run / 'split.json'} (val_ids)"
    assert _heldout_ids(["z"], run)[0].tolist() == ["z"]  # given ids win
    # test ids (galvae adapt --test-fraction) played no part in choosing the epoch: they win over val ids
    split = {"seed": 0, "val_ids": ["a"], "train_ids": ["c"], "test_ids": ["d", "e"]}
    (run / "split.json").write_text(json.dumps(split))
    ids, source = _heldout_ids(None, run)
    assert ids.tolist() == ["d", "e"] and source.endswith("(test_ids)")
    (run / "split.json").write_text("{not json")
    with pytest.raises(GalvaeFileError, match="unreadable adaptation split"):
        _heldout_ids(None, run)
