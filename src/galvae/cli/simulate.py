"""``galvae simulate OUT``: render the built-in simulated surveys (GalSim)."""

from __future__ import annotations

import argparse

from ._options import add_config_option, add_later, comma_floats

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``galvae simulate`` and its options to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "simulate",
        help="render simulated DECaLS and BASS+MzLS images of the same galaxies (GalSim)",
        description=(
            "Render N galaxies with Main-Galaxy-Sample-like magnitudes, sizes and morphologies as seen "
            "by a DECaLS-like survey, and the first M of them (the overlap footprint) again as seen by "
            "BASS+MzLS. Writes OUT/<survey>.h5 image stores (ids match across surveys), "
            "OUT/catalog.parquet (id, ra, dec, truth_*, defect, Galaxy Zoo DECaLS vote fractions) and "
            "OUT/simulation.json. The same seed gives identical files whatever --workers is."
        ),
    )
    add_later(p, _add_config_arguments)  # defaults from SimulationConfig, imported (with GalSim) when used
    p.set_defaults(func=run)


def _add_config_arguments(p: argparse.ArgumentParser) -> None:
    from ..data.presentation import PROFILES
    from ..simulate.core import SimulationConfig

    p.add_argument("out", help="output directory")
    add_config_option(p, SimulationConfig, "n_galaxies", help="galaxies in the first survey")
    add_config_option(
        p, SimulationConfig, "overlap", help="galaxies also seen by the other survey(s) (default 20%% of N)"
    )
    add_config_option(p, SimulationConfig, "size", help="side of the stored images in pixels, a multiple of 8")
    add_config_option(p, SimulationConfig, "seed", help="random seed")
    p.add_argument("--workers", type=int, help="processes rendering (default: all cores)")
    p.add_argument(
        "--surveys",
        default="decals,bass_mzls",
        help="comma-separated built-in survey names or survey .toml/.json files; the first sees every "
        "galaxy (default decals,bass_mzls)",
    )
    add_config_option(
        p,
        SimulationConfig,
        "fov_arcsec",
        "--fov",
        help="field of view in arcsec of the 'fixed' profile (64 x 0.262)",
    )
    add_config_option(
        p,
        SimulationConfig,
        "profile",
        choices=PROFILES,
        help="presentation: 'fixed' = one field for every galaxy and galvae's asinh stretch; 'gz-decals' = "
        "each galaxy on the field Galaxy Zoo DECaLS gives it (424 x max(min(0.04 p50, 0.02 p90), 0.1) arcsec) "
        "with the Galaxy Zoo DECaLS stretch and desaturation applied before the resize, i.e. the images the paper "
        "trained on",
    )
    add_config_option(
        p,
        SimulationConfig,
        "field_fraction",
        type=float,
        help="gz-decals: side of the centre crop of each galaxy's Galaxy Zoo field the images keep (1 = the whole "
        "424-pixel field, ~8.5 p90 across; 0.5 = its central half, with pixels half the size at the same --size); "
        "the votes still follow the whole field volunteers saw",
    )
    add_config_option(p, SimulationConfig, "defect_fraction", help="fraction of images with a planted defect")
    from ..simulate.field import FieldConfig
    from ..simulate.morphology import MorphologyConfig

    m = MorphologyConfig()
    p.add_argument(
        "--min-p50",
        type=float,
        default=m.min_petro_th50_arcsec,
        metavar="ARCSEC",
        help="the sample's size cut: every galaxy's Petrosian p50 passes this (default %(default)s; with "
        "--size-scatter 0.45 it matches the frame sizes, sky noise and neighbour counts of real Galaxy Zoo "
        "DECaLS images; 3 with --size-scatter 0.3 is the former sample: see galvae.simulate.morphology)",
    )
    p.add_argument(
        "--size-scatter",
        type=float,
        default=m.hlr_scatter,
        metavar="LN",
        help="log-normal scatter (in ln) of the half-light radius at fixed magnitude (default %(default)s)",
    )
    p.add_argument(
        "--bar-by-bulge",
        type=comma_floats,
        default=m.bar_by_bulge,
        metavar="W,W,W,W,W",
        help="barred fraction of face-on discs per bulge-size class (dominant, large, moderate, small, none) "
        f"relative to the overall one (default {','.join(f'{w:g}' for w in m.bar_by_bulge)}: bars go with bulges, "
        "Masters et al. 2011; "
        "1,1,1,1,1 draws them independently)",
    )
    p.add_argument(
        "--disc-breaks",
        type=comma_floats,
        default=m.disc_break,
        metavar="I,II,III",
        help="fractions of discs with spiral arms whose outer profile is one exponential (Type I), bends down "
        f"(II) or up (III) (default {','.join(f'{w:g}' for w in m.disc_break)}: Pohlen & Trujillo 2006; "
        "1,0,0 draws unbroken discs, as before simulator revision 7)",
    )
    p.add_argument(
        "--disc-breaks-armless",
        type=comma_floats,
        default=m.disc_break_armless,
        metavar="I,II,III",
        help="the same for discs without arms (default a third each: field S0s, Erwin et al. 2012)",
    )
    p.add_argument(
        "--ansae",
        type=comma_floats,
        default=m.ansae,
        metavar="F,F",
        help="fractions of bars ending in ansae in barred discs without spiral arms and in barred spirals with "
        f"B/T >= 0.25 (default {','.join(f'{w:g}' for w in m.ansae)}: Martinez-Valpuesta et al. 2007; 0,0 for "
        "none, as before simulator revision 13)",
    )
    p.add_argument(
        "--stars-per-deg2",
        type=float,
        default=FieldConfig().star_n_at_21,
        metavar="N",
        help="field stars brighter than r = 21 per square degree (default %(default)s: SDSS counts at Galactic "
        "latitudes 49-64 deg, Chen et al. 2001; lower towards the poles, higher towards the plane; 0 for no stars)",
    )
    p.add_argument(
        "--companions-r0",
        type=float,
        default=FieldConfig().companion_r0,
        metavar="MPC",
        help="draw each galaxy's own group around it with this correlation length (comoving h^-1 Mpc; 5 with the "
        "slope 1.8 is SDSS Main-sample clustering, Zehavi et al. 2011; default %(default)s: none, see "
        "galvae.simulate.field for what they cost the latents)",
    )
    p.add_argument(
        "--defect-kinds",
        help="comma-separated defect kinds to plant, equally often (default: all, weighted as "
        "galvae.simulate.DefectConfig: bright_star, satellite_trail, missing_band, bleed_trail, chip_edge)",
    )
    p.add_argument(
        "--votes-from-truth",
        action="store_true",
        help="simulated volunteers vote from the truth (older clarity model) instead of from each "
        "feature's measured visibility in the Galaxy Zoo presentation (faster, but votes may name "
        "features the pixels do not show)",
    )
    p.add_argument(
        "--balance", action="store_true", help="draw morphology classes uniformly instead of with sky frequencies"
    )
    p.add_argument(
        "--shard-size",
        type=int,
        metavar="N",
        help="write each survey as HDF5 shards of at most N images plus a manifest OUT/SURVEY.json "
        "(counts, sha256 checksums), usable wherever a store is (default: one OUT/SURVEY.h5)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing stores and catalogue")


def run(args: argparse.Namespace) -> int:
    """Run ``galvae simulate`` with the parsed ``args``; returns the exit status."""
    import pandas as pd

    from ..errors import GalvaeValueError
    from ..simulate.core import SimulationConfig, simulate
    from ..simulate.defects import DEFECT_KINDS, DefectConfig

    kw = {}
    if args.defect_kinds is not None:
        kinds = [k.strip() for k in args.defect_kinds.split(",") if k.strip()]
        bad = [k for k in kinds if k not in DEFECT_KINDS]
        if bad or not kinds:
            raise GalvaeValueError("--defect-kinds", args.defect_kinds, DEFECT_KINDS)
        kw["defects"] = DefectConfig(weights=tuple(float(k in kinds) for k in DEFECT_KINDS))
    from ..simulate.field import FieldConfig
    from ..simulate.morphology import MorphologyConfig

    config = SimulationConfig(
        morphology=MorphologyConfig(
            min_petro_th50_arcsec=args.min_p50,
            hlr_scatter=args.size_scatter,
            bar_by_bulge=args.bar_by_bulge,
            disc_break=args.disc_breaks,
            disc_break_armless=args.disc_breaks_armless,
            ansae=args.ansae,
        ),
        neighbours=FieldConfig(star_n_at_21=args.stars_per_deg2, companion_r0=args.companions_r0),
        n_galaxies=args.n_galaxies,
        overlap=args.overlap,
        size=args.size,
        seed=args.seed,
        surveys=tuple(s.strip() for s in args.surveys.split(",") if s.strip()),
        defect_fraction=args.defect_fraction,
        balance=args.balance,
        profile=args.profile,
        field_fraction=args.field_fraction,
        fov_arcsec=args.fov,
        votes_follow_visibility=not args.votes_from_truth,
        **kw,
    )
    res = simulate(
        args.out,
        config,
        workers=args.workers,
        overwrite=args.overwrite,
        progress=args.progress,
        shard_size=args.shard_size,
    )
    print(
        f"simulated {res.n_galaxies} galaxies ({res.n_overlap} in the overlap) in {res.seconds:.1f} s "
        f"({res.galaxies_per_second:.0f} galaxy images/s)"
    )
    for name, path in res.stores.items():
        d = res.defects[name]
        planted = ", ".join(f"{k} {v}" for k, v in sorted(d.items()) if k != "none") or "none"
        print(f"  {name:>10}: {path}  defects: {planted}")
    print(f"  {'catalogue':>10}: {res.catalog}")
    cat = pd.read_parquet(res.catalog, columns=["truth_smooth_or_featured", "truth_disk_edge_on", "truth_merging"])
    print(
        "  truth: "
        + ", ".join(f"{k} {v}" for k, v in cat["truth_smooth_or_featured"].value_counts().items())
        + f"; edge-on {int((cat['truth_disk_edge_on'] == 'yes').sum())}"
        + f"; mergers {int((cat['truth_merging'] == 'merger').sum())}"
    )
    # how deep each survey's coadds are (BandConfig.pass_fractions): the share of galaxies with 1, 2, 3 passes in r
    passes = pd.read_parquet(res.catalog, columns=[f"n_pass_{name}_r" for name in res.stores])
    for name in res.stores:
        n = passes[f"n_pass_{name}_r"].dropna()
        if len(n) and (n < 3).any():
            shares = " / ".join(f"{(n == k).mean():.0%}" for k in (1, 2, 3))
            print(f"  {name:>10}: r-band coadds of 1 / 2 / 3 passes: {shares}")
    return 0
