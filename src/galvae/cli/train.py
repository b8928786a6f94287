"""``galvae train STORE --out RUN``: train the paper's VAE on an image store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

__all__ = [
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
    p = sub.add_parser(
        "train",
        help="train the VAE on one or more image stores (one run directory)",
        description=(
            "Train the convolutional VAE of the paper (Section 3.1) with PyTorch Lightning. "
            "The run directory RUN receives config.json, split.json, checkpoints/, metrics.csv "
            "and the exported model (model.safetensors + model.json)."
        ),
    )
    p.add_argument("store", nargs="+", help="image store(s) (.h5); several are concatenated")
    p.add_argument("--out", required=True, metavar="RUN", help="run directory")
    p.add_argument("--latent-dim", type=int, default=40, help="latent dimension NL (default 40)")
    p.add_argument("--loss", default="mse", choices=("mse", "mae"), help="reconstruction loss (default mse)")
    p.add_argument("--kl-weight", type=float, default=1.0, help="k, the weight of the KL term (default 1)")
    p.add_argument(
        "--activation",
        default="leaky_relu",
        choices=("leaky_relu", "relu"),
        help="activation of the encoder/decoder blocks (default leaky_relu)",
    )
    p.add_argument(
        "--kl-warmup",
        type=int,
        default=0,
        metavar="EPOCHS",
        help="variant: ramp k linearly over EPOCHS epochs (default 0, off, as in the paper); "
        "checkpoints and early stopping use the validation loss at the full k",
    )
    add_likelihood_arguments(p)
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=64,
        help="global batch size over all processes (default 64); with P processes each takes batch-size/P",
    )
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3, the paper's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, initialisation and data order")
    p.add_argument("--val-fraction", type=float, default=0.1, help="fraction of ids held out (default 0.1)")
    p.add_argument(
        "--early-stopping",
        type=int,
        default=None,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without a better validation loss",
    )
    add_hardware_arguments(p)
    add_guard_arguments(p)
    add_checkpoint_arguments(p)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue RUN from RUN/checkpoints/last.ckpt (a damaged one falls back to last-1.ckpt, ..., "
        "then best.ckpt, with a warning)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    add_logger_arguments(p)
    p.set_defaults(func=run)


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
    """--likelihood, --noise-sigma and --learn-sigma, shared by train and sweep."""
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


def add_hardware_arguments(p: argparse.ArgumentParser) -> None:
    """--precision, --accelerator, --devices and --workers, shared by the Lightning-trained commands."""
    add_precision_argument(p)
    p.add_argument("--accelerator", default="auto", help="lightning accelerator: auto, cpu, gpu, mps (default auto)")
    p.add_argument(
        "--devices",
        default="1",
        help="devices (processes) per node (default 1); several train with DDP, one process per device, "
        "started by torchrun, SLURM's srun or Lightning itself (see README, 'GPUs, clusters')",
    )
    p.add_argument(
        "--strategy",
        default="auto",
        help="auto (default: one process, or ddp with several devices or nodes), ddp, or ddp_spawn "
        "(processes started by torch.multiprocessing; no SIGTERM/SIGUSR1 handling)",
    )
    p.add_argument("--num-nodes", type=int, default=1, help="machines taking part (default 1)")
    p.add_argument(
        "--workers", type=int, default=0, help="DataLoader worker processes, per training process (default 0)"
    )


def add_guard_arguments(p: argparse.ArgumentParser) -> None:
    """--max-nonfinite-batches, shared by the Lightning-trained commands (see galvae.training.guards)."""
    p.add_argument(
        "--max-nonfinite-batches",
        type=int,
        default=10,
        metavar="N",
        help="skip up to N batches with a NaN/inf loss or gradient (no optimiser step, a warning each), "
        "then stop with an error (default 10)",
    )


def add_checkpoint_arguments(p: argparse.ArgumentParser) -> None:
    """--keep-last, shared by the Lightning-trained commands (see galvae.training.checkpoints)."""
    p.add_argument(
        "--keep-last",
        type=int,
        default=2,
        metavar="K",
        help="training states kept in RUN/checkpoints: last.ckpt and K-1 older ones (last-1.ckpt, ...), "
        "besides best.ckpt (default 2). SIGTERM or SIGUSR1 writes last.ckpt at the end of the current "
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
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            val_fraction=args.val_fraction,
            early_stopping=args.early_stopping,
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
