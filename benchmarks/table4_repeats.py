"""Table 4's before/after verdict over several train/test splits of the overlap galaxies instead of one.

``galvae compare-domains`` (the demo's compare stage) scores each Table 4 feature on one 70/30 split of the labelled
overlap galaxies: 39–132 test galaxies, where one split moves an accuracy by ±5 points.  This runs
:func:`galvae.compare_domains` with ``repeats`` (seeds 0 … R−1, each another split and forests; the same as
``galvae compare-domains … --repeats R``) on a ``galvae demo`` directory (its ``run``, ``run_da`` and
``run_da_control``, 200 trees) and prints the held-out pair gain, each column's mean over the splits and how
often each comparison holds:

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
from pathlib import Path

from galvae import compare_domains


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", help="a galvae demo directory")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    logging.getLogger("galvae").setLevel(logging.WARNING)
    d = args.demo
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
            n_jobs=2,
            n_gallery=0,
            repeats=args.repeats,
            progress=False,
        )
        md = (Path(tmp) / "table4_repeats.md").read_text()
    h = res.heldout
    if h:
        print(
            f"adaptation on the {h['n']} held-out test pairs: paired / random latent MSE falls {h['gain']:.2f}×"
            + (f" (control {h['gain_control']:.2f}×)" if "gain_control" in h else "")
            + "\n"
        )
    print(md, end="")


if __name__ == "__main__":
    main()
