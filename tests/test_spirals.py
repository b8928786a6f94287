"""Arm count and pitch angle from the pixels (galvae.evaluate.spirals).

The images are drawn here in numpy, independently of the simulator: an
exponential disc whose light is modulated by m logarithmic spirals of a known
pitch angle, optionally inclined and rotated.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from _spiral_image import spiral_image
from galvae import GalvaeValueError
from galvae.evaluate.spirals import (
    DiscGeometry,
    arm_count_class,
    disc_geometry,
    log_spiral_spectrum,
    measure_spirals,
    winding_class,
)


@pytest.mark.parametrize(("m", "pitch"), [(1, 20.0), (2, 12.0), (2, 30.0), (3, 20.0), (4, 25.0)])
def test_face_on_spirals_give_their_arm_count_and_pitch(m, pitch):
    img = spiral_image(m, pitch)
    assert log_spiral_spectrum(img).dominant_m == m
    # with the disc known to be face-on: the p grid's step is 0.25 (under a degree at these pitches)
    spec = log_spiral_spectrum(img, geometry=DiscGeometry(disc_geometry(img).hlr_px, 0.0, 1.0))
    assert spec.dominant_m == m
    assert spec.pitch_deg[m - 1] == pytest.approx(pitch, abs=1.5)
    others = np.delete(spec.amplitude, m - 1)
    assert spec.amplitude[m - 1] > 3 * others.max()


def test_an_inclined_rotated_disc_is_deprojected_from_its_own_moments():
    img = spiral_image(3, 22.0, q=0.6, pa_deg=35.0, rd=7.0)
    geo = disc_geometry(img)
    assert geo.axis_ratio == pytest.approx(0.6, abs=0.03)
    # a position angle is defined modulo 180 degrees
    assert (math.degrees(geo.pa_rad) - 35.0 + 90.0) % 180.0 - 90.0 == pytest.approx(0.0, abs=5.0)
    spec = log_spiral_spectrum(img)
    assert spec.dominant_m == 3
    assert spec.pitch_deg[2] == pytest.approx(22.0, abs=4.0)


def test_without_deprojection_the_inclined_disc_reads_as_two_armed():
    # the check above is not automatic: taken as face-on, an inclined disc's ellipse is an m = 2 pattern
    img = spiral_image(3, 22.0, q=0.45, pa_deg=35.0, rd=7.0, contrast=0.3)
    hlr = disc_geometry(img).hlr_px
    assert log_spiral_spectrum(img, geometry=DiscGeometry(hlr, 0.0, 1.0)).dominant_m == 2
    assert log_spiral_spectrum(img).dominant_m == 3


def test_arm_count_and_pitch_do_not_depend_on_orientation_or_handedness():
    img = spiral_image(4, 18.0, rd=7.0, phase=0.7)
    ref = log_spiral_spectrum(img)
    for other in (np.rot90(img), img[:, ::-1], img[::-1].T):
        spec = log_spiral_spectrum(other)
        assert spec.dominant_m == 4
        assert spec.pitch_deg[3] == pytest.approx(ref.pitch_deg[3], abs=1.0)
        np.testing.assert_allclose(spec.amplitude, ref.amplitude, rtol=0.1, atol=0.01)


def test_an_armless_disc_has_weak_modes_and_noise_does_not_invent_arms():
    rng = np.random.default_rng(3)
    plain = spiral_image(0, 0.0)
    armed = spiral_image(2, 20.0)
    assert np.nanmax(log_spiral_spectrum(plain).amplitude) < 0.02
    assert log_spiral_spectrum(armed).amplitude[1] > 0.3
    noisy = armed + rng.normal(0.0, 0.05, armed.shape)  # 5 % of the central brightness per pixel
    assert log_spiral_spectrum(noisy).dominant_m == 2


def test_measure_spirals_reads_a_stack_of_colour_images():
    imgs = np.stack([np.stack([spiral_image(m, 20.0)] * 3) for m in (2, 3, 6)]).astype(np.float32)
    table = measure_spirals(imgs)
    assert list(table["spiral_m"]) == [2, 3, 6]
    assert list(table["spiral_arm_count"]) == ["2", "3", "more-than-4"]
    assert list(table["spiral_winding"]) == ["medium"] * 3
    # three and six arms leave a face-on disc round; two arms are themselves an elongation (q ~ 0.8)
    assert (table["disc_axis_ratio"].iloc[1:] > 0.95).all()
    assert table["disc_axis_ratio"].iloc[0] < 0.95
    # (N, S, S) is one band per image already
    assert list(measure_spirals(imgs[:, 1])["spiral_m"]) == [2, 3, 6]


def test_a_blank_image_is_unmeasurable_not_an_error():
    table = measure_spirals(np.zeros((1, 32, 32)))
    assert table["spiral_m"].iloc[0] == 0
    assert table["spiral_arm_count"].iloc[0] is None
    assert math.isnan(table["spiral_pitch_deg"].iloc[0])
    assert np.isnan(log_spiral_spectrum(np.zeros((32, 32))).amplitude).all()


def test_classes():
    assert [arm_count_class(m) for m in (0, 1, 4, 5, 9)] == [None, "1", "4", "more-than-4", "more-than-4"]
    assert [winding_class(p) for p in (8.0, 14.9, 15.0, 24.9, 25.0, 60.0)] == [
        "tight",
        "tight",
        "medium",
        "medium",
        "loose",
        "loose",
    ]
    assert winding_class(float("nan")) is None


def test_bad_input_is_named():
    with pytest.raises(GalvaeValueError, match="image must be one square band"):
        log_spiral_spectrum(np.zeros((3, 32, 32)))
    with pytest.raises(GalvaeValueError, match="image must be one square band"):
        disc_geometry(np.zeros((32, 16)))
    with pytest.raises(GalvaeValueError, match="radii must be"):
        log_spiral_spectrum(spiral_image(2, 20.0), radii=(2.0, 1.0))
    with pytest.raises(GalvaeValueError, match="m_max must be an integer from 1 to 16"):
        log_spiral_spectrum(spiral_image(2, 20.0), m_max=0)
    with pytest.raises(GalvaeValueError, match="band must be a channel index from 0 to 2"):
        measure_spirals(np.zeros((2, 3, 32, 32)), band=3)
    with pytest.raises(GalvaeValueError, match=r"images must have shape \(N, C, S, S\) or \(N, S, S\)"):
        measure_spirals(np.zeros((32, 32)))


def test_cli_writes_one_row_per_image(tmp_path, capsys):
    import pandas as pd

    from galvae.cli import main
    from galvae.config import StretchConfig
    from galvae.data.store import write_store

    imgs = np.stack([np.stack([spiral_image(m, 20.0, size=32, rd=3.0)] * 3) for m in (2, 3, 4)])
    store = write_store(
        tmp_path / "s.h5", imgs / imgs.max(), ["a", "b", "c"], survey="x", normalisation=StretchConfig()
    )
    assert main(["spirals", str(store), "--out", str(tmp_path / "t.csv")]) == 0
    table = pd.read_csv(tmp_path / "t.csv", dtype={"spiral_arm_count": str})
    assert list(table["id"]) == ["a", "b", "c"]
    assert list(table["spiral_m"]) == [2, 3, 4]
    assert "dominant arm count: 1: 0, 2: 1, 3: 1, 4: 1, more-than-4: 0" in capsys.readouterr().out
    assert main(["spirals", str(store), "--out", str(tmp_path / "t.csv"), "--band", "i"]) == 2
    assert "--band must be one of the store's bands ['g', 'r', 'z']" in capsys.readouterr().err
    assert main(["spirals", str(store), "--out", str(tmp_path / "t.txt")]) == 2
    assert "--out must end in .parquet or .csv" in capsys.readouterr().err
