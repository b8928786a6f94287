"""Shared fixtures: tiny image stores made in the test, never downloaded."""

from __future__ import annotations

import numpy as np
import pytest

from galvae.config import StretchConfig
from galvae.data.store import write_store


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
