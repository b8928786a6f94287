"""The supervised CNN baseline of Table 3: the VAE encoder + a linear head, trained to convergence.

The network is the VAE encoder architecture (three conv/pool/activation
blocks, :class:`galvae.models.blocks.EncoderBlock`) with a linear
classification head, trained with Adam and cross-entropy directly on the
training images, standardised per band with the fitting images' mean and
standard deviation, each under a random quarter turn and mirror flip (galaxy
morphology does not change under them; :attr:`CNNOptions.augment`): the
supervised upper bound (the paper's "direct neural network" comparison).  A stratified ``val_fraction`` of the training
galaxies is held out; the weights of the epoch with the lowest held-out loss
are kept, and training stops once ``patience`` epochs in a row have not
improved on it by more than ``min_delta`` (:class:`Patience`), or at
``epochs``.  The test galaxies are never seen.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import check_choice
from ..data.augment import turn_and_flip
from ..errors import GalvaeValueError
from ..models.layout import to_network_layout, to_network_module

__all__ = ["CNN_PRECISIONS", "CNNOptions", "CNNResult", "Patience", "train_cnn"]

log = logging.getLogger(__name__)

#: Arithmetic the CNN baseline trains in (:attr:`CNNOptions.precision`).
CNN_PRECISIONS: tuple[str, ...] = ("32", "bf16-mixed")


@dataclass(frozen=True)
class CNNOptions:
    """How the CNN baseline is trained.

    Attributes
    ----------
    channels : tuple of int, default (32, 64, 128)
        Encoder blocks (the VAE's).
    epochs : int, default 60
        Most epochs.
    patience : int, default 20
        Epochs without improvement before stopping.  The held-out loss of a
        few dozen galaxies wanders for many epochs before it falls again: on
        the default demo's bar over five splits, patience 8 stopped after 31
        epochs on average and scored 0.662 ± 0.049 (one split at 0.593, the
        majority rate 0.569), patience 20 after 56 and scored 0.731 ± 0.034
        (has arms 0.929 → 0.937; ``benchmarks/science.md``).
    batch_size : int, default 64
    lr : float, default 1e-3
        Adam learning rate.
    val_fraction : float, default 0.15
        Held-out share of the training galaxies for early stopping.
    class_weight : {None, "balanced"}, default None
        "balanced" weights the cross-entropy like the forests' ``class_weight="balanced"``.
    precision : {"32", "bf16-mixed"}, default "32"
        Arithmetic of training and prediction: ``"bf16-mixed"`` runs the
        network under ``torch.autocast`` in bfloat16 (weights, optimiser and
        loss stay float32), 1.9× faster on a CPU with native bfloat16 (3
        epochs on 1400 64-px images: 3.06 s against 1.61 s, 2 cores).
        ``galvae demo`` passes its training precision.
    augment : bool, default True
        Train on each image under its own random quarter turn and mirror
        flip: morphology does not change under them, and the training sets
        of Table 3 are small (a few hundred galaxies per feature).
    seed : int, default 0
    device : str, default "cpu"
    progress : bool, default False
    """

    channels: tuple[int, ...] = (32, 64, 128)
    epochs: int = 60
    patience: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    val_fraction: float = 0.15
    class_weight: str | None = None
    precision: str = "32"
    augment: bool = True
    seed: int = 0
    device: str = "cpu"
    progress: bool = False


@dataclass
class Patience:
    """Early stopping by patience: stop after ``patience`` epochs in a row without a new best.

    An epoch improves when its loss is below the best so far by more than
    ``min_delta``.

    Examples
    --------
    >>> p = Patience(2)
    >>> [p.update(v) for v in (1.0, 0.5, 0.6, 0.5)]
    [False, False, False, True]
    >>> p.best_epoch
    2
    """

    patience: int
    min_delta: float = 1e-4
    best: float = math.inf
    best_epoch: int = 0
    epoch: int = 0
    since_best: int = field(default=0, repr=False)

    def update(self, loss: float) -> bool:
        """Record one epoch's loss; True when training should stop now."""
        self.epoch += 1
        if loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.since_best = loss, self.epoch, 0
            return False
        self.since_best += 1
        return self.since_best >= self.patience

    @property
    def improved(self) -> bool:
        """Whether the last epoch recorded was a new best."""
        return self.best_epoch == self.epoch


@dataclass(frozen=True)
class CNNResult:
    """Predictions of the CNN baseline and how long it trained.

    Attributes
    ----------
    predictions : ndarray of int
        Class codes of the test images.
    epochs_trained : int
    best_epoch : int
        The epoch (from 1) whose weights made the predictions.
    """

    predictions: np.ndarray
    epochs_trained: int
    best_epoch: int


def train_cnn(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    n_classes: int,
    options: CNNOptions,
    *,
    desc: str = "cnn",
) -> CNNResult:
    """Train the CNN baseline on ``(x_train, y_train)`` and predict ``x_test``.

    Parameters
    ----------
    x_train, x_test : ndarray, shape (N, 3, S, S)
        Images; S a multiple of ``2 ** len(options.channels)``.
    y_train : ndarray of int
        Class codes 0 … n_classes − 1.
    n_classes : int
    options : CNNOptions
    desc : str, default "cnn"
        Progress bar label.

    Returns
    -------
    CNNResult

    Raises
    ------
    GalvaeValueError
        If the image size does not fit the encoder blocks, or on an unknown
        ``options.precision``.
    """
    import torch
    from sklearn.model_selection import train_test_split

    check_choice("CNN baseline precision", options.precision, CNN_PRECISIONS)
    idx = np.arange(len(y_train))
    counts = np.bincount(y_train, minlength=n_classes)
    strat = y_train if counts[counts > 0].min() >= 2 else None
    fit_i, val_i = train_test_split(idx, test_size=options.val_fraction, random_state=options.seed, stratify=strat)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        net = to_network_module(_network(x_train.shape[1], x_train.shape[-1], n_classes, options.channels))
        net = net.to(options.device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=_class_weights(y_train[fit_i], n_classes, options))
    scale = _standardiser(x_train[fit_i])
    stop = _fit(
        net, loss_fn, (scale(x_train[fit_i]), y_train[fit_i]), (scale(x_train[val_i]), y_train[val_i]), options, desc
    )
    with _autocast(options):
        predictions = _predict(net, scale(x_test), options.device)
    return CNNResult(predictions, stop.epoch, stop.best_epoch)


def _standardiser(x_fit: np.ndarray) -> Any:
    """``x -> (x - mean) / std`` per band, with the fitting images' mean and standard deviation (float32 out).

    Stored images are mostly sky near 0: unstandardised, the network sat at the class priors for 10-25 epochs
    before it began to learn, and early stopping (patience 4) ended most trainings there (``benchmarks/science.md``,
    "The CNN baseline as the supervised upper bound").
    """
    mean = x_fit.mean(axis=(0, 2, 3), dtype=np.float64)[None, :, None, None]
    std = np.maximum(x_fit.std(axis=(0, 2, 3), dtype=np.float64), 1e-6)[None, :, None, None]

    def scale(x: np.ndarray) -> np.ndarray:
        return ((x - mean) / std).astype(np.float32)

    return scale


def _network(in_channels: int, size: int, n_classes: int, channels: tuple[int, ...]) -> Any:
    from torch import nn

    from ..models.blocks import EncoderBlock

    if size % 2 ** len(channels):
        raise GalvaeValueError(f"image size must be a multiple of {2 ** len(channels)} for the CNN baseline", size)
    blocks, c_in = [], in_channels
    for c in channels:
        blocks.append(EncoderBlock(c_in, c))
        c_in = c
    bottom = size // 2 ** len(channels)
    return nn.Sequential(*blocks, nn.Flatten(), nn.Linear(channels[-1] * bottom * bottom, n_classes))


def _class_weights(y_fit: np.ndarray, n_classes: int, options: CNNOptions) -> Any:
    """The forests' ``class_weight="balanced"`` as cross-entropy weights; None without class weighting."""
    import torch

    if options.class_weight != "balanced":
        return None
    counts = np.bincount(y_fit, minlength=n_classes).astype(np.float64)
    weight = len(y_fit) / (n_classes * np.maximum(counts, 1))
    return torch.tensor(weight, dtype=torch.float32, device=options.device)


def _tensor(x: np.ndarray, dtype: Any) -> Any:
    """``x`` as a tensor of ``dtype``; images (4-D) in the networks' channels-last layout."""
    import torch

    return to_network_layout(torch.from_numpy(np.ascontiguousarray(x)).to(dtype))


def _fit(
    net: Any,
    loss_fn: Any,
    fit: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    options: CNNOptions,
    desc: str,
) -> Patience:
    """Train until :class:`Patience` stops it (or ``options.epochs``); leave the best epoch's weights in ``net``."""
    import copy

    import torch
    from tqdm.auto import tqdm

    xt, yt = _tensor(fit[0], torch.float32), _tensor(fit[1], torch.int64)
    xv, yv = _tensor(val[0], torch.float32).to(options.device), _tensor(val[1], torch.int64).to(options.device)
    gen = torch.Generator().manual_seed(options.seed)
    opt = torch.optim.Adam(net.parameters(), lr=options.lr)
    stop, best_state = Patience(options.patience), copy.deepcopy(net.state_dict())
    for _ in tqdm(range(options.epochs), desc=desc, unit="epoch", disable=not options.progress, leave=False):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(order), options.batch_size):
            b = order[i : i + options.batch_size]
            opt.zero_grad()
            xb = xt[b].to(options.device)
            if options.augment:
                xb = turn_and_flip(xb, gen)
            xb = to_network_layout(xb)  # indexing returns NCHW strides
            with _autocast(options):
                loss = loss_fn(net(xb).float(), yt[b].to(options.device))
            loss.backward()
            opt.step()
        net.eval()
        with torch.inference_mode(), _autocast(options):
            val_loss = float(loss_fn(net(xv).float(), yv)) if len(yv) else 0.0
        done = stop.update(val_loss)
        if stop.improved:
            best_state = copy.deepcopy(net.state_dict())
        if done:
            break
    net.load_state_dict(best_state)
    return stop


def _autocast(options: CNNOptions) -> Any:
    """The autocast context of ``options.precision`` on ``options.device`` (a no-op for ``"32"``)."""
    import torch

    device_type = torch.device(options.device).type
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=options.precision == "bf16-mixed")


def _predict(net: Any, x: np.ndarray, device: str, batch: int = 256) -> np.ndarray:
    import torch

    net.eval()
    preds = []
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            preds.append(net(_tensor(x[i : i + batch], torch.float32).to(device)).argmax(1).cpu().numpy())
    return np.concatenate(preds) if preds else np.empty(0, np.int64)
