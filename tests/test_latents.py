"""Tests of the exported model, GalaxyVAE and store-level products (galvae.latents)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from astropy.io import fits

from _float32 import decoder_fan_in, float32_tolerance, latent_tolerance, mse_tolerance
from galvae.config import StretchConfig
from galvae.data.store import ImageStore, write_store
from galvae.errors import GalvaeFileError, GalvaeKeyError, GalvaeValueError
from galvae.latents import (
    GalaxyVAE,
    encode_store,
    export_model,
    generate_mocks,
    load_exported,
    read_latent_catalog,
    reconstruct_store,
)
from galvae.models import VAE, ModelConfig

NORM = StretchConfig(kind="none")


@pytest.fixture
def exported(tmp_path):
    torch.manual_seed(0)
    net = VAE(ModelConfig(size=16, latent_dim=3))
    path = export_model(net, tmp_path / "run", normalisation=NORM, training={"seed": 0})
    return path, net


@pytest.fixture
def store16(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((10, 3, 16, 16), dtype=np.float32)
    path = write_store(tmp_path / "s16.h5", images, [f"x{i}" for i in range(10)], survey="sim", normalisation=NORM)
    return path, images


def test_export_files_and_metadata(exported):
    path, _ = exported
    meta = json.loads(path.read_text())
    assert meta["format"] == "galvae-vae" and meta["galvae_version"]
    assert meta["model_config"]["latent_dim"] == 3 and meta["model_config"]["channels"] == [32, 64, 128]
    assert meta["preprocessing"] == {
        "size": 16,
        "profile": "fixed",
        "field_fraction": 1.0,
        "normalisation": {
            "kind": "none",
            "softening": list(NORM.softening),
            "maximum": list(NORM.maximum),
            "floor": 0.0,
        },
    }
    assert (path.parent / "model.safetensors").is_file()


def test_reload_gives_identical_encodings(exported, store16):
    path, net = exported
    _, images = store16
    model = GalaxyVAE.load(path.parent)
    with torch.no_grad():
        mu_ref, lv_ref = net.eval().encode(torch.from_numpy(images))
    mu, lv = model.encode(images, return_logvar=True)
    # the loaded network computes in the channels-last layout: the same numbers up to float32 rounding
    assert model.network.fc_mu.weight.is_contiguous() and model.network.encoder[0][0].weight.is_contiguous(
        memory_format=torch.channels_last
    )
    fan_in = net.fc_mu.in_features
    np.testing.assert_allclose(mu, mu_ref.numpy(), rtol=0, atol=latent_tolerance(mu_ref.numpy(), fan_in))
    np.testing.assert_allclose(lv, lv_ref.numpy(), rtol=0, atol=latent_tolerance(lv_ref.numpy(), fan_in))
    again = GalaxyVAE.load(path.parent / "model.safetensors")
    np.testing.assert_array_equal(again.encode(images), mu)
    assert model.size == 16 and model.latent_dim == 3 and model.normalisation == NORM


def test_mu_is_batch_invariant(exported, store16):
    model = GalaxyVAE.load(exported[0])
    _, images = store16
    full = model.encode(images, batch_size=10)
    small = model.encode(images, batch_size=3)
    single = model.encode(images[4])
    perm = np.random.default_rng(1).permutation(10)
    shuffled = model.encode(images[perm], batch_size=4)
    tol = latent_tolerance(full, model.network.fc_mu.in_features)  # float32 rounding differs by batch layout
    np.testing.assert_allclose(small, full, rtol=0, atol=tol)
    np.testing.assert_allclose(single, full[4], rtol=0, atol=tol)
    np.testing.assert_allclose(shuffled, full[perm], rtol=0, atol=tol)


def test_reconstruct_decode_generate(exported, store16):
    model = GalaxyVAE.load(exported[0])
    _, images = store16
    recon = model.reconstruct(images, batch_size=4)
    assert recon.shape == images.shape and recon.dtype == np.float32
    direct = model.decode(model.encode(images))  # one batch of 10 against batches of 4: equal to rounding
    np.testing.assert_allclose(recon, direct, rtol=0, atol=float32_tolerance(direct, decoder_fan_in(model.network)))
    g1, g2, g3 = model.generate(5, seed=3), model.generate(5, seed=3), model.generate(5, seed=4)
    assert g1.shape == (5, 3, 16, 16)
    np.testing.assert_array_equal(g1, g2)
    assert not np.array_equal(g1, g3)
    path = model.interpolate(np.zeros(3), np.ones(3), steps=4, return_latents=True)
    np.testing.assert_allclose(path[1][:, 0], [0, 1 / 3, 2 / 3, 1], rtol=1e-6)
    assert path[0].shape == (4, 3, 16, 16)


def test_bad_inputs(exported, store16):
    model = GalaxyVAE.load(exported[0])
    with pytest.raises(GalvaeValueError, match=r"images must have shape \(N, 3, 16, 16\)"):
        model.encode(np.zeros((2, 3, 32, 32)))
    with pytest.raises(GalvaeValueError, match=r"latents must have shape \(N, 3\)"):
        model.decode(np.zeros((2, 5)))
    with pytest.raises(GalvaeValueError, match="batch_size"):
        model.encode(np.zeros((2, 3, 16, 16)), batch_size=0)
    with pytest.raises(GalvaeValueError, match="steps"):
        model.interpolate(np.zeros(3), np.ones(3), steps=1)
    with pytest.raises(GalvaeKeyError, match="nope"):
        model.interpolate("x1", "nope", store=store16[0])


def test_model_to_device(exported):
    model = GalaxyVAE.load(exported[0]).to("cpu")
    assert model.device == torch.device("cpu")


def test_load_errors(tmp_path, exported):
    with pytest.raises(GalvaeFileError, match="no exported galvae model"):
        GalaxyVAE.load(tmp_path / "missing")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(GalvaeFileError, match="not a galvae model description"):
        load_exported(bad)
    meta = json.loads(exported[0].read_text())
    meta["model_config"]["latent_dim"] = 7
    wrong = exported[0].parent / "wrong.json"
    wrong.write_text(json.dumps(meta))
    with pytest.raises(GalvaeFileError, match="weights do not fit the architecture"):
        load_exported(wrong)
    del meta["model_config"]
    wrong.write_text(json.dumps(meta))
    with pytest.raises(GalvaeFileError, match="lacks 'model_config'"):
        load_exported(wrong)


def test_version_mismatch_warns(exported, caplog):
    meta = json.loads(exported[0].read_text())
    meta["galvae_version"] = "97.3.0"
    exported[0].write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING, logger="galvae.latents.export"):
        GalaxyVAE.load(exported[0])
    assert "galvae 97.3.0" in caplog.text


def test_store_must_match_model(exported, tmp_path):
    other = write_store(
        tmp_path / "s24.h5", np.zeros((2, 3, 24, 24), np.float32), ["a", "b"], survey="sim", normalisation=NORM
    )
    with pytest.raises(GalvaeValueError, match="has size 24 but model .* expects size 16"):
        encode_store(exported[0], other, tmp_path / "l.parquet", progress=False)
    asinh = write_store(
        tmp_path / "asinh.h5",
        np.zeros((2, 3, 16, 16), np.float32),
        ["a", "b"],
        survey="sim",
        normalisation=StretchConfig(),
    )
    with pytest.raises(GalvaeValueError, match="normalisation .*asinh.* but model .* has .*none"):
        reconstruct_store(exported[0], asinh, tmp_path / "r.h5", progress=False)
    gz = write_store(
        tmp_path / "gz.h5",
        np.zeros((2, 3, 16, 16), np.float32),
        ["a", "b"],
        survey="sim",
        normalisation=StretchConfig(kind="uint8"),
        attrs={"profile": "gz-decals"},
    )
    with pytest.raises(GalvaeValueError, match="presented as 'gz-decals' but model .* as 'fixed'"):
        encode_store(exported[0], gz, tmp_path / "l.parquet", progress=False)


@pytest.mark.parametrize("name", ["lat.parquet", "lat.fits"])
def test_latent_catalogue(exported, store16, tmp_path, name):
    path, images = store16
    model = GalaxyVAE.load(exported[0])
    out = encode_store(model, path, tmp_path / name, batch_size=4, progress=False)
    df, meta = read_latent_catalog(out)
    assert list(df.columns) == ["id"] + [f"mu_{j}" for j in range(3)] + [f"logvar_{j}" for j in range(3)] + [
        "recon_error",
        "outlier_sigma",
        "outlier",
    ]
    assert df["id"].tolist() == [f"x{i}" for i in range(10)]
    mu, lv = model.encode(images, return_logvar=True)  # one batch of 10; the catalogue used batches of 4
    fan_in = model.network.fc_mu.in_features
    np.testing.assert_allclose(df[["mu_0", "mu_1", "mu_2"]].to_numpy(), mu, rtol=0, atol=latent_tolerance(mu, fan_in))
    np.testing.assert_allclose(
        df[["logvar_0", "logvar_1", "logvar_2"]].to_numpy(), lv, rtol=0, atol=latent_tolerance(lv, fan_in)
    )
    recon = model.reconstruct(images)
    expected_err = ((recon - images) ** 2).mean(axis=(1, 2, 3))
    err_tol = mse_tolerance(expected_err, float32_tolerance(recon, decoder_fan_in(model.network)))
    assert np.all(np.abs(df["recon_error"].to_numpy() - expected_err) <= err_tol)
    assert meta["store"] == str(path.resolve()) and meta["model"] == str(exported[0].resolve())
    assert meta["latent_dim"] == 3
    if name.endswith(".fits"):
        hdr = fits.getheader(out, 1)
        assert hdr["NLATENT"] == 3 and hdr["STORE"] == str(path.resolve())
    else:
        assert b"galvae" in pq.read_schema(out).metadata
    with pytest.raises(GalvaeFileError, match="already exists"):
        encode_store(model, path, out, progress=False)


def _planted_outlier_store(tmp_path, n=60):
    """A store of faint noise with one bright, structured image (row 7) that sits far from the rest in latent space."""
    rng = np.random.default_rng(3)
    images = 0.05 * rng.random((n, 3, 16, 16), dtype=np.float32)
    images[7] = 1.0
    images[7, :, :8] = 0.0
    return write_store(tmp_path / "planted.h5", images, [f"p{i}" for i in range(n)], survey="sim", normalisation=NORM)


@pytest.mark.parametrize("robust", [False, True])
def test_latent_catalogue_outlier_columns(exported, tmp_path, robust):
    """outlier_sigma is find_outliers' largest |z| over this catalogue's own latents; outlier is the cut at k."""
    from galvae.evaluate.outliers import find_outliers

    path = _planted_outlier_store(tmp_path)
    out = encode_store(exported[0], path, tmp_path / "l.parquet", progress=False, outlier_k=5, outlier_robust=robust)
    df, meta = read_latent_catalog(out)
    mu = df[[f"mu_{j}" for j in range(3)]].to_numpy(np.float64)
    if robust:
        centre = np.median(mu, axis=0)
        scale = 1.4826 * np.median(np.abs(mu - centre), axis=0)
    else:
        centre, scale = mu.mean(axis=0), mu.std(axis=0)
    want = np.abs((mu - centre) / scale).max(axis=1)
    np.testing.assert_allclose(df["outlier_sigma"].to_numpy(), want, rtol=1e-5)
    ref = find_outliers(df, sigma=5, robust=robust)
    np.testing.assert_array_equal(df["outlier"].to_numpy(), ref.flagged)
    assert df["outlier"].dtype == bool
    assert df.loc[df["outlier_sigma"].idxmax(), "id"] == "p7" and bool(df.loc[7, "outlier"])
    assert meta["outlier"]["k"] == 5 and meta["outlier"]["robust"] is robust
    assert meta["outlier"]["n_rows"] == 60 and meta["outlier"]["n_flagged"] == int(df["outlier"].sum())
    # the default k is the paper's 8
    out8 = encode_store(exported[0], path, tmp_path / "l8.fits", progress=False, outlier_robust=robust)
    df8, meta8 = read_latent_catalog(out8)
    assert meta8["outlier"]["k"] == 8.0
    np.testing.assert_array_equal(df8["outlier"].to_numpy(), df8["outlier_sigma"].to_numpy() > 8)
    assert fits.getheader(out8, 1)["OUTLIERK"] == 8.0


def test_latent_catalogue_outlier_k_checked_and_single_row(exported, tmp_path):
    path = _planted_outlier_store(tmp_path)
    for bad in (0, -1, float("nan"), "x"):
        with pytest.raises(GalvaeValueError, match="outlier_k"):
            encode_store(exported[0], path, tmp_path / "bad.parquet", progress=False, outlier_k=bad)
    assert not (tmp_path / "bad.parquet").exists()
    one = write_store(
        tmp_path / "one.h5", np.zeros((1, 3, 16, 16), np.float32), ["solo"], survey="sim", normalisation=NORM
    )
    df, _ = read_latent_catalog(encode_store(exported[0], one, tmp_path / "one.parquet", progress=False))
    assert np.isnan(df["outlier_sigma"].iloc[0]) and not df["outlier"].iloc[0]


def test_reconstruct_store(exported, store16, tmp_path):
    path, images = store16
    out = reconstruct_store(exported[0], path, tmp_path / "rec.h5", batch_size=3, progress=False)
    with ImageStore(out) as st:
        assert len(st) == 10 and st.size == 16 and st.normalisation == NORM
        assert st.ids.tolist() == [f"x{i}" for i in range(10)]
        assert st.attrs["kind"] == "reconstruction" and st.attrs["reconstructed_from"] == str(path.resolve())
        vae = GalaxyVAE.load(exported[0])
        want = vae.reconstruct(images)  # batches of 3 against the default batch size
        np.testing.assert_allclose(st.read(), want, rtol=0, atol=float32_tolerance(want, decoder_fan_in(vae.network)))


def test_generate_mocks(exported, store16, tmp_path):
    out = generate_mocks(exported[0], tmp_path / "m.h5", n=6, seed=2, progress=False)
    with ImageStore(out) as st:
        assert len(st) == 6 and st.size == 16 and st.attrs["kind"] == "prior_sample" and st.attrs["seed"] == 2
        vae = GalaxyVAE.load(exported[0])
        want = vae.generate(6, seed=2)
        np.testing.assert_allclose(st.read(), want, rtol=0, atol=float32_tolerance(want, decoder_fan_in(vae.network)))
    out2 = generate_mocks(
        exported[0], tmp_path / "p.h5", between=("x1", "x2"), store=store16[0], steps=5, progress=False
    )
    model = GalaxyVAE.load(exported[0])
    with ImageStore(out2) as st:
        assert len(st) == 5 and st.attrs["between"] == ["x1", "x2"]
        z = np.asarray(st.attrs["latents"])
        for got, image in ((z[0], store16[1][1]), (z[-1], store16[1][2])):
            want = model.encode(image)  # alone, against the store's batch
            np.testing.assert_allclose(got, want, rtol=0, atol=latent_tolerance(want, model.network.fc_mu.in_features))
    with pytest.raises(GalvaeValueError, match="needs store="):
        generate_mocks(exported[0], tmp_path / "q.h5", between=("x1", "x2"), progress=False)


def test_bf16_inference_is_opt_in_and_close_to_fp32(exported, store16, tmp_path):
    # issue 12: bfloat16 autocast for inference, off by default; bf16 keeps 8 significant bits (~3 digits),
    # so latents move by a few parts in a thousand of their scale, and they do move (autocast is applied)
    from galvae.latents.model import resolve_inference_precision
    from galvae.training.precision import cpu_has_native_bf16

    path, _ = exported
    store, images = store16
    fp32 = GalaxyVAE.load(path.parent)
    bf16 = GalaxyVAE.load(path.parent, precision="bf16-mixed")
    assert fp32.precision == "32" and bf16.precision == "bf16-mixed"
    mu32, mu16 = fp32.encode(images), bf16.encode(images)
    assert mu16.dtype == np.float32 and mu16.shape == mu32.shape
    scale = float(np.abs(mu32).max())
    assert 0 < float(np.abs(mu16 - mu32).max()) <= 0.03 * scale
    rec32, rec16 = fp32.reconstruct(images), bf16.reconstruct(images)
    assert float(np.abs(rec16 - rec32).max()) <= 0.03 * float(np.abs(rec32).max())
    # encode_store follows the model's precision and records it
    out = encode_store(bf16, store, tmp_path / "lat.parquet", progress=False)
    df, meta = read_latent_catalog(out)
    assert meta["precision"] == "bf16-mixed"
    np.testing.assert_allclose(df[[f"mu_{j}" for j in range(3)]].to_numpy(), mu16, rtol=0, atol=1e-6 * scale)
    assert (
        read_latent_catalog(encode_store(path.parent, store, tmp_path / "l32.parquet", progress=False))[1]["precision"]
        == "32"
    )
    # "auto" is what training's auto is on this CPU; a GPU name is never auto-bf16
    assert resolve_inference_precision("auto", "cpu") == ("bf16-mixed" if cpu_has_native_bf16() else "32")
    assert resolve_inference_precision("auto", "cuda:0") == "32"
    with pytest.raises(GalvaeValueError, match=r"precision \(inference\) not recognised \(got 'fp16'\)"):
        GalaxyVAE.load(path.parent, precision="fp16")


def test_tsne_of_the_same_latents_and_seed_is_computed_once_per_process(monkeypatch):
    import sklearn.manifold

    from galvae.evaluate import latent_space

    monkeypatch.setattr(latent_space, "_TSNE_MEMO", type(latent_space._TSNE_MEMO)())
    fits_run = []
    real = sklearn.manifold.TSNE.fit_transform

    def counting(self, x, *a, **k):
        fits_run.append(len(x))
        assert self.max_iter == 600  # small maps: 600 iterations (latent_space._tsne_iterations)
        return real(self, x, *a, **k)

    monkeypatch.setattr(sklearn.manifold.TSNE, "fit_transform", counting)
    x = np.random.default_rng(0).normal(size=(40, 5))
    xy, perplexity = latent_space.tsne_embedding(x, seed=1)
    xy[:] = 0.0  # the caller's copy: the memo keeps its own
    again, p2 = latent_space.tsne_embedding(x.copy(), seed=1)
    assert fits_run == [40] and p2 == perplexity and np.abs(again).max() > 0
    latent_space.tsne_embedding(x, seed=2)  # another seed, another map
    x2 = x.copy()
    x2[0, 0] += 1e-9  # another matrix, however close
    latent_space.tsne_embedding(x2, seed=1)
    assert fits_run == [40, 40, 40]
    np.testing.assert_array_equal(again, latent_space.tsne_embedding(x, seed=1)[0])
    assert latent_space._tsne_iterations(5000) == 600 and latent_space._tsne_iterations(5001) == 1000


def test_latent_density_draws_where_the_latents_are():
    from galvae.latents.density import LatentDensity

    rng = np.random.default_rng(0)
    # two clusters far from the prior's centre and scale: a mixture fitted to them draws from them
    mu = np.vstack([rng.normal(3.0, 0.1, (300, 4)), rng.normal(-2.0, 0.2, (100, 4))])
    dens = LatentDensity(n_components=2, seed=1).fit(mu)
    assert dens.n_fitted_ == 400 and dens.latent_dim_ == 4 and dens.weights_.sum() == pytest.approx(1.0)
    z = dens.sample(4000, seed=3)
    assert z.shape == (4000, 4) and z.dtype == np.float32
    near_a = np.abs(z - 3.0).max(axis=1) < 0.6
    near_b = np.abs(z + 2.0).max(axis=1) < 1.2
    assert (near_a | near_b).all()  # never between the clusters, where N(0, I) would put most draws
    assert near_a.mean() == pytest.approx(0.75, abs=0.03)  # the clusters' weights
    np.testing.assert_allclose(z[near_a].std(axis=0), 0.1, rtol=0.15)
    np.testing.assert_array_equal(dens.sample(5, seed=7), dens.sample(5, seed=7))  # seeded
    assert not np.array_equal(dens.sample(5, seed=7), dens.sample(5, seed=8))
    # fewer than 5 galaxies per component: fewer components; subsets above max_points
    assert len(LatentDensity(n_components=10).fit(mu[:20]).weights_) == 4
    assert LatentDensity(max_points=50).fit(mu).n_fitted_ == 50
    with pytest.raises(GalvaeValueError, match="not fitted"):
        LatentDensity().sample(3)
    with pytest.raises(GalvaeValueError, match=r"\(N, NL\)"):
        LatentDensity().fit(np.zeros(5))
    with pytest.raises(GalvaeValueError, match="non-finite"):
        LatentDensity().fit(np.full((5, 2), np.nan))
    with pytest.raises(GalvaeValueError, match="covariance"):
        LatentDensity(covariance="tied").fit(mu)


def test_generate_mocks_like_a_store_or_a_catalogue(exported, store16, tmp_path):
    from galvae.latents.density import LatentDensity

    path, images = store16
    vae = GalaxyVAE.load(exported[0])
    out = generate_mocks(exported[0], tmp_path / "like.h5", n=5, seed=4, like=path, n_components=1, progress=False)
    with ImageStore(out) as st:
        assert st.attrs["kind"] == "latent_density_sample" and st.attrs["n_fitted"] == 10
        assert st.attrs["like"] == str(path.resolve()) and st.attrs["n_components"] == 1
        want = vae.generate(5, seed=4, density=LatentDensity(n_components=1, seed=4).fit(vae.encode(images)))
        np.testing.assert_allclose(st.read(), want, rtol=0, atol=float32_tolerance(want, decoder_fan_in(vae.network)))
        assert not np.allclose(st.read(), vae.generate(5, seed=4))  # not the prior's draws
    cat = encode_store(exported[0], path, tmp_path / "cat.parquet", progress=False)
    out2 = generate_mocks(exported[0], tmp_path / "like2.h5", n=5, seed=4, like=cat, n_components=1, progress=False)
    with ImageStore(out2) as st:
        np.testing.assert_allclose(st.read(), want, rtol=0, atol=10 * float32_tolerance(want, 1))
    fitted = LatentDensity(n_components=1, seed=4).fit(vae.encode(images))
    out3 = generate_mocks(exported[0], tmp_path / "like3.h5", n=5, seed=4, like=fitted, progress=False)
    with ImageStore(out3) as st, ImageStore(out) as first:  # a fitted density is used as it is
        np.testing.assert_array_equal(st.read(), first.read())
    with pytest.raises(GalvaeValueError, match="3-dimensional latents of this model"):
        vae.generate(2, density=LatentDensity(n_components=1).fit(np.zeros((10, 5)) + np.arange(5)))


def test_density_mocks_are_decoder_outputs_unbounded_above(tmp_path):
    # the final ReLU is unbounded above: mocks from the latent density are stored as decoder outputs, as
    # reconstructions and prior draws are (a bright centre of the demo's mocks decoded to 1.005)
    torch.manual_seed(0)
    net = VAE(ModelConfig(size=16, latent_dim=3))
    with torch.no_grad():
        net.final[0].bias.fill_(2.0)
    path = export_model(net, tmp_path / "bright", normalisation=StretchConfig(), training={"seed": 0})
    like = np.random.default_rng(0).normal(size=(20, 3))
    with ImageStore(generate_mocks(path, tmp_path / "m.h5", n=2, like=like, n_components=1, progress=False)) as st:
        assert st.read().max() > 1.0 and st.attrs["kind"] == "latent_density_sample"
