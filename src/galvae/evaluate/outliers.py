"""k-σ outliers in latent space (the paper's Appendix A).

A galaxy is flagged when any of its latent means lies more than k standard
deviations from that latent's mean over the sample (k = 8 in the paper,
which flagged 0.417 % of 314k images).  With ``robust=True`` the centre is
the median and the scale 1.4826 × the median absolute deviation (MAD), the
Gaussian-consistent robust σ, so that the outliers themselves do not inflate
the scale.  A latent with zero scale is left out of the test (it cannot
distinguish galaxies); this is logged.

Against planted defects (simulated catalogues have a ``defect`` column,
"none" for a clean galaxy), precision = flagged defects / flagged and
recall = flagged defects / defects, for a range of k; and, without any k,
how well each score ranks the defects above the clean galaxies (the area
under the ROC curve: 0.5 for a score blind to them, 1 for one that puts
every defect first) for the largest |z| and, where the latent catalogue has
it, the reconstruction error ``recon_error`` (on the demo's simulated
surveys the masked defects — chip edges, bleed trails, bands without data —
are blank sky to both, and the reconstruction error ranks bright stars and
satellite trails higher than the latents do: README, "8σ outliers").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_json
from .._validate import check_float
from ..errors import GalvaeValueError
from .inputs import latent_matrix, load_catalog, load_latents
from .paper import OUTLIER_SIGMA

__all__ = [
    "DEFAULT_KS",
    "OutlierResult",
    "find_outliers",
    "outlier_precision_recall",
    "outliers_report",
]

log = logging.getLogger(__name__)

DEFAULT_KS = (3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class OutlierResult:
    """What :func:`find_outliers` found.

    Attributes
    ----------
    ids : ndarray of str, shape (N,)
        Galaxy ids (``"0"``, ``"1"`` … for a bare array).
    z : ndarray, shape (N, NL)
        (μ − centre) / scale per latent.
    max_abs_z : ndarray, shape (N,)
        Largest |z| of each galaxy.
    latent_index : ndarray of int, shape (N,)
        The latent reaching it.
    flagged : ndarray of bool, shape (N,)
        ``max_abs_z > sigma``.
    sigma : float
    robust : bool
    center, scale : ndarray, shape (NL,)
    """

    ids: np.ndarray
    z: np.ndarray = field(repr=False)
    max_abs_z: np.ndarray = field(repr=False)
    latent_index: np.ndarray = field(repr=False)
    flagged: np.ndarray = field(repr=False)
    sigma: float
    robust: bool
    center: np.ndarray = field(repr=False)
    scale: np.ndarray = field(repr=False)

    @property
    def n_flagged(self) -> int:
        """Galaxies beyond the threshold."""
        return int(self.flagged.sum())

    @property
    def flagged_fraction(self) -> float:
        """Their share of all galaxies, in [0, 1] (0 for an empty catalogue)."""
        return float(self.flagged.mean()) if len(self.flagged) else 0.0

    def table(self, only_flagged: bool = True) -> Any:
        """DataFrame ``id``, ``max_abs_z``, ``latent_index``, ``flagged``, sorted by |z| (largest first)."""
        import pandas as pd

        df = pd.DataFrame(
            {
                "id": self.ids,
                "max_abs_z": self.max_abs_z,
                "latent_index": self.latent_index,
                "flagged": self.flagged,
            }
        )
        if only_flagged:
            df = df[df["flagged"]]
        return df.sort_values("max_abs_z", ascending=False, kind="stable").reset_index(drop=True)


def find_outliers(latents: Any, *, sigma: float = OUTLIER_SIGMA, robust: bool = False) -> OutlierResult:
    """Flag galaxies with any latent mean more than ``sigma`` σ from the centre.

    Parameters
    ----------
    latents : path, DataFrame or array of shape (N, NL)
        A latent catalogue (its ``mu_<j>`` columns are used) or the latent
        means themselves.
    sigma : float, default 8.0
        k, in units of the per-latent scale.
    robust : bool, default False
        Centre = median and scale = 1.4826 × MAD instead of mean and
        standard deviation.

    Returns
    -------
    OutlierResult

    Raises
    ------
    GalvaeValueError
        On a non-positive ``sigma``, fewer than two galaxies, a wrong shape or
        non-finite latents.
    """
    import pandas as pd

    k = check_float("sigma", sigma, minimum=0, inclusive=False)
    if isinstance(latents, np.ndarray):
        x = np.asarray(latents, dtype=np.float64)
        if x.ndim != 2:
            raise GalvaeValueError("latents must have shape (N, NL)", x.shape)
        if not np.all(np.isfinite(x)):
            raise GalvaeValueError("latents hold non-finite values", int((~np.isfinite(x)).sum()))
        ids = np.arange(len(x)).astype(str)
    else:
        df = latents if isinstance(latents, pd.DataFrame) else load_latents(latents)[0]
        x = latent_matrix(df)
        ids = df["id"].astype(str).to_numpy() if "id" in df.columns else np.arange(len(x)).astype(str)
    if len(x) < 2:
        raise GalvaeValueError("outlier detection needs at least two galaxies", len(x))
    if robust:
        center = np.median(x, axis=0)
        scale = MAD_TO_SIGMA * np.median(np.abs(x - center), axis=0)
    else:
        center = x.mean(axis=0)
        scale = x.std(axis=0)
    dead = scale <= 0
    if dead.any():
        log.warning(
            "%d latent(s) with zero scale left out of the outlier test: %s",
            int(dead.sum()),
            np.flatnonzero(dead).tolist(),
        )
    z = np.divide(x - center, scale, out=np.zeros_like(x), where=~dead)
    absz = np.abs(z)
    idx = absz.argmax(axis=1)
    mx = absz[np.arange(len(x)), idx]
    return OutlierResult(ids, z, mx, idx.astype(np.int64), mx > k, k, bool(robust), center, scale)


def outlier_precision_recall(max_abs_z: Any, is_defect: Any, ks: Sequence[float] = DEFAULT_KS) -> Any:
    """Precision and recall of ``max_abs_z > k`` against known defects.

    Parameters
    ----------
    max_abs_z : array, shape (N,)
    is_defect : array of bool, shape (N,)
    ks : sequence of float, default (3, 4, 5, 6, 8, 10)

    Returns
    -------
    DataFrame
        ``k``, ``n_flagged``, ``flagged_fraction``, ``true_positives``,
        ``n_defects``, ``precision`` (NaN when nothing is flagged),
        ``recall`` (NaN when there are no defects).
    """
    import pandas as pd

    m = np.asarray(max_abs_z, dtype=np.float64)
    d = np.asarray(is_defect, dtype=bool)
    if m.shape != d.shape or m.ndim != 1:
        raise GalvaeValueError(
            f"max_abs_z and is_defect must be 1-D of the same length, got {m.shape} and {d.shape}",
            d.shape,
        )
    rows = []
    for k in ks:
        k = check_float("k", k, minimum=0, inclusive=False)
        f = m > k
        tp = int((f & d).sum())
        nf, nd = int(f.sum()), int(d.sum())
        rows.append(
            {
                "k": k,
                "n_flagged": nf,
                "flagged_fraction": nf / len(m) if len(m) else 0.0,
                "true_positives": tp,
                "n_defects": nd,
                "precision": tp / nf if nf else float("nan"),
                "recall": tp / nd if nd else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def _nan_to_none(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()} for r in records]


def _auroc(max_abs_z: np.ndarray, table: Any, is_defect: np.ndarray) -> dict[str, float | None]:
    """Area under the ROC curve of each defect score: the largest |z| and, when present, ``recon_error``.

    None for a score where the sample has no defect or no clean galaxy (or a non-finite value).
    """
    from sklearn.metrics import roc_auc_score

    scores = {"max_abs_z": np.asarray(max_abs_z, dtype=np.float64)}
    if not isinstance(table, np.ndarray) and "recon_error" in table.columns:
        scores["recon_error"] = table["recon_error"].to_numpy(dtype=np.float64)
    both = bool(is_defect.any() and (~is_defect).any())
    return {
        name: float(roc_auc_score(is_defect, v)) if both and np.all(np.isfinite(v)) else None
        for name, v in scores.items()
    }


def outliers_report(
    latents: Any,
    out_dir: str | os.PathLike[str],
    *,
    sigma: float = OUTLIER_SIGMA,
    robust: bool = False,
    catalog: Any = None,
    store: Any = None,
    ks: Sequence[float] = DEFAULT_KS,
    max_gallery: int = 64,
) -> dict[str, Any]:
    """Find outliers and write the products of ``galvae outliers``.

    Writes ``outliers.csv`` (flagged galaxies: ``id``, ``max_abs_z``,
    ``latent_index``, largest |z| first), ``outliers.json`` (counts,
    fraction, parameters, and with defects the precision/recall table and
    ``auroc``: the area under the ROC curve of the largest |z| and, when the
    catalogue has it, of ``recon_error``),
    ``outliers_gallery.png`` when ``store`` is given and something is
    flagged (the ``max_gallery`` most extreme, RGB: z → red, r → green,
    g → blue), and, when ``catalog`` has a ``defect`` column,
    ``outliers_pr.csv`` and ``outliers_pr.png`` (precision and recall for
    each k in ``ks``).

    Parameters
    ----------
    latents : path or DataFrame
    out_dir : path
    sigma : float, default 8.0
    robust : bool, default False
    catalog : path or DataFrame, optional
        With ``id`` and ``defect`` ("none" = clean) columns.
    store : ImageStore or path, optional
    ks : sequence of float, default (3, 4, 5, 6, 8, 10)
    max_gallery : int, default 64

    Returns
    -------
    dict
        The content of ``outliers.json``.

    Raises
    ------
    GalvaeValueError
        As :func:`find_outliers`; if the catalogue lacks ``id`` or misses
        some latent ids.
    """
    import pandas as pd

    from ..data.store import ImageStore
    from ..data.tables import write_table
    from ..plots import plot_gallery, plot_precision_recall_vs_k, save_figure

    table = latents if isinstance(latents, np.ndarray | pd.DataFrame) else load_latents(latents)[0]
    res = find_outliers(table, sigma=sigma, robust=robust)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    flagged = res.table(only_flagged=True)
    write_table(
        flagged[["id", "max_abs_z", "latent_index"]].reset_index(drop=True), out / "outliers.csv", overwrite=True
    )
    summary: dict[str, Any] = {
        "n_galaxies": len(res.ids),
        "n_flagged": res.n_flagged,
        "flagged_fraction": res.flagged_fraction,
        "sigma": res.sigma,
        "robust": res.robust,
        "centre": "median" if robust else "mean",
        "scale": "1.4826 x MAD" if robust else "standard deviation",
        "latent_dim": int(res.z.shape[1]),
        "files": ["outliers.csv"],
    }
    if catalog is not None:
        cat = load_catalog(catalog)
        if "id" not in cat.columns:
            raise GalvaeValueError("catalogue has no 'id' column", list(cat.columns)[:8])
        if "defect" in cat.columns:
            defect = cat.assign(id=cat["id"].astype(str)).set_index("id")["defect"]
            missing = [i for i in res.ids[:] if i not in defect.index]
            if missing:
                raise GalvaeValueError(f"{len(missing)} latent id(s) not in the catalogue", missing[0])
            d = defect.loc[res.ids].astype(str).str.lower().to_numpy()
            is_defect = (d != "none") & (d != "") & (d != "nan")
            pr = outlier_precision_recall(res.max_abs_z, is_defect, ks)
            write_table(pr, out / "outliers_pr.csv", overwrite=True)
            save_figure(plot_precision_recall_vs_k(pr), out / "outliers_pr.png")
            at = outlier_precision_recall(res.max_abs_z, is_defect, [res.sigma]).iloc[0]
            summary.update(
                {
                    "n_defects": int(is_defect.sum()),
                    "precision": None if not np.isfinite(at["precision"]) else float(at["precision"]),
                    "recall": None if not np.isfinite(at["recall"]) else float(at["recall"]),
                    "precision_recall_vs_k": _nan_to_none(pr.to_dict(orient="records")),
                    "auroc": _auroc(res.max_abs_z, table, is_defect),
                }
            )
            summary["files"] += ["outliers_pr.csv", "outliers_pr.png"]
        else:
            log.info("catalogue has no 'defect' column: no precision/recall")
    if store is not None and res.n_flagged:
        st = store if isinstance(store, ImageStore) else ImageStore(store)
        top = flagged.head(max_gallery)
        imgs = st.read(st.index_of(top["id"]))
        labels = [
            f"{i} ({z:.1f}σ, #{j})" for i, z, j in zip(top["id"], top["max_abs_z"], top["latent_index"], strict=True)
        ]
        fig = plot_gallery(
            imgs,
            labels,
            title=f"{res.n_flagged} galaxies beyond {res.sigma:g}σ ({'robust' if robust else 'mean/std'})",
        )
        save_figure(fig, out / "outliers_gallery.png")
        summary["files"].append("outliers_gallery.png")
        if st is not store:
            st.close()
    write_json(out / "outliers.json", summary)
    return summary
