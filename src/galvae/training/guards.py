"""Guards against non-finite numbers in training: the policy shared by ``train`` and ``adapt``.

Policy
------
* A training batch whose loss or any gradient is NaN or infinite is
  **skipped**: its gradients are dropped before the optimiser step, so no
  weight and no optimiser state (Adam's moments) changes.  The batch is
  counted and a warning names the epoch, the batch and what was non-finite.
* After more than ``max_nonfinite_batches`` skipped batches in a run (counted
  across ``--resume``, the count is saved in the checkpoints) training stops
  with a :class:`~galvae.errors.GalvaeError` saying how many were skipped and
  what to do.  ``max_nonfinite_batches=0`` stops at the first.
* Weights are checked after every optimiser step; should they ever become
  non-finite all the same (an overflow from finite gradients), training stops
  at once, before any checkpoint of them is written.
* Nothing is exported from weights that are not all finite
  (:func:`check_finite_weights`, used by ``train`` and ``adapt``).

Image stores already refuse non-finite pixels when written and read
(:mod:`galvae.data.store`), so a skipped batch usually means a diverging
optimisation (a too-high learning rate) rather than bad data.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch

from ..errors import GalvaeError, GalvaeValueError
from .config import check_max_nonfinite_batches

__all__ = ["NonFiniteGuard", "check_finite_weights", "DEFAULT_MAX_NONFINITE_BATCHES"]

log = logging.getLogger(__name__)

#: Default limit of skipped non-finite batches (``TrainConfig`` / ``AdaptConfig.max_nonfinite_batches``).
DEFAULT_MAX_NONFINITE_BATCHES = 10


def _first_nonfinite(tensors: Mapping[str, torch.Tensor | None]) -> str | None:
    """Name of the first tensor holding a NaN or inf, or None (one device synchronisation when all is finite)."""
    items = [(n, t) for n, t in tensors.items() if t is not None and t.is_floating_point()]
    if not items:
        return None
    flags = torch.stack([torch.isfinite(t).all().to(items[0][1].device) for _, t in items])
    if bool(flags.all()):
        return None
    for name, t in items:
        if t is not None and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return name
    return None


def check_finite_weights(state: Mapping[str, torch.Tensor], source: str | os.PathLike[str], hint: str) -> None:
    """Refuse a state dict holding a NaN or infinite floating-point tensor.

    Parameters
    ----------
    state : mapping of str to Tensor
        A model's (or a checkpoint's) ``state_dict``.
    source : str or path
        Where the weights come from (named in the message).
    hint : str
        What the user can do about it (e.g. lower the learning rate).

    Raises
    ------
    GalvaeValueError
        Naming ``source`` and the first non-finite tensor.
    """
    bad = _first_nonfinite(state)
    if bad is not None:
        raise GalvaeValueError(
            f"{os.fspath(source)} holds non-finite weights ({bad}, ...); nothing was exported; {hint}"
        )


class NonFiniteGuard(L.Callback):
    """Skip training batches with a non-finite loss or gradient, up to a limit (see the module docstring).

    Parameters
    ----------
    max_nonfinite_batches : int, default 10
        Skipped batches tolerated in a run; one more stops training.

    Attributes
    ----------
    skipped : int
        Batches skipped so far (saved in checkpoints).
    """

    def __init__(self, max_nonfinite_batches: int = DEFAULT_MAX_NONFINITE_BATCHES) -> None:
        self.max_nonfinite_batches = check_max_nonfinite_batches(max_nonfinite_batches)
        self.skipped = 0
        self._bad_loss = False
        self._batch_idx = -1
        self._check_gradients = True

    # -- checkpointed state: the count survives --resume
    @property
    def state_key(self) -> str:
        return "NonFiniteGuard"

    def state_dict(self) -> dict[str, Any]:
        return {"skipped": self.skipped}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.skipped = int(state_dict.get("skipped", 0))

    # -- hooks
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        # With float16 mixed precision the gradient scaler itself skips steps with inf gradients while it
        # calibrates its scale; only a non-finite loss counts there.
        self._check_gradients = str(trainer.precision) != "16-mixed"

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._bad_loss = False
        self._batch_idx = batch_idx

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: torch.Tensor) -> None:
        self._bad_loss = not bool(torch.isfinite(loss.detach()).all())

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if self._bad_loss:
            what = "loss"
        elif not self._check_gradients:
            return
        else:
            bad = _first_nonfinite({n: p.grad for n, p in pl_module.named_parameters()})
            if bad is None:
                return
            what = f"gradient of {bad}"
        for group in optimizer.param_groups:  # a parameter without a gradient is left alone by the step
            for p in group["params"]:
                p.grad = None
        self.skipped += 1
        log.warning(
            "non-finite %s in epoch %d, batch %d: batch skipped (no optimiser step); %d of at most %d skipped",
            what,
            trainer.current_epoch,
            self._batch_idx,
            self.skipped,
            self.max_nonfinite_batches,
        )
        if self.skipped > self.max_nonfinite_batches:
            raise GalvaeError(
                f"training stopped: {self.skipped} batches had a non-finite loss or gradient (limit "
                f"max_nonfinite_batches / --max-nonfinite-batches = {self.max_nonfinite_batches}); lower the "
                "learning rate (--lr) or check the input stores"
            )

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        bad = _first_nonfinite({n: p.detach() for n, p in pl_module.named_parameters()})
        if bad is not None:
            raise GalvaeError(
                f"training stopped: weight {bad} became non-finite in epoch {trainer.current_epoch}, batch "
                f"{batch_idx} although its gradients were finite (an overflow); lower the learning rate (--lr)"
            )
