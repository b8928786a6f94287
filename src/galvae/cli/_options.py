"""Command-line options read from the config dataclasses, so each default and choice list is written once.

:func:`add_config_option` adds the option of one dataclass field: its
default is the field's, its type the field's (``int``, ``float``, ``str``,
or one of them or None), its choices those of a ``Literal[...]``
annotation or of ``metadata={"choices": ...}``.  The help text is the
command's own; ``(default X)`` is added to it unless it already shows
``%(default)s``.

Some config modules import heavy packages (``galvae.simulate.core`` imports
GalSim; ``galvae.demo`` imports the evaluation code), so :func:`add_later`
adds a command's options the first time its parser is used, and
``galvae --help`` and the other commands start as fast as before.
``galvae.models`` and ``galvae.training`` import their names on first use,
so their config modules come without torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, Literal

__all__ = ["add_config_option", "add_later", "comma_floats"]


def comma_floats(text: str) -> tuple[float, ...]:
    """An argparse ``type``: ``"1,1,0.5"`` -> ``(1.0, 1.0, 0.5)`` (how many, and their range, the config checks)."""
    try:
        return tuple(float(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _field(config: type, name: str) -> dataclasses.Field:
    for f in dataclasses.fields(config):
        if f.name == name:
            return f
    raise TypeError(f"{config.__name__} has no field {name!r}")


def _type_and_choices(config: type, f: dataclasses.Field) -> tuple[type | None, tuple[Any, ...] | None]:
    hint = typing.get_type_hints(config)[f.name]
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args and len(args) == 2:
        hint = next(a for a in args if a is not type(None))  # int | None: an int option whose default is None
        args = typing.get_args(hint)
    if typing.get_origin(hint) is Literal:
        kinds = {type(a) for a in args}
        if len(kinds) != 1:
            raise TypeError(f"{f.name}: Literal choices of one type only, got {args!r}")
        return kinds.pop(), args
    if hint in (int, float, str):
        return hint, f.metadata.get("choices")
    raise TypeError(f"{f.name}: no command-line type for {hint!r}; add the option by hand")


def add_config_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    config: type,
    name: str,
    *flags: str,
    help: str,
    **kwargs: Any,
) -> argparse.Action:
    """Add the option of field ``name`` of dataclass ``config`` to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    config : dataclass type
        E.g. :class:`~galvae.models.config.ModelConfig`.
    name : str
        The field.
    *flags : str
        The option strings; default ``--<name with dashes>``.
    help : str
        What the option does; ``" (default %(default)s)"`` is appended
        unless it holds ``%(default)`` already or the default is None.
    **kwargs
        Passed to ``add_argument`` (``metavar``, ``dest``, ...); they
        override what the field gives.

    Returns
    -------
    argparse.Action
        With ``config_field = (config, name)``.

    Raises
    ------
    TypeError
        If ``config`` has no such field, or its annotation is not
        ``int``, ``float``, ``str``, a ``Literal`` or one of them or None.
    """
    f = _field(config, name)
    if f.default is dataclasses.MISSING:
        raise TypeError(f"{config.__name__}.{name} has no default")
    kind, choices = _type_and_choices(config, f)
    if f.default is not None and "%(default)" not in help:
        help = f"{help} (default %(default)s)"
    options: dict[str, Any] = {"default": f.default, "help": help}
    if kind is not str:
        options["type"] = kind
    if choices is not None:
        options["choices"] = tuple(choices)
    options.update(kwargs)
    action = parser.add_argument(*(flags or (f"--{name.replace('_', '-')}",)), **options)
    action.config_field = (config, name)  # type: ignore[attr-defined]  # for the tests: which field it mirrors
    return action


class _LateParser(argparse.ArgumentParser):
    """An ArgumentParser that runs its pending ``add`` functions before its first use.

    ``add_argument`` calls made while some are pending (``-v``, ``-q`` and
    ``--debug``, which :func:`galvae.cli.build_parser` adds to every command)
    wait their turn behind them, so ``--help`` lists the options in the
    order they were given.
    """

    _galvae_pending: list[Callable[[argparse.ArgumentParser], Any]]

    def _add_pending(self) -> None:
        pending, self._galvae_pending = self._galvae_pending, []
        for add in pending:
            add(self)

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "_galvae_pending", None):
            self._galvae_pending.append(lambda p: argparse.ArgumentParser.add_argument(p, *args, **kwargs))
            return None
        return super().add_argument(*args, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._add_pending()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._add_pending()
        return super().format_usage()

    def format_help(self) -> str:
        self._add_pending()
        return super().format_help()


def add_later(parser: argparse.ArgumentParser, add: Callable[[argparse.ArgumentParser], None]) -> None:
    """Run ``add(parser)`` when ``parser`` first parses or prints its usage or help.

    For a subcommand whose options come from config dataclasses that are slow
    to import; the other subcommands never import them.
    """
    if type(parser) is argparse.ArgumentParser:
        parser.__class__ = _LateParser
        parser._galvae_pending = []  # type: ignore[attr-defined]
    elif not isinstance(parser, _LateParser):
        raise TypeError(f"add_later needs an argparse.ArgumentParser, got {type(parser).__name__}")
    parser._galvae_pending.append(add)  # type: ignore[attr-defined]
