"""Headless Chromium for the report tests (Debian's ``chromium`` package, installed by the setup command)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["ARTIFACTS", "chromium_run", "find_chromium", "images_loaded"]

#: Where browser screenshots are kept as test artefacts (git-ignored).
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def find_chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; CI must install it (Debian package 'chromium')")
        pytest.skip("chromium is not installed")
    return exe


def chromium_run(exe: str, page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            *extra,
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def images_loaded(exe: str, page: Path, tmp: Path) -> tuple[int, int]:
    """(total, loaded) images counted by the report's own script after the load event."""
    res = chromium_run(exe, page, tmp, "--dump-dom")
    assert res.returncode == 0, res.stderr[-2000:]
    body = re.search(r"<body[^>]*>", res.stdout)
    assert body is not None, res.stdout[:500]
    total = re.search(r'data-images-total="(\d+)"', body.group(0))
    loaded = re.search(r'data-images-loaded="(\d+)"', body.group(0))
    assert total and loaded, f"the load script did not run: {body.group(0)}"
    return int(total.group(1)), int(loaded.group(1))
