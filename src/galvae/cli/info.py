"""``galvae info STORE``: describe an image store."""

from __future__ import annotations

import argparse
import json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="describe an image store (size, survey, normalisation, ids)",
        description="Print the layout and attributes of an HDF5 image store.",
    )
    p.add_argument("store", help="image store (.h5) written by galvae ingest or galvae simulate")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.store import ImageStore

    with ImageStore(args.store) as store:
        info = {
            "path": str(store.path),
            "n_images": len(store),
            "size": store.size,
            "bands": store.bands,
            "survey": store.survey,
            "pixel_scale_arcsec": store.pixel_scale_arcsec,
            "has_mask": store.has_mask,
            "attrs": store.attrs,
            "first_ids": store.ids[:5].tolist(),
        }
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        for key, value in info.items():
            if key != "attrs":
                print(f"{key:>20}: {value}")
        for key, value in sorted(info["attrs"].items()):
            print(f"{'attr ' + key:>20}: {value}")
    return 0
