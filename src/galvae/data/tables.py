"""Tables on disk: the one reader and writer of Parquet, CSV and FITS tables.

Catalogues, Table 2 labels and latent catalogues all go through
:func:`read_table` / :func:`write_table`, so each format is read and
written one way: writes are atomic (:func:`galvae._io.atomic_path`), a
truncated FITS file is an error rather than a short table, FITS text is
decoded to ``str`` and masked values come back missing.

galvae metadata (a JSON object: the model and store behind a latent
catalogue) travels with a table as the Parquet schema metadata key
``galvae`` or the FITS header card ``GALVAEMD``; CSV cannot carry it.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._io import atomic_path
from ..errors import GalvaeFileError, GalvaeValueError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FITS_METADATA_CARD",
    "PARQUET_METADATA_KEY",
    "TABLE_FORMATS",
    "check_table_path",
    "read_catalog",
    "read_table",
    "table_format",
    "write_table",
]

log = logging.getLogger(__name__)

#: Parquet schema metadata key of the galvae metadata.
PARQUET_METADATA_KEY = b"galvae"
#: FITS header card of the galvae metadata (JSON; long values continue over CONTINUE cards).
FITS_METADATA_CARD = "GALVAEMD"
#: The formats :func:`read_table` and :func:`write_table` know.
TABLE_FORMATS = ("parquet", "csv", "fits")

_READ_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".fits": "fits",
    ".fit": "fits",
    ".fits.gz": "fits",
}
_WRITE_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".fits": "fits", ".fit": "fits"}


def table_format(path: str | os.PathLike[str], *, writing: bool = False) -> str | None:
    """The table format of ``path`` by its extension (case-insensitive), or None.

    Parameters
    ----------
    path : str or path-like
    writing : bool, default False
        Use the extensions :func:`write_table` writes (no ``.csv.gz`` or
        ``.fits.gz``) instead of those :func:`read_table` reads.

    Returns
    -------
    {"parquet", "csv", "fits"} or None
    """
    suffixes = _WRITE_SUFFIXES if writing else _READ_SUFFIXES
    name = Path(path).name.lower()
    for suffix in sorted(suffixes, key=len, reverse=True):
        if name.endswith(suffix):
            return suffixes[suffix]
    return None


def _check_format(fmt: str | None) -> None:
    if fmt is not None and fmt not in TABLE_FORMATS:
        raise GalvaeValueError("unknown table format", fmt, TABLE_FORMATS)


# --------------------------------------------------------------------------- reading


def read_table(path: str | os.PathLike[str], *, format: str | None = None) -> tuple[pd.DataFrame, dict | None]:
    """Read a Parquet, CSV or FITS table and its galvae metadata.

    Parameters
    ----------
    path : str or path-like
        ``.parquet``/``.pq``, ``.csv``/``.csv.gz`` or ``.fits``/``.fit``/
        ``.fits.gz`` (the first table HDU).
    format : {"parquet", "csv", "fits"}, optional
        Read as this format whatever the extension.

    Returns
    -------
    (DataFrame, dict or None)
        The table (FITS strings decoded to ``str``, masked FITS values
        missing; multidimensional FITS columns, which a DataFrame cannot
        hold, dropped with a logged warning) and the galvae metadata the
        file carries (None when it carries none).

    Raises
    ------
    GalvaeFileError
        If the file is missing, not a file, of an unknown extension,
        unreadable or truncated, or its galvae metadata is not JSON.
    GalvaeValueError
        On an unknown ``format``.
    """
    _check_format(format)
    path = Path(path)
    if not path.exists():
        raise GalvaeFileError(path, "catalogue file not found")
    if not path.is_file():
        raise GalvaeFileError(path, "is not a file (expected a .parquet, .csv or .fits catalogue)")
    fmt = format or table_format(path)
    if fmt is None:
        raise GalvaeFileError(path, f"unknown catalogue format; accepted: {', '.join(_READ_SUFFIXES)}")
    try:
        if fmt == "parquet":
            df, raw = _read_parquet(path)
        elif fmt == "csv":
            import pandas as pd

            df, raw = pd.read_csv(path, low_memory=False), None
        else:
            df, raw = _read_fits(path)
    except GalvaeFileError:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise GalvaeFileError(path, f"cannot read {fmt} catalogue: {exc}") from exc
    if raw is None:
        return df, None
    try:
        return df, json.loads(raw)
    except ValueError:
        raise GalvaeFileError(path, "unreadable galvae metadata (not JSON)") from None


def read_catalog(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a catalogue table (Parquet, CSV or FITS) into a DataFrame.

    :func:`read_table` without the metadata.

    Parameters
    ----------
    path : str or path-like
        ``.parquet``/``.pq``, ``.csv``/``.csv.gz`` or ``.fits``/``.fit``/
        ``.fits.gz`` (the first table HDU).

    Returns
    -------
    DataFrame

    Raises
    ------
    GalvaeFileError
        If the file is missing, not a file, of an unknown extension,
        unreadable or truncated.
    """
    return read_table(path)[0]


def _read_parquet(path: Path) -> tuple[pd.DataFrame, bytes | None]:
    import pandas as pd
    import pyarrow
    import pyarrow.parquet as pq

    try:
        df = pd.read_parquet(path)
        meta = pq.read_schema(path).metadata or {}
    except pyarrow.ArrowException as exc:
        raise GalvaeFileError(path, f"cannot read Parquet catalogue: {exc}") from exc
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        # pyarrow rebuilds the frame from the file's pandas metadata: damaged metadata escapes as these
        raise GalvaeFileError(
            path, f"cannot read Parquet catalogue: damaged pandas metadata ({type(exc).__name__}: {exc})"
        ) from exc
    return df, meta.get(PARQUET_METADATA_KEY)


def _read_fits(path: Path) -> tuple[pd.DataFrame, str | None]:
    """The first table HDU, refusing a truncated file (astropy only warns about one)."""
    from astropy.table import Column, MaskedColumn, Table

    error: Exception | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            table = Table.read(path, format="fits")
        except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
            error = exc
    # astropy only warns about a short file; the error (if any) comes later, so check both
    messages = [str(w.message) for w in caught]
    truncated = [m for m in messages if "truncated" in m.lower()]
    if truncated:
        raise GalvaeFileError(path, f"FITS file is truncated ({truncated[0]})") from error
    if error is not None:
        raise GalvaeFileError(path, f"cannot read fits catalogue: {error}") from error
    for text in messages:
        log.warning("%s: %s", path, text)
    multidim = [name for name in table.colnames if table[name].ndim > 1]
    if multidim:
        log.warning("%s: dropping multidimensional column(s) %s", path, ", ".join(multidim))
        table.remove_columns(multidim)
    for name in table.colnames:
        col = table[name]
        if col.dtype.kind == "S":  # read as bytes so that empty (null) strings come back masked
            raw = np.ma.getdata(col)
            try:
                text = raw.astype(str)  # FITS text is ASCII: fast path
            except UnicodeDecodeError:
                text = np.char.decode(raw, "utf-8", errors="replace")
            mask = np.ma.getmaskarray(col)
            table[name] = MaskedColumn(text, mask=mask) if mask.any() else Column(text)
    return table.to_pandas(), table.meta.get(FITS_METADATA_CARD)


# --------------------------------------------------------------------------- writing


def check_table_path(
    path: str | os.PathLike[str], *, overwrite: bool = False, format: str | None = None
) -> tuple[Path, str]:
    """Check that :func:`write_table` can write ``path``, before any long work.

    Parameters
    ----------
    path : str or path-like
        The table to write; see :func:`write_table` for the extensions.
    overwrite : bool, default False
        Whether an existing file may be replaced.
    format : {"parquet", "csv", "fits"}, optional
        Write this format whatever the extension.

    Returns
    -------
    (pathlib.Path, str)
        The path and its format: ``"parquet"``, ``"csv"`` or ``"fits"``.

    Raises
    ------
    GalvaeFileError
        If the extension is unknown, ``path`` exists and ``overwrite`` is
        False, or its directory does not exist.
    GalvaeValueError
        On an unknown ``format``.
    """
    _check_format(format)
    path = Path(path)
    fmt = format or ("parquet" if not path.suffix else table_format(path, writing=True))
    if fmt is None:
        raise GalvaeFileError(path, f"unknown table format; accepted: {', '.join(_WRITE_SUFFIXES)} (or none: Parquet)")
    if path.exists() and not overwrite:
        raise GalvaeFileError(path, "already exists (pass overwrite=True / --overwrite to replace it)")
    if path.is_dir():
        raise GalvaeFileError(path, "is a directory")
    if not path.parent.is_dir():
        raise GalvaeFileError(path, "directory does not exist")
    return path, fmt


def write_table(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    format: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    fits_header: Mapping[str, Any] | None = None,
) -> Path:
    """Write a table atomically, as Parquet, CSV or FITS by extension.

    The file is written under a temporary name in the same directory,
    flushed to disk and renamed, so ``path`` is only ever absent or complete
    (a Parquet file cut short before its footer is unreadable).

    Parameters
    ----------
    df : DataFrame
        The table.  Its index is written too, unless it is the default
        ``RangeIndex`` (0, 1, ...): Parquet keeps it natively; CSV and FITS
        get it as a first column named after the index (``index`` if
        unnamed).  ``df.attrs`` is kept in Parquet metadata.  In FITS,
        missing values are masked (NaN for floats, ``TNULL`` for integers,
        empty strings for text) and categories become strings.
    path : str or path-like
        ``.parquet``/``.pq`` or no extension: Parquet (the default);
        ``.csv``: CSV; ``.fits``/``.fit``: a FITS binary table.
    overwrite : bool, default False
        Replace ``path`` if it exists.
    format : {"parquet", "csv", "fits"}, optional
        Write this format whatever the extension.
    metadata : mapping, optional
        galvae metadata (JSON-serialisable), read back by :func:`read_table`:
        Parquet schema metadata ``galvae`` or FITS card ``GALVAEMD``.
    fits_header : mapping, optional
        Further FITS header cards of the table HDU (``EXTNAME``, ...): name
        → value or (value, comment).  Ignored for Parquet.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    GalvaeFileError
        If ``path`` exists and ``overwrite`` is False, its directory does
        not exist, or the extension is unknown.
    GalvaeValueError
        If ``df`` is not a DataFrame, a column cannot be written to FITS,
        or metadata is asked of a CSV file.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise GalvaeValueError("write_table needs a pandas DataFrame", type(df).__name__)
    path, fmt = check_table_path(path, overwrite=overwrite, format=format)
    if fmt == "csv" and (metadata is not None or fits_header):
        raise GalvaeValueError(f"{path}: a CSV table cannot carry metadata or FITS header cards")
    meta = None if metadata is None else json.dumps(dict(metadata))
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            _write_parquet(df, tmp, meta)
        elif fmt == "csv":
            df.to_csv(tmp, index=not _is_default_index(df.index))
        else:
            table = _fits_table(df, path)
            table.meta.update(fits_header or {})
            if meta is not None:
                table.meta[FITS_METADATA_CARD] = meta
            table.write(tmp, format="fits", overwrite=True)
    log.info("wrote %d rows to %s", len(df), path)
    return path


def _write_parquet(df: pd.DataFrame, path: Path, meta: str | None) -> None:
    """``df.to_parquet`` (index and ``attrs`` kept the same way) plus the galvae metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=None)
    extra: dict[bytes, bytes] = {}
    if df.attrs:
        extra[b"PANDAS_ATTRS"] = json.dumps(df.attrs).encode()  # where pandas keeps (and reads back) attrs
    if meta is not None:
        extra[PARQUET_METADATA_KEY] = meta.encode()
    if extra:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
    pq.write_table(table, path)


def _is_default_index(index: pd.Index) -> bool:
    import pandas as pd

    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None


def _fits_table(df: pd.DataFrame, path: Path) -> Any:
    """An astropy Table of ``df``; text-like columns as masked strings, nullable numbers masked."""
    import pandas as pd
    from astropy.table import MaskedColumn, Table

    if not _is_default_index(df.index):
        name = df.index.name if df.index.name is not None else "index"
        if name in df.columns:
            raise GalvaeValueError(f"{path}: cannot write the index to FITS: a column has its name", name)
        df = df.reset_index(names=name)
    table = Table()
    for col in df.columns:
        series = df[col]
        name = str(col)
        missing = series.isna().to_numpy()
        dtype = series.dtype
        if (
            isinstance(dtype, pd.CategoricalDtype)
            or pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype)
        ):
            text = series.astype(object).where(~missing, "").astype(str).to_numpy().astype(str)
            if text.dtype.itemsize == 0:
                text = text.astype("U1")
            table[name] = MaskedColumn(text, mask=missing) if missing.any() else text
        elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
            if missing.any():
                fill = False if pd.api.types.is_bool_dtype(dtype) else 0
                table[name] = MaskedColumn(series.fillna(fill).to_numpy(), mask=missing)
            else:
                table[name] = series.to_numpy()
        elif pd.api.types.is_float_dtype(dtype):
            table[name] = series.to_numpy(dtype=np.float64 if dtype.itemsize > 4 else np.float32, na_value=np.nan)
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            table[name] = MaskedColumn(np.array(series.astype(str)), mask=missing)
        else:
            raise GalvaeValueError(f"{path}: cannot write column {name!r} to FITS", str(dtype))
    return table
