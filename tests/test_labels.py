"""Galaxy Zoo DECaLS catalogues -> Table 2 labels, and a labels table through a file (tests/test_tables.py: the formats)."""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from galvae.cli import main
from galvae.config import load_config, save_config
from galvae.data.labels import (
    BROAD_CLASSES,
    GZ_DECALS_PARENTS,
    GZ_DECALS_QUESTIONS,
    TABLE2_RULES,
    LabelConfig,
    LabelRule,
    broad_class,
    detect_convention,
    drop_duplicate_ids,
    fraction_column,
    label_counts,
    labels_from_catalog,
    read_catalog,
    vote_column,
    write_table,
)
from galvae.errors import GalvaeKeyError, GalvaeValueError

FEATURES = (
    "how_rounded",
    "edge_on",
    "edge_on_bulge",
    "bar",
    "has_arms",
    "arm_tightness",
    "arm_count",
    "bulge_size",
    "merger",
)

# Decision-tree paths: fractions that reach each branch with certainty.
SMOOTH = {"smooth-or-featured": {"smooth": 1.0}}
FEATURED = {"smooth-or-featured": {"featured-or-disk": 1.0}}
EDGE_ON = {**FEATURED, "disk-edge-on": {"yes": 1.0}}
FACE_ON = {**FEATURED, "disk-edge-on": {"no": 1.0}}
ARMS = {**FACE_ON, "has-spiral-arms": {"yes": 1.0}}
PATH_TO = {
    "how-rounded": SMOOTH,
    "disk-edge-on": FEATURED,
    "edge-on-bulge": EDGE_ON,
    "bar": FACE_ON,
    "has-spiral-arms": FACE_ON,
    "bulge-size": FACE_ON,
    "spiral-winding": ARMS,
    "spiral-arm-count": ARMS,
    "merging": {},
}


def galaxy(spec: dict[str, dict[str, float]]) -> dict[str, float]:
    """Fraction columns of one galaxy: listed answers as given, the rest of an asked question 0, others NaN."""
    row = {}
    for question, answers in GZ_DECALS_QUESTIONS.items():
        given = spec.get(question)
        for answer in answers:
            row[fraction_column(question, answer)] = np.nan if given is None else float(given.get(answer, 0.0))
    return row


def catalog(specs, ids=None, index=None) -> pd.DataFrame:
    df = pd.DataFrame([galaxy(s) for s in specs], index=index)
    if ids is not None:
        df.insert(0, "id", ids)
    return df


def votes_from_fractions_source(counts: dict[str, np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same galaxies as dr5 vote counts and as fractions (answer votes / question votes, NaN if none)."""
    votes, fractions = {}, {}
    for question, answers in GZ_DECALS_QUESTIONS.items():
        c = counts[question]
        total = c.sum(axis=1)
        for j, answer in enumerate(answers):
            votes[vote_column(question, answer)] = c[:, j]
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(total > 0, c[:, j] / np.where(total > 0, total, 1), np.nan)
            fractions[fraction_column(question, answer)] = share
    return pd.DataFrame(votes), pd.DataFrame(fractions)


def class_spec(rule: LabelRule, fraction: float = 0.95) -> dict[str, dict[str, float]]:
    """A galaxy on the path to ``rule``'s question giving ``fraction`` to the class (split over its answers)."""
    share = {a: fraction / len(rule.answers) for a in rule.answers}
    others = [a for a in GZ_DECALS_QUESTIONS[rule.question] if a not in rule.answers]
    share[others[0]] = 1.0 - fraction
    return {**PATH_TO[rule.question], rule.question: share}


# --------------------------------------------------------------------------- the rules


def test_default_config_is_table2():
    cfg = LabelConfig()
    assert cfg.features == FEATURES
    assert len(cfg.rules) == 26
    assert cfg.classes("how_rounded") == ("round", "in-between", "cigar")
    assert cfg.classes("edge_on") == ("edge-on", "other")
    assert cfg.classes("edge_on_bulge") == ("rounded", "boxy", "none")
    assert cfg.classes("bar") == ("none", "weak", "strong")
    assert cfg.classes("has_arms") == ("yes", "no")
    assert cfg.classes("arm_tightness") == ("tight", "medium", "loose")
    assert cfg.classes("arm_count") == ("1", "2", "3", "4")
    assert cfg.classes("bulge_size") == ("none", "small", "moderate", "large")
    assert cfg.classes("merger") == ("merger", "none")
    expected = {
        "how_rounded": (0.8, 0.8, 0.8),
        "edge_on": (0.8, 0.8),
        "edge_on_bulge": (0.8, 0.5, 0.5),
        "bar": (0.8, 0.6, 0.6),
        "has_arms": (0.8, 0.5),
        "arm_tightness": (0.8, 0.6, 0.8),
        "arm_count": (0.5, 0.9, 0.5, 0.4),
        "bulge_size": (0.5, 0.7, 0.6, 0.4),
        "merger": (0.6, 0.8),
    }
    for feature, thresholds in expected.items():
        assert tuple(cfg.threshold(feature, c) for c in cfg.classes(feature)) == thresholds
    by_key = {(r.feature, r.label): r for r in cfg.rules}
    assert by_key[("how_rounded", "cigar")].answers == ("cigar-shaped",)
    assert by_key[("bar", "none")].answers == ("no",)
    assert by_key[("edge_on", "edge-on")].answers == ("yes",)
    assert by_key[("bulge_size", "large")].answers == ("large", "dominant")
    assert by_key[("merger", "merger")].question == "merging"
    assert cfg.parent_threshold == 0.5


def test_every_one_of_the_26_classes_is_produced():
    specs = [class_spec(rule) for rule in TABLE2_RULES]
    labels = labels_from_catalog(catalog(specs))
    for i, rule in enumerate(TABLE2_RULES):
        assert labels[rule.feature].iloc[i] == rule.label, (rule, labels.iloc[i].to_dict())
    counts = label_counts(labels)
    assert len(counts) == 26
    # each class row is labelled once by its own galaxy (edge_on/has_arms also by the path of others)
    own = counts.set_index(["feature", "class"])["count"]
    assert own[("how_rounded", "round")] == 1 and own[("arm_count", "4")] == 1 and own[("merger", "merger")] == 1


def test_a_smooth_galaxy_has_no_disc_labels():
    labels = labels_from_catalog(catalog([{**SMOOTH, "how-rounded": {"round": 0.9, "in-between": 0.1}}]))
    row = labels.iloc[0]
    assert row["how_rounded"] == "round"
    for feature in (
        "edge_on",
        "edge_on_bulge",
        "bar",
        "has_arms",
        "arm_tightness",
        "arm_count",
        "bulge_size",
        "merger",
    ):
        assert pd.isna(row[feature])


def test_output_dtype_index_and_id():
    df = catalog([class_spec(TABLE2_RULES[0]), SMOOTH], ids=["a", "b"], index=pd.Index([10, 20], name="row"))
    labels = labels_from_catalog(df)
    assert list(labels.columns) == ["id", *FEATURES]
    assert labels.index.equals(df.index)
    assert labels["id"].tolist() == ["a", "b"]
    for feature in FEATURES:
        dtype = labels[feature].dtype
        assert isinstance(dtype, pd.CategoricalDtype)
        assert tuple(dtype.categories) == LabelConfig().classes(feature)
    assert labels.loc[10, "how_rounded"] == "round" and pd.isna(labels.loc[20, "how_rounded"])
    assert labels.attrs["galvae_labels"]["convention"] == "fractions"


def test_without_id_column_only_features():
    labels = labels_from_catalog(catalog([SMOOTH]))
    assert list(labels.columns) == list(FEATURES)


@pytest.mark.parametrize(("fraction", "expected"), [(0.8, None), (0.80001, "round"), (0.79, None), (1.0, "round")])
def test_threshold_is_strictly_greater(fraction, expected):
    df = catalog([{**SMOOTH, "how-rounded": {"round": fraction, "in-between": 1.0 - fraction}}])
    value = labels_from_catalog(df)["how_rounded"].iloc[0]
    assert pd.isna(value) if expected is None else value == expected


def test_parent_not_reached_gives_missing_even_with_a_confident_child():
    df = catalog(
        [
            {"smooth-or-featured": {"smooth": 0.4, "featured-or-disk": 0.6}, "how-rounded": {"round": 1.0}},
            {"smooth-or-featured": {"smooth": 0.5, "featured-or-disk": 0.5}, "how-rounded": {"round": 1.0}},
        ]
    )
    labels = labels_from_catalog(df)
    assert pd.isna(labels["how_rounded"].iloc[0])
    assert labels["how_rounded"].iloc[1] == "round"  # parent rule is >= parent_threshold


def test_parent_rule_is_the_product_down_the_tree():
    # featured 0.7 x not-edge-on 0.7 = 0.49: each step is a majority, but fewer than half were asked.
    low = {
        "smooth-or-featured": {"featured-or-disk": 0.7, "smooth": 0.3},
        "disk-edge-on": {"no": 0.7, "yes": 0.3},
        "bar": {"no": 1.0},
    }
    high = {
        "smooth-or-featured": {"featured-or-disk": 0.8, "smooth": 0.2},
        "disk-edge-on": {"no": 0.7, "yes": 0.3},
        "bar": {"no": 1.0},
    }
    df = catalog([low, high])
    labels = labels_from_catalog(df)
    assert pd.isna(labels["bar"].iloc[0]) and labels["bar"].iloc[1] == "none"
    # three levels: arm count needs featured x no x has-arms >= 0.5
    deep = {**high, "has-spiral-arms": {"yes": 0.85, "no": 0.15}, "spiral-arm-count": {"2": 1.0}}
    labels = labels_from_catalog(catalog([deep]))
    assert labels["has_arms"].iloc[0] == "yes"  # 0.56 >= 0.5
    assert pd.isna(labels["arm_count"].iloc[0])  # 0.56 x 0.85 = 0.476 < 0.5
    loose = labels_from_catalog(catalog([deep]), LabelConfig(parent_threshold=0.45))
    assert loose["arm_count"].iloc[0] == "2"
    off = labels_from_catalog(df, LabelConfig(parent_threshold=0.0))
    assert off["bar"].tolist() == ["none", "none"]


def test_nan_fractions_give_missing():
    df = catalog(
        [
            {**SMOOTH, "how-rounded": {"round": np.nan, "in-between": 0.0, "cigar-shaped": 0.0}},
            {"how-rounded": {"round": 1.0}},  # parent question never asked: NaN
            SMOOTH,  # how-rounded never asked
        ]
    )
    labels = labels_from_catalog(df)
    assert labels["how_rounded"].isna().all()
    assert labels["merger"].isna().all()


def test_zero_votes_give_missing_and_dr5_matches_fractions():
    rng = np.random.default_rng(7)
    n = 300
    counts = {}
    for question, answers in GZ_DECALS_QUESTIONS.items():
        p = rng.dirichlet(np.full(len(answers), 0.2), size=n)
        counts[question] = np.array([rng.multinomial(30, pi) for pi in p])
    # some galaxies were never asked the questions below the root
    never = rng.random(n) < 0.2
    for question, parent in GZ_DECALS_PARENTS.items():
        if parent is not None:
            counts[question][never] = 0
    votes, fractions = votes_from_fractions_source(counts)
    from_votes = labels_from_catalog(votes)
    from_fractions = labels_from_catalog(fractions)
    pd.testing.assert_frame_equal(from_votes, from_fractions)
    assert from_votes.attrs["galvae_labels"]["convention"] == "votes"
    assert from_votes.loc[never, "how_rounded"].isna().all()
    assert from_votes.loc[never, "bar"].isna().all()
    assert from_votes.loc[~never, list(FEATURES)].notna().any().all()  # every feature gets some labels


def test_zero_total_votes_in_the_question_itself_is_missing():
    counts = {q: np.zeros((2, len(a)), dtype=int) for q, a in GZ_DECALS_QUESTIONS.items()}
    counts["merging"][0] = [10, 0, 0, 0]
    votes, _ = votes_from_fractions_source(counts)
    labels = labels_from_catalog(votes)
    assert labels["merger"].iloc[0] == "none" and pd.isna(labels["merger"].iloc[1])


def test_two_classes_passed_larger_fraction_wins_tie_is_missing():
    arms = {"spiral-arm-count": {"1": 0.55, "4": 0.45}}
    tie = {"spiral-arm-count": {"1": 0.45, "4": 0.45, "cant-tell": 0.1}}
    four = {"spiral-arm-count": {"1": 0.44, "4": 0.46, "cant-tell": 0.1}}
    df = catalog([{**ARMS, **s} for s in (arms, tie, four)])
    labels = labels_from_catalog(df)
    assert labels["arm_count"].iloc[0] == "1"
    assert labels["arm_count"].iloc[1] == "4"  # default: '1' needs > 0.5, so '4' passes alone
    cfg = LabelConfig().with_thresholds({"arm_count.1": 0.4})
    labels = labels_from_catalog(df, cfg)
    assert labels["arm_count"].tolist()[0] == "1"
    assert pd.isna(labels["arm_count"].iloc[1])  # both pass with 0.45: a tie
    assert labels["arm_count"].iloc[2] == "4"


def test_bulge_large_is_large_plus_dominant():
    df = catalog(
        [
            {**FACE_ON, "bulge-size": {"large": 0.25, "dominant": 0.25, "moderate": 0.5}},
            {**FACE_ON, "bulge-size": {"dominant": 0.9, "moderate": 0.1}},
        ]
    )
    assert labels_from_catalog(df)["bulge_size"].tolist() == ["large", "large"]
    rules = tuple(
        dataclasses.replace(r, answers=("large",)) if (r.feature, r.label) == ("bulge_size", "large") else r
        for r in TABLE2_RULES
    )
    alone = labels_from_catalog(df, LabelConfig(rules=rules))
    assert alone["bulge_size"].isna().all()


def test_custom_thresholds_are_honoured():
    df = catalog([{**FACE_ON, "bar": {"weak": 0.55, "no": 0.45}}])
    assert pd.isna(labels_from_catalog(df)["bar"].iloc[0])
    cfg = LabelConfig().with_thresholds({"bar.weak": 0.5})
    assert labels_from_catalog(df, cfg)["bar"].iloc[0] == "weak"
    nested = LabelConfig().with_thresholds({"bar": {"weak": 0.5}})
    assert nested == cfg and nested.threshold("bar", "weak") == 0.5
    assert LabelConfig().threshold("bar", "weak") == 0.6  # the default is unchanged
    counts = label_counts(labels_from_catalog(df, cfg), cfg).set_index(["feature", "class"])
    assert counts.loc[("bar", "weak"), "threshold"] == 0.5 and counts.loc[("bar", "weak"), "count"] == 1


def test_config_round_trips_through_json_and_is_frozen(tmp_path):
    cfg = LabelConfig(parent_threshold=0.3).with_thresholds({"arm_count.2": 0.75})
    save_config(cfg, tmp_path / "labels.json")
    back = load_config(LabelConfig, tmp_path / "labels.json")
    assert back == cfg and hash(back) == hash(cfg)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.parent_threshold = 0.9  # type: ignore[misc]
    frame = cfg.as_frame()
    assert list(frame.columns) == ["feature", "class", "question", "answers", "threshold"]
    assert frame.loc[frame["class"] == "large", "answers"].item() == "large+dominant"


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: LabelConfig(parent_threshold=1.5), r"parent_threshold must be a number in \[0, 1\] \(got 1.5\)"),
        (lambda: LabelConfig(parent_threshold=math.nan), "parent_threshold must be a number"),
        (lambda: LabelConfig(rules=()), "non-empty tuple of LabelRule"),
        (lambda: LabelConfig(rules=TABLE2_RULES + TABLE2_RULES[:1]), "repeats a class.*how_rounded.round"),
        (
            lambda: LabelConfig(rules=(TABLE2_RULES[0], LabelRule("how_rounded", "x", "bar", ("no",), 0.5))),
            "must use one question",
        ),
        (lambda: LabelRule("bar", "weak", "bars", ("weak",), 0.5), "unknown GZD-5 question.*'bars'"),
        (lambda: LabelRule("bar", "weak", "bar", ("wobbly",), 0.5), "answers must be distinct answers of 'bar'"),
        (lambda: LabelRule("bar", "weak", "bar", ("weak",), -0.1), r"threshold of bar.weak .*\(got -0.1\)"),
        (lambda: LabelRule("bar", "weak", "bar", ("weak",), "0.5"), "threshold of bar.weak must be a number"),
        (
            lambda: LabelConfig().with_thresholds({"bar.weak": 2}),
            r"threshold of bar.weak must be a number in \[0, 1\] \(got 2\)",
        ),
        (lambda: LabelConfig().with_thresholds({"barweak": 0.2}), "threshold keys are 'feature.class'"),
    ],
)
def test_bad_configuration_raises(make, match):
    with pytest.raises(GalvaeValueError, match=match):
        make()


def test_unknown_feature_or_class_raises_key_error():
    with pytest.raises(GalvaeKeyError, match="no such label feature.*'bars'"):
        LabelConfig().with_thresholds({"bars.weak": 0.5})
    with pytest.raises(GalvaeKeyError, match="feature 'bar' has no such class.*'wek'.*'weak'"):
        LabelConfig().with_thresholds({"bar.wek": 0.5})


# --------------------------------------------------------------------------- catalogue conventions and input errors


def test_both_conventions_present_prefers_fractions():
    fractions = catalog([{**SMOOTH, "how-rounded": {"round": 0.9, "in-between": 0.1}}])
    votes = {vote_column(q, a): [0] for q, answers in GZ_DECALS_QUESTIONS.items() for a in answers}
    votes[vote_column("smooth-or-featured", "smooth")] = [10]
    votes[vote_column("how-rounded", "cigar-shaped")] = [10]
    both = pd.concat([fractions, pd.DataFrame(votes)], axis=1)
    assert detect_convention(both) == "fractions"
    assert labels_from_catalog(both)["how_rounded"].iloc[0] == "round"
    assert labels_from_catalog(pd.DataFrame(votes))["how_rounded"].iloc[0] == "cigar"


def test_neither_convention_raises_naming_the_patterns():
    df = pd.DataFrame({"id": ["a"], "ra": [1.0], "dec": [2.0]})
    with pytest.raises(
        GalvaeValueError,
        match=r"expected vote fractions '<question>_<answer>_fraction'.*"
        r"'<question>-dr5_<answer>'.*missing e\.g\. how-rounded_round_fraction"
        r".*got 'columns id, ra, dec'",
    ):
        labels_from_catalog(df)


def test_extra_gz_columns_are_ignored_and_names_are_case_insensitive():
    base = catalog([class_spec(r) for r in TABLE2_RULES])
    expected = labels_from_catalog(base)
    extra = base.copy()
    for question in GZ_DECALS_QUESTIONS:
        extra[f"{question}_total-votes"] = 1000
        extra[fraction_column(question, "smooth").replace("_fraction", "_debiased")] = 5.0
        extra[f"{question}_proportion_volunteers_asked"] = -3.0
    pd.testing.assert_frame_equal(labels_from_catalog(extra), expected)
    upper = base.rename(columns=str.upper)
    pd.testing.assert_frame_equal(labels_from_catalog(upper), expected)


def test_missing_question_columns_make_that_feature_missing_with_a_warning(caplog):
    df = catalog([class_spec(r) for r in TABLE2_RULES])
    df = df.drop(columns=[fraction_column("spiral-arm-count", a) for a in GZ_DECALS_QUESTIONS["spiral-arm-count"]])
    with caplog.at_level(logging.WARNING, logger="galvae.data.labels"):
        labels = labels_from_catalog(df)
    assert labels["arm_count"].isna().all()
    assert labels["arm_tightness"].notna().any() and labels["merger"].notna().any()
    messages = [r.getMessage() for r in caplog.records]
    assert any("spiral-arm-count" in m for m in messages)
    assert len(messages) == 1


def test_missing_parent_columns_make_the_children_missing(caplog):
    df = catalog([class_spec(r) for r in TABLE2_RULES])
    df = df.drop(columns=[fraction_column("disk-edge-on", "no")])
    with caplog.at_level(logging.WARNING, logger="galvae.data.labels"):
        labels = labels_from_catalog(df)
    for feature in ("bar", "has_arms", "bulge_size", "arm_count", "arm_tightness", "edge_on"):
        assert labels[feature].isna().all(), feature
    assert labels["edge_on_bulge"].notna().any() and labels["how_rounded"].notna().any()
    assert any("disk-edge-on_no_fraction" in r.getMessage() for r in caplog.records)
    # without the tree check the disc questions do not need the parent
    assert labels_from_catalog(df, LabelConfig(parent_threshold=0))["bar"].notna().any()


@pytest.mark.parametrize(
    ("column", "values", "match"),
    [
        (
            fraction_column("merging", "none"),
            [1.5],
            r"'merging_none_fraction' holds vote fractions outside \[0, 1\] "
            r"\(got 1.5\)",
        ),
        (fraction_column("merging", "none"), [-0.2], "outside"),
        (fraction_column("merging", "none"), ["lots"], "'merging_none_fraction' must hold numbers"),
        (fraction_column("merging", "none"), [np.inf], "'merging_none_fraction' holds infinite values"),
    ],
)
def test_bad_fraction_values_raise(column, values, match):
    df = catalog([{"merging": {"none": 0.5}}])
    df[column] = pd.Series(values, dtype=object if isinstance(values[0], str) else float)
    with pytest.raises(GalvaeValueError, match=match):
        labels_from_catalog(df)


def test_negative_votes_and_bad_arguments_raise():
    votes = pd.DataFrame({vote_column("merging", a): [1] for a in GZ_DECALS_QUESTIONS["merging"]})
    votes[vote_column("merging", "none")] = [-1]
    with pytest.raises(GalvaeValueError, match="'merging-dr5_none' holds negative vote counts"):
        labels_from_catalog(votes)
    with pytest.raises(GalvaeValueError, match="catalog must be a pandas DataFrame.*'dict'"):
        labels_from_catalog({"a": [1]})
    with pytest.raises(GalvaeValueError, match="config must be a LabelConfig"):
        labels_from_catalog(catalog([SMOOTH]), config={"parent_threshold": 0.5})
    with pytest.raises(GalvaeKeyError, match="labels have no column for feature.*'how_rounded'"):
        label_counts(pd.DataFrame({"bar": ["weak"]}))
    bad = labels_from_catalog(catalog([SMOOTH])).astype(object)
    bad.loc[0, "merger"] = "maybe"
    with pytest.raises(GalvaeValueError, match="feature 'merger' hold unknown classes.*'maybe'"):
        label_counts(bad)


def test_empty_catalogue_gives_empty_labels():
    df = catalog([SMOOTH]).iloc[:0]
    labels = labels_from_catalog(df)
    assert len(labels) == 0 and list(labels.columns) == list(FEATURES)
    assert label_counts(labels)["count"].sum() == 0


# --------------------------------------------------------------------------- broad classes


def _first_branch(smooth, featured, artifact, edge_on=None, merger=None) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "smooth-or-featured_smooth_fraction": smooth,
            "smooth-or-featured_featured-or-disk_fraction": featured,
            "smooth-or-featured_artifact_fraction": artifact,
        }
    )
    if edge_on is not None:
        df["disk-edge-on_yes_fraction"] = edge_on
        df["disk-edge-on_no_fraction"] = 1 - np.asarray(edge_on, dtype=float)
    if merger is not None:
        df["merging_merger_fraction"] = merger
        df["merging_none_fraction"] = 1 - np.asarray(merger, dtype=float)
        df["merging_minor-disturbance_fraction"] = 0.0
        df["merging_major-disturbance_fraction"] = 0.0
    return df


def test_broad_class_from_fractions() -> None:
    cat = _first_branch(
        [0.8, 0.1, 0.2, 0.1, np.nan, 0.8],
        [0.1, 0.8, 0.7, 0.2, np.nan, 0.1],
        [0.1, 0.1, 0.1, 0.7, np.nan, 0.1],
        edge_on=[0.9, 0.2, 0.9, 0.9, np.nan, 0.1],
        merger=[0.0, 0.0, 0.0, 0.0, 0.0, 0.9],
    )
    # featured with an edge-on fraction above 0.5 is edge-on; a smooth one is not, whatever its edge-on fraction
    assert broad_class(cat, mergers=False).tolist() == ["smooth", "featured", "edge-on", "artifact", None, "smooth"]
    # the Table 2 merger label (merging_merger > 0.6) takes precedence
    assert broad_class(cat).tolist() == ["smooth", "featured", "edge-on", "artifact", None, "merger"]
    assert broad_class(cat.set_index(pd.Index(list("abcdef")))).index.tolist() == list("abcdef")


def test_broad_class_from_votes() -> None:
    votes = pd.DataFrame(
        {
            "smooth-or-featured-dr5_smooth": [1, 8, 0],
            "smooth-or-featured-dr5_featured-or-disk": [9, 1, 9],
            "smooth-or-featured-dr5_artifact": [0, 1, 1],
            "disk-edge-on-dr5_yes": [1, 0, 6],
            "disk-edge-on-dr5_no": [8, 0, 3],
        }
    )
    assert broad_class(votes).tolist() == ["featured", "smooth", "edge-on"]


def test_broad_class_from_labels() -> None:
    table = pd.DataFrame(
        {
            "merger": ["none", "merger", None, None, None, None],
            "edge_on": ["edge-on", None, "other", None, None, None],
            "how_rounded": [None, "round", None, "cigar", None, None],
            "bar": [None, None, None, None, "weak", None],
        }
    )
    assert broad_class(table).tolist() == ["edge-on", "merger", "featured", "smooth", "featured", None]
    assert broad_class(table, mergers=False).tolist() == ["edge-on", "smooth", "featured", "smooth", "featured", None]
    # the labels of a catalogue name the same mergers as the catalogue itself
    cat = catalog([class_spec(r) for r in TABLE2_RULES] + [SMOOTH])
    from_labels, from_cat = broad_class(labels_from_catalog(cat)), broad_class(cat)
    merger = (labels_from_catalog(cat)["merger"] == "merger").to_numpy()
    assert merger.any() and (from_labels[merger] == "merger").all() and (from_cat[merger] == "merger").all()
    assert set(from_cat.dropna()) <= set(BROAD_CLASSES) and set(from_labels.dropna()) <= set(BROAD_CLASSES)
    with pytest.raises(GalvaeValueError, match="broad classes need Galaxy Zoo"):
        broad_class(pd.DataFrame({"id": ["a"]}))


# --------------------------------------------------------------------------- labels on disk


def _labels_with_index() -> pd.DataFrame:
    df = catalog(
        [class_spec(r) for r in TABLE2_RULES],
        ids=[f"J{i:03d}" for i in range(26)],
        index=pd.Index(np.arange(100, 126), name="row"),
    )
    df["ra"] = np.linspace(0, 10, 26)
    df["n"] = pd.array([1, None] * 13, dtype="Int64")
    labels = labels_from_catalog(df)
    labels["ra"] = df["ra"]
    labels["n"] = df["n"]
    return labels


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".fits"])
def test_write_table_round_trip(tmp_path, suffix):
    labels = _labels_with_index()
    path = write_table(labels, tmp_path / f"labels{suffix}")
    assert path == tmp_path / f"labels{suffix}" and path.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left behind
    back = read_catalog(path)
    if suffix == ".parquet":
        pd.testing.assert_frame_equal(back, labels)
        assert back.attrs["galvae_labels"]["config"]["parent_threshold"] == 0.5
    else:
        assert list(back.columns) == ["row", *labels.columns]
        assert back["row"].tolist() == list(range(100, 126))
        assert back["id"].tolist() == labels["id"].tolist()
        np.testing.assert_allclose(back["ra"], labels["ra"])
        assert back["n"].isna().tolist() == labels["n"].isna().tolist()
        for feature in FEATURES:
            assert back[feature].isna().tolist() == labels[feature].isna().tolist(), feature
    pd.testing.assert_frame_equal(label_counts(back), label_counts(labels))


# --------------------------------------------------------------------------- command line


def _gz_catalog() -> pd.DataFrame:
    specs = [class_spec(r) for r in TABLE2_RULES] + [SMOOTH]
    return catalog(specs, ids=[f"g{i}" for i in range(len(specs))])


@pytest.mark.parametrize(
    ("cat_name", "out_name"),
    [("cat.csv", "labels.parquet"), ("cat.parquet", "labels.csv"), ("cat.fits", "labels.fits")],
)
def test_cli_writes_labels_and_prints_counts(tmp_path, capsys, cat_name, out_name):
    df = _gz_catalog()
    write_table(df, tmp_path / cat_name)
    out = tmp_path / out_name
    assert main(["labels", str(tmp_path / cat_name), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    expected = labels_from_catalog(df)
    back = read_catalog(out)
    assert back["id"].tolist() == df["id"].tolist()
    pd.testing.assert_frame_equal(label_counts(back), label_counts(expected))
    assert text.startswith(
        f"27 galaxies from {tmp_path / cat_name} ('<question>_<answer>_fraction'; parent threshold 0.5)"
    )
    lines = text.splitlines()
    assert lines[1].split() == ["feature", "class", "threshold", "count", "percent", "of", "feature", "paper"]
    # one galaxy of each class: 1 of how_rounded's 3 labelled; the paper's round share 10992 / 34091
    assert lines[2].split() == ["how_rounded", "round", ">", "0.8", "1", "3.70%", "33.3%", "32.2%"]
    # total variation: 0.5 (|1/3 - 0.3224| + |1/3 - 0.6548| + |1/3 - 0.0227|) = 0.3215
    assert lines[5].split() == ["(labelled)", "3", "11.11%", "class", "mix", "vs", "the", "paper:", "total"] + [
        "variation",
        "0.32",
    ]
    assert sum(1 for line in lines if "(labelled)" in line) == 9
    assert lines[-1] == f"26 of 27 galaxies have at least one label; wrote {out}"
    assert "against the simulation's truth" not in text  # a Galaxy Zoo catalogue has no truth


def test_cli_thresholds_parent_threshold_and_errors(tmp_path, capsys):
    df = catalog([{**FACE_ON, "bar": {"weak": 0.55, "no": 0.45}}], ids=["a"])
    write_table(df, tmp_path / "cat.parquet")
    out = tmp_path / "l.parquet"
    assert (
        main(
            [
                "labels",
                str(tmp_path / "cat.parquet"),
                "--out",
                str(out),
                "--threshold",
                "bar.weak=0.5",
                "--parent-threshold",
                "0.2",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "parent threshold 0.2" in text
    assert any(line.split()[:4] == ["weak", ">", "0.5", "1"] for line in text.splitlines())
    back = pd.read_parquet(out)
    assert back["bar"].tolist() == ["weak"]
    assert back.attrs["galvae_labels"]["config"]["parent_threshold"] == 0.2
    # existing output: refused before any work, then replaced with --overwrite
    assert main(["labels", str(tmp_path / "cat.parquet"), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["labels", str(tmp_path / "cat.parquet"), "--out", str(out), "--overwrite"]) == 0
    assert pd.isna(pd.read_parquet(out)["bar"].iloc[0])
    capsys.readouterr()
    for bad, message in [
        (["--threshold", "bar.weak"], "--threshold must look like FEATURE.CLASS=VALUE"),
        (["--threshold", "bar.weak=high"], "--threshold bar.weak: the value must be a number"),
        (["--threshold", "bar.wek=0.5"], "feature 'bar' has no such class"),
        (["--parent-threshold", "2"], r"parent_threshold must be a number in \[0, 1\]"),
    ]:
        assert main(["labels", str(tmp_path / "cat.parquet"), "--out", str(tmp_path / "x.parquet"), *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("galvae labels: error: ") and len(err.strip().splitlines()) == 1
        assert re.search(message, err), err
    assert not (tmp_path / "x.parquet").exists()


def test_cli_error_is_one_line_without_traceback(tmp_path):
    pd.DataFrame({"id": ["a"], "ra": [1.0]}).to_csv(tmp_path / "plain.csv", index=False)
    proc = subprocess.run(
        [sys.executable, "-m", "galvae", "labels", str(tmp_path / "plain.csv"), "--out", str(tmp_path / "l.parquet")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"galvae labels: error: {tmp_path / 'plain.csv'}: catalog has no Galaxy Zoo DECaLS columns"
    )
    assert not (tmp_path / "l.parquet").exists()


def _with_repeated_ids(tmp_path):
    """9 rows whose ids 'a' (three times) and 'c' (twice) repeat, each repeat with other votes than the first."""
    specs = [EDGE_ON, SMOOTH, FACE_ON, FACE_ON, SMOOTH, EDGE_ON, SMOOTH, EDGE_ON, FACE_ON]
    df = catalog(specs, ids=["a", "b", "a", "c", "d", "c", "a", "e", "f"])
    path = tmp_path / "dup.csv"
    write_table(df, path)
    return df, path


def test_cli_repeated_ids_keep_the_first_row_with_a_warning(tmp_path, capsys, caplog):
    df, path = _with_repeated_ids(tmp_path)
    out = tmp_path / "labels.parquet"
    with caplog.at_level(logging.WARNING, logger="galvae.data.labels"):
        assert main(["labels", str(path), "--out", str(out)]) == 0
    warnings = [r.getMessage() for r in caplog.records if "repeat" in r.getMessage()]
    assert warnings == [
        f"{path}: 3 row(s) repeat an earlier id (2 id(s): 'a', 'c'); the first row of each id is kept, "
        "the others skipped"
    ]
    back = read_catalog(out)
    assert back["id"].tolist() == ["a", "b", "c", "d", "e", "f"]
    edge_on = back["edge_on"].astype(object)
    assert edge_on.where(edge_on.notna(), None).tolist() == ["edge-on", None, "other", None, "edge-on", "other"]
    text = capsys.readouterr().out
    assert text.startswith(f"6 galaxies from {path}")
    assert "3 rows with a repeated id skipped (first row of each id kept): a, c\n" in text


def test_cli_strict_refuses_repeated_ids_naming_file_count_and_ids(tmp_path, capsys):
    _, path = _with_repeated_ids(tmp_path)
    out = tmp_path / "labels.parquet"
    assert main(["labels", str(path), "--out", str(out), "--strict"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.search(
        re.escape(
            f"galvae labels: error: {path}: 3 row(s) repeat an earlier id (2 id(s): 'a', 'c'); ids must be unique"
        ),
        err,
    ), err
    assert not out.exists()


def test_drop_duplicate_ids_api():
    df = pd.DataFrame({"id": [f"g{i % 7}" for i in range(20)], "x": range(20)})
    with pytest.raises(
        GalvaeValueError,
        match=r"^cat\.fits: 13 row\(s\) repeat an earlier id \(7 id\(s\): 'g0', 'g1', "
        r"'g2', 'g3', 'g4', \.\.\.\); ids must be unique",
    ):
        drop_duplicate_ids(df, "cat.fits", strict=True)
    kept, dropped = drop_duplicate_ids(df, "cat.fits")
    assert kept["x"].tolist() == list(range(7)) and kept.index.tolist() == list(range(7))
    assert dropped == [f"g{i % 7}" for i in range(7, 20)]
    unique = pd.DataFrame({"id": ["a", "b"]})
    assert drop_duplicate_ids(unique, "u.csv", strict=True)[0] is unique
    no_id = pd.DataFrame({"ra": [1.0, 1.0]})
    kept, dropped = drop_duplicate_ids(no_id, "u.csv", strict=True)
    assert kept is no_id and dropped == []


def test_labels_from_catalog_names_its_source_in_value_errors():
    df = catalog([SMOOTH], ids=["a"])
    df[fraction_column("how-rounded", "round")] = 1.5
    with pytest.raises(GalvaeValueError, match=r"^gz\.parquet: catalog column 'how-rounded_round_fraction' holds"):
        labels_from_catalog(df, source="gz.parquet")
    with pytest.raises(GalvaeValueError, match=r"^catalog column 'how-rounded_round_fraction' holds") as info:
        labels_from_catalog(df)
    assert info.value.value == 1.5
