"""``galvae classify LATENTS CATALOG --store STORE --out DIR``: Table 3."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae classify`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "classify",
        help="random forests on latents per Table 2 feature, with PCA and CNN baselines (Table 3)",
        description=(
            "Train a random forest per Table 2 morphology feature on the latent means (70/30 stratified split, "
            "fixed seed) and, on the same split, a PCA + forest baseline and a supervised CNN (the VAE encoder "
            "+ a linear head) on the store's images. Writes table3.csv, table3.md, classify.json, splits.json and "
            "confusion_<feature>.png. Precision/recall/F1 are micro-averaged for >2 classes and binary (positive = "
            "first Table 2 class) for 2 classes; macro F1 is also given."
        ),
    )
    _add_input_arguments(p)
    _add_split_arguments(p)
    _add_classifier_arguments(p)
    p.set_defaults(func=run)


def _add_input_arguments(p: argparse.ArgumentParser) -> None:
    """Add the latents, catalogue, store and output arguments, and which features and baselines to run."""
    p.add_argument("latents", help="latent catalogue (galvae encode)")
    p.add_argument(
        "catalog",
        help="Galaxy Zoo DECaLS catalogue (fractions or dr5 vote counts) with an id column",
    )
    p.add_argument(
        "--store",
        help="image store, needed by the PCA and CNN baselines (omit to run the latent forest only)",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--features", help="comma-separated Table 2 features (default: all nine)")
    p.add_argument(
        "--baselines",
        default="pca,cnn",
        help="comma-separated baselines: pca, cnn, or 'none' (default: pca,cnn)",
    )


def _add_split_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options of the split, the forests and which features and classes are kept."""
    p.add_argument("--test-size", type=float, default=0.3, help="test fraction (default 0.3)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the split, forests, PCA and CNN (default 0)",
    )
    p.add_argument("--n-estimators", type=int, default=200, help="trees per forest (default 200)")
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="also classify on R splits (seeds SEED ... SEED+R-1) and write repeats.csv, repeats_summary.csv "
        "and repeats.md: each method's accuracy and its difference from the latent forest, mean ± sd over the "
        "splits (default 1: the one split)",
    )
    p.add_argument(
        "--min-galaxies",
        type=int,
        default=20,
        help="skip features with fewer labelled galaxies (default 20)",
    )
    p.add_argument(
        "--min-per-class",
        type=int,
        default=2,
        help="drop classes with fewer members (default 2)",
    )


def _add_classifier_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options of the CNN baseline, the class weighting and the forests' processes."""
    p.add_argument(
        "--cnn-epochs",
        type=int,
        default=60,
        help="most epochs of the CNN baseline; it stops early on a held-out part of its training split (default 60)",
    )
    p.add_argument(
        "--cnn-patience",
        type=int,
        default=20,
        help="epochs without a better validation loss before the CNN baseline stops (default %(default)s)",
    )
    p.add_argument(
        "--class-weight",
        choices=("none", "balanced"),
        default="none",
        help="class weighting of every classifier alike: forests and CNN (default none, the paper's forest)",
    )
    p.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="processes per random forest (-1 = all cores; default 1)",
    )
    p.add_argument(
        "--cnn-batch-size",
        type=int,
        default=64,
        help="batch size of the CNN baseline (default 64)",
    )
    p.add_argument(
        "--cnn-lr",
        type=float,
        default=1e-3,
        help="Adam learning rate of the CNN baseline (default 1e-3)",
    )
    p.add_argument(
        "--cnn-precision",
        choices=("32", "bf16-mixed"),
        default="32",
        help="arithmetic of the CNN baseline: bf16-mixed is ~1.9x faster on CPUs with native bfloat16 (default 32)",
    )
    p.add_argument(
        "--no-cnn-augment",
        dest="cnn_augment",
        action="store_false",
        help="train the CNN baseline without random quarter turns and flips (default: with them)",
    )
    p.add_argument("--device", default="cpu", help="torch device of the CNN baseline (default cpu)")


def run(args: argparse.Namespace) -> int:
    """Run ``galvae classify`` with the parsed ``args``; returns the exit status."""
    from ..errors import GalvaeValueError
    from ..evaluate.classify import classify
    from ._eval_common import comma_list, print_table

    baselines = [] if args.baselines.strip().lower() == "none" else comma_list(args.baselines)
    if args.store is None and baselines:
        print("note: no --store given, running the latent forest only (no pca/cnn baselines)")
        baselines = []
    if args.repeats < 1:
        raise GalvaeValueError("--repeats must be at least 1", args.repeats)
    options = dict(
        store=args.store,
        features=comma_list(args.features) if args.features else None,
        test_size=args.test_size,
        n_estimators=args.n_estimators,
        min_galaxies=args.min_galaxies,
        min_per_class=args.min_per_class,
        baselines=baselines,
        cnn_epochs=args.cnn_epochs,
        cnn_patience=args.cnn_patience,
        class_weight=None if args.class_weight == "none" else args.class_weight,
        n_jobs=args.n_jobs,
        cnn_batch_size=args.cnn_batch_size,
        cnn_lr=args.cnn_lr,
        cnn_augment=args.cnn_augment,
        cnn_precision=args.cnn_precision,
        device=args.device,
    )
    res = classify(
        args.latents,
        args.catalog,
        out_dir=args.out,
        seed=args.seed,
        progress=getattr(args, "progress", True),
        **options,
    )
    t = res.table.assign(method=res.table["method"].str.upper())
    print_table(
        t,
        [
            "feature",
            "method",
            "n_classes",
            "n_test",
            "accuracy",
            "precision",
            "recall",
            "f1",
            "f1_macro",
            "majority_rate",
        ],
    )
    for feature, why in res.skipped.items():
        print(f"skipped {feature}: {why}")
    for feature, classes in res.dropped_classes.items():
        print(f"dropped rare classes of {feature}: {', '.join(classes)}")
    print(f"wrote {res.out_dir}/table3.csv, table3.md, classify.json")
    if args.repeats > 1:
        from ..evaluate.classify import repeat_splits

        summary = repeat_splits(
            args.latents,
            args.catalog,
            repeats=args.repeats,
            seed=args.seed,
            out_dir=args.out,
            first=res,
            **options,
        )
        print_table(
            summary, ["feature", "method", "splits", "accuracy_mean", "accuracy_sd", "vae_minus_mean", "vae_at_least"]
        )
        print(f"wrote {res.out_dir}/repeats.csv, repeats_summary.csv, repeats.md")
    return 0
