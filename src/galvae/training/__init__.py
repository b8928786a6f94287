"""Training the VAE with PyTorch Lightning: configuration, module, data and the training loop.

The training function is :func:`galvae.train` (defined in
:mod:`galvae.training.train`); ``galvae.training.train`` is that module, so a
name means one thing whatever was imported before.  Names are imported on
first use (PEP 562): ``galvae.training.config`` can be read without importing
torch and Lightning, which keeps ``galvae train --help`` (whose options take
their defaults from :class:`TrainConfig`) fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

if TYPE_CHECKING:
    from .config import ModelConfig, TrainConfig
    from .precision import PRECISIONS, resolve_precision
    from .train import TrainResult

_LAZY: dict[str, str] = {
    "ModelConfig": ".config",
    "TrainConfig": ".config",
    "PRECISIONS": ".precision",
    "resolve_precision": ".precision",
    "TrainResult": ".train",
}

__all__ = ["ModelConfig", "PRECISIONS", "TrainConfig", "TrainResult", "resolve_precision"]


__getattr__, __dir__ = attach(__name__, _LAZY, globals(), __all__)
