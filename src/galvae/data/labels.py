"""Galaxy Zoo DECaLS (GZD-5) vote fractions and the paper's Table 2 labels.

This module owns the GZD-5 decision-tree schema used everywhere in galvae
(the simulator writes its fraction columns from it).
"""

from __future__ import annotations

__all__ = [
    "GZ_DECALS_QUESTIONS",
    "GZ_DECALS_PARENTS",
    "fraction_column",
    "vote_column",
]

#: GZD-5 questions and their answers, in the spelling of the Zenodo GZ DECaLS
#: catalogue (Walmsley et al. 2022).
GZ_DECALS_QUESTIONS: dict[str, tuple[str, ...]] = {
    "smooth-or-featured": ("smooth", "featured-or-disk", "artifact"),
    "disk-edge-on": ("yes", "no"),
    "has-spiral-arms": ("yes", "no"),
    "bar": ("strong", "weak", "no"),
    "bulge-size": ("dominant", "large", "moderate", "small", "none"),
    "how-rounded": ("round", "in-between", "cigar-shaped"),
    "edge-on-bulge": ("boxy", "none", "rounded"),
    "spiral-winding": ("tight", "medium", "loose"),
    "spiral-arm-count": ("1", "2", "3", "4", "more-than-4", "cant-tell"),
    "merging": ("none", "minor-disturbance", "major-disturbance", "merger"),
}

#: For each question, the (question, answer) a volunteer must have given to be
#: asked it; None for questions asked of every galaxy.
GZ_DECALS_PARENTS: dict[str, tuple[str, str] | None] = {
    "smooth-or-featured": None,
    "how-rounded": ("smooth-or-featured", "smooth"),
    "disk-edge-on": ("smooth-or-featured", "featured-or-disk"),
    "edge-on-bulge": ("disk-edge-on", "yes"),
    "bar": ("disk-edge-on", "no"),
    "has-spiral-arms": ("disk-edge-on", "no"),
    "bulge-size": ("disk-edge-on", "no"),
    "spiral-winding": ("has-spiral-arms", "yes"),
    "spiral-arm-count": ("has-spiral-arms", "yes"),
    "merging": None,
}


def fraction_column(question: str, answer: str) -> str:
    """Zenodo GZ DECaLS column name, e.g. ``smooth-or-featured_smooth_fraction``."""
    return f"{question}_{answer}_fraction"


def vote_column(question: str, answer: str) -> str:
    """galaxy-datasets "dr5 ortho" vote-count column, e.g. ``smooth-or-featured-dr5_smooth``."""
    return f"{question}-dr5_{answer}"
