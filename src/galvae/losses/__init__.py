"""Loss functions: the VAE objective (reconstruction + k · KL) and MMD² for domain adaptation."""

from __future__ import annotations

from .elbo import ElboTerms, elbo_loss, kl_divergence, reconstruction_error
from .mmd import DEFAULT_SCALES, median_bandwidth, mmd2, mmd2_unbiased

__all__ = [
    "DEFAULT_SCALES",
    "ElboTerms",
    "elbo_loss",
    "kl_divergence",
    "median_bandwidth",
    "mmd2",
    "mmd2_unbiased",
    "reconstruction_error",
]
