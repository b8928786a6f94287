"""Simulator tests: surveys, morphology priors, GalSim rendering and the full run.

Reference values: configured PSF FWHMs and depths are those of
galvae.simulate.surveys (Dey et al. 2019); the tolerances are the issue's (FWHM 5 %).
"""

from __future__ import annotations

import dataclasses
import math

import galsim
import h5py
import numpy as np
import pandas as pd
import pytest

from galvae import GalvaeFileError, GalvaeKeyError, GalvaeValueError, ImageStore, labels_from_catalog
from galvae.cli import main
from galvae.data.labels import TABLE2_RULES
from galvae.simulate import (
    BASS_MZLS,
    DECALS,
    DR5_PASS_FRACTIONS,
    BandConfig,
    SimulationConfig,
    SurveyConfig,
    get_survey,
    load_survey,
    sample_truth,
    simulate,
    vote_fractions,
)
from galvae.simulate.morphology import MorphologyConfig, approximate_petro_th50
from galvae.simulate.render import (
    _draw_native,
    _pass_quantiles,
    render_galaxy,
    render_point_source,
    sky_residual_field,
)

FOV = 64 * 0.262


def _row(**over):
    row = sample_truth(1, 0).iloc[0].to_dict()
    row.update(
        truth_smooth_or_featured="featured-or-disk",
        truth_mag_r=15.0,
        truth_hlr_arcsec=1.0,
        truth_inclination_deg=10.0,
        truth_disk_thickness=0.1,
        truth_bulge_to_total=0.0,
        truth_bar_strength=0.0,
        truth_arm_strength=0.0,
        truth_n_arms=0,
        truth_companion_mag_r=float("nan"),
        truth_tidal_strength=0.0,
        truth_edge_on_bulge=None,
        truth_pa_deg=30.0,
    )
    row.update(over)
    return row


def _render(row, survey=DECALS, noise=False, seed=0):
    return render_galaxy(
        row,
        survey,
        fov_arcsec=FOV,
        galaxy_rng=np.random.default_rng(seed),
        survey_rng=np.random.default_rng(seed + 1),
        noise=noise,
    )


@pytest.mark.parametrize("survey", [DECALS, BASS_MZLS], ids=lambda s: s.name)
@pytest.mark.parametrize("band", ["g", "r", "z"])
def test_point_source_fwhm_matches_configuration(survey, band):
    b = survey.band(band)
    img = render_point_source(survey, band, size=160, pixel_scale=b.native_pixel_scale_arcsec / 8)
    assert img.calculateFWHM() == pytest.approx(b.psf_fwhm_arcsec, rel=0.05)
    # on the native grid the pixel response widens it only slightly
    native = render_point_source(survey, band, size=48)
    assert native.array.sum() == pytest.approx(1000.0, rel=0.01)


@pytest.mark.parametrize("survey", [DECALS, BASS_MZLS], ids=lambda s: s.name)
def test_sky_noise_matches_depth(survey):
    rng = np.random.default_rng(5)
    for i, band in enumerate(survey.bands):
        img = _draw_native([], i, band, galsim.Gaussian(fwhm=1.0), 3 * FOV, rng)
        assert img.array.std() == pytest.approx(band.sky_sigma, rel=0.03)
    # DECaLS g from its 24.25 mag 5-sigma depth (simulate/surveys.py): 10**(-0.4 * 1.75) / (5 * sqrt(NEA)) with
    # NEA = 4 pi ((1.29 / 2.3548)**2 + (0.45 / 1.1774)**2) / 0.262**2 = 81.6 pixels: 0.00442 nanomaggies per pixel
    assert DECALS.band("g").sky_sigma == pytest.approx(0.00442, rel=0.01)


def test_a_galaxys_passes_set_its_sky_noise():
    rng = np.random.default_rng(6)
    band = DECALS.band("r")
    one = _draw_native([], 1, band, galsim.Gaussian(fwhm=1.0), 3 * FOV, rng, passes=1)
    # one pass of three: sqrt(3) times the full depth's noise
    assert one.array.std() == pytest.approx(band.sky_sigma * math.sqrt(3), rel=0.03)
    row = _row(truth_mag_r=40.0)
    seen = set()
    for seed in range(0, 40, 2):
        r = _render(row, DECALS, noise=True, seed=seed)
        full = np.array([b.sky_sigma for b in DECALS.bands])
        np.testing.assert_allclose(r.sky_sigma, full * np.sqrt(3 / r.passes), rtol=1e-6)
        seen |= set(r.passes.tolist())
        assert (_render(row, BASS_MZLS, seed=seed).passes == 3).all()  # the finished BASS+MzLS
    assert seen == {1, 2, 3}
    shallow = DECALS.at_passes([1, 2, 3])
    np.testing.assert_allclose([b.sky_sigma for b in shallow.bands], full * np.sqrt([3, 1.5, 1]))
    assert all(b.pass_fractions == () for b in shallow.bands)
    with pytest.raises(GalvaeValueError, match=r"passes must be three integers in 1..3"):
        DECALS.at_passes([0, 1, 2])


def _draw_passes(survey, rng, n):
    """(n, 3) passes of n galaxies as render_galaxy draws them."""
    return np.array(
        [[b.draw_passes(u) for b, u in zip(survey.bands, _pass_quantiles(survey, rng), strict=True)] for _ in range(n)]
    )


def test_pass_correlation_gives_dr5s_joint_areas():
    # legacysurvey.org/dr5/description, all bands jointly: 6473 / 3931 / 1930 deg2 with >= 1 / 2 / 3 passes, so
    # 0.607 of the joint area has >= 2 passes in every band and 0.298 >= 3 (independent bands: 0.38 and 0.09)
    rng = np.random.default_rng(11)
    passes = _draw_passes(DECALS, rng, 20000)
    assert (passes >= 2).all(axis=1).mean() == pytest.approx(3931 / 6473, abs=0.03)
    assert (passes >= 3).all(axis=1).mean() == pytest.approx(1930 / 6473, abs=0.03)
    # each band keeps its own fractions (the copula changes the joint draws only)
    assert (passes[:, 0] == 1).mean() == pytest.approx(DR5_PASS_FRACTIONS["g"][0], abs=0.015)
    assert (passes[:, 2] == 3).mean() == pytest.approx(DR5_PASS_FRACTIONS["z"][2], abs=0.015)
    # but not the same number in every band, as one shared quantile (revision 8, pass_correlation=1) gives
    assert (passes[:, 0] > passes[:, 2]).any()
    shared = dataclasses.replace(DECALS, pass_correlation=1.0)
    one = _draw_passes(shared, rng, 2000)
    assert (one[:, 2] >= one[:, 1]).all() and (one[:, 1] >= one[:, 0]).all()
    assert _pass_quantiles(BASS_MZLS, rng) == [0.0, 0.0, 0.0]  # no pass_fractions: full depth, no draw
    with pytest.raises(GalvaeValueError, match=r"survey decals: pass_correlation must be in \[0, 1\]"):
        dataclasses.replace(DECALS, pass_correlation=1.2)


def test_sky_residual_field_has_unit_variance_and_its_coherence_length():
    rng = np.random.default_rng(3)
    f = np.stack([sky_residual_field(rng, (40, 40), 10.0) for _ in range(400)])
    assert f[:, 20, 20].var() == pytest.approx(1.0, abs=0.2)
    assert f[:, 0, 0].var() == pytest.approx(1.0, abs=0.2)  # the padding keeps the edges like the middle
    # covariance exp(-r^2 / 2 L^2): exp(-1/2) = 0.61 at one coherence length, exp(-4.5) = 0.01 at three
    assert np.corrcoef(f[:, 20, 5], f[:, 20, 15])[0, 1] == pytest.approx(math.exp(-0.5), abs=0.1)
    assert abs(np.corrcoef(f[:, 20, 5], f[:, 20, 35])[0, 1]) < 0.15
    np.testing.assert_array_equal(
        sky_residual_field(np.random.default_rng(1), (8, 9), 4.0),
        sky_residual_field(np.random.default_rng(1), (8, 9), 4.0),
    )
    with pytest.raises(GalvaeValueError, match="coherence length .* must be positive"):
        sky_residual_field(rng, (8, 8), 0.0)


def test_decals_sky_keeps_a_smooth_residual_of_a_tenth_of_its_noise():
    band, psf = DECALS.band("r"), galsim.Gaussian(fwhm=1.0)
    res = (DECALS.sky_residual, DECALS.sky_residual_scale_arcsec)
    centre = []
    for seed in range(40):
        flat = _draw_native([], 1, band, psf, 2 * FOV, np.random.default_rng(seed))
        with_res = _draw_native([], 1, band, psf, 2 * FOV, np.random.default_rng(seed), sky_residual=res)
        d = with_res.array - flat.array  # the same noise (drawn first): d is the residual alone
        centre.append(d[d.shape[0] // 2, d.shape[1] // 2])
        # smooth: neighbouring pixels differ by a small part of the pixel noise, unlike noise (sqrt(2) sigma)
        assert np.abs(np.diff(d, axis=1)).max() < 0.05 * band.sky_sigma
    # RMS over realisations: sky_residual (0.1) times the full-depth sky noise per pixel
    assert np.sqrt(np.mean(np.square(centre))) == pytest.approx(0.1 * band.sky_sigma, rel=0.3)
    # wired into render_galaxy: the g band (drawn first, so its noise is the same) differs by a smooth field
    row = _row(truth_mag_r=40.0)
    plain = _render(row, dataclasses.replace(DECALS, sky_residual=0.0), noise=True, seed=4).image[0]
    d = _render(row, DECALS, noise=True, seed=4).image[0] - plain
    assert d.std() > 0 and np.corrcoef(d[:, :-1].ravel(), d[:, 1:].ravel())[0, 1] > 0.99
    assert BASS_MZLS.sky_residual == 0.0  # nothing calibrates the northern surveys' residual
    with pytest.raises(GalvaeValueError, match=r"survey decals: sky_residual must be in \[0, 10\]"):
        dataclasses.replace(DECALS, sky_residual=-0.1)
    with pytest.raises(GalvaeValueError, match="survey decals: sky_residual_scale_arcsec must be positive"):
        dataclasses.replace(DECALS, sky_residual_scale_arcsec=0.0)


def test_dr5_pass_fractions_reference_values():
    # legacysurvey.org/dr5/description: g-band 7107 / 4807 / 2808 deg2 with >= 1 / 2 / 3 passes
    assert DR5_PASS_FRACTIONS["g"] == pytest.approx((1 - 4807 / 7107, (4807 - 2808) / 7107, 2808 / 7107), abs=1e-3)
    assert DR5_PASS_FRACTIONS["z"] == pytest.approx((1 - 7867 / 9972, (7867 - 5333) / 9972, 5333 / 9972), abs=1e-3)
    g = DECALS.band("g")
    assert [g.draw_passes(u) for u in (0.0, 0.323, 0.325, 0.604, 0.606, 0.999)] == [1, 1, 2, 2, 3, 3]
    assert BandConfig("g").draw_passes(0.1) == 3
    with pytest.raises(GalvaeValueError, match=r"pass_fractions must be empty or the fractions of 1, 2 and 3"):
        BandConfig("g", pass_fractions=(0.5, 0.6, 0.1))
    with pytest.raises(GalvaeValueError, match=r"pass_fractions must be empty"):
        BandConfig("g", pass_fractions=(0.5, 0.5))


def test_flux_is_conserved_on_the_stamp():
    row = _row(truth_mag_r=16.0)
    img = _render(row).image
    f_r = 10 ** (-0.4 * (16.0 - 22.5))
    assert img[1].sum() == pytest.approx(f_r, rel=0.03)
    # bluer-than-red disk colour: g flux = r flux * 10^(-0.4 (g - r))
    assert img[0].sum() / img[1].sum() == pytest.approx(10 ** (-0.4 * row["truth_disk_gr"]), rel=0.03)


def _axis_ratio(image):
    mom = galsim.hsm.FindAdaptiveMom(galsim.Image(image.astype(np.float64)))
    return mom.observed_shape.q, mom.moments_sigma


def test_edge_on_truth_gives_low_measured_axis_ratio():
    edge = _render(_row(truth_inclination_deg=88.0, truth_hlr_arcsec=3.0)).image[1]
    face = _render(_row(truth_inclination_deg=10.0, truth_hlr_arcsec=3.0)).image[1]
    assert _axis_ratio(edge)[0] < 0.45
    assert _axis_ratio(face)[0] > 0.8


def test_bass_g_r_are_blurrier_than_decals():
    row = _row(truth_hlr_arcsec=0.5)
    d = _render(row, DECALS).image
    b = _render(row, BASS_MZLS).image
    for band in (0, 1):  # g, r: 1.6/1.5" vs 1.29/1.18" PSFs
        assert _axis_ratio(b[band])[1] > 1.15 * _axis_ratio(d[band])[1]
    # MzLS z (1.0") is if anything sharper than DECaLS z (1.11")
    assert _axis_ratio(b[2])[1] < _axis_ratio(d[2])[1] * 1.02


def test_same_galaxy_same_structure_in_both_surveys():
    row = _row(truth_arm_strength=0.5, truth_n_arms=2, truth_arm_pitch_deg=15.0, truth_hlr_arcsec=3.0)
    d = _render(row, DECALS, seed=3).image
    b = _render(row, BASS_MZLS, seed=3).image
    assert np.corrcoef(d[2].ravel(), b[2].ravel())[0, 1] > 0.95


def test_every_table2_class_in_a_default_sample():
    rng = np.random.default_rng(11)
    truth = sample_truth(4000, rng)
    labels = labels_from_catalog(vote_fractions(truth, rng))
    for rule in TABLE2_RULES:
        assert (labels[rule.feature] == rule.label).sum() > 0, (rule.feature, rule.label)


def test_truth_sampler_deterministic_and_gz_decals_like():
    a, b = sample_truth(500, 3), sample_truth(500, 3)
    pd.testing.assert_frame_equal(a, b)
    assert a["truth_mag_r"].between(14, 17.77).all()
    # the Galaxy Zoo DECaLS sample: r < 17.77 and a Petrosian p50 cut (Walmsley et al. 2022, §2.1; 4" set by the
    # real images, see galvae.simulate.morphology) keeps the larger, nearer Main Galaxy Sample galaxies: median z
    # below the MGS's ~0.1, magnitudes spread, not piled at the limit
    assert (approximate_petro_th50(a) >= MorphologyConfig().min_petro_th50_arcsec).all()
    assert 0.03 < a["truth_redshift"].median() < 0.08
    assert 0.2 < (a["truth_mag_r"] > 16).mean() < 0.6
    bal = sample_truth(3000, 4, balance=True)
    frac = bal["truth_bar"].value_counts(normalize=True)
    assert frac.min() > 0.28  # strong / weak / no equally often
    with pytest.raises(GalvaeValueError, match="n must be a non-negative integer"):
        sample_truth(-1, 0)


def test_survey_configuration_and_errors(tmp_path):
    assert get_survey("decals") is DECALS
    with pytest.raises(GalvaeKeyError, match="unknown survey.*'hsc'"):
        get_survey("hsc")
    with pytest.raises(GalvaeValueError, match="band name"):
        BandConfig("i")
    with pytest.raises(GalvaeValueError, match="psf_fwhm_arcsec must be a positive"):
        BandConfig("g", psf_fwhm_arcsec=-1)
    with pytest.raises(GalvaeValueError, match="bands must be g, r, z"):
        SurveyConfig("x", bands=(BandConfig("r"), BandConfig("g"), BandConfig("z")))
    (tmp_path / "bad.toml").write_text("name = [")
    with pytest.raises(GalvaeFileError, match="bad.toml: not a valid survey file"):
        load_survey(tmp_path / "bad.toml")
    # a survey file sets a band's passes; fractions that do not sum to 1 are refused with the file named
    bands = '[[bands]]\nname = "g"\npass_fractions = [0.5, 0.25, 0.25]\n[[bands]]\nname = "r"\n[[bands]]\nname = "z"\n'
    (tmp_path / "passes.toml").write_text('name = "shallow"\n' + bands)
    assert load_survey(tmp_path / "passes.toml").band("g").pass_fractions == (0.5, 0.25, 0.25)
    assert load_survey(tmp_path / "passes.toml").pass_correlation == 1.0  # one quantile unless the file says
    (tmp_path / "corr.toml").write_text('name = "shallow"\npass_correlation = 0.5\n' + bands)
    assert load_survey(tmp_path / "corr.toml").pass_correlation == 0.5
    assert load_survey(tmp_path / "corr.toml").sky_residual == 0.0  # no residual unless the file says
    (tmp_path / "res.toml").write_text('name = "shallow"\nsky_residual = 0.2\nsky_residual_scale_arcsec = 30\n' + bands)
    res = load_survey(tmp_path / "res.toml")
    assert (res.sky_residual, res.sky_residual_scale_arcsec) == (0.2, 30)
    (tmp_path / "corr.toml").write_text('name = "shallow"\npass_correlation = -0.5\n' + bands)
    with pytest.raises(GalvaeFileError, match=r"corr.toml: survey shallow: pass_correlation must be in \[0, 1\]"):
        load_survey(tmp_path / "corr.toml")
    (tmp_path / "passes.toml").write_text('name = "shallow"\n' + bands.replace("0.5, 0.25", "0.5, 0.6"))
    with pytest.raises(GalvaeFileError, match=r"passes.toml: band g: pass_fractions must be empty"):
        load_survey(tmp_path / "passes.toml")


SDSS_TOML = """
name = "sdss"
description = "SDSS-like: 0.396 arcsec pixels, 1.4 arcsec seeing"
[[bands]]
name = "g"
pixel_scale_arcsec = 0.396
native_pixel_scale_arcsec = 0.396
psf_fwhm_arcsec = 1.5
depth_mag = 22.2
[[bands]]
name = "r"
pixel_scale_arcsec = 0.396
native_pixel_scale_arcsec = 0.396
psf_fwhm_arcsec = 1.4
depth_mag = 22.2
[[bands]]
name = "z"
pixel_scale_arcsec = 0.396
native_pixel_scale_arcsec = 0.396
psf_fwhm_arcsec = 1.3
depth_mag = 20.5
"""


def test_a_third_survey_by_configuration_alone(tmp_path):
    (tmp_path / "sdss.toml").write_text(SDSS_TOML)
    sdss = load_survey(tmp_path / "sdss.toml")
    assert sdss.band("r").pixel_scale_arcsec == 0.396
    res = simulate(
        tmp_path / "out",
        n_galaxies=6,
        overlap=3,
        size=16,
        surveys=["decals", tmp_path / "sdss.toml"],
        workers=1,
        progress=False,
    )
    s = ImageStore(res.stores["sdss"])
    assert len(s) == 3 and s.size == 16 and s.survey == "sdss"
    # flux units are per reference (0.262") pixel whatever the survey: similar surface brightness
    d = ImageStore(res.stores["decals"]).read([0, 1, 2])
    assert abs(float(s.read().mean()) - float(d.mean())) < 0.3 * float(d.mean())


def _run(tmp_path, name, workers, **kw):
    cfg = dict(n_galaxies=24, overlap=8, size=16, seed=7)
    cfg.update(kw)
    return simulate(tmp_path / name, workers=workers, progress=False, **cfg)


def test_same_seed_identical_files_whatever_workers(tmp_path):
    a = _run(tmp_path, "one", 1)
    b = _run(tmp_path, "two", 2)
    for name in ("decals", "bass_mzls"):
        with h5py.File(a.stores[name]) as fa, h5py.File(b.stores[name]) as fb:
            assert fa["images"][:].tobytes() == fb["images"][:].tobytes()
            assert fa["mask"][:].tobytes() == fb["mask"][:].tobytes()
            assert list(fa["id"].asstr()[:]) == list(fb["id"].asstr()[:])
    pd.testing.assert_frame_equal(pd.read_parquet(a.catalog), pd.read_parquet(b.catalog))
    c = _run(tmp_path, "other-seed", 1, seed=8)
    with h5py.File(a.stores["decals"]) as fa, h5py.File(c.stores["decals"]) as fc:
        assert fa["images"][:].tobytes() != fc["images"][:].tobytes()


def test_outputs_follow_the_contracts(tmp_path):
    res = _run(tmp_path, "run", 1)
    cat = pd.read_parquet(res.catalog)
    assert len(cat) == 24 and cat["id"].is_unique
    assert {
        "id",
        "ra",
        "dec",
        "defect",
        "defect_decals",
        "defect_bass_mzls",
        "in_overlap",
        "smooth-or-featured_smooth_fraction",
        "psf_fwhm_bass_mzls_g",
    } <= set(cat.columns)
    assert cat["in_overlap"].sum() == 8 and (cat.loc[cat.in_overlap, "dec"] > 32).all()
    # each galaxy's passes per band: DECaLS as DR5 left it, BASS+MzLS at full depth where it saw the galaxy
    assert set(cat[["n_pass_decals_g", "n_pass_decals_r", "n_pass_decals_z"]].to_numpy().ravel()) <= {1.0, 2.0, 3.0}
    assert (cat.loc[cat.in_overlap, "n_pass_bass_mzls_g"] == 3).all()
    assert cat.loc[~cat.in_overlap, "n_pass_bass_mzls_g"].isna().all()
    d, b = ImageStore(res.stores["decals"]), ImageStore(res.stores["bass_mzls"])
    assert d.ids.tolist() == cat["id"].tolist() and b.ids.tolist() == cat["id"].tolist()[:8]
    assert d.pixel_scale_arcsec == pytest.approx(FOV / 16)
    imgs = d.read()
    assert imgs.min() >= 0 and imgs.max() <= 1 and imgs.mean() > 0.01
    labels = labels_from_catalog(cat)
    assert labels["merger"].notna().sum() > 10
    with pytest.raises(GalvaeFileError, match="already exists"):
        _run(tmp_path, "run", 1)


def test_planted_defects_are_where_the_catalogue_says(tmp_path):
    clean = _run(tmp_path, "clean", 1, n_galaxies=40, overlap=10, defect_fraction=0.0)
    dirty = _run(tmp_path, "dirty", 1, n_galaxies=40, overlap=10, defect_fraction=0.5)
    cat = pd.read_parquet(dirty.catalog)
    a = ImageStore(clean.stores["decals"]).read()
    b = ImageStore(dirty.stores["decals"]).read()
    mask = ImageStore(dirty.stores["decals"]).read_mask()
    changed = np.abs(a - b).max(axis=(1, 2, 3)) > 1e-6
    has = (cat["defect_decals"] != "none").to_numpy()
    assert has.sum() >= 10
    np.testing.assert_array_equal(changed, has)
    for i in np.flatnonzero(cat["defect_decals"] == "missing_band"):
        assert (b[i].max(axis=(1, 2)) == 0).any() and mask[i].all()
    for i in np.flatnonzero(cat["defect_decals"] == "chip_edge"):
        assert mask[i].any() and b[i][:, mask[i]].mean() < a[i][:, mask[i]].mean()  # zeroed, blended on resize
    for i in np.flatnonzero(cat["defect_decals"] == "bright_star"):
        assert (b[i] - a[i]).max() > 0.2


def test_cli_simulate(tmp_path, capsys):
    out = tmp_path / "sim"
    assert (
        main(["simulate", str(out), "--n-galaxies", "10", "--overlap", "4", "--size", "16", "--workers", "1", "-q"])
        == 0
    )
    text = capsys.readouterr().out
    assert "simulated 10 galaxies (4 in the overlap)" in text
    # DECaLS's coadds at DR5's depths, reported as the catalogue has them; BASS+MzLS at full depth, not reported
    n = pd.read_parquet(out / "catalog.parquet")["n_pass_decals_r"]
    shares = " / ".join(f"{(n == k).mean():.0%}" for k in (1, 2, 3))
    assert (n < 3).any() and "decals: r-band coadds of 1 / 2 / 3 passes: " + shares in text
    assert "bass_mzls: r-band coadds" not in text
    assert ImageStore(out / "bass_mzls.h5").size == 16
    assert main(["simulate", str(out), "--n-galaxies", "10", "-q"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["simulate", str(out), "--n-galaxies", "10", "--size", "12", "-q"]) == 2
    assert "size must be a multiple of 8" in capsys.readouterr().err


def test_config_validation():
    with pytest.raises(GalvaeValueError, match="overlap must be between 0 and n_galaxies=5"):
        SimulationConfig(n_galaxies=5, overlap=6)
    with pytest.raises(GalvaeValueError, match="defect_fraction must be in"):
        SimulationConfig(defect_fraction=2.0)
    assert SimulationConfig(n_galaxies=10).n_overlap == 2
    assert math.isclose(SimulationConfig().fov_arcsec, 16.768)


def test_galvae_simulate_is_the_subpackage_and_its_function_is_simulate(tmp_path):
    # one meaning per name (issue 17 pt 3): the package is not callable; its simulate function is
    import types

    import galvae

    assert isinstance(galvae.simulate, types.ModuleType) and not callable(galvae.simulate)
    assert galvae.simulate.simulate is simulate
    res = galvae.simulate.simulate(tmp_path / "sim", n_galaxies=3, overlap=1, size=16, workers=1, progress=False)
    assert set(res.stores) == {"decals", "bass_mzls"} and res.n_galaxies == 3
