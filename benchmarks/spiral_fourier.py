"""Arm count and winding read from the pixels by the log-spiral Fourier transform (issue 18, point 2).

Run:  .venv/bin/python benchmarks/spiral_fourier.py STORE CATALOG [--real ../shared/data/gz_decals_real]
      (e.g. the store `benchmarks/visibility_ceiling.py --simulate 8000 --featured-only --profile gz-decals
      --size 48 --field-fraction 0.75 --keep DIR` keeps, or a demo's data/decals.h5 and catalog.parquet)
Writes benchmarks/spiral_fourier.json and .md (``--out`` to change).

The visibility ceiling's CNN calls nearly every simulated spiral two-armed.  This asks whether the
*pixels* hold the arm count, with a measurement that needs no training:
:func:`galvae.evaluate.spirals.measure_spirals` (Davis et al. 2012's 2D log-polar Fourier transform,
the disc geometry measured on each image), on every face-on-ish (< 60°) simulated spiral in the store,
against the simulator's truth; beside it the same transform on the truth's geometry (half-light
radius, position angle, cos i), which separates what the pixels show from what the geometry
measurement loses.  With ``--real``, the arm amplitude and pitch of the store's galaxies against real
Galaxy Zoo DECaLS images presented the same way (crop and size), the simulated galaxies taken inside
the real set's vote ranges (its CSV's ``*_fraction`` columns).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import machine
from galvae import __version__
from galvae.data.store import open_store
from galvae.evaluate.spirals import (
    DiscGeometry,
    arm_count_class,
    log_spiral_spectrum,
    measure_spirals,
    winding_class,
)

HERE = Path(__file__).resolve().parent


def _truth_geometry(row: pd.Series, size: int) -> DiscGeometry:
    scale = float(row["field_arcsec"]) / size
    return DiscGeometry(
        float(row["truth_hlr_arcsec"]) / scale,
        math.radians(float(row["truth_pa_deg"])),
        max(math.cos(math.radians(float(row["truth_inclination_deg"]))), 0.05),
    )


def _accuracy(pred: np.ndarray, true: np.ndarray) -> float:
    return float((pred.astype(object) == true.astype(object)).mean())


def simulated(store: Path, catalog: Path, max_inclination: float) -> tuple[dict, pd.DataFrame]:
    cat = pd.read_parquet(catalog)
    cat["id"] = cat["id"].astype(str)
    with open_store(store) as st:
        ids = np.asarray(st.ids).astype(str)
        sel = cat.set_index("id").loc[ids]
        keep = (sel["truth_n_arms"].fillna(0).to_numpy() > 0) & (
            sel["truth_inclination_deg"].to_numpy() < max_inclination
        )
        x = st.read(np.flatnonzero(keep))
        fraction = st.field_fraction
    sel = sel[keep].reset_index()
    size = x.shape[-1]
    t0 = time.perf_counter()
    pixels = measure_spirals(x)
    seconds = time.perf_counter() - t0
    truth_m, truth_pitch = [], []
    for img, (_, row) in zip(x, sel.iterrows(), strict=True):
        spec = log_spiral_spectrum(img[1], geometry=_truth_geometry(row, size))
        m = spec.dominant_m
        truth_m.append(arm_count_class(m))
        truth_pitch.append(winding_class(float(spec.pitch_deg[m - 1])) if m else None)
    true_count = sel["truth_spiral_arm_count"].to_numpy(dtype=object)
    true_wind = sel["truth_spiral_winding"].to_numpy(dtype=object)
    rows = []
    for lo, hi in ((0, max_inclination), (0, 40), (40, max_inclination)):
        m = (sel["truth_inclination_deg"] >= lo).to_numpy() & (sel["truth_inclination_deg"] < hi).to_numpy()
        rows.append(
            {
                "inclination": f"{lo:.0f}-{hi:.0f}°",
                "n": int(m.sum()),
                "count_majority": float(pd.Series(true_count[m]).value_counts(normalize=True).max()),
                "count_pixels": _accuracy(pixels["spiral_arm_count"].to_numpy()[m], true_count[m]),
                "count_truth_geometry": _accuracy(np.asarray(truth_m, dtype=object)[m], true_count[m]),
                "winding_majority": float(pd.Series(true_wind[m]).value_counts(normalize=True).max()),
                "winding_pixels": _accuracy(pixels["spiral_winding"].to_numpy()[m], true_wind[m]),
                "winding_truth_geometry": _accuracy(np.asarray(truth_pitch, dtype=object)[m], true_wind[m]),
            }
        )
    classes = ["1", "2", "3", "4", "more-than-4"]
    recall = {
        c: float((pixels["spiral_arm_count"].to_numpy()[true_count == c] == c).mean())
        for c in classes
        if (true_count == c).any()
    }
    pitch_corr = float(
        pd.Series(pixels["spiral_pitch_deg"].to_numpy()).corr(
            pd.Series(sel["truth_arm_pitch_deg"].to_numpy()), method="spearman"
        )
    )
    info = {
        "n_spirals": len(sel),
        "size": size,
        "field_fraction": fraction,
        "seconds": round(seconds, 1),
        "rows": rows,
        "count_recall_pixels": recall,
        "pitch_spearman_pixels": pitch_corr,
    }
    pixels["votes_featured"] = sel.get("smooth-or-featured_featured-or-disk_fraction", pd.Series(np.nan)).to_numpy()
    return info, pixels


def real_against_simulated(
    real_dir: Path, store: Path, catalog: Path, n_sim: int, seed: int, within_ranges: bool = True
) -> dict:
    """Arm amplitude and pitch of real and simulated galaxies, the simulated ones within the real set's vote ranges.

    The real set's selection is taken from its own votes: each vote-fraction column of its CSV spans
    [min, max] over the real galaxies, and only simulated galaxies inside every range are compared.
    """
    from scipy import stats

    from galvae.evaluate.realism import read_rgb_images

    csv_all = pd.read_csv(real_dir.parent / f"{real_dir.name}.csv")
    votes = [c for c in csv_all.columns if c.endswith("_fraction")]
    with open_store(store) as st:
        size, fraction = st.size, st.field_fraction
        ids = np.asarray(st.ids).astype(str)
        cat = pd.read_parquet(catalog)
        cat["id"] = cat["id"].astype(str)
        sel = cat.set_index("id").loc[ids]
        ok = np.ones(len(sel), bool)
        if not within_ranges:  # featured, not edge-on by the simulated votes
            votes = ["smooth-or-featured_featured-or-disk_fraction", "disk-edge-on_no_fraction"]
            ok = (sel[votes[0]].to_numpy() > 0.5) & (sel[votes[1]].to_numpy() > 0.5)
            votes = []
        ranges = {}
        for c in votes:
            lo, hi = float(csv_all[c].min()), float(csv_all[c].max())
            ranges[c] = [lo, hi]
            ok &= (sel[c].to_numpy() >= lo) & (sel[c].to_numpy() <= hi)
        pick = np.sort(np.random.default_rng(seed).permutation(np.flatnonzero(ok))[:n_sim])
        sim = measure_spirals(st.read(pick))
    real_imgs, names = read_rgb_images(real_dir, size=size, field_fraction=fraction)
    real = measure_spirals(real_imgs)
    out = {"n_real": len(names), "n_sim": len(sim), "vote_ranges": ranges, "within_ranges": within_ranges}
    for col in ("spiral_amplitude", "spiral_m2_amplitude", "spiral_pitch_deg", "disc_axis_ratio", "disc_hlr_px"):
        a, b = real[col].dropna().to_numpy(), sim[col].dropna().to_numpy()
        out[col] = {
            "ks": float(stats.ks_2samp(a, b).statistic),
            "real_quartiles": [float(v) for v in np.percentile(a, [25, 50, 75])],
            "sim_quartiles": [float(v) for v in np.percentile(b, [25, 50, 75])],
        }
    out["dominant_m_real"] = {str(k): int(v) for k, v in real["spiral_m"].value_counts().sort_index().items()}
    out["dominant_m_sim"] = {str(k): int(v) for k, v in sim["spiral_m"].value_counts().sort_index().items()}
    return out


def markdown(res: dict) -> str:
    s = res["simulated"]
    lines = [
        "# Arm count and winding from the pixels: the log-spiral Fourier transform",
        "",
        f"`benchmarks/spiral_fourier.py`, {res['date']}, galvae {res['galvae_version']}, {res['machine']['cpu']}."
        f" Store `{res['store']}`: {s['n_spirals']} simulated spirals below {res['max_inclination']:.0f}° inclination"
        f" at {s['size']} px (field fraction {s['field_fraction']}), measured in {s['seconds']:.0f} s."
        " Accuracy of the dominant log-spiral mode against the truth's arm count, and of its pitch angle's"
        " winding class (tight < 15° ≤ medium < 25° ≤ loose) against the truth's winding; *pixels*: the disc's"
        " geometry measured on the image (what `galvae spirals` does); *truth geometry*: the same transform on"
        " the true half-light radius, position angle and cos i.",
        "",
        "| inclination | spirals | arm count: majority | pixels | truth geometry | winding: majority | pixels"
        " | truth geometry |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in s["rows"]:
        lines.append(
            f"| {r['inclination']} | {r['n']} | {r['count_majority']:.3f} | {r['count_pixels']:.3f}"
            f" | {r['count_truth_geometry']:.3f} | {r['winding_majority']:.3f} | {r['winding_pixels']:.3f}"
            f" | {r['winding_truth_geometry']:.3f} |"
        )
    rec = ", ".join(f"{k} {v:.2f}" for k, v in s["count_recall_pixels"].items())
    lines += [
        "",
        f"Recall of each true arm count (pixels): {rec}. Spearman correlation of the measured pitch angle with"
        f" the true one: {s['pitch_spearman_pixels']:.2f}.",
    ]
    for r in res.get("real", []):
        which = (
            "inside the real set's vote ranges, "
            + ", ".join(f"{k} {a:.2f}-{b:.2f}" for k, (a, b) in r["vote_ranges"].items())
            if r["within_ranges"]
            else "featured and not edge-on by their votes (> 0.5)"
        )
        lines += [
            "",
            f"## Real against simulated ({r['n_real']} real, {r['n_sim']} simulated galaxies {which};"
            " the same presentation)",
            "",
            "| quantity | KS | real quartiles | simulated quartiles |",
            "|---|---|---|---|",
        ]
        for k in ("spiral_amplitude", "spiral_m2_amplitude", "spiral_pitch_deg", "disc_axis_ratio", "disc_hlr_px"):
            q = r[k]
            fmt = ", ".join
            lines.append(
                f"| {k} | {q['ks']:.2f} | {fmt(f'{v:.3g}' for v in q['real_quartiles'])}"
                f" | {fmt(f'{v:.3g}' for v in q['sim_quartiles'])} |"
            )
        lines += [
            "",
            f"Dominant mode m, real: {r['dominant_m_real']}; simulated: {r['dominant_m_sim']}.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("store", type=Path)
    p.add_argument("catalog", type=Path)
    p.add_argument("--real", type=Path, help="folder of real Galaxy Zoo DECaLS images (a CSV of votes beside it)")
    p.add_argument("--max-inclination", type=float, default=60.0)
    p.add_argument("--n-sim", type=int, default=1000, help="simulated galaxies against the real ones")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=HERE / "spiral_fourier")
    args = p.parse_args()
    info, _ = simulated(args.store, args.catalog, args.max_inclination)
    res = {
        "galvae_version": __version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "store": str(args.store),
        "max_inclination": args.max_inclination,
        "simulated": info,
    }
    if args.real:
        res["real"] = [
            real_against_simulated(args.real, args.store, args.catalog, args.n_sim, args.seed, within)
            for within in (True, False)
        ]
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
