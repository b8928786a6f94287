from __future__ import annotations

import multiprocessing as mp
import os

import h5py
import numpy as np
import pytest

from galvae import GalvaeFileError, GalvaeKeyError, GalvaeValueError, ImageStore, ImageStoreWriter, StretchConfig
from galvae.data.store import _images_per_chunk


def test_roundtrip_layout_and_attrs(make_store):
    path, images, ids = make_store(n=7, size=16, masks=True)
    with h5py.File(path, "r") as f:
        assert f["images"].dtype == np.float32
        assert f["images"].shape == (7, 3, 16, 16)
        # chunks hold whole images
        assert f["images"].chunks[1:] == (3, 16, 16)
        assert f["mask"].shape == (7, 16, 16)
        assert f.attrs["bands"] == "grz"
        assert f.attrs["survey"] == "test"
        assert f.attrs["galvae_version"]
    s = ImageStore(path)
    assert len(s) == 7 and s.size == 16 and s.survey == "test" and s.bands == "grz"
    assert s.pixel_scale_arcsec == pytest.approx(0.262)
    assert s.normalisation == StretchConfig()
    np.testing.assert_array_equal(s.read(), images)
    assert s.ids.tolist() == ids


def test_read_fancy_indices_keep_order_and_duplicates(make_store):
    path, images, ids = make_store(n=9)
    s = ImageStore(path)
    idx = [5, 1, 5, 0, -1]
    np.testing.assert_array_equal(s.read(idx), images[idx])
    np.testing.assert_array_equal(s.read(3), images[3])
    assert s.read([]).shape == (0, 3, 16, 16)
    assert s.index_of(["g0004", "g0000"]).tolist() == [4, 0]
    with pytest.raises(GalvaeKeyError, match="id not in image store.*nope"):
        s.index_of(["nope"])
    with pytest.raises(GalvaeValueError, match="index out of range"):
        s.read([0, 99])


def test_no_mask_reads_all_false(make_store):
    path, _, _ = make_store(n=3)
    s = ImageStore(path)
    assert not s.has_mask
    assert s.read_mask([0, 2]).shape == (2, 16, 16)
    assert not s.read_mask().any()


def test_chunk_size_whole_images_and_bounded():
    assert _images_per_chunk(256) == 1
    assert _images_per_chunk(64) == (1 << 20) // (3 * 64 * 64 * 4)
    assert _images_per_chunk(8) == 256


def test_writer_is_atomic_on_error(tmp_path):
    final = tmp_path / "s.h5"
    with pytest.raises(RuntimeError, match="boom"):
        with ImageStoreWriter(final, size=8, survey="x", normalisation=StretchConfig()) as w:
            w.append(np.zeros((2, 3, 8, 8)), ["a", "b"])
            raise RuntimeError("boom")
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []


def test_writer_file_only_appears_when_complete(tmp_path):
    final = tmp_path / "s.h5"
    w = ImageStoreWriter(final, size=8, survey="x", normalisation=StretchConfig())
    w.open()
    w.append(np.zeros((2, 3, 8, 8)), ["a", "b"])
    assert not final.exists()  # still under the temporary name
    w.close()
    assert final.exists() and len(ImageStore(final)) == 2


def test_writer_rejects_duplicates_and_bad_shapes(tmp_path):
    with ImageStoreWriter(tmp_path / "s.h5", size=8, survey="x", normalisation=StretchConfig()) as w:
        w.append(np.zeros((2, 3, 8, 8)), ["a", "b"])
        with pytest.raises(GalvaeValueError, match="duplicate ids.*'a'"):
            w.append(np.zeros((1, 3, 8, 8)), ["a"])
        with pytest.raises(GalvaeValueError, match="duplicate ids.*'c'"):
            w.append(np.zeros((2, 3, 8, 8)), ["c", "c"])
        with pytest.raises(GalvaeValueError, match=r"shape \(n, 3, 8, 8\)"):
            w.append(np.zeros((1, 3, 16, 16)), ["d"])
        with pytest.raises(GalvaeValueError, match="2 images but 1 ids"):
            w.append(np.zeros((2, 3, 8, 8)), ["e"])
    assert ImageStore(tmp_path / "s.h5").ids.tolist() == ["a", "b"]


def test_refuses_to_overwrite_unless_asked(make_store):
    path, _, _ = make_store(n=2)
    with pytest.raises(GalvaeFileError, match="already exists"):
        with ImageStoreWriter(path, size=16, survey="x", normalisation=StretchConfig()):
            pass
    with ImageStoreWriter(path, size=16, survey="y", normalisation=StretchConfig(), overwrite=True) as w:
        w.append(np.ones((1, 3, 16, 16)), ["z"])
    assert ImageStore(path).survey == "y"


def test_open_errors_name_the_file(tmp_path):
    with pytest.raises(GalvaeFileError, match="missing.h5: image store not found"):
        ImageStore(tmp_path / "missing.h5")
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    with pytest.raises(GalvaeFileError, match="bad.h5: cannot open as HDF5"):
        ImageStore(bad)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    with pytest.raises(GalvaeFileError, match="other.h5: not a galvae image store"):
        ImageStore(other)


def _child_read(store, q):
    q.put(float(store.read(1).sum()))


def test_store_reopens_after_fork(make_store):
    path, images, _ = make_store(n=3)
    s = ImageStore(path)
    s.read(0)  # open the handle in the parent
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_read, args=(s, q))
    p.start()
    value = q.get(timeout=60)
    p.join(timeout=60)
    assert p.exitcode == 0
    assert value == pytest.approx(float(images[1].sum()), rel=1e-6)
    assert s._pid == os.getpid()
