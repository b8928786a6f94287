"""``galvae demo`` (issue 7): the quick configuration end to end, stage caching, the report in Chromium."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from _browser import ARTIFACTS, chromium_run, find_chromium, images_loaded
from galvae import classify
from galvae.cli import main
from galvae.demo import QUICK, STAGES, DemoConfig, _Stages, resolve_precision, run_demo
from galvae.errors import GalvaeValueError


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The --quick configuration itself (46 s on the idle 2-core CPU, benchmarks/demo.md)."""
    out = tmp_path_factory.mktemp("demo")
    events = []
    res = run_demo(out, QUICK, progress=False, callback=events.append)
    return res, events


@pytest.mark.slow
def test_demo_runs_every_stage_and_writes_the_products(demo):
    res, events = demo
    out = res.out_dir
    assert [e.stage for e in events if e.status == "done"] == list(STAGES)
    assert [e.index for e in events if e.status == "start"] == list(range(1, len(STAGES) + 1))
    assert res.cached == ()
    assert set(res.seconds) == set(STAGES) and all(v >= 0 for v in res.seconds.values())
    for rel in (
        "data/decals.h5",
        "data/bass_mzls.h5",
        "data/catalog.parquet",
        "labels.parquet",
        "run/model.json",
        "sweep/sweep.csv",
        "latents_decals.parquet",
        "latents_bass_mzls.parquet",
        "recon_decals.h5",
        "table3/table3.csv",
        "outliers/outliers.json",
        "run_da/model_bass_mzls.json",
        "domains/domains.json",
        "domains/table4.csv",
        "translation/translation.csv",
        "translation/translation_gallery.png",
        "mocks_decals.h5",
        "mocks_bass_mzls.h5",
        "report.html",
        "timings.json",
        "demo_config.json",
    ):
        assert (out / rel).exists(), rel
    sweep = pd.read_csv(out / "sweep" / "sweep.csv")
    assert sorted(sweep["latent_dim"].unique().tolist()) == list(QUICK.sweep_dims)
    # the sweep's NL = 40 model is the main run's first sweep_epochs epochs (the train stage kept them): its
    # validation losses are the main run's first ones; the other NL are trained by the sweep
    by_nl = sweep.set_index("latent_dim")
    assert not by_nl.loc[QUICK.latent_dim, "trained"] and by_nl.loc[QUICK.latent_dim, "epochs"] == QUICK.sweep_epochs
    assert by_nl.loc[8, "trained"]

    def val_losses(run):
        m = pd.read_csv(run / "metrics.csv")
        return m.dropna(subset=["val_loss"]).groupby("epoch")["val_loss"].last()

    main = val_losses(out / "run")
    assert len(main) == QUICK.epochs
    pd.testing.assert_series_equal(
        val_losses(out / "sweep" / f"nl{QUICK.latent_dim}_{QUICK.loss}"), main.iloc[: QUICK.sweep_epochs]
    )
    t3 = pd.read_csv(out / "table3" / "table3.csv")
    assert {"vae", "pca", "cnn"} <= set(t3["method"])
    domains = json.loads((out / "domains" / "domains.json").read_text())
    assert set(domains["mmd2"]) == {"before", "after"}
    # the test pairs (neither trained on nor used to choose the epoch) are measured on their own
    split = json.loads((out / "run_da" / "split.json").read_text())
    held_out = split["test_ids"]
    assert domains["heldout"]["n"] == len(held_out) > 0 and domains["heldout"]["source"].endswith("(test_ids)")
    assert not set(held_out) & (set(split["train_ids"]) | set(split["val_ids"]))
    training = json.loads((out / "run_da" / "model.json").read_text())["training"]
    assert training["monitor"] == "val_pair_ratio" and training["encoder_checkpoint"] == "best.ckpt"
    assert training["decoder_epochs"] == QUICK.adapt_decoder_epochs
    # the adaptation's control: the same pairs, seed, epochs and epoch choice without MMD² and the paired term
    control, adapted = (
        json.loads((out / r / "config.json").read_text())["adapt"] for r in ("run_da_control", "run_da")
    )
    assert control["lam"] == control["pair_weight"] == 0.0 and adapted["lam"] > 0 and adapted["pair_weight"] > 0
    same = ("seed", "epochs", "lr", "monitor", "early_stopping", "test_fraction", "val_fraction", "batch_size")
    assert {k: control[k] for k in same} == {k: adapted[k] for k in same}
    assert json.loads((out / "run_da_control" / "split.json").read_text())["test_ids"] == held_out
    assert set(res.summary["heldout_paired_over_random"]) == {"before", "after", "control"}
    assert domains["heldout"]["gain"] == pytest.approx(
        domains["heldout"]["gain_control"] * domains["heldout"]["gain_over_control"], rel=1e-9
    )
    assert json.loads((out / "demo_config.json").read_text())["demo"]["n_galaxies"] == QUICK.n_galaxies
    # the centre window (none in the quick demo's fixed field) and the detail weight reach the main model, and the
    # adapted one keeps them
    for run_dir in ("run", "run_da"):
        model_cfg = json.loads((out / run_dir / "model.json").read_text())["model_config"]
        assert model_cfg["centre_window"] == QUICK.centre_window == 0.0
        assert model_cfg["loss"] == QUICK.loss
        assert (model_cfg["detail_weight"], model_cfg["detail_scale"]) == (QUICK.detail_weight, QUICK.detail_scale)
        assert model_cfg["channels"] == list(QUICK.vae_channels)
    # the translation stage scored all three predictions of the real BASS+MzLS images of the overlap
    assert set(res.summary["translation_ssim"]) == {"translated", "untranslated", "psf_matched"}
    text = (out / "report.html").read_text(encoding="utf-8")
    tr = text[text.index('<section id="translation">') : text.index('<section id="sweep">')]
    assert 'alt="translation gallery"' in tr and "not run" not in tr
    for needle in ("Table 3", "Table 4", "96.36", "79.41", "decals decoder", "bass_mzls decoder", "0.417 %"):
        assert needle in text, needle
    # Table 2's class mix beside the paper's, and the selection against the simulation's own truth
    t3 = text[text.index('<section id="table3">') : text.index('<section id="domains">')]
    assert "Table 2: the labelled galaxies" in t3 and "against the simulated truth" in t3
    for stage in STAGES:  # time per stage in the report (all but the report's own)
        if stage != "report":
            assert stage in text


@pytest.mark.slow
def test_demo_latents_hold_information_and_classify(demo):
    """Outcomes, not the paper's constants: the quick demo's default (gaussian) model keeps its latents
    active and informative, and forests on them beat the majority rate on how-rounded by a wide margin.

    Measured on the quick configuration (2026-12-04, 2-core AMD EPYC, torch 2.13.0+cpu): 40/40 active units,
    103 nats (fp32) / 113 nats (bf16-mixed, what ``precision="auto"`` picks on a CPU with native bf16) per
    galaxy, how-rounded 0.78 / 0.75 against a majority rate of 0.47 on 32 test galaxies; with the summed
    likelihood the same demo keeps a few nats.  Thresholds leave wide margins for other CPUs and precisions.

    How rounded is scored over five 70/30 splits (seeds 0-4): on one split of ~32 test galaxies the same
    latents scored majority + 0.125 or + 0.30 depending on the split alone (2026-12-05, after bars went with
    bulges).  Over five splits the quick demo's latents gave majority + 0.17, 0.18, 0.18 on data seeds 0, 1, 2
    (+ 0.29, 0.18, 0.24 with bars independent of bulges); the bar asserted is issue 11's, majority + 0.10.
    """
    res, _ = demo
    out = res.out_dir
    metrics = pd.read_csv(out / "run" / "metrics.csv")
    last = metrics[["val_active_units", "val_kl"]].dropna().iloc[-1]
    assert last["val_active_units"] >= 30
    assert last["val_kl"] >= 50.0  # nats per galaxy; the summed likelihood holds < 10
    t3 = pd.read_csv(out / "table3" / "table3.csv")
    vae = t3[t3["method"] == "vae"].set_index("feature")
    assert vae.loc["how_rounded", "accuracy"] > vae.loc["how_rounded", "majority_rate"]  # the demo's own split
    gains = []
    for seed in range(5):
        t = classify(
            out / "latents_decals.parquet", out / "labels.parquet", baselines=(), seed=seed, progress=False
        ).table
        row = t[(t["method"] == "vae") & (t["feature"] == "how_rounded")].iloc[0]
        gains.append(row["accuracy"] - row["majority_rate"])
    assert np.mean(gains) >= 0.10, gains


@pytest.mark.slow
def test_second_run_reuses_every_stage(demo):
    res, _ = demo
    report_mtime = res.report.stat().st_mtime_ns
    again = run_demo(res.out_dir, QUICK, progress=False)
    assert again.cached == tuple(STAGES)
    assert again.seconds == pytest.approx(res.seconds)
    assert res.report.stat().st_mtime_ns == report_mtime


@pytest.mark.slow
def test_a_directory_from_another_simulator_revision_is_simulated_again(demo, tmp_path, monkeypatch):
    import galvae.simulate.core as core

    res, _ = demo
    copy = tmp_path / "copy"
    shutil.copytree(res.out_dir, copy)
    sim = json.loads((copy / "data" / "simulation.json").read_text())
    assert sim["simulator_revision"] == core.SIMULATOR_REVISION
    called = []

    def fake_simulate(out, config, **kwargs):
        called.append(out)
        raise RuntimeError("simulated again")

    monkeypatch.setattr(core, "simulate", fake_simulate)
    assert run_demo(copy, QUICK, progress=False).cached == tuple(STAGES)  # same revision: nothing re-run
    assert not called
    monkeypatch.setattr(core, "SIMULATOR_REVISION", core.SIMULATOR_REVISION + 1)
    with pytest.raises(RuntimeError, match="simulated again"):
        run_demo(copy, QUICK, progress=False)


@pytest.mark.slow
def test_cli_shows_each_stage_and_reuses(demo, capsys):
    res, _ = demo
    assert main(["demo", "--quick", "--out", str(res.out_dir), "-q"]) == 0
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.splitlines() if ln.startswith("[")]
    assert len(lines) == len(STAGES) and all("reused" in ln for ln in lines)
    assert f"report: {res.report}" in cap.out and "0.417 %" in cap.out
    assert "(control)" in cap.out and "adaptation over the control" in cap.out


@pytest.mark.slow
def test_demo_report_renders_in_chromium(demo, tmp_path):
    exe = find_chromium()
    res, _ = demo
    text = res.report.read_text(encoding="utf-8")
    total, loaded = images_loaded(exe, res.report, tmp_path)
    assert total == text.count("<img ") and total >= 12
    assert loaded == total
    shot = tmp_path / "demo.png"
    run = chromium_run(
        exe, res.report, tmp_path, "--hide-scrollbars", "--window-size=1280,3000", f"--screenshot={shot}"
    )
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "demo-report-screenshot.png")
    from PIL import Image

    with Image.open(shot, formats=["PNG"]) as im:
        px = np.asarray(im.convert("RGB"))
    assert px.std() > 20


# ----------------------------------------------------------------------------- caching rules, on cheap stages
def test_stage_cache_rules(tmp_path):
    calls: list[str] = []

    def stage(name):
        def fn():
            calls.append(name)
            (tmp_path / f"{name}.out").write_text(name)

        return fn

    def run_all(params_b=1, force=False):
        st = _Stages(tmp_path, force, None)
        for i, name in enumerate("abc", 1):
            st.run(i, name, {"p": params_b if name == "b" else 0}, [tmp_path / f"{name}.out"], stage(name))
        return st

    run_all()
    assert calls == ["a", "b", "c"]
    calls.clear()
    assert run_all().cached == ["a", "b", "c"] and calls == []
    run_all(params_b=2)  # a changed parameter re-runs that stage and everything after it
    assert calls == ["b", "c"]
    calls.clear()
    (tmp_path / "b.out").unlink()  # a missing output too
    run_all(params_b=2)
    assert calls == ["b", "c"]
    calls.clear()
    run_all(params_b=2, force=True)
    assert calls == ["a", "b", "c"]


def test_stage_failure_leaves_no_mark(tmp_path):
    st = _Stages(tmp_path, False, None)

    def boom():
        raise RuntimeError("stage failed")

    with pytest.raises(RuntimeError, match="stage failed"):
        st.run(1, "a", {}, [], boom)
    assert not (tmp_path / ".stages" / "a.json").exists()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"overlap": 5000}, "overlap must be an integer"),
        ({"n_galaxies": 10}, "at least 50 galaxies"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"sweep_repeats": 0}, "demo sweep_repeats must be a positive integer"),
        ({"sweep_epochs": 0}, r"demo sweep_epochs must be a positive integer \(got 0\)"),
        ({"sweep_losses": ("mse", "huber")}, r"demo sweep_losses \(--sweep-losses\) must name distinct losses.*huber"),
        ({"sweep_losses": ("mae", "mae")}, r"demo sweep_losses \(--sweep-losses\) must name distinct losses"),
        ({"sweep_losses": ()}, r"demo sweep_losses \(--sweep-losses\)"),
        ({"embedding": "umap"}, "embedding"),
        ({"likelihood": "poisson"}, "demo likelihood .*'gaussian'"),
        ({"centre_window": -0.1}, "centre_window"),
        ({"loss": "huber"}, "demo loss .*'huber'.*'mae'"),
        ({"colour_weight": 0.0}, "demo colour_weight must be"),
        ({"detail_weight": 0.0}, r"demo detail_weight must be a number in \[0.01, 100\]"),
        ({"detail_scale": 0.0}, r"demo detail_scale must be a number in \(0, 1\]"),
        ({"adapt_lr": 0.0}, r"demo adapt_lr must be a number in \(0, 1\]"),
        ({"pair_weight": -1.0}, "demo pair_weight must be"),
        ({"output": "tanh"}, "demo output .*'tanh'.*'linear'"),
        ({"augment": "yes"}, r"demo augment must be True or False \(got 'yes'\)"),
        ({"vae_channels": ()}, r"demo vae_channels must be a non-empty tuple of positive integers"),
        ({"vae_channels": 64}, r"demo vae_channels must be a non-empty tuple of positive integers"),
        ({"vae_channels": (64, 0)}, r"demo vae_channels must be a non-empty tuple of positive integers.*0"),
        (
            {"size": 36, "vae_channels": (8, 16, 32)},
            r"demo image size must be a positive multiple of 8 \(the encoder halves it 3 times; --vae-channels\).*36",
        ),
        ({"profile": "sdss"}, "profile .*'gz-decals'"),
        ({"precision": "fp8"}, "demo precision .*'fp8'.*'bf16-mixed'"),
        ({"min_p50": -1.0}, r"demo min_p50 \(--min-p50\) must be in \[0, 12\)"),
        ({"size_scatter": 3.0}, r"demo size_scatter \(--size-scatter\) must be in \[0, 2\]"),
        ({"bar_by_bulge": (1.0, 1.0)}, r"demo bar_by_bulge \(--bar-by-bulge\) must be 5 non-negative weights"),
        ({"bar_by_bulge": (1.0, 1.0, -1.0, 1.0, 1.0)}, r"demo bar_by_bulge \(--bar-by-bulge\) must be 5"),
        ({"ansae": (0.4, 1.5)}, r"demo ansae \(--ansae\) must be 2 fractions in \[0, 1\]"),
        ({"ansae": (0.4,)}, r"demo ansae \(--ansae\) must be 2 fractions"),
    ],
)
def test_demo_config_validation(kwargs, match):
    with pytest.raises(GalvaeValueError, match=match):
        DemoConfig(**kwargs)


def test_auto_precision_is_bf16_only_on_a_cpu_with_native_bf16(tmp_path):
    native = tmp_path / "native"
    native.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n\nprocessor\t: 1\n")
    amx = tmp_path / "amx"
    amx.write_text("flags\t\t: fpu avx512f amx_tile amx_bf16\n")
    emulated = tmp_path / "emulated"  # AVX-512 without native bfloat16: oneDNN would emulate it, slower than fp32
    emulated.write_text("flags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    assert resolve_precision("auto", "cpu", cpuinfo=native) == "bf16-mixed"
    assert resolve_precision("auto", "cpu", cpuinfo=amx) == "bf16-mixed"
    assert resolve_precision("auto", "cpu", cpuinfo=emulated) == "32"
    assert resolve_precision("auto", "cpu", cpuinfo=tmp_path / "absent") == "32"
    assert resolve_precision("auto", "gpu", cpuinfo=native) == "32"
    assert resolve_precision("32", "cpu", cpuinfo=native) == "32"
    assert resolve_precision("16-mixed", "gpu", cpuinfo=emulated) == "16-mixed"
    with pytest.raises(GalvaeValueError, match="precision.*'fp8'"):
        resolve_precision("fp8")


def test_the_size_cut_reaches_the_simulation(tmp_path, monkeypatch, capsys):
    """--min-p50 / --size-scatter go from the command line through DemoConfig into the simulated sample."""
    import dataclasses

    import galvae.simulate.core as core

    seen = []

    def fake_simulate(out, config, **kwargs):
        seen.append(config.morphology)
        raise RuntimeError("stop after the simulate stage's configuration")

    monkeypatch.setattr(core, "simulate", fake_simulate)
    with pytest.raises(RuntimeError, match="stop after"):
        run_demo(tmp_path / "a", dataclasses.replace(QUICK, min_p50=3.0, size_scatter=0.3), progress=False)
    assert (seen[0].min_petro_th50_arcsec, seen[0].hlr_scatter) == (3.0, 0.3)  # the former sample, not the defaults
    # the CLI reports the fake's error as an internal one; what matters is what reached the simulation
    assert main(["demo", "--quick", "--out", str(tmp_path / "c"), "--bar-by-bulge", "1,1,1,1,1", "-q"]) != 0
    assert seen[1].bar_by_bulge == (1.0,) * 5
    assert main(["demo", "--quick", "--out", str(tmp_path / "d"), "--ansae", "0,0", "-q"]) != 0
    assert seen[2].ansae == (0.0, 0.0)
    capsys.readouterr()
    assert main(["demo", "--quick", "--out", str(tmp_path / "b"), "--min-p50", "15", "-q"]) == 2
    assert "--min-p50" in capsys.readouterr().err


def test_demo_size_defaults_are_the_simulators():
    """DemoConfig repeats MorphologyConfig's two defaults (importing it at config time would load GalSim)."""
    from galvae.simulate.morphology import MorphologyConfig

    m, d = MorphologyConfig(), DemoConfig()
    assert (d.min_p50, d.size_scatter) == (m.min_petro_th50_arcsec, m.hlr_scatter)
    assert d.bar_by_bulge == m.bar_by_bulge
    assert d.ansae == m.ansae


def test_demo_field_fraction_follows_the_profile():
    from galvae.demo import DEMO_FIELD_FRACTION, QUICK, with_overrides

    assert DemoConfig().field_fraction == DEMO_FIELD_FRACTION == 0.75 and QUICK.field_fraction == 1.0
    # a new profile without a fraction takes that profile's: the fixed field is kept whole
    assert with_overrides(DemoConfig(), profile="fixed").field_fraction == 1.0
    assert with_overrides(QUICK, profile="gz-decals").field_fraction == DEMO_FIELD_FRACTION
    assert with_overrides(DemoConfig(), field_fraction=0.5).field_fraction == 0.5
    with pytest.raises(GalvaeValueError, match="gz-decals profile only"):
        DemoConfig(profile="fixed", field_fraction=0.5)


def test_demo_centre_window_follows_the_profile():
    from galvae.demo import DEMO_CENTRE_WINDOW, with_overrides

    assert DemoConfig().centre_window == DEMO_CENTRE_WINDOW == 0.2  # gz-decals: the frame scales with the galaxy
    assert QUICK.centre_window == 0.0 and DemoConfig(profile="fixed").centre_window == 0.0
    assert with_overrides(DemoConfig(), profile="fixed").centre_window == 0.0
    assert with_overrides(QUICK, profile="gz-decals").centre_window == DEMO_CENTRE_WINDOW
    assert with_overrides(DemoConfig(), centre_window=0.0).centre_window == 0.0
    assert with_overrides(QUICK, centre_window=0.3, profile="gz-decals").centre_window == 0.3


def test_sweep_losses_and_dims_reach_the_sweep(tmp_path, monkeypatch, capsys):
    """--sweep-dims / --sweep-losses go from the command line into DemoConfig and from it into galvae.sweep; the
    stage's key changes only when the losses differ from the main model's (finished default sweeps stay valid)."""
    import dataclasses

    import galvae.demo as demo_mod
    import galvae.evaluate.sweep as sweep_mod
    from galvae.demo import _DemoRun, _sweep_stage

    seen = []

    def fake_run_demo(out, cfg, **kwargs):
        seen.append(cfg)
        raise RuntimeError("stop before the stages")

    monkeypatch.setattr(demo_mod, "run_demo", fake_run_demo)
    args = ["demo", "--quick", "--out", str(tmp_path / "c"), "-q"]
    assert main([*args, "--sweep-dims", "10,20,40", "--sweep-losses", "mse, mae"]) != 0
    assert (seen[0].sweep_dims, seen[0].sweep_losses) == ((10, 20, 40), ("mse", "mae"))
    assert main(args) != 0
    assert seen[1].sweep_losses is None and seen[1].sweep_dims == QUICK.sweep_dims
    assert DemoConfig(sweep_losses="mse").sweep_losses == ("mse",)
    capsys.readouterr()
    assert main([*args, "--sweep-dims", "10,x"]) == 2
    assert "--sweep-dims must be comma-separated integers (got '10,x')" in capsys.readouterr().err
    assert main([*args, "--sweep-losses", "mse,huber"]) == 2
    assert "sweep_losses (--sweep-losses) must name distinct losses" in capsys.readouterr().err
    assert len(seen) == 2  # neither reached the stages

    calls = []
    monkeypatch.setattr(sweep_mod, "sweep", lambda store, out, **kw: calls.append(kw))

    def stage(cfg, out):
        d = _DemoRun(cfg, out, _Stages(out, False, None), False, "32")
        _sweep_stage(d)
        return json.loads((out / ".stages" / "sweep.json").read_text())["params"]

    default = stage(QUICK, tmp_path / "a")
    both = stage(dataclasses.replace(QUICK, sweep_losses=("mse", "mae")), tmp_path / "b")
    same = stage(dataclasses.replace(QUICK, sweep_losses=(QUICK.loss,)), tmp_path / "d")
    assert [c["losses"] for c in calls] == [(QUICK.loss,), ("mse", "mae"), (QUICK.loss,)]
    assert "losses" not in default and both["losses"] == ["mse", "mae"] and same == default


def test_a_sweep_as_long_as_the_main_training_takes_the_main_model(tmp_path, monkeypatch):
    """--sweep-epochs reaches DemoConfig; with sweep_epochs = epochs the sweep's model of the main NL and loss is the
    main model itself (copied without its checkpoints), shorter sweeps take the train stage's warm copy, and an NL
    or loss the sweep does not train takes nothing."""
    import dataclasses

    import galvae.demo as demo_mod
    import galvae.evaluate.sweep as sweep_mod
    from galvae.demo import _DemoRun, _sweep_stage

    seen = []

    def fake_run_demo(out, cfg, **kwargs):
        seen.append(cfg)
        raise RuntimeError("stop before the stages")

    monkeypatch.setattr(demo_mod, "run_demo", fake_run_demo)
    assert main(["demo", "--quick", "--out", str(tmp_path / "c"), "-q", "--sweep-epochs", "7"]) != 0
    assert seen[0].sweep_epochs == 7
    assert main(["demo", "--quick", "--out", str(tmp_path / "c"), "-q", "--sweep-epochs", "0"]) != 0
    assert len(seen) == 1  # refused before any stage

    copied = []
    monkeypatch.setattr(
        sweep_mod,
        "sweep",
        lambda store, out, **kw: copied.append(sorted(str(p.relative_to(out)) for p in out.rglob("*"))),
    )

    def stage(cfg, out):
        d = _DemoRun(cfg, out, _Stages(out, False, None), False, "32")
        for run_dir, epochs in ((d.run, cfg.epochs), (d.sweep_warm, cfg.sweep_epochs)):
            (run_dir / "checkpoints").mkdir(parents=True)
            (run_dir / "checkpoints" / "last.ckpt").write_text("state")
            (run_dir / "model.json").write_text(json.dumps({"epochs": epochs}))
        _sweep_stage(d)
        return json.loads((out / "sweep" / d.sweep_warm.name / "model.json").read_text()) if copied[-1] else None

    name = f"nl{QUICK.latent_dim}_{QUICK.loss}"
    assert QUICK.latent_dim in QUICK.sweep_dims and QUICK.sweep_epochs < QUICK.epochs
    assert stage(dataclasses.replace(QUICK, sweep_epochs=QUICK.epochs), tmp_path / "long") == {"epochs": QUICK.epochs}
    assert copied[-1] == [name, f"{name}/model.json"]
    assert stage(QUICK, tmp_path / "short") == {"epochs": QUICK.sweep_epochs}
    assert copied[-1] == [name, f"{name}/model.json"]
    others = tuple(n for n in QUICK.sweep_dims if n != QUICK.latent_dim)
    long_cfg = dataclasses.replace(QUICK, sweep_epochs=QUICK.epochs)
    assert stage(dataclasses.replace(long_cfg, sweep_dims=others), tmp_path / "no_nl") is None
    other_loss = "mse" if QUICK.loss != "mse" else "mae"
    assert stage(dataclasses.replace(long_cfg, sweep_losses=(other_loss,)), tmp_path / "no_loss") is None
