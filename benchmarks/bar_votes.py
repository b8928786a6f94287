"""Simulated bar votes against Galaxy Zoo DECaLS's: the plurality answer of featured, face-on galaxies.

Géron et al. (2021, MNRAS 507, 4389, abstract) find, in a volume-limited GZ DECaLS sample (0.01 < z < 0.05,
M_r < −18.96; 1867 galaxies with reliable bar classifications), strong bars 15.5 %, weak bars 28.1 % and no
bar 56.4 %.  This script draws the simulator's votes again from a simulation's catalogue (its truth and
measured visibilities, ``galvae.simulate.votes.vote_fractions``) with the bar question's recognition threshold
``visibility_half`` and answer model (``clarity``, ``unsure``) as given, and prints the share of each plurality
bar answer among the galaxies with featured fraction > 0.5 and not-edge-on fraction > 0.5, for all of them and
for the Géron-like volume-limited subsample (absolute magnitude without k-correction, flat ΛCDM, H₀ = 70,
Ωm = 0.3), beside the truth's shares of the same galaxies, and the shares of the bar labels Table 2's thresholds give
(``galvae.data.labels``; the paper's Table 2: 1782 strong, 103 weak, 3386 no bar).  Results: ``benchmarks/realism.md``, "Bar votes
against Géron et al. (2021) and the paper's Table 2".

    .venv/bin/python benchmarks/bar_votes.py galvae-demo/data/catalog.parquet
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pandas as pd
from astropy.cosmology import FlatLambdaCDM

from galvae.data.labels import labels_from_catalog
from galvae.evaluate.paper import TABLE2
from galvae.simulate.visibility import VISIBILITY_FEATURES, visibility_column
from galvae.simulate.votes import DEFAULT_QUESTION_MODELS, VoteConfig, vote_fractions

ANSWERS = ("strong", "weak", "no")
#: Géron et al. (2021): plurality shares of strong, weak and no bar.
GERON_2021 = (0.155, 0.281, 0.564)
#: The paper's Table 2: GZD-5 galaxies labelled strong (> 0.6), weak (> 0.6) and no bar (> 0.8).
PAPER_TABLE2 = tuple(TABLE2["bar"][a if a != "no" else "none"] for a in ANSWERS)


def bar_shares(cat: pd.DataFrame, seed: int = 105, **bar_model: object) -> dict[str, tuple[int, list[float]]]:
    """Plurality shares of the bar answers, votes drawn again with the bar question's model changed by ``bar_model``."""
    vcols = [visibility_column(f) for f in VISIBILITY_FEATURES]
    questions = tuple(
        dataclasses.replace(q, **bar_model) if q.question == "bar" else q for q in DEFAULT_QUESTION_MODELS
    )
    truth = cat[[c for c in cat.columns if c.startswith("truth_") or c == "defect"]]
    votes = vote_fractions(
        truth, np.random.default_rng([0, seed]), config=VoteConfig(questions=questions), visibility=cat[vcols]
    )
    distmod = FlatLambdaCDM(H0=70, Om0=0.3).distmod(cat["truth_redshift"].clip(lower=1e-4).to_numpy()).value
    absolute = cat["truth_mag_r"].to_numpy() - distmod
    z = cat["truth_redshift"].to_numpy()
    volume = (z > 0.01) & (z < 0.05) & (absolute < -18.96)
    face = (votes["smooth-or-featured_featured-or-disk_fraction"] > 0.5) & (votes["disk-edge-on_no_fraction"] > 0.5)
    out = {}
    for name, keep in (("featured, face-on", face.to_numpy()), ("… and volume-limited", face.to_numpy() & volume)):
        winner = votes.loc[keep, [f"bar_{a}_fraction" for a in ANSWERS]].to_numpy().argmax(axis=1)
        out[name] = (int(keep.sum()), [float(np.mean(winner == i)) for i in range(len(ANSWERS))])
        out[f"{name}: truth"] = (
            int(keep.sum()),
            [float(np.mean(cat["truth_bar"].to_numpy()[keep] == a)) for a in ANSWERS],
        )
    labels = labels_from_catalog(votes)["bar"].astype(object).dropna()
    out["Table 2's thresholds (labels)"] = (
        len(labels),
        [float(np.mean(labels == a)) for a in ("strong", "weak", "none")],
    )
    return out


def main(path: str) -> None:
    cat = pd.read_parquet(path)
    default = next(q for q in DEFAULT_QUESTION_MODELS if q.question == "bar")
    variants: list[tuple[str, dict[str, object]]] = [("the simulator's volunteers", {})]
    variants += [(f"visibility_half {h:g}", {"visibility_half": h}) for h in (15.0, 8.0, 4.0)]  # 15: revision 11
    variants += [
        ("clarity of weak 0.8", {"clarity": (default.clarity[0], 0.8, default.clarity[2])}),
        (
            "clarity 0.5 / 0.8 / 0.92, unsure 0.05 / 0.35 / 0.6",
            {"clarity": (0.5, 0.8, 0.92), "unsure": (0.05, 0.35, 0.6)},
        ),
    ]
    print(
        f"catalogue: {path}; bar visibility_half {default.visibility_half:g}, clarity {default.clarity}, unsure {default.unsure}"
    )
    print("| bar question | sample | N | strong | weak | no |")
    print("|---|---|---|---|---|---|")
    print(
        "| Géron et al. (2021) | volume-limited GZ DECaLS | 1867 | " + " | ".join(f"{s:.3f}" for s in GERON_2021) + " |"
    )
    total = sum(PAPER_TABLE2)
    shares = " | ".join(f"{n / total:.3f}" for n in PAPER_TABLE2)
    print(f"| the paper's Table 2 | Table 2's thresholds (labels) | {total} | {shares} |")
    for label, change in variants:
        for sample, (n, shares) in bar_shares(cat, **change).items():
            print(f"| {label} | {sample} | {n} | " + " | ".join(f"{s:.3f}" for s in shares) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "galvae-demo/data/catalog.parquet")
