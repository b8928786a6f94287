from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from PIL import Image

from galvae import GalvaeFileError, GalvaeValueError, ImageStore, StretchConfig
from galvae.cli import main
from galvae.data import ingest as ingest_mod
from galvae.data.ingest import ingest
from galvae.data.preprocess import stretch


def _fits(path, value=1.0, size=24, bands="grz", nan_at=None):
    data = np.full((len(bands), size, size), value, dtype=np.float32)
    data += np.arange(len(bands), dtype=np.float32)[:, None, None]
    if nan_at is not None:
        data[(0,) + nan_at] = np.nan
    hdu = fits.PrimaryHDU(data)
    hdu.header["BANDS"] = bands
    hdu.header["CD1_1"] = -0.262 / 3600
    hdu.header["CD2_2"] = 0.262 / 3600
    hdu.writeto(path)
    return path


@pytest.fixture
def cutouts(tmp_path):
    d = tmp_path / "cut"
    d.mkdir()
    for i in range(5):
        _fits(d / f"gal{i}.fits", value=0.1 * (i + 1), nan_at=(3, 3) if i == 2 else None)
    return d


def test_ingest_directory(cutouts, tmp_path):
    rep = ingest(cutouts, tmp_path / "s.h5", size=16, survey="decals", progress=False)
    assert rep.n_written == 5 and rep.unreadable == () and rep.duplicates == ()
    s = ImageStore(tmp_path / "s.h5")
    assert s.ids.tolist() == [f"gal{i}" for i in range(5)]
    assert s.survey == "decals" and s.size == 16 and s.has_mask
    assert s.normalisation == StretchConfig()  # flux -> asinh
    # 24 input px of 0.262" resized to 16 px
    assert s.pixel_scale_arcsec == pytest.approx(0.262 * 24 / 16)
    imgs = s.read()
    assert imgs.dtype == np.float32 and imgs.min() >= 0 and imgs.max() <= 1
    # a constant image stays constant; the value is the asinh stretch of the flux
    expect = stretch(np.array([0.1, 1.1, 2.1], np.float32)[:, None, None] * np.ones((3, 1, 1), np.float32))
    np.testing.assert_allclose(imgs[0][:, 5, 5], expect[:, 0, 0], rtol=1e-5)
    assert s.read_mask(2).any() and not s.read_mask(0).any()
    with h5py.File(tmp_path / "s.h5") as f:
        assert f["images"].chunks[1:] == (3, 16, 16)
    rep_json = json.loads((tmp_path / "s.h5.ingest.json").read_text())
    assert rep_json["n_written"] == 5


def test_ingest_catalogue_reports_unreadable_duplicates_and_escapes(cutouts, tmp_path):
    (cutouts / "broken.fits").write_text("garbage")
    outside = tmp_path / "outside.fits"
    _fits(outside)
    cat = pd.DataFrame(
        {
            "id": ["a", "b", "a", "c", "d", "e"],
            "file": ["gal0.fits", "gal1.fits", "gal3.fits", "broken.fits", "../outside.fits", None],
        }
    )
    cat.to_parquet(cutouts / "cat.parquet")
    rep = ingest(cutouts / "cat.parquet", tmp_path / "s.h5", size=16, progress=False)
    assert rep.n_written == 2
    assert rep.duplicates == ("a",)
    reasons = {gid: reason for gid, _, reason in rep.unreadable}
    assert set(reasons) == {"c", "d", "e"}
    assert "not a readable FITS" in reasons["c"]
    assert "escapes the images root" in reasons["d"]
    assert "no file in catalogue" in reasons["e"]
    assert ImageStore(tmp_path / "s.h5").ids.tolist() == ["a", "b"]


def test_ingest_reports_an_id_too_long_for_a_store_and_strict_stops_there(cutouts, tmp_path):
    long_id = "é" * 65  # 130 bytes in UTF-8
    pd.DataFrame({"id": ["a", long_id], "file": ["gal0.fits", "gal1.fits"]}).to_parquet(cutouts / "cat.parquet")
    rep = ingest(cutouts / "cat.parquet", tmp_path / "s.h5", size=16, progress=False)
    assert rep.n_written == 1 and ImageStore(tmp_path / "s.h5").ids.tolist() == ["a"]
    assert [(g, r) for g, _, r in rep.unreadable] == [
        (long_id, "id is 130 bytes in UTF-8; a store holds ids of at most 128")
    ]
    with pytest.raises(GalvaeFileError, match=r"id is 130 bytes in UTF-8.*strict mode stops at the first bad item"):
        ingest(cutouts / "cat.parquet", tmp_path / "t.h5", size=16, progress=False, strict=True)
    assert not (tmp_path / "t.h5").exists()


def test_ingest_csv_per_band_files(tmp_path):
    for b in "grz":
        hdu = fits.PrimaryHDU(np.full((16, 16), 0.5, np.float32))
        hdu.writeto(tmp_path / f"x_{b}.fits")
    pd.DataFrame({"id": ["x"], "file_g": ["x_g.fits"], "file_r": ["x_r.fits"], "file_z": ["x_z.fits"]}).to_csv(
        tmp_path / "cat.csv", index=False
    )
    rep = ingest(tmp_path / "cat.csv", tmp_path / "s.h5", size=8, progress=False)
    assert rep.n_written == 1
    img = ImageStore(tmp_path / "s.h5").read(0)
    expect = stretch(np.full((3, 1, 1), 0.5, np.float32))[:, 0, 0]
    np.testing.assert_allclose(img[:, 3, 3], expect, rtol=1e-6)
    assert np.ptp(img, axis=(1, 2)).max() < 1e-6


def test_ingest_jpeg_is_scaled_not_stretched(tmp_path):
    d = tmp_path / "gz"
    d.mkdir()
    arr = np.zeros((32, 32, 3), np.uint8)
    arr[..., 0], arr[..., 1], arr[..., 2] = 255, 102, 51
    Image.fromarray(arr).save(d / "g1.png")
    ingest(d, tmp_path / "s.h5", size=16, progress=False)
    s = ImageStore(tmp_path / "s.h5")
    assert s.normalisation.kind == "uint8"
    np.testing.assert_allclose(s.read(0)[:, 4, 4], [0.2, 0.4, 1.0], atol=1e-6)  # g, r, z
    assert np.isnan(s.pixel_scale_arcsec)


def test_mixed_kinds_refused(tmp_path):
    d = tmp_path / "mix"
    d.mkdir()
    _fits(d / "a.fits")
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(d / "b.png")
    with pytest.raises(GalvaeValueError, match="b.png is a display image but earlier inputs were flux"):
        ingest(d, tmp_path / "s.h5", size=16, progress=False)
    assert not (tmp_path / "s.h5").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["mix"]  # no temporary file left


def test_failure_midway_leaves_nothing(cutouts, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = ingest_mod._read_one

    def flaky(files):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(files)

    monkeypatch.setattr(ingest_mod, "_read_one", flaky)
    monkeypatch.setattr(ingest_mod, "BLOCK", 2)
    with pytest.raises(KeyboardInterrupt):
        ingest(cutouts, tmp_path / "s.h5", size=16, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut"]


def test_workers_give_identical_store(cutouts, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_mod, "BLOCK", 2)
    ingest(cutouts, tmp_path / "one.h5", size=16, workers=1, progress=False)
    ingest(cutouts, tmp_path / "two.h5", size=16, workers=2, progress=False)
    a, b = ImageStore(tmp_path / "one.h5"), ImageStore(tmp_path / "two.h5")
    assert a.ids.tolist() == b.ids.tolist()
    np.testing.assert_array_equal(a.read(), b.read())
    np.testing.assert_array_equal(a.read_mask(), b.read_mask())


def test_bad_parameters(cutouts, tmp_path):
    with pytest.raises(GalvaeValueError, match="size must be a multiple of 8"):
        ingest(cutouts, tmp_path / "s.h5", size=30)
    with pytest.raises(GalvaeFileError, match="ingest source not found"):
        ingest(tmp_path / "none", tmp_path / "s.h5")
    pd.DataFrame({"name": ["a"]}).to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(GalvaeValueError, match="has no 'id' column"):
        ingest(tmp_path / "c.csv", tmp_path / "s.h5")
    pd.DataFrame({"id": ["a"]}).to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(GalvaeValueError, match="has no file location column"):
        ingest(tmp_path / "c.csv", tmp_path / "s.h5")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.fits").write_text("no")
    with pytest.raises(GalvaeValueError, match="no image could be read.*x: .*not a readable FITS"):
        ingest(tmp_path / "bad", tmp_path / "s.h5", progress=False)


def test_cli_ingest(cutouts, tmp_path, capsys):
    out = tmp_path / "s.h5"
    assert (
        main(
            [
                "-q",
                "ingest",
                str(cutouts),
                "--out",
                str(out),
                "--size",
                "16",
                "--survey",
                "bass_mzls",
                "--softening",
                "0.1,0.1,0.1",
            ]
        )
        == 0
    )
    assert "wrote 5 of 5 images" in capsys.readouterr().out
    s = ImageStore(out)
    assert s.survey == "bass_mzls" and s.normalisation.softening == (0.1, 0.1, 0.1)
    assert main(["-q", "ingest", str(cutouts), "--out", str(out), "--size", "16"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_cli_bad_file_is_one_line(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.png").write_text("not a png")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "galvae",
            "-q",
            "ingest",
            str(tmp_path / "d"),
            "--out",
            str(tmp_path / "s.h5"),
            "--size",
            "16",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "x.png: not a JPEG or PNG image" in lines[0]


def test_absolute_and_symlink_escapes_refused(cutouts, tmp_path):
    outside = _fits(tmp_path / "outside.fits")
    (cutouts / "link.fits").symlink_to(outside)
    cat = pd.DataFrame({"id": ["abs", "link", "ok"], "file": [str(outside), "link.fits", "gal0.fits"]})
    cat.to_csv(cutouts / "cat.csv", index=False)
    rep = ingest(cutouts / "cat.csv", tmp_path / "s.h5", size=16, progress=False)
    reasons = {gid: reason for gid, _, reason in rep.unreadable}
    assert set(reasons) == {"abs", "link"}
    assert all("escapes the images root" in r for r in reasons.values())
    assert ImageStore(tmp_path / "s.h5").ids.tolist() == ["ok"]
    # the same symbolic link in a directory source is refused too
    rep = ingest(cutouts, tmp_path / "d.h5", size=16, progress=False)
    assert [(gid, "escapes the images root" in r) for gid, _, r in rep.unreadable] == [("link", True)]
    assert rep.n_written == 5


def test_reader_bug_is_reported_not_fatal(cutouts, tmp_path, monkeypatch):
    real = ingest_mod._read_one

    def buggy(files):
        if files["file"].endswith("gal3.fits"):
            raise RuntimeError("reader bug")
        return real(files)

    monkeypatch.setattr(ingest_mod, "_read_one", buggy)
    rep = ingest(cutouts, tmp_path / "s.h5", size=16, progress=False)
    assert rep.n_written == 4
    assert [(gid, r) for gid, _, r in rep.unreadable] == [("gal3", "RuntimeError: reader bug")]
    assert "gal3" not in ImageStore(tmp_path / "s.h5").ids.tolist()


def test_other_pixel_scale_is_warned(cutouts, tmp_path, caplog):
    _fits(cutouts / "gal9.fits", size=32)
    with caplog.at_level("WARNING", logger="galvae.data.ingest"):
        rep = ingest(cutouts, tmp_path / "s.h5", size=16, progress=False)
    assert rep.pixel_scale_arcsec == pytest.approx(0.262 * 24 / 16)
    assert "1 image(s) have another pixel scale or crop side" in caplog.text and "gal9" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="galvae.data.ingest"):
        rep = ingest(cutouts, tmp_path / "c.h5", size=16, crop=16, progress=False)
    assert rep.pixel_scale_arcsec == pytest.approx(0.262)
    assert "another pixel scale" not in caplog.text


def test_pool_keeps_a_bounded_number_of_blocks_in_flight():
    from concurrent.futures import Future

    class Immediate:
        def __init__(self):
            self.submitted = 0

        def submit(self, fn, *args):
            self.submitted += 1
            fut = Future()
            fut.set_result(self.submitted)
            return fut

    pool = Immediate()
    consumed = 0
    for result in ingest_mod._pooled(pool, iter([[]] * 10), lambda chunk: chunk, window=3):
        consumed += 1
        assert result == consumed  # input order
        assert pool.submitted - consumed <= 3
    assert consumed == 10 and pool.submitted == 10


def test_relative_directory_and_catalogue_paths(cutouts, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rep = ingest("cut", "rel.h5", size=16, progress=False)
    assert rep.n_written == 5 and rep.unreadable == ()
    pd.DataFrame({"id": ["a"], "file": ["gal1.fits"]}).to_csv(cutouts / "cat.csv", index=False)
    assert main(["-q", "ingest", "cut/cat.csv", "--out", "cat.h5", "--size", "16"]) == 0
    assert "wrote 1 of 1 images" in capsys.readouterr().out
    assert ImageStore(tmp_path / "cat.h5").ids.tolist() == ["a"]
