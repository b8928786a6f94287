"""The memory layout galvae's networks run in: channels-last (NHWC).

oneDNN's convolutions on a CPU (and cuDNN's with tensor cores) are fastest
when images are stored channels-last; a convolution on NCHW input pays a
reorder each call.  Measured on this project's 2-core CPU: inference 1.5×
and a training step ~1.8× faster in fp32 and bf16 alike
(``benchmarks/run.md``).  Only the strides change: shapes and values are the
same, and exported weights are saved contiguous (NCHW) as before.

Every piece that runs a network -- :class:`galvae.GalaxyVAE`, the training
and adaptation modules, the CNN baseline -- converts its network with
:func:`to_network_module` and its batches with :func:`to_network_layout`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["to_network_layout", "to_network_module"]


def to_network_layout(x: Any) -> Any:
    """A batch of images (N, C, H, W) in the channels-last layout the networks run in.

    Same shape and values; only the strides change (NHWC).  Anything not 4-D
    (a batch of latents, a 1-D label vector) is returned as it is.

    Parameters
    ----------
    x : torch.Tensor

    Returns
    -------
    torch.Tensor
    """
    import torch

    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def to_network_module(module: Any) -> Any:
    """``module`` with its 4-D weights in the channels-last layout (in place; returned for chaining)."""
    import torch

    return module.to(memory_format=torch.channels_last)
