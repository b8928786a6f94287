"""Tests of the latent-space explorer page (galvae.explore, ``galvae explore``), in numpy and in a real browser.

The browser test drives Debian's chromium through Playwright's Python package (``executable_path=``, never
``playwright install``); like the report's browser tests it skips when chromium or playwright is missing, and
fails instead under CI=true.
"""

from __future__ import annotations

import os
import sys
import threading
import urllib.request

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from _browser import ARTIFACTS, find_chromium
from galvae.cli import main
from galvae.config import StretchConfig
from galvae.data.store import write_store
from galvae.errors import GalvaeFileError, GalvaeKeyError, GalvaeValueError
from galvae.evaluate.latent_space import pca_embedding
from galvae.explore import build_explorer, make_server, page_data
from galvae.explore.thumbs import area_matrix, to_rgb_thumbnails
from galvae.latents import encode_store, export_model, reconstruct_store
from galvae.models import VAE, ModelConfig
from galvae.report import ReportInputs, write_report

NORM = StretchConfig(kind="none")
N, S, T = 30, 16, 16
KINDS = ("spiral", "elliptical", "merger")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """30 random 16-px galaxies, their latent catalogue from a tiny untrained VAE (NL = 4) and a catalogue.

    The catalogue lacks the last galaxy, so its columns are empty there.
    """
    d = tmp_path_factory.mktemp("explore-inputs")
    torch.manual_seed(0)
    run = export_model(VAE(ModelConfig(size=S, latent_dim=4)), d / "run", normalisation=NORM)
    rng = np.random.default_rng(3)
    images = rng.random((N, 3, S, S), dtype=np.float32)
    ids = [f"gal{i:03d}" for i in range(N)]
    store = write_store(d / "s.h5", images, ids, survey="sim", normalisation=NORM)
    latents = encode_store(run, store, d / "lat.parquet", progress=False)
    cat = pd.DataFrame(
        {
            "id": ids[:-1],
            "mag": rng.uniform(15, 19, N - 1),
            "kind": [KINDS[i % 3] for i in range(N - 1)],
            "flag": [i % 4 == 0 for i in range(N - 1)],
        }
    )
    catalog = d / "cat.parquet"
    cat.to_parquet(catalog)
    return {"dir": d, "run": run, "store": store, "latents": latents, "catalog": catalog, "images": images, "ids": ids}


@pytest.fixture(scope="module")
def page(inputs, tmp_path_factory):
    """The page of ``inputs`` with reconstructions (the catalogue's model), PCA map, coloured by kind."""
    out = tmp_path_factory.mktemp("explore-page") / "page"
    res = build_explorer(
        inputs["latents"],
        inputs["store"],
        out,
        catalog=inputs["catalog"],
        projection="pca",
        color="kind",
        thumb_size=T,
        progress=False,
    )
    return res


def _rgb(path):
    with Image.open(path) as im:
        return im.convert("RGB")


def latent_means(path):
    df = pd.read_parquet(path)
    return df, df[[f"mu_{j}" for j in range(4)]].to_numpy(np.float64)


# --------------------------------------------------------------------------- what the page holds


def test_page_data_equals_the_catalogues(inputs, page):
    d = page_data(page.out_dir)
    lat, mu = latent_means(inputs["latents"])
    assert d["n"] == N == page.n_galaxies and d["ids"] == lat["id"].tolist() == inputs["ids"]
    names = [c["name"] for c in d["columns"]]
    assert names == ["recon_error", "outlier_sigma", "outlier", "mag", "kind", "flag"]
    assert d["catalog_columns"] == ["mag", "kind", "flag"] and d["color"] == "kind"
    cols = {c["name"]: c for c in d["columns"]}
    assert [cols[n]["kind"] for n in names] == ["numeric", "numeric", "category", "numeric", "category", "category"]
    np.testing.assert_array_equal(cols["recon_error"]["data"], lat["recon_error"].to_numpy(np.float32))
    cat = pd.read_parquet(inputs["catalog"])
    np.testing.assert_array_equal(cols["mag"]["data"][:-1], cat["mag"].to_numpy(np.float32))
    assert np.isnan(cols["mag"]["data"][-1]) and cols["mag"]["missing"] == 1  # the galaxy the catalogue lacks
    assert cols["kind"]["data"] == cat["kind"].tolist() + [None]
    assert cols["kind"]["categories"] == ["elliptical", "spiral", "merger"]  # by count (10, 10, 9), then name
    assert cols["flag"]["data"] == ["true" if f else "false" for f in cat["flag"]] + [None]
    assert cols["outlier"]["data"] == ["true" if f else "false" for f in lat["outlier"]]
    # the map is the PCA of the latent means
    xy, _ = pca_embedding(mu, 0)
    np.testing.assert_allclose(np.stack([d["x"], d["y"]], 1), xy, rtol=1e-5, atol=1e-6)
    assert d["map"]["method"] == page.projection == "pca" and d["map"]["axes"][0].startswith("PC 1 (")


def test_thumbnails_are_the_store_images(inputs, page):
    d = page_data(page.out_dir)
    th = d["thumbs"]
    assert th["images"] == ["img_000.png"] and th["reconstructions"] == ["recon_000.png"] and page.reconstructions
    atlas = np.asarray(_rgb(page.out_dir / "thumbs" / "img_000.png"))
    assert atlas.shape == (T, N * T, 3)  # one row of 30 tiles
    want = to_rgb_thumbnails(inputs["images"], T)
    for i in (0, 7, N - 1):
        np.testing.assert_array_equal(atlas[:, i * T : (i + 1) * T], want[i])
    # band order: z -> red, g -> blue
    np.testing.assert_array_equal(want[3][..., 0], np.rint(np.clip(inputs["images"][3][2], 0, 1) * 255))
    recon = np.asarray(_rgb(page.out_dir / "thumbs" / "recon_000.png"))
    assert recon.shape == atlas.shape and not np.array_equal(recon, atlas)
    assert "applied to the galaxy's latent mean" in d["reconstruction_note"]


def test_area_resampling():
    a = area_matrix(64, 32)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)
    img = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    np.testing.assert_allclose(a @ img @ a.T, img.reshape(32, 2, 32, 2).mean(axis=(1, 3)), rtol=1e-5)
    b = area_matrix(5, 3)  # a ratio that is not an integer: each output averages 5/3 input pixels
    np.testing.assert_allclose(b.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(b[0], [0.6, 0.4, 0, 0, 0], rtol=1e-6)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_neighbours_equal_brute_force(inputs, tmp_path, metric):
    res = build_explorer(
        inputs["latents"], inputs["store"], tmp_path / "p", model=None, projection="pca", metric=metric, k=5,
        thumb_size=8, progress=False,
    )  # fmt: skip
    d = page_data(res.index_html)
    _, mu = latent_means(inputs["latents"])
    if metric == "cosine":
        u = mu / np.linalg.norm(mu, axis=1, keepdims=True)
        dist = 1.0 - u @ u.T
    else:
        dist = np.sqrt(((mu[:, None, :] - mu[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(dist, np.inf)
    want = np.argsort(dist, axis=1, kind="stable")[:, :5]
    assert d["k"] == res.k == 5 and d["metric"] == metric and d["index"] == "exact"
    np.testing.assert_array_equal(d["neighbours"], want)
    np.testing.assert_allclose(d["distances"], np.take_along_axis(dist, want, axis=1), rtol=1e-4, atol=1e-6)
    # k beyond the catalogue: every other galaxy, once
    few = build_explorer(
        inputs["latents"], inputs["store"], tmp_path / "q", model=None, projection="pca", k=100, thumb_size=8,
        progress=False,
    )  # fmt: skip
    nb = page_data(few.out_dir)["neighbours"]
    assert few.k == N - 1 and all(sorted(row) == sorted(set(range(N)) - {i}) for i, row in enumerate(nb.tolist()))


# --------------------------------------------------------------------------- reconstructions or not


def test_without_a_model_the_page_says_so(inputs, tmp_path):
    res = build_explorer(
        inputs["latents"], inputs["store"], tmp_path / "a", model=None, projection="pca", thumb_size=8,
        thumb_format="webp", progress=False,
    )  # fmt: skip
    d = page_data(res.out_dir)
    assert not res.reconstructions and d["thumbs"]["reconstructions"] is None
    assert d["thumbs"]["images"] == ["img_000.webp"]
    with Image.open(res.out_dir / "thumbs" / "img_000.webp") as im:
        assert im.size == (N * 8, 8)
    assert "No model was given" in d["reconstruction_note"]
    assert not list((tmp_path / "a" / "thumbs").glob("recon_*"))
    # the catalogue's model moved away: images only, and the note names the missing file
    lat, _ = latent_means(inputs["latents"])
    meta = {"model": str(tmp_path / "gone" / "model.json"), "store": str(inputs["store"])}
    from galvae.data.tables import write_table

    moved = write_table(lat, tmp_path / "moved.parquet", metadata=meta)
    res = build_explorer(moved, inputs["store"], tmp_path / "b", projection="pca", thumb_size=8, progress=False)
    note = page_data(res.out_dir)["reconstruction_note"]
    assert not res.reconstructions and "was not found" in note and "gone" in note


def test_reconstructions_from_a_store(inputs, page, tmp_path):
    """galvae reconstruct's store instead of the model: the same thumbnails as decoding the catalogue's means."""
    recon = reconstruct_store(inputs["run"], inputs["store"], tmp_path / "recon.h5", progress=False)
    res = build_explorer(
        inputs["latents"], inputs["store"], tmp_path / "r", reconstructions=recon, projection="pca", thumb_size=T,
        progress=False,
    )  # fmt: skip
    d = page_data(res.out_dir)
    assert res.reconstructions and d["sources"]["reconstructions"] == str(recon) and d["sources"]["model"] is None
    assert "recon.h5 (galvae reconstruct)" in d["reconstruction_note"]
    from_store = np.asarray(_rgb(res.out_dir / "thumbs" / "recon_000.png")).astype(int)
    from_model = np.asarray(_rgb(page.out_dir / "thumbs" / "recon_000.png")).astype(int)
    assert np.abs(from_store - from_model).max() <= 1  # 8-bit rounding of float32 decodes
    with pytest.raises(GalvaeValueError, match="give model= or reconstructions=, not both"):
        build_explorer(inputs["latents"], inputs["store"], tmp_path / "s", model=inputs["run"], reconstructions=recon)
    short = write_store(
        tmp_path / "short.h5", inputs["images"][:5], inputs["ids"][:5], survey="sim", normalisation=NORM
    )
    with pytest.raises(GalvaeValueError, match=r"25 of the 30 ids .* not in the reconstruction store .*short\.h5"):
        build_explorer(inputs["latents"], inputs["store"], tmp_path / "t", reconstructions=short)


def test_rebuild_reuses_the_parts_whose_inputs_are_unchanged(inputs, tmp_path):
    out = tmp_path / "page"
    kw = {"projection": "pca", "k": 5, "thumb_size": 8, "progress": False}
    first = build_explorer(inputs["latents"], inputs["store"], out, color="outlier_sigma", **kw)
    assert first.reused == () and first.reconstructions
    atlas = out / "thumbs" / "img_000.png"
    stamp = atlas.stat().st_mtime_ns
    before = page_data(out)
    # another colour and a catalogue: nothing expensive is made again, and the page holds the same
    again = build_explorer(
        inputs["latents"], inputs["store"], out, catalog=inputs["catalog"], color="mag", overwrite=True, **kw
    )
    assert again.reused == ("map", "neighbours", "images", "reconstructions")
    after = page_data(out)
    np.testing.assert_array_equal(after["x"], before["x"])
    np.testing.assert_array_equal(after["neighbours"], before["neighbours"])
    assert atlas.stat().st_mtime_ns == stamp and after["color"] == "mag" and "mag" in after["catalog_columns"]
    # other options remake only their part
    res = build_explorer(inputs["latents"], inputs["store"], out, overwrite=True, **(kw | {"thumb_size": 16}))
    assert res.reused == ("map", "neighbours")
    with Image.open(atlas) as im:
        assert im.size == (N * 16, 16)
    res = build_explorer(inputs["latents"], inputs["store"], out, overwrite=True, **(kw | {"thumb_size": 16, "k": 3}))
    assert res.reused == ("map", "images", "reconstructions")
    res = build_explorer(inputs["latents"], inputs["store"], out, overwrite=True, model=None, **kw)
    assert res.reused == ("map",) and not (out / "thumbs" / "recon_000.png").exists()  # k and size back to 5, 8
    # a rewritten latent catalogue (another modification time) is mapped and searched again
    os.utime(inputs["latents"], ns=(1, 1))
    res = build_explorer(inputs["latents"], inputs["store"], out, overwrite=True, model=None, **kw)
    assert res.reused == ("images",)
    # a damaged earlier page: everything is made again
    (out / "explore-data.js").write_text("window.GALVAE_EXPLORE = {broken")
    res = build_explorer(inputs["latents"], inputs["store"], out, overwrite=True, model=None, **kw)
    assert res.reused == () and page_data(out)["n"] == N


# --------------------------------------------------------------------------- errors


def test_errors_name_the_problem(inputs, tmp_path):
    lat, store, cat = inputs["latents"], inputs["store"], inputs["catalog"]
    kw = {"model": None, "projection": "pca", "progress": False}
    with pytest.raises(GalvaeKeyError, match=r"color column not in .*\(got 'nope'\); available: .*'mag'"):
        build_explorer(lat, store, tmp_path / "e1", catalog=cat, color="nope", **kw)
    with pytest.raises(GalvaeKeyError, match=r"column\(s\) not in .*\['x1', 'x2'\]"):
        build_explorer(lat, store, tmp_path / "e2", catalog=cat, columns=["mag", "x1", "x2"], **kw)
    # ids of the latents that the store lacks
    other = write_store(
        tmp_path / "other.h5",
        inputs["images"][:28],
        inputs["ids"][:28],
        survey="sim",
        normalisation=NORM,
    )
    with pytest.raises(GalvaeValueError, match=r"2 of the 30 ids .* not in the image store .*other\.h5.*'gal028'"):
        build_explorer(lat, other, tmp_path / "e3", **kw)
    # a catalogue sharing no id
    stranger = tmp_path / "stranger.csv"
    pd.DataFrame({"id": ["a", "b"], "mag": [1.0, 2.0]}).to_csv(stranger, index=False)
    with pytest.raises(GalvaeValueError, match=r"none of the 30 ids .* are in the catalogue .*stranger\.csv"):
        build_explorer(lat, store, tmp_path / "e4", catalog=stranger, **kw)
    with pytest.raises(GalvaeKeyError, match=r"has no 'id' column"):
        build_explorer(lat, store, tmp_path / "e5", catalog=pd.DataFrame({"name": ["a"]}), **kw)
    with pytest.raises(GalvaeValueError, match=r"projection is not known \(got 'mds'\); accepted: 'auto', 'umap'"):
        build_explorer(lat, store, tmp_path / "e6", model=None, projection="mds")
    with pytest.raises(GalvaeValueError, match=r"thumb_size must be an integer between 8 and 128 \(got 4\)"):
        build_explorer(lat, store, tmp_path / "e7", thumb_size=4, **kw)
    with pytest.raises(GalvaeValueError, match=r"index is not known \(got 'annoy'\); accepted: 'exact', 'ivf', 'hnsw'"):
        build_explorer(lat, store, tmp_path / "e7b", index="annoy", **kw)
    with pytest.raises(GalvaeValueError, match=r"thumb_format is not known \(got 'gif'\)"):
        build_explorer(lat, store, tmp_path / "e8", thumb_format="gif", **kw)
    # a column of many distinct strings is shown, but cannot colour
    named = tmp_path / "named.csv"
    pd.DataFrame({"id": inputs["ids"], "name": [f"NGC {i}" for i in range(N)]}).to_csv(named, index=False)
    from galvae.explore import build as build_module

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build_module, "MAX_CATEGORIES", 10)
        with pytest.raises(GalvaeValueError, match=r"color column 'name' holds more than 10 distinct text values"):
            build_explorer(lat, store, tmp_path / "e9", catalog=named, color="name", **kw)
        res = build_explorer(lat, store, tmp_path / "e10", catalog=named, **kw)
    name = next(c for c in page_data(res.out_dir)["columns"] if c["name"] == "name")
    assert name["kind"] == "text" and name["data"][4] == "NGC 4"
    # a page is not written over by accident, and overwrite=True replaces only the page's files
    (tmp_path / "e10" / "mine.txt").write_text("keep")
    with pytest.raises(GalvaeFileError, match=r"e10: exists and is not empty \(pass overwrite=True"):
        build_explorer(lat, store, tmp_path / "e10", **kw)
    build_explorer(lat, store, tmp_path / "e10", overwrite=True, **kw)
    assert (tmp_path / "e10" / "mine.txt").read_text() == "keep"


def test_umap_needs_umap_learn(inputs, tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap -> ImportError
    kw = {"model": None, "thumb_size": 8, "progress": False}
    with pytest.raises(GalvaeValueError, match=r"projection='umap' needs umap-learn.*pip install 'galvae\[explore\]'"):
        build_explorer(inputs["latents"], inputs["store"], tmp_path / "u", projection="umap", **kw)
    with caplog.at_level("INFO", logger="galvae.explore.build"):
        res = build_explorer(inputs["latents"], inputs["store"], tmp_path / "v", projection="auto", **kw)
    assert res.projection == "pca" and "umap-learn is not installed: the map is PCA" in caplog.text


def test_umap_map_when_umap_learn_is_installed(inputs, tmp_path, monkeypatch):
    # A stand-in module records what build_explorer asks of umap.UMAP -- the arguments umap-learn 0.5.12
    # accepts without a warning (n_jobs=1 with a seed; checked by hand with the real package) -- and
    # returns a known map, which must be the page's map.
    import types

    calls = []

    class UMAP:
        def __init__(self, **kwargs):
            calls.append(kwargs)

        def fit_transform(self, x):
            calls.append(x.shape)
            return np.column_stack([np.arange(len(x)), -np.arange(len(x))]).astype(np.float64)

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=UMAP))
    kw = {"model": None, "thumb_size": 8, "progress": False, "seed": 3}
    res = build_explorer(inputs["latents"], inputs["store"], tmp_path / "u", projection="auto", **kw)
    assert res.projection == "umap"
    assert calls[0] == {"n_components": 2, "n_neighbors": 15, "min_dist": 0.1, "random_state": 3, "n_jobs": 1}
    n = calls[1][0]
    d = page_data(res.out_dir)
    assert n == d["n"] == 30 and d["map"]["method"] == "umap"
    np.testing.assert_array_equal(d["x"], np.arange(n, dtype=np.float32))
    np.testing.assert_array_equal(d["y"], -np.arange(n, dtype=np.float32))


def test_umap_map_with_umap_learn_separates_two_groups_and_repeats_with_the_seed(inputs, tmp_path):
    # umap-learn itself (in the [test] extra; its numba JIT costs ~10 s once per process): two groups of
    # galaxies 10 apart in latent space, each spread by 0.3, must be two groups on the map, and the same seed
    # must give the same map
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(inputs["latents"])
    rng = np.random.default_rng(5)
    group = np.arange(N) % 2
    mu = rng.normal(0.0, 0.3, (N, 4)) + 10.0 * group[:, None]
    for j in range(4):
        k = table.schema.get_field_index(f"mu_{j}")
        table = table.set_column(k, f"mu_{j}", pa.array(mu[:, j].astype(np.float32)))
    latents = tmp_path / "groups.parquet"
    pq.write_table(table, latents)  # the galvae metadata travels with the schema
    kw = {"model": None, "thumb_size": 8, "progress": False, "seed": 3, "projection": "umap"}
    maps = []
    for name in ("a", "b"):
        res = build_explorer(latents, inputs["store"], tmp_path / name, **kw)
        d = page_data(res.out_dir)
        assert res.projection == "umap" and d["map"]["method"] == "umap"
        maps.append(np.column_stack([d["x"], d["y"]]).astype(np.float64))
    xy = maps[0]
    assert np.isfinite(xy).all() and xy.shape == (N, 2)
    # every galaxy's nearest neighbour on the map is of its own group
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.diag(np.full(N, np.inf))
    assert (group[dist.argmin(axis=1)] == group).all()
    np.testing.assert_array_equal(maps[1], xy)


# --------------------------------------------------------------------------- command line and server


def test_cli_explore(inputs, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["-q", "explore", str(inputs["latents"]), str(inputs["store"]), "--out", str(out)]
    rc = main([*argv, "--catalog", str(inputs["catalog"]), "--no-model", "--map", "pca", "--color", "mag", "--k", "3"])
    text = capsys.readouterr().out
    assert rc == 0 and f"wrote {out / 'index.html'}: 30 galaxies, pca map, 3 neighbours each, images only" in text
    d = page_data(out)
    assert d["color"] == "mag" and d["k"] == 3 and d["thumbs"]["reconstructions"] is None
    # --columns keeps a few columns; the colour column is kept too
    rc = main([*argv, "--catalog", str(inputs["catalog"]), "--columns", "mag,flag", "--color", "kind", "--overwrite"])
    assert rc == 0 and [c["name"] for c in page_data(out)["columns"]] == ["mag", "flag", "kind"]
    capsys.readouterr()
    rc = main([*argv, "--catalog", str(inputs["catalog"]), "--color", "magnitude", "--overwrite"])
    err = capsys.readouterr().err
    assert rc == 2 and "galvae explore: error: color column not in the latent catalogue or the catalogue" in err
    assert "'magnitude'" in err


def test_server_serves_the_page_on_localhost(page):
    server = make_server(page.out_dir, 0)
    host, port = server.server_address[:2]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200 and b'<canvas id="map"' in r.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/explore-data.js", timeout=10) as r:
            assert r.read().startswith(b"/* galvae explore page data")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(GalvaeFileError, match="holds no index.html"):
        make_server(page.out_dir / "thumbs", 0)


# --------------------------------------------------------------------------- in a real browser


def _sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed; CI installs it with the [test] extra")
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    return sync_playwright


def test_page_in_chromium(inputs, page):
    """Load the page from file://, hover a point, click it, follow a neighbour, search ids; keep a screenshot."""
    exe = find_chromium()
    sync_playwright = _sync_playwright()
    d = page_data(page.out_dir)
    target = 11
    gid = d["ids"][target]
    want_nb = [d["ids"][j] for j in d["neighbours"][target]]
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            tab = browser.new_page(viewport={"width": 1200, "height": 800})
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            requests: list[str] = []
            tab.on("request", lambda r: requests.append(r.url))
            tab.goto(page.index_html.resolve().as_uri())
            tab.wait_for_function("window.galvaeExplorer && window.galvaeExplorer.ready", timeout=15000)
            assert tab.evaluate("window.galvaeExplorer.n") == N
            assert tab.evaluate("window.galvaeExplorer.stats.draws") >= 1
            # hover: the thumbnail appears, loaded from the atlas, with the galaxy's id
            box = tab.locator("#map").bounding_box()
            sx, sy = tab.evaluate(f"window.galvaeExplorer.screenOf({gid!r})")
            assert 0 < sx < box["width"] and 0 < sy < box["height"]
            assert tab.locator("#tip").is_hidden()
            tab.mouse.move(box["x"] + sx + 1, box["y"] + sy)
            tab.wait_for_selector("#tip:not([hidden])", timeout=5000)
            assert tab.inner_text("#tip-text").startswith(gid)
            tab.wait_for_function("document.querySelector('#tip-thumb img').naturalWidth > 0", timeout=5000)
            assert tab.get_attribute("#tip-thumb img", "src") == "thumbs/img_000.png"
            # click: the galaxy, its reconstruction, the neighbours panel and the catalogue row
            tab.mouse.click(box["x"] + sx + 1, box["y"] + sy)
            tab.wait_for_selector("#detail:not([hidden])", timeout=5000)
            assert tab.inner_text("#sel-id") == gid
            assert tab.locator("#neighbours .nb").count() == 8
            got_nb = tab.eval_on_selector_all("#neighbours .nb", "els => els.map(e => e.dataset.id)")
            assert got_nb == want_nb
            tab.wait_for_function("document.querySelector('#sel-recon img').naturalWidth > 0", timeout=5000)
            assert tab.get_attribute("#sel-recon img", "src") == "thumbs/recon_000.png"
            row = dict(
                zip(
                    tab.eval_on_selector_all("#row th", "els => els.map(e => e.textContent)"),
                    tab.eval_on_selector_all("#row td", "els => els.map(e => e.textContent)"),
                    strict=True,
                )
            )
            assert row["id"] == gid and row["kind"] == KINDS[target % 3]
            assert float(row["mag"]) == pytest.approx(pd.read_parquet(inputs["catalog"])["mag"][target], rel=1e-3)
            # a neighbour's card opens that galaxy
            tab.click(f"#neighbours .nb[data-id='{want_nb[0]}']")
            assert tab.inner_text("#sel-id") == want_nb[0]
            # search: an exact id, then text matching several ids, then none
            tab.fill("#search", "gal027")
            tab.press("#search", "Enter")
            assert tab.inner_text("#sel-id") == "gal027"
            assert tab.evaluate("location.hash") == "#id=gal027"
            tab.fill("#search", "al02")
            tab.press("#search", "Enter")
            assert tab.locator("#search-results button").count() == 10  # gal020 ... gal029
            tab.click("#search-results button:has-text('gal024')")
            assert tab.inner_text("#sel-id") == "gal024"
            tab.fill("#search", "M31")
            tab.press("#search", "Enter")
            assert "no galaxy id contains" in tab.inner_text("#search-results")
            # a category picked in the legend fades the others (pixels read back from the canvas)
            pixel = (
                "([x, y]) => Array.from(document.getElementById('map').getContext('2d')"
                ".getImageData(Math.round(x * devicePixelRatio), Math.round(y * devicePixelRatio), 1, 1).data)"
            )
            spiral, merger = "gal000", "gal002"  # categories elliptical, spiral, merger: palette 0, 1, 2
            tab.keyboard.press("Escape")
            assert tab.locator("#detail").is_hidden()
            before = tab.evaluate(pixel, tab.evaluate(f"window.galvaeExplorer.screenOf({spiral!r})"))
            assert before == [0xFF, 0x7F, 0x0E, 255]
            tab.click("#legend button.lg:has-text('merger')")
            assert tab.locator("#legend button.lg.on").inner_text().startswith("merger")
            tab.wait_for_function("window.galvaeExplorer.stats.draws > 0")
            tab.evaluate("window.galvaeExplorer.draw()")
            assert tab.evaluate(pixel, tab.evaluate(f"window.galvaeExplorer.screenOf({spiral!r})"))[:3] == [0xE4] * 3
            assert tab.evaluate(pixel, tab.evaluate(f"window.galvaeExplorer.screenOf({merger!r})"))[:3] == [
                0x2C,
                0xA0,
                0x2C,
            ]
            tab.click("#legend button.lg.on")
            tab.evaluate("window.galvaeExplorer.draw()")
            assert tab.evaluate(pixel, tab.evaluate(f"window.galvaeExplorer.screenOf({spiral!r})")) == before
            # recolour by a numeric column: a colour bar legend
            tab.select_option("#color", "mag")
            assert tab.locator("#legend canvas").count() == 1 and "missing (1)" in tab.inner_text("#legend")
            ARTIFACTS.mkdir(exist_ok=True)
            assert tab.evaluate(f"window.galvaeExplorer.select({gid!r})") == target
            tab.click("#reset")  # every galaxy in view, the selection and its neighbours marked
            tab.screenshot(path=str(ARTIFACTS / "explore.png"))
            # nothing but the page's own files was requested
            assert requests and all(u.startswith("file://") for u in requests), requests
            assert {u.rsplit("/", 1)[-1] for u in requests} == {
                "index.html",
                "explore-data.js",
                "img_000.png",
                "recon_000.png",
            }
            # the report links to the page, by a path relative to the report
            report = write_report(
                page.out_dir.parent / "report.html",
                ReportInputs(latents=inputs["latents"], explorer=page.index_html),
                embedding="pca",
            )
            assert '<a href="page/index.html">Explore this latent space' in report.read_text(encoding="utf-8")
            tab.goto(report.resolve().as_uri())
            tab.click("text=Explore this latent space interactively")
            tab.wait_for_function("window.galvaeExplorer && window.galvaeExplorer.ready", timeout=15000)
            assert tab.url == page.index_html.resolve().as_uri()
            # index.html without its data file says what is missing instead of staying blank
            alone = page.out_dir.parent / "alone"
            alone.mkdir(exist_ok=True)
            (alone / "index.html").write_bytes(page.index_html.read_bytes())
            tab.goto((alone / "index.html").resolve().as_uri())
            tab.wait_for_selector("#status.error", timeout=5000)
            assert "keep index.html beside explore-data.js" in tab.inner_text("#status")
            errors[:] = [e for e in errors if "ERR_FILE_NOT_FOUND" not in e]  # the missing script's own message
            # the same page over --serve's server, opened at a galaxy by its URL
            server = make_server(page.out_dir, 0)
            port = server.server_address[1]
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                tab.goto(f"http://127.0.0.1:{port}/index.html#id=gal005")
                tab.wait_for_function("window.galvaeExplorer && window.galvaeExplorer.ready", timeout=15000)
                assert tab.inner_text("#sel-id") == "gal005"
            finally:
                server.shutdown()
                server.server_close()
        finally:
            browser.close()
    assert not errors, errors
    assert (ARTIFACTS / "explore.png").stat().st_size > 10_000
