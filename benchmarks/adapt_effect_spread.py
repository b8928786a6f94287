"""Spread over seeds of the domain-adaptation test bed (tests/test_adapt_effect.py), to derive its thresholds.

Runs the test's bed (a DECaLS store and a worse, shallower, 2.5x-brighter "shallow" survey on an
overlap set; a base VAE; ``adapt`` at λ = 0, 0.5, 5) over simulation seeds × adapt seeds and writes the
before/after MMD² (disjoint halves), median paired latent MSE and source SSIM, and their factors.

    python benchmarks/adapt_effect_spread.py --size 16 --n 400 --overlap 300 --base-epochs 40 \
        --adapt-epochs 20 --sim-seeds 0 1 2 --adapt-seeds 0 1 --out OUT.json

The runs behind the test's thresholds are in ``benchmarks/adapt_effect_spread.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from galvae.data.store import ImageStore
from galvae.simulate.core import simulate
from galvae.training.adapt import adapt
from galvae.training.train import train
from test_adapt_effect import BED_MORPHOLOGY, BED_NEIGHBOURS, SHALLOW, _gap


def one(root: Path, a: argparse.Namespace, sim_seed: int, adapt_seeds: list[int]) -> list[dict]:
    simulate(
        root / "sim",
        n_galaxies=a.n,
        overlap=a.overlap,
        size=a.size,
        seed=sim_seed,
        workers=2,
        progress=False,
        surveys=("decals", SHALLOW),
        morphology=BED_MORPHOLOGY,
        neighbours=BED_NEIGHBOURS,
        votes_follow_visibility=False,
    )
    src, tgt = root / "sim" / "decals.h5", root / "sim" / "shallow.h5"
    train(src, root / "base", epochs=a.base_epochs, seed=0, progress=False)
    with ImageStore(src) as s, ImageStore(tgt) as t:
        ids = np.intersect1d(s.ids, t.ids)
        xs, xt = s.read(s.index_of(ids)), t.read(t.index_of(ids))
    before = _gap(root / "base", xs, xt)
    rows = []
    for aseed in adapt_seeds:
        row = {"sim_seed": sim_seed, "adapt_seed": aseed, "before": before}
        for lam in (0.0, 0.5, 5.0):
            out = root / f"da_{aseed}_{lam}"
            adapt(
                root / "base",
                src,
                tgt,
                out,
                lam=lam,
                epochs=a.adapt_epochs,
                seed=aseed,
                progress=False,
                trainer_kwargs={"check_val_every_n_epoch": a.adapt_epochs},
            )
            row[f"lam{lam}"] = _gap(out, xs, xt)
        b = before
        for lam in (0.0, 0.5, 5.0):
            g = row[f"lam{lam}"]
            row[f"f_mmd_{lam}"] = b["mmd2"] / g["mmd2"] if g["mmd2"] > 0 else float("inf")
            row[f"f_mse_{lam}"] = b["mse"] / g["mse"]
            row[f"d_ssim_{lam}"] = g["ssim"] - b["ssim"]
        row["mmd0_over_mmd5"] = row["lam0.0"]["mmd2"] / max(row["lam5.0"]["mmd2"], 1e-12)
        row["mmd0_over_mmd05"] = row["lam0.0"]["mmd2"] / row["lam0.5"]["mmd2"]
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--overlap", type=int, default=300)
    p.add_argument("--base-epochs", type=int, default=40)
    p.add_argument("--adapt-epochs", type=int, default=20)
    p.add_argument("--sim-seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--adapt-seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    rows, t0 = [], time.perf_counter()
    for s in a.sim_seeds:
        with tempfile.TemporaryDirectory() as d:
            rows += one(Path(d), a, s, a.adapt_seeds)
    meta = {k: v for k, v in vars(a).items() if k != "out"}
    meta["wall_s"] = time.perf_counter() - t0
    meta["torch"] = torch.__version__
    a.out.write_text(json.dumps({"config": meta, "runs": rows}, indent=1, default=float))


if __name__ == "__main__":
    main()
