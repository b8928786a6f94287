"""The inputs of the evaluations: latent catalogues, catalogues, latent matrices.

Each evaluation takes a path or an already loaded DataFrame; these turn
either into a DataFrame, and a latent catalogue into its ``mu_<j>`` matrix.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..errors import GalvaeValueError

__all__ = ["latent_matrix", "load_catalog", "load_latents"]

log = logging.getLogger(__name__)


def load_latents(latents: Any) -> tuple[Any, dict[str, Any]]:
    """A latent catalogue path or DataFrame → (DataFrame, metadata).

    Parameters
    ----------
    latents : path or DataFrame
        As :func:`galvae.encode_store` writes it; a DataFrame comes back
        with empty metadata.

    Returns
    -------
    (DataFrame, dict)

    Raises
    ------
    GalvaeValueError
        If ``latents`` is neither.
    GalvaeFileError
        If the file cannot be read (:func:`galvae.read_latent_catalog`).
    """
    import pandas as pd

    from ..latents.catalog import read_latent_catalog

    if isinstance(latents, pd.DataFrame):
        return latents, {}
    if isinstance(latents, str | os.PathLike):
        return read_latent_catalog(latents)
    raise GalvaeValueError("latents must be a latent catalogue path or a DataFrame", type(latents).__name__)


def load_catalog(catalog: Any) -> Any:
    """A catalogue path or DataFrame → DataFrame.

    Raises
    ------
    GalvaeValueError
        If ``catalog`` is neither.
    GalvaeFileError
        If the file cannot be read (:func:`galvae.read_catalog`).
    """
    import pandas as pd

    from ..data.tables import read_catalog

    if isinstance(catalog, pd.DataFrame):
        return catalog
    if isinstance(catalog, str | os.PathLike):
        return read_catalog(catalog)
    raise GalvaeValueError("catalog must be a catalogue path or a DataFrame", type(catalog).__name__)


def latent_matrix(df: Any, prefix: str = "mu_") -> np.ndarray:
    """The ``mu_0 … mu_{NL-1}`` columns (ordered by index) as a float64 (N, NL) array.

    Raises
    ------
    GalvaeValueError
        If there is no such column or a value is not finite.
    """
    cols = [c for c in df.columns if str(c).startswith(prefix) and str(c)[len(prefix) :].isdigit()]
    if not cols:
        raise GalvaeValueError(f"latent catalogue has no {prefix}<j> columns", list(df.columns)[:8])
    cols.sort(key=lambda c: int(str(c)[len(prefix) :]))
    x = df[cols].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise GalvaeValueError(
            "latent catalogue holds non-finite latent values",
            int((~np.isfinite(x)).sum()),
        )
    return x
