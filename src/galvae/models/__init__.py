"""Network pieces: encoder/decoder blocks and the VAE of the paper."""

from __future__ import annotations

from .blocks import DecoderBlock, EncoderBlock, make_activation
from .config import ModelConfig
from .vae import VAE, reparameterise

__all__ = ["VAE", "ModelConfig", "EncoderBlock", "DecoderBlock", "make_activation", "reparameterise"]
