"""``galvae sweep STORE --latent-dims 10,20,40 --losses mse,mae --out DIR``: Figs. 3 and 4."""

from __future__ import annotations

import argparse

from .train import add_likelihood_arguments, add_precision_argument

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--epochs", type=int, default=10, help="epochs per model (default 10)")
    add_likelihood_arguments(p)
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
    p.add_argument("--batch-size", type=int, default=64, help="training batch size (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="validation fraction (default 0.1)",
    )
    p.add_argument("--accelerator", default="auto", help="lightning accelerator (default auto)")
    add_precision_argument(p)
    p.add_argument(
        "--device",
        default="cpu",
        help="torch device for the SSIM evaluation (default cpu)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
        train_kwargs={"precision": args.precision},
        device=args.device,
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
            *[f"ssim_{c}" for c in CATEGORIES],
            "trained",
        ],
    )
    for loss, knee in res.knees.items():
        print(f"knee ({loss}): NL = {knee if knee is not None else 'none found'}")
    print(f"wrote sweep.csv, sweep.json and figures to {res.out_dir}")
    return 0
