"""Validation helpers shared by the simulator's frozen configs (votes, defects).

They store the checked value back in the frozen dataclass; the checks
themselves are :mod:`galvae._validate`'s.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validate import check_float
from ..errors import GalvaeValueError

__all__ = ["as_rng", "set_float", "set_int_pair"]


def as_rng(rng: Any) -> np.random.Generator:
    """A numpy Generator from itself or a non-negative integer seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise GalvaeValueError("rng must be a numpy Generator or a non-negative integer seed", type(rng).__name__)


def set_float(obj: Any, name: str, low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> None:
    """Check that field ``name`` of frozen dataclass ``obj`` is a number in the bounds; store it as float."""
    value = check_float(
        f"{type(obj).__name__}.{name}",
        getattr(obj, name),
        minimum=low,
        maximum=high,
        inclusive=(not open_low, not open_high),
        finite=high != math.inf,  # [low, inf] takes inf itself
    )
    object.__setattr__(obj, name, value)


def set_int_pair(obj: Any, name: str) -> None:
    """Check that field ``name`` is two integers ``1 <= low <= high``; store it as a tuple."""
    raw = getattr(obj, name)
    pair = tuple(raw) if isinstance(raw, list | tuple) else ()
    if (
        len(pair) != 2
        or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in pair)
        or not 1 <= pair[0] <= pair[1]
    ):
        raise GalvaeValueError(f"{type(obj).__name__}.{name} must be two integers 1 <= low <= high", raw)
    object.__setattr__(obj, name, (int(pair[0]), int(pair[1])))
