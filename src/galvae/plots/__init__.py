"""Figures as functions of data.

Every function takes the numbers to draw and an optional matplotlib ``ax``
and returns the :class:`matplotlib.figure.Figure`.  Figures are built as
``matplotlib.figure.Figure`` objects (Agg canvas), never through pyplot, so
nothing here touches global plotting state; save them with
:func:`save_figure` (atomic) or ``fig.savefig(path)``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path
from ..errors import GalvaeValueError

__all__ = [
    "new_figure",
    "plot_confusion",
    "plot_gallery",
    "plot_precision_recall_vs_k",
    "plot_ssim_per_category",
    "plot_ssim_vs_nl",
    "rgb_composite",
    "save_figure",
]

log = logging.getLogger(__name__)


def new_figure(figsize: tuple[float, float] = (5.0, 4.0), nrows: int = 1, ncols: int = 1) -> tuple[Any, Any]:
    """A pyplot-free Figure with an Agg canvas and its axes (``subplots`` style)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Write a Figure atomically, in the format of the extension (PNG without one).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or path-like
        Its directory must exist.
    dpi : int, default 120

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    final = Path(path)
    with atomic_path(final) as tmp:
        fig.savefig(tmp, dpi=dpi, format=final.suffix.lstrip(".") or "png")
    return final


def _fig_ax(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    if ax is None:
        return new_figure(figsize)
    return ax.figure, ax


def rgb_composite(image: np.ndarray) -> np.ndarray:
    """(3, S, S) g, r, z image in [0, 1] → (S, S, 3) RGB with z → red, r → green, g → blue."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 3 or img.shape[0] != 3:
        raise GalvaeValueError("image must have shape (3, S, S) in band order g, r, z", img.shape)
    return np.clip(np.stack([img[2], img[1], img[0]], axis=-1), 0.0, 1.0)


def plot_confusion(
    matrix: np.ndarray,
    classes: Sequence[str],
    *,
    ax: Any = None,
    title: str = "",
    normalise: bool = True,
) -> Any:
    """Confusion matrix (rows: true class, columns: predicted), counts annotated.

    Parameters
    ----------
    matrix : array, shape (K, K)
        Counts.
    classes : sequence of str, length K
    ax : Axes, optional
    title : str, default ""
    normalise : bool, default True
        Colour by the row fraction (recall per class); the text shows counts.
    """
    m = np.asarray(matrix, dtype=float)
    k = len(classes)
    if m.shape != (k, k):
        raise GalvaeValueError(f"matrix must be {k}x{k} for {k} classes", m.shape)
    fig, ax = _fig_ax(ax, (1.2 + 0.8 * k, 1.0 + 0.8 * k))
    rows = m.sum(axis=1, keepdims=True)
    shown = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0) if normalise else m
    ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                f"{int(m[i, j])}",
                ha="center",
                va="center",
                color="white" if shown[i, j] > 0.5 * shown.max() else "black",
            )
    ax.set_xticks(range(k), classes, rotation=45, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return fig


def plot_ssim_vs_nl(table: Any, *, ax: Any = None, knees: Mapping[str, float] | None = None) -> Any:
    """The paper's Fig. 3: mean SSIM against latent dimension, one line per loss.

    Parameters
    ----------
    table : DataFrame
        Columns ``loss``, ``latent_dim``, ``ssim_mean`` (and optionally
        ``ssim_std`` drawn as error bars; with several models per NL,
        ``n_models`` > 1, the bars are their ``ssim_model_std`` instead: the
        spread a knee must stand out of).
    ax : Axes, optional
    knees : mapping loss → NL, optional
        Marked with a dashed vertical line.
    """
    fig, ax = _fig_ax(ax, (5.0, 3.8))
    per_model = "n_models" in table and "ssim_model_std" in table and bool((table["n_models"] > 1).any())
    for loss, grp in table.groupby("loss", sort=True):
        grp = grp.sort_values("latent_dim")
        yerr = grp["ssim_model_std"] if per_model else grp.get("ssim_std", None)
        line = ax.errorbar(
            grp["latent_dim"],
            grp["ssim_mean"],
            yerr=yerr,
            marker="o",
            capsize=3,
            label=str(loss).upper(),
        )
        if knees and knees.get(loss) is not None:
            ax.axvline(knees[loss], ls="--", color=line[0].get_color(), alpha=0.7)
    ax.set_xlabel("latent dimension NL")
    if per_model:
        ax.set_ylabel(f"mean SSIM (bars: std over {int(table['n_models'].max())} models)")
    else:
        ax.set_ylabel("mean SSIM (bars: std over galaxies)" if "ssim_std" in table else "mean SSIM")
    ax.legend()
    return fig


def plot_ssim_per_category(table: Any, categories: Sequence[str], *, ax: Any = None) -> Any:
    """The paper's Fig. 4: mean SSIM against NL per first-branch category.

    ``table`` has ``loss``, ``latent_dim`` and ``ssim_<category>`` columns;
    one line per (category, loss), solid for the first loss, dashed after.
    """
    fig, ax = _fig_ax(ax, (5.5, 4.0))
    losses = sorted(table["loss"].unique())
    styles = ["-", "--", ":", "-."]
    colours = [f"C{i}" for i in range(10)]
    for ci, cat in enumerate(categories):
        col = f"ssim_{cat}"
        if col not in table:
            continue
        for li, loss in enumerate(losses):
            grp = table[table["loss"] == loss].sort_values("latent_dim")
            if grp[col].notna().any():
                ax.plot(
                    grp["latent_dim"],
                    grp[col],
                    styles[li % 4],
                    marker="o",
                    color=colours[ci % 10],
                    label=f"{cat} ({loss})",
                )
    ax.set_xlabel("latent dimension NL")
    ax.set_ylabel("mean SSIM")
    ax.legend(fontsize="small")
    return fig


def plot_precision_recall_vs_k(table: Any, *, ax: Any = None) -> Any:
    """Precision, recall and flagged fraction against the threshold k (σ).

    ``table`` has columns ``k``, ``precision``, ``recall`` and
    ``flagged_fraction``.
    """
    fig, ax = _fig_ax(ax, (5.0, 3.5))
    ax.plot(table["k"], table["precision"], "o-", label="precision")
    ax.plot(table["k"], table["recall"], "s-", label="recall")
    ax.plot(table["k"], table["flagged_fraction"], "^:", label="flagged fraction")
    ax.set_xlabel("threshold k (σ)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend()
    return fig


def plot_gallery(images: np.ndarray, labels: Sequence[str] = (), *, ncols: int = 8, title: str = "") -> Any:
    """Grid of RGB composites (z → red, r → green, g → blue) of (N, 3, S, S) images."""
    imgs = np.asarray(images)
    if imgs.ndim != 4 or imgs.shape[1] != 3:
        raise GalvaeValueError("images must have shape (N, 3, S, S)", imgs.shape)
    n = len(imgs)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, axes = new_figure(
        (max(1.6 * ncols, 4.0 if title else 0.0), 1.7 * nrows + (0.3 if title else 0)),
        nrows,
        ncols,
    )
    axes = np.atleast_1d(axes).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i < n:
            ax.imshow(rgb_composite(imgs[i]), interpolation="nearest")
            if i < len(labels):
                ax.set_title(str(labels[i]), fontsize=7)
    if title:
        fig.suptitle(title)
    return fig
