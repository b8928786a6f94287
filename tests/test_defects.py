"""Tests of the planted image defects (galvae.simulate.defects)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from galvae.config import config_from_dict, config_to_dict
from galvae.errors import GalvaeValueError
from galvae.simulate.defects import (
    DEFECT_KINDS,
    DefectConfig,
    StarSpec,
    add_star,
    assign_defects,
    plant_defect,
    sample_star,
)

FWHM = (1.29, 1.18, 1.11)
SKY = (0.004, 0.006, 0.015)
SCALE = 0.262
SAT = 100.0


def _image(size: int = 32, seed: int = 0) -> np.ndarray:
    """Sky noise plus a faint round galaxy at the centre."""
    rng = np.random.default_rng(seed)
    ys, xs = np.indices((size, size)) - (size - 1) / 2.0
    galaxy = 0.5 * np.exp(-0.5 * (xs**2 + ys**2) / 3.0**2)
    img = galaxy[None] * np.array([0.5, 1.0, 1.5])[:, None, None]
    return (img + rng.normal(0.0, 1.0, (3, size, size)) * np.array(SKY)[:, None, None]).astype(np.float32)


def _plant(image, kind, seed, **kw):
    kw = {"pixel_scale": SCALE, "psf_fwhm": FWHM, "sky_sigma": SKY, "saturation": SAT, **kw}
    return plant_defect(image, kind, np.random.default_rng(seed), **kw)


# ------------------------------------------------------------------ assignment


def test_assign_defects_fraction_and_kinds():
    n = 100_000
    cfg = DefectConfig(fraction=0.02)
    kinds = assign_defects(n, np.random.default_rng(0), cfg)
    assert kinds.shape == (n,) and kinds.dtype.kind == "U"
    assert set(np.unique(kinds)) == set(DEFECT_KINDS) | {"none"}
    hit = kinds != "none"
    sigma = math.sqrt(n * cfg.fraction * (1 - cfg.fraction))
    assert abs(hit.sum() - n * cfg.fraction) < 5 * sigma
    share = np.array([(kinds == k).sum() for k in DEFECT_KINDS]) / hit.sum()
    np.testing.assert_allclose(share, cfg.probabilities, atol=0.03)
    default = assign_defects(n, 1)
    assert abs((default != "none").sum() - 500) < 5 * math.sqrt(500)


def test_assign_defects_is_deterministic_and_checks_n():
    a = assign_defects(1000, 5, DefectConfig(fraction=0.1))
    b = assign_defects(1000, np.random.default_rng(5), DefectConfig(fraction=0.1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, assign_defects(1000, 6, DefectConfig(fraction=0.1)))
    assert assign_defects(0, 0).shape == (0,)
    assert (assign_defects(50, 0, DefectConfig(fraction=0.0)) == "none").all()
    with pytest.raises(GalvaeValueError, match="n must be a non-negative integer"):
        assign_defects(-1, 0)


# ------------------------------------------------------------------ bright stars


def test_star_lands_at_its_position_not_on_the_galaxy():
    img = _image(32)
    star = StarSpec(x_arcsec=2.5, y_arcsec=-1.6, mag_r=17.0, g_r=0.7, r_z=0.4)
    out, mask = add_star(img, star, pixel_scale=SCALE, psf_fwhm=FWHM, saturation=SAT)
    diff = (out - img)[1]
    row, col = np.unravel_index(np.argmax(diff), diff.shape)
    assert abs(col - (15.5 + 2.5 / SCALE)) <= 1 and abs(row - (15.5 - 1.6 / SCALE)) <= 1
    assert diff[15:17, 15:17].max() < 0.02 * diff.max()
    assert not mask.any()
    assert out.dtype == np.float32 and out.shape == img.shape


def test_star_flux_matches_its_magnitude():
    img = _image(64)
    star = StarSpec(1.0, -0.5, 19.0, 0.8, 0.5)
    out, _ = add_star(img, star, pixel_scale=SCALE, psf_fwhm=FWHM, saturation=SAT)
    np.testing.assert_allclose((out - img).sum(axis=(1, 2)), star.fluxes, rtol=0.02)
    assert star.fluxes[1] == pytest.approx(10 ** (-0.4 * (19.0 - 22.5)))
    assert star.fluxes[0] < star.fluxes[1] < star.fluxes[2]  # a red star: fainter in g
    # coarser pixels keep surface brightness per 0.262" pixel: flux = sum x (0.524 / 0.262)**2
    coarse = _image(32)
    out, _ = add_star(coarse, star, pixel_scale=2 * SCALE, psf_fwhm=FWHM, saturation=SAT)
    np.testing.assert_allclose((out - coarse).sum(axis=(1, 2)) * 4, star.fluxes, rtol=0.02)
    plain = DefectConfig(reference_pixel_scale=None)
    out, _ = add_star(coarse, star, pixel_scale=2 * SCALE, psf_fwhm=FWHM, saturation=SAT, config=plain)
    np.testing.assert_allclose((out - coarse).sum(axis=(1, 2)), star.fluxes, rtol=0.02)


def test_saturated_star_is_clipped_masked_and_bleeds_along_columns():
    img = _image(48)
    sat = (50.0, 80.0, 120.0)
    star = StarSpec(3.0, 0.0, 11.0, 0.7, 0.4)
    out, mask = add_star(img, star, pixel_scale=SCALE, psf_fwhm=FWHM, saturation=sat, rng=0)
    for b in range(3):
        assert out[b].max() <= sat[b]
        assert (out[b] == sat[b]).sum() > 10
    assert mask.any()
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    assert rows.size > 3 * cols.size  # a vertical bleed trail, longer than the core is wide
    assert np.all(np.abs(cols - (23.5 + 3.0 / SCALE)) < 6)
    at_level = out == np.array(sat, dtype=np.float32)[:, None, None]
    np.testing.assert_array_equal(mask, at_level.any(axis=0))  # masked = saturated in some band
    no_bleed = DefectConfig(bleed_efficiency=0.0)
    _, core = add_star(img, star, pixel_scale=SCALE, psf_fwhm=FWHM, saturation=sat, config=no_bleed)
    assert 0 < core.sum() < mask.sum()


def test_star_just_off_the_stamp_still_shows_and_bleeds_in():
    img = _image(32)
    star = StarSpec(0.0, 5.0, 10.5, 0.7, 0.4)  # 19 pixels above the centre, beyond the top row
    out, mask = add_star(img, star, pixel_scale=SCALE, psf_fwhm=FWHM, saturation=SAT)
    diff = out - img
    assert diff[1, -1, 14:18].mean() > 100 * SKY[1]  # wings near the star's side
    assert mask[:, 14:18].any()  # its bleed trail runs down into the stamp


def test_same_sky_star_in_two_surveys():
    star = StarSpec(2.0, 1.0, 16.0, 0.6, 0.3)
    img = np.zeros((3, 64, 64), dtype=np.float32)
    decals, _ = add_star(img, star, pixel_scale=SCALE, psf_fwhm=FWHM, saturation=1e6)
    bass, _ = add_star(img, star, pixel_scale=SCALE, psf_fwhm=(1.6, 1.5, 1.0), saturation=1e6)
    np.testing.assert_allclose(decals.sum(axis=(1, 2)), bass.sum(axis=(1, 2)), rtol=0.01)
    assert bass[0].max() < 0.8 * decals[0].max()  # the broader g PSF spreads the light


def test_sampled_stars_are_near_but_not_on_the_galaxy():
    rng = np.random.default_rng(3)
    cfg = DefectConfig()
    stars = [sample_star(rng, field_arcsec=16.8, config=cfg) for _ in range(300)]
    dist = np.hypot([s.x_arcsec for s in stars], [s.y_arcsec for s in stars]) / 8.4
    assert dist.min() >= 0.5 and dist.max() <= 1.3
    mags = np.array([s.mag_r for s in stars])
    assert mags.min() >= 10 and mags.max() <= 15
    assert (mags > 12.5).mean() > 0.6  # more faint stars than bright ones
    for seed in range(5):
        img = _image(32, seed)
        out, _ = _plant(img, "bright_star", seed)
        diff = (out - img).max(axis=0)
        row, col = np.unravel_index(np.argmax(diff), diff.shape)
        assert math.hypot(row - 15.5, col - 15.5) > 0.3 * 16
        assert diff.max() > 100 * max(SKY)


# ------------------------------------------------------------------ the other kinds


def test_satellite_trail_is_a_line_of_bright_pixels():
    for seed in range(6):
        img = _image(48, seed)
        out, mask = _plant(img, "satellite_trail", seed)
        diff = out - img
        assert not mask.any()
        bright = diff.max(axis=0) > 0.5 * diff.max()
        pts = np.argwhere(bright).astype(float)
        assert len(pts) >= 48 * 0.5
        evals = np.linalg.eigvalsh(np.cov(pts.T))
        assert evals[1] > 20 * evals[0]  # elongated: a line, not a blob
        span = pts.max(axis=0) - pts.min(axis=0)
        assert span.max() >= 0.9 * 47  # it crosses the stamp
        assert diff.max() >= 3 * min(SKY) * 0.9


def test_missing_band_is_zero_and_masked():
    img = _image(32)
    out, mask = _plant(img, "missing_band", 0)
    zero = [b for b in range(3) if not out[b].any()]
    assert len(zero) == 1
    others = [b for b in range(3) if b not in zero]
    np.testing.assert_array_equal(out[others], img[others])
    assert mask.all()


def test_bleed_trail_is_a_saturated_masked_column():
    for seed in range(5):
        img = _image(32, seed)
        out, mask = _plant(img, "bleed_trail", seed, saturation=(60.0, 70.0, 80.0))
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        assert 1 <= cols.size <= 3 and rows.size >= 0.3 * 32 - 1
        assert rows.size == rows.max() - rows.min() + 1  # one contiguous segment
        assert mask.sum() == rows.size * cols.size
        levels = np.array([[60.0], [70.0], [80.0]], dtype=np.float32)
        np.testing.assert_array_equal(out[:, mask], levels.repeat(mask.sum(), axis=1))
        np.testing.assert_array_equal(out[:, ~mask], img[:, ~mask])


def test_chip_edge_blanks_a_half_plane():
    sides = set()
    for seed in range(12):
        img = _image(32, seed)
        out, mask = _plant(img, "chip_edge", seed)
        full_rows = mask.all(axis=1)
        full_cols = mask.all(axis=0)
        if full_rows.any():
            region = np.flatnonzero(full_rows)
            assert mask.sum() == region.size * 32
            side = "top" if region[0] == 0 else "bottom"
            assert region[0] == 0 or region[-1] == 31
        else:
            region = np.flatnonzero(full_cols)
            assert mask.sum() == region.size * 32
            side = "left" if region[0] == 0 else "right"
            assert region[0] == 0 or region[-1] == 31
        assert region.size == region[-1] - region[0] + 1
        assert 0.1 * 32 - 1 <= region.size <= 0.45 * 32 + 1
        sides.add(side)
        assert not out[:, mask].any()
        np.testing.assert_array_equal(out[:, ~mask], img[:, ~mask])
    assert len(sides) >= 3


def test_none_and_determinism_and_input_untouched():
    img = _image(32)
    keep = img.copy()
    out, mask = _plant(img, "none", 0)
    np.testing.assert_array_equal(out, img)
    assert out is not img and not mask.any()
    for kind in DEFECT_KINDS:
        a, ma = _plant(img, kind, 42)
        b, mb = _plant(img, kind, 42)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ma, mb)
        assert not np.array_equal(a, img), kind
    np.testing.assert_array_equal(img, keep)


def test_bad_inputs_are_rejected():
    img = _image(16)
    with pytest.raises(GalvaeValueError, match="unknown defect kind.*'cosmic_ray'"):
        _plant(img, "cosmic_ray", 0)
    with pytest.raises(GalvaeValueError, match=r"image must have shape \(3, H, W\)"):
        _plant(img[:2], "chip_edge", 0)
    with pytest.raises(GalvaeValueError, match="psf_fwhm must be one or 3"):
        _plant(img, "bright_star", 0, psf_fwhm=(1.0, 1.0))
    with pytest.raises(GalvaeValueError, match="saturation must be one or 3 finite positive"):
        _plant(img, "bleed_trail", 0, saturation=-1.0)
    with pytest.raises(GalvaeValueError, match="pixel_scale"):
        _plant(img, "bright_star", 0, pixel_scale=0.0)
    with pytest.raises(GalvaeValueError, match="star must be a StarSpec"):
        add_star(img, (1.0, 2.0, 15.0), pixel_scale=SCALE, psf_fwhm=FWHM, saturation=SAT)


def test_defect_config_validation_and_round_trip():
    cfg = DefectConfig(fraction=0.01, weights=(1, 0, 0, 0, 1), reference_pixel_scale=None)
    assert config_from_dict(DefectConfig, config_to_dict(cfg)) == cfg
    np.testing.assert_allclose(cfg.probabilities, [0.5, 0, 0, 0, 0.5])
    with pytest.raises(GalvaeValueError, match="fraction"):
        DefectConfig(fraction=2.0)
    with pytest.raises(GalvaeValueError, match="weights must be 5 non-negative"):
        DefectConfig(weights=(0, 0, 0, 0, 0))
    with pytest.raises(GalvaeValueError, match="star_mag_range"):
        DefectConfig(star_mag_range=(15.0, 10.0))
    with pytest.raises(GalvaeValueError, match="bleed_width_range"):
        DefectConfig(bleed_width_range=(0, 2))
