"""Store-level products: latent catalogues, reconstructions, translations and mock images.

Latent catalogue columns: ``id``; ``mu_0`` … ``mu_{NL-1}`` (latent means);
``logvar_0`` … (log-variances log σ²); ``recon_error``, the mean over the
3 × S × S pixels of the model's reconstruction loss (squared error for
"mse", absolute error for "mae") between an image and the decoding of its
μ; ``outlier_sigma``, the largest over the latents of |μ_j − centre_j| /
scale_j, and ``outlier`` (bool), ``outlier_sigma > k`` -- the paper's
Appendix A k-σ rule (k = 8) as computed by
:func:`galvae.evaluate.outliers.find_outliers`, so that screening defects is a
column cut.  Centre and scale are the mean and standard deviation of each
latent over the rows of this catalogue (``outlier_robust``: the median and
1.4826 × MAD); the metadata key ``outlier`` records k, the statistics and
the number of rows they came from.  Written as Parquet (schema metadata key ``galvae``, JSON) or, when the
name ends in ``.fits``/``.fit``/``.fits.gz``, as a FITS binary table (header
keys MODEL, STORE, SURVEY, NLATENT, IMSIZE, LOSS, GALVAEV, OUTLIERK,
OUTROBST, and the JSON in ``GALVAEMD``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .._validate import check_float
from .._version import __version__
from ..config import config_to_dict
from ..data.store import ImageStore, ImageStoreWriter
from ..data.tables import read_table, table_format, write_table
from ..errors import GalvaeFileError, GalvaeValueError
from ..evaluate.paper import OUTLIER_SIGMA
from ..models.layout import to_network_layout
from .export import check_store_matches
from .model import GalaxyVAE

__all__ = ["encode_store", "reconstruct_store", "translate_store", "generate_mocks", "read_latent_catalog"]

log = logging.getLogger(__name__)

ModelLike = str | os.PathLike[str] | GalaxyVAE


def _model(model: ModelLike, device: str) -> GalaxyVAE:
    if isinstance(model, GalaxyVAE):
        return model
    return GalaxyVAE.load(model, device=device)


def _pick_decoder(vae: GalaxyVAE, survey: str | None, decoder: str | None) -> GalaxyVAE:
    """The decoder to use: ``"auto"`` picks the store's survey when the run has a decoder for it."""
    if decoder is None:
        return vae
    if decoder == "auto":
        return vae.with_decoder(survey) if survey in vae.decoders else vae
    return vae.with_decoder(decoder)


def _open(store: str | os.PathLike[str] | ImageStore) -> ImageStore:
    return store if isinstance(store, ImageStore) else ImageStore(store)


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise GalvaeFileError(out, "already exists (pass overwrite=True / --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)


def _latent_format(path: Path) -> str:
    """FITS for a FITS name (``.fits``, ``.fit``, ``.fits.gz``), Parquet for any other."""
    return "fits" if table_format(path) == "fits" else "parquet"


def _readable_rows(st: ImageStore, rows: np.ndarray, skipped: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Read ``rows`` one by one: (the readable images, a boolean mask of them); append the others to ``skipped``."""
    images, good = [], np.zeros(len(rows), bool)
    for k, row in enumerate(rows):
        try:
            images.append(st.read(slice(int(row), int(row) + 1)))
            good[k] = True
        except GalvaeFileError as exc:
            skipped.append([str(st.ids[row]), exc.message])
    block = np.concatenate(images) if images else np.empty((0, 3, st.size, st.size), np.float32)
    return block, good


def catalog_metadata(vae: Any, st: Any, recon_error: bool) -> dict[str, Any]:
    """What a latent catalogue records of its making: model, store, survey, sizes, loss, version, normalisation.

    Shared by :func:`encode_store` (one file) and
    :func:`~galvae.latents.distributed.encode_store_sharded` (Parquet parts + manifest).
    """
    return {
        "model": os.path.abspath(vae.path),
        "store": os.path.abspath(st.path),
        "survey": st.survey,
        "latent_dim": vae.latent_dim,
        "size": vae.size,
        "loss": vae.config.loss,
        "galvae_version": __version__,
        "normalisation": config_to_dict(st.normalisation),
        "decoder": vae.decoder,
        "precision": vae.precision,
        "recon_error": (
            f"mean over the 3 x S x S pixels of the per-pixel {vae.config.loss} of the decoded mean"
            if recon_error
            else None
        ),
    }


def encode_store(
    model: ModelLike,
    store: str | os.PathLike[str] | ImageStore,
    out: str | os.PathLike[str],
    *,
    batch_size: int = 256,
    device: str = "cpu",
    decoder: str | None = "auto",
    overwrite: bool = False,
    progress: bool = True,
    strict: bool = False,
    outlier_k: float = OUTLIER_SIGMA,
    outlier_robust: bool = False,
    recon_error: bool = True,
) -> Path:
    """Write the latent catalogue of every image of a store.

    Parameters
    ----------
    model : GalaxyVAE or path
        Loaded model, run directory or exported model file.
    store : ImageStore or path
        Must have the size and normalisation the model expects.
    out : path
        ``.fits`` (FITS table) or anything else (Parquet).
    batch_size : int, default 256
        Images read and encoded at a time.
    device : str, default "cpu"
        Used when ``model`` is a path.
    decoder : str or None, default "auto"
        Decoder used for ``recon_error`` in a domain-adapted run (the
        latents come from the shared encoder whatever the decoder):
        ``"auto"`` takes the store's survey when the run has a decoder for
        it, else the run's default; a survey name forces that decoder.
    overwrite : bool, default False
    progress : bool, default True
    strict : bool, default False
        Stop at the first image that cannot be read (a non-finite pixel, a
        damaged chunk) with an error naming the store and the id, writing
        nothing.  By default such images are skipped: the catalogue has no
        row for them, its metadata lists them under ``skipped`` as
        ``[id, reason]`` pairs, and a warning gives their number.
    outlier_k : float, default 8.0
        k of the ``outlier`` column: a galaxy is flagged when
        ``outlier_sigma > outlier_k`` (the paper's Appendix A uses 8).
    outlier_robust : bool, default False
        Compute ``outlier_sigma`` with the median and 1.4826 × MAD of each
        latent instead of its mean and standard deviation, so that the
        outliers do not inflate the scale.  Either way the statistics come
        from this catalogue's own rows; a catalogue of a single galaxy has
        ``outlier_sigma`` NaN and ``outlier`` False.
    recon_error : bool, default True
        Decode every image's μ for the ``recon_error`` column.  False leaves
        the column out and skips the decoder, which is most of the work:
        ``benchmarks/run.md`` measured encode_store at 205 images/s against
        555 for the encoder alone.

    Returns
    -------
    Path

    Raises
    ------
    GalvaeValueError
        If the store does not match the model, on an unknown decoder, or on
        a non-positive ``outlier_k``.
    GalvaeFileError
        If ``out`` exists without ``overwrite``, a file cannot be read, no
        image of the store can be read, or (``strict``) at the first image
        that cannot be read.
    """
    import pandas as pd
    import torch

    from ..losses.elbo import reconstruction_error

    outlier_k = check_float("outlier_k", outlier_k, minimum=0, inclusive=False)
    vae = _model(model, device)
    st = _open(store)
    check_store_matches(vae.meta, st)
    vae = _pick_decoder(vae, st.survey, decoder)
    out = Path(out)
    _check_out(out, overwrite)
    batch_size = GalaxyVAE._check_batch(batch_size)
    n, nl = len(st), vae.latent_dim
    mu = np.empty((n, nl), np.float32)
    lv = np.empty((n, nl), np.float32)
    err = np.empty(n, np.float32)
    npix = 3 * vae.size * vae.size
    net, dev = vae.network, vae.device
    keep = np.ones(n, bool)
    skipped: list[list[str]] = []
    with vae.inference():
        for i in tqdm(range(0, n, batch_size), desc="encode", unit="batch", disable=not progress):
            rows = np.arange(i, min(i + batch_size, n))
            try:
                block = st.read(slice(i, i + batch_size))
            except GalvaeFileError:
                if strict:
                    raise
                block, good = _readable_rows(st, rows, skipped)
                keep[rows[~good]] = False
                rows = rows[good]
            if not len(rows):
                continue
            x = to_network_layout(torch.from_numpy(block).to(dev))
            m, v = net.encode(x)
            mu[rows] = m.float().cpu().numpy()
            lv[rows] = v.float().cpu().numpy()
            if recon_error:
                err[rows] = (reconstruction_error(net.decode(m), x, vae.config.loss) / npix).cpu().numpy()
    if skipped:
        if not keep.any():
            raise GalvaeFileError(
                st.path, f"no image could be encoded ({len(skipped)} unreadable; first: {skipped[0][1]})"
            )
        log.warning(
            "%d of %d images of %s skipped, not encoded (listed under 'skipped' in the catalogue metadata): %s",
            len(skipped),
            n,
            st.path,
            "; ".join(f"{gid}: {reason}" for gid, reason in skipped[:3]),
        )
    columns: dict[str, Any] = {"id": st.ids.astype(str)[keep]}
    columns.update({f"mu_{j}": mu[keep, j] for j in range(nl)})
    columns.update({f"logvar_{j}": lv[keep, j] for j in range(nl)})
    if recon_error:
        columns["recon_error"] = err[keep]
    sigma, flagged, outlier_meta = _outlier_columns(mu[keep], outlier_k, bool(outlier_robust))
    columns["outlier_sigma"] = sigma
    columns["outlier"] = flagged
    meta = {**catalog_metadata(vae, st, recon_error), "skipped": skipped, "outlier": outlier_meta}
    fmt = _latent_format(out)
    header = _fits_cards(meta) if fmt == "fits" else None
    write_table(pd.DataFrame(columns), out, overwrite=True, format=fmt, metadata=meta, fits_header=header)
    log.info(
        "wrote latent catalogue of %d images (NL=%d) to %s; %d beyond %gσ (%s)",
        int(keep.sum()),
        nl,
        out,
        int(flagged.sum()),
        outlier_k,
        "median/MAD" if outlier_robust else "mean/std",
    )
    return out


def _outlier_columns(mu: np.ndarray, k: float, robust: bool) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``outlier_sigma`` (N,) float32, ``outlier`` (N,) bool and their metadata, by the paper's k-σ rule.

    The statistics are those of :func:`galvae.evaluate.outliers.find_outliers`
    over the rows of ``mu`` (N, NL); fewer than two rows give NaN and False.
    """
    from ..evaluate.outliers import find_outliers

    meta: dict[str, Any] = {
        "k": k,
        "robust": robust,
        "centre": "median" if robust else "mean",
        "scale": "1.4826 x MAD" if robust else "standard deviation",
        "over": "the latent means mu_j of this catalogue's rows",
        "n_rows": len(mu),
        "rule": "outlier_sigma = max_j |mu_j - centre_j| / scale_j; outlier = outlier_sigma > k",
    }
    if len(mu) < 2:
        log.warning("outlier_sigma needs at least two galaxies; the catalogue has %d: written as NaN", len(mu))
        return np.full(len(mu), np.nan, np.float32), np.zeros(len(mu), bool), meta
    res = find_outliers(np.asarray(mu, np.float64), sigma=k, robust=robust)
    meta["n_flagged"] = res.n_flagged
    return res.max_abs_z.astype(np.float32), res.flagged.astype(bool), meta


def _fits_cards(meta: dict[str, Any]) -> dict[str, Any]:
    """FITS header cards of a latent catalogue, beside the JSON metadata."""
    # Paths may be long: no comments on these cards (astropy continues long strings).
    return {
        "EXTNAME": "LATENTS",
        "MODEL": meta["model"],
        "STORE": meta["store"],
        "SURVEY": meta["survey"],
        "NLATENT": (meta["latent_dim"], "latent dimension NL"),
        "IMSIZE": (meta["size"], "image side S in pixels"),
        "LOSS": (meta["loss"], "reconstruction loss of recon_error"),
        "GALVAEV": (meta["galvae_version"], "galvae version"),
        "OUTLIERK": (meta["outlier"]["k"], "outlier = outlier_sigma > OUTLIERK"),
        "OUTROBST": (meta["outlier"]["robust"], "outlier_sigma from median/MAD (else mean/std)"),
    }


def read_latent_catalog(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """Read a latent catalogue as a pandas DataFrame plus its metadata dict.

    Parquet or FITS (by the name, as :func:`encode_store` wrote it), read by
    :func:`galvae.data.tables.read_table`; or a sharded catalogue (the
    directory :func:`~galvae.latents.distributed.encode_store_sharded` wrote,
    or its ``manifest.json``), its parts concatenated in row order.

    Raises
    ------
    GalvaeFileError
        If the file is missing, unreadable, truncated, or carries no galvae
        metadata.
    """
    from .distributed import is_latent_shards, read_latent_shards

    p = Path(path)
    if is_latent_shards(p):
        return read_latent_shards(p)
    if not p.is_file():
        raise GalvaeFileError(p, "latent catalogue not found")
    df, meta = read_table(p, format=_latent_format(p))
    if meta is None:
        raise GalvaeFileError(p, "not a galvae latent catalogue (no galvae metadata)")
    return df, meta


def reconstruct_store(
    model: ModelLike,
    store: str | os.PathLike[str] | ImageStore,
    out: str | os.PathLike[str],
    *,
    batch_size: int = 256,
    device: str = "cpu",
    decoder: str | None = "auto",
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write an image store of reconstructions (decoded μ), same ids and order.

    The output keeps the input's survey, normalisation and pixel scale and
    records ``reconstructed_from``, ``model`` and (domain-adapted runs)
    ``decoder`` attributes.  ``decoder`` is as in :func:`encode_store`:
    ``"auto"`` reconstructs with the store's survey's decoder when the run
    has one.

    Raises
    ------
    GalvaeValueError
        If the store does not match the model, or on an unknown decoder.
    GalvaeFileError
        If ``out`` exists without ``overwrite``.
    """
    vae = _model(model, device)
    st = _open(store)
    check_store_matches(vae.meta, st)
    vae = _pick_decoder(vae, st.survey, decoder)
    attrs = {
        "reconstructed_from": os.path.abspath(st.path),
        "model": os.path.abspath(vae.path),
        "kind": "reconstruction",
    }
    if vae.decoder:
        attrs["decoder"] = vae.decoder
    return _write_decoded(vae.reconstruct, st, out, st.survey, attrs, batch_size, overwrite, progress, "reconstruct")


def _write_decoded(
    fn: Any,
    st: ImageStore,
    out: str | os.PathLike[str],
    survey: str,
    attrs: dict[str, Any],
    batch_size: int,
    overwrite: bool,
    progress: bool,
    desc: str,
) -> Path:
    """Write ``fn(images, batch_size=…)`` of every image of ``st`` as a store with the same ids, order,
    normalisation, pixel scale and presentation profile."""
    batch_size = GalaxyVAE._check_batch(batch_size)
    ids = st.ids
    with ImageStoreWriter(
        out,
        size=st.size,
        survey=survey,
        normalisation=st.normalisation,
        pixel_scale_arcsec=st.pixel_scale_arcsec,
        overwrite=overwrite,
        attrs={**attrs, "profile": st.profile, "field_fraction": st.field_fraction},
    ) as w:
        for i in tqdm(range(0, len(st), batch_size), desc=desc, unit="batch", disable=not progress):
            w.append(fn(st.read(slice(i, i + batch_size)), batch_size=batch_size), ids[i : i + batch_size])
    return Path(out)


def translate_store(
    model: ModelLike,
    store: str | os.PathLike[str] | ImageStore,
    out: str | os.PathLike[str],
    *,
    to: str,
    batch_size: int = 256,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write an image store of a store's galaxies as survey ``to`` would have seen them.

    Each image is encoded by the domain-adapted run's shared encoder and
    decoded by ``to``'s decoder (:meth:`GalaxyVAE.translate`).  The output
    has the input's ids, order, normalisation, pixel scale and presentation
    profile; its ``survey`` attribute is ``to`` (so ``galvae encode`` picks
    that decoder) and it records ``kind="translation"``,
    ``translated_from`` (the input store), ``source_survey``, ``model`` and
    ``decoder``.

    Parameters
    ----------
    model : GalaxyVAE or path
        A domain-adapted run (``galvae adapt``) or one of its exported models.
    store : ImageStore or path
        Images of any of the run's surveys, in the run's normalisation.
    out : path
        The image store written (``.h5``).
    to : str
        Target survey, one of the run's decoders.
    batch_size : int, default 256
    device : str, default "cpu"
    overwrite : bool, default False
    progress : bool, default True

    Returns
    -------
    Path

    Raises
    ------
    GalvaeValueError
        If the run is not domain-adapted, has no decoder for ``to``, or the
        store does not match the model.
    GalvaeFileError
        If ``out`` exists without ``overwrite``.
    """
    vae = _model(model, device)
    st = _open(store)
    check_store_matches(vae.meta, st)
    vae.translator(to)  # checked before anything is written
    if st.survey == to:
        log.info("%s is already %s: translating it to %s is a reconstruction with that decoder", st.path, to, to)
    attrs = {
        "kind": "translation",
        "translated_from": os.path.abspath(st.path),
        "source_survey": st.survey,
        "model": os.path.abspath(vae.path),
        "decoder": to,
    }

    def fn(images: np.ndarray, batch_size: int) -> np.ndarray:
        return vae.translate(images, to=to, batch_size=batch_size)

    return _write_decoded(fn, st, out, to, attrs, batch_size, overwrite, progress, f"translate to {to}")


def generate_mocks(
    model: ModelLike,
    out: str | os.PathLike[str],
    *,
    n: int = 16,
    seed: int | None = 0,
    between: tuple[str, str] | None = None,
    store: str | os.PathLike[str] | ImageStore | None = None,
    steps: int = 8,
    batch_size: int = 256,
    device: str = "cpu",
    decoder: str | None = None,
    like: Any = None,
    n_components: int = 10,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write an image store of mock galaxies decoded from the latent space.

    Without ``between``: ``n`` draws z ~ N(0, I) with
    ``np.random.default_rng(seed)``, ids ``mock_00000`` …, or, with ``like``,
    ``n`` draws from a Gaussian mixture of ``n_components`` fitted to the
    latent means of those galaxies (:class:`~galvae.latents.density.LatentDensity`:
    where the model puts real galaxies; prior draws mostly decode to faint
    noise with the calibrated likelihood).  With ``between=(id_a, id_b)`` and
    ``store``: ``steps`` points on the line between the two galaxies' μ, ids
    ``path_00`` ….  The latents are stored as attribute ``latents`` (JSON)
    only for paths; draws are reproducible from the seed (attribute ``seed``).

    ``like`` is an image store (encoded by this model, at most 20 000 of its
    galaxies), a latent catalogue written by this model (``galvae encode``),
    an array of latent means (N, NL), or a fitted
    :class:`~galvae.latents.density.LatentDensity` (``n_components`` is then
    ignored).

    In a domain-adapted run (``galvae adapt``), ``decoder`` names the survey
    whose decoder renders the mocks (default: the run's source survey), so
    the same latents give survey-specific images; the store's ``survey``
    attribute is then ``vae_mock_<survey>``.

    Raises
    ------
    GalvaeValueError
        On bad n/steps, ``between`` without ``store``, a store that does
        not match the model, or an unknown decoder.
    GalvaeKeyError
        On an id not in the store.
    GalvaeFileError
        If ``out`` exists without ``overwrite``.
    """
    vae = _pick_decoder(_model(model, device), None, decoder)
    attrs: dict[str, Any] = {"model": os.path.abspath(vae.path)}
    if vae.decoder:
        attrs["decoder"] = vae.decoder
    if between is not None:
        if store is None:
            raise GalvaeValueError("between=(id_a, id_b) needs store= holding both ids")
        if len(between) != 2:
            raise GalvaeValueError("between must be two ids", between)
        st = _open(store)
        imgs, z = vae.interpolate(str(between[0]), str(between[1]), steps=steps, store=st, return_latents=True)
        ids = [f"path_{k:02d}" for k in range(len(imgs))]
        attrs.update(
            kind="interpolation",
            between=[str(b) for b in between],
            store=os.path.abspath(st.path),
            latents=np.asarray(z).tolist(),
        )
    elif like is not None:
        from .density import LatentDensity

        if isinstance(like, LatentDensity):
            density, where = like, "a fitted LatentDensity"
        else:
            mu, where = _latents_like(vae, like, batch_size)
            density = LatentDensity(n_components=n_components, seed=0 if seed is None else int(seed)).fit(mu)
        imgs = vae.generate(n, seed=seed, batch_size=batch_size, progress=progress, density=density)
        ids = [f"mock_{k:05d}" for k in range(len(imgs))]
        attrs.update(
            kind="latent_density_sample",
            seed=-1 if seed is None else int(seed),
            like=where,
            n_components=int(len(density.weights_)),
            n_fitted=density.n_fitted_,
        )
    else:
        imgs = vae.generate(n, seed=seed, batch_size=batch_size, progress=progress)
        ids = [f"mock_{k:05d}" for k in range(len(imgs))]
        attrs.update(kind="prior_sample", seed=-1 if seed is None else int(seed))
    attrs["profile"] = vae.profile
    attrs["field_fraction"] = vae.field_fraction
    survey = f"vae_mock_{vae.decoder}" if vae.decoder else "vae_mock"
    with ImageStoreWriter(
        out, size=vae.size, survey=survey, normalisation=vae.normalisation, overwrite=overwrite, attrs=attrs
    ) as w:
        w.append(imgs, ids)
    return Path(out)


def _latents_like(vae: GalaxyVAE, like: Any, batch_size: int, max_points: int = 20000) -> tuple[np.ndarray, str]:
    """Latent means of the galaxies ``like`` names (store, catalogue or array) and a description of it."""
    if isinstance(like, np.ndarray):
        return like, f"array of {len(like)} latents"
    if isinstance(like, ImageStore) or str(like).endswith((".h5", ".hdf5")):
        st = _open(like)
        try:
            check_store_matches(vae.meta, st)
            rows = np.arange(len(st))
            if len(rows) > max_points:
                rows = np.sort(np.random.default_rng(0).choice(len(rows), max_points, replace=False))
            mu = np.concatenate(
                [vae.encode(st.read(rows[k : k + 1024]), batch_size=batch_size) for k in range(0, len(rows), 1024)]
            )
            return mu, os.path.abspath(st.path)
        finally:
            if st is not like:  # opened here
                st.close()
    df, meta = read_latent_catalog(like)
    cols = [f"mu_{j}" for j in range(vae.latent_dim)]
    if any(c not in df.columns for c in cols) or f"mu_{vae.latent_dim}" in df.columns:
        raise GalvaeValueError(
            f"like={str(like)!r}: a latent catalogue of this model needs exactly mu_0 … mu_{vae.latent_dim - 1}",
            [c for c in df.columns if c.startswith("mu_")][-1:],
        )
    return df[cols].to_numpy(np.float64), os.path.abspath(like)
