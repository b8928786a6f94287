"""Why Table 3's merger row stays below PCA-40: what the VAE draws of a merger, and what forests read.

For a finished ``galvae demo`` directory this compares, on the galaxies Table 3 labels "merger" or "none"
(``labels.parquet``), random forests (200 trees, balanced classes, 5-fold stratified cross-validation, seed 0)
on the latent means against forests on 40 PCA components of the pixels (fitted on each training fold): ROC AUC,
accuracy, recall of the mergers at p > 0.5, and how many mergers each finds that the other misses.  It also
gives the reconstruction error (mean squared, stretched units) of mergers and of the rest, from the demo's
``recon_decals.h5``, and writes a montage of eight mergers above their reconstructions (and, with ``--also``,
another model's reconstructions of the same store below them).

    .venv/bin/python benchmarks/merger_latents.py galvae-demo [--recon FILE] [--png OUT.png] [--also LABEL=FILE]
"""

from __future__ import annotations

import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from galvae import ImageStore


def _forest_cv(features, y: np.ndarray, seed: int, pca: int | None = None) -> np.ndarray:
    """Out-of-fold probability of "merger" for every galaxy."""
    p = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(features, y):
        f = features
        if pca:
            f = PCA(pca, random_state=seed).fit(features[train]).transform(features)
        rf = RandomForestClassifier(200, class_weight="balanced", random_state=seed, n_jobs=2)
        p[test] = rf.fit(f[train], y[train]).predict_proba(f[test])[:, 1]
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", help="a galvae demo directory")
    ap.add_argument("--recon", help="reconstructions of the DECaLS store (default DEMO/recon_decals.h5)")
    ap.add_argument("--png", help="write the montage here")
    ap.add_argument("--label", default="VAE reconstruction", help="the montage's label of the demo's reconstructions")
    ap.add_argument("--also", action="append", default=[], help="LABEL=FILE: more reconstructions for the montage")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    d = args.demo
    lat = pd.read_parquet(f"{d}/latents_decals.parquet")
    lab = pd.read_parquet(f"{d}/labels.parquet")[["id", "merger"]].dropna()
    m = lat.merge(lab, on="id")
    y = (m.merger == "merger").to_numpy().astype(int)
    z = m[[c for c in lat.columns if c.startswith("mu_")]].to_numpy()
    with ImageStore(f"{d}/data/decals.h5") as st:
        x = st.read(st.index_of(m.id))
    with ImageStore(args.recon or f"{d}/recon_decals.h5") as st:
        r = st.read(st.index_of(m.id))
    p_lat = _forest_cv(z, y, args.seed)
    p_pca = _forest_cv(x.reshape(len(x), -1), y, args.seed, pca=40)
    out: dict[str, object] = {"n": int(len(y)), "n_mergers": int(y.sum()), "majority_rate": float(1 - y.mean())}
    for name, p in (("latents", p_lat), ("pca40", p_pca)):
        out[name] = {
            "auc": round(float(roc_auc_score(y, p)), 4),
            "accuracy": round(float(((p > 0.5) == y).mean()), 4),
            "merger_recall": round(float((p[y == 1] > 0.5).mean()), 3),
            "false_mergers": int((p[y == 0] > 0.5).sum()),
        }
    found_lat, found_pca = p_lat[y == 1] > 0.5, p_pca[y == 1] > 0.5
    out["mergers_found_by_pca40_only"] = int((found_pca & ~found_lat).sum())
    out["mergers_found_by_latents_only"] = int((found_lat & ~found_pca).sum())
    mse = ((x - r) ** 2).mean(axis=(1, 2, 3))
    out["reconstruction_mse_median"] = {
        "mergers": float(np.median(mse[y == 1])),
        "none": float(np.median(mse[y == 0])),
    }
    print(json.dumps(out, indent=1))
    if args.png:
        idx = np.where(y == 1)[0][:8]
        rows = [("image", x), (args.label, r)]
        for spec in args.also:
            label, _, path = spec.partition("=")
            with ImageStore(path) as st:
                rows.append((label, st.read(st.index_of(m.id))))
        fig, ax = plt.subplots(len(rows), len(idx), figsize=(2 * len(idx), 2.1 * len(rows)))
        for row, (label, imgs) in enumerate(rows):
            for j, i in enumerate(idx):
                ax[row, j].imshow(np.clip(imgs[i][::-1].transpose(1, 2, 0), 0, 1))  # z, r, g -> red, green, blue
                ax[row, j].axis("off")
            ax[row, 0].set_title(label, fontsize=8, loc="left")
        fig.tight_layout()
        fig.savefig(args.png, dpi=70)


if __name__ == "__main__":
    main()
