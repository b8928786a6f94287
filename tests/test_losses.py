"""Tests of the VAE objective (galvae.losses)."""

from __future__ import annotations

import math

import pytest
import torch

from galvae.errors import GalvaeValueError
from galvae.losses import elbo_loss, kl_divergence, reconstruction_error


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
    both = elbo_loss(torch.cat([recon, recon]), torch.cat([target, target]), torch.cat([mu, mu]), torch.cat([logvar, logvar]))
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
