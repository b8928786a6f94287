"""Random forests on VAE latents, per Table 2 feature (the paper's Table 3),
with a PCA baseline and a supervised CNN baseline on the same split.

For each of the nine morphology features of Table 2 the galaxies with a
label (:func:`galvae.labels_from_catalog`) and a latent vector are split
70/30, stratified by class, with a fixed seed.  Three classifiers are
scored on the *same* test galaxies:

* ``vae``: a random forest on the latent means μ;
* ``pca``: PCA with as many components as the latent dimension, fitted on
  the images the VAE was trained on (flattened 3 × S × S pixels; no labels
  used, so both unsupervised methods have seen the same images), + the same
  forest;
* ``cnn``: the VAE encoder architecture (three conv/pool/activation blocks)
  + a linear classification head, trained with cross-entropy directly on the
  training images to convergence (early stopping on a held-out part of the
  training split): the supervised upper bound (the paper's "direct neural
  network" comparison).

Every method uses the same class weighting (``class_weight``).

Metrics (Table 3's columns): accuracy; precision, recall and F1 with
**micro** averaging for features with more than two classes in Table 2 (so
they equal the accuracy, as in the paper's multi-class rows; kept when a rare
class is dropped) and **binary** averaging with the first class of Table 2 as
positive for two-class features (``edge_on``: "edge-on", ``has_arms``:
"yes", ``merger``: "merger").
The macro-averaged F1 is reported too (``f1_macro``), since micro scores
hide poor performance on rare classes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GalvaeValueError
from ._common import (
    latent_matrix,
    load_catalog,
    load_latents,
    save_figure,
    write_csv,
    write_json,
)

__all__ = ["BASELINES", "ClassifyResult", "classification_metrics", "classify"]

log = logging.getLogger(__name__)

BASELINES = ("pca", "cnn")
METHODS = ("vae", "pca", "cnn")


@dataclass(frozen=True)
class ClassifyResult:
    """What :func:`classify` produced.

    Attributes
    ----------
    table : DataFrame
        One row per (feature, method): ``feature``, ``method``,
        ``n_classes``, ``classes``, ``n_train``, ``n_test``, ``accuracy``,
        ``precision``, ``recall``, ``f1``, ``f1_macro``, ``averaging``,
        ``majority_rate`` (test accuracy of always predicting the most
        common training class).
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
    """

    table: Any
    skipped: dict[str, str]
    dropped_classes: dict[str, list[str]]
    splits: dict[str, dict[str, list[str]]]
    confusion: dict[tuple[str, str], np.ndarray] = field(repr=False)
    out_dir: Path | None = None


def classification_metrics(
    y_true: Sequence[Any], y_pred: Sequence[Any], classes: Sequence[Any], averaging: str | None = None
) -> dict[str, Any]:
    """Table 3's metrics for one classifier.

    Parameters
    ----------
    y_true, y_pred : sequence
        True and predicted classes.
    classes : sequence
        The feature's classes in Table 2 order; with two, the first is the
        positive class.
    averaging : {"binary", "micro"} or None
        None chooses by ``len(classes)`` (binary for two).  :func:`classify`
        passes the averaging of the feature's *Table 2* class count, so a
        three-class feature that lost a rare class keeps micro averaging
        instead of switching to binary silently.

    Returns
    -------
    dict
        ``accuracy``, ``precision``, ``recall``, ``f1`` (micro for > 2
        classes, binary for 2), ``f1_macro``, ``averaging``.
    """
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_recall_fscore_support,
    )

    classes = list(classes)
    if len(classes) < 2:
        raise GalvaeValueError("metrics need at least two classes", classes)
    if averaging not in (None, "binary", "micro"):
        raise GalvaeValueError("averaging", averaging, ("binary", "micro"))
    avg = averaging or ("binary" if len(classes) == 2 else "micro")
    if avg == "binary" and len(classes) != 2:
        raise GalvaeValueError("binary averaging needs exactly two classes", classes)
    kw: dict[str, Any] = {"pos_label": classes[0]} if avg == "binary" else {"labels": classes}
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=avg, zero_division=0, **kw)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(p),
        "recall": float(r),
        "f1": float(f),
        "f1_macro": float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "averaging": f"binary (positive: {classes[0]})" if avg == "binary" else "micro",
    }


def _forest(n_estimators: int, seed: int, n_jobs: int = 1, class_weight: str | None = None) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs, class_weight=class_weight
    )


def _train_cnn(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    n_classes: int,
    *,
    channels: tuple[int, ...],
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: str,
    progress: bool,
    desc: str,
    patience: int = 4,
    val_fraction: float = 0.15,
    class_weight: str | None = None,
) -> tuple[np.ndarray, int]:
    """Train encoder + linear head to convergence; return (test predictions, epochs trained).

    A stratified ``val_fraction`` of the training galaxies is held out; the
    weights of the epoch with the lowest validation loss are kept, and
    training stops after ``patience`` epochs without improvement (or at
    ``epochs``).  The test galaxies are never seen.
    """
    import copy

    import torch
    from sklearn.model_selection import train_test_split
    from torch import nn
    from tqdm.auto import tqdm

    from ..models.blocks import EncoderBlock

    size = x_train.shape[-1]
    if size % 2 ** len(channels):
        raise GalvaeValueError(
            f"image size must be a multiple of {2 ** len(channels)} for the CNN baseline",
            size,
        )
    idx = np.arange(len(y_train))
    counts = np.bincount(y_train, minlength=n_classes)
    strat = y_train if counts[counts > 0].min() >= 2 else None
    fit_i, val_i = train_test_split(idx, test_size=val_fraction, random_state=seed, stratify=strat)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        blocks, c_in = [], x_train.shape[1]
        for c in channels:
            blocks.append(EncoderBlock(c_in, c))
            c_in = c
        bottom = size // 2 ** len(channels)
        net = nn.Sequential(*blocks, nn.Flatten(), nn.Linear(channels[-1] * bottom * bottom, n_classes)).to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    xt = torch.from_numpy(np.ascontiguousarray(x_train[fit_i], dtype=np.float32))
    yt = torch.from_numpy(y_train[fit_i].astype(np.int64))
    xv = torch.from_numpy(np.ascontiguousarray(x_train[val_i], dtype=np.float32)).to(device)
    yv = torch.from_numpy(y_train[val_i].astype(np.int64)).to(device)
    weight = None
    if class_weight == "balanced":  # the forests' class_weight="balanced", for the same weighting
        fc = np.bincount(y_train[fit_i], minlength=n_classes).astype(np.float64)
        weight = torch.tensor(len(fit_i) / (n_classes * np.maximum(fc, 1)), dtype=torch.float32, device=device)
    lossf = nn.CrossEntropyLoss(weight=weight)
    best, best_state, since, trained = float("inf"), copy.deepcopy(net.state_dict()), 0, 0
    for _ in tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress, leave=False):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(order), batch_size):
            b = order[i : i + batch_size]
            opt.zero_grad()
            loss = lossf(net(xt[b].to(device)), yt[b].to(device))
            loss.backward()
            opt.step()
        trained += 1
        net.eval()
        with torch.inference_mode():
            val = float(lossf(net(xv), yv)) if len(val_i) else 0.0
        if val < best - 1e-4:
            best, best_state, since = val, copy.deepcopy(net.state_dict()), 0
        else:
            since += 1
            if since >= patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    preds = []
    with torch.inference_mode():
        for i in range(0, len(x_test), 256):
            xb = torch.from_numpy(np.ascontiguousarray(x_test[i : i + 256], dtype=np.float32)).to(device)
            preds.append(net(xb).argmax(1).cpu().numpy())
    return (np.concatenate(preds) if preds else np.empty(0, np.int64)), trained


#: At most this many images fit the PCA baseline (a seeded subsample beyond it).
_MAX_PCA_FIT = 20000


def _run_train_ids(meta: dict[str, Any]) -> list[str] | None:
    """Training ids of the run that wrote a latent catalogue (its ``split.json``), or None."""
    import json

    model = meta.get("model") if isinstance(meta, dict) else None
    if not model:
        return None
    split = Path(str(model)).parent / "split.json"
    try:
        ids = json.loads(split.read_text()).get("train_ids")
    except (OSError, ValueError):
        return None
    return [str(i) for i in ids] if ids else None


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
    cnn_epochs: int = 30,
    cnn_patience: int = 4,
    cnn_batch_size: int = 64,
    cnn_lr: float = 1e-3,
    cnn_channels: tuple[int, ...] = (32, 64, 128),
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
        Writes ``table3.csv``, ``table3.md``, ``classify.json`` and
        ``confusion_<feature>.png``.
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
        Features with fewer labelled galaxies (after dropping rare classes)
        are skipped and reported.
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
    cnn_epochs : int, default 30
        Most epochs of the CNN baseline; it stops earlier when the loss on a
        held-out 15 % of its training galaxies has not improved for
        ``cnn_patience`` epochs, and keeps the best epoch's weights (Adam,
        cross-entropy): trained to convergence, the supervised upper bound.
    cnn_patience : int, default 4
    cnn_batch_size, cnn_lr : int, float
    cnn_channels : tuple of int, default (32, 64, 128)
        Encoder blocks of the CNN baseline (the VAE's).
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
    from sklearn.model_selection import train_test_split
    from tqdm.auto import tqdm

    from ..data.labels import LabelConfig, labels_from_catalog
    from ..data.store import ImageStore

    baselines = tuple(baselines)
    bad = [b for b in baselines if b not in BASELINES]
    if bad:
        raise GalvaeValueError(f"unknown baseline {bad[0]!r}", bad[0], allowed=BASELINES)
    if not (0 < float(test_size) < 1):
        raise GalvaeValueError("test_size must be in (0, 1)", test_size)
    if class_weight not in (None, "balanced"):
        raise GalvaeValueError("class_weight", class_weight, (None, "balanced"))
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise GalvaeValueError("n_jobs must be a positive integer or -1 (all cores)", n_jobs)
    if baselines and store is None:
        raise GalvaeValueError(
            "the pca/cnn baselines need the image store (store=...); pass baselines=() to skip them",
            None,
        )
    cfg = label_config or LabelConfig()
    all_features = cfg.features
    features = tuple(features) if features is not None else all_features
    unknown = [f for f in features if f not in all_features]
    if unknown:
        raise GalvaeValueError(f"unknown feature {unknown[0]!r}", unknown[0], allowed=all_features)

    lat, meta = load_latents(latents)
    if "id" not in lat.columns:
        raise GalvaeValueError("latent catalogue has no 'id' column", list(lat.columns)[:8])
    cat = load_catalog(catalog)
    if "id" not in cat.columns:
        raise GalvaeValueError("catalogue has no 'id' column", list(cat.columns)[:8])
    if all(f in cat.columns for f in features):
        labels = cat
    else:
        labels = labels_from_catalog(cat, cfg)
    lat = lat.assign(id=lat["id"].astype(str))
    labels = labels.assign(id=labels["id"].astype(str))
    merged = lat.merge(labels[["id", *features]], on="id", how="inner")
    if merged.empty:
        raise GalvaeValueError(
            "no id is both in the latent catalogue and in the catalogue",
            lat["id"].iloc[:3].tolist(),
        )
    z = latent_matrix(merged)
    nl = z.shape[1]
    st = None
    pca_all = None
    if baselines:
        st = store if isinstance(store, ImageStore) else ImageStore(store)
        rows_all = st.index_of(merged["id"])
        if fit_ids is None:
            fit_ids = _run_train_ids(meta)
        fit_source = "the VAE run's training galaxies" if fit_ids is not None else "every labelled galaxy"
        if fit_ids is None:
            fit_ids = merged["id"].tolist()
        known = set(st.ids.astype(str).tolist())
        fit_rows = np.sort(st.index_of([str(i) for i in fit_ids if str(i) in known]))
        if len(fit_rows) < 2:
            raise GalvaeValueError(f"fewer than two of the fit_ids are in the store {st.path}", len(fit_rows))
        if len(fit_rows) > _MAX_PCA_FIT:
            fit_rows = np.sort(np.random.default_rng(seed).choice(fit_rows, _MAX_PCA_FIT, replace=False))
        if "pca" in baselines:
            from sklearn.decomposition import PCA

            fit = st.read(fit_rows).reshape(len(fit_rows), -1)
            pca = PCA(n_components=min(nl, len(fit_rows), fit.shape[1]), random_state=seed).fit(fit)
            del fit
            pca_all = pca.transform(st.read(rows_all).reshape(len(rows_all), -1))
            log.info("PCA baseline fitted on %d images (%s)", len(fit_rows), fit_source)
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    dropped: dict[str, list[str]] = {}
    splits: dict[str, dict[str, list[str]]] = {}
    confusion: dict[tuple[str, str], np.ndarray] = {}
    from sklearn.metrics import confusion_matrix

    for feature in tqdm(features, desc="classify", unit="feature", disable=not progress):
        y_all = merged[feature]
        have = y_all.notna().to_numpy()
        y = y_all[have].astype(str).to_numpy()
        present = set(y)
        table2 = [str(c) for c in cfg.classes(feature)]
        order = [c for c in table2 if c in present] + sorted(present - set(table2))
        counts = {c: int((y == c).sum()) for c in order}
        rare = [c for c in order if counts[c] < min_per_class]
        if rare:
            dropped[feature] = rare
        classes = [c for c in order if c not in rare]
        keep = np.flatnonzero(have)[np.isin(y, classes)]
        yk = merged[feature].to_numpy()[keep].astype(str)
        if not present:
            skipped[feature] = "no galaxy has a label (question missing from the catalogue or never reached)"
        elif len(classes) < 2:
            skipped[feature] = f"{len(classes)} class(es) with at least {min_per_class} galaxies"
        elif len(keep) < min_galaxies:
            skipped[feature] = f"{len(keep)} labelled galaxies < min_galaxies={min_galaxies}"
        if feature in skipped:
            log.warning("skipping %s: %s", feature, skipped[feature])
            continue
        try:
            tr, te = train_test_split(
                np.arange(len(keep)),
                test_size=test_size,
                stratify=yk,
                random_state=seed,
            )
        except ValueError as exc:
            skipped[feature] = f"stratified split impossible: {exc}"
            log.warning("skipping %s: %s", feature, skipped[feature])
            continue
        tr, te = np.sort(tr), np.sort(te)
        ids = merged["id"].to_numpy()[keep]
        splits[feature] = {"train": ids[tr].tolist(), "test": ids[te].tolist()}
        ytr, yte = yk[tr], yk[te]
        values, freq = np.unique(ytr, return_counts=True)
        majority = float(np.mean(yte == values[np.argmax(freq)]))
        preds: dict[str, np.ndarray] = {}
        rf = _forest(n_estimators, seed, n_jobs, class_weight).fit(z[keep][tr], ytr)
        preds["vae"] = rf.predict(z[keep][te])
        cnn_trained = None
        if baselines:
            if pca_all is not None:
                rfp = _forest(n_estimators, seed, n_jobs, class_weight).fit(pca_all[keep][tr], ytr)
                preds["pca"] = rfp.predict(pca_all[keep][te])
            if "cnn" in baselines:
                imgs = st.read(rows_all[keep])
                code = {c: i for i, c in enumerate(classes)}
                p, cnn_trained = _train_cnn(
                    imgs[tr],
                    np.array([code[v] for v in ytr]),
                    imgs[te],
                    len(classes),
                    channels=tuple(cnn_channels),
                    epochs=cnn_epochs,
                    batch_size=cnn_batch_size,
                    lr=cnn_lr,
                    seed=seed,
                    device=device,
                    progress=progress,
                    desc=f"cnn {feature}",
                    patience=cnn_patience,
                    class_weight=class_weight,
                )
                preds["cnn"] = np.asarray(classes, dtype=object)[p].astype(str)
        averaging = "binary" if len(table2) == 2 else "micro"  # by Table 2's classes, whatever was dropped
        for method, pred in preds.items():
            m = classification_metrics(yte, pred, classes, averaging)
            rows.append(
                {
                    "feature": feature,
                    "method": method,
                    "n_classes": len(classes),
                    "classes": ",".join(classes),
                    "n_train": len(tr),
                    "n_test": len(te),
                    **m,
                    "majority_rate": majority,
                    "epochs_trained": cnn_trained if method == "cnn" else None,
                }
            )
            confusion[(feature, method)] = confusion_matrix(yte, pred, labels=classes)
    if st is not None and st is not store:
        st.close()
    columns = [
        "feature",
        "method",
        "n_classes",
        "classes",
        "n_train",
        "n_test",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "f1_macro",
        "averaging",
        "majority_rate",
        "epochs_trained",
    ]
    table = pd.DataFrame(rows, columns=columns)
    out = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _write_outputs(
            out,
            table,
            skipped,
            dropped,
            splits,
            confusion,
            meta,
            {
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
                "pca_fit_images": int(len(fit_rows)) if baselines else 0,
                "cnn_batch_size": cnn_batch_size,
                "cnn_lr": cnn_lr,
                "cnn_channels": list(cnn_channels),
                "latent_dim": nl,
            },
        )
    return ClassifyResult(table, skipped, dropped, splits, confusion, out)


def markdown_table(table: Any) -> str:
    """Table 3 side by side: one row per feature, accuracy/precision/recall/F1 per method."""
    methods = [m for m in METHODS if m in set(table["method"])]
    head = ["feature", "classes", "N test"] + [
        f"{m.upper()} {k}" for m in methods for k in ("acc", "P", "R", "F1", "F1 macro")
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for feature, grp in table.groupby("feature", sort=False):
        by = {r["method"]: r for _, r in grp.iterrows()}
        first = grp.iloc[0]
        cells = [feature, str(first["n_classes"]), str(first["n_test"])]
        for m in methods:
            r = by.get(m)
            cells += (
                ["–"] * 5
                if r is None
                else [f"{r[k]:.3f}" for k in ("accuracy", "precision", "recall", "f1", "f1_macro")]
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _write_outputs(
    out: Path,
    table: Any,
    skipped: dict,
    dropped: dict,
    splits: dict,
    confusion: dict,
    meta: dict,
    params: dict,
) -> None:
    from ..plots import new_figure, plot_confusion

    write_csv(out / "table3.csv", table)
    md = markdown_table(table)
    md += "\nPrecision, recall and F1: micro-averaged for features with more than two classes, binary (positive class = first class of Table 2) for two classes; F1 macro = unweighted mean over classes.\n"
    if skipped:
        md += "\nSkipped features: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()) + "\n"
    if dropped:
        md += "\nDropped rare classes: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in dropped.items()) + "\n"
    (out / "table3.md").write_text(md)
    for feature in table["feature"].unique():
        methods = [m for m in METHODS if (feature, m) in confusion]
        classes = table[table["feature"] == feature].iloc[0]["classes"].split(",")
        k = len(classes)
        fig, axes = new_figure((0.5 + (1.2 + 0.8 * k) * len(methods), 1.3 + 0.8 * k), 1, len(methods))
        for ax, m in zip(np.atleast_1d(axes), methods, strict=True):
            plot_confusion(confusion[(feature, m)], classes, ax=ax, title=f"{feature}: {m.upper()}")
        save_figure(fig, out / f"confusion_{feature}.png")
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
