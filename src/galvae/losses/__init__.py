"""Loss functions: the VAE objective (reconstruction + k · KL)."""

from __future__ import annotations

from .elbo import ElboTerms, elbo_loss, kl_divergence, reconstruction_error

__all__ = ["ElboTerms", "elbo_loss", "kl_divergence", "reconstruction_error"]
