"""``galvae demo``: the whole paper on the built-in simulated surveys, in one call.

Stages, each reading what the one before wrote (the same functions the
individual commands use)::

    simulate   GalSim DECaLS-like sample + BASS+MzLS overlap   -> data/{decals,bass_mzls}.h5, data/catalog.parquet
    labels     Galaxy Zoo vote fractions -> Table 2 classes    -> labels.parquet
    train      the paper's VAE, NL = 40                        -> run/
    sweep      reduced latent-dimension sweep (SSIM vs NL)     -> sweep/
    encode     latent catalogues of both surveys, reconstructions -> latents_*.parquet, recon_decals.h5
    classify   Table 3: random forests on the latents + PCA and CNN baselines -> table3/
    outliers   8-sigma outliers vs planted defects             -> outliers/
    adapt      shared encoder, one decoder per survey, MMD²    -> run_da/
    compare    Table 4, Fig. 5, latent MSE and MMD² before/after -> domains/
    translate  DECaLS -> BASS+MzLS translation against the real images -> translation/
    mocks      mock galaxies from each survey's decoder        -> mocks_<survey>.h5
    explore    interactive latent-space page (galvae explore)  -> explore/index.html
    report     one self-contained HTML page, linking explore/  -> report.html

The simulator writes image stores directly, in the format ``galvae ingest``
writes for real cutouts, so no separate ingest step is needed.

Stages are cached: each finished stage leaves ``.stages/<stage>.json`` with a
key made of its own parameters and the key of the stage before it; a later
run skips a stage whose key matches and whose outputs exist.  Once a stage
runs (a changed parameter, a deleted output), every stage after it runs too.
``force=True`` runs everything again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ._io import write_json
from ._validate import check_bool, check_choice, check_float, check_int
from ._version import __version__
from .config import config_to_dict
from .errors import GalvaeFileError, GalvaeValueError
from .evaluate.paper import TABLE4_MIN_GALAXIES
from .training.precision import PRECISIONS, resolve_precision

__all__ = [
    "DEMO_FIELD_FRACTION",
    "DemoConfig",
    "DemoResult",
    "PRECISIONS",
    "StageEvent",
    "STAGES",
    "QUICK",
    "resolve_precision",
    "run_demo",
    "with_overrides",
]

log = logging.getLogger(__name__)

SURVEYS = ("decals", "bass_mzls")

#: Part of each galaxy's Galaxy Zoo field (side) the demo's gz-decals images keep: the central 0.75, as zoobot's
#: random crops of 0.7-0.8 of the same images; most of the whole field is sky and neighbours the VAE spends
#: its latents on (``README.md``, "Field fraction").
DEMO_FIELD_FRACTION = 0.75
#: σ of the centre window on the VAE's likelihood (fraction of the side) for the demo's gz-decals images, whose
#: frame scales with the galaxy (``ModelConfig.centre_window``; ``benchmarks/science.md``).
DEMO_CENTRE_WINDOW = 0.2

#: Stage names, in order, with what each does.
STAGES: dict[str, str] = {
    "simulate": "GalSim: DECaLS-like sample and BASS+MzLS overlap",
    "labels": "Galaxy Zoo vote fractions -> Table 2 classes",
    "train": "train the VAE",
    "sweep": "reduced latent-dimension sweep (SSIM vs NL)",
    "encode": "latent catalogues of both surveys and reconstructions",
    "classify": "Table 3: random forests on latents + PCA/CNN baselines",
    "outliers": "k-sigma outliers against planted defects",
    "adapt": "domain adaptation: shared encoder, two decoders, MMD²; and its fine-tuning control",
    "compare": "Table 4, Fig. 5: the surveys before and after adaptation",
    "translate": "DECaLS -> BASS+MzLS translation scored against the real overlap images",
    "mocks": "mock galaxies from each survey's decoder",
    "explore": "interactive latent-space explorer page",
    "report": "HTML report",
}


@dataclass(frozen=True)
class DemoConfig:
    """Everything the demo does, saved as ``demo_config.json`` and shown in the report.

    Parameters
    ----------
    n_galaxies : int, default 2000
        Galaxies of the DECaLS-like sample.
    overlap : int, default 500
        Of which also observed by BASS+MzLS (the paper had 3,434).
    size : int, default 48
        Image side in pixels: 48 on the central 0.75 of the Galaxy Zoo field
        keeps the pixels of 64 on the whole field (the demo's until
        2026-12-05), so only the sky and neighbours around the galaxy go.
    defect_fraction : float, default 0.02
        Planted defects per survey (the simulator's default is 0.005; more
        defects give the outlier precision/recall something to count).
    latent_dim : int, default 40
        NL of the main model (the paper's knee).
    epochs : int, default 24
        Training epochs of the main model.  At 12 (the default until
        2026-12-07) its validation loss was still falling (5195 at epoch 12,
        3887 at 21); on two datasets (revision 13's and revision 12's images
        of the default galaxies) 24 epochs put the latents at or above PCA-40
        on 35 and 36 of 45 feature-splits (12 epochs: 32 and 33) and at
        majority + 10 on 27 and 24 (23 and 18): bar +2.0 / +3.0 points, arm
        winding +5.5 / +4.4, bulge size +1.9 / +1.0, has arms +0.4 / +1.5,
        how rounded −0.5 / −0.8, edge-on bulge −1.9 / −1.6, merger unchanged
        (``benchmarks/science.md``).  The train stage takes about 60 s more
        on 2 cores in bf16 (120 s in fp32).
    batch_size : int, default 32
        Galaxies per step of the main model and the sweep.  Measured on
        2026-12-05 against batch 64 × 15 epochs (the default until then), two
        datasets (``--seed 0``, ``--seed 1``), same time (285 and 290 s of
        stages against 289 and 285): the sweep's 3-epoch models train 2×
        the steps and reach validation losses of −0.1 to 1.8·10³ and
        0.6-1.3·10⁴ on the two datasets, against 0.8-2.3·10⁴ and
        1.7-4.5·10⁴ (at 64 the model's initial draw decided them: 9·10³ to
        4.5·10⁴ over four seeds of one NL); held-out
        SSIM 0.830 / 0.824 (0.830 / 0.821); Table 3 latents ≥ PCA-40 on 2 / 5
        of 9 features (1 / 3), ≥ majority + 10 on 3 / 1 (2 / 1); adaptation
        2.00× / 2.29× on the test pairs (1.66× / 1.99×); 160 / 166 nats
        (167 / 165).  The sweep's knee: none on the first dataset (its
        better-trained curve is flat, 0.811-0.813 over NL = 10-80; batch 64's
        knee at 20 came from under-trained models), NL = 40 on the second
        (none at 64).  Batch 16 × 10 was measured too and not adopted (169
        nats against 176, adaptation 1.53×; ``benchmarks/science.md``).
    sweep_dims : tuple of int, default (10, 20, 40, 80)
        Latent dimensions of the reduced sweep (the paper: 10 … 100, two losses).
    sweep_losses : tuple of {"mse", "mae"}, optional
        Reconstruction losses the sweep trains each NL with; default ``(loss,)``,
        the main model's.  ``("mse", "mae")`` with ``sweep_dims`` 10 … 100 is the
        paper's Fig. 3 (each loss a curve, a knee and a claim in the report), at
        about four times the sweep's time (both losses, six NL; 194 s against 48
        in bf16 on 2 cores).  Measured on the three demo datasets (paper's
        grid, 3 epochs, one model per NL): MSE rises by 0.011–0.013 from NL = 10
        to 40 with its knee at 40, 60, 60 (60, 60, 80 on the mean of three
        models per NL); the demo's MAE by 0.001–0.009 with none, 20, 20
        (``benchmarks/science.md``, "The demo's recipe against the paper's").
    sweep_epochs : int, default 3
        Every NL of the sweep trains this long, so the models are compared
        at equal training, not at convergence: in the gz-decals profile at
        64 px held-out SSIM is 0.786-0.796 after 3 epochs and 0.801-0.806
        after 4 (NL = 10-80), against 0.830 for NL = 40 after 15.  A fourth
        epoch would add a quarter to the sweep stage (about 55 s of the
        demo's 7 minutes on 2 cores); at either length SSIM hardly separates
        the NL (``benchmarks/science.md``).  When ``latent_dim`` is one of
        ``sweep_dims``, the sweep's model of that NL is the main model's
        first ``sweep_epochs`` epochs (the same settings and seed make them
        the same model): the train stage keeps a copy in ``.sweep_warm/``
        before it resumes to ``epochs``, and the sweep takes it instead of
        training it again (``trained`` is False in its row of
        ``sweep.csv``); about 13 s of the demo.  ``sweep_epochs = epochs``
        (``--sweep-epochs 24``) compares converged models, the main model
        serving as the sweep's model of its own NL and loss: on the three demo
        datasets at the paper's NL grid SSIM then rises at every step to
        NL = 80 (+0.012 to +0.019 from NL = 10 to 100, 8-10 times its paired
        error) with its knee at 60, 40, 40, where the 3-epoch curves were flat
        within their noise; each other NL costs a main model's training (about
        2 minutes in bf16 on 2 cores; ``benchmarks/science.md``, "The sweep at
        convergence").
    sweep_repeats : int, default 1
        Models per NL in the sweep, seeds ``seed`` … (:func:`galvae.sweep`'s
        ``repeats``): the curve is their mean and the knee is found on it.
        One model per NL measures SSIM to about ±0.005 at 3 epochs, as much
        as the whole rise from NL = 10 to 80, so where one model's knee
        falls moves with the seed; each repeat adds the sweep stage's time
        again (``benchmarks/science.md``, "Several models per NL").
    cnn_epochs : int, default 60
        Most training epochs of the CNN baseline per feature; it stops
        earlier by patience (20 epochs) on a held-out 15 % of its training
        galaxies (:mod:`galvae.evaluate.cnn_baseline`).  Capped at 4 epochs
        it did not learn (how rounded 0.509, the majority rate; converged
        0.86; edge-on 0.81 against 0.95).
    cnn_channels : tuple of int, default (16, 32, 64)
        Widths of the CNN baseline's three encoder blocks: half the VAE
        encoder's (32, 64, 128), which converges to the same accuracy
        (how rounded 0.862 vs 0.858, edge-on 0.948 vs 0.948 on the demo's
        gz-decals data) in a third of the time.
    cnn_batch_size : int, default 32
        The CNN baseline's batch size (64 with the narrow network: how
        rounded 0.776).
    adapt_epochs : int, default 10
        Most adaptation epochs; the adaptation stops earlier by patience
        (``adapt_patience``) on the validation pairs' paired / mismatched
        latent MSE (``galvae adapt --monitor val_pair_ratio``) and exports
        its best epoch.
    adapt_patience : int, default 3
        Epochs without a better ``val_pair_ratio`` before the adaptation
        stops.  The overlap is split 60/20/20 into training, validation
        (chooses the epoch) and test pairs (``run_da/split.json``; the
        compare stage's held-out alignment is measured on them alone).
    adapt_decoder_epochs : int, default 5
        Then the decoders alone, the encoder frozen at the chosen epoch
        (``galvae adapt --decoder-epochs``): early-stopped decoders, a few
        epochs from their shared start, translate DECaLS into BASS+MzLS at
        SSIM 0.775–0.801 (eq. 6 alone or γ = 10⁴); 5 more epochs give
        0.813–0.816 (three seeds each), against 0.831 untranslated.
    adapt_lr : float, default 3e-4
        Adam's learning rate of the adaptation (``galvae adapt --lr``).  At
        10⁻³ (the demo's until 2026-12-06) the fresh optimiser shakes the
        trained VAE in its first epoch (validation ELBO −15 000 → +6 000 nats)
        and the re-learnt encoder lowers the paired / random latent MSE by
        itself: the same fine-tuning without MMD² and the paired term (the
        demo's control run) gave 1.1–3.2× of the adapted run's 1.4–3.9×.  At
        3 × 10⁻⁴ the control stays at 0.99–1.27× (``benchmarks/science.md``,
        "What the adaptation's gain is made of").
    lam : float, default 0.5
        λ of eq. 6.
    pair_weight : float, default 1e5
        γ of ``galvae adapt --pair-weight``, a term pulling the two latent
        means of each overlap training galaxy together; 0 is the paper's
        eq. 6 alone.  MMD² is ≈ 0 before adaptation on these surveys, so the
        paired term is what aligns, and it also pulls each DECaLS latent
        towards its blurrier BASS+MzLS twin, which costs information: on
        the three datasets of the README (default galaxies, ``--seed 1``,
        ``--seed 2``; ``benchmarks/science.md``, "Table 4 over five splits")
        paired / random latent MSE before over after on the 100 test pairs
        γ = 3 × 10⁴ 3.05, 3.82, 2.20×; **10⁵ 3.89, 4.36, 2.93×**; 3 × 10⁵
        (the default until 2026-12-07 18:50) 3.83, 4.47, 3.07× (controls
        1.10, 1.47, 1.05×), while Table 4's encoder-only control (a forest
        on the same DECaLS galaxies' adapted latents, five splits) keeps has
        arms at 0.927 / 0.908 / 0.910, **0.913 / 0.905 / 0.866** and 0.900
        / 0.889 / 0.834 (unadapted 0.933 / 0.917 / 0.910) and beats the
        unadapted latents by +1.3 / +0.6 / −0.8, **+0.5 / +0.9 / −0.4** and
        +0.8 / −0.2 / −1.2 points on average.  10⁵ keeps 3 × 10⁵'s gain
        with less of the loss.  (3 × 10⁵ had been chosen when 10⁵ left an
        earlier model's ``--seed 1`` run at 1.38×.)
    min_galaxies : int, default 101
        Table 4 features need at least this many labelled overlap galaxies (the paper: "larger than 100").
    n_mocks : int, default 16
    embedding : {"both", "pca", "tsne"}, default "both"
        Latent-space maps in the report.
    real_images : str or None, default None
        A folder of real Galaxy Zoo DECaLS colour images (JPEG/PNG): the
        report stage then compares the simulated DECaLS images with them
        (:func:`galvae.compare_realism`, ``realism/``) and shows it.
    profile : {"fixed", "gz-decals"}, default "gz-decals"
        Presentation of the simulated images (:mod:`galvae.data.presentation`).
    field_fraction : float or None, default None
        Side of the centre crop of each galaxy's Galaxy Zoo field the
        simulated images keep (:func:`galvae.data.presentation.check_field_fraction`);
        None: :data:`DEMO_FIELD_FRACTION` (0.75) for ``"gz-decals"``, 1 for
        ``"fixed"``.  The whole field spends the VAE's latents on sky and
        neighbours: with it (``1``, 64 px) the latents' forests score
        how-rounded 0.73 against PCA-40's 0.82; with 0.75 (48 px, the
        same pixels) 0.81 against 0.84 (five splits each;
        ``benchmarks/field_fraction.md``).
        ``"gz-decals"`` is the paper's: Galaxy Zoo DECaLS images, whose sky
        noise at 64 px (3/255, grey) matches the real ones, so reconstructions
        reach the paper's SSIM (0.830 held out against 0.782 for
        ``"fixed"``, whose native 0.262″ pixels carry 17-21/255 of noise that
        no smooth reconstruction matches), and a model trained on it encodes
        Galaxy Zoo's own images unchanged (``benchmarks/real_transfer.md``).
        ``"fixed"`` (a 16.8″ field for every galaxy) shows arms and bulges on
        3× finer pixels, which its latents classify slightly better
        (``benchmarks/science.md``), and simulates in half the time.
    min_p50 : float, default 4.0
        The simulated sample's size cut, arcsec (every galaxy's Petrosian
        p50 passes it; :class:`galvae.simulate.MorphologyConfig`'s
        ``min_petro_th50_arcsec``).
    size_scatter : float, default 0.45
        Log-normal scatter (ln) of the simulated sizes at fixed magnitude
        (``MorphologyConfig.hlr_scatter``).  The defaults give the real
        Galaxy Zoo DECaLS images' frame sizes, sky noise and neighbour
        counts (``benchmarks/realism.md``, "Frame sizes"); ``min_p50=3,
        size_scatter=0.3`` the former sample (median field 52″ against 70″).
    bar_by_bulge : tuple of 5 float, default (1.4, 1.4, 1.1, 0.8, 0.45)
        Barred fraction of face-on discs per bulge-size class (dominant,
        large, moderate, small, none) relative to the overall one
        (``MorphologyConfig.bar_by_bulge``, Masters et al. 2011); ``(1, 1, 1,
        1, 1)`` draws bars and bulges independently, as before 2026-12-05
        18:00: on the default demo the latents' bar accuracy was 0.62
        against a majority of 0.65 that way, 0.69 against 0.66 with the
        relation (``benchmarks/realism.md``, "Bars that show").
    ansae : tuple of 2 float, default (0.4, 0.2)
        Fractions of bars ending in ansae in barred discs without spiral arms
        and in barred spirals with B/T >= 0.25 (``MorphologyConfig.ansae``,
        Martinez-Valpuesta et al. 2007; simulator revision 13); ``(0, 0)``
        draws revision 12's bars.
    likelihood : {"sum", "mean", "gaussian"}, default "gaussian"
        Reconstruction term of the VAE (:class:`galvae.ModelConfig`), for the
        main model and the sweep.  ``"gaussian"`` (a decoder at the stores'
        sky noise) keeps all 40 latents active and ~100 nats per galaxy
        where the paper's summed MSE keeps a few nats (``benchmarks/science.md``).
    loss : {"mse", "mae"}, default "mae"
        Reconstruction loss per pixel of the VAE (:class:`galvae.ModelConfig`;
        main model, sweep and adaptation): with the ``"gaussian"``
        likelihood, ``"mse"`` is a Gaussian decoder, ``"mae"`` a Laplace one
        of the same standard deviation (the paper's sweep trains both).  The
        Laplace decoder lets a large residual in a galaxy's bright centre
        cost linearly instead of quadratically, so training spends less on
        the centre's profile and more on the disc: on the default demo
        (2026-12-06, five splits each, ``benchmarks/science.md``) how rounded
        0.914 against 0.887 (PCA-40 0.845), edge-on 0.937 (0.925; PCA-40
        0.936), bulge size 0.478 (0.449; 0.472), latents ≥ PCA-40 on 5, 4, 6,
        6, 4 of 9 features per split (4, 3, 5, 4, 4); on ``--seed 1``'s
        galaxies how rounded 0.915 (0.857), 6, 4, 5, 4, 4 (4, 3, 5, 4, 4);
        held-out SSIM 0.853 on both (0.847, 0.838); translation 0.855
        (0.823).  Adaptation's gain on the test pairs is 2.05× (1.95×) on
        the default galaxies but 1.45× (2.33×) on seed 1's, 1.27–1.94×
        over three more adaptation seeds on each (``"mse"``: 1.27–2.19×).
    colour_weight : float, default 4.0
    output : {"relu", "linear"}, default "linear"
        The VAE's colour-weighted likelihood and decoder output
        (:class:`galvae.ModelConfig`; main model, sweep and adaptation): the
        colour residuals cost 16 times as much, and the decoder ends without
        the paper's ReLU (which such a weight can kill).  Measured
        (2026-12-06, five splits each; ``benchmarks/science.md``), the
        Laplace model with and without it: has arms 0.892 against 0.828 on
        the default galaxies (PCA-40 0.860, above it in 5 of 5 splits) and
        0.857 against 0.829 on seed 1's (PCA-40 0.845, 4 of 5); latents ≥
        PCA-40 on 6, 5, 5, 5, 7 and 5, 7, 4, 4, 4 features per split;
        adaptation 2.78× (2.04–3.10× over adaptation seeds) on the default
        galaxies but 1.06× (1.07–1.26×) on seed 1's.  ``1.0`` and
        ``"relu"`` are the paper's.
    detail_weight : float, default 3.0
    detail_scale : float, default 0.0625
        The VAE's detail-weighted likelihood (:class:`galvae.ModelConfig`;
        main model, sweep and adaptation): the residuals' fine part, what a
        Gaussian blur of σ = ``detail_scale`` times the side (3 pixels at
        48) removes, costs b² = 9 times as much, so the latents spend more
        on bars, arms, bulges and thin discs.  Measured in
        ``benchmarks/science.md`` ("A detail-weighted likelihood"; b = 3
        against 5 on three datasets: latents ≥ PCA-40 on 86 against 82
        feature-splits, held-out SSIM +0.006–0.008, the real images' ring
        label 0.555–0.565 against 0.530–0.560).  ``1.0`` is the paper's.
    vae_channels : tuple of int, default (64, 128)
        Output channels of the VAE's encoder blocks, mirrored by its decoder
        (:class:`galvae.ModelConfig` ``channels``; main model, sweep and
        adaptation).  Two blocks halve the image twice, so the decoder starts
        from a 12 × 12 map at 48 px instead of the paper's three blocks'
        6 × 6: measured on three datasets (``benchmarks/science.md``, "Two
        encoder blocks") it draws more of what lies off the galaxy's centre
        (companions, arms), and the latents classify has arms and bar
        better.  ``(32, 64, 128)`` is the paper's.  The image side must be
        a multiple of ``2 ** len(vae_channels)``.
    augment : bool, default True
        Show the VAE each training image under its own random quarter turn
        and mirror flip (:attr:`galvae.training.config.TrainConfig.augment`;
        main model and sweep).  Measured on three datasets
        (``benchmarks/science.md``, "Turned and mirrored training images"):
        latents ≥ PCA-40 on 109 of 135 feature-splits against 104, how
        rounded +2.0 to +3.2 points, bar at majority + 0.10 on all three,
        the real images' ring label from the latents 0.625–0.640 against
        0.575–0.625; adaptation 3.07–4.47× against 3.88–5.14×.  False is
        the paper's recipe.
    centre_window : float or None, default None
        σ of the Gaussian window on the VAE's reconstruction term, as a
        fraction of the image side (:class:`galvae.ModelConfig`; main model,
        sweep and adaptation): the light of neighbours around the centred
        galaxy counts less.  None takes the profile's: 0.2
        (``DEMO_CENTRE_WINDOW``) for ``gz-decals``, whose frame scales with
        the galaxy, 0 for ``fixed``, where a large galaxy fills the frame and
        the window would cut its outskirts (the quick demo's how-rounded fell
        from majority + 0.17 to + 0.03 over five splits with 0.2).  Measured
        on the default demo (2026-12-06 10:57, five splits;
        ``benchmarks/science.md``): how rounded 0.887 against PCA-40's 0.845
        (0.834 with every pixel alike), edge-on bulge 0.790 against 0.743,
        latents ≥ PCA-40 on 4, 3, 5, 4, 4 of 9 features per split (4, 3, 3,
        2, 3), SSIM 0.847 (0.849), adaptation 1.95× (2.25×).  0 weights
        every pixel alike, as the paper.
    seed : int, default 0
    workers : int, default 2
        Simulation processes, and the threads building each random forest of
        Tables 3 and 4 (a forest is the same for any number).
    accelerator : str, default "auto"
        Lightning accelerator for training and adaptation.
    precision : {"auto", "32", "bf16-mixed", "16-mixed"}, default "auto"
        Lightning precision of training, the sweep and adaptation, and the
        CNN baseline's (``"bf16-mixed"`` or else fp32).  ``"auto"`` is ``"bf16-mixed"`` when training runs on a CPU with
        native bfloat16 instructions (AVX512-BF16 or AMX, read from
        ``/proc/cpuinfo``) and ``"32"`` otherwise (see
        :func:`resolve_precision`): on this project's 2-core AMD EPYC,
        bf16 trains 1.6× faster (2 epochs: 25 s against 37 s) with the
        same active units and a validation loss 1.7 % higher; on a CPU
        without native bf16 it would be emulated, and slower.
    device : str, default "cpu"
        Torch device for encoding, classification baselines and the report.

    Raises
    ------
    GalvaeValueError
        On an overlap larger than the sample, or too few galaxies.
    """

    n_galaxies: int = 2000
    overlap: int = 500
    size: int = 48
    defect_fraction: float = 0.02
    latent_dim: int = 40
    epochs: int = 24
    batch_size: int = 32
    sweep_dims: tuple[int, ...] = (10, 20, 40, 80)
    sweep_losses: tuple[str, ...] | None = None
    sweep_epochs: int = 3
    sweep_repeats: int = 1
    cnn_epochs: int = 60
    cnn_channels: tuple[int, ...] = (16, 32, 64)
    cnn_batch_size: int = 32
    adapt_epochs: int = 10
    adapt_patience: int = 3
    adapt_decoder_epochs: int = 5
    adapt_lr: float = 3e-4
    lam: float = 0.5
    pair_weight: float = 1e5
    min_galaxies: int = TABLE4_MIN_GALAXIES
    n_mocks: int = 16
    embedding: str = "both"
    real_images: str | None = None
    profile: str = "gz-decals"
    field_fraction: float | None = None
    min_p50: float = 4.0
    size_scatter: float = 0.45
    bar_by_bulge: tuple[float, float, float, float, float] = (1.4, 1.4, 1.1, 0.8, 0.45)
    ansae: tuple[float, float] = (0.4, 0.2)
    likelihood: str = "gaussian"
    loss: str = "mae"
    colour_weight: float = 4.0
    detail_weight: float = 3.0
    detail_scale: float = 0.0625
    output: str = "linear"
    vae_channels: tuple[int, ...] = (64, 128)
    augment: bool = True
    centre_window: float | None = None
    seed: int = 0
    workers: int = 2
    accelerator: str = "auto"
    precision: str = "auto"
    device: str = "cpu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sweep_dims", tuple(int(d) for d in self.sweep_dims))
        object.__setattr__(
            self, "cnn_channels", tuple(check_int("demo cnn_channels entry", c, minimum=1) for c in self.cnn_channels)
        )
        for name in (
            "n_galaxies",
            "epochs",
            "batch_size",
            "sweep_epochs",
            "sweep_repeats",
            "cnn_epochs",
            "cnn_batch_size",
            "adapt_epochs",
            "adapt_patience",
            "n_mocks",
            "workers",
            "latent_dim",
        ):
            object.__setattr__(self, name, check_int(f"demo {name}", getattr(self, name), minimum=1))
        object.__setattr__(
            self,
            "adapt_decoder_epochs",
            check_int("demo adapt_decoder_epochs", self.adapt_decoder_epochs, minimum=0),
        )
        object.__setattr__(
            self,
            "adapt_lr",
            check_float("demo adapt_lr", self.adapt_lr, minimum=0, maximum=1, inclusive=(False, True)),
        )
        object.__setattr__(self, "pair_weight", check_float("demo pair_weight", self.pair_weight, minimum=0))
        if self.real_images is not None:  # checked now, not after the stages before the report
            real = os.fspath(self.real_images)
            if not Path(real).is_dir():
                raise GalvaeFileError(real, "real_images (--real) must be a folder of colour JPEG/PNG images")
            object.__setattr__(self, "real_images", real)
        if self.n_galaxies < 50:
            raise GalvaeValueError(
                "the demo needs at least 50 galaxies (train/validation splits, 70/30 forests)", self.n_galaxies
            )
        object.__setattr__(
            self, "overlap", check_int("demo overlap", self.overlap, minimum=10, maximum=self.n_galaxies)
        )
        if not self.sweep_dims:
            raise GalvaeValueError("demo sweep_dims must name at least one latent dimension", self.sweep_dims)
        for d in self.sweep_dims:
            check_int("demo sweep_dims entry", d, minimum=1)
        check_choice("demo embedding", self.embedding, ("both", "pca", "tsne"))
        from .data.presentation import check_field_fraction, check_profile
        from .models.config import LIKELIHOODS, LOSSES, OUTPUTS, check_channels, check_detail_options

        check_profile(self.profile)
        if self.field_fraction is None:  # the demo's crop for Galaxy Zoo fields; the fixed field is kept whole
            object.__setattr__(self, "field_fraction", DEMO_FIELD_FRACTION if self.profile == "gz-decals" else 1.0)
        object.__setattr__(self, "field_fraction", check_field_fraction(self.field_fraction, self.profile))
        # the same ranges MorphologyConfig enforces (not imported here: it brings GalSim)
        if not (isinstance(self.min_p50, int | float) and 0 <= self.min_p50 < 12):
            raise GalvaeValueError("demo min_p50 (--min-p50) must be in [0, 12) arcsec", self.min_p50)
        if not (isinstance(self.size_scatter, int | float) and 0 <= self.size_scatter <= 2):
            raise GalvaeValueError("demo size_scatter (--size-scatter) must be in [0, 2]", self.size_scatter)
        try:
            weights = tuple(float(w) for w in self.bar_by_bulge)
        except (TypeError, ValueError):
            weights = ()
        if len(weights) != 5 or not all(math.isfinite(w) and w >= 0 for w in weights) or not any(weights):
            raise GalvaeValueError(
                "demo bar_by_bulge (--bar-by-bulge) must be 5 non-negative weights (dominant, large, moderate, "
                "small, none)",
                self.bar_by_bulge,
            )
        object.__setattr__(self, "bar_by_bulge", weights)
        try:
            ansae = tuple(float(f) for f in self.ansae)
        except (TypeError, ValueError):
            ansae = ()
        if len(ansae) != 2 or not all(0 <= f <= 1 for f in ansae):
            raise GalvaeValueError(
                "demo ansae (--ansae) must be 2 fractions in [0, 1] (barred discs without arms, barred spirals "
                "with B/T >= 0.25)",
                self.ansae,
            )
        object.__setattr__(self, "ansae", ansae)
        if self.precision not in PRECISIONS:
            raise GalvaeValueError("demo precision", self.precision, PRECISIONS)
        if self.likelihood not in LIKELIHOODS:
            raise GalvaeValueError("demo likelihood", self.likelihood, LIKELIHOODS)
        if self.loss not in LOSSES:
            raise GalvaeValueError("demo loss", self.loss, LOSSES)
        if self.sweep_losses is not None:
            losses = (self.sweep_losses,) if isinstance(self.sweep_losses, str) else tuple(self.sweep_losses)
            if not losses or any(x not in LOSSES for x in losses) or len(set(losses)) != len(losses):
                raise GalvaeValueError(
                    f"demo sweep_losses (--sweep-losses) must name distinct losses of {', '.join(LOSSES)}",
                    self.sweep_losses,
                )
            object.__setattr__(self, "sweep_losses", losses)
        object.__setattr__(
            self, "colour_weight", check_float("demo colour_weight", self.colour_weight, minimum=0.01, maximum=100)
        )
        weight, scale = check_detail_options(self.detail_weight, self.detail_scale, prefix="demo ")
        object.__setattr__(self, "detail_weight", weight)
        object.__setattr__(self, "detail_scale", scale)
        if self.output not in OUTPUTS:
            raise GalvaeValueError("demo output", self.output, OUTPUTS)
        object.__setattr__(self, "vae_channels", check_channels(self.vae_channels, self.size, prefix="demo "))
        object.__setattr__(self, "augment", check_bool("demo augment", self.augment))
        if self.centre_window is None:  # the frame of a Galaxy Zoo field scales with the galaxy; the fixed one does not
            object.__setattr__(self, "centre_window", DEMO_CENTRE_WINDOW if self.profile == "gz-decals" else 0.0)
        object.__setattr__(
            self, "centre_window", check_float("centre_window", self.centre_window, minimum=0, maximum=10)
        )


#: Share of the overlap the adaptation neither trains nor validates on (its held-out test pairs).
ADAPT_TEST_FRACTION = 0.2

#: The ``--quick`` configuration: tiny images and few galaxies, for tests and a first look (about a minute).
#: Its 32-px images use the ``"fixed"`` presentation: Galaxy Zoo's field (≥ 51″) would leave a galaxy's
#: half-light diameter ~4 pixels at that size, and simulating it costs twice as long (29 s against 17 s).
QUICK = DemoConfig(
    profile="fixed",
    n_galaxies=300,
    overlap=150,
    size=32,
    defect_fraction=0.03,
    epochs=20,
    batch_size=64,
    sweep_dims=(8, 40),
    sweep_epochs=6,
    cnn_epochs=2,
    adapt_epochs=6,
    min_galaxies=30,
    n_mocks=8,
    embedding="pca",
)


@dataclass(frozen=True)
class StageEvent:
    """A stage starting or ending, for progress display.

    Attributes
    ----------
    stage : str
    index, total : int
        1-based position among the stages.
    status : {"start", "done", "cached"}
    seconds : float
        Time spent (for "done"; for "cached" the time of the run that made it).
    """

    stage: str
    index: int
    total: int
    status: str
    seconds: float = 0.0


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` produced.

    Attributes
    ----------
    out_dir : Path
    report : Path
        ``report.html``.
    seconds : dict
        Stage → seconds it took when it was run.
    cached : tuple of str
        Stages reused from an earlier run.
    summary : dict
        Headline numbers (best validation loss, MMD² and median paired MSE
        before/after adaptation, outlier fraction).
    """

    out_dir: Path
    report: Path
    seconds: dict[str, float]
    cached: tuple[str, ...]
    summary: dict[str, Any] = field(default_factory=dict)


def _key(previous: str, params: dict[str, Any]) -> str:
    text = json.dumps({"previous": previous, "params": params, "galvae": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _Stages:
    """Runs the stages with caching and timing."""

    def __init__(self, out: Path, force: bool, callback: Callable[[StageEvent], None] | None) -> None:
        self.out = out
        self.force = force
        self.callback = callback
        self.marks = out / ".stages"
        self.marks.mkdir(parents=True, exist_ok=True)
        self.key = ""
        self.dirty = False  # once a stage runs, every later stage runs too
        self.seconds: dict[str, float] = {}
        self.cached: list[str] = []

    def _emit(self, event: StageEvent) -> None:
        if self.callback is not None:
            self.callback(event)

    def run(self, index: int, name: str, params: dict[str, Any], outputs: list[Path], fn: Callable[[], Any]) -> None:
        key = _key(self.key, params)
        self.key = key
        mark = self.marks / f"{name}.json"
        total = len(STAGES)
        if not (self.force or self.dirty) and mark.is_file() and all(p.exists() for p in outputs):
            try:
                saved = json.loads(mark.read_text())
            except (OSError, json.JSONDecodeError):
                saved = {}
            if saved.get("key") == key:
                self.seconds[name] = float(saved.get("seconds", 0.0))
                self.cached.append(name)
                log.info("demo stage %s: reusing the finished stage (%s)", name, mark)
                self._emit(StageEvent(name, index, total, "cached", self.seconds[name]))
                return
        mark.unlink(missing_ok=True)
        self.dirty = True
        self._emit(StageEvent(name, index, total, "start"))
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        self.seconds[name] = dt
        write_json(mark, {"key": key, "seconds": dt, "params": params, "galvae_version": __version__})
        self._emit(StageEvent(name, index, total, "done", dt))


def _rm(*paths: Path) -> None:
    for p in paths:
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


@dataclass(frozen=True)
class _DemoRun:
    """What every stage of :func:`run_demo` shares: the configuration, the paths and the stage runner."""

    cfg: DemoConfig
    out: Path
    st: _Stages
    progress: bool
    precision: str

    @property
    def data(self) -> Path:
        return self.out / "data"

    @property
    def stores(self) -> dict[str, Path]:
        return {s: self.data / f"{s}.h5" for s in SURVEYS}

    @property
    def catalog(self) -> Path:
        return self.data / "catalog.parquet"

    @property
    def labels(self) -> Path:
        return self.out / "labels.parquet"

    @property
    def run(self) -> Path:
        return self.out / "run"

    @property
    def run_da(self) -> Path:
        return self.out / "run_da"

    @property
    def run_da_control(self) -> Path:
        """The adaptation's control: the same fine-tuning without the MMD² and paired terms."""
        return self.out / "run_da_control"

    @property
    def latents(self) -> dict[str, Path]:
        return {s: self.out / f"latents_{s}.parquet" for s in SURVEYS}

    @property
    def recon(self) -> Path:
        return self.out / "recon_decals.h5"

    @property
    def mocks(self) -> dict[str, Path]:
        return {s: self.out / f"mocks_{s}.h5" for s in SURVEYS}

    @property
    def explorer(self) -> Path:
        return self.out / "explore" / "index.html"

    @property
    def report(self) -> Path:
        return self.out / "report.html"

    @property
    def domains(self) -> Path:
        return self.out / "domains"

    @property
    def sweep_warm(self) -> Path:
        """The main model after its first ``sweep_epochs`` epochs, kept for the sweep (see :func:`_train_stage`)."""
        return self.out / ".sweep_warm" / f"nl{self.cfg.latent_dim}_{self.cfg.loss}"

    @property
    def hw(self) -> dict[str, Any]:
        """The accelerator and precision of the training stages."""
        return dict(accelerator=self.cfg.accelerator, precision=self.precision)


def run_demo(
    out_dir: str | os.PathLike[str] = "galvae-demo",
    config: DemoConfig | None = None,
    *,
    quick: bool = False,
    force: bool = False,
    progress: bool = True,
    callback: Callable[[StageEvent], None] | None = None,
) -> DemoResult:
    """Run the whole paper on the built-in simulated surveys and write ``report.html``.

    Parameters
    ----------
    out_dir : path, default "galvae-demo"
        Where every product goes (created).
    config : DemoConfig, optional
        Default :class:`DemoConfig` (about 5 minutes on an idle 2-core CPU), or
        :data:`QUICK` with ``quick=True``.
    quick : bool, default False
        Use :data:`QUICK` (32-pixel images, 300 galaxies; under a minute on an idle 2-core CPU).
        Ignored when ``config`` is given.
    force : bool, default False
        Run every stage even when a finished one could be reused.
    progress : bool, default True
        Progress bars inside the stages.
    callback : callable, optional
        Called with a :class:`StageEvent` when a stage starts, ends or is reused.

    Returns
    -------
    DemoResult

    Raises
    ------
    GalvaeValueError
        On an invalid configuration.
    """
    cfg = config if config is not None else (QUICK if quick else DemoConfig())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "demo_config.json", {"galvae_version": __version__, "demo": config_to_dict(cfg)})
    st = _Stages(out, force, callback)
    d = _DemoRun(cfg, out, st, progress, resolve_precision(cfg.precision, cfg.accelerator))
    _simulate_stage(d)
    _labels_stage(d)
    _train_stage(d)
    _sweep_stage(d)
    _encode_stage(d)
    _classify_stage(d)
    _outliers_stage(d)
    _adapt_stage(d)
    _compare_stage(d)
    _translate_stage(d)
    _mocks_stage(d)
    _explore_stage(d)
    _report_stage(d)
    summary = _summary(out)
    write_json(out / "timings.json", {"seconds": st.seconds, "cached": st.cached})
    return DemoResult(out_dir=out, report=d.report, seconds=dict(st.seconds), cached=tuple(st.cached), summary=summary)


def _simulate_stage(d: _DemoRun) -> None:
    """Stage 1: the GalSim DECaLS-like sample and its BASS+MzLS overlap."""
    from .simulate.core import SIMULATOR_REVISION, SimulationConfig
    from .simulate.core import simulate as run_simulation
    from .simulate.morphology import MorphologyConfig

    cfg = d.cfg

    def do_simulate() -> None:
        sim_cfg = SimulationConfig(
            n_galaxies=cfg.n_galaxies,
            overlap=cfg.overlap,
            size=cfg.size,
            seed=cfg.seed,
            defect_fraction=cfg.defect_fraction,
            profile=cfg.profile,
            field_fraction=cfg.field_fraction,
            morphology=MorphologyConfig(
                min_petro_th50_arcsec=cfg.min_p50,
                hlr_scatter=cfg.size_scatter,
                bar_by_bulge=cfg.bar_by_bulge,
                ansae=cfg.ansae,
            ),
        )
        run_simulation(d.data, sim_cfg, workers=cfg.workers, overwrite=True, progress=d.progress)

    key = {
        "n": cfg.n_galaxies,
        "overlap": cfg.overlap,
        "size": cfg.size,
        "seed": cfg.seed,
        "defects": cfg.defect_fraction,
        "profile": cfg.profile,
    }
    # always in the key: a demo directory simulated before the defaults changed (3", 0.3) is not reused
    key |= {"min_p50": cfg.min_p50, "size_scatter": cfg.size_scatter, "field_fraction": cfg.field_fraction}
    # and what the simulator draws: a directory simulated by an older galvae is simulated again
    key |= {"simulator": SIMULATOR_REVISION, "bar_by_bulge": list(cfg.bar_by_bulge), "ansae": list(cfg.ansae)}
    d.st.run(1, "simulate", key, [*d.stores.values(), d.catalog], do_simulate)


def _labels_stage(d: _DemoRun) -> None:
    """Stage 2: Table 2 classes from the Galaxy Zoo vote fractions of the catalogue."""
    from .data.labels import labels_from_catalog
    from .data.tables import read_catalog, write_table

    def do_labels() -> None:
        write_table(labels_from_catalog(read_catalog(d.catalog)), d.labels, overwrite=True)

    d.st.run(2, "labels", {}, [d.labels], do_labels)


def _vae_options(cfg: DemoConfig) -> dict[str, Any]:
    """The VAE's likelihood and architecture options, as the train and sweep stages pass (and key) them."""
    return {
        "centre_window": cfg.centre_window,
        "colour_weight": cfg.colour_weight,
        "detail_weight": cfg.detail_weight,
        "detail_scale": cfg.detail_scale,
        "output": cfg.output,
        "channels": cfg.vae_channels,
        # only when on: a finished stage of a run that predates the option (trained without it) stays valid
        **({"augment": True} if cfg.augment else {}),
    }


def _train_stage(d: _DemoRun) -> None:
    """Stage 3: the VAE on the DECaLS store."""
    from .training.train import train

    cfg = d.cfg

    def do_train() -> None:
        kw = dict(
            latent_dim=cfg.latent_dim,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            likelihood=cfg.likelihood,
            loss=cfg.loss,
            **_vae_options(cfg),
            progress=d.progress,
            **d.hw,
        )
        _rm(d.sweep_warm)
        if cfg.latent_dim in cfg.sweep_dims and 0 < cfg.sweep_epochs < cfg.epochs:
            # The sweep trains an NL = latent_dim model for sweep_epochs epochs with the same settings: that
            # model is this one's first sweep_epochs epochs, so train those, keep a copy for the sweep, and
            # continue (an exact resume: the same weights as one uninterrupted run, tests/test_checkpoints.py)
            train(d.stores["decals"], d.run, epochs=cfg.sweep_epochs, overwrite=True, **kw)
            shutil.copytree(d.run, d.sweep_warm)
            train(d.stores["decals"], d.run, epochs=cfg.epochs, resume=True, **kw)
        else:
            train(d.stores["decals"], d.run, epochs=cfg.epochs, overwrite=True, **kw)

    d.st.run(
        3,
        "train",
        {
            "nl": cfg.latent_dim,
            "epochs": cfg.epochs,
            "batch_size": cfg.batch_size,
            "likelihood": cfg.likelihood,
            "loss": cfg.loss,
            **_vae_options(cfg),
            "precision": d.precision,
        },
        [d.run / "model.json"],
        do_train,
    )


def _sweep_losses(cfg: DemoConfig) -> tuple[str, ...]:
    """The losses the sweep trains with: ``sweep_losses``, or the main model's."""
    return cfg.sweep_losses or (cfg.loss,)


def _sweep_stage(d: _DemoRun) -> None:
    """Stage 4: the reduced latent-dimension sweep (SSIM against NL)."""
    from .evaluate.sweep import sweep

    cfg = d.cfg

    def do_sweep() -> None:
        _rm(d.out / "sweep")
        # the main model's first sweep_epochs epochs (kept by the train stage), or the main model itself when the
        # sweep trains as long: the sweep takes it where its recorded configuration is the sweep's own, and trains
        # that NL itself otherwise
        warm = d.run if cfg.sweep_epochs == cfg.epochs else d.sweep_warm
        if warm.is_dir() and cfg.latent_dim in cfg.sweep_dims and cfg.loss in _sweep_losses(cfg):
            shutil.copytree(warm, d.out / "sweep" / d.sweep_warm.name, ignore=shutil.ignore_patterns("checkpoints"))
        sweep(
            d.stores["decals"],
            d.out / "sweep",
            latent_dims=cfg.sweep_dims,
            losses=_sweep_losses(cfg),
            epochs=cfg.sweep_epochs,
            batch_size=cfg.batch_size,
            catalog=d.catalog,
            seed=cfg.seed,
            device=cfg.device,
            likelihood=cfg.likelihood,
            progress=d.progress,
            accelerator=cfg.accelerator,
            train_kwargs={"precision": d.precision, **_vae_options(cfg)},
            repeats=cfg.sweep_repeats,
        )

    d.st.run(
        4,
        "sweep",
        {
            "dims": list(cfg.sweep_dims),
            "epochs": cfg.sweep_epochs,
            "batch_size": cfg.batch_size,
            "loss": cfg.loss,
            **_vae_options(cfg),
            "precision": d.precision,
            # only when asked: a finished one-model sweep stays valid for a run that predates the option
            **({"repeats": cfg.sweep_repeats} if cfg.sweep_repeats != 1 else {}),
            **({"losses": list(_sweep_losses(cfg))} if _sweep_losses(cfg) != (cfg.loss,) else {}),
        },
        [d.out / "sweep" / "sweep.csv"],
        do_sweep,
    )


def _encode_stage(d: _DemoRun) -> None:
    """Stage 5: the latent catalogues of both surveys and the DECaLS reconstructions."""
    from .latents.catalog import encode_store, reconstruct_store

    cfg, latents = d.cfg, d.latents

    def do_encode() -> None:
        for s in SURVEYS:
            encode_store(d.run, d.stores[s], latents[s], device=cfg.device, overwrite=True, progress=d.progress)
        reconstruct_store(d.run, d.stores["decals"], d.recon, device=cfg.device, overwrite=True, progress=d.progress)

    d.st.run(5, "encode", {}, [*latents.values(), d.recon], do_encode)


def _classify_stage(d: _DemoRun) -> None:
    """Stage 6: Table 3, random forests on the latents with the PCA and CNN baselines."""
    from .evaluate.classify import classify
    from .evaluate.cnn_baseline import CNNOptions

    cfg = d.cfg
    patience = CNNOptions().patience

    def do_classify() -> None:
        _rm(d.out / "table3")
        classify(
            d.latents["decals"],
            d.labels,
            store=d.stores["decals"],
            out_dir=d.out / "table3",
            seed=cfg.seed,
            cnn_epochs=cfg.cnn_epochs,
            cnn_patience=patience,
            cnn_batch_size=cfg.cnn_batch_size,
            cnn_channels=cfg.cnn_channels,
            cnn_precision=cnn_precision,
            device=cfg.device,
            n_jobs=cfg.workers,
            progress=d.progress,
        )

    # the CNN baseline trains in the demo's training precision (bf16 where the CPU has it); fp16 is a GPU
    # recipe that needs a gradient scaler the baseline does not have, so it trains in fp32 there
    cnn_precision = "bf16-mixed" if d.precision == "bf16-mixed" else "32"
    key = {
        "cnn_epochs": cfg.cnn_epochs,
        "cnn_patience": patience,  # in the key since inputs are standardised: older runs' results are not reused
        "cnn_batch_size": cfg.cnn_batch_size,
        "cnn_channels": list(cfg.cnn_channels),
        "cnn_precision": cnn_precision,
        "cnn_augment": True,
    }
    d.st.run(6, "classify", key, [d.out / "table3" / "table3.csv"], do_classify)


def _outliers_stage(d: _DemoRun) -> None:
    """Stage 7: 8-sigma outliers of the DECaLS latents against the planted defects."""
    from .evaluate.outliers import outliers_report

    def do_outliers() -> None:
        _rm(d.out / "outliers")
        outliers_report(d.latents["decals"], d.out / "outliers", sigma=8.0, catalog=d.catalog, store=d.stores["decals"])

    d.st.run(7, "outliers", {"sigma": 8.0}, [d.out / "outliers" / "outliers.json"], do_outliers)


def _adapt_stage(d: _DemoRun) -> None:
    """Stage 8: domain adaptation, a shared encoder and one decoder per survey, with MMD²."""
    from .training.adapt import adapt

    cfg = d.cfg

    def do_adapt() -> None:
        common = dict(
            epochs=cfg.adapt_epochs,
            lr=cfg.adapt_lr,
            test_fraction=ADAPT_TEST_FRACTION,
            monitor="val_pair_ratio",
            early_stopping=cfg.adapt_patience,
            export="best",
            seed=cfg.seed,
            overwrite=True,
            progress=d.progress,
            **d.hw,
        )
        stores = (d.stores["decals"], d.stores["bass_mzls"])
        adapt(
            d.run,
            *stores,
            d.run_da,
            lam=cfg.lam,
            pair_weight=cfg.pair_weight,
            decoder_epochs=cfg.adapt_decoder_epochs,
            **common,
        )
        # the control: the same pairs, epochs, rate, seed and epoch choice without the alignment terms (no
        # decoder-only epochs: they leave the latents as they are); fine-tuning alone moves the paired measure
        adapt(d.run, *stores, d.run_da_control, lam=0.0, pair_weight=0.0, **common)

    d.st.run(
        8,
        "adapt",
        {
            "lam": cfg.lam,
            "pair_weight": cfg.pair_weight,
            "lr": cfg.adapt_lr,
            "epochs": cfg.adapt_epochs,
            "patience": cfg.adapt_patience,
            "decoder_epochs": cfg.adapt_decoder_epochs,
            "monitor": "val_pair_ratio",
            "test_fraction": ADAPT_TEST_FRACTION,
            "precision": d.precision,
            "control": True,
        },
        [d.run_da / "model.json", d.run_da_control / "model.json"],
        do_adapt,
    )


def _compare_stage(d: _DemoRun) -> None:
    """Stage 9: Table 4 and Fig. 5, the two surveys before and after adaptation."""
    from .evaluate.domains import compare_domains

    cfg = d.cfg

    def do_compare() -> None:
        _rm(d.domains)
        compare_domains(
            d.run,
            d.stores["decals"],
            d.stores["bass_mzls"],
            d.catalog,
            after=d.run_da,
            control=d.run_da_control,
            out_dir=d.domains,
            min_galaxies=cfg.min_galaxies,
            seed=cfg.seed,
            device=cfg.device,
            n_jobs=cfg.workers,
            progress=d.progress,
        )

    # "source_forests": the adapted source forest learns from the same galaxies as the unadapted one (2026-12-05)
    key = {"min_galaxies": cfg.min_galaxies, "source_forests": "same", "heldout_pairs": True, "control": True}
    d.st.run(9, "compare", key, [d.domains / "domains.json"], do_compare)


def _translate_stage(d: _DemoRun) -> None:
    """Stage 10: DECaLS -> BASS+MzLS translation scored against the real overlap images."""
    from .evaluate.translation import evaluate_translation

    cfg = d.cfg

    def do_translate() -> None:
        _rm(d.out / "translation")
        evaluate_translation(
            d.run_da,
            d.stores["decals"],
            d.stores["bass_mzls"],
            to="bass_mzls",
            out_dir=d.out / "translation",
            seed=cfg.seed,
            device=cfg.device,
            progress=d.progress,
        )

    d.st.run(10, "translate", {"to": "bass_mzls"}, [d.out / "translation" / "translation.csv"], do_translate)


def _mocks_stage(d: _DemoRun) -> None:
    """Stage 11: mock galaxies from each survey's decoder, drawn where the DECaLS galaxies sit in latent space."""
    from .data.store import ImageStore
    from .latents.catalog import generate_mocks
    from .latents.density import LatentDensity
    from .latents.model import GalaxyVAE

    cfg, mocks = d.cfg, d.mocks

    def do_mocks() -> None:
        # the adapted (shared) encoder's latent means of the DECaLS galaxies: the mixture the mocks are drawn
        # from (prior draws decode to faint noise with the calibrated likelihood: latents/density.py)
        with ImageStore(d.stores["decals"]) as st:
            mu = GalaxyVAE.load(d.run_da, device=cfg.device).encode(st.read())
        like = LatentDensity(seed=cfg.seed + 1).fit(mu)  # one fit for both decoders (the encoder is shared)
        for s in SURVEYS:
            generate_mocks(
                d.run_da,
                mocks[s],
                n=cfg.n_mocks,
                seed=cfg.seed + 1,
                decoder=s,
                like=like,
                device=cfg.device,
                overwrite=True,
                progress=d.progress,
            )

    d.st.run(11, "mocks", {"n": cfg.n_mocks, "from": "latent_density"}, list(mocks.values()), do_mocks)


def _explore_stage(d: _DemoRun) -> None:
    """Stage 12: the interactive latent-space page of the DECaLS latents."""
    from .explore import build_explorer

    explorer = d.explorer

    def do_explore() -> None:
        build_explorer(
            d.latents["decals"],
            d.stores["decals"],
            explorer.parent,
            catalog=d.catalog,
            reconstructions=d.recon,
            projection=explore_map,
            color="truth_smooth_or_featured",
            title="galvae demo: the latent space of the simulated DECaLS galaxies",
            seed=d.cfg.seed,
            overwrite=True,
            progress=d.progress,
        )

    # the report's t-SNE of the same latents with the same seed: computed once for both (evaluate.latent_space),
    # so the explorer shows the report's map; a UMAP here costs ~12 s more, most of it umap-learn's numba compiling
    explore_map = "tsne" if d.cfg.embedding in ("tsne", "both") else "pca"
    d.st.run(12, "explore", {"map": explore_map, "color": "truth_smooth_or_featured"}, [explorer], do_explore)


def _report_stage(d: _DemoRun) -> None:
    """Stage 13: the self-contained HTML report, linking the explorer."""
    from .data.store import ImageStore
    from .evaluate.realism import compare_realism, read_rgb_images
    from .report import ReportInputs, write_report

    cfg, out, domains = d.cfg, d.out, d.domains

    def do_report() -> None:
        import numpy as np

        realism = None
        if cfg.real_images is not None:
            realism = out / "realism"
            _rm(realism)
            with ImageStore(d.stores["decals"]) as st:
                real, _ = read_rgb_images(cfg.real_images, st.size, st.field_fraction)
                rows = np.sort(np.random.default_rng(cfg.seed).choice(len(st), min(len(real), len(st)), replace=False))
                sim = st.read(rows)
            compare_realism(sim, real, seed=cfg.seed, n_jobs=cfg.workers, out_dir=realism)
        galleries = sorted(domains.glob("pairs_*.png"))
        inputs = ReportInputs(
            title="galvae demo: the paper on simulated DECaLS and BASS+MzLS",
            run_config=config_to_dict(cfg),
            stage_seconds=dict(d.st.seconds),
            table3_csv=out / "table3" / "table3.csv",
            table4_csv=domains / "table4.csv" if (domains / "table4.csv").exists() else None,
            domains_json=domains / "domains.json",
            pair_galleries=galleries,
            mse_histogram=domains / "mse_hist.png" if (domains / "mse_hist.png").exists() else None,
            sweep_csv=out / "sweep" / "sweep.csv",
            store=d.stores["decals"],
            reconstructions=d.recon,
            split=d.run / "split.json",
            labels=d.labels,
            truth=d.catalog,
            latents=d.latents["decals"],
            outliers_dir=out / "outliers",
            mocks=d.mocks,
            explorer=d.explorer,
            translation_dir=out / "translation",
            realism_dir=realism,
        )
        write_report(d.report, inputs, embedding=cfg.embedding, seed=cfg.seed)

    d.st.run(13, "report", {"embedding": cfg.embedding, "real_images": cfg.real_images}, [d.report], do_report)


def _summary(out: Path) -> dict[str, Any]:
    """Headline numbers from the products (missing ones are left out)."""
    summary: dict[str, Any] = {}
    oj = out / "outliers" / "outliers.json"
    if oj.is_file():
        d = json.loads(oj.read_text())
        summary.update({f"outliers_{k}": d[k] for k in ("n_flagged", "flagged_fraction") if k in d})
    dj = out / "domains" / "domains.json"
    if dj.is_file():
        d = json.loads(dj.read_text())
        summary["mmd2"] = d.get("mmd2")
        mse = d.get("mse") or {}
        summary["median_pair_mse"] = {k: v.get("median") for k, v in mse.items() if isinstance(v, dict)}
        held = d.get("heldout") or {}
        if "after" in held:
            stages = ("before", "after", "control") if "control" in held else ("before", "after")
            summary["heldout_paired_over_random"] = {k: held[k]["paired_over_random"] for k in stages}
    tc = out / "translation" / "translation.csv"
    if tc.is_file():
        import csv

        with tc.open(newline="") as fh:
            summary["translation_ssim"] = {r["method"]: float(r["ssim_mean"]) for r in csv.DictReader(fh)}
    return summary


def with_overrides(config: DemoConfig, **changes: Any) -> DemoConfig:
    """A copy of ``config`` with the non-None ``changes`` applied (for the CLI).

    A new ``profile`` without a ``field_fraction`` or ``centre_window`` takes that profile's default ones (1 and
    0 for ``"fixed"``).
    """
    given = {k: v for k, v in changes.items() if v is not None}
    if "profile" in given and "field_fraction" not in given:
        given["field_fraction"] = None
    if "profile" in given and "centre_window" not in given:
        given["centre_window"] = None
    return replace(config, **given)
