"""The VHP paper's Table 1 measure on the pendulum: how well the 2-d code's polar angle tells the joint angle."""
from __future__ import annotations

import math

import numpy as np


def _circle_centre(codes: np.ndarray) -> np.ndarray:
    """The centre of the least-squares circle through the codes (Kasa's fit: x^2 + y^2 = 2 a x + 2 b y + c),
    exact for a ring however unevenly its points are spread; the mean is not."""
    design = np.column_stack([2 * codes, np.ones(len(codes))])
    return np.linalg.lstsq(design, (codes ** 2).sum(1), rcond=None)[0][:2]


def circular_regression_error(codes: np.ndarray, theta: np.ndarray) -> dict:
    """The VHP paper's Table 1 measure, as we implement it: the codes (N x 2) are turned to polar
    coordinates about the centre of the circle that fits them best, and the joint angle is regressed on the polar angle by least squares
    on the circle (theta ~ s * phi + b, s = +1 or -1, b the circular mean offset). Returns the mean
    absolute angular error (radians) and the fitted s, b. A ring that follows the angle gives ~0; a
    code that ignores it gives pi / 2 on average."""
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"circular regression needs N x 2 codes, got shape {codes.shape}")
    centred = codes - _circle_centre(codes)
    phi = np.arctan2(centred[:, 1], centred[:, 0])
    best = None
    for s in (1.0, -1.0):
        resid = theta - s * phi
        b = math.atan2(np.sin(resid).mean(), np.cos(resid).mean())
        err = np.abs(np.angle(np.exp(1j * (resid - b)))).mean()
        if best is None or err < best["abs_error"]:
            best = {"abs_error": float(err), "sign": s, "offset": float(b)}
    return best


def ols_angle_error(codes: np.ndarray, theta: np.ndarray) -> dict:
    """The VHP paper's Table 1 measure (its App. B.3): an OLS regression of the joint angle on
    arcsin(z_2 / r), r the radius of the ring estimated from the codes (N x 2).

    What the appendix leaves open, and is chosen here: the centre is the least-squares circle's (as in
    :func:`circular_regression_error`); the code plane is first rotated and reflected so that its polar
    angle matches the joint angle (the fitted sign and offset of the circular regression: a code's
    orientation is arbitrary); and the joint angle is folded by the same map as the code,
    arcsin(sin theta), so that a ring following the angle is a straight line. Returns the mean absolute
    residual (radians), the OLS slope and intercept, and r. A ring gives ~0; a code that ignores the
    angle gives about pi / 4 (the spread of the folded angle)."""
    codes = np.asarray(codes, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    align = circular_regression_error(codes, theta)
    centred = codes - _circle_centre(codes)
    radius = np.hypot(centred[:, 0], centred[:, 1])
    psi = align["sign"] * np.arctan2(centred[:, 1], centred[:, 0]) + align["offset"]   # aligned polar angle
    r = float(radius.mean())
    u = np.arcsin(np.clip(radius * np.sin(psi) / r, -1.0, 1.0))       # arcsin(z_2 / r) of the aligned code
    y = np.arcsin(np.sin(theta))                                        # the joint angle, folded alike
    (slope, intercept), *_ = np.linalg.lstsq(np.column_stack([u, np.ones_like(u)]), y, rcond=None)
    return {"abs_error": float(np.abs(y - slope * u - intercept).mean()), "slope": float(slope),
            "intercept": float(intercept), "radius": r}
