"""Tests of experiment tracking through Lightning's loggers (``train(logger=...)``, ``galvae train --logger``).

Tiny runs (24 images of 16x16, 1-2 epochs).  The CSV log is galvae's own
record and must be the same whatever tracker is added; MLflow runs in local
file mode under ``tmp_path``, Weights & Biases offline, TensorBoard into the
run directory.  A tracker whose package is not installed is skipped, naming it.
"""

from __future__ import annotations

import csv
import importlib
import json

import numpy as np
import pytest

from galvae import train
from galvae.cli import main
from galvae.config import StretchConfig
from galvae.data.store import write_store
from galvae.errors import GalvaeValueError
from galvae.training.train import LOGGERS, check_logger, make_trackers

train_module = importlib.import_module("galvae.training.train")


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(3)
    images = rng.random((24, 3, 16, 16), dtype=np.float32) * 0.5
    return write_store(
        tmp_path / "s.h5", images, [f"i{i:02d}" for i in range(24)], survey="sim", normalisation=StretchConfig("none")
    )


def _train(store, out, **kw):
    opts = dict(latent_dim=3, epochs=1, batch_size=8, val_fraction=0.25, progress=False, accelerator="cpu", seed=2)
    opts.update(kw)
    return train(store, out, **opts)


def _rows(path):
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


def _same_metrics(a, b):
    """Two metrics.csv with the same columns, rows, epochs and steps (values equal: same seed, same run)."""
    fa, ra = _rows(a)
    fb, rb = _rows(b)
    assert fa == fb
    assert [(r["epoch"], r["step"]) for r in ra] == [(r["epoch"], r["step"]) for r in rb]
    assert [r.get("val_loss") for r in ra] == [r.get("val_loss") for r in rb]


def test_default_is_the_csv_log_only(store, tmp_path):
    run = tmp_path / "run"
    _train(store, run)
    assert (run / "metrics.csv").is_file() and (run / "logs" / "metrics.csv").is_file()
    assert sorted(p.name for p in (run / "logs").iterdir()) == ["hparams.yaml", "metrics.csv"]
    fields, rows = _rows(run / "metrics.csv")
    assert {"epoch", "step", "val_loss", "train_loss_epoch"} <= set(fields)
    assert any(r["val_loss"] for r in rows)
    explicit = tmp_path / "explicit"
    _train(store, explicit, logger=["csv"])
    _same_metrics(run / "metrics.csv", explicit / "metrics.csv")


@pytest.mark.parametrize(
    ("logger", "match"),
    [
        ("neptune", r"logger must be a tracker name.*'neptune'.*accepted: 'csv', 'tensorboard', 'mlflow', 'wandb'"),
        (["csv", 3], r"logger must be a tracker name.*got 3"),
        (None, r"logger must be a tracker name, a Lightning logger or a sequence"),
    ],
)
def test_bad_logger_is_refused_before_anything_is_written(store, tmp_path, logger, match):
    with pytest.raises(GalvaeValueError, match=match):
        _train(store, tmp_path / "run", logger=logger)
    assert not (tmp_path / "run").exists()


def test_missing_tracker_package_names_what_to_install(store, tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "_importable", lambda module: False)
    with pytest.raises(GalvaeValueError, match=r"logger='wandb' needs the Python package 'wandb'.*pip install wandb"):
        check_logger("wandb")
    with pytest.raises(GalvaeValueError, match=r"pip install mlflow.*galvae\[tracking\].*accepted: 'csv'$"):
        _train(store, tmp_path / "run", logger="mlflow")
    assert not (tmp_path / "run").exists()
    assert check_logger("csv") == ()


def test_check_logger_normalises_names_and_keeps_instances(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    mine = CSVLogger(save_dir=tmp_path, name="mine")
    assert check_logger(["csv", "csv"]) == ()
    out = check_logger(["csv", mine])
    assert out == (mine,)
    assert make_trackers(mine, tmp_path) == [mine]
    assert set(LOGGERS) == {"csv", "tensorboard", "mlflow", "wandb"}


def test_cli_logger_option(store, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", str(store), "--out", str(run), "--latent-dim", "3", "--epochs", "1", "--batch-size", "8"]
    assert main([*argv, "--val-fraction", "0.25", "--accelerator", "cpu", "-q", "--logger", "csv"]) == 0
    assert "trained 1 epochs" in capsys.readouterr().out
    assert (run / "metrics.csv").is_file()
    with pytest.raises(SystemExit):
        main([*argv, "--logger", "neptune"])
    assert "invalid choice: 'neptune'" in capsys.readouterr().err


def test_tensorboard_logger_writes_events_and_leaves_the_csv_log_alone(store, tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install 'galvae[tracking]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    plain, tracked = tmp_path / "plain", tmp_path / "tb"
    _train(store, plain, epochs=2)
    res = _train(store, tracked, epochs=2, logger="tensorboard")
    _same_metrics(plain / "metrics.csv", tracked / "metrics.csv")
    events = list((tracked / "logs" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(events[0])).Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"val_loss", "best_val_loss", "global_step"} <= tags
    assert acc.Scalars("best_val_loss")[-1].value == pytest.approx(res.best_val_loss, rel=1e-6)
    hparams = (tracked / "logs" / "tensorboard" / "hparams.yaml").read_text()
    assert "batch_size: 8" in hparams and "latent_dim: 3" in hparams


@pytest.fixture
def mlflow_file_store(tmp_path, monkeypatch):
    """MLflow in local file mode under tmp_path (MLflow 3 refuses the file store unless allowed)."""
    mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'galvae[tracking]')")
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "galvae-test")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None, raising=False)
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def _mlflow_runs(client):
    exp = client.get_experiment_by_name("galvae-test")
    assert exp is not None
    return client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])


def test_mlflow_logger_records_params_history_and_final_metrics(store, tmp_path, mlflow_file_store):
    run = tmp_path / "run"
    res = _train(store, run, epochs=2, logger="mlflow")
    (mlrun,) = _mlflow_runs(mlflow_file_store)
    assert mlrun.info.run_name == "run" and mlrun.info.status == "FINISHED"
    params = mlrun.data.params
    assert params["train/epochs"] == "2" and params["train/batch_size"] == "8" and params["train/seed"] == "2"
    assert params["model_config/latent_dim"] == "3" and params["lr"] == "0.001"
    assert str(store.resolve()) in params["data/stores"]
    assert mlrun.data.tags["galvae_version"] == json.loads((run / "model.json").read_text())["galvae_version"]
    metrics = mlrun.data.metrics
    assert metrics["best_val_loss"] == pytest.approx(res.best_val_loss, rel=1e-6)
    assert metrics["epochs"] == 2 and metrics["global_step"] == res.global_step == 6
    history = mlflow_file_store.get_metric_history(mlrun.info.run_id, "val_loss")
    assert len(history) == 2
    _, rows = _rows(run / "metrics.csv")
    csv_val = [float(r["val_loss"]) for r in rows if r["val_loss"]]
    np.testing.assert_allclose([m.value for m in history], csv_val, rtol=1e-6)


def test_resume_with_mlflow_keeps_the_csv_log_whole(store, tmp_path, mlflow_file_store):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _train(store, straight, epochs=2)
    _train(store, resumed, epochs=1, logger="mlflow")
    _train(store, resumed, epochs=2, resume=True, logger="mlflow")
    _same_metrics(straight / "metrics.csv", resumed / "metrics.csv")
    first, second = _mlflow_runs(mlflow_file_store)  # a resumed run is a new MLflow run of the same name
    assert first.info.run_name == second.info.run_name == "resumed"
    assert first.data.metrics["global_step"] == 3 and second.data.metrics["global_step"] == 6


def test_mlflow_refusing_its_tracking_uri_is_one_galvae_error(store, tmp_path, mlflow_file_store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://tracking")
    with pytest.raises(GalvaeValueError, match=r"logger='mlflow' could not be set up: \w*(Exception|Error)"):
        _train(store, tmp_path / "run", logger="mlflow")
    assert not (tmp_path / "run" / "config.json").exists()


def test_wandb_logger_offline(store, tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="wandb is not installed (pip install 'galvae[tracking]')")
    for var, value in {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DIR": str(tmp_path / "wandb"),
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
        "WANDB_PROJECT": "galvae-test",
    }.items():
        monkeypatch.setenv(var, value)
    import wandb

    run = tmp_path / "run"
    _train(store, run, logger="wandb")
    assert wandb.run is None  # galvae finished the run it started
    offline = list((run / "logs" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(offline) == 1 and offline[0].stat().st_size > 0
    assert (run / "metrics.csv").is_file()
