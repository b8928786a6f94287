from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from galvae.config import StretchConfig
from galvae.data.store import write_store
from galvae.errors import GalvaeValueError
from galvae.evaluate.sweep import CATEGORIES, find_knee, sweep


def test_knee_known() -> None:
    x = [10, 20, 40, 60, 80, 100]
    y = [0.50, 0.65, 0.80, 0.81, 0.82, 0.83]
    assert find_knee(x, y) == 40
    assert find_knee(x[::-1], y[::-1]) == 40  # order does not matter
    xs = np.arange(1, 11)
    assert find_knee(xs, 1 - np.exp(-xs / 2.0)) in (3, 4)
    assert find_knee([1, 2, 3], [1, 2, 3]) is None  # straight: no knee
    assert find_knee([1, 2, 3, 4], [1, 1.5, 3, 8]) is None  # convex: no knee
    assert find_knee([1, 2], [0.1, 0.9]) is None
    with pytest.raises(GalvaeValueError, match="same length"):
        find_knee([1, 2, 3], [1, 2])


def test_knee_of_a_corner_is_the_corner() -> None:
    # piecewise linear: slope 1 up to x = 4, then 0.05. Scaled, the height above the chord rises
    # linearly to the corner and falls linearly after it, so the knee is the corner exactly.
    x = np.arange(11)
    y = np.minimum(x, 4) + 0.05 * np.maximum(x - 4, 0)
    assert find_knee(x, y) == 4
    # three points: the middle one is the only candidate, and it stands far above the chord
    assert find_knee([10, 40, 100], [0.50, 0.80, 0.83]) == 40


def test_knee_ignores_a_bump_smaller_than_the_mean_step() -> None:
    # a straight line with y[1] raised by 0.1: scaled, it stands 0.025 above the chord, less than the
    # mean scaled x step (0.25, kneed's S = 1 threshold), so it is noise, not a knee. The rule galvae
    # had before kneed called it a knee at x = 1.
    assert find_knee([0, 1, 2, 3, 4], [0.0, 1.1, 2.0, 3.0, 4.0]) is None


def test_knee_at_an_end_point_is_none() -> None:
    # kneed itself answers 1 (the first point) for a convex increasing curve
    assert find_knee([1, 2, 3, 4], [1, 1.5, 3, 8]) is None
    assert find_knee([10, 20, 40, 60, 80, 100], [0.83, 0.82, 0.81, 0.80, 0.65, 0.50]) is None  # decreasing


def test_knee_drops_non_finite_points() -> None:
    x = [10, 20, 40, 60, 80, 100]
    assert find_knee(x, [0.50, 0.65, 0.80, np.nan, 0.82, 0.83]) == 40
    assert find_knee(x, [np.nan, np.nan, np.nan, np.nan, 0.82, 0.83]) is None  # two points left
    assert find_knee(x, [0.8] * 6) is None  # flat, without a division warning


def test_categories_are_the_first_branch() -> None:
    assert CATEGORIES == ("smooth", "featured", "edge-on", "artifact")  # Fig. 4: the broad classes but mergers


def _store(tmp_path, n=40, s=16):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:s, :s] - (s - 1) / 2
    w = rng.uniform(1.5, 3.5, n)
    imgs = np.exp(-(xx**2 + yy**2)[None] / (2 * w[:, None, None] ** 2))[:, None].repeat(3, 1)
    ids = [f"g{i:02d}" for i in range(n)]
    path = write_store(
        tmp_path / "s.h5",
        imgs.astype(np.float32),
        ids,
        survey="t",
        normalisation=StretchConfig(),
    )
    smooth = np.arange(n) % 2 == 0
    cat = pd.DataFrame(
        {
            "id": ids,
            "smooth-or-featured_smooth_fraction": np.where(smooth, 0.8, 0.1),
            "smooth-or-featured_featured-or-disk_fraction": np.where(smooth, 0.1, 0.8),
            "smooth-or-featured_artifact_fraction": 0.1,
            "disk-edge-on_yes_fraction": np.where(np.arange(n) % 4 == 1, 0.9, 0.1),
        }
    )
    return path, cat


def test_sweep_tiny_and_resumable(tmp_path) -> None:
    from galvae.models.config import ModelConfig

    store, cat = _store(tmp_path)
    kw = {
        "latent_dims": (2, 4),
        "losses": ("mse",),
        "epochs": 1,
        "catalog": cat,
        "batch_size": 16,
        "accelerator": "cpu",
        "model_config": ModelConfig(size=16, channels=(4, 8)),
        "progress": False,
    }
    res = sweep(store, tmp_path / "sw", **{**kw, "evaluate_on": "all"})
    t = res.table
    assert t["latent_dim"].tolist() == [2, 4] and t["trained"].all()
    # the SSIM of each model is that of its reconstructions, measured here without the sweep's code
    from galvae import GalaxyVAE, ssim
    from galvae.data.store import ImageStore

    with ImageStore(store) as st:
        images = st.read()
    for nl, row in t.set_index("latent_dim").iterrows():
        want = ssim(GalaxyVAE.load(tmp_path / "sw" / f"nl{nl}_mse").reconstruct(images), images)
        saved = pd.read_csv(tmp_path / "sw" / f"nl{nl}_mse" / "ssim_all.csv", dtype={"id": str})
        np.testing.assert_allclose(saved["ssim"], want, rtol=0, atol=1e-5)
        assert row["ssim_mean"] == pytest.approx(want.mean(), abs=1e-5) and row["ssim_std"] == pytest.approx(
            want.std(), abs=1e-5
        )
    assert t["n_smooth"].iloc[0] == 20 and t["n_edge-on"].iloc[0] == 10 and t["n_featured"].iloc[0] == 10
    assert t["n_eval"].iloc[0] == 40
    mix = (t["ssim_smooth"] * 20 + t["ssim_featured"] * 10 + t["ssim_edge-on"] * 10) / 40
    np.testing.assert_allclose(mix, t["ssim_mean"], rtol=1e-9)
    out = tmp_path / "sw"
    for name in (
        "sweep.csv",
        "sweep.json",
        "fig3_ssim_vs_nl.png",
        "fig4_ssim_per_category.png",
        "nl2_mse/model.json",
        "nl4_mse/ssim_all.csv",
    ):
        assert (out / name).is_file(), name
    js = json.loads((out / "sweep.json").read_text())
    assert js["knees"] == {"mse": None}  # two points: no knee
    mtime = (out / "nl2_mse" / "model.json").stat().st_mtime_ns
    again = sweep(store, tmp_path / "sw", **{**kw, "latent_dims": (2, 4, 6), "evaluate_on": "all"})
    assert again.table["trained"].tolist() == [False, False, True]
    assert (out / "nl2_mse" / "model.json").stat().st_mtime_ns == mtime
    np.testing.assert_allclose(again.table["ssim_mean"].iloc[:2], t["ssim_mean"])
    val = sweep(store, tmp_path / "sw", **kw)  # held-out galaxies by default
    assert not val.table["trained"].any() and (val.table["n_eval"] == 4).all()  # ceil(0.1 * 40) held out
    assert (out / "nl2_mse" / "ssim_val.csv").is_file()
    # a finished run is reused only when it was made with the settings asked for now
    other = sweep(store, tmp_path / "sw", **{**kw, "latent_dims": (2,), "lr": 5e-4})
    assert other.table["trained"].tolist() == [True]
    assert json.loads((out / "nl2_mse" / "config.json").read_text())["train"]["lr"] == 5e-4
    # the store and the sweep copied elsewhere (a copied demo directory): the runs record the old store path,
    # but the store's content is the same, so nothing is trained again and the SSIM is the one measured there
    import shutil

    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(store, copy / "s.h5")
    shutil.copytree(out, copy / "sw")
    moved = sweep(copy / "s.h5", copy / "sw", **{**kw, "latent_dims": (4,)})
    assert moved.table["trained"].tolist() == [False]
    np.testing.assert_allclose(moved.table["ssim_mean"], val.table["ssim_mean"].iloc[1:])
    # other images under the same ids at that path: trained again
    with ImageStore(store) as st:
        images, ids = st.read(), st.ids.tolist()
    write_store(copy / "s.h5", images[::-1].copy(), ids, survey="t", normalisation=StretchConfig(), overwrite=True)
    assert sweep(copy / "s.h5", copy / "sw", **{**kw, "latent_dims": (4,)}).table["trained"].tolist() == [True]
    # the original store rewritten in place with other images: the path is the recorded one, the content is not
    write_store(store, images[::-1].copy(), ids, survey="t", normalisation=StretchConfig(), overwrite=True)
    assert sweep(store, out, **{**kw, "latent_dims": (4,)}).table["trained"].tolist() == [True]


def test_sweep_repeats_average_models_of_other_seeds(tmp_path, capsys) -> None:
    """``repeats=2``: a second model per NL with seed + 1, its own split; the row is the two models' mean."""
    import galvae.cli as frame
    from galvae.models.config import ModelConfig

    store, _ = _store(tmp_path)
    kw = {
        "latent_dims": (2, 4, 6),
        "losses": ("mse",),
        "epochs": 1,
        "batch_size": 16,
        "accelerator": "cpu",
        "model_config": ModelConfig(size=16, channels=(4, 8)),
        "val_fraction": 0.25,
        "seed": 3,
        "progress": False,
    }
    out = tmp_path / "sw"
    one = sweep(store, out, **kw)
    assert (one.table["n_models"] == 1).all() and one.table["ssim_model_std"].isna().all()
    two = sweep(store, out, **kw, repeats=2)
    m = two.models
    assert sorted(m["seed"].unique().tolist()) == [3, 4] and len(m) == 6
    assert not m.loc[m["seed"] == 3, "trained"].any() and m.loc[m["seed"] == 4, "trained"].all()  # seed 3 reused
    t = two.table.set_index("latent_dim")
    for nl in (2, 4, 6):
        first = pd.read_csv(out / f"nl{nl}_mse" / "ssim_val.csv", dtype={"id": str})
        second = pd.read_csv(out / f"nl{nl}_mse_seed4" / "ssim_val.csv", dtype={"id": str})
        assert len(first) == len(second) == 10 and set(first["id"]) != set(second["id"])  # each its own split
        means = np.array([first["ssim"].mean(), second["ssim"].mean()])
        assert t.loc[nl, "ssim_mean"] == pytest.approx(means.mean(), abs=1e-6)
        assert t.loc[nl, "ssim_model_std"] == pytest.approx(means.std(ddof=1), abs=1e-6)
        assert t.loc[nl, "n_models"] == 2 and bool(t.loc[nl, "trained"])
        cfg = json.loads((out / f"nl{nl}_mse_seed4" / "config.json").read_text())
        assert cfg["train"]["seed"] == 4
    # the knee of the mean curve and of each seed's, as find_knee gives them
    knee = find_knee(t.index, t["ssim_mean"])
    assert two.knees["mse"] == (None if knee is None else int(knee))
    for sd, grp in m.groupby("seed"):
        k = find_knee(grp["latent_dim"], grp["ssim_mean"])
        assert two.knees_per_seed["mse"][sd] == (None if k is None else int(k))
    js = json.loads((out / "sweep.json").read_text())
    assert js["params"]["repeats"] == 2 and set(js["knees_per_seed"]["mse"]) == {"3", "4"} and len(js["models"]) == 6
    assert len(pd.read_csv(out / "sweep_models.csv")) == 6
    # the command line: every model reused, the mean and each seed's knee printed
    argv = ["sweep", str(store), "--out", str(out), "--latent-dims", "2,4,6", "--losses", "mse", "--epochs", "1"]
    argv += ["--batch-size", "16", "--channels", "4", "8", "--val-fraction", "0.25", "--seed", "3", "--repeats", "2"]
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("nl*/model.json")}
    # --precision 32 as the Python call's default (train's); "auto" would mean bf16 on a CPU with native bf16
    assert frame.main([*argv, "--accelerator", "cpu", "--precision", "32", "-q"]) == 0
    assert len(stamps) == 6 and all(p.stat().st_mtime_ns == t0 for p, t0 in stamps.items())
    printed = capsys.readouterr().out
    assert "ssim_model_std" in printed and "on the mean of 2 models; each model's curve:" in printed
    assert "(seed 3)" in printed and "(seed 4)" in printed
    with pytest.raises(GalvaeValueError, match="repeats must be a positive integer"):
        sweep(store, out, **kw, repeats=0)


def test_errors(tmp_path) -> None:
    store, _ = _store(tmp_path, n=4)
    with pytest.raises(GalvaeValueError, match="unknown loss 'l1'"):
        sweep(store, tmp_path / "x", losses=("l1",), progress=False)
    with pytest.raises(GalvaeValueError, match="latent_dims"):
        sweep(store, tmp_path / "x", latent_dims=(0,), progress=False)
    with pytest.raises(GalvaeValueError, match="evaluate_on"):
        sweep(store, tmp_path / "x", evaluate_on="test", progress=False)


def test_cli_parses(tmp_path) -> None:
    from galvae.cli import sweep as cli

    p = argparse.ArgumentParser()
    cli.register(p.add_subparsers())
    args = p.parse_args(["sweep", "s.h5", "--out", "o", "--latent-dims", "2,x"])
    args.progress = False
    with pytest.raises(GalvaeValueError, match="--latent-dims must be comma-separated integers"):
        args.func(args)


def test_chain_through_cli_frame(tmp_path, capsys) -> None:
    """sweep → encode_store → classify → outliers, all through ``galvae.cli.main``."""
    import galvae.cli as frame
    from galvae import encode_store

    store, cat = _store(tmp_path)
    cat["merging_none_fraction"] = np.where(np.arange(40) % 2 == 0, 0.9, 0.1)
    cat["merging_merger_fraction"] = 1 - cat["merging_none_fraction"]
    cat["merging_minor-disturbance_fraction"] = 0.0
    cat["merging_major-disturbance_fraction"] = 0.0
    cat["defect"] = np.where(np.arange(40) == 3, "satellite_trail", "none")
    cat.to_csv(tmp_path / "cat.csv", index=False)
    rc = frame.main(
        [
            "sweep",
            str(store),
            "--out",
            str(tmp_path / "sw"),
            "--latent-dims",
            "3",
            "--losses",
            "mae",
            "--epochs",
            "1",
            "--catalog",
            str(tmp_path / "cat.csv"),
            "--accelerator",
            "cpu",
            "-q",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "knee (mae): NL = none found" in out and "ssim_smooth" in out
    lat = encode_store(tmp_path / "sw" / "nl3_mae", store, tmp_path / "lat.parquet", progress=False)
    rc = frame.main(
        [
            "classify",
            str(lat),
            str(tmp_path / "cat.csv"),
            "--store",
            str(store),
            "--out",
            str(tmp_path / "cl"),
            "--n-estimators",
            "5",
            "--cnn-epochs",
            "1",
            "--features",
            "merger",
            "-q",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "merger" in out and "CNN" in out and "PCA" in out
    rc = frame.main(
        [
            "outliers",
            str(lat),
            "--catalog",
            str(tmp_path / "cat.csv"),
            "--store",
            str(store),
            "--sigma",
            "2",
            "--out",
            str(tmp_path / "ou"),
            "-q",
        ]
    )
    assert rc == 0
    assert "planted defects: 1" in capsys.readouterr().out


def test_a_run_older_than_a_model_field_matches_only_that_fields_default(tmp_path) -> None:
    """A run saved before ``centre_window`` existed was trained with every pixel alike: reused for 0, not 0.2."""
    import json

    from galvae.evaluate.sweep import _config_mismatch

    run = tmp_path / "nl4_mse"
    run.mkdir()
    model = {"latent_dim": 4, "loss": "mse", "likelihood": "gaussian"}  # no centre_window in it
    saved = {"model": model, "train": {"epochs": 1}, "data": {"stores": ["/s.h5"]}}
    (run / "config.json").write_text(json.dumps(saved))
    (run / "model.json").write_text("{}")
    assert _config_mismatch(run, "/s.h5", 4, "mse", {"epochs": 1, "centre_window": 0.0}) is None
    assert _config_mismatch(run, "/s.h5", 4, "mse", {"epochs": 1, "centre_window": 0.2}) == (
        "centre_window = 0.0, asked 0.2"
    )
    assert _config_mismatch(run, "/s.h5", 4, "mse", {"epochs": 2}) == "epochs = 1, asked 2"
    # a training field the run predates (augment) had its default, False, too
    assert _config_mismatch(run, "/s.h5", 4, "mse", {"epochs": 1, "augment": False}) is None
    assert _config_mismatch(run, "/s.h5", 4, "mse", {"epochs": 1, "augment": True}) == "augment = False, asked True"


def test_a_run_in_another_precision_is_trained_again(tmp_path) -> None:
    """bf16 and fp32 models differ by more than the sweep's error: the precision, as "auto" resolves, must match."""
    import json

    from galvae.evaluate.sweep import _config_mismatch

    run = tmp_path / "nl4_mse"
    run.mkdir()
    saved = {"model": {"latent_dim": 4, "loss": "mse"}, "train": {"epochs": 1, "precision": "bf16-mixed"}}
    (run / "config.json").write_text(json.dumps({**saved, "data": {"stores": ["/s.h5"]}}))
    (run / "model.json").write_text("{}")
    asked = {"epochs": 1, "accelerator": "cpu"}
    assert _config_mismatch(run, "/s.h5", 4, "mse", {**asked, "precision": "bf16-mixed"}) is None
    assert _config_mismatch(run, "/s.h5", 4, "mse", {**asked, "precision": "32"}) == (
        "precision = 'bf16-mixed', asked '32'"
    )
    # no precision asked: train's default, fp32
    assert _config_mismatch(run, "/s.h5", 4, "mse", asked) == "precision = 'bf16-mixed', asked '32'"


def test_a_run_is_matched_on_its_stores_content_where_it_recorded_it(tmp_path) -> None:
    """The fingerprint decides (a copy elsewhere is the same store, other images at the same path are not);
    runs saved before fingerprints are matched on the path."""
    import json

    from galvae.evaluate.sweep import _config_mismatch

    run = tmp_path / "nl4_mse"
    run.mkdir()
    (run / "model.json").write_text("{}")
    model, train = {"latent_dim": 4, "loss": "mse"}, {"epochs": 1}
    data = {"stores": ["/old/s.h5"], "store_fingerprints": ["f" * 64]}
    (run / "config.json").write_text(json.dumps({"model": model, "train": train, "data": data}))
    assert _config_mismatch(run, "/new/s.h5", 4, "mse", {"epochs": 1}, fingerprint="f" * 64) is None
    assert _config_mismatch(run, "/old/s.h5", 4, "mse", {"epochs": 1}, fingerprint="e" * 64) == (
        "trained on other images than /old/s.h5 holds now; it recorded ['/old/s.h5']"
    )
    (run / "config.json").write_text(json.dumps({"model": model, "train": train, "data": {"stores": ["/old/s.h5"]}}))
    assert _config_mismatch(run, "/old/s.h5", 4, "mse", {"epochs": 1}, fingerprint="e" * 64) is None
    assert _config_mismatch(run, "/new/s.h5", 4, "mse", {"epochs": 1}, fingerprint="f" * 64) == (
        "trained on ['/old/s.h5'] (saved without a store fingerprint: matched on the path)"
    )
