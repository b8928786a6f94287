"""Fuzzing every reader of untrusted files with Hypothesis: only the GalvaeError family comes out, nothing hangs.

Each reader -- FITS cutouts (plain and gzip), PNG and JPEG composites, ``.npy``/``.npz`` arrays, CSV and
Parquet catalogues (through ``read_catalog`` and the checks of ``galvae ingest`` and ``galvae download``),
HDF5 image stores -- is fed small valid files mutated at the byte level (bytes set, flipped, deleted,
inserted, duplicated, the file truncated), FITS headers with hostile card values, and random bytes behind
each format's magic number.  The property, as in Pillow's and astropy's fuzzers: the reader either returns
a well-formed result (float32 ``(3, H, W)`` image, all finite, boolean mask of the same shape) or raises a
:class:`~galvae.errors.GalvaeError`; any other exception fails the test with the input that caused it.

Reproducible in CI: a fixed example budget per test, ``derandomize=True`` (the same examples on every run
of the same code, test selection and Hypothesis version -- Hypothesis also draws constants from the local
modules loaded, so a change elsewhere can bring new examples; a failure then is a real reader bug, printed
with its input and a ``@reproduce_failure`` blob), no example database, a generous per-example deadline (2 loaded cores) and
a per-test time-out that ends the run rather than let a hang in C code freeze it.  ``GALVAE_FUZZ_SCALE=10``
multiplies every budget for a longer local run (30x passed here for every reader but the stores).  The
whole file takes about 20 s here, 8 of them waiting out the known HDF5 hang below.

HDF5 stores are fuzzed in a child process with a memory limit and a time-out: HDF5 is C, and a crash, a
hang or a runaway allocation there must not take the test run, or the machine, with it.  Two one-byte
damages that HDF5 itself does not survive are tested on their own as strict xfails
(``test_known_hdf5_defects``): a damaged object size in a global heap, where variable-length strings
(ids, attributes) live, makes HDF5 spin forever, and a damaged variable-length string datatype makes it
crash.  While galvae wrote such strings, store fuzzing beyond the CI budget (``GALVAE_FUZZ_SCALE`` of 20)
found more crashes inside HDF5; its stores now hold fixed-length strings only, no global heap, and every
byte of their metadata is mutated: ``GALVAE_FUZZ_SCALE=30`` (3 minutes) found no crash or hang.  The
KeyError pyarrow raised on damaged pandas metadata in a Parquet file, found here and once kept as a
strict xfail, is now refused by ``read_catalog`` naming the file
(``test_parquet_with_damaged_pandas_metadata_is_refused``).
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image

from galvae.config import StretchConfig
from galvae.data.download import read_targets
from galvae.data.ingest import list_sources
from galvae.data.labels import read_catalog
from galvae.data.readers import read_image
from galvae.data.store import MAX_ID_BYTES, ImageStore, ImageStoreWriter, write_store
from galvae.errors import GalvaeError, GalvaeValueError

SCALE = float(os.environ.get("GALVAE_FUZZ_SCALE", "1"))
#: A hang in C code cannot be interrupted: the "thread" method ends the whole run, with every thread's stack.
TIMEOUT = pytest.mark.timeout(120 * max(1.0, SCALE), method="thread")


def fuzz(examples: int) -> settings:
    """The settings of every fuzz test: a fixed budget, the same examples each run, no database."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=timedelta(seconds=10),
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --------------------------------------------------------------------------- seeds: small valid files


def _fits_scaled() -> bytes:
    """int16 g, r, z cube with BSCALE/BZERO/BLANK, band keywords and a WCS."""
    raw = np.arange(3 * 16 * 16, dtype=np.int16).reshape(3, 16, 16)
    raw[1, 2, 3] = -32768
    hdu = fits.PrimaryHDU(raw)
    hdu.header["BSCALE"] = 0.001
    hdu.header["BZERO"] = 0.5
    hdu.header["BLANK"] = -32768
    hdu.header["BANDS"] = "grz"
    hdu.header["CD1_1"] = -0.262 / 3600
    buf = io.BytesIO()
    hdu.writeto(buf)
    return buf.getvalue()


def _fits_with_ivar() -> bytes:
    """float32 cube (BAND0.. keywords) with an INVVAR extension."""
    data = np.random.default_rng(0).normal(1.0, 0.1, (3, 16, 16)).astype(np.float32)
    primary = fits.PrimaryHDU(data)
    for i, band in enumerate("grz"):
        primary.header[f"BAND{i}"] = band
    ivar = fits.ImageHDU(np.ones((3, 16, 16), np.float32), name="INVVAR")
    buf = io.BytesIO()
    fits.HDUList([primary, ivar]).writeto(buf)
    return buf.getvalue()


def _rgb(fmt: str) -> bytes:
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def _npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(2).random((3, 16, 16)).astype(np.float32))
    return buf.getvalue()


def _npz() -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(3)
    np.savez(buf, image=rng.random((3, 16, 16)).astype(np.float32), mask=rng.random((16, 16)) < 0.1)
    return buf.getvalue()


CATALOG = pd.DataFrame(
    {"id": ["a", "b", "c"], "ra": [10.0, 11.5, 12.25], "dec": [-1.0, 0.0, 2.5], "file": ["a.fits", "b.png", ""]}
)


def _csv() -> bytes:
    return CATALOG.to_csv(index=False).encode()


def _parquet() -> bytes:
    buf = io.BytesIO()
    CATALOG.to_parquet(buf, index=False)
    return buf.getvalue()


SEEDS: dict[str, bytes] = {
    "scaled.fits": _fits_scaled(),
    "ivar.fits": _fits_with_ivar(),
    "cube.fits.gz": gzip.compress(_fits_with_ivar(), mtime=0),
    "image.png": _rgb("PNG"),
    "image.jpg": _rgb("JPEG"),
    "array.npy": _npy(),
    "arrays.npz": _npz(),
    "cat.csv": _csv(),
    "cat.parquet": _parquet(),
}


# --------------------------------------------------------------------------- byte-level mutations


def _position(n: int, hot: tuple[tuple[int, int], ...]) -> st.SearchStrategy[int]:
    """An offset in [0, n): mostly inside the ``hot`` ranges (headers, footers), sometimes anywhere."""
    ranges = [(max(0, a), min(n, b)) for a, b in hot if min(n, b) > max(0, a)] or [(0, max(n, 1))]
    inside = st.one_of(*(st.integers(a, b - 1) for a, b in ranges))
    return st.one_of(inside, inside, inside, st.integers(0, max(n - 1, 0)))


@st.composite
def mutated(draw, seed: bytes, hot: tuple[tuple[int, int], ...] = ()) -> bytes:
    """``seed`` after one to six byte-level edits."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        op = draw(st.sampled_from(("set", "set", "xor", "truncate", "delete", "insert", "duplicate")))
        pos = draw(_position(len(data), hot))
        if op == "set":
            data[pos] = draw(
                st.one_of(st.sampled_from((0x00, 0xFF, 0x7F, 0x80, 0x01, 0x20, 0x30)), st.integers(0, 255))
            )
        elif op == "xor":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[pos:]
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
        else:
            length = draw(st.integers(1, 256))
            data[pos:pos] = data[pos : pos + length]
    return bytes(data)


def _hot(name: str, n: int) -> tuple[tuple[int, int], ...]:
    """Where each format keeps its structure."""
    if name.endswith((".fits", ".fits.gz")):
        return ((0, 2880), (n - 2880, n)) if name.endswith(".fits") else ((0, 64), (n - 64, n))
    if name.endswith(".png"):  # past the 8-byte signature: IHDR, then the data chunks' headers
        return ((8, 64), (n - 16, n))
    if name.endswith(".jpg"):  # past the SOI marker: the tables and frame header
        return ((2, 700), (n - 16, n))
    if name.endswith(".npy"):
        return ((0, 128),)
    if name.endswith(".npz"):
        return ((0, 128), (n - 300, n))
    if name.endswith(".parquet"):
        return ((0, 16), (n - 1200, n))
    return ((0, n),)


def _write(workdir: Path, name: str, body: bytes) -> Path:
    path = workdir / name
    path.write_bytes(body)
    return path


def _check_image(workdir: Path, name: str, body: bytes) -> None:
    """The property: a well-formed image, or a GalvaeError (any other exception fails the test)."""
    path = _write(workdir, name, body)
    try:
        data = read_image(path)
    except GalvaeError:
        return
    assert data.image.dtype == np.float32 and data.image.ndim == 3 and data.image.shape[0] == 3
    assert data.mask.dtype == bool and data.mask.shape == data.image.shape
    assert np.isfinite(data.image).all()
    assert not data.mask.all()
    assert min(data.image.shape[1:]) >= 8


def _image_case(name: str, examples: int):
    seed = SEEDS[name]

    @TIMEOUT
    @fuzz(examples)
    @given(body=mutated(seed, _hot(name, len(seed))))
    def test(workdir, body):
        _check_image(workdir, name, body)

    test.__name__ = f"test_fuzz_{name.replace('.', '_')}"
    return test


test_fuzz_fits_scaled = _image_case("scaled.fits", 250)
test_fuzz_fits_ivar = _image_case("ivar.fits", 150)
test_fuzz_fits_gzip = _image_case("cube.fits.gz", 100)
test_fuzz_png = _image_case("image.png", 250)
test_fuzz_jpeg = _image_case("image.jpg", 200)
test_fuzz_npy = _image_case("array.npy", 200)
test_fuzz_npz = _image_case("arrays.npz", 200)


# --------------------------------------------------------------------------- FITS header cards


_CARD_VALUES = st.one_of(
    st.sampled_from(
        ["0", "-1", "1", "3", "2147483647", "-2147483648", "9223372036854775807", "99999999999999999999", "1E300"]
    ),
    st.integers(-(2**40), 2**40).map(str),
    st.floats(allow_nan=False).map(lambda x: f"{x:.6E}"),
    st.sampled_from(["T", "F", "'grz'", "'zrg'", "'gg'", "''", "'abcdefghijklmnop'", "NAN", "'", "(1, 2)"]),
)


@st.composite
def hostile_header(draw) -> bytes:
    """A seed FITS file with up to four of its header cards given hostile values (raw 80-character cards)."""
    body = bytearray(draw(st.sampled_from([SEEDS["scaled.fits"], SEEDS["ivar.fits"]])))
    end = body.index(b"END" + b" " * 77)
    for _ in range(draw(st.integers(1, 4))):
        card = draw(st.integers(0, end // 80 - 1)) * 80
        value = draw(_CARD_VALUES).encode("ascii")[:70]
        body[card + 10 : card + 80] = value.rjust(20).ljust(70)
    return bytes(body)


@TIMEOUT
@fuzz(250)
@given(body=hostile_header())
def test_fuzz_fits_header_cards(workdir, body):
    _check_image(workdir, "cards.fits", body)


# --------------------------------------------------------------------------- random bytes behind magic numbers


_MAGIC = {
    "r.fits": b"SIMPLE  =                    T",
    "r.fits.gz": b"\x1f\x8b\x08\x00",
    "r.png": b"\x89PNG\r\n\x1a\n",
    "r.jpg": b"\xff\xd8\xff\xe0",
    "r.npy": b"\x93NUMPY\x01\x00",
    "r.npz": b"PK\x03\x04",
}


@TIMEOUT
@fuzz(300)
@given(name=st.sampled_from(sorted(_MAGIC)), magic=st.booleans(), tail=st.binary(max_size=3000))
def test_fuzz_random_bytes(workdir, name, magic, tail):
    _check_image(workdir, name, (_MAGIC[name] if magic else b"") + tail)


# --------------------------------------------------------------------------- catalogues


def _check_catalog(workdir: Path, name: str, body: bytes) -> None:
    """``read_catalog`` and the catalogue checks of ingest and download: a table or a GalvaeError."""
    path = _write(workdir, name, body)
    try:
        frame = read_catalog(path)
    except GalvaeError:
        return
    assert isinstance(frame, pd.DataFrame)
    for check in (lambda: list_sources(path, images_root=workdir), lambda: read_targets(path)):
        try:
            check()
        except GalvaeError:
            pass


@TIMEOUT
@fuzz(200)
@given(body=st.one_of(mutated(SEEDS["cat.csv"]), st.binary(max_size=500)))
def test_fuzz_csv_catalogue(workdir, body):
    _check_catalog(workdir, "cat.csv", body)


@TIMEOUT
@fuzz(250)
@given(
    body=st.one_of(
        mutated(SEEDS["cat.parquet"], _hot("cat.parquet", len(SEEDS["cat.parquet"]))),
        st.binary(max_size=500).map(lambda b: b"PAR1" + b + b"PAR1"),
    )
)
def test_fuzz_parquet_catalogue(workdir, body):
    _check_catalog(workdir, "cat.parquet", body)


# --------------------------------------------------------------------------- HDF5 image stores


def _seed_store(path: Path) -> bytes:
    rng = np.random.default_rng(4)
    with ImageStoreWriter(
        path, size=8, survey="fuzz", normalisation=StretchConfig(), with_mask=True, attrs={"extra": [1, 2]}
    ) as w:
        w.append(rng.random((4, 3, 8, 8), dtype=np.float32), ["a", "bb", "ccc", "d"], rng.random((4, 8, 8)) < 0.2)
    return path.read_bytes()


def global_heaps(body: bytes) -> list[tuple[int, int]]:
    """(start, end) of every HDF5 global heap collection ("GCOL", 8-byte aligned) in the file."""
    out, pos = [], body.find(b"GCOL")
    while pos >= 0:
        if pos % 8 == 0 and len(body) >= pos + 16:
            size = struct.unpack_from("<Q", body, pos + 8)[0]
            out.append((pos, pos + size))
        pos = body.find(b"GCOL", pos + 4)
    return out


def _store_regions(path: Path, body: bytes) -> tuple[tuple[int, int], ...]:
    """The store's metadata (everything but the raw chunks of its datasets), without its global heaps."""
    taken = list(global_heaps(body))
    with h5py.File(path, "r") as f:
        for name in ("images", "mask", "id"):
            ds = f[name]
            for i in range(ds.id.get_num_chunks()):
                info = ds.id.get_chunk_info(i)
                if name != "id":  # id chunks hold references into the heap: fair game
                    taken.append((info.byte_offset, info.byte_offset + info.size))
    regions, start = [], 0
    for a, b in sorted(taken):
        if a > start:
            regions.append((start, a))
        start = max(start, b)
    if start < len(body):
        regions.append((start, len(body)))
    return tuple(regions)


@st.composite
def mutated_store(draw, seed: bytes, regions: tuple[tuple[int, int], ...], heaps: list[tuple[int, int]]) -> bytes:
    """Byte edits that keep the length and never touch a global heap (see the module docs)."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(_position(len(data), regions))
        if any(a <= pos < b for a, b in heaps):
            continue
        if draw(st.booleans()):
            data[pos] = draw(st.one_of(st.sampled_from((0x00, 0xFF, 0x7F, 0x80, 0x01)), st.integers(0, 255)))
        else:
            data[pos] ^= 1 << draw(st.integers(0, 7))
    if draw(st.integers(0, 9)) == 0:  # sometimes cut short, too
        del data[draw(st.integers(0, len(data) - 1)) :]
    return bytes(data)


@pytest.fixture(scope="module")
def store_seed(workdir):
    body = _seed_store(workdir / "seed.h5")
    return body, _store_regions(workdir / "seed.h5", body), global_heaps(body)


def _check_store(path: Path) -> None:
    try:
        with ImageStore(path) as st_:
            ids = st_.ids
            images = st_.read(slice(None))
            mask = st_.read_mask(slice(None))
            _ = st_.normalisation, st_.survey, st_.pixel_scale_arcsec
    except GalvaeError:
        return
    assert images.dtype == np.float32 and images.shape == (len(ids), 3, st_.size, st_.size)
    assert mask.shape == (len(ids), st_.size, st_.size)
    assert np.isfinite(images).all() and len(set(ids.tolist())) == len(ids)


#: Address space of the child fuzzing the stores: HDF5 allocates what a damaged header declares, and
#: a failed allocation there is a segmentation fault, not a MemoryError.
_STORE_CHILD_MEMORY = 4 << 30


def fuzz_stores(workdir: str, examples: int) -> None:
    """Fuzz :class:`ImageStore` (run in a child process by :func:`test_fuzz_image_store`).

    Each example is written to ``workdir/fuzzed.h5`` before it is read, so
    the input of a crash or a hang is left there.
    """
    work = Path(workdir)
    seed = _seed_store(work / "seed.h5")
    regions, heaps = _store_regions(work / "seed.h5", seed), global_heaps(seed)
    # galvae writes fixed-length strings only, so its stores hold no global heap (test_stores_have_no_global_heap)
    assert regions and not heaps
    path = work / "fuzzed.h5"

    @fuzz(examples)
    @given(body=st.one_of(mutated_store(seed, regions, heaps), st.binary(max_size=2000).map(_hdf5_magic)))
    def run(body):
        path.write_bytes(body)
        _check_store(path)

    run()


def _hdf5_magic(tail: bytes) -> bytes:
    return b"\x89HDF\r\n\x1a\n" + tail


@TIMEOUT
@pytest.mark.skipif(sys.platform != "linux", reason="the child's memory limit (RLIMIT_AS) is Linux's")
def test_fuzz_image_store(tmp_path):
    """HDF5 is C: a crash, a hang or a runaway allocation there must not take the test run (or the machine)
    with it, so the stores are fuzzed in a child process with a memory limit and a time-out."""
    code = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({_STORE_CHILD_MEMORY}, {_STORE_CHILD_MEMORY})); "
    code += f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_fuzz; "
    code += f"test_fuzz.fuzz_stores({str(tmp_path)!r}, {max(1, int(400 * SCALE))})"
    limit = 90 * max(1.0, SCALE)
    try:
        proc = subprocess.run(
            [sys.executable, "-X", "faulthandler", "-W", "error", "-c", code],
            capture_output=True,
            text=True,
            timeout=limit,
            check=False,
            env={**os.environ, "GALVAE_FUZZ_SCALE": "1"},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading a fuzzed store hung (> {limit:.0f} s); its bytes are in {tmp_path / 'fuzzed.h5'}")
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, f"exit status {proc.returncode}; input in {tmp_path / 'fuzzed.h5'}\n{tail}"


def test_seed_files_are_valid(workdir, store_seed):
    """The mutations start from files every reader accepts, so the fuzzing explores damage, not a dead end."""
    _check_store(workdir / "seed.h5")
    for name, body in SEEDS.items():
        path = _write(workdir, f"seed-{name}", body)
        if name.startswith("cat."):
            assert len(read_catalog(path)) == 3
        else:
            assert read_image(path).image.shape[0] == 3, name
    with ImageStore(workdir / "seed.h5") as s:
        assert s.ids.tolist() == ["a", "bb", "ccc", "d"] and s.read().shape == (4, 3, 8, 8)


def test_parquet_with_damaged_pandas_metadata_is_refused(tmp_path):
    """Found by fuzzing: pyarrow's KeyError on damaged pandas metadata escaped ``read_catalog``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": ["a"], "ra": [1.0], "dec": [0.0]})
    pq.write_table(table.replace_schema_metadata({b"pandas": b'{"index_columns": []}'}), tmp_path / "c.parquet")
    with pytest.raises(GalvaeError, match=r"c\.parquet: cannot read Parquet catalogue: damaged pandas metadata"):
        read_catalog(tmp_path / "c.parquet")


# --------------------------------------------------------------------------- known HDF5 defects, kept visible

#: Write a small store, damage one byte chosen by ``DAMAGE`` (defined before this runs), open it and read its
#: ids; print the GalvaeError galvae should give.
_DAMAGED_STORE = textwrap.dedent(
    """
    import json, struct, sys
    import h5py
    import numpy as np
    from galvae.config import StretchConfig, config_to_dict
    from galvae.data.store import ImageStore

    path = sys.argv[1]
    # variable-length strings, as galvae wrote them before 2026-12-05 and other tools still do
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.zeros((2, 3, 8, 8), np.float32))
        f.create_dataset("id", data=["a", "b"], dtype=h5py.string_dtype())
        f.attrs["bands"], f.attrs["size"], f.attrs["survey"] = "grz", 8, "s"
        f.attrs["normalisation"] = json.dumps(config_to_dict(StretchConfig()), sort_keys=True)
    assert ImageStore(path).ids.tolist() == ["a", "b"]  # such a store, undamaged, is read
    body = bytearray(open(path, "rb").read())
    DAMAGE(body)
    open(path, "wb").write(bytes(body))
    try:
        ImageStore(path).ids
    except Exception as exc:
        print(type(exc).__name__, exc)
    """
)

_HEAP_OBJECT_SIZE = """
def DAMAGE(body):  # the global heap object holding the id "a": its size 1 -> 769, past the collection's end
    pos = body.find(b"GCOL") + 16
    while body[pos + 16 : pos + 17] != b"a":
        pos += 16 + (struct.unpack_from("<Q", body, pos + 8)[0] + 7) // 8 * 8
    body[pos + 9] = 3
"""

_VLEN_STRING_TYPE = """
def DAMAGE(body):  # the datatype of the attribute 'normalisation': variable-length string -> type 10 (none)
    pos = body.index(b"normalisation\\0\\0\\0\\x19\\x01") + 17
    body[pos] = 0xCA
"""


@pytest.mark.parametrize(
    ("damage", "defect"),
    [
        (_HEAP_OBJECT_SIZE, "hang"),
        (_VLEN_STRING_TYPE, "crash"),
    ],
    ids=["global-heap-object-size-hangs", "vlen-string-type-crashes"],
)
@pytest.mark.xfail(
    strict=True,
    reason="HDF5 (h5py 3.16 with HDF5 2.0.0) spins forever, or crashes the process, on these one-byte damages "
    "to a store's variable-length strings (ids, attributes), which galvae no longer writes but still reads "
    "(older stores, other tools); galvae cannot intercept them in-process",
)
@pytest.mark.timeout(60)
def test_known_hdf5_defects(tmp_path, damage, defect):
    """One damaged byte that HDF5 itself does not survive (found by fuzzing stores with variable-length strings).

    The test states what galvae should do -- one GalvaeFileError -- and fails (xfail) while HDF5 hangs
    or crashes; a fixed HDF5, or a galvae defence, turns it into an unexpected pass to be noticed.
    """
    code = damage + _DAMAGED_STORE
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "damaged.h5")],
            capture_output=True,
            text=True,
            timeout=5,  # a sound read, imports included, takes ~1 s
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading the ids of the damaged store did not return within 5 s ({defect})")
    assert proc.returncode == 0 and "GalvaeFileError" in proc.stdout, (proc.returncode, proc.stdout, proc.stderr)


def test_stores_have_no_global_heap(tmp_path):
    """What galvae writes cannot meet the defects above: ids and string attributes are fixed-length strings,
    so a store holds no global heap; ids longer than MAX_ID_BYTES are refused rather than cut."""
    path = write_store(
        tmp_path / "s.h5",
        np.zeros((2, 3, 8, 8), np.float32),
        ["a", "é" * 64],  # 128 bytes in UTF-8
        survey="s",
        normalisation=StretchConfig(),
        attrs={"profile": "gz-decals", "note": {"k": [1, 2]}},
    )
    assert b"GCOL" not in path.read_bytes()
    with h5py.File(path, "r") as f:
        assert h5py.check_string_dtype(f["id"].dtype).length == MAX_ID_BYTES
        for k in ("bands", "survey", "normalisation", "profile", "note", "galvae_version"):
            assert h5py.check_string_dtype(f.attrs.get_id(k).dtype).length is not None, k
    with ImageStore(path) as st_:
        assert st_.ids.tolist() == ["a", "é" * 64] and st_.attrs["note"] == {"k": [1, 2]}
        assert st_.attrs["profile"] == "gz-decals" and st_.survey == "s"
    with pytest.raises(GalvaeValueError, match=r"id 'éééé.*' is 130 bytes in UTF-8; ids of at most 128 bytes"):
        write_store(
            tmp_path / "t.h5", np.zeros((1, 3, 8, 8), np.float32), ["é" * 65], survey="s", normalisation=StretchConfig()
        )
