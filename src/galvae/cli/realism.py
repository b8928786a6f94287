"""``galvae realism STORE REAL_DIR --out DIR``: simulated images against real Galaxy Zoo DECaLS ones (issue 18)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae realism`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "realism",
        help="how real simulated images look: distributions and a classifier test against real images",
        description=(
            "Compare the images of a store (e.g. a gz-decals simulation) with a folder of real Galaxy Zoo DECaLS "
            "colour JPEG/PNG images (g in blue, r in green, z in red), resampled to the store's size: sky, noise, "
            "noise correlation, size in the frame, central surface brightness, colours, neighbours per image and "
            "the width of the sharpest neighbour (which measures the frame), each with a two-sample Kolmogorov-Smirnov statistic, and a classifier two-sample test (5-fold "
            "balanced accuracy telling simulated from real; 0.5 = indistinguishable whatever --n is; with --cnn also the CNN's ROC AUC, its "
            "threshold set on each training fold). Writes realism.json, realism.md and "
            "realism.png (8 real images above 8 simulated)."
        ),
    )
    p.add_argument("store", help="image store of presented images (a gz-decals store compares with GZ DECaLS)")
    p.add_argument("real", help="folder of real colour images (.jpg, .jpeg, .png)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--n", type=int, default=None, help="simulated images compared (default: as many as real ones)")
    p.add_argument(
        "--jpeg-quality",
        type=int,
        default=92,
        help="send simulated images through 8-bit JPEG at this quality first, as the real files were made "
        "(default 92; 0 = compare them as stored)",
    )
    p.add_argument(
        "--cnn",
        action="store_true",
        help="add a small CNN on the pixels to the classifier test (balanced accuracy and ROC AUC over 5 folds)",
    )
    p.add_argument("--no-classifiers", action="store_true", help="skip the classifier two-sample test")
    p.add_argument(
        "--where",
        metavar="QUERY",
        help="compare only the simulated galaxies whose catalogue rows pass this pandas query, e.g. a set of real "
        "images' selection: \"`smooth-or-featured_featured-or-disk_fraction` > 0.6 and "
        '`has-spiral-arms_no_fraction` > 0.5" or "truth_smooth_or_featured == \'featured-or-disk\'"',
    )
    p.add_argument("--catalog", help="the simulation's catalogue for --where (default: catalog.parquet beside STORE)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw, the folds and the classifiers")
    p.set_defaults(func=run)


def _selected_rows(args: argparse.Namespace, store_ids: Any) -> Any:
    """Store rows of the simulated galaxies --where keeps (every row without it)."""
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from ..data.tables import read_catalog
    from ..errors import GalvaeFileError, GalvaeValueError

    if args.where is None:
        return np.arange(len(store_ids))
    catalog_path = Path(args.catalog) if args.catalog else Path(args.store).parent / "catalog.parquet"
    if not catalog_path.is_file():
        raise GalvaeFileError("--where needs the simulation's catalogue (--catalog)", str(catalog_path))
    cat = read_catalog(catalog_path)
    try:
        keep = np.asarray(cat.eval(args.where), dtype=bool)
    except Exception as exc:  # pandas raises many kinds for a bad expression
        raise GalvaeValueError(f"--where: not a query on the catalogue's columns ({exc})", args.where) from None
    if keep.shape != (len(cat),):
        raise GalvaeValueError("--where must give one true/false per catalogue row", args.where)
    wanted = set(cat.loc[keep, "id"].astype(str))
    rows = np.flatnonzero(pd.Index(np.asarray(store_ids).astype(str)).isin(wanted))
    if rows.size < 10:
        raise GalvaeValueError(
            f"--where keeps {rows.size} of {len(store_ids)} simulated galaxies; at least 10 are needed", args.where
        )
    return rows


def run(args: argparse.Namespace) -> int:
    """Run ``galvae realism`` with the parsed ``args``; returns the exit status."""
    import numpy as np

    from ..data.store import ImageStore
    from ..errors import GalvaeValueError
    from ..evaluate.realism import compare_realism, read_rgb_images

    with ImageStore(args.store) as st:
        real, _ = read_rgb_images(args.real, st.size, st.field_fraction)
        n = len(real) if args.n is None else args.n
        if n < 1:
            raise GalvaeValueError("--n must be a positive number of simulated images", n)
        pool = _selected_rows(args, st.ids)
        rows = np.sort(np.random.default_rng(args.seed).choice(pool, size=min(n, pool.size), replace=False))
        sim = st.read(rows)
    res = compare_realism(
        sim,
        real,
        jpeg_quality=args.jpeg_quality or None,
        classifiers=not args.no_classifiers,
        cnn=args.cnn,
        seed=args.seed,
        out_dir=args.out,
    )
    width = max(len(k) for k in res.quantities)
    for key, v in res.quantities.items():
        print(f"{key:<{width}}  KS {v['ks']:.2f}  real {v['median_real']:.3g}  simulated {v['median_sim']:.3g}")
    print(f"mean KS {res.mean_ks:.2f} ({res.n_sim} simulated, {res.n_real} real)")
    for name, rows in res.sky_vs_size.items():
        rhos = " / ".join(f"{r['rho']:+.2f}" for r in rows)
        print(f"sky against size in the frame, {name}: Spearman g / r / z {rhos}")
    for name, v in res.classifiers.items():
        auc = f", ROC AUC {v['auc']:.2f} ± {v['auc_std']:.2f}" if "auc" in v else ""
        print(f"{name}: balanced accuracy {v['mean']:.2f} ± {v['std']:.2f}{auc} (0.5 = indistinguishable)")
    print(f"wrote realism.json, realism.md and realism.png to {args.out}")
    return 0
