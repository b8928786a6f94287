"""Shared input handling for the evaluation functions."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path
from ..errors import GalvaeValueError

__all__ = [
    "latent_matrix",
    "load_catalog",
    "load_latents",
    "save_figure",
    "write_csv",
    "write_json",
]

log = logging.getLogger(__name__)


def load_latents(latents: Any) -> tuple[Any, dict[str, Any]]:
    """A latent catalogue path or DataFrame → (DataFrame, metadata)."""
    import pandas as pd

    from ..latents.catalog import read_latent_catalog

    if isinstance(latents, pd.DataFrame):
        return latents, {}
    if isinstance(latents, str | os.PathLike):
        return read_latent_catalog(latents)
    raise GalvaeValueError("latents must be a latent catalogue path or a DataFrame", type(latents).__name__)


def load_catalog(catalog: Any) -> Any:
    """A catalogue path or DataFrame → DataFrame."""
    import pandas as pd

    from ..data.labels import read_catalog

    if isinstance(catalog, pd.DataFrame):
        return catalog
    if isinstance(catalog, str | os.PathLike):
        return read_catalog(catalog)
    raise GalvaeValueError("catalog must be a catalogue path or a DataFrame", type(catalog).__name__)


def latent_matrix(df: Any, prefix: str = "mu_") -> np.ndarray:
    """The ``mu_0 … mu_{NL-1}`` columns as a float64 (N, NL) array."""
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


def write_json(path: Path, obj: Any) -> Path:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, default=_default) + "\n")
    return path


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_csv(path: Path, df: Any) -> Path:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return path


def save_figure(fig: Any, path: Path, dpi: int = 120) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    return path
