"""MMD² (losses/mmd.py) against a direct numpy evaluation of the formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galvae.errors import GalvaeValueError
from galvae.losses.mmd import DEFAULT_SCALES, median_bandwidth, mmd2, mmd2_unbiased


def _numpy_mmd2(x, y, sigmas):
    """Unbiased MMD² written out term by term with explicit loops over pairs (Gretton et al. 2012, eq. 3)."""

    def k(a, b):
        d2 = float(np.sum((a - b) ** 2))
        return np.mean([np.exp(-d2 / (2 * s * s)) for s in sigmas])

    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return sxx + syy - 2 * sxy


def _numpy_median_sigma(x, y):
    p = np.concatenate([x, y])
    d2 = [np.sum((p[i] - p[j]) ** 2) for i in range(len(p)) for j in range(len(p)) if i != j]
    return np.sqrt(np.median(d2) / 2)


def test_matches_numpy_with_given_bandwidths(rng):
    x = rng.normal(size=(7, 3))
    y = rng.normal(loc=0.7, size=(9, 3))
    sigmas = (0.5, 1.0, 3.0)
    assert mmd2(x, y, bandwidths=sigmas) == pytest.approx(_numpy_mmd2(x, y, sigmas), rel=1e-5, abs=1e-7)


def test_matches_numpy_with_median_heuristic(rng):
    x = rng.normal(size=(8, 4))
    y = rng.normal(scale=2.0, size=(6, 4))
    s0 = _numpy_median_sigma(x, y)
    assert float(median_bandwidth(torch.from_numpy(x), torch.from_numpy(y))) == pytest.approx(s0, rel=1e-5)
    sigmas = [s0 * np.sqrt(s) for s in DEFAULT_SCALES]
    assert mmd2(x, y) == pytest.approx(_numpy_mmd2(x, y, sigmas), rel=1e-5, abs=1e-7)


def test_same_distribution_near_zero_shifted_positive(rng):
    x = rng.normal(size=(200, 5))
    y = rng.normal(size=(200, 5))
    same = mmd2(x, y)
    shifted = mmd2(x, y + 1.0)
    assert abs(same) < 0.01
    assert shifted > 20 * abs(same) and shifted > 0.05


def test_symmetric_and_grows_with_shift(rng):
    x = rng.normal(size=(50, 2))
    y = rng.normal(size=(50, 2))
    assert mmd2(x, y + 0.5, bandwidths=(1.0,)) == pytest.approx(mmd2(y + 0.5, x, bandwidths=(1.0,)), rel=1e-6)
    vals = [mmd2(x, y + d, bandwidths=(1.0,)) for d in (0.5, 1.0, 2.0)]
    assert vals[0] < vals[1] < vals[2]


def test_gradient_pulls_samples_together(rng):
    x = torch.tensor(rng.normal(size=(16, 3)), dtype=torch.float32)
    y = torch.tensor(rng.normal(loc=2.0, size=(16, 3)), dtype=torch.float32, requires_grad=True)
    before = mmd2_unbiased(x, y)
    before.backward()
    with torch.no_grad():
        y2 = y - 2.0 * y.grad / y.grad.norm()
    assert float(mmd2_unbiased(x, y2)) < before.item()


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (np.zeros((3,)), np.zeros((3, 2)), "2-d"),
        (np.zeros((3, 2)), np.zeros((3, 4)), "same dimension"),
        (np.zeros((1, 2)), np.zeros((3, 2)), "at least 2 points"),
    ],
)
def test_bad_samples(x, y, match):
    with pytest.raises(GalvaeValueError, match=match):
        mmd2(x, y)


def test_bad_bandwidths_and_values(rng):
    x, y = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    with pytest.raises(GalvaeValueError, match="bandwidths must be positive"):
        mmd2(x, y, bandwidths=(1.0, 0.0))
    with pytest.raises(GalvaeValueError, match="scales must be positive"):
        mmd2(x, y, scales=(-1.0,))
    x[0, 0] = np.nan
    with pytest.raises(GalvaeValueError, match="non-finite"):
        mmd2(x, y)
