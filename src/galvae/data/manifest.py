"""Sharded image stores: HDF5 shards of bounded size plus a JSON manifest.

A survey-scale store (tens of millions of cutouts) does not fit one
comfortable file: it is written as shards ``NAME-00000.h5``,
``NAME-00001.h5``, … of at most ``shard_size`` images each, every one an
ordinary image store (:mod:`galvae.data.store`), next to a manifest
``NAME.json``::

    {"format": "galvae-sharded-store", "format_version": 1,
     "n_images": 250000, "size": 64, "survey": "decals", "has_mask": true,
     "normalisation": {...}, "galvae_version": "...",
     "shards": [{"file": "decals-00000.h5", "n_images": 50000,
                 "bytes": 2457621504, "sha256": "..."}, ...]}

Shard files are named relative to the manifest's directory, so a directory
can be moved or copied as a whole.  The rows of the sharded store are the
rows of its shards in manifest order; ids are unique across all shards.

Everything that takes an image store takes a manifest: :class:`ShardedStore`
is an :class:`~galvae.data.store.ImageStore` (``ImageStore("x.json")`` and
:func:`~galvae.data.store.open_store` return one for a ``.json`` path), with
the same ``len``, ``ids``, ``index_of``, ``read`` and ``read_mask``.

When a manifest is checked
--------------------------
Hashing a terabyte at every open would cost minutes, so checking is split:

* **on open** (every time, cheap): the manifest parses, every shard exists
  and has the byte size the manifest records, and each shard's HDF5 header
  agrees with the manifest (image count, image side, normalisation, mask).
  This catches a missing, truncated, replaced or partially copied shard.
* **with** ``verify=True`` (``open_store(path, verify=True)``,
  :meth:`ShardedStore.verify`, ``galvae info MANIFEST --verify``): the
  SHA-256 of every shard is recomputed and compared, which also catches
  a same-size corruption (a flipped bit); it reads every byte once.

Any failure raises one :class:`~galvae.errors.GalvaeFileError` naming the
shard.  The writer computes the checksums as it closes each shard (one
extra sequential read of a file that is still in the page cache).

Readers keep at most ``max_open`` shard files open at a time (least
recently used closed first), so memory stays bounded however many shards a
store has, and open them lazily in whichever process reads (DataLoader
workers never inherit an h5py handle).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._io import atomic_path, temporary_name
from .._validate import check_int
from .._version import __version__
from ..config import BANDS, StretchConfig, config_from_dict, config_to_dict
from ..errors import GalvaeFileError, GalvaeKeyError, GalvaeValueError
from .store import ImageStore, ImageStoreWriter

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "ShardedStore",
    "ShardedStoreWriter",
    "is_manifest",
    "manifest_path",
    "read_manifest",
    "sha256_file",
]

log = logging.getLogger(__name__)

#: ``format`` key of a sharded-store manifest.
MANIFEST_FORMAT = "galvae-sharded-store"
#: Manifest format version this galvae writes and reads.
MANIFEST_VERSION = 1
#: Shard files kept open at once by a reader (per process).
DEFAULT_MAX_OPEN = 32

_HASH_BLOCK = 8 << 20


def is_manifest(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a sharded-store manifest (by its ``.json`` suffix)."""
    return str(path).lower().endswith(".json")


def manifest_path(out: str | os.PathLike[str]) -> Path:
    """The manifest written for an ``--out`` name with ``--shard-size``.

    ``NAME.json`` is kept; any other name (``NAME.h5``) becomes ``NAME.json``
    beside it.  Shards are then ``NAME-00000.h5``, ``NAME-00001.h5``, …
    """
    p = Path(out)
    return p if is_manifest(p) else p.with_suffix(".json")


def _shard_name(manifest: Path, k: int) -> str:
    return f"{manifest.name[: -len('.json')]}-{k:05d}.h5"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 8 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check the structure of a sharded-store manifest.

    Parameters
    ----------
    path : path
        The ``.json`` manifest.

    Returns
    -------
    dict
        The manifest, ``shards`` a list of dicts with ``file``, ``n_images``,
        ``bytes`` and ``sha256``.

    Raises
    ------
    GalvaeFileError
        If the file is missing, not JSON, not a galvae manifest, of another
        format version, or its shard list is malformed or does not add up to
        ``n_images``.
    """
    p = Path(path)
    if not p.is_file():
        raise GalvaeFileError(p, "sharded-store manifest not found")
    try:
        man = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GalvaeFileError(p, f"unreadable manifest ({type(exc).__name__}: {exc})") from None
    if not isinstance(man, dict) or man.get("format") != MANIFEST_FORMAT:
        got = man.get("format") if isinstance(man, dict) else type(man).__name__
        raise GalvaeFileError(p, f"not a galvae sharded-store manifest (format {got!r}, expected {MANIFEST_FORMAT!r})")
    if man.get("format_version") != MANIFEST_VERSION:
        raise GalvaeFileError(
            p,
            f"manifest format_version {man.get('format_version')!r}; this galvae reads version {MANIFEST_VERSION}",
        )
    shards = man.get("shards")
    if not isinstance(shards, list) or not shards:
        raise GalvaeFileError(p, "manifest lists no shards")
    for k, s in enumerate(shards):
        ok = (
            isinstance(s, dict)
            and isinstance(s.get("file"), str)
            and isinstance(s.get("n_images"), int)
            and s["n_images"] >= 0
            and isinstance(s.get("bytes"), int)
            and isinstance(s.get("sha256"), str)
        )
        if not ok:
            raise GalvaeFileError(p, f"shard entry {k} is malformed (needs file, n_images, bytes, sha256): {s!r}")
        if Path(s["file"]).is_absolute() or ".." in Path(s["file"]).parts:
            raise GalvaeFileError(p, f"shard {s['file']!r} must be a file name relative to the manifest")
    total = sum(s["n_images"] for s in shards)
    if man.get("n_images") != total:
        raise GalvaeFileError(p, f"manifest declares n_images {man.get('n_images')!r} but its shards hold {total}")
    for key in ("size", "normalisation"):
        if key not in man:
            raise GalvaeFileError(p, f"manifest has no {key!r}")
    return man


class ShardedStoreWriter:
    """Write a sharded image store: shards of at most ``shard_size`` images, then the manifest.

    The same interface as :class:`~galvae.data.store.ImageStoreWriter`
    (context manager, ``append``, ``close``, ``abort``); blocks are split
    across shard boundaries.  Each shard is written atomically; the manifest
    is written last, atomically, so a killed writer never leaves a manifest
    that looks finished.  On an error (or :meth:`abort`) the shards written
    so far are removed.

    Parameters
    ----------
    path : str or PathLike
        The manifest (``NAME.json``; another suffix is replaced by ``.json``,
        see :func:`manifest_path`).  Shards are ``NAME-00000.h5``, … beside it.
    shard_size : int
        Images per shard (the last one may hold fewer); at least 1.  A 64 px
        image takes 48 KiB, so 20 000 images make a ~1 GiB shard.
    size, survey, normalisation, pixel_scale_arcsec, with_mask, attrs, overwrite, value_range
        As for :class:`~galvae.data.store.ImageStoreWriter`; ``attrs`` are
        written into every shard (plus ``shard_index``).

    Raises
    ------
    GalvaeFileError
        If the manifest exists and ``overwrite`` is False.
    GalvaeValueError
        On a bad ``shard_size``, and as ``ImageStoreWriter.append`` (ids are
        checked for uniqueness across all shards).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        shard_size: int,
        size: int,
        survey: str,
        normalisation: StretchConfig,
        pixel_scale_arcsec: float = math.nan,
        with_mask: bool = False,
        attrs: dict[str, Any] | None = None,
        overwrite: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        self.shard_size = check_int("shard_size (images per shard)", shard_size, minimum=1)
        self.path = manifest_path(path)
        self._kw: dict[str, Any] = {
            "size": int(size),
            "survey": str(survey),
            "normalisation": normalisation,
            "pixel_scale_arcsec": float(pixel_scale_arcsec),
            "with_mask": bool(with_mask),
            "overwrite": True,  # the manifest's existence was checked; stale shards of an old write are replaced
            "value_range": value_range,
        }
        self.size = int(size)
        self.survey = str(survey)
        self.normalisation = normalisation
        self.with_mask = bool(with_mask)
        self.attrs = dict(attrs or {})
        self.overwrite = bool(overwrite)
        self._ids: set[str] = set()
        self._n = 0
        self._current: ImageStoreWriter | None = None
        self._shards: list[dict[str, Any]] = []
        self._open = False

    def __enter__(self) -> ShardedStoreWriter:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def open(self) -> None:
        """Check the destination; shards are created as images arrive."""
        if self.path.exists() and not self.overwrite:
            raise GalvaeFileError(self.path, "already exists (pass overwrite=True / --overwrite to replace it)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._open = True

    def _start_shard(self) -> ImageStoreWriter:
        k = len(self._shards)
        attrs = {**self.attrs, "shard_index": k}
        w = ImageStoreWriter(self.path.parent / _shard_name(self.path, k), attrs=attrs, **self._kw)
        w.open()
        self._current = w
        return w

    def _finish_shard(self) -> None:
        w = self._current
        if w is None:
            return
        n = len(w)
        path = w.close()
        self._current = None
        self._shards.append(
            {"file": path.name, "n_images": n, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
        )
        log.debug("shard %s: %d images", path, n)

    def append(self, images: ArrayLike, ids: Sequence[str], masks: ArrayLike | None = None) -> None:
        """Append a block of images (see :meth:`ImageStoreWriter.append`), split across shards."""
        if not self._open:
            raise GalvaeValueError(
                f"sharded store {self.path}: ShardedStoreWriter.append called before open() / outside its with-block"
            )
        ids = [str(i) for i in ids]
        counts = Counter(ids)
        dup = sorted({i for i, c in counts.items() if c > 1 or i in self._ids})
        if dup:
            raise GalvaeValueError(f"sharded store {self.path}: duplicate ids", dup[:10])
        imgs = np.asarray(images, dtype=np.float32)
        if imgs.ndim != 4 or len(imgs) != len(ids):
            raise GalvaeValueError(
                f"sharded store {self.path}: images must have shape (n, 3, S, S) with one id each", imgs.shape
            )
        m = None if masks is None else np.asarray(masks, dtype=bool)
        start = 0
        while start < len(ids):
            w = self._current if self._current is not None else self._start_shard()
            stop = min(len(ids), start + self.shard_size - len(w))
            w.append(imgs[start:stop], ids[start:stop], None if m is None else m[start:stop])
            self._ids.update(ids[start:stop])
            self._n += stop - start
            start = stop
            if len(w) >= self.shard_size:
                self._finish_shard()

    def __len__(self) -> int:
        return self._n

    def close(self) -> Path:
        """Close the last shard and write the manifest atomically; return the manifest path."""
        if not self._open:
            return self.path
        if self._current is None and not self._shards:
            self._start_shard()  # an empty store still has one (empty) shard carrying its attributes
        self._finish_shard()
        old = _listed_shards(self.path) if self.path.exists() else []
        man = {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_VERSION,
            "n_images": self._n,
            "size": self.size,
            "survey": self.survey,
            "bands": "".join(BANDS),
            "has_mask": self.with_mask,
            "normalisation": config_to_dict(self.normalisation),
            "shard_size": self.shard_size,
            "galvae_version": __version__,
            "shards": self._shards,
        }
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(man, indent=1) + "\n", encoding="utf-8")
        self._open = False
        keep = {s["file"] for s in self._shards}
        for name in old:  # shards of an overwritten, larger store
            if name not in keep:
                (self.path.parent / name).unlink(missing_ok=True)
        log.info("wrote %d images in %d shards, manifest %s", self._n, len(self._shards), self.path)
        return self.path

    def abort(self) -> None:
        """Remove the shard being written and those finished by this writer; write no manifest."""
        if self._current is not None:
            self._current.abort()
            self._current = None
        for s in self._shards:
            (self.path.parent / s["file"]).unlink(missing_ok=True)
        self._shards = []
        self._open = False
        temporary_name(self.path).unlink(missing_ok=True)


def _listed_shards(path: Path) -> list[str]:
    try:
        man = json.loads(path.read_text(encoding="utf-8"))
        return [str(s["file"]) for s in man.get("shards", []) if "/" not in str(s.get("file", "/"))]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return []


class ShardedStore(ImageStore):
    """Read-only view of a sharded image store, with the :class:`ImageStore` interface.

    ``ImageStore(path)`` and :func:`~galvae.data.store.open_store` return a
    ``ShardedStore`` for a ``.json`` path, so it can be given wherever a store
    is expected (``GalaxyDataset``, training, encoding, evaluation).

    Parameters
    ----------
    path : str or PathLike
        The manifest.
    verify : bool, default False
        Also recompute every shard's SHA-256 (reads every byte; see the
        module notes on when manifests are checked).
    max_open : int, default 32
        Shard files kept open at once per process (least recently used
        closed first).

    Attributes
    ----------
    path : Path
        The manifest.
    manifest : dict
    shards : list of ImageStore
        One (lazily opened) store per shard, in order.
    offsets : ndarray of int64, shape (n_shards + 1,)
        First global row of each shard, then the total.
    size, survey, bands, pixel_scale_arcsec, profile, normalisation, attrs, has_mask
        As for :class:`ImageStore` (``attrs`` are those of the first shard).

    Raises
    ------
    GalvaeFileError
        One line naming the manifest and the shard, if the manifest is
        unreadable, a shard is missing, has another byte size or (``verify``)
        checksum than recorded, holds another number of images, or disagrees
        with the manifest on image side, normalisation or mask.
    """

    def __init__(self, path: str | os.PathLike[str], verify: bool = False, max_open: int = DEFAULT_MAX_OPEN) -> None:
        self.path = Path(path)
        self.max_open = check_int("max_open", max_open, minimum=1)
        self.manifest = read_manifest(self.path)
        self._file = None
        self._pid = None
        self._ids: NDArray | None = None
        self._index: dict[str, int] | None = None
        self._lru: OrderedDict[int, None] = OrderedDict()
        root = self.path.parent
        man = self.manifest
        try:
            norm = config_from_dict(StretchConfig, man["normalisation"])
        except (GalvaeValueError, TypeError) as exc:
            raise GalvaeFileError(self.path, f"unreadable normalisation in the manifest: {exc}") from None
        self.shards: list[ImageStore] = []
        for rec in man["shards"]:
            shard = root / rec["file"]
            if not shard.is_file():
                raise GalvaeFileError(self.path, f"shard {rec['file']} is missing (expected at {shard})")
            nbytes = shard.stat().st_size
            if nbytes != rec["bytes"]:
                raise GalvaeFileError(
                    self.path,
                    f"shard {rec['file']} has {nbytes:,} bytes but the manifest records {rec['bytes']:,} "
                    "(truncated, replaced or still being copied)",
                )
            try:
                st = ImageStore(shard)
            except GalvaeFileError as exc:
                raise GalvaeFileError(self.path, f"shard {rec['file']} is damaged: {exc.message}") from None
            st.close()
            if len(st) != rec["n_images"]:
                raise GalvaeFileError(
                    self.path, f"shard {rec['file']} holds {len(st)} images but the manifest records {rec['n_images']}"
                )
            if st.size != man["size"] or st.normalisation != norm or st.has_mask != bool(man.get("has_mask")):
                raise GalvaeFileError(
                    self.path,
                    f"shard {rec['file']} (size {st.size}, normalisation {st.normalisation.kind}, "
                    f"mask {st.has_mask}) disagrees with the manifest",
                )
            self.shards.append(st)
        if verify:
            self.verify()
        first = self.shards[0]
        self.size = first.size
        self.survey = str(man.get("survey", first.survey))
        self.bands = first.bands
        self.pixel_scale_arcsec = first.pixel_scale_arcsec
        self.profile = first.profile
        self.field_fraction = first.field_fraction
        self.normalisation = norm
        self.has_mask = first.has_mask
        self.offsets = np.cumsum([0] + [len(s) for s in self.shards]).astype(np.int64)
        self._len = int(self.offsets[-1])
        self.attrs = {k: v for k, v in first.attrs.items() if k != "shard_index"}
        self.attrs["n_images"] = self._len

    def verify(self, progress: bool = False) -> None:
        """Recompute every shard's SHA-256 and compare it with the manifest.

        Raises
        ------
        GalvaeFileError
            Naming the first shard whose checksum differs.
        """
        from tqdm.auto import tqdm

        for rec in tqdm(self.manifest["shards"], desc="verify", unit="shard", disable=not progress):
            got = sha256_file(self.path.parent / rec["file"])
            if got != rec["sha256"]:
                raise GalvaeFileError(
                    self.path,
                    f"shard {rec['file']} is corrupted: sha256 {got[:16]}… but the manifest records "
                    f"{rec['sha256'][:16]}…",
                )
        log.info("verified the checksums of %d shards of %s", len(self.shards), self.path)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_lru"] = OrderedDict()
        return state

    def __repr__(self) -> str:
        return (
            f"ShardedStore({str(self.path)!r}, n={self._len}, shards={len(self.shards)}, size={self.size}, "
            f"survey={self.survey!r})"
        )

    def close(self) -> None:
        """Close every open shard (they reopen on next access)."""
        for s in self.shards:
            s.close()
        self._lru.clear()

    def _shard(self, k: int) -> ImageStore:
        """Shard ``k``, noting its use; closes the least recently used beyond ``max_open``."""
        self._lru[k] = None
        self._lru.move_to_end(k)
        while len(self._lru) > self.max_open:
            old, _ = self._lru.popitem(last=False)
            self.shards[old].close()
        return self.shards[k]

    @property
    def ids(self) -> NDArray:
        """All ids in shard order, as a numpy array of str (cached).

        Raises
        ------
        GalvaeFileError
            If a shard's ids cannot be read, or an id appears in two shards.
        """
        if self._ids is None:
            parts = []
            for k, s in enumerate(self.shards):
                parts.append(self._shard(k).ids)
                s._ids = None  # held once, here
                s._index = None
            ids = np.concatenate(parts) if parts else np.empty(0, dtype=str)
            if len(np.unique(ids)) != ids.size:
                seen: set[str] = set()
                dup = next(i for i in ids.tolist() if i in seen or seen.add(i))  # type: ignore[func-returns-value]
                raise GalvaeFileError(self.path, f"id {dup!r} appears in more than one shard; ids must be unique")
            self._ids = ids
        return self._ids

    def index_of(self, ids: Iterable[str]) -> NDArray:
        """Global row numbers of ``ids``; raises :class:`GalvaeKeyError` for unknown ids."""
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.ids.tolist())}
        out = []
        for i in ids:
            try:
                out.append(self._index[str(i)])
            except KeyError:
                raise GalvaeKeyError(f"id not in sharded store {self.path}", i) from None
        return np.asarray(out, dtype=np.int64)

    def _global_rows(self, index: Any) -> NDArray:
        if isinstance(index, slice):
            return np.arange(*index.indices(self._len), dtype=np.int64)
        idx = np.asarray(index)
        if idx.dtype == bool or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"sharded store index must be an int, a slice or an integer array, not {idx.dtype}")
        idx = idx.astype(np.int64).reshape(-1)
        if idx.size and (idx.min() < -self._len or idx.max() >= self._len):
            raise GalvaeValueError(
                f"sharded store {self.path}: index out of range for a store of {self._len} images",
                int(idx.max()) if idx.max() >= self._len else int(idx.min()),
            )
        return np.where(idx < 0, idx + self._len, idx)

    def _gather(self, name: str, index: Any) -> NDArray:
        """Rows of ``images`` or ``mask`` at a global ``index``, read shard by shard."""
        scalar = not isinstance(index, slice) and np.ndim(index) == 0
        rows = self._global_rows(index)
        s = self.size
        shape = (3, s, s) if name == "images" else (s, s)
        out = np.empty((rows.size, *shape), dtype=np.float32 if name == "images" else bool)
        if rows.size:
            which = np.searchsorted(self.offsets, rows, side="right") - 1
            for k in np.unique(which):
                sel = np.flatnonzero(which == k)
                local = rows[sel] - self.offsets[k]
                shard = self._shard(int(k))
                contiguous = local.size == 1 or bool(np.all(np.diff(local) == 1))
                index_k: Any = slice(int(local[0]), int(local[-1]) + 1) if contiguous else local
                out[sel] = shard.read(index_k) if name == "images" else shard.read_mask(index_k)
        return out[0] if scalar else out

    def read(self, index: Any = slice(None)) -> NDArray:
        """Images at a global ``index`` (int, slice or 1-d integer array), float32 (…, 3, S, S).

        Only the requested rows are read, from the shards holding them.

        Raises
        ------
        GalvaeFileError
            If a block read holds a non-finite pixel or a shard is damaged
            (naming the shard and the id).
        GalvaeValueError
            If an index is out of range.
        """
        return self._gather("images", index)

    def read_mask(self, index: Any = slice(None)) -> NDArray:
        """Masks at a global ``index``; all False when the store has no mask."""
        return self._gather("mask", index)

    @property
    def images(self) -> h5py.Dataset:
        """Not available: a sharded store has one ``images`` dataset per shard (use :meth:`read`)."""
        raise GalvaeValueError(
            f"sharded store {self.path} has no single images dataset; use read(index) or its shards' images"
        )

    def _h5(self) -> h5py.File:  # pragma: no cover - guards code that reaches for the single file
        raise GalvaeValueError(f"sharded store {self.path} has no single HDF5 file; use read(index)")
