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

Every threshold is a factor or bound with margin under the spread measured on 2026-11-24 (2-core
CPU, torch 2.13.0+cpu, this bed, base 40 epochs, adapt 20 epochs, lr 1e-3, batch 32) over simulation seeds
0, 1, 2 × adapt seeds 0, 1, exporting the final epoch and, as a cross-check, the best-validation
epoch (the one degenerate best = epoch 0 run left out); see each assertion.  The seeds here are
fixed (simulation 0, training 0, adapt 0), so the test is deterministic on one platform.

This bed is the slowest part of the suite, and it cannot simply be halved: with base 20 and adapt 10
epochs (measured 2026-12-04, simulation seeds 0, 1, 2, adapt seed 0, one torch thread) λ = 0.5 cut
MMD² by only 0.58×, 1.11× and 1.02× (below the stated 1.1×), and on simulation seed 0 the paired MSE
rose for every λ (MMD² too, but for λ = 5) and the source SSIM fell by 0.03-0.05.  A smaller bed needs its
own spread over seeds.

The spread above was measured before the zero-point fix of 2026-12-04: until then ``zero_point`` was
ignored, so the bed had no calibration offset.  With it applied the gap is 3-7× wider
(``benchmarks/bench_adapt.py``, the same bed before adaptation: MMD² of disjoint halves 0.148 against
0.022, of all pairs 0.092 against 0.030),
the test still passes, and its thresholds have not been re-derived over seeds on the wider gap — doing so
is also the way to a smaller, faster bed.
"""

from __future__ import annotations

import numpy as np
import pytest

from galvae.data.store import ImageStore
from galvae.evaluate.ssim import ssim
from galvae.latents.model import GalaxyVAE
from galvae.losses.mmd import mmd2
from galvae.simulate.core import simulate
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
    # the Main Galaxy Sample sizes the thresholds were measured on (no Galaxy Zoo DECaLS p50 > 3" cut, which
    # makes galaxies overflow the fixed 16.8" field at 32 px and shrinks the summed-likelihood latents' scale)
    simulate(
        root / "sim",
        n_galaxies=400,
        overlap=300,
        size=32,
        seed=0,
        workers=2,
        progress=False,
        surveys=("decals", SHALLOW),
        morphology=MorphologyConfig(min_petro_th50_arcsec=0.0),
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

    return {"before": _gap(root / "base", xs, xt), "adapted": adapted, "n_pairs": int(ids.size)}


def test_bed_has_a_gap(bed):
    # Without a gap to close, nothing below could fail.  Measured before adaptation (2026-11-24, sim seeds
    # 0/1/2): MMD² (disjoint halves) 0.022 / 0.027 / 0.036, median paired MSE 0.0028 / 0.0031 / 0.0029;
    # on decals vs bass_mzls it is ≈ 0 (benchmarks/adapt.md).
    before = bed["before"]
    assert bed["n_pairs"] == 300
    assert before["mmd2"] > 0.01
    assert before["mse"] > 0.0015


def test_default_lambda_narrows_the_gap(bed):
    """λ = 0.5 (the paper's): MMD² and the median paired MSE fall by ≥ 1.1×; source SSIM within 0.02."""
    before, after = bed["before"], bed["adapted"](0.5)
    # Measured 2026-11-24, before/after factors at λ = 0.5 over the 6 seed pairs, final epoch (best-val
    # epoch in brackets, 5 runs): MMD² 1.27-1.49 (1.21-1.43), median paired MSE 1.24-1.80 (1.13-2.07).
    # This seed: 1.33 and 1.74.  Stated factor 1.1 for both.
    assert after["mmd2"] <= before["mmd2"] / 1.1, (before, after)
    assert after["mse"] <= before["mse"] / 1.1, (before, after)
    # SSIM after − before, final epoch, all seeds and λ: −0.011 … +0.021 (this seed +0.020); stated −0.02.
    assert after["ssim"] >= before["ssim"] - 0.02, (before, after)


def test_strong_lambda_closes_the_gap(bed):
    """λ = 5: MMD² and the median paired MSE fall by ≥ 2×; source SSIM within 0.02."""
    before, after = bed["before"], bed["adapted"](5.0)
    # Measured 2026-11-24 at λ = 5 over the 6 seed pairs, final epoch (best-val epoch in brackets):
    # MMD² 4.2-7.5×, or down to ≤ 0 (2.4× and up), median paired MSE 3.5-8.6× (2.3-9.5×).  This seed:
    # MMD² 0.022 -> -0.0002, MSE 7.6×.  Stated factor 2 for both.
    assert after["mmd2"] <= before["mmd2"] / 2, (before, after)
    assert after["mse"] <= before["mse"] / 2, (before, after)
    assert after["ssim"] >= before["ssim"] - 0.02, (before, after)


def test_the_mmd_term_does_the_aligning(bed):
    """Control: the same fine-tuning without the MMD term (λ = 0) leaves the distributions apart."""
    no_mmd, paper, strong = (bed["adapted"](lam) for lam in (0.0, 0.5, 5.0))
    # Measured 2026-11-24 over the 6 seed pairs, final epoch: λ = 0 alone (the shared encoder fine-tuned
    # on both surveys) lowers MMD² by only 1.04-1.20× (yet the paired MSE by 1.08-1.50×);
    # MMD²(λ=0) / MMD²(λ=5) was 3.7× and up, λ = 5 reaching MMD² ≤ 0 on sim seed 0 (best-val epoch:
    # 2.2× and up): stated 2×.  MMD²(λ=0) / MMD²(λ=0.5) was 1.13-1.30 (this seed 1.29): stated > 1.
    assert no_mmd["mmd2"] >= 2 * max(strong["mmd2"], 0.0), (no_mmd, strong)
    assert paper["mmd2"] < no_mmd["mmd2"], (no_mmd, paper)
