"""Distributed (DDP) training on two CPU processes (gloo): galvae.training.distributed.

The two-process runs are started the ways users start them: SLURM's ``srun``
(two processes with SLURM's environment, as srun sets it, and a stand-in
``scontrol`` on PATH) and ``galvae train/adapt --devices 2 --strategy ddp``
(Lightning starts the second process).  They are compared with runs of the
same configuration in this process: DDP on one process, which the two-process
run must follow up to floating-point rounding (same global batches, same
noise: only the sums are split differently), and the plain single-process
run (which draws its noise differently), whose loss it must follow as closely
as another noise realisation does.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import galvae
from galvae import train
from galvae.config import StretchConfig
from galvae.data.store import ImageStore, write_store
from galvae.errors import GalvaeValueError
from galvae.training.adapt import adapt
from galvae.training.config import TrainConfig, check_parallel
from galvae.training.datamodule import EpochSeededSampler, ShardSampler, process_share
from galvae.training.distributed import lightning_strategy, slurm_job_id
from galvae.training.module import active_units, distributed_active_units

N, SIZE, NL = 64, 16, 4
EPOCHS, BATCH, STEPS = 4, 4, 14  # 56 training images, 8 validation: 14 global batches of 4 (2 per process)
COMMON = dict(latent_dim=NL, batch_size=BATCH, val_fraction=0.125, seed=5, precision="32", accelerator="cpu")


def _blobs(n: int, size: int, seed: int) -> np.ndarray:
    """Gaussian blobs of random size, elongation and angle, with noise (learnable in a few epochs)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    out = np.empty((n, 3, size, size), np.float32)
    for i in range(n):
        q, th, r = rng.uniform(0.3, 1.0), rng.uniform(0, np.pi), size / 6 * rng.uniform(0.7, 1.3)
        xr, yr = x * np.cos(th) + y * np.sin(th), -x * np.sin(th) + y * np.cos(th)
        g = np.exp(-0.5 * ((xr / r) ** 2 + (yr / (r * q)) ** 2))
        out[i] = g[None] * np.array([0.5, 0.7, 0.9])[:, None, None]
    return np.clip(out + rng.normal(0, 0.02, out.shape), 0, 1).astype(np.float32)


@contextlib.contextmanager
def _one_process_ddp():
    """Lightning's DDP on this process alone (gloo, world size 1); the environment and process group undone after."""
    saved = dict(os.environ)
    os.environ["MASTER_PORT"] = str(_free_port())
    try:
        yield
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    """Two stores of the same 64 galaxies (two 'surveys'); a single-process run and a one-process DDP run."""
    root = tmp_path_factory.mktemp("ddp")
    images = _blobs(N, SIZE, seed=1)
    ids = [f"g{i:03d}" for i in range(N)]
    norm = StretchConfig(kind="none")
    src = write_store(root / "a.h5", images, ids, survey="surveya", normalisation=norm)
    noisy = np.clip(images + np.random.default_rng(2).normal(0, 0.03, images.shape), 0, 1).astype(np.float32)
    tgt = write_store(root / "b.h5", noisy, ids, survey="surveyb", normalisation=norm)
    single = train(src, root / "single", epochs=EPOCHS, progress=False, **COMMON)
    with _one_process_ddp():
        ddp1 = train(src, root / "ddp1", epochs=EPOCHS, progress=False, strategy="ddp", **COMMON)
    return root, Path(src), Path(tgt), single, ddp1


def _env(**extra: str) -> dict[str, str]:
    """The test's environment without any launcher's variables, one thread per process, warnings shown."""
    drop = ("SLURM_", "PL_", "RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_", "NODE_RANK", "GROUP_RANK", "TORCHELASTIC")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(OMP_NUM_THREADS="1", PYTHONWARNINGS="default", **extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _galvae(*args: str) -> list[str]:
    return [sys.executable, "-m", "galvae", "-q", *args]


def _rows(run: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))


def _per_epoch(run: Path, key: str) -> list[float]:
    """One value of ``key`` per epoch (each epoch logged once, also across a resume)."""
    values = {int(r["epoch"]): float(r[key]) for r in _rows(run) if r.get(key)}
    epochs = [int(r["epoch"]) for r in _rows(run) if r.get(key)]
    assert len(epochs) == len(set(epochs)), f"{key} logged twice for an epoch: {epochs}"
    return [values[e] for e in sorted(values)]


def _no_warnings(text: str) -> None:
    assert "Warning" not in text, text[-3000:]


# --- how the data are shared out ---------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "batch", "world"), [(23, 8, 2), (23, 8, 4), (5, 4, 4), (16, 4, 2)])
def test_each_process_takes_its_slice_of_every_global_batch(n, batch, world):
    one = EpochSeededSampler(n, seed=3)
    shares = [EpochSeededSampler(n, seed=3, batch_size=batch, rank=r, world_size=world) for r in range(world)]
    for epoch in (0, 1):
        for s in (one, *shares):
            s.set_epoch(epoch)
        order = list(one)
        lists = [list(s) for s in shares]
        assert {len(x) for x in lists} == {len(shares[0])}  # the same number of steps on every process
        per = batch // world
        for k, start in enumerate(range(0, n, batch)):
            global_batch = order[start : start + batch]
            got = [i for x in lists for i in x[k * per : (k + 1) * per]]
            # the one-process batch k, the last one padded by fewer than `world` repeats from the epoch's start
            assert got[: len(global_batch)] == global_batch
            assert len(got) - len(global_batch) < world and set(got) - set(global_batch) <= set(order[:world])
    # one process: the plain permutation, as before distributed training existed
    assert list(EpochSeededSampler(n, seed=3, batch_size=batch, rank=0, world_size=1)) == list(EpochSeededSampler(n, 3))


def test_validation_shards_partition_the_set():
    shards = [list(ShardSampler(11, r, 3)) for r in range(3)]
    assert shards == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
    with pytest.raises(GalvaeValueError, match="validation set has 2 images, fewer than the 3 processes"):
        ShardSampler(2, 0, 3)
    assert process_share(range(5), 4, 1, 2) == [2, 3, 0]  # last batch [4] padded with 0: rank 0 takes 4, rank 1 0


def test_active_units_over_processes_equal_the_pooled_count():
    scale = torch.tensor([0.01, 0.03, 0.3, 1, 2, 0.05])
    mu = torch.randn(50, 6, generator=torch.Generator().manual_seed(0)) * scale
    assert distributed_active_units(mu, lambda t: t) == active_units(mu) == 3  # variances ~0.09, 1, 4 > 0.01
    # two processes holding 20 and 30 of the galaxies: the all-reduce sums their moments
    other: list[torch.Tensor] = []
    distributed_active_units(mu[20:], lambda t: other.append(t) or t)
    assert distributed_active_units(mu[:20], lambda t: t + other[0]) == 3


# --- options -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategy": "dp"}, r"strategy \(--strategy\) not recognised \(got 'dp'\); accepted: .*ddp_spawn"),
        ({"devices": 2, "batch_size": 7}, r"global batch, split evenly over the 2 processes.*multiple of 2.*got 7"),
        ({"devices": 2, "num_nodes": 2, "batch_size": 6}, r"4 processes.*multiple of 4"),
        ({"num_nodes": 0}, r"num_nodes \(--num-nodes\) must be a positive integer \(got 0\)"),
        ({"devices": "two"}, r"devices \(--devices\) not recognised \(got 'two'\)"),
        ({"devices": 0}, r"devices \(--devices\) must be a positive number"),
    ],
)
def test_bad_parallel_options(kwargs, match):
    with pytest.raises(GalvaeValueError, match=match):
        TrainConfig(**kwargs)


def test_parallel_options_resolve():
    assert check_parallel("auto", 2, 3, 12) == 6 and check_parallel("ddp", "0,1", 1) == 2
    assert check_parallel("auto", "auto", 1) is None
    assert lightning_strategy("auto", 1, 1) == "auto" and lightning_strategy("auto", "2", 1) == "ddp"
    assert lightning_strategy("auto", 1, 2) == "ddp" and lightning_strategy("ddp_spawn", 2, 1) == "ddp_spawn"
    assert slurm_job_id({"SLURM_JOB_ID": "77"}) == "77"
    assert slurm_job_id({"SLURM_JOB_ID": "78", "SLURM_ARRAY_JOB_ID": "70", "SLURM_ARRAY_TASK_ID": "3"}) == "70_3"
    assert slurm_job_id({}) is None


# --- two processes -----------------------------------------------------------------------------------------


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


def _close_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], rtol: float, steps: int) -> None:
    """Every tensor of ``a`` equals ``b``'s up to floating-point rounding, as Adam propagates it.

    Two processes sum a batch's gradients in another order than one, and the rounding depends on the thread
    count too. Adam divides each gradient component by its running RMS, so where a component is near zero a
    rounding difference can change that parameter's step by up to ~lr. Allowed: ``rtol`` of the tensor's
    largest value plus 1 % of the largest drift Adam can make (lr = 1e-3 per step). Measured: 1.2e-5 with one
    thread per process, 3.6e-6 with two; a data share, gradient average or noise slice that differed moves
    weights by O(lr) per step, 100 times more.
    """
    assert a.keys() == b.keys()
    adam_drift = 0.01 * 1e-3 * steps
    for k in a:
        scale = float(b[k].abs().max()) or 1.0
        assert float((a[k] - b[k]).abs().max()) <= rtol * scale + adam_drift, k


def test_ddp_training_under_slurm_requeue_and_resume_match_one_process(bed, tmp_path):
    """Two processes as SLURM's srun starts them; SIGUSR1 stops both at the same batch with last.ckpt and
    requeues the job; ``galvae train --resume --devices 2 --strategy ddp`` finishes the run.  The run directory,
    split and steps are those of the single-process run, the weights and losses those of DDP on one process up
    to rounding, the loss falls as in the single-process run, and the exported model loads and encodes."""
    root, src, _, single, ddp1 = bed
    run = tmp_path / "run"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    calls = tmp_path / "scontrol.log"
    (fake_bin / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (fake_bin / "scontrol").chmod(0o755)
    args = ["train", str(src), "--out", str(run), "--latent-dim", str(NL), "--epochs", str(EPOCHS)]
    args += ["--batch-size", str(BATCH), "--val-fraction", "0.125", "--seed", "5", "--precision", "32"]
    args += ["--accelerator", "cpu", "--devices", "2", "--num-nodes", "1"]
    port = str(_free_port())
    procs = []
    for rank in (0, 1):
        env = _env(
            PATH=f"{fake_bin}{os.pathsep}{os.environ['PATH']}",
            SLURM_JOB_ID="4242",
            SLURM_JOB_NAME="galvae-ddp-test",
            SLURM_NTASKS="2",
            SLURM_NTASKS_PER_NODE="2",
            SLURM_NNODES="1",
            SLURM_NODELIST="127.0.0.1",
            SLURM_PROCID=str(rank),
            SLURM_LOCALID=str(rank),
            SLURM_NODEID="0",
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
        )
        procs.append(
            subprocess.Popen(_galvae(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoints" / "last.ckpt").exists():  # epoch 0 done: both are in the training loop
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [
                p.communicate() for p in procs
            ]
            time.sleep(0.02)
        for p in procs:  # as SLURM's --signal=USR1@120 does: every task gets it
            p.send_signal(signal.SIGUSR1)
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [128 + signal.SIGUSR1] * 2, outs
    assert "training stopped by SIGUSR1" in outs[0][1] and "SLURM job 4242 requeued" in outs[0][1], outs[0][1]
    assert outs[1][1].strip() == ""  # only rank 0 reports
    for out in outs:
        _no_warnings(out[1])
    assert calls.read_text().split() == ["requeue", "4242"]  # once, by rank 0, after the checkpoint
    stopped = torch.load(run / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert STEPS <= stopped["global_step"] < EPOCHS * STEPS
    assert not (run / "model.json").exists()
    assert json.loads((run / "split.json").read_text()) == json.loads((single.run_dir / "split.json").read_text())
    config = json.loads((run / "config.json").read_text())["train"]
    assert (config["devices"], config["strategy"], config["num_nodes"], config["batch_size"]) == (2, "auto", 1, BATCH)

    # the requeued job: the same command with --resume (examples/slurm/train.sbatch adds it), here started by Lightning
    done = subprocess.run(
        _galvae(*args, "--resume", "--strategy", "ddp"), env=_env(), capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    _no_warnings(done.stderr)
    assert done.stdout.count(f"trained {EPOCHS} epochs ({EPOCHS * STEPS} steps)") == 1, done.stdout  # rank 0 only
    assert single.global_step == ddp1.global_step == EPOCHS * STEPS  # the batch is global: steps do not depend on P

    # DDP on two processes, interrupted and resumed, is DDP on one process up to rounding (measured: 3.6e-6 of the
    # largest weight, 1e-6 on the losses; see _close_weights); a data share, gradient average or noise slice that differed would not be
    _close_weights(_weights(run), _weights(ddp1.run_dir), rtol=1e-4, steps=EPOCHS * STEPS)
    for key in ("val_loss", "val_recon", "val_kl", "val_active_units", "train_loss_epoch"):
        two, one = _per_epoch(run, key), _per_epoch(ddp1.run_dir, key)
        if key == "train_loss_epoch":  # the interrupted epoch's mean holds only the batches after the resume
            del two[stopped["epoch"]], one[stopped["epoch"]]
        np.testing.assert_allclose(two, one, rtol=1e-4, err_msg=key)

    # and its loss falls as the single-process run's, which draws other noise.  Measured on this bed (2026-12-04):
    # training loss per epoch 40.3k -> 7.3k in one process, 43.2k -> 9.5k on two; best validation loss 6.9k and
    # 8.7k: ratios 1.07-1.29.  Twice the learning rate (gradients summed instead of averaged) or half the data
    # per step would move them further than the factor 1.5 allowed.
    one, two = _per_epoch(single.run_dir, "val_loss"), _per_epoch(run, "val_loss")
    t_one, t_two = _per_epoch(single.run_dir, "train_loss_epoch"), _per_epoch(run, "train_loss_epoch")
    assert len(one) == len(two) == len(t_two) == EPOCHS
    assert t_two[-1] < 0.5 * t_two[0] and t_one[-1] < 0.5 * t_one[0], (t_one, t_two)
    for a, b in ((t_two[0], t_one[0]), (t_two[-1], t_one[-1]), (min(two), min(one))):
        assert 1 / 1.5 < a / b < 1.5, (t_one, t_two, one, two)

    # the exported model loads and encodes
    vae = galvae.GalaxyVAE.load(run)
    with ImageStore(src) as st:
        x = st.read(np.arange(len(st)))
    mu = np.asarray(vae.encode(x))
    assert mu.shape == (N, NL) and np.isfinite(mu).all()
    model = json.loads((run / "model.json").read_text())
    assert model["training"]["global_step"] == EPOCHS * STEPS and model["training"]["epochs"] == EPOCHS


def test_ddp_adaptation_matches_one_process(bed, tmp_path):
    """``galvae adapt --devices 2 --strategy ddp``: MMD² on the gathered global batch; the one-process DDP run's
    split, steps, losses and weights up to rounding; both decoders exported."""
    root, src, tgt, single, _ = bed
    # 64 pairs: 16 validation, 48 training = 6 global batches of 8 (4 pairs per process): no padding
    opts = dict(
        epochs=2, batch_size=8, lam=5.0, val_fraction=0.25, seed=1, precision="32", accelerator="cpu", decoder_epochs=1
    )
    with _one_process_ddp():
        one = adapt(single.run_dir, src, tgt, tmp_path / "one", strategy="ddp", progress=False, **opts)
    out = tmp_path / "two"
    args = ["adapt", str(single.run_dir), str(src), str(tgt), "--out", str(out), "--epochs", "2", "--batch-size", "8"]
    args += ["--lambda", "5", "--val-fraction", "0.25", "--seed", "1", "--precision", "32", "--accelerator", "cpu"]
    args += ["--decoder-epochs", "1"]  # the decoder-only phase, a second fit under the same launcher
    done = subprocess.run(
        _galvae(*args, "--devices", "2", "--strategy", "ddp"), env=_env(), capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    _no_warnings(done.stderr)
    assert done.stdout.count("adapted 2 epochs (12 steps)") == 1, done.stdout
    for name in ("split.json", "matching.json"):
        assert json.loads((out / name).read_text()) == json.loads((one.run_dir / name).read_text())
    assert json.loads((out / "model.json").read_text())["training"]["global_step"] == one.global_step == 12
    # val_pair_ratio: every process computes it on the validation latents gathered from all of them
    for key in ("train_loss_epoch", "train_mmd2", "val_loss", "val_mmd2", "val_vae_target", "val_pair_ratio"):
        np.testing.assert_allclose(_per_epoch(out, key), _per_epoch(one.run_dir, key), rtol=1e-4, err_msg=key)
    dec_two, dec_one = out / "decoders", one.run_dir / "decoders"
    np.testing.assert_allclose(_per_epoch(dec_two, "val_loss"), _per_epoch(dec_one, "val_loss"), rtol=1e-4)
    _close_weights(_weights(out), _weights(one.run_dir), rtol=1e-4, steps=12)
    vae = galvae.GalaxyVAE.load(out / "model_surveyb.json")
    with ImageStore(tgt) as st:
        assert np.isfinite(np.asarray(vae.encode(st.read(np.arange(8))))).all()
