"""Network pieces: encoder/decoder blocks and the VAE of the paper.

Names are imported on first use (PEP 562), so ``galvae.models.config`` can be
read without importing torch (the CLI's options take their defaults from
:class:`ModelConfig`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from .blocks import DecoderBlock, EncoderBlock, make_activation
    from .config import ModelConfig
    from .layout import to_network_layout, to_network_module
    from .vae import VAE, reparameterise

_LAZY: dict[str, str] = {
    "VAE": ".vae",
    "reparameterise": ".vae",
    "ModelConfig": ".config",
    "EncoderBlock": ".blocks",
    "DecoderBlock": ".blocks",
    "make_activation": ".blocks",
    "to_network_layout": ".layout",
    "to_network_module": ".layout",
}

__all__ = [
    "VAE",
    "ModelConfig",
    "EncoderBlock",
    "DecoderBlock",
    "make_activation",
    "reparameterise",
    "to_network_layout",
    "to_network_module",
]


__getattr__, __dir__ = attach(__name__, _LAZY, globals(), __all__)
