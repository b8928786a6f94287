"""Survey configurations for the simulator: surveys are data, not code.

A :class:`SurveyConfig` holds one :class:`BandConfig` per band (g, r, z): the
pixel scale the survey serves its cutouts at, its native pixel scale, the PSF
model and FWHM (with per-galaxy scatter), the sky noise, the zero point, the
effective gain for the galaxy's own photon noise, and the saturation level.
Fluxes are in nanomaggies (AB zero point 22.5).

Built-in surveys (``get_survey(name)``):

``decals``
    Blanco/DECam, 0.262″ pixels; PSF FWHM g 1.29″, r 1.18″, z 1.11″ (Dey
    et al. 2019, AJ 157, 168, Table 1); depths g 24.25, r 23.7, z 23.0 for
    three passes (see "Depths" below), fewer passes for some galaxies, as in
    DR5 (see "Passes" below).
``bass_mzls``
    BASS (Bok/90Prime) g, r: native 0.454″ pixels, served resampled to
    0.262″, PSF FWHM ≈ 1.6″ / 1.5″, depths g 24.2, r 23.6 (BASS DR3 medians,
    Zou et al. 2019, ApJS 245, 4); MzLS (Mayall/Mosaic-3) z: 0.262″, FWHM
    ≈ 1.0″, depth 23.0 (Data Lab's MzLS page; Dey et al. 2019).

Depths.  Galaxy Zoo DECaLS showed DR5 coadds, whose depths per band are not
tabulated (legacysurvey.org/dr5 gives the passes, below).  Until simulator
revision 10 the DECaLS depths were those the finished survey reached, g 24.7,
r 23.9, z 23.0 (DR9 medians, NOIRLab Astro Data Lab's DECaLS page; with the
planning targets of Dey et al. Table 1, 24.0, 23.4, 22.5 for a 0.45″ galaxy,
the presented images carried twice the real border noise).  The real images'
sky measures the three bands' noise: the desaturation of the Galaxy Zoo
stretch makes the sky grey, and how far each band's mean level rises above
the zero-flux level grows with that band's noise against its softening
(``benchmarks/realism.md``, "DR5's depths").  Their sky's width (5.1 levels
of 255) and its g − r and z − r mean levels (+0.06, +0.83) are reproduced
with g 24.25, r 23.7 and z 23.0 (simulated 5.1, +0.03, +0.79; with the DR9
depths 4.8, −0.52, +1.31): g − r = 0.55 mag, against 0.6 in the survey's
design (Dey et al. Table 1), where DR9's deeper g (0.8) holds the later and
other programmes' exposures.

Filter systems.  BASS (90Prime g, r) and MzLS (Mosaic-3 z) do not share
DECam's bandpasses, and the Legacy Surveys keep each camera's own system (DR9
calibrates every camera to Pan-STARRS1 through its own colour terms; the
north's magnitudes are not transformed to DECam's).  A band's ``colour_term``
holds the coefficients c_k of ``m_band − m_DECam = Σ_k c_k (g − i)^k``: the
difference of the camera's and DECam's PS1 colour terms (legacypipe
``ps1cat.py``: ``ps1_to_decam``, ``ps1_to_90prime``, ``ps1_to_mosaic``,
"15 Nov 2018, desi.lbl.gov/trac/wiki/ImagingStandardBandpass"; there
``m_camera = m_PS1 + colourterm(g − i)``).  The built-in BASS+MzLS survey
gets, at the g − i = 1 of a typical galaxy, g 0.041, r 0.007 and
z −0.010 mag (redder galaxies more: 0.066, 0.020, −0.017 at g − i = 2).
Each simulated component (bulge, disc, bar, arms, companion, neighbours,
stars) gets its own correction from its own colour, with g − i taken as
(g − r) + ½ (r − z) (i lies midway between r and z in log λ), clipped to
0.4 ≤ g − i ≤ 2.7, the range of the stars the colour terms were fitted to.

Passes.  Galaxy Zoo DECaLS showed the DR5 coadds (and DR1/DR2 ones), made
while DECaLS was under way: of each band's DR5 footprint, 32 / 30 / 21 % (g /
r / z) had one pass, 28 / 27 / 25 % two and 40 / 44 / 53 % three or more
(:data:`DR5_PASS_FRACTIONS`; over the area with all three bands 39 % had one
pass in some band).  The built-in ``decals`` survey draws each galaxy's passes
per band from these fractions, the bands' quantiles correlated
(``SurveyConfig.pass_correlation`` = :data:`DR5_PASS_CORRELATION`, a
Gaussian copula) so that the joint areas are DR5's: ≥ 2 passes in every band
for 59 % of the galaxies (DR5 61 %), ≥ 3 for 30 % (30 %).  Until simulator
revision 10 one quantile served the three bands (68 % and 40 %); at these
depths it left the sky's colour (the outer annulus's g − r) varying between
images a third as widely as the real images' (interquartile range 0.27
against 0.71 levels of 255; with the copula 0.41, ``benchmarks/realism.md``).
n passes have ``sqrt(3 / n)`` times the full depth's sky noise and the galaxy's own
photon noise alike.  Without it the real images' sky noise was 15–20 % wider
than the simulated one, with a brighter tail (``benchmarks/realism.md``).
``bass_mzls`` stays at full depth (the paper's BASS+MzLS cutouts are from the
finished surveys).  ``BandConfig(pass_fractions=())`` turns it off.

Sky residuals.  A real coadd's background is not flat after sky subtraction:
the sky model's errors, scattered light and faint Galactic cirrus leave
smooth structure that pixel noise does not have (legacypipe's spline sky
follows nothing smaller than its 512-pixel, 134″ boxes).  In the real Galaxy Zoo
DECaLS images, with their sources masked, the border's sky smoothed by a
Gaussian of 8 pixels (of 128) keeps 0.083 of its unsmoothed spread (median;
interquartile range 0.063–0.120, r band), where simulator revision 10, pure
noise, kept 0.058 (0.050–0.066): the real sky has structure on scales of
arcseconds to the whole field, and its four border strips' median levels
differ by 2 levels of 255 (90th percentile 4) against 1 (2).  No published
amplitude of DR5's residuals was found, so ``SurveyConfig.sky_residual``
(a Gaussian random field per band, independent between bands; RMS per native
pixel ``sky_residual`` × the band's full-depth sky noise, coherence length
``sky_residual_scale_arcsec``) is fitted to those images:
:data:`DR5_SKY_RESIDUAL` = 0.1 at :data:`DR5_SKY_RESIDUAL_SCALE` = 60″ gives
0.091 (0.065–0.121) in r and matches g and z as well (0.084 / 0.094 against
the real 0.086 / 0.098), where 0.13 gave 0.102 (0.071–0.155) and a 120″
coherence 0.068 (0.058–0.088) (600 galaxies at 128 px against the 200 real
ones; ``benchmarks/realism.md``, "Sky residuals").  In surface brightness
that is an RMS of 28.0 / 27.4 / 26.6 mag arcsec⁻² in g / r / z.  Only the
built-in ``decals`` has it (nothing calibrates BASS+MzLS's); 0 turns it off.

Depth → sky noise.  A band's ``depth_mag`` is the 5σ limit for a galaxy of
half-light radius 0.45″; with the PSF approximated as a Gaussian, the
source's noise-equivalent area is ``NEA = 4π (σ_psf² + σ_gal²)`` with
``σ_gal = 0.45″ / 1.1774``, and the per-pixel sky noise on the native grid is
``σ_pix = F5 / (5 √(NEA / p²))`` where ``F5 = 10^(-0.4 (depth - 22.5))``
nanomaggies and ``p`` the native pixel scale.  For DECaLS this gives about
0.0044, 0.0078 and 0.015 nanomaggies per pixel in g, r, z (three passes).  A survey may give
``sky_sigma_nmgy`` directly instead.

A new survey is a TOML or JSON file (see :func:`load_survey`)::

    name = "sdss"
    description = "SDSS-like: 2.5 m, 0.396 arcsec pixels"
    [[bands]]
    name = "g"
    pixel_scale_arcsec = 0.396
    native_pixel_scale_arcsec = 0.396
    psf_fwhm_arcsec = 1.5
    depth_mag = 22.2
    [[bands]]
    ...                       # r, then z
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..config import BANDS, config_from_dict, config_to_dict
from ..errors import GalvaeFileError, GalvaeKeyError, GalvaeValueError

__all__ = [
    "BandConfig",
    "SurveyConfig",
    "DECALS",
    "BASS_MZLS",
    "SURVEYS",
    "get_survey",
    "load_survey",
    "resolve_survey",
    "GI_RANGE",
    "sky_sigma_from_depth",
    "DR5_PASS_FRACTIONS",
    "DR5_PASS_CORRELATION",
    "DR5_SKY_RESIDUAL",
    "DR5_SKY_RESIDUAL_SCALE",
    "FULL_DEPTH_PASSES",
    "colour_term_factors",
    "survey_to_dict",
]

#: g − i range of the PS1 stars the Legacy Surveys colour terms were fitted to; colours are clipped to it.
GI_RANGE = (0.4, 2.7)

#: Half-light radius (arcsec) of the galaxy the depths refer to (Dey et al. 2019).
DEPTH_GALAXY_HLR = 0.45

PsfModel = Literal["moffat", "kolmogorov", "gaussian"]


def sky_sigma_from_depth(depth_mag: float, psf_fwhm_arcsec: float, pixel_scale_arcsec: float) -> float:
    """Per-pixel sky noise (nanomaggies) for a 5σ galaxy depth; see the module docs."""
    f5 = 10.0 ** (-0.4 * (depth_mag - 22.5))
    sigma2 = (psf_fwhm_arcsec / 2.3548) ** 2 + (DEPTH_GALAXY_HLR / 1.1774) ** 2
    nea_pix = 4.0 * math.pi * sigma2 / pixel_scale_arcsec**2
    return f5 / (5.0 * math.sqrt(nea_pix))


#: Passes of the full depth (``BandConfig.depth_mag``): DECaLS, BASS and MzLS planned three (Dey et al. 2019).
FULL_DEPTH_PASSES = 3

#: DECaLS DR5's area with 1, 2 and 3 or more passes, per band, over that band's footprint (legacysurvey.org/dr5/
#: description: g 7107 / 4807 / 2808 deg² with >= 1 / 2 / 3 passes, r 7700 / 5406 / 3364, z 9972 / 7867 / 5333).
DR5_PASS_FRACTIONS: dict[str, tuple[float, float, float]] = {
    "g": (0.324, 0.281, 0.395),
    "r": (0.298, 0.265, 0.437),
    "z": (0.211, 0.254, 0.535),
}

#: Correlation of the bands' pass quantiles (``SurveyConfig.pass_correlation``) that gives DR5's joint three-band
#: areas from its per-band ones: with every band, ≥ 2 passes over 3931 / 6473 = 0.61 and ≥ 3 over 1930 / 6473 =
#: 0.30 of the area (legacysurvey.org/dr5/description); the copula gives 0.59 and 0.30 (independent bands 0.38 and
#: 0.09; one shared quantile 0.68 and 0.40).
DR5_PASS_CORRELATION = 0.83

#: RMS of the DECaLS DR5 coadds' sky-subtraction residual per native pixel, in units of each band's full-depth sky
#: noise (``SurveyConfig.sky_residual``), with a coherence length of :data:`DR5_SKY_RESIDUAL_SCALE` arcsec: fitted to
#: the real Galaxy Zoo DECaLS images' large-scale sky power (module docs, "Sky residuals").
DR5_SKY_RESIDUAL = 0.1
#: Coherence length (arcsec) of :data:`DR5_SKY_RESIDUAL`.
DR5_SKY_RESIDUAL_SCALE = 60.0


@dataclass(frozen=True)
class BandConfig:
    """One band of a survey.

    Parameters
    ----------
    name : {"g", "r", "z"}
    pixel_scale_arcsec : float, default 0.262
        Scale at which the survey serves cutouts.
    native_pixel_scale_arcsec : float, default 0.262
        Scale of the detector pixels; when it differs from the served scale
        the image is rendered and made noisy at the native scale, then
        resampled (so its noise is correlated, as in real resampled data).
    psf_fwhm_arcsec : float, default 1.2
        Median PSF FWHM.
    psf_fwhm_scatter : float, default 0.08
        Per-galaxy log-normal scatter of the FWHM (sigma of ln FWHM).
    psf_model : {"moffat", "kolmogorov", "gaussian"}, default "moffat"
    psf_beta : float, default 3.5
        Moffat β.
    depth_mag : float, default 23.5
        5σ depth for a 0.45″ exponential galaxy (AB); sets the sky noise.
    sky_sigma_nmgy : float or None, default None
        Per native pixel sky noise, overriding ``depth_mag`` when given.
    zero_point : float, default 22.5
        AB magnitude of one image unit (22.5: nanomaggies).
    gain : float, default 3000
        Effective electrons per nanomaggy of the coadd, for the galaxy's own
        Poisson noise.
    saturation_nmgy : float, default 150
        Saturation level per served pixel (used by planted bright stars).
    colour_term : tuple of float, default ()
        Coefficients c_0, c_1, ... (at most 4) of the difference between
        this band's magnitudes and DECam's, ``m − m_DECam = Σ c_k (g − i)^k``;
        empty for the DECam system.  See the module docs.
    pass_fractions : tuple of 3 floats, default ()
        Fractions of the galaxies imaged in 1, 2 and 3 (or more) passes of
        the survey (summing to 1); ``depth_mag`` is the depth of 3 passes and
        n passes have ``sqrt(3 / n)`` times its sky noise.  Empty: every
        galaxy at full depth.  See the module docs ("Passes").
    """

    name: str
    pixel_scale_arcsec: float = 0.262
    native_pixel_scale_arcsec: float = 0.262
    psf_fwhm_arcsec: float = 1.2
    psf_fwhm_scatter: float = 0.08
    psf_model: PsfModel = "moffat"
    psf_beta: float = 3.5
    depth_mag: float = 23.5
    sky_sigma_nmgy: float | None = None
    zero_point: float = 22.5
    gain: float = 3000.0
    saturation_nmgy: float = 150.0
    colour_term: tuple[float, ...] = ()
    pass_fractions: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.name not in BANDS:
            raise GalvaeValueError("band name", self.name, BANDS)
        for attr in ("pixel_scale_arcsec", "native_pixel_scale_arcsec", "psf_fwhm_arcsec", "gain", "saturation_nmgy"):
            v = getattr(self, attr)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise GalvaeValueError(f"band {self.name}: {attr} must be a positive number", v)
        if not 0 <= self.psf_fwhm_scatter < 1:
            raise GalvaeValueError(f"band {self.name}: psf_fwhm_scatter must be in [0, 1)", self.psf_fwhm_scatter)
        if self.psf_model not in ("moffat", "kolmogorov", "gaussian"):
            raise GalvaeValueError(f"band {self.name}: psf_model", self.psf_model, ("moffat", "kolmogorov", "gaussian"))
        if self.psf_model == "moffat" and not self.psf_beta > 1.1:
            raise GalvaeValueError(f"band {self.name}: psf_beta must exceed 1.1", self.psf_beta)
        if self.sky_sigma_nmgy is not None and not self.sky_sigma_nmgy > 0:
            raise GalvaeValueError(f"band {self.name}: sky_sigma_nmgy must be positive", self.sky_sigma_nmgy)
        if not isinstance(self.colour_term, tuple | list) or len(self.colour_term) > 4:
            raise GalvaeValueError(
                f"band {self.name}: colour_term must be at most 4 polynomial coefficients in g - i", self.colour_term
            )
        if not all(isinstance(c, int | float) and math.isfinite(c) for c in self.colour_term):
            raise GalvaeValueError(
                f"band {self.name}: colour_term coefficients must be finite numbers", self.colour_term
            )
        if not math.isfinite(self.zero_point):
            raise GalvaeValueError(f"band {self.name}: zero_point must be a finite magnitude", self.zero_point)
        object.__setattr__(self, "colour_term", tuple(float(c) for c in self.colour_term))
        p = self.pass_fractions
        ok = isinstance(p, tuple | list) and len(p) in (0, FULL_DEPTH_PASSES)
        if ok and p:
            ok = all(isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in p)
            ok = ok and math.isclose(sum(p), 1.0, abs_tol=1e-6)
        if not ok:
            raise GalvaeValueError(
                f"band {self.name}: pass_fractions must be empty or the fractions of 1, 2 and 3 passes, "
                "non-negative and summing to 1",
                self.pass_fractions,
            )
        object.__setattr__(self, "pass_fractions", tuple(float(v) for v in p))

    def draw_passes(self, u: float) -> int:
        """The number of passes at quantile ``u`` in [0, 1) of :attr:`pass_fractions` (3 when it is empty)."""
        if not self.pass_fractions:
            return FULL_DEPTH_PASSES
        return min(int(np.searchsorted(np.cumsum(self.pass_fractions), u, side="right")) + 1, FULL_DEPTH_PASSES)

    @property
    def unit_nmgy(self) -> float:
        """Nanomaggies per image unit: ``10^(-0.4 (zero_point - 22.5))`` (1 for nanomaggies)."""
        return 10.0 ** (-0.4 * (self.zero_point - 22.5))

    def colour_term_mag(self, g_minus_i: Any) -> Any:
        """``m_band − m_DECam`` (mag) at colour(s) ``g − i`` (clipped to [0.4, 2.7]); 0 without a colour term."""
        gi = np.clip(np.asarray(g_minus_i, dtype=float), GI_RANGE[0], GI_RANGE[1])
        return sum(c * gi**k for k, c in enumerate(self.colour_term)) if self.colour_term else np.zeros_like(gi)

    @property
    def sky_sigma(self) -> float:
        """Sky noise per native pixel, nanomaggies."""
        if self.sky_sigma_nmgy is not None:
            return float(self.sky_sigma_nmgy)
        return sky_sigma_from_depth(self.depth_mag, self.psf_fwhm_arcsec, self.native_pixel_scale_arcsec)


@dataclass(frozen=True)
class SurveyConfig:
    """A survey: a name and one :class:`BandConfig` per band, in order g, r, z.

    ``pass_correlation`` (default 1) correlates the bands' numbers of passes (their
    :attr:`BandConfig.pass_fractions`) at one galaxy: each band's quantile is ``Φ(√ρ z₀ + √(1 − ρ) z_b)``
    with ``z₀`` shared by the bands (a Gaussian copula); 1 gives every band the same quantile, 0 draws
    the bands independently.  See the module docs ("Passes").

    ``sky_residual`` (default 0: none) adds to every band a smooth background left by the sky subtraction: a
    Gaussian random field, independent between bands, whose RMS per native pixel is ``sky_residual`` times the
    band's full-depth sky noise and whose covariance falls as ``exp(−r² / 2 L²)`` with
    ``L = sky_residual_scale_arcsec`` (default 60).  See the module docs ("Sky residuals").
    """

    name: str
    bands: tuple[BandConfig, BandConfig, BandConfig] = field(
        default_factory=lambda: tuple(BandConfig(b) for b in BANDS)  # type: ignore[return-value]
    )
    description: str = ""
    pass_correlation: float = 1.0
    sky_residual: float = 0.0
    sky_residual_scale_arcsec: float = DR5_SKY_RESIDUAL_SCALE

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "_-" for c in self.name):
            raise GalvaeValueError("survey name must be letters, digits, '_' or '-'", self.name)
        rho = self.pass_correlation
        if not (isinstance(rho, int | float) and math.isfinite(rho) and 0.0 <= rho <= 1.0):
            raise GalvaeValueError(f"survey {self.name}: pass_correlation must be in [0, 1]", rho)
        res, length = self.sky_residual, self.sky_residual_scale_arcsec
        if not (isinstance(res, int | float) and math.isfinite(res) and 0.0 <= res <= 10.0):
            raise GalvaeValueError(
                f"survey {self.name}: sky_residual must be in [0, 10] (times the sky noise per pixel)", res
            )
        if not (isinstance(length, int | float) and math.isfinite(length) and length > 0):
            raise GalvaeValueError(f"survey {self.name}: sky_residual_scale_arcsec must be positive", length)
        names = tuple(b.name for b in self.bands)
        if names != BANDS:
            raise GalvaeValueError(f"survey {self.name}: bands must be g, r, z in that order", names)

    def band(self, name: str) -> BandConfig:
        """The :class:`BandConfig` of band ``name``."""
        return self.bands[BANDS.index(name)]

    def at_passes(self, passes: Sequence[int]) -> SurveyConfig:
        """This survey where a galaxy's coadd holds ``passes`` (g, r, z) of :data:`FULL_DEPTH_PASSES` passes.

        Each band's sky noise is ``sqrt(FULL_DEPTH_PASSES / n)`` times its full depth's and its
        ``pass_fractions`` empty: what a galaxy drawn with those passes was imaged with.

        Raises
        ------
        GalvaeValueError
            If ``passes`` is not three integers in 1 .. FULL_DEPTH_PASSES.
        """
        n = list(passes)
        if len(n) != 3 or not all(isinstance(k, int | np.integer) and 1 <= k <= FULL_DEPTH_PASSES for k in n):
            raise GalvaeValueError(f"passes must be three integers in 1..{FULL_DEPTH_PASSES} (g, r, z)", passes)
        bands = tuple(
            dataclasses.replace(
                b, sky_sigma_nmgy=b.sky_sigma * math.sqrt(FULL_DEPTH_PASSES / int(k)), pass_fractions=()
            )
            for b, k in zip(self.bands, n, strict=True)
        )
        return dataclasses.replace(self, bands=bands)  # type: ignore[arg-type]


DECALS = SurveyConfig(
    name="decals",
    description="DECaLS-like (Blanco/DECam): 0.262 arcsec pixels (Dey et al. 2019)",
    bands=(
        BandConfig("g", psf_fwhm_arcsec=1.29, depth_mag=24.25, gain=3000.0, pass_fractions=DR5_PASS_FRACTIONS["g"]),
        BandConfig("r", psf_fwhm_arcsec=1.18, depth_mag=23.7, gain=3000.0, pass_fractions=DR5_PASS_FRACTIONS["r"]),
        BandConfig("z", psf_fwhm_arcsec=1.11, depth_mag=23.0, gain=3000.0, pass_fractions=DR5_PASS_FRACTIONS["z"]),
    ),
    pass_correlation=DR5_PASS_CORRELATION,
    sky_residual=DR5_SKY_RESIDUAL,
    sky_residual_scale_arcsec=DR5_SKY_RESIDUAL_SCALE,
)

#: m_camera − m_DECam colour terms in g − i: legacypipe ps1cat.py (15 Nov 2018), camera minus DECam.
_CT_90PRIME_G = (0.00464 - 0.00062, 0.08672 - 0.03604, -0.00668 - 0.01028, -0.00255 + 0.00613)
_CT_90PRIME_R = (0.00110 - 0.00495, -0.06875 + 0.08435, 0.02480 - 0.03222, -0.00855 + 0.01140)
_CT_MOSAIC_Z = (0.03664 - 0.02583, -0.11084 + 0.07690, 0.04477 - 0.02824, -0.01223 + 0.00898)

BASS_MZLS = SurveyConfig(
    name="bass_mzls",
    description="BASS (Bok/90Prime g, r: 0.454 arcsec native, served at 0.262) + MzLS (Mayall/Mosaic-3 z),"
    " each in its own filter system",
    bands=(
        BandConfig(
            "g",
            native_pixel_scale_arcsec=0.454,
            psf_fwhm_arcsec=1.6,
            depth_mag=24.2,
            gain=1500.0,
            colour_term=_CT_90PRIME_G,
        ),
        BandConfig(
            "r",
            native_pixel_scale_arcsec=0.454,
            psf_fwhm_arcsec=1.5,
            depth_mag=23.6,
            gain=1500.0,
            colour_term=_CT_90PRIME_R,
        ),
        BandConfig("z", psf_fwhm_arcsec=1.0, depth_mag=23.0, gain=2000.0, colour_term=_CT_MOSAIC_Z),
    ),
)

#: Built-in surveys by name.
SURVEYS: dict[str, SurveyConfig] = {s.name: s for s in (DECALS, BASS_MZLS)}


def colour_term_factors(survey: SurveyConfig, fluxes: Sequence[float] | np.ndarray) -> np.ndarray:
    """Factors turning g, r, z fluxes in DECam's system into ``survey``'s filter system.

    Parameters
    ----------
    survey : SurveyConfig
    fluxes : array_like, shape (3,) or (N, 3)
        g, r, z fluxes (nanomaggies, DECam system) of one source or N.

    Returns
    -------
    ndarray, shape like ``fluxes``
        ``10^(-0.4 colour_term(g − i))`` per band, each band's colour term at
        the source's g − i (see the module docs).  All ones for DECaLS.
    """
    f = np.asarray(fluxes, dtype=float)
    if f.shape[-1] != 3:
        raise GalvaeValueError("fluxes must have g, r, z as their last axis", f.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        gr = -2.5 * np.log10(f[..., 0] / f[..., 1])
        rz = -2.5 * np.log10(f[..., 1] / f[..., 2])
    gi = np.nan_to_num(gr + 0.5 * rz, nan=1.0, posinf=GI_RANGE[1], neginf=GI_RANGE[0])
    return np.stack([10.0 ** (-0.4 * b.colour_term_mag(gi)) for b in survey.bands], axis=-1)


def get_survey(name: str) -> SurveyConfig:
    """A built-in survey by name (``"decals"``, ``"bass_mzls"``)."""
    try:
        return SURVEYS[name]
    except KeyError:
        raise GalvaeKeyError("unknown survey", name, sorted(SURVEYS)) from None


def load_survey(path: str | os.PathLike[str]) -> SurveyConfig:
    """Read a survey from a TOML or JSON file (fields as :class:`SurveyConfig`).

    Raises
    ------
    GalvaeFileError
        If the file is missing or not valid TOML/JSON.
    GalvaeValueError
        If a field is unknown or a value is out of range.
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise GalvaeFileError(path, "survey file not found") from None
    try:
        if path.suffix.lower() == ".json":
            data: Any = json.loads(text)
        else:
            data = tomllib.loads(text.decode("utf-8"))
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GalvaeFileError(path, f"not a valid survey file ({exc})") from None
    if not isinstance(data, dict) or "bands" not in data or len(data["bands"]) != 3:
        raise GalvaeFileError(path, "a survey file needs name and three [[bands]] tables (g, r, z)")
    try:
        return config_from_dict(SurveyConfig, data)
    except GalvaeValueError as exc:
        raise GalvaeFileError(path, str(exc)) from None


def resolve_survey(spec: str | os.PathLike[str] | SurveyConfig) -> SurveyConfig:
    """A SurveyConfig from itself, a built-in name, or a TOML/JSON file path."""
    if isinstance(spec, SurveyConfig):
        return spec
    text = os.fspath(spec)
    if text in SURVEYS:
        return SURVEYS[text]
    if text.lower().endswith((".toml", ".json")):
        return load_survey(text)
    raise GalvaeKeyError("unknown survey (give a built-in name or a .toml/.json file)", text, sorted(SURVEYS))


def survey_to_dict(survey: SurveyConfig) -> dict[str, Any]:
    """JSON-ready dict of a survey, with each band's derived sky noise."""
    d = config_to_dict(survey)
    for band, b in zip(d["bands"], survey.bands, strict=True):
        band["sky_sigma_nmgy_derived"] = b.sky_sigma
    return d
