"""Sharded stores (HDF5 shards + manifest) and sharded, distributed, resumable encoding (issue 14)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import galvae.latents.distributed as dist
from galvae.cli import main
from galvae.config import StretchConfig
from galvae.data.dataset import GalaxyDataset
from galvae.data.ingest import ingest
from galvae.data.manifest import ShardedStore, ShardedStoreWriter, read_manifest, sha256_file
from galvae.data.store import ImageStore, open_store, write_store
from galvae.errors import GalvaeFileError, GalvaeValueError
from galvae.latents import encode_store, encode_store_sharded, export_model, read_latent_catalog
from galvae.models import VAE, ModelConfig

NORM = StretchConfig(kind="none")
N = 45


def _images(n: int = N, seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    r = np.random.default_rng(seed)
    return r.random((n, 3, 16, 16), dtype=np.float32), [f"g{i:03d}" for i in range(n)], r.random((n, 16, 16)) < 0.1


def _sharded(path: Path, shard_size: int = 10, n: int = N) -> tuple[Path, np.ndarray, list[str], np.ndarray]:
    imgs, ids, masks = _images(n)
    with ShardedStoreWriter(
        path, shard_size=shard_size, size=16, survey="sim", normalisation=NORM, with_mask=True, attrs={"note": "x"}
    ) as w:
        for a, b in [(0, 3), (3, 17), (17, n)]:  # blocks that straddle shard boundaries
            w.append(imgs[a:b], ids[a:b], masks[a:b])
    return w.path, imgs, ids, masks


@pytest.fixture
def sharded(tmp_path):
    return _sharded(tmp_path / "sky.json")


@pytest.fixture
def model(tmp_path):
    torch.manual_seed(0)
    return export_model(VAE(ModelConfig(size=16, latent_dim=3)), tmp_path / "run", normalisation=NORM)


def test_manifest_round_trip(sharded, tmp_path):
    path, imgs, ids, masks = sharded
    man = read_manifest(path)
    assert man["format"] == "galvae-sharded-store" and man["format_version"] == 1
    assert [s["n_images"] for s in man["shards"]] == [10, 10, 10, 10, 5] and man["n_images"] == N
    for s in man["shards"]:
        f = tmp_path / s["file"]
        assert f.stat().st_size == s["bytes"] and sha256_file(f) == s["sha256"]
        assert len(ImageStore(f)) == s["n_images"]  # each shard is an ordinary store
    st = ImageStore(path)  # a .json path opens as a sharded store, wherever a store is taken
    assert isinstance(st, ShardedStore) and len(st) == N and st.size == 16 and st.has_mask
    assert st.attrs["note"] == "x" and st.attrs["n_images"] == N and "shard_index" not in st.attrs
    assert st.ids.tolist() == ids and st.index_of(["g031", "g002"]).tolist() == [31, 2]
    np.testing.assert_array_equal(st.read(), imgs)
    np.testing.assert_array_equal(st.read(12), imgs[12])
    np.testing.assert_array_equal(st.read(slice(8, 33, 2)), imgs[8:33:2])
    rows = np.array([44, 0, 19, 20, 9, 9, -1])
    np.testing.assert_array_equal(st.read(rows), imgs[rows])
    np.testing.assert_array_equal(st.read_mask(rows), masks[rows])
    with pytest.raises(GalvaeValueError, match="index out of range"):
        st.read([N])
    again = pickle.loads(pickle.dumps(st))  # as DataLoader workers receive it: no open handle
    np.testing.assert_array_equal(again.read(slice(5, 40)), imgs[5:40])
    few = ShardedStore(path, max_open=1)  # at most one shard file open at a time
    np.testing.assert_array_equal(few.read(rows), imgs[rows])
    assert sum(s._file is not None for s in few.shards) <= 1
    assert isinstance(open_store(path, verify=True), ShardedStore)
    with pytest.raises(GalvaeFileError, match="already exists"):
        _sharded(path)
    imgs2, ids2, _ = _images(25, seed=3)
    with pytest.raises(GalvaeValueError, match="duplicate ids"):  # a failed write leaves no shard, no manifest
        with ShardedStoreWriter(tmp_path / "bad.json", shard_size=10, size=16, survey="s", normalisation=NORM) as w:
            w.append(imgs2[:20], ids2[:20])
            w.append(imgs2[20:], ids2[:5])
    assert not list(tmp_path.glob("bad*")) and not list(tmp_path.glob(".bad*"))


def test_dataset_over_shards_equals_single_store(sharded, tmp_path):
    path, imgs, ids, _ = sharded
    single = write_store(tmp_path / "one.h5", imgs, ids, survey="sim", normalisation=NORM)
    subset = np.random.default_rng(1).permutation(N)[:30]
    for indices in (None, subset):
        a = GalaxyDataset(path, in_memory=False, indices=indices)
        b = GalaxyDataset(single, in_memory=False, indices=indices)
        assert a.ids.tolist() == b.ids.tolist()
        loader = torch.utils.data.DataLoader(a, batch_size=7, num_workers=2)  # lazy handles per worker
        got = torch.cat(list(loader)).numpy()
        want = torch.cat(list(torch.utils.data.DataLoader(b, batch_size=7))).numpy()
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(a.get_batch([3, 0, 29]).numpy(), imgs[subset[[3, 0, 29]]])
    # the same content sharded or in one file: the fingerprint a training run records is the same
    with ImageStore(path) as sh, ImageStore(single) as one:
        assert sh.fingerprint() == one.fingerprint()


def test_in_memory_limit_from_environment(sharded, monkeypatch):
    path = sharded[0]
    assert GalaxyDataset(path).in_memory  # 45 small images: the in-memory fast path
    monkeypatch.setenv("GALVAE_IN_MEMORY_LIMIT", "0")
    assert not GalaxyDataset(path).in_memory
    assert GalaxyDataset(path, memory_limit=1 << 20).in_memory  # an explicit limit wins
    monkeypatch.setenv("GALVAE_IN_MEMORY_LIMIT", "lots")
    with pytest.raises(GalvaeValueError, match="GALVAE_IN_MEMORY_LIMIT"):
        GalaxyDataset(path)


def _corrupt(path: Path, how: str) -> str:
    shard = path.parent / "sky-00002.h5"
    if how == "missing":
        shard.unlink()
        return r"sky\.json: shard sky-00002\.h5 is missing"
    if how == "truncated":
        shard.write_bytes(shard.read_bytes()[:-100])
        return r"shard sky-00002\.h5 has [\d,]+ bytes but the manifest records"
    if how == "count":
        man = json.loads(path.read_text())
        man["shards"][2]["n_images"] += 1
        man["n_images"] += 1
        path.write_text(json.dumps(man))
        return r"shard sky-00002\.h5 holds 10 images but the manifest records 11"
    data = bytearray(shard.read_bytes())  # "bitflip": same size, other bytes
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    return r"shard sky-00002\.h5 is corrupted: sha256"


@pytest.mark.parametrize("how", ["missing", "truncated", "count", "bitflip"])
def test_damaged_manifest_refused_in_one_line(sharded, how, capsys):
    path = sharded[0]
    pattern = _corrupt(path, how)
    if how == "bitflip":  # same size: only the checksum, on request, sees it
        ShardedStore(path)
        with pytest.raises(GalvaeFileError, match=pattern):
            open_store(path, verify=True)
        argv = ["-q", "info", str(path), "--verify"]
    else:
        with pytest.raises(GalvaeFileError, match=pattern):
            ImageStore(path)
        argv = ["-q", "info", str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "sky-00002.h5" in err


def test_ingest_and_simulate_write_shards(tmp_path):
    d = tmp_path / "png"
    d.mkdir()
    r = np.random.default_rng(0)
    for i in range(7):
        Image.fromarray(r.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(d / f"p{i}.png")
    rep = ingest(d, tmp_path / "cut.h5", size=16, progress=False, shard_size=3)
    assert rep.out == str(tmp_path / "cut.json") and rep.n_written == 7
    one = ingest(d, tmp_path / "one.h5", size=16, progress=False)
    st, ref = ImageStore(tmp_path / "cut.json"), ImageStore(one.out)
    assert [s["n_images"] for s in st.manifest["shards"]] == [3, 3, 1]
    np.testing.assert_array_equal(st.read(), ref.read())
    np.testing.assert_array_equal(st.read_mask(), ref.read_mask())
    assert st.ids.tolist() == ref.ids.tolist()
    with pytest.raises(GalvaeValueError, match="shard_size"):
        ingest(d, tmp_path / "bad.h5", size=16, progress=False, shard_size=0)
    assert main(["-q", "ingest", str(d), "--out", str(tmp_path / "cli.json"), "--size", "16", "--shard-size", "5"]) == 0
    assert [s["n_images"] for s in read_manifest(tmp_path / "cli.json")["shards"]] == [5, 2]

    out = tmp_path / "sim"
    argv = ["-q", "simulate", str(out), "--n-galaxies", "6", "--size", "16", "--workers", "1", "--shard-size", "4"]
    assert main([*argv, "--surveys", "decals"]) == 0
    sim = ImageStore(out / "decals.json")
    assert len(sim) == 6 and [s["n_images"] for s in sim.manifest["shards"]] == [4, 2]
    assert sorted(p.name for p in out.glob("decals*")) == ["decals-00000.h5", "decals-00001.h5", "decals.json"]


def test_deal_covers_every_row_once_without_padding():
    # a DistributedSampler pads the last round with repeated rows; the chunk dealing must not
    for n, shard_rows, batch, world in [(45, 10, 4, 2), (45, 10, 8, 4), (7, 3, 2, 5), (0, 5, 2, 2), (100, 100, 30, 3)]:
        n_chunks = max(1, -(-n // shard_rows))
        todo = list(range(n_chunks))
        seen = []
        for rank in range(world):
            blocks = dist._deal(todo, n, shard_rows, batch, rank, world)
            seen += [r for _, a, b, _ in blocks for r in range(a, b)]
            assert all(b - a <= batch for _, a, b, _ in blocks)
            lasts = [k for k, _, _, last in blocks if last]
            assert lasts == todo[rank::world]  # each chunk of this rank ends exactly once
        assert sorted(seen) == list(range(n))


def _columns(df):
    return df.drop(columns=["id"]).to_numpy(np.float64)


def test_two_processes_encode_like_one(model, sharded, tmp_path):
    path = sharded[0]
    single = encode_store(model, path, tmp_path / "one.parquet", batch_size=8, progress=False)
    out = tmp_path / "two"
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "galvae", "-q", "encode"]
    cmd += [str(model), str(path), "--out", str(out), "--devices", "2", "--shard-rows", "10", "--batch-size", "4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "45 rows in 5 Parquet parts" in proc.stdout and "2 process(es)" in proc.stdout
    a, meta_a = read_latent_catalog(single)
    b, meta_b = read_latent_catalog(out)
    assert b["id"].tolist() == a["id"].tolist()  # same ids, same order, none twice, none lost
    assert b.columns.tolist() == a.columns.tolist()
    np.testing.assert_allclose(_columns(b), _columns(a), rtol=1e-5, atol=1e-6)
    assert meta_b["outlier"]["n_rows"] == N and meta_b["store"] == meta_a["store"]
    man = json.loads((out / "manifest.json").read_text())
    assert [p["n_rows"] for p in man["parts"]] == [10, 10, 10, 10, 5]
    assert all(sha256_file(out / p["file"]) == p["sha256"] for p in man["parts"])


def test_killed_encode_resumes_with_every_id_once(model, sharded, tmp_path, monkeypatch):
    path, _, ids, _ = sharded
    out = tmp_path / "lat"
    real = dist._write_part
    calls = []

    def dies_after_two(*args, **kwargs):
        if len(calls) == 2:
            # the process dies while writing its third part: a torn temporary file is all that is left of it
            (out / ".part-00002.parquet.tmp-999").write_bytes(b"PAR1 half a footer")
            raise RuntimeError("killed")
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(dist, "_write_part", dies_after_two)
    kw = {"batch_size": 4, "shard_rows": 10, "progress": False}
    with pytest.raises(RuntimeError, match="killed"):
        encode_store_sharded(model, path, out, **kw)
    assert sorted(p.name for p in out.glob("part-*")) == ["part-00000.parquet", "part-00001.parquet"]
    assert not (out / "manifest.json").exists()
    with pytest.raises(GalvaeFileError, match="unfinished"):
        read_latent_catalog(out)

    monkeypatch.setattr(dist, "_write_part", real)
    res = encode_store_sharded(model, path, out, **kw)
    assert (res.parts_resumed, res.parts_encoded, res.n_rows) == (2, 3, N)
    assert not list(out.glob(".*tmp*"))
    df, meta = read_latent_catalog(out)
    assert df["id"].tolist() == ids and df["id"].is_unique
    ref, _ = read_latent_catalog(encode_store(model, path, tmp_path / "one.parquet", batch_size=4, progress=False))
    np.testing.assert_allclose(_columns(df), _columns(ref), rtol=1e-5, atol=1e-6)

    again = encode_store_sharded(model, path, out, **kw)  # complete: nothing to do
    assert again.parts_encoded == 0 and again.parts_resumed == 5
    # another outlier threshold: no encoding, the outlier columns are recomputed over the whole catalogue
    again = encode_store_sharded(model, path, out, outlier_k=0.5, outlier_robust=True, **kw)
    assert again.parts_encoded == 0 and again.n_rows == N
    ref_k = encode_store(
        model, path, tmp_path / "k.parquet", batch_size=4, progress=False, outlier_k=0.5, outlier_robust=True
    )
    df, ref = read_latent_catalog(out)[0], read_latent_catalog(ref_k)[0]
    assert df["outlier"].tolist() == ref["outlier"].tolist() and 0 < df["outlier"].sum() < N
    with pytest.raises(GalvaeFileError, match="shard_rows=10, not 20"):
        encode_store_sharded(model, path, out, **{**kw, "shard_rows": 20})
    res = encode_store_sharded(model, path, out, overwrite=True, **{**kw, "shard_rows": 20})
    assert (res.parts_resumed, res.parts_encoded) == (0, 3) and len(list(out.glob("part-*"))) == 3


def test_encode_cli_directory_and_single_file(model, sharded, tmp_path, capsys):
    path = sharded[0]
    argv = ["-q", "encode", str(model), str(path), "--batch-size", "16"]
    assert main([*argv, "--out", str(tmp_path / "cat"), "--shard-rows", "20"]) == 0
    assert "45 rows in 3 Parquet parts" in capsys.readouterr().out
    assert main([*argv, "--out", str(tmp_path / "one.parquet")]) == 0  # the single-file catalogue is unchanged
    a, b = read_latent_catalog(tmp_path / "one.parquet")[0], read_latent_catalog(tmp_path / "cat")[0]
    assert a["id"].tolist() == b["id"].tolist()
    assert main([*argv, "--out", str(tmp_path / "x.parquet"), "--devices", "2"]) == 2
    assert "directory" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "cat")


def test_not_a_manifest_refused(sharded, tmp_path):
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    with pytest.raises(GalvaeFileError, match="not a galvae sharded-store manifest"):
        ImageStore(tmp_path / "other.json")
    man = json.loads(sharded[0].read_text())
    man["format_version"] = 2
    (tmp_path / "future.json").write_text(json.dumps(man))
    with pytest.raises(GalvaeFileError, match="format_version 2; this galvae reads version 1"):
        open_store(tmp_path / "future.json")
    with pytest.raises(GalvaeFileError, match="manifest not found"):
        ImageStore(tmp_path / "absent.json")
