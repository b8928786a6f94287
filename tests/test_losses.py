"""Tests of the VAE objective (galvae.losses)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from galvae.errors import GalvaeValueError
from galvae.losses import (
    COLOUR_BASIS,
    SIGMA_FLOOR,
    LearnedSigma,
    centre_weights,
    detail_filter,
    elbo_loss,
    estimate_noise_sigma,
    kl_divergence,
    reconstruction_error,
)
from galvae.models import ModelConfig


def _pair():
    target = torch.zeros(2, 3, 2, 2)
    recon = torch.zeros(2, 3, 2, 2)
    recon[0, 0, 0, 0] = 2.0  # galaxy 0: one pixel off by 2
    recon[1] = 0.5  # galaxy 1: all 12 pixels off by 0.5
    return recon, target


def test_mse_is_summed_over_pixels():
    recon, target = _pair()
    err = reconstruction_error(recon, target, "mse")
    torch.testing.assert_close(err, torch.tensor([4.0, 12 * 0.25]))


def test_mae_option():
    recon, target = _pair()
    err = reconstruction_error(recon, target, "mae")
    torch.testing.assert_close(err, torch.tensor([2.0, 12 * 0.5]))


def test_kl_by_hand():
    mu = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    logvar = torch.tensor([[0.0, 0.0], [0.0, math.log(2.0)]])
    kl = kl_divergence(mu, logvar)
    expected_1 = 0.5 * 1.0 + (-0.5 * (1 + math.log(2.0) - 2.0))
    torch.testing.assert_close(kl, torch.tensor([0.0, expected_1]))


@pytest.mark.parametrize("loss", ["mse", "mae"])
@pytest.mark.parametrize("k", [0.0, 1.0, 3.5])
def test_elbo_combines_terms_with_k(loss, k):
    recon, target = _pair()
    mu = torch.tensor([[1.0], [0.0]])
    logvar = torch.zeros(2, 1)
    terms = elbo_loss(recon, target, mu, logvar, loss=loss, kl_weight=k)
    rec = (4.0 + 3.0) / 2 if loss == "mse" else (2.0 + 6.0) / 2
    kl = (0.5 + 0.0) / 2
    assert terms.reconstruction.item() == pytest.approx(rec)
    assert terms.kl.item() == pytest.approx(kl)
    assert terms.loss.item() == pytest.approx(rec + k * kl)


def test_loss_does_not_depend_on_batch_size():
    recon, target = _pair()
    mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    both = elbo_loss(
        torch.cat([recon, recon]), torch.cat([target, target]), torch.cat([mu, mu]), torch.cat([logvar, logvar])
    )
    once = elbo_loss(recon, target, mu, logvar)
    assert both.loss.item() == pytest.approx(once.loss.item())


def test_unknown_loss():
    recon, target = _pair()
    with pytest.raises(GalvaeValueError, match="unknown reconstruction loss.*'huber'"):
        reconstruction_error(recon, target, "huber")


def test_shape_mismatch():
    with pytest.raises(GalvaeValueError, match="reconstruction shape"):
        reconstruction_error(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 2, 2))


def test_negative_k():
    recon, target = _pair()
    with pytest.raises(GalvaeValueError, match="kl_weight"):
        elbo_loss(recon, target, torch.zeros(2, 1), torch.zeros(2, 1), kl_weight=-1.0)


# --- likelihoods: sum (the paper's eq. 2 as written), mean, gaussian/laplace with σ per band -----------------


def _random_pair(seed=0, n=3, size=4):
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(n, 3, size, size, generator=gen)
    recon = torch.rand(n, 3, size, size, generator=gen)
    return recon, target


def test_gaussian_nll_by_hand():
    recon, target = _random_pair(1, n=2, size=2)
    sigma = (0.05, 0.2, 0.7)
    got = reconstruction_error(recon, target, "mse", likelihood="gaussian", sigma=sigma)
    r, t = recon.double().numpy(), target.double().numpy()
    expected = []
    for i in range(2):
        total = 0.0
        for b in range(3):
            for y in range(2):
                for x in range(2):
                    d = r[i, b, y, x] - t[i, b, y, x]
                    total += d * d / (2 * sigma[b] ** 2) + math.log(sigma[b]) + 0.5 * math.log(2 * math.pi)
        expected.append(total)
    torch.testing.assert_close(got.double(), torch.tensor(expected, dtype=torch.float64), rtol=2e-6, atol=1e-5)


def test_laplace_nll_by_hand():
    recon, target = _random_pair(2, n=1, size=2)
    sigma = (0.1, 0.3, 0.5)
    got = reconstruction_error(recon, target, "mae", likelihood="gaussian", sigma=sigma)
    r, t = recon.double().numpy(), target.double().numpy()
    total = 0.0
    for b in range(3):
        scale = sigma[b] / math.sqrt(2.0)  # a Laplace of standard deviation σ
        total += float(abs(r[0, b] - t[0, b]).sum() / scale + 4 * math.log(2 * scale))
    assert got.item() == pytest.approx(total, rel=2e-6)


def test_sum_reproduces_the_old_objective_exactly():
    recon, target = _random_pair(3)
    mu, logvar = torch.randn(3, 5, generator=torch.Generator().manual_seed(4)), torch.zeros(3, 5)
    old_rec = (recon - target).square().flatten(1).sum(dim=1)  # the summed MSE galvae always used
    assert torch.equal(reconstruction_error(recon, target, "mse", likelihood="sum"), old_rec)
    assert torch.equal(reconstruction_error(recon, target, "mse"), old_rec)
    old = old_rec.mean() + 1.5 * kl_divergence(mu, logvar).mean()
    assert torch.equal(elbo_loss(recon, target, mu, logvar, kl_weight=1.5, likelihood="sum").loss, old)
    assert torch.equal(elbo_loss(recon, target, mu, logvar, kl_weight=1.5).loss, old)


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_mean_is_sum_over_3_s_squared(loss):
    recon, target = _random_pair(5, size=8)
    total = reconstruction_error(recon, target, loss, likelihood="sum")
    mean = reconstruction_error(recon, target, loss, likelihood="mean")
    torch.testing.assert_close(mean, total / (3 * 8 * 8))


def test_sum_equals_gaussian_with_half_variance_up_to_a_constant():
    # "sum" with k is the Gaussian decoder of σ² = ½ (module docstring): same gradients, constant offset.
    recon, target = _random_pair(6, size=4)
    s = math.sqrt(0.5)
    gauss = reconstruction_error(recon, target, likelihood="gaussian", sigma=(s, s, s))
    const = 3 * 16 * (math.log(s) + 0.5 * math.log(2 * math.pi))
    torch.testing.assert_close(gauss - const, reconstruction_error(recon, target, likelihood="sum"))


def test_learned_sigma_moves_to_the_residual_sigma():
    gen = torch.Generator().manual_seed(7)
    true = torch.tensor([0.02, 0.05, 0.15])
    target = torch.rand(64, 3, 8, 8, generator=gen)
    recon = target + torch.randn(64, 3, 8, 8, generator=gen) * true[None, :, None, None]
    rms = (recon - target).square().mean(dim=(0, 2, 3)).sqrt()
    noise = LearnedSigma(0.3)
    opt = torch.optim.Adam(noise.parameters(), lr=0.05)
    for _ in range(400):
        loss = reconstruction_error(recon, target, likelihood="gaussian", sigma=noise()).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.testing.assert_close(noise(), rms, rtol=0.03, atol=0.0)
    assert all(abs(v - 0.3) > 0.1 for v in noise.values())


def test_learned_sigma_has_a_floor_and_a_gradient_there():
    noise = LearnedSigma(1e-5)
    with torch.no_grad():
        noise.log_sigma.fill_(-50.0)
    sigma = noise()
    assert torch.all(sigma >= SIGMA_FLOOR)
    sigma.sum().backward()
    assert noise.log_sigma.grad is not None and torch.all(noise.log_sigma.grad != 0)
    assert LearnedSigma((0.1, 0.2, 0.3)).values() == pytest.approx((0.1, 0.2, 0.3), rel=1e-4)


def test_fixed_sigma_is_floored():
    recon, target = _random_pair(8, n=1, size=2)
    tiny = reconstruction_error(recon, target, likelihood="gaussian", sigma=torch.full((3,), 1e-6))
    floor = reconstruction_error(recon, target, likelihood="gaussian", sigma=(SIGMA_FLOOR,) * 3)
    torch.testing.assert_close(tiny, floor)


def test_estimate_noise_sigma_recovers_synthetic_noise():
    rng = np.random.default_rng(0)
    true = np.array([0.02, 0.05, 0.03])
    n, size = 64, 32
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    galaxy = 0.8 * np.exp(-0.5 * (x**2 + y**2) / 4.0**2)  # bright and centred: the frame stays sky
    images = 0.1 + galaxy[None, None] * rng.uniform(0.5, 1.5, (n, 1, 1, 1))
    images = images + rng.normal(0.0, 1.0, (n, 3, size, size)) * true[None, :, None, None]
    est = estimate_noise_sigma(images.astype(np.float32))
    assert len(est) == 3 and all(isinstance(v, float) for v in est)
    np.testing.assert_allclose(est, true, rtol=0.10)
    # a blank (noise-free) image has no measurable noise: the floor, never 0
    assert estimate_noise_sigma(np.zeros((2, 3, 16, 16))) == (SIGMA_FLOOR,) * 3
    assert estimate_noise_sigma(torch.from_numpy(images[:4].astype(np.float32))) == pytest.approx(
        estimate_noise_sigma(images[:4]), rel=1e-5
    )


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (np.zeros((2, 1, 16, 16)), r"shape \(N, 3, S, S\)"),
        (np.zeros((0, 3, 16, 16)), r"N >= 1"),
        (np.full((1, 3, 16, 16), np.nan), "non-finite"),
    ],
)
def test_estimate_noise_sigma_rejects_bad_input(images, match):
    with pytest.raises(GalvaeValueError, match=match):
        estimate_noise_sigma(images)
    with pytest.raises(GalvaeValueError, match="border"):
        estimate_noise_sigma(np.zeros((1, 3, 8, 8)), border=4)


def test_unknown_likelihood():
    recon, target = _pair()
    with pytest.raises(
        GalvaeValueError, match=r"unknown likelihood \(got 'poisson'\); accepted: 'sum', 'mean', 'gaussian'"
    ):
        reconstruction_error(recon, target, likelihood="poisson")
    with pytest.raises(
        GalvaeValueError, match=r"unknown likelihood \(got 'gauss'\); accepted: 'sum', 'mean', 'gaussian'"
    ):
        ModelConfig(likelihood="gauss")


def test_gaussian_needs_a_valid_sigma():
    recon, target = _pair()
    with pytest.raises(GalvaeValueError, match="gaussian likelihood needs the noise sigma"):
        reconstruction_error(recon, target, likelihood="gaussian")
    with pytest.raises(GalvaeValueError, match=r"one value per band \(3\)"):
        reconstruction_error(recon, target, likelihood="gaussian", sigma=(0.1, 0.2))
    with pytest.raises(GalvaeValueError, match="positive and finite"):
        reconstruction_error(recon, target, likelihood="gaussian", sigma=(0.1, 0.0, 0.1))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(likelihood="gaussian", noise_sigma=(0.1, 0.2)), "noise_sigma must be 3 positive numbers"),
        (dict(likelihood="gaussian", noise_sigma=(0.1, -0.2, 0.1)), "noise_sigma must be 3 positive numbers"),
        (dict(likelihood="gaussian", noise_sigma=(0.1, float("nan"), 0.1)), "noise_sigma must be 3 positive numbers"),
        (dict(likelihood="sum", noise_sigma=(0.1, 0.1, 0.1)), "apply to likelihood='gaussian' only.*'sum'"),
        (dict(likelihood="mean", learn_sigma=True), "apply to likelihood='gaussian' only.*'mean'"),
        (dict(likelihood="gaussian", learn_sigma=1), "learn_sigma must be True or False"),
    ],
)
def test_model_config_likelihood_options(kwargs, match):
    with pytest.raises(GalvaeValueError, match=match):
        ModelConfig(**kwargs)


def test_model_config_likelihood_round_trip():
    from galvae.config import config_from_dict, config_to_dict

    cfg = ModelConfig(likelihood="gaussian", noise_sigma=[0.01, 0.02, 0.03], learn_sigma=True)
    assert cfg.noise_sigma == (0.01, 0.02, 0.03)
    assert config_from_dict(ModelConfig, config_to_dict(cfg)) == cfg
    old = config_to_dict(ModelConfig())
    for key in ("likelihood", "noise_sigma", "learn_sigma"):  # a run saved before these fields existed
        old.pop(key)
    assert config_from_dict(ModelConfig, old).likelihood == "sum"


def test_store_noise_sigma_is_estimated_once_per_unchanged_store(make_store, monkeypatch):
    from galvae.losses import noise

    p, _, _ = make_store("n.h5", n=12, seed=5)
    calls = []
    real = noise.estimate_noise_sigma
    monkeypatch.setattr(noise, "estimate_noise_sigma", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(noise, "_SIGMA_MEMO", {})
    first = noise.estimate_store_noise_sigma(p, rows=range(10))
    assert noise.estimate_store_noise_sigma(p, rows=range(10)) == first and len(calls) == 1
    noise.estimate_store_noise_sigma(p, rows=range(8))  # another sample: estimated
    assert len(calls) == 2
    p.unlink()
    make_store("n.h5", n=12, seed=6)  # the store rewritten: estimated again, from the new pixels
    assert noise.estimate_store_noise_sigma(p, rows=range(10)) != first and len(calls) == 3


# --- the centre window (ModelConfig.centre_window)


def test_centre_weights_peak_at_the_centre_with_mean_one():
    w = centre_weights(16, 0.2)
    assert w.shape == (16, 16) and float(w.mean()) == pytest.approx(1.0, rel=1e-6)
    torch.testing.assert_close(w, w.flip(0).flip(1))  # symmetric about the image centre
    assert float(w[7:9, 7:9].min()) == float(w.max()) and float(w[0, 0]) == float(w.min())
    # exp(-r^2 / (2 (0.2 S)^2)) relative to the centre: the corner at r = 7.5 sqrt(2) px
    assert float(w[0, 0] / w[7, 7]) == pytest.approx(math.exp(-(7.5**2 * 2 - 0.5**2 * 2) / (2 * 3.2**2)), rel=1e-5)
    assert centre_weights(16, 0.0) is None
    with pytest.raises(GalvaeValueError, match="centre_window must be a non-negative fraction"):
        centre_weights(16, -0.1)
    with pytest.raises(GalvaeValueError, match="image size must be a positive integer"):
        centre_weights(0, 0.2)


@pytest.mark.parametrize("likelihood", ["sum", "gaussian"])
def test_centre_window_counts_the_centre_more_than_the_corners(likelihood):
    target = torch.zeros(2, 3, 16, 16)
    recon = target.clone()
    recon[0, :, 7, 7] = 0.1  # galaxy 0 wrong at the centre, galaxy 1 in a corner
    recon[1, :, 0, 0] = 0.1
    kw = dict(likelihood=likelihood, sigma=(0.05, 0.05, 0.05) if likelihood == "gaussian" else None)
    plain = reconstruction_error(recon, target, "mse", **kw)
    window = reconstruction_error(recon, target, "mse", weights=centre_weights(16, 0.2), **kw)
    assert float(plain[0] - plain[1]) == pytest.approx(0.0, abs=1e-4)
    assert float(window[0]) > float(window[1])
    # a wide window weights every pixel almost alike: the plain objective (up to the normalisation constant)
    wide = reconstruction_error(recon, target, "mse", weights=centre_weights(16, 50.0), **kw)
    torch.testing.assert_close(wide - wide[1], plain - plain[1], rtol=1e-3, atol=1e-3)


def test_centre_window_gaussian_is_the_nll_of_a_noise_rising_outwards():
    recon, target = _random_pair(3, n=1, size=4)
    w = centre_weights(4, 0.3)
    sigma = (0.05, 0.2, 0.7)
    got = reconstruction_error(recon, target, "mse", likelihood="gaussian", sigma=sigma, weights=w)
    r, t, ww = recon.double().numpy(), target.double().numpy(), w.double().numpy()
    total = 0.0
    for b in range(3):
        for y in range(4):
            for x in range(4):
                s = sigma[b] / math.sqrt(ww[y, x])  # the pixel's own noise
                d = r[0, b, y, x] - t[0, b, y, x]
                total += d * d / (2 * s * s) + math.log(s) + 0.5 * math.log(2 * math.pi)
    assert float(got[0]) == pytest.approx(total, rel=1e-5, abs=1e-4)
    with pytest.raises(GalvaeValueError, match="pixel weights must have the images' shape"):
        reconstruction_error(recon, target, "mse", likelihood="gaussian", sigma=sigma, weights=centre_weights(8, 0.3))


def test_model_config_centre_window():
    from galvae.config import config_from_dict, config_to_dict

    assert ModelConfig().centre_window == 0.0
    cfg = ModelConfig(centre_window=0.2)
    assert config_from_dict(ModelConfig, config_to_dict(cfg)) == cfg
    old = config_to_dict(ModelConfig())
    old.pop("centre_window")  # a run saved before the window existed
    assert config_from_dict(ModelConfig, old).centre_window == 0.0
    with pytest.raises(GalvaeValueError, match="centre_window"):
        ModelConfig(centre_window=-1.0)


# --- the colour-weighted likelihood (ModelConfig.colour_weight)


def test_colour_basis_is_orthonormal_luminance_and_two_colours():
    m = np.asarray(COLOUR_BASIS)
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(m[1:].sum(axis=1), 0.0, atol=1e-12)  # the colours ignore a grey offset
    assert np.all(m[0] > 0)


def test_colour_weight_near_one_is_the_gaussian_likelihood_unchanged():
    # σ-scaled residuals rotated by an orthonormal basis keep their squared sum: any σ per band
    recon, target = _random_pair(4, n=3, size=4)
    sigma = (0.05, 0.2, 0.7)
    plain = reconstruction_error(recon, target, "mse", likelihood="gaussian", sigma=sigma)
    rotated = reconstruction_error(recon, target, "mse", likelihood="gaussian", sigma=sigma, colour_weight=1.0 + 1e-6)
    torch.testing.assert_close(rotated, plain, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_colour_weight_gaussian_and_laplace_by_hand(loss):
    recon, target = _random_pair(5, n=1, size=2)
    sigma, a = (0.05, 0.2, 0.7), 3.0
    got = reconstruction_error(recon, target, loss, likelihood="gaussian", sigma=sigma, colour_weight=a)
    r, t, m = recon.double().numpy()[0], target.double().numpy()[0], np.asarray(COLOUR_BASIS)
    total = 0.0
    for y in range(2):
        for x in range(2):
            z = (r[:, y, x] - t[:, y, x]) / np.asarray(sigma)
            c = m @ z * np.array([1.0, a, a])
            if loss == "mse":
                total += 0.5 * np.sum(c**2) + 1.5 * math.log(2 * math.pi)
            else:  # unit-variance Laplace per component: scale 1/sqrt(2)
                total += np.sum(math.sqrt(2) * np.abs(c)) + 3 * math.log(math.sqrt(2))
            total += sum(math.log(s) for s in sigma) - 2 * math.log(a)  # -log |det| of x -> c
    assert float(got[0]) == pytest.approx(total, rel=1e-5, abs=1e-4)


def test_colour_weight_makes_a_colour_error_cost_more_than_a_grey_one():
    target = torch.full((2, 3, 4, 4), 0.5)
    recon = target.clone()
    recon[0] += 0.02  # galaxy 0: too bright in every band (grey)
    recon[1, 0] += 0.02 * math.sqrt(3 / 2)  # galaxy 1: the same squared error, as g - r colour
    recon[1, 1] -= 0.02 * math.sqrt(3 / 2)
    kw = dict(likelihood="gaussian", sigma=(0.01, 0.01, 0.01))
    plain = reconstruction_error(recon, target, "mse", **kw)
    assert float(plain[0]) == pytest.approx(float(plain[1]), rel=1e-5)
    a = 2.0
    weighted = reconstruction_error(recon, target, "mse", colour_weight=a, **kw)
    base = reconstruction_error(target, target, "mse", colour_weight=a, **kw)  # the normalisation alone
    grey, colour = float(weighted[0] - base[0]), float(weighted[1] - base[1])
    assert grey == pytest.approx(float(plain[0] - reconstruction_error(target, target, "mse", **kw)[0]), rel=1e-4)
    assert colour == pytest.approx(a**2 * grey, rel=1e-4)
    # the sum likelihood rotates the raw residuals the same way
    s_plain = reconstruction_error(recon, target, "mse")
    s_w = reconstruction_error(recon, target, "mse", colour_weight=a)
    assert float(s_w[1]) == pytest.approx(a**2 * float(s_plain[1]), rel=1e-4)
    assert float(s_w[0]) == pytest.approx(float(s_plain[0]), rel=1e-4)


def test_colour_weight_needs_three_bands_and_a_valid_config():
    recon, target = torch.zeros(1, 4, 2, 2), torch.ones(1, 4, 2, 2)
    with pytest.raises(GalvaeValueError, match="colour-weighted likelihood needs 3 bands"):
        reconstruction_error(recon, target, "mse", colour_weight=2.0)
    assert ModelConfig().colour_weight == 1.0 and ModelConfig().output == "relu"
    with pytest.raises(GalvaeValueError, match="colour_weight must be"):
        ModelConfig(colour_weight=0.0)
    with pytest.raises(GalvaeValueError, match="decoder output .*'tanh'"):
        ModelConfig(output="tanh")


def _detail_matrix(size: int, b: float, scale: float) -> np.ndarray:
    """M = L + b (I - L) built pixel by pixel in float64: L the periodic Gaussian blur of sigma = scale * size."""
    i = np.arange(size)
    d = np.minimum(i, size - i)
    k = np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2 * (scale * size) ** 2))
    k /= k.sum()
    blur = np.zeros((size * size, size * size))
    for y in range(size):
        for x in range(size):  # row (y, x) of L: the kernel centred on that pixel, wrapped
            blur[y * size + x] = np.roll(np.roll(k, y, axis=0), x, axis=1).ravel()
    return blur + b * (np.eye(size * size) - blur)


def test_detail_filter_is_the_spectrum_of_smooth_plus_b_times_fine():
    size, b, scale = 6, 5.0, 0.2
    lam = detail_filter(size, b, scale)
    assert lam.shape == (size, size) and lam.dtype == torch.float32
    assert float(lam[0, 0]) == pytest.approx(1.0, abs=1e-6)  # a constant offset is all smooth
    assert 1.0 <= float(lam.min()) and float(lam.max()) <= b  # fine modes cost up to b
    m = _detail_matrix(size, b, scale)
    assert float(torch.log(lam.double()).sum()) == pytest.approx(np.linalg.slogdet(m)[1], rel=1e-5)
    # the Gaussian term by hand: 0.5 |M d / sigma|^2 + the normalisation, minus log |det M|
    recon, target = _random_pair(7, n=1, size=size)
    sigma = (0.05, 0.2, 0.7)
    got = reconstruction_error(recon, target, "mse", likelihood="gaussian", sigma=sigma, detail=lam)
    diff = (recon - target).double().numpy()[0]
    total = 0.0
    for band, s in enumerate(sigma):
        y = m @ diff[band].ravel() / s
        total += 0.5 * np.sum(y**2) + size * size * (math.log(s) + 0.5 * math.log(2 * math.pi))
    total -= 3 * np.linalg.slogdet(m)[1]
    assert float(got[0]) == pytest.approx(total, rel=1e-5, abs=1e-3)
    assert detail_filter(size, 1.0, scale) is None  # b = 1: the likelihood unchanged


def test_detail_weight_makes_a_fine_error_cost_more_than_a_smooth_one():
    size = 16
    target = torch.zeros(2, 3, size, size)
    recon = target.clone()
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    recon[0] += 0.01 * torch.cos(2 * math.pi * xx / size)  # galaxy 0: a smooth, one-cycle offset
    recon[1] += 0.01 * torch.cos(2 * math.pi * 6 * (xx + yy) / size)  # galaxy 1: a fine pattern, 6 cycles
    kw = dict(likelihood="gaussian", sigma=(0.01, 0.01, 0.01))
    plain = reconstruction_error(recon, target, "mse", **kw) - reconstruction_error(target, target, "mse", **kw)
    lam = detail_filter(size, 4.0, 1 / 16)
    base = reconstruction_error(target, target, "mse", detail=lam, **kw)  # the normalisation alone
    weighted = reconstruction_error(recon, target, "mse", detail=lam, **kw) - base
    ratio = weighted / plain
    # each cosine is an eigenvector of M: its cost grows by lambda(k)^2
    assert float(ratio[0]) == pytest.approx(float(lam[0, 1]) ** 2, rel=1e-3)
    assert float(ratio[1]) == pytest.approx(float(lam[6, 6]) ** 2, rel=1e-3)
    assert float(ratio[0]) < 1.6 and float(ratio[1]) > 0.95 * 4.0**2  # smooth: little more; fine: ~b^2
    with pytest.raises(GalvaeValueError, match="detail spectrum must have the images' shape"):
        reconstruction_error(recon, target, "mse", detail=detail_filter(8, 4.0, 0.1))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"detail_weight": 0.0}, "detail_weight must be a number in"),
        ({"detail_weight": float("nan")}, "detail_weight must be"),
        ({"detail_scale": 0.0}, "detail_scale must be a number in"),
        ({"detail_scale": 1.5}, "detail_scale must be a number in"),
    ],
)
def test_model_config_detail_weight_is_validated(kwargs, match):
    with pytest.raises(GalvaeValueError, match=match):
        ModelConfig(**kwargs)


def test_detail_filter_rejects_bad_arguments():
    with pytest.raises(GalvaeValueError, match="detail_weight must be a positive number"):
        detail_filter(8, -1.0, 0.1)
    with pytest.raises(GalvaeValueError, match=r"detail_scale must be a fraction of the image side in \(0, 1\]"):
        detail_filter(8, 2.0, 0.0)
    with pytest.raises(GalvaeValueError, match="image size must be a positive integer"):
        detail_filter(0, 2.0, 0.1)


def test_linear_output_decoder_has_the_same_weights_and_can_go_negative():
    from galvae.models import VAE

    torch.manual_seed(0)
    relu = VAE(ModelConfig(size=16, latent_dim=4))
    lin = VAE(ModelConfig(size=16, latent_dim=4, output="linear"))
    assert relu.state_dict().keys() == lin.state_dict().keys()  # a model file loads into either
    lin.load_state_dict(relu.state_dict())
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(1)) * 3
    with torch.no_grad():
        a, b = relu.decode(z), lin.decode(z)
    assert float(a.min()) >= 0.0 and float(b.min()) < 0.0
    torch.testing.assert_close(a, b.clamp_min(0.0))
    lin.eval()  # reconstructions and mocks: valid images, clamped at 0
    with torch.no_grad():
        torch.testing.assert_close(lin.decode(z), a)
