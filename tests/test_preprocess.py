from __future__ import annotations

import numpy as np
import pytest

from galvae import GalvaeValueError, PreprocessConfig, StretchConfig
from galvae.data.preprocess import (
    center_crop,
    crop_and_resize,
    inverse_stretch,
    preprocess,
    resize,
    stretch,
)


def test_center_crop_is_centred():
    img = np.arange(3 * 7 * 9, dtype=np.float32).reshape(3, 7, 9)
    c = center_crop(img, 3)
    assert c.shape == (3, 3, 3)
    assert c[0, 1, 1] == img[0, 3, 4]  # the centre pixel stays the centre
    assert center_crop(img).shape == (3, 7, 7)
    with pytest.raises(GalvaeValueError, match="crop side must be between 1 and 7"):
        center_crop(img, 8)


def test_resize_keeps_constant_and_mean():
    const = np.full((3, 40, 40), 2.5, np.float32)
    np.testing.assert_allclose(resize(const, 16), 2.5, rtol=1e-6)
    rng = np.random.default_rng(1)
    img = rng.random((3, 64, 64)).astype(np.float32)
    small = resize(img, 32)
    assert small.shape == (3, 32, 32) and small.dtype == np.float32
    np.testing.assert_allclose(small.mean(axis=(1, 2)), img.mean(axis=(1, 2)), rtol=0.02)


def test_asinh_stretch_formula_by_hand():
    cfg = StretchConfig(softening=(0.01, 0.02, 0.04), maximum=(10.0, 10.0, 10.0))
    x = np.array([1.0, 1.0, 1.0], np.float32)[:, None, None]
    y = stretch(x, cfg)[:, 0, 0]
    expect = [np.arcsinh(1 / b) / np.arcsinh(10 / b) for b in (0.01, 0.02, 0.04)]
    np.testing.assert_allclose(y, expect, rtol=1e-6)
    # negative flux, NaN -> 0; above the maximum -> 1
    x2 = np.array([-1.0, np.nan, 1e6], np.float32)[:, None, None]
    np.testing.assert_array_equal(stretch(x2, cfg)[:, 0, 0], [0.0, 0.0, 1.0])


def test_uint8_and_none_stretch():
    x = np.array([0, 51, 255], np.float32)[:, None, None]
    np.testing.assert_allclose(stretch(x, StretchConfig(kind="uint8"))[:, 0, 0], [0, 0.2, 1])
    np.testing.assert_allclose(stretch(x / 300, StretchConfig(kind="none"))[:, 0, 0], [0, 0.17, 0.85])


def test_inverse_stretch_roundtrip():
    rng = np.random.default_rng(2)
    flux = rng.uniform(0, 40, size=(4, 3, 8, 8)).astype(np.float32)
    back = inverse_stretch(stretch(flux))
    np.testing.assert_allclose(back, flux, rtol=1e-4, atol=1e-5)


def test_masks_propagate_and_nan_filled():
    img = np.ones((3, 32, 32), np.float32)
    img[1, 10, 10] = np.nan
    mask = np.zeros((32, 32), bool)
    mask[20, 20] = True
    out, m = preprocess(img, mask, PreprocessConfig(size=16))
    assert out.shape == (3, 16, 16) and np.isfinite(out).all()
    assert m[5, 5] and m[10, 10] and m.sum() <= 8
    raw, m2 = crop_and_resize(img, None, 16)
    assert m2[5, 5] and not m2[10, 10]
    assert raw[1, 5, 5] < 1.0  # the filled 0 pulls the resampled value down, NaN did not spread
    with pytest.raises(GalvaeValueError, match="mask shape must be"):
        preprocess(img, np.zeros((3, 3), bool))
    with pytest.raises(GalvaeValueError, match="images need 3 bands"):
        preprocess(np.ones((2, 16, 16), np.float32))
