"""Evaluation: SSIM, the latent-dimension sweep, random forests with
baselines (Table 3), and k-σ outliers (the paper's Sections 4.1–4.2 and
Appendix A).

The submodules import only numpy at module level (torch, scikit-learn and
matplotlib are loaded inside the functions), so importing this package is
cheap.  The functions are bound here after their submodules, so
``galvae.evaluate.ssim`` / ``.sweep`` / ``.classify`` name the functions.
"""

from __future__ import annotations

from .classify import ClassifyResult, classification_metrics, classify
from .outliers import (
    OutlierResult,
    find_outliers,
    outlier_precision_recall,
    outliers_report,
)
from .ssim import gaussian_window, ssim
from .sweep import (
    SweepResult,
    find_knee,
    first_branch_category,
    reconstruction_ssim,
    sweep,
)

__all__ = [
    "ClassifyResult",
    "OutlierResult",
    "SweepResult",
    "classification_metrics",
    "classify",
    "find_knee",
    "find_outliers",
    "first_branch_category",
    "gaussian_window",
    "outlier_precision_recall",
    "outliers_report",
    "reconstruction_ssim",
    "ssim",
    "sweep",
]
