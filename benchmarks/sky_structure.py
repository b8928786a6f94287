"""Large-scale structure of the sky in presented images: what sets ``SurveyConfig.sky_residual`` (revision 11).

The realism forest told simulated from real Galaxy Zoo DECaLS images first by the border's smoothness
(``noise_smooth_4.0``: the spread of the border after a Gaussian smoothing of 4 pixels over its unsmoothed spread).
Pixel noise, however correlated by the resampling, averages away under that smoothing; smooth structure does not.
This script masks the sources first (pixels whose 1-pixel-smoothed level exceeds 0.9 of the border's robust sigma
above its median, dilated three times), so what it measures is the sky itself.

Usage::

    python benchmarks/sky_structure.py STORE [STORE ...] [--real ../shared/data/gz_decals_real] [--n 200]

For each store (200 images drawn with seed 0, through the JPEG of :func:`galvae.evaluate.realism.through_jpeg`) and
the real images (resampled to its size), per band: percentiles 10 / 25 / 50 / 75 / 90 over images of the masked
border's robust sigma after Gaussian smoothings of 1, 2, 4 and 8 pixels over the unsmoothed robust sigma, and of the
range of the four border strips' median levels (8-bit levels: a gradient across the field).
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage

from galvae.data.store import ImageStore
from galvae.evaluate.realism import _border, _robust_sigma, read_rgb_images, through_jpeg

PERCENTILES = (10, 25, 50, 75, 90)
SMOOTHINGS = (1, 2, 4, 8)


def sky_structure(images: np.ndarray, band: int) -> np.ndarray:
    """(N, 5): per image, the masked border's smoothed / unsmoothed spread at 1, 2, 4, 8 px and the strips' range."""
    s = images.shape[-1]
    border = _border(s)  # the realism features' border: 6 pixels of 128
    b = max(3, s * 6 // 128)
    out = []
    for x in images:
        img = x[band]
        base = _robust_sigma(img[border])
        level = np.median(img[border])
        sources = ndimage.binary_dilation(ndimage.gaussian_filter(img, 1.0) - level > 0.9 * base, iterations=3)
        keep = border & ~sources
        filled = np.where(sources, level, img)
        row = [_robust_sigma(ndimage.gaussian_filter(filled, sg)[keep]) / max(base, 1e-4) for sg in SMOOTHINGS]
        strips = (img[:b], img[-b:], img[:, :b], img[:, -b:])
        medians = [np.median(t) for t in strips]
        row.append((max(medians) - min(medians)) * 255)
        out.append(row)
    return np.asarray(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("stores", nargs="+")
    ap.add_argument("--real", default="../shared/data/gz_decals_real")
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    names = [f"smooth {sg} px" for sg in SMOOTHINGS] + ["strip range (levels)"]
    for path in args.stores:
        with ImageStore(path) as st:
            real, _ = read_rgb_images(args.real, st.size, st.field_fraction)
            rows = np.sort(np.random.default_rng(0).choice(len(st.ids), min(args.n, len(st.ids)), replace=False))
            sim = through_jpeg(st.read(rows))
        print(f"{path}: {len(sim)} simulated, {len(real)} real; percentiles {PERCENTILES}")
        for band, bname in enumerate("grz"):
            fr, fs = sky_structure(real, band), sky_structure(sim, band)
            for i, name in enumerate(names):
                pr = " ".join(f"{v:.3f}" for v in np.percentile(fr[:, i], PERCENTILES))
                ps = " ".join(f"{v:.3f}" for v in np.percentile(fs[:, i], PERCENTILES))
                print(f"  {bname} {name:<21} real {pr}   simulated {ps}")


if __name__ == "__main__":
    main()
