"""Table 3's latent-versus-PCA-40 verdict over several train/test splits instead of one.

``galvae classify`` scores each feature on one 70/30 split with one forest seed; on the demo's 44–525 test
galaxies per feature that single draw decides whether "latents ≥ PCA-40" holds.  This repeats
:func:`galvae.classify` (baselines ``pca`` only: the CNN would cost a minute per repeat) with seeds
0 … R−1 — each seed draws another split, forest and PCA subsample — for each forest size, and reports per
feature the mean and standard deviation over the splits of the latent forest's accuracy minus PCA-40's (and the
mean accuracies of both with the majority rate), and
per repeat the counts the report makes (features ≥ PCA-40, ≥ majority + 10 points, significantly below
PCA-40 by McNemar's test).  The last column gives both methods' macro-averaged F1 (each class counted alike): where
PCA-40 sits at the majority rate (arm winding, arm count and bar on the demo's galaxies), accuracy compares two
forests that mostly answer the commonest class, and macro-F1 shows which one tells the classes apart.

    .venv/bin/python benchmarks/table3_repeats.py galvae-demo [--repeats 5] [--trees 200 1000]
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from galvae import classify


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", help="a galvae demo directory")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--trees", type=int, nargs="+", default=[200, 1000])
    args = ap.parse_args()
    logging.getLogger("galvae").setLevel(logging.WARNING)
    d = args.demo
    for trees in args.trees:
        diffs: dict[str, list[float]] = {}
        accs: dict[str, list[tuple[float, float, float]]] = {}
        f1s: dict[str, list[tuple[float, float]]] = {}
        counts = []
        for seed in range(args.repeats):
            res = classify(
                f"{d}/latents_decals.parquet",
                f"{d}/labels.parquet",
                store=f"{d}/data/decals.h5",
                baselines=("pca",),
                seed=seed,
                n_estimators=trees,
                min_galaxies=101,
                n_jobs=2,
                progress=False,
            )
            t = res.table
            v, p = t[t.method == "vae"].set_index("feature"), t[t.method == "pca"].set_index("feature")
            for f in v.index:
                diffs.setdefault(f, []).append(float(v.accuracy[f] - p.accuracy[f]))
                accs.setdefault(f, []).append((float(v.accuracy[f]), float(p.accuracy[f]), float(v.majority_rate[f])))
                f1s.setdefault(f, []).append((float(v.f1_macro[f]), float(p.f1_macro[f])))
            below = (p.mcnemar_p < 0.05) & (p.method_only_right > p.vae_only_right)
            counts.append(
                (
                    int((v.accuracy >= p.accuracy).sum()),
                    int((v.accuracy >= v.majority_rate + 0.10).sum()),
                    int(below.sum()),
                )
            )
        print(f"\n{trees} trees, {args.repeats} splits")
        print("| counts per split | " + " | ".join(f"seed {s}" for s in range(args.repeats)) + " |")
        print("|---|" + "---|" * args.repeats)
        for k, name in enumerate(("latents ≥ PCA-40", "≥ majority + 10", "significantly below PCA-40")):
            print(f"| {name} | " + " | ".join(str(c[k]) for c in counts) + " |")
        print(
            "\n| feature | latents − PCA-40, mean ± sd over splits | splits with latents ≥ PCA-40 "
            "| latents / PCA-40 / majority, mean accuracy | macro-F1, latents / PCA-40 |"
        )
        print("|---|---|---|---|---|")
        for f, x in diffs.items():
            m, f1 = np.mean(accs[f], axis=0), np.mean(f1s[f], axis=0)
            print(
                f"| {f} | {np.mean(x):+.3f} ± {np.std(x):.3f} | {sum(v >= 0 for v in x)} of {len(x)} "
                f"| {m[0]:.3f} / {m[1]:.3f} / {m[2]:.3f} | {f1[0]:.3f} / {f1[1]:.3f} |"
            )


if __name__ == "__main__":
    main()
