"""Is merger missing from the latents, or only hard for a forest to read from them?

On a ``galvae demo`` directory, Table 3's protocol (:func:`galvae.classify`, PCA fitted on the VAE run's
training galaxies, 70/30 splits with seeds 0 … R−1, 200 trees) on four inputs, mean accuracy over the splits:

* the latent means μ (Table 3's "latents");
* PCA-40 of the pixels (Table 3's baseline);
* PCA-40 of the VAE's *reconstructions* (``recon_decals.h5``): a function of the latents alone, so whatever it
  classifies, the latents hold;
* μ rotated onto its principal axes and whitened (the same information in another basis).

If PCA-40 of the reconstructions matches PCA-40 of the pixels where the latents fall short, the latents carry
the feature and it is the forest, reading μ axis by axis, that does not find it.  With ``--truth`` the classes are
the simulator's truth (``truth_*`` of ``data/catalog.parquet``, named as Table 2's: bar none / weak / strong,
bulge size large = large + dominant, merger = merger against none, disturbances left out, arm count 1–4) instead
of the simulated volunteers' Table 2 labels: what each input holds of what the galaxies really are.  Results:
``benchmarks/science.md``.

    .venv/bin/python benchmarks/merger_readout.py galvae-demo [--repeats 5] [--truth]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sklearn.decomposition import PCA

from galvae import classify

NAMES = ("latents μ", "PCA-40 of the pixels", "PCA-40 of the reconstructions", "μ rotated and whitened")
#: Table 2 feature <- (truth column, {truth answer: Table 2 class}); answers not listed give no label.
TRUTH_AS_TABLE2 = {
    "how_rounded": ("truth_how_rounded", {"round": "round", "in-between": "in-between", "cigar-shaped": "cigar"}),
    "edge_on": ("truth_disk_edge_on", {"yes": "edge-on", "no": "other"}),
    "edge_on_bulge": ("truth_edge_on_bulge", {"rounded": "rounded", "boxy": "boxy", "none": "none"}),
    "bar": ("truth_bar", {"no": "none", "weak": "weak", "strong": "strong"}),
    "has_arms": ("truth_has_spiral_arms", {"yes": "yes", "no": "no"}),
    "arm_tightness": ("truth_spiral_winding", {"tight": "tight", "medium": "medium", "loose": "loose"}),
    "arm_count": ("truth_spiral_arm_count", {"1": "1", "2": "2", "3": "3", "4": "4"}),
    "bulge_size": (
        "truth_bulge_size",
        {"none": "none", "small": "small", "moderate": "moderate", "large": "large", "dominant": "large"},
    ),
    "merger": ("truth_merging", {"merger": "merger", "none": "none"}),
}


def truth_labels(catalog: Path) -> pd.DataFrame:
    """The simulator's true classes as a Table 2 labels table (``id`` + one column per feature, None = no label)."""
    cat = pd.read_parquet(catalog)
    out = pd.DataFrame({"id": cat["id"].astype(str).to_numpy(dtype=object)})
    for feature, (col, names) in TRUTH_AS_TABLE2.items():
        out[feature] = [names.get(v) if isinstance(v, str) else None for v in cat[col].astype(object)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", help="a galvae demo directory (with recon_decals.h5)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--truth", action="store_true", help="classify the simulator's true classes, not the labels")
    args = ap.parse_args()
    logging.getLogger("galvae").setLevel(logging.WARNING)
    d = Path(args.demo)
    lat = pd.read_parquet(d / "latents_decals.parquet")
    mu_cols = [c for c in lat.columns if c.startswith("mu_")]
    rotated = lat.copy()
    rotated[mu_cols] = PCA(len(mu_cols), whiten=True, random_state=0).fit_transform(lat[mu_cols].to_numpy())
    acc: dict[str, dict[str, list[float]]] = {}
    majority: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        rot_path = Path(tmp) / "latents_rotated.parquet"
        labels = d / "labels.parquet"
        if args.truth:
            labels = Path(tmp) / "truth_labels.parquet"
            truth_labels(d / "data/catalog.parquet").to_parquet(labels)
        # the catalogue's metadata (the run it came from) travels with the copy, so PCA fits on the same galaxies
        meta = pq.read_schema(d / "latents_decals.parquet").metadata
        rotated.to_parquet(rot_path)
        pq.write_table(pq.read_table(rot_path).replace_schema_metadata(meta), rot_path)
        # (latents, store, baselines, {method in classify's table: column here}); one call per input
        calls = [
            (d / "latents_decals.parquet", d / "data/decals.h5", ("pca",), {"vae": NAMES[0], "pca": NAMES[1]}),
            (d / "latents_decals.parquet", d / "recon_decals.h5", ("pca",), {"pca": NAMES[2]}),
            (rot_path, None, (), {"vae": NAMES[3]}),
        ]
        for seed in range(args.repeats):
            for latents, store, baselines, methods in calls:
                res = classify(
                    str(latents),
                    str(labels),
                    store=None if store is None else str(store),
                    baselines=baselines,
                    seed=seed,
                    n_estimators=200,
                    min_galaxies=101,
                    n_jobs=2,
                    progress=False,
                )
                for method, name in methods.items():
                    t = res.table[res.table.method == method].set_index("feature")
                    for f in t.index:
                        acc.setdefault(f, {}).setdefault(name, []).append(float(t.accuracy[f]))
                        majority[f] = float(t.majority_rate[f])
    what = "the simulator's true classes" if args.truth else "the Table 2 labels"
    print(f"{args.repeats} splits, 200 trees; mean test accuracy on {what}")
    print("| feature | majority | " + " | ".join(NAMES) + " |")
    print("|---|---|" + "---|" * len(NAMES))
    for f, row in acc.items():
        print(f"| {f} | {majority[f]:.3f} | " + " | ".join(f"{np.mean(row[n]):.3f}" for n in NAMES) + " |")


if __name__ == "__main__":
    main()
