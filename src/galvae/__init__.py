"""galvae: variational autoencoders and domain adaptation for galaxy images.

The public API is curated here; see the README for a tour.
"""

from __future__ import annotations

import logging

from ._version import __version__
from .config import BANDS, PreprocessConfig, StretchConfig
from .data.store import ImageStore, ImageStoreWriter, open_store, write_store
from .errors import (
    GalvaeDownloadError,
    GalvaeError,
    GalvaeFileError,
    GalvaeKeyError,
    GalvaeValueError,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "__version__",
    "BANDS",
    "PreprocessConfig",
    "StretchConfig",
    "ImageStore",
    "ImageStoreWriter",
    "open_store",
    "write_store",
    "GalvaeError",
    "GalvaeValueError",
    "GalvaeFileError",
    "GalvaeKeyError",
    "GalvaeDownloadError",
]
