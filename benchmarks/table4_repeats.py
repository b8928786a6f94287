"""Table 4's before/after verdict over several train/test splits of the overlap galaxies instead of one.

``galvae compare-domains`` (the demo's compare stage) scores each Table 4 feature on one 70/30 split of the
labelled overlap galaxies: 39–132 test galaxies, where one split moves an accuracy by ±5 points.  This repeats
:func:`galvae.compare_domains` on a ``galvae demo`` directory (its ``run``, ``run_da`` and ``run_da_control``,
200 trees) with seeds 0 … R−1 — each seed draws another split and forest — and reports per feature the mean
accuracy of every column, and over the features how often each comparison holds:

* *after > before*: the paper's reading (a forest retrained on the adapted BASS+MzLS latents against the
  DECaLS forest applied unchanged to the unadapted BASS+MzLS latents);
* *after > retrained before*: what the adaptation adds to retraining alone (``target_before_retrained``);
* *aligned > before*: a forest on the same DECaLS galaxies' adapted latents, applied to the adapted BASS+MzLS
  latents (``target_after_source_forest``), against *before*: the same training galaxies, only the encoder differs.

    .venv/bin/python benchmarks/table4_repeats.py galvae-demo [--repeats 5]
"""

from __future__ import annotations

import argparse
import logging
import tempfile

import pandas as pd

from galvae import compare_domains

COLUMNS = {
    "source_before": "DECaLS before",
    "target_before": "BASS+MzLS before (DECaLS forest)",
    "target_after": "BASS+MzLS after (retrained)",
    "target_before_retrained": "control: before, retrained",
    "target_after_source_forest": "control: after, DECaLS forest",
    "majority_rate": "majority",
}
COMPARISONS = {
    "after > before": ("target_after", "target_before"),
    "after > retrained before": ("target_after", "target_before_retrained"),
    "aligned > before": ("target_after_source_forest", "target_before"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", help="a galvae demo directory")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    logging.getLogger("galvae").setLevel(logging.WARNING)
    d = args.demo
    tables = []
    gain = "no held-out test pairs"
    for seed in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            res = compare_domains(
                f"{d}/run",
                f"{d}/data/decals.h5",
                f"{d}/data/bass_mzls.h5",
                f"{d}/data/catalog.parquet",
                after=f"{d}/run_da",
                control=f"{d}/run_da_control",
                out_dir=tmp,
                min_galaxies=101,
                seed=seed,
                n_jobs=2,
                progress=False,
            )
        tables.append(res.table.assign(seed=seed))
        if seed == 0 and res.heldout:
            h = res.heldout
            gain = f"adaptation on the {h['n']} held-out test pairs: paired / random latent MSE falls {h['gain']:.2f}×"
            if "gain_control" in h:
                gain += f" (control {h['gain_control']:.2f}×)"
    t = pd.concat(tables, ignore_index=True)
    n_test = t.groupby("feature", sort=False).n_test.first()
    means = t.groupby("feature", sort=False)[list(COLUMNS)].mean()
    print(gain)
    print()
    print(f"{args.repeats} splits of the overlap galaxies, 200 trees; mean test accuracy")
    print("| feature | test galaxies | " + " | ".join(COLUMNS.values()) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for f, row in means.iterrows():
        print(f"| {f} | {n_test[f]} | " + " | ".join(f"{row[c]:.3f}" for c in COLUMNS) + " |")
    print()
    print("| comparison | feature-splits where it holds (ties apart) | mean difference (points) |")
    print("|---|---|---|")
    for name, (a, b) in COMPARISONS.items():
        diff = t[a] - t[b]
        print(
            f"| {name} | {int((diff > 0).sum())} of {len(t)} ({int((diff == 0).sum())} ties) | {100 * diff.mean():+.1f} |"
        )


if __name__ == "__main__":
    main()
