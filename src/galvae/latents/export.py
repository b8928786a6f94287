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
and valid, and that the weights fit it exactly.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from .._io import atomic_path
from .._version import __version__
from ..config import StretchConfig, config_from_dict, config_to_dict
from ..data.presentation import check_profile, check_same_presentation
from ..errors import GalvaeFileError, GalvaeValueError
from ..models.config import ModelConfig

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "export_model",
    "load_exported",
    "resolve_model_path",
    "decoder_path",
    "check_store_matches",
]

log = logging.getLogger(__name__)

FORMAT = "galvae-vae"
FORMAT_VERSION = 1


def _atomic_write(path: Path, write: Any) -> None:
    with atomic_path(path) as tmp:
        write(tmp)


def export_model(
    model: Any,
    directory: str | os.PathLike[str],
    *,
    normalisation: StretchConfig,
    profile: str = "fixed",
    training: dict[str, Any] | None = None,
    name: str = "model",
    extra: dict[str, Any] | None = None,
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
    training : dict, optional
        Informative JSON-able facts about the training run.
    name : str, default "model"
        Stem of the two files.
    extra : dict, optional
        Further JSON-able keys for the description (e.g. ``decoders`` of a
        domain-adapted run).

    Returns
    -------
    Path
        The JSON file.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / f"{name}.safetensors"
    meta_path = directory / f"{name}.json"
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

    Raises
    ------
    GalvaeFileError
        If no exported model is found there.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "model.json"
    elif p.suffix == ".safetensors":
        p = p.with_suffix(".json")
    if not p.is_file():
        raise GalvaeFileError(
            p, "no exported galvae model here (expected a run directory with model.json, or a model .json/.safetensors)"
        )
    return p


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
    )
