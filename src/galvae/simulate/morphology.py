"""Morphology priors: the true parameters of simulated galaxies.

:func:`sample_truth` draws a table of galaxies resembling the SDSS Main
Galaxy Sample as Galaxy Zoo DECaLS saw it.  Every column starts with
``truth_``; categorical truths use the GZD-5 answer spelling of
:data:`galvae.data.labels.GZ_DECALS_QUESTIONS` (None where the question does
not apply), so they can be compared with Table 2 labels directly.

Sources and choices
-------------------
* **Magnitudes**: r from 14 to 17.77 (the MGS limit, Strauss et al. 2002,
  AJ 124, 1810) with Euclidean-like counts N(<m) ∝ 10^(0.6 m), so most
  galaxies are near the limit.
* **Redshift**: log-normal around 0.1 × 10^(0.2 (m - 17)) (σ = 0.3 dex in
  ln), clipped to 0.01-0.3: the MGS median is z ≈ 0.1 (Abazajian et al.
  2009), brighter galaxies being nearer.
* **Sizes**: the half-light radius follows an angular size-magnitude
  relation built from Shen et al. (2003, MNRAS 343, 978): median
  2.5″ × 10^(-0.2 (m - 16.5)) (≈ 1.6″ at the limit, 4″ at r = 14.5),
  log-normal scatter ``hlr_scatter`` = 0.45 in ln, ellipticals 20 % smaller,
  clipped to 0.6-12″.  (Shen et al.'s intrinsic scatter of disc sizes is
  0.25 + 0.23 / (1 + (L / L₀)²) in ln R, 0.28-0.42 over the Main Galaxy
  Sample's luminosities; the spread in distance at fixed apparent
  magnitude adds ~0.15, hence 0.45.)
* **Sample selection** (``min_petro_th50_arcsec``, default 4″): the Galaxy
  Zoo DECaLS sample is drawn from the NASA-Sloan Atlas (NSA v1_0_1) with
  r < 17.77 and a minimum Petrosian size (Walmsley et al. 2022, §2.1).  We
  believe the cut is ``petro_th50 > 3″`` but could not verify the exact
  column (``petro_theta`` vs ``petro_th50``) in a stored copy of the paper.
  The 200 real GZ DECaLS images in ``shared/data`` say the real frames are
  larger than p50 > 3″ with a 0.3 scatter gives: their sky noise (which
  falls as the field grows), the half-maximum widths of their sharpest
  neighbouring sources (a PSF-sized source measures the frame; calibrated on
  simulated frames of known size) and their number of neighbours all point
  to median fields of 80-90″ (p50 ≈ 5″), where 3″ and 0.3 give 52″.  The
  defaults, 4″ and 0.45, give 70″ and match the real images' noise (KS 0.49
  → 0.09 at 128 px), neighbour counts (0.40 → 0.10) and frame widths (0.55 →
  0.24) (``benchmarks/realism.md``, "Frame sizes"); ``min_petro_th50_arcsec=3,
  hlr_scatter=0.3`` (``galvae simulate --min-p50 3 --size-scatter 0.3``)
  gives the former sample.
  Galaxies are
  given their classes, then their magnitude and size are redrawn until
  their Petrosian p50, approximated by :func:`approximate_petro_th50`,
  passes the cut (class frequencies stay as configured) (the PSF term measured
  with :func:`galvae.data.presentation.petrosian_radii` on Sérsic n = 1-4.5
  profiles through a 1.2″ Moffat PSF); the cut favours bright galaxies, as
  the real selection does.
* **Classes** (approximate GZ DECaLS frequencies, Walmsley et al. 2022,
  MNRAS 509, 3966): 40 % smooth (round 35 %, in-between 50 %, cigar-shaped
  15 %, by projected axis ratio >0.8, 0.45-0.8, <0.45); 60 % featured, with
  inclination from an isotropic distribution (cos i uniform), edge-on meaning
  i ≥ 78°; edge-on bulges rounded 65 %, boxy 12 %, none 23 %; face-on bars
  none 55 %, weak 20 %, strong 25 % (Masters et al. 2011 find ~30 % barred);
  arms in 80 % of face-on discs, with 1/2/3/4/more arms at
  5/55/20/10/10 % and tight/medium/loose winding at 35/35/30 %, pitch
  angles 5-15°, 15-25°, 25-40° (the range of measured pitch angles,
  Davis et al. 2012, ApJS 199, 33; winding votes against pitch angle,
  Hart et al. 2017, MNRAS 472, 2263); arm strength (the fraction of the
  disc light redistributed into the arms) 0.3-0.65 (arm-interarm contrasts
  of 1-2 mag in optical images, Elmegreen et al. 2011, ApJ 737, 32); bulge-to-total ratio classes none/small/moderate/
  large/dominant (B/T < 0.03, 0.03-0.15, 0.15-0.35, 0.35-0.55, > 0.55) at
  10/30/35/18/7 %, bulge effective radius (0.1 + 0.45 B/T) × the disc's
  half-light radius (0.2-0.8 disc scale lengths; Gadotti 2009, MNRAS 393,
  1531); mergers: none 85 %, minor disturbance 7 %, major
  disturbance 4 %, merger 4 % (Darg et al. 2010 find a few per cent).
  Bars and bulges go together: the barred fraction of face-on discs rises
  with the bulge, 1.4 / 1.4 / 1.1 / 0.8 / 0.45 × the overall one for
  dominant / large / moderate / small / no bulges (``bar_by_bulge``; 62 %
  of bulge-dominated and 20 % of bulgeless discs barred): "over half of the
  red, bulge-dominated disc galaxies possess a bar" and the blue cloud has
  "little or no evidence for a (classical) bulge or bar" (Masters et al.
  2011, MNRAS 411, 2026, GZ2; Géron et al. 2021, MNRAS 507, 4389 for GZ
  DECaLS).  The bulge-size frequencies and the barred fraction keep the
  values above.
* **Colours** (observed g - r, r - z): bulges and ellipticals red
  (g - r = 0.80 + 1.0 z, i.e. 0.87 at the sample's median z ≈ 0.07: the
  red sequence reddened by the k-correction, e.g. Blanton et al. 2003,
  ApJ 594, 186; r - z 0.62), discs bluer (0.60 + 0.8 z; 0.47), arms and
  star-forming knots blue (0.36 + 0.6 z; 0.30); discs without spiral arms
  are S0-like and on the red sequence with the ellipticals (Bamford et al.
  2009, MNRAS 393, 1324; Masters et al. 2010, MNRAS 405, 783): 0.05 bluer
  in g - r and 0.03 in r - z than their own bulges (``_ARMLESS_DISC_BLUER``;
  0.75 + 1.0 z and 0.59 on average).  With the spirals' disc colour the
  real featured, arm-less images' centres were 0.12 mag redder than the
  simulated ones (``galvae realism --where``).  Levels raised by ~0.05-0.1
  mag over the textbook values to match the real GZ DECaLS images measured
  through the same stretch (``benchmarks/realism.md``);
  each galaxy has one colour offset shared by its components (σ = 0.06)
  plus 0.04 mag per component, so galaxies differ in colour but keep the
  order bulge > disc > arms; the real GZ DECaLS images
  (``benchmarks/realism.md``) set the level: centres g - r ≈ 0.8, outer
  parts ≈ 0.7 (a sample rich in early-type and ring discs).
* **Bars**: half-length 0.6-1.2 × the galaxy half-light radius, i.e.
  1-2 disc scale lengths (Erwin 2005, MNRAS 364, 283); bar strength s
  (weak 0.3-0.55, strong 0.55-1) sets how much of the inner disc's light
  the bar gathers (:mod:`galvae.simulate.render`: Bar/T 0.11-0.31 for weak
  bars, 0.20-0.52 for strong ones, m = 2 amplitude A2max 0.14-0.37 and
  0.20-0.59; Gadotti 2009, MNRAS 393, 1531 finds Bar/T typically 0.1, up
  to ~0.3).  Weak bars reach from below the amplitude at which bars are
  detected (A2 ≈ 0.2) to that of the weakest strong ones because Galaxy
  Zoo DECaLS volunteers vote a weak bar in 28.1 % of face-on discs
  (Géron et al. 2021, MNRAS 507, 4389); with s 0.15-0.4 (A2max
  0.06-0.28, simulator revisions up to 11) they were too faint to see and
  the simulated volunteers voted 5 % (``benchmarks/bar_votes.py``,
  ``benchmarks/realism.md``, "Bar votes").
  **Ansae**, bright blobs at a bar's ends, are "common features in barred
  lenticulars": ~40 % of SB0s show them, the fraction "decreases
  dramatically with later types, and hardly any ansae are found in
  galaxies of type Sb or later" (Martinez-Valpuesta, Knapen & Buta 2007,
  AJ 134, 1863).  So 40 % of barred discs without spiral arms and 20 % of
  barred spirals with B/T >= 0.25 (Sab and earlier by the mean bulge
  fraction (10 - T)² / 256 of Hubble stage T) have them, none in later
  spirals (``ansae``; truth ``truth_bar_ansae``, drawn after every other
  column).  Bulges hide bars; the ansae lie beyond the bulge, but at this
  frequency they leave the bar's visibility ceiling where it was
  (``benchmarks/realism.md``, "Ansae at the literature's frequency").
* **Rings** (face-on discs): inner 20 %, outer 10 %, none 70 % -- of the
  order of the visual ring fractions of nearby disc galaxies (inner rings
  are the more common; Buta & Combes 1996, Fund. Cosmic Phys. 17, 95;
  Comerón et al. 2014, A&A 562, A121 for S4G).  An inner ring lies just
  outside the bar, at 0.9-1.15 × its half-length (inner rings envelop the
  bar), an outer ring at 2.0-2.4 × it (outer-ring/bar ratio ≈ 2.2,
  Kormendy 1979, ApJ 227, 714; Buta 1995, ApJS 96, 39); in unbarred discs
  at 1-2 (inner) or 2.5-3.5 (outer) disc scale lengths.  A ring is a
  Gaussian annulus in the disc plane, 8-15 % of its radius wide (σ), with
  a mild two-fold brightness modulation, holding 6-15 % of the smooth disc's
  light (what the arms and bar leave)
  (a choice that makes rings visible at GZ DECaLS presentation, not a
  literature value) in the arms' blue colour (rings are star-forming).
  Drawn after every other column, so adding rings left the other truth
  values of a seed unchanged.
* **Lopsidedness** (discs not edge-on): the m = 1 Fourier amplitude of the
  disc light, <A1/A0> averaged over 1.5-2.5 scale lengths, log-normal with
  median 0.11 and 20 % above 0.19 (σ = 0.65 in ln; capped at 0.5): Rudnick &
  Rix (1998, AJ 116, 1163) measure exactly these for 54 face-on S0-Sab discs
  in R, and Zaritsky & Rix (1997, ApJ 477, 118) and Bournaud et al. (2005,
  A&A 438, 507) the same for late types.  A1 grows with radius (Rix &
  Zaritsky 1995; Reichard et al. 2008, ApJ 677, 186, 25155 SDSS galaxies):
  it rises linearly from the centre, A1(r) = <A1/A0> r / (2 r_d), to at most
  1.25 times it.  Without it the simulated discs were five times more
  symmetric than the real GZ DECaLS images (outer A1 median 0.02 against
  0.10, ``benchmarks/spiral_fourier.md``).  Drawn after the rings.
* **Outer disc profiles** (discs not edge-on): most discs are not one
  exponential to the noise.  Of ~90 late-type (Sb-Sdm) SDSS discs, ~10 %
  are (Type I), ~60 % bend down to a steeper outer exponential at 1.5-4.5
  scale lengths (Type II, "truncations") and ~30 % bend up to a shallower
  one at 4-6 scale lengths (Type III, "antitruncations"; Pohlen & Trujillo
  2006, A&A 454, 759); field S0 discs are "roughly equally divided between
  the three" (Erwin et al. 2012, ApJ 744, L11).  So discs with spiral arms
  are Type I / II / III at 10 / 60 / 30 % and discs without (S0-like) at
  a third each (``disc_break``, ``disc_break_armless``).  Type II breaks lie
  at 1.5-4.5 scale lengths (triangular, peak 2.5), with an outer scale
  length 0.4-0.7 times the inner one; Type III at 4-6, with 1.5-2.5 times it:
  the light beyond the break is then ~14 % (Type II at 2.5, 0.55) and ~9 %
  (Type III at 5, 2) of an unbroken disc's, as Bakos et al. (2008, ApJ 683,
  L103) find ~15 % and ~9 % of the stellar mass beyond the break.  The arms
  and the lopsided part of the disc break with it.  Without breaks the
  simulated sky darkened with the galaxy's size in the frame three times as
  steeply as the real one (``benchmarks/realism.md``: the pipeline's sky
  boxes take in the faint outskirts).  Drawn last.

``balance=True`` draws every categorical truth uniformly among its classes
(smooth/featured 50/50, each Table 2 class of a reached question equally
often), so rare classes (cigars, boxy bulges, weak bars, 1 and 4 arms,
mergers) are well populated for training and tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import GalvaeValueError

__all__ = ["MorphologyConfig", "sample_truth", "approximate_petro_th50", "BULGE_SIZE_LIMITS", "WINDING_PITCH_DEG"]

#: Largest lopsidedness <A1/A0> drawn (the disc's light stays positive up to 1 / 1.25 = 0.8).
_LOPSIDED_MAX = 0.5
#: Strength range of weak bars (strong bars: 0.55-1): m = 2 amplitudes from the detection limit up (module docs).
_WEAK_BAR = (0.3, 0.55)

#: B/T class boundaries for none, small, moderate, large, dominant.
#: p50² ≈ hlr² + this (arcsec²): the PSF's share of a Petrosian half-light radius (DECaLS r, FWHM ≈ 1.2″).
_PSF_P50_TERM = 0.85

BULGE_SIZE_LIMITS: dict[str, tuple[float, float]] = {
    "none": (0.0, 0.03),
    "small": (0.03, 0.15),
    "moderate": (0.15, 0.35),
    "large": (0.35, 0.55),
    "dominant": (0.55, 0.85),
}


@dataclass(frozen=True)
class MorphologyConfig:
    """Priors of :func:`sample_truth` (see the module docs for their sources)."""

    mag_range: tuple[float, float] = (14.0, 17.77)
    count_slope: float = 0.6
    p_smooth: float = 0.4
    how_rounded: tuple[float, float, float] = (0.35, 0.50, 0.15)
    edge_on_min_inclination_deg: float = 78.0
    edge_on_bulge: tuple[float, float, float] = (0.12, 0.23, 0.65)  # boxy, none, rounded
    bar: tuple[float, float, float] = (0.25, 0.20, 0.55)  # strong, weak, no
    p_arms: float = 0.8
    arm_count: tuple[float, float, float, float, float] = (0.05, 0.55, 0.20, 0.10, 0.10)
    winding: tuple[float, float, float] = (0.35, 0.35, 0.30)
    bulge_size: tuple[float, float, float, float, float] = (0.07, 0.18, 0.35, 0.30, 0.10)  # dominant..none
    #: Barred fraction of face-on discs per bulge-size class (dominant..none), relative to the overall one
    #: (Masters et al. 2011); (1, 1, 1, 1, 1) draws bars and bulges independently.
    bar_by_bulge: tuple[float, float, float, float, float] = (1.4, 1.4, 1.1, 0.8, 0.45)
    merging: tuple[float, float, float, float] = (0.85, 0.07, 0.04, 0.04)
    hlr_at_16p5: float = 2.5
    hlr_scatter: float = 0.45
    hlr_max: float = 12.0
    min_petro_th50_arcsec: float = 4.0
    arm_strength: tuple[float, float] = (0.3, 0.65)
    disk_thickness: tuple[float, float] = (0.08, 0.2)
    ring: tuple[float, float, float] = (0.20, 0.10, 0.70)  # inner, outer, none
    ring_strength: tuple[float, float] = (0.06, 0.15)
    #: Lopsidedness of discs: median and log-normal scatter (ln) of <A1/A0> over 1.5-2.5 scale lengths (0: none).
    lopsided_median: float = 0.11
    lopsided_scatter: float = 0.65
    #: Outer disc profile Type I / II / III (single exponential, down-bending, up-bending) of discs with spiral
    #: arms (Pohlen & Trujillo 2006) and of discs without (field S0s; Erwin et al. 2012).
    disc_break: tuple[float, float, float] = (0.10, 0.60, 0.30)
    disc_break_armless: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    #: Fraction of bars with ansae (bright blobs at the bar's ends) in barred discs without spiral arms (SB0-like)
    #: and in barred spirals with B/T >= 0.25 (Sab and earlier); later types have none (Martinez-Valpuesta,
    #: Knapen & Buta 2007).
    ansae: tuple[float, float] = (0.4, 0.2)

    def __post_init__(self) -> None:
        for name in (
            "how_rounded",
            "edge_on_bulge",
            "bar",
            "arm_count",
            "winding",
            "bulge_size",
            "merging",
            "ring",
            "disc_break",
            "disc_break_armless",
        ):
            p = np.asarray(getattr(self, name), dtype=float)
            if (p < 0).any() or not math.isclose(p.sum(), 1.0, abs_tol=1e-6):
                raise GalvaeValueError(
                    f"MorphologyConfig.{name} must be probabilities summing to 1", getattr(self, name)
                )
        for name in ("p_smooth", "p_arms"):
            if not 0 <= getattr(self, name) <= 1:
                raise GalvaeValueError(f"MorphologyConfig.{name} must be in [0, 1]", getattr(self, name))
        ansae = np.asarray(self.ansae, dtype=float)
        if ansae.shape != (2,) or not np.isfinite(ansae).all() or (ansae < 0).any() or (ansae > 1).any():
            raise GalvaeValueError(
                "MorphologyConfig.ansae must be 2 fractions in [0, 1] (barred discs without arms, "
                "barred spirals with B/T >= 0.25)",
                self.ansae,
            )
        if not (math.isfinite(self.min_petro_th50_arcsec) and 0 <= self.min_petro_th50_arcsec < self.hlr_max):
            raise GalvaeValueError(
                "MorphologyConfig.min_petro_th50_arcsec must be in [0, hlr_max)", self.min_petro_th50_arcsec
            )
        if not (math.isfinite(self.hlr_scatter) and 0 <= self.hlr_scatter <= 2):
            raise GalvaeValueError("MorphologyConfig.hlr_scatter must be in [0, 2] (ln of the size)", self.hlr_scatter)
        a_lo, a_hi = self.arm_strength
        if not 0 < a_lo <= a_hi < 1:
            raise GalvaeValueError(
                "MorphologyConfig.arm_strength must be (low, high) with 0 < low <= high < 1", self.arm_strength
            )
        r_lo, r_hi = self.ring_strength
        if not 0 <= r_lo <= r_hi < 0.5:
            raise GalvaeValueError(
                "MorphologyConfig.ring_strength must be (low, high) with 0 <= low <= high < 0.5", self.ring_strength
            )
        w = np.asarray(self.bar_by_bulge, dtype=float)
        barred = self.bar[0] + self.bar[1]
        if w.shape != (5,) or not np.isfinite(w).all() or (w < 0).any() or w @ np.asarray(self.bulge_size) <= 0:
            raise GalvaeValueError(
                "MorphologyConfig.bar_by_bulge must be 5 non-negative weights (dominant..none)", self.bar_by_bulge
            )
        if barred * (w / (w @ np.asarray(self.bulge_size))).max() > 1 + 1e-9:
            raise GalvaeValueError(
                "MorphologyConfig.bar_by_bulge asks for a barred fraction above 1 in some bulge class "
                f"(overall barred fraction {barred:g})",
                self.bar_by_bulge,
            )
        if not (math.isfinite(self.lopsided_median) and 0 <= self.lopsided_median <= _LOPSIDED_MAX):
            raise GalvaeValueError(
                f"MorphologyConfig.lopsided_median must be in [0, {_LOPSIDED_MAX}] (<A1/A0>)", self.lopsided_median
            )
        if not (math.isfinite(self.lopsided_scatter) and 0 <= self.lopsided_scatter <= 2):
            raise GalvaeValueError(
                "MorphologyConfig.lopsided_scatter must be in [0, 2] (ln of <A1/A0>)", self.lopsided_scatter
            )
        lo, hi = self.mag_range
        if not lo < hi:
            raise GalvaeValueError("MorphologyConfig.mag_range must be (bright, faint)", self.mag_range)


def _choice(rng: np.random.Generator, options: tuple[str, ...], p, n: int, balance: bool) -> np.ndarray:
    p = np.full(len(options), 1.0 / len(options)) if balance else np.asarray(p, dtype=float)
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=p)]


def _uniform_in(rng: np.random.Generator, limits: dict[str, tuple[float, float]], classes: np.ndarray) -> np.ndarray:
    lo = np.array([limits[c][0] for c in classes])
    hi = np.array([limits[c][1] for c in classes])
    return rng.uniform(lo, hi)


def sample_truth(
    n: int,
    rng: np.random.Generator | int,
    *,
    balance: bool = False,
    config: MorphologyConfig | None = None,
) -> pd.DataFrame:
    """Draw the true parameters of ``n`` galaxies.

    Parameters
    ----------
    n : int
        Number of galaxies.
    rng : numpy.random.Generator or int
        Source of randomness (an int is a seed).
    balance : bool, default False
        Draw categorical truths uniformly (see module docs).
    config : MorphologyConfig, optional

    Returns
    -------
    pandas.DataFrame, n rows
        Categorical columns ``truth_smooth_or_featured``,
        ``truth_how_rounded``, ``truth_disk_edge_on``,
        ``truth_edge_on_bulge``, ``truth_bar``, ``truth_has_spiral_arms``,
        ``truth_bulge_size``, ``truth_spiral_winding``,
        ``truth_spiral_arm_count``, ``truth_merging``; numeric columns
        ``truth_mag_r``, ``truth_redshift``, ``truth_hlr_arcsec``,
        ``truth_axis_ratio``, ``truth_inclination_deg`` (NaN for smooth),
        ``truth_pa_deg``, ``truth_bulge_to_total``, ``truth_sersic_n``,
        ``truth_bulge_hlr_arcsec``, ``truth_bulge_q``, ``truth_disk_thickness``,
        ``truth_bar_strength``, ``truth_bar_length_arcsec``,
        ``truth_bar_angle_deg``, ``truth_arm_strength``,
        ``truth_arm_pitch_deg``, ``truth_n_arms``, ``truth_companion_mag_r``,
        ``truth_companion_sep_arcsec``, ``truth_companion_angle_deg``,
        ``truth_tidal_strength``, ``truth_shells`` (bool), colours
        ``truth_{bulge,disk,arm}_{gr,rz}``, and the ring: ``truth_ring``
        ("inner", "outer", "none"; None for smooth and edge-on galaxies),
        ``truth_ring_radius_arcsec``, ``truth_ring_width_arcsec`` (NaN
        without a ring) and ``truth_ring_strength`` (fraction of the smooth
        disc's light, after arms and bar; 0 without a ring); lopsidedness:
        ``truth_lopsided_a1`` (<A1/A0> over 1.5-2.5 disc scale lengths; 0 for
        smooth and edge-on galaxies) and ``truth_lopsided_angle_deg`` (the
        heavy side, in the disc plane from its major axis; NaN without);
        the outer disc: ``truth_disk_break`` ("I", "II", "III"; None for
        smooth and edge-on galaxies), ``truth_disk_break_radius_arcsec`` and
        ``truth_disk_outer_scale_ratio`` (outer over inner scale length; NaN
        for Type I and without a break); ``truth_bar_ansae`` (bool: the bar
        ends in two bright blobs).

    Raises
    ------
    GalvaeValueError
        If ``n`` is negative.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise GalvaeValueError("n must be a non-negative integer", n)
    rng = np.random.default_rng(rng)
    cfg = MorphologyConfig() if config is None else config
    n = int(n)
    return _sample_all(n, rng, balance, cfg)


def approximate_petro_th50(truth: pd.DataFrame) -> np.ndarray:
    """Petrosian half-light radius (arcsec) of truth rows, approximated without rendering.

    The light-weighted mean of the bulge's and the disc's half-light radii,
    added in quadrature to the PSF's share (``p50² ≈ r² + 0.85″²``, DECaLS r
    FWHM ≈ 1.2″); within ~20 % (median 7 % low) of
    :func:`galvae.simulate.present.measure_petrosian` on the default sample.
    """
    bt = truth["truth_bulge_to_total"].to_numpy(dtype=np.float64)
    r = (1 - bt) * truth["truth_hlr_arcsec"].to_numpy(dtype=np.float64) + bt * truth["truth_bulge_hlr_arcsec"].to_numpy(
        dtype=np.float64
    )
    return np.sqrt(r**2 + _PSF_P50_TERM)


def _sample_all(n: int, rng: np.random.Generator, balance: bool, cfg: MorphologyConfig) -> pd.DataFrame:
    """:func:`sample_truth` before the sample's size cut.

    The steps draw from ``rng`` in a fixed order (classes, bulges, sizes,
    bars and arms, mergers, colours, rings, lopsidedness, disc breaks, ansae), so a seed gives the same
    galaxies whatever is added after them.
    """
    g = _draw_classes(n, rng, balance, cfg)
    _draw_bulges(g, n, rng, cfg)
    _draw_sizes(g, n, rng, cfg)
    _draw_bars_and_arms(g, n, rng, cfg)
    _draw_mergers(g, n, rng, balance, cfg)
    df = _truth_frame(g, n, rng)
    _draw_rings(df, g, n, rng, balance, cfg)
    _draw_lopsidedness(df, g, n, rng, cfg)
    _draw_disc_breaks(df, g, n, rng, cfg)
    _draw_ansae(df, g, n, rng, cfg)
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].where(df[c].notna(), None)
    return df


def _draw_classes(n: int, rng: np.random.Generator, balance: bool, cfg: MorphologyConfig) -> dict[str, Any]:
    """Galaxy Zoo classes: smooth or featured, how rounded, inclination, edge-on bulge, bar, arms, bulge size."""
    sof = _choice(rng, ("smooth", "featured-or-disk"), (cfg.p_smooth, 1 - cfg.p_smooth), n, balance)
    smooth = sof == "smooth"
    feat = ~smooth

    # smooth galaxies: projected axis ratio by how-rounded class
    rounded = np.where(smooth, _choice(rng, ("round", "in-between", "cigar-shaped"), cfg.how_rounded, n, balance), None)
    q_limits = {"round": (0.82, 1.0), "in-between": (0.47, 0.78), "cigar-shaped": (0.18, 0.42)}
    q_smooth = _uniform_in(rng, q_limits, np.where(smooth, rounded, "round"))

    # discs: isotropic inclinations
    cos_i = rng.random(n)
    if balance:  # half edge-on, half not
        edge = rng.random(n) < 0.5
        cmax = math.cos(math.radians(cfg.edge_on_min_inclination_deg))
        cos_i = np.where(edge, rng.uniform(0, cmax * 0.999, n), rng.uniform(cmax * 1.001, 1.0, n))
    incl = np.degrees(np.arccos(cos_i))
    edge_on = feat & (incl >= cfg.edge_on_min_inclination_deg)
    face = feat & ~edge_on
    thick = rng.uniform(*cfg.disk_thickness, n)
    q_disk = np.sqrt(cos_i**2 * (1 - thick**2) + thick**2)

    disk_edge_on = np.where(feat, np.where(edge_on, "yes", "no"), None)
    eob = np.where(edge_on, _choice(rng, ("boxy", "none", "rounded"), cfg.edge_on_bulge, n, balance), None)
    bar = np.where(face, _choice(rng, ("strong", "weak", "no"), cfg.bar, n, balance), None)
    arms_yes = rng.random(n) < (0.5 if balance else cfg.p_arms)
    has_arms = np.where(face, np.where(arms_yes, "yes", "no"), None)
    arm_count = np.where(
        has_arms == "yes", _choice(rng, ("1", "2", "3", "4", "more-than-4"), cfg.arm_count, n, balance), None
    )
    winding = np.where(has_arms == "yes", _choice(rng, ("tight", "medium", "loose"), cfg.winding, n, balance), None)
    bsize_all = _bulge_sizes(rng, np.where(face, bar, None), n, balance, cfg)
    return {
        "sof": sof,
        "smooth": smooth,
        "feat": feat,
        "rounded": rounded,
        "q_smooth": q_smooth,
        "incl": incl,
        "edge_on": edge_on,
        "face": face,
        "thick": thick,
        "q_disk": q_disk,
        "disk_edge_on": disk_edge_on,
        "eob": eob,
        "bar": bar,
        "has_arms": has_arms,
        "arm_count": arm_count,
        "winding": winding,
        "bsize_all": bsize_all,
        "bulge_size": np.where(face, bsize_all, None),
    }


def _bulge_sizes(rng: np.random.Generator, bar: np.ndarray, n: int, balance: bool, cfg: MorphologyConfig) -> np.ndarray:
    """Bulge-size classes, more prominent in barred discs (Masters et al. 2011) with the configured marginal.

    A face-on disc's class is drawn from ``P(b | barred) = w_b P(b)`` or ``P(b | unbarred) = (1 - F w_b) P(b) /
    (1 - F)`` (``w`` = ``cfg.bar_by_bulge`` normalised so that ``sum w P = 1``, F the barred fraction), so the
    bulge-size frequencies and the barred fraction both stay as configured while the barred fraction rises
    with the bulge; other galaxies (``bar`` None) draw from ``P(b)``, and ``balance`` draws every class
    equally often whatever the bar.  One uniform per galaxy, as ``rng.choice`` draws: with equal weights the
    classes are those of ``rng.choice``.
    """
    options = ("dominant", "large", "moderate", "small", "none")
    if balance:
        return _choice(rng, options, cfg.bulge_size, n, balance)
    p = np.asarray(cfg.bulge_size, dtype=float)
    w = np.asarray(cfg.bar_by_bulge, dtype=float)
    w = w / (w @ p)
    f_bar = cfg.bar[0] + cfg.bar[1]
    p_barred = w * p
    p_unbarred = (1 - f_bar * w) * p / (1 - f_bar) if f_bar < 1 else p
    probs = np.where(
        (bar == "strong")[:, None] | (bar == "weak")[:, None], p_barred, np.where((bar == "no")[:, None], p_unbarred, p)
    )
    cdf = probs.cumsum(axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(n)
    return np.asarray(options, dtype=object)[(cdf <= u[:, None]).sum(axis=1)]


def _draw_bulges(g: dict[str, Any], n: int, rng: np.random.Generator, cfg: MorphologyConfig) -> None:
    """Bulge-to-total from the bulge-size (face-on) or edge-on bulge class, Sérsic index, bulge/disc size ratio."""
    smooth, edge_on = g["smooth"], g["edge_on"]
    bt = _uniform_in(rng, BULGE_SIZE_LIMITS, g["bsize_all"])
    eob_bt = {"none": (0.0, 0.02), "boxy": (0.12, 0.35), "rounded": (0.15, 0.5)}
    bt = np.where(edge_on, _uniform_in(rng, eob_bt, np.where(edge_on, g["eob"], "none")), bt)
    g["bt"] = np.where(smooth, 1.0, bt)
    g["sersic_n"] = np.where(smooth, rng.choice([2.5, 3.0, 3.5, 4.0, 4.5], n), rng.choice([1.5, 2.0, 2.5, 3.0, 4.0], n))
    # bulge effective radius (0.1 + 0.45 B/T) x U(0.8, 1.25) disc half-light radii (0.13-1.0 disc scale lengths),
    # larger for larger B/T (Gadotti 2009; module docs)
    g["bulge_factor"] = np.where(smooth, 1.0, (0.1 + 0.45 * g["bt"]) * rng.uniform(0.8, 1.25, n))


def _draw_sizes(g: dict[str, Any], n: int, rng: np.random.Generator, cfg: MorphologyConfig) -> None:
    """Magnitudes, half-light radii and redshifts that pass the sample's Petrosian p50 cut.

    Magnitudes from N(<m) ∝ 10^(a m), sizes from the size-magnitude
    relation; a galaxy whose Petrosian p50 misses the cut redraws its
    magnitude and size (not its class), so the class frequencies stay those
    configured while sizes and magnitudes follow the selection.
    """
    smooth, bt, bulge_factor = g["smooth"], g["bt"], g["bulge_factor"]
    a = cfg.count_slope
    lo, hi = (10 ** (a * m) for m in cfg.mag_range)
    mag = np.empty(n)
    hlr = np.empty(n)
    todo = np.arange(n)
    # rejection sampling per galaxy: a bulge-dominated disc passes a 4″ cut about once in 200 draws (it must be
    # among the brightest), so the cap is set well above that and only a cut nothing can pass exhausts it (a galaxy
    # that passed within 500 draws, the cap before, is drawn exactly as it was)
    for _ in range(20000):
        k = todo.size
        if k == 0:
            break
        m_try = np.log10(lo + rng.random(k) * (hi - lo)) / a
        h_try = cfg.hlr_at_16p5 * 10 ** (-0.2 * (m_try - 16.5)) * np.exp(rng.normal(0, cfg.hlr_scatter, k))
        h_try = np.clip(np.where(smooth[todo], h_try * 0.8, h_try), 0.6, cfg.hlr_max)
        r = ((1 - bt[todo]) + bt[todo] * bulge_factor[todo]) * h_try
        ok = np.sqrt(r**2 + _PSF_P50_TERM) >= cfg.min_petro_th50_arcsec
        mag[todo[ok]], hlr[todo[ok]] = m_try[ok], h_try[ok]
        todo = todo[~ok]
    if todo.size:
        raise GalvaeValueError(
            "MorphologyConfig: too few galaxies pass min_petro_th50_arcsec; lower it", cfg.min_petro_th50_arcsec
        )
    g["mag"], g["hlr"] = mag, hlr
    g["z"] = np.clip(0.1 * 10 ** (0.2 * (mag - 17.0)) * np.exp(rng.normal(0, 0.3, n)), 0.01, 0.3)
    g["bulge_hlr"] = hlr * bulge_factor
    bulge_q = np.where(smooth, g["q_smooth"], rng.uniform(0.7, 1.0, n))
    g["bulge_q"] = np.where(g["eob"] == "boxy", rng.uniform(0.55, 0.75, n), bulge_q)


def _draw_bars_and_arms(g: dict[str, Any], n: int, rng: np.random.Generator, cfg: MorphologyConfig) -> None:
    """Bar strength, length and angle; arm count, pitch angle and strength."""
    bar, arm_count = g["bar"], g["arm_count"]
    g["bar_strength"] = np.select(
        [bar == "strong", bar == "weak"], [rng.uniform(0.55, 1.0, n), rng.uniform(_WEAK_BAR[0], _WEAK_BAR[1], n)], 0.0
    )
    g["bar_len"] = np.where(g["bar_strength"] > 0, g["hlr"] * rng.uniform(0.6, 1.2, n), 0.0)
    g["bar_angle"] = rng.uniform(0, 180, n)
    n_arms = np.select(
        [arm_count == "1", arm_count == "2", arm_count == "3", arm_count == "4", arm_count == "more-than-4"],
        [1, 2, 3, 4, rng.choice([5, 6], n)],
        0,
    )
    pitch_limits = {**WINDING_PITCH_DEG, "x": (0.0, 0.0)}
    g["pitch"] = np.where(n_arms > 0, _uniform_in(rng, pitch_limits, np.where(n_arms > 0, g["winding"], "x")), np.nan)
    g["arm_strength"] = np.where(n_arms > 0, rng.uniform(*cfg.arm_strength, n), 0.0)
    g["n_arms"] = n_arms


def _draw_mergers(g: dict[str, Any], n: int, rng: np.random.Generator, balance: bool, cfg: MorphologyConfig) -> None:
    """Merger class, companion (magnitude, separation, angle), tidal strength and shells; the axis ratio."""
    mag, hlr, smooth = g["mag"], g["hlr"], g["smooth"]
    merging = _choice(rng, ("none", "minor-disturbance", "major-disturbance", "merger"), cfg.merging, n, balance)
    comp = (merging == "merger") | ((merging == "major-disturbance") & (rng.random(n) < 0.5))
    g["comp_mag"] = np.where(
        merging == "merger", mag + rng.uniform(0.0, 1.2, n), np.where(comp, mag + rng.uniform(1.0, 2.5, n), np.nan)
    )
    # 1-2.2 half-light radii: two nuclei in a common envelope.  No cap in arcsec: a fixed 6" had been kept from
    # the first 16.8" field and put 90 % of the default sample's companions at ~1 hlr, inside the main galaxy's
    # light (the 'fixed' profile still keeps them inside its field: simulate.core._draw_sample)
    g["comp_sep"] = np.where(comp, hlr * rng.uniform(1.0, 2.2, n), np.nan)
    g["comp_angle"] = np.where(comp, rng.uniform(0, 360, n), np.nan)
    tidal = np.select(
        [merging == "merger", merging == "major-disturbance", merging == "minor-disturbance"],
        [rng.uniform(0.4, 1.0, n), rng.uniform(0.5, 1.0, n), rng.uniform(0.15, 0.4, n)],
        0.0,
    )
    g["merging"], g["tidal"] = merging, tidal
    g["shells"] = smooth & (tidal > 0) & (rng.random(n) < 0.5)
    g["axis_ratio"] = np.where(
        smooth, g["q_smooth"], np.where(g["bt"] > 0.55, np.maximum(g["q_disk"], g["bulge_q"] * 0.9), g["q_disk"])
    )


def _truth_frame(g: dict[str, Any], n: int, rng: np.random.Generator) -> pd.DataFrame:
    """The ``truth_*`` columns, with each component's colours (one redness offset per galaxy)."""
    z, feat = g["z"], g["feat"]
    redness = rng.normal(0, 0.06, n)  # one offset per galaxy, shared by its components
    # discs without spiral arms (S0-like) are on the red sequence, a little bluer than their own bulges
    armless = feat & (np.asarray(g["has_arms"], dtype=object) == "no")

    def col(mean: float | np.ndarray) -> np.ndarray:
        return mean + redness + rng.normal(0, 0.04, n)

    return pd.DataFrame(
        {
            "truth_smooth_or_featured": g["sof"],
            "truth_how_rounded": g["rounded"],
            "truth_disk_edge_on": g["disk_edge_on"],
            "truth_edge_on_bulge": g["eob"],
            "truth_bar": g["bar"],
            "truth_has_spiral_arms": g["has_arms"],
            "truth_bulge_size": g["bulge_size"],
            "truth_spiral_winding": g["winding"],
            "truth_spiral_arm_count": g["arm_count"],
            "truth_merging": g["merging"],
            "truth_mag_r": g["mag"],
            "truth_redshift": z,
            "truth_hlr_arcsec": g["hlr"],
            "truth_axis_ratio": g["axis_ratio"],
            "truth_inclination_deg": np.where(feat, g["incl"], np.nan),
            "truth_pa_deg": rng.uniform(0, 180, n),
            "truth_bulge_to_total": g["bt"],
            "truth_sersic_n": g["sersic_n"],
            "truth_bulge_hlr_arcsec": g["bulge_hlr"],
            "truth_bulge_q": g["bulge_q"],
            "truth_disk_thickness": np.where(feat, g["thick"], np.nan),
            "truth_bar_strength": g["bar_strength"],
            "truth_bar_length_arcsec": g["bar_len"],
            "truth_bar_angle_deg": g["bar_angle"],
            "truth_arm_strength": g["arm_strength"],
            "truth_arm_pitch_deg": g["pitch"],
            "truth_n_arms": g["n_arms"].astype(np.int64),
            "truth_companion_mag_r": g["comp_mag"],
            "truth_companion_sep_arcsec": g["comp_sep"],
            "truth_companion_angle_deg": g["comp_angle"],
            "truth_tidal_strength": g["tidal"],
            "truth_shells": g["shells"],
            # named inline: the colours must be drawn in this order, after the columns above, for a seed's galaxies
            "truth_bulge_gr": (bulge_gr := col(0.80 + 1.0 * z)),
            "truth_bulge_rz": (bulge_rz := col(0.62)),
            "truth_disk_gr": np.where(armless, bulge_gr - _ARMLESS_DISC_BLUER[0], col(0.60 + 0.8 * z)),
            "truth_disk_rz": np.where(armless, bulge_rz - _ARMLESS_DISC_BLUER[1], col(0.47)),
            "truth_arm_gr": col(0.36 + 0.6 * z),
            "truth_arm_rz": col(0.30),
        }
    )


#: Pitch angle ranges (degrees) of the tight, medium and loose winding classes (sources in the module docs).
WINDING_PITCH_DEG: dict[str, tuple[float, float]] = {
    "tight": (5.0, 15.0),
    "medium": (15.0, 25.0),
    "loose": (25.0, 40.0),
}

#: How much bluer (g - r, r - z) a disc without spiral arms is than its own bulge.
_ARMLESS_DISC_BLUER = (0.05, 0.03)


def _draw_lopsidedness(
    df: pd.DataFrame, g: dict[str, Any], n: int, rng: np.random.Generator, cfg: MorphologyConfig
) -> None:
    """Lopsided discs (m = 1), drawn after the rings so that every column before keeps its value for a seed."""
    a1 = np.exp(np.log(max(cfg.lopsided_median, 1e-12)) + cfg.lopsided_scatter * rng.standard_normal(n))
    a1 = np.where(g["face"] & (cfg.lopsided_median > 0), np.minimum(a1, _LOPSIDED_MAX), 0.0)
    df["truth_lopsided_a1"] = a1
    df["truth_lopsided_angle_deg"] = np.where(a1 > 0, rng.uniform(0, 360, n), np.nan)


#: Bulge-to-total ratio from which a barred spiral may have ansae: Sab and earlier, by the mean bulge fraction of
#: a Hubble stage T, (10 - T)^2 / 256 (0.25 at T = 2; 0.19 at Sb, T = 3).
_ANSAE_MIN_BT = 0.25


def _draw_ansae(df: pd.DataFrame, g: dict[str, Any], n: int, rng: np.random.Generator, cfg: MorphologyConfig) -> None:
    """Ansae at the ends of bars of early-type discs, drawn after every other column (a seed keeps its galaxies)."""
    u = rng.random(n)
    barred = g["bar_strength"] > 0
    armless = np.asarray(g["has_arms"], dtype=object) == "no"
    p = np.where(armless, cfg.ansae[0], np.where(g["bt"] >= _ANSAE_MIN_BT, cfg.ansae[1], 0.0))
    df["truth_bar_ansae"] = barred & (u < p)


#: Type II breaks: radius (triangular: low, peak, high) and outer / inner scale length; Type III: radius, ratio.
_BREAK_II_RADIUS, _BREAK_II_RATIO = (1.5, 2.5, 4.5), (0.4, 0.7)
_BREAK_III_RADIUS, _BREAK_III_RATIO = (4.0, 6.0), (1.5, 2.5)


def _draw_disc_breaks(
    df: pd.DataFrame, g: dict[str, Any], n: int, rng: np.random.Generator, cfg: MorphologyConfig
) -> None:
    """Type I / II / III outer discs, drawn last so that every column before keeps its value for a seed."""
    armless = np.asarray(g["has_arms"], dtype=object) == "no"
    u = rng.random(n)
    p_arms, p_armless = np.cumsum(cfg.disc_break), np.cumsum(cfg.disc_break_armless)
    cum = np.where(armless[:, None], p_armless[None, :], p_arms[None, :])
    kind = np.asarray(["I", "II", "III"], dtype=object)[np.minimum((u[:, None] >= cum).sum(axis=1), 2)]
    kind = np.where(g["face"], kind, None)
    rd = g["hlr"] / 1.678  # disc scale length
    r2 = rng.triangular(*_BREAK_II_RADIUS, n)
    a2 = rng.uniform(*_BREAK_II_RATIO, n)
    r3 = rng.uniform(*_BREAK_III_RADIUS, n)
    a3 = rng.uniform(*_BREAK_III_RATIO, n)
    df["truth_disk_break"] = kind
    df["truth_disk_break_radius_arcsec"] = rd * np.where(kind == "II", r2, np.where(kind == "III", r3, np.nan))
    df["truth_disk_outer_scale_ratio"] = np.where(kind == "II", a2, np.where(kind == "III", a3, np.nan))


def _draw_rings(
    df: pd.DataFrame, g: dict[str, Any], n: int, rng: np.random.Generator, balance: bool, cfg: MorphologyConfig
) -> None:
    """Inner and outer rings, drawn last so that the columns before them keep their values for a seed."""
    ring = np.where(g["face"], _choice(rng, ("inner", "outer", "none"), cfg.ring, n, balance), None)
    has_ring = (ring == "inner") | (ring == "outer")
    rd = g["hlr"] / 1.678  # disc scale length
    bar_len = g["bar_len"]
    barred = g["bar_strength"] > 0
    inner_r = np.where(barred, bar_len * rng.uniform(0.9, 1.15, n), rd * rng.uniform(1.0, 2.0, n))
    outer_r = np.where(barred, bar_len * rng.uniform(2.0, 2.4, n), rd * rng.uniform(2.5, 3.5, n))
    ring_r = np.where(ring == "inner", inner_r, np.where(ring == "outer", outer_r, np.nan))
    df["truth_ring"] = ring
    df["truth_ring_radius_arcsec"] = ring_r
    df["truth_ring_width_arcsec"] = np.where(has_ring, ring_r * rng.uniform(0.08, 0.15, n), np.nan)
    df["truth_ring_strength"] = np.where(has_ring, rng.uniform(*cfg.ring_strength, n), 0.0)
