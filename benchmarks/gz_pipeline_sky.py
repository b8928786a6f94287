"""The presented sky: galvae's gz-decals presentation against the Galaxy Zoo DECaLS image pipeline (issue 18).

Run:  .venv/bin/python benchmarks/gz_pipeline_sky.py [--store galvae-demo/data/decals.h5]
      [--real ../shared/data/gz_decals_real]
Writes benchmarks/gz_pipeline_sky.md and .json.

`galvae realism` finds the simulated sky brighter than the real one (in 8-bit levels of the presented
images; the sky level is the random forest's most telling feature).  This separates the presentation
from the sky's content on noise-only fields (DECaLS coadd sky noise, no sources), presented two ways:

* *galvae* (simulator revision 5 on): :func:`galvae.data.presentation.gz_decals_present` (the native pixels
  resampled to the 424-pixel grid, stretched, clipped at -0.5 c, desaturated and truncated to 8 bits there,
  then cropped to 0.75 and resized to 48 px), sent through JPEG (:func:`galvae.evaluate.realism.through_jpeg`);
* *native grid* (galvae up to revision 4): stretch, clip and desaturate on the native 0.262″ grid, crop and
  resize, then truncation to 8 bits and JPEG;
* *GZ pipeline*: the cutout resampled (PIL Lanczos) to 424 pixels at the Galaxy Zoo pixel scale, stretched,
  clipped and desaturated there, truncated to uint8 (``np.uint8(img * 255)``), Lanczos-resized to 128 px
  and saved as JPEG (quality 90), as the shared real images were made, then read as the real images are
  (:func:`galvae.evaluate.realism.read_rgb_images`, 0.75 of the field at 48 px);

beside the border pixels of the real images and of a simulated store (sources, outskirts and sky
subtraction included), all at 48 px of 0.75 of the field.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _common import machine
from galvae import __version__
from galvae.data.preprocess import crop_and_resize
from galvae.data.presentation import GZ_DECALS_STRETCH, gz_decals_desaturate, gz_decals_present
from galvae.data.store import open_store
from galvae.evaluate.realism import _border, read_rgb_images, through_jpeg
from galvae.simulate.surveys import get_survey

HERE = Path(__file__).resolve().parent


def noise_fields(n: int, field: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sig = np.array([b.sky_sigma for b in get_survey("decals").bands])[:, None, None]
    rng = np.random.default_rng(seed)
    n_nat = round(field / 0.262)
    st = GZ_DECALS_STRETCH
    c, top = np.asarray(st.softening)[:, None, None], np.asarray(st.maximum)[:, None, None]
    lo = np.arcsinh(-st.floor)
    ours, native, tmp = [], [], Path(tempfile.mkdtemp())
    try:
        for i in range(n):
            noise = rng.standard_normal((3, n_nat, n_nat)) * sig
            m = round(0.75 * n_nat)
            o = (n_nat - m) // 2
            crop = noise[:, o : o + m, o : o + m]
            ours.append(gz_decals_present(crop, None, 48, field_fraction=0.75)[0])
            y_nat = gz_decals_desaturate((np.arcsinh(crop / c) - lo) / (np.arcsinh(top / c) - lo))
            native.append(np.floor(crop_and_resize(y_nat, None, 48)[0] * 255.0) / 255.0)  # truncated, as before
            up = np.stack(
                [
                    np.asarray(Image.fromarray(b.astype(np.float32), mode="F").resize((424, 424), Image.LANCZOS))
                    for b in noise
                ]
            )
            y = gz_decals_desaturate((np.arcsinh(up / c) - lo) / (np.arcsinh(top / c) - lo))
            rgb = np.uint8(y[::-1].transpose(1, 2, 0) * 255.0)
            Image.fromarray(rgb, mode="RGB").resize((128, 128), Image.LANCZOS).save(tmp / f"n{i:03d}.jpg", quality=90)
        gz, _ = read_rgb_images(tmp, 48, 0.75)
    finally:
        shutil.rmtree(tmp)
    return through_jpeg(np.stack(ours)), through_jpeg(np.stack(native)), gz


def border_stats(x: np.ndarray) -> dict[str, dict[str, float]]:
    b = _border(x.shape[-1])
    out = {}
    for k, band in enumerate("grz"):
        v = x[:, k][:, b].astype(np.float64) * 255
        out[band] = {
            "mean": float(np.median(v.mean(1))),
            "median": float(np.median(np.median(v, 1))),
            "iqr": float(np.median(np.percentile(v, 75, 1) - np.percentile(v, 25, 1))),
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, help="a simulated gz-decals store at 0.75 of the field, 48 px (revision >= 5)")
    p.add_argument("--real", type=Path, default=HERE.parent.parent / "shared" / "data" / "gz_decals_real")
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--field", type=float, default=70.0, help="field in arcsec (the default sample's median)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=HERE / "gz_pipeline_sky")
    args = p.parse_args()
    ours, native, gz = noise_fields(args.n, args.field, args.seed)
    rows = {
        "noise only, galvae presentation (424-pixel grid)": border_stats(ours),
        "noise only, native-grid presentation (galvae to revision 4)": border_stats(native),
        "noise only, GZ pipeline": border_stats(gz),
    }
    if args.real.exists():
        rows["real images"] = border_stats(read_rgb_images(args.real, 48, 0.75)[0])
    if args.store:
        with open_store(args.store) as st:
            rows[f"simulated store ({args.store.parent.parent.name})"] = border_stats(
                through_jpeg(st.read(slice(0, 200)))
            )
    zero = 255 * np.arcsinh(0.5) / (np.arcsinh(300.0) + np.arcsinh(0.5))
    res = {
        "galvae_version": __version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "field_arcsec": args.field,
        "n": args.n,
        "zero_flux_level": zero,
        "rows": rows,
    }
    lines = [
        "# The presented sky: galvae's presentation against the Galaxy Zoo DECaLS pipeline",
        "",
        f"`benchmarks/gz_pipeline_sky.py`, {res['date']}, galvae {__version__}, {res['machine']['cpu']}. Border pixels"
        f" (8-bit levels) of 48-px images of 0.75 of a {args.field:.0f}″ field; {args.n} noise-only fields (DECaLS coadd"
        f" sky noise) per presentation. Zero flux is level {zero:.2f}; mean and median per image, then the median"
        " over images; IQR of the border pixels.",
        "",
        "| images | g mean | g median | g IQR | r mean | r median | r IQR | z mean | z median | z IQR |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        cells = " | ".join(f"{r[b]['mean']:.2f} | {r[b]['median']:.1f} | {r[b]['iqr']:.1f}" for b in "grz")
        lines.append(f"| {name} | {cells} |")
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
