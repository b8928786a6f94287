"""``galvae spirals STORE --out TABLE``: arm count, pitch angle and winding read from the pixels."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]

#: Images read from the store at a time.
_CHUNK = 512


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae spirals`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "spirals",
        help="measure arm count, pitch angle and winding of every image (log-spiral Fourier transform)",
        description=(
            "Decompose each galaxy's disc into logarithmic spirals (the 2D Fourier transform in log-polar "
            "coordinates of Davis et al. 2012, on the disc's own measured half-light radius, position angle and "
            "axis ratio) and write one row per image: the dominant number of arms, its pitch angle, Galaxy Zoo's "
            "arm count and winding answers, the mode's amplitude and the disc geometry. Works on stretched "
            "(presented) and linear stores alike; galaxies must be centred, as cutouts are."
        ),
    )
    p.add_argument("store", help="image store (.h5) or a sharded store's manifest (.json)")
    p.add_argument("--out", required=True, help="output table: .parquet or .csv")
    p.add_argument("--band", default="r", help="band measured: g, r or z (default r)")
    p.add_argument("--m-max", type=int, default=6, help="most arms searched (default 6)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``galvae spirals`` with the parsed ``args``; returns the exit status."""
    from pathlib import Path

    import pandas as pd
    from tqdm.auto import tqdm

    from .._io import atomic_path
    from ..data.store import open_store
    from ..errors import GalvaeValueError
    from ..evaluate.spirals import measure_spirals

    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise GalvaeValueError("--out must end in .parquet or .csv", str(out))
    parts = []
    with open_store(args.store) as store:
        bands = list(store.bands)
        if args.band not in bands:
            raise GalvaeValueError(f"--band must be one of the store's bands {bands}", args.band)
        band = bands.index(args.band)
        n = len(store)
        if n == 0:
            raise GalvaeValueError("the store holds no images", args.store)
        for start in tqdm(range(0, n, _CHUNK), desc="spirals", unit="chunk", disable=n <= _CHUNK):
            parts.append(measure_spirals(store.read(slice(start, start + _CHUNK)), band=band, m_max=args.m_max))
        ids = store.ids.astype(str)
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, "id", ids)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)
    counts = table["spiral_arm_count"].value_counts().reindex(["1", "2", "3", "4", "more-than-4"], fill_value=0)
    print(f"{len(table)} images -> {out}")
    print("dominant arm count: " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    return 0
