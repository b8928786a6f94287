"""Where the galaxies really sit in latent space: a Gaussian mixture of their latent means.

A VAE's decoder is trained on latents drawn from the *posteriors* of real
galaxies; their union (the aggregate posterior) need not fill the prior
N(0, I).  With a calibrated (``gaussian``) likelihood it does not: the demo's
NL = 40 model holds ~170 nats per galaxy, its latent means have standard
deviations of 0.3-0.9 per dimension and an offset up to 2 (2026-12-05), so
most prior draws land where no galaxy was encoded and decode to faint
noise-like squiggles.  Drawing mocks from a density fitted to the latent
means of real galaxies instead ("ex-post density estimation", Ghosh et al.
2020, ICLR, "From variational to deterministic autoencoders", which uses a
10-component full-covariance Gaussian mixture) decodes to galaxies.

:class:`LatentDensity` is that mixture, as a scikit-learn-style estimator:
parameters in the constructor, :meth:`LatentDensity.fit` on latent means
(N, NL), :meth:`LatentDensity.sample`.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validate import check_float, check_int
from ..errors import GalvaeValueError

__all__ = ["LatentDensity"]

log = logging.getLogger(__name__)


class LatentDensity:
    """A Gaussian mixture fitted to latent means, to draw new latents from.

    Parameters
    ----------
    n_components : int, default 10
        Mixture components (Ghosh et al. 2020 use 10); fewer when there are
        fewer than ``5 × n_components`` galaxies.
    covariance : {"full", "diag"}, default "full"
    reg_covar : float, default 1e-4
        Added to each component's covariance diagonal (latent units²), as in
        :class:`sklearn.mixture.GaussianMixture`.
    max_points : int, default 20000
        At most this many galaxies (a seeded random subset) are fitted.
    seed : int, default 0
        Seeds the subset and the mixture's initialisation.

    Attributes
    ----------
    weights_ : ndarray, shape (K,)
    means_ : ndarray, shape (K, NL)
    covariances_ : ndarray, shape (K, NL, NL)
        (diagonal matrices for ``covariance="diag"``)
    n_fitted_ : int
        Galaxies the mixture was fitted on.
    latent_dim_ : int
    """

    def __init__(
        self,
        n_components: int = 10,
        covariance: str = "full",
        reg_covar: float = 1e-4,
        max_points: int = 20000,
        seed: int = 0,
    ) -> None:
        self.n_components = n_components
        self.covariance = covariance
        self.reg_covar = reg_covar
        self.max_points = max_points
        self.seed = seed

    def fit(self, latents: ArrayLike) -> LatentDensity:
        """Fit the mixture to latent means.

        Parameters
        ----------
        latents : array_like, shape (N, NL)
            Latent means μ of real galaxies, encoded by the model whose decoder
            will render the draws.

        Returns
        -------
        self

        Raises
        ------
        GalvaeValueError
            On bad parameters, latents that are not (N, NL) with N ≥ 2, or
            non-finite latents.
        """
        from sklearn.mixture import GaussianMixture

        k = check_int("n_components", self.n_components, minimum=1)
        if self.covariance not in ("full", "diag"):
            raise GalvaeValueError("covariance must be 'full' or 'diag'", self.covariance)
        reg = check_float("reg_covar", self.reg_covar, minimum=0)
        max_points = check_int("max_points", self.max_points, minimum=2)
        mu = np.asarray(latents, dtype=np.float64)
        if mu.ndim != 2 or mu.shape[0] < 2:
            raise GalvaeValueError("latents must be an (N, NL) array of at least 2 galaxies' latent means", mu.shape)
        if not np.isfinite(mu).all():
            raise GalvaeValueError("latents hold non-finite values", int((~np.isfinite(mu)).sum()))
        rng = np.random.default_rng(self.seed)
        if len(mu) > max_points:
            mu = mu[np.sort(rng.choice(len(mu), max_points, replace=False))]
        k_used = max(1, min(k, len(mu) // 5))
        if k_used < k:
            log.info("%d galaxies: fitting %d mixture components instead of %d", len(mu), k_used, k)
        gm = GaussianMixture(
            k_used, covariance_type=self.covariance, reg_covar=reg, random_state=int(self.seed), max_iter=200
        ).fit(mu)
        self.weights_ = gm.weights_
        self.means_ = gm.means_
        cov = gm.covariances_
        self.covariances_ = cov if self.covariance == "full" else np.stack([np.diag(c) for c in cov])
        self._chol = np.linalg.cholesky(self.covariances_)
        self.n_fitted_ = int(len(mu))
        self.latent_dim_ = int(mu.shape[1])
        return self

    def sample(self, n: int, seed: int | None = 0) -> NDArray:
        """``n`` latents drawn from the fitted mixture, shape (n, NL), float32.

        Raises
        ------
        GalvaeValueError
            If not fitted, or on ``n`` < 1.
        """
        if not hasattr(self, "means_"):
            raise GalvaeValueError("LatentDensity is not fitted: call fit(latents) first")
        n = check_int("n", n, minimum=1)
        rng = np.random.default_rng(seed)
        comp = rng.choice(len(self.weights_), size=n, p=self.weights_ / self.weights_.sum())
        eps = rng.standard_normal((n, self.latent_dim_))
        z = self.means_[comp] + np.einsum("nij,nj->ni", self._chol[comp], eps)
        return z.astype(np.float32)
