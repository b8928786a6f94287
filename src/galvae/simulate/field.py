"""Neighbouring sources in a simulated cutout: foreground stars and background galaxies.

Real Galaxy Zoo DECaLS cutouts are not masked: every 424-pixel image holds
the stars and faint galaxies that happen to lie in its field (tens of them
in a 1-2′ field at the Legacy Surveys' depth).  :func:`neighbour_profiles`
draws them for one field and returns GalSim profiles with g, r, z fluxes in
the form of :func:`galvae.simulate.render.galaxy_profiles`, so that
:func:`~galvae.simulate.render.render_galaxy` adds them to the same sum and
convolves them with the same PSF in every band.

Sources and choices
-------------------
* **Galaxy counts**: differential r-band counts
  ``dN/dm = 1000 × 10^(0.45 (r − 20))`` per deg² per mag (≈ 1000 at r = 20,
  ≈ 8000 at r = 22; SDSS counts, Yasuda et al. 2001, AJ 122, 1104, and deep
  counts, Metcalfe et al. 2001, MNRAS 323, 795), drawn for r = 16-23.5 (the
  DECaLS r depth is ≈ 23.4 for a point source) and, more cheaply, to r = 26
  (below).  Half-light radii 0.9″ × 10^(−0.15 (r − 20)) with
  0.35 ln scatter (faint galaxies are small: ≈ 0.5″ at r = 22), clipped to
  0.15-4″; exponential discs (70 %) or de Vaucouleurs (30 %), axis ratio
  0.3-1.  Colours g − r 0.4-1.6, r − z 0.3-1.1 (background galaxies at
  z 0.2-1 are redder in observed colours; correlated).
* **Faint galaxies**, r = 23.5-26: the counts continue from r = 23.5 with
  the flatter faint-end slope ``d log N / dm = 0.3`` (R band, Hogg et al.
  1997, MNRAS 288, 404: 0.3 to R ≈ 26, 6.3 × 10⁵ per deg² in all to R = 26;
  continuing this model's normalisation gives ≈ 2.9 × 10⁵ to r = 26, so
  this is if anything too few), i.e. ≈ 60-120 more sources in a 50-75″
  field.  Each is below the catalogue's 5σ depth, but the Galaxy Zoo
  DECaLS presentation shrinks a 160-500-pixel cutout to 128 pixels or
  fewer, which averages the pixel noise down by 1.3-4× while a PSF-sized
  source keeps its peak, so some pass a 5σ peak threshold there.
  Truncating at r = 23.5 (the catalogue depth) left the simulated images
  with a third of the real images' 5σ peaks (``benchmarks/realism.md``:
  5 against 14 per image; 7-8 with these, measured on 60 galaxies).  They
  are smaller than 0.3″ (half-light radius as above), so they are drawn
  as point sources.
* **Star counts** at high Galactic latitude: cumulative
  ``N(<r) = 2900 × 10^(0.2 (r − 21))`` per deg², r = 13-23.  SDSS counts
  5.8 × 10⁵ stars brighter than g = 21 over 279 deg² at 49° < |b| < 64°
  (Chen et al. 2001, ApJ 553, 184): 2080 per deg² to g = 21, i.e. ≈ 2900 to
  r = 21 for a median g − r ≈ 0.7 and this slope (Bahcall & Soneira 1980,
  ApJS 44, 73; the Besançon model, Robin et al. 2003, A&A 409, 523, for the
  slope).  800 per deg² (the Galactic pole's density), used before
  2026-12-05, left the simulated 128-pixel images with a third of the real
  Galaxy Zoo DECaLS images' brightest neighbours (≥ 50σ: 0.32 against 0.93
  per image; 0.81 with 2900, ``benchmarks/realism.md``).  Colours: g − r
  uniform 0.3-1.5 (turn-off stars to M dwarfs), r − z = 0.1 + 0.55 (g − r)
  (stellar locus; Ivezić et al. 2004, Covey et al. 2007).  Point sources.
* Positions uniform over the field (a neighbour may overlap the galaxy, as
  in real cutouts); counts Poisson with mean density × field area.
* **Companions: the galaxy's own group** (``host`` given to
  :func:`neighbour_profiles`).  Galaxies cluster: around a galaxy the
  density of others is ``n̄ (1 + ξ(r))``, so a cutout holds, besides the
  field counts above, ``n̄ ∫ w_p(r_p) dA`` physically associated
  galaxies, with the projected correlation function of a power-law
  ``ξ = (r / r₀)^-γ``, ``w_p(r_p) = r_p (r₀ / r_p)^γ Γ(½) Γ((γ − 1) / 2) /
  Γ(γ / 2)``; r₀ = 5 h⁻¹ Mpc, γ = 1.8 (SDSS Main-sample galaxies around
  L*, Zehavi et al. 2011, ApJ 736, 59).  ``n̄`` is the r-band luminosity
  function's density (Blanton et al. 2003, ApJ 592, 819: M* − 5 log h =
  −20.44, α = −1.05, φ* = 0.0149 h³ Mpc⁻³) from M − 5 log h = −23 to
  ``companion_faint_abs`` (−16, r ≈ 20.4 at z = 0.07) or the field
  galaxies' faint limit, at the galaxy's redshift (flat ΛCDM, H₀ = 70,
  Ωm = 0.3; no k-correction).  For a galaxy at z = 0.07 in a 60″ field
  this is ≈ 0.3 companions, 0.2 of them brighter than r ≈ 19.4, about as
  many as the field galaxies that bright.  (At 5-20 h⁻¹ kpc the power law
  gives 0.04 companions of −22 < M − 5 log h < −19 per galaxy, where
  Patton et al. 2000, ApJ 536, 153, count ≈ 0.02 (−21 < M_B < −18): the
  power law overshoots at the smallest separations, which the minimum
  separation below, ≈ 8-10 h⁻¹ kpc at z ≈ 0.07, mostly leaves out.)  Without them the simulated galaxies were less than half
  as asymmetric (CAS A, on the presented images) as the real Galaxy Zoo
  DECaLS ones, whose companions often sit inside or beside their outer
  isophotes (``benchmarks/realism.md``).  Projected separations
  follow ``w_p`` (surface density ∝ r_p^(1 − γ)), outside
  ``companion_min_sep_hlr`` = 2 half-light radii of the galaxy (closer
  pairs are the mergers and disturbances its own truth draws); magnitudes
  from the luminosity function (a companion may outshine the galaxy),
  half-light radius the galaxy's scaled at constant surface brightness
  (``hlr 10^(−0.2 Δm)``, as the merger companions), exponential (70 %) or
  de Vaucouleurs, colours of the red sequence or the blue cloud at the
  galaxy's redshift (half each).  **Off by default** (``companion_r0 = 0``;
  ``FieldConfig(companion_r0=5.0)``, ``galvae simulate --companions-r0
  5``): on 3000-galaxy stores they brought the asymmetry's KS from
  0.23-0.26 to 0.14-0.17 but the whole-image tests by 0.01-0.03 only
  (logistic), not at all (forest, CNN), while the default demo's Table 3
  lost 4 points of how-rounded for PCA-40 and 9 for the latents, whose
  likelihood spends capacity on the companions in the crop
  (``benchmarks/realism.md``, revision 9 tried).

Everything comes from one random stream, drawn from the galaxy-level stream
(:func:`neighbour_rng`), so every survey of an overlap galaxy sees the same
neighbours at the same sky positions with the same fluxes.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import galsim
import numpy as np
import scipy.fft
from numpy.typing import NDArray

from ..errors import GalvaeValueError

__all__ = [
    "FieldConfig",
    "Neighbours",
    "Source",
    "add_sources",
    "draw_companions",
    "draw_faint_galaxies",
    "draw_sources",
    "draw_neighbours",
    "expected_companions",
    "neighbour_profiles",
    "neighbour_rng",
]

log = logging.getLogger(__name__)

_GSP = galsim.GSParams(folding_threshold=1e-2, maxk_threshold=5e-3, maximum_fft_size=4096)
_DEG2_PER_ARCSEC2 = 1.0 / 3600.0**2
#: Point sources fainter than this (nanomaggies; r ≈ 16) are drawn together in Fourier space; brighter stars get
#: stamps wide enough for their wings.
_STAR_STAMP_FLUX = 400.0
#: Galaxies no larger than the PSF are drawn together per bin of these half-light radius edges (arcsec) ...
_SMALL_HLR_EDGES = np.array([0.3, 0.45, 0.6])
#: ... when fainter than this in the band (nanomaggies; r ≈ 20.7).
_SMALL_FLUX = 5.0
#: Half-light radius of an exponential profile in scale lengths.
_EXP_HLR_PER_SCALE = 1.6783469900166608
#: r-band luminosity function at z = 0.1 (Blanton et al. 2003, ApJ 592, 819): M* - 5 log h, alpha, phi* (h^3 Mpc^-3).
_LF_MSTAR, _LF_ALPHA, _LF_PHISTAR = -20.44, -1.05, 0.0149
#: Brightest companion drawn (M - 5 log h).
_LF_BRIGHT = -23.0
#: Hubble constant (km/s/Mpc) and matter density of the companions' distances; h = H0 / 100.
_H0, _OM = 70.0, 0.3


@dataclass(frozen=True)
class FieldConfig:
    """Densities and magnitudes of neighbouring sources (see the module docs for sources).

    Attributes
    ----------
    galaxy_dndm_at_20 : float
        Galaxies per deg² per mag at r = 20.
    galaxy_count_slope : float
        d log10(dN/dm) / dm.
    galaxy_mag_range : (float, float)
        r magnitudes drawn.
    star_n_at_21 : float
        Stars per deg² brighter than r = 21.
    star_count_slope : float
        d log10 N(<m) / dm.
    star_mag_range : (float, float)
    faint_galaxy_slope : float
        d log10(dN/dm) / dm of the galaxy counts fainter than ``galaxy_mag_range[1]``.
    faint_galaxy_limit : float
        Faintest r magnitude drawn (≤ ``galaxy_mag_range[1]`` draws no faint galaxies).
    companion_r0 : float
        Correlation length (comoving h⁻¹ Mpc) of the galaxy's companions: 0 (the default) draws none, 5 the
        SDSS Main-sample clustering (module docs, where the trade-off of turning them on is measured).
    companion_gamma : float
        Slope of their correlation function, in (1, 3).
    companion_faint_abs : float
        Faintest absolute r magnitude (M − 5 log h) of a companion.
    companion_min_sep_hlr : float
        Closest companion, in half-light radii of the galaxy.
    """

    galaxy_dndm_at_20: float = 1000.0
    galaxy_count_slope: float = 0.45
    galaxy_mag_range: tuple[float, float] = (16.0, 23.5)
    star_n_at_21: float = 2900.0
    star_count_slope: float = 0.2
    star_mag_range: tuple[float, float] = (13.0, 23.0)
    faint_galaxy_slope: float = 0.3
    faint_galaxy_limit: float = 26.0
    companion_r0: float = 0.0
    companion_gamma: float = 1.8
    companion_faint_abs: float = -16.0
    companion_min_sep_hlr: float = 2.0

    def __post_init__(self) -> None:
        for name in ("galaxy_dndm_at_20", "star_n_at_21"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise GalvaeValueError(f"FieldConfig.{name} must be a non-negative density", v)
        for name in ("galaxy_count_slope", "star_count_slope", "faint_galaxy_slope"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise GalvaeValueError(f"FieldConfig.{name} must be positive", v)
        if not (math.isfinite(self.companion_r0) and self.companion_r0 >= 0):
            raise GalvaeValueError(
                "FieldConfig.companion_r0 must be a non-negative length (h^-1 Mpc)", self.companion_r0
            )
        if not (math.isfinite(self.companion_gamma) and 1.0 < self.companion_gamma < 3.0):
            raise GalvaeValueError("FieldConfig.companion_gamma must be in (1, 3)", self.companion_gamma)
        if not (math.isfinite(self.companion_faint_abs) and _LF_BRIGHT < self.companion_faint_abs < 0):
            raise GalvaeValueError(
                f"FieldConfig.companion_faint_abs must be an absolute magnitude in ({_LF_BRIGHT}, 0)",
                self.companion_faint_abs,
            )
        if not (math.isfinite(self.companion_min_sep_hlr) and self.companion_min_sep_hlr >= 0):
            raise GalvaeValueError("FieldConfig.companion_min_sep_hlr must be >= 0", self.companion_min_sep_hlr)
        if not math.isfinite(self.faint_galaxy_limit):
            raise GalvaeValueError("FieldConfig.faint_galaxy_limit must be a finite magnitude", self.faint_galaxy_limit)
        for name in ("galaxy_mag_range", "star_mag_range"):
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise GalvaeValueError(f"FieldConfig.{name} must be (bright, faint)", getattr(self, name))

    def expected_faint_counts(self, area_deg2: float) -> float:
        """Mean number of faint galaxies (``galaxy_mag_range[1]`` to ``faint_galaxy_limit``) in ``area_deg2``."""
        brk = self.galaxy_mag_range[1]
        if not self.faint_galaxy_limit > brk:
            return 0.0
        at_break = self.galaxy_dndm_at_20 * 10 ** (self.galaxy_count_slope * (brk - 20))
        c = self.faint_galaxy_slope
        return at_break / (c * math.log(10)) * (10 ** (c * (self.faint_galaxy_limit - brk)) - 1.0) * area_deg2

    def expected_counts(self, area_deg2: float) -> tuple[float, float]:
        """Mean numbers of (galaxies, stars) in ``area_deg2``."""
        a, (lo, hi) = self.galaxy_count_slope, self.galaxy_mag_range
        n_gal = self.galaxy_dndm_at_20 / (a * math.log(10)) * (10 ** (a * (hi - 20)) - 10 ** (a * (lo - 20)))
        b, (slo, shi) = self.star_count_slope, self.star_mag_range
        n_star = self.star_n_at_21 * (10 ** (b * (shi - 21)) - 10 ** (b * (slo - 21)))
        return n_gal * area_deg2, n_star * area_deg2


@dataclass(frozen=True)
class Neighbours:
    """The neighbours of one field (positions in arcsec from the field centre, r magnitudes, colours)."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    mag_r: NDArray[np.float64]
    gr: NDArray[np.float64]
    rz: NDArray[np.float64]
    is_star: NDArray[np.bool_]
    hlr: NDArray[np.float64]
    q: NDArray[np.float64]
    beta_deg: NDArray[np.float64]
    sersic_n: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.x.size)


def neighbour_rng(galaxy_rng: np.random.Generator) -> np.random.Generator:
    """An independent stream for the neighbours, a function of ``galaxy_rng``'s state only.

    ``galaxy_rng`` itself is not advanced, so the galaxy's own shapes (knots,
    tails) do not change with the neighbours, and the neighbours do not
    change with which features the galaxy has (a render with and without a
    bar shows the same field).
    """
    bg = type(galaxy_rng.bit_generator)()
    bg.state = galaxy_rng.bit_generator.state
    if hasattr(bg, "jumped"):
        return np.random.Generator(bg.jumped())
    return np.random.Generator(type(bg)(int(np.random.Generator(bg).integers(2**63))))


def _inverse_power(rng: np.random.Generator, slope: float, lo: float, hi: float, k: int) -> NDArray:
    """k magnitudes with N(<m) ∝ 10^(slope m) on [lo, hi]."""
    a, b = 10 ** (slope * lo), 10 ** (slope * hi)
    return np.log10(a + rng.random(k) * (b - a)) / slope


def draw_neighbours(fov_arcsec: float, rng: np.random.Generator, config: FieldConfig | None = None) -> Neighbours:
    """Draw the stars and background galaxies of a square field ``fov_arcsec`` across.

    Parameters
    ----------
    fov_arcsec : float
        Side of the field.
    rng : numpy.random.Generator
        The neighbours' stream (see :func:`neighbour_rng`).
    config : FieldConfig, optional

    Returns
    -------
    Neighbours

    Raises
    ------
    GalvaeValueError
        If ``fov_arcsec`` is not positive and finite.
    """
    if not (math.isfinite(fov_arcsec) and fov_arcsec > 0):
        raise GalvaeValueError("fov_arcsec must be positive", fov_arcsec)
    cfg = FieldConfig() if config is None else config
    mean_gal, mean_star = cfg.expected_counts(fov_arcsec**2 * _DEG2_PER_ARCSEC2)
    n_gal, n_star = int(rng.poisson(mean_gal)), int(rng.poisson(mean_star))
    n = n_gal + n_star
    half = fov_arcsec / 2
    x, y = rng.uniform(-half, half, n), rng.uniform(-half, half, n)
    # galaxies: cumulative slope = differential slope for a power law
    mag_g = _inverse_power(rng, cfg.galaxy_count_slope, *cfg.galaxy_mag_range, n_gal)
    mag_s = _inverse_power(rng, cfg.star_count_slope, *cfg.star_mag_range, n_star)
    gr_g = rng.uniform(0.4, 1.6, n_gal)
    rz_g = np.clip(0.25 + 0.5 * gr_g + rng.normal(0, 0.1, n_gal), 0.2, 1.2)
    gr_s = rng.uniform(0.3, 1.5, n_star)
    rz_s = 0.1 + 0.55 * gr_s + rng.normal(0, 0.05, n_star)
    hlr = np.clip(0.9 * 10 ** (-0.15 * (mag_g - 20)) * np.exp(rng.normal(0, 0.35, n_gal)), 0.15, 4.0)
    return Neighbours(
        x=x,
        y=y,
        mag_r=np.concatenate([mag_g, mag_s]),
        gr=np.concatenate([gr_g, gr_s]),
        rz=np.concatenate([rz_g, rz_s]),
        is_star=np.concatenate([np.zeros(n_gal, bool), np.ones(n_star, bool)]),
        hlr=np.concatenate([hlr, np.zeros(n_star)]),
        q=np.concatenate([rng.uniform(0.3, 1.0, n_gal), np.ones(n_star)]),
        beta_deg=np.concatenate([rng.uniform(0, 180, n_gal), np.zeros(n_star)]),
        sersic_n=np.concatenate([np.where(rng.random(n_gal) < 0.7, 1.0, 4.0), np.zeros(n_star)]),
    )


def draw_faint_galaxies(
    fov_arcsec: float, rng: np.random.Generator, config: FieldConfig | None = None
) -> tuple[NDArray, NDArray, NDArray]:
    """Draw the galaxies fainter than the bright neighbours' limit, to ``faint_galaxy_limit``.

    Parameters
    ----------
    fov_arcsec : float
        Side of the field.
    rng : numpy.random.Generator
        The neighbours' stream, after :func:`draw_neighbours` (which it does not change).
    config : FieldConfig, optional

    Returns
    -------
    x, y : ndarray
        Positions (arcsec from the field centre).
    fluxes : ndarray, shape (n, 3)
        g, r, z fluxes (nanomaggies); colours as the bright galaxies'.

    Raises
    ------
    GalvaeValueError
        If ``fov_arcsec`` is not positive and finite.
    """
    if not (math.isfinite(fov_arcsec) and fov_arcsec > 0):
        raise GalvaeValueError("fov_arcsec must be positive", fov_arcsec)
    cfg = FieldConfig() if config is None else config
    n = int(rng.poisson(cfg.expected_faint_counts(fov_arcsec**2 * _DEG2_PER_ARCSEC2)))
    half = fov_arcsec / 2
    x, y = rng.uniform(-half, half, n), rng.uniform(-half, half, n)
    mag = _inverse_power(rng, cfg.faint_galaxy_slope, cfg.galaxy_mag_range[1], cfg.faint_galaxy_limit, n)
    gr = rng.uniform(0.4, 1.6, n)
    rz = np.clip(0.25 + 0.5 * gr + rng.normal(0, 0.1, n), 0.2, 1.2)
    f_r = 10 ** (-0.4 * (mag - 22.5))
    return x, y, f_r[:, None] * np.stack([10 ** (-0.4 * gr), np.ones(n), 10 ** (0.4 * rz)], axis=1)


def _luminosity_grid(cfg: FieldConfig, dist_mod: float) -> tuple[NDArray, NDArray] | None:
    """The companions' absolute magnitudes (M - 5 log h, bright to faint) and the Schechter function's cumulative
    density on them (h^3 Mpc^-3), to ``cfg.companion_faint_abs`` or the field galaxies' apparent limit at distance
    modulus ``dist_mod``; None when that limit is brighter than the brightest companion."""
    faint = min(cfg.companion_faint_abs, cfg.galaxy_mag_range[1] - dist_mod + 5 * math.log10(_H0 / 100.0))
    if faint <= _LF_BRIGHT:
        return None
    mags = np.linspace(_LF_BRIGHT, faint, 400)
    x = 10 ** (-0.4 * (mags - _LF_MSTAR))
    phi = 0.4 * math.log(10) * _LF_PHISTAR * x ** (_LF_ALPHA + 1) * np.exp(-x)
    return mags, np.concatenate([[0.0], np.cumsum(0.5 * (phi[1:] + phi[:-1]) * np.diff(mags))])


@functools.lru_cache(maxsize=1)
def _distance_table() -> tuple[NDArray, NDArray, NDArray]:
    """Redshifts 0.001-1 and their comoving transverse distance (h^-1 Mpc) and distance modulus (h = 0.7)."""
    from astropy.cosmology import FlatLambdaCDM

    cosmo = FlatLambdaCDM(H0=_H0, Om0=_OM)
    z = np.geomspace(1e-3, 1.0, 2000)
    return z, cosmo.comoving_transverse_distance(z).value * _H0 / 100.0, cosmo.distmod(z).value


def _distances(redshift: float) -> tuple[float, float]:
    """Comoving transverse distance (h^-1 Mpc) and distance modulus (for h = 0.7) at ``redshift`` (≤ 1).

    Interpolated in a table of astropy's flat ΛCDM (to 1e-6 relative); a galaxy's two calls cost microseconds.
    """
    z, d_m, mu = _distance_table()
    zz = min(max(float(redshift), z[0]), z[-1])
    return float(np.exp(np.interp(math.log(zz), np.log(z), np.log(d_m)))), float(np.interp(math.log(zz), np.log(z), mu))


def expected_companions(
    fov_arcsec: float, host_hlr_arcsec: float, redshift: float, config: FieldConfig | None = None
) -> float:
    """Mean number of the galaxy's companions (module docs) in a disc of radius ``fov_arcsec / √2``.

    The disc circumscribes the square field; :func:`draw_companions` keeps those that fall inside the square.
    """
    cfg = FieldConfig() if config is None else config
    if cfg.companion_r0 <= 0 or not redshift > 0:
        return 0.0
    d_m, dist_mod = _distances(redshift)
    grid = _luminosity_grid(cfg, dist_mod)
    if grid is None:
        return 0.0
    n_bar = float(grid[1][-1])
    g = cfg.companion_gamma
    amp = cfg.companion_r0**g * math.gamma(0.5) * math.gamma((g - 1) / 2) / math.gamma(g / 2)
    per_arcsec = d_m * math.pi / (180 * 3600)  # h^-1 Mpc per arcsec at the galaxy
    r_max = fov_arcsec / math.sqrt(2) * per_arcsec
    r_min = min(cfg.companion_min_sep_hlr * host_hlr_arcsec * per_arcsec, r_max)
    # n_bar * integral of w_p(r_p) 2 pi r_p dr_p with w_p = amp r_p^(1 - g)
    return n_bar * amp * 2 * math.pi / (3 - g) * (r_max ** (3 - g) - r_min ** (3 - g))


def draw_companions(
    fov_arcsec: float,
    rng: np.random.Generator,
    host_mag_r: float,
    host_hlr_arcsec: float,
    redshift: float,
    config: FieldConfig | None = None,
) -> Neighbours:
    """Draw the galaxies of the target's own group in its square field (module docs, "Companions").

    Parameters
    ----------
    fov_arcsec : float
        Side of the field.
    rng : numpy.random.Generator
        The neighbours' stream, after :func:`draw_neighbours` and :func:`draw_faint_galaxies`.
    host_mag_r, host_hlr_arcsec, redshift : float
        The galaxy's r magnitude, half-light radius (arcsec) and redshift.
    config : FieldConfig, optional

    Returns
    -------
    Neighbours
        Positions (arcsec from the galaxy), r magnitudes, colours and shapes; no stars.

    Raises
    ------
    GalvaeValueError
        If ``fov_arcsec`` or ``host_hlr_arcsec`` is not positive and finite.
    """
    for name, v in (("fov_arcsec", fov_arcsec), ("host_hlr_arcsec", host_hlr_arcsec)):
        if not (math.isfinite(v) and v > 0):
            raise GalvaeValueError(f"{name} must be positive", v)
    cfg = FieldConfig() if config is None else config
    mean = expected_companions(fov_arcsec, host_hlr_arcsec, redshift, cfg)
    n = int(rng.poisson(mean)) if mean > 0 else 0
    if n == 0:
        return _no_neighbours()
    dist_mod = _distances(redshift)[1]
    g = cfg.companion_gamma
    r_max = fov_arcsec / math.sqrt(2)
    r_min = min(cfg.companion_min_sep_hlr * host_hlr_arcsec, r_max)
    # radii with density r^(1 - g) per unit area, i.e. r^(2 - g) dr: inverse CDF of r^(3 - g)
    lo, hi = r_min ** (3 - g), r_max ** (3 - g)
    r = (lo + rng.random(n) * (hi - lo)) ** (1 / (3 - g))
    phi = rng.uniform(0, 2 * math.pi, n)
    x, y = r * np.cos(phi), r * np.sin(phi)
    mags, cdf = _luminosity_grid(cfg, dist_mod)  # not None: the mean count above is positive
    abs_mag = np.interp(rng.random(n) * cdf[-1], cdf, mags)
    mag_r = abs_mag + 5 * math.log10(_H0 / 100.0) + dist_mod
    red = rng.random(n) < 0.5
    gr = np.where(red, 0.80 + 1.0 * redshift, 0.60 + 0.8 * redshift) + rng.normal(0, 0.06, n)
    rz = np.where(red, 0.62, 0.47) + rng.normal(0, 0.06, n)
    hlr = np.clip(host_hlr_arcsec * 10 ** (-0.2 * (mag_r - host_mag_r)), 0.3, 4 * host_hlr_arcsec)
    q = rng.uniform(0.3, 1.0, n)
    beta = rng.uniform(0, 180, n)
    sersic = np.where(rng.random(n) < 0.7, 1.0, 4.0)
    inside = (np.abs(x) <= fov_arcsec / 2) & (np.abs(y) <= fov_arcsec / 2)
    return Neighbours(
        x=x[inside],
        y=y[inside],
        mag_r=mag_r[inside],
        gr=gr[inside],
        rz=rz[inside],
        is_star=np.zeros(int(inside.sum()), bool),
        hlr=hlr[inside],
        q=q[inside],
        beta_deg=beta[inside],
        sersic_n=sersic[inside],
    )


def _no_neighbours() -> Neighbours:
    e = np.zeros(0)
    return Neighbours(e, e, e, e, e, np.zeros(0, bool), e, e, e, e)


#: One neighbour: unit-flux profile centred on the origin, g, r, z fluxes (nanomaggies), (x, y, hlr) in arcsec.
Source = tuple[galsim.GSObject, NDArray, tuple[float, float, float]]


def neighbour_profiles(
    fov_arcsec: float,
    rng: np.random.Generator,
    config: FieldConfig | None = None,
    host: tuple[float, float, float] | None = None,
) -> list[Source]:
    """Unconvolved GalSim profiles of a field's neighbours, each with its g, r, z fluxes and position.

    Profiles have unit flux and are centred on the origin (stars and the
    faint galaxies of :func:`draw_faint_galaxies`, all smaller than 0.3″, as
    :class:`galsim.DeltaFunction`, the other galaxies as exponential or de
    Vaucouleurs profiles); the position and half-light radius (arcsec; 0 for
    point sources) say where and how large :func:`add_sources` draws them.
    With ``host`` = (r magnitude, half-light radius in arcsec, redshift) of
    the galaxy at the centre, its companions (:func:`draw_companions`) come
    last, drawn after the field's sources, which they leave as they were.
    """
    nb = draw_neighbours(fov_arcsec, rng, config)
    fx, fy, ffl = draw_faint_galaxies(fov_arcsec, rng, config)
    if host is not None:
        comp = draw_companions(fov_arcsec, rng, *host, config=config)
        nb = Neighbours(*(np.concatenate([getattr(nb, f.name), getattr(comp, f.name)]) for f in fields(Neighbours)))
    point = galsim.DeltaFunction(gsparams=_GSP)
    out: list[Source] = [(point, ffl[k], (float(fx[k]), float(fy[k]), 0.0)) for k in range(fx.size)]
    for i in range(len(nb)):
        f_r = 10 ** (-0.4 * (nb.mag_r[i] - 22.5))
        fluxes = f_r * np.array([10 ** (-0.4 * nb.gr[i]), 1.0, 10 ** (0.4 * nb.rz[i])])
        if nb.is_star[i]:
            prof: galsim.GSObject = galsim.DeltaFunction(gsparams=_GSP)
        elif nb.sersic_n[i] == 1.0:
            prof = galsim.Exponential(half_light_radius=nb.hlr[i], gsparams=_GSP)
        else:
            prof = galsim.DeVaucouleurs(half_light_radius=nb.hlr[i], trunc=8 * nb.hlr[i], gsparams=_GSP)
        if not nb.is_star[i]:
            prof = prof.shear(q=float(nb.q[i]), beta=float(nb.beta_deg[i]) * galsim.degrees)
        out.append((prof, fluxes, (float(nb.x[i]), float(nb.y[i]), float(nb.hlr[i]))))
    return out


def add_sources(image: galsim.Image, sources: list[Source], band: int, psf: galsim.GSObject, psf_fwhm: float) -> None:
    """Draw ``sources`` convolved with ``psf`` into ``image`` (band index ``band``).

    One band of :func:`draw_sources`; ``image`` has its true centre at the
    field centre.
    """
    centre = image.true_center
    image.array[:] += draw_sources(
        image.array.shape,
        image.scale,
        sources,
        [band],
        [psf],
        [psf_fwhm],
        centre=(centre.x - image.xmin, centre.y - image.ymin),
    )[0].astype(image.array.dtype)


def draw_sources(
    shape: tuple[int, int],
    scale: float,
    sources: list[Source],
    bands: Sequence[int],
    psfs: Sequence[galsim.GSObject],
    psf_fwhm: Sequence[float],
    *,
    centre: tuple[float, float] | None = None,
) -> NDArray[np.float64]:
    """The neighbours ``sources`` in several bands of one pixel grid, each convolved with its band's PSF.

    Most of a field's sources are fainter than the noise or no larger than
    the PSF, and are drawn together in Fourier space, with one inverse FFT
    per band, each placed exactly (its position a phase; all of a kind
    summed in one matrix product, the phases being separable in x and y and
    the same in every band):

    * point sources below ``_STAR_STAMP_FLUX`` (400 nanomaggies, r ≈ 16) in
      the band: stars and the faint galaxies of
      :func:`draw_faint_galaxies`, about a hundred in a 60-80″ field;
    * galaxies no larger than the PSF (half-light radius up to
      ``_SMALL_HLR_EDGES[-1]`` = 0.6″) and fainter than ``_SMALL_FLUX``
      (5 nanomaggies, r ≈ 20.7) in the band (three quarters of the other
      galaxies), per size bin (0.15-0.3″, 0.3-0.45″, 0.45-0.6″), as a round
      exponential of the bin's mean half-light radius: their
      flux, place and size (to the bin) are kept; their axis ratios and
      Sérsic indices, which a PSF as large as they are hides, are not;

    all through the band's PSF and the pixel response, on a grid padded so
    that nothing wraps round.  A source bright in one band only is drawn
    together with the others in the other bands.  The others (bright stars, whose wings show,
    and larger or brighter galaxies) get a stamp each (a few PSF widths plus
    a few half-light radii; 9 FWHM for bright stars), drawn by GalSim with
    the pixel response as for the galaxy.

    Parameters
    ----------
    shape : (int, int)
        Image rows and columns.
    scale : float
        Pixel scale (arcsec).
    sources : list of Source
        From :func:`neighbour_profiles`.
    bands : sequence of int
        Indices into each source's fluxes.
    psfs, psf_fwhm : sequences
        Each band's PSF (unit flux) and its FWHM (arcsec).
    centre : (float, float), optional
        Column and row (0-based, pixel centres at integers) of the field
        centre; default the image's centre, ``((w - 1) / 2, (h - 1) / 2)``.

    Returns
    -------
    ndarray, shape (len(bands), h, w)
        Flux per pixel.
    """
    h, w = shape
    nb = len(bands)
    out = np.zeros((nb, h, w))
    x0, y0 = ((w - 1) / 2, (h - 1) / 2) if centre is None else centre
    fwhm_max = max(psf_fwhm)
    half = max(15, 2 * int(math.ceil(3.0 * fwhm_max / scale)) + 1) // 2
    pad = half + int(math.ceil(5.0 * _SMALL_HLR_EDGES[-1] / scale)) + 2
    # sources placed in Fourier space, per kernel: 0 = the PSF (point sources), k >= 1 = small-galaxy bin k - 1
    placed: list[list[tuple[float, ...]]] = [[] for _ in range(len(_SMALL_HLR_EDGES) + 1)]
    stamp_image = galsim.ImageF(w, h, scale=scale)
    origin = stamp_image.true_center  # where the field centre would be for centre=None
    dx, dy = x0 - (w - 1) / 2, y0 - (h - 1) / 2
    for prof, fluxes, (x, y, hlr) in sources:
        f = np.clip(np.asarray(fluxes, dtype=np.float64)[list(bands)], 0.0, None)
        if not f.max() > 0:
            continue
        col, row = x0 + x / scale, y0 + y / scale
        # in each band, drawn together or on a stamp of its own
        if hlr == 0 and isinstance(prof, galsim.DeltaFunction):
            kind, together = 0, f < _STAR_STAMP_FLUX
        elif 0 < hlr <= _SMALL_HLR_EDGES[-1]:
            kind, together = 1 + int(np.searchsorted(_SMALL_HLR_EDGES, hlr)), f < _SMALL_FLUX
        else:
            kind, together = -1, np.zeros(nb, dtype=bool)
        if together.any():
            placed[kind].append((col + pad, row + pad, hlr, *np.where(together, f, 0.0)))
        if together.all():
            continue
        pos = galsim.PositionD(origin.x + dx + x / scale, origin.y + dy + y / scale)
        for j in np.flatnonzero(~together & (f > 0)):
            extent = 3.0 * psf_fwhm[j] + 5.0 * hlr + (6.0 * psf_fwhm[j] if f[j] > _STAR_STAMP_FLUX else 0.0)
            side = max(15, 2 * int(math.ceil(extent / scale)) + 1)
            stamp = (
                galsim.Convolve(prof, psfs[j], gsparams=_GSP)
                .withFlux(float(f[j]))
                .drawImage(nx=side, ny=side, scale=scale, center=pos)
            )
            overlap = stamp.bounds & stamp_image.bounds
            if overlap.isDefined():
                out[j, overlap.ymin - 1 : overlap.ymax, overlap.xmin - 1 : overlap.xmax] += stamp[overlap].array
    if not any(placed):
        return out
    n = scipy.fft.next_fast_len(max(h, w) + 2 * pad, real=True)
    n += n % 2  # even: the k grid's bounds are symmetric
    m = n // 2 + 1
    k_y = np.fft.fftfreq(n)  # cycles per pixel
    k_x = np.fft.rfftfreq(n)
    totals = np.zeros((nb, n, m), dtype=np.complex64)  # single precision: errors ~1e-6 of the brightest source
    for k, group in enumerate(placed):
        if not group:
            continue
        g = np.asarray(group)
        inside = (g[:, 0] > -pad) & (g[:, 0] < n - pad) & (g[:, 1] > -pad) & (g[:, 1] < n - pad)
        g = g[inside]  # the others' light cannot reach the image
        if not g.size:
            continue
        # single precision for the products (twice as fast; the sum of a hundred unit phases keeps ~1e-6)
        rows = _phases(g[:, 1], n).astype(np.complex64)
        cols = _phases(g[:, 0], n)[:, :m].astype(np.complex64)
        if k > 0:
            # a round exponential of the bin's mean half-light radius (the same in every band): (1 + (2 pi k r_s)^2)^-1.5
            r_s = float(g[:, 2].mean()) / _EXP_HLR_PER_SCALE / scale
            t = 1.0 + (2.0 * np.pi * r_s) ** 2 * (k_y[:, None] ** 2 + k_x[None, :] ** 2)
            profile = (1.0 / (t * np.sqrt(t))).astype(np.float32)
        for j in range(nb):
            # sum_i f_i exp(-2 pi i (ky row_i + kx col_i)): one matrix product
            term = (rows * g[:, 3 + j : 4 + j].astype(np.float32)).T @ cols
            totals[j] += term * profile if k > 0 else term
    # each band's PSF in Fourier space, with the pixel response
    kimage = galsim.ImageCD(galsim.BoundsI(0, n // 2, -n // 2, n // 2 - 1), scale=2 * math.pi / (n * scale))
    response = (np.sinc(k_y)[:, None] * np.sinc(k_x)[None, :]).astype(np.float32)
    for j in range(nb):
        psfs[j]._drawKImage(kimage)  # GalSim's documented fast path: these bounds, no recentring
        totals[j] *= np.fft.ifftshift(kimage.array, axes=0).astype(np.complex64)
        totals[j] *= response
        field = scipy.fft.irfft2(totals[j], s=(n, n))
        out[j] += field[pad : pad + h, pad : pad + w]
    return out


def _phases(pos: NDArray, n: int) -> NDArray:
    """exp(-2 pi i k pos) for the n frequencies of ``np.fft.fftfreq(n)`` (rows: positions in pixels)."""
    base = np.exp(-2j * np.pi * pos / n)[:, None]
    half = n // 2 + 1
    out = np.empty((pos.size, n), dtype=np.complex128)
    out[:, 0] = 1.0
    if half > 1:
        out[:, 1:half] = np.cumprod(np.broadcast_to(base, (pos.size, half - 1)), axis=1)
    # the negative frequencies -1 ... -(n - half): conjugates of the positive ones
    neg = n - half
    if neg:
        out[:, half:] = np.conj(out[:, neg:0:-1])
    if n % 2 == 0:  # the Nyquist frequency, +1/2 and -1/2 at once: a real signal's cosine
        out[:, n // 2] = out[:, n // 2].real
    return out
