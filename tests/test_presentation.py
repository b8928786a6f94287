"""The presentation profiles: Galaxy Zoo DECaLS field and stretch, Petrosian radii, store/model compatibility."""

from __future__ import annotations

import math

import galsim
import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from PIL import Image

from galvae import GalvaeValueError, ImageStore, StretchConfig
from galvae.data.ingest import ingest
from galvae.data.preprocess import inverse_stretch, stretch
from galvae.data.presentation import (
    GZ_DECALS_STRETCH,
    check_same_presentation,
    gz_decals_field,
    gz_decals_pixel_scale,
    petrosian_radii,
)
from galvae.simulate import DECALS, sample_truth, simulate
from galvae.simulate.present import presentation_field


def test_gz_stretch_hand_values():
    # (asinh(x / c) - asinh(-0.5)) / (asinh(300) - asinh(-0.5)), c = 0.008, 0.014, 0.019 (design.md)
    a5, a300 = math.asinh(0.5), math.asinh(300.0)
    x = np.zeros((3, 1, 4))
    x[:, 0, 0] = 0.0  # the sky: a dark grey, 0.0700
    x[:, 0, 1] = [-0.004, -0.007, -0.0095]  # -0.5 c: black
    x[:, 0, 2] = [2.4, 4.2, 5.7]  # 300 c: white
    x[:, 0, 3] = [0.008, 0.014, 0.019]  # c
    y = stretch(x, GZ_DECALS_STRETCH)
    np.testing.assert_allclose(y[:, 0, 0], a5 / (a300 + a5), rtol=1e-6)
    assert y[0, 0, 0] == pytest.approx(0.07, abs=5e-4)
    np.testing.assert_allclose(y[:, 0, 1], 0.0, atol=1e-7)
    np.testing.assert_allclose(y[:, 0, 2], 1.0, rtol=1e-6)
    np.testing.assert_allclose(y[:, 0, 3], (math.asinh(1.0) + a5) / (a300 + a5), rtol=1e-6)
    # inside the clipping range the inverse returns the fluxes
    np.testing.assert_allclose(inverse_stretch(y, GZ_DECALS_STRETCH)[:, 0, 3], x[:, 0, 3], rtol=1e-5)


def test_floor_zero_is_the_plain_asinh():
    x = np.random.default_rng(0).uniform(0, 5, (3, 4, 4))
    plain = StretchConfig()
    b, m = np.array(plain.softening)[:, None, None], np.array(plain.maximum)[:, None, None]
    np.testing.assert_allclose(stretch(x, plain), np.arcsinh(x / b) / np.arcsinh(m / b), rtol=1e-6)
    with pytest.raises(GalvaeValueError, match="floor"):
        StretchConfig(floor=-1)


def test_gz_pixel_scale_formula():
    # s = max(min(0.04 p50, 0.02 p90), 0.1) (Walmsley et al. 2022, §2.3)
    p50 = np.array([2.0, 5.0, 5.0, 4.0])
    p90 = np.array([5.0, 10.0, 8.0, 20.0])
    np.testing.assert_allclose(gz_decals_pixel_scale(p50, p90), [0.1, 0.2, 0.16, 0.16])
    np.testing.assert_allclose(gz_decals_field(p50, p90), 424 * np.array([0.1, 0.2, 0.16, 0.16]))
    with pytest.raises(GalvaeValueError, match="p90"):
        gz_decals_pixel_scale(2.0, 0.0)


def _exponential(hlr, scale=0.1, n=801):
    return galsim.Exponential(half_light_radius=hlr).drawImage(nx=n, ny=n, scale=scale, method="no_pixel").array


def test_petrosian_radii_of_an_exponential_disc():
    # an exponential disc: the Petrosian aperture (eta = 0.2, 2 R_P) holds ~99 % of the light, so p50 is
    # the half-light radius to ~1 %, and R_P = 2.16 r_e (Graham et al. 2005, PASA 22, 118, Table 1)
    rp, p50, p90 = petrosian_radii(_exponential(3.0), 0.1)
    assert p50 == pytest.approx(3.0, rel=0.02)
    assert rp == pytest.approx(2.16 * 3.0, rel=0.03)
    assert 2.0 < p90 / p50 < 2.5
    # radii scale with the galaxy
    rp2, p50_2, p90_2 = petrosian_radii(_exponential(1.5), 0.1)
    assert p50 / p50_2 == pytest.approx(2.0, rel=0.03) and p90 / p90_2 == pytest.approx(2.0, rel=0.03)
    with pytest.raises(GalvaeValueError, match="positive flux"):
        petrosian_radii(np.zeros((20, 20)), 0.1)


def test_petrosian_radii_do_not_depend_on_the_order_of_equal_radii():
    # an inclined disc mirrored or transposed puts the same values at the same radii; the radii must not
    # move (sorting pixels by radius left them depending on how the sort ordered ties: 6e-4 here)
    y, x = np.indices((121, 121)) - 60.0
    u, v = np.cos(0.5) * x + np.sin(0.5) * y, (np.cos(0.5) * y - np.sin(0.5) * x) / 0.4
    img = np.exp(-np.hypot(u, v) / 6.0)
    radii = np.array(petrosian_radii(img, 0.262))
    for same in (img[:, ::-1], img.T, img[::-1]):
        np.testing.assert_allclose(petrosian_radii(same, 0.262), radii, rtol=1e-12)


def test_field_grows_with_the_galaxy():
    row = sample_truth(1, 3).iloc[0].to_dict()
    row.update(
        truth_smooth_or_featured="smooth",
        truth_companion_mag_r=math.nan,
        truth_tidal_strength=0.0,
        truth_sersic_n=1.0,
        truth_axis_ratio=1.0,
    )
    fields = []
    for hlr in (6.0, 12.0):
        row["truth_hlr_arcsec"] = hlr
        fields.append(presentation_field(row, DECALS, "gz-decals", 16.8))
    assert fields[0].field_arcsec > 42.4  # above the 0.1"/px floor for such a large galaxy
    assert fields[1].field_arcsec / fields[0].field_arcsec == pytest.approx(2.0, rel=0.06)
    assert fields[1].petro_th50 / fields[0].petro_th50 == pytest.approx(2.0, rel=0.06)
    # a small galaxy sits on the floor: 424 x 0.1"
    row["truth_hlr_arcsec"] = 1.0
    assert presentation_field(row, DECALS, "gz-decals", 16.8).field_arcsec == pytest.approx(42.4)
    assert presentation_field(row, DECALS, "fixed", 16.8).field_arcsec == 16.8


def test_simulate_gz_profile(tmp_path):
    res = simulate(
        tmp_path / "s", n_galaxies=6, overlap=2, size=16, seed=0, profile="gz-decals", workers=1, progress=False
    )
    cat = pd.read_parquet(res.catalog)
    assert {"petro_th50", "petro_th90", "petro_theta", "field_arcsec"} <= set(cat.columns)
    np.testing.assert_allclose(cat["field_arcsec"], gz_decals_field(cat["petro_th50"], cat["petro_th90"]))
    vis = cat[[c for c in cat.columns if c.startswith("visibility_")]]
    assert vis.shape[1] == 5 and np.isfinite(vis.to_numpy()).all() and (vis.to_numpy() >= 0).all()
    for name in ("decals", "bass_mzls"):
        with ImageStore(res.stores[name]) as st:
            assert st.profile == "gz-decals" and st.normalisation == GZ_DECALS_STRETCH
            sky = np.median(st.read()[:, :, :2, :2])
            # the sky of a gz-decals image is a dark grey near asinh(0.5) / (asinh(300) + asinh(0.5)) = 0.07
            assert 0.03 < sky < 0.12
            # presented the Galaxy Zoo way (stretch and desaturation before the resize), the sky's grains are
            # grey: g-z correlation 0.96-0.97 measured (real images 0.97); about 0 resizing before the stretch
            border = st.read()[:, :, :3, :].transpose(1, 0, 2, 3).reshape(3, -1)
            assert np.corrcoef(border)[0, 2] > 0.8
    with pytest.raises(GalvaeValueError, match="profile"):
        simulate(tmp_path / "t", n_galaxies=2, profile="sdss")


def test_combining_presentations():
    uint8 = StretchConfig(kind="uint8")
    check_same_presentation("a", GZ_DECALS_STRETCH, "gz-decals", "b", uint8, "gz-decals")  # same pixels
    check_same_presentation("a", StretchConfig(), "fixed", "b", StretchConfig(), "fixed")
    with pytest.raises(GalvaeValueError, match="'fixed' but b as 'gz-decals'"):
        check_same_presentation("a", StretchConfig(), "fixed", "b", uint8, "gz-decals")
    with pytest.raises(GalvaeValueError, match="normalisation"):
        check_same_presentation("a", StretchConfig(), "fixed", "b", uint8, "fixed")


def test_ingest_gz_profile(tmp_path):
    # a Galaxy Zoo JPEG is taken whole; a FITS cutout is cropped to the galaxy's field from its radii
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(tmp_path / "gz.png")
    pd.DataFrame({"id": ["g1"], "file": ["gz.png"]}).to_csv(tmp_path / "jpg.csv", index=False)
    ingest(tmp_path / "jpg.csv", tmp_path / "jpg.h5", size=8, profile="gz-decals", progress=False)
    with ImageStore(tmp_path / "jpg.h5") as st:
        assert st.profile == "gz-decals" and st.normalisation.kind == "uint8"
    data = _decals_sky(201)
    data[:, 100 - 40 : 100 + 41, 100 - 40 : 100 + 41] = 1.0  # a bright square of 81 px = 21.2"
    hdu = fits.PrimaryHDU(data)
    hdu.header["BANDS"] = "grz"
    hdu.header["CD1_1"], hdu.header["CD2_2"] = -0.262 / 3600, 0.262 / 3600
    hdu.writeto(tmp_path / "c.fits")
    # p50 = 2, p90 = 5: 0.1"/px, 42.4" = 162 px of 0.262": the square fills 81/162 of the side
    pd.DataFrame({"id": ["c1"], "file": ["c.fits"], "PETRO_TH50": [2.0], "PETRO_TH90": [5.0]}).to_csv(
        tmp_path / "fits.csv", index=False
    )
    ingest(tmp_path / "fits.csv", tmp_path / "fits.h5", size=32, profile="gz-decals", progress=False)
    with ImageStore(tmp_path / "fits.h5") as st:
        assert st.profile == "gz-decals" and st.normalisation == GZ_DECALS_STRETCH
        width = (st.read()[0, 1] > 0.5).any(axis=0).sum()
        assert width == pytest.approx(32 * 81 / 162, abs=1.5)  # the whole cutout (201 px) would give 13
        # presented as simulate presents it (gz_decals_present): grey sky grains, g-z correlated
        border = st.read()[0, :, :6, :].reshape(3, -1)
        assert np.corrcoef(border)[0, 2] > 0.5
    # without radii a FITS cutout cannot be presented this way: one clear line
    pd.DataFrame({"id": ["c1"], "file": ["c.fits"]}).to_csv(tmp_path / "bare.csv", index=False)
    with pytest.raises(GalvaeValueError, match="Petrosian radii"):
        ingest(tmp_path / "bare.csv", tmp_path / "bare.h5", size=32, profile="gz-decals", progress=False)


# --- Galaxy Zoo DECaLS desaturation and stretch-before-resize (benchmarks/realism.md, issue 18 pt 4)


def _decals_sky(side: int = 162, seed: int = 0) -> np.ndarray:
    """Pure sky noise at DECaLS's per-pixel sigma (g, r, z nanomaggies), a 42.4" field at 0.262"."""
    sig = np.array([0.0029, 0.0065, 0.015])[:, None, None]
    return (np.random.default_rng(seed).standard_normal((3, side, side)) * sig).astype(np.float32)


def test_desaturation_turns_sky_noise_grey_and_keeps_grey_and_colour_order():
    from galvae.data.presentation import gz_decals_desaturate

    y = stretch(_decals_sky(), GZ_DECALS_STRETCH)
    d = gz_decals_desaturate(y)
    # independent band noise (g-z correlation -0.007 measured) becomes grey-ish (0.67 measured) on native pixels
    assert abs(np.corrcoef(y[0].ravel(), y[2].ravel())[0, 1]) < 0.1
    assert np.corrcoef(d[0].ravel(), d[2].ravel())[0, 1] > 0.5
    # a grey pixel keeps its value up to (1 - w)^2 a y = 0.0366 y^2 (0.3 -> 0.3033)
    np.testing.assert_allclose(gz_decals_desaturate(np.full((3, 2, 2), 0.3))[:, 0, 0], 0.3033, atol=2e-4)
    # a red pixel is pulled towards grey but stays red: g < r < z (0.2, 0.4, 0.8 -> 0.366, 0.487, 0.728)
    red = gz_decals_desaturate(np.array([0.2, 0.4, 0.8])[:, None, None])[:, 0, 0]
    assert red[0] < red[1] < red[2] and red[2] - red[0] < 0.6
    with pytest.raises(GalvaeValueError, match="shape"):
        gz_decals_desaturate(np.zeros((2, 4, 4)))


def test_gz_present_stretches_on_the_424_grid_before_resizing():
    from galvae.data.preprocess import crop_and_resize
    from galvae.data.presentation import gz_decals_present

    x = _decals_sky()
    new, mask = gz_decals_present(x, None, 64)
    old = stretch(crop_and_resize(x, None, 64)[0], GZ_DECALS_STRETCH)
    assert new.shape == (3, 64, 64) and not mask.any()
    # the stretch compresses the grid's noise before averaging: 255 x std g, r, z 2.6, 2.9, 3.7 against
    # 4.4, 5.5, 9.2 resizing first (measured, seed 0); and the desaturated sky is grey (g-z corr 0.77 vs -0.01)
    assert (new.std(axis=(1, 2)) < 0.85 * old.std(axis=(1, 2))).all()
    assert np.corrcoef(new[0].ravel(), new[2].ravel())[0, 1] > 0.5
    assert abs(np.corrcoef(old[0].ravel(), old[2].ravel())[0, 1]) < 0.2
    # zero flux is the stretch's sky grey (0.0700, desaturation adds 0.0002) truncated to 8 bits: level 17
    flat, _ = gz_decals_present(np.zeros((3, 40, 40)), None, 16)
    np.testing.assert_allclose(flat, 17 / 255, rtol=1e-6)
    # on the presentation grid itself (0.25 of 424 = 106 pixels) every value is an 8-bit level
    grid, _ = gz_decals_present(x[:, :50, :50], None, 106, field_fraction=0.25)
    np.testing.assert_allclose(grid * 255, np.rint(grid * 255), atol=1e-3)
    assert len(np.unique(np.rint(grid * 255))) > 5
    # invalid pixels: shown as sky and flagged
    m = np.zeros((162, 162), bool)
    m[:10, :10] = True
    img, out_mask = gz_decals_present(x, m, 64)
    assert out_mask[:3, :3].all() and not out_mask[20:, 20:].any()
    assert img[:, :2, :2].min() > 0.03
    with pytest.raises(GalvaeValueError, match="mask shape"):
        gz_decals_present(x, np.zeros((5, 5), bool), 64)
    with pytest.raises(GalvaeValueError, match="shape"):
        gz_decals_present(x[:2], None, 64)
    with pytest.raises(GalvaeValueError, match="field_fraction"):
        gz_decals_present(x, None, 64, field_fraction=1.5)


@pytest.mark.parametrize(("n_in", "n_out"), [(162, 424), (162, 318), (900, 318), (1300, 318), (101, 30)])
def test_resampling_to_the_grid_keeps_levels_flux_and_centres(n_in, n_out):
    """Lanczos-3 onto a finer grid, or from 2^k-pixel blocks onto a coarser one: the grid the viewer serves."""
    from galvae.data.presentation import _resample_matrix

    w = _resample_matrix(n_in, n_out)
    np.testing.assert_allclose(w @ np.ones(n_in), 1.0, rtol=1e-12)  # a flat sky stays flat
    t = np.arange(n_in)
    profile = np.exp(-0.5 * ((t - 0.45 * n_in) / (n_in / 12)) ** 2)  # a resolved source off centre
    y = w @ profile
    centres = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5  # output pixel centres, input pixel units
    # its position (centroid 1e-3 input pixels measured at worst) and surface-brightness flux (2e-6)
    assert (y * centres).sum() / y.sum() == pytest.approx(0.45 * n_in, abs=0.01)
    assert y.sum() * n_in / n_out == pytest.approx(profile.sum(), rel=1e-4)


# --- field fraction: the central part of the Galaxy Zoo field (issue 11)


def test_field_fraction_validation_and_combining():
    from galvae.data.presentation import check_field_fraction

    assert check_field_fraction(0.5) == 0.5 and check_field_fraction(1) == 1.0
    for bad in (0, -0.1, 1.5, math.nan, "0.5", True):
        with pytest.raises(GalvaeValueError, match="field_fraction"):
            check_field_fraction(bad)
    with pytest.raises(GalvaeValueError, match="gz-decals profile only"):
        check_field_fraction(0.5, "fixed")
    check_field_fraction(1.0, "fixed")
    g = GZ_DECALS_STRETCH
    check_same_presentation("a", g, "gz-decals", "b", g, "gz-decals", fraction_a=0.5, fraction_b=0.5)
    with pytest.raises(GalvaeValueError, match="a keeps 0.5 of the Galaxy Zoo field but b keeps 1"):
        check_same_presentation("a", g, "gz-decals", "b", g, "gz-decals", fraction_a=0.5, fraction_b=1.0)


def test_simulate_field_fraction_crops_the_field_and_keeps_the_votes(tmp_path):
    kw = dict(n_galaxies=4, overlap=1, size=16, seed=0, profile="gz-decals", workers=1, progress=False)
    whole = simulate(tmp_path / "w", **kw)
    half = simulate(tmp_path / "h", field_fraction=0.5, **kw)
    cw, ch = pd.read_parquet(whole.catalog), pd.read_parquet(half.catalog)
    # the stored field is half the Galaxy Zoo field; the Petrosian radii and the votes (what volunteers saw on
    # the whole field) are the same
    np.testing.assert_allclose(ch["field_arcsec"], 0.5 * cw["field_arcsec"])
    np.testing.assert_allclose(ch["petro_th90"], cw["petro_th90"])
    vis = [c for c in cw.columns if c.startswith("visibility_") or c.endswith("_fraction")]
    pd.testing.assert_frame_equal(ch[vis], cw[vis])
    for name in ("decals", "bass_mzls"):
        with ImageStore(half.stores[name]) as h, ImageStore(whole.stores[name]) as w:
            assert h.field_fraction == 0.5 and w.field_fraction == 1.0
            # the galaxy covers more of the frame: more of the light above the sky's median in the centre
            a, b = h.read()[:, 1], w.read()[:, 1]
            assert (a > np.median(a) + 0.1).mean() > 2 * (b > np.median(b) + 0.1).mean()
    with pytest.raises(GalvaeValueError, match="gz-decals profile only"):
        simulate(tmp_path / "f", n_galaxies=2, field_fraction=0.5)


def test_ingest_field_fraction(tmp_path):
    # a Galaxy Zoo image keeps its central half: a bright centre 20 px wide on a 40 px image fills the frame
    img = np.full((40, 40, 3), 20, np.uint8)
    img[10:30, 10:30] = 200
    Image.fromarray(img).save(tmp_path / "gz.png")
    pd.DataFrame({"id": ["g1"], "file": ["gz.png"]}).to_csv(tmp_path / "jpg.csv", index=False)
    ingest(tmp_path / "jpg.csv", tmp_path / "h.h5", size=8, profile="gz-decals", field_fraction=0.5, progress=False)
    ingest(tmp_path / "jpg.csv", tmp_path / "w.h5", size=8, profile="gz-decals", progress=False)
    with ImageStore(tmp_path / "h.h5") as h, ImageStore(tmp_path / "w.h5") as w:
        assert h.field_fraction == 0.5 and w.field_fraction == 1.0
        assert h.read()[0].min() > 0.7 and w.read()[0].min() < 0.2
    # a catalogue with Petrosian radii (as Galaxy Zoo DECaLS's has) crops its JPEGs the same way
    pd.DataFrame({"id": ["g1"], "file": ["gz.png"], "petro_th50": [2.0], "petro_th90": [5.0]}).to_csv(
        tmp_path / "jpg_petro.csv", index=False
    )
    ingest(
        tmp_path / "jpg_petro.csv", tmp_path / "p.h5", size=8, profile="gz-decals", field_fraction=0.5, progress=False
    )
    with ImageStore(tmp_path / "p.h5") as p:
        assert p.field_fraction == 0.5 and p.read()[0].min() > 0.7
    with pytest.raises(GalvaeValueError, match="not both"):
        ingest(tmp_path / "jpg.csv", tmp_path / "x.h5", size=8, profile="gz-decals", field_fraction=0.5, crop=20)
    with pytest.raises(GalvaeValueError, match="gz-decals profile only"):
        ingest(tmp_path / "jpg.csv", tmp_path / "y.h5", size=8, field_fraction=0.5)


def test_a_model_refuses_a_store_of_another_field_fraction(tmp_path):
    from galvae import write_store
    from galvae.latents.export import _card_input, check_store_matches
    from galvae.models.config import ModelConfig

    imgs = np.zeros((2, 3, 16, 16), np.float32)
    write_store(
        tmp_path / "h.h5",
        imgs,
        ["a", "b"],
        survey="decals",
        normalisation=GZ_DECALS_STRETCH,
        attrs={"profile": "gz-decals", "field_fraction": 0.5},
    )
    meta = {
        "model_config": ModelConfig(size=16),
        "normalisation": GZ_DECALS_STRETCH,
        "profile": "gz-decals",
        "field_fraction": 0.75,
        "path": "run/model.json",
    }
    with ImageStore(tmp_path / "h.h5") as st:
        assert st.field_fraction == 0.5
        with pytest.raises(
            GalvaeValueError, match="keeps 0.5 of the Galaxy Zoo field but model run/model.json keeps 0.75"
        ):
            check_store_matches(meta, st)
        check_store_matches(dict(meta, field_fraction=0.5), st)
    card = "\n".join(_card_input(16, "gz-decals", {"kind": "asinh"}, 0.75))
    assert "| field fraction | 0.75" in card and "field fraction" not in "\n".join(_card_input(16, "fixed", {}))
