"""``galvae report --out report.html [products…]``: one self-contained HTML report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae report`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "report",
        help="one self-contained HTML report of a run (tables, figures, galleries; works offline)",
        description=(
            "Gather the products of the other commands into one HTML file with every figure embedded (no "
            "network needed): the paper's Tables 3 and 4 next to this run's numbers, SSIM against the latent "
            "dimension with its knee, reconstructions per class, a 2-D map of the latent space, outliers and mock "
            "galaxies. Every product is optional; a section without its input says 'not run'. A directory may be "
            "given for --table3 (table3.csv), --sweep (sweep.csv) and --domains (domains.json, table4.csv and its "
            "PNGs)."
        ),
        epilog=(
            "example:\n"
            "  galvae report --table3 demo/table3 --outliers demo/outliers --store demo/data/decals.h5 \\\n"
            "      --reconstructions demo/recon.h5 --labels demo/labels.parquet --latents demo/latents.parquet \\\n"
            "      --mock decals=demo/mocks.h5 --out demo/report.html"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="report.html", help="HTML file to write (default report.html)")
    p.add_argument("--title", default="galvae report", help="page title")
    p.add_argument("--table3", metavar="CSV|DIR", help="table3.csv of galvae classify (or its directory)")
    p.add_argument("--table4", metavar="CSV", help="table4.csv of galvae compare-domains")
    p.add_argument(
        "--domains",
        metavar="JSON|DIR",
        help="domain summary JSON of galvae compare-domains, or its directory (domains.json, table4.csv, PNGs)",
    )
    p.add_argument("--pairs", action="append", default=[], metavar="PNG", help="Fig. 5-style pair gallery (repeatable)")
    p.add_argument("--mse-hist", metavar="PNG", help="histogram of the paired latent MSE")
    p.add_argument("--sweep", metavar="CSV|DIR", help="sweep.csv of galvae sweep (or its directory)")
    p.add_argument("--store", help="image store of the originals")
    p.add_argument(
        "--reconstructions", metavar="STORE", help="image store of their reconstructions (galvae reconstruct)"
    )
    p.add_argument(
        "--split",
        metavar="JSON|RUN",
        help="split.json of the training run (or the run directory): the SSIM claim is measured on its validation "
        "galaxies, which the model never trained on",
    )
    p.add_argument("--labels", help="Table 2 labels (galvae labels) or Galaxy Zoo catalogue")
    p.add_argument(
        "--truth",
        metavar="CATALOG",
        help="catalogue of galvae simulate (truth_* columns): each Table 2 class's completeness and purity",
    )
    p.add_argument("--latents", help="latent catalogue (galvae encode)")
    p.add_argument("--outliers", metavar="DIR", help="output directory of galvae outliers")
    p.add_argument(
        "--mock",
        action="append",
        default=[],
        metavar="SURVEY=STORE",
        help="mock image store of one decoder (galvae generate); repeatable",
    )
    p.add_argument(
        "--translation", metavar="DIR", help="output directory of galvae translate --compare (table and gallery)"
    )
    p.add_argument("--realism", metavar="DIR", help="output directory of galvae realism (tables and montage)")
    p.add_argument(
        "--explorer",
        metavar="DIR|HTML",
        help="a galvae explore page (its directory or index.html) to link from the latent-map section",
    )
    p.add_argument("--config", metavar="JSON", help="run configuration to show (a JSON object)")
    p.add_argument("--timings", metavar="JSON", help="seconds per stage to show (a JSON object stage -> seconds)")
    p.add_argument("--embedding", choices=("pca", "tsne", "both"), default="both", help="latent maps (default both)")
    p.add_argument("--seed", type=int, default=0, help="seed of the galleries, samples and t-SNE (default 0)")
    p.add_argument(
        "--per-class", type=int, default=4, help="galaxies per class in the reconstruction gallery (default 4)"
    )
    p.add_argument("--strict", action="store_true", help="fail when a product cannot be read instead of noting it")
    p.set_defaults(func=run)


def _json_object(path: str | None, option: str) -> dict[str, Any] | None:
    from ..errors import GalvaeFileError

    if path is None:
        return None
    p = Path(path)
    try:
        obj = json.loads(p.read_text())
    except FileNotFoundError:
        raise GalvaeFileError(p, f"{option} file not found") from None
    except (ValueError, OSError) as exc:
        raise GalvaeFileError(p, f"{option}: unreadable JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise GalvaeFileError(p, f"{option} must hold a JSON object")
    return obj


def _in_dir(path: str | None, name: str) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    return p / name if p.is_dir() else p


def _explorer_page(path: str | None) -> Path | None:
    """``--explorer``: the page's index.html; one line naming the path if there is none."""
    from ..errors import GalvaeFileError

    if path is None:
        return None
    page = _in_dir(path, "index.html")
    if page is None or not page.is_file():
        raise GalvaeFileError("--explorer: no explorer page (index.html of galvae explore) at this path", path)
    return page


def run(args: argparse.Namespace) -> int:
    """Run ``galvae report`` with the parsed ``args``; returns the exit status."""
    from ..errors import GalvaeValueError
    from ..report import ReportInputs, write_report

    mocks: dict[str, str] = {}
    for item in args.mock:
        survey, sep, store = item.partition("=")
        if not sep or not survey.strip() or not store.strip():
            raise GalvaeValueError("--mock must be SURVEY=STORE", item)
        mocks[survey.strip()] = store.strip()
    domains_json = args.domains
    table4 = args.table4
    pairs = list(args.pairs)
    hist = args.mse_hist
    if args.domains is not None and Path(args.domains).is_dir():
        d = Path(args.domains)
        domains_json = d / "domains.json"
        if table4 is None and (d / "table4.csv").is_file():
            table4 = d / "table4.csv"
        pngs = sorted(d.glob("*.png"))
        if hist is None:
            hist = next((q for q in pngs if "hist" in q.stem.lower()), None)
        if not pairs:
            pairs = [q for q in pngs if "pair" in q.stem.lower()]
    inputs = ReportInputs(
        title=args.title,
        run_config=_json_object(args.config, "--config"),
        stage_seconds=_json_object(args.timings, "--timings"),
        table3_csv=_in_dir(args.table3, "table3.csv"),
        table4_csv=table4,
        domains_json=domains_json,
        pair_galleries=pairs,
        mse_histogram=hist,
        sweep_csv=_in_dir(args.sweep, "sweep.csv"),
        store=args.store,
        reconstructions=args.reconstructions,
        split=_in_dir(args.split, "split.json"),
        labels=args.labels,
        truth=args.truth,
        latents=args.latents,
        outliers_dir=args.outliers,
        mocks=mocks or None,
        explorer=_explorer_page(args.explorer),
        translation_dir=args.translation,
        realism_dir=args.realism,
    )
    out = write_report(
        args.out, inputs, embedding=args.embedding, seed=args.seed, per_class=args.per_class, strict=args.strict
    )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
