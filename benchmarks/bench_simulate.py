"""Simulator speed: galaxies per second, three bands, one survey (DECaLS-like), S = 64.

Run:  .venv/bin/python benchmarks/bench_simulate.py [--n 600]
Writes benchmarks/simulate.json and benchmarks/simulate.md.  Timings live here, never in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from galvae import __version__
from galvae.simulate import simulate
from galvae.simulate.core import default_workers


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=600, help="galaxies per measurement (default 600)")
    args = parser.parse_args()
    here = Path(__file__).parent
    rows = []
    for workers in sorted({1, default_workers()}):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            simulate(tmp, n_galaxies=args.n, overlap=0, size=64, seed=0, surveys=["decals"],
                     workers=workers, progress=False)
            dt = time.perf_counter() - t0
        rows.append({"workers": workers, "galaxies": args.n, "seconds": round(dt, 2),
                     "galaxies_per_s": round(args.n / dt, 1)})
        print(f"workers={workers}: {args.n / dt:.1f} galaxies/s ({dt:.1f} s, including votes and file writing)")
    result = {
        "benchmark": "simulate: one survey (decals), bands g, r, z, S=64, default morphology mix",
        "galvae_version": __version__,
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "results": rows,
    }
    (here / "simulate.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Simulator speed",
        "",
        f"{result['benchmark']}; galvae {__version__}; {result['cpu']}, {result['cores']} cores; "
        "wall time of `galvae.simulate.simulate` including truth, votes, defects and writing.",
        "",
        "| workers | galaxies | seconds | galaxies/s |",
        "|---:|---:|---:|---:|",
        *[f"| {r['workers']} | {r['galaxies']} | {r['seconds']} | {r['galaxies_per_s']} |" for r in rows],
        "",
    ]
    (here / "simulate.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
