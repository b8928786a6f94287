"""Similarity search speed: building and querying a latent index of a million galaxies.

Run:  .venv/bin/python benchmarks/bench_similar.py [--n 1000000] [--dim 40] [--queries 200]
Writes benchmarks/similar.json and benchmarks/similar.md.  Timings live here, never in tests.

The rows are N(0, I) random vectors (seed 0), the hardest case for an approximate index (no
cluster structure; real latents are easier).  For each index (galvae.SimilarityIndex, euclidean
metric): the build time; the latency of one query by id (k = 20, median of ``--queries`` single
queries, the galaxy itself excluded); the time of one batch of all ``--queries`` queries at once; and,
for the approximate indexes, recall@20 against the exact answer.  Then the path of
``galvae similar``: a catalogue file is indexed and saved beside it, and a new process's
``fit(path)`` reloads the index; that reload plus one query is timed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import machine
from galvae import __version__
from galvae.data.tables import write_table
from galvae.latents.similar import SimilarityIndex

K = 20


def timed_queries(index: SimilarityIndex, ids: list[str]) -> tuple[float, float, pd.DataFrame]:
    """(median single-query seconds, batch seconds, batch result)."""
    singles = []
    for gid in ids:
        t0 = time.perf_counter()
        index.query(ids=[gid], k=K)
        singles.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    batch = index.query(ids=ids, k=K)
    return statistics.median(singles), time.perf_counter() - t0, batch


def recall(got: pd.DataFrame, want: pd.DataFrame) -> float:
    g = got.groupby("query")["id"].apply(set)
    w = want.groupby("query")["id"].apply(set)
    return float(np.mean([len(g.get(q, set()) & w[q]) / len(w[q]) for q in w.index]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="rows (default 1,000,000)")
    parser.add_argument("--dim", type=int, default=40, help="latent dimension (default 40)")
    parser.add_argument("--queries", type=int, default=200, help="query galaxies (default 200)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "similar"), help="output stem")
    args = parser.parse_args()
    env = machine()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    ids = np.char.add("g", np.arange(args.n).astype(str))
    qids = ids[rng.choice(args.n, args.queries, replace=False)].tolist()
    rows = []
    exact_answer = None
    # (index, backend, search efforts tried on the same built index: nprobe as multiples of the default
    # for ivf, ef_search for hnsw)
    configs = [
        ("exact", "faiss", [None]),
        ("exact", "numpy", [None]),
        ("ivf", "faiss", [1, 2, 4]),
        ("hnsw", "faiss", [64, 128, 256, 512]),
    ]
    for kind, backend, efforts in configs:
        t0 = time.perf_counter()
        index = SimilarityIndex("euclidean", kind, backend=backend).fit(x, ids=ids)
        build = time.perf_counter() - t0
        nprobe0 = index.params_.get("nprobe", 1) if hasattr(index, "params_") else 1
        for effort in efforts:
            if kind == "ivf":
                index.set_search(nprobe=effort * nprobe0)
            elif kind == "hnsw":
                index.set_search(ef_search=effort)
            single, batch_s, batch = timed_queries(index, qids)
            row = {
                "index": kind,
                "backend": backend,
                "params": dict(getattr(index, "params_", {})),
                "build_s": round(build, 2),
                "query_ms_median": round(1000 * single, 2),
                "batch_queries": len(qids),
                "batch_s": round(batch_s, 3),
                "recall_at_20": None,
            }
            if kind == "exact" and backend == "faiss":
                exact_answer = batch
            elif exact_answer is not None:
                row["recall_at_20"] = round(recall(batch, exact_answer), 4)
            rows.append(row)
            print(row, flush=True)
        del index
    # the path of `galvae similar`: index saved beside the catalogue, reloaded by a later fit(path)
    with tempfile.TemporaryDirectory() as tmp:
        cat = Path(tmp) / "latents.parquet"
        df = pd.DataFrame({"id": ids, **{f"mu_{j}": x[:, j] for j in range(args.dim)}})
        write_table(df, cat, metadata={"latent_dim": args.dim, "model": None})
        del df
        t0 = time.perf_counter()
        SimilarityIndex().fit(cat)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        index = SimilarityIndex().fit(cat)
        assert index.from_cache_
        index.query(ids=qids[:1], k=K)
        reload_query = time.perf_counter() - t0
    cached = {"first_fit_from_file_s": round(first, 2), "reload_and_one_query_s": round(reload_query, 2)}
    print(cached, flush=True)
    result = {
        "galvae_version": __version__,
        "machine": env,
        "n": args.n,
        "dim": args.dim,
        "k": K,
        "queries": len(qids),
        "data": "N(0, I) random float32 rows, seed 0; euclidean metric",
        "indexes": rows,
        "saved_index": cached,
    }
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Similarity search: {args.n:,} random {args.dim}-d rows, k = {K}",
        "",
        f"galvae {__version__}; {env['cpu']}, {env['cores']} cores (load average {env['load_average']} at the "
        "start; the machine is shared); `benchmarks/bench_similar.py`.",
        "",
        "Rows are N(0, I) random vectors, the worst case for an approximate index (no clusters). "
        f"Query = one galaxy by id, itself excluded; median over {len(qids)} single queries; batch = all "
        f"{len(qids)} in one call; recall@20 against the exact answer.",
        "",
        f"| index | backend | parameters | build (s) | one query (ms) | batch of {len(qids)} (s) | recall@20 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        params = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "—"
        rec = "1 (exact)" if r["recall_at_20"] is None else f"{r['recall_at_20']:.3f}"
        lines.append(
            f"| {r['index']} | {r['backend']} | {params} | {r['build_s']} | {r['query_ms_median']} | "
            f"{r['batch_s']} | {rec} |"
        )
    lines += [
        "",
        f"Saved index (`galvae similar`'s path): indexing the catalogue file the first time took "
        f"{cached['first_fit_from_file_s']} s (reading it, building the exact index, saving it beside it); "
        f"a later `fit(path)` reloading it plus one query took {cached['reload_and_one_query_s']} s.",
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
