"""The VHP paper's Table 1 measure on the pendulum: how well the 2-d code's polar angle tells the joint angle."""
from __future__ import annotations

import math

import numpy as np


def circular_regression_error(codes: np.ndarray, theta: np.ndarray) -> dict:
    """The VHP paper's Table 1 measure, as we implement it: the codes (N x 2) are turned to polar
    coordinates about the centre of the circle that fits them best, and the joint angle is regressed on the polar angle by least squares
    on the circle (theta ~ s * phi + b, s = +1 or -1, b the circular mean offset). Returns the mean
    absolute angular error (radians) and the fitted s, b. A ring that follows the angle gives ~0; a
    code that ignores it gives pi / 2 on average."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"circular regression needs N x 2 codes, got shape {codes.shape}")
    # centre: the least-squares circle through the codes (Kasa's fit: x^2 + y^2 = 2 a x + 2 b y + c),
    # exact for a ring however unevenly its points are spread; the mean is not
    design = np.column_stack([2 * codes, np.ones(len(codes))])
    centre = np.linalg.lstsq(design, (codes ** 2).sum(1), rcond=None)[0][:2]
    centred = codes - centre
    phi = np.arctan2(centred[:, 1], centred[:, 0])
    best = None
    for s in (1.0, -1.0):
        resid = theta - s * phi
        b = math.atan2(np.sin(resid).mean(), np.cos(resid).mean())
        err = np.abs(np.angle(np.exp(1j * (resid - b)))).mean()
        if best is None or err < best["abs_error"]:
            best = {"abs_error": float(err), "sign": s, "offset": float(b)}
    return best
