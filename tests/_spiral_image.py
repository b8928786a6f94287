"""A numpy spiral galaxy for the spiral-arm measurements' tests (independent of the simulator)."""

from __future__ import annotations

import math

import numpy as np


def spiral_image(m, pitch_deg, *, size=64, rd=6.0, q=1.0, pa_deg=0.0, contrast=0.8, phase=0.0):
    """An exponential disc (scale length rd px) with m log-spiral arms, projected to axis ratio q at PA pa_deg."""
    c = (size - 1) / 2
    y, x = np.indices((size, size)) - c
    pa = math.radians(pa_deg)
    u = x * math.cos(pa) + y * math.sin(pa)
    v = (-x * math.sin(pa) + y * math.cos(pa)) / q
    r = np.hypot(u, v) + 1e-6
    phi = np.arctan2(v, u)
    disc = np.exp(-r / rd)
    if m == 0:
        return disc
    wave = np.cos(m * (phi - np.log(r / rd) / math.tan(math.radians(pitch_deg))) + phase)
    return disc * (1 + contrast * wave)
