"""The convolutional variational autoencoder of the paper (Section 3.1, Fig. 2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..config import BANDS
from .blocks import DecoderBlock, DecoderOutput, EncoderBlock
from .config import ModelConfig

__all__ = ["VAE", "reparameterise", "INFERENCE_CHUNK", "in_inference_chunks", "by_inference_chunks"]

#: Without gradients on the CPU, :meth:`VAE.encode` and :meth:`VAE.decode` pass a larger batch through the
#: network this many images at a time. A chunk's activations then stay in the CPU's caches: on the 2-core
#: AMD EPYC of ``benchmarks/run.md`` (S = 64, NL = 40, channels-last) encoding runs at 1690 images/s in
#: chunks of 32 against 975 in one batch of 256 (bf16: 3535 against 1636); decoding in bf16 3988 against
#: 2165, in fp32 about the same. With no batch normalisation the results do not depend on the chunking,
#: up to the rounding of the kernels chosen for each batch size. Training and GPUs are left alone.
INFERENCE_CHUNK = 32


def in_inference_chunks(x: torch.Tensor) -> bool:
    """Whether a batch ``x`` goes through the network in chunks (see :data:`INFERENCE_CHUNK`)."""
    return x.shape[0] > INFERENCE_CHUNK and x.device.type == "cpu" and not torch.is_grad_enabled()


def by_inference_chunks(fn: Callable[[torch.Tensor], Any], x: torch.Tensor) -> Any:
    """``fn(x)`` computed on chunks of :data:`INFERENCE_CHUNK` rows and concatenated (a tuple element-wise)."""
    parts = [fn(c) for c in x.split(INFERENCE_CHUNK)]
    if isinstance(parts[0], tuple):
        return tuple(torch.cat(p) for p in zip(*parts, strict=True))
    return torch.cat(parts)


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw z = μ + σ ε with ε ~ N(0, I) (the reparameterisation trick).

    Parameters
    ----------
    mu, logvar : Tensor, shape (N, NL)
        Mean and log-variance log σ² of q(z | x).
    generator : torch.Generator, optional
        Source of ε; the global torch generator when omitted (seeded by the
        trainer).
    """
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


class VAE(nn.Module):
    """Encoder (3 × conv → max-pool → activation; 32, 64, 128 channels), two
    linear heads for μ and log σ², and a mirrored decoder (3 × transposed
    conv → upsample → activation, taking 128, 64 and 32 channels) with a
    final 3×3 convolution + ReLU back to (3, S, S) (``output="linear"``: no ReLU; clamped at 0 in eval mode).

    Parameters
    ----------
    config : ModelConfig, optional
        Architecture; the paper's defaults when omitted.

    Notes
    -----
    No batch normalisation or dropout, so in eval mode an image's μ does not
    depend on the other images of its batch.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or ModelConfig()
        chans = cfg.channels
        nb = len(BANDS)
        enc, c_in = [], nb
        for c in chans:
            enc.append(EncoderBlock(c_in, c, cfg.activation))
            c_in = c
        self.encoder = nn.Sequential(*enc)
        self.bottom = cfg.size // 2 ** len(chans)
        flat = chans[-1] * self.bottom * self.bottom
        self.fc_mu = nn.Linear(flat, cfg.latent_dim)
        self.fc_logvar = nn.Linear(flat, cfg.latent_dim)
        self.fc_decode = nn.Linear(cfg.latent_dim, flat)
        dec_in = list(reversed(chans))  # 128, 64, 32
        dec_out = dec_in[1:] + [chans[0]]  # 64, 32, 32
        self.decoder = nn.Sequential(
            *[DecoderBlock(i, o, cfg.activation) for i, o in zip(dec_in, dec_out, strict=True)]
        )
        self.final = DecoderOutput(chans[0], nb, cfg.output)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, 3, S, S) → (μ, log σ²), each (N, NL).

        Without gradients on the CPU, in chunks of :data:`INFERENCE_CHUNK` images.
        """
        if in_inference_chunks(x):
            return by_inference_chunks(self.encode, x)
        h = self.encoder(x).flatten(1)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (N, NL) → images (N, 3, S, S), non-negative with the paper's ReLU output.

        Without gradients on the CPU, in chunks of :data:`INFERENCE_CHUNK` latents.
        """
        if in_inference_chunks(z):
            return by_inference_chunks(self.decode, z)
        h = self.fc_decode(z).view(z.shape[0], self.config.channels[-1], self.bottom, self.bottom)
        return self.final(self.decoder(h))

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (reconstruction of a sampled z, μ, log σ²).

        In eval mode the decoder sees μ itself (no sampling), so
        reconstructions are deterministic.
        """
        mu, logvar = self.encode(x)
        z = reparameterise(mu, logvar, generator) if self.training else mu
        return self.decode(z), mu, logvar
