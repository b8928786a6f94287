"""Non-finite losses and gradients: skipped up to a limit, then a clear stop; never exported (galvae.training.guards)."""

from __future__ import annotations

import logging

import lightning as L
import numpy as np
import pytest
import torch

from galvae.cli import main
from galvae.config import StretchConfig
from galvae.data.store import write_store
from galvae.errors import GalvaeError, GalvaeValueError
from galvae.training import module as module_mod
from galvae.training.config import AdaptConfig, TrainConfig
from galvae.training.guards import NonFiniteGuard, check_finite_weights
from galvae.training.module import VAEModule
from galvae.training.train import train


@pytest.fixture
def store(tmp_path):
    images = np.random.default_rng(0).random((40, 3, 16, 16), dtype=np.float32)
    return write_store(
        tmp_path / "s.h5",
        images,
        [f"g{i:02d}" for i in range(40)],
        survey="sim",
        normalisation=StretchConfig(kind="none"),
    )


def _poison(monkeypatch, bad_steps):
    """Feed a NaN image into the training batches of the given global steps (as a bad loader would)."""
    original = module_mod.VAEModule.training_step

    def step(self, batch, batch_idx):
        if self.trainer.global_step in bad_steps:
            batch = batch.clone()
            batch[0, 0, 0, 0] = float("nan")
        return original(self, batch, batch_idx)

    monkeypatch.setattr(module_mod.VAEModule, "training_step", step)


def _train(store, out, **kw):
    opts = dict(latent_dim=3, epochs=2, batch_size=8, val_fraction=0.2, progress=False, accelerator="cpu", seed=1)
    opts.update(kw)
    return train(store, out, **opts)


def test_nan_batch_is_skipped_and_training_finishes_finite(store, tmp_path, monkeypatch, caplog):
    _poison(monkeypatch, {1, 5})
    with caplog.at_level(logging.WARNING, logger="galvae.training.guards"):
        res = _train(store, tmp_path / "run")
    warnings = [r.getMessage() for r in caplog.records if r.name == "galvae.training.guards"]
    assert len(warnings) == 2 and all("batch skipped" in w for w in warnings), warnings
    assert "non-finite loss in epoch 0, batch 1" in warnings[0] and "2 of at most 10" in warnings[1]
    assert np.isfinite(res.best_val_loss)
    for path in (res.best_checkpoint, res.last_checkpoint):
        ck = torch.load(path, map_location="cpu", weights_only=True)
        assert all(torch.isfinite(v).all() for v in ck["state_dict"].values() if v.is_floating_point())
        assert ck["callbacks"]["NonFiniteGuard"] == {"skipped": 2}  # the count survives --resume
    from safetensors.torch import load_file

    assert all(torch.isfinite(v).all() for v in load_file(tmp_path / "run" / "model.safetensors").values())


def test_skipped_batch_leaves_weights_and_optimiser_untouched(store, tmp_path, monkeypatch):
    """A run whose only steps are poisoned ends with its initial weights: no step was taken."""
    _poison(monkeypatch, set(range(100)))
    res = _train(store, tmp_path / "run", epochs=1, max_nonfinite_batches=100)
    ck = torch.load(res.last_checkpoint, map_location="cpu", weights_only=True)
    assert all(not s for s in ck["optimizer_states"][0]["state"].values())  # Adam never stepped
    L.seed_everything(1, workers=True, verbose=False)  # train's seed, before the module is built
    fresh = VAEModule(ck["hyper_parameters"]["model_config"])
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, ck["state_dict"][k]), k


def test_more_than_the_limit_stops_with_one_line(store, tmp_path, monkeypatch, capsys):
    _poison(monkeypatch, {0, 1, 2})
    with pytest.raises(
        GalvaeError,
        match=r"training stopped: 3 batches had a non-finite loss or gradient "
        r"\(limit max_nonfinite_batches / --max-nonfinite-batches = 2\)",
    ):
        _train(store, tmp_path / "run", max_nonfinite_batches=2)
    rc = main(
        [
            "train",
            str(store),
            "--out",
            str(tmp_path / "cli"),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--latent-dim",
            "3",
            "--accelerator",
            "cpu",
            "-q",
            "--max-nonfinite-batches",
            "0",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    line = [ln for ln in err.splitlines() if ln.startswith("galvae train: error:")]
    assert len(line) == 1 and "limit max_nonfinite_batches / --max-nonfinite-batches = 0" in line[0]
    assert "Traceback" not in err
    assert not (tmp_path / "cli" / "model.safetensors").exists()


def test_nonfinite_gradient_is_skipped():
    """A finite loss with a NaN gradient (e.g. from a custom op) is skipped too."""
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    before = [p.detach().clone() for p in net.parameters()]
    for p in net.parameters():
        p.grad = torch.full_like(p, float("nan"))

    class _Trainer:
        current_epoch = 0

    guard = NonFiniteGuard(max_nonfinite_batches=1)
    guard.on_train_batch_start(_Trainer(), net, None, 0)
    guard.on_before_backward(_Trainer(), net, torch.tensor(1.0))
    guard.on_before_optimizer_step(_Trainer(), net, opt)
    opt.step()
    assert guard.skipped == 1 and all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    with torch.no_grad():
        net.weight[0, 0] = float("inf")
    with pytest.raises(GalvaeError, match="weight weight became non-finite"):
        guard.on_train_batch_end(_Trainer(), net, None, None, 3)


def test_export_refuses_nonfinite_weights(tmp_path):
    state = {"a": torch.zeros(2), "b": torch.tensor([1.0, float("nan")]), "n": torch.tensor([3])}
    with pytest.raises(
        GalvaeValueError,
        match=r"best\.ckpt holds non-finite weights \(b, \.\.\.\); nothing was "
        r"exported; lower",
    ):
        check_finite_weights(state, tmp_path / "best.ckpt", "lower the learning rate")
    check_finite_weights({"a": torch.zeros(2)}, "x", "")


@pytest.mark.parametrize("cls", [TrainConfig, AdaptConfig])
@pytest.mark.parametrize("value", [-1, 1.5, True, "3"])
def test_bad_limit(cls, value):
    with pytest.raises(GalvaeValueError, match="max_nonfinite_batches must be a non-negative integer"):
        cls(max_nonfinite_batches=value)
