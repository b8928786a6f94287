"""Small helpers shared by the evaluation subcommands."""

from __future__ import annotations

from typing import Any

from ..errors import GalvaeValueError

__all__ = ["comma_floats", "comma_ints", "comma_list", "print_table"]


def comma_list(text: str) -> list[str]:
    """ "a,b , c" → ["a", "b", "c"]."""
    return [t.strip() for t in str(text).split(",") if t.strip()]


def comma_ints(text: str, name: str) -> list[int]:
    """``"10,20,40"`` → ``[10, 20, 40]``; anything else raises GalvaeValueError naming option ``name``."""
    try:
        return [int(t) for t in comma_list(text)]
    except ValueError:
        raise GalvaeValueError(f"{name} must be comma-separated integers", text) from None


def comma_floats(text: str, name: str) -> list[float]:
    """``"0.5,1,2"`` → ``[0.5, 1.0, 2.0]``; anything else raises GalvaeValueError naming option ``name``."""
    try:
        return [float(t) for t in comma_list(text)]
    except ValueError:
        raise GalvaeValueError(f"{name} must be comma-separated numbers", text) from None


def print_table(df: Any, columns: list[str], floatfmt: str = "{:.3f}") -> None:
    """Print selected columns of a DataFrame as an aligned text table."""
    cols = [c for c in columns if c in df.columns]
    cells = [[str(c) for c in cols]]
    for i in range(len(df)):
        cells.append([floatfmt.format(v) if isinstance(v, float) else str(v) for v in (df[c].iloc[i] for c in cols)])
    widths = [max(len(r[i]) for r in cells) for i in range(len(cols))]
    for j, r in enumerate(cells):
        print("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))
        if j == 0:
            print("  ".join("-" * w for w in widths))
