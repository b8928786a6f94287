"""Download g, r, z FITS cutouts from the Legacy Survey cutout service.

The service (`legacysurvey.org/viewer <https://www.legacysurvey.org/viewer>`_)
returns, for ::

    GET {base_url}/fits-cutout?ra=RA&dec=DEC&layer=LAYER&pixscale=P&size=N&bands=grz

a FITS file whose primary HDU is a float32 cube of shape ``(3, N, N)`` (bands
g, r, z; header ``BANDS = 'grz'``).  :func:`download_cutouts` fetches one such
cutout per catalogue row, concurrently over a bounded number of connections,
with retries and exponential back-off (:class:`urllib3.util.Retry`: statuses
429 and 5xx, connection errors, time-outs, ``Retry-After``; kept-alive
connections from one :class:`urllib3.PoolManager`), into a resumable cache::

    OUT_DIR/
        <id>.fits          one cutout per galaxy, only ever complete and valid
        <id>.fits.part     transient; never counted as complete
        catalog.parquet    the manifest: id, ra, dec, file, layer, pixscale, size, status
        download.json      the layer, pixel scale and size this directory holds

A cutout is first written as ``<id>.fits.part`` and renamed to ``<id>.fits``
only after it has been checked (full length, parses as FITS, three bands, the
requested size, not all zero), so an interrupted run never leaves a file that
looks finished; re-running skips the files already there.  A target outside
the layer's footprint yields an all-zero cutout, which is recorded as
``empty`` and not kept.

``ls-dr9-south`` is DECaLS and ``ls-dr9-north`` is BASS+MzLS: downloading both
layers for the same galaxies (into two directories) gives the overlap sample
used for domain adaptation.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from http.client import IncompleteRead
from itertools import takewhile
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

import numpy as np
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util import Retry

from .._io import atomic_path
from .._validate import check_float, check_int
from .._version import __version__
from ..errors import GalvaeDownloadError, GalvaeError, GalvaeFileError, GalvaeValueError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LAYERS",
    "DEFAULT_BASE_URL",
    "DEFAULT_PIXSCALE",
    "DEFAULT_SIZE",
    "MANIFEST_NAME",
    "DownloadReport",
    "cutout_url",
    "read_targets",
    "cutout_path",
    "download_cutouts",
]

log = logging.getLogger(__name__)

#: Layers of the cutout service that serve g, r and z, with what they hold.
LAYERS: Mapping[str, str] = {
    "ls-dr9-south": "DR9 south: DECaLS (DECam), plus DES",
    "ls-dr9-north": "DR9 north: BASS (g, r) + MzLS (z)",
    "ls-dr10": "DR10 south: DECam (DECaLS, DES, DELVE...), requested as bands=grz",
}

#: The public Legacy Survey viewer; ``/fits-cutout`` is appended to it.
DEFAULT_BASE_URL = "https://www.legacysurvey.org/viewer"
#: Native DECam / Mosaic-3 pixel scale, in arcsec per pixel.
DEFAULT_PIXSCALE = 0.262
#: Cutout side in pixels: 64 × 0.262″ = 16.8″, the simulator's default field of view.
DEFAULT_SIZE = 64
#: File name of the manifest written in the output directory.
MANIFEST_NAME = "catalog.parquet"

_SETTINGS_NAME = "download.json"
_BANDS = "grz"
_MAX_CONNECTIONS = 32  # the service is shared; more than this is impolite
_MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is capped to this
_MAX_BACKOFF = 60.0  # seconds; cap on one exponential back-off step
_MAX_REDIRECTS = 10  # as urllib.request; redirects do not spend the retries
_THREAD_PREFIX = "galvae-download"
_RETRY_STATUSES = frozenset({429, *range(500, 600)})  # retried; other 4xx are not
_CHUNK = 1 << 16
_FITS_BLOCK = 2880
_FITS_CARD = 80
_MAX_HEADER_BLOCKS = 64
_MAX_NAME = 200
_SAFE_CHARS = re.compile(r"[^A-Za-z0-9._+-]")
_USER_AGENT = f"galvae/{__version__} (urllib3/{urllib3.__version__})"


@dataclass(frozen=True)
class DownloadReport:
    """What :func:`download_cutouts` did.

    Attributes
    ----------
    out_dir : Path
        The output directory.
    manifest : Path
        The manifest, ``out_dir / "catalog.parquet"``.
    layer : str
        The layer downloaded.
    n_ok : int
        Cutouts downloaded and kept in this run.
    n_cached : int
        Cutouts already complete in ``out_dir``, not requested again.
    n_empty : int
        Targets whose cutout was all zero (outside the footprint); not kept.
    n_failed : int
        Targets whose download failed after its retries (or without retry,
        for a 4xx status other than 429).
    failures : tuple of (str, str)
        ``(id, reason)`` of each failed target, in catalogue order.
    """

    out_dir: Path
    manifest: Path
    layer: str
    n_ok: int
    n_cached: int
    n_empty: int
    n_failed: int
    failures: tuple[tuple[str, str], ...] = field(default=())

    @property
    def n_total(self) -> int:
        """Number of catalogue rows."""
        return self.n_ok + self.n_cached + self.n_empty + self.n_failed

    @property
    def n_available(self) -> int:
        """Cutouts now on disk for this catalogue (``n_ok + n_cached``)."""
        return self.n_ok + self.n_cached

    @property
    def counts(self) -> dict[str, int]:
        """Number of targets per status: ``ok``, ``cached``, ``empty``, ``failed``."""
        return {"ok": self.n_ok, "cached": self.n_cached, "empty": self.n_empty, "failed": self.n_failed}

    def summary(self) -> str:
        """One line: counts per status, layer and directory."""
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"{self.n_total} targets, layer {self.layer}: {counts}; cutouts in {self.out_dir}"


# ---------------------------------------------------------------------------
# parameters and catalogue
# ---------------------------------------------------------------------------


def _check_layer(layer: str) -> str:
    if layer not in LAYERS:
        raise GalvaeValueError("layer is not a Legacy Survey layer with g, r, z", value=layer, allowed=list(LAYERS))
    return layer


def _check_pixscale(pixscale: float) -> float:
    try:
        value = float(pixscale)
    except (TypeError, ValueError):
        raise GalvaeValueError("pixscale must be a positive number of arcsec per pixel", value=pixscale) from None
    if not math.isfinite(value) or value <= 0:
        raise GalvaeValueError("pixscale must be a positive number of arcsec per pixel", value=pixscale)
    return value


def _check_size(size: int) -> int:
    return check_int("size", size, minimum=1)


def _check_base_url(base_url: str) -> str:
    parsed = urllib.parse.urlsplit(str(base_url))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise GalvaeValueError("base_url must be an http:// or https:// address", value=base_url)
    return str(base_url).rstrip("/")


def cutout_url(
    ra: float,
    dec: float,
    *,
    layer: str = "ls-dr9-south",
    pixscale: float = DEFAULT_PIXSCALE,
    size: int = DEFAULT_SIZE,
    base_url: str = DEFAULT_BASE_URL,
) -> str:
    """Address of one g, r, z FITS cutout on the Legacy Survey cutout service.

    Parameters
    ----------
    ra, dec : float
        Centre of the cutout, degrees (ICRS).
    layer : str, default "ls-dr9-south"
        One of :data:`LAYERS`.
    pixscale : float, default 0.262
        Pixel scale, arcsec per pixel.
    size : int, default 64
        Side of the cutout, pixels.
    base_url : str, default :data:`DEFAULT_BASE_URL`
        Root of the service; ``/fits-cutout`` is appended.

    Returns
    -------
    str
        ``{base_url}/fits-cutout?ra=..&dec=..&layer=..&pixscale=..&size=..&bands=grz``.

    Raises
    ------
    GalvaeValueError
        If the layer, pixel scale, size or base URL is not acceptable.
    """
    query = urllib.parse.urlencode(
        {
            "ra": f"{float(ra):.7f}",
            "dec": f"{float(dec):.7f}",
            "layer": _check_layer(layer),
            "pixscale": repr(_check_pixscale(pixscale)),
            "size": str(_check_size(size)),
            "bands": _BANDS,
        }
    )
    return f"{_check_base_url(base_url)}/fits-cutout?{query}"


def _find_column(df: pd.DataFrame, name: str) -> str | None:
    if name in df.columns:
        return name
    matches = [c for c in df.columns if isinstance(c, str) and c.lower() == name]
    return matches[0] if len(matches) == 1 else None


def read_targets(catalog: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    """Read and check the targets of a download: ``id``, ``ra``, ``dec``.

    Parameters
    ----------
    catalog : DataFrame or path
        A table with columns ``ra`` and ``dec`` (degrees; matched
        case-insensitively, so ``RA``/``DEC`` work too) and optionally ``id``.
        Without an ``id`` column the row index, as a string, is the id.
        Files may be Parquet, CSV or FITS tables.

    Returns
    -------
    DataFrame
        Columns ``id`` (str, unique), ``ra`` and ``dec`` (float64, degrees),
        one row per catalogue row, in catalogue order, with a fresh
        ``RangeIndex``.

    Raises
    ------
    GalvaeValueError
        If a column is missing, a coordinate is not a finite number in range
        (``0 <= ra <= 360``, ``-90 <= dec <= 90``), the catalogue is empty, or
        ids are missing or repeated.
    GalvaeFileError
        If the catalogue file is missing or unreadable.
    """
    import pandas as pd

    if isinstance(catalog, pd.DataFrame):
        df = catalog
        what = "catalog"
    elif isinstance(catalog, (str, os.PathLike)):
        from .labels import read_catalog

        try:
            df = read_catalog(catalog)
        except GalvaeError:
            raise
        except Exception as exc:  # e.g. KeyError from pyarrow on damaged pandas metadata in a Parquet file
            raise GalvaeFileError(catalog, f"cannot read catalogue ({type(exc).__name__}: {exc})") from None
        what = f"catalog {os.fspath(catalog)}"
    else:
        raise GalvaeValueError("catalog must be a pandas DataFrame or a path", value=type(catalog).__name__)
    if len(df) == 0:
        raise GalvaeValueError(f"{what} has no rows")
    cols = {}
    for name in ("ra", "dec"):
        col = _find_column(df, name)
        if col is None:
            raise GalvaeValueError(
                f"{what} has no {name!r} column (degrees)", allowed=[str(c) for c in df.columns][:20] or "none"
            )
        cols[name] = col
    id_col = _find_column(df, "id")
    if id_col is None:
        log.info("catalogue has no 'id' column; using the row index as id")
        ids = pd.Series(df.index.to_list(), dtype=object)  # a MultiIndex (a CSV with extra fields) too
    else:
        ids = pd.Series(df[id_col].to_numpy(), dtype=object)
    if ids.isna().any():
        raise GalvaeValueError(f"{what} ids must not be missing", value=f"{int(ids.isna().sum())} missing")
    ids = ids.map(lambda v: v.decode("utf-8", "replace").strip() if isinstance(v, bytes) else str(v))
    if ids.duplicated().any():
        raise GalvaeValueError(f"{what} ids must be unique", value=ids[ids.duplicated()].iloc[0])
    out = pd.DataFrame({"id": ids.to_numpy(dtype=object)})
    limits = {"ra": (0.0, 360.0), "dec": (-90.0, 90.0)}
    for name, (lo, hi) in limits.items():
        values = pd.to_numeric(pd.Series(df[cols[name]].to_numpy()), errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values < lo) | (values > hi)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise GalvaeValueError(
                f"{what} column {cols[name]!r} must hold finite {name} in [{lo:g}, {hi:g}] degrees; "
                f"{int(bad.sum())} row(s) do not, first id {out['id'].iloc[first]!r}",
                value=df[cols[name]].iloc[first],
            )
        out[name] = values
    return out


def cutout_path(out_dir: str | os.PathLike[str], galaxy_id: str) -> Path:
    """File a galaxy's cutout is saved to: ``out_dir / "<safe id>.fits"``.

    Characters other than letters, digits and ``. _ + -`` become ``_``, and a
    leading dot becomes ``_`` (no hidden files).

    Parameters
    ----------
    out_dir : str or PathLike
        Output directory.
    galaxy_id : str
        Catalogue id.

    Returns
    -------
    Path

    Raises
    ------
    GalvaeValueError
        If the id is empty, longer than 200 characters, or would lead out of
        ``out_dir`` (absolute, or with a ``..`` component).
    """
    text = str(galaxy_id)
    if not text.strip():
        raise GalvaeValueError("catalog id cannot be empty", value=text)
    if len(text) > _MAX_NAME:
        raise GalvaeValueError(f"catalog id is longer than {_MAX_NAME} characters", value=text[:40] + "...")
    for pure in (PurePosixPath(text), PureWindowsPath(text)):
        if pure.is_absolute() or pure.anchor or ".." in pure.parts:
            raise GalvaeValueError("catalog id would name a file outside the output directory", value=text)
    name = _SAFE_CHARS.sub("_", text)
    if name.startswith("."):
        name = "_" + name[1:]
    return Path(out_dir) / f"{name}.fits"


# ---------------------------------------------------------------------------
# one download
# ---------------------------------------------------------------------------


class _Retry(Exception):
    """A body that fails the cutout check in a way another request may not (truncated, unreadable)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Fail(Exception):
    """A failure to record: not retried, or retried until the retries ran out (``retried``)."""

    def __init__(self, reason: str, retried: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retried = retried


@dataclass(frozen=True)
class _Options:
    retries: int
    backoff: float
    timeout: float
    size: int
    seed: int
    overwrite: bool
    strict: bool = False  # a failure then stops the run with an error: not logged as a warning too


@dataclass(frozen=True)
class _Job:
    index: int
    galaxy_id: str
    url: str
    path: Path


class _BadBody(ProtocolError):
    """A body that came whole over HTTP but is not a complete FITS cutout: spends a read retry."""


class _Interrupted(Exception):
    """The run is stopping (a strict-mode failure, an error, Ctrl-C): abandon this target."""


def _pause(stop: threading.Event | None, seconds: float) -> bool:
    """Wait ``seconds``; True when ``stop`` was set meanwhile (the wait then ends at once)."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)


def _error_reason(error: BaseException | None, timeout: float) -> str:
    """One phrase for a transport error urllib3 retried or gave up on."""
    if isinstance(error, _BadBody):
        return str(error)
    if isinstance(error, NewConnectionError):  # a subclass of ConnectTimeoutError: before it
        return "connection error: " + re.sub(r"^<[^>]*>: ", "", str(error))
    if isinstance(error, (ConnectTimeoutError, ReadTimeoutError, TimeoutError)):
        return f"timed out after {timeout:g} s"
    if isinstance(error, ProtocolError) and any(isinstance(a, IncompleteRead) for a in error.args):
        short = next(a for a in error.args if isinstance(a, IncompleteRead))
        received = short.partial if isinstance(short.partial, int) else len(short.partial)
        return f"truncated body ({received} bytes, {short.expected} more expected)"
    if isinstance(error, ResponseError):
        return str(error)
    return f"connection error: {type(error).__name__}: {error}"


class _CutoutRetry(Retry):
    """:class:`urllib3.util.Retry` with galvae's back-off schedule and waits that a stopping run cuts short.

    urllib3 decides what is retried (connection errors, time-outs and broken
    reads of a GET; statuses 429 and 5xx), counts the attempts (``total``),
    reads ``Retry-After`` (delta-seconds or an HTTP date) and gives up.  Three
    methods are overridden, each for a behaviour the tests check and urllib3
    does otherwise (:meth:`new` only carries ``label``, ``rng`` and ``stop``
    to each copy):

    - :meth:`get_backoff_time`: the first retry waits ``backoff_factor``
      seconds and each later one twice the previous, capped at
      ``backoff_max``, times a jitter factor in [0.5, 1.5) drawn from ``rng``
      (seeded per catalogue row, so ``seed`` reproduces the delays).  urllib3
      retries the first time at once and draws its jitter from the global
      :mod:`random`.
    - :meth:`sleep`: waits on the run's ``stop`` event instead of
      :func:`time.sleep`, so a strict-mode failure or Ctrl-C is not held up by
      another target's back-off; caps ``Retry-After`` at 60 s; honours
      ``Retry-After: 0`` (urllib3 then falls back to the back-off) and falls
      back to the back-off on an unparsable value (urllib3 raises
      ``InvalidHeader``); logs one INFO line per retry.
    - :meth:`increment`: a redirect spends one of ``redirect``, not one of the
      ``total`` retries that ``--retries`` sets (urllib3 counts it in both).
    """

    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})

    def __init__(
        self,
        *args: Any,
        label: str = "",
        rng: np.random.Generator | None = None,
        stop: threading.Event | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.label = label
        self.rng = rng if rng is not None else np.random.default_rng()
        self.stop = stop

    def new(self, **kw: Any) -> _CutoutRetry:
        return super().new(**{"label": self.label, "rng": self.rng, "stop": self.stop, **kw})

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        if error is None and response is not None and response.get_redirect_location() and self.total is not None:
            restored = self.new(total=self.total + 1)  # the base class takes one off again
            return Retry.increment(restored, method, url, response, error, _pool, _stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_backoff_time(self) -> float:
        failures = len(list(takewhile(lambda h: h.redirect_location is None, reversed(self.history))))
        if failures == 0:
            return 0.0
        base = min(self.backoff_factor * 2.0 ** (failures - 1), self.backoff_max)
        return base * (0.5 + float(self.rng.random()))

    def sleep(self, response: Any = None) -> None:
        after = None
        if (
            self.respect_retry_after_header
            and response is not None
            and response.status in self.RETRY_AFTER_STATUS_CODES
        ):
            try:
                after = self.get_retry_after(response)
            except InvalidHeader:
                after = None
        delay = min(after, _MAX_RETRY_AFTER) if after is not None else self.get_backoff_time()
        last = self.history[-1] if self.history else None
        what = f"HTTP {last.status}" if last is not None and last.status else _error_reason(last and last.error, 0)
        log.info(
            "%s: %s; retry %d in %.2f s%s (%s more allowed)",
            self.label,
            what,
            len(self.history),
            delay,
            " as Retry-After asks" if after is not None else "",
            self.total,
        )
        if _pause(self.stop, delay):
            raise _Interrupted


class _QuietRetryWarnings(logging.Filter):
    """Drop urllib3's "Retrying (...) after connection broken by ..." warnings from the download threads.

    :meth:`_CutoutRetry.sleep` logs each retry at INFO in galvae's words; the
    warning would print a line per retry on a plain ``galvae download``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.threadName or "").startswith(_THREAD_PREFIX) or not record.getMessage().startswith(
            "Retrying"
        )


def _make_retry(job: _Job, opts: _Options, stop: threading.Event | None) -> _CutoutRetry:
    """The retry policy of one target: ``opts.retries`` retries in all, of any kind."""
    return _CutoutRetry(
        total=opts.retries,
        redirect=_MAX_REDIRECTS,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=_RETRY_STATUSES,
        backoff_factor=opts.backoff,
        backoff_max=_MAX_BACKOFF,
        raise_on_status=False,
        respect_retry_after_header=True,
        label=job.galaxy_id,
        rng=np.random.default_rng([opts.seed, job.index]),
        stop=stop,
    )


def _http(max_connections: int, timeout: float) -> urllib3.PoolManager:
    """Connection pools shared by the download threads (thread-safe; connections are kept alive)."""
    return urllib3.PoolManager(
        num_pools=4,
        maxsize=max_connections,
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
        headers={"User-Agent": _USER_AGENT, "Accept": "application/fits, */*"},
    )


def _fetch(http: urllib3.PoolManager, url: str, retry: Retry, timeout: float) -> tuple[bytes, Retry]:
    """GET ``url`` with urllib3 retrying as ``retry`` says; return the body and the retry state after it.

    Raises
    ------
    _Fail
        For a status that is not retried (4xx other than 429), and when
        urllib3 gives up (the last status or error, and the attempts made).
    _Interrupted
        If the run stops during a back-off.
    """
    try:
        response = http.request("GET", url, retries=retry)
    except MaxRetryError as exc:
        raise _Fail(f"{_error_reason(exc.reason, timeout)} (after {_attempts(retry)})", retried=True) from None
    except HTTPError as exc:  # an error urllib3 does not retry
        raise _Fail(_error_reason(exc, timeout)) from None
    after = response.retries if isinstance(response.retries, Retry) else retry
    if response.status >= 400:
        reason = f"HTTP {response.status} {response.reason or ''}".strip()
        if response.status in _RETRY_STATUSES:  # urllib3 gave up on it (raise_on_status=False)
            raise _Fail(f"{reason} (after {_attempts(after)})", retried=True)
        raise _Fail(reason)
    return response.data, after


def _attempts(retry: Retry) -> str:
    """ "N attempts" made once ``retry`` is spent: the retries it allowed, plus the first try."""
    n = (retry.total or 0) + sum(1 for h in retry.history if h.redirect_location is None) + 1
    return f"{n} attempt{'s' if n != 1 else ''}"


def _get_cutout(http: urllib3.PoolManager, job: _Job, opts: _Options, retry: Retry) -> tuple[bytes, np.ndarray]:
    """Fetch and check one cutout; a body that fails the check spends a retry of the same budget."""
    while True:
        body, retry = _fetch(http, job.url, retry, opts.timeout)
        try:
            return _parse_cutout(body, opts.size)
        except _Retry as exc:
            try:
                retry = retry.increment("GET", job.url, error=_BadBody(exc.reason))
            except MaxRetryError:
                raise _Fail(f"{exc.reason} (after {_attempts(retry)})", retried=True) from None
            retry.sleep()


def _header_length(body: bytes) -> int | None:
    """Length in bytes of the primary FITS header (whole 2880-byte blocks), or None if cut short."""
    limit = min(len(body), _MAX_HEADER_BLOCKS * _FITS_BLOCK)
    for start in range(0, limit - _FITS_CARD + 1, _FITS_CARD):
        if body[start : start + 8] == b"END     ":
            length = math.ceil((start + _FITS_CARD) / _FITS_BLOCK) * _FITS_BLOCK
            return length if length <= len(body) else None
    return None


def _parse_cutout(body: bytes, size: int) -> tuple[bytes, np.ndarray]:
    """Check a cutout; return the bytes to save and the (3, size, size) float32 data.

    The header is parsed first, so a short body is reported as truncated here
    rather than as astropy's "File may have been truncated" warning.  A body
    complete but for the final block's zero padding is padded.
    """
    from astropy.io import fits

    if not body.startswith(b"SIMPLE  ="):
        raise _Retry(f"response is not a FITS file ({len(body)} bytes)")
    header_length = _header_length(body)
    if header_length is None:
        raise _Retry(f"truncated FITS header ({len(body)} bytes)")
    try:
        header = fits.Header.fromstring(body[:header_length])
        bitpix = int(header["BITPIX"])
        shape = [int(header.get(f"NAXIS{i}", 0)) for i in range(1, int(header.get("NAXIS", 0)) + 1)]
    except Exception as exc:  # untrusted bytes: astropy may raise many types
        raise _Retry(f"unreadable FITS header: {exc}") from None
    data_bytes = abs(bitpix) // 8 * math.prod(shape) if shape else 0
    if len(body) < header_length + data_bytes:
        raise _Retry(f"truncated FITS data ({len(body) - header_length} of {data_bytes} bytes)")
    padded = header_length + math.ceil(data_bytes / _FITS_BLOCK) * _FITS_BLOCK
    if len(body) < padded:
        body = body + b"\0" * (padded - len(body))
    try:
        with fits.open(io.BytesIO(body), memmap=False) as hdul:
            raw = hdul[0].data
            data = None if raw is None else np.array(raw, dtype=np.float32)
    except Exception as exc:  # untrusted bytes: astropy may raise many types
        raise _Retry(f"unreadable FITS data: {exc}") from None
    if data is None or data.shape != (3, size, size):
        got = None if data is None else data.shape
        raise _Fail(f"expected a (3, {size}, {size}) g, r, z cube, got shape {got}")
    bands = header.get("BANDS")
    if bands is not None and str(bands).strip() != _BANDS:
        raise _Fail(f"expected bands 'grz', got BANDS = {bands!r}")
    return body, data


def _is_empty(data: np.ndarray) -> bool:
    """True when no pixel holds a finite non-zero value (outside the footprint)."""
    return not bool(np.any(np.isfinite(data) & (data != 0)))


def _part_path(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise GalvaeFileError(path, f"cannot remove: {exc.strerror or exc}") from exc


def _save(body: bytes, path: Path) -> None:
    """Write ``body`` to ``<path>.part``, flush it to disk, then rename it to ``path``."""
    part = _part_path(path)
    try:
        with open(part, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, path)
    except OSError as exc:
        _remove(part)
        raise GalvaeFileError(part, f"cannot write cutout: {exc.strerror or exc}") from exc


def _failure_level(opts: _Options) -> int:
    return logging.DEBUG if opts.strict else logging.WARNING


def _download_one(job: _Job, opts: _Options, stop: threading.Event, http: urllib3.PoolManager) -> tuple[str, str]:
    """Fetch, check and save one cutout; return ``(status, reason)``."""
    if stop.is_set():
        return "failed", "interrupted"
    try:
        body, data = _get_cutout(http, job, opts, _make_retry(job, opts, stop))
    except _Interrupted:
        return "failed", "interrupted"
    except _Fail as exc:
        _remove(_part_path(job.path))
        retried = "" if exc.retried else " (not retried)"
        log.log(_failure_level(opts), "%s: %s%s %s", job.galaxy_id, exc.reason, retried, job.url)
        return "failed", exc.reason
    if _is_empty(data):
        _remove(_part_path(job.path))
        if opts.overwrite:
            _remove(job.path)
        log.info("%s: empty cutout (outside the footprint?) %s", job.galaxy_id, job.url)
        return "empty", ""
    _save(body, job.path)
    return "ok", ""


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------


def _check_settings(out_dir: Path, settings: dict[str, Any], overwrite: bool) -> None:
    """Refuse to mix cutouts of another layer, pixel scale or size in one directory."""
    path = out_dir / _SETTINGS_NAME
    keys = ("layer", "pixscale", "size", "bands")
    if path.is_file() and not overwrite:
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GalvaeFileError(path, f"cannot read download settings: {exc}") from exc
        different = {k: old.get(k) for k in keys if old.get(k) != settings[k]}
        if different:
            now = {k: settings[k] for k in different}
            raise GalvaeValueError(
                f"out_dir {str(out_dir)!r} holds cutouts with {different}, not {now}; "
                "use another directory (one per layer) or overwrite=True (--overwrite)"
            )
        if all(old.get(k) == settings[k] for k in settings):
            return
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise GalvaeFileError(path, f"cannot write download settings: {exc.strerror or exc}") from exc


def _write_manifest(path: Path, frame: pd.DataFrame) -> None:
    try:
        with atomic_path(path) as tmp:
            frame.to_parquet(tmp, index=False)
    except OSError as exc:
        raise GalvaeFileError(path, f"cannot write manifest: {exc.strerror or exc}") from exc


def download_cutouts(
    catalog: pd.DataFrame | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    layer: str = "ls-dr9-south",
    pixscale: float = DEFAULT_PIXSCALE,
    size: int = DEFAULT_SIZE,
    base_url: str = DEFAULT_BASE_URL,
    max_connections: int = 4,
    retries: int = 4,
    backoff: float = 1.0,
    timeout: float = 30.0,
    overwrite: bool = False,
    seed: int = 0,
    progress: bool = True,
    strict: bool = False,
) -> DownloadReport:
    """Download g, r, z FITS cutouts of every catalogue target into ``out_dir``.

    Each target's cutout is saved as ``out_dir/<id>.fits`` (see
    :func:`cutout_path`) and a manifest ``out_dir/catalog.parquet`` lists
    every catalogue row with columns ``id, ra, dec, file, layer, pixscale,
    size, status``; ``file`` (relative to ``out_dir``) is set only where
    status is ``ok`` or ``cached``, so ``galvae ingest DIR/catalog.parquet
    --images-root DIR`` reads exactly the cutouts on disk.  ``status`` is

    - ``ok``: downloaded and checked in this run;
    - ``cached``: ``<id>.fits`` was already there (complete files are only
      ever created by renaming a checked ``.part`` file), not requested;
    - ``empty``: the cutout was all zero (outside the layer's footprint), not kept;
    - ``failed:<reason>``: HTTP status, time-out, truncated body, ...

    Parameters
    ----------
    catalog : DataFrame or path
        Targets: ``ra``, ``dec`` in degrees and ``id`` (see :func:`read_targets`;
        without an ``id`` column the row index is used).
    out_dir : str or PathLike
        Output directory, created if needed.  Keep one directory per layer.
    layer : str, default "ls-dr9-south"
        ``ls-dr9-south`` (DECaLS), ``ls-dr9-north`` (BASS+MzLS) or ``ls-dr10``.
    pixscale : float, default 0.262
        Pixel scale, arcsec per pixel.
    size : int, default 64
        Cutout side, pixels (64 × 0.262″ = 16.8″, the simulator's default field).
    base_url : str, default "https://www.legacysurvey.org/viewer"
        Root of the cutout service.
    max_connections : int, default 4
        Most requests in flight at once, 1 to 32.
    retries : int, default 4
        Further attempts after a transient failure (connection error,
        time-out, HTTP 429 or 5xx, truncated or unreadable body), in all for
        one target whatever the mix of failures.  Other 4xx statuses are not
        retried; redirects (at most 10) do not count.
    backoff : float, default 1.0
        Seconds before the first retry; doubled at each retry (capped at
        60 s) and multiplied by a jitter factor in [0.5, 1.5).  A
        ``Retry-After`` header on 429/503 (seconds or an HTTP date) replaces
        it (capped at 60 s).
    timeout : float, default 30.0
        Seconds to wait for the connection and for each read.
    overwrite : bool, default False
        Download again even where ``<id>.fits`` exists.
    seed : int, default 0
        Seed of the back-off jitter (one stream per catalogue row).
    progress : bool, default True
        Show a progress bar (one tick per target).
    strict : bool, default False
        Stop at the first failed download (after its retries) with a
        :class:`~galvae.errors.GalvaeDownloadError` naming the target and its
        address; requests still in flight finish, cutouts already saved are
        kept (a rerun resumes) and the manifest is not written.  By default
        failures are recorded in the manifest and the report, and the run
        goes on.  Empty cutouts (outside the footprint) are not failures.

    Returns
    -------
    DownloadReport

    Raises
    ------
    GalvaeValueError
        For a bad parameter or catalogue, or an ``out_dir`` that already holds
        cutouts of another layer, pixel scale or size (unless ``overwrite``).
    GalvaeFileError
        If the catalogue cannot be read or ``out_dir`` cannot be written.
    GalvaeDownloadError
        With ``strict``, at the first failed download.

    Examples
    --------
    >>> report = download_cutouts("overlap.csv", "cutouts/decals", layer="ls-dr9-south")  # doctest: +SKIP
    >>> report = download_cutouts("overlap.csv", "cutouts/bass-mzls", layer="ls-dr9-north")  # doctest: +SKIP
    >>> report.counts  # doctest: +SKIP
    {'ok': 3431, 'cached': 0, 'empty': 3, 'failed': 0}
    """
    layer = _check_layer(layer)
    pixscale = _check_pixscale(pixscale)
    size = _check_size(size)
    base_url = _check_base_url(base_url)
    _check_transfer(max_connections, retries, backoff, timeout)

    targets = read_targets(catalog)
    out = Path(out_dir)
    paths = _target_paths(targets, out)
    settings = {"layer": layer, "pixscale": pixscale, "size": size, "bands": _BANDS, "base_url": base_url}
    _check_settings(out, settings, overwrite)

    n = len(targets)
    status, jobs = _plan_jobs(targets, paths, overwrite, layer=layer, pixscale=pixscale, size=size, base_url=base_url)
    reasons: list[str] = [""] * n
    n_cached = n - len(jobs)
    if n_cached:
        log.info("%d of %d cutouts already in %s", n_cached, n, out)

    opts = _Options(
        retries=int(retries),
        backoff=float(backoff),
        timeout=float(timeout),
        size=size,
        seed=int(seed),
        overwrite=bool(overwrite),
        strict=bool(strict),
    )
    counts = {"ok": 0, "cached": n_cached, "empty": 0, "failed": 0}
    started = time.monotonic()
    _run_jobs(
        jobs, opts, int(max_connections), status, reasons, counts, desc=f"download {layer}", progress=progress, out=out
    )
    log.info("downloaded %d cutouts in %.1f s", counts["ok"], time.monotonic() - started)

    manifest = out / MANIFEST_NAME
    _write_manifest(
        manifest, _manifest_frame(targets, paths, status, reasons, layer=layer, pixscale=pixscale, size=size)
    )
    failures = tuple((targets["id"].iloc[i], reasons[i]) for i in range(n) if status[i] == "failed")
    return DownloadReport(
        out_dir=out,
        manifest=manifest,
        layer=layer,
        n_ok=counts["ok"],
        n_cached=counts["cached"],
        n_empty=counts["empty"],
        n_failed=counts["failed"],
        failures=failures,
    )


def _check_transfer(max_connections: int, retries: int, backoff: float, timeout: float) -> None:
    """Check the connection, retry, back-off and time-out options of :func:`download_cutouts`."""
    check_int("max_connections", max_connections, minimum=1, maximum=_MAX_CONNECTIONS)
    check_int("retries", retries, minimum=0)
    check_float("backoff", backoff, minimum=0)
    check_float("timeout", timeout, minimum=0, inclusive=(False, True))


def _target_paths(targets: pd.DataFrame, out: Path) -> list[Path]:
    """Each target's cutout file in ``out`` (created), refusing ids that map to the same file name."""
    import pandas as pd

    paths = [cutout_path(out, gid) for gid in targets["id"]]
    names = pd.Series([p.name for p in paths])
    if names.duplicated().any():
        clash = names[names.duplicated(keep=False)].index[:2]
        raise GalvaeValueError(
            "catalog ids map to the same file name",
            value=(targets["id"].iloc[clash[0]], targets["id"].iloc[clash[1]]),
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GalvaeFileError(out, f"cannot create output directory: {exc.strerror or exc}") from exc
    return paths


def _plan_jobs(
    targets: pd.DataFrame,
    paths: list[Path],
    overwrite: bool,
    *,
    layer: str,
    pixscale: float,
    size: int,
    base_url: str,
) -> tuple[list[str], list[_Job]]:
    """The status of each target so far (``"cached"`` where its file is there) and the downloads still to do."""
    status: list[str] = [""] * len(targets)
    jobs: list[_Job] = []
    for i, (gid, ra, dec) in enumerate(targets[["id", "ra", "dec"]].itertuples(index=False)):
        path = paths[i]
        if not overwrite and path.is_file() and path.stat().st_size > 0:
            status[i] = "cached"
            continue
        url = cutout_url(ra, dec, layer=layer, pixscale=pixscale, size=size, base_url=base_url)
        jobs.append(_Job(index=i, galaxy_id=gid, url=url, path=path))
    return status, jobs


def _run_jobs(
    jobs: list[_Job],
    opts: _Options,
    max_connections: int,
    status: list[str],
    reasons: list[str],
    counts: dict[str, int],
    *,
    desc: str,
    progress: bool,
    out: Path,
) -> None:
    """Download ``jobs`` over ``max_connections`` threads, filling ``status``, ``reasons`` and ``counts`` in place.

    Jobs are submitted lazily (a bounded window), so an interrupt leaves little queued work; with
    ``opts.strict`` the first failure stops the run with a :class:`~galvae.errors.GalvaeDownloadError`.
    """
    from tqdm.auto import tqdm

    stop = threading.Event()
    urllib3_log, quiet = logging.getLogger("urllib3.connectionpool"), _QuietRetryWarnings()
    with (
        _http(max_connections, opts.timeout) as http,
        tqdm(total=len(status), desc=desc, unit="galaxy", disable=not progress, initial=counts["cached"]) as bar,
    ):
        bar.set_postfix(counts, refresh=False)
        executor = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix=_THREAD_PREFIX)
        urllib3_log.addFilter(quiet)
        try:
            futures: dict[Future[tuple[str, str]], _Job] = {}
            queue = iter(jobs)
            # submit lazily (a bounded window), so an interrupt leaves little queued work
            for job in queue:
                futures[executor.submit(_download_one, job, opts, stop, http)] = job
                if len(futures) >= 2 * max_connections:
                    break
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    job = futures.pop(fut)
                    result, reason = fut.result()
                    if opts.strict and result == "failed":
                        raise GalvaeDownloadError(
                            job.url,
                            f"{job.galaxy_id}: {reason} (strict mode stops at the first failed download; "
                            f"cutouts saved so far are kept in {out}, rerun to resume)",
                        )
                    status[job.index] = result
                    reasons[job.index] = reason
                    counts[result] += 1
                    bar.set_postfix(counts, refresh=False)
                    bar.update(1)
                    nxt = next(queue, None)
                    if nxt is not None:
                        futures[executor.submit(_download_one, nxt, opts, stop, http)] = nxt
        except BaseException:
            stop.set()
            executor.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            urllib3_log.removeFilter(quiet)  # the run's threads are done (or told to stop and joined)
        executor.shutdown(wait=True)


def _manifest_frame(
    targets: pd.DataFrame,
    paths: list[Path],
    status: list[str],
    reasons: list[str],
    *,
    layer: str,
    pixscale: float,
    size: int,
) -> pd.DataFrame:
    """The manifest: one row per target, ``file`` set only where its cutout is on disk."""
    import pandas as pd

    n = len(targets)
    kept = [s in ("ok", "cached") for s in status]
    return pd.DataFrame(
        {
            "id": pd.array(targets["id"].tolist(), dtype="string"),
            "ra": targets["ra"].to_numpy(),
            "dec": targets["dec"].to_numpy(),
            "file": pd.array([p.name if k else None for p, k in zip(paths, kept, strict=True)], dtype="string"),
            "layer": pd.array([layer] * n, dtype="string"),
            "pixscale": np.full(n, pixscale),
            "size": np.full(n, size, dtype=np.int32),
            "status": pd.array(
                [f"failed:{r}" if s == "failed" else s for s, r in zip(status, reasons, strict=True)], dtype="string"
            ),
        }
    )
