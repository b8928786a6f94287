"""``galvae encode RUN STORE --out latents.parquet``: the latent catalogue of a store."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]

#: How many skipped images are printed.
_SHOW = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encode",
        help="encode an image store into a latent catalogue (Parquet or FITS)",
        description=(
            "Write one row per image: id, mu_0..mu_{NL-1}, logvar_0..logvar_{NL-1}, recon_error "
            "(per-image mean squared reconstruction error of the decoded mean), outlier_sigma (largest "
            "|mu_j - mean_j| / std_j over the latents, statistics from this catalogue; median/MAD with "
            "--outlier-robust) and outlier (outlier_sigma > --outlier-k, the paper's 8-sigma defect screen). "
            "A FITS table is written when OUT ends in .fits, Parquet otherwise. Images that cannot be read "
            "(non-finite pixels) are skipped and listed; --strict stops at the first one instead."
        ),
    )
    p.add_argument("run", help="run directory or exported model (model.json / model.safetensors)")
    p.add_argument("store", help="image store (.h5) in the normalisation the model was trained on")
    p.add_argument("--out", required=True, help="latent catalogue (.parquet or .fits)")
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    p.add_argument(
        "--decoder",
        default="auto",
        metavar="SURVEY",
        help="domain-adapted runs: decoder for the reconstruction (default auto: the store's survey "
        "when the run has a decoder for it)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first image that cannot be read (non-finite pixels, damaged data), naming it "
        "(default: skip such images and list them)",
    )
    p.add_argument(
        "--outlier-k",
        type=float,
        default=8.0,
        metavar="K",
        help="the outlier column flags outlier_sigma > K (default 8, the paper's Appendix A)",
    )
    p.add_argument(
        "--no-recon-error",
        dest="recon_error",
        action="store_false",
        help="leave out the recon_error column and skip decoding: encoding runs ~2.5x faster",
    )
    p.add_argument(
        "--outlier-robust",
        action="store_true",
        help="outlier_sigma from each latent's median and 1.4826 x MAD instead of its mean and std",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..latents.catalog import encode_store, read_latent_catalog

    out = encode_store(
        args.run,
        args.store,
        args.out,
        batch_size=args.batch_size,
        device=args.device,
        decoder=args.decoder,
        overwrite=args.overwrite,
        progress=args.progress,
        strict=args.strict,
        outlier_k=args.outlier_k,
        outlier_robust=args.outlier_robust,
        recon_error=args.recon_error,
    )
    meta = read_latent_catalog(out)[1]
    flag = meta.get("outlier") or {}
    print(
        f"wrote latent catalogue {out}: {flag.get('n_flagged', 0)} of {flag.get('n_rows', 0)} galaxies "
        f"beyond {args.outlier_k:g} sigma (column 'outlier')"
    )
    skipped = meta.get("skipped") or []
    if skipped:
        print(f"{len(skipped)} images skipped, not encoded (all listed under 'skipped' in the catalogue metadata):")
        for gid, reason in skipped[:_SHOW]:
            print(f"  {gid}: {reason}")
    return 0
