"""``galvae info STORE [--verify]``: describe an image store or a sharded store's manifest."""

from __future__ import annotations

import argparse
import json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae info`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "info",
        help="describe an image store (size, survey, normalisation, ids)",
        description=(
            "Print the layout and attributes of an HDF5 image store, or of a sharded store given its "
            "manifest (.json). Opening a manifest checks that every shard exists with the recorded byte size "
            "and image count; --verify also recomputes every shard's sha256 (reads every byte). The fingerprint "
            "(ids, layout and a sample of the images) is what a training run records of its store, so "
            "galvae sweep and --resume recognise a copied or moved store."
        ),
    )
    p.add_argument(
        "store",
        help="image store (.h5) written by galvae ingest or galvae simulate, or a sharded store's manifest (.json)",
    )
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.add_argument(
        "--verify",
        action="store_true",
        help="sharded stores: recompute and compare the sha256 of every shard (refused in one line, naming "
        "the shard, on a mismatch)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``galvae info`` with the parsed ``args``; returns the exit status."""
    from ..data.manifest import ShardedStore
    from ..data.store import open_store

    with open_store(args.store, verify=args.verify) as store:
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
            # what a training run records of its store: a copy of this content anywhere is the same store
            "fingerprint": store.fingerprint(),
        }
        if isinstance(store, ShardedStore):
            info["shards"] = len(store.shards)
            info["shard_bytes"] = sum(s["bytes"] for s in store.manifest["shards"])
            info["checksums"] = "verified (sha256)" if args.verify else "not verified (pass --verify)"
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        for key, value in info.items():
            if key != "attrs":
                print(f"{key:>20}: {value}")
        for key, value in sorted(info["attrs"].items()):
            print(f"{'attr ' + key:>20}: {value}")
    return 0
