"""Realism report (issue 18 pt 4): simulated against real presented images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from _spiral_image import spiral_image
from galvae.cli import main
from galvae.errors import GalvaeFileError, GalvaeValueError
from galvae.evaluate.realism import (
    compare_realism,
    measure_image,
    neighbour_peaks,
    neighbour_summary,
    read_rgb_images,
    through_jpeg,
)


def _galaxies(n: int, size: int, seed: int, sky: float = 0.06, noise: float = 0.012) -> np.ndarray:
    """Round exponential blobs with a random size on a noisy sky, stretched-image-like values in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((size, size)) - (size - 1) / 2
    rr = np.hypot(yy, xx)
    out = np.empty((n, 3, size, size), np.float32)
    for i in range(n):
        blob = 0.8 * np.exp(-rr / rng.uniform(2.0, 4.0))
        for b, colour in enumerate((0.8, 1.0, 1.1)):
            out[i, b] = np.clip(sky + colour * blob + rng.normal(0, noise, rr.shape), 0, 1)
    return out


def test_measured_quantities_follow_the_image() -> None:
    img = _galaxies(1, 32, seed=0)[0]
    m = measure_image(img)
    assert m["sky_g"] == pytest.approx(0.06, abs=0.005) and m["noise_r"] == pytest.approx(0.012, rel=0.25)
    assert abs(m["noise_corr"]) < 0.2  # white noise
    assert 0 < m["size_frac"] < 0.5 and m["n_neighbours"] == 0
    bright = img.copy()
    bright[:, 2:5, 2:5] += 0.5  # a neighbour in the corner
    assert measure_image(np.clip(bright, 0, 1))["n_neighbours"] == 1
    assert measure_image(img + 0.02)["sky_z"] == pytest.approx(m["sky_z"] + 0.02, abs=1e-6)


def test_neighbour_peaks_give_each_neighbours_brightness_and_place() -> None:
    img = _galaxies(1, 32, seed=0)[0]
    assert neighbour_peaks(img).shape == (0, 2)
    faint, bright = img.copy(), img.copy()
    faint[:, 5, 24] += 0.1  # one pixel of a 3-pixel-wide neighbour; centre (15.5, 15.5)
    bright[:, 5, 24] += 0.6
    (h_faint, r_faint), (h_bright, r_bright) = neighbour_peaks(faint)[0], neighbour_peaks(bright)[0]
    assert r_faint == r_bright == pytest.approx(np.hypot(10.5, 8.5) / 32)
    assert 5 < h_faint < h_bright and 4.5 < h_bright / h_faint < 6.5  # 6× the flux; the noise under it adds a little
    assert len(neighbour_peaks(bright)) == measure_image(bright)["n_neighbours"] == 1
    # over a set: one faint neighbour in one of two images -> 0.5 per image, all of them 5-50σ
    summary = neighbour_summary(np.stack([img, faint]))
    assert summary["per_image"] == 0.5 and summary["bright"] == 0.0
    assert summary["faint"] + summary["mid"] == 0.5 and summary["median_height"] == pytest.approx(h_faint)
    assert np.isnan(neighbour_summary(img[None])["median_height"])


def test_same_distribution_scores_near_zero_and_a_shifted_sky_is_found(tmp_path) -> None:
    a, b = _galaxies(40, 32, seed=1), _galaxies(40, 32, seed=2)
    same = compare_realism(a, b, jpeg_quality=None, seed=0, out_dir=tmp_path / "same")
    assert same.n_real == same.n_sim == 40
    assert same.quantities["sky_r"]["ks"] < 0.4 and same.mean_ks < 0.3
    assert same.classifiers["logistic regression (features)"]["mean"] < 0.8
    shifted = compare_realism(_galaxies(40, 32, seed=1, sky=0.09), b, jpeg_quality=None, classifiers=False)
    assert shifted.quantities["sky_r"]["ks"] == 1.0 and shifted.classifiers == {}
    assert shifted.quantities["sky_r"]["median_sim"] > shifted.quantities["sky_r"]["median_real"] + 0.02
    files = {p.name for p in (tmp_path / "same").iterdir()}
    assert files == {"realism.json", "realism.md", "realism.png"}
    saved = json.loads((tmp_path / "same" / "realism.json").read_text())
    assert saved["quantities"]["sky_r"]["ks"] == same.quantities["sky_r"]["ks"]
    # neighbours by brightness, both sets, in the result, the JSON and the Markdown
    assert set(same.neighbours) == set(saved["neighbours"]) == {"real", "simulated"}
    for name, v in same.neighbours.items():
        assert saved["neighbours"][name] == pytest.approx(v, nan_ok=True)
    assert same.neighbours["real"]["per_image"] == 0.0  # the blobs have no neighbours
    assert "Neighbours by brightness" in (tmp_path / "same" / "realism.md").read_text()
    # the sky against the size in the frame, per band and set, in the result, the JSON and the Markdown
    assert set(same.sky_vs_size) == {"real", "simulated"} and len(same.sky_vs_size["real"]) == 3
    assert saved["sky_vs_size"]["simulated"][1]["rho"] == pytest.approx(same.sky_vs_size["simulated"][1]["rho"])
    assert "Sky against size in the frame" in (tmp_path / "same" / "realism.md").read_text()


def test_sky_size_relation_follows_the_sky() -> None:
    """Skies that darken with size give rho = -1, brighten: +1; levels in 8-bit units; bad input is refused."""
    from galvae.evaluate.realism import sky_size_relation

    imgs = _galaxies(8, 32, seed=3, noise=0.0)
    size = np.arange(8, dtype=float)  # the given sizes are used as they are
    darker = imgs.copy()
    border = np.zeros((32, 32), bool)
    border[:3] = border[-3:] = True
    border[:, :3] = border[:, -3:] = True
    for i in range(8):
        darker[i][:, border] = 0.06 - 0.002 * i  # the border the measure reads (3 px at 32 px)
    rows = sky_size_relation(darker, size)
    assert [r["rho"] for r in rows] == pytest.approx([-1.0, -1.0, -1.0])
    assert rows[0]["mean"] == pytest.approx(255 * (0.06 - 0.002 * 3.5), rel=1e-5)
    assert rows[0]["small"] > rows[0]["large"]
    brighter = sky_size_relation(darker[::-1].copy(), size)
    assert [r["rho"] for r in brighter] == pytest.approx([1.0, 1.0, 1.0])
    # a constant sky has no rank correlation: NaN, not a warning (tests run with warnings as errors)
    flat = sky_size_relation(np.full((5, 3, 16, 16), 0.1, np.float32), np.arange(5.0))
    assert np.isnan(flat[0]["rho"]) and flat[0]["mean"] == pytest.approx(25.5, rel=1e-5)
    with pytest.raises(GalvaeValueError, match="size_frac"):
        sky_size_relation(darker, size[:5])
    with pytest.raises(GalvaeValueError, match=r"\(N, 3, S, S\)"):
        sky_size_relation(darker[:, :2])


def test_errors() -> None:
    a = _galaxies(12, 32, seed=0)
    with pytest.raises(GalvaeValueError, match="same side"):
        compare_realism(a, _galaxies(12, 16, seed=0))
    with pytest.raises(GalvaeValueError, match="at least 10 real"):
        compare_realism(a, a[:5])
    with pytest.raises(GalvaeValueError, match=r"shape \(N, 3, S, S\)"):
        compare_realism(a[:, :2], a)


def test_rgb_images_are_g_r_z_and_jpeg_round_trip(tmp_path) -> None:
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50  # red = z, green = r, blue = g
    Image.fromarray(rgb).save(tmp_path / "a.png")
    x, names = read_rgb_images(tmp_path, 8)
    assert names == ["a.png"] and x.shape == (1, 3, 8, 8)
    np.testing.assert_allclose(x[0, :, 0, 0], [50 / 255, 100 / 255, 200 / 255], rtol=1e-6)
    back = through_jpeg(x, 95)  # 8-bit rounding, JPEG: a flat image comes back within a few levels
    np.testing.assert_allclose(back, x, atol=4 / 255)
    with pytest.raises(GalvaeFileError, match="no .jpg, .jpeg or .png"):
        read_rgb_images(tmp_path / "missing", 8)


def test_cli(make_store, tmp_path, capsys) -> None:
    store, _, _ = make_store("s.h5", n=16, size=16, seed=3)
    real = tmp_path / "real"
    real.mkdir()
    for i, img in enumerate(_galaxies(12, 16, seed=4)):
        Image.fromarray((img[::-1].transpose(1, 2, 0) * 255).astype(np.uint8)).save(real / f"g{i:02d}.png")
    assert main(["realism", str(store), str(real), "--out", str(tmp_path / "r"), "--n", "12", "-q"]) == 0
    out = capsys.readouterr().out
    assert (
        "mean KS" in out and "(12 simulated, 12 real)" in out and "random forest (features): balanced accuracy" in out
    )
    assert (tmp_path / "r" / "realism.md").is_file()


def test_report_section_and_demo_option(tmp_path) -> None:
    from galvae.demo import DemoConfig
    from galvae.report import ReportInputs, write_report

    compare_realism(_galaxies(12, 16, seed=1), _galaxies(12, 16, seed=2), seed=0, out_dir=tmp_path / "realism")
    page = write_report(tmp_path / "r.html", ReportInputs(realism_dir=tmp_path / "realism")).read_text()
    section = page[page.index('<section id="realism">') :]
    section = section[: section.index("</section>")]
    assert "Simulated against real images" in section and "12 simulated against 12 real images" in section
    assert "random forest (features)" in section and "realism montage" in section
    assert "Neighbouring sources per image by peak height" in section and "10–50σ" in section
    assert "sky_size_relation" in section and "Spearman ρ" in section
    empty = write_report(tmp_path / "e.html", ReportInputs()).read_text()
    assert "galvae demo --real DIR" in empty[empty.index('<section id="realism">') :]
    with pytest.raises(GalvaeFileError, match="real_images"):
        DemoConfig(real_images=str(tmp_path / "nowhere"))
    assert DemoConfig(real_images=tmp_path).real_images == str(tmp_path)


def test_cnn_classifier_leaves_the_global_rng_alone() -> None:
    import torch

    torch.manual_seed(123)
    state = torch.get_rng_state()
    res = compare_realism(_galaxies(10, 16, seed=5), _galaxies(10, 16, seed=6), jpeg_quality=None, cnn=True)
    acc = res.classifiers["small CNN (pixels, half resolution)"]
    assert 0.0 <= acc["mean"] <= 1.0 and len(acc["folds"]) == 5
    assert torch.equal(torch.get_rng_state(), state)


def test_cnn_threshold_is_set_on_the_training_fold() -> None:
    from galvae.evaluate.realism import _best_threshold

    # hand values: separable logits around any offset put the threshold at the last class-0 logit
    y = np.array([0, 0, 1, 1])
    assert _best_threshold(np.array([-3.0, -2.0, 5.0, 6.0]), y) == -2.0
    assert _best_threshold(np.array([10.0, 11.0, 20.0, 21.0]), y) == 11.0  # not 0: every logit is positive
    assert _best_threshold(np.array([-21.0, -20.0, -11.0, -10.0]), y) == -20.0
    # all one class: the threshold lies under every logit (everything predicted 1)
    assert _best_threshold(np.array([0.5, 1.0]), np.array([1, 1])) < 0.5
    # unequal classes: calling everything 1 is as accurate (8 of 9) as separating at 2.0, but only the separation is
    # right on both classes (balanced accuracy 0.94 against 0.5)
    y = np.array([0, 1, 1, 1, 1, 1, 1, 1, 1])
    assert _best_threshold(np.array([2.0, 1.0, 3, 4, 5, 6, 7, 8, 9]), y) == 2.0


def test_classifier_test_reads_chance_whatever_the_sets_sizes() -> None:
    """Three times as many simulated as real images of the same kind: 0.5, not the 0.75 of calling all simulated."""
    res = compare_realism(_galaxies(60, 16, seed=101), _galaxies(20, 16, seed=201), jpeg_quality=None, seed=1)
    for name in ("logistic regression (features)", "random forest (features)"):
        assert res.classifiers[name]["mean"] < 0.68, name


def test_cnn_tells_clearly_different_sets_apart() -> None:
    """A sky 0.1 brighter is obvious; the test must say so (accuracy and AUC), whatever the logits' offset."""
    real = _galaxies(20, 16, seed=5)
    sim = _galaxies(20, 16, seed=6, sky=0.16)
    res = compare_realism(sim, real, jpeg_quality=None, cnn=True)
    cnn = res.classifiers["small CNN (pixels, half resolution)"]
    assert cnn["auc"] >= 0.9 and len(cnn["auc_folds"]) == 5
    assert cnn["mean"] >= 0.8


def _field_with_star(fwhm_px: float, size: int = 64, seed: int = 0) -> np.ndarray:
    """A gz-decals-stretched field: a round galaxy in the centre and one Gaussian star of ``fwhm_px`` off it."""
    from galvae.data.preprocess import stretch
    from galvae.data.presentation import GZ_DECALS_STRETCH

    rng = np.random.default_rng(seed)
    yy, xx = np.indices((size, size)).astype(float)
    c = (size - 1) / 2
    galaxy = 1.0 * np.exp(-np.hypot(yy - c, xx - c) / 2.0)
    s = fwhm_px / 2.3548
    star = 0.3 * np.exp(-((yy - 9.4) ** 2 + (xx - 54.6) ** 2) / (2 * s**2))
    flux = np.stack([(galaxy + star) * k + rng.normal(0, 0.005 * k, (size, size)) for k in (0.6, 1.0, 1.3)])
    return stretch(flux, GZ_DECALS_STRETCH)


def test_sharpest_source_width_measures_the_frame() -> None:
    from galvae.evaluate.realism import sharpest_source_fwhm

    narrow, wide = _field_with_star(2.5), _field_with_star(5.0)
    # the width of a Gaussian star, in frame sides: its FWHM / S to the pixel's quantisation of the area
    assert sharpest_source_fwhm(narrow) == pytest.approx(2.5 / 64, rel=0.25)
    assert sharpest_source_fwhm(wide) == pytest.approx(5.0 / 64, rel=0.15)
    assert measure_image(wide)["source_fwhm"] == sharpest_source_fwhm(wide)
    # no neighbour, no width
    assert np.isnan(sharpest_source_fwhm(_galaxies(1, 32, seed=0)[0]))


def test_cli_where_compares_the_catalogue_rows_a_query_keeps(tmp_path, capsys) -> None:
    import pandas as pd

    import galvae

    sim = tmp_path / "sim"
    galvae.simulate.simulate(sim, n_galaxies=40, size=16, overlap=0, seed=2, progress=False, surveys=("decals",))
    real = tmp_path / "real"
    real.mkdir()
    for i, img in enumerate(_galaxies(12, 16, seed=4)):
        Image.fromarray((img[::-1].transpose(1, 2, 0) * 255).astype(np.uint8)).save(real / f"g{i:02d}.png")
    cat = pd.read_parquet(sim / "catalog.parquet")
    n_smooth = int((cat["truth_smooth_or_featured"] == "smooth").sum())
    assert 10 <= n_smooth < 40
    args = ["realism", str(sim / "decals.h5"), str(real), "--out", str(tmp_path / "r"), "--no-classifiers", "-q"]
    assert main([*args, "--n", "40", "--where", "truth_smooth_or_featured == 'smooth'"]) == 0
    assert f"({n_smooth} simulated, 12 real)" in capsys.readouterr().out
    # a query naming no column, one keeping too few, and no catalogue: one-line errors naming the option
    assert main([*args, "--where", "no_such_column > 1"]) == 2
    assert "--where" in capsys.readouterr().err
    assert main([*args, "--where", "truth_mag_r < 0"]) == 2
    assert "--where keeps 0 of 40" in capsys.readouterr().err
    assert main([*args, "--where", "id == id", "--catalog", str(tmp_path / "none.parquet")]) == 2
    assert "catalogue" in capsys.readouterr().err


def test_arm_amplitude_and_pitch_measure_the_spiral_structure():
    def rgb(band):
        return np.stack([band / band.max()] * 3).astype(np.float32)

    plain = measure_image(rgb(spiral_image(0, 0.0)))
    armed = measure_image(rgb(spiral_image(3, 20.0)))
    assert armed["arm_amplitude"] > 5 * plain["arm_amplitude"]
    assert armed["arm_pitch"] == pytest.approx(20.0, abs=3.0)


def test_asymmetry_and_clumpiness_follow_the_light_that_breaks_symmetry_and_smoothness() -> None:
    """CAS A counts light without a 180° counterpart, S light in small clumps: pairs of knots raise only S."""
    yy, xx = np.indices((64, 64)) - 31.5

    def knots(img: np.ndarray, places) -> np.ndarray:
        out = img.copy()
        for x0, y0 in places:
            out += 0.15 * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 0.8**2))
        return np.clip(out, 0, 1)

    one_sided = ((4, 2), (-3, 5), (6, -4))
    paired = one_sided + tuple((-x, -y) for x, y in one_sided)
    rows = []
    for seed in range(3):
        img = _galaxies(1, 64, seed=seed)[0]
        rows.append([measure_image(x) for x in (img, knots(img, one_sided), knots(img, paired))])
    a = np.array([[m["asymmetry"] for m in r] for r in rows]).mean(axis=0)
    s = np.array([[m["clumpiness"] for m in r] for r in rows]).mean(axis=0)
    assert abs(a[0]) < 0.03  # a smooth, symmetric source on noise: the border's share removes the noise's
    assert a[1] > a[0] + 0.03 and abs(a[2] - a[0]) < 0.5 * (a[1] - a[0])
    assert s[1] > s[0] + 0.05 and s[2] > s[1]
