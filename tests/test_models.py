"""Tests of the VAE network (galvae.models)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from _float32 import decoder_fan_in, float32_tolerance, latent_tolerance
from galvae.errors import GalvaeValueError
from galvae.models import (
    VAE,
    DecoderBlock,
    EncoderBlock,
    ModelConfig,
    make_activation,
    reparameterise,
    to_network_layout,
    to_network_module,
)
from galvae.models import vae as vae_module
from galvae.models.da import DomainAdaptationVAE
from galvae.models.vae import INFERENCE_CHUNK, in_inference_chunks


@pytest.mark.parametrize("size", [8, 16, 32])
@pytest.mark.parametrize("nl", [1, 5])
def test_output_shapes(size, nl):
    torch.manual_seed(0)
    model = VAE(ModelConfig(size=size, latent_dim=nl))
    x = torch.rand(3, 3, size, size)
    recon, mu, logvar = model(x)
    assert recon.shape == (3, 3, size, size)
    assert mu.shape == (3, nl) and logvar.shape == (3, nl)
    assert model.decode(torch.zeros(2, nl)).shape == (2, 3, size, size)
    assert (recon >= 0).all()  # final ReLU


def test_architecture_is_the_papers():
    model = VAE(ModelConfig(size=16, latent_dim=40))
    enc = [b[0] for b in model.encoder]
    assert [(c.in_channels, c.out_channels) for c in enc] == [(3, 32), (32, 64), (64, 128)]
    assert all(isinstance(b[1], nn.MaxPool2d) and isinstance(b[2], nn.LeakyReLU) for b in model.encoder)
    dec = [b[0] for b in model.decoder]
    assert all(isinstance(c, nn.ConvTranspose2d) and c.stride == (1, 1) for c in dec)
    assert [(c.in_channels, c.out_channels) for c in dec] == [(128, 64), (64, 32), (32, 32)]
    assert all(isinstance(b[1], nn.Upsample) for b in model.decoder)
    assert model.fc_mu.in_features == 128 * 2 * 2 and model.fc_mu.out_features == 40
    assert isinstance(model.final[0], nn.Conv2d) and model.final[0].out_channels == 3
    assert isinstance(model.final[1], nn.ReLU)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm | nn.Dropout) for m in model.modules())


def test_defaults():
    cfg = ModelConfig()
    assert (cfg.size, cfg.latent_dim, cfg.channels, cfg.loss, cfg.kl_weight, cfg.kl_warmup_epochs) == (
        64,
        40,
        (32, 64, 128),
        "mse",
        1.0,
        0,
    )


def test_width_and_depth_variants():
    model = VAE(ModelConfig(size=12, latent_dim=3, channels=(8, 16), activation="relu"))
    recon, mu, _ = model(torch.rand(2, 3, 12, 12))
    assert recon.shape == (2, 3, 12, 12) and mu.shape == (2, 3)
    assert isinstance(model.encoder[0][2], nn.ReLU)


@pytest.mark.parametrize("size", [12, 20, 0, 7, 4])
def test_size_not_multiple_of_8(size):
    with pytest.raises(GalvaeValueError, match="multiple of 8"):
        ModelConfig(size=size)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"loss": "huber"}, "unknown reconstruction loss.*huber.*'mse', 'mae'"),
        ({"activation": "tanh"}, "activation.*tanh"),
        ({"kl_weight": -1.0}, "kl_weight"),
        ({"channels": ()}, "channels"),
        ({"channels": 64}, "channels must be a non-empty tuple of positive integers.*64"),
        ({"channels": (8, 8, 8, 8, 8)}, "image size must be a positive multiple of 32 .*16"),
        ({"kl_warmup_epochs": -2}, "kl_warmup_epochs"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(GalvaeValueError, match=match):
        ModelConfig(size=16, **kwargs)


def test_make_activation_rejects_unknown():
    with pytest.raises(GalvaeValueError, match="activation.*gelu"):
        make_activation("gelu")


def test_blocks_halve_and_double():
    x = torch.rand(1, 4, 8, 8)
    assert EncoderBlock(4, 6)(x).shape == (1, 6, 4, 4)
    assert DecoderBlock(4, 6)(x).shape == (1, 6, 16, 16)


def test_eval_mode_uses_mean_and_is_batch_invariant():
    torch.manual_seed(1)
    model = VAE(ModelConfig(size=16, latent_dim=4)).eval()
    x = torch.rand(6, 3, 16, 16)
    r1, mu1, _ = model(x)
    r2, _, _ = model(x)
    assert torch.equal(r1, r2)
    _, mu_one, _ = model(x[2:3])
    # a batch of one against a batch of six: equal to float32 rounding (tests/_float32.py)
    tol = latent_tolerance(mu1.detach().numpy(), model.fc_mu.in_features)
    torch.testing.assert_close(mu_one[0], mu1[2], rtol=0, atol=tol)


def test_inference_in_chunks_equals_one_pass_and_training_is_one_pass(monkeypatch):
    """Without gradients on the CPU a batch goes through in chunks of INFERENCE_CHUNK (cache-sized); the
    result is the one-pass result up to float32 rounding, for the VAE and for the adaptation model; with
    gradients (training) the batch goes through whole."""
    torch.manual_seed(3)
    cfg = ModelConfig(size=16, latent_dim=4)
    model, da = VAE(cfg).eval(), DomainAdaptationVAE(cfg, ("a", "b")).eval()
    x = torch.rand(2 * INFERENCE_CHUNK + 5, 3, 16, 16)
    z = torch.randn(len(x), 4)
    seen: list[int] = []
    model.encoder.register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape[0]))

    def outputs():
        with torch.no_grad():
            return (*model.encode(x), da.encode(x)[0], model.decode(z), da.decode(z, "b"))

    assert not in_inference_chunks(x)  # gradients on
    with torch.no_grad():
        assert in_inference_chunks(x) and not in_inference_chunks(x[:INFERENCE_CHUNK])
    chunked = outputs()
    monkeypatch.setattr(vae_module, "INFERENCE_CHUNK", 10**9)  # one pass
    whole = outputs()
    assert seen == [INFERENCE_CHUNK, INFERENCE_CHUNK, 5, len(x)]
    fan_in = [model.fc_mu.in_features] * 3 + [decoder_fan_in(model)] * 2
    for a, b, n in zip(chunked, whole, fan_in, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=0, atol=float32_tolerance(b.numpy(), n))
    monkeypatch.undo()
    seen.clear()
    model.train()
    model(x)[0].sum().backward()
    assert seen == [len(x)]


def test_training_mode_samples():
    torch.manual_seed(2)
    model = VAE(ModelConfig(size=16, latent_dim=4)).train()
    x = torch.rand(2, 3, 16, 16)
    g1 = torch.Generator().manual_seed(0)
    g2 = torch.Generator().manual_seed(0)
    assert torch.equal(model(x, generator=g1)[0], model(x, generator=g2)[0])
    assert not torch.equal(model(x)[0], model(x)[0])


def test_reparameterise_statistics():
    g = torch.Generator().manual_seed(0)
    mu = torch.full((20000, 1), 2.0)
    logvar = torch.full((20000, 1), torch.log(torch.tensor(0.25)).item())
    z = reparameterise(mu, logvar, generator=g)
    assert abs(z.mean().item() - 2.0) < 0.02
    assert abs(z.std().item() - 0.5) < 0.02


def test_network_layout_changes_strides_not_values():
    """Every network runs channels-last (galvae.models.layout): same numbers as NCHW to float32 rounding."""
    torch.manual_seed(0)
    x = torch.rand(4, 3, 16, 16)
    nhwc = to_network_layout(x)
    assert nhwc.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous(
        memory_format=torch.channels_last
    )
    assert torch.equal(nhwc, x) and nhwc.shape == x.shape
    z = torch.rand(4, 3)
    assert to_network_layout(z) is z  # latents (2-D) are left alone
    vae = VAE(ModelConfig(size=16, latent_dim=3)).eval()
    with torch.no_grad():
        mu_ref, _ = vae.encode(x)
        net = to_network_module(vae)
        assert net is vae and vae.encoder[0][0].weight.is_contiguous(memory_format=torch.channels_last)
        mu, _ = vae.encode(nhwc)
    torch.testing.assert_close(mu, mu_ref, rtol=0, atol=latent_tolerance(mu_ref.numpy(), vae.fc_mu.in_features))
