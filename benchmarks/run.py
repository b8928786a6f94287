"""galvae's speed at S = 64, NL = 40, each number next to a naive reference and the machine's matmul rate.

Run:  .venv/bin/python benchmarks/run.py [--quick] [--device cpu|cuda] [--out benchmarks/run]
Writes OUT.json and OUT.md (default benchmarks/run.json and benchmarks/run.md).  Timings live here,
never in pass/fail tests.

Measured in one run, on galaxies simulated into a temporary directory (nothing is downloaded):

- encode, reconstruct: ``GalaxyVAE.encode`` / ``.reconstruct`` on images in memory, and
  ``encode_store`` (HDF5 store -> Parquet catalogue; it also decodes each image for ``recon_error``,
  so it is compared with the naive reconstruction), in images/s;
- train: the training loop of ``galvae.training.train`` (forward + backward + Adam step, from the
  first batch of an epoch to the end of its last one, validation excluded), at precision ``32`` and
  at ``auto`` (what it resolves to here), in images/s, and the wall time of the whole call;
- simulate: ``galvae.simulate.simulate`` in galaxies/s; ingest: ``galvae.data.ingest`` of FITS
  flux cutouts (rendered by ``render_galaxies``, written here) in images/s;
- peak resident memory of ``encode_store`` on N and 10 N images, each in a child process
  (VmHWM of the child's /proc/self/status, its high-water mark reset through /proc/self/clear_refs
  after the imports and the model load: resident set, not tracemalloc, so torch's and HDF5's native
  buffers count; not ru_maxrss, which in a subprocess child includes the parent's RSS at the fork).

Each galvae number sits next to (a) a naive reference written below (``NaiveVAE``: the same
architecture in plain PyTorch, fp32, default settings, a plain loop over a tensor in memory, no
Lightning) and (b) the machine's rate of a square ``torch.matmul`` in fp32 and bf16.  FLOPs come
from ``torch.utils.flop_counter.FlopCounterMode``; achieved GFLOP/s = FLOPs per image x images/s.
Every measurement is repeated after a warm-up, galvae and its reference interleaved in each repeat
(on a shared machine the load changes from minute to minute); medians are reported, and the
galvae/naive ratios are medians of the per-repeat ratios.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from _common import cpu_model
from galvae import __version__

__all__ = ["NaiveVAE", "main"]

log = logging.getLogger("galvae.benchmarks.run")

SIZE = 64
LATENT_DIM = 40
BATCH = 64  # galvae train's default batch size
ENCODE_BATCH = 256  # GalaxyVAE.encode's default batch size

#: N (images), repeats and sizes of the auxiliary measurements: full run and --quick.
PLANS: dict[str, dict[str, int]] = {
    "full": {"n": 2048, "repeats": 3, "train_repeats": 3, "n_sim": 200, "n_ingest": 400, "matmul_n": 2048},
    "quick": {"n": 256, "repeats": 2, "train_repeats": 1, "n_sim": 24, "n_ingest": 32, "matmul_n": 512},
}


# --------------------------------------------------------------------------- the naive reference


class NaiveVAE(nn.Module):
    """The paper's VAE written plainly: 3 x (conv 3x3 -> max-pool -> LeakyReLU), two linear heads,
    a linear layer back to 128 x 8 x 8, 3 x (transposed conv 3x3 -> upsample x2 -> LeakyReLU), conv 3x3 + ReLU.
    """

    def __init__(self, latent_dim: int = LATENT_DIM, size: int = SIZE) -> None:
        super().__init__()
        act = nn.LeakyReLU(0.01)
        self.enc = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.MaxPool2d(2), act,
            nn.Conv2d(32, 64, 3, padding=1), nn.MaxPool2d(2), act,
            nn.Conv2d(64, 128, 3, padding=1), nn.MaxPool2d(2), act,
        )  # fmt: skip
        self.side = size // 8
        self.mu = nn.Linear(128 * self.side**2, latent_dim)
        self.logvar = nn.Linear(128 * self.side**2, latent_dim)
        self.up = nn.Linear(latent_dim, 128 * self.side**2)
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 3, padding=1), nn.Upsample(scale_factor=2), act,
            nn.ConvTranspose2d(64, 32, 3, padding=1), nn.Upsample(scale_factor=2), act,
            nn.ConvTranspose2d(32, 32, 3, padding=1), nn.Upsample(scale_factor=2), act,
            nn.Conv2d(32, 3, 3, padding=1), nn.ReLU(),
        )  # fmt: skip

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc(x).flatten(1)
        return self.mu(h), self.logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(self.up(z).view(-1, 128, self.side, self.side))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.decode(z), mu, logvar


def naive_loss(x: torch.Tensor, recon: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Summed squared error plus the KL term, averaged over the batch (the paper's eq. 2)."""
    kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)
    return (((recon - x) ** 2).sum((1, 2, 3)) + kl).mean()


def naive_encode(model: NaiveVAE, images: torch.Tensor, device: str) -> torch.Tensor:
    out = []
    with torch.no_grad():
        for i in range(0, len(images), ENCODE_BATCH):
            out.append(model.encode(images[i : i + ENCODE_BATCH].to(device))[0].cpu())
    return torch.cat(out)


def naive_reconstruct(model: NaiveVAE, images: torch.Tensor, device: str) -> torch.Tensor:
    out = []
    with torch.no_grad():
        for i in range(0, len(images), ENCODE_BATCH):
            out.append(model.decode(model.encode(images[i : i + ENCODE_BATCH].to(device))[0]).cpu())
    return torch.cat(out)


def naive_train_epoch(model: NaiveVAE, opt: torch.optim.Optimizer, images: torch.Tensor, device: str) -> int:
    model.train()
    perm = torch.randperm(len(images))
    n = 0
    for i in range(0, len(images), BATCH):
        x = images[perm[i : i + BATCH]].to(device)
        recon, mu, logvar = model(x)
        loss = naive_loss(x, recon, mu, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += len(x)
    return n


def copy_weights(naive: NaiveVAE, network: nn.Module) -> None:
    """Give ``naive`` galvae's weights (parameters in the same order and shapes: the same architecture)."""
    theirs = [p for name, p in network.named_parameters() if not name.startswith("noise")]
    ours = list(naive.parameters())
    shapes = ([tuple(p.shape) for p in ours], [tuple(p.shape) for p in theirs])
    if shapes[0] != shapes[1]:
        raise RuntimeError(f"the naive reference is not galvae's architecture: {shapes}")
    with torch.no_grad():
        for a, b in zip(ours, theirs, strict=True):
            a.copy_(b)


# --------------------------------------------------------------------------- timing helpers


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str) -> float:
    """Seconds ``fn()`` takes (CUDA work finished)."""
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def med(xs: list[float]) -> float:
    return float(statistics.median(xs))


def flops_of(fn: Callable[[], Any]) -> int:
    """FLOPs torch's flop counter sees in ``fn()`` (convolutions and matmuls; elementwise work is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_rate(dtype: torch.dtype, n: int, device: str, repeats: int) -> dict[str, float]:
    """GFLOP/s of a square n x n ``torch.matmul`` (2 n^3 FLOPs), median and best of ``repeats`` after a warm-up."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    inner = 1 if device == "cpu" else 20
    torch.matmul(a, b)

    def run() -> None:
        for _ in range(inner):
            torch.matmul(a, b)

    rates = [inner * 2 * n**3 / timed(run, device) / 1e9 for _ in range(repeats)]
    return {"median": round(med(rates), 1), "best": round(max(rates), 1), "n": n}


# --------------------------------------------------------------------------- data


def make_data(tmp: Path, n: int, n_sim: int, repeats: int, workers: int) -> dict[str, Any]:
    """Simulate the N images the benchmark uses, then time ``simulate`` on n_sim galaxies ``repeats`` times."""
    from galvae.simulate import simulate

    kw = dict(overlap=0, size=SIZE, surveys=["decals"], workers=workers, progress=False)
    log.info("simulating %d galaxies", n)
    t0 = time.perf_counter()
    res = simulate(tmp / "sim", n_galaxies=n, seed=0, **kw)
    first = time.perf_counter() - t0
    rates = []
    for r in range(repeats):
        t = timed(lambda r=r: simulate(tmp / f"simrate{r}", n_galaxies=n_sim, seed=r + 1, **kw), "cpu")
        rates.append(n_sim / t)
    return {
        "store": res.stores["decals"],
        "catalog": res.catalog,
        "simulate": {
            "n_galaxies": n_sim,
            "workers": workers,
            "galaxies_per_s": round(med(rates), 1),
            "all": [round(x, 1) for x in rates],
            "first_run_galaxies_per_s": round(n / first, 1),
            "first_run_n": n,
        },
    }


def write_cutouts(catalog: Path, out: Path, n: int) -> Path:
    """FITS flux cutouts (g, r, z cube, 0.262"/px) of the first n simulated galaxies, rendered again."""
    from astropy.io import fits

    from galvae.data.tables import read_catalog
    from galvae.simulate import render_galaxies

    cat = read_catalog(catalog).iloc[:n]
    flux = render_galaxies(cat, "decals", size=SIZE, seed=0, progress=False)
    out.mkdir(parents=True, exist_ok=True)
    for gid, img in zip(cat["id"].astype(str), flux, strict=True):
        hdu = fits.PrimaryHDU(np.asarray(img, dtype=np.float32))
        hdu.header["BANDS"] = "grz"
        hdu.header["CD1_1"] = -0.262 / 3600
        hdu.header["CD2_2"] = 0.262 / 3600
        hdu.writeto(out / f"{gid}.fits")
    return out


def replicate_store(src: Path, dst: Path, times: int) -> Path:
    """A store of ``times`` copies of ``src``'s images (new ids), written block by block."""
    import h5py

    from galvae.data.store import ImageStore, ImageStoreWriter

    standard = {"bands", "size", "survey", "pixel_scale_arcsec", "normalisation", "galvae_version"}
    with h5py.File(src, "r") as f:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items() if k not in standard}
    with ImageStore(src) as st:
        images, ids = st.read(), st.ids.astype(str)
        with ImageStoreWriter(
            dst,
            size=st.size,
            survey=st.survey,
            normalisation=st.normalisation,
            pixel_scale_arcsec=st.pixel_scale_arcsec,
            attrs=attrs,
        ) as w:
            for k in range(times):
                w.append(images, [f"{i}_x{k}" for i in ids])
    return dst


# --------------------------------------------------------------------------- measurements


class _EpochTimer:
    """Lightning callback: seconds and images from an epoch's start to the end of its last training batch."""

    def __init__(self, device: str) -> None:
        from lightning.pytorch.callbacks import Callback

        timer = self

        class _CB(Callback):
            def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
                _sync(device)
                timer.t0, timer.n, timer.t_last = time.perf_counter(), 0, None

            def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, idx: int) -> None:
                _sync(device)
                timer.t_last = time.perf_counter()
                timer.n += len(batch)

            def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
                timer.epochs.append((timer.n, timer.t_last - timer.t0))

        self.callback = _CB()
        self.epochs: list[tuple[int, float]] = []
        self.t0 = 0.0
        self.n = 0
        self.t_last: float | None = None


def galvae_train(store: Path, run: Path, precision: str, device: str, epochs: int) -> dict[str, Any]:
    """One ``galvae.training.train`` call; the training-loop rate of its last epoch."""
    from galvae import train

    timer = _EpochTimer(device)
    t0 = time.perf_counter()
    train(
        store,
        run,
        latent_dim=LATENT_DIM,
        epochs=epochs,
        batch_size=BATCH,
        precision=precision,
        accelerator="gpu" if device.startswith("cuda") else "cpu",
        progress=False,
        overwrite=True,
        trainer_kwargs={"callbacks": [timer.callback]},
    )
    wall = time.perf_counter() - t0
    n, t = timer.epochs[-1]
    return {"images_per_s": n / t, "train_images": n, "wall_s": wall}


def measure_training(
    store: Path, tmp: Path, device: str, repeats: int, precisions: list[str], epochs: int
) -> dict[str, Any]:
    from galvae.data.store import ImageStore
    from galvae.training.datamodule import split_ids

    with ImageStore(store) as st:
        ids = st.ids.astype(str)
        train_rows = np.sort(split_ids(ids, 0.1, 0)[0])
        images = torch.from_numpy(st.read(train_rows))
    naive = NaiveVAE().to(device)
    opt = torch.optim.Adam(naive.parameters(), lr=1e-3)
    naive_train_epoch(naive, opt, images[: 4 * BATCH], device)  # warm-up
    out: dict[str, Any] = {p: [] for p in precisions}
    out["naive"] = []
    for r in range(repeats):
        for p in precisions:
            log.info("train repeat %d: galvae, precision %s", r, p)
            out[p].append(galvae_train(store, tmp / f"train_{p}", p, device, epochs))
            log.info("train repeat %d: naive", r)
            t = timed(lambda: naive_train_epoch(naive, opt, images, device), device)
            out["naive"].append({"images_per_s": len(images) / t, "train_images": len(images)})
    return out


def measure_inference(model: Any, images: np.ndarray, device: str, repeats: int, tmp: Path, store: Path) -> dict:
    """GalaxyVAE.encode/.reconstruct and encode_store against the naive loops, interleaved."""
    from galvae.latents import encode_store

    naive = NaiveVAE().to(device).eval()
    copy_weights(naive, model.network)
    x = torch.from_numpy(images)
    # the same numbers from both (fp32 galvae): the reference computes what galvae computes
    mu_g = model.encode(images[:ENCODE_BATCH])
    mu_n = naive_encode(naive, x[:ENCODE_BATCH], device).numpy()
    rec_g = model.reconstruct(images[:ENCODE_BATCH])
    rec_n = naive_reconstruct(naive, x[:ENCODE_BATCH], device).numpy()
    agreement = {
        "max_abs_mu_difference": float(np.abs(mu_g - mu_n).max()),
        "max_abs_reconstruction_difference": float(np.abs(rec_g - rec_n).max()),
    }
    # the opt-in bf16 inference (GalaxyVAE precision="bf16-mixed"): how far from fp32, and how much faster
    from galvae import GalaxyVAE, ssim

    bf16 = GalaxyVAE.load(model.path, device=device, precision="bf16-mixed")
    head = images[:ENCODE_BATCH]
    mu_b, rec_b = bf16.encode(head), bf16.reconstruct(head)
    agreement["bf16_max_abs_mu_difference_over_scale"] = float(np.abs(mu_b - mu_g).max() / np.abs(mu_g).max())
    agreement["ssim_fp32"] = float(np.mean(ssim(head, rec_g)))
    agreement["ssim_bf16"] = float(np.mean(ssim(head, rec_b)))
    n = len(images)
    names = ("encode", "encode_naive", "reconstruct", "reconstruct_naive", "encode_bf16", "reconstruct_bf16")
    rows: dict[str, list[float]] = {k: [] for k in names}
    rows["encode_store"] = []
    for r in range(repeats):
        rows["encode_bf16"].append(n / timed(lambda: bf16.encode(images), device))
        rows["reconstruct_bf16"].append(n / timed(lambda: bf16.reconstruct(images), device))
        rows["encode"].append(n / timed(lambda: model.encode(images), device))
        rows["encode_naive"].append(n / timed(lambda: naive_encode(naive, x, device), device))
        rows["reconstruct"].append(n / timed(lambda: model.reconstruct(images), device))
        rows["reconstruct_naive"].append(n / timed(lambda: naive_reconstruct(naive, x, device), device))
        out = tmp / f"latents{r}.parquet"
        rows["encode_store"].append(n / timed(lambda out=out: encode_store(model, store, out, progress=False), device))
        log.info("inference repeat %d: encode %.0f/s (naive %.0f/s)", r, rows["encode"][-1], rows["encode_naive"][-1])
    return {"rates": rows, "agreement": agreement}


def measure_ingest(cutouts: Path, tmp: Path, repeats: int, workers: list[int]) -> dict[str, Any]:
    from galvae.data.ingest import ingest

    n = len(list(cutouts.glob("*.fits")))
    ingest(cutouts, tmp / "ingest_warm.h5", size=SIZE, survey="decals", progress=False, overwrite=True)
    out = {}
    for w in workers:
        rates = []
        for _ in range(repeats):
            t = timed(
                lambda w=w: ingest(
                    cutouts, tmp / "ingest.h5", size=SIZE, survey="decals", workers=w, progress=False, overwrite=True
                ),
                "cpu",
            )
            rates.append(n / t)
        out[str(w)] = {"images": n, "images_per_s": round(med(rates), 1), "all": [round(x, 1) for x in rates]}
    return out


def _rss_mib(field: str = "VmRSS") -> float:
    """Resident set size now (VmRSS) or its high-water mark (VmHWM) from /proc/self/status, MiB; NaN where unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def memory_child(model: str, store: str, out: str, device: str) -> None:
    """In a child process: resident memory before ``encode_store`` and its peak during it; prints JSON.

    The peak is VmHWM of /proc/self/status (Linux); writing 5 to /proc/self/clear_refs first resets
    that high-water mark to the current RSS, so the peak is the encoding's own and not that of the
    imports.  Not ``ru_maxrss``: in a child started by ``subprocess`` it also holds the parent's RSS
    at the fork (the kernel carries the pre-exec image's peak over), whatever the child does.
    Where /proc is missing, ``ru_maxrss`` is reported instead.
    """
    from galvae.data.store import ImageStore
    from galvae.latents import GalaxyVAE, encode_store

    vae = GalaxyVAE.load(model, device=device)
    import_peak = _rss_mib("VmHWM")
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    before = _rss_mib()
    t0 = time.perf_counter()
    encode_store(vae, store, out, progress=False)
    dt = time.perf_counter() - t0
    peak = _rss_mib("VmHWM")
    if peak != peak:  # NaN: no /proc
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with ImageStore(store) as st:
        n = len(st)
    print(
        json.dumps(
            {
                "images": n,
                "rss_before_mib": round(before, 1),
                "peak_mib": round(peak, 1),
                "peak_reset_before_encoding": reset,
                "import_peak_mib": round(import_peak, 1),
                "seconds": round(dt, 2),
            }
        )
    )


def measure_memory(model: Path, stores: list[Path], tmp: Path, device: str) -> list[dict[str, Any]]:
    rows = []
    for k, store in enumerate(stores):
        cmd = [sys.executable, __file__, "--memory-child", str(model), str(store), str(tmp / f"mem{k}.parquet")]
        res = subprocess.run([*cmd, "--device", device], capture_output=True, text=True, check=True)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return rows


def ssim_of(model: Any, images: np.ndarray) -> float:
    from galvae.evaluate.ssim import ssim

    return float(ssim(images, model.reconstruct(images), reduction="mean"))


# --------------------------------------------------------------------------- report


def _threads() -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    return {
        "torch_threads": torch.get_num_threads(),
        "usable_cores": usable,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }


def _gpu() -> str | None:
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(0)


def _fmt(x: float | None, digits: int = 0) -> str:
    return "" if x is None else f"{x:,.{digits}f}"


def write_markdown(path: Path, res: dict[str, Any]) -> None:
    m, peak = res["machine"], res["matmul_gflops"]
    rows = res["table"]
    lines = [
        "# galvae performance (`benchmarks/run.py`)",
        "",
        f"{res['date']}; galvae {res['galvae_version']}, torch {m['torch']}, Python {m['python']}; "
        f"{m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable, torch threads {m['torch_threads']})"
        + (f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU")
        + f"; device {res['device']}; load average {m['load_average_start']} at the start, "
        f"{m['load_average_end']} at the end{' (--quick)' if res['quick'] else ''}.",
        "",
        f"S = {SIZE}, NL = {LATENT_DIM}, N = {res['n']} simulated images; medians of {res['repeats']} repeats "
        f"({res['train_repeats']} for training) after a warm-up, galvae and the naive reference interleaved "
        "in each repeat; the ratio is the median of the per-repeat ratios.  Machine rate: square "
        f"`torch.matmul` of {peak['fp32']['n']}², fp32 {_fmt(peak['fp32']['median'])} GFLOP/s, bf16 "
        f"{_fmt(peak['bf16']['median'])} GFLOP/s (medians; best {_fmt(peak['fp32']['best'])} and "
        f"{_fmt(peak['bf16']['best'])}).",
        "",
        "| measurement | galvae (images/s) | naive fp32 loop (images/s) | galvae / naive | "
        "galvae GFLOP/s | of fp32 matmul | of bf16 matmul |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {_fmt(r['galvae'])} | {_fmt(r.get('naive'))} | "
            f"{_fmt(r.get('ratio'), 2) + '×' if r.get('ratio') else ''} | {_fmt(r.get('gflops'), 1)} | "
            f"{_fmt(r.get('of_fp32'), 2)} | {_fmt(r.get('of_bf16'), 2)} |"
        )
    lines += ["", "| other | value |", "|---|---|"]
    sim = res["simulate"]
    lines.append(
        f"| simulate (`galvae.simulate.simulate`, {sim['n_galaxies']} galaxies, {sim['workers']} workers) | "
        f"{sim['galaxies_per_s']} galaxies/s |"
    )
    for w, ing in res["ingest"].items():
        lines.append(
            f"| ingest (`galvae.data.ingest`, {ing['images']} FITS cutouts 64², workers={w}) | "
            f"{ing['images_per_s']} images/s |"
        )
    for t in res["train_wall"]:
        lines.append(
            f"| whole `galvae.training.train` call, {t['epochs']} epochs, precision {t['precision']} "
            f"(setup, validation, checkpoints, export) | {t['wall_s']:.1f} s |"
        )
    for mem in res["memory"]:
        lines.append(
            f"| peak resident memory of `encode_store`, {mem['images']:,} images (child process, VmHWM) | "
            f"{mem['peak_mib']:.0f} MiB (resident before encoding: {mem['rss_before_mib']:.0f} MiB) |"
        )
    if "auto" in res["train"]:
        speedup = med(
            [
                a["images_per_s"] / b["images_per_s"]
                for a, b in zip(res["train"]["auto"], res["train"]["32"], strict=True)
            ]
        )
        lines.append(
            f"| training loop, precision auto ({res['train_wall'][-1]['precision']}) / precision 32 | {speedup:.2f}× |"
        )
    q = res.get("ssim_after_training")
    if q:
        lines.append(
            "| reconstruction SSIM of the validation images after the timed training, "
            + ", ".join(f"precision {k}: {v:.4f}" for k, v in q.items())
            + " | (same seed and epochs) |"
        )
    agree = res["agreement"]
    lines += [
        "",
        "The naive reference is checked to be the same network: with galvae's weights copied in, its latent "
        f"means differ from `GalaxyVAE.encode`'s by at most {agree['max_abs_mu_difference']:.2g} and its "
        f"reconstructions by {agree['max_abs_reconstruction_difference']:.2g}.  GFLOP/s count only convolutions "
        "and matrix products (`FlopCounterMode`): "
        f"{res['flops_per_image']['encode'] / 1e6:.1f} MFLOP per image to encode, "
        f"{res['flops_per_image']['reconstruct'] / 1e6:.1f} to reconstruct, "
        f"{res['flops_per_image']['train'] / 1e6:.1f} per training image (forward + backward).",
        "",
    ]
    if "ssim_bf16" in agree:
        lines += [
            'Opt-in bf16 inference (`GalaxyVAE.load(..., precision="bf16-mixed")`, `galvae encode --precision`): '
            f"latent means within {agree['bf16_max_abs_mu_difference_over_scale']:.2g} of their largest value "
            f"from fp32; reconstruction SSIM {agree['ssim_bf16']:.4f} against {agree['ssim_fp32']:.4f} in fp32 "
            f"(the first {ENCODE_BATCH} images).",
            "",
        ]
    path.write_text("\n".join(lines))


def _row(name: str, galvae: list[float], naive: list[float] | None, flops: int, peak: dict) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "galvae": med(galvae), "galvae_all": [round(x, 1) for x in galvae]}
    if naive is not None:
        row["naive"] = med(naive)
        row["naive_all"] = [round(x, 1) for x in naive]
        row["ratio"] = med([g / n for g, n in zip(galvae, naive, strict=True)])
    row["gflops"] = row["galvae"] * flops / 1e9
    row["of_fp32"] = row["gflops"] / peak["fp32"]["median"]
    row["of_bf16"] = row["gflops"] / peak["bf16"]["median"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small N and few repeats: a smoke check (a minute)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="torch device (default cpu)")
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "run"), help="writes OUT.json and OUT.md (default benchmarks/run)"
    )
    parser.add_argument("--n", type=int, default=None, help="images (default 2048, --quick 256)")
    parser.add_argument("--memory-child", nargs=3, metavar=("MODEL", "STORE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child, device=args.device)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    plan = dict(PLANS["quick" if args.quick else "full"])
    if args.n:
        plan["n"] = args.n
    if args.device == "cuda":
        plan["matmul_n"] = 8192
    device, n, repeats = args.device, plan["n"], plan["repeats"]
    out_stem = Path(args.out)
    load_start = round(os.getloadavg()[0], 2)
    t_start = time.perf_counter()

    from galvae.data.store import ImageStore
    from galvae.latents import GalaxyVAE
    from galvae.simulate.core import default_workers
    from galvae.training import resolve_precision

    accelerator = "gpu" if device == "cuda" else "cpu"
    precisions = ["32"]
    auto = resolve_precision("auto", accelerator)
    if auto != "32":
        precisions.append("auto")

    with tempfile.TemporaryDirectory(prefix="galvae-bench-run-") as tmp_name:
        tmp = Path(tmp_name)
        workers = default_workers()
        data = make_data(tmp, n, plan["n_sim"], repeats if not args.quick else 1, workers)
        store = Path(data["store"])
        log.info("matmul rate")
        peak = {
            "fp32": matmul_rate(torch.float32, plan["matmul_n"], device, repeats * 2),
            "bf16": matmul_rate(torch.bfloat16, plan["matmul_n"], device, repeats * 2),
        }
        log.info("matmul: fp32 %s, bf16 %s GFLOP/s", peak["fp32"], peak["bf16"])

        epochs = 2  # the first is a warm-up; the second is timed
        train = measure_training(store, tmp, device, plan["train_repeats"], precisions, epochs)

        model = GalaxyVAE.load(tmp / "train_32", device=device)
        with ImageStore(store) as st:
            images = st.read()
            from galvae.training.datamodule import split_ids

            val_rows = np.sort(split_ids(st.ids.astype(str), 0.1, 0)[1])
        ssim_q = {"32": ssim_of(model, images[val_rows])}
        if "auto" in precisions:
            ssim_q[f"auto ({auto})"] = ssim_of(GalaxyVAE.load(tmp / "train_auto", device=device), images[val_rows])
        model.encode(images[:ENCODE_BATCH])  # warm-up
        model.reconstruct(images[:ENCODE_BATCH])
        inf = measure_inference(model, images, device, repeats, tmp, store)

        x1 = torch.from_numpy(images[:BATCH]).to(device)
        net = model.network

        def train_step() -> None:
            recon, mu, logvar = net(x1)
            naive_loss(x1, recon, mu, logvar).backward()

        flops = {
            "encode": flops_of(lambda: net.encode(x1)) // BATCH,
            "reconstruct": flops_of(lambda: net.decode(net.encode(x1)[0])) // BATCH,
        }
        net.train()
        flops["train"] = flops_of(train_step) // BATCH
        net.eval()
        net.zero_grad(set_to_none=True)

        log.info("ingest")
        cutouts = write_cutouts(Path(data["catalog"]), tmp / "cutouts", plan["n_ingest"])
        ingest = measure_ingest(cutouts, tmp, repeats if not args.quick else 1, sorted({1, workers}))

        log.info("memory at N and 10 N")
        big = replicate_store(store, tmp / "x10.h5", 10)
        memory = measure_memory(tmp / "train_32", [store, big], tmp, device)

    rates = inf["rates"]
    table = [
        _row("encode: `GalaxyVAE.encode` (images in memory)", rates["encode"], rates["encode_naive"], flops["encode"], peak),
        _row("encode: `encode_store` (HDF5 → Parquet; also decodes, for recon_error)", rates["encode_store"], rates["reconstruct_naive"], flops["reconstruct"], peak),
        _row("reconstruct: `GalaxyVAE.reconstruct`", rates["reconstruct"], rates["reconstruct_naive"], flops["reconstruct"], peak),
        _row("encode: `GalaxyVAE.encode`, precision bf16-mixed (opt-in)", rates["encode_bf16"], rates["encode_naive"], flops["encode"], peak),
        _row("reconstruct: `GalaxyVAE.reconstruct`, precision bf16-mixed (opt-in)", rates["reconstruct_bf16"], rates["reconstruct_naive"], flops["reconstruct"], peak),
    ]  # fmt: skip
    naive_train = [t["images_per_s"] for t in train["naive"]]
    for p in precisions:
        label = p if p == "32" else f"auto = {auto}"
        galvae_train_rates = [t["images_per_s"] for t in train[p]]
        paired = naive_train[precisions.index(p) :: len(precisions)]
        table.append(
            _row(
                f"train: `galvae.training.train` loop, precision {label} (batch {BATCH})",
                galvae_train_rates,
                paired,
                flops["train"],
                peak,
            )
        )
    m = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        **_threads(),
        "gpu": _gpu(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_start": load_start,
        "load_average_end": round(os.getloadavg()[0], 2),
    }
    res = {
        "benchmark": "galvae at S=64, NL=40 against a naive fp32 PyTorch loop and the machine's matmul rate",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "galvae_version": __version__,
        "device": device,
        "quick": args.quick,
        "n": n,
        "repeats": repeats,
        "train_repeats": plan["train_repeats"],
        "machine": m,
        "matmul_gflops": peak,
        "flops_per_image": flops,
        "table": table,
        "train": {
            k: [{kk: round(vv, 2) for kk, vv in t.items()} for t in v] for k, v in train.items()
        },
        "train_wall": [
            {"precision": p if p == "32" else f"auto = {auto}", "epochs": epochs, "wall_s": med([t["wall_s"] for t in train[p]])}
            for p in precisions
        ],
        "ssim_after_training": ssim_q,
        "agreement": inf["agreement"],
        "simulate": data["simulate"],
        "ingest": ingest,
        "memory": memory,
        "memory_method": "peak resident set (VmHWM of /proc/self/status) of a child process running "
        "encode_store, reset through /proc/self/clear_refs after its imports and model load",
        "seconds": round(time.perf_counter() - t_start, 1),
    }  # fmt: skip
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    out_stem.with_suffix(".json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    write_markdown(out_stem.with_suffix(".md"), res)
    print(out_stem.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
