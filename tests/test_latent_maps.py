"""Figures 2, 6, 7: the class filter of the toy data, grid sweeps, class-change rates, MMD, prior chains."""
import math

import pytest
import torch
from torch import nn

from hebm_lib import configs, data
from hebm_lib.configs import EBMPrior
from hebm_lib.data.registry import DataError, ImageSet
from hebm_lib.evaluation import latent_maps
from hebm_lib.models.priors import JointEBMPrior


def _images(labels):
    labels = torch.tensor(labels)
    imgs = torch.arange(len(labels), dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()
    return ImageSet(imgs, labels, data.spec("mnist"), "train", "fp")


def test_only_classes_keeps_those_labels_in_order_and_changes_the_fingerprint():
    ds = _images([3, 0, 1, 2, 0, 7])
    kept = ds.only_classes((0, 2))
    assert kept.labels.tolist() == [0, 2, 0] and kept.images[:, 0, 0, 0].tolist() == [1, 3, 4]
    assert kept.fingerprint != ds.fingerprint and ds.only_classes(None) is ds
    with pytest.raises(DataError, match="no image of classes"):
        ds.only_classes((5,))


def test_the_class_filter_leaves_every_config_hash_unchanged_while_unset():
    # data.classes at its default (None) is left out of the hash (tests/test_configs.py pins the hashes)
    assert configs.get_config("fmnist_ours", "paper", {"data.classes": None}).hash == \
        configs.get_config("fmnist_ours", "paper").hash
    toy = configs.get_config("mnist012_ours", "cpu")
    assert toy.data.classes == (0, 1, 2)
    assert toy.hash != configs.get_config("mnist012_ours", "cpu", {"data.classes": [0, 1]}).hash


def test_factor_data_refuses_a_class_filter():
    cfg = configs.get_config("shapes3d_ours", "smoke", {"data.classes": [0]})
    with pytest.raises(DataError, match="does not have"):
        data.training_set(cfg.data)


def test_vary_units_sets_the_swept_coordinates_to_the_grid_and_holds_the_rest():
    base = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    out = latent_maps.vary_units(base, [0, 2], torch.tensor([-1.0, 1.0]))
    assert out.shape == (2, 4, 3)
    assert out[1].tolist() == [[-1, 5, -1], [-1, 5, 1], [1, 5, -1], [1, 5, 1]]
    assert base.tolist() == [[1, 2, 3], [4, 5, 6]]


class _SignModel:
    """Decodes z to a one-pixel image: the sign of z[0] (class 1 if positive, else 0)."""
    def decode(self, z):
        return (z[:, :1] > 0).float().view(-1, 1, 1, 1)


class _PixelJudge(nn.Module):
    def forward(self, x):
        p = x.flatten(1)[:, :1]
        return torch.cat([1 - p, p], 1)


def test_class_change_rate_known_answer():
    base = torch.tensor([[0.5, 0.0], [-0.5, 0.0]])
    values = torch.tensor([-2.0, -1.0, 1.0, 2.0])
    judge, model = _PixelJudge(), _SignModel()
    # sweeping unit 0 flips the class on half the grid; sweeping unit 1 never does
    assert latent_maps.class_change_rate(judge, model, base, [0], values).tolist() == [0.5, 0.5]
    assert latent_maps.class_change_rate(judge, model, base, [1], values).tolist() == [0.0, 0.0]


def test_mmd_known_answers():
    x, y = torch.zeros(50, 2), torch.full((40, 2), 1.0)   # |x - y|^2 = 2
    assert latent_maps.mmd_rbf(x, y) == pytest.approx(2 - 2 * math.exp(-1.0), abs=1e-6)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2000, 2, generator=g), torch.randn(2000, 2, generator=g)
    assert abs(latent_maps.mmd_rbf(a, b)) < 2e-3
    assert latent_maps.mmd_rbf(a, b + 2.0) > 0.3
    assert latent_maps.mmd_rbf(a, b) == pytest.approx(latent_maps.mmd_rbf(b, a), abs=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        latent_maps.mmd_rbf(a[:1], b)


def _prior(dim=2):
    torch.manual_seed(0)
    return JointEBMPrior(dim, EBMPrior(hidden=8, layers=2, langevin_steps=5))


def test_log_density_grid_is_the_prior_on_the_grid_rows_y_columns_x():
    prior, values = _prior(), torch.tensor([-1.0, 0.0, 2.0])
    grid = latent_maps.log_density_grid(prior, values)
    with torch.no_grad():
        assert grid[2, 0].item() == pytest.approx(prior.log_density(torch.tensor([[-1.0, 2.0]])).item(), abs=1e-5)
        assert grid[0, 1].item() == pytest.approx(prior.log_density(torch.tensor([[0.0, -1.0]])).item(), abs=1e-5)


def test_prior_chains_start_at_the_init_and_end_where_the_sampler_ends():
    prior = _prior()
    init = torch.randn(7, 2, generator=torch.Generator().manual_seed(1))
    chain = latent_maps.prior_chains(prior, 7, torch.Generator().manual_seed(2), init=init)
    assert chain.shape == (6, 7, 2) and torch.equal(chain[0], init)
    direct = prior.sample(7, generator=torch.Generator().manual_seed(2), init=init)
    assert torch.allclose(chain[-1], direct, atol=1e-5)


def test_image_sheet_tiles_row_major_and_maps_pixels_to_unit_range():
    from hebm_lib.report.notebook import image_sheet
    imgs = torch.arange(6, dtype=torch.float).view(6, 1, 1, 1).expand(6, 1, 2, 2) / 5 * 2 - 1   # -1 .. 1
    sheet = image_sheet(imgs, 2, 3)
    assert sheet.shape == (4, 6)
    assert sheet[0, ::2].tolist() == pytest.approx([0.0, 0.2, 0.4]) and sheet[2, ::2].tolist() == pytest.approx([0.6, 0.8, 1.0])
    assert image_sheet(torch.zeros(4, 3, 2, 2), 2, 2).shape == (4, 4, 3)
