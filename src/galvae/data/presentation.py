"""Presentation profiles: what field a stored image covers and how its pixels are stretched.

Two profiles exist:

``"fixed"``
    Every galaxy on the same field of view (by default 64 × 0.262″ =
    16.8″), stretched with :class:`galvae.config.StretchConfig`'s default
    asinh.  Simple, but a large galaxy overflows the frame and a small one
    is a few pixels in a field of sky noise.

``"gz-decals"``
    The presentation of the images the paper trained on, the Galaxy Zoo
    DECaLS colour images (Walmsley et al. 2022, MNRAS 509, 3966, §2.2-2.3):

    * 424 × 424 pixels at an interpolated pixel scale
      ``s = max(min(0.04 p50, 0.02 p90), 0.1)`` arcsec, ``p50`` and ``p90``
      the Petrosian 50 % and 90 % light radii (arcsec), so the field
      (``424 s``, about 8.5 ``p90`` across) grows with the galaxy; galvae
      renders or reads that field and brings it to S × S;
    * per band ``y = (asinh(x / c) - asinh(-0.5)) / (asinh(300) -
      asinh(-0.5))``, clipped to [0, 1], with c = 0.008, 0.014, 0.019
      nanomaggies for g, r, z (``get_dr2_style_image`` of the Galaxy Zoo
      DECaLS pipeline): :data:`GZ_DECALS_STRETCH`.

    * each pixel's three stretched values are then *desaturated*
      (:func:`gz_decals_desaturate`): pulled towards their mean, the more so
      the more one band dominates, so sky noise is grey rather than
      speckled in three colours (``dr2_style_rgb(..., desaturate=True)``
      as called by ``make_png_from_fits`` in the Galaxy Zoo DECaLS download
      code, github.com/zooniverse/decals,
      ``a_download_decals/get_images/download_images_threaded.py``);
    * all of this on the 424-pixel grid: the DR5 download code
      (``download_images_threaded.py`` as above) requests the FITS cutout
      from the Legacy Surveys viewer at ``pixscale = s`` and ``size = 424``,
      so the viewer has already resampled (Lanczos-3) the native 0.262″
      pixels onto the grid; the stretched image is then written by
      ``plt.imsave``, which truncates to 8 bits (``np.uint8(x * 255)``).
      :func:`gz_decals_present` follows that order.  (The later DR8 code,
      ``save_carefully_resized_png``, requests native pixels and resizes
      the 8-bit image instead; the images the paper trained on are DR5's.)

    Galaxy Zoo's own JPEG/PNG files are already in this presentation
    (8-bit), so a store ingested from them with ``profile="gz-decals"`` and
    a store simulated or ingested from FITS in this profile hold the same
    kind of pixels, and a model trained on one applies to the other.

The profile name is a store attribute (``profile``) and part of an exported
model's preprocessing; :func:`check_same_presentation` is the one rule that
decides whether two of them can be combined.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..config import StretchConfig, config_to_dict
from ..errors import GalvaeValueError
from .preprocess import center_crop, crop_and_resize

__all__ = [
    "PROFILES",
    "GZ_DECALS_PIXELS",
    "GZ_DECALS_STRETCH",
    "gz_decals_pixel_scale",
    "gz_decals_field",
    "gz_decals_desaturate",
    "gz_decals_present",
    "petrosian_radii",
    "profile_stretch",
    "check_profile",
    "check_field_fraction",
    "check_same_presentation",
]

#: Presentation profiles galvae knows.
PROFILES: tuple[str, ...] = ("fixed", "gz-decals")

#: Side in pixels of a Galaxy Zoo DECaLS image.
GZ_DECALS_PIXELS = 424

_GZ_SOFTENING = (0.008, 0.014, 0.019)

#: The Galaxy Zoo DECaLS "DR2-style" stretch: c = 0.008, 0.014, 0.019 nmgy; 300 c maps to 1, -0.5 c to 0.
GZ_DECALS_STRETCH = StretchConfig(
    kind="asinh", softening=_GZ_SOFTENING, maximum=tuple(300.0 * c for c in _GZ_SOFTENING), floor=0.5
)


def gz_decals_desaturate(image: ArrayLike) -> NDArray[np.float32]:
    """Galaxy Zoo DECaLS's desaturation of stretched g, r, z values.

    Per pixel, with ``a`` the mean of the three stretched values and
    ``d = min(max_b(y_b / a) / 2.5, 1)`` how much one band dominates, the
    weight ``w = sin((1 - d) π / 2)`` mixes each band with the mean:
    ``y' = w y + (1 - w) a + (1 - w)² a y`` (``dr2_style_rgb`` with
    ``desaturate=True`` in the Galaxy Zoo DECaLS image code; see the module
    docs).  A grey pixel (d = 0.4, w = 0.81) keeps its value up to the small
    last term; sky noise, whose bands scatter independently, is pulled to
    grey, so the three bands' sky noise of real Galaxy Zoo DECaLS images is
    98 % correlated (measured on the 200 real images of
    ``benchmarks/realism.py``), against 78-89 % without it.

    Parameters
    ----------
    image : array, shape (3, H, W) or (N, 3, H, W)
        Stretched g, r, z, *before* clipping to [0, 1] (as the original
        applies it).

    Returns
    -------
    ndarray of float32, same shape, clipped to [0, 1].

    Raises
    ------
    GalvaeValueError
        If the band axis does not hold 3 bands.
    """
    y = np.asarray(image)
    y = y if y.dtype == np.float32 else y.astype(np.float64)  # float32 stays float32 (the presentation's grid)
    if y.ndim not in (3, 4) or y.shape[-3] != 3:
        raise GalvaeValueError("gz_decals_desaturate needs shape (3, H, W) or (N, 3, H, W)", y.shape)
    a = y.mean(axis=-3, keepdims=True)
    a = np.where(a == 0, 1.0, a)
    d = np.minimum((y / a).max(axis=-3, keepdims=True) / 2.5, 1.0)
    w = np.sin((1.0 - d) * np.pi / 2)
    out = y * w + a * (1 - w) + a * (1 - w) ** 2 * y
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0).astype(np.float32)


def _lanczos3(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """The Lanczos kernel of order 3, ``sinc(x) sinc(x / 3)`` for ``|x| < 3``, else 0."""
    return np.where(np.abs(x) < 3.0, np.sinc(x) * np.sinc(x / 3.0), 0.0)


@functools.lru_cache(maxsize=64)
def _resample_matrix(n_in: int, n_out: int) -> NDArray[np.float64]:
    """(n_out, n_in) weights that resample a row of ``n_in`` pixels onto ``n_out`` covering the same extent.

    Where the output pixels are finer than the input (``n_out >= n_in / 2``) this is Lanczos-3
    interpolation at the output pixel centres, weights normalised to one, edges replicated.  Coarser
    output is interpolated from the input averaged in blocks of ``2^k`` pixels (the largest power of two
    not above ``n_in / n_out``), as a viewer serving a coarse cutout from its binned image pyramid does.
    """
    block = 2 ** max(0, math.floor(math.log2(n_in / n_out))) if n_in >= 2 * n_out else 1
    n_b = n_in // block
    lead = (n_in - n_b * block) // 2  # input pixels before the first block
    u = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5  # output centres in input pixel coordinates
    ub = (u - lead - (block - 1) / 2.0) / block  # ... in blocked pixel coordinates
    taps = np.floor(ub)[:, None] + np.arange(-2, 4)[None, :]
    w = _lanczos3(ub[:, None] - taps)
    w /= w.sum(axis=1, keepdims=True)
    idx = np.clip(taps.astype(np.int64), 0, n_b - 1)
    m = np.zeros((n_out, n_b))
    np.add.at(m, (np.repeat(np.arange(n_out), 6), idx.ravel()), w.ravel())
    if block > 1:  # blocked pixel b averages input pixels lead + b * block ... lead + b * block + block - 1
        full = np.zeros((n_out, n_in))
        for k in range(block):
            full[:, lead + k : lead + n_b * block : block] += m / block
        m = full
    m.setflags(write=False)
    return m


def gz_decals_present(
    flux: ArrayLike, mask: ArrayLike | None, size: int, field_fraction: float = 1.0
) -> tuple[NDArray, NDArray]:
    """A flux cutout on native pixels presented as Galaxy Zoo DECaLS made its images, at S × S.

    The steps of the Galaxy Zoo DECaLS DR5 images (module docs), in their
    order: the native pixels resampled (Lanczos-3) onto the 424-pixel grid
    of the Galaxy Zoo field (``round(424 × field_fraction)`` pixels across
    the given flux), stretched there (:data:`GZ_DECALS_STRETCH`, pixels below
    -0.5 c clipped to black) and desaturated (:func:`gz_decals_desaturate`),
    truncated to 8 bits (``np.uint8(x * 255)``), and only then brought to
    S × S (:func:`galvae.data.preprocess.crop_and_resize`).  Stretching on
    that grid, not on the native one, matters for the sky: on noise-only
    DECaLS fields (0.75 of a 70″ field at 48 px) it puts the presented
    border at 16.7 / 17.5 / 18.9 8-bit levels (g, r, z; the Galaxy Zoo
    pipeline emulated down to its 128-px JPEG: 17.0 / 17.4 / 18.9), where
    stretching the native pixels gave 16.2 / 17.9 / 19.0
    (``benchmarks/gz_pipeline_sky.md``).  Resizing the flux first and
    stretching after (what ``stretch(crop_and_resize(...))`` does) would
    average the sky noise while it is still linear and leave its grains
    coloured (g-z correlation ~0; real images 0.97).

    Parameters
    ----------
    flux : array, shape (3, H, W)
        g, r, z in nanomaggies per 0.262″ pixel, on the native grid, the
        central ``field_fraction`` of the Galaxy Zoo field
        (:func:`gz_decals_field`).  Non-finite values count as invalid.
    mask : array of bool, shape (3, H, W) or (H, W), optional
        True where a pixel is invalid; invalid pixels are presented as sky
        (flux 0) and flagged in the returned mask.
    size : int
        Output side S.
    field_fraction : float, default 1.0
        The fraction of the Galaxy Zoo field's side that ``flux`` covers
        (:func:`check_field_fraction`): it sets the presentation grid.

    Returns
    -------
    image : ndarray of float32, shape (3, size, size), values in [0, 1]
        At S = ``round(424 × field_fraction)`` exactly the 8-bit levels (/ 255)
        of a Galaxy Zoo image; resized from them otherwise.
    mask : ndarray of bool, shape (size, size)

    Raises
    ------
    GalvaeValueError
        If ``flux`` is not (3, H, W), ``mask`` does not match it, or
        ``field_fraction`` is not in (0, 1].
    """
    x = np.asarray(flux, dtype=np.float64)
    if x.ndim != 3 or x.shape[0] != 3:
        raise GalvaeValueError("gz_decals_present needs flux of shape (3, H, W)", x.shape)
    grid = max(1, round(GZ_DECALS_PIXELS * check_field_fraction(field_fraction)))
    bad = ~np.isfinite(x)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape == x.shape[-2:]:
            m = np.broadcast_to(m, x.shape)
        if m.shape != x.shape:
            raise GalvaeValueError(f"mask shape must be {x.shape} or {x.shape[-2:]}", m.shape)
        bad = bad | m
    x, bad = center_crop(np.where(bad, 0.0, x)), center_crop(bad)  # the largest centred square
    w = _resample_matrix(x.shape[-1], grid).astype(np.float32)
    # (3, grid, grid), as the cutout service resamples; float32 from here (8-bit levels are the goal)
    x = np.matmul(np.matmul(w, x.astype(np.float32)), w.T)
    st = GZ_DECALS_STRETCH
    c = np.asarray(st.softening, dtype=np.float32)[:, None, None]
    top = np.asarray(st.maximum, dtype=np.float64)[:, None, None]
    lo = np.arcsinh(-st.floor)
    scale = (1.0 / (np.arcsinh(top / c) - lo)).astype(np.float32)
    y = (np.arcsinh(x / c) - np.float32(lo)) * scale  # unclipped, as the original desaturates
    y = np.floor(gz_decals_desaturate(y) * np.float32(255.0)) / np.float32(255.0)  # np.uint8(x * 255)
    image, _ = crop_and_resize(y, None, size)  # invalid pixels stay the sky they were set to, not black
    if not bad.any():
        return image, np.zeros((size, size), dtype=bool)
    return image, crop_and_resize(np.zeros(bad.shape, dtype=np.float32), bad, size)[1]


def check_profile(profile: str) -> str:
    """Return ``profile`` if it names a profile, else raise :class:`GalvaeValueError`."""
    if profile not in PROFILES:
        raise GalvaeValueError("presentation profile", profile, PROFILES)
    return profile


def check_field_fraction(field_fraction: float, profile: str = "gz-decals") -> float:
    """Return ``field_fraction`` as a float if it is valid for ``profile``, else raise.

    The field fraction is the side of the centre crop a ``gz-decals`` store
    keeps, as a fraction of the Galaxy Zoo DECaLS field (1: the whole
    424-pixel image, about 8.5 ``p90`` across; 0.5: its central half, about
    4.2 ``p90``, at twice the pixels per arcsec for the same S).  Zoobot
    trains on random crops of 0.7-0.8 of these images for the same reason:
    most of the Galaxy Zoo field is sky and neighbours.  The ``fixed``
    profile has its own field (``fov_arcsec``) and takes only 1.

    Raises
    ------
    GalvaeValueError
        If it is not a number in (0, 1], or not 1 with the ``fixed`` profile.
    """
    if isinstance(field_fraction, bool) or not isinstance(field_fraction, int | float | np.floating):
        raise GalvaeValueError("field_fraction must be a number in (0, 1]", field_fraction)
    f = float(field_fraction)
    if not (math.isfinite(f) and 0.0 < f <= 1.0):
        raise GalvaeValueError("field_fraction must be in (0, 1] (1: the whole Galaxy Zoo field)", field_fraction)
    if check_profile(profile) == "fixed" and f != 1.0:
        raise GalvaeValueError(
            "field_fraction applies to the gz-decals profile only; the fixed profile sets its field with fov_arcsec",
            field_fraction,
            (1.0,),
        )
    return f


def profile_stretch(profile: str) -> StretchConfig:
    """The stretch of a flux image (nanomaggies) presented in ``profile``."""
    return GZ_DECALS_STRETCH if check_profile(profile) == "gz-decals" else StretchConfig()


def gz_decals_pixel_scale(p50: ArrayLike, p90: ArrayLike) -> NDArray[np.float64]:
    """Pixel scale (arcsec) of a 424-pixel Galaxy Zoo DECaLS image.

    Parameters
    ----------
    p50, p90 : float or array
        Petrosian 50 % and 90 % light radii, arcsec.

    Returns
    -------
    ndarray of float
        ``max(min(0.04 p50, 0.02 p90), 0.1)`` (Walmsley et al. 2022, §2.3).

    Raises
    ------
    GalvaeValueError
        If a radius is not a positive finite number.
    """
    a = np.asarray(p50, dtype=np.float64)
    b = np.asarray(p90, dtype=np.float64)
    for name, v in (("p50", a), ("p90", b)):
        if not (np.isfinite(v).all() and (v > 0).all()):
            raise GalvaeValueError(
                f"Petrosian radius {name} must be positive and finite (arcsec)",
                v[~(np.isfinite(v) & (v > 0))].ravel()[:3].tolist(),
            )
    return np.maximum(np.minimum(0.04 * a, 0.02 * b), 0.1)


def gz_decals_field(p50: ArrayLike, p90: ArrayLike) -> NDArray[np.float64]:
    """Side (arcsec) of the field a Galaxy Zoo DECaLS image covers: ``424 × pixel scale``."""
    return GZ_DECALS_PIXELS * gz_decals_pixel_scale(p50, p90)


def petrosian_radii(image: ArrayLike, pixel_scale: float, eta: float = 0.2) -> tuple[float, float, float]:
    """SDSS Petrosian radius and the radii holding 50 % and 90 % of the Petrosian flux.

    The Petrosian ratio at radius r is the mean surface brightness in the
    annulus 0.8 r-1.25 r over the mean inside r; the Petrosian radius R_P is
    where it falls to ``eta`` (0.2), the Petrosian flux is the flux inside
    2 R_P, and p50 / p90 are the radii holding 50 % / 90 % of it (Blanton
    et al. 2001; Strauss et al. 2002; the NSA's ``PETROTH50``/``PETROTH90``).
    The flux within r is the curve of growth over pixel centres: at each
    distinct pixel radius it counts every pixel inside and half of those at
    that radius, interpolated linearly between radii (within 1 % of the
    analytic radii of an exponential disc sampled at 3-12 pixels per scale
    length), and does not depend on the order of the pixels.

    Parameters
    ----------
    image : array, shape (H, W)
        A noiseless, background-free image centred on the galaxy (the
        centre of the array is the galaxy's centre).
    pixel_scale : float
        Arcsec per pixel.
    eta : float, default 0.2

    Returns
    -------
    r_petro, p50, p90 : float
        In arcsec.  When the ratio never falls to ``eta`` inside the image,
        R_P is capped so that the 2 R_P aperture still fits in the image
        (draw a larger image for such a galaxy).

    Raises
    ------
    GalvaeValueError
        If the image is not 2-D or holds no positive flux.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise GalvaeValueError("petrosian_radii needs a 2-D image", img.shape)
    img = np.clip(np.nan_to_num(img), 0, None)
    total = img.sum()
    if not total > 0:
        raise GalvaeValueError("petrosian_radii needs an image with positive flux", float(total))
    h, w = img.shape
    # The curve of growth at each distinct pixel radius: every pixel at that radius counted, whatever order a
    # sort would put equal radii in (an argsort's order of ties depends on the CPU's SIMD sort, and with it the
    # radii in the last digits).  (2 r)² is an exact integer, so pixels are grouped by it, not sorted.
    key = ((2 * np.arange(h, dtype=np.int64) - (h - 1)) ** 2)[:, None] + (
        (2 * np.arange(w, dtype=np.int64) - (w - 1)) ** 2
    )[None, :]
    flux = np.bincount(key.ravel(), weights=img.ravel())
    radii2 = np.flatnonzero(np.bincount(key.ravel()))
    r_groups = np.sqrt(radii2) / 2
    cum = np.cumsum(flux[radii2]) - 0.5 * flux[radii2]
    r_max = min(h, w) / 2 - 1

    def flux_within(radius: NDArray) -> NDArray:
        return np.interp(radius, r_groups, cum)

    radii = np.linspace(2.0, r_max / 1.25, 400)
    inner = flux_within(radii)
    annulus = flux_within(1.25 * radii) - flux_within(0.8 * radii)
    ratio = (annulus / (math.pi * (1.25**2 - 0.8**2) * radii**2)) / np.maximum(inner / (math.pi * radii**2), 1e-300)
    below = np.nonzero(ratio < eta)[0]
    if below.size:
        k = below[0]
        if k == 0:
            rp = radii[0]
        else:  # interpolate the crossing linearly
            r0, r1, q0, q1 = radii[k - 1], radii[k], ratio[k - 1], ratio[k]
            rp = r0 + (q0 - eta) * (r1 - r0) / (q0 - q1)
    else:
        rp = r_max / 2
    rp = min(rp, r_max / 2)
    f_petro = flux_within(np.array([2 * rp]))[0]
    grid = np.linspace(0.0, 2 * rp, 2000)
    cog = flux_within(grid)
    p50 = float(np.interp(0.5 * f_petro, cog, grid))
    p90 = float(np.interp(0.9 * f_petro, cog, grid))
    return float(rp * pixel_scale), p50 * pixel_scale, p90 * pixel_scale


def check_same_presentation(
    what_a: str,
    norm_a: StretchConfig,
    profile_a: str,
    what_b: str,
    norm_b: StretchConfig,
    profile_b: str,
    *,
    fraction_a: float = 1.0,
    fraction_b: float = 1.0,
) -> None:
    """Raise unless two stores (or a store and a model) hold the same kind of pixels.

    Two ``gz-decals`` sources match whatever their stretch record says (a
    stretched flux store and an 8-bit Galaxy Zoo composite hold the same
    presentation) if they keep the same field fraction
    (:func:`check_field_fraction`); otherwise the profiles and the stretches
    must be equal.

    Raises
    ------
    GalvaeValueError
        Naming both sources, their profiles and stretches.
    """
    if profile_a == profile_b == "gz-decals":
        if not math.isclose(float(fraction_a), float(fraction_b), rel_tol=1e-6):
            raise GalvaeValueError(
                f"{what_a} keeps {fraction_a:g} of the Galaxy Zoo field but {what_b} keeps {fraction_b:g}; "
                "use stores of one field fraction (galvae simulate/ingest --field-fraction)",
                (fraction_a, fraction_b),
            )
        return
    if profile_a != profile_b:
        raise GalvaeValueError(
            f"{what_a} is presented as {profile_a!r} but {what_b} as {profile_b!r}; "
            "use stores of one presentation profile (galvae simulate/ingest --profile)",
            (profile_a, profile_b),
        )
    if norm_a != norm_b:
        raise GalvaeValueError(
            f"{what_a} has normalisation {config_to_dict(norm_a)} but {what_b} has {config_to_dict(norm_b)}",
            (profile_a, profile_b),
        )
