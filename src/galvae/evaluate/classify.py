"""Random forests on VAE latents, per Table 2 feature (the paper's Table 3),
with a PCA baseline and a supervised CNN baseline on the same split.

For each of the nine morphology features of Table 2 the galaxies with a
label (:func:`galvae.labels_from_catalog`) and a latent vector are split
70/30, stratified by class, with a fixed seed (the protocol shared with
Table 4: :mod:`galvae.evaluate.protocol`).  Three classifiers are scored on
the *same* test galaxies:

* ``vae``: a random forest on the latent means μ;
* ``pca``: PCA with as many components as the latent dimension, fitted on
  the images the VAE was trained on (flattened 3 × S × S pixels; no labels
  used, so both unsupervised methods have seen the same images), + the same
  forest;
* ``cnn``: the VAE encoder architecture + a linear classification head,
  trained with cross-entropy directly on the training images to convergence
  (:mod:`galvae.evaluate.cnn_baseline`): the supervised upper bound (the
  paper's "direct neural network" comparison).

Every method uses the same class weighting (``class_weight``).

Metrics (Table 3's columns, :func:`~galvae.evaluate.protocol.classification_metrics`):
accuracy; precision, recall and F1 with **micro** averaging for features
with more than two classes in Table 2 (so they equal the accuracy, as in the
paper's multi-class rows; kept when a rare class is dropped) and **binary**
averaging with the first class of Table 2 as positive for two-class
features (``edge_on``: "edge-on", ``has_arms``: "yes", ``merger``:
"merger").  The macro-averaged F1 is reported too (``f1_macro``), since
micro scores hide poor performance on rare classes.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_json, write_text
from .._validate import check_choice
from ..errors import GalvaeValueError
from .cnn_baseline import CNN_PRECISIONS, CNNOptions, train_cnn
from .inputs import latent_matrix, load_latents
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
    "BASELINES",
    "METHODS",
    "TABLE3_COLUMNS",
    "ClassifyResult",
    "accuracy_interval",
    "classify",
    "mcnemar",
    "repeat_splits",
    "table3_markdown",
]

log = logging.getLogger(__name__)

#: Baselines beside the latent forest.
BASELINES = ("pca", "cnn")
#: Methods of Table 3, in column order.
METHODS = ("vae", "pca", "cnn")
#: Columns of :attr:`ClassifyResult.table` (``table3.csv``).
TABLE3_COLUMNS = (
    "feature",
    "method",
    "n_classes",
    "classes",
    "n_train",
    "n_test",
    "accuracy",
    "accuracy_lo",
    "accuracy_hi",
    "precision",
    "recall",
    "f1",
    "f1_macro",
    "averaging",
    "majority_rate",
    "epochs_trained",
    "best_epoch",
    "vae_only_right",
    "method_only_right",
    "mcnemar_p",
)
#: At most this many images fit the PCA baseline (a seeded subsample beyond it).
_MAX_PCA_FIT = 20000
_AVERAGING_NOTE = (
    "Precision, recall and F1: micro-averaged for features with more than two classes, binary (positive class "
    "= first class of Table 2) for two classes; F1 macro = unweighted mean over classes."
)


@dataclass(frozen=True)
class ClassifyResult:
    """What :func:`classify` produced.

    Attributes
    ----------
    table : DataFrame
        One row per (feature, method), columns :data:`TABLE3_COLUMNS`:
        ``feature``, ``method``, ``n_classes``, ``classes``, ``n_train``,
        ``n_test``, ``accuracy`` with its 95 % Wilson interval
        ``accuracy_lo`` and ``accuracy_hi`` (:func:`accuracy_interval`),
        ``precision``, ``recall``, ``f1``,
        ``f1_macro``, ``averaging``, ``majority_rate`` (test accuracy of
        always predicting the most common training class), and for the CNN
        ``epochs_trained`` and ``best_epoch`` (the epoch whose weights were
        kept); for each baseline, its paired comparison with the latent
        forest on the same test galaxies (:func:`mcnemar`):
        ``vae_only_right``, ``method_only_right`` and ``mcnemar_p``.
    skipped : dict
        Feature → reason it was not classified.
    dropped_classes : dict
        Feature → classes left out for having fewer than ``min_per_class``
        members.
    splits : dict
        Feature → {"train": ids, "test": ids}.
    confusion : dict
        (feature, method) → (K, K) count matrix (rows true, columns predicted).
    out_dir : Path or None
    predictions : DataFrame or None
        Every test galaxy's prediction: ``feature``, ``id``, ``truth`` and
        one column per method (``predictions.csv``).
    """

    table: Any
    skipped: dict[str, str]
    dropped_classes: dict[str, list[str]]
    splits: dict[str, dict[str, list[str]]]
    confusion: dict[tuple[str, str], np.ndarray] = field(repr=False)
    out_dir: Path | None = None
    predictions: Any = field(default=None, repr=False)


#: The labelled galaxies' images are read once and kept in memory when they take at most this many bytes
#: (a 64 px store of 40,000 galaxies); otherwise each feature reads its own rows.  Reading 2000 rows of a
#: 64 px store from h5py takes ~0.8 s, and Table 3 reads them once per feature.
_MAX_CACHED_BYTES = 2**30


@dataclass
class _Images:
    """The image inputs of the baselines: the store, its rows of the labelled galaxies, the PCA features."""

    store: Any
    rows: np.ndarray
    pca: np.ndarray | None
    n_fit: int
    owned: bool
    cache: np.ndarray | None = None

    def read(self, positions: np.ndarray) -> np.ndarray:
        """Images of the labelled galaxies at ``positions`` (indices into ``rows``)."""
        if self.cache is not None:
            return self.cache[positions]
        return self.store.read(self.rows[positions])

    def close(self) -> None:
        if self.owned:
            self.store.close()


def classify(
    latents: Any,
    catalog: Any,
    *,
    store: Any = None,
    out_dir: str | os.PathLike[str] | None = None,
    features: Sequence[str] | None = None,
    label_config: Any = None,
    test_size: float = 0.3,
    seed: int = 0,
    n_estimators: int = 200,
    min_galaxies: int = 20,
    min_per_class: int = 2,
    baselines: Sequence[str] = BASELINES,
    fit_ids: Sequence[str] | None = None,
    class_weight: str | None = None,
    n_jobs: int = 1,
    cnn_epochs: int = CNNOptions.epochs,
    cnn_patience: int = CNNOptions.patience,
    cnn_batch_size: int = CNNOptions.batch_size,
    cnn_lr: float = CNNOptions.lr,
    cnn_channels: tuple[int, ...] = CNNOptions.channels,
    cnn_augment: bool = True,
    cnn_precision: str = "32",
    device: str = "cpu",
    progress: bool = True,
) -> ClassifyResult:
    """Random forests on latents per Table 2 feature, with baselines (Table 3).

    Parameters
    ----------
    latents : path or DataFrame
        Latent catalogue (``id``, ``mu_0`` …) from :func:`galvae.encode_store`.
    catalog : path or DataFrame
        Galaxy Zoo DECaLS catalogue (``id`` + fraction or vote columns);
        labelled with :func:`galvae.labels_from_catalog`.  A DataFrame that
        already holds the Table 2 label columns (as written by
        ``galvae labels``) is used as is.
    store : ImageStore or path, optional
        Needed by the baselines (their inputs are the images).  Without it
        only the latent forest runs.
    out_dir : path, optional
        Writes ``table3.csv``, ``table3.md``, ``classify.json``,
        ``splits.json``, ``predictions.csv`` and ``confusion_<feature>.png``.
    features : sequence of str, optional
        Default: all nine Table 2 features.
    label_config : LabelConfig, optional
        Thresholds for :func:`galvae.labels_from_catalog`.
    test_size : float, default 0.3
        Test fraction (the paper's 70/30 split).
    seed : int, default 0
        Seeds the split, the forests, the PCA and the CNN.
    n_estimators : int, default 200
        Trees per forest.
    min_galaxies : int, default 20
        A feature is classified when it has at least this many labelled
        galaxies (after dropping rare classes); otherwise it is skipped and
        reported.
    min_per_class : int, default 2
        Classes with fewer members are dropped (and reported); stratification
        needs at least 2.  A feature left with fewer than 2 classes is skipped.
    baselines : sequence of {"pca", "cnn"}, default ("pca", "cnn")
    fit_ids : sequence of str, optional
        Galaxies whose images the unsupervised methods are fitted on, so
        that PCA sees the same images the VAE was trained on (one protocol
        for both).  Default: the training ids of the run whose model wrote
        the latent catalogue (its ``split.json``), when found; otherwise
        every labelled galaxy's image (as the VAE of an unknown run may have
        seen them all).  Labels are never used by these fits; the forests
        and the CNN are trained on each feature's 70 % and scored on the same
        30 % test ids.
    class_weight : {None, "balanced"}, default None
        Class weighting of every classifier alike: the forests'
        ``class_weight`` and the CNN's cross-entropy weights.  None is the
        paper's plain random forest.
    n_jobs : int, default 1
        Processes per random forest (scikit-learn's ``n_jobs``; -1 = all cores).
    cnn_epochs : int, default 60
        Most epochs of the CNN baseline; it stops earlier when the loss on a
        held-out 15 % of its training galaxies has not improved for
        ``cnn_patience`` epochs, and keeps the best epoch's weights (Adam,
        cross-entropy): trained to convergence, the supervised upper bound.
    cnn_patience : int, default 20
        On the default demo (three splits, standardised inputs) patience 4
        and 30 epochs left the CNN at bar 0.585, bulge size 0.496, has arms
        0.920, how rounded 0.854; patience 8 and 60 epochs give 0.653, 0.541,
        0.924, 0.924, at or above the latent forest's 0.653, 0.506, 0.900,
        0.887 (held-out losses plateau for several epochs before they fall).
        Patience 8 still stopped one bar split in five near the majority
        rate; patience 20 lifts bar over five splits from 0.662 ± 0.049 to
        0.731 ± 0.034 (:class:`~galvae.evaluate.cnn_baseline.CNNOptions`).
    cnn_batch_size, cnn_lr : int, float
    cnn_channels : tuple of int, default (32, 64, 128)
        Encoder blocks of the CNN baseline (the VAE's).
    cnn_augment : bool, default True
        Train the CNN under random quarter turns and flips
        (:class:`~galvae.evaluate.cnn_baseline.CNNOptions`).  On the default
        demo's galaxies (seeds 0-2) it lifts the CNN on how rounded (540
        training images) from 0.74-0.79 to 0.87-0.89; edge-on reaches
        0.92-0.93 and bulge size 0.52-0.56.  Without it the baseline
        stopped early, under-trained, below PCA-40's 0.91.
    cnn_precision : {"32", "bf16-mixed"}, default "32"
        Arithmetic of the CNN baseline (``galvae demo`` passes its training
        precision).
    device : str, default "cpu"
        Torch device of the CNN baseline.
    progress : bool, default True

    Returns
    -------
    ClassifyResult

    Raises
    ------
    GalvaeValueError
        On unknown features or baselines, a bad ``test_size``, no overlap
        between latent and catalogue ids, or baselines without a store.
    GalvaeKeyError
        If an id of the latent catalogue is missing from the store.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    baselines = _check_options(baselines, store, class_weight, n_jobs)
    check_choice("cnn_precision", cnn_precision, CNN_PRECISIONS)
    test_size, n_estimators, min_galaxies, min_per_class, seed = check_split_options(
        test_size=test_size,
        n_estimators=n_estimators,
        min_galaxies=min_galaxies,
        min_per_class=min_per_class,
        seed=seed,
    )
    cfg, features = resolve_features(features, label_config)
    merged, meta = _labelled_latents(latents, catalog, features, cfg)
    z = latent_matrix(merged)
    cnn = CNNOptions(
        channels=tuple(cnn_channels),
        epochs=cnn_epochs,
        patience=cnn_patience,
        batch_size=cnn_batch_size,
        lr=cnn_lr,
        class_weight=class_weight,
        precision=cnn_precision,
        augment=bool(cnn_augment),
        seed=seed,
        device=device,
        progress=progress,
    )
    images = _open_images(store, merged, meta, fit_ids, baselines, z.shape[1], seed) if baselines else None
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    dropped: dict[str, list[str]] = {}
    splits: dict[str, dict[str, list[str]]] = {}
    confusion: dict[tuple[str, str], np.ndarray] = {}
    predictions: list[Any] = []
    try:
        for feature in tqdm(features, desc="classify", unit="feature", disable=not progress):
            fs = split_feature(
                feature,
                merged[feature].to_numpy(),
                cfg.classes(feature),
                min_galaxies=min_galaxies,
                min_per_class=min_per_class,
                test_size=test_size,
                seed=seed,
            )
            if fs.dropped:
                dropped[feature] = list(fs.dropped)
            if fs.skipped:
                skipped[feature] = fs.skipped
                log.warning("skipping %s: %s", feature, fs.skipped)
                continue
            ids = merged["id"].to_numpy()
            splits[feature] = {"train": ids[fs.train_rows].tolist(), "test": ids[fs.test_rows].tolist()}
            forest = random_forest(n_estimators, seed, n_jobs=n_jobs, class_weight=class_weight)
            preds = _predictions(fs, z, images, forest, cnn if "cnn" in baselines else None)
            _score(fs, preds, rows, confusion)
            predictions.append(
                pd.DataFrame(
                    {
                        "feature": feature,
                        "id": ids[fs.test_rows],
                        "truth": fs.y_test,
                        **{method: pred for method, (pred, _) in preds.items()},
                    }
                )
            )
    finally:
        if images is not None:
            images.close()
    table = pd.DataFrame(rows, columns=list(TABLE3_COLUMNS))
    per_galaxy = (
        pd.concat(predictions, ignore_index=True)
        if predictions
        else pd.DataFrame(columns=["feature", "id", "truth", "vae"])
    )
    out = None
    if out_dir is not None:
        params = {
            "test_size": test_size,
            "seed": seed,
            "n_estimators": n_estimators,
            "min_galaxies": min_galaxies,
            "min_per_class": min_per_class,
            "baselines": list(baselines),
            "cnn_epochs": cnn_epochs,
            "cnn_patience": cnn_patience,
            "class_weight": class_weight,
            "n_jobs": n_jobs,
            "pca_fit_images": images.n_fit if images is not None else 0,
            "cnn_batch_size": cnn_batch_size,
            "cnn_lr": cnn_lr,
            "cnn_channels": list(cnn_channels),
            "cnn_augment": bool(cnn_augment),
            "cnn_precision": cnn_precision,
            "latent_dim": z.shape[1],
        }
        out = _write_outputs(Path(out_dir), table, skipped, dropped, splits, confusion, meta, params)
        from ..data.tables import write_table

        write_table(per_galaxy, Path(out_dir) / "predictions.csv", overwrite=True)
    return ClassifyResult(table, skipped, dropped, splits, confusion, out, per_galaxy)


def _check_options(baselines: Sequence[str], store: Any, class_weight: Any, n_jobs: Any) -> tuple[str, ...]:
    """The baselines asked for, once every option of :func:`classify` beyond the split is valid."""
    baselines = tuple(baselines)
    bad = [b for b in baselines if b not in BASELINES]
    if bad:
        raise GalvaeValueError(f"unknown baseline {bad[0]!r}", bad[0], allowed=BASELINES)
    if class_weight not in (None, "balanced"):
        raise GalvaeValueError("class_weight", class_weight, (None, "balanced"))
    check_n_jobs(n_jobs)
    if baselines and store is None:
        raise GalvaeValueError(
            "the pca/cnn baselines need the image store (store=...); pass baselines=() to skip them",
            None,
        )
    return baselines


def _labelled_latents(latents: Any, catalog: Any, features: Sequence[str], cfg: Any) -> tuple[Any, dict[str, Any]]:
    """The latent catalogue joined with the Table 2 labels on ``id`` (inner join), and its metadata."""
    lat, meta = load_latents(latents)
    if "id" not in lat.columns:
        raise GalvaeValueError("latent catalogue has no 'id' column", list(lat.columns)[:8])
    _, labels = load_labels(catalog, features, cfg)
    lat = lat.assign(id=lat["id"].astype(str))
    merged = lat.merge(labels[["id", *features]], on="id", how="inner")
    if merged.empty:
        raise GalvaeValueError(
            "no id is both in the latent catalogue and in the catalogue",
            lat["id"].iloc[:3].tolist(),
        )
    return merged, meta


def _run_train_ids(meta: dict[str, Any]) -> list[str] | None:
    """Training ids of the run that wrote a latent catalogue (its ``split.json``), or None."""
    model = meta.get("model") if isinstance(meta, dict) else None
    if not model:
        return None
    split = Path(str(model)).parent / "split.json"
    try:
        ids = json.loads(split.read_text()).get("train_ids")
    except (OSError, ValueError):
        return None
    return [str(i) for i in ids] if ids else None


def _open_images(
    store: Any,
    merged: Any,
    meta: dict[str, Any],
    fit_ids: Sequence[str] | None,
    baselines: Sequence[str],
    nl: int,
    seed: int,
) -> _Images:
    """The store at the labelled galaxies, and (with the PCA baseline) their PCA features."""
    from ..data.store import ImageStore

    st = store if isinstance(store, ImageStore) else ImageStore(store)
    rows = st.index_of(merged["id"])
    source = "the VAE run's training galaxies"
    if fit_ids is None:
        fit_ids = _run_train_ids(meta)
    if fit_ids is None:
        fit_ids, source = merged["id"].tolist(), "every labelled galaxy"
    known = set(st.ids.astype(str).tolist())
    fit_rows = np.sort(st.index_of([str(i) for i in fit_ids if str(i) in known]))
    if len(fit_rows) < 2:
        raise GalvaeValueError(f"fewer than two of the fit_ids are in the store {st.path}", len(fit_rows))
    if len(fit_rows) > _MAX_PCA_FIT:
        fit_rows = np.sort(np.random.default_rng(seed).choice(fit_rows, _MAX_PCA_FIT, replace=False))
    keep = "cnn" in baselines and len(rows) * 3 * st.size**2 * 4 <= _MAX_CACHED_BYTES
    cache = st.read(rows) if keep else None
    pca = None
    if "pca" in baselines:
        labelled = cache if cache is not None else st.read(rows)
        pca = _pca_features(st, fit_rows, labelled, nl, seed)
        log.info("PCA baseline fitted on %d images (%s)", len(fit_rows), source)
    return _Images(st, rows, pca, len(fit_rows), owned=st is not store, cache=cache)


def _pca_features(st: Any, fit_rows: np.ndarray, labelled: np.ndarray, nl: int, seed: int) -> np.ndarray:
    """PCA (``nl`` components) fitted on the flattened images at ``fit_rows``, applied to the ``labelled`` images."""
    from sklearn.decomposition import PCA

    fit = st.read(fit_rows).reshape(len(fit_rows), -1)
    pca = PCA(n_components=min(nl, len(fit_rows), fit.shape[1]), random_state=seed).fit(fit)
    del fit
    return pca.transform(labelled.reshape(len(labelled), -1))


def _predictions(
    fs: FeatureSplit, z: np.ndarray, images: _Images | None, forest: Any, cnn: CNNOptions | None
) -> dict[str, tuple[np.ndarray, Any]]:
    """Method → (test predictions, CNN result or None), on one feature's split."""
    from sklearn.base import clone

    tr, te = fs.train_rows, fs.test_rows
    preds: dict[str, tuple[np.ndarray, Any]] = {}
    preds["vae"] = (clone(forest).fit(z[tr], fs.y_train).predict(z[te]), None)
    if images is not None and images.pca is not None:
        preds["pca"] = (clone(forest).fit(images.pca[tr], fs.y_train).predict(images.pca[te]), None)
    if images is not None and cnn is not None:
        code = {c: i for i, c in enumerate(fs.classes)}
        imgs = images.read(fs.rows)
        res = train_cnn(
            imgs[fs.train],
            np.array([code[v] for v in fs.y_train]),
            imgs[fs.test],
            len(fs.classes),
            cnn,
            desc=f"cnn {fs.feature}",
        )
        preds["cnn"] = (np.asarray(fs.classes, dtype=object)[res.predictions].astype(str), res)
    return preds


def _score(
    fs: FeatureSplit,
    preds: dict[str, tuple[np.ndarray, Any]],
    rows: list[dict[str, Any]],
    confusion: dict[tuple[str, str], np.ndarray],
) -> None:
    """Append one feature's Table 3 rows and confusion matrices."""
    from sklearn.metrics import confusion_matrix

    classes, majority = list(fs.classes), fs.majority_rate
    vae_right = np.asarray(preds["vae"][0]) == np.asarray(fs.y_test)
    for method, (pred, cnn) in preds.items():
        right = np.asarray(pred) == np.asarray(fs.y_test)
        paired = mcnemar(vae_right, right) if method != "vae" else None
        lo, hi = accuracy_interval(int(right.sum()), len(right))
        rows.append(
            {
                "feature": fs.feature,
                "method": method,
                "n_classes": len(classes),
                "classes": ",".join(classes),
                "n_train": len(fs.train),
                "n_test": len(fs.test),
                **classification_metrics(fs.y_test, pred, classes, fs.averaging),
                "accuracy_lo": lo,
                "accuracy_hi": hi,
                "majority_rate": majority,
                "epochs_trained": cnn.epochs_trained if cnn is not None else None,
                "best_epoch": cnn.best_epoch if cnn is not None else None,
                "vae_only_right": paired[0] if paired else None,
                "method_only_right": paired[1] if paired else None,
                "mcnemar_p": paired[2] if paired else None,
            }
        )
        confusion[(fs.feature, method)] = confusion_matrix(fs.y_test, pred, labels=classes)


def repeat_splits(
    latents: Any,
    catalog: Any,
    *,
    repeats: int = 5,
    seed: int = 0,
    out_dir: str | os.PathLike[str] | None = None,
    first: ClassifyResult | None = None,
    **kwargs: Any,
) -> Any:
    """Table 3 over several train/test splits: is the latent forest's place against the baselines the split's?

    One split decides, on a few dozen to a few hundred test galaxies, whether the
    latents beat PCA-40 on a feature; this runs :func:`classify` with seeds
    ``seed`` … ``seed + repeats − 1`` (each seed draws another split, forest,
    PCA subsample and CNN initialisation) and summarises each method's
    accuracy and its difference from the latent forest over the splits.

    Parameters
    ----------
    latents, catalog
        As :func:`classify`.
    repeats : int, default 5
        Splits (at least 2).
    seed : int, default 0
        Seed of the first split.
    out_dir : path, optional
        Writes ``repeats.csv`` (every split's accuracies), ``repeats_summary.csv``
        and ``repeats.md``.
    first : ClassifyResult, optional
        An already computed :func:`classify` result for ``seed`` (reused as the
        first split, e.g. by ``galvae classify --repeats``).
    **kwargs
        Passed to :func:`classify` (``store``, ``baselines``, ``n_estimators``,
        ...); ``out_dir`` and ``progress`` are set here.

    Returns
    -------
    DataFrame
        One row per (feature, method): ``splits``, ``accuracy_mean``,
        ``accuracy_sd``, ``vae_minus_mean``, ``vae_minus_sd`` (the latent
        forest's accuracy minus this method's; 0 for the latent forest) and
        ``vae_at_least`` (splits where the latent forest scored at least as
        well).

    Raises
    ------
    GalvaeValueError
        If ``repeats`` is below 2.
    """
    import pandas as pd

    if isinstance(repeats, bool) or not isinstance(repeats, int | np.integer) or repeats < 2:
        raise GalvaeValueError("repeats must be an integer of at least 2", repeats)
    kwargs.pop("progress", None)
    kwargs.pop("out_dir", None)
    rows = []
    for k in range(int(repeats)):
        res = (
            first
            if (k == 0 and first is not None)
            else classify(latents, catalog, seed=seed + k, out_dir=None, progress=False, **kwargs)
        )
        t = res.table
        vae = t[t["method"] == "vae"].set_index("feature")["accuracy"]
        for _, r in t.iterrows():
            rows.append(
                {
                    "seed": seed + k,
                    "feature": r["feature"],
                    "method": r["method"],
                    "n_test": r["n_test"],
                    "accuracy": r["accuracy"],
                    "vae_minus": vae[r["feature"]] - r["accuracy"],
                }
            )
    per = pd.DataFrame(rows)
    summary = (
        per.groupby(["feature", "method"], sort=False)
        .agg(
            splits=("seed", "size"),
            accuracy_mean=("accuracy", "mean"),
            accuracy_sd=("accuracy", "std"),
            vae_minus_mean=("vae_minus", "mean"),
            vae_minus_sd=("vae_minus", "std"),
            vae_at_least=("vae_minus", lambda d: int((d >= 0).sum())),
        )
        .reset_index()
    )
    if out_dir is not None:
        from ..data.tables import write_table

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_table(per, out / "repeats.csv", overwrite=True)
        write_table(summary, out / "repeats_summary.csv", overwrite=True)
        write_text(out / "repeats.md", _repeats_markdown(summary))
    return summary


def _repeats_markdown(summary: Any) -> str:
    """The repeated-split summary as Markdown."""
    header = ["feature", "method", "splits", "accuracy (mean ± sd)", "latents − method (mean ± sd)", "latents ≥ it"]
    rows = [
        [
            r["feature"],
            str(r["method"]).upper(),
            str(int(r["splits"])),
            f"{r['accuracy_mean']:.3f} ± {r['accuracy_sd']:.3f}",
            "–" if r["method"] == "vae" else f"{r['vae_minus_mean']:+.3f} ± {r['vae_minus_sd']:.3f}",
            "–" if r["method"] == "vae" else f"{int(r['vae_at_least'])} of {int(r['splits'])}",
        ]
        for _, r in summary.iterrows()
    ]
    return (
        "Table 3 over several train/test splits (each seed another split, forest, PCA subsample and CNN start):\n\n"
        + markdown_table(header, rows)
    )


def accuracy_interval(n_right: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of an accuracy of ``n_right`` out of ``n`` test galaxies.

    Wilson (1927), as :meth:`scipy.stats.binomtest`'s ``proportion_ci(method="wilson")``
    gives it: unlike the normal approximation it stays inside [0, 1] and keeps its
    coverage at the few dozen galaxies of Table 3's rarer features (e.g. 8 of 10:
    0.490–0.943).  It says how far an accuracy could move on another test set of
    the same size; whether two methods differ on the same galaxies is
    :func:`mcnemar`'s question.

    Parameters
    ----------
    n_right, n : int
        Correct predictions and test galaxies (``0 <= n_right <= n``).
    confidence : float, default 0.95

    Returns
    -------
    lo, hi : float
        (nan, nan) when ``n`` is 0.

    Raises
    ------
    GalvaeValueError
        If ``n_right`` is not in [0, n] or ``confidence`` not in (0, 1).
    """
    from scipy.stats import binomtest

    if not 0 < confidence < 1:
        raise GalvaeValueError("confidence must be in (0, 1)", confidence)
    if n == 0:
        return float("nan"), float("nan")
    if not 0 <= n_right <= n:
        raise GalvaeValueError(f"n_right must be between 0 and n = {n}", n_right)
    ci = binomtest(int(n_right), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def mcnemar(a_right: np.ndarray, b_right: np.ndarray) -> tuple[int, int, float]:
    """McNemar's exact test of two classifiers scored on the same test galaxies.

    Parameters
    ----------
    a_right, b_right : ndarray of bool, shape (N,)
        Whether each classifier got each galaxy right.

    Returns
    -------
    a_only, b_only : int
        Galaxies only ``a`` (only ``b``) classified correctly.
    p : float
        Two-sided exact binomial p-value of ``a_only`` in ``a_only + b_only``
        trials at 1/2 (1.0 when the two never disagree): the chance of an
        accuracy difference at least this large between two equally good
        classifiers.  With the few dozen test galaxies of some features, a
        difference of several points is often not significant.
    """
    from scipy.stats import binomtest

    a, b = np.asarray(a_right, dtype=bool), np.asarray(b_right, dtype=bool)
    if a.shape != b.shape:
        raise GalvaeValueError("mcnemar needs two equal-length correctness vectors", (a.shape, b.shape))
    a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
    n = a_only + b_only
    return a_only, b_only, float(binomtest(a_only, n, 0.5).pvalue) if n else 1.0


# --------------------------------------------------------------------------- outputs


def table3_markdown(table: Any) -> str:
    """Table 3 side by side: one row per feature, accuracy/precision/recall/F1 per method.

    Parameters
    ----------
    table : DataFrame
        :attr:`ClassifyResult.table`.

    Returns
    -------
    str
    """
    metrics = ("accuracy", "precision", "recall", "f1", "f1_macro")
    methods = [m for m in METHODS if m in set(table["method"])]
    header = ["feature", "classes", "N test"] + [
        f"{m.upper()} {k}" for m in methods for k in ("acc", "P", "R", "F1", "F1 macro")
    ]
    rows = []
    for feature, grp in table.groupby("feature", sort=False):
        by = {r["method"]: r for _, r in grp.iterrows()}
        first = grp.iloc[0]
        cells = [feature, str(first["n_classes"]), str(first["n_test"])]
        for m in methods:
            cells += ["–"] * 5 if m not in by else [f"{by[m][k]:.3f}" for k in metrics]
        rows.append(cells)
    text = markdown_table(header, rows)
    intervals = _interval_markdown(table, methods)
    paired = _paired_markdown(table, methods)
    return text + ("\n" + intervals if intervals else "") + ("\n" + paired if paired else "")


def _interval_markdown(table: Any, methods: list[str]) -> str:
    """Each method's accuracy with its 95 % Wilson interval, beside the majority rate (empty without the columns)."""
    if "accuracy_lo" not in table.columns:
        return ""
    header = ["feature", "N test", "majority"] + [f"{m.upper()} acc (95 %)" for m in methods]
    rows = []
    for feature, grp in table.groupby("feature", sort=False):
        by = {r["method"]: r for _, r in grp.iterrows()}
        first = grp.iloc[0]
        cells = [feature, str(first["n_test"]), f"{first['majority_rate']:.3f}"]
        for m in methods:
            r = by.get(m)
            ok = r is not None and r["accuracy_lo"] == r["accuracy_lo"]
            cells.append(f"{r['accuracy']:.3f} ({r['accuracy_lo']:.3f}–{r['accuracy_hi']:.3f})" if ok else "–")
        rows.append(cells)
    return (
        "Accuracy with its 95 % Wilson interval (how far it could move on another test set of this size):\n\n"
        + markdown_table(header, rows)
    )


def _paired_markdown(table: Any, methods: list[str]) -> str:
    """McNemar's test of each baseline against the latent forest, per feature (empty without the columns)."""
    baselines = [m for m in methods if m != "vae"]
    if not baselines or "mcnemar_p" not in table.columns:
        return ""
    header = ["feature"] + [f"{m.upper()} {k}" for m in baselines for k in ("only VAE right", "only it right", "p")]
    rows = []
    for feature, grp in table.groupby("feature", sort=False):
        by = {r["method"]: r for _, r in grp.iterrows()}
        cells = [feature]
        for m in baselines:
            r = by.get(m)
            if r is None or r["mcnemar_p"] is None or r["mcnemar_p"] != r["mcnemar_p"]:
                cells += ["–"] * 3
            else:
                cells += [str(int(r["vae_only_right"])), str(int(r["method_only_right"])), f"{r['mcnemar_p']:.3g}"]
        rows.append(cells)
    return (
        "Paired comparison with the latent forest on the same test galaxies (McNemar's exact test: p is the chance "
        "of a disagreement at least this lopsided between two equally accurate classifiers):\n\n"
        + markdown_table(header, rows)
    )


def _write_outputs(
    out: Path,
    table: Any,
    skipped: dict[str, str],
    dropped: dict[str, list[str]],
    splits: dict[str, dict[str, list[str]]],
    confusion: dict[tuple[str, str], np.ndarray],
    meta: dict[str, Any],
    params: dict[str, Any],
) -> Path:
    from ..data.tables import write_table

    out.mkdir(parents=True, exist_ok=True)
    write_table(table, out / "table3.csv", overwrite=True)
    write_text(
        out / "table3.md", table3_markdown(table) + "\n" + _AVERAGING_NOTE + "\n" + skipped_notes(skipped, dropped)
    )
    _write_confusions(out, table, confusion)
    write_json(
        out / "classify.json",
        {
            "results": table.to_dict(orient="records"),
            "skipped": skipped,
            "dropped_classes": dropped,
            "params": params,
            "latents": meta,
            "split_sizes": {f: {k: len(v) for k, v in s.items()} for f, s in splits.items()},
            "averaging": "micro for >2 classes; binary with the first Table 2 class positive for 2 classes; f1_macro also given",
        },
    )
    write_json(out / "splits.json", splits)
    return out


def _write_confusions(out: Path, table: Any, confusion: dict[tuple[str, str], np.ndarray]) -> None:
    """``confusion_<feature>.png``: one panel per method."""
    from ..plots import new_figure, plot_confusion, save_figure

    for feature in table["feature"].unique():
        methods = [m for m in METHODS if (feature, m) in confusion]
        classes = table[table["feature"] == feature].iloc[0]["classes"].split(",")
        k = len(classes)
        fig, axes = new_figure((0.5 + (1.2 + 0.8 * k) * len(methods), 1.3 + 0.8 * k), 1, len(methods))
        for ax, m in zip(np.atleast_1d(axes), methods, strict=True):
            plot_confusion(confusion[(feature, m)], classes, ax=ax, title=f"{feature}: {m.upper()}")
        save_figure(fig, out / f"confusion_{feature}.png")
