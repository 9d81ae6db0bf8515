"""The pendulum images of the VHP + REWO paper (Klushyn et al. 2019, Sec. 4.1), rendered here.

The paper's set is 15,000 grey 16x16 images of one pendulum whose joint angle is uniform on
[0, 2 pi); it was not published, so this module draws the same kind of images: a rod of length 6 px
from the centre and a bob of radius 1.6 px, anti-aliased by 4x4 supersampling. The joint angle is the
only degree of freedom. Angles come from a fixed seed per split, so every machine gets the same set
(checked against probes in ``data/checksums.json``).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

SIDE, ROD, BOB, WIDTH, SUPER = 16, 6.0, 1.6, 0.6, 4
SPLITS = {"train": (15_000, 0), "test": (2_000, 1)}   # (size, seed)


def render(angles: np.ndarray, chunk: int = 1000) -> np.ndarray:
    """uint8 images N x 1 x 16 x 16 of the pendulum at ``angles`` (radians, 0 = hanging down)."""
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    # supersampled pixel centres, pivot at the image centre
    c = (np.arange(SIDE * SUPER) + 0.5) / SUPER - SIDE / 2
    yy, xx = np.meshgrid(c, c, indexing="ij")
    out = np.empty((len(angles), 1, SIDE, SIDE), dtype=np.uint8)
    for start in range(0, len(angles), chunk):
        a = angles[start:start + chunk, None, None]
        bx, by = ROD * np.sin(a), ROD * np.cos(a)                      # bob centre
        t = np.clip((xx * bx + yy * by) / ROD ** 2, 0.0, 1.0)          # projection onto the rod
        ink = (np.hypot(xx - t * bx, yy - t * by) <= WIDTH) | (np.hypot(xx - bx, yy - by) <= BOB)
        ink = ink.reshape(-1, SIDE, SUPER, SIDE, SUPER).mean(axis=(2, 4))
        out[start:start + chunk, 0] = np.round(ink * 255).astype(np.uint8)
    return out


def angles(split: str) -> np.ndarray:
    """The joint angles of ``split`` (float64, radians in [0, 2 pi))."""
    if split not in SPLITS:
        raise ValueError(f"unknown pendulum split {split!r}; valid splits: {', '.join(SPLITS)}")
    n, seed = SPLITS[split]
    return np.random.RandomState(seed).uniform(0.0, 2 * math.pi, size=n)


def load(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images N x 1 x 16 x 16, float64 angles N) of ``split``; fresh tensors on every call."""
    images, a = _rendered(split)
    return torch.from_numpy(images.copy()), torch.from_numpy(a.copy())


@functools.lru_cache(maxsize=2)
def _rendered(split: str) -> tuple[np.ndarray, np.ndarray]:
    # rendering the 15,000 training images takes seconds; a notebook loads them once per model
    a = angles(split)
    return render(a), a


def angle_bins(a: torch.Tensor, n_bins: int = 36) -> torch.Tensor:
    """Class labels for the angles: which of ``n_bins`` equal sectors each falls in."""
    return (a / (2 * math.pi) * n_bins).long().clamp_(0, n_bins - 1)
