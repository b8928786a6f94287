"""``galvae ingest SOURCE --out STORE.h5 [--shard-size N]``: image files to an HDF5 image store (or shards + manifest)."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def _triple(text: str) -> tuple[float, float, float]:
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers g,r,z, got {text!r}") from None
    if len(vals) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers g,r,z, got {text!r}")
    return vals  # type: ignore[return-value]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae ingest`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "ingest",
        help="preprocess FITS / JPEG / PNG / npy images into an HDF5 image store",
        description=(
            "Read a catalogue with file locations (columns id and file, or file_g/file_r/file_z; "
            "Parquet, CSV or FITS) or a directory of images, centre-crop, resize to SIZE, stretch "
            "onto [0, 1] (asinh for flux images, /255 for 8-bit composites) and write one HDF5 "
            "image store. Unreadable files and duplicate ids are skipped and reported, never dropped silently; "
            "--strict stops at the first one instead."
        ),
    )
    p.add_argument(
        "source", help="catalogue file (e.g. the catalog.parquet of galvae download) or a directory of images"
    )
    p.add_argument("--out", required=True, help="image store to write (.h5), or with --shard-size the manifest (.json)")
    p.add_argument(
        "--size", type=int, default=64, help="side of the stored images in pixels, a multiple of 8 (default 64)"
    )
    p.add_argument(
        "--images-root",
        help="directory file locations are relative to and must stay in (default: the catalogue's directory)",
    )
    p.add_argument("--survey", default="unknown", help="survey name recorded in the store (e.g. decals, bass_mzls)")
    p.add_argument("--pixel-scale", type=float, help="input pixel scale in arcsec (default: from the FITS WCS)")
    p.add_argument(
        "--stretch",
        choices=("auto", "asinh", "uint8", "none"),
        default="auto",
        help="normalisation: auto = asinh for flux images, uint8 (x/255) for JPEG/PNG (default auto)",
    )
    p.add_argument(
        "--softening", type=_triple, help="asinh softening per band g,r,z in nanomaggies (default 0.01,0.015,0.04)"
    )
    p.add_argument(
        "--maximum", type=_triple, help="flux per band g,r,z mapped to 1 by the asinh stretch (default 50,100,200)"
    )
    p.add_argument(
        "--profile",
        choices=("fixed", "gz-decals"),
        default="fixed",
        help="presentation profile recorded in the store: 'gz-decals' for Galaxy Zoo DECaLS JPEG/PNG "
        "(taken whole) or FITS cutouts cropped to each galaxy's Galaxy Zoo field from the catalogue's "
        "petro_th50/petro_th90 and presented the Galaxy Zoo way (stretch and desaturation, then resize; default fixed)",
    )
    p.add_argument(
        "--field-fraction",
        type=float,
        default=1.0,
        help="gz-decals: keep the central fraction (side) of each galaxy's Galaxy Zoo field -- of a JPEG/PNG's "
        "whole image, of a FITS cutout's field -- as 'galvae simulate --field-fraction' (default 1: all of it)",
    )
    p.add_argument(
        "--crop", type=int, help="side of the centre crop in input pixels before resizing (default: largest square)"
    )
    p.add_argument(
        "--shard-size",
        type=int,
        metavar="N",
        help="write a sharded store: HDF5 shards of at most N images (a 64 px image is 48 KiB, so 20000 "
        "make ~1 GiB) plus a manifest OUT.json with their counts and sha256 checksums; every command "
        "that takes a store takes the manifest (default: one .h5 file)",
    )
    p.add_argument("--workers", type=int, default=1, help="processes reading images (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first unreadable or refused file or repeated id, naming it, and write no store "
        "(default: skip them and list them in the report)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``galvae ingest`` with the parsed ``args``; returns the exit status."""
    from ..config import StretchConfig
    from ..data.ingest import ingest

    stretch = None
    if args.stretch != "auto" or args.softening or args.maximum:
        kw: dict = {"kind": "asinh" if args.stretch == "auto" else args.stretch}
        if args.softening:
            kw["softening"] = args.softening
        if args.maximum:
            kw["maximum"] = args.maximum
        stretch = StretchConfig(**kw)
    report = ingest(
        args.source,
        args.out,
        size=args.size,
        images_root=args.images_root,
        survey=args.survey,
        pixel_scale_arcsec=args.pixel_scale,
        stretch=stretch,
        crop=args.crop,
        profile=args.profile,
        field_fraction=args.field_fraction,
        workers=args.workers,
        overwrite=args.overwrite,
        progress=args.progress,
        strict=args.strict,
        shard_size=args.shard_size,
    )
    print(
        f"wrote {report.n_written} of {report.n_sources} images to {report.out} "
        f"(stretch {report.normalisation.get('kind')}, profile {args.profile}, "
        f'{report.pixel_scale_arcsec:.3f}"/px)'
    )
    if report.unreadable:
        print(f"{len(report.unreadable)} unreadable (all listed in {report.out}.ingest.json):")
        for gid, _where, reason in report.unreadable[:10]:
            print(f"  {gid}: {reason}")
    if report.duplicates:
        print(f"{len(report.duplicates)} duplicate ids skipped: {', '.join(report.duplicates[:10])}")
    return 0
