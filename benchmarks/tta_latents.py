"""Orientation-averaged latents: does averaging μ over the eight turns and mirror images help Table 3's forests?

On a ``galvae demo`` directory: its NL = 40 model encodes each galaxy's image as it is and in its seven other
dihedral transforms (quarter turns, mirrored or not); the forests of Table 3 (``random_forest``, 200 trees,
three seeds averaged, the run's own train/test split per feature from ``table3/splits.json``) then read μ, the
mean of the eight μ, and both; the run's PCA-40 accuracy beside them.  Results: ``benchmarks/science.md``.

    .venv/bin/python benchmarks/tta_latents.py galvae-demo
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd

from galvae.data.store import open_store
from galvae.evaluate.protocol import random_forest
from galvae.latents.model import GalaxyVAE


def main(demo: str) -> None:
    model = GalaxyVAE.load(f"{demo}/run")
    with open_store(f"{demo}/data/decals.h5") as st:
        ids = np.asarray(st.ids).astype(str)
        images = np.asarray(st.images[:], dtype=np.float32)
    mus = []
    for k in range(4):
        for mirror in (False, True):
            x = np.rot90(images, k, axes=(2, 3))
            mus.append(model.encode(np.ascontiguousarray(x[..., ::-1] if mirror else x)))
    mu, mean = mus[0], np.mean(mus, axis=0)
    sets = {
        "μ": pd.DataFrame(mu, index=ids),
        "mean of the 8 μ": pd.DataFrame(mean, index=ids),
        "μ and the mean": pd.DataFrame(np.concatenate([mu, mean], axis=1), index=ids),
    }
    labels = pd.read_parquet(f"{demo}/labels.parquet").set_index("id")
    with open(f"{demo}/table3/splits.json") as fh:
        splits = json.load(fh)
    pred = pd.read_csv(f"{demo}/table3/predictions.csv", dtype={"id": str})
    print("| feature | N test | PCA-40 (run) | " + " | ".join(sets) + " |")
    print("|---|---|---|" + "---|" * len(sets))
    for f, sp in splits.items():
        tr, te = sp["train"], sp["test"]
        ytr, yte = labels.loc[tr, f].astype(str).values, labels.loc[te, f].astype(str).values
        pca = np.mean(pred[pred.feature == f].set_index("id").loc[te, "pca"].astype(str).values == yte)
        cells = []
        for lat in sets.values():
            acc = [
                np.mean(random_forest(200, s, n_jobs=2).fit(lat.loc[tr].values, ytr).predict(lat.loc[te].values) == yte)
                for s in range(3)
            ]
            cells.append(f"{np.mean(acc):.3f}")
        print(f"| {f} | {len(te)} | {pca:.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "galvae-demo")
