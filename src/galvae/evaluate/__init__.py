"""Evaluation: SSIM, the latent-dimension sweep, random forests with
baselines (Table 3), the two surveys before and after domain adaptation
(Table 4), k-σ outliers (the paper's Sections 4.1–4.2, 5 and Appendix A),
and survey-to-survey translation.

One module per idea: :mod:`~galvae.evaluate.ssim`, :mod:`~galvae.evaluate.sweep`,
:mod:`~galvae.evaluate.classify` (Table 3) and :mod:`~galvae.evaluate.domains`
(Table 4) on the shared per-feature protocol :mod:`~galvae.evaluate.protocol`,
:mod:`~galvae.evaluate.cnn_baseline`, :mod:`~galvae.evaluate.outliers`,
:mod:`~galvae.evaluate.translation` (survey-to-survey translation against
PSF-matching baselines), :mod:`~galvae.evaluate.latent_space` (active units, KL, PCA and t-SNE maps),
:mod:`~galvae.evaluate.reconstruction` (SSIM of stored reconstructions, per class),
:mod:`~galvae.evaluate.spirals` (arm count and pitch angle read from the pixels), :mod:`~galvae.evaluate.realism`
(simulated against real images), :mod:`~galvae.evaluate.inputs` (reading latents and catalogues) and
:mod:`~galvae.evaluate.paper` (the paper's published numbers).

``galvae.evaluate.ssim``, ``.sweep`` and ``.classify`` are those modules;
the functions of the same names are ``galvae.ssim``, ``galvae.sweep`` and
``galvae.classify`` (or ``galvae.evaluate.ssim.ssim`` …), and are not bound
here, where they would hide their modules.

The submodules import only numpy at module level (torch, scikit-learn and
matplotlib are loaded inside the functions), so importing this package is
cheap.
"""

from __future__ import annotations

from .classify import ClassifyResult
from .domains import DomainComparison, compare_domains
from .outliers import (
    OutlierResult,
    find_outliers,
    outlier_precision_recall,
    outliers_report,
)
from .protocol import classification_metrics
from .ssim import gaussian_window
from .sweep import SweepResult, find_knee, reconstruction_ssim
from .translation import TranslationResult, evaluate_translation

__all__ = [
    "ClassifyResult",
    "DomainComparison",
    "OutlierResult",
    "SweepResult",
    "TranslationResult",
    "classification_metrics",
    "compare_domains",
    "evaluate_translation",
    "find_knee",
    "find_outliers",
    "gaussian_window",
    "outlier_precision_recall",
    "outliers_report",
    "reconstruction_ssim",
]
