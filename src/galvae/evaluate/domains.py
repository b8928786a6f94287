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
3. **Table 4**: per Table 2 feature with at least ``min_galaxies`` labelled
   overlap galaxies (the paper's "larger than 100": 101 by default), a 70/30
   split stratified by class (fixed seed; the protocol of Table 3,
   :mod:`galvae.evaluate.protocol`) and random forests scored by accuracy:

   * ``source_before``: forest trained on the source latents (before) of the
     training galaxies, tested on the source latents of the test galaxies
     (the paper's "Before DA DECaLS");
   * ``target_before``: *the same forest* applied to the target latents
     (before) of the test galaxies;
   * ``target_after``: a forest retrained on the target latents of the
     adapted encoder (same split);
   * ``source_after``: a forest trained on the source latents of the adapted
     encoder, tested on the adapted source latents of the test galaxies.

   Two control columns keep retraining from scoring as adaptation (the
   paper's "after" forest is retrained while its "before" one is not):

   * ``target_before_retrained``: a forest retrained on the target latents
     *before* adaptation (same split) — what retraining alone gives;
   * ``target_after_source_forest``: a forest trained on the *adapted source*
     latents of the training galaxies, applied unchanged to the adapted
     target latents — what alignment alone gives.

   Adaptation helps when ``target_after`` beats ``target_before_retrained``
   and ``target_after_source_forest`` beats ``target_before``.

   With ``source_train="all"`` the source forest of ``source_before`` (and so
   ``target_before``) is trained on every labelled source galaxy outside the
   overlap test set, as the paper trained on the whole DECaLS sample, and so
   is the adapted source forest of ``source_after`` and
   ``target_after_source_forest`` (when the "after" latents hold those
   galaxies, as a model stage's always do; column ``n_train_source_after``):
   each "after" source column then differs from its "before" one only by the
   encoder.  ``target_after`` and ``target_before_retrained`` use the
   overlap training galaxies.  (Until 2026-12-05 the adapted source forest
   learnt from the overlap training galaxies only: on the default demo, 126
   galaxies for how rounded instead of 718, which made the adapted latents
   look 0.2 worse than they are.)
   **A control for the paired measure**: ``control`` is a run fine-tuned
   exactly as ``after`` but without the alignment terms (``galvae adapt
   --lambda 0 --pair-weight 0``: the same pairs, epochs, learning rate, seed
   and epoch choice).  Fine-tuning a trained VAE on both surveys' images
   changes ``paired_over_random`` by itself — on the demo's galaxies by
   1.1–3.2× with Adam at 10⁻³, most of what the adapted encoder showed
   there, and by 0.99–1.27× at 3 × 10⁻⁴ — so ``heldout`` then also holds ``control`` and
   ``gain_over_control`` (the control's held-out ratio over the adapted
   one's): what the MMD² and paired terms add.
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

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_json, write_text
from .._validate import check_float, check_int
from ..errors import GalvaeFileError, GalvaeValueError
from .inputs import latent_matrix, load_latents
from .paper import TABLE4 as PAPER_TABLE4
from .paper import TABLE4_MIN_GALAXIES
from .protocol import (
    FeatureSplit,
    check_n_jobs,
    check_split_options,
    classification_metrics,
    load_labels,
    markdown_table,
    random_forest,
    resolve_features,
    skipped_notes,
    split_feature,
)

__all__ = [
    "COLUMNS",
    "CONTROL_COLUMNS",
    "LEGACY_COLUMNS",
    "REPEAT_COMPARISONS",
    "SOURCE_TRAIN",
    "TABLE4_COLUMNS",
    "DomainComparison",
    "compare_domains",
    "heldout_pairs_phrase",
    "table4_repeat_summary",
    "high_mse_defects",
    "table4_markdown",
    "upgrade_table4",
]

log = logging.getLogger(__name__)

#: Accuracy columns of Table 4, in order.
COLUMNS: tuple[str, ...] = ("source_before", "target_before", "target_after", "source_after")
#: Control columns of Table 4 (see the module docs).
CONTROL_COLUMNS: tuple[str, ...] = ("target_before_retrained", "target_after_source_forest")
#: Columns of :attr:`DomainComparison.table` (``table4.csv``).
TABLE4_COLUMNS: tuple[str, ...] = (
    "feature",
    "n_classes",
    "classes",
    "total",
    "n_train",
    "n_test",
    "n_train_source",
    "n_train_source_after",
    *COLUMNS,
    *CONTROL_COLUMNS,
    "majority_rate",
)
#: Earlier names of Table 4 columns (older galvae wrote ``decals_before`` whatever the source survey).
LEGACY_COLUMNS: dict[str, str] = {"decals_before": "source_before"}
#: Table 4 comparisons counted over repeated splits (``compare_domains(repeats=R)``): name -> (column, column it
#: must beat).  "after > before" is the paper's reading; the other two separate retraining and the encoder.
REPEAT_COMPARISONS: dict[str, tuple[str, str]] = {
    "after_above_before": ("target_after", "target_before"),
    "after_above_retrained": ("target_after", "target_before_retrained"),
    "aligned_above_before": ("target_after_source_forest", "target_before"),
}
#: Accepted values of ``source_train``.
SOURCE_TRAIN: tuple[str, ...] = ("overlap", "all")
_NO_DEFECT = ("none", "", "nan", "<na>", "null")
_DISPLAY = {"decals": "DECaLS", "bass_mzls": "BASS+MzLS", "bass": "BASS", "mzls": "MzLS"}


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
        overlap galaxies), ``n_train``, ``n_test``, ``n_train_source`` and
        ``n_train_source_after`` (the training sets of the source forests on
        the "before" and "after" latents), the accuracies ``source_before``,
        ``target_before``, ``target_after``, ``source_after`` and the controls
        (NaN without an "after" stage) and ``majority_rate``.  Empty without a
        catalogue.
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
        (feature, column) → :func:`~galvae.evaluate.protocol.classification_metrics`.
    n_matched : int
    unmatched : dict
        {"source": ids only in the source, "target": ids only in the target} (counts).
    summary : dict
        The content of ``domains.json``.
    out_dir : Path or None
    heldout : dict
        On the pairs the adaptation did not train on (``heldout_ids``):
        ``{"n": pairs, "source": where the ids came from, "<stage>":
        statistics as in ``mse``}``, and ``"gain"``, the before/after ratio of
        their ``paired_over_random``; with a ``control`` run also its
        statistics (``"control"``), ``"gain_control"`` (before/control) and
        ``"gain_over_control"`` (control/after); empty without held-out ids.
    table4_repeats : DataFrame or None
        With ``repeats`` > 1: Table 4 on every split, one row per (seed,
        feature) with the columns of ``table`` and ``seed`` (the first seed's
        rows are ``table``'s); None otherwise, and when no feature enters
        Table 4.  :func:`table4_repeat_summary`
        averages it.
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
    heldout: dict[str, Any] = field(default_factory=dict)
    table4_repeats: Any = None


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

    def has(self, ids: Any) -> bool:
        """Whether every one of ``ids`` has latents here."""
        return bool((self.index.get_indexer(np.asarray(ids, dtype=str)) >= 0).all())

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


@dataclass
class _Table4:
    """Table 4 with what it skipped, dropped, split and measured."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, list[str]] = field(default_factory=dict)
    splits: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    metrics: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def table(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(TABLE4_COLUMNS))


def upgrade_table4(table: Any) -> Any:
    """A Table 4 read from an older file, with today's column names (:data:`LEGACY_COLUMNS`)."""
    return table.rename(columns={k: v for k, v in LEGACY_COLUMNS.items() if v not in table.columns})


def _table4(labels: Any, matched: np.ndarray, latents: dict[str, dict[str, _Latents]], opts: _Settings) -> _Table4:
    """Table 4 over the matched galaxies: one row per feature that passes the shared protocol."""
    import pandas as pd
    from tqdm.auto import tqdm

    lab = labels.set_index("id")
    over = lab.reindex(pd.Index(matched))  # matched ids, NaN where unlabelled
    out = _Table4()
    for feature in tqdm(opts.features, desc="table 4", unit="feature", disable=not opts.progress):
        fs = split_feature(
            feature,
            over[feature].to_numpy(),
            opts.cfg.classes(feature),
            min_galaxies=opts.min_galaxies,
            min_per_class=opts.min_per_class,
            test_size=opts.test_size,
            seed=opts.seed,
        )
        if fs.dropped:
            out.dropped[feature] = list(fs.dropped)
        if fs.skipped:
            out.skipped[feature] = f"overlap galaxies: {fs.skipped}"
            log.warning("Table 4: skipping %s: %s", feature, out.skipped[feature])
            continue
        out.splits[feature] = {"train": matched[fs.train_rows].tolist(), "test": matched[fs.test_rows].tolist()}
        src_ids, src_y = _source_training(lab[feature], latents["before"]["source"], fs, matched, opts.source_train)
        after = latents.get("after")
        # the adapted source forest learns from the galaxies the "before" source forest learnt from, where the
        # adapted latents hold them (a model stage always does), so target_after_source_forest against
        # target_before differs only by the encoder; else from the overlap training split
        if after is not None and after["source"].has(src_ids):
            after_ids, after_y = src_ids, src_y
        else:
            after_ids, after_y = matched[fs.train_rows], fs.y_train
        preds = _table4_predictions(fs, matched, (src_ids, src_y), (after_ids, after_y), latents, opts)
        row: dict[str, Any] = {
            "feature": feature,
            "n_classes": len(fs.classes),
            "classes": ",".join(fs.classes),
            "total": len(fs.rows),
            "n_train": len(fs.train),
            "n_test": len(fs.test),
            "n_train_source": len(src_ids),
            "n_train_source_after": len(after_ids) if after is not None else float("nan"),
            "majority_rate": fs.majority_rate,
        }
        for col in COLUMNS + CONTROL_COLUMNS:
            row[col] = float("nan")
            if col in preds:
                out.metrics[(feature, col)] = classification_metrics(fs.y_test, preds[col], fs.classes, fs.averaging)
                row[col] = out.metrics[(feature, col)]["accuracy"]
        out.rows.append(row)
    return out


def _source_training(
    labels: Any, source: _Latents, fs: FeatureSplit, matched: np.ndarray, source_train: str
) -> tuple[np.ndarray, np.ndarray]:
    """Ids and classes the source forest is trained on: the overlap training split, or (``"all"``)
    every labelled source galaxy of a kept class outside the overlap test set."""
    import pandas as pd

    if source_train != "all":
        return matched[fs.train_rows], fs.y_train
    src_lab = labels.reindex(pd.Index(source.ids))
    ok = src_lab.notna().to_numpy()
    sy = src_lab.to_numpy()[ok].astype(str)
    sids = source.ids[ok]
    sel = np.isin(sy, fs.classes) & ~np.isin(sids, matched[fs.test_rows])
    return sids[sel], sy[sel]


def _table4_predictions(
    fs: FeatureSplit,
    matched: np.ndarray,
    source_training: tuple[np.ndarray, np.ndarray],
    after_source_training: tuple[np.ndarray, np.ndarray],
    latents: dict[str, dict[str, _Latents]],
    opts: _Settings,
) -> dict[str, np.ndarray]:
    """Column → predictions on the overlap test galaxies (see the module docs for each column).

    ``source_training`` and ``after_source_training`` are the (ids, classes) the source forests of the
    "before" and "after" latents learn from.
    """
    train, test = matched[fs.train_rows], matched[fs.test_rows]
    src_ids, src_y = source_training
    before, after = latents["before"], latents.get("after")

    def forest(side: dict[str, _Latents], name: str, ids: np.ndarray, y: np.ndarray) -> Any:
        return random_forest(opts.n_estimators, opts.seed, n_jobs=opts.n_jobs).fit(side[name].at(ids), y)

    source_forest = forest(before, "source", src_ids, src_y)
    preds = {
        "source_before": source_forest.predict(before["source"].at(test)),
        "target_before": source_forest.predict(before["target"].at(test)),
        "target_before_retrained": forest(before, "target", train, fs.y_train).predict(before["target"].at(test)),
    }
    if after is not None:
        preds["target_after"] = forest(after, "target", train, fs.y_train).predict(after["target"].at(test))
        adapted_source = forest(after, "source", *after_source_training)
        preds["source_after"] = adapted_source.predict(after["source"].at(test))
        preds["target_after_source_forest"] = adapted_source.predict(after["target"].at(test))
    return preds


def table4_markdown(table: Any, *, names: tuple[str, str] = ("DECaLS", "BASS+MzLS"), paper: bool = True) -> str:
    """Table 4 as markdown, with the paper's published numbers below for reference.

    Parameters
    ----------
    table : DataFrame
        :attr:`DomainComparison.table` (older tables with ``decals_before``
        are read too).
    names : (str, str), default ("DECaLS", "BASS+MzLS")
        Source and target survey names for the headers.
    paper : bool, default True
        Append the paper's Table 4 (:data:`galvae.evaluate.paper.TABLE4`).

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

    table = upgrade_table4(table)
    rows = [
        [
            r["feature"],
            r["n_classes"],
            r["total"],
            *(pct(r[c]) for c in COLUMNS + CONTROL_COLUMNS),
            pct(r["majority_rate"]),
        ]
        for _, r in table.iterrows()
    ]
    md = markdown_table(head, rows)
    if paper:
        md += "\nThe paper's Table 4 (Before DA DECaLS / Before DA BASS+MzLS / After DA BASS+MzLS):\n\n"
        published = ("source_before", "target_before", "target_after")
        md += markdown_table(
            ["Feature", "Classes", "Total count", "Before DA DECaLS", "Before DA BASS+MzLS", "After DA BASS+MzLS"],
            [[f, p["n_classes"], p["total"], *(f"{p[c]:.2f} %" for c in published)] for f, p in PAPER_TABLE4.items()],
        )
    return md


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class _Settings:
    """The validated options of :func:`compare_domains`."""

    cfg: Any
    features: tuple[str, ...]
    source_train: str
    test_size: float
    seed: int
    n_estimators: int
    n_jobs: int
    min_galaxies: int
    min_per_class: int
    max_mmd_points: int
    high_mse_fraction: float
    mse_threshold: float | None
    n_gallery: int
    batch_size: int
    device: str
    progress: bool

    def params(self) -> dict[str, Any]:
        """The ``params`` of ``domains.json``."""
        skip = ("cfg", "batch_size", "device", "progress", "n_jobs")  # none of them changes a number
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in skip}
        return {**out, "features": list(self.features)}


def _settings(
    features: Sequence[str] | None,
    label_config: Any,
    source_train: str,
    split: dict[str, Any],
    *,
    n_jobs: int,
    max_mmd_points: int,
    high_mse_fraction: float,
    mse_threshold: float | None,
    n_gallery: int,
    batch_size: int,
    device: str,
    progress: bool,
) -> _Settings:
    """Every option of :func:`compare_domains` checked, before anything is read."""
    if source_train not in SOURCE_TRAIN:
        raise GalvaeValueError("unknown source_train", source_train, SOURCE_TRAIN)
    high_mse_fraction = check_float(
        "high_mse_fraction", high_mse_fraction, minimum=0, maximum=1, inclusive=(False, True)
    )
    if mse_threshold is not None:
        mse_threshold = check_float("mse_threshold", mse_threshold, minimum=0)
    test_size, n_estimators, min_galaxies, min_per_class, seed = check_split_options(**split)
    cfg, features = resolve_features(features, label_config)
    return _Settings(
        cfg=cfg,
        features=features,
        source_train=source_train,
        test_size=test_size,
        seed=seed,
        n_estimators=n_estimators,
        n_jobs=check_n_jobs(n_jobs),
        min_galaxies=min_galaxies,
        min_per_class=min_per_class,
        max_mmd_points=check_int("max_mmd_points", max_mmd_points, minimum=2),
        high_mse_fraction=high_mse_fraction,
        mse_threshold=mse_threshold,
        n_gallery=check_int("n_gallery", n_gallery, minimum=0),
        batch_size=check_int("batch_size", batch_size, minimum=1),
        device=device,
        progress=progress,
    )


# --------------------------------------------------------------------------- main


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
    n_jobs: int = 1,
    min_galaxies: int = TABLE4_MIN_GALAXIES,
    min_per_class: int = 2,
    max_mmd_points: int = 2000,
    high_mse_fraction: float = 0.05,
    mse_threshold: float | None = None,
    n_gallery: int = 8,
    batch_size: int = 256,
    device: str = "cpu",
    heldout_ids: Sequence[str] | None = None,
    control: Any = None,
    repeats: int = 1,
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
    n_jobs : int, default 1
        Workers per random forest (scikit-learn's ``n_jobs``; -1 = all
        cores); the forests, hence Table 4, are the same for any value.
    min_galaxies : int, default 101
        A feature enters Table 4 with at least this many labelled overlap
        galaxies, after dropping rare classes (the paper's "larger than
        100", :data:`galvae.evaluate.paper.TABLE4_MIN_GALAXIES`).
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
    heldout_ids : sequence of str, optional
        Pairs the adaptation did not train on: the paired/random latent MSE
        is also reported on them alone (``heldout``), since a paired
        objective (``galvae adapt --pair-weight``) pulls its own training
        pairs together whatever it does to new galaxies.  Default: the
        test ids in ``split.json`` of ``after`` when it is an adaptation run
        directory (or its ``model.json``) with a test split
        (``galvae adapt --test-fraction``), else its validation ids, else none.
    control : path, GalaxyVAE or (latents, latents), optional
        A run fine-tuned like ``after`` without the alignment terms
        (``galvae adapt --lambda 0 --pair-weight 0``, same pairs, seed,
        epochs and learning rate).  Its held-out paired/random latent MSE
        is reported beside the adapted one's (``heldout["control"]``,
        ``heldout["gain_over_control"]``): the part of the gain that
        fine-tuning alone gives.  Needs held-out ids and ``after``.
    repeats : int, default 1
        Score Table 4 on this many splits of the overlap galaxies (seeds
        ``seed`` … ``seed + repeats − 1``; each draws another split and
        forests; the latents are encoded once): one split of 40–130 test
        galaxies moves an accuracy by several points.  The first split is
        ``table``; every split is in ``table4_repeats``, and ``out_dir`` gets
        ``table4_repeats.csv`` and ``table4_repeats.md`` (means per feature,
        and how often "after" beats "before", "after" beats the retrained
        control, and the encoder-only control beats "before").
    progress : bool, default True

    Returns
    -------
    DomainComparison

    Raises
    ------
    GalvaeValueError
        On bad parameters, unknown features, a stage that is neither a model
        nor a latent pair, a model stage without stores, stores that do not
        match a model (size, normalisation), fewer than two matched ids,
        latents missing a matched id, or a ``control`` without ``after``.
    GalvaeFileError
        If a run, store or catalogue cannot be read.
    """
    opts = _settings(
        features,
        label_config,
        source_train,
        dict(
            test_size=test_size,
            n_estimators=n_estimators,
            min_galaxies=min_galaxies,
            min_per_class=min_per_class,
            seed=seed,
        ),
        n_jobs=n_jobs,
        max_mmd_points=max_mmd_points,
        high_mse_fraction=high_mse_fraction,
        mse_threshold=mse_threshold,
        n_gallery=n_gallery,
        batch_size=batch_size,
        device=device,
        progress=progress,
    )
    repeats = check_int("repeats", repeats, minimum=1)
    if control is not None and after is None:
        raise GalvaeValueError(
            "control (a run fine-tuned without the alignment terms) is compared with an adapted run: give after too",
            None,
        )
    src_st, tgt_st = _open_store(source_store), _open_store(target_store)
    opened = [s for s, given in ((src_st, source_store), (tgt_st, target_store)) if s is not None and s is not given]
    try:
        stages = {"before": before} if after is None else {"before": before, "after": after}
        if control is not None:
            stages["control"] = control
        models, latents = _stage_inputs(stages, src_st, tgt_st, opts.device)
        matched, unmatched = _match_ids(latents, src_st if models else None, tgt_st if models else None)
        cat, labels = load_labels(catalog, opts.features, opts.cfg) if catalog is not None else (None, None)
        control_model = models.pop("control", None)
        latents.update(_encode_models(models, src_st, tgt_st, matched, labels, opts))
        if control_model is not None:  # only the pairs: the control enters no forest
            latents.update(_encode_models({"control": control_model}, src_st, tgt_st, matched, None, opts))
        control_latents = latents.pop("control", None)
        latents = {s: latents[s] for s in ("before", "after") if s in latents}
        surveys = {
            "source": src_st.survey if src_st is not None else "source",
            "target": tgt_st.survey if tgt_st is not None else "target",
        }
        pairs, mse, mmd, n_points = _latent_agreement(latents, matched, opts)
        heldout = _heldout_agreement(latents, matched, _heldout_ids(heldout_ids, after), opts.seed, control_latents)
        pairs, defect_cols = _with_defects(pairs, cat, surveys)
        defects = _defect_shares(pairs, defect_cols, list(latents), opts)
        t4 = _table4(labels, matched, latents, opts) if labels is not None else _Table4()
        if labels is None:
            log.info("no catalogue: no Table 4")
        repeated = (
            _repeat_table4(labels, matched, latents, opts, t4.table, repeats)
            if labels is not None and repeats > 1 and len(t4.table)
            else None
        )
        summary = {
            "n_matched": int(len(matched)),
            "unmatched": unmatched,
            "surveys": surveys,
            "stages": list(latents),
            "mse": mse,
            "mmd2": mmd,
            "mmd_points": n_points,
            "heldout": heldout,
            **_table4_summary(t4),
            **({"table4_repeats": _repeat_counts(repeated)} if repeated is not None else {}),
            "defects": defects,
            "params": opts.params(),
            "paths": _input_paths(before, after, src_st, tgt_st, catalog, control),
            "files": [],
        }
        out = None
        if out_dir is not None:
            table = t4.table if labels is not None else None
            out = _write_outputs(Path(out_dir), summary, pairs, table, src_st, tgt_st, opts, defect_cols, repeated)
    finally:
        for s in opened:
            s.close()
    return DomainComparison(
        pairs,
        t4.table,
        mmd,
        mse,
        defects,
        t4.skipped,
        t4.dropped,
        t4.splits,
        t4.metrics,
        int(len(matched)),
        unmatched,
        summary,
        out,
        heldout,
        repeated,
    )


def table4_repeat_summary(per_split: Any) -> Any:
    """Table 4 over repeated splits, per feature: the mean and spread of each column, and the comparisons' counts.

    Parameters
    ----------
    per_split : DataFrame
        :attr:`DomainComparison.table4_repeats` (``seed``, ``feature`` and
        Table 4's columns).

    Returns
    -------
    DataFrame
        One row per feature: ``splits``, ``n_test`` (of the first split), for
        each accuracy column present ``<column>_mean`` and ``<column>_sd``
        (over the splits), ``majority_rate`` (mean), and for each of
        :data:`REPEAT_COMPARISONS` whose columns are present the number of
        splits where it holds strictly (a tie is no improvement).
    """
    import pandas as pd

    cols = [c for c in (*COLUMNS, *CONTROL_COLUMNS) if c in per_split.columns and per_split[c].notna().any()]
    rows = []
    for feature, g in per_split.groupby("feature", sort=False):
        row: dict[str, Any] = {"feature": feature, "splits": len(g), "n_test": int(g["n_test"].iloc[0])}
        for c in cols:
            v = g[c].astype(float)
            row[f"{c}_mean"], row[f"{c}_sd"] = float(v.mean()), float(v.std()) if len(v) > 1 else math.nan
        row["majority_rate"] = float(g["majority_rate"].astype(float).mean())
        for name, (a, b) in REPEAT_COMPARISONS.items():
            if _compared(g, a, b):
                row[name] = int((g[a].astype(float) > g[b].astype(float)).sum())
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- steps


def _repeat_table4(
    labels: Any, matched: np.ndarray, latents: dict[str, dict[str, _Latents]], opts: _Settings, first: Any, repeats: int
) -> Any:
    """Table 4 on ``repeats`` splits (seeds ``opts.seed`` …), the first being ``first``; one row per (seed, feature)."""
    import pandas as pd

    tables = [first.assign(seed=opts.seed)]
    for k in range(1, repeats):
        seed = opts.seed + k
        log.info("Table 4: split %d of %d (seed %d)", k + 1, repeats, seed)
        tables.append(
            _table4(labels, matched, latents, replace(opts, seed=seed, progress=False)).table.assign(seed=seed)
        )
    per = pd.concat(tables, ignore_index=True)
    return per[["seed", *[c for c in per.columns if c != "seed"]]]


def _compared(table: Any, a: str, b: str) -> bool:
    """Whether both columns are in ``table`` with values (the "after" columns are empty without an "after" stage)."""
    return a in table.columns and b in table.columns and bool(table[a].notna().any() and table[b].notna().any())


def _repeat_counts(per_split: Any) -> dict[str, Any]:
    """``domains.json``'s ``table4_repeats``: the seeds and, per comparison, how many feature-splits it holds on."""
    out: dict[str, Any] = {
        "seeds": sorted(int(s) for s in per_split["seed"].unique()),
        "feature_splits": len(per_split),
    }
    for name, (a, b) in REPEAT_COMPARISONS.items():
        if _compared(per_split, a, b):
            d = per_split[a].astype(float) - per_split[b].astype(float)
            out[name] = {"holds": int((d > 0).sum()), "ties": int((d == 0).sum()), "mean_difference": float(d.mean())}
    return out


def _stage_inputs(
    stages: dict[str, Any], src_st: Any, tgt_st: Any, device: str
) -> tuple[dict[str, Any], dict[str, dict[str, _Latents]]]:
    """Stage → loaded model (to be encoded), and stage → latents of the stages given as latent pairs."""
    from ..latents.export import check_store_matches

    models: dict[str, Any] = {}
    latents: dict[str, dict[str, _Latents]] = {}
    for stage, x in stages.items():
        if _is_latent_pair(x):
            latents[stage] = {
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
    return models, latents


def _match_ids(latents: dict[str, dict[str, _Latents]], src_st: Any, tgt_st: Any) -> tuple[np.ndarray, dict[str, int]]:
    """Ids in every source and target input (stores of model stages, latent tables), in source order;
    and how many of the source's and target's ids have no match."""
    src_sets = [latents[s]["source"].ids for s in latents] + ([src_st.ids] if src_st is not None else [])
    tgt_sets = [latents[s]["target"].ids for s in latents] + ([tgt_st.ids] if tgt_st is not None else [])
    src_primary = src_st.ids if src_st is not None else src_sets[0]
    tgt_primary = tgt_st.ids if tgt_st is not None else tgt_sets[0]
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
    log.info("%d matched ids; %d source-only, %d target-only", len(matched), unmatched["source"], unmatched["target"])
    return matched, unmatched


def _encode_models(
    models: dict[str, Any], src_st: Any, tgt_st: Any, matched: np.ndarray, labels: Any, opts: _Settings
) -> dict[str, dict[str, _Latents]]:
    """Latents of the model stages, encoded only at the ids needed (the labelled source galaxies too
    for the source forests with ``source_train="all"``)."""
    out = {}
    for stage, vae in models.items():
        src_ids = matched
        if opts.source_train == "all" and labels is not None:
            lab_ids = labels.loc[labels[list(opts.features)].notna().any(axis=1), "id"].to_numpy(dtype=str)
            extra = np.setdiff1d(np.intersect1d(src_st.ids, lab_ids), matched)
            src_ids = np.concatenate([matched, extra])
        kw = dict(batch_size=opts.batch_size, progress=opts.progress)
        out[stage] = {
            "source": _encode(vae, src_st, src_ids, desc=f"encode {stage} {src_st.survey}", **kw),
            "target": _encode(vae, tgt_st, matched, desc=f"encode {stage} {tgt_st.survey}", **kw),
        }
    return out


def _latent_agreement(
    latents: dict[str, dict[str, _Latents]], matched: np.ndarray, opts: _Settings
) -> tuple[Any, dict[str, dict[str, float]], dict[str, float], int]:
    """Per-pair MSE (``pairs``), its statistics and MMD² per stage, on one seeded subsample with one kernel.

    Returns
    -------
    (pairs, mse statistics, MMD², MMD points)
    """
    import pandas as pd
    import torch

    from ..losses.mmd import DEFAULT_SCALES, median_bandwidth, mmd2

    pairs = pd.DataFrame({"id": matched})
    mse_stats: dict[str, dict[str, float]] = {}
    mmd: dict[str, float] = {}
    rng = np.random.default_rng(opts.seed)
    n = len(matched)
    sub = np.sort(rng.choice(n, opts.max_mmd_points, replace=False)) if n > opts.max_mmd_points else np.arange(n)
    perm = rng.permutation(n)  # random pairs: the scale a paired MSE is judged against
    bandwidths: list[float] | None = None
    for stage, both in latents.items():
        s_mu, t_mu = both["source"].at(matched), both["target"].at(matched)
        if s_mu.shape[1] != t_mu.shape[1]:
            raise GalvaeValueError(
                f"the {stage} source and target latents differ in dimension", (s_mu.shape[1], t_mu.shape[1])
            )
        mse = np.mean((s_mu - t_mu) ** 2, axis=1)
        pairs[f"mse_{stage}"] = mse
        mse_stats[stage] = _mse_statistics(mse, np.mean((s_mu - t_mu[perm]) ** 2, axis=1))
        if bandwidths is None:  # one kernel for every stage, fixed on the first ("before") sample
            sigma0 = float(median_bandwidth(torch.as_tensor(s_mu[sub]), torch.as_tensor(t_mu[sub])))
            bandwidths = [sigma0 * float(np.sqrt(sc)) for sc in DEFAULT_SCALES]
        mmd[stage] = mmd2(s_mu[sub], t_mu[sub], bandwidths=bandwidths)
    return pairs, mse_stats, mmd, int(len(sub))


def _heldout_ids(given: Sequence[str] | None, after: Any) -> tuple[np.ndarray | None, str | None]:
    """The held-out pair ids and where they came from: ``given``, or the adaptation run's ``split.json``."""
    if given is not None:
        return np.asarray(list(given), dtype=str), "heldout_ids"
    if not isinstance(after, str | os.PathLike):
        return None, None
    run = Path(after)
    split = (run if run.is_dir() else run.parent) / "split.json"
    if not split.is_file():
        return None, None
    try:
        saved = json.loads(split.read_text())
    except (OSError, ValueError) as exc:
        raise GalvaeFileError(split, f"unreadable adaptation split ({exc})") from None
    # test ids played no part in the adaptation; validation ids may have chosen its epoch (AdaptConfig.monitor)
    for key in ("test_ids", "val_ids"):
        ids = saved.get(key) if isinstance(saved, dict) else None
        if ids:
            return np.asarray(ids, dtype=str), f"{split} ({key})"
    return None, None


def heldout_pairs_phrase(heldout: Mapping[str, Any]) -> str:
    """How to name the held-out pairs of :attr:`DomainComparison.heldout` in a sentence.

    Test pairs (``split.json["test_ids"]``) neither trained nor chose the
    epoch; validation pairs were not trained on but may have chosen it.
    """
    if str(heldout.get("source", "")).endswith("(test_ids)"):
        return "test pairs the adaptation neither trained on nor chose its epoch with"
    return "pairs the adaptation did not train on"


def _heldout_agreement(
    latents: dict[str, dict[str, _Latents]],
    matched: np.ndarray,
    held: tuple[np.ndarray | None, str | None],
    seed: int,
    control: dict[str, _Latents] | None = None,
) -> dict[str, Any]:
    """Paired/random latent MSE of every stage (and of the fine-tuning control) on the held-out pairs alone
    (random pairs among them)."""
    ids, source = held
    if ids is None:
        if control is not None:
            log.warning("no held-out pair ids: the control run is not compared")
        return {}
    if control is not None:
        latents = {**latents, "control": control}
    rows = np.flatnonzero(np.isin(matched, ids))
    if len(rows) < 2:
        log.warning("fewer than two of the %d held-out ids are matched pairs: no held-out measurement", len(ids))
        return {}
    # random pairs: every ordered pair of two different held-out galaxies (a single permutation of ~100 ids
    # moved the ratio by 6 %), or a seeded sample of 200 000 of them
    n = len(rows)
    if n * (n - 1) <= 200_000:
        a, b = np.nonzero(~np.eye(n, dtype=bool))
    else:
        rng = np.random.default_rng(seed)
        a, b = rng.integers(0, n, 200_000), rng.integers(0, n - 1, 200_000)
        b = b + (b >= a)
    out: dict[str, Any] = {"n": int(n), "source": source}
    for stage, both in latents.items():
        s_mu, t_mu = both["source"].at(matched[rows]), both["target"].at(matched[rows])
        random_mse = np.concatenate(
            [
                np.mean((s_mu[a[k : k + 20_000]] - t_mu[b[k : k + 20_000]]) ** 2, axis=1)
                for k in range(0, len(a), 20_000)
            ]
        )
        out[stage] = _mse_statistics(np.mean((s_mu - t_mu) ** 2, axis=1), random_mse)
    if "before" in out and "after" in out and out["after"]["paired_over_random"] > 0:
        out["gain"] = out["before"]["paired_over_random"] / out["after"]["paired_over_random"]
    if "gain" in out and "control" in out and out["control"]["paired_over_random"] > 0:
        out["gain_control"] = out["before"]["paired_over_random"] / out["control"]["paired_over_random"]
        out["gain_over_control"] = out["control"]["paired_over_random"] / out["after"]["paired_over_random"]
    return out


def _mse_statistics(mse: np.ndarray, random_mse: np.ndarray) -> dict[str, float]:
    """Median, mean, min, max of the paired MSE; the median of random pairs' and the (scale-free) ratio."""
    rand = float(np.median(random_mse))
    return {
        "median": float(np.median(mse)),
        "mean": float(np.mean(mse)),
        "min": float(np.min(mse)),
        "max": float(np.max(mse)),
        "random_median": rand,
        "paired_over_random": float(np.median(mse) / rand) if rand > 0 else float("nan"),
    }


def _with_defects(pairs: Any, cat: Any, surveys: dict[str, str]) -> tuple[Any, list[str]]:
    """``pairs`` with the catalogue's defect columns, and those to count (the two surveys' when present)."""
    if cat is None:
        return pairs, []
    all_defect = [c for c in cat.columns if str(c) == "defect" or str(c).startswith("defect_")]
    if not all_defect:
        return pairs, []
    pairs = pairs.merge(cat[["id", *all_defect]], on="id", how="left")
    n_missing = int(pairs[all_defect[0]].isna().sum())
    if n_missing:
        log.warning("%d matched id(s) not in the catalogue: counted as without defect", n_missing)
    per_survey = [c for c in (f"defect_{surveys['source']}", f"defect_{surveys['target']}") if c in all_defect]
    return pairs, per_survey or [c for c in all_defect if c != "defect"] or ["defect"]


def _defect_shares(pairs: Any, defect_cols: list[str], stages: list[str], opts: _Settings) -> dict[str, Any]:
    """Stage → :func:`high_mse_defects` of its MSE; empty without defect columns."""
    if not defect_cols:
        return {}
    return {
        stage: high_mse_defects(
            pairs,
            column=f"mse_{stage}",
            fraction=opts.high_mse_fraction,
            threshold=opts.mse_threshold,
            defect_columns=defect_cols,
        )
        for stage in stages
    }


def _records(table: Any) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
        for r in table.to_dict(orient="records")
    ]


def _table4_summary(t4: _Table4) -> dict[str, Any]:
    """The Table 4 entries of ``domains.json``."""
    return {
        "table4": _records(t4.table),
        "table4_skipped": t4.skipped,
        "table4_dropped_classes": t4.dropped,
        "table4_metrics": {f"{f}/{c}": m for (f, c), m in t4.metrics.items()},
        "paper_table4": PAPER_TABLE4,
    }


def _input_paths(
    before: Any, after: Any, src_st: Any, tgt_st: Any, catalog: Any, control: Any = None
) -> dict[str, Any]:
    """Where the inputs came from, for ``domains.json``."""

    def where(x: Any) -> Any:
        if _is_latent_pair(x):
            return [str(v) if isinstance(v, str | os.PathLike) else "DataFrame" for v in x]
        if isinstance(x, str | os.PathLike):
            return str(x)
        return getattr(x, "path", None)

    return {
        "before": where(before),
        "after": where(after) if after is not None else None,
        "control": where(control) if control is not None else None,
        "source_store": str(src_st.path) if src_st is not None else None,
        "target_store": str(tgt_st.path) if tgt_st is not None else None,
        "catalog": str(catalog)
        if isinstance(catalog, str | os.PathLike)
        else (None if catalog is None else "DataFrame"),
    }


# --------------------------------------------------------------------------- outputs


def _write_outputs(
    out: Path,
    summary: dict[str, Any],
    pairs: Any,
    table: Any | None,
    src_st: Any,
    tgt_st: Any,
    opts: _Settings,
    defect_cols: list[str],
    repeated: Any = None,
) -> Path:
    """Write the products of :func:`compare_domains` (Table 4 only when ``table`` is given)."""
    from ..data.tables import write_table
    from ..plots import save_figure
    from ..plots.domains import plot_mse_histogram

    out.mkdir(parents=True, exist_ok=True)
    files = summary["files"]
    names = tuple(_DISPLAY.get(n, n) for n in (summary["surveys"]["source"], summary["surveys"]["target"]))
    write_table(pairs, out / "pairs.csv", overwrite=True)
    fig = plot_mse_histogram(
        {s: pairs[f"mse_{s}"].to_numpy() for s in summary["stages"]},
        threshold=opts.mse_threshold,
        title="{} galaxies in {} and {}".format(len(pairs), *names),
    )
    save_figure(fig, out / "mse_hist.png")
    files += ["pairs.csv", "mse_hist.png"]
    if opts.n_gallery and src_st is not None and tgt_st is not None:
        files += _write_galleries(out, pairs, summary["stages"], src_st, tgt_st, opts.n_gallery, defect_cols, names)
    if table is not None:
        write_table(table, out / "table4.csv", overwrite=True)
        md = table4_markdown(table, names=names)
        md += "\nAccuracy of random forests on the latent means; 'After DA' columns are empty without --after.\n"
        write_text(out / "table4.md", md + skipped_notes(summary["table4_skipped"], summary["table4_dropped_classes"]))
        files += ["table4.csv", "table4.md"]
    if repeated is not None:
        write_table(repeated, out / "table4_repeats.csv", overwrite=True)
        write_text(out / "table4_repeats.md", _repeats_markdown(repeated, summary["table4_repeats"], names))
        files += ["table4_repeats.csv", "table4_repeats.md"]
    summary["out_dir"] = str(out)
    write_json(out / "domains.json", summary)
    return out


def _repeats_markdown(per_split: Any, counts: dict[str, Any], names: tuple[str, str]) -> str:
    """``table4_repeats.md``: the per-feature means over the splits, then the comparisons' counts."""
    summ = table4_repeat_summary(per_split)
    src, tgt = names
    labels = {
        "source_before": f"{src} before",
        "target_before": f"{tgt} before ({src} forest)",
        "target_after": f"{tgt} after (retrained)",
        "source_after": f"{src} after",
        "target_before_retrained": f"control: {tgt} before, retrained",
        "target_after_source_forest": f"control: {tgt} after, {src} forest",
    }
    cols = [c for c in labels if f"{c}_mean" in summ.columns]
    header = ["feature", "test galaxies", *(labels[c] for c in cols), "majority"]
    rows = [
        [
            str(r["feature"]),
            str(int(r["n_test"])),
            *(f"{r[f'{c}_mean']:.3f} ± {r[f'{c}_sd']:.3f}" for c in cols),
            f"{r['majority_rate']:.3f}",
        ]
        for _, r in summ.iterrows()
    ]
    what = {
        "after_above_before": f"after > before (the paper's reading: {tgt} after DA against the {src} forest before)",
        "after_above_retrained": "after > the control retrained on the unadapted latents (what adaptation adds to retraining)",
        "aligned_above_before": f"the {src} galaxies' forest on the adapted latents > before (the encoder alone)",
    }
    lines = [
        f"| {what[k]} | {v['holds']} of {counts['feature_splits']} ({v['ties']} ties) | {100 * v['mean_difference']:+.1f} |"
        for k, v in counts.items()
        if k in what
    ]
    seeds = counts["seeds"]
    return (
        f"Table 4 over {len(seeds)} splits of the overlap galaxies (seeds {seeds[0]}–{seeds[-1]}; each another "
        "split and forests), mean ± sd of the test accuracy:\n\n"
        + markdown_table(header, rows)
        + "\n| comparison over the feature-splits | holds on | mean difference (points) |\n|---|---|---|\n"
        + "\n".join(lines)
        + "\n"
    )


def _write_galleries(
    out: Path,
    pairs: Any,
    stages: list[str],
    src_st: Any,
    tgt_st: Any,
    n_gallery: int,
    defect_cols: list[str],
    names: tuple[str, ...],
) -> list[str]:
    """``pairs_{lowest,highest}_<stage>.png`` (Fig. 5): the pairs of lowest and highest MSE; the names written."""
    from ..plots import save_figure
    from ..plots.domains import plot_pair_gallery

    files = []
    for stage in stages:
        col = f"mse_{stage}"
        order = np.argsort(pairs[col].to_numpy(), kind="stable")
        for which, sel in (("lowest", order[:n_gallery]), ("highest", order[::-1][:n_gallery])):
            rows = pairs.iloc[sel]
            ids = rows["id"].tolist()
            labels = []
            for _, r in rows.iterrows():
                kinds = _defect_names([r[c] for c in defect_cols])
                kinds = sorted(set(kinds[~np.isin(kinds, _NO_DEFECT)].tolist()))
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
    return files
