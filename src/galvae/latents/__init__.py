"""Using a trained VAE: the exported model, ``GalaxyVAE``, latent catalogues, reconstructions, translations, mocks.

``VAETransformer`` (the scikit-learn estimator) and ``SimilarityIndex``
(nearest neighbours in latent space, faiss when installed) are imported on
first use, so that using a model does not import scikit-learn or faiss.
"""

from __future__ import annotations

from typing import Any

from .catalog import encode_store, generate_mocks, read_latent_catalog, reconstruct_store, translate_store
from .density import LatentDensity
from .distributed import encode_store_sharded
from .export import check_store_matches, export_model, load_exported
from .model import GalaxyVAE

__all__ = [
    "GalaxyVAE",
    "LatentDensity",
    "encode_store",
    "encode_store_sharded",
    "reconstruct_store",
    "translate_store",
    "generate_mocks",
    "read_latent_catalog",
    "export_model",
    "load_exported",
    "check_store_matches",
    "VAETransformer",
    "SimilarityIndex",
]


def __getattr__(name: str) -> Any:
    if name == "VAETransformer":
        from .estimator import VAETransformer

        return VAETransformer
    if name == "SimilarityIndex":
        from .similar import SimilarityIndex

        return SimilarityIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
