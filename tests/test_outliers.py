from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from galvae.config import StretchConfig
from galvae.data.store import write_store
from galvae.errors import GalvaeValueError
from galvae.evaluate.outliers import (
    find_outliers,
    outlier_precision_recall,
    outliers_report,
)


def _latents(n=400, nl=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, nl))
    planted = [5, 17, 200]
    x[5, 2] = 40.0
    x[17, 0] = -35.0
    x[200, 5] = 50.0
    return x, planted


def test_planted_flagged_ordinary_not() -> None:
    x, planted = _latents()
    for robust in (False, True):
        res = find_outliers(x, sigma=8, robust=robust)
        assert np.flatnonzero(res.flagged).tolist() == planted
        assert res.latent_index[planted].tolist() == [2, 0, 5]
        assert res.flagged_fraction == pytest.approx(3 / 400)
    # k = 3 flags some ordinary galaxies too, k = 100 none
    assert find_outliers(x, sigma=3).n_flagged > 3
    assert find_outliers(x, sigma=100).n_flagged == 0


def test_robust_scale_resists_contamination() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (200, 2))
    x[:20, 0] = 30.0  # 10 % contamination inflates the standard deviation
    plain = find_outliers(x, sigma=5)
    robust = find_outliers(x, sigma=5, robust=True)
    assert plain.n_flagged == 0
    assert robust.flagged[:20].all() and robust.n_flagged == 20
    assert robust.scale[1] == pytest.approx(1.4826 * np.median(np.abs(x[:, 1] - np.median(x[:, 1]))))


def test_precision_recall_hand_made() -> None:
    z = np.array([1.0, 9.0, 12.0, 2.0, 7.0, 20.0])
    d = np.array([False, True, False, True, True, True])
    t = outlier_precision_recall(z, d, [5, 8, 15, 30])
    assert t["n_flagged"].tolist() == [4, 3, 1, 0]
    assert t["precision"].tolist()[:3] == [0.75, pytest.approx(2 / 3), 1.0]
    assert np.isnan(t["precision"].iloc[3])
    assert t["recall"].tolist() == [0.75, 0.5, 0.25, 0.0]


def test_zero_scale_latent_ignored() -> None:
    x = np.zeros((10, 2))
    x[:, 1] = np.arange(10)
    res = find_outliers(x, sigma=1)
    assert res.z[:, 0].tolist() == [0.0] * 10


def test_errors() -> None:
    with pytest.raises(GalvaeValueError, match="sigma must be a positive"):
        find_outliers(np.zeros((3, 2)), sigma=0)
    with pytest.raises(GalvaeValueError, match=r"\(N, NL\)"):
        find_outliers(np.zeros(3))
    with pytest.raises(GalvaeValueError, match="at least two"):
        find_outliers(np.zeros((1, 2)))
    with pytest.raises(GalvaeValueError, match="non-finite"):
        find_outliers(np.array([[np.nan], [1.0]]))
    with pytest.raises(GalvaeValueError, match="same length"):
        outlier_precision_recall(np.zeros(3), np.zeros(2, bool))


def _files(tmp_path):
    x = np.random.default_rng(3).normal(0, 1, (60, 4))
    x[5, 2], x[17, 0] = 40.0, -35.0
    ids = [f"g{i:02d}" for i in range(60)]
    lat = pd.DataFrame({"id": ids, **{f"mu_{j}": x[:, j] for j in range(4)}})
    defect = np.array(["none"] * 60, dtype=object)
    defect[[5, 17, 30]] = ["satellite_trail", "bad_column", "cosmic_ray"]
    cat = pd.DataFrame({"id": ids, "defect": defect})
    rng = np.random.default_rng(0)
    store = write_store(
        tmp_path / "s.h5",
        rng.uniform(0, 1, (60, 3, 16, 16)).astype(np.float32),
        ids,
        survey="t",
        normalisation=StretchConfig(),
    )
    return lat, cat, store


def test_report_files(tmp_path) -> None:
    lat, cat, store = _files(tmp_path)
    s = outliers_report(lat, tmp_path / "o", sigma=5, catalog=cat, store=store)
    assert s["n_flagged"] == 2  # g05 and g17
    assert s["precision"] == 1.0 and s["recall"] == pytest.approx(2 / 3)
    csv = pd.read_csv(tmp_path / "o" / "outliers.csv")
    assert csv["id"].tolist() == ["g05", "g17"]
    for name in (
        "outliers_gallery.png",
        "outliers_pr.png",
        "outliers_pr.csv",
        "outliers.json",
    ):
        assert (tmp_path / "o" / name).is_file(), name
    js = json.loads((tmp_path / "o" / "outliers.json").read_text())
    assert js["n_defects"] == 3 and len(js["precision_recall_vs_k"]) == 6
    # two of the three defects rank first of 60 by |z|, the third (g30) among the 57 clean ones
    z = find_outliers(lat, sigma=5).max_abs_z
    rank30 = int((z[[i for i in range(60) if i not in (5, 17, 30)]] < z[30]).sum())
    assert js["auroc"] == {"max_abs_z": pytest.approx((57 + 57 + rank30) / (3 * 57))}
    # a reconstruction error that ranks every defect first scores 1; one that ranks them last, 0
    recon = np.where(np.isin(np.arange(60), [5, 17, 30]), 1.0, 0.1)
    assert outliers_report(lat.assign(recon_error=recon), tmp_path / "o2", sigma=5, catalog=cat)["auroc"] == {
        "max_abs_z": js["auroc"]["max_abs_z"],
        "recon_error": 1.0,
    }
    last = outliers_report(lat.assign(recon_error=-recon), tmp_path / "o3", sigma=5, catalog=cat)
    assert last["auroc"]["recon_error"] == 0.0
    clean = outliers_report(lat, tmp_path / "o4", sigma=5, catalog=cat.assign(defect="none"))
    assert clean["n_defects"] == 0 and clean["auroc"] == {"max_abs_z": None}


def test_cli(tmp_path, capsys) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from galvae.cli import outliers as cli

    lat, cat, store = _files(tmp_path)
    pq.write_table(
        pa.Table.from_pandas(lat, preserve_index=False).replace_schema_metadata({b"galvae": b"{}"}),
        tmp_path / "l.parquet",
    )
    cat.to_csv(tmp_path / "c.csv", index=False)
    p = argparse.ArgumentParser()
    cli.register(p.add_subparsers())
    args = p.parse_args(
        [
            "outliers",
            str(tmp_path / "l.parquet"),
            "--sigma",
            "5",
            "--catalog",
            str(tmp_path / "c.csv"),
            "--store",
            str(store),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "2 of 60 galaxies" in out and "precision" in out
    assert "planted defects: 3; AUROC (0.5 = blind to them): max_abs_z 0." in out


def test_through_cli_frame(tmp_path, capsys) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    import galvae.cli as frame

    lat, _cat, _store = _files(tmp_path)
    pq.write_table(
        pa.Table.from_pandas(lat, preserve_index=False).replace_schema_metadata({b"galvae": b"{}"}),
        tmp_path / "l.parquet",
    )
    assert (
        frame.main(
            [
                "outliers",
                str(tmp_path / "l.parquet"),
                "--sigma",
                "5",
                "--robust",
                "--out",
                str(tmp_path / "o"),
                "-q",
            ]
        )
        == 0
    )
    assert "beyond 5 sigma (median, 1.4826 x MAD)" in capsys.readouterr().out
    assert (
        frame.main(
            [
                "outliers",
                str(tmp_path / "l.parquet"),
                "--sigma",
                "-1",
                "--out",
                str(tmp_path / "o"),
                "-q",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "sigma must be a positive" in err and "Traceback" not in err
