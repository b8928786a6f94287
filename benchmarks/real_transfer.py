"""Sim-to-real: a VAE trained on the simulator's gz-decals images, applied unchanged to real Galaxy Zoo DECaLS images.

The paper trained on Galaxy Zoo DECaLS images; galvae's demo trains on the simulator.  This benchmark asks
whether what the simulation-trained encoder learned carries over to real galaxies:

* ingests the 200 real Galaxy Zoo DECaLS JPEGs of ``shared/data/`` (``galvae ingest --profile gz-decals``,
  the presentation they already are) at the run's image size and field fraction;
* reconstructs them with the run's model: SSIM the paper's way (8-bit, L = 255) on the real images, beside the
  run's own held-out SSIM on simulations;
* encodes them and asks random forests (5-fold cross-validation, 200 trees, seed 0) to recover the labels
  from the latent means, against the same forests on 40 PCA components fitted on the *real* pixels of each
  training fold (a baseline that has seen real data, which the VAE has not): the ring label (balanced
  100/100; accuracy against the majority rate 0.5) and the three vote fractions (regression, R² against
  0 for predicting the mean).  Every galaxy of the set is "featured" and none edge-on by a 0.5 cut of its
  fractions, so the fractions are regressed rather than thresholded.

Writes ``OUT.json`` and ``OUT.md`` (default ``benchmarks/real_transfer``).  Run from the repository root
after ``galvae demo --profile gz-decals`` (or any gz-decals run)::

    .venv/bin/python benchmarks/real_transfer.py RUN --real ../shared/data/gz_decals_real.csv
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, StratifiedKFold

import galvae
from galvae.data.store import ImageStore
from galvae.evaluate.ssim import ssim

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine

#: label -> (catalogue column, "accuracy" of a classifier or "R2" of a regressor)
LABELS = {
    "ring": ("ring", "accuracy"),
    "featured fraction": ("smooth-or-featured_featured-or-disk_fraction", "R2"),
    "edge-on 'no' fraction": ("disk-edge-on_no_fraction", "R2"),
    "has-arms 'no' fraction": ("has-spiral-arms_no_fraction", "R2"),
}


def _cv_score(x: np.ndarray, y: np.ndarray, metric: str, seed: int, pca: bool = False) -> float:
    """Mean test score of a 200-tree forest over 5 folds (stratified for a class label).

    ``pca``: the forest sees 40 PCA components of ``x``, PCA fitted on each training fold.
    """
    folds = (StratifiedKFold if metric == "accuracy" else KFold)(5, shuffle=True, random_state=seed)
    scores = []
    for tr, te in folds.split(x, y):
        a, b = x[tr], x[te]
        if pca:
            proj = PCA(40, random_state=seed).fit(a)
            a, b = proj.transform(a), proj.transform(b)
        if metric == "accuracy":
            rf = RandomForestClassifier(200, random_state=seed, n_jobs=-1).fit(a, y[tr])
            scores.append(float((rf.predict(b) == y[te]).mean()))
        else:
            rf = RandomForestRegressor(200, random_state=seed, n_jobs=-1).fit(a, y[tr])
            scores.append(float(r2_score(y[te], rf.predict(b))))
    return float(np.mean(scores))


def _quantised(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a gz-decals run directory (e.g. a demo's run/)")
    p.add_argument("--real", default="../shared/data/gz_decals_real.csv", help="the real images' catalogue")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).parent / "real_transfer"))
    args = p.parse_args(argv)
    real = Path(args.real)
    cat = pd.read_csv(real)
    model = galvae.GalaxyVAE.load(args.run)
    size, fraction = model.config.size, model.field_fraction
    work = Path(tempfile.mkdtemp(prefix="galvae-real-"))
    t0 = time.perf_counter()
    galvae.ingest(
        real,
        work / "real.h5",
        size=size,
        images_root=real.parent / real.stem,
        profile="gz-decals",
        field_fraction=fraction,  # the part of the Galaxy Zoo field the model was trained on
        progress=False,
    )
    galvae.encode_store(model, work / "real.h5", work / "real.parquet", progress=False)
    galvae.reconstruct_store(model, work / "real.h5", work / "recon.h5", progress=False)
    with ImageStore(work / "real.h5") as st, ImageStore(work / "recon.h5") as rc:
        ids = np.asarray(st.ids)
        images = st.read()
        recon = rc.read(rc.index_of(ids))
    ssim_real = ssim(_quantised(images), _quantised(recon), data_range=255.0)
    lat = pd.read_parquet(work / "real.parquet").set_index("id").loc[ids]
    mu = lat[[c for c in lat.columns if c.startswith("mu_")]].to_numpy()
    pixels = images.reshape(len(images), -1)
    labelled = cat.set_index("id").loc[ids]
    rows = []
    for name, (column, metric) in LABELS.items():
        y = labelled[column].to_numpy()
        y = y.astype(int) if metric == "accuracy" else y.astype(float)
        rows.append(
            {
                "label": name,
                "metric": metric,
                "n": int(y.size),
                "chance": float(max(y.mean(), 1 - y.mean())) if metric == "accuracy" else 0.0,
                "latents": _cv_score(mu, y, metric, args.seed),
                "pca40_real_pixels": _cv_score(pixels, y, metric, args.seed, pca=True),
            }
        )
    run_metrics = json.loads((Path(args.run) / "model.json").read_text()).get("metrics", {})
    result = {
        "machine": machine(),
        "params": vars(args),
        "size": size,
        "n_real": len(ids),
        "ssim_real_8bit_median": float(np.median(ssim_real)),
        "ssim_real_8bit_mean": float(np.mean(ssim_real)),
        "run_metrics": run_metrics,
        "labels": rows,
        "seconds": time.perf_counter() - t0,
    }
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Sim-to-real: the simulation-trained VAE on real Galaxy Zoo DECaLS images",
        "",
        f"Run `{args.run}` ({size} px, trained on the simulator's gz-decals images only), applied unchanged to the "
        f"{len(ids)} real Galaxy Zoo DECaLS images of `shared/data/` (ingested with `--profile gz-decals"
        f" --field-fraction {fraction:g}`, the model's presentation). "
        "Produced by `benchmarks/real_transfer.py`.",
        "",
        f"Reconstruction SSIM on the real images (8-bit, L = 255): median {result['ssim_real_8bit_median']:.3f}, "
        f"mean {result['ssim_real_8bit_mean']:.3f}.",
        "",
        "Random forests, 5-fold cross-validation on the real images: the latent means of the "
        "simulation-trained encoder against 40 PCA components of the real pixels (fitted on each training fold); "
        "chance is the majority rate for the ring label and R² = 0 (predicting the mean) for the fractions.",
        "",
        "| label | metric | n | chance | latents | PCA-40 of real pixels |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['metric']} | {r['n']} | {r['chance']:.3f} | {r['latents']:.3f} | "
            f"{r['pca40_real_pixels']:.3f} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
