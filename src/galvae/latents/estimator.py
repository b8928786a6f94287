"""``VAETransformer``: the galaxy VAE as a scikit-learn transformer.

It follows scikit-learn's estimator conventions, so pipelines, cross-validation
and grid searches need no galvae-specific knowledge::

    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import Pipeline

    pipe = Pipeline([("vae", galvae.VAETransformer(latent_dim=16, epochs=20)), ("rf", RandomForestClassifier())])
    cross_val_score(pipe, images, labels, cv=3)
    GridSearchCV(pipe, {"vae__latent_dim": [8, 16, 32]}, cv=3).fit(images, labels)

Input
-----
``X`` holds images with bands (g, r, z), in either of two layouts:

* ``(N, 3, S, S)`` -- the layout of galvae's image stores and of
  :class:`~galvae.GalaxyVAE`;
* ``(N, 3·S·S)`` -- the same images flattened in C order
  (``images.reshape(len(images), -1)``), the 2-D layout the rest of
  scikit-learn expects (``ColumnTransformer``, ``FunctionTransformer``, ...).
  S is inferred from the number of columns; no parameter is needed.

S must be a multiple of 8 from 8 to 256 and the values must lie in [0, 1]
(an image store's normalisation ``"none"``: stretch the images first, e.g.
with :func:`galvae.preprocess`).  ``transform`` returns the latent means
(N, latent_dim); ``inverse_transform`` decodes latents into images in the
layout ``fit`` was given.

Training
--------
``fit`` takes the same path as ``galvae.train`` / ``galvae train``: X is
written to a temporary image store (:func:`galvae.write_store`), trained on
with :func:`galvae.train` (Lightning, the same split, checkpoints and
export), and the exported model is loaded with :meth:`galvae.GalaxyVAE.load`
(safetensors, validated, no unpickling); the temporary files are removed.
The fitted model is ``model_``, a :class:`~galvae.GalaxyVAE`, which can be
shared with ``model_.save_pretrained(DIR)``.
"""

from __future__ import annotations

import logging
import math
import numbers
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from .._validate import check_choice, check_float, check_int
from ..errors import GalvaeValueError

__all__ = ["VAETransformer"]

log = logging.getLogger(__name__)

_LIKELIHOODS = ("gaussian", "sum", "mean")
_LOSSES = ("mse", "mae")
_SIZES = tuple(range(8, 257, 8))
_MAX_SEED = np.iinfo(np.int32).max


def _validate_data(estimator: Any, X: Any, reset: bool) -> Any:
    """scikit-learn's ``validate_data`` (>= 1.6) or ``BaseEstimator._validate_data`` (older)."""
    try:
        from sklearn.utils.validation import validate_data
    except ImportError:  # scikit-learn < 1.6
        return estimator._validate_data(X, reset=reset, dtype=[np.float32, np.float64], ensure_min_samples=1)
    return validate_data(estimator, X, reset=reset, dtype=[np.float32, np.float64], ensure_min_samples=1)


def _is_4d(X: Any) -> bool:
    """Whether X is in the (N, 3, S, S) layout (a DataFrame never is)."""
    if hasattr(X, "columns"):
        return False
    ndim = getattr(X, "ndim", None)
    if ndim is None and isinstance(X, list | tuple):
        try:
            ndim = np.ndim(X)
        except ValueError:  # ragged nested sequences: left to check_array's error
            return False
    return ndim == 4


class VAETransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Galaxy images -> latent means of the paper's VAE, trained with galvae's Lightning path.

    Parameters
    ----------
    latent_dim : int, default 40
        NL, the number of latent dimensions (output columns of ``transform``).
    epochs : int, default 10
        Training epochs.
    batch_size : int, default 64
        Images per optimiser step (and per forward pass in ``transform``).
    lr : float, default 1e-3
        Adam learning rate.
    likelihood : {"gaussian", "sum", "mean"}, default "gaussian"
        Reconstruction term (see :func:`galvae.train`).
    loss : {"mse", "mae"}, default "mse"
        Reconstruction loss.
    kl_weight : float, default 1.0
        k, the weight of the KL term.
    noise_sigma : sequence of 3 float or None, default None
        σ per band of the ``"gaussian"`` decoder; None estimates it from the
        training images' sky pixels.
    validation_fraction : float, default 0.1
        Fraction of the training images held out to choose the best epoch
        (the exported checkpoint), as in ``galvae train``; in (0, 1).
    early_stopping : int or None, default None
        Patience in epochs on the validation loss; None trains all epochs.
    device : str, default "cpu"
        Torch device for training and inference: ``"cpu"``, ``"cuda"``,
        ``"cuda:N"`` or ``"mps"``.
    random_state : int, RandomState instance or None, default None
        Seeds the split, the initial weights, the data order and the
        sampling noise.  An int is used as galvae's ``seed`` (so
        ``random_state=0`` trains exactly as ``galvae.train(..., seed=0)``);
        None or a ``RandomState`` draws the seed from
        :func:`sklearn.utils.check_random_state`.  Note that Lightning's
        ``seed_everything`` also seeds the global numpy, torch and ``random``
        generators during ``fit``.
    verbose : int, default 0
        0: quiet; 1 or more: Lightning's progress bar.

    Attributes
    ----------
    model_ : GalaxyVAE
        The trained model (exported and reloaded through safetensors).
    n_features_in_ : int
        3·S·S, the number of values per image.
    feature_names_in_ : ndarray of str
        Column names, only when ``fit`` was given a DataFrame.
    image_shape_ : tuple of int
        (3, S, S).
    input_ndim_ : int
        4 or 2: the layout of ``fit``'s ``X``; ``inverse_transform``
        returns images in it.
    n_iter_ : int
        Epochs trained.
    best_val_loss_ : float
        Lowest validation loss (the exported epoch's).
    seed_ : int
        The seed the training used.

    See Also
    --------
    galvae.train : The same training on image stores, into a run directory.
    galvae.GalaxyVAE : The model, for numpy-in numpy-out use.

    Examples
    --------
    >>> vae = VAETransformer(latent_dim=8, epochs=5, random_state=0)  # doctest: +SKIP
    >>> z = vae.fit_transform(images)                                 # doctest: +SKIP
    >>> recon = vae.inverse_transform(z)                              # doctest: +SKIP
    """

    def __init__(
        self,
        latent_dim: int = 40,
        *,
        epochs: int = 10,
        batch_size: int = 64,
        lr: float = 1e-3,
        likelihood: str = "gaussian",
        loss: str = "mse",
        kl_weight: float = 1.0,
        noise_sigma: Sequence[float] | None = None,
        validation_fraction: float = 0.1,
        early_stopping: int | None = None,
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self.latent_dim = latent_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.likelihood = likelihood
        self.loss = loss
        self.kl_weight = kl_weight
        self.noise_sigma = noise_sigma
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ scikit-learn protocol
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.input_tags.positive_only = True  # pixel values in [0, 1]
        tags.transformer_tags.preserves_dtype = ["float32"]  # latents are float32 whatever the input
        return tags

    @property
    def _n_features_out(self) -> int:
        """Output columns, for :meth:`get_feature_names_out` (``vaetransformer0``, ...)."""
        return int(self.model_.latent_dim)

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> dict[str, Any]:
        """Validate the constructor's parameters (in ``fit``, as scikit-learn does); return train's options."""

        opts: dict[str, Any] = {
            "latent_dim": check_int("latent_dim", self.latent_dim, minimum=1),
            "epochs": check_int("epochs", self.epochs, minimum=1),
            "batch_size": check_int("batch_size", self.batch_size, minimum=1),
            "lr": check_float("lr", self.lr, minimum=0, inclusive=False),
            "kl_weight": check_float("kl_weight", self.kl_weight, minimum=0),
            "likelihood": check_choice("likelihood", self.likelihood, _LIKELIHOODS),
            "loss": check_choice("reconstruction loss", self.loss, _LOSSES),
        }
        if self.noise_sigma is not None:
            try:
                sigma = tuple(float(v) for v in self.noise_sigma)
            except (TypeError, ValueError):
                sigma = ()
            if len(sigma) != 3 or not all(math.isfinite(v) and v > 0 for v in sigma):
                raise GalvaeValueError("noise_sigma must be None or 3 positive numbers (g, r, z)", self.noise_sigma)
            opts["noise_sigma"] = sigma
        opts["val_fraction"] = check_float(
            "validation_fraction", self.validation_fraction, minimum=0, maximum=1, inclusive=False
        )
        if self.early_stopping is not None:
            opts["early_stopping"] = check_int("early_stopping", self.early_stopping, minimum=1)
        opts["progress"] = check_int("verbose", self.verbose, minimum=0) > 0
        opts["accelerator"], opts["devices"] = self._accelerator()
        return opts

    def _accelerator(self) -> tuple[str, Any]:
        import torch

        accepted = "'cpu', 'cuda', 'cuda:N' or 'mps'"
        if not isinstance(self.device, str):
            raise GalvaeValueError("device must be a torch device name", self.device, accepted)
        try:
            dev = torch.device(self.device)
        except (RuntimeError, ValueError):
            raise GalvaeValueError("device must be a torch device name", self.device, accepted) from None
        if dev.type == "cpu":
            return "cpu", 1
        if dev.type == "cuda":
            return "gpu", [dev.index or 0]
        if dev.type == "mps":
            return "mps", 1
        raise GalvaeValueError("device must be a torch device name", self.device, accepted)

    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            if not 0 <= rs <= _MAX_SEED:
                raise GalvaeValueError(f"random_state must be None, a RandomState or an int in [0, {_MAX_SEED}]", rs)
            return int(rs)
        try:
            return int(check_random_state(rs).randint(_MAX_SEED))
        except ValueError:
            raise GalvaeValueError(
                f"random_state must be None, a RandomState or an int in [0, {_MAX_SEED}]", rs
            ) from None

    def _images(self, X: ArrayLike, *, reset: bool) -> NDArray[np.float32]:
        """Validate X (either layout) and return float32 images (N, 3, S, S).

        scikit-learn's own validation runs first (so sparse, empty, complex,
        object, NaN and infinite input get its usual errors and
        ``n_features_in_`` / ``feature_names_in_`` its usual handling), then
        galvae's: at least 2 images to fit, no negative values (reported in
        scikit-learn's words), the image shape, values at most 1.
        """
        name = type(self).__name__
        four_d = _is_4d(X)
        if four_d:
            arr = check_array(X, allow_nd=True, dtype=[np.float32, np.float64], ensure_min_samples=1, input_name="X")
        else:
            arr = _validate_data(self, X, reset=reset)
        n = arr.shape[0]
        if reset and n < 2:
            raise GalvaeValueError(
                f"{name}.fit needs at least 2 images in X, one held out for validation (n_samples = {n})"
            )
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0:
            raise GalvaeValueError(
                f"Negative values in data passed to {name}: X must hold pixel values in [0, 1] "
                "(stretch the images first, e.g. with galvae.preprocess)",
                lo,
                "values in [0, 1]",
            )
        if four_d:
            shape = arr.shape[1:]
            if shape[0] != 3 or shape[1] != shape[2] or shape[1] not in _SIZES:
                raise GalvaeValueError(
                    "X must be images (N, 3, S, S) with bands g, r, z and S a multiple of 8 from 8 to 256",
                    arr.shape,
                )
            n_features = 3 * shape[1] * shape[2]
            if reset:
                self.n_features_in_ = n_features
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            elif n_features != self.n_features_in_:
                raise GalvaeValueError(
                    f"X has images of shape {shape}, but {name} was fitted on images of shape {self.image_shape_}",
                    arr.shape,
                )
            images = arr
        else:
            n_features = arr.shape[1]
            s = math.isqrt(n_features // 3)
            if 3 * s * s != n_features or s not in _SIZES:
                raise GalvaeValueError(
                    "X must be images (N, 3, S, S) or flattened images (N, 3*S*S) with S a multiple of 8 "
                    f"from 8 to 256 (192, 768, 1728, 3072, ... columns; n_features = {n_features})",
                    arr.shape,
                )
            images = arr.reshape(n, 3, s, s)
        if hi > 1.0:
            raise GalvaeValueError(
                f"X passed to {name} must hold pixel values in [0, 1] (stretch the images first, e.g. with "
                "galvae.preprocess)",
                hi,
                "values in [0, 1]",
            )
        images = np.ascontiguousarray(images, dtype=np.float32)
        # torch.from_numpy warns on read-only arrays (memory maps, shared buffers): hand it a copy
        return images if images.flags.writeable else images.copy()

    # ------------------------------------------------------------------ API
    def fit(self, X: ArrayLike, y: Any = None) -> VAETransformer:
        """Train the VAE on X through ``galvae.train``.

        Parameters
        ----------
        X : array_like, shape (N, 3, S, S) or (N, 3·S·S)
            Images in [0, 1], at least 2 (one is held out for validation).
        y : None
            Ignored (unsupervised); accepted for pipelines.

        Returns
        -------
        self : VAETransformer
            Fitted.

        Raises
        ------
        GalvaeValueError
            On an invalid parameter (naming it), X of the wrong shape or
            values outside [0, 1], or fewer than 2 images.
        ValueError
            scikit-learn's own errors for empty, NaN/infinite, complex or
            object input; ``TypeError`` for sparse input.
        """
        from ..config import StretchConfig
        from ..data.store import write_store
        from ..training.train import train
        from .model import GalaxyVAE

        opts = self._check_params()
        images = self._images(X, reset=True)
        seed = self._seed()
        with tempfile.TemporaryDirectory(prefix="galvae-vaetransformer-") as tmp:
            store = write_store(
                Path(tmp) / "X.h5",
                images,
                [f"x{i:09d}" for i in range(images.shape[0])],
                survey="sklearn",
                normalisation=StretchConfig(kind="none"),
            )
            result = train(store, Path(tmp) / "run", seed=seed, **opts)
            model = GalaxyVAE.load(result.run_dir, device=self.device)
        model.meta["path"] = model.path = ""  # the temporary run directory is gone
        self.model_ = model
        self.image_shape_ = tuple(int(v) for v in images.shape[1:])
        self.input_ndim_ = 4 if _is_4d(X) else 2
        self.n_iter_ = int(result.epochs)
        self.best_val_loss_ = float(result.best_val_loss)
        self.seed_ = seed
        log.info(
            "VAETransformer fitted on %d images %s: %d epochs, best validation loss %.4g",
            images.shape[0],
            self.image_shape_,
            self.n_iter_,
            self.best_val_loss_,
        )
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.float32]:
        """Latent means μ of X.

        Parameters
        ----------
        X : array_like, shape (N, 3, S, S) or (N, 3·S·S)
            Images in [0, 1] of the fitted size (either layout).

        Returns
        -------
        ndarray of float32, shape (N, latent_dim)

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        GalvaeValueError
            On X of another image size or values outside [0, 1].
        """
        check_is_fitted(self)
        images = self._images(X, reset=False)
        return self.model_.encode(images, batch_size=int(self.batch_size))

    def inverse_transform(self, X: ArrayLike) -> NDArray[np.float32]:
        """Decode latents into images.

        Parameters
        ----------
        X : array_like, shape (N, latent_dim)
            Latents (e.g. from :meth:`transform`).

        Returns
        -------
        ndarray of float32, shape (N, 3, S, S) or (N, 3·S·S)
            In the layout ``fit`` was given (``input_ndim_``).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        GalvaeValueError
            On latents of the wrong width.
        """
        check_is_fitted(self)
        z = check_array(X, dtype=[np.float32, np.float64], ensure_min_samples=1, input_name="X")
        if z.shape[1] != self.model_.latent_dim:
            raise GalvaeValueError(
                f"X of inverse_transform must be latents (N, {self.model_.latent_dim})",
                z.shape,
            )
        images = self.model_.decode(z.astype(np.float32), batch_size=int(self.batch_size))
        return images if self.input_ndim_ == 4 else images.reshape(images.shape[0], -1)
