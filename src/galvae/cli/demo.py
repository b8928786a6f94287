"""``galvae demo [--out DIR] [--quick]``: the whole paper on the built-in simulated surveys."""

from __future__ import annotations

import argparse
import sys

from ._options import add_later, comma_floats

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae demo`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "demo",
        help="run the whole paper on the built-in simulated surveys and write an HTML report",
        description=(
            "simulate (DECaLS-like sample + BASS+MzLS overlap) -> labels -> train (NL=40) -> reduced latent sweep "
            "-> encode -> classify (Table 3 + baselines) -> outliers -> adapt -> compare domains (Table 4, Fig. 5) "
            "-> mock images -> report.html. 6-13 minutes on an idle 2-core CPU (the longer without native "
            "bfloat16); --quick under a minute. "
            "Finished stages are reused on a second run unless --force."
        ),
    )
    p.add_argument("--out", default="galvae-demo", help="output directory (default galvae-demo)")
    p.add_argument("--quick", action="store_true", help="tiny configuration: 32-pixel images, 300 galaxies")
    p.add_argument(
        "--force", action="store_true", help="run every stage again, even when a finished one could be reused"
    )
    add_later(p, _add_config_arguments)  # defaults from DemoConfig and QUICK, imported when used
    p.set_defaults(func=run)


def _add_config_arguments(p: argparse.ArgumentParser) -> None:
    """The options that override a :class:`~galvae.demo.DemoConfig` field; their help shows its default and QUICK's."""
    from ..data.presentation import PROFILES
    from ..demo import PRECISIONS, QUICK, DemoConfig
    from ..models.config import LIKELIHOODS, LOSSES, OUTPUTS

    full = DemoConfig()

    def default(name: str) -> str:
        a, q = getattr(full, name), getattr(QUICK, name)
        return f"default {a}" + (f"; quick {q}" if q != a else "")

    def option(flag: str, name: str, help: str, **kwargs: object) -> None:
        p.add_argument(flag, dest=name, default=None, help=f"{help} ({default(name)})", **kwargs)

    option("--n-galaxies", "n_galaxies", "galaxies of the DECaLS-like sample", type=int)
    option("--overlap", "overlap", "of which also seen by BASS+MzLS", type=int)
    option("--size", "size", "image side in pixels", type=int)
    option("--epochs", "epochs", "VAE training epochs", type=int)
    option("--batch-size", "batch_size", "galaxies per step of the VAE and the sweep", type=int)
    p.add_argument(
        "--sweep-dims",
        dest="sweep_dims",
        default=None,
        metavar="NL,NL,...",
        help=f"latent dimensions of the sweep, comma-separated ({default('sweep_dims')}; the paper's: "
        "10,20,40,60,80,100)",
    )
    p.add_argument(
        "--sweep-losses",
        dest="sweep_losses",
        default=None,
        metavar="LOSS,...",
        help="losses the sweep trains each NL with, comma-separated: mse, mae (default the main model's --loss; "
        "mse,mae: the paper's Fig. 3; each loss adds the sweep's time)",
    )
    option(
        "--sweep-epochs",
        "sweep_epochs",
        "epochs each sweep model trains (= --epochs: converged models, the main model serving its own NL; "
        "each other NL then costs a main model's training)",
        type=int,
    )
    option(
        "--sweep-repeats",
        "sweep_repeats",
        "models per NL in the sweep (their mean SSIM locates the knee; each repeat adds the sweep's time)",
        type=int,
    )
    option("--adapt-epochs", "adapt_epochs", "most domain-adaptation epochs", type=int)
    option(
        "--adapt-patience",
        "adapt_patience",
        "adaptation epochs without a better validation paired / mismatched latent MSE before it stops",
        type=int,
    )
    option(
        "--adapt-decoder-epochs",
        "adapt_decoder_epochs",
        "then the adaptation's decoders alone, the encoder frozen at the chosen epoch",
        type=int,
    )
    option("--adapt-lr", "adapt_lr", "Adam's learning rate of the adaptation and its control", type=float)
    option("--lambda", "lam", "MMD² weight of eq. 6", type=float)
    option(
        "--pair-weight",
        "pair_weight",
        "weight of the paired term of adaptation (the same galaxy's latents in both surveys pulled together; "
        "0 = the paper's eq. 6 alone)",
        type=float,
    )
    option(
        "--profile",
        "profile",
        "presentation of the simulated images: gz-decals = Galaxy Zoo DECaLS fields, stretch and desaturation, "
        "the paper's images; fixed = one 16.8 arcsec field at the native pixels",
        choices=PROFILES,
    )
    option(
        "--field-fraction",
        "field_fraction",
        "gz-decals: side of the centre crop of each galaxy's Galaxy Zoo field the images keep (1 = the whole "
        "424-pixel field, ~8.5 p90 across; 0.75 at --size 48 has the pixels of the whole field at 64; "
        "benchmarks/field_fraction.md)",
        type=float,
    )
    option(
        "--min-p50",
        "min_p50",
        "the simulated sample's size cut, Petrosian p50 in arcsec (4 with --size-scatter 0.45, the defaults: the "
        "real Galaxy Zoo DECaLS frame sizes; 3 and 0.3: the former sample)",
        type=float,
    )
    option("--size-scatter", "size_scatter", "scatter (ln) of the simulated sizes at fixed magnitude", type=float)
    option(
        "--bar-by-bulge",
        "bar_by_bulge",
        "barred fraction of face-on discs per bulge-size class (dominant, large, moderate, small, none) relative "
        "to the overall one, comma-separated; 1,1,1,1,1 draws bars independently of bulges",
        type=comma_floats,
        metavar="W,W,W,W,W",
    )
    option(
        "--ansae",
        "ansae",
        "fractions of bars ending in ansae in barred discs without spiral arms and in barred spirals with "
        "B/T >= 0.25, comma-separated; 0,0 for none (simulator revision 12)",
        type=comma_floats,
        metavar="F,F",
    )
    option(
        "--likelihood",
        "likelihood",
        "VAE reconstruction term: gaussian (a Gaussian decoder at the stores' sky noise), sum (the paper's eq. 2 "
        "as written) or mean",
        choices=LIKELIHOODS,
    )
    option(
        "--loss",
        "loss",
        "VAE reconstruction loss per pixel: mse (a Gaussian decoder, the paper's) or mae (a Laplace decoder); "
        "main model, sweep and adaptation",
        choices=LOSSES,
    )
    option(
        "--colour-weight",
        "colour_weight",
        "weight a of the colour residuals in the VAE's likelihood (bands rotated to luminance and two colours; "
        "1 = unchanged, as in the paper)",
        type=float,
    )
    option(
        "--detail-weight",
        "detail_weight",
        "weight b of the residuals' fine part in the VAE's likelihood (what a Gaussian blur of --detail-scale "
        "removes: bars, arms, a bulge's edge; 1 = unchanged, as in the paper)",
        type=float,
    )
    option(
        "--detail-scale",
        "detail_scale",
        "sigma of that blur as a fraction of the image side",
        type=float,
    )
    option(
        "--output",
        "output",
        "the VAE decoder's last layer: relu (the paper's) or linear",
        choices=OUTPUTS,
    )
    option(
        "--vae-channels",
        "vae_channels",
        "output channels of the VAE's encoder blocks, mirrored by its decoder (32 64 128: the paper's three blocks)",
        type=int,
        nargs="+",
        metavar="C",
    )
    option(
        "--augment",
        "augment",
        "turn and mirror the VAE's training images at random (main model and sweep; --no-augment: the paper's recipe)",
        action=argparse.BooleanOptionalAction,
    )
    option(
        "--centre-window",
        "centre_window",
        "sigma of the Gaussian window on the VAE's reconstruction term, as a fraction of the image side "
        "(default: 0.2 with --profile gz-decals, 0 with fixed; 0: every pixel alike, as in the paper)",
        type=float,
    )
    option("--seed", "seed", "seed of every stage", type=int)
    option("--workers", "workers", "simulation processes", type=int)
    option(
        "--precision",
        "precision",
        "training precision; auto = bf16-mixed on a CPU with native bfloat16, else 32",
        choices=PRECISIONS,
    )
    option("--accelerator", "accelerator", "lightning accelerator for training: auto, cpu, gpu")
    option("--device", "device", "torch device for encoding and baselines")
    option(
        "--real",
        "real_images",
        "folder of real Galaxy Zoo DECaLS colour images: the report compares the simulated images with them",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``galvae demo`` with the parsed ``args``; returns the exit status."""
    from ..demo import QUICK, DemoConfig, StageEvent, run_demo, with_overrides
    from ._eval_common import comma_ints, comma_list

    base = QUICK if args.quick else DemoConfig()
    cfg = with_overrides(
        base,
        n_galaxies=args.n_galaxies,
        overlap=args.overlap,
        size=args.size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        sweep_dims=None if args.sweep_dims is None else tuple(comma_ints(args.sweep_dims, "--sweep-dims")),
        sweep_losses=None if args.sweep_losses is None else tuple(comma_list(args.sweep_losses)),
        sweep_epochs=args.sweep_epochs,
        sweep_repeats=args.sweep_repeats,
        adapt_epochs=args.adapt_epochs,
        adapt_patience=args.adapt_patience,
        adapt_decoder_epochs=args.adapt_decoder_epochs,
        adapt_lr=args.adapt_lr,
        lam=args.lam,
        pair_weight=args.pair_weight,
        seed=args.seed,
        workers=args.workers,
        profile=args.profile,
        field_fraction=args.field_fraction,
        min_p50=args.min_p50,
        size_scatter=args.size_scatter,
        bar_by_bulge=args.bar_by_bulge,
        ansae=args.ansae,
        likelihood=args.likelihood,
        loss=args.loss,
        colour_weight=args.colour_weight,
        detail_weight=args.detail_weight,
        detail_scale=args.detail_scale,
        output=args.output,
        vae_channels=None if args.vae_channels is None else tuple(args.vae_channels),
        augment=args.augment,
        centre_window=args.centre_window,
        accelerator=args.accelerator,
        precision=args.precision,
        device=args.device,
        real_images=args.real_images,
    )

    def show(ev: StageEvent) -> None:
        head = f"[{ev.index:2d}/{ev.total}] {ev.stage:<9}"
        if ev.status == "start":
            print(f"{head} running ...", file=sys.stderr, flush=True)
        elif ev.status == "done":
            print(f"{head} done in {ev.seconds:.1f} s", file=sys.stderr, flush=True)
        else:
            print(f"{head} reused (took {ev.seconds:.1f} s when it ran; --force to redo)", file=sys.stderr, flush=True)

    res = run_demo(args.out, cfg, force=args.force, progress=args.progress, callback=show)
    total = sum(res.seconds.values())
    print(
        f"demo finished: {len(res.seconds) - len(res.cached)} stages run, {len(res.cached)} reused; "
        f"stage time {total:.0f} s"
    )
    s = res.summary
    if s.get("mmd2"):
        print(f"MMD² between the surveys' latents: {s['mmd2']}")
    if s.get("median_pair_mse"):
        print(f"median paired latent MSE: {s['median_pair_mse']}")
    if s.get("heldout_paired_over_random"):
        h = s["heldout_paired_over_random"]
        print(
            f"paired over random-pair latent MSE, test pairs (neither trained on nor used to stop): {h['before']:.3g} -> "
            f"{h['after']:.3g} ({h['before'] / h['after']:.2f}x lower)"
        )
        if h.get("control"):
            print(
                f"  the same fine-tuning without MMD² and the paired term (control): {h['control']:.3g} "
                f"({h['before'] / h['control']:.2f}x lower); adaptation over the control {h['control'] / h['after']:.2f}x"
            )
    if s.get("translation_ssim"):
        t = s["translation_ssim"]
        print(
            "translation DECaLS -> BASS+MzLS, SSIM against the real images: "
            + ", ".join(f"{k} {v:.3f}" for k, v in t.items())
        )
    if "outliers_flagged_fraction" in s:
        print(f"8-sigma outliers: {100 * float(s['outliers_flagged_fraction']):.3f} % (paper: 0.417 %)")
    print(f"report: {res.report}")
    return 0
