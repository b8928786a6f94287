"""Figures comparing the same galaxies in two surveys (the paper's Fig. 5).

Like :mod:`galvae.plots`, every function takes the numbers to draw and
returns a :class:`matplotlib.figure.Figure` built without pyplot.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validate import check_int
from ..errors import GalvaeValueError
from . import _fig_ax, new_figure, rgb_composite

__all__ = ["plot_mse_histogram", "plot_pair_gallery"]

log = logging.getLogger(__name__)


def plot_mse_histogram(
    mse: Mapping[str, Any],
    *,
    ax: Any = None,
    bins: int = 40,
    threshold: float | None = None,
    title: str = "",
) -> Any:
    """Histograms of per-galaxy latent MSE on a logarithmic x axis, one per stage.

    Parameters
    ----------
    mse : mapping str → array of shape (N,)
        Stage name (e.g. "before", "after") → MSE of each matched pair.
        Values ≤ 0 are drawn at the smallest positive value.
    ax : Axes, optional
    bins : int, default 40
        Logarithmically spaced bins shared by all stages.
    threshold : float, optional
        Marked with a dashed vertical line.
    title : str, default ""

    Returns
    -------
    Figure

    Raises
    ------
    GalvaeValueError
        If ``mse`` is empty, a stage is not 1-d or holds non-finite values,
        or ``bins`` < 1.
    """
    if not mse:
        raise GalvaeValueError("mse needs at least one stage", dict(mse))
    bins = check_int("bins", bins, minimum=1)
    arrays: dict[str, np.ndarray] = {}
    for name, values in mse.items():
        a = np.asarray(values, dtype=np.float64)
        if a.ndim != 1 or a.size == 0:
            raise GalvaeValueError(f"mse[{name!r}] must be a non-empty 1-d array", a.shape)
        if not np.all(np.isfinite(a)):
            raise GalvaeValueError(f"mse[{name!r}] holds non-finite values", int((~np.isfinite(a)).sum()))
        arrays[str(name)] = a
    pooled = np.concatenate(list(arrays.values()))
    positive = pooled[pooled > 0]
    floor = float(positive.min()) if positive.size else 1e-12
    lo, hi = floor, max(float(pooled.max()), floor)
    if hi <= lo * 1.0001:
        lo, hi = lo / 2.0, hi * 2.0
    edges = np.geomspace(lo, hi, int(bins) + 1)
    fig, ax = _fig_ax(ax, (5.0, 3.6))
    for name, a in arrays.items():
        ax.hist(
            np.maximum(a, floor),
            bins=edges,
            histtype="step",
            linewidth=1.5,
            label=f"{name} (median {np.median(a):.3g})",
        )
    if threshold is not None:
        ax.axvline(float(threshold), ls="--", color="0.4", label=f"threshold {float(threshold):g}")
    ax.set_xscale("log")
    ax.set_xlabel("latent MSE between the two surveys")
    ax.set_ylabel("galaxies")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def plot_pair_gallery(
    source: np.ndarray,
    target: np.ndarray,
    labels: Sequence[str] = (),
    *,
    row_names: tuple[str, str] = ("source", "target"),
    title: str = "",
) -> Any:
    """The same galaxies in two surveys: source images on the top row, target below (Fig. 5).

    Parameters
    ----------
    source, target : array, shape (N, 3, S, S)
        g, r, z images in [0, 1], pair i in column i; shown as RGB
        composites (z → red, r → green, g → blue).
    labels : sequence of str, optional
        Column titles (e.g. id and MSE).
    row_names : (str, str), default ("source", "target")
        Written at the left of each row.
    title : str, default ""

    Returns
    -------
    Figure

    Raises
    ------
    GalvaeValueError
        If the arrays are not (N, 3, S, S), differ in N, or N is 0.
    """
    src = np.asarray(source)
    tgt = np.asarray(target)
    for name, a in (("source", src), ("target", tgt)):
        if a.ndim != 4 or a.shape[1] != 3:
            raise GalvaeValueError(f"{name} images must have shape (N, 3, S, S)", a.shape)
    if len(src) != len(tgt):
        raise GalvaeValueError("source and target must hold the same number of images", (len(src), len(tgt)))
    n = len(src)
    if n == 0:
        raise GalvaeValueError("a pair gallery needs at least one pair", n)
    fig, axes = new_figure((max(1.6 * n + 0.4, 4.0 if title else 0.0), 3.6 + (0.3 if title else 0.0)), 2, n)
    axes = np.asarray(axes).reshape(2, n)
    for j in range(n):
        for i, imgs in enumerate((src, tgt)):
            ax = axes[i, j]
            ax.imshow(rgb_composite(imgs[j]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(row_names[i], fontsize=8)
        if j < len(labels):
            axes[0, j].set_title(str(labels[j]), fontsize=7)
    if title:
        fig.suptitle(title)
    return fig
