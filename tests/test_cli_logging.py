"""The command line leaves the caller's logging as it found it (it may run in-process, as in these tests)."""

from __future__ import annotations

import io
import logging
import sys

from galvae.cli import main


def _state() -> tuple[list[logging.Handler], int, list[logging.Handler], int]:
    root, galvae_log = logging.getLogger(), logging.getLogger("galvae")
    return list(root.handlers), root.level, list(galvae_log.handlers), galvae_log.level


def test_main_leaves_no_handler_behind(tmp_path, capsys):
    before = _state()
    assert main(["info", str(tmp_path / "missing.h5")]) == 2
    assert _state() == before
    assert main(["-v", "info", str(tmp_path / "missing.h5")]) == 2
    assert _state() == before
    assert "missing.h5" in capsys.readouterr().err


def test_handler_writes_to_the_stderr_of_the_moment(monkeypatch):
    """A stream swapped in and closed since the handler was made is never written to."""
    from galvae.cli import _StderrHandler

    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    handler = _StderrHandler()
    record = logging.LogRecord("galvae.test", logging.WARNING, __file__, 1, "hello %s", ("there",), None)
    handler.emit(record)
    first.close()
    monkeypatch.setattr(sys, "stderr", second)
    handler.emit(record)
    assert second.getvalue() == "hello there\n"
