"""Tests of the Hugging Face Hub layout: save_pretrained / from_pretrained / push_to_hub and ``galvae export``.

No network: a repository id is served by a monkeypatched
``huggingface_hub.snapshot_download`` from a local directory, and pushing
goes to a fake ``HfApi`` that records what it was given.
"""

from __future__ import annotations

import json
import logging
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load

import galvae
from galvae import train
from galvae.cli import main
from galvae.config import StretchConfig
from galvae.data.store import write_store
from galvae.errors import GalvaeError, GalvaeFileError
from galvae.latents import GalaxyVAE, export_model
from galvae.latents.export import HUB_CONFIG, HUB_WEIGHTS, MODEL_CARD, model_card
from galvae.models import VAE, ModelConfig

NORM = StretchConfig(kind="none")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny trained run: (run directory, images, TrainResult)."""
    root = tmp_path_factory.mktemp("hub")
    rng = np.random.default_rng(5)
    images = (rng.random((24, 3, 16, 16), dtype=np.float32) * 0.6).astype(np.float32)
    store = write_store(
        root / "decals_tiny.h5",
        images,
        [f"g{i:02d}" for i in range(24)],
        survey="decals",
        normalisation=NORM,
        pixel_scale_arcsec=0.262,
    )
    res = train(
        store,
        root / "run",
        latent_dim=3,
        epochs=2,
        batch_size=8,
        val_fraction=0.25,
        seed=1,
        progress=False,
        accelerator="cpu",
    )
    return root / "run", images, res


@pytest.fixture
def bare(tmp_path):
    """An exported model with no run directory around it (no metrics, no stores)."""
    torch.manual_seed(0)
    net = VAE(ModelConfig(size=16, latent_dim=4))
    export_model(net, tmp_path / "bare", normalisation=StretchConfig(), profile="gz-decals", training={"seed": 3})
    return tmp_path / "bare"


def test_save_and_load_round_trip(trained, tmp_path):
    run, images, _ = trained
    model = GalaxyVAE.load(run)
    out = model.save_pretrained(tmp_path / "hub")
    assert out == tmp_path / "hub"
    assert sorted(p.name for p in out.iterdir()) == sorted([HUB_CONFIG, HUB_WEIGHTS, MODEL_CARD])
    again = GalaxyVAE.from_pretrained(out)
    np.testing.assert_array_equal(again.encode(images), model.encode(images))
    np.testing.assert_array_equal(again.generate(3, seed=2), model.generate(3, seed=2))
    assert again.config == model.config and again.normalisation == model.normalisation
    assert again.profile == model.profile
    # any galvae entry point that takes a run takes the Hub directory too
    np.testing.assert_array_equal(GalaxyVAE.load(out).encode(images), model.encode(images))
    np.testing.assert_array_equal(GalaxyVAE.load(out / HUB_WEIGHTS).encode(images), model.encode(images))
    np.testing.assert_array_equal(
        galvae.GalaxyVAE.from_pretrained(str(out / HUB_CONFIG)).encode(images[:2]), model.encode(images[:2])
    )


def test_config_records_training_data_and_metrics_without_local_paths(trained, tmp_path):
    run, _, res = trained
    out = GalaxyVAE.load(run).save_pretrained(tmp_path / "hub")
    text = (out / HUB_CONFIG).read_text()
    meta = json.loads(text)
    assert meta["format"] == "galvae-vae" and meta["weights"] == HUB_WEIGHTS
    assert meta["galvae_version"] == galvae.__version__
    training = meta["training"]
    assert training["stores"] == ["decals_tiny.h5"]
    assert training["data"]["stores"] == [
        {"name": "decals_tiny.h5", "survey": "decals", "images": 24, "pixel_scale_arcsec": 0.262}
    ]
    assert training["data"]["n_train"] == 18 and training["data"]["n_val"] == 6
    assert training["train"]["batch_size"] == 8 and training["train"]["seed"] == 1
    assert training["metrics"]["best_val_loss"] == pytest.approx(res.best_val_loss, rel=1e-6)
    assert training["metrics"]["epoch"] == 2 and "final_val_kl" in training["metrics"]
    assert str(tmp_path.parent) not in text and str(run) not in text  # nothing local is published
    assert str(run.parent) not in (out / MODEL_CARD).read_text()


def test_model_card_describes_data_presentation_metrics_version_and_limits(trained, tmp_path):
    run, _, res = trained
    out = GalaxyVAE.load(run).save_pretrained(
        tmp_path / "hub", model_name="decals tiny VAE", repo_id="someone/decals-tiny", license="cc-by-4.0"
    )
    card = (out / MODEL_CARD).read_text()
    front, body = card.split("---\n")[1], card.split("---\n", 2)[2]
    assert "library_name: galvae" in front and 'license: "cc-by-4.0"' in front
    assert '- "decals"' in front and "pipeline_tag: image-feature-extraction" in front
    assert body.startswith("\n# decals tiny VAE\n")
    assert 'GalaxyVAE.from_pretrained("someone/decals-tiny")' in body
    assert "| decals_tiny.h5 | decals | 24 | 0.262 |" in body and "Survey: decals." in body
    assert "18 galaxies for training, 6 held out for validation." in body
    assert "| presentation profile | `fixed`" in body and "| normalisation | `none` |" in body
    assert f"| best validation loss (exported checkpoint) | {res.best_val_loss:.6g} |" in body
    assert f"| galvae version | {galvae.__version__} |" in body
    assert "## Intended use" in body and "## Limitations" in body and "domain shift" in body
    assert "never unpickles" in body


def test_card_of_a_bare_export_says_what_is_not_recorded(bare, tmp_path):
    model = GalaxyVAE.load(bare)
    out = model.save_pretrained(tmp_path / "hub")
    card = (out / MODEL_CARD).read_text()
    assert "## Training data\n\nNot recorded." in card and "## Metrics\n\nNot recorded." in card
    assert "| presentation profile | `gz-decals`: the Galaxy Zoo DECaLS presentation" in card
    assert "| softening (g, r, z) | 0.01, 0.015, 0.04 nanomaggies |" in card
    x = np.random.default_rng(0).random((2, 3, 16, 16), dtype=np.float32)
    np.testing.assert_array_equal(GalaxyVAE.from_pretrained(out).encode(x), model.encode(x))
    meta = json.loads((out / HUB_CONFIG).read_text())
    assert model_card(meta, name="x").count("Not recorded.") == 2
    assert "centre window" not in card  # every pixel alike: nothing to say
    assert "colour weight" not in card and "decoder output" not in card and "detail weight" not in card  # the paper's
    windowed = VAE(
        ModelConfig(size=16, latent_dim=4, centre_window=0.2, colour_weight=4.0, detail_weight=5.0, output="linear")
    )
    export_model(windowed, tmp_path / "w", normalisation=StretchConfig(), profile="gz-decals", training={"seed": 3})
    card = GalaxyVAE.load(tmp_path / "w").save_pretrained(tmp_path / "hub_w").joinpath(MODEL_CARD).read_text()
    assert "| centre window (σ / image side) | 0.2 |" in card
    assert "| colour weight a (colour residuals × a) | 4 |" in card and "| decoder output | `linear`" in card
    assert "| detail weight b (fine residuals × b; blur σ / image side 0.0625) | 5 |" in card


def test_saving_again_into_a_hub_directory_replaces_the_model(trained, bare, tmp_path):
    out = tmp_path / "hub"
    GalaxyVAE.load(bare).save_pretrained(out)
    (out / "notes.txt").write_text("kept")
    GalaxyVAE.load(trained[0]).save_pretrained(out)
    assert GalaxyVAE.from_pretrained(out).latent_dim == 3 and (out / "notes.txt").read_text() == "kept"


def test_save_refuses_a_run_directory_or_an_export(trained, bare):
    run = trained[0]
    before = (run / "config.json").read_text()
    with pytest.raises(GalvaeFileError, match=r"config.json: exists and is not a galvae model description"):
        GalaxyVAE.load(bare).save_pretrained(run)
    assert (run / "config.json").read_text() == before and not (run / MODEL_CARD).exists()
    with pytest.raises(GalvaeFileError, match=r"model.json: this directory holds an exported model"):
        GalaxyVAE.load(trained[0]).save_pretrained(bare)


@pytest.fixture
def hub_dir(trained, tmp_path):
    return GalaxyVAE.load(trained[0]).save_pretrained(tmp_path / "hub")


def _edit_config(directory, **changes):
    meta = json.loads((directory / HUB_CONFIG).read_text())
    for key, value in changes.items():
        if value is None:
            del meta[key]
        else:
            meta[key] = value
    (directory / HUB_CONFIG).write_text(json.dumps(meta))
    return meta


def test_loading_validates_config_shapes_and_version(hub_dir, caplog):
    meta = json.loads((hub_dir / HUB_CONFIG).read_text())
    _edit_config(hub_dir, model_config=dict(meta["model_config"], latent_dim=5))
    with pytest.raises(GalvaeFileError, match=r"weights do not fit the architecture in config.json"):
        GalaxyVAE.from_pretrained(hub_dir)
    _edit_config(hub_dir, model_config=dict(meta["model_config"], likelihood="poisson"))
    with pytest.raises(GalvaeFileError, match=r"invalid model configuration"):
        GalaxyVAE.from_pretrained(hub_dir)
    _edit_config(hub_dir, model_config=meta["model_config"], format_version=2)
    with pytest.raises(GalvaeFileError, match=r"format version 2 is newer"):
        GalaxyVAE.from_pretrained(hub_dir)
    _edit_config(hub_dir, format_version=1, weights="../elsewhere.safetensors")
    with pytest.raises(GalvaeFileError, match=r"weights must be a file name beside the description"):
        GalaxyVAE.from_pretrained(hub_dir)
    _edit_config(hub_dir, weights=HUB_WEIGHTS, galvae_version="97.3.0")
    with caplog.at_level(logging.WARNING, logger="galvae.latents.export"):
        GalaxyVAE.from_pretrained(hub_dir)
    assert "galvae 97.3.0" in caplog.text and "major.minor differ" in caplog.text
    _edit_config(hub_dir, format="transformers")
    with pytest.raises(GalvaeFileError, match=r"no exported galvae model here"):
        GalaxyVAE.from_pretrained(hub_dir)


class _Trap:
    """Unpickling this writes a file: proof that something was unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_loading_never_unpickles(hub_dir, tmp_path):
    sprung = tmp_path / "sprung"
    (hub_dir / HUB_WEIGHTS).write_bytes(pickle.dumps({"model.fc_mu.weight": _Trap(str(sprung))}))
    with pytest.raises(GalvaeFileError, match=r"model.safetensors: cannot read safetensors weights"):
        GalaxyVAE.from_pretrained(hub_dir)
    assert not sprung.exists()


def test_from_pretrained_with_a_repo_id_downloads_the_snapshot(hub_dir, tmp_path, monkeypatch):
    hub = pytest.importorskip("huggingface_hub", reason="huggingface_hub is not installed (pip install 'galvae[hub]')")
    calls = []

    def fake_snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        snapshot = tmp_path / "cache" / repo_id.replace("/", "--")
        shutil.copytree(hub_dir, snapshot)
        return str(snapshot)

    monkeypatch.setattr(hub, "snapshot_download", fake_snapshot_download)
    x = np.random.default_rng(1).random((3, 3, 16, 16), dtype=np.float32)
    model = GalaxyVAE.from_pretrained("someone/decals-tiny", revision="v1", token=False)
    np.testing.assert_array_equal(model.encode(x), GalaxyVAE.from_pretrained(hub_dir).encode(x))
    ((repo_id, kwargs),) = calls
    assert repo_id == "someone/decals-tiny" and kwargs["revision"] == "v1" and kwargs["token"] is False
    assert kwargs["allow_patterns"] == [HUB_CONFIG, "*.safetensors", MODEL_CARD] and kwargs["repo_type"] == "model"
    assert kwargs["library_name"] == "galvae" and kwargs["local_files_only"] is False

    def failing(repo_id, **kwargs):
        raise OSError("We couldn't connect to the Hub")

    monkeypatch.setattr(hub, "snapshot_download", failing)
    with pytest.raises(GalvaeFileError, match=r"someone/missing: not a local path.*OSError: We couldn't connect"):
        GalaxyVAE.from_pretrained("someone/missing")


def test_without_huggingface_hub_a_repo_id_is_one_clear_error(hub_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as if not installed
    with pytest.raises(GalvaeError, match=r"needs the optional package huggingface_hub: pip install huggingface_hub"):
        GalaxyVAE.from_pretrained("someone/decals-tiny")
    with pytest.raises(GalvaeError, match=r"pip install 'galvae\[hub\]'"):
        GalaxyVAE.from_pretrained(hub_dir).push_to_hub("someone/decals-tiny")
    assert GalaxyVAE.from_pretrained(hub_dir).latent_dim == 3  # local directories need no huggingface_hub


class _FakeApi:
    """Records create_repo and upload_folder (with the folder's files at upload time)."""

    calls: list = []

    def __init__(self, token=None, **kwargs):
        self.token = token

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        files = {path.name: path.read_bytes() for path in Path(folder_path).iterdir()}
        self.calls.append(("upload_folder", repo_id, dict(kwargs, files=files, token=self.token)))

        class Info:
            commit_url = f"https://hub.invalid/{repo_id}/commit/1"

        return Info()


@pytest.fixture
def fake_api(monkeypatch):
    hub = pytest.importorskip("huggingface_hub", reason="huggingface_hub is not installed (pip install 'galvae[hub]')")
    _FakeApi.calls = []
    monkeypatch.setattr(hub, "HfApi", _FakeApi)
    return _FakeApi


def test_push_to_hub_uploads_the_saved_layout(trained, hub_dir, fake_api):
    model = GalaxyVAE.load(trained[0])
    info = model.push_to_hub("someone/decals-tiny", private=True, token="hf_x", commit_message="first")
    assert info.commit_url.endswith("someone/decals-tiny/commit/1")
    (create, upload) = fake_api.calls
    assert create == ("create_repo", "someone/decals-tiny", {"private": True, "exist_ok": True, "repo_type": "model"})
    assert upload[0] == "upload_folder" and upload[1] == "someone/decals-tiny"
    sent = upload[2]
    assert sent["commit_message"] == "first" and sent["token"] == "hf_x" and sent["create_pr"] is False
    assert sorted(sent["files"]) == sorted([HUB_CONFIG, HUB_WEIGHTS, MODEL_CARD])
    sent_weights, saved_weights = load(sent["files"][HUB_WEIGHTS]), load((hub_dir / HUB_WEIGHTS).read_bytes())
    assert sent_weights.keys() == saved_weights.keys()
    assert all(torch.equal(sent_weights[k], saved_weights[k]) for k in saved_weights)
    assert b'from_pretrained("someone/decals-tiny")' in sent["files"][MODEL_CARD]
    assert (
        json.loads(sent["files"][HUB_CONFIG])["training"] == json.loads((hub_dir / HUB_CONFIG).read_text())["training"]
    )


def test_cli_export(trained, tmp_path, capsys, fake_api):
    run, images, _ = trained
    out = tmp_path / "exported"
    assert main(["export", str(run), str(out), "--name", "tiny", "-q"]) == 0
    assert "model card" in capsys.readouterr().out
    np.testing.assert_array_equal(GalaxyVAE.from_pretrained(out).encode(images), GalaxyVAE.load(run).encode(images))
    assert (out / MODEL_CARD).read_text().split("\n# ", 1)[1].startswith("tiny\n")
    assert main(["export", str(run), str(out)]) == 2
    assert "already exists (pass --overwrite" in capsys.readouterr().err
    assert main(["export", str(run), str(out), "--overwrite", "--push-to-hub", "someone/tiny", "--private"]) == 0
    assert "pushed to the Hugging Face Hub: https://hub.invalid/someone/tiny/commit/1" in capsys.readouterr().out
    assert fake_api.calls[0][2]["private"] is True
    assert main(["export", str(run), str(run)]) == 2
    assert "is not a galvae model description" in capsys.readouterr().err
    assert main(["export", str(run), str(tmp_path / "d"), "--decoder", "bass_mzls"]) == 2
    assert "has a single decoder" in capsys.readouterr().err
