"""Bulge size as the Galaxy Zoo image shows it: each disc's bulge share of the presented light, and the votes again.

The simulated volunteers answer GZD-5's bulge-size question with the truth's bulge-to-total class (B/T < 0.03,
0.03-0.15, 0.15-0.35, 0.35-0.55, > 0.55: none, small, moderate, large, dominant), recognised as far as the bulge
is visible.  Volunteers judge the presented image, whose asinh stretch compresses the bright centre.  This script
measures, per featured disc of a simulation's catalogue that was asked the question, the bulge's share of the
presented r-band light (Galaxy Zoo DECaLS presentation: the 424-pixel image of ``presentation_field``'s field,
stretched as ``GZ_DECALS_STRETCH``, noiseless, each galaxy's own PSF; the bulge drawn or left out, nothing else
changed), prints its median per true class, then draws the votes again (``vote_fractions``, the simulator's seed
stream) with the true bulge-size class taken from the presented share under each set of class cuts given, and
prints Table 2's bulge-size mix beside the paper's (``galvae.compare_table2``).  Results: ``benchmarks/realism.md``,
"Bulge size from the presented image".

    .venv/bin/python benchmarks/bulge_presented.py galvae-demo [--cuts 0.03,0.15,0.35,0.55 ...] [--max N]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from galvae.data.labels import labels_from_catalog
from galvae.data.preprocess import stretch
from galvae.data.presentation import GZ_DECALS_PIXELS, GZ_DECALS_STRETCH
from galvae.evaluate.paper import compare_table2
from galvae.simulate.render import galaxy_profiles
from galvae.simulate.surveys import resolve_survey
from galvae.simulate.visibility import VISIBILITY_FEATURES, _Drawer, visibility_column
from galvae.simulate.votes import vote_fractions

CLASSES = ("none", "small", "moderate", "large", "dominant")


def presented_shares(cat: pd.DataFrame, seed: int, field_fraction: float) -> pd.Series:
    """Bulge share of the presented r-band light (above the sky's level) per asked featured disc, by catalogue row."""
    survey = resolve_survey("decals")
    sky = float(stretch(np.zeros((3, 1, 1)), GZ_DECALS_STRETCH)[1, 0, 0])
    asked = (
        (cat["bulge-size_total-votes"] > 0)
        & (cat["truth_smooth_or_featured"] == "featured-or-disk")
        & cat["truth_bulge_to_total"].notna()
    )
    out = {}
    for i, row in cat[asked].iterrows():
        r = row.to_dict()
        field = float(r["field_arcsec"]) / field_fraction  # the Galaxy Zoo field (the store keeps its centre)
        psf = np.array([r[f"psf_fwhm_decals_{b}"] for b in "grz"], dtype=np.float64)
        drawer = _Drawer(survey, field, GZ_DECALS_PIXELS, GZ_DECALS_STRETCH, [0, 1, 2], psf)
        # the simulator's galaxy-level stream, [seed, index, 0, 0]: the knots and tails it drew
        profiles = galaxy_profiles(r, field, np.random.default_rng(np.random.SeedSequence([seed, int(i), 0, 0])))
        full = drawer.presented(profiles)
        # a disc with a bulge lists it first (galvae.simulate.render.galaxy_profiles)
        without = drawer.presented([(p, f * (k > 0)) for k, (p, f) in enumerate(profiles)])
        out[i] = float((full[1] - without[1]).sum() / (full[1] - sky).sum()) if r["truth_bulge_to_total"] > 0 else 0.0
    return pd.Series(out, dtype=np.float64)


def bulge_mix(cat: pd.DataFrame, seed: int) -> tuple[list[float], float]:
    """Table 2's bulge-size shares (none, small, moderate, large) and their total variation from the paper's."""
    vcols = [visibility_column(f) for f in VISIBILITY_FEATURES]
    truth = cat[[c for c in cat.columns if c.startswith("truth_") or c == "defect"]]
    votes = vote_fractions(truth, np.random.default_rng([seed, 105]), visibility=cat[vcols])
    mix = compare_table2(labels_from_catalog(votes)).query("feature == 'bulge_size'")
    return [round(float(v), 3) for v in mix["share"]], round(float(mix["total_variation"].iloc[0]), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", help="a galvae demo directory (its data/catalog.parquet and data/simulation.json)")
    ap.add_argument("--cuts", action="append", default=[], help="four class cuts on the presented share (repeatable)")
    ap.add_argument("--max", type=int, default=0, help="at most this many galaxies (0: all)")
    args = ap.parse_args()
    cat = pd.read_parquet(f"{args.demo}/data/catalog.parquet")
    with open(f"{args.demo}/data/simulation.json") as fh:
        sim = json.load(fh)["config"]
    seed, fraction = int(sim["seed"]), float(sim["field_fraction"])
    shares = presented_shares(cat.iloc[: args.max] if args.max else cat, seed, fraction)
    table = pd.DataFrame({"bt": cat.loc[shares.index, "truth_bulge_to_total"], "share": shares})
    table["class"] = cat.loc[shares.index, "truth_bulge_size"].astype(object)
    print(f"{len(shares)} featured discs asked the bulge-size question")
    print(table.groupby("class")[["bt", "share"]].median().reindex(list(CLASSES)).round(3).to_string())
    print("stored votes' Table 2 mix (none, small, moderate, large) and total variation:", bulge_mix(cat, seed))
    for text in args.cuts or ["0.03,0.15,0.35,0.55"]:
        cuts = tuple(float(v) for v in text.split(","))
        changed = cat.copy()
        cls = np.array(CLASSES, dtype=object)[np.digitize(shares.to_numpy(), cuts)]
        changed["truth_bulge_size"] = changed["truth_bulge_size"].astype(object)
        changed.loc[shares.index, "truth_bulge_size"] = cls
        truth_mix = np.bincount(np.digitize(shares.to_numpy(), cuts), minlength=5) / len(shares)
        print(f"cuts {cuts}: true classes {np.round(truth_mix, 3).tolist()}; Table 2 mix", bulge_mix(changed, seed))


if __name__ == "__main__":
    main()
