"""``galvae adapt RUN SOURCE_STORE TARGET_STORE --out RUN_DA``: domain adaptation (the paper's Section 5.2)."""

from __future__ import annotations

import argparse

from ._options import add_config_option, add_later
from .train import add_checkpoint_arguments, add_guard_arguments, add_hardware_arguments

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae adapt`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "adapt",
        help="adapt a trained VAE to a second survey: shared encoder, one decoder per survey, MMD² on the latents",
        description=(
            "Fine-tune a trained run on the galaxies both stores hold (matched by id) with the paper's eq. 6: "
            "L_VAE(source) + L_VAE(target) + lambda * MMD²(source latents, target latents). The encoder is shared; "
            "each survey gets its own decoder, both starting from the trained one. RUN_DA is a normal run "
            "directory: 'galvae encode RUN_DA STORE' works on either survey, and "
            "'galvae generate RUN_DA --decoder SURVEY' renders mocks as that survey sees them."
        ),
    )
    add_later(p, _add_arguments)  # defaults and choices from AdaptConfig, imported when used
    p.set_defaults(func=run)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    from ..training.config import AdaptConfig

    p.add_argument("run", help="trained run directory (or exported model.json) to start from")
    p.add_argument("source_store", help="image store of the source survey (e.g. DECaLS)")
    p.add_argument("target_store", help="image store of the target survey (e.g. BASS+MzLS)")
    p.add_argument("--out", required=True, metavar="RUN_DA", help="new run directory")
    add_config_option(
        p,
        AdaptConfig,
        "lam",
        "--lambda",
        dest="lam",
        help="weight of MMD² in the loss (default %(default)s, the paper's eq. 6)",
    )
    add_config_option(p, AdaptConfig, "mmd_on", help="compare latent means (mu) or sampled latents (z)")
    add_config_option(
        p,
        AdaptConfig,
        "pair_weight",
        help="option: weight of a paired-latent term pulling each galaxy's two latent means together "
        "(default %(default)s, the paper's loss)",
    )
    add_config_option(p, AdaptConfig, "epochs", help="fine-tuning epochs")
    add_config_option(
        p,
        AdaptConfig,
        "batch_size",
        help="galaxy pairs per step over all processes (default %(default)s); with P processes each takes batch-size/P",
    )
    add_config_option(p, AdaptConfig, "lr", help="Adam learning rate")
    add_config_option(p, AdaptConfig, "seed", help="seed of the split, data order and sampling noise")
    add_config_option(p, AdaptConfig, "val_fraction", help="fraction of pairs held out for validation")
    add_config_option(
        p,
        AdaptConfig,
        "test_fraction",
        help="fraction of pairs held out from training and validation (split.json test_ids; "
        "compare-domains measures the alignment on them)",
    )
    add_config_option(
        p,
        AdaptConfig,
        "monitor",
        help="validation metric that early stopping and --export best minimise: eq. 6 (val_loss) or the "
        "paired over mismatched latent MSE of the validation pairs (val_pair_ratio)",
    )
    add_config_option(
        p,
        AdaptConfig,
        "early_stopping",
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without a better --monitor",
    )
    add_config_option(
        p,
        AdaptConfig,
        "decoder_epochs",
        help="then train only the decoders this many epochs, the encoder (every latent) frozen at the exported "
        "epoch (RUN_DA/decoders/)",
    )
    add_config_option(
        p,
        AdaptConfig,
        "export",
        help="checkpoint to export: end of the last epoch (last) or lowest --monitor (best)",
    )
    p.add_argument(
        "--source-name", default=None, help="decoder name of the source survey (default: its store's survey)"
    )
    p.add_argument(
        "--target-name", default=None, help="decoder name of the target survey (default: its store's survey)"
    )
    add_hardware_arguments(p, AdaptConfig)
    add_guard_arguments(p, AdaptConfig)
    add_checkpoint_arguments(p, AdaptConfig)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue RUN_DA from RUN_DA/checkpoints/last.ckpt (a damaged one falls back to last-1.ckpt, "
        "..., then best.ckpt, with a warning)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing RUN_DA")


def run(args: argparse.Namespace) -> int:
    """Run ``galvae adapt`` with the parsed ``args``; returns the exit status."""
    from ..training.adapt import adapt
    from .train import _devices, is_rank_zero, run_interruptible

    status, res = run_interruptible(
        "adapt",
        lambda: adapt(
            args.run,
            args.source_store,
            args.target_store,
            args.out,
            lam=args.lam,
            mmd_on=args.mmd_on,
            pair_weight=args.pair_weight,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            val_fraction=args.val_fraction,
            test_fraction=args.test_fraction,
            monitor=args.monitor,
            early_stopping=args.early_stopping,
            decoder_epochs=args.decoder_epochs,
            export=args.export,
            precision=args.precision,
            accelerator=args.accelerator,
            devices=_devices(args.devices),
            strategy=args.strategy,
            num_nodes=args.num_nodes,
            num_workers=args.workers,
            max_nonfinite_batches=args.max_nonfinite_batches,
            keep_last=args.keep_last,
            source_name=args.source_name,
            target_name=args.target_name,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=args.progress,
        ),
    )
    if status:
        return status
    if not is_rank_zero():
        return 0
    print(
        f"matched {res.n_pairs} galaxies in both stores ({res.n_source_only} only in the source store, "
        f"{res.n_target_only} only in the target store; listed in {res.run_dir / 'matching.json'})"
    )
    print(
        f"adapted {res.epochs} epochs ({res.global_step} steps); best validation loss {res.best_val_loss:.4g}"
        + (f", best {res.monitor} {res.best_score:.4g}" if res.monitor != "val_loss" else "")
        + "; "
        f"decoders {', '.join(res.surveys)}; model in {res.model_path}"
    )
    return 0
