"""Adaptation recipes judged on test pairs: early stopping on the pair ratio, the paired term, decoder epochs.

Runs ``galvae.adapt`` on a finished demo directory (its ``run/`` and ``data/{decals,bass_mzls}.h5``) with a
20 % test split, and measures the paired / random latent MSE (:func:`galvae.training.adapt.pair_ratio`)
before and after adaptation on the validation pairs (which chose the epoch) and on the test pairs (which
chose nothing), plus the DECaLS -> BASS+MzLS translation SSIM against the real BASS+MzLS images.
One JSON line per run on stdout; the numbers in ``benchmarks/science.md`` (2026-12-05, fifth session)
came from this script.

Example::

    galvae demo --out galvae-demo
    python benchmarks/adapt_recipes.py galvae-demo --pair-weight 1e4 --seeds 0 1 2 --decoder-epochs 5
    python benchmarks/adapt_recipes.py galvae-demo --pair-weight 0 --lam 0 --seeds 0 1 2   # the lambda = 0 control
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from galvae import GalaxyVAE, ImageStore, adapt, evaluate_translation
from galvae.training.adapt import pair_ratio


def _latents(model: GalaxyVAE, store: Path, ids: list[str]) -> tuple[np.ndarray, list[str]]:
    with ImageStore(store) as st:
        pos = {k: i for i, k in enumerate(st.ids)}
        rows = np.array(sorted(pos[i] for i in ids))
        return np.asarray(model.encode(st.read(rows))), [str(st.ids[r]) for r in rows]


def gains(demo: Path, run_da: Path) -> dict[str, float]:
    """Before / after paired-over-random ratio on the validation and test ids of ``run_da/split.json``."""
    split = json.loads((run_da / "split.json").read_text())
    models = {"before": GalaxyVAE.load(demo / "run"), "after": GalaxyVAE.load(run_da)}
    out = {}
    for which in ("val_ids", "test_ids"):
        ratio = {}
        for stage, model in models.items():
            s, a = _latents(model, demo / "data" / "decals.h5", split[which])
            t, b = _latents(model, demo / "data" / "bass_mzls.h5", split[which])
            if a != b:
                raise RuntimeError("the two stores order the ids differently")
            ratio[stage] = pair_ratio(s, t)
        out[which.removesuffix("_ids")] = ratio["before"] / ratio["after"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("demo", type=Path, help="a finished galvae demo directory")
    p.add_argument("--out", type=Path, default=Path("galvae-bench-adapt"), help="scratch directory")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pair-weight", type=float, default=1e4)
    p.add_argument("--lam", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--patience", type=int, default=3, help="0: no early stopping, export the last epoch")
    p.add_argument("--decoder-epochs", type=int, default=0)
    p.add_argument("--precision", default="auto")
    args = p.parse_args()
    for seed in args.seeds:
        out = args.out / f"g{args.pair_weight:g}_l{args.lam:g}_lr{args.lr:g}_p{args.patience}_s{seed}"
        t0 = time.perf_counter()
        res = adapt(
            args.demo / "run",
            args.demo / "data" / "decals.h5",
            args.demo / "data" / "bass_mzls.h5",
            out,
            lam=args.lam,
            lr=args.lr,
            pair_weight=args.pair_weight,
            epochs=args.epochs,
            seed=seed,
            test_fraction=0.2,
            monitor="val_pair_ratio",
            early_stopping=args.patience or None,
            export="best" if args.patience else "last",
            decoder_epochs=args.decoder_epochs,
            precision=args.precision,
            overwrite=True,
            progress=False,
        )
        seconds = time.perf_counter() - t0
        with open(out / "metrics.csv", newline="") as fh:
            curve = [float(f"{float(r['val_pair_ratio']):.4g}") for r in csv.DictReader(fh) if r.get("val_pair_ratio")]
        table = evaluate_translation(
            out, args.demo / "data" / "decals.h5", args.demo / "data" / "bass_mzls.h5", gallery=0, progress=False
        ).table.set_index("method")
        g = gains(args.demo, out)
        print(
            json.dumps(
                {
                    "seed": seed,
                    "pair_weight": args.pair_weight,
                    "lam": args.lam,
                    "lr": args.lr,
                    "patience": args.patience,
                    "decoder_epochs": args.decoder_epochs,
                    "epochs_run": res.epochs,
                    "adapt_s": round(seconds, 1),
                    "val_gain": round(g["val"], 3),
                    "test_gain": round(g["test"], 3),
                    "translation_ssim": round(float(table.loc["translated", "ssim_mean"]), 4),
                    "untranslated_ssim": round(float(table.loc["untranslated", "ssim_mean"]), 4),
                    "val_pair_ratio_by_epoch": curve,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
