"""Encoder and decoder blocks of the paper's VAE (Fig. 2)."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import GalvaeValueError

__all__ = ["EncoderBlock", "DecoderBlock", "DecoderOutput", "make_activation"]


def make_activation(name: str) -> nn.Module:
    """Return the activation module called ``name`` ("leaky_relu" or "relu").

    Raises
    ------
    GalvaeValueError
        For any other name.
    """
    if name == "leaky_relu":
        return nn.LeakyReLU(0.01)
    if name == "relu":
        return nn.ReLU()
    raise GalvaeValueError("activation", name, ("leaky_relu", "relu"))


class EncoderBlock(nn.Sequential):
    """Conv2d (3×3, padding 1) → MaxPool2d(2) → activation; halves the side.

    Input (N, in_channels, H, W) → output (N, out_channels, H/2, W/2).
    """

    def __init__(self, in_channels: int, out_channels: int, activation: str = "leaky_relu") -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.MaxPool2d(2),
            make_activation(activation),
        )


class DecoderBlock(nn.Sequential):
    """ConvTranspose2d (3×3, stride 1, padding 1) → Upsample(×2, nearest) → activation.

    Input (N, in_channels, H, W) → output (N, out_channels, 2H, 2W).
    """

    def __init__(self, in_channels: int, out_channels: int, activation: str = "leaky_relu") -> None:
        super().__init__(
            nn.ConvTranspose2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1),
            nn.Upsample(scale_factor=2, mode="nearest"),
            make_activation(activation),
        )


class DecoderOutput(nn.Sequential):
    """The decoder's last layer: Conv2d (3×3, padding 1) to the bands, then the paper's ReLU or nothing.

    Input (N, in_channels, S, S) → output (N, out_channels, S, S).  With ``output="linear"`` (no ReLU, so
    that a strongly weighted band cannot die during training) the output is clamped at 0, the images'
    range, in eval mode: reconstructions and mocks are valid images, training sees the raw values.
    """

    def __init__(self, in_channels: int, out_channels: int, output: str = "relu") -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), *([nn.ReLU()] if output == "relu" else [])
        )
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images from the last block's features."""
        x = super().forward(x)
        return x.clamp_min(0.0) if self.output == "linear" and not self.training else x
