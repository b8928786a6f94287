"""How well a domain-adapted run translates one survey's images into another's.

For the galaxies found in both stores (matched by id), each source image is
turned into a prediction of the target survey's image in three ways, and
each prediction is compared with the real target image of the same galaxy:

``translated``
    The run's translation (:meth:`galvae.GalaxyVAE.translate`): the shared
    encoder's μ decoded by the target survey's decoder.
``untranslated``
    The source image itself (baseline: do nothing).
``psf_matched``
    The source image convolved, band by band, with a Gaussian of
    σ = √(FWHM_target² − FWHM_source²) / 2.3548 (baseline: match the
    seeing).  The FWHMs are the surveys' documented PSFs
    (:data:`galvae.simulate.surveys.SURVEYS`, e.g. DECaLS g, r, z 1.29″,
    1.18″, 1.11″ and BASS+MzLS 1.6″, 1.5″, 1.0″), converted to pixels with
    the store's pixel scale (0.262″ for both).  A band whose target PSF is
    sharper than the source's is left as it is (deconvolution is not a
    baseline).  The convolution acts on the stored, normalised pixels, as a
    user of the stores would apply it; under an asinh stretch it is an
    approximation of convolving the fluxes.

Scores, per galaxy and method (then summarised per method):

- ``ssim``: :func:`galvae.evaluate.ssim.ssim` with the real target image
  (band average, data range 1).
- ``flux_residual``: (F − F_real) / F_real, where F is the sum over the three
  bands of the pixels above the image's background (the median of its
  2-pixel border) -- in stored (normalised) units, not nanomaggies.
- ``size_residual``: (r50 − r50_real) / r50_real, r50 the radius of the
  circle about the image centre holding half of F (curve of growth, linearly
  interpolated, in pixels).

The table has one row per method: ``n_galaxies``, ``ssim_mean``,
``ssim_median``, ``mse_mean`` (pixel mean squared difference),
``flux_residual_median`` and ``size_residual_median`` (signed: a bias),
``flux_residual_mad`` and ``size_residual_mad`` (median absolute residual:
the typical error).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_json, write_text
from .._validate import check_int
from ..errors import GalvaeValueError

__all__ = [
    "METHODS",
    "TranslationResult",
    "evaluate_translation",
    "half_light_radius",
    "image_flux",
    "plot_translation_gallery",
    "psf_match",
    "survey_psf_fwhm",
]

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("translated", "untranslated", "psf_matched")
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))  # 1 / 2.3548
DEFAULT_PIXEL_SCALE = 0.262
_BORDER = 2


@dataclass(frozen=True)
class TranslationResult:
    """What :func:`evaluate_translation` measured.

    Attributes
    ----------
    table : DataFrame
        One row per method (``translated``, ``untranslated``,
        ``psf_matched``); columns in the module docstring.
    per_galaxy : DataFrame
        ``id``, ``method``, ``ssim``, ``mse``, ``flux``, ``flux_real``,
        ``flux_residual``, ``r50``, ``r50_real``, ``size_residual``.
    summary : dict
        Surveys, PSFs, kernel widths, counts, the table as records, files.
    """

    table: Any
    per_galaxy: Any = field(repr=False)
    summary: dict[str, Any] = field(repr=False)

    def row(self, method: str) -> Any:
        """The table's row of ``method`` as a Series."""
        return self.table.set_index("method").loc[method]


def survey_psf_fwhm(survey: str) -> tuple[float, float, float]:
    """The documented g, r, z PSF FWHMs (arcsec) of a built-in survey.

    Raises
    ------
    GalvaeValueError
        If ``survey`` is not a built-in survey.
    """
    from ..simulate.surveys import SURVEYS

    if survey not in SURVEYS:
        raise GalvaeValueError(
            f"no documented PSF for survey {survey!r}: pass source_psf= / target_psf= (g, r, z FWHM in arcsec)",
            survey,
            tuple(SURVEYS),
        )
    return tuple(float(b.psf_fwhm_arcsec) for b in SURVEYS[survey].bands)  # type: ignore[return-value]


def _fwhms(value: Any, name: str) -> tuple[float, float, float]:
    try:
        f = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise GalvaeValueError(f"{name} must be three FWHMs in arcsec (g, r, z)", value) from None
    if len(f) != 3 or not all(np.isfinite(v) and v > 0 for v in f):
        raise GalvaeValueError(f"{name} must be three positive FWHMs in arcsec (g, r, z)", value)
    return f  # type: ignore[return-value]


def psf_match(
    images: Any,
    from_fwhm: Any,
    to_fwhm: Any,
    pixel_scale_arcsec: float = DEFAULT_PIXEL_SCALE,
) -> tuple[np.ndarray, np.ndarray]:
    """Convolve images to a broader PSF with a Gaussian kernel per band.

    Parameters
    ----------
    images : array_like, shape (N, 3, S, S)
    from_fwhm, to_fwhm : sequence of 3 float
        g, r, z PSF FWHMs (arcsec) of the images and of the survey to match.
    pixel_scale_arcsec : float, default 0.262

    Returns
    -------
    matched : ndarray, shape (N, 3, S, S), float32
    sigma_pix : ndarray, shape (3,)
        Kernel σ per band in pixels, √(max(to² − from², 0)) / 2.3548 / scale;
        0 (image unchanged) where the target PSF is not broader.

    Raises
    ------
    GalvaeValueError
        On images that are not (N, 3, S, S), bad FWHMs or pixel scale.
    """
    from scipy.ndimage import gaussian_filter

    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] != 3:
        raise GalvaeValueError("images must have shape (N, 3, S, S)", x.shape)
    a, b = np.asarray(_fwhms(from_fwhm, "from_fwhm")), np.asarray(_fwhms(to_fwhm, "to_fwhm"))
    if not (np.isfinite(pixel_scale_arcsec) and pixel_scale_arcsec > 0):
        raise GalvaeValueError("pixel_scale_arcsec must be positive", pixel_scale_arcsec)
    sigma = np.sqrt(np.maximum(b**2 - a**2, 0.0)) * FWHM_TO_SIGMA / float(pixel_scale_arcsec)
    out = x.copy()
    for band, s in enumerate(sigma):
        if s > 0:
            out[:, band] = gaussian_filter(x[:, band], sigma=(0, s, s), mode="reflect")
    return out, sigma


def _background_subtracted(images: np.ndarray) -> np.ndarray:
    """Band-summed images (N, S, S) minus their border median."""
    tot = np.asarray(images, dtype=np.float64).sum(axis=1)
    border = np.concatenate(
        [
            tot[:, :_BORDER].reshape(len(tot), -1),
            tot[:, -_BORDER:].reshape(len(tot), -1),
            tot[:, _BORDER:-_BORDER, :_BORDER].reshape(len(tot), -1),
            tot[:, _BORDER:-_BORDER, -_BORDER:].reshape(len(tot), -1),
        ],
        axis=1,
    )
    return tot - np.median(border, axis=1)[:, None, None]


def image_flux(images: Any) -> np.ndarray:
    """F: sum over bands and pixels above the border-median background, shape (N,).

    Parameters
    ----------
    images : array_like, shape (N, 3, S, S)
    """
    return _background_subtracted(np.asarray(images)).sum(axis=(1, 2))


def half_light_radius(images: Any) -> np.ndarray:
    """r50 (pixels) about the image centre from the curve of growth of F, shape (N,).

    NaN where F ≤ 0.  The radius is interpolated linearly between the
    pixel-radius steps of the cumulative sum.

    Parameters
    ----------
    images : array_like, shape (N, 3, S, S)
    """
    img = _background_subtracted(np.asarray(images))
    n, s, _ = img.shape
    yy, xx = np.mgrid[0:s, 0:s]
    c = (s - 1) / 2.0
    r = np.hypot(yy - c, xx - c).ravel()
    order = np.argsort(r, kind="stable")
    rs = r[order]
    cum = np.cumsum(img.reshape(n, -1)[:, order], axis=1)
    total = cum[:, -1]
    out = np.full(n, np.nan)
    for i in range(n):
        if not total[i] > 0:
            continue
        k = int(np.argmax(cum[i] >= 0.5 * total[i]))
        if k == 0:
            out[i] = rs[0]
            continue
        c0, c1 = cum[i, k - 1], cum[i, k]
        t = (0.5 * total[i] - c0) / (c1 - c0) if c1 != c0 else 1.0
        out[i] = rs[k - 1] + t * (rs[k] - rs[k - 1])
    return out


def _relative(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - ref) / np.abs(ref)
    out[~np.isfinite(out)] = np.nan
    return out


def evaluate_translation(
    model: Any,
    source: Any,
    target: Any,
    *,
    to: str | None = None,
    translated: Any = None,
    out_dir: str | os.PathLike[str] | None = None,
    max_galaxies: int | None = None,
    seed: int = 0,
    source_psf: Any = None,
    target_psf: Any = None,
    batch_size: int = 256,
    gallery: int = 8,
    device: str = "cpu",
    progress: bool = True,
) -> TranslationResult:
    """Compare translated images with the real target-survey images, against two baselines.

    Parameters
    ----------
    model : GalaxyVAE or path
        A domain-adapted run (``galvae adapt``).
    source : ImageStore or path
        The images to translate.
    target : ImageStore or path
        The real images of the survey translated to; galaxies are matched
        to ``source`` by id.
    to : str, optional
        The target survey (default: ``target``'s survey attribute).
    translated : ImageStore or path, optional
        Translations already written by :func:`galvae.translate_store`
        (read by id instead of translating again).
    out_dir : path, optional
        Writes ``translation.csv`` (the table), ``translation.md``,
        ``translation.json`` (summary), ``translation_per_galaxy.csv`` and
        ``translation_gallery.png`` (source, translated, real target and
        translated − real for ``gallery`` galaxies).
    max_galaxies : int, optional
        Score a random subset of the matched galaxies (``seed``).
    seed : int, default 0
    source_psf, target_psf : sequence of 3 float, optional
        g, r, z PSF FWHMs (arcsec); default the documented PSFs of the
        stores' surveys (:func:`survey_psf_fwhm`).
    batch_size : int, default 256
    gallery : int, default 8
        Galaxies in the gallery (0: none).
    device : str, default "cpu"
    progress : bool, default True

    Returns
    -------
    TranslationResult

    Raises
    ------
    GalvaeValueError
        If the run cannot translate to ``to``, the stores share no id, the
        stores differ in size or normalisation from the model, a survey's
        PSF is unknown and not given, or ``max_galaxies`` is not positive.
    GalvaeKeyError
        If ``translated`` lacks a matched galaxy.
    GalvaeFileError
        If a store cannot be read.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from ..data.store import ImageStore
    from ..latents.export import check_store_matches
    from ..latents.model import GalaxyVAE

    vae = model if isinstance(model, GalaxyVAE) else GalaxyVAE.load(model, device=device)
    src = source if isinstance(source, ImageStore) else ImageStore(source)
    tgt = target if isinstance(target, ImageStore) else ImageStore(target)
    for st in (src, tgt):
        check_store_matches(vae.meta, st)
    to = tgt.survey if to is None else to
    vae.translator(to)
    tr_store = None
    if translated is not None:
        tr_store = translated if isinstance(translated, ImageStore) else ImageStore(translated)
    fwhm_src = _fwhms(source_psf, "source_psf") if source_psf is not None else survey_psf_fwhm(src.survey)
    fwhm_tgt = _fwhms(target_psf, "target_psf") if target_psf is not None else survey_psf_fwhm(to)
    scale = _pixel_scale(src)
    ids, n_shared = _matched_ids(src, tgt, max_galaxies, seed)
    batch_size = GalaxyVAE._check_batch(batch_size)
    rows: list[pd.DataFrame] = []
    shown: dict[str, list[np.ndarray]] = {"source": [], "translated": [], "real": []}
    sigma_pix = np.zeros(3)
    for i in tqdm(range(0, len(ids), batch_size), desc="evaluate translation", unit="batch", disable=not progress):
        batch = ids[i : i + batch_size]
        x = src.read(src.index_of(batch))
        real = tgt.read(tgt.index_of(batch))
        if tr_store is not None:
            tr = tr_store.read(tr_store.index_of(batch))
        else:
            tr = vae.translate(x, to=to, batch_size=batch_size)
        matched, sigma_pix = psf_match(x, fwhm_src, fwhm_tgt, scale)
        rows += _score_batch(batch, real, dict(zip(METHODS, (tr, x, matched), strict=True)))
        room = gallery - len(shown["source"])
        if room > 0:
            shown["source"] += list(x[:room])
            shown["translated"] += list(tr[:room])
            shown["real"] += list(real[:room])
    per = pd.concat(rows, ignore_index=True)
    table = _summarise(per)
    summary: dict[str, Any] = {
        "model": os.path.abspath(vae.path),
        "source": os.path.abspath(src.path),
        "target": os.path.abspath(tgt.path),
        "source_survey": src.survey,
        "to": to,
        "n_galaxies": len(ids),
        "n_shared": n_shared,
        "source_psf_fwhm_arcsec": list(fwhm_src),
        "target_psf_fwhm_arcsec": list(fwhm_tgt),
        "pixel_scale_arcsec": scale,
        "psf_kernel_sigma_pix": [float(s) for s in sigma_pix],
        "table": table.to_dict(orient="records"),
        "files": [],
    }
    log.info(
        "translation %s -> %s on %d galaxies: SSIM %.3f (untranslated %.3f, PSF-matched %.3f)",
        src.survey,
        to,
        len(ids),
        *(float(table.set_index("method").loc[m, "ssim_mean"]) for m in METHODS),
    )
    if out_dir is not None:
        _write(Path(out_dir), table, per, summary, shown, src.survey, to)
    for st, given in ((src, source), (tgt, target), (tr_store, translated)):
        if st is not None and st is not given:
            st.close()
    return TranslationResult(table, per, summary)


def _pixel_scale(src: Any) -> float:
    """The source store's pixel scale in arcsec, :data:`DEFAULT_PIXEL_SCALE` where it records none."""
    scale = float(src.pixel_scale_arcsec)
    if not np.isfinite(scale):
        log.info("%s records no pixel scale: %.3f arcsec assumed for the PSF kernel", src.path, DEFAULT_PIXEL_SCALE)
        scale = DEFAULT_PIXEL_SCALE
    return scale


def _matched_ids(src: Any, tgt: Any, max_galaxies: int | None, seed: int) -> tuple[np.ndarray, int]:
    """The ids scored (in the source's order; a random ``max_galaxies`` of them) and how many the stores share."""
    tgt_ids = set(tgt.ids.tolist())
    ids = np.asarray([i for i in src.ids.tolist() if i in tgt_ids])
    if not len(ids):
        raise GalvaeValueError(f"the stores {src.path} and {tgt.path} share no galaxy id", len(ids))
    n_shared = int(len(tgt_ids & set(src.ids.tolist())))
    if max_galaxies is not None:
        check_int("max_galaxies", max_galaxies, minimum=1)
        if max_galaxies < len(ids):
            pick = np.sort(np.random.default_rng(seed).choice(len(ids), int(max_galaxies), replace=False))
            ids = ids[pick]
    return ids, n_shared


def _score_batch(batch: np.ndarray, real: np.ndarray, predictions: dict[str, np.ndarray]) -> list[Any]:
    """One table per method: SSIM, MSE, flux and half-light radius of its prediction against the real images."""
    import pandas as pd

    from .ssim import ssim

    rows = []
    f_real, r_real = image_flux(real), half_light_radius(real)
    for method, pred in predictions.items():
        f, r50 = image_flux(pred), half_light_radius(pred)
        rows.append(
            pd.DataFrame(
                {
                    "id": batch,
                    "method": method,
                    "ssim": np.asarray(ssim(pred, real), np.float64),
                    "mse": ((pred.astype(np.float64) - real) ** 2).mean(axis=(1, 2, 3)),
                    "flux": f,
                    "flux_real": f_real,
                    "flux_residual": _relative(f, f_real),
                    "r50": r50,
                    "r50_real": r_real,
                    "size_residual": _relative(r50, r_real),
                }
            )
        )
    return rows


def _summarise(per: Any) -> Any:
    import pandas as pd

    out = []
    for method in METHODS:
        d = per[per["method"] == method]
        out.append(
            {
                "method": method,
                "n_galaxies": len(d),
                "ssim_mean": float(d["ssim"].mean()),
                "ssim_median": float(d["ssim"].median()),
                "mse_mean": float(d["mse"].mean()),
                "flux_residual_median": float(d["flux_residual"].median()),
                "flux_residual_mad": float(d["flux_residual"].abs().median()),
                "size_residual_median": float(d["size_residual"].median()),
                "size_residual_mad": float(d["size_residual"].abs().median()),
            }
        )
    return pd.DataFrame(out)


def _markdown(table: Any, summary: dict[str, Any]) -> str:
    lines = [
        f"# Translation {summary['source_survey']} → {summary['to']}",
        "",
        f"{summary['n_galaxies']} galaxies in both stores; each prediction compared with the real "
        f"{summary['to']} image. PSF FWHM (g, r, z) {summary['source_survey']} "
        f"{', '.join(f'{v:g}' for v in summary['source_psf_fwhm_arcsec'])}″ → {summary['to']} "
        f"{', '.join(f'{v:g}' for v in summary['target_psf_fwhm_arcsec'])}″; Gaussian kernel σ "
        f"{', '.join(f'{v:.2f}' for v in summary['psf_kernel_sigma_pix'])} px.",
        "",
        "| method | galaxies | SSIM mean | SSIM median | MSE | flux residual (median) | |flux residual| "
        "(median) | size residual (median) | |size residual| (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.method} | {r.n_galaxies} | {r.ssim_mean:.4f} | {r.ssim_median:.4f} | {r.mse_mean:.3g} | "
            f"{r.flux_residual_median:+.3f} | {r.flux_residual_mad:.3f} | {r.size_residual_median:+.3f} | "
            f"{r.size_residual_mad:.3f} |"
        )
    return "\n".join(lines) + "\n"


def _write(
    out: Path,
    table: Any,
    per: Any,
    summary: dict[str, Any],
    shown: dict[str, list[np.ndarray]],
    source_survey: str,
    to: str,
) -> None:
    from ..data.tables import write_table

    out.mkdir(parents=True, exist_ok=True)
    write_table(table, out / "translation.csv", overwrite=True)
    write_table(per, out / "translation_per_galaxy.csv", overwrite=True)
    summary["files"] = ["translation.csv", "translation.md", "translation.json", "translation_per_galaxy.csv"]
    if shown["source"]:
        from ..plots import save_figure

        save_figure(plot_translation_gallery(shown, source_survey, to), out / "translation_gallery.png")
        summary["files"].append("translation_gallery.png")
    write_text(out / "translation.md", _markdown(table, summary))
    write_json(out / "translation.json", summary)


def plot_translation_gallery(shown: dict[str, list[np.ndarray]], source_survey: str, to: str) -> Any:
    """Columns of galaxies; rows: source image, translation, real target image, translation − real.

    The residual row shows 0.5 + (translated − real) per band as RGB (grey = no difference).
    """
    from ..plots import new_figure, rgb_composite

    n = len(shown["source"])
    rows = [
        (source_survey, shown["source"]),
        (f"translated → {to}", shown["translated"]),
        (f"real {to}", shown["real"]),
        ("translated − real", [0.5 + (t - r) for t, r in zip(shown["translated"], shown["real"], strict=True)]),
    ]
    fig, axes = new_figure((max(1.5 * n + 1.2, 4.0), 6.4), 4, n)
    axes = np.asarray(axes).reshape(4, n)
    for i, (name, imgs) in enumerate(rows):
        for j in range(n):
            ax = axes[i, j]
            ax.imshow(rgb_composite(imgs[j]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, 0].set_ylabel(name, fontsize=8)
    fig.suptitle(f"{source_survey} → {to}: source, translation, real target, residual", fontsize=9)
    return fig
