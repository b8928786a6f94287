"""Command-line options derived from the config dataclasses (galvae.cli._options)."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from typing import Literal

import pytest

from galvae.cli import build_parser
from galvae.cli._options import add_config_option, add_later
from galvae.models.config import ACTIVATIONS, LOSSES, ModelConfig
from galvae.training.config import AdaptConfig, TrainConfig

#: The minimal arguments of each command, and the config fields its options must mirror.
_HARDWARE = {"accelerator", "strategy", "num_nodes", "num_workers", "max_nonfinite_batches", "keep_last"}
COMMANDS = {
    "train": (
        ["s.h5", "--out", "run"],
        {
            "latent_dim",
            "loss",
            "kl_weight",
            "activation",
            "kl_warmup_epochs",
            "epochs",
            "batch_size",
            "lr",
            "seed",
            "val_fraction",
            "early_stopping",
        }
        | _HARDWARE,
    ),
    "adapt": (
        ["run", "a.h5", "b.h5", "--out", "run_da"],
        {
            "lam",
            "mmd_on",
            "pair_weight",
            "epochs",
            "batch_size",
            "lr",
            "seed",
            "val_fraction",
            "test_fraction",
            "monitor",
            "early_stopping",
            "decoder_epochs",
            "export",
        }
        | _HARDWARE,
    ),
    "sweep": (["s.h5", "--out", "sweep"], {"epochs", "batch_size", "lr", "seed", "val_fraction", "accelerator"}),
    "simulate": (
        ["out"],
        {"n_galaxies", "overlap", "size", "seed", "fov_arcsec", "profile", "field_fraction", "defect_fraction"},
    ),
}


def _sub(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = action.choices[command]
    sub.format_usage()  # its options are added on first use
    return sub


@pytest.mark.parametrize("command", COMMANDS)
def test_parser_defaults_are_the_dataclass_defaults(command):
    argv, fields = COMMANDS[command]
    parser = build_parser()
    args = parser.parse_args([command, *argv])
    derived = [a for a in _sub(parser, command)._actions if hasattr(a, "config_field")]
    assert {a.config_field[1] for a in derived} == fields  # each of these options comes from its field
    for action in derived:
        config, name = action.config_field
        expected = getattr(config(), name)
        assert getattr(args, action.dest) == expected and type(getattr(args, action.dest)) is type(expected), (
            command,
            action.dest,
        )


def test_train_defaults_are_those_of_model_and_train_config():
    parser = build_parser()
    train = {a.config_field[1]: a.config_field[0] for a in _sub(parser, "train")._actions if hasattr(a, "config_field")}
    assert train["latent_dim"] is ModelConfig and train["loss"] is ModelConfig and train["epochs"] is TrainConfig
    adapt = {a.config_field[1]: a.config_field[0] for a in _sub(parser, "adapt")._actions if hasattr(a, "config_field")}
    assert all(config is AdaptConfig for config in adapt.values())
    args = parser.parse_args(["adapt", *COMMANDS["adapt"][0]])
    assert (args.lam, args.epochs, args.batch_size, args.val_fraction) == (0.5, 20, 32, 0.2)  # AdaptConfig's
    args = parser.parse_args(["train", *COMMANDS["train"][0]])
    assert (args.latent_dim, args.epochs, args.batch_size, args.val_fraction) == (40, 10, 64, 0.1)


def test_choices_come_from_the_literal_annotations():
    parser = build_parser()
    train = {a.dest: a for a in _sub(parser, "train")._actions}
    assert train["loss"].choices == LOSSES and train["activation"].choices == ACTIVATIONS
    adapt = {a.dest: a for a in _sub(parser, "adapt")._actions}
    assert adapt["mmd_on"].choices == ("mu", "z") and adapt["export"].choices == ("last", "best")


@pytest.mark.parametrize(
    ("command", "option", "bad"),
    [
        ("train", "--loss", "huber"),
        ("train", "--activation", "gelu"),
        ("adapt", "--mmd-on", "x"),
        ("adapt", "--export", "first"),
        ("simulate", "--profile", "sdss"),
    ],
)
def test_a_bad_choice_is_argparses_error(command, option, bad, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, *COMMANDS[command][0], option, bad])
    assert exc.value.code == 2
    assert f"argument {option}: invalid choice: '{bad}'" in capsys.readouterr().err


def test_values_are_converted_to_the_field_type():
    args = build_parser().parse_args(["train", "s.h5", "--out", "r", "--latent-dim", "7", "--lr", "2e-4"])
    assert args.latent_dim == 7 and type(args.latent_dim) is int
    assert args.lr == 2e-4 and type(args.lr) is float
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "s.h5", "--out", "r", "--epochs", "1.5"])


def test_help_shows_the_defaults_in_the_order_given():
    text = _sub(build_parser(), "train").format_help()
    assert "latent dimension NL (default 40)" in text
    assert "Adam learning rate (default 0.001, the paper's)" in text
    assert "reconstruction loss (default mse)" in text
    assert "stop after PATIENCE epochs without a better validation" in text and "(default None)" not in text
    # -v/-q/--debug, added to every command after registration, still come last
    assert text.index("--latent-dim") < text.index("--keep-last") < text.index("--logger") < text.index("--debug")
    text = _sub(build_parser(), "adapt").format_help()
    assert "fine-tuning epochs (default 20)" in text


def test_building_the_parser_does_not_import_torch():
    code = "import sys; from galvae.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@dataclasses.dataclass(frozen=True)
class _Toy:
    count: int = 3
    rate: float = 0.5
    mode: Literal["a", "b"] = "a"
    colour: str = dataclasses.field(default="red", metadata={"choices": ("red", "blue")})
    patience: int | None = None
    pair: tuple[int, int] = (1, 2)
    required: int = dataclasses.field(default_factory=int)


def test_add_config_option_on_a_toy_dataclass():
    p = argparse.ArgumentParser()
    a = add_config_option(p, _Toy, "count", help="how many")
    add_config_option(p, _Toy, "rate", "-r", "--rate", help="rate %(default)s here")
    add_config_option(p, _Toy, "mode", help="mode")
    add_config_option(p, _Toy, "colour", help="colour")
    add_config_option(p, _Toy, "patience", metavar="P", help="patience")
    assert a.config_field == (_Toy, "count") and a.type is int and a.help == "how many (default %(default)s)"
    args = p.parse_args([])
    assert (args.count, args.rate, args.mode, args.colour, args.patience) == (3, 0.5, "a", "red", None)
    args = p.parse_args(["--count", "4", "-r", "0.25", "--mode", "b", "--colour", "blue", "--patience", "2"])
    assert (args.count, args.rate, args.mode, args.colour, args.patience) == (4, 0.25, "b", "blue", 2)
    assert "rate 0.5 here" in p.format_help() and "(default 0.5)" not in p.format_help()
    with pytest.raises(SystemExit):
        p.parse_args(["--colour", "green"])
    with pytest.raises(TypeError, match="no command-line type"):
        add_config_option(p, _Toy, "pair", help="pair")
    with pytest.raises(TypeError, match="has no default"):
        add_config_option(p, _Toy, "required", help="x")
    with pytest.raises(TypeError, match="has no field 'nope'"):
        add_config_option(p, _Toy, "nope", help="x")


def test_add_later_waits_for_first_use():
    calls = []

    def add(p):
        calls.append(1)
        p.add_argument("--late", default=1, type=int)

    p = argparse.ArgumentParser(prog="x")
    add_later(p, add)
    p.add_argument("--after", default=2, type=int)  # queued behind the pending add
    assert calls == []
    assert p.parse_args([]).late == 1 and calls == [1]
    assert p.parse_args(["--late", "5"]).late == 5 and calls == [1]  # added once
    assert p.format_help().index("--late") < p.format_help().index("--after")
    q = argparse.ArgumentParser(prog="y")
    add_later(q, add)
    assert "--late" in q.format_usage() and calls == [1, 1]


def test_demo_help_shows_the_demo_config_and_quick_defaults():
    from galvae.demo import QUICK, DemoConfig

    text = " ".join(_sub(build_parser(), "demo").format_help().split())
    full = DemoConfig()
    assert f"VAE training epochs (default {full.epochs}; quick {QUICK.epochs})" in text
    assert (
        f"(default {full.profile}; quick {QUICK.profile})" in text
        and f"MMD² weight of eq. 6 (default {full.lam})" in text
    )
    assert f"(a Laplace decoder); main model, sweep and adaptation (default {full.loss}" in text
    args = build_parser().parse_args(["demo"])
    assert args.epochs is None and args.profile is None  # unset options leave DemoConfig's value alone
    assert build_parser().parse_args(["demo", "--loss", "mae"]).loss == "mae"
    assert f"learning rate of the adaptation and its control (default {full.adapt_lr})" in text
    assert build_parser().parse_args(["demo", "--adapt-lr", "1e-4"]).adapt_lr == 1e-4
    assert f"removes: bars, arms, a bulge's edge; 1 = unchanged, as in the paper) (default {full.detail_weight}" in text
    parsed = build_parser().parse_args(["demo", "--detail-weight", "1", "--detail-scale", "0.1"])
    assert (parsed.detail_weight, parsed.detail_scale) == (1.0, 0.1)
    assert f"(32 64 128: the paper's three blocks) (default {full.vae_channels})" in text
    assert build_parser().parse_args(["demo", "--vae-channels", "32", "64", "128"]).vae_channels == [32, 64, 128]
    assert f"--no-augment: the paper's recipe) (default {full.augment})" in text
    assert [build_parser().parse_args(["demo", *a]).augment for a in ([], ["--augment"], ["--no-augment"])] == [
        None,  # DemoConfig's (or QUICK's) then
        True,
        False,
    ]


def test_the_config_modules_and_train_help_do_not_import_torch():
    # galvae.models and galvae.training import their names on first use, so the configs come without torch
    code = (
        "import sys; import galvae.training.config, galvae.models.config; "
        "from galvae.cli import build_parser; p = build_parser(); "
        "next(a for a in p._actions if hasattr(a, 'choices') and isinstance(a.choices, dict))"
        ".choices['train'].format_help(); print('torch' in sys.modules, 'lightning' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_training_train_is_the_module_and_galvae_train_the_function():
    import types

    import galvae
    from galvae.training import train as train_module

    assert isinstance(train_module, types.ModuleType) and train_module.__name__ == "galvae.training.train"
    assert callable(galvae.train) and galvae.train is train_module.train


def test_lazy_attach_imports_on_first_read_and_caches():
    from galvae._lazy import attach

    namespace: dict = {}
    getattr_, dir_ = attach("galvae", {"check_int": "._validate"}, namespace, ["check_int"])
    assert "check_int" not in namespace and dir_() == ["check_int"]
    from galvae._validate import check_int

    assert getattr_("check_int") is check_int and namespace["check_int"] is check_int
    with pytest.raises(AttributeError, match="module 'galvae' has no attribute 'nope'"):
        getattr_("nope")


def test_classify_cnn_defaults_are_those_of_cnn_options_and_classify():
    # the CLI keeps literals (importing the CNN module at parse time would slow every command); they must not drift
    import inspect

    from galvae.evaluate.classify import classify
    from galvae.evaluate.cnn_baseline import CNNOptions

    args = build_parser().parse_args(["classify", "lat.parquet", "cat.csv", "--out", "o"])
    api = inspect.signature(classify).parameters
    options = CNNOptions()
    for name in ("epochs", "patience", "batch_size", "lr"):
        assert getattr(args, f"cnn_{name}") == api[f"cnn_{name}"].default == getattr(options, name), name
