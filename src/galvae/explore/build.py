"""Build the explorer page: map, neighbours, columns and thumbnails of a latent catalogue.

:func:`build_explorer` is the whole job; the module docstring of
:mod:`galvae.explore` describes the files it writes and why they are laid
out that way.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .._io import write_text
from .._validate import check_int
from .._version import __version__
from ..errors import GalvaeFileError, GalvaeKeyError, GalvaeValueError
from .thumbs import FORMATS, PER_ATLAS, PER_ROW, write_atlases

__all__ = [
    "DATA_FILE",
    "ExplorerResult",
    "MAX_CATEGORIES",
    "PROJECTIONS",
    "THUMB_FORMATS",
    "build_explorer",
    "column_kind",
    "page_data",
    "umap_available",
]

log = logging.getLogger(__name__)

#: 2-D maps of the latent space: ``"auto"`` is UMAP when umap-learn is installed, else PCA.
PROJECTIONS: tuple[str, ...] = ("auto", "umap", "pca", "tsne")

#: Image formats of the thumbnail atlases.
THUMB_FORMATS: tuple[str, ...] = tuple(FORMATS)

#: The page data, beside ``index.html``: a script assigning ``window.GALVAE_EXPLORE``.
DATA_FILE = "explore-data.js"

#: A text column with at most this many distinct values is a category (colourable); beyond, plain text.
MAX_CATEGORIES = 40

_THUMB_DIR = "thumbs"
_LATENT_PREFIXES = ("mu_", "logvar_")
_CHUNK = 1024  # images read (or decoded) at a time; divides PER_ATLAS so a chunk never straddles an atlas


@dataclass(frozen=True)
class ExplorerResult:
    """What :func:`build_explorer` wrote.

    Attributes
    ----------
    out_dir : Path
    index_html : Path
        The page; open it in a browser (``file://`` works) or serve the
        directory (:func:`galvae.explore.serve`).
    n_galaxies : int
    projection : str
        The map actually drawn: ``"umap"``, ``"pca"`` or ``"tsne"``.
    reconstructions : bool
        Whether the page shows reconstructions.
    columns : tuple of str
        Catalogue columns on the page (colourable or shown in the row).
    k : int
        Neighbours stored per galaxy.
    seconds : dict
        Step → wall time (``load``, ``map``, ``neighbours``, ``thumbnails``,
        ``reconstructions``, ``write``).
    n_bytes : int
        Size of everything written.
    reused : tuple of str
        Parts taken from the page this one replaced (``overwrite=True``)
        because their inputs are unchanged: ``"map"``, ``"neighbours"``,
        ``"images"``, ``"reconstructions"``.
    """

    out_dir: Path
    index_html: Path
    n_galaxies: int
    projection: str
    reconstructions: bool
    columns: tuple[str, ...]
    k: int
    seconds: dict[str, float] = field(default_factory=dict)
    n_bytes: int = 0
    reused: tuple[str, ...] = ()


# --------------------------------------------------------------------------- checks


def _check_int(value: Any, name: str, lo: int, hi: int | None = None) -> int:
    return check_int(name, value, minimum=lo, maximum=hi)


def _check_choice(value: Any, name: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise GalvaeValueError(f"{name} is not known", value, allowed)
    return str(value)


def _prepare_out(out: Path, overwrite: bool, keep: frozenset[str] = frozenset()) -> None:
    """Create ``out``; with ``overwrite`` remove an earlier page's files (and only those), but the atlases in ``keep``."""
    if out.exists() and not out.is_dir():
        raise GalvaeFileError(out, "exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise GalvaeFileError(
                out, "exists and is not empty (pass overwrite=True / --overwrite to replace the page)"
            )
        for name in ("index.html", DATA_FILE):
            (out / name).unlink(missing_ok=True)
        thumbs = out / _THUMB_DIR
        if thumbs.is_dir():
            exts = tuple(f".{ext}" for ext, _ in FORMATS.values())
            for p in thumbs.iterdir():
                if p.name.startswith(("img_", "recon_")) and p.suffix in exts and p.name not in keep:
                    p.unlink()
    (out / _THUMB_DIR).mkdir(parents=True, exist_ok=True)


# --------------------------------------------------------------------------- columns


def _b64(arr: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(arr, dtype=dtype).tobytes()).decode("ascii")


def _finite_or_none(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _is_bool_like(s: Any) -> bool:
    import pandas as pd

    if pd.api.types.is_bool_dtype(s.dtype):
        return True
    if s.dtype == object:
        vals = s.dropna()
        return len(vals) > 0 and all(isinstance(v, bool | np.bool_) for v in vals.tolist())
    return False


def column_kind(s: Any) -> str:
    """``"numeric"``, ``"category"`` or ``"text"``: how the page shows a column (a pandas Series)."""
    import pandas as pd

    if _is_bool_like(s):
        return "category"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "numeric"
    return "category" if s.dropna().astype(str).nunique() <= MAX_CATEGORIES else "text"


def _column_entry(name: str, s: Any) -> dict[str, Any]:
    """A column as the page stores it (see :func:`page_data`)."""
    import pandas as pd

    kind = column_kind(s)
    if kind == "numeric":
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        fin = v[np.isfinite(v)]
        stats = (
            {
                "min": float(fin.min()),
                "max": float(fin.max()),
                "lo": float(np.percentile(fin, 1)),
                "hi": float(np.percentile(fin, 99)),
            }
            if fin.size
            else {"min": None, "max": None, "lo": None, "hi": None}
        )
        integer = bool(pd.api.types.is_integer_dtype(s.dtype)) or bool(fin.size and np.all(fin == np.round(fin)))
        return {
            "name": name,
            "kind": kind,
            "data": _b64(v, "<f4"),
            "missing": int(v.size - fin.size),
            "integer": integer,
            **stats,
        }
    if kind == "category":
        if _is_bool_like(s):
            text = [None if pd.isna(b) else ("true" if bool(b) else "false") for b in s.tolist()]
        else:
            text = [None if pd.isna(t) else str(t) for t in s.tolist()]
        counts: dict[str, int] = {}
        for t in text:
            if t is not None:
                counts[t] = counts.get(t, 0) + 1
        cats = sorted(counts, key=lambda c: (-counts[c], c))
        lookup = {c: i for i, c in enumerate(cats)}
        codes = np.array([255 if t is None else lookup[t] for t in text], np.uint8)
        return {
            "name": name,
            "kind": kind,
            "data": _b64(codes, "u1"),
            "categories": cats,
            "counts": [int(counts[c]) for c in cats],
            "missing": int((codes == 255).sum()),
        }
    values = [None if pd.isna(t) else str(t) for t in s.tolist()]
    return {"name": name, "kind": "text", "values": values, "missing": sum(v is None for v in values)}


def _merge_columns(df: Any, ids: np.ndarray, catalog: Any) -> tuple[Any, list[str]]:
    """The page's columns, one row per latent id: the latent catalogue's own (not mu_/logvar_), then the catalogue's.

    Returns (DataFrame indexed like ``ids``, names from the catalogue).
    """
    import pandas as pd

    from ..evaluate.inputs import load_catalog

    own = [c for c in df.columns if c != "id" and not str(c).startswith(_LATENT_PREFIXES)]
    table = df[own].reset_index(drop=True)
    table.index = pd.Index(ids)
    if catalog is None:
        return table, []
    cat = load_catalog(catalog)
    where = f"the catalogue {catalog}" if isinstance(catalog, str | os.PathLike) else "the catalogue"
    if "id" not in cat.columns:
        raise GalvaeKeyError(
            f"{where} has no 'id' column to match the latent catalogue's ids", "id", list(cat.columns)[:10]
        )
    cat_ids = cat["id"].astype(str)
    if cat_ids.duplicated().any():
        raise GalvaeValueError(f"ids of {where} must be unique", cat_ids[cat_ids.duplicated()].iloc[:3].tolist())
    cat = cat.drop(columns="id")
    cat.index = pd.Index(cat_ids.to_numpy())
    found = pd.Index(ids).isin(cat.index)
    if not found.any():
        raise GalvaeValueError(
            f"none of the {len(ids)} ids of the latent catalogue are in {where}",
            ids[:3].tolist(),
            f"ids of the catalogue, e.g. {', '.join(repr(i) for i in cat.index[:3].tolist())}",
        )
    if not found.all():
        log.warning(
            "%d of %d galaxies are not in %s (e.g. %s): their catalogue columns are left empty",
            int((~found).sum()),
            len(ids),
            where,
            ", ".join(repr(i) for i in ids[~found][:3].tolist()),
        )
    renamed = {c: f"{c} (catalogue)" for c in cat.columns if c in table.columns}
    cat = cat.rename(columns=renamed).reindex(pd.Index(ids))
    return pd.concat([table, cat], axis=1), [str(c) for c in cat.columns]


def _select_columns(table: Any, columns: Sequence[str] | None, color: str | None) -> tuple[Any, str | None]:
    """Keep ``columns`` (default all) and check ``color``; return (table, colour column or None)."""
    full = table
    available = [str(c) for c in table.columns]
    if columns is not None:
        if isinstance(columns, str):
            columns = [columns]
        missing = [c for c in columns if c not in available]
        if missing:
            raise GalvaeKeyError(
                "column(s) not in the latent catalogue or the catalogue",
                missing if len(missing) > 1 else missing[0],
                available,
            )
        table = table[list(dict.fromkeys(columns))]
    if color is not None:
        if color not in available:
            raise GalvaeKeyError("color column not in the latent catalogue or the catalogue", color, available)
        if color not in table.columns:  # coloured by, so shown too
            table = table.join(full[[color]])
        if column_kind(table[color]) == "text":
            raise GalvaeValueError(
                f"color column {color!r} holds more than {MAX_CATEGORIES} distinct text values: colour by a numeric "
                "or categorical column",
                color,
            )
    return table, color


def _default_color(table: Any) -> str | None:
    if "outlier_sigma" in table.columns:
        return "outlier_sigma"
    for c in table.columns:
        if column_kind(table[c]) != "text":
            return str(c)
    return None


# --------------------------------------------------------------------------- map and neighbours


def _import_umap() -> Any:
    """umap-learn's module, or None when it is not installed.

    umap-learn's ``__init__`` warns (``ImportWarning``) when TensorFlow is missing, about its
    ParametricUMAP, which galvae does not use; the warning is silenced here so that it does not
    surface (or fail a run with warnings as errors).
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Tensorflow not installed.*", category=ImportWarning)
        try:
            import umap
        except ImportError:
            return None
    return umap


def umap_available() -> bool:
    """Whether umap-learn can be imported."""
    return _import_umap() is not None


def _resolve_projection(projection: str) -> str:
    """``"auto"`` → ``"umap"`` when umap-learn is installed, else ``"pca"`` (logged)."""
    if projection != "auto":
        return projection
    if umap_available():
        return "umap"
    log.info("umap-learn is not installed: the map is PCA (pip install 'galvae[explore]' for UMAP)")
    return "pca"


def _project(x: np.ndarray, projection: str, seed: int) -> tuple[np.ndarray, str, list[str], str]:
    """(xy (N, 2) float32, method, axis labels, sentence describing it) of a resolved ``projection``."""
    n = len(x)
    if projection == "umap":
        umap = _import_umap()
        if umap is None:
            raise GalvaeValueError(
                "projection='umap' needs umap-learn, which is not installed (pip install 'galvae[explore]')",
                projection,
                ("auto", "pca", "tsne"),
            )

        nn = int(min(15, n - 1))
        # one job: a seeded UMAP is serial anyway (umap-learn warns when asked for more)
        reducer = umap.UMAP(n_components=2, n_neighbors=nn, min_dist=0.1, random_state=seed, n_jobs=1)
        xy = reducer.fit_transform(x)
        return (
            np.asarray(xy, np.float32),
            "umap",
            ["UMAP 1", "UMAP 2"],
            f"UMAP of the latent means μ (umap-learn, {nn} neighbours, min_dist 0.1, seed {seed}): neighbourhoods "
            "are kept, distances between clusters mean little.",
        )
    if projection == "tsne":
        from ..evaluate.latent_space import tsne_embedding

        if n > 20000:
            log.warning("t-SNE of %d galaxies takes long on a CPU (UMAP or PCA scale better)", n)
        xy, perplexity = tsne_embedding(x, seed)
        return (
            np.asarray(xy, np.float32),
            "tsne",
            ["t-SNE 1", "t-SNE 2"],
            f"t-SNE of the latent means μ (scikit-learn, perplexity {perplexity:.1f}, seed {seed}): neighbourhoods "
            "are kept, cluster sizes and gaps mean little.",
        )
    from ..evaluate.latent_space import pca_embedding

    xy, ev = pca_embedding(x, seed)
    return (
        np.asarray(xy, np.float32),
        "pca",
        [f"PC 1 ({100 * ev[0]:.1f} % of variance)", f"PC 2 ({100 * ev[1]:.1f} % of variance)"],
        "The latent means μ on their first two principal components (distances in the plane are distances in "
        "latent space, shortened).",
    )


def _neighbours(
    x: np.ndarray, ids: np.ndarray, k: int, metric: str, index_kind: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rows (N, k) int32, distances (N, k) float32) of each galaxy's k nearest others, nearest first; -1/NaN pad."""
    import pandas as pd

    from ..latents.similar import SimilarityIndex

    n = len(ids)
    rows = np.full((n, k), -1, np.int32)
    dist = np.full((n, k), np.nan, np.float32)
    if k == 0:
        return rows, dist
    index = SimilarityIndex(metric, index_kind, cache=False, seed=seed).fit(x, ids=ids)
    table = index.query(ids=ids.tolist(), k=k)
    where = pd.Index(ids)
    q = where.get_indexer(table["query"])
    r = table["rank"].to_numpy() - 1
    rows[q, r] = where.get_indexer(table["id"])
    dist[q, r] = table["distance"].to_numpy(np.float32)
    return rows, dist


# --------------------------------------------------------------------------- model


def _resolve_model(model: Any, meta: dict[str, Any], nl: int, device: str) -> tuple[Any, str]:
    """(GalaxyVAE or None, a sentence for the page saying what the reconstructions are or why there are none)."""
    from ..latents.model import GalaxyVAE

    if model is None:
        return None, "No model was given (model=None / --no-model): the page shows the images only, no reconstructions."
    decoder = meta.get("decoder")
    if isinstance(model, str) and model == "auto":
        path = meta.get("model")
        if not path:
            return None, (
                "The latent catalogue names no model: the page shows the images only "
                "(galvae explore --model RUN adds reconstructions)."
            )
        if not Path(path).exists():
            log.warning("the latent catalogue's model %s was not found: no reconstructions on the page", path)
            return None, (
                f"The latent catalogue's model ({path}) was not found: the page shows the images only "
                "(galvae explore --model RUN adds reconstructions)."
            )
        model = path
    if isinstance(model, GalaxyVAE):
        vae = model
    else:
        vae = GalaxyVAE.load(model, device=device)
    if decoder and decoder in vae.decoders and vae.decoder != decoder:
        vae = vae.with_decoder(decoder)
    if vae.latent_dim != nl:
        raise GalvaeValueError(
            f"model {vae.path} has latent dimension {vae.latent_dim} but the latent catalogue has {nl}", vae.latent_dim
        )
    dec = f", {vae.decoder} decoder" if vae.decoder else ""
    return vae, (
        f"Reconstruction: the decoder of {vae.path}{dec} applied to the galaxy's latent mean μ from the catalogue."
    )


# --------------------------------------------------------------------------- the page


def _asset(name: str) -> str:
    return resources.files("galvae.explore").joinpath("assets", name).read_text(encoding="utf-8")


def _index_html(title: str) -> str:
    js, css = _asset("explorer.js"), _asset("explorer.css")
    if "</script" in js.lower() or "</style" in css.lower():  # pragma: no cover - a packaging mistake
        raise GalvaeValueError("the explorer's inline assets must not close their own tags")
    page = _asset("index.html")
    return (
        page.replace("%%TITLE%%", html.escape(title))
        .replace("%%DATA_FILE%%", DATA_FILE)
        .replace("/*%%CSS%%*/", css)
        .replace("/*%%JS%%*/", js)
    )


def page_data(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read back the data an explorer page holds (its ``explore-data.js``), with arrays decoded.

    Parameters
    ----------
    path : path
        The page's directory, its ``index.html`` or its data file.

    Returns
    -------
    dict
        The stored object, where ``x``, ``y`` are float32 arrays (N,),
        ``neighbours`` int32 (N, k) (−1: none), ``distances`` float32 (N, k),
        and each column's ``data`` is decoded: float32 for numeric columns,
        the category strings (None where missing) for categorical ones.

    Raises
    ------
    GalvaeFileError
        If the file is missing or not an explorer data file.
    """
    p = Path(path)
    if p.is_dir():
        p = p / DATA_FILE
    elif p.name == "index.html":
        p = p.with_name(DATA_FILE)
    if not p.is_file():
        raise GalvaeFileError(p, "explorer page data not found")
    text = p.read_text(encoding="utf-8")
    head = "window.GALVAE_EXPLORE = "
    start = text.find(head)
    if start < 0:
        raise GalvaeFileError(p, "not an explorer data file (no window.GALVAE_EXPLORE)")
    body = text[start + len(head) :].rstrip().rstrip(";")
    try:
        d = json.loads(body)
    except json.JSONDecodeError as exc:
        raise GalvaeFileError(p, f"damaged explorer data ({exc})") from None

    def dec(s: str, dtype: str) -> np.ndarray:
        return np.frombuffer(base64.b64decode(s), dtype=dtype).copy()

    d["x"], d["y"] = dec(d["x"], "<f4"), dec(d["y"], "<f4")
    k = int(d["k"])
    d["neighbours"] = dec(d["neighbours"], "<i4").reshape(-1, k) if k else np.empty((d["n"], 0), np.int32)
    d["distances"] = dec(d["distances"], "<f4").reshape(-1, k) if k else np.empty((d["n"], 0), np.float32)
    for c in d["columns"]:
        if c["kind"] == "numeric":
            c["data"] = dec(c["data"], "<f4")
        elif c["kind"] == "category":
            codes = dec(c["data"], "u1")
            c["data"] = [None if v == 255 else c["categories"][v] for v in codes.tolist()]
        else:
            c["data"] = c.pop("values")
    return d


def _fingerprint(path: Any) -> dict[str, Any] | None:
    """Path, size and modification time of a file, or of every file in a directory (a run); None if unknown."""
    if not isinstance(path, str | os.PathLike):
        return None
    p = Path(path).resolve()
    if p.is_file():
        st = p.stat()
        return {"path": str(p), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file())
        text = "\n".join(f"{f.relative_to(p)}\t{f.stat().st_size}\t{f.stat().st_mtime_ns}" for f in files)
        return {"path": str(p), "files": hashlib.sha256(text.encode()).hexdigest()}
    return None


def _previous_build(out: Path) -> dict[str, Any] | None:
    """The ``build`` record of the page in ``out`` (what its map, neighbours and atlases were made from)."""
    data = out / DATA_FILE
    if not data.is_file():
        return None
    try:
        prev = page_data(data)
    except (GalvaeFileError, KeyError, ValueError, TypeError) as exc:
        log.info("explore: the earlier page in %s cannot be read (%s): everything is made again", out, exc)
        return None
    build = prev.get("build")
    if not isinstance(build, dict):
        return None
    build["data"] = prev
    return build


def _reusable(prev: dict[str, Any] | None, part: str, want: dict[str, Any], out: Path) -> bool:
    """Whether ``part`` of the earlier page was made from exactly ``want`` (and its atlases are all there)."""
    unknown = any(key in want and want[key] is None for key in ("latents", "store", "source"))
    if prev is None or unknown or prev.get(part) != want:
        return False  # nothing to compare with, an input without a file to fingerprint, or other inputs
    if part in ("images", "reconstructions"):
        names = prev["data"]["thumbs"].get(part)
        return bool(names) and all((out / _THUMB_DIR / name).is_file() for name in names)
    return True


def _rows_in(st: Any, ids: np.ndarray, what: str) -> np.ndarray:
    """Rows of ``ids`` in an image store; every id must be there."""
    lookup = {gid: i for i, gid in enumerate(st.ids.tolist())}
    missing = [gid for gid in ids.tolist() if gid not in lookup]
    if missing:
        raise GalvaeValueError(
            f"{len(missing)} of the {len(ids)} ids of the latent catalogue are not in the {what} {st.path} "
            "(was the catalogue encoded from another store?)",
            missing[:3],
            f"ids of the store, e.g. {', '.join(repr(i) for i in st.ids[:3].tolist())}",
        )
    return np.fromiter((lookup[gid] for gid in ids.tolist()), np.int64, len(ids))


def _iter_store(st: Any, rows: np.ndarray) -> Iterator[np.ndarray]:
    contiguous = len(rows) > 0 and np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows)))
    for s in range(0, len(rows), _CHUNK):
        part = rows[s : s + _CHUNK]
        yield st.read(slice(int(part[0]), int(part[-1]) + 1)) if contiguous else st.read(part)


def _iter_decoded(vae: Any, mu: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for s in range(0, len(mu), _CHUNK):
        yield vae.decode(mu[s : s + _CHUNK].astype(np.float32), batch_size=batch_size)


def build_explorer(
    latents: Any,
    store: Any,
    out_dir: str | os.PathLike[str],
    *,
    catalog: Any = None,
    model: Any = "auto",
    reconstructions: Any = None,
    projection: str = "auto",
    color: str | None = None,
    columns: Sequence[str] | None = None,
    k: int = 8,
    metric: str = "euclidean",
    index: str = "exact",
    thumb_size: int = 32,
    thumb_format: str = "png",
    title: str | None = None,
    seed: int = 0,
    batch_size: int = 256,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> ExplorerResult:
    """Write an interactive, offline explorer page of a latent catalogue.

    The page (``out_dir/index.html``) draws every galaxy on a 2-D map of the
    latent space, coloured by any catalogue column; hovering shows its
    thumbnail, clicking shows the galaxy, its reconstruction, its ``k``
    nearest neighbours in latent space and its catalogue row; a search box
    finds ids.  It loads nothing from the network.

    Parameters
    ----------
    latents : path or DataFrame
        Latent catalogue (``galvae encode``): ``id``, ``mu_<j>``, and any
        other columns (``recon_error``, ``outlier_sigma``, ``outlier``),
        which the page shows too.
    store : path or ImageStore
        Image store holding every id of ``latents`` (it may hold more).
    out_dir : path
        Directory of the page (created).
    catalog : path or DataFrame, optional
        A catalogue with an ``id`` column (Parquet, CSV or FITS), joined on
        the ids; its columns colour the map and fill the row.  Galaxies it
        lacks get empty values (logged).
    model : "auto", path, GalaxyVAE or None, default "auto"
        Decoder of the reconstructions, applied to the catalogue's μ:
        ``"auto"`` takes the model named in the latent catalogue's metadata
        when that file exists; None shows the images only.  The page says
        which.
    reconstructions : path or ImageStore, optional
        Instead of a model: an image store of the reconstructions
        (``galvae reconstruct``) holding every id, shown as they are.
    projection : {"auto", "umap", "pca", "tsne"}, default "auto"
        The map: ``"auto"`` is UMAP when umap-learn is installed
        (``pip install 'galvae[explore]'``), else PCA.
    color : str, optional
        Column coloured first (the page's dropdown offers every numeric and
        categorical column); default ``outlier_sigma`` when present.
    columns : sequence of str, optional
        Keep only these catalogue columns (default all but the latents).
    k : int, default 8
        Nearest neighbours stored per galaxy (exact search,
        :class:`galvae.SimilarityIndex`), fewer when there are fewer
        galaxies.
    metric : {"euclidean", "cosine"}, default "euclidean"
    index : {"exact", "ivf", "hnsw"}, default "exact"
        Search of the neighbours (:class:`galvae.SimilarityIndex`).  Exact
        search of every galaxy against every other costs O(N²): 100 000
        galaxies took 95–144 s on this project's 2-core CPU under load, and
        ``"hnsw"`` 99 s (recall@8 0.999), so the approximate indexes pay off
        only for several hundred thousand galaxies.
    thumb_size : int, default 32
        Thumbnail side T in pixels (8–128).
    thumb_format : {"png", "webp", "jpeg"}, default "png"
        Atlas format.  PNG is lossless; on the simulated 64-px images a
        32-px thumbnail takes 1.7 kB as PNG and 0.1 kB as WebP, which is the
        choice for hundreds of thousands of galaxies.
    title : str, optional
        Page title (default from the catalogue's file name).
    seed : int, default 0
        For the map (UMAP, t-SNE) and the drawing order of the points.
    batch_size : int, default 256
        Latents decoded at a time for the reconstructions.
    device : str, default "cpu"
        Torch device of the model.
    overwrite : bool, default False
        Replace a page in a non-empty ``out_dir`` (only the page's own files
        are removed).  The map, the neighbours and the thumbnail atlases of
        the page replaced are kept when they were made from the same inputs
        (files of the same path, size and modification time, the same ids
        in the same order, the same options), so a page rebuilt with another
        catalogue or colour costs seconds; ``ExplorerResult.reused`` says
        which.  Latents given as a DataFrame are never matched.
    progress : bool, default True
        Progress bars while the thumbnails are made.

    Returns
    -------
    ExplorerResult

    Raises
    ------
    GalvaeValueError
        On a bad option, fewer than 2 galaxies, latent ids missing from the
        store (naming the count and the first ones), a catalogue sharing no
        id with the latents, ``projection="umap"`` without umap-learn, a
        model of another latent dimension, both ``model`` and
        ``reconstructions``, or a text column as ``color``.
    GalvaeKeyError
        On a ``color`` or ``columns`` name that is not a column (naming the
        available ones), or a catalogue without ``id``.
    GalvaeFileError
        If an input cannot be read, or ``out_dir`` is not empty and
        ``overwrite`` is False.
    """
    projection = _check_choice(projection, "projection", PROJECTIONS)
    thumb_format = _check_choice(thumb_format, "thumb_format", THUMB_FORMATS)
    from ..latents.similar import INDEXES, METRICS

    metric = _check_choice(metric, "metric", METRICS)
    index = _check_choice(index, "index", INDEXES)
    k = _check_int(k, "k", 0)
    size = _check_int(thumb_size, "thumb_size", 8, 128)
    seed = _check_int(seed, "seed", 0)
    batch_size = _check_int(batch_size, "batch_size", 1)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    inp = _load_inputs(latents, store, catalog, columns, color, model, reconstructions, device)
    n, out = len(inp.ids), Path(out_dir)
    method = _resolve_projection(projection)
    k_eff = min(k, n - 1)
    build = _build_record(inp, latents, method, seed, k_eff, metric, index, size, thumb_format)
    prev = _previous_build(out) if overwrite else None
    reuse = {part: _reusable(prev, part, want, out) for part, want in build.items()}
    reuse["reconstructions"] &= inp.vae is not None or inp.recon_st is not None
    keep = frozenset(
        name for part in ("images", "reconstructions") if reuse[part] for name in prev["data"]["thumbs"][part]
    )
    _prepare_out(out, overwrite, keep)
    seconds["load"] = time.perf_counter() - t0

    xy, method, axes, map_note = _map(inp, method, seed, reuse["map"], prev, seconds)
    nb, nd = _neighbours_of_all(inp, k_eff, metric, index, seed, reuse["neighbours"], prev, seconds)
    atlases = _make_atlases(inp, out / _THUMB_DIR, size, thumb_format, reuse, prev, batch_size, progress, seconds)

    t = time.perf_counter()
    latents_name = str(latents) if isinstance(latents, str | os.PathLike) else "a latent catalogue"
    title = title if title is not None else f"galvae explore: {Path(latents_name).name}"
    payload = _payload(
        inp,
        title=title,
        latents_name=latents_name,
        catalog=catalog,
        xy=xy,
        map_info={"method": method, "axes": axes, "note": map_note},
        k=k_eff,
        metric=metric,
        index=index,
        neighbours=nb,
        distances=nd,
        thumb_size=size,
        thumb_format=thumb_format,
        atlases=atlases,
        build=build,
        seed=seed,
    )
    index_html = _write_page(out, payload, title)
    seconds["write"] = time.perf_counter() - t
    n_bytes = sum(p.stat().st_size for p in [out / DATA_FILE, index_html, *(out / _THUMB_DIR).iterdir()])
    log.info(
        "explore: wrote %s (%d galaxies, %.1f MB in all) in %.1f s",
        index_html,
        n,
        n_bytes / 1e6,
        time.perf_counter() - t0,
    )
    return ExplorerResult(
        out_dir=out,
        index_html=index_html,
        n_galaxies=n,
        projection=method,
        reconstructions=atlases["reconstructions"] is not None,
        columns=tuple(str(c) for c in inp.table.columns),
        k=k_eff,
        seconds=seconds,
        n_bytes=n_bytes,
        reused=tuple(part for part, ok in reuse.items() if ok),
    )


def _map(
    inp: _Inputs, method: str, seed: int, reuse: bool, prev: dict[str, Any] | None, seconds: dict[str, float]
) -> tuple[np.ndarray, str, list[str], str]:
    """The 2-D map (positions, method, axis names, note): the replaced page's when ``reuse``, else projected."""
    t = time.perf_counter()
    if reuse:
        xy = np.stack([prev["data"]["x"], prev["data"]["y"]], axis=1)
        axes, map_note = prev["data"]["map"]["axes"], prev["data"]["map"]["note"]
        log.info("explore: the %s map of the page replaced is reused (same latents and seed)", method)
    else:
        xy, method, axes, map_note = _project(inp.x, method, seed)
        log.info("explore: %s map of %d galaxies in %.1f s", method, len(inp.ids), time.perf_counter() - t)
    seconds["map"] = time.perf_counter() - t
    return xy, method, axes, map_note


def _neighbours_of_all(
    inp: _Inputs,
    k_eff: int,
    metric: str,
    index: str,
    seed: int,
    reuse: bool,
    prev: dict[str, Any] | None,
    seconds: dict[str, float],
) -> tuple[Any, Any]:
    """Each galaxy's nearest neighbours and their distances: the replaced page's when ``reuse``, else searched."""
    t = time.perf_counter()
    if reuse:
        nb, nd = prev["data"]["neighbours"], prev["data"]["distances"]
        log.info("explore: the neighbours of the page replaced are reused (same latents, k, metric and index)")
    else:
        nb, nd = _neighbours(inp.x, inp.ids, k_eff, metric, index, seed)
        log.info("explore: %d nearest neighbours of each galaxy in %.1f s", k_eff, time.perf_counter() - t)
    seconds["neighbours"] = time.perf_counter() - t
    return nb, nd


def _payload(
    inp: _Inputs,
    *,
    title: str,
    latents_name: str,
    catalog: Any,
    xy: np.ndarray,
    map_info: dict[str, Any],
    k: int,
    metric: str,
    index: str,
    neighbours: Any,
    distances: Any,
    thumb_size: int,
    thumb_format: str,
    atlases: dict[str, Any],
    build: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """The page's data (:data:`DATA_FILE`): ids, map, neighbours, columns, thumbnails, build record and sources."""
    n = len(inp.ids)
    return {
        "format": 1,
        "title": title,
        "galvae_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "n": n,
        "ids": inp.ids.tolist(),
        "x": _b64(xy[:, 0], "<f4"),
        "y": _b64(xy[:, 1], "<f4"),
        "order": _b64(np.random.default_rng(seed).permutation(n), "<i4"),
        "map": map_info,
        "k": k,
        "metric": metric,
        "index": index,
        "neighbours": _b64(neighbours, "<i4"),
        "distances": _b64(distances, "<f4"),
        "columns": [_column_entry(str(c), inp.table[c]) for c in inp.table.columns],
        "catalog_columns": inp.from_catalog,
        "color": inp.color,
        "thumbs": {
            "size": thumb_size,
            "per_row": min(PER_ROW, n),
            "per_atlas": PER_ATLAS,
            "dir": _THUMB_DIR,
            "images": atlases["images"],
            "reconstructions": atlases["reconstructions"],
            "format": thumb_format,
        },
        "build": build,
        "reconstruction_note": inp.recon_note,
        "sources": {
            "latents": latents_name,
            "store": str(inp.st.path),
            "catalog": str(catalog) if isinstance(catalog, str | os.PathLike) else None,
            "model": str(inp.vae.path) if inp.vae is not None else None,
            "reconstructions": str(inp.recon_st.path) if inp.recon_st is not None else None,
            "survey": inp.st.survey,
            "image_size": inp.st.size,
        },
    }


@dataclass
class _Inputs:
    """The checked inputs of a page: latents, ids, store rows, columns, and the source of the reconstructions."""

    ids: np.ndarray
    x: np.ndarray
    st: Any
    rows: np.ndarray
    table: Any
    from_catalog: list[str]
    color: str | None
    vae: Any
    recon_st: Any
    recon_rows: np.ndarray | None
    recon_note: str


def _load_inputs(
    latents: Any,
    store: Any,
    catalog: Any,
    columns: Sequence[str] | None,
    color: str | None,
    model: Any,
    reconstructions: Any,
    device: str,
) -> _Inputs:
    """Read and check everything :func:`build_explorer` is given (its Raises section)."""
    from ..data.store import ImageStore
    from ..evaluate.inputs import latent_matrix, load_latents

    df, meta = load_latents(latents)
    if "id" not in df.columns:
        raise GalvaeKeyError("the latent catalogue has no 'id' column", "id", list(df.columns)[:10])
    ids = df["id"].astype(str).to_numpy()
    n = len(ids)
    if n < 2:
        raise GalvaeValueError("an explorer page needs at least 2 galaxies in the latent catalogue", n)
    if len(np.unique(ids)) != n:
        raise GalvaeValueError("ids of the latent catalogue must be unique", n - len(np.unique(ids)))
    x = latent_matrix(df)
    st = store if isinstance(store, ImageStore) else ImageStore(store)
    rows = _rows_in(st, ids, "image store")
    table, from_catalog = _merge_columns(df, ids, catalog)
    table, color = _select_columns(table, columns, color)
    if color is None:
        color = _default_color(table)
    recon_st, recon_rows = None, None
    if reconstructions is not None:
        if not (model is None or (isinstance(model, str) and model == "auto")):
            raise GalvaeValueError("give model= or reconstructions=, not both", type(model).__name__)
        recon_st = reconstructions if isinstance(reconstructions, ImageStore) else ImageStore(reconstructions)
        recon_rows = _rows_in(recon_st, ids, "reconstruction store")
        vae, recon_note = None, f"Reconstruction: the galaxy's image in {recon_st.path} (galvae reconstruct)."
    else:
        vae, recon_note = _resolve_model(model, meta, x.shape[1], device)
    return _Inputs(ids, x, st, rows, table, from_catalog, color, vae, recon_st, recon_rows, recon_note)


def _build_record(
    inp: _Inputs,
    latents: Any,
    method: str,
    seed: int,
    k: int,
    metric: str,
    index: str,
    size: int,
    fmt: str,
) -> dict[str, dict[str, Any]]:
    """What each expensive part of the page is made from: a page rebuilt with overwrite=True reuses matching parts."""
    ids_sha = hashlib.sha256("\0".join(inp.ids.tolist()).encode()).hexdigest()
    latents_fp = _fingerprint(latents)
    if inp.recon_st is not None:
        recon_source = _fingerprint(inp.recon_st.path)
    elif inp.vae is not None and inp.vae.path:
        recon_source = _fingerprint(Path(inp.vae.path).parent)  # the run's directory: retraining changes its files
    else:
        recon_source = None
    return {
        "map": {"latents": latents_fp, "ids": ids_sha, "method": method, "seed": seed},
        "neighbours": {"latents": latents_fp, "ids": ids_sha, "k": k, "metric": metric, "index": index},
        "images": {"store": _fingerprint(inp.st.path), "ids": ids_sha, "size": size, "format": fmt},
        "reconstructions": {
            "source": recon_source,
            "decoder": inp.vae.decoder if inp.vae is not None else None,
            "ids": ids_sha,
            "size": size,
            "format": fmt,
        },
    }


def _make_atlases(
    inp: _Inputs,
    thumbs_dir: Path,
    size: int,
    fmt: str,
    reuse: dict[str, bool],
    prev: dict[str, Any] | None,
    batch_size: int,
    progress: bool,
    seconds: dict[str, float],
) -> dict[str, list[str] | None]:
    """The atlas file names of the images and of the reconstructions (None: none), made or reused; times them."""
    n = len(inp.ids)
    if size > inp.st.size:
        log.info("thumb_size %d is larger than the images (%d px): the thumbnails are enlarged", size, inp.st.size)

    def write(batches: Iterator[np.ndarray], prefix: str, desc: str) -> list[str]:
        with tqdm(total=n, desc=desc, unit="galaxy", disable=not progress) as bar:
            return write_atlases(batches, n, thumbs_dir, prefix, size, fmt, lambda done: bar.update(done - bar.n))

    out: dict[str, list[str] | None] = {"images": None, "reconstructions": None}
    for part, step in (("images", "thumbnails"), ("reconstructions", "reconstructions")):
        t = time.perf_counter()
        if reuse[part]:
            assert prev is not None
            out[part] = list(prev["data"]["thumbs"][part])
            log.info("explore: the %s atlases of the page replaced are reused (same source, ids, size, format)", part)
        elif part == "images":
            out[part] = write(_iter_store(inp.st, inp.rows), "img", "thumbnails")
        elif inp.vae is not None:
            out[part] = write(_iter_decoded(inp.vae, inp.x, batch_size), "recon", "reconstructions")
        elif inp.recon_st is not None:
            assert inp.recon_rows is not None
            out[part] = write(_iter_store(inp.recon_st, inp.recon_rows), "recon", "reconstructions")
        else:
            continue
        seconds[step] = time.perf_counter() - t
    return out


def _write_page(out: Path, payload: dict[str, Any], title: str) -> Path:
    """Write the data file, then ``index.html`` (last, so a page that opens is complete); return the latter."""
    text = (
        "/* galvae explore page data (galvae " + __version__ + "). A script rather than JSON so that index.html can "
        "load it from file://, where browsers refuse fetch(). */\nwindow.GALVAE_EXPLORE = "
        + json.dumps(payload, separators=(",", ":"), allow_nan=False)
        + ";\n"
    )
    write_text(out / DATA_FILE, text)
    return write_text(out / "index.html", _index_html(title))
