"""The VAE objective: reconstruction error summed over pixels plus k · KL.

Reduction
---------
Per galaxy, the reconstruction term is **summed** over its 3 × S × S pixels
and the KL divergence of q(z|x) = N(μ, σ²) from the prior N(0, I) is summed
over the NL latents; the total is averaged over the batch:

    L = mean_i [ Σ_pixels ℓ(x̂_i, x_i) + k · Σ_j KL_ij ],
    KL_ij = -½ (1 + log σ²_ij − μ²_ij − σ²_ij)

With the MSE, this is (up to constants) the negative ELBO of a Gaussian
likelihood of unit variance per pixel.  Averaging over pixels instead would
divide the reconstruction term by 3 S² (12 288 at S = 64) while leaving the
KL term untouched, so with k = 1 the KL would dominate, q(z|x) would collapse
onto the prior and the latents would carry no information about the galaxy.
Averaging over the batch keeps the loss scale independent of the batch
size.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..errors import GalvaeValueError

__all__ = ["ElboTerms", "elbo_loss", "kl_divergence", "reconstruction_error"]

_LOSSES = ("mse", "mae")


class ElboTerms(NamedTuple):
    """Batch means of the loss and its two terms (0-d tensors)."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


def reconstruction_error(recon: torch.Tensor, target: torch.Tensor, loss: str = "mse") -> torch.Tensor:
    """Per-galaxy reconstruction error summed over pixels.

    Parameters
    ----------
    recon, target : Tensor, shape (N, 3, S, S)
    loss : {"mse", "mae"}, default "mse"
        Squared or absolute difference per pixel.

    Returns
    -------
    Tensor, shape (N,)

    Raises
    ------
    GalvaeValueError
        On an unknown loss or mismatched shapes.
    """
    if loss not in _LOSSES:
        raise GalvaeValueError("unknown reconstruction loss", loss, _LOSSES)
    if recon.shape != target.shape:
        raise GalvaeValueError(f"reconstruction shape {tuple(recon.shape)} differs from the target's", tuple(target.shape))
    diff = recon.float() - target.float()
    per_pixel = diff.square() if loss == "mse" else diff.abs()
    return per_pixel.flatten(1).sum(dim=1)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) per galaxy, summed over latents; shape (N,)."""
    mu, logvar = mu.float(), logvar.float()
    return -0.5 * torch.sum(1.0 + logvar - mu.square() - logvar.exp(), dim=1)


def elbo_loss(
    recon: torch.Tensor,
    target: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    loss: str = "mse",
    kl_weight: float = 1.0,
) -> ElboTerms:
    """The training objective: batch mean of (summed reconstruction + k · KL).

    Parameters
    ----------
    recon, target : Tensor, shape (N, 3, S, S)
    mu, logvar : Tensor, shape (N, NL)
    loss : {"mse", "mae"}, default "mse"
    kl_weight : float, default 1.0
        k of the paper's eq. 2.

    Returns
    -------
    ElboTerms
        ``loss``, ``reconstruction`` and ``kl`` (unweighted), each averaged
        over the batch.

    Raises
    ------
    GalvaeValueError
        On an unknown loss, a negative k, or mismatched shapes.
    """
    if not kl_weight >= 0:
        raise GalvaeValueError("kl_weight (k) must be a non-negative number", kl_weight)
    rec = reconstruction_error(recon, target, loss).mean()
    kl = kl_divergence(mu, logvar).mean()
    return ElboTerms(rec + kl_weight * kl, rec, kl)
