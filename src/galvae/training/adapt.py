"""``adapt``: domain adaptation of a trained VAE to a second survey (the paper's Section 5.2).

The encoder of a trained run is shared by both surveys and two decoders, one
per survey, both start from the trained decoder (Fig. 6).  The network is
fine-tuned on the galaxies both surveys observed (matched by id) with the
loss of eq. 6, L_VAE(source) + L_VAE(target) + λ · MMD²
(:func:`galvae.losses.adaptation.adaptation_loss`).

The result is a normal run directory::

    RUN_DA/config.json                resolved ModelConfig, AdaptConfig, the base model, stores and surveys
    RUN_DA/matching.json              matched and unmatched ids of the two stores
    RUN_DA/split.json                 seed, validation fraction, train and validation ids (pairs)
    RUN_DA/checkpoints/{last,last-1,best}.ckpt   as ``train``'s (rotation, fallback on resume, SIGTERM)
    RUN_DA/metrics.csv                per-epoch losses: vae_source, vae_target, mmd2, pair_mse
    RUN_DA/model_<survey>.json/.safetensors   shared encoder + that survey's decoder (last epoch by default)
    RUN_DA/model.json                 the source survey's model, listing every decoder

so ``galvae encode RUN_DA STORE`` works on either survey (one shared
encoder), and ``galvae generate RUN_DA --decoder SURVEY`` renders mock images
as that survey would see them.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .._io import write_json
from .._version import __version__
from ..config import config_from_dict, config_to_dict
from ..data.dataset import GalaxyDataset
from ..data.presentation import check_same_presentation
from ..data.store import ImageStore, same_stores, store_fingerprints
from ..errors import GalvaeFileError, GalvaeValueError
from ..losses.adaptation import adaptation_loss, mmd_scale
from ..losses.elbo import centre_weights, detail_filter
from ..losses.mmd import mmd2_unbiased
from ..models.config import ModelConfig
from ..models.da import DomainAdaptationVAE, check_survey_names
from ..models.layout import to_network_layout, to_network_module
from ..models.vae import reparameterise
from .checkpoints import check_checkpoint, resumable_loader, resume_candidates
from .config import AdaptConfig
from .datamodule import EpochSeededSampler, process_share, split_train_val_test, trainer_world
from .guards import check_finite_weights
from .module import RngStateMixin, _world, global_batch_noise
from .train import fit_lightning, fit_summary, prepare_run_dir, quiet_lightning, rank_zero_first

__all__ = ["AdaptResult", "DAModule", "PairedDataModule", "adapt", "gather_rows", "match_ids", "pair_ratio"]

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class AdaptResult:
    """What :func:`adapt` produced.

    Attributes
    ----------
    run_dir : Path
    model_path : Path
        ``model.json`` (the source survey's decoder; lists all decoders).
    surveys : tuple of str
        Decoder names, source first.
    n_pairs : int
        Galaxies seen by both surveys (trained and validated on).
    n_source_only, n_target_only : int
        Ids found in only one of the stores (not used).
    best_val_loss : float
        Lowest validation loss (eq. 6) of the epochs.
    epochs, global_step : int
    monitor : str
        The metric that chose ``best.ckpt`` (``AdaptConfig.monitor``).
    best_score : float
        Its lowest value (the one of the exported epoch with ``export="best"``).
    """

    run_dir: Path
    model_path: Path
    surveys: tuple[str, ...]
    n_pairs: int
    n_source_only: int
    n_target_only: int
    best_val_loss: float
    epochs: int
    global_step: int
    monitor: str = "val_loss"
    best_score: float = float("nan")


def match_ids(source_ids: Any, target_ids: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of the galaxies present in both stores, matched by id.

    Parameters
    ----------
    source_ids, target_ids : array_like of str

    Returns
    -------
    ids : ndarray of str
        Matched ids, sorted.
    source_rows, target_rows : ndarray of int64
        Their rows in each store.
    source_only, target_only : ndarray of str
        Ids in one store only, sorted.
    """
    s = np.asarray(source_ids, dtype=str)
    t = np.asarray(target_ids, dtype=str)
    common, si, ti = np.intersect1d(s, t, assume_unique=True, return_indices=True)
    return (common, si.astype(np.int64), ti.astype(np.int64), np.setdiff1d(s, common), np.setdiff1d(t, common))


class _Pairs(Dataset):
    """(source image, target image) of the same galaxy."""

    def __init__(self, source: GalaxyDataset, target: GalaxyDataset) -> None:
        self.source, self.target = source, target

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.source[i], self.target[i]


class _GatherRows(torch.autograd.Function):
    """All-gather equal-sized row blocks of all processes in rank order; the gradient of a block is the sum of
    every process's gradient for it (an all-reduce), the transpose of the gather."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        total = grad.contiguous().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """The rows of ``x`` of every process, concatenated in rank order (with gradients); ``x`` outside DDP.

    Each process must hold the same number of rows (the global batches of
    :class:`~galvae.training.datamodule.EpochSeededSampler` give them that).
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return x
    return _GatherRows.apply(x)


def pair_ratio(source_mu: Any, target_mu: Any, *, max_pairs: int = 200_000, seed: int = 0) -> float:
    """Median paired latent MSE over the median MSE of mismatched pairs (scale-free alignment measure).

    Parameters
    ----------
    source_mu, target_mu : array-like, shape (N, NL)
        Latent means of the same N galaxies seen by two surveys, row i the same galaxy.
    max_pairs : int, default 200000
        Mismatched pairs (source i, target j ≠ i) compared: all of them when
        N (N − 1) is at most this, otherwise a seeded random sample of this many.
    seed : int, default 0
        Seeds that sample.

    Returns
    -------
    float
        ``median_i |s_i − t_i|² / median_{i≠j} |s_i − t_j|²`` (squared
        distances averaged over the NL latents, as ``galvae compare-domains``'
        ``paired_over_random``); below 1 when each galaxy's two latents are
        closer than two different galaxies'; NaN with fewer than two pairs.
    """
    s = np.asarray(torch.as_tensor(source_mu).detach().cpu(), dtype=np.float64)
    t = np.asarray(torch.as_tensor(target_mu).detach().cpu(), dtype=np.float64)
    n = s.shape[0]
    if n < 2:
        return float("nan")
    if n * (n - 1) <= max_pairs:
        a, b = np.nonzero(~np.eye(n, dtype=bool))
    else:
        rng = np.random.default_rng(seed)
        a, b = rng.integers(0, n, max_pairs), rng.integers(0, n - 1, max_pairs)
        b = b + (b >= a)
    mismatched = np.mean((s[a] - t[b]) ** 2, axis=1)
    random = float(np.median(mismatched))
    return float(np.median(np.mean((s - t) ** 2, axis=1)) / random) if random > 0 else float("nan")


class _OrderedShare(torch.utils.data.Sampler[int]):
    """``range(n)`` in order, or process ``rank``'s share of it in global batches (:func:`process_share`).

    Validation pairs under distributed training: every process gets the
    same number of pairs per batch (the last batch padded with at most
    P − 1 repeated pairs), so that the latents of a global batch can be
    gathered for MMD².
    """

    def __init__(self, n: int, batch_size: int, rank: int = 0, world_size: int = 1) -> None:
        self.indices = list(range(n)) if world_size == 1 else process_share(range(n), batch_size, rank, world_size)

    def __iter__(self) -> Any:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class PairedDataModule(L.LightningDataModule):
    """Train/validation loaders of galaxy pairs seen by two surveys.

    Parameters
    ----------
    source_store, target_store : path
        Image stores of the same size and normalisation.
    batch_size : int, default 32
        Pairs per step over all processes (each of P processes loads
        ``batch_size / P``; see :mod:`galvae.training.distributed`).
    val_fraction : float, default 0.2
    test_fraction : float, default 0.0
        Pairs kept out of training and validation (:func:`split_train_val_test`).
    seed : int, default 0
        Seeds the split (by id) and the epoch order.
    num_workers : int, default 0

    Attributes
    ----------
    ids : ndarray of str
        Matched ids.
    source_rows, target_rows : ndarray of int
        Their rows in each store.
    source_only, target_only : ndarray of str
        Unmatched ids.
    train_pos, val_pos, test_pos : ndarray of int
        Positions in ``ids`` of the three sets (``test_pos`` empty without a test fraction).
    size : int
    normalisation : StretchConfig
    surveys : tuple of str
        The stores' ``survey`` attributes.

    Raises
    ------
    GalvaeValueError
        If the stores differ in size or normalisation, or share fewer than
        three ids.
    """

    def __init__(
        self,
        source_store: PathLike,
        target_store: PathLike,
        *,
        batch_size: int = 32,
        val_fraction: float = 0.2,
        test_fraction: float = 0.0,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.source_path, self.target_path = os.fspath(source_store), os.fspath(target_store)
        self.batch_size, self.seed, self.num_workers = int(batch_size), int(seed), int(num_workers)
        with ImageStore(self.source_path) as s, ImageStore(self.target_path) as t:
            if s.size != t.size:
                raise GalvaeValueError(f"source store {s.path} has size {s.size} but target store {t.path} has", t.size)
            check_same_presentation(
                f"source store {s.path}",
                s.normalisation,
                s.profile,
                f"target store {t.path}",
                t.normalisation,
                t.profile,
                fraction_a=s.field_fraction,
                fraction_b=t.field_fraction,
            )
            self.size, self.normalisation, self.profile = s.size, s.normalisation, s.profile
            self.field_fraction = s.field_fraction
            self.surveys = (str(s.survey), str(t.survey))
            self.ids, self.source_rows, self.target_rows, self.source_only, self.target_only = match_ids(s.ids, t.ids)
        if self.ids.size < 3:
            raise GalvaeValueError(
                f"domain adaptation needs galaxies seen by both surveys; {self.source_path} and "
                f"{self.target_path} share only {self.ids.size} ids (at least 3 needed)",
                self.ids.size,
            )
        self.train_pos, self.val_pos, self.test_pos = split_train_val_test(self.ids, val_fraction, test_fraction, seed)
        self._sets: dict[str, _Pairs] = {}

    def _pairs(self, which: str) -> _Pairs:
        if which not in self._sets:
            pos = self.train_pos if which == "train" else self.val_pos
            self._sets[which] = _Pairs(
                GalaxyDataset(self.source_path, indices=self.source_rows[pos]),
                GalaxyDataset(self.target_path, indices=self.target_rows[pos]),
            )
        return self._sets[which]

    def setup(self, stage: str | None = None) -> None:
        """Open both pair sets (once)."""
        self._pairs("train")
        self._pairs("val")
        log.info(
            "adapting on %d pairs, validating on %d, %d held out for testing",
            len(self.train_pos),
            len(self.val_pos),
            len(self.test_pos),
        )

    def _loader(self, ds: _Pairs, sampler: Any, drop_last: bool) -> DataLoader:
        _, world = trainer_world(self)
        return DataLoader(
            ds,
            batch_size=max(1, self.batch_size // world),
            sampler=sampler,
            shuffle=False,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            drop_last=drop_last,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled pairs (order seeded by ``seed + epoch``); a last batch of one pair is dropped (MMD² needs two).

        The position in the epoch is saved in checkpoints, so a resume continues mid-epoch
        (:func:`galvae.training.checkpoints.resumable_loader`).
        """
        ds = self._pairs("train")
        rank, world = trainer_world(self)
        sampler = EpochSeededSampler(len(ds), self.seed, batch_size=self.batch_size, rank=rank, world_size=world)
        # under distributed training the last global batch holds at least P >= 2 pairs (padded), never one
        return resumable_loader(self._loader(ds, sampler, drop_last=world == 1 and len(ds) % self.batch_size == 1))

    def val_dataloader(self) -> DataLoader:
        """Validation pairs in id order (this process's share of each global batch under distributed training)."""
        ds = self._pairs("val")
        rank, world = trainer_world(self)
        if world > 1:
            return self._loader(ds, _OrderedShare(len(ds), self.batch_size, rank, world), drop_last=False)
        return self._loader(ds, None, drop_last=len(ds) > 1 and len(ds) % self.batch_size == 1)


class DAModule(RngStateMixin, L.LightningModule):
    """Lightning wrapper of :class:`DomainAdaptationVAE` with the loss of eq. 6.

    Parameters
    ----------
    model_config : dict
        :class:`ModelConfig` as a plain dict.
    surveys : list of str
        Decoder names, source first.
    lam : float, default 0.5
        λ of eq. 6.
    mmd_on : {"mu", "z"}, default "mu"
    pair_weight : float, default 0.0
    lr : float, default 1e-3
        Adam learning rate.
    train_encoder : bool, default True
        False freezes the shared encoder (``AdaptConfig.decoder_epochs``):
        only the decoders learn, and every latent stays as it is.
    """

    def __init__(
        self,
        model_config: dict[str, Any],
        surveys: list[str],
        lam: float = 0.5,
        mmd_on: str = "mu",
        pair_weight: float = 0.0,
        lr: float = 1e-3,
        train_encoder: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config: ModelConfig = config_from_dict(ModelConfig, model_config)
        self.surveys = check_survey_names(surveys)
        # channels-last weights and batches, as VAEModule (~1.8x faster steps on oneDNN)
        self.model = to_network_module(DomainAdaptationVAE(self.config, self.surveys))
        self.lam, self.mmd_on, self.pair_weight, self.lr = float(lam), mmd_on, float(pair_weight), float(lr)
        if not train_encoder:  # the network has no batch statistics or dropout: frozen weights fix the latents
            for part in (self.model.encoder, self.model.fc_mu, self.model.fc_logvar):
                part.requires_grad_(False)
        #: Seeds the per-step noise under distributed training (:func:`global_batch_noise`); set by ``adapt``.
        self.noise_seed = 0
        self._val_mu: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.pixel_weights: torch.Tensor | None
        self.register_buffer(
            "pixel_weights", centre_weights(self.config.size, self.config.centre_window), persistent=False
        )
        self.detail_spectrum: torch.Tensor | None
        self.register_buffer(
            "detail_spectrum",
            detail_filter(self.config.size, self.config.detail_weight, self.config.detail_scale),
            persistent=False,
        )

    def _survey(self, x: torch.Tensor, survey: str, noise_step: int | None = None) -> tuple[torch.Tensor, ...]:
        mu, logvar = self.model.encode(x)
        if not self.training:
            z = mu
        elif noise_step is None:
            z = reparameterise(mu, logvar)
        else:  # distributed: this process's rows of the global batch's noise (global_batch_noise)
            rank, world, _ = _world(self)
            z = mu + torch.exp(0.5 * logvar) * global_batch_noise(mu, self.noise_seed, noise_step, rank, world)
        return self.model.decode(z, survey), mu, logvar, z

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor | None:
        xs, xt = (to_network_layout(x) for x in batch)
        _, world, ddp = _world(self)
        if world == 1 and xs.shape[0] < 2:  # MMD² needs two points per survey (P >= 2 processes gather >= 2)
            return None
        # distributed: the source's noise from step 2s, the target's from 2s + 1 (global_batch_noise)
        step = 2 * int(self.trainer.global_step) if ddp and stage == "train" else None
        rs, mus, lvs, zs = self._survey(xs, self.surveys[0], step)
        rt, mut, lvt, zt = self._survey(xt, self.surveys[1], None if step is None else step + 1)
        use_z = self.mmd_on == "z"
        terms = adaptation_loss(
            (rs, xs, mus, lvs),
            (rt, xt, mut, lvt),
            lam=0.0 if ddp else self.lam,
            pair_weight=self.pair_weight,
            loss=self.config.loss,
            kl_weight=self.config.kl_weight,
            # the VAE's own objective; a learned σ was exported into model_config.noise_sigma and stays fixed here
            likelihood=self.config.likelihood,
            sigma=self.config.noise_sigma,
            weights=self.pixel_weights,
            colour_weight=self.config.colour_weight,
            detail=self.detail_spectrum,
            z_source=zs if use_z else None,
            z_target=zt if use_z else None,
        )
        if ddp:
            terms = self._global_mmd(terms, (zs, zt) if use_z else (mus, mut), xs, stage == "train")
        if stage == "val":  # the whole validation set's latent means, for val_pair_ratio
            both = (mus.detach().float(), mut.detach().float())
            self._val_mu.append(tuple(gather_rows(t) for t in both) if ddp else both)  # type: ignore[arg-type]
        n = xs.shape[0]
        sync = ddp
        self.log(
            f"{stage}_loss",
            terms.loss,
            prog_bar=True,
            on_step=stage == "train",
            on_epoch=True,
            batch_size=n,
            sync_dist=sync,
        )
        for name in ("vae_source", "vae_target", "mmd2", "pair_mse"):
            self.log(
                f"{stage}_{name}",
                getattr(terms, name),
                prog_bar=name == "mmd2",
                on_step=False,
                on_epoch=True,
                batch_size=n,
                sync_dist=sync,
            )
        return terms.loss

    def _global_mmd(self, terms: Any, latents: tuple[torch.Tensor, torch.Tensor], xs: torch.Tensor, grad: bool) -> Any:
        """Add λ · MMD² of the whole global batch to ``terms`` (computed without it): the latents of every
        process are gathered, with their gradients while training.

        Every process computes the same MMD²; the gradient of the gather sums
        the P processes' identical contributions to each process's latents and
        DDP averages over the P processes, so the step is the one-process step
        of the global batch.
        """
        a, b = (gather_rows(t) if grad else gather_rows(t.detach()) for t in latents)
        mmd = mmd2_unbiased(a, b)
        scale = mmd_scale(self.config.likelihood, self.config.noise_sigma, xs, self.config.loss)
        return terms._replace(loss=terms.loss + self.lam * scale * mmd, mmd2=mmd)

    def on_validation_epoch_start(self) -> None:
        self._val_mu = []

    def on_validation_epoch_end(self) -> None:
        """Log ``val_pair_ratio``: how much closer a galaxy's two latent means are than two different galaxies'.

        The median over the validation pairs of the paired latent MSE over the
        median MSE of every mismatched (source i, target j ≠ i) pair, the
        measure ``galvae compare-domains`` reports (``paired_over_random``);
        scale-free, so shrinking the latent space does not improve it.  Every
        process computes it on the gathered validation set (under DDP the last
        batch may repeat up to P − 1 pairs).
        """
        if not self._val_mu:
            return
        mus = torch.cat([a for a, _ in self._val_mu])
        mut = torch.cat([b for _, b in self._val_mu])
        self._val_mu = []
        # identical on every process (computed on the gathered latents); averaging them is a no-op that keeps
        # Lightning from warning about an unsynchronised epoch metric
        self.log("val_pair_ratio", pair_ratio(mus, mut), prog_bar=True, on_epoch=True, sync_dist=_world(self)[2])

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        return self._step(batch, "val")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam([p for p in self.parameters() if p.requires_grad], lr=self.lr)


def adapt(
    run: PathLike,
    source_store: PathLike,
    target_store: PathLike,
    out: PathLike,
    *,
    lam: float = 0.5,
    mmd_on: str = "mu",
    pair_weight: float = 0.0,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    monitor: str = "val_loss",
    early_stopping: int | None = None,
    decoder_epochs: int = 0,
    export: str = "last",
    precision: str = "32",
    accelerator: str = "auto",
    devices: int | str = 1,
    strategy: str = "auto",
    num_nodes: int = 1,
    num_workers: int = 0,
    max_nonfinite_batches: int = 10,
    keep_last: int = 2,
    source_name: str | None = None,
    target_name: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    trainer_kwargs: dict[str, Any] | None = None,
) -> AdaptResult:
    """Adapt a trained VAE to a second survey: shared encoder, one decoder per survey, MMD².

    Parameters
    ----------
    run : path
        Trained run directory (or exported ``model.json``) whose encoder and
        decoder start the adaptation.
    source_store, target_store : path
        Image stores of the two surveys (e.g. DECaLS and BASS+MzLS), in the
        size and normalisation the model expects; galaxies are matched by
        id, ids in only one store are counted, listed in ``matching.json``
        and left out.
    out : path
        New run directory.
    lam : float, default 0.5
        λ, the weight of MMD² (eq. 6).
    mmd_on : {"mu", "z"}, default "mu"
        MMD² between latent means or sampled latents.
    pair_weight : float, default 0.0
        Optional paired-latent term (0: the paper's loss).
    epochs : int, default 20
        Fine-tuning epochs (total, with ``resume``).
    batch_size : int, default 32
        Pairs per step (at least 2), over all processes: with P processes
        each takes ``batch_size / P`` and MMD² is computed on the gathered
        global batch (:mod:`galvae.training.distributed`).
    lr : float, default 1e-3
        Adam learning rate.
    seed : int, default 0
    val_fraction : float, default 0.2
        Fraction of the pairs held out for validation (split by id).
    test_fraction : float, default 0.0
        Fraction of the pairs held out from training and validation
        (``split.json["test_ids"]``, used by :func:`galvae.compare_domains`).
    monitor : {"val_loss", "val_pair_ratio"}, default "val_loss"
        What early stopping and ``export="best"`` minimise (see
        :class:`AdaptConfig`); ``val_pair_ratio`` is logged either way.
    early_stopping : int or None, default None
        Patience in epochs on ``monitor``.
    decoder_epochs : int, default 0
        Then train only the decoders this many epochs, the encoder frozen at
        the exported epoch (``out/decoders/``; see :class:`AdaptConfig`).
        A resumed run repeats this phase from its start.
    export : {"last", "best"}, default "last"
        Export the end of the last epoch, or the epoch of lowest ``monitor``
        (see :class:`AdaptConfig`).
    precision, accelerator, devices, strategy, num_nodes, num_workers, max_nonfinite_batches, keep_last
        As :func:`galvae.train` (under torchrun or SLURM every process runs
        this function; only global rank 0 writes ``out``).
    source_name, target_name : str, optional
        Decoder names; default the stores' ``survey`` attributes.
    resume : bool, default False
        Continue ``out`` from its last checkpoint with its saved
        configuration (only ``epochs``, the hardware options,
        ``max_nonfinite_batches`` and ``keep_last`` are taken from the
        arguments); a damaged or foreign ``last.ckpt`` falls back to
        ``last-1.ckpt``, ..., then ``best.ckpt``, as in :func:`galvae.train`.
    overwrite : bool, default False
        Replace a non-empty ``out``.
    progress : bool, default True
    trainer_kwargs : dict, optional
        Extra ``lightning.Trainer`` arguments.

    Returns
    -------
    AdaptResult

    Raises
    ------
    GalvaeValueError
        On invalid options, stores that do not match the model or each
        other, too few shared ids, or clashing survey names.
    GalvaeFileError
        If ``run`` holds no exported model, ``out`` exists without
        ``overwrite``/``resume``, or ``resume`` finds no usable checkpoint.
    GalvaeInterruptedError
        If SIGTERM or SIGUSR1 stopped the fine-tuning (``last.ckpt`` was
        written at the end of the batch; ``resume=True`` continues there).
    """
    from ..latents.export import check_store_matches, load_exported

    quiet_lightning()
    out = Path(out)
    hw = dict(
        precision=precision,
        accelerator=accelerator,
        devices=devices,
        strategy=strategy,
        num_nodes=num_nodes,
        num_workers=num_workers,
        max_nonfinite_batches=max_nonfinite_batches,
        keep_last=keep_last,
    )
    src, tgt = os.path.abspath(os.fspath(source_store)), os.path.abspath(os.fspath(target_store))
    base_path: str | None
    surveys: tuple[str, ...]
    if resume:
        acfg, base_path, surveys = _resumed_config(out, epochs, hw, src, tgt)
    else:
        acfg = AdaptConfig(
            lam=lam,
            mmd_on=mmd_on,
            pair_weight=pair_weight,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            monitor=monitor,
            early_stopping=early_stopping,
            decoder_epochs=decoder_epochs,
            export=export,
            **hw,
        )
        base_path = None
        surveys = ()
    base, meta = load_exported(base_path or run)
    base_path = meta["path"]
    dm = PairedDataModule(
        src,
        tgt,
        batch_size=acfg.batch_size,
        val_fraction=acfg.val_fraction,
        test_fraction=acfg.test_fraction,
        seed=acfg.seed,
        num_workers=acfg.num_workers,
    )
    for path in (src, tgt):
        with ImageStore(path) as st:
            check_store_matches(meta, st)
    if not resume:
        surveys = _decoder_names(source_name or dm.surveys[0], target_name or dm.surveys[1])
    mcfg: ModelConfig = meta["model_config"]
    L.seed_everything(acfg.seed, workers=True, verbose=False)
    module = _da_module(acfg, mcfg, surveys, noise_seed=acfg.seed)
    if not resume:
        module.model.load_state_dict(DomainAdaptationVAE.from_vae(base, surveys).state_dict())

    prepare = functools.partial(
        prepare_run_dir,
        out=out,
        resume=resume,
        overwrite=overwrite,
        module=module,
        write=functools.partial(_write_run_files, out, dm, acfg, mcfg, base_path, surveys, src, tgt),
    )
    trainer, ckpt = _fit_pairs(module, dm, out, acfg, prepare, progress=progress, trainer_kwargs=trainer_kwargs)
    return _finish_adapt(
        trainer,
        ckpt,
        out,
        mcfg,
        surveys,
        dm,
        acfg,
        base_path,
        src,
        tgt,
        progress=progress,
        trainer_kwargs=trainer_kwargs,
    )


def _resumed_config(
    out: Path, epochs: int, hw: dict[str, Any], src: str, tgt: str
) -> tuple[AdaptConfig, str, tuple[str, ...]]:
    """The configuration, base model and decoder names a resumed adaptation continues with, from its ``config.json``.

    ``epochs`` and the hardware options ``hw`` replace the saved ones; the stores must be the saved ones.
    """
    last = out / "checkpoints" / "last.ckpt"
    if not resume_candidates(last.parent):
        raise GalvaeFileError(last, "cannot resume: no last checkpoint in this run directory")
    try:
        saved = json.loads((out / "config.json").read_text())
        acfg = replace(config_from_dict(AdaptConfig, saved["adapt"]), epochs=epochs, **hw)
        base_path = saved["base_model"]
        surveys = tuple(saved["data"]["surveys"])
        saved_stores = [saved["data"]["source_store"], saved["data"]["target_store"]]
    except (OSError, json.JSONDecodeError, KeyError, TypeError, GalvaeValueError) as exc:
        raise GalvaeFileError(out / "config.json", f"cannot resume: unreadable run configuration ({exc})") from None
    if not same_stores(saved["data"].get("store_fingerprints"), saved_stores, [src, tgt]):
        raise GalvaeValueError(f"resumed run {out} adapted {saved_stores}, not", [src, tgt])
    return acfg, base_path, surveys


def _decoder_names(source: str, target: str) -> tuple[str, ...]:
    """The two decoders' names, checked: distinct and usable as survey names."""
    names = (source, target)
    if names[0] == names[1]:
        raise GalvaeValueError(
            "both stores carry the same survey name; name the decoders with source_name/target_name "
            "(--source-name/--target-name)",
            names[0],
        )
    try:
        return check_survey_names(names)
    except GalvaeValueError as exc:
        raise GalvaeValueError(
            f"{exc.message}; name the decoders with source_name/target_name (--source-name/--target-name)",
            exc.value,
        ) from None


def _finish_adapt(
    trainer: Any,
    ckpt: Any,
    out: Path,
    mcfg: ModelConfig,
    surveys: tuple[str, ...],
    dm: PairedDataModule,
    acfg: AdaptConfig,
    base_path: str,
    src: str,
    tgt: str,
    *,
    progress: bool,
    trainer_kwargs: dict[str, Any] | None,
) -> AdaptResult:
    """Train the decoders alone when asked, export the adapted model (global rank 0, the other processes
    waiting) and describe the run."""
    last = out / "checkpoints" / "last.ckpt"
    best_path, best, epochs_done, steps = fit_summary(trainer, ckpt, out)
    best_loss = best if acfg.monitor == "val_loss" else _lowest_val_loss(out)
    chosen = last if acfg.export == "last" else best_path
    exported = chosen
    if acfg.decoder_epochs:
        exported = _train_decoders(
            chosen, out, dm, acfg, mcfg, surveys, progress=progress, trainer_kwargs=trainer_kwargs
        )
    with rank_zero_first(trainer):
        if trainer.is_global_zero:
            _export_adapted(
                out,
                (chosen, exported),
                mcfg,
                surveys,
                dm,
                acfg,
                base_path,
                src,
                tgt,
                (best_loss, best),
                epochs_done,
                steps,
            )
    result = AdaptResult(
        run_dir=out,
        model_path=out / "model.json",
        surveys=tuple(surveys),
        n_pairs=int(dm.ids.size),
        n_source_only=int(dm.source_only.size),
        n_target_only=int(dm.target_only.size),
        best_val_loss=best_loss,
        epochs=epochs_done,
        global_step=steps,
        monitor=acfg.monitor,
        best_score=best,
    )
    log.info(
        "adapted %s -> %s: %d pairs, %d epochs, best %s %.4g",
        base_path,
        out,
        result.n_pairs,
        result.epochs,
        acfg.monitor,
        best,
    )
    return result


def _train_decoders(
    start: Path,
    out: Path,
    dm: PairedDataModule,
    acfg: AdaptConfig,
    mcfg: ModelConfig,
    surveys: tuple[str, ...],
    *,
    progress: bool,
    trainer_kwargs: dict[str, Any] | None,
) -> Path:
    """``acfg.decoder_epochs`` epochs of eq. 6 for the decoders alone, from ``start`` with the encoder frozen.

    Writes ``out/decoders/`` (checkpoints, ``metrics.csv``, ``config.json``) and returns its last checkpoint.
    """
    state = check_checkpoint(start, finite=False)["state_dict"]
    module = _da_module(acfg, mcfg, surveys, noise_seed=acfg.seed + 1, train_encoder=False)
    module.load_state_dict(state)
    run = out / "decoders"
    dcfg = replace(acfg, epochs=acfg.decoder_epochs, early_stopping=None, monitor="val_loss", decoder_epochs=0)

    def write() -> None:
        run.mkdir(parents=True, exist_ok=True)
        write_json(run / "config.json", {"kind": "decoder_training", "encoder_from": str(start), "epochs": dcfg.epochs})

    prepare = functools.partial(prepare_run_dir, out=run, resume=False, overwrite=True, module=module, write=write)
    log.info("training the decoders alone for %d epochs from %s (encoder frozen)", acfg.decoder_epochs, start)
    _fit_pairs(module, dm, run, dcfg, prepare, progress=progress, trainer_kwargs=trainer_kwargs)
    return run / "checkpoints" / "last.ckpt"


def _da_module(
    acfg: AdaptConfig, mcfg: ModelConfig, surveys: tuple[str, ...], *, noise_seed: int, train_encoder: bool = True
) -> DAModule:
    """The Lightning module of eq. 6 (plus the paired term) for ``acfg``, its per-step noise seeded."""
    module = DAModule(
        config_to_dict(mcfg),
        list(surveys),
        lam=acfg.lam,
        mmd_on=acfg.mmd_on,
        pair_weight=acfg.pair_weight,
        lr=acfg.lr,
        train_encoder=train_encoder,
    )
    module.noise_seed = noise_seed
    return module


def _fit_pairs(
    module: DAModule,
    dm: PairedDataModule,
    run: Path,
    cfg: AdaptConfig,
    prepare: Any,
    *,
    progress: bool,
    trainer_kwargs: dict[str, Any] | None,
) -> tuple[Any, Any]:
    """:func:`fit_lightning` of ``module`` on the pairs of ``dm`` into ``run`` (``prepare`` writes its files)."""
    return fit_lightning(
        module,
        dm,
        run,
        cfg,
        n_batches=max(1, len(dm.train_pos) // cfg.batch_size),
        progress=progress,
        resume_from=None,
        trainer_kwargs=trainer_kwargs,
        prepare=prepare,
    )


def _lowest_val_loss(out: Path) -> float:
    """The lowest ``val_loss`` of the epochs in ``RUN/metrics.csv`` (NaN without one)."""
    try:
        with open(out / "metrics.csv", newline="", encoding="utf-8") as fh:
            values = [float(r["val_loss"]) for r in csv.DictReader(fh) if r.get("val_loss") not in (None, "")]
    except (OSError, csv.Error, KeyError, ValueError):
        return float("nan")
    return min(values) if values else float("nan")


def _write_run_files(
    out: Path,
    dm: PairedDataModule,
    acfg: AdaptConfig,
    mcfg: ModelConfig,
    base_path: str,
    surveys: tuple[str, ...],
    src: str,
    tgt: str,
) -> None:
    """``config.json``, ``matching.json`` and ``split.json`` of an adaptation run (global rank 0 only)."""
    out.mkdir(parents=True, exist_ok=True)
    if dm.source_only.size or dm.target_only.size:
        # Source galaxies outside the overlap are the normal case (the overlap is a strip of the
        # source survey); target galaxies without a source image are not.
        level = logging.WARNING if dm.target_only.size else logging.INFO
        log.log(
            level,
            "%d ids only in %s and %d only in %s are not used (listed in %s)",
            dm.source_only.size,
            src,
            dm.target_only.size,
            tgt,
            out / "matching.json",
        )
    data = {
        "source_store": src,
        "target_store": tgt,
        "store_fingerprints": store_fingerprints([src, tgt]),
        "surveys": list(surveys),
        "size": dm.size,
        "normalisation": config_to_dict(dm.normalisation),
        "n_pairs": int(dm.ids.size),
    }
    write_json(
        out / "config.json",
        {
            "galvae_version": __version__,
            "kind": "domain_adaptation",
            "base_model": base_path,
            "model": config_to_dict(mcfg),
            "adapt": config_to_dict(acfg),
            "data": data,
        },
    )
    write_json(
        out / "matching.json",
        {
            "n_matched": int(dm.ids.size),
            "n_source_only": int(dm.source_only.size),
            "n_target_only": int(dm.target_only.size),
            "source_only": dm.source_only.tolist(),
            "target_only": dm.target_only.tolist(),
        },
    )
    write_json(
        out / "split.json",
        {
            "seed": acfg.seed,
            "val_fraction": acfg.val_fraction,
            "test_fraction": acfg.test_fraction,
            "monitor": acfg.monitor,
            "train_ids": dm.ids[dm.train_pos].tolist(),
            "val_ids": dm.ids[dm.val_pos].tolist(),
            "test_ids": dm.ids[dm.test_pos].tolist(),
        },
    )


def _export_adapted(
    out: Path,
    checkpoints: tuple[Path, Path],
    mcfg: ModelConfig,
    surveys: tuple[str, ...],
    dm: PairedDataModule,
    acfg: AdaptConfig,
    base_path: str,
    src: str,
    tgt: str,
    best: tuple[float, float],
    epochs: int,
    steps: int,
) -> None:
    """Export the shared encoder with each survey's decoder from ``checkpoints`` (global rank 0 only): the
    epoch the fine-tuning chose, and the one exported (the same, or the decoder phase's last)."""
    from ..latents.export import export_model

    chosen, exported = checkpoints
    state = check_checkpoint(exported, finite=False)["state_dict"]
    check_finite_weights(
        state, exported, f"adaptation diverged: lower the learning rate (lr / --lr, got {acfg.lr!r}) or lambda"
    )
    net = DomainAdaptationVAE(mcfg, surveys)
    net.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    decoders = {s: f"model_{s}.json" for s in surveys}
    training = {
        "kind": "domain_adaptation",
        "base_model": base_path,
        "stores": [src, tgt],
        "seed": acfg.seed,
        "lam": acfg.lam,
        "mmd_on": acfg.mmd_on,
        "pair_weight": acfg.pair_weight,
        "epochs": int(epochs),
        "global_step": int(steps),
        "best_val_loss": best[0],
        "monitor": acfg.monitor,
        "best_score": best[1],
        "test_fraction": acfg.test_fraction,
        "decoder_epochs": acfg.decoder_epochs,
        "checkpoint": chosen.name if exported == chosen else exported.relative_to(out).as_posix(),
        "encoder_checkpoint": chosen.name,
    }
    for s in surveys:
        export_model(
            net.to_vae(s),
            out,
            normalisation=dm.normalisation,
            profile=dm.profile,
            field_fraction=dm.field_fraction,
            training=training,
            name=f"model_{s}",
            extra={"decoders": decoders, "surveys": list(surveys), "default_decoder": s},
        )
    default = json.loads((out / decoders[surveys[0]]).read_text())
    write_json(out / "model.json", default)
