"""GalSim rendering of one simulated galaxy in the bands of one survey.

A galaxy (one row of :func:`galvae.simulate.morphology.sample_truth`) is a
sum of GalSim profiles, each with its own colour:

* **smooth galaxies**: a Sérsic profile (n 2.5-4.5) with the true axis ratio;
* **bulge**: a Sérsic profile; a *boxy* edge-on bulge is a
  :class:`galsim.Box` convolved with a Gaussian of a third of its size (a
  rounded rectangle), the usual look of a boxy/peanut bulge;
* **disc**: :class:`galsim.InclinedExponential` with the true inclination
  and thickness (scale height / scale radius), so edge-on discs are thin;
* **bar**: a flat, Ferrers-like bar (bars have flat major-axis profiles,
  Elmegreen & Elmegreen 1985, ApJ 288, 438; Ferrers profiles are the usual
  fit, e.g. Gadotti 2009): a rectangle of 2 × the bar half-length by
  axis ratio 0.25 convolved with a Gaussian of 0.15 half-lengths (a
  rounded box), in the disc plane, projected with the disc, in the
  bulge's colour (bars hold old stars).  A bar is made of the inner disc's
  stars, so it *gathers* the disc light inside it: the disc loses
  ``s (1 - (r / L)^8)`` of its surface brightness inside the half-length
  ``L`` (a negative numpy layer of the disc's own profile and colour; the
  disc stays non-negative since s <= 1) and the bar holds that light plus
  25 % × s of the disc's.  On a face-on disc of half-light radius 4″ with
  B/T 0.2 (r band, noiseless, DECaLS PSF) the bar's m = 2 Fourier amplitude
  A2max is 0.14-0.37 for weak bars (s 0.3-0.55, L 0.6-1.2 hlr; 0.06-0.28
  for the s 0.15-0.4 of revisions up to 11) and 0.20-0.59 for strong ones
  (s 0.55-1), with Bar/T 0.11-0.31 and 0.20-0.52; bars are detected at
  A2 ≳ 0.2 and strong ones have A2max ≳ 0.4 in the literature (Athanassoula & Misiriotis 2002, MNRAS 330, 35;
  Díaz-García et al. 2016, A&A 587, A160 for S4G), with Bar/T typically
  0.1 and up to ~0.3 (Gadotti 2009, MNRAS 393, 1531): the longest strong
  bars here are brighter than most.  Without the depletion (the bar only
  adding 25 % × s) strong bars reached A2max 0.14-0.22 and weak ones
  0.04-0.09, below detection (measured 2026-12-04), and no CNN could tell
  the bar classes apart (``benchmarks/visibility_ceiling.md``).  Bars
  with ansae (``truth_bar_ansae``; sources in
  :mod:`galvae.simulate.morphology`) move a fifth of the bar's light into
  two round Gaussians (σ = 0.12 L) at ±0.9 L along the bar, in the bar's
  colour: ansae are "symmetric enhancements at the ends of the stellar
  bar", round, linear or curved (Martinez-Valpuesta, Knapen & Buta 2007);
  the share and size are chosen to show at GZ DECaLS presentation, not
  literature values;
* **spiral arms and star-forming knots**: the disc light *redistributed*:
  the smooth disc keeps ``1 - arm strength`` of its light and a numpy
  image, made in the disc plane and projected, of ``m`` logarithmic arms of
  pitch angle ``p`` (``[(1 + cos(m (φ - ln(r / r_d) / tan p) + φ0)) / 2]^4``
  times an exponential disc of the disc's scale length with a central hole
  ``1 - exp(-(r / h)^p)`` out to h = 0.7 r_d, p = 2, in unbarred discs) holds
  the rest, 30 % of it in Gaussian knots along the arm ridges (weighted by
  the same envelope, so no knot sits in the hole), wrapped in
  :class:`galsim.InterpolatedImage`; with strengths 0.3-0.65 the
  arm-interarm contrast at the arms' peaks is 1-2.5 mag, as measured in
  optical images (Elmegreen et al. 2011, ApJ 737, 32).  In barred discs the
  arms leave the bar's ends, as in SB spirals (Sellwood & Wilkinson 1993,
  Rep. Prog. Phys. 56, 173; Buta et al. 2015, ApJS 217, 32): the hole reaches
  the bar's half-length L with a steep edge (p = 4, ``_BAR_ARM_CUT``) and the
  arms' phase puts a ridge through the bar's tip at r = L.  With the arms'
  phase random and the gentle hole, arms wound into the centre across the
  bar and hid it: a CNN trained on the truth of 8000 discs told strong bars
  from none at 0.80 (majority 0.68) on 64-px images, 0.86 with the arms
  from the bar's ends (``benchmarks/visibility_ceiling_discs8k*.md``);
* **lopsidedness** (discs not edge-on, ``truth_lopsided_a1``): the disc's
  light times ``1 + A1(r) cos(φ - φ1)`` in the disc plane, A1 rising
  linearly with radius to the drawn <A1/A0> at 2 r_d (sources in
  :mod:`galvae.simulate.morphology`): the smooth GalSim disc keeps
  ``1 - 1.25 <A1/A0>`` of its light and a numpy layer the rest, with the
  one-sided excess;
* **companion** (mergers, some major disturbances): a second Sérsic galaxy;
* **tidal tails** (two curved streams) or **shells** (arcs on alternate
  sides, for disturbed ellipticals): another numpy layer.

* **neighbours** (``neighbours=True``): stars and background galaxies of
  the field at realistic densities (:mod:`galvae.simulate.field`), drawn
  from a stream derived from the galaxy-level one, so both surveys of an
  overlap galaxy see them at the same positions; not masked, as in real
  Galaxy Zoo cutouts.

For each band the sum is convolved with the band's PSF (Moffat, Kolmogorov
or Gaussian, with per-galaxy FWHM scatter) and drawn with GalSim's default
method, which includes the pixel response, on the survey's native pixel
grid.  Noise is then added there: Gaussian sky noise of the band's sky sigma
and the galaxy's own Poisson noise (variance = flux / gain); then the sky a
pipeline would estimate from the neighbours and the noise
(:func:`pipeline_sky`) and from the galaxy's own faint outskirts, which
legacypipe's sky boxes take in (:func:`outskirts_sky`), is subtracted, as
every real cutout is sky-subtracted, and what the sky model leaves (a smooth
random background, ``SurveyConfig.sky_residual``; :func:`sky_residual_field`)
is added.  A band whose
native scale differs from the served one (BASS g, r: 0.454″ served at
0.262″) is then resampled with a Lanczos-3 interpolant, which correlates
its noise as in the real resampled cutouts.

Every component's g, r, z fluxes are first brought from DECam's filter
system to the survey's with the band's colour term at the component's own
colour (:func:`galvae.simulate.surveys.colour_term_factors`; BASS+MzLS has
them, DECaLS none), so a red bulge and a blue disc shift differently, as
they do between the Legacy Surveys' north and south.

Images come back in nanomaggies per *reference pixel* (0.262″): the flux
per served pixel times (0.262 / served scale)², i.e. a surface brightness in
the units of a DECaLS cutout, whatever the survey — divided by the band's
``unit_nmgy`` when its ``zero_point`` is not 22.5 (a survey whose image unit
is not the nanomaggie).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import galsim
import numpy as np
from numpy.typing import NDArray
from scipy import special

from ..config import BANDS
from ..errors import GalvaeValueError
from .field import FieldConfig, Source, draw_sources, neighbour_profiles, neighbour_rng
from .surveys import FULL_DEPTH_PASSES, BandConfig, SurveyConfig, colour_term_factors

__all__ = [
    "REFERENCE_PIXEL_SCALE",
    "RenderedGalaxy",
    "make_psf",
    "SKY_BOX_ARCSEC",
    "SKY_EXPOSURES",
    "SKY_MASK_SIGMA",
    "SKY_MASK_DILATION",
    "outskirts_sky",
    "pipeline_sky",
    "galaxy_profiles",
    "render_galaxy",
    "render_point_source",
    "served_size",
    "sky_residual_field",
]

#: Pixel scale (arcsec) whose surface-brightness units all images share.
REFERENCE_PIXEL_SCALE = 0.262
#: Side (arcsec) of the sky boxes of legacypipe's ``SplineSky``: 512 DECam / Mosaic-3 pixels (:func:`outskirts_sky`).
SKY_BOX_ARCSEC = 512 * 0.262
#: Exposures per band at full depth, whose single-exposure noise sets the sky mask (three passes; Dey et al. 2019).
SKY_EXPOSURES = FULL_DEPTH_PASSES
#: legacypipe's sky mask in the Galaxy Zoo DECaLS (DR5) era: pixels of one exposure above this many σ₁, ...
SKY_MASK_SIGMA = 5.0
#: ... grown by this many 4-connected dilations (``binary_dilation(masked, iterations=3)``).
SKY_MASK_DILATION = 3

_GSP = galsim.GSParams(folding_threshold=1e-2, maxk_threshold=5e-3, maximum_fft_size=4096)
_LAYER_OVERSAMPLE = 1  # numpy layers are made at REFERENCE_PIXEL_SCALE
#: Sérsic profiles are truncated at this many half-light radii (flux renormalised): keeps FFTs small.
_TRUNC = 6.0
#: Margin (arcsec) beyond _TRUNC half-light radii that numpy layers cover (knots, tails and shells have widths).
_LAYER_MARGIN = 2.0
#: Axis ratio of bars in the disc plane.
_BAR_Q = 0.25
#: Bar-to-disc light ratio per unit bar strength.
_BAR_FRACTION = 0.25
#: Share of the inner disc's light (inside the bar's half-length, tapered) that a bar of strength 1 takes.
_BAR_DEPLETION = 1.0
#: Power of the depletion taper, 1 - (r / L)^p: flat inside the bar, 0 at its end.
_BAR_TAPER = 8.0
#: Lopsidedness A1(r) stops growing at this multiple of its 1.5-2.5 r_d mean (:func:`_lopsided_layer`).
_LOPSIDED_CAP = 1.25

#: Steepness of the arms' inner cut at a bar's end: ``1 - exp(-(r / L)^p)``.
_BAR_ARM_CUT = 4.0
#: Ansae: share of the bar's light in the two blobs, their Gaussian sigma and distance from the centre (half-lengths).
_ANSAE_SHARE, _ANSA_SIGMA, _ANSA_AT = 0.2, 0.12, 0.9
#: Length of the bar box in half-lengths (the Gaussian rounding adds ~0.3 more).
_BAR_BOX = 2.0


def _lanczos_noise_factor(n: int = 3) -> float:
    """Phase-averaged ∑ K² of a Lanczos-n interpolant: the variance kept when white noise is resampled.

    A resampled pixel is ∑_j K(x - j) n_j over native pixels j (per axis), so
    its variance averaged over sub-pixel phases is σ² (∫K²)² in two
    dimensions; the standard deviation scales by ∫K² (0.893 for Lanczos-3).
    """
    x = np.linspace(-n, n, 6001)
    k = galsim.Lanczos(n).xval(x)
    return float(np.sum(k**2) * (x[1] - x[0]))


_NOISE_KEPT = _lanczos_noise_factor(3)


def sky_residual_field(rng: np.random.Generator, shape: tuple[int, int], length_px: float) -> NDArray[np.float32]:
    """A smooth background of unit RMS: a Gaussian random field with covariance ``exp(−r² / 2 L²)``.

    White noise on a grid of ``L / 4`` pixels (padded by ``4 L`` so that the edges are as smooth as the
    middle) is smoothed by a Gaussian of ``L / √2`` (which gives that covariance) and interpolated (cubic
    convolution, separably) onto the pixels; ``SurveyConfig.sky_residual`` scales it.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : tuple of int
        (H, W) pixels.
    length_px : float
        Coherence length L in pixels (> 0).

    Returns
    -------
    ndarray of float32, shape ``shape``
        Zero mean and unit variance over realisations at every pixel.
    """
    from scipy import ndimage

    if not (math.isfinite(length_px) and length_px > 0):
        raise GalvaeValueError("sky residual coherence length (pixels) must be positive", length_px)
    h, w = shape
    step = max(1.0, length_px / 4.0)
    pad = 16  # coarse pixels: 4 L on each side
    white = rng.standard_normal((int(math.ceil(h / step)) + 1 + 2 * pad, int(math.ceil(w / step)) + 1 + 2 * pad))
    sig = length_px / math.sqrt(2.0) / step
    # white noise smoothed by a Gaussian of sigma s has variance 1 / (4 pi s^2)
    smooth = ndimage.gaussian_filter(white, sig, mode="constant") * (math.sqrt(4.0 * math.pi) * sig)
    wy, wx = _cubic_matrix(h, smooth.shape[0], step, pad), _cubic_matrix(w, smooth.shape[1], step, pad)
    return (wy @ smooth.astype(np.float32) @ wx.T).astype(np.float32)  # separable: two small products


def _cubic_matrix(n_out: int, n_in: int, step: float, pad: int) -> NDArray[np.float32]:
    """(n_out, n_in) cubic-convolution weights (Keys, a = −0.5) placing pixel centres on a grid of ``step`` pixels."""
    p = pad + (np.arange(n_out) + 0.5) / step
    i0 = np.floor(p).astype(int)
    t = p - i0
    w = np.zeros((n_out, n_in), dtype=np.float32)
    rows = np.arange(n_out)
    for k in (-1, 0, 1, 2):
        x = np.abs(t - k)
        kern = np.where(x <= 1, (1.5 * x - 2.5) * x * x + 1, np.where(x < 2, ((-0.5 * x + 2.5) * x - 4) * x + 2, 0.0))
        w[rows, np.clip(i0 + k, 0, n_in - 1)] += kern
    return w


def served_size(fov_arcsec: float, band: BandConfig) -> int:
    """Pixels across the field of view at the band's served scale."""
    return max(8, int(round(fov_arcsec / band.pixel_scale_arcsec)))


def make_psf(band: BandConfig, fwhm: float | None = None) -> galsim.GSObject:
    """The band's PSF with FWHM ``fwhm`` (default the band's median), unit flux."""
    fwhm = band.psf_fwhm_arcsec if fwhm is None else float(fwhm)
    if band.psf_model == "moffat":
        return galsim.Moffat(beta=band.psf_beta, fwhm=fwhm, gsparams=_GSP)
    if band.psf_model == "kolmogorov":
        return galsim.Kolmogorov(fwhm=fwhm, gsparams=_GSP)
    return galsim.Gaussian(fwhm=fwhm, gsparams=_GSP)


def _colour_factors(gr: float, rz: float) -> NDArray:
    """Flux in g, r, z relative to r for colours g - r and r - z."""
    return np.array([10 ** (-0.4 * gr), 1.0, 10 ** (0.4 * rz)])


# --------------------------------------------------------------------------- numpy layers


def _grid(fov: float) -> tuple[NDArray, NDArray, float]:
    scale = REFERENCE_PIXEL_SCALE / _LAYER_OVERSAMPLE
    n = int(math.ceil(fov / scale / 2)) * 2 + 8
    c = (np.arange(n) - (n - 1) / 2) * scale
    x, y = np.meshgrid(c, c)
    return x, y, scale


def _disc_plane(row: Mapping[str, Any], fov: float) -> tuple[NDArray, NDArray, NDArray, NDArray, float, float]:
    """The layer grid (x, y; arcsec) and its coordinates in the galaxy's disc plane (u along the major axis, v).

    Returns ``(x, y, u, v, cos_i, scale)``: ``v`` is stretched by ``1 / cos i`` (cos i at least 0.05), so a
    radius ``hypot(u, v)`` is the disc-plane radius of each sky position.
    """
    x, y, scale = _grid(fov)
    pa = math.radians(row["truth_pa_deg"])
    cos_i = max(math.cos(math.radians(row["truth_inclination_deg"])), 0.05)
    u = x * math.cos(pa) + y * math.sin(pa)
    v = (-x * math.sin(pa) + y * math.cos(pa)) / cos_i
    return x, y, u, v, cos_i, scale


def _arms_layer(row: Mapping[str, Any], fov: float, rng: np.random.Generator) -> NDArray:
    x, y, u, v, cos_i, _ = _disc_plane(row, fov)
    pa = math.radians(row["truth_pa_deg"])
    r = np.hypot(u, v) + 1e-3
    phi = np.arctan2(v, u)
    rd = row["truth_hlr_arcsec"] / 1.678
    m = int(row["truth_n_arms"])
    tan_p = math.tan(math.radians(row["truth_arm_pitch_deg"]))
    phi0 = rng.uniform(0, 2 * math.pi)
    bar_len = float(row.get("truth_bar_length_arcsec", 0.0) or 0.0) if row.get("truth_bar_strength", 0) else 0.0
    if bar_len > 0:
        # the arms leave the bar's ends (SB spirals): an arm's ridge passes through the bar's tip at r = L
        bar_angle = math.radians(float(row.get("truth_bar_angle_deg", 0.0) or 0.0))
        phi0 = (-m * (bar_angle - math.log(bar_len / rd) / tan_p)) % (2 * math.pi)
    wave = 0.5 * (1 + np.cos(m * (phi - np.log(r / rd) / tan_p) + phi0))
    hole = max(0.7 * rd, bar_len)
    # inside a bar the arms are gone (a steep cut at its end); unbarred discs fade their arms in gently
    cut = _BAR_ARM_CUT if bar_len > 0 else 2.0
    envelope = np.exp(-r / rd) * (1 - np.exp(-((r / hole) ** cut)))
    arms = envelope * wave**4
    total = arms.sum()
    # star-forming knots on the arm ridges: 30 % of the arm light
    n_knots = int(rng.integers(6, 18))
    rk = rd * rng.uniform(0.6, 2.6, n_knots)
    arm_idx = rng.integers(0, m, n_knots)
    phik = (2 * math.pi * arm_idx - phi0) / m + np.log(rk / rd) / tan_p
    uk, vk = rk * np.cos(phik), rk * np.sin(phik) * cos_i
    xk = uk * math.cos(pa) - vk * math.sin(pa)
    yk = uk * math.sin(pa) + vk * math.cos(pa)
    sig = rng.uniform(0.15, 0.3, n_knots)
    wk = rng.uniform(0.5, 1.5, n_knots) * np.exp(-rk / rd) * (1 - np.exp(-((rk / hole) ** cut)))  # the arms' envelope
    wk = 0.3 * total * wk / wk.sum()
    # each knot on a window of ±5 sigma around it (the grid is uniform: x along axis 1, y along axis 0)
    c0, step, n = x[0, 0], x[0, 1] - x[0, 0], x.shape[0]
    for xi, yi, si, wi in zip(xk, yk, sig, wk, strict=True):
        w = int(math.ceil(5 * si / step))
        ix, iy = int(round((xi - c0) / step)), int(round((yi - c0) / step))
        sx, sy = slice(max(ix - w, 0), min(ix + w + 1, n)), slice(max(iy - w, 0), min(iy + w + 1, n))
        g = np.exp(-((x[sy, sx] - xi) ** 2 + (y[sy, sx] - yi) ** 2) / (2 * si**2))
        if g.size and g.sum() > 0:
            arms[sy, sx] += wi * g / g.sum()
    brk = _break_factor(row, r)
    return arms if brk is None else arms * brk  # the arms fade with the disc they lie in


def _bar_hole_layer(row: Mapping[str, Any], fov: float) -> tuple[NDArray, float]:
    """The inner disc light a bar gathers: the disc's profile inside the bar, tapered to 0 at its end.

    Returns the layer (sky grid, the disc's inclination) and its flux as a fraction of the disc's:
    ``exp(-r / r_d) (1 - (r / L)^p)`` (p = ``_BAR_TAPER``) for ``r < L`` in the disc plane, with the disc's face-on
    central surface brightness as unit, times the bar's strength and ``_BAR_DEPLETION``.
    """
    _, _, u, v, cos_i, scale = _disc_plane(row, fov)
    r = np.hypot(u, v)
    rd = float(row["truth_hlr_arcsec"]) / 1.678
    length = max(float(row["truth_bar_length_arcsec"]), 0.3)
    layer = np.exp(-r / rd) * np.clip(1.0 - (r / length) ** _BAR_TAPER, 0.0, None)
    # the layer's integral over the disc plane (sky area / cos i) against the disc's, 2 pi r_d^2
    share = float(layer.sum()) * scale**2 / cos_i / (2 * math.pi * rd**2)
    return layer, share * _BAR_DEPLETION * float(row["truth_bar_strength"])


def _lopsided_layer(row: Mapping[str, Any], fov: float, a1: float) -> NDArray:
    """The part of a lopsided disc drawn in numpy: ``exp(-r / r_d) [1.25 a1 + A1(r) cos(φ - φ1)]`` in the disc plane.

    ``A1(r) = a1 min(r / (2 r_d), 1.25)``: with the smooth disc's ``1 - 1.25 a1`` of the light the sum is the
    disc times ``1 + A1(r) cos(φ - φ1)``, positive everywhere, and the mean of A1 over 1.5-2.5 r_d is ``a1``.
    """
    _, _, u, v, _, _ = _disc_plane(row, fov)
    r = np.hypot(u, v)
    rd = float(row["truth_hlr_arcsec"]) / 1.678
    amp = a1 * np.minimum(r / (2.0 * rd), _LOPSIDED_CAP)
    phase = np.arctan2(v, u) - math.radians(float(row["truth_lopsided_angle_deg"]))
    brk = _break_factor(row, r)
    return np.exp(-r / rd) * (_LOPSIDED_CAP * a1 + amp * np.cos(phase)) * (1.0 if brk is None else brk)


#: Outer disc profile types with a break (``truth_disk_break``; Type I is one exponential).
_BROKEN = ("II", "III")


def _break_factor(row: Mapping[str, Any], r: NDArray) -> NDArray | None:
    """A broken disc's light over its inner exponential's at disc-plane radii ``r`` (None for an unbroken disc).

    1 inside the break radius, ``exp(-(r - r_b) (1 / h_out - 1 / h_in))`` beyond it: below 1 for a Type II
    (down-bending) disc, above 1 for a Type III (up-bending) one.
    """
    if row.get("truth_disk_break") not in _BROKEN:
        return None
    rb, ratio = float(row["truth_disk_break_radius_arcsec"]), float(row["truth_disk_outer_scale_ratio"])
    rd = float(row["truth_hlr_arcsec"]) / 1.678
    return np.exp(-np.clip(r - rb, 0.0, None) * (1.0 / ratio - 1.0) / rd)


def _break_layer(row: Mapping[str, Any], fov: float) -> tuple[NDArray, float]:
    """What a disc break takes from (Type II) or adds to (Type III) the exponential disc beyond its radius.

    Returns the layer ``exp(-r / r_d) |1 - B(r)|`` (B: :func:`_break_factor`; disc plane, face-on central surface
    brightness as unit) and its flux as a signed fraction of the unbroken disc's: positive when light is taken.
    """
    _, _, u, v, cos_i, scale = _disc_plane(row, fov)
    r = np.hypot(u, v)
    rd = float(row["truth_hlr_arcsec"]) / 1.678
    diff = np.exp(-r / rd) * (1.0 - _break_factor(row, r))
    share = float(diff.sum()) * scale**2 / cos_i / (2 * math.pi * rd**2)
    return np.abs(diff), share


def _ring_layer(row: Mapping[str, Any], fov: float) -> NDArray:
    """A Gaussian annulus in the disc plane (inclined with the disc), with a mild two-fold modulation."""
    _, _, u, v, _, _ = _disc_plane(row, fov)
    r = np.hypot(u, v)
    radius, width = float(row["truth_ring_radius_arcsec"]), float(row["truth_ring_width_arcsec"])
    bar_angle = math.radians(float(row.get("truth_bar_angle_deg", 0.0) or 0.0))
    # brighter along the bar's axis, as rings around bars often are
    modulation = 1.0 + 0.3 * np.cos(2.0 * (np.arctan2(v, u) - bar_angle))
    return np.exp(-0.5 * ((r - radius) / width) ** 2) * modulation


def _tidal_layer(row: Mapping[str, Any], fov: float, rng: np.random.Generator) -> NDArray:
    x, y, _ = _grid(fov)
    hlr = row["truth_hlr_arcsec"]
    r = np.hypot(x, y)
    theta = np.arctan2(y, x)
    if row.get("truth_shells", False):
        layer = np.zeros_like(x)
        axis = rng.uniform(0, 2 * math.pi)
        for j, radius in enumerate(hlr * np.array([1.6, 2.4, 3.3])):
            side = axis + (math.pi if j % 2 else 0.0)
            dth = np.angle(np.exp(1j * (theta - side)))
            layer += np.exp(-((r - radius) ** 2) / (2 * 0.25**2)) * np.exp(-((dth / 0.9) ** 2)) / (1 + j)
        return layer
    # two curved tails leaving opposite sides
    layer = np.zeros_like(x)
    theta0 = rng.uniform(0, 2 * math.pi)
    curl = rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.4)
    t = np.linspace(0.0, 1.0, 24)
    for side in (0.0, math.pi):
        rad = hlr * (0.8 + 3.0 * t)
        ang = theta0 + side + curl * t
        px, py = rad * np.cos(ang), rad * np.sin(ang)
        width = 0.35 + 0.5 * t
        weight = (1 - 0.7 * t) / width**2
        # each blob is separable on the uniform grid (x along axis 1, y along axis 0): an outer product of
        # two 1-D Gaussians, 8x faster than the 2-D exponential and equal to it to rounding
        c = x[0]
        for xi, yi, wi, wt in zip(px, py, width, weight, strict=True):
            layer += np.outer(wt * np.exp(-((c - yi) ** 2) / (2 * wi**2)), np.exp(-((c - xi) ** 2) / (2 * wi**2)))
    return layer


#: Zero padding of a numpy layer before GalSim takes its Fourier transform (GalSim's default is 4). A layer
#: covers the whole field and fades to nothing at its edges, so twice its size keeps the convolution's
#: wrap-around out of the image: over 60 gz-decals galaxies the stored pixels moved by at most 2.7e-5
#: (0.007 of an 8-bit level; 1.5 gave 2.4e-3) and the simulation ran 1.56x faster (11.3 -> 7.2 s).
_LAYER_PAD_FACTOR = 2.0


def _interp(layer: NDArray, flux: float) -> galsim.GSObject:
    scale = REFERENCE_PIXEL_SCALE / _LAYER_OVERSAMPLE
    img = galsim.ImageD(np.ascontiguousarray(layer, dtype=np.float64), scale=scale)
    return galsim.InterpolatedImage(
        img,
        flux=flux,
        gsparams=_GSP,
        calculate_stepk=False,
        calculate_maxk=False,
        x_interpolant="lanczos3",
        # cubic, not GalSim's default quintic, in k: with the 2x padding the drawn images move by at most 4e-5 of
        # their peak (2 % of the r-band sky sigma at worst, 40 gz-decals discs) and featured galaxies draw 1.3x faster
        k_interpolant="cubic",
        pad_factor=_LAYER_PAD_FACTOR,
    )


# --------------------------------------------------------------------------- profiles


def galaxy_profiles(
    row: Mapping[str, Any], fov_arcsec: float, rng: np.random.Generator
) -> list[tuple[galsim.GSObject, NDArray]]:
    """Unconvolved GalSim components of a galaxy, each with its g, r, z fluxes.

    Parameters
    ----------
    row : mapping
        One row of :func:`~galvae.simulate.morphology.sample_truth`.
    fov_arcsec : float
        Field of view; numpy layers (arms, tails) cover it, or the central
        ``2 (6 r_hl + 2″)`` of it where that is smaller.
    rng : numpy.random.Generator
        Galaxy-level randomness (knot positions, tail shapes): pass the same
        stream for every survey so that each sees the same galaxy.

    Returns
    -------
    list of (profile, fluxes)
        ``profile`` has unit flux; ``fluxes`` is (3,) nanomaggies in g, r, z.
    """
    f_r = 10 ** (-0.4 * (row["truth_mag_r"] - 22.5))
    pa = row["truth_pa_deg"] * galsim.degrees
    bulge_col = _colour_factors(row["truth_bulge_gr"], row["truth_bulge_rz"])
    disk_col = _colour_factors(row["truth_disk_gr"], row["truth_disk_rz"])
    arm_col = _colour_factors(row["truth_arm_gr"], row["truth_arm_rz"])
    n_s = float(row["truth_sersic_n"])
    # the numpy layers need cover no more than the disc (truncated at _TRUNC half-light radii) and the knots',
    # tails' and shells' widths: a Galaxy Zoo DECaLS field is ~17 of them across, so this draws half the pixels
    layer_fov = min(float(fov_arcsec), 2.0 * (_TRUNC * float(row["truth_hlr_arcsec"]) + _LAYER_MARGIN))
    out: list[tuple[galsim.GSObject, NDArray]] = []
    smooth = row["truth_smooth_or_featured"] == "smooth"
    if smooth:
        prof = galsim.Sersic(
            n=n_s, half_light_radius=row["truth_hlr_arcsec"], trunc=_TRUNC * row["truth_hlr_arcsec"], gsparams=_GSP
        )
        out.append((prof.shear(q=row["truth_axis_ratio"], beta=pa), f_r * bulge_col))
        main_col = bulge_col
    else:
        bt = float(row["truth_bulge_to_total"])
        bhlr = float(row["truth_bulge_hlr_arcsec"])
        if bt > 0:
            if row["truth_edge_on_bulge"] == "boxy":
                w = 2.2 * bhlr
                bulge = galsim.Convolve(
                    galsim.Box(width=w, height=w * row["truth_bulge_q"], gsparams=_GSP),
                    galsim.Gaussian(sigma=w / 3.0, gsparams=_GSP),
                ).rotate(pa)
            else:
                bulge = galsim.Sersic(n=n_s, half_light_radius=bhlr, trunc=_TRUNC * bhlr, gsparams=_GSP).shear(
                    q=row["truth_bulge_q"], beta=pa
                )
            out.append((bulge, f_r * bt * bulge_col))
        incl = min(float(row["truth_inclination_deg"]), 89.5)
        arm_frac = float(row["truth_arm_strength"])
        bar_frac = _BAR_FRACTION * float(row["truth_bar_strength"])
        ring_frac = float(row.get("truth_ring_strength", 0.0) or 0.0)
        smooth_disk = (1 - bt) * (1 - arm_frac - bar_frac)  # the ring takes its share of what is left
        disk_frac = smooth_disk * (1 - ring_frac)
        disk = galsim.InclinedExponential(
            inclination=incl * galsim.degrees,
            half_light_radius=row["truth_hlr_arcsec"],
            scale_h_over_r=float(row["truth_disk_thickness"]),
            gsparams=_GSP,
        ).rotate(pa)
        lopsided = float(row.get("truth_lopsided_a1", 0.0) or 0.0)
        lop_layer = _lopsided_layer(row, layer_fov, lopsided) if lopsided > 0 else None
        lop_frac = _LOPSIDED_CAP * lopsided if lop_layer is not None and lop_layer.sum() > 0 else 0.0
        brk_layer, brk_share = _break_layer(row, layer_fov) if row.get("truth_disk_break") in _BROKEN else (None, 0.0)
        if brk_layer is not None and brk_layer.sum() > 0 and abs(brk_share) < 0.9:
            # a broken disc: the exponential plus (Type III) or minus (Type II) what the break changes beyond its
            # radius, scaled so the disc keeps its light (the galaxy its magnitude)
            smooth_f = f_r * disk_frac * (1.0 - lop_frac) / (1.0 - brk_share)
            out.append((disk, smooth_f * disk_col))
            out.append((_interp(brk_layer, 1.0), -math.copysign(smooth_f * abs(brk_share), brk_share) * disk_col))
        else:
            out.append((disk, f_r * disk_frac * (1.0 - lop_frac) * disk_col))
        if lop_frac > 0:
            # a lopsided disc (m = 1): part of the disc's light drawn with the one-sided excess
            out.append((_interp(lop_layer, 1.0), f_r * disk_frac * lop_frac * disk_col))
        cos_i = math.cos(math.radians(incl))
        if bar_frac > 0:
            # the bar is made of the inner disc's stars: the disc inside it is depleted by what the bar gathers
            hole, hole_frac = _bar_hole_layer(row, layer_fov)
            hole_frac = min(hole_frac, 0.9) if hole.sum() > 0 else 0.0  # a cut-out may miss the bar
            if hole_frac > 0:
                out.append((_interp(hole, 1.0), -f_r * disk_frac * hole_frac * disk_col))
            half = max(float(row["truth_bar_length_arcsec"]), 0.3)
            bar = galsim.Convolve(
                galsim.Box(width=_BAR_BOX * half, height=_BAR_BOX * half * _BAR_Q, gsparams=_GSP),
                galsim.Gaussian(sigma=0.15 * half, gsparams=_GSP),
                gsparams=_GSP,
            )
            if isinstance(ansae := row.get("truth_bar_ansae"), bool | np.bool_) and ansae:
                # two blobs at the bar's ends take a share of its light
                ansa = galsim.Gaussian(sigma=_ANSA_SIGMA * half, gsparams=_GSP)
                bar = galsim.Add(
                    [
                        bar.withFlux(1.0 - _ANSAE_SHARE),
                        ansa.withFlux(_ANSAE_SHARE / 2).shift(_ANSA_AT * half, 0.0),
                        ansa.withFlux(_ANSAE_SHARE / 2).shift(-_ANSA_AT * half, 0.0),
                    ],
                    gsparams=_GSP,
                )
            bar = bar.rotate(row["truth_bar_angle_deg"] * galsim.degrees)
            bar = bar.transform(1.0, 0.0, 0.0, cos_i).rotate(pa)
            out.append((bar, f_r * ((1 - bt) * bar_frac + disk_frac * hole_frac) * bulge_col))
        if arm_frac > 0 and row["truth_n_arms"] > 0:
            layer = _arms_layer(row, layer_fov, rng)
            if layer.sum() > 0:  # a field smaller than the arms (e.g. a visibility cut-out) may hold none of them
                out.append((_interp(layer, 1.0), f_r * (1 - bt) * arm_frac * arm_col))
        if ring_frac > 0:
            layer = _ring_layer(row, layer_fov)
            if layer.sum() > 0:  # a ring outside a small field adds nothing
                out.append((_interp(layer, 1.0), f_r * smooth_disk * ring_frac * arm_col))
        main_col = disk_col
    if np.isfinite(row["truth_companion_mag_r"]):
        f_c = 10 ** (-0.4 * (row["truth_companion_mag_r"] - 22.5))
        hlr_c = row["truth_hlr_arcsec"] * 10 ** (-0.2 * (row["truth_companion_mag_r"] - row["truth_mag_r"]))
        ang = math.radians(row["truth_companion_angle_deg"])
        sep = row["truth_companion_sep_arcsec"]
        comp = galsim.Sersic(
            n=float(rng.choice([1.0, 2.0, 4.0])), half_light_radius=hlr_c, trunc=_TRUNC * hlr_c, gsparams=_GSP
        )
        comp = comp.shear(q=float(rng.uniform(0.5, 1.0)), beta=rng.uniform(0, 180) * galsim.degrees)
        out.append((comp.shift(sep * math.cos(ang), sep * math.sin(ang)), f_c * bulge_col))
    if row["truth_tidal_strength"] > 0:
        frac = 0.12 * float(row["truth_tidal_strength"])
        layer = _tidal_layer(row, layer_fov, rng)
        if layer.sum() > 0:  # tails or shells wholly outside a small field add nothing
            out.append((_interp(layer, 1.0), f_r * frac * main_col))
    return out


# --------------------------------------------------------------------------- drawing


@dataclass(frozen=True)
class RenderedGalaxy:
    """A galaxy rendered in one survey.

    Attributes
    ----------
    image : ndarray of float32, shape (3, n, n)
        g, r, z on the served grid, nanomaggies per reference pixel.
    sky_sigma : ndarray, shape (3,)
        Sky noise per served pixel in the same units (for the resampled
        bands, the per-pixel sigma after resampling).
    psf_fwhm : ndarray, shape (3,)
        The FWHM used per band (arcsec), after per-galaxy scatter.
    pixel_scale : float
        Served pixel scale (arcsec).
    passes : ndarray of int, shape (3,)
        Passes of the survey the galaxy's coadd holds per band
        (:attr:`~galvae.simulate.surveys.BandConfig.pass_fractions`; 3 is the full depth).
    """

    image: NDArray[np.float32]
    sky_sigma: NDArray[np.float64]
    psf_fwhm: NDArray[np.float64]
    pixel_scale: float
    passes: NDArray[np.int64] = dataclasses.field(default_factory=lambda: np.full(3, FULL_DEPTH_PASSES))


def _draw_native(
    profiles: list[tuple[galsim.GSObject, NDArray]],
    b: int,
    band: BandConfig,
    psf: galsim.GSObject,
    fov: float,
    rng: np.random.Generator | None,
    sources: list[Source] | None = None,
    psf_fwhm: float = 1.0,
    galaxy: NDArray | None = None,
    neighbours: NDArray | None = None,
    passes: int = FULL_DEPTH_PASSES,
    sky_residual: tuple[float, float] = (0.0, 60.0),
) -> galsim.Image:
    """Draw band ``b`` on the native grid (flux per native pixel), with noise when ``rng`` is given.

    ``sky_residual`` = (RMS in units of the band's full-depth sky noise, coherence length in arcsec): with noise,
    a smooth background of that size is added after the sky subtraction (:func:`sky_residual_field`).

    ``passes`` of the survey make the coadd: its noise variance is ``FULL_DEPTH_PASSES / passes`` times the full
    depth's, one exposure's noise (which sets the pipeline's sky mask) the same whatever the passes.

    ``galaxy`` and ``neighbours``, when given, are the galaxy and the
    neighbours already drawn on that grid (:func:`_draw_galaxy_bands`,
    :func:`~galvae.simulate.field.draw_sources`), used instead of drawing
    ``profiles`` and ``sources``.

    ``sources`` (neighbours) are drawn on stamps of their own, before the
    noise; with noise, the sky a survey pipeline would estimate from them
    (:func:`pipeline_sky`) and from the galaxy's own outskirts
    (:func:`outskirts_sky`) is then subtracted.
    """
    scale = band.native_pixel_scale_arcsec
    # a band served at its native scale is drawn on the served grid itself (not resampled: a half-pixel Lanczos
    # shift would correlate its noise); a resampled one on a native grid two pixels wider than the field
    n = served_size(fov, band) if scale == band.pixel_scale_arcsec else int(math.ceil(fov / scale)) + 2
    image = galsim.ImageF(n, n, scale=scale)
    if galaxy is not None:
        image.array[:] = galaxy
    else:
        parts = [p * float(f[b]) for p, f in profiles if f[b] != 0]  # a bar's disc hole is negative
        if parts:
            galsim.Convolve(galsim.Add(parts) if len(parts) > 1 else parts[0], psf, gsparams=_GSP).drawImage(
                image=image
            )
    field = None
    if neighbours is None and sources:
        neighbours = draw_sources((n, n), scale, sources, [b], [psf], [psf_fwhm])[0]
    if neighbours is not None:
        field = galsim.ImageF(np.asarray(neighbours, dtype=np.float32), scale=scale)  # for the sky estimate
        image += field
    if rng is not None:
        arr = image.array
        var = (band.sky_sigma**2 + np.clip(arr, 0, None) / band.gain) * (FULL_DEPTH_PASSES / passes)
        noise = rng.standard_normal(arr.shape, dtype=np.float32) * np.sqrt(var, dtype=np.float32)
        galaxy = arr - field.array if field is not None else arr
        exposure_noise = noise * np.float32(math.sqrt(passes))  # one exposure's noise, for the sky mask
        sky = outskirts_sky(galaxy, band.sky_sigma, scale, exposure_noise)
        if field is not None:
            sky += pipeline_sky(field.array + exposure_noise, band.sky_sigma)
        arr += noise
        arr -= np.float32(sky)
        if sky_residual[0] > 0:
            arr += np.float32(sky_residual[0] * band.sky_sigma) * sky_residual_field(
                rng, arr.shape, sky_residual[1] / scale
            )
    return image


def _draw_galaxy_bands(
    profiles: list[tuple[galsim.GSObject, NDArray]],
    bands: Sequence[int],
    psfs: Sequence[galsim.GSObject],
    n: int,
    scale: float,
) -> NDArray | None:
    """The galaxy in several bands on one n x n grid, each component's Fourier transform drawn once.

    What ``galsim.Convolve(galsim.Add(parts), psf).drawImage(image)`` draws
    band by band (pixel response included, the profile's centre on the
    image's true centre), to float32 precision (a test compares them), but
    the components (their k-space drawing is most of the cost) are drawn
    once for all bands and only summed with each band's fluxes, multiplied
    by its PSF's and the pixel's transforms and inverse-transformed per band.
    The k grid is the largest any band's profile asks GalSim for.

    Returns
    -------
    ndarray, shape (len(bands), n, n), or None
        None when a band's profile is not band-limited within the grid's
        Nyquist frequency (GalSim would then draw a larger grid and wrap it):
        draw those band by band.
    """
    comps = [p for p, _ in profiles]
    if not comps:
        return np.zeros((len(bands), n, n))
    total = galsim.Add(comps) if len(comps) > 1 else comps[0]
    pixel = galsim.Pixel(scale, gsparams=_GSP)
    size = n
    for psf in psfs:
        conv = galsim.Convolve(total, psf, pixel, gsparams=_GSP)
        if conv.maxk > math.pi / scale:
            return None
        size = max(size, conv.getGoodImageSize(scale))
    size = galsim.Image.good_fft_size(size)
    kimage = galsim.ImageCD(galsim.BoundsI(0, size // 2, -size // 2, size // 2 - 1), scale=2 * math.pi / (size * scale))
    summed = np.zeros((len(bands), size, size // 2 + 1), dtype=np.complex128)
    for prof, fluxes in profiles:
        prof._drawKImage(kimage)  # GalSim's documented fast path: draws on these bounds, no recentring
        k = np.fft.ifftshift(kimage.array, axes=0)  # rows in FFT order, ky = 0 first
        for j, b in enumerate(bands):
            if fluxes[b] != 0:
                summed[j] += float(fluxes[b]) * k
    # the pixel response, and half a pixel's shift where the true centre of an even-sized image is a corner
    ky = np.fft.fftfreq(size)  # cycles per pixel
    kx = np.fft.rfftfreq(size)
    response = np.sinc(ky)[:, None] * np.sinc(kx)[None, :]
    delta = 0.5 if n % 2 == 0 else 0.0
    if delta:
        response = response * np.exp(2j * np.pi * delta * (ky[:, None] + kx[None, :]))
    rows = (np.arange(n) - (n - 1) // 2 - (n % 2 == 0)) % size  # pixel i sits at (i - (n - 1) / 2 - delta) pixels
    out = np.empty((len(bands), n, n))
    for j, psf in enumerate(psfs):
        psf._drawKImage(kimage)
        real = np.fft.irfft2(summed[j] * np.fft.ifftshift(kimage.array, axes=0) * response, s=(size, size))
        out[j] = real[np.ix_(rows, rows)]
    return out


def outskirts_sky(galaxy: NDArray, sky_sigma: float, pixel_scale: float, noise: NDArray | None = None) -> float:
    """How much a survey pipeline's sky estimate rises from the target galaxy's own faint outskirts.

    legacypipe (the Legacy Surveys' pipeline) fitted each exposure's sky
    with tractor's ``SplineSky``: medians of the unmasked pixels in boxes of
    512 pixels (DECam and Mosaic-3, 134″; 90Prime 256 pixels, 116″; 134″ is
    used here for every camera).  In the SExtractor/PSFEx-era ``run_sky``
    that made the DR5 calibrations behind Galaxy Zoo DECaLS, the mask is
    the pixels of (image − median − initial spline) above 5 σ₁ (σ₁: one
    exposure's pixel noise), dilated three times
    (:data:`SKY_MASK_SIGMA`, :data:`SKY_MASK_DILATION`); no large galaxies
    were masked beyond that (the 5 × 5 boxcar mask at 3 σ₁ / 5 and the
    reference-source masks came with DR8, and the blob masks of DR9 were
    introduced "to eliminate the (negative) bias in coadd sky background
    level", legacypipe issue #443, 2019).  So a bright galaxy's outskirts
    below 5 σ₁ stay in its box's median and the subtracted image around it
    sits that much below zero — more so for larger, brighter galaxies, as
    the real images show (``benchmarks/realism.md``: the real sky darkens
    with the galaxy's size in the frame, Spearman −0.17 to −0.26 by the
    border's mean or median).

    The median of N pixels of noise σ₁, of which some carry a signal sᵢ,
    moves by δ with Σᵢ [Φ(sᵢ/σ₁) − ½] = N φ(0) δ / σ₁ to first order in δ/σ₁
    (Φ, φ: the normal distribution and density): a faint pixel counts with
    its value (δ ≈ Σ sᵢ / N, the mean) but a bright one at most ½ σ₁ / φ(0)
    ≈ 1.25 σ₁, as a pixel far above the median only moves it by one rank.
    With the 5 σ₁ mask the unmasked outskirts reach a few σ₁, where taking
    the mean instead overstates the shift (the simulated sky's correlation
    with the galaxy's size in the frame: −0.62 to −0.65 with the mean, −0.58
    to −0.61 with the pull; Spearman, 300 galaxies at 128 px).  That sample
    holds the smooth galaxies, whose Sérsic wings darken the sky the most
    (−0.51 to −0.54 on their own, 1200 galaxies); the real images (all
    featured, not edge-on, mostly without clear arms) give −0.17 to −0.19,
    the simulated featured, not edge-on galaxies −0.25 to −0.29, with or
    without the broken discs of simulator revision 7
    (``benchmarks/realism.md``).  The mask is made on the galaxy plus one
    exposure's noise when ``noise`` is given.  Only the drawn field is counted: the gz-decals
    field holds the whole truncated profile (Sérsic components end at 6
    half-light radii, the field's half side is ≥ 8.5 of them); on a smaller
    fixed field this is a lower bound.

    Parameters
    ----------
    galaxy : ndarray, shape (H, W)
        The target galaxy alone, noiseless, native pixels, flux per pixel.
    sky_sigma : float
        The coadd's sky noise per native pixel; one exposure's is
        ``sky_sigma * sqrt(SKY_EXPOSURES)`` (three passes in DECaLS, BASS
        and MzLS; Dey et al. 2019).
    pixel_scale : float
        Native pixel scale (arcsec); the box is :data:`SKY_BOX_ARCSEC` on a side.
    noise : ndarray, shape (H, W), optional
        One exposure's noise on the same pixels, for the mask; without it
        the mask is made on the noiseless galaxy.

    Returns
    -------
    float
        The sky estimate's rise, flux per pixel (≥ 0 for a non-negative galaxy).
    """
    x = np.asarray(galaxy, dtype=np.float64)
    sigma1 = sky_sigma * math.sqrt(SKY_EXPOSURES)
    masked = _dilate((x if noise is None else x + noise) > SKY_MASK_SIGMA * sigma1, SKY_MASK_DILATION)
    box = max((SKY_BOX_ARCSEC / pixel_scale) ** 2, x.size)
    # each unmasked pixel's pull on the median: sqrt(2 pi) sigma1 (Phi(s / sigma1) - 1/2), ~ s when s << sigma1
    pull = math.sqrt(2.0 * math.pi) * sigma1 * (special.ndtr(x[~masked] / sigma1) - 0.5)
    return float(pull.sum() / (box - masked.sum()))


def _dilate(mask: NDArray[np.bool_], iterations: int) -> NDArray[np.bool_]:
    """``scipy.ndimage.binary_dilation(mask, iterations=iterations)`` (the 4-connected cross), ~10x faster."""
    out = mask
    for _ in range(iterations):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def pipeline_sky(exposure: NDArray, sky_sigma: float) -> float:
    """The sky level a survey pipeline would estimate from a field of faint sources and noise.

    Real cutouts are sky-subtracted with a sky measured on each exposure:
    the median of its unmasked pixels (tractor's ``SplineSky`` in
    legacypipe; the mask of :func:`outskirts_sky`: pixels above
    :data:`SKY_MASK_SIGMA` σ₁, dilated :data:`SKY_MASK_DILATION` times).
    Sources below that threshold and the wings of brighter ones stay
    unmasked, so the sky absorbs their light and the subtracted image's
    empty sky sits that much below the true zero: the negative bias of the
    coadd sky that legacypipe's DR9 blob masks were made to remove (issue
    #443).  A simulated field is drawn on an exactly zero sky, so without
    this step the neighbours' unresolved light lifted the presented sky.
    Here: that mask on ``exposure``, then the median of the pixels it leaves
    (the plain median if it would leave fewer than a fifth of them).  The
    target galaxy is not part of ``exposure``: the over-subtraction of its
    own outskirts, normalised by a whole sky box, is :func:`outskirts_sky`.

    Until simulator revision 6 the mask was the field smoothed with the
    PSF above 3σ of the smoothed noise, dilated twice — deeper than
    legacypipe's, so less of the neighbours' light reached the sky: at
    128 px on the whole Galaxy Zoo field the simulated border then sat 1–2
    8-bit levels above the real images' in the median (17 / 18 / 19 against
    16 / 16 / 17 in g, r, z), with this mask at 16 / 17 / 18
    (``benchmarks/realism.md``).

    Parameters
    ----------
    exposure : ndarray, shape (H, W)
        The neighbours and one exposure's noise, native pixels, flux per pixel.
    sky_sigma : float
        The coadd's sky noise per native pixel; one exposure's σ₁ is
        ``sky_sigma * sqrt(SKY_EXPOSURES)``.

    Returns
    -------
    float
        The sky estimate, flux per pixel.
    """
    x = np.asarray(exposure, dtype=np.float64)
    sigma1 = sky_sigma * math.sqrt(SKY_EXPOSURES)
    masked = _dilate(x > SKY_MASK_SIGMA * sigma1, SKY_MASK_DILATION)
    keep = x[~masked]
    return float(np.median(keep if keep.size >= 0.2 * x.size else x))


def _to_served(image: galsim.Image, band: BandConfig, fov: float) -> NDArray:
    n = served_size(fov, band)
    if band.native_pixel_scale_arcsec == band.pixel_scale_arcsec and image.array.shape == (n, n):
        return image.array.astype(np.float64)
    interp = galsim.InterpolatedImage(
        image, x_interpolant="lanczos3", gsparams=_GSP, calculate_stepk=False, calculate_maxk=False
    )
    out = galsim.ImageF(n, n, scale=band.pixel_scale_arcsec)
    interp.drawImage(image=out, method="no_pixel")
    return out.array.astype(np.float64)


def _pass_quantiles(survey: SurveyConfig, rng: np.random.Generator) -> list[float]:
    """Each band's quantile of its ``pass_fractions`` for one galaxy (see ``SurveyConfig.pass_correlation``).

    A correlation of 1 draws one uniform for the three bands (simulator revision 8); below 1 a Gaussian copula:
    ``u_b = Φ(√ρ z₀ + √(1 − ρ) z_b)`` with z₀ shared and z_b per band.
    """
    if not any(b.pass_fractions for b in survey.bands):
        return [0.0] * len(survey.bands)
    rho = survey.pass_correlation
    if rho >= 1.0:
        return [float(rng.random())] * len(survey.bands)
    z0 = rng.standard_normal()
    z = math.sqrt(rho) * z0 + math.sqrt(1.0 - rho) * rng.standard_normal(len(survey.bands))
    return [float(u) for u in special.ndtr(z)]


def render_galaxy(
    row: Mapping[str, Any],
    survey: SurveyConfig,
    *,
    fov_arcsec: float,
    galaxy_rng: np.random.Generator,
    survey_rng: np.random.Generator,
    noise: bool = True,
    neighbours: bool = True,
    field_config: FieldConfig | None = None,
) -> RenderedGalaxy:
    """Render one galaxy in the three bands of ``survey``.

    Parameters
    ----------
    row : mapping
        A truth row (see :func:`~galvae.simulate.morphology.sample_truth`).
    survey : SurveyConfig
    fov_arcsec : float
        Side of the field of view.
    galaxy_rng : numpy.random.Generator
        Galaxy-level randomness (same stream in every survey).
    survey_rng : numpy.random.Generator
        This survey's randomness: PSF scatter, the coadd's passes (bands
        with ``pass_fractions``, correlated between bands as ``survey.pass_correlation`` says) and noise.
    noise : bool, default True
        Add sky and Poisson noise.
    neighbours : bool, default True
        Add the field's stars and background galaxies, and the galaxy's own
        companions where ``field_config.companion_r0`` > 0
        (:func:`galvae.simulate.field.neighbour_profiles`), drawn from a
        stream derived from ``galaxy_rng``'s state (which is not advanced by
        it), so they are the same in every survey and whatever features the
        galaxy has.
    field_config : FieldConfig, optional
        Their densities.

    Returns
    -------
    RenderedGalaxy
    """
    nb_rng = neighbour_rng(galaxy_rng) if neighbours else None
    profiles = galaxy_profiles(row, fov_arcsec, galaxy_rng)
    host = (float(row["truth_mag_r"]), float(row["truth_hlr_arcsec"]), float(row["truth_redshift"]))
    sources = neighbour_profiles(fov_arcsec, nb_rng, field_config, host) if nb_rng is not None else None
    if any(b.colour_term for b in survey.bands):  # each component in the survey's own filter system
        profiles = [(p, f * colour_term_factors(survey, f)) for p, f in profiles]
        if sources:
            sources = [(p, f * colour_term_factors(survey, f), pos) for p, f, pos in sources]
    bands = survey.bands
    served = {b.pixel_scale_arcsec for b in bands}
    if len(served) != 1:
        raise GalvaeValueError(f"survey {survey.name}: all bands must be served at one pixel scale", sorted(served))
    scale = bands[0].pixel_scale_arcsec
    to_ref = (REFERENCE_PIXEL_SCALE / scale) ** 2
    fwhm = np.array([b.psf_fwhm_arcsec * math.exp(b.psf_fwhm_scatter * survey_rng.standard_normal()) for b in bands])
    passes = np.array(
        [b.draw_passes(u) for b, u in zip(bands, _pass_quantiles(survey, survey_rng), strict=True)], dtype=np.int64
    )
    psfs = [make_psf(band, fwhm[i]) for i, band in enumerate(bands)]
    # bands drawn at their served scale share one drawing of the galaxy's components
    native_bands = [i for i, band in enumerate(bands) if band.native_pixel_scale_arcsec == scale]
    n_served = served_size(fov_arcsec, bands[0])
    drawn = (
        _draw_galaxy_bands(profiles, native_bands, [psfs[i] for i in native_bands], n_served, scale)
        if len(native_bands) > 1
        else None
    )
    # so do their neighbours (the phases of their positions are the same in every band)
    around = (
        draw_sources(
            (n_served, n_served),
            scale,
            sources,
            native_bands,
            [psfs[i] for i in native_bands],
            [float(fwhm[i]) for i in native_bands],
        )
        if sources and len(native_bands) > 1
        else None
    )
    out = []
    sky = np.empty(3)
    for i, band in enumerate(bands):
        native = _draw_native(
            profiles,
            i,
            band,
            psfs[i],
            fov_arcsec,
            survey_rng if noise else None,
            sources,
            float(fwhm[i]),
            galaxy=None if drawn is None or i not in native_bands else drawn[native_bands.index(i)],
            neighbours=None if around is None or i not in native_bands else around[native_bands.index(i)],
            passes=int(passes[i]),
            sky_residual=(survey.sky_residual, survey.sky_residual_scale_arcsec),
        )
        # image units: nanomaggies unless the band's zero point says otherwise
        out.append(_to_served(native, band, fov_arcsec) * (to_ref / band.unit_nmgy))
        # resampling turns flux per native pixel into flux per served pixel (× ratio) and
        # Lanczos-3 interpolation of white noise keeps a fraction _NOISE_KEPT of its sigma
        ratio = (scale / band.native_pixel_scale_arcsec) ** 2
        sky[i] = band.sky_sigma * ratio * to_ref / band.unit_nmgy * (_NOISE_KEPT if ratio != 1 else 1.0)
        sky[i] *= math.sqrt(FULL_DEPTH_PASSES / passes[i])
    return RenderedGalaxy(np.asarray(out, dtype=np.float32), sky, fwhm, scale, passes)


def render_point_source(
    survey: SurveyConfig,
    band: str,
    *,
    flux: float = 1000.0,
    size: int = 48,
    fwhm: float | None = None,
    pixel_scale: float | None = None,
) -> galsim.Image:
    """Noiseless point source drawn through a band's PSF (for PSF checks).

    Parameters
    ----------
    survey : SurveyConfig
    band : {"g", "r", "z"}
    flux : float, default 1000
        Nanomaggies.
    size : int, default 48
        Stamp side in native pixels.
    fwhm : float, optional
        PSF FWHM; default the band's median.
    pixel_scale : float, optional
        Pixel scale of the stamp; default the band's native scale.  The
        drawing includes the pixel response, which widens the profile
        slightly (by ~1-2 % at native scale); a fine scale isolates the PSF.
    """
    if band not in BANDS:
        raise GalvaeValueError("band", band, BANDS)
    b = survey.band(band)
    scale = b.native_pixel_scale_arcsec if pixel_scale is None else float(pixel_scale)
    image = galsim.ImageF(size, size, scale=scale)
    galsim.Convolve(galsim.DeltaFunction(flux=flux), make_psf(b, fwhm), gsparams=_GSP).drawImage(image=image)
    return image
