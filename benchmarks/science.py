"""Science fidelity: how much the latent space holds, and what it classifies, per presentation x likelihood.

For each configuration ``PROFILE:LIKELIHOOD[:K]`` (e.g. ``fixed:sum``, ``gz-decals:gaussian``) on the
same simulated galaxies (one simulation per profile, the demo's defaults unless told):

* trains the paper's VAE (NL = 40 unless ``--latent-dim``) with :func:`galvae.train`;
* on the run's *validation* galaxies (never trained on): active units (Burda et al. 2016: variance over
  galaxies of mu_d > 0.01), mean total KL per galaxy and KL per dimension (nats), SSIM of the
  reconstructions as galvae computes it (float images in [0, 1], L = 1) and the paper's way (8-bit, L = 255);
* random forests on the latent means against random forests on 40 PCA components of the pixels and the
  majority rate, on the simulator's *truth* classes, one protocol for both: PCA is fitted on the VAE's
  training galaxies, the forests train on a stratified 70 % of every galaxy and are tested on the other
  30 % (the same ids for both), class weights balanced for neither;
* the median latent MSE of the same galaxy in DECaLS and BASS+MzLS over that of random pairs.

``--sweep 10,20,40,60,80,100`` adds held-out SSIM against NL with the knee (the first configuration's;
every configuration's with ``--sweep-all``).

**Recipes on a demo's galaxies.** ``--sim DEMO/data`` takes the simulation of a ``galvae demo`` run (its
``decals.h5``, ``bass_mzls.h5`` and ``catalog.parquet``) instead of simulating, and a configuration may then
be a named recipe (:data:`RECIPES`), with ``+KEY=VALUE`` to change one of its settings (``demo+colour_weight=6``): ``demo`` trains exactly as the demo's train stage (the Laplace decoder at
the sky's noise, colour and detail weights, two blocks, linear output, turned and mirrored images, batch 32,
24 epochs), ``paper`` as the paper's eq. 2 is written (summed squared error, ``galvae train``'s three-block
network), and the ``demo-…`` / ``paper-…`` variants change one thing each.  With ``--labels`` (the demo's
``labels.parquet``) each configuration also gets Table 3 over ``--splits`` 70/30 splits as
``benchmarks/table3_repeats.py`` runs it (:func:`galvae.classify`, PCA-40 of the pixels, 200 trees); with
``--cnn-table`` (the demo's ``table3/table3.csv``) its supervised CNN's accuracies stand beside them.

Writes ``OUT.json`` and ``OUT.md`` (default ``benchmarks/science_configs``; ``benchmarks/science.md`` is the
hand-written log of these measurements and is never the default).  Run from the repository root::

    .venv/bin/python benchmarks/science.py --configs fixed:sum,gz-decals:sum,gz-decals:gaussian
    .venv/bin/python benchmarks/science.py --sim galvae-demo/data --labels galvae-demo/labels.parquet \
        --cnn-table galvae-demo/table3/table3.csv --configs demo,paper --sweep 10,20,40,60,80,100 \
        --sweep-epochs 3 --sweep-all --precision bf16-mixed --out benchmarks/science_recipes
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import galvae
from galvae.evaluate.paper import TABLE3
from galvae.evaluate.sweep import find_knee

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine

log = logging.getLogger("galvae.benchmarks.science")

#: The simulator's truth classes compared (catalogue column -> name); None rows are not asked.
TRUTH = {
    "truth_smooth_or_featured": "smooth or featured",
    "truth_how_rounded": "how rounded",
    "truth_disk_edge_on": "edge-on",
    "truth_edge_on_bulge": "edge-on bulge",
    "truth_bar": "bar",
    "truth_has_spiral_arms": "has arms",
    "truth_spiral_winding": "arm winding",
    "truth_spiral_arm_count": "arm count",
    "truth_bulge_size": "bulge size",
    "truth_merging": "merging",
}


def _forest_accuracy(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int) -> float:
    from sklearn.ensemble import RandomForestClassifier

    rf = RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=2)
    rf.fit(x[train], y[train])
    return float((rf.predict(x[test]) == y[test]).mean())


def truth_table(mu: np.ndarray, pca: np.ndarray, cat: pd.DataFrame, seed: int) -> list[dict]:
    """Forest accuracies on latents and PCA components, and the majority rate, per truth class."""
    from sklearn.model_selection import train_test_split

    rows = []
    for col, name in TRUTH.items():
        y = cat[col].astype(object).to_numpy()
        ok = np.array([v is not None and v == v for v in y])
        yk = y[ok].astype(str)
        values, counts = np.unique(yk, return_counts=True)
        keep = np.isin(yk, values[counts >= 5])
        idx = np.nonzero(ok)[0][keep]
        yk = yk[keep]
        if idx.size < 40 or np.unique(yk).size < 2:
            continue
        tr, te = train_test_split(np.arange(idx.size), test_size=0.3, random_state=seed, stratify=yk)
        _, c = np.unique(yk[te], return_counts=True)
        rows.append(
            {
                "feature": name,
                "n": int(idx.size),
                "classes": int(np.unique(yk).size),
                "majority": float(c.max() / c.sum()),
                "latents": _forest_accuracy(mu[idx], yk, tr, te, seed),
                "pca40": _forest_accuracy(pca[idx], yk, tr, te, seed),
            }
        )
    return rows


def _demo_recipe() -> dict:
    """The demo's train stage, as ``galvae demo`` calls :func:`galvae.train` (``DemoConfig``'s defaults)."""
    from galvae.demo import _vae_options

    d = galvae.DemoConfig()
    return {
        "likelihood": d.likelihood,
        "loss": d.loss,
        "batch_size": d.batch_size,
        "epochs": d.epochs,
        "latent_dim": d.latent_dim,
        **_vae_options(d),
    }


def _paper_recipe() -> dict:
    """The paper's eq. 2 as written: summed squared error, ``galvae train``'s network, the demo's batches."""
    d = galvae.DemoConfig()
    return {"likelihood": "sum", "loss": "mse", "batch_size": d.batch_size, "epochs": d.epochs, "latent_dim": 40}


#: Named training recipes (``--sim`` only): name -> (what it is, train keyword arguments).
RECIPES: dict[str, tuple[str, object]] = {
    "demo": ("the demo's training (DemoConfig)", _demo_recipe),
    "demo-mse": (
        "the demo's, Gaussian decoder instead of Laplace (loss mse)",
        lambda: {**_demo_recipe(), "loss": "mse"},
    ),
    "demo-unturned": (
        "the demo's, images not turned or mirrored",
        lambda: {k: v for k, v in _demo_recipe().items() if k != "augment"},
    ),
    "demo-unweighted": (
        "the demo's, colour and detail weights 1",
        lambda: {**_demo_recipe(), "colour_weight": 1.0, "detail_weight": 1.0},
    ),
    "demo-no-detail": ("the demo's, detail weight 1", lambda: {**_demo_recipe(), "detail_weight": 1.0}),
    "demo-no-colour": ("the demo's, colour weight 1", lambda: {**_demo_recipe(), "colour_weight": 1.0}),
    "paper": ("the paper's eq. 2: summed squared error, galvae train's network", _paper_recipe),
    "paper-gaussian": (
        "the paper's network and MSE, Gaussian decoder at the sky's noise (galvae train's default)",
        lambda: {**_paper_recipe(), "likelihood": "gaussian"},
    ),
}


def parse_config(spec: str) -> tuple[str, str, float, dict[str, float]]:
    """``PROFILE:LIKELIHOOD[:K][:bBATCH][:lrLR][:eEPOCHS]`` → (profile, likelihood, k, extra options)."""
    parts = spec.strip().split(":")
    if len(parts) < 2:
        raise SystemExit(
            f"config {spec!r}: expected a recipe ({', '.join(RECIPES)}) or PROFILE:LIKELIHOOD[:K][:bBATCH][:lrLR][:eEPOCHS]"
        )
    k, extra = 1.0, {}
    for tok in parts[2:]:
        for key in ("lr", "b", "e", "k"):
            if tok.startswith(key) and tok != key:
                val = float(tok[len(key) :])
                if key == "k":
                    k = val
                else:
                    extra[key] = val
                break
        else:
            k = float(tok)  # the older PROFILE:LIKELIHOOD:K form
    return parts[0], parts[1], k, extra


def _train_kwargs(likelihood: str, k: float) -> dict:
    kw: dict = {"kl_weight": k}
    if "likelihood" in inspect.signature(galvae.train).parameters:
        kw["likelihood"] = likelihood
    elif likelihood != "sum":
        raise SystemExit(f"this galvae has no likelihood option; cannot run {likelihood!r}")
    return kw


def table3_splits(
    run: Path, store: Path, labels: Path, work: Path, splits: int, trees: int, n_jobs: int
) -> dict[str, dict]:
    """Table 3 over ``splits`` 70/30 splits (``benchmarks/table3_repeats.py``'s protocol) on ``run``'s latents.

    Returns per feature the mean accuracy of the latent forest, of PCA-40's and the majority rate, and the
    number of splits where the latents reach PCA-40 and the majority rate + 0.10.
    """
    lat = work / f"latents_{run.name}.parquet"
    galvae.encode_store(run, store, lat, overwrite=True, progress=False, recon_error=False)
    rows: dict[str, dict] = {}
    for seed in range(splits):
        t = galvae.classify(
            lat,
            labels,
            store=store,
            baselines=("pca",),
            seed=seed,
            n_estimators=trees,
            min_galaxies=101,
            n_jobs=n_jobs,
            progress=False,
        ).table
        v, p = t[t.method == "vae"].set_index("feature"), t[t.method == "pca"].set_index("feature")
        for f in v.index:
            r = rows.setdefault(f, {"latents": [], "pca40": [], "majority": [], "n_test": int(v.n_test[f])})
            r["latents"].append(float(v.accuracy[f]))
            r["pca40"].append(float(p.accuracy[f]))
            r["majority"].append(float(v.majority_rate[f]))
    return {
        f: {
            "n_test": r["n_test"],
            "latents": float(np.mean(r["latents"])),
            "latents_sd": float(np.std(r["latents"])),
            "pca40": float(np.mean(r["pca40"])),
            "majority": float(np.mean(r["majority"])),
            "splits_ge_pca40": int(sum(a >= b for a, b in zip(r["latents"], r["pca40"], strict=True))),
            "splits_ge_majority10": int(sum(a >= m + 0.10 for a, m in zip(r["latents"], r["majority"], strict=True))),
        }
        for f, r in rows.items()
    }


def sweep_points(store: Path, work: Path, name: str, nls: list[int], epochs: int, seed: int, kw: dict) -> dict:
    """Held-out SSIM, active units and KL against NL, one model per NL trained with ``kw`` for ``epochs``."""
    points = []
    for nl in nls:
        run = work / f"sweep_{name.replace(':', '_')}_nl{nl}"
        galvae.train(
            store, run, **{**kw, "latent_dim": nl, "epochs": epochs}, seed=seed, overwrite=True, progress=False
        )
        vae = galvae.GalaxyVAE.load(run)
        split = json.loads((run / "split.json").read_text())
        with galvae.ImageStore(store) as st:
            imgs = st.read(st.index_of(split["val_ids"]))
        mu, logvar = vae.encode(imgs, return_logvar=True)
        points.append(
            {
                "latent_dim": nl,
                "ssim_val": float(np.mean(galvae.ssim(imgs, vae.reconstruct(imgs)))),
                "active_units": int((mu.var(axis=0) > 0.01).sum()),
                "kl_total": float((-0.5 * (1 + logvar - mu**2 - np.exp(logvar))).sum(axis=1).mean()),
            }
        )
        log.warning(
            "%s sweep NL=%d: SSIM %.4f, %d active", name, nl, points[-1]["ssim_val"], points[-1]["active_units"]
        )
    knee = find_knee([q["latent_dim"] for q in points], [q["ssim_val"] for q in points])
    return {"config": name, "epochs": epochs, "points": points, "knee": knee}


def evaluate_run(run: Path, store: Path, overlap_store: Path | None, cat: pd.DataFrame, seed: int) -> dict:
    """Every number of one trained run (see the module docs)."""
    from sklearn.decomposition import PCA

    vae = galvae.GalaxyVAE.load(run)
    split = json.loads((run / "split.json").read_text())
    with galvae.ImageStore(store) as st:
        ids = st.ids.astype(str)
        images = st.read()
    pos = {g: i for i, g in enumerate(ids)}
    val = np.array([pos[g] for g in split["val_ids"]])
    train = np.array([pos[g] for g in split["train_ids"]])
    mu, logvar = vae.encode(images, return_logvar=True)
    kl = -0.5 * (1 + logvar[val] - mu[val] ** 2 - np.exp(logvar[val]))
    recon = vae.reconstruct(images[val])
    s_float = float(np.mean(galvae.ssim(images[val], recon)))
    to8 = lambda a: np.round(np.clip(a, 0, 1) * 255.0)  # noqa: E731
    s_8bit = float(np.mean(galvae.ssim(to8(images[val]), to8(recon), data_range=255.0)))
    flat = images.reshape(len(images), -1)
    pca = PCA(n_components=40, random_state=seed).fit(flat[train]).transform(flat)
    catx = cat.set_index("id").loc[ids].reset_index()
    out = {
        "active_units": int((mu[val].var(axis=0) > 0.01).sum()),
        "kl_total": float(kl.sum(axis=1).mean()),
        "kl_per_dim": [float(v) for v in kl.mean(axis=0)],
        "ssim_val": s_float,
        "ssim_val_8bit": s_8bit,
        "mu_spread": float(mu[val].std(axis=0).mean()),
        "truth": truth_table(mu, pca, catx, seed),
    }
    if overlap_store is not None:
        with galvae.ImageStore(overlap_store) as ot:
            oids = ot.ids.astype(str)
            mu_t = vae.encode(ot.read())
        mu_s = mu[[pos[g] for g in oids]]
        same = ((mu_s - mu_t) ** 2).mean(axis=1)
        perm = np.random.default_rng(seed).permutation(len(oids))
        rand = ((mu_s - mu_t[perm]) ** 2).mean(axis=1)
        out["paired_mse_median"] = float(np.median(same))
        out["random_mse_median"] = float(np.median(rand))
        out["paired_over_random"] = float(np.median(same) / np.median(rand))
    return out


def _simulation(args: argparse.Namespace, work: Path, profile: str, sims: dict) -> tuple[Path, Path, pd.DataFrame]:
    """The DECaLS and BASS+MzLS stores and the catalogue of ``profile``: ``--sim``'s, or simulated once."""
    if args.sim:
        sim = Path(args.sim)
        paths = (sim / "decals.h5", sim / "bass_mzls.h5", sim / "catalog.parquet")
        missing = [str(q) for q in paths if not q.is_file()]
        if missing:
            raise SystemExit(f"--sim {sim}: missing {', '.join(missing)} (a galvae demo's data directory)")
        if profile and (have := json.loads((sim / "simulation.json").read_text())["config"]["profile"]) != profile:
            raise SystemExit(f"config profile {profile!r} but --sim {sim} holds the {have!r} profile")
        return paths[0], paths[1], pd.read_parquet(paths[2])
    if not profile:
        raise SystemExit("a named recipe needs --sim DEMO/data (the galaxies it was made for)")
    if profile not in sims:
        t0 = time.perf_counter()
        sim = galvae.simulate.simulate(
            work / f"sim_{profile}",
            n_galaxies=args.n,
            overlap=args.overlap,
            size=args.size,
            seed=args.seed,
            profile=profile,
            overwrite=True,
            progress=False,
        )
        log.warning("simulated %s in %.0f s", profile, time.perf_counter() - t0)
        sims[profile] = (sim.stores["decals"], sim.stores["bass_mzls"], pd.read_parquet(sim.catalog))
    return sims[profile]


def _config(spec: str, args: argparse.Namespace) -> tuple[str, str, dict, dict]:
    """(name, profile or "" for a recipe, train keyword arguments, fields for the results)."""
    base, *overrides = spec.split("+")
    if base in RECIPES:
        what, make = RECIPES[base]
        kw = make()
        if args.recipe_epochs:
            kw["epochs"] = args.recipe_epochs
        for item in overrides:  # RECIPE+key=value: one setting of the recipe changed
            key, sep, value = item.partition("=")
            if not sep or key not in kw:
                raise SystemExit(f"config {spec!r}: {item!r} is not KEY=VALUE with KEY one of {', '.join(kw)}")
            kw[key] = type(kw[key])(float(value)) if isinstance(kw[key], int | float) else value
            what += f", {key} = {value}"
        return spec, "", kw, {"recipe": spec, "what": what, "train": {k: v for k, v in kw.items()}}
    profile, likelihood, k, extra = parse_config(spec)
    tag = "".join(f":{key}{val:g}" for key, val in extra.items())
    kw = {
        "latent_dim": args.latent_dim,
        "epochs": int(extra.get("e", args.epochs)),
        "batch_size": int(extra.get("b", 64)),
        "lr": float(extra.get("lr", 1e-3)),
        **_train_kwargs(likelihood, k),
    }
    fields = {"profile": profile, "likelihood": likelihood, "k": k}
    return f"{profile}:{likelihood}:k{k:g}{tag}", profile, kw, fields


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--configs",
        default="fixed:sum,gz-decals:sum,gz-decals:gaussian",
        help="comma-separated recipes (" + ", ".join(RECIPES) + "; with --sim) or "
        "PROFILE:LIKELIHOOD[:K][:bBATCH][:lrLR][:eEPOCHS] (default %(default)s)",
    )
    p.add_argument("--sim", help="a galvae demo's data directory to use instead of simulating")
    p.add_argument("--labels", help="labels (galvae labels / the demo's labels.parquet): adds Table 3 on them")
    p.add_argument("--cnn-table", help="a galvae classify table3.csv whose CNN accuracies to show beside Table 3")
    p.add_argument("--splits", type=int, default=5, help="Table 3's 70/30 splits (default 5)")
    p.add_argument("--trees", type=int, default=200, help="Table 3's forest size (default 200)")
    p.add_argument("--n", type=int, default=2000, help="galaxies (default 2000, the demo's)")
    p.add_argument("--overlap", type=int, default=500)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument(
        "--recipe-epochs", type=int, help="train a recipe this many epochs instead of its own (a quick look)"
    )
    p.add_argument("--latent-dim", type=int, default=40)
    p.add_argument("--sweep", default="", help="NL values for a held-out SSIM sweep of the first config")
    p.add_argument("--sweep-epochs", type=int, default=None, help="epochs per sweep model (default the config's)")
    p.add_argument("--sweep-all", action="store_true", help="sweep every configuration, not only the first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="32", help="training precision (the demo's auto is bf16-mixed here)")
    p.add_argument("--n-jobs", type=int, default=2, help="forest workers (default 2)")
    p.add_argument("--workdir", help="keep simulations and runs here (default a temporary directory)")
    p.add_argument("--out", default=str(Path(__file__).parent / "science_configs"))
    args = p.parse_args(argv)
    if Path(args.out).with_suffix(".md").resolve() == (Path(__file__).parent / "science.md").resolve():
        raise SystemExit("--out benchmarks/science would overwrite the hand-written log benchmarks/science.md")
    logging.basicConfig(level=logging.WARNING)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="galvae-science-"))
    configs = [_config(spec, args) for spec in args.configs.split(",")]
    results: dict = {"machine": machine(), "params": vars(args), "configs": []}
    if args.cnn_table:
        t = pd.read_csv(args.cnn_table)
        t = t[t.method == "cnn"]
        results["cnn"] = {r.feature: {"accuracy": float(r.accuracy), "n_test": int(r.n_test)} for r in t.itertuples()}
    if args.sim and (Path(args.sim) / "simulation.json").is_file():
        c = json.loads((Path(args.sim) / "simulation.json").read_text())["config"]
        results["simulation"] = {k: c.get(k) for k in ("n_galaxies", "overlap", "size", "seed", "profile")}
    sims: dict[str, tuple[Path, Path, pd.DataFrame]] = {}
    nls = [int(v) for v in args.sweep.split(",")] if args.sweep else []
    for i, (name, profile, kw, fields) in enumerate(configs):
        store, ostore, cat = _simulation(args, work, profile, sims)
        run = work / f"run_{name.replace(':', '_')}"
        t0 = time.perf_counter()
        galvae.train(store, run, precision=args.precision, seed=args.seed, overwrite=True, progress=False, **kw)
        seconds = time.perf_counter() - t0
        res = {
            "config": name,
            **fields,
            "epochs": int(kw["epochs"]),
            "batch_size": int(kw["batch_size"]),
            "lr": float(kw.get("lr", 1e-3)),
            "train_seconds": seconds,
            **evaluate_run(run, store, ostore, cat, args.seed),
        }
        if args.labels:
            res["table3"] = table3_splits(run, store, Path(args.labels), work, args.splits, args.trees, args.n_jobs)
        if nls and (i == 0 or args.sweep_all):
            res["sweep"] = sweep_points(
                store,
                work,
                name,
                nls,
                args.sweep_epochs or int(kw["epochs"]),
                args.seed,
                {**kw, "precision": args.precision},
            )
        results["configs"].append(res)
        log.warning(
            "%s: %d active units, KL %.1f nats, SSIM %.3f (8-bit %.3f), paired/random %.3f",
            name,
            res["active_units"],
            res["kl_total"],
            res["ssim_val"],
            res["ssim_val_8bit"],
            res.get("paired_over_random", float("nan")),
        )
        _write(results, Path(args.out))
    print(Path(args.out).with_suffix(".md").read_text())
    return 0


def _write(results: dict, out: Path) -> None:
    out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    p, cfgs = results["params"], results["configs"]
    sim = results.get("simulation")
    if sim:
        data = (
            f"The simulation in `{p['sim']}` ({sim['n_galaxies']} galaxies, {sim['overlap']} also in "
            f"BASS+MzLS, {sim['size']} px, profile {sim['profile']}, simulation seed {sim['seed']}: the data of "
            f"`galvae demo --seed {sim['seed']}`)"
        )
    elif p.get("sim"):
        data = f"The galaxies of `{p['sim']}`"
    else:
        data = f"{p['n']} simulated galaxies ({p['overlap']} also in BASS+MzLS), {p['size']} px"
    lines = [
        "# Science fidelity: latent information and classification per configuration",
        "",
        f"{data}; training seed {p['seed']}, precision {p['precision']}; machine: {results['machine'].get('cpu', '?')}, "
        f"{results['machine'].get('cores', '?')} cores. Produced by `benchmarks/science.py`; every number on the run's "
        "validation galaxies (never trained on) or a 70/30 forest split.",
        "",
    ]
    recipes = [r for r in cfgs if "recipe" in r]
    if recipes:
        lines += ["| configuration | what it is | epochs, batch |", "|---|---|---|"]
        lines += [f"| {r['config']} | {r['what']} | {r['epochs']}, {r['batch_size']} |" for r in recipes]
        lines.append("")
    lines += [
        "| config | active units (of NL) | KL per galaxy (nats) | SSIM val | SSIM val 8-bit (paper's L=255) "
        "| paired/random latent MSE | train s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in cfgs:
        lines.append(
            f"| {r['config']} | {r['active_units']} | {r['kl_total']:.1f} | {r['ssim_val']:.3f} | "
            f"{r['ssim_val_8bit']:.3f} | {r.get('paired_over_random', float('nan')):.3f} | "
            f"{r['train_seconds']:.0f} |"
        )
    t3 = [r for r in cfgs if "table3" in r]
    if t3:
        feats = list(t3[0]["table3"])
        cnn = results.get("cnn", {})
        lines += [
            "",
            f"Table 3 on the Galaxy Zoo labels, mean test accuracy over {p['splits']} 70/30 splits ({p['trees']} "
            "trees; `galvae.classify`, PCA-40 of the pixels fitted on each run's training galaxies): latents / "
            "PCA-40 (**bold**: latents ≥ PCA-40), the majority rate"
            + (", the demo's supervised CNN on its one split" if cnn else "")
            + " and the paper's Table 3 (its labels' class mix differs: `galvae.compare_table2`).",
            "",
            "| feature | test galaxies | majority | "
            + " | ".join(r["config"] for r in t3)
            + (" | CNN |" if cnn else " |")
            + " the paper's Table 3 |",
            "|---|---|---|" + "---|" * (len(t3) + bool(cnn) + 1),
        ]
        for f in feats:
            cells = []
            for r in t3:
                q = r["table3"].get(f)
                if q is None:
                    cells.append("–")
                    continue
                lat = f"**{q['latents']:.3f}**" if q["latents"] >= q["pca40"] else f"{q['latents']:.3f}"
                cells.append(f"{lat} / {q['pca40']:.3f}")
            q0 = t3[0]["table3"][f]
            row = f"| {f} | {q0['n_test']} | {q0['majority']:.3f} | " + " | ".join(cells)
            row += f" | {cnn[f]['accuracy']:.3f} |" if cnn and f in cnn else (" | – |" if cnn else " |")
            lines.append(row + (f" {TABLE3[f]['accuracy'] / 100:.3f} |" if f in TABLE3 else " – |"))
        lines.append(
            "| feature-splits ≥ PCA-40; ≥ majority + 0.10 | | | "
            + " | ".join(
                f"{sum(q['splits_ge_pca40'] for q in r['table3'].values())}; "
                f"{sum(q['splits_ge_majority10'] for q in r['table3'].values())} of {p['splits'] * len(r['table3'])}"
                for r in t3
            )
            + (" | | |" if cnn else " | |")
        )
    truth = [r for r in cfgs if r.get("truth")]
    if truth:
        lines += [
            "",
            "Random forests on the simulator's truth classes, test accuracy: latents / PCA-40 of the same "
            "configuration's pixels (**bold**: latents ≥ PCA-40):",
            "",
        ]
        feats = [row["feature"] for row in truth[0]["truth"]]
        lines.append("| feature | n | majority | " + " | ".join(r["config"] for r in truth) + " |")
        lines.append("|---|---|---|" + "---|" * len(truth))
        for f in feats:
            cells, base = [], None
            for r in truth:
                row = next((q for q in r["truth"] if q["feature"] == f), None)
                if row is None:
                    cells.append("–")
                    continue
                lat = f"**{row['latents']:.3f}**" if row["latents"] >= row["pca40"] else f"{row['latents']:.3f}"
                cells.append(f"{lat} / {row['pca40']:.3f}")
                base = base or row
            lines.append(f"| {f} | {base['n']} | {base['majority']:.3f} | " + " | ".join(cells) + " |")
    swept = [r for r in cfgs if "sweep" in r]
    if swept:
        nls = [q["latent_dim"] for q in swept[0]["sweep"]["points"]]
        lines += [
            "",
            f"Held-out SSIM against NL, one model per NL trained {swept[0]['sweep']['epochs']} epochs with each "
            "configuration's settings; the knee by Kneedle (`galvae.find_knee`):",
            "",
            "| config | " + " | ".join(f"NL = {n}" for n in nls) + " | knee | active units at each NL |",
            "|---|" + "---|" * (len(nls) + 2),
        ]
        for r in swept:
            s = r["sweep"]
            lines.append(
                f"| {r['config']} | "
                + " | ".join(f"{q['ssim_val']:.4f}" for q in s["points"])
                + f" | {'none' if s['knee'] is None else int(s['knee'])} | "
                + ", ".join(str(q["active_units"]) for q in s["points"])
                + " |"
            )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
