"""Domain adaptation (issue 6): the Fig. 6 network, eq. 6, ``galvae adapt`` and its run directory."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
import torch

from galvae.cli import main
from galvae.data.store import ImageStore
from galvae.errors import GalvaeError, GalvaeKeyError, GalvaeValueError
from galvae.latents.catalog import encode_store, generate_mocks, read_latent_catalog
from galvae.latents.model import GalaxyVAE
from galvae.losses.adaptation import adaptation_loss
from galvae.losses.elbo import detail_filter, elbo_loss
from galvae.losses.mmd import mmd2, mmd2_unbiased
from galvae.models.config import ModelConfig
from galvae.models.da import DomainAdaptationVAE
from galvae.models.vae import VAE
from galvae.training.adapt import adapt, match_ids, pair_ratio
from galvae.training.config import AdaptConfig
from galvae.training.train import train

SURVEYS = ("decals", "bass_mzls")


# ----------------------------------------------------------------------------- the network
def _vae(seed: int = 0, size: int = 16, nl: int = 4) -> VAE:
    torch.manual_seed(seed)
    return VAE(ModelConfig(size=size, latent_dim=nl, channels=(4, 8, 8))).eval()


def test_from_vae_shares_encoder_and_copies_decoder():
    base = _vae()
    da = DomainAdaptationVAE.from_vae(base, SURVEYS).eval()
    x = torch.rand(5, 3, 16, 16)
    mu_b, lv_b = base.encode(x)
    mu_d, lv_d = da.encode(x)
    assert torch.equal(mu_b, mu_d) and torch.equal(lv_b, lv_d)
    for s in SURVEYS:
        assert torch.equal(da.decode(mu_d, s), base.decode(mu_b))
        assert torch.equal(da.to_vae(s).decode(mu_b), base.decode(mu_b))


def test_decoders_are_independent_and_encoder_shared():
    da = DomainAdaptationVAE.from_vae(_vae(), SURVEYS)
    before = {k: v.clone() for k, v in da.state_dict().items()}
    opt = torch.optim.SGD(da.parameters(), lr=0.1)
    x = torch.rand(4, 3, 16, 16)
    recon, _, _ = da(x, "bass_mzls")
    recon.sum().backward()
    opt.step()
    after = da.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith("decoders.bass_mzls.") for k in changed)
    assert any(k.startswith("encoder.") for k in changed)
    assert not any(k.startswith("decoders.decals.") for k in changed)
    # to_vae takes the encoder the two surveys share, and its own decoder
    x2 = torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        v_src, v_tgt = da.to_vae("decals").eval(), da.to_vae("bass_mzls").eval()
        assert torch.equal(v_src.encode(x2)[0], v_tgt.encode(x2)[0])
        assert not torch.equal(v_src.decode(v_src.encode(x2)[0]), v_tgt.decode(v_tgt.encode(x2)[0]))


@pytest.mark.parametrize(
    ("surveys", "match"),
    [(("decals",), "at least two surveys"), (("a", "a"), "distinct"), (("decals", "bass.mzls"), "letters, digits")],
)
def test_bad_survey_names(surveys, match):
    with pytest.raises(GalvaeValueError, match=match):
        DomainAdaptationVAE(ModelConfig(size=16, latent_dim=4, channels=(4, 8, 8)), surveys)


def test_unknown_decoder():
    da = DomainAdaptationVAE.from_vae(_vae(), SURVEYS)
    with pytest.raises(GalvaeKeyError, match="no decoder for survey.*'sdss'"):
        da.decode(torch.zeros(2, 4), "sdss")


# ----------------------------------------------------------------------------- eq. 6
def test_adaptation_loss_is_eq6():
    g = torch.Generator().manual_seed(3)
    xs, xt = torch.rand(6, 3, 8, 8, generator=g), torch.rand(6, 3, 8, 8, generator=g)
    rs, rt = torch.rand(6, 3, 8, 8, generator=g), torch.rand(6, 3, 8, 8, generator=g)
    ms, mt = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g) + 1
    ls, lt = torch.randn(6, 5, generator=g) * 0.1, torch.randn(6, 5, generator=g) * 0.1
    terms = adaptation_loss((rs, xs, ms, ls), (rt, xt, mt, lt), lam=0.5)
    es = elbo_loss(rs, xs, ms, ls).loss
    et = elbo_loss(rt, xt, mt, lt).loss
    mmd = mmd2_unbiased(ms, mt)
    assert float(terms.loss) == pytest.approx(float(es + et + 0.5 * mmd), rel=1e-6)
    assert float(terms.mmd2) == pytest.approx(mmd2(ms.numpy(), mt.numpy()), rel=1e-5)
    pair = float(((ms - mt) ** 2).mean())
    assert float(terms.pair_mse) == pytest.approx(pair, rel=1e-6)
    with_pair = adaptation_loss((rs, xs, ms, ls), (rt, xt, mt, lt), lam=0.5, pair_weight=2.0)
    assert float(with_pair.loss) == pytest.approx(float(terms.loss) + 2 * pair, rel=1e-6)
    zero = adaptation_loss((rs, xs, ms, ls), (rt, xt, mt, lt), lam=0.0)
    assert float(zero.loss) == pytest.approx(float(es + et), rel=1e-6)
    # adaptation keeps the VAE's own likelihood: a Gaussian decoder of σ per band
    sig = (0.02, 0.03, 0.05)
    gauss = adaptation_loss((rs, xs, ms, ls), (rt, xt, mt, lt), lam=0.0, likelihood="gaussian", sigma=sig)
    want = (
        elbo_loss(rs, xs, ms, ls, likelihood="gaussian", sigma=sig).loss
        + elbo_loss(rt, xt, mt, lt, likelihood="gaussian", sigma=sig).loss
    )
    assert float(gauss.loss) == pytest.approx(float(want), rel=1e-6)
    assert abs(float(gauss.loss) - float(zero.loss)) > 10 * abs(float(zero.loss))  # the σ's change the scale
    # γ, like λ, is relative to the summed reconstruction error: scaled by mean 1/(2σ_b²) under "gaussian"
    gauss_pair = adaptation_loss(
        (rs, xs, ms, ls), (rt, xt, mt, lt), lam=0.0, pair_weight=2.0, likelihood="gaussian", sigma=sig
    )
    scale = sum(1 / (2 * s**2) for s in sig) / 3
    assert float(gauss_pair.loss) == pytest.approx(float(gauss.loss) + 2 * scale * pair, rel=1e-5)
    # and the VAE's detail weight, in both ELBOs
    lam_d = detail_filter(8, 4.0, 0.125)
    detailed = adaptation_loss(
        (rs, xs, ms, ls), (rt, xt, mt, lt), lam=0.0, likelihood="gaussian", sigma=sig, detail=lam_d
    )
    want = (
        elbo_loss(rs, xs, ms, ls, likelihood="gaussian", sigma=sig, detail=lam_d).loss
        + elbo_loss(rt, xt, mt, lt, likelihood="gaussian", sigma=sig, detail=lam_d).loss
    )
    assert float(detailed.loss) == pytest.approx(float(want), rel=1e-6)
    assert float(detailed.loss) > 2 * float(gauss.loss) > 0  # random residuals are mostly fine-scale: they cost more


def test_adaptation_loss_errors():
    x = torch.rand(3, 3, 8, 8)
    m = torch.zeros(3, 2)
    with pytest.raises(GalvaeValueError, match="lambda .* non-negative"):
        adaptation_loss((x, x, m, m), (x, x, m, m), lam=-1)
    with pytest.raises(GalvaeValueError, match="equal length"):
        adaptation_loss((x, x, m, m), (x[:2], x[:2], m[:2], m[:2]), pair_weight=1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lam": -0.1}, "lam must be a non-negative"),
        ({"mmd_on": "x"}, "mmd_on"),
        ({"batch_size": 1}, "at least 2"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"val_fraction": 1.5}, "val_fraction"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "val_fraction \\+ test_fraction must be below 1"),
        ({"monitor": "val_mmd2"}, "monitor"),
    ],
)
def test_adapt_config_validation(kwargs, match):
    with pytest.raises(GalvaeValueError, match=match):
        AdaptConfig(**kwargs)


def test_match_ids():
    ids, si, ti, s_only, t_only = match_ids(["c", "a", "b", "x"], ["b", "y", "a"])
    assert ids.tolist() == ["a", "b"]
    assert si.tolist() == [1, 2] and ti.tolist() == [2, 0]
    assert s_only.tolist() == ["c", "x"] and t_only.tolist() == ["y"]


# ----------------------------------------------------------------------------- adapt() on tiny random stores
@pytest.fixture
def pair_stores(make_store):
    src, _, _ = make_store("src.h5", n=24, size=16, seed=1, survey="decals", prefix="g")
    tgt, _, _ = make_store("tgt.h5", n=20, size=16, seed=2, survey="bass_mzls", prefix="g")
    return src, tgt


@pytest.fixture
def base_run(pair_stores, tmp_path):
    train(
        pair_stores[0],
        tmp_path / "run",
        epochs=1,
        batch_size=8,
        latent_dim=4,
        seed=0,
        progress=False,
        model_config=ModelConfig(size=16, latent_dim=4, channels=(4, 8, 8)),
    )
    return tmp_path / "run"


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_adapt_run_directory(pair_stores, base_run, tmp_path):
    src, tgt = pair_stores
    res = adapt(base_run, src, tgt, tmp_path / "da", epochs=2, batch_size=4, seed=0, progress=False)
    assert res.surveys == SURVEYS and res.n_pairs == 20 and res.n_source_only == 4 and res.n_target_only == 0
    da = res.run_dir
    for name in (
        "config.json",
        "matching.json",
        "split.json",
        "metrics.csv",
        "model.json",
        "model_decals.json",
        "model_bass_mzls.json",
        "checkpoints/last.ckpt",
    ):
        assert (da / name).is_file(), name
    matching = json.loads((da / "matching.json").read_text())
    assert matching["source_only"] == ["g0020", "g0021", "g0022", "g0023"]
    cfg = json.loads((da / "config.json").read_text())
    assert cfg["adapt"]["lam"] == 0.5 and cfg["data"]["surveys"] == list(SURVEYS)
    # both decoders start from the trained one and then move apart; the encoder is shared
    w_src, w_tgt = _weights(da / "model_decals.safetensors"), _weights(da / "model_bass_mzls.safetensors")
    w_base = _weights(base_run / "model.safetensors")
    assert all(torch.equal(w_src[k], w_tgt[k]) for k in w_src if k.startswith(("encoder.", "fc_mu", "fc_logvar")))
    assert not torch.equal(w_src["final.0.weight"], w_tgt["final.0.weight"])
    assert not torch.equal(w_src["encoder.0.0.weight"], w_base["encoder.0.0.weight"])
    model = GalaxyVAE.load(da)
    assert model.decoders == SURVEYS and model.decoder == "decals"
    assert model.with_decoder("bass_mzls").decoder == "bass_mzls"
    with pytest.raises(GalvaeValueError, match="no decoder for survey.*'sdss'"):
        GalaxyVAE.load(da, decoder="sdss")
    with pytest.raises(GalvaeValueError, match="single decoder"):
        GalaxyVAE.load(base_run, decoder="decals")


def test_encode_and_generate_with_decoders(pair_stores, base_run, tmp_path):
    src, tgt = pair_stores
    da = adapt(base_run, src, tgt, tmp_path / "da", epochs=2, batch_size=4, progress=False).run_dir
    # the latents come from the shared encoder; recon_error uses the store's own survey decoder
    out_auto = encode_store(da, tgt, tmp_path / "t_auto.parquet", progress=False)
    out_src = encode_store(da, tgt, tmp_path / "t_src.parquet", decoder="decals", progress=False)
    a, meta_a = read_latent_catalog(out_auto)
    b, meta_b = read_latent_catalog(out_src)
    assert meta_a["decoder"] == "bass_mzls" and meta_b["decoder"] == "decals"
    mu = [c for c in a.columns if c.startswith("mu_")]
    np.testing.assert_array_equal(a[mu].to_numpy(), b[mu].to_numpy())
    assert not np.allclose(a["recon_error"], b["recon_error"])
    m1 = generate_mocks(da, tmp_path / "m_src.h5", n=4, seed=1, progress=False)
    m2 = generate_mocks(da, tmp_path / "m_tgt.h5", n=4, seed=1, decoder="bass_mzls", progress=False)
    from galvae.data.store import ImageStore

    with ImageStore(m1) as s1, ImageStore(m2) as s2:
        assert s1.survey == "vae_mock_decals" and s2.survey == "vae_mock_bass_mzls"
        assert not np.allclose(s1.read(), s2.read())


def test_resume_is_exact(pair_stores, base_run, tmp_path):
    src, tgt = pair_stores
    adapt(base_run, src, tgt, tmp_path / "straight", epochs=2, batch_size=4, seed=3, progress=False)
    adapt(base_run, src, tgt, tmp_path / "resumed", epochs=1, batch_size=4, seed=3, progress=False)
    # resumed from copies of the two stores elsewhere (a moved data folder): the same content, the same run
    import shutil

    moved = tmp_path / "moved"
    moved.mkdir()
    src2, tgt2 = shutil.copy(src, moved / "a.h5"), shutil.copy(tgt, moved / "b.h5")
    with pytest.raises(GalvaeValueError, match="adapted .* not"):  # the stores swapped are other content
        adapt(base_run, tgt2, src2, tmp_path / "resumed", epochs=2, resume=True, progress=False)
    res = adapt(base_run, src2, tgt2, tmp_path / "resumed", epochs=2, resume=True, progress=False)
    assert res.epochs == 2
    a = torch.load(tmp_path / "straight/checkpoints/last.ckpt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "resumed/checkpoints/last.ckpt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_adapt_errors(pair_stores, base_run, make_store, tmp_path):
    src, tgt = pair_stores
    same, _, _ = make_store("same.h5", n=20, size=16, seed=3, survey="decals", prefix="g")
    with pytest.raises(GalvaeValueError, match="same survey name"):
        adapt(base_run, src, same, tmp_path / "x", epochs=1, progress=False)
    adapt(base_run, src, same, tmp_path / "named", epochs=1, batch_size=4, target_name="decals_b", progress=False)
    assert GalaxyVAE.load(tmp_path / "named").decoders == ("decals", "decals_b")
    other, _, _ = make_store("other.h5", n=5, size=16, seed=4, survey="bass_mzls", prefix="h")
    with pytest.raises(GalvaeValueError, match="share only 0 ids"):
        adapt(base_run, src, other, tmp_path / "y", epochs=1, progress=False)
    big, _, _ = make_store("big.h5", n=5, size=32, seed=4, survey="bass_mzls", prefix="g")
    with pytest.raises(GalvaeValueError, match="size"):
        adapt(base_run, src, big, tmp_path / "z", epochs=1, progress=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    with pytest.raises(OSError, match="not empty"):
        adapt(base_run, src, tgt, tmp_path / "full", epochs=1, progress=False)
    with pytest.raises(OSError, match="no last checkpoint"):
        adapt(base_run, src, tgt, tmp_path / "nothing", epochs=1, resume=True, progress=False)


def test_cli_adapt_and_generate(pair_stores, base_run, tmp_path, capsys):
    src, tgt = pair_stores
    da = tmp_path / "da"
    assert (
        main(
            [
                "adapt",
                str(base_run),
                str(src),
                str(tgt),
                "--out",
                str(da),
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--lambda",
                "2",
                "--test-fraction",
                "0.25",
                "--monitor",
                "val_pair_ratio",
                "--decoder-epochs",
                "1",
                "-q",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "matched 20 galaxies" in out and "4 only in the source store" in out
    assert re.search(r"best val_pair_ratio [0-9.e-]+;", out)
    saved = json.loads((da / "config.json").read_text())["adapt"]
    assert saved["lam"] == 2.0 and saved["monitor"] == "val_pair_ratio" and saved["decoder_epochs"] == 1
    assert len(json.loads((da / "split.json").read_text())["test_ids"]) == 5
    assert (da / "decoders" / "checkpoints" / "last.ckpt").is_file()
    assert main(["generate", str(da), "--decoder", "bass_mzls", "--n", "3", "--out", str(tmp_path / "m.h5"), "-q"]) == 0
    assert main(["generate", str(da), "--decoder", "sdss", "--n", "3", "--out", str(tmp_path / "m2.h5"), "-q"]) == 2
    assert "no decoder for survey" in capsys.readouterr().err
    assert main(["encode", str(da), str(tgt), "--out", str(tmp_path / "l.parquet"), "-q"]) == 0


def test_export_last_or_best(pair_stores, base_run, tmp_path):
    src, tgt = pair_stores
    # validating every second epoch only: best.ckpt is epoch 1, last.ckpt epoch 2
    kw = dict(epochs=3, batch_size=4, progress=False, trainer_kwargs={"check_val_every_n_epoch": 2})
    last = adapt(base_run, src, tgt, tmp_path / "last", **kw)
    best = adapt(base_run, src, tgt, tmp_path / "best", export="best", **kw)
    assert torch.load(last.run_dir / "checkpoints/last.ckpt", weights_only=True)["epoch"] == 2
    assert torch.load(last.run_dir / "checkpoints/best.ckpt", weights_only=True)["epoch"] == 1
    meta_last = json.loads((last.run_dir / "model.json").read_text())
    meta_best = json.loads((best.run_dir / "model.json").read_text())
    assert meta_last["training"]["checkpoint"] == "last.ckpt" and meta_best["training"]["checkpoint"] == "best.ckpt"
    ck = torch.load(last.run_dir / "checkpoints/last.ckpt", weights_only=True)["state_dict"]
    w = _weights(last.run_dir / "model_bass_mzls.safetensors")
    assert torch.equal(w["final.0.weight"], ck["model.decoders.bass_mzls.final.0.weight"])
    assert not torch.equal(
        w["final.0.weight"], _weights(best.run_dir / "model_bass_mzls.safetensors")["final.0.weight"]
    )
    with pytest.raises(GalvaeValueError, match="export"):
        AdaptConfig(export="first")


def test_pair_ratio_reference_values():
    # two galaxies, one latent: s = (0, 1), t = (0, 1) + 0.1 -> paired MSE 0.01 both; mismatched (0-1.1)², (1-0.1)²
    s, t = np.array([[0.0], [1.0]]), np.array([[0.1], [1.1]])
    assert pair_ratio(s, t) == pytest.approx(0.01 / np.median([1.21, 0.81]))
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(50, 8))
    assert pair_ratio(mu, mu) == 0.0
    # scale-free: shrinking both surveys' latents together leaves it unchanged
    noisy = mu + rng.normal(0, 0.1, mu.shape)
    assert pair_ratio(0.01 * mu, 0.01 * noisy) == pytest.approx(pair_ratio(mu, noisy), rel=1e-9)
    # unrelated latents: paired pairs are as far apart as random ones
    assert 0.7 < pair_ratio(mu, rng.normal(size=mu.shape)) < 1.4
    assert np.isnan(pair_ratio(mu[:1], mu[:1]))
    # a sample of the mismatched pairs (seeded) when there are more than max_pairs
    a = pair_ratio(mu, noisy, max_pairs=500, seed=1)
    assert a == pair_ratio(mu, noisy, max_pairs=500, seed=1) and a == pytest.approx(pair_ratio(mu, noisy), rel=0.2)


def test_monitor_pair_ratio_chooses_the_exported_epoch(pair_stores, base_run, tmp_path):
    src, tgt = pair_stores
    res = adapt(
        base_run,
        src,
        tgt,
        tmp_path / "da",
        epochs=3,
        batch_size=4,
        test_fraction=0.25,
        monitor="val_pair_ratio",
        export="best",
        progress=False,
    )
    split = json.loads((res.run_dir / "split.json").read_text())
    assert (len(split["train_ids"]), len(split["val_ids"]), len(split["test_ids"])) == (11, 4, 5)
    assert not set(split["test_ids"]) & (set(split["train_ids"]) | set(split["val_ids"]))
    with open(res.run_dir / "metrics.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("val_pair_ratio")]
    ratios = [float(r["val_pair_ratio"]) for r in rows]
    losses = [float(r["val_loss"]) for r in rows]
    assert len(ratios) == 3 and all(r > 0 for r in ratios)
    assert res.monitor == "val_pair_ratio" and res.best_score == pytest.approx(min(ratios), rel=1e-6)
    assert res.best_val_loss == pytest.approx(min(losses), rel=1e-6)
    best_epoch = torch.load(res.run_dir / "checkpoints/best.ckpt", weights_only=True)["epoch"]
    assert best_epoch == int(np.argmin(ratios))
    training = json.loads((res.run_dir / "model.json").read_text())["training"]
    assert training["monitor"] == "val_pair_ratio" and training["checkpoint"] == "best.ckpt"
    # the logged ratio of that epoch is pair_ratio of the validation pairs' latent means under the exported weights
    model = GalaxyVAE.load(res.run_dir)
    with ImageStore(src) as s, ImageStore(tgt) as t:
        rows_s = [list(s.ids).index(i) for i in split["val_ids"]]
        rows_t = [list(t.ids).index(i) for i in split["val_ids"]]
        mu_s, mu_t = model.encode(s.read(np.array(rows_s))), model.encode(t.read(np.array(rows_t)))
    assert pair_ratio(mu_s, mu_t) == pytest.approx(ratios[best_epoch], rel=1e-3)


def test_decoder_epochs_train_the_decoders_alone(pair_stores, base_run, tmp_path):
    src, tgt = pair_stores
    kw = dict(epochs=2, batch_size=4, test_fraction=0.2, monitor="val_pair_ratio", export="best", progress=False)
    plain = adapt(base_run, src, tgt, tmp_path / "plain", **kw)
    res = adapt(base_run, src, tgt, tmp_path / "dec", decoder_epochs=2, **kw)
    w_plain, w_dec = (_weights(r.run_dir / "model_bass_mzls.safetensors") for r in (plain, res))
    encoder = [k for k in w_dec if k.startswith(("encoder.", "fc_mu", "fc_logvar"))]
    decoder = [k for k in w_dec if k not in encoder]
    assert encoder and decoder
    # the encoder is the one of the epoch the fine-tuning chose; the decoders trained on
    assert all(torch.equal(w_dec[k], w_plain[k]) for k in encoder)
    assert not any(torch.equal(w_dec[k], w_plain[k]) for k in decoder if k.endswith("weight"))
    assert res.best_score == plain.best_score and res.epochs == plain.epochs
    with open(res.run_dir / "decoders" / "metrics.csv", newline="") as fh:
        assert len([r for r in csv.DictReader(fh) if r.get("val_loss")]) == 2
    training = json.loads((res.run_dir / "model.json").read_text())["training"]
    assert training["decoder_epochs"] == 2 and training["checkpoint"] == "decoders/checkpoints/last.ckpt"
    assert training["encoder_checkpoint"] == "best.ckpt"
    # latents (the test pairs' included) are unchanged; reconstructions are not
    x = ImageStore(tgt).read(np.arange(4))
    m_plain, m_dec = (
        GalaxyVAE.load(plain.run_dir, decoder="bass_mzls"),
        GalaxyVAE.load(res.run_dir, decoder="bass_mzls"),
    )
    np.testing.assert_array_equal(m_dec.encode(x), m_plain.encode(x))
    assert not np.allclose(m_dec.reconstruct(x), m_plain.reconstruct(x))
    with pytest.raises(GalvaeValueError, match="decoder_epochs must be a non-negative integer"):
        AdaptConfig(decoder_epochs=-1)


def test_diverged_adaptation_is_refused(pair_stores, base_run, tmp_path):
    src, tgt = pair_stores
    # NaN losses are skipped (galvae.training.guards) until the limit stops the run; weights that became
    # non-finite all the same would be refused at export
    with pytest.raises(GalvaeError, match="(training stopped|diverged).*lower the learning rate"):
        adapt(base_run, src, tgt, tmp_path / "nan", epochs=3, batch_size=4, lr=5.0, progress=False)
    assert not list((tmp_path / "nan").glob("model*.safetensors"))


def test_unmatched_target_ids_warn(pair_stores, base_run, make_store, tmp_path, caplog):
    src, _ = pair_stores
    tgt, _, _ = make_store("tgt_extra.h5", n=28, size=16, seed=6, survey="bass_mzls", prefix="g")  # g0024..g0027 extra
    with caplog.at_level("INFO", logger="galvae.training.adapt"):
        res = adapt(base_run, src, tgt, tmp_path / "da", epochs=1, batch_size=4, progress=False)
    assert res.n_target_only == 4 and res.n_source_only == 0
    assert [r.levelname for r in caplog.records if "are not used" in r.getMessage()] == ["WARNING"]
    caplog.clear()
    with caplog.at_level("INFO", logger="galvae.training.adapt"):
        adapt(base_run, src, pair_stores[1], tmp_path / "da2", epochs=1, batch_size=4, progress=False)
    assert [r.levelname for r in caplog.records if "are not used" in r.getMessage()] == ["INFO"]
