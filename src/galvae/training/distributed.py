"""Training on several processes, GPUs and nodes: Lightning's DDP under torchrun, SLURM or Lightning itself.

``galvae train`` and ``galvae adapt`` (and :func:`galvae.train`,
:func:`galvae.adapt`) run on PyTorch Lightning's ``DDPStrategy`` when given
``devices`` > 1 or ``num_nodes`` > 1 (``--devices N --num-nodes M
[--strategy ddp]``): one process per device, each holding a copy of the
model, gradients averaged over the processes after every step.  The
processes are started by

* ``torchrun --nproc-per-node N -m galvae train ... --devices N`` (Lightning's
  ``TorchElasticEnvironment``; multi-node: ``--nnodes M --node-rank i
  --master-addr HOST`` and ``--num-nodes M``);
* SLURM: ``srun galvae train ... --devices N --num-nodes M`` in a batch job with
  ``--ntasks-per-node N`` (Lightning's ``SLURMEnvironment``; see
  ``examples/slurm/train.sbatch``);
* Lightning itself: ``galvae train ... --devices N`` in a plain shell starts the
  other N − 1 processes by running the same command again (its
  ``_SubprocessScriptLauncher``); ``--strategy ddp_spawn`` starts them with
  ``torch.multiprocessing`` instead (no pre-emption handling there; use it
  where a command line cannot be re-run).

Semantics, chosen so that a run means the same on any number of processes P:

Batch size
    ``batch_size`` is the **global** batch, the images (pairs for ``adapt``)
    of one optimiser step over all processes; each process loads
    ``batch_size / P`` of them (it must be a multiple of P).  Every epoch
    all processes draw the same seeded permutation and process r takes the
    r-th slice of each global batch
    (:class:`~galvae.training.datamodule.EpochSeededSampler`); a last,
    partial batch whose size is not a multiple of P is padded with at most
    P − 1 repeated images so that all processes take the same number of
    steps (choose sizes that divide evenly for runs identical to one
    process).  Steps per epoch are those of one process.  Lightning's own
    ``DistributedSampler`` is switched off.
Learning rate
    ``lr`` is used as given: since the loss is the mean over the global
    batch (DDP averages the per-process gradients of per-process means of
    equal size), one step on P processes is one step on one process with
    the same batch.  To use larger GPUs fully raise ``batch_size`` (e.g.
    64 per GPU: ``--batch-size 512`` on 8 GPUs); whether to raise ``lr``
    with it (the linear scaling rule) is then the user's choice, recorded in
    ``config.json`` like every other option.
Sampling noise
    The reparameterisation noise of the whole global batch is drawn from a
    generator seeded by (seed, global step), the same on every process, and
    each process takes the rows of its images
    (:func:`~galvae.training.module.global_batch_noise`).  The processes
    therefore draw different noise, a resumed run draws the noise of an
    uninterrupted one without any RNG state to restore, and a run does not
    depend on the number of processes: on P processes it follows the run
    on one DDP process (``--devices 1 --strategy ddp``) up to floating-point
    rounding (tested: 3.6e-6 of the largest weight after 56 steps on two
    CPU processes; ``tests/test_distributed.py``).  A plain one-process run
    (``strategy="auto"``) keeps drawing from the global RNG, as before: the
    same optimisation with another noise realisation.
Validation
    Each process validates a contiguous share of the validation set
    (:class:`~galvae.training.datamodule.ShardSampler`); ``val_loss`` and
    the other epoch metrics are means over all validation galaxies
    (``self.log(..., sync_dist=True)``: Lightning sums the weighted values
    and the counts over the processes), active units come from the summed
    moments of μ.  Every process therefore sees the same ``val_loss`` and
    makes the same checkpoint and early-stopping decisions.
MMD² (``adapt``)
    The latents of the whole global batch are gathered (with gradients)
    before MMD² is computed, so MMD² compares ``batch_size`` pairs as in one
    process, not P smaller batches.
Files
    Only global rank 0 writes the run directory: ``config.json``,
    ``split.json``, ``matching.json``, the checkpoints (Lightning writes them
    from rank 0), ``metrics.csv`` and the exported model; the other ranks
    wait for the export before they return.  The layout is the one of a
    single-process run, and a run may be resumed on a different number of
    processes (the position in an epoch is counted in global batches).
Pre-emption
    SIGTERM or SIGUSR1 reaching any process stops all of them at the end of
    the same batch (the processes agree on it after every training batch),
    rank 0 writes ``checkpoints/last.ckpt`` and each process exits with
    128 + the signal's number.  Under SLURM, SIGUSR1 (``sbatch
    --signal=USR1@90``) also requeues the job (``scontrol requeue``, by rank
    0, after the checkpoint is complete) in place of Lightning's own
    auto-requeue, which would save a separate ``hpc_ckpt`` from inside the
    signal handler; the requeued job continues from ``last.ckpt`` when it is
    started with ``--resume`` (``examples/slurm/train.sbatch`` adds it when
    the run has a checkpoint).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from typing import Any

from .config import STRATEGIES, check_parallel

__all__ = [
    "STRATEGIES",
    "check_parallel",
    "cluster_plugins",
    "lightning_strategy",
    "requeue_slurm_job",
    "slurm_job_id",
    "spawned",
]

log = logging.getLogger(__name__)


def lightning_strategy(strategy: str, devices: int | str, num_nodes: int) -> str:
    """The ``strategy`` given to ``lightning.Trainer``.

    ``"auto"`` is ``"ddp"`` when several devices (or nodes) are asked for, so
    that galvae does not depend on Lightning's interactive-session
    heuristics (``ddp_fork``, ``ddp_spawn``), and Lightning's own choice
    otherwise (one device, or ``devices="auto"``/``-1``: all of the machine's).
    ``"ddp"`` and ``"ddp_spawn"`` are passed on as given.
    """
    if strategy != "auto":
        return strategy
    processes = check_parallel(strategy, devices, num_nodes)
    return "ddp" if processes is not None and processes > 1 else "auto"


def cluster_plugins() -> list[Any]:
    """Cluster-environment plugins for ``lightning.Trainer``: SLURM without Lightning's own auto-requeue.

    Under SLURM (``SLURMEnvironment.detect()``) galvae requeues the job itself,
    after writing ``last.ckpt`` on SIGUSR1 (see the module docstring);
    Lightning's auto-requeue is switched off so that it does not also install
    its SIGUSR1 handler.
    """
    from lightning.fabric.plugins.environments import SLURMEnvironment

    if SLURMEnvironment.detect():
        return [SLURMEnvironment(auto_requeue=False)]
    return []


def spawned(trainer: Any) -> bool:
    """Whether ``trainer`` ran its fit in processes started by ``torch.multiprocessing`` (``ddp_spawn``).

    The calling process then holds none of the fit's loop state: its
    results are read from the checkpoints rank 0 wrote.
    """
    from lightning.pytorch.strategies.launchers.multiprocessing import _MultiProcessingLauncher

    return isinstance(getattr(trainer.strategy, "launcher", None), _MultiProcessingLauncher)


def slurm_job_id(environ: dict[str, str] | None = None) -> str | None:
    """The id ``scontrol requeue`` takes for this job (``ARRAYJOB_TASK`` for an array task), or None outside SLURM."""
    env = os.environ if environ is None else environ
    array = env.get("SLURM_ARRAY_JOB_ID")
    job = (
        f"{array}_{env['SLURM_ARRAY_TASK_ID']}" if array and env.get("SLURM_ARRAY_TASK_ID") else env.get("SLURM_JOB_ID")
    )
    if not job or not re.fullmatch(r"[0-9_]+", job):
        return None
    return job


def requeue_slurm_job() -> str | None:
    """Requeue this SLURM job with ``scontrol requeue``; return its id, or None when that failed (logged).

    Called by rank 0 after the pre-emption checkpoint is complete; the
    requeued job must be started with ``--resume`` (the example sbatch
    script adds it when ``RUN/checkpoints/last.ckpt`` exists).
    """
    job = slurm_job_id()
    if job is None:
        log.warning("SIGUSR1 under SLURM but no SLURM_JOB_ID: the job was not requeued")
        return None
    try:
        done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not requeue SLURM job %s: %s", job, exc)
        return None
    if done.returncode != 0:
        log.warning("scontrol requeue %s failed with status %d: %s", job, done.returncode, done.stderr.strip()[:200])
        return None
    log.info("requeued SLURM job %s", job)
    return job
