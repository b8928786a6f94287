"""Neighbouring stars and galaxies (galvae.simulate.field): densities, magnitudes, one stream per galaxy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from galvae import GalvaeValueError
from galvae.simulate.field import (
    FieldConfig,
    draw_companions,
    draw_neighbours,
    expected_companions,
    neighbour_profiles,
    neighbour_rng,
)


def test_counts_scale_with_field_area_and_follow_the_configured_density():
    cfg = FieldConfig()
    small = [len(draw_neighbours(60.0, np.random.default_rng(s))) for s in range(200)]
    large = [len(draw_neighbours(120.0, np.random.default_rng(1000 + s))) for s in range(200)]
    assert np.mean(large) / np.mean(small) == pytest.approx(4.0, rel=0.1)
    n_gal, n_star = cfg.expected_counts((60.0 / 3600) ** 2)
    assert np.mean(small) == pytest.approx(n_gal + n_star, rel=0.08)
    # tens of galaxies per 1-2′ field to r = 23.5
    assert 5 < n_gal < 40
    # Chen et al. (2001): 2080 stars per deg² to g = 21 at 49° < |b| < 64°, ≈ 2900 to r = 21
    assert 2000 < FieldConfig().star_n_at_21 < 4000


def test_magnitudes_follow_the_counts_and_faint_galaxies_are_small():
    nb = [draw_neighbours(200.0, np.random.default_rng(s)) for s in range(20)]
    mag = np.concatenate([n.mag_r[~n.is_star] for n in nb])
    hlr = np.concatenate([n.hlr[~n.is_star] for n in nb])
    # dN/dm ∝ 10^(0.45 m): one magnitude fainter, 10^0.45 ≈ 2.8 times more
    ratio = ((mag > 22) & (mag < 23)).sum() / ((mag > 21) & (mag < 22)).sum()
    assert ratio == pytest.approx(10**0.45, rel=0.15)
    assert np.median(hlr[mag > 22]) < np.median(hlr[mag < 20])
    assert mag.min() >= 16.0 and mag.max() <= 23.5


def test_neighbour_stream_does_not_advance_the_galaxy_stream():
    g = np.random.default_rng(np.random.SeedSequence([1, 2, 3]))
    before = g.bit_generator.state
    a = neighbour_rng(g).random(5)
    assert g.bit_generator.state == before
    b = neighbour_rng(g).random(5)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, g.random(5))


def test_profiles_carry_fluxes_in_three_bands_and_positions_in_the_field():
    src = neighbour_profiles(90.0, np.random.default_rng(4))
    assert src
    for prof, fluxes, (x, y, hlr) in src:
        assert fluxes.shape == (3,) and (fluxes > 0).all()
        assert abs(x) <= 45 and abs(y) <= 45 and hlr >= 0
        assert prof.flux == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"star_n_at_21": -1.0}, "star_n_at_21"),
        ({"galaxy_count_slope": 0.0}, "galaxy_count_slope"),
        ({"galaxy_mag_range": (23.0, 16.0)}, "galaxy_mag_range"),
        ({"companion_r0": -1.0}, "companion_r0"),
        ({"companion_gamma": 3.0}, "companion_gamma"),
        ({"companion_faint_abs": -24.0}, "companion_faint_abs"),
        ({"companion_min_sep_hlr": math.nan}, "companion_min_sep_hlr"),
    ],
)
def test_config_errors_name_the_field(kwargs, match):
    with pytest.raises(GalvaeValueError, match=match):
        FieldConfig(**kwargs)


def test_bad_field_is_refused():
    with pytest.raises(GalvaeValueError, match="fov_arcsec"):
        draw_neighbours(math.nan, np.random.default_rng(0))


# --- faint galaxies (r 23.5-26) and the batched drawing of faint point sources


def test_faint_galaxies_follow_the_flatter_faint_counts():
    from galvae.simulate.field import draw_faint_galaxies

    cfg = FieldConfig()
    n = [draw_faint_galaxies(60.0, np.random.default_rng(s))[0].size for s in range(100)]
    expected = cfg.expected_faint_counts((60.0 / 3600) ** 2)
    assert np.mean(n) == pytest.approx(expected, rel=0.05)
    # continuing 1000 x 10^(0.45 (r - 20)) at r = 23.5 with slope 0.3 to r = 26: 2.5e5 per deg², i.e. ~70
    # in a 60" field, twice the galaxies to r = 23.5 (Hogg et al. 1997 count 6.3e5 to R = 26: not too many)
    assert 50 < expected < 100 and expected > 1.5 * cfg.expected_counts((60.0 / 3600) ** 2)[0]
    x, y, fl = draw_faint_galaxies(300.0, np.random.default_rng(1))
    mag = 22.5 - 2.5 * np.log10(fl[:, 1])
    assert mag.min() >= 23.5 - 1e-9 and mag.max() <= 26.0 + 1e-9
    # dN/dm ∝ 10^(0.3 m): 25-26 holds 10^0.3 ≈ 2.0 times 24-25
    assert ((mag > 25) & (mag < 26)).sum() / ((mag > 24) & (mag < 25)).sum() == pytest.approx(10**0.3, rel=0.12)
    assert np.abs(x).max() <= 150 and np.abs(y).max() <= 150 and (fl > 0).all()
    assert draw_faint_galaxies(60.0, np.random.default_rng(0), FieldConfig(faint_galaxy_limit=23.0))[0].size == 0
    with pytest.raises(GalvaeValueError, match="faint_galaxy_slope"):
        FieldConfig(faint_galaxy_slope=0.0)


def test_neighbour_profiles_add_the_faint_galaxies_as_point_sources_after_the_bright_ones():
    import galsim

    from galvae.simulate.field import draw_faint_galaxies

    bright = draw_neighbours(60.0, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    draw_neighbours(60.0, rng)
    faint = draw_faint_galaxies(60.0, rng)
    src = neighbour_profiles(60.0, np.random.default_rng(3))
    # the bright neighbours are drawn first, so they are those of draw_neighbours with the same stream
    assert len(src) == len(bright) + faint[0].size
    points = [s for s in src if s[2][2] == 0 and isinstance(s[0], galsim.DeltaFunction)]
    assert len(points) >= faint[0].size


def test_point_sources_drawn_together_match_their_stamps():
    import galsim

    from galvae.simulate.field import _STAR_STAMP_FLUX, add_sources

    psf = galsim.Moffat(beta=3.5, fwhm=1.2)
    faint, bright = 0.5, 2.0 * _STAR_STAMP_FLUX
    for x, y in [(0.0, 0.0), (1.37, -2.11), (-5.05, 3.3)]:
        together = galsim.ImageF(101, 101, scale=0.262)
        stamp = galsim.ImageF(101, 101, scale=0.262)
        # below _STAR_STAMP_FLUX a point goes through the one inverse FFT, above it gets its own GalSim stamp
        add_sources(together, [(galsim.DeltaFunction(), np.full(3, faint), (x, y, 0.0))], 0, psf, 1.2)
        add_sources(stamp, [(galsim.DeltaFunction(), np.full(3, bright), (x, y, 0.0))], 0, psf, 1.2)
        a, b = together.array / faint, stamp.array / bright
        yy, xx = np.indices(a.shape)
        assert a.sum() == pytest.approx(1.0, abs=0.01) and b.sum() == pytest.approx(1.0, abs=0.01)
        # placed exactly (a phase, not a bilinear spread): the same centroid and peak
        for w in (xx, yy):
            assert (a * w).sum() / a.sum() == pytest.approx((b * w).sum() / b.sum(), abs=0.01)
        assert a.max() == pytest.approx(b.max(), rel=0.02)
        # and where the stamp says: 50 + x / 0.262 in array columns
        assert (a * xx).sum() / a.sum() == pytest.approx(50 + x / 0.262, abs=0.02)


def test_faint_small_galaxies_drawn_together_keep_flux_place_and_size():
    import galsim

    from galvae.simulate.field import _SMALL_FLUX, _SMALL_HLR_EDGES, add_sources

    psf = galsim.Moffat(beta=3.5, fwhm=1.2)
    for hlr in (0.2, 0.4, 0.59):
        assert hlr <= _SMALL_HLR_EDGES[-1]
        gal = galsim.Exponential(half_light_radius=hlr)
        f_faint, f_bright = 0.5 * _SMALL_FLUX, 2.0 * _SMALL_FLUX
        faint = galsim.ImageF(101, 101, scale=0.262)
        bright = galsim.ImageF(101, 101, scale=0.262)
        add_sources(faint, [(gal, np.full(3, f_faint), (2.21, -3.05, hlr))], 1, psf, 1.2)  # drawn together
        add_sources(bright, [(gal, np.full(3, f_bright), (2.21, -3.05, hlr))], 1, psf, 1.2)  # its own stamp
        a, b = faint.array / f_faint, bright.array / f_bright
        yy, xx = np.indices(a.shape)
        assert a.sum() == pytest.approx(1.0, abs=0.01) and b.sum() == pytest.approx(1.0, abs=0.01)
        for w in (xx, yy):
            assert (a * w).sum() / a.sum() == pytest.approx((b * w).sum() / b.sum(), abs=0.02)
        # the same width to 5 % (a round exponential of the bin's size) and peak to 10 %
        ca, cb = (a * xx).sum() / a.sum(), (b * xx).sum() / b.sum()
        assert (a * (xx - ca) ** 2).sum() / a.sum() == pytest.approx((b * (xx - cb) ** 2).sum() / b.sum(), rel=0.05)
        assert a.max() == pytest.approx(b.max(), rel=0.1)


def test_sources_drawn_together_spill_over_the_edge_without_wrapping_round():
    import galsim

    from galvae.simulate.field import add_sources

    psf = galsim.Moffat(beta=3.5, fwhm=1.2)
    half = 50 * 0.262
    img = galsim.ImageF(101, 101, scale=0.262)
    # a point just outside the left edge and one far outside: only the first adds light, on the left only
    add_sources(
        img,
        [
            (galsim.DeltaFunction(), np.full(3, 2.0), (-half - 0.5, 0.0, 0.0)),
            (galsim.DeltaFunction(), np.full(3, 2.0), (-half - 30.0, 0.0, 0.0)),
        ],
        0,
        psf,
        1.2,
    )
    a = img.array
    assert 0.2 < a.sum() / 2.0 < 0.5  # the inner side of one source's light
    assert np.abs(a[:, 60:]).max() < 1e-6 * a.max()  # nothing wrapped round onto the right-hand side


@pytest.mark.parametrize("n", [8, 9, 312, 315])
def test_phases_are_the_fourier_shift_of_a_point(n):
    from galvae.simulate.field import _phases

    pos = np.array([0.0, 1.25, n / 3.7, n - 0.5])
    expected = np.exp(-2j * np.pi * np.outer(pos, np.fft.fftfreq(n)))
    got = _phases(pos, n)
    if n % 2 == 0:  # the Nyquist term of a real signal: the cosine, the mean of +1/2 and -1/2
        np.testing.assert_allclose(got[:, n // 2], expected[:, n // 2].real, atol=1e-12)
        got, expected = np.delete(got, n // 2, axis=1), np.delete(expected, n // 2, axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-11)


def test_all_bands_at_once_match_each_band_drawn_alone():
    """draw_sources shares the phases between bands; a source bright in one band gets a stamp in that band only."""
    import galsim

    from galvae.simulate.field import _SMALL_FLUX, add_sources, draw_sources

    psfs = [galsim.Moffat(beta=3.5, fwhm=w) for w in (1.5, 1.3, 1.1)]
    sources = neighbour_profiles(30.0, np.random.default_rng(4))
    red = galsim.Exponential(half_light_radius=0.4)  # a stamp in z, drawn together in g and r
    sources.append((red, np.array([0.2, 1.0, 3.0 * _SMALL_FLUX]), (2.0, -3.0, 0.4)))
    together = draw_sources((115, 115), 0.262, sources, [0, 1, 2], psfs, [1.5, 1.3, 1.1])
    for b, psf in enumerate(psfs):
        alone = galsim.ImageF(115, 115, scale=0.262)
        add_sources(alone, sources, b, psf, [1.5, 1.3, 1.1][b])
        # the same to 1 % of the brightest pixel (in z the red galaxy is on a stamp, but still one of its size
        # bin's members when the three bands are drawn together)
        assert np.abs(together[b] - alone.array).max() < 1e-2 * alone.array.max()
    assert together[2].sum() > 3.0 * _SMALL_FLUX


# --- the galaxy's own companions (its group; clustering)

#: SDSS Main-sample clustering (companions are off by default).
GROUP = FieldConfig(companion_r0=5.0)


def _power_law_companions(r0: float, gamma: float, fov: float, hlr: float, z: float) -> float:
    """The expected count from scratch: n̄ ∫ w_p(r_p) 2π r_p dr_p by quadrature, w_p of a power-law ξ (Davis & Peebles)."""
    from astropy.cosmology import FlatLambdaCDM
    from scipy import integrate, special

    cosmo = FlatLambdaCDM(H0=70, Om0=0.3)
    d_m = cosmo.comoving_transverse_distance(z).value * 0.7  # h^-1 Mpc
    mu = cosmo.distmod(z).value
    faint = min(-16.0, 23.5 - mu + 5 * math.log10(0.7))

    def phi(m: float) -> float:  # Blanton et al. (2003) Schechter function per magnitude
        x = 10 ** (-0.4 * (m + 20.44))
        return 0.4 * math.log(10) * 0.0149 * x ** (1 - 1.05) * math.exp(-x)

    n_bar = integrate.quad(phi, -23.0, faint)[0]
    amp = r0**gamma * special.beta(0.5, (gamma - 1) / 2)  # w_p = amp r_p^(1 - gamma)
    per = d_m * math.pi / 648000
    lo, hi = 2 * hlr * per, fov / math.sqrt(2) * per
    return n_bar * integrate.quad(lambda r: amp * r ** (1 - gamma) * 2 * math.pi * r, lo, hi)[0]


def test_companion_counts_follow_the_power_law_correlation_function():
    # the closed form against quadrature, and against the draws (which keep the square's share of the disc)
    for z in (0.03, 0.07, 0.15):
        assert expected_companions(60.0, 4.0, z, GROUP) == pytest.approx(
            _power_law_companions(5.0, 1.8, 60.0, 4.0, z), rel=1e-3
        )
    mean = expected_companions(60.0, 4.0, 0.07, GROUP)
    assert 0.2 < mean < 0.6  # a few tenths of a galaxy per cutout: about the field galaxies' count as bright
    draws = [draw_companions(60.0, np.random.default_rng(s), 16.5, 4.0, 0.07, GROUP) for s in range(3000)]
    radius = np.concatenate([np.hypot(d.x, d.y) for d in draws])
    # the square keeps all of the disc within 30″ and part beyond: between that share and the whole disc
    inner = mean * (30.0**1.2 - 8.0**1.2) / ((60.0 / math.sqrt(2)) ** 1.2 - 8.0**1.2)
    assert inner * 0.9 < len(radius) / 3000 < mean
    assert radius.min() >= 8.0  # no closer than two half-light radii
    # surface density ∝ r^-0.8: the 8-16″ annulus holds (16^1.2 - 8^1.2) / (30^1.2 - 8^1.2) of those within 30″
    share = ((radius >= 8) & (radius < 16)).sum() / (radius < 30).sum()
    assert share == pytest.approx((16**1.2 - 8**1.2) / (30**1.2 - 8**1.2), abs=0.05)
    assert expected_companions(60.0, 4.0, 0.07) == 0  # off by default
    assert len(draw_companions(60.0, np.random.default_rng(0), 16.5, 4.0, 0.07)) == 0


def test_companions_follow_the_luminosity_function_at_the_galaxys_distance():
    near = [draw_companions(80.0, np.random.default_rng(s), 15.0, 5.0, 0.03, GROUP) for s in range(1500)]
    far = [draw_companions(80.0, np.random.default_rng(s), 15.0, 5.0, 0.10, GROUP) for s in range(1500)]
    m_near = np.concatenate([d.mag_r for d in near])
    m_far = np.concatenate([d.mag_r for d in far])
    # the same luminosities 2.6 mag fainter at 0.10 than at 0.03 (distance moduli 35.6 and 38.2 for h = 0.7)
    assert np.median(m_far) - np.median(m_near) == pytest.approx(2.6, abs=0.4)
    assert not np.concatenate([d.is_star for d in near]).any()
    # constant surface brightness: a companion 2.5 mag fainter than the galaxy has 0.32 its half-light radius
    d = next(d for d in far if len(d))
    np.testing.assert_allclose(d.hlr, np.clip(5.0 * 10 ** (-0.2 * (d.mag_r - 15.0)), 0.3, 20.0))


def test_companions_come_after_the_field_and_leave_it_as_it_was():
    host = (15.5, 5.0, 0.08)
    grew = 0
    for seed in range(40):
        plain = neighbour_profiles(70.0, np.random.default_rng(seed), GROUP)
        with_host = neighbour_profiles(70.0, np.random.default_rng(seed), GROUP, host)
        assert len(neighbour_profiles(70.0, np.random.default_rng(seed), None, host)) == len(plain)  # off by default
        assert len(with_host) >= len(plain)
        for (_, f_a, at_a), (_, f_b, at_b) in zip(plain, with_host[: len(plain)], strict=True):
            assert at_a == at_b and np.array_equal(f_a, f_b)
        extra = with_host[len(plain) :]
        assert all(hlr >= 0.3 and math.hypot(x, y) >= 10.0 for _, _, (x, y, hlr) in extra)  # 2 half-light radii out
        grew += bool(extra)
    assert grew >= 5  # ~0.5 companions per 70″ field at z = 0.08
    with pytest.raises(GalvaeValueError, match="host_hlr_arcsec"):
        draw_companions(60.0, np.random.default_rng(0), 16.0, 0.0, 0.07)
