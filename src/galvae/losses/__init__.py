"""Loss functions: the VAE objective (reconstruction + k · KL), the decoder's noise σ, and MMD² for domain adaptation."""

from __future__ import annotations

from .elbo import (
    COLOUR_BASIS,
    LIKELIHOODS,
    ElboTerms,
    centre_weights,
    detail_filter,
    elbo_loss,
    kl_divergence,
    reconstruction_error,
)
from .mmd import DEFAULT_SCALES, median_bandwidth, mmd2, mmd2_unbiased
from .noise import SIGMA_FLOOR, LearnedSigma, estimate_noise_sigma

__all__ = [
    "COLOUR_BASIS",
    "DEFAULT_SCALES",
    "ElboTerms",
    "LIKELIHOODS",
    "LearnedSigma",
    "SIGMA_FLOOR",
    "centre_weights",
    "detail_filter",
    "elbo_loss",
    "estimate_noise_sigma",
    "kl_divergence",
    "median_bandwidth",
    "mmd2",
    "mmd2_unbiased",
    "reconstruction_error",
]
