"""Architecture configuration of the VAE (a frozen dataclass saved with each run)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import GalvaeValueError

__all__ = ["ModelConfig", "ACTIVATIONS", "LOSSES"]

#: Activation names accepted by :class:`ModelConfig`.
ACTIVATIONS: tuple[str, ...] = ("leaky_relu", "relu")
#: Reconstruction losses accepted by :class:`ModelConfig`.
LOSSES: tuple[str, ...] = ("mse", "mae")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and loss of the convolutional VAE.

    The defaults are the paper's model (Section 3.1, Fig. 2); every other
    value is a variant.

    Parameters
    ----------
    size : int, default 64
        Image side S in pixels; a multiple of ``2 ** len(channels)`` (8 for
        the default three blocks).
    latent_dim : int, default 40
        Latent dimension NL.
    channels : tuple of int, default (32, 64, 128)
        Output channels of the encoder blocks; the decoder mirrors them
        (input channels 128, 64, 32; the last block keeps 32).
    activation : {"leaky_relu", "relu"}, default "leaky_relu"
        Activation of the encoder and decoder blocks.  The paper does not
        name it; LeakyReLU (slope 0.01) avoids dead units on the many
        zero-valued sky pixels of asinh-stretched images.  The final layer
        is always a ReLU, as in the paper.
    loss : {"mse", "mae"}, default "mse"
        Reconstruction loss, summed over a galaxy's pixels (see
        :func:`galvae.losses.elbo_loss`).
    kl_weight : float, default 1.0
        k, the weight of the KL term (the paper's eq. 2 has k = 1).
    kl_warmup_epochs : int, default 0
        β-schedule variant: ramp k linearly from 0 over this many epochs.
        0 (the paper) uses k from the first step.

    Raises
    ------
    GalvaeValueError
        On a size that is not a positive multiple of ``2 ** len(channels)``,
        a non-positive latent dimension or channel count, an unknown
        activation or loss, or a negative k or warm-up.
    """

    size: int = 64
    latent_dim: int = 40
    channels: tuple[int, ...] = (32, 64, 128)
    activation: Literal["leaky_relu", "relu"] = "leaky_relu"
    loss: Literal["mse", "mae"] = "mse"
    kl_weight: float = 1.0
    kl_warmup_epochs: int = 0

    def __post_init__(self) -> None:
        chans = tuple(self.channels)
        if not chans or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in chans):
            raise GalvaeValueError("channels must be a non-empty tuple of positive integers", self.channels)
        object.__setattr__(self, "channels", chans)
        step = 2 ** len(chans)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < step or self.size % step:
            raise GalvaeValueError(
                f"image size must be a positive multiple of {step} (the encoder halves it {len(chans)} times)",
                self.size,
            )
        if isinstance(self.latent_dim, bool) or not isinstance(self.latent_dim, int) or self.latent_dim < 1:
            raise GalvaeValueError("latent_dim must be a positive integer", self.latent_dim)
        if self.activation not in ACTIVATIONS:
            raise GalvaeValueError("activation", self.activation, ACTIVATIONS)
        if self.loss not in LOSSES:
            raise GalvaeValueError("unknown reconstruction loss", self.loss, LOSSES)
        if not float(self.kl_weight) >= 0:
            raise GalvaeValueError("kl_weight (k) must be a non-negative number", self.kl_weight)
        object.__setattr__(self, "kl_weight", float(self.kl_weight))
        if isinstance(self.kl_warmup_epochs, bool) or not isinstance(self.kl_warmup_epochs, int) or self.kl_warmup_epochs < 0:
            raise GalvaeValueError("kl_warmup_epochs must be a non-negative integer", self.kl_warmup_epochs)
