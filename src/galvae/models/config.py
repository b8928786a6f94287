"""Architecture configuration of the VAE (a frozen dataclass saved with each run)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from .._validate import check_bool, check_choice, check_float, check_int
from ..errors import GalvaeValueError

__all__ = ["ModelConfig", "ACTIVATIONS", "LIKELIHOODS", "LOSSES", "OUTPUTS", "check_channels", "check_detail_options"]

Activation = Literal["leaky_relu", "relu"]
Loss = Literal["mse", "mae"]
Likelihood = Literal["sum", "mean", "gaussian"]
Output = Literal["relu", "linear"]

#: Activation names accepted by :class:`ModelConfig`.
ACTIVATIONS: tuple[str, ...] = get_args(Activation)
#: Reconstruction losses accepted by :class:`ModelConfig`.
LOSSES: tuple[str, ...] = get_args(Loss)
#: Reconstruction likelihoods accepted by :class:`ModelConfig` (see :mod:`galvae.losses.elbo`).
LIKELIHOODS: tuple[str, ...] = get_args(Likelihood)
#: Output layers of the decoder accepted by :class:`ModelConfig`.
OUTPUTS: tuple[str, ...] = get_args(Output)


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
        Reconstruction loss per pixel: squared (Gaussian decoder) or absolute
        (Laplace decoder) difference (see :func:`galvae.losses.elbo_loss`).
    kl_weight : float, default 1.0
        k, the weight of the KL term (the paper's eq. 2 has k = 1); what it
        means depends on ``likelihood`` (:mod:`galvae.losses.elbo`).
    kl_warmup_epochs : int, default 0
        β-schedule variant: ramp k linearly from 0 over this many epochs.
        0 (the paper) uses k from the first step.  The validation loss
        (best checkpoint, early stopping) is always taken at the full k.
    likelihood : {"sum", "mean", "gaussian"}, default "sum"
        Reconstruction term: ``"sum"`` over a galaxy's pixels (the paper's
        eq. 2 as written; a Gaussian decoder with σ² = ½), ``"mean"`` over
        them, or ``"gaussian"``, the negative log-likelihood of a decoder
        with noise σ per band (with ``loss="mae"`` a Laplace decoder of the
        same standard deviation).  See :mod:`galvae.losses.elbo`.
    noise_sigma : tuple of 3 float or None, default None
        σ of the ``"gaussian"`` decoder per band (g, r, z), in the stretched
        pixel units the model sees; floored at 1e-3 when used.  ``galvae
        train`` estimates it from the stores' sky pixels when not given
        (:func:`galvae.losses.estimate_noise_sigma`) and records it here.
        With ``learn_sigma`` it is the initial value (0.1 when None); in an
        exported ``model.json`` it is the learned σ of the exported weights.
    learn_sigma : bool, default False
        Learn σ (one per band) with the network (σ-VAE); ``"gaussian"`` only.
    centre_window : float, default 0.0
        σ of a Gaussian window on the reconstruction term, as a fraction of
        the image side: the decoder's noise grows away from the centre as
        1 / √w (:func:`galvae.losses.centre_weights`), so the light of
        neighbours and companions around a centred galaxy counts less.  0
        (the paper) weights every pixel alike.
    colour_weight : float, default 1.0
        a of the colour-weighted likelihood: the reconstruction term is
        computed on the (σ-scaled) bands rotated to an orthonormal luminance
        and two colours, (g + r + z) / √3, (g − r) / √2, (g + r − 2z) / √6,
        with the colour residuals multiplied by a, so a colour offset costs
        a² times as much (:func:`galvae.losses.reconstruction_error`).  1 (the
        paper) is the likelihood unchanged.  The simulated discs' colours
        carry what separates armed from arm-less ones, which the latents
        otherwise keep poorly (``benchmarks/science.md``).
    detail_weight : float, default 1.0
        b of the detail-weighted likelihood: each band's residual image is
        split into a smooth part (a Gaussian blur of σ = ``detail_scale``
        times the side) and the rest, which is multiplied by b, so a
        fine-scale offset (bars, arms, a bulge's edge, a disc's thin outline)
        costs b² times as much (:func:`galvae.losses.detail_filter`).  1 (the
        paper) is the likelihood unchanged.
    detail_scale : float, default 0.0625
        σ of that blur as a fraction of the image side (3 pixels at 48);
        used when ``detail_weight`` ≠ 1.
    output : {"relu", "linear"}, default "relu"
        Last layer of the decoder after its 3×3 convolution: the paper's
        ReLU, or none.  With a large ``colour_weight`` a band's ReLU can die
        (output 0 everywhere); a linear output cannot.  In eval mode (validation,
        reconstructions, mocks) the linear output is clamped at 0, the images' range
        (:class:`galvae.models.blocks.DecoderOutput`).

    Raises
    ------
    GalvaeValueError
        On a size that is not a positive multiple of ``2 ** len(channels)``,
        a non-positive latent dimension or channel count, an unknown
        activation, loss, likelihood or output, a negative k or warm-up, a
        colour_weight or detail_weight outside [0.01, 100], a detail_scale
        outside (0, 1], a
        ``noise_sigma`` that is not 3 positive finite numbers, or
        ``noise_sigma``/``learn_sigma`` given with a likelihood other than
        ``"gaussian"``.
    """

    size: int = 64
    latent_dim: int = 40
    channels: tuple[int, ...] = (32, 64, 128)
    activation: Activation = "leaky_relu"
    loss: Loss = "mse"
    kl_weight: float = 1.0
    kl_warmup_epochs: int = 0
    likelihood: Likelihood = "sum"
    noise_sigma: tuple[float, float, float] | None = None
    learn_sigma: bool = False
    centre_window: float = 0.0
    colour_weight: float = 1.0
    detail_weight: float = 1.0
    detail_scale: float = 0.0625
    output: Output = "relu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", check_channels(self.channels, self.size))
        object.__setattr__(self, "latent_dim", check_int("latent_dim", self.latent_dim, minimum=1))
        object.__setattr__(self, "activation", check_choice("activation", self.activation, ACTIVATIONS))
        object.__setattr__(self, "loss", check_choice("reconstruction loss", self.loss, LOSSES))
        object.__setattr__(self, "kl_weight", check_float("kl_weight (k)", self.kl_weight, minimum=0))
        object.__setattr__(self, "kl_warmup_epochs", check_int("kl_warmup_epochs", self.kl_warmup_epochs, minimum=0))
        object.__setattr__(self, "likelihood", check_choice("likelihood", self.likelihood, LIKELIHOODS))
        if self.noise_sigma is not None:
            try:
                sig = tuple(float(v) for v in self.noise_sigma)
            except (TypeError, ValueError):
                raise GalvaeValueError("noise_sigma must be 3 positive numbers (g, r, z)", self.noise_sigma) from None
            if len(sig) != 3 or not all(math.isfinite(v) and v > 0 for v in sig):
                raise GalvaeValueError("noise_sigma must be 3 positive numbers (g, r, z)", self.noise_sigma)
            object.__setattr__(self, "noise_sigma", sig)
        object.__setattr__(self, "learn_sigma", check_bool("learn_sigma", self.learn_sigma))
        object.__setattr__(
            self, "colour_weight", check_float("colour_weight", self.colour_weight, minimum=0.01, maximum=100)
        )
        weight, scale = check_detail_options(self.detail_weight, self.detail_scale)
        object.__setattr__(self, "detail_weight", weight)
        object.__setattr__(self, "detail_scale", scale)
        object.__setattr__(self, "output", check_choice("decoder output", self.output, OUTPUTS))
        object.__setattr__(
            self, "centre_window", check_float("centre_window", self.centre_window, minimum=0, maximum=10)
        )
        if self.likelihood != "gaussian" and (self.noise_sigma is not None or self.learn_sigma):
            raise GalvaeValueError(
                "noise_sigma and learn_sigma apply to likelihood='gaussian' only", self.likelihood, ("gaussian",)
            )


def check_channels(channels: object, size: object, *, prefix: str = "") -> tuple[int, ...]:
    """Validate encoder block channels and an image side they fit (``ModelConfig``, ``DemoConfig``).

    Parameters
    ----------
    channels : sequence of int
        Output channels of the encoder blocks; non-empty, each a positive integer.
    size : int
        Image side in pixels; a positive multiple of ``2 ** len(channels)`` (each block halves it).
    prefix : str, default ""
        Put before the parameter names in messages (``"demo "`` for :class:`galvae.demo.DemoConfig`, whose
        ``vae_channels`` these are).

    Returns
    -------
    tuple of int
        The channels as a tuple.

    Raises
    ------
    GalvaeValueError
        Naming the channels or the size, the bad value and what is accepted.
    """
    name = f"{prefix}vae_channels" if prefix else "channels"
    try:
        chans = tuple(channels)  # type: ignore[call-overload]
    except TypeError:
        chans = ()
    if not chans or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in chans):
        raise GalvaeValueError(f"{name} must be a non-empty tuple of positive integers", channels)
    step = 2 ** len(chans)
    if isinstance(size, bool) or not isinstance(size, int) or size < step or size % step:
        raise GalvaeValueError(
            f"{prefix}image size must be a positive multiple of {step} (the encoder halves it {len(chans)} times"
            f"{'; --vae-channels' if prefix else ''})",
            size,
        )
    return chans


def check_detail_options(weight: float, scale: float, *, prefix: str = "") -> tuple[float, float]:
    """Validate the detail weight b in [0.01, 100] and its blur's scale in (0, 1] (``ModelConfig``, ``DemoConfig``).

    Parameters
    ----------
    weight, scale : float
        ``detail_weight`` and ``detail_scale``.
    prefix : str, default ""
        Put before the parameter names in the messages (``"demo "`` for :class:`galvae.DemoConfig`).

    Returns
    -------
    tuple of float
        ``(weight, scale)`` as floats.

    Raises
    ------
    GalvaeValueError
        Naming the parameter, the value and the accepted range.
    """
    return (
        check_float(f"{prefix}detail_weight", weight, minimum=0.01, maximum=100),
        check_float(f"{prefix}detail_scale", scale, minimum=0, maximum=1, inclusive=(False, True)),
    )
