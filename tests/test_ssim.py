from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity
from torchmetrics.functional.image import structural_similarity_index_measure

from galvae.errors import GalvaeValueError
from galvae.evaluate.ssim import gaussian_window, ssim


def _blobs(n: int, s: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[:s, :s]
    out = np.empty((n, 3, s, s))
    for i in range(n):
        cx, cy, w = rng.uniform(s * 0.3, s * 0.7, 2).tolist() + [rng.uniform(1.5, 4)]
        for b in range(3):
            out[i, b] = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (w * (1 + 0.2 * b)) ** 2))
    return out


def _sk(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(
        a,
        b,
        channel_axis=0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
    )


@pytest.mark.parametrize("kind", ["random", "structured"])
def test_matches_skimage_and_torchmetrics(kind: str) -> None:
    rng = np.random.default_rng(1)
    if kind == "random":
        a = rng.uniform(0, 1, (4, 3, 24, 24))
        b = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1)
    else:
        a = _blobs(4, 24, rng)
        b = np.clip(_blobs(4, 24, rng) * 0.8 + 0.05 * rng.normal(size=a.shape), 0, 1)
    ours = ssim(a.astype(np.float32), b.astype(np.float32))
    ref = np.array([_sk(a[i], b[i]) for i in range(len(a))])
    assert ours.shape == (4,)
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    ours_reflect = ssim(a.astype(np.float32), b.astype(np.float32), border="reflect")
    tm = structural_similarity_index_measure(
        torch.from_numpy(b), torch.from_numpy(a), data_range=1.0, reduction="none"
    ).numpy()
    np.testing.assert_allclose(ours_reflect, tm, atol=1e-4)
    assert ours.min() < 0.95  # the comparison is not trivially between identical images


def test_identical_is_one_and_types() -> None:
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 1, (3, 3, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(ssim(a, a), 1.0, atol=1e-6)
    t = torch.from_numpy(a)
    out = ssim(t, t.clone(), reduction="mean")
    assert isinstance(out, torch.Tensor) and out.ndim == 0
    assert float(out) == pytest.approx(1.0, abs=1e-6)
    pb = ssim(a, a[::-1].copy(), per_band=True)
    assert pb.shape == (3, 3)
    np.testing.assert_allclose(pb.mean(axis=1), ssim(a, a[::-1].copy()), atol=1e-6)
    assert ssim(a[0], a[1]).shape == ()


def test_data_range_and_float64() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 1, (2, 3, 16, 16))
    b = rng.uniform(0, 1, (2, 3, 16, 16))
    np.testing.assert_allclose(ssim(a * 255, b * 255, data_range=255.0), ssim(a, b), atol=1e-10)
    assert ssim(a, b).dtype == np.float64


def test_small_images_use_truncated_window() -> None:
    rng = np.random.default_rng(4)
    a = rng.uniform(0, 1, (2, 3, 8, 8))
    out = ssim(a, a * 0.5)
    assert out.shape == (2,) and np.all(out < 1)
    assert gaussian_window(7).sum() == pytest.approx(1.0)


def test_errors() -> None:
    a = np.zeros((2, 3, 16, 16))
    with pytest.raises(GalvaeValueError, match="same shape"):
        ssim(a, a[:1])
    with pytest.raises(GalvaeValueError, match="data_range"):
        ssim(a, a, data_range=0)
    with pytest.raises(GalvaeValueError, match="reduction"):
        ssim(a, a, reduction="sum")
    with pytest.raises(GalvaeValueError, match=r"\(N, C, H, W\)"):
        ssim(a[0, 0], a[0, 0])
    with pytest.raises(GalvaeValueError, match="odd"):
        gaussian_window(4)


def test_chunking(monkeypatch) -> None:
    import galvae.evaluate.ssim as mod

    rng = np.random.default_rng(5)
    a = rng.uniform(0, 1, (7, 3, 16, 16))
    b = rng.uniform(0, 1, (7, 3, 16, 16))
    whole = ssim(a, b)
    monkeypatch.setattr(mod, "_CHUNK", 2)
    np.testing.assert_allclose(ssim(a, b), whole, atol=1e-12)
