"""Data: every data set in one record, verified readers, fetching.

    registry   the types: DatasetSpec, ImageSet, DataError, checksums
    images     the image sets' readers and fetchers (MNIST, MNIST-5k, Fashion-MNIST, SVHN, CIFAR-10, CelebA,
               static MNIST, OMNIGLOT, the pendulum); the anomaly split
    factors    3DShapes and dSprites: real-file readers and procedural renderers, images by factor tuple
    pendulum   the VHP paper's pendulum images, rendered
    catalog    DATASETS: every data set's record, with its reader and fetcher
"""
from __future__ import annotations

from .. import paths
from .catalog import DATASETS, spec
from .factors import FactorData
from .images import anomaly_split
from .registry import DataError, DatasetSpec, ImageSet, load_checksums


def load(name: str, split: str, data_dir=None, checksums: dict | None = None) -> ImageSet:
    """Split ``split`` of image data set ``name`` as verified uint8 tensors (its record's reader)."""
    s = spec(name)
    if s.read is None:
        raise DataError(f"{name} is factor data: use hebm_lib.data.training_set or FactorData, not load()")
    return s.read(s, split, paths.data_dir(data_dir), checksums or load_checksums())


def available(name: str, data_dir=None) -> bool:
    """True when the test split of ``name`` loads (files present and verified): a quick check; ``fetch``
    verifies every split."""
    try:
        load(name, "test", data_dir)
        return True
    except DataError:
        return False


def require(names, needed_by: str, data_dir=None) -> None:
    """Refuse, before anything trains, when a data set of ``names`` is not present and verified: one line naming
    every missing one, the folder looked in and the command that gets them on this install's route."""
    root = paths.data_dir(data_dir)
    missing = [n for n in dict.fromkeys(names) if spec(n).source == "file" and not available(n, data_dir)]
    if missing:
        raise DataError(f"{needed_by} needs data not present in {root}: "
                        f"{', '.join(f'{n} ({spec(n).display_name})' for n in missing)}; {fetch_hint(missing)}, "
                        f"or set HEBM_DATA_DIR to a folder that has them")


def fetch_hint(names) -> str:
    """How to get data sets ``names``: in a checkout `make data` fetches the offline ones; everywhere `hebm data
    fetch NAME` fetches what has a fetcher (SVHN and CIFAR-10 online); the others are placed by hand."""
    fetchable = [n for n in names if spec(n).fetch is not None]
    by_hand = [f"{n}: {spec(n).how_to_get}" for n in names if spec(n).fetch is None]
    command = f"`hebm data fetch {' '.join(fetchable)}`"
    if fetchable and set(fetchable) <= set(paths.OFFLINE_DATA) and (paths.REPO_ROOT / "Makefile").is_file() and paths.IS_CHECKOUT:
        command = f"`make data` (or {command})"
    return "; ".join(([f"run {command}"] if fetchable else []) + by_hand)


def fetch(name: str, data_dir=None) -> str:
    """Make data set ``name`` available under data_dir (its record's fetcher), read it back, and return a line
    saying where it came from. Every file of every split is verified, before and after: one that is there but
    not as data/checksums.json records is an error naming it, never fetched over."""
    s, root = spec(name), paths.data_dir(data_dir)   # an unknown name is an error listing the valid ones
    if _first_missing(s, root) is None:
        return f"{name}: present and verified"
    if s.fetch is None:
        raise DataError(f"{name}: nothing to fetch here; {s.how_to_get}")
    line = s.fetch(s, root)
    missing = _first_missing(s, root)   # the fetched files verify, or the error names the file
    if missing is not None:
        raise missing
    return line


def _first_missing(s: DatasetSpec, root) -> DataError | None:
    """Why the first split that does not load fails (None: every split verifies); a corrupt file is raised."""
    checksums, missing = load_checksums(), None
    for split in s.splits:
        try:
            load(s.name, split, root, checksums)
        except DataError as exc:
            if exc.corrupt:
                raise
            missing = missing or exc
    return missing


def training_set(data_cfg, data_dir=None, loaded: dict | None = None) -> ImageSet:
    """The images a config trains on: its split, or with ``held_out`` the anomaly protocol's 80% split,
    then the images of ``classes`` only, then the first ``n_train`` of a fixed shuffle. Factor datasets (3DShapes, dSprites) give ``n_train``
    i.i.d. factor draws (their real files: every image when ``n_train`` is None). ``loaded``: the splits read so
    far, (name, split) -> ImageSet, filled in; a caller asking for many configs reads each split once."""
    if spec(data_cfg.name).is_factor_data:
        if data_cfg.classes is not None:
            raise DataError(f"data.classes selects labels, which {data_cfg.name} does not have; remove it")
        return FactorData(spec(data_cfg.name), data_dir).training_set(data_cfg.n_train)
    loaded = {} if loaded is None else loaded

    def split(name: str) -> ImageSet:
        if (data_cfg.name, name) not in loaded:
            loaded[data_cfg.name, name] = load(data_cfg.name, name, data_dir)
        return loaded[data_cfg.name, name]
    if data_cfg.held_out is None:
        ds = split(data_cfg.split)
    else:
        ds = anomaly_split(split("train"), split("test"), data_cfg.held_out)[0]
    return ds.only_classes(data_cfg.classes).subset(data_cfg.n_train)


__all__ = ["DATASETS", "DataError", "DatasetSpec", "FactorData", "ImageSet", "anomaly_split", "available", "fetch",
           "fetch_hint", "load", "load_checksums", "require", "spec", "training_set"]
