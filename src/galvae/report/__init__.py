"""The self-contained HTML report of a galvae run (:func:`write_report`)."""

from __future__ import annotations

from .html import EMBEDDINGS, ReportInputs, collect_versions, write_report

__all__ = ["EMBEDDINGS", "ReportInputs", "collect_versions", "write_report"]
