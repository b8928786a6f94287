"""Structural similarity (SSIM) of galaxy images, batched in torch.

The paper's eq. 4–5 (Wang et al. 2004): luminance, contrast and structure
terms with C1 = (0.01 L)², C2 = (0.03 L)², C3 = C2 / 2 and
α = β = γ = 1, which combine to

    SSIM(x, y) = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)).

Local statistics use an 11 × 11 Gaussian window of σ = 1.5 pixels (weights
normalised to 1; population, not sample, covariance).  The SSIM map is
computed where the window lies wholly inside the image (the "valid" region,
a border of 5 pixels dropped on each side) and averaged; this is exactly
what ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
sigma=1.5, use_sample_covariance=False)`` returns (it filters with a
reflected border and then crops it away).  ``border="reflect"`` instead
pads the images by reflection and averages the whole map, which is what
torchmetrics' ``structural_similarity_index_measure`` (1.9) returns; the
two differ by ~0.01 on 24-pixel images and less on larger ones.  For images smaller than 11 pixels
the window is truncated to the largest odd side that fits (σ unchanged).

Each band is scored separately and the three scores are averaged.  The data
range L is 1 for galvae stores, whose asinh-stretched images lie in [0, 1];
pass ``data_range`` for other images.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import numpy as np

from ..errors import GalvaeValueError

__all__ = ["gaussian_window", "ssim"]

log = logging.getLogger(__name__)

WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
_CHUNK = 512


def gaussian_window(size: int = WINDOW_SIZE, sigma: float = WINDOW_SIGMA) -> np.ndarray:
    """1-D normalised Gaussian weights of odd length ``size`` (float64)."""
    if size < 1 or size % 2 == 0:
        raise GalvaeValueError("window size must be a positive odd integer", size)
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _as_tensor(x: Any, name: str) -> tuple[Any, bool]:
    import torch

    if isinstance(x, torch.Tensor):
        return x, True
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise GalvaeValueError(f"{name} must be a numpy array or torch tensor", type(x).__name__) from exc
    if not np.issubdtype(arr.dtype, np.number):
        raise GalvaeValueError(f"{name} must hold numbers", arr.dtype)
    return torch.from_numpy(np.ascontiguousarray(arr)), False


def _check_options(data_range: Any, reduction: str, border: str) -> float:
    """The data range L as a float, once the options of :func:`ssim` are valid."""
    if reduction not in ("none", "mean"):
        raise GalvaeValueError("reduction must be 'none' or 'mean'", reduction, allowed=("none", "mean"))
    if border not in ("valid", "reflect"):
        raise GalvaeValueError("border must be 'valid' or 'reflect'", border, allowed=("valid", "reflect"))
    try:
        L = float(data_range)
    except (TypeError, ValueError) as exc:
        raise GalvaeValueError("data_range must be a positive number", data_range) from exc
    if not (math.isfinite(L) and L > 0):
        raise GalvaeValueError("data_range must be a positive finite number", data_range)
    return L


def ssim(
    a: Any,
    b: Any,
    *,
    data_range: float = 1.0,
    per_band: bool = False,
    reduction: Literal["none", "mean"] = "none",
    border: Literal["valid", "reflect"] = "valid",
) -> Any:
    """SSIM between two batches of multi-band images.

    Parameters
    ----------
    a, b : ndarray or Tensor, shape (N, C, H, W) or (C, H, W)
        Images to compare (C = 3 bands for galvae stores).  Computed on
        ``a``'s device; float64 inputs are computed in float64, anything
        else in float32.
    data_range : float, default 1.0
        L, the range of pixel values (1 for galvae stores, in [0, 1]).
    per_band : bool, default False
        Return one score per band instead of the band average.
    reduction : {"none", "mean"}, default "none"
        "none": one score per image; "mean": the mean over images.

    border : {"valid", "reflect"}, default "valid"
        "valid": average the map where the window fits inside the image
        (scikit-image); "reflect": pad by reflection and average the whole
        map (torchmetrics).

    Returns
    -------
    ndarray or Tensor
        Same kind as ``a``.  Shape (N,) — or (N, C) with ``per_band`` — for
        "none"; a scalar — or (C,) — for "mean".  A 3-D input is treated as
        a batch of one and gives a scalar (or (C,)) for "none" too.

    Raises
    ------
    GalvaeValueError
        If the shapes differ or are not (N, C, H, W), the data range is not
        positive and finite, an image has a side under 1, or ``reduction``
        or ``border`` is unknown.
    """
    import torch
    import torch.nn.functional as F

    L = _check_options(data_range, reduction, border)
    ta, a_torch = _as_tensor(a, "a")
    tb, _ = _as_tensor(b, "b")
    if tuple(ta.shape) != tuple(tb.shape):
        raise GalvaeValueError(
            f"a and b must have the same shape, got {tuple(ta.shape)} and {tuple(tb.shape)}",
            tuple(tb.shape),
        )
    single = ta.ndim == 3
    if single:
        ta, tb = ta[None], tb[None]
    if ta.ndim != 4:
        raise GalvaeValueError("images must have shape (N, C, H, W) or (C, H, W)", tuple(ta.shape))
    n, c, h, w = ta.shape
    if min(h, w) < 1 or c < 1:
        raise GalvaeValueError("images must have at least one band and one pixel", tuple(ta.shape))
    dtype = torch.float64 if ta.dtype == torch.float64 else torch.float32
    dev = ta.device
    x = ta.to(dtype)
    y = tb.to(device=dev, dtype=dtype)
    size = min(WINDOW_SIZE, h if h % 2 else h - 1, w if w % 2 else w - 1)
    if size < WINDOW_SIZE:
        log.debug(
            "image %dx%d smaller than the %d-px window: using %d px",
            h,
            w,
            WINDOW_SIZE,
            size,
        )
    g = torch.as_tensor(gaussian_window(size), dtype=dtype, device=dev)

    def band(m: int) -> torch.Tensor:
        # (m, m - size + 1) banded matrix: column j holds the window at rows j … j + size - 1
        k = torch.zeros(m, m - size + 1, dtype=dtype, device=dev)
        for col in range(m - size + 1):
            k[col : col + size, col] = g
        return k

    def filt(t: torch.Tensor) -> torch.Tensor:
        # separable "valid" Gaussian filter as two matrix products, several
        # times faster than a grouped conv2d on CPU, and fast on GPU
        return kh.T @ t @ kw

    if border == "reflect" and size > 1:
        p = size // 2
        x = F.pad(x, (p, p, p, p), mode="reflect")
        y = F.pad(y, (p, p, p, p), mode="reflect")
    kh, kw = band(x.shape[-2]), band(x.shape[-1])
    c1 = (0.01 * L) ** 2
    c2 = (0.03 * L) ** 2
    parts = []
    for i in range(0, n, _CHUNK):  # bounds the memory of the five filtered stacks
        xi, yi = x[i : i + _CHUNK], y[i : i + _CHUNK]
        mx, my, exx, eyy, exy = filt(torch.cat([xi, yi, xi * xi, yi * yi, xi * yi])).split(len(xi))
        vx = exx - mx * mx
        vy = eyy - my * my
        vxy = exy - mx * my
        smap = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        parts.append(smap.mean(dim=(2, 3)))
    out = torch.cat(parts)  # (N, C)
    if not per_band:
        out = out.mean(dim=1)
    if reduction == "mean":
        out = out.mean(dim=0)
    elif single:
        out = out[0]
    if a_torch:
        return out
    res = out.cpu().numpy()
    return res
