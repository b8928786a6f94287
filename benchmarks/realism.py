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
import io
import json
import logging
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage, stats
from skimage.feature import peak_local_max

import galvae
from galvae.data.preprocess import crop_and_resize, inverse_stretch, stretch
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
    """Stretched (N, 3, S, S) g, r, z -> 8-bit RGB (truncated) JPEG -> back, as the real files were made."""
    out = np.empty_like(images, dtype=np.float32)
    for i, x in enumerate(images):
        rgb = (np.clip(x[::-1].transpose(1, 2, 0), 0, 1) * 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        with Image.open(buf, formats=["JPEG"]) as im:
            a = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        out[i] = a[:, :, ::-1].transpose(2, 0, 1)
    return out


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


def _robust_sigma(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _border_lag1(image: np.ndarray, b: int) -> float:
    """Lag-1 autocorrelation of the border strips' pixels along the strips, mean over bands."""
    vals = []
    for x in image:
        strips = [x[:b, :], x[-b:, :], x[:, :b].T, x[:, -b:].T]
        num = den = 0.0
        for st in strips:
            d = st - st.mean()
            num += float((d[:, :-1] * d[:, 1:]).mean())
            den += float((d * d).mean())
        vals.append(num / den if den > 0 else np.nan)
    return float(np.nanmean(vals))


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
    out["noise_corr"] = _border_lag1(image, b)
    sg, sz = image[0][border], image[2][border]
    out["sky_band_corr"] = float(np.corrcoef(sg, sz)[0, 1]) if sg.std() > 0 and sz.std() > 0 else float("nan")
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


def _features(image: np.ndarray, m: dict[str, float]) -> np.ndarray:
    """Feature vector of one stretched image for the classifier test (see the module docs)."""
    s = image.shape[-1]
    yy, xx = np.indices((s, s))
    rr = np.hypot(yy - (s - 1) / 2, xx - (s - 1) / 2) / (s / 2)
    edges = np.linspace(0, 1, 9)
    prof = [image[1][(rr >= a) & (rr < b)].mean() for a, b in zip(edges[:-1], edges[1:], strict=True)]
    cedges = np.linspace(0, 1, 5)
    col = []
    for a, b in zip(cedges[:-1], cedges[1:], strict=True):
        reg = (rr >= a) & (rr < b)
        col += [image[0][reg].mean() - image[1][reg].mean(), image[1][reg].mean() - image[2][reg].mean()]
    bw = max(3, s * 6 // 128)
    border = np.zeros((s, s), bool)
    border[:bw] = border[-bw:] = True
    border[:, :bw] = border[:, -bw:] = True
    base = max(_robust_sigma(image[1][border]), 1e-4)
    power = [_robust_sigma(ndimage.gaussian_filter(image[1], sg)[border]) / base for sg in (0.5, 1.0, 2.0, 4.0)]
    return np.array([*m.values(), *prof, *col, *power], dtype=np.float64)


def _cnn_cv(real: np.ndarray, sim: np.ndarray, seed: int, folds: int = 5, epochs: int = 12) -> list[float]:
    """Per-fold test accuracy of a small CNN telling sim (1) from real (0), at 64 px."""
    import torch
    from sklearn.model_selection import StratifiedKFold
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    x = torch.nn.functional.avg_pool2d(torch.from_numpy(np.concatenate([real, sim])).float(), 2)
    y = np.r_[np.zeros(len(real)), np.ones(len(sim))]
    accs = []
    for k, (tr, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)):
        torch.manual_seed(seed * 100 + k)

        def block(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

        net = nn.Sequential(
            block(3, 16), block(16, 32), block(32, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 1)
        )
        opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3)
        xt, yt = x[tr], torch.from_numpy(y[tr]).float()
        gen = torch.Generator().manual_seed(seed * 100 + k)
        for _ in range(epochs):
            net.train()
            perm = torch.randperm(len(tr), generator=gen)
            for j in range(0, len(tr), 32):
                idx = perm[j : j + 32]
                xb = xt[idx]
                if torch.rand(1, generator=gen) < 0.5:
                    xb = xb.flip(-1)
                if torch.rand(1, generator=gen) < 0.5:
                    xb = xb.flip(-2)
                loss = nn.functional.binary_cross_entropy_with_logits(net(xb)[:, 0], yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            pred = (net(x[te])[:, 0] > 0).numpy()
        accs.append(float((pred == y[te]).mean()))
    return accs


def classifier_test(real: np.ndarray, sim: np.ndarray, seed: int = 0, cnn: bool = True) -> dict[str, dict]:
    """Classifier two-sample test: cross-validated accuracy telling simulated from real (0.5 = indistinguishable).

    Returns, per classifier, the mean and standard deviation of the 5 folds' test accuracy, and for the
    random forest the five most important features.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    mr = [measure(x) for x in real]
    ms = [measure(x) for x in sim]
    names = list(mr[0])
    names += [f"r_profile_{i}" for i in range(8)]
    names += [f"{c}_annulus_{i}" for i in range(4) for c in ("g-r", "r-z")]
    names += [f"noise_smooth_{sg}" for sg in (0.5, 1.0, 2.0, 4.0)]
    f = np.stack([_features(x, m) for x, m in zip(np.concatenate([real, sim]), mr + ms, strict=True)])
    med = np.nanmedian(f, axis=0)
    f = np.where(np.isfinite(f), f, med)
    y = np.r_[np.zeros(len(real)), np.ones(len(sim))]
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    out: dict[str, dict] = {}
    logreg = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    acc = cross_val_score(logreg, f, y, cv=cv)
    out["logistic regression (features)"] = {"mean": float(acc.mean()), "std": float(acc.std())}
    forest = RandomForestClassifier(300, min_samples_leaf=3, random_state=seed, n_jobs=2)
    acc = cross_val_score(forest, f, y, cv=cv)
    top = np.argsort(forest.fit(f, y).feature_importances_)[::-1][:5]
    out["random forest (features)"] = {
        "mean": float(acc.mean()),
        "std": float(acc.std()),
        "top_features": [names[i] for i in top],
    }
    if cnn:
        acc = np.array(_cnn_cv(real, sim, seed))
        out["small CNN (pixels, 64 px)"] = {"mean": float(acc.mean()), "std": float(acc.std()), "folds": acc.tolist()}
    return out


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
    real = load_real(args.real, args.size)
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
    quantities = compare(real, sim)
    log.info("classifier two-sample test")
    classifier = classifier_test(real, sim, seed=args.seed, cnn=not args.no_cnn)
    montage(real, sim, args.out.with_suffix(".png"), seed=args.seed)
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
