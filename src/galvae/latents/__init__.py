"""Using a trained VAE: the exported model, ``GalaxyVAE``, latent catalogues, reconstructions, mocks."""

from __future__ import annotations

from .catalog import encode_store, generate_mocks, read_latent_catalog, reconstruct_store
from .export import check_store_matches, export_model, load_exported
from .model import GalaxyVAE

__all__ = [
    "GalaxyVAE",
    "encode_store",
    "reconstruct_store",
    "generate_mocks",
    "read_latent_catalog",
    "export_model",
    "load_exported",
    "check_store_matches",
]
