"""Galaxy Zoo DECaLS (GZD-5) vote fractions and the paper's Table 2 labels.

This module owns the GZD-5 decision-tree schema used everywhere in galvae
(the simulator writes its fraction columns from it), turns a Galaxy Zoo
DECaLS catalogue into the 26 morphology classes of Table 2 of the paper
(nine features), and names each galaxy's broad class.  The tables galvae
exchanges (Parquet, CSV, FITS) are read and written by
:mod:`galvae.data.tables`; :func:`read_catalog`, :func:`write_table` and
:func:`check_table_path` are importable from here too.

Catalogue conventions
---------------------
:func:`labels_from_catalog` accepts either

* the Zenodo GZ DECaLS catalogues (Walmsley et al. 2022,
  doi:10.5281/zenodo.4573248): vote fractions ``<question>_<answer>_fraction``,
  e.g. ``smooth-or-featured_smooth_fraction``, ``spiral-arm-count_2_fraction``;
* the galaxy-datasets / zoobot "dr5 ortho" catalogues: vote counts
  ``<question>-dr5_<answer>``, e.g. ``smooth-or-featured-dr5_smooth``.  The
  fraction of an answer is its votes divided by the sum of the votes over
  every answer of that question (:data:`GZ_DECALS_QUESTIONS`); a question
  with no votes has no fraction.

The convention is detected from the column names.  When a catalogue has
columns of both, the fractions are used.  Other columns (``id``, ``ra``,
``<question>_total-votes``, ``<question>_<answer>_debiased``, raw counts
beside the fractions, ...) are ignored.

The labelling rules
-------------------
Each feature is one GZD-5 question; each class is one answer, or a sum of
answers, with a threshold (Table 2, :data:`TABLE2_RULES`):

1. **Threshold.**  A galaxy passes a class when the class fraction is
   *strictly greater* than its threshold (Table 2 writes ``>0.8``).
2. **Decision tree.**  A question counts only where it was reached: the
   product of the fractions of the answers leading to it, from the root of
   :data:`GZ_DECALS_PARENTS` down, must be at least
   :attr:`LabelConfig.parent_threshold` (default 0.5).  That product is the
   expected fraction of volunteers who were asked the question (all votes
   flow down the tree), so 0.5 means "at least half of the volunteers were
   asked", and it implies that every answer on the way had at least that
   fraction too: ``arm_count`` needs
   ``featured-or-disk x no (not edge-on) x yes (has arms) >= 0.5``.
   ``merger`` (``merging``) is asked of every galaxy.  A parent threshold
   of 0 switches the check off.  The paper's "Group" column lists bulge
   size under "Edge-on"; GZD-5 asks ``bulge-size`` of galaxies that are
   *not* edge-on, and the tree here follows GZD-5.
3. **Never asked.**  A missing fraction (NaN, or a question with zero
   votes), in the question itself or on its path from the root, gives a
   missing label.
4. **Two classes passed.**  Where thresholds at or below 0.5 let a galaxy
   pass two classes (``arm_count`` 1 at 0.55 and 4 at 0.45), the class with
   the larger fraction wins; equal fractions give a missing label.
5. **Bulge size.**  GZD-5 has five bulge answers and Table 2 four classes:
   ``large`` is ``large + dominant``.  ``dominant`` is the next step of the
   same ordinal scale and Table 2 has no class for it, so leaving it out
   would leave the most bulge-dominated discs unlabelled, or labelled
   ``moderate`` by default; summing keeps "large" meaning "at least
   large".  Pass a :class:`LabelRule` with ``answers=("large",)`` to use
   the answer alone.

Labels are a pandas ``category`` column per feature, its categories in the
order of Table 2, missing where no class was selected.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validate import check_float
from .._version import __version__
from ..config import config_to_dict
from ..errors import GalvaeKeyError, GalvaeValueError
from .tables import check_table_path, read_catalog, write_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BROAD_CLASSES",
    "GZ_DECALS_QUESTIONS",
    "GZ_DECALS_PARENTS",
    "TABLE2_RULES",
    "LabelRule",
    "LabelConfig",
    "fraction_column",
    "vote_column",
    "detect_convention",
    "drop_duplicate_ids",
    "labels_from_catalog",
    "label_counts",
    "broad_class",
    # defined in galvae.data.tables, importable from here as before
    "read_catalog",
    "write_table",
    "check_table_path",
]

log = logging.getLogger(__name__)

#: GZD-5 questions and their answers, in the spelling of the Zenodo GZ DECaLS
#: catalogue (Walmsley et al. 2022).
GZ_DECALS_QUESTIONS: dict[str, tuple[str, ...]] = {
    "smooth-or-featured": ("smooth", "featured-or-disk", "artifact"),
    "disk-edge-on": ("yes", "no"),
    "has-spiral-arms": ("yes", "no"),
    "bar": ("strong", "weak", "no"),
    "bulge-size": ("dominant", "large", "moderate", "small", "none"),
    "how-rounded": ("round", "in-between", "cigar-shaped"),
    "edge-on-bulge": ("boxy", "none", "rounded"),
    "spiral-winding": ("tight", "medium", "loose"),
    "spiral-arm-count": ("1", "2", "3", "4", "more-than-4", "cant-tell"),
    "merging": ("none", "minor-disturbance", "major-disturbance", "merger"),
}

#: For each question, the (question, answer) a volunteer must have given to be
#: asked it; None for questions asked of every galaxy.
GZ_DECALS_PARENTS: dict[str, tuple[str, str] | None] = {
    "smooth-or-featured": None,
    "how-rounded": ("smooth-or-featured", "smooth"),
    "disk-edge-on": ("smooth-or-featured", "featured-or-disk"),
    "edge-on-bulge": ("disk-edge-on", "yes"),
    "bar": ("disk-edge-on", "no"),
    "has-spiral-arms": ("disk-edge-on", "no"),
    "bulge-size": ("disk-edge-on", "no"),
    "spiral-winding": ("has-spiral-arms", "yes"),
    "spiral-arm-count": ("has-spiral-arms", "yes"),
    "merging": None,
}

#: Tolerance on fractions just outside [0, 1] (rounding in published catalogues).
_FRACTION_TOL = 1e-6


def fraction_column(question: str, answer: str) -> str:
    """Zenodo GZ DECaLS column name, e.g. ``smooth-or-featured_smooth_fraction``."""
    return f"{question}_{answer}_fraction"


def vote_column(question: str, answer: str) -> str:
    """galaxy-datasets "dr5 ortho" vote-count column, e.g. ``smooth-or-featured-dr5_smooth``."""
    return f"{question}-dr5_{answer}"


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class LabelRule:
    """One class of Table 2: the answers that make it and its threshold.

    Parameters
    ----------
    feature : str
        Feature (output column) the class belongs to, e.g. ``"bar"``.
    label : str
        Class name, the category written in the output, e.g. ``"weak"``.
    question : str
        GZD-5 question, a key of :data:`GZ_DECALS_QUESTIONS`.
    answers : tuple of str
        Answers of ``question`` whose fractions are summed into the class
        fraction (one answer for every class except ``bulge_size.large``).
    threshold : float
        The class is selected where its fraction is strictly greater than
        this, in [0, 1].

    Raises
    ------
    GalvaeValueError
        If the question or an answer is not GZD-5, or the threshold is not
        a number in [0, 1].
    """

    feature: str
    label: str
    question: str
    answers: tuple[str, ...]
    threshold: float

    def __post_init__(self) -> None:
        for name in ("feature", "label"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or "." in value:
                raise GalvaeValueError(f"label rule {name} must be a non-empty string without '.'", value)
        if self.question not in GZ_DECALS_QUESTIONS:
            raise GalvaeValueError(
                f"label rule {self.feature}.{self.label}: unknown GZD-5 question", self.question, GZ_DECALS_QUESTIONS
            )
        answers = (self.answers,) if isinstance(self.answers, str) else tuple(self.answers)
        valid = GZ_DECALS_QUESTIONS[self.question]
        if not answers or any(a not in valid for a in answers) or len(set(answers)) != len(answers):
            raise GalvaeValueError(
                f"label rule {self.feature}.{self.label}: answers must be distinct answers of {self.question!r}",
                answers,
                valid,
            )
        object.__setattr__(self, "answers", answers)
        threshold = _check_fraction(self.threshold, f"threshold of {self.feature}.{self.label}")
        object.__setattr__(self, "threshold", threshold)


def _check_fraction(value: Any, what: str) -> float:
    return check_float(what, value, minimum=0, maximum=1)


def _rule(feature: str, label: str, question: str, answers: str | tuple[str, ...], threshold: float) -> LabelRule:
    return LabelRule(feature, label, question, (answers,) if isinstance(answers, str) else answers, threshold)


#: The 26 classes of Table 2 of the paper, in its order: feature, class,
#: GZD-5 question, answers summed, threshold (selected where fraction > threshold).
TABLE2_RULES: tuple[LabelRule, ...] = (
    _rule("how_rounded", "round", "how-rounded", "round", 0.8),
    _rule("how_rounded", "in-between", "how-rounded", "in-between", 0.8),
    _rule("how_rounded", "cigar", "how-rounded", "cigar-shaped", 0.8),
    _rule("edge_on", "edge-on", "disk-edge-on", "yes", 0.8),
    _rule("edge_on", "other", "disk-edge-on", "no", 0.8),
    _rule("edge_on_bulge", "rounded", "edge-on-bulge", "rounded", 0.8),
    _rule("edge_on_bulge", "boxy", "edge-on-bulge", "boxy", 0.5),
    _rule("edge_on_bulge", "none", "edge-on-bulge", "none", 0.5),
    _rule("bar", "none", "bar", "no", 0.8),
    _rule("bar", "weak", "bar", "weak", 0.6),
    _rule("bar", "strong", "bar", "strong", 0.6),
    _rule("has_arms", "yes", "has-spiral-arms", "yes", 0.8),
    _rule("has_arms", "no", "has-spiral-arms", "no", 0.5),
    _rule("arm_tightness", "tight", "spiral-winding", "tight", 0.8),
    _rule("arm_tightness", "medium", "spiral-winding", "medium", 0.6),
    _rule("arm_tightness", "loose", "spiral-winding", "loose", 0.8),
    _rule("arm_count", "1", "spiral-arm-count", "1", 0.5),
    _rule("arm_count", "2", "spiral-arm-count", "2", 0.9),
    _rule("arm_count", "3", "spiral-arm-count", "3", 0.5),
    _rule("arm_count", "4", "spiral-arm-count", "4", 0.4),
    _rule("bulge_size", "none", "bulge-size", "none", 0.5),
    _rule("bulge_size", "small", "bulge-size", "small", 0.7),
    _rule("bulge_size", "moderate", "bulge-size", "moderate", 0.6),
    _rule("bulge_size", "large", "bulge-size", ("large", "dominant"), 0.4),
    _rule("merger", "merger", "merging", "merger", 0.6),
    _rule("merger", "none", "merging", "none", 0.8),
)


@dataclass(frozen=True)
class LabelConfig:
    """How a Galaxy Zoo DECaLS catalogue becomes Table 2 labels.

    Parameters
    ----------
    rules : tuple of LabelRule, default TABLE2_RULES
        The classes, grouped by feature; the order of first appearance sets
        the order of the output columns and of each feature's categories.
        Every class of one feature must use the same question.
    parent_threshold : float, default 0.5
        A question counts only where the product of the fractions of the
        answers leading to it (from the root of the GZD-5 tree) is at least
        this, i.e. where at least this fraction of volunteers was asked it.
        0 switches the decision-tree check off.

    Raises
    ------
    GalvaeValueError
        If a rule is repeated, a feature mixes questions, there are no rules,
        or ``parent_threshold`` is not in [0, 1].

    Examples
    --------
    >>> cfg = LabelConfig().with_thresholds({"bar.weak": 0.5, "arm_count.2": 0.8})
    >>> cfg.threshold("bar", "weak")
    0.5
    >>> from dataclasses import replace
    >>> strict = replace(cfg, parent_threshold=0.7)
    """

    rules: tuple[LabelRule, ...] = TABLE2_RULES
    parent_threshold: float = 0.5

    def __post_init__(self) -> None:
        rules = tuple(self.rules) if isinstance(self.rules, list | tuple) else None
        if not rules or not all(isinstance(r, LabelRule) for r in rules):
            raise GalvaeValueError(
                "LabelConfig.rules must be a non-empty tuple of LabelRule", type(self.rules).__name__
            )
        seen: set[tuple[str, str]] = set()
        question_of: dict[str, str] = {}
        for r in rules:
            if (r.feature, r.label) in seen:
                raise GalvaeValueError("LabelConfig.rules repeats a class", f"{r.feature}.{r.label}")
            seen.add((r.feature, r.label))
            if question_of.setdefault(r.feature, r.question) != r.question:
                raise GalvaeValueError(
                    f"LabelConfig.rules: every class of feature {r.feature!r} must use one question",
                    f"{question_of[r.feature]!r} and {r.question!r}",
                )
        object.__setattr__(self, "rules", rules)
        object.__setattr__(self, "parent_threshold", _check_fraction(self.parent_threshold, "parent_threshold"))

    @property
    def features(self) -> tuple[str, ...]:
        """Feature names, in output-column order."""
        return tuple(dict.fromkeys(r.feature for r in self.rules))

    def feature_rules(self, feature: str) -> tuple[LabelRule, ...]:
        """The rules (classes) of one feature, in category order.

        Raises
        ------
        GalvaeKeyError
            If there is no such feature.
        """
        rules = tuple(r for r in self.rules if r.feature == feature)
        if not rules:
            raise GalvaeKeyError("no such label feature", feature, self.features)
        return rules

    def classes(self, feature: str) -> tuple[str, ...]:
        """Class names of one feature, in category order."""
        return tuple(r.label for r in self.feature_rules(feature))

    def question(self, feature: str) -> str:
        """The GZD-5 question behind one feature."""
        return self.feature_rules(feature)[0].question

    def threshold(self, feature: str, label: str) -> float:
        """Threshold of one class.

        Raises
        ------
        GalvaeKeyError
            If there is no such feature or class.
        """
        for r in self.feature_rules(feature):
            if r.label == label:
                return r.threshold
        raise GalvaeKeyError(f"feature {feature!r} has no such class", label, self.classes(feature))

    def with_thresholds(self, thresholds: Mapping[str, Any]) -> LabelConfig:
        """Return a copy with some class thresholds changed.

        Parameters
        ----------
        thresholds : mapping
            Either ``{"feature.class": value}`` (e.g. ``{"bar.weak": 0.5}``),
            or ``{"feature": {"class": value}}``; values in [0, 1].

        Returns
        -------
        LabelConfig
            A new configuration; this one is unchanged.

        Raises
        ------
        GalvaeKeyError
            If a feature or class does not exist.
        GalvaeValueError
            If a key is malformed or a value is not a number in [0, 1].
        """
        if not isinstance(thresholds, Mapping):
            raise GalvaeValueError("thresholds must be a mapping", type(thresholds).__name__)
        flat: dict[tuple[str, str], Any] = {}
        for key, value in thresholds.items():
            if isinstance(value, Mapping):
                for label, v in value.items():
                    flat[(str(key), str(label))] = v
                continue
            feature, sep, label = str(key).partition(".")
            if not sep or not feature or not label:
                raise GalvaeValueError("threshold keys are 'feature.class'", key, self._class_keys()[:6] + ["..."])
            flat[(feature, label)] = value
        for feature, label in flat:
            self.threshold(feature, label)
        rules = tuple(
            replace(r, threshold=flat[(r.feature, r.label)]) if (r.feature, r.label) in flat else r for r in self.rules
        )
        return replace(self, rules=rules)

    def _class_keys(self) -> list[str]:
        return [f"{r.feature}.{r.label}" for r in self.rules]

    def as_frame(self) -> pd.DataFrame:
        """The rules as a table: feature, class, question, answers, threshold."""
        import pandas as pd

        return pd.DataFrame(
            {
                "feature": [r.feature for r in self.rules],
                "class": [r.label for r in self.rules],
                "question": [r.question for r in self.rules],
                "answers": ["+".join(r.answers) for r in self.rules],
                "threshold": [r.threshold for r in self.rules],
            }
        )


# --------------------------------------------------------------------------- fractions from a catalogue


def _column_lookup(df: pd.DataFrame) -> dict[str, Any]:
    """Map column names to the catalogue's own labels, exact first, then case-insensitive."""
    lookup: dict[str, Any] = {}
    lower: dict[str, list[Any]] = {}
    for col in df.columns:
        if isinstance(col, str):
            lookup[col] = col
            lower.setdefault(col.lower(), []).append(col)
    for key, cols in lower.items():
        if len(cols) == 1 and key not in lookup:
            lookup[key] = cols[0]
    return lookup


def _needed_questions(config: LabelConfig) -> list[str]:
    questions: list[str] = []
    for feature in config.features:
        q: str | None = config.question(feature)
        while q is not None:
            if q not in questions:
                questions.append(q)
            if config.parent_threshold <= 0.0:
                break
            parent = GZ_DECALS_PARENTS[q]
            q = parent[0] if parent else None
    return questions


def detect_convention(df: pd.DataFrame, questions: Any = None) -> str:
    """Say which Galaxy Zoo column convention a catalogue follows.

    Parameters
    ----------
    df : DataFrame
        The catalogue.
    questions : iterable of str, optional
        Questions to look for; default every GZD-5 question.

    Returns
    -------
    str
        ``"fractions"`` (``<question>_<answer>_fraction``, preferred when
        both are present) or ``"votes"`` (``<question>-dr5_<answer>``).

    Raises
    ------
    GalvaeValueError
        If the catalogue has columns of neither convention; the message
        names both patterns and a few of the expected columns.
    """
    questions = list(GZ_DECALS_QUESTIONS) if questions is None else list(questions)
    lookup = _column_lookup(df)
    pairs = [(q, a) for q in questions for a in GZ_DECALS_QUESTIONS[q]]
    if any(fraction_column(q, a) in lookup or fraction_column(q, a).lower() in lookup for q, a in pairs):
        return "fractions"
    if any(vote_column(q, a) in lookup or vote_column(q, a).lower() in lookup for q, a in pairs):
        return "votes"
    expected = [fraction_column(q, a) for q, a in pairs[:2]] + [vote_column(q, a) for q, a in pairs[:2]]
    present = [str(c) for c in df.columns[:8]]
    raise GalvaeValueError(
        "catalog has no Galaxy Zoo DECaLS columns: expected vote fractions '<question>_<answer>_fraction' "
        "(Zenodo GZ DECaLS) or vote counts '<question>-dr5_<answer>' (galaxy-datasets dr5 ortho); "
        f"missing e.g. {', '.join(expected)}",
        value=f"columns {', '.join(present) or 'none'}{', ...' if len(df.columns) > 8 else ''}",
    )


def _numeric(df: pd.DataFrame, col: Any) -> np.ndarray:
    series = df[col]
    try:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise GalvaeValueError(f"catalog column {col!r} must hold numbers", value=str(series.dtype)) from None
    if np.isinf(values).any():
        n_inf = int(np.isinf(values).sum())
        raise GalvaeValueError(f"catalog column {col!r} holds infinite values", value=f"{n_inf} rows")
    return values


class _Fractions:
    """Answer fractions of a catalogue, per question, in one convention."""

    def __init__(self, df: pd.DataFrame, convention: str) -> None:
        self.df = df
        self.convention = convention
        self.lookup = _column_lookup(df)
        self._cache: dict[str, dict[str, np.ndarray] | None] = {}
        self._warned: set[str] = set()

    def warn(self, message: str, *args: Any) -> None:
        """Log a warning once per distinct message."""
        text = message % args
        if text not in self._warned:
            self._warned.add(text)
            log.warning("%s", text)

    def _col(self, name: str) -> Any:
        return self.lookup.get(name, self.lookup.get(name.lower()))

    def question(self, question: str, answers: tuple[str, ...]) -> dict[str, np.ndarray] | None:
        """Fractions of ``answers`` of ``question``; None (and one logged warning) if columns are missing."""
        if question not in self._cache:
            self._cache[question] = self._load(question)
        got = self._cache[question]
        if got is None:
            return None
        missing = [a for a in answers if a not in got]
        if missing:
            column = fraction_column if self.convention == "fractions" else vote_column
            names = ", ".join(repr(column(question, a)) for a in missing)
            self.warn("catalogue has no column %s; labels that need it are missing", names)
            return None
        return got

    def _load(self, question: str) -> dict[str, np.ndarray] | None:
        answers = GZ_DECALS_QUESTIONS[question]
        if self.convention == "fractions":
            out: dict[str, np.ndarray] = {}
            for a in answers:
                col = self._col(fraction_column(question, a))
                if col is None:
                    continue
                values = _numeric(self.df, col)
                bad = (values < -_FRACTION_TOL) | (values > 1.0 + _FRACTION_TOL)
                if bad.any():
                    raise GalvaeValueError(
                        f"catalog column {col!r} holds vote fractions outside [0, 1]", value=float(values[bad][0])
                    )
                out[a] = np.clip(values, 0.0, 1.0)
            if not out:
                self.warn(
                    "catalogue has no '%s' columns; labels from question %r are missing",
                    fraction_column(question, "<answer>"),
                    question,
                )
                return None
            return out
        cols = {a: self._col(vote_column(question, a)) for a in answers}
        missing = [vote_column(question, a) for a, c in cols.items() if c is None]
        if missing:
            self.warn(
                "catalogue lacks vote column(s) %s, so question %r has no total; labels from it are missing",
                ", ".join(repr(m) for m in missing),
                question,
            )
            return None
        votes = {}
        for a, col in cols.items():
            values = _numeric(self.df, col)
            if (values < 0).any():
                raise GalvaeValueError(
                    f"catalog column {col!r} holds negative vote counts", value=float(values[values < 0][0])
                )
            votes[a] = values
        total = np.sum(np.stack(list(votes.values())), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return {a: np.where(total > 0, v / np.where(total > 0, total, 1.0), np.nan) for a, v in votes.items()}


def drop_duplicate_ids(
    catalog: pd.DataFrame, source: str | os.PathLike[str], *, strict: bool = False
) -> tuple[pd.DataFrame, list[str]]:
    """Keep the first row of each id of a catalogue, as ``galvae ingest`` does, or refuse repeated ids.

    A galaxy labelled twice would be counted twice in Table 2's sizes and
    joined twice to its image; as in :func:`~galvae.data.ingest.ingest`, a
    repeated id is skipped (the first row kept) with a logged warning that
    names the file, and ``strict`` (``galvae labels --strict``) refuses the
    catalogue instead.

    Parameters
    ----------
    catalog : DataFrame
        The catalogue; without an ``id`` column it is returned unchanged.
    source : str or path-like
        The file it was read from, named in the warning and the error.
    strict : bool, default False
        Raise instead of skipping.

    Returns
    -------
    (DataFrame, list of str)
        The catalogue without the repeated rows (index reset to 0, 1, ...
        when rows were dropped), and the id of every row dropped, in file
        order (an id repeated three times appears twice).

    Raises
    ------
    GalvaeValueError
        With ``strict``, if an id appears more than once; the message names
        ``source``, the number of repeated rows and the first repeated ids.
    """
    if "id" not in catalog.columns:
        return catalog, []
    repeated = catalog["id"].duplicated(keep="first").to_numpy()
    if not repeated.any():
        return catalog, []
    dropped = [str(v) for v in catalog["id"][repeated]]
    distinct = list(dict.fromkeys(dropped))
    shown = ", ".join(repr(i) for i in distinct[:5]) + (", ..." if len(distinct) > 5 else "")
    what = f"{len(dropped)} row(s) repeat an earlier id ({len(distinct)} id(s): {shown})"
    if strict:
        raise GalvaeValueError(
            f"{os.fspath(source)}: {what}; ids must be unique (strict mode refuses the catalogue, nothing was written)"
        )
    log.warning("%s: %s; the first row of each id is kept, the others skipped", os.fspath(source), what)
    return catalog.loc[~repeated].reset_index(drop=True), dropped


def labels_from_catalog(
    df: pd.DataFrame, config: LabelConfig | None = None, *, source: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """Label galaxies with the 26 morphology classes of Table 2 of the paper.

    Parameters
    ----------
    df : DataFrame
        A Galaxy Zoo DECaLS catalogue, one row per galaxy: vote fractions
        ``<question>_<answer>_fraction`` (Zenodo) or vote counts
        ``<question>-dr5_<answer>`` (galaxy-datasets dr5 ortho); see the
        module documentation for the conventions and the rules.
    config : LabelConfig, optional
        Thresholds and the decision-tree rule; default the paper's Table 2
        with ``parent_threshold=0.5``.
    source : str or path-like, optional
        The file ``df`` was read from; errors about its values then start
        with it (``galvae labels`` passes the catalogue's path).

    Returns
    -------
    DataFrame
        Same index as ``df``; ``id`` first if ``df`` has an ``id`` column,
        then one ``category`` column per feature (``how_rounded``,
        ``edge_on``, ``edge_on_bulge``, ``bar``, ``has_arms``,
        ``arm_tightness``, ``arm_count``, ``bulge_size``, ``merger``), its
        categories in Table 2 order and missing where no class was selected.
        ``attrs["galvae_labels"]`` records the convention, the configuration
        and the galvae version (kept in Parquet files).

    Raises
    ------
    GalvaeValueError
        If ``df`` is not a DataFrame, has no Galaxy Zoo columns, or holds
        non-numeric, infinite or out-of-range values in them (the message
        starts with ``source`` when given).

    Notes
    -----
    A feature whose question (or a question on its path from the root) has
    no columns in the catalogue is all missing, and a warning is logged.
    """
    if config is None:
        config = LabelConfig()
    elif not isinstance(config, LabelConfig):
        raise GalvaeValueError("config must be a LabelConfig", type(config).__name__)
    if source is None:
        return _labels_from_catalog(df, config)
    try:
        return _labels_from_catalog(df, config)
    except GalvaeValueError as exc:
        raise GalvaeValueError(f"{os.fspath(source)}: {exc.message}", exc.value, exc.allowed) from None


def _labels_from_catalog(df: pd.DataFrame, config: LabelConfig) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise GalvaeValueError("catalog must be a pandas DataFrame", type(df).__name__)
    convention = detect_convention(df, _needed_questions(config))
    log.info("labelling %d galaxies from %s (parent threshold %g)", len(df), convention, config.parent_threshold)
    source = _Fractions(df, convention)
    n = len(df)
    columns: dict[str, Any] = {}
    if "id" in df.columns:
        columns["id"] = df["id"].array
    for feature in config.features:
        rules = config.feature_rules(feature)
        codes = _feature_codes(source, rules, config.parent_threshold, n)
        columns[feature] = pd.Categorical.from_codes(codes, categories=[r.label for r in rules])
    out = pd.DataFrame(columns, index=df.index)
    out.attrs["galvae_labels"] = {
        "convention": convention,
        "config": config_to_dict(config),
        "galvae_version": __version__,
    }
    return out


def _reach(source: _Fractions, question: str, parent_threshold: float, n: int) -> np.ndarray | None:
    """Boolean mask of galaxies where ``question`` was reached; None if a parent has no columns."""
    if parent_threshold <= 0.0:
        return np.ones(n, dtype=bool)
    product = np.ones(n, dtype=np.float64)
    parent = GZ_DECALS_PARENTS[question]
    while parent is not None:
        pq, pa = parent
        fractions = source.question(pq, (pa,))
        if fractions is None:
            source.warn("cannot check the decision tree above question %r; its labels are missing", question)
            return None
        product *= fractions[pa]
        parent = GZ_DECALS_PARENTS[pq]
    with np.errstate(invalid="ignore"):
        return product >= parent_threshold


def _feature_codes(source: _Fractions, rules: tuple[LabelRule, ...], parent_threshold: float, n: int) -> np.ndarray:
    """Category codes (-1 = missing) of one feature."""
    codes = np.full(n, -1, dtype=np.int64)
    question = rules[0].question
    answers = tuple(dict.fromkeys(a for r in rules for a in r.answers))
    fractions = source.question(question, answers)
    if fractions is None:
        return codes
    reached = _reach(source, question, parent_threshold, n)
    if reached is None:
        return codes
    frac = np.stack([np.sum([fractions[a] for a in r.answers], axis=0) for r in rules], axis=1)
    thresholds = np.array([r.threshold for r in rules])
    with np.errstate(invalid="ignore"):
        passed = frac > thresholds
    score = np.where(passed, frac, -np.inf)
    best = np.argmax(score, axis=1)
    top = score[np.arange(n), best]
    tied = (score == top[:, None]).sum(axis=1) > 1
    ok = reached & passed.any(axis=1) & ~tied
    codes[ok] = best[ok]
    return codes


def label_counts(labels: pd.DataFrame, config: LabelConfig | None = None) -> pd.DataFrame:
    """Count galaxies per class: the "Size" column of Table 2.

    Parameters
    ----------
    labels : DataFrame
        Output of :func:`labels_from_catalog` (or the same table read back
        from Parquet, CSV or FITS).
    config : LabelConfig, optional
        The configuration the labels were made with, for the thresholds and
        the class order; default the paper's Table 2.

    Returns
    -------
    DataFrame
        Columns ``feature``, ``class``, ``count`` (int), ``threshold``; one
        row per class, in Table 2 order.

    Raises
    ------
    GalvaeKeyError
        If ``labels`` lacks a feature column of ``config``.
    GalvaeValueError
        If ``labels`` holds a class that ``config`` does not define.
    """
    import pandas as pd

    if not isinstance(labels, pd.DataFrame):
        raise GalvaeValueError("labels must be a pandas DataFrame", type(labels).__name__)
    config = LabelConfig() if config is None else config
    rows = []
    for feature in config.features:
        if feature not in labels.columns:
            raise GalvaeKeyError("labels have no column for feature", feature, [str(c) for c in labels.columns])
        values = _as_class_strings(labels[feature])
        counts = values.value_counts()
        classes = config.classes(feature)
        unknown = sorted(set(counts.index) - set(classes))
        if unknown:
            raise GalvaeValueError(f"labels of feature {feature!r} hold unknown classes", unknown, classes)
        for label in classes:
            rows.append((feature, label, int(counts.get(label, 0)), config.threshold(feature, label)))
    return pd.DataFrame(rows, columns=["feature", "class", "count", "threshold"])


def _as_class_strings(series: pd.Series) -> pd.Series:
    """Class names as strings, missing dropped (numbers read back from CSV: 2.0 -> '2')."""
    import pandas as pd

    series = series.dropna()
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    return series.map(
        lambda v: (
            format(v, "g")
            if isinstance(v, int | float | np.number)
            else (v.decode() if isinstance(v, bytes) else str(v))
        )
    )


# --------------------------------------------------------------------------- broad classes

#: A galaxy's broad classes, in legend order (:func:`broad_class`).
BROAD_CLASSES: tuple[str, ...] = ("smooth", "featured", "edge-on", "merger", "artifact")

_FIRST_BRANCH = GZ_DECALS_QUESTIONS["smooth-or-featured"]  # smooth, featured-or-disk, artifact
_LABEL_FEATURES = ("merger", "edge_on", "how_rounded", "has_arms", "bar")


def broad_class(table: pd.DataFrame, *, mergers: bool = True) -> pd.Series:
    """One broad class per galaxy: smooth, featured, edge-on, merger or artifact.

    From a Galaxy Zoo catalogue (``smooth-or-featured`` fractions, or dr5
    vote counts turned into fractions): the first-branch answer with the
    largest fraction (``featured-or-disk`` → "featured"); a featured galaxy
    with a ``disk-edge-on`` yes fraction above 0.5 is "edge-on" instead.
    From a Table 2 labels table (:func:`labels_from_catalog`, ``galvae
    labels``): "edge-on" for ``edge_on`` = "edge-on", else "smooth" for a
    ``how_rounded`` class, else "featured" for ``edge_on`` = "other" or a
    ``has_arms``/``bar`` class.  With ``mergers``, a Table 2 ``merger`` =
    "merger" label (from the catalogue's ``merging`` question, or the labels
    table) takes precedence over all of these.

    Parameters
    ----------
    table : DataFrame
        A Galaxy Zoo catalogue or a Table 2 labels table.
    mergers : bool, default True
        Whether "merger" is a class; without it the classes are the first
        branch of the decision tree (the paper's Fig. 4 categories).

    Returns
    -------
    Series of str (object), same index; None where no class applies (no
    first-branch fractions, or no label of those features).

    Raises
    ------
    GalvaeValueError
        If the table has neither Galaxy Zoo first-branch columns nor Table 2
        labels.
    """
    import pandas as pd

    cols = set(map(str, table.columns))
    if _has_first_branch(cols):
        out = _first_branch_class(table)
        merger = _catalogue_mergers(table) if mergers else None
    elif any(f in cols for f in _LABEL_FEATURES):
        out = _class_from_labels(table)
        merger = _label_values(table, "merger") == "merger" if mergers else None
    else:
        raise GalvaeValueError(
            "broad classes need Galaxy Zoo smooth-or-featured fractions or votes, or Table 2 label columns",
            sorted(cols)[:8],
            allowed=_LABEL_FEATURES,
        )
    if merger is not None:
        out[merger] = "merger"
    return pd.Series(out, index=table.index, dtype=object)


def _has_first_branch(cols: set[str]) -> bool:
    return all(fraction_column("smooth-or-featured", a) in cols for a in _FIRST_BRANCH) or all(
        vote_column("smooth-or-featured", a) in cols for a in _FIRST_BRANCH
    )


def _answer_fractions(table: pd.DataFrame, question: str, answers: tuple[str, ...]) -> np.ndarray | None:
    """(N, len(answers)) fractions of one question: the fraction columns, else votes / their sum; None if absent."""
    fracs = [fraction_column(question, a) for a in answers]
    if all(c in table.columns for c in fracs):
        return table[fracs].to_numpy(dtype=np.float64)
    votes = [vote_column(question, a) for a in GZ_DECALS_QUESTIONS[question]]
    if not all(c in table.columns for c in votes):
        return None
    v = table[votes].to_numpy(dtype=np.float64)
    total = v.sum(axis=1, keepdims=True)
    f = np.divide(v, total, out=np.full_like(v, np.nan), where=total > 0)
    return f[:, [GZ_DECALS_QUESTIONS[question].index(a) for a in answers]]


def _first_branch_class(table: pd.DataFrame) -> np.ndarray:
    f = _answer_fractions(table, "smooth-or-featured", _FIRST_BRANCH)
    assert f is not None  # checked by _has_first_branch
    edge = _answer_fractions(table, "disk-edge-on", ("yes",))
    arg = np.argmax(np.where(np.isfinite(f), f, -1), axis=1)
    out = np.array(["smooth", "featured", "artifact"], dtype=object)[arg]
    if edge is not None:
        out[(arg == 1) & (np.nan_to_num(edge[:, 0], nan=0.0) > 0.5)] = "edge-on"
    out[~np.all(np.isfinite(f), axis=1)] = None
    return out


def _catalogue_mergers(table: pd.DataFrame) -> np.ndarray | None:
    """Where the Table 2 merger label is "merger"; None without a ``merging`` question."""
    if not any(str(c).startswith("merging") for c in table.columns):
        return None
    config = LabelConfig(rules=tuple(r for r in TABLE2_RULES if r.feature == "merger"))
    try:
        merger = labels_from_catalog(table, config)["merger"]
    except GalvaeValueError as exc:
        log.info("no merger labels from the catalogue: %s", exc)
        return None
    return (merger == "merger").fillna(False).to_numpy(dtype=bool)


def _label_values(table: pd.DataFrame, feature: str) -> np.ndarray:
    """A label column as an object array, None where missing (or absent)."""
    if feature not in table.columns:
        return np.full(len(table), None, dtype=object)
    col = table[feature].astype(object)
    return col.where(col.notna(), None).to_numpy(dtype=object)


def _class_from_labels(table: pd.DataFrame) -> np.ndarray:
    edge, rounded, arms, bar = (_label_values(table, f) for f in ("edge_on", "how_rounded", "has_arms", "bar"))
    labelled = np.vectorize(lambda v: v is not None, otypes=[bool])
    out = np.full(len(table), None, dtype=object)
    out[(edge == "other") | labelled(arms) | labelled(bar)] = "featured"
    out[labelled(rounded)] = "smooth"
    out[edge == "edge-on"] = "edge-on"
    return out
