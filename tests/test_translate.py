"""Survey-to-survey translation: GalaxyVAE.translate, translate_store, ``galvae translate`` and its evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from galvae.cli import main
from galvae.data.store import ImageStore
from galvae.errors import GalvaeFileError, GalvaeValueError
from galvae.evaluate.translation import (
    METHODS,
    evaluate_translation,
    half_light_radius,
    image_flux,
    psf_match,
    survey_psf_fwhm,
)
from galvae.latents import GalaxyVAE, translate_store
from galvae.models.config import ModelConfig
from galvae.simulate import simulate
from galvae.training.adapt import adapt
from galvae.training.train import train

TO = "bass_mzls"


@pytest.fixture(scope="module")
def overlap(tmp_path_factory):
    """A tiny simulated overlap (24 DECaLS galaxies at 32 px, 16 of them in BASS+MzLS), a 1-epoch VAE, a 1-epoch adaptation."""
    root = tmp_path_factory.mktemp("translate")
    sim = simulate(root / "sim", n_galaxies=24, overlap=16, size=32, seed=0, workers=1, progress=False)
    src, tgt = sim.stores["decals"], sim.stores["bass_mzls"]
    cfg = ModelConfig(size=32, latent_dim=4, channels=(4, 8, 8))
    train(src, root / "run", epochs=1, batch_size=8, latent_dim=4, seed=0, progress=False, model_config=cfg)
    adapt(root / "run", src, tgt, root / "da", epochs=1, batch_size=4, seed=0, progress=False)
    return root, src, tgt


def test_translate_is_shared_encoder_then_target_decoder(overlap):
    root, src, _ = overlap
    vae = GalaxyVAE.load(root / "da")
    assert vae.decoders == ("decals", "bass_mzls")
    with ImageStore(src) as st:
        x = st.read(slice(0, 5))
    out = vae.translate(x, to=TO, batch_size=2)
    assert out.shape == (5, 3, 32, 32) and out.dtype == np.float32
    want = vae.with_decoder(TO).decode(vae.encode(x))
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-5)
    assert not np.allclose(out, vae.reconstruct(x))  # the other survey's decoder
    assert vae.translate(x[0], to=TO).shape == (3, 32, 32)
    np.testing.assert_allclose(vae.translate(x, to="decals"), vae.reconstruct(x), rtol=0, atol=1e-5)
    with pytest.raises(GalvaeValueError, match="to must be a survey.*'hsc'.*accepted: 'decals', 'bass_mzls'"):
        vae.translate(x, to="hsc")
    with pytest.raises(GalvaeValueError, match="needs a domain-adapted run"):
        GalaxyVAE.load(root / "run").translate(x, to=TO)


def test_translate_store(overlap, tmp_path):
    root, src, _ = overlap
    out = translate_store(root / "da", src, tmp_path / "tr.h5", to=TO, batch_size=7, progress=False)
    vae = GalaxyVAE.load(root / "da")
    with ImageStore(out) as st, ImageStore(src) as s0:
        assert st.ids.tolist() == s0.ids.tolist() and st.survey == TO
        assert st.normalisation == s0.normalisation and st.pixel_scale_arcsec == s0.pixel_scale_arcsec
        assert st.attrs["kind"] == "translation" and st.attrs["source_survey"] == "decals"
        assert st.attrs["translated_from"] == str(src.resolve()) and st.attrs["decoder"] == TO
        np.testing.assert_allclose(st.read(), vae.translate(s0.read(), to=TO), rtol=0, atol=1e-5)
    with pytest.raises(GalvaeFileError, match="already exists"):
        translate_store(root / "da", src, out, to=TO, progress=False)
    with pytest.raises(GalvaeValueError, match="to must be a survey"):
        translate_store(root / "da", src, tmp_path / "x.h5", to="nope", progress=False)
    assert not (tmp_path / "x.h5").exists()


def test_psf_match_widths():
    """A point source convolved to the target PSF has the kernel's σ; a band whose target is sharper is unchanged."""
    img = np.zeros((1, 3, 41, 41), np.float32)
    img[:, :, 20, 20] = 1.0
    out, sigma = psf_match(img, (1.0, 1.0, 1.5), (1.5, 2.0, 1.0), pixel_scale_arcsec=0.25)
    want = np.sqrt([1.5**2 - 1.0, 2.0**2 - 1.0, 0.0]) / 2.3548 / 0.25
    np.testing.assert_allclose(sigma, want, rtol=1e-4)
    yy, xx = np.mgrid[0:41, 0:41]
    for band in (0, 1):
        w = out[0, band] / out[0, band].sum()
        np.testing.assert_allclose(np.sqrt((w * (xx - 20) ** 2).sum()), sigma[band], rtol=0.01)
    np.testing.assert_array_equal(out[0, 2], img[0, 2])
    assert survey_psf_fwhm("decals") == (1.29, 1.18, 1.11) and survey_psf_fwhm("bass_mzls") == (1.6, 1.5, 1.0)
    with pytest.raises(GalvaeValueError, match="no documented PSF for survey 'hsc'"):
        survey_psf_fwhm("hsc")
    with pytest.raises(GalvaeValueError, match="from_fwhm must be three positive"):
        psf_match(img, (1.0, -1.0, 1.0), (1.5, 1.5, 1.5))


def test_flux_and_half_light_radius_of_a_gaussian():
    yy, xx = np.mgrid[0:48, 0:48]
    s = 3.0
    g = np.exp(-((xx - 23.5) ** 2 + (yy - 23.5) ** 2) / (2 * s**2))
    img = np.stack([0.1 + g, 0.1 + 2 * g, 0.1 + 3 * g])[None].astype(np.float32)  # flat background 0.3 in total
    np.testing.assert_allclose(image_flux(img), 6 * 2 * np.pi * s**2, rtol=1e-3)
    np.testing.assert_allclose(half_light_radius(img), s * np.sqrt(2 * np.log(2)), rtol=0.05)
    assert np.isnan(half_light_radius(np.zeros((1, 3, 16, 16))))[0]


def test_evaluate_translation_table(overlap, tmp_path):
    root, src, tgt = overlap
    res = evaluate_translation(root / "da", src, tgt, out_dir=tmp_path / "ev", gallery=3, progress=False)
    assert res.table["method"].tolist() == list(METHODS) == ["translated", "untranslated", "psf_matched"]
    assert (res.table["n_galaxies"] == 16).all() and len(res.per_galaxy) == 3 * 16
    assert res.table[["ssim_mean", "flux_residual_median", "size_residual_median"]].notna().all().all()
    assert res.table["ssim_mean"].between(-1, 1).all()
    s = res.summary
    assert s["to"] == TO and s["source_survey"] == "decals" and s["n_galaxies"] == 16
    assert s["source_psf_fwhm_arcsec"] == [1.29, 1.18, 1.11] and s["target_psf_fwhm_arcsec"] == [1.6, 1.5, 1.0]
    scale = ImageStore(src).pixel_scale_arcsec
    np.testing.assert_allclose(
        s["psf_kernel_sigma_pix"], np.sqrt([1.6**2 - 1.29**2, 1.5**2 - 1.18**2, 0]) / 2.3548 / scale, rtol=1e-4
    )
    # the untranslated row compares the DECaLS image itself with the real BASS+MzLS one
    untr = res.per_galaxy[res.per_galaxy["method"] == "untranslated"]
    with ImageStore(src) as a, ImageStore(tgt) as b:
        ids = untr["id"].tolist()
        x, y = a.read(a.index_of(ids)), b.read(b.index_of(ids))
    np.testing.assert_allclose(untr["mse"], ((x.astype(np.float64) - y) ** 2).mean(axis=(1, 2, 3)), rtol=1e-6)
    for name in ("translation.csv", "translation.md", "translation_per_galaxy.csv", "translation_gallery.png"):
        assert (tmp_path / "ev" / name).is_file(), name
    assert json.loads((tmp_path / "ev" / "translation.json").read_text())["n_galaxies"] == 16
    md = (tmp_path / "ev" / "translation.md").read_text()
    assert all(f"| {m} |" in md for m in METHODS)
    sub = evaluate_translation(root / "da", src, tgt, max_galaxies=5, seed=1, progress=False, gallery=0)
    assert (sub.table["n_galaxies"] == 5).all()
    with pytest.raises(GalvaeValueError, match="max_galaxies"):
        evaluate_translation(root / "da", src, tgt, max_galaxies=0, progress=False)


def test_evaluate_translation_needs_shared_ids(overlap, make_store):
    root, src, _ = overlap
    other, _, _ = make_store("other.h5", n=4, size=32, survey=TO, prefix="zz")
    with pytest.raises(GalvaeValueError, match="share no galaxy id"):
        evaluate_translation(root / "da", src, other, progress=False)


def test_cli_translate(overlap, tmp_path, capsys):
    root, src, tgt = overlap
    out = tmp_path / "tr.h5"
    argv = ["-q", "translate", str(root / "da"), str(src), "--to", TO, "--out", str(out), "--compare", str(tgt)]
    assert main([*argv, "--gallery", "2", "--max-galaxies", "10"]) == 0
    text = capsys.readouterr().out
    assert f"wrote translations to {TO} in {out}" in text and "compared with the real bass_mzls images of 10" in text
    assert all(m in text for m in METHODS)
    ev = tmp_path / "tr_eval"
    assert (ev / "translation.csv").is_file() and (ev / "translation_gallery.png").is_file()
    with ImageStore(out) as st:
        assert st.survey == TO and len(st) == 24
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["-q", "translate", str(root / "da"), str(src), "--to", "hsc", "--out", str(tmp_path / "y.h5")]) == 2
    assert "'hsc'" in capsys.readouterr().err
