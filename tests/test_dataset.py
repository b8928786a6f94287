from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from galvae import GalvaeValueError
from galvae.data.dataset import GalaxyDataset


@pytest.mark.parametrize("in_memory", [True, False])
def test_concatenates_stores_in_order(make_store, in_memory):
    p1, im1, ids1 = make_store("a.h5", n=5, seed=1, prefix="a")
    p2, im2, ids2 = make_store("b.h5", n=4, seed=2, prefix="b")
    ds = GalaxyDataset([p1, p2], in_memory=in_memory)
    assert ds.in_memory is in_memory
    assert len(ds) == 9
    assert ds.ids.tolist() == ids1 + ids2
    np.testing.assert_array_equal(ds[6].numpy(), im2[1])
    np.testing.assert_array_equal(ds[-1].numpy(), im2[-1])
    np.testing.assert_array_equal(ds.get_batch([8, 0]).numpy(), np.stack([im2[3], im1[0]]))
    with pytest.raises(IndexError):
        ds[9]


def test_indices_subset_and_return_index(make_store):
    p, im, ids = make_store(n=8)
    ds = GalaxyDataset(p, indices=[6, 2], return_index=True, in_memory=False)
    img, i = ds[1]
    assert i == 1
    np.testing.assert_array_equal(img.numpy(), im[2])
    assert ds.ids.tolist() == [ids[6], ids[2]]
    with pytest.raises(GalvaeValueError, match=r"indices must lie in \[0, 8\)"):
        GalaxyDataset(p, indices=[8])


def test_auto_memory_threshold(make_store):
    p, _, _ = make_store(n=4, size=16)
    assert GalaxyDataset(p, in_memory="auto").in_memory
    assert not GalaxyDataset(p, in_memory="auto", memory_limit=100).in_memory
    with pytest.raises(GalvaeValueError, match="in_memory.*accepted"):
        GalaxyDataset(p, in_memory="yes")


def test_mismatched_stores_refused(make_store):
    p1, _, _ = make_store("a.h5", size=16, prefix="a")
    p2, _, _ = make_store("b.h5", size=8, prefix="b")
    with pytest.raises(GalvaeValueError, match="differ in size"):
        GalaxyDataset([p1, p2])


def test_streams_through_worker_processes(make_store):
    p, im, _ = make_store(n=12)
    ds = GalaxyDataset(p, in_memory=False)
    ds[0]  # the parent has an open handle; workers must reopen their own
    loader = DataLoader(ds, batch_size=5, num_workers=2, multiprocessing_context="fork")
    got = torch.cat(list(loader)).numpy()
    np.testing.assert_array_equal(got, im)


def test_transform_applied(make_store):
    p, im, _ = make_store(n=2)
    ds = GalaxyDataset(p, transform=lambda t: t * 2)
    np.testing.assert_allclose(ds[0].numpy(), im[0] * 2)


def test_in_memory_rows_are_read_once_per_unchanged_store(make_store, monkeypatch):
    from galvae.data import dataset as dataset_module
    from galvae.data.store import ImageStore

    p, im, _ = make_store("c.h5", n=6, seed=3)
    reads = []
    real_read = ImageStore.read
    monkeypatch.setattr(ImageStore, "read", lambda self, index=slice(None): reads.append(1) or real_read(self, index))
    a = GalaxyDataset(p, indices=[4, 1, 2], in_memory=True)
    b = GalaxyDataset(p, indices=[4, 1, 2], in_memory=True)  # the same rows again: no read
    assert len(reads) == 1
    np.testing.assert_array_equal(b[0].numpy(), im[4])
    a[0].mul_(0.0)  # a copy each: one dataset's changes do not reach the other
    np.testing.assert_array_equal(b[0].numpy(), im[4])
    GalaxyDataset(p, indices=[4, 1], in_memory=True)  # other rows: read
    assert len(reads) == 2
    # the store rewritten (new size or time stamp): read again, and the new pixels seen
    p.unlink()
    _, im2, _ = make_store("c.h5", n=6, seed=4)
    c = GalaxyDataset(p, indices=[4, 1], in_memory=True)
    assert len(reads) == 3
    np.testing.assert_array_equal(c[0].numpy(), im2[4])
    assert dataset_module.stores_key(p)[0][0].endswith("c.h5") and dataset_module.stores_key(p.parent / "no.h5") is None
