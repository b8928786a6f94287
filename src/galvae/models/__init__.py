"""Network pieces: encoder/decoder blocks and the VAE of the paper.

Names are imported on first use (PEP 562), so ``galvae.models.config`` can be
read without importing torch (the CLI's options take their defaults from
:class:`ModelConfig`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .blocks import DecoderBlock, EncoderBlock, make_activation
    from .config import ModelConfig
    from .vae import VAE, reparameterise

_LAZY: dict[str, str] = {
    "VAE": ".vae",
    "reparameterise": ".vae",
    "ModelConfig": ".config",
    "EncoderBlock": ".blocks",
    "DecoderBlock": ".blocks",
    "make_activation": ".blocks",
}

__all__ = ["VAE", "ModelConfig", "EncoderBlock", "DecoderBlock", "make_activation", "reparameterise"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
