"""Training the VAE with PyTorch Lightning: configuration, module, data and ``train``."""

from __future__ import annotations

from .config import ModelConfig, TrainConfig
from .train import TrainResult, train

__all__ = ["ModelConfig", "TrainConfig", "TrainResult", "train"]
