"""The GalSim simulator of galaxies seen by two surveys (galvae's built-in default data).

Pieces, each usable alone: :mod:`~galvae.simulate.surveys` (survey
configurations), :mod:`~galvae.simulate.morphology` (true parameters),
:mod:`~galvae.simulate.render` (GalSim rendering), :mod:`~galvae.simulate.votes`
(Galaxy Zoo vote fractions), :mod:`~galvae.simulate.defects` (planted
defects) and :mod:`~galvae.simulate.core` (:func:`simulate`, which writes image
stores and a catalogue).
"""

from .core import (
    SIMULATOR_REVISION,
    SimulationConfig,
    SimulationResult,
    load_simulation_config,
    render_galaxies,
    simulate,
)
from .defects import DEFECT_KINDS, DefectConfig
from .field import FieldConfig
from .morphology import MorphologyConfig, sample_truth
from .render import render_galaxy, render_point_source
from .surveys import (
    BASS_MZLS,
    DECALS,
    DR5_PASS_CORRELATION,
    DR5_PASS_FRACTIONS,
    DR5_SKY_RESIDUAL,
    DR5_SKY_RESIDUAL_SCALE,
    BandConfig,
    SurveyConfig,
    get_survey,
    load_survey,
)
from .votes import VoteConfig, vote_fractions

__all__ = [
    "BASS_MZLS",
    "DECALS",
    "DEFECT_KINDS",
    "DR5_PASS_CORRELATION",
    "DR5_PASS_FRACTIONS",
    "DR5_SKY_RESIDUAL",
    "DR5_SKY_RESIDUAL_SCALE",
    "SIMULATOR_REVISION",
    "BandConfig",
    "DefectConfig",
    "FieldConfig",
    "MorphologyConfig",
    "SimulationConfig",
    "SimulationResult",
    "SurveyConfig",
    "VoteConfig",
    "get_survey",
    "load_simulation_config",
    "load_survey",
    "render_galaxies",
    "render_galaxy",
    "render_point_source",
    "sample_truth",
    "simulate",
    "vote_fractions",
]
