"""The HDF5 image store: galvae's one on-disk format for images.

Layout (see ``shared/design.md``)::

    /images   float32 (N, 3, S, S)  bands g, r, z; chunked by whole images
    /id       variable-length UTF-8 strings, unique
    /mask     bool (N, S, S), optional: True where a pixel is invalid
    attrs     bands, pixel_scale_arcsec, size, survey,
              normalisation (JSON: kind and parameters), galvae_version,
              profile (presentation profile, see galvae.data.presentation; "fixed" when absent),
              plus any extra attributes the writer was given

A store is written under a temporary name in the same directory and renamed
only when it is complete, so a killed writer never leaves a file that looks
finished.  The writer refuses non-finite pixels and values outside the range
the store's normalisation declares (:func:`value_range`); readers check every
block they read for non-finite values (a store written by another tool), so
a NaN never reaches a model.  Opening checks the layout (datasets, their
shapes and types, band order ``grz``, that the file stores every row its
header declares), loading the ids checks they are unique,
and any HDF5 error on a damaged file becomes a
:class:`~galvae.errors.GalvaeFileError` naming it.  Readers open the file lazily and reopen it after a ``fork`` (as in
DataLoader workers) rather than inherit an h5py handle.

A survey-scale store can instead be written as HDF5 shards plus a JSON
manifest (:mod:`galvae.data.manifest`); ``ImageStore("NAME.json")`` and
:func:`open_store` open it as a :class:`~galvae.data.manifest.ShardedStore`
with this class's interface.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._io import temporary_name
from .._version import __version__
from ..config import BANDS, StretchConfig, config_from_dict, config_to_dict
from ..errors import GalvaeError, GalvaeFileError, GalvaeKeyError, GalvaeValueError

__all__ = [
    "ImageStore",
    "ImageStoreWriter",
    "write_store",
    "open_store",
    "same_stores",
    "store_fingerprints",
    "value_range",
    "MODEL_OUTPUT_KINDS",
    "MAX_ID_BYTES",
]

log = logging.getLogger(__name__)

#: Longest id a store holds, in UTF-8 bytes. Ids and string attributes are written as fixed-length strings:
#: HDF5 keeps variable-length strings in a global heap, and one damaged byte there (an object's size, a
#: string's datatype) makes HDF5 2.0 spin forever or crash the process before galvae can say anything
#: (``tests/test_fuzz.py::test_known_hdf5_defects``); fixed-length strings live inside their dataset and
#: attribute messages. Stores with variable-length ids (older galvae, other tools) are still read.
MAX_ID_BYTES = 128
_ID_DTYPE = h5py.string_dtype(encoding="utf-8", length=MAX_ID_BYTES)
_MAX_ATTR_BYTES = 16 << 20  # an attribute's declared size beyond which a store is taken as damaged
_CHUNK_BYTES = 1 << 20  # aim for ~1 MiB chunks of whole images
#: Gathering rows for an index array reads contiguous blocks of about this many bytes and picks the rows
#: from them (where the rows asked for fill at least a quarter of the block; scattered rows are still read
#: by h5py's point selection): h5py selects each row on its own, and 1800 of 2000 rows of a 64 px store
#: took 1.0 s that way against 0.05 s for the whole block.
_GATHER_BYTES = 32 << 20


#: ``kind`` attributes of stores holding decoder outputs (``galvae reconstruct`` / ``generate``): a VAE's
#: final ReLU makes them non-negative but not bounded by 1.
MODEL_OUTPUT_KINDS: tuple[str, ...] = ("reconstruction", "prior_sample", "latent_density_sample", "interpolation")


def _set_attr(f: h5py.File, key: str, value: Any) -> None:
    """Write one attribute; a str as a fixed-length UTF-8 string (see :data:`MAX_ID_BYTES` for why)."""
    if isinstance(value, str):
        raw = value.encode("utf-8")
        f.attrs.create(key, np.bytes_(raw), dtype=h5py.string_dtype("utf-8", max(len(raw), 1)))
    else:
        f.attrs[key] = value


def value_range(normalisation: StretchConfig, kind: str | None = None) -> tuple[float, float]:
    """The pixel values a store of this normalisation (and ``kind`` attribute) may hold.

    Every galvae stretch (``asinh``, ``uint8``, ``none``) maps onto [0, 1];
    stores of decoder outputs (:data:`MODEL_OUTPUT_KINDS`) hold [0, inf).

    Parameters
    ----------
    normalisation : StretchConfig
    kind : str, optional
        The store's ``kind`` attribute.

    Returns
    -------
    (float, float)
        Inclusive lower and upper bounds.
    """
    if kind in MODEL_OUTPUT_KINDS:
        return 0.0, math.inf
    return 0.0, 1.0  # asinh and uint8 clip to [0, 1]; "none" requires it


def _first_bad(imgs: NDArray, lo: float, hi: float) -> tuple[int, float] | None:
    """(row, value) of the first non-finite or out-of-range pixel, or None (three vector passes when all is well)."""
    finite = np.isfinite(imgs)
    if finite.all() and (imgs.size == 0 or (imgs.min() >= lo and imgs.max() <= hi)):
        return None
    bad = ~finite | (np.where(finite, imgs, lo) < lo) | (np.where(finite, imgs, lo) > hi)
    row = int(np.flatnonzero(bad.reshape(len(imgs), -1).any(axis=1))[0])
    return row, float(imgs[row][bad[row]].flat[0])


def _all_finite(block: NDArray) -> bool:
    """Whether every value of a float32 block is finite, in one fast pass.

    x·x (BLAS) is non-finite exactly when some x is, or when the sum
    overflows (values beyond ~1e19): only then is the exact elementwise
    test run.  On a 2000 × 3 × 64 × 64 block this costs about 3 ms against
    5 ms for ``np.isfinite(x).all()`` (which allocates a boolean copy).
    """
    flat = block.reshape(-1)
    if flat.size >= 1 << 16 and flat.dtype == np.float32 and flat.flags.c_contiguous:
        if np.isfinite(np.dot(flat, flat)):
            return True
    return bool(np.isfinite(flat).all())


def _value_range_arg(
    given: tuple[float, float] | None, normalisation: StretchConfig, kind: str | None
) -> tuple[float, float]:
    if given is None:
        return value_range(normalisation, kind)
    try:
        lo, hi = (float(v) for v in given)
    except (TypeError, ValueError):
        raise GalvaeValueError("value_range must be two numbers (low, high)", given) from None
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        raise GalvaeValueError("value_range must be (low, high) with low <= high", given)
    return lo, hi


def _missing_storage(ds: h5py.Dataset) -> str | None:
    """What the file fails to store of a dataset's declared extent, or None when it stores all of it.

    A damaged header can declare far more rows than were ever written (HDF5
    would serve the missing ones as fill values); every galvae writer stores
    every chunk.  Chunked data count allocated chunks (compressed or not), a
    contiguous dataset its bytes.
    """
    if ds.size == 0:
        return None
    if ds.chunks is None:
        have, needed = ds.id.get_storage_size(), ds.size * ds.dtype.itemsize
        return None if have >= needed else f"{have:,} of its {needed:,} bytes"
    needed = math.prod(-(-n // c) for n, c in zip(ds.shape, ds.chunks, strict=True))
    have = ds.id.get_num_chunks()
    return None if have >= needed else f"{have:,} of its {needed:,} chunks"


def _images_per_chunk(size: int) -> int:
    per_image = 3 * size * size * 4
    return max(1, min(256, _CHUNK_BYTES // per_image))


class ImageStoreWriter:
    """Write an image store incrementally, atomically.

    Use as a context manager; images are appended in blocks, and the file
    appears under its final name only when the ``with`` block ends without an
    error (otherwise the temporary file is removed).

    Parameters
    ----------
    path : str or PathLike
        Final file name (conventionally ``.h5``).
    size : int
        Image side S in pixels.
    survey : str
        Survey name recorded in the attributes (e.g. ``"decals"``).
    normalisation : StretchConfig
        The stretch that produced the stored values.
    pixel_scale_arcsec : float, optional
        Pixel scale of the stored images; NaN when unknown (e.g. Galaxy Zoo
        composites, whose scale varies with galaxy size).
    with_mask : bool, default False
        Whether to write a ``mask`` dataset.
    attrs : dict, optional
        Extra attributes (JSON-serialisable values are stored as JSON text).
    overwrite : bool, default False
        Replace an existing file at ``path``.
    value_range : (float, float), optional
        Inclusive bounds of the pixel values; default :func:`value_range` of
        ``normalisation`` and ``attrs["kind"]``.

    Raises
    ------
    GalvaeFileError
        If ``path`` exists and ``overwrite`` is False.
    GalvaeValueError
        On images of the wrong shape, non-finite or out-of-range pixels, or
        duplicate ids when appending (nothing of that block is written).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        size: int,
        survey: str,
        normalisation: StretchConfig,
        pixel_scale_arcsec: float = math.nan,
        with_mask: bool = False,
        attrs: dict[str, Any] | None = None,
        overwrite: bool = False,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        self.path = Path(path)
        self.size = int(size)
        self.survey = str(survey)
        self.normalisation = normalisation
        self.pixel_scale_arcsec = float(pixel_scale_arcsec)
        self.with_mask = bool(with_mask)
        self.attrs = dict(attrs or {})
        self.overwrite = bool(overwrite)
        kind = self.attrs.get("kind")
        self.value_range = _value_range_arg(value_range, normalisation, kind if isinstance(kind, str) else None)
        self._ids: set[str] = set()
        self._n = 0
        self._file: h5py.File | None = None
        self._tmp = temporary_name(self.path)

    # -- context management
    def __enter__(self) -> ImageStoreWriter:
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
        """Create the temporary file and its datasets."""
        if self.path.exists() and not self.overwrite:
            raise GalvaeFileError(self.path, "already exists (pass overwrite=True / --overwrite to replace it)")
        if not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        s = self.size
        chunk = _images_per_chunk(s)
        f = h5py.File(self._tmp, "w")
        f.create_dataset("images", shape=(0, 3, s, s), maxshape=(None, 3, s, s), dtype="f4", chunks=(chunk, 3, s, s))
        f.create_dataset(
            "id", shape=(0,), maxshape=(None,), dtype=_ID_DTYPE, chunks=(max(chunk, 1024),), compression="gzip"
        )
        if self.with_mask:
            f.create_dataset("mask", shape=(0, s, s), maxshape=(None, s, s), dtype=bool, chunks=(chunk, s, s))
        _set_attr(f, "bands", "".join(BANDS))
        _set_attr(f, "size", s)
        _set_attr(f, "survey", self.survey)
        _set_attr(f, "pixel_scale_arcsec", self.pixel_scale_arcsec)
        _set_attr(f, "normalisation", json.dumps(config_to_dict(self.normalisation), sort_keys=True))
        _set_attr(f, "galvae_version", __version__)
        for key, value in self.attrs.items():
            _set_attr(f, key, value if isinstance(value, str | int | float | np.number) else json.dumps(value))
        self._file = f

    def append(self, images: ArrayLike, ids: Sequence[str], masks: ArrayLike | None = None) -> None:
        """Append a block of images.

        Parameters
        ----------
        images : array_like, shape (n, 3, S, S)
            Finite values in ``value_range`` ([0, 1] for every stretch; the
            stretch is the caller's job).
        ids : sequence of str, length n
            Unique across the whole store.
        masks : array_like of bool, shape (n, S, S), optional
            Required when the writer was made ``with_mask=True``; when
            omitted there, no pixel is invalid.
        """
        if self._file is None:
            raise GalvaeValueError(
                f"image store {self.path}: ImageStoreWriter.append called before open() / outside its with-block"
            )
        imgs = np.asarray(images, dtype=np.float32)
        s = self.size
        if imgs.ndim != 4 or imgs.shape[1:] != (3, s, s):
            raise GalvaeValueError(f"image store {self.path}: images must have shape (n, 3, {s}, {s})", imgs.shape)
        ids = [str(i) for i in ids]
        if len(ids) != imgs.shape[0]:
            raise GalvaeValueError(f"image store {self.path}: got {imgs.shape[0]} images but {len(ids)} ids")
        dup = [i for i in ids if i in self._ids]
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            dup += [i for i in ids if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
        if dup:
            raise GalvaeValueError(f"image store {self.path}: duplicate ids", sorted(set(dup))[:10])
        encoded = [i.encode("utf-8") for i in ids]
        long = [i for i, e in zip(ids, encoded, strict=True) if len(e) > MAX_ID_BYTES]
        if long:
            raise GalvaeValueError(
                f"image store {self.path}: id {long[0]!r} is {len(long[0].encode('utf-8'))} bytes in UTF-8; "
                f"ids of at most {MAX_ID_BYTES} bytes accepted",
                long[0],
            )
        lo, hi = self.value_range
        bad = _first_bad(imgs, lo, hi)
        if bad is not None:
            row, value = bad
            raise GalvaeValueError(
                f"image store {self.path}: image {ids[row]!r} has a pixel outside [{lo:g}, {hi:g}] "
                f"(the range of normalisation {self.normalisation.kind!r}); non-finite values are never stored",
                value,
            )
        m = None
        if self.with_mask:
            m = np.zeros((len(ids), s, s), dtype=bool) if masks is None else np.asarray(masks, dtype=bool)
            if m.shape != (len(ids), s, s):
                raise GalvaeValueError(
                    f"image store {self.path}: masks must have shape ({len(ids)}, {s}, {s})", m.shape
                )
        elif masks is not None and np.any(masks):
            raise GalvaeValueError(f"image store {self.path}: masks given to a writer made with with_mask=False")
        n0, n1 = self._n, self._n + len(ids)
        f = self._file
        f["images"].resize(n1, axis=0)
        f["images"][n0:n1] = imgs
        f["id"].resize(n1, axis=0)
        f["id"][n0:n1] = np.array(encoded, dtype=_ID_DTYPE)
        if m is not None:
            f["mask"].resize(n1, axis=0)
            f["mask"][n0:n1] = m
        self._ids.update(ids)
        self._n = n1

    def __len__(self) -> int:
        return self._n

    def close(self) -> Path:
        """Flush, fsync and rename the temporary file to its final name."""
        if self._file is None:
            return self.path
        _set_attr(self._file, "n_images", self._n)
        self._file.flush()
        self._file.close()
        self._file = None
        with open(self._tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self._tmp, self.path)
        log.info("wrote %d images to %s", self._n, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file, leaving nothing behind."""
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None
        self._tmp.unlink(missing_ok=True)


def write_store(
    path: str | os.PathLike[str],
    images: ArrayLike,
    ids: Sequence[str],
    *,
    survey: str,
    normalisation: StretchConfig,
    masks: ArrayLike | None = None,
    pixel_scale_arcsec: float = math.nan,
    attrs: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a whole store from in-memory arrays (see :class:`ImageStoreWriter`)."""
    imgs = np.asarray(images, dtype=np.float32)
    if imgs.ndim != 4:
        raise GalvaeValueError("images must have shape (n, 3, S, S)", imgs.shape)
    with ImageStoreWriter(
        path,
        size=imgs.shape[-1],
        survey=survey,
        normalisation=normalisation,
        pixel_scale_arcsec=pixel_scale_arcsec,
        with_mask=masks is not None,
        attrs=attrs,
        overwrite=overwrite,
    ) as w:
        w.append(imgs, ids, masks)
    return Path(path)


class ImageStore:
    """Read-only, lazily opened view of an image store.

    The HDF5 file is opened on first access and reopened in a child process
    after ``fork``, so an ``ImageStore`` can be handed to DataLoader workers.

    Parameters
    ----------
    path : str or PathLike
        An HDF5 store; a ``.json`` path opens the manifest of a sharded store
        and returns a :class:`~galvae.data.manifest.ShardedStore` (a subclass).

    Attributes
    ----------
    path : Path
    size : int
    survey : str
    bands : str
    pixel_scale_arcsec : float
    normalisation : StretchConfig
    attrs : dict
        All file attributes (JSON text decoded where possible).

    Raises
    ------
    GalvaeFileError
        If the file is missing, not HDF5 or damaged, or lacks the store
        layout: ``images`` float32 (N, 3, S, S), ``id`` strings (N,),
        optional ``mask`` (N, S, S), ``bands`` attribute ``"grz"`` when present.
    """

    def __new__(cls, path: str | os.PathLike[str] | None = None, *args: Any, **kwargs: Any) -> ImageStore:
        # a manifest (``.json``) opens as a sharded store, so every reader of stores takes one
        if cls is ImageStore and path is not None:
            from .manifest import ShardedStore, is_manifest

            if is_manifest(path):
                return super().__new__(ShardedStore)
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file: h5py.File | None = None
        self._pid: int | None = None
        self._ids: NDArray | None = None
        self._index: dict[str, int] | None = None
        try:
            shape = self._check_layout(self._h5())
        except GalvaeError:
            raise
        except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError, ... on a damaged file
            raise GalvaeFileError(self.path, f"damaged image store ({type(exc).__name__}: {exc})") from None
        self.size = int(shape[-1])
        self.survey = str(self.attrs.get("survey", "unknown"))
        self.bands = str(self.attrs.get("bands", "".join(BANDS)))
        self.pixel_scale_arcsec = float(self.attrs.get("pixel_scale_arcsec", math.nan))
        #: presentation profile (:mod:`galvae.data.presentation`); stores written before profiles were "fixed"
        self.profile = str(self.attrs.get("profile", "fixed"))
        #: side of the centre crop of the Galaxy Zoo field a gz-decals store keeps (1: all of it)
        self.field_fraction = float(self.attrs.get("field_fraction", 1.0))
        norm = self.attrs.get("normalisation", {"kind": "none"})
        try:
            self.normalisation = (
                config_from_dict(StretchConfig, norm) if isinstance(norm, dict) else StretchConfig(kind=norm)
            )
        except GalvaeValueError as exc:
            raise GalvaeFileError(self.path, f"unreadable normalisation attribute: {exc}") from None
        self._len = int(shape[0])

    def _check_layout(self, f: h5py.File) -> tuple[int, ...]:
        """Check the datasets and attributes of the store layout; set ``attrs`` and ``has_mask``; return the shape."""
        missing = [k for k in ("images", "id") if not isinstance(f.get(k), h5py.Dataset)]
        if missing:
            raise GalvaeFileError(self.path, f"not a galvae image store (no dataset {', '.join(missing)})")
        images, ids = f["images"], f["id"]
        shape = images.shape
        if len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3]:
            raise GalvaeFileError(self.path, f"images dataset has shape {shape}, expected (N, 3, S, S)")
        if images.dtype != np.float32:
            raise GalvaeFileError(self.path, f"images dataset holds {images.dtype}, expected float32")
        if ids.shape != (shape[0],):
            raise GalvaeFileError(self.path, f"{shape[0]} images but an id dataset of shape {ids.shape}")
        if h5py.check_string_dtype(ids.dtype) is None:
            raise GalvaeFileError(self.path, f"id dataset holds {ids.dtype}, expected strings")
        for ds in (images, ids):
            missing = _missing_storage(ds)
            if missing is not None:
                raise GalvaeFileError(
                    self.path,
                    f"{ds.name.lstrip('/')} dataset declares shape {ds.shape} but the file stores only "
                    f"{missing} (a damaged or incompletely written store)",
                )
        self.has_mask = "mask" in f
        if self.has_mask:
            mask_shape = getattr(f["mask"], "shape", None)
            if mask_shape != (shape[0],) + shape[2:]:
                raise GalvaeFileError(
                    self.path, f"mask dataset has shape {mask_shape}, expected {(shape[0],) + shape[2:]}"
                )
        self.attrs: dict[str, Any] = {}
        for k in f.attrs:
            # HDF5 allocates what an attribute declares before reading it: refuse a damaged, enormous one first
            aid = f.attrs.get_id(k)
            declared = math.prod(aid.shape or ()) * aid.dtype.itemsize
            if max(declared, aid.get_storage_size()) > _MAX_ATTR_BYTES:
                raise GalvaeFileError(
                    self.path,
                    f"attribute {k!r} declares shape {aid.shape} of {aid.dtype} ({declared:,} bytes); "
                    f"at most {_MAX_ATTR_BYTES:,} accepted",
                )
            v = f.attrs[k]
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            if isinstance(v, str) and v[:1] in "[{":
                try:
                    v = json.loads(v)
                except json.JSONDecodeError:
                    pass
            elif isinstance(v, np.generic):
                v = v.item()
            self.attrs[k] = v
        bands = str(self.attrs.get("bands", "".join(BANDS)))
        if bands != "".join(BANDS):
            raise GalvaeFileError(
                self.path,
                f"bands attribute is {bands!r}; a galvae store holds bands {''.join(BANDS)!r} in that order "
                "(reorder the planes and set bands='grz')",
            )
        return shape

    def _h5(self) -> h5py.File:
        pid = os.getpid()
        if self._file is None or self._pid != pid:
            if not self.path.exists():
                raise GalvaeFileError(self.path, "image store not found")
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as exc:
                raise GalvaeFileError(self.path, f"cannot open as HDF5 ({exc})") from None
            self._pid = pid
        return self._file

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"ImageStore({str(self.path)!r}, n={self._len}, size={self.size}, survey={self.survey!r})"

    def close(self) -> None:
        """Close the HDF5 handle (it reopens on next access)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __enter__(self) -> ImageStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ids(self) -> NDArray:
        """All ids, as a numpy array of str (cached).

        Raises
        ------
        GalvaeFileError
            If the ids cannot be read or repeat (a store written by another tool).
        """
        if self._ids is None:
            try:
                ids = np.asarray(self._h5()["id"].asstr()[:], dtype=str)
            except GalvaeError:
                raise
            except Exception as exc:  # h5py / UTF-8 errors on a damaged file
                raise GalvaeFileError(self.path, f"cannot read the ids ({type(exc).__name__}: {exc})") from None
            if len(set(ids.tolist())) != ids.size:
                seen: set[str] = set()
                dup = next(i for i in ids.tolist() if i in seen or seen.add(i))  # type: ignore[func-returns-value]
                raise GalvaeFileError(self.path, f"id {dup!r} appears more than once; ids of a store must be unique")
            self._ids = ids
        return self._ids

    def index_of(self, ids: Iterable[str]) -> NDArray:
        """Row numbers of ``ids``; raises :class:`GalvaeKeyError` for unknown ids."""
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.ids.tolist())}
        out = []
        for i in ids:
            try:
                out.append(self._index[str(i)])
            except KeyError:
                raise GalvaeKeyError(f"id not in image store {self.path}", i) from None
        return np.asarray(out, dtype=np.int64)

    def _rows(self, ds: h5py.Dataset, index: Any) -> NDArray:
        if isinstance(index, slice):
            return ds[index]
        idx = np.asarray(index)
        if idx.ndim == 0:
            return ds[int(idx)]
        if idx.size == 0:
            return np.empty((0,) + ds.shape[1:], dtype=ds.dtype)
        idx = idx.astype(np.int64)
        if idx.min() < -self._len or idx.max() >= self._len:
            raise GalvaeValueError(
                f"image store {self.path}: index out of range for a store of {self._len} images",
                int(idx.max()) if idx.max() >= self._len else int(idx.min()),
            )
        idx = np.where(idx < 0, idx + self._len, idx)
        uniq = np.unique(idx)  # h5py and the block reads want increasing, unique rows
        block = _gather(ds, uniq)
        return block if uniq.size == idx.size and (uniq == idx).all() else block[np.searchsorted(uniq, idx)]

    def read(self, index: Any = slice(None)) -> NDArray:
        """Images at ``index`` (int, slice or integer array), float32 (…, 3, S, S).

        Raises
        ------
        GalvaeFileError
            If the block read holds a non-finite pixel (a store written by
            another tool; the message names the first such id), or the file
            is damaged.
        """
        block = self._read_rows("images", index)
        if not _all_finite(block):
            self._refuse_non_finite(block, index)
        return block

    def _refuse_non_finite(self, block: NDArray, index: Any) -> None:
        flat = block.reshape((-1,) + block.shape[-3:])
        row = int(np.flatnonzero(~np.isfinite(flat).reshape(len(flat), -1).all(axis=1))[0])
        rows = np.arange(self._len)[index] if isinstance(index, slice) else np.atleast_1d(np.asarray(index))
        store_row = int(rows.reshape(-1)[row]) % max(self._len, 1)
        value = float(flat[row][~np.isfinite(flat[row])].flat[0])
        raise GalvaeFileError(
            self.path,
            f"image {str(self.ids[store_row])!r} (row {store_row}) holds a non-finite pixel ({value}); "
            "galvae never trains or encodes on NaN/inf: fix or drop that image and rewrite the store",
        )

    def read_mask(self, index: Any = slice(None)) -> NDArray:
        """Masks at ``index``; all False when the store has no mask."""
        if not self.has_mask:
            shape = self.read(index).shape
            return np.zeros(shape[:-3] + shape[-2:], dtype=bool)
        return self._read_rows("mask", index)

    def _read_rows(self, name: str, index: Any) -> NDArray:
        try:
            return self._rows(self._h5()[name], index)
        except GalvaeError:
            raise
        except (IndexError, TypeError):
            raise
        except Exception as exc:  # h5py raises OSError, RuntimeError, ... on damaged chunks
            raise GalvaeFileError(self.path, f"cannot read {name} ({type(exc).__name__}: {exc})") from None

    @property
    def images(self) -> h5py.Dataset:
        """The raw ``images`` dataset (lazy; slice it to read)."""
        return self._h5()["images"]

    def nbytes(self) -> int:
        """Size of the image array in bytes."""
        return self._len * 3 * self.size * self.size * 4

    def fingerprint(self, sample_rows: int = 16) -> str:
        """A content fingerprint: equal for a store and its copy, moved or renamed, different for other content.

        The SHA-256 (hex) of the image shape, the survey, bands, profile, field fraction and normalisation,
        every id in order, and the pixels of ``sample_rows`` evenly spaced images (first and last among them).
        It reads the ids and those images only (hashing a million ids takes 0.08 s); two stores
        that share every id and the sampled images but differ in another image's pixels share it too.
        Training runs record it (``config.json``, ``data.store_fingerprints``) so a run is recognised as made
        from this content wherever the store now lies (:func:`galvae.sweep`).

        Parameters
        ----------
        sample_rows : int, default 16
            How many images' pixels enter the hash (all of them for smaller stores).

        Returns
        -------
        str
            64 hexadecimal digits.

        Raises
        ------
        GalvaeValueError
            If ``sample_rows`` is not an integer ≥ 1.
        """
        from .._validate import check_int

        sample_rows = check_int("sample_rows", sample_rows, minimum=1)
        n = len(self)
        h = hashlib.sha256()
        facts = {
            "shape": [n, 3, self.size, self.size],
            "survey": self.survey,
            "bands": self.bands,
            "profile": self.profile,
            "field_fraction": self.field_fraction,
            "normalisation": config_to_dict(self.normalisation),
        }
        h.update(json.dumps(facts, sort_keys=True, default=str).encode())
        h.update("\0".join(self.ids.tolist()).encode() + b"\0")
        if n:
            rows = np.unique(np.linspace(0, n - 1, min(sample_rows, n)).round().astype(np.int64))
            h.update(np.ascontiguousarray(self.read(rows), dtype="<f4").tobytes())
        return h.hexdigest()


def _gather(ds: h5py.Dataset, rows: NDArray) -> NDArray:
    """``ds[rows]`` for increasing, unique ``rows``: dense runs read as contiguous blocks (see ``_GATHER_BYTES``)."""
    row_bytes = max(int(np.prod(ds.shape[1:], dtype=np.int64)) * ds.dtype.itemsize, 1)
    window = max(1, _GATHER_BYTES // row_bytes)
    out = np.empty((rows.size,) + ds.shape[1:], dtype=ds.dtype)
    buf: NDArray | None = None
    i = 0
    while i < rows.size:
        lo = int(rows[i])
        j = int(np.searchsorted(rows, lo + window, side="left"))
        sel = rows[i:j]
        hi = int(sel[-1]) + 1
        if 4 * sel.size >= hi - lo:  # dense enough: one contiguous read, then pick
            if buf is None:  # no larger than the rows asked for span
                span = min(window, int(rows[-1]) - int(rows[0]) + 1)
                buf = np.empty((span,) + ds.shape[1:], dtype=ds.dtype)
            ds.read_direct(buf, np.s_[lo:hi], np.s_[0 : hi - lo])
            out[i:j] = buf[sel - lo]
        else:
            out[i:j] = ds[sel]
        i = j
    return out


def store_fingerprints(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Each store's :meth:`ImageStore.fingerprint`, in order: what a training run's ``config.json`` records.

    Raises
    ------
    GalvaeFileError
        If a store is missing or damaged.
    """
    out = []
    for path in paths:
        with ImageStore(path) as store:
            out.append(store.fingerprint())
    return out


def same_stores(
    recorded: Sequence[str] | None,
    recorded_paths: Sequence[str],
    paths: Sequence[str | os.PathLike[str]],
    fingerprints: Sequence[str] | None = None,
) -> bool:
    """Whether ``paths`` hold the stores a run recorded.

    Where the run recorded content fingerprints, they decide: a copied or moved store is the same store, one
    rewritten in place with other images is not. Runs saved before fingerprints are matched by path.

    Parameters
    ----------
    recorded : sequence of str or None
        The run's ``store_fingerprints`` (None for a run saved without them).
    recorded_paths : sequence of str
        The store paths the run recorded.
    paths : sequence of path
        The stores asked for now, in the run's order.
    fingerprints : sequence of str, optional
        The fingerprints of ``paths`` when already computed (else they are computed here).

    Returns
    -------
    bool
    """
    if recorded is not None:
        return list(recorded) == list(fingerprints if fingerprints is not None else store_fingerprints(paths))
    return [str(p) for p in recorded_paths] == [str(p) for p in paths]


def open_store(path: str | os.PathLike[str], *, verify: bool = False) -> ImageStore:
    """Open an image store, or a sharded store's manifest, for reading.

    Parameters
    ----------
    path : path
        An HDF5 store (:class:`ImageStore`) or the ``.json`` manifest of a
        sharded store (:class:`~galvae.data.manifest.ShardedStore`).
    verify : bool, default False
        Sharded stores: recompute every shard's SHA-256 (reads every byte).
        A single store has no recorded checksum, so this does nothing there.

    Raises
    ------
    GalvaeFileError
        If the store, the manifest or one of its shards is missing or damaged.
    """
    from .manifest import ShardedStore, is_manifest

    if is_manifest(path):
        return ShardedStore(path, verify=verify)
    return ImageStore(path)
