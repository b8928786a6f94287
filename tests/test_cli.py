from __future__ import annotations

import json
import subprocess
import sys

import pytest

from galvae.cli import COMMANDS, build_parser, main


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command, capsys):
    name = command.replace("_", "-")  # module compare_domains -> command compare-domains
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: galvae {name}")


def test_top_level_lists_commands(capsys):
    text = build_parser().format_help()
    for command in COMMANDS:
        assert command.replace("_", "-") in text


def test_info_on_a_store(make_store, capsys):
    path, _, ids = make_store(n=3)
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_images"] == 3 and info["size"] == 16 and info["first_ids"] == ids
    from galvae.data.store import ImageStore

    assert info["fingerprint"] == ImageStore(path).fingerprint()


def test_errors_are_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "galvae", "info", str(tmp_path / "missing.h5")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"galvae info: error: {tmp_path / 'missing.h5'}: image store not found"]
