"""Simulator speed: galaxies per second, three bands, one survey (DECaLS-like), S = 64.

Run:  .venv/bin/python benchmarks/bench_simulate.py [--n 600] [--repeat 3]
Writes benchmarks/simulate.json and benchmarks/simulate.md.  Timings live here, never in tests.
Each measurement is repeated and the best (least disturbed) run is reported, with all runs and the
load average at the start recorded, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from _common import cpu_model
from galvae import __version__
from galvae.simulate import simulate
from galvae.simulate.core import default_workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=600, help="galaxies per measurement (default 600)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement, best reported (default 3)")
    args = parser.parse_args()
    here = Path(__file__).parent
    load = os.getloadavg()[0]
    rows = []
    for workers in sorted({1, default_workers()}):
        times = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                simulate(
                    tmp,
                    n_galaxies=args.n,
                    overlap=0,
                    size=64,
                    seed=0,
                    surveys=["decals"],
                    workers=workers,
                    progress=False,
                )
                times.append(time.perf_counter() - t0)
        dt = min(times)
        rows.append(
            {
                "workers": workers,
                "galaxies": args.n,
                "seconds": round(dt, 2),
                "galaxies_per_s": round(args.n / dt, 1),
                "all_seconds": [round(t, 2) for t in times],
            }
        )
        print(
            f"workers={workers}: {args.n / dt:.1f} galaxies/s (best of {args.repeat}: {dt:.1f} s, "
            "including votes and file writing)"
        )
    result = {
        "benchmark": "simulate: one survey (decals), bands g, r, z, S=64, default morphology mix",
        "galvae_version": __version__,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": round(load, 2),
        "results": rows,
    }
    (here / "simulate.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Simulator speed",
        "",
        f"{result['benchmark']}; galvae {__version__}; {result['cpu']}, {result['cores']} cores; "
        "wall time of `galvae.simulate.simulate` including truth, votes, defects and writing; "
        f"best of {args.repeat} runs (load average {load:.2f} at the start).",
        "",
        "| workers | galaxies | seconds (best) | galaxies/s | all runs (s) |",
        "|---:|---:|---:|---:|---|",
        *[
            f"| {r['workers']} | {r['galaxies']} | {r['seconds']} | {r['galaxies_per_s']} | "
            f"{', '.join(map(str, r['all_seconds']))} |"
            for r in rows
        ],
        "",
    ]
    (here / "simulate.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
