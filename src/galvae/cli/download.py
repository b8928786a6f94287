"""``galvae download CATALOG --out DIR``: fetch g, r, z cutouts from the Legacy Survey."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]

#: How many failures and dry-run addresses are printed.
_SHOW = 10
_DRY_RUN_URLS = 5


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae download`` and its options to the subcommand parsers ``sub``."""
    from ..data.download import LAYERS

    layers = "; ".join(f"{name}: {what}" for name, what in LAYERS.items())
    p = sub.add_parser(
        "download",
        help="download g, r, z FITS cutouts from the Legacy Survey cutout service",
        description=(
            "Download one g, r, z FITS cutout per catalogue row (columns ra, dec in degrees, and id;\n"
            "without id the row number is used) from the Legacy Survey cutout service into DIR/<id>.fits,\n"
            "over a bounded number of connections, with retries and back-off. The cache is resumable:\n"
            "complete files are skipped, so re-running the same command finishes an interrupted download.\n"
            "Writes the manifest DIR/catalog.parquet (id, ra, dec, file, layer, pixscale, size, status)\n"
            "for 'galvae ingest DIR/catalog.parquet --images-root DIR'.\n\n"
            "ls-dr9-south is DECaLS and ls-dr9-north is BASS+MzLS: downloading the same catalogue with\n"
            "both layers into two directories gives the overlap sample for domain adaptation."
        ),
        epilog=(
            "examples:\n"
            "  galvae download overlap.csv --layer ls-dr9-south --out cutouts/decals\n"
            "  galvae download overlap.csv --layer ls-dr9-north --out cutouts/bass-mzls\n"
            "  galvae download gz_decals.parquet --out cutouts/dr10 --layer ls-dr10 --size 128 --dry-run"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_cutout_arguments(p, layers)
    _add_connection_arguments(p)
    _add_run_arguments(p)
    p.set_defaults(func=run)


def _add_cutout_arguments(p: argparse.ArgumentParser, layers: str) -> None:
    """Add the catalogue, output and cutout options (what to download, and where to)."""
    from ..data.download import DEFAULT_BASE_URL, DEFAULT_PIXSCALE, DEFAULT_SIZE

    p.add_argument("catalog", help="catalogue (.parquet, .csv or .fits) with ra, dec (degrees) and id")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (one per layer)")
    p.add_argument(
        "--layer", default="ls-dr9-south", metavar="LAYER", help=f"survey layer (default: %(default)s). {layers}"
    )
    p.add_argument(
        "--pixscale", type=float, default=DEFAULT_PIXSCALE, help="pixel scale, arcsec/pixel (default: %(default)s)"
    )
    p.add_argument(
        "--size",
        type=int,
        default=DEFAULT_SIZE,
        help='cutout side in pixels (default: %(default)s; 64 x 0.262" = 16.8", '
        "the simulator's default field of view)",
    )
    p.add_argument("--base-url", default=DEFAULT_BASE_URL, help="cutout service root (default: %(default)s)")


def _add_connection_arguments(p: argparse.ArgumentParser) -> None:
    """Add the connection, retry and time-out options."""
    p.add_argument(
        "--connections",
        type=int,
        default=4,
        metavar="N",
        help="most simultaneous requests, 1-32 (default: %(default)s)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=4,
        metavar="N",
        help="retries after a connection error, time-out, HTTP 429/5xx or truncated body (default: %(default)s)",
    )
    p.add_argument(
        "--backoff",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="first retry delay, doubled each retry, with jitter (default: %(default)s)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="time-out of the connection and of each read (default: %(default)s)",
    )


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Add the seed, overwrite, strict and dry-run options."""
    p.add_argument("--seed", type=int, default=0, help="seed of the back-off jitter (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="download again even where DIR/<id>.fits exists")
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first failed download, naming it (default: record failures in the manifest and go on)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help=f"check the catalogue and print the first {_DRY_RUN_URLS} addresses; download nothing",
    )


def _dry_run(args: argparse.Namespace) -> int:
    from ..data.download import cutout_path, cutout_url, read_targets

    cutout_url(0.0, 0.0, layer=args.layer, pixscale=args.pixscale, size=args.size, base_url=args.base_url)
    targets = read_targets(args.catalog)
    todo = []
    for gid, ra, dec in targets[["id", "ra", "dec"]].itertuples(index=False):
        path = cutout_path(args.out, gid)
        if args.overwrite or not path.is_file():
            todo.append((gid, ra, dec, path))
    print(f"{len(targets)} targets; {len(targets) - len(todo)} already in {args.out}; would download {len(todo)}")
    for gid, ra, dec, path in todo[:_DRY_RUN_URLS]:
        url = cutout_url(ra, dec, layer=args.layer, pixscale=args.pixscale, size=args.size, base_url=args.base_url)
        print(f"{gid} -> {path}\n  {url}")
    if len(todo) > _DRY_RUN_URLS:
        print(f"... and {len(todo) - _DRY_RUN_URLS} more")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``galvae download`` with the parsed ``args``; returns the exit status."""
    from ..data.download import download_cutouts
    from ..errors import GalvaeDownloadError

    if args.dry_run:
        return _dry_run(args)
    report = download_cutouts(
        args.catalog,
        args.out,
        layer=args.layer,
        pixscale=args.pixscale,
        size=args.size,
        base_url=args.base_url,
        max_connections=args.connections,
        retries=args.retries,
        backoff=args.backoff,
        timeout=args.timeout,
        overwrite=args.overwrite,
        seed=args.seed,
        progress=args.progress,
        strict=args.strict,
    )
    print(report.summary())
    print(f"manifest: {report.manifest}")
    for gid, reason in report.failures[:_SHOW]:
        print(f"failed {gid}: {reason}")
    if report.n_failed > _SHOW:
        print(f"... and {report.n_failed - _SHOW} more failures (status column of the manifest)")
    if report.n_available == 0:
        if report.n_failed:
            first_id, first_reason = report.failures[0]
            raise GalvaeDownloadError(
                args.base_url,
                f"all {report.n_failed} downloads failed ({report.n_empty} empty); first: {first_id}: {first_reason}",
            )
        raise GalvaeDownloadError(
            args.base_url,
            f"all {report.n_empty} cutouts were empty: no target lies in the footprint of layer {report.layer}",
        )
    return 0
