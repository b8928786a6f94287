"""The latent-dimension sweep (the paper's Section 4.1, Figs. 3 and 4).

One VAE is trained per (latent dimension NL, reconstruction loss) pair with
:func:`galvae.train`, each in its own run directory ``<out>/nl{NL}_{loss}``.
A pair whose exported model (``model.json``) exists is not trained again when
the run's saved configuration (``config.json``: architecture, objective,
epochs, batch size, learning rate, seed, split, training store: its content
fingerprint, :meth:`galvae.data.store.ImageStore.fingerprint`, so a sweep
copied or moved with its store is reused and a store rewritten in place is
not; the path for runs saved without one) is the one asked for now;
a finished run made with other settings is trained again.  A
pair with a last checkpoint but no exported model is resumed; so a killed
sweep restarts where it stopped.  The per-galaxy SSIM of each model is
stored in ``<run>/ssim.csv`` and reused on the next call.

SSIM (:func:`galvae.evaluate.ssim.ssim`, L = 1, per band then averaged) is
computed between every image and the reconstruction of its latent mean μ,
over the validation split by default (``evaluate_on="val"``: the ids the
training held out, :func:`galvae.training.datamodule.split_ids`, so that a
model that memorised its training images is not rewarded) or over **all**
galaxies of the store (``"all"``).

First-branch category (Fig. 4): :func:`galvae.data.labels.broad_class`
without mergers (smooth, featured, edge-on, artifact), from the catalogue's
GZ DECaLS fractions or votes, or from its Table 2 labels.  Galaxies without
them have no category.

Repeats (``repeats=R``): R models per pair, with seeds ``seed``, ``seed + 1``,
…, in ``nl{NL}_{loss}`` (the first, so an earlier single-model sweep is
reused) and ``nl{NL}_{loss}_seed{S}``.  The seed draws each model's
validation split, initial weights, batch order and sampling noise, so each
model's SSIM is averaged over its own held-out galaxies, and the pair's
``ssim_mean`` is the mean over the R models: two trainings that differ in
nothing that matters move the SSIM of one NL by about as much as the whole
rise from NL = 10 to 80 at a few epochs, which one model per NL cannot
tell from a knee.  ``sweep_models.csv`` holds one row per model and
``sweep.json`` the knee of each seed's curve beside the knee of the mean.

Knee (the NL where more latents stop paying): Kneedle (Satopää et al.
2011) as :class:`kneed.KneeLocator` implements it, without smoothing — scale
NL and mean SSIM to [0, 1], and take the first local maximum of the height
above the chord joining the first and last points that the curve then falls
below by the mean NL step (sensitivity ``S = 1``); see :func:`find_knee`.
None when fewer than three NL, a flat, straight or convex curve, or a bump
smaller than that.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_json
from .._validate import check_int
from ..data.labels import BROAD_CLASSES
from ..errors import GalvaeValueError

__all__ = [
    "CATEGORIES",
    "SweepResult",
    "find_knee",
    "reconstruction_ssim",
    "sweep",
]

log = logging.getLogger(__name__)

#: The first-branch categories of Fig. 4: the broad classes without mergers.
CATEGORIES: tuple[str, ...] = tuple(c for c in BROAD_CLASSES if c != "merger")
#: Options of :func:`galvae.train` a finished run need not match (its model config is compared field by field;
#: the precision as it resolves on this machine, since bf16 and fp32 trainings differ by more than the sweep's error).
_HARDWARE = ("accelerator", "devices", "num_workers", "precision", "model_config", "progress")


@dataclass(frozen=True)
class SweepResult:
    """What :func:`sweep` produced.

    Attributes
    ----------
    table : DataFrame
        One row per pair: ``latent_dim``, ``loss``, ``n_eval`` (galaxies
        per model), ``ssim_mean``, ``ssim_std`` (over galaxies),
        ``ssim_<category>`` and ``n_<category>`` (with a catalogue),
        ``best_val_loss``, ``epochs``, ``trained`` (False when the pair was
        already finished), ``run_dir`` (the first seed's), ``n_models`` and
        ``ssim_model_std`` (the standard deviation of the models' mean SSIM,
        ddof = 1; NaN with one model).  With repeats every number is the
        mean over the pair's models that have it (``trained``: any of them;
        ``n_eval``, ``n_<category>``, ``epochs``, ``run_dir``: the first
        seed's).
    knees : dict
        Loss → NL at the knee (or None) of the ``ssim_mean`` curve.
    out_dir : Path
    models : DataFrame or None
        One row per trained model (the table's columns and ``seed``); with
        one model per pair its rows are the table's.
    knees_per_seed : dict
        Loss → {seed: NL at the knee of that seed's curve, or None}.
    """

    table: Any
    knees: dict[str, int | None]
    out_dir: Path
    models: Any = None
    knees_per_seed: dict[str, dict[int, int | None]] = field(default_factory=dict)


def find_knee(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Knee of an increasing, flattening curve: Kneedle through :class:`kneed.KneeLocator`.

    The curve's non-finite points are dropped and the rest sorted by ``x``;
    then ``KneeLocator(x, y, curve="concave", direction="increasing", S=1.0,
    interp_method="interp1d", online=False)`` (Satopää et al. 2011, no
    smoothing): both axes min-max scaled to [0, 1], the height of each point
    above the chord, and the first local maximum of that height after which
    it drops by more than the mean scaled ``x`` step.  A knee at the first or
    last point is no knee (kneed returns the first point of a convex curve)
    and gives None.

    kneed replaced a hand-written rule (the point farthest above the chord,
    any height) after a comparison on the sweep's curves: the same knee on
    the paper-like curve (SSIM 0.50, 0.65, 0.80, 0.81, 0.82, 0.83 at NL 10,
    20, 40, 60, 80, 100: NL 40), on the measured benchmark sweep
    (``benchmarks/science.json``, SSIM flat within 0.760-0.768: NL 40), on
    concave, corner, S-shaped and rise-then-fall curves, with three points,
    and None for flat, straight and convex ones; with Gaussian noise on the
    paper-like curve the knee stays at NL 40 as often (1000/1000 for sigma
    0.01, 977 against 975 of 1000 for sigma 0.02).  kneed is more correct on
    a noisy straight line, which has no knee: over 1000 lines on the NL grid
    with noise 0.01 it found a knee in 2, the hand-written rule in 999.  It
    is a little less precise on a noisy smooth curve sampled finely (30
    points of 1 - exp(-x/5), noise 0.01: 90th-percentile error 3 steps
    against 2), which the sweep's few NL do not meet.

    Parameters
    ----------
    x, y : sequence of float
        The curve (NL and mean SSIM); sorted by ``x`` here.

    Returns
    -------
    float or None
        The ``x`` of the knee; None with fewer than three finite points, a
        flat or straight curve, a convex one, or no bump above the chord
        larger than the mean ``x`` step.

    Raises
    ------
    GalvaeValueError
        If ``x`` and ``y`` are not 1-D of the same length.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise GalvaeValueError("x and y must be 1-D of the same length", (xs.shape, ys.shape))
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    if len(xs) < 3:
        return None
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    if np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return None  # kneed would divide by zero scaling a flat curve
    from kneed import KneeLocator  # imports scipy.signal: only when a knee is asked for

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # kneed < 0.9 warns "No knee/elbow found": None says it
        knee = KneeLocator(
            xs, ys, curve="concave", direction="increasing", S=1.0, interp_method="interp1d", online=False
        ).knee
    if knee is None or knee in (xs[0], xs[-1]):
        return None
    return float(knee)


def reconstruction_ssim(
    model: Any,
    store: Any,
    rows: np.ndarray | None = None,
    *,
    batch_size: int = 256,
    progress: bool = True,
) -> np.ndarray:
    """SSIM between each image and the reconstruction of its latent mean.

    Parameters
    ----------
    model : GalaxyVAE
    store : ImageStore
    rows : array of int, optional
        Rows of the store (default all).
    batch_size : int, default 256
    progress : bool, default True

    Returns
    -------
    ndarray, shape (len(rows),), float64
    """
    import torch
    from tqdm.auto import tqdm

    from ..models.layout import to_network_layout
    from .ssim import ssim

    rows = np.arange(len(store)) if rows is None else np.asarray(rows, dtype=np.int64)
    out = np.empty(len(rows), np.float64)
    net, dev = model.network, model.device
    with model.inference():
        for i in tqdm(
            range(0, len(rows), batch_size),
            desc="ssim",
            unit="batch",
            disable=not progress,
            leave=False,
        ):
            x = to_network_layout(torch.from_numpy(store.read(rows[i : i + batch_size])).to(dev))
            mu, _ = net.encode(x)
            out[i : i + len(x)] = ssim(net.decode(mu), x).double().cpu().numpy()
    return out


def _config_mismatch(
    run: Path, store_path: str, nl: int, loss: str, train_kw: dict[str, Any], fingerprint: str | None = None
) -> str | None:
    """None when ``run`` was configured as asked (or is new); else what differs, for the log.

    Compares the saved ``config.json`` with the latent dimension, loss,
    training store (its content ``fingerprint`` when the run recorded one:
    a copied or moved store is the same store, a store rewritten in place
    with other images is not; its path for older runs) and every
    setting in ``train_kw`` that the run records
    (model fields and training fields alike; hardware settings excluded but
    the precision, compared as ``"auto"`` resolves here: a bf16 run is not
    reused for an fp32 sweep, nor the reverse).
    """
    from ..config import config_to_dict
    from ..data.store import same_stores
    from ..training.precision import resolve_precision

    cfg_path = run / "config.json"
    if not cfg_path.is_file():
        return None if not (run / "model.json").is_file() else "no config.json"
    try:
        saved = json.loads(cfg_path.read_text())
        model, training, data = saved["model"], saved["train"], saved["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return "unreadable config.json"
    want: dict[str, Any] = {"latent_dim": nl, "loss": loss}
    if train_kw.get("model_config") is not None:
        # None fields (e.g. a noise_sigma that train estimates and records) match whatever was recorded
        mc = {k: v for k, v in config_to_dict(train_kw["model_config"]).items() if v is not None}
        want = {**mc, **want}
    want.update({k: v for k, v in train_kw.items() if k not in _HARDWARE and v is not None})
    fingerprints, recorded = None if fingerprint is None else [fingerprint], data.get("store_fingerprints")
    if not same_stores(recorded, data.get("stores") or [], [store_path], fingerprints):
        if recorded is None:
            return f"trained on {data.get('stores')} (saved without a store fingerprint: matched on the path)"
        return f"trained on other images than {store_path} holds now; it recorded {data.get('stores')}"
    if data.get("stores") != [store_path]:
        log.info("%s was trained on %s, the same content as %s", run.name, data["stores"][0], store_path)
    if "precision" in training:  # runs saved before precision was recorded match any
        asked = resolve_precision(train_kw.get("precision") or "32", train_kw.get("accelerator") or "auto")
        if str(training["precision"]) != asked:
            return f"precision = {training['precision']!r}, asked {asked!r}"
    from ..models.config import ModelConfig
    from ..training.config import TrainConfig

    # a model or training field the run predates (e.g. centre_window, augment) had its default then
    defaults = {**config_to_dict(TrainConfig()), **config_to_dict(ModelConfig())}
    for key, value in want.items():
        have = model.get(key, training.get(key, defaults.get(key, value)))
        if isinstance(value, tuple):
            value = list(value)
        if have != value:
            return f"{key} = {have!r}, asked {value!r}"
    return None


def _run_pair(
    store_path: str,
    run: Path,
    nl: int,
    loss: str,
    train_kw: dict[str, Any],
    progress: bool,
    fingerprint: str | None = None,
) -> tuple[bool, Any]:
    from dataclasses import replace

    from ..training.train import train

    mismatch = _config_mismatch(run, store_path, nl, loss, train_kw, fingerprint)
    if (run / "model.json").is_file() and mismatch is None:
        log.info("%s finished: not trained again", run.name)
        return False, None
    if mismatch is not None and run.exists():
        log.warning("%s was made with other settings (%s): training it again", run.name, mismatch)
    resume = mismatch is None and (run / "checkpoints" / "last.ckpt").is_file()
    kw = dict(train_kw)
    if kw.get("model_config") is not None:
        kw["model_config"] = replace(kw["model_config"], latent_dim=nl, loss=loss)
    log.info("training %s (%s)", run.name, "resuming" if resume else "new")
    res = train(
        store_path,
        run,
        latent_dim=nl,
        loss=loss,
        resume=resume,
        overwrite=not resume,
        progress=progress,
        **kw,
    )
    return True, res


def sweep(
    store: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    latent_dims: Sequence[int] = (10, 20, 40, 60, 80, 100),
    losses: Sequence[str] = ("mse", "mae"),
    epochs: int = 10,
    catalog: Any = None,
    evaluate_on: str = "val",
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    val_fraction: float = 0.1,
    accelerator: str = "auto",
    device: str = "cpu",
    model_config: Any = None,
    likelihood: str = "gaussian",
    noise_sigma: Sequence[float] | None = None,
    learn_sigma: bool = False,
    train_kwargs: dict[str, Any] | None = None,
    repeats: int = 1,
    progress: bool = True,
) -> SweepResult:
    """Train one VAE per (NL, loss) pair and measure SSIM (Figs. 3, 4).

    Parameters
    ----------
    store : path
        Image store.
    out_dir : path
        Sweep directory: run directories ``nl{NL}_{loss}``, ``sweep.csv``,
        ``sweep.json``, ``fig3_ssim_vs_nl.png`` and (with a catalogue)
        ``fig4_ssim_per_category.png``.
    latent_dims : sequence of int, default (10, 20, 40, 60, 80, 100)
    losses : sequence of {"mse", "mae"}, default ("mse", "mae")
    epochs : int, default 10
        Epochs per model.
    catalog : path or DataFrame, optional
        For the SSIM per first-branch category (matched on ``id``).
    evaluate_on : {"val", "all"}, default "val"
        Galaxies whose SSIM is averaged: the held-out validation split, or all.
    batch_size, lr, seed, val_fraction, accelerator
        Passed to :func:`galvae.train`.
    device : str, default "cpu"
        Device for the SSIM evaluation.
    model_config : ModelConfig, optional
        Architecture variant (its latent_dim and loss are set per pair, its
        likelihood, noise_sigma and learn_sigma by the three arguments below).
    likelihood : {"gaussian", "sum", "mean"}, default "gaussian"
        Reconstruction term of every model (:mod:`galvae.losses.elbo`).
    noise_sigma : sequence of 3 float, optional
        σ of a ``"gaussian"`` decoder per band; estimated from the store when
        not given (:func:`galvae.train`).
    learn_sigma : bool, default False
        Learn the ``"gaussian"`` decoder's σ.
    train_kwargs : dict, optional
        Further keyword arguments for :func:`galvae.train`.
    repeats : int, default 1
        Models per pair, with seeds ``seed`` … ``seed + repeats - 1`` (each
        its own split, weights and batch order); the pair's SSIM is their
        mean and the knee is found on that mean curve.
    progress : bool, default True

    Returns
    -------
    SweepResult

    Raises
    ------
    GalvaeValueError
        On empty or non-positive latent dimensions, unknown losses,
        likelihood or ``evaluate_on``, ``repeats`` < 1, or likelihood options that do not fit
        together (:class:`~galvae.models.ModelConfig`).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from ..data.store import ImageStore
    from ..training.datamodule import split_ids
    from .inputs import load_catalog

    dims, losses = _check_grid(latent_dims, losses, evaluate_on)
    repeats = check_int("repeats", repeats, minimum=1)
    seeds = [int(seed) + r for r in range(repeats)]
    objective, model_config = _objective(likelihood, noise_sigma, learn_sigma, model_config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store_path = os.path.abspath(os.fspath(store))
    train_kw = dict(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        val_fraction=val_fraction,
        accelerator=accelerator,
        model_config=model_config,
        **(_likelihood_options(objective) if model_config is None else {}),
        **(train_kwargs or {}),
    )
    records, models = [], []
    with ImageStore(store_path) as st:
        ids = st.ids.astype(str)
        fingerprint = st.fingerprint()  # finished runs made from a copy of this store's content are reused
        rows_of = {
            s: np.arange(len(ids)) if evaluate_on == "all" else split_ids(ids, val_fraction, s)[1] for s in seeds
        }
        cat = None if catalog is None else load_catalog(catalog)  # read once for every seed's split
        cats_of = {s: None if cat is None else _categories(cat, ids[rows_of[s]]) for s in seeds}
        grid = [(n, s) for s in losses for n in dims]
        bar = tqdm(total=len(grid) * repeats, desc="sweep", unit="model", disable=not progress)
        with bar:
            for nl, loss in grid:
                per = []
                for sd in seeds:
                    run = out / _run_name(nl, loss, sd, seeds[0])
                    trained, res = _run_pair(store_path, run, nl, loss, {**train_kw, "seed": sd}, progress, fingerprint)
                    rows = rows_of[sd]
                    s = _pair_ssim(run, st, ids[rows], rows, f"ssim_{evaluate_on}.csv", trained, device, progress)
                    per.append({**_pair_record(nl, loss, run, s, trained, res, cats_of[sd]), "seed": sd})
                    bar.update()
                models.extend(per)
                records.append(_combine(per))
    table = pd.DataFrame(records)
    model_table = pd.DataFrame(models)
    knees = {str(loss): _knee_of(grp) for loss, grp in table.groupby("loss", sort=False)}
    knees_per_seed = {
        str(loss): {int(sd): _knee_of(g) for sd, g in grp.groupby("seed", sort=True)}
        for loss, grp in model_table.groupby("loss", sort=False)
    }
    files = _write_figures(out, table, knees, with_categories=catalog is not None)
    if repeats > 1:
        from ..data.tables import write_table

        write_table(model_table, out / "sweep_models.csv", overwrite=True)
        files.append("sweep_models.csv")
    params = {
        "latent_dims": dims,
        "losses": losses,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "repeats": repeats,
        "val_fraction": val_fraction,
        "likelihood": objective.likelihood,
        "noise_sigma": None if noise_sigma is None else list(objective.noise_sigma or ()),
        "learn_sigma": objective.learn_sigma,
    }
    summary = _summary(store_path, evaluate_on, len(rows_of[seeds[0]]), knees, records, params, files)
    summary["knees_per_seed"] = {k: {str(sd): v for sd, v in d.items()} for k, d in knees_per_seed.items()}
    if repeats > 1:
        summary["models"] = _finite(models)
    write_json(out / "sweep.json", summary)
    return SweepResult(table, knees, out, model_table, knees_per_seed)


def _run_name(nl: int, loss: str, seed: int, first_seed: int) -> str:
    """The run directory of one model: ``nl{NL}_{loss}`` for the first seed, ``…_seed{S}`` for the others."""
    return f"nl{nl}_{loss}" if seed == first_seed else f"nl{nl}_{loss}_seed{seed}"


def _combine(per: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of ``sweep.csv`` from the records of a pair's models: means, ``n_models``, ``ssim_model_std``."""
    first = per[0]
    rec: dict[str, Any] = {}
    for key, value in first.items():
        if key == "seed":
            continue
        if key == "trained":
            rec[key] = any(p[key] for p in per)
        elif key.startswith("ssim_") or key == "best_val_loss":
            vals = [float(p[key]) for p in per if p[key] is not None and np.isfinite(p[key])]
            rec[key] = float(np.mean(vals)) if vals else (None if key == "best_val_loss" else float("nan"))
        else:
            rec[key] = value  # latent_dim, loss, n_eval, n_<category>, epochs, run_dir: the first model's
    means = np.array([p["ssim_mean"] for p in per], dtype=np.float64)
    rec["n_models"] = len(per)
    rec["ssim_model_std"] = float(means.std(ddof=1)) if len(per) > 1 else float("nan")
    return rec


def _finite(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` with non-finite floats as None (JSON has no NaN)."""
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()} for r in records]


def _check_grid(latent_dims: Sequence[int], losses: Sequence[str], evaluate_on: str) -> tuple[list[int], list[str]]:
    """The (NL, loss) grid, validated."""
    dims = [int(d) for d in latent_dims]
    if not dims or any(d < 1 for d in dims) or len(set(dims)) != len(dims):
        raise GalvaeValueError("latent_dims must be distinct positive integers", list(latent_dims))
    names = [str(s).lower() for s in losses]
    bad = [s for s in names if s not in ("mse", "mae")]
    if not names or bad:
        raise GalvaeValueError(
            f"unknown loss {bad[0] if bad else None!r}",
            bad[0] if bad else None,
            allowed=("mse", "mae"),
        )
    if evaluate_on not in ("all", "val"):
        raise GalvaeValueError("evaluate_on must be 'all' or 'val'", evaluate_on, allowed=("all", "val"))
    return dims, names


def _objective(
    likelihood: str, noise_sigma: Sequence[float] | None, learn_sigma: bool, model_config: Any
) -> tuple[Any, Any]:
    """The likelihood options validated together (before any model is trained), and the model config carrying them."""
    from dataclasses import replace

    from ..models.config import ModelConfig

    objective = ModelConfig(
        likelihood=likelihood,
        noise_sigma=None if noise_sigma is None else tuple(noise_sigma),
        learn_sigma=learn_sigma,
    )
    if model_config is not None:
        model_config = replace(model_config, **_likelihood_options(objective))
    return objective, model_config


def _likelihood_options(objective: Any) -> dict[str, Any]:
    return {
        "likelihood": objective.likelihood,
        "noise_sigma": objective.noise_sigma,
        "learn_sigma": objective.learn_sigma,
    }


def _categories(catalog: Any, ids: np.ndarray) -> np.ndarray:
    """The first-branch category of each of ``ids`` (None where the catalogue has none)."""
    from ..data.labels import broad_class
    from .inputs import load_catalog

    cat = load_catalog(catalog)
    if "id" not in cat.columns:
        raise GalvaeValueError("catalogue has no 'id' column", list(cat.columns)[:8])
    lookup = dict(zip(cat["id"].astype(str), broad_class(cat, mergers=False), strict=True))
    cats = np.array([lookup.get(i) for i in ids], dtype=object)
    if all(v is None for v in cats):
        log.warning("no store id has a first-branch category in the catalogue")
    return cats


def _pair_ssim(
    run: Path,
    store: Any,
    ids: np.ndarray,
    rows: np.ndarray,
    name: str,
    trained: bool,
    device: str,
    progress: bool,
) -> np.ndarray:
    """The per-galaxy SSIM of one run: its ``name`` file when the run and galaxies are unchanged, else measured."""
    import pandas as pd

    from ..data.tables import write_table
    from ..latents.model import GalaxyVAE

    saved = run / name
    if not trained and saved.is_file():
        prev = pd.read_csv(saved, dtype={"id": str})
        if prev["id"].tolist() == ids.tolist():
            return prev["ssim"].to_numpy()
    s = reconstruction_ssim(GalaxyVAE.load(run, device=device), store, rows, progress=progress)
    write_table(pd.DataFrame({"id": ids, "ssim": s}), saved, overwrite=True)
    return s


def _pair_record(
    nl: int, loss: str, run: Path, s: np.ndarray, trained: bool, res: Any, cats: np.ndarray | None
) -> dict[str, Any]:
    """One row of ``sweep.csv``."""
    training = json.loads((run / "model.json").read_text()).get("training") or {}
    rec: dict[str, Any] = {
        "latent_dim": nl,
        "loss": loss,
        "n_eval": len(s),
        "ssim_mean": float(s.mean()),
        "ssim_std": float(s.std()),
        "best_val_loss": training.get("best_val_loss", res.best_val_loss if res else None),
        "epochs": res.epochs if res else training.get("epochs"),
        "trained": trained,
        "run_dir": str(run),
    }
    if cats is not None:
        for name in CATEGORIES:
            m = cats == name
            rec[f"n_{name}"] = int(m.sum())
            rec[f"ssim_{name}"] = float(s[m].mean()) if m.any() else float("nan")
    return rec


def _knee_of(grp: Any) -> int | None:
    k = find_knee(grp["latent_dim"], grp["ssim_mean"])
    return None if k is None else int(k)


def _write_figures(out: Path, table: Any, knees: dict[str, int | None], *, with_categories: bool) -> list[str]:
    """``sweep.csv`` and the figures (Fig. 4 only with categories); the names written."""
    from ..data.tables import write_table
    from ..plots import plot_ssim_per_category, plot_ssim_vs_nl, save_figure

    write_table(table, out / "sweep.csv", overwrite=True)
    save_figure(plot_ssim_vs_nl(table, knees=knees), out / "fig3_ssim_vs_nl.png")
    files = ["sweep.csv", "fig3_ssim_vs_nl.png"]
    if with_categories:
        save_figure(plot_ssim_per_category(table, CATEGORIES), out / "fig4_ssim_per_category.png")
        files.append("fig4_ssim_per_category.png")
    return files


def _summary(
    store_path: str,
    evaluate_on: str,
    n_eval: int,
    knees: dict[str, int | None],
    records: list[dict[str, Any]],
    params: dict[str, Any],
    files: list[str],
) -> dict[str, Any]:
    """The content of ``sweep.json``."""
    return {
        "store": store_path,
        "evaluate_on": evaluate_on,
        "n_eval": n_eval,
        "ssim": "per band, Gaussian window 11x11 sigma 1.5, valid region, L=1, averaged over g,r,z; image vs decode(mu)",
        "knee_method": "Kneedle (kneed.KneeLocator, concave increasing, S=1, no smoothing) on the SSIM(NL) curve; none at an end point",
        "knees": knees,
        "category_rule": "argmax of smooth-or-featured fractions; featured with disk-edge-on_yes_fraction > 0.5 -> edge-on",
        "results": _finite(records),
        "params": params,
        "files": files + ["sweep.json"],
    }
