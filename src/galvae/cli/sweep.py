"""``galvae sweep STORE --latent-dims 10,20,40 --losses mse,mae --out DIR``: Figs. 3 and 4."""

from __future__ import annotations

import argparse

from ._options import add_config_option, add_later
from .train import add_architecture_arguments, add_augment_argument, add_likelihood_arguments, add_precision_argument

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae sweep`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "sweep",
        help="train one VAE per (latent dim, loss) pair and measure SSIM (Figs. 3, 4, knee)",
        description=(
            "Train one VAE per (NL, loss) pair in <out>/nl{NL}_{loss} (finished pairs are skipped, interrupted "
            "ones resumed), compute the SSIM of every image against the reconstruction of its latent mean, and "
            "write sweep.csv, sweep.json (with the knee of SSIM vs NL per loss), fig3_ssim_vs_nl.png and, with "
            "--catalog, the SSIM per first-branch category and fig4_ssim_per_category.png."
        ),
    )
    add_later(p, _add_arguments)  # defaults from TrainConfig, imported when used
    p.set_defaults(func=run)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    from ..training.config import TrainConfig

    p.add_argument("store", help="image store (.h5)")
    p.add_argument("--out", required=True, help="sweep directory")
    p.add_argument(
        "--latent-dims",
        default="10,20,40,60,80,100",
        help="comma-separated NL (default 10,20,40,60,80,100)",
    )
    p.add_argument(
        "--losses",
        default="mse,mae",
        help="comma-separated losses: mse, mae (default mse,mae)",
    )
    add_config_option(p, TrainConfig, "epochs", help="epochs per model")
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="models per NL and loss, seeds SEED, SEED+1, ...: the SSIM is their mean and the knee is found on it "
        "(one model per NL measures the curve only to about +-0.005 at a few epochs; default 1)",
    )
    add_likelihood_arguments(p)
    add_architecture_arguments(p)
    add_augment_argument(p)
    p.add_argument(
        "--catalog",
        help="GZ DECaLS catalogue (id + fractions) for the SSIM per category (Fig. 4)",
    )
    p.add_argument(
        "--evaluate-on",
        choices=("val", "all"),
        default="val",
        help="galaxies whose SSIM is averaged: the held-out validation split, or all (default val)",
    )
    add_config_option(p, TrainConfig, "batch_size", help="training batch size")
    add_config_option(p, TrainConfig, "lr", help="Adam learning rate")
    add_config_option(p, TrainConfig, "seed", help="seed")
    add_config_option(p, TrainConfig, "val_fraction", help="validation fraction")
    add_config_option(p, TrainConfig, "accelerator", help="lightning accelerator")
    add_precision_argument(p)
    p.add_argument(
        "--device",
        default="cpu",
        help="torch device for the SSIM evaluation (default cpu)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``galvae sweep`` with the parsed ``args``; returns the exit status."""
    from ..evaluate.sweep import CATEGORIES, sweep
    from ._eval_common import comma_ints, comma_list, print_table

    res = sweep(
        args.store,
        args.out,
        latent_dims=comma_ints(args.latent_dims, "--latent-dims"),
        losses=comma_list(args.losses),
        epochs=args.epochs,
        catalog=args.catalog,
        evaluate_on=args.evaluate_on,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        val_fraction=args.val_fraction,
        likelihood=args.likelihood,
        noise_sigma=args.noise_sigma,
        learn_sigma=args.learn_sigma,
        accelerator=args.accelerator,
        train_kwargs={
            "precision": args.precision,
            "centre_window": args.centre_window,
            "colour_weight": args.colour_weight,
            "detail_weight": args.detail_weight,
            "detail_scale": args.detail_scale,
            "output": args.output,
            "channels": tuple(args.channels),
            "augment": args.augment,
        },
        device=args.device,
        repeats=args.repeats,
        progress=getattr(args, "progress", True),
    )
    print_table(
        res.table,
        [
            "loss",
            "latent_dim",
            "n_eval",
            "ssim_mean",
            "ssim_std",
            *(["n_models", "ssim_model_std"] if args.repeats > 1 else []),
            *[f"ssim_{c}" for c in CATEGORIES],
            "trained",
        ],
    )
    for loss, knee in res.knees.items():
        line = f"knee ({loss}): NL = {knee if knee is not None else 'none found'}"
        if args.repeats > 1:
            each = ", ".join(f"{'none' if k is None else k} (seed {s})" for s, k in res.knees_per_seed[loss].items())
            line += f" on the mean of {args.repeats} models; each model's curve: {each}"
        print(line)
    print(f"wrote sweep.csv, sweep.json and figures to {res.out_dir}")
    return 0
