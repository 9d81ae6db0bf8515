import math

import pytest
import torch

from hebm_lib.configs import PROFILES, config_names, get_config
from hebm_lib.distributions import kl_to_standard as gaussian_kl_to_standard
from hebm_lib.distributions import kl_to_standard_mc as gaussian_kl_mc
from hebm_lib.models import FAMILIES, LatentModel, build_model, count_parameters


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
    assert type(model) is FAMILIES[cfg.nets.kind][1]   # the family's row says which model its nets build


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


def test_a_new_system_family_is_one_nets_class_one_model_class_and_one_row(tmp_path):
    """What the registry promises: a family defined outside the library (its nets with their rules, its
    model, its row) is configured, validated, built and trained by the generic trainer, with no other edit."""
    from dataclasses import dataclass
    from typing import ClassVar

    from torch import nn

    from hebm_lib import configs
    from hebm_lib.models.base import ElboTerms, LatentModelBase
    from hebm_lib.training import train

    @dataclass(frozen=True)
    class LinearNets(configs.NetsFamily):
        kind: ClassVar[str] = "test-linear"
        image_shape: tuple[int, int, int]
        latent_dims: tuple[int, ...]
        width: int = 1
        sigma: float = 1.0
        channels: ClassVar[tuple] = ()

    class LinearVAE(LatentModelBase):    # z -> x linear, q(z | x) linear, N(0, I) prior
        def __init__(self, nets):
            super().__init__(nets)
            d, D = sum(nets.latent_dims), nets.image_shape[0] * nets.image_shape[1] * nets.image_shape[2]
            self.encoder, self.generator = nn.Linear(D, 2 * d), nn.Linear(d, D)
            self.prior, self.shape = GaussianPrior(d), nets.image_shape

        def encode(self, x):
            return self.encoder(x.flatten(1)).chunk(2, 1)

        def decode(self, z):
            return torch.tanh(self.generator(z)).view(-1, *self.shape)

        def neg_elbo_terms(self, x, rng, kl="analytic", autocast=None, kl_weights=None):
            mu, logvar = self.encode(x)
            z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=rng)
            kl_dims = gaussian_kl_to_standard(mu, logvar)
            return ElboTerms(self.reconstruction_nll(x, self.decode(z)).mean(), kl_dims.mean(), z, kl_dims.mean()[None])

    from hebm_lib.models.priors import GaussianPrior
    FAMILIES[LinearNets.kind] = (LinearNets, LinearVAE)
    try:
        cfg = get_config("mnist_vlae", "smoke", {"nets": {"kind": "test-linear", "image_shape": [1, 28, 28],
                                                           "latent_dims": [3]}, "schedule": {"kind": "constant"}})
        assert type(build_model(cfg)) is LinearVAE
        with pytest.raises(ValueError, match="own prior"):    # the base rules hold for the new family too
            get_config("mnist_ours", "smoke", {"nets": {"kind": "test-linear", "image_shape": [1, 28, 28],
                                                        "latent_dims": [3]}})
        images = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8)
        trainer = train(cfg, 0, tmp_path, images, device="cpu", progress=False)
        assert trainer.iteration == cfg.train.iterations and all(map(math.isfinite, (h["loss"] for h in trainer.history)))
    finally:
        del FAMILIES[LinearNets.kind], configs.NETS_CLASSES[LinearNets.kind]
