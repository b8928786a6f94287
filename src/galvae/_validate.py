"""One home for the checks of integer, float, bool and choice parameters.

Each function takes the parameter's name (as the message should show it,
e.g. ``"batch_size"`` or ``"VoteConfig.floor"``) and the value, returns the
value converted to the plain Python type (``int``, ``float``, ``bool``, the
matching choice), and otherwise raises
:class:`~galvae.errors.GalvaeValueError` with one message form::

    batch_size must be a positive integer (got 0)
    n_gallery must be a non-negative integer (got -1)
    max_points must be an integer >= 3 (got 2)
    port must be an integer between 0 and 65535 (got 70000)
    lr must be a positive number (got nan)
    val_fraction must be a number in (0, 1) (got 1.0)
    learn_sigma must be True or False (got 1)
    unknown loss (got 'huber'); accepted: 'mse', 'mae'

``bool`` is never an integer or a number here (``True`` is not a batch size),
numpy integers and floats are, and NaN is never a number.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any, TypeVar

import numpy as np

from .errors import GalvaeValueError

__all__ = ["check_bool", "check_choice", "check_float", "check_int"]

T = TypeVar("T")


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _shown(value: Any) -> Any:
    """The value as the message shows it: a numpy scalar as the Python one (``2``, not ``np.int64(2)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _int_wanted(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"an integer between {minimum} and {maximum}"
    if minimum is not None:
        return {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
    if maximum is not None:
        return f"an integer <= {maximum}"
    return "an integer"


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check that ``value`` is an integer in ``[minimum, maximum]``.

    Parameters
    ----------
    name : str
        The parameter, as the message names it.
    value : object
        A Python or numpy integer; ``bool`` is refused.
    minimum, maximum : int, optional
        Inclusive bounds; None leaves that side open.

    Returns
    -------
    int
        ``int(value)``.

    Raises
    ------
    GalvaeValueError
        ``"<name> must be a positive integer (got <value>)"``, with
        "a non-negative integer", "an integer >= m", "an integer between m
        and M", "an integer <= M" or "an integer" as the bounds say.
    """
    ok = isinstance(value, numbers.Integral) and not _is_bool(value)
    if ok:
        value = int(value)
        ok = (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        raise GalvaeValueError(f"{name} must be {_int_wanted(minimum, maximum)}", _shown(value))
    return value


def _float_wanted(
    minimum: float | None, maximum: float | None, low_closed: bool, high_closed: bool, finite: bool
) -> str:
    if minimum is not None and maximum is not None:
        return f"a number in {'[' if low_closed else '('}{minimum}, {maximum}{']' if high_closed else ')'}"
    if minimum is not None:
        if minimum == 0:
            return "a non-negative number" if low_closed else "a positive number"
        return f"a number {'>=' if low_closed else '>'} {minimum}"
    if maximum is not None:
        return f"a number {'<=' if high_closed else '<'} {maximum}"
    return "a finite number" if finite else "a number"


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    inclusive: bool | tuple[bool, bool] = True,
    finite: bool = True,
) -> float:
    """Check that ``value`` is a real number within the bounds.

    Parameters
    ----------
    name : str
        The parameter, as the message names it.
    value : object
        A Python or numpy integer or float; ``bool`` and NaN are refused.
    minimum, maximum : float, optional
        Bounds; None leaves that side open.
    inclusive : bool or (bool, bool), default True
        Whether ``minimum`` and ``maximum`` themselves are accepted: one
        flag for both, or ``(low, high)``.
    finite : bool, default True
        Refuse ±inf (NaN is refused in any case).

    Returns
    -------
    float
        ``float(value)``.

    Raises
    ------
    GalvaeValueError
        ``"<name> must be a positive number (got <value>)"``, with "a
        non-negative number", "a number in (m, M]", "a number >= m", "a
        number < M" or "a finite number" as the bounds say.
    """
    low_closed, high_closed = (inclusive, inclusive) if isinstance(inclusive, bool) else inclusive
    raw = value
    ok = isinstance(value, numbers.Real) and not _is_bool(value)
    if ok:
        value = float(value)
        ok = not math.isnan(value) and (math.isfinite(value) or not finite)
        if minimum is not None:
            ok = ok and (value >= minimum if low_closed else value > minimum)
        if maximum is not None:
            ok = ok and (value <= maximum if high_closed else value < maximum)
    if not ok:
        wanted = _float_wanted(minimum, maximum, low_closed, high_closed, finite)
        raise GalvaeValueError(f"{name} must be {wanted}", _shown(raw))
    return value


def check_bool(name: str, value: Any) -> bool:
    """Check that ``value`` is ``True`` or ``False`` (a Python or numpy bool, not 0 or 1).

    Returns
    -------
    bool

    Raises
    ------
    GalvaeValueError
        ``"<name> must be True or False (got <value>)"``.
    """
    if not _is_bool(value):
        raise GalvaeValueError(f"{name} must be True or False", _shown(value))
    return bool(value)


def check_choice(name: str, value: Any, choices: Iterable[T]) -> T:
    """Check that ``value`` is one of ``choices``.

    Parameters
    ----------
    name : str
        The parameter, as the message names it.
    value : object
    choices : iterable
        The accepted values, in the order the message lists them.

    Returns
    -------
    object
        The matching element of ``choices``.

    Raises
    ------
    GalvaeValueError
        ``"unknown <name> (got <value>); accepted: <choices>"``.
    """
    options = tuple(choices)
    for option in options:
        try:  # 1 is not "1", True is not 1; a numpy str_ is its str
            same = value is option or (
                isinstance(value, type(option)) and _is_bool(value) == _is_bool(option) and bool(value == option)
            )
        except (TypeError, ValueError):  # an array compared element-wise
            same = False
        if same:
            return option
    raise GalvaeValueError(f"unknown {name}", _shown(value), options)
