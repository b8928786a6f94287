"""``galvae reconstruct RUN STORE --out recon.h5``: VAE reconstructions of a store."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae reconstruct`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "reconstruct",
        help="decode the latent means of a store's images into a new image store",
        description="Reconstruct every image of STORE through the model (decoder of the latent mean).",
    )
    p.add_argument("run", help="run directory or exported model")
    p.add_argument("store", help="image store (.h5)")
    p.add_argument("--out", required=True, help="output image store (.h5), same ids as STORE")
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument(
        "--decoder",
        default="auto",
        metavar="SURVEY",
        help="domain-adapted runs: decoder for the reconstruction (default auto: the store's survey "
        "when the run has a decoder for it)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``galvae reconstruct`` with the parsed ``args``; returns the exit status."""
    from ..latents.catalog import reconstruct_store

    out = reconstruct_store(
        args.run,
        args.store,
        args.out,
        batch_size=args.batch_size,
        device=args.device,
        decoder=args.decoder,
        overwrite=args.overwrite,
        progress=args.progress,
    )
    print(f"wrote reconstructions to {out}")
    return 0
