"""Petrosian radii in units of the frame, measured the same way on real GZ DECaLS JPEGs and simulated images.

Why the simulated galaxies fill more of their frames than the real ones (``realism.md``: size in the frame 0.21
against 0.14): both sets are presented on a field set by Petrosian radii (Walmsley et al. 2022's formula), the
real ones by the NSA's (measured on SDSS imaging), the simulated ones by radii measured on the simulator's
noiseless DECaLS-PSF image.  Measuring the radii again on the presented images, the same way for both, shows how
large each frame is for its galaxy.  The r band is un-stretched (``inverse_stretch``), the border median
subtracted, and only the connected component of the smoothed image (σ = 1 px) above twice its border noise
holding the centre is kept (neighbours out).  Simulated images pass through the same 8-bit JPEG as the real ones.

Run from the repository root, on a ``galvae demo`` directory (gz-decals profile)::

    .venv/bin/python benchmarks/petrosian_frame.py galvae-demo [REAL_JPEG_DIR]

(the real images default to ``../shared/data/gz_decals_real`` beside the repository).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from galvae.data.preprocess import inverse_stretch
from galvae.data.presentation import GZ_DECALS_STRETCH, petrosian_radii
from galvae.data.store import open_store

sys.path.insert(0, str(Path(__file__).parent))
from realism import load_real, through_jpeg

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "gz_decals_real"


def radii_over_frame(images: np.ndarray) -> np.ndarray:
    """(N, 3) Petrosian radius, p50, p90 of each image's central source over the image side."""
    out = []
    for x in images:
        f = inverse_stretch(x, GZ_DECALS_STRETCH)[1].astype(np.float64)
        s = f.shape[0]
        border = np.zeros(f.shape, bool)
        border[:4], border[-4:], border[:, :4], border[:, -4:] = True, True, True, True
        f = f - np.median(f[border])
        smooth = ndimage.gaussian_filter(f, 1.0)
        sig = 1.4826 * np.median(np.abs(smooth[border] - np.median(smooth[border])))
        labels, _ = ndimage.label(smooth > 2.0 * sig)
        centre = labels[s // 2, s // 2]
        galaxy = np.where(labels == centre, f, 0.0) if centre > 0 else f
        try:
            out.append(np.array(petrosian_radii(galaxy, 1.0)) / s)
        except ValueError:  # no positive flux left
            out.append(np.full(3, np.nan))
    return np.array(out)


def main() -> None:
    demo = Path(sys.argv[1])
    real = load_real(Path(sys.argv[2]) if len(sys.argv) > 2 else REAL, 64)
    with open_store(demo / "data" / "decals.h5") as st:
        sim = through_jpeg(st.read(np.arange(min(400, len(st)))))
    r, s = radii_over_frame(real), radii_over_frame(sim)
    for k, name in enumerate(("Petrosian radius", "p50", "p90")):
        q = [np.nanpercentile(v[:, k], (25, 50, 75)) for v in (r, s)]
        print(
            f"{name} / frame: real {q[0][1]:.3f} (quartiles {q[0][0]:.3f}-{q[0][2]:.3f}), "
            f"simulated {q[1][1]:.3f} ({q[1][0]:.3f}-{q[1][2]:.3f}); simulated / real {q[1][1] / q[0][1]:.2f}"
        )


if __name__ == "__main__":
    main()
