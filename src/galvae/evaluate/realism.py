"""How real do simulated galaxies look?  Simulated images against real Galaxy Zoo DECaLS ones (issue 18).

Both sets are presented images: stretched g, r, z in [0, 1], as the Galaxy Zoo DECaLS colour JPEGs are
(:func:`read_rgb_images` reads those, blue = g, green = r, red = z) and as a ``gz-decals`` store holds
them.  Simulated images are first sent through 8-bit truncation and JPEG (``jpeg_quality``), as the real
files were made, so the comparison is not of compression artefacts.

Measured per image (:func:`measure_image`; sizes are fractions of the frame):

* ``sky_<band>``, ``noise_<band>``: median and robust sigma (1.4826 MAD) of the border (6 px at 128 px);
* ``noise_corr``: lag-1 autocorrelation of the border pixels along the border strips (mean of the bands):
  how smooth the sky noise is (white noise 0);
* ``sky_band_corr``: correlation of the g and z border pixels (sky noise colour: 1 = grey);
* ``size_frac``: area of the connected component holding the centre in the detection image (the three
  bands' mean, Gaussian-smoothed) above sky + 3 σ, over the frame area;
* ``central_sb``: mean stretched r in the central 5 × 5 pixels;
* ``gr_centre``, ``rz_centre``, ``gr_outer``, ``rz_outer``: colours (mag) of the flux (the ``gz-decals``
  stretch inverted, sky subtracted) in the centre (within 0.3 of the component's equivalent radius) and
  in the rest of the component;
* ``n_neighbours``: peaks of the smoothed detection image above sky + 5 σ outside the central component;
* ``source_fwhm``: the half-maximum width (r band, the stretch inverted) of the sharpest neighbour peaking
  at 10-200 σ, in frame sides (:func:`sharpest_source_fwhm`; NaN without one).  The sharpest neighbour is
  almost always a star or a galaxy smaller than the PSF, whose width is the PSF's (≈ 1.2″ FWHM in DECaLS r,
  in real and simulated images alike), so it measures the frame in arcsec: a frame twice as wide shows it
  half as wide;
* ``arm_amplitude``, ``arm_pitch``: the strongest two-or-more-armed log-spiral mode of the stretched r band
  and its pitch angle (degrees), from :func:`galvae.evaluate.spirals.log_spiral_spectrum` on the disc's own
  measured geometry: how strong and how wound the arms are (a smooth galaxy's amplitude is near 0).
* ``asymmetry``, ``clumpiness``: the A and S of the CAS system (Conselice 2003, ApJS 147, 1) of the central
  source in the stretched r band, its border median subtracted: A = Σ|I − I₁₈₀| / Σ|I| over the source and its
  180° rotation about the frame's centre (where the cutouts are centred; CAS minimises over centres), minus the
  border's |I − I₁₈₀| per pixel times the pixels summed; S = 10 Σ (I − I_box)⁺ / Σ I outside 0.25 of the
  source's equivalent radius, ``I_box`` a boxcar 0.25 of that radius wide, minus the border's share.  CAS
  measures flux; the presented image is used because its noise is the same everywhere (the inverted stretch
  amplifies it in bright parts), so the border's share removes the noise's: a symmetric, smooth source on
  noise gives 0 ± 0.01.  Conselice (2003) finds A ≈ 0.02 and S ≈ 0 for ellipticals, 0.07 and 0.08 for Sa-Sb
  discs, 0.15 and 0.29 for Sc-Sd (R band, on flux): the values here only compare like with like.

:func:`compare_realism` gives each quantity's two-sample Kolmogorov-Smirnov statistic (0 = the same
distribution, 1 = disjoint) and medians, and a classifier two-sample test: a logistic regression and a
random forest on a feature vector per image (the quantities, the r band's radial profile in 8 annuli, the
colours in 4 annuli, the border noise after smoothing at 4 scales), and optionally a small CNN on the
pixels, each scored by 5-fold cross-validated balanced accuracy telling simulated from real (0.5 =
indistinguishable whatever the two sets' sizes; the plain accuracy when they are equal).  ``benchmarks/realism.py`` runs it on fresh simulations; ``galvae realism`` on a store.
"""

from __future__ import annotations

import io
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._io import write_json, write_text
from ..errors import GalvaeFileError, GalvaeValueError

__all__ = [
    "JPEG_QUALITY",
    "RealismResult",
    "compare_realism",
    "measure_image",
    "neighbour_peaks",
    "neighbour_summary",
    "read_rgb_images",
    "realism_markdown",
    "sharpest_source_fwhm",
    "sky_size_relation",
    "through_jpeg",
]

log = logging.getLogger(__name__)

BANDS = ("g", "r", "z")
#: libjpeg quality of the real example images (measured from their quantisation table).
JPEG_QUALITY = 92
#: Peak heights (border σ) of the neighbours whose widths ``source_fwhm`` measures: bright enough, not saturated.
_WIDTH_HEIGHTS = (10.0, 200.0)
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def read_rgb_images(
    directory: str | os.PathLike[str], size: int, field_fraction: float = 1.0
) -> tuple[np.ndarray, list[str]]:
    """Colour JPEG/PNG images of a folder as (N, 3, size, size) float32 in [0, 1], bands g, r, z.

    Galaxy Zoo DECaLS colour images put g in blue, r in green and z in red.  Each image's central
    ``field_fraction`` (side; a simulated store's :attr:`~galvae.ImageStore.field_fraction`) is kept, and
    images of another side are resampled (Lanczos).  Returns the images and their file names, sorted.

    Raises
    ------
    GalvaeFileError
        If ``directory`` holds no .jpg, .jpeg or .png file, or one cannot be read.
    GalvaeValueError
        If ``field_fraction`` is not in (0, 1].
    """
    from ..data.presentation import check_field_fraction

    field_fraction = check_field_fraction(field_fraction)
    from PIL import Image, UnidentifiedImageError

    files = (
        sorted(p for p in Path(directory).iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        if Path(directory).is_dir()
        else []
    )
    if not files:
        raise GalvaeFileError(directory, "no .jpg, .jpeg or .png images in this folder")
    out = []
    for f in files:
        try:
            with Image.open(f) as im:
                rgb = im.convert("RGB")
                if field_fraction != 1.0:
                    w, h = rgb.size
                    side = max(1, round(field_fraction * min(w, h)))
                    left, top = (w - side) // 2, (h - side) // 2
                    rgb = rgb.crop((left, top, left + side, top + side))
                if rgb.size != (size, size):
                    rgb = rgb.resize((size, size), Image.Resampling.LANCZOS)
                a = np.asarray(rgb, dtype=np.float32) / 255.0
        except (OSError, UnidentifiedImageError) as exc:
            raise GalvaeFileError(f, f"unreadable image ({exc})") from None
        out.append(a[:, :, ::-1].transpose(2, 0, 1))  # RGB -> (z, r, g) -> g, r, z
    return np.stack(out), [f.name for f in files]


def through_jpeg(images: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """Stretched (N, 3, S, S) g, r, z -> 8-bit RGB (rounded) JPEG -> back.

    As the real Galaxy Zoo DECaLS files were last made: an 8-bit image resized (PIL rounds) and saved
    as JPEG.  The truncation of the 424-pixel image (``np.uint8(x * 255)``) happens earlier, in the
    presentation (:func:`galvae.data.presentation.gz_decals_present`).
    """
    from PIL import Image

    out = np.empty(images.shape, dtype=np.float32)
    for i, x in enumerate(images):
        rgb = np.rint(np.clip(x[::-1].transpose(1, 2, 0), 0, 1) * 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality))
        buf.seek(0)
        with Image.open(buf, formats=["JPEG"]) as im:
            a = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        out[i] = a[:, :, ::-1].transpose(2, 0, 1)
    return out


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
    finite = [v for v in vals if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")  # a flat border (no noise) has no correlation


def measure_image(image: np.ndarray) -> dict[str, float]:
    """The quantities of the module docs for one stretched (3, S, S) g, r, z image in [0, 1]."""
    from ..data.preprocess import inverse_stretch
    from ..data.presentation import GZ_DECALS_STRETCH

    s = image.shape[-1]
    border = _border(s)
    b = max(3, s * 6 // 128)
    out: dict[str, float] = {}
    for k, band in enumerate(BANDS):
        out[f"sky_{band}"] = float(np.median(image[k][border]))
        out[f"noise_{band}"] = _robust_sigma(image[k][border])
    out["noise_corr"] = _border_lag1(image, b)
    sg, sz = image[0][border], image[2][border]
    out["sky_band_corr"] = float(np.corrcoef(sg, sz)[0, 1]) if sg.std() > 0 and sz.std() > 0 else float("nan")
    comp = _central_source(image, border)[3]
    c = s // 2
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
    out.update(_asymmetry_clumpiness(image[1] - out["sky_r"], comp, border, rr, r_eq))
    _, neighbours = _detect_neighbours(image)
    out["n_neighbours"] = float(len(neighbours))
    out["source_fwhm"] = _sharpest_width(image, neighbours, *_WIDTH_HEIGHTS)
    from .spirals import log_spiral_spectrum

    spec = log_spiral_spectrum(image[1])
    arms = spec.amplitude[1:]  # m >= 2: an m = 1 mode is lopsidedness, a neighbour or an offset centre
    k = int(np.nanargmax(arms)) if np.isfinite(arms).any() else -1
    out["arm_amplitude"] = float(arms[k]) if k >= 0 else float("nan")
    out["arm_pitch"] = float(spec.pitch_deg[k + 1]) if k >= 0 else float("nan")
    return out


def _asymmetry_clumpiness(
    band: NDArray, comp: NDArray[np.bool_], border: NDArray[np.bool_], rr: NDArray, r_eq: float
) -> dict[str, float]:
    """CAS asymmetry and clumpiness (module docs) of one sky-subtracted band; NaN without a source."""
    from scipy import ndimage

    mask = comp | comp[::-1, ::-1]
    total = float(np.abs(band[mask]).sum())
    if not comp.any() or total <= 0:
        return {"asymmetry": float("nan"), "clumpiness": float("nan")}
    diff = np.abs(band - band[::-1, ::-1])  # the border is its own 180° rotation: its sky's asymmetry per pixel
    asym = (float(diff[mask].sum()) - float(diff[border].mean()) * int(mask.sum())) / total
    width = max(3, int(round(0.25 * r_eq)))
    resid = np.clip(band - ndimage.uniform_filter(band, width, mode="nearest"), 0.0, None)
    region = mask & (rr > 0.25 * r_eq)
    light = float(band[region].sum())
    if not region.any() or light <= 0:
        return {"asymmetry": asym, "clumpiness": float("nan")}
    clump = 10.0 * (float(resid[region].sum()) - float(resid[border].mean()) * int(region.sum())) / light
    return {"asymmetry": asym, "clumpiness": clump}


def sharpest_source_fwhm(
    image: np.ndarray, min_sigma: float = _WIDTH_HEIGHTS[0], max_sigma: float = _WIDTH_HEIGHTS[1]
) -> float:
    """Half-maximum width of the sharpest neighbouring source, in frame sides.

    Neighbours are found as :func:`neighbour_peaks` finds them (peaks of the
    detection image outside the central source), keeping those between
    ``min_sigma`` and ``max_sigma`` border σ (bright enough to measure, not
    saturated by the stretch).  Each one's width is taken on the r band with
    the ``gz-decals`` stretch inverted (flux, sky subtracted): the diameter of
    a disc with the area of the connected pixels above half the peak within 6
    pixels of it.

    Parameters
    ----------
    image : ndarray, shape (3, S, S)
        Stretched g, r, z in [0, 1].
    min_sigma, max_sigma : float, default 10, 200
        The peak heights kept, in units of the detection image's border σ.

    Returns
    -------
    float
        The smallest width over the kept neighbours, divided by S; NaN if none.
    """
    return _sharpest_width(image, _detect_neighbours(image)[1], min_sigma, max_sigma)


def _sharpest_width(
    image: np.ndarray, neighbours: list[tuple[int, int, float]], min_sigma: float, max_sigma: float
) -> float:
    """:func:`sharpest_source_fwhm` on neighbours already detected (:func:`_detect_neighbours`)."""
    from scipy import ndimage

    from ..data.preprocess import inverse_stretch
    from ..data.presentation import GZ_DECALS_STRETCH

    s = image.shape[-1]
    border = _border(s)
    r = inverse_stretch(image, GZ_DECALS_STRETCH)[1]
    r = r - np.median(r[border])
    h = 6  # the half-side of the cut-out each width is measured in; nearer the frame's edge is not measured
    best = math.inf
    for y, x, height in neighbours:
        if not (min_sigma <= height <= max_sigma and h <= y < s - h and h <= x < s - h):
            continue
        cut = r[y - h : y + h + 1, x - h : x + h + 1]
        peak = cut[h, h]
        if not peak > 0:
            continue
        lab, _ = ndimage.label(cut > peak / 2)
        best = min(best, 2.0 * math.sqrt(float((lab == lab[h, h]).sum()) / math.pi))
    return best / s if math.isfinite(best) else float("nan")


def _border(s: int) -> NDArray[np.bool_]:
    """The frame's outer band of max(3, 6 S / 128) pixels, where the sky and noise are measured."""
    border = np.zeros((s, s), bool)
    b = max(3, s * 6 // 128)
    border[:b] = border[-b:] = True
    border[:, :b] = border[:, -b:] = True
    return border


def _central_source(image: np.ndarray, border: np.ndarray) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Detection image (band mean smoothed by σ = S/128 px), its border sky and σ, and the central source's 3σ area."""
    from scipy import ndimage

    s = image.shape[-1]
    det = ndimage.gaussian_filter(image.mean(axis=0), 1.0 * s / 128)
    sky, sig = float(np.median(det[border])), max(_robust_sigma(det[border]), 1e-4)
    above = det > sky + 3 * sig
    labels, _ = ndimage.label(above)
    c = s // 2
    centre_labels = labels[c - 2 : c + 2, c - 2 : c + 2]
    lab = np.bincount(centre_labels.ravel()[centre_labels.ravel() > 0]).argmax() if (centre_labels > 0).any() else 0
    return det, sky, sig, (labels == lab if lab > 0 else np.zeros_like(above))


def neighbour_peaks(image: np.ndarray) -> np.ndarray:
    """The neighbouring sources ``measure_image`` counts, with their brightness and place.

    Peaks of the detection image (the band mean smoothed by σ = S/128 px)
    above 5σ of its border, at least 3 pixels apart, outside the central
    source's 3σ area dilated by 3 pixels.

    Parameters
    ----------
    image : ndarray, shape (3, S, S)
        Stretched g, r, z in [0, 1].

    Returns
    -------
    ndarray, shape (K, 2)
        Per neighbour: peak height above the sky in units of the border σ,
        and distance from the frame centre in frame sides.
    """
    s = image.shape[-1]
    c = (s - 1) / 2
    _, rows = _detect_neighbours(image)
    return np.array([(h, math.hypot(y - c, x - c) / s) for y, x, h in rows], dtype=np.float64).reshape(-1, 2)


def _detect_neighbours(image: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
    """The central source's 3σ area and the neighbours (row, column, height in border σ) of :func:`neighbour_peaks`."""
    from scipy import ndimage
    from skimage.feature import peak_local_max

    det, sky, sig, comp = _central_source(image, _border(image.shape[-1]))
    excl = ndimage.binary_dilation(comp, iterations=3) if comp.any() else comp
    peaks = peak_local_max(det, min_distance=3, threshold_abs=sky + 5 * sig, exclude_border=2)
    return comp, [(int(y), int(x), float((det[y, x] - sky) / sig)) for y, x in peaks if not excl[y, x]]


def _montage(real: np.ndarray, sim: np.ndarray, path: Path, k: int = 8, seed: int = 0) -> None:
    """8 real images above 8 simulated ones (random draws), as a PNG."""
    from PIL import Image

    rng = np.random.default_rng(seed)

    def row(imgs: np.ndarray) -> np.ndarray:
        pick = rng.choice(len(imgs), size=min(k, len(imgs)), replace=False)
        return np.concatenate([np.clip(imgs[i][::-1].transpose(1, 2, 0), 0, 1) for i in pick], axis=1)

    grid = np.concatenate([row(real), row(sim)], axis=0)
    Image.fromarray((grid * 255 + 0.5).astype(np.uint8)).save(path)


def _quantities(mr: list[dict[str, float]], ms: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """KS statistic and medians per quantity, from the measurements of the real and simulated images."""
    from scipy import stats

    out = {}
    for key in mr[0]:
        a = np.array([m[key] for m in mr])
        b = np.array([m[key] for m in ms])
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size == 0 or b.size == 0:  # e.g. no galaxy detected: a colour undefined in every image of a set
            log.warning("realism: %s is undefined in every %s image", key, "real" if a.size == 0 else "simulated")
            out[key] = {
                "ks": float("nan"),
                "p": float("nan"),
                "median_real": float(np.median(a)) if a.size else float("nan"),
                "median_sim": float(np.median(b)) if b.size else float("nan"),
                "n_real": int(a.size),
                "n_sim": int(b.size),
            }
            continue
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
    from scipy import ndimage

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


def sky_size_relation(images: np.ndarray, size_frac: ArrayLike | None = None) -> list[dict[str, float]]:
    """How each band's sky level follows the galaxy's size in the frame.

    A survey pipeline's sky boxes take in part of a large galaxy's outskirts, so real Galaxy Zoo DECaLS
    skies darken around larger galaxies (Spearman ρ ≈ −0.18 in g, r, z over the 200 real images of
    ``shared/data``).  Per band: Spearman's ρ (and its p) between the size in the frame
    (``measure_image``'s ``size_frac``) and the mean of the border pixels in 8-bit levels (the median
    sits on whole levels and cannot show a fraction of one), the mean level, and the mean level of the
    smaller and the larger half of the galaxies.

    Parameters
    ----------
    images : ndarray, shape (N, 3, S, S)
        Stretched g, r, z images in [0, 1], N ≥ 3.
    size_frac : array of shape (N,), optional
        The images' ``size_frac`` when already measured (:func:`measure_image`).

    Returns
    -------
    list of 3 dicts
        ``rho``, ``p``, ``mean``, ``small``, ``large`` for g, r, z; ``rho`` and ``p`` are NaN where the
        sky or the size is constant over the images with a finite size.

    Raises
    ------
    GalvaeValueError
        If ``images`` is not (N, 3, S, S) with N ≥ 3 or ``size_frac`` has not N values.
    """
    from scipy.stats import spearmanr

    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != x.shape[3] or len(x) < 3:
        raise GalvaeValueError("sky_size_relation needs images of shape (N, 3, S, S) with N >= 3", x.shape)
    if size_frac is None:
        size = np.array([measure_image(im)["size_frac"] for im in x])
    else:
        size = np.asarray(size_frac, dtype=np.float64)
        if size.shape != (len(x),):
            raise GalvaeValueError(f"size_frac must hold one value per image ({len(x)})", size.shape)
    border = _border(x.shape[-1])
    finite = np.isfinite(size)
    cut = np.median(size[finite]) if finite.any() else np.nan
    small, large = finite & (size <= cut), finite & (size > cut)
    out = []
    for k in range(3):
        sky = x[:, k][:, border].mean(axis=1).astype(np.float64) * 255
        ok = finite & np.isfinite(sky)
        if ok.sum() >= 3 and np.ptp(size[ok]) > 0 and np.ptp(sky[ok]) > 0:
            rho, p = spearmanr(size[ok], sky[ok])
        else:  # a constant sky or size (e.g. noiseless images) has no rank correlation
            rho = p = float("nan")
        out.append(
            {
                "rho": float(rho),
                "p": float(p),
                "mean": float(sky.mean()),
                "small": float(sky[small].mean()) if small.any() else float("nan"),
                "large": float(sky[large].mean()) if large.any() else float("nan"),
            }
        )
    return out


def _cnn_cv(
    real: np.ndarray, sim: np.ndarray, seed: int, folds: int = 5, epochs: int = 12
) -> tuple[list[float], list[float]]:
    """Per-fold test balanced accuracy and ROC AUC of a small CNN telling sim (1) from real (0), at half resolution.

    The decision threshold is the one that maximises the balanced accuracy on the fold's *training* images, read
    in evaluation mode: with batch normalisation the evaluation-mode logits of this network can sit many
    units off zero (+11 and -8 in folds of 400 real and simulated Galaxy Zoo images), so a threshold at
    zero called every test image one class and reported 0.50, "indistinguishable", for a network whose
    test AUC was 0.85-0.94.  The AUC needs no threshold at all.  The networks are seeded per fold inside
    ``torch.random.fork_rng``: the caller's torch RNG is left as it was.
    """
    import torch

    with torch.random.fork_rng():
        return _cnn_cv_seeded(real, sim, seed, folds, epochs)


def _best_threshold(logits: np.ndarray, y: np.ndarray) -> float:
    """The threshold t (predict 1 where logit > t) with the highest balanced accuracy on (logits, y); ties: the lowest.

    Each class's correct calls count in proportion to one over its size (plain accuracy when the classes are
    equal, or when one is absent), so a larger simulated set does not pull the threshold towards "simulated".
    """
    order = np.argsort(logits)
    z, yy = logits[order], y[order]
    n0, n1 = int((yy == 0).sum()), int((yy == 1).sum())
    w0, w1 = (1.0 / n0, 1.0 / n1) if n0 and n1 else (1.0, 1.0)
    # predicting 1 above z[i] (index i and below -> 0): correct = zeros up to i + ones after i
    correct = w0 * np.cumsum(yy == 0) + w1 * (n1 - np.cumsum(yy == 1))
    i = int(np.argmax(correct))
    below_all = w1 * n1  # threshold under every logit: all predicted 1
    if below_all >= correct[i]:
        return float(z[0] - 1.0)
    return float(z[i])


def _cnn_cv_seeded(
    real: np.ndarray, sim: np.ndarray, seed: int, folds: int, epochs: int
) -> tuple[list[float], list[float]]:
    import torch
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from torch import nn

    x = torch.nn.functional.avg_pool2d(torch.from_numpy(np.concatenate([real, sim])).float(), 2)
    y = np.r_[np.zeros(len(real)), np.ones(len(sim))]
    accs, aucs = [], []
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
            train_logits = net(xt)[:, 0].numpy().astype(np.float64)
            test_logits = net(x[te])[:, 0].numpy().astype(np.float64)
        threshold = _best_threshold(train_logits, y[tr])
        accs.append(float(balanced_accuracy_score(y[te], test_logits > threshold)))
        aucs.append(float(roc_auc_score(y[te], test_logits)))
    return accs, aucs


def _classifier_test(
    real: np.ndarray,
    sim: np.ndarray,
    mr: list[dict[str, float]],
    ms: list[dict[str, float]],
    seed: int = 0,
    cnn: bool = True,
    n_jobs: int = 1,
) -> dict[str, dict]:
    """Classifier two-sample test: cross-validated balanced accuracy telling simulated from real (0.5 = chance).

    Returns, per classifier, the mean and standard deviation of the 5 folds' test balanced accuracy (the mean of
    the recall on real and on simulated images, so 0.5 whatever the two sets' sizes), and for the
    random forest the five most important features.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    names = list(mr[0])
    names += [f"r_profile_{i}" for i in range(8)]
    names += [f"{c}_annulus_{i}" for i in range(4) for c in ("g-r", "r-z")]
    names += [f"noise_smooth_{sg}" for sg in (0.5, 1.0, 2.0, 4.0)]
    f = np.stack([_features(x, m) for x, m in zip(np.concatenate([real, sim]), mr + ms, strict=True)])
    finite = np.isfinite(f)  # undefined quantities (no galaxy found) take the column's median, or 0
    med = np.array([np.median(col[ok]) if ok.any() else 0.0 for col, ok in zip(f.T, finite.T, strict=True)])
    f = np.where(finite, f, med)
    y = np.r_[np.zeros(len(real)), np.ones(len(sim))]
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    out: dict[str, dict] = {}
    logreg = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    # balanced accuracy: 0.5 means indistinguishable whatever the two sets' sizes (equal to the accuracy when equal)
    acc = cross_val_score(logreg, f, y, cv=cv, scoring="balanced_accuracy")
    out["logistic regression (features)"] = {"mean": float(acc.mean()), "std": float(acc.std())}
    forest = RandomForestClassifier(300, min_samples_leaf=3, random_state=seed, n_jobs=n_jobs)
    acc = cross_val_score(forest, f, y, cv=cv, scoring="balanced_accuracy")
    top = np.argsort(forest.fit(f, y).feature_importances_)[::-1][:5]
    out["random forest (features)"] = {
        "mean": float(acc.mean()),
        "std": float(acc.std()),
        "top_features": [names[i] for i in top],
    }
    if cnn:
        acc, auc = (np.array(v) for v in _cnn_cv(real, sim, seed))
        out["small CNN (pixels, half resolution)"] = {
            "mean": float(acc.mean()),
            "std": float(acc.std()),
            "folds": acc.tolist(),
            "auc": float(auc.mean()),
            "auc_std": float(auc.std()),
            "auc_folds": auc.tolist(),
        }
    return out


@dataclass(frozen=True)
class RealismResult:
    """What :func:`compare_realism` measured.

    Attributes
    ----------
    quantities : dict
        Quantity -> ``ks`` (two-sample Kolmogorov-Smirnov statistic), ``p``, ``median_real``,
        ``median_sim``, ``n_real``, ``n_sim``.
    classifiers : dict
        Classifier -> ``mean`` and ``std`` of the 5-fold balanced accuracy telling simulated from real
        (0.5 = indistinguishable); the random forest's five most telling features in ``top_features``.
    n_real, n_sim : int
    mean_ks : float
        Mean KS statistic over the quantities.
    neighbours : dict
        ``"real"`` and ``"simulated"`` -> :func:`neighbour_summary` of each set.
    sky_vs_size : dict
        ``"real"`` and ``"simulated"`` -> :func:`sky_size_relation` of each set (per band ρ, p, levels).
    out_dir : Path or None
        Where ``realism.json``, ``realism.md`` and ``realism.png`` were written.
    """

    quantities: dict[str, dict[str, float]]
    classifiers: dict[str, dict[str, Any]]
    n_real: int
    n_sim: int
    mean_ks: float
    out_dir: Path | None = field(default=None)
    neighbours: dict[str, dict[str, float]] = field(default_factory=dict)
    sky_vs_size: dict[str, list[dict[str, float]]] = field(default_factory=dict)


def compare_realism(
    simulated: np.ndarray,
    real: np.ndarray,
    *,
    jpeg_quality: int | None = JPEG_QUALITY,
    classifiers: bool = True,
    cnn: bool = False,
    seed: int = 0,
    n_jobs: int = 1,
    out_dir: str | os.PathLike[str] | None = None,
) -> RealismResult:
    """Compare simulated with real presented galaxy images (issue 18's realism report).

    Parameters
    ----------
    simulated, real : ndarray, shape (N, 3, S, S) and (M, 3, S, S)
        Stretched g, r, z images in [0, 1] of one side S (e.g. a ``gz-decals`` store's images and
        :func:`read_rgb_images` of Galaxy Zoo DECaLS JPEGs).  At least 10 of each (5-fold tests).
    jpeg_quality : int or None, default 92
        Send the simulated images through 8-bit truncation and JPEG at this quality first, as the real
        Galaxy Zoo files were made; None compares them as given.
    classifiers : bool, default True
        Run the classifier two-sample test (logistic regression and random forest on per-image features).
    cnn : bool, default False
        Add a small CNN on the pixels to the classifier test (12 epochs × 5 folds; a minute or two for
        400 images on 2 cores).
    seed : int, default 0
        Seeds the folds, the forest, the CNN and the montage's draws.
    n_jobs : int, default 1
        Processes of the random forest.
    out_dir : path, optional
        Writes ``realism.json``, ``realism.md`` and ``realism.png`` (8 real images above 8 simulated).

    Returns
    -------
    RealismResult

    Raises
    ------
    GalvaeValueError
        On images of different sides, not (N, 3, S, S), or fewer than 10 in a set.
    """
    sim, rl = np.asarray(simulated, dtype=np.float32), np.asarray(real, dtype=np.float32)
    for name, x in (("simulated", sim), ("real", rl)):
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != x.shape[3]:
            raise GalvaeValueError(f"{name} images must have shape (N, 3, S, S)", x.shape)
        if len(x) < 10:
            raise GalvaeValueError(f"the realism comparison needs at least 10 {name} images", len(x))
    if sim.shape[2:] != rl.shape[2:]:
        raise GalvaeValueError(
            f"simulated and real images must have the same side; real images are {rl.shape[-1]} px, simulated",
            sim.shape[-1],
        )
    if jpeg_quality is not None:
        sim = through_jpeg(sim, jpeg_quality)
    log.info("measuring %d real and %d simulated images", len(rl), len(sim))
    mr, ms = [measure_image(x) for x in rl], [measure_image(x) for x in sim]
    quantities = _quantities(mr, ms)
    tests = _classifier_test(rl, sim, mr, ms, seed=seed, cnn=cnn, n_jobs=n_jobs) if classifiers else {}
    mean_ks = float(np.nanmean([q["ks"] for q in quantities.values()]))
    neighbours = {"real": neighbour_summary(rl), "simulated": neighbour_summary(sim)}
    sky_size = {
        "real": sky_size_relation(rl, [m["size_frac"] for m in mr]),
        "simulated": sky_size_relation(sim, [m["size_frac"] for m in ms]),
    }
    out = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _montage(rl, sim, out / "realism.png", seed=seed)
        params = {"jpeg_quality": jpeg_quality, "cnn": cnn, "seed": seed, "size": int(sim.shape[-1])}
        doc = {"n_real": len(rl), "n_sim": len(sim), "mean_ks": mean_ks, "params": params}
        write_json(
            out / "realism.json",
            {**doc, "quantities": quantities, "classifiers": tests, "neighbours": neighbours, "sky_vs_size": sky_size},
        )
        write_text(out / "realism.md", realism_markdown(quantities, tests, len(rl), len(sim), neighbours, sky_size))
    return RealismResult(quantities, tests, len(rl), len(sim), mean_ks, out, neighbours, sky_size)


def realism_markdown(
    quantities: dict[str, dict[str, float]],
    tests: dict[str, dict],
    n_real: int,
    n_sim: int,
    neighbours: dict[str, dict[str, float]] | None = None,
    sky_vs_size: dict[str, list[dict[str, float]]] | None = None,
) -> str:
    """The realism tables (quantities, classifier test; neighbours by brightness, sky against size when given)."""
    lines = [
        f"# Realism: {n_sim} simulated against {n_real} real images",
        "",
        "KS = two-sample Kolmogorov-Smirnov statistic (0 = same distribution, 1 = disjoint); quantities defined "
        "in `galvae.evaluate.realism`.",
        "",
        "| quantity | KS | median real | median simulated |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {k} | {v['ks']:.2f} | {v['median_real']:.3g} | {v['median_sim']:.3g} |" for k, v in quantities.items()
    ]
    lines += ["", f"Mean KS: {np.nanmean([v['ks'] for v in quantities.values()]):.2f}", ""]
    if tests:
        lines += [
            "Classifier two-sample test (5-fold balanced accuracy telling simulated from real; 0.5 = indistinguishable):",
            "",
            "| classifier | balanced accuracy |",
            "|---|---|",
        ]
        lines += [f"| {name} | {v['mean']:.2f} ± {v['std']:.2f} |" for name, v in tests.items()]
        cnn = tests.get("small CNN (pixels, half resolution)", {})
        if "auc" in cnn:
            lines += [
                "",
                f"Small CNN's ROC AUC on the test folds: {cnn['auc']:.2f} ± {cnn['auc_std']:.2f} (0.5 = indistinguishable;"
                " its threshold is set on each training fold).",
            ]
        top = tests.get("random forest (features)", {}).get("top_features")
        if top:
            lines += ["", f"Most telling features (random forest): {', '.join(top)}."]
        lines.append("")
    if neighbours:
        keys = ("per_image", "faint", "mid", "bright", "median_height", "median_distance")
        lines += [
            "Neighbours by brightness (per image; height in border σ, distance in frame sides; `neighbour_peaks`):",
            "",
            "| images | all | 5–10σ | 10–50σ | ≥ 50σ | median height | median distance |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [f"| {name} | " + " | ".join(f"{v[k]:.2f}" for k in keys) + " |" for name, v in neighbours.items()]
        lines.append("")
    if sky_vs_size:
        lines += [
            "Sky against size in the frame (Spearman ρ of the border's mean level and `size_frac`; mean level of the"
            " smaller / larger half, 8-bit; `sky_size_relation`):",
            "",
            "| images | " + " | ".join(f"{b}: ρ | {b}: small / large half" for b in BANDS) + " |",
            "|---|" + "---|---|" * 3,
        ]
        lines += [
            f"| {name} | " + " | ".join(f"{r['rho']:+.2f} | {r['small']:.2f} / {r['large']:.2f}" for r in rows) + " |"
            for name, rows in sky_vs_size.items()
        ]
        lines.append("")
    lines += ["![8 real (top), 8 simulated (bottom)](realism.png)", ""]
    return "\n".join(lines)


def neighbour_summary(images: np.ndarray) -> dict[str, float]:
    """Neighbours per image by brightness over a set of images (:func:`neighbour_peaks` of each).

    Parameters
    ----------
    images : ndarray, shape (N, 3, S, S)
        Stretched g, r, z images in [0, 1].

    Returns
    -------
    dict
        ``per_image`` (mean count), ``faint`` (5–10σ), ``mid`` (10–50σ) and ``bright`` (≥ 50σ) per image,
        ``median_height`` (σ) and ``median_distance`` (frame sides) over all neighbours (nan without any).
    """
    peaks = [neighbour_peaks(x) for x in images]
    h = np.concatenate([p[:, 0] for p in peaks]) if peaks else np.empty(0)
    r = np.concatenate([p[:, 1] for p in peaks]) if peaks else np.empty(0)
    n = max(len(images), 1)
    return {
        "per_image": len(h) / n,
        "faint": float(np.sum(h < 10)) / n,
        "mid": float(np.sum((h >= 10) & (h < 50))) / n,
        "bright": float(np.sum(h >= 50)) / n,
        "median_height": float(np.median(h)) if len(h) else float("nan"),
        "median_distance": float(np.median(r)) if len(r) else float("nan"),
    }
