"""The field a simulated galaxy is presented on, per presentation profile.

``"fixed"`` uses one field of view for every galaxy.  ``"gz-decals"`` (see
:mod:`galvae.data.presentation`) measures each galaxy's Petrosian radii on
its noiseless r-band image (the galaxy alone: no companion, no tidal
features, convolved with the first survey band's median PSF, at 0.262″ —
as SDSS/NSA photometry measures a deblended galaxy) and takes the field
``424 × max(min(0.04 p50, 0.02 p90), 0.1)`` arcsec that Galaxy Zoo DECaLS
images cover.  The measurement depends only on the galaxy's truth, so every
survey of an overlap galaxy is presented on the same field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import galsim
import numpy as np

from ..data.presentation import check_profile, gz_decals_field, petrosian_radii
from .render import galaxy_profiles, make_psf
from .surveys import SurveyConfig

__all__ = ["Presentation", "measure_petrosian", "presentation_field"]

#: Largest field (arcsec) the measurement image spans; radii beyond it are capped.
_MAX_MEASURE_FIELD = 200.0


class Presentation(NamedTuple):
    """Field of view and the Petrosian radii behind it (arcsec; NaN radii for ``"fixed"``)."""

    field_arcsec: float
    petro_theta: float
    petro_th50: float
    petro_th90: float


def measure_petrosian(row: Mapping[str, Any], survey: SurveyConfig) -> tuple[float, float, float]:
    """Petrosian radius, p50 and p90 (arcsec) of a truth row's noiseless r-band image.

    Parameters
    ----------
    row : mapping
        A row of :func:`~galvae.simulate.morphology.sample_truth`.
    survey : SurveyConfig
        Its r band's median PSF convolves the galaxy.

    Returns
    -------
    (r_petro, p50, p90) : tuple of float
    """
    alone = dict(row)
    alone["truth_companion_mag_r"] = math.nan
    alone["truth_tidal_strength"] = 0.0
    hlr = float(row["truth_hlr_arcsec"])
    field = min(max(16.0 * hlr, 12.0), _MAX_MEASURE_FIELD)
    # the galaxy-level stream only places knots along the arms: any fixed seed measures the same light
    profiles = galaxy_profiles(alone, field, np.random.default_rng(0))
    band = survey.band("r")
    # 160 pixels across whatever the size: small galaxies are measured on more than a few pixels, and a large one
    # (a field over 42″, pixels over 0.262″) on no more than it needs -- the field then changes by 0.03 % in the
    # median (at most 3 %, compact bulges) against drawing it at 0.262″, at 60 % of the cost
    scale = field / 160
    n = int(math.ceil(field / scale)) | 1
    image = galsim.ImageD(n, n, scale=scale)
    parts = [p * float(f[1]) for p, f in profiles if f[1] != 0]  # a bar's disc hole is negative
    galsim.Convolve(galsim.Add(parts), make_psf(band)).drawImage(image=image, method="no_pixel")
    return petrosian_radii(image.array, scale)


def presentation_field(row: Mapping[str, Any], survey: SurveyConfig, profile: str, fov_arcsec: float) -> Presentation:
    """The field ``row`` is presented on under ``profile``.

    Parameters
    ----------
    row : mapping
        A truth row.
    survey : SurveyConfig
        The reference survey (the first of a simulation) for the Petrosian measurement.
    profile : {"fixed", "gz-decals"}
    fov_arcsec : float
        The field of the ``"fixed"`` profile.
    """
    if check_profile(profile) == "fixed":
        return Presentation(float(fov_arcsec), math.nan, math.nan, math.nan)
    rp, p50, p90 = measure_petrosian(row, survey)
    return Presentation(float(gz_decals_field(p50, p90)), rp, p50, p90)
