"""Tolerances for float32 network outputs computed in different batch layouts or thread counts.

A latent mean is a long chain of float32 sums; how those sums are split and
ordered depends on the batch size, the BLAS kernel and the number of
threads, so two encodings of the same image agree only to rounding.  A sum
of ``n`` terms carries an error of about ``eps32 · sqrt(n)`` relative to the
size of its terms when rounding errors add up like a random walk (and at most
``eps32 · n`` in the worst case).  The last layer of the encoder sums
``fan_in`` terms whose size is that of the outputs; the layers before it
contribute errors of the same kind.  So

    δμ ≤ c · eps32 · max|μ| · sqrt(fan_in)

with a small safety factor ``c`` (measured: the difference between float32
encodings in batches of 60, 16 and 7, on 1 or 2 threads, and a float64
encoding is ≈ 10 · eps32 · max|μ| for fan_in = 2048, i.e. c ≈ 0.2; ``c = 4``
leaves a factor 20 for other CPUs and kernels).

A quantity derived from the latents inherits the bound through its first
derivative; for the mean squared difference of two latent vectors,
d = μ_s − μ_t, each component off by at most δd = 2 δμ:

    |δ mean(d²)| ≤ mean(2 |d| δd + δd²) ≤ 2 sqrt(mean(d²)) δd + δd²

(Cauchy–Schwarz: mean|d| ≤ sqrt(mean d²)).  Near-identical latents (MSE of
1e-7 from latents of 1e-1) lose most of their relative precision to this
cancellation, which is why a fixed ``rtol`` cannot work there.
"""

from __future__ import annotations

import numpy as np

EPS32 = float(np.finfo(np.float32).eps)


def float32_tolerance(values: np.ndarray, fan_in: int, c: float = 4.0) -> float:
    """Bound δ on the rounding difference of float32 network outputs ``values`` (see the module docstring).

    ``fan_in`` is the longest sum behind one output: the input features of
    the encoder's last layer for latents, 9 × the widest channel count for
    images out of the decoder's 3×3 convolutions.
    """
    return c * EPS32 * float(np.max(np.abs(values))) * float(np.sqrt(fan_in))


def latent_tolerance(mu: np.ndarray, fan_in: int, c: float = 4.0) -> float:
    """:func:`float32_tolerance` for latent means (``fan_in``: ``fc_mu.in_features``)."""
    return float32_tolerance(mu, fan_in, c)


def decoder_fan_in(network) -> int:
    """Longest sum of a galvae VAE's decoder: 3 × 3 × its widest channel count."""
    return 9 * max(network.config.channels)


def mse_tolerance(mse: np.ndarray, dd: float) -> np.ndarray:
    """Bound on the error of ``mean(d**2)`` when each component of ``d`` is off by at most ``dd``."""
    return 2.0 * np.sqrt(np.asarray(mse, dtype=np.float64)) * dd + dd**2


def mmd_tolerance(dmu: float, dim: int, sigma0: float) -> float:
    """Bound on the error of the unbiased multi-bandwidth MMD² of latents off by ``dmu`` per component.

    Each point moves by at most ``sqrt(dim)·dmu``, so a pair distance by twice
    that.  A Gaussian kernel exp(-r²/2σ²) changes by at most e^{-1/2}/σ per unit
    of r, and by at most 2e^{-1}/σ per unit of σ; the median-heuristic σ_b =
    sqrt(s_b)·σ₀ moves by at most sqrt(s_b)·2 sqrt(dim)·dmu/sqrt(2).  With the
    smallest scale s = 1/4 (σ_min = σ₀/2) and the estimator's weights summing
    to 4 in absolute value::

        |δ MMD²| ≤ 4 · 2 sqrt(dim) dmu · (2 e^{-1/2} + sqrt(2) e^{-1}) / σ₀ ≈ 14 sqrt(dim) dmu / σ₀
    """
    return 8.0 * np.sqrt(dim) * dmu * (2.0 * np.exp(-0.5) + np.sqrt(2.0) * np.exp(-1.0)) / sigma0
