"""Neighbours per image by brightness: real GZ DECaLS JPEGs against a simulated gz-decals store.

``galvae.evaluate.realism.neighbour_summary`` (of ``neighbour_peaks``, the sources ``measure_image`` counts as
``n_neighbours``) on both sets; ``galvae realism`` writes the same table, with each peak's height in units of the border σ and its distance from the centre in frame
sides.  Simulated images (the store's first 200) pass through the same 8-bit JPEG.

    .venv/bin/python benchmarks/neighbours_brightness.py STORE [REAL_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from galvae.data.store import open_store
from galvae.evaluate.realism import neighbour_summary, read_rgb_images, through_jpeg

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "gz_decals_real"


def summary(images: np.ndarray) -> str:
    v = neighbour_summary(images)
    keys = ("per_image", "faint", "mid", "bright", "median_height", "median_distance")
    return " | ".join(f"{v[k]:.2f}" for k in keys)


def main() -> None:
    store = sys.argv[1]
    with open_store(store) as st:
        sim = through_jpeg(np.asarray(st.images[:200], dtype=np.float32))
    real, _ = read_rgb_images(sys.argv[2] if len(sys.argv) > 2 else REAL, sim.shape[-1])
    print("| images | neighbours per image | 5–10σ | 10–50σ | ≥ 50σ | median height (σ) | median distance (sides) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| real ({len(real)}) | {summary(real)} |")
    print(f"| simulated ({len(sim)}) | {summary(sim)} |")


if __name__ == "__main__":
    main()
