"""Typed, frozen configuration objects, saved with every product.

Each stage of galvae is driven by a frozen dataclass (like nanoGPT's
``GPTConfig``): no mutable defaults, no executed config files.  Every config
round-trips through plain JSON with :func:`config_to_dict` /
:func:`config_from_dict`, and that JSON is what gets written beside a store or
a run, so a product always says how it was made.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ._validate import check_int
from .errors import GalvaeFileError, GalvaeValueError

__all__ = [
    "BANDS",
    "StretchConfig",
    "PreprocessConfig",
    "config_to_dict",
    "config_from_dict",
    "save_config",
    "load_config",
]

#: Band order of every image galvae stores: index 0, 1, 2 of the channel axis.
BANDS: tuple[str, str, str] = ("g", "r", "z")

T = TypeVar("T")

StretchKind = Literal["asinh", "uint8", "none"]


@dataclass(frozen=True)
class StretchConfig:
    """How pixel values are mapped onto [0, 1] in a store.

    Parameters
    ----------
    kind : {"asinh", "uint8", "none"}, default "asinh"
        ``"asinh"`` for flux images (Legacy Survey cutouts in nanomaggies,
        simulations): per band ``y = asinh(x / softening) / asinh(maximum /
        softening)``, clipped to [0, 1]; negative sky noise therefore maps to
        0 and a pixel at ``maximum`` nanomaggies to 1.  ``"uint8"`` for
        8-bit composites that are already stretched (Galaxy Zoo JPEG/PNG):
        ``y = x / 255``.  ``"none"`` for arrays already in [0, 1]; values
        outside are clipped.
    softening : tuple of 3 float, default (0.01, 0.015, 0.04)
        Per band (g, r, z) softening in nanomaggies per pixel, a few times
        the DECaLS sky noise, where the stretch turns from linear to
        logarithmic.
    maximum : tuple of 3 float, default (50, 100, 200)
        Per band flux per pixel, in nanomaggies, that maps to 1; brighter
        pixels saturate at 1.
    floor : float, default 0
        Black point of the asinh stretch in units of the softening: with
        ``f = floor`` the stretch is ``(asinh(x / b) + asinh(f)) /
        (asinh(m / b) + asinh(f))``, so ``x = -f b`` maps to 0 and the sky
        (x = 0) to a dark grey instead of black.  0 (default) is the plain
        form above; the Galaxy Zoo DECaLS images use 0.5
        (:data:`galvae.data.presentation.GZ_DECALS_STRETCH`).
    """

    kind: StretchKind = "asinh"
    softening: tuple[float, float, float] = (0.01, 0.015, 0.04)
    maximum: tuple[float, float, float] = (50.0, 100.0, 200.0)
    floor: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("asinh", "uint8", "none"):
            raise GalvaeValueError("stretch kind", self.kind, ("asinh", "uint8", "none"))
        for name in ("softening", "maximum"):
            vals = tuple(float(v) for v in getattr(self, name))
            if len(vals) != len(BANDS) or not all(math.isfinite(v) and v > 0 for v in vals):
                raise GalvaeValueError(
                    f"stretch {name} must be {len(BANDS)} positive finite numbers (g, r, z)",
                    getattr(self, name),
                )
            object.__setattr__(self, name, vals)
        if isinstance(self.floor, bool) or not (
            isinstance(self.floor, int | float) and math.isfinite(self.floor) and self.floor >= 0
        ):
            raise GalvaeValueError("stretch floor must be a non-negative finite number", self.floor)
        object.__setattr__(self, "floor", float(self.floor))


@dataclass(frozen=True)
class PreprocessConfig:
    """How an input image becomes a store image of shape (3, size, size).

    Parameters
    ----------
    size : int, default 64
        Output side in pixels: a multiple of 8 from 8 to 256 (the VAE halves
        it three times).  The documented range for real data is 32-256;
        8-24 exist for fast tests.
    crop : int or None, default None
        Side in input pixels of the centre crop taken before resizing; None
        takes the largest centred square.
    stretch : StretchConfig
        Pixel value mapping; see :class:`StretchConfig`.
    """

    size: int = 64
    crop: int | None = None
    stretch: StretchConfig = field(default_factory=StretchConfig)

    def __post_init__(self) -> None:
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, int)
            or not (8 <= self.size <= 256 and self.size % 8 == 0)
        ):
            raise GalvaeValueError("size must be a multiple of 8 from 8 to 256", self.size)
        if self.crop is not None:
            check_int("crop", self.crop, minimum=1)


# --------------------------------------------------------------------------- JSON round trip


def config_to_dict(config: Any) -> dict[str, Any]:
    """Return a JSON-ready dict of a (nested) config dataclass."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise GalvaeValueError("config_to_dict needs a dataclass instance", type(config).__name__)

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple | list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        return v

    return conv(config)


def _build(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return config_from_dict(tp, value)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _build(arg, value, where)
            except (GalvaeValueError, TypeError, ValueError):
                continue
        raise GalvaeValueError(f"config field {where} has the wrong type", value, str(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise GalvaeValueError(f"config field {where} must be a list", value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(args[0], v, where) for v in value)
        if len(args) != len(value):
            raise GalvaeValueError(f"config field {where} must have {len(args)} items", value)
        return tuple(_build(a, v, where) for a, v in zip(args, value, strict=True))
    if origin is dict:
        if not isinstance(value, dict):
            raise GalvaeValueError(f"config field {where} must be a mapping", value)
        kt, vt = typing.get_args(tp)
        return {k: _build(vt, v, where) for k, v in value.items()}
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise GalvaeValueError(f"config field {where}", value, typing.get_args(tp))
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp in (str, bool) and isinstance(value, tp):
        return value
    if tp is Any:
        return value
    if tp in (int, float, str, bool):
        raise GalvaeValueError(f"config field {where} must be {tp.__name__}", value)
    return value


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build config class ``cls`` from a dict made by :func:`config_to_dict`.

    Unknown keys raise :class:`~galvae.errors.GalvaeValueError` naming them,
    so a typo in a configuration file is never silently ignored.
    """
    if not isinstance(data, dict):
        raise GalvaeValueError(f"{cls.__name__} needs a mapping", type(data).__name__)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise GalvaeValueError(f"unknown {cls.__name__} field(s)", unknown, sorted(names))
    kwargs = {k: _build(hints[k], v, f"{cls.__name__}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def save_config(config: Any, path: str | os.PathLike[str]) -> None:
    """Write a config as indented JSON (atomically: temporary name, then rename)."""
    from ._io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(config_to_dict(config), fh, indent=2, sort_keys=True)
        fh.write("\n")


def load_config(cls: type[T], path: str | os.PathLike[str]) -> T:
    """Read a config of class ``cls`` written by :func:`save_config`."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise GalvaeFileError(path, "configuration file not found") from None
    except json.JSONDecodeError as exc:
        raise GalvaeFileError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return config_from_dict(cls, data)
