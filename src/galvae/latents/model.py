"""``GalaxyVAE``: the trained model for notebooks (numpy in, numpy out)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from tqdm.auto import tqdm

from .._validate import check_int
from ..config import StretchConfig
from ..errors import GalvaeValueError
from ..models.config import ModelConfig
from ..models.layout import to_network_layout, to_network_module
from .export import check_store_matches, download_pretrained, import_hub, load_exported

__all__ = ["INFERENCE_PRECISIONS", "GalaxyVAE", "resolve_inference_precision"]

#: Arithmetic of :class:`GalaxyVAE`'s inference: ``"auto"`` resolves to one of the other two.
INFERENCE_PRECISIONS: tuple[str, ...] = ("32", "bf16-mixed", "auto")


def resolve_inference_precision(precision: object, device: Any = "cpu") -> str:
    """``"32"`` or ``"bf16-mixed"`` for :attr:`GalaxyVAE.precision`.

    Parameters
    ----------
    precision : {"32", "bf16-mixed", "auto"}
        ``"auto"`` is ``"bf16-mixed"`` on a CPU with native bfloat16
        (:func:`galvae.training.precision.resolve_precision`), else ``"32"``.
    device : str or torch.device, default "cpu"
        Where the weights are; any non-CPU device resolves ``"auto"`` to ``"32"``.

    Raises
    ------
    GalvaeValueError
        On another value.
    """
    from ..training.precision import resolve_precision

    if not isinstance(precision, str) or precision not in INFERENCE_PRECISIONS:
        raise GalvaeValueError("precision (inference) not recognised", precision, INFERENCE_PRECISIONS)
    if precision != "auto":
        return precision
    on_cpu = str(getattr(device, "type", device)).startswith("cpu")
    return resolve_precision("auto", "cpu") if on_cpu else "32"


log = logging.getLogger(__name__)


class GalaxyVAE:
    """A trained VAE loaded from a run directory or an exported model.

    Images are numpy arrays (N, 3, S, S) (or one (3, S, S) image) in the
    normalisation of the store the model was trained on; they are processed
    in batches, under ``torch.inference_mode()``, on the model's device, in
    eval mode (the decoder sees μ, no sampling).  Results are float32 numpy
    arrays.

    Use :meth:`load` to create one::

        model = GalaxyVAE.load("runs/decals64")
        mu = model.encode(images)                  # (N, NL)
        mu, logvar = model.encode(images, return_logvar=True)
        recon = model.reconstruct(images)          # (N, 3, S, S)
        mocks = model.generate(16, seed=1)         # (16, 3, S, S)
        as_bass = model.translate(images, to="bass_mzls")   # domain-adapted runs: the other survey's view

    Attributes
    ----------
    network : galvae.models.VAE
        The torch module.
    config : ModelConfig
    size : int
    latent_dim : int
    normalisation : StretchConfig
    meta : dict
        The exported model's description (``model.json``).
    path : str
    precision : {"32", "bf16-mixed"}
        Arithmetic of encoding and decoding (:data:`INFERENCE_PRECISIONS`):
        fp32 by default; ``"bf16-mixed"`` runs the convolutions and matrix
        products under ``torch.autocast`` in bfloat16 (results stay float32
        arrays), faster on CPUs with native bfloat16 (``benchmarks/run.md``)
        and within bfloat16's rounding (~3 significant digits) of fp32.
        Set by :meth:`load` (``precision=``) or assigned.
    """

    def __init__(self, network: Any, meta: dict[str, Any]) -> None:
        # channels-last (NHWC) weights and inputs (galvae.models.layout): oneDNN's convolutions run 1.9x
        # (encode) to 2.6x (reconstruct) faster on this project's CPU than in NCHW, to float32 rounding
        self.network = to_network_module(network.eval())
        self._precision = "32"
        self.meta = meta
        self.config: ModelConfig = meta["model_config"]
        self.normalisation: StretchConfig = meta["normalisation"]
        #: presentation profile of the images the model was trained on (:mod:`galvae.data.presentation`)
        self.profile: str = str(meta.get("profile", "fixed"))
        #: the part of the Galaxy Zoo field those images keep (gz-decals; 1 = all of it)
        self.field_fraction: float = float(meta.get("field_fraction", 1.0))
        self.path = str(meta.get("path", ""))

    @property
    def precision(self) -> str:
        """``"32"`` or ``"bf16-mixed"``: the arithmetic of :meth:`encode`, :meth:`decode` and the rest."""
        return self._precision

    @precision.setter
    def precision(self, value: str) -> None:
        self._precision = resolve_inference_precision(value, self.device)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        device: str = "cpu",
        decoder: str | None = None,
        precision: str = "32",
    ) -> GalaxyVAE:
        """Load from a run directory, ``model.json`` or ``model.safetensors``.

        Parameters
        ----------
        path : path
        device : str, default "cpu"
        decoder : str, optional
            For a domain-adapted run (``galvae adapt``): the survey whose
            decoder reconstructs and generates (the encoder is shared by all
            surveys); default the source survey's.
        precision : {"32", "bf16-mixed", "auto"}, default "32"
            Arithmetic of inference (the :attr:`precision` attribute);
            ``"auto"`` is ``"bf16-mixed"`` on a CPU with native bfloat16,
            else ``"32"`` (as training's ``--precision auto``).

        Raises
        ------
        GalvaeFileError
            If no valid exported model is found.
        GalvaeValueError
            On a ``decoder`` the run does not have, or an unknown ``precision``.
        """
        network, meta = load_exported(path, device=device, decoder=decoder)
        vae = cls(network, meta)
        vae.precision = precision
        return vae

    # ------------------------------------------------------------------ Hugging Face Hub format
    def save_pretrained(
        self,
        save_directory: str | os.PathLike[str],
        *,
        model_name: str | None = None,
        repo_id: str | None = None,
        license: str | None = None,
    ) -> Path:
        """Save in the Hugging Face Hub layout: ``model.safetensors``, ``config.json``, ``README.md``.

        The model card (``README.md``) describes the training data and
        survey, the presentation profile and normalisation the inputs need,
        the run's metrics, the galvae version, and the intended use and
        limits; when the model was loaded from a run directory these are
        read from it (stores, ``split.json``, ``metrics.csv``), and the
        stores are named by file name only.  Load it again with
        :meth:`from_pretrained` (or :meth:`load`); the command line's
        ``galvae export RUN DIR`` does the same.

        Parameters
        ----------
        save_directory : path
            Created if missing; other files in it are left alone.
        model_name : str, optional
            Title of the model card (default: the directory's name).
        repo_id : str, optional
            Hub repository id shown in the card's usage example.
        license : str, optional
            Hub licence identifier for the card's metadata, e.g. ``"cc-by-4.0"``.

        Returns
        -------
        Path
            ``save_directory``.

        Raises
        ------
        GalvaeFileError
            If ``save_directory`` holds a run's ``config.json`` or an exported
            ``model.json`` (they would be overwritten or contradicted).
        """
        from .export import save_pretrained_files

        return save_pretrained_files(
            self.network, self.meta, save_directory, name=model_name, repo_id=repo_id, license=license
        )

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike[str],
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        force_download: bool = False,
        local_files_only: bool = False,
        token: str | bool | None = None,
        device: str = "cpu",
    ) -> GalaxyVAE:
        """Load a model saved by :meth:`save_pretrained`, from a directory or a Hugging Face Hub repository.

        A path that exists is read locally (a Hub-layout directory, a run
        directory, or a model ``.json``/``.safetensors``); anything else is
        taken as a Hub repository id (``"user/name"``) and downloaded with
        ``huggingface_hub.snapshot_download`` (only ``config.json``,
        ``*.safetensors`` and ``README.md``; cached as the Hub does).  The
        configuration, format version, galvae version and every weight's
        shape are checked before use; nothing is unpickled.

        Parameters
        ----------
        pretrained_model_name_or_path : str or path
            Local directory or file, or Hub repository id.
        revision, cache_dir, force_download, local_files_only, token
            As for ``huggingface_hub.snapshot_download`` (Hub ids only).
        device : str, default "cpu"
            Where to put the weights.

        Returns
        -------
        GalaxyVAE

        Raises
        ------
        GalvaeFileError
            If no valid model is found there, or the download fails (naming
            the repository and why).
        GalvaeError
            If a Hub id is given and ``huggingface_hub`` is not installed.
        """
        local = Path(pretrained_model_name_or_path)
        if not local.exists():
            local = download_pretrained(
                str(pretrained_model_name_or_path),
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                local_files_only=local_files_only,
                token=token,
            )
        return cls.load(local, device=device)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str = "Upload galvae model",
        private: bool | None = None,
        token: str | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        model_name: str | None = None,
        license: str | None = None,
    ) -> Any:
        """Upload the model to a Hugging Face Hub repository (created if missing), as :meth:`save_pretrained` writes it.

        Parameters
        ----------
        repo_id : str
            ``"user/name"`` or ``"organisation/name"``.
        commit_message : str, default "Upload galvae model"
        private : bool, optional
            Visibility of a repository created here (default: the Hub's).
        token : str, optional
            Hub token (default: ``HF_TOKEN`` or the cached ``hf auth login``).
        revision : str, optional
            Branch to push to.
        create_pr : bool, default False
            Open a pull request instead of committing.
        model_name, license : str, optional
            For the model card.

        Returns
        -------
        huggingface_hub.CommitInfo
            The commit (its ``commit_url``, ``oid``, ...).

        Raises
        ------
        GalvaeError
            If ``huggingface_hub`` is not installed.
        GalvaeValueError
            On a ``repo_id`` that is not a string.
        """
        import tempfile

        hub = import_hub()
        if not isinstance(repo_id, str) or not repo_id:
            raise GalvaeValueError("repo_id must be a Hub repository id such as 'user/name'", repo_id)
        api = hub.HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        with tempfile.TemporaryDirectory(prefix="galvae-hub-") as tmp:
            folder = self.save_pretrained(
                Path(tmp) / repo_id.split("/")[-1], model_name=model_name, repo_id=repo_id, license=license
            )
            info = api.upload_folder(
                repo_id=repo_id,
                folder_path=folder,
                commit_message=commit_message,
                repo_type="model",
                revision=revision,
                create_pr=create_pr,
            )
        log.info("pushed %s to the Hugging Face Hub repository %s", self, repo_id)
        return info

    @property
    def decoders(self) -> tuple[str, ...]:
        """Surveys with a decoder of their own (domain-adapted runs); empty for a plain run."""
        dec = self.meta.get("decoders")
        if not isinstance(dec, dict):
            return ()
        return tuple(self.meta.get("surveys") or sorted(dec))

    @property
    def decoder(self) -> str | None:
        """The survey whose decoder this model holds (domain-adapted runs), else None."""
        return self.meta.get("default_decoder")

    def with_decoder(self, survey: str) -> GalaxyVAE:
        """The same run with ``survey``'s decoder (self when it already has it).

        Raises
        ------
        GalvaeValueError
            If the run has no decoder for ``survey``.
        """
        if survey == self.decoder:
            return self
        return GalaxyVAE.load(self.path, device=str(self.device), decoder=survey, precision=self.precision)

    # ------------------------------------------------------------------ properties
    @property
    def size(self) -> int:
        """Image side S the model expects."""
        return self.config.size

    @property
    def latent_dim(self) -> int:
        """NL."""
        return self.config.latent_dim

    @property
    def device(self) -> Any:
        """torch.device of the weights."""
        return next(self.network.parameters()).device

    def to(self, device: Any) -> GalaxyVAE:
        """Move the weights to ``device`` (e.g. "cuda"); returns self."""
        self.network.to(device)
        return self

    def __repr__(self) -> str:
        dec = f", decoder={self.decoder!r}" if self.decoder else ""
        return f"GalaxyVAE({self.path!r}, size={self.size}, latent_dim={self.latent_dim}{dec}, device={self.device})"

    # ------------------------------------------------------------------ helpers
    def _images(self, images: ArrayLike) -> tuple[NDArray, bool]:
        arr = np.asarray(images, dtype=np.float32)
        single = arr.ndim == 3
        if single:
            arr = arr[None]
        s = self.size
        if arr.ndim != 4 or arr.shape[1:] != (3, s, s):
            raise GalvaeValueError(
                f"images must have shape (N, 3, {s}, {s}) or (3, {s}, {s}) for this model", arr.shape
            )
        return arr, single

    def _latents(self, z: ArrayLike) -> NDArray:
        arr = np.asarray(z, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] != self.latent_dim:
            raise GalvaeValueError(f"latents must have shape (N, {self.latent_dim})", arr.shape)
        return arr

    @staticmethod
    def _check_batch(batch_size: int) -> int:
        return check_int("batch_size", batch_size, minimum=1)

    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """Context of every forward pass: ``torch.inference_mode()`` and, for ``"bf16-mixed"``, autocast.

        For code that calls :attr:`network` directly (e.g. :func:`galvae.encode_store`) and should follow
        :attr:`precision` as :meth:`encode` does.
        """
        import torch

        mixed = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16-mixed")
        with torch.inference_mode(), mixed:
            yield

    def _batched(self, fn: Any, arr: NDArray, batch_size: int, progress: bool, desc: str) -> list[tuple[NDArray, ...]]:
        import torch

        batch_size = self._check_batch(batch_size)
        dev = self.device
        out = []
        with self.inference():
            for i in tqdm(
                range(0, arr.shape[0], batch_size), desc=desc, unit="batch", disable=not progress, leave=False
            ):
                x = to_network_layout(torch.from_numpy(np.ascontiguousarray(arr[i : i + batch_size])).to(dev))
                out.append(tuple(t.float().contiguous().cpu().numpy() for t in fn(x)))
        return out

    # ------------------------------------------------------------------ API
    def encode(
        self, images: ArrayLike, return_logvar: bool = False, batch_size: int = 256, progress: bool = False
    ) -> NDArray | tuple[NDArray, NDArray]:
        """Latent means μ (N, NL) of images (N, 3, S, S).

        Parameters
        ----------
        images : array_like, shape (N, 3, S, S) or (3, S, S)
        return_logvar : bool, default False
            Also return log σ² (N, NL).
        batch_size : int, default 256
        progress : bool, default False

        Raises
        ------
        GalvaeValueError
            On images of the wrong shape.
        """
        arr, single = self._images(images)
        parts = self._batched(self.network.encode, arr, batch_size, progress, "encode")
        mu = np.concatenate([p[0] for p in parts]) if parts else np.empty((0, self.latent_dim), np.float32)
        lv = np.concatenate([p[1] for p in parts]) if parts else np.empty((0, self.latent_dim), np.float32)
        if single:
            mu, lv = mu[0], lv[0]
        return (mu, lv) if return_logvar else mu

    def decode(self, z: ArrayLike, batch_size: int = 256, progress: bool = False) -> NDArray:
        """Images (N, 3, S, S) decoded from latents z (N, NL)."""
        arr = self._latents(z)
        parts = self._batched(lambda t: (self.network.decode(t),), arr, batch_size, progress, "decode")
        s = self.size
        return np.concatenate([p[0] for p in parts]) if parts else np.empty((0, 3, s, s), np.float32)

    def reconstruct(self, images: ArrayLike, batch_size: int = 256, progress: bool = False) -> NDArray:
        """Decoded latent means of images: (N, 3, S, S) (or (3, S, S) for one image)."""
        arr, single = self._images(images)
        parts = self._batched(
            lambda t: (self.network.decode(self.network.encode(t)[0]),), arr, batch_size, progress, "reconstruct"
        )
        s = self.size
        out = np.concatenate([p[0] for p in parts]) if parts else np.empty((0, 3, s, s), np.float32)
        return out[0] if single else out

    def translator(self, to: str) -> GalaxyVAE:
        """The run with survey ``to``'s decoder, checked as a translation target.

        Raises
        ------
        GalvaeValueError
            If the run is not domain-adapted or has no decoder for ``to``.
        """
        if not self.decoders:
            raise GalvaeValueError(
                f"translation needs a domain-adapted run (galvae adapt) with one decoder per survey; {self.path} "
                "has a single decoder",
                to,
            )
        if to not in self.decoders:
            raise GalvaeValueError("to must be a survey this run has a decoder for", to, self.decoders)
        cache = self.__dict__.setdefault("_translators", {})  # loaded once per target survey
        if to not in cache:
            cache[to] = self.with_decoder(to)
        target = cache[to]
        if target is not self and target.device != self.device:
            target.to(self.device)
        return target

    def translate(self, images: ArrayLike, to: str, batch_size: int = 256, progress: bool = False) -> NDArray:
        """What another survey would have seen: encode, then decode with survey ``to``'s decoder.

        A domain-adapted run (``galvae adapt``) has one encoder shared by its
        surveys and one decoder per survey; the images' latent means μ are
        decoded by ``to``'s decoder, whatever survey the images come from
        (translating to their own survey is a reconstruction).

        Parameters
        ----------
        images : array_like, shape (N, 3, S, S) or (3, S, S)
            In the normalisation the run was trained on.
        to : str
            Target survey, one of :attr:`decoders`.
        batch_size : int, default 256
        progress : bool, default False

        Returns
        -------
        ndarray, shape (N, 3, S, S) (or (3, S, S) for one image)

        Raises
        ------
        GalvaeValueError
            If the run is not domain-adapted, ``to`` is not one of its
            decoders, or the images have the wrong shape.
        """
        target = self.translator(to)
        arr, single = self._images(images)
        encoder, decoder = self.network, target.network  # the encoder is the same in both

        def step(t: Any) -> tuple[Any]:
            return (decoder.decode(encoder.encode(t)[0]),)

        parts = self._batched(step, arr, batch_size, progress, f"translate to {to}")
        s = self.size
        out = np.concatenate([p[0] for p in parts]) if parts else np.empty((0, 3, s, s), np.float32)
        return out[0] if single else out

    def sample_prior(self, n: int, seed: int | None = None) -> NDArray:
        """n draws z ~ N(0, I), shape (n, NL), from ``np.random.default_rng(seed)``."""
        n = check_int("n", n, minimum=1)
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)

    def generate(
        self,
        n: int,
        seed: int | None = None,
        batch_size: int = 256,
        progress: bool = False,
        density: Any = None,
    ) -> NDArray:
        """Mock images (n, 3, S, S): decoded draws from the prior N(0, I), or from ``density``.

        Parameters
        ----------
        n : int
        seed : int, optional
        batch_size : int, default 256
        progress : bool, default False
        density : LatentDensity, optional
            A :class:`~galvae.latents.density.LatentDensity` fitted to this
            model's latent means of real galaxies: draws from where galaxies
            are encoded instead of from the prior, most of whose draws decode
            to faint noise with a calibrated likelihood.

        Raises
        ------
        GalvaeValueError
            On a density of another latent dimension.
        """
        if density is None:
            z = self.sample_prior(n, seed)
        else:
            if getattr(density, "latent_dim_", None) != self.latent_dim:
                raise GalvaeValueError(
                    f"density must be fitted to {self.latent_dim}-dimensional latents of this model",
                    getattr(density, "latent_dim_", None),
                )
            z = density.sample(n, seed)
        return self.decode(z, batch_size=batch_size, progress=progress)

    def interpolate(
        self,
        a: ArrayLike | str,
        b: ArrayLike | str,
        steps: int = 8,
        store: Any = None,
        return_latents: bool = False,
    ) -> NDArray | tuple[NDArray, NDArray]:
        """Decode points on the straight line between two latents.

        Parameters
        ----------
        a, b : latent (NL,), image (3, S, S), or id (str, with ``store``)
            End points; images and ids are encoded to their μ.
        steps : int, default 8
            Number of points, both ends included (at least 2).
        store : ImageStore or path, optional
            Where the ids are looked up.
        return_latents : bool, default False
            Also return the latents (steps, NL).

        Returns
        -------
        ndarray, shape (steps, 3, S, S)

        Raises
        ------
        GalvaeValueError
            On a bad end point, too few steps, or an id without a store.
        GalvaeKeyError
            On an id not in the store.
        """
        steps = check_int("steps", steps, minimum=2)
        za, zb = self._endpoint(a, store), self._endpoint(b, store)
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        z = ((1 - t) * za[None] + t * zb[None]).astype(np.float32)
        imgs = self.decode(z)
        return (imgs, z) if return_latents else imgs

    def _endpoint(self, p: Any, store: Any) -> NDArray:
        if isinstance(p, str):
            if store is None:
                raise GalvaeValueError("an id as end point needs store=", p)
            from ..data.store import ImageStore

            st = store if isinstance(store, ImageStore) else ImageStore(store)
            check_store_matches(self.meta, st)
            return self.encode(st.read(int(st.index_of([p])[0])))
        arr = np.asarray(p, dtype=np.float32)
        if arr.shape == (self.latent_dim,):
            return arr
        if arr.shape == (3, self.size, self.size):
            return self.encode(arr)
        raise GalvaeValueError(
            f"end point must be an id, a latent ({self.latent_dim},) or an image (3, {self.size}, {self.size})",
            arr.shape,
        )
