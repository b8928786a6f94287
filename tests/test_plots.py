from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from galvae.errors import GalvaeValueError
from galvae.plots import (
    new_figure,
    plot_confusion,
    plot_gallery,
    plot_precision_recall_vs_k,
    plot_ssim_per_category,
    plot_ssim_vs_nl,
    rgb_composite,
    save_figure,
)


def _sweep_table():
    return pd.DataFrame(
        {
            "loss": ["mse"] * 3 + ["mae"] * 3,
            "latent_dim": [10, 20, 40] * 2,
            "ssim_mean": [0.7, 0.8, 0.82, 0.65, 0.78, 0.8],
            "ssim_std": [0.05] * 6,
            "ssim_smooth": [0.8, 0.85, 0.86] * 2,
            "ssim_featured": [0.6, 0.7, 0.75] * 2,
        }
    )


def test_figures_are_figures_and_save(tmp_path) -> None:
    figs = [
        plot_confusion(np.array([[5, 1], [2, 7]]), ["a", "b"], title="t"),
        plot_ssim_vs_nl(_sweep_table(), knees={"mse": 20}),
        plot_ssim_per_category(_sweep_table(), ["smooth", "featured", "edge-on"]),
        plot_precision_recall_vs_k(
            pd.DataFrame(
                {
                    "k": [3, 5],
                    "precision": [0.2, 0.9],
                    "recall": [1.0, 0.5],
                    "flagged_fraction": [0.1, 0.01],
                }
            )
        ),
        plot_gallery(
            np.random.default_rng(0).uniform(0, 1, (5, 3, 8, 8)),
            ["a", "b"],
            ncols=3,
            title="g",
        ),
    ]
    for i, fig in enumerate(figs):
        assert isinstance(fig, Figure)
        path = save_figure(fig, tmp_path / f"{i}.png", dpi=50)
        assert sorted(p.name for p in tmp_path.iterdir())[-1] == f"{i}.png"  # no temporary file left
        with Image.open(path, formats=["PNG"]) as im:
            assert np.allclose(im.size, fig.get_size_inches() * 50, atol=1)
            pixels = np.asarray(im.convert("RGB")).reshape(-1, 3)
        assert len(np.unique(pixels, axis=0)) > 20, i  # drawn: text, lines, colours, not a blank canvas
    assert sorted(t.get_text() for t in figs[0].axes[0].texts) == ["1", "2", "5", "7"]  # counts annotated
    curves = sorted(
        tuple(round(float(v), 3) for v in line.get_ydata())
        for line in figs[1].axes[0].lines
        if line.get_marker() == "o"
    )
    assert curves == [(0.65, 0.78, 0.8), (0.7, 0.8, 0.82)]  # one SSIM curve per loss (markers: the means)
    assert [line.get_xdata()[0] for line in figs[1].axes[0].lines if line.get_linestyle() == "--"] == [20]  # knee
    assert len(figs[4].axes) == 6  # 2 rows x 3 columns


def test_ssim_vs_nl_bars_are_the_models_spread_with_repeats() -> None:
    t = _sweep_table()
    fig = plot_ssim_vs_nl(t)
    assert fig.axes[0].get_ylabel() == "mean SSIM (bars: std over galaxies)"
    t["n_models"], t["ssim_model_std"] = 3, [0.001, 0.002, 0.004] * 2
    fig = plot_ssim_vs_nl(t)
    assert fig.axes[0].get_ylabel() == "mean SSIM (bars: std over 3 models)"
    # the error bars' half-lengths are the models' spread, not the galaxies' 0.05
    segs = fig.axes[0].collections[0].get_segments()
    assert sorted(round(float(s[1][1] - s[0][1]) / 2, 4) for s in segs) == [0.001, 0.002, 0.004]


def test_existing_axes_used() -> None:
    fig, axes = new_figure((6, 3), 1, 2)
    out = plot_confusion(np.eye(3), ["x", "y", "z"], ax=axes[1])
    assert out is fig and axes[1].get_xlabel() == "predicted" and axes[0].get_xlabel() == ""


def test_rgb_composite_band_order() -> None:
    img = np.zeros((3, 2, 2))
    img[2] = 1.0  # z band
    rgb = rgb_composite(img)
    assert rgb.shape == (2, 2, 3) and rgb[..., 0].min() == 1 and rgb[..., 2].max() == 0
    with pytest.raises(GalvaeValueError, match=r"\(3, S, S\)"):
        rgb_composite(np.zeros((2, 4, 4)))
    with pytest.raises(GalvaeValueError, match="2x2"):
        plot_confusion(np.eye(3), ["a", "b"])
