"""``simulate``: the same galaxies seen by two (or more) surveys, written as galvae products.

:func:`simulate` draws a truth table, Galaxy Zoo vote fractions and planted
defects, renders every galaxy in the first survey and the first ``overlap``
galaxies again in each further survey, and writes::

    OUT/<survey>.h5        one image store per survey (ids match across surveys)
    OUT/catalog.parquet    id, ra, dec, in_overlap, truth_*, defect, defect_<survey>,
                           psf_fwhm_<survey>_<band>, n_pass_<survey>_<band> (passes in the galaxy's
                           coadd, NaN where the survey did not see it), GZ DECaLS fraction and total-vote
                           columns
    OUT/simulation.json    the resolved SimulationConfig, the survey configurations, galvae version
                           (:func:`load_simulation_config` reads them back to re-run it)

Determinism: every random draw comes from a :class:`numpy.random.SeedSequence`
keyed by ``(seed, galaxy index, stream)``; the galaxy's shape (knots, tails,
companion) uses one stream shared by all surveys, and each survey has its own
for the PSF scatter, noise and defects.  The files are therefore identical
whatever the number of worker processes.

Overlap and bright stars: the overlap galaxies (the first ``overlap`` ids)
sit in a strip of declination 32-34° (the BASS+MzLS / DECaLS overlap), the
others at -10-32°.  Defects are drawn independently per survey; a bright star
is a star on the sky, so when one survey of an overlap galaxy has one, the
other survey shows the *same* star (same position, magnitude, colour), seen
with its own PSF, pixel scale and saturation, with probability
``star_shared_probability`` (default 0.5) — bright-star contamination can
thus differ between the surveys, as in the paper's Fig. 5.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .._io import atomic_path
from .._validate import check_int
from .._version import __version__
from ..config import BANDS, StretchConfig, config_from_dict, config_to_dict
from ..data.labels import write_table
from ..data.manifest import ShardedStoreWriter
from ..data.preprocess import crop_and_resize, stretch
from ..data.presentation import (
    GZ_DECALS_PIXELS,
    GZ_DECALS_STRETCH,
    check_field_fraction,
    check_profile,
    gz_decals_present,
    profile_stretch,
)
from ..data.store import ImageStoreWriter
from ..errors import GalvaeFileError, GalvaeValueError
from .defects import DefectConfig, assign_defects, plant_defect, sample_star
from .field import FieldConfig
from .morphology import MorphologyConfig, sample_truth
from .present import presentation_field
from .render import REFERENCE_PIXEL_SCALE, render_galaxy
from .surveys import SurveyConfig, resolve_survey, survey_to_dict
from .visibility import VISIBILITY_FEATURES, feature_visibility, visibility_column
from .votes import vote_fractions

__all__ = [
    "SimulationConfig",
    "SimulationResult",
    "simulate",
    "render_galaxies",
    "default_workers",
    "load_simulation_config",
    "SIMULATOR_REVISION",
]

log = logging.getLogger(__name__)

#: Revision of what the simulator draws for a given configuration and seed, raised whenever the images or the
#: truth change (recorded in ``simulation.json``; ``galvae demo`` re-simulates a directory made by another one).
#: 2: arms leave the bars' ends, barred discs have the bigger bulges (2026-12-05).
#: 3: merger companions at 1-2.2 half-light radii in the gz-decals profile (no 6" cap) (2026-12-05).
#: 4: lopsided discs (m = 1, <A1/A0> median 0.11; Rudnick & Rix 1998) (2026-12-06).
#: 5: gz-decals presented on the 424-pixel grid and truncated to 8 bits there, as Galaxy Zoo DECaLS DR5 (2026-12-06).
#: 6: the sky subtracted with legacypipe's DR5-era mask (5 sigma1 per pixel, dilated 3), not a deeper one (2026-12-06).
#: 7: broken discs (Type I / II / III outer profiles; Pohlen & Trujillo 2006, Erwin et al. 2012) (2026-12-06).
#: 8: DECaLS galaxies imaged in 1, 2 or 3 passes as in DR5 (``BandConfig.pass_fractions``) (2026-12-06).
#: (Each galaxy's own group, ``FieldConfig.companion_r0``, came on 2026-12-06 off by default: the default draws
#: did not change; ``benchmarks/realism.md`` calls that trial revision 9.)
#: 10: DECaLS at DR5's depths as the real Galaxy Zoo DECaLS images' sky shows them (g 24.25, r 23.7, z 23.0 for
#: three passes) and the bands' passes correlated as DR5's joint areas (``SurveyConfig.pass_correlation``)
#: (2026-12-06).
#: 11: DECaLS coadds keep a smooth sky-subtraction residual (``SurveyConfig.sky_residual``: RMS 0.1 of the sky noise
#: per pixel, coherence 60″), fitted to the real images' large-scale sky power (2026-12-07).
#: 12: weak bars of strength 0.3-0.55 (m = 2 amplitude A2max 0.14-0.37), not 0.15-0.4, and volunteers who recognise
#: a bar at visibility 6, not 15: the bar votes as Géron et al. (2021) and the paper's Table 2 have them (2026-12-07).
#: 13: ansae at the ends of 40 % of the bars of discs without arms and 20 % of those of spirals with B/T >= 0.25
#: (Martinez-Valpuesta, Knapen & Buta 2007; ``MorphologyConfig.ansae``) (2026-12-07).
SIMULATOR_REVISION = 13

#: Default field of view: what a 64-pixel Legacy Survey cutout at 0.262″ covers.
DEFAULT_FOV = 64 * REFERENCE_PIXEL_SCALE

#: In the 'fixed' profile a companion's separation is at most this fraction of the field (6.0" of the default
#: 16.8" field, the cap every profile had until revision 3), so that it stays in the frame.
_FIXED_MAX_COMPANION_SEP = 6.0 / DEFAULT_FOV

_CHUNK = 16
_STREAM_GALAXY, _STREAM_SURVEY, _STREAM_STAR = 0, 1, 2


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class SimulationConfig:
    """What :func:`simulate` renders.

    Parameters
    ----------
    n_galaxies : int, default 2000
        Galaxies seen by the first survey.
    overlap : int or None, default None
        Of those, how many the other surveys see too (the first ``overlap``
        ids); None means 20 % of ``n_galaxies``.
    size : int, default 64
        Side S of the stored images (a multiple of 8).
    seed : int, default 0
    surveys : tuple of str, default ("decals", "bass_mzls")
        Built-in survey names or paths to survey TOML/JSON files; the first
        is the survey of the whole sample.
    fov_arcsec : float, default 16.768
        Field of view of the ``"fixed"`` profile (64 × 0.262″), whatever
        ``size`` is.
    profile : {"fixed", "gz-decals"}, default "fixed"
        Presentation (:mod:`galvae.data.presentation`): ``"fixed"`` renders
        every galaxy on ``fov_arcsec`` with the default asinh stretch (and
        keeps merger companions within 0.36 ``fov_arcsec`` of the centre,
        6″ of the default field);
        ``"gz-decals"`` renders each galaxy on the field Galaxy Zoo DECaLS
        gives it (424 × max(min(0.04 p50, 0.02 p90), 0.1)″ from its
        Petrosian radii, measured on its noiseless r-band image) and presents
        it as Galaxy Zoo DECaLS made its images
        (:func:`~galvae.data.presentation.gz_decals_present`: resampled to
        the 424-pixel grid, stretched, desaturated and truncated to 8 bits
        there, then resized), so the
        stored images are what the paper trained on, at S × S.
    field_fraction : float, default 1.0
        ``"gz-decals"`` only: the stored images keep the central
        ``field_fraction`` of each galaxy's Galaxy Zoo field (side), rendered
        at S × S (:func:`~galvae.data.presentation.check_field_fraction`); the
        votes still follow what volunteers saw on the whole field.
    votes_follow_visibility : bool, default True
        Simulated Galaxy Zoo volunteers recognise a feature with a chance
        that grows with its measured visibility (S/N of the feature in the
        Galaxy Zoo presentation, :mod:`galvae.simulate.visibility`;
        catalogue columns ``visibility_<feature>``), so a bar the pixels do
        not show is not voted "strong bar".  False: votes from the truth
        through the older clarity model only (faster: no visibility renders).
    defect_fraction : float, default 0.005
        Fraction of images with a planted defect, per survey.
    star_shared_probability : float, default 0.5
        Chance that a bright star planted in one survey of an overlap galaxy
        also shows in the other.
    balance : bool, default False
        Draw morphology classes uniformly (see :mod:`galvae.simulate.morphology`).
    morphology : MorphologyConfig
        Priors of the truth table.
    neighbours : FieldConfig
        Densities and magnitudes of the field's stars and background
        galaxies (:class:`galvae.simulate.field.FieldConfig`; the default
        star density is SDSS's at |b| = 49-64°, higher nearer the Galactic
        plane).
    defects : DefectConfig or None, default None
        Kind weights and shapes of planted defects
        (:class:`galvae.simulate.defects.DefectConfig`); its ``fraction`` is
        replaced by ``defect_fraction``.
    """

    n_galaxies: int = 2000
    overlap: int | None = None
    size: int = 64
    seed: int = 0
    surveys: tuple[str, ...] = ("decals", "bass_mzls")
    fov_arcsec: float = DEFAULT_FOV
    profile: str = "fixed"
    field_fraction: float = 1.0
    votes_follow_visibility: bool = True
    defect_fraction: float = 0.005
    star_shared_probability: float = 0.5
    balance: bool = False
    morphology: MorphologyConfig = field(default_factory=MorphologyConfig)
    neighbours: FieldConfig = field(default_factory=FieldConfig)
    defects: DefectConfig | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_galaxies", check_int("n_galaxies", self.n_galaxies, minimum=1))
        if self.overlap is not None and not (0 <= self.overlap <= self.n_galaxies):
            raise GalvaeValueError(f"overlap must be between 0 and n_galaxies={self.n_galaxies}", self.overlap)
        if not (8 <= self.size <= 256 and self.size % 8 == 0):
            raise GalvaeValueError("size must be a multiple of 8 from 8 to 256", self.size)
        if not self.surveys:
            raise GalvaeValueError("surveys must name at least one survey")
        if not (self.fov_arcsec > 0 and math.isfinite(self.fov_arcsec)):
            raise GalvaeValueError("fov_arcsec must be positive", self.fov_arcsec)
        check_profile(self.profile)
        object.__setattr__(self, "field_fraction", check_field_fraction(self.field_fraction, self.profile))
        for name in ("defect_fraction", "star_shared_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise GalvaeValueError(f"{name} must be in [0, 1]", getattr(self, name))

    @property
    def n_overlap(self) -> int:
        """Galaxies seen by every survey: ``overlap``, or 20 % of ``n_galaxies`` when it is None."""
        return int(round(0.2 * self.n_galaxies)) if self.overlap is None else int(self.overlap)


@dataclass(frozen=True)
class SimulationResult:
    """Paths and counts of a :func:`simulate` run."""

    out_dir: Path
    stores: dict[str, Path]
    catalog: Path
    n_galaxies: int
    n_overlap: int
    defects: dict[str, dict[str, int]]
    seconds: float
    galaxies_per_second: float


def _rng(seed: int, index: int, stream: int, survey: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, index, stream, survey]))


# --------------------------------------------------------------------------- worker side

_STATE: dict[str, Any] = {}


def _init_worker(state: dict[str, Any]) -> None:
    _STATE.clear()
    _STATE.update(state)


def _render_chunk(task: tuple[int, int, int, np.ndarray | None]) -> tuple[np.ndarray, ...]:
    """Render galaxies [start, stop) in survey ``s``.

    ``known`` (the task's fourth item) holds the presentation (field,
    Petrosian radius, p50, p90) the first survey measured for these
    galaxies, or None to measure it here.

    Returns stretched images, masks, PSF FWHMs, the presentation (field,
    Petrosian radius, p50, p90) of each galaxy and, for the first survey,
    the visibility of each feature (:mod:`galvae.simulate.visibility`) at
    the Galaxy Zoo DECaLS presentation the volunteers saw (424 px, their
    stretch, on the galaxy's Galaxy Zoo field whatever the store's profile).
    """
    # one BLAS thread per worker: the workers already share the cores, and BLAS threads spinning between the
    # small matrix products of the neighbours' drawing (field.draw_sources) slowed it by half
    with threadpool_limits(limits=1):
        return _render_chunk_unlimited(task)


def _render_chunk_unlimited(task: tuple[int, int, int, np.ndarray | None]) -> tuple[np.ndarray, ...]:
    s, start, stop, known = task
    st = _STATE
    survey: SurveyConfig = st["surveys"][s]
    size, seed = st["size"], st["seed"]
    norm: StretchConfig = st["stretch"]
    defects = st["defects"][s]
    imgs = np.empty((stop - start, 3, size, size), dtype=np.float32)
    masks = np.zeros((stop - start, size, size), dtype=bool)
    per_band = np.empty((stop - start, 6))  # the PSF FWHM and the passes, per band
    present = np.empty((stop - start, 4))
    vis = np.full((stop - start, len(VISIBILITY_FEATURES)), np.nan)
    dcfg = st["defect_config"]
    for k, i in enumerate(range(start, stop)):
        row = st["rows"][i]
        # the field depends on the galaxy alone (measured in the first survey), so every survey shares it
        present[k] = (
            known[k] if known is not None else presentation_field(row, st["surveys"][0], st["profile"], st["fov"])
        )
        # the stored field: the central field_fraction of the Galaxy Zoo field (the fixed field is kept whole)
        fov = float(present[k, 0]) * st["field_fraction"]
        srng = _rng(seed, i, _STREAM_SURVEY, s)
        r = render_galaxy(
            row,
            survey,
            fov_arcsec=fov,
            galaxy_rng=_rng(seed, i, _STREAM_GALAXY),
            survey_rng=srng,
            field_config=st["field_config"],
        )
        if s == 0 and st["visibility"]:
            gz_field = (
                float(present[k, 0])
                if st["profile"] == "gz-decals"
                else presentation_field(row, survey, "gz-decals", st["fov"]).field_arcsec
            )
            # the same seed sequence as _rng(seed, i, _STREAM_GALAXY): the knots and tails measured are those drawn
            v = feature_visibility(
                row,
                survey.at_passes(r.passes),  # the volunteers saw the coadd of the galaxy's own passes
                field_arcsec=gz_field,
                size=GZ_DECALS_PIXELS,
                stretch=GZ_DECALS_STRETCH,
                galaxy_rng_seed=[seed, i, _STREAM_GALAXY, 0],
                psf_fwhm=r.psf_fwhm,
            )
            vis[k] = [v[f] for f in VISIBILITY_FEATURES]
        image = r.image
        mask = None
        kind = defects[i]
        if kind != "none":
            star = (
                sample_star(_rng(seed, i, _STREAM_STAR), field_arcsec=fov, config=dcfg)
                if kind == "bright_star"
                else None
            )
            to_ref = (REFERENCE_PIXEL_SCALE / r.pixel_scale) ** 2
            # defects are planted in nanomaggies (star fluxes, saturation), whatever the image unit
            unit = np.array([b.unit_nmgy for b in survey.bands])[:, None, None]
            image, mask = plant_defect(
                image * unit,
                kind,
                srng,
                pixel_scale=r.pixel_scale,
                psf_fwhm=r.psf_fwhm,
                sky_sigma=r.sky_sigma * unit[:, 0, 0],
                saturation=[b.saturation_nmgy * to_ref for b in survey.bands],
                config=dcfg,
                star=star,
            )
            image = image / unit
        if mask is not None:
            mask = _band_mask(image, mask, kind)
        if st["profile"] == "gz-decals":
            # resampled to the 424-pixel grid, stretched, desaturated and truncated there, then resized
            imgs[k], masks[k] = gz_decals_present(image, mask, size, st["field_fraction"])
        else:
            flux, masks[k] = crop_and_resize(image, mask, size)
            imgs[k] = stretch(flux, norm)
        per_band[k] = [*r.psf_fwhm, *r.passes]
    return imgs, masks, per_band, present, vis


def _band_mask(image: np.ndarray, mask: np.ndarray, kind: str) -> np.ndarray:
    """Per-band invalid pixels (3, H, W) from a planted defect's (H, W) mask.

    A missing band invalidates only its own plane (its zero pixels), as
    :mod:`galvae.data.readers` masks a band without coverage in a real
    cutout: the other two bands keep their data and the stored mask (any
    band) is still all True.  Every other defect masks all bands.
    """
    m3 = np.broadcast_to(mask, image.shape).copy()
    if kind == "missing_band":
        m3 &= (image == 0).all(axis=(1, 2))[:, None, None]
    return m3


def render_galaxies(
    truth: pd.DataFrame,
    survey: str | os.PathLike[str] | SurveyConfig,
    *,
    size: int = 64,
    seed: int = 0,
    fov_arcsec: float = DEFAULT_FOV,
    noise: bool = True,
    survey_index: int = 0,
    progress: bool = True,
    profile: str = "fixed",
    reference_survey: str | os.PathLike[str] | SurveyConfig | None = None,
) -> np.ndarray:
    """Render any set of galaxies in any survey, as flux images on an S-pixel grid.

    Parameters
    ----------
    truth : pandas.DataFrame
        Rows of :func:`~galvae.simulate.morphology.sample_truth` (or a
        catalogue written by :func:`simulate`, whose ``truth_*`` columns
        it reads); row ``i`` (by position) is galaxy ``i``.
    survey : str, path or SurveyConfig
        A built-in survey name, a survey TOML/JSON file, or a configuration.
    size : int, default 64
        Side S of the output images, covering ``fov_arcsec``.
    seed : int, default 0
    fov_arcsec : float, default 16.768
    noise : bool, default True
        Add sky and source noise (False: noiseless, PSF-convolved images).
    survey_index : int, default 0
        Position of the survey in a :func:`simulate` run: with the same
        ``seed``, ``survey_index`` and rows, the images are exactly that
        run's before defects and the stretch.  Galaxy shapes (knots, tails,
        companions) do not depend on it, so a galaxy looks the same in
        every survey.
    progress : bool, default True
    profile : {"fixed", "gz-decals"}, default "fixed"
        ``"fixed"`` renders every galaxy on ``fov_arcsec``; ``"gz-decals"``
        on its own Galaxy Zoo DECaLS field (see :class:`SimulationConfig`).
    reference_survey : survey, optional
        Survey whose r-band PSF the Petrosian radii are measured through
        (the first survey of a :func:`simulate` run); default ``survey``.

    Returns
    -------
    ndarray of float32, shape (N, 3, size, size)
        g, r, z in nanomaggies per 0.262″ pixel (surface brightness, as
        :func:`simulate` stores before its stretch).

    Raises
    ------
    GalvaeValueError
        If ``size`` or ``fov_arcsec`` is not positive.
    """
    check_int("size", size, minimum=1)
    if not (fov_arcsec > 0 and math.isfinite(fov_arcsec)):
        raise GalvaeValueError("fov_arcsec must be positive", fov_arcsec)
    resolved = resolve_survey(survey)
    reference = resolved if reference_survey is None else resolve_survey(reference_survey)
    check_profile(profile)
    rows = truth.to_dict("records")
    out = np.empty((len(rows), 3, size, size), dtype=np.float32)
    for i, row in enumerate(tqdm(rows, desc=f"render {resolved.name}", unit="gal", disable=not progress)):
        r = render_galaxy(
            row,
            resolved,
            fov_arcsec=presentation_field(row, reference, profile, fov_arcsec).field_arcsec,
            galaxy_rng=_rng(seed, i, _STREAM_GALAXY),
            survey_rng=_rng(seed, i, _STREAM_SURVEY, survey_index),
            noise=noise,
        )
        out[i] = crop_and_resize(r.image, None, size)[0]
    return out


# --------------------------------------------------------------------------- driver


def _sky_positions(n: int, n_overlap: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    ra = rng.uniform(120.0, 240.0, n)
    sin_lo, sin_hi = np.sin(np.radians([32.0, 34.0]))
    dec_ov = np.degrees(np.arcsin(rng.uniform(sin_lo, sin_hi, n)))
    sin_lo2, sin_hi2 = np.sin(np.radians([-10.0, 32.0]))
    dec_rest = np.degrees(np.arcsin(rng.uniform(sin_lo2, sin_hi2, n)))
    dec = np.where(np.arange(n) < n_overlap, dec_ov, dec_rest)
    return ra, dec


def simulate(
    out_dir: str | os.PathLike[str],
    config: SimulationConfig | None = None,
    *,
    surveys: Sequence[str | os.PathLike[str] | SurveyConfig] | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    shard_size: int | None = None,
    **kwargs: Any,
) -> SimulationResult:
    """Render the built-in simulated surveys into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Output directory (created).
    config : SimulationConfig, optional
        What to render; keyword arguments (``n_galaxies=``, ``overlap=``,
        ``size=``, ``seed=``, ``balance=``, ``defect_fraction=``,
        ``fov_arcsec=``...) build one when omitted.
    surveys : sequence, optional
        Survey names, TOML/JSON paths or :class:`SurveyConfig` objects,
        overriding ``config.surveys``; the first sees every galaxy.
    workers : int, optional
        Processes rendering; default all cores.  Output is identical for any
        value.
    overwrite : bool, default False
        Replace existing stores and catalogue.
    progress : bool, default True
    shard_size : int, optional
        Write each survey as a sharded store (:mod:`galvae.data.manifest`):
        ``SURVEY-00000.h5``, … of at most this many images plus the manifest
        ``SURVEY.json``, which ``stores`` then names.  Default one ``SURVEY.h5``.

    Returns
    -------
    SimulationResult

    Raises
    ------
    GalvaeFileError
        If outputs exist and ``overwrite`` is False.
    GalvaeValueError
        On bad parameters.
    """
    if config is None:
        config = SimulationConfig(**kwargs)
    elif kwargs:
        raise GalvaeValueError("give either config or keyword arguments, not both", sorted(kwargs))
    specs = list(config.surveys) if surveys is None else list(surveys)
    resolved = [resolve_survey(s) for s in specs]
    names = [s.name for s in resolved]
    if len(set(names)) != len(names):
        raise GalvaeValueError("survey names must be distinct", names)
    config = dataclasses.replace(config, surveys=tuple(names))
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise GalvaeValueError("workers must be at least 1", workers)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store_paths, catalog_path = _output_paths(out, names, shard_size, overwrite)

    t0 = time.perf_counter()
    sample = _draw_sample(config, len(resolved))
    rendered = _render_surveys(config, resolved, sample, store_paths, shard_size, workers, progress, overwrite)
    cat = _catalogue(config, resolved, sample, rendered)
    write_table(cat, catalog_path, overwrite=overwrite)
    # simulation.json holds only what determines the output (no timings, no worker count),
    # so that every file of a run is identical whatever ``workers`` is
    meta = {
        "config": config_to_dict(config),
        "surveys": [survey_to_dict(s) for s in resolved],
        "galvae_version": __version__,
        "simulator_revision": SIMULATOR_REVISION,
    }
    with atomic_path(out / "simulation.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - t0
    dcounts = {
        survey.name: {
            str(k): int(v) for k, v in zip(*np.unique(sample.defects[s].astype(str), return_counts=True), strict=True)
        }
        for s, survey in enumerate(resolved)
    }
    n, n_ov = config.n_galaxies, config.n_overlap
    log.info("simulated %d galaxies (%d in the overlap) in %.1f s", n, n_ov, seconds)
    total = sum(sample.counts)
    return SimulationResult(
        out_dir=out,
        stores=store_paths,
        catalog=catalog_path,
        n_galaxies=n,
        n_overlap=n_ov,
        defects=dcounts,
        seconds=seconds,
        galaxies_per_second=total / seconds if seconds > 0 else float("inf"),
    )


def _output_paths(out: Path, names: list[str], shard_size: int | None, overwrite: bool) -> tuple[dict[str, Path], Path]:
    """Each survey's store path and the catalogue's; refuse existing ones unless ``overwrite``."""
    if shard_size is not None:
        check_int("shard_size", shard_size, minimum=1)
    store_paths = {name: out / f"{name}{'.h5' if shard_size is None else '.json'}" for name in names}
    catalog_path = out / "catalog.parquet"
    for p in [*store_paths.values(), catalog_path]:
        if p.exists() and not overwrite:
            raise GalvaeFileError(p, "already exists (use --overwrite / overwrite=True to replace it)")
    return store_paths, catalog_path


@dataclass(frozen=True)
class _Sample:
    """What a run draws before rendering: truth rows, ids, sky positions and each survey's defects."""

    truth: pd.DataFrame
    ids: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    defect_config: DefectConfig
    counts: list[int]
    defects: list[np.ndarray]


def _draw_sample(config: SimulationConfig, n_surveys: int) -> _Sample:
    """Draw the truth, positions and planted defects of every survey (bright stars shared in the overlap)."""
    n, n_ov, seed = config.n_galaxies, config.n_overlap, config.seed
    truth = sample_truth(n, np.random.default_rng([seed, 101]), balance=config.balance, config=config.morphology)
    if config.profile == "fixed":  # one field for all: keep each companion inside it
        sep = truth["truth_companion_sep_arcsec"]
        truth["truth_companion_sep_arcsec"] = np.minimum(sep, _FIXED_MAX_COMPANION_SEP * config.fov_arcsec)
    ids = np.array([f"sim{i:06d}" for i in range(n)])
    ra, dec = _sky_positions(n, n_ov, np.random.default_rng([seed, 102]))
    dcfg = dataclasses.replace(config.defects or DefectConfig(), fraction=config.defect_fraction)
    counts = [n] + [n_ov] * (n_surveys - 1)
    defects = [assign_defects(c, np.random.default_rng([seed, 103, s]), dcfg) for s, c in enumerate(counts)]
    share = np.random.default_rng([seed, 104]).random(n_ov) < config.star_shared_probability
    for s in range(1, n_surveys):
        shared = share & ((defects[0][:n_ov] == "bright_star") | (defects[s] == "bright_star"))
        defects[0][:n_ov][shared] = "bright_star"
        defects[s][shared] = "bright_star"
    return _Sample(truth, ids, ra, dec, dcfg, counts, [np.asarray(d, dtype=object) for d in defects])


@dataclass(frozen=True)
class _Rendered:
    """What rendering measured: per-band columns (PSF FWHM, passes), each galaxy's presentation, its visibility."""

    band_cols: dict[str, np.ndarray]
    presentation: np.ndarray
    visibility: np.ndarray


def _render_surveys(
    config: SimulationConfig,
    resolved: list[SurveyConfig],
    sample: _Sample,
    store_paths: dict[str, Path],
    shard_size: int | None,
    workers: int,
    progress: bool,
    overwrite: bool,
) -> _Rendered:
    """Render every survey in chunks (a process pool when ``workers`` > 1) and write its store.

    Surveys are rendered one after the other, so the presentation measured
    in the first (a gz-decals galaxy's Petrosian radii and field) is handed
    to the others' chunks instead of being measured again.
    """
    n = config.n_galaxies
    writer_cls: Any = (
        ImageStoreWriter if shard_size is None else functools.partial(ShardedStoreWriter, shard_size=shard_size)
    )
    state = {
        "rows": sample.truth.to_dict("records"),
        "surveys": resolved,
        "size": config.size,
        "fov": config.fov_arcsec,
        "profile": config.profile,
        "field_fraction": config.field_fraction,
        "visibility": config.votes_follow_visibility,
        "seed": config.seed,
        "stretch": profile_stretch(config.profile),
        "defects": sample.defects,
        "defect_config": sample.defect_config,
        "field_config": config.neighbours,
    }
    band_cols: dict[str, np.ndarray] = {}
    presentation = np.full((n, 4), np.nan)
    visibility = np.full((n, len(VISIBILITY_FEATURES)), np.nan)
    bar = tqdm(total=sum(sample.counts), desc="simulate", unit="gal", disable=not progress)
    pool = (
        ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(state,)) if workers > 1 else None
    )
    if pool is None:
        _init_worker(state)
    try:
        for s, survey in enumerate(resolved):
            count = sample.counts[s]
            tasks = [
                (s, a, min(a + _CHUNK, count), None if s == 0 else presentation[a : min(a + _CHUNK, count)])
                for a in range(0, count, _CHUNK)
            ]
            per_band = np.full((n, 6), np.nan)  # PSF FWHM and passes per band
            results = pool.map(_render_chunk, tasks) if pool is not None else map(_render_chunk, tasks)
            with writer_cls(
                store_paths[survey.name],
                size=config.size,
                survey=survey.name,
                normalisation=state["stretch"],
                # gz-decals fields vary with the galaxy: the catalogue's field_arcsec / size gives each scale
                pixel_scale_arcsec=config.fov_arcsec / config.size if config.profile == "fixed" else math.nan,
                with_mask=True,
                attrs={
                    "simulation_seed": config.seed,
                    "fov_arcsec": config.fov_arcsec,
                    "profile": config.profile,
                    "field_fraction": config.field_fraction,
                    "survey_config": survey_to_dict(survey),
                },
                overwrite=overwrite,
            ) as writer:
                bar.set_description(f"simulate {survey.name}")
                for (_, a, b, _), (imgs, masks, fw, pres, vis) in zip(tasks, results, strict=True):
                    writer.append(imgs, sample.ids[a:b].tolist(), masks)
                    per_band[a:b] = fw
                    if s == 0:
                        presentation[a:b] = pres
                        visibility[a:b] = vis
                    bar.update(b - a)
            for j, band in enumerate(BANDS):
                band_cols[f"psf_fwhm_{survey.name}_{band}"] = per_band[:, j]
            for j, band in enumerate(BANDS):
                band_cols[f"n_pass_{survey.name}_{band}"] = per_band[:, 3 + j]
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        _STATE.clear()
    return _Rendered(band_cols, presentation, visibility)


def _catalogue(
    config: SimulationConfig, resolved: list[SurveyConfig], sample: _Sample, rendered: _Rendered
) -> pd.DataFrame:
    """The run's catalogue: ids, positions, truth, defects, PSFs, presentation, visibility and the votes."""
    n = config.n_galaxies
    cat = pd.DataFrame(
        {"id": sample.ids, "ra": sample.ra, "dec": sample.dec, "in_overlap": np.arange(n) < config.n_overlap}
    )
    cat = pd.concat([cat, sample.truth.reset_index(drop=True)], axis=1)
    cat["defect"] = sample.defects[0].astype(str)
    for s, survey in enumerate(resolved):
        col = np.full(n, None, dtype=object)
        col[: sample.counts[s]] = sample.defects[s]
        cat[f"defect_{survey.name}"] = col
    for k, v in rendered.band_cols.items():
        cat[k] = v
    # NSA / Galaxy Zoo DECaLS names for the Petrosian radii (arcsec), and each galaxy's presented field
    presentation = rendered.presentation
    # the stored field (field_arcsec / size is the pixel scale); the Galaxy Zoo field is field_arcsec / field_fraction
    cat["field_arcsec"] = presentation[:, 0] * config.field_fraction
    if config.profile != "fixed":
        cat["petro_theta"], cat["petro_th50"], cat["petro_th90"] = (
            presentation[:, 1],
            presentation[:, 2],
            presentation[:, 3],
        )
    vcols = [visibility_column(f) for f in VISIBILITY_FEATURES]
    if config.votes_follow_visibility:
        for j, c in enumerate(vcols):
            cat[c] = rendered.visibility[:, j]
    votes = vote_fractions(
        cat,
        np.random.default_rng([config.seed, 105]),
        visibility=cat[vcols] if config.votes_follow_visibility else None,
    )
    return pd.concat([cat, votes], axis=1)


def load_simulation_config(path: str | os.PathLike[str]) -> tuple[SimulationConfig, list[SurveyConfig]]:
    """Read back the configuration of a run from its ``simulation.json``.

    Parameters
    ----------
    path : path
        ``OUT/simulation.json`` or the directory ``OUT`` holding it.

    Returns
    -------
    config : SimulationConfig
    surveys : list of SurveyConfig
        The surveys exactly as rendered (also those read from TOML/JSON
        files), so that ``simulate(new_out, config, surveys=surveys)``
        reproduces the run byte for byte.

    Raises
    ------
    GalvaeFileError
        If the file is missing or not a galvae simulation record.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "simulation.json"
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GalvaeFileError(p, "simulation record not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GalvaeFileError(p, f"not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or "config" not in meta or "surveys" not in meta:
        raise GalvaeFileError(p, "not a galvae simulation record (needs 'config' and 'surveys')")
    try:
        config = config_from_dict(SimulationConfig, meta["config"])
        surveys = []
        for d in meta["surveys"]:
            bands = [{k: v for k, v in b.items() if k != "sky_sigma_nmgy_derived"} for b in d["bands"]]
            surveys.append(config_from_dict(SurveyConfig, {**d, "bands": bands}))
    except (GalvaeValueError, KeyError, TypeError) as exc:
        raise GalvaeFileError(p, f"not a valid simulation record ({exc})") from None
    return config, surveys
