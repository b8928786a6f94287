"""Neighbouring stars and galaxies (galvae.simulate.field): densities, magnitudes, one stream per galaxy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from galvae import GalvaeValueError
from galvae.simulate.field import FieldConfig, draw_neighbours, neighbour_profiles, neighbour_rng


def test_counts_scale_with_field_area_and_follow_the_configured_density():
    cfg = FieldConfig()
    small = [len(draw_neighbours(60.0, np.random.default_rng(s))) for s in range(200)]
    large = [len(draw_neighbours(120.0, np.random.default_rng(1000 + s))) for s in range(200)]
    assert np.mean(large) / np.mean(small) == pytest.approx(4.0, rel=0.1)
    n_gal, n_star = cfg.expected_counts((60.0 / 3600) ** 2)
    assert np.mean(small) == pytest.approx(n_gal + n_star, rel=0.08)
    # tens of galaxies per 1-2' field to r = 23.5; a few hundred to ~1000 stars per deg² to r = 21
    assert 5 < n_gal < 40
    assert 300 < FieldConfig().star_n_at_21 < 2000


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
    ],
)
def test_config_errors_name_the_field(kwargs, match):
    with pytest.raises(GalvaeValueError, match=match):
        FieldConfig(**kwargs)


def test_bad_field_is_refused():
    with pytest.raises(GalvaeValueError, match="fov_arcsec"):
        draw_neighbours(math.nan, np.random.default_rng(0))
