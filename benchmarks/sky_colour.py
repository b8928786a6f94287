"""The sky's width and colour in presented images: what sets the DECaLS depths of simulator revision 10.

The Galaxy Zoo DECaLS stretch desaturates the sky (the three bands' noise becomes grey), and how far each band's
mean sky level rises above the zero-flux level grows with that band's native noise against the stretch's
softening (0.008, 0.014, 0.019 nanomaggies in g, r, z).  So the border pixels of presented images measure the
bands' noise: their width (all bands alike) and the g − r and z − r offsets of their mean levels.

Usage::

    python benchmarks/sky_colour.py STORE [STORE ...] [--real ../shared/data/gz_decals_real] [--noise-grid]

For each store (and the real images, resampled to its size): the median over images of the border's standard
deviation and mean level per band (8-bit levels, pixels within 15 levels of the border median, so neighbours do
not count), the g − r and z − r mean offsets, and the outer annulus's g − r and r − z mean differences (the realism
forest's ``*_annulus_3`` features) with their spread.  ``--noise-grid`` adds the same numbers for pure Gaussian
noise of given sigma / softening per band through :func:`galvae.data.presentation.gz_decals_present` (a 229-pixel
native field, about 60″, to 128 px), which shows how each band's noise sets its level.
"""

from __future__ import annotations

import argparse

import numpy as np

from galvae.data.presentation import gz_decals_present
from galvae.data.store import ImageStore
from galvae.evaluate.realism import _border, read_rgb_images, through_jpeg

SOFTENING = np.array([0.008, 0.014, 0.019])


def sky_numbers(images: np.ndarray) -> dict[str, float]:
    """Median over images of the border's clipped sd and mean per band, and the outer annulus's colours."""
    s = images.shape[-1]
    border = _border(s)
    yy, xx = np.indices((s, s))
    rr = np.hypot(yy - (s - 1) / 2, xx - (s - 1) / 2) / (s / 2)
    ann = (rr >= 0.75) & (rr < 1.0)
    sd, mean, gr, rz = [], [], [], []
    for im in images:
        row_sd, row_mean = [], []
        for k in range(3):
            v = im[k][border] * 255
            w = v[np.abs(v - np.median(v)) < 15]
            row_sd.append(w.std())
            row_mean.append(w.mean())
        sd.append(row_sd)
        mean.append(row_mean)
        gr.append((im[0][ann].mean() - im[1][ann].mean()) * 255)
        rz.append((im[1][ann].mean() - im[2][ann].mean()) * 255)
    sd, mean = np.array(sd), np.array(mean)
    q = np.percentile
    return {
        "sd_r": float(np.median(sd[:, 1])),
        "mean_r": float(np.median(mean[:, 1])),
        "g-r_mean": float(np.median(mean[:, 0] - mean[:, 1])),
        "z-r_mean": float(np.median(mean[:, 2] - mean[:, 1])),
        "annulus_g-r_median": float(np.median(gr)),
        "annulus_g-r_iqr": float(q(gr, 75) - q(gr, 25)),
        "annulus_r-z_median": float(np.median(rz)),
        "annulus_r-z_iqr": float(q(rz, 75) - q(rz, 25)),
    }


def _row(name: str, n: int, d: dict[str, float]) -> str:
    signed = ("g-r_mean", "z-r_mean", "annulus_g-r_median", "annulus_r-z_median")
    return f"| {name} | {n} | " + " | ".join(f"{v:+.2f}" if k in signed else f"{v:.2f}" for k, v in d.items()) + " |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("stores", nargs="*", help="gz-decals image stores (e.g. a simulation's decals.h5)")
    p.add_argument("--real", default="../shared/data/gz_decals_real", help="folder of real Galaxy Zoo DECaLS images")
    p.add_argument("--n", type=int, default=600, help="simulated images per store (the first N)")
    p.add_argument("--noise-grid", action="store_true", help="pure noise of several sigma / softening per band")
    args = p.parse_args()
    header = (
        "| images | N | border sd r | border mean r | g − r mean | z − r mean | annulus g − r | IQR | annulus r − z | IQR |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    print(header)
    size = 128
    for path in args.stores:
        with ImageStore(path) as st:
            size = st.size
            sim = through_jpeg(st.read(np.arange(min(args.n, len(st.ids)))))
        print(_row(path, len(sim), sky_numbers(sim)))
    real, _ = read_rgb_images(args.real, size)
    print(_row("real", len(real), sky_numbers(real)))
    if args.noise_grid:
        rng = np.random.default_rng(0)
        for ratio in [(0.36, 0.46, 0.81), (0.46, 0.46, 0.81), (0.5, 0.5, 0.7), (0.55, 0.55, 0.8), (0.6, 0.6, 0.8)]:
            sc = np.array(ratio) * SOFTENING
            ims = [
                gz_decals_present(
                    rng.normal(0.0, 1.0, (3, 229, 229)).astype(np.float32) * sc[:, None, None], None, size
                )[0]
                for _ in range(40)
            ]
            print(_row(f"noise, sigma / softening {ratio}", 40, sky_numbers(through_jpeg(np.stack(ims)))))


if __name__ == "__main__":
    main()
