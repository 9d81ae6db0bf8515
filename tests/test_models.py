import pytest
import torch

from hebm_lib.configs import PROFILES, config_names, get_config
from hebm_lib.distributions import kl_to_standard as gaussian_kl_to_standard
from hebm_lib.distributions import kl_to_standard_mc as gaussian_kl_mc
from hebm_lib.models import LatentModel, build_model, count_parameters


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", config_names())
def test_shapes_for_every_config(name, profile):
    cfg = get_config(name, profile)
    model = build_model(cfg)
    x = torch.rand(2, *cfg.nets.image_shape) * 2 - 1
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (2, sum(cfg.nets.latent_dims))
    assert [z.shape[1] for z in model.split(mu)] == list(cfg.nets.latent_dims)
    out = model.decode(mu)
    assert out.shape == x.shape and out.abs().max() <= 1
    assert model.log_joint(x, mu).shape == (2,)
    assert (count_parameters(model.prior) > 0) == (cfg.prior is not None)
    assert isinstance(model, LatentModel)
    terms = model.neg_elbo_terms(x, torch.Generator().manual_seed(0), cfg.train.kl)
    assert terms.kl_layers.shape == (len(cfg.nets.latent_dims),) and torch.isfinite(terms.kl_layers).all()


def test_kl_estimator_matches_closed_form_under_gaussian_prior():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g) * 0.5
    n = 200_000
    z = mu + (0.5 * logvar).exp() * torch.randn(n, 4, 3, generator=g)
    mc = gaussian_kl_mc(z.reshape(-1, 3), mu.repeat(n, 1), logvar.repeat(n, 1)).reshape(n, 4).mean(0)
    assert torch.allclose(mc, gaussian_kl_to_standard(mu, logvar), atol=0.03)


def test_kl_is_zero_at_the_prior():
    assert torch.allclose(gaussian_kl_to_standard(torch.zeros(2, 5), torch.zeros(2, 5)), torch.zeros(2))


def test_log_joint_decomposes():
    cfg = get_config("mnist_ours", "smoke")
    model = build_model(cfg).eval()
    x, z = torch.rand(3, 1, 28, 28) * 2 - 1, torch.randn(3, 6)
    expected = -model.reconstruction_nll(x, model.decode(z)) + model.prior.tilt(z) - 0.5 * z.pow(2).sum(1)
    assert torch.allclose(model.log_joint(x, z), expected)


def test_layer_mask_selects_one_layer():
    model = build_model(get_config("svhn_ours", "smoke").nets)
    assert model.layer_mask(3).tolist() == [0] * 6 + [1] * 10
    assert model.layer_mask(1).tolist() == [0, 0, 1, 1] + [0] * 12


def test_bernoulli_likelihood_known_answers():
    """pro-VLAE's likelihood: cross-entropy of [0, 1] pixels; at mean 0.5 every pixel costs log 2."""
    import math
    cfg = get_config("shapes3d_provlae", "smoke")
    assert cfg.nets.likelihood == "bernoulli" and get_config("fmnist_ours", "smoke").nets.likelihood == "gaussian"
    model = build_model(cfg)
    x = (torch.rand(2, 3, 32, 32) > 0.5).float() * 2 - 1          # binary images on [-1, 1]
    half = torch.zeros_like(x)                                      # mean 0 on [-1, 1] = p 0.5
    assert torch.allclose(model.reconstruction_nll(x, half), torch.full((2,), 3 * 32 * 32 * math.log(2)))
    assert torch.allclose(model.reconstruction_nll(x, x), torch.zeros(2), atol=1e-2)   # up to the clamp
    grey = torch.zeros_like(x)                                      # a grey target: minimised at its own value
    assert (model.reconstruction_nll(grey, grey) < model.reconstruction_nll(grey, torch.full_like(x, 0.5))).all()
