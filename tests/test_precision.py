"""``precision="auto"``: what it resolves to, and that train, adapt and sweep accept it."""

from __future__ import annotations

import json

import pytest
import torch

from galvae import demo, train
from galvae.cli import build_parser, main
from galvae.config import StretchConfig
from galvae.data.store import write_store
from galvae.errors import GalvaeValueError
from galvae.training import PRECISIONS, TrainConfig, resolve_precision
from galvae.training import precision as precision_mod
from galvae.training.config import AdaptConfig


@pytest.fixture
def cpu(monkeypatch):
    """Set whether the (monkeypatched) CPU has native bfloat16 and whether CUDA is there."""

    def _set(bf16: bool, cuda: bool = False) -> None:
        monkeypatch.setattr(precision_mod, "cpu_has_native_bf16", lambda cpuinfo="/proc/cpuinfo": bf16)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)

    return _set


def test_demo_uses_the_training_resolver():
    assert demo.resolve_precision is resolve_precision
    assert demo.PRECISIONS == PRECISIONS == ("auto", "32", "bf16-mixed", "16-mixed")


@pytest.mark.parametrize(
    ("bf16", "cuda", "accelerator", "expect"),
    [
        (True, False, "auto", "bf16-mixed"),
        (True, False, "cpu", "bf16-mixed"),
        (False, False, "auto", "32"),  # emulated bfloat16 is slower than fp32
        (False, False, "cpu", "32"),
        (True, True, "auto", "32"),  # auto picks the GPU, where galvae keeps fp32
        (True, True, "cpu", "bf16-mixed"),
        (True, False, "gpu", "32"),
        (True, False, "mps", "32"),
    ],
)
def test_auto(cpu, bf16, cuda, accelerator, expect):
    cpu(bf16, cuda)
    assert resolve_precision("auto", accelerator) == expect


@pytest.mark.parametrize("value", ["32", "bf16-mixed", "16-mixed"])
def test_explicit_values_are_kept(cpu, value):
    cpu(False)
    assert resolve_precision(value, "cpu") == value
    cpu(True)
    assert resolve_precision(value, "gpu") == value


def test_cpuinfo_flags(tmp_path):
    native = tmp_path / "native"
    native.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    amx = tmp_path / "amx"
    amx.write_text("flags\t\t: fpu avx512f amx_tile amx_bf16\n")
    plain = tmp_path / "plain"
    plain.write_text("flags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    assert precision_mod.cpu_has_native_bf16(native)
    assert precision_mod.cpu_has_native_bf16(amx)
    assert not precision_mod.cpu_has_native_bf16(plain)
    assert not precision_mod.cpu_has_native_bf16(tmp_path / "absent")
    assert resolve_precision("auto", "cpu", cpuinfo=native) == "bf16-mixed"
    assert resolve_precision("auto", "cpu", cpuinfo=plain) == "32"


@pytest.mark.parametrize("bad", ["fp8", "64", "", 32, None])
def test_invalid_value_names_the_parameter(bad):
    with pytest.raises(GalvaeValueError, match=r"^precision \(got .*\); accepted: 'auto', '32', 'bf16-mixed'"):
        resolve_precision(bad)


def test_configs_record_the_resolved_precision(cpu):
    cpu(True)
    assert TrainConfig(precision="auto", accelerator="cpu").precision == "bf16-mixed"
    assert AdaptConfig(precision="auto", accelerator="cpu").precision == "bf16-mixed"
    cpu(False)
    assert TrainConfig(precision="auto").precision == "32"
    assert TrainConfig().precision == "32"  # the Python default stays fp32 on every machine
    with pytest.raises(GalvaeValueError, match=r"precision \(got 'fp8'\)"):
        TrainConfig(precision="fp8")
    with pytest.raises(GalvaeValueError, match=r"precision \(got 'half'\)"):
        AdaptConfig(precision="half")


@pytest.mark.parametrize("command", ["train", "adapt", "sweep"])
def test_cli_default_and_choices(command):
    extra = {
        "train": ["s.h5", "--out", "r"],
        "adapt": ["r", "a.h5", "b.h5", "--out", "o"],
        "sweep": ["s.h5", "--out", "o"],
    }
    parser = build_parser()
    assert parser.parse_args([command, *extra[command]]).precision == "auto"
    assert parser.parse_args([command, *extra[command], "--precision", "32"]).precision == "32"
    with pytest.raises(SystemExit) as exc:
        parser.parse_args([command, *extra[command], "--precision", "fp8"])
    assert exc.value.code == 2


@pytest.fixture
def tiny_store(tmp_path, rng):
    images = rng.random((12, 3, 16, 16), dtype="float32") * 0.5
    return write_store(
        tmp_path / "tiny.h5", images, [f"t{i:02d}" for i in range(12)], survey="sim", normalisation=StretchConfig()
    )


def test_cli_train_accepts_auto(cpu, tiny_store, tmp_path):
    cpu(False)  # resolves to 32 whatever this machine is, so the run is the fp32 one
    run = tmp_path / "run"
    argv = ["-q", "train", str(tiny_store), "--out", str(run), "--latent-dim", "2", "--epochs", "1"]
    assert main([*argv, "--batch-size", "4", "--accelerator", "cpu", "--precision", "auto"]) == 0
    assert json.loads((run / "config.json").read_text())["train"]["precision"] == "32"


def test_train_api_rejects_a_bad_precision(tiny_store, tmp_path):
    with pytest.raises(GalvaeValueError, match=r"precision \(got 'bf16'\); accepted: 'auto'"):
        train(tiny_store, tmp_path / "bad", latent_dim=2, epochs=1, precision="bf16", progress=False)
