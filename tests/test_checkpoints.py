"""Pre-emption and crashes: checkpoint validation and fallback, rotation, atomic writes, SIGTERM/SIGUSR1, exact resume.

Runs are tiny (16 px, 24 galaxies, 5 training batches of 4 per epoch, 2 epochs, num_workers 0 except in the
subprocess test).  Resumed weights are compared with an uninterrupted run of the same seed to within
4·eps32 of each tensor's scale (max |w|): the same float32 operations in the same order give identical
numbers on one machine; the margin only allows a kernel to sum in another order after a restart.  A
repeated or skipped batch moves the weights by ~1e-2 and fails it.
"""

from __future__ import annotations

import csv
import fractions
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from galvae import train
from galvae.cli import main
from galvae.config import StretchConfig
from galvae.data.store import write_store
from galvae.errors import GalvaeFileError, GalvaeInterruptedError, GalvaeValueError
from galvae.models.config import ModelConfig
from galvae.training import TrainConfig
from galvae.training.adapt import adapt
from galvae.training.checkpoints import (
    RotatingCheckpointIO,
    check_checkpoint,
    select_resume_checkpoint,
)
from galvae.training.config import AdaptConfig

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")

SMALL = ModelConfig(size=16, latent_dim=3, channels=(4, 8, 8))
OPTS = dict(batch_size=4, val_fraction=0.25, progress=False, accelerator="cpu", seed=5, model_config=SMALL)
ADAPT_OPTS = dict(batch_size=4, val_fraction=0.2, progress=False, accelerator="cpu", seed=3)
EPS32 = float(np.finfo(np.float32).eps)


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _assert_same_weights(a: Path, b: Path) -> None:
    sa, sb = _load(a)["state_dict"], _load(b)["state_dict"]
    assert sa.keys() == sb.keys()
    for k in sa:
        scale = max(float(sa[k].abs().max()), 1e-30)
        diff = float((sa[k].double() - sb[k].double()).abs().max())
        assert diff <= 4 * EPS32 * scale, (k, diff, scale)


def _images(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((n, 3, 16, 16), dtype=np.float32)


class BatchRecorder(L.Callback):
    """The sum of every training batch, in the order trained (identifies each batch)."""

    def __init__(self) -> None:
        self.sums: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        x = batch[0] if isinstance(batch, list | tuple) else batch
        self.sums.append(round(float(x.double().sum()), 6))


class RaiseSignal(L.Callback):
    """Send ``sig`` to this process at global step ``step``, after a training batch or a validation batch."""

    def __init__(self, step: int, sig: int = signal.SIGTERM, during: str = "training") -> None:
        self.step, self.sig, self.during = step, sig, during
        self.sent = False

    def _send(self, trainer) -> None:
        if self.sent or trainer.global_step != self.step:
            return
        # never signal the test process unless Lightning's (and galvae's) handler is in place
        assert signal.getsignal(self.sig) not in (signal.SIG_DFL, signal.SIG_IGN, None)
        self.sent = True
        signal.raise_signal(self.sig)

    def on_train_batch_end(self, trainer, *args):
        if self.during == "training":
            self._send(trainer)

    def on_validation_batch_end(self, trainer, *args):
        if self.during == "validation":
            self._send(trainer)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("stores")
    return Path(
        write_store(
            d / "s.h5",
            _images(24, 1),
            [f"g{i:02d}" for i in range(24)],
            survey="decals",
            normalisation=StretchConfig(kind="none"),
        )
    )


@pytest.fixture(scope="module")
def straight(store, tmp_path_factory):
    """An uninterrupted 2-epoch run (10 steps) and the batches it trained, in order."""
    rec = BatchRecorder()
    res = train(
        store, tmp_path_factory.mktemp("straight") / "run", epochs=2, trainer_kwargs={"callbacks": [rec]}, **OPTS
    )
    assert res.global_step == 10
    return res, rec.sums


def _val_losses(run: Path) -> dict[str, str]:
    with open(run / "metrics.csv", newline="") as fh:
        return {r["epoch"]: r["val_loss"] for r in csv.DictReader(fh) if r.get("val_loss")}


def _run(store: Path, run: Path) -> Path:
    """A 2-epoch run like ``straight`` of one's own (a copied run directory would make Lightning's
    ModelCheckpoint forget its best score: its state is tied to the checkpoint directory's path)."""
    train(store, run, epochs=2, **OPTS)
    return run


# --- validation of a checkpoint --------------------------------------------------------------------------------


def _damage(path: Path, kind: str, valid: Path) -> None:
    if kind == "truncated":
        data = valid.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "refused pickle":
        torch.save({"state_dict": {}, "note": fractions.Fraction(1, 3)}, path)
    elif kind == "no lightning keys":
        torch.save({"state_dict": _load(valid)["state_dict"]}, path)
    elif kind == "not a dict":
        torch.save([1, 2, 3], path)
    elif kind == "non-finite":
        ck = _load(valid)
        key = next(iter(ck["state_dict"]))
        ck["state_dict"][key] = torch.full_like(ck["state_dict"][key], float("nan"))
        torch.save(ck, path)
    else:
        raise AssertionError(kind)


_DAMAGE = {
    "truncated": r"not a readable PyTorch checkpoint \(truncated, damaged or not a torch file: (RuntimeError|OSError): ",
    "random": r"not a readable PyTorch checkpoint \(",
    "empty": r"empty file",
    "refused pickle": r"holds pickled objects \(fractions\.Fraction\) that torch\.load's weights_only loader refuses",
    "no lightning keys": r"a PyTorch file but not a Lightning training checkpoint: missing 'epoch', 'global_step', "
    r"'optimizer_states', 'loops'",
    "not a dict": r"a PyTorch file holding a list, not a Lightning checkpoint",
    "non-finite": r"holds non-finite weights \(model\.",
}


@pytest.mark.parametrize("kind", list(_DAMAGE))
def test_check_checkpoint_names_the_file_and_why(kind, straight, tmp_path):
    bad = tmp_path / "bad.ckpt"
    _damage(bad, kind, straight[0].last_checkpoint)
    with pytest.raises(GalvaeFileError, match=rf"^{re.escape(str(bad))}: {_DAMAGE[kind]}"):
        check_checkpoint(bad)


def test_check_checkpoint_refuses_another_models_weights(straight, tmp_path):
    from galvae.config import config_to_dict
    from galvae.training.module import VAEModule

    good = straight[0].last_checkpoint
    assert check_checkpoint(good)["global_step"] == 10
    other = VAEModule(config_to_dict(ModelConfig(size=16, latent_dim=5, channels=(4, 8, 8)))).state_dict()
    with pytest.raises(
        GalvaeFileError,
        match=r"weights of another model than this run's \(model\..* has shape "
        r"\(\d+, \d+\), the run's model \(\d+, \d+\)\)",
    ):
        check_checkpoint(good, expected=other)


# --- resume falls back past damaged checkpoints ----------------------------------------------------------------


def test_resume_falls_back_to_the_previous_rotation(store, straight, tmp_path, caplog):
    res, sums = straight
    run = _run(store, tmp_path / "run")
    ckdir = run / "checkpoints"
    assert _load(ckdir / "last.ckpt")["global_step"] == 10 and _load(ckdir / "last-1.ckpt")["global_step"] == 5
    _damage(ckdir / "last.ckpt", "truncated", res.last_checkpoint)
    rec = BatchRecorder()
    with caplog.at_level("WARNING", logger="galvae.training.checkpoints"):
        resumed = train(store, run, epochs=2, resume=True, trainer_kwargs={"callbacks": [rec]}, **OPTS)
    text = caplog.text
    assert f"skipped checkpoint {ckdir / 'last.ckpt'} (not a readable PyTorch checkpoint" in text
    assert "renamed it to last.ckpt.damaged" in text
    assert f"resuming from {ckdir / 'last-1.ckpt'}, the newest usable checkpoint (copied to last.ckpt)" in text
    assert (ckdir / "last.ckpt.damaged").is_file()
    assert resumed.global_step == 10 and rec.sums == sums[5:]  # epoch 1 trained again, from its first batch
    assert _load(ckdir / "last-1.ckpt")["global_step"] == 5  # the state resumed from, rotated, not deleted
    _assert_same_weights(res.last_checkpoint, ckdir / "last.ckpt")


def test_resume_falls_back_to_best_and_cli_errors_in_one_line_when_none_is_usable(
    store, straight, tmp_path, caplog, capsys
):
    res, _ = straight
    run = _run(store, tmp_path / "run")
    ckdir = run / "checkpoints"
    _damage(ckdir / "last.ckpt", "random", res.last_checkpoint)
    _damage(ckdir / "last-1.ckpt", "refused pickle", res.last_checkpoint)
    best_step = _load(ckdir / "best.ckpt")["global_step"]
    # nothing usable: one line naming every file and why, nothing renamed, no traceback
    saved_best = (ckdir / "best.ckpt").read_bytes()
    _damage(ckdir / "best.ckpt", "no lightning keys", res.last_checkpoint)
    argv = ["-q", "train", str(store), "--out", str(run), "--epochs", "2", "--resume", "--accelerator", "cpu"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith(
        f"galvae train: error: {ckdir / 'last.ckpt'}: cannot resume: no usable checkpoint in {ckdir} "
    )
    assert "last.ckpt: not a readable PyTorch checkpoint" in err
    assert "last-1.ckpt: holds pickled objects (fractions.Fraction)" in err
    assert "best.ckpt: a PyTorch file but not a Lightning training checkpoint: missing 'epoch'" in err
    assert sorted(p.name for p in ckdir.iterdir()) == ["best.ckpt", "last-1.ckpt", "last.ckpt"]
    with pytest.raises(GalvaeFileError, match="cannot resume: no usable checkpoint"):
        train(store, run, epochs=2, resume=True, **OPTS)
    # with best.ckpt intact, resume starts there (after warnings naming the two skipped files)
    (ckdir / "best.ckpt").write_bytes(saved_best)
    with caplog.at_level("WARNING", logger="galvae.training.checkpoints"):
        resumed = train(store, run, epochs=2, resume=True, **OPTS)
    assert caplog.text.count("skipped checkpoint") == 2 and f"resuming from {ckdir / 'best.ckpt'}" in caplog.text
    assert best_step in (5, 10) and resumed.global_step == 10
    _assert_same_weights(res.best_checkpoint, ckdir / "best.ckpt")
    _assert_same_weights(res.last_checkpoint, ckdir / "last.ckpt")


# --- rotation and atomic writes --------------------------------------------------------------------------------


def _fake_checkpoint(n: int) -> dict:
    return {
        "state_dict": {"w": torch.full((4,), float(n))},
        "epoch": n,
        "global_step": n,
        "optimizer_states": [],
        "loops": {},
    }


def test_rotation_keeps_the_newest_states(tmp_path):
    io = RotatingCheckpointIO(keep_last=3)
    for n in range(1, 5):
        io.save_checkpoint(_fake_checkpoint(n), tmp_path / "last.ckpt")
    io.save_checkpoint(_fake_checkpoint(9), tmp_path / "best.ckpt")  # other names are written, not rotated
    steps = {p.name: _load(p)["global_step"] for p in tmp_path.iterdir()}
    assert steps == {"last.ckpt": 4, "last-1.ckpt": 3, "last-2.ckpt": 2, "best.ckpt": 9}
    # fewer kept (keep_last lowered on a resume): the surplus rotation goes once a newer state is complete
    RotatingCheckpointIO(keep_last=2).save_checkpoint(_fake_checkpoint(5), tmp_path / "last.ckpt")
    steps = {p.name: _load(p)["global_step"] for p in tmp_path.iterdir()}
    assert steps == {"last.ckpt": 5, "last-1.ckpt": 4, "best.ckpt": 9}
    RotatingCheckpointIO(keep_last=1).save_checkpoint(_fake_checkpoint(6), tmp_path / "last.ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt", "last.ckpt"]
    assert _load(tmp_path / "last.ckpt")["global_step"] == 6
    with pytest.raises(GalvaeValueError, match=r"keep_last .* must be a positive integer \(got 0\)"):
        RotatingCheckpointIO(keep_last=0)


def test_keep_last_option(store, tmp_path):
    with pytest.raises(GalvaeValueError, match="keep_last"):
        TrainConfig(keep_last=0)
    with pytest.raises(GalvaeValueError, match="keep_last"):
        AdaptConfig(keep_last=True)
    run = tmp_path / "run"
    train(store, run, epochs=3, keep_last=3, **OPTS)
    steps = {p.name: _load(p)["global_step"] for p in (run / "checkpoints").glob("last*.ckpt")}
    assert steps == {"last.ckpt": 15, "last-1.ckpt": 10, "last-2.ckpt": 5}
    assert '"keep_last": 3' in (run / "config.json").read_text()


def test_sigkill_during_a_write_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "ck" / "last.ckpt"
    code = textwrap.dedent("""
        import os, signal, sys, torch
        from galvae.training.checkpoints import RotatingCheckpointIO

        def fake(n):
            return {"state_dict": {"w": torch.full((4,), float(n))}, "epoch": n, "global_step": n,
                    "optimizer_states": [], "loops": {}}

        io = RotatingCheckpointIO(keep_last=1)
        io.save_checkpoint(fake(1), sys.argv[1])

        def dying_save(obj, f, *args, **kwargs):  # half a zip archive reaches the disk, then the process dies
            f.write(b"PK\\x03\\x04" + bytes(50_000)); f.flush(); os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)

        torch.save = dying_save
        io.save_checkpoint(fake(2), sys.argv[1])
    """)
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    leftovers = [p for p in path.parent.iterdir() if p.name.startswith(".last.ckpt.tmp-")]
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 50_000
    with pytest.raises(GalvaeFileError, match="not a readable PyTorch checkpoint"):
        check_checkpoint(leftovers[0])  # what a write in place would have left under the final name
    assert _load(path)["global_step"] == 1
    assert select_resume_checkpoint(path.parent) == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]  # the stale temporary file is gone


# --- signals ---------------------------------------------------------------------------------------------------


def test_sigterm_mid_epoch_writes_a_checkpoint_and_resume_is_exact(store, straight, tmp_path):
    res, sums = straight
    run = tmp_path / "run"
    handlers = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGUSR1))
    rec = BatchRecorder()
    with pytest.raises(
        GalvaeInterruptedError,
        match=(
            rf"^{re.escape(str(run))}: training stopped by SIGTERM in epoch 1 after 2 of its 5 training batches "
            rf"\(global step 7\); checkpoint {re.escape(str(run / 'checkpoints' / 'last.ckpt'))} written; continue "
            r"with resume=True"
        ),
    ) as info:
        train(store, run, epochs=2, trainer_kwargs={"callbacks": [rec, RaiseSignal(7)]}, **OPTS)
    assert info.value.exit_status == 128 + signal.SIGTERM and info.value.signal_name == "SIGTERM"
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGUSR1)) == handlers  # put back
    ck = _load(run / "checkpoints" / "last.ckpt")
    assert ck["global_step"] == 7 and ck["epoch"] == 1
    assert ck["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 1, "batches": 2, "length": 5}]
    assert _load(run / "checkpoints" / "last-1.ckpt")["global_step"] == 5  # the end of epoch 0, rotated
    assert rec.sums == sums[:7]

    rec2 = BatchRecorder()
    resumed = train(store, run, epochs=2, resume=True, trainer_kwargs={"callbacks": [rec2]}, **OPTS)
    assert resumed.global_step == res.global_step == 10 and resumed.epochs == 2
    assert rec2.sums == sums[7:]  # the rest of epoch 1 and nothing else: no batch repeated or skipped
    _assert_same_weights(res.last_checkpoint, resumed.last_checkpoint)
    assert resumed.best_val_loss == res.best_val_loss
    assert _val_losses(run) == _val_losses(res.run_dir)  # the metrics of the first fit are kept


def test_sigusr1_during_validation_revalidates_that_epoch_on_resume(store, straight, tmp_path):
    res, sums = straight
    run = tmp_path / "run"
    with pytest.raises(
        GalvaeInterruptedError,
        match=r"stopped by SIGUSR1 in epoch 0 after 5 of its 5 training "
        r"batches \(global step 5\)",
    ) as info:
        train(
            store, run, epochs=2, trainer_kwargs={"callbacks": [RaiseSignal(5, signal.SIGUSR1, "validation")]}, **OPTS
        )
    assert info.value.exit_status == 128 + signal.SIGUSR1
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    progress = _load(run / "checkpoints" / "last.ckpt")["loops"]["fit_loop"]["epoch_loop.val_loop.batch_progress"]
    assert progress["current"] == {"ready": 1, "started": 1, "processed": 0, "completed": 0}
    rec = BatchRecorder()
    resumed = train(store, run, epochs=2, resume=True, trainer_kwargs={"callbacks": [rec]}, **OPTS)
    assert resumed.global_step == 10 and rec.sums == sums[5:]
    # epoch 0 was validated in full after the resume: same validation losses, same best checkpoint
    assert _val_losses(run) == _val_losses(res.run_dir) and set(_val_losses(run)) == {"0", "1"}
    assert resumed.best_val_loss == res.best_val_loss
    _assert_same_weights(res.best_checkpoint, resumed.best_checkpoint)
    _assert_same_weights(res.last_checkpoint, resumed.last_checkpoint)


def test_cli_sigterm_to_the_process_group_then_resume(store, tmp_path, capsys):
    """A real SIGTERM from outside, to the whole process group (a DataLoader worker included)."""
    run, mark = tmp_path / "run", tmp_path / "at_step_3"
    args = [
        "-q",
        "train",
        str(store),
        "--out",
        str(run),
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--val-fraction",
        "0.25",
        "--seed",
        "5",
        "--latent-dim",
        "3",
        "--accelerator",
        "cpu",
        "--keep-last",
        "3",
    ]
    script = textwrap.dedent(f"""
        import pathlib, sys, time
        import lightning as L
        import galvae.training.train
        module = sys.modules["galvae.training.train"]
        fit = module.fit_lightning

        class Marker(L.Callback):  # at step 3: tell the test, then wait for its signal
            def on_train_batch_end(self, trainer, *args):
                if trainer.global_step == 3:
                    pathlib.Path({str(mark)!r}).write_text("3")
                    t0 = time.monotonic()
                    while not trainer.received_sigterm and time.monotonic() - t0 < 120:
                        time.sleep(0.02)

        def with_marker(*a, trainer_kwargs=None, **k):
            return fit(*a, trainer_kwargs={{"callbacks": [Marker()]}}, **k)

        module.fit_lightning = with_marker
        from galvae.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args, "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        t0 = time.monotonic()
        while not mark.exists() and proc.poll() is None and time.monotonic() - t0 < 240:
            time.sleep(0.05)
        assert mark.exists(), proc.communicate(timeout=60)
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines() == [
        f"galvae train: {run}: training stopped by SIGTERM in epoch 0 after 3 of its 5 training batches (global step "
        f"3); checkpoint {run / 'checkpoints' / 'last.ckpt'} written; continue with resume=True (--resume)"
    ]
    assert out == ""
    assert _load(run / "checkpoints" / "last.ckpt")["global_step"] == 3
    assert '"keep_last": 3' in (run / "config.json").read_text()

    assert main([*args[:-2], "--resume"]) == 0  # --keep-last left out: the default 2 applies from now on
    assert "trained 2 epochs (10 steps)" in capsys.readouterr().out
    assert main([*args[:3], "--out", str(tmp_path / "straight"), *args[5:]]) == 0
    _assert_same_weights(tmp_path / "straight" / "checkpoints" / "last.ckpt", run / "checkpoints" / "last.ckpt")


# --- adapt: the same rules -------------------------------------------------------------------------------------


def test_adapt_sigterm_fallback_and_exact_resume(store, straight, tmp_path, caplog, capsys):
    target = write_store(
        tmp_path / "t.h5",
        _images(24, 2),
        [f"g{i:02d}" for i in range(24)],
        survey="bass_mzls",
        normalisation=StretchConfig(kind="none"),
    )
    base = straight[0].run_dir
    whole = adapt(base, store, target, tmp_path / "straight", epochs=2, **ADAPT_OPTS)
    assert whole.global_step == 10  # 19 training pairs: 5 batches of 4 per epoch
    out = tmp_path / "da"
    with pytest.raises(
        GalvaeInterruptedError,
        match=r"stopped by SIGTERM in epoch 1 after 3 of its 5 training "
        r"batches \(global step 8\)",
    ):
        adapt(base, store, target, out, epochs=2, trainer_kwargs={"callbacks": [RaiseSignal(8)]}, **ADAPT_OPTS)
    ckdir = out / "checkpoints"
    assert _load(ckdir / "last.ckpt")["global_step"] == 8 and _load(ckdir / "last-1.ckpt")["global_step"] == 5
    saved = (ckdir / "last.ckpt").read_bytes()
    _damage(ckdir / "last.ckpt", "no lightning keys", ckdir / "last-1.ckpt")
    _damage(ckdir / "last-1.ckpt", "truncated", ckdir / "last-1.ckpt")
    _damage(ckdir / "best.ckpt", "empty", ckdir / "best.ckpt")
    argv = [
        "-q",
        "adapt",
        str(base),
        str(store),
        str(target),
        "--out",
        str(out),
        "--epochs",
        "2",
        "--resume",
        "--accelerator",
        "cpu",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"galvae adapt: error: {ckdir / 'last.ckpt'}: cannot resume: no usable checkpoint")
    assert "last-1.ckpt: not a readable PyTorch checkpoint" in err and "best.ckpt: empty file" in err
    # the mid-epoch checkpoint back in place: the fine-tuning continues exactly there
    (ckdir / "last.ckpt").write_bytes(saved)
    with caplog.at_level("WARNING", logger="galvae.training.checkpoints"):
        res = adapt(base, store, target, out, epochs=2, resume=True, progress=False, accelerator="cpu")
    assert "skipped checkpoint" not in caplog.text
    assert res.global_step == 10 and res.epochs == 2
    _assert_same_weights(tmp_path / "straight" / "checkpoints" / "last.ckpt", ckdir / "last.ckpt")
