"""Tests of the simulated Galaxy Zoo vote fractions (galvae.simulate.votes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galvae.config import config_from_dict, config_to_dict
from galvae.data.labels import GZ_DECALS_PARENTS, GZ_DECALS_QUESTIONS, fraction_column, labels_from_catalog
from galvae.errors import GalvaeKeyError, GalvaeValueError
from galvae.simulate.votes import (
    DEFAULT_QUESTION_MODELS,
    QuestionModel,
    VoteConfig,
    selection_purity,
    total_votes_column,
    vote_fractions,
)

# ------------------------------------------------------------------ truth tables made here

_SPIRAL = dict(
    truth_smooth_or_featured="featured-or-disk",
    truth_how_rounded=None,
    truth_disk_edge_on="no",
    truth_edge_on_bulge=None,
    truth_bar="no",
    truth_has_spiral_arms="yes",
    truth_bulge_size="small",
    truth_spiral_winding="medium",
    truth_spiral_arm_count="2",
    truth_merging="none",
    truth_mag_r=15.0,
    truth_redshift=0.05,
    truth_hlr_arcsec=5.0,
    truth_axis_ratio=0.9,
    truth_inclination_deg=20.0,
    truth_pa_deg=30.0,
    truth_bulge_to_total=0.1,
    truth_bar_strength=0.0,
    truth_arm_strength=0.4,
    truth_arm_pitch_deg=20.0,
    truth_companion_mag_r=np.nan,
    truth_tidal_strength=0.0,
)

_SMOOTH = dict(
    _SPIRAL,
    truth_smooth_or_featured="smooth",
    truth_how_rounded="round",
    truth_disk_edge_on=None,
    truth_bar=None,
    truth_has_spiral_arms=None,
    truth_bulge_size=None,
    truth_spiral_winding=None,
    truth_spiral_arm_count=None,
    truth_inclination_deg=np.nan,
    truth_bulge_to_total=1.0,
    truth_arm_strength=0.0,
    truth_arm_pitch_deg=np.nan,
    truth_axis_ratio=0.9,
)

_EDGE_ON = dict(
    _SPIRAL,
    truth_disk_edge_on="yes",
    truth_edge_on_bulge="rounded",
    truth_bar=None,
    truth_has_spiral_arms=None,
    truth_bulge_size=None,
    truth_spiral_winding=None,
    truth_spiral_arm_count=None,
    truth_inclination_deg=88.0,
    truth_axis_ratio=0.15,
    truth_bulge_to_total=0.3,
    truth_arm_pitch_deg=np.nan,
)


def _truth(base: dict, n: int, **changes) -> pd.DataFrame:
    row = dict(base, **changes)
    return pd.DataFrame({k: [v] * n for k, v in row.items()})


def _mixed(n_each: int = 100) -> pd.DataFrame:
    frames = [
        _truth(_SPIRAL, n_each),
        _truth(_SMOOTH, n_each),
        _truth(_EDGE_ON, n_each),
        _truth(
            _SPIRAL,
            n_each,
            truth_bar="strong",
            truth_bar_strength=0.8,
            truth_merging="merger",
            truth_tidal_strength=0.7,
            truth_companion_mag_r=16.0,
        ),
        _truth(_SPIRAL, n_each, truth_mag_r=17.7, truth_hlr_arcsec=1.3),
    ]
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------ structure of the output


def test_columns_cover_every_question_and_fractions_sum_to_one():
    truth = _mixed()
    votes = vote_fractions(truth, np.random.default_rng(0))
    assert votes.index.equals(truth.index)
    expected = []
    for q, answers in GZ_DECALS_QUESTIONS.items():
        expected += [fraction_column(q, a) for a in answers] + [total_votes_column(q)]
    assert list(votes.columns) == expected
    for q, answers in GZ_DECALS_QUESTIONS.items():
        total = votes[total_votes_column(q)]
        assert total.dtype == np.int64
        frac = votes[[fraction_column(q, a) for a in answers]]
        reached = total > 0
        assert reached.any(), q
        np.testing.assert_allclose(frac[reached].sum(axis=1), 1.0, atol=1e-12)
        assert ((frac[reached] >= 0) & (frac[reached] <= 1)).all().all()


def test_unreached_questions_are_nan_with_zero_votes():
    votes = vote_fractions(_truth(_SMOOTH, 300), np.random.default_rng(1))
    for q in GZ_DECALS_QUESTIONS:
        total = votes[total_votes_column(q)]
        frac = votes[[fraction_column(q, a) for a in GZ_DECALS_QUESTIONS[q]]]
        unreached = total == 0
        assert frac[unreached].isna().all().all()
        assert frac[~unreached].notna().all().all()
    # a bright, large, round elliptical: arm questions are mostly never asked,
    # and the bar only by the odd volunteer who called it featured
    for q in ("spiral-arm-count", "spiral-winding"):
        assert (votes[total_votes_column(q)] == 0).mean() > 0.5, q
    assert votes[total_votes_column("bar")].median() <= 3
    # everyone is asked the first question
    assert (votes[total_votes_column("smooth-or-featured")] > 30).mean() > 0.9


def test_child_votes_equal_parent_answer_votes():
    truth = _mixed()
    votes = vote_fractions(truth, np.random.default_rng(2), counts=True)
    for q, parent in GZ_DECALS_PARENTS.items():
        total = votes[total_votes_column(q)]
        if parent is not None:
            np.testing.assert_array_equal(total, votes[f"{parent[0]}_{parent[1]}"])
        counts = votes[[f"{q}_{a}" for a in GZ_DECALS_QUESTIONS[q]]].sum(axis=1)
        np.testing.assert_array_equal(counts, total)
    # merging ends every path, except after "artifact"
    np.testing.assert_array_equal(
        votes[total_votes_column("merging")] + votes["smooth-or-featured_artifact"],
        votes[total_votes_column("smooth-or-featured")],
    )


def test_same_seed_same_fractions_and_other_seed_differs():
    truth = _mixed(40)
    a = vote_fractions(truth, np.random.default_rng(7))
    b = vote_fractions(truth, np.random.default_rng(7))
    c = vote_fractions(truth, 8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_number_of_volunteers_follows_config():
    truth = _truth(_SPIRAL, 400)
    votes = vote_fractions(truth, 3, config=VoteConfig(low_vote_fraction=1.0, low_vote_range=(4, 6)))
    total = votes[total_votes_column("smooth-or-featured")]
    assert total.between(4, 6).all() and total.nunique() == 3
    votes = vote_fractions(truth, 3, config=VoteConfig(low_vote_fraction=0.0, n_volunteers=40, n_volunteers_sd=4))
    total = votes[total_votes_column("smooth-or-featured")]
    assert 39 < total.mean() < 41 and 3 < total.std() < 5


# ------------------------------------------------------------------ calibration against Table 2


def _pass_rate(truth: pd.DataFrame, feature: str, label: str, seed: int = 0) -> float:
    labels = labels_from_catalog(vote_fractions(truth, np.random.default_rng(seed)))
    return float(labels[feature].astype(object).eq(label).mean())


def test_arm_count_two_passes_less_often_as_spirals_get_fainter_and_smaller():
    n = 400
    rates = [
        _pass_rate(_truth(_SPIRAL, n, truth_mag_r=14.5, truth_hlr_arcsec=6.0), "arm_count", "2"),
        _pass_rate(_truth(_SPIRAL, n, truth_mag_r=17.0, truth_hlr_arcsec=2.0), "arm_count", "2"),
        _pass_rate(_truth(_SPIRAL, n, truth_mag_r=17.7, truth_hlr_arcsec=1.2), "arm_count", "2"),
    ]
    assert rates[0] > 0.4  # a good fraction of clear two-armed spirals pass > 0.9
    assert rates[0] > rates[1] + 0.1
    assert rates[1] > rates[2] + 0.2


def test_arms_fade_with_inclination_and_weak_arms():
    face_on = _pass_rate(_truth(_SPIRAL, 400, truth_inclination_deg=10.0), "has_arms", "yes")
    inclined = _pass_rate(_truth(_SPIRAL, 400, truth_inclination_deg=72.0), "has_arms", "yes")
    faint_arms = _pass_rate(_truth(_SPIRAL, 400, truth_arm_strength=0.03), "has_arms", "yes")
    assert face_on > 0.8
    assert inclined < face_on - 0.2
    assert faint_arms < face_on - 0.2


def test_edge_on_disks_get_high_edge_on_fractions_but_not_always():
    votes = vote_fractions(_truth(_EDGE_ON, 500, truth_mag_r=16.0, truth_hlr_arcsec=3.0), np.random.default_rng(4))
    yes = votes[fraction_column("disk-edge-on", "yes")].dropna()
    assert yes.median() > 0.85
    assert 0.6 < (yes > 0.8).mean() < 0.995
    face_on = vote_fractions(_truth(_SPIRAL, 500), np.random.default_rng(4))
    assert face_on[fraction_column("disk-edge-on", "yes")].median() < 0.1


def test_weak_bars_pass_their_threshold_much_less_often_than_strong_bars():
    strong = _pass_rate(_truth(_SPIRAL, 600, truth_bar="strong", truth_bar_strength=0.8), "bar", "strong")
    weak = _pass_rate(_truth(_SPIRAL, 600, truth_bar="weak", truth_bar_strength=0.3), "bar", "weak")
    assert strong > 0.5
    assert weak < 0.3 * strong


def test_faint_featured_galaxies_collect_smooth_votes():
    bright = vote_fractions(_truth(_SPIRAL, 300), 5)
    faint = vote_fractions(_truth(_SPIRAL, 300, truth_mag_r=17.7, truth_hlr_arcsec=1.0), 5)
    col = fraction_column("smooth-or-featured", "smooth")
    assert faint[col].mean() > bright[col].mean() + 0.2


def test_defects_raise_artifact_votes():
    clean = _truth(_SPIRAL, 300, defect="none")
    flagged = _truth(_SPIRAL, 300, defect="bright_star")
    col = fraction_column("smooth-or-featured", "artifact")
    assert vote_fractions(flagged, 6)[col].mean() > vote_fractions(clean, 6)[col].mean() + 0.05


def test_labels_from_catalog_reads_the_output():
    truth = _mixed(60)
    labels = labels_from_catalog(vote_fractions(truth, 9))
    assert len(labels) == len(truth)
    spirals = labels.iloc[:60]
    assert spirals["has_arms"].astype(object).eq("yes").mean() > 0.7
    smooth = labels.iloc[60:120]
    assert smooth["how_rounded"].astype(object).eq("round").mean() > 0.7
    assert smooth["has_arms"].isna().all()


# ------------------------------------------------------------------ inputs and configuration


def test_missing_truth_column_is_named():
    truth = _truth(_SPIRAL, 3).drop(columns=["truth_bar", "truth_arm_strength"])
    with pytest.raises(GalvaeKeyError, match="truth_bar, truth_arm_strength"):
        vote_fractions(truth, 0)


def test_bad_truth_values_are_rejected():
    with pytest.raises(GalvaeValueError, match="truth_bar.*unknown answer.*'barred'"):
        vote_fractions(_truth(_SPIRAL, 2, truth_bar="barred"), 0)
    with pytest.raises(GalvaeValueError, match="truth_mag_r.*every row"):
        vote_fractions(_truth(_SPIRAL, 2, truth_mag_r=np.nan), 0)
    with pytest.raises(GalvaeValueError, match="truth_hlr_arcsec.*positive"):
        vote_fractions(_truth(_SPIRAL, 2, truth_hlr_arcsec=0.0), 0)
    with pytest.raises(GalvaeValueError, match="truth_smooth_or_featured"):
        vote_fractions(_truth(_SPIRAL, 2, truth_smooth_or_featured=None), 0)
    with pytest.raises(GalvaeValueError, match="truth must be a pandas DataFrame"):
        vote_fractions({"truth_mag_r": [15.0]}, 0)
    with pytest.raises(GalvaeValueError, match="rng must be"):
        vote_fractions(_truth(_SPIRAL, 2), "seed")


def test_empty_truth_gives_empty_table():
    votes = vote_fractions(_truth(_SPIRAL, 0), 0)
    assert len(votes) == 0 and fraction_column("bar", "weak") in votes.columns


def test_vote_config_validation_and_round_trip():
    cfg = VoteConfig(concentration=10.0, low_vote_fraction=0.5)
    again = config_from_dict(VoteConfig, config_to_dict(cfg))
    assert again == cfg
    with pytest.raises(GalvaeValueError, match="low_vote_fraction"):
        VoteConfig(low_vote_fraction=1.5)
    with pytest.raises(GalvaeValueError, match="concentration"):
        VoteConfig(concentration=0.0)
    with pytest.raises(GalvaeValueError, match="one model per GZD-5 question"):
        VoteConfig(questions=DEFAULT_QUESTION_MODELS[:-1])
    with pytest.raises(GalvaeValueError, match="face_on_limit_deg must be larger"):
        VoteConfig(face_on_full_deg=60.0, face_on_limit_deg=50.0)
    with pytest.raises(GalvaeValueError, match=r"bar\)\.clarity must be 3 numbers"):
        QuestionModel("bar", clarity=(0.9, 0.5), unsure=(0.1, 0.3, 0.6), order=("strong", "weak", "no"))
    with pytest.raises(GalvaeValueError, match="order must list"):
        QuestionModel("bar", clarity=(0.9, 0.5, 0.9), unsure=(0.1, 0.3, 0.6), order=("strong", "barred"))


def test_higher_concentration_means_less_scatter():
    truth = _truth(_SPIRAL, 400, truth_bar="strong", truth_bar_strength=0.6)
    col = fraction_column("bar", "strong")
    tight = vote_fractions(truth, 11, config=VoteConfig(concentration=1000.0, n_volunteers=400))[col]
    loose = vote_fractions(truth, 11, config=VoteConfig(concentration=5.0, n_volunteers=400))[col]
    assert loose.std() > 2 * tight.std()


def test_selection_purity_counts_truth_and_selections():
    truth = _mixed(80)
    labels = labels_from_catalog(vote_fractions(truth, 12))
    table = selection_purity(truth, labels)
    assert len(table) == 26
    row = table.set_index(["feature", "class"]).loc[("arm_count", "2")]
    is_two = truth["truth_spiral_arm_count"].eq("2")
    selected = labels["arm_count"].astype(object).eq("2")
    assert row["n_truth"] == is_two.sum() == 240
    assert row["n_selected"] == selected.sum()
    assert row["n_correct"] == (is_two & selected).sum()
    assert row["purity"] == pytest.approx(row["n_correct"] / row["n_selected"])
    large = table.set_index(["feature", "class"]).loc[("bulge_size", "large")]
    assert large["n_truth"] == truth["truth_bulge_size"].isin(["large", "dominant"]).sum()
    with pytest.raises(GalvaeValueError, match="same index"):
        selection_purity(truth, labels.iloc[1:])


# ------------------------------------------------------------------ votes that follow the visibility


def _visibility(n: int, **values: float) -> pd.DataFrame:
    base = {f: np.nan for f in ("bar", "arms", "bulge", "edge_on", "merger")}
    base.update(values)
    return pd.DataFrame({f"visibility_{f}": [v] * n for f, v in base.items()})


def test_votes_for_a_feature_fall_with_its_visibility():
    n = 400
    truth = _truth(_SPIRAL, n, truth_bar="strong", truth_bar_strength=0.8)
    strong = fraction_column("bar", "strong")
    arms = fraction_column("has-spiral-arms", "yes")
    # bars seen at 4, 1 and 1/5 times their visibility_half (6), arms at 60, 15 and 3 (visibility_half 12); none
    half = {q.visibility: q.visibility_half for q in DEFAULT_QUESTION_MODELS if q.visibility}
    means = {}
    for k, v in zip((4.0, 1.0, 0.2, 0.0), (60.0, 15.0, 3.0, 0.0), strict=True):
        votes = vote_fractions(truth, 21, visibility=_visibility(n, bar=k * half["bar"], arms=v))
        means[k] = (votes[strong].mean(), votes[arms].mean(), votes[fraction_column("bar", "no")].mean())
    assert means[4.0][0] > means[1.0][0] + 0.2 > means[0.2][0] + 0.2
    assert means[4.0][1] > means[1.0][1] + 0.2 > means[0.2][1] + 0.2
    # an invisible strong bar is voted "no bar", not "weak" or "strong"
    assert means[0.0][0] < 0.05 and means[0.0][2] > 0.7
    labels = labels_from_catalog(vote_fractions(truth, 22, visibility=_visibility(n, bar=0.0)))
    assert labels["bar"].astype(object).eq("strong").sum() == 0


def test_merger_votes_follow_the_merger_visibility():
    n = 300
    truth = _truth(_SPIRAL, n, truth_merging="merger", truth_tidal_strength=0.7, truth_companion_mag_r=16.0)
    seen = vote_fractions(truth, 23, visibility=_visibility(n, merger=80.0))
    unseen = vote_fractions(truth, 23, visibility=_visibility(n, merger=1.0))
    col = fraction_column("merging", "merger")
    assert seen[col].mean() > unseen[col].mean() + 0.4


def test_without_visibility_the_votes_are_unchanged():
    truth = _mixed(40)
    old = vote_fractions(truth, 24)
    pd.testing.assert_frame_equal(vote_fractions(truth, 24, visibility=None), old)
    # not measured (NaN) anywhere: the truth-only clarity, draw for draw
    pd.testing.assert_frame_equal(vote_fractions(truth, 24, visibility=_visibility(len(truth))), old)
    pd.testing.assert_frame_equal(vote_fractions(truth, 24, visibility={}), old)
    # measured: different votes
    assert not vote_fractions(truth, 24, visibility=_visibility(len(truth), bar=1.0, arms=1.0)).equals(old)


def test_bad_visibility_is_rejected():
    truth = _truth(_SPIRAL, 3)
    with pytest.raises(GalvaeKeyError, match="visibility_merger"):
        vote_fractions(truth, 0, visibility=_visibility(3).drop(columns=["visibility_merger"]))
    with pytest.raises(GalvaeValueError, match="non-negative"):
        vote_fractions(truth, 0, visibility={"bar": [1.0, -1.0, 2.0]})
    with pytest.raises(GalvaeValueError, match="one value per galaxy"):
        vote_fractions(truth, 0, visibility={"bar": [1.0, 2.0]})
    with pytest.raises(GalvaeValueError, match="unknown visibility feature"):
        vote_fractions(truth, 0, visibility={"ring": [1.0, 1.0, 1.0]})
    with pytest.raises(GalvaeValueError, match="index of truth"):
        vote_fractions(truth, 0, visibility=_visibility(3).set_axis([5, 6, 7]))
    with pytest.raises(GalvaeValueError, match="visibility_half"):
        QuestionModel(
            "bar",
            clarity=(0.9, 0.5, 0.9),
            unsure=(0.1, 0.3, 0.6),
            order=("strong", "weak", "no"),
            visibility="bar",
            visibility_half=0.0,
        )
    with pytest.raises(GalvaeValueError, match="absent"):
        QuestionModel(
            "bar", clarity=(0.9, 0.5, 0.9), unsure=(0.1, 0.3, 0.6), order=("strong", "weak", "no"), absent="none"
        )


# ------------------------------------------------------------------ completeness and purity in the CLI and the report


def _simulated_catalog(tmp_path):
    truth = _mixed(80)
    truth.insert(0, "id", [f"s{i}" for i in range(len(truth))])
    catalog = pd.concat([truth, vote_fractions(truth, 12)], axis=1)
    path = tmp_path / "catalog.parquet"
    catalog.to_parquet(path)
    return truth, catalog, path


def test_cli_labels_prints_completeness_and_purity_of_a_simulation(tmp_path, capsys):
    from galvae.cli import main

    truth, catalog, path = _simulated_catalog(tmp_path)
    assert main(["labels", str(path), "--out", str(tmp_path / "labels.parquet")]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("against the simulation's truth"))
    purity = selection_purity(truth, labels_from_catalog(catalog))
    row = purity.set_index(["feature", "class"]).loc[("arm_count", "2")]
    two = [line.split() for line in lines[start:] if line.split()[:1] == ["2"]]
    assert two == [["2", "240", str(int(row["n_selected"])), f"{row['completeness']:.2f}", f"{row['purity']:.2f}"]]
    assert row["n_selected"] > 0


def test_report_shows_completeness_and_purity(tmp_path):
    from galvae.report import ReportInputs, write_report

    truth, catalog, path = _simulated_catalog(tmp_path)
    labels = labels_from_catalog(catalog)
    labels.to_parquet(tmp_path / "labels.parquet")
    out = write_report(tmp_path / "r.html", ReportInputs(labels=tmp_path / "labels.parquet", truth=path))
    html = out.read_text()
    row = selection_purity(truth, labels).set_index(["feature", "class"]).loc[("edge_on", "edge-on")]
    assert "Table 2&#39;s thresholds against the simulated truth (400 galaxies)" in html
    assert f"edge-on {row['completeness']:.2f} / {row['purity']:.2f}" in html
    # a truth file without the simulation's truth columns: the section says so and keeps the class mix
    labels.to_parquet(tmp_path / "not_truth.parquet")
    html = write_report(
        tmp_path / "r2.html", ReportInputs(labels=tmp_path / "labels.parquet", truth=tmp_path / "not_truth.parquet")
    ).read_text()
    assert "is not a galvae simulate catalogue" in html and "Table 2: the labelled galaxies" in html
