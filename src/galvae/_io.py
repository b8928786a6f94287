"""Atomic file writing: a product appears under its final name only when complete.

A file killed mid-write (a Parquet file before its footer, an HDF5 file, a
JSON document) would otherwise look finished and fail later, or hang, when
read.  Every galvae writer therefore writes to a temporary name in the same
directory, fsyncs it, and renames it over the final name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "temporary_name"]


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
