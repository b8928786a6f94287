"""The decoder's noise σ: estimated from the sky pixels of stored images, or learned.

A Gaussian decoder (``likelihood="gaussian"``, :mod:`galvae.losses.elbo`)
needs the standard deviation σ_b of the pixel noise in each band b of the
*stretched* images the model sees.  Two sources:

* :func:`estimate_noise_sigma` measures it on the images: in each image and
  band, the median of the image is removed and the median absolute deviation
  (MAD) of the pixels of the outer frame (``border`` pixels wide, mostly sky
  around a centred galaxy) is taken, × 1.4826 (the MAD of a normal
  distribution is 0.6745 σ).  The per-band value is the median over images,
  floored at :data:`SIGMA_FLOOR`.  Pixels clipped at 0 by the stretch shrink
  the MAD somewhat; σ is then slightly underestimated, which the learned
  variant corrects.
* :class:`LearnedSigma` holds one log σ per band as a parameter, optimised
  with the network (σ-VAE, Rybkin et al. 2021).  It converges to the RMS
  residual of the reconstruction in each band (the maximum-likelihood σ),
  which includes what the model cannot reconstruct, not only the sky noise.

Both are floored at :data:`SIGMA_FLOOR` (1e-3, a quarter of an 8-bit grey
level) so that σ can never run to 0 on images with blank (zero) borders or a
decoder that reproduces some pixels exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validate import check_int
from ..errors import GalvaeValueError

__all__ = ["DEFAULT_LEARNED_SIGMA", "LearnedSigma", "SIGMA_FLOOR", "estimate_noise_sigma", "estimate_store_noise_sigma"]

#: Lowest σ a Gaussian decoder uses (fixed or learned), in stretched pixel units.
SIGMA_FLOOR: float = 1e-3
#: Initial σ of a learned decoder noise when no estimate is given.
DEFAULT_LEARNED_SIGMA: float = 0.1
#: Consistency factor of the MAD for a normal distribution (1 / Φ⁻¹(3/4)).
_MAD_TO_SIGMA = 1.4826


def estimate_noise_sigma(images: Any, border: int = 4) -> tuple[float, float, float]:
    """Robust per-band sky noise σ of stretched images.

    Parameters
    ----------
    images : array_like or Tensor, shape (N, 3, S, S)
        Images as the model sees them (after the store's stretch).
    border : int, default 4
        Width in pixels of the outer frame taken as sky; ``2 * border`` must
        be smaller than S.

    Returns
    -------
    tuple of 3 float
        σ of bands g, r, z: median over images of 1.4826 × MAD of the frame
        pixels around the image's median, each at least :data:`SIGMA_FLOOR`.

    Raises
    ------
    GalvaeValueError
        On an array that is not (N, 3, S, S) with N ≥ 1, a border that leaves
        no interior, or non-finite pixels.
    """
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    x = x.astype(np.float64, copy=False)
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[0] < 1 or x.shape[2] != x.shape[3]:
        raise GalvaeValueError("estimate_noise_sigma needs images of shape (N, 3, S, S) with N >= 1", tuple(x.shape))
    size = x.shape[2]
    border = check_int(f"border (below half the image side {size})", border, minimum=1, maximum=(size - 1) // 2)
    if not np.all(np.isfinite(x)):
        raise GalvaeValueError("estimate_noise_sigma: images hold non-finite values")
    n = x.shape[0]
    frame = np.ones((size, size), dtype=bool)
    frame[border:-border, border:-border] = False
    sky = x[:, :, frame]  # (N, 3, P)
    centred = sky - np.median(x.reshape(n, 3, -1), axis=2, keepdims=True)
    mad = np.median(np.abs(centred - np.median(centred, axis=2, keepdims=True)), axis=2)  # (N, 3)
    sigma = np.maximum(_MAD_TO_SIGMA * np.median(mad, axis=0), SIGMA_FLOOR)
    return (float(sigma[0]), float(sigma[1]), float(sigma[2]))


class LearnedSigma(nn.Module):
    """One learned noise σ per band (the decoder's σ of a σ-VAE).

    The parameter ``log_sigma`` (shape (3,)) is log σ; the σ used is
    ``sqrt(exp(log_sigma)² + floor²)``, equal to exp(log σ) well above the
    floor and never below it, with a gradient everywhere (a hard clamp would
    stop the gradient and could leave σ stuck at the floor).

    Parameters
    ----------
    init : sequence of 3 float or float, default 0.1
        Initial σ per band (a single value is used for all three).
    floor : float, default 1e-3
        Lowest σ (:data:`SIGMA_FLOOR`).

    Raises
    ------
    GalvaeValueError
        On an initial σ or floor that is not positive and finite, or not 3 values.
    """

    def __init__(self, init: Sequence[float] | float = DEFAULT_LEARNED_SIGMA, floor: float = SIGMA_FLOOR) -> None:
        super().__init__()
        vals = [float(init)] * 3 if isinstance(init, int | float) else [float(v) for v in init]
        if len(vals) != 3 or not all(math.isfinite(v) and v > 0 for v in vals):
            raise GalvaeValueError("the initial learned σ must be 3 positive numbers (g, r, z)", tuple(vals))
        if not (math.isfinite(floor) and floor > 0):
            raise GalvaeValueError("the σ floor must be a positive number", floor)
        self.floor = float(floor)
        self.log_sigma = nn.Parameter(torch.tensor([math.log(max(v, floor)) for v in vals], dtype=torch.float32))

    def forward(self) -> torch.Tensor:
        """σ per band, shape (3,), float32, differentiable."""
        return torch.sqrt(torch.exp(2.0 * self.log_sigma) + self.floor**2)

    def values(self) -> tuple[float, float, float]:
        """The present σ of bands g, r, z as plain floats."""
        return self.sigma_from_state(self.log_sigma)

    def sigma_from_state(self, log_sigma: torch.Tensor) -> tuple[float, float, float]:
        """σ of bands g, r, z for a saved ``log_sigma`` tensor (e.g. of a checkpoint's state dict)."""
        with torch.no_grad():
            s = torch.sqrt(torch.exp(2.0 * log_sigma.detach().float().cpu()) + self.floor**2).tolist()
        return (float(s[0]), float(s[1]), float(s[2]))


def estimate_store_noise_sigma(
    stores: Any, rows: Sequence[int] | None = None, max_images: int = 512, border: int = 4
) -> tuple[float, float, float]:
    """:func:`estimate_noise_sigma` on an evenly spaced sample of up to ``max_images`` stored images.

    Parameters
    ----------
    stores : path or sequence of paths
        Image store(s), concatenated (as :class:`galvae.data.GalaxyDataset`).
    rows : sequence of int, optional
        Global rows to sample from (e.g. the training split); default all.
    max_images : int, default 512
        Largest sample; rows are taken evenly spaced, so the result is
        deterministic.
    border : int, default 4
        Width of the sky frame.

    Returns
    -------
    tuple of 3 float

    Raises
    ------
    GalvaeValueError
        On an empty selection or ``max_images`` < 1, and as :func:`estimate_noise_sigma`.
    """
    from ..data.dataset import GalaxyDataset, stores_key

    max_images = check_int("max_images", max_images, minimum=1)
    files = stores_key(stores)
    if rows is None:
        ds = GalaxyDataset(stores, in_memory=False)
        pool = np.arange(len(ds))
        for store in ds.stores:
            store.close()
    else:
        pool = np.asarray(rows, dtype=np.int64).reshape(-1)
    if pool.size == 0:
        raise GalvaeValueError("no images to estimate the noise sigma from")
    pick = np.unique(pool[np.linspace(0, pool.size - 1, min(max_images, pool.size)).round().astype(np.int64)])
    key = None if files is None else (files, pick.tobytes(), int(border))
    if key is not None and key in _SIGMA_MEMO:
        return _SIGMA_MEMO[key]
    sample = GalaxyDataset(stores, indices=np.sort(pick), in_memory=True)
    images = np.stack([np.asarray(sample[i]) for i in range(len(sample))])
    sigma = estimate_noise_sigma(images, border=border)
    if key is not None:
        if len(_SIGMA_MEMO) >= 16:
            _SIGMA_MEMO.pop(next(iter(_SIGMA_MEMO)))
        _SIGMA_MEMO[key] = sigma
    return sigma


#: σ estimated in this process, keyed by the stores' files (``data.dataset.stores_key``), the sampled rows
#: and the border: the demo's five training runs on one store and split estimate it once (0.7 s each).
_SIGMA_MEMO: dict[tuple, tuple[float, float, float]] = {}
