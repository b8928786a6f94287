"""End-to-end tests of ``galvae train / encode / reconstruct / generate``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from galvae.cli import main
from galvae.config import StretchConfig
from galvae.data.store import ImageStore, write_store
from galvae.latents import read_latent_catalog

NORM = StretchConfig(kind="none")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A store of 20 random 16-px images and a run trained on it for one epoch through the CLI."""
    root = tmp_path_factory.mktemp("cli_vae")
    images = np.random.default_rng(0).random((20, 3, 16, 16), dtype=np.float32) * 0.5
    store = write_store(root / "s.h5", images, [f"g{i:02d}" for i in range(20)], survey="sim", normalisation=NORM)
    run = root / "run"
    rc = main(
        [
            "-q",
            "train",
            str(store),
            "--out",
            str(run),
            "--latent-dim",
            "3",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--val-fraction",
            "0.2",
            "--accelerator",
            "cpu",
            "--seed",
            "1",
        ]
    )
    assert rc == 0
    return store, run, root


def test_train_outputs(trained, capsys):
    store, run, _ = trained
    assert (run / "model.json").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    rc = main(["-q", "train", str(store), "--out", str(run), "--epochs", "2", "--resume", "--accelerator", "cpu"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "trained 2 epochs (4 steps)" in out and "model.json" in out


@pytest.mark.parametrize("name", ["lat.parquet", "lat.fits"])
def test_encode(trained, capsys, name):
    store, run, root = trained
    out = root / name
    assert main(["-q", "encode", str(run), str(store), "--out", str(out), "--batch-size", "7"]) == 0
    assert "wrote latent catalogue" in capsys.readouterr().out
    df, meta = read_latent_catalog(out)
    assert len(df) == 20 and {"id", "mu_2", "logvar_2", "recon_error"} <= set(df.columns)
    assert "mu_3" not in df.columns and meta["store"] == str(store.resolve())
    assert main(["-q", "encode", str(run), str(store), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert {"outlier_sigma", "outlier"} <= set(df.columns) and meta["outlier"]["k"] == 8.0


def test_encode_outlier_options(trained, capsys):
    store, run, root = trained
    out = root / "lat_k.parquet"
    argv = ["-q", "encode", str(run), str(store), "--out", str(out), "--outlier-k", "1.5", "--outlier-robust"]
    assert main(argv) == 0
    df, meta = read_latent_catalog(out)
    assert meta["outlier"]["k"] == 1.5 and meta["outlier"]["robust"] is True
    np.testing.assert_array_equal(df["outlier"].to_numpy(), df["outlier_sigma"].to_numpy() > 1.5)
    assert f"{int(df['outlier'].sum())} of 20 galaxies beyond 1.5 sigma" in capsys.readouterr().out
    assert main(["-q", "encode", str(run), str(store), "--out", str(root / "x.parquet"), "--outlier-k", "0"]) == 2
    assert "outlier_k" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["lat_noerr.parquet", "lat_noerr.fits"])
def test_encode_without_recon_error_keeps_the_latents(trained, name):
    store, run, root = trained
    full, fast = root / f"full_{name}", root / name
    assert main(["-q", "encode", str(run), str(store), "--out", str(full)]) == 0
    assert main(["-q", "encode", str(run), str(store), "--out", str(fast), "--no-recon-error"]) == 0
    a, _ = read_latent_catalog(full)
    b, meta = read_latent_catalog(fast)
    assert "recon_error" in a.columns and "recon_error" not in b.columns and meta["recon_error"] is None
    # same batches, same encoder: the latents and outlier columns do not depend on skipping the decoder
    pd.testing.assert_frame_equal(a.drop(columns="recon_error"), b)


def test_reconstruct_and_generate(trained):
    store, run, root = trained
    assert main(["-q", "reconstruct", str(run), str(store), "--out", str(root / "rec.h5")]) == 0
    with ImageStore(root / "rec.h5") as st:
        assert len(st) == 20 and st.size == 16
    assert main(["-q", "generate", str(run), "--n", "4", "--seed", "3", "--out", str(root / "mock.h5")]) == 0
    with ImageStore(root / "mock.h5") as st:
        assert len(st) == 4 and st.attrs["seed"] == 3
    like = ["-q", "generate", str(run), "--n", "4", "--like", str(store), "--components", "2"]
    assert main([*like, "--out", str(root / "like.h5")]) == 0
    with ImageStore(root / "like.h5") as st:
        assert st.attrs["kind"] == "latent_density_sample" and st.attrs["n_components"] == 2
        assert st.attrs["n_fitted"] == 20
    assert (
        main(
            [
                "-q",
                "generate",
                str(run),
                "--between",
                "g01",
                "g05",
                "--store",
                str(store),
                "--steps",
                "3",
                "--out",
                str(root / "path.h5"),
            ]
        )
        == 0
    )
    with ImageStore(root / "path.h5") as st:
        assert len(st) == 3 and st.attrs["between"] == ["g01", "g05"]


def test_one_line_errors(trained, capsys, tmp_path):
    store, run, _ = trained
    big = write_store(
        tmp_path / "b.h5", np.zeros((2, 3, 24, 24), np.float32), ["a", "b"], survey="sim", normalisation=NORM
    )
    assert main(["encode", str(run), str(big), "--out", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("galvae encode: error:") and "expects size 16" in err and err.count("\n") == 1
    assert main(["generate", str(run), "--between", "g01", "g02", "--out", str(tmp_path / "y.h5")]) == 2
    assert "--between needs --store" in capsys.readouterr().err
    assert (
        main(["generate", str(run), "--between", "g01", "zzz", "--store", str(store), "--out", str(tmp_path / "z.h5")])
        == 2
    )
    assert "zzz" in capsys.readouterr().err
    assert main(["-q", "train", str(store), "--out", str(run)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["reconstruct", str(tmp_path), str(store), "--out", str(tmp_path / "r.h5")]) == 2
    assert "no exported galvae model" in capsys.readouterr().err


def test_unknown_loss_is_rejected_by_the_parser(trained, capsys, tmp_path):
    store, _, _ = trained
    with pytest.raises(SystemExit) as exc:
        main(["train", str(store), "--out", str(tmp_path / "r"), "--loss", "huber"])
    assert exc.value.code == 2
    assert "invalid choice: 'huber'" in capsys.readouterr().err


def test_subprocess_error_has_no_traceback(trained, tmp_path):
    store, _, _ = trained
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "galvae",
            "encode",
            str(tmp_path / "norun"),
            str(store),
            "--out",
            str(tmp_path / "o.parquet"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "no exported galvae model" in proc.stderr


def test_encode_precision(trained, capsys):
    store, run, root = trained
    out = root / "lat_bf16.parquet"
    assert main(["-q", "encode", str(run), str(store), "--out", str(out), "--precision", "bf16-mixed"]) == 0
    df, meta = read_latent_catalog(out)
    assert meta["precision"] == "bf16-mixed" and len(df) == 20
    assert main(["-q", "encode", str(run), str(store), "--out", str(root / "lat_fp32.parquet")]) == 0
    ref, ref_meta = read_latent_catalog(root / "lat_fp32.parquet")
    assert ref_meta["precision"] == "32"
    diff = np.abs(df["mu_0"].to_numpy() - ref["mu_0"].to_numpy()).max()
    assert 0 < diff <= 0.03 * np.abs(ref["mu_0"].to_numpy()).max()
    # the sharded encoder (a directory) stays fp32 and says so
    assert main(["-q", "encode", str(run), str(store), "--out", str(root / "parts"), "--precision", "auto"]) == 2
    assert "--precision: the sharded encoder" in capsys.readouterr().err
