"""``galvae similar LATENTS --id ID --k 20``: the galaxies nearest to one in latent space."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae similar`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "similar",
        help="find the galaxies most like a given one (nearest neighbours in latent space)",
        description=(
            "Print the K nearest neighbours of each --id in the latent catalogue LATENTS, with their distances "
            "(euclidean, or 1 - cosine similarity). The index is built once and saved beside the catalogue "
            "(LATENTS.similar-<metric>-<index>.faiss/.json), and reused while the catalogue is unchanged. "
            "--index exact compares every row (the true neighbours; tens of ms per query on a million rows); "
            "ivf and hnsw are approximate faiss indexes for many queries or tens of millions of rows. Without "
            "faiss (pip install 'galvae[search]') the search is exact, in numpy. With --images STORE the "
            "query is the galaxy's image in STORE (e.g. the other survey's), encoded with the catalogue's model."
        ),
    )
    p.add_argument("latents", help="latent catalogue (galvae encode)")
    p.add_argument(
        "--id", dest="ids", action="append", required=True, metavar="ID", help="galaxy to query (repeatable)"
    )
    p.add_argument("--k", type=int, default=20, help="neighbours per galaxy (default 20)")
    p.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean", help="default euclidean")
    p.add_argument("--index", choices=("exact", "ivf", "hnsw"), default="exact", help="default exact")
    p.add_argument("--nlist", type=int, default=None, help="ivf: k-means cells (default 4 sqrt(N))")
    p.add_argument("--nprobe", type=int, default=None, help="ivf: cells searched (default max(8, nlist/8))")
    p.add_argument("--ef-search", type=int, default=128, help="hnsw: candidates searched (default 128)")
    p.add_argument(
        "--images",
        metavar="STORE",
        help="query by the galaxies' images in this image store, encoded with the catalogue's model (or --model)",
    )
    p.add_argument("--model", help="run or exported model encoding --images (default: the catalogue's)")
    p.add_argument("--out", help="also write the neighbours table (.csv, .parquet or .fits)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--no-save", action="store_true", help="do not save or reuse an index beside the catalogue")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``galvae similar`` with the parsed ``args``; returns the exit status."""
    from ..latents.similar import SimilarityIndex

    index = SimilarityIndex(
        args.metric,
        args.index,
        nlist=args.nlist,
        nprobe=args.nprobe,
        ef_search=args.ef_search,
        model=args.model,
        cache=not args.no_save,
    ).fit(args.latents)
    if args.images:
        from ..data.store import ImageStore

        with ImageStore(args.images) as st:
            images = st.read(st.index_of(args.ids))
        table = index.query(images=images, k=args.k)
        table["query"] = table["query"].map({f"image_{i}": gid for i, gid in enumerate(args.ids)})
    else:
        table = index.query(ids=args.ids, k=args.k)
    how = "reloaded" if index.from_cache_ else "built"
    print(
        f"{index.n_rows_} galaxies, {args.metric} distance, {args.index} index ({how} in "
        f"{index.build_seconds_:.2f} s, {index.backend_})"
    )
    for q, rows in table.groupby("query", sort=False):
        print(f"nearest {len(rows)} to {q}:")
        for r in rows.itertuples(index=False):
            print(f"  {r.rank:3d}  {r.id}  {r.distance:.6g}")
    if args.out:
        from ..data.tables import write_table

        out = write_table(table, args.out, overwrite=args.overwrite)
        print(f"wrote {out}")
    return 0
