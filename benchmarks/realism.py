"""Realism: simulated galaxies in the Galaxy Zoo DECaLS presentation against real Galaxy Zoo DECaLS images.

Simulates ``--n`` galaxies with :func:`galvae.simulate` (``profile="gz-decals"``, DECaLS only, no defects,
``--size`` pixels) and reads the real Galaxy Zoo DECaLS JPEGs in ``../shared/data/gz_decals_real/``
(Walmsley et al. 2022, MNRAS 509, 3966; the zoobot example set, Walmsley et al. 2023, JOSS; CC BY 4.0).
Real images store g, r, z in the blue, green and red planes; they are read as (g, r, z) / 255.

``--presentation store`` measures the images :func:`galvae.simulate` stores (flux resized to S, then
stretched); ``--presentation gz`` (default) re-renders the same galaxies (same truth, same random streams,
so the same pixels before presentation) and presents them with
:func:`galvae.data.presentation.gz_decals_present`: stretch and desaturation on the native pixels, then
the resize, the order of the Galaxy Zoo DECaLS image code.  Either way the simulated images then go
through the real files' last steps: 8-bit RGB by truncation (``np.uint8(x * 255)`` in the Galaxy Zoo
DECaLS code, ``save_carefully_resized_png``; rounding put the simulated sky half a level higher), JPEG at
quality 92 with 4:2:0 chroma (the real files' luma table is libjpeg's at quality 92, chroma subsampled),
read back.

Measured per image, on the same code for both sets (128 px frames; all sizes are fractions of the frame):

* ``sky_<band>``, ``noise_<band>``: median and robust sigma (1.4826 MAD) of the 6-px border, stretched;
* ``noise_corr``: lag-1 autocorrelation of the border pixels along the border strips (mean of the bands):
  how smooth the sky noise is (white noise 0);
* ``sky_band_corr``: correlation of the g and z border pixels (sky noise colour: 1 = grey);
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

**Classifier two-sample test** (:func:`classifier_test`): classifiers try to tell simulated from real
images, with stratified 5-fold cross-validation (seeded); accuracy 0.5 = indistinguishable.  (a) a
logistic regression and (b) a random forest on a feature vector per image (the quantities above, the
radial profile of the stretched r band in 8 annuli, the mean colour (g - r, r - z of the stretched
values) in 4 annuli, and the border's noise power in 4 frequency bands); (c) a small CNN (three
conv-pool blocks, 16-32-64 channels, on the image at 64 px, flips as augmentation, 12 epochs, AdamW).

Run from the repository root::

    .venv/bin/python benchmarks/realism.py --n 200 --size 128
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import galvae
from galvae.data.preprocess import crop_and_resize, stretch
from galvae.data.presentation import GZ_DECALS_STRETCH
from galvae.data.store import open_store
from galvae.evaluate.realism import (
    JPEG_QUALITY,
    _classifier_test,
    _montage,
    _quantities,
    measure_image,
    read_rgb_images,
    through_jpeg,
)

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine

log = logging.getLogger("galvae.benchmarks.realism")

REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "gz_decals_real"


def simulate_images(n: int, size: int, seed: int, workers: int) -> tuple[np.ndarray, float, pd.DataFrame]:
    """``n`` galaxies in the gz-decals presentation via :func:`galvae.simulate`: stored images, galaxies/s, catalogue."""
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
        catalog = pd.read_parquet(Path(tmp) / "sim" / "catalog.parquet")
        return images, res.galaxies_per_second, catalog


def _present_one(task: tuple[dict, int, int, int]) -> np.ndarray:
    """Re-render galaxy ``i`` exactly as :func:`galvae.simulate` does and present it the Galaxy Zoo way."""
    from galvae.data.presentation import gz_decals_present
    from galvae.simulate.core import _STREAM_GALAXY, _STREAM_SURVEY, _rng
    from galvae.simulate.render import render_galaxy
    from galvae.simulate.surveys import get_survey

    row, i, seed, size = task
    r = render_galaxy(
        row,
        get_survey("decals"),
        fov_arcsec=float(row["field_arcsec"]),
        galaxy_rng=_rng(seed, i, _STREAM_GALAXY),
        survey_rng=_rng(seed, i, _STREAM_SURVEY, 0),
    )
    return gz_decals_present(r.image, None, size)[0]


def _present_store_one(task: tuple[dict, int, int, int]) -> np.ndarray:
    """Galaxy ``i`` re-rendered and presented as :func:`galvae.simulate` stores it (resize, then stretch)."""
    from galvae.simulate.core import _STREAM_GALAXY, _STREAM_SURVEY, _rng
    from galvae.simulate.render import render_galaxy
    from galvae.simulate.surveys import get_survey

    row, i, seed, size = task
    r = render_galaxy(
        row,
        get_survey("decals"),
        fov_arcsec=float(row["field_arcsec"]),
        galaxy_rng=_rng(seed, i, _STREAM_GALAXY),
        survey_rng=_rng(seed, i, _STREAM_SURVEY, 0),
    )
    return stretch(crop_and_resize(r.image, None, size)[0], GZ_DECALS_STRETCH)


def present_gz(catalog: pd.DataFrame, size: int, seed: int, workers: int) -> np.ndarray:
    """The catalogue's galaxies presented with :func:`galvae.data.presentation.gz_decals_present`."""
    tasks = [(row, i, seed, size) for i, row in enumerate(catalog.to_dict("records"))]
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            return np.stack(pool.map(_present_one, tasks, chunksize=4))
    return np.stack([_present_one(t) for t in tasks])


def to_markdown(res: dict, befores: list[tuple[str, dict]]) -> str:
    lines = [
        "# Realism: simulated vs real Galaxy Zoo DECaLS images",
        "",
        f"{res['n_sim']} simulated galaxies (`galvae.simulate`, profile gz-decals, DECaLS, {res['size']} px, "
        f"presentation `{res.get('presentation', 'store')}`, 8-bit, JPEG q{JPEG_QUALITY}) against {res['n_real']} "
        "real Galaxy Zoo DECaLS JPEGs (Walmsley et al. 2022; zoobot example set, half of it ring galaxies). "
        f"Simulation speed: {res['galaxies_per_second']:.1f} galaxies/s ({res['workers']} workers). "
        f"Machine: {res['machine'].get('cpu', res['machine'])}.",
        "",
        "Quantities are defined in `benchmarks/realism.py`; KS = two-sample Kolmogorov-Smirnov statistic "
        "(0 = same distribution, 1 = disjoint).",
        "",
    ]
    labels = [lab for lab, _ in befores] + ["after"]
    runs = [b["quantities"] for _, b in befores] + [res["quantities"]]
    lines += [
        "| quantity | "
        + " | ".join(f"KS {lab}" for lab in labels)
        + " | median real | "
        + " | ".join(f"median sim {lab}" for lab in labels)
        + " |",
        "|---|" + "---|" * (2 * len(labels) + 1),
    ]
    for key, v in res["quantities"].items():
        ks = [f"{r[key]['ks']:.2f}" if key in r else "–" for r in runs]
        md = [f"{r[key]['median_sim']:.3g}" if key in r else "–" for r in runs]
        lines.append(f"| {key} | " + " | ".join(ks) + f" | {v['median_real']:.3g} | " + " | ".join(md) + " |")
    lines += [
        "",
        "Mean KS over quantities: "
        + ", ".join(f"{lab} {np.mean([q['ks'] for q in r.values()]):.2f}" for lab, r in zip(labels, runs, strict=True)),
        "",
    ]
    clfs = [b.get("classifier") for _, b in befores] + [res.get("classifier")]
    if any(clfs):
        lines += [
            "**Classifier two-sample test** (5-fold cross-validated accuracy telling simulated from real; "
            "0.5 = indistinguishable):",
            "",
            "| classifier | " + " | ".join(labels) + " |",
            "|---|" + "---|" * len(labels),
        ]
        for name in res.get("classifier", {}):
            cells = [f"{c[name]['mean']:.2f} ± {c[name]['std']:.2f}" if c and name in c else "–" for c in clfs]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        top = res.get("classifier", {}).get("random forest (features)", {}).get("top_features")
        if top:
            lines += ["", f"Most telling features (random forest, after): {', '.join(top)}."]
        lines.append("")
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
    p.add_argument("--presentation", choices=("gz", "store"), default="gz", help="see the module docs")
    p.add_argument("--no-cnn", action="store_true", help="skip the CNN of the classifier test")
    p.add_argument(
        "--before",
        action="append",
        default=[],
        metavar="LABEL=JSON",
        help="an earlier OUT.json to show beside this run",
    )
    p.add_argument("--notes", type=Path, default=None, help="a Markdown file appended as Notes")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    t0 = time.perf_counter()
    real, _ = read_rgb_images(args.real, args.size)
    stored, gps, catalog = simulate_images(args.n, args.size, args.seed, args.workers)
    if args.presentation == "gz":
        sim_flux = present_gz(catalog, args.size, args.seed, args.workers)
        # the re-render is the simulator's own: resize-then-stretch of it gives the stored images back
        check = _present_store_one((catalog.iloc[0].to_dict(), 0, args.seed, args.size))
        if not np.allclose(check, stored[0], atol=1e-5):
            raise SystemExit("re-rendered galaxy 0 differs from the stored one: the random streams changed")
    else:
        sim_flux = stored
    sim = through_jpeg(sim_flux)
    log.info("simulated %d galaxies at %.1f/s; measuring", len(sim), gps)
    mr, ms = [measure_image(x) for x in real], [measure_image(x) for x in sim]
    quantities = _quantities(mr, ms)
    log.info("classifier two-sample test")
    classifier = _classifier_test(real, sim, mr, ms, seed=args.seed, cnn=not args.no_cnn, n_jobs=2)
    _montage(real, sim, args.out.with_suffix(".png"), seed=args.seed)
    res = {
        "n_real": len(real),
        "n_sim": len(sim),
        "size": args.size,
        "seed": args.seed,
        "workers": args.workers,
        "presentation": args.presentation,
        "galaxies_per_second": gps,
        "machine": machine(),
        "seconds": time.perf_counter() - t0,
        "quantities": quantities,
        "classifier": classifier,
        "notes": args.notes.read_text() if args.notes else "",
    }
    befores = []
    for spec in args.before:
        label, _, path = spec.partition("=")
        befores.append((label, json.loads(Path(path).read_text())))
    if befores:
        res["before"] = {
            label: {"quantities": b["quantities"], "classifier": b.get("classifier")} for label, b in befores
        }
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    args.out.with_suffix(".md").write_text(to_markdown(res, befores))
    for k, v in quantities.items():
        print(f"{k:14s} KS {v['ks']:.2f}  real {v['median_real']:.3g}  sim {v['median_sim']:.3g}")
    print(f"mean KS {np.mean([v['ks'] for v in quantities.values()]):.3f}; {gps:.1f} gal/s")
    for name, v in classifier.items():
        print(f"{name}: accuracy {v['mean']:.3f} ± {v['std']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
