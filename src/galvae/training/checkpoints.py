"""Checkpoints that survive pre-emption and crashes: validation, fallback, rotation, atomic writes, signals.

Shared by :func:`galvae.train` and :func:`galvae.adapt` (through
:func:`galvae.training.train.fit_lightning`).

Layout of ``RUN/checkpoints/``::

    last.ckpt      the newest state: end of the latest epoch, or the batch a signal stopped
    last-1.ckpt    the state before it, ... up to last-(k-1).ckpt with keep_last = k
    best.ckpt      lowest validation loss (Lightning's ModelCheckpoint)

Resume (:func:`select_resume_checkpoint`)
    Candidates are tried newest first: ``last.ckpt``, ``last-1.ckpt``, ...,
    then ``best.ckpt``.  Each is validated cheaply before Lightning sees it
    (:func:`check_checkpoint`: ``torch.load(weights_only=True)`` on the CPU,
    the keys a Lightning checkpoint has, the model's parameter names and
    shapes, finite weights).  An unusable one is skipped with a warning
    naming it and why; a skipped rotation file is renamed ``*.damaged`` so
    the rotation never moves it over a good checkpoint.  Only when no
    candidate is usable does resuming fail, with one
    :class:`~galvae.errors.GalvaeFileError` naming every file and why.  A
    usable fallback is copied to ``last.ckpt`` and training resumes there.
    Lightning then loads the chosen file with ``weights_only=True`` too, so
    a checkpoint is never unpickled with arbitrary code.

Atomic writes (:class:`RotatingCheckpointIO`)
    Lightning's own ``TorchCheckpointIO`` (2.6) writes through an fsspec
    transaction: to a file made by ``tempfile.mkstemp()`` in the system
    temporary directory, then ``shutil.move`` to the final name, which is a
    rename only when that directory is on the same file system as the run;
    otherwise (a node-local ``/tmp``, a run on a network disk) it copies
    into the final name in place, and nothing is fsynced.  Here every
    checkpoint is written to a hidden temporary name beside the final one
    (:func:`galvae._io.temporary_name`), fsynced, and renamed over it with
    :func:`os.replace`, so a process killed at any moment (even SIGKILL)
    leaves the previous complete file, never a truncated one under the
    final name.  Writing ``last.ckpt`` first shifts ``last.ckpt`` ->
    ``last-1.ckpt`` -> ... (renames, after the new file is complete), so a
    checkpoint is only ever dropped after a newer one is complete.  The
    state a run resumes from is in ``last.ckpt`` (a fallback is copied
    there and also left where it was), so it is never deleted before a
    newer checkpoint is complete, and with ``keep_last >= 2`` it stays as
    ``last-1.ckpt`` after the first one.

Signals (:class:`PreemptionCheckpoint`)
    Lightning's ``_SignalConnector`` (``lightning.pytorch.trainer.connectors.
    signal_connector``) installs a SIGTERM handler while fitting that only
    sets ``trainer.received_sigterm``; the loops then raise
    ``lightning.pytorch.utilities.exceptions.SIGTERMException`` at the end
    of the current training (or validation) batch, and Lightning calls every
    callback's ``on_exception``.  :class:`PreemptionCheckpoint` uses exactly
    that mechanism: its ``on_exception`` writes ``last.ckpt`` there (the way
    Lightning's own ``OnExceptionCheckpoint`` does, but only for
    SIGTERMException: a KeyboardInterrupt or an error can strike in the
    middle of an optimiser step).  SIGUSR1 is routed to the same handler
    (galvae switches Lightning's own SLURM auto-requeue off, see
    :mod:`galvae.training.distributed`; should another SIGUSR1 handler be
    installed it is left alone).  Lightning restores the previous handlers
    when fitting ends.

    Under distributed training (several processes) the handlers only
    record the signal; after every training batch the processes agree
    (an all-reduce of one number) whether any of them received one, and
    all then set Lightning's flag together, so that all stop at the end of
    the same batch and take part in writing the same checkpoint.  (Lightning's
    own handler would broadcast from inside the signal handler and let each
    process stop on its own.)  A signal during validation is acted on at the
    next training batch.

Exact mid-epoch resume (:class:`ResumableDataLoader`)
    Lightning restores its loop counters from a mid-epoch checkpoint but
    restarts a plain DataLoader from the first batch of the epoch (it warns
    that the loader "is not resumable"), so batches would be repeated and
    others never seen.  The training loader is therefore made *stateful*
    (``state_dict``/``load_state_dict``, the interface Lightning's
    ``CombinedLoader`` saves in the checkpoint's loop state): it records how
    many batches of the epoch were served, and after a resume skips those
    (at the level of indices: their images are not read) and continues with
    the next batch of the same seeded permutation.  A signal during the
    epoch's validation saves the checkpoint as if validation had not begun,
    so the resumed run validates that epoch in full.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import pickle
import re
import shutil
import signal
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torch.utils.data import BatchSampler, DataLoader

from .._io import temporary_name
from ..errors import GalvaeFileError
from .config import check_keep_last

__all__ = [
    "CHECKPOINT_KEYS",
    "LAST",
    "BEST",
    "PREEMPTION_SIGNALS",
    "PreemptionCheckpoint",
    "ResumableDataLoader",
    "RotatingCheckpointIO",
    "check_checkpoint",
    "resumable_loader",
    "resume_candidates",
    "rotation_path",
    "select_resume_checkpoint",
]

log = logging.getLogger(__name__)

#: Keys every Lightning training checkpoint holds (checked before resuming).
CHECKPOINT_KEYS: tuple[str, ...] = ("state_dict", "epoch", "global_step", "optimizer_states", "loops")
#: File names in ``RUN/checkpoints``.
LAST = "last.ckpt"
BEST = "best.ckpt"
#: Signals that stop training with a checkpoint (SIGUSR1: SLURM's usual pre-emption warning).
PREEMPTION_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGUSR1") if hasattr(signal, name)
)

_ROTATION = re.compile(r"^last-(\d+)\.ckpt$")
_TEMPORARY = re.compile(r"^\..+\.ckpt\.tmp-\d+$")


def rotation_path(directory: str | os.PathLike[str], i: int) -> Path:
    """``last.ckpt`` for ``i = 0``, ``last-i.ckpt`` for the i-th older state."""
    return Path(directory) / (LAST if i == 0 else f"last-{i}.ckpt")


def _rotations(directory: Path) -> list[Path]:
    """Existing ``last-N.ckpt`` files, newest (smallest N) first."""
    found = []
    for p in directory.glob("last-*.ckpt"):
        m = _ROTATION.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def _short(exc: BaseException) -> str:
    """The first sentence of an exception message, on one line and at most 160 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.split(". ")[0]
    return text if len(text) <= 160 else text[:157] + "..."


def check_checkpoint(
    path: str | os.PathLike[str], expected: Mapping[str, torch.Tensor] | None = None, *, finite: bool = True
) -> dict[str, Any]:
    """Load a training checkpoint safely and check that training can resume from it.

    Parameters
    ----------
    path : path
        A ``.ckpt`` file.
    expected : mapping of str to Tensor, optional
        The ``state_dict`` of the module about to be resumed; the
        checkpoint's parameter names and shapes must match it exactly.
    finite : bool, default True
        Also refuse non-finite weights (export checks them itself, with its
        own advice).

    Returns
    -------
    dict
        The checkpoint, loaded on the CPU with ``weights_only=True``.

    Raises
    ------
    GalvaeFileError
        Naming ``path`` and why it is unusable: missing, empty, truncated
        or not a PyTorch file, pickled objects that ``torch.load``'s
        ``weights_only`` loader refuses, a PyTorch file without the keys of
        a Lightning checkpoint (:data:`CHECKPOINT_KEYS`), weights of another
        model, or non-finite weights.
    """
    p = Path(path)
    if not p.exists():
        raise GalvaeFileError(p, "missing")
    if not p.is_file():
        raise GalvaeFileError(p, "not a regular file")
    if p.stat().st_size == 0:
        raise GalvaeFileError(p, "empty file (a write that never finished)")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the file is being judged anyway
            warnings.simplefilter("ignore")
            ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        m = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if m:
            raise GalvaeFileError(
                p,
                f"holds pickled objects ({m.group(1)}) that torch.load's weights_only loader "
                "refuses: not a checkpoint galvae wrote (it is never loaded with "
                "weights_only=False)",
            ) from None
        raise GalvaeFileError(
            p, f"not a readable PyTorch checkpoint (damaged or not a torch file: {_short(exc)})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise GalvaeFileError(
            p,
            f"not a readable PyTorch checkpoint (truncated, damaged or not a torch file: "
            f"{type(exc).__name__}: {_short(exc)})",
        ) from None
    if not isinstance(ckpt, dict):
        raise GalvaeFileError(
            p,
            f"a PyTorch file holding a {type(ckpt).__name__}, not a Lightning checkpoint "
            f"(a dict with {', '.join(CHECKPOINT_KEYS)})",
        )
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise GalvaeFileError(
            p,
            f"a PyTorch file but not a Lightning training checkpoint: missing "
            f"{', '.join(repr(k) for k in missing)} (needs {', '.join(CHECKPOINT_KEYS)})",
        )
    state = ckpt["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GalvaeFileError(p, "its 'state_dict' is not a mapping of tensors")
    if expected is not None:
        _check_same_model(p, state, expected)
    from .guards import _first_nonfinite

    bad = _first_nonfinite(state) if finite else None
    if bad is not None:
        raise GalvaeFileError(p, f"holds non-finite weights ({bad}, ...)")
    return ckpt


def _check_same_model(p: Path, state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> None:
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:3])}{', ...' if len(unexpected) > 3 else ''}")
        raise GalvaeFileError(p, f"weights of another model than this run's ({'; '.join(parts)})")
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise GalvaeFileError(
                p,
                f"weights of another model than this run's ({k} has shape "
                f"{tuple(state[k].shape)}, the run's model {tuple(v.shape)})",
            )


def resume_candidates(directory: str | os.PathLike[str]) -> list[Path]:
    """The checkpoints of ``RUN/checkpoints`` a resume would try, in order: last, last-1, ..., best (existing only)."""
    d = Path(directory)
    return [c for c in (d / LAST, *_rotations(d), d / BEST) if c.exists()]


def select_resume_checkpoint(
    directory: str | os.PathLike[str], expected: Mapping[str, torch.Tensor] | None = None
) -> Path:
    """Find the newest usable checkpoint of ``RUN/checkpoints`` and make it ``last.ckpt``, to resume from.

    Tries ``last.ckpt``, then ``last-1.ckpt``, ``last-2.ckpt``, ... (the
    rotation), then ``best.ckpt``, with :func:`check_checkpoint`.  Each
    unusable file is skipped with a warning naming it and why; a skipped
    ``last*.ckpt`` is renamed to ``<name>.damaged`` (replacing an older one)
    so that later rotations cannot move it over a good checkpoint.  A usable
    fallback is copied (atomically) to ``last.ckpt``, which is then again
    the newest state: the resumed run rotates it like any other, and
    everything that reads ``last.ckpt`` (``adapt``'s export of the last
    epoch) finds it even when no epoch is left to train.  The fallback
    itself is left in place.  Stale temporary files of writes that never
    finished are removed.

    Parameters
    ----------
    directory : path
        ``RUN/checkpoints``.
    expected : mapping of str to Tensor, optional
        ``state_dict`` of the module to resume (see :func:`check_checkpoint`).

    Returns
    -------
    Path
        ``directory / "last.ckpt"``, checked.

    Raises
    ------
    GalvaeFileError
        If the directory holds no checkpoint at all ("cannot resume: no last
        checkpoint ..."), or none is usable (naming each file and why).
    """
    d = Path(directory)
    present = resume_candidates(d)
    if not present:
        raise GalvaeFileError(d / LAST, "cannot resume: no last checkpoint in this run directory")
    skipped: list[tuple[Path, str]] = []
    chosen: Path | None = None
    for c in present:
        try:
            check_checkpoint(c, expected)
        except GalvaeFileError as exc:
            skipped.append((c, exc.message))
            continue
        chosen = c
        break
    if chosen is None:
        reasons = "; ".join(f"{c.name}: {why}" for c, why in skipped)
        raise GalvaeFileError(present[0], f"cannot resume: no usable checkpoint in {d} ({reasons})")
    for c, why in skipped:  # all before ``chosen``, so never best.ckpt
        aside = c.with_name(c.name + ".damaged")
        os.replace(c, aside)
        log.warning("skipped checkpoint %s (%s); renamed it to %s", c, why, aside.name)
    for tmp in d.iterdir():
        if _TEMPORARY.match(tmp.name):
            log.info("removing %s, left by a checkpoint write that never finished", tmp)
            tmp.unlink(missing_ok=True)
    last = d / LAST
    if chosen != last:
        tmp = temporary_name(last)
        try:
            shutil.copyfile(chosen, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, last)
        finally:
            tmp.unlink(missing_ok=True)
        log.warning("resuming from %s, the newest usable checkpoint (copied to %s)", chosen, LAST)
    return last


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class RotatingCheckpointIO(TorchCheckpointIO):
    """Lightning ``CheckpointIO`` writing checkpoints atomically and rotating ``last.ckpt``.

    Every file is written to a hidden temporary name in its own directory,
    flushed and fsynced, then renamed over the final name (see the module
    docstring for why Lightning's own writer is not enough).  A write of
    ``last.ckpt`` shifts the existing ``last.ckpt`` to ``last-1.ckpt`` (and
    so on up to ``last-(keep_last-1).ckpt``) once the new file is complete,
    and removes ``last-N.ckpt`` files beyond ``keep_last`` (left by a
    larger ``keep_last`` before).

    Parameters
    ----------
    keep_last : int, default 2
        ``last*.ckpt`` states kept (1: only ``last.ckpt``).
    """

    def __init__(self, keep_last: int = 2) -> None:
        super().__init__()
        self.keep_last = check_keep_last(keep_last)

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        """Write ``checkpoint`` to ``path`` atomically (rotating ``last.ckpt``)."""
        if storage_options is not None:
            raise TypeError("RotatingCheckpointIO.save_checkpoint takes no storage_options")
        final = Path(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_name(final)
        try:
            with open(tmp, "wb") as fh:
                torch.save(checkpoint, fh)
                fh.flush()
                os.fsync(fh.fileno())
            if final.name == LAST:
                self._shift(final.parent)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_directory(final.parent)

    def _shift(self, directory: Path) -> None:
        k = self.keep_last
        for i in range(k - 1, 0, -1):  # last-(k-2) -> last-(k-1), ..., last -> last-1
            src = rotation_path(directory, i - 1)
            if src.exists():
                os.replace(src, rotation_path(directory, i))
        for old in _rotations(directory):
            n = int(_ROTATION.match(old.name).group(1))  # type: ignore[union-attr]
            if n >= k:
                old.unlink(missing_ok=True)


# --- signals -------------------------------------------------------------------------------------------------


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class PreemptionCheckpoint(Checkpoint):
    """Write ``last.ckpt`` when Lightning stops training on SIGTERM (or SIGUSR1), at the end of the batch.

    Lightning's mechanism is used as it is (see the module docstring):
    its SIGTERM handler sets ``trainer.received_sigterm``, its loops raise
    ``SIGTERMException`` after the current batch, and this callback's
    :meth:`on_exception` saves the checkpoint.  What this callback adds:

    * SIGUSR1 is routed to Lightning's SIGTERM handler when nothing else
      handles it (Lightning does only under SLURM auto-requeue);
    * the signal received is recorded (:attr:`signal_name`);
    * a signal during the epoch's validation saves the loop state as
      before validation began, so the resumed run validates that epoch in
      full (otherwise Lightning would skip it or validate only the rest).

    * under distributed training, the processes agree after each training
      batch whether any of them received a signal, and stop together.

    Both handlers are installed in ``on_train_start``, after Lightning's own
    (registered just before the training loop runs), and Lightning puts the
    previous handlers back when fitting ends.

    Parameters
    ----------
    path : path
        Checkpoint written (``RUN/checkpoints/last.ckpt``).

    Attributes
    ----------
    signal_name : str or None
        ``"SIGTERM"`` or ``"SIGUSR1"`` once one was received.
    saved : Path or None
        The checkpoint written on the signal.
    epoch, batches : int
        Epoch (0-based) and training batches of that epoch done when it was written.
    start_step : int or None
        Global step at which training (re)started in this fit.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self.signal_name: str | None = None
        self.saved: Path | None = None
        self.epoch = 0
        self.batches = 0
        self.start_step: int | None = None
        self._before_validation = False
        self._installed: dict[int, Any] = {}
        self._pending = 0  # signal number received by this process, not yet agreed on (distributed training)

    # the handlers
    def _record(self, signum: int, frame: Any, delegate: Any) -> None:
        if self.signal_name is None:
            self.signal_name = _signal_name(signum)
            log.info(
                "received %s: stopping at the end of the current batch with a checkpoint in %s",
                self.signal_name,
                self.path,
            )
        if callable(delegate):
            delegate(signum, frame)

    def _defer(self, signum: int, frame: Any) -> None:
        """Handler under distributed training: remember the signal until the processes agree on it."""
        if not self._pending:
            self._pending = int(signum)
            log.info("received %s: all processes stop at the end of the current training batch", _signal_name(signum))

    def _agree(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """All-reduce (max) the signal numbers received; on any, every process sets Lightning's SIGTERM flag."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return
        flag = torch.tensor([self._pending], dtype=torch.int64, device=pl_module.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        signum = int(flag.item())
        if signum and not trainer.received_sigterm:
            if self.signal_name is None:
                self.signal_name = _signal_name(signum)
            trainer._signal_connector.received_sigterm = True  # Lightning's own flag; its loops then stop

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.world_size > 1:
            self._agree(trainer, pl_module)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        import threading

        self.start_step = int(trainer.global_step)
        if threading.current_thread() is not threading.main_thread():  # signal.signal works in the main thread only
            return
        lightning_sigterm = signal.getsignal(signal.SIGTERM)
        if not callable(lightning_sigterm):  # Lightning registers none on Windows
            return
        if trainer.world_size > 1:
            term: Any = self._defer
        else:
            term = functools.partial(self._record, delegate=lightning_sigterm)
        signal.signal(signal.SIGTERM, term)
        self._installed[signal.SIGTERM] = term
        usr1 = getattr(signal, "SIGUSR1", None)
        if usr1 is not None and signal.getsignal(usr1) in (signal.SIG_DFL, None):
            signal.signal(usr1, term)  # leaves Lightning's SLURM requeue handler in place where it is installed
            self._installed[usr1] = term

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        """On Lightning's SIGTERMException (and only then), write :attr:`path`."""
        if not isinstance(exception, SIGTERMException):
            return
        if self.signal_name is None:  # a SIGTERM handled by Lightning before on_train_start, or another rank's
            self.signal_name = "SIGTERM"
        loop = trainer.fit_loop
        self._before_validation = bool(trainer.validating)
        self.epoch = int(trainer.current_epoch)
        self.batches = int(loop.epoch_loop.batch_progress.current.completed)
        try:
            trainer.save_checkpoint(self.path)
        finally:
            self._before_validation = False
        self.saved = self.path
        log.info(
            "%s: wrote %s at epoch %d after %d training batches of the epoch (global step %d)",
            self.signal_name,
            self.path,
            self.epoch,
            self.batches,
            trainer.global_step,
        )

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        """When stopped during validation, save the validation loop as "started, no batch done"."""
        if not self._before_validation:
            return
        key = "epoch_loop.val_loop.batch_progress"
        progress = checkpoint.get("loops", {}).get("fit_loop", {}).get(key)
        if progress is None:
            return
        # Lightning resumes a validation loop whose progress reads started == ready == processed + 1 as
        # "restarted mid-evaluation": it runs validation again, from its first batch with these counters at 0.
        counters = {"ready": 1, "started": 1, "processed": 0, "completed": 0}
        progress["total"] = dict(counters)
        progress["current"] = dict(counters)
        progress["is_last_batch"] = False

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Lightning restores the handlers it found when it registered its own; only a handler of this
        # callback that somehow survived is removed here.
        for signum, handler in self._installed.items():
            if signal.getsignal(signum) is handler:
                signal.signal(signum, signal.SIG_DFL)
        self._installed = {}


# --- a resumable training loader -----------------------------------------------------------------------------


class _SkippingBatchSampler(BatchSampler):
    """A BatchSampler that can leave out the first ``skip`` batches of its next iteration (indices only)."""

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        super().__init__(sampler, batch_size, drop_last)
        self.skip = 0

    def __iter__(self) -> Iterator[list[int]]:
        skip, self.skip = self.skip, 0
        batches = super().__iter__()
        for _ in itertools.islice(batches, skip):
            pass
        yield from batches


def _worker_init(worker_id: int, init: Any = None) -> None:
    """DataLoader worker start: ignore the pre-emption signals (the main process stops the workers), then seed."""
    for sig in PREEMPTION_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if init is not None:
        init(worker_id)
    elif os.environ.get("PL_SEED_WORKERS") == "1":  # what Lightning would have added (seed_everything(workers=True))
        from lightning.fabric.utilities.seed import pl_worker_init_function

        pl_worker_init_function(worker_id)


class ResumableDataLoader(DataLoader):
    """A DataLoader whose position within the epoch is saved in checkpoints and restored on resume.

    Lightning saves ``state_dict()`` of a training loader that has one (in
    the checkpoint's ``loops`` state) and calls ``load_state_dict`` before
    iterating again after a resume.  The state is the sampler's epoch and
    the batches of that epoch served so far; after a mid-epoch resume the
    next iteration skips those batches (their indices only: no image is
    read) and continues the same seeded permutation.  Build one with
    :func:`resumable_loader`.
    """

    _served = 0

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        # A generator: the underlying iterator (and the sampler's permutation) is created at the first
        # batch, after Lightning has called set_epoch, with worker processes too.
        self._served = self.batch_sampler.skip if isinstance(self.batch_sampler, _SkippingBatchSampler) else 0
        for batch in super().__iter__():
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """``{"epoch", "batches", "length"}``: the sampler's epoch, batches of it served, batches per epoch."""
        sampler = getattr(self.batch_sampler, "sampler", None)
        return {"epoch": int(getattr(sampler, "epoch", 0)), "batches": int(self._served), "length": len(self)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Continue after ``state_dict["batches"]`` batches of epoch ``state_dict["epoch"]`` (none when complete)."""
        done, length = int(state_dict.get("batches", 0)), int(state_dict.get("length", len(self)))
        self._served = done
        if length != len(self):
            log.warning(
                "the saved training loader had %d batches per epoch, this one has %d: the interrupted "
                "epoch restarts from its first batch",
                length,
                len(self),
            )
            return
        if 0 < done < length and isinstance(self.batch_sampler, _SkippingBatchSampler):
            sampler = self.batch_sampler.sampler
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(int(state_dict.get("epoch", 0)))
            self.batch_sampler.skip = done
            log.info(
                "resuming mid-epoch: the %d of %d batches of epoch %d already trained are skipped",
                done,
                length,
                int(state_dict.get("epoch", 0)),
            )


def resumable_loader(loader: DataLoader) -> ResumableDataLoader:
    """A :class:`ResumableDataLoader` with the same dataset, order and options as ``loader``.

    Parameters
    ----------
    loader : DataLoader
        Built with ``batch_size`` and a ``sampler`` (not a custom
        ``batch_sampler``), map-style dataset.

    Returns
    -------
    ResumableDataLoader
        Also: its worker processes ignore SIGTERM and SIGUSR1 (a signal sent
        to the whole process group must reach the main process's handler,
        not kill a worker mid-batch), and keep Lightning's worker seeding.
    """
    if loader.batch_size is None:
        raise TypeError("resumable_loader needs a DataLoader built with batch_size and sampler")
    sampler = loader.batch_sampler.sampler  # type: ignore[union-attr]
    kwargs: dict[str, Any] = dict(
        batch_sampler=_SkippingBatchSampler(sampler, loader.batch_size, loader.drop_last),
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        timeout=loader.timeout,
        generator=loader.generator,
        persistent_workers=loader.persistent_workers,
        multiprocessing_context=loader.multiprocessing_context,
    )
    if loader.num_workers > 0:
        kwargs["worker_init_fn"] = functools.partial(_worker_init, init=loader.worker_init_fn)
        kwargs["prefetch_factor"] = loader.prefetch_factor
    elif loader.worker_init_fn is not None:
        kwargs["worker_init_fn"] = loader.worker_init_fn
    return ResumableDataLoader(loader.dataset, **kwargs)
