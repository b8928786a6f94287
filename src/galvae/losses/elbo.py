"""The VAE objective: a reconstruction negative log-likelihood plus k · KL.

    L = mean_i [ R_i + k · Σ_j KL_ij ],   KL_ij = -½ (1 + log σ²_ij − μ²_ij − σ²_ij)

The KL divergence of q(z|x) = N(μ, σ²) from the prior N(0, I) is summed over
the NL latents of galaxy i; the total is averaged over the batch, so the loss
scale does not depend on the batch size.  The reconstruction term R_i of a
galaxy depends on the *likelihood* (``ModelConfig.likelihood``); d = x − x̂
is the difference of one pixel, b the pixel's band:

``"sum"`` (default; galvae's reading of the paper's eq. 2)
    R_i = Σ_pixels d² (``loss="mse"``) or Σ_pixels |d| (``"mae"``).
    The paper writes ‖x − x̂‖² + k · KL with k = 1; ‖·‖² is a sum over the
    pixels, so this is the paper's objective as written, with images in
    [0, 1].  Up to a constant it is the negative log-likelihood of a
    Gaussian decoder with σ² = ½ (σ ≈ 0.71; MAE: a Laplace decoder of scale
    1), an order of magnitude above the sky noise of stretched images
    (a few hundredths), so with k = 1 the KL term outweighs what a latent
    can buy in reconstruction and q(z|x) collapses onto the prior
    (posterior collapse; Rybkin et al. 2021, "σ-VAE").  "sum" with weight k
    is the same objective as "gaussian" at noise σ with weight
    k_gauss = k / (2σ²): k = 1 here is k_gauss ≈ 310 at σ = 0.04, and the
    true ELBO at σ = 0.04 is "sum" with k = 2σ² ≈ 0.003.
``"mean"``
    R_i = mean over the galaxy's 3 S² pixels of d² (or |d|): the other
    literal reading of eq. 2 (a framework's default ``reduction="mean"``).
    It equals "sum" divided by 3 S², i.e. "sum" with k multiplied by 3 S²
    (12 288 at S = 64): a Gaussian decoder with σ² = 3 S² / 2.  It collapses
    even harder; kept as a measured alternative.
``"gaussian"``
    A calibrated decoder: with ``loss="mse"`` the exact Gaussian negative
    log-likelihood with one σ_b per band,

        R_i = Σ_pixels [ d² / (2 σ_b²) + log σ_b + ½ log 2π ],

    and with ``loss="mae"`` the Laplace negative log-likelihood of the same
    standard deviation σ_b (scale β_b = σ_b / √2),

        R_i = Σ_pixels [ |d| / β_b + log 2β_b ].

    σ is either fixed (``ModelConfig.noise_sigma``, by default estimated
    from the stores' sky pixels by :func:`galvae.losses.estimate_noise_sigma`)
    or learned (``learn_sigma``, :class:`galvae.losses.LearnedSigma`).  With
    k = 1 the loss is the true negative ELBO in nats per galaxy (−log p(x)
    bound of the continuous pixel values); k ≠ 1 is a β-VAE around it.
    Values may be negative (a density, not a probability).

In every case the KL term and ``kl_weight`` k are the same; only R changes.

Centre window (``ModelConfig.centre_window``, off by default)
    The decoder's noise grows away from the image centre: σ(r) = σ / √w(r),
    with ``w(r) = exp(−r² / (2 (c S)²))`` normalised to a mean of 1 over the
    S × S pixels (:func:`centre_weights`; c the window as a fraction of the
    side).  Each squared difference is weighted by w (absolute differences
    by √w), and the Gaussian and Laplace likelihoods keep their
    normalisation (−½ log w per pixel), so the loss stays a negative
    log-likelihood.  A cutout's galaxy is at its centre and its neighbours
    and companions are not: with c = 0.2 the latents spend less of their
    capacity on the light around the galaxy (measured in
    ``benchmarks/science.md``).

Detail weight (``ModelConfig.detail_weight`` b, ``detail_scale`` s; off by default)
    The residual image of each band is mapped by M = L + b (I − L) before
    the likelihood, L a periodic Gaussian blur of σ = s S pixels
    (:func:`detail_filter`): its smooth part counts as before and its fine
    part (what the blur removes: bars, arms, a bulge's edge, a disc's thin
    outline) b times as much, so a fine-scale offset costs b² times what it
    did under the Gaussian.  M is circulant, applied as a product with its
    spectrum λ(k) = b − (b − 1) ĝ(k) in Fourier space, and the Gaussian and
    Laplace likelihoods keep their normalisation (−mean log λ per pixel):
    a decoder whose noise is correlated, b times weaker at fine scales.
    Arms and bars are a few per cent of a galaxy's light, which a
    likelihood that counts every scale alike spends little on.  b = 1 is
    the likelihood unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from ..errors import GalvaeValueError
from ..models.config import LIKELIHOODS
from .noise import SIGMA_FLOOR

__all__ = [
    "COLOUR_BASIS",
    "ElboTerms",
    "LIKELIHOODS",
    "centre_weights",
    "detail_filter",
    "elbo_loss",
    "kl_divergence",
    "reconstruction_error",
]

_LOSSES = ("mse", "mae")
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class ElboTerms(NamedTuple):
    """Batch means of the loss and its two terms (0-d tensors)."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


def _band_sigma(sigma: torch.Tensor | Sequence[float] | float | None, like: torch.Tensor) -> torch.Tensor:
    """σ as a float tensor of shape (C, 1, 1) on ``like``'s device, floored at SIGMA_FLOOR."""
    if sigma is None:
        raise GalvaeValueError("the gaussian likelihood needs the noise sigma (one value per band)", None)
    s = sigma if isinstance(sigma, torch.Tensor) else torch.as_tensor(sigma, dtype=torch.float32)
    s = s.to(device=like.device, dtype=torch.float32).reshape(-1)
    n_bands = like.shape[1]
    if s.numel() == 1:
        s = s.expand(n_bands)
    if s.numel() != n_bands:
        raise GalvaeValueError(f"noise sigma needs one value per band ({n_bands})", tuple(s.tolist()))
    if not isinstance(sigma, torch.Tensor) and (not bool(torch.isfinite(s).all()) or bool((s <= 0).any())):
        # plain numbers are checked; a tensor σ (learned) is only floored, without a device sync per step
        raise GalvaeValueError("noise sigma must be positive and finite", tuple(s.tolist()))
    return s.clamp_min(SIGMA_FLOOR)[:, None, None]


def centre_weights(size: int, window: float) -> torch.Tensor | None:
    """Per-pixel weights of the centre window (module docstring), shape (size, size), mean 1; None for window 0.

    Parameters
    ----------
    size : int
        Image side S in pixels.
    window : float
        σ of the Gaussian window as a fraction of the side (0 = every pixel alike).

    Raises
    ------
    GalvaeValueError
        On a size below 1 or a window that is negative or not finite.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise GalvaeValueError("image size must be a positive integer", size)
    if not (math.isfinite(window) and window >= 0):
        raise GalvaeValueError("centre_window must be a non-negative fraction of the image side", window)
    if window == 0:
        return None
    c = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    w = torch.exp(-(c[:, None] ** 2 + c[None, :] ** 2) / (2.0 * (window * size) ** 2))
    return (w / w.mean()).to(torch.float32)


def detail_filter(size: int, weight: float, scale: float) -> torch.Tensor | None:
    """Spectrum λ(k) of the detail weight's map M (module docstring), shape (size, size); None for weight 1.

    Parameters
    ----------
    size : int
        Image side S in pixels.
    weight : float
        b, the factor on the fine part of the residuals (1 = the likelihood unchanged).
    scale : float
        σ of the Gaussian blur that defines the smooth part, as a fraction of the side.

    Returns
    -------
    Tensor or None
        float32, real and positive: b − (b − 1) ĝ(k), ĝ the discrete Fourier transform of the
        periodic Gaussian kernel (sum 1, so ĝ(0) = 1 and λ(0) = 1).

    Raises
    ------
    GalvaeValueError
        On a size below 1, a weight that is not positive and finite, or a scale outside (0, 1].
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise GalvaeValueError("image size must be a positive integer", size)
    if not (math.isfinite(weight) and weight > 0):
        raise GalvaeValueError("detail_weight must be a positive number", weight)
    if not (math.isfinite(scale) and 0 < scale <= 1):
        raise GalvaeValueError("detail_scale must be a fraction of the image side in (0, 1]", scale)
    if weight == 1.0:
        return None
    i = torch.arange(size, dtype=torch.float64)
    d2 = torch.minimum(i, size - i) ** 2  # periodic distance
    kernel = torch.exp(-(d2[:, None] + d2[None, :]) / (2.0 * (scale * size) ** 2))
    g = torch.fft.fft2(kernel / kernel.sum()).real.clamp(0.0, 1.0)
    return (weight - (weight - 1.0) * g).to(torch.float32)


def _apply_detail(diff: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
    """M applied to each band of (N, C, S, S) residuals, by its spectrum ``detail`` (S, S)."""
    size = diff.shape[-2:]
    half = detail[:, : size[1] // 2 + 1]
    return torch.fft.irfft2(torch.fft.rfft2(diff) * half, s=size)


#: The orthonormal luminance / colour basis of the colour-weighted likelihood (rows: (g + r + z) / √3,
#: (g − r) / √2, (g + r − 2z) / √6), acting on the bands g, r, z.
COLOUR_BASIS = (
    (1 / math.sqrt(3.0), 1 / math.sqrt(3.0), 1 / math.sqrt(3.0)),
    (1 / math.sqrt(2.0), -1 / math.sqrt(2.0), 0.0),
    (1 / math.sqrt(6.0), 1 / math.sqrt(6.0), -2 / math.sqrt(6.0)),
)


def _to_colour_basis(x: torch.Tensor, colour_weight: float) -> torch.Tensor:
    """(N, 3, S, S) band residuals → luminance and two colours, the colours times ``colour_weight``."""
    if x.shape[1] != 3:
        raise GalvaeValueError("the colour-weighted likelihood needs 3 bands (g, r, z)", x.shape[1])
    m = torch.tensor(COLOUR_BASIS, dtype=x.dtype, device=x.device)
    m = m * torch.tensor([1.0, colour_weight, colour_weight], dtype=x.dtype, device=x.device)[:, None]
    return torch.einsum("cb,nbhw->nchw", m, x)


def reconstruction_error(
    recon: torch.Tensor,
    target: torch.Tensor,
    loss: str = "mse",
    *,
    likelihood: str = "sum",
    sigma: torch.Tensor | Sequence[float] | float | None = None,
    weights: torch.Tensor | None = None,
    colour_weight: float = 1.0,
    detail: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-galaxy reconstruction term R_i of the objective (see the module docstring).

    Parameters
    ----------
    recon, target : Tensor, shape (N, C, S, S)
        C = 3 bands for galvae's images.
    loss : {"mse", "mae"}, default "mse"
        Squared or absolute difference per pixel (Gaussian or Laplace decoder).
    likelihood : {"sum", "mean", "gaussian"}, default "sum"
        Sum over pixels, mean over pixels, or the negative log-likelihood of a
        decoder with noise σ.
    sigma : Tensor or sequence of float or float, optional
        Noise standard deviation per band, shape (C,) (a scalar is used for
        every band), floored at 1e-3; required by ``"gaussian"``, ignored
        otherwise.  Gradients flow to a tensor σ (a learned σ).
    weights : Tensor, shape (S, S), optional
        The centre window's per-pixel weights (:func:`centre_weights`): the
        noise of pixel p is σ / √w_p.  None weights every pixel alike.
    colour_weight : float, default 1.0
        a of the colour-weighted likelihood (``ModelConfig.colour_weight``):
        the residuals (divided by σ for ``"gaussian"``) are rotated to
        :data:`COLOUR_BASIS` and the two colour components multiplied by a
        before they are squared or taken absolute.  The ``"gaussian"`` term
        stays the normalised negative log-likelihood of that model (a
        decoder whose colour noise is σ / a): −2 log a per pixel.  With 1 and
        ``"mse"`` it equals the unrotated term (the rotation is orthonormal).
    detail : Tensor, shape (S, S), optional
        The detail weight's spectrum (:func:`detail_filter`): each band's
        residual image is mapped by M = L + b (I − L) first, and the
        ``"gaussian"`` term subtracts mean log λ per pixel (log |det M|).
        None leaves the residuals as they are.

    Returns
    -------
    Tensor, shape (N,)
        float32.

    Raises
    ------
    GalvaeValueError
        On an unknown loss or likelihood, mismatched shapes, a missing,
        non-positive or wrongly sized σ for ``"gaussian"``, or
        ``colour_weight`` ≠ 1 on images without 3 bands, or a ``detail``
        spectrum whose shape is not the images'.
    """
    if loss not in _LOSSES:
        raise GalvaeValueError("unknown reconstruction loss", loss, _LOSSES)
    if likelihood not in LIKELIHOODS:
        raise GalvaeValueError("unknown likelihood", likelihood, LIKELIHOODS)
    if recon.shape != target.shape:
        raise GalvaeValueError(
            f"reconstruction shape {tuple(recon.shape)} differs from the target's", tuple(target.shape)
        )
    diff = recon.float() - target.float()
    w = None
    if weights is not None:
        w = weights.to(device=diff.device, dtype=torch.float32)
        if w.shape != diff.shape[-2:]:
            raise GalvaeValueError(
                f"the pixel weights must have the images' shape {tuple(diff.shape[-2:])}", tuple(w.shape)
            )
    if detail is not None:
        if diff.ndim != 4 or detail.shape != diff.shape[-2:]:
            raise GalvaeValueError(
                f"the detail spectrum must have the images' shape {tuple(diff.shape[-2:])}", tuple(detail.shape)
            )
        detail = detail.to(device=diff.device, dtype=torch.float32)
        diff = _apply_detail(diff, detail)
    if likelihood == "gaussian":
        if diff.ndim != 4:
            raise GalvaeValueError("the gaussian likelihood needs images of shape (N, C, S, S)", tuple(diff.shape))
        s = _band_sigma(sigma, diff)
        if colour_weight != 1.0:
            # in units of σ, rotated to luminance and colours; −log|det| of the map: Σ_b log σ_b − 2 log a
            y = _to_colour_basis(diff / s, colour_weight)
            norm = (
                torch.log(s)
                - torch.log(torch.tensor([1.0, colour_weight, colour_weight], device=s.device))[:, None, None]
            )
            if loss == "mse":
                sq = y.square() if w is None else y.square() * w
                per_pixel = 0.5 * sq + norm + _HALF_LOG_2PI
            else:
                ab = y.abs() if w is None else y.abs() * w.sqrt()
                per_pixel = math.sqrt(2.0) * ab + norm + 0.5 * math.log(2.0)
        elif loss == "mse":
            sq = diff.square() if w is None else diff.square() * w
            per_pixel = sq / (2.0 * s.square()) + torch.log(s) + _HALF_LOG_2PI
        else:
            scale = s / math.sqrt(2.0)  # Laplace scale with standard deviation σ
            ab = diff.abs() if w is None else diff.abs() * w.sqrt()
            per_pixel = ab / scale + torch.log(2.0 * scale)
        if w is not None:
            per_pixel = per_pixel - 0.5 * torch.log(w)  # the normalisation of a noise σ / √w
        if detail is not None:
            per_pixel = per_pixel - torch.log(detail).mean()  # log |det M| / S² per pixel
        return per_pixel.flatten(1).sum(dim=1)
    if colour_weight != 1.0:
        diff = _to_colour_basis(diff, colour_weight)
    if loss == "mse":
        per_pixel = diff.square() if w is None else diff.square() * w
    else:
        per_pixel = diff.abs() if w is None else diff.abs() * w.sqrt()
    flat = per_pixel.flatten(1)
    return flat.sum(dim=1) if likelihood == "sum" else flat.mean(dim=1)


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
    likelihood: str = "sum",
    sigma: torch.Tensor | Sequence[float] | float | None = None,
    weights: torch.Tensor | None = None,
    colour_weight: float = 1.0,
    detail: torch.Tensor | None = None,
) -> ElboTerms:
    """The training objective: batch mean of (R_i + k · KL_i).

    Parameters
    ----------
    recon, target : Tensor, shape (N, 3, S, S)
    mu, logvar : Tensor, shape (N, NL)
    loss : {"mse", "mae"}, default "mse"
    kl_weight : float, default 1.0
        k of the paper's eq. 2 (its meaning under each likelihood: module docstring).
    likelihood : {"sum", "mean", "gaussian"}, default "sum"
        Reconstruction term (:func:`reconstruction_error`).
    sigma : Tensor or sequence of float, optional
        Noise σ per band, shape (3,); required by ``"gaussian"``.
    weights : Tensor, shape (S, S), optional
        The centre window's pixel weights (:func:`centre_weights`).
    colour_weight : float, default 1.0
        a of the colour-weighted likelihood (:func:`reconstruction_error`).
    detail : Tensor, shape (S, S), optional
        The detail weight's spectrum (:func:`detail_filter`).

    Returns
    -------
    ElboTerms
        ``loss``, ``reconstruction`` and ``kl`` (unweighted), each averaged
        over the batch.

    Raises
    ------
    GalvaeValueError
        On an unknown loss or likelihood, a negative k, mismatched shapes, or
        a missing or invalid σ for ``"gaussian"``.
    """
    if not kl_weight >= 0:
        raise GalvaeValueError("kl_weight (k) must be a non-negative number", kl_weight)
    rec = reconstruction_error(
        recon,
        target,
        loss,
        likelihood=likelihood,
        sigma=sigma,
        weights=weights,
        colour_weight=colour_weight,
        detail=detail,
    ).mean()
    kl = kl_divergence(mu, logvar).mean()
    return ElboTerms(rec + kl_weight * kl, rec, kl)
