"""Which survey differences does a trained encoder see?  One property of the target survey changed at a time.

Run:  .venv/bin/python benchmarks/survey_sensitivity.py --demo galvae-demo [--n 400]
Writes benchmarks/survey_sensitivity.json and .md.

Domain adaptation can only remove a difference the encoder sees.  On the default demo the same galaxy's
latents in DECaLS and BASS+MzLS are ~0.001 × the random-pair distance apart, so adaptation has nothing to
do.  This benchmark asks why: it renders the same ``--n`` galaxies (the demo's seed, size, field and
profile; no planted defects, so only the survey differs) in DECaLS and in a series of target surveys,
each DECaLS with one property changed by an amount the literature documents or a multiple of it, encodes
both with the demo's NL = 40 model (``run/``) and reports, per target:

- ``paired/random``: the median over galaxies of the paired latent MSE (mean over NL of (μ_s − μ_t)²)
  divided by the median MSE of random pairs (the same statistic as ``galvae compare-domains``);
- ``x floor``: that ratio over the one of a repeat of DECaLS itself (only the noise realisation
  differs), i.e. how far above the noise floor the survey difference lifts the paired distance;
- ``shift/spread``: the norm of the mean latent offset (μ_t − μ_s averaged over galaxies) over the
  root-mean-square spread of the source latents, the systematic part that MMD-based adaptation aligns.

The targets: a repeat of DECaLS (the floor); the built-in BASS+MzLS (PSF, depth, pixels, colour
terms); DECaLS with the BASS/MzLS PSF only, with 1.5× and 2× the FWHM, with a Gaussian PSF instead of
Moffat β = 3.5; with 1 and 2 mag shallower depth; with every band 10 % and 30 % brighter (a
calibration error); with g alone 10 % brighter (a colour offset, about twice the largest DR9
north/south colour term); the BASS+MzLS colour terms alone.  One simulation seed, in-sample encoder.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from _common import machine
from galvae import __version__
from galvae.data.store import ImageStore
from galvae.latents.model import GalaxyVAE
from galvae.simulate.core import SimulationConfig, simulate
from galvae.simulate.surveys import BASS_MZLS, DECALS, BandConfig, SurveyConfig

HERE = Path(__file__).resolve().parent


def _variant(name: str, description: str, **band_changes: object) -> SurveyConfig:
    """DECaLS with ``band_changes`` applied to every band (callables get the band and return the value)."""
    bands = []
    for b in DECALS.bands:
        kw = {k: (v(b) if callable(v) else v) for k, v in band_changes.items()}
        bands.append(dataclasses.replace(b, **kw))
    return SurveyConfig(name=name, bands=tuple(bands), description=description)  # type: ignore[arg-type]


def _brighter(factor: float, only: str | None = None):
    """Zero point making the image units ``factor`` × brighter (in band ``only`` or all)."""

    def zp(b: BandConfig) -> float:
        if only is not None and b.name != only:
            return b.zero_point
        return b.zero_point - 2.5 * math.log10(factor)

    return zp


def targets() -> list[tuple[SurveyConfig, str]]:
    """(target survey, what differs from DECaLS)."""
    bm_psf = {b.name: b.psf_fwhm_arcsec for b in BASS_MZLS.bands}
    bm_ct = {b.name: b.colour_term for b in BASS_MZLS.bands}
    return [
        (dataclasses.replace(DECALS, name="decals_repeat"), "nothing: a second noise realisation (the floor)"),
        (BASS_MZLS, "the built-in BASS+MzLS: PSF, depth, native pixels, gain, colour terms"),
        (_variant("psf_bm", "BASS+MzLS PSF FWHM", psf_fwhm_arcsec=lambda b: bm_psf[b.name]), "PSF FWHM as BASS+MzLS"),
        (_variant("psf_x1p5", "", psf_fwhm_arcsec=lambda b: 1.5 * b.psf_fwhm_arcsec), "PSF FWHM × 1.5"),
        (_variant("psf_x2", "", psf_fwhm_arcsec=lambda b: 2.0 * b.psf_fwhm_arcsec), "PSF FWHM × 2"),
        (_variant("psf_gauss", "", psf_model="gaussian"), "Gaussian PSF (Moffat β = 3.5 in DECaLS)"),
        (_variant("depth_m1", "", depth_mag=lambda b: b.depth_mag - 1.0), "1 mag shallower (noise × 2.5)"),
        (_variant("depth_m2", "", depth_mag=lambda b: b.depth_mag - 2.0), "2 mag shallower (noise × 6.3)"),
        (_variant("flux_x1p1", "", zero_point=_brighter(1.1)), "all bands 10 % brighter"),
        (_variant("flux_x1p3", "", zero_point=_brighter(1.3)), "all bands 30 % brighter"),
        (_variant("g_x1p1", "", zero_point=_brighter(1.1, "g")), "g alone 10 % brighter (colour offset)"),
        (_variant("colour_terms", "", colour_term=lambda b: bm_ct[b.name]), "BASS+MzLS colour terms alone"),
    ]


def _mu(vae: GalaxyVAE, store: Path, ids: np.ndarray) -> np.ndarray:
    """Latent means of the galaxies ``ids`` of ``store``, in that order (float64)."""
    with ImageStore(store) as st:
        row = {str(i): k for k, i in enumerate(st.ids)}
        x = st.read()
    return vae.encode(x[[row[str(i)] for i in ids]]).astype(np.float64)


def measure(demo: Path, n: int, seed: int, workers: int | None) -> dict:
    cfg_all = json.loads((demo / "demo_config.json").read_text())["demo"]
    vae = GalaxyVAE.load(demo / "run")
    rng = np.random.default_rng(seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for target, what in targets():
            t0 = time.perf_counter()
            out = Path(tmp) / target.name
            sim_cfg = SimulationConfig(
                n_galaxies=n,
                overlap=n,
                size=int(cfg_all["size"]),
                seed=int(cfg_all["seed"]),
                profile=str(cfg_all.get("profile", "fixed")),
                defect_fraction=0.0,
            )
            res = simulate(out, sim_cfg, surveys=[DECALS, target], workers=workers, progress=False)
            stores = list(res.stores.values())
            with ImageStore(stores[1]) as st:
                ids = np.asarray(st.ids)
            mu_s, mu_t = _mu(vae, stores[0], ids), _mu(vae, stores[1], ids)
            paired = np.mean((mu_s - mu_t) ** 2, axis=1)
            perm = rng.permutation(len(ids))
            random = np.mean((mu_s - mu_t[perm]) ** 2, axis=1)
            spread = float(np.sqrt(np.mean(np.sum((mu_s - mu_s.mean(0)) ** 2, axis=1))))
            shift = float(np.linalg.norm((mu_t - mu_s).mean(0)))
            rows.append(
                {
                    "target": target.name,
                    "differs_by": what,
                    "n": int(len(ids)),
                    "paired_median": float(np.median(paired)),
                    "random_median": float(np.median(random)),
                    "paired_over_random": float(np.median(paired) / np.median(random)),
                    "shift_over_spread": shift / spread,
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            )
            logging.getLogger("bench").info("%s: %s", target.name, rows[-1])
    floor = rows[0]["paired_over_random"]
    for r in rows:
        r["over_floor"] = r["paired_over_random"] / floor
    return {
        "galvae_version": __version__,
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "demo": str(demo),
        "model": {k: cfg_all.get(k) for k in ("latent_dim", "epochs", "likelihood", "profile", "size")},
        "n": n,
        "rows": rows,
    }


def markdown(res: dict) -> str:
    m = res["model"]
    lines = [
        "# Which survey differences does the encoder see?",
        "",
        f"`benchmarks/survey_sensitivity.py`, {res['date']}, galvae {res['galvae_version']}. The demo's model"
        f" (NL = {m['latent_dim']}, {m['epochs']} epochs, {m['likelihood']} likelihood, {m['profile']} profile,"
        f" {m['size']} px) encodes the same {res['n']} simulated galaxies (no planted defects) seen by DECaLS and"
        " by a target survey that differs in one property. paired/random: median paired latent MSE over the"
        " median of random pairs (as `compare-domains`); × floor: over a repeat of DECaLS (noise only);"
        " shift/spread: the mean latent offset over the RMS spread of the source latents.",
        "",
        "| target | differs from DECaLS by | paired/random | × floor | shift/spread |",
        "|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| `{r['target']}` | {r['differs_by']} | {r['paired_over_random']:.5f} | {r['over_floor']:.2f}"
            f" | {r['shift_over_spread']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--demo", type=Path, default=Path("galvae-demo"), help="a finished `galvae demo` directory")
    p.add_argument("--n", type=int, default=400, help="galaxies rendered per target (default 400)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random pairing")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--out", type=Path, default=HERE / "survey_sensitivity")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore", category=UserWarning)
    res = measure(args.demo, args.n, args.seed, args.workers)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
