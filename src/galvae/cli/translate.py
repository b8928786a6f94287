"""``galvae translate RUN_DA STORE --to SURVEY --out OUT.h5``: what another survey would have seen."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae translate`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "translate",
        help="translate a store's images into another survey's appearance (domain-adapted runs)",
        description=(
            "Encode every image of STORE with the domain-adapted run's shared encoder and decode it with the "
            "decoder of survey --to, writing an image store with the same ids (survey attribute = --to). "
            "With --compare REAL.h5 (real --to images of some of the same galaxies), also score the "
            "translations against them -- SSIM, flux and size residuals -- next to two baselines, the "
            "untranslated image and a Gaussian PSF-matching convolution with the surveys' documented PSFs, "
            "writing translation.csv/.md/.json, translation_per_galaxy.csv and translation_gallery.png "
            "to --eval-dir."
        ),
    )
    p.add_argument("run", help="domain-adapted run directory (galvae adapt) or one of its exported models")
    p.add_argument("store", help="image store (.h5) to translate")
    p.add_argument("--to", required=True, metavar="SURVEY", help="target survey (one of the run's decoders)")
    p.add_argument("--out", required=True, help="output image store (.h5), same ids as STORE")
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument(
        "--compare",
        metavar="REAL.h5",
        help="real images of survey --to (matched by id) to score the translations against",
    )
    p.add_argument(
        "--eval-dir", help="directory for the --compare products (default: OUT's name without .h5 + '_eval')"
    )
    p.add_argument("--max-galaxies", type=int, default=None, help="--compare: score at most this many galaxies")
    p.add_argument("--gallery", type=int, default=8, help="--compare: galaxies in the gallery (default 8)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``galvae translate`` with the parsed ``args``; returns the exit status."""
    from pathlib import Path

    from ..latents.catalog import translate_store

    out = translate_store(
        args.run,
        args.store,
        args.out,
        to=args.to,
        batch_size=args.batch_size,
        device=args.device,
        overwrite=args.overwrite,
        progress=args.progress,
    )
    print(f"wrote translations to {args.to} in {out}")
    if args.compare:
        from ..evaluate.translation import evaluate_translation

        eval_dir = Path(args.eval_dir) if args.eval_dir else out.with_name(out.stem + "_eval")
        res = evaluate_translation(
            args.run,
            args.store,
            args.compare,
            to=args.to,
            translated=out,
            out_dir=eval_dir,
            max_galaxies=args.max_galaxies,
            gallery=args.gallery,
            batch_size=args.batch_size,
            device=args.device,
            progress=args.progress,
        )
        print(f"compared with the real {args.to} images of {res.summary['n_galaxies']} galaxies ({eval_dir}):")
        for r in res.table.itertuples(index=False):
            print(
                f"  {r.method:13s} SSIM {r.ssim_mean:.4f}  flux residual {r.flux_residual_median:+.3f} "
                f"(|.| {r.flux_residual_mad:.3f})  size residual {r.size_residual_median:+.3f} "
                f"(|.| {r.size_residual_mad:.3f})"
            )
    return 0
