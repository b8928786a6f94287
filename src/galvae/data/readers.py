"""Readers for galaxy images: Legacy Survey FITS cutouts, Galaxy Zoo JPEG/PNG, numpy arrays.

Every reader returns an :class:`ImageData`: a float32 ``(3, H, W)`` array in
band order g, r, z plus a boolean mask of invalid pixels of the same shape.

Invalid pixels
--------------
A pixel is invalid when it is NaN or infinite (FITS ``BLANK`` values of
scaled integer data become NaN when astropy reads them), when an
inverse-variance plane says ``ivar == 0``, or when its whole band is exactly
zero -- which is how the Legacy Survey cutout service serves a band with no
coverage.  A band absent from the file is invalid everywhere.  Invalid
pixels are **filled with 0**, the level of the sky-subtracted background, so
they never spread NaN through resampling; the mask keeps the record.  An
image whose every pixel is invalid (an all-empty cutout, a target outside the
footprint) is refused.

FITS
----
:func:`read_fits` reads a cube ``(n_bands, H, W)`` from the first HDU with
data, naming its planes from the header as the cutout service writes them
(``BANDS = 'grz'`` and/or ``BAND0 = 'g'``, ``BAND1``, ...); planes come back
reordered to g, r, z, missing bands are masked, other bands (e.g. ``i``) are
dropped.  A cube of exactly three planes without band keywords is taken to
be g, r, z (logged).  :func:`read_fits_bands` reads one 2-D file per band.
A truncated file, which astropy only warns about, is an error here.
BSCALE/BZERO are applied (scaled integers come back as physical values) and
``BLANK`` values become invalid pixels (see above).  The pixel scale comes
from the header's WCS through :mod:`astropy.wcs` (``CDi_j``, or ``CDELTi``
with ``PCi_j`` or ``CROTA2``, in the units ``CUNITi`` names; see
:func:`_pixel_scale`), else from a ``PIXSCALE`` card in arcsec, else it is
unknown (NaN).

JPEG / PNG
----------
Galaxy Zoo DECaLS images are colour composites made from the g, r, z
cutouts with the Legacy Survey's own asinh-type stretch (Lupton et al. 2004
style, as the Legacy Survey viewer does), mapping **z → red, r → green,
g → blue**.  :func:`read_rgb` returns them in g, r, z order as the 8-bit
values they are (0-255), already stretched: ingest scales them by 1/255 and
applies no further stretch.  Pillow opens only JPEG and PNG (explicit
``formats``).

Arrays
------
:func:`read_array` reads ``.npy`` holding ``(3, H, W)``, or ``.npz`` holding
an ``image`` array (or a single array) and optionally a ``mask`` array of
shape ``(H, W)`` or ``(3, H, W)``.  Values are taken as flux unless the array
is 8-bit (then it is treated like a JPEG composite).  Pickled (object)
arrays are never loaded.

Untrusted files
---------------
Every reader raises :class:`~galvae.errors.GalvaeFileError` naming the file
for anything it cannot read -- missing, empty, truncated, corrupt, of the
wrong kind or shape -- whatever the parsing library underneath raised.
Decompression bombs are refused from the sizes the file *declares* (FITS
``NAXISn``, PNG/JPEG header, ``.npy`` header) before any pixel is decoded or
allocated: at most :data:`MAX_IMAGE_PIXELS` (4096 x 4096 = 16,777,216)
pixels per image plane and :data:`MAX_PLANES` (8) such planes' worth of
values (134,217,728) per array.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ..config import BANDS
from ..errors import GalvaeFileError, GalvaeValueError

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_IMAGE_PIXELS",
    "MAX_PLANES",
    "ImageData",
    "read_array",
    "read_fits",
    "read_fits_bands",
    "read_image",
    "read_rgb",
]

log = logging.getLogger(__name__)

#: File name endings :func:`read_image` understands.
IMAGE_SUFFIXES: tuple[str, ...] = (
    ".fits",
    ".fits.gz",
    ".fits.fz",
    ".fit",
    ".fts",
    ".jpg",
    ".jpeg",
    ".png",
    ".npy",
    ".npz",
)

#: Smallest side accepted, in pixels.
MIN_SIDE = 8

#: Most pixels (H x W) one image plane may declare: 4096 x 4096.  Larger
#: files are refused from their header, before decoding (decompression
#: bombs).  Legacy Survey cutouts are at most 3000 px a side, Galaxy Zoo
#: images 424 px; Pillow's own limit is 89,478,485 pixels.
MAX_IMAGE_PIXELS = 4096 * 4096

#: Most planes' worth of values one FITS HDU or array may declare: at most
#: ``MAX_PLANES * MAX_IMAGE_PIXELS`` (134,217,728) values in all.
MAX_PLANES = 8


def _check_declared_shape(path: Path, shape: tuple[int, ...], what: str) -> None:
    """Refuse a declared array shape beyond :data:`MAX_IMAGE_PIXELS` per plane or ``MAX_PLANES`` planes' worth.

    Called with the shape a header declares, before the data are read, so a
    file claiming an enormous image costs nothing.
    """
    dims = tuple(int(n) for n in shape)
    if any(n < 0 for n in dims):
        raise GalvaeFileError(path, f"{what} declares a negative dimension {dims}")
    plane = math.prod(dims[-2:])
    total = math.prod(dims)
    if plane > MAX_IMAGE_PIXELS or total > MAX_PLANES * MAX_IMAGE_PIXELS:
        raise GalvaeFileError(
            path,
            f"{what} declares shape {dims} ({total:,} values); refused before reading (possible decompression "
            f"bomb): at most {MAX_IMAGE_PIXELS:,} pixels (4096 x 4096) per plane and {MAX_PLANES} such planes "
            f"({MAX_PLANES * MAX_IMAGE_PIXELS:,} values) are accepted",
        )


@dataclass(frozen=True)
class ImageData:
    """One image read from disk.

    Attributes
    ----------
    image : ndarray of float32, shape (3, H, W)
        Bands g, r, z; invalid pixels filled with 0.  Flux (e.g. nanomaggies)
        for ``kind == "flux"``, 0-255 for ``kind == "display"``.
    mask : ndarray of bool, shape (3, H, W)
        True where a pixel is invalid.
    kind : {"flux", "display"}
        Linear flux, or an already-stretched 8-bit composite.
    pixel_scale_arcsec : float
        Pixel scale from the file's WCS; NaN when unknown.
    bands_present : tuple of str
        Bands with at least one valid pixel.
    path : str
        The file read (the first one, for one-file-per-band FITS).
    """

    image: NDArray[np.float32]
    mask: NDArray[np.bool_]
    kind: Literal["flux", "display"]
    pixel_scale_arcsec: float
    bands_present: tuple[str, ...]
    path: str


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suf in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suf):
            return suf
    return path.suffix.lower()


def _finish(
    path: Path,
    planes: dict[str, NDArray],
    masks: dict[str, NDArray],
    kind: Literal["flux", "display"],
    pixel_scale: float,
) -> ImageData:
    """Stack bands in g, r, z order, mask and fill invalid pixels, check the result."""
    shapes = {p.shape for p in planes.values()}
    if not planes:
        raise GalvaeFileError(path, f"no g, r or z band found (accepted bands: {', '.join(BANDS)})")
    if len(shapes) != 1:
        raise GalvaeFileError(path, f"bands have different shapes {sorted(shapes)}")
    (shape,) = shapes
    if len(shape) != 2:
        raise GalvaeFileError(path, f"band images must be 2-D, got shape {shape}")
    if min(shape) < MIN_SIDE:
        raise GalvaeFileError(path, f"image is {shape[0]}x{shape[1]} pixels; at least {MIN_SIDE}x{MIN_SIDE} is needed")
    image = np.zeros((3,) + shape, dtype=np.float32)
    mask = np.ones((3,) + shape, dtype=bool)
    present = []
    for b, band in enumerate(BANDS):
        if band not in planes:
            continue
        data = np.asarray(planes[band], dtype=np.float32)
        bad = ~np.isfinite(data)
        if band in masks:
            bad |= masks[band]
        if kind == "flux" and np.all((data == 0) | bad):
            bad[:] = True  # a band that is all zero has no coverage
        image[b] = np.where(bad, np.float32(0.0), data)
        mask[b] = bad
        if not bad.all():
            present.append(band)
    if mask.all():
        raise GalvaeFileError(path, "every pixel is invalid (empty cutout: no coverage, all zero or NaN)")
    missing = [b for b in BANDS if b not in present]
    if missing:
        log.debug("%s: band(s) %s missing or empty; masked and filled with 0", path, ",".join(missing))
    return ImageData(image, mask, kind, float(pixel_scale), tuple(present), str(path))


# --------------------------------------------------------------------------- FITS


@dataclass(frozen=True)
class _HDU:
    name: str
    data: NDArray
    header: dict[str, object]  # the cards galvae uses (_CARDS, BAND0..), already parsed
    pixel_scale: float = math.nan  # arcsec, from the WCS (first image HDU only)


#: Header keywords read besides the BAND<n> ones (their values are parsed while the file is open, so that a
#: damaged card -- which astropy only parses when it is read -- is reported as a damaged file).
_CARDS = ("BANDS", "FILTER", "PIXSCALE")
#: WCS keywords that carry a pixel scale (the linear transformation of the two image axes); a header with none
#: of them has no WCS pixel scale (a CTYPE or CRPIX alone would give WCSLIB's default of one degree).
_SCALE_CARDS = ("CDELT1", "CDELT2", "CD1_1", "CD1_2", "CD2_1", "CD2_2")


def _used_cards(header: object) -> dict[str, object]:
    keys = [k for k in header.keys() if k in _CARDS or (k.startswith("BAND") and k[4:].isdigit())]  # type: ignore[attr-defined]
    return {k: header[k] for k in keys}  # type: ignore[index]


#: Header keywords whose value astropy loops over (``range(NAXIS)``): the FITS standard allows 0-999.
_LOOP_CARDS = (b"NAXIS", b"ZNAXIS", b"TFIELDS")
_FITS_BLOCK = 2880
#: Most 2880-byte blocks one header may take (36,000 cards), and most HDUs walked.
_MAX_HEADER_BLOCKS = 1000
_MAX_HDUS = 1000
#: Most bytes of data one HDU of any kind may declare: the largest accepted image, in float64.
_MAX_HDU_BYTES = MAX_PLANES * MAX_IMAGE_PIXELS * 8


def _card_int(cards: dict[bytes, bytes], key: bytes, default: int | None = None) -> int | None:
    raw = cards.get(key)
    if raw is None:
        return default
    try:
        return int(raw.split(b"/")[0].strip())
    except ValueError:
        return None


def _prescan_fits(path: Path, fh: object) -> None:
    """Walk the raw HDU headers before astropy parses them; refuse what would make it loop or read forever.

    astropy builds ``range(NAXIS)`` (and ``ZNAXIS``, ``TFIELDS``) from the
    header as written, so a damaged ``NAXIS = 99999999999`` keeps it busy for
    hours.  Values it cannot parse, and truncated files, are left to astropy
    to report.
    """
    for index in range(_MAX_HDUS):
        cards: dict[bytes, bytes] = {}
        for _block in range(_MAX_HEADER_BLOCKS + 1):
            block = fh.read(_FITS_BLOCK)  # type: ignore[attr-defined]
            if len(block) < _FITS_BLOCK:
                return
            ended = False
            for i in range(0, _FITS_BLOCK, 80):
                key = block[i : i + 8].rstrip()
                if key == b"END":
                    ended = True
                    break
                if block[i + 8 : i + 10] == b"= " and key not in cards:
                    cards[key] = block[i + 10 : i + 80]
            if ended:
                break
        else:
            raise GalvaeFileError(path, f"a FITS header longer than {_MAX_HEADER_BLOCKS} blocks of 2880 bytes")
        for key in _LOOP_CARDS:
            value = _card_int(cards, key)
            if value is not None and not 0 <= value <= 999:
                raise GalvaeFileError(
                    path, f"header card {key.decode()} = {value} is outside the 0-999 the FITS standard allows"
                )
        naxis, bitpix = _card_int(cards, b"NAXIS", 0), _card_int(cards, b"BITPIX")
        axes = [_card_int(cards, b"NAXIS%d" % (i + 1)) for i in range(naxis or 0)]
        pcount, gcount = _card_int(cards, b"PCOUNT", 0), _card_int(cards, b"GCOUNT", 1)
        if bitpix is None or None in axes or pcount is None or gcount is None:
            return  # astropy reports the damaged card
        if axes and axes[0] == 0 and naxis > 1:  # random groups
            axes = axes[1:]
        extname = cards.get(b"EXTNAME", b"").split(b"/")[0].strip().strip(b"'").strip().decode("ascii", "replace")
        name = f"HDU {extname.upper() or ('PRIMARY' if index == 0 else index)}"
        xtension = cards.get(b"XTENSION", b"").split(b"/")[0].strip().strip(b"'").strip()
        if axes and (index == 0 or xtension == b"IMAGE"):
            _check_declared_shape(path, tuple(reversed(axes)), name)  # type: ignore[arg-type]
        size = abs(bitpix) // 8 * gcount * (pcount + (math.prod(axes) if axes else 0))  # type: ignore[arg-type]
        if size > _MAX_HDU_BYTES:
            raise GalvaeFileError(path, f"{name} declares {size:,} bytes of data; at most {_MAX_HDU_BYTES:,} accepted")
        fh.seek(-(-size // _FITS_BLOCK) * _FITS_BLOCK, 1)  # type: ignore[attr-defined]


def _open_raw(path: Path) -> object:
    """The file, decompressed as astropy would (gzip, bzip2) for :func:`_prescan_fits`."""
    import bz2
    import gzip

    with open(path, "rb") as fh:
        magic = fh.read(3)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    if magic == b"BZh":
        return bz2.open(path, "rb")
    return open(path, "rb")


def _load_fits(path: Path) -> list[_HDU]:
    """Every image HDU with data, read eagerly; the file is closed on return.

    The raw headers are checked first (:func:`_prescan_fits`), then each
    HDU's declared shape (:func:`_check_declared_shape`) before its data are
    read.
    """
    from astropy.io import fits

    if not path.exists():
        raise GalvaeFileError(path, "file not found")
    if path.is_dir():
        raise GalvaeFileError(path, "is a directory, not an image file")
    out = []
    failure: Exception | None = None
    with warnings.catch_warnings(record=True) as caught:
        # astropy only *warns* that a file is truncated (the data read may then
        # fail or come back short); record the warnings and decide below.
        warnings.simplefilter("always")
        try:
            with _open_raw(path) as raw:  # type: ignore[attr-defined]
                _prescan_fits(path, raw)
            with open(path, "rb") as fh, fits.open(fh, memmap=False) as hdul:
                for index, hdu in enumerate(hdul):
                    # astropy can yield damaged HDUs without end (seen on a damaged .fits.gz): stop at the first
                    if type(hdu).__name__ == "_CorruptedHDU":
                        raise GalvaeFileError(path, f"HDU {index} is corrupted (its header or size cannot be parsed)")
                    if index >= _MAX_HDUS:
                        raise GalvaeFileError(path, f"more than {_MAX_HDUS} HDUs")
                    if not getattr(hdu, "is_image", False):
                        continue
                    shape = tuple(hdu.shape)  # from the header: no data read yet
                    if not shape:
                        continue
                    _check_declared_shape(path, shape, f"HDU {hdu.name or len(out)}")
                    if hdu.data is not None:
                        scale = math.nan if out else _pixel_scale(path, hdu.header)
                        out.append(_HDU(hdu.name, np.array(hdu.data), _used_cards(hdu.header), scale))
        except GalvaeFileError:
            raise
        except Exception as exc:  # untrusted bytes: astropy raises many types on a damaged file
            failure = exc
    truncated = [str(w.message) for w in caught if "truncated" in str(w.message).lower()]
    if truncated:
        raise GalvaeFileError(path, f"truncated FITS file ({truncated[0]})")
    if failure is not None:
        raise GalvaeFileError(path, f"not a readable FITS file ({_describe(failure)})")
    for w in caught:
        log.debug("%s: astropy warned: %s", path, w.message)
    if not out:
        raise GalvaeFileError(path, "no image data in any HDU")
    return out


def _describe(exc: BaseException) -> str:
    """``message`` for the built-in OSError/ValueError a parser raises, ``Type: message`` otherwise."""
    text = str(exc).replace("\n", " ").strip()
    if type(exc) in (OSError, ValueError, EOFError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _pixel_scale(path: Path, header: object) -> float:
    """Pixel scale in arcsec along the first image axis, from a FITS header's WCS.

    :class:`astropy.wcs.WCS` builds the linear transformation (``CDi_j``, or
    ``CDELTi`` with ``PCi_j`` or ``CROTA2``) and
    :func:`astropy.wcs.utils.proj_plane_pixel_scales` gives each axis's scale
    in the unit of ``CUNITi``: WCSLIB turns celestial axes (``CTYPEi`` of
    RA/DEC, GLON/GLAT, ...) into degrees whatever ``CUNITi`` says, and axes
    without a ``CTYPEi`` -- a bare ``CD1_1``, as some hand-made cutouts carry
    -- are taken as degrees unless ``CUNITi`` names another angle.  The first
    image axis is used, as galvae always has: the two agree for square pixels,
    and a header with only ``CD1_1`` leaves the second to WCSLIB's default of
    one degree.

    Parameters
    ----------
    path : Path
        The file, for error messages.
    header : astropy.io.fits.Header
        The header of the HDU read (the file still open).

    Returns
    -------
    float
        Arcsec per pixel; from ``PIXSCALE`` (arcsec) when the header has none
        of ``CDELT1/2`` and ``CDi_j``; NaN when it has neither (or an
        unreadable ``PIXSCALE``, as before).

    Raises
    ------
    GalvaeFileError
        If the header has a WCS scale that is unusable: a card that cannot be
        read, a singular matrix or unknown unit (astropy's error), a unit
        that is not an angle, or a scale that is not positive and finite.
    """
    from astropy import units as u
    from astropy.wcs import WCS, FITSFixedWarning
    from astropy.wcs.utils import proj_plane_pixel_scales

    keys = set(header.keys())  # type: ignore[attr-defined]
    if not keys.intersection(_SCALE_CARDS):
        try:
            return float(header["PIXSCALE"]) if "PIXSCALE" in keys else math.nan  # type: ignore[index]
        except (TypeError, ValueError):
            return math.nan
    accepted = "accepted: CDi_j, or CDELTi with PCi_j or CROTA2, in degrees or the angle CUNITi names"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            wcs = WCS(header)
            linear = wcs.celestial if wcs.has_celestial else wcs.sub([1, 2])
            scales = proj_plane_pixel_scales(linear)
        except Exception as exc:  # astropy/WCSLIB raise many types for a bad WCS
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise GalvaeFileError(path, f"header WCS gives no pixel scale ({reason}); {accepted}") from None
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, FITSFixedWarning) and "made the change" not in text:
            card = " ".join(text.split())
            raise GalvaeFileError(path, f"header WCS card cannot be read ({card}); {accepted}")
        log.debug("%s: astropy.wcs: %s", path, text)
    arcsec = []
    for axis in (0, 1):
        unit = linear.wcs.cunit[axis]
        if unit == u.dimensionless_unscaled or str(unit) == "":
            unit = u.deg
        try:
            arcsec.append(float((scales[axis] * unit).to(u.arcsec).value))
        except u.UnitConversionError:
            raise GalvaeFileError(path, f"header WCS axis {axis + 1} is in {unit}, not an angle; {accepted}") from None
    value = arcsec[0]
    if not (math.isfinite(value) and value > 0):
        raise GalvaeFileError(path, f"header WCS gives a pixel scale of {value!r} arcsec; {accepted}")
    if not math.isclose(value, arcsec[1], rel_tol=0.01):
        log.debug("%s: pixels are not square in the WCS (%.4g, %.4g arcsec); using the first axis", path, *arcsec)
    return value


def _band_names(path: Path, header, n: int) -> list[str] | None:
    """Plane names from ``BAND0``.. or ``BANDS``; None when the header names none."""
    names = []
    for i in range(n):
        key = f"BAND{i}"
        if key not in header:
            names = []
            break
        names.append(str(header[key]).strip().lower())
    if names:
        return names
    if "BANDS" in header:
        text = str(header["BANDS"]).strip().lower().replace(",", "")
        if len(text) != n:
            raise GalvaeFileError(
                path, f"header BANDS={text!r} names {len(text)} band(s) but the cube has {n} plane(s)"
            )
        return list(text)
    if "FILTER" in header and n == 1:
        return [str(header["FILTER"]).strip().lower()[:1]]
    return None


def read_fits(path: str | os.PathLike[str], *, bands: str | None = None) -> ImageData:
    """Read a Legacy Survey FITS cutout cube.

    Parameters
    ----------
    path : str or PathLike
        A FITS file whose first HDU with data holds ``(n_bands, H, W)`` (or a
        2-D image for a single band).  An HDU named ``INVVAR``/``IVAR`` of the
        same shape, if present, masks pixels with zero inverse variance.
    bands : str, optional
        Band of each plane (e.g. ``"grz"``) when the header does not say.

    Returns
    -------
    ImageData
        ``kind == "flux"``.

    Raises
    ------
    GalvaeFileError
        If the file is missing, truncated, not FITS, holds no image, has the
        wrong number of dimensions or bands, or is empty.
    """
    path = Path(path)
    hdus = _load_fits(path)
    sci = hdus[0]
    data = sci.data
    header = sci.header
    ivar = None
    for h in hdus[1:]:
        if h.name.upper() in ("INVVAR", "IVAR", "INVVARS") and h.data.shape == data.shape:
            ivar = np.asarray(h.data, dtype=np.float32)
    if data.ndim == 2:
        data = data[None]
        if ivar is not None:
            ivar = ivar[None]
    if data.ndim != 3:
        raise GalvaeFileError(path, f"image has shape {data.shape}; expected (bands, H, W) or (H, W)")
    n = data.shape[0]
    if bands is not None:
        names = list(bands.lower())
        if len(names) != n:
            raise GalvaeFileError(path, f"has {n} image plane(s) but bands={bands!r} names {len(names)}")
    else:
        names = _band_names(path, header, n)
        if names is None:
            if n == 3:
                log.info("%s: no band keywords; taking the 3 planes as g, r, z", path)
                names = list(BANDS)
            else:
                raise GalvaeFileError(
                    path,
                    f"{n} image plane(s) without band names (BANDS / BAND0.. keywords); "
                    "expected 3 planes g, r, z or named bands (pass bands='grz')",
                )
    if len(set(names)) != len(names):
        raise GalvaeFileError(path, f"band names repeat: {names}")
    planes = {b: data[i] for i, b in enumerate(names) if b in BANDS}
    masks = {b: ivar[i] <= 0 for i, b in enumerate(names) if b in BANDS and ivar is not None}
    if not planes:
        raise GalvaeFileError(path, f"bands {names} include none of g, r, z")
    return _finish(path, planes, masks, "flux", sci.pixel_scale)


def read_fits_bands(paths: dict[str, str | os.PathLike[str]]) -> ImageData:
    """Read one 2-D FITS image per band.

    Parameters
    ----------
    paths : dict
        Band name (``"g"``, ``"r"``, ``"z"``) to file.  Bands left out are
        masked.

    Raises
    ------
    GalvaeValueError
        If a key is not one of g, r, z.
    GalvaeFileError
        As :func:`read_fits`, when a file holds more than one plane, or when
        the band files differ in shape (naming both files).
    """
    unknown = sorted(set(paths) - set(BANDS))
    if unknown:
        raise GalvaeValueError("read_fits_bands keys must be band names", unknown, BANDS)
    if not paths:
        raise GalvaeValueError("read_fits_bands needs at least one band file")
    planes: dict[str, NDArray] = {}
    masks: dict[str, NDArray] = {}
    scale = float("nan")
    first = Path(next(iter(paths.values())))
    for band, p in paths.items():
        one = read_fits(p, bands=band)
        b = BANDS.index(band)
        if planes and one.image.shape[1:] != next(iter(planes.values())).shape:
            other = next(iter(planes))
            raise GalvaeFileError(
                p,
                f"{band} band is {one.image.shape[1]}x{one.image.shape[2]} pixels but the {other} band "
                f"({paths[other]}) is {'x'.join(map(str, planes[other].shape))}; band files must match",
            )
        planes[band] = one.image[b]
        masks[band] = one.mask[b]
        if np.isnan(scale):
            scale = one.pixel_scale_arcsec
    return _finish(first, planes, masks, "flux", scale)


# --------------------------------------------------------------------------- JPEG / PNG


def read_rgb(path: str | os.PathLike[str]) -> ImageData:
    """Read a JPEG/PNG colour composite (z → red, r → green, g → blue).

    Returns
    -------
    ImageData
        ``kind == "display"``, values 0-255 in g, r, z order; nothing masked
        (composites carry no mask).

    Raises
    ------
    GalvaeFileError
        If the file is missing, is not a JPEG/PNG, is truncated or damaged,
        declares more than :data:`MAX_IMAGE_PIXELS` pixels (refused before
        decoding), or is not a 3-channel colour image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise GalvaeFileError(path, "file not found")
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own limit (89 M pixels); galvae's lower one is checked below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im_file = Image.open(path, formats=["JPEG", "PNG"])
        with im_file as im:
            width, height = im.size
            _check_declared_shape(path, (height, width), f"{im.format} image")
            im.load()
            mode = im.mode
            if mode in ("RGBA", "P", "LA", "L", "I;16", "I"):
                if mode in ("L", "LA", "I;16", "I"):
                    raise GalvaeFileError(
                        path, f"a single-channel ({mode}) image; expected an RGB colour composite of z, r, g"
                    )
                im = im.convert("RGB")
            elif mode != "RGB":
                raise GalvaeFileError(path, f"image mode {mode}; expected RGB")
            arr = np.asarray(im, dtype=np.float32)
    except GalvaeFileError:
        raise
    except UnidentifiedImageError:
        raise GalvaeFileError(path, "not a JPEG or PNG image") from None
    except Image.DecompressionBombError as exc:
        raise GalvaeFileError(path, f"refused before decoding (possible decompression bomb): {exc}") from None
    except Exception as exc:  # untrusted bytes: Pillow raises OSError, SyntaxError, ValueError, ... on damage
        raise GalvaeFileError(path, f"truncated or damaged image ({_describe(exc)})") from None
    rgb = np.moveaxis(arr, -1, 0)  # (3, H, W) as R, G, B
    planes = {"z": rgb[0], "r": rgb[1], "g": rgb[2]}
    return _finish(path, planes, {}, "display", float("nan"))


# --------------------------------------------------------------------------- numpy


def _check_npy_header(path: Path, fh: object, what: str) -> None:
    """Read a ``.npy`` header from ``fh`` and refuse a declared shape that is too large (before reading data)."""
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version == (1, 0):
        shape, _, _ = fmt.read_array_header_1_0(fh)
    else:  # 2.0 and 3.0 share the layout (3.0 allows UTF-8 in the header)
        shape, _, _ = fmt.read_array_header_2_0(fh)
    _check_declared_shape(path, shape, what)


def read_array(path: str | os.PathLike[str]) -> ImageData:
    """Read a ``(3, H, W)`` array from ``.npy`` or ``.npz`` (keys ``image``, optional ``mask``).

    The header of every array is checked before its data are read (see
    *Untrusted files* in the module docs); pickled arrays are refused.

    Raises
    ------
    GalvaeFileError
        If the file is missing, empty, corrupt, declares too large an array,
        or the array has the wrong shape.
    """
    path = Path(path)
    if not path.exists():
        raise GalvaeFileError(path, "file not found")
    mask = None
    try:
        if path.suffix.lower() == ".npz":
            with open(path, "rb") as fh:
                with zipfile.ZipFile(fh) as zf:
                    for name in zf.namelist():
                        if name.endswith(".npy"):
                            with zf.open(name) as member:
                                _check_npy_header(path, member, f"array {name[:-4]!r}")
                fh.seek(0)
                with np.load(fh, allow_pickle=False) as loaded:
                    keys = list(loaded.keys())
                    others = [k for k in keys if k != "mask"]
                    if "image" in keys:
                        arr = loaded["image"]
                    elif len(others) == 1:
                        arr = loaded[others[0]]
                    else:
                        raise GalvaeFileError(
                            path, f"npz holds arrays {keys}; expected 'image' (and optionally 'mask')"
                        )
                    if "mask" in keys:
                        mask = np.asarray(loaded["mask"], dtype=bool)
        else:
            with open(path, "rb") as fh:
                _check_npy_header(path, fh, "array")
                fh.seek(0)
                arr = np.load(fh, allow_pickle=False)
    except GalvaeFileError:
        raise
    except Exception as exc:  # untrusted bytes: numpy and zipfile raise many types on a damaged file
        raise GalvaeFileError(path, f"not a readable numpy file ({_describe(exc)})") from None
    arr = np.asarray(arr)
    if arr.ndim != 3 or arr.shape[0] != 3:
        raise GalvaeFileError(path, f"array has shape {arr.shape}; expected (3, H, W) with bands g, r, z")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise GalvaeFileError(path, f"array dtype {arr.dtype} is not real numeric")
    kind: Literal["flux", "display"] = "display" if arr.dtype == np.uint8 else "flux"
    masks: dict[str, NDArray] = {}
    if mask is not None:
        if mask.shape == arr.shape[1:]:
            mask = np.broadcast_to(mask, arr.shape)
        if mask.shape != arr.shape:
            raise GalvaeFileError(path, f"mask has shape {mask.shape}; expected {arr.shape[1:]} or {arr.shape}")
        masks = {b: mask[i] for i, b in enumerate(BANDS)}
    return _finish(path, {b: arr[i] for i, b in enumerate(BANDS)}, masks, kind, float("nan"))


# --------------------------------------------------------------------------- dispatch


def read_image(path: str | os.PathLike[str], **kwargs: object) -> ImageData:
    """Read any supported image by its file name ending (see :data:`IMAGE_SUFFIXES`).

    Keyword arguments go to the matching reader (e.g. ``bands=`` for FITS).

    Raises
    ------
    GalvaeFileError
        For an unknown ending, or anything the reader refuses.
    """
    path = Path(path)
    suf = _suffix(path)
    if suf in (".fits", ".fits.gz", ".fits.fz", ".fit", ".fts"):
        return read_fits(path, **kwargs)  # type: ignore[arg-type]
    if suf in (".jpg", ".jpeg", ".png"):
        return read_rgb(path)
    if suf in (".npy", ".npz"):
        return read_array(path)
    raise GalvaeFileError(path, f"unknown image type {suf!r}; accepted: {', '.join(IMAGE_SUFFIXES)}")
