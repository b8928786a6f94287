"""The paper's published numbers, kept once: what galvae's products are compared with.

"Dimensionality reduction of galaxy images with VAE and domain adaptation"
(``shared/reference/paper-vae-da-galaxy-morphology.txt``).  Tables are quoted
verbatim, in per cent, and keyed by galvae's Table 2 feature names
(:data:`galvae.data.labels.TABLE2_RULES`): How round → ``how_rounded``,
Edge-on → ``edge_on``, Bulge Shape → ``edge_on_bulge``, Bar → ``bar``, Have
Arm → ``has_arms``, Arm Tightness → ``arm_tightness``, Arm Count →
``arm_count``, Bulge Size → ``bulge_size``, Merger → ``merger``.  Their other
keys are the column names of galvae's own tables (``table3.csv``,
``table4.csv``), so a run's row and the paper's line up by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import GalvaeValueError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..data.labels import LabelConfig

__all__ = [
    "KNEE_LATENT_DIM",
    "LATENT_MSE_RANGE",
    "N_GALAXIES",
    "N_OVERLAP",
    "OUTLIER_COUNT",
    "OUTLIER_FRACTION",
    "OUTLIER_SIGMA",
    "SSIM_RANGE",
    "compare_table2",
    "majority_rate",
    "TABLE2",
    "TABLE3",
    "TABLE4",
    "TABLE4_MIN_GALAXIES",
]

#: GZ DECaLS galaxies the paper used (Section 2: "approximately 314,000").
N_GALAXIES = 314_000

#: The latent dimension NL the paper chose at the knee of SSIM against NL (Section 4.1, Figs. 3 and 4).
KNEE_LATENT_DIM = 40

#: SSIM of the reconstructions at NL = 40, for all morphology types (Section 6).
SSIM_RANGE = (0.80, 0.90)

#: Table 2 ("Selection criteria and sample sizes for 26 galaxy samples"): the number of GZ DECaLS
#: galaxies in each class, keyed by galvae's feature and class names
#: (:data:`galvae.data.labels.TABLE2_RULES`; the paper's "Others" of edge-on is ``other``, "No Bulge"
#: ``none``, "Merging" ``merger``).  What the paper's forests had to beat: always answering the largest
#: class (:func:`majority_rate`).
TABLE2: dict[str, dict[str, int]] = {
    "how_rounded": {"round": 10992, "in-between": 22324, "cigar": 775},
    "edge_on": {"edge-on": 8377, "other": 47918},
    "edge_on_bulge": {"rounded": 3776, "boxy": 71, "none": 1046},
    "bar": {"none": 3386, "weak": 103, "strong": 1782},
    "has_arms": {"yes": 34670, "no": 2880},
    "arm_tightness": {"tight": 1235, "medium": 315, "loose": 583},
    "arm_count": {"1": 83, "2": 9224, "3": 327, "4": 11},
    "bulge_size": {"none": 891, "small": 6179, "moderate": 7724, "large": 297},
    "merger": {"merger": 4182, "none": 73897},
}


def majority_rate(feature: str) -> float:
    """The paper's majority rate of a Table 2 feature: its largest class over all its galaxies.

    The accuracy of always answering the commonest class, computed from
    :data:`TABLE2`'s sizes (the paper does not give it); its 70/30 test split
    holds these proportions up to sampling noise.  Table 3's accuracy minus
    this is what the paper's forests gained: e.g. bar 76.21 % against 64.2 %,
    has arms 91.91 % against 92.3 %.

    Parameters
    ----------
    feature : str
        A key of :data:`TABLE2` (``"how_rounded"``, ``"bar"``, ...).

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    GalvaeValueError
        For a feature Table 2 does not have.
    """
    if feature not in TABLE2:
        raise GalvaeValueError("paper Table 2 feature", feature, tuple(TABLE2))
    sizes = TABLE2[feature].values()
    return max(sizes) / sum(sizes)


def compare_table2(labels: pd.DataFrame, config: LabelConfig | None = None) -> pd.DataFrame:
    """Each Table 2 class's share of its feature's labelled galaxies, beside the paper's.

    The paper's Table 2 counts GZD-5 galaxies per class at its thresholds;
    its shares (a class's count over its feature's) are what the Galaxy Zoo
    DECaLS volunteers' votes select, and set the majority rate each Table 3
    forest must beat (:func:`majority_rate`).  A labelled sample -- real
    Galaxy Zoo votes, or the simulator's -- is compared with them class by
    class, and per feature by the total variation distance
    ``0.5 * sum |share - paper_share|`` (0: the same mix of classes; 1: no
    class in common).

    Parameters
    ----------
    labels : DataFrame
        Output of :func:`galvae.labels_from_catalog` (or the same table read
        back from Parquet, CSV or FITS): one column per Table 2 feature,
        missing = no label.
    config : LabelConfig, optional
        The configuration the labels were made with; default the paper's
        thresholds.  With other thresholds the shares answer another
        question than the paper's, which the ``threshold`` column shows.

    Returns
    -------
    DataFrame
        One row per class of :data:`TABLE2`, in Table 2 order: ``feature``,
        ``class``, ``threshold``, ``count`` (int), ``share`` (of the
        feature's labelled galaxies; NaN when it has none), ``paper_count``,
        ``paper_share``, ``total_variation`` (of the feature, repeated on
        each of its rows; NaN when it has no labels), ``majority``
        (whether the class is the feature's largest here) and
        ``paper_majority`` (in the paper).

    Raises
    ------
    GalvaeKeyError
        If ``labels`` lacks a feature column.
    GalvaeValueError
        If ``labels`` is not a DataFrame or holds a class Table 2 does not
        define.

    Examples
    --------
    >>> import galvae
    >>> labels = galvae.labels_from_catalog(galvae.read_catalog("galvae-demo/data/catalog.parquet"))
    >>> cmp = galvae.compare_table2(labels)                     # doctest: +SKIP
    >>> cmp.groupby("feature", sort=False).total_variation.first()  # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    from ..data.labels import label_counts

    counts = label_counts(labels, config)
    rows = []
    for feature, group in counts.groupby("feature", sort=False):
        published = TABLE2.get(str(feature))
        if published is None:  # a feature a custom config adds: nothing to compare with
            continue
        n = int(group["count"].sum())
        paper_n = sum(published.values())
        share = group["count"].to_numpy(dtype=np.float64) / n if n else np.full(len(group), np.nan)
        paper_share = np.array([published.get(str(c), 0) for c in group["class"]], dtype=np.float64) / paper_n
        tv = 0.5 * float(np.abs(share - paper_share).sum()) if n else float("nan")
        largest = group["count"].to_numpy() == group["count"].max() if n else np.zeros(len(group), bool)
        for (_, r), s, ps, big in zip(group.iterrows(), share, paper_share, largest, strict=True):
            rows.append(
                (
                    str(feature),
                    str(r["class"]),
                    float(r["threshold"]),
                    int(r["count"]),
                    float(s),
                    int(published.get(str(r["class"]), 0)),
                    float(ps),
                    tv,
                    bool(big),
                    bool(published.get(str(r["class"]), 0) == max(published.values())),
                )
            )
    columns = [
        "feature",
        "class",
        "threshold",
        "count",
        "share",
        "paper_count",
        "paper_share",
        "total_variation",
        "majority",
        "paper_majority",
    ]
    return pd.DataFrame(rows, columns=columns)


#: Table 3 ("Nine Random forests classification result of GZD-5 morphological feature
#: questions"): random forests on the 40 VAE latents of DECaLS images, per cent.
TABLE3: dict[str, dict[str, float]] = {
    "how_rounded": {"n_classes": 3, "accuracy": 90.68, "precision": 90.68, "recall": 90.68, "f1": 90.68},
    "edge_on": {"n_classes": 2, "accuracy": 84.25, "precision": 98.78, "recall": 84.43, "f1": 91.04},
    "edge_on_bulge": {"n_classes": 3, "accuracy": 84.08, "precision": 84.08, "recall": 84.08, "f1": 84.08},
    "bar": {"n_classes": 3, "accuracy": 76.21, "precision": 76.21, "recall": 76.21, "f1": 76.21},
    "has_arms": {"n_classes": 2, "accuracy": 91.91, "precision": 73.38, "recall": 96.68, "f1": 83.44},
    "arm_tightness": {"n_classes": 3, "accuracy": 75.84, "precision": 75.84, "recall": 75.84, "f1": 75.84},
    "arm_count": {"n_classes": 4, "accuracy": 86.32, "precision": 86.32, "recall": 86.32, "f1": 86.32},
    "bulge_size": {"n_classes": 4, "accuracy": 82.60, "precision": 82.60, "recall": 82.60, "f1": 82.60},
    "merger": {"n_classes": 2, "accuracy": 96.36, "precision": 99.90, "recall": 96.45, "f1": 98.15},
}

#: Galaxies seen by both DECaLS and BASS+MzLS (Section 5).
N_OVERLAP = 3434

#: Paired latent MSE of the same galaxy in the two surveys before DA, "from ~0.05 to 10" (Section 5, Fig. 5).
LATENT_MSE_RANGE = (0.05, 10.0)

#: Table 4 keeps the features with "larger than 100" overlap galaxies: at least 101.
TABLE4_MIN_GALAXIES = 101

#: Table 4 ("Comparison of classification accuracy before and after VAE domain adaptation"),
#: per cent: ``source_before`` is DECaLS before DA, ``target_before`` BASS+MzLS before DA,
#: ``target_after`` BASS+MzLS after DA (no DECaLS-after-DA column); ``total`` is the
#: paper's "Total Count" of overlap galaxies with the feature.
TABLE4: dict[str, dict[str, float]] = {
    "how_rounded": {
        "n_classes": 3,
        "total": 112,
        "source_before": 76.47,
        "target_before": 70.59,
        "target_after": 79.41,
    },
    "edge_on": {
        "n_classes": 2,
        "total": 1229,
        "source_before": 87.53,
        "target_before": 86.72,
        "target_after": 89.43,
    },
    "bar": {"n_classes": 3, "total": 168, "source_before": 82.53, "target_before": 70.59, "target_after": 86.27},
    "has_arms": {
        "n_classes": 2,
        "total": 642,
        "source_before": 82.90,
        "target_before": 76.68,
        "target_after": 82.38,
    },
    "arm_tightness": {
        "n_classes": 3,
        "total": 240,
        "source_before": 65.28,
        "target_before": 56.94,
        "target_after": 63.89,
    },
    "bulge_size": {
        "n_classes": 3,
        "total": 179,
        "source_before": 73.58,
        "target_before": 66.04,
        "target_after": 77.36,
    },
    "merger": {"n_classes": 2, "total": 1135, "source_before": 97.36, "target_before": 97.65, "target_after": 98.53},
}

#: The outlier threshold of Appendix A: k = 8 standard deviations in any latent.
OUTLIER_SIGMA = 8.0
#: Galaxies the paper flagged at 8σ (Section 6).
OUTLIER_COUNT = 1308
#: Their share of the GZ DECaLS images: 0.417 %.
OUTLIER_FRACTION = 0.00417
