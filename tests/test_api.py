from __future__ import annotations

import subprocess
import sys

import galvae


def test_every_public_name_resolves():
    for name in galvae.__all__:
        assert getattr(galvae, name) is not None, name


def test_unknown_attribute_raises():
    try:
        galvae.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_does_not_load_torch():
    code = "import sys, galvae, galvae.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
