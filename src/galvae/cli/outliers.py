"""``galvae outliers LATENTS --sigma 8 --out DIR``: k-σ outliers in latent space."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae outliers`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "outliers",
        help="flag galaxies with a latent more than k sigma from the mean (Appendix A)",
        description=(
            "Flag galaxies with any latent mean more than k standard deviations from its mean (or, with --robust, "
            "from its median in units of 1.4826 x MAD). Writes outliers.csv, outliers.json, a gallery PNG with "
            "--store, and precision/recall against a catalogue 'defect' column for a range of k."
        ),
    )
    p.add_argument("latents", help="latent catalogue (galvae encode)")
    p.add_argument("--sigma", type=float, default=8.0, help="threshold k in sigma (default 8)")
    p.add_argument(
        "--robust",
        action="store_true",
        help="median and 1.4826 x MAD instead of mean and std",
    )
    p.add_argument(
        "--catalog",
        help="catalogue with id and defect columns (simulated data) for precision/recall",
    )
    p.add_argument("--store", help="image store, for the gallery of flagged galaxies")
    p.add_argument(
        "--ks",
        default="3,4,5,6,8,10",
        help="thresholds for the precision/recall curve (default 3,4,5,6,8,10)",
    )
    p.add_argument(
        "--max-gallery",
        type=int,
        default=64,
        help="most extreme galaxies shown in the gallery (default 64)",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``galvae outliers`` with the parsed ``args``; returns the exit status."""
    import pandas as pd

    from ..evaluate.outliers import outliers_report
    from ._eval_common import comma_floats, print_table

    s = outliers_report(
        args.latents,
        args.out,
        sigma=args.sigma,
        robust=args.robust,
        catalog=args.catalog,
        store=args.store,
        ks=comma_floats(args.ks, "--ks"),
        max_gallery=args.max_gallery,
    )
    print(
        f"{s['n_flagged']} of {s['n_galaxies']} galaxies ({100 * s['flagged_fraction']:.3f} %) beyond "
        f"{s['sigma']:g} sigma ({s['centre']}, {s['scale']})"
    )
    if "precision_recall_vs_k" in s:
        auroc = ", ".join(f"{k} {v:.3f}" for k, v in s["auroc"].items() if v is not None)
        print(f"planted defects: {s['n_defects']}" + (f"; AUROC (0.5 = blind to them): {auroc}" if auroc else ""))
        print_table(
            pd.DataFrame(s["precision_recall_vs_k"]).fillna(float("nan")),
            ["k", "n_flagged", "flagged_fraction", "precision", "recall"],
        )
    print(f"wrote {', '.join(s['files'])} and outliers.json to {args.out}")
    return 0
