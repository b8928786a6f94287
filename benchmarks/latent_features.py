"""Which encoder outputs the Table 3 forests should read: the latent means alone, or with the log-variances.

On a ``galvae demo`` directory: the same train/test split per feature as its ``table3/`` (``splits.json``), the
same forest (``galvae.evaluate.protocol.random_forest``, 200 trees, three seeds averaged), on the latent means
μ (what ``galvae classify`` uses, as the paper does), μ with the 40 log-variances, and with the reconstruction
error too; the run's own PCA-40 and latent-forest test accuracies beside them (``table3/predictions.csv``).

    .venv/bin/python benchmarks/latent_features.py galvae-demo
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd

from galvae.evaluate.protocol import random_forest


def main(demo: str) -> None:
    lat = pd.read_parquet(f"{demo}/latents_decals.parquet").set_index("id")
    lab = pd.read_parquet(f"{demo}/labels.parquet").set_index("id")
    with open(f"{demo}/table3/splits.json") as fh:
        splits = json.load(fh)
    pred = pd.read_csv(f"{demo}/table3/predictions.csv", dtype={"id": str})
    mu = [c for c in lat.columns if c.startswith("mu_")]
    lv = [c for c in lat.columns if c.startswith("logvar_")]
    sets = {"μ": mu, "μ + log σ²": mu + lv, "μ + log σ² + recon error": [*mu, *lv, "recon_error"]}
    print("| feature | N test | PCA-40 (run) | latents (run) | " + " | ".join(sets) + " |")
    print("|---|---|---|---|" + "---|" * len(sets))
    for f, sp in splits.items():
        tr, te = sp["train"], sp["test"]
        ytr, yte = lab.loc[tr, f].astype(str).values, lab.loc[te, f].astype(str).values
        p = pred[pred.feature == f].set_index("id").loc[te]
        cells = []
        for cols in sets.values():
            acc = []
            for seed in range(3):
                rf = random_forest(200, seed, n_jobs=2).fit(lat.loc[tr, cols].values, ytr)
                acc.append(np.mean(rf.predict(lat.loc[te, cols].values) == yte))
            cells.append(f"{np.mean(acc):.3f}")
        run = [f"{np.mean(p[m].astype(str).values == yte):.3f}" for m in ("pca", "vae")]
        print(f"| {f} | {len(te)} | {run[0]} | {run[1]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "galvae-demo")
