"""Domain adaptation: training throughput (pairs/s) and what it does to the latents of the overlap pairs.

Run:  .venv/bin/python benchmarks/bench_adapt.py [--pairs 256] [--repeat 3] [--size 32] [--lams 0,0.5,5]
Writes benchmarks/adapt.json and benchmarks/adapt.md.  Timings live here, never in tests.

1. Throughput: the optimisation step of ``galvae adapt`` (a batch of 32 source and 32 target images
   through the shared encoder and the two decoders, eq. 6 loss with λ MMD², backward, Adam step) on
   CPU at S=64, NL=40, default channels, on random images; ``--pairs`` pairs per measurement
   (pairs / 32 steps after one warm-up step), best of ``--repeat``.  One pair is two images.
2. Effect: on two simulated overlap sets — the "gap" test bed of tests/test_adapt_effect.py (DECaLS
   vs a made-up shallow survey: PSF FWHM 2.0″, depth 22.8, zero point 21.5, i.e. image units 2.5×
   brighter than nanomaggies) and the built-in surveys ("decals", "bass_mzls") — a base VAE is trained
   on the source survey, then ``adapt`` runs for each λ, and the MMD² of the latent means μ of all
   overlap pairs (as ``compare-domains``; its cross term includes each galaxy's own pair, so it also
   shrinks as pairs get close), the MMD² between the source μ of the first half of the pairs and the
   target μ of the second half (disjoint galaxies: the distribution gap only, as the tests use), the
   median over galaxies of the paired latent MSE (mean over NL of (μ_s − μ_t)²) and the source
   reconstruction SSIM are reported before and after.  These are in-sample figures
   (adapt trains on 80 % of the pairs), from one simulation and training seed each.

The machine may be shared: the load average at the start is recorded and timings are best of N.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from _common import cpu_model
from galvae import __version__
from galvae.data.store import ImageStore
from galvae.evaluate.ssim import ssim
from galvae.latents.model import GalaxyVAE
from galvae.losses.mmd import mmd2
from galvae.models.config import ModelConfig
from galvae.simulate.core import simulate
from galvae.simulate.surveys import BandConfig, SurveyConfig
from galvae.training.adapt import DAModule, adapt
from galvae.training.train import train

GAP_SURVEY = SurveyConfig(
    name="shallow",
    description="test bed: worse seeing, shallower, calibration offset (image units 2.5x nanomaggies)",
    bands=tuple(  # type: ignore[arg-type]
        BandConfig(b, psf_fwhm_arcsec=2.0, depth_mag=22.8, zero_point=21.5) for b in "grz"
    ),
)


def throughput(pairs: int, repeat: int, batch: int = 32, size: int = 64, nl: int = 40) -> dict:
    """Pairs per second of the adapt optimisation step on CPU (random images)."""
    torch.manual_seed(0)
    module = DAModule({"size": size, "latent_dim": nl}, ["decals", "bass_mzls"], lam=0.5)
    cfg: ModelConfig = module.config
    module.train()
    opt = module.configure_optimizers()
    steps = max(1, pairs // batch)
    xs = torch.rand(batch, 3, size, size)
    xt = torch.rand(batch, 3, size, size)

    def step() -> None:
        from galvae.losses.adaptation import adaptation_loss

        rs, mus, lvs, _ = module._survey(xs, "decals")
        rt, mut, lvt, _ = module._survey(xt, "bass_mzls")
        terms = adaptation_loss(
            (rs, xs, mus, lvs), (rt, xt, mut, lvt), lam=module.lam, loss=cfg.loss, kl_weight=cfg.kl_weight
        )
        opt.zero_grad(set_to_none=True)
        terms.loss.backward()
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        times.append(time.perf_counter() - t0)
    n = steps * batch
    best = min(times)
    return {
        "size": size,
        "latent_dim": nl,
        "channels": list(cfg.channels),
        "batch_pairs": batch,
        "pairs": n,
        "torch_threads": torch.get_num_threads(),
        "seconds": round(best, 2),
        "pairs_per_s": round(n / best, 1),
        "images_per_s": round(2 * n / best, 1),
        "all_seconds": [round(t, 2) for t in times],
    }


def _latent_metrics(run: Path, xs: np.ndarray, xt: np.ndarray) -> dict:
    m = GalaxyVAE.load(run)
    ms, mt = m.encode(xs), m.encode(xt)
    h = ms.shape[0] // 2
    return {
        "mmd2": mmd2(ms, mt),
        "mmd2_disjoint": mmd2(ms[:h], mt[h:]),
        "median_pair_mse": float(np.median(((ms - mt) ** 2).mean(axis=1))),
        "source_ssim": float(ssim(xs, m.reconstruct(xs)).mean()),
    }


def effect(bed: str, surveys: tuple, args: argparse.Namespace, tmp: Path) -> dict:
    """Before/after latent gap on one simulated overlap set."""
    d = tmp / bed
    t0 = time.perf_counter()
    simulate(
        d,
        n_galaxies=args.n_galaxies,
        overlap=args.overlap,
        size=args.size,
        seed=args.seed,
        workers=2,
        progress=False,
        surveys=surveys,
    )
    t1 = time.perf_counter()
    names = [s if isinstance(s, str) else s.name for s in surveys]
    src, tgt = d / f"{names[0]}.h5", d / f"{names[1]}.h5"
    train(src, tmp / f"{bed}_base", epochs=args.train_epochs, seed=args.seed, progress=False)
    t2 = time.perf_counter()
    with ImageStore(src) as s, ImageStore(tgt) as t:
        ids = np.intersect1d(s.ids, t.ids)
        xs, xt = s.read(s.index_of(ids)), t.read(t.index_of(ids))
    before = _latent_metrics(tmp / f"{bed}_base", xs, xt)
    rows = []
    for lam in args.lams:
        t3 = time.perf_counter()
        adapt(
            tmp / f"{bed}_base",
            src,
            tgt,
            tmp / f"{bed}_da_{lam}",
            lam=lam,
            epochs=args.adapt_epochs,
            seed=args.seed,
            progress=False,
        )
        dt = time.perf_counter() - t3
        after = _latent_metrics(tmp / f"{bed}_da_{lam}", xs, xt)
        rows.append({"lam": lam, "adapt_seconds": round(dt, 1), **{k: round(v, 6) for k, v in after.items()}})
        print(
            f"{bed} λ={lam}: MMD² {before['mmd2']:.4f} -> {after['mmd2']:.4f} (disjoint "
            f"{before['mmd2_disjoint']:.4f} -> {after['mmd2_disjoint']:.4f}), median pair MSE "
            f"{before['median_pair_mse']:.5f} -> {after['median_pair_mse']:.5f}, source SSIM "
            f"{before['source_ssim']:.3f} -> {after['source_ssim']:.3f} ({dt:.0f} s)",
            flush=True,
        )
    return {
        "bed": bed,
        "surveys": names,
        "pairs": int(ids.size),
        "simulate_seconds": round(t1 - t0, 1),
        "train_seconds": round(t2 - t1, 1),
        "before": {k: round(v, 6) for k, v in before.items()},
        "after": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=256, help="pairs per throughput measurement (default 256)")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs, best reported (default 3)")
    parser.add_argument("--size", type=int, default=32, help="image side of the effect test beds (default 32)")
    parser.add_argument("--n-galaxies", type=int, default=400, help="source galaxies (default 400)")
    parser.add_argument("--overlap", type=int, default=300, help="of which seen by both surveys (default 300)")
    parser.add_argument("--train-epochs", type=int, default=40, help="base VAE epochs (default 40)")
    parser.add_argument("--adapt-epochs", type=int, default=20, help="adapt epochs (default 20)")
    parser.add_argument(
        "--lams",
        type=lambda s: [float(v) for v in s.split(",")],
        default=[0.0, 0.5, 5.0],
        help="comma-separated λ values (default 0,0.5,5)",
    )
    parser.add_argument("--seed", type=int, default=0, help="simulation, training and adapt seed (default 0)")
    parser.add_argument("--skip-effect", action="store_true", help="throughput only")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    here = Path(__file__).parent
    load = os.getloadavg()[0]
    t = throughput(args.pairs, args.repeat)
    print(
        f"throughput: {t['pairs_per_s']} pairs/s ({t['images_per_s']} images/s), best of {args.repeat} runs of "
        f"{t['pairs']} pairs: {t['all_seconds']} s",
        flush=True,
    )
    beds = []
    if not args.skip_effect:
        with tempfile.TemporaryDirectory() as tmp:
            beds.append(effect("gap", ("decals", GAP_SURVEY), args, Path(tmp)))
            beds.append(effect("default", ("decals", "bass_mzls"), args, Path(tmp)))
    result = {
        "benchmark": "adapt: optimisation-step throughput (CPU, S=64, NL=40, batch 32 pairs) and the latent gap "
        "of overlap pairs before/after adaptation",
        "galvae_version": __version__,
        "torch_version": torch.__version__,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": round(load, 2),
        "settings": {k: v for k, v in vars(args).items()},
        "throughput": t,
        "effect": beds,
    }
    (here / "adapt.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Domain adaptation: throughput and effect",
        "",
        f"galvae {__version__}, torch {torch.__version__}; {result['cpu']}, {result['cores']} cores; "
        f"load average {load:.2f} at the start (the machine may be shared: timings are noisy, best of "
        f"{args.repeat} runs reported).",
        "",
        "## Throughput",
        "",
        "One optimisation step of `galvae adapt` (shared encoder, two decoders, eq. 6 with λ = 0.5, backward, Adam) "
        f"on random images; {t['torch_threads']} torch threads.",
        "",
        "| S | NL | batch (pairs) | pairs | seconds (best) | pairs/s | images/s | all runs (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {t['size']} | {t['latent_dim']} | {t['batch_pairs']} | {t['pairs']} | {t['seconds']} | {t['pairs_per_s']} "
        f"| {t['images_per_s']} | {', '.join(map(str, t['all_seconds']))} |",
        "",
    ]
    if beds:
        lines += [
            "## Effect on the overlap pairs",
            "",
            f"S = {args.size}, {args.n_galaxies} source galaxies of which {args.overlap} in the overlap; base VAE "
            f"{args.train_epochs} epochs on the source survey; `adapt` {args.adapt_epochs} epochs (lr 1e-3, batch 32, "
            f"seed {args.seed}).  MMD² of the latent means and the median paired latent MSE over all overlap pairs "
            '(in-sample; "disjoint": source μ of one half against target μ of the other), source SSIM of '
            "the source survey's reconstructions.  One seed: see "
            "tests/test_adapt_effect.py for the spread over seeds.  The exported model is `adapt`'s best-validation "
            "epoch (the tests export the final epoch instead).",
            "",
            "| test bed | λ | MMD² before | after | MMD² disjoint before | after | median pair MSE before | after "
            "| source SSIM before | after | adapt s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for b in beds:
            bb = b["before"]
            for r in b["after"]:
                lines.append(
                    f"| {b['bed']} ({' vs '.join(b['surveys'])}) | {r['lam']} | {bb['mmd2']:.4f} | "
                    f"{r['mmd2']:.4f} | {bb['mmd2_disjoint']:.4f} | {r['mmd2_disjoint']:.4f} | "
                    f"{bb['median_pair_mse']:.5f} | {r['median_pair_mse']:.5f} | "
                    f"{bb['source_ssim']:.3f} | {r['source_ssim']:.3f} | {r['adapt_seconds']} |"
                )
        lines.append("")
    (here / "adapt.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
