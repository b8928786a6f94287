"""The self-contained HTML report of a galvae run (:func:`write_report`)."""

from __future__ import annotations

from .html import (
    EMBEDDINGS,
    PAPER_OUTLIER_FRACTION,
    PAPER_TABLE3,
    PAPER_TABLE4,
    ReportInputs,
    collect_versions,
    galaxy_classes,
    write_report,
)

__all__ = [
    "EMBEDDINGS",
    "PAPER_OUTLIER_FRACTION",
    "PAPER_TABLE3",
    "PAPER_TABLE4",
    "ReportInputs",
    "collect_versions",
    "galaxy_classes",
    "write_report",
]
