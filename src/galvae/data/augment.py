"""Training-time augmentation: the eight quarter turns and mirror images of a galaxy.

A galaxy's morphology (how rounded, bar, arms, a companion) does not change
when its image is turned by a multiple of 90° or mirrored, and neither does a
survey's pixel grid, so these eight exact transforms (the dihedral group D4:
no interpolation, no change of the noise) multiply the examples a network sees
of each feature in each orientation.  The supervised CNN baseline
(:attr:`galvae.evaluate.cnn_baseline.CNNOptions.augment`) and the VAE
(``galvae train --augment``, :attr:`galvae.training.config.TrainConfig.augment`)
use :func:`turn_and_flip`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["turn_and_flip"]


def turn_and_flip(x: Any, generator: Any, *, rank: int = 0, world_size: int = 1) -> Any:
    """Each image of ``x`` turned by its own random multiple of 90° and mirrored with probability ½.

    Per image, not per batch: a whole batch turned one way pulls the weights
    towards that orientation for a step.

    Parameters
    ----------
    x : torch.Tensor, shape (N, C, S, S)
        Square images (any dtype and device; the output has NCHW strides).
    generator : torch.Generator
        CPU generator the turns and flips are drawn from (two draws of N
        values), so that a seeded generator gives the same transforms on
        every device.
    rank, world_size : int, default 0, 1
        Under distributed training: the transforms of the whole global batch
        (``world_size`` × N images) are drawn and process ``rank`` takes its
        rows, so a run on several processes turns each image as one process
        would.

    Returns
    -------
    torch.Tensor, shape (N, C, S, S)
        The transformed images; each is exactly one of the eight
        transforms of its input.
    """
    import torch

    n = x.shape[0]
    rows = slice(int(rank) * n, (int(rank) + 1) * n)
    k = torch.randint(0, 4, (n * int(world_size),), generator=generator)[rows].to(x.device)
    flip = torch.randint(0, 2, (n * int(world_size),), generator=generator)[rows].to(x.device).bool()
    # each turn applied to its own images only (turning the whole batch four times and picking cost 5x more)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    for j in range(4):
        sel = (k == j).nonzero(as_tuple=True)[0]
        if len(sel):
            out[sel] = torch.rot90(x[sel], j, dims=(2, 3))
    sel = flip.nonzero(as_tuple=True)[0]
    if len(sel):
        out[sel] = torch.flip(out[sel], dims=(3,))
    return out
