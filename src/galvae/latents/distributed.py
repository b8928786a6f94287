"""Catalogue-scale encoding: Lightning's predict loop over processes, GPUs and nodes.

:func:`encode_store_sharded` writes the latent catalogue of a store (or a
sharded store's manifest) as a directory of Parquet parts plus a manifest::

    OUT/encode.json          the plan: model, store, rows, shard_rows, ... (written first)
    OUT/part-00000.parquet   rows [0, shard_rows) of the store, less unreadable images
    OUT/part-00001.parquet   rows [shard_rows, 2 shard_rows), ...
    OUT/manifest.json        written last: parts, row ranges, counts, sha256, metadata

Why Lightning: it is the engine galvae trains on, and its launchers already
cover one machine (``--devices N`` spawns the processes), ``torchrun`` and
SLURM (``srun``), on CPU (gloo) or GPU (NCCL), with one code path.  The
store's rows are cut into *chunks* of ``shard_rows`` consecutive rows; one
chunk becomes one part.  Chunks not yet on disk are dealt round-robin to the
processes (``todo[rank::world_size]``); each process reads its chunks in
batches, and a :class:`~lightning.pytorch.callbacks.BasePredictionWriter`
writes a part when the last batch of its chunk has been encoded.  No
:class:`~torch.utils.data.DistributedSampler` is involved (Lightning's is
switched off), so nothing is padded with duplicate rows: every row belongs
to exactly one chunk and every chunk to exactly one process.

Resuming: a part is written under a temporary name and renamed when complete,
so a part on disk is a finished chunk; a rerun (same model, store and
``shard_rows``) skips those and encodes the rest.  The manifest is written
last, by rank 0, after every process has finished: the ``outlier_sigma`` /
``outlier`` columns need the statistics of the whole catalogue, so each part
is rewritten once with them, and the union is checked (every id once, rows
plus skipped images = the store) before the manifest appears.  That final
step reads the ``mu`` columns of every part (N x NL floats) into memory.

The union of the parts equals :func:`~galvae.latents.catalog.encode_store`'s
single-file catalogue row for row (same ids in the same order, same values
to float32 round-off: batches are cut at other rows).  Read it back with
:func:`~galvae.latents.catalog.read_latent_catalog` (the directory or its
manifest) or part by part with any Parquet reader.

Multi-node: ``OUT`` must be on a file system every node sees.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_json
from .._validate import check_float, check_int
from ..data.manifest import sha256_file
from ..data.store import ImageStore
from ..errors import GalvaeFileError, GalvaeValueError
from ..evaluate.paper import OUTLIER_SIGMA
from ..models.layout import to_network_layout
from .export import check_store_matches
from .model import GalaxyVAE

__all__ = [
    "LATENT_MANIFEST_FORMAT",
    "EncodeResult",
    "encode_store_sharded",
    "is_latent_shards",
    "read_latent_manifest",
    "read_latent_shards",
]

log = logging.getLogger(__name__)

#: ``format`` of the manifest of a sharded latent catalogue.
LATENT_MANIFEST_FORMAT = "galvae-latent-catalog"
_VERSION = 1
_PLAN = "encode.json"
_MANIFEST = "manifest.json"
# Lightning notices that are harmless here (and errors under pytest's filterwarnings=error): the loader has
# few workers on purpose, the batches carry their own row numbers (no sampler to read indices from), and torch's pytree deprecation is Lightning's to fix.
_HARMLESS_WARNINGS = (
    r".*does not have many workers.*",
    r".*infer the batch indices fetched from your dataloader.*",
    r".*GPU available but not used.*",
    r".*TPU available but not used.*",
    r".*LeafSpec.*is deprecated.*",
    r".*isinstance\(treespec, LeafSpec\).*",
)
_PART = re.compile(r"^part-(\d{5,})\.parquet$")
#: Default rows per part: ~100k rows of NL = 40 take ~35 MB of Parquet.
DEFAULT_SHARD_ROWS = 100_000


def _drop_adverts(record: logging.LogRecord) -> bool:
    """Logging filter: drop Lightning's advertisement for its cloud logger."""
    return "litlogger" not in record.getMessage()


def _part_name(k: int) -> str:
    return f"part-{k:05d}.parquet"


def is_latent_shards(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a sharded latent catalogue: a directory with ``manifest.json`` (or, unfinished,
    ``encode.json``), or that manifest."""
    p = Path(path)
    if p.is_dir():
        return (p / _MANIFEST).is_file() or (p / _PLAN).is_file()
    return p.name == _MANIFEST


@dataclass(frozen=True)
class EncodeResult:
    """What :func:`encode_store_sharded` did, as seen by one process.

    Attributes
    ----------
    manifest : Path
        ``OUT/manifest.json`` (complete only on rank 0 after the call; other
        ranks return once their parts are written).
    global_rank : int
    world_size : int
    n_rows : int
        Rows of the catalogue (rank 0; -1 elsewhere).
    n_parts : int
    parts_encoded : int
        Parts encoded by this call, all processes together.
    parts_resumed : int
        Parts found finished on disk and skipped.
    seconds : float
    """

    manifest: Path
    global_rank: int
    world_size: int
    n_rows: int
    n_parts: int
    parts_encoded: int
    parts_resumed: int
    seconds: float


def _plan(vae: GalaxyVAE, st: ImageStore, shard_rows: int, recon_error: bool, strict: bool) -> dict[str, Any]:
    """What determines the content of the parts: a rerun must match it to resume."""
    return {
        "format": "galvae-encode-plan",
        "model": os.path.abspath(vae.path),
        "store": os.path.abspath(st.path),
        "n_images": len(st),
        "latent_dim": vae.latent_dim,
        "decoder": vae.decoder,
        "shard_rows": shard_rows,
        "recon_error": bool(recon_error),
        "strict": bool(strict),
    }


def _check_plan(out: Path, plan: dict[str, Any], overwrite: bool) -> None:
    """Refuse an ``out`` directory holding parts of another encoding (read only: safe on every rank)."""
    f = out / _PLAN
    if overwrite or not f.is_file():
        if not overwrite and out.is_dir() and any(_PART.match(p.name) for p in out.iterdir()):
            raise GalvaeFileError(out, f"holds Parquet parts but no {_PLAN}; pass --overwrite to start afresh")
        return
    try:
        old = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GalvaeFileError(f, f"unreadable encode plan ({exc}); pass --overwrite to start afresh") from None
    diff = sorted(k for k in plan if old.get(k) != plan[k])
    if diff:
        k = diff[0]
        raise GalvaeFileError(
            out,
            f"holds an encoding with {k}={old.get(k)!r}, not {plan[k]!r} (differs in {', '.join(diff)}); "
            "pass --overwrite to replace it, or another --out to keep it",
        )


def _finished(out: Path) -> dict[int, Path]:
    """Parts on disk whose footer reads (a half-written part only ever exists under a temporary name)."""
    import pyarrow.parquet as pq

    done: dict[int, Path] = {}
    if not out.is_dir():
        return done
    for p in out.iterdir():
        m = _PART.match(p.name)
        if not m:
            continue
        try:
            pq.read_schema(p)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... on a damaged file
            log.warning("part %s is unreadable (%s): it will be encoded again", p, exc)
            continue
        done[int(m.group(1))] = p
    return done


def _prepare(out: Path, plan: dict[str, Any], n_chunks: int, overwrite: bool) -> tuple[list[int], int]:
    """Rank 0, before any part is written: clear or resume ``out``; return (chunks to do, chunks resumed)."""
    out.mkdir(parents=True, exist_ok=True)
    for p in out.iterdir():
        stale_tmp = p.name.startswith(".") and ".tmp-" in p.name
        if stale_tmp or (overwrite and (_PART.match(p.name) or p.name in (_PLAN, _MANIFEST))):
            p.unlink(missing_ok=True)
    (out / _MANIFEST).unlink(missing_ok=True)  # parts are about to change
    write_json(out / _PLAN, plan)
    done = _finished(out)
    extra = [k for k in done if k >= n_chunks]
    for k in extra:
        done.pop(k).unlink()
    todo = [k for k in range(n_chunks) if k not in done]
    return todo, len(done)


def _chunk_rows(k: int, shard_rows: int, n: int) -> tuple[int, int]:
    return k * shard_rows, min((k + 1) * shard_rows, n)


def _deal(
    todo: list[int], n: int, shard_rows: int, batch_size: int, rank: int, world: int
) -> list[tuple[int, int, int, bool]]:
    """The batches of process ``rank`` of ``world``: (chunk, row_start, row_stop, last batch of the chunk).

    Chunks are dealt round-robin, ``todo[rank::world]``, and cut into batches
    of at most ``batch_size`` rows; unlike a ``DistributedSampler`` nothing is
    padded, so over all ranks every row of every chunk in ``todo`` appears
    exactly once (an empty store gives one empty chunk, so a part still appears).
    """
    blocks = []
    for k in todo[rank::world]:
        a, b = _chunk_rows(k, shard_rows, n)
        starts = list(range(a, b, batch_size)) or [a]
        for s in starts:
            blocks.append((k, s, min(s + batch_size, b), s == starts[-1]))
    return blocks


class _ChunkBatches:
    """Map-style dataset of whole batches: item i is the i-th (chunk, start, stop, last) block of this rank.

    Reading a block that holds an unreadable image falls back to row-by-row
    reads (``strict`` re-raises), like :func:`~galvae.latents.catalog.encode_store`.
    """

    def __init__(self, store: ImageStore, blocks: list[tuple[int, int, int, bool]], strict: bool) -> None:
        self.store = store
        self.blocks = blocks
        self.strict = strict

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        chunk, a, b, last = self.blocks[i]
        st = self.store
        rows = np.arange(a, b, dtype=np.int64)
        skipped: list[list[str]] = []
        try:
            block = st.read(slice(a, b))
        except GalvaeFileError:
            if self.strict:
                raise
            from .catalog import _readable_rows

            block, good = _readable_rows(st, rows, skipped)
            rows = rows[good]
        ids = st.ids[rows].astype(str).tolist() if len(rows) else []
        return {
            "x": torch.from_numpy(np.ascontiguousarray(block)),
            "rows": torch.from_numpy(rows),
            "ids": ids,
            "chunk": chunk,
            "last": last,
            "skipped": skipped,
        }


def _lightning_parts(
    vae: GalaxyVAE,
    st: ImageStore,
    out: Path,
    plan: dict[str, Any],
    *,
    batch_size: int,
    shard_rows: int,
    recon_error: bool,
    strict: bool,
    overwrite: bool,
    accelerator: str,
    devices: int | str,
    num_nodes: int,
    strategy: str,
    num_workers: int,
    progress: bool,
) -> Any:
    """Run the predict loop; every process writes its parts.  Returns the trainer."""
    import lightning as L

    n = len(st)
    n_chunks = max(1, -(-n // shard_rows))
    module = _encode_module(vae, recon_error)
    writer = _part_writer(out, shard_rows, n, vae.latent_dim, recon_error)
    data = _encode_data(
        st,
        out,
        plan,
        n_chunks=n_chunks,
        shard_rows=shard_rows,
        batch_size=batch_size,
        strict=strict,
        overwrite=overwrite,
        num_workers=num_workers,
    )
    lightning_log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    lightning_log.addFilter(_drop_adverts)
    # Lightning logs through its own handler: keep its INFO lines (devices found, ...) as quiet as galvae's
    pl_log = logging.getLogger("lightning.pytorch")
    pl_level = pl_log.level
    root_level = logging.getLogger().getEffectiveLevel()
    if root_level > logging.INFO:
        pl_log.setLevel(root_level)
    try:
        with warnings.catch_warnings():
            for pattern in _HARMLESS_WARNINGS:
                warnings.filterwarnings("ignore", message=pattern)
            trainer = L.Trainer(
                accelerator=accelerator,
                devices=devices,
                num_nodes=num_nodes,
                strategy=strategy,
                logger=False,
                enable_checkpointing=False,
                enable_model_summary=False,
                enable_progress_bar=progress,
                use_distributed_sampler=False,
                callbacks=[writer],
                default_root_dir=str(out),
                precision="32-true",
            )
            trainer.predict(module, datamodule=data, return_predictions=False)
    finally:
        lightning_log.removeFilter(_drop_adverts)
        pl_log.setLevel(pl_level)
    return trainer


def _encode_module(vae: GalaxyVAE, recon_error: bool) -> Any:
    """The LightningModule of the predict loop: μ, log σ² and (``recon_error``) the reconstruction error per batch."""
    import lightning as L
    import torch

    from ..losses.elbo import reconstruction_error

    loss, npix = vae.config.loss, 3 * vae.size * vae.size

    class EncodeModule(L.LightningModule):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
            x = batch["x"]
            res: dict[str, Any] = {k: batch[k] for k in ("rows", "ids", "chunk", "last", "skipped")}
            if x.shape[0] == 0:
                nl = vae.latent_dim
                res["mu"] = res["logvar"] = np.empty((0, nl), np.float32)
                res["recon_error"] = np.empty(0, np.float32)
                return res
            x = to_network_layout(x)
            m, v = self.net.encode(x)
            res["mu"], res["logvar"] = m.float().cpu().numpy(), v.float().cpu().numpy()
            if recon_error:
                err = reconstruction_error(self.net.decode(m), x, loss) / npix
                res["recon_error"] = err.float().cpu().numpy()
            return res

    return EncodeModule(vae.network)


def _part_writer(out: Path, shard_rows: int, n: int, nl: int, recon_error: bool) -> Any:
    """The prediction writer that writes each chunk's part once its last batch is encoded."""
    from lightning.pytorch.callbacks import BasePredictionWriter

    class PartWriter(BasePredictionWriter):
        """Collects the batches of a chunk; writes its part atomically after the chunk's last batch."""

        def __init__(self) -> None:
            super().__init__(write_interval="batch")
            self.buf: list[dict[str, Any]] = []

        def write_on_batch_end(
            self,
            trainer: Any,
            pl_module: Any,
            prediction: Any,
            batch_indices: Any,
            batch: Any,
            batch_idx: int,
            dataloader_idx: int = 0,
        ) -> None:
            self.buf.append(prediction)
            if prediction["last"]:
                _write_part(out, int(prediction["chunk"]), self.buf, shard_rows, n, nl, recon_error)
                self.buf = []

    return PartWriter()


def _encode_data(
    st: ImageStore,
    out: Path,
    plan: dict[str, Any],
    *,
    n_chunks: int,
    shard_rows: int,
    batch_size: int,
    strict: bool,
    overwrite: bool,
    num_workers: int,
) -> Any:
    """The datamodule dealing this process its chunks: rank 0 prepares ``out`` and tells every rank what is left."""
    import lightning as L
    import torch

    n = len(st)

    class EncodeData(L.LightningDataModule):
        def predict_dataloader(self) -> Any:
            trainer = self.trainer
            rank, world = trainer.global_rank, trainer.world_size
            answer: Any = None
            if rank == 0:
                try:
                    answer = _prepare(out, plan, n_chunks, overwrite)
                except Exception as exc:  # every rank must leave the broadcast; all raise below
                    answer = f"{type(exc).__name__}: {exc}"
            answer = trainer.strategy.broadcast(answer, src=0)
            if isinstance(answer, str):
                raise GalvaeFileError(out, f"cannot prepare the output directory ({answer})")
            todo, resumed = answer
            mine = todo[rank::world]
            blocks = _deal(todo, n, shard_rows, batch_size, rank, world)
            log.info(
                "rank %d/%d encodes %d of %d chunks (%d already on disk)", rank, world, len(mine), n_chunks, resumed
            )
            return torch.utils.data.DataLoader(
                _ChunkBatches(st, blocks, strict),
                batch_size=None,
                shuffle=False,
                num_workers=num_workers,
                persistent_workers=False,
            )

    return EncodeData()


def _write_part(
    out: Path, chunk: int, batches: list[dict[str, Any]], shard_rows: int, n: int, nl: int, recon_error: bool
) -> Path:
    """Write one chunk's rows (raw columns, outlier columns come at the end) under a temporary name, then rename."""
    import pandas as pd

    from ..data.tables import write_table

    a, b = _chunk_rows(chunk, shard_rows, n)
    rows = np.concatenate([np.asarray(p["rows"]).reshape(-1) for p in batches]).astype(np.int64)
    mu = np.concatenate([p["mu"] for p in batches]).reshape(-1, nl)
    lv = np.concatenate([p["logvar"] for p in batches]).reshape(-1, nl)
    ids = [i for p in batches for i in p["ids"]]
    skipped = [s for p in batches for s in p["skipped"]]
    if len(rows) + len(skipped) != b - a or (len(rows) and (rows.min() < a or rows.max() >= b)):
        raise GalvaeValueError(f"chunk {chunk}: encoded rows do not cover [{a}, {b}) exactly", len(rows))
    cols: dict[str, Any] = {"id": np.asarray(ids, dtype=str)}
    cols.update({f"mu_{j}": mu[:, j] for j in range(nl)})
    cols.update({f"logvar_{j}": lv[:, j] for j in range(nl)})
    if recon_error:
        cols["recon_error"] = np.concatenate([p["recon_error"] for p in batches]).astype(np.float32)
    meta = {"part": {"chunk": chunk, "row_start": a, "row_stop": b, "n_rows": len(rows), "skipped": skipped}}
    path = out / _part_name(chunk)
    write_table(pd.DataFrame(cols), path, overwrite=True, format="parquet", metadata=meta)
    return path


def _finalise(
    out: Path,
    meta: dict[str, Any],
    n: int,
    shard_rows: int,
    outlier_k: float,
    outlier_robust: bool,
) -> int:
    """Rank 0 after every part exists: check the union, add the outlier columns, write the manifest."""
    import pyarrow.parquet as pq

    from ..data.tables import read_table, write_table
    from .catalog import _outlier_columns

    n_chunks = max(1, -(-n // shard_rows))
    done = _finished(out)
    missing = [k for k in range(n_chunks) if k not in done]
    if missing:
        raise GalvaeFileError(
            out, f"{len(missing)} of {n_chunks} parts missing (first: {_part_name(missing[0])}); rerun to resume"
        )
    nl = int(meta["latent_dim"])
    mus, ids, infos = [], [], []
    for k in range(n_chunks):
        path = done[k]
        info = json.loads(pq.read_schema(path).metadata[b"galvae"])["part"]
        a, b = _chunk_rows(k, shard_rows, n)
        if (info["chunk"], info["row_start"], info["row_stop"]) != (k, a, b):
            raise GalvaeFileError(
                path, f"describes chunk {info['chunk']} rows [{info['row_start']}, {info['row_stop']})"
            )
        t = pq.read_table(path, columns=["id"] + [f"mu_{j}" for j in range(nl)])
        if t.num_rows + len(info["skipped"]) != b - a:
            raise GalvaeFileError(path, f"holds {t.num_rows} rows + {len(info['skipped'])} skipped for {b - a} images")
        ids.append(t.column("id").to_numpy(zero_copy_only=False).astype(str))
        mus.append(np.stack([t.column(f"mu_{j}").to_numpy() for j in range(nl)], axis=1).astype(np.float32))
        infos.append(info)
    all_ids = np.concatenate(ids)
    if len(np.unique(all_ids)) != all_ids.size:
        raise GalvaeFileError(out, "an id appears in more than one part; pass --overwrite and encode again")
    skipped = [s for info in infos for s in info["skipped"]]
    if not all_ids.size and n:
        raise GalvaeFileError(meta["store"], f"no image could be encoded ({len(skipped)} unreadable)")
    mu = np.concatenate(mus) if mus else np.empty((0, nl), np.float32)
    sigma, flagged, outlier_meta = _outlier_columns(mu, outlier_k, outlier_robust)
    meta = {**meta, "skipped": skipped, "outlier": outlier_meta, "shard_rows": shard_rows}
    parts = []
    lo = 0
    for k in range(n_chunks):
        path = done[k]
        df, pmeta = read_table(path, format="parquet")
        df = df.drop(columns=[c for c in ("outlier_sigma", "outlier") if c in df.columns])
        hi = lo + len(df)
        df["outlier_sigma"] = sigma[lo:hi]
        df["outlier"] = flagged[lo:hi]
        lo = hi
        part_meta = {**meta, "skipped": infos[k]["skipped"], "part": infos[k]}
        write_table(df, path, overwrite=True, format="parquet", metadata=part_meta)
        parts.append(
            {
                "file": path.name,
                "chunk": k,
                "row_start": infos[k]["row_start"],
                "row_stop": infos[k]["row_stop"],
                "n_rows": len(df),
                "bytes": path.stat().st_size,
                "sha256": sha256_file(path),
            }
        )
    manifest = {
        "format": LATENT_MANIFEST_FORMAT,
        "format_version": _VERSION,
        "n_rows": int(all_ids.size),
        "n_parts": n_chunks,
        "parts": parts,
        "metadata": meta,
    }
    write_json(out / _MANIFEST, manifest)
    return int(all_ids.size)


def _rank_from_env() -> int:
    for key in ("RANK", "SLURM_PROCID"):
        if key in os.environ:
            try:
                return int(os.environ[key])
            except ValueError:
                pass
    return 0


def encode_store_sharded(
    model: str | os.PathLike[str] | GalaxyVAE,
    store: str | os.PathLike[str] | ImageStore,
    out: str | os.PathLike[str],
    *,
    batch_size: int = 256,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    accelerator: str = "cpu",
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    num_workers: int = 0,
    decoder: str | None = "auto",
    overwrite: bool = False,
    progress: bool = True,
    strict: bool = False,
    outlier_k: float = OUTLIER_SIGMA,
    outlier_robust: bool = False,
    recon_error: bool = True,
) -> EncodeResult:
    """Encode a store into a directory of Parquet parts plus a manifest, on one or many processes.

    Call it in every process (``torchrun``, ``srun``) or once with
    ``devices > 1`` (Lightning starts the processes).  See the module notes
    for the layout, how work is split and how a rerun resumes.

    Parameters
    ----------
    model : GalaxyVAE or path
        Run directory or exported model (loaded on the CPU; Lightning moves
        it to each process's device).
    store : ImageStore or path
        An image store or a sharded store's manifest (``.json``), in the
        size and normalisation the model expects.
    out : path
        Output directory (created).
    batch_size : int, default 256
        Images per forward pass and process.
    shard_rows : int, default 100000
        Store rows per part: the unit of work, of resuming and of the files.
    accelerator : str, default "cpu"
        Lightning accelerator: ``"cpu"``, ``"gpu"``, ``"auto"``...
    devices : int or str, default 1
        Processes (devices) per node; under ``torchrun`` it must equal
        ``--nproc-per-node``.
    num_nodes : int, default 1
    strategy : str, default "auto"
        Lightning strategy; ``"auto"`` is ``"ddp"`` when there is more than
        one process; from a notebook or a Python script use ``"ddp_notebook"`` (forked processes).
    num_workers : int, default 0
        DataLoader worker processes reading the store, per process.
    decoder, strict, outlier_k, outlier_robust, recon_error
        As for :func:`~galvae.latents.catalog.encode_store`.
    overwrite : bool, default False
        Delete the parts and manifest in ``out`` first.  Without it a
        complete ``out`` of the same plan is left as it is, an incomplete one
        is resumed, and one of another plan (model, store, ``shard_rows``,
        decoder, ``recon_error``, ``strict``) is refused.
    progress : bool, default True

    Returns
    -------
    EncodeResult

    Raises
    ------
    GalvaeFileError
        If ``out`` holds another encoding, a file cannot be read, no image
        can be encoded, or (``strict``) at the first unreadable image.
    GalvaeValueError
        On bad parameters or a store that does not match the model.
    """
    from .catalog import _model, _open, _pick_decoder, catalog_metadata

    t0 = time.perf_counter()
    outlier_k = check_float("outlier_k", outlier_k, minimum=0, inclusive=False)
    batch_size = GalaxyVAE._check_batch(batch_size)
    check_int("shard_rows", shard_rows, minimum=1)
    check_int("num_workers", num_workers, minimum=0)
    shard_rows = int(shard_rows)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GalvaeFileError(out, "is a file; a sharded latent catalogue is a directory (--out DIR)")
    vae = _model(model, "cpu")
    st = _open(store)
    check_store_matches(vae.meta, st)
    vae = _pick_decoder(vae, st.survey, decoder)
    plan = _plan(vae, st, shard_rows, recon_error, strict)
    _check_plan(out, plan, overwrite)
    n = len(st)
    n_chunks = max(1, -(-n // shard_rows))
    if not overwrite and (out / _MANIFEST).is_file():
        rank = _rank_from_env()
        old = read_latent_manifest(out)["metadata"].get("outlier") or {}
        n_rows = -1
        if (old.get("k"), old.get("robust")) != (outlier_k, bool(outlier_robust)) and rank == 0:
            log.info(
                "%s is complete; recomputing its outlier columns (k=%g, robust=%s)", out, outlier_k, outlier_robust
            )
            n_rows = _finalise(
                out, catalog_metadata(vae, st, recon_error), n, shard_rows, outlier_k, bool(outlier_robust)
            )
        else:
            log.info("%s is complete (same model, store and shard_rows): nothing to encode", out)
        return EncodeResult(out / _MANIFEST, rank, 1, n_rows, n_chunks, 0, n_chunks, time.perf_counter() - t0)
    # listed before any process starts (read only), so the count holds whichever launcher runs the work
    resumed = 0 if overwrite else sum(k < n_chunks for k in _finished(out))
    if strategy == "auto" and (num_nodes > 1 or (isinstance(devices, int) and devices > 1)):
        strategy = "ddp"
    trainer = _lightning_parts(
        vae,
        st,
        out,
        plan,
        batch_size=batch_size,
        shard_rows=shard_rows,
        recon_error=recon_error,
        strict=strict,
        overwrite=overwrite,
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        num_workers=num_workers,
        progress=progress,
    )
    trainer.strategy.barrier("galvae-encode-parts")
    rank, world = trainer.global_rank, trainer.world_size
    n_rows = -1
    if rank == 0:
        meta = catalog_metadata(vae, st, recon_error)
        n_rows = _finalise(out, meta, n, shard_rows, outlier_k, bool(outlier_robust))
        log.info("wrote latent catalogue of %d images in %d parts to %s", n_rows, n_chunks, out)
    return EncodeResult(
        out / _MANIFEST,
        rank,
        world,
        n_rows,
        n_chunks,
        n_chunks - resumed,
        resumed,
        time.perf_counter() - t0,
    )


def read_latent_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a sharded latent catalogue (its directory or ``manifest.json``), plus its ``path``.

    Raises
    ------
    GalvaeFileError
        If it is missing (an unfinished encoding), unreadable or not a galvae latent-catalogue manifest.
    """
    p = Path(path)
    man_path = p / _MANIFEST if p.is_dir() else p
    if not man_path.is_file():
        raise GalvaeFileError(man_path, "latent catalogue manifest not found (the encoding is unfinished: rerun it)")
    try:
        man = json.loads(man_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GalvaeFileError(man_path, f"unreadable manifest ({exc})") from None
    if not isinstance(man, dict) or man.get("format") != LATENT_MANIFEST_FORMAT or "parts" not in man:
        raise GalvaeFileError(man_path, f"not a galvae latent-catalogue manifest (format {LATENT_MANIFEST_FORMAT!r})")
    man["path"] = str(man_path)
    return man


def read_latent_shards(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """Read a sharded latent catalogue (its directory or ``manifest.json``) as one DataFrame plus metadata.

    Checks that every part the manifest lists exists with its recorded byte
    size and row count (not the checksums, which cost a full read).

    Raises
    ------
    GalvaeFileError
        If the manifest is missing or malformed, or a part is missing,
        resized or holds another number of rows.
    """
    import pandas as pd

    from ..data.tables import read_table

    man = read_latent_manifest(path)
    man_path = Path(man["path"])
    frames = []
    for rec in man["parts"]:
        part = man_path.parent / rec["file"]
        if not part.is_file():
            raise GalvaeFileError(man_path, f"part {rec['file']} is missing")
        if part.stat().st_size != rec["bytes"]:
            raise GalvaeFileError(man_path, f"part {rec['file']} has another size than the manifest records")
        df, _ = read_table(part, format="parquet")
        if len(df) != rec["n_rows"]:
            raise GalvaeFileError(man_path, f"part {rec['file']} holds {len(df)} rows, not {rec['n_rows']}")
        frames.append(df)
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return df, man["metadata"]
