"""Legacy Survey cutout downloads, against a cutout service on 127.0.0.1 started by the tests."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from urllib3.exceptions import MaxRetryError, ProtocolError

from galvae.cli import main
from galvae.data import download as dl
from galvae.data.download import (
    DownloadReport,
    cutout_path,
    cutout_url,
    download_cutouts,
    read_targets,
)
from galvae.errors import GalvaeDownloadError, GalvaeError, GalvaeFileError, GalvaeValueError

SIZE = 16
FAST = dict(size=SIZE, backoff=0.01, timeout=5.0, progress=False)


def cutout_bytes(ra: float, size: int, planes: int = 3, zero: bool = False, bands: str = "grz") -> bytes:
    """A FITS cutout like the service's: (planes, size, size) float32, value ra + band index."""
    data = np.zeros((planes, size, size), np.float32)
    if not zero:
        data += np.float32(ra) + np.arange(planes, dtype=np.float32)[:, None, None]
    hdu = fits.PrimaryHDU(data)
    hdu.header["BANDS"] = bands
    for i, band in enumerate(bands):
        hdu.header[f"BAND{i}"] = band
    buf = io.BytesIO()
    hdu.writeto(buf)
    return buf.getvalue()


class FakeCutoutService:
    """State of the fake service: scripted actions per target (keyed by ra), request log, in-flight count.

    ``script[ra]`` is a list of actions taken by successive requests for that
    ra; the last action repeats.  Actions: ``ok``, ``zero`` (all-zero cube),
    ``shape`` (two planes), ``bands`` (BANDS='gri'), ``truncate`` (Content-Length
    larger than the body), ``short`` (no Content-Length, FITS cut short),
    ``sleep`` (answer after ``sleep_s``), ``redirect`` (302 to the same address),
    or an HTTP status as a string, with ``Retry-After`` from ``retry_after``
    (none when it is None) for 429 and 503.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.script: dict[float, list[str]] = {}
        self.requests: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.inflight = 0
        self.max_inflight = 0
        self.delay = 0.0
        self.sleep_s = 1.0
        self.retry_after: str | None = "0"
        self.url = ""

    def next_action(self, ra: float) -> str:
        with self.lock:
            actions = self.script.get(round(ra, 4), ["ok"])
            return actions.pop(0) if len(actions) > 1 else actions[0]

    def count(self, ra: float) -> int:
        return sum(1 for q in self.requests if round(float(q["ra"]), 4) == round(ra, 4))


def make_handler(state: FakeCutoutService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            with state.lock:
                state.requests.append(query)
                state.paths.append(url.path)
                state.inflight += 1
                state.max_inflight = max(state.max_inflight, state.inflight)
            try:
                self._answer(query)
            finally:
                with state.lock:
                    state.inflight -= 1

        def _send(self, body: bytes, length: int | None = None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/fits")
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, query: dict[str, str]) -> None:
            ra, size = float(query["ra"]), int(query["size"])
            action = state.next_action(ra)
            if state.delay:
                time.sleep(state.delay)
            if action.isdigit():
                self.send_response(int(action))
                if action in ("429", "503") and state.retry_after is not None:
                    self.send_header("Retry-After", state.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif action == "redirect":
                self.send_response(302)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif action == "sleep":
                time.sleep(state.sleep_s)
                body = cutout_bytes(ra, size)
                self._send(body, len(body))
            elif action == "truncate":
                body = cutout_bytes(ra, size)
                self._send(body[: len(body) // 2], len(body))
                self.close_connection = True
            elif action == "short":
                self._send(cutout_bytes(ra, size)[:3000])
                self.close_connection = True
            else:
                body = cutout_bytes(
                    ra,
                    size,
                    planes=2 if action == "shape" else 3,
                    zero=action == "zero",
                    bands="gri" if action == "bands" else "grz",
                )
                self._send(body, len(body))

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hung up (time-out tests): nothing to report


@pytest.fixture
def service():
    state = FakeCutoutService()
    server = QuietServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/viewer"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive()


def catalog(n: int, start: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [f"g{i}" for i in range(n)], "ra": start + np.arange(n, dtype=float), "dec": 0.5 + 0.1 * np.arange(n)}
    )


# ---------------------------------------------------------------------------
# success, layout, manifest, request parameters
# ---------------------------------------------------------------------------


def test_success_writes_cutouts_and_manifest(service, tmp_path):
    cat = catalog(3)
    out = tmp_path / "decals"
    report = download_cutouts(cat, out, base_url=service.url, **FAST)
    assert isinstance(report, DownloadReport)
    assert report.counts == {"ok": 3, "cached": 0, "empty": 0, "failed": 0}
    assert report.n_total == 3 and report.n_available == 3 and report.failures == ()
    assert report.manifest == out / "catalog.parquet"
    for gid, ra in zip(cat["id"], cat["ra"], strict=True):
        with fits.open(out / f"{gid}.fits") as hdul:
            data = hdul[0].data
            assert data.shape == (3, SIZE, SIZE)
            np.testing.assert_allclose(data[:, 0, 0], [ra, ra + 1, ra + 2])
            assert hdul[0].header["BANDS"] == "grz"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["catalog.parquet", "download.json", "g0.fits", "g1.fits", "g2.fits"]
    manifest = pd.read_parquet(report.manifest)
    assert list(manifest.columns) == ["id", "ra", "dec", "file", "layer", "pixscale", "size", "status"]
    assert manifest["id"].tolist() == ["g0", "g1", "g2"]
    assert manifest["file"].tolist() == ["g0.fits", "g1.fits", "g2.fits"]
    np.testing.assert_allclose(manifest["ra"], cat["ra"])
    np.testing.assert_allclose(manifest["dec"], cat["dec"])
    assert set(manifest["layer"]) == {"ls-dr9-south"} and set(manifest["status"]) == {"ok"}
    assert set(manifest["size"]) == {SIZE} and set(manifest["pixscale"]) == {0.262}
    assert "3 targets, layer ls-dr9-south: ok 3, cached 0, empty 0, failed 0" in report.summary()


@pytest.mark.parametrize("layer", ["ls-dr9-south", "ls-dr9-north", "ls-dr10"])
def test_query_string_carries_layer_pixscale_size_bands(service, tmp_path, layer):
    download_cutouts(catalog(1), tmp_path / layer, base_url=service.url + "/", layer=layer, pixscale=0.5, **FAST)
    assert service.paths == ["/viewer/fits-cutout"]
    query = service.requests[0]
    assert query == {
        "ra": "10.0000000",
        "dec": "0.5000000",
        "layer": layer,
        "pixscale": "0.5",
        "size": str(SIZE),
        "bands": "grz",
    }


def test_cutout_url_default_service():
    url = cutout_url(150.25, -2.5)
    assert url == (
        "https://www.legacysurvey.org/viewer/fits-cutout?ra=150.2500000&dec=-2.5000000"
        "&layer=ls-dr9-south&pixscale=0.262&size=64&bands=grz"
    )


def test_fits_catalogue_with_byte_string_ids(service, tmp_path):
    from astropy.table import Table

    path = tmp_path / "targets.fits"
    Table({"id": np.array([b"J1", b"J2"]), "RA": [10.0, 11.0], "DEC": [0.5, 0.6]}).write(path)
    report = download_cutouts(path, tmp_path / "out", base_url=service.url, **FAST)
    assert pd.read_parquet(report.manifest)["file"].tolist() == ["J1.fits", "J2.fits"]


def test_catalog_file_and_no_id_column(service, tmp_path):
    path = tmp_path / "targets.csv"
    catalog(2).drop(columns="id").rename(columns={"ra": "RA", "dec": "DEC"}).to_csv(path, index=False)
    report = download_cutouts(path, tmp_path / "out", base_url=service.url, **FAST)
    assert report.n_ok == 2
    assert pd.read_parquet(report.manifest)["file"].tolist() == ["0.fits", "1.fits"]


# ---------------------------------------------------------------------------
# retries, back-off, failures
# ---------------------------------------------------------------------------


def test_server_error_twice_then_success(service, tmp_path):
    service.script[10.0] = ["500", "502", "ok"]
    report = download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=2, **FAST)
    assert report.n_ok == 1
    assert service.count(10.0) == 3


def test_server_error_exhausts_retries(service, tmp_path):
    service.script[10.0] = ["500"]
    service.script[11.0] = ["ok"]
    report = download_cutouts(catalog(2), tmp_path, base_url=service.url, retries=2, **FAST)
    assert report.counts == {"ok": 1, "cached": 0, "empty": 0, "failed": 1}
    assert service.count(10.0) == 3
    assert report.failures[0][0] == "g0"
    assert "HTTP 500" in report.failures[0][1] and "after 3 attempts" in report.failures[0][1]
    manifest = pd.read_parquet(report.manifest)
    assert manifest["status"].iloc[0].startswith("failed:HTTP 500")
    assert pd.isna(manifest["file"].iloc[0])
    assert not (tmp_path / "g0.fits").exists() and not (tmp_path / "g0.fits.part").exists()


def test_not_found_is_not_retried(service, tmp_path):
    service.script[10.0] = ["404"]
    report = download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=3, **FAST)
    assert report.n_failed == 1 and service.count(10.0) == 1
    assert report.failures == (("g0", "HTTP 404 Not Found"),)
    assert pd.read_parquet(report.manifest)["status"].tolist() == ["failed:HTTP 404 Not Found"]


def test_too_many_requests_waits_retry_after(service, tmp_path):
    service.script[10.0] = ["429", "ok"]
    service.retry_after = "1"
    start = time.monotonic()
    report = download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=1, **FAST)
    assert report.n_ok == 1 and service.count(10.0) == 2
    assert time.monotonic() - start >= 0.95  # waited Retry-After, not the 0.01 s back-off


def test_timeout_then_success(service, tmp_path):
    service.script[10.0] = ["sleep", "ok"]
    service.sleep_s = 0.8
    report = download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=1, **{**FAST, "timeout": 0.3})
    assert report.n_ok == 1 and service.count(10.0) == 2


def test_timeout_every_time_fails(service, tmp_path):
    service.script[10.0] = ["sleep"]
    service.sleep_s = 0.6
    report = download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=1, **{**FAST, "timeout": 0.2})
    assert report.n_failed == 1 and service.count(10.0) == 2
    assert "timed out" in report.failures[0][1]
    assert list(tmp_path.glob("g0.fits*")) == []


@pytest.mark.parametrize("action", ["truncate", "short"])
def test_truncated_body_is_retried(service, tmp_path, action):
    service.script[10.0] = [action, action, "ok"]
    report = download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=2, **FAST)
    assert report.n_ok == 1 and service.count(10.0) == 3
    with fits.open(tmp_path / "g0.fits") as hdul:
        assert hdul[0].data.shape == (3, SIZE, SIZE)


@pytest.mark.parametrize("action", ["truncate", "short"])
def test_truncated_body_never_left_as_complete_file(service, tmp_path, action):
    service.script[10.0] = [action]
    report = download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=1, **FAST)
    assert report.n_failed == 1 and "truncated" in report.failures[0][1]
    assert list(tmp_path.glob("g0.fits*")) == []
    again = download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=0, **FAST)
    assert again.n_cached == 0 and again.n_failed == 1


def test_connection_refused_fails_after_retries(tmp_path):
    with QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as server:
        port = server.server_address[1]
    report = download_cutouts(catalog(1), tmp_path, base_url=f"http://127.0.0.1:{port}", retries=1, **FAST)
    assert report.n_failed == 1 and "connection error" in report.failures[0][1]


@pytest.mark.parametrize(("action", "message"), [("shape", r"\(3, 16, 16\)"), ("bands", "BANDS")])
def test_wrong_cube_fails_without_retry(service, tmp_path, action, message):
    service.script[10.0] = [action]
    report = download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=2, **FAST)
    assert report.n_failed == 1 and service.count(10.0) == 1
    assert list(tmp_path.glob("g0.fits*")) == []
    assert re.search(message, report.failures[0][1])


def test_all_zero_cutout_is_empty(service, tmp_path):
    service.script[11.0] = ["zero"]
    report = download_cutouts(catalog(2), tmp_path, base_url=service.url, **FAST)
    assert report.counts == {"ok": 1, "cached": 0, "empty": 1, "failed": 0}
    assert not (tmp_path / "g1.fits").exists() and not (tmp_path / "g1.fits.part").exists()
    manifest = pd.read_parquet(report.manifest)
    assert manifest["status"].tolist() == ["ok", "empty"]
    assert manifest["file"].iloc[0] == "g0.fits" and pd.isna(manifest["file"].iloc[1])


def _policy(seed: int = 0, retries: int = 30, backoff: float = 1.0) -> dl._CutoutRetry:
    job = dl._Job(index=0, galaxy_id="g0", url="http://127.0.0.1/x", path=Path("g0.fits"))
    opts = dl._Options(retries=retries, backoff=backoff, timeout=5.0, size=SIZE, seed=seed, overwrite=False)
    return dl._make_retry(job, opts, None)


def _backoffs(retry: dl._CutoutRetry, n: int) -> list[float]:
    out = []
    for _ in range(n):
        retry = retry.increment("GET", "http://127.0.0.1/x", error=ProtocolError("connection broken"))
        out.append(retry.get_backoff_time())
    return out


def test_backoff_doubles_from_backoff_with_seeded_jitter_and_cap():
    assert _policy().get_backoff_time() == 0.0  # nothing failed yet
    delays = _backoffs(_policy(), 4)
    for attempt, delay in enumerate(delays):  # the first retry waits `backoff` (urllib3's own would not wait)
        assert 0.5 * 2**attempt <= delay < 1.5 * 2**attempt
    assert 30.0 <= _backoffs(_policy(), 20)[-1] < 1.5 * 60  # capped at 60 s before the jitter
    assert _backoffs(_policy(seed=7), 3) == _backoffs(_policy(seed=7), 3)
    assert _backoffs(_policy(seed=7), 3) != _backoffs(_policy(seed=8), 3)


def test_retries_count_every_kind_of_failure_in_one_budget():
    retry = _policy(retries=2)
    retry = retry.increment("GET", "http://127.0.0.1/x", error=ProtocolError("broken"))
    retry = retry.increment("GET", "http://127.0.0.1/x", error=dl._BadBody("truncated FITS data"))
    with pytest.raises(MaxRetryError):
        retry.increment("GET", "http://127.0.0.1/x", error=ProtocolError("broken"))


@pytest.fixture
def waits(monkeypatch):
    """The back-off and Retry-After waits, recorded instead of slept."""
    seen: list[float] = []

    def pause(stop, seconds):
        seen.append(seconds)
        return False

    monkeypatch.setattr(dl, "_pause", pause)
    return seen


def test_service_unavailable_then_success(service, tmp_path, waits):
    service.script[10.0] = ["503", "ok"]
    service.retry_after = None
    report = download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=1, **{**FAST, "backoff": 2.0})
    assert report.n_ok == 1 and service.count(10.0) == 2
    assert len(waits) == 1 and 1.0 <= waits[0] < 3.0  # the back-off: no Retry-After was sent


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [("7", 7.0, 7.0), ("0", 0.0, 0.0), ("3600", 60.0, 60.0), ("soon", 0.005, 0.015)],
    ids=["seconds", "zero", "capped", "unparsable-uses-backoff"],
)
def test_retry_after_is_honoured(service, tmp_path, waits, retry_after, low, high):
    service.script[10.0] = ["429", "503", "ok"]
    service.retry_after = retry_after
    start = time.monotonic()
    report = download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=2, **FAST)
    assert report.n_ok == 1 and service.count(10.0) == 3
    assert len(waits) == 2 and low <= waits[0] <= high, waits
    if retry_after.isdigit():
        assert waits[1] == waits[0]  # the 503 asked for the same
    assert time.monotonic() - start < 5  # recorded, not slept


def test_retry_after_http_date(service, tmp_path, waits):
    service.script[10.0] = ["503", "ok"]
    service.retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=1, **FAST).n_ok == 1
    assert len(waits) == 1 and 20 < waits[0] <= 31


def test_giving_up_names_the_address_and_the_status(service, tmp_path, waits):
    service.script[10.0] = ["503"]
    with pytest.raises(GalvaeDownloadError) as info:
        download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=2, strict=True, **FAST)
    assert isinstance(info.value, GalvaeError)
    message = str(info.value)
    assert message.startswith(cutout_url(10.0, 0.5, size=SIZE, base_url=service.url) + ": g0: ")
    assert "HTTP 503 Service Unavailable (after 3 attempts)" in message
    assert service.count(10.0) == 3 and len(waits) == 2


def test_redirect_does_not_spend_a_retry(service, tmp_path):
    service.script[10.0] = ["redirect", "ok"]
    report = download_cutouts(catalog(1), tmp_path, base_url=service.url, retries=0, **FAST)
    assert report.n_ok == 1 and service.count(10.0) == 2


def test_strict_failure_cuts_short_another_targets_wait(service, tmp_path):
    service.script[10.0] = ["404"]
    service.script[11.0] = ["503"]
    service.retry_after = "60"
    service.delay = 0.2  # both requests are in flight before the 404 comes back
    start = time.monotonic()
    with pytest.raises(GalvaeDownloadError, match="g0: HTTP 404"):
        download_cutouts(catalog(2), tmp_path, base_url=service.url, retries=3, strict=True, max_connections=2, **FAST)
    assert time.monotonic() - start < 10  # not the 60 s that g1's Retry-After asked for


def test_retries_logged_by_galvae_not_by_urllib3(tmp_path, caplog):
    with QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as server:
        port = server.server_address[1]
    caplog.set_level(logging.INFO)
    download_cutouts(catalog(1), tmp_path, base_url=f"http://127.0.0.1:{port}", retries=1, **FAST)
    assert not [r for r in caplog.records if r.name.startswith("urllib3") and r.levelno >= logging.WARNING]
    assert any(
        r.name == "galvae.data.download" and "connection error" in r.getMessage() and "retry 1" in r.getMessage()
        for r in caplog.records
    )


# ---------------------------------------------------------------------------
# resumable cache, concurrency
# ---------------------------------------------------------------------------


def test_resume_skips_complete_files_and_ignores_stale_part(service, tmp_path):
    service.script[12.0] = ["503"]
    service.retry_after = "0"
    first = download_cutouts(catalog(3), tmp_path, base_url=service.url, retries=0, **FAST)
    assert first.counts == {"ok": 2, "cached": 0, "empty": 0, "failed": 1}
    (tmp_path / "g2.fits.part").write_bytes(cutout_bytes(99.0, SIZE)[:100])  # a killed earlier run
    service.requests.clear()
    service.script[12.0] = ["ok"]
    second = download_cutouts(catalog(3), tmp_path, base_url=service.url, retries=0, **FAST)
    assert second.counts == {"ok": 1, "cached": 2, "empty": 0, "failed": 0}
    assert [float(q["ra"]) for q in service.requests] == [12.0]
    assert not (tmp_path / "g2.fits.part").exists()
    with fits.open(tmp_path / "g2.fits") as hdul:
        assert hdul[0].data[0, 0, 0] == 12.0
    manifest = pd.read_parquet(second.manifest)
    assert manifest["status"].tolist() == ["cached", "cached", "ok"]
    assert manifest["file"].tolist() == ["g0.fits", "g1.fits", "g2.fits"]
    service.requests.clear()
    third = download_cutouts(catalog(3), tmp_path, base_url=service.url, **FAST)
    assert third.n_cached == 3 and service.requests == []
    fourth = download_cutouts(catalog(3), tmp_path, base_url=service.url, overwrite=True, **FAST)
    assert fourth.n_ok == 3 and len(service.requests) == 3


def test_directory_of_another_size_is_refused(service, tmp_path):
    download_cutouts(catalog(1), tmp_path, base_url=service.url, **FAST)
    with pytest.raises(GalvaeValueError, match=r"holds cutouts with \{'size': 16\}.*another directory"):
        download_cutouts(catalog(1), tmp_path, base_url=service.url, **{**FAST, "size": 24})
    with pytest.raises(GalvaeValueError, match="'layer': 'ls-dr9-south'"):
        download_cutouts(catalog(1), tmp_path, base_url=service.url, layer="ls-dr9-north", **FAST)


def test_concurrency_is_bounded(service, tmp_path):
    service.delay = 0.15
    report = download_cutouts(catalog(10), tmp_path, base_url=service.url, max_connections=3, **FAST)
    assert report.n_ok == 10 and len(service.requests) == 10
    assert service.max_inflight == 3


def test_single_connection_is_sequential(service, tmp_path):
    service.delay = 0.05
    download_cutouts(catalog(4), tmp_path, base_url=service.url, max_connections=1, **FAST)
    assert service.max_inflight == 1


def test_write_error_stops_the_run(service, tmp_path, monkeypatch):
    def refuse(body, path):
        raise GalvaeFileError(path, "cannot write cutout: No space left on device")

    monkeypatch.setattr(dl, "_save", refuse)
    # every write fails; which galaxy's error surfaces first depends on thread scheduling (g0 or g1 seen)
    with pytest.raises(GalvaeFileError, match=r"g\d\.fits: cannot write cutout: No space left"):
        download_cutouts(catalog(10), tmp_path, base_url=service.url, max_connections=1, **FAST)
    assert len(service.requests) < 10
    assert not (tmp_path / "catalog.parquet").exists()


def test_progress_bar_ticks_once_per_galaxy(service, tmp_path, capsys):
    download_cutouts(catalog(2), tmp_path, base_url=service.url, **{**FAST, "progress": True})
    err = capsys.readouterr().err
    assert "download ls-dr9-south" in err and "2/2" in err


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------


def test_bad_layer(tmp_path):
    accepted = r"accepted: 'ls-dr9-south', 'ls-dr9-north', 'ls-dr10'"
    with pytest.raises(GalvaeValueError, match=r"layer .*'ls-dr8'.*" + accepted):
        download_cutouts(catalog(1), tmp_path, layer="ls-dr8", progress=False)


def test_missing_ra_column(tmp_path):
    with pytest.raises(GalvaeValueError, match=r"no 'ra' column \(degrees\); accepted: 'id', 'dec'"):
        download_cutouts(catalog(1).drop(columns="ra"), tmp_path, progress=False)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("ra", 361.0, r"'ra' must hold finite ra in \[0, 360\].*first id 'g1'"),
        ("dec", -91.0, r"'dec' must hold finite dec in \[-90, 90\]"),
        ("dec", np.nan, "1 row"),
        ("ra", "north", "finite ra"),
    ],
)
def test_coordinates_out_of_range(column, value, message):
    cat = catalog(2).astype({column: object})
    cat.loc[1, column] = value
    with pytest.raises(GalvaeValueError, match=message):
        read_targets(cat)


def test_ids_checked():
    with pytest.raises(GalvaeValueError, match="ids must be unique.*'a'"):
        read_targets(pd.DataFrame({"id": ["a", "a"], "ra": [1.0, 2.0], "dec": [0.0, 0.0]}))
    with pytest.raises(GalvaeValueError, match="no rows"):
        read_targets(catalog(0))
    with pytest.raises(GalvaeValueError, match="DataFrame or a path.*'list'"):
        read_targets([1, 2])


def test_cutout_path_sanitises_and_refuses_escapes(tmp_path):
    assert cutout_path(tmp_path, "J112953.88-000427.4") == tmp_path / "J112953.88-000427.4.fits"
    assert cutout_path(tmp_path, "NGC 4414/b") == tmp_path / "NGC_4414_b.fits"
    assert cutout_path(tmp_path, ".hidden") == tmp_path / "_hidden.fits"
    for bad in ["../escape", "/etc/passwd", "a/../../b", "C:\\x", ".."]:
        with pytest.raises(GalvaeValueError, match="outside the output directory"):
            cutout_path(tmp_path, bad)
    with pytest.raises(GalvaeValueError, match="empty"):
        cutout_path(tmp_path, "  ")


def test_ids_mapping_to_one_file_are_refused(tmp_path):
    cat = pd.DataFrame({"id": ["a b", "a_b"], "ra": [1.0, 2.0], "dec": [0.0, 0.0]})
    with pytest.raises(GalvaeValueError, match="same file name.*'a b', 'a_b'"):
        download_cutouts(cat, tmp_path, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_connections": 0}, "max_connections must be an integer between 1 and 32"),
        ({"max_connections": 100}, "between 1 and 32"),
        ({"retries": -1}, "retries must be a non-negative"),
        ({"timeout": 0}, "timeout must be a positive"),
        ({"backoff": float("nan")}, "backoff"),
        ({"size": 0}, "size must be a positive integer"),
        ({"pixscale": -0.262}, "pixscale must be a positive"),
        ({"base_url": "ftp://example.org"}, "base_url must be an http"),
    ],
)
def test_bad_parameters(tmp_path, kwargs, message):
    with pytest.raises(GalvaeValueError, match=message):
        download_cutouts(catalog(1), tmp_path / "never", **{"progress": False, **kwargs})
    assert not (tmp_path / "never").exists()


def test_missing_catalogue_file(tmp_path):
    with pytest.raises(GalvaeFileError, match="nope.csv: catalogue file not found"):
        download_cutouts(tmp_path / "nope.csv", tmp_path, progress=False)


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def test_cli_end_to_end(service, tmp_path, capsys):
    service.script[11.0] = ["404"]
    cat = tmp_path / "cat.parquet"
    catalog(3).to_parquet(cat)
    out = tmp_path / "north"
    rc = main(
        [
            "-q",
            "download",
            str(cat),
            "--layer",
            "ls-dr9-north",
            "--size",
            str(SIZE),
            "--out",
            str(out),
            "--base-url",
            service.url,
            "--connections",
            "2",
            "--retries",
            "1",
            "--backoff",
            "0.01",
        ]
    )
    stdout = capsys.readouterr().out
    assert rc == 0
    assert "3 targets, layer ls-dr9-north: ok 2, cached 0, empty 0, failed 1" in stdout
    assert "failed g1: HTTP 404 Not Found" in stdout
    assert f"manifest: {out / 'catalog.parquet'}" in stdout
    assert {q["layer"] for q in service.requests} == {"ls-dr9-north"}
    assert sorted(p.name for p in out.glob("*.fits")) == ["g0.fits", "g2.fits"]


def test_cli_all_failed_exits_2(service, tmp_path, capsys):
    service.script[10.0] = ["403"]
    cat = tmp_path / "cat.csv"
    catalog(1).to_csv(cat, index=False)
    rc = main(
        ["-q", "download", str(cat), "--out", str(tmp_path / "o"), "--base-url", service.url, "--size", str(SIZE)]
    )
    captured = capsys.readouterr()
    assert rc == 2
    assert "failed g0: HTTP 403 Forbidden" in captured.out
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith(f"galvae download: error: {service.url}: all 1 downloads failed")
    assert "WARNING galvae.data.download: g0: HTTP 403 Forbidden (not retried)" in captured.err


def test_cli_all_empty_exits_2(service, tmp_path, capsys):
    service.script[10.0] = ["zero"]
    cat = tmp_path / "cat.csv"
    catalog(1).to_csv(cat, index=False)
    rc = main(
        ["-q", "download", str(cat), "--out", str(tmp_path / "o"), "--base-url", service.url, "--size", str(SIZE)]
    )
    assert rc == 2
    assert "no target lies in the footprint of layer ls-dr9-south" in capsys.readouterr().err


def test_cli_dry_run_prints_urls_and_downloads_nothing(service, tmp_path, capsys):
    cat = tmp_path / "cat.csv"
    catalog(7).to_csv(cat, index=False)
    out = tmp_path / "dry"
    rc = main(["download", str(cat), "--out", str(out), "--base-url", service.url, "--dry-run"])
    stdout = capsys.readouterr().out
    assert rc == 0
    assert "7 targets; 0 already in" in stdout and "would download 7" in stdout
    assert stdout.count(f"{service.url}/fits-cutout?ra=") == 5 and "... and 2 more" in stdout
    assert "size=64&bands=grz" in stdout
    assert service.requests == [] and not out.exists()


def test_cli_bad_layer_is_one_line_without_traceback(tmp_path):
    cat = tmp_path / "cat.csv"
    catalog(1).to_csv(cat, index=False)
    proc = subprocess.run(
        [sys.executable, "-m", "galvae", "download", str(cat), "--out", str(tmp_path / "o"), "--layer", "decals"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "galvae download: error: layer is not a Legacy Survey layer with g, r, z (got 'decals'); "
        "accepted: 'ls-dr9-south', 'ls-dr9-north', 'ls-dr10'"
    ]
    assert "Traceback" not in proc.stderr
