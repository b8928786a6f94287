"""Maximum mean discrepancy (MMD²) between two samples of latent vectors.

The paper's eq. 6 adds λ · MMD²(source latents, target latents) to the VAE
loss.  We use the **unbiased** estimator (Gretton et al. 2012, eq. 3) with a
kernel that is the mean of Gaussian kernels over several bandwidths:

    k(x, y) = (1/B) Σ_b exp(-‖x − y‖² / (2 σ_b²))

    MMD²_u = 1/(m(m−1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n−1)) Σ_{i≠j} k(y_i, y_j)
             − 2/(mn) Σ_{i,j} k(x_i, y_j)

Bandwidths, when not given, follow the median heuristic: σ₀² = median of the
squared distances between all distinct pairs of the pooled sample, divided
by 2, and σ_b² = s_b · σ₀² for the scales s_b = 1/4, 1/2, 1, 2, 4
(:data:`DEFAULT_SCALES`), so the kernel responds at several length scales of
the latent space.  The median is computed without gradient: the bandwidths
follow the data but are not optimised against.

The unbiased estimate can be slightly negative when the two samples come
from the same distribution; it is zero in expectation then.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import GalvaeValueError

__all__ = ["DEFAULT_SCALES", "median_bandwidth", "mmd2", "mmd2_unbiased"]

#: Multipliers of the median-heuristic σ² used when no bandwidths are given.
DEFAULT_SCALES: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)


def _check_pair(x: Any, y: Any) -> None:
    if x.ndim != 2 or y.ndim != 2:
        raise GalvaeValueError("MMD² needs two 2-d samples (N, D)", (tuple(x.shape), tuple(y.shape)))
    if x.shape[1] != y.shape[1]:
        raise GalvaeValueError("the two samples of MMD² must have the same dimension D", (x.shape[1], y.shape[1]))
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise GalvaeValueError("the unbiased MMD² needs at least 2 points in each sample", (x.shape[0], y.shape[0]))


def median_bandwidth(x: Any, y: Any) -> Any:
    """Median-heuristic σ (as a 0-d tensor): sqrt(median pairwise ‖·‖² / 2) of the pooled sample.

    Parameters
    ----------
    x : Tensor, shape (m, D)
    y : Tensor, shape (n, D)

    Returns
    -------
    Tensor
        0-d, detached, at least 1e-6 (so that identical points do not give σ = 0).
    """
    import torch

    with torch.no_grad():
        pooled = torch.cat([x, y]).float()
        d2 = torch.cdist(pooled, pooled).square()
        n = pooled.shape[0]
        off = d2[~torch.eye(n, dtype=torch.bool, device=d2.device)]
        return torch.sqrt(off.median() / 2.0).clamp_min(1e-6)


def mmd2_unbiased(
    x: Any,
    y: Any,
    bandwidths: Sequence[float] | None = None,
    scales: Sequence[float] = DEFAULT_SCALES,
) -> Any:
    """Unbiased MMD² between samples ``x`` and ``y`` (differentiable torch).

    Parameters
    ----------
    x : Tensor, shape (m, D)
        Source sample (e.g. latent means of DECaLS images), m ≥ 2.
    y : Tensor, shape (n, D)
        Target sample, n ≥ 2.
    bandwidths : sequence of float, optional
        Gaussian σ values; by default ``sqrt(s) · σ_median`` for each s in
        ``scales`` (see :func:`median_bandwidth`).
    scales : sequence of float, default (0.25, 0.5, 1, 2, 4)
        Multipliers of σ²_median, used when ``bandwidths`` is None.

    Returns
    -------
    Tensor
        0-d, float32; gradients flow to ``x`` and ``y``.

    Raises
    ------
    GalvaeValueError
        On samples that are not 2-d, differ in dimension, have fewer than two
        points, or on non-positive bandwidths or scales.
    """
    import torch

    _check_pair(x, y)
    x, y = x.float(), y.float()
    if bandwidths is None:
        if not scales or any(not float(s) > 0 for s in scales):
            raise GalvaeValueError("MMD² scales must be positive numbers", tuple(scales))
        sigma0 = median_bandwidth(x, y)
        sig2 = torch.stack([sigma0.square() * float(s) for s in scales])
    else:
        bw = [float(b) for b in bandwidths]
        if not bw or any(not b > 0 for b in bw):
            raise GalvaeValueError("MMD² bandwidths must be positive numbers", tuple(bandwidths))
        sig2 = torch.tensor(bw, dtype=x.dtype, device=x.device).square()

    def kernel_sum(a: torch.Tensor, b: torch.Tensor, same: bool) -> torch.Tensor:
        d2 = torch.cdist(a, b).square()
        k = torch.exp(-d2[None] / (2.0 * sig2[:, None, None])).mean(0)
        if same:
            k = k - torch.diag_embed(torch.diagonal(k))
        return k.sum()

    m, n = x.shape[0], y.shape[0]
    kxx = kernel_sum(x, x, True) / (m * (m - 1))
    kyy = kernel_sum(y, y, True) / (n * (n - 1))
    kxy = kernel_sum(x, y, False) / (m * n)
    return kxx + kyy - 2.0 * kxy


def mmd2(
    x: Any,
    y: Any,
    bandwidths: Sequence[float] | None = None,
    scales: Sequence[float] = DEFAULT_SCALES,
) -> float:
    """Unbiased MMD² of two numpy samples, as a float (for evaluation).

    Parameters
    ----------
    x : array_like, shape (m, D)
    y : array_like, shape (n, D)
    bandwidths, scales
        As :func:`mmd2_unbiased`.

    Returns
    -------
    float

    Raises
    ------
    GalvaeValueError
        As :func:`mmd2_unbiased`, and on non-finite values.
    """
    import torch

    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise GalvaeValueError("MMD² samples hold non-finite values")
    with torch.no_grad():
        val = mmd2_unbiased(torch.from_numpy(xa), torch.from_numpy(ya), bandwidths=bandwidths, scales=scales)
    return float(val)
