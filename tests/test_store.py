from __future__ import annotations

import multiprocessing as mp
import os

import h5py
import numpy as np
import pytest

from galvae import GalvaeFileError, GalvaeKeyError, GalvaeValueError, ImageStore, ImageStoreWriter, StretchConfig
from galvae.data.store import _images_per_chunk, write_store


def test_roundtrip_layout_and_attrs(make_store):
    path, images, ids = make_store(n=7, size=16, masks=True)
    with h5py.File(path, "r") as f:
        assert f["images"].dtype == np.float32
        assert f["images"].shape == (7, 3, 16, 16)
        # chunks hold whole images
        assert f["images"].chunks[1:] == (3, 16, 16)
        assert f["mask"].shape == (7, 16, 16)
        # fixed-length UTF-8 strings (no global heap): h5py gives bytes
        assert f.attrs["bands"] == b"grz"
        assert f.attrs["survey"] == b"test"
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
    with pytest.raises(
        GalvaeValueError, match=r"image store .*store\.h5: index out of range for a store of 9 images \(got 99\)"
    ):
        s.read([0, 99])
    with pytest.raises(GalvaeValueError, match=r"store\.h5: index out of range .* \(got -10\)"):
        s.read([-10, 1])


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
        # every refusal names the store being written
        with pytest.raises(GalvaeValueError, match=r"^image store .*s\.h5: duplicate ids.*'a'"):
            w.append(np.zeros((1, 3, 8, 8)), ["a"])
        with pytest.raises(GalvaeValueError, match=r"^image store .*s\.h5: duplicate ids.*'c'"):
            w.append(np.zeros((2, 3, 8, 8)), ["c", "c"])
        with pytest.raises(GalvaeValueError, match=r"^image store .*s\.h5: images must have shape \(n, 3, 8, 8\)"):
            w.append(np.zeros((1, 3, 16, 16)), ["d"])
        with pytest.raises(GalvaeValueError, match=r"^image store .*s\.h5: got 2 images but 1 ids"):
            w.append(np.zeros((2, 3, 8, 8)), ["e"])
        with pytest.raises(GalvaeValueError, match=r"^image store .*s\.h5: masks given to a writer made with"):
            w.append(np.zeros((1, 3, 8, 8)), ["f"], masks=np.ones((1, 8, 8), bool))
    assert ImageStore(tmp_path / "s.h5").ids.tolist() == ["a", "b"]


def test_writer_mask_and_order_errors_name_the_store(tmp_path):
    w = ImageStoreWriter(tmp_path / "m.h5", size=8, survey="x", normalisation=StretchConfig(), with_mask=True)
    with pytest.raises(GalvaeValueError, match=r"^image store .*m\.h5: ImageStoreWriter\.append called before open"):
        w.append(np.zeros((1, 3, 8, 8)), ["a"])
    with w:
        with pytest.raises(GalvaeValueError, match=r"^image store .*m\.h5: masks must have shape \(1, 8, 8\)"):
            w.append(np.zeros((1, 3, 8, 8)), ["a"], masks=np.zeros((1, 4, 4), bool))
        w.append(np.zeros((1, 3, 8, 8)), ["b"])
    assert ImageStore(tmp_path / "m.h5").ids.tolist() == ["b"]


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


# ----------------------------------------------------------------------------- non-finite and out-of-range pixels
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -0.5, 1.5])
def test_writer_refuses_non_finite_and_out_of_range_pixels(tmp_path, bad):
    images = np.random.default_rng(0).random((4, 3, 16, 16), dtype=np.float32)
    images[2, 1, 3, 4] = bad
    path = tmp_path / "bad.h5"
    with pytest.raises(GalvaeValueError) as info:
        with ImageStoreWriter(path, size=16, survey="test", normalisation=StretchConfig()) as w:
            w.append(images, ["a", "b", "c", "d"])
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and "'c'" in msg and repr(float(np.float32(bad))) in msg
    assert "[0, 1]" in msg
    assert not path.exists() and not list(tmp_path.iterdir())  # nothing half-written is left


def test_writer_range_follows_the_kind_of_store(tmp_path):
    """Decoder outputs (reconstructions, mocks) are non-negative but may exceed 1; NaN is refused everywhere."""
    images = np.full((2, 3, 16, 16), 1.7, np.float32)
    with ImageStoreWriter(
        tmp_path / "rec.h5", size=16, survey="t", normalisation=StretchConfig(), attrs={"kind": "reconstruction"}
    ) as w:
        w.append(images, ["a", "b"])
    images[1, 0, 0, 0] = np.nan
    with pytest.raises(GalvaeValueError, match=r"image 'b' has a pixel outside \[0, inf\].*got nan"):
        with ImageStoreWriter(
            tmp_path / "rec2.h5", size=16, survey="t", normalisation=StretchConfig(), attrs={"kind": "reconstruction"}
        ) as w:
            w.append(images, ["a", "b"])
    with pytest.raises(GalvaeValueError, match="value_range must be"):
        ImageStoreWriter(tmp_path / "x.h5", size=16, survey="t", normalisation=StretchConfig(), value_range=(1, 0))


def _foreign_store(path, images, ids):
    """A store in galvae's layout written with h5py directly, as another tool would."""
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images, chunks=(2, 3, 16, 16))
        f.create_dataset("id", data=np.asarray(ids, dtype=object), dtype=h5py.string_dtype())
        f.attrs["survey"] = "other"


def test_reader_refuses_non_finite_pixels_naming_file_and_id(tmp_path):
    images = np.random.default_rng(1).random((6, 3, 16, 16), dtype=np.float32)
    images[4, 2, 8, 8] = np.nan
    path = tmp_path / "foreign.h5"
    _foreign_store(path, images, [f"x{i}" for i in range(6)])
    s = ImageStore(path)  # opening is cheap: nothing is read yet
    np.testing.assert_array_equal(s.read(slice(0, 4)), images[:4])  # the good rows still read
    np.testing.assert_array_equal(s.read([3, 0]), images[[3, 0]])
    for index in (slice(None), [5, 4, 0], 4, -2, slice(3, 6)):
        with pytest.raises(GalvaeFileError) as info:
            s.read(index)
        msg = str(info.value)
        assert msg.startswith(str(path)) and "'x4'" in msg and "non-finite" in msg and "\n" not in msg


def test_training_loader_refuses_a_foreign_nan(tmp_path):
    from galvae.data.dataset import GalaxyDataset

    images = np.random.default_rng(2).random((5, 3, 16, 16), dtype=np.float32)
    images[1, 0, 0, 0] = np.inf
    _foreign_store(tmp_path / "f.h5", images, [f"y{i}" for i in range(5)])
    with pytest.raises(GalvaeFileError, match="'y1'"):
        GalaxyDataset(tmp_path / "f.h5")  # a small store is read into memory at once: refused before training
    lazy = GalaxyDataset(tmp_path / "f.h5", in_memory=False)
    lazy[0]
    with pytest.raises(GalvaeFileError, match="'y1'"):
        lazy[1]


@pytest.mark.parametrize("gather_rows", [1, 3, 1000])
def test_reading_rows_in_blocks_equals_hdf5_point_selection(tmp_path, monkeypatch, gather_rows) -> None:
    """Dense runs are read as blocks and picked, scattered rows by h5py's selection: the same images either way."""
    import galvae.data.store as store_mod

    rng = np.random.default_rng(4)
    imgs = rng.random((60, 3, 8, 8), dtype=np.float32)
    st = write_store(tmp_path / "g.h5", imgs, [f"g{i}" for i in range(60)], survey="t", normalisation=StretchConfig())
    monkeypatch.setattr(store_mod, "_GATHER_BYTES", gather_rows * 3 * 8 * 8 * 4)  # windows of this many rows
    with ImageStore(st) as s:
        dense = np.arange(5, 40)
        sparse = np.array([0, 17, 59])
        mixed = np.concatenate([sparse, dense, [3, 3, 58]])[::-1]  # repeats and any order
        for idx in (dense, sparse, mixed, np.array([59]), rng.integers(0, 60, 200)):
            np.testing.assert_array_equal(s.read(idx), imgs[idx])


def test_fingerprint_follows_the_content_not_the_path(make_store, tmp_path):
    import shutil

    path, images, ids = make_store(n=40, seed=3)
    fp = ImageStore(path).fingerprint()
    assert len(fp) == 64 and int(fp, 16) >= 0
    copy = tmp_path / "elsewhere" / "renamed.h5"
    copy.parent.mkdir()
    shutil.copy(path, copy)
    assert ImageStore(copy).fingerprint() == fp  # a copy, moved and renamed
    # the same images written again: the write time and version attributes do not enter it
    again = write_store(tmp_path / "again.h5", images, ids, survey="test", normalisation=StretchConfig())
    assert ImageStore(again).fingerprint() == fp
    # a sampled image (the first and last are always sampled) with one pixel changed
    changed = images.copy()
    changed[-1, 1, 4, 4] += 0.25
    other = write_store(tmp_path / "px.h5", changed, ids, survey="test", normalisation=StretchConfig())
    assert ImageStore(other).fingerprint() != fp
    # other ids, another survey, or the images in another order
    renamed = write_store(
        tmp_path / "ids.h5", images, [f"h{i}" for i in range(40)], survey="test", normalisation=StretchConfig()
    )
    survey = write_store(tmp_path / "sv.h5", images, ids, survey="bass", normalisation=StretchConfig())
    order = write_store(tmp_path / "ord.h5", images[::-1], ids[::-1], survey="test", normalisation=StretchConfig())
    prints = {ImageStore(p).fingerprint() for p in (renamed, survey, order)}
    assert len(prints) == 3 and fp not in prints
    # every image sampled: the changed pixel of an image between the 16 sampled ones shows only then
    middle = images.copy()
    middle[1, 0, 2, 2] += 0.25
    mid = write_store(tmp_path / "mid.h5", middle, ids, survey="test", normalisation=StretchConfig())
    assert ImageStore(mid).fingerprint() == fp
    assert ImageStore(mid).fingerprint(sample_rows=40) != ImageStore(path).fingerprint(sample_rows=40)
    with pytest.raises(GalvaeValueError, match="sample_rows"):
        ImageStore(path).fingerprint(sample_rows=0)
