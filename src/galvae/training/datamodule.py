"""LightningDataModule over image stores with a seeded split by id."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from ..data.dataset import GalaxyDataset
from ..data.presentation import check_same_presentation
from ..data.store import ImageStore
from ..errors import GalvaeValueError

__all__ = [
    "GalaxyDataModule",
    "EpochSeededSampler",
    "ShardSampler",
    "process_share",
    "split_ids",
    "split_train_val_test",
]

log = logging.getLogger(__name__)


def split_ids(ids: Sequence[str], val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split row numbers into train and validation sets by id.

    The ids are sorted first, so the split depends only on the set of ids,
    the fraction and the seed, not on the order of the store.

    Parameters
    ----------
    ids : sequence of str, length N
    val_fraction : float in (0, 1)
    seed : int

    Returns
    -------
    train_rows, val_rows : ndarray of int64
        Row numbers into ``ids``, each sorted; at least one row each.

    Raises
    ------
    GalvaeValueError
        With fewer than two ids.
    """
    ids = np.asarray(ids, dtype=str)
    n = ids.size
    if n < 2:
        raise GalvaeValueError("training needs at least 2 images (one for validation)", n)
    perm = _id_permutation(ids, seed)
    n_val = min(n - 1, max(1, int(math.ceil(val_fraction * n))))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def split_train_val_test(
    ids: Sequence[str], val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split row numbers into train, validation and test sets by id.

    The validation set is the one :func:`split_ids` gives with the same
    ``val_fraction`` and ``seed``; the test set is carved from the rest, so a
    test fraction of 0 leaves the train/validation split unchanged.  The
    validation set may steer training (early stopping, choosing the
    exported epoch); the test set is never looked at during training.

    Parameters
    ----------
    ids : sequence of str, length N
    val_fraction : float in (0, 1)
    test_fraction : float in [0, 1)
    seed : int

    Returns
    -------
    train_rows, val_rows, test_rows : ndarray of int64
        Row numbers into ``ids``, each sorted; train and validation hold at
        least one row, test at least one when ``test_fraction > 0``.

    Raises
    ------
    GalvaeValueError
        With fewer than two ids, or fewer than three with a test set.
    """
    ids = np.asarray(ids, dtype=str)
    n = ids.size
    if test_fraction <= 0:
        train, val = split_ids(ids, val_fraction, seed)
        return train, val, np.zeros(0, dtype=np.int64)
    if n < 3:
        raise GalvaeValueError("a train/validation/test split needs at least 3 ids", n)
    perm = _id_permutation(ids, seed)
    n_val = min(n - 2, max(1, int(math.ceil(val_fraction * n))))
    n_test = min(n - n_val - 1, max(1, int(math.ceil(test_fraction * n))))
    return (
        np.sort(perm[n_val + n_test :]),
        np.sort(perm[:n_val]),
        np.sort(perm[n_val : n_val + n_test]),
    )


def _id_permutation(ids: np.ndarray, seed: int) -> np.ndarray:
    """Row numbers of ``ids`` in a seeded random order that depends only on the set of ids."""
    order = np.argsort(ids, kind="stable")
    gen = torch.Generator().manual_seed(int(seed))
    return np.asarray(order[torch.randperm(ids.size, generator=gen).numpy()], dtype=np.int64)


class EpochSeededSampler(Sampler[int]):
    """Random permutation of ``range(n)`` seeded with ``seed + epoch``, or one process's share of it.

    Lightning calls :meth:`set_epoch` at the start of each epoch, so the data
    order of every epoch is fixed by the seed and survives a resume.

    With ``world_size`` P > 1 (distributed training) every process draws the
    same permutation and cuts it into global batches of ``batch_size``; the
    process of rank r takes the r-th of the P equal slices of each global
    batch, in order.  Batch k of every process therefore holds a part of
    global batch k of the one-process order, whatever P is.  The last,
    partial global batch of an epoch is padded with images from the start of
    the permutation up to a multiple of P (at most P − 1 repeated images),
    so that every process takes the same number of steps.

    Parameters
    ----------
    n : int
        Dataset length.
    seed : int
    batch_size : int, optional
        The global batch (a multiple of ``world_size``); needed when
        ``world_size`` > 1.
    rank, world_size : int, default 0 and 1
        This process's global rank and the number of processes.
    """

    def __init__(self, n: int, seed: int, *, batch_size: int | None = None, rank: int = 0, world_size: int = 1) -> None:
        self.n = int(n)
        self.seed = int(seed)
        self.epoch = 0
        self.rank, self.world_size = int(rank), int(world_size)
        self.batch_size = None if batch_size is None else int(batch_size)
        if self.world_size > 1:
            if self.batch_size is None or self.batch_size % self.world_size:
                raise GalvaeValueError(
                    f"batch_size (the global batch) must be a multiple of the {self.world_size} processes",
                    self.batch_size,
                )
            if not 0 <= self.rank < self.world_size:
                raise GalvaeValueError(f"rank must lie in [0, {self.world_size})", self.rank)

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch``."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        perm = torch.randperm(self.n, generator=gen).tolist()
        if self.world_size == 1:
            return iter(perm)
        return iter(process_share(perm, self.batch_size or 1, self.rank, self.world_size))

    def __len__(self) -> int:
        if self.world_size == 1:
            return self.n
        b, p = self.batch_size or 1, self.world_size
        full, rest = divmod(self.n, b)
        return full * (b // p) + -(-rest // p)


def process_share(order: Sequence[int], batch_size: int, rank: int, world_size: int) -> list[int]:
    """The indices of ``order`` that process ``rank`` of ``world_size`` trains on (see :class:`EpochSeededSampler`).

    Parameters
    ----------
    order : sequence of int
        The epoch's order of all indices.
    batch_size : int
        The global batch, a multiple of ``world_size``.
    rank, world_size : int

    Returns
    -------
    list of int
        Slice ``rank`` of each global batch, concatenated; the last global
        batch is first padded from the start of ``order`` to a multiple of
        ``world_size``.
    """
    order = list(order)
    out: list[int] = []
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        short = -len(chunk) % world_size
        if short:
            chunk = chunk + (order * (short // max(1, len(order)) + 1))[:short]
        per = len(chunk) // world_size
        out.extend(chunk[rank * per : (rank + 1) * per])
    return out


class ShardSampler(Sampler[int]):
    """Contiguous share of ``range(n)`` for process ``rank`` of ``world_size`` (validation: no padding, no repeats).

    The first ``n % world_size`` processes take one index more than the
    others; every process takes at least one (``n >= world_size``).
    """

    def __init__(self, n: int, rank: int = 0, world_size: int = 1) -> None:
        self.n, self.rank, self.world_size = int(n), int(rank), int(world_size)
        if self.n < self.world_size:
            raise GalvaeValueError(
                f"the validation set has {self.n} images, fewer than the {self.world_size} processes; raise "
                "val_fraction (--val-fraction) or use fewer processes",
                self.n,
            )
        base, extra = divmod(self.n, self.world_size)
        self.start = self.rank * base + min(self.rank, extra)
        self.stop = self.start + base + (1 if self.rank < extra else 0)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.stop))

    def __len__(self) -> int:
        return self.stop - self.start


def trainer_world(module: L.LightningDataModule) -> tuple[int, int]:
    """(global rank, number of processes) of the trainer a datamodule is attached to; (0, 1) without one."""
    trainer = getattr(module, "trainer", None)
    if trainer is None:
        return 0, 1
    return int(trainer.global_rank), int(trainer.world_size)


class GalaxyDataModule(L.LightningDataModule):
    """Train/validation loaders over one or more image stores.

    Parameters
    ----------
    stores : path or sequence of paths
        Image stores sharing size and normalisation.
    batch_size : int, default 64
        The global batch; under distributed training each of the P
        processes loads ``batch_size / P`` images per step
        (:class:`EpochSeededSampler`) and validates a contiguous share of
        the validation set (:class:`ShardSampler`).
    val_fraction : float, default 0.1
    seed : int, default 0
        Seeds the split (:func:`split_ids`) and the epoch order.
    num_workers : int, default 0

    Attributes
    ----------
    ids : ndarray of str
        All ids over the concatenated stores.
    train_rows, val_rows : ndarray of int
        Global row numbers of the two sets.
    size : int
    normalisation : StretchConfig
    """

    def __init__(
        self,
        stores: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(stores, str | os.PathLike):
            stores = [stores]
        self.store_paths = [os.fspath(s) for s in stores]
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.num_workers = int(num_workers)
        opened = [ImageStore(p) for p in self.store_paths]
        try:
            self.ids = np.concatenate([s.ids for s in opened])
            if len(set(self.ids.tolist())) != self.ids.size:
                raise GalvaeValueError("ids are not unique across the training stores", self.store_paths)
            self.size = opened[0].size
            self.normalisation = opened[0].normalisation
            self.profile = opened[0].profile
            self.field_fraction = opened[0].field_fraction
            for other in opened[1:]:
                if other.size != self.size:
                    raise GalvaeValueError(
                        f"training stores differ in image size: {opened[0].path} has {self.size}, {other.path} has",
                        other.size,
                        (self.size,),
                    )
                check_same_presentation(
                    f"training store {opened[0].path}",
                    self.normalisation,
                    self.profile,
                    f"training store {other.path}",
                    other.normalisation,
                    other.profile,
                    fraction_a=self.field_fraction,
                    fraction_b=other.field_fraction,
                )
        finally:
            for s in opened:
                s.close()
        self.train_rows, self.val_rows = split_ids(self.ids, val_fraction, seed)
        self._train: GalaxyDataset | None = None
        self._val: GalaxyDataset | None = None

    def _datasets(self) -> tuple[GalaxyDataset, GalaxyDataset]:
        if self._train is None or self._val is None:
            self._train = GalaxyDataset(self.store_paths, indices=self.train_rows)
            self._val = GalaxyDataset(self.store_paths, indices=self.val_rows)
            log.info("training on %d images, validating on %d", len(self._train), len(self._val))
        return self._train, self._val

    def setup(self, stage: str | None = None) -> None:
        """Open the two datasets (once)."""
        self._datasets()

    def _loader(self, ds: GalaxyDataset, sampler: Sampler[int] | None) -> DataLoader:
        # An explicit generator keeps DataLoader from drawing its base seed
        # from the global torch RNG, whose state is saved for exact resume.
        _, world = trainer_world(self)
        return DataLoader(
            ds,
            batch_size=max(1, self.batch_size // world),
            sampler=sampler,
            shuffle=False,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches, order seeded by ``seed + epoch``."""
        train, _ = self._datasets()
        rank, world = trainer_world(self)
        sampler = EpochSeededSampler(len(train), self.seed, batch_size=self.batch_size, rank=rank, world_size=world)
        return self._loader(train, sampler)

    def val_dataloader(self) -> DataLoader:
        """Validation batches in store order (this process's contiguous share under distributed training)."""
        _, val = self._datasets()
        rank, world = trainer_world(self)
        return self._loader(val, ShardSampler(len(val), rank, world) if world > 1 else None)
