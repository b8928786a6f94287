"""The ``galvae`` command line: argument parsing, logging, progress and one-line errors.

Each subcommand lives in its own small module of this package, exposing
``register(subparsers)``, which adds its parser and sets ``func`` to a
function ``run(args) -> int``.  The work itself is done by the public Python
API; these modules only translate arguments.

Errors from galvae (:class:`galvae.errors.GalvaeError`) and operating-system
errors are printed as one line on standard error with exit status 2; an
interrupt exits with 130, a run pre-empted by SIGTERM/SIGUSR1 after writing
its checkpoint (:class:`galvae.errors.GalvaeInterruptedError`, e.g. inside
``galvae sweep`` or ``galvae demo``) with 128 + the signal's number.  Running
out of memory is one line with status 2 too, and any other exception -- a bug
in galvae -- one line naming its type with status 1.  No traceback is ever
printed unless ``--debug`` asks for it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import GalvaeError, GalvaeInterruptedError

__all__ = ["main", "build_parser", "COMMANDS"]

#: Subcommand modules, in the order ``galvae --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "demo",
    "simulate",
    "realism",
    "spirals",
    "download",
    "ingest",
    "labels",
    "info",
    "train",
    "encode",
    "reconstruct",
    "generate",
    "export",
    "sweep",
    "classify",
    "outliers",
    "similar",
    "explore",
    "adapt",
    "compare_domains",
    "translate",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="galvae",
        description=(
            "Variational autoencoders and domain adaptation for galaxy images (g, r, z) "
            "across the DESI Legacy Imaging Surveys."
        ),
    )
    parser.add_argument("--version", action="version", version=f"galvae {__version__}")
    _add_common(parser, None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    for subparser in sub.choices.values():  # the same flags are accepted after the subcommand
        _add_common(subparser, argparse.SUPPRESS)
    return parser


def _add_common(parser: argparse.ArgumentParser, default: object) -> None:
    verbose = 0 if default is None else default
    flag = False if default is None else default
    parser.add_argument("-v", "--verbose", action="count", default=verbose, help="more log output (-vv for debug)")
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=flag, help="no progress bars, warnings and errors only"
    )
    parser.add_argument("--debug", action="store_true", default=flag, help="show full tracebacks on errors")


class _StderrHandler(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is at emit time.

    Binding the stream once (``StreamHandler(sys.stderr)``) would keep a
    stream that a caller may have replaced and closed since, such as
    pytest's capture of standard error when ``main`` runs in-process.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:  # StreamHandler.__init__ assigns it
        pass


def _setup_logging(verbose: int, quiet: bool) -> tuple[logging.Handler, int]:
    """Attach galvae's handler to the root logger; return it and the root's previous level.

    The root logger (not only ``galvae``) gets it so that Lightning's and
    Python's warnings are shown in the same format.  :func:`main` removes it
    again when it returns, so an in-process caller keeps its own logging.
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    if quiet:
        level = logging.WARNING
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    return handler, previous


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler, previous_level = _setup_logging(args.verbose, args.quiet)
    args.progress = not args.quiet
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"galvae {args.command}: interrupted", file=sys.stderr)
        return 130
    except GalvaeInterruptedError as exc:  # pre-empted (SIGTERM/SIGUSR1) with a checkpoint: not an error
        print(f"galvae {args.command}: {exc}", file=sys.stderr)
        return exc.exit_status
    except (GalvaeError, OSError) as exc:
        if args.debug:
            raise
        msg = str(exc).replace("\n", " ")
        print(f"galvae {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except MemoryError:
        if args.debug:
            raise
        print(
            f"galvae {args.command}: error: out of memory (a smaller batch size or fewer workers may help; "
            "--debug shows where)",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:  # a bug: still one line, the traceback only with --debug
        if args.debug:
            raise
        msg = str(exc).replace("\n", " ")
        print(
            f"galvae {args.command}: internal error: {type(exc).__name__}: {msg} "
            "(a bug in galvae: rerun with --debug for the traceback and please report it)",
            file=sys.stderr,
        )
        return 1
    finally:
        root = logging.getLogger()
        root.removeHandler(handler)
        root.setLevel(previous_level)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
