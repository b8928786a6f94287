"""``galvae train STORE --out RUN``: train the paper's VAE on an image store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ._options import add_config_option, add_later

__all__ = [
    "add_architecture_arguments",
    "add_checkpoint_arguments",
    "add_guard_arguments",
    "add_hardware_arguments",
    "add_likelihood_arguments",
    "add_logger_arguments",
    "add_precision_argument",
    "register",
    "run",
    "run_interruptible",
]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae train`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "train",
        help="train the VAE on one or more image stores (one run directory)",
        description=(
            "Train the convolutional VAE of the paper (Section 3.1) with PyTorch Lightning. "
            "The run directory RUN receives config.json, split.json, checkpoints/, metrics.csv "
            "and the exported model (model.safetensors + model.json)."
        ),
    )
    add_later(p, _add_arguments)  # defaults and choices from ModelConfig and TrainConfig, imported when used
    p.set_defaults(func=run)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    from ..training.config import ModelConfig, TrainConfig

    p.add_argument("store", nargs="+", help="image store(s) (.h5); several are concatenated")
    p.add_argument("--out", required=True, metavar="RUN", help="run directory")
    add_config_option(p, ModelConfig, "latent_dim", help="latent dimension NL")
    add_config_option(p, ModelConfig, "loss", help="reconstruction loss")
    add_config_option(p, ModelConfig, "kl_weight", help="k, the weight of the KL term")
    add_config_option(p, ModelConfig, "activation", help="activation of the encoder/decoder blocks")
    add_config_option(
        p,
        ModelConfig,
        "kl_warmup_epochs",
        "--kl-warmup",
        metavar="EPOCHS",
        help="variant: ramp k linearly over EPOCHS epochs (default %(default)s, off, as in the paper); "
        "checkpoints and early stopping use the validation loss at the full k",
    )
    add_likelihood_arguments(p)
    add_architecture_arguments(p)
    add_config_option(p, TrainConfig, "epochs", help="training epochs")
    add_config_option(
        p,
        TrainConfig,
        "batch_size",
        help="global batch size over all processes (default %(default)s); with P processes each takes batch-size/P",
    )
    add_config_option(p, TrainConfig, "lr", help="Adam learning rate (default %(default)s, the paper's)")
    add_config_option(p, TrainConfig, "seed", help="seed of the split, initialisation and data order")
    add_config_option(p, TrainConfig, "val_fraction", help="fraction of ids held out")
    add_config_option(
        p,
        TrainConfig,
        "early_stopping",
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without a better validation loss",
    )
    add_augment_argument(p)
    add_hardware_arguments(p, TrainConfig)
    add_guard_arguments(p, TrainConfig)
    add_checkpoint_arguments(p, TrainConfig)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue RUN from RUN/checkpoints/last.ckpt (a damaged one falls back to last-1.ckpt, ..., "
        "then best.ckpt, with a warning)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    add_logger_arguments(p)


def add_logger_arguments(p: argparse.ArgumentParser) -> None:
    """--logger (repeatable): experiment tracking through Lightning's loggers (see galvae.training.train.LOGGERS)."""
    p.add_argument(
        "--logger",
        action="append",
        default=None,
        choices=("csv", "tensorboard", "mlflow", "wandb"),
        help="experiment tracker, repeatable (default csv: RUN/metrics.csv only, which is written in every case). "
        "tensorboard writes RUN/logs/tensorboard; mlflow logs to MLFLOW_TRACKING_URI (default ./mlruns), "
        "experiment MLFLOW_EXPERIMENT_NAME (default galvae); wandb to project WANDB_PROJECT (default galvae; "
        "WANDB_MODE=offline for offline runs). Optional packages: pip install 'galvae[tracking]'",
    )


def add_likelihood_arguments(p: argparse.ArgumentParser) -> None:
    """--likelihood, --noise-sigma, --learn-sigma, --centre-window, --colour-weight, --detail-weight/--detail-scale
    and --output (train and sweep)."""
    p.add_argument(
        "--likelihood",
        default="gaussian",
        metavar="{gaussian,sum,mean}",
        help="reconstruction term: sum over pixels (the paper's eq. 2 as written; a Gaussian decoder "
        "with sigma^2 = 1/2), mean over pixels, or gaussian: the negative log-likelihood of a "
        "decoder with noise sigma per band, whose k = 1 is the true ELBO (default gaussian, sigma from the stores' sky pixels)",
    )
    p.add_argument(
        "--noise-sigma",
        type=float,
        nargs=3,
        default=None,
        metavar=("G", "R", "Z"),
        help="sigma of the gaussian decoder per band (default: estimated from the stores' sky pixels)",
    )
    p.add_argument(
        "--learn-sigma",
        action="store_true",
        help="learn the gaussian decoder's sigma per band (initial value: --noise-sigma or the estimate)",
    )
    p.add_argument(
        "--centre-window",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="sigma of a Gaussian window on the reconstruction term, as a fraction of the image side: the "
        "decoder's noise grows as 1/sqrt(w) away from the centre, so neighbours and companions around the "
        "centred galaxy count less (default %(default)s: every pixel alike, as in the paper; the demo uses 0.2 in its gz-decals presentation)",
    )
    p.add_argument(
        "--colour-weight",
        type=float,
        default=1.0,
        metavar="A",
        help="weight a of the colour residuals: the reconstruction term on the bands rotated to luminance and "
        "two colours, the colours' residuals times A (default %(default)s: the likelihood unchanged, as in the "
        "paper; benchmarks/science.md measured 4 with --output linear)",
    )
    p.add_argument(
        "--detail-weight",
        type=float,
        default=1.0,
        metavar="B",
        help="weight b of the residuals' fine part (what a Gaussian blur of --detail-scale removes: bars, arms, "
        "a bulge's edge) in the likelihood (default %(default)s: unchanged, as in the paper; the demo uses 3, "
        "benchmarks/science.md)",
    )
    p.add_argument(
        "--detail-scale",
        type=float,
        default=0.0625,
        metavar="FRACTION",
        help="sigma of that blur as a fraction of the image side (default %(default)s: 3 pixels at 48)",
    )
    from ..models.config import OUTPUTS

    p.add_argument(
        "--output",
        choices=OUTPUTS,
        default="relu",
        help="the decoder's last layer after its convolution: relu (the paper's, default) or linear (none; a "
        "large --colour-weight can kill a band's relu)",
    )


def add_augment_argument(p: argparse.ArgumentParser) -> None:
    """--augment (train and sweep): turned and mirrored training images (TrainConfig.augment)."""
    p.add_argument(
        "--augment",
        action="store_true",
        help="show each training image under its own random quarter turn and mirror flip (off by default, as in "
        "the paper; the demo turns them, measured in benchmarks/science.md); validation images are not turned",
    )


def add_architecture_arguments(p: argparse.ArgumentParser) -> None:
    """--channels (train and sweep)."""
    p.add_argument(
        "--channels",
        type=int,
        nargs="+",
        default=[32, 64, 128],
        metavar="C",
        help="output channels of the encoder blocks, mirrored by the decoder (default 32 64 128: three blocks, "
        "the paper's; the demo uses 64 128, two blocks whose decoder starts from a map of a quarter of the side, "
        "benchmarks/science.md); the image side must be a multiple of 2 ** (number of blocks)",
    )


def add_precision_argument(p: argparse.ArgumentParser) -> None:
    """--precision (default auto), shared by train, adapt and sweep (see galvae.training.precision)."""
    p.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "32", "bf16-mixed", "16-mixed"),
        help="numerical precision passed to lightning.Trainer (default auto: bf16-mixed on a CPU with native "
        "bfloat16, AVX512-BF16 or AMX, else 32; the run's config.json records the one used). auto is the "
        "default because on such a CPU bf16-mixed trained 2.1x faster than 32 (idle 2-core AMD EPYC; no slower "
        "under heavy load) with the same reconstruction SSIM (benchmarks/run.md); give 32 for results that "
        "do not depend on the processor",
    )


def add_hardware_arguments(p: argparse.ArgumentParser, config: type) -> None:
    """--precision, --accelerator, --devices and --workers, shared by the Lightning-trained commands.

    ``config`` (TrainConfig or AdaptConfig) gives the defaults.
    """
    add_precision_argument(p)
    add_config_option(p, config, "accelerator", help="lightning accelerator: auto, cpu, gpu, mps")
    p.add_argument(
        "--devices",
        default="1",
        help="devices (processes) per node (default 1); several train with DDP, one process per device, "
        "started by torchrun, SLURM's srun or Lightning itself (see README, 'GPUs, clusters')",
    )
    add_config_option(
        p,
        config,
        "strategy",
        help="%(default)s (default: one process, or ddp with several devices or nodes), ddp, or ddp_spawn "
        "(processes started by torch.multiprocessing; no SIGTERM/SIGUSR1 handling)",
    )
    add_config_option(p, config, "num_nodes", help="machines taking part")
    add_config_option(p, config, "num_workers", "--workers", help="DataLoader worker processes, per training process")


def add_guard_arguments(p: argparse.ArgumentParser, config: type) -> None:
    """--max-nonfinite-batches, shared by the Lightning-trained commands (see galvae.training.guards)."""
    add_config_option(
        p,
        config,
        "max_nonfinite_batches",
        metavar="N",
        help="skip up to N batches with a NaN/inf loss or gradient (no optimiser step, a warning each), "
        "then stop with an error",
    )


def add_checkpoint_arguments(p: argparse.ArgumentParser, config: type) -> None:
    """--keep-last, shared by the Lightning-trained commands (see galvae.training.checkpoints)."""
    add_config_option(
        p,
        config,
        "keep_last",
        metavar="K",
        help="training states kept in RUN/checkpoints: last.ckpt and K-1 older ones (last-1.ckpt, ...), "
        "besides best.ckpt (default %(default)s). SIGTERM or SIGUSR1 writes last.ckpt at the end of the current "
        "batch and exits with status 128 + the signal's number (143 for SIGTERM); --resume continues",
    )


def run_interruptible(command: str, work: Callable[[], Any]) -> tuple[int, Any]:
    """Run ``work()``; a run stopped by SIGTERM/SIGUSR1 prints one line and gives 128 + the signal's number.

    Returns
    -------
    (status, result)
        ``(0, work())``, or ``(128 + signal number, None)`` after
        :class:`galvae.errors.GalvaeInterruptedError`.
    """
    from ..errors import GalvaeInterruptedError

    try:
        return 0, work()
    except GalvaeInterruptedError as exc:
        if is_rank_zero():
            print(f"galvae {command}: {exc}", file=sys.stderr)
        return exc.exit_status, None


def is_rank_zero() -> bool:
    """Whether this process is global rank 0 of a distributed run (or the only process): the one that prints."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return int(getattr(rank_zero_only, "rank", 0) or 0) == 0


def _devices(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def run(args: argparse.Namespace) -> int:
    """Run ``galvae train`` with the parsed ``args``; returns the exit status."""
    from ..training.train import train

    status, result = run_interruptible(
        "train",
        lambda: train(
            args.store if len(args.store) > 1 else args.store[0],
            args.out,
            latent_dim=args.latent_dim,
            loss=args.loss,
            kl_weight=args.kl_weight,
            activation=args.activation,
            kl_warmup_epochs=args.kl_warmup,
            likelihood=args.likelihood,
            noise_sigma=args.noise_sigma,
            learn_sigma=args.learn_sigma,
            centre_window=args.centre_window,
            colour_weight=args.colour_weight,
            detail_weight=args.detail_weight,
            detail_scale=args.detail_scale,
            output=args.output,
            channels=tuple(args.channels),
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            val_fraction=args.val_fraction,
            early_stopping=args.early_stopping,
            augment=args.augment,
            precision=args.precision,
            accelerator=args.accelerator,
            devices=_devices(args.devices),
            strategy=args.strategy,
            num_nodes=args.num_nodes,
            num_workers=args.workers,
            max_nonfinite_batches=args.max_nonfinite_batches,
            keep_last=args.keep_last,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=args.progress,
            logger=args.logger or "csv",
        ),
    )
    if status:
        return status
    if not is_rank_zero():
        return 0
    print(
        f"trained {result.epochs} epochs ({result.global_step} steps); best validation loss "
        f"{result.best_val_loss:.4g}; model in {result.model_path}"
    )
    return 0
