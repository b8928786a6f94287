"""The exported model: safetensors weights plus a JSON description.

``model.safetensors`` holds the VAE's tensors only (loading never unpickles
code); ``model.json`` beside it holds::

    format            "galvae-vae", format_version 1
    galvae_version    version that wrote it
    model_config      ModelConfig as a dict (architecture, loss, k)
    preprocessing     {"size": S, "normalisation": StretchConfig as a dict}
    weights           file name of the safetensors file
    training          stores, seed, epochs, best validation loss, … (informative)
    decoders          only in a domain-adapted run (``galvae adapt``): survey → the
                      ``model_<survey>.json`` holding the shared encoder and that
                      survey's decoder; ``surveys`` lists them source first and
                      ``default_decoder`` names the one this file holds

Loading checks the format, that the galvae major.minor version matches (a
warning is logged otherwise), that the architecture configuration is present
and valid, that the weights file is a plain file name beside the description,
and that the weights fit it exactly.

The Hugging Face Hub layout (:func:`save_pretrained_files`, used by
``GalaxyVAE.save_pretrained`` and ``galvae export``) is the same pair under
the Hub's names, plus a model card::

    model.safetensors   the weights
    config.json         the description above (``training`` also holds the
                        training data summary and the run's metrics)
    README.md           the model card (YAML metadata + Markdown)

A directory holding only ``config.json`` (no ``model.json``) is read as such
a model wherever a run directory is accepted.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from .._io import atomic_path
from .._version import __version__
from ..config import StretchConfig, config_from_dict, config_to_dict
from ..data.presentation import check_field_fraction, check_profile, check_same_presentation
from ..errors import GalvaeError, GalvaeFileError, GalvaeValueError
from ..models.config import ModelConfig

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "export_model",
    "load_exported",
    "resolve_model_path",
    "decoder_path",
    "check_store_matches",
    "HUB_CONFIG",
    "HUB_WEIGHTS",
    "MODEL_CARD",
    "run_summary",
    "model_card",
    "save_pretrained_files",
    "import_hub",
    "download_pretrained",
    "is_hub_config",
]

log = logging.getLogger(__name__)

FORMAT = "galvae-vae"
FORMAT_VERSION = 1

#: File names of the Hugging Face Hub layout.
HUB_CONFIG = "config.json"
HUB_WEIGHTS = "model.safetensors"
MODEL_CARD = "README.md"


def _atomic_write(path: Path, write: Any) -> None:
    with atomic_path(path) as tmp:
        write(tmp)


def export_model(
    model: Any,
    directory: str | os.PathLike[str],
    *,
    normalisation: StretchConfig,
    profile: str = "fixed",
    field_fraction: float = 1.0,
    training: dict[str, Any] | None = None,
    name: str = "model",
    extra: dict[str, Any] | None = None,
    description: str | None = None,
) -> Path:
    """Write ``<directory>/<name>.safetensors`` and ``<directory>/<name>.json``.

    Parameters
    ----------
    model : galvae.models.VAE
        The network (its ``config`` is the architecture written out).
    directory : path
        Created if missing.
    normalisation : StretchConfig
        Normalisation of the images the model was trained on (and expects).
    profile : {"fixed", "gz-decals"}, default "fixed"
        Presentation profile of those images (:mod:`galvae.data.presentation`).
    field_fraction : float, default 1.0
        The part of the Galaxy Zoo field they keep (``"gz-decals"``;
        :func:`galvae.data.presentation.check_field_fraction`).
    training : dict, optional
        Informative JSON-able facts about the training run.
    name : str, default "model"
        Stem of the two files.
    extra : dict, optional
        Further JSON-able keys for the description (e.g. ``decoders`` of a
        domain-adapted run).
    description : str, optional
        File name of the JSON description instead of ``<name>.json`` (the
        Hub layout's ``config.json``).

    Returns
    -------
    Path
        The JSON file.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / f"{name}.safetensors"
    meta_path = directory / (description or f"{name}.json")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    _atomic_write(
        weights, lambda p: save_file(tensors, str(p), metadata={"format": FORMAT, "galvae_version": __version__})
    )
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "galvae_version": __version__,
        "model_config": config_to_dict(model.config),
        "preprocessing": {
            "size": model.config.size,
            "normalisation": config_to_dict(normalisation),
            "profile": check_profile(profile),
            "field_fraction": check_field_fraction(field_fraction, profile),
        },
        "weights": weights.name,
        "training": training or {},
        **(extra or {}),
    }
    _atomic_write(meta_path, lambda p: p.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n"))
    log.info("exported model to %s (+ %s)", meta_path, weights.name)
    return meta_path


def resolve_model_path(path: str | os.PathLike[str]) -> Path:
    """The ``model.json`` of a run directory, a ``.json`` or a ``.safetensors`` path.

    A directory (or ``model.safetensors``) in the Hub layout, with a galvae
    ``config.json`` and no ``model.json``, gives that ``config.json``.

    Raises
    ------
    GalvaeFileError
        If no exported model is found there.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "model.json" if (p / "model.json").is_file() or not is_hub_config(p / HUB_CONFIG) else p / HUB_CONFIG
    elif p.suffix == ".safetensors":
        hub = p.parent / HUB_CONFIG
        p = (
            hub
            if not p.with_suffix(".json").is_file() and p.name == HUB_WEIGHTS and is_hub_config(hub)
            else p.with_suffix(".json")
        )
    if not p.is_file():
        raise GalvaeFileError(
            p, "no exported galvae model here (expected a run directory with model.json, or a model .json/.safetensors)"
        )
    return p


def is_hub_config(path: Path) -> bool:
    """Whether ``path`` is a galvae model description (a Hub ``config.json``), not e.g. a run's configuration."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def _check_version(written: str, path: Path) -> None:
    def mm(v: str) -> tuple[str, ...]:
        return tuple(v.split(".")[:2])

    if mm(written) != mm(__version__):
        log.warning(
            "%s was written by galvae %s; this is galvae %s (major.minor differ); results may differ",
            path,
            written,
            __version__,
        )


def decoder_path(meta_path: Path, meta: dict[str, Any], decoder: str) -> Path:
    """The model file holding ``decoder`` in a domain-adapted run.

    Raises
    ------
    GalvaeValueError
        If the model has no per-survey decoders, or none named ``decoder``.
    """
    decoders = meta.get("decoders")
    if not isinstance(decoders, dict) or not decoders:
        raise GalvaeValueError(
            f"model {meta_path} has a single decoder (per-survey decoders come from galvae adapt); "
            "leave the decoder unset",
            decoder,
        )
    if decoder not in decoders:
        raise GalvaeValueError(f"model {meta_path} has no decoder for survey", decoder, tuple(decoders))
    return meta_path.parent / str(decoders[decoder])


def load_exported(
    path: str | os.PathLike[str], device: str = "cpu", decoder: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """Load an exported model without unpickling code.

    Parameters
    ----------
    path : path
        Run directory, ``model.json`` or ``model.safetensors``.
    device : str, default "cpu"
        Where to put the weights.
    decoder : str, optional
        In a domain-adapted run, the survey whose decoder to load (the
        encoder is shared); default: the run's default decoder (the source
        survey's).

    Returns
    -------
    model : galvae.models.VAE
        In eval mode.
    meta : dict
        The JSON description, with ``model_config`` as a :class:`ModelConfig`,
        ``normalisation`` as a :class:`StretchConfig`, and ``path``.

    Raises
    ------
    GalvaeFileError
        If the files are missing, unreadable or not a galvae model, or the
        weights do not fit the architecture.
    GalvaeValueError
        On a ``decoder`` the model does not have.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from ..models.vae import VAE

    meta_path = resolve_model_path(path)
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise GalvaeFileError(meta_path, f"cannot read model description ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise GalvaeFileError(meta_path, f"not a galvae model description (format should be {FORMAT!r})")
    if decoder is not None and decoder != meta.get("default_decoder"):
        return load_exported(decoder_path(meta_path, meta, decoder), device=device)
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise GalvaeFileError(
            meta_path,
            f"model format version {meta.get('format_version')} is newer than this galvae reads ({FORMAT_VERSION})",
        )
    _check_version(str(meta.get("galvae_version", "0.0")), meta_path)
    for key in ("model_config", "preprocessing", "weights"):
        if key not in meta:
            raise GalvaeFileError(meta_path, f"model description lacks {key!r}")
    try:
        cfg = config_from_dict(ModelConfig, meta["model_config"])
        norm = config_from_dict(StretchConfig, meta["preprocessing"]["normalisation"])
    except (GalvaeValueError, KeyError, TypeError) as exc:
        raise GalvaeFileError(meta_path, f"invalid model configuration ({exc})") from None
    if int(meta["preprocessing"].get("size", cfg.size)) != cfg.size:
        raise GalvaeFileError(meta_path, "preprocessing size differs from the architecture's size")
    if not isinstance(meta["weights"], str) or Path(meta["weights"]).name != meta["weights"]:
        raise GalvaeFileError(meta_path, f"weights must be a file name beside the description, not {meta['weights']!r}")
    weights = meta_path.parent / meta["weights"]
    if not weights.is_file():
        raise GalvaeFileError(weights, "weights file of the exported model not found")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise GalvaeFileError(weights, f"cannot read safetensors weights ({exc})") from None
    model = VAE(cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        msg = str(exc).splitlines()[0]
        raise GalvaeFileError(weights, f"weights do not fit the architecture in {meta_path.name}: {msg}") from None
    model.eval().to(device)
    meta = dict(
        meta,
        model_config=cfg,
        normalisation=norm,
        profile=str(meta["preprocessing"].get("profile", "fixed")),
        field_fraction=float(meta["preprocessing"].get("field_fraction", 1.0)),
        path=str(meta_path),
    )
    return model, meta


def check_store_matches(meta: dict[str, Any], store: Any) -> None:
    """Raise unless ``store`` has the size and presentation (profile, normalisation) the model expects.

    Parameters
    ----------
    meta : dict
        From :func:`load_exported`.
    store : ImageStore

    Raises
    ------
    GalvaeValueError
        Naming the store's and the model's values.
    """
    cfg: ModelConfig = meta["model_config"]
    if store.size != cfg.size:
        raise GalvaeValueError(
            f"image store {store.path} has size {store.size} but model {meta['path']} expects size {cfg.size}",
            store.size,
            (cfg.size,),
        )
    check_same_presentation(
        f"image store {store.path}",
        store.normalisation,
        store.profile,
        f"model {meta['path']}",
        meta["normalisation"],
        meta.get("profile", "fixed"),
        fraction_a=store.field_fraction,
        fraction_b=meta.get("field_fraction", 1.0),
    )


# --------------------------------------------------------------------------- Hugging Face Hub layout


def _json_file(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _store_facts(path: str) -> dict[str, Any]:
    from ..data.store import ImageStore

    facts: dict[str, Any] = {"name": Path(path).name}
    try:
        with ImageStore(path) as store:
            scale = store.pixel_scale_arcsec
            facts.update(
                survey=store.survey,
                images=len(store),
                pixel_scale_arcsec=scale if math.isfinite(scale) else None,
            )
    except (GalvaeFileError, OSError) as exc:
        log.info("training store %s not readable for the model card: %s", path, exc)
    return facts


def _final_metrics(path: Path) -> dict[str, Any]:
    """The last epoch's validation metrics and the lowest validation loss of a run's ``metrics.csv``."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error):
        return {}
    val = [r for r in rows if _number(r.get("val_loss")) is not None]
    train_rows = [r for r in rows if _number(r.get("train_loss_epoch")) is not None]
    out: dict[str, Any] = {}
    if val:
        last = val[-1]
        out["epoch"] = int(_number(last.get("epoch")) or 0) + 1
        for key in ("val_loss", "val_recon", "val_kl", "val_active_units"):
            value = _number(last.get(key))
            if value is not None:
                out[f"final_{key}"] = value
        out["best_val_loss"] = min(_number(r["val_loss"]) or math.inf for r in val)
    if train_rows:
        out["final_train_loss"] = _number(train_rows[-1]["train_loss_epoch"])
    return out


def run_summary(meta: dict[str, Any]) -> dict[str, Any]:
    """Training data and metrics of the run directory a model was loaded from, for its Hub config and card.

    Parameters
    ----------
    meta : dict
        From :func:`load_exported` (its ``path`` locates the run).

    Returns
    -------
    dict
        ``data`` (each store's file name, survey, number of images and pixel
        scale, as far as the store is still readable; ``n_train``/``n_val``
        from ``split.json``), ``train`` (the run's training configuration)
        and ``metrics`` (from ``metrics.csv``), each present only when found;
        empty when the model is not in a run directory (a model from the Hub
        already carries them in ``training``).
    """
    path = meta.get("path")
    if not path:
        return {}
    run = Path(path).parent
    config = _json_file(run / "config.json")
    if config is None or not isinstance(config.get("data"), dict):
        return {}
    out: dict[str, Any] = {}
    stores = config["data"].get("stores") or []
    data: dict[str, Any] = {"stores": [_store_facts(str(s)) for s in stores]}
    split = _json_file(run / "split.json")
    if split is not None:
        data["n_train"] = len(split.get("train_ids") or [])
        data["n_val"] = len(split.get("val_ids") or [])
    out["data"] = data
    if isinstance(config.get("train"), dict):
        keys = ("epochs", "batch_size", "lr", "seed", "val_fraction", "early_stopping", "precision")
        out["train"] = {k: config["train"][k] for k in keys if k in config["train"]}
    metrics = _final_metrics(run / "metrics.csv")
    if metrics:
        out["metrics"] = metrics
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(_fmt(v) for v in value)
    return "–" if value is None else str(value)


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


_PROFILE_TEXT = {
    "fixed": "every galaxy on the same field of view, stretched with the normalisation below",
    "gz-decals": "the Galaxy Zoo DECaLS presentation (Walmsley et al. 2022): a field of about 8.5 Petrosian "
    "R90 across, brought to S×S, with the Galaxy Zoo DECaLS asinh stretch",
}


def model_card(meta: dict[str, Any], *, name: str, repo_id: str | None = None, license: str | None = None) -> str:
    """The Hub model card (``README.md``) of a model description.

    Parameters
    ----------
    meta : dict
        The JSON description as written (``config.json``: plain dicts).
    name : str
        Title of the card.
    repo_id : str, optional
        Hub repository id shown in the usage example (default: a local
        directory).
    license : str, optional
        Hub licence identifier for the card's metadata (e.g. ``"cc-by-4.0"``).

    Returns
    -------
    str
        YAML metadata (library, pipeline tag, tags, licence) and Markdown:
        use, input (bands, size, presentation profile, normalisation),
        training data and survey, training, metrics, intended use and
        limitations, files, galvae version.
    """
    mc = meta.get("model_config") or {}
    pre = meta.get("preprocessing") or {}
    norm = pre.get("normalisation") or {}
    training = meta.get("training") or {}
    data = training.get("data") or {}
    metrics = training.get("metrics") or {}
    tcfg = training.get("train") or {}
    size, nl = pre.get("size", mc.get("size")), mc.get("latent_dim")
    profile = str(pre.get("profile", "fixed"))
    stores = data.get("stores") or [{"name": Path(str(s)).name} for s in training.get("stores") or []]
    surveys = sorted({str(s["survey"]) for s in stores if s.get("survey")})
    version = meta.get("galvae_version", "?")
    trained_with = training.get("galvae_version", version)

    lines = [
        *_card_front(surveys, license),
        *_card_use(name, trained_with, size, nl, repo_id or "path/to/this/directory"),
        *_card_input(size, profile, norm, float(pre.get("field_fraction", 1.0))),
        *_card_training_data(stores, data, surveys, meta.get("default_decoder")),
        *_card_training(mc, tcfg, training, trained_with),
        *_card_metrics(training, metrics),
        *_card_intended_use_and_files(meta, version),
    ]
    return "\n".join(lines)


def _card_front(surveys: list[str], license: str | None) -> list[str]:
    """The card's YAML metadata: library, pipeline tag, tags (with the surveys) and licence."""
    front = ["---", "library_name: galvae", "pipeline_tag: image-feature-extraction", "tags:"]
    for tag in ("galvae", "astronomy", "galaxies", "variational-autoencoder", "legacy-surveys", *surveys):
        front.append(f"- {_yaml_str(tag)}")
    if license:
        front.append(f"license: {_yaml_str(license)}")
    front.append("---")
    return front


def _card_use(name: str, trained_with: str, size: Any, nl: Any, where: str) -> list[str]:
    """The title, what the model does and how to load and use it."""
    return [
        "",
        f"# {name}",
        "",
        f"A convolutional variational autoencoder trained with galvae "
        f"{trained_with}: it encodes galaxy images in the g, r and z bands, {size}×{size} pixels, into "
        f"{nl} latent dimensions (Gaussian posterior means and log-variances) and decodes latents back "
        "into images.",
        "",
        "## Use",
        "",
        "```python",
        "import galvae",
        "",
        f'model = galvae.GalaxyVAE.from_pretrained("{where}")',
        f"mu = model.encode(images)        # images: float32 (N, 3, {size}, {size}), prepared as below -> (N, {nl})",
        "recon = model.reconstruct(images)",
        "mocks = model.generate(16, seed=0)",
        "```",
        "",
        "The files are safetensors weights and a JSON configuration: loading checks the format, the "
        "galvae version, the configuration and every weight's shape, and never unpickles.",
        "",
    ]


def _card_input(size: Any, profile: str, norm: dict[str, Any], field_fraction: float = 1.0) -> list[str]:
    """The input section: bands, size, presentation profile, field fraction and normalisation."""
    lines = [
        "## Input: presentation and normalisation",
        "",
        "Images must be prepared exactly as the training images were; galvae refuses a store of another "
        "size, profile or normalisation.",
        "",
        "| | |",
        "| --- | --- |",
        "| bands (channel order) | g, r, z |",
        f"| size | {size} × {size} pixels |",
        f"| presentation profile | `{profile}`: {_PROFILE_TEXT.get(profile, 'see galvae.data.presentation')} |",
        f"| normalisation | `{norm.get('kind', '?')}` |",
    ]
    if profile == "gz-decals":
        lines.insert(
            -1,
            f"| field fraction | {field_fraction:g} (the central {field_fraction:g} of each Galaxy Zoo field; "
            f"`galvae ingest --profile gz-decals --field-fraction {field_fraction:g}`) |",
        )
    if norm.get("kind") == "asinh":
        lines += [
            f"| softening (g, r, z) | {_fmt(norm.get('softening'))} nanomaggies |",
            f"| maximum (g, r, z) | {_fmt(norm.get('maximum'))} nanomaggies → 1 |",
            f"| floor | {_fmt(norm.get('floor', 0.0))} (× softening) |",
        ]
    return [*lines, "| pixel values | [0, 1] |", ""]


def _card_training_data(
    stores: list[dict[str, Any]], data: dict[str, Any], surveys: list[str], default_decoder: Any
) -> list[str]:
    """The training-data section: the image stores, the split, the surveys and, adapted, the decoder."""
    lines = ["## Training data", ""]
    if stores:
        lines += ["| image store | survey | images | pixel scale (″) |", "| --- | --- | --- | --- |"]
        for s in stores:
            lines.append(
                f"| {s['name']} | {s.get('survey', 'not recorded')} | {_fmt(s.get('images'))} "
                f"| {_fmt(s.get('pixel_scale_arcsec'))} |"
            )
        lines.append("")
    else:
        lines += ["Not recorded.", ""]
    if "n_train" in data:
        lines += [f"{data['n_train']} galaxies for training, {data.get('n_val', '?')} held out for validation.", ""]
    if surveys:
        lines += [f"Survey: {', '.join(surveys)}.", ""]
    if default_decoder:
        lines += [
            f"Domain-adapted model (`galvae adapt`): this is the encoder shared by the surveys with the "
            f"`{default_decoder}` decoder.",
            "",
        ]
    return lines


def _card_training(mc: dict[str, Any], tcfg: dict[str, Any], training: dict[str, Any], trained_with: str) -> list[str]:
    """The training section: architecture, reconstruction term, KL weight, optimiser and length."""
    lines = [
        "## Training",
        "",
        "| | |",
        "| --- | --- |",
        f"| architecture | channels {_fmt(mc.get('channels'))}, activation {mc.get('activation', '?')} |",
        f"| latent dimensions | {mc.get('latent_dim')} |",
        f"| reconstruction term | likelihood `{mc.get('likelihood', '?')}`, loss `{mc.get('loss', '?')}` |",
        f"| KL weight k | {_fmt(mc.get('kl_weight'))} |",
    ]
    if mc.get("noise_sigma") is not None:
        learned = " (learned)" if mc.get("learn_sigma") else ""
        lines.append(f"| decoder noise σ (g, r, z) | {_fmt(mc.get('noise_sigma'))}{learned} |")
    if mc.get("centre_window"):
        lines.append(f"| centre window (σ / image side) | {_fmt(mc.get('centre_window'))} |")
    if mc.get("colour_weight", 1.0) != 1.0:
        lines.append(f"| colour weight a (colour residuals × a) | {_fmt(mc.get('colour_weight'))} |")
    if mc.get("detail_weight", 1.0) != 1.0:
        lines.append(
            f"| detail weight b (fine residuals × b; blur σ / image side {_fmt(mc.get('detail_scale'))}) "
            f"| {_fmt(mc.get('detail_weight'))} |"
        )
    if mc.get("output", "relu") != "relu":
        lines.append(f"| decoder output | `{mc.get('output')}` (no final ReLU; clamped at 0 in eval) |")
    for key, label in (("batch_size", "batch size"), ("lr", "Adam learning rate"), ("seed", "seed")):
        value = tcfg.get(key, training.get(key))
        if value is not None:
            lines.append(f"| {label} | {_fmt(value)} |")
    for key, label in (("epochs", "epochs"), ("global_step", "optimiser steps")):
        if training.get(key) is not None:
            lines.append(f"| {label} | {_fmt(training[key])} |")
    return [*lines, f"| galvae version | {trained_with} |", ""]


def _card_metrics(training: dict[str, Any], metrics: dict[str, Any]) -> list[str]:
    """The metrics section: validation and training losses, active units (those recorded)."""
    lines = ["## Metrics", ""]
    best = training.get("best_val_loss", metrics.get("best_val_loss"))
    rows = [
        ("best validation loss (exported checkpoint)", best),
        ("final validation loss", metrics.get("final_val_loss")),
        ("final validation reconstruction term", metrics.get("final_val_recon")),
        ("final validation KL", metrics.get("final_val_kl")),
        ("active latent units (validation)", metrics.get("final_val_active_units")),
        ("final training loss", metrics.get("final_train_loss")),
    ]
    rows = [(k, v) for k, v in rows if v is not None]
    if rows:
        lines += [
            "Per galaxy, on the held-out validation galaxies; the loss is the reconstruction term plus k · KL.",
            "",
            "| metric | value |",
            "| --- | --- |",
        ]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in rows]
    else:
        lines.append("Not recorded.")
    return lines


def _card_intended_use_and_files(meta: dict[str, Any], version: str) -> list[str]:
    """The closing sections: intended use, limitations, the files and the exporting galvae version."""
    return [
        "",
        "## Intended use",
        "",
        "- Latent features of galaxy images for morphology classification, similarity search, outlier "
        "(anomaly) search and clustering, on images of the survey and presentation above.",
        "- Reconstructions and mock images drawn from the prior, for visual checks and tests.",
        "",
        "## Limitations",
        "",
        "- Images from another survey, pixel scale, PSF, depth, presentation profile or normalisation shift "
        "the latents (domain shift): compare or adapt (`galvae compare-domains`, `galvae adapt`) before "
        "mixing surveys.",
        "- Reconstructions are smoothed: fine structure (spiral arms, faint features) is partly lost, and a "
        "VAE's mocks are blurrier than real galaxies.",
        "- Not a photometric or morphological measurement: the latents are not calibrated physical "
        "quantities, and their axes carry no fixed meaning from one training to another.",
        "- Trained on the stores listed above only; simulated training data (galvae simulate) may differ "
        "from real images in ways the simulator does not model.",
        "",
        "## Files",
        "",
        f"- `{HUB_WEIGHTS}`: the weights (safetensors)",
        f"- `{HUB_CONFIG}`: architecture, preprocessing, galvae version and training facts (format "
        f"`{meta.get('format', FORMAT)}` version {meta.get('format_version', FORMAT_VERSION)})",
        f"- `{MODEL_CARD}`: this card",
        "",
        f"Exported with galvae {version}.",
        "",
    ]


def save_pretrained_files(
    model: Any,
    meta: dict[str, Any],
    directory: str | os.PathLike[str],
    *,
    name: str | None = None,
    repo_id: str | None = None,
    license: str | None = None,
) -> Path:
    """Write a model in the Hub layout: ``model.safetensors``, ``config.json`` and the card ``README.md``.

    The description's ``training`` is completed from the run directory
    (:func:`run_summary`), and the training stores are named by file name
    only (no local paths are published).  Files are written atomically;
    other files in ``directory`` are left alone.

    Parameters
    ----------
    model : galvae.models.VAE
    meta : dict
        From :func:`load_exported`.
    directory : path
        Created if missing.
    name : str, optional
        Title of the model card (default: the directory's name).
    repo_id, license : str, optional
        For the card (see :func:`model_card`).

    Returns
    -------
    Path
        ``directory``.

    Raises
    ------
    GalvaeFileError
        If ``directory`` holds a ``config.json`` that is not a galvae model
        description (a run directory's: it would be overwritten), or a
        ``model.json`` (a run or export whose weights would be replaced).
    """
    directory = Path(directory)
    config_path = directory / HUB_CONFIG
    if config_path.exists() and not is_hub_config(config_path):
        raise GalvaeFileError(
            config_path,
            "exists and is not a galvae model description (a run directory?); save the model to another directory",
        )
    if (directory / "model.json").exists():
        raise GalvaeFileError(
            directory / "model.json",
            f"this directory holds an exported model whose {HUB_WEIGHTS} would be replaced; "
            "save the model to another directory",
        )
    training = dict(meta.get("training") or {})
    summary = run_summary(meta)
    for key in ("data", "train", "metrics"):
        if key in summary:
            training[key] = summary[key]
    if isinstance(training.get("stores"), list):
        training["stores"] = [Path(str(s)).name for s in training["stores"]]
    training.setdefault("galvae_version", meta.get("galvae_version"))
    extra = {"default_decoder": meta["default_decoder"]} if meta.get("default_decoder") else None
    export_model(
        model,
        directory,
        normalisation=meta["normalisation"],
        profile=str(meta.get("profile", "fixed")),
        field_fraction=float(meta.get("field_fraction", 1.0)),
        training=training,
        name="model",
        extra=extra,
        description=HUB_CONFIG,
    )
    written = json.loads(config_path.read_text())
    card = model_card(written, name=name or directory.resolve().name, repo_id=repo_id, license=license)
    _atomic_write(directory / MODEL_CARD, lambda p: p.write_text(card, encoding="utf-8"))
    log.info("saved model in the Hugging Face Hub layout to %s", directory)
    return directory


def import_hub() -> Any:
    """``huggingface_hub``, imported on first use.

    Raises
    ------
    GalvaeError
        If it is not installed, saying how to install it.
    """
    try:
        import huggingface_hub
    except ImportError:
        raise GalvaeError(
            "the Hugging Face Hub needs the optional package huggingface_hub: "
            "pip install huggingface_hub (or pip install 'galvae[hub]')"
        ) from None
    return huggingface_hub


def download_pretrained(repo_id: str, **kwargs: Any) -> Path:
    """Download a Hub model repository (its config, weights and card); return the local snapshot directory.

    Parameters
    ----------
    repo_id : str
        ``"user/name"``.
    **kwargs
        ``revision``, ``cache_dir``, ``force_download``, ``local_files_only``,
        ``token`` for ``huggingface_hub.snapshot_download``.

    Raises
    ------
    GalvaeError
        If ``huggingface_hub`` is not installed.
    GalvaeFileError
        If the download fails (invalid id, no such repository, offline, ...),
        naming the id and the Hub's reason.
    """
    hub = import_hub()
    try:
        path = hub.snapshot_download(
            repo_id,
            repo_type="model",
            allow_patterns=[HUB_CONFIG, "*.safetensors", MODEL_CARD],
            library_name="galvae",
            library_version=__version__,
            **kwargs,
        )
    except Exception as exc:  # huggingface_hub's errors: invalid id, not found, gated, offline, HTTP, ...
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise GalvaeFileError(
            repo_id,
            f"not a local path, and no galvae model could be fetched from the Hugging Face Hub repository "
            f"of that id ({type(exc).__name__}: {msg})",
        ) from exc
    return Path(path)
