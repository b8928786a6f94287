"""The per-feature protocol shared by Table 3 (:func:`~galvae.evaluate.classify.classify`)
and Table 4 (:func:`~galvae.evaluate.domains.compare_domains`).

For one Table 2 feature:

1. **Galaxies and classes** (:func:`split_feature`): the galaxies with a
   label; classes with fewer than ``min_per_class`` members are dropped (and
   reported), the others kept in Table 2 order (unknown classes after them,
   sorted).
2. **Enough galaxies** (:func:`has_enough_galaxies`): a feature is evaluated
   when it has *at least* ``min_galaxies`` labelled galaxies left, and at
   least two classes; otherwise it is skipped, with the reason.
3. **Split**: 70/30 (``test_size``), stratified by class, with the seed;
   train and test positions sorted.
4. **Scores**: random forests (:func:`random_forest`) scored by
   :func:`classification_metrics`, next to the majority rate
   (:func:`majority_rate`), the test accuracy of always predicting the most
   common training class.

Both tables are written as markdown with :func:`markdown_table` and
:func:`skipped_notes`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import check_float, check_int
from ..errors import GalvaeValueError

__all__ = [
    "FeatureSplit",
    "averaging_of",
    "check_n_jobs",
    "check_split_options",
    "classification_metrics",
    "has_enough_galaxies",
    "load_labels",
    "majority_rate",
    "markdown_table",
    "random_forest",
    "resolve_features",
    "skipped_notes",
    "split_feature",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- options and labels


def check_split_options(
    *, test_size: Any, n_estimators: Any, min_galaxies: Any, min_per_class: Any, seed: Any
) -> tuple[float, int, int, int, int]:
    """Validate the options every per-feature table takes.

    Returns
    -------
    (test_size, n_estimators, min_galaxies, min_per_class, seed)
        As float and ints.

    Raises
    ------
    GalvaeValueError
        If ``test_size`` is not in (0, 1), ``n_estimators`` < 1,
        ``min_galaxies`` < 0, ``min_per_class`` < 1, or ``seed`` is not an
        integer.
    """
    return (
        check_float("test_size", test_size, minimum=0, maximum=1, inclusive=False),
        check_int("n_estimators", n_estimators, minimum=1),
        check_int("min_galaxies", min_galaxies, minimum=0),
        check_int("min_per_class", min_per_class, minimum=1),
        check_int("seed", seed, minimum=0),
    )


def resolve_features(features: Sequence[str] | None, label_config: Any = None) -> tuple[Any, tuple[str, ...]]:
    """The label configuration and the features asked for (default: all of Table 2).

    Raises
    ------
    GalvaeValueError
        On a feature the configuration does not define.
    """
    from ..data.labels import LabelConfig

    cfg = label_config or LabelConfig()
    chosen = tuple(features) if features is not None else tuple(cfg.features)
    unknown = [f for f in chosen if f not in cfg.features]
    if unknown:
        raise GalvaeValueError(f"unknown feature {unknown[0]!r}", unknown[0], allowed=tuple(cfg.features))
    return cfg, chosen


def load_labels(catalog: Any, features: Sequence[str], cfg: Any) -> tuple[Any, Any]:
    """A catalogue and its Table 2 labels, both with ``id`` as str.

    Parameters
    ----------
    catalog : path or DataFrame
        A Galaxy Zoo catalogue (labelled with
        :func:`galvae.labels_from_catalog`) or a table already holding the
        label columns of ``features``, used as is.
    features : sequence of str
    cfg : LabelConfig

    Returns
    -------
    (DataFrame, DataFrame)
        The catalogue and the labels.

    Raises
    ------
    GalvaeValueError
        If the catalogue has no ``id`` column or duplicate ids.
    """
    from ..data.labels import labels_from_catalog
    from .inputs import load_catalog

    cat = load_catalog(catalog)
    if "id" not in cat.columns:
        raise GalvaeValueError("catalogue has no 'id' column", list(cat.columns)[:8])
    cat = cat.assign(id=cat["id"].astype(str))
    if cat["id"].duplicated().any():
        raise GalvaeValueError("catalogue has duplicate ids", cat["id"][cat["id"].duplicated()].iloc[0])
    labels = cat if all(f in cat.columns for f in features) else labels_from_catalog(cat, cfg)
    return cat, labels.assign(id=labels["id"].astype(str))


# --------------------------------------------------------------------------- one feature


def has_enough_galaxies(n_galaxies: int, min_galaxies: int) -> bool:
    """Whether a feature with ``n_galaxies`` labelled galaxies is evaluated: at least ``min_galaxies``."""
    return n_galaxies >= min_galaxies


def averaging_of(table2_classes: Sequence[Any]) -> str:
    """Precision/recall averaging of a feature: ``"binary"`` for two Table 2 classes, ``"micro"`` otherwise.

    Chosen by the feature's *Table 2* classes, so a three-class feature that
    lost a rare class keeps micro averaging.
    """
    return "binary" if len(table2_classes) == 2 else "micro"


def majority_rate(y_train: Sequence[Any], y_test: Sequence[Any]) -> float:
    """Test accuracy of always predicting the most common training class.

    Ties go to the class that sorts first.
    """
    values, freq = np.unique(np.asarray(y_train), return_counts=True)
    if not len(values):
        raise GalvaeValueError("majority_rate needs training labels", 0)
    return float(np.mean(np.asarray(y_test) == values[np.argmax(freq)]))


@dataclass(frozen=True)
class FeatureSplit:
    """The galaxies of one feature and their stratified split (:func:`split_feature`).

    Attributes
    ----------
    feature : str
    classes : tuple of str
        Kept classes: Table 2 order, then unknown classes sorted.
    dropped : tuple of str
        Classes dropped for having fewer than ``min_per_class`` members.
    skipped : str or None
        Why the feature is not evaluated; None when it is.
    rows : ndarray of int
        Positions (in the labels given) of the galaxies with a kept class.
    labels : ndarray of str
        Their classes.
    train, test : ndarray of int
        Sorted positions into ``rows`` (empty when skipped).
    averaging : str
        :func:`averaging_of` the feature's Table 2 classes.
    """

    feature: str
    classes: tuple[str, ...]
    dropped: tuple[str, ...]
    skipped: str | None
    rows: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    train: np.ndarray = field(repr=False)
    test: np.ndarray = field(repr=False)
    averaging: str = "micro"

    @property
    def train_rows(self) -> np.ndarray:
        """Positions (in the labels given) of the training galaxies."""
        return self.rows[self.train]

    @property
    def test_rows(self) -> np.ndarray:
        """Positions (in the labels given) of the test galaxies."""
        return self.rows[self.test]

    @property
    def y_train(self) -> np.ndarray:
        """Class labels of the training rows."""
        return self.labels[self.train]

    @property
    def y_test(self) -> np.ndarray:
        """Class labels of the test rows."""
        return self.labels[self.test]

    @property
    def majority_rate(self) -> float:
        """:func:`majority_rate` of this split."""
        return majority_rate(self.y_train, self.y_test)


def split_feature(
    feature: str,
    values: Any,
    table2_classes: Sequence[Any],
    *,
    min_galaxies: int,
    min_per_class: int,
    test_size: float,
    seed: int,
) -> FeatureSplit:
    """Select one feature's labelled galaxies and split them, or say why not.

    Parameters
    ----------
    feature : str
    values : array-like
        Each galaxy's class (missing: no label).
    table2_classes : sequence
        The feature's classes in Table 2 order.
    min_galaxies : int
        Evaluated with at least this many labelled galaxies of kept classes.
    min_per_class : int
        Classes with fewer members are dropped.
    test_size : float
    seed : int

    Returns
    -------
    FeatureSplit
    """
    import pandas as pd
    from sklearn.model_selection import train_test_split

    series = pd.Series(np.asarray(values, dtype=object))
    have = np.flatnonzero(series.notna().to_numpy())
    y = series.iloc[have].astype(str).to_numpy()
    table2 = [str(c) for c in table2_classes]
    present = set(y.tolist())
    order = [c for c in table2 if c in present] + sorted(present - set(table2))
    dropped = tuple(c for c in order if int((y == c).sum()) < min_per_class)
    classes = tuple(c for c in order if c not in dropped)
    keep = np.isin(y, classes)
    rows, labels = have[keep], y[keep]
    empty = np.empty(0, np.int64)

    def result(skipped: str | None, train: np.ndarray = empty, test: np.ndarray = empty) -> FeatureSplit:
        return FeatureSplit(feature, classes, dropped, skipped, rows, labels, train, test, averaging_of(table2))

    if not present:
        return result("no galaxy has a label (question missing from the catalogue or never reached)")
    if len(classes) < 2:
        return result(f"{len(classes)} class(es) with at least {min_per_class} galaxies")
    if not has_enough_galaxies(len(rows), min_galaxies):
        return result(f"{len(rows)} labelled galaxies, fewer than min_galaxies={min_galaxies}")
    try:
        train, test = train_test_split(np.arange(len(rows)), test_size=test_size, stratify=labels, random_state=seed)
    except ValueError as exc:
        return result(f"stratified split impossible: {exc}")
    return result(None, np.sort(train), np.sort(test))


# --------------------------------------------------------------------------- classifiers and scores


def check_n_jobs(n_jobs: object) -> int:
    """A forest's ``n_jobs``: a positive number of workers, or -1 for all cores.

    Raises
    ------
    GalvaeValueError
        Naming ``n_jobs`` and the value.
    """
    if isinstance(n_jobs, int) and not isinstance(n_jobs, bool) and n_jobs == -1:
        return -1
    return check_int("n_jobs (or -1: all cores)", n_jobs, minimum=1)


def random_forest(n_estimators: int, seed: int, *, n_jobs: int = 1, class_weight: str | None = None) -> Any:
    """The random forest of Tables 3 and 4 (scikit-learn, unfitted).

    Parameters
    ----------
    n_estimators : int
        Trees.
    seed : int
        ``random_state``.
    n_jobs : int, default 1
        Workers building the trees (-1: all cores); the forest is the same
        for any value.
    class_weight : {None, "balanced"}, default None
        None is the paper's plain forest.

    Returns
    -------
    sklearn.ensemble.RandomForestClassifier
    """
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs, class_weight=class_weight
    )


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
        None chooses by ``len(classes)`` (binary for two).  The tables pass
        :func:`averaging_of` the feature's *Table 2* classes, so a
        three-class feature that lost a rare class keeps micro averaging
        instead of switching to binary silently.

    Returns
    -------
    dict
        ``accuracy``, ``precision``, ``recall``, ``f1`` (micro for > 2
        classes, binary for 2), ``f1_macro``, ``averaging``.

    Raises
    ------
    GalvaeValueError
        With fewer than two classes, an unknown ``averaging``, or binary
        averaging of more than two classes.
    """
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    classes = list(classes)
    if len(classes) < 2:
        raise GalvaeValueError("metrics need at least two classes", classes)
    if averaging not in (None, "binary", "micro"):
        raise GalvaeValueError("averaging", averaging, ("binary", "micro"))
    avg = averaging or averaging_of(classes)
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


# --------------------------------------------------------------------------- markdown


def markdown_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table, one line per row, ending in a newline."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def skipped_notes(skipped: Mapping[str, str], dropped: Mapping[str, Sequence[str]]) -> str:
    """The markdown notes under a table: skipped features (why) and dropped rare classes; "" for none."""
    md = ""
    if skipped:
        md += "\nSkipped features: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()) + "\n"
    if dropped:
        md += (
            "\nDropped rare classes: " + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in dropped.items()) + "\n"
        )
    return md
