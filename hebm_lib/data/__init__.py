"""Data: one registry of datasets and verified loaders.

    registry   DATASETS (every dataset, one spec type), ImageSet, DataError, checksums
    images     MNIST, MNIST-5k subset, Fashion-MNIST, SVHN, the pendulum; fetching; the anomaly split
    factors    3DShapes and dSprites: real-file readers and procedural renderers, images by factor tuple
    pendulum   the VHP paper's pendulum images, rendered
"""
from __future__ import annotations

from .factors import FactorData
from .images import anomaly_split, available, fetch, load
from .registry import DATASETS, DataError, DatasetSpec, ImageSet, load_checksums, spec


def training_set(data_cfg, data_dir=None) -> ImageSet:
    """The images a config trains on: its split, or with ``held_out`` the anomaly protocol's 80% split,
    then the images of ``classes`` only, then the first ``n_train`` of a fixed shuffle. Factor datasets (3DShapes, dSprites) give ``n_train``
    i.i.d. factor draws (their real files: every image when ``n_train`` is None)."""
    if spec(data_cfg.name).is_factor_data:
        if data_cfg.classes is not None:
            raise DataError(f"data.classes selects labels, which {data_cfg.name} does not have; remove it")
        return FactorData(spec(data_cfg.name), data_dir).training_set(data_cfg.n_train)
    if data_cfg.held_out is None:
        ds = load(data_cfg.name, data_cfg.split, data_dir)
    else:
        ds = anomaly_split(load(data_cfg.name, "train", data_dir), load(data_cfg.name, "test", data_dir),
                           data_cfg.held_out)[0]
    return ds.only_classes(data_cfg.classes).subset(data_cfg.n_train)


__all__ = ["DATASETS", "DataError", "DatasetSpec", "FactorData", "ImageSet", "anomaly_split", "available", "fetch",
           "load", "load_checksums", "spec", "training_set"]
