"""Numerical precision of training: ``"auto"`` and what it resolves to on this machine.

``"auto"`` is ``"bf16-mixed"`` for a CPU run on a processor with native
bfloat16 arithmetic (``avx512_bf16`` or ``amx_bf16`` in ``/proc/cpuinfo``),
and ``"32"`` everywhere else: without those instructions oneDNN emulates
bfloat16 and is slower than fp32, and galvae has not measured mixed precision
on a GPU, so GPUs keep fp32.  ``benchmarks/run.md`` has the measurement this
choice rests on.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import GalvaeValueError

__all__ = ["PRECISIONS", "cpu_has_native_bf16", "resolve_precision"]

log = logging.getLogger(__name__)

#: Precisions galvae's training accepts: ``"auto"`` (see :func:`resolve_precision`) or a ``lightning.Trainer`` value.
PRECISIONS: tuple[str, ...] = ("auto", "32", "bf16-mixed", "16-mixed")

#: /proc/cpuinfo flags of native bfloat16 arithmetic (AVX512-BF16, AMX).
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_has_native_bf16(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> bool:
    """Whether the processor lists a native bfloat16 flag.

    Parameters
    ----------
    cpuinfo : path, default "/proc/cpuinfo"
        Where the processor's flags are read (Linux).

    Returns
    -------
    bool
        True when the first ``flags`` line names ``avx512_bf16`` or
        ``amx_bf16``; False otherwise, and where the file cannot be read.
    """
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(_BF16_FLAGS & set(line.split(":", 1)[-1].split()))
    return False


def resolve_precision(
    precision: str, accelerator: str = "auto", *, cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo"
) -> str:
    """The Lightning precision ``"auto"`` stands for; other values are returned unchanged.

    Parameters
    ----------
    precision : {"auto", "32", "bf16-mixed", "16-mixed"}
    accelerator : str, default "auto"
        The Lightning accelerator: ``"cpu"``, or ``"auto"`` without a CUDA
        device, counts as a CPU run.
    cpuinfo : path, default "/proc/cpuinfo"
        Where the processor's flags are read.

    Returns
    -------
    str
        ``"bf16-mixed"`` for a CPU run on a processor with native bfloat16
        (``avx512_bf16`` or ``amx_bf16``), else ``"32"`` (GPUs keep fp32:
        galvae has not measured mixed precision on one).

    Raises
    ------
    GalvaeValueError
        On a precision not in :data:`PRECISIONS`.
    """
    if not isinstance(precision, str) or precision not in PRECISIONS:
        # GalvaeValueError leaves a None value out of its message, so it is named here
        raise GalvaeValueError("precision" if precision is not None else "precision (got None)", precision, PRECISIONS)
    if precision != "auto":
        return precision
    import torch

    cpu_run = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    native = cpu_run and cpu_has_native_bf16(cpuinfo)
    resolved = "bf16-mixed" if native else "32"
    log.debug(
        "precision 'auto' -> %r (%s)",
        resolved,
        "CPU with native bfloat16" if native else "CPU without native bfloat16" if cpu_run else "not a CPU run",
    )
    return resolved
