"""``galvae encode RUN STORE --out latents.parquet | DIR``: the latent catalogue of a store.

``--out`` ending in ``.parquet`` / ``.fits`` writes one file in this process
(:func:`galvae.latents.encode_store`); any other ``--out`` is a directory of
Parquet parts plus a manifest, written by Lightning's predict loop on
``--devices`` processes (:func:`galvae.latents.encode_store_sharded`), which
resumes where a killed run stopped.
"""

from __future__ import annotations

import argparse

from ..latents.model import INFERENCE_PRECISIONS

__all__ = ["register", "run"]

#: How many skipped images are printed.
_SHOW = 10


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae encode`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "encode",
        help="encode an image store into a latent catalogue (Parquet or FITS)",
        description=(
            "Write one row per image: id, mu_0..mu_{NL-1}, logvar_0..logvar_{NL-1}, recon_error "
            "(per-image mean squared reconstruction error of the decoded mean), outlier_sigma (largest "
            "|mu_j - mean_j| / std_j over the latents, statistics from this catalogue; median/MAD with "
            "--outlier-robust) and outlier (outlier_sigma > --outlier-k, the paper's 8-sigma defect screen). "
            "A FITS table is written when OUT ends in .fits, Parquet otherwise. Images that cannot be read "
            "(non-finite pixels) are skipped and listed; --strict stops at the first one instead."
        ),
    )
    _add_input_output_arguments(p)
    _add_encoding_arguments(p)
    _add_sharded_arguments(p)
    p.set_defaults(func=run)


def _add_input_output_arguments(p: argparse.ArgumentParser) -> None:
    """Add the run, store and ``--out`` arguments."""
    p.add_argument("run", help="run directory or exported model (model.json / model.safetensors)")
    p.add_argument(
        "store",
        help="image store (.h5) or sharded store manifest (.json) in the normalisation the model was trained on",
    )
    p.add_argument(
        "--out",
        required=True,
        help="latent catalogue: one file (.parquet or .fits), or a directory of Parquet parts plus "
        "manifest.json written by one or many processes, resumable (any other name)",
    )


def _add_encoding_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options of the encoding itself: batch, device, decoder, failures and the outlier columns."""
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    p.add_argument(
        "--precision",
        choices=INFERENCE_PRECISIONS,
        default="32",
        help="arithmetic of the forward passes: 32 (fp32), bf16-mixed (bfloat16 autocast: faster on CPUs with "
        "native bfloat16, ~3 significant digits), or auto (bf16-mixed on such a CPU, else 32); default 32; "
        "single-file output only",
    )
    p.add_argument(
        "--decoder",
        default="auto",
        metavar="SURVEY",
        help="domain-adapted runs: decoder for the reconstruction (default auto: the store's survey "
        "when the run has a decoder for it)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first image that cannot be read (non-finite pixels, damaged data), naming it "
        "(default: skip such images and list them)",
    )
    p.add_argument(
        "--outlier-k",
        type=float,
        default=8.0,
        metavar="K",
        help="the outlier column flags outlier_sigma > K (default 8, the paper's Appendix A)",
    )
    p.add_argument(
        "--no-recon-error",
        dest="recon_error",
        action="store_false",
        help="leave out the recon_error column and skip decoding: encoding runs ~2.5x faster",
    )
    p.add_argument(
        "--outlier-robust",
        action="store_true",
        help="outlier_sigma from each latent's median and 1.4826 x MAD instead of its mean and std",
    )


def _add_sharded_arguments(p: argparse.ArgumentParser) -> None:
    """Add the group of options of sharded / distributed encoding (``--out DIR``)."""
    g = p.add_argument_group(
        "sharded / distributed encoding (--out DIR)",
        "Lightning's predict loop: --devices N starts N processes on this machine; under torchrun or "
        "SLURM (srun) give the same --devices as processes per node and --num-nodes. A rerun skips the "
        "parts already written.",
    )
    g.add_argument(
        "--devices",
        type=int,
        default=1,
        metavar="N",
        help="processes (devices) per node (default 1)",
    )
    g.add_argument(
        "--accelerator",
        default=None,
        help="Lightning accelerator: cpu, gpu, auto (default: gpu when --device is cuda, else cpu)",
    )
    g.add_argument("--num-nodes", type=int, default=1, metavar="M", help="nodes (default 1)")
    g.add_argument(
        "--strategy", default="auto", help="Lightning strategy (default auto: ddp with more than one process)"
    )
    g.add_argument(
        "--shard-rows",
        type=int,
        default=None,
        metavar="N",
        help="store rows per Parquet part, the unit of work and of resuming (default 100000)",
    )
    g.add_argument(
        "--num-workers",
        type=int,
        default=0,
        metavar="W",
        help="DataLoader processes reading the store, per process (default 0)",
    )


def _single_file(out: str) -> bool:
    """A table name (.parquet, .fits, ...) is one catalogue file; any other name is a directory of parts."""
    from ..data.tables import table_format

    return table_format(out) is not None


def _run_sharded(args: argparse.Namespace) -> int:
    from ..latents.distributed import DEFAULT_SHARD_ROWS, encode_store_sharded, read_latent_manifest

    accelerator = args.accelerator or ("gpu" if str(args.device).startswith("cuda") else "cpu")
    res = encode_store_sharded(
        args.run,
        args.store,
        args.out,
        batch_size=args.batch_size,
        shard_rows=args.shard_rows or DEFAULT_SHARD_ROWS,
        accelerator=accelerator,
        devices=args.devices,
        num_nodes=args.num_nodes,
        strategy=args.strategy,
        num_workers=args.num_workers,
        decoder=args.decoder,
        overwrite=args.overwrite,
        progress=args.progress,
        strict=args.strict,
        outlier_k=args.outlier_k,
        outlier_robust=args.outlier_robust,
        recon_error=args.recon_error,
    )
    if res.global_rank != 0:
        return 0
    man = read_latent_manifest(res.manifest)
    meta = man["metadata"]
    flag = meta.get("outlier") or {}
    what = (
        "already complete, nothing encoded"
        if res.parts_encoded == 0 and res.n_rows < 0
        else f"{res.parts_encoded} parts encoded, {res.parts_resumed} resumed from disk, "
        f"{res.world_size} process(es), {res.seconds:.1f} s"
    )
    print(
        f"wrote latent catalogue {args.out} ({man['n_rows']} rows in {man['n_parts']} Parquet parts + "
        f"manifest.json; {what}): {flag.get('n_flagged', 0)} beyond {flag.get('k', args.outlier_k):g} sigma "
        "(column 'outlier')"
    )
    _print_skipped(meta)
    return 0


def _print_skipped(meta: dict) -> None:
    skipped = meta.get("skipped") or []
    if skipped:
        print(f"{len(skipped)} images skipped, not encoded (all listed under 'skipped' in the catalogue metadata):")
        for gid, reason in skipped[:_SHOW]:
            print(f"  {gid}: {reason}")


def run(args: argparse.Namespace) -> int:
    """Run ``galvae encode`` with the parsed ``args``; returns the exit status."""
    from ..errors import GalvaeValueError
    from ..latents.catalog import encode_store, read_latent_catalog
    from ..latents.model import GalaxyVAE

    distributed = args.devices != 1 or args.num_nodes != 1 or args.shard_rows is not None
    if not _single_file(args.out):
        if args.precision != "32":
            raise GalvaeValueError(
                "--precision: the sharded encoder (a directory --out) runs in fp32; give a single file for bf16-mixed",
                args.precision,
            )
        return _run_sharded(args)
    if distributed:
        raise GalvaeValueError(
            "--out: --devices/--num-nodes/--shard-rows write a directory of Parquet parts; give a directory "
            "name, not a single file",
            args.out,
        )

    model = (
        args.run if args.precision == "32" else GalaxyVAE.load(args.run, device=args.device, precision=args.precision)
    )
    out = encode_store(
        model,
        args.store,
        args.out,
        batch_size=args.batch_size,
        device=args.device,
        decoder=args.decoder,
        overwrite=args.overwrite,
        progress=args.progress,
        strict=args.strict,
        outlier_k=args.outlier_k,
        outlier_robust=args.outlier_robust,
        recon_error=args.recon_error,
    )
    meta = read_latent_catalog(out)[1]
    flag = meta.get("outlier") or {}
    print(
        f"wrote latent catalogue {out}: {flag.get('n_flagged', 0)} of {flag.get('n_rows', 0)} galaxies "
        f"beyond {args.outlier_k:g} sigma (column 'outlier')"
    )
    _print_skipped(meta)
    return 0
