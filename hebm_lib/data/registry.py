"""The types of the data package: a data set's spec (what it is, how to read and fetch it), the ImageSet
every reader returns, DataError, checksums. The bottom of the data package: it imports nothing else of it;
the table of data sets is hebm_lib.data.catalog.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import paths
from ..distributions import to_unit_range
from ..errors import DataError   # raised here; defined where a command reads it

CHECKSUMS_FILE = paths.CHECKSUMS_FILE


@dataclass(frozen=True)
class DatasetSpec:
    """One data set, everything about it in one place: what it is, where its files come from, its reader."""
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
    splits: tuple[str, ...] = ("train", "test")   # every split of its files (what `hebm data fetch` verifies)
    # read(spec, split, data_dir, checksums) -> ImageSet, verified; None for factor data (FactorData reads it)
    read: Callable | None = field(default=None, compare=False, repr=False)
    # fetch(spec, data_dir) -> a line saying where it came from; None: nothing to fetch (how_to_get says)
    fetch: Callable | None = field(default=None, compare=False, repr=False)
    # factor data: render(factor classes N x F, side) -> float images in [0, 1] (procedural), or
    # open(spec, data_dir) -> a reader flat grid index -> uint8 images (the real file)
    render: Callable | None = field(default=None, compare=False, repr=False)
    open: Callable | None = field(default=None, compare=False, repr=False)

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


def load_checksums(path: Path = CHECKSUMS_FILE) -> dict:
    return json.loads(Path(path).read_text())


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


