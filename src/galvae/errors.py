"""The galvae exception family.

Every error galvae raises on purpose derives from :class:`GalvaeError`, so a
caller can catch them all at once, and also from the matching built-in
exception (``ValueError``, ``OSError``, ``KeyError``), so code written for the
built-ins keeps working.  Messages name the parameter or file, the bad value
and what is accepted, following GalSim's ``errors.py``.

The command-line interface prints ``str(error)`` of any :class:`GalvaeError`
on one line of standard error and exits with status 2.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from typing import Any

__all__ = [
    "GalvaeError",
    "GalvaeValueError",
    "GalvaeFileError",
    "GalvaeKeyError",
    "GalvaeDownloadError",
    "GalvaeInterruptedError",
]


def _fmt_allowed(allowed: Any) -> str:
    if isinstance(allowed, str):
        return allowed
    if isinstance(allowed, Iterable):
        return ", ".join(repr(a) for a in allowed)
    return repr(allowed)


class GalvaeError(RuntimeError):
    """Base class of every error galvae raises on purpose."""


class GalvaeValueError(GalvaeError, ValueError):
    """A parameter or data value is not acceptable.

    Parameters
    ----------
    message : str
        What is wrong, naming the parameter.
    value : object, optional
        The offending value; appended to the message as ``got <value>``.
    allowed : str or iterable, optional
        What would have been accepted; appended as ``accepted: ...``.
    """

    def __init__(self, message: str, value: Any = None, allowed: Any = None) -> None:
        self.message = message
        self.value = value
        self.allowed = allowed
        text = message
        if value is not None:
            text += f" (got {value!r})"
        if allowed is not None:
            text += f"; accepted: {_fmt_allowed(allowed)}"
        super().__init__(text)


class GalvaeFileError(GalvaeError, OSError):
    """A file is missing, unreadable, truncated or holds the wrong thing.

    Parameters
    ----------
    path : str or os.PathLike
        The file concerned; it starts the message.
    message : str
        What is wrong with it.
    """

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        self.path = os.fspath(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")

    def __str__(self) -> str:  # OSError's own __str__ would show errno fields
        return f"{self.path}: {self.message}"


class GalvaeKeyError(GalvaeError, KeyError):
    """A named item (column, id, survey, band) is not present."""

    def __init__(self, message: str, key: Any = None, available: Any = None) -> None:
        self.message = message
        self.key = key
        self.available = available
        text = message
        if key is not None:
            text += f" (got {key!r})"
        if available is not None:
            text += f"; available: {_fmt_allowed(available)}"
        self.text = text
        super().__init__(text)

    def __str__(self) -> str:  # KeyError's own __str__ would add quotes
        return self.text


class GalvaeDownloadError(GalvaeError, OSError):
    """A download failed after its retries.

    Parameters
    ----------
    url : str
        The address that failed.
    message : str
        Why (HTTP status, time-out, truncated body, ...).
    """

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.message = message
        super().__init__(f"{url}: {message}")

    def __str__(self) -> str:
        return f"{self.url}: {self.message}"


class GalvaeInterruptedError(GalvaeError):
    """Training stopped on a signal (SIGTERM, SIGUSR1) after writing a checkpoint to resume from.

    Not a failure of the run: ``resume=True`` (``--resume``) continues it.
    The command line prints the message on one line and exits with
    ``128 + signal number`` (143 for SIGTERM), the status of a process
    ended by that signal.

    Parameters
    ----------
    message : str
        Where it stopped and what to do.
    signal_name : str
        ``"SIGTERM"`` or ``"SIGUSR1"``.
    checkpoint : str or os.PathLike, optional
        The checkpoint written (None if none could be).
    """

    def __init__(self, message: str, signal_name: str, checkpoint: str | os.PathLike[str] | None = None) -> None:
        self.message = message
        self.signal_name = signal_name
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        super().__init__(message)

    @property
    def exit_status(self) -> int:
        """``128 + signal number``, or 1 for a name that is not a signal here."""
        number = getattr(signal, self.signal_name, None)
        return 128 + int(number) if number is not None else 1
