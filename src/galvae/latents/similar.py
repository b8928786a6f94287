"""Similarity search in latent space: "find galaxies like this one".

:class:`SimilarityIndex` holds the latent means μ of a catalogue in a
nearest-neighbour index and answers queries by galaxy id, by latent vector or
by image (encoded with the catalogue's model).  It follows scikit-learn's
convention: the parameters go to the constructor, :meth:`SimilarityIndex.fit`
builds the index, :meth:`SimilarityIndex.query` searches it.

Metrics
    ``"euclidean"``: distance ‖μ_a − μ_b‖₂.  ``"cosine"``: distance
    1 − cos(μ_a, μ_b) (0 for the same direction, 2 for opposite ones); the
    vectors are normalised to unit length and searched by inner product.

Indexes (``index=``)
    ``"exact"`` (default): every row is compared with the query (faiss
    ``IndexFlatL2``/``IndexFlatIP``); the answer is the true nearest
    neighbours, and one query on a million 40-d rows takes tens of
    milliseconds on a 2-core CPU (``benchmarks/bench_similar.md``), so it is
    the right choice up to a few million rows.
    ``"ivf"``: an inverted file (``IndexIVFFlat``): k-means cells
    (``nlist``, default 4√N), of which the ``nprobe`` nearest are searched.
    ``"hnsw"``: a hierarchical navigable small-world graph
    (``IndexHNSWFlat``, ``hnsw_m`` links, ``ef_search`` candidates).  The
    approximate indexes pay off for many queries at once or for tens of
    millions of rows; their recall is measured in the benchmark.

Backends
    faiss-cpu (``pip install "galvae[search]"``) when installed; otherwise
    an exact numpy search (blocked matrix products), with a logged note, for
    every ``index`` choice.

Saved indexes
    Fitting a catalogue file saves the faiss index beside it as
    ``<catalogue>.similar-<metric>-<index>.faiss`` plus a ``.json`` holding
    the catalogue's size and modification time (ns), the parameters and the
    row count.  A later fit of the same catalogue with the same build
    parameters (``nprobe`` and ``ef_search`` only affect searching) reloads it
    instead of building; a catalogue rewritten since (other size
    or mtime) is indexed again and the files replaced.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import check_int
from .._version import __version__
from ..errors import GalvaeFileError, GalvaeValueError

__all__ = ["METRICS", "INDEXES", "SimilarityIndex", "faiss_available"]

log = logging.getLogger(__name__)

METRICS: tuple[str, ...] = ("euclidean", "cosine")
INDEXES: tuple[str, ...] = ("exact", "ivf", "hnsw")
BACKENDS: tuple[str, ...] = ("auto", "faiss", "numpy")

#: Rows of the database compared at a time by the numpy backend.
_BLOCK = 65536


def faiss_available() -> bool:
    """Whether faiss can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


class SimilarityIndex:
    """Nearest neighbours of galaxies in latent space.

    Parameters
    ----------
    metric : {"euclidean", "cosine"}, default "euclidean"
    index : {"exact", "ivf", "hnsw"}, default "exact"
        Exact search, or an approximate faiss index (module docstring).
    backend : {"auto", "faiss", "numpy"}, default "auto"
        ``"auto"`` uses faiss when installed, else numpy (exact, logged);
        ``"faiss"`` requires it; ``"numpy"`` is always exact.
    nlist : int, optional
        IVF cells (default ``4 √N``, at most N / 39 so that k-means has 39
        training points per cell).
    nprobe : int, optional
        IVF cells searched per query (default ``max(8, nlist // 8)``).
    hnsw_m : int, default 32
        HNSW links per node.
    ef_construction : int, default 80
        HNSW candidates while building.
    ef_search : int, default 128
        HNSW candidates while searching (raised to ``k`` when smaller).
    model : GalaxyVAE or path, optional
        For :meth:`query` by ``images``: the model that encodes them
        (default: the model named in the fitted catalogue's metadata).
    cache : bool, default True
        Save the index beside a fitted catalogue file and reload it when the
        catalogue is unchanged.
    seed : int, default 0
        For the IVF k-means and its training sample.

    Attributes
    ----------
    ids_ : ndarray of str, shape (N,)
    n_rows_, dim_ : int
    backend_ : str
        ``"faiss"`` or ``"numpy"``.
    catalog_ : Path or None
        The fitted catalogue file.
    from_cache_ : bool
        Whether :meth:`fit` reloaded a saved index.
    build_seconds_ : float
        Time to build (or reload) the index.

    Examples
    --------
    >>> index = SimilarityIndex(metric="cosine").fit("latents.parquet")  # doctest: +SKIP
    >>> index.query(ids=["J1234+5678"], k=20)                             # doctest: +SKIP
    """

    def __init__(
        self,
        metric: str = "euclidean",
        index: str = "exact",
        *,
        backend: str = "auto",
        nlist: int | None = None,
        nprobe: int | None = None,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 128,
        model: Any = None,
        cache: bool = True,
        seed: int = 0,
    ) -> None:
        self.metric = metric
        self.index = index
        self.backend = backend
        self.nlist = nlist
        self.nprobe = nprobe
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.model = model
        self.cache = cache
        self.seed = seed

    def __repr__(self) -> str:
        fitted = f", n_rows={self.n_rows_}, backend={self.backend_!r}" if hasattr(self, "ids_") else ""
        return f"SimilarityIndex(metric={self.metric!r}, index={self.index!r}{fitted})"

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> str:
        if self.metric not in METRICS:
            raise GalvaeValueError("metric is not known", self.metric, METRICS)
        if self.index not in INDEXES:
            raise GalvaeValueError("index is not known", self.index, INDEXES)
        if self.backend not in BACKENDS:
            raise GalvaeValueError("backend is not known", self.backend, BACKENDS)
        for name in ("hnsw_m", "ef_construction", "ef_search"):
            check_int(name, getattr(self, name), minimum=1)
        for name in ("nlist", "nprobe"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), minimum=1)
        if self.backend == "numpy":
            return "numpy"
        if faiss_available():
            return "faiss"
        if self.backend == "faiss":
            raise GalvaeValueError(
                "backend='faiss' needs faiss, which is not installed (pip install 'galvae[search]')", "faiss"
            )
        log.info(
            "faiss is not installed: exact numpy search instead of the %r index (pip install 'galvae[search]')",
            self.index,
        )
        return "numpy"

    def _check_fitted(self) -> None:
        if not hasattr(self, "ids_"):
            raise GalvaeValueError("this SimilarityIndex is not fitted yet: call fit() first")

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        """float32, C-contiguous, unit length for the cosine metric."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.metric == "cosine":
            norm = np.linalg.norm(x, axis=1, keepdims=True)
            x = np.ascontiguousarray(x / np.maximum(norm, np.finfo(np.float32).tiny))
        return x

    # ------------------------------------------------------------------ fit
    def fit(self, latents: Any, ids: Any = None) -> SimilarityIndex:
        """Build the index (or reload the one saved beside an unchanged catalogue).

        Parameters
        ----------
        latents : path, DataFrame or array of shape (N, NL)
            A latent catalogue (:func:`galvae.encode_store`; its ``mu_<j>``
            columns and ``id``) or the latent means themselves.
        ids : sequence of str, shape (N,), optional
            Ids of an array's rows (default ``"0"``, ``"1"`` …).

        Returns
        -------
        SimilarityIndex
            self.

        Raises
        ------
        GalvaeValueError
            On unknown parameters, an empty or non-finite matrix, ids that do
            not match the rows or are not unique, or ``backend="faiss"``
            without faiss.
        GalvaeFileError
            If the catalogue cannot be read.
        """
        import pandas as pd

        from ..evaluate.inputs import latent_matrix
        from .catalog import read_latent_catalog

        backend = self._check_params()
        t0 = time.perf_counter()
        self.catalog_: Path | None = None
        self.catalog_meta_: dict[str, Any] = {}
        self.from_cache_ = False
        if isinstance(latents, str | os.PathLike):
            self.catalog_ = Path(latents)
            if backend == "faiss" and self.cache and self._load_cached():
                self.build_seconds_ = time.perf_counter() - t0
                log.info("reloaded the %s index of %s (%.2f s)", self.index, self.catalog_, self.build_seconds_)
                return self
            df, self.catalog_meta_ = read_latent_catalog(self.catalog_)
            x, ids = latent_matrix(df), df["id"].astype(str).to_numpy()
        elif isinstance(latents, pd.DataFrame):
            x = latent_matrix(latents)
            ids = latents["id"].astype(str).to_numpy() if ids is None and "id" in latents.columns else ids
        else:
            x = np.asarray(latents, dtype=np.float64)
            if x.ndim != 2 or not np.all(np.isfinite(x)):
                raise GalvaeValueError("latents must be a finite (N, NL) array", x.shape)
        if len(x) == 0:
            raise GalvaeValueError("cannot index an empty set of latents", x.shape)
        ids = np.arange(len(x)).astype(str) if ids is None else np.asarray(ids).astype(str)
        if ids.shape != (len(x),):
            raise GalvaeValueError(f"ids must have one entry per row ({len(x)})", ids.shape)
        if len(np.unique(ids)) != len(ids):
            raise GalvaeValueError("ids must be unique", int(len(ids) - len(np.unique(ids))))
        self._set_ids(ids)
        self.dim_ = int(x.shape[1])
        self.backend_ = backend
        xp = self._prepare(x)
        if backend == "faiss":
            self._faiss = self._build_faiss(xp)
            self._x = None
        else:
            self._faiss, self._x = None, xp
            self.params_ = {}
            self._sq = (xp.astype(np.float64) ** 2).sum(axis=1) if self.metric == "euclidean" else None
        self.build_seconds_ = time.perf_counter() - t0
        log.info(
            "built the %s %s index of %d x %d latents with %s in %.2f s",
            self.metric,
            self.index if backend == "faiss" else "exact",
            self.n_rows_,
            self.dim_,
            backend,
            self.build_seconds_,
        )
        if backend == "faiss" and self.cache and self.catalog_ is not None:
            self._save_cached()
        return self

    def _set_ids(self, ids: np.ndarray) -> None:
        self.ids_ = ids
        self.n_rows_ = len(ids)
        self._row = None  # id -> row, built on the first query by id

    def _resolved(self, n: int) -> dict[str, int]:
        """The effective IVF/HNSW parameters for n rows."""
        out: dict[str, int] = {}
        if self.index == "ivf":
            nlist = self.nlist or int(round(4 * np.sqrt(n)))
            nlist = int(max(1, min(nlist, n // 39 if n >= 39 else 1)))
            out["nlist"] = nlist
            out["nprobe"] = int(min(nlist, self.nprobe or max(8, nlist // 8)))
        elif self.index == "hnsw":
            out.update(
                hnsw_m=int(self.hnsw_m), ef_construction=int(self.ef_construction), ef_search=int(self.ef_search)
            )
        return out

    def _build_faiss(self, x: np.ndarray) -> Any:
        import faiss

        n, d = x.shape
        metric = faiss.METRIC_INNER_PRODUCT if self.metric == "cosine" else faiss.METRIC_L2
        p = self._resolved(n)
        self.params_ = p
        if self.index == "exact":
            idx = faiss.IndexFlatIP(d) if self.metric == "cosine" else faiss.IndexFlatL2(d)
        elif self.index == "ivf":
            quantizer = faiss.IndexFlatIP(d) if self.metric == "cosine" else faiss.IndexFlatL2(d)
            idx = faiss.IndexIVFFlat(quantizer, d, p["nlist"], metric)
            idx.cp.seed = int(self.seed)
            ntrain = min(n, 64 * p["nlist"])
            sample = x if ntrain == n else x[np.random.default_rng(self.seed).choice(n, ntrain, replace=False)]
            idx.train(sample)
            idx.nprobe = p["nprobe"]
        else:
            idx = faiss.IndexHNSWFlat(d, p["hnsw_m"], metric)
            idx.hnsw.efConstruction = p["ef_construction"]
        idx.add(x)
        self._after_load(idx)
        return idx

    def _after_load(self, idx: Any) -> None:
        if self.index == "ivf":
            idx.make_direct_map()  # so that a row's vector can be read back for queries by id
            idx.nprobe = self.params_["nprobe"]
        elif self.index == "hnsw":
            idx.hnsw.efSearch = self.params_["ef_search"]

    # ------------------------------------------------------------------ saved index
    def cache_paths(self, catalog: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
        """(index file, description file) saved beside ``catalog`` (default the fitted one)."""
        cat = Path(catalog) if catalog is not None else self.catalog_
        if cat is None:
            raise GalvaeValueError("no catalogue file: cache_paths needs a fitted catalogue path or catalog=")
        stem = f"{cat.name}.similar-{self.metric}-{self.index}"
        return cat.with_name(stem + ".faiss"), cat.with_name(stem + ".json")

    @staticmethod
    def _fingerprint(path: Path) -> dict[str, int]:
        st = path.stat()
        return {"size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}

    def _description(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "index": self.index,
            "params": self.params_,
            "requested": self._description_requested(),
        }

    def _save_cached(self) -> None:
        import faiss

        from .._io import write_json

        assert self.catalog_ is not None
        fidx, fjson = self.cache_paths()
        tmp = fidx.with_name(fidx.name + ".tmp")
        try:
            faiss.write_index(self._faiss, str(tmp))
            os.replace(tmp, fidx)
            desc = self._description() | {
                "catalog": self.catalog_.name,
                "catalog_fingerprint": self._fingerprint(self.catalog_),
                "n_rows": self.n_rows_,
                "dim": self.dim_,
                "model": self.catalog_meta_.get("model"),
                "faiss_version": faiss.__version__,
                "galvae_version": __version__,
            }
            write_json(fjson, desc)
        except OSError as exc:  # a read-only directory: the search still works, it is just not kept
            log.warning("could not save the similarity index beside %s: %s", self.catalog_, exc)
            tmp.unlink(missing_ok=True)
            return
        log.info("saved the similarity index to %s", fidx)

    def _load_cached(self) -> bool:
        import faiss

        assert self.catalog_ is not None
        if not self.catalog_.is_file():
            raise GalvaeFileError(self.catalog_, "latent catalogue not found")
        fidx, fjson = self.cache_paths()
        if not (fidx.is_file() and fjson.is_file()):
            return False
        try:
            desc = json.loads(fjson.read_text())
        except (OSError, ValueError):
            return False
        want = {"metric": self.metric, "index": self.index, "requested": self._description_requested()}
        if desc.get("catalog_fingerprint") != self._fingerprint(self.catalog_):
            log.info("%s changed since its similarity index was saved: building it again", self.catalog_)
            return False
        if any(desc.get(k) != v for k, v in want.items()):
            log.info("the saved similarity index of %s has other parameters: building it again", self.catalog_)
            return False
        try:
            idx = faiss.read_index(str(fidx))
        except RuntimeError as exc:
            log.warning("could not read the saved similarity index %s (%s): building it again", fidx, exc)
            return False
        ids = _read_ids(self.catalog_)
        if idx.ntotal != len(ids) or idx.d != desc.get("dim"):
            return False
        self._set_ids(ids)
        self.dim_ = int(idx.d)
        self.backend_ = "faiss"
        self.params_ = self._resolved(int(idx.ntotal))  # the same n and parameters give the saved nlist
        if self.index == "ivf" and idx.nlist != self.params_["nlist"]:
            return False
        self.catalog_meta_ = {"model": desc.get("model")}
        self._after_load(idx)
        self._faiss, self._x = idx, None
        self.from_cache_ = True
        return True

    def _description_requested(self) -> dict[str, Any]:
        """The parameters that shape the saved index (the search-time nprobe and ef_search do not)."""
        if self.index == "ivf":
            return {"nlist": self.nlist, "seed": self.seed}
        if self.index == "hnsw":
            return {"hnsw_m": self.hnsw_m, "ef_construction": self.ef_construction}
        return {}

    def set_search(self, *, nprobe: int | None = None, ef_search: int | None = None) -> SimilarityIndex:
        """Change the approximate indexes' search effort without rebuilding; returns self.

        Parameters
        ----------
        nprobe : int, optional
            IVF cells searched per query (more: higher recall, slower).
        ef_search : int, optional
            HNSW candidates per query (more: higher recall, slower).

        Raises
        ------
        GalvaeValueError
            If not fitted, or on a value that is not a positive integer.
        """
        self._check_fitted()
        if nprobe is not None:
            self.nprobe = check_int("nprobe", nprobe, minimum=1)
            if self.index == "ivf" and self._faiss is not None:
                self.params_["nprobe"] = int(min(self.nprobe, self.params_["nlist"]))
        if ef_search is not None:
            self.ef_search = check_int("ef_search", ef_search, minimum=1)
            if self.index == "hnsw" and self._faiss is not None:
                self.params_["ef_search"] = self.ef_search
        if self._faiss is not None:
            self._after_load(self._faiss)
        return self

    # ------------------------------------------------------------------ query
    def vectors_of(self, ids: Any) -> np.ndarray:
        """The indexed latents of ``ids`` (unit length for the cosine metric), shape (M, NL).

        Raises
        ------
        GalvaeValueError
            If an id is not in the index, naming it and the catalogue.
        """
        self._check_fitted()
        rows = self._rows(ids)
        if self._x is not None:
            return self._x[rows]
        return np.stack([self._faiss.reconstruct(int(r)) for r in rows]) if len(rows) else np.empty((0, self.dim_))

    def _rows(self, ids: Any) -> np.ndarray:
        ids = [ids] if isinstance(ids, str) else [str(i) for i in ids]
        if self._row is None and len(ids) <= 8:  # a few ids: a vectorised scan beats building the id -> row map
            hits = [np.flatnonzero(self.ids_ == i) for i in ids]
            found = {i: int(h[0]) for i, h in zip(ids, hits, strict=True) if len(h)}
        else:
            if self._row is None:
                self._row = {gid: k for k, gid in enumerate(self.ids_.tolist())}
            found = self._row
        missing = [i for i in ids if i not in found]
        if missing:
            where = f"the latent catalogue {self.catalog_}" if self.catalog_ is not None else "the fitted latents"
            shown = missing if len(missing) > 1 else missing[0]
            raise GalvaeValueError(
                f"{len(missing)} id(s) not in {where}",
                shown,
                f"ids of its {self.n_rows_} rows, e.g. {', '.join(repr(i) for i in self.ids_[:3].tolist())}",
            )
        return np.asarray([found[i] for i in ids], np.int64)

    def query(
        self,
        ids: Any = None,
        *,
        vectors: Any = None,
        images: Any = None,
        k: int = 20,
        exclude_self: bool = True,
        batch_size: int = 256,
    ) -> Any:
        """The k nearest galaxies of each query, as a table.

        Exactly one of ``ids``, ``vectors`` and ``images`` is given.

        Parameters
        ----------
        ids : str or sequence of str, optional
            Galaxies of the index.
        vectors : array_like, shape (M, NL) or (NL,), optional
            Latent means.
        images : array_like, shape (M, 3, S, S) or (3, S, S), optional
            Encoded with ``model`` (default: the fitted catalogue's model).
        k : int, default 20
            Neighbours per query (fewer when the index has fewer rows).
        exclude_self : bool, default True
            For ``ids`` queries, leave the galaxy itself out of its neighbours.
        batch_size : int, default 256
            Images encoded at a time.

        Returns
        -------
        DataFrame
            One row per (query, neighbour): ``query`` (the id, or
            ``vector_<i>``/``image_<i>``), ``rank`` (1 = nearest), ``id``,
            ``distance`` (euclidean, or 1 − cosine similarity), nearest first.

        Raises
        ------
        GalvaeValueError
            If not fitted, not exactly one kind of query is given, ``k`` is
            not a positive integer, an id is missing (naming it and the
            catalogue), vectors have the wrong width, or no model is known for
            images.
        """
        import pandas as pd

        self._check_fitted()
        k = check_int("k", k, minimum=1)
        given = [name for name, v in (("ids", ids), ("vectors", vectors), ("images", images)) if v is not None]
        if len(given) != 1:
            raise GalvaeValueError("give exactly one of ids=, vectors= and images=", given or None)
        self_rows: np.ndarray | None = None
        if ids is not None:
            labels = [ids] if isinstance(ids, str) else [str(i) for i in ids]
            self_rows = self._rows(labels)
            q = self.vectors_of(labels)
        else:
            if vectors is not None:
                q = np.asarray(vectors, dtype=np.float64)
                kind = "vector"
            else:
                q = self._encode(images, batch_size)
                kind = "image"
            q = q[None] if q.ndim == 1 else q
            if q.ndim != 2 or q.shape[1] != self.dim_ or not np.all(np.isfinite(q)):
                raise GalvaeValueError(f"query vectors must be finite with shape (M, {self.dim_})", q.shape)
            labels = [f"{kind}_{i}" for i in range(len(q))]
        drop = exclude_self and self_rows is not None
        kk = min(k + int(drop), self.n_rows_)
        dist, rows = self._search(self._prepare(q), kk)
        out_q, out_rank, out_id, out_d = [], [], [], []
        for i, label in enumerate(labels):
            r, d = rows[i], dist[i]
            keep = r >= 0
            if drop:
                assert self_rows is not None
                keep &= r != self_rows[i]
            r, d = r[keep][:k], d[keep][:k]
            out_q += [label] * len(r)
            out_rank += list(range(1, len(r) + 1))
            out_id += self.ids_[r].tolist()
            out_d.append(d)
        return pd.DataFrame(
            {
                "query": out_q,
                "rank": np.asarray(out_rank, np.int64),
                "id": out_id,
                "distance": np.concatenate(out_d) if out_d else np.empty(0),
            }
        )

    def _encode(self, images: Any, batch_size: int) -> np.ndarray:
        from .model import GalaxyVAE

        model = self.model if self.model is not None else self.catalog_meta_.get("model")
        if model is None:
            raise GalvaeValueError(
                "a query by images needs model= (a run or GalaxyVAE): the fitted latents name no model", None
            )
        if isinstance(model, GalaxyVAE):
            vae = model
        else:  # loaded once, kept beside the fitted state (the constructor's model= is left as given)
            cached = getattr(self, "_vae", None)
            vae = cached[1] if cached is not None and cached[0] == model else GalaxyVAE.load(model)
            self._vae = (model, vae)
        if vae.latent_dim != self.dim_:
            raise GalvaeValueError(f"model's latent dimension differs from the index's ({self.dim_})", vae.latent_dim)
        return np.asarray(vae.encode(images, batch_size=batch_size), np.float64).reshape(-1, self.dim_)

    def _search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances, rows), each (M, k), nearest first; rows −1 where fewer were found."""
        if self._faiss is not None:
            import faiss

            # faiss parallelises over queries: for a few queries, more threads only spin (17x slower for one
            # query on a busy 2-core machine), so use at most one thread per query
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(max(1, min(threads, len(q))))
            try:
                d, rows = self._faiss.search(q, k)
            finally:
                faiss.omp_set_num_threads(threads)
            d = d.astype(np.float64)
            if self.metric == "cosine":
                d = 1.0 - d
            else:
                d = np.sqrt(np.maximum(d, 0.0))
            return d, rows.astype(np.int64)
        return self._numpy_search(q, k)

    def _numpy_search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact search, 256 queries at a time."""
        parts = [self._numpy_block(q[i : i + 256], k) for i in range(0, len(q), 256)]
        if not parts:
            return np.empty((0, k)), np.empty((0, k), np.int64)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _numpy_block(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact search: blocked matrix products, then the candidates' distances recomputed in float64."""
        assert self._x is not None
        x = self._x
        m = len(q)
        best_d = np.full((m, 0), np.inf)
        best_r = np.empty((m, 0), np.int64)
        for s in range(0, len(x), _BLOCK):
            xb = x[s : s + _BLOCK]
            ip = q @ xb.T
            if self.metric == "cosine":
                score = 1.0 - ip
            else:
                score = self._sq[s : s + _BLOCK][None, :] - 2.0 * ip  # |q|² is the same for every row
            kb = min(k, xb.shape[0])
            part = (
                np.argpartition(score, kb - 1, axis=1)[:, :kb] if kb < xb.shape[0] else np.tile(np.arange(kb), (m, 1))
            )
            best_r = np.concatenate([best_r, part + s], axis=1)
            best_d = np.concatenate([best_d, np.take_along_axis(score, part, axis=1)], axis=1)
            if best_r.shape[1] > k:
                sel = np.argpartition(best_d, k - 1, axis=1)[:, :k]
                best_r = np.take_along_axis(best_r, sel, axis=1)
                best_d = np.take_along_axis(best_d, sel, axis=1)
        # exact distances of the candidates, in float64
        cand = x[best_r].astype(np.float64)
        qq = q.astype(np.float64)[:, None, :]
        if self.metric == "cosine":
            d = 1.0 - (cand * qq).sum(axis=2)
        else:
            d = np.sqrt(((cand - qq) ** 2).sum(axis=2))
        order = np.argsort(d, axis=1, kind="stable")
        return np.take_along_axis(d, order, axis=1), np.take_along_axis(best_r, order, axis=1)


def _read_ids(path: Path) -> np.ndarray:
    """The ``id`` column of a latent catalogue, reading only that column from Parquet."""
    from .catalog import _latent_format, read_latent_catalog

    if _latent_format(path) == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path, columns=["id"]).column("id").to_numpy().astype(str)
        except (OSError, KeyError, ValueError) as exc:
            raise GalvaeFileError(path, f"cannot read its id column: {exc}") from None
    return read_latent_catalog(path)[0]["id"].astype(str).to_numpy()
