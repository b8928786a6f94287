"""The same galaxies in two surveys, before and after domain adaptation (the paper's Section 5).

For the galaxies whose ids are in both a *source* store (DECaLS) and a
*target* store (BASS+MzLS), :func:`compare_domains` encodes both images with
the VAE trained on the source survey ("before") and, optionally, with the
domain-adapted encoder ("after"), and measures:

1. **Latent MSE per galaxy**: ``mean_j (μ_source,j − μ_target,j)²`` over the
   NL latents (the paper found 0.05 … 10, with bright stars behind the
   largest values, Fig. 5).  Galleries of the lowest- and highest-MSE pairs
   and a histogram are drawn.
2. **MMD²** between the two surveys' latent means (unbiased, multi-bandwidth
   Gaussian kernel; :func:`galvae.losses.mmd.mmd2`), on at most
   ``max_mmd_points`` pairs drawn with the seed (the same pairs for both
   stages), with one set of bandwidths for both stages, fixed by the median
   heuristic on the "before" sample (re-estimating it per stage would rescale
   the kernel with the latents).  Alongside, the median paired MSE over that
   of random pairs (``paired_over_random``), which does not depend on the
   scale of the latents at all.
3. **Table 4**: per Table 2 feature with more than ``min_galaxies`` labelled
   overlap galaxies, a 70/30 split stratified by class (fixed seed) and random
   forests scored by accuracy:

   * ``decals_before``: forest trained on the source latents (before) of the
     training galaxies, tested on the source latents of the test galaxies;
   * ``target_before``: *the same forest* applied to the target latents
     (before) of the test galaxies;
   * ``target_after``: a forest retrained on the target latents of the
     adapted encoder (same split);
   * ``source_after``: likewise on the source latents of the adapted encoder.

   Two control columns keep retraining from scoring as adaptation (the
   paper's "after" forest is retrained while its "before" one is not):

   * ``target_before_retrained``: a forest retrained on the target latents
     *before* adaptation (same split) — what retraining alone gives;
   * ``target_after_source_forest``: a forest trained on the *adapted source*
     latents of the training galaxies, applied unchanged to the adapted
     target latents — what alignment alone gives.

   Adaptation helps when ``target_after`` beats ``target_before_retrained``
   and ``target_after_source_forest`` beats ``target_before``.

   With ``source_train="all"`` the source forest of ``decals_before`` (and so
   ``target_before``) is trained on every labelled source galaxy outside the
   overlap test set, as the paper trained on the whole DECaLS sample; the
   "after" forests always use the overlap training galaxies.
4. **Planted defects** (simulated catalogues, ``defect_<survey>`` /
   ``defect`` columns): the share of the highest-MSE pairs carrying a defect
   in either survey, by kind, against the share among all pairs
   (:func:`high_mse_defects`).

Inputs of a stage are a run directory (or exported model, or loaded
:class:`~galvae.GalaxyVAE`) — the stores are encoded, only at the ids needed —
or a pair ``(source_latents, target_latents)`` of latent catalogues (paths or
DataFrames with ``id`` and ``mu_<j>``).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path
from ..errors import GalvaeValueError
from ._common import (
    latent_matrix,
    load_catalog,
    load_latents,
    save_figure,
    write_csv,
    write_json,
)
from .classify import _forest, classification_metrics

__all__ = [
    "COLUMNS",
    "CONTROL_COLUMNS",
    "DomainComparison",
    "PAPER_TABLE4",
    "SOURCE_TRAIN",
    "compare_domains",
    "high_mse_defects",
    "table4_markdown",
]

log = logging.getLogger(__name__)

#: Accuracy columns of Table 4, in order.
COLUMNS: tuple[str, ...] = ("decals_before", "target_before", "target_after", "source_after")
#: Control columns of Table 4 (see the module docs).
CONTROL_COLUMNS: tuple[str, ...] = ("target_before_retrained", "target_after_source_forest")
#: Accepted values of ``source_train``.
SOURCE_TRAIN: tuple[str, ...] = ("overlap", "all")
_NO_DEFECT = ("none", "", "nan", "<na>", "null")
_DISPLAY = {"decals": "DECaLS", "bass_mzls": "BASS+MzLS", "bass": "BASS", "mzls": "MzLS"}

#: The paper's Table 4 (accuracy, as fractions: the published percentages / 100),
#: keyed by galvae's Table 2 feature names ("How round" → ``how_rounded``,
#: "Edge-on" → ``edge_on``, "Bar" → ``bar``, "Have Arm" → ``has_arms``,
#: "Arm Tightness" → ``arm_tightness``, "Bulge Size" → ``bulge_size``,
#: "Merger" → ``merger``).  ``total`` is the paper's "Total Count".
PAPER_TABLE4: dict[str, dict[str, float | int]] = {
    "how_rounded": {
        "n_classes": 3,
        "total": 112,
        "decals_before": 0.7647,
        "target_before": 0.7059,
        "target_after": 0.7941,
    },
    "edge_on": {
        "n_classes": 2,
        "total": 1229,
        "decals_before": 0.8753,
        "target_before": 0.8672,
        "target_after": 0.8943,
    },
    "bar": {"n_classes": 3, "total": 168, "decals_before": 0.8253, "target_before": 0.7059, "target_after": 0.8627},
    "has_arms": {
        "n_classes": 2,
        "total": 642,
        "decals_before": 0.8290,
        "target_before": 0.7668,
        "target_after": 0.8238,
    },
    "arm_tightness": {
        "n_classes": 3,
        "total": 240,
        "decals_before": 0.6528,
        "target_before": 0.5694,
        "target_after": 0.6389,
    },
    "bulge_size": {
        "n_classes": 3,
        "total": 179,
        "decals_before": 0.7358,
        "target_before": 0.6604,
        "target_after": 0.7736,
    },
    "merger": {"n_classes": 2, "total": 1135, "decals_before": 0.9736, "target_before": 0.9765, "target_after": 0.9853},
}

_TABLE_COLUMNS = [
    "feature",
    "n_classes",
    "classes",
    "total",
    "n_train",
    "n_test",
    "n_train_source",
    *COLUMNS,
    *CONTROL_COLUMNS,
    "majority_rate",
]


@dataclass(frozen=True)
class DomainComparison:
    """What :func:`compare_domains` measured.

    Attributes
    ----------
    pairs : DataFrame
        One row per matched id (source-store order): ``id``, ``mse_before``,
        ``mse_after`` (with an "after" stage), and the catalogue's
        ``defect_<survey>`` / ``defect`` columns when present.
    table : DataFrame
        Table 4: ``feature``, ``n_classes``, ``classes``, ``total`` (labelled
        overlap galaxies), ``n_train``, ``n_test``, ``n_train_source`` (the
        source forest's training set), the accuracies ``decals_before``,
        ``target_before``, ``target_after``, ``source_after`` (NaN without an
        "after" stage) and ``majority_rate``.  Empty without a catalogue.
    mmd2 : dict
        Stage → MMD² between source and target latent means.
    mse : dict
        Stage → {"median", "mean", "min", "max"} of the per-galaxy MSE.
    defects : dict
        Stage → :func:`high_mse_defects` result; empty without defect columns.
    skipped : dict
        Feature → why it is not in Table 4.
    dropped_classes : dict
        Feature → classes dropped for having fewer than ``min_per_class``
        members.
    splits : dict
        Feature → {"train": ids, "test": ids} (overlap galaxies).
    metrics : dict
        (feature, column) → :func:`~galvae.evaluate.classify.classification_metrics`.
    n_matched : int
    unmatched : dict
        {"source": ids only in the source, "target": ids only in the target} (counts).
    summary : dict
        The content of ``domains.json``.
    out_dir : Path or None
    """

    pairs: Any
    table: Any
    mmd2: dict[str, float]
    mse: dict[str, dict[str, float]]
    defects: dict[str, dict[str, Any]]
    skipped: dict[str, str]
    dropped_classes: dict[str, list[str]]
    splits: dict[str, dict[str, list[str]]] = field(repr=False)
    metrics: dict[tuple[str, str], dict[str, Any]] = field(repr=False)
    n_matched: int
    unmatched: dict[str, int]
    summary: dict[str, Any] = field(repr=False)
    out_dir: Path | None = None


# --------------------------------------------------------------------------- inputs
@dataclass
class _Latents:
    """Latent means of one survey at one stage, with an id → row lookup."""

    ids: np.ndarray
    mu: np.ndarray
    source: str

    def __post_init__(self) -> None:
        import pandas as pd

        self.index = pd.Index(self.ids)
        if not self.index.is_unique:
            dup = self.index[self.index.duplicated()][0]
            raise GalvaeValueError(f"latent catalogue {self.source} has duplicate ids", dup)

    def at(self, ids: Any) -> np.ndarray:
        rows = self.index.get_indexer(np.asarray(ids, dtype=str))
        if (rows < 0).any():
            raise GalvaeValueError(f"id missing from the latents of {self.source}", str(np.asarray(ids)[rows < 0][0]))
        return self.mu[rows]


def _is_latent_pair(x: Any) -> bool:
    return isinstance(x, tuple | list) and len(x) == 2


def _latents_from_table(latents: Any, what: str) -> _Latents:
    df, meta = load_latents(latents)
    if "id" not in df.columns:
        raise GalvaeValueError(f"{what} latent catalogue has no 'id' column", list(df.columns)[:8])
    name = str(latents) if not hasattr(latents, "columns") else f"{what} DataFrame"
    return _Latents(df["id"].astype(str).to_numpy(), latent_matrix(df), name)


def _open_store(store: Any) -> Any:
    from ..data.store import ImageStore

    if store is None or isinstance(store, ImageStore):
        return store
    if isinstance(store, str | os.PathLike):
        return ImageStore(store)
    raise GalvaeValueError("a store must be an image store path or an ImageStore", type(store).__name__)


def _load_model(model: Any, device: str) -> Any:
    from ..latents.model import GalaxyVAE

    if isinstance(model, GalaxyVAE):
        return model
    if isinstance(model, str | os.PathLike):
        return GalaxyVAE.load(model, device=device)
    raise GalvaeValueError(
        "a stage must be a run directory / exported model path, a GalaxyVAE, or a "
        "(source_latents, target_latents) pair",
        type(model).__name__,
    )


def _encode(vae: Any, store: Any, ids: np.ndarray, *, batch_size: int, progress: bool, desc: str) -> _Latents:
    """μ of the store's images at ``ids`` (in that order), read and encoded in batches."""
    from tqdm.auto import tqdm

    rows = store.index_of(ids)
    mu = np.empty((len(ids), vae.latent_dim), np.float64)
    for i in tqdm(range(0, len(ids), batch_size), desc=desc, unit="batch", disable=not progress, leave=False):
        imgs = store.read(rows[i : i + batch_size])
        mu[i : i + batch_size] = vae.encode(imgs, batch_size=batch_size)
    return _Latents(np.asarray(ids, dtype=str), mu, f"{vae.path} on {store.path}")


def _defect_names(values: Any) -> np.ndarray:
    """Lower-case defect names as a str array, "" where missing."""
    import pandas as pd

    s = pd.Series(values, dtype=object)
    return np.array(["" if pd.isna(v) else str(v).strip().lower() for v in s], dtype=object)


def _defect_flags(values: Any) -> np.ndarray:
    return ~np.isin(_defect_names(values), _NO_DEFECT)


# --------------------------------------------------------------------------- defects
def high_mse_defects(
    pairs: Any,
    *,
    column: str = "mse_before",
    fraction: float = 0.05,
    threshold: float | None = None,
    defect_columns: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Share of the highest-MSE pairs with a planted defect, against all pairs.

    A pair "has a defect" when any of ``defect_columns`` names one (anything
    but "none", empty or missing); its kinds are the distinct names over
    those columns, so a pair with a bright star in one survey and a chip edge
    in the other counts for both kinds.

    Parameters
    ----------
    pairs : DataFrame
        One row per pair, with ``column`` and the defect columns.
    column : str, default "mse_before"
        The MSE to rank by.
    fraction : float, default 0.05
        The top ``ceil(fraction × N)`` pairs (at least one) by MSE.
    threshold : float, optional
        Also report the pairs with MSE above it.
    defect_columns : sequence of str, optional
        Default: every ``defect_<survey>`` column, or ``defect`` if there is
        none.

    Returns
    -------
    dict
        ``column``, ``defect_columns``, ``n_pairs``, ``fraction``, ``mse_cut``
        (smallest MSE in the top set), ``all``, ``top`` and (with
        ``threshold``) ``above_threshold``, each {``n``, ``n_defect``,
        ``share``, ``by_kind``: kind → {``n``, ``share``}}, and
        ``enrichment`` = top share / overall share (None when undefined).

    Raises
    ------
    GalvaeValueError
        If ``column`` or the defect columns are missing, ``fraction`` is not
        in (0, 1], ``threshold`` is not finite, or ``pairs`` is empty.
    """
    if column not in pairs.columns:
        raise GalvaeValueError(f"pairs table has no column {column!r}", column, list(pairs.columns))
    try:
        frac = float(fraction)
    except (TypeError, ValueError):
        raise GalvaeValueError("fraction must be a number in (0, 1]", fraction) from None
    if not (0 < frac <= 1):
        raise GalvaeValueError("fraction must be in (0, 1]", fraction)
    if threshold is not None and not np.isfinite(float(threshold)):
        raise GalvaeValueError("threshold must be a finite number", threshold)
    if defect_columns is None:
        defect_columns = [c for c in pairs.columns if str(c).startswith("defect_")]
        if not defect_columns and "defect" in pairs.columns:
            defect_columns = ["defect"]
    defect_columns = list(defect_columns)
    missing = [c for c in defect_columns if c not in pairs.columns]
    if not defect_columns or missing:
        raise GalvaeValueError(
            "pairs table has no defect column (defect_<survey> or defect)",
            missing[0] if missing else None,
            [c for c in pairs.columns if str(c).startswith("defect")] or None,
        )
    n = len(pairs)
    if n == 0:
        raise GalvaeValueError("pairs table is empty", n)
    mse = pairs[column].to_numpy(dtype=np.float64)
    flags = np.stack([_defect_flags(pairs[c].to_numpy()) for c in defect_columns], axis=1)
    values = np.stack([_defect_names(pairs[c].to_numpy()) for c in defect_columns], axis=1)
    kinds_per_pair = [set(values[i][flags[i]].tolist()) for i in range(n)]
    kinds = sorted(set().union(*kinds_per_pair))
    any_defect = flags.any(axis=1)

    def share(sel: np.ndarray) -> dict[str, Any]:
        k = int(sel.sum())
        by_kind = {}
        for kind in kinds:
            c = int(sum(1 for i in np.flatnonzero(sel) if kind in kinds_per_pair[i]))
            by_kind[kind] = {"n": c, "share": c / k if k else None}
        nd = int((any_defect & sel).sum())
        return {"n": k, "n_defect": nd, "share": nd / k if k else None, "by_kind": by_kind}

    n_top = max(1, math.ceil(frac * n))
    order = np.argsort(-mse, kind="stable")
    top = np.zeros(n, bool)
    top[order[:n_top]] = True
    out: dict[str, Any] = {
        "column": column,
        "defect_columns": defect_columns,
        "n_pairs": n,
        "fraction": frac,
        "mse_cut": float(mse[order[n_top - 1]]),
        "all": share(np.ones(n, bool)),
        "top": share(top),
    }
    if threshold is not None:
        out["threshold"] = float(threshold)
        out["above_threshold"] = share(mse > float(threshold))
    s_all, s_top = out["all"]["share"], out["top"]["share"]
    out["enrichment"] = s_top / s_all if s_all else None
    return out


# --------------------------------------------------------------------------- table 4
def _classes_of(y: np.ndarray, table2: Sequence[str], min_per_class: int) -> tuple[list[str], list[str]]:
    """(kept classes in Table 2 order, dropped rare classes): classify's rule."""
    present = set(y.tolist())
    order = [c for c in table2 if c in present] + sorted(present - set(table2))
    rare = [c for c in order if int((y == c).sum()) < min_per_class]
    return [c for c in order if c not in rare], rare


def _table4(
    labels: Any,
    matched: np.ndarray,
    stages: dict[str, dict[str, _Latents]],
    *,
    features: Sequence[str],
    cfg: Any,
    source_train: str,
    test_size: float,
    seed: int,
    n_estimators: int,
    min_galaxies: int,
    min_per_class: int,
    progress: bool,
) -> tuple[Any, dict, dict, dict, dict]:
    import pandas as pd
    from sklearn.model_selection import train_test_split
    from tqdm.auto import tqdm

    lab = labels.set_index("id")
    over = lab.reindex(pd.Index(matched))  # matched ids, NaN where unlabelled
    before, after = stages["before"], stages.get("after")
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    dropped: dict[str, list[str]] = {}
    splits: dict[str, dict[str, list[str]]] = {}
    metrics: dict[tuple[str, str], dict[str, Any]] = {}
    for feature in tqdm(features, desc="table 4", unit="feature", disable=not progress):
        y_all = over[feature]
        have = y_all.notna().to_numpy()
        ids = matched[have]
        y = y_all[have].astype(str).to_numpy()
        classes, rare = _classes_of(y, [str(c) for c in cfg.classes(feature)], min_per_class)
        if rare:
            dropped[feature] = rare
        keep = np.isin(y, classes)
        ids, y = ids[keep], y[keep]
        if not have.any():
            skipped[feature] = "no overlap galaxy has a label"
        elif len(classes) < 2:
            skipped[feature] = f"{len(classes)} class(es) with at least {min_per_class} galaxies"
        elif len(ids) <= min_galaxies:
            skipped[feature] = f"{len(ids)} labelled overlap galaxies, not more than min_galaxies={min_galaxies}"
        if feature in skipped:
            log.warning("Table 4: skipping %s: %s", feature, skipped[feature])
            continue
        try:
            tr, te = train_test_split(np.arange(len(ids)), test_size=test_size, stratify=y, random_state=seed)
        except ValueError as exc:
            skipped[feature] = f"stratified split impossible: {exc}"
            log.warning("Table 4: skipping %s: %s", feature, skipped[feature])
            continue
        tr, te = np.sort(tr), np.sort(te)
        splits[feature] = {"train": ids[tr].tolist(), "test": ids[te].tolist()}
        ytr, yte = y[tr], y[te]
        if source_train == "all":
            src_lab = lab[feature].reindex(pd.Index(before["source"].ids))
            ok = src_lab.notna().to_numpy()
            sy = src_lab.to_numpy()[ok].astype(str)
            sids = before["source"].ids[ok]
            sel = np.isin(sy, classes) & ~np.isin(sids, ids[te])
            src_ids, src_y = sids[sel], sy[sel]
        else:
            src_ids, src_y = ids[tr], ytr
        values, freq = np.unique(ytr, return_counts=True)
        row: dict[str, Any] = {
            "feature": feature,
            "n_classes": len(classes),
            "classes": ",".join(classes),
            "total": len(ids),
            "n_train": len(tr),
            "n_test": len(te),
            "n_train_source": len(src_ids),
            "majority_rate": float(np.mean(yte == values[np.argmax(freq)])),
        }
        preds: dict[str, np.ndarray] = {}
        rf = _forest(n_estimators, seed).fit(before["source"].at(src_ids), src_y)
        preds["decals_before"] = rf.predict(before["source"].at(ids[te]))
        preds["target_before"] = rf.predict(before["target"].at(ids[te]))
        retrained = _forest(n_estimators, seed).fit(before["target"].at(ids[tr]), ytr)
        preds["target_before_retrained"] = retrained.predict(before["target"].at(ids[te]))
        if after is not None:
            for col, side in (("target_after", "target"), ("source_after", "source")):
                f = _forest(n_estimators, seed).fit(after[side].at(ids[tr]), ytr)
                preds[col] = f.predict(after[side].at(ids[te]))
                if side == "source":
                    preds["target_after_source_forest"] = f.predict(after["target"].at(ids[te]))
        for col in COLUMNS + CONTROL_COLUMNS:
            if col in preds:
                m = classification_metrics(yte, preds[col], classes)
                metrics[(feature, col)] = m
                row[col] = m["accuracy"]
            else:
                row[col] = float("nan")
        rows.append(row)
    return pd.DataFrame(rows, columns=_TABLE_COLUMNS), skipped, dropped, splits, metrics


def table4_markdown(table: Any, *, names: tuple[str, str] = ("DECaLS", "BASS+MzLS"), paper: bool = True) -> str:
    """Table 4 as markdown, with the paper's published numbers below for reference.

    Parameters
    ----------
    table : DataFrame
        :attr:`DomainComparison.table`.
    names : (str, str), default ("DECaLS", "BASS+MzLS")
        Source and target survey names for the headers.
    paper : bool, default True
        Append :data:`PAPER_TABLE4`.

    Returns
    -------
    str
    """
    s, t = names
    head = [
        "Feature",
        "Classes",
        "Total count",
        f"Before DA {s}",
        f"Before DA {t}",
        f"After DA {t}",
        f"After DA {s}",
        f"control: before DA {t}, retrained",
        f"control: after DA {t}, {s} forest",
        "majority",
    ]

    def pct(v: Any) -> str:
        return "–" if v is None or not np.isfinite(float(v)) else f"{100 * float(v):.2f} %"

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [str(r["feature"]), str(r["n_classes"]), str(r["total"])]
        cells += [pct(r[c]) for c in COLUMNS + CONTROL_COLUMNS] + [pct(r["majority_rate"])]
        lines.append("| " + " | ".join(cells) + " |")
    md = "\n".join(lines) + "\n"
    if paper:
        md += "\nThe paper's Table 4 (Before DA DECaLS / Before DA BASS+MzLS / After DA BASS+MzLS):\n\n"
        ph = ["Feature", "Classes", "Total count", "Before DA DECaLS", "Before DA BASS+MzLS", "After DA BASS+MzLS"]
        md += "| " + " | ".join(ph) + " |\n|" + "---|" * len(ph) + "\n"
        for f, p in PAPER_TABLE4.items():
            md += (
                f"| {f} | {p['n_classes']} | {p['total']} | {pct(p['decals_before'])} | "
                f"{pct(p['target_before'])} | {pct(p['target_after'])} |\n"
            )
    return md


# --------------------------------------------------------------------------- main
def _check_float(value: Any, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise GalvaeValueError(f"{name} must be a number", value) from None
    if not np.isfinite(x):
        raise GalvaeValueError(f"{name} must be a finite number", value)
    return x


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise GalvaeValueError(f"{name} must be an integer >= {minimum}", value)
    return int(value)


def compare_domains(
    before: Any,
    source_store: Any = None,
    target_store: Any = None,
    catalog: Any = None,
    *,
    after: Any = None,
    out_dir: str | os.PathLike[str] | None = None,
    features: Sequence[str] | None = None,
    label_config: Any = None,
    source_train: str = "all",
    test_size: float = 0.3,
    seed: int = 0,
    n_estimators: int = 200,
    min_galaxies: int = 100,
    min_per_class: int = 2,
    max_mmd_points: int = 2000,
    high_mse_fraction: float = 0.05,
    mse_threshold: float | None = None,
    n_gallery: int = 8,
    batch_size: int = 256,
    device: str = "cpu",
    progress: bool = True,
) -> DomainComparison:
    """Compare the latents of the same galaxies in two surveys, before and after DA.

    Parameters
    ----------
    before : path, GalaxyVAE or (latents, latents)
        The VAE trained on the source survey (run directory or exported
        model), or already-encoded latent catalogues ``(source, target)``
        (paths or DataFrames with ``id`` and ``mu_<j>``).
    source_store, target_store : path or ImageStore, optional
        Source (DECaLS) and target (BASS+MzLS) image stores; ids are matched
        between them.  Required when a stage is a model; otherwise used only
        for the galleries.
    catalog : path or DataFrame, optional
        Galaxy Zoo DECaLS catalogue (labelled with
        :func:`galvae.labels_from_catalog`) or a table already holding the
        Table 2 label columns, as :func:`galvae.classify` accepts.  Needed for
        Table 4; its ``defect_<survey>`` / ``defect`` columns feed the defect
        shares.
    after : path, GalaxyVAE or (latents, latents), optional
        The domain-adapted model (its ``model.json`` holds the shared
        encoder) or its latent catalogues.
    out_dir : path, optional
        Writes ``pairs.csv``, ``mse_hist.png``, ``pairs_lowest_<stage>.png``,
        ``pairs_highest_<stage>.png`` (with stores), ``table4.csv``,
        ``table4.md`` (with a catalogue) and ``domains.json``.
    features : sequence of str, optional
        Table 2 features for Table 4 (default: all nine; those with too few
        galaxies are skipped and reported).
    label_config : LabelConfig, optional
    source_train : {"all", "overlap"}, default "all"
        Training galaxies of the source forest: every labelled source galaxy
        not in the overlap test set (the paper's Section 4.2 forest, trained
        on the whole DECaLS sample; encodes the labelled source galaxies
        too), or the overlap training split only.
    test_size : float, default 0.3
        The paper's 70/30 split.
    seed : int, default 0
        Seeds the splits, the forests and the MMD subsample.
    n_estimators : int, default 200
    min_galaxies : int, default 100
        A feature enters Table 4 with *more* labelled overlap galaxies than
        this (the paper's "larger than 100"), after dropping rare classes.
    min_per_class : int, default 2
        Classes with fewer overlap members are dropped (and reported).
    max_mmd_points : int, default 2000
        MMD² is computed on at most this many pairs (seeded subsample).
    high_mse_fraction : float, default 0.05
        The "highest-MSE" set of the defect shares.
    mse_threshold : float, optional
        Also report defect shares above this MSE; marked in the histogram.
    n_gallery : int, default 8
        Pairs per gallery (0: no galleries).
    batch_size : int, default 256
        Images read and encoded at a time.
    device : str, default "cpu"
        Torch device for models given as paths.
    progress : bool, default True

    Returns
    -------
    DomainComparison

    Raises
    ------
    GalvaeValueError
        On bad parameters, unknown features, a stage that is neither a model
        nor a latent pair, a model stage without stores, stores that do not
        match a model (size, normalisation), fewer than two matched ids, or
        latents missing a matched id.
    GalvaeFileError
        If a run, store or catalogue cannot be read.
    """
    import pandas as pd

    from ..data.labels import LabelConfig, labels_from_catalog
    from ..latents.export import check_store_matches

    if source_train not in SOURCE_TRAIN:
        raise GalvaeValueError("unknown source_train", source_train, SOURCE_TRAIN)
    if not (0 < _check_float(test_size, "test_size") < 1):
        raise GalvaeValueError("test_size must be in (0, 1)", test_size)
    if not (0 < _check_float(high_mse_fraction, "high_mse_fraction") <= 1):
        raise GalvaeValueError("high_mse_fraction must be in (0, 1]", high_mse_fraction)
    if mse_threshold is not None and not _check_float(mse_threshold, "mse_threshold") >= 0:
        raise GalvaeValueError("mse_threshold must be a finite number >= 0", mse_threshold)
    max_mmd_points = _check_int(max_mmd_points, "max_mmd_points", 2)
    n_gallery = _check_int(n_gallery, "n_gallery", 0)
    batch_size = _check_int(batch_size, "batch_size", 1)
    n_estimators = _check_int(n_estimators, "n_estimators", 1)
    min_galaxies = _check_int(min_galaxies, "min_galaxies", 0)
    min_per_class = _check_int(min_per_class, "min_per_class", 1)
    cfg = label_config or LabelConfig()
    features = tuple(features) if features is not None else tuple(cfg.features)
    unknown = [f for f in features if f not in cfg.features]
    if unknown:
        raise GalvaeValueError(f"unknown feature {unknown[0]!r}", unknown[0], cfg.features)

    src_st, tgt_st = _open_store(source_store), _open_store(target_store)
    opened = [s for s, given in ((src_st, source_store), (tgt_st, target_store)) if s is not None and s is not given]
    try:
        # ---- stages: models or latent pairs
        raw = {"before": before} if after is None else {"before": before, "after": after}
        models: dict[str, Any] = {}
        tables: dict[str, dict[str, _Latents]] = {}
        for stage, x in raw.items():
            if _is_latent_pair(x):
                tables[stage] = {
                    "source": _latents_from_table(x[0], f"{stage} source"),
                    "target": _latents_from_table(x[1], f"{stage} target"),
                }
                continue
            if src_st is None or tgt_st is None:
                raise GalvaeValueError(
                    f"the {stage!r} stage is a model: source_store and target_store are needed to encode", None
                )
            vae = _load_model(x, device)
            check_store_matches(vae.meta, src_st)
            check_store_matches(vae.meta, tgt_st)
            models[stage] = vae

        # ---- id matching
        src_sets = [tables[s]["source"].ids for s in tables] + ([src_st.ids] if src_st is not None and models else [])
        tgt_sets = [tables[s]["target"].ids for s in tables] + ([tgt_st.ids] if tgt_st is not None and models else [])
        src_primary = src_st.ids if (src_st is not None and models) else src_sets[0]
        tgt_primary = tgt_st.ids if (tgt_st is not None and models) else tgt_sets[0]
        common = set(tgt_sets[0].tolist())
        for s in tgt_sets[1:] + src_sets:
            common &= set(s.tolist())
        matched = np.array([i for i in src_primary.tolist() if i in common], dtype=str)
        unmatched = {
            "source": int(len(src_primary) - np.isin(src_primary, matched).sum()),
            "target": int(len(tgt_primary) - np.isin(tgt_primary, matched).sum()),
        }
        if len(matched) < 2:
            raise GalvaeValueError(
                "fewer than two ids are in both the source and the target (check the stores / latents)",
                len(matched),
            )
        log.info(
            "%d matched ids; %d source-only, %d target-only", len(matched), unmatched["source"], unmatched["target"]
        )

        # ---- labels
        labels = None
        cat = None
        if catalog is not None:
            cat = load_catalog(catalog)
            if "id" not in cat.columns:
                raise GalvaeValueError("catalogue has no 'id' column", list(cat.columns)[:8])
            cat = cat.assign(id=cat["id"].astype(str))
            if cat["id"].duplicated().any():
                raise GalvaeValueError("catalogue has duplicate ids", cat["id"][cat["id"].duplicated()].iloc[0])
            labels = cat if all(f in cat.columns for f in features) else labels_from_catalog(cat, cfg)
            labels = labels.assign(id=labels["id"].astype(str))

        # ---- encoding (only the ids needed)
        for stage, vae in models.items():
            src_ids = matched
            if stage == "before" and source_train == "all" and labels is not None:
                lab_ids = labels.loc[labels[list(features)].notna().any(axis=1), "id"].to_numpy(dtype=str)
                extra = np.setdiff1d(np.intersect1d(src_st.ids, lab_ids), matched)
                src_ids = np.concatenate([matched, extra])
            tables[stage] = {
                "source": _encode(
                    vae,
                    src_st,
                    src_ids,
                    batch_size=batch_size,
                    progress=progress,
                    desc=f"encode {stage} {src_st.survey}",
                ),
                "target": _encode(
                    vae,
                    tgt_st,
                    matched,
                    batch_size=batch_size,
                    progress=progress,
                    desc=f"encode {stage} {tgt_st.survey}",
                ),
            }
        stages = [s for s in ("before", "after") if s in tables]

        # ---- MSE and MMD²
        import torch

        from ..losses.mmd import DEFAULT_SCALES, median_bandwidth, mmd2

        pairs = pd.DataFrame({"id": matched})
        mse_stats: dict[str, dict[str, float]] = {}
        mmd: dict[str, float] = {}
        rng = np.random.default_rng(seed)
        sub = (
            np.sort(rng.choice(len(matched), max_mmd_points, replace=False))
            if len(matched) > max_mmd_points
            else np.arange(len(matched))
        )
        perm = rng.permutation(len(matched))  # random pairs: the scale a paired MSE is judged against
        bandwidths: list[float] | None = None
        for stage in stages:
            s_mu = tables[stage]["source"].at(matched)
            t_mu = tables[stage]["target"].at(matched)
            if s_mu.shape[1] != t_mu.shape[1]:
                raise GalvaeValueError(
                    f"the {stage} source and target latents differ in dimension", (s_mu.shape[1], t_mu.shape[1])
                )
            mse = np.mean((s_mu - t_mu) ** 2, axis=1)
            pairs[f"mse_{stage}"] = mse
            mse_stats[stage] = {
                "median": float(np.median(mse)),
                "mean": float(np.mean(mse)),
                "min": float(np.min(mse)),
                "max": float(np.max(mse)),
                # scale-free: the same galaxy's MSE over that of two random overlap galaxies
                "random_median": float(np.median(np.mean((s_mu - t_mu[perm]) ** 2, axis=1))),
            }
            rand = mse_stats[stage]["random_median"]
            mse_stats[stage]["paired_over_random"] = float(np.median(mse) / rand) if rand > 0 else float("nan")
            if bandwidths is None:  # one kernel for every stage, fixed on the first ("before") sample
                sigma0 = float(median_bandwidth(torch.as_tensor(s_mu[sub]), torch.as_tensor(t_mu[sub])))
                bandwidths = [sigma0 * float(np.sqrt(sc)) for sc in DEFAULT_SCALES]
            mmd[stage] = mmd2(s_mu[sub], t_mu[sub], bandwidths=bandwidths)

        # ---- defects
        src_name = src_st.survey if src_st is not None else "source"
        tgt_name = tgt_st.survey if tgt_st is not None else "target"
        defect_cols: list[str] = []
        if cat is not None:
            all_defect = [c for c in cat.columns if str(c) == "defect" or str(c).startswith("defect_")]
            if all_defect:
                pairs = pairs.merge(cat[["id", *all_defect]], on="id", how="left")
                n_missing = int(pairs[all_defect[0]].isna().sum())
                if n_missing:
                    log.warning("%d matched id(s) not in the catalogue: counted as without defect", n_missing)
                per_survey = [c for c in (f"defect_{src_name}", f"defect_{tgt_name}") if c in all_defect]
                defect_cols = per_survey or [c for c in all_defect if c != "defect"] or ["defect"]
        defects = (
            {
                stage: high_mse_defects(
                    pairs,
                    column=f"mse_{stage}",
                    fraction=high_mse_fraction,
                    threshold=mse_threshold,
                    defect_columns=defect_cols,
                )
                for stage in stages
            }
            if defect_cols
            else {}
        )

        # ---- Table 4
        if labels is not None:
            table, skipped, dropped, splits, metrics = _table4(
                labels,
                matched,
                tables,
                features=features,
                cfg=cfg,
                source_train=source_train,
                test_size=float(test_size),
                seed=seed,
                n_estimators=n_estimators,
                min_galaxies=min_galaxies,
                min_per_class=min_per_class,
                progress=progress,
            )
        else:
            table, skipped, dropped, splits, metrics = pd.DataFrame(columns=_TABLE_COLUMNS), {}, {}, {}, {}
            log.info("no catalogue: no Table 4")

        def _path(x: Any) -> Any:
            if _is_latent_pair(x):
                return [str(v) if isinstance(v, str | os.PathLike) else "DataFrame" for v in x]
            if isinstance(x, str | os.PathLike):
                return str(x)
            return getattr(x, "path", None)

        summary: dict[str, Any] = {
            "n_matched": int(len(matched)),
            "unmatched": unmatched,
            "surveys": {"source": src_name, "target": tgt_name},
            "stages": stages,
            "mse": mse_stats,
            "mmd2": mmd,
            "mmd_points": int(len(sub)),
            "table4": _records(table),
            "table4_skipped": skipped,
            "table4_dropped_classes": dropped,
            "table4_metrics": {f"{f}/{c}": m for (f, c), m in metrics.items()},
            "paper_table4": PAPER_TABLE4,
            "defects": defects,
            "params": {
                "source_train": source_train,
                "test_size": float(test_size),
                "seed": seed,
                "n_estimators": n_estimators,
                "min_galaxies": min_galaxies,
                "min_per_class": min_per_class,
                "features": list(features),
                "max_mmd_points": max_mmd_points,
                "high_mse_fraction": float(high_mse_fraction),
                "mse_threshold": None if mse_threshold is None else float(mse_threshold),
                "n_gallery": n_gallery,
            },
            "paths": {
                "before": _path(before),
                "after": _path(after) if after is not None else None,
                "source_store": str(src_st.path) if src_st is not None else None,
                "target_store": str(tgt_st.path) if tgt_st is not None else None,
                "catalog": str(catalog)
                if isinstance(catalog, str | os.PathLike)
                else (None if catalog is None else "DataFrame"),
            },
            "files": [],
        }
        out = None
        if out_dir is not None:
            out = Path(out_dir)
            out.mkdir(parents=True, exist_ok=True)
            _write_outputs(
                out,
                summary,
                pairs,
                table,
                stages,
                src_st,
                tgt_st,
                n_gallery,
                mse_threshold,
                defect_cols,
                labels is not None,
            )
    finally:
        for s in opened:
            s.close()
    return DomainComparison(
        pairs,
        table,
        mmd,
        mse_stats,
        defects,
        skipped,
        dropped,
        splits,
        metrics,
        int(len(matched)),
        unmatched,
        summary,
        out,
    )


def _records(table: Any) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
        for r in table.to_dict(orient="records")
    ]


def _write_outputs(
    out: Path,
    summary: dict[str, Any],
    pairs: Any,
    table: Any,
    stages: list[str],
    src_st: Any,
    tgt_st: Any,
    n_gallery: int,
    mse_threshold: float | None,
    defect_cols: list[str],
    has_catalog: bool,
) -> None:
    from ..plots.domains import plot_mse_histogram, plot_pair_gallery

    files = summary["files"]
    write_csv(out / "pairs.csv", pairs)
    files.append("pairs.csv")
    fig = plot_mse_histogram(
        {s: pairs[f"mse_{s}"].to_numpy() for s in stages},
        threshold=mse_threshold,
        title="{} galaxies in {} and {}".format(
            len(pairs), *(_DISPLAY.get(n, n) for n in (summary["surveys"]["source"], summary["surveys"]["target"]))
        ),
    )
    save_figure(fig, out / "mse_hist.png")
    files.append("mse_hist.png")
    if n_gallery and src_st is not None and tgt_st is not None:
        names = tuple(_DISPLAY.get(n, n) for n in (summary["surveys"]["source"], summary["surveys"]["target"]))
        for stage in stages:
            col = f"mse_{stage}"
            order = np.argsort(pairs[col].to_numpy(), kind="stable")
            for which, sel in (("lowest", order[:n_gallery]), ("highest", order[::-1][:n_gallery])):
                rows = pairs.iloc[sel]
                ids = rows["id"].tolist()
                labels = []
                for _, r in rows.iterrows():
                    names_ = _defect_names([r[c] for c in defect_cols])
                    kinds = sorted(set(names_[~np.isin(names_, _NO_DEFECT)].tolist()))
                    labels.append(f"{r['id']}\nMSE {r[col]:.3g}" + (f"\n{', '.join(kinds)}" if kinds else ""))
                fig = plot_pair_gallery(
                    src_st.read(src_st.index_of(ids)),
                    tgt_st.read(tgt_st.index_of(ids)),
                    labels,
                    row_names=names,
                    title=f"{which} latent MSE ({stage})",
                )
                name = f"pairs_{which}_{stage}.png"
                save_figure(fig, out / name)
                files.append(name)
    if has_catalog:
        write_csv(out / "table4.csv", table)
        md = table4_markdown(
            table, names=tuple(_DISPLAY.get(n, n) for n in (summary["surveys"]["source"], summary["surveys"]["target"]))
        )
        md += "\nAccuracy of random forests on the latent means; 'After DA' columns are empty without --after.\n"
        if summary["table4_skipped"]:
            md += "\nSkipped features: " + "; ".join(f"{k} ({v})" for k, v in summary["table4_skipped"].items()) + "\n"
        if summary["table4_dropped_classes"]:
            md += (
                "\nDropped rare classes: "
                + "; ".join(f"{k}: {', '.join(v)}" for k, v in summary["table4_dropped_classes"].items())
                + "\n"
            )
        with atomic_path(out / "table4.md") as tmp:
            Path(tmp).write_text(md)
        files += ["table4.csv", "table4.md"]
    summary["out_dir"] = str(out)
    write_json(out / "domains.json", summary)
