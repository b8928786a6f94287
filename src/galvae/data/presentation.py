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

    Galaxy Zoo's own JPEG/PNG files are already in this presentation
    (8-bit), so a store ingested from them with ``profile="gz-decals"`` and
    a store simulated or ingested from FITS in this profile hold the same
    kind of pixels, and a model trained on one applies to the other.

The profile name is a store attribute (``profile``) and part of an exported
model's preprocessing; :func:`check_same_presentation` is the one rule that
decides whether two of them can be combined.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..config import StretchConfig, config_to_dict
from ..errors import GalvaeValueError

__all__ = [
    "PROFILES",
    "GZ_DECALS_PIXELS",
    "GZ_DECALS_STRETCH",
    "gz_decals_pixel_scale",
    "gz_decals_field",
    "petrosian_radii",
    "profile_stretch",
    "check_profile",
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


def check_profile(profile: str) -> str:
    """Return ``profile`` if it names a profile, else raise :class:`GalvaeValueError`."""
    if profile not in PROFILES:
        raise GalvaeValueError("presentation profile", profile, PROFILES)
    return profile


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
    yy, xx = np.indices(img.shape)
    r = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2).ravel()
    order = np.argsort(r)
    r_sorted = r[order]
    cum = np.cumsum(img.ravel()[order])
    r_max = min(h, w) / 2 - 1

    def flux_within(radius: NDArray) -> NDArray:
        return np.interp(radius, r_sorted, cum)

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
    what_a: str, norm_a: StretchConfig, profile_a: str, what_b: str, norm_b: StretchConfig, profile_b: str
) -> None:
    """Raise unless two stores (or a store and a model) hold the same kind of pixels.

    Two ``gz-decals`` sources match whatever their stretch record says (a
    stretched flux store and an 8-bit Galaxy Zoo composite hold the same
    presentation); otherwise the profiles and the stretches must be equal.

    Raises
    ------
    GalvaeValueError
        Naming both sources, their profiles and stretches.
    """
    if profile_a == profile_b == "gz-decals":
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
