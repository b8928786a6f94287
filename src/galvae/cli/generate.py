"""``galvae generate RUN --n N --seed SEED --out mocks.h5``: mock galaxies from the VAE."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae generate`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "generate",
        help="decode samples of the prior or of the galaxies' latent density, or a path between two galaxies' latents, into an image store",
        description=(
            "Without --between: decode N draws z ~ N(0, I), or with --like STORE_OR_CATALOG N draws from a "
            "Gaussian mixture fitted to those galaxies' latent means (mocks that look like the galaxies the model "
            "was trained on). With --between ID_A ID_B --store STORE: decode STEPS points on the straight line "
            "between the two galaxies' latent means."
        ),
    )
    p.add_argument("run", help="run directory or exported model")
    p.add_argument("--out", required=True, help="output image store (.h5)")
    p.add_argument("--n", type=int, default=16, help="number of prior samples (default 16)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the prior samples (default 0)")
    p.add_argument("--between", nargs=2, metavar=("ID_A", "ID_B"), help="interpolate between these ids")
    p.add_argument("--store", help="image store holding ID_A and ID_B (with --between)")
    p.add_argument("--steps", type=int, default=8, help="points on the path, ends included (default 8)")
    p.add_argument("--batch-size", type=int, default=256, help="latents per forward pass (default 256)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument(
        "--decoder",
        default=None,
        metavar="SURVEY",
        help="domain-adapted runs (galvae adapt): render the mocks with this survey's decoder "
        "(default: the source survey's)",
    )
    p.add_argument(
        "--like",
        metavar="STORE_OR_CATALOG",
        help="draw the latents from a Gaussian mixture fitted to these galaxies' latent means (an image store, "
        "encoded by this model, or its latent catalogue) instead of N(0, I): where the model puts real galaxies",
    )
    p.add_argument(
        "--components", type=int, default=10, help="mixture components with --like (default 10, Ghosh et al. 2020)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``galvae generate`` with the parsed ``args``; returns the exit status."""
    from ..errors import GalvaeValueError
    from ..latents.catalog import generate_mocks

    if args.between and not args.store:
        raise GalvaeValueError("--between needs --store STORE holding both ids")
    out = generate_mocks(
        args.run,
        args.out,
        n=args.n,
        seed=args.seed,
        between=tuple(args.between) if args.between else None,
        store=args.store,
        steps=args.steps,
        batch_size=args.batch_size,
        device=args.device,
        decoder=args.decoder,
        like=args.like,
        n_components=args.components,
        overwrite=args.overwrite,
        progress=args.progress,
    )
    print(f"wrote mock images to {out}")
    return 0
