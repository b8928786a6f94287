"""Domain adaptation does what it is for (issue 6, point 4), on a small simulated overlap set.

Test bed: 400 galaxies seen by DECaLS, the first 300 of them also by a made-up "shallow" survey with
a real gap (PSF FWHM 2.0″ instead of ~1.2″, 5σ depth 22.8 in every band, and zero point 21.5, i.e.
image units 2.5× brighter than nanomaggies: a calibration offset).  The built-in DECaLS and
BASS+MzLS surveys differ too little at S = 32-64 for a test: a VAE trained on DECaLS already encodes
both nearly identically (MMD² ≈ 0 before adaptation), so nothing could fail.

A base VAE is trained on the DECaLS store, then ``adapt`` fine-tunes it on the overlap pairs.  On the
300 overlap galaxies we measure, with the shared encoder's latent means μ:

* MMD² between the source μ of the first 150 galaxies and the target μ of the other 150 — disjoint
  galaxies, so it measures how far apart the two surveys' latent *distributions* are; the library's
  unbiased estimator on the *same* galaxies in both samples would also reward pairs being close
  (its cross term keeps i = j), which the paired MSE already measures;
* the median over galaxies of the paired latent MSE, mean over NL of (μ_source − μ_target)²;
* the source survey's reconstruction SSIM (source decoder), which adaptation must not spoil.

Checkpoint: ``adapt`` exports the final epoch by default (``export="last"``).  It used to export the
epoch of lowest validation loss, and on 60 validation pairs that loss (two reconstruction ELBOs,
~10-20, plus λ·MMD², ~0.01) is noisy enough to decide the outcome: on simulation seed 1 with adapt
seed 0 it picked epoch 0 of 20, and then λ = 5 cut MMD² by only 1.16× (measured 2026-11-24).  These
tests also validate only after the last epoch (``trainer_kwargs={"check_val_every_n_epoch": 20}``),
which keeps them fast.

The bed is 16 px (the fixed 16.8" field, 1.05"/px: the shallow survey's 2.0" PSF still spans two pixels
against DECaLS' one).  It was 32 px until 2026-12-04, when it took 44 % of the suite's time; at 16 px the
gap is wider, not narrower (MMD² of disjoint halves before adaptation 0.16-0.18 against 0.02-0.04 at
32 px without the zero-point offset), and the bed costs about a quarter.  Halving its epochs instead (base
20, adapt 10, 16 px) left λ = 0.5 cutting MMD² by only 0.99× on one of six seed pairs.

Every threshold is a factor or bound with margin under the spread measured on 2026-12-07
(``benchmarks/adapt_effect_spread.py --size 16 --n 400 --overlap 300 --base-epochs 40 --adapt-epochs 20
--threads 1``, key ``rev12_16px_1thread`` of ``benchmarks/adapt_effect_spread.json``; 2-core AMD EPYC, torch
2.13.0+cpu, one torch thread as each of ``make test``'s two xdist workers has (``tests/conftest.py``), lr 1e-3,
batch 32) over simulation seeds 0, 1, 2 × adapt seeds 0, 1, exporting the final epoch, on this module's bed
(``BED_MORPHOLOGY``, ``BED_NEIGHBOURS``) at simulator revision 12; see each assertion.  The spread moves with the
simulator and with the thread count (one thread and two reduce floats in different orders, and the
trajectories part): at revision 12 the test's seeds with two threads cut the paired MSE 1.97× at λ = 0.5 and
with one 1.06×, the least of the six pairs; before revision 12 (2026-12-04, two threads, key ``current_16px``)
1.23×.  Re-derive after changing either (``benchmarks/adapt_effect_spread.json``).  The seeds
here are fixed (simulation 0, training 0, adapt 0), so the test is deterministic on one platform.
"""

from __future__ import annotations

import numpy as np
import pytest

from galvae.data.store import ImageStore
from galvae.evaluate.ssim import ssim
from galvae.evaluate.translation import evaluate_translation, survey_psf_fwhm
from galvae.latents.model import GalaxyVAE
from galvae.losses.mmd import mmd2
from galvae.simulate.core import simulate
from galvae.simulate.field import FieldConfig
from galvae.simulate.morphology import MorphologyConfig
from galvae.simulate.surveys import BandConfig, SurveyConfig
from galvae.training.adapt import adapt
from galvae.training.train import train

pytestmark = pytest.mark.slow

SHALLOW = SurveyConfig(
    name="shallow",
    description="test bed: worse seeing, shallower, image units 2.5x nanomaggies",
    bands=tuple(  # type: ignore[arg-type]
        BandConfig(b, psf_fwhm_arcsec=2.0, depth_mag=22.8, zero_point=21.5) for b in "grz"
    ),
)


# the Main Galaxy Sample sizes the thresholds were measured on (no Galaxy Zoo DECaLS p50 cut, which makes
# galaxies overflow the fixed 16.8" field), with that day's size scatter (0.3) and field stars (800 per deg²):
# under the defaults' 0.45 and 2900 the translated SSIM fell to 0.904 against 0.885 untranslated (0.944 here);
# and bars drawn independently of bulges, as then (with the Masters et al. relation the no-MMD run's pair MSE
# was 1.29x the paper recipe's at revision 11, against the 1.3x asserted then).
# benchmarks/adapt_effect_spread.py simulates the same bed.
BED_MORPHOLOGY = MorphologyConfig(min_petro_th50_arcsec=0.0, hlr_scatter=0.3, bar_by_bulge=(1.0,) * 5)
BED_NEIGHBOURS = FieldConfig(star_n_at_21=800.0)
EPOCHS = 20
FINAL_EPOCH_ONLY = {"check_val_every_n_epoch": EPOCHS}  # validate (hence checkpoint) after the last epoch only


def _gap(run, xs: np.ndarray, xt: np.ndarray) -> dict[str, float]:
    model = GalaxyVAE.load(run)  # a DA run's default decoder is the source survey's
    ms, mt = model.encode(xs), model.encode(xt)
    h = ms.shape[0] // 2
    return {
        "mmd2": mmd2(ms[:h], mt[h:]),  # disjoint galaxies: distribution gap only (see the module docs)
        "mse": float(np.median(((ms - mt) ** 2).mean(axis=1))),
        "ssim": float(ssim(xs, model.reconstruct(xs)).mean()),
    }


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    """Simulated overlap set, base VAE and its gap; ``adapted(lam)`` runs adapt once per λ (cached)."""
    root = tmp_path_factory.mktemp("adapt_effect")
    simulate(
        root / "sim",
        n_galaxies=400,
        overlap=300,
        size=16,
        seed=0,
        workers=2,
        progress=False,
        surveys=("decals", SHALLOW),
        morphology=BED_MORPHOLOGY,
        neighbours=BED_NEIGHBOURS,
        votes_follow_visibility=False,  # no votes are used; the images are the same either way, sooner
    )
    src, tgt = root / "sim" / "decals.h5", root / "sim" / "shallow.h5"
    train(src, root / "base", epochs=40, seed=0, progress=False)
    with ImageStore(src) as s, ImageStore(tgt) as t:
        ids = np.intersect1d(s.ids, t.ids)
        xs, xt = s.read(s.index_of(ids)), t.read(t.index_of(ids))
    cache: dict[float, dict[str, float]] = {}

    def adapted(lam: float) -> dict[str, float]:
        if lam not in cache:
            out = root / f"da_lam{lam}"
            res = adapt(
                root / "base",
                src,
                tgt,
                out,
                lam=lam,
                epochs=EPOCHS,
                seed=0,
                progress=False,
                trainer_kwargs=FINAL_EPOCH_ONLY,
            )
            assert res.n_pairs == 300 and res.epochs == EPOCHS
            cache[lam] = _gap(out, xs, xt)
        return cache[lam]

    def run_dir(lam: float):
        """The adapted run of ``lam`` (adapting first if needed)."""
        adapted(lam)
        return root / f"da_lam{lam}"

    return {
        "before": _gap(root / "base", xs, xt),
        "adapted": adapted,
        "n_pairs": int(ids.size),
        "run": run_dir,
        "stores": (src, tgt),
    }


def test_bed_has_a_gap(bed):
    # Without a gap to close, nothing below could fail.  Measured before adaptation (sim seeds 0/1/2):
    # MMD² (disjoint halves) 0.172 / 0.158 / 0.159, median paired MSE 0.058 / 0.064 / 0.072;
    # on decals vs bass_mzls it is ≈ 0 (benchmarks/adapt.md).
    before = bed["before"]
    assert bed["n_pairs"] == 300
    assert before["mmd2"] > 0.08
    assert before["mse"] > 0.03


def test_default_lambda_narrows_the_gap(bed):
    """λ = 0.5 (the paper's): MMD² falls by ≥ 1.3× and the median paired MSE by ≥ 1.03×; SSIM within 0.02."""
    before, after = bed["before"], bed["adapted"](0.5)
    # Factors at λ = 0.5 over the six seed pairs (revision 12, one thread): MMD² 1.53-2.14, median paired MSE
    # 1.06-2.27 (this seed: 1.56 and 1.06, the least).  Stated 1.3 and 1.03.
    assert after["mmd2"] <= before["mmd2"] / 1.3, (before, after)
    assert after["mse"] <= before["mse"] / 1.03, (before, after)
    # SSIM after − before, all seeds and λ: −0.011 … +0.012; stated −0.02.
    assert after["ssim"] >= before["ssim"] - 0.02, (before, after)


def test_strong_lambda_closes_the_gap(bed):
    """λ = 5: MMD² falls by ≥ 5× and the median paired MSE by ≥ 3×; source SSIM within 0.02."""
    before, after = bed["before"], bed["adapted"](5.0)
    # Factors at λ = 5 (revision 12, one thread): MMD² 10.8-17.2×, median paired MSE 4.4-11.0× (this seed 10.8×,
    # 4.4×).  Stated 5 and 3.
    assert after["mmd2"] <= before["mmd2"] / 5, (before, after)
    assert after["mse"] <= before["mse"] / 3, (before, after)
    assert after["ssim"] >= before["ssim"] - 0.02, (before, after)


def test_the_mmd_term_does_the_aligning(bed):
    """Control: the same fine-tuning without the MMD term (λ = 0) leaves the distributions apart."""
    no_mmd, paper, strong = (bed["adapted"](lam) for lam in (0.0, 0.5, 5.0))
    # Revision 12, one thread: λ = 0 alone (the shared encoder fine-tuned on both surveys) changes MMD² by
    # 0.85-1.20× and the paired MSE by 0.83-1.32× (on sim seed 0 it *raises* both); MMD²(λ=0) / MMD²(λ=5)
    # 10.1-18.8, stated 4; MMD²(λ=0) / MMD²(λ=0.5) 1.64-1.80, stated 1.3; paired MSE(λ=0) / MSE(λ=0.5)
    # 1.29-1.72 (this seed 1.29, the least), stated 1.2.
    assert no_mmd["mmd2"] >= 4 * max(strong["mmd2"], 0.0), (no_mmd, strong)
    assert no_mmd["mmd2"] >= 1.3 * paper["mmd2"], (no_mmd, paper)
    assert no_mmd["mse"] >= 1.2 * paper["mse"], (no_mmd, paper)


def test_translation_beats_leaving_the_image_untranslated(bed, tmp_path):
    """Issue 15: DECaLS images decoded by the shallow survey's decoder look more like the real shallow images
    than the DECaLS images themselves do, once adaptation has aligned the latents (λ = 5).

    Measured on this bed (sim seed 0, adapt seed 0, 2026-12-04), SSIM against the real shallow images /
    median |flux residual| (``flux_residual_mad``): untranslated 0.886 / 0.48 (the 2.5× zero-point offset),
    PSF-matched 0.923 / 0.45, translated after λ = 5 0.944 / 0.30, after λ = 0.5 0.887 / 0.52, after λ = 0
    0.891 / 0.50: with the latents of the two surveys apart, the shallow decoder does not know what to do
    with a DECaLS latent.
    One adaptation run decides too little: on a 2-core Intel Xeon (2026-12-06) adapt seed 0 translated at
    0.935 / 0.33 with one torch thread but 0.911 / 0.46 with two (the float reduction order changes the
    trajectory), against an untranslated 0.886 / 0.45; adapt seeds 1, 2, 3 gave 0.927 / 0.40, 0.954 / 0.24,
    0.926 / 0.38 (one thread) and 0.949 / 0.29, 0.943 / 0.25, 0.947 / 0.27 (two).  So the claim is judged
    on the median of adapt seeds 0, 1, 2 (one thread: 0.935 / 0.33; two: 0.943 / 0.29).
    Stated: +0.03 in SSIM over untranslated and a smaller flux residual, medians over the three seeds.
    """
    src, tgt = bed["stores"]
    runs = [bed["run"](5.0)]
    base = runs[0].parent / "base"
    for seed in (1, 2):
        runs.append(tmp_path / f"da_lam5_seed{seed}")
        adapt(
            base, src, tgt, runs[-1], lam=5.0, epochs=EPOCHS, seed=seed, progress=False, trainer_kwargs=FINAL_EPOCH_ONLY
        )
    rows = []
    for run in runs:
        res = evaluate_translation(
            run,
            src,
            tgt,
            source_psf=survey_psf_fwhm("decals"),
            target_psf=tuple(b.psf_fwhm_arcsec for b in SHALLOW.bands),
            gallery=0,
            progress=False,
        )
        rows.append((res.row("translated"), res.row("untranslated")))
    un = rows[0][1]
    assert all(u["ssim_mean"] == un["ssim_mean"] for _, u in rows)  # the untranslated images do not depend on a run
    ssim_tr = float(np.median([t["ssim_mean"] for t, _ in rows]))
    flux_tr = float(np.median([t["flux_residual_mad"] for t, _ in rows]))
    assert ssim_tr >= un["ssim_mean"] + 0.03, rows
    assert flux_tr < un["flux_residual_mad"], rows
