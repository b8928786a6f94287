"""Bad input through the real commands: one line naming the file, a non-zero exit, no traceback, nothing lost.

One table (``CASES``) of damaged, foreign, oversized or inconsistent inputs -- FITS, PNG, JPEG, npy/npz,
HDF5 image stores, Parquet/CSV catalogues, checkpoints and exported models, and paths escaping their root --
each fed to the ``galvae`` command that reads it, in-process.  Every row asserts, as astropy's and Pillow's
corrupt-file tests do, that the command

* exits with status 2 (a handled error, not the catch-all "internal error" status 1),
* writes exactly one line to standard error, ``galvae CMD: error: ...``, matching the row's message and
  naming the offending file (or parameter),
* shows no traceback (``--debug`` is not given), and
* loses nothing: every file in the working directory before the run (previous outputs the command was
  told to ``--overwrite``, earlier cutouts, the run directory) is still there byte for byte, and no new file
  (a half-written temporary, a partial store) is left behind.

Then: FITS BSCALE/BZERO/BLANK read correctly; decompression bombs refused before any pixel is allocated
or decoded; ``--strict`` against the default skip-and-report of ingest, download and encode.  Images are
16-32 px, catalogues a few rows; one tiny model is trained once for the checkpoint and encode rows.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from PIL import Image

from galvae.cli import main
from galvae.config import StretchConfig
from galvae.data import download as dl
from galvae.data.download import download_cutouts
from galvae.data.ingest import ingest
from galvae.data.readers import MAX_IMAGE_PIXELS, read_fits, read_image
from galvae.data.store import ImageStore, write_store
from galvae.errors import GalvaeDownloadError, GalvaeError, GalvaeFileError
from galvae.latents import read_latent_catalog
from galvae.latents.catalog import encode_store

pytestmark = pytest.mark.timeout(120)

NORM = StretchConfig(kind="none")
SIZE = 16


# --------------------------------------------------------------------------- small valid files and their damage


def fits_bytes(data: np.ndarray, **cards: object) -> bytes:
    hdu = fits.PrimaryHDU(data)
    for key, value in cards.items():
        hdu.header[key] = value
    buf = io.BytesIO()
    hdu.writeto(buf)
    return buf.getvalue()


def good_fits(size: int = 32) -> bytes:
    rng = np.random.default_rng(1)
    return fits_bytes(rng.normal(1.0, 0.1, (3, size, size)).astype(np.float32), BANDS="grz")


def fits_header_only(**cards: object) -> bytes:
    """A FITS primary header (no data) with ``cards``, padded to one 2880-byte block."""
    header = fits.Header()
    header["SIMPLE"] = True
    for key, value in cards.items():
        header[key] = value
    return header.tostring().encode("ascii") + b"\0" * 2880


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR (valid CRC) claims width x height RGB pixels, with a few bytes of image data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A JPEG of 16x16 pixels whose frame header (SOF0) is rewritten to claim width x height."""
    data = bytearray(rgb_bytes("JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def rgb_bytes(fmt: str, size: int = 32, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(2)
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    buf = io.BytesIO()
    Image.fromarray((rng.random(shape) * 255).astype(np.uint8)).convert(mode).save(buf, format=fmt)
    return buf.getvalue()


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def npy_claiming(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * 64


def npz_with(member: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("image.npy", member)
    return buf.getvalue()


def cube(size: int = 32) -> np.ndarray:
    return np.random.default_rng(3).normal(1.0, 0.1, (3, size, size)).astype(np.float32)


def flip_bytes(body: bytes, start: int, n: int = 16) -> bytes:
    data = bytearray(body)
    for i in range(start, min(start + n, len(data))):
        data[i] ^= 0xA5
    return bytes(data)


def store_file(path: Path, images: np.ndarray, ids: list[str] | np.ndarray, **attrs: object) -> None:
    """An image store written with h5py directly, as another tool would (the galvae writer refuses bad ones)."""
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images)
        if isinstance(ids, np.ndarray) and ids.dtype.kind != "U":
            f.create_dataset("id", data=ids)
        else:
            f.create_dataset("id", data=np.asarray(ids, dtype=object), dtype=h5py.string_dtype())
        f.attrs["normalisation"] = json.dumps({"kind": "none"})
        for key, value in attrs.items():
            f.attrs[key] = value


def good_images(n: int = 4, size: int = SIZE) -> np.ndarray:
    return np.random.default_rng(4).random((n, 3, size, size), dtype=np.float32) * 0.5


def gz_fractions(**override: list[float]) -> pd.DataFrame:
    """Two galaxies with the GZ DECaLS fraction columns of the first questions."""
    cols = {
        "id": ["a", "b"],
        "smooth-or-featured_smooth_fraction": [0.9, 0.1],
        "smooth-or-featured_featured-or-disk_fraction": [0.1, 0.9],
        "smooth-or-featured_artifact_fraction": [0.0, 0.0],
        "how-rounded_round_fraction": [0.8, 0.2],
        "how-rounded_in-between_fraction": [0.1, 0.7],
        "how-rounded_cigar-shaped_fraction": [0.1, 0.1],
    }
    cols.update(override)
    return pd.DataFrame(cols)


# --------------------------------------------------------------------------- shared products


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A store of 8 random 16-px images and a run trained on it for one epoch (2 steps) through the CLI."""
    root = tmp_path_factory.mktemp("bad_input_run")
    store = write_store(root / "s.h5", good_images(8), [f"g{i}" for i in range(8)], survey="sim", normalisation=NORM)
    argv = ["-q", "train", str(store), "--out", str(root / "run"), "--latent-dim", "2", "--epochs", "1"]
    argv += ["--batch-size", "4", "--val-fraction", "0.25", "--accelerator", "cpu", "--seed", "1"]
    assert main(argv) == 0
    return store, root / "run"


class Workspace:
    """One row's working directory, with the previous outputs a failing command must leave alone."""

    def __init__(self, root: Path, trained: tuple[Path, Path] | None) -> None:
        self.root = root
        self._trained = trained

    def write(self, name: str, body: bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        return path

    def table(self, name: str, frame: pd.DataFrame) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".parquet"):
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        return path

    def previous_store(self) -> Path:
        """An image store from an earlier run, at the path the command is told to --overwrite."""
        return write_store(self.root / "previous.h5", good_images(2), ["old0", "old1"], survey="x", normalisation=NORM)

    def ingest(self, source: Path, *extra: str) -> list[str]:
        out = self.previous_store()
        return ["ingest", str(source), "--out", str(out), "--size", str(SIZE), "--overwrite", *extra]

    def ingest_one(self, name: str, body: bytes) -> list[str]:
        """Ingest a directory holding only ``name``."""
        self.write(f"images/{name}", body)
        return self.ingest(self.root / "images")

    def run(self) -> Path:
        """A copy of the trained run (model.json, checkpoints, metrics)."""
        assert self._trained is not None
        return Path(shutil.copytree(self._trained[1], self.root / "run"))

    def store(self) -> Path:
        """A copy of the store the run was trained on."""
        return Path(shutil.copy(self.trained_store, self.root / "s.h5"))

    @property
    def trained_store(self) -> Path:
        assert self._trained is not None
        return self._trained[0]

    def encode(self, store: Path, model: Path | None = None, *extra: str) -> list[str]:
        out = self.write("previous.parquet", b"an earlier latent catalogue")
        model = model if model is not None else self._trained[1]  # type: ignore[index]
        return ["encode", str(model), str(store), "--out", str(out), "--overwrite", *extra]

    def encode_store_file(self, images: np.ndarray, ids: list[str] | np.ndarray, **attrs: object) -> list[str]:
        path = self.root / "bad.h5"
        store_file(path, images, ids, **attrs)
        return self.encode(path)

    def download(self, catalog: Path) -> list[str]:
        out = self.root / "cutouts"
        out.mkdir(exist_ok=True)
        (out / "earlier.fits").write_bytes(good_fits(16))  # a cutout of an earlier run
        (out / "catalog.parquet").write_bytes(b"an earlier manifest")
        return ["download", str(catalog), "--out", str(out), "--size", "16", "--retries", "0"]

    def labels(self, catalog: Path, *extra: str) -> list[str]:
        out = self.write("previous_labels.parquet", b"earlier labels")
        return ["labels", str(catalog), "--out", str(out), "--overwrite", *extra]


@dataclass(frozen=True)
class Case:
    """``build(ws)`` writes the bad input and returns the argv; ``match`` is searched in the error line."""

    id: str
    build: Callable[[Workspace], list[str]]
    match: str
    needs_model: bool = False


def _damaged_run(ws: Workspace) -> list[str]:
    run = ws.run()
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:5000])
    (run / "checkpoints" / "best.ckpt").write_bytes(b"")
    store = ws.trained_store  # the run's own store (resume checks it is the same)
    return ["train", str(store), "--out", str(run), "--resume", "--epochs", "2", "--accelerator", "cpu"]


def _model_with(ws: Workspace, name: str, damage: Callable[[bytes], bytes]) -> Path:
    run = ws.run()
    (run / name).write_bytes(damage((run / name).read_bytes()))
    return run


def _escape_catalog(ws: Workspace) -> list[str]:
    ws.write("outside.fits", good_fits())
    ws.write("images/in.fits", good_fits())
    cat = ws.table("images/cat.csv", pd.DataFrame({"id": ["esc"], "file": ["../outside.fits"]}))
    return ws.ingest(cat)


def _parquet_with_metadata(ws: Workspace, pandas_metadata: bytes) -> Path:
    """A Parquet catalogue whose pandas metadata (what pandas rebuilds the frame from) is damaged."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": ["a"], "ra": [1.0], "dec": [0.0], "file": ["a.fits"]})
    path = ws.root / "cat.parquet"
    pq.write_table(table.replace_schema_metadata({b"pandas": pandas_metadata}), path)
    return path


def _with_card(body: bytes, key: str, value: str) -> bytes:
    """``body`` with the value of header card ``key`` replaced by the raw text ``value`` (a damaged card)."""
    data = bytearray(body)
    start = next(i for i in range(0, 2880, 80) if data[i : i + 8].rstrip() == key.encode())
    data[start + 10 : start + 80] = value.encode().rjust(20).ljust(70)
    return bytes(data)


def _blank_everywhere(ws: Workspace) -> list[str]:
    raw = np.full((3, 32, 32), -32768, np.int16)
    return ws.ingest_one("bad.fits", fits_bytes(raw, BSCALE=0.01, BZERO=0.0, BLANK=-32768, BANDS="grz"))


CASES: list[Case] = [
    # ---- FITS cutouts (galvae ingest)
    Case("fits-truncated", lambda ws: ws.ingest_one("bad.fits", good_fits()[:4000]), r"bad\.fits: truncated FITS file"),
    Case("fits-empty", lambda ws: ws.ingest_one("bad.fits", b""), r"bad\.fits: not a readable FITS file"),
    Case(
        "fits-corrupt",
        lambda ws: ws.ingest_one("bad.fits", flip_bytes(good_fits(), 80, 400)),
        r"bad\.fits: not a readable FITS file",
    ),
    Case(
        "fits-not-fits",
        lambda ws: ws.ingest_one("bad.fits", b"<html>503 Service Unavailable</html>" * 10),
        r"bad\.fits: not a readable FITS file",
    ),
    Case(
        "fits-bomb-naxis",
        lambda ws: ws.ingest_one(
            "bad.fits", fits_header_only(BITPIX=-32, NAXIS=3, NAXIS1=100_000, NAXIS2=100_000, NAXIS3=3)
        ),
        r"bad\.fits: HDU PRIMARY declares shape \(3, 100000, 100000\) \(30,000,000,000 values\); refused before "
        r"reading \(possible decompression bomb\): at most 16,777,216 pixels \(4096 x 4096\) per plane",
    ),
    Case(
        "fits-too-many-planes",
        lambda ws: ws.ingest_one("bad.fits", fits_header_only(BITPIX=8, NAXIS=3, NAXIS1=4096, NAXIS2=4096, NAXIS3=9)),
        r"bad\.fits: HDU PRIMARY declares shape \(9, 4096, 4096\) \(150,994,944 values\); refused before "
        r"reading .*and 8 such planes \(134,217,728 values\) are accepted",
    ),
    Case(
        "fits-naxis-beyond-standard",
        lambda ws: ws.ingest_one("bad.fits", _with_card(good_fits(), "NAXIS", "99999999999")),
        r"bad\.fits: header card NAXIS = 99999999999 is outside the 0-999 the FITS standard allows",
    ),
    Case(
        "fits-unparsable-card",
        lambda ws: ws.ingest_one("bad.fits", _with_card(good_fits(), "BANDS", "'grz &")),
        r"bad\.fits: not a readable FITS file \(VerifyError: Unparsable card \(BANDS\)",
    ),
    Case(
        "fits-two-unnamed-planes",
        lambda ws: ws.ingest_one("bad.fits", fits_bytes(cube()[:2])),
        r"bad\.fits: 2 image plane\(s\) without band names",
    ),
    Case(
        "fits-band-count-mismatch",
        lambda ws: ws.ingest_one("bad.fits", fits_bytes(cube(), BANDS="grzi")),
        r"bad\.fits: header BANDS='grzi' names 4 band\(s\) but the cube has 3 plane\(s\)",
    ),
    Case(
        "fits-no-grz-band",
        lambda ws: ws.ingest_one("bad.fits", fits_bytes(cube(), BANDS="uvw")),
        r"bad\.fits: bands \['u', 'v', 'w'\] include none of g, r, z",
    ),
    Case(
        "fits-repeated-band",
        lambda ws: ws.ingest_one("bad.fits", fits_bytes(cube(), BANDS="ggr")),
        r"bad\.fits: band names repeat",
    ),
    Case(
        "fits-4d",
        lambda ws: ws.ingest_one("bad.fits", fits_bytes(np.zeros((2, 3, 16, 16), np.float32))),
        r"bad\.fits: image has shape \(2, 3, 16, 16\); expected \(bands, H, W\)",
    ),
    Case(
        "fits-too-small",
        lambda ws: ws.ingest_one("bad.fits", fits_bytes(cube(4), BANDS="grz")),
        r"bad\.fits: image is 4x4 pixels; at least 8x8",
    ),
    Case("fits-all-blank", _blank_everywhere, r"bad\.fits: every pixel is invalid"),
    # ---- PNG / JPEG composites (galvae ingest)
    Case(
        "png-truncated",
        lambda ws: ws.ingest_one("bad.png", rgb_bytes("PNG")[:200]),
        r"bad\.png: truncated or damaged image",
    ),
    Case("png-empty", lambda ws: ws.ingest_one("bad.png", b""), r"bad\.png: not a JPEG or PNG image"),
    Case(
        "png-corrupt-data",
        lambda ws: ws.ingest_one("bad.png", flip_bytes(rgb_bytes("PNG"), 60, 64)),
        r"bad\.png: truncated or damaged image",
    ),
    Case(
        "png-bomb-huge",
        lambda ws: ws.ingest_one("bad.png", png_claiming(100_000, 100_000)),
        r"bad\.png: refused before decoding \(possible decompression bomb\)",
    ),
    Case(
        "png-bomb",
        lambda ws: ws.ingest_one("bad.png", png_claiming(5000, 5000)),
        r"bad\.png: PNG image declares shape \(5000, 5000\) .*refused before reading",
    ),
    Case(
        "png-grey",
        lambda ws: ws.ingest_one("bad.png", rgb_bytes("PNG", mode="L")),
        r"bad\.png: a single-channel \(L\) image",
    ),
    Case(
        "png-named-jpeg",
        lambda ws: ws.ingest_one("bad.png", rgb_bytes("GIF")),
        r"bad\.png: not a JPEG or PNG image",
    ),
    Case(
        "jpeg-truncated",
        lambda ws: ws.ingest_one("bad.jpg", rgb_bytes("JPEG")[:400]),
        r"bad\.jpg: truncated or damaged image",
    ),
    Case("jpeg-empty", lambda ws: ws.ingest_one("bad.jpg", b""), r"bad\.jpg: not a JPEG or PNG image"),
    Case(
        "jpeg-corrupt",
        lambda ws: ws.ingest_one("bad.jpg", b"\xff\xd8\xff" + np.random.default_rng(5).bytes(600)),
        r"bad\.jpg: (not a JPEG or PNG image|truncated or damaged image)",
    ),
    Case(
        "jpeg-bomb",
        lambda ws: ws.ingest_one("bad.jpg", jpeg_claiming(6000, 6000)),
        r"bad\.jpg: JPEG image declares shape \(6000, 6000\) .*refused before reading",
    ),
    # ---- numpy arrays (galvae ingest)
    Case(
        "npy-truncated",
        lambda ws: ws.ingest_one("bad.npy", npy_bytes(cube())[:1000]),
        r"bad\.npy: not a readable numpy file",
    ),
    Case("npy-empty", lambda ws: ws.ingest_one("bad.npy", b""), r"bad\.npy: not a readable numpy file"),
    Case(
        "npy-channels-last",
        lambda ws: ws.ingest_one("bad.npy", npy_bytes(np.moveaxis(cube(), 0, -1))),
        r"bad\.npy: array has shape \(32, 32, 3\); expected \(3, H, W\)",
    ),
    Case(
        "npy-four-bands",
        lambda ws: ws.ingest_one("bad.npy", npy_bytes(np.ones((4, 16, 16), np.float32))),
        r"bad\.npy: array has shape \(4, 16, 16\)",
    ),
    Case(
        "npy-pickle",
        lambda ws: ws.ingest_one("bad.npy", npy_bytes(np.array([{"a": 1}], dtype=object), allow_pickle=True)),
        r"bad\.npy: not a readable numpy file \(Object arrays cannot be loaded when allow_pickle=False",
    ),
    Case(
        "npy-bomb",
        lambda ws: ws.ingest_one("bad.npy", npy_claiming((3, 6000, 6000))),
        r"bad\.npy: array declares shape \(3, 6000, 6000\) .*refused before reading",
    ),
    Case(
        "npz-corrupt",
        lambda ws: ws.ingest_one("bad.npz", flip_bytes(npz_with(npy_bytes(cube())), 0, 8)),
        r"bad\.npz: not a readable numpy file",
    ),
    Case(
        "npz-bomb",
        lambda ws: ws.ingest_one("bad.npz", npz_with(npy_claiming((3, 6000, 6000)))),
        r"bad\.npz: array 'image' declares shape \(3, 6000, 6000\) .*refused before reading",
    ),
    # ---- paths escaping their root
    Case("ingest-location-escapes-root", _escape_catalog, r"location escapes the images root"),
    Case(
        "download-id-escapes-out-dir",
        lambda ws: ws.download(ws.table("cat.csv", pd.DataFrame({"id": ["../evil"], "ra": [1.0], "dec": [0.0]}))),
        r"catalog id would name a file outside the output directory \(got '\.\./evil'\)",
    ),
    # ---- catalogues (Parquet, CSV): damaged, missing columns, bad values, duplicate ids
    Case(
        "parquet-truncated",
        lambda ws: ws.download(
            ws.write(
                "cat.parquet",
                (lambda p: p.read_bytes()[:300])(
                    ws.table("full.parquet", pd.DataFrame({"id": ["a"], "ra": [1.0], "dec": [0.0]}))
                ),
            )
        ),
        r"cat\.parquet: cannot read Parquet catalogue",
    ),
    Case(
        "parquet-empty",
        lambda ws: ws.download(ws.write("cat.parquet", b"")),
        r"cat\.parquet: cannot read Parquet catalogue",
    ),
    Case(
        "parquet-corrupt",
        lambda ws: ws.download(ws.write("cat.parquet", b"PAR1" + np.random.default_rng(6).bytes(300) + b"PAR1")),
        r"cat\.parquet: cannot read Parquet catalogue",
    ),
    Case(
        "parquet-damaged-pandas-metadata",
        lambda ws: ws.download(_parquet_with_metadata(ws, b'{"index_columns": []}')),
        r"cat\.parquet: cannot read Parquet catalogue: damaged pandas metadata \(KeyError: 'columns'\)",
    ),
    Case(
        "parquet-damaged-pandas-metadata-ingest",
        lambda ws: ws.ingest(_parquet_with_metadata(ws, b'{"index_columns": []}')),
        r"cat\.parquet: cannot read Parquet catalogue: damaged pandas metadata \(KeyError: 'columns'\)",
    ),
    Case("csv-empty", lambda ws: ws.download(ws.write("cat.csv", b"")), r"cat\.csv: cannot read csv catalogue"),
    Case(
        "csv-binary",
        lambda ws: ws.download(ws.write("cat.csv", np.random.default_rng(7).bytes(500))),
        r"cat\.csv: cannot read csv catalogue",
    ),
    Case(
        "download-missing-column",
        lambda ws: ws.download(ws.table("cat.csv", pd.DataFrame({"id": ["a"], "ra": [1.0]}))),
        r"catalog .*cat\.csv has no 'dec' column \(degrees\); accepted: 'id', 'ra'",
    ),
    Case(
        "download-ra-out-of-range",
        lambda ws: ws.download(
            ws.table("cat.csv", pd.DataFrame({"id": ["a", "b"], "ra": [1.0, 400.0], "dec": [0, 0]}))
        ),
        r"catalog .*cat\.csv column 'ra' must hold finite ra in \[0, 360\] degrees; 1 row\(s\) do not, first id 'b'",
    ),
    Case(
        "download-duplicate-ids",
        lambda ws: ws.download(ws.table("cat.csv", pd.DataFrame({"id": ["a", "a"], "ra": [1.0, 2.0], "dec": [0, 0]}))),
        r"catalog .*cat\.csv ids must be unique \(got 'a'\)",
    ),
    Case(
        "ingest-location-nul-byte-strict",
        lambda ws: ws.ingest(ws.write("images/cat.csv", b"id,file\nx,a\x00b.fits\n"), "--strict"),
        r"cat\.csv: cannot resolve location 'a\\x00b\.fits' \(embedded null byte\) \(id 'x'; strict mode",
    ),
    Case(
        "ingest-missing-file-column",
        lambda ws: ws.ingest(ws.table("cat.csv", pd.DataFrame({"id": ["a"], "path": ["x.fits"]}))),
        r"catalogue .*cat\.csv has no file location column",
    ),
    Case(
        "ingest-duplicate-ids-strict",
        lambda ws: ws.ingest(
            ws.table("cat.csv", pd.DataFrame({"id": ["a", "a"], "file": ["one.fits", "two.fits"]})), "--strict"
        ),
        r"cat\.csv: id 'a' appears more than once",
    ),
    Case(
        "labels-fraction-out-of-range",
        lambda ws: ws.labels(ws.table("gz.csv", gz_fractions(**{"how-rounded_round_fraction": [0.8, 1.7]}))),
        r"gz\.csv: catalog column 'how-rounded_round_fraction' holds vote fractions outside \[0, 1\] \(got 1\.7\)",
    ),
    Case(
        "labels-missing-columns",
        lambda ws: ws.labels(ws.table("gz.csv", pd.DataFrame({"id": ["a"], "smooth": [0.5]}))),
        r"gz\.csv: catalog has no Galaxy Zoo DECaLS columns",
    ),
    Case(
        "labels-duplicate-ids-strict",
        lambda ws: ws.labels(ws.table("gz.csv", gz_fractions(id=["a", "a"])), "--strict"),
        r"gz\.csv: 1 row\(s\) repeat an earlier id \(1 id\(s\): 'a'\); ids must be unique",
    ),
    # ---- HDF5 image stores (galvae encode)
    Case(
        "store-truncated",
        lambda ws: ws.encode(ws.write("bad.h5", ws.store().read_bytes()[:3000])),
        r"bad\.h5: cannot open as HDF5",
        needs_model=True,
    ),
    Case("store-empty", lambda ws: ws.encode(ws.write("bad.h5", b"")), r"bad\.h5: cannot open as HDF5", True),
    Case(
        "store-corrupt",
        lambda ws: ws.encode(ws.write("bad.h5", np.random.default_rng(8).bytes(4000))),
        r"bad\.h5: cannot open as HDF5",
        True,
    ),
    Case(
        "store-no-images",
        lambda ws: ws.encode(_without_images(ws)),
        r"bad\.h5: not a galvae image store \(no dataset images\)",
        True,
    ),
    Case(
        "store-four-bands",
        lambda ws: ws.encode_store_file(np.zeros((2, 4, SIZE, SIZE), np.float32), ["a", "b"]),
        r"bad\.h5: images dataset has shape \(2, 4, 16, 16\), expected \(N, 3, S, S\)",
        True,
    ),
    Case(
        "store-band-order",
        lambda ws: ws.encode_store_file(good_images(2), ["a", "b"], bands="zrg"),
        r"bad\.h5: bands attribute is 'zrg'; a galvae store holds bands 'grz' in that order",
        True,
    ),
    Case(
        "store-integer-pixels",
        lambda ws: ws.encode_store_file(np.zeros((2, 3, SIZE, SIZE), np.int16), ["a", "b"]),
        r"bad\.h5: images dataset holds int16, expected float32",
        True,
    ),
    Case(
        "store-integer-ids",
        lambda ws: ws.encode_store_file(good_images(2), np.array([1, 2])),
        r"bad\.h5: id dataset holds int64, expected strings",
        True,
    ),
    Case(
        "store-duplicate-ids",
        lambda ws: ws.encode_store_file(good_images(2), ["a", "a"]),
        r"bad\.h5: id 'a' appears more than once",
        True,
    ),
    Case(
        "store-declares-more-than-stored",
        lambda ws: ws.encode(_grown(ws.store(), 100_000)),
        r"s\.h5: images dataset declares shape \(100000, 3, 16, 16\) but the file stores only 1 of its 391 chunks",
        True,
    ),
    Case(
        "store-wrong-size",
        lambda ws: ws.encode_store_file(good_images(2, size=32), ["a", "b"]),
        r"image store .*bad\.h5 has size 32 but model .* expects size 16",
        True,
    ),
    Case(
        "store-nan-strict",
        lambda ws: ws.encode_store_file(_with_nan(good_images(3), 1), ["a", "b", "c"]) + ["--strict"],
        r"bad\.h5: image 'b' \(row 1\) holds a non-finite pixel \(nan\)",
        True,
    ),
    # ---- checkpoints and exported models
    Case(
        "checkpoints-damaged",
        _damaged_run,
        r"last\.ckpt: cannot resume: no usable checkpoint in .*checkpoints \(.*last\.ckpt: not a readable PyTorch "
        r"checkpoint .*best\.ckpt: empty file",
        True,
    ),
    Case(
        "model-weights-truncated",
        lambda ws: ws.encode(ws.store(), _model_with(ws, "model.safetensors", lambda b: b[:4000])),
        r"model\.safetensors: cannot read safetensors weights",
        True,
    ),
    Case(
        "model-description-corrupt",
        lambda ws: ws.encode(ws.store(), _model_with(ws, "model.json", lambda b: b[: len(b) // 2])),
        r"model\.json: cannot read model description",
        True,
    ),
]


def _without_images(ws: Workspace) -> Path:
    """A store whose ``images`` dataset is called something else (a foreign HDF5 file)."""
    path = ws.root / "bad.h5"
    store_file(path, good_images(2), ["a", "b"])
    with h5py.File(path, "a") as f:
        f.move("images", "pixels")
    return path


def _grown(path: Path, n: int) -> Path:
    """The store with its datasets' extent raised to ``n`` rows, as a damaged header would declare."""
    with h5py.File(path, "a") as f:
        f["images"].resize(n, axis=0)
        f["id"].resize(n, axis=0)
    return path


def _with_nan(images: np.ndarray, row: int) -> np.ndarray:
    images[row, 1, 2, 3] = np.nan
    return images


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_loses_nothing(case, tmp_path, capsys, request):
    trained = request.getfixturevalue("trained") if case.needs_model else None
    ws = Workspace(tmp_path, trained)
    argv = case.build(ws)
    before = _snapshot(tmp_path)
    capsys.readouterr()
    status = main(["-q", *argv])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"galvae {argv[0]}: error: ")
    assert re.search(case.match, lines[0]), lines[0]
    after = _snapshot(tmp_path)
    assert {k: after.get(k) for k in before} == before  # every earlier file intact
    assert sorted(set(after) - set(before)) == []  # nothing half-written left behind


def test_debug_shows_the_traceback_instead(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.fits").write_bytes(b"")
    with pytest.raises(GalvaeError, match=r"x\.fits: not a readable FITS file"):
        main(["-q", "--debug", "ingest", str(tmp_path / "d"), "--out", str(tmp_path / "s.h5"), "--size", "16"])


def test_an_unexpected_exception_is_one_line_with_status_1(tmp_path, capsys, monkeypatch):
    """A bug (not a refused input) still gives one line, naming the exception type, and no traceback."""
    from galvae.cli import info

    def broken(args):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(info, "run", broken)
    assert main(["info", str(tmp_path / "x.h5")]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "galvae info: internal error: ZeroDivisionError: boom (a bug in galvae: rerun with --debug for the "
        "traceback and please report it)"
    ]


def test_a_store_attribute_declaring_too_much_is_refused_before_reading(tmp_path, monkeypatch):
    """HDF5 allocates what an attribute declares; a damaged dataspace could declare gigabytes."""
    from galvae.data import store as store_mod

    path = write_store(tmp_path / "s.h5", good_images(2), ["a", "b"], survey="x", normalisation=NORM)
    with h5py.File(path, "a") as f:
        f.attrs["extra"] = np.zeros(100)
    assert ImageStore(path).attrs["extra"].shape == (100,)
    monkeypatch.setattr(store_mod, "_MAX_ATTR_BYTES", 500)  # the real limit is 16 MiB
    with pytest.raises(
        GalvaeFileError, match=r"s\.h5: attribute 'extra' declares shape \(100,\) of float64 \(800 bytes\)"
    ):
        ImageStore(path)


# --------------------------------------------------------------------------- FITS scaling keywords


def test_fits_bscale_bzero_blank_are_applied_and_blank_is_masked(tmp_path, capsys):
    raw = np.arange(3 * 16 * 16, dtype=np.int16).reshape(3, 16, 16)
    raw[1, 4, 5] = -32768
    path = tmp_path / "cut" / "scaled.fits"
    path.parent.mkdir()
    path.write_bytes(fits_bytes(raw, BSCALE=0.001, BZERO=0.5, BLANK=-32768, BANDS="grz"))
    data = read_fits(path)
    expected = raw.astype(np.float64) * 0.001 + 0.5
    blank = np.zeros(raw.shape, bool)
    blank[1, 4, 5] = True
    np.testing.assert_array_equal(data.mask, blank)  # BLANK, and only BLANK, is invalid
    np.testing.assert_allclose(data.image[~blank], expected[~blank], rtol=1e-6)  # physical values, float32
    assert data.image[1, 4, 5] == 0  # filled with the background level
    # through the command: the blank pixel is masked in the store (16 px in, 16 px out: no resampling)
    assert main(["-q", "ingest", str(path.parent), "--out", str(tmp_path / "s.h5"), "--size", "16"]) == 0
    with ImageStore(tmp_path / "s.h5") as st:
        assert st.read_mask(0)[4, 5] and st.read_mask(0).sum() == 1
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- bombs are refused before allocating


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("b.fits", fits_header_only(BITPIX=-32, NAXIS=3, NAXIS1=5000, NAXIS2=5000, NAXIS3=3)),
        ("b.fits", fits_header_only(BITPIX=-64, NAXIS=2, NAXIS1=100_000, NAXIS2=100_000)),
        ("b.npy", npy_claiming((3, 5000, 5000))),
        ("b.npz", npz_with(npy_claiming((3, 5000, 5000)))),
    ],
    ids=["fits-300MB", "fits-80GB", "npy-300MB", "npz-300MB"],
)
def test_bombs_are_refused_before_allocating(tmp_path, name, body):
    """Each file declares an array of >= 300 MB; reading it must refuse it while allocating almost nothing."""
    path = tmp_path / name
    path.write_bytes(body)
    tracemalloc.start()  # numpy reports its allocations to tracemalloc
    try:
        with pytest.raises(GalvaeFileError, match="refused before reading"):
            read_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("b.png", png_claiming(5000, 5000)),
        ("b.png", png_claiming(100_000, 100_000)),
        ("b.jpg", jpeg_claiming(6000, 6000)),
        ("ok.png", png_claiming(4096, 4096)),  # at the limit: decoding starts (and fails on the few bytes)
    ],
    ids=["png-25M", "png-10G", "jpeg-36M", "png-at-limit"],
)
def test_image_bombs_are_refused_before_decoding(tmp_path, name, body, monkeypatch):
    """Pillow allocates outside tracemalloc's view, so this checks that decoding (``load``) never starts."""
    from PIL import ImageFile

    loads = []
    real_load = ImageFile.ImageFile.load

    def load(self):
        loads.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    path = tmp_path / name
    path.write_bytes(body)
    with pytest.raises(GalvaeFileError) as info:
        read_image(path)
    if name == "ok.png":
        assert loads == [(4096, 4096)] and 4096 * 4096 == MAX_IMAGE_PIXELS
        assert "truncated or damaged" in str(info.value)
    else:
        assert loads == []
        assert re.search("refused before (reading|decoding)", str(info.value))


# --------------------------------------------------------------------------- --strict against skip-and-report


@pytest.fixture
def mixed_images(tmp_path):
    """A directory of two readable FITS cutouts and one damaged one between them (by name order)."""
    d = tmp_path / "cut"
    d.mkdir()
    (d / "a.fits").write_bytes(good_fits())
    (d / "b.fits").write_bytes(good_fits()[:4000])
    (d / "c.fits").write_bytes(good_fits())
    return d


def test_ingest_skips_bad_items_with_a_report_by_default(mixed_images, tmp_path, capsys):
    out = tmp_path / "s.h5"
    assert main(["-q", "ingest", str(mixed_images), "--out", str(out), "--size", "16"]) == 0
    captured = capsys.readouterr()
    assert "wrote 2 of 3 images" in captured.out
    assert f"  b: {mixed_images / 'b.fits'}: truncated FITS file" in captured.out
    assert "1 of 3 sources could not be ingested" in captured.err
    report = json.loads((tmp_path / "s.h5.ingest.json").read_text())
    assert [u[0] for u in report["unreadable"]] == ["b"]
    assert ImageStore(out).ids.tolist() == ["a", "c"]


def test_ingest_strict_stops_at_the_first_bad_item(mixed_images, tmp_path, capsys):
    out = tmp_path / "s.h5"
    argv = ["-q", "ingest", str(mixed_images), "--out", str(out), "--size", "16", "--strict"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"galvae ingest: error: {mixed_images / 'b.fits'}: truncated FITS file (File may have been truncated: "
        "actual file length (4000) is smaller than the expected size (17280)) (id 'b'; strict mode stops at the "
        "first bad item, so no store was written)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut"]  # no store, no report, no temporary
    # the Python API: the same error, and an existing store is left as it was
    write_store(out, good_images(1), ["old"], survey="x", normalisation=NORM)
    with pytest.raises(GalvaeFileError, match=r"b\.fits: truncated FITS file .*\(id 'b'; strict mode"):
        ingest(mixed_images, out, size=16, overwrite=True, strict=True, progress=False)
    assert ImageStore(out).ids.tolist() == ["old"]
    # catalogue rows refused before reading: a location outside the root
    cat = pd.DataFrame({"id": ["a", "x"], "file": ["a.fits", "../elsewhere.fits"]})
    cat.to_csv(mixed_images / "cat.csv", index=False)
    with pytest.raises(GalvaeFileError, match=r"cat\.csv: location escapes the images root .*\(id 'x'; strict"):
        ingest(mixed_images / "cat.csv", out, size=16, overwrite=True, strict=True, progress=False)
    report = ingest(mixed_images / "cat.csv", out, size=16, overwrite=True, progress=False)
    assert report.n_written == 1 and [u[0] for u in report.unreadable] == ["x"]


def _cutout(ra: float) -> bytes:
    return fits_bytes(np.full((3, 16, 16), ra, np.float32), BANDS="grz")


@pytest.fixture
def fake_service(monkeypatch):
    """No network: ``_fetch`` answers from the ra in the address; ra 11 is a permanent 404."""

    def fetch(http, url, retry, timeout):
        ra = float(re.search(r"ra=([0-9.]+)", url).group(1))
        if ra == 11.0:
            raise dl._Fail("HTTP 404 Not Found")
        return _cutout(ra), retry

    monkeypatch.setattr(dl, "_fetch", fetch)
    return pd.DataFrame({"id": ["g0", "g1", "g2"], "ra": [10.0, 11.0, 12.0], "dec": [0.0, 0.0, 0.0]})


def test_download_records_failures_by_default_and_strict_stops(fake_service, tmp_path, capsys):
    cat = tmp_path / "cat.csv"
    fake_service.to_csv(cat, index=False)
    out = tmp_path / "dl"
    argv = ["-q", "download", str(cat), "--out", str(out), "--size", "16", "--connections", "1", "--retries", "0"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "failed g1: HTTP 404 Not Found" in captured.out
    manifest = pd.read_parquet(out / "catalog.parquet")
    assert manifest["status"].tolist() == ["ok", "failed:HTTP 404 Not Found", "ok"]
    # --strict: one line naming the target and its address; the cutouts already saved stay
    (out / "g2.fits").unlink()
    saved = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main([*argv, "--strict"]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert re.fullmatch(
        r"galvae download: error: http\S+fits-cutout\?ra=11\.0000000\S*: g1: HTTP 404 Not Found "
        rf"\(strict mode stops at the first failed download; cutouts saved so far are kept in {re.escape(str(out))}"
        r", rerun to resume\)",
        lines[0],
    ), lines[0]
    assert all((out / name).read_bytes() == body for name, body in saved.items())
    with pytest.raises(GalvaeDownloadError, match="g1: HTTP 404"):
        download_cutouts(cat, tmp_path / "api", size=16, retries=0, strict=True, progress=False)


def test_encode_skips_unreadable_images_with_a_report_and_strict_stops(trained, tmp_path, capsys):
    _, run = trained
    images = _with_nan(good_images(5), 3)
    store_file(tmp_path / "nan.h5", images, [f"n{i}" for i in range(5)])
    out = tmp_path / "lat.parquet"
    argv = ["-q", "encode", str(run), str(tmp_path / "nan.h5"), "--out", str(out), "--batch-size", "2"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "1 images skipped, not encoded" in captured.out and "  n3: image 'n3' (row 3) holds a non-finite" in (
        captured.out
    )
    assert "1 of 5 images of" in captured.err  # the warning
    frame, meta = read_latent_catalog(out)
    assert frame["id"].tolist() == ["n0", "n1", "n2", "n4"]
    assert [s[0] for s in meta["skipped"]] == ["n3"]
    # the rows kept are encoded exactly as from a clean store
    clean = tmp_path / "clean.h5"
    store_file(clean, np.delete(images, 3, axis=0), ["n0", "n1", "n2", "n4"])
    ref, ref_meta = read_latent_catalog(encode_store(run, clean, tmp_path / "ref.parquet", progress=False))
    assert ref_meta["skipped"] == []
    np.testing.assert_allclose(frame["mu_0"].to_numpy(), ref["mu_0"].to_numpy(), rtol=1e-5, atol=1e-6)
    # --strict: one line, the earlier catalogue left as it was
    before = out.read_bytes()
    assert main([*argv, "--overwrite", "--strict"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"galvae encode: error: {tmp_path / 'nan.h5'}: image 'n3' (row 3) holds a non-finite pixel (nan); "
        "galvae never trains or encodes on NaN/inf: fix or drop that image and rewrite the store"
    ]
    assert out.read_bytes() == before
    with pytest.raises(GalvaeFileError, match="'n3'"):
        encode_store(run, tmp_path / "nan.h5", tmp_path / "x.parquet", strict=True, progress=False)
    assert not (tmp_path / "x.parquet").exists()
    # nothing readable at all: an error even without strict
    store_file(tmp_path / "allnan.h5", np.full((2, 3, SIZE, SIZE), np.nan, np.float32), ["a", "b"])
    with pytest.raises(GalvaeFileError, match=r"allnan\.h5: no image could be encoded \(2 unreadable"):
        encode_store(run, tmp_path / "allnan.h5", tmp_path / "y.parquet", progress=False)
