"""Serve an explorer page over HTTP on this machine (``galvae explore --serve``).

The page works from ``file://`` too; a server is for a browser on another
machine through an SSH tunnel (``ssh -L 8000:127.0.0.1:8000 host``) or for
browsers that restrict local files.  It binds to 127.0.0.1 only, so the
page is never exposed to the network.
"""

from __future__ import annotations

import functools
import logging
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .._validate import check_int
from ..errors import GalvaeFileError

__all__ = ["HOST", "make_server", "serve"]

log = logging.getLogger(__name__)

#: The only address the server binds to.
HOST = "127.0.0.1"


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static files, requests logged to galvae's logger at DEBUG instead of standard error."""

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def make_server(directory: str | os.PathLike[str], port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server of ``directory`` on 127.0.0.1 (not started: call ``serve_forever``).

    Parameters
    ----------
    directory : path
        An explorer page's directory (holding ``index.html``).
    port : int, default 8000
        0 picks a free port (read it from ``server.server_address[1]``).

    Returns
    -------
    http.server.ThreadingHTTPServer

    Raises
    ------
    GalvaeFileError
        If ``directory`` holds no ``index.html``.
    GalvaeValueError
        On a port outside 0–65535.
    OSError
        If the port is taken.
    """
    d = Path(directory)
    if not (d / "index.html").is_file():
        raise GalvaeFileError(d, "holds no index.html (build the page with galvae explore first)")
    port = check_int("port", port, minimum=0, maximum=65535)
    handler = functools.partial(_QuietHandler, directory=str(d))
    return ThreadingHTTPServer((HOST, port), handler)


def serve(directory: str | os.PathLike[str], port: int = 8000) -> None:
    """Serve ``directory`` on http://127.0.0.1:PORT/ until interrupted (Ctrl-C).

    Raises
    ------
    GalvaeFileError, GalvaeValueError, OSError
        As :func:`make_server`.
    """
    server = make_server(directory, port)
    host, bound = server.server_address[:2]
    log.info("serving %s at http://%s:%d/", directory, host, bound)
    try:
        server.serve_forever()
    finally:
        server.server_close()
