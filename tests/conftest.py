"""Shared fixtures: tiny image stores made in the test, never downloaded."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from galvae.config import StretchConfig
from galvae.data.store import write_store


def _share_the_cores_between_xdist_workers() -> None:
    """Give each pytest-xdist worker its share of the cores (``make test`` runs ``-n auto``).

    Two workers with torch's default of one thread per core would run twice as many OpenMP threads
    as there are cores; under such oversubscription small steps were seen to slow ~30x. The
    environment variable reaches the subprocesses the tests start (CLI runs, DDP, simulate pools).
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers < 2:
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    threads = max(1, cores // workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)


_share_the_cores_between_xdist_workers()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def make_store(tmp_path):
    """Return a function writing a small random store; images are reproducible from ``seed``."""

    def _make(
        name: str = "store.h5",
        n: int = 10,
        size: int = 16,
        seed: int = 0,
        survey: str = "test",
        prefix: str = "g",
        masks: bool = False,
    ):
        r = np.random.default_rng(seed)
        images = r.random((n, 3, size, size), dtype=np.float32)
        ids = [f"{prefix}{i:04d}" for i in range(n)]
        m = r.random((n, size, size)) < 0.05 if masks else None
        path = write_store(
            tmp_path / name,
            images,
            ids,
            survey=survey,
            normalisation=StretchConfig(),
            masks=m,
            pixel_scale_arcsec=0.262,
        )
        return path, images, ids

    return _make
