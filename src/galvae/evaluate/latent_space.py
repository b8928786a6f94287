"""How much the latents hold, and the latent space in two dimensions.

:func:`latent_information` counts the active units and the KL divergence of
a latent catalogue; :func:`pca_embedding` and :func:`tsne_embedding` map the
latent means to two dimensions (the report's latent maps).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["ACTIVE_VARIANCE", "latent_information", "pca_embedding", "tsne_embedding"]

log = logging.getLogger(__name__)

#: A latent is active when the variance of its mean over galaxies exceeds this.
ACTIVE_VARIANCE = 0.01


def latent_information(latents: Any) -> dict[str, Any]:
    """Active units and KL divergence per galaxy of a latent catalogue.

    Parameters
    ----------
    latents : path or DataFrame
        A latent catalogue (:func:`galvae.encode_store`): ``mu_<j>`` and,
        for the KL, ``logvar_<j>`` columns.

    Returns
    -------
    dict
        ``latent_dim``; ``active_units`` (latents whose mean varies over
        galaxies by more than :data:`ACTIVE_VARIANCE`); with the log-variances,
        ``kl_total`` (mean KL divergence from N(0, I) per galaxy, nats) and
        ``kl_per_dim`` (its mean per latent, ndarray).
    """
    from .inputs import latent_matrix, load_latents

    lat, _ = load_latents(latents)
    mu = latent_matrix(lat)
    lv_cols = [c for c in lat.columns if str(c).startswith("logvar_")]
    out: dict[str, Any] = {"latent_dim": mu.shape[1], "active_units": int((mu.var(axis=0) > ACTIVE_VARIANCE).sum())}
    if len(lv_cols) == mu.shape[1]:
        lv = lat[sorted(lv_cols, key=lambda c: int(str(c).split("_")[1]))].to_numpy(np.float64)
        kl = -0.5 * (1 + lv - mu**2 - np.exp(lv))
        out["kl_total"] = float(kl.sum(axis=1).mean())
        out["kl_per_dim"] = kl.mean(axis=0)
    return out


def pca_embedding(x: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``x`` on their first two principal components.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Latent means, n >= 2.
    seed : int, default 0

    Returns
    -------
    xy : ndarray, shape (n, 2)
    explained : ndarray, shape (2,)
        Fraction of the variance along each component.
    """
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=seed)
    xy = pca.fit_transform(x)
    return xy, pca.explained_variance_ratio_


#: t-SNE maps computed in this process (key: dtype, shape, seed and digest of the input).
_TSNE_MEMO: OrderedDict[str, tuple[np.ndarray, float]] = OrderedDict()
#: How many maps :data:`_TSNE_MEMO` keeps (a 2000-galaxy map is 32 kB).
_TSNE_MEMO_SIZE = 4


def _tsne_iterations(n: int) -> int:
    """Gradient-descent iterations of a t-SNE of ``n`` points: 600 up to 5000 points, scikit-learn's 1000 above.

    Measured on the demo's 2000 latents (2026-12-05): 600 iterations end at a KL divergence 1.8 % above
    1000's with the same trustworthiness (10 neighbours: 0.9633 against 0.9630), in 4.9 s instead of 8.0 s.
    Larger maps take longer to settle, so they keep the default.
    """
    return 600 if n <= 5000 else 1000


def tsne_embedding(x: np.ndarray, seed: int = 0) -> tuple[np.ndarray, float]:
    """A t-SNE (scikit-learn, PCA initialisation, one thread, :func:`_tsne_iterations`) of the rows of ``x``.

    One thread because torch and scikit-learn each bring an OpenMP runtime, and
    their idle threads spinning against each other made a small t-SNE take 100x
    longer after training in the same process.

    Parameters
    ----------
    x : ndarray, shape (n, d)
        Latent means, n >= 3.
    seed : int, default 0

    Returns
    -------
    xy : ndarray, shape (n, 2)
    perplexity : float
        ``min(30, max(2, (n - 1) / 3))``, which scikit-learn requires below n.

    Notes
    -----
    The last few maps are kept in memory, keyed by the bytes of ``x`` and the
    seed, so that a process asking twice for the same map (``galvae demo``'s
    explorer page and its report: ~6 s for 2000 galaxies) computes it once.
    Each call returns its own copy.
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = np.ascontiguousarray(x)
    key = f"{x.dtype.str}{x.shape}{int(seed)}:" + hashlib.sha256(x.view(np.uint8)).hexdigest()
    if key in _TSNE_MEMO:
        _TSNE_MEMO.move_to_end(key)
        xy, perplexity = _TSNE_MEMO[key]
        log.debug("t-SNE of %d rows: reused from this process", len(x))
        return xy.copy(), perplexity
    perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3.0)))
    with threadpool_limits(limits=1):
        xy = TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=seed, max_iter=_tsne_iterations(len(x))
        ).fit_transform(x)
    _TSNE_MEMO[key] = (xy.copy(), perplexity)
    while len(_TSNE_MEMO) > _TSNE_MEMO_SIZE:
        _TSNE_MEMO.popitem(last=False)
    return xy, perplexity
