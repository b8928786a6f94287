"""The domain-adaptation network of the paper's Fig. 6: one encoder shared by
two surveys, and one decoder per survey.

The encoder (convolutional blocks + the μ and log σ² heads) maps images of
every survey into one latent space; each survey's decoder (linear layer +
transposed-convolution blocks + final convolution) renders a latent vector as
that survey would see the galaxy, so survey-specific detail (PSF, noise,
pixel resampling) can live in the decoders instead of the latents.

Parameter names follow :class:`galvae.models.VAE` (``encoder.*``, ``fc_mu.*``,
``fc_logvar.*`` for the shared part; ``decoders.<survey>.fc_decode.*``,
``.decoder.*``, ``.final.*`` per survey), so :meth:`DomainAdaptationVAE.from_vae`
and :meth:`DomainAdaptationVAE.to_vae` copy weights by name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import nn

from ..config import BANDS
from ..errors import GalvaeKeyError, GalvaeValueError
from .blocks import DecoderBlock, DecoderOutput, EncoderBlock
from .config import ModelConfig
from .vae import VAE, by_inference_chunks, in_inference_chunks, reparameterise

__all__ = ["DomainAdaptationVAE", "SurveyDecoder", "check_survey_names"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ENCODER_PREFIXES = ("encoder.", "fc_mu.", "fc_logvar.")
_DECODER_PREFIXES = ("fc_decode.", "decoder.", "final.")


def check_survey_names(surveys: Sequence[str]) -> tuple[str, ...]:
    """Validate survey names used as decoder keys.

    Names must be distinct identifiers (letters, digits, underscores,
    starting with a letter), e.g. ``"decals"`` and ``"bass_mzls"``.

    Raises
    ------
    GalvaeValueError
        On fewer than two names, duplicates, or a name that is not an identifier.
    """
    names = tuple(str(s) for s in surveys)
    if len(names) < 2:
        raise GalvaeValueError("domain adaptation needs at least two surveys", names)
    if len(set(names)) != len(names):
        raise GalvaeValueError("survey names must be distinct", names)
    for s in names:
        if not _NAME.match(s):
            raise GalvaeValueError(
                "survey name must start with a letter and hold only letters, digits and underscores", s
            )
    return names


class SurveyDecoder(nn.Module):
    """One survey's decoder: latents (N, NL) → images (N, 3, S, S), as :class:`VAE`'s."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = cfg = config
        chans = cfg.channels
        self.bottom = cfg.size // 2 ** len(chans)
        flat = chans[-1] * self.bottom * self.bottom
        self.fc_decode = nn.Linear(cfg.latent_dim, flat)
        dec_in = list(reversed(chans))
        dec_out = dec_in[1:] + [chans[0]]
        self.decoder = nn.Sequential(
            *[DecoderBlock(i, o, cfg.activation) for i, o in zip(dec_in, dec_out, strict=True)]
        )
        self.final = DecoderOutput(chans[0], len(BANDS), cfg.output)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images (N, 3, S, S), non-negative (a ReLU output; ``output="linear"``: in eval mode), from latents z (N, NL).

        Without gradients on the CPU, in chunks of :data:`~galvae.models.vae.INFERENCE_CHUNK` latents.
        """
        if in_inference_chunks(z):
            return by_inference_chunks(self.forward, z)
        h = self.fc_decode(z).view(z.shape[0], self.config.channels[-1], self.bottom, self.bottom)
        return self.final(self.decoder(h))


class DomainAdaptationVAE(nn.Module):
    """Shared encoder, one decoder per survey (Fig. 6 of the paper).

    Parameters
    ----------
    config : ModelConfig
        Architecture of the encoder and of every decoder.
    surveys : sequence of str
        Decoder names, source survey first (e.g. ``("decals", "bass_mzls")``).

    Raises
    ------
    GalvaeValueError
        On invalid survey names (see :func:`check_survey_names`).
    """

    def __init__(self, config: ModelConfig, surveys: Sequence[str]) -> None:
        super().__init__()
        self.config = cfg = config
        self.surveys = check_survey_names(surveys)
        nb = len(BANDS)
        enc, c_in = [], nb
        for c in cfg.channels:
            enc.append(EncoderBlock(c_in, c, cfg.activation))
            c_in = c
        self.encoder = nn.Sequential(*enc)
        bottom = cfg.size // 2 ** len(cfg.channels)
        flat = cfg.channels[-1] * bottom * bottom
        self.fc_mu = nn.Linear(flat, cfg.latent_dim)
        self.fc_logvar = nn.Linear(flat, cfg.latent_dim)
        self.decoders = nn.ModuleDict({s: SurveyDecoder(cfg) for s in self.surveys})

    @classmethod
    def from_vae(cls, vae: VAE, surveys: Sequence[str]) -> DomainAdaptationVAE:
        """Start from a trained VAE: its encoder is shared, its decoder copied to every survey."""
        model = cls(vae.config, surveys)
        state = vae.state_dict()
        new = {k: v.clone() for k, v in state.items() if k.startswith(_ENCODER_PREFIXES)}
        for s in model.surveys:
            new.update({f"decoders.{s}.{k}": v.clone() for k, v in state.items() if k.startswith(_DECODER_PREFIXES)})
        model.load_state_dict(new, strict=True)
        return model

    def to_vae(self, survey: str) -> VAE:
        """A plain :class:`VAE` with the shared encoder and ``survey``'s decoder (weights copied).

        Raises
        ------
        GalvaeKeyError
            If ``survey`` has no decoder.
        """
        self._check(survey)
        vae = VAE(self.config)
        prefix = f"decoders.{survey}."
        state = {}
        for k, v in self.state_dict().items():
            if k.startswith(_ENCODER_PREFIXES):
                state[k] = v.detach().clone()
            elif k.startswith(prefix):
                state[k[len(prefix) :]] = v.detach().clone()
        vae.load_state_dict(state, strict=True)
        return vae

    def _check(self, survey: str) -> None:
        if survey not in self.decoders:
            raise GalvaeKeyError("no decoder for survey", survey, self.surveys)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, 3, S, S) of any survey → (μ, log σ²), each (N, NL).

        Without gradients on the CPU, in chunks of :data:`~galvae.models.vae.INFERENCE_CHUNK` images.
        """
        if in_inference_chunks(x):
            return by_inference_chunks(self.encode, x)
        h = self.encoder(x).flatten(1)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: torch.Tensor, survey: str) -> torch.Tensor:
        """Latents (N, NL) → images (N, 3, S, S) as ``survey`` sees them."""
        self._check(survey)
        return self.decoders[survey](z)

    def forward(
        self, x: torch.Tensor, survey: str, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction by ``survey``'s decoder, μ, log σ²); z is sampled in training mode only."""
        mu, logvar = self.encode(x)
        z = reparameterise(mu, logvar, generator) if self.training else mu
        return self.decode(z, survey), mu, logvar
