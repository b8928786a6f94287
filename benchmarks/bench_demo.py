"""Wall time of ``galvae demo`` per stage: the default run (issue 11's budget: 10 minutes on a 2-core
CPU without GPU) and ``--quick`` (about a minute).

Run:  .venv/bin/python benchmarks/bench_demo.py [--which default quick] [--out DIR]
Writes benchmarks/demo.json and benchmarks/demo.md.  Every stage is forced (nothing reused).  A
configuration not in ``--which`` keeps its column from the existing demo.json, with its own date. The
load average at the start is recorded: on a shared machine other processes slow small-batch torch
work down a lot (OpenMP threads waiting for descheduled siblings), so compare runs with similar load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from _common import cpu_model
from galvae import __version__
from galvae.demo import QUICK, STAGES, DemoConfig, run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--which", nargs="+", default=["quick", "default"], choices=("quick", "default"))
    parser.add_argument("--out", default="galvae-bench-demo", help="scratch directory (default galvae-bench-demo)")
    args = parser.parse_args()
    here = Path(__file__).parent
    results = {}
    for which in args.which:
        cfg = QUICK if which == "quick" else DemoConfig()
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        res = run_demo(Path(args.out) / which, cfg, force=True, progress=False)
        wall = time.perf_counter() - t0
        results[which] = {
            "wall_seconds": round(wall, 1),
            "load_average_at_start": round(load, 2),
            "stages": {k: round(v, 1) for k, v in res.seconds.items()},
            "profile": cfg.profile,
            "field_fraction": cfg.field_fraction,
            "size": cfg.size,
            "n_galaxies": cfg.n_galaxies,
            "summary": res.summary,
            "date": time.strftime("%Y-%m-%d %H:%M"),
        }
        print(f"{which}: {wall:.0f} s (load {load:.2f})")
    write_outputs(here, results)


def write_outputs(here: Path, results: dict) -> None:
    """Write demo.json and demo.md from ``results`` merged over the existing demo.json's other columns."""
    previous = here / "demo.json"
    if previous.exists():  # keep the columns not rerun
        kept = json.loads(previous.read_text()).get("results", {})
        results = {k: results.get(k, kept.get(k)) for k in ("quick", "default") if k in results or k in kept}
    out = {
        "benchmark": "galvae demo, every stage forced",
        "galvae_version": __version__,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "results": results,
    }
    (here / "demo.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    names = list(results)
    lines = [
        "# `galvae demo` wall time",
        "",
        f"galvae {__version__}, {time.strftime('%Y-%m-%d')}; {out['cpu']}, {out['cores']} cores, CPU only; every"
        " stage forced. "
        + "; ".join(
            f"{n}: {results[n]['n_galaxies']} galaxies at {results[n]['size']} px, profile {results[n]['profile']}"
            f" (field fraction {results[n].get('field_fraction', 1.0):g})"
            for n in names
        )
        + ". Run at: "
        + "; ".join(f"{n} {results[n].get('date', 'unknown')}" for n in names)
        + ".",
        "",
        "| stage | " + " | ".join(f"{n} (s)" for n in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for stage in STAGES:
        lines.append(f"| {stage} | " + " | ".join(str(results[n]["stages"].get(stage, "")) for n in names) + " |")
    lines.append("| **total wall** | " + " | ".join(f"**{results[n]['wall_seconds']}**" for n in names) + " |")
    lines.append(
        "| load average at start | " + " | ".join(str(results[n]["load_average_at_start"]) for n in names) + " |"
    )
    lines.append("")
    (here / "demo.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
