"""Atomic file writing: a product appears under its final name only when complete.

A file killed mid-write (a Parquet file before its footer, an HDF5 file, a
JSON document) would otherwise look finished and fail later, or hang, when
read.  Every galvae writer therefore writes to a temporary name in the same
directory, fsyncs it, and renames it over the final name: through
:func:`atomic_path` itself, or through :func:`write_text` and
:func:`write_json` for text.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "json_default", "temporary_name", "write_json", "write_text"]


def temporary_name(path: str | os.PathLike[str]) -> Path:
    """The hidden temporary name used while ``path`` is being written."""
    p = Path(path)
    return p.with_name(f".{p.name}.tmp-{os.getpid()}")


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success rename it to ``path``.

    On any exception (including KeyboardInterrupt) the temporary file is
    removed and ``path`` is left as it was.

    Examples
    --------
    >>> with atomic_path("table.parquet") as tmp:  # doctest: +SKIP
    ...     df.to_parquet(tmp)
    """
    final = Path(path)
    tmp = temporary_name(final)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Parameters
    ----------
    path : str or path-like
        The file; its directory must exist.
    text : str

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    final = Path(path)
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return final


def json_default(obj: Any) -> Any:
    """JSON form of the values galvae writes that :mod:`json` does not know.

    NumPy scalars become Python numbers, arrays lists, paths strings.

    Raises
    ------
    TypeError
        For anything else, as :func:`json.dumps` expects of a ``default``.
    """
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    np = sys.modules.get("numpy")  # a NumPy value means NumPy is loaded: no import here
    if np is not None and isinstance(obj, np.generic):
        return obj.item()
    if np is not None and isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2, sort_keys: bool = False) -> Path:
    """Write ``obj`` as a JSON document (one trailing newline) to ``path`` atomically.

    Parameters
    ----------
    path : str or path-like
        The file; its directory must exist.
    obj : object
        Anything :func:`json.dumps` accepts, plus the values of :func:`json_default`.
    indent : int or None, default 2
        As :func:`json.dumps`; None writes one line.
    sort_keys : bool, default False

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return write_text(path, json.dumps(obj, indent=indent, sort_keys=sort_keys, default=json_default) + "\n")
