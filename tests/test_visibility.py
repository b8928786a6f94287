"""Tests of the measured feature visibility (galvae.simulate.visibility) and the votes that follow it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from galvae.data.labels import fraction_column
from galvae.data.preprocess import crop_and_resize, stretch
from galvae.data.presentation import GZ_DECALS_STRETCH
from galvae.errors import GalvaeValueError
from galvae.simulate.morphology import sample_truth
from galvae.simulate.render import render_galaxy
from galvae.simulate.surveys import get_survey
from galvae.simulate.visibility import (
    VISIBILITY_FEATURES,
    VisibilityConfig,
    feature_visibility,
    presented_noise,
    visibility_column,
)
from galvae.simulate.votes import vote_fractions

DECALS = get_survey("decals")
BASS = get_survey("bass_mzls")
FIELD = 30.0
SIZE = 64


def _disc(**changes) -> dict:
    """A face-on, barred two-armed spiral: a featured row of sample_truth with set parameters."""
    truth = sample_truth(60, 5)
    row = truth[truth["truth_smooth_or_featured"].eq("featured-or-disk")].iloc[0].to_dict()
    row.update(
        truth_mag_r=15.0,
        truth_hlr_arcsec=4.0,
        truth_inclination_deg=25.0,
        truth_axis_ratio=0.9,
        truth_disk_edge_on="no",
        truth_bulge_to_total=0.15,
        truth_bulge_hlr_arcsec=0.8,
        truth_bar="strong",
        truth_bar_strength=0.8,
        truth_bar_length_arcsec=3.0,
        truth_has_spiral_arms="yes",
        truth_arm_strength=0.4,
        truth_n_arms=2,
        truth_spiral_arm_count="2",
        truth_arm_pitch_deg=20.0,
        truth_companion_mag_r=math.nan,
        truth_tidal_strength=0.0,
        truth_merging="none",
    )
    row.update(changes)
    return row


def _vis(row: dict, survey=DECALS, **kw) -> dict[str, float]:
    kw.setdefault("field_arcsec", FIELD)
    kw.setdefault("size", SIZE)
    kw.setdefault("stretch", GZ_DECALS_STRETCH)
    kw.setdefault("galaxy_rng_seed", [0, 7, 0, 0])
    return feature_visibility(row, survey, **kw)


def test_bar_visibility_is_zero_without_a_bar_and_clear_with_a_strong_one():
    strong = _vis(_disc(), features=("bar",))["bar"]
    none = _vis(_disc(truth_bar_strength=0.0, truth_bar="no"), features=("bar",))["bar"]
    # a vanishing bar goes through the whole measurement and shows nothing
    tiny = _vis(_disc(truth_bar_strength=1e-6), features=("bar",))["bar"]
    assert none == 0.0
    assert tiny < 0.01
    assert strong > 10.0


def test_arm_visibility_is_zero_at_strength_zero_and_grows_with_strength():
    values = [_vis(_disc(truth_arm_strength=a), features=("arms",))["arms"] for a in (0.0, 0.1, 0.3, 0.6)]
    assert values[0] == 0.0
    assert values[1] > 0.5
    assert values[1] < values[2] < values[3]
    assert values[3] > 2 * values[1]


def test_fainter_and_smaller_galaxies_show_their_bar_less():
    bright = _vis(_disc(), features=("bar",))["bar"]
    faint = _vis(_disc(truth_mag_r=17.5), features=("bar",))["bar"]
    small = _vis(
        _disc(truth_hlr_arcsec=1.2, truth_bar_length_arcsec=0.9, truth_bulge_hlr_arcsec=0.25), features=("bar",)
    )["bar"]
    # measured 2026-12-04 (bars gathering the inner disc light): bright 41.1, faint 22.2 (0.54x), small 13.4
    # (0.33x); the stretch compresses the bright galaxy's bar, so V falls slower than the flux (2.2 mag = 7.6x)
    assert faint < 0.65 * bright
    assert small < 0.5 * bright


def test_other_features_zero_where_absent_and_positive_where_present():
    v = _vis(_disc())
    assert set(v) == set(VISIBILITY_FEATURES)
    assert v["merger"] == 0.0
    assert v["bulge"] > 0 and v["edge_on"] > 0
    merging = _vis(
        _disc(
            truth_companion_mag_r=16.0,
            truth_companion_sep_arcsec=8.0,
            truth_companion_angle_deg=30.0,
            truth_tidal_strength=0.6,
            truth_merging="merger",
        )
    )
    assert merging["merger"] > 10.0
    # the other features are measured on the same galaxy: the merger does not change the bar's
    assert merging["bar"] == pytest.approx(v["bar"], rel=0.35)
    smooth_row = sample_truth(60, 5)
    smooth_row = smooth_row[smooth_row["truth_smooth_or_featured"].eq("smooth")].iloc[0].to_dict()
    smooth = _vis(smooth_row)
    assert all(smooth[f] == 0.0 for f in ("bar", "arms", "bulge", "edge_on"))


def test_deterministic_and_independent_of_survey_order():
    row = _disc()
    first = _vis(row)
    bass_first = _vis(row, survey=BASS)
    again = _vis(row)
    assert first == again
    assert _vis(row, survey=BASS) == bass_first
    # a different galaxy-level seed moves the knots: a different arm measurement
    assert _vis(row, galaxy_rng_seed=[0, 8, 0, 0])["arms"] != first["arms"]


def test_presented_noise_matches_a_noisy_render():
    row = _disc(truth_mag_r=17.7, truth_hlr_arcsec=1.0)
    rendered = render_galaxy(
        row,
        DECALS,
        fov_arcsec=FIELD,
        galaxy_rng=np.random.default_rng(1),
        survey_rng=np.random.default_rng(2),
        noise=True,
    )
    shown = stretch(crop_and_resize(rendered.image, None, SIZE)[0], GZ_DECALS_STRETCH)
    border = np.concatenate([shown[:, 4:12, 4:-4].reshape(3, -1), shown[:, -12:-4, 4:-4].reshape(3, -1)], axis=1)
    robust = 1.4826 * np.median(np.abs(border - np.median(border, axis=1, keepdims=True)), axis=1)
    expected = presented_noise(  # the survey as this galaxy's passes left it
        DECALS.at_passes(rendered.passes),
        field_arcsec=FIELD,
        size=SIZE,
        stretch=GZ_DECALS_STRETCH,
        quantisation=False,
        per_pixel=True,
    )
    np.testing.assert_allclose(robust, expected, rtol=0.2)


def test_upsampled_presentation_measures_the_served_grid():
    row = _disc()
    n = round(FIELD / 0.262)
    at_n = _vis(row, size=n, features=("bar",))["bar"]
    assert _vis(row, size=424, features=("bar",))["bar"] == pytest.approx(at_n, rel=1e-9)
    assert _vis(row, size=32, features=("bar",))["bar"] < at_n


def test_bad_input():
    with pytest.raises(GalvaeValueError, match="visibility feature"):
        _vis(_disc(), features=("ring",))
    with pytest.raises(GalvaeValueError, match="field_arcsec"):
        _vis(_disc(), field_arcsec=0.0)
    with pytest.raises(GalvaeValueError, match="psf_fwhm"):
        _vis(_disc(), psf_fwhm=(1.0, 1.0))
    with pytest.raises(GalvaeValueError, match="bands"):
        VisibilityConfig(bands=("u",))
    assert visibility_column("bar") == "visibility_bar"


def test_votes_for_a_bar_fall_as_the_same_galaxy_gets_fainter():
    """End to end: measured visibility -> votes; the same strong bar, bright and faint."""
    n = 300
    frames, vis = [], []
    for mag in (15.0, 21.0):  # V ~ 34 and ~ 5, either side of the bar's visibility_half of 6
        row = _disc(truth_mag_r=mag)
        v = _vis(row)
        frames.append(pd.DataFrame([row] * n))
        vis.append(pd.DataFrame([{visibility_column(f): v[f] for f in VISIBILITY_FEATURES}] * n))
    truth = pd.concat(frames, ignore_index=True)
    votes = vote_fractions(truth, 3, visibility=pd.concat(vis, ignore_index=True))
    strong = votes[fraction_column("bar", "strong")]
    no_bar = votes[fraction_column("bar", "no")]
    # measured 2026-12-07: "strong" 0.89 -> 0.45, "no" 0.06 -> 0.16 (V 34 -> 5; at r = 17.7, V 18, a bar is seen)
    assert strong.iloc[:n].mean() > strong.iloc[n:].mean() + 0.25
    assert no_bar.iloc[n:].mean() > no_bar.iloc[:n].mean() + 0.05


def test_blocks_of_served_pixels_measure_what_the_served_pixels_do(monkeypatch):
    """At Galaxy Zoo's 424 pixels the components are drawn on 2 x 2 blocks of the served grid, noise halved."""
    import galvae.simulate.visibility as visibility

    row = _disc(truth_hlr_arcsec=3.0)
    binned = _vis(row, field_arcsec=60.0, size=424)
    monkeypatch.setattr(visibility, "_BIN", 1)
    served = _vis(row, field_arcsec=60.0, size=424)
    for f in ("bar", "arms", "bulge", "edge_on"):
        assert served[f] > 5
        assert binned[f] == pytest.approx(served[f], rel=0.02)


def test_a_mild_shrink_is_drawn_on_the_presented_grid_as_the_resize_would_show_it(monkeypatch):
    import galvae.simulate.visibility as visibility

    row = _disc(truth_hlr_arcsec=6.0)
    field = 150.0  # 573 served pixels shown on 424
    direct = _vis(row, field_arcsec=field, size=424)
    monkeypatch.setattr(visibility, "_MAX_DIRECT_SHRINK", 1.0)  # every served pixel drawn, then resized
    resized = _vis(row, field_arcsec=field, size=424)
    for f in ("bar", "arms", "bulge", "edge_on"):
        assert direct[f] > 5
        assert resized[f] == pytest.approx(direct[f], rel=0.02)
