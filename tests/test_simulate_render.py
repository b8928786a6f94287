"""GalSim rendering checks measured on the images themselves (galvae.simulate.render).

Each test measures a rendered image with a method independent of the renderer
(a numpy Moffat fit, HSM moments, azimuthal Fourier modes, pixel statistics)
and compares it with the configuration or the truth it was drawn from.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import galsim
import numpy as np
import pytest
from scipy.optimize import least_squares

from galvae.simulate import BASS_MZLS, DECALS, BandConfig, SurveyConfig, sample_truth
from galvae.simulate.render import (
    REFERENCE_PIXEL_SCALE,
    render_galaxy,
    render_point_source,
)
from galvae.simulate.surveys import colour_term_factors

FOV = 64 * REFERENCE_PIXEL_SCALE


def _row(**over):
    """A face-on pure disc at r = 15 with nothing else; ``over`` changes fields."""
    row = sample_truth(1, 0).iloc[0].to_dict()
    row.update(
        truth_smooth_or_featured="featured-or-disk",
        truth_mag_r=15.0,
        truth_hlr_arcsec=2.0,
        truth_inclination_deg=5.0,
        truth_disk_thickness=0.1,
        truth_bulge_to_total=0.0,
        truth_bar_strength=0.0,
        truth_bar_length_arcsec=0.0,
        truth_arm_strength=0.0,
        truth_n_arms=0,
        truth_arm_pitch_deg=float("nan"),
        truth_companion_mag_r=float("nan"),
        truth_tidal_strength=0.0,
        truth_shells=False,
        truth_edge_on_bulge=None,
        truth_pa_deg=30.0,
        truth_bulge_gr=0.8,
        truth_bulge_rz=0.6,
        truth_disk_gr=0.5,
        truth_disk_rz=0.4,
        truth_arm_gr=0.3,
        truth_arm_rz=0.2,
        truth_lopsided_a1=0.0,
        truth_lopsided_angle_deg=float("nan"),
        truth_disk_break=None,
        truth_disk_break_radius_arcsec=float("nan"),
        truth_disk_outer_scale_ratio=float("nan"),
    )
    row.update(over)
    return row


def _every_layer(**over):
    """An inclined barred two-armed spiral with a ring and tidal tails: every numpy layer the renderer makes."""
    row = _row(
        truth_hlr_arcsec=2.0,
        truth_inclination_deg=50.0,
        truth_bar_strength=0.7,
        truth_bar_length_arcsec=2.0,
        truth_bar_angle_deg=30.0,
        truth_arm_strength=0.5,
        truth_n_arms=2,
        truth_arm_pitch_deg=20.0,
        truth_ring_radius_arcsec=2.5,
        truth_ring_width_arcsec=0.4,
        truth_ring_strength=0.1,
        truth_tidal_strength=0.6,
    )
    row.update(over)
    return row


def _render(row, survey=DECALS, *, noise=False, seed=0, fov=FOV, neighbours=False):
    """The galaxy alone by default (neighbours are tested in tests/test_field.py and below)."""
    return render_galaxy(
        row,
        survey,
        fov_arcsec=fov,
        galaxy_rng=np.random.default_rng(seed),
        survey_rng=np.random.default_rng(seed + 1),
        noise=noise,
        neighbours=neighbours,
    )


def _moffat_fwhm(image: np.ndarray, scale: float, beta: float) -> float:
    """FWHM (arcsec) of a Moffat of fixed beta fitted by least squares, integrating over each pixel (numpy only)."""
    n = image.shape[0]
    sub = 8
    off = (np.arange(sub) + 0.5) / sub - 0.5
    c = np.arange(n) - (n - 1) / 2

    def model(p):
        amp, x0, y0, fwhm = p
        alpha = fwhm / (2 * math.sqrt(2 ** (1 / beta) - 1)) / scale
        xs = (c[:, None] + off[None, :]).ravel() - x0
        ys = (c[:, None] + off[None, :]).ravel() - y0
        prof = (1 + (xs[None, :] ** 2 + ys[:, None] ** 2) / alpha**2) ** (-beta)
        return amp * prof.reshape(n, sub, n, sub).mean(axis=(1, 3))

    fit = least_squares(lambda p: (model(p) - image).ravel(), x0=[image.max(), 0.0, 0.0, 4 * scale])
    return float(fit.x[3])


@pytest.mark.parametrize("survey", [DECALS, BASS_MZLS], ids=lambda s: s.name)
def test_point_source_fwhm_on_the_native_pixel_grid(survey):
    for band in survey.bands:
        img = render_point_source(survey, band.name, size=32)
        assert img.scale == band.native_pixel_scale_arcsec
        measured = _moffat_fwhm(img.array, img.scale, band.psf_beta)
        assert measured == pytest.approx(band.psf_fwhm_arcsec, rel=0.05), band.name
        assert img.array.sum() == pytest.approx(1000.0, rel=0.01)


def test_per_galaxy_psf_scatter_is_lognormal_with_the_configured_width():
    row = _row(truth_mag_r=30.0)
    logs = np.array([np.log(_render(row, DECALS, seed=s, fov=4.0).psf_fwhm) for s in range(0, 240, 2)])
    median = np.exp(np.median(logs, axis=0))
    np.testing.assert_allclose(median, [b.psf_fwhm_arcsec for b in DECALS.bands], rtol=0.04)
    np.testing.assert_allclose(logs.std(axis=0), [b.psf_fwhm_scatter for b in DECALS.bands], rtol=0.25)
    fixed = SurveyConfig(
        "fixed", bands=tuple(BandConfig(b.name, psf_fwhm_arcsec=1.0, psf_fwhm_scatter=0.0) for b in DECALS.bands)
    )
    assert np.all(_render(row, fixed, seed=3, fov=4.0).psf_fwhm == 1.0)


@pytest.mark.parametrize("survey", [DECALS, BASS_MZLS], ids=lambda s: s.name)
@pytest.mark.parametrize("extra", [0.0, 0.13], ids=["whole", "fractional"])
def test_served_sky_noise_matches_the_reported_sigma(survey, extra):
    """Blank sky through the whole path, resampling of BASS g, r included.

    A field of a fractional number of pixels (a gz-decals field) is drawn on the served grid itself for DECaLS:
    resampled by half a pixel, its noise would be correlated and ~25 % lower than reported.
    """
    row = _row(truth_mag_r=40.0)
    r = _render(row, survey, noise=True, seed=4, fov=3 * FOV + extra)
    measured = r.image[:, 8:-8, 8:-8].std(axis=(1, 2))
    np.testing.assert_allclose(measured, r.sky_sigma, rtol=0.04)
    # BASS g, r: native 0.454" noise spread over 0.262" pixels is lower per pixel than on the native grid
    if survey is BASS_MZLS:
        assert np.all(r.sky_sigma[:2] < 0.6 * np.array([b.sky_sigma for b in survey.bands[:2]]))
        # and correlated between neighbouring pixels, unlike DECaLS
        g = r.image[0, 8:-8, 8:-8]
        assert np.corrcoef(g[:, :-1].ravel(), g[:, 1:].ravel())[0, 1] > 0.3


def test_resampled_bass_images_keep_flux_and_surface_brightness():
    row = _row(truth_mag_r=16.0, truth_hlr_arcsec=1.0)
    d = _render(row, DECALS).image
    b = _render(row, BASS_MZLS).image
    assert d.shape == b.shape == (3, 64, 64)
    # the same fluxes once BASS+MzLS's colour terms (at this pure disc's colour) are taken out
    fd = d.sum(axis=(1, 2))
    np.testing.assert_allclose(b.sum(axis=(1, 2)), fd * colour_term_factors(BASS_MZLS, fd), rtol=0.02)


def test_colour_terms_reference_values():
    # legacypipe ps1cat.py (15 Nov 2018): m_90prime - m_decam in g at g - i = 1 is
    # (0.00464 + 0.08672 - 0.00668 - 0.00255) - (0.00062 + 0.03604 + 0.01028 - 0.00613) = 0.04132
    assert BASS_MZLS.band("g").colour_term_mag(1.0) == pytest.approx(0.04132, abs=1e-6)
    # z: (0.03664 - 0.11084 + 0.04477 - 0.01223) - (0.02583 - 0.07690 + 0.02824 - 0.00898) = -0.00985
    assert BASS_MZLS.band("z").colour_term_mag(1.0) == pytest.approx(-0.00985, abs=1e-6)
    # clipped to the stars' g - i range [0.4, 2.7]
    assert BASS_MZLS.band("g").colour_term_mag(5.0) == BASS_MZLS.band("g").colour_term_mag(2.7)
    assert np.all(colour_term_factors(DECALS, [[1.0, 2.0, 3.0], [5.0, 1.0, 0.2]]) == 1.0)


def test_colour_terms_shift_a_red_bulge_and_a_blue_disc_differently():
    # g - i = g - r + (r - z) / 2: bulge 1.3, disc 0.4 (same r-band flux, noiseless)
    red = _row(
        truth_smooth_or_featured="smooth",
        truth_sersic_n=4.0,
        truth_axis_ratio=1.0,
        truth_inclination_deg=float("nan"),
        truth_bulge_gr=1.0,
        truth_bulge_rz=0.6,
    )
    blue = _row(truth_disk_gr=0.25, truth_disk_rz=0.3)
    ratios = []
    for row in (red, blue):
        d = _render(row, DECALS, fov=40.0).image.sum(axis=(1, 2))
        b = _render(row, BASS_MZLS, fov=40.0).image.sum(axis=(1, 2))
        ratios.append(b / d)
    dm = -2.5 * np.log10(np.array(ratios))  # m_BASS - m_DECam per band
    gi = np.array([1.3, 0.4])
    for k, band in enumerate("grz"):
        expect = BASS_MZLS.band(band).colour_term_mag(gi)
        np.testing.assert_allclose(dm[:, k], expect, atol=0.004)  # 0.4 % photometry of the resampled grid
    assert dm[0, 0] - dm[1, 0] > 0.02  # the red bulge loses more g light than the blue disc


def test_zero_point_sets_the_image_unit():
    ab = SurveyConfig("ab", bands=tuple(BandConfig(b) for b in "grz"))
    zp = SurveyConfig("zp", bands=tuple(BandConfig(b, zero_point=21.5) for b in "grz"))
    row = _row(truth_mag_r=16.0, truth_hlr_arcsec=1.0)
    a, z = _render(row, ab), _render(row, zp)
    np.testing.assert_allclose(z.image, a.image / 10**0.4, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(z.sky_sigma, a.sky_sigma / 10**0.4, rtol=1e-12)


@pytest.mark.parametrize("sersic_n", [1.0, 4.0])
def test_smooth_galaxy_flux_and_colour(sersic_n):
    row = _row(
        truth_smooth_or_featured="smooth",
        truth_sersic_n=sersic_n,
        truth_mag_r=16.0,
        truth_hlr_arcsec=1.5,
        truth_axis_ratio=0.7,
        truth_inclination_deg=float("nan"),
    )
    img = _render(row, fov=40.0).image
    f = img.sum(axis=(1, 2))
    assert f[1] == pytest.approx(10 ** (-0.4 * (16.0 - 22.5)), rel=0.03)
    assert -2.5 * math.log10(f[0] / f[1]) == pytest.approx(0.8, abs=0.03)  # g - r of the bulge colour
    assert -2.5 * math.log10(f[1] / f[2]) == pytest.approx(0.6, abs=0.03)  # r - z


def _q_and_angle(image):
    mom = galsim.hsm.FindAdaptiveMom(galsim.Image(image.astype(np.float64)))
    return mom.observed_shape.q, mom.observed_shape.beta.deg % 180


def test_measured_axis_ratio_follows_inclination_and_position_angle():
    qs = []
    for incl in (5.0, 45.0, 70.0, 88.0):
        q, angle = _q_and_angle(_render(_row(truth_inclination_deg=incl, truth_hlr_arcsec=3.0)).image[1])
        qs.append(q)
        if incl >= 45:
            assert angle == pytest.approx(30.0, abs=5.0)  # the position angle of the disc
    assert qs[0] > 0.9 and qs[-1] < 0.4
    assert all(a > b for a, b in itertools.pairwise(qs))  # monotonic in inclination


def test_bars_elongate_the_centre_along_the_bar():
    plain = _render(_row(truth_hlr_arcsec=2.5)).image[1]
    barred = _render(
        _row(truth_hlr_arcsec=2.5, truth_bar_strength=0.9, truth_bar_length_arcsec=2.5, truth_bar_angle_deg=80.0)
    ).image[1]
    c = slice(22, 42)  # the central 5"
    q_plain, _ = _q_and_angle(plain[c, c])
    q_bar, angle = _q_and_angle(barred[c, c])
    assert q_plain > 0.9 and q_bar < q_plain - 0.15
    # the bar is drawn at bar angle in the disc plane, then rotated by the PA (disc almost face-on)
    assert angle == pytest.approx((80.0 + 30.0) % 180, abs=8.0)


@pytest.mark.parametrize(("bar_angle", "pitch"), [(0.0, 15.0), (50.0, 25.0), (130.0, 35.0)])
def test_arms_leave_the_ends_of_a_bar_and_stay_out_of_it(bar_angle, pitch):
    # face-on two-armed barred spiral; the arms alone = with arms - without (the bar and the disc cancel but for
    # the disc light the arms took, which is axisymmetric)
    length = 6.0  # 4.6 PSF FWHM: the blur barely moves the light of the ring just outside the bar
    base = {"truth_hlr_arcsec": 8.0, "truth_inclination_deg": 0.0, "truth_pa_deg": 0.0, "truth_mag_r": 13.0}
    bar = {"truth_bar_strength": 0.8, "truth_bar_length_arcsec": length, "truth_bar_angle_deg": bar_angle}
    arms = {"truth_n_arms": 2, "truth_arm_pitch_deg": pitch, "truth_arm_strength": 0.5}
    fov = 50.0
    spiral = _render(_row(**base, **bar, **arms), fov=fov).image[0]
    diff = spiral - _render(_row(**base, **bar), fov=fov).image[0]
    n = diff.shape[0]
    y, x = np.indices(diff.shape) - (n - 1) / 2
    r, phi = np.hypot(x, y) * REFERENCE_PIXEL_SCALE, np.arctan2(y, x)
    # unwind the arms' ridges (phi = bar angle + ln(r / L) / tan(pitch) from the bar's tip outwards): the m = 2
    # phase of what is left is the angle where the ridges start, and it is the bar's
    ring = (r > length) & (r < 1.6 * length)
    ridge = np.radians(bar_angle) + np.log(r[ring] / length) / math.tan(math.radians(pitch))
    off = np.degrees(np.angle(np.sum(diff[ring] * np.exp(2j * (phi[ring] - ridge))))) / 2
    assert abs(off) < 8.0, off
    # inside half the bar the arms add almost nothing; the same arms in an unbarred disc fill it more
    unbarred = _render(_row(**base, **arms), fov=fov).image[0] - _render(_row(**base), fov=fov).image[0]
    inner = r < 0.5 * length
    outside = r > 1.5 * length
    inside_barred = diff[inner & (diff > 0)].sum() / diff[outside].sum()
    inside_plain = unbarred[inner & (unbarred > 0)].sum() / unbarred[outside].sum()
    assert inside_barred < 0.02 and inside_plain > 2 * inside_barred, (inside_barred, inside_plain)


def _azimuthal_power(image, m):
    """Mean over 0.5"-wide annuli (1.5-6") of |m-th azimuthal Fourier mode| / annulus flux."""
    n = image.shape[0]
    y, x = np.indices(image.shape) - (n - 1) / 2
    r = np.hypot(x, y) * REFERENCE_PIXEL_SCALE
    phi = np.arctan2(y, x)
    amps = []
    for lo in np.arange(1.5, 6.0, 0.5):
        ring = (r >= lo) & (r < lo + 0.5)
        w = image[ring]
        amps.append(abs(np.sum(w * np.exp(-1j * m * phi[ring]))) / np.sum(w))
    return float(np.mean(amps))


@pytest.mark.parametrize("arms", [1, 2, 3, 4])
def test_spiral_arms_show_as_azimuthal_modes(arms):
    base = {"truth_hlr_arcsec": 3.0, "truth_mag_r": 14.5}
    plain = _render(_row(**base)).image
    spiral = _render(_row(**base, truth_n_arms=arms, truth_arm_strength=0.5, truth_arm_pitch_deg=20.0)).image
    power = {m: _azimuthal_power(spiral[0], m) for m in range(1, 5)}  # g band
    assert max(power, key=power.get) == arms
    assert power[arms] > 0.07
    assert power[arms] > 3 * _azimuthal_power(plain[0], arms)
    # arms are bluer than the disc: they raise g relative to z
    assert spiral[0].sum() / spiral[2].sum() > plain[0].sum() / plain[2].sum()


@pytest.mark.parametrize("a1", [0.11, 0.3])
def test_a_lopsided_disc_has_the_drawn_m1_amplitude_and_keeps_its_flux(a1):
    base = {"truth_hlr_arcsec": 3.0, "truth_mag_r": 14.5, "truth_inclination_deg": 0.0, "truth_pa_deg": 0.0}
    plain = _render(_row(**base)).image[1]
    lop = _render(_row(**base, truth_lopsided_a1=a1, truth_lopsided_angle_deg=30.0)).image[1]
    n = lop.shape[0]
    y, x = np.indices(lop.shape) - (n - 1) / 2
    r = np.hypot(x, y) * REFERENCE_PIXEL_SCALE
    rd = 3.0 / 1.678
    ring = (r >= 1.5 * rd) & (r < 2.5 * rd)  # where Rudnick & Rix (1998) average <A1/A0>
    c1 = np.sum(lop[ring] * np.exp(-1j * np.arctan2(y, x)[ring])) / lop[ring].sum()
    # I (1 + A1 cos) has the complex m = 1 coefficient A1 / 2; the PSF smooths it a little
    assert 2 * abs(c1) == pytest.approx(a1, rel=0.15)
    assert lop.sum() == pytest.approx(plain.sum(), rel=0.01)
    c1_plain = np.sum(plain[ring] * np.exp(-1j * np.arctan2(y, x)[ring])) / plain[ring].sum()
    assert 2 * abs(c1_plain) < 0.01


def _radial_profile(image: np.ndarray, radii_arcsec: np.ndarray, width: float = 0.5) -> np.ndarray:
    """Mean of a centred image in annuli ``[r, r + width)`` arcsec."""
    n = image.shape[0]
    y, x = np.indices(image.shape) - (n - 1) / 2
    r = np.hypot(x, y) * REFERENCE_PIXEL_SCALE
    return np.array([image[(r >= a) & (r < a + width)].mean() for a in radii_arcsec])


@pytest.mark.parametrize(("kind", "radius", "ratio"), [("II", 2.5, 0.5), ("III", 3.0, 2.0)])
def test_a_broken_disc_has_the_drawn_outer_scale_length_and_keeps_its_flux(kind, radius, ratio):
    rd = 3.0 / 1.678  # scale length (arcsec) of a 3" half-light radius: the outer one is still wider than the PSF
    base = {"truth_hlr_arcsec": 3.0, "truth_mag_r": 14.0, "truth_inclination_deg": 0.0}
    # a field as wide as the numpy layers (2 (6 r_hl + 2")): the light a Type III break adds is all inside it
    plain = _render(_row(**base), fov=160 * REFERENCE_PIXEL_SCALE).image[1]
    broken = _render(
        _row(
            **base,
            truth_disk_break=kind,
            truth_disk_break_radius_arcsec=radius * rd,
            truth_disk_outer_scale_ratio=ratio,
        ),
        fov=160 * REFERENCE_PIXEL_SCALE,
    ).image[1]
    assert broken.sum() == pytest.approx(plain.sum(), rel=0.01)  # the disc keeps its light
    # beyond the break (one scale length past it, clear of the PSF's reach) the profile falls with h_out
    a, b = (radius + 1.0) * rd, (radius + 3.0) * rd
    pa_, pb = _radial_profile(broken, np.array([a, b]))
    assert (b - a) / math.log(pa_ / pb) == pytest.approx(ratio * rd, rel=0.15)
    qa, qb = _radial_profile(plain, np.array([a, b]))
    assert (b - a) / math.log(qa / qb) == pytest.approx(rd, rel=0.15)
    # inside the break the shape is the unbroken disc's (only rescaled to keep the flux)
    inner = _radial_profile(broken, np.array([0.5, 1.0, 1.5]) * rd) / _radial_profile(
        plain, np.array([0.5, 1.0, 1.5]) * rd
    )
    assert inner.max() / inner.min() == pytest.approx(1.0, abs=0.02)
    assert (inner > 1.0).all() if kind == "II" else (inner < 1.0).all()


def test_companion_and_tidal_features_add_light_where_the_truth_puts_them():
    base = _row(truth_hlr_arcsec=1.0, truth_mag_r=16.0)
    merger = dict(
        base,
        truth_companion_mag_r=16.5,
        truth_companion_sep_arcsec=5.0,
        truth_companion_angle_deg=0.0,
        truth_tidal_strength=0.8,
        truth_merging="merger",
    )
    a, b = _render(base).image[1], _render(merger).image[1]
    # the companion sits 5" (19 px) along +x of the centre (x is the second array axis)
    cy, cx = 31.5, 31.5 + 5.0 / REFERENCE_PIXEL_SCALE
    y, x = np.indices(b.shape)
    near = np.hypot(x - cx, y - cy) < 3
    assert b[near].sum() > 20 * a[near].sum()
    # tidal light lies beyond the galaxy and the companion
    far = (np.hypot(x - 31.5, y - 31.5) > 12) & ~(np.hypot(x - cx, y - cy) < 8)
    assert b[far].sum() > 3 * a[far].sum()


def test_same_galaxy_rng_gives_the_same_structure_in_every_survey():
    row = _row(
        truth_arm_strength=0.5, truth_n_arms=2, truth_arm_pitch_deg=15.0, truth_hlr_arcsec=3.0, truth_tidal_strength=0.5
    )
    a = _render(row, DECALS, seed=3).image
    b = _render(row, DECALS, seed=3).image
    c = _render(row, DECALS, seed=5).image
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)  # knots and tails come from the galaxy stream


def test_render_point_source_rejects_a_bad_band():
    with pytest.raises(ValueError, match="band.*'i'"):
        render_point_source(DECALS, "i")


# --------------------------------------------------------------------------- presented visibility (gz-decals, 64 px)


def _present(row, *, noise, seed=0, size=64, survey=DECALS):
    """The gz-decals presentation of one galaxy alone: its own field, brought to S x S, stretched."""
    from galvae.data.preprocess import crop_and_resize, stretch
    from galvae.data.presentation import GZ_DECALS_STRETCH
    from galvae.simulate.present import presentation_field

    fov = presentation_field(row, survey, "gz-decals", FOV).field_arcsec
    r = _render(row, survey, noise=noise, seed=seed, fov=fov)
    return stretch(crop_and_resize(r.image, None, size)[0], GZ_DECALS_STRETCH)


def test_a_strong_bar_shows_above_the_noise_at_the_gz_decals_presentation():
    """Bar minus no bar, inside the bar's region, exceeds the noise there (64 px, presented)."""
    base = {
        "truth_hlr_arcsec": 4.0,
        "truth_mag_r": 16.0,
        "truth_bulge_to_total": 0.1,
        "truth_bulge_hlr_arcsec": 0.6,
        "truth_bar_angle_deg": 60.0,
    }
    plain = _row(**base)
    barred = _row(**base, truth_bar_strength=0.8, truth_bar_length_arcsec=4.0)
    a, b = _present(plain, noise=False), _present(barred, noise=False)
    noisy = np.stack([_present(barred, noise=True, seed=s) for s in (11, 13, 15)])
    sigma = (noisy - b).std(axis=0)  # per-pixel noise of the presented image
    diff = (b - a)[1]  # r band
    region = diff > 0.5 * diff.max()
    assert region.sum() >= 6  # the bar covers several output pixels
    # mean excess over the region, against the noise of that mean
    assert diff[region].mean() > 5 * sigma[1][region].mean() / math.sqrt(region.sum())
    # and pixel by pixel it is above the noise at the bar's ridge
    assert np.median(diff[region] / sigma[1][region]) > 1.0


def _a2max(image: np.ndarray, scale: float, r_max: float) -> float:
    """Largest m = 2 Fourier amplitude |sum I e^(2i phi)| / sum I over 0.5-arcsec annuli out to ``r_max``."""
    n = image.shape[0]
    y, x = np.indices((n, n)) - (n - 1) / 2
    r, phi = np.hypot(x, y) * scale, np.arctan2(y, x)
    best = 0.0
    for r0 in np.arange(0.5, r_max, 0.5):
        m = (r >= r0 - 0.25) & (r < r0 + 0.25)
        best = max(best, abs((image[m] * np.exp(2j * phi[m])).sum()) / image[m].sum())
    return best


def test_a_bar_gathers_the_inner_disc_light_and_reaches_the_literature_m2_amplitude():
    """Face-on disc, hlr 4", B/T 0.2, bar half-length 4": flux kept, disc depleted across the bar, A2max ordered.

    Literature (see galvae.simulate.render): bars are detected at A2 >~ 0.2, strong bars have A2max >~ 0.4.
    Measured 2026-12-04 on this galaxy: no bar 0.00, weak (s = 0.25) 0.16, strong (s = 0.8) 0.44; across the bar 0.74x the unbarred disc.
    """
    base = {
        "truth_hlr_arcsec": 4.0,
        "truth_inclination_deg": 0.0,
        "truth_bulge_to_total": 0.2,
        "truth_bulge_hlr_arcsec": 0.6,
        "truth_bar_angle_deg": 0.0,
        "truth_bar_length_arcsec": 4.0,
    }
    fov = 40.0
    images = {s: _render(_row(**base, truth_bar_strength=s), fov=fov).image for s in (0.0, 0.25, 0.8)}
    scale = fov / images[0.0].shape[-1]
    flux = {s: im.sum(axis=(1, 2)) for s, im in images.items()}
    assert flux[0.8][1] == pytest.approx(flux[0.0][1], rel=0.005)  # the bar moves r-band light, adds none
    assert all(im.min() > -1e-6 * im.max() for im in images.values())  # the depleted disc stays non-negative
    a2 = {s: _a2max(im[1], scale, 8.0) for s, im in images.items()}
    assert a2[0.0] < 0.03
    assert 0.1 < a2[0.25] < a2[0.8]
    assert a2[0.8] > 0.35
    # across the bar (perpendicular to it, at half its length) the disc is fainter than without a bar
    n = images[0.0].shape[-1]
    c, off = (n - 1) // 2, int(round(2.0 / scale))
    assert images[0.8][1][c + off, c] < 0.8 * images[0.0][1][c + off, c]


def test_ansae_brighten_the_ends_of_a_bar_and_keep_its_flux():
    """Face-on disc, bar half-length 4" at 0 deg, PA 30: ansae move light from the bar's middle to its ends."""
    base = {
        "truth_hlr_arcsec": 4.0,
        "truth_inclination_deg": 0.0,
        "truth_bulge_to_total": 0.3,
        "truth_bulge_hlr_arcsec": 1.0,
        "truth_bar_angle_deg": 0.0,
        "truth_bar_length_arcsec": 4.0,
        "truth_bar_strength": 0.8,
    }
    fov = 40.0
    plain, ansae = (_render(_row(**base, truth_bar_ansae=a), fov=fov).image for a in (False, True))
    assert ansae.sum(axis=(1, 2)) == pytest.approx(plain.sum(axis=(1, 2)), rel=1e-3)  # light moved, not added
    n = plain.shape[-1]
    scale = fov / n
    c = (n - 1) / 2
    pa = math.radians(30.0)  # the bar lies along the disc's major axis here: bar angle 0, then the PA

    def at(d):  # r-band pixel value at distance d (arcsec) along the bar from the centre (x right, y up)
        x, y = c + d * math.cos(pa) / scale, c + d * math.sin(pa) / scale
        return plain[1][round(y), round(x)], ansae[1][round(y), round(x)]

    for d in (3.6, -3.6):  # 0.9 half-lengths out
        p, a = at(d)
        assert a > 1.15 * p
    p, a = at(1.5)  # the bar's middle gave that light
    assert a < p
    # an ansa sits on the bar's axis: across the bar at the same radius nothing changes much
    x, y = c - 3.6 * math.sin(pa) / scale, c + 3.6 * math.cos(pa) / scale
    assert ansae[1][round(y), round(x)] == pytest.approx(plain[1][round(y), round(x)], rel=0.05)


def test_a_ring_shows_above_the_noise_at_its_radius_and_keeps_the_flux():
    """Ring minus no ring, in the annulus at the ring's radius, exceeds the noise (64 px, presented)."""
    base = {"truth_hlr_arcsec": 4.0, "truth_mag_r": 15.5, "truth_inclination_deg": 0.0}
    plain = _row(**base)
    ringed = _row(
        **base, truth_ring="outer", truth_ring_radius_arcsec=6.0, truth_ring_width_arcsec=0.6, truth_ring_strength=0.12
    )
    # noiseless, on a field holding the whole disc, the ring only moves r-band light (colours are
    # normalised to r); being blue (the arms' colour) it adds g and takes z
    fa, fb = (_render(r, fov=4 * FOV).image.sum(axis=(1, 2)) for r in (plain, ringed))
    assert fb[1] == pytest.approx(fa[1], rel=0.003)
    assert fb[0] > fa[0] * 1.01 and fb[2] < fa[2] * 0.995
    a, b = _present(plain, noise=False), _present(ringed, noise=False)
    noisy = np.stack([_present(ringed, noise=True, seed=s) for s in (11, 13, 15)])
    sigma = (noisy - b).std(axis=0)
    diff = (b - a)[1]
    n = diff.shape[0]
    y, x = np.indices((n, n)) - (n - 1) / 2
    rr = np.hypot(x, y)
    peak_r = float(np.median(rr[diff > 0.5 * diff.max()]))  # the brightened annulus, in output pixels
    region = diff > 0.5 * diff.max()
    assert region.sum() >= 20  # an annulus, not a spot
    assert rr[region].std() < 0.25 * peak_r  # thin: its pixels sit at one radius
    assert diff[region].mean() > 5 * sigma[1][region].mean() / math.sqrt(region.sum())
    assert np.median(diff[region] / sigma[1][region]) > 1.0
    # the ring takes light from the disc inside it: the centre is fainter than without the ring
    assert diff[rr < 0.3 * peak_r].mean() < 0


def test_arm_strength_changes_the_m2_mode_of_a_face_on_disc():
    base = {"truth_hlr_arcsec": 4.0, "truth_mag_r": 15.5, "truth_inclination_deg": 0.0}
    plain = _row(**base)
    spiral = _row(**base, truth_n_arms=2, truth_arm_strength=0.6, truth_arm_pitch_deg=20.0)
    a, b = _present(plain, noise=False, size=128), _present(spiral, noise=False, size=128)
    n = 128
    y, x = np.indices((n, n)) - (n - 1) / 2
    rr, phi = np.hypot(x, y), np.arctan2(y, x)

    def m2(img):
        """Mean over 2-px annuli (6-30 px) of |m = 2 mode| / annulus light, on the presented r band."""
        amps = []
        for lo in range(6, 30, 2):
            ring = (rr >= lo) & (rr < lo + 2)
            w = img[1][ring] - img[1].min()
            amps.append(abs(np.sum(w * np.exp(-2j * phi[ring]))) / np.sum(w))
        return float(np.mean(amps))

    assert m2(a) < 0.01
    assert m2(b) > 0.1


def test_red_bulge_and_blue_disc_keep_their_colour_order_after_presentation():
    from galvae.data.preprocess import inverse_stretch
    from galvae.data.presentation import GZ_DECALS_STRETCH

    row = _row(
        truth_hlr_arcsec=4.0,
        truth_mag_r=15.5,
        truth_bulge_to_total=0.4,
        truth_bulge_hlr_arcsec=1.0,
        truth_sersic_n=4.0,
        truth_bulge_q=0.9,
        truth_bulge_gr=0.9,
        truth_disk_gr=0.55,
    )
    img = inverse_stretch(_present(row, noise=False), GZ_DECALS_STRETCH)
    n = img.shape[-1]
    y, x = np.indices((n, n)) - (n - 1) / 2
    rr = np.hypot(x, y)
    centre, outer = rr < 2, (rr > 6) & (rr < 14)
    gr = [-2.5 * math.log10(img[0][m].sum() / img[1][m].sum()) for m in (centre, outer)]
    assert gr[0] > gr[1] + 0.15


def test_neighbours_are_the_same_in_both_surveys_and_do_not_depend_on_the_galaxy_features():
    row = _row(truth_mag_r=40.0)  # no galaxy: only the field's neighbours
    fov = 120.0
    d = _render(row, DECALS, fov=fov, neighbours=True, seed=7).image
    b = _render(row, BASS_MZLS, fov=fov, neighbours=True, seed=7).image
    assert d[1].sum() > 0
    # the same sources at the same places: the r-band images correlate strongly despite different PSFs
    assert np.corrcoef(d[1].ravel(), b[1].ravel())[0, 1] > 0.8
    np.testing.assert_allclose(b.sum(axis=(1, 2)), d.sum(axis=(1, 2)), rtol=0.05)
    # a galaxy with a bar sees the same neighbours as without it (the galaxy stream is not consumed)
    bright = _row(truth_hlr_arcsec=2.0, truth_mag_r=30.0, truth_bar_strength=0.9, truth_bar_length_arcsec=2.0)
    c = _render(bright, DECALS, fov=fov, neighbours=True, seed=7).image
    np.testing.assert_allclose(c, d, atol=1e-4)  # the r = 30 galaxy adds ~1e-3 nmgy in all


def test_the_sky_a_pipeline_would_estimate_from_the_neighbours_is_subtracted():
    from galvae.simulate.render import SKY_EXPOSURES, pipeline_sky

    row = _row(truth_mag_r=40.0)  # no galaxy: the field's neighbours and the noise
    sig = DECALS.band("r").sky_sigma
    sig1 = sig * math.sqrt(SKY_EXPOSURES)
    would, offset = [], []
    for seed in range(6):
        clean = _render(row, DECALS, fov=60.0, neighbours=True, noise=False, seed=seed).image[1].astype(np.float64)
        noisy = _render(row, DECALS, fov=60.0, neighbours=True, noise=True, seed=seed).image[1].astype(np.float64)
        exposure_noise = np.random.default_rng(200 + seed).standard_normal(clean.shape) * sig1
        # on one exposure the unmasked neighbours' light lifts the median: 0.048-0.071 sigma (mean 0.058) measured
        would.append(pipeline_sky(clean + exposure_noise, sig) / sig)
        # ... so the rendered image's empty sky sits that much below the noiseless one (-0.036 to -0.087)
        offset.append(np.median(noisy - clean) / sig)
    assert np.mean(would) > 0.03
    assert np.mean(offset) < -0.03
    # pure noise gives no sky (the median's own scatter is ~0.01 sigma here), a bright star is masked out
    pure = np.random.default_rng(0).standard_normal((230, 230)) * sig1
    assert abs(pipeline_sky(pure, sig)) < 0.03 * sig
    star = pure.copy()
    yy, xx = np.indices(star.shape)
    star += 50 * sig1 * np.exp(-((yy - 80.0) ** 2 + (xx - 120.0) ** 2) / (2 * 2.0**2))
    assert pipeline_sky(star, sig) == pytest.approx(pipeline_sky(pure, sig), abs=0.01 * sig)
    # hand values: a faint plateau over 60 % of a noiseless field is below 5 sigma1, unmasked, and is the median;
    # above 5 sigma1 it is masked (and grown by 3 pixels), and the median is the empty rest's
    plateau = np.zeros((100, 100))
    plateau[:60, :] = 0.5 * sig1
    assert pipeline_sky(plateau, sig) == pytest.approx(0.5 * sig1, rel=1e-12)
    plateau[:60, :] = 6.0 * sig1
    assert pipeline_sky(plateau, sig) == 0.0


def test_the_sky_box_takes_in_the_galaxys_unmasked_outskirts():
    """outskirts_sky: the target's light below legacypipe's mask threshold, spread over a 512-pixel box."""
    from galvae.simulate.render import SKY_BOX_ARCSEC, SKY_EXPOSURES, outskirts_sky

    sig = DECALS.band("r").sky_sigma
    sig1 = sig * math.sqrt(SKY_EXPOSURES)
    box = (SKY_BOX_ARCSEC / 0.262) ** 2  # 512² = 262144 pixels
    assert box == pytest.approx(512**2)
    plateau = np.zeros((100, 100))
    plateau[25:75, 25:75] = 0.1 * sig1  # below the mask's 5 σ₁ per pixel: unmasked

    # hand values (normal CDF from the standard library's erf): 2500 pixels over a box with nothing masked, each
    # pulling the median by sqrt(2 pi) (Phi(s / sigma1) - 1/2) sigma1: 0.09983 sigma1 for s = 0.1 sigma1 (~ s) ...
    def pull(t: float) -> float:
        return math.sqrt(2 * math.pi) * 0.5 * math.erf(t / math.sqrt(2))

    assert pull(0.1) == pytest.approx(0.099834, abs=1e-6)
    assert outskirts_sky(plateau, sig, 0.262) == pytest.approx(pull(0.1) * sig1 * 2500 / 512**2, rel=1e-9)
    assert outskirts_sky(np.zeros((100, 100)), sig, 0.262) == 0.0
    # ... but a pixel far above the median moves it by one rank only: 4 sigma1 pulls 1.2532 sigma1, not 4
    assert pull(4.0) == pytest.approx(1.253235, abs=1e-6)  # the limit is sqrt(pi / 2) = 1.25331
    assert outskirts_sky(40 * plateau, sig, 0.262) == pytest.approx(pull(4.0) * sig1 * 2500 / 512**2, rel=1e-9)
    # one of 6 sigma1 is masked (5 sigma1 per pixel), so nothing is left
    assert outskirts_sky(60 * plateau, sig, 0.262) == 0.0
    # a galaxy's extended, faint light counts; larger at the same magnitude means more of it below the threshold
    small = _render(_row(truth_mag_r=15.0, truth_hlr_arcsec=1.0), fov=60.0).image[1].astype(np.float64)
    large = _render(_row(truth_mag_r=15.0, truth_hlr_arcsec=4.0), fov=60.0).image[1].astype(np.float64)
    shift_small, shift_large = outskirts_sky(small, sig, 0.262), outskirts_sky(large, sig, 0.262)
    assert 0 < shift_small < shift_large
    # one exposure's noise widens the mask, so less light stays in the box's median
    noise = np.random.default_rng(0).standard_normal(large.shape) * sig1
    assert outskirts_sky(large, sig, 0.262, noise) < 0.9 * shift_large


def test_a_bright_extended_galaxy_is_over_subtracted_as_in_the_real_images():
    """The rendered image sits below the noiseless one by the pipeline's sky rise; not so for a faint galaxy."""
    sig = DECALS.band("r").sky_sigma
    # without the smooth sky residual (zero mean, but each image's mean scatters by ~0.1 σ)
    flat = dataclasses.replace(DECALS, sky_residual=0.0)
    offsets = {}
    for mag in (15.0, 22.0):
        row = _row(truth_mag_r=mag, truth_hlr_arcsec=4.0)
        clean = _render(row, flat, fov=60.0).image[1]
        offsets[mag] = np.mean(
            [(_render(row, flat, fov=60.0, noise=True, seed=s).image[1] - clean).mean() for s in range(6)]
        )
    # measured: -0.0081 σ at r = 15, -0.0013 σ at r = 22; each image's mean noise scatters by σ / 229 (0.0018 σ
    # over six), the same draws at both magnitudes, so their difference is sharper
    assert offsets[15.0] - offsets[22.0] < -0.005 * sig
    assert abs(offsets[22.0]) < 0.004 * sig


def test_tidal_tails_are_the_sum_of_their_two_dimensional_gaussians():
    """The separable evaluation of the tails equals the direct one (a 2-D exponential per blob) to rounding."""
    from galvae.simulate.render import _grid, _tidal_layer

    row = {"truth_hlr_arcsec": 2.0, "truth_shells": False}
    fov = 24.0
    layer = _tidal_layer(row, fov, np.random.default_rng(3))
    x, y, _ = _grid(fov)
    rng = np.random.default_rng(3)  # the layer's draws, in its order
    theta0 = rng.uniform(0, 2 * math.pi)
    curl = rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.4)
    t = np.linspace(0.0, 1.0, 24)
    direct = np.zeros_like(x)
    for side in (0.0, math.pi):
        rad, ang = 2.0 * (0.8 + 3.0 * t), theta0 + side + curl * t
        width = 0.35 + 0.5 * t
        for xi, yi, wi, wt in zip(rad * np.cos(ang), rad * np.sin(ang), width, (1 - 0.7 * t) / width**2, strict=True):
            direct += wt * np.exp(-((x - xi) ** 2 + (y - yi) ** 2) / (2 * wi**2))
    np.testing.assert_allclose(layer, direct, rtol=1e-12, atol=1e-12 * direct.max())
    assert direct.max() > 1.0  # the tails are on the grid


def test_fast_dilation_is_scipys():
    from scipy import ndimage

    from galvae.simulate.render import _dilate

    rng = np.random.default_rng(3)
    for shape, p, it in (((40, 37), 0.02, 2), ((25, 25), 0.1, 3), ((9, 12), 0.3, 1)):
        mask = rng.random(shape) < p
        mask[0, 5] = mask[-1, -1] = True  # the edges too
        np.testing.assert_array_equal(_dilate(mask, it), ndimage.binary_dilation(mask, iterations=it))


def test_layers_covering_the_disc_draw_what_layers_covering_the_field_draw(monkeypatch):
    """Arms, bar hole, ring and tails are drawn on the central 2 (6 r_hl + 2") of a large field, not all of it."""
    import galvae.simulate.render as render

    row = _every_layer(truth_inclination_deg=40.0, truth_ring_strength=0.5)
    fov = 70.0
    assert 2 * (6 * 2.0 + 2.0) < fov
    cropped = _render(row, fov=fov).image
    monkeypatch.setattr(render, "_LAYER_MARGIN", fov)  # layers over the whole field again
    whole = _render(row, fov=fov).image
    assert np.abs(cropped - whole).max() < 1e-4 * whole.max()


@pytest.mark.parametrize("n", [120, 121])
def test_one_drawing_of_the_components_for_all_bands_is_galsims_band_by_band(n):
    """_draw_galaxy_bands against GalSim's drawImage per band: a barred spiral with a ring, a companion and tails."""
    from galvae.simulate.render import _GSP, _draw_galaxy_bands, galaxy_profiles, make_psf

    row = _every_layer(
        truth_bulge_to_total=0.3,
        truth_bulge_hlr_arcsec=0.6,
        truth_companion_mag_r=17.0,
        truth_companion_sep_arcsec=6.0,
        truth_companion_angle_deg=40.0,
    )
    fov = n * REFERENCE_PIXEL_SCALE
    profiles = galaxy_profiles(row, fov, np.random.default_rng(0))
    assert any((f < 0).any() for _, f in profiles)  # the bar's disc hole: negative flux
    psfs = [make_psf(b, w) for b, w in zip(DECALS.bands, (1.5, 1.3, 1.1), strict=True)]
    shared = _draw_galaxy_bands(profiles, [0, 1, 2], psfs, n, REFERENCE_PIXEL_SCALE)
    for b, psf in enumerate(psfs):
        image = galsim.ImageF(n, n, scale=REFERENCE_PIXEL_SCALE)
        parts = [p * float(f[b]) for p, f in profiles if f[b] != 0]
        galsim.Convolve(galsim.Add(parts), psf, gsparams=_GSP).drawImage(image=image)
        # float32 rounding apart, the same pixels: centre, pixel response, every component
        assert np.abs(shared[b] - image.array).max() < 1e-6 * image.array.max()
