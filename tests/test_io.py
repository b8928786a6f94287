"""galvae._io: every writer's atomic helpers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from galvae._io import write_json, write_text


def test_write_json_numpy_and_paths(tmp_path) -> None:
    obj = {"n": np.int64(3), "x": np.float32(0.5), "a": np.arange(3), "p": Path("/runs/a")}
    path = write_json(tmp_path / "o.json", obj)
    text = path.read_text()
    assert text.endswith("}\n") and text.count("\n") > 1  # indented, one trailing newline
    assert json.loads(text) == {"n": 3, "x": 0.5, "a": [0, 1, 2], "p": "/runs/a"}
    assert write_json(tmp_path / "l.json", [1, 2], indent=None).read_text() == "[1, 2]\n"
    assert (
        write_json(tmp_path / "s.json", {"b": 1, "a": 2}, sort_keys=True).read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'
    )


def test_a_failed_write_leaves_the_old_file(tmp_path) -> None:
    path = write_text(tmp_path / "t.md", "old\n")
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        write_json(path, {"x": object()})
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["t.md"]
