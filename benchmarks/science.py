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

``--sweep 10,20,40,60,80,100`` adds held-out SSIM against NL for the first configuration, with the knee.

Writes ``OUT.json`` and ``OUT.md`` (default ``benchmarks/science``).  Run from the repository root::

    .venv/bin/python benchmarks/science.py --configs fixed:sum,gz-decals:sum,gz-decals:gaussian
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


def parse_config(spec: str) -> tuple[str, str, float, dict[str, float]]:
    """``PROFILE:LIKELIHOOD[:K][:bBATCH][:lrLR][:eEPOCHS]`` → (profile, likelihood, k, extra options)."""
    parts = spec.strip().split(":")
    if len(parts) < 2:
        raise SystemExit(f"config {spec!r}: expected PROFILE:LIKELIHOOD[:K][:bBATCH][:lrLR][:eEPOCHS]")
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--configs",
        default="fixed:sum,gz-decals:sum,gz-decals:gaussian",
        help="comma-separated PROFILE:LIKELIHOOD[:K][:bBATCH][:lrLR][:eEPOCHS] (default %(default)s)",
    )
    p.add_argument("--n", type=int, default=2000, help="galaxies (default 2000, the demo's)")
    p.add_argument("--overlap", type=int, default=500)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--latent-dim", type=int, default=40)
    p.add_argument("--sweep", default="", help="NL values for a held-out SSIM sweep of the first config")
    p.add_argument("--sweep-epochs", type=int, default=None, help="epochs per sweep model (default --epochs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="32", help="training precision (the demo's auto is bf16-mixed here)")
    p.add_argument("--workdir", help="keep simulations and runs here (default a temporary directory)")
    p.add_argument("--out", default=str(Path(__file__).parent / "science"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="galvae-science-"))
    configs = [parse_config(spec) for spec in args.configs.split(",")]
    results = {"machine": machine(), "params": vars(args), "configs": []}
    sims: dict[str, tuple[Path, Path, pd.DataFrame]] = {}
    for profile, likelihood, k, extra in configs:
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
        store, ostore, cat = sims[profile]
        tag = "".join(f":{key}{val:g}" for key, val in extra.items())
        name = f"{profile}:{likelihood}:k{k:g}{tag}"
        run = work / f"run_{name.replace(':', '_')}"
        t0 = time.perf_counter()
        galvae.train(
            store,
            run,
            latent_dim=args.latent_dim,
            epochs=int(extra.get("e", args.epochs)),
            batch_size=int(extra.get("b", 64)),
            lr=float(extra.get("lr", 1e-3)),
            precision=args.precision,
            seed=args.seed,
            overwrite=True,
            progress=False,
            **_train_kwargs(likelihood, k),
        )
        seconds = time.perf_counter() - t0
        res = {
            "config": name,
            "profile": profile,
            "likelihood": likelihood,
            "k": k,
            "epochs": int(extra.get("e", args.epochs)),
            "batch_size": int(extra.get("b", 64)),
            "lr": float(extra.get("lr", 1e-3)),
            "train_seconds": seconds,
            **evaluate_run(run, store, ostore, cat, args.seed),
        }
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
    if args.sweep:
        profile, likelihood, k, _ = configs[0]
        store, _, cat = sims[profile]
        points = []
        for nl in [int(v) for v in args.sweep.split(",")]:
            run = work / f"sweep_{profile}_{likelihood}_nl{nl}"
            galvae.train(
                store,
                run,
                latent_dim=nl,
                epochs=args.sweep_epochs or args.epochs,
                seed=args.seed,
                overwrite=True,
                progress=False,
                **_train_kwargs(likelihood, k),
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
            log.warning("sweep NL=%d: SSIM %.3f, %d active", nl, points[-1]["ssim_val"], points[-1]["active_units"])
        knee = find_knee([q["latent_dim"] for q in points], [q["ssim_val"] for q in points])
        results["sweep"] = {"config": f"{profile}:{likelihood}:k{k:g}", "points": points, "knee": knee}
        _write(results, Path(args.out))
    print(Path(args.out).with_suffix(".md").read_text())
    return 0


def _write(results: dict, out: Path) -> None:
    out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    p = results["params"]
    lines = [
        "# Science fidelity: latent information and classification per presentation x likelihood",
        "",
        f"{p['n']} simulated galaxies ({p['overlap']} also in BASS+MzLS), {p['size']} px, NL = {p['latent_dim']}, "
        f"{p['epochs']} epochs, seed {p['seed']}; machine: {results['machine'].get('cpu', '?')}. "
        "Produced by `benchmarks/science.py`; every number on the run's validation galaxies or a 70/30 forest split.",
        "",
        "| config | active units (of NL) | KL per galaxy (nats) | SSIM val | SSIM val 8-bit (paper's L=255) "
        "| paired/random latent MSE | train s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["configs"]:
        lines.append(
            f"| {r['config']} | {r['active_units']} | {r['kl_total']:.1f} | {r['ssim_val']:.3f} | "
            f"{r['ssim_val_8bit']:.3f} | {r.get('paired_over_random', float('nan')):.3f} | "
            f"{r['train_seconds']:.0f} |"
        )
    lines += [
        "",
        "Random forests on the simulator's truth classes, test accuracy: latents / PCA-40 of the same "
        "configuration's pixels (**bold**: latents ≥ PCA-40):",
        "",
    ]
    feats = [row["feature"] for row in results["configs"][0]["truth"]] if results["configs"] else []
    lines.append("| feature | n | majority | " + " | ".join(r["config"] for r in results["configs"]) + " |")
    lines.append("|---|---|---|" + "---|" * len(results["configs"]))
    for f in feats:
        cells, base = [], None
        for r in results["configs"]:
            row = next((q for q in r["truth"] if q["feature"] == f), None)
            if row is None:
                cells.append("–")
                continue
            lat = f"**{row['latents']:.3f}**" if row["latents"] >= row["pca40"] else f"{row['latents']:.3f}"
            cells.append(f"{lat} / {row['pca40']:.3f}")
            base = base or row
        lines.append(f"| {f} | {base['n']} | {base['majority']:.3f} | " + " | ".join(cells) + " |")
    if "sweep" in results:
        s = results["sweep"]
        lines += [
            "",
            f"Held-out SSIM against NL ({s['config']}); knee at NL = {s['knee']}:",
            "",
            "| NL | SSIM val | active units | KL (nats) |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {q['latent_dim']} | {q['ssim_val']:.3f} | {q['active_units']} | {q['kl_total']:.1f} |"
            for q in s["points"]
        ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
