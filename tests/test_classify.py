from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from galvae.config import StretchConfig
from galvae.data.store import write_store
from galvae.errors import GalvaeValueError
from galvae.evaluate.classify import accuracy_interval, classify, repeat_splits

CLASSES = {"round": 1.0, "in-between": 0.6, "cigar": 0.25}


def _make(tmp_path, n_per=30, s=16, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:s, :s] - (s - 1) / 2
    imgs, ids, rows, lat = [], [], [], []
    k = 0
    for cls, q in CLASSES.items():
        for _ in range(n_per):
            th = rng.uniform(0, np.pi)
            u = xx * np.cos(th) + yy * np.sin(th)
            v = -xx * np.sin(th) + yy * np.cos(th)
            img = np.exp(-(u**2 + (v / q) ** 2) / (2 * 2.5**2))
            imgs.append(np.stack([img * f for f in (0.6, 0.8, 1.0)]) + rng.normal(0, 0.02, (3, s, s)))
            gid = f"g{k:03d}"
            ids.append(gid)
            frac = {c: 0.05 for c in ("round", "in-between", "cigar-shaped")}
            frac["cigar-shaped" if cls == "cigar" else cls] = 0.9
            merger = k % 9 == 0
            rows.append(
                {
                    "id": gid,
                    "smooth-or-featured_smooth_fraction": 0.9,
                    "smooth-or-featured_featured-or-disk_fraction": 0.05,
                    "smooth-or-featured_artifact_fraction": 0.05,
                    **{f"how-rounded_{a}_fraction": f for a, f in frac.items()},
                    "merging_none_fraction": 0.1 if merger else 0.9,
                    "merging_minor-disturbance_fraction": 0.0,
                    "merging_major-disturbance_fraction": 0.0,
                    "merging_merger_fraction": 0.9 if merger else 0.1,
                }
            )
            lat.append([q + rng.normal(0, 0.05), *rng.normal(0, 1, 3)])
            k += 1
    imgs = np.clip(np.asarray(imgs, np.float32), 0, 1)
    store = write_store(tmp_path / "s.h5", imgs, ids, survey="test", normalisation=StretchConfig())
    lat = np.asarray(lat)
    latents = pd.DataFrame({"id": ids, **{f"mu_{j}": lat[:, j] for j in range(4)}})
    return store, pd.DataFrame(rows), latents


def test_forest_beats_majority_and_baselines_share_split(tmp_path) -> None:
    store, cat, lat = _make(tmp_path)
    res = classify(
        lat,
        cat,
        store=store,
        out_dir=tmp_path / "out",
        n_estimators=20,
        cnn_epochs=2,
        cnn_channels=(8, 16),
        progress=False,
    )
    t = res.table
    vae = t[(t.feature == "how_rounded") & (t.method == "vae")].iloc[0]
    assert vae.n_classes == 3 and vae.n_test == 27
    assert vae.accuracy > vae.majority_rate + 0.3
    assert vae.accuracy == pytest.approx(vae.precision) == pytest.approx(vae.f1)  # micro averaging
    rows = t[t.feature == "how_rounded"].set_index("method")
    assert rows.index.tolist() == ["vae", "pca", "cnn"]
    assert (rows.n_test == 27).all() and (rows.n_train == 63).all()
    # 21 of each class in training: a three-way tie, broken by the first class name ("cigar"), right on 9 of 27
    assert rows.majority_rate.tolist() == pytest.approx([1 / 3] * 3)
    for method, row in rows.iterrows():  # each accuracy is its confusion matrix's
        cm = res.confusion[("how_rounded", method)]
        assert cm.sum() == 27 and row.accuracy == pytest.approx(np.trace(cm) / 27), method
    # the PCA baseline, rebuilt by hand: 4 components of every labelled image, the same forest and split
    from sklearn.decomposition import PCA

    from galvae.data.store import ImageStore
    from galvae.evaluate.protocol import random_forest

    with ImageStore(store) as st:
        pixels = st.read(st.index_of(lat["id"])).reshape(len(lat), -1)
    feats = pd.DataFrame(PCA(n_components=4, random_state=0).fit(pixels).transform(pixels), index=lat["id"])
    truth = pd.Series(np.repeat(["round", "in-between", "cigar"], 30), index=lat["id"])
    split = res.splits["how_rounded"]
    forest = random_forest(20, 0).fit(feats.loc[split["train"]], truth.loc[split["train"]])
    by_hand = np.mean(forest.predict(feats.loc[split["test"]]) == truth.loc[split["test"]].to_numpy())
    assert rows.loc["pca", "accuracy"] == pytest.approx(by_hand)
    assert rows.loc["pca", "accuracy"] >= rows.loc["pca", "majority_rate"] + 0.3  # the ellipses are easy
    assert rows.loc["cnn", "epochs_trained"] == 2 and 1 <= rows.loc["cnn", "best_epoch"] <= 2
    assert not set(split["train"]) & set(split["test"])
    # the split is stratified: 9 of each class in the test set
    assert truth.loc[split["test"]].value_counts().tolist() == [9, 9, 9]
    # binary feature, positive = first Table 2 class
    assert t[(t.feature == "merger") & (t.method == "vae")].iloc[0].averaging.startswith("binary (positive: merger")
    assert "bar" in res.skipped and "edge_on" in res.skipped
    out = tmp_path / "out"
    for name in (
        "table3.csv",
        "table3.md",
        "classify.json",
        "confusion_how_rounded.png",
        "splits.json",
    ):
        assert (out / name).is_file(), name
    assert "VAE acc" in (out / "table3.md").read_text()
    js = json.loads((out / "classify.json").read_text())
    assert js["skipped"]["bar"] and len(js["results"]) == len(t)
    # every test galaxy's predictions; the paired comparison is counted from them
    pred = pd.read_csv(out / "predictions.csv", dtype={"id": str})
    hr = pred[pred.feature == "how_rounded"]
    assert sorted(hr["id"]) == sorted(split["test"]) and set(pred.columns) == {
        "feature",
        "id",
        "truth",
        "vae",
        "pca",
        "cnn",
    }
    for method, row in rows.iterrows():
        assert np.mean(hr[method] == hr["truth"]) == pytest.approx(row.accuracy), method
    vae_right, pca_right = hr["vae"] == hr["truth"], hr["pca"] == hr["truth"]
    assert rows.loc["pca", "vae_only_right"] == (vae_right & ~pca_right).sum()
    assert rows.loc["pca", "method_only_right"] == (~vae_right & pca_right).sum()
    assert pd.isna(rows.loc["vae", "mcnemar_p"]) and 0 < rows.loc["pca", "mcnemar_p"] <= 1
    assert "McNemar" in (out / "table3.md").read_text()
    # each accuracy inside its Wilson interval, which is as wide as n_test makes it
    for method, row in rows.iterrows():
        assert row.accuracy_lo < row.accuracy < row.accuracy_hi or row.accuracy in (0.0, 1.0), method
        k = round(row.accuracy * row.n_test)
        assert (row.accuracy_lo, row.accuracy_hi) == pytest.approx(accuracy_interval(k, row.n_test)), method
    assert "Wilson interval" in (out / "table3.md").read_text()


def test_accuracy_interval_reference_values() -> None:
    # Wilson (1927) by hand, z = 1.959964: 8 of 10 -> centre (0.8 + z²/20) / (1 + z²/10) = 0.71674,
    # half-width z sqrt(0.016 + z²/400) / (1 + z²/10) = 0.22658
    lo, hi = accuracy_interval(8, 10)
    assert (lo, hi) == (pytest.approx(0.490162, abs=1e-6), pytest.approx(0.943318, abs=1e-6))
    lo, hi = accuracy_interval(10, 10)  # stays inside [0, 1]: upper end exactly 1
    assert hi == pytest.approx(1.0) and lo == pytest.approx(10 / (10 + 1.959964**2), abs=1e-6)
    # ten times the galaxies, a third of the width: 80 of 100 -> 0.78890 ± 0.07773
    assert accuracy_interval(80, 100) == (pytest.approx(0.711170, abs=1e-5), pytest.approx(0.866633, abs=1e-5))
    assert np.isnan(accuracy_interval(0, 0)).all()
    with pytest.raises(GalvaeValueError, match="n_right must be between 0 and n = 10"):
        accuracy_interval(11, 10)
    with pytest.raises(GalvaeValueError, match="confidence"):
        accuracy_interval(5, 10, confidence=1.5)


def test_mcnemar_reference_values() -> None:
    from galvae.evaluate.classify import mcnemar

    # 10 disagreements, all one way: p = 2 * 0.5**10 (exact two-sided binomial)
    a = np.array([True] * 10 + [True] * 5 + [False] * 5)
    b = np.array([False] * 10 + [True] * 5 + [False] * 5)
    assert mcnemar(a, b) == (10, 0, pytest.approx(2 * 0.5**10))
    assert mcnemar(b, a)[:2] == (0, 10)
    # 6 against 4: far from significant (p = 0.754, binomial two-sided)
    a = np.array([True] * 6 + [False] * 4)
    assert mcnemar(a, ~a) == (6, 4, pytest.approx(0.75390625))
    assert mcnemar(a, a) == (0, 0, 1.0)  # never disagree
    with pytest.raises(GalvaeValueError, match="equal-length"):
        mcnemar(a, a[:3])


def test_same_seed_same_result(tmp_path) -> None:
    _store, cat, lat = _make(tmp_path, n_per=12)
    a = classify(
        lat,
        cat,
        baselines=(),
        features=["how_rounded"],
        n_estimators=10,
        progress=False,
        min_galaxies=10,
    )
    b = classify(
        lat,
        cat,
        baselines=(),
        features=["how_rounded"],
        n_estimators=10,
        progress=False,
        min_galaxies=10,
    )
    pd.testing.assert_frame_equal(a.table, b.table)
    c = classify(
        lat,
        cat,
        baselines=(),
        features=["how_rounded"],
        n_estimators=10,
        progress=False,
        min_galaxies=100,
    )
    assert "min_galaxies" in c.skipped["how_rounded"] and c.table.empty


def test_min_galaxies_is_a_minimum(tmp_path) -> None:
    # 36 galaxies labelled how_rounded: evaluated with min_galaxies = 36, skipped with 37
    _store, cat, lat = _make(tmp_path, n_per=12)
    kw = dict(baselines=(), features=["how_rounded"], n_estimators=5, progress=False)
    evaluated = classify(lat, cat, min_galaxies=36, **kw).table
    assert (evaluated["n_train"] + evaluated["n_test"]).tolist() == [36]
    skipped = classify(lat, cat, min_galaxies=37, **kw)
    assert skipped.table.empty
    assert skipped.skipped == {"how_rounded": "36 labelled galaxies, fewer than min_galaxies=37"}


def test_errors(tmp_path) -> None:
    store, cat, lat = _make(tmp_path, n_per=5)
    with pytest.raises(GalvaeValueError, match="need the image store"):
        classify(lat, cat, progress=False)
    with pytest.raises(GalvaeValueError, match="unknown baseline 'svm'"):
        classify(lat, cat, store=store, baselines=("svm",), progress=False)
    with pytest.raises(GalvaeValueError, match="unknown feature 'colour'"):
        classify(lat, cat, baselines=(), features=["colour"], progress=False)
    with pytest.raises(GalvaeValueError, match="test_size"):
        classify(lat, cat, baselines=(), test_size=1.5, progress=False)
    with pytest.raises(GalvaeValueError, match="no id is both"):
        classify(lat.assign(id="x" + lat["id"]), cat, baselines=(), progress=False)


def test_cli(tmp_path, capsys) -> None:
    from galvae.cli import classify as cli

    store, cat, lat = _make(tmp_path, n_per=12)
    cat.to_csv(tmp_path / "cat.csv", index=False)
    lat_path = tmp_path / "lat.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(lat, preserve_index=False)
    pq.write_table(table.replace_schema_metadata({b"galvae": b'{"latent_dim": 4}'}), lat_path)
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    cli.register(sub)
    args = p.parse_args(
        [
            "classify",
            str(lat_path),
            str(tmp_path / "cat.csv"),
            "--store",
            str(store),
            "--out",
            str(tmp_path / "o"),
            "--n-estimators",
            "10",
            "--cnn-epochs",
            "1",
            "--min-galaxies",
            "10",
            "--features",
            "how_rounded",
            "--cnn-precision",
            "bf16-mixed",
            "--no-cnn-augment",
            "--repeats",
            "2",
        ]
    )
    args.progress = False
    assert args.func(args) == 0
    assert (tmp_path / "o" / "repeats.md").is_file()
    assert set(pd.read_csv(tmp_path / "o" / "repeats.csv")["seed"]) == {0, 1}
    params = json.loads((tmp_path / "o" / "classify.json").read_text())["params"]
    assert params["cnn_precision"] == "bf16-mixed" and params["cnn_augment"] is False
    out = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "o" / "table3.csv")
    assert table["method"].tolist() == ["vae", "pca", "cnn"] and (table["feature"] == "how_rounded").all()
    table3_part = out[: out.index("wrote")]  # the repeats' summary follows
    printed = [line.split() for line in table3_part.splitlines() if line.split()[:1] == ["how_rounded"]]
    assert [r[1] for r in printed] == ["VAE", "PCA", "CNN"]
    assert [float(r[4]) for r in printed] == pytest.approx(table["accuracy"].round(3).tolist())


def test_repeated_splits_summarise_each_split(tmp_path) -> None:
    store, cat, lat = _make(tmp_path, n_per=12)
    kw = dict(store=store, baselines=("pca",), n_estimators=10, min_galaxies=10, features=["how_rounded"])
    summary = repeat_splits(lat, cat, repeats=3, seed=4, out_dir=tmp_path / "r", **kw)
    assert summary[["feature", "method"]].values.tolist() == [["how_rounded", "vae"], ["how_rounded", "pca"]]
    assert (summary["splits"] == 3).all()
    per = pd.read_csv(tmp_path / "r" / "repeats.csv")
    assert sorted(set(per["seed"])) == [4, 5, 6]
    # each split is classify at its seed: the third, recomputed alone
    third = classify(lat, cat, seed=6, progress=False, **kw).table.set_index("method")["accuracy"]
    rows = per[per["seed"] == 6].set_index("method")
    assert rows.loc["pca", "accuracy"] == pytest.approx(third["pca"])
    assert rows.loc["pca", "vae_minus"] == pytest.approx(third["vae"] - third["pca"])
    pca = summary.set_index("method").loc["pca"]
    assert pca["accuracy_mean"] == pytest.approx(per[per.method == "pca"]["accuracy"].mean())
    assert pca["vae_at_least"] == int((per[per.method == "pca"]["vae_minus"] >= 0).sum())
    assert summary.set_index("method").loc["vae", "vae_minus_mean"] == 0.0
    assert "latents − method" in (tmp_path / "r" / "repeats.md").read_text()
    # a result already computed for the first seed is reused as it is
    first = classify(lat, cat, seed=4, progress=False, **kw)
    again = repeat_splits(lat, cat, repeats=3, seed=4, first=first, **kw)
    pd.testing.assert_frame_equal(again, summary)
    with pytest.raises(GalvaeValueError, match="repeats must be an integer of at least 2"):
        repeat_splits(lat, cat, repeats=1, **kw)


def test_prelabelled_table_from_csv(tmp_path) -> None:
    from galvae.data.labels import labels_from_catalog

    _, cat, lat = _make(tmp_path, n_per=12)
    labels = labels_from_catalog(cat)
    labels.to_csv(tmp_path / "labels.csv", index=False)
    res = classify(
        lat,
        tmp_path / "labels.csv",
        baselines=(),
        n_estimators=5,
        progress=False,
        min_galaxies=10,
    )
    row = res.table[res.table.feature == "merger"].iloc[0]
    assert row.classes == "merger,none" and row.averaging == "binary (positive: merger)"
    assert res.table[res.table.feature == "how_rounded"].iloc[0].classes == "round,in-between,cigar"


def test_one_protocol_pca_fit_ids_and_cnn_convergence(tmp_path) -> None:
    store, cat, lat = _make(tmp_path)
    kw = dict(store=store, features=["how_rounded"], n_estimators=20, cnn_channels=(8, 16), progress=False)
    # PCA sees exactly the images it is told (the VAE's training galaxies), the forests the same 70/30 split
    fit = lat["id"].tolist()[::3]
    res = classify(lat, cat, out_dir=tmp_path / "o", fit_ids=fit, cnn_epochs=30, **kw)
    js = json.loads((tmp_path / "o" / "classify.json").read_text())
    assert js["params"]["pca_fit_images"] == len(fit)
    t = res.table.set_index("method")
    # the ellipses are easy: the CNN is the upper bound it should be
    assert t.loc["cnn", "accuracy"] >= t.loc["cnn", "majority_rate"] + 0.3
    assert t.loc["cnn", "epochs_trained"] <= 30 and np.isnan(t.loc["vae", "epochs_trained"])
    # early stopping by patience: labels shuffled against the images cannot be learnt, the held-out loss
    # stops improving, and training ends exactly `patience` epochs after its best epoch, long before the cap
    shuffled = cat.assign(id=cat["id"].sample(frac=1.0, random_state=1).to_numpy())
    r = classify(lat, shuffled, cnn_epochs=60, cnn_patience=2, **kw).table.set_index("method")
    assert r.loc["cnn", "epochs_trained"] == r.loc["cnn", "best_epoch"] + 2 < 60
    # with no run to read the training ids from, every labelled galaxy's image fits the PCA
    res2 = classify(lat, cat, out_dir=tmp_path / "o2", cnn_epochs=1, **kw)
    assert json.loads((tmp_path / "o2" / "classify.json").read_text())["params"]["pca_fit_images"] == 90
    assert res2.splits == res.splits
    with pytest.raises(GalvaeValueError, match="class_weight"):
        classify(lat, cat, class_weight="equal", **kw)
    with pytest.raises(GalvaeValueError, match="cnn_precision.*'fp8'"):
        classify(lat, cat, cnn_precision="fp8", **kw)
    # bfloat16 arithmetic learns the same easy classes
    r16 = classify(lat, cat, cnn_epochs=30, cnn_precision="bf16-mixed", **kw).table.set_index("method")
    assert r16.loc["cnn", "accuracy"] >= r16.loc["cnn", "majority_rate"] + 0.3
    with pytest.raises(GalvaeValueError, match="n_jobs"):
        classify(lat, cat, n_jobs=0, **kw)


@pytest.mark.parametrize(
    ("losses", "patience", "stopped_at", "best_epoch"),
    [
        ([1.0, 0.9, 0.95, 0.96, 0.8], 2, 4, 2),  # two epochs without a new best after epoch 2
        ([1.0, 0.9, 0.95, 0.8, 0.85, 0.9], 2, 6, 4),  # epoch 4 resets the count
        ([1.0, 1.0 - 5e-5, 0.5], 1, 2, 1),  # an improvement below min_delta (1e-4) is none
        ([3.0, 2.0, 1.0], 1, None, 3),  # always improving: never stops
    ],
)
def test_cnn_stops_by_patience(losses, patience, stopped_at, best_epoch) -> None:
    from galvae.evaluate.cnn_baseline import Patience

    stop = Patience(patience)
    at = next((i + 1 for i, v in enumerate(losses) if stop.update(v)), None)
    assert at == stopped_at and stop.best_epoch == best_epoch


def test_cnn_augmentation_turns_and_flips() -> None:
    """Augmented training sees every orientation: a class defined only by orientation cannot be learnt with it."""
    from galvae.evaluate.cnn_baseline import CNNOptions, train_cnn

    rng = np.random.default_rng(0)
    n, s = 160, 16
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 0.05, (n, 3, s, s)).astype(np.float32)
    for i in range(n):  # a horizontal (class 0) or vertical (class 1) stripe through the centre
        if y[i] == 0:
            x[i, :, 7:9, 2:14] += 1.0
        else:
            x[i, :, 2:14, 7:9] += 1.0
    kw = dict(channels=(4, 8), epochs=15, patience=15, batch_size=16, lr=3e-3, seed=0)
    plain = train_cnn(x[:120], y[:120], x[120:], 2, CNNOptions(augment=False, **kw)).predictions
    assert (plain == y[120:]).mean() >= 0.95  # orientation is easy to see...
    # ...and the training images are shown turned: each image by its own quarter turn and mirror (the held-out
    # images that pick the best epoch are not turned, so the trained network's accuracy here would only say which
    # way an orientation-blind epoch happened to lean)
    import torch

    from galvae.data.augment import turn_and_flip

    stripes = torch.zeros(400, 1, s, s)
    stripes[:, :, 7:9, 2:14] = 1.0
    stripes[:, :, 3, 2] = 2.0  # a marker that tells the eight turns and mirrors apart
    out = turn_and_flip(stripes, torch.Generator().manual_seed(0))
    horizontal = out[:, 0, 7:9, 2:14].mean(dim=(1, 2)) == 1.0
    assert 0.4 < horizontal.float().mean() < 0.6
    d4 = [torch.rot90(torch.flip(stripes[0], (2,)) if f else stripes[0], k, (1, 2)) for f in (0, 1) for k in range(4)]
    seen = {next(i for i, t in enumerate(d4) if torch.equal(o, t)) for o in out}
    assert seen == set(range(8))
    with pytest.raises(GalvaeValueError, match="CNN baseline precision.*'16'"):
        train_cnn(x[:20], y[:20], x[:4], 2, CNNOptions(precision="16", **kw))


def test_cnn_learns_from_faint_bands_as_from_bright_ones() -> None:
    """Inputs are standardised per band: the stripes at a thousandth of their brightness on an offset sky."""
    from galvae.evaluate.cnn_baseline import CNNOptions, train_cnn

    rng = np.random.default_rng(0)
    n, s = 160, 16
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 0.05, (n, 3, s, s)).astype(np.float32)
    for i in range(n):
        if y[i] == 0:
            x[i, :, 7:9, 2:14] += 1.0
        else:
            x[i, :, 2:14, 7:9] += 1.0
    faint = (x * np.float32(1e-3) + np.array([0.02, 0.03, 0.05], np.float32)[None, :, None, None]).astype(np.float32)
    kw = dict(channels=(4, 8), epochs=15, patience=15, batch_size=16, lr=3e-3, seed=0, augment=False)
    for images in (x, faint):
        assert (
            train_cnn(images[:120], y[:120], images[120:], 2, CNNOptions(**kw)).predictions == y[120:]
        ).mean() >= 0.95


def test_baselines_read_the_labelled_images_once_when_they_fit_in_memory(tmp_path, monkeypatch) -> None:
    import galvae.evaluate.classify as C
    from galvae.data.store import ImageStore

    store, cat, lat = _make(tmp_path, n_per=12)
    reads: list[int] = []
    real_read = ImageStore.read

    def counting_read(self, index=slice(None)):
        block = real_read(self, index)
        reads.append(len(block))
        return block

    monkeypatch.setattr(ImageStore, "read", counting_read)
    kw = dict(
        store=store,
        features=["how_rounded", "merger"],
        n_estimators=10,
        cnn_epochs=1,
        cnn_channels=(4, 8),
        progress=False,
        min_galaxies=10,
    )
    cached = classify(lat, cat, **kw).table
    # the PCA's fit images, then every labelled galaxy once for the PCA features and both features' CNNs
    assert reads == [36, 36]
    reads.clear()
    monkeypatch.setattr(C, "_MAX_CACHED_BYTES", 0)
    per_feature = classify(lat, cat, **kw).table
    assert len(reads) == 4  # fit, PCA features, then one read per feature
    pd.testing.assert_frame_equal(cached, per_feature)
