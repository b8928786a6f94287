"""Figures of the HTML report (:mod:`galvae.report`).

Like :mod:`galvae.plots`, every function takes the numbers to draw and
returns a :class:`matplotlib.figure.Figure` built without pyplot;
:func:`figure_png` turns one into PNG bytes for embedding.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import GalvaeValueError
from . import new_figure, plot_ssim_vs_nl, rgb_composite

__all__ = [
    "CLASS_COLOURS",
    "figure_png",
    "plot_kl_per_dim",
    "plot_latent_map",
    "plot_reconstructions",
    "plot_ssim_knee",
]

log = logging.getLogger(__name__)

#: Colours of the report's galaxy classes (colour-blind friendly, Okabe-Ito).
CLASS_COLOURS: dict[str, str] = {
    "smooth": "#E69F00",
    "featured": "#0072B2",
    "edge-on": "#009E73",
    "merger": "#D55E00",
    "artifact": "#CC79A7",
}
_OTHER_COLOURS = ("#56B4E9", "#F0E442", "#000000", "#999999")


def figure_png(fig: Any, dpi: int = 80) -> bytes:
    """PNG bytes of a Figure (saved at ``dpi``, white background)."""
    if not (isinstance(dpi, int | float) and 10 <= dpi <= 600):
        raise GalvaeValueError("dpi must be a number from 10 to 600", dpi)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def plot_reconstructions(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    labels: Sequence[str] = (),
    *,
    title: str = "",
    vmax: float | None = None,
) -> Any:
    """Original | reconstruction | residual, one column per galaxy.

    Parameters
    ----------
    originals, reconstructions : array, shape (N, 3, S, S)
        g, r, z images in [0, 1]; drawn as RGB composites (z → red,
        r → green, g → blue).
    labels : sequence of str, optional
        Column titles (e.g. id and SSIM).
    title : str, default ""
    vmax : float, optional
        Limit of the residual colour scale (symmetric); default the largest
        absolute residual, at least 0.05.

    Returns
    -------
    Figure
        Three rows; the residual (original − reconstruction, mean over the
        three bands) uses a diverging map with a colour bar.
    """
    a = np.asarray(originals, dtype=np.float32)
    b = np.asarray(reconstructions, dtype=np.float32)
    if a.ndim != 4 or a.shape[1] != 3 or a.shape != b.shape or len(a) == 0:
        raise GalvaeValueError(
            "originals and reconstructions must both have shape (N, 3, S, S) with N >= 1",
            (a.shape, b.shape),
        )
    n = len(a)
    res = (a - b).mean(axis=1)
    lim = float(vmax) if vmax is not None else max(0.05, float(np.abs(res).max()))
    fig, axes = new_figure((0.6 + 1.45 * n, 4.6 + (0.3 if title else 0.0)), 3, n)
    axes = np.asarray(axes).reshape(3, n)
    im = None
    for j in range(n):
        axes[0, j].imshow(rgb_composite(a[j]), interpolation="nearest")
        axes[1, j].imshow(rgb_composite(b[j]), interpolation="nearest")
        im = axes[2, j].imshow(res[j], cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        if j < len(labels):
            axes[0, j].set_title(str(labels[j]), fontsize=7)
        for i in range(3):
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
    for i, name in enumerate(("original", "reconstruction", "residual")):
        axes[i, 0].set_ylabel(name, fontsize=8)
    cb = fig.colorbar(im, ax=list(axes[2]), shrink=0.9, pad=0.01)
    cb.ax.tick_params(labelsize=6)
    cb.set_label("orig − rec", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _colour(name: str, i: int) -> str:
    return CLASS_COLOURS.get(name, _OTHER_COLOURS[i % len(_OTHER_COLOURS)])


def plot_latent_map(
    xy: np.ndarray,
    classes: Sequence[Any],
    *,
    title: str = "",
    xlabel: str = "component 1",
    ylabel: str = "component 2",
    order: Sequence[str] | None = None,
) -> Any:
    """Scatter of a 2-D embedding of the latent space coloured by class.

    Parameters
    ----------
    xy : array, shape (N, 2)
    classes : sequence, length N
        Class name per galaxy; None/NaN is drawn in light grey as
        "unlabelled", under the others.
    title, xlabel, ylabel : str
    order : sequence of str, optional
        Legend order; default the classes of :data:`CLASS_COLOURS` first,
        then the rest alphabetically.
    """
    pts = np.asarray(xy, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise GalvaeValueError("xy must have shape (N, 2)", pts.shape)
    cls = np.array(
        [None if (c is None or (isinstance(c, float) and np.isnan(c))) else str(c) for c in classes], dtype=object
    )
    if len(cls) != len(pts):
        raise GalvaeValueError(f"classes must have one entry per point ({len(pts)})", len(cls))
    present = sorted({c for c in cls if c is not None})
    if order is None:
        order = [c for c in CLASS_COLOURS if c in present] + [c for c in present if c not in CLASS_COLOURS]
    else:
        order = [c for c in order if c in present] + [c for c in present if c not in order]
    fig, ax = new_figure((5.6, 4.4))
    size = float(np.clip(3000.0 / max(len(pts), 1), 4.0, 30.0))
    none = np.array([c is None for c in cls], dtype=bool)
    if none.any():
        ax.scatter(pts[none, 0], pts[none, 1], s=size * 0.6, c="#d0d0d0", lw=0, label=f"unlabelled ({int(none.sum())})")
    for i, name in enumerate(order):
        m = cls == name
        ax.scatter(pts[m, 0], pts[m, 1], s=size, c=_colour(name, i), lw=0, alpha=0.85, label=f"{name} ({int(m.sum())})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize="small", markerscale=1.5, frameon=False, loc="best")
    return fig


def plot_ssim_knee(table: Any, knees: Mapping[str, float | None], *, paper_nl: float | None = None) -> Any:
    """The paper's Fig. 3 from a sweep table, with the knee of each loss marked.

    Parameters
    ----------
    table : DataFrame
        ``loss``, ``latent_dim``, ``ssim_mean`` (``ssim_std`` optional).
    knees : mapping loss → NL or None
        Drawn as dashed lines (:func:`galvae.plots.plot_ssim_vs_nl`) and
        annotated.
    paper_nl : float or None, default None
        The paper's chosen NL, drawn as a grey dotted line.
    """
    fig = plot_ssim_vs_nl(table, knees={k: v for k, v in knees.items() if v is not None})
    ax = fig.axes[0]
    if paper_nl is not None:
        ax.axvline(paper_nl, ls=":", color="0.5", lw=1, label=f"paper: NL = {paper_nl:g}")
    y0, y1 = ax.get_ylim()
    for i, (loss, k) in enumerate(knees.items()):
        if k is None:
            continue
        ax.annotate(
            f"knee {str(loss).upper()}: NL = {k:g}",
            xy=(k, y0 + (0.08 + 0.08 * i) * (y1 - y0)),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=7,
        )
    ax.legend(fontsize="small")
    return fig


def plot_kl_per_dim(kl_per_dim: Sequence[float], *, threshold: float = 0.01) -> Any:
    """Mean KL per latent dimension (nats), sorted from the largest: how much each latent holds.

    Parameters
    ----------
    kl_per_dim : sequence of float, shape (NL,)
        Mean over galaxies of KL(q(z_d | x) ‖ N(0, 1)).
    threshold : float, default 0.01
        Drawn as a dotted line: below it a latent carries (almost) nothing.
    """
    kl = np.sort(np.asarray(kl_per_dim, dtype=np.float64))[::-1]
    if kl.ndim != 1 or kl.size == 0:
        raise GalvaeValueError("kl_per_dim must be a non-empty 1-d sequence", np.shape(kl_per_dim))
    fig, ax = new_figure((5.0, 2.6))
    ax.bar(np.arange(1, kl.size + 1), kl, color="#0072B2")
    ax.axhline(threshold, ls=":", color="0.5", lw=1)
    ax.set_xlabel("latent dimension (sorted by KL)")
    ax.set_ylabel("KL (nats)")
    ax.set_title(f"{kl.sum():.1f} nats per galaxy in {int((kl > threshold).sum())} of {kl.size} latents", fontsize=9)
    return fig
