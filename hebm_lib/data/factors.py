"""Ground-truth factor datasets (3DShapes, dSprites): an image for every factor tuple.

Two sources per dataset, never mixed silently (the dataset name says which one):

* the real files when present: ``3dshapes.h5`` (keys ``images`` 480000x64x64x3, ``labels`` 480000x6) and
  ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` (keys ``imgs``, ``latents_classes``), both ordered
  C-style over the factor grid, so the image of a factor tuple is at ``ravel_multi_index(tuple, sizes)``;
* a deterministic procedural renderer of the same factors and cardinalities (``*_proc``, and ``*_proc32``
  rendered at 32x32 for the `cpu` profile). Its output is pinned by the pixel sums of a fixed probe set in
  data/checksums.json, so a change to the renderer cannot go unnoticed.

Training sets are i.i.d. factor tuples (a fixed seed), materialised once and cached with a sha256.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch

from .. import paths
from ..io import atomic_save
from .registry import DataError, DatasetSpec, ImageSet, load_checksums

# the factor grids (C-order, fastest last) the renderers draw and the real files store
SHAPES3D_FACTORS = dict(factor_names=("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"),
                        factor_sizes=(10, 10, 10, 8, 4, 15),
                        pv_factors=("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"))
# pro-VLAE's metric code scores dSprites on four factors: shape is left out
DSPRITES_FACTORS = dict(factor_names=("shape", "scale", "orientation", "pos_x", "pos_y"),
                        factor_sizes=(3, 6, 40, 32, 32), pv_factors=("scale", "orientation", "pos_x", "pos_y"))


def _check_classes(classes: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    classes = torch.as_tensor(classes, dtype=torch.long)
    if classes.dim() != 2 or classes.shape[1] != len(sizes):
        raise ValueError(f"factor classes must be N x {len(sizes)}, got {tuple(classes.shape)}")
    bad = (classes < 0) | (classes >= torch.tensor(sizes))
    if bad.any():
        raise ValueError(f"factor classes out of range for sizes {sizes}")
    return classes


# ---------------------------------------------------------------------------------------------
# procedural renderers (float images in [0, 1], vectorised over the batch)

def _grid(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    c = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    v, u = torch.meshgrid(c, c, indexing="ij")  # v down, u right
    return u.expand(n, size, size), v.expand(n, size, size)


def _hsv(hue: torch.Tensor, sat: float, val: torch.Tensor) -> torch.Tensor:
    """HSV -> RGB; hue (N,) in [0, 1), val (N, H, W); returns N x 3 x H x W."""
    h = hue.view(-1, 1, 1)
    out = []
    for n in (5.0, 3.0, 1.0):
        k = (n + h * 6) % 6
        out.append(val * (1 - sat * torch.clamp(torch.minimum(k, 4 - k), 0, 1)))
    return torch.stack(out, 1)


def render_shapes3d(classes: torch.Tensor, size: int = 64) -> torch.Tensor:
    """A room (wall and floor meeting in a corner) with one object, from the six 3DShapes factors.

    floor/wall/object hue: 10 hues each; scale: 8 sizes (0.75..1.25); shape: cube, cylinder, sphere,
    capsule; orientation: 15 camera angles in [-30, 30] degrees, which move the wall corner and the
    horizon and turn the object.
    """
    c = _check_classes(classes, SHAPES3D_FACTORS["factor_sizes"])
    n = len(c)
    u, v = _grid(n, size)
    hue_f, hue_w, hue_o = (c[:, i].float() / 10 for i in range(3))
    scale = 0.75 + 0.5 * c[:, 3].float() / 7
    shape = c[:, 4]
    ang = torch.deg2rad(-30 + 60 * c[:, 5].float() / 14)
    sa, ca = torch.sin(ang).view(-1, 1, 1), torch.cos(ang).view(-1, 1, 1)

    horizon = 0.1 + 0.3 * sa * u
    corner = 0.8 * sa
    wall_val = torch.where(u < corner, torch.full_like(u, 0.95), torch.full_like(u, 0.75))
    floor_val = 0.55 + 0.45 * ((v - horizon) / (1 - horizon).clamp_min(1e-3)).clamp(0, 1)
    is_wall = v < horizon
    img = torch.where(is_wall.unsqueeze(1), _hsv(hue_w, 0.85, wall_val), _hsv(hue_f, 0.85, floor_val))

    r = (0.42 * scale).view(-1, 1, 1)
    base = 0.9                       # the object stands on the floor at v = base
    x, y = u, v - (base - r)         # y = 0 at the object's centre height
    val = torch.zeros_like(u)
    mask = torch.zeros_like(u, dtype=torch.bool)
    # cube: two visible faces split where the turned edge is; top face lighter
    w = r * (ca.abs() + sa.abs())
    split = r * (sa - ca) * 0.5
    cube = (x.abs() <= w) & (y.abs() <= r)
    cube_val = torch.where(x < split, torch.full_like(u, 0.9), torch.full_like(u, 0.65))
    cube_val = torch.where(y < -0.7 * r, torch.full_like(u, 1.0), cube_val)
    # cylinder: shaded body and an elliptical top cap
    body = (x.abs() <= r) & (y.abs() <= r)
    cap = (x / r) ** 2 + ((y + r) / (0.3 * r)) ** 2 <= 1
    cyl_val = torch.where(cap, torch.full_like(u, 1.0), 0.55 + 0.4 * torch.cos(1.2 * (x / r - 0.5 * sa)).clamp(0, 1))
    # sphere: Lambert shading, light turning with the camera
    d2 = (x / r) ** 2 + (y / r) ** 2
    nz = (1 - d2).clamp_min(0).sqrt()
    lx, ly = -0.5 * ca - 0.5 * sa, -0.6
    sph_val = (0.35 + 0.65 * ((x / r) * lx + (y / r) * ly + nz * 0.6).clamp(0, 1))
    # capsule: a stadium lying along the (turned) horizontal axis
    xr = x * ca + y * sa
    yr = -x * sa + y * ca
    half = 0.9 * r
    capsule = (yr.abs() <= 0.55 * r) & (xr.abs() <= half) | ((xr.abs() - half) ** 2 + yr ** 2 <= (0.55 * r) ** 2)
    cap_val = 0.6 + 0.4 * (1 - (yr / (0.55 * r)).abs()).clamp(0, 1)
    for k, (m, vv) in enumerate(((cube, cube_val), (body | cap, cyl_val), (d2 <= 1, sph_val), (capsule, cap_val))):
        sel = (shape == k).view(-1, 1, 1)
        mask = torch.where(sel, m, mask)
        val = torch.where(sel, vv, val)
    obj = _hsv(hue_o, 0.9, val)
    return torch.where(mask.unsqueeze(1), obj, img).clamp(0, 1)


def render_dsprites(classes: torch.Tensor, size: int = 64) -> torch.Tensor:
    """Binary 64x64 sprites (square, ellipse, heart) from dSprites' five factors; at size 32 the 64x64
    rendering is 2x2-averaged (grey edges), so no factor value collapses."""
    c = _check_classes(classes, DSPRITES_FACTORS["factor_sizes"])
    if size not in (32, 64):
        raise ValueError(f"dSprites renders at 64 (or 32 by averaging), not {size}")
    n = len(c)
    u, v = _grid(n, 64)
    scale = (0.5 + 0.5 * c[:, 1].float() / 5).view(-1, 1, 1)
    ang = (2 * math.pi * c[:, 2].float() / 40).view(-1, 1, 1)   # 40 angles, 0 included, 2 pi excluded
    px = (-0.6 + 1.2 * c[:, 3].float() / 31).view(-1, 1, 1)
    py = (-0.6 + 1.2 * c[:, 4].float() / 31).view(-1, 1, 1)
    r = 0.32 * scale
    x, y = (u - px) / r, (v - py) / r
    xr = x * torch.cos(ang) + y * torch.sin(ang)
    yr = -x * torch.sin(ang) + y * torch.cos(ang)
    square = (xr.abs() <= 0.8) & (yr.abs() <= 0.8)
    ellipse = xr ** 2 + (yr / 0.5) ** 2 <= 1
    hx, hy = 1.1 * xr, -1.1 * yr + 0.25
    heart = (hx ** 2 + hy ** 2 - 1) ** 3 - hx ** 2 * hy ** 3 <= 0
    shape = c[:, 0].view(-1, 1, 1)
    img = torch.where(shape == 0, square, torch.where(shape == 1, ellipse, heart)).float().unsqueeze(1)
    if size == 32:
        img = torch.nn.functional.avg_pool2d(img, 2)
    return img


# ---------------------------------------------------------------------------------------------
# the dataset object the notebooks and metrics use

_RENDERED: dict[tuple[str, str], torch.Tensor] = {}   # (dataset, sha256 of the factor draws) -> uint8 images
_RENDERED_MAX_BYTES = 128 << 20                       # all kept sets together (5,000 32x32 RGB images: 15 MB)


class FactorData:
    """Images by factor tuple, from a renderer or from the real file."""

    def __init__(self, dataset: DatasetSpec, data_dir=None):
        if not dataset.is_factor_data:
            raise DataError(f"{dataset.name} has no ground-truth factors")
        self.spec = dataset
        self._file = None
        if dataset.source == "file":
            self._file = dataset.open(dataset, paths.data_dir(data_dir))
        else:
            self._check_renderer()

    def _check_renderer(self) -> None:
        pinned = load_checksums().get("procedural", {}).get(self.spec.name)
        probe = _probe(self)
        scale = float(np.prod(self.spec.image_shape)) * 255
        # per-image pixel sums, with a tolerance for last-bit float differences between CPUs
        if pinned is None or len(pinned) != len(probe) or max(abs(a - b) for a, b in zip(pinned, probe)) > 1e-3 * scale:
            raise DataError(f"the {self.spec.name} renderer's output does not match its pinned probe in data/checksums.json; "
                            f"if the renderer was changed on purpose, update the checksum with "
                            f"hebm_lib.data.factors.probe_digest(hebm_lib.data.spec({self.spec.name!r}))")

    @property
    def label(self) -> str:
        return self.spec.label

    def images(self, classes: torch.Tensor, batch: int = 4096) -> torch.Tensor:
        """uint8 N x C x H x W images of the factor tuples ``classes`` (N x n_factors)."""
        classes = _check_classes(classes, self.spec.factor_sizes)
        if self._file is not None:
            flat = np.ravel_multi_index(classes.numpy().T, self.spec.factor_sizes)
            return self._file(flat)
        # an evaluation's draws are rendered again for every model on a page: kept for the next ask
        key = (self.spec.name, hashlib.sha256(classes.numpy().tobytes()).hexdigest())
        if key not in _RENDERED:
            images = self._render(classes, batch)
            if images.nbytes > _RENDERED_MAX_BYTES:
                return images
            while _RENDERED and sum(v.nbytes for v in _RENDERED.values()) + images.nbytes > _RENDERED_MAX_BYTES:
                _RENDERED.pop(next(iter(_RENDERED)))                           # the oldest first
            _RENDERED[key] = images
        return _RENDERED[key].clone()                                          # a caller may write into its copy

    def _render(self, classes: torch.Tensor, batch: int = 4096) -> torch.Tensor:
        size = self.spec.image_shape[1]
        out = [self.spec.render(classes[i:i + batch], size) for i in range(0, len(classes), batch)]
        return torch.cat(out).mul(255).round().to(torch.uint8)

    def sample_factors(self, n: int, seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.stack([torch.randint(s, (n,), generator=g) for s in self.spec.factor_sizes], 1)

    def training_set(self, n: int | None = None, seed: int = 0, cache_dir=None):
        """i.i.d. factor draws with their images, as a data.ImageSet (labels = flat grid index).

        Cached under <cache>/data/ with a sha256 of the images, checked on every load.
        """
        if n is None and self.spec.source == "file":   # the whole grid, in file order
            n = self.spec.n_combinations
            classes = torch.from_numpy(np.stack(np.unravel_index(np.arange(n), self.spec.factor_sizes), 1))
        else:
            n = n or self.spec.n_train_default
            classes = self.sample_factors(n, seed)
        flat = torch.as_tensor(np.ravel_multi_index(classes.numpy().T, self.spec.factor_sizes))
        path = paths.cache_dir(cache_dir) / "data" / f"{self.spec.name}-n{n}-seed{seed}.pt"
        if path.exists():
            saved = torch.load(path, weights_only=False)
            if _digest(saved["images"]) != saved["sha256"] or not torch.equal(saved["flat"], flat):
                raise DataError(f"{path} does not match its checksum or its factor draws; delete it to "
                                f"regenerate it")
            images = saved["images"]
        else:
            images = self._render(classes) if self._file is None else self.images(classes)   # cached on disk, not kept
            atomic_save({"images": images, "flat": flat, "sha256": _digest(images)}, path)
        fp = hashlib.sha256(f"{self.spec.name}|{_digest(images)}".encode()).hexdigest()[:16]
        return ImageSet(images, flat, self.spec, "train", fp)


def _digest(images: torch.Tensor) -> str:
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()


def _probe(fd: "FactorData") -> list[int]:
    return fd.images(fd.sample_factors(64, seed=12345)).flatten(1).sum(1).tolist()


def probe_digest(dataset: DatasetSpec) -> list[int]:
    """The renderer's output on a fixed probe set, as per-image pixel sums (pinned in data/checksums.json)."""
    fd = FactorData.__new__(FactorData)   # without the check this digest feeds
    fd.spec, fd._file = dataset, None
    return _probe(fd)


def open_shapes3d(spec: DatasetSpec, root: Path):
    """A reader flat-index -> uint8 NCHW for DeepMind's 3dshapes.h5, after checking its layout."""
    path = root / "3dshapes" / "3dshapes.h5"
    if not path.exists():
        raise DataError(f"3DShapes not found at {path}: {spec.how_to_get}")
    import h5py
    f = h5py.File(path, "r")
    if "images" not in f or "labels" not in f:
        raise DataError(f"{path} lacks the keys 'images' and 'labels'")
    imgs, labels = f["images"], f["labels"]
    expect = (spec.n_combinations, 64, 64, 3)
    if imgs.shape != expect or labels.shape != (spec.n_combinations, 6):
        raise DataError(f"{path}: images {imgs.shape} / labels {labels.shape}, expected {expect} / "
                        f"({spec.n_combinations}, 6)")
    _check_shapes3d_order(labels, spec, path)

    def read(flat):
        uniq, inverse = np.unique(flat, return_inverse=True)  # h5py wants increasing indices
        return torch.from_numpy(imgs[uniq][inverse]).permute(0, 3, 1, 2).contiguous()
    return read


def open_dsprites(spec: DatasetSpec, root: Path):
    """A reader flat-index -> uint8 NCHW for DeepMind's dSprites .npz, after checking its layout."""
    path = root / "dsprites" / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
    if not path.exists():
        raise DataError(f"dSprites not found at {path}: {spec.how_to_get}")
    z = np.load(path, allow_pickle=False)
    if "imgs" not in z or "latents_classes" not in z:
        raise DataError(f"{path} lacks the keys 'imgs' and 'latents_classes'")
    imgs, classes = z["imgs"], z["latents_classes"]
    if imgs.shape != (spec.n_combinations, 64, 64) or classes.shape != (spec.n_combinations, 6):
        raise DataError(f"{path}: imgs {imgs.shape} / latents_classes {classes.shape}, expected "
                        f"({spec.n_combinations}, 64, 64) / ({spec.n_combinations}, 6)")
    _check_grid_order(classes[:, 1:], spec, path)  # column 0 is colour (one value)
    return lambda flat: torch.from_numpy(imgs[flat] * 255).unsqueeze(1).to(torch.uint8)


def _check_shapes3d_order(labels, spec: DatasetSpec, path: Path) -> None:
    """3dshapes.h5 stores factor values, not classes: check which columns step where."""
    first = np.asarray(labels[0], dtype=np.float64)
    fastest = spec.factor_sizes[-1]
    changed_1 = np.flatnonzero(np.asarray(labels[1], dtype=np.float64) != first).tolist()
    changed_k = np.flatnonzero(np.asarray(labels[fastest], dtype=np.float64) != first).tolist()
    if changed_1 != [5] or changed_k != [4]:
        raise DataError(f"{path}: labels are not in the factor-grid order (orientation fastest)")


def _check_grid_order(labels, spec: DatasetSpec, path: Path) -> None:
    """The factor tuple at a few flat indices must be the C-order unravelling of that index."""
    n = spec.n_combinations
    for idx in sorted({0, 1, n // 3, n // 2, n - 1}):
        row = np.asarray(labels[idx], dtype=np.float64)
        expect = np.array(np.unravel_index(idx, spec.factor_sizes), dtype=np.float64)
        if not np.array_equal(row, expect):
            raise DataError(f"{path}: row {idx} has factors {row.tolist()}, expected {expect.tolist()} "
                            f"(file not in the factor-grid order)")
