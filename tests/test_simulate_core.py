"""The simulate orchestrator and CLI (galvae.simulate.core, galvae.cli.simulate): files, determinism, defects."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from galvae import GalvaeFileError, ImageStore
from galvae.cli import main
from galvae.config import StretchConfig
from galvae.data.preprocess import inverse_stretch
from galvae.simulate import DECALS, DefectConfig, SimulationConfig, simulate
from galvae.simulate.core import load_simulation_config

SDSS_JSON = {
    "name": "sdss",
    "description": "SDSS-like, 0.396 arcsec pixels",
    "bands": [
        {
            "name": b,
            "pixel_scale_arcsec": 0.396,
            "native_pixel_scale_arcsec": 0.396,
            "psf_fwhm_arcsec": f,
            "depth_mag": d,
        }
        for b, f, d in (("g", 1.5, 22.2), ("r", 1.4, 22.2), ("z", 1.3, 20.5))
    ],
}


def _run(tmp_path, name, workers=1, **kw):
    cfg = {"n_galaxies": 20, "overlap": 6, "size": 16, "seed": 7}
    cfg.update(kw)
    return simulate(tmp_path / name, workers=workers, progress=False, **cfg)


def test_every_file_identical_with_one_and_two_workers_and_rerun_from_the_record(tmp_path):
    a = _run(tmp_path, "one", 1, defect_fraction=0.3)
    b = _run(tmp_path, "two", 2, defect_fraction=0.3)
    names = ["decals.h5", "bass_mzls.h5", "catalog.parquet", "simulation.json"]
    for name in names:
        assert (a.out_dir / name).read_bytes() == (b.out_dir / name).read_bytes(), name
    config, surveys = load_simulation_config(a.out_dir)
    assert config.n_galaxies == 20 and config.defect_fraction == 0.3 and surveys[0] == DECALS
    c = simulate(tmp_path / "again", config, surveys=surveys, workers=2, progress=False)
    for name in names:
        assert (a.out_dir / name).read_bytes() == (c.out_dir / name).read_bytes(), name


def test_load_simulation_config_errors(tmp_path):
    with pytest.raises(GalvaeFileError, match="simulation record not found"):
        load_simulation_config(tmp_path)
    (tmp_path / "simulation.json").write_text(json.dumps({"config": {}}))
    with pytest.raises(GalvaeFileError, match="needs 'config' and 'surveys'"):
        load_simulation_config(tmp_path / "simulation.json")


def test_missing_band_keeps_the_other_two_bands(tmp_path):
    res = _run(
        tmp_path,
        "mb",
        n_galaxies=12,
        overlap=0,
        surveys=["decals"],
        defect_fraction=1.0,
        defects=DefectConfig(weights=(0.0, 0.0, 1.0, 0.0, 0.0)),
    )
    cat = pd.read_parquet(res.catalog)
    assert (cat["defect"] == "missing_band").all()
    store = ImageStore(res.stores["decals"])
    images, masks = store.read(), store.read_mask()
    peak = images.max(axis=(2, 3))
    assert ((peak == 0).sum(axis=1) == 1).all()  # exactly one empty band per image
    assert (peak > 0.05).sum(axis=1).min() == 2  # the galaxy is still there in the other two
    assert masks.all()


def test_defect_kinds_follow_the_defect_config(tmp_path):
    res = _run(tmp_path, "kinds", defect_fraction=1.0, defects=DefectConfig(weights=(1.0, 0.0, 0.0, 0.0, 1.0)))
    cat = pd.read_parquet(res.catalog)
    assert set(cat["defect_decals"]) == {"bright_star", "chip_edge"}
    assert set(cat["defect_bass_mzls"].dropna()) <= {"bright_star", "chip_edge"}
    assert cat["defect_bass_mzls"].isna().sum() == 14  # not in the overlap: not observed


def test_a_shared_bright_star_shows_in_both_surveys(tmp_path):
    kw = {
        "n_galaxies": 24,
        "overlap": 24,
        "star_shared_probability": 1.0,
        "defects": DefectConfig(weights=(1.0, 0, 0, 0, 0)),
    }
    res = _run(tmp_path, "stars", defect_fraction=0.5, **kw)
    clean = _run(tmp_path, "clean", defect_fraction=0.0, **kw)  # same galaxies and noise, no defects
    cat = pd.read_parquet(res.catalog)
    star_d, star_b = cat["defect_decals"] == "bright_star", cat["defect_bass_mzls"] == "bright_star"
    assert star_d.sum() >= 6
    assert (star_d == star_b).all()  # shared with probability 1
    for survey in ("decals", "bass_mzls"):
        dirty = ImageStore(res.stores[survey])
        added = inverse_stretch(dirty.read(), StretchConfig()) - inverse_stretch(
            ImageStore(clean.stores[survey]).read(), StretchConfig()
        )
        added = np.where(dirty.read_mask()[:, None], 0.0, added)[:, 1].sum(axis=(1, 2))  # r band, valid pixels
        assert (added[star_d] > 0.05).all(), survey
        assert (added[~star_d] == 0).all(), survey


def test_smaller_stores_keep_the_field_and_surface_brightness(tmp_path):
    big = _run(tmp_path, "s64", n_galaxies=6, overlap=0, surveys=["decals"], size=64)
    small = _run(tmp_path, "s32", n_galaxies=6, overlap=0, surveys=["decals"], size=32)
    sb64 = inverse_stretch(ImageStore(big.stores["decals"]).read(), StretchConfig())
    sb32 = inverse_stretch(ImageStore(small.stores["decals"]).read(), StretchConfig())
    assert ImageStore(small.stores["decals"]).pixel_scale_arcsec == pytest.approx(2 * 0.262)
    # same field, same surface brightness (nanomaggies per 0.262" pixel): the centre (the galaxy,
    # 4.2" across) has the same mean; the stretch's clip at 0 biases noise-dominated pixels, so not those
    np.testing.assert_allclose(
        sb32[:, :, 12:20, 12:20].mean(axis=(2, 3)), sb64[:, :, 24:40, 24:40].mean(axis=(2, 3)), rtol=0.04
    )

    # noise per pixel is lower on the coarser grid (binning): median |difference of neighbours| in z
    def noise(x):
        return np.median(np.abs(np.diff(x[:, 2], axis=-1)))

    assert 1.5 < noise(sb64) / noise(sb32) < 3.5


def test_a_third_survey_from_a_json_file(tmp_path):
    (tmp_path / "sdss.json").write_text(json.dumps(SDSS_JSON))
    res = _run(tmp_path, "third", surveys=["decals", "bass_mzls", tmp_path / "sdss.json"])
    assert set(res.stores) == {"decals", "bass_mzls", "sdss"}
    cat = pd.read_parquet(res.catalog)
    assert cat["defect_sdss"].notna().sum() == 6 and "psf_fwhm_sdss_r" in cat
    assert cat["psf_fwhm_sdss_r"].dropna().median() == pytest.approx(1.4, rel=0.1)
    meta = json.loads((res.out_dir / "simulation.json").read_text())
    assert [s["name"] for s in meta["surveys"]] == ["decals", "bass_mzls", "sdss"]


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match="size must be a multiple of 8"):
        SimulationConfig(size=20)
    with pytest.raises(ValueError, match="n_galaxies must be a positive integer"):
        SimulationConfig(n_galaxies=0)
    with pytest.raises(ValueError, match="survey names must be distinct"):
        _run(tmp_path, "dup", surveys=["decals", "decals"])
    with pytest.raises(ValueError, match="give either config or keyword arguments"):
        simulate(tmp_path / "x", SimulationConfig(), n_galaxies=3)
    with pytest.raises(ValueError, match="workers must be at least 1"):
        _run(tmp_path, "w0", workers=0)
    with pytest.raises(KeyError, match="unknown survey.*'hsc'"):
        _run(tmp_path, "hsc", surveys=["decals", "hsc"])


def test_cli_with_a_toml_survey_and_defect_kinds(tmp_path, capsys):
    toml = "\n".join(
        ['name = "sdss"']
        + [
            f'[[bands]]\nname = "{b["name"]}"\npixel_scale_arcsec = 0.396\nnative_pixel_scale_arcsec = 0.396\n'
            f"psf_fwhm_arcsec = {b['psf_fwhm_arcsec']}\ndepth_mag = {b['depth_mag']}"
            for b in SDSS_JSON["bands"]
        ]
    )
    (tmp_path / "sdss.toml").write_text(toml)
    out = tmp_path / "sim"
    rc = main(
        [
            "-q",
            "simulate",
            str(out),
            "--n-galaxies",
            "8",
            "--overlap",
            "3",
            "--size",
            "16",
            "--workers",
            "1",
            "--surveys",
            f"decals,{tmp_path / 'sdss.toml'}",
            "--defect-fraction",
            "1",
            "--defect-kinds",
            "chip_edge",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "simulated 8 galaxies (3 in the overlap)" in text and "chip_edge 8" in text and "chip_edge 3" in text
    assert ImageStore(out / "sdss.h5").survey == "sdss"
    assert main(["-q", "simulate", str(tmp_path / "bad"), "--defect-kinds", "stars"]) == 2
    assert "--defect-kinds (got 'stars')" in capsys.readouterr().err


def test_cli_error_is_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "galvae", "-q", "simulate", str(tmp_path / "o"), "--surveys", "decals,nosuch.toml"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "nosuch.toml" in proc.stderr


def test_render_galaxies_reproduces_a_run_and_renders_any_survey(tmp_path):
    from galvae.data.preprocess import stretch
    from galvae.simulate import render_galaxies

    res = _run(tmp_path, "rg", n_galaxies=5, overlap=2, defect_fraction=0.0)
    cat = pd.read_parquet(res.catalog)
    a = render_galaxies(cat, "decals", size=16, seed=7, progress=False)
    b = render_galaxies(cat.iloc[:2], "bass_mzls", size=16, seed=7, survey_index=1, progress=False)
    assert a.shape == (5, 3, 16, 16) and a.dtype == np.float32
    # the same draws; float32 rounding may differ by a few units in the last place between the run's and this
    # path (1.5e-8 on an AMD EPYC without AVX-512, where an exact comparison failed), far below an 8-bit level
    np.testing.assert_allclose(stretch(a), ImageStore(res.stores["decals"]).read(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(stretch(b), ImageStore(res.stores["bass_mzls"]).read(), rtol=0, atol=1e-6)
    (tmp_path / "sdss.json").write_text(json.dumps(SDSS_JSON))
    clean = render_galaxies(cat, tmp_path / "sdss.json", size=16, seed=7, noise=False, progress=False)
    assert (clean >= -1e-6).all() and clean.sum() > 0
    with pytest.raises(ValueError, match="size must be a positive integer"):
        render_galaxies(cat, "decals", size=0)


def test_cli_size_cut_and_scatter_reach_the_sample(tmp_path, capsys):
    import json

    import pandas as pd

    from galvae.simulate.morphology import approximate_petro_th50

    out = tmp_path / "big"
    args = ["-q", "simulate", str(out), "--n-galaxies", "6", "--overlap", "0", "--size", "16", "--workers", "1"]
    assert main([*args, "--surveys", "decals", "--min-p50", "4.5", "--size-scatter", "0.45"]) == 0
    cat = pd.read_parquet(out / "catalog.parquet")
    assert (approximate_petro_th50(cat) >= 4.5).all()
    morph = json.loads((out / "simulation.json").read_text())["config"]["morphology"]
    assert morph["min_petro_th50_arcsec"] == 4.5 and morph["hlr_scatter"] == 0.45
    assert main(["-q", "simulate", str(tmp_path / "bad"), "--size-scatter", "-1"]) == 2
    assert "hlr_scatter must be in [0, 2]" in capsys.readouterr().err


def test_cli_star_density_reaches_the_fields(tmp_path, capsys):
    """--stars-per-deg2 sets FieldConfig.star_n_at_21: recorded, read back, and it changes the images only."""
    import json

    import pandas as pd

    from galvae import ImageStore
    from galvae.simulate.core import load_simulation_config

    args = ["-q", "simulate", "--n-galaxies", "6", "--overlap", "0", "--size", "16", "--surveys", "decals"]
    assert main([*args[:2], str(tmp_path / "none"), *args[2:], "--stars-per-deg2", "0"]) == 0
    assert main([*args[:2], str(tmp_path / "many"), *args[2:], "--stars-per-deg2", "1e6"]) == 0
    cfg, _ = load_simulation_config(tmp_path / "many" / "simulation.json")
    assert cfg.neighbours.star_n_at_21 == 1e6
    assert json.loads((tmp_path / "none" / "simulation.json").read_text())["config"]["neighbours"]["star_n_at_21"] == 0
    # the same galaxies (the stars come from the neighbours' own stream), in fields crowded with stars
    a, b = (pd.read_parquet(tmp_path / d / "catalog.parquet") for d in ("none", "many"))
    assert a["truth_mag_r"].equals(b["truth_mag_r"])
    with ImageStore(tmp_path / "none" / "decals.h5") as s0, ImageStore(tmp_path / "many" / "decals.h5") as s1:
        assert s1.read(slice(None)).mean() > s0.read(slice(None)).mean()
    assert main(["-q", "simulate", str(tmp_path / "bad"), "--stars-per-deg2", "-5"]) == 2
    assert "star_n_at_21 must be a non-negative density" in capsys.readouterr().err


def test_cli_companions_reach_the_fields(tmp_path, capsys):
    """--companions-r0 sets FieldConfig.companion_r0: recorded, read back; a richer group adds light, not galaxies."""
    import pandas as pd

    from galvae import ImageStore
    from galvae.simulate.core import load_simulation_config

    args = ["-q", "simulate", "--n-galaxies", "6", "--overlap", "0", "--size", "16", "--surveys", "decals"]
    args += ["--stars-per-deg2", "0"]
    assert main([*args[:2], str(tmp_path / "alone"), *args[2:], "--companions-r0", "0"]) == 0
    assert main([*args[:2], str(tmp_path / "group"), *args[2:], "--companions-r0", "60"]) == 0
    assert load_simulation_config(tmp_path / "group" / "simulation.json")[0].neighbours.companion_r0 == 60
    a, b = (pd.read_parquet(tmp_path / d / "catalog.parquet") for d in ("alone", "group"))
    assert a["truth_mag_r"].equals(b["truth_mag_r"])
    with ImageStore(tmp_path / "alone" / "decals.h5") as s0, ImageStore(tmp_path / "group" / "decals.h5") as s1:
        assert s1.read(slice(None)).mean() > s0.read(slice(None)).mean()
    assert main(["-q", "simulate", str(tmp_path / "bad"), "--companions-r0", "-1"]) == 2
    assert "companion_r0 must be a non-negative length" in capsys.readouterr().err


def test_cli_bar_by_bulge_reaches_the_morphology(tmp_path, capsys):
    """--bar-by-bulge sets MorphologyConfig.bar_by_bulge: recorded with the simulator's revision and read back."""
    import json

    from galvae.simulate import SIMULATOR_REVISION, MorphologyConfig, sample_truth
    from galvae.simulate.core import load_simulation_config

    args = ["-q", "simulate", str(tmp_path / "flat"), "--n-galaxies", "40", "--overlap", "0", "--size", "16"]
    assert main([*args, "--surveys", "decals", "--bar-by-bulge", "1,1,1,1,1", "--votes-from-truth"]) == 0
    cfg, _ = load_simulation_config(tmp_path / "flat" / "simulation.json")
    assert cfg.morphology.bar_by_bulge == (1.0, 1.0, 1.0, 1.0, 1.0)
    assert json.loads((tmp_path / "flat" / "simulation.json").read_text())["simulator_revision"] == SIMULATOR_REVISION
    flat = sample_truth(2000, 0, config=MorphologyConfig(bar_by_bulge=(1, 1, 1, 1, 1)))
    assert not flat["truth_bulge_size"].equals(sample_truth(2000, 0)["truth_bulge_size"])  # the option matters
    for bad in ("1,2", "1,1,-1,1,1"):
        assert main(["-q", "simulate", str(tmp_path / "bad"), "--bar-by-bulge", bad]) == 2
        assert "bar_by_bulge must be 5 non-negative weights" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["-q", "simulate", str(tmp_path / "bad"), "--bar-by-bulge", "a,b,c,d,e"])
    assert exc.value.code == 2
    assert "expected comma-separated numbers, got 'a,b,c,d,e'" in capsys.readouterr().err


def test_cli_ansae_reach_the_morphology(tmp_path, capsys):
    """--ansae sets MorphologyConfig.ansae (recorded, read back); bad fractions are refused with the option's rule."""
    from galvae.simulate.core import load_simulation_config

    args = ["-q", "simulate", str(tmp_path / "a"), "--n-galaxies", "40", "--overlap", "0", "--size", "16"]
    assert main([*args, "--surveys", "decals", "--ansae", "1,0.5", "--votes-from-truth"]) == 0
    cfg, _ = load_simulation_config(tmp_path / "a" / "simulation.json")
    assert cfg.morphology.ansae == (1.0, 0.5)
    assert main(["-q", "simulate", str(tmp_path / "bad"), "--ansae", "0.4,2"]) == 2
    assert "ansae must be 2 fractions in [0, 1]" in capsys.readouterr().err


def test_cli_disc_breaks_reach_the_morphology(tmp_path, capsys):
    """--disc-breaks / --disc-breaks-armless set the outer-profile fractions; bad fractions are refused."""
    import pandas as pd

    from galvae.simulate.core import load_simulation_config

    out = tmp_path / "unbroken"
    args = ["-q", "simulate", str(out), "--n-galaxies", "40", "--overlap", "0", "--size", "16", "--surveys", "decals"]
    assert main([*args, "--disc-breaks", "1,0,0", "--disc-breaks-armless", "1,0,0", "--votes-from-truth"]) == 0
    cfg, _ = load_simulation_config(out / "simulation.json")
    assert cfg.morphology.disc_break == cfg.morphology.disc_break_armless == (1.0, 0.0, 0.0)
    kinds = pd.read_parquet(out / "catalog.parquet")["truth_disk_break"].dropna()
    assert len(kinds) > 5 and (kinds == "I").all()
    assert main(["-q", "simulate", str(tmp_path / "bad"), "--disc-breaks", "0.5,0.6,0.3"]) == 2
    assert "disc_break must be probabilities summing to 1" in capsys.readouterr().err


def test_fixed_profile_keeps_merger_companions_inside_its_field(tmp_path):
    """gz-decals fields grow with the galaxy; the one 'fixed' field caps the companion's separation at 6″."""
    import pandas as pd

    from galvae.simulate import sample_truth

    cfg = SimulationConfig(n_galaxies=24, overlap=0, size=16, seed=4, surveys=("decals",), balance=True)
    simulate(tmp_path / "fixed", cfg, workers=1, progress=False)
    sep = pd.read_parquet(tmp_path / "fixed" / "catalog.parquet")["truth_companion_sep_arcsec"]
    drawn = sample_truth(24, np.random.default_rng([4, 101]), balance=True)["truth_companion_sep_arcsec"]
    assert drawn.max() > 6.5  # the galaxies' own separations: beyond the cap for some
    np.testing.assert_allclose(sep.to_numpy(), np.minimum(drawn, 6.0).to_numpy(), rtol=1e-3)
