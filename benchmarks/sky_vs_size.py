"""The presented sky level against the galaxy's size in the frame, real GZ DECaLS JPEGs beside simulated stores.

legacypipe's sky boxes take in a bright galaxy's faint outskirts, so the real cutouts' sky darkens around larger
galaxies (``realism.md``, 2026-12-05); ``galvae.simulate.render.outskirts_sky`` models it.  The measure is
``galvae.evaluate.realism.sky_size_relation`` (``galvae realism`` reports it too).  For each image:
the size in the frame (``galvae.evaluate.realism.measure_image``'s ``size_frac``) and the mean of the border
pixels per band (in 8-bit levels: the median that ``measure_image`` reports sits on whole levels and cannot show
a fraction of one); then Spearman's correlation of the two and the mean border level of the smaller and the
larger half.  Simulated images pass through the same 8-bit JPEG as the real ones.

Run from the repository root on one or more gz-decals stores of the images' side (64 px by default)::

    .venv/bin/python benchmarks/sky_vs_size.py STORE [STORE ...] [--real DIR] [--n 400]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from galvae.data.store import open_store
from galvae.evaluate.realism import read_rgb_images, sky_size_relation, through_jpeg

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "gz_decals_real"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stores", nargs="+", help="gz-decals image stores (or manifests)")
    ap.add_argument("--real", default=str(REAL), help="folder of real JPEG/PNG images")
    ap.add_argument("--n", type=int, default=400, help="simulated images per store (the first N)")
    args = ap.parse_args()
    sets = []
    for path in args.stores:
        with open_store(path) as st:
            sets.append((path, through_jpeg(np.asarray(st.images[: args.n], dtype=np.float32))))
    side = sets[0][1].shape[-1]
    real, _ = read_rgb_images(args.real, side)
    print("| images | N | " + " | ".join(f"{b}: rho (p) | {b}: mean level, small / large half" for b in "grz") + " |")
    print("|---|---|" + "---|---|" * 3)
    for name, x in [("real", real), *sets]:
        cells = [
            f"{r['rho']:+.2f} ({r['p']:.3f}) | {r['mean']:.2f}, {r['small']:.2f} / {r['large']:.2f}"
            for r in sky_size_relation(x)
        ]
        print(f"| {name} | {len(x)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
