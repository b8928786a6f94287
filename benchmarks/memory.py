"""Peak resident memory of encoding and training at N and 10 N images: does it stay flat (issue 14)?

Run:  .venv/bin/python benchmarks/memory.py [--n 2048] [--size 64] [--no-train] [--out benchmarks/memory]
Writes OUT.json and OUT.md.  Nothing is downloaded: random images at S = 64 (48 KiB each) are
written to a temporary directory as one HDF5 store and as a sharded store (shards of N images,
so 1 and 10 shards), and a VAE of NL = 40 is exported untrained (memory does not depend on the
weights' values).

Each measurement runs in its own child process: the model is loaded and galvae, torch and
Lightning imported, then the high-water mark of the resident set is reset (writing 5 to
/proc/self/clear_refs) and the work runs; the peak is VmHWM of /proc/self/status.  Resident set,
not tracemalloc, so torch's and HDF5's native buffers count; not ru_maxrss, which in a subprocess
child includes the parent's RSS at the fork.  Measured:

- ``encode_store`` (one Parquet file) of the single store and of the sharded store (its manifest);
- ``encode_store_sharded`` (``galvae encode RUN MANIFEST --out DIR``: Lightning's predict loop,
  one process, Parquet parts of N rows) of the sharded store;
- one epoch of ``galvae.training.train`` (batch 64, precision 32, CPU) on the sharded store,
  streaming (``GALVAE_IN_MEMORY_LIMIT=0``: without it a store under 1 GiB is held in memory by
  design, the fast path for small stores, which is not what a survey-scale run sees).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine

BLOCK = 1024


def _rss_mib(field: str = "VmRSS") -> float:
    """VmRSS (now) or VmHWM (high-water mark) of /proc/self/status in MiB; NaN where unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def make_inputs(tmp: Path, n: int, size: int, latent_dim: int) -> dict[str, Any]:
    """The exported model and, for N and 10 N images, one store and one sharded store (shards of N)."""
    import torch

    from galvae.config import StretchConfig
    from galvae.data.manifest import ShardedStoreWriter
    from galvae.data.store import ImageStoreWriter
    from galvae.latents import export_model
    from galvae.models import VAE, ModelConfig

    norm = StretchConfig(kind="none")
    torch.manual_seed(0)
    model = export_model(VAE(ModelConfig(size=size, latent_dim=latent_dim)), tmp / "run", normalisation=norm)
    out: dict[str, Any] = {"model": str(model), "stores": {}}
    for k in (1, 10):
        total = k * n
        single = ImageStoreWriter(tmp / f"single_{k}.h5", size=size, survey="bench", normalisation=norm)
        sharded = ShardedStoreWriter(
            tmp / f"sharded_{k}.json", shard_size=n, size=size, survey="bench", normalisation=norm
        )
        rng = np.random.default_rng([0, k])
        with single, sharded:
            for a in range(0, total, BLOCK):
                b = min(total, a + BLOCK)
                imgs = rng.random((b - a, 3, size, size), dtype=np.float32)
                ids = [f"b{i:07d}" for i in range(a, b)]
                single.append(imgs, ids)
                sharded.append(imgs, ids)
        out["stores"][k] = {"single": str(single.path), "sharded": str(sharded.path)}
    return out


def child(kind: str, model: str, store: str, out: str, shard_rows: int) -> None:
    """In a child process: peak resident memory of one piece of work, printed as JSON."""
    from galvae.data.store import open_store
    from galvae.latents import GalaxyVAE, encode_store, encode_store_sharded

    if kind in ("train", "encode_sharded"):
        import lightning.pytorch  # noqa: F401  (imported before the reset, like the other imports)
    if kind == "train":
        from galvae.training.train import train
    vae = GalaxyVAE.load(model)
    with open_store(store) as st:
        n = len(st)
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    before = _rss_mib()
    t0 = time.perf_counter()
    if kind == "encode_store":
        encode_store(vae, store, out, progress=False)
    elif kind == "encode_sharded":
        encode_store_sharded(vae, store, out, shard_rows=shard_rows, progress=False)
    elif kind == "train":
        train(
            store,
            out,
            latent_dim=vae.latent_dim,
            epochs=1,
            batch_size=64,
            precision="32",
            accelerator="cpu",
            progress=False,
            logger="csv",
            val_fraction=0.1,
            seed=0,
        )
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    dt = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "images": n,
                "rss_before_mib": round(before, 1),
                "peak_mib": round(_rss_mib("VmHWM"), 1),
                "peak_reset": reset,
                "seconds": round(dt, 1),
            }
        )
    )


def measure(kind: str, model: str, store: str, out: Path, shard_rows: int, env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, model, store, str(out), "--shard-rows", str(shard_rows)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"{kind} on {store} failed:\n{res.stderr[-3000:]}")
    row = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"{kind:>15} {Path(store).name:>18}: {row}", flush=True)
    return row


LABELS = {
    ("encode_store", "single"): "`encode_store` → one Parquet file, one `.h5` store",
    ("encode_store", "sharded"): "`encode_store` → one Parquet file, sharded store (manifest)",
    (
        "encode_sharded",
        "sharded",
    ): "`encode_store_sharded` (`encode --out DIR`, Lightning predict, 1 process), sharded store",
    ("train", "sharded"): "`train`, one epoch, streaming (`GALVAE_IN_MEMORY_LIMIT=0`), sharded store",
}


NOTES = """How to read it: the images are read batch by batch (256 at a time for encoding, 64 for
training), from one shard at a time, with at most 32 shard files open per process, so the images
themselves never accumulate: 10 N images are 10 × more bytes read, not more memory held.  What does
grow with N is per-row bookkeeping.  `encode_store` (one Parquet file) keeps the ids, latent means,
log-variances and recon_error of every row until it writes the file: the 10 N − N column for it is
that cost for 18 432 more rows (about 1.5 KB per row if it were all per-row, i.e. ~15 GB at 10 million
rows -- an upper-bound extrapolation from two points), so at survey scale write a directory
(`--out DIR`).  `encode_store_sharded` holds one part (`--shard-rows` rows) at a time; only its last
step, on rank 0, reads the ids and latent means of every part (N × (NL float32 + id)) to compute the
outlier columns over the whole catalogue and check that every id appears once.  With two points
these numbers do not separate per-row growth from per-open-shard growth (10 shards are open at
10 N, each with HDF5's 1 MiB chunk cache) or allocator slack.  Its higher 'before' is Lightning,
imported before the reset.  Training streams over the sharded store with `GALVAE_IN_MEMORY_LIMIT=0`;
without it `GalaxyDataset` holds stores under 1 GiB of images in memory, by design.  The page cache
(store bytes the kernel keeps) is not the process's resident memory and is not counted."""


def write_md(res: dict[str, Any], path: Path) -> None:
    m = res["machine"]
    n = res["n"]
    lines = [
        "# galvae peak resident memory at N and 10 N images (`benchmarks/memory.py`)",
        "",
        f"{res['date']}; galvae {res['galvae']}, torch {res['torch']}, Python {m['python']}; {m['cpu']}, "
        f"{m['cores']} cores; load average {m['load_average']} at the start, {res['load_end']} at the end.",
        "",
        f"S = {res['size']}, NL = {res['latent_dim']}, N = {n:,} random images ({res['size']}² × 3 float32 = "
        f"{3 * res['size'] ** 2 * 4 / 1024:.0f} KiB each); sharded stores hold shards of N images (1 and 10 shards); "
        f"sharded encodings write parts of {res['shard_rows']:,} rows.  Each number is the peak resident set "
        "(VmHWM) of a child process, its high-water mark reset after the imports and the model load; "
        "'before' is the resident set at that reset.",
        "",
        f"| work | N = {n:,}: peak (before) | 10 N = {10 * n:,}: peak (before) | 10 N − N | time at 10 N |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in res["rows"]:
        a, b = row["n"], row["10n"]
        lines.append(
            f"| {LABELS[(row['kind'], row['store'])]} | {a['peak_mib']:.0f} MiB ({a['rss_before_mib']:.0f}) | "
            f"{b['peak_mib']:.0f} MiB ({b['rss_before_mib']:.0f}) | {b['peak_mib'] - a['peak_mib']:+.0f} MiB | "
            f"{b['seconds']:.0f} s |"
        )
    lines += ["", NOTES, ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2048, help="N (default 2048)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=40)
    p.add_argument("--shard-rows", type=int, default=2048, help="rows per Parquet part of encode_store_sharded")
    p.add_argument("--no-train", action="store_true", help="skip the training epochs")
    p.add_argument("--tmp", help="working directory (default: a temporary one, removed)")
    p.add_argument("--out", default=str(Path(__file__).with_name("memory")), help="OUT.json and OUT.md")
    p.add_argument("--render", metavar="JSON", help="only rewrite OUT.md from an earlier OUT.json")
    p.add_argument("--child", nargs=4, metavar=("KIND", "MODEL", "STORE", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(*args.child, shard_rows=args.shard_rows)
        return
    if args.render:
        write_md(json.loads(Path(args.render).read_text()), Path(args.out).with_suffix(".md"))
        return

    import torch

    import galvae

    start = machine()
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmpdir:
        tmp = Path(tmpdir)
        t0 = time.perf_counter()
        inputs = make_inputs(tmp, args.n, args.size, args.latent_dim)
        print(f"inputs written in {time.perf_counter() - t0:.0f} s", flush=True)
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(os.cpu_count() or 1))}
        plan = [("encode_store", "single"), ("encode_store", "sharded"), ("encode_sharded", "sharded")]
        if not args.no_train:
            plan.append(("train", "sharded"))
        rows = []
        for kind, which in plan:
            row: dict[str, Any] = {"kind": kind, "store": which}
            for k, key in ((1, "n"), (10, "10n")):
                store = inputs["stores"][k][which]
                out = tmp / f"{kind}_{which}_{k}{'.parquet' if kind == 'encode_store' else ''}"
                e = {**env, "GALVAE_IN_MEMORY_LIMIT": "0"} if kind == "train" else env
                row[key] = measure(kind, inputs["model"], store, out, args.shard_rows, e)
            rows.append(row)
    res = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "galvae": galvae.__version__,
        "torch": torch.__version__,
        "machine": start,
        "load_end": round(os.getloadavg()[0], 2),
        "n": args.n,
        "size": args.size,
        "latent_dim": args.latent_dim,
        "shard_rows": args.shard_rows,
        "rows": rows,
    }
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    write_md(res, out.with_suffix(".md"))
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
