"""Tests of similarity search in latent space (galvae.latents.similar, ``galvae similar``)."""

from __future__ import annotations

import logging
import os
import re
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from galvae.cli import main
from galvae.config import StretchConfig
from galvae.data.store import write_store
from galvae.errors import GalvaeValueError
from galvae.latents import SimilarityIndex, encode_store, export_model
from galvae.models import VAE, ModelConfig

NORM = StretchConfig(kind="none")
BACKENDS = ["faiss", "numpy"]


def brute_force(x, q, k, metric, exclude=None):
    """(ids as row numbers, distances) of the k nearest rows of x to each q, by plain numpy over every row."""
    x, q = np.asarray(x, np.float64), np.asarray(q, np.float64)
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        d = 1.0 - q @ x.T
    else:
        d = np.sqrt(((q[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
    if exclude is not None:
        d[np.arange(len(q)), exclude] = np.inf
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


@pytest.fixture(scope="module")
def latents():
    return np.random.default_rng(0).standard_normal((1500, 8))


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_exact_search_equals_brute_force(latents, metric, backend):
    ids = [f"g{i}" for i in range(len(latents))]
    index = SimilarityIndex(metric, "exact", backend=backend).fit(latents, ids=ids)
    assert index.backend_ == backend and index.n_rows_ == 1500 and index.dim_ == 8
    rows = np.array([0, 17, 733, 1499])
    res = index.query(ids=[ids[r] for r in rows], k=20)
    want_rows, want_d = brute_force(latents, latents[rows], 20, metric, exclude=rows)
    assert len(res) == 4 * 20 and res["rank"].tolist() == list(range(1, 21)) * 4
    for i, r in enumerate(rows):
        got = res[res["query"] == ids[r]]
        assert got["id"].tolist() == [ids[j] for j in want_rows[i]]
        np.testing.assert_allclose(got["distance"].to_numpy(), want_d[i], rtol=1e-5, atol=1e-6)
    # by vector: nothing excluded, so the galaxy itself comes first at distance 0
    q = latents[[5, 6]]
    res = index.query(vectors=q, k=7)
    want_rows, want_d = brute_force(latents, q, 7, metric)
    assert res["query"].unique().tolist() == ["vector_0", "vector_1"]
    assert res["id"].tolist() == [ids[j] for j in want_rows.ravel()]
    np.testing.assert_allclose(res["distance"].to_numpy(), want_d.ravel(), rtol=1e-5, atol=1e-5)


def test_cosine_ignores_length(latents):
    """Cosine distance is 1 - cos: a scaled copy of a vector is at distance 0, the opposite one at 2."""
    x = np.vstack([latents[:50], 3.0 * latents[:1], -latents[:1]])
    index = SimilarityIndex("cosine").fit(x)
    res = index.query(ids="0", k=52)
    assert res["id"].iloc[0] == "50" and res["distance"].iloc[0] == pytest.approx(0.0, abs=1e-6)
    assert res["id"].iloc[-1] == "51" and res["distance"].iloc[-1] == pytest.approx(2.0, abs=1e-6)
    assert res["distance"].between(-1e-6, 2.0 + 1e-6).all()
    # by euclidean distance the scaled copy is far away
    eucl = SimilarityIndex("euclidean").fit(x).query(ids="0", k=52)
    assert eucl["id"].iloc[0] != "50"


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_approximate_indexes(latents, metric):
    q = latents[:40]
    want_rows, _ = brute_force(latents, q, 10, metric)
    # an IVF index searching all of its cells is exact
    ivf = SimilarityIndex(metric, "ivf", nlist=16, nprobe=16).fit(latents)
    assert ivf.params_ == {"nlist": 16, "nprobe": 16}
    assert ivf.set_search(nprobe=1).params_ == {"nlist": 16, "nprobe": 1} and ivf._faiss.nprobe == 1
    assert len(ivf.query(vectors=q, k=10)) == 400  # one cell per query: fewer exact answers, still k of them
    ivf.set_search(nprobe=16)
    got = ivf.query(vectors=q, k=10)["id"].astype(int).to_numpy().reshape(40, 10)
    np.testing.assert_array_equal(got, want_rows)
    # defaults, and HNSW: high recall on a small set
    for index in (SimilarityIndex(metric, "ivf"), SimilarityIndex(metric, "hnsw")):
        got = index.fit(latents).query(vectors=q, k=10)["id"].astype(int).to_numpy().reshape(40, 10)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want_rows, strict=True)])
        assert recall >= 0.9, (index, recall)


def test_bad_parameters(latents):
    with pytest.raises(GalvaeValueError, match="metric is not known.*'manhattan'.*accepted: 'euclidean', 'cosine'"):
        SimilarityIndex("manhattan").fit(latents)
    with pytest.raises(GalvaeValueError, match="index is not known"):
        SimilarityIndex(index="annoy").fit(latents)
    with pytest.raises(GalvaeValueError, match="nprobe"):
        SimilarityIndex(index="ivf", nprobe=0).fit(latents)
    index = SimilarityIndex()
    with pytest.raises(GalvaeValueError, match="not fitted"):
        index.query(ids="0")
    index.fit(latents)
    for k in (0, -1, 2.5, True):
        with pytest.raises(GalvaeValueError, match="k must be"):
            index.query(ids="0", k=k)
    with pytest.raises(GalvaeValueError, match="exactly one of"):
        index.query(ids="0", vectors=latents[:1])
    with pytest.raises(GalvaeValueError, match=r"shape \(M, 8\)"):
        index.query(vectors=np.zeros((2, 5)))
    with pytest.raises(GalvaeValueError, match="ids must be unique"):
        SimilarityIndex().fit(latents[:3], ids=["a", "a", "b"])
    with pytest.raises(GalvaeValueError, match="images needs model="):
        index.query(images=np.zeros((1, 3, 16, 16)))
    # k larger than the index: every other row, once
    small = SimilarityIndex().fit(latents[:5]).query(ids="2", k=50)
    assert sorted(small["id"]) == ["0", "1", "3", "4"]


@pytest.fixture
def catalogue(tmp_path):
    """A latent catalogue of 40 images written by encode_store with a tiny untrained VAE (NL = 4)."""
    torch.manual_seed(0)
    run = export_model(VAE(ModelConfig(size=16, latent_dim=4)), tmp_path / "run", normalisation=NORM)
    images = np.random.default_rng(1).random((40, 3, 16, 16), dtype=np.float32)
    store = write_store(tmp_path / "s.h5", images, [f"x{i}" for i in range(40)], survey="sim", normalisation=NORM)
    cat = encode_store(run, store, tmp_path / "lat.parquet", progress=False)
    return cat, run, store, images


def test_missing_id_names_id_and_file(catalogue):
    cat = catalogue[0]
    index = SimilarityIndex().fit(cat)
    with pytest.raises(GalvaeValueError, match=rf"id\(s\) not in the latent catalogue {re.escape(str(cat))}.*'nope'"):
        index.query(ids=["x1", "nope"])
    with pytest.raises(GalvaeValueError, match=r"2 id\(s\) not in .*\['a', 'b'\]"):
        index.query(ids=["a", "b"])


@pytest.mark.parametrize("index_kind", ["exact", "hnsw"])
def test_index_saved_beside_catalogue_and_reused(catalogue, caplog, index_kind):
    cat, run, store, _ = catalogue
    first = SimilarityIndex(index=index_kind).fit(cat)
    fidx, fjson = first.cache_paths()
    assert first.from_cache_ is False and fidx.is_file() and fjson.is_file()
    assert fidx.name == f"lat.parquet.similar-euclidean-{index_kind}.faiss"
    want = first.query(ids=["x3", "x9"], k=5)
    again = SimilarityIndex(index=index_kind).fit(cat)
    assert again.from_cache_ is True
    pd.testing.assert_frame_equal(again.query(ids=["x3", "x9"], k=5), want)
    # the search effort is not part of the saved index; the metric and build parameters are
    searched = SimilarityIndex(index=index_kind, ef_search=64).fit(cat)
    assert searched.from_cache_ is True
    if index_kind == "hnsw":
        assert searched.params_["ef_search"] == 64 and searched._faiss.hnsw.efSearch == 64
        assert SimilarityIndex(index=index_kind, ef_construction=40).fit(cat).from_cache_ is False
    assert SimilarityIndex("cosine", index=index_kind).fit(cat).from_cache_ is False
    # the catalogue rewritten (new mtime and size): built again, and the new rows are searched
    encode_store(run, store, cat, progress=False, overwrite=True, outlier_k=3)
    os.utime(cat, ns=(1, 1))  # a different mtime even on a coarse clock
    with caplog.at_level(logging.INFO, logger="galvae.latents.similar"):
        rebuilt = SimilarityIndex(index=index_kind).fit(cat)
    assert rebuilt.from_cache_ is False and "changed since" in caplog.text
    assert SimilarityIndex(index=index_kind).fit(cat).from_cache_ is True
    assert SimilarityIndex(index=index_kind, cache=False).fit(cat).from_cache_ is False


def test_query_by_image(catalogue):
    cat, _, _, images = catalogue
    index = SimilarityIndex().fit(cat)  # the model is the one named in the catalogue
    res = index.query(images=images[[4, 11]], k=3)
    assert res["query"].tolist() == ["image_0"] * 3 + ["image_1"] * 3
    assert res["id"].iloc[0] == "x4" and res["id"].iloc[3] == "x11"
    assert res["distance"].iloc[0] < 1e-4 and res["distance"].iloc[3] < 1e-4


def test_without_faiss_falls_back_to_exact_numpy(latents, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss -> ImportError
    with caplog.at_level(logging.INFO, logger="galvae.latents.similar"):
        index = SimilarityIndex(index="hnsw").fit(latents)
    assert index.backend_ == "numpy" and "faiss is not installed: exact numpy search" in caplog.text
    want_rows, _ = brute_force(latents, latents[:3], 5, "euclidean", exclude=np.arange(3))
    got = index.query(ids=["0", "1", "2"], k=5)["id"].astype(int).to_numpy().reshape(3, 5)
    np.testing.assert_array_equal(got, want_rows)
    with pytest.raises(GalvaeValueError, match="backend='faiss' needs faiss"):
        SimilarityIndex(backend="faiss").fit(latents)


def test_cli_similar(catalogue, capsys, tmp_path):
    cat, _, store, _ = catalogue
    out = tmp_path / "nb.csv"
    rc = main(["-q", "similar", str(cat), "--id", "x2", "--id", "x5", "--k", "4", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "40 galaxies, euclidean distance, exact index (built" in text and "nearest 4 to x2:" in text
    table = pd.read_csv(out)
    assert table.columns.tolist() == ["query", "rank", "id", "distance"] and len(table) == 8
    want = SimilarityIndex().fit(cat).query(ids=["x2", "x5"], k=4)
    assert table["id"].tolist() == want["id"].tolist()
    assert main(["-q", "similar", str(cat), "--id", "x2", "--k", "4", "--metric", "cosine", "--index", "ivf"]) == 0
    assert "(built" in capsys.readouterr().out
    assert main(["-q", "similar", str(cat), "--id", "x2", "--k", "4", "--metric", "cosine", "--index", "ivf"]) == 0
    assert "(reloaded" in capsys.readouterr().out
    # by the galaxy's image in a store: itself first
    assert main(["-q", "similar", str(cat), "--id", "x7", "--k", "2", "--images", str(store)]) == 0
    assert re.search(r"nearest 2 to x7:\n\s+1\s+x7\s", capsys.readouterr().out)
    assert main(["-q", "similar", str(cat), "--id", "missing_one"]) == 2
    err = capsys.readouterr().err
    assert "missing_one" in err and str(cat) in err and "np.str_" not in err
