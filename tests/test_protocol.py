"""The per-feature protocol shared by Tables 3 and 4 (galvae.evaluate.protocol)."""

from __future__ import annotations

import numpy as np
import pytest

from galvae.errors import GalvaeValueError
from galvae.evaluate.protocol import (
    check_split_options,
    classification_metrics,
    has_enough_galaxies,
    majority_rate,
    markdown_table,
    skipped_notes,
    split_feature,
)

TABLE2 = ("none", "weak", "strong")


def _split(values, min_galaxies=4, min_per_class=2, test_size=0.5):
    return split_feature(
        "bar", values, TABLE2, min_galaxies=min_galaxies, min_per_class=min_per_class, test_size=test_size, seed=0
    )


def test_min_galaxies_means_at_least() -> None:
    assert has_enough_galaxies(100, 100) and has_enough_galaxies(101, 100) and not has_enough_galaxies(99, 100)
    values = ["none", "strong"] * 5  # 10 labelled galaxies
    assert _split(values, min_galaxies=10).skipped is None
    assert _split(values, min_galaxies=11).skipped == "10 labelled galaxies, fewer than min_galaxies=11"


def test_classes_kept_in_table2_order_rare_dropped() -> None:
    values = ["strong", None, "none", "weak", "strong", "extra", "none", np.nan, "extra", "strong", "none"]
    fs = _split(values)
    assert fs.classes == ("none", "strong", "extra") and fs.dropped == ("weak",)
    # positions of the labelled galaxies of kept classes, and their labels
    assert fs.rows.tolist() == [0, 2, 4, 5, 6, 8, 9, 10]
    assert fs.labels.tolist() == ["strong", "none", "strong", "extra", "none", "extra", "strong", "none"]
    assert sorted(fs.train.tolist() + fs.test.tolist()) == list(range(8))
    assert fs.train.tolist() == sorted(fs.train.tolist()) and fs.test.tolist() == sorted(fs.test.tolist())
    assert fs.train_rows.tolist() == fs.rows[fs.train].tolist() and fs.averaging == "micro"


def test_skip_reasons() -> None:
    assert _split([None, np.nan]).skipped.startswith("no galaxy has a label")
    assert _split(["none"] * 6 + ["weak"]).skipped == "1 class(es) with at least 2 galaxies"
    # two of each class: a 50 % test split stratifies; a 90 % one leaves one training galaxy for two classes
    assert _split(["none", "none", "weak", "weak"]).skipped is None
    assert _split(["none", "none", "weak", "weak"], test_size=0.9).skipped.startswith("stratified split impossible")


def test_binary_averaging_follows_table2() -> None:
    fs = split_feature(
        "merger", ["merger", "none"] * 4, ("merger", "none"), min_galaxies=2, min_per_class=2, test_size=0.5, seed=0
    )
    assert fs.averaging == "binary"
    # a three-class feature that lost a class stays micro
    assert _split(["none", "weak"] * 4).averaging == "micro"


def test_majority_rate_hand_made() -> None:
    assert majority_rate(["a", "a", "b"], ["a", "b", "b", "b"]) == 0.25
    assert majority_rate(["b", "a"], ["a", "b"]) == 0.5  # a tie goes to the first class name: "a"
    assert majority_rate(["b", "a"], ["a", "a", "b"]) == pytest.approx(2 / 3)
    fs = _split(["none", "strong", "strong"] * 4, min_galaxies=4)
    want = np.mean(fs.y_test == "strong")  # "strong" is the commoner class in training
    assert fs.majority_rate == pytest.approx(want) and 0 < want < 1


def test_metrics_hand_made() -> None:
    y = ["a", "a", "b", "b"]
    p = ["a", "b", "b", "b"]
    m = classification_metrics(y, p, ["a", "b"])
    assert m["precision"] == 1.0 and m["recall"] == 0.5 and m["accuracy"] == 0.75
    m3 = classification_metrics(["a", "b", "c", "c"], ["a", "c", "c", "c"], ["a", "b", "c"])
    assert m3["precision"] == m3["recall"] == m3["f1"] == m3["accuracy"] == 0.75
    assert m3["f1_macro"] == pytest.approx((1 + 0 + 0.8) / 3)


def test_averaging_follows_table2_when_a_class_is_dropped() -> None:
    # how_rounded has three Table 2 classes; with "cigar" dropped as rare, two remain: still micro averaging
    y = np.array(["round"] * 6 + ["in-between"] * 4)
    p = np.array(["round"] * 5 + ["in-between"] * 5)
    micro = classification_metrics(y, p, ["round", "in-between"], averaging="micro")
    assert micro["averaging"] == "micro" and micro["f1"] == pytest.approx(micro["accuracy"]) == pytest.approx(0.9)
    binary = classification_metrics(y, p, ["round", "in-between"])
    assert binary["averaging"].startswith("binary") and binary["precision"] == pytest.approx(1.0)
    with pytest.raises(GalvaeValueError, match="two classes"):
        classification_metrics(y, p, ["round", "in-between", "cigar"], averaging="binary")


def test_markdown() -> None:
    assert markdown_table(["a", "b"], [[1, "x"], [2.5, "–"]]) == "| a | b |\n|---|---|\n| 1 | x |\n| 2.5 | – |\n"
    assert skipped_notes({}, {}) == ""
    notes = skipped_notes({"bar": "too few"}, {"bar": ["weak"], "merger": ["a", "b"]})
    assert notes == "\nSkipped features: bar (too few)\n\nDropped rare classes: bar: weak; merger: a, b\n"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"test_size": 1.0}, r"test_size must be a number in \(0, 1\) \(got 1.0\)"),
        ({"test_size": "x"}, r"test_size must be a number in \(0, 1\) \(got 'x'\)"),
        ({"n_estimators": 0}, r"n_estimators must be a positive integer \(got 0\)"),
        ({"min_galaxies": -1}, r"min_galaxies must be a non-negative integer \(got -1\)"),
        ({"min_per_class": True}, r"min_per_class must be a positive integer \(got True\)"),
        ({"seed": 1.5}, r"seed must be a non-negative integer \(got 1.5\)"),
    ],
)
def test_bad_options(kw, match) -> None:
    opts = dict(test_size=0.3, n_estimators=10, min_galaxies=20, min_per_class=2, seed=0)
    assert check_split_options(**opts) == (0.3, 10, 20, 2, 0)
    with pytest.raises(GalvaeValueError, match=match):
        check_split_options(**{**opts, **kw})
