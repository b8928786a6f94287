"""``galvae compare-domains BEFORE_RUN SOURCE_STORE TARGET_STORE --catalog CAT [--after RUN_DA] --out DIR``:
the same galaxies in two surveys, before and after domain adaptation (Section 5, Fig. 5, Table 4)."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae compare-domains`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "compare-domains",
        help="latent MSE, MMD^2 and Table 4 for galaxies seen by two surveys, before/after domain adaptation",
        description=(
            "Encode the galaxies whose ids are in both the source (DECaLS) and the target (BASS+MzLS) store with "
            "the VAE trained on the source (BEFORE_RUN) and, with --after, with the domain-adapted encoder. Writes "
            "pairs.csv (per-galaxy latent MSE), mse_hist.png, galleries of the lowest/highest-MSE pairs "
            "(pairs_{lowest,highest}_<stage>.png, Fig. 5), table4.csv/table4.md (random-forest accuracy per "
            "Table 2 feature: source forest on source and target latents before DA, retrained forests after DA) "
            "and domains.json (MSE, MMD^2, Table 4, planted-defect shares among the highest-MSE pairs)."
        ),
    )
    p.add_argument("before", help="run directory (or model.json) of the VAE trained on the source survey")
    p.add_argument("source_store", help="source image store (DECaLS)")
    p.add_argument("target_store", help="target image store (BASS+MzLS); ids matched with the source")
    p.add_argument(
        "--catalog",
        help="Galaxy Zoo DECaLS catalogue (or a labelled table) with an id column; needed for Table 4 and "
        "the defect shares",
    )
    p.add_argument("--after", help="run directory of the domain-adapted model")
    p.add_argument(
        "--control",
        help="run directory of a control fine-tuned like --after without the alignment terms (galvae adapt "
        "--lambda 0 --pair-weight 0, same pairs, seed and epochs): its held-out paired/random latent MSE is "
        "reported beside the adapted one's, so that fine-tuning alone does not score as adaptation",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--features", help="comma-separated Table 2 features (default: all nine)")
    p.add_argument(
        "--min-galaxies",
        type=int,
        help="Table 4 keeps features with at least this many labelled overlap galaxies (default 101: the paper's "
        "'larger than 100')",
    )
    p.add_argument("--min-per-class", type=int, default=2, help="drop classes with fewer members (default 2)")
    p.add_argument(
        "--source-train",
        choices=("all", "overlap"),
        default="all",
        help="source forest trained on all labelled source galaxies outside the overlap test set (the paper's "
        "Section 4.2 forest), or on the overlap training split only (default all)",
    )
    p.add_argument("--test-size", type=float, default=0.3, help="test fraction (default 0.3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the splits, forests and MMD subsample (default 0)")
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        metavar="R",
        help="score Table 4 on R splits of the overlap galaxies (seeds SEED ... SEED+R-1, the latents encoded once) "
        "and write table4_repeats.csv and table4_repeats.md: each column's mean and spread, and on how many "
        "feature-splits 'after' beats 'before', beats the retrained control, and the encoder-only control beats "
        "'before' (default 1: one split)",
    )
    p.add_argument("--n-estimators", type=int, default=200, help="trees per forest (default 200)")
    p.add_argument(
        "--n-jobs", type=int, default=1, help="workers per random forest (-1 = all cores; same table; default 1)"
    )
    p.add_argument("--n-gallery", type=int, default=8, help="pairs per gallery, 0 for none (default 8)")
    p.add_argument("--max-mmd-points", type=int, default=2000, help="at most this many pairs for MMD^2 (default 2000)")
    p.add_argument(
        "--high-mse-fraction",
        type=float,
        default=0.05,
        help="highest-MSE fraction checked for planted defects (default 0.05)",
    )
    p.add_argument("--mse-threshold", type=float, help="also check the pairs above this MSE (the paper: 8)")
    p.add_argument("--batch-size", type=int, default=256, help="images encoded at a time (default 256)")
    p.add_argument("--device", default="cpu", help="torch device for encoding (default cpu)")
    p.set_defaults(func=run)


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.4g}"


def run(args: argparse.Namespace) -> int:
    """Run ``galvae compare-domains`` with the parsed ``args``; returns the exit status."""
    from ..evaluate.domains import compare_domains, heldout_pairs_phrase, table4_markdown
    from ._eval_common import comma_list

    optional = {"min_galaxies": args.min_galaxies} if args.min_galaxies is not None else {}
    res = compare_domains(
        args.before,
        args.source_store,
        args.target_store,
        args.catalog,
        after=args.after,
        control=args.control,
        out_dir=args.out,
        features=comma_list(args.features) if args.features else None,
        source_train=args.source_train,
        test_size=args.test_size,
        seed=args.seed,
        n_estimators=args.n_estimators,
        n_jobs=args.n_jobs,
        min_per_class=args.min_per_class,
        max_mmd_points=args.max_mmd_points,
        high_mse_fraction=args.high_mse_fraction,
        mse_threshold=args.mse_threshold,
        n_gallery=args.n_gallery,
        batch_size=args.batch_size,
        device=args.device,
        repeats=args.repeats,
        progress=getattr(args, "progress", True),
        **optional,
    )
    s = res.summary
    print(
        f"{res.n_matched} galaxies in both surveys ({res.unmatched['source']} only in the source, "
        f"{res.unmatched['target']} only in the target)"
    )
    arrow = " -> " if "after" in res.mse else ""
    mse_after = _fmt(res.mse["after"]["median"]) if "after" in res.mse else ""
    mean_after = _fmt(res.mse["after"]["mean"]) if "after" in res.mse else ""
    print(
        f"latent MSE median {_fmt(res.mse['before']['median'])}{arrow}{mse_after} "
        f"(mean {_fmt(res.mse['before']['mean'])}{arrow}{mean_after})"
    )
    ratio_after = _fmt(res.mse["after"]["paired_over_random"]) if "after" in res.mse else ""
    print(f"paired over random-pair latent MSE {_fmt(res.mse['before']['paired_over_random'])}{arrow}{ratio_after}")
    h = res.heldout
    if "after" in h:
        print(
            f"  on the {h['n']} {heldout_pairs_phrase(h)}: {_fmt(h['before']['paired_over_random'])}"
            f" -> {_fmt(h['after']['paired_over_random'])} ({h.get('gain', float('nan')):.2f}x lower)"
        )
    if "gain_over_control" in h:
        print(
            f"  fine-tuned without the alignment terms (control): {_fmt(h['control']['paired_over_random'])} "
            f"({h['gain_control']:.2f}x lower); adaptation over the control: {h['gain_over_control']:.2f}x"
        )
    mmd_after = _fmt(res.mmd2.get("after")) if "after" in res.mmd2 else ""
    print(f"MMD^2 {_fmt(res.mmd2['before'])}{arrow}{mmd_after} ({s['mmd_points']} pairs)")
    for stage, d in res.defects.items():
        top = d["top"]
        print(
            f"planted defects ({stage}): {100 * (top['share'] or 0):.1f} % of the {top['n']} highest-MSE pairs "
            f"vs {100 * (d['all']['share'] or 0):.1f} % of all pairs"
        )
    if args.catalog is not None:
        if len(res.table):
            print(table4_markdown(res.table, paper=False), end="")
        for feature, why in res.skipped.items():
            print(f"skipped {feature}: {why}")
        counts = s.get("table4_repeats")
        if counts:
            n, seeds = counts["feature_splits"], counts["seeds"]
            print(f"Table 4 over {len(seeds)} splits (seeds {seeds[0]}-{seeds[-1]}), {n} feature-splits:")
            for key, what in (
                ("after_above_before", "after > before"),
                ("after_above_retrained", "after > the retrained control"),
                ("aligned_above_before", "the encoder-only control > before"),
            ):
                if key in counts:
                    c = counts[key]
                    print(
                        f"  {what}: {c['holds']} of {n} ({c['ties']} ties), mean {100 * c['mean_difference']:+.1f} points"
                    )
    print(f"wrote {', '.join(s['files'])} and domains.json to {args.out}")
    return 0
