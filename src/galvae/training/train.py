"""``train``: fit the VAE on image stores into one run directory.

Run directory layout::

    RUN/config.json              resolved ModelConfig, TrainConfig and data (stores, size, normalisation)
    RUN/split.json               seed, validation fraction, train and validation ids
    RUN/checkpoints/last.ckpt    end of the latest epoch, or where a SIGTERM/SIGUSR1 stopped training (used by resume)
    RUN/checkpoints/last-1.ckpt  the state before it (keep_last - 1 such rotations; resume falls back to them)
    RUN/checkpoints/best.ckpt    lowest validation loss
    RUN/logs/metrics.csv         Lightning's CSV log (copied to RUN/metrics.csv after each fit)
    RUN/logs/tensorboard/        TensorBoard events, with logger="tensorboard" (--logger tensorboard)
    RUN/model.safetensors        exported weights of the best checkpoint
    RUN/model.json               its architecture, preprocessing and galvae version

Experiment tracking goes through Lightning's loggers (``logger=`` /
``--logger``, :data:`LOGGERS`): the CSV log above is always written (it is the
run's own record, read by resume, sweep and the report); TensorBoard, MLflow
and Weights & Biases are optional extras configured the way their own users
expect (``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME``, ``WANDB_PROJECT``,
``WANDB_MODE=offline``, ...; see :func:`make_trackers`).  Each tracker receives the module's
hyper-parameters, the training configuration and data, every logged metric,
and at the end ``best_val_loss``, ``epochs`` and ``global_step``.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import importlib.util
import json
import logging
import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

from .._io import atomic_path, write_json
from .._version import __version__
from ..config import config_from_dict, config_to_dict
from ..data.store import same_stores, store_fingerprints
from ..errors import GalvaeFileError, GalvaeInterruptedError, GalvaeValueError
from ..models.config import ModelConfig
from .checkpoints import (
    LAST,
    PreemptionCheckpoint,
    RotatingCheckpointIO,
    check_checkpoint,
    resumable_loader,
    resume_candidates,
    select_resume_checkpoint,
)
from .config import TrainConfig
from .datamodule import GalaxyDataModule
from .distributed import cluster_plugins, lightning_strategy, requeue_slurm_job, spawned
from .guards import NonFiniteGuard, check_finite_weights

__all__ = [
    "train",
    "TrainResult",
    "LOGGERS",
    "LightningFit",
    "check_logger",
    "fit_lightning",
    "fit_summary",
    "make_trackers",
    "make_trainer",
]

log = logging.getLogger(__name__)

StorePaths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]

# Lightning warnings that are harmless here and would otherwise be printed on
# every run (and turned into errors under pytest's filterwarnings=error).
_HARMLESS_WARNINGS = (
    r".*does not have many workers.*",
    r".*GPU available but not used.*",
    r".*TPU available but not used.*",
    r".*LeafSpec.*is deprecated.*",
    r".*Experiment logs directory .* exists and is not empty.*",
    r".*Checkpoint directory .* exists and is not empty.*",
    r".*smaller than the logging interval.*",
    r".*isinstance\(treespec, LeafSpec\).*",
    r".*You are using `torch.load` with `weights_only=False`.*",
    r".*The number of training batches .* is smaller than.*",
    r".*`training_step` returned `None`.*",
)


class _DropAdverts(logging.Filter):
    """Drop Lightning's advertisement for its cloud logger from the run's output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()


class _SpawnedProcessSettings(Callback):
    """Carry the calling process's log levels and galvae's warning filters into ``ddp_spawn``'s processes.

    A callback without hooks, pickled with the trainer into each process
    that ``torch.multiprocessing`` starts; unpickling it there, before
    Lightning's first message, applies the settings.
    """

    _LOGGERS = ("galvae", "lightning.pytorch", "lightning.fabric")

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.levels = {name: logging.getLogger(name).level for name in self._LOGGERS}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if os.getpid() == self.pid:
            return
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)
        for pattern in _HARMLESS_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)


class _ResumableGalaxyDataModule(GalaxyDataModule):
    """:class:`GalaxyDataModule` whose training loader resumes mid-epoch (:func:`resumable_loader`)."""

    def train_dataloader(self) -> Any:
        """Shuffled training batches, order seeded by ``seed + epoch``; position saved in checkpoints."""
        return resumable_loader(super().train_dataloader())


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` produced.

    Attributes
    ----------
    run_dir : Path
    model_path : Path
        The exported ``model.json`` (weights beside it).
    best_checkpoint : Path
    last_checkpoint : Path
    best_val_loss : float
        Lowest epoch-mean validation loss (per galaxy: summed reconstruction
        error + k · KL).
    epochs : int
        Epochs completed in total (a resumed run counts the earlier ones).
    global_step : int
        Optimiser steps in total.
    """

    run_dir: Path
    model_path: Path
    best_checkpoint: Path
    last_checkpoint: Path
    best_val_loss: float
    epochs: int
    global_step: int


def _store_list(store: StorePaths) -> list[str]:
    if isinstance(store, str | os.PathLike):
        return [os.path.abspath(os.fspath(store))]
    out = [os.path.abspath(os.fspath(s)) for s in store]
    if not out:
        raise GalvaeValueError("train needs at least one image store")
    return out


#: ``logger=`` names: the tracker -> (modules of which one must be importable, pip package to install).
LOGGERS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "csv": ((), None),
    "tensorboard": (("tensorboard", "tensorboardX"), "tensorboard"),
    "mlflow": (("mlflow",), "mlflow"),
    "wandb": (("wandb",), "wandb"),
}

#: What ``logger=`` takes: a name of :data:`LOGGERS`, a Lightning logger, or a sequence of them.
LoggerSpec = Any


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check_logger(logger: LoggerSpec) -> tuple[Any, ...]:
    """Validate ``logger=``: the tracker names (and Lightning loggers) to log to besides the CSV log.

    Parameters
    ----------
    logger : str, lightning.pytorch.loggers.Logger or sequence of them
        Names from :data:`LOGGERS` (``"csv"``, ``"tensorboard"``, ``"mlflow"``,
        ``"wandb"``) and/or Lightning logger instances configured by the
        caller.  ``"csv"`` alone is galvae's default: the CSV log is written
        whatever else is chosen.

    Returns
    -------
    tuple
        The names (without ``"csv"``, without repeats, in order) and logger
        instances.

    Raises
    ------
    GalvaeValueError
        On an unknown name or something that is not a Lightning logger, or
        when a tracker's Python package is not installed (naming the package
        to ``pip install``).
    """
    from lightning.pytorch.loggers import Logger

    items = [logger] if isinstance(logger, str | Logger) else logger
    if isinstance(items, bytes) or not hasattr(items, "__iter__"):
        raise GalvaeValueError(
            "logger must be a tracker name, a Lightning logger or a sequence of them", logger, tuple(LOGGERS)
        )
    out: list[Any] = []
    for item in items:
        if isinstance(item, Logger):
            out.append(item)
            continue
        if not isinstance(item, str) or item not in LOGGERS:
            raise GalvaeValueError("logger must be a tracker name or a Lightning logger", item, tuple(LOGGERS))
        modules, package = LOGGERS[item]
        if modules and not any(_importable(m) for m in modules):
            raise GalvaeValueError(
                f"logger={item!r} needs the Python package {package!r}, which is not installed: "
                f"pip install {package} (or pip install 'galvae[tracking]')",
                item,
                tuple(k for k, (mods, _) in LOGGERS.items() if not mods or any(_importable(m) for m in mods)),
            )
        if item != "csv" and item not in out:
            out.append(item)
    return tuple(out)


def make_trackers(logger: LoggerSpec, run: Path) -> list[Any]:
    """The Lightning loggers of ``logger`` besides the CSV log (which :func:`fit_lightning` always adds).

    Trackers follow their own conventions: TensorBoard writes
    ``RUN/logs/tensorboard/``; MLflow logs where ``mlflow.get_tracking_uri()``
    points (``MLFLOW_TRACKING_URI``, else MLflow's own default), to the
    experiment ``MLFLOW_EXPERIMENT_NAME`` (else ``"galvae"``), one MLflow run
    named after the run directory and tagged with the galvae version;
    Weights & Biases to the project ``WANDB_PROJECT`` (else ``"galvae"``),
    its files under ``RUN/logs``, offline with ``WANDB_MODE=offline``.
    Logger instances are used as given.  Nothing is written yet.

    Parameters
    ----------
    logger : str, Lightning logger or sequence of them
        See :func:`check_logger`.
    run : Path
        The run directory.

    Returns
    -------
    list of lightning.pytorch.loggers.Logger

    Raises
    ------
    GalvaeValueError
        As :func:`check_logger`, or when the tracker refuses its
        configuration (e.g. an MLflow tracking URI it cannot use), with the
        tracker's own message.
    """
    trackers: list[Any] = []
    for item in check_logger(logger):
        if not isinstance(item, str):
            trackers.append(item)
            continue
        try:
            trackers.append(_make_tracker(item, run))
        except GalvaeValueError:
            raise
        except Exception as exc:  # the tracker's own exception types (MlflowException, wandb.Error, ...)
            hint = _SETUP_HINTS.get(item, "")
            raise GalvaeValueError(
                f"logger={item!r} could not be set up: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}{hint}",
                item,
            ) from exc
    return trackers


#: What to check when a tracker refuses its configuration.
_SETUP_HINTS: dict[str, str] = {
    "mlflow": " (MLflow's default store, sqlite:///mlflow.db, needs the full mlflow package, not mlflow-skinny; "
    "or point MLFLOW_TRACKING_URI at a tracking server, or at a file: URI with MLFLOW_ALLOW_FILE_STORE=true)",
    "wandb": " (log in with wandb login, or set WANDB_MODE=offline)",
}


def _make_tracker(name: str, run: Path) -> Any:
    if name == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger

        return TensorBoardLogger(save_dir=run / "logs", name="tensorboard", version="")
    if name == "mlflow":
        import mlflow
        from lightning.pytorch.loggers import MLFlowLogger

        return MLFlowLogger(
            experiment_name=os.environ.get("MLFLOW_EXPERIMENT_NAME") or "galvae",
            run_name=run.resolve().name,
            tracking_uri=mlflow.get_tracking_uri(),
            tags={"galvae_version": __version__, "galvae_run_dir": str(run.resolve())},
        )
    from lightning.pytorch.loggers import WandbLogger

    return WandbLogger(
        name=run.resolve().name, save_dir=run / "logs", project=os.environ.get("WANDB_PROJECT") or "galvae"
    )


def _finish_trackers(trackers: list[Any], spec: tuple[Any, ...]) -> None:
    """End the W&B runs galvae started from a name (Lightning leaves ``wandb.finish`` to its caller).

    Otherwise the next ``train(logger="wandb")`` in the same process would log
    into this run; a logger instance given by the caller is left to it.
    """
    for tracker, item in zip(trackers, spec, strict=True):
        experiment = getattr(tracker, "_experiment", None)
        if item == "wandb" and experiment is not None:
            experiment.finish()


def _tracker_hooks(hparams: dict[str, Any] | None, best: Any) -> Any:
    """A callback logging ``hparams`` at the start and the final metrics at the end, to the trackers only.

    The CSV log is left as it always was (Lightning writes the module's
    hyper-parameters to ``RUN/logs/hparams.yaml``; the final metrics are in
    ``model.json``), so ``metrics.csv`` keeps its rows.
    """
    import lightning as L
    from lightning.pytorch.loggers import CSVLogger

    class _TrackerHooks(L.Callback):
        def _trackers(self, trainer: Any) -> list[Any]:
            return [lg for lg in trainer.loggers if not isinstance(lg, CSVLogger)]

        def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
            if hparams:
                for lg in self._trackers(trainer):
                    lg.log_hyperparams(hparams)

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            score = best.best_model_score
            metrics = {
                "best_val_loss": float(score) if score is not None else float("nan"),
                "epochs": float(trainer.current_epoch),
                "global_step": float(trainer.global_step),
            }
            for lg in self._trackers(trainer):
                lg.log_metrics(metrics, step=int(trainer.global_step))
                lg.save()

    return _TrackerHooks()


def train(
    store: StorePaths,
    out: str | os.PathLike[str],
    *,
    latent_dim: int = 40,
    loss: str = "mse",
    kl_weight: float = 1.0,
    activation: str = "leaky_relu",
    kl_warmup_epochs: int = 0,
    likelihood: str = "gaussian",
    noise_sigma: Sequence[float] | None = None,
    learn_sigma: bool = False,
    centre_window: float = 0.0,
    colour_weight: float = 1.0,
    detail_weight: float = 1.0,
    detail_scale: float = 0.0625,
    output: str = "relu",
    channels: Sequence[int] = (32, 64, 128),
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    val_fraction: float = 0.1,
    early_stopping: int | None = None,
    augment: bool = False,
    precision: str = "32",
    accelerator: str = "auto",
    devices: int | str = 1,
    strategy: str = "auto",
    num_nodes: int = 1,
    num_workers: int = 0,
    max_nonfinite_batches: int = 10,
    keep_last: int = 2,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    model_config: ModelConfig | None = None,
    trainer_kwargs: dict[str, Any] | None = None,
    logger: LoggerSpec = "csv",
) -> TrainResult:
    """Train the paper's VAE on one or more image stores.

    Parameters
    ----------
    store : path or sequence of paths
        Image store(s) of the same size and normalisation; several are
        concatenated (their ids must be unique together).
    out : path
        Run directory (created).
    latent_dim : int, default 40
        NL.
    loss : {"mse", "mae"}, default "mse"
        Reconstruction loss, summed over each galaxy's pixels.
    kl_weight : float, default 1.0
        k of the paper's eq. 2.
    activation : {"leaky_relu", "relu"}, default "leaky_relu"
        Activation of the encoder/decoder blocks (see :class:`ModelConfig`).
    kl_warmup_epochs : int, default 0
        β-schedule variant: ramp k linearly over this many epochs (0: off,
        the paper).  Checkpoints and early stopping use the validation loss
        at the full k.
    likelihood : {"gaussian", "sum", "mean"}, default "gaussian"
        Reconstruction term (:mod:`galvae.losses.elbo`): summed over a
        galaxy's pixels (the paper's eq. 2 as written), their mean, or the
        negative log-likelihood of a Gaussian decoder with noise σ per band
        (Laplace with ``loss="mae"``), whose k = 1 is the true ELBO.  The
        default, ``"gaussian"``, is the one measured to keep the latents
        informative (``benchmarks/science.md``: 40/40 active units and
        ~115 nats per galaxy against 32 and 7 for ``"sum"``).
    noise_sigma : sequence of 3 float, optional
        σ of the ``"gaussian"`` decoder per band (g, r, z); when not given it
        is estimated from the sky pixels of up to 512 training images
        (:func:`galvae.losses.estimate_noise_sigma`).  The value used is
        recorded in ``RUN/config.json``.  With ``learn_sigma``, the initial σ.
    learn_sigma : bool, default False
        Learn σ per band with the network (``"gaussian"`` only); the learned
        value of the exported checkpoint is written to ``model.json``'s
        ``model_config.noise_sigma``.
    centre_window : float, default 0.0
        σ of the Gaussian window on the reconstruction term as a fraction of
        the image side (``ModelConfig.centre_window``): the light around a
        centred galaxy counts less.  0 (the paper) weights every pixel alike.
    colour_weight : float, default 1.0
        a of the colour-weighted likelihood (``ModelConfig.colour_weight``):
        colour residuals cost a² times as much.  1 (the paper) leaves the
        likelihood unchanged.
    detail_weight : float, default 1.0
        b of the detail-weighted likelihood (``ModelConfig.detail_weight``):
        the residuals' fine part, what a Gaussian blur of σ = ``detail_scale``
        times the side removes, costs b² times as much.  1 (the paper)
        leaves the likelihood unchanged.
    detail_scale : float, default 0.0625
        σ of that blur as a fraction of the image side (``ModelConfig.detail_scale``).
    output : {"relu", "linear"}, default "relu"
        The decoder's last layer (``ModelConfig.output``): the paper's ReLU
        or none.
    channels : sequence of int, default (32, 64, 128)
        Output channels of the encoder blocks (``ModelConfig.channels``); the
        decoder mirrors them.  Three blocks are the paper's; two, e.g.
        ``(64, 128)``, halve the image twice instead of three times, so the
        decoder starts from a map of S / 4 × S / 4 (the demo's, measured in
        ``benchmarks/science.md``).  The image side must be a multiple of
        ``2 ** len(channels)``.
    epochs : int, default 10
        Total epochs; with ``resume``, training continues up to this many.
    batch_size : int, default 64
        The global batch: images per optimiser step over all processes
        (each of P processes loads ``batch_size / P``; see
        :mod:`galvae.training.distributed`).
    lr : float, default 1e-3
        Adam learning rate (not scaled with the number of processes).
    seed : int, default 0
        Seeds the split, initial weights, data order and sampling noise.
    val_fraction : float, default 0.1
        Fraction of ids held out for validation.
    early_stopping : int or None, default None
        Patience in epochs on the validation loss.
    augment : bool, default False
        Show each training image under its own random quarter turn and
        mirror flip (:attr:`TrainConfig.augment`; recorded in
        ``config.json``).  Off is the paper's recipe; the demo turns them,
        measured to put the latents above PCA-40 on more Table 3 features
        (``benchmarks/science.md``, "Turned and mirrored training images").
    precision : {"auto", "32", "bf16-mixed", "16-mixed"}, default "32"
        Passed to ``lightning.Trainer``.  ``"auto"`` (the command line's
        default) is ``"bf16-mixed"`` on a CPU with native bfloat16 and
        ``"32"`` elsewhere (:func:`galvae.training.resolve_precision`); the
        resolved value is what ``RUN/config.json`` records.  The default
        stays ``"32"`` here so that a script's results do not depend on the
        processor it runs on.
    accelerator : str, default "auto"
    devices : int or str, default 1
        Passed to ``lightning.Trainer``: devices (processes) per node.
    strategy : {"auto", "ddp", "ddp_spawn"}, default "auto"
        Distributed training (:mod:`galvae.training.distributed`): ``"auto"``
        is one process, or Lightning's DDP when ``devices`` or
        ``num_nodes`` ask for several; under ``torchrun`` or SLURM's
        ``srun`` each process runs this function, only global rank 0 writes
        the run directory, and every process returns the same
        :class:`TrainResult` once the model is exported.  Started from a
        plain script with ``"ddp"``, Lightning runs the script again for the
        other processes.
    num_nodes : int, default 1
        Machines taking part.
    num_workers : int, default 0
        DataLoader worker processes (per training process).
    max_nonfinite_batches : int, default 10
        Batches with a NaN/inf loss or gradient skipped before training
        stops with an error (:mod:`galvae.training.guards`).
    keep_last : int, default 2
        Training states kept: ``checkpoints/last.ckpt`` and ``keep_last - 1``
        older ones (``last-1.ckpt``, ...), besides ``best.ckpt``.
    resume : bool, default False
        Continue ``out`` from ``checkpoints/last.ckpt`` (same step, optimiser
        state, RNG state and position in the epoch) using the configuration
        saved in ``config.json``; only ``epochs``, the hardware options
        (precision, accelerator, devices, strategy, num_nodes, num_workers: a
        run may continue on another number of processes),
        ``max_nonfinite_batches`` and ``keep_last`` are taken from the
        arguments.  A damaged or foreign ``last.ckpt`` is skipped (a warning
        names it and why) for ``last-1.ckpt``, ..., then ``best.ckpt``
        (:func:`galvae.training.checkpoints.select_resume_checkpoint`).
    overwrite : bool, default False
        Delete an existing non-empty ``out`` first (ignored with ``resume``).
    progress : bool, default True
        Show Lightning's progress bar.
    model_config : ModelConfig, optional
        Full architecture for variants (channels, activation, KL warm-up);
        when given, its ``size`` is replaced by the store's (``latent_dim``, ``loss``,
        ``kl_weight``, ``activation``, ``kl_warmup_epochs``, ``likelihood``,
        ``noise_sigma``, ``learn_sigma``, ``centre_window``, ``colour_weight``, ``detail_weight``, ``detail_scale``, ``output`` and ``channels`` are then ignored; its σ is still
        estimated when it has ``likelihood="gaussian"`` and no ``noise_sigma``).
    trainer_kwargs : dict, optional
        Extra keyword arguments for ``lightning.Trainer`` (e.g.
        ``limit_train_batches``); its ``callbacks`` and ``plugins`` are added
        to galvae's.
    logger : str, Lightning logger or sequence of them, default "csv"
        Experiment tracking (:data:`LOGGERS`): ``"csv"`` (the CSV log only,
        as always written to ``RUN/logs/metrics.csv`` and ``RUN/metrics.csv``),
        ``"tensorboard"`` (``RUN/logs/tensorboard/``), ``"mlflow"`` or
        ``"wandb"`` (configured through their own environment variables,
        see :func:`make_trackers`), or Lightning logger instances; several
        may be given.  The CSV log is written in every case.  Trackers get
        the hyper-parameters (architecture, training configuration, stores)
        and, at the end, ``best_val_loss``, ``epochs`` and ``global_step``.
        A resumed run is taken from the arguments (a new MLflow or W&B run).
        TensorBoard, MLflow and W&B are optional dependencies
        (``pip install 'galvae[tracking]'``).

    Returns
    -------
    TrainResult

    Raises
    ------
    GalvaeValueError
        On invalid options, a store size the architecture cannot take, a
        resumed run whose stores differ, or a ``logger`` whose package is not
        installed.
    GalvaeFileError
        If ``out`` exists without ``overwrite``/``resume``, or ``resume``
        finds no usable checkpoint (naming each file and why).
    GalvaeInterruptedError
        If SIGTERM or SIGUSR1 stopped training; ``checkpoints/last.ckpt``
        was written at the end of the batch then, and ``resume=True``
        continues exactly there.
    """
    import lightning as L

    quiet_lightning()

    from ..latents.export import export_model
    from .module import VAEModule

    run = Path(out)
    stores = _store_list(store)
    check_logger(logger)  # before anything is written: an unknown tracker or a missing package fails at once
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
    mcfg: ModelConfig | None
    if resume:
        mcfg, tcfg = _resumed_configs(run, stores, epochs, hw)
    else:
        tcfg = TrainConfig(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            val_fraction=val_fraction,
            early_stopping=early_stopping,
            augment=augment,
            **hw,
        )
        mcfg = None
    trackers = make_trackers(logger, run)  # a tracker that refuses its configuration fails before config.json
    dm = _ResumableGalaxyDataModule(
        stores,
        batch_size=tcfg.batch_size,
        val_fraction=tcfg.val_fraction,
        seed=tcfg.seed,
        num_workers=tcfg.num_workers,
    )
    data = {
        "stores": stores,
        "store_fingerprints": store_fingerprints(stores),
        "size": dm.size,
        "normalisation": config_to_dict(dm.normalisation),
    }
    if mcfg is None:
        requested = model_config or ModelConfig(
            size=dm.size,
            latent_dim=latent_dim,
            loss=loss,
            kl_weight=kl_weight,
            activation=activation,
            kl_warmup_epochs=kl_warmup_epochs,
            likelihood=likelihood,
            noise_sigma=None if noise_sigma is None else tuple(noise_sigma),
            learn_sigma=learn_sigma,
            centre_window=centre_window,
            colour_weight=colour_weight,
            detail_weight=detail_weight,
            detail_scale=detail_scale,
            output=output,
            channels=channels,
        )
        mcfg = _with_noise_sigma(replace(requested, size=dm.size), stores, dm.train_rows)
    elif mcfg.size != dm.size:
        raise GalvaeValueError(f"store size differs from the resumed model's size {mcfg.size}", dm.size)
    L.seed_everything(tcfg.seed, workers=True, verbose=False)
    module = VAEModule(config_to_dict(mcfg), lr=tcfg.lr, augment=tcfg.augment)
    module.noise_seed = tcfg.seed

    trainer, ckpt = _fit(
        module,
        dm,
        run,
        mcfg,
        tcfg,
        data,
        resume=resume,
        overwrite=overwrite,
        progress=progress,
        trainer_kwargs=trainer_kwargs,
        trackers=trackers,
        logger=logger,
    )
    return _finish_training(trainer, ckpt, module, run, dm, tcfg, export_model)


def _resumed_configs(run: Path, stores: list[str], epochs: int, hw: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """The model and training configurations a resumed run continues with, from its ``config.json``.

    ``epochs`` and the hardware options ``hw`` replace the saved ones; the stores must be the saved ones.
    """
    last = run / "checkpoints" / "last.ckpt"
    if not resume_candidates(last.parent):
        raise GalvaeFileError(last, "cannot resume: no last checkpoint in this run directory")
    try:
        saved = json.loads((run / "config.json").read_text())
        mcfg = config_from_dict(ModelConfig, saved["model"])
        tcfg = replace(config_from_dict(TrainConfig, saved["train"]), epochs=epochs, **hw)
        saved_stores = saved["data"]["stores"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError, GalvaeValueError) as exc:
        raise GalvaeFileError(run / "config.json", f"cannot resume: unreadable run configuration ({exc})") from None
    if not same_stores(saved["data"].get("store_fingerprints"), saved_stores, stores):
        raise GalvaeValueError(f"resumed run {run} was trained on {saved_stores}, not on", stores)
    return mcfg, tcfg


def _with_noise_sigma(mcfg: ModelConfig, stores: list[str], train_rows: Any) -> ModelConfig:
    """``mcfg`` with the Gaussian decoder's σ estimated from the training images' sky pixels when not given."""
    if mcfg.likelihood == "gaussian" and mcfg.noise_sigma is None:
        from ..losses.noise import estimate_store_noise_sigma

        mcfg = replace(mcfg, noise_sigma=estimate_store_noise_sigma(stores, train_rows))
        log.info(
            "noise sigma (g, r, z) estimated from the training stores' sky pixels: %s",
            ", ".join(f"{v:.4g}" for v in mcfg.noise_sigma or ()),
        )
    return mcfg


def _fit(
    module: Any,
    dm: Any,
    run: Path,
    mcfg: ModelConfig,
    tcfg: TrainConfig,
    data: dict[str, Any],
    *,
    resume: bool,
    overwrite: bool,
    progress: bool,
    trainer_kwargs: dict[str, Any] | None,
    trackers: list[Any],
    logger: LoggerSpec,
) -> tuple[Any, Any]:
    """:func:`train`'s fit, the run directory prepared by :func:`prepare_run_dir`; the trackers are finished always.

    Returns the trainer and the ``best.ckpt`` callback.
    """
    hparams = {"train": config_to_dict(tcfg), "data": data, "galvae_version": __version__}
    n_batches = max(1, -(-len(dm.train_rows) // tcfg.batch_size))
    prepare = functools.partial(
        prepare_run_dir,
        out=run,
        resume=resume,
        overwrite=overwrite,
        module=module,
        write=functools.partial(_write_train_files, run, mcfg, tcfg, dm, data),
    )
    try:
        trainer, ckpt = fit_lightning(
            module,
            dm,
            run,
            tcfg,
            n_batches=n_batches,
            progress=progress,
            resume_from=None,
            trainer_kwargs=trainer_kwargs,
            logger=trackers,
            hparams=hparams,
            prepare=prepare,
        )
    finally:
        _finish_trackers(trackers, check_logger(logger))
    return trainer, ckpt


def prepare_run_dir(
    trainer: Any, *, out: Path, resume: bool, overwrite: bool, module: Any, write: Callable[[], None]
) -> Path | None:
    """Clear or check a run directory and ``write`` its run files on global rank 0; the checkpoint to resume from.

    Runs once the trainer exists, which tells (under every launcher: torchrun, SLURM, Lightning's own,
    ddp_spawn) whether this process is global rank 0, the only one that writes ``out``.  Shared by
    :func:`train` and :func:`galvae.training.adapt.adapt`.

    Returns
    -------
    Path or None
        The checkpoint to resume from; None for a new run.

    Raises
    ------
    GalvaeFileError
        If ``out`` holds files and neither ``resume`` nor ``overwrite`` is set.
    """
    last = out / "checkpoints" / "last.ckpt"
    writer = trainer.is_global_zero
    if not resume and writer and out.exists() and any(out.iterdir()):
        if not overwrite:
            raise GalvaeFileError(
                out,
                "run directory exists and is not empty (pass overwrite=True / --overwrite, or resume=True / --resume)",
            )
        shutil.rmtree(out)
    resume_from = None
    if resume:
        # rank 0 checks the candidates and puts the usable one in last.ckpt; the other processes load
        # last.ckpt after all processes have met in trainer.fit, by when rank 0 has done so
        resume_from = select_resume_checkpoint(last.parent, expected=module.state_dict()) if writer else last
        log.info("resuming %s from %s with its saved configuration", out, resume_from)
    if writer:
        write()
    return resume_from


def _write_train_files(run: Path, mcfg: ModelConfig, tcfg: TrainConfig, dm: Any, data: dict[str, Any]) -> None:
    """:func:`train`'s run files: ``config.json`` (model, training, data) and ``split.json`` (the ids of each split)."""
    run.mkdir(parents=True, exist_ok=True)
    write_json(
        run / "config.json",
        {
            "galvae_version": __version__,
            "model": config_to_dict(mcfg),
            "train": config_to_dict(tcfg),
            "data": data,
        },
    )
    write_json(
        run / "split.json",
        {
            "seed": tcfg.seed,
            "val_fraction": tcfg.val_fraction,
            "train_ids": dm.ids[dm.train_rows].tolist(),
            "val_ids": dm.ids[dm.val_rows].tolist(),
        },
        indent=None,
    )


def _finish_training(
    trainer: Any, ckpt: Any, module: Any, run: Path, dm: Any, tcfg: TrainConfig, export_model: Any
) -> TrainResult:
    """Export the best checkpoint (global rank 0, the other processes waiting) and describe the run."""
    last = run / "checkpoints" / "last.ckpt"
    best_path, best_score, epochs_done, steps = fit_summary(trainer, ckpt, run)
    with rank_zero_first(trainer):
        if trainer.is_global_zero:
            _export_best(best_path, module, run, dm, tcfg, best_score, epochs_done, steps, export_model)
    result = TrainResult(
        run_dir=run,
        model_path=run / "model.json",
        best_checkpoint=best_path,
        last_checkpoint=last,
        best_val_loss=best_score,
        epochs=epochs_done,
        global_step=steps,
    )
    log.info("trained %s: %d epochs, %d steps, best val loss %.4g", run, result.epochs, result.global_step, best_score)
    return result


@dataclass
class LightningFit:
    """A ``lightning.Trainer`` set up by :func:`make_trainer`, with galvae's callbacks.

    Attributes
    ----------
    trainer : lightning.Trainer
        Its world ranks are already known (``trainer.is_global_zero`` is
        right before fitting, in every launcher).
    checkpoint : ModelCheckpoint
        The ``best.ckpt`` callback.
    preemption : PreemptionCheckpoint
    """

    trainer: Any
    checkpoint: Any
    preemption: PreemptionCheckpoint


def make_trainer(
    run: Path,
    tcfg: Any,
    *,
    n_batches: int,
    progress: bool,
    trainer_kwargs: dict[str, Any] | None,
    logger: LoggerSpec = "csv",
    hparams: dict[str, Any] | None = None,
) -> LightningFit:
    """The ``lightning.Trainer`` of :func:`fit_lightning`, made before anything is written to ``run``.

    Made first so that the caller knows, in every launcher (torchrun, SLURM,
    Lightning's own, ``ddp_spawn``), whether its process is global rank 0,
    the only one that writes the run directory
    (:mod:`galvae.training.distributed`).  Its strategy comes from
    ``tcfg.strategy``, ``tcfg.devices`` and ``tcfg.num_nodes``
    (:func:`~galvae.training.distributed.lightning_strategy`); Lightning's
    ``DistributedSampler`` is off (galvae's samplers share the data out
    themselves), and under SLURM Lightning's auto-requeue is replaced by
    galvae's.
    """
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
    from lightning.pytorch.loggers import CSVLogger

    monitor = getattr(tcfg, "monitor", "val_loss")  # AdaptConfig may choose another validation metric
    ckpt = ModelCheckpoint(
        dirpath=run / "checkpoints",
        filename="best",
        monitor=monitor,
        mode="min",
        save_top_k=1,
        enable_version_counter=False,
    )
    # A second callback rewrites last.ckpt after every epoch.  ModelCheckpoint(save_last=True) no
    # longer does that since Lightning 2.6: it copies last.ckpt only when a top-k checkpoint is
    # saved, so resuming would restart from the best epoch instead of the last one.
    last = ModelCheckpoint(
        dirpath=run / "checkpoints",
        filename="last",
        monitor=None,
        save_top_k=1,
        enable_version_counter=False,
        save_on_train_epoch_end=True,
    )
    preemption = PreemptionCheckpoint(run / "checkpoints" / LAST)
    callbacks: list[Any] = [NonFiniteGuard(tcfg.max_nonfinite_batches), ckpt, last, preemption]  # skip NaN/inf batches
    if tcfg.early_stopping is not None:
        callbacks.append(EarlyStopping(monitor=monitor, mode="min", patience=tcfg.early_stopping))
    if progress:
        callbacks.append(TQDMProgressBar())
    strategy = lightning_strategy(getattr(tcfg, "strategy", "auto"), tcfg.devices, getattr(tcfg, "num_nodes", 1))
    if strategy == "ddp_spawn":
        callbacks.append(_SpawnedProcessSettings())
    loggers: list[Any] = [CSVLogger(save_dir=run, name="logs", version=""), *make_trackers(logger, run)]
    if len(loggers) > 1:
        callbacks.append(_tracker_hooks(hparams, ckpt))
    extra = dict(trainer_kwargs or {})
    callbacks.extend(extra.pop("callbacks", None) or [])
    plugins: list[Any] = [RotatingCheckpointIO(tcfg.keep_last), *cluster_plugins()]
    plugins.extend(extra.pop("plugins", None) or [])
    num_nodes = getattr(tcfg, "num_nodes", 1)
    kwargs: dict[str, Any] = dict(
        max_epochs=tcfg.epochs,
        precision=tcfg.precision,
        accelerator=tcfg.accelerator,
        devices=tcfg.devices,
        strategy=strategy,
        num_nodes=num_nodes,
        use_distributed_sampler=False,  # the datamodules give each process its share (EpochSeededSampler)
        callbacks=callbacks,
        logger=loggers,
        enable_progress_bar=progress,
        enable_model_summary=False,
        log_every_n_steps=min(50, n_batches),
        num_sanity_val_steps=0,
        default_root_dir=run,
        plugins=plugins,
    )
    kwargs.update(extra)
    lightning_log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    advert_filter = _DropAdverts()
    lightning_log.addFilter(advert_filter)
    try:
        with _quiet_warnings():
            trainer = L.Trainer(**kwargs)
    finally:
        lightning_log.removeFilter(advert_filter)
    set_ranks = getattr(trainer.strategy, "set_world_ranks", None)
    if callable(set_ranks):  # from the launcher's environment; Lightning would do it only inside fit
        set_ranks()
    _check_world(trainer, tcfg)
    return LightningFit(trainer, ckpt, preemption)


def _check_world(trainer: Any, tcfg: Any) -> None:
    """Log this process's place in a distributed run and check that the global batch splits evenly over it."""
    if trainer.world_size > 1:
        log.info(
            "distributed training: process %d of %d (%s); global batch %d, %d per process",
            trainer.global_rank,
            trainer.world_size,
            type(trainer.strategy).__name__,
            tcfg.batch_size,
            tcfg.batch_size // trainer.world_size,
        )
        if tcfg.batch_size % trainer.world_size:
            raise GalvaeValueError(
                f"batch_size (--batch-size) is the global batch, split evenly over the {trainer.world_size} "
                f"processes; it must be a multiple of {trainer.world_size}",
                tcfg.batch_size,
            )


class _quiet_warnings(warnings.catch_warnings):
    """``warnings.catch_warnings`` ignoring :data:`_HARMLESS_WARNINGS`."""

    def __enter__(self) -> Any:
        out = super().__enter__()
        for pattern in _HARMLESS_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        return out


def fit_lightning(
    module: Any,
    datamodule: Any,
    run: Path,
    tcfg: Any,
    *,
    n_batches: int,
    progress: bool,
    resume_from: Path | None,
    trainer_kwargs: dict[str, Any] | None,
    logger: LoggerSpec = "csv",
    hparams: dict[str, Any] | None = None,
    prepare: Callable[[Any], Path | None] | None = None,
) -> tuple[Any, Any]:
    """Fit ``module`` with galvae's standard Lightning set-up; return (trainer, checkpoint callback).

    Checkpoints ``RUN/checkpoints/best.ckpt`` (lowest ``val_loss``, or ``tcfg.monitor`` where the config has one) and
    ``RUN/checkpoints/last.ckpt`` (end of the latest epoch, rotated to
    ``last-1.ckpt``, ... up to ``tcfg.keep_last`` states), all written
    atomically (:class:`~galvae.training.checkpoints.RotatingCheckpointIO`);
    the CSV log under ``RUN/logs`` and the trackers of ``logger``
    (:func:`make_trackers`; they also get ``hparams`` and the final metrics), optional
    early stopping (``tcfg.early_stopping``), progress bar, and the
    precision, accelerator, devices, strategy and nodes of ``tcfg``; copies the metrics to
    ``RUN/metrics.csv`` (global rank 0).  Shared by :func:`train` and :func:`galvae.adapt`.

    The trainer is made first (:func:`make_trainer`); then, in every
    process, ``prepare(trainer)`` (when given) writes what the run needs
    before fitting where ``trainer.is_global_zero`` (the only process that
    writes the run directory, under every launcher) and returns the
    checkpoint to resume from, which replaces ``resume_from``.

    Pre-emption uses Lightning's own SIGTERM mechanism (its signal connector
    sets ``trainer.received_sigterm``; the loops raise ``SIGTERMException``
    after the current batch), with SIGUSR1 routed to it:
    :class:`~galvae.training.checkpoints.PreemptionCheckpoint` then writes
    ``last.ckpt``, and this function raises
    :class:`~galvae.errors.GalvaeInterruptedError` (under SLURM, after a
    SIGUSR1, rank 0 first requeues the job:
    :func:`~galvae.training.distributed.requeue_slurm_job`).  For an exact mid-epoch
    resume the datamodule's training loader should be a
    :class:`~galvae.training.checkpoints.ResumableDataLoader`.

    ``resume_from`` (validated beforehand, see
    :func:`~galvae.training.checkpoints.select_resume_checkpoint`) is loaded
    with ``weights_only=True``.
    ``trainer_kwargs`` ``callbacks`` and ``plugins`` are added to galvae's.

    Raises
    ------
    GalvaeInterruptedError
        When SIGTERM or SIGUSR1 stopped training (after writing ``last.ckpt``).
    """
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    fit = make_trainer(
        run,
        tcfg,
        n_batches=n_batches,
        progress=progress,
        trainer_kwargs=trainer_kwargs,
        logger=logger,
        hparams=hparams,
    )
    trainer, ckpt, preemption = fit.trainer, fit.checkpoint, fit.preemption
    if prepare is not None:
        resume_from = prepare(trainer)
    lightning_log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    advert_filter = _DropAdverts()
    lightning_log.addFilter(advert_filter)
    # Lightning's CSVLogger deletes RUN/logs/metrics.csv when it starts in a non-empty directory: the
    # rows of the run so far are kept here and put back in front of the resumed run's.
    previous = _read_metrics(run) if resume_from is not None and trainer.is_global_zero else None
    stopped = False
    try:
        with _quiet_warnings():
            trainer.fit(
                module,
                datamodule=datamodule,
                ckpt_path=resume_from,
                weights_only=True if resume_from is not None else None,
            )
    except SIGTERMException:  # Lightning's: raised after the batch during which the signal came
        stopped = True
    finally:
        lightning_log.removeFilter(advert_filter)
        if trainer.is_global_zero:
            _save_metrics(run, previous, preemption.start_step)
    if stopped:
        requeued = None
        if preemption.signal_name == "SIGUSR1" and preemption.saved is not None and trainer.is_global_zero:
            from lightning.fabric.plugins.environments import SLURMEnvironment

            if SLURMEnvironment.detect():
                requeued = requeue_slurm_job()
        raise _interrupted(run, preemption, trainer, requeued)
    return trainer, ckpt


def fit_summary(trainer: Any, ckpt: Any, run: Path) -> tuple[Path, float, int, int]:
    """(best checkpoint, its validation loss, epochs, global step) of a finished fit.

    From the trainer, or, where the fit ran in processes started by
    ``ddp_spawn`` (the calling process holds none of its loop state), from
    the checkpoints rank 0 wrote: ``best.ckpt``'s ModelCheckpoint state and
    ``last.ckpt``'s epoch and step.
    """
    last = run / "checkpoints" / LAST
    best_path = Path(ckpt.best_model_path) if ckpt.best_model_path else last
    if not spawned(trainer):
        score = float(ckpt.best_model_score) if ckpt.best_model_score is not None else float("nan")
        return best_path, score, int(trainer.current_epoch), int(trainer.global_step)
    state = check_checkpoint(last, finite=False)
    score = float("nan")
    if best_path.is_file():
        for key, value in check_checkpoint(best_path, finite=False).get("callbacks", {}).items():
            if str(key).startswith("ModelCheckpoint") and "'monitor': 'val_" in str(key):  # best.ckpt's callback
                raw = value.get("best_model_score")
                score = float(raw) if raw is not None else score
    return best_path, score, int(state["epoch"]) + 1, int(state["global_step"])


def _read_metrics(run: Path) -> tuple[list[str], list[dict[str, str]]] | None:
    """Header and rows of the run's metrics so far (``RUN/logs/metrics.csv``, else ``RUN/metrics.csv``)."""
    for path in (run / "logs" / "metrics.csv", run / "metrics.csv"):
        if path.is_file():
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                rows = list(reader)
                return list(reader.fieldnames or []), rows
    return None


def _row_step(row: dict[str, str]) -> float:
    try:
        return float(row.get("step") or "nan")
    except ValueError:
        return float("nan")


def _save_metrics(run: Path, previous: tuple[list[str], list[dict[str, str]]] | None, start_step: int | None) -> None:
    """Copy ``RUN/logs/metrics.csv`` to ``RUN/metrics.csv``, first putting back the rows logged before a resume.

    Rows of ``previous`` logged at a step before the resumed one (``start_step``) are kept, later ones
    (from after the checkpoint resumed from; the resumed run logs them again) dropped.
    """
    logs = run / "logs" / "metrics.csv"
    try:
        if previous is not None and previous[1]:
            fields, rows = previous
            kept = rows if start_step is None else [r for r in rows if _row_step(r) < start_step]
            new = _read_metrics(run) if logs.is_file() else None
            if new is not None:
                fields = sorted(set(fields) | set(new[0]))
                kept = kept + new[1]
            logs.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(logs) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=fields, restval="")
                writer.writeheader()
                writer.writerows(kept)
        if logs.is_file():
            with atomic_path(run / "metrics.csv") as tmp:
                shutil.copyfile(logs, tmp)
    except (OSError, ValueError, csv.Error) as exc:  # the metrics must not hide the training's own outcome
        log.warning("could not update %s: %s", run / "metrics.csv", exc)


def _interrupted(
    run: Path, preemption: PreemptionCheckpoint, trainer: Any, requeued: str | None = None
) -> GalvaeInterruptedError:
    """The one-line error of a run stopped by a signal."""
    name = preemption.signal_name or "SIGTERM"
    where = (
        f"in epoch {preemption.epoch} after {preemption.batches} of its {int(trainer.num_training_batches)} "
        "training batches "
        f"(global step {int(trainer.global_step)})"
    )
    if preemption.saved is None:
        return GalvaeInterruptedError(
            f"{run}: training stopped by {name} {where}; no checkpoint could be written", name
        )
    then = f"SLURM job {requeued} requeued; it continues" if requeued else "continue"
    return GalvaeInterruptedError(
        f"{run}: training stopped by {name} {where}; checkpoint {preemption.saved} written; {then} with "
        "resume=True (--resume)",
        name,
        preemption.saved,
    )


def quiet_lightning() -> None:
    """Make Lightning's INFO banners ("GPU available: ...") follow galvae's log level."""
    lightning_level = logging.INFO if log.isEnabledFor(logging.INFO) else logging.WARNING
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(lightning_level)


@contextlib.contextmanager
def rank_zero_first(trainer: Any) -> Iterator[None]:
    """Let every process leave the block only once it has run on all of them (a barrier after it).

    Used around the export, which only global rank 0 does: the other
    processes of a distributed run return once the model is written.  A
    no-op in one process and in the calling process of ``ddp_spawn``.
    """
    try:
        yield
    finally:
        if trainer.world_size > 1 and not spawned(trainer):
            trainer.strategy.barrier("galvae_export")


def _export_best(
    best_path: Path,
    module: Any,
    run: Path,
    dm: Any,
    tcfg: TrainConfig,
    best: float,
    epochs: int,
    steps: int,
    export_model: Any,
) -> None:
    from ..models.vae import VAE

    state = check_checkpoint(best_path, finite=False)["state_dict"]
    check_finite_weights(state, best_path, "lower the learning rate (lr / --lr) or check the input stores")
    config = module.config
    if "noise.log_sigma" in state:  # a learned decoder σ is exported as the model's noise_sigma
        config = replace(config, noise_sigma=module.noise.sigma_from_state(state["noise.log_sigma"]))
    model = VAE(config)
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")})
    export_model(
        model,
        run,
        normalisation=dm.normalisation,
        profile=dm.profile,
        field_fraction=dm.field_fraction,
        training={
            "stores": dm.store_paths,
            "seed": tcfg.seed,
            "epochs": int(epochs),
            "global_step": int(steps),
            "best_val_loss": best,
            "checkpoint": best_path.name,
        },
    )
