"""Truth sampler (galvae.simulate.morphology): the contract columns, MGS-like priors, balance, errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from galvae import GalvaeValueError, labels_from_catalog
from galvae.data.labels import GZ_DECALS_QUESTIONS, TABLE2_RULES
from galvae.simulate import MorphologyConfig, sample_truth, vote_fractions
from galvae.simulate.morphology import BULGE_SIZE_LIMITS, approximate_petro_th50

CATEGORICAL = {
    "truth_smooth_or_featured": "smooth-or-featured",
    "truth_how_rounded": "how-rounded",
    "truth_disk_edge_on": "disk-edge-on",
    "truth_edge_on_bulge": "edge-on-bulge",
    "truth_bar": "bar",
    "truth_has_spiral_arms": "has-spiral-arms",
    "truth_bulge_size": "bulge-size",
    "truth_spiral_winding": "spiral-winding",
    "truth_spiral_arm_count": "spiral-arm-count",
    "truth_merging": "merging",
}
CONTINUOUS = [
    "truth_mag_r",
    "truth_redshift",
    "truth_hlr_arcsec",
    "truth_axis_ratio",
    "truth_inclination_deg",
    "truth_pa_deg",
    "truth_bulge_to_total",
    "truth_bar_strength",
    "truth_arm_strength",
    "truth_arm_pitch_deg",
    "truth_companion_mag_r",
    "truth_tidal_strength",
]


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return sample_truth(6000, np.random.default_rng(2))


def test_contract_columns_use_gzd5_answer_spelling(truth):
    for col, question in CATEGORICAL.items():
        answers = set(GZ_DECALS_QUESTIONS[question])
        seen = set(truth[col].dropna())
        assert seen <= answers, (col, seen - answers)
    for col in CONTINUOUS:
        assert truth[col].dtype == np.float64, col


def test_questions_apply_down_the_decision_tree(truth):
    smooth = truth["truth_smooth_or_featured"] == "smooth"
    edge = truth["truth_disk_edge_on"] == "yes"
    face = ~smooth & ~edge
    arms = truth["truth_has_spiral_arms"] == "yes"
    assert truth.loc[smooth, "truth_how_rounded"].notna().all() and truth.loc[~smooth, "truth_how_rounded"].isna().all()
    assert (
        truth.loc[~smooth, "truth_disk_edge_on"].notna().all() and truth.loc[smooth, "truth_disk_edge_on"].isna().all()
    )
    assert truth.loc[edge, "truth_edge_on_bulge"].notna().all() and truth.loc[~edge, "truth_edge_on_bulge"].isna().all()
    for col in ("truth_bar", "truth_has_spiral_arms", "truth_bulge_size"):
        assert truth.loc[face, col].notna().all() and truth.loc[~face, col].isna().all(), col
    for col in ("truth_spiral_winding", "truth_spiral_arm_count"):
        assert truth.loc[arms, col].notna().all() and truth.loc[~arms, col].isna().all(), col
    assert truth["truth_merging"].notna().all()
    assert truth.loc[smooth, "truth_inclination_deg"].isna().all()
    assert truth.loc[~arms, "truth_arm_pitch_deg"].isna().all() and (truth.loc[~arms, "truth_arm_strength"] == 0).all()
    # weak bars are weaker than every strong one, and start where bars become detectable (A2 ~ 0.2)
    weak = truth.loc[truth["truth_bar"] == "weak", "truth_bar_strength"]
    strong = truth.loc[truth["truth_bar"] == "strong", "truth_bar_strength"]
    assert len(weak) > 5 and len(strong) > 5
    assert 0.3 <= weak.min() and weak.max() < strong.min()
    assert (truth.loc[~truth["truth_bar"].isin(["weak", "strong"]), "truth_bar_strength"] == 0).all()


def test_continuous_truth_agrees_with_the_classes(truth):
    # edge-on discs are thin on the sky, face-on ones round
    assert truth.loc[truth["truth_disk_edge_on"] == "yes", "truth_axis_ratio"].max() < 0.35
    assert truth.loc[truth["truth_disk_edge_on"] == "yes", "truth_inclination_deg"].min() >= 78
    for cls, (lo, hi) in {"round": (0.8, 1.0), "in-between": (0.45, 0.8), "cigar-shaped": (0.0, 0.45)}.items():
        q = truth.loc[truth["truth_how_rounded"] == cls, "truth_axis_ratio"]
        assert q.between(lo, hi).all(), cls
    for cls, (lo, hi) in BULGE_SIZE_LIMITS.items():
        bt = truth.loc[truth["truth_bulge_size"] == cls, "truth_bulge_to_total"]
        assert bt.between(lo, hi).all(), cls
    pitch = truth.groupby("truth_spiral_winding")["truth_arm_pitch_deg"].median()
    assert pitch["tight"] < pitch["medium"] < pitch["loose"]
    comp = truth["truth_companion_mag_r"].notna()
    assert comp[truth["truth_merging"] == "merger"].all() and not comp[truth["truth_merging"] == "none"].any()
    assert (truth.loc[truth["truth_merging"] != "none", "truth_tidal_strength"] > 0).all()
    # companions 1-2.2 half-light radii out, whatever the galaxy's size (a cap in arcsec once put most at ~1 hlr)
    sep = (truth["truth_companion_sep_arcsec"] / truth["truth_hlr_arcsec"])[comp]
    assert sep.between(1.0, 2.2).all() and sep.median() > 1.4
    # colours: bulges redder than the spirals' discs, discs redder than arms; arm-less (S0-like) discs red
    spiral = truth["truth_has_spiral_arms"] == "yes"
    bulge, disc, arm = (truth.loc[spiral, f"truth_{c}_gr"].mean() for c in ("bulge", "disk", "arm"))
    assert bulge > disc + 0.2 > arm + 0.4
    armless = truth["truth_has_spiral_arms"] == "no"
    assert armless.sum() > 50
    assert truth.loc[armless, "truth_disk_gr"].mean() > truth.loc[spiral, "truth_disk_gr"].mean() + 0.15


def test_mgs_like_magnitudes_redshifts_and_sizes():
    """Without the sample's size cut: the MGS magnitude counts and size-magnitude relation."""
    truth = sample_truth(6000, np.random.default_rng(2), config=MorphologyConfig(min_petro_th50_arcsec=0.0))
    mag = truth["truth_mag_r"]
    assert mag.between(14.0, 17.77).all()
    # Euclidean-like counts N(<m) ∝ 10^(0.6 m): half a magnitude fainter, twice as many
    n_bright, n_faint = ((mag > 16.0) & (mag < 16.5)).sum(), ((mag > 16.5) & (mag < 17.0)).sum()
    assert n_faint / n_bright == pytest.approx(10**0.3, rel=0.15)
    assert 0.08 < truth["truth_redshift"].median() < 0.12
    assert 1.2 < truth["truth_hlr_arcsec"].median() < 2.5
    # brighter galaxies are larger and nearer
    bright = mag < 16
    assert truth.loc[bright, "truth_hlr_arcsec"].median() > 1.3 * truth.loc[~bright, "truth_hlr_arcsec"].median()
    assert truth.loc[bright, "truth_redshift"].median() < truth.loc[~bright, "truth_redshift"].median()


def test_the_default_sample_has_the_gz_decals_size_cut(truth):
    """Every galaxy's approximate Petrosian p50 passes the cut (4″); it keeps large galaxies and favours bright ones."""
    cut = MorphologyConfig().min_petro_th50_arcsec
    p50 = approximate_petro_th50(truth)
    assert (p50 >= cut).all()
    assert cut + 0.2 < np.median(p50) < 2 * cut
    uncut = sample_truth(6000, np.random.default_rng(2), config=MorphologyConfig(min_petro_th50_arcsec=0.0))
    assert truth["truth_mag_r"].median() < uncut["truth_mag_r"].median() - 0.2
    # the same galaxy's Petrosian p50, measured on its rendered profile, agrees with the approximation
    from galvae.simulate import DECALS
    from galvae.simulate.present import measure_petrosian

    for row in truth.iloc[:6].to_dict("records"):
        _, p50_measured, _ = measure_petrosian(row, DECALS)
        assert p50_measured > 0.65 * 3.0, row["truth_hlr_arcsec"]


def test_colour_order_and_redshift_trend(truth):
    """Bulges redder than discs, discs than arms, in every galaxy; red bulges redden with redshift (k-correction)."""
    assert (truth["truth_bulge_gr"] > truth["truth_disk_gr"]).mean() > 0.99
    assert (truth["truth_disk_gr"] > truth["truth_arm_gr"]).mean() > 0.99
    near, far = truth["truth_redshift"] < 0.06, truth["truth_redshift"] > 0.12
    assert truth.loc[far, "truth_bulge_gr"].mean() > truth.loc[near, "truth_bulge_gr"].mean() + 0.05


def test_default_class_frequencies_follow_the_configuration(truth):
    cfg = MorphologyConfig()
    n = len(truth)
    assert (truth["truth_smooth_or_featured"] == "smooth").mean() == pytest.approx(cfg.p_smooth, abs=0.025)
    featured = truth["truth_smooth_or_featured"] != "smooth"
    edge = (truth.loc[featured, "truth_disk_edge_on"] == "yes").mean()
    assert edge == pytest.approx(math.cos(math.radians(cfg.edge_on_min_inclination_deg)), abs=0.03)  # isotropic
    bars = truth["truth_bar"].value_counts(normalize=True)
    assert bars["strong"] == pytest.approx(cfg.bar[0], abs=0.03)
    counts = truth["truth_spiral_arm_count"].value_counts(normalize=True)
    assert counts.idxmax() == "2"
    assert (truth["truth_merging"] == "merger").sum() / n == pytest.approx(cfg.merging[3], abs=0.015)


def test_barred_discs_have_larger_bulges_and_the_marginals_stay(truth):
    # Masters et al. 2011: the barred fraction rises with the bulge; the configured frequencies are kept
    cfg = MorphologyConfig()
    face = truth[truth["truth_bar"].notna()]
    barred = face["truth_bar"] != "no"
    rate = barred.groupby(face["truth_bulge_size"]).mean()
    assert rate["dominant"] > 0.55 and rate["large"] > 0.55 and rate["none"] < 0.27
    assert rate["large"] > rate["moderate"] > rate["small"] > rate["none"]
    assert barred.mean() == pytest.approx(cfg.bar[0] + cfg.bar[1], abs=0.03)
    sizes = face["truth_bulge_size"].value_counts(normalize=True)
    for name, p in zip(("dominant", "large", "moderate", "small", "none"), cfg.bulge_size, strict=True):
        assert sizes[name] == pytest.approx(p, abs=0.03), name
    # equal weights: independent, and the sample a plain draw would give
    flat = sample_truth(6000, np.random.default_rng(2), config=MorphologyConfig(bar_by_bulge=(1, 1, 1, 1, 1)))
    f = flat[flat["truth_bar"].notna()]
    r = (f["truth_bar"] != "no").groupby(f["truth_bulge_size"]).mean()
    assert r.max() - r.min() < 0.08
    pd.testing.assert_series_equal(flat["truth_bar"], truth["truth_bar"])


def test_balance_equalises_classes():
    bal = sample_truth(4000, 9, balance=True)
    for col in CATEGORICAL:
        frac = bal[col].value_counts(normalize=True)
        assert frac.max() - frac.min() < 0.08, (col, frac.to_dict())


def test_every_table2_class_appears_in_a_default_sample_after_votes():
    rng = np.random.default_rng(11)
    truth = sample_truth(3000, rng)
    labels = labels_from_catalog(vote_fractions(truth, rng))
    missing = [(r.feature, r.label) for r in TABLE2_RULES if not (labels[r.feature] == r.label).any()]
    assert not missing


def test_deterministic_for_a_seed_and_different_for_another():
    a, b, c = sample_truth(200, 5), sample_truth(200, np.random.default_rng(5)), sample_truth(200, 6)
    pd.testing.assert_frame_equal(a, b)
    assert not a["truth_mag_r"].equals(c["truth_mag_r"])
    assert len(sample_truth(0, 1)) == 0


def test_a_changed_prior_changes_the_sample():
    all_smooth = sample_truth(300, 1, config=MorphologyConfig(p_smooth=1.0))
    assert (all_smooth["truth_smooth_or_featured"] == "smooth").all()
    bright = sample_truth(300, 1, config=MorphologyConfig(mag_range=(12.0, 14.0)))
    assert bright["truth_mag_r"].max() <= 14.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bar": (0.5, 0.5, 0.5)}, r"MorphologyConfig.bar must be probabilities summing to 1"),
        ({"p_smooth": 1.5}, r"MorphologyConfig.p_smooth must be in \[0, 1\]"),
        ({"mag_range": (17.0, 14.0)}, r"mag_range must be \(bright, faint\)"),
        ({"min_petro_th50_arcsec": -1.0}, r"min_petro_th50_arcsec must be in"),
        ({"arm_strength": (0.5, 1.2)}, r"arm_strength must be"),
        ({"hlr_scatter": float("nan")}, r"hlr_scatter must be in \[0, 2\]"),
        ({"bar_by_bulge": (1.0, 1.0, -1.0, 1.0, 1.0)}, r"bar_by_bulge must be 5 non-negative weights"),
        ({"bar_by_bulge": (9.0, 1.0, 1.0, 1.0, 1.0)}, r"bar_by_bulge asks for a barred fraction above 1"),
    ],
)
def test_config_errors_name_the_field(kwargs, match):
    with pytest.raises(GalvaeValueError, match=match):
        MorphologyConfig(**kwargs)


@pytest.mark.parametrize("n", [-1, 2.5, True, "3"])
def test_bad_n_is_refused(n):
    with pytest.raises(GalvaeValueError, match="n must be a non-negative integer"):
        sample_truth(n, 0)


def test_rings_only_in_face_on_discs_at_the_configured_rates(truth):
    smooth = truth["truth_smooth_or_featured"] == "smooth"
    face = ~smooth & (truth["truth_disk_edge_on"] == "no")
    assert truth.loc[face, "truth_ring"].notna().all() and truth.loc[~face, "truth_ring"].isna().all()
    rate = truth.loc[face, "truth_ring"].value_counts(normalize=True)
    n = int(face.sum())
    for cls, p in (("inner", 0.20), ("outer", 0.10)):  # MorphologyConfig.ring; 4 binomial sigmas
        assert abs(rate[cls] - p) < 4 * np.sqrt(p * (1 - p) / n), (cls, rate[cls])
    ring = truth["truth_ring"].isin(["inner", "outer"])
    assert truth.loc[~ring, "truth_ring_radius_arcsec"].isna().all()
    assert (truth.loc[~ring, "truth_ring_strength"] == 0).all()
    assert truth.loc[ring, "truth_ring_strength"].between(0.06, 0.15).all()
    width = truth.loc[ring, "truth_ring_width_arcsec"] / truth.loc[ring, "truth_ring_radius_arcsec"]
    assert width.between(0.08, 0.15).all()


def test_rings_sit_at_their_documented_radii_around_bars(truth):
    barred = truth["truth_bar_strength"] > 0
    rel = truth["truth_ring_radius_arcsec"] / truth["truth_bar_length_arcsec"]
    inner = barred & (truth["truth_ring"] == "inner")
    outer = barred & (truth["truth_ring"] == "outer")
    assert inner.sum() > 20 and outer.sum() > 10
    assert rel[inner].between(0.9, 1.15).all()
    assert rel[outer].between(2.0, 2.4).all()  # outer ring / bar ~ 2.2 (Kormendy 1979; Buta 1995)


def test_ring_priors_are_validated():
    with pytest.raises(GalvaeValueError, match="ring must be probabilities"):
        MorphologyConfig(ring=(0.5, 0.5, 0.5))
    with pytest.raises(GalvaeValueError, match="ring_strength"):
        MorphologyConfig(ring_strength=(0.2, 0.1))


def test_a_larger_cut_and_scatter_give_larger_galaxies_passing_it():
    """The default 4″ cut and 0.45 scatter (real-image frame sizes) against the former 3″ and 0.3: every p50 passes 4″."""
    assert (MorphologyConfig().min_petro_th50_arcsec, MorphologyConfig().hlr_scatter) == (4.0, 0.45)
    base = sample_truth(
        1500, np.random.default_rng(7), config=MorphologyConfig(min_petro_th50_arcsec=3.0, hlr_scatter=0.3)
    )
    big = sample_truth(1500, np.random.default_rng(7))
    assert (approximate_petro_th50(big) >= 4.0).all()
    assert np.median(approximate_petro_th50(big)) > 1.2 * np.median(approximate_petro_th50(base))
    # the classes are drawn before the sizes: the same galaxies, only larger
    assert (big["truth_bar"].fillna("-") == base["truth_bar"].fillna("-")).all()


def test_lopsidedness_follows_rudnick_and_rix_and_only_discs_have_it():
    t = sample_truth(6000, 4)
    face = (t["truth_smooth_or_featured"] == "featured-or-disk") & (t["truth_disk_edge_on"] == "no")
    a1 = t.loc[face, "truth_lopsided_a1"]
    # Rudnick & Rix 1998: median <A1/A0> 0.11, the most lopsided 20 % at >= 0.19
    assert a1.median() == pytest.approx(0.11, rel=0.05)
    assert (a1 >= 0.19).mean() == pytest.approx(0.20, abs=0.02)
    assert a1.max() <= 0.5
    assert (t.loc[~face, "truth_lopsided_a1"] == 0).all()
    assert t.loc[~face, "truth_lopsided_angle_deg"].isna().all()
    none = sample_truth(200, 4, config=MorphologyConfig(lopsided_median=0.0))
    assert (none["truth_lopsided_a1"] == 0).all()
    # drawn last: every other column keeps its value for the seed
    base = sample_truth(200, 4)
    cols = [c for c in base.columns if not c.startswith("truth_lopsided")]
    pd.testing.assert_frame_equal(base[cols], none[cols])


def test_disc_breaks_follow_pohlen_and_trujillo_and_only_discs_have_them():
    t = sample_truth(6000, 5)
    face = (t["truth_smooth_or_featured"] == "featured-or-disk") & (t["truth_disk_edge_on"] == "no")
    arms = face & (t["truth_has_spiral_arms"] == "yes")
    armless = face & (t["truth_has_spiral_arms"] == "no")
    kinds = t.loc[arms, "truth_disk_break"].value_counts(normalize=True)
    # Pohlen & Trujillo 2006: ~10 % Type I, ~60 % II, ~30 % III among late-type discs
    assert kinds["I"] == pytest.approx(0.10, abs=0.02)
    assert kinds["II"] == pytest.approx(0.60, abs=0.03)
    assert kinds["III"] == pytest.approx(0.30, abs=0.03)
    # field S0s: roughly a third each (Erwin et al. 2012)
    s0 = t.loc[armless, "truth_disk_break"].value_counts(normalize=True)
    assert s0.min() > 0.25 and s0.max() < 0.42
    assert t.loc[~face, "truth_disk_break"].isna().all()
    rd = t["truth_hlr_arcsec"] / 1.678
    x = t["truth_disk_break_radius_arcsec"] / rd
    two, three = t["truth_disk_break"] == "II", t["truth_disk_break"] == "III"
    assert x[two].between(1.5, 4.5).all() and x[two].median() == pytest.approx(2.8, abs=0.15)
    assert x[three].between(4.0, 6.0).all()
    ratio = t["truth_disk_outer_scale_ratio"]
    assert ratio[two].between(0.4, 0.7).all() and ratio[three].between(1.5, 2.5).all()
    plain = t["truth_disk_break"] == "I"
    assert ratio[plain | ~face].isna().all() and x[plain | ~face].isna().all()
    # drawn last: every other column keeps its value for the seed
    unbroken = sample_truth(200, 4, config=MorphologyConfig(disc_break=(1.0, 0.0, 0.0)))
    base = sample_truth(200, 4)
    cols = [
        c
        for c in base.columns
        if c not in {"truth_disk_break", "truth_disk_break_radius_arcsec", "truth_disk_outer_scale_ratio"}
    ]
    pd.testing.assert_frame_equal(base[cols], unbroken[cols])
    spiral = unbroken["truth_has_spiral_arms"] == "yes"
    assert (unbroken.loc[spiral, "truth_disk_break"] == "I").all()


def test_ansae_follow_martinez_valpuesta_and_only_early_type_bars_have_them():
    t = sample_truth(40000, 6)
    barred = t["truth_bar_strength"] > 0
    armless = barred & (t["truth_has_spiral_arms"] == "no")
    spiral = barred & (t["truth_has_spiral_arms"] == "yes")
    early = spiral & (t["truth_bulge_to_total"] >= 0.25)
    # Martinez-Valpuesta, Knapen & Buta 2007: ~40 % of SB0s, fewer in early spirals, hardly any from Sb on
    assert t.loc[armless, "truth_bar_ansae"].mean() == pytest.approx(0.4, abs=0.05)
    assert t.loc[early, "truth_bar_ansae"].mean() == pytest.approx(0.2, abs=0.04)
    assert not t.loc[spiral & ~early, "truth_bar_ansae"].any()
    assert not t.loc[~barred, "truth_bar_ansae"].any()
    # drawn last: every other column keeps its value for the seed
    none = sample_truth(300, 4, config=MorphologyConfig(ansae=(0.0, 0.0)))
    base = sample_truth(300, 4)
    assert base["truth_bar_ansae"].any() and not none["truth_bar_ansae"].any()
    cols = [c for c in base.columns if c != "truth_bar_ansae"]
    pd.testing.assert_frame_equal(base[cols], none[cols])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"disc_break": (0.5, 0.6, 0.3)}, r"disc_break must be probabilities summing to 1"),
        ({"disc_break_armless": (-0.1, 0.6, 0.5)}, r"disc_break_armless must be probabilities summing to 1"),
        ({"lopsided_median": 0.7}, r"lopsided_median must be in \[0, 0.5\]"),
        ({"lopsided_scatter": -1.0}, r"lopsided_scatter must be in \[0, 2\]"),
        ({"ansae": (0.4, 1.2)}, r"ansae must be 2 fractions in \[0, 1\]"),
        ({"ansae": (0.4,)}, r"ansae must be 2 fractions"),
    ],
)
def test_lopsidedness_options_are_checked(kwargs, match):
    with pytest.raises(GalvaeValueError, match=match):
        MorphologyConfig(**kwargs)
