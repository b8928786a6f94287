"""Training configuration (frozen dataclasses saved in ``RUN/config.json``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import GalvaeValueError
from ..models.config import ModelConfig

__all__ = ["ModelConfig", "TrainConfig", "PRECISIONS"]

#: Numerical precisions accepted by :class:`TrainConfig` (passed to ``lightning.Trainer``).
PRECISIONS: tuple[str, ...] = ("32", "bf16-mixed", "16-mixed")


def _pos_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GalvaeValueError(f"{name} must be a positive integer", value)


@dataclass(frozen=True)
class TrainConfig:
    """How the VAE is optimised.

    Parameters
    ----------
    epochs : int, default 10
        Total number of epochs (a resumed run trains up to this many).
    batch_size : int, default 64
    lr : float, default 1e-3
        Adam learning rate (the paper's).
    seed : int, default 0
        Seeds the train/validation split, the initial weights, the data order
        (epoch e uses ``seed + e``) and the sampling noise.
    val_fraction : float, default 0.1
        Fraction of the ids held out for validation, in (0, 1).
    early_stopping : int or None, default None
        Patience in epochs on the validation loss; None trains all epochs.
    precision : {"32", "bf16-mixed", "16-mixed"}, default "32"
    accelerator : str, default "auto"
        Passed to ``lightning.Trainer`` ("cpu", "gpu", "mps", "auto").
    devices : int or str, default 1
        Passed to ``lightning.Trainer``.
    num_workers : int, default 0
        DataLoader worker processes.

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
    precision: str = "32"
    accelerator: str = "auto"
    devices: int | str = 1
    num_workers: int = 0

    def __post_init__(self) -> None:
        _pos_int("epochs", self.epochs)
        _pos_int("batch_size", self.batch_size)
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise GalvaeValueError("lr must be a positive number", self.lr)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise GalvaeValueError("seed must be a non-negative integer", self.seed)
        if not (isinstance(self.val_fraction, int | float) and 0 < self.val_fraction < 1):
            raise GalvaeValueError("val_fraction must lie strictly between 0 and 1", self.val_fraction)
        if self.early_stopping is not None:
            _pos_int("early_stopping (patience)", self.early_stopping)
        if self.precision not in PRECISIONS:
            raise GalvaeValueError("precision", self.precision, PRECISIONS)
        if isinstance(self.num_workers, bool) or not isinstance(self.num_workers, int) or self.num_workers < 0:
            raise GalvaeValueError("num_workers must be a non-negative integer", self.num_workers)
