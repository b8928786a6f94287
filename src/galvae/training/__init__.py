"""Training the VAE with PyTorch Lightning: configuration, module, data and ``train``."""

from __future__ import annotations

from .config import ModelConfig, TrainConfig
from .precision import PRECISIONS, resolve_precision
from .train import TrainResult, train

__all__ = ["ModelConfig", "PRECISIONS", "TrainConfig", "TrainResult", "resolve_precision", "train"]
