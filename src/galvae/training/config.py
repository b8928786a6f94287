"""Training configuration (frozen dataclasses saved in ``RUN/config.json``)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, fields
from typing import Literal, get_args

from .._validate import check_bool, check_choice, check_float, check_int
from ..errors import GalvaeValueError
from ..models.config import ModelConfig
from .precision import PRECISIONS, resolve_precision

__all__ = ["AdaptConfig", "ModelConfig", "TrainConfig", "PRECISIONS", "STRATEGIES", "check_parallel"]

#: ``strategy`` values: ``"auto"`` (one process; ``"ddp"`` when several devices or nodes are asked for),
#: ``"ddp"`` (one process per device, started by torchrun, SLURM's srun or Lightning itself) and
#: ``"ddp_spawn"`` (processes started by ``torch.multiprocessing``; no torchrun/SLURM, no signal handling).
STRATEGIES: tuple[str, ...] = ("auto", "ddp", "ddp_spawn")

MmdOn = Literal["mu", "z"]
Export = Literal["last", "best"]
Monitor = Literal["val_loss", "val_pair_ratio"]


def _store(obj: object, name: str, value: object) -> None:
    """Keep the checked value (a plain int or float, not a numpy one) in the frozen dataclass."""
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class TrainConfig:
    """How the VAE is optimised.

    Parameters
    ----------
    epochs : int, default 10
        Total number of epochs (a resumed run trains up to this many).
    batch_size : int, default 64
        The global batch: images per optimiser step over all processes
        together.  With P = devices × num_nodes processes each takes
        ``batch_size / P`` of them (it must be a multiple of P), so the
        steps per epoch, the learning rate and the loss are those of one
        process; see :mod:`galvae.training.distributed`.
    lr : float, default 1e-3
        Adam learning rate (the paper's); not scaled with the number of
        processes (the batch is global).
    seed : int, default 0
        Seeds the train/validation split, the initial weights, the data order
        (epoch e uses ``seed + e``) and the sampling noise.
    val_fraction : float, default 0.1
        Fraction of the ids held out for validation, in (0, 1).
    early_stopping : int or None, default None
        Patience in epochs on the validation loss; None trains all epochs.
    augment : bool, default False
        Show each training image under its own random quarter turn and
        mirror flip (:func:`galvae.data.augment.turn_and_flip`; drawn from
        the seed and the step, so a resumed run stays exact).  Validation
        images are not turned.  Off is the paper's recipe; the demo turns
        them (``benchmarks/science.md``, "Turned and mirrored training
        images").
    precision : {"auto", "32", "bf16-mixed", "16-mixed"}, default "32"
        Passed to ``lightning.Trainer``; ``"auto"`` is replaced by what it
        resolves to for ``accelerator`` on this machine
        (:func:`~galvae.training.precision.resolve_precision`:
        ``"bf16-mixed"`` on a CPU with native bfloat16, else ``"32"``), so
        ``RUN/config.json`` records the precision actually used.
    accelerator : str, default "auto"
        Passed to ``lightning.Trainer`` ("cpu", "gpu", "mps", "auto").
    devices : int or str, default 1
        Passed to ``lightning.Trainer``: devices (processes) per node.
    strategy : {"auto", "ddp", "ddp_spawn"}, default "auto"
        How several processes train together (:data:`STRATEGIES`, see
        :mod:`galvae.training.distributed`); ``"auto"`` is one process, or
        ``"ddp"`` with several devices or nodes.
    num_nodes : int, default 1
        Machines taking part (``lightning.Trainer(num_nodes=...)``).
    num_workers : int, default 0
        DataLoader worker processes (per training process).
    max_nonfinite_batches : int, default 10
        Training batches with a NaN/inf loss or gradient that are skipped
        (no optimiser step, a warning each) before training stops with an
        error; see :mod:`galvae.training.guards`.
    keep_last : int, default 2
        Newest training states kept in ``RUN/checkpoints``: ``last.ckpt``
        and ``keep_last - 1`` older ones (``last-1.ckpt``, ...), besides
        ``best.ckpt``; a damaged ``last.ckpt`` then falls back to them on
        resume (see :mod:`galvae.training.checkpoints`).

    Raises
    ------
    GalvaeValueError
        On out-of-range values.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    val_fraction: float = 0.1
    early_stopping: int | None = None
    augment: bool = False
    precision: str = "32"
    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    num_workers: int = 0
    max_nonfinite_batches: int = 10
    keep_last: int = 2

    def __post_init__(self) -> None:
        _store(self, "epochs", check_int("epochs", self.epochs, minimum=1))
        check_parallel(self.strategy, self.devices, self.num_nodes, self.batch_size)
        _store(self, "num_nodes", int(self.num_nodes))
        _store(self, "batch_size", check_int("batch_size", self.batch_size, minimum=1))
        _store(self, "lr", check_float("lr", self.lr, minimum=0, inclusive=False))
        _store(self, "seed", check_int("seed", self.seed, minimum=0))
        _store(
            self, "val_fraction", check_float("val_fraction", self.val_fraction, minimum=0, maximum=1, inclusive=False)
        )
        _store(self, "augment", check_bool("augment", self.augment))
        if self.early_stopping is not None:
            _store(self, "early_stopping", check_int("early_stopping (patience)", self.early_stopping, minimum=1))
        _store(self, "precision", resolve_precision(self.precision, self.accelerator))
        _store(self, "num_workers", check_int("num_workers", self.num_workers, minimum=0))
        _store(self, "max_nonfinite_batches", check_max_nonfinite_batches(self.max_nonfinite_batches))
        _store(self, "keep_last", check_keep_last(self.keep_last))


def _device_count(devices: object) -> int | None:
    """Processes per node that ``devices`` asks for, when that is known before Lightning looks at the machine."""
    if isinstance(devices, bool):
        return None
    if isinstance(devices, int):
        return devices
    if isinstance(devices, str):
        text = devices.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        if "," in text:  # a list of device indices, "0,1"
            return len([d for d in text.split(",") if d.strip()])
    if isinstance(devices, list | tuple):
        return len(devices)
    return None  # "auto": all devices of the machine


def check_parallel(strategy: object, devices: object, num_nodes: object, batch_size: int | None = None) -> int | None:
    """Validate ``strategy``, ``devices`` and ``num_nodes`` together.

    Parameters
    ----------
    strategy : {"auto", "ddp", "ddp_spawn"}
    devices : int or str
        Devices per node (``lightning.Trainer(devices=...)``): a positive
        integer, ``"auto"``, ``"-1"`` (all), or a list of indices ``"0,1"``.
    num_nodes : int
        A positive integer.
    batch_size : int, optional
        The global batch, checked to be a multiple of the number of
        processes when that is known here.

    Returns
    -------
    int or None
        The number of processes, devices × num_nodes, or None when it is
        only known on the machine (``devices="auto"`` or ``-1``).

    Raises
    ------
    GalvaeValueError
        Naming the parameter, the value and the accepted values.
    """
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise GalvaeValueError("strategy (--strategy) not recognised", strategy, STRATEGIES)
    num_nodes = check_int("num_nodes (--num-nodes)", num_nodes, minimum=1)
    per_node = _device_count(devices)
    if per_node is not None and per_node < 1 and per_node != -1:
        raise GalvaeValueError(
            "devices (--devices) must be a positive number of devices per node, -1 or 'auto' (all of them), "
            "or a list of device indices such as '0,1'",
            devices,
        )
    if isinstance(devices, str) and per_node is None and devices.strip() != "auto":
        raise GalvaeValueError("devices (--devices) not recognised", devices, ("N >= 1", "-1", "auto", "0,1,..."))
    if per_node == -1:
        per_node = None
    processes = None if per_node is None else per_node * num_nodes
    if (
        batch_size is not None
        and processes is not None
        and processes > 1
        and isinstance(batch_size, numbers.Integral)
        and not isinstance(batch_size, bool)
        and batch_size % processes
    ):
        raise GalvaeValueError(
            f"batch_size (--batch-size) is the global batch, split evenly over the {processes} processes "
            f"(devices {devices} x num_nodes {num_nodes}); it must be a multiple of {processes}",
            batch_size,
        )
    return processes


def check_keep_last(value: object) -> int:
    """Validate ``keep_last`` (a positive integer: ``last.ckpt`` and its older rotations kept)."""
    return check_int("keep_last (last.ckpt and the older training states kept beside it)", value, minimum=1)


def check_max_nonfinite_batches(value: object) -> int:
    """Validate ``max_nonfinite_batches`` (a non-negative integer; see :mod:`galvae.training.guards`)."""
    return check_int("max_nonfinite_batches", value, minimum=0)


@dataclass(frozen=True)
class AdaptConfig:
    """How a trained VAE is adapted to a second survey (the paper's Section 5.2).

    Parameters
    ----------
    lam : float, default 0.5
        λ, the weight of MMD² in eq. 6 (the paper's value).
    mmd_on : {"mu", "z"}, default "mu"
        MMD² between the latent means (default) or the sampled latents.
    pair_weight : float, default 0.0
        Weight of the optional paired-latent term (mean squared difference of
        a galaxy's two latent means); 0 is the paper's loss.
    epochs : int, default 20
        Total fine-tuning epochs (a resumed run trains up to this many).
    batch_size : int, default 32
        Galaxy pairs per step (each step sees 2 × batch_size images).
    lr : float, default 1e-3
        Adam learning rate (the paper's rate for the VAE; 1e-4 barely moves
        the latents in 20 epochs of a few hundred pairs).
    seed : int, default 0
        Seeds the train/validation split of the pairs, the data order and the
        sampling noise.
    val_fraction : float, default 0.2
        Fraction of the matched ids held out for validation.
    test_fraction : float, default 0.0
        Fraction of the matched ids held out from training and validation
        alike (``split.json["test_ids"]``): with ``monitor="val_pair_ratio"``
        the validation pairs choose the epoch, so an unbiased measure of the
        alignment needs pairs that played no part (``galvae compare-domains``
        uses them when present).
    monitor : {"val_loss", "val_pair_ratio"}, default "val_loss"
        What early stopping and ``export="best"`` minimise: eq. 6 on the
        validation pairs, or the validation pairs' median paired latent MSE
        over the median MSE of every mismatched pair (scale-free; logged in
        every run).  The paper's loss alone aligns the surveys in the first
        few epochs and then drifts apart again (``docs/science.md``), which
        the ratio sees and the loss does not.
    early_stopping : int or None, default None
        Patience in epochs on ``monitor``.
    decoder_epochs : int, default 0
        After the fine-tuning, train only the two decoders this many more
        epochs, the encoder (so every latent) frozen at the exported epoch
        (``RUN_DA/decoders/``).  The latents stop where the alignment is
        best while each decoder goes on learning its survey (the paper puts
        "the differences ... caused by different survey parameters" in
        them): an early-stopped adaptation leaves decoders one or two epochs
        from the shared start, which translate worse (``benchmarks/science.md``).
    export : {"last", "best"}, default "last"
        Which checkpoint becomes the exported models: the end of the last
        epoch (default: fine-tuning for a fixed number of epochs; on a few
        hundred pairs the validation loss is dominated by reconstruction
        noise and "best" can pick an almost unadapted early epoch), or the
        epoch with the lowest ``monitor``.
    precision, accelerator, devices, strategy, num_nodes, num_workers, max_nonfinite_batches, keep_last
        As :class:`TrainConfig` (``batch_size`` is global there too: pairs per
        step over all processes; MMD² is computed on the whole global batch).

    Raises
    ------
    GalvaeValueError
        On out-of-range values.
    """

    lam: float = 0.5
    mmd_on: MmdOn = "mu"
    pair_weight: float = 0.0
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    monitor: Monitor = "val_loss"
    early_stopping: int | None = None
    decoder_epochs: int = 0
    export: Export = "last"
    precision: str = "32"
    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    num_workers: int = 0
    max_nonfinite_batches: int = 10
    keep_last: int = 2

    def __post_init__(self) -> None:
        _store(self, "export", check_choice("export", self.export, get_args(Export)))
        _store(self, "decoder_epochs", check_int("decoder_epochs", self.decoder_epochs, minimum=0))
        for name in ("lam", "pair_weight"):
            _store(self, name, check_float(name, getattr(self, name), minimum=0))
        _store(self, "mmd_on", check_choice("mmd_on", self.mmd_on, get_args(MmdOn)))
        _store(self, "monitor", check_choice("monitor", self.monitor, get_args(Monitor)))
        _store(
            self,
            "test_fraction",
            check_float("test_fraction", self.test_fraction, minimum=0, maximum=1, inclusive=(True, False)),
        )
        _store(self, "precision", resolve_precision(self.precision, self.accelerator))
        # the remaining fields follow TrainConfig's rules (batch_size >= 2: MMD² needs two points)
        checked = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
            val_fraction=self.val_fraction,
            early_stopping=self.early_stopping,
            precision=self.precision,
            accelerator=self.accelerator,
            devices=self.devices,
            strategy=self.strategy,
            num_nodes=self.num_nodes,
            num_workers=self.num_workers,
            max_nonfinite_batches=self.max_nonfinite_batches,
            keep_last=self.keep_last,
        )
        for f in fields(TrainConfig):
            _store(self, f.name, getattr(checked, f.name))
        if self.test_fraction > 0 and self.val_fraction + self.test_fraction >= 1:
            raise GalvaeValueError(
                f"val_fraction + test_fraction must be below 1 (some pairs must be left to train on); "
                f"val_fraction is {self.val_fraction!r}, test_fraction",
                self.test_fraction,
            )
        if self.batch_size < 2:
            raise GalvaeValueError(
                "batch_size must be at least 2 (MMD² compares two points or more per survey)", self.batch_size
            )
