"""SSIM of stored reconstructions against their originals, overall and per class.

Where :func:`galvae.evaluate.sweep.reconstruction_ssim` runs a model, these
read the image store of ``galvae reconstruct`` beside the originals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["ssim_by_class", "ssim_paper_and_float", "ssim_sample"]

log = logging.getLogger(__name__)


def ssim_sample(store: Any, reconstructions: Any, ids: np.ndarray, max_n: int, seed: int = 0) -> Any:
    """SSIM (float, L = 1) of each galaxy of (a seeded random sample of) ``ids`` with its reconstruction.

    Parameters
    ----------
    store, reconstructions : ImageStore
        Open stores of the originals and of their reconstructions.
    ids : array of str
        Galaxies in both stores.
    max_n : int
        Beyond this many ids, a seeded random sample of ``max_n`` (sorted).
    seed : int, default 0

    Returns
    -------
    pandas.Series
        SSIM indexed by id.
    """
    import pandas as pd

    from .ssim import ssim

    rng = np.random.default_rng(seed)
    sample = ids if len(ids) <= max_n else np.sort(rng.choice(ids, max_n, replace=False))
    scores = np.empty(len(sample))
    for i in range(0, len(sample), 256):
        chunk = sample[i : i + 256]
        scores[i : i + 256] = ssim(
            store.read(store.index_of(chunk)), reconstructions.read(reconstructions.index_of(chunk))
        )
    return pd.Series(scores, index=sample)


def ssim_by_class(scores: Any, classes: Any, names: Sequence[str]) -> list[dict[str, Any]]:
    """Count, mean, median and 10th percentile of the SSIM over all galaxies, then per class.

    Parameters
    ----------
    scores : pandas.Series
        SSIM by id (:func:`ssim_sample`).
    classes : pandas.Series
        Class by id (e.g. :func:`galvae.data.labels.broad_class`).
    names : sequence of str
        Classes in the order wanted; those without a scored galaxy are left out.

    Returns
    -------
    list of dict
        ``class`` ("all" first), ``n``, ``mean``, ``median``, ``p10``.
    """

    def stats(name: str, v: np.ndarray) -> dict[str, Any]:
        return {
            "class": name,
            "n": len(v),
            "mean": float(np.mean(v)),
            "median": float(np.median(v)),
            "p10": float(np.percentile(v, 10)),
        }

    out = [stats("all", scores.to_numpy())]
    cls = classes.reindex(scores.index)
    for name in names:
        v = scores[(cls == name).to_numpy(dtype=bool)].to_numpy()
        if len(v):
            out.append(stats(name, v))
    return out


def ssim_paper_and_float(
    store: Any, reconstructions: Any, max_n: int = 2000, ids: Any = None, return_n: bool = False
) -> tuple[float, float] | tuple[float, float, int]:
    """Mean SSIM of the galaxies in both stores, the paper's way and ours.

    Parameters
    ----------
    store, reconstructions : ImageStore
    max_n : int, default 2000
        At most this many galaxies (the first common ids).
    ids : sequence of str, optional
        Only these galaxies (e.g. a run's validation ids, which the model
        never trained on); those missing from either store are skipped.
    return_n : bool, default False
        Also return how many galaxies were measured.

    Returns
    -------
    ssim_8bit : float
        Images rounded to 8 bits, L = 255 (the paper's convention).
    ssim_float : float
        Float images, L = 1.
    n : int
        With ``return_n``.

    Raises
    ------
    GalvaeValueError
        If no galaxy is in both stores (and in ``ids``).
    """
    from ..errors import GalvaeValueError
    from .ssim import ssim

    common = np.intersect1d(store.ids, reconstructions.ids)
    if ids is not None:
        common = np.intersect1d(common, np.asarray(list(ids), dtype=str))
    ids = common[:max_n]
    if not len(ids):
        raise GalvaeValueError("no galaxy is in both the store and the reconstructions (and the ids asked for)")
    a, b = store.read(store.index_of(ids)), reconstructions.read(reconstructions.index_of(ids))
    s_float = float(np.mean(ssim(a, b)))
    a8, b8 = (np.round(np.clip(x, 0, 1) * 255.0) for x in (a, b))
    s_8 = float(np.mean(ssim(a8, b8, data_range=255.0)))
    return (s_8, s_float, int(len(ids))) if return_n else (s_8, s_float)
