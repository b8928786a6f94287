"""LightningModule wrapping the VAE and its objective.

The network (:class:`galvae.models.VAE`) and the objective
(:func:`galvae.losses.elbo_loss`) stay separate: the module owns the decoder
noise σ of a ``"gaussian"`` likelihood (a fixed buffer, or a learned
:class:`galvae.losses.LearnedSigma` under ``noise``), so the exported network
is the same whatever the objective.

Logged per epoch: ``train_loss`` (at the ramped k of a KL warm-up),
``val_loss``, ``val_recon`` and ``val_kl`` (always at the full k, so a
warm-up epoch cannot win the best checkpoint or stop training early by its
smaller k), ``val_active_units`` (Burda et al. 2016: latent dimensions whose
μ varies over the validation galaxies with variance above 0.01) and, for a
learned σ, ``noise_sigma_g``, ``noise_sigma_r``, ``noise_sigma_z``.
"""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch

from ..config import BANDS, config_from_dict, config_to_dict
from ..data.augment import turn_and_flip
from ..errors import GalvaeValueError
from ..losses.elbo import centre_weights, detail_filter, elbo_loss
from ..losses.noise import DEFAULT_LEARNED_SIGMA, LearnedSigma
from ..models.config import ModelConfig
from ..models.layout import to_network_layout, to_network_module
from ..models.vae import VAE

__all__ = [
    "ACTIVE_UNIT_THRESHOLD",
    "RngStateMixin",
    "SIGMA_LR_FACTOR",
    "VAEModule",
    "active_units",
    "augment_generator",
    "distributed_active_units",
    "global_batch_noise",
]

#: A latent dimension is active when the variance of its μ over galaxies exceeds this (Burda et al. 2016).
ACTIVE_UNIT_THRESHOLD: float = 0.01
#: Learning-rate multiplier of a learned decoder σ: Adam moves a parameter by about lr per step, and
#: log σ must travel ~1 (e.g. 0.1 → 0.04) within the few hundred steps of a short run.
SIGMA_LR_FACTOR: float = 10.0


def active_units(mu: torch.Tensor | np.ndarray, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Number of latent dimensions whose μ has a variance over galaxies above ``threshold``.

    Parameters
    ----------
    mu : Tensor or ndarray, shape (N, NL)
        Latent means of N ≥ 2 galaxies.
    threshold : float, default 0.01
        Burda et al. (2016)'s threshold on Var_x(E_q[z_d | x]).

    Returns
    -------
    int

    Raises
    ------
    GalvaeValueError
        If ``mu`` is not 2-d with at least two rows.
    """
    m = torch.as_tensor(np.asarray(mu) if not isinstance(mu, torch.Tensor) else mu).double()
    if m.ndim != 2 or m.shape[0] < 2:
        raise GalvaeValueError("active units need latent means of shape (N, NL) with N >= 2", tuple(m.shape))
    return int((m.var(dim=0, correction=0) > threshold).sum())


def distributed_active_units(mu: torch.Tensor, reduce_sum: Any, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """:func:`active_units` over the validation galaxies of all processes, from summed moments.

    Parameters
    ----------
    mu : Tensor, shape (N, NL)
        This process's latent means (N may be 0).
    reduce_sum : callable
        Sums a tensor over the processes (e.g. ``trainer.strategy.reduce(t, reduce_op="sum")``).
    threshold : float, default 0.01

    Returns
    -------
    int
        Dimensions whose variance over all galaxies, E[μ²] − E[μ]² in
        float64, exceeds ``threshold``; 0 with fewer than two galaxies.
    """
    m = mu.detach().double()
    stats = torch.cat([torch.tensor([float(m.shape[0])], dtype=torch.float64), m.sum(0).cpu(), m.square().sum(0).cpu()])
    total = reduce_sum(stats.to(mu.device)).cpu()
    n, nl = float(total[0]), m.shape[1]
    if n < 2:
        return 0
    mean = total[1 : 1 + nl] / n
    var = total[1 + nl :] / n - mean.square()
    return int((var > threshold).sum())


def global_batch_noise(like: torch.Tensor, seed: int, step: int, rank: int, world_size: int) -> torch.Tensor:
    """ε ~ N(0, I) for this process's rows of the global batch, under distributed training.

    The ε of the whole global batch (``world_size`` × this process's rows)
    is drawn from a generator seeded by (seed, global step), the same on
    every process, and process ``rank`` takes its rows (the rows of the
    global batch it holds, :class:`~galvae.training.datamodule.EpochSeededSampler`).
    So the processes draw different noise, a resumed run draws the same
    noise as an uninterrupted one (no RNG state to restore), and the noise
    of a step does not depend on the number of processes: a run on P
    processes follows the run on one DDP process up to floating-point
    rounding.

    Parameters
    ----------
    like : Tensor, shape (n, ...)
        This process's latent means (shape, device and dtype of ε).
    seed, step : int
        Training seed and global step.
    rank, world_size : int

    Returns
    -------
    Tensor, like ``like``
    """
    state = np.random.SeedSequence((int(seed), int(step))).generate_state(1, np.uint64)[0]
    gen = torch.Generator(device=like.device)
    gen.manual_seed(int(state) & ((1 << 63) - 1))
    n = like.shape[0]
    eps = torch.randn((n * int(world_size), *like.shape[1:]), generator=gen, device=like.device, dtype=like.dtype)
    return eps[int(rank) * n : (int(rank) + 1) * n]


def augment_generator(seed: int, step: int) -> torch.Generator:
    """The CPU generator of a training step's turns and flips (``VAEModule(augment=True)``).

    Seeded by (seed, global step) apart from :func:`global_batch_noise`'s
    stream, the same on every process (each takes its rows of the global
    batch, :func:`galvae.data.augment.turn_and_flip`), and with no state to
    restore on resume.
    """
    state = np.random.SeedSequence((int(seed), int(step), 1)).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & ((1 << 63) - 1))


def _world(module: L.LightningModule) -> tuple[int, int, bool]:
    """(global rank, processes, distributed strategy?) of the module's trainer; (0, 1, False) without one."""
    trainer = getattr(module, "_trainer", None)
    if trainer is None:
        return 0, 1, False
    from lightning.pytorch.strategies import DDPStrategy

    return int(trainer.global_rank), int(trainer.world_size), isinstance(trainer.strategy, DDPStrategy)


class RngStateMixin:
    """Save the torch, CUDA, numpy and Python RNG states in a checkpoint (as
    tensors and plain lists, so ``weights_only`` loading accepts them) and
    restore them on load: a resumed run continues with the same sampling
    noise as an uninterrupted one."""

    config: ModelConfig

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        np_state = np.random.get_state()  # noqa: NPY002 (exact resume restores the global state a DataLoader worker may use)
        checkpoint["galvae_rng"] = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [
                np_state[0],
                [int(v) for v in np_state[1]],
                int(np_state[2]),
                int(np_state[3]),
                float(np_state[4]),
            ],
            "python": random.getstate(),
            "model_config": config_to_dict(self.config),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("galvae_rng")
        if not state:
            return
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))  # noqa: NPY002
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))


class VAEModule(RngStateMixin, L.LightningModule):
    """Lightning wrapper: Adam on the batch mean of (reconstruction term + k · KL).

    Parameters
    ----------
    model_config : dict
        :class:`ModelConfig` as a plain dict (so that ``save_hyperparameters``
        stores JSON-able values only).
    lr : float, default 1e-3
        Adam learning rate (a learned σ uses ``SIGMA_LR_FACTOR`` × lr).
    augment : bool, default False
        Turn and mirror each training image at random
        (:func:`galvae.data.augment.turn_and_flip`), drawn from
        ``noise_seed``, the global step and the process's rank, so an
        interrupted and resumed run sees the same images as an uninterrupted one.

    Raises
    ------
    GalvaeValueError
        If ``likelihood="gaussian"`` has neither ``noise_sigma`` nor ``learn_sigma``.

    Notes
    -----
    The checkpoint also holds the torch, numpy and Python RNG states (as
    tensors and plain lists), restored on load, so ``resume`` continues with
    the same sampling noise as an uninterrupted run.
    """

    def __init__(self, model_config: dict[str, Any], lr: float = 1e-3, augment: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config: ModelConfig = config_from_dict(ModelConfig, model_config)
        # channels-last (NHWC) weights and batches: a training step is ~1.8x faster on oneDNN (CPU) than in
        # NCHW, in fp32 and bf16 alike; exported weights are saved contiguous (NCHW) as before
        self.model = to_network_module(VAE(self.config))
        self.lr = float(lr)
        self.augment = bool(augment)
        cfg = self.config
        self.noise: LearnedSigma | None = None
        if cfg.likelihood == "gaussian":
            if cfg.learn_sigma:
                self.noise = LearnedSigma(cfg.noise_sigma or DEFAULT_LEARNED_SIGMA)
            elif cfg.noise_sigma is None:
                raise GalvaeValueError(
                    "likelihood='gaussian' needs noise_sigma (3 values, g r z) or learn_sigma=True", None
                )
            else:
                self.register_buffer(
                    "fixed_sigma", torch.tensor(cfg.noise_sigma, dtype=torch.float32), persistent=False
                )
        weights = centre_weights(cfg.size, cfg.centre_window)
        self.pixel_weights: torch.Tensor | None
        self.register_buffer("pixel_weights", weights, persistent=False)  # None without a centre window
        self.detail_spectrum: torch.Tensor | None
        self.register_buffer(  # None without a detail weight
            "detail_spectrum", detail_filter(cfg.size, cfg.detail_weight, cfg.detail_scale), persistent=False
        )
        self._val_mu: list[torch.Tensor] = []
        #: Seeds the per-step noise under distributed training (:func:`global_batch_noise`); set by ``train``.
        self.noise_seed = 0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction, μ, log σ²) of images (N, 3, S, S)."""
        return self.model(x)

    def kl_weight(self) -> float:
        """k at the current epoch (ramped when ``kl_warmup_epochs`` > 0)."""
        cfg = self.config
        if cfg.kl_warmup_epochs == 0:
            return cfg.kl_weight
        return cfg.kl_weight * min(1.0, (self.current_epoch + 1) / cfg.kl_warmup_epochs)

    def sigma(self) -> torch.Tensor | None:
        """Decoder noise σ per band, shape (3,) (learned or fixed), or None for "sum"/"mean"."""
        if self.noise is not None:
            return self.noise()
        return getattr(self, "fixed_sigma", None)

    def _step(self, batch: torch.Tensor, stage: str) -> torch.Tensor:
        cfg = self.config
        rank, world, ddp = _world(self)
        if self.augment and stage == "train":
            step = int(self.trainer.global_step) if self._trainer is not None else 0
            batch = turn_and_flip(batch, augment_generator(self.noise_seed, step), rank=rank, world_size=world)
        batch = to_network_layout(batch)
        if ddp and stage == "train":  # the global batch's noise, this process's rows (global_batch_noise)
            mu, logvar = self.model.encode(batch)
            eps = global_batch_noise(mu, self.noise_seed, int(self.trainer.global_step), rank, world)
            recon = self.model.decode(mu + torch.exp(0.5 * logvar) * eps)
        else:
            recon, mu, logvar = self.model(batch)
        # Training follows the warm-up's ramped k; validation (best checkpoint, early stopping) the full k.
        k = self.kl_weight() if stage == "train" else cfg.kl_weight
        terms = elbo_loss(
            recon,
            batch,
            mu,
            logvar,
            loss=cfg.loss,
            kl_weight=k,
            likelihood=cfg.likelihood,
            sigma=self.sigma(),
            weights=self.pixel_weights,
            colour_weight=cfg.colour_weight,
            detail=self.detail_spectrum,
        )
        if stage == "val":
            self._val_mu.append(mu.detach().float().cpu())
        n = batch.shape[0]
        on_step = stage == "train"
        # sync_dist: the epoch values are means over the galaxies of all processes (Lightning sums the weighted
        # values and the counts over the processes); a no-op in one process
        sync = ddp
        self.log(
            f"{stage}_loss", terms.loss, prog_bar=True, on_step=on_step, on_epoch=True, batch_size=n, sync_dist=sync
        )
        self.log(f"{stage}_recon", terms.reconstruction, on_step=False, on_epoch=True, batch_size=n, sync_dist=sync)
        self.log(f"{stage}_kl", terms.kl, on_step=False, on_epoch=True, batch_size=n, sync_dist=sync)
        return terms.loss

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def on_validation_epoch_start(self) -> None:
        self._val_mu = []

    def on_validation_epoch_end(self) -> None:
        """Log ``val_active_units`` over the epoch's validation galaxies and a learned σ per band."""
        _, world, ddp = _world(self)
        if ddp:  # over the validation galaxies of every process (each holds a share)
            mu = torch.cat(self._val_mu) if self._val_mu else torch.zeros(0, self.config.latent_dim)
            units = distributed_active_units(
                mu.to(self.device), lambda t: self.trainer.strategy.reduce(t, reduce_op="sum")
            )
            self.log("val_active_units", float(units), sync_dist=True)
        elif sum(len(m) for m in self._val_mu) >= 2:
            self.log("val_active_units", float(active_units(torch.cat(self._val_mu))))
        self._val_mu = []
        if self.noise is not None:
            for band, value in zip(BANDS, self.noise.values(), strict=True):
                self.log(f"noise_sigma_{band}", value, sync_dist=ddp)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups: list[dict[str, Any]] = [{"params": list(self.model.parameters()), "lr": self.lr}]
        if self.noise is not None:
            groups.append({"params": list(self.noise.parameters()), "lr": self.lr * SIGMA_LR_FACTOR})
        return torch.optim.Adam(groups, lr=self.lr)
