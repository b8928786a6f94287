"""Ingest: image files → one HDF5 image store.

:func:`ingest` reads a catalogue with file locations, or a directory of
images, preprocesses each image (:mod:`galvae.data.preprocess`: mask and
fill, centre crop, resize to S, stretch) and streams them into an
:class:`~galvae.data.store.ImageStoreWriter` in blocks, so memory stays
bounded whatever the number of images.  The store appears under its final
name only when complete.

Sources
-------
* A **catalogue** (Parquet, CSV or FITS table) with an ``id`` column and
  either a ``file`` column (one file holding g, r, z) or ``file_g``,
  ``file_r``, ``file_z`` columns (one FITS file per band; a missing band may
  be left empty).  Locations are relative to ``images_root`` (default: the
  catalogue's directory); a location that escapes the root (``..``, an
  absolute path or a symbolic link pointing elsewhere) is refused.  The
  manifest ``catalog.parquet`` written by ``galvae download`` is such a
  catalogue; its rows without a file are reported.
* A **directory**: its own image files (see
  :data:`~galvae.data.readers.IMAGE_SUFFIXES`), sorted by name, each with
  the id of its file name without the extension.

Nothing is dropped silently: files that cannot be read, locations outside
the root and repeated ids are skipped, counted and listed in the returned
:class:`IngestReport`, which is also written as JSON beside the store
(``<store>.ingest.json``).  With ``strict=True`` (``--strict``) the first
such item stops the run instead, with an error naming it, and no store is
written (an existing one is left as it was).

Normalisation
-------------
``stretch=None`` chooses by what was read: the asinh stretch
(:class:`~galvae.config.StretchConfig` defaults) for flux images (FITS,
float arrays) and ``x / 255`` for 8-bit composites (JPEG/PNG, uint8
arrays).  One store holds one normalisation, so mixing the two kinds in one
run is an error.  The store always has a ``mask`` dataset.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from .._io import write_text
from .._validate import check_int
from ..config import BANDS, PreprocessConfig, StretchConfig
from ..errors import GalvaeError, GalvaeFileError, GalvaeValueError
from .manifest import ShardedStoreWriter, manifest_path
from .preprocess import center_crop, crop_and_resize
from .preprocess import stretch as apply_stretch
from .presentation import check_field_fraction, check_profile, gz_decals_field, gz_decals_present, profile_stretch
from .readers import IMAGE_SUFFIXES, ImageData, read_fits_bands, read_image
from .store import MAX_ID_BYTES, ImageStoreWriter

__all__ = ["IngestReport", "ingest", "list_sources"]

log = logging.getLogger(__name__)

#: Images per block handed to the writer (and to a worker process).
BLOCK = 128


@dataclass(frozen=True)
class IngestReport:
    """What :func:`ingest` did.

    Attributes
    ----------
    out : str
        The store written.
    n_written : int
    n_sources : int
        Rows of the catalogue, or image files of the directory.
    unreadable : tuple of (id, location, reason)
        Files skipped because they could not be read or were refused.
    duplicates : tuple of str
        Ids seen more than once (the first occurrence was kept).
    normalisation : dict
        The stretch applied.
    pixel_scale_arcsec : float
        Scale of the stored pixels; NaN when unknown.
    """

    out: str
    n_written: int
    n_sources: int
    unreadable: tuple[tuple[str, str, str], ...] = ()
    duplicates: tuple[str, ...] = ()
    normalisation: dict[str, Any] = field(default_factory=dict)
    pixel_scale_arcsec: float = math.nan

    def to_json(self) -> str:
        """The report as a JSON document (what ``galvae ingest`` writes to ``OUT.ingest.json``)."""
        d = dataclasses.asdict(self)
        d["unreadable"] = [list(u) for u in self.unreadable]
        d["duplicates"] = list(self.duplicates)
        d["pixel_scale_arcsec"] = None if math.isnan(self.pixel_scale_arcsec) else self.pixel_scale_arcsec
        return json.dumps(d, indent=2)


# --------------------------------------------------------------------------- sources

# A source: (id, {"file": path} or {"g": path, "r": ..., "z": ...}) or (id, reason-it-is-refused)
_Source = tuple[str, dict[str, str] | str]


def _read_catalog(path: str | os.PathLike[str]) -> Any:
    """:func:`~galvae.data.labels.read_catalog`, with any other exception on a damaged file as a GalvaeFileError."""
    from .labels import read_catalog

    try:
        return read_catalog(path)
    except GalvaeError:
        raise
    except Exception as exc:  # e.g. KeyError from pyarrow on damaged pandas metadata in a Parquet file
        raise GalvaeFileError(path, f"cannot read catalogue ({type(exc).__name__}: {exc})") from None


def _inside(root: Path, location: str) -> Path | str:
    """Resolve ``location`` under ``root``; a reason string if it escapes."""
    try:
        p = Path(location)
        full = p if p.is_absolute() else root / p
        resolved = full.resolve()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the location
        return f"cannot resolve location {location!r} ({exc})"
    if not resolved.is_relative_to(root.resolve()):
        return f"location escapes the images root {root}"
    return resolved


def list_sources(source: str | os.PathLike[str], images_root: str | os.PathLike[str] | None = None) -> list[_Source]:
    """List ``(id, files)`` pairs of a catalogue or directory (see module docs).

    Raises
    ------
    GalvaeFileError
        If ``source`` does not exist or cannot be read.
    GalvaeValueError
        If a catalogue lacks the ``id`` / ``file`` columns.
    """
    src = Path(source)
    if not src.exists():
        raise GalvaeFileError(src, "ingest source not found (expected a catalogue or a directory of images)")
    if src.is_dir():
        root = Path(images_root) if images_root is not None else src
        out: list[_Source] = []
        for f in sorted(src.iterdir()):
            name = f.name.lower()
            suf = next((s for s in sorted(IMAGE_SUFFIXES, key=len, reverse=True) if name.endswith(s)), None)
            if suf is None or not f.is_file() and not f.is_symlink():
                continue
            gid = f.name[: -len(suf)]
            loc = _inside(root, str(f.absolute()))  # f already includes the directory
            out.append((gid, loc if isinstance(loc, str) else {"file": str(loc)}))
        if not out:
            raise GalvaeFileError(src, f"no image files in directory (accepted: {', '.join(IMAGE_SUFFIXES)})")
        return out

    cat = _read_catalog(src)
    root = Path(images_root) if images_root is not None else src.parent
    if "id" not in cat.columns:
        raise GalvaeValueError(
            f"catalogue {src} has no 'id' column", None, "columns id and file (or file_g, file_r, file_z)"
        )
    band_cols = [f"file_{b}" for b in BANDS]
    if "file" in cat.columns:
        mode = "file"
    elif any(c in cat.columns for c in band_cols):
        mode = "bands"
    else:
        raise GalvaeValueError(
            f"catalogue {src} has no file location column",
            sorted(map(str, cat.columns))[:10],
            "file, or file_g/file_r/file_z",
        )

    def _missing(v: Any) -> bool:
        return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())

    out = []
    for row in cat.itertuples(index=False):
        rec = row._asdict()
        gid = rec["id"]
        gid = gid.decode() if isinstance(gid, bytes) else str(gid)
        if mode == "file":
            loc = rec["file"]
            if _missing(loc):
                status = rec.get("status", "")
                out.append((gid, f"no file in catalogue{f' (status {status})' if status else ''}"))
                continue
            res = _inside(root, str(loc))
            out.append((gid, res if isinstance(res, str) else {"file": str(res)}))
        else:
            files: dict[str, str] = {}
            reason = None
            for b in BANDS:
                v = rec.get(f"file_{b}")
                if _missing(v):
                    continue
                res = _inside(root, str(v))
                if isinstance(res, str):
                    reason = res
                    break
                files[b] = str(res)
            if reason is None and not files:
                reason = "no file in catalogue for any band"
            out.append((gid, reason if reason is not None else files))
    return out


#: Catalogue column names accepted for the Petrosian 50 % / 90 % radii (arcsec), compared case-insensitively.
PETRO_COLUMNS: dict[str, tuple[str, ...]] = {
    "p50": ("petro_th50", "petroth50", "petro_theta_50", "petror50_r"),
    "p90": ("petro_th90", "petroth90", "petro_theta_90", "petror90_r"),
}


def _catalog_fields(source: str | os.PathLike[str]) -> dict[str, float] | None:
    """id → gz-decals field (arcsec) from a catalogue's Petrosian radii; None without such columns.

    Galaxy Zoo JPEG/PNG need no radii (they already show the field); FITS
    cutouts without them are refused when read.
    """
    cat = _read_catalog(source)
    lower = {str(c).lower(): c for c in cat.columns}
    cols = {}
    for key, names in PETRO_COLUMNS.items():
        found = next((lower[n] for n in names if n in lower), None)
        if found is None:
            return None
        cols[key] = found
    ok = (
        np.isfinite(cat[cols["p50"]].to_numpy(float))
        & (cat[cols["p50"]].to_numpy(float) > 0)
        & np.isfinite(cat[cols["p90"]].to_numpy(float))
        & (cat[cols["p90"]].to_numpy(float) > 0)
    )
    sub = cat[ok]
    field = gz_decals_field(sub[cols["p50"]].to_numpy(float), sub[cols["p90"]].to_numpy(float))
    fields = {str(g): float(f) for g, f in zip(sub["id"].astype(str), field, strict=True)}
    if (~ok).any():
        log.warning(
            "%d galaxies lack valid Petrosian radii in %s and cannot be presented as gz-decals",
            int((~ok).sum()),
            source,
        )
    return fields


# --------------------------------------------------------------------------- reading (in workers)


def _read_one(files: dict[str, str]) -> ImageData:
    if "file" in files:
        return read_image(files["file"])
    return read_fits_bands(files)


def _field_side(field_arcsec: float, scale: float, shape: tuple[int, ...], where: str) -> int:
    """Input pixels across a gz-decals field; refuses a cutout that does not cover it."""
    if not (math.isfinite(scale) and scale > 0):
        raise GalvaeValueError(
            f"{where}: the gz-decals profile needs the input pixel scale (a FITS WCS or --pixel-scale)", scale
        )
    side = int(round(field_arcsec / scale))
    if side > min(shape[-2:]):
        raise GalvaeValueError(
            f'{where}: cutout of {min(shape[-2:])} px x {scale:.3g}" does not cover the gz-decals field of '
            f'{field_arcsec:.1f}" ({side} px); download larger cutouts',
            min(shape[-2:]),
            (side,),
        )
    return side


def _load_block(
    items: Sequence[tuple[str, dict[str, str]]],
    size: int,
    crop: int | None,
    fields: dict[str, float] | None = None,
    scale_override: float | None = None,
    field_fraction: float = 1.0,
) -> list[tuple[Any, ...]]:
    """Read, crop and resize a block; return (id, image, mask2d, kind, scale, side) or (id, None, reason).

    ``fields`` maps ids to the gz-decals field (arcsec) to crop, from the
    catalogue's Petrosian radii; a flux cutout is then already presented
    (:func:`~galvae.data.presentation.gz_decals_present`: resampled to the
    424-pixel grid, stretched, desaturated and truncated to 8 bits there, then
    resized) and its image is final.
    Every other image is returned in its input units, for the caller's
    stretch.  ``field_fraction`` < 1 (gz-decals) keeps the central fraction
    of the field: of ``fields`` for a flux cutout, of the whole image for a
    Galaxy Zoo JPEG/PNG (``crop`` is then None).
    """
    out: list[tuple[Any, ...]] = []
    for gid, files in items:
        try:
            data = _read_one(files)
            crop_i = crop
            # a Galaxy Zoo JPEG/PNG is its whole field (whether or not the catalogue has Petrosian radii)
            if field_fraction != 1.0 and not (fields is not None and data.kind == "flux"):
                crop_i = max(1, round(field_fraction * min(data.image.shape[-2:])))
            if fields is not None and data.kind == "flux":
                if gid not in fields:
                    raise GalvaeValueError(
                        "no valid Petrosian radii (petro_th50, petro_th90) in the catalogue for the gz-decals profile",
                        gid,
                    )
                scale = data.pixel_scale_arcsec if scale_override is None else scale_override
                crop_i = _field_side(fields[gid] * field_fraction, scale, data.image.shape, files.get("file") or gid)
            side = crop_i if crop_i is not None else min(data.image.shape[-2:])
            if fields is not None and data.kind == "flux":
                mask = None if data.mask is None else np.asarray(data.mask, dtype=bool)
                if mask is not None:
                    mask = center_crop(mask[None], crop_i)[0] if mask.ndim == 2 else center_crop(mask, crop_i)
                img, m = gz_decals_present(center_crop(data.image, crop_i), mask, size, field_fraction)
            else:
                img, m = crop_and_resize(data.image, data.mask, size, crop_i)
            out.append((gid, img, m, data.kind, data.pixel_scale_arcsec, side))
        except GalvaeError as exc:
            out.append((gid, None, str(exc)))
        except Exception as exc:
            out.append((gid, None, f"{type(exc).__name__}: {exc}"))
    return out


def _strict_stop(where: str, gid: str, reason: str) -> GalvaeFileError:
    """The error of a strict run stopped at item ``gid``, naming its file (``where``) once."""
    prefix = f"{where}: "
    message = reason[len(prefix) :] if reason.startswith(prefix) else reason
    return GalvaeFileError(
        where, f"{message} (id {gid!r}; strict mode stops at the first bad item, so no store was written)"
    )


def _blocks(items: list[tuple[str, dict[str, str]]], n: int) -> Iterator[list[tuple[str, dict[str, str]]]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _pooled(
    pool: ProcessPoolExecutor,
    chunks: Iterable[list[tuple[str, dict[str, str]]]],
    load: Callable[[list[tuple[str, dict[str, str]]]], list[tuple[Any, ...]]],
    window: int,
) -> Iterator[list[tuple[Any, ...]]]:
    """Results of ``load`` (a :func:`_load_block` partial) in input order, at most ``window`` blocks in flight.

    ``Executor.map`` submits every block at once and keeps finished ones until
    they are consumed; the window keeps memory bounded whatever the number of
    images.
    """
    todo = iter(chunks)
    pending: deque[Future[list[tuple[Any, ...]]]] = deque()
    for chunk in todo:
        pending.append(pool.submit(load, chunk))
        if len(pending) >= window:
            break
    while pending:
        result = pending.popleft().result()
        nxt = next(todo, None)
        if nxt is not None:
            pending.append(pool.submit(load, nxt))
        yield result


# --------------------------------------------------------------------------- ingest


def ingest(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    size: int = 64,
    images_root: str | os.PathLike[str] | None = None,
    survey: str = "unknown",
    pixel_scale_arcsec: float | None = None,
    stretch: StretchConfig | None = None,
    crop: int | None = None,
    profile: str = "fixed",
    field_fraction: float = 1.0,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    strict: bool = False,
    shard_size: int | None = None,
) -> IngestReport:
    """Preprocess images into one HDF5 image store.

    Parameters
    ----------
    source : path
        A catalogue (Parquet, CSV, FITS) with ``id`` and ``file`` (or
        ``file_g``/``file_r``/``file_z``) columns, or a directory of images.
    out : path
        The store to write (``.h5``).
    size : int, default 64
        Side S of the stored images: a multiple of 8 from 32 to 256 for real
        data (8-24 are allowed for tests).
    images_root : path, optional
        Directory catalogue locations are relative to, and must stay within;
        default the catalogue's directory (for a directory source: itself).
    survey : str, default "unknown"
        Recorded in the store's ``survey`` attribute (e.g. ``"decals"``).
    pixel_scale_arcsec : float, optional
        Input pixel scale; default read from the files' WCS (NaN if absent).
        The store records the scale of its own pixels, ``input × crop / S``.
    stretch : StretchConfig, optional
        Normalisation; default chosen by input kind (see module docs).
    crop : int, optional
        Side of the centre crop in input pixels; default the largest square.
    profile : {"fixed", "gz-decals"}, default "fixed"
        Presentation profile (:mod:`galvae.data.presentation`) recorded in
        the store.  ``"gz-decals"``: Galaxy Zoo JPEG/PNG files are taken whole
        (they are already in this presentation); FITS flux cutouts are
        cropped to the field Galaxy Zoo DECaLS gives each galaxy (424 ×
        max(min(0.04 p50, 0.02 p90), 0.1)″), which needs Petrosian radii in
        the catalogue (``petro_th50``/``petro_th90``; NSA ``PETROTH50``/
        ``PETROTH90`` and other capitalisations accepted), and stretched with
        :data:`~galvae.data.presentation.GZ_DECALS_STRETCH` unless ``stretch`` is given.
    field_fraction : float, default 1.0
        ``"gz-decals"`` only: keep the central ``field_fraction`` (side) of
        each galaxy's Galaxy Zoo field -- of a JPEG/PNG's whole image, of a
        FITS cutout's field from its Petrosian radii -- as ``galvae simulate
        --field-fraction`` does (:func:`galvae.data.presentation.check_field_fraction`);
        recorded in the store.  Not with ``crop``.
    workers : int, default 1
        Processes reading and resizing; the store is identical for any value.
    overwrite : bool, default False
        Replace an existing store.
    progress : bool, default True
        Show a progress bar.
    shard_size : int, optional
        Write a sharded store (:mod:`galvae.data.manifest`): HDF5 shards of
        at most this many images plus a manifest; ``out`` then names the
        manifest (``NAME.json``; ``NAME.h5`` becomes ``NAME.json``) and the
        shards are ``NAME-00000.h5``, …  Default one store file.
    strict : bool, default False
        Stop at the first bad item -- a file that cannot be read or is
        refused, a location outside ``images_root``, a catalogue row without a
        file, a repeated id -- with an error naming it, and write no store.
        Rows refused from the catalogue itself are found before any file is
        read.  By default bad items are skipped and listed in the report.

    Returns
    -------
    IngestReport

    Raises
    ------
    GalvaeFileError
        If the source is missing, ``out`` exists and ``overwrite`` is False,
        or (``strict``) at the first bad item.
    GalvaeValueError
        On bad parameters, mixed input kinds, when no image could be read,
        or (``strict``) at the first repeated id.
    """
    PreprocessConfig(size=size, crop=crop)  # validates size and crop
    check_int("workers", workers, minimum=1)
    out = Path(out) if shard_size is None else manifest_path(out)
    if shard_size is not None:
        check_int("shard_size", shard_size, minimum=1)
    if out.exists() and not overwrite:
        raise GalvaeFileError(out, "already exists (use --overwrite / overwrite=True to replace it)")
    check_profile(profile)
    field_fraction = check_field_fraction(field_fraction, profile)
    if field_fraction != 1.0 and crop is not None:
        raise GalvaeValueError(
            "give crop (input pixels) or field_fraction (of the Galaxy Zoo field), not both", (crop, field_fraction)
        )
    sources = list_sources(source, images_root)
    fields = _catalog_fields(source) if profile == "gz-decals" and not Path(source).is_dir() else None

    todo, unreadable, duplicates = _sort_sources(sources, str(source), strict)
    locations = {gid: files.get("file") or ",".join(f"{b}={p}" for b, p in files.items()) for gid, files in todo}
    build = _StoreBuilder(
        out=out,
        size=size,
        survey=survey,
        profile=profile,
        field_fraction=field_fraction,
        source=str(source),
        fields=fields,
        pixel_scale_arcsec=pixel_scale_arcsec,
        shard_size=shard_size,
        overwrite=overwrite,
        chosen=stretch,
        in_scale=math.nan if pixel_scale_arcsec is None else float(pixel_scale_arcsec),
    )
    bar = tqdm(total=len(todo), desc=f"ingest {out.name}", unit="img", disable=not progress)
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        chunks = _blocks(todo, BLOCK)
        load = functools.partial(
            _load_block,
            size=size,
            crop=crop,
            fields=fields,
            scale_override=pixel_scale_arcsec,
            field_fraction=field_fraction,
        )
        results = _pooled(pool, chunks, load, window=2 * workers) if pool is not None else map(load, chunks)
        for block in results:
            imgs, ids, masks = [], [], []
            for rec in block:
                gid = rec[0]
                if rec[1] is None:
                    if strict:
                        raise _strict_stop(locations[gid], gid, rec[2])
                    unreadable.append((gid, locations[gid], rec[2]))
                    continue
                imgs.append(build.accept(rec, locations[gid]))
                ids.append(gid)
                masks.append(rec[2])
            build.write(imgs, ids, masks)
            bar.update(len(block))
        if build.writer is None:
            reasons = "; ".join(f"{g}: {r}" for g, _, r in unreadable[:3])
            raise GalvaeValueError(f"no image could be read from {source} ({len(unreadable)} unreadable: {reasons})")
        build.writer.close()
    except BaseException:
        if build.writer is not None:
            build.writer.abort()
        raise
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    report = IngestReport(
        out=str(out),
        n_written=build.n_written,
        n_sources=len(sources),
        unreadable=tuple(unreadable),
        duplicates=tuple(duplicates),
        normalisation=dataclasses.asdict(build.chosen) if build.chosen is not None else {},
        pixel_scale_arcsec=build.in_scale * (build.side_seen or size) / size,
    )
    report_path = out.with_name(out.name + ".ingest.json")
    write_text(report_path, report.to_json() + "\n")
    _log_problems(report, report_path, unreadable, duplicates, build.other_scale)
    return report


def _sort_sources(
    sources: list[_Source], where: str, strict: bool
) -> tuple[list[tuple[str, dict[str, str]]], list[tuple[str, str, str]], list[str]]:
    """Split :func:`list_sources`'s items into readable ones, unreadable ones and repeated ids.

    A repeated id keeps its first occurrence; strict mode stops at the first
    repeat or unreadable item instead.
    """
    unreadable: list[tuple[str, str, str]] = []
    duplicates: list[str] = []
    seen: set[str] = set()
    todo: list[tuple[str, dict[str, str]]] = []
    for gid, files in sources:
        if gid in seen:
            if strict:
                raise GalvaeValueError(
                    f"{where}: id {gid!r} appears more than once "
                    "(strict mode stops at the first bad item, so no store was written)"
                )
            duplicates.append(gid)
            continue
        seen.add(gid)
        n_bytes = len(gid.encode("utf-8"))
        if isinstance(files, dict) and n_bytes > MAX_ID_BYTES:
            reason = f"id is {n_bytes} bytes in UTF-8; a store holds ids of at most {MAX_ID_BYTES}"
            if strict:
                raise _strict_stop(where, gid, reason)
            unreadable.append((gid, ", ".join(files.values()), reason))
        elif isinstance(files, str):
            if strict:
                raise _strict_stop(where, gid, files)
            unreadable.append((gid, "", files))
        else:
            todo.append((gid, files))
    return todo, unreadable, duplicates


@dataclass
class _StoreBuilder:
    """The store :func:`ingest` writes, opened at the first readable image, and what that image fixed.

    The first image decides the store's kind (flux or 8-bit), its stretch
    (``chosen``, unless the caller gave one), the input pixel scale and the
    crop side; later images of another kind are refused, and images of
    another scale or side are listed in ``other_scale``.
    """

    out: Path
    size: int
    survey: str
    profile: str
    field_fraction: float
    source: str
    fields: dict[str, float] | None
    pixel_scale_arcsec: float | None
    shard_size: int | None
    overwrite: bool
    chosen: StretchConfig | None
    in_scale: float
    kind: str | None = None
    side_seen: int | None = None
    other_scale: list[str] = field(default_factory=list)
    writer: ImageStoreWriter | ShardedStoreWriter | None = None
    n_written: int = 0

    def accept(self, rec: tuple[Any, ...], where: str) -> NDArray:
        """Check one loaded image against the first and return it as stored (stretched)."""
        gid, img, _, k, scale, side = rec
        if self.kind is None:
            self._first(k, scale, side, where)
        elif k != self.kind:
            raise GalvaeValueError(
                f"{where} is a {k} image but earlier inputs were {self.kind} images; "
                "one store holds one kind (ingest FITS/float and JPEG/PNG/uint8 separately)"
            )
        elif (
            self.fields is None
            and side != self.side_seen
            or (
                self.pixel_scale_arcsec is None
                and not (math.isnan(scale) and math.isnan(self.in_scale))
                and not math.isclose(scale, self.in_scale, rel_tol=1e-6)
            )
        ):
            self.other_scale.append(gid)
        # a gz-decals flux cutout comes presented from _load_block (stretched before the resize)
        return img if k == "flux" and self.profile == "gz-decals" else apply_stretch(img, self.chosen)

    def _first(self, k: str, scale: float, side: int, where: str) -> None:
        self.kind = k
        if self.chosen is None:
            self.chosen = profile_stretch(self.profile) if k == "flux" else StretchConfig(kind="uint8")
        if k == "flux" and self.profile == "gz-decals" and self.fields is None:
            raise GalvaeValueError(
                f"{where}: the gz-decals profile crops FITS cutouts to each galaxy's field, "
                "which needs a catalogue with Petrosian radii (one of "
                f"{', '.join(PETRO_COLUMNS['p50'])} and of {', '.join(PETRO_COLUMNS['p90'])})"
            )
        if self.pixel_scale_arcsec is None:
            self.in_scale = scale
        self.side_seen = side

    def write(self, imgs: list[NDArray], ids: list[str], masks: list[NDArray]) -> None:
        """Append a block of accepted images, opening the store at the first."""
        if not imgs:
            return
        if self.writer is None:
            cls: Any = (
                ImageStoreWriter
                if self.shard_size is None
                else functools.partial(ShardedStoreWriter, shard_size=self.shard_size)
            )
            self.writer = cls(
                self.out,
                size=self.size,
                survey=self.survey,
                normalisation=self.chosen,
                # gz-decals fields vary with the galaxy: no single pixel scale holds
                pixel_scale_arcsec=self.in_scale * self.side_seen / self.size if self.fields is None else math.nan,
                with_mask=True,
                attrs={"source": self.source, "profile": self.profile, "field_fraction": self.field_fraction},
                overwrite=self.overwrite,
            )
            self.writer.open()
        self.writer.append(np.stack(imgs), ids, np.stack(masks))
        self.n_written += len(ids)


def _log_problems(
    report: IngestReport,
    report_path: Path,
    unreadable: list[tuple[str, str, str]],
    duplicates: list[str],
    other_scale: list[str],
) -> None:
    """Warn once each about unreadable sources, images of another scale and skipped duplicate ids."""
    if unreadable:
        log.warning(
            "%d of %d sources could not be ingested (listed in %s)", len(unreadable), report.n_sources, report_path
        )
    if other_scale:
        log.warning(
            "%d image(s) have another pixel scale or crop side than the first one, so the store's "
            "pixel_scale_arcsec (%.4g) does not hold for them (e.g. %s); pass --crop / pixel_scale_arcsec",
            len(other_scale),
            report.pixel_scale_arcsec,
            ", ".join(other_scale[:5]),
        )
    if duplicates:
        log.warning("%d duplicate ids skipped (first occurrence kept): %s", len(duplicates), ", ".join(duplicates[:10]))
