"""Galaxy Zoo DECaLS vote fractions drawn from simulated morphology truth.

The simulator knows each galaxy's true morphology; Galaxy Zoo volunteers do
not.  :func:`vote_fractions` turns a truth table (the ``truth_*`` columns of
:func:`galvae.simulate.morphology.sample_truth`) into the columns of the
Zenodo GZ DECaLS catalogue (Walmsley et al. 2022, MNRAS 509, 3966;
doi:10.5281/zenodo.4573248): ``<question>_<answer>_fraction`` for every
question and answer of :data:`galvae.data.labels.GZ_DECALS_QUESTIONS`, and
``<question>_total-votes``.  The thresholds of the paper's Table 2 then
select a sample that is realistic -- incomplete and slightly impure --
rather than the truth itself.

The volunteer model
-------------------
1. **How many volunteers.**  GZ DECaLS gave about 140,000 of its 314,000
   galaxies at least 30 classifications and the rest about 5 (Walmsley et
   al. 2022).  Here a galaxy gets ``round(Normal(n_volunteers,
   n_volunteers_sd))`` volunteers (default 40 +- 4, at least one), or, with
   probability ``low_vote_fraction`` (default 0.05), a number drawn
   uniformly from ``low_vote_range`` (default 3-7).  The default keeps
   the sample close to the well-classified galaxies that Table 2's
   thresholds are meant for; set ``low_vote_fraction=0.55`` for the mix of
   the whole catalogue.
2. **Down the tree.**  Every volunteer answers the first question
   (smooth or featured) and then only the questions their own answers lead
   to (:data:`galvae.data.labels.GZ_DECALS_PARENTS`): the number of
   volunteers asked a question is the number who gave its parent answer,
   so arm count and winding are asked only by volunteers who saw arms.
   ``merging`` ends every path, except that a volunteer who answers
   "artifact" stops there (as in GZD-5), so
   ``merging_total-votes = smooth-or-featured_total-votes - artifact votes``.
   A question nobody reached has NaN fractions and 0 total votes.
3. **What one volunteer answers.**  At question *q* with true answer *t*
   (the ``truth_*`` column; see the fallback below), a volunteer picks
   answer *a* with probability::

       p(a) = c * [a == t] + (1 - c) * (w * K[t, a] + (1 - w) * U[a])

   ``c`` is the *clarity* of the true answer on this image, ``K`` a
   neighbour kernel on the ordinal answers (confusions go preferentially to
   neighbouring answers: round <-> in-between, weak <-> strong / no bar,
   tight <-> medium, 2 <-> 3 arms, 4 <-> more than 4, moderate <-> small /
   large bulge; weight ``exp(-|i - j| / neighbour_scale)``), ``U`` the
   answers of a volunteer who cannot tell (:attr:`QuestionModel.unsure`:
   "no bar", "smooth", "2 arms" or "can't tell", ...) and ``w`` the
   ``neighbour_weight``.  A small ``floor`` spread evenly over the ordinal
   answers stands for careless clicks.  At the first question a fraction
   ``artifact_probability`` of the votes goes to "artifact", raised to
   ``defect_artifact_probability`` where the truth table has a ``defect``
   column other than ``"none"``.
4. **Clarity.**  ``c = clarity[t] * bright * resolved * face * strength``,
   each factor in [0, 1]:

   * ``clarity[t]`` (:attr:`QuestionModel.clarity`): how recognisable the
     answer is on a perfect image -- high for "2 arms", "strong bar",
     "round", low for "weak bar", "boxy bulge", "1 arm", "4 arms" (weak
     bars are a hedging answer, and GZ volunteers split them between
     "weak", "no" and "strong");
   * ``bright = 1 / (1 + exp((mag_r - mag_half) / mag_width))``: features
     fade as the galaxy gets fainter;
   * ``resolved = 1 - exp(-(hlr / (size_scale * psf_fwhm_arcsec))**2)``:
     features need the galaxy to be several PSF widths across (arms and
     bars about twice as much as the smooth/featured split);
   * ``face`` (bars, arms, bulge size):
     ``sqrt(clip((cos i - cos i_max) / (cos i_full - cos i_max), 0, 1))``
     with ``i_full = face_on_full_deg`` (45 degrees) and ``i_max =
     face_on_limit_deg`` (85 degrees) -- the more inclined, the less a bar
     or an arm pattern is seen;
   * ``strength``: the feature's own contrast -- ``1 - exp(-bar_strength /
     0.25)`` for barred truth, ``1 - exp(-arm_strength / 0.08)`` for arms
     (and their count and winding), ``max(1 - exp(-tidal_strength / 0.3),
     companion visibility)`` for disturbances and mergers, and, for
     "featured-or-disk", how much non-smooth structure there is (arms, bar,
     a disk that dominates the bulge, or an edge-on disk).  A faint or
     small featured galaxy therefore collects "smooth" votes, the
     well-known redshift bias of Galaxy Zoo.
5. **Ambiguity.**  The per-galaxy answer probabilities are drawn from a
   Dirichlet distribution of mean ``p`` and concentration ``concentration``
   (default 25), so that two galaxies with the same truth get different
   fractions, as real galaxies do (each has its own dust lane, projection,
   neighbour); the votes are then a multinomial draw of the volunteers who
   reached the question.  Fractions vary smoothly rather than only by
   counting noise.

6. **Votes that follow the pixels** (``visibility=`` given, as the
   simulator does).  A volunteer can only report a feature the image
   shows.  :func:`galvae.simulate.visibility.feature_visibility` measures
   each feature's signal-to-noise ``V`` in the presented image (the
   feature's change of the stretched pixels against the presented sky
   noise); a volunteer *sees* it with probability::

       r = 1 / (1 + exp(-(ln V - ln V_half) / w))

   (:func:`recognition_probability`; ``V_half`` is
   :attr:`QuestionModel.visibility_half`, ``w`` is
   :attr:`VoteConfig.visibility_width`, 0.5).  For a question with an
   ``absent`` answer (bar: "no", has arms: "no", arm count: "cant-tell",
   merging: "none") a volunteer who sees the feature answers as in point 3
   with ``c = clarity[t]`` (brightness, size and inclination are already in
   ``V``), one who does not answers as for the absent answer (``c =
   clarity[absent] x bright x resolved (x face)``)::

       p = r * p(t) + (1 - r) * p(absent)

   so an invisible strong bar collects "no bar" votes, not "weak" or
   "strong" ones.  For the other questions (edge-on: ``edge_on``; bulge
   size: ``bulge``; winding: ``arms``) ``c = clarity[t] x r``: not seeing
   means not being able to tell.  Arms and bars count in the
   featured-or-disk structure by ``r`` instead of their strength.  Truth
   answers that are the absent answer, inferred answers (the fallback
   below) and NaN visibilities keep points 3-4.

   The ``V_half`` values are set by hand from the ideal-observer argument
   of :mod:`galvae.simulate.visibility` (people reach about half the S/N of
   the matched filter, Burgess et al. 1981; detection of a known pattern
   needs S/N ~ 5, recognising and classifying it more): has arms 12,
   arm count and winding 25 (the arms must be traced, not just noticed),
   bulge-size step 8, edge-on 10, merger 10.  They are not fitted to Galaxy
   Zoo data.  The bar question's is set against two published
   distributions: Géron et al. (2021, MNRAS 507, 4389, "Galaxy Zoo:
   stronger bars facilitate quenching in star-forming galaxies", abstract)
   find the plurality answer strong bar in 15.5 %, weak bar in 28.1 % and
   no bar in 56.4 % of a volume-limited GZ DECaLS sample (0.01 < z < 0.05,
   M_r < -18.96), and the paper's Table 2 thresholds keep 3386 "no bar"
   (> 0.8), 103 "weak" (> 0.6) and 1782 "strong" (> 0.6) GZD-5 galaxies
   (64 / 2 / 34 %).  With ``V_half`` 15 (simulator revision 11) the
   simulated votes of the default demo's galaxies gave 20 / 5 / 74 % and
   78 / 1 / 21 %: weak bars too faint and too rarely recognised.  With the
   weak bars of revision 12 (:mod:`galvae.simulate.morphology`) and
   ``V_half`` 6 -- a bar, one compact shape across the centre, recognised
   at half the S/N of spiral arms -- they give 24 / 15 / 62 % and
   57 / 5 / 38 % (``benchmarks/bar_votes.py``, ``benchmarks/realism.md``,
   "Bar votes against Géron et al."); clarity and hedging that split
   visible bars further fit Géron's plurality better but break Table 2
   (weak > 0.6 for 19-28 % of the labelled bars).  Walmsley et al. (2022,
   MNRAS 509, 3966) compare GZD-5 bars with Nair & Abraham (2010)'s expert
   classifications.  No completeness or purity of Table 2's thresholds
   against a truth is published for real galaxies (there is no truth);
   the simulator reports its own with :func:`selection_purity`.

**Fallback truth.**  Volunteers who took a wrong turn reach questions the
truth does not answer (a smooth galaxy's bulge size, an edge-on disk's arm
count).  There the answer is inferred from the continuous truth -- axis
ratio for roundness and edge-on, bulge-to-total ratio for the bulge, pitch
angle for the winding, arm strength for arms -- or is "no bar" / "can't
tell", with clarity multiplied by ``fallback_clarity`` (default 0.5).

Without visibilities, the default parameters were set by hand so that, on the simulator's truth
sample, Table 2's thresholds select most but not all galaxies of the clear
classes with high purity, while the hard classes (weak bars, 4 arms,
medium winding, boxy bulges) are rarely selected -- the ordering of the
sample sizes of Table 2.  They are a plausible model, not a fit to Galaxy
Zoo data.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validate import check_bool, check_float, check_int
from ..data.labels import (
    GZ_DECALS_PARENTS,
    GZ_DECALS_QUESTIONS,
    LabelConfig,
    fraction_column,
)
from ..errors import GalvaeKeyError, GalvaeValueError
from ._checks import as_rng, set_float, set_int_pair
from .visibility import VISIBILITY_FEATURES, visibility_column

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "QuestionModel",
    "VoteConfig",
    "DEFAULT_QUESTION_MODELS",
    "TRUTH_CATEGORIES",
    "TRUTH_NUMBERS",
    "total_votes_column",
    "vote_fractions",
    "selection_purity",
    "recognition_probability",
]

log = logging.getLogger(__name__)

#: Categorical truth columns read by :func:`vote_fractions`: column -> (GZD-5 question, answers).
TRUTH_CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "truth_smooth_or_featured": ("smooth-or-featured", ("smooth", "featured-or-disk")),
    "truth_how_rounded": ("how-rounded", ("round", "in-between", "cigar-shaped")),
    "truth_disk_edge_on": ("disk-edge-on", ("yes", "no")),
    "truth_edge_on_bulge": ("edge-on-bulge", ("boxy", "none", "rounded")),
    "truth_bar": ("bar", ("strong", "weak", "no")),
    "truth_has_spiral_arms": ("has-spiral-arms", ("yes", "no")),
    "truth_bulge_size": ("bulge-size", ("dominant", "large", "moderate", "small", "none")),
    "truth_spiral_winding": ("spiral-winding", ("tight", "medium", "loose")),
    "truth_spiral_arm_count": ("spiral-arm-count", ("1", "2", "3", "4", "more-than-4")),
    "truth_merging": ("merging", ("none", "minor-disturbance", "major-disturbance", "merger")),
}

#: Continuous truth columns read by :func:`vote_fractions` (NaN allowed where stated).
TRUTH_NUMBERS: tuple[str, ...] = (
    "truth_mag_r",
    "truth_hlr_arcsec",
    "truth_axis_ratio",
    "truth_inclination_deg",
    "truth_bulge_to_total",
    "truth_bar_strength",
    "truth_arm_strength",
    "truth_arm_pitch_deg",
    "truth_companion_mag_r",
    "truth_tidal_strength",
)

#: Columns that must be finite in every row.
_REQUIRED_FINITE = ("truth_mag_r", "truth_hlr_arcsec")


def total_votes_column(question: str) -> str:
    """Name of the column counting the volunteers asked ``question``, e.g. ``bar_total-votes``."""
    return f"{question}_total-votes"


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class QuestionModel:
    """How volunteers answer one GZD-5 question.

    Parameters
    ----------
    question : str
        A key of :data:`galvae.data.labels.GZ_DECALS_QUESTIONS`.
    clarity : tuple of float
        Per answer (in the order of ``GZ_DECALS_QUESTIONS[question]``), the
        probability in [0, 1] that a volunteer recognises that true answer
        on a bright, large, face-on image.
    unsure : tuple of float
        Per answer, the relative frequency of each answer from a volunteer
        who cannot tell; non-negative, normalised here.
    order : tuple of str
        The ordinal answers, in order: confusions go to neighbours in this
        order.  Answers left out ("can't tell", "artifact") are reached only
        through ``unsure``.
    mag_half : float, default 18.0
        r magnitude (AB) at which the brightness factor of the clarity is 0.5.
    mag_width : float, default 0.5
        Width in magnitudes of the brightness factor's fall.
    size_scale : float, default 1.0
        Half-light radius, in units of the PSF FWHM, at which the resolution
        factor is ``1 - 1/e``.
    inclination : bool, default False
        Whether the feature fades as the disk is inclined (bars, arms).
    visibility : str or None, default None
        The feature of :data:`galvae.simulate.visibility.VISIBILITY_FEATURES`
        a volunteer must see to give this question's feature answers; used
        only when :func:`vote_fractions` is given visibilities.
    visibility_half : float, default 10.0
        Visibility (S/N in the presented image) at which half of the
        volunteers recognise the feature.
    absent : str or None, default None
        The answer of the galaxy without the feature ("no" bar, "no" arms,
        "none" for merging, "cant-tell" arm count): what a volunteer who does
        not see the feature answers from.  None: such a volunteer cannot
        tell (the ``unsure`` answers).

    Raises
    ------
    GalvaeValueError
        If the question is unknown, a tuple has the wrong length or values
        out of range, or the order names an unknown answer.
    """

    question: str
    clarity: tuple[float, ...]
    unsure: tuple[float, ...]
    order: tuple[str, ...]
    mag_half: float = 18.0
    mag_width: float = 0.5
    size_scale: float = 1.0
    inclination: bool = False
    visibility: str | None = None
    visibility_half: float = 10.0
    absent: str | None = None

    def __post_init__(self) -> None:
        if self.question not in GZ_DECALS_QUESTIONS:
            raise GalvaeValueError("QuestionModel.question is not a GZD-5 question", self.question, GZ_DECALS_QUESTIONS)
        answers = GZ_DECALS_QUESTIONS[self.question]
        for name in ("clarity", "unsure"):
            values = getattr(self, name)
            try:
                vals = tuple(float(v) for v in values)
            except (TypeError, ValueError):
                raise GalvaeValueError(f"QuestionModel({self.question}).{name} must be numbers", values) from None
            if len(vals) != len(answers) or not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in vals):
                raise GalvaeValueError(
                    f"QuestionModel({self.question}).{name} must be {len(answers)} numbers in [0, 1], "
                    f"one per answer ({', '.join(answers)})",
                    values,
                )
            object.__setattr__(self, name, vals)
        if sum(self.unsure) <= 0.0:
            raise GalvaeValueError(f"QuestionModel({self.question}).unsure must not be all zero", self.unsure)
        order = (self.order,) if isinstance(self.order, str) else tuple(self.order)
        if len(order) < 2 or any(a not in answers for a in order) or len(set(order)) != len(order):
            raise GalvaeValueError(
                f"QuestionModel({self.question}).order must list at least two distinct answers", order, answers
            )
        object.__setattr__(self, "order", order)
        where = f"QuestionModel({self.question})"
        for name, minimum in (("mag_half", None), ("mag_width", 0), ("size_scale", 0)):
            value = check_float(f"{where}.{name}", getattr(self, name), minimum=minimum, inclusive=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "inclination", check_bool(f"{where}.inclination", self.inclination))
        if self.visibility is not None and self.visibility not in VISIBILITY_FEATURES:
            raise GalvaeValueError(
                f"QuestionModel({self.question}).visibility must be None or a visibility feature",
                self.visibility,
                VISIBILITY_FEATURES,
            )
        half = check_float(f"{where}.visibility_half", self.visibility_half, minimum=0, inclusive=False)
        object.__setattr__(self, "visibility_half", half)
        if self.absent is not None and self.absent not in answers:
            raise GalvaeValueError(
                f"QuestionModel({self.question}).absent must be None or one of its answers", self.absent, answers
            )

    @property
    def answers(self) -> tuple[str, ...]:
        """The question's answers, in GZD-5 order."""
        return GZ_DECALS_QUESTIONS[self.question]


# Visibility (S/N in the presented image) at which half of the volunteers see a feature; see the
# module documentation ("Votes that follow the pixels") for the reasoning behind each.
_HALF_BAR = 6.0  # 15 up to simulator revision 11 (module documentation)
_HALF_ARMS = 12.0
_HALF_ARM_COUNT = 25.0
_HALF_WINDING = 25.0
_HALF_BULGE = 8.0
_HALF_EDGE_ON = 10.0
_HALF_MERGER = 10.0

#: The default volunteer model, one entry per GZD-5 question (see the module documentation).
DEFAULT_QUESTION_MODELS: tuple[QuestionModel, ...] = (
    QuestionModel(
        "smooth-or-featured",
        clarity=(0.92, 0.95, 0.0),
        unsure=(0.85, 0.15, 0.0),
        order=("smooth", "featured-or-disk"),
        mag_half=19.0,
        mag_width=0.5,
        size_scale=0.7,
    ),
    QuestionModel(
        "disk-edge-on",
        clarity=(0.95, 0.96),
        unsure=(0.15, 0.85),
        order=("yes", "no"),
        mag_half=19.5,
        mag_width=0.5,
        size_scale=0.6,
        visibility="edge_on",
        visibility_half=_HALF_EDGE_ON,
    ),
    QuestionModel(
        "has-spiral-arms",
        clarity=(0.97, 0.7),
        unsure=(0.85, 0.15),
        order=("yes", "no"),
        mag_half=19.0,
        mag_width=0.5,
        size_scale=0.8,
        inclination=True,
        visibility="arms",
        visibility_half=_HALF_ARMS,
        absent="no",
    ),
    QuestionModel(
        "bar",
        clarity=(0.93, 0.5, 0.92),
        unsure=(0.05, 0.25, 0.70),
        order=("strong", "weak", "no"),
        mag_half=18.8,
        mag_width=0.5,
        size_scale=1.1,
        inclination=True,
        visibility="bar",
        visibility_half=_HALF_BAR,
        absent="no",
    ),
    QuestionModel(
        "bulge-size",
        clarity=(0.5, 0.5, 0.8, 0.8, 0.7),
        unsure=(0.04, 0.11, 0.5, 0.3, 0.05),
        order=("dominant", "large", "moderate", "small", "none"),
        mag_half=19.0,
        mag_width=0.5,
        size_scale=0.9,
        inclination=True,
        visibility="bulge",
        visibility_half=_HALF_BULGE,
    ),
    QuestionModel(
        "how-rounded",
        clarity=(0.93, 0.92, 0.92),
        unsure=(0.4, 0.55, 0.05),
        order=("round", "in-between", "cigar-shaped"),
        mag_half=20.0,
        mag_width=0.5,
        size_scale=0.5,
    ),
    QuestionModel(
        "edge-on-bulge",
        clarity=(0.5, 0.8, 0.93),
        unsure=(0.05, 0.35, 0.60),
        order=("none", "boxy", "rounded"),
        mag_half=19.0,
        mag_width=0.5,
        size_scale=0.8,
    ),
    QuestionModel(
        "spiral-winding",
        clarity=(0.8, 0.5, 0.8),
        unsure=(0.35, 0.35, 0.3),
        order=("tight", "medium", "loose"),
        mag_half=18.8,
        mag_width=0.5,
        size_scale=1.2,
        inclination=True,
        visibility="arms",
        visibility_half=_HALF_WINDING,
    ),
    QuestionModel(
        "spiral-arm-count",
        clarity=(0.45, 0.97, 0.5, 0.3, 0.5, 0.0),
        unsure=(0.06, 0.5, 0.08, 0.02, 0.04, 0.30),
        order=("1", "2", "3", "4", "more-than-4"),
        mag_half=19.0,
        mag_width=0.5,
        size_scale=0.9,
        inclination=True,
        visibility="arms",
        visibility_half=_HALF_ARM_COUNT,
        absent="cant-tell",
    ),
    QuestionModel(
        "merging",
        clarity=(0.96, 0.5, 0.65, 0.88),
        unsure=(0.85, 0.10, 0.03, 0.02),
        order=("none", "minor-disturbance", "major-disturbance", "merger"),
        mag_half=19.5,
        mag_width=0.5,
        size_scale=0.6,
        visibility="merger",
        visibility_half=_HALF_MERGER,
        absent="none",
    ),
)


@dataclass(frozen=True)
class VoteConfig:
    """The simulated Galaxy Zoo volunteers (see the module documentation).

    Parameters
    ----------
    n_volunteers : int, default 40
        Mean number of volunteers of a well-classified galaxy.
    n_volunteers_sd : float, default 4.0
        Standard deviation of that number.
    low_vote_fraction : float, default 0.05
        Fraction of galaxies that get only a few volunteers.
    low_vote_range : (int, int), default (3, 7)
        Inclusive range of the number of volunteers of those galaxies.
    concentration : float, default 25.0
        Dirichlet concentration of the per-galaxy answer probabilities;
        larger means less galaxy-to-galaxy scatter.
    floor : float, default 0.01
        Probability of a random (careless) answer among the ordinal answers.
    neighbour_weight : float, default 0.6
        Share of the confused votes that go to neighbouring answers; the
        rest follow the question's ``unsure`` distribution.
    neighbour_scale : float, default 0.7
        Decay length, in answer steps, of the neighbour kernel.
    psf_fwhm_arcsec : float, default 1.2
        PSF FWHM that sets the resolution factor (DECaLS r band about 1.2).
    face_on_full_deg : float, default 45.0
        Inclination up to which bars and arms are fully visible.
    face_on_limit_deg : float, default 85.0
        Inclination at which they become invisible.
    fallback_clarity : float, default 0.5
        Clarity factor where a question's answer is inferred rather than in
        the truth table.
    artifact_probability : float, default 0.003
        Probability of an "artifact" vote at the first question.
    defect_artifact_probability : float, default 0.1
        The same where the truth table's ``defect`` column is not "none".
    visibility_width : float, default 0.5
        Width, in natural log of the visibility, of the logistic chance of
        recognising a feature (:attr:`QuestionModel.visibility_half` is its
        middle): from 27 % to 73 % over a factor e² ≈ 7.4 in S/N.
    questions : tuple of QuestionModel
        One model per GZD-5 question; default :data:`DEFAULT_QUESTION_MODELS`.

    Raises
    ------
    GalvaeValueError
        If a value is out of range or a question is missing or repeated.
    """

    n_volunteers: int = 40
    n_volunteers_sd: float = 4.0
    low_vote_fraction: float = 0.05
    low_vote_range: tuple[int, int] = (3, 7)
    concentration: float = 25.0
    floor: float = 0.01
    neighbour_weight: float = 0.6
    neighbour_scale: float = 0.7
    psf_fwhm_arcsec: float = 1.2
    face_on_full_deg: float = 45.0
    face_on_limit_deg: float = 85.0
    fallback_clarity: float = 0.5
    artifact_probability: float = 0.003
    defect_artifact_probability: float = 0.1
    visibility_width: float = 0.5
    questions: tuple[QuestionModel, ...] = DEFAULT_QUESTION_MODELS

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_volunteers", check_int("VoteConfig.n_volunteers", self.n_volunteers, minimum=1))
        set_float(self, "n_volunteers_sd", 0.0, math.inf)
        set_float(self, "low_vote_fraction", 0.0, 1.0)
        set_int_pair(self, "low_vote_range")
        set_float(self, "concentration", 0.0, math.inf, open_low=True)
        set_float(self, "floor", 0.0, 1.0)
        set_float(self, "neighbour_weight", 0.0, 1.0)
        set_float(self, "neighbour_scale", 0.0, math.inf, open_low=True)
        set_float(self, "psf_fwhm_arcsec", 0.0, math.inf, open_low=True)
        set_float(self, "face_on_full_deg", 0.0, 90.0)
        set_float(self, "face_on_limit_deg", 0.0, 90.0)
        if self.face_on_limit_deg <= self.face_on_full_deg:
            raise GalvaeValueError(
                "VoteConfig.face_on_limit_deg must be larger than face_on_full_deg",
                (self.face_on_full_deg, self.face_on_limit_deg),
            )
        set_float(self, "fallback_clarity", 0.0, 1.0)
        set_float(self, "artifact_probability", 0.0, 1.0)
        set_float(self, "defect_artifact_probability", 0.0, 1.0)
        set_float(self, "visibility_width", 0.0, math.inf, open_low=True)
        models = tuple(self.questions) if isinstance(self.questions, list | tuple) else None
        if models is None or not all(isinstance(m, QuestionModel) for m in models):
            raise GalvaeValueError(
                "VoteConfig.questions must be a tuple of QuestionModel", type(self.questions).__name__
            )
        names = [m.question for m in models]
        if sorted(names) != sorted(GZ_DECALS_QUESTIONS):
            raise GalvaeValueError(
                "VoteConfig.questions must have exactly one model per GZD-5 question", names, GZ_DECALS_QUESTIONS
            )
        object.__setattr__(self, "questions", models)

    def model(self, question: str) -> QuestionModel:
        """The :class:`QuestionModel` of one question.

        Raises
        ------
        GalvaeKeyError
            If the question is not a GZD-5 question.
        """
        for m in self.questions:
            if m.question == question:
                return m
        raise GalvaeKeyError("no volunteer model for question", question, [m.question for m in self.questions])


def _tree_order() -> list[str]:
    """GZD-5 questions with every parent before its children."""
    order: list[str] = []
    pending = list(GZ_DECALS_QUESTIONS)
    while pending:
        for q in list(pending):
            parent = GZ_DECALS_PARENTS[q]
            if parent is None or parent[0] in order:
                order.append(q)
                pending.remove(q)
    return order


def _check_truth(truth: Any) -> dict[str, np.ndarray]:
    """Validate the truth table; return answer indices (-1 = not applicable) and floats by column."""
    import pandas as pd

    if not isinstance(truth, pd.DataFrame):
        raise GalvaeValueError("truth must be a pandas DataFrame", type(truth).__name__)
    needed = list(TRUTH_CATEGORIES) + list(TRUTH_NUMBERS)
    missing = [c for c in needed if c not in truth.columns]
    if missing:
        raise GalvaeKeyError("truth table lacks column(s)", ", ".join(missing), needed)
    out: dict[str, np.ndarray] = {}
    for col, (question, answers) in TRUTH_CATEGORIES.items():
        values = truth[col].astype(object).to_numpy()
        missing_value = pd.isna(values)
        idx = np.full(len(values), -1, dtype=np.int64)
        gz_answers = GZ_DECALS_QUESTIONS[question]
        for answer in answers:
            idx[(values == answer) & ~missing_value] = gz_answers.index(answer)
        bad = (idx < 0) & ~missing_value
        if bad.any():
            raise GalvaeValueError(f"truth column {col!r} holds an unknown answer", values[bad][0], answers)
        out[col] = idx
    for col in TRUTH_NUMBERS:
        try:
            values = truth[col].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise GalvaeValueError(f"truth column {col!r} must hold numbers", str(truth[col].dtype)) from None
        if np.isinf(values).any():
            raise GalvaeValueError(f"truth column {col!r} holds infinite values", float(values[np.isinf(values)][0]))
        out[col] = values
    for col in _REQUIRED_FINITE:
        if np.isnan(out[col]).any():
            raise GalvaeValueError(f"truth column {col!r} must be set in every row", "NaN")
    if (out["truth_hlr_arcsec"] <= 0).any():
        raise GalvaeValueError("truth column 'truth_hlr_arcsec' must be positive", float(out["truth_hlr_arcsec"].min()))
    if (out["truth_smooth_or_featured"] < 0).any() or (out["truth_merging"] < 0).any():
        raise GalvaeValueError("truth columns 'truth_smooth_or_featured' and 'truth_merging' must be set in every row")
    return out


def _neighbour_kernel(model: QuestionModel, scale: float) -> np.ndarray:
    """(k, k) kernel: row t = where the confused votes of true answer t go among the ordinal answers."""
    answers = model.answers
    k = len(answers)
    kernel = np.zeros((k, k))
    pos = {a: i for i, a in enumerate(model.order)}
    for t, at in enumerate(answers):
        if at not in pos:
            continue
        for j, aj in enumerate(answers):
            if aj in pos and aj != at:
                kernel[t, j] = math.exp(-abs(pos[at] - pos[aj]) / scale)
        kernel[t] /= kernel[t].sum()
    return kernel


def _answer_probabilities(
    model: QuestionModel, true_idx: np.ndarray, clarity: np.ndarray, cfg: VoteConfig
) -> np.ndarray:
    """(n, k) probabilities of each answer for one volunteer; true_idx must be valid (>= 0)."""
    k = len(model.answers)
    unsure = np.asarray(model.unsure) / sum(model.unsure)
    kernel = _neighbour_kernel(model, cfg.neighbour_scale)
    # true answers outside the order (can't tell) have no neighbours: confusion follows 'unsure' only
    has_nb = kernel.sum(axis=1) > 0
    confused = np.where(
        has_nb[true_idx][:, None],
        cfg.neighbour_weight * kernel[true_idx] + (1.0 - cfg.neighbour_weight) * unsure[None, :],
        unsure[None, :],
    )
    onehot = np.zeros((len(true_idx), k))
    onehot[np.arange(len(true_idx)), true_idx] = 1.0
    c = clarity[:, None]
    p = c * onehot + (1.0 - c) * confused
    careless = np.zeros(k)
    careless[[model.answers.index(a) for a in model.order]] = 1.0 / len(model.order)
    return (1.0 - cfg.floor) * p + cfg.floor * careless[None, :]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _non_negative(values: np.ndarray) -> np.ndarray:
    return np.clip(np.nan_to_num(values, nan=0.0), 0.0, None)


def _digitize(values: np.ndarray, cuts: tuple[float, ...], labels: tuple[int, ...], default: int) -> np.ndarray:
    """Label index of each value by increasing cuts; ``default`` where NaN."""
    out = np.asarray(labels)[np.digitize(np.nan_to_num(values, nan=0.0), cuts)]
    return np.where(np.isnan(values), default, out)


class _Truth:
    """Visibility factors and (fallback) true answers of a truth table."""

    def __init__(self, t: dict[str, np.ndarray], cfg: VoteConfig) -> None:
        self.t = t
        self.cfg = cfg
        mag = t["truth_mag_r"]
        hlr = t["truth_hlr_arcsec"]
        self.mag = mag
        self.hlr = hlr
        incl = t["truth_inclination_deg"]
        cos_lim = math.cos(math.radians(cfg.face_on_limit_deg))
        cos_full = math.cos(math.radians(cfg.face_on_full_deg))
        cos_i = np.cos(np.radians(np.nan_to_num(incl, nan=0.0)))
        self.face = np.sqrt(np.clip((cos_i - cos_lim) / (cos_full - cos_lim), 0.0, 1.0))
        self.bar_strength = _non_negative(t["truth_bar_strength"])
        self.arm_strength = _non_negative(t["truth_arm_strength"])
        self.tidal = _non_negative(t["truth_tidal_strength"])
        self.bt = t["truth_bulge_to_total"]
        comp = t["truth_companion_mag_r"]
        self.companion = np.where(np.isnan(comp), 0.0, _sigmoid((19.0 - np.nan_to_num(comp, nan=99.0)) / 0.5))
        self.edge = np.clip((np.nan_to_num(incl, nan=0.0) - 60.0) / 20.0, 0.0, 1.0)
        self.disk = np.clip((1.0 - np.nan_to_num(self.bt, nan=1.0)) / 0.7, 0.0, 1.0)
        self.structure = np.clip(
            np.maximum.reduce([self.arm_strength / 0.3, self.bar_strength / 0.5, self.disk, self.edge]), 0.0, 1.0
        )

    def seen_structure(self, arms_seen: np.ndarray, bar_seen: np.ndarray) -> None:
        """Count arms and bars in the featured-or-disk structure by their chance of being seen (NaN: truth)."""
        arms = np.where(np.isnan(arms_seen), self.arm_strength / 0.3, arms_seen)
        bar = np.where(np.isnan(bar_seen), self.bar_strength / 0.5, bar_seen)
        self.structure = np.clip(np.maximum.reduce([arms, bar, self.disk, self.edge]), 0.0, 1.0)

    def base(self, model: QuestionModel) -> np.ndarray:
        """Brightness x resolution (x face-on-ness) factor of one question."""
        bright = _sigmoid((model.mag_half - self.mag) / model.mag_width)
        resolved = 1.0 - np.exp(-((self.hlr / (model.size_scale * self.cfg.psf_fwhm_arcsec)) ** 2))
        out = bright * resolved
        if model.inclination:
            out = out * self.face
        return out

    def true_answer(self, question: str) -> tuple[np.ndarray, np.ndarray]:
        """(answer index, inferred) per galaxy: the truth column, or a fallback where it is not set."""
        answers = GZ_DECALS_QUESTIONS[question]
        col = next(c for c, (q, _) in TRUTH_CATEGORIES.items() if q == question)
        idx = self.t[col].copy()
        inferred = idx < 0
        if not inferred.any():
            return idx, inferred
        a = answers.index
        q_ratio = self.t["truth_axis_ratio"]
        if question == "how-rounded":
            fb = _digitize(q_ratio, (0.35, 0.7), (a("cigar-shaped"), a("in-between"), a("round")), a("round"))
        elif question == "disk-edge-on":
            fb = _digitize(q_ratio, (0.35,), (a("yes"), a("no")), a("no"))
        elif question == "edge-on-bulge":
            fb = _digitize(self.bt, (0.2,), (a("none"), a("rounded")), a("rounded"))
        elif question == "has-spiral-arms":
            fb = np.where(self.arm_strength > 0.1, a("yes"), a("no"))
        elif question == "bulge-size":
            fb = _digitize(
                self.bt,
                (0.05, 0.2, 0.4, 0.6),
                (a("none"), a("small"), a("moderate"), a("large"), a("dominant")),
                a("dominant"),
            )
        elif question == "spiral-winding":
            fb = _digitize(
                self.t["truth_arm_pitch_deg"], (15.0, 25.0), (a("tight"), a("medium"), a("loose")), a("medium")
            )
        elif question == "spiral-arm-count":
            fb = np.full(len(idx), a("cant-tell"))
        elif question == "bar":
            fb = np.full(len(idx), a("no"))
        else:  # smooth-or-featured and merging are always set (checked)
            fb = idx
        idx[inferred] = fb[inferred]
        return idx, inferred

    def strength(self, question: str, idx: np.ndarray) -> np.ndarray:
        """Feature-contrast factor of the true answer (1 where it does not apply)."""
        answers = GZ_DECALS_QUESTIONS[question]
        out = np.ones(len(idx))
        if question == "smooth-or-featured":
            featured = idx == answers.index("featured-or-disk")
            out[featured] = self.structure[featured]
        elif question == "bar":
            barred = idx != answers.index("no")
            out[barred] = 1.0 - np.exp(-self.bar_strength[barred] / 0.25)
        elif question in ("has-spiral-arms", "spiral-winding", "spiral-arm-count"):
            arms = idx != answers.index("no") if question == "has-spiral-arms" else np.ones(len(idx), bool)
            out[arms] = 1.0 - np.exp(-self.arm_strength[arms] / 0.08)
        elif question == "merging":
            disturbed = idx != answers.index("none")
            tidal = 1.0 - np.exp(-self.tidal / 0.3)
            out[disturbed] = np.maximum(tidal, self.companion)[disturbed]
        return out


def recognition_probability(visibility: np.ndarray, half: float, width: float) -> np.ndarray:
    """Chance that a volunteer sees a feature of visibility ``V``: ``1 / (1 + (half / V)^(1 / width))``.

    That is the logistic function of ``ln V`` with middle ``ln half`` and
    width ``width``; 0 where ``V = 0``, NaN where ``V`` is NaN.
    """
    v = np.asarray(visibility, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(
            v > 0,
            _sigmoid((np.log(np.where(v > 0, v, 1.0)) - math.log(half)) / width),
            np.where(np.isnan(v), np.nan, 0.0),
        )


def _check_visibility(visibility: Any, truth: pd.DataFrame) -> dict[str, np.ndarray]:
    """Visibility per feature as float arrays aligned with ``truth`` (NaN: not measured)."""
    import pandas as pd

    n = len(truth)
    out: dict[str, np.ndarray] = {}
    if isinstance(visibility, pd.DataFrame):
        if len(visibility) != n or not visibility.index.equals(truth.index):
            raise GalvaeValueError("visibility must have the index of truth (the same galaxies in the same order)")
        cols = [visibility_column(f) for f in VISIBILITY_FEATURES]
        missing = [c for c in cols if c not in visibility.columns]
        if missing:
            raise GalvaeKeyError("visibility table lacks column(s)", ", ".join(missing), cols)
        raw = {f: visibility[visibility_column(f)] for f in VISIBILITY_FEATURES}
    elif isinstance(visibility, dict):
        unknown = [k for k in visibility if k not in VISIBILITY_FEATURES]
        if unknown:
            raise GalvaeValueError("unknown visibility feature(s)", unknown, VISIBILITY_FEATURES)
        raw = {f: visibility.get(f, np.full(n, np.nan)) for f in VISIBILITY_FEATURES}
    else:
        raise GalvaeValueError(
            "visibility must be None, a DataFrame of visibility_* columns or a dict of arrays",
            type(visibility).__name__,
        )
    for f, values in raw.items():
        try:
            arr = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise GalvaeValueError(f"visibility of {f!r} must hold numbers") from None
        if arr.shape != (n,):
            raise GalvaeValueError(f"visibility of {f!r} must have one value per galaxy", (arr.size, n))
        if (arr[~np.isnan(arr)] < 0).any() or np.isinf(arr).any():
            raise GalvaeValueError(
                f"visibility of {f!r} must be finite and non-negative (NaN: not measured)",
                float(arr[np.isinf(arr) | (arr < 0)][0]),
            )
        out[f] = arr
    return out


def _dirichlet(rng: np.random.Generator, mean: np.ndarray, concentration: float) -> np.ndarray:
    """One Dirichlet draw per row of mean (rows sum to 1)."""
    g = rng.gamma(mean * concentration)
    total = g.sum(axis=1, keepdims=True)
    # a row whose gammas all underflow (tiny concentration) falls back to its mean
    return np.where(total > 0, g / np.where(total > 0, total, 1.0), mean)


def _seen_probabilities(
    model: QuestionModel,
    idx: np.ndarray,
    inferred: np.ndarray,
    clarity: np.ndarray,
    visibility: np.ndarray,
    info: _Truth,
    cfg: VoteConfig,
    p_truth: np.ndarray,
) -> np.ndarray:
    """Answer probabilities where the feature's visibility decides (module documentation, point 6).

    Rows whose answer is inferred, whose visibility is NaN or (for questions
    with an ``absent`` answer) whose true answer is that absent answer keep
    ``p_truth``.
    """
    r = recognition_probability(visibility, model.visibility_half, cfg.visibility_width)
    clar = np.asarray(model.clarity)
    use = ~inferred & ~np.isnan(r)
    if model.absent is not None:
        a = model.answers.index(model.absent)
        use &= idx != a
    if not use.any():
        return p_truth
    r_u = r[use][:, None]
    seen = _answer_probabilities(model, idx[use], clar[idx[use]], cfg)
    if model.absent is not None:
        absent_idx = np.full(int(use.sum()), a)
        c_abs = np.clip(clar[a] * info.base(model)[use], 0.0, 1.0)
        unseen = _answer_probabilities(model, absent_idx, c_abs, cfg)
        mixed = r_u * seen + (1.0 - r_u) * unseen
    else:
        mixed = _answer_probabilities(model, idx[use], clar[idx[use]] * r[use], cfg)
    out = p_truth.copy()
    out[use] = mixed
    return out


def vote_fractions(
    truth: pd.DataFrame,
    rng: np.random.Generator | int,
    *,
    config: VoteConfig | None = None,
    counts: bool = False,
    visibility: pd.DataFrame | dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Draw Galaxy Zoo DECaLS vote fractions from the morphology truth.

    Parameters
    ----------
    truth : DataFrame
        One row per galaxy with the categorical columns of
        :data:`TRUTH_CATEGORIES` (GZD-5 answer spelling; None/NaN where the
        question does not apply) and the float columns of
        :data:`TRUTH_NUMBERS` (``truth_mag_r`` and ``truth_hlr_arcsec`` set
        in every row; the others may be NaN where they do not apply).  An
        optional ``defect`` column (``"none"`` or a defect kind) raises the
        "artifact" votes.
    rng : numpy.random.Generator or int
        Source of randomness (an int is a seed).  The draws depend on the
        rows and their order, so split work by galaxy only with one
        generator per galaxy batch.
    config : VoteConfig, optional
        The volunteer model; default ``VoteConfig()``.
    counts : bool, default False
        Also return the vote counts as ``<question>_<answer>`` columns (the
        Zenodo catalogue's count columns).
    visibility : DataFrame or dict, optional
        Measured visibility of each feature in each galaxy's presented image
        (:func:`galvae.simulate.visibility.feature_visibility`): a table with
        the columns ``visibility_<feature>`` for every feature of
        :data:`~galvae.simulate.visibility.VISIBILITY_FEATURES` and the index
        of ``truth``, or a dict feature -> array (features left out count as
        not measured).  Given, volunteers recognise a feature with the
        chance :func:`recognition_probability` (see "Votes that follow the
        pixels" in the module documentation); NaN entries, and None (the
        default), keep the truth-only clarity model.

    Returns
    -------
    DataFrame
        Same index as ``truth``.  For every question of
        :data:`galvae.data.labels.GZ_DECALS_QUESTIONS`, in that order, the
        float64 columns ``<question>_<answer>_fraction`` (NaN where nobody
        reached the question) and the int64 column
        ``<question>_total-votes``.

    Raises
    ------
    GalvaeValueError
        If ``truth`` is not a DataFrame, holds an unknown answer, non-numeric
        or infinite numbers, or a required value is missing.
    GalvaeKeyError
        If a truth column, or a visibility column of a visibility table, is
        missing.

    Examples
    --------
    >>> from galvae.simulate.morphology import sample_truth
    >>> rng = np.random.default_rng(0)
    >>> truth = sample_truth(1000, rng)
    >>> votes = vote_fractions(truth, rng)
    >>> from galvae.data.labels import labels_from_catalog
    >>> labels = labels_from_catalog(votes)
    """
    import pandas as pd

    cfg = VoteConfig() if config is None else config
    if not isinstance(cfg, VoteConfig):
        raise GalvaeValueError("config must be a VoteConfig", type(cfg).__name__)
    gen = as_rng(rng)
    t = _check_truth(truth)
    n = len(truth)
    vis = None if visibility is None else _check_visibility(visibility, truth)
    info = _Truth(t, cfg)
    if vis is not None:
        # featured-or-disk: arms and bars count as structure as far as they are seen
        recog = {
            f: recognition_probability(vis[f], cfg.model(q).visibility_half, cfg.visibility_width)
            for f, q in (("arms", "has-spiral-arms"), ("bar", "bar"))
        }
        info.seen_structure(recog["arms"], recog["bar"])

    full = np.maximum(np.rint(gen.normal(cfg.n_volunteers, cfg.n_volunteers_sd, n)), 1).astype(np.int64)
    low = gen.integers(cfg.low_vote_range[0], cfg.low_vote_range[1] + 1, n)
    n_volunteers = np.where(gen.random(n) < cfg.low_vote_fraction, low, full)

    artifact_p = np.full(n, cfg.artifact_probability)
    if "defect" in truth.columns:
        defect = truth["defect"].astype(object).to_numpy()
        flagged = ~pd.isna(defect) & (defect != "none")
        artifact_p[flagged] = cfg.defect_artifact_probability

    votes: dict[str, np.ndarray] = {}
    reached: dict[str, np.ndarray] = {}
    for question in _tree_order():
        model = cfg.model(question)
        answers = model.answers
        parent = GZ_DECALS_PARENTS[question]
        if parent is None:
            n_q = n_volunteers.copy()
            if question != "smooth-or-featured":
                # a volunteer who answers "artifact" ends the classification (GZD-5)
                n_q -= votes["smooth-or-featured"][:, GZ_DECALS_QUESTIONS["smooth-or-featured"].index("artifact")]
        else:
            n_q = votes[parent[0]][:, GZ_DECALS_QUESTIONS[parent[0]].index(parent[1])]
        idx, inferred = info.true_answer(question)
        clarity = np.asarray(model.clarity)[idx] * info.base(model) * info.strength(question, idx)
        clarity = np.where(inferred, clarity * cfg.fallback_clarity, clarity)
        p = _answer_probabilities(model, idx, np.clip(clarity, 0.0, 1.0), cfg)
        if vis is not None and model.visibility is not None:
            p = _seen_probabilities(model, idx, inferred, clarity, vis[model.visibility], info, cfg, p)
        if question == "smooth-or-featured":
            art = np.zeros(len(answers))
            art[answers.index("artifact")] = 1.0
            p = (1.0 - artifact_p[:, None]) * p + artifact_p[:, None] * art[None, :]
        p_gal = _dirichlet(gen, p, cfg.concentration)
        votes[question] = gen.multinomial(n_q, p_gal).astype(np.int64)
        reached[question] = n_q

    columns: dict[str, np.ndarray] = {}
    for question, answers in GZ_DECALS_QUESTIONS.items():
        total = reached[question]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(total[:, None] > 0, votes[question] / np.maximum(total, 1)[:, None], np.nan)
        for j, answer in enumerate(answers):
            columns[fraction_column(question, answer)] = frac[:, j]
        columns[total_votes_column(question)] = total.astype(np.int64)
        if counts:
            for j, answer in enumerate(answers):
                columns[f"{question}_{answer}"] = votes[question][:, j]
    log.debug("drew vote fractions for %d galaxies", n)
    return pd.DataFrame(columns, index=truth.index)


def selection_purity(
    truth: pd.DataFrame,
    labels: pd.DataFrame,
    config: LabelConfig | None = None,
) -> pd.DataFrame:
    """How well Table 2's vote-fraction thresholds recover the simulated truth.

    For every class of the labelling rules, count the galaxies whose truth
    is that class (its question's ``truth_*`` column holds one of the
    class's answers), the galaxies selected by the thresholds, and both.

    Parameters
    ----------
    truth : DataFrame
        The truth table (the categorical columns of :data:`TRUTH_CATEGORIES`).
    labels : DataFrame
        :func:`galvae.data.labels.labels_from_catalog` of the vote fractions
        of the same galaxies, same index.
    config : LabelConfig, optional
        The rules the labels were made with; default Table 2.

    Returns
    -------
    DataFrame
        One row per class: ``feature``, ``class``, ``n_truth``,
        ``n_selected``, ``n_correct``, ``completeness`` (``n_correct /
        n_truth``) and ``purity`` (``n_correct / n_selected``; NaN where
        nothing is selected).

    Raises
    ------
    GalvaeValueError
        If the tables do not share their index.
    GalvaeKeyError
        If a truth or label column is missing.
    """
    import pandas as pd

    cfg = LabelConfig() if config is None else config
    if not isinstance(truth, pd.DataFrame) or not isinstance(labels, pd.DataFrame):
        raise GalvaeValueError("truth and labels must be pandas DataFrames")
    if not truth.index.equals(labels.index):
        raise GalvaeValueError("truth and labels must have the same index (the same galaxies in the same order)")
    column_of = {q: col for col, (q, _) in TRUTH_CATEGORIES.items()}
    rows = []
    for rule in cfg.rules:
        col = column_of.get(rule.question)
        if col is None or col not in truth.columns:
            raise GalvaeKeyError("truth table lacks the column of question", rule.question, list(truth.columns))
        if rule.feature not in labels.columns:
            raise GalvaeKeyError("labels lack feature column", rule.feature, list(labels.columns))
        is_true = truth[col].astype(object).isin(rule.answers).to_numpy()
        selected = labels[rule.feature].astype(object).eq(rule.label).to_numpy()
        n_true, n_sel, n_ok = int(is_true.sum()), int(selected.sum()), int((is_true & selected).sum())
        rows.append(
            {
                "feature": rule.feature,
                "class": rule.label,
                "n_truth": n_true,
                "n_selected": n_sel,
                "n_correct": n_ok,
                "completeness": n_ok / n_true if n_true else np.nan,
                "purity": n_ok / n_sel if n_sel else np.nan,
            }
        )
    return pd.DataFrame(rows)
