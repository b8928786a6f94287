"""The domain-adaptation objective of the paper's eq. 6.

    L_DA = L_VAE(source) + L_VAE(target) + λ · MMD²(latents of source, latents of target)
           [+ γ · mean_i ‖μ_s,i − μ_t,i‖² / NL]

Each L_VAE is :func:`galvae.losses.elbo_loss` (per-galaxy summed
reconstruction error + k · KL, averaged over the batch) of one survey's
images through the shared encoder and that survey's decoder.  MMD² is
:func:`galvae.losses.mmd.mmd2_unbiased` between the two batches' latent means
μ (the default, ``mmd_on="mu"``; the latents a catalogue holds) or their
sampled z (``mmd_on="z"``).  λ = 0.5 is the paper's.

λ is the weight *relative to the paper's reconstruction term*, the error
summed over pixels (``likelihood="sum"``).  The other likelihoods scale
that term — ``"gaussian"`` by 1/(2σ_b²) per band (≈ 300 at σ = 0.04),
``"mean"`` by 1/(3·S²) — and :func:`mmd_scale` scales λ with it, so that
λ = 0.5 keeps the paper's balance between reconstruction and alignment
whatever the likelihood.  Without it a gaussian model's MMD² term is
hundreds of times weaker than the paper's and adaptation does not align
(measured: λ = 5 cut MMD² by 1.1× instead of > 2× on the test bed of
``tests/test_adapt_effect.py``).

The last term is an option, off by default (γ = 0, the paper): when the two
batches hold the *same* galaxies seen by both surveys (the overlap sample),
it pulls each galaxy's two latent means together, the per-galaxy MSE that
``galvae compare-domains`` reports.  γ, like λ, is relative to the summed
reconstruction error and scaled by :func:`mmd_scale` with it: unscaled, a
gaussian model's pair term (γ · ~0.001 on the demo) was ~10⁻⁷ of its ELBO
and γ = 1 left the paired MSE unchanged (measured on the demo: 0.00084 →
0.00085).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from .._validate import check_float
from ..errors import GalvaeValueError
from .elbo import _band_sigma, elbo_loss
from .mmd import mmd2_unbiased

__all__ = ["AdaptationTerms", "MMD_ON", "adaptation_loss", "mmd_scale"]

#: What MMD² compares: the latent means or the reparameterised samples.
MMD_ON: tuple[str, ...] = ("mu", "z")


class AdaptationTerms(NamedTuple):
    """The total loss and its parts (0-d tensors; MMD² and pair term unweighted)."""

    loss: torch.Tensor
    vae_source: torch.Tensor
    vae_target: torch.Tensor
    mmd2: torch.Tensor
    pair_mse: torch.Tensor


def mmd_scale(likelihood: str, sigma: Any, images: torch.Tensor, loss: str = "mse") -> torch.Tensor | float:
    """Factor of λ that keeps the paper's reconstruction/alignment balance under ``likelihood``.

    Parameters
    ----------
    likelihood : {"sum", "mean", "gaussian"}
    sigma : sequence of 3 float or Tensor, optional
        The decoder noise σ per band (``"gaussian"`` only); a learned σ is
        used without its gradient.
    images : Tensor, shape (N, C, S, S)
        A batch, for the number of pixels (``"mean"``) and the device.
    loss : {"mse", "mae"}, default "mse"

    Returns
    -------
    float or 0-d Tensor
        1 for ``"sum"``; 1/(C·S²) for ``"mean"``; for ``"gaussian"`` the
        mean over bands of 1/(2σ_b²) (MSE) or √2/σ_b (MAE, a Laplace
        decoder of standard deviation σ_b): the factor by which that
        likelihood multiplies the summed error.
    """
    if likelihood == "sum":
        return 1.0
    if likelihood == "mean":
        return 1.0 / float(images[0].numel())
    s = _band_sigma(sigma.detach() if isinstance(sigma, torch.Tensor) else sigma, images).reshape(-1)
    return (1.0 / (2.0 * s.square())).mean() if loss == "mse" else (math.sqrt(2.0) / s).mean()


def adaptation_loss(
    source: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    target: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    *,
    lam: float = 0.5,
    pair_weight: float = 0.0,
    loss: str = "mse",
    kl_weight: float = 1.0,
    z_source: torch.Tensor | None = None,
    z_target: torch.Tensor | None = None,
    likelihood: str = "sum",
    sigma: Any = None,
    weights: torch.Tensor | None = None,
    colour_weight: float = 1.0,
    detail: torch.Tensor | None = None,
) -> AdaptationTerms:
    """Eq. 6 for one batch of source and one batch of target images.

    Parameters
    ----------
    source, target : tuple of Tensor
        ``(reconstruction, images, μ, log σ²)`` of each survey: images and
        reconstructions (N, 3, S, S), μ and log σ² (N, NL).  N ≥ 2 for MMD².
    lam : float, default 0.5
        λ, the weight of MMD² (the paper's value), relative to the summed
        reconstruction error: multiplied by :func:`mmd_scale` for the
        other likelihoods.
    pair_weight : float, default 0.0
        γ, weight of the paired-latent term, relative to the summed
        reconstruction error like ``lam`` (multiplied by the same
        :func:`mmd_scale`); needs row i of both batches to be the same galaxy.  0 (the paper) leaves it out of the loss (it is
        still computed and returned when the batches have equal length).
    loss : {"mse", "mae"}, default "mse"
    likelihood : {"sum", "mean", "gaussian"}, default "sum"
        The reconstruction term of each ELBO, as in
        :func:`galvae.losses.elbo_loss` (the VAE's own, so adaptation keeps
        the objective the model was trained with).
    sigma : sequence of 3 float or Tensor, optional
        The decoder noise σ per band for ``likelihood="gaussian"``.
    weights : Tensor, shape (S, S), optional
        The VAE's centre window (:func:`galvae.losses.centre_weights`), in both ELBOs.
    colour_weight : float, default 1.0
        The VAE's colour weight (:func:`galvae.losses.reconstruction_error`), in both ELBOs.
    detail : Tensor, shape (S, S), optional
        The VAE's detail-weight spectrum (:func:`galvae.losses.detail_filter`), in both ELBOs.
    kl_weight : float, default 1.0
        k of the paper's eq. 2.
    z_source, z_target : Tensor, optional
        Sampled latents; when both are given MMD² compares them instead of μ.

    Returns
    -------
    AdaptationTerms

    Raises
    ------
    GalvaeValueError
        On negative weights, or a paired term asked for batches of different length.
    """
    check_float("lambda (the MMD² weight)", lam, minimum=0)
    check_float("pair_weight", pair_weight, minimum=0)
    rs, xs, mus, lvs = source
    rt, xt, mut, lvt = target
    kw = dict(
        loss=loss,
        kl_weight=kl_weight,
        likelihood=likelihood,
        sigma=sigma,
        weights=weights,
        colour_weight=colour_weight,
        detail=detail,
    )
    es = elbo_loss(rs, xs, mus, lvs, **kw)
    et = elbo_loss(rt, xt, mut, lvt, **kw)
    a, b = (z_source, z_target) if z_source is not None and z_target is not None else (mus, mut)
    mmd = mmd2_unbiased(a, b)
    if mus.shape == mut.shape:
        pair = (mus.float() - mut.float()).square().mean()
    elif pair_weight > 0:
        raise GalvaeValueError(
            "the paired-latent term needs source and target batches of equal length", (mus.shape[0], mut.shape[0])
        )
    else:
        pair = torch.zeros((), device=mus.device)
    scale = mmd_scale(likelihood, sigma, xs, loss)
    total = es.loss + et.loss + lam * scale * mmd
    if pair_weight > 0:
        total = total + pair_weight * scale * pair
    return AdaptationTerms(total, es.loss, et.loss, mmd, pair)
