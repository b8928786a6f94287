"""How visible each morphological feature of a simulated galaxy is in its presented image.

Galaxy Zoo volunteers classify what the image shows, not what the galaxy
is.  :func:`feature_visibility` measures, per galaxy and feature, how much
the feature changes the *presented* image (rendered, brought to S × S and
stretched, as the store holds it) compared with the presented image's
noise; :func:`galvae.simulate.votes.vote_fractions` turns it into the
chance that a volunteer recognises the feature.

Definition
----------
For a feature *f* the galaxy's truth row is copied with the feature taken
away (or, where absence is not a state, changed to the nearest other
answer) -- the *comparison* galaxy:

========== ==================================================================
feature    comparison galaxy
========== ==================================================================
``bar``    bar strength → 0 (its light goes back into the disc, as the
           renderer does for an unbarred disc)
``arms``   arm strength → 0 (the disc takes the arm light); also used for
           arm count and winding, which need the arms to be seen first
``bulge``  bulge-to-total ratio moved by ``bulge_step`` (0.15, about one
           bulge-size class; up where B/T < 0.5, else down)
``edge_on`` inclination flipped: a disc inclined ≥ ``edge_on_split_deg``
           (60°) is compared with the same disc face-on (0°), any other
           with it edge-on (90°) -- how well "edge-on: yes / no" can be told
``merger`` companion and tidal features removed
========== ==================================================================

Both galaxies are drawn noiselessly through the survey's PSF at the served
pixel scale on the field ``field_arcsec``, brought to S × S by
:func:`galvae.data.preprocess.crop_and_resize` and stretched by
:func:`galvae.data.preprocess.stretch` -- the steps a stored image goes
through.  With ``Δ_b`` the difference of the two presented images in band
*b*, the visibility is a signal-to-noise ratio::

    V_f = sqrt( Σ_b Σ_pixels (Δ_b / σ_b)² )

* ``σ_b`` is the presented sky noise, white-equivalent
  (:func:`presented_noise`): the band's sky sigma per served pixel (for a
  band resampled from coarser native pixels, the white noise with the same
  low-frequency power), times ``S / n`` where the image is brought from
  ``n`` to ``S < n`` pixels (a sum over the coarser pixels averages the sky
  as the finer ones do, whatever the resampling filter: the pixel-to-pixel
  sigma of a resized image is smaller, but its pixels are correlated),
  times the stretch's slope at the sky level, added in quadrature to the
  rounding noise of an 8-bit image (``1 / (255 √12)``; Galaxy Zoo's images
  are 8-bit).  Using the
  sky's slope everywhere means the stretch's compression of bright regions
  lowers a feature's visibility there, as it lowers its contrast on
  screen; a pixel clipped at 1 (a saturated core) shows no feature at all.
* where S is at least the ``n`` served pixels across the field (Galaxy
  Zoo's 424-pixel images of all but the largest galaxies), the sum runs on
  the served grid itself: upsampling adds no information and only
  correlates the noise, so V is the same for any S >= n.  It is computed on
  2 × 2 blocks of served pixels (σ halved), which carry the same S/N for
  patterns smoother than a pixel (V within 1 % on 150 galaxies, the arms'
  within 3.5 %) at a quarter of the drawing.  Where S < n the images are
  brought to S × S first, losing what the coarser pixels lose; for a mild
  shrink (n ≤ 2 S) by drawing straight on the S × S grid (V within 1 % of
  resizing the served pixels).
* the sum runs over every pixel: it is the matched-filter S/N of the
  feature's pattern, the most an observer could see.  Human observers reach
  roughly half of it (Burgess, Wagner, Jennings & Barlow 1981, Science 214,
  93), so the thresholds of the vote model lie well above the Rose
  criterion's 5.

A feature the galaxy does not have has ``V = 0`` exactly (bar strength 0,
no arms, no companion nor tidal features; a smooth galaxy has no bar, arms,
bulge or edge-on disc: 0).

Cost
----
Drawing is linear, so each distinct unit-flux component (bulge, disc, bar,
arm layer, companion, tidal layer) is drawn once per band and galaxies are
sums of components: the full galaxy, the comparison galaxies that only move
flux between components (bar, arms, bulge, merger) cost no extra drawing,
and the edge-on comparison redraws the disc, bar and arms.  Components
holding less than ``1e-9`` of the galaxy's flux are not drawn.  The default
draws the r band only (``bands=("r",)``): about 16 ms per galaxy for all
five features on a Galaxy Zoo DECaLS field.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import galsim
import numpy as np
from numpy.typing import NDArray

from .._validate import check_bool, check_float, check_int
from ..config import BANDS, StretchConfig
from ..data.preprocess import crop_and_resize
from ..data.preprocess import stretch as apply_stretch
from ..errors import GalvaeValueError
from . import render as _render
from .render import REFERENCE_PIXEL_SCALE, galaxy_profiles, make_psf, served_size
from .surveys import SurveyConfig

__all__ = [
    "VISIBILITY_FEATURES",
    "VisibilityConfig",
    "visibility_column",
    "feature_visibility",
    "presented_noise",
]

log = logging.getLogger(__name__)

#: Features whose visibility :func:`feature_visibility` measures.
VISIBILITY_FEATURES: tuple[str, ...] = ("bar", "arms", "bulge", "edge_on", "merger")

#: Standard deviation of the rounding error of an 8-bit image, in [0, 1] units.
_QUANTISATION_SIGMA = 1.0 / (255.0 * math.sqrt(12.0))
#: Strength given to a removed feature: keeps the galaxy-level random stream in step, adds no light.
_EPS = 1e-12
#: Components below this fraction of the galaxy's flux in a band are not drawn.
_TINY = 1e-9
#: Where the presented image is not resized, the components are drawn on blocks of this many served pixels a side ...
_BIN = 2
#: ... if that leaves at least this many across.
_MIN_BINNED = 48
#: A presented image up to this many times smaller than the served grid is drawn on its own pixels, not resized.
_MAX_DIRECT_SHRINK = 2.0


def visibility_column(feature: str) -> str:
    """Catalogue column of a feature's visibility, e.g. ``visibility_bar``."""
    if feature not in VISIBILITY_FEATURES:
        raise GalvaeValueError("visibility feature", feature, VISIBILITY_FEATURES)
    return f"visibility_{feature}"


@dataclass(frozen=True)
class VisibilityConfig:
    """How :func:`feature_visibility` measures (see the module documentation).

    Parameters
    ----------
    bands : tuple of str, default ("r",)
        Bands drawn and summed; ("g", "r", "z") triples the cost.
    bulge_step : float, default 0.15
        Change of the bulge-to-total ratio of the ``bulge`` comparison.
    edge_on_split_deg : float, default 60.0
        Discs at least this inclined are compared with their face-on twin,
        the others with their edge-on twin.
    quantisation : bool, default True
        Add 8-bit rounding noise to the presented noise.

    Raises
    ------
    GalvaeValueError
        On an unknown band or a value out of range.
    """

    bands: tuple[str, ...] = ("r",)
    bulge_step: float = 0.15
    edge_on_split_deg: float = 60.0
    quantisation: bool = True

    def __post_init__(self) -> None:
        bands = (self.bands,) if isinstance(self.bands, str) else tuple(self.bands)
        if not bands or any(b not in BANDS for b in bands) or len(set(bands)) != len(bands):
            raise GalvaeValueError("VisibilityConfig.bands must be distinct bands of g, r, z", self.bands)
        object.__setattr__(self, "bands", tuple(b for b in BANDS if b in bands))
        for name, low, high in (("bulge_step", 0.0, 0.5), ("edge_on_split_deg", 0.0, 90.0)):
            v = check_float(f"VisibilityConfig.{name}", getattr(self, name), minimum=low, maximum=high, inclusive=False)
            object.__setattr__(self, name, v)
        object.__setattr__(self, "quantisation", check_bool("VisibilityConfig.quantisation", self.quantisation))


# --------------------------------------------------------------------------- noise


@lru_cache(maxsize=256)
def _resize_noise_factor(n: int, size: int) -> float:
    """Factor by which crop_and_resize scales the sigma of white noise from n to size pixels."""
    noise = np.random.default_rng(12345).standard_normal((3, n, n)).astype(np.float32)
    out = crop_and_resize(noise, None, size)[0]
    m = max(1, size // 8)  # the edges are resampled with mode="edge"
    inner = out[:, m : size - m, m : size - m] if size > 2 * m + 2 else out
    return float(inner.std())


def _stretch_slope(norm: StretchConfig) -> NDArray[np.float64]:
    """d(stretched)/d(flux) of each band at flux 0, before clipping."""
    if norm.kind == "asinh":
        b = np.asarray(norm.softening, dtype=np.float64)
        m = np.asarray(norm.maximum, dtype=np.float64)
        return 1.0 / (b * (np.arcsinh(m / b) + np.arcsinh(norm.floor)))
    return np.full(3, 1.0 / 255.0 if norm.kind == "uint8" else 1.0)


def _sky_per_served_pixel(survey: SurveyConfig, per_pixel: bool) -> NDArray[np.float64]:
    """Sky sigma per served pixel, nanomaggies per reference pixel.

    ``per_pixel``: each pixel's own sigma, as :func:`render_galaxy` reports
    it.  Otherwise the *white-equivalent* sigma -- that of white noise with
    the same power at low spatial frequencies: a band resampled from coarser
    native pixels (BASS g, r) has correlated served pixels, and sums over
    many of them average down as the native pixels do, i.e. as white noise
    of ``sigma_native × served / native scale`` per served pixel.
    """
    scale = survey.bands[0].pixel_scale_arcsec
    to_ref = (REFERENCE_PIXEL_SCALE / scale) ** 2
    out = np.empty(3)
    for i, band in enumerate(survey.bands):
        ratio = (scale / band.native_pixel_scale_arcsec) ** 2
        if per_pixel:
            out[i] = band.sky_sigma * ratio * to_ref * (_render._NOISE_KEPT if ratio != 1 else 1.0)
        else:
            out[i] = band.sky_sigma * math.sqrt(ratio) * to_ref
    return out


def presented_noise(
    survey: SurveyConfig,
    *,
    field_arcsec: float,
    size: int,
    stretch: StretchConfig,
    quantisation: bool = True,
    per_pixel: bool = False,
) -> NDArray[np.float64]:
    """Per-band sigma of the sky noise in a presented (resized, stretched) image.

    Parameters
    ----------
    survey : SurveyConfig
    field_arcsec : float
        Field rendered (served at the survey's pixel scale).
    size : int
        Side S of the presented image.
    stretch : StretchConfig
    quantisation : bool, default True
        Add 8-bit rounding noise in quadrature.
    per_pixel : bool, default False
        False: the white-equivalent sigma the visibility uses -- sky noise
        averaged as it is over smooth features: ``sigma_white × min(1, S / n)``
        after a resize from ``n`` to ``S`` pixels, whatever the resampling
        filter.  True: the standard deviation of one presented pixel (the
        grain seen in the sky), measured once per ``(n, S)`` by passing
        white noise through :func:`~galvae.data.preprocess.crop_and_resize`;
        neighbouring pixels of a resized image are correlated, so summing
        ``(Δ / σ_pixel)²`` over them would overcount.

    Returns
    -------
    ndarray, shape (3,)
        g, r, z sigma in the presented image's [0, 1] units (the stretch's
        slope at the sky level times the flux sigma).
    """
    n = served_size(field_arcsec, survey.bands[0])
    size = int(size)
    if per_pixel:
        factor = _resize_noise_factor(n, size) if size < n else 1.0
    else:
        factor = min(1.0, size / n)
    sigma = _sky_per_served_pixel(survey, per_pixel) * factor * _stretch_slope(stretch)
    if quantisation:
        sigma = np.sqrt(sigma**2 + _QUANTISATION_SIGMA**2)
    return sigma


# --------------------------------------------------------------------------- drawing


class _Drawer:
    """Draws unit-flux components once per band and sums them into presented images."""

    def __init__(
        self,
        survey: SurveyConfig,
        field: float,
        size: int,
        norm: StretchConfig,
        bands: Sequence[int],
        psf_fwhm: NDArray | None,
    ) -> None:
        self.field = field
        self.size = size
        self.norm = norm
        self.bands = list(bands)
        self.band_cfg = survey.bands
        scale = survey.bands[0].pixel_scale_arcsec
        n = served_size(field, survey.bands[0])
        self.resize = False
        if size < n <= _MAX_DIRECT_SHRINK * size:
            # a mild shrink (Galaxy Zoo's 424 pixels for a field of 424-848 served ones): drawn straight on the
            # presented grid, each pixel integrating the served ones it covers; V within 1 % of drawing the
            # served pixels and resizing them, at half the cost (a stronger shrink's anti-aliasing blurs more)
            self.bin = 1
            self.scale = field / size
            self.n = size
        elif size < n:
            self.bin = 1
            self.scale = scale
            self.n = n
            self.resize = True
        else:
            # the sum runs on the served grid: 2 x 2 blocks of it carry the same S/N for any pattern smoother than
            # a pixel (a PSF is 4-5 native pixels across) at a quarter of the drawing cost
            self.bin = _BIN if n >= _BIN * _MIN_BINNED else 1
            self.scale = scale * self.bin
            self.n = -(-n // self.bin)
        self.to_ref = (REFERENCE_PIXEL_SCALE / self.scale) ** 2
        self.psf = {b: make_psf(survey.bands[b], None if psf_fwhm is None else float(psf_fwhm[b])) for b in self.bands}
        self.cache: dict[tuple[int, Any], NDArray] = {}

    def _component(self, b: int, prof: galsim.GSObject) -> NDArray:
        key = (b, prof)
        try:
            return self.cache[key]
        except (KeyError, TypeError):
            pass
        image = galsim.ImageF(self.n, self.n, scale=self.scale)
        galsim.Convolve(prof, self.psf[b], gsparams=_render._GSP).drawImage(image=image)
        arr = image.array.astype(np.float64) * self.to_ref
        try:
            self.cache[key] = arr
        except TypeError:  # an unhashable profile is drawn every time
            pass
        return arr

    def presented(self, profiles: list[tuple[galsim.GSObject, NDArray]]) -> NDArray:
        flux = np.zeros((3, self.n, self.n))
        for b in self.bands:
            total = sum(float(f[b]) for _, f in profiles)
            for prof, f in profiles:
                if f[b] > _TINY * total:
                    flux[b] += float(f[b]) * self._component(b, prof)
        if self.resize:
            flux = crop_and_resize(flux, None, self.size)[0]
        return apply_stretch(flux, self.norm).astype(np.float64)


# --------------------------------------------------------------------------- comparisons


#: Features whose comparison galaxy only moves light between the full galaxy's components.
_FLUX_ONLY = ("bar", "arms", "bulge", "merger")
#: Field (arcsec) on which a flux-only variant's layers are built: only its fluxes are used.
_SMALL_FIELD = 1.0


def _without_merger(row: Mapping[str, Any]) -> dict:
    """The galaxy alone: no companion, no tidal features (they are the last components drawn)."""
    alone = dict(row)
    alone["truth_companion_mag_r"] = math.nan
    alone["truth_tidal_strength"] = 0.0
    return alone


def _comparisons(row: Mapping[str, Any], cfg: VisibilityConfig, features: Sequence[str]) -> dict[str, dict | None]:
    """Comparison truth row per feature; None where the galaxy does not have the feature (V = 0).

    Removed features get a negligible strength rather than 0, so that the
    comparison galaxy has the same components, in the same order, as the
    full one (and the same galaxy-level random draws).  The ``edge_on``
    comparison is the flipped galaxy *without* companion and tidal features,
    to be set against the merger comparison (the same galaxy alone).
    """
    smooth = row["truth_smooth_or_featured"] == "smooth"
    out: dict[str, dict | None] = {}
    for f in features:
        alt = dict(row)
        if f == "bar":
            has = not smooth and _num(row, "truth_bar_strength") > 0
            alt["truth_bar_strength"] = _EPS
        elif f == "arms":
            has = not smooth and _num(row, "truth_arm_strength") > 0 and _num(row, "truth_n_arms") > 0
            alt["truth_arm_strength"] = _EPS
        elif f == "bulge":
            bt = _num(row, "truth_bulge_to_total")
            has = not smooth and math.isfinite(bt)
            alt["truth_bulge_to_total"] = bt + cfg.bulge_step if bt < 0.5 else bt - cfg.bulge_step
        elif f == "edge_on":
            incl = _num(row, "truth_inclination_deg")
            has = not smooth and math.isfinite(incl)
            alt = _without_merger(row)
            alt["truth_inclination_deg"] = 0.0 if incl >= cfg.edge_on_split_deg else 90.0
        else:  # merger
            comp = _num(row, "truth_companion_mag_r")
            has = math.isfinite(comp) or _num(row, "truth_tidal_strength") > 0
            if math.isfinite(comp):
                alt["truth_companion_mag_r"] = comp + 50.0  # same components and draws, no light
            if _num(row, "truth_tidal_strength") > 0:
                alt["truth_tidal_strength"] = _EPS
        out[f] = alt if has else None
    return out


def _same_structure(a: list[tuple[galsim.GSObject, NDArray]], b: list[tuple[galsim.GSObject, NDArray]]) -> bool:
    return len(a) == len(b) and all(type(pa) is type(pb) for (pa, _), (pb, _) in zip(a, b, strict=True))


def _num(row: Mapping[str, Any], col: str) -> float:
    v = row.get(col, math.nan)
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def feature_visibility(
    row: Mapping[str, Any],
    survey: SurveyConfig,
    *,
    field_arcsec: float,
    size: int,
    stretch: StretchConfig,
    galaxy_rng_seed: Any = 0,
    psf_fwhm: Sequence[float] | None = None,
    features: Sequence[str] = VISIBILITY_FEATURES,
    config: VisibilityConfig | None = None,
) -> dict[str, float]:
    """Signal-to-noise of each morphological feature in the galaxy's presented image.

    Parameters
    ----------
    row : mapping
        A truth row of :func:`~galvae.simulate.morphology.sample_truth`.
    survey : SurveyConfig
        The survey whose PSF, pixel scale and sky noise the image has.
    field_arcsec : float
        Field the galaxy is rendered on (``presentation_field(...).field_arcsec``).
    size : int
        Side S of the presented image: the store's size for what a model
        sees, :data:`galvae.data.presentation.GZ_DECALS_PIXELS` (424) for
        what Galaxy Zoo volunteers saw.
    stretch : StretchConfig
        The presentation's stretch (``profile_stretch(profile)``).
    galaxy_rng_seed : int, sequence of int or numpy.random.SeedSequence, default 0
        Seed of the galaxy-level stream (knots, tails, companion shape); the
        simulator's is ``[seed, index, 0, 0]`` (``np.random.SeedSequence``
        entropy), so the features measured are the ones rendered.
    psf_fwhm : sequence of 3 float, optional
        PSF FWHM per band (arcsec); default each band's median.
    features : sequence of str, default :data:`VISIBILITY_FEATURES`
    config : VisibilityConfig, optional

    Returns
    -------
    dict
        Feature name -> visibility V >= 0 (see the module documentation);
        0 where the galaxy does not have the feature.

    Raises
    ------
    GalvaeValueError
        On an unknown feature, a non-positive field or size, a bad seed or
        PSF list.
    """
    cfg = VisibilityConfig() if config is None else config
    if not isinstance(cfg, VisibilityConfig):
        raise GalvaeValueError("config must be a VisibilityConfig", type(cfg).__name__)
    feats = tuple(features)
    for f in feats:
        visibility_column(f)
    if not (isinstance(field_arcsec, int | float | np.floating) and math.isfinite(field_arcsec) and field_arcsec > 0):
        raise GalvaeValueError("field_arcsec must be a positive number", field_arcsec)
    size = check_int("size", size, minimum=1)
    if not isinstance(stretch, StretchConfig):
        raise GalvaeValueError("stretch must be a StretchConfig", type(stretch).__name__)
    if psf_fwhm is not None:
        psf_fwhm = np.asarray(psf_fwhm, dtype=np.float64)
        if psf_fwhm.shape != (3,) or not (np.isfinite(psf_fwhm).all() and (psf_fwhm > 0).all()):
            raise GalvaeValueError("psf_fwhm must be 3 positive numbers (g, r, z)", psf_fwhm.tolist())
    try:
        seed = (
            galaxy_rng_seed
            if isinstance(galaxy_rng_seed, np.random.SeedSequence)
            else np.random.SeedSequence(galaxy_rng_seed)
        )
    except (TypeError, ValueError):
        raise GalvaeValueError(
            "galaxy_rng_seed must be an int, a sequence of ints or a SeedSequence", galaxy_rng_seed
        ) from None

    field = float(field_arcsec)
    size = int(size)
    bands = [BANDS.index(b) for b in cfg.bands]
    drawer = _Drawer(survey, field, size, stretch, bands, psf_fwhm)
    # a block of bin x bin served pixels averages their white-equivalent noise (sky and rounding) down by bin
    sigma = (
        presented_noise(survey, field_arcsec=field, size=size, stretch=stretch, quantisation=cfg.quantisation)
        / drawer.bin
    )

    def profiles(r: Mapping[str, Any], fov: float = field) -> list[tuple[galsim.GSObject, NDArray]]:
        # a fresh generator from the same seed: every variant draws the same knots and tails
        return galaxy_profiles(r, fov, np.random.default_rng(seed))

    comparisons = _comparisons(row, cfg, feats)
    out = {f: 0.0 for f in feats}
    if all(c is None for c in comparisons.values()):
        return out
    full_profiles = profiles(row)
    full = drawer.presented(full_profiles)
    # the galaxy without companion and tidal features (itself when it has none)
    alone: NDArray | None = full if _comparisons(row, cfg, ("merger",))["merger"] is None else None
    for f in (f for f in _FLUX_ONLY + ("edge_on",) if comparisons.get(f) is not None):
        alt = comparisons[f]
        if f in _FLUX_ONLY:
            # only the fluxes change: take them from a variant built on a tiny field (cheap layers)
            with np.errstate(invalid="ignore", divide="ignore"):  # knots off the tiny grid: unused layers
                small = profiles(alt, _SMALL_FIELD)
            if _same_structure(small, full_profiles):
                variant = drawer.presented([(p, fl) for (p, _), (_, fl) in zip(full_profiles, small, strict=True)])
            else:  # a renderer whose structure changes with the feature: draw the variant itself
                variant = drawer.presented(profiles(alt))
            if f == "merger":
                alone = variant
            ref = full
        else:
            if alone is None:
                alone = drawer.presented(profiles(_without_merger(row)))
            ref, variant = alone, drawer.presented(profiles(alt))
        delta = ref - variant
        chi2 = sum(float(np.sum((delta[b] / sigma[b]) ** 2)) for b in bands)
        out[f] = math.sqrt(chi2)
    return out
