"""Realism: simulated galaxies in the Galaxy Zoo DECaLS presentation against real Galaxy Zoo DECaLS images.

Simulates ``--n`` galaxies with :func:`galvae.simulate` (``profile="gz-decals"``, DECaLS only, no defects,
``--size`` pixels) and reads the real Galaxy Zoo DECaLS JPEGs in ``../shared/data/gz_decals_real/``
(Walmsley et al. 2022, MNRAS 509, 3966; the zoobot example set, Walmsley et al. 2023, JOSS; CC BY 4.0).
Real images store g, r, z in the blue, green and red planes; they are read as (g, r, z) / 255.  The
simulated images go through the same last step as the real ones: 8-bit RGB, JPEG at quality 92 (the
real files' quantisation tables average ~9 (luma) / ~14 (chroma), i.e. libjpeg quality ≈ 92), read back.

Measured per image, on the same code for both sets (128 px frames; all sizes are fractions of the frame):

* ``sky_<band>``, ``noise_<band>``: median and robust sigma (1.4826 MAD) of the 6-px border, stretched;
* ``size_frac``: area of the connected component holding the centre in the detection image (the three
  bands' mean, Gaussian-smoothed σ = 1 px) above sky + 3 σ (σ of the smoothed border), / frame area;
* ``central_sb``: mean stretched r in the central 5 × 5 pixels;
* ``gr_centre``, ``rz_centre``, ``gr_outer``, ``rz_outer``: colours (mag) of the flux (the stretch inverted
  with :func:`galvae.data.preprocess.inverse_stretch` and :data:`GZ_DECALS_STRETCH`, sky median
  subtracted) summed in the centre (within 0.3 of the component's equivalent radius) and in the rest of
  the component;
* ``n_neighbours``: peaks (:func:`skimage.feature.peak_local_max`, min distance 3 px) of the smoothed
  detection image above sky + 5 σ outside the central component dilated by 3 px.

Each quantity's two-sample Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp``) between the sets,
medians of both, a montage (8 real above 8 simulated) in ``OUT.png``, ``OUT.json`` and ``OUT.md``.

Run from the repository root::

    .venv/bin/python benchmarks/realism.py --n 200 --size 128
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage, stats
from skimage.feature import peak_local_max

import galvae
from galvae.data.preprocess import inverse_stretch
from galvae.data.presentation import GZ_DECALS_STRETCH
from galvae.data.store import open_store

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine

log = logging.getLogger("galvae.benchmarks.realism")

REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "gz_decals_real"
BANDS = ("g", "r", "z")
JPEG_QUALITY = 92


def load_real(directory: Path, size: int) -> np.ndarray:
    """Real JPEGs as (N, 3, size, size) float in [0, 1], bands g, r, z."""
    files = sorted(directory.glob("*.jpg"))
    if not files:
        raise SystemExit(f"no real images in {directory}")
    out = []
    for f in files:
        with Image.open(f, formats=["JPEG"]) as im:
            rgb = im.convert("RGB")
            if rgb.size != (size, size):
                rgb = rgb.resize((size, size), Image.Resampling.LANCZOS)
            a = np.asarray(rgb, dtype=np.float32) / 255.0
        out.append(a[:, :, ::-1].transpose(2, 0, 1))  # RGB -> (z, r, g) -> g, r, z
    return np.stack(out)


def through_jpeg(images: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """Stretched (N, 3, S, S) g, r, z -> 8-bit RGB JPEG -> back, as the real files were made."""
    out = np.empty_like(images, dtype=np.float32)
    for i, x in enumerate(images):
        rgb = (np.clip(x[::-1].transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        with Image.open(buf, formats=["JPEG"]) as im:
            a = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        out[i] = a[:, :, ::-1].transpose(2, 0, 1)
    return out


def simulate_images(n: int, size: int, seed: int, workers: int) -> tuple[np.ndarray, float]:
    """``n`` galaxies in the gz-decals presentation via :func:`galvae.simulate`; images and galaxies/s."""
    with tempfile.TemporaryDirectory() as tmp:
        res = galvae.simulate.simulate(
            Path(tmp) / "sim",
            n_galaxies=n,
            overlap=0,
            size=size,
            seed=seed,
            profile="gz-decals",
            defect_fraction=0.0,
            surveys=["decals"],
            workers=workers,
            progress=False,
        )
        store = open_store(next(iter(res.stores.values())))
        try:
            images = np.asarray(store.read(), dtype=np.float32)
        finally:
            store.close()
        return images, res.galaxies_per_second


def _robust_sigma(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def measure(image: np.ndarray) -> dict[str, float]:
    """The quantities of the module docs for one stretched (3, S, S) g, r, z image in [0, 1]."""
    s = image.shape[-1]
    border = np.zeros((s, s), bool)
    b = max(3, s * 6 // 128)
    border[:b] = border[-b:] = True
    border[:, :b] = border[:, -b:] = True
    out: dict[str, float] = {}
    for k, band in enumerate(BANDS):
        out[f"sky_{band}"] = float(np.median(image[k][border]))
        out[f"noise_{band}"] = _robust_sigma(image[k][border])
    det = ndimage.gaussian_filter(image.mean(axis=0), 1.0 * s / 128)
    sky, sig = float(np.median(det[border])), max(_robust_sigma(det[border]), 1e-4)
    above = det > sky + 3 * sig
    labels, _ = ndimage.label(above)
    c = s // 2
    centre_labels = labels[c - 2 : c + 2, c - 2 : c + 2]
    lab = np.bincount(centre_labels.ravel()[centre_labels.ravel() > 0]).argmax() if (centre_labels > 0).any() else 0
    comp = labels == lab if lab > 0 else np.zeros_like(above)
    out["size_frac"] = float(comp.mean())
    out["central_sb"] = float(image[1, c - 2 : c + 3, c - 2 : c + 3].mean())
    flux = inverse_stretch(image, GZ_DECALS_STRETCH)
    flux = flux - np.median(flux[:, border], axis=1)[:, None, None]
    yy, xx = np.indices((s, s))
    rr = np.hypot(yy - (s - 1) / 2, xx - (s - 1) / 2)
    r_eq = max(np.sqrt(comp.sum() / np.pi), 2.0)
    centre = comp & (rr <= max(0.3 * r_eq, 2.0))
    outer = comp & ~centre
    for name, region in (("centre", centre), ("outer", outer)):
        f = flux[:, region].sum(axis=1) if region.any() else np.full(3, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"gr_{name}"] = float(-2.5 * np.log10(f[0] / f[1])) if f[0] > 0 and f[1] > 0 else float("nan")
            out[f"rz_{name}"] = float(-2.5 * np.log10(f[1] / f[2])) if f[1] > 0 and f[2] > 0 else float("nan")
    excl = ndimage.binary_dilation(comp, iterations=3) if comp.any() else comp
    peaks = peak_local_max(det, min_distance=3, threshold_abs=sky + 5 * sig, exclude_border=2)
    out["n_neighbours"] = float(sum(1 for y, x in peaks if not excl[y, x]))
    return out


def montage(real: np.ndarray, sim: np.ndarray, path: Path, k: int = 8, seed: int = 0) -> None:
    """8 real images above 8 simulated ones (random draws), as a PNG."""
    rng = np.random.default_rng(seed)

    def row(imgs: np.ndarray) -> np.ndarray:
        pick = rng.choice(len(imgs), size=min(k, len(imgs)), replace=False)
        return np.concatenate([np.clip(imgs[i][::-1].transpose(1, 2, 0), 0, 1) for i in pick], axis=1)

    grid = np.concatenate([row(real), row(sim)], axis=0)
    Image.fromarray((grid * 255 + 0.5).astype(np.uint8)).save(path)


def compare(real: np.ndarray, sim: np.ndarray) -> dict[str, dict[str, float]]:
    """KS statistic and medians per quantity."""
    mr = [measure(x) for x in real]
    ms = [measure(x) for x in sim]
    out = {}
    for key in mr[0]:
        a = np.array([m[key] for m in mr])
        b = np.array([m[key] for m in ms])
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        ks = stats.ks_2samp(a, b)
        out[key] = {
            "ks": float(ks.statistic),
            "p": float(ks.pvalue),
            "median_real": float(np.median(a)),
            "median_sim": float(np.median(b)),
            "n_real": int(a.size),
            "n_sim": int(b.size),
        }
    return out


def to_markdown(res: dict, before: dict | None) -> str:
    lines = [
        "# Realism: simulated vs real Galaxy Zoo DECaLS images",
        "",
        f"{res['n_sim']} simulated galaxies (`galvae.simulate`, profile gz-decals, DECaLS, {res['size']} px, "
        f"JPEG q{JPEG_QUALITY}) against {res['n_real']} real Galaxy Zoo DECaLS JPEGs "
        "(Walmsley et al. 2022; zoobot example set, half of it ring galaxies). "
        f"Simulation speed: {res['galaxies_per_second']:.1f} galaxies/s ({res['workers']} workers). "
        f"Machine: {res['machine'].get('cpu', res['machine'])}.",
        "",
        "Quantities are defined in `benchmarks/realism.py`; KS = two-sample Kolmogorov-Smirnov statistic "
        "(0 = same distribution, 1 = disjoint).",
        "",
    ]
    head = "| quantity | KS | median real | median sim |"
    sep = "|---|---|---|---|"
    if before:
        head = "| quantity | KS before | KS after | median real | median sim before | median sim after |"
        sep = "|---|---|---|---|---|---|"
    lines += [head, sep]
    for key, v in res["quantities"].items():
        if before and key in before:
            b = before[key]
            lines.append(
                f"| {key} | {b['ks']:.2f} | {v['ks']:.2f} | {v['median_real']:.3g} | "
                f"{b['median_sim']:.3g} | {v['median_sim']:.3g} |"
            )
        else:
            lines.append(f"| {key} | {v['ks']:.2f} | {v['median_real']:.3g} | {v['median_sim']:.3g} |")
    ks = [v["ks"] for v in res["quantities"].values()]
    lines += [
        "",
        f"Mean KS over quantities: {np.mean(ks):.2f}"
        + (f" (before: {np.mean([b['ks'] for b in before.values()]):.2f})" if before else ""),
        "",
    ]
    lines += ["![montage: 8 real (top), 8 simulated (bottom)](realism.png)", ""]
    if res.get("notes"):
        lines += ["## Notes", "", res["notes"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--real", type=Path, default=REAL_DIR)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "realism")
    p.add_argument("--before", type=Path, default=None, help="an earlier OUT.json to show beside this run")
    p.add_argument("--notes", type=Path, default=None, help="a Markdown file appended as Notes")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    t0 = time.perf_counter()
    real = load_real(args.real, args.size)
    sim_flux, gps = simulate_images(args.n, args.size, args.seed, args.workers)
    sim = through_jpeg(sim_flux)
    log.info("simulated %d galaxies at %.1f/s; measuring", len(sim), gps)
    quantities = compare(real, sim)
    montage(real, sim, args.out.with_suffix(".png"), seed=args.seed)
    res = {
        "n_real": len(real),
        "n_sim": len(sim),
        "size": args.size,
        "seed": args.seed,
        "workers": args.workers,
        "galaxies_per_second": gps,
        "machine": machine(),
        "seconds": time.perf_counter() - t0,
        "quantities": quantities,
        "notes": args.notes.read_text() if args.notes else "",
    }
    before = json.loads(args.before.read_text())["quantities"] if args.before else None
    if before is not None:
        res["before"] = before
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    args.out.with_suffix(".md").write_text(to_markdown(res, before))
    for k, v in quantities.items():
        print(f"{k:14s} KS {v['ks']:.2f}  real {v['median_real']:.3g}  sim {v['median_sim']:.3g}")
    print(f"mean KS {np.mean([v['ks'] for v in quantities.values()]):.3f}; {gps:.1f} gal/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
