"""galvae._validate: the one home of the integer, float, bool and choice checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from galvae._validate import check_bool, check_choice, check_float, check_int
from galvae.errors import GalvaeValueError


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_check_int_accepts_python_and_numpy_integers(value):
    out = check_int("n", value, minimum=1)
    assert out == 3 and type(out) is int


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        (True, {"minimum": 1}, r"^n must be a positive integer \(got True\)$"),
        (np.True_, {"minimum": 0}, r"^n must be a non-negative integer \(got True\)$"),
        (1.0, {}, r"^n must be an integer \(got 1\.0\)$"),
        ("3", {"minimum": 1}, r"^n must be a positive integer \(got '3'\)$"),
        (None, {"minimum": 1}, r"^n must be a positive integer$"),  # GalvaeValueError shows no "got None"
        (0, {"minimum": 1}, r"^n must be a positive integer \(got 0\)$"),
        (-1, {"minimum": 0}, r"^n must be a non-negative integer \(got -1\)$"),
        (np.int64(2), {"minimum": 3}, r"^n must be an integer >= 3 \(got 2\)$"),
        (70000, {"minimum": 0, "maximum": 65535}, r"^n must be an integer between 0 and 65535 \(got 70000\)$"),
        (6, {"maximum": 5}, r"^n must be an integer <= 5 \(got 6\)$"),
    ],
)
def test_check_int_refuses(value, kwargs, match):
    with pytest.raises(GalvaeValueError, match=match):
        check_int("n", value, **kwargs)


def test_check_int_bounds_are_inclusive():
    assert check_int("port", 0, minimum=0, maximum=65535) == 0
    assert check_int("port", 65535, minimum=0, maximum=65535) == 65535
    assert check_int("seed", -7) == -7


@pytest.mark.parametrize("value", [0.5, 1, np.float32(0.5), np.int64(1), np.float64(0.5)])
def test_check_float_accepts_numbers_and_returns_float(value):
    out = check_float("x", value, minimum=0, maximum=1)
    assert out == float(value) and type(out) is float


@pytest.mark.parametrize(
    ("value", "kwargs", "match"),
    [
        (math.nan, {}, r"^lr must be a finite number \(got nan\)$"),
        (np.float32("nan"), {"minimum": 0}, r"^lr must be a non-negative number \(got nan\)$"),
        (math.inf, {"minimum": 0, "inclusive": False}, r"^lr must be a positive number \(got inf\)$"),
        (0.0, {"minimum": 0, "inclusive": False}, r"^lr must be a positive number \(got 0\.0\)$"),
        (-0.5, {"minimum": 0}, r"^lr must be a non-negative number \(got -0\.5\)$"),
        (True, {"minimum": 0}, r"^lr must be a non-negative number \(got True\)$"),
        ("0.1", {"minimum": 0}, r"^lr must be a non-negative number \(got '0\.1'\)$"),
        (1.0, {"minimum": 0, "maximum": 1, "inclusive": False}, r"^lr must be a number in \(0, 1\) \(got 1\.0\)$"),
        (
            0.0,
            {"minimum": 0, "maximum": 1, "inclusive": (False, True)},
            r"^lr must be a number in \(0, 1\] \(got 0\.0\)$",
        ),
        (1.0, {"minimum": 1.1, "inclusive": False}, r"^lr must be a number > 1\.1 \(got 1\.0\)$"),
        (1.0, {"minimum": 2}, r"^lr must be a number >= 2 \(got 1\.0\)$"),
        (3.0, {"maximum": 2, "inclusive": False}, r"^lr must be a number < 2 \(got 3\.0\)$"),
    ],
)
def test_check_float_refuses(value, kwargs, match):
    with pytest.raises(GalvaeValueError, match=match):
        check_float("lr", value, **kwargs)


def test_check_float_infinity_only_when_not_finite():
    assert check_float("w", math.inf, minimum=0, finite=False) == math.inf
    with pytest.raises(GalvaeValueError, match=r"w must be a non-negative number \(got inf\)"):
        check_float("w", math.inf, minimum=0)
    with pytest.raises(GalvaeValueError, match=r"w must be a number \(got nan\)"):
        check_float("w", math.nan, finite=False)  # NaN is never a number


def test_check_float_inclusive_bounds():
    assert check_float("f", 0.0, minimum=0, maximum=1) == 0.0
    assert check_float("f", 1.0, minimum=0, maximum=1) == 1.0
    assert check_float("f", 1.0, minimum=0, maximum=1, inclusive=(False, True)) == 1.0
    with pytest.raises(GalvaeValueError, match=r"in \[0, 1\)"):
        check_float("f", 1.0, minimum=0, maximum=1, inclusive=(True, False))


def test_check_bool():
    assert check_bool("flag", True) is True
    assert check_bool("flag", np.False_) is False
    for bad in (1, 0, "yes"):
        with pytest.raises(GalvaeValueError, match=rf"^flag must be True or False \(got {bad!r}\)$"):
            check_bool("flag", bad)
    with pytest.raises(GalvaeValueError, match=r"^flag must be True or False$"):
        check_bool("flag", None)


def test_check_choice():
    assert check_choice("loss", "mae", ("mse", "mae")) == "mae"
    assert type(check_choice("loss", np.str_("mse"), ("mse", "mae"))) is str
    assert check_choice("class_weight", None, (None, "balanced")) is None
    with pytest.raises(GalvaeValueError, match=r"^unknown loss \(got 'huber'\); accepted: 'mse', 'mae'$"):
        check_choice("loss", "huber", ["mse", "mae"])
    with pytest.raises(GalvaeValueError, match=r"unknown n \(got True\)"):
        check_choice("n", True, (1, 2))  # True is not 1
    with pytest.raises(GalvaeValueError, match=r"unknown n \(got '1'\)"):
        check_choice("n", "1", (1, 2))
    with pytest.raises(GalvaeValueError, match=r"unknown loss"):
        check_choice("loss", np.array(["mse", "mae"]), ("mse", "mae"))  # an array is not one choice


def test_errors_are_value_errors():
    with pytest.raises(ValueError):
        check_int("n", -1, minimum=0)
    with pytest.raises(ValueError):
        check_float("x", "a")
