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

__all__ = ["GalaxyDataModule", "EpochSeededSampler", "split_ids"]

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
    order = np.argsort(ids, kind="stable")
    gen = torch.Generator().manual_seed(int(seed))
    perm = order[torch.randperm(n, generator=gen).numpy()]
    n_val = min(n - 1, max(1, int(math.ceil(val_fraction * n))))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


class EpochSeededSampler(Sampler[int]):
    """Random permutation of ``range(n)`` seeded with ``seed + epoch``.

    Lightning calls :meth:`set_epoch` at the start of each epoch, so the data
    order of every epoch is fixed by the seed and survives a resume.
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n = int(n)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch``."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=gen).tolist())

    def __len__(self) -> int:
        return self.n


class GalaxyDataModule(L.LightningDataModule):
    """Train/validation loaders over one or more image stores.

    Parameters
    ----------
    stores : path or sequence of paths
        Image stores sharing size and normalisation.
    batch_size : int, default 64
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
        return DataLoader(
            ds,
            batch_size=self.batch_size,
            sampler=sampler,
            shuffle=False,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches, order seeded by ``seed + epoch``."""
        train, _ = self._datasets()
        return self._loader(train, EpochSeededSampler(len(train), self.seed))

    def val_dataloader(self) -> DataLoader:
        """Validation batches in store order."""
        _, val = self._datasets()
        return self._loader(val, None)
