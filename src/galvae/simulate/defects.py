"""Planted image defects: bright stars, satellite trails, missing bands, bleed trails, chip edges.

Real survey cutouts are not all clean.  The paper (its Fig. 5) finds that
the galaxies whose latents differ most between DECaLS and BASS+MzLS are
mostly those with a bright star nearby, and Legacy Survey cutouts also
show satellite trails, bands without coverage (zero pixels, zero inverse
variance), saturated bleed trails and the edge of the imaged area.  The
simulator plants these in a small, configurable fraction of the images
(default 0.5 %) so that outlier detection and survey comparison have
something real to find, and records the kind per galaxy and survey.

Units follow the simulator's images: ``image`` is float32 of shape
(3, H, W), bands g, r, z, in nanomaggies (zero point 22.5 AB) per
*reference pixel* of surface brightness -- the value of a pixel is the
surface brightness times ``reference_pixel_scale**2`` (0.262 arcsec, the
native Legacy Survey pixel), so a stamp resampled to coarser pixels keeps
its values.  ``sky_sigma`` and ``saturation`` are in the same units.  Pass
``reference_pixel_scale=None`` for images in plain flux per pixel.

The defects
-----------
``bright_star``
    A star of r = 10-15 mag (counts rising as ``10**(0.3 m)``, roughly
    the slope of high-latitude star counts at these magnitudes), colour
    g - r = 0.4-1.2 with r - z = 0.84 (g - r) - 0.17 (an approximation of
    the stellar locus in SDSS/DECam colours), placed 0.5-1.3 half-widths
    of the stamp from the centre: near the galaxy, never on it, sometimes
    off the stamp with only its wings showing.  Its image is drawn with
    GalSim: a Moffat core (beta 3.5) of the band's FWHM holding 97 % of
    the light, plus a broad Moffat halo (beta 1.6, three times the FWHM;
    r**-3.2 wings) with 3 % for the scattered-light halo of real PSFs, and
    four diffraction spikes for stars brighter than r = 12.5.  Photon
    noise of the star is added (``effective_gain`` electrons per
    nanomaggy).  Pixels above ``saturation`` are clipped and masked, and
    the charge above saturation bleeds up and down the columns
    (``bleed_efficiency``), as on a CCD; the star is rendered on a canvas
    large enough to hold its core, so a bleed from a star just off the
    stamp still crosses it.  :class:`StarSpec` gives the star in
    arcseconds and magnitudes, so the same sky star can be drawn in two
    surveys with their own PSF, pixels and saturation.
``satellite_trail``
    A straight line across the stamp at a random angle, passing within
    0.45 half-widths of the centre, with a Gaussian cross-section of the
    band's PSF width and a peak of 3-50 sky sigmas; a trail lies in one
    exposure, so 70 % of trails are in one band only.  Not masked (trails
    that survive coadding are not flagged in the cutouts either).
``missing_band``
    One band without coverage: its pixels are zero and the whole mask is
    True (the galaxy has no valid three-band image).
``bleed_trail``
    A saturated streak along a column (1-3 pixels wide, 30-100 % of the
    stamp high) from a star outside the stamp: at saturation in every
    band, and masked.
``chip_edge``
    The edge of the imaged area: beyond a straight, axis-aligned edge on a
    random side, 10-45 % of the stamp deep, every band is zero and masked.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import check_float, check_int
from ..errors import GalvaeValueError
from ._checks import as_rng, set_float, set_int_pair

__all__ = [
    "DEFECT_KINDS",
    "DefectConfig",
    "StarSpec",
    "assign_defects",
    "sample_star",
    "add_star",
    "plant_defect",
]

log = logging.getLogger(__name__)

#: The kinds of planted defect, in the order of :attr:`DefectConfig.weights`.
DEFECT_KINDS: tuple[str, ...] = ("bright_star", "satellite_trail", "missing_band", "bleed_trail", "chip_edge")

_N_BANDS = 3


@dataclass(frozen=True)
class DefectConfig:
    """How often defects are planted and what they look like.

    Parameters
    ----------
    fraction : float, default 0.005
        Probability that a galaxy's image (in one survey) has a defect.
    weights : tuple of 5 float, default (0.4, 0.2, 0.1, 0.1, 0.2)
        Relative frequency of each kind of :data:`DEFECT_KINDS`.
    star_mag_range : (float, float), default (10.0, 15.0)
        r magnitude (AB) range of bright stars.
    star_count_slope : float, default 0.3
        Stars are drawn with density proportional to ``10**(slope * m)``.
    star_gr_range : (float, float), default (0.4, 1.2)
        g - r colour range of bright stars (uniform).
    star_distance_range : (float, float), default (0.5, 1.3)
        Distance of a star from the stamp centre, in units of half the
        stamp side.
    star_beta : float, default 3.5
        Moffat beta of the PSF core.
    halo_fraction : float, default 0.03
        Fraction of a star's light in the broad halo; 0 for none.
    halo_beta : float, default 1.6
        Moffat beta of the halo.
    halo_fwhm_factor : float, default 3.0
        Halo FWHM in units of the band's PSF FWHM.
    spike_mag : float, default 12.5
        Stars brighter than this r magnitude get diffraction spikes.
    spike_fraction : float, default 0.005
        Fraction of the star's light in its spikes.
    spike_angle_deg : float, default 0.0
        Orientation of the spikes (0: along the pixel axes).
    bleed_efficiency : float, default 1.0
        Fraction of the charge above saturation that bleeds along columns;
        0 clips without bleeding.
    effective_gain : float, default 3000.0
        Electrons per nanomaggy of a coadd (a few DECam exposures), for the
        photon noise of stars; 0 adds no noise.
    trail_peak_range : (float, float), default (3.0, 50.0)
        Peak surface brightness of a satellite trail, in sky sigmas.
    trail_single_band_probability : float, default 0.7
        Probability that a trail is in one band only.
    bleed_width_range : (int, int), default (1, 3)
        Width in pixels of a bleed-trail defect (inclusive range).
    bleed_length_range : (float, float), default (0.3, 1.0)
        Length of a bleed-trail defect as a fraction of the stamp height.
    chip_edge_depth_range : (float, float), default (0.1, 0.45)
        Depth of the blank region beyond a chip edge, fraction of the stamp.
    reference_pixel_scale : float or None, default 0.262
        Pixel scale (arcsec) that image values are surface brightness per;
        None for plain flux per pixel of the image.

    Raises
    ------
    GalvaeValueError
        If a value is out of range.
    """

    fraction: float = 0.005
    weights: tuple[float, float, float, float, float] = (0.4, 0.2, 0.1, 0.1, 0.2)
    star_mag_range: tuple[float, float] = (10.0, 15.0)
    star_count_slope: float = 0.3
    star_gr_range: tuple[float, float] = (0.4, 1.2)
    star_distance_range: tuple[float, float] = (0.5, 1.3)
    star_beta: float = 3.5
    halo_fraction: float = 0.03
    halo_beta: float = 1.6
    halo_fwhm_factor: float = 3.0
    spike_mag: float = 12.5
    spike_fraction: float = 0.005
    spike_angle_deg: float = 0.0
    bleed_efficiency: float = 1.0
    effective_gain: float = 3000.0
    trail_peak_range: tuple[float, float] = (3.0, 50.0)
    trail_single_band_probability: float = 0.7
    bleed_width_range: tuple[int, int] = (1, 3)
    bleed_length_range: tuple[float, float] = (0.3, 1.0)
    chip_edge_depth_range: tuple[float, float] = (0.1, 0.45)
    reference_pixel_scale: float | None = 0.262

    def __post_init__(self) -> None:
        set_float(self, "fraction", 0.0, 1.0)
        weights = _floats(self, "weights", len(DEFECT_KINDS))
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise GalvaeValueError(
                f"DefectConfig.weights must be {len(DEFECT_KINDS)} non-negative numbers, not all zero, "
                f"one per kind ({', '.join(DEFECT_KINDS)})",
                self.weights,
            )
        object.__setattr__(self, "weights", weights)
        _range(self, "star_mag_range", -30.0, 40.0)
        set_float(self, "star_count_slope", -5.0, 5.0)
        _range(self, "star_gr_range", -2.0, 5.0)
        _range(self, "star_distance_range", 0.0, 10.0)
        set_float(self, "star_beta", 1.1, 20.0, open_low=True)
        set_float(self, "halo_fraction", 0.0, 1.0, open_high=True)
        set_float(self, "halo_beta", 1.1, 20.0, open_low=True)
        set_float(self, "halo_fwhm_factor", 1.0, 100.0)
        set_float(self, "spike_mag", -30.0, 40.0)
        set_float(self, "spike_fraction", 0.0, 0.5)
        set_float(self, "spike_angle_deg", -360.0, 360.0)
        set_float(self, "bleed_efficiency", 0.0, 1.0)
        set_float(self, "effective_gain", 0.0, math.inf)
        _range(self, "trail_peak_range", 0.0, 1e6)
        set_float(self, "trail_single_band_probability", 0.0, 1.0)
        set_int_pair(self, "bleed_width_range")
        _range(self, "bleed_length_range", 0.0, 1.0, positive=True)
        _range(self, "chip_edge_depth_range", 0.0, 1.0, positive=True)
        if self.reference_pixel_scale is not None:
            set_float(self, "reference_pixel_scale", 0.0, math.inf, open_low=True)

    @property
    def probabilities(self) -> np.ndarray:
        """Normalised kind probabilities, in :data:`DEFECT_KINDS` order."""
        w = np.asarray(self.weights, dtype=np.float64)
        return w / w.sum()


def _floats(obj: Any, name: str, n: int) -> tuple[float, ...]:
    values = getattr(obj, name)
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise GalvaeValueError(f"{type(obj).__name__}.{name} must be {n} numbers", values) from None
    if len(out) != n or not all(math.isfinite(v) for v in out):
        raise GalvaeValueError(f"{type(obj).__name__}.{name} must be {n} numbers", values)
    return out


def _range(obj: Any, name: str, low: float, high: float, *, positive: bool = False) -> None:
    lo, hi = _floats(obj, name, 2)
    if not (low <= lo <= hi <= high) or (positive and lo <= 0):
        raise GalvaeValueError(
            f"{type(obj).__name__}.{name} must be (low, high) with "
            f"{low} {'<' if positive else '<='} low <= high <= {high}",
            getattr(obj, name),
        )
    object.__setattr__(obj, name, (lo, hi))


# --------------------------------------------------------------------------- randomness and inputs


def _config(config: Any) -> DefectConfig:
    cfg = DefectConfig() if config is None else config
    if not isinstance(cfg, DefectConfig):
        raise GalvaeValueError("config must be a DefectConfig", type(cfg).__name__)
    return cfg


def _per_band(value: Any, name: str, *, allow_zero: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64) if not isinstance(value, str) else np.array([np.nan])
    if arr.ndim == 0:
        arr = np.full(_N_BANDS, float(arr))
    bad = arr.shape != (_N_BANDS,) or not np.all(np.isfinite(arr)) or np.any(arr < 0)
    if bad or (not allow_zero and np.any(arr == 0)):
        raise GalvaeValueError(
            f"{name} must be one or {_N_BANDS} finite {'non-negative' if allow_zero else 'positive'} numbers (g, r, z)",
            value,
        )
    return arr


def _check_image(image: Any) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[0] != _N_BANDS or arr.shape[1] < 4 or arr.shape[2] < 4:
        raise GalvaeValueError(
            f"image must have shape ({_N_BANDS}, H, W) with H, W >= 4 (bands g, r, z)", getattr(arr, "shape", None)
        )
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise GalvaeValueError("image must hold real numbers", str(arr.dtype))
    return np.array(arr, dtype=np.float32, copy=True)


# --------------------------------------------------------------------------- assignment


def assign_defects(n: int, rng: np.random.Generator | int, config: DefectConfig | None = None) -> np.ndarray:
    """Draw which galaxies of one survey get a defect, and which kind.

    Parameters
    ----------
    n : int
        Number of galaxies (>= 0).
    rng : numpy.random.Generator or int
        Source of randomness (an int is a seed).
    config : DefectConfig, optional
        ``fraction`` and ``weights`` are used; default ``DefectConfig()``.

    Returns
    -------
    numpy.ndarray of str, shape (n,)
        ``"none"`` or one of :data:`DEFECT_KINDS` per galaxy.

    Raises
    ------
    GalvaeValueError
        If ``n`` is not a non-negative integer.
    """
    n = check_int("n", n, minimum=0)
    cfg = _config(config)
    gen = as_rng(rng)
    hit = gen.random(n) < cfg.fraction
    kinds = gen.choice(len(DEFECT_KINDS), size=int(n), p=cfg.probabilities)
    names = np.asarray(DEFECT_KINDS + ("none",))
    return names[np.where(hit, kinds, len(DEFECT_KINDS))].astype(f"<U{max(len(k) for k in names)}")


# --------------------------------------------------------------------------- bright stars


@dataclass(frozen=True)
class StarSpec:
    """A star on the sky, relative to a galaxy.

    Parameters
    ----------
    x_arcsec, y_arcsec : float
        Offset of the star from the stamp centre, in arcsec; x along the
        columns (axis 2 of an image), y along the rows (axis 1).
    mag_r : float
        r magnitude (AB).
    g_r : float
        g - r colour.
    r_z : float
        r - z colour.

    Raises
    ------
    GalvaeValueError
        If a value is not finite.
    """

    x_arcsec: float
    y_arcsec: float
    mag_r: float
    g_r: float
    r_z: float

    def __post_init__(self) -> None:
        for name in ("x_arcsec", "y_arcsec", "mag_r", "g_r", "r_z"):
            set_float(self, name, -math.inf, math.inf, open_low=True, open_high=True)

    @property
    def fluxes(self) -> np.ndarray:
        """Total flux in nanomaggies in g, r, z, shape (3,)."""
        mags = np.array([self.mag_r + self.g_r, self.mag_r, self.mag_r - self.r_z])
        return 10.0 ** (-0.4 * (mags - 22.5))


def sample_star(
    rng: np.random.Generator | int,
    *,
    field_arcsec: float,
    config: DefectConfig | None = None,
) -> StarSpec:
    """Draw a bright star near (not on) a galaxy.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Source of randomness.
    field_arcsec : float
        Side of the stamp in arcsec (e.g. 64 x 0.262 = 16.8); distances are
        drawn in units of half of it.
    config : DefectConfig, optional
        Magnitude, colour and distance ranges; default ``DefectConfig()``.

    Returns
    -------
    StarSpec
        The star, in survey-independent units.

    Raises
    ------
    GalvaeValueError
        If ``field_arcsec`` is not a positive number.
    """
    cfg = _config(config)
    gen = as_rng(rng)
    field = check_float("field_arcsec (stamp side in arcsec)", field_arcsec, minimum=0, inclusive=False)
    lo, hi = cfg.star_mag_range
    u = gen.random()
    a = cfg.star_count_slope * math.log(10.0)
    if abs(a) * (hi - lo) < 1e-9:
        mag = lo + u * (hi - lo)
    else:  # inverse CDF of a density proportional to exp(a m) on [lo, hi]
        mag = lo + math.log1p(u * math.expm1(a * (hi - lo))) / a
    g_r = gen.uniform(*cfg.star_gr_range)
    r_z = 0.84 * g_r - 0.17 + gen.normal(0.0, 0.05)
    dist = gen.uniform(*cfg.star_distance_range) * field / 2.0
    angle = gen.uniform(0.0, 2.0 * math.pi)
    return StarSpec(dist * math.cos(angle), dist * math.sin(angle), mag, g_r, r_z)


def _spikes(
    shape: tuple[int, int], x0: float, y0: float, flux: float, fwhm: float, pixel_scale: float, cfg: DefectConfig
) -> np.ndarray:
    """Four diffraction spikes (two lines through the star), flux per image pixel."""
    sigma = max(fwhm / 2.3548 / 2.0, 0.5 * pixel_scale)
    r0 = 2.0 * fwhm
    amp = cfg.spike_fraction * flux / (2.0 * math.pi * r0 * math.sqrt(2.0 * math.pi) * sigma)
    ys, xs = np.indices(shape, dtype=np.float64)
    dx = (xs - x0) * pixel_scale
    dy = (ys - y0) * pixel_scale
    theta = math.radians(cfg.spike_angle_deg)
    u = dx * math.cos(theta) + dy * math.sin(theta)
    v = -dx * math.sin(theta) + dy * math.cos(theta)
    out = np.zeros(shape)
    for along, across in ((u, v), (v, u)):
        out += amp * np.exp(-0.5 * (across / sigma) ** 2) / (1.0 + (along / r0) ** 2)
    return out * pixel_scale**2


def add_star(
    image: np.ndarray,
    star: StarSpec,
    *,
    pixel_scale: float,
    psf_fwhm: Any,
    saturation: Any,
    rng: np.random.Generator | int | None = None,
    config: DefectConfig | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a star into a copy of an image, with saturation and bleeding.

    Parameters
    ----------
    image : numpy.ndarray, shape (3, H, W)
        g, r, z image in nanomaggies per reference pixel (see the module
        documentation); not modified.
    star : StarSpec
        The star; its offset is converted to pixels with ``pixel_scale``.
    pixel_scale : float
        Arcsec per pixel of ``image``.
    psf_fwhm : float or 3 floats
        PSF FWHM in arcsec, per band.
    saturation : float or 3 floats
        Saturation level, same units as ``image``, per band.
    rng : numpy.random.Generator or int, optional
        Source of the star's photon noise; None adds no noise.
    config : DefectConfig, optional
        PSF shape, halo, spikes, bleeding, gain; default ``DefectConfig()``.

    Returns
    -------
    image : numpy.ndarray, float32, shape (3, H, W)
        The image with the star.
    mask : numpy.ndarray, bool, shape (H, W)
        True where a band is saturated (the core and the bleed trails).

    Raises
    ------
    GalvaeValueError
        If an argument has the wrong shape or an invalid value.
    """
    import galsim

    cfg = _config(config)
    out = _check_image(image)
    if not isinstance(star, StarSpec):
        raise GalvaeValueError("star must be a StarSpec", type(star).__name__)
    scale = check_float("pixel_scale (arcsec per pixel)", pixel_scale, minimum=0, inclusive=False)
    fwhm = _per_band(psf_fwhm, "psf_fwhm")
    sat = _per_band(saturation, "saturation")
    gen = None if rng is None else as_rng(rng)
    _, height, width = out.shape
    to_ref = 1.0 if cfg.reference_pixel_scale is None else (cfg.reference_pixel_scale / scale) ** 2
    ox, oy = star.x_arcsec / scale, star.y_arcsec / scale
    # a canvas large enough to hold the star's core, so that its saturation and bleed are right
    core_px = 6.0 * float(fwhm.max()) / scale
    pad_x = int(min(width, max(0.0, math.ceil(abs(ox) - width / 2 + core_px))))
    pad_y = int(min(height, max(0.0, math.ceil(abs(oy) - height / 2 + core_px))))
    canvas_shape = (height + 2 * pad_y, width + 2 * pad_x)
    mask = np.zeros(canvas_shape, dtype=bool)
    fluxes = star.fluxes
    for b in range(_N_BANDS):
        canvas = np.zeros(canvas_shape)
        canvas[pad_y : pad_y + height, pad_x : pad_x + width] = out[b]
        core = galsim.Moffat(beta=cfg.star_beta, fwhm=float(fwhm[b]))
        draw = galsim.ImageD(canvas_shape[1], canvas_shape[0], scale=scale)
        core.withFlux(fluxes[b] * (1.0 - cfg.halo_fraction)).drawImage(draw, offset=(ox, oy))
        star_px = draw.array.copy()
        if cfg.halo_fraction > 0:
            halo = galsim.Moffat(beta=cfg.halo_beta, fwhm=float(fwhm[b]) * cfg.halo_fwhm_factor)
            halo.withFlux(fluxes[b] * cfg.halo_fraction).drawImage(draw, offset=(ox, oy), method="no_pixel")
            star_px += draw.array
        if star.mag_r < cfg.spike_mag and cfg.spike_fraction > 0:
            # GalSim puts the true centre of an N-pixel image at (N - 1) / 2 in 0-based array indices
            x0 = (canvas_shape[1] - 1) / 2.0 + ox
            y0 = (canvas_shape[0] - 1) / 2.0 + oy
            star_px += _spikes(canvas_shape, x0, y0, fluxes[b], float(fwhm[b]), scale, cfg)
        star_px *= to_ref
        if gen is not None and cfg.effective_gain > 0:
            # photon noise: counts = flux per image pixel x gain
            var = np.clip(star_px, 0.0, None) * to_ref / cfg.effective_gain
            star_px += gen.standard_normal(canvas_shape) * np.sqrt(var)
        canvas += star_px
        _saturate(canvas, float(sat[b]), cfg.bleed_efficiency, mask)
        out[b] = canvas[pad_y : pad_y + height, pad_x : pad_x + width]
    return out, mask[pad_y : pad_y + height, pad_x : pad_x + width].copy()


def _saturate(canvas: np.ndarray, level: float, efficiency: float, mask: np.ndarray) -> None:
    """Clip ``canvas`` at ``level`` in place, bleeding the excess along columns; mark ``mask``."""
    over = canvas > level
    if not over.any():
        return
    excess = np.where(over, canvas - level, 0.0).sum(axis=0) * efficiency
    canvas[over] = level
    mask |= over
    n_rows = canvas.shape[0]
    for col in np.flatnonzero(over.any(axis=0)):
        rows = np.flatnonzero(over[:, col])
        # the excess charge fills pixels to saturation, half upwards, half downwards
        extra = int(excess[col] // level)
        if extra <= 0:
            continue
        up = extra // 2
        down = extra - up
        top = max(0, rows.min() - up)
        bottom = min(n_rows, rows.max() + 1 + down)
        canvas[top:bottom, col] = level
        mask[top:bottom, col] = True


# --------------------------------------------------------------------------- the other kinds


def _satellite_trail(
    out: np.ndarray, gen: np.random.Generator, scale: float, fwhm: np.ndarray, sky: np.ndarray, cfg: DefectConfig
) -> None:
    _, height, width = out.shape
    theta = gen.uniform(0.0, math.pi)
    half = min(height, width) / 2.0
    impact = gen.uniform(-0.45, 0.45) * half
    peak = gen.uniform(*cfg.trail_peak_range)
    if gen.random() < cfg.trail_single_band_probability:
        bands = [int(gen.integers(_N_BANDS))]
    else:
        bands = list(range(_N_BANDS))
    ys, xs = np.indices((height, width), dtype=np.float64)
    # distance (pixels) of each pixel centre from the line through the centre region
    dist = (xs - (width - 1) / 2.0) * math.sin(theta) - (ys - (height - 1) / 2.0) * math.cos(theta) - impact
    for b in bands:
        sigma_px = max(float(fwhm[b]) / 2.3548 / scale, 0.5)
        out[b] += (peak * sky[b] * np.exp(-0.5 * (dist / sigma_px) ** 2)).astype(np.float32)


def _bleed_trail(
    out: np.ndarray, mask: np.ndarray, gen: np.random.Generator, sat: np.ndarray, cfg: DefectConfig
) -> None:
    _, height, width = out.shape
    w = int(gen.integers(cfg.bleed_width_range[0], cfg.bleed_width_range[1] + 1))
    w = min(w, width)
    x0 = int(gen.integers(0, width - w + 1))
    length = max(1, min(height, int(round(gen.uniform(*cfg.bleed_length_range) * height))))
    y0 = int(gen.integers(0, height - length + 1))
    for b in range(_N_BANDS):
        out[b, y0 : y0 + length, x0 : x0 + w] = sat[b]
    mask[y0 : y0 + length, x0 : x0 + w] = True


def _chip_edge(out: np.ndarray, mask: np.ndarray, gen: np.random.Generator, cfg: DefectConfig) -> None:
    _, height, width = out.shape
    side = int(gen.integers(4))  # 0 top rows, 1 bottom rows, 2 left columns, 3 right columns
    extent = height if side < 2 else width
    depth = max(1, min(extent - 1, int(round(gen.uniform(*cfg.chip_edge_depth_range) * extent))))
    region = np.zeros((height, width), dtype=bool)
    if side == 0:
        region[:depth, :] = True
    elif side == 1:
        region[height - depth :, :] = True
    elif side == 2:
        region[:, :depth] = True
    else:
        region[:, width - depth :] = True
    out[:, region] = 0.0
    mask |= region


def plant_defect(
    image: np.ndarray,
    kind: str,
    rng: np.random.Generator | int,
    *,
    pixel_scale: float,
    psf_fwhm: Any,
    sky_sigma: Any,
    saturation: Any,
    config: DefectConfig | None = None,
    star: StarSpec | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Plant one defect in a copy of a simulated image.

    Parameters
    ----------
    image : numpy.ndarray, shape (3, H, W)
        g, r, z image after sky noise, in nanomaggies per reference pixel
        (see the module documentation); not modified.
    kind : str
        ``"none"`` (returns a float32 copy and an empty mask) or one of
        :data:`DEFECT_KINDS`.
    rng : numpy.random.Generator or int
        Source of randomness (an int is a seed).
    pixel_scale : float
        Arcsec per pixel of ``image``.
    psf_fwhm : float or 3 floats
        PSF FWHM in arcsec per band (g, r, z).
    sky_sigma : float or 3 floats
        Sky noise per pixel of ``image`` per band, same units as ``image``.
    saturation : float or 3 floats
        Saturation level per band, same units as ``image``.
    config : DefectConfig, optional
        Shapes and ranges; default ``DefectConfig()``.
    star : StarSpec, optional
        For ``"bright_star"``: the star to draw (e.g. the same sky star in
        a second survey); default one drawn with :func:`sample_star`.

    Returns
    -------
    image : numpy.ndarray, float32, shape (3, H, W)
        The image with the defect.
    mask : numpy.ndarray, bool, shape (H, W)
        True where pixels are invalid: saturated star cores and bleed
        trails, a chip edge's blank region, every pixel when a band is
        missing.

    Raises
    ------
    GalvaeValueError
        If ``kind`` is unknown or an argument has the wrong shape or value.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> img = rng.normal(0, 0.005, (3, 64, 64)).astype(np.float32)
    >>> out, mask = plant_defect(img, "chip_edge", rng, pixel_scale=0.262,
    ...                          psf_fwhm=(1.29, 1.18, 1.11), sky_sigma=0.005, saturation=100.0)
    >>> bool(mask.any())
    True
    """
    cfg = _config(config)
    if not isinstance(kind, str) or kind not in DEFECT_KINDS + ("none",):
        raise GalvaeValueError("unknown defect kind", kind, ("none",) + DEFECT_KINDS)
    gen = as_rng(rng)
    out = _check_image(image)
    scale = check_float("pixel_scale (arcsec per pixel)", pixel_scale, minimum=0, inclusive=False)
    fwhm = _per_band(psf_fwhm, "psf_fwhm")
    sky = _per_band(sky_sigma, "sky_sigma", allow_zero=True)
    sat = _per_band(saturation, "saturation")
    mask = np.zeros(out.shape[1:], dtype=bool)
    if kind == "none":
        return out, mask
    if kind == "bright_star":
        if star is None:
            star = sample_star(gen, field_arcsec=min(out.shape[1:]) * scale, config=cfg)
        return add_star(out, star, pixel_scale=scale, psf_fwhm=fwhm, saturation=sat, rng=gen, config=cfg)
    if kind == "satellite_trail":
        _satellite_trail(out, gen, scale, fwhm, sky, cfg)
    elif kind == "missing_band":
        out[int(gen.integers(_N_BANDS))] = 0.0
        mask[:] = True
    elif kind == "bleed_trail":
        _bleed_trail(out, mask, gen, sat, cfg)
    else:
        _chip_edge(out, mask, gen, cfg)
    return out, mask
