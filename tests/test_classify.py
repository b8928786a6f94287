from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from galvae.config import StretchConfig
from galvae.data.store import write_store
from galvae.errors import GalvaeValueError
from galvae.evaluate.classify import classification_metrics, classify

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
    assert set(t[t.feature == "how_rounded"].method) == {"vae", "pca", "cnn"}
    rows = t[t.feature == "how_rounded"]
    assert rows.n_test.nunique() == 1 and rows.n_train.nunique() == 1
    cm = sum(res.confusion[("how_rounded", m)].sum() for m in ("vae", "pca", "cnn"))
    assert cm == 3 * 27
    split = res.splits["how_rounded"]
    assert not set(split["train"]) & set(split["test"])
    # the split is stratified: 9 of each class in the test set
    truth = dict(zip(lat["id"], np.repeat(list(CLASSES), 30), strict=True))
    assert pd.Series([truth[i] for i in split["test"]]).value_counts().tolist() == [
        9,
        9,
        9,
    ]
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


def test_metrics_hand_made() -> None:
    y = ["a", "a", "b", "b"]
    p = ["a", "b", "b", "b"]
    m = classification_metrics(y, p, ["a", "b"])
    assert m["precision"] == 1.0 and m["recall"] == 0.5 and m["accuracy"] == 0.75
    m3 = classification_metrics(["a", "b", "c", "c"], ["a", "c", "c", "c"], ["a", "b", "c"])
    assert m3["precision"] == m3["recall"] == m3["f1"] == m3["accuracy"] == 0.75
    assert m3["f1_macro"] == pytest.approx((1 + 0 + 0.8) / 3)


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
    from galvae.data.labels import write_table

    lat_path = tmp_path / "lat.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(lat, preserve_index=False)
    pq.write_table(table.replace_schema_metadata({b"galvae": b'{"latent_dim": 4}'}), lat_path)
    assert write_table  # the catalogue writer exists; the CSV above is read by read_catalog
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
        ]
    )
    args.progress = False
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "how_rounded" in out and "VAE" in out.upper()
    assert (tmp_path / "o" / "table3.csv").is_file()


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
    res = classify(lat, cat, out_dir=tmp_path / "o", fit_ids=fit, cnn_epochs=12, **kw)
    js = json.loads((tmp_path / "o" / "classify.json").read_text())
    assert js["params"]["pca_fit_images"] == len(fit)
    t = res.table.set_index("method")
    # the ellipses are easy: the CNN is the upper bound it should be
    assert t.loc["cnn", "accuracy"] >= t.loc["cnn", "majority_rate"] + 0.3
    assert t.loc["cnn", "epochs_trained"] <= 12 and np.isnan(t.loc["vae", "epochs_trained"])
    # early stopping by patience: labels shuffled against the images cannot be learnt, the held-out loss
    # stops improving, and training ends long before the cap (but not before patience + 1 epochs)
    shuffled = cat.assign(id=cat["id"].sample(frac=1.0, random_state=1).to_numpy())
    r = classify(lat, shuffled, cnn_epochs=60, cnn_patience=2, **kw).table.set_index("method")
    assert 3 <= r.loc["cnn", "epochs_trained"] < 30
    # with no run to read the training ids from, every labelled galaxy's image fits the PCA
    res2 = classify(lat, cat, out_dir=tmp_path / "o2", cnn_epochs=1, **kw)
    assert json.loads((tmp_path / "o2" / "classify.json").read_text())["params"]["pca_fit_images"] == 90
    assert res2.splits == res.splits
    with pytest.raises(GalvaeValueError, match="class_weight"):
        classify(lat, cat, class_weight="equal", **kw)
    with pytest.raises(GalvaeValueError, match="n_jobs"):
        classify(lat, cat, n_jobs=0, **kw)


def test_averaging_follows_table2_when_a_class_is_dropped() -> None:
    # how_rounded has three Table 2 classes; with "cigar" dropped as rare, two remain: still micro averaging
    y = np.array(["round"] * 6 + ["in-between"] * 4)
    p = np.array(["round"] * 5 + ["in-between"] * 5)
    micro = classification_metrics(y, p, ["round", "in-between"], averaging="micro")
    assert micro["averaging"] == "micro" and micro["f1"] == pytest.approx(micro["accuracy"]) == pytest.approx(0.9)
    binary = classification_metrics(y, p, ["round", "in-between"])
    assert binary["averaging"].startswith("binary") and binary["precision"] == pytest.approx(1.0)
    with pytest.raises(GalvaeValueError, match="two classes"):
        classification_metrics(y, p, ["round", "in-between", "cigar"], averaging="binary")
