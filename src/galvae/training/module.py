"""LightningModule wrapping the VAE and its objective."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch

from ..config import config_from_dict, config_to_dict
from ..losses.elbo import elbo_loss
from ..models.config import ModelConfig
from ..models.vae import VAE

__all__ = ["RngStateMixin", "VAEModule"]


class RngStateMixin:
    """Save the torch, CUDA, numpy and Python RNG states in a checkpoint (as
    tensors and plain lists, so ``weights_only`` loading accepts them) and
    restore them on load: a resumed run continues with the same sampling
    noise as an uninterrupted one."""

    config: ModelConfig

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:  # noqa: D102
        np_state = np.random.get_state()
        checkpoint["galvae_rng"] = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [np_state[0], [int(v) for v in np_state[1]], int(np_state[2]), int(np_state[3]), float(np_state[4])],
            "python": random.getstate(),
            "model_config": config_to_dict(self.config),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:  # noqa: D102
        state = checkpoint.get("galvae_rng")
        if not state:
            return
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))


class VAEModule(RngStateMixin, L.LightningModule):
    """Lightning wrapper: Adam on the batch-mean of (summed reconstruction + k · KL).

    Parameters
    ----------
    model_config : dict
        :class:`ModelConfig` as a plain dict (so that ``save_hyperparameters``
        stores JSON-able values only).
    lr : float, default 1e-3
        Adam learning rate.

    Notes
    -----
    The checkpoint also holds the torch, numpy and Python RNG states (as
    tensors and plain lists), restored on load, so ``resume`` continues with
    the same sampling noise as an uninterrupted run.
    """

    def __init__(self, model_config: dict[str, Any], lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config: ModelConfig = config_from_dict(ModelConfig, model_config)
        self.model = VAE(self.config)
        self.lr = float(lr)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction, μ, log σ²) of images (N, 3, S, S)."""
        return self.model(x)

    def kl_weight(self) -> float:
        """k at the current epoch (ramped when ``kl_warmup_epochs`` > 0)."""
        cfg = self.config
        if cfg.kl_warmup_epochs == 0:
            return cfg.kl_weight
        return cfg.kl_weight * min(1.0, (self.current_epoch + 1) / cfg.kl_warmup_epochs)

    def _step(self, batch: torch.Tensor, stage: str) -> torch.Tensor:
        recon, mu, logvar = self.model(batch)
        terms = elbo_loss(recon, batch, mu, logvar, loss=self.config.loss, kl_weight=self.kl_weight())
        n = batch.shape[0]
        on_step = stage == "train"
        self.log(f"{stage}_loss", terms.loss, prog_bar=True, on_step=on_step, on_epoch=True, batch_size=n)
        self.log(f"{stage}_recon", terms.reconstruction, on_step=False, on_epoch=True, batch_size=n)
        self.log(f"{stage}_kl", terms.kl, on_step=False, on_epoch=True, batch_size=n)
        return terms.loss

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:  # noqa: D102
        return self._step(batch, "train")

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:  # noqa: D102
        return self._step(batch, "val")

    def configure_optimizers(self) -> torch.optim.Optimizer:  # noqa: D102
        return torch.optim.Adam(self.parameters(), lr=self.lr)
