"""Names of a package imported on first use (PEP 562), for packages whose modules import torch.

``galvae.models`` and ``galvae.training`` use it so that their config modules
(read by the command line for its option defaults) come without torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["attach"]


def attach(
    package: str, names: Mapping[str, str], namespace: dict[str, Any], public: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, importing each of ``names`` when first read.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : mapping of str to str
        Attribute name -> module it lives in, relative to ``package`` (e.g. ``".config"``).
    namespace : dict
        The package's ``globals()``; a name read once is stored there, so later reads skip the hook.
    public : list of str
        The package's ``__all__``, listed by ``dir()`` before their first import.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *public})

    return __getattr__, __dir__
