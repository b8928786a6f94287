"""``galvae labels CATALOG --out LABELS``: Galaxy Zoo DECaLS votes to the paper's Table 2 classes."""

from __future__ import annotations

import argparse

__all__ = ["register", "run", "parse_threshold"]


def parse_threshold(text: str) -> tuple[str, float]:
    """Parse ``FEATURE.CLASS=VALUE`` into ``("FEATURE.CLASS", VALUE)``.

    Raises
    ------
    GalvaeValueError
        If the text has no ``=``, no ``FEATURE.CLASS`` before it, or no number after it.
    """
    from ..errors import GalvaeValueError

    key, sep, value = text.rpartition("=")
    if not sep or "." not in key:
        raise GalvaeValueError("--threshold must look like FEATURE.CLASS=VALUE, e.g. bar.weak=0.5", text)
    try:
        return key.strip(), float(value)
    except ValueError:
        raise GalvaeValueError(f"--threshold {key}: the value must be a number in [0, 1]", value) from None


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae labels`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "labels",
        help="Galaxy Zoo DECaLS vote fractions -> the paper's 26 morphology classes (Table 2)",
        description=(
            "Label each galaxy of a Galaxy Zoo DECaLS catalogue with the nine morphology features of\n"
            "the paper's Table 2 (how_rounded, edge_on, edge_on_bulge, bar, has_arms, arm_tightness,\n"
            "arm_count, bulge_size, merger; 26 classes), write them to --out and print the number of\n"
            "galaxies per class (Table 2's 'Size' column).\n\n"
            "The catalogue holds either vote fractions '<question>_<answer>_fraction' (Zenodo GZ DECaLS)\n"
            "or vote counts '<question>-dr5_<answer>' (galaxy-datasets dr5 ortho). A class is selected where\n"
            "its fraction is above its threshold; a question counts only where the product of the\n"
            "fractions leading to it down the GZD-5 tree is at least --parent-threshold; where two classes\n"
            "pass, the larger fraction wins (a tie gives no label). bulge_size 'large' is large+dominant.\n\n"
            "Beside each class's count: its share of the feature's labelled galaxies and the same share\n"
            "in the paper's Table 2, with the total variation distance between the two mixes. On a\n"
            "catalogue of galvae simulate (truth_* columns), each class's completeness and purity\n"
            "against the simulated truth too.\n\n"
            "A repeated id is skipped (the first row kept) with a warning and reported, as galvae ingest\n"
            "does; --strict refuses the catalogue instead."
        ),
        epilog=(
            "examples:\n"
            "  galvae labels gz_decals_volunteers_5.csv --out labels.parquet\n"
            "  galvae labels decals_dr5_ortho.parquet --out labels.fits --threshold arm_count.2=0.8 \\\n"
            "      --threshold bar.weak=0.5 --parent-threshold 0.3"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("catalog", help="Galaxy Zoo DECaLS catalogue (.parquet, .csv or .fits)")
    p.add_argument(
        "--out",
        required=True,
        metavar="LABELS",
        help="labels table to write (.parquet, .csv or .fits; columns id and one per feature)",
    )
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="FEATURE.CLASS=VALUE",
        help="change one class threshold, e.g. bar.weak=0.5 (repeatable)",
    )
    p.add_argument(
        "--parent-threshold",
        type=float,
        default=0.5,
        metavar="P",
        help="least fraction of volunteers asked a question for it to count; 0 ignores the "
        "decision tree (default: %(default)s)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse a catalogue whose ids repeat, naming them, and write nothing "
        "(default: as galvae ingest, keep the first row of each id and report the others as skipped)",
    )
    p.set_defaults(func=run)


def _format_counts(counts, n_galaxies: int, compared=None) -> list[str]:
    """Table 2's "Size" column as text; with ``compared`` (:func:`galvae.compare_table2`) the paper's shares too."""
    paper = {} if compared is None else {(r.feature, r[1]): r for r in compared.itertuples(index=False)}
    lines = [
        f"{'feature':<15} {'class':<11} {'threshold':>9} {'count':>9} {'percent':>8} {'of feature':>10} {'paper':>7}"
    ]
    for feature, group in counts.groupby("feature", sort=False):
        first = True
        total = int(group["count"].sum())
        tv = None
        for row in group.itertuples(index=False):
            name = feature if first else ""
            share = 100.0 * row.count / n_galaxies if n_galaxies else 0.0
            threshold = "> " + format(row.threshold, "g")
            of_feature = f"{100.0 * row.count / total:.1f}%" if total else "-"
            p = paper.get((feature, row[1]))
            published = f"{100.0 * p.paper_share:.1f}%" if p is not None else "-"
            if p is not None and p.total_variation == p.total_variation:  # not NaN
                tv = p.total_variation
            lines.append(
                f"{name:<15} {row[1]:<11} {threshold:>9} {row.count:>9} {share:>7.2f}% {of_feature:>10} {published:>7}"
            )
            first = False
        share = 100.0 * total / n_galaxies if n_galaxies else 0.0
        distance = f"   class mix vs the paper: total variation {tv:.2f}" if tv is not None else ""
        lines.append(f"{'':<15} {'(labelled)':<11} {'':>9} {total:>9} {share:>7.2f}%{distance}")
    return lines


def _format_purity(purity) -> list[str]:
    """Completeness and purity per class (:func:`galvae.simulate.votes.selection_purity`) as text."""
    lines = [
        "against the simulation's truth (completeness: selected and true / true; purity: selected and true / selected)",
        f"{'feature':<15} {'class':<11} {'truth':>7} {'selected':>9} {'complete':>9} {'purity':>7}",
    ]
    last = None
    for r in purity.itertuples(index=False):
        name = r.feature if r.feature != last else ""
        last = r.feature
        comp = f"{r.completeness:.2f}" if r.completeness == r.completeness else "-"
        pur = f"{r.purity:.2f}" if r.purity == r.purity else "-"
        lines.append(f"{name:<15} {r[1]:<11} {r.n_truth:>7} {r.n_selected:>9} {comp:>9} {pur:>7}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Run ``galvae labels`` with the parsed ``args``; returns the exit status."""
    from ..data.labels import (
        LabelConfig,
        check_table_path,
        drop_duplicate_ids,
        label_counts,
        labels_from_catalog,
        read_catalog,
        write_table,
    )
    from ..evaluate.paper import compare_table2
    from ..simulate.votes import TRUTH_CATEGORIES, selection_purity

    thresholds = dict(parse_threshold(t) for t in args.threshold)
    config = LabelConfig(parent_threshold=args.parent_threshold).with_thresholds(thresholds)
    check_table_path(args.out, overwrite=args.overwrite)
    catalog, skipped = drop_duplicate_ids(read_catalog(args.catalog), args.catalog, strict=args.strict)
    labels = labels_from_catalog(catalog, config, source=args.catalog)
    path = write_table(labels, args.out, overwrite=args.overwrite)
    counts = label_counts(labels, config)
    compared = compare_table2(labels, config)
    convention = labels.attrs["galvae_labels"]["convention"]
    columns = {"fractions": "'<question>_<answer>_fraction'", "votes": "'<question>-dr5_<answer>' vote counts"}
    n = len(labels)
    any_label = int(labels[list(config.features)].notna().any(axis=1).sum()) if n else 0
    print(f"{n} galaxies from {args.catalog} ({columns[convention]}; parent threshold {config.parent_threshold:g})")
    print("\n".join(_format_counts(counts, n, compared)))
    print(
        "of feature: share of the feature's labelled galaxies; paper: the same share in the paper's Table 2 "
        "(GZD-5 volunteers at the paper's thresholds)"
    )
    if skipped:
        repeated = list(dict.fromkeys(skipped))
        shown = ", ".join(repeated[:10]) + (", ..." if len(repeated) > 10 else "")
        print(f"{len(skipped)} rows with a repeated id skipped (first row of each id kept): {shown}")
    if set(TRUTH_CATEGORIES) <= set(map(str, catalog.columns)):  # a galvae simulation's catalogue
        truth = catalog.reset_index(drop=True)
        print("\n".join(_format_purity(selection_purity(truth, labels.reset_index(drop=True), config))))
    print(f"{any_label} of {n} galaxies have at least one label; wrote {path}")
    return 0
