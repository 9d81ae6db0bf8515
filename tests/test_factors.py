"""Factor datasets: renderers pinned, real-file loaders on tiny files in the real formats, cache checks."""
import dataclasses

import h5py
import numpy as np
import pytest
import torch

from hebm_lib import data
from hebm_lib.data import factors


@pytest.mark.parametrize("name", [n for n, s in data.DATASETS.items() if s.is_factor_data and s.source == "procedural"])
def test_renderers_are_deterministic_and_match_their_pinned_probe(name):
    fd = factors.FactorData(data.spec(name))       # raises if the probe does not match
    c = fd.sample_factors(20, seed=1)
    a = fd.images(c)
    factors._RENDERED.clear()   # rendered again, not the kept copy
    b = fd.images(c)
    assert torch.equal(a, b) and a.dtype == torch.uint8 and tuple(a.shape[1:]) == fd.spec.image_shape


def test_rendered_draws_are_kept_for_the_next_ask_and_cannot_be_changed_through_a_caller():
    fd = factors.FactorData(data.spec("shapes3d_proc32"))
    c = fd.sample_factors(30, seed=2)
    first = fd.images(c)
    render, calls = fd.spec.render, []
    fd.spec = dataclasses.replace(fd.spec, render=lambda *a: calls.append(1) or render(*a))
    first[:] = 0                                  # a caller writing into its images
    again = fd.images(c)
    assert not calls and again.float().sum() > 0  # not rendered again, and not the caller's zeros
    kept = again.clone()
    again[:] = 0                                  # a caller writing into a kept copy
    assert torch.equal(fd.images(c), kept) and not calls
    factors._RENDERED.clear()
    assert torch.equal(kept, fd.images(c)) and calls    # the kept copy is the renderer's output


@pytest.mark.parametrize("name", ["shapes3d_proc32", "dsprites_proc32"])
def test_every_factor_changes_the_image(name):
    fd = factors.FactorData(data.spec(name))
    base = torch.tensor([[s // 2 for s in fd.spec.factor_sizes]])
    for k, size in enumerate(fd.spec.factor_sizes):
        other = base.clone()
        other[0, k] = (base[0, k] + max(1, size // 8)) % size   # (a half turn leaves an ellipse as it was)
        assert not torch.equal(fd.images(base), fd.images(other)), fd.spec.factor_names[k]


def test_factor_cardinalities_are_the_real_datasets():
    assert data.spec("shapes3d_proc").factor_sizes == (10, 10, 10, 8, 4, 15)
    assert data.spec("shapes3d").n_combinations == 480_000
    assert data.spec("dsprites_proc").factor_sizes == (3, 6, 40, 32, 32)
    assert data.spec("dsprites").n_combinations == 737_280


def test_bad_factor_input_is_an_error():
    fd = factors.FactorData(data.spec("dsprites_proc32"))
    with pytest.raises(ValueError, match="out of range"):
        fd.images(torch.tensor([[3, 0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="N x 5"):
        fd.images(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(data.DataError, match="valid datasets: .*shapes3d"):
        data.spec("cars3d")


def test_training_set_is_cached_and_a_corrupt_cache_is_refused(tmp_path):
    fd = factors.FactorData(data.spec("dsprites_proc32"))
    first = fd.training_set(50, cache_dir=tmp_path)
    path = next((tmp_path / "data").glob("*.pt"))
    again = fd.training_set(50, cache_dir=tmp_path)
    assert torch.equal(first.images, again.images) and first.fingerprint == again.fingerprint
    flat = np.ravel_multi_index(fd.sample_factors(50, 0).numpy().T, fd.spec.factor_sizes)
    assert first.labels.tolist() == flat.tolist()
    saved = torch.load(path, weights_only=False)
    saved["images"][0, 0, 0, 0] ^= 255
    torch.save(saved, path)
    with pytest.raises(data.DataError, match="checksum"):
        fd.training_set(50, cache_dir=tmp_path)


def _tiny(name, sizes):
    return dataclasses.replace(data.spec(name), factor_sizes=sizes, factor_names=tuple("abcdef"[:len(sizes)]))


def test_real_3dshapes_h5_is_read_by_factor_tuple(tmp_path):
    sizes = (2, 2, 2, 2, 2, 3)
    spec = _tiny("shapes3d", sizes)
    n = spec.n_combinations
    grid = np.stack(np.unravel_index(np.arange(n), sizes), 1)
    images = (np.arange(n)[:, None, None, None] * np.ones((1, 64, 64, 3))).astype(np.uint8)
    (tmp_path / "3dshapes").mkdir()
    with h5py.File(tmp_path / "3dshapes" / "3dshapes.h5", "w") as f:
        f["images"] = images
        f["labels"] = grid.astype(np.float64) / 10   # values, not classes, as in the real file
    fd = factors.FactorData(spec, tmp_path)
    classes = torch.tensor([[1, 0, 1, 1, 0, 2], [0, 0, 0, 0, 0, 0], [1, 0, 1, 1, 0, 2]])
    out = fd.images(classes)
    expect = np.ravel_multi_index(classes.numpy().T, sizes)
    assert out.shape == (3, 3, 64, 64) and out[:, 0, 0, 0].tolist() == expect.tolist()
    # rows not in grid order are refused
    (tmp_path / "bad" / "3dshapes").mkdir(parents=True)
    with h5py.File(tmp_path / "bad" / "3dshapes" / "3dshapes.h5", "w") as f:
        f["images"] = images
        f["labels"] = np.stack(np.unravel_index(np.arange(n), sizes, order="F"), 1).astype(np.float64)
    with pytest.raises(data.DataError, match="factor-grid order"):
        factors.FactorData(spec, tmp_path / "bad")


def test_real_dsprites_npz_is_read_by_factor_tuple(tmp_path):
    sizes = (3, 2, 2, 2, 2)
    spec = _tiny("dsprites", sizes)
    n = spec.n_combinations
    grid = np.stack(np.unravel_index(np.arange(n), sizes), 1)
    imgs = np.zeros((n, 64, 64), np.uint8)
    imgs[np.arange(n), 0, np.arange(n) % 64] = 1
    (tmp_path / "dsprites").mkdir()
    np.savez(tmp_path / "dsprites" / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz", imgs=imgs,
             latents_classes=np.concatenate([np.zeros((n, 1), np.int64), grid], 1))
    fd = factors.FactorData(spec, tmp_path)
    out = fd.images(torch.tensor([[2, 1, 0, 1, 1]]))
    idx = np.ravel_multi_index((2, 1, 0, 1, 1), sizes)
    assert out.shape == (1, 1, 64, 64) and out[0, 0, 0, idx % 64] == 255


def test_missing_real_files_say_how_to_get_them(tmp_path):
    with pytest.raises(data.DataError, match="github.com/deepmind/3dshapes-dataset"):
        factors.FactorData(data.spec("shapes3d"), tmp_path)
    with pytest.raises(data.DataError, match="dsprites-dataset"):
        factors.FactorData(data.spec("dsprites"), tmp_path)
