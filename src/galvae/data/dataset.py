"""PyTorch datasets over one or several image stores.

:class:`GalaxyDataset` streams images from HDF5 stores, opening each file
lazily in whichever process reads it (so it is safe with DataLoader worker
processes, which must never inherit an open h5py handle), and has a fast path
that holds small stores in memory.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from ..errors import GalvaeValueError
from .store import ImageStore

__all__ = ["GalaxyDataset"]

#: The rows an in-memory dataset last read, keyed by :func:`stores_key` and the rows: a process that trains
#: several models on one split (``galvae demo``: the main run, its resume, the sweep's models) reads them once.
#: One entry of at most :data:`_READ_CACHE_BYTES`; hits are copies, so no dataset sees another's changes.
_READ_CACHE: dict[tuple, NDArray] = {}
_READ_CACHE_BYTES = 256 * 2**20


def stores_key(stores: Any) -> tuple | None:
    """What identifies the content of image stores (each file's real path, inode, size, modification and change
    times: a store is rewritten to a new file and renamed), or None when one is not a file on disk."""
    if isinstance(stores, str | os.PathLike | ImageStore):
        stores = [stores]
    key = []
    for s in stores:
        path = s.path if isinstance(s, ImageStore) else s
        try:
            st = os.stat(path)
        except (OSError, TypeError):
            return None
        key.append((os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(key)


log = logging.getLogger(__name__)

StoreLike = str | os.PathLike[str] | ImageStore

#: Stores whose images total at most this many bytes are held in memory when
#: ``in_memory="auto"``; the environment variable ``GALVAE_IN_MEMORY_LIMIT``
#: (bytes; 0 always streams) overrides it, e.g. so that the processes of a
#: multi-GPU job do not each hold a copy.
DEFAULT_MEMORY_LIMIT = 1 << 30
MEMORY_LIMIT_ENV = "GALVAE_IN_MEMORY_LIMIT"


def _memory_limit(given: int | None) -> int:
    """``given``, else ``$GALVAE_IN_MEMORY_LIMIT``, else :data:`DEFAULT_MEMORY_LIMIT` (bytes)."""
    if given is not None:
        return int(given)
    text = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_MEMORY_LIMIT
    try:
        value = int(float(text))
    except ValueError:
        raise GalvaeValueError(f"environment variable {MEMORY_LIMIT_ENV} must be a number of bytes", text) from None
    if value < 0:
        raise GalvaeValueError(f"environment variable {MEMORY_LIMIT_ENV} must be >= 0", text)
    return value


class GalaxyDataset(Dataset):
    """Images of one or several image stores as a map-style torch Dataset.

    Parameters
    ----------
    stores : path, ImageStore, or sequence of them
        Stores to concatenate, in order (a sharded store's ``.json`` manifest
        counts as one store, read shard by shard).  They must share image
        size and normalisation.
    indices : array_like of int, optional
        Global row numbers (over the concatenated stores) to expose, e.g. a
        train/validation split; default all rows.
    in_memory : bool or "auto", default "auto"
        Hold the selected images in memory.  ``"auto"`` does so when they
        take at most ``memory_limit`` bytes.
    memory_limit : int, optional
        Threshold for ``in_memory="auto"``, bytes; default
        ``$GALVAE_IN_MEMORY_LIMIT`` when set, else 1 GiB.  Beyond it images
        are read batch by batch from the files (lazy per-process handles), so
        memory stays flat whatever the store's size.
    return_index : bool, default False
        Return ``(image, index)`` pairs, where ``index`` is the position in
        this dataset, instead of the image alone.
    transform : callable, optional
        Applied to each image tensor (3, S, S) before it is returned.

    Attributes
    ----------
    ids : ndarray of str, shape (len(self),)
        Ids of the exposed images, in order.
    size : int
        Image side S.
    normalisation : StretchConfig
        Normalisation shared by the stores.

    Raises
    ------
    GalvaeValueError
        If the stores disagree on size or normalisation, or an index is out
        of range.
    GalvaeFileError
        If a store cannot be opened.
    """

    def __init__(
        self,
        stores: StoreLike | Sequence[StoreLike],
        *,
        indices: Sequence[int] | NDArray | None = None,
        in_memory: bool | str = "auto",
        memory_limit: int | None = None,
        return_index: bool = False,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if isinstance(stores, str | os.PathLike | ImageStore):
            stores = [stores]
        self.stores: list[ImageStore] = [s if isinstance(s, ImageStore) else ImageStore(s) for s in stores]
        if not self.stores:
            raise GalvaeValueError("GalaxyDataset needs at least one image store")
        first = self.stores[0]
        for s in self.stores[1:]:
            if s.size != first.size:
                raise GalvaeValueError(
                    f"image stores differ in size: {first.path} has {first.size}, {s.path} has", s.size
                )
            if s.normalisation != first.normalisation:
                raise GalvaeValueError(
                    f"image stores differ in normalisation: {first.path} and {s.path}", s.normalisation
                )
        self.size = first.size
        self.normalisation = first.normalisation
        self._offsets = np.cumsum([0] + [len(s) for s in self.stores])
        total = int(self._offsets[-1])
        if indices is None:
            rows = np.arange(total, dtype=np.int64)
        else:
            rows = np.asarray(indices, dtype=np.int64).reshape(-1)
            if rows.size and (rows.min() < 0 or rows.max() >= total):
                raise GalvaeValueError(
                    f"indices must lie in [0, {total})", int(rows.max() if rows.max() >= total else rows.min())
                )
        self.rows = rows
        self.return_index = bool(return_index)
        self.transform = transform
        if in_memory not in (True, False, "auto"):
            raise GalvaeValueError("in_memory", in_memory, (True, False, "auto"))
        nbytes = rows.size * 3 * self.size * self.size * 4
        self.in_memory = bool(in_memory is True or (in_memory == "auto" and nbytes <= _memory_limit(memory_limit)))
        self._cache: NDArray | None = None
        if self.in_memory:
            self._cache = self._read_rows_cached(rows, nbytes)
            for s in self.stores:
                s.close()
            log.debug("GalaxyDataset holds %d images (%.1f MiB) in memory", rows.size, nbytes / 2**20)

    def _locate(self, rows: NDArray) -> tuple[NDArray, NDArray]:
        which = np.searchsorted(self._offsets, rows, side="right") - 1
        return which, rows - self._offsets[which]

    def _read_rows_cached(self, rows: NDArray, nbytes: int) -> NDArray:
        """:meth:`_read_rows`, or a copy of the same rows read last time from the same, unchanged stores."""
        files = stores_key(self.stores)
        key = None if files is None or nbytes > _READ_CACHE_BYTES else (files, self.size, rows.tobytes())
        if key is not None and key in _READ_CACHE:
            log.debug("GalaxyDataset: %d rows from this process's last read of the same stores", rows.size)
            return _READ_CACHE[key].copy()
        out = self._read_rows(rows)
        if key is not None:
            _READ_CACHE.clear()
            _READ_CACHE[key] = out.copy()
        return out

    def _read_rows(self, rows: NDArray) -> NDArray:
        out = np.empty((rows.size, 3, self.size, self.size), dtype=np.float32)
        which, local = self._locate(rows)
        for k, store in enumerate(self.stores):
            sel = np.flatnonzero(which == k)
            if sel.size:
                out[sel] = store.read(local[sel])
        return out

    @property
    def ids(self) -> NDArray:
        """The galaxy id of each of the dataset's rows, in row order (object array of str)."""
        which, local = self._locate(self.rows)
        out = np.empty(self.rows.size, dtype=object)
        for k, store in enumerate(self.stores):
            sel = np.flatnonzero(which == k)
            out[sel] = store.ids[local[sel]]
        return out.astype(str)

    def __len__(self) -> int:
        return int(self.rows.size)

    def get_batch(self, positions: Sequence[int] | NDArray) -> torch.Tensor:
        """Images at several positions as one tensor (N, 3, S, S), read in one go."""
        pos = np.asarray(positions, dtype=np.int64)
        if self._cache is not None:
            arr = self._cache[pos]
        else:
            arr = self._read_rows(self.rows[pos])
        return torch.from_numpy(np.ascontiguousarray(arr))

    def __getitem__(self, i: int) -> Any:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} images")
        i = int(i) % len(self)
        if self._cache is not None:
            img = torch.from_numpy(self._cache[i])
        else:
            k, local = self._locate(self.rows[i : i + 1])
            img = torch.from_numpy(np.ascontiguousarray(self.stores[int(k[0])].read(int(local[0]))))
        if self.transform is not None:
            img = self.transform(img)
        return (img, i) if self.return_index else img

    def __repr__(self) -> str:
        names = ", ".join(str(s.path) for s in self.stores)
        return f"GalaxyDataset([{names}], n={len(self)}, size={self.size}, in_memory={self.in_memory})"
