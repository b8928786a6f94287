from __future__ import annotations

import pytest

from galvae import GalvaeDownloadError, GalvaeError, GalvaeFileError, GalvaeKeyError, GalvaeValueError


def test_family_and_builtin_bases():
    assert issubclass(GalvaeValueError, ValueError) and issubclass(GalvaeValueError, GalvaeError)
    assert issubclass(GalvaeFileError, OSError) and issubclass(GalvaeFileError, GalvaeError)
    assert issubclass(GalvaeKeyError, KeyError) and issubclass(GalvaeDownloadError, OSError)


def test_messages_carry_value_and_allowed():
    e = GalvaeValueError("layer", "ls-dr8", ("ls-dr9-south", "ls-dr9-north"))
    assert str(e) == "layer (got 'ls-dr8'); accepted: 'ls-dr9-south', 'ls-dr9-north'"
    assert e.value == "ls-dr8"
    assert str(GalvaeFileError("a/b.fits", "truncated")) == "a/b.fits: truncated"
    assert str(GalvaeKeyError("no such column", "ra", ["id"])) == "no such column (got 'ra'); available: 'id'"
    with pytest.raises(ValueError, match="accepted"):
        raise e
