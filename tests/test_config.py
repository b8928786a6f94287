from __future__ import annotations

import dataclasses

import pytest

from galvae import GalvaeFileError, GalvaeValueError, PreprocessConfig, StretchConfig
from galvae.config import config_from_dict, config_to_dict, load_config, save_config


def test_configs_are_frozen():
    c = PreprocessConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.size = 32  # type: ignore[misc]


def test_roundtrip_json(tmp_path):
    c = PreprocessConfig(size=32, crop=100, stretch=StretchConfig(softening=(1, 2, 3), maximum=(4, 5, 6)))
    d = config_to_dict(c)
    assert d["stretch"]["softening"] == [1.0, 2.0, 3.0]
    assert config_from_dict(PreprocessConfig, d) == c
    save_config(c, tmp_path / "c.json")
    assert load_config(PreprocessConfig, tmp_path / "c.json") == c


@pytest.mark.parametrize("size", [0, 12, 264, 7, True, 32.0])
def test_size_validated(size):
    with pytest.raises(GalvaeValueError, match="size must be a multiple of 8"):
        PreprocessConfig(size=size)


def test_stretch_validated():
    with pytest.raises(GalvaeValueError, match="stretch kind.*'log'.*accepted"):
        StretchConfig(kind="log")  # type: ignore[arg-type]
    with pytest.raises(GalvaeValueError, match="softening must be 3 positive"):
        StretchConfig(softening=(1.0, -1.0, 1.0))
    with pytest.raises(GalvaeValueError, match="maximum must be 3 positive"):
        StretchConfig(maximum=(1.0, 2.0))  # type: ignore[arg-type]


def test_unknown_keys_and_bad_files(tmp_path):
    with pytest.raises(GalvaeValueError, match=r"unknown PreprocessConfig field.*'sise'"):
        config_from_dict(PreprocessConfig, {"sise": 64})
    with pytest.raises(GalvaeValueError, match="PreprocessConfig.size must be int"):
        config_from_dict(PreprocessConfig, {"size": "64"})
    with pytest.raises(GalvaeFileError, match="configuration file not found"):
        load_config(PreprocessConfig, tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(GalvaeFileError, match="bad.json: not valid JSON"):
        load_config(PreprocessConfig, tmp_path / "bad.json")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    from galvae._io import atomic_path

    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="midway"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("midway")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
