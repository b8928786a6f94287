"""galvae.data.tables: the one reader and writer of Parquet, CSV and FITS tables."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from astropy.io import fits

from galvae.data import labels
from galvae.data.tables import check_table_path, read_catalog, read_table, table_format, write_table
from galvae.errors import GalvaeFileError, GalvaeValueError


def test_labels_module_names_the_same_functions() -> None:
    assert labels.read_catalog is read_catalog and labels.write_table is write_table
    assert labels.check_table_path is check_table_path


@pytest.mark.parametrize(
    ("name", "reading", "writing"),
    [
        ("a.parquet", "parquet", "parquet"),
        ("a.PQ", "parquet", "parquet"),
        ("a.csv.gz", "csv", None),
        ("a.fits.gz", "fits", None),
        ("a.FIT", "fits", "fits"),
        ("a.txt", None, None),
    ],
)
def test_table_format_by_extension(name, reading, writing) -> None:
    assert table_format(name) == reading and table_format(name, writing=True) == writing


@pytest.mark.parametrize("suffix", [".parquet", ".fits"])
def test_metadata_round_trip(tmp_path, suffix) -> None:
    df = pd.DataFrame({"id": ["a", "b", "c"], "mu_0": np.array([0.5, -1.0, 2.0], np.float32)})
    meta = {"model": "/runs/" + "x" * 120, "latent_dim": 1}  # longer than one FITS card
    path = write_table(df, tmp_path / f"t{suffix}", metadata=meta, fits_header={"EXTNAME": "LATENTS", "NL": (1, "NL")})
    back, got = read_table(path)
    assert got == meta
    assert back["id"].tolist() == ["a", "b", "c"] and back["mu_0"].dtype == np.float32
    np.testing.assert_array_equal(back["mu_0"].to_numpy(), df["mu_0"].to_numpy())
    if suffix == ".fits":
        hdr = fits.getheader(path, 1)
        assert hdr["EXTNAME"] == "LATENTS" and hdr["NL"] == 1 and hdr.comments["NL"] == "NL"
    else:
        assert pq.read_schema(path).metadata[b"galvae"].startswith(b'{"model": "/runs/xxx')
    assert read_table(write_table(df, tmp_path / f"plain{suffix}"))[1] is None


def test_format_overrides_the_extension(tmp_path) -> None:
    df = pd.DataFrame({"a": [1, 2]})
    path = write_table(df, tmp_path / "t.lat", format="parquet", metadata={"k": 1})
    with pytest.raises(GalvaeFileError, match="unknown catalogue format"):
        read_table(path)
    back, meta = read_table(path, format="parquet")
    assert back["a"].tolist() == [1, 2] and meta == {"k": 1}
    with pytest.raises(GalvaeValueError, match="unknown table format"):
        write_table(df, tmp_path / "u.parquet", format="hdf5")


def test_csv_cannot_carry_metadata(tmp_path) -> None:
    with pytest.raises(GalvaeValueError, match=r"^.*t\.csv: a CSV table cannot carry metadata"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv", metadata={"k": 1})
    assert not (tmp_path / "t.csv").exists()


def test_fits_write_errors_name_the_file_and_leave_nothing(tmp_path) -> None:
    frame = pd.DataFrame({"a": [1, 2]}, index=pd.Index([5, 6], name="a"))
    with pytest.raises(GalvaeValueError, match=r"^.*i\.fits: cannot write the index to FITS: a column has its name"):
        write_table(frame, tmp_path / "i.fits")
    delta = pd.DataFrame({"dt": pd.to_timedelta([1, 2], unit="s")})
    with pytest.raises(GalvaeValueError, match=r"^.*d\.fits: cannot write column 'dt' to FITS \(got 'timedelta64"):
        write_table(delta, tmp_path / "d.fits")
    assert list(tmp_path.iterdir()) == []


def test_unreadable_metadata(tmp_path) -> None:
    import pyarrow as pa

    table = pa.table({"a": [1]}).replace_schema_metadata({b"galvae": b"{not json"})
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(GalvaeFileError, match="t.parquet: unreadable galvae metadata"):
        read_table(tmp_path / "t.parquet")


def test_write_table_default_index_and_no_extension(tmp_path):
    df = pd.DataFrame({"a": [1.5, 2.5], "b": ["x", "y"]})
    write_table(df, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines()[0] == "a,b"
    write_table(df, tmp_path / "t")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t"), df)


def test_write_table_refuses_to_overwrite_and_bad_targets(tmp_path):
    df = pd.DataFrame({"a": [1]})
    write_table(df, tmp_path / "t.parquet")
    with pytest.raises(GalvaeFileError, match=r"t.parquet: already exists \(pass overwrite=True"):
        write_table(df, tmp_path / "t.parquet")
    write_table(pd.DataFrame({"a": [2]}), tmp_path / "t.parquet", overwrite=True)
    assert pd.read_parquet(tmp_path / "t.parquet")["a"].tolist() == [2]
    with pytest.raises(GalvaeFileError, match="t.txt: unknown table format; accepted: .parquet"):
        write_table(df, tmp_path / "t.txt")
    with pytest.raises(GalvaeFileError, match="directory does not exist"):
        write_table(df, tmp_path / "nope" / "t.csv")
    with pytest.raises(GalvaeValueError, match="write_table needs a pandas DataFrame"):
        write_table([1, 2], tmp_path / "u.csv")
    assert check_table_path(tmp_path / "x.FITS") == (tmp_path / "x.FITS", "fits")


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".fits"])
def test_write_table_is_atomic(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"t{suffix}"
    df = pd.DataFrame({"a": np.arange(1000.0)})
    write_table(df.iloc[:3], path)
    before = path.read_bytes()

    def fail_after_partial_write(name, *args, **kwargs):
        with open(name, "wb") as fh:
            fh.write(b"PAR1 partial")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", lambda table, name, **kw: fail_after_partial_write(name))
    monkeypatch.setattr(pd.DataFrame, "to_csv", lambda self, name, **kw: fail_after_partial_write(name))
    from astropy.table import Table

    monkeypatch.setattr(Table, "write", lambda self, name, **kw: fail_after_partial_write(name))
    with pytest.raises(OSError, match="disk full"):
        write_table(df, path, overwrite=True)
    assert path.read_bytes() == before  # the old complete file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    with pytest.raises(OSError, match="disk full"):
        write_table(df, tmp_path / f"new{suffix}")
    assert not (tmp_path / f"new{suffix}").exists()


def test_read_catalog_errors(tmp_path):
    with pytest.raises(GalvaeFileError, match="missing.parquet: catalogue file not found"):
        read_catalog(tmp_path / "missing.parquet")
    with pytest.raises(GalvaeFileError, match="is not a file"):
        read_catalog(tmp_path)
    (tmp_path / "cat.xlsx").write_bytes(b"x")
    with pytest.raises(GalvaeFileError, match=r"cat.xlsx: unknown catalogue format; accepted: .parquet"):
        read_catalog(tmp_path / "cat.xlsx")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(GalvaeFileError, match="bad.parquet: cannot read Parquet catalogue"):
        read_catalog(tmp_path / "bad.parquet")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(GalvaeFileError, match="empty.csv: cannot read csv catalogue"):
        read_catalog(tmp_path / "empty.csv")
    good = write_table(pd.DataFrame({"a": np.arange(2000.0), "b": np.arange(2000)}), tmp_path / "t.fits")
    data = good.read_bytes()
    (tmp_path / "cut.fits").write_bytes(data[: len(data) // 2])
    with pytest.raises(GalvaeFileError, match="cut.fits: .*truncated"):
        read_catalog(tmp_path / "cut.fits")
    (tmp_path / "junk.fits").write_bytes(b"SIMPLE  = nonsense" * 10)
    with pytest.raises(GalvaeFileError, match="junk.fits: cannot read fits catalogue"):
        read_catalog(tmp_path / "junk.fits")


def test_read_fits_drops_multidimensional_columns(tmp_path, caplog):
    from astropy.table import Table

    t = Table({"id": ["a", "b"], "flux": np.ones((2, 3)), "x": [1.0, 2.0]})
    t.write(tmp_path / "m.fits")
    with caplog.at_level(logging.WARNING, logger="galvae.data.tables"):
        df = read_catalog(tmp_path / "m.fits")
    assert list(df.columns) == ["id", "x"] and df["id"].tolist() == ["a", "b"]
    assert any("flux" in r.getMessage() for r in caplog.records)


def test_latent_catalogues_share_the_truncation_guard(tmp_path) -> None:
    from galvae.latents.catalog import read_latent_catalog

    df = pd.DataFrame({"id": [f"g{i}" for i in range(2000)], "mu_0": np.arange(2000.0)})
    good = write_table(df, tmp_path / "lat.fits", metadata={"latent_dim": 1})
    assert read_latent_catalog(good)[1] == {"latent_dim": 1}
    data = good.read_bytes()
    (tmp_path / "cut.fits").write_bytes(data[: len(data) // 2])
    with pytest.raises(GalvaeFileError, match="cut.fits: .*truncated"):
        read_latent_catalog(tmp_path / "cut.fits")
    with pytest.raises(GalvaeFileError, match="no galvae metadata"):
        read_latent_catalog(write_table(df, tmp_path / "plain.parquet"))
