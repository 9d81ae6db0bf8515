"""The capacity study's pieces (hebm_lib.evaluation.ebm_capacity) on a model whose posterior is known: every
image's code is N(m, I), so the aggregate posterior is N(m, I) and the best tilt f(z) = m . z is KL |m|^2 / 2 from
N(0, I). A 1-Lipschitz energy net cannot get there when |m| > 1; an uncapped one can."""
import math

import pytest
import torch

from hebm_lib.configs import EBMPrior
from hebm_lib.evaluation.ebm_capacity import ideal_prior_images, layer_kl, refit_prior, with_prior
from hebm_lib.evaluation.ebm_effect import tilt_measures


class _KnownPosterior(torch.nn.Module):
    """A stand-in model: q(z | x) = N(m, exp(logvar)) for every image; decode(z) = z's first coordinate as an
    image; two latent layers of one coordinate each."""
    latent_dims = (1, 1)

    def __init__(self, m, logvar=0.0):
        super().__init__()
        self.m = torch.as_tensor(m, dtype=torch.float32)
        self.logvar = logvar
        self.prior = torch.nn.Identity()
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    @property
    def device(self):
        return self.anchor.device

    def encode(self, x):
        n = x.shape[0]
        return self.m.expand(n, -1).clone(), torch.full((n, len(self.m)), float(self.logvar))

    def decode(self, z):
        return z[:, :1, None, None].expand(-1, 1, 2, 2).tanh()


IMAGES = torch.zeros(400, 1, 2, 2, dtype=torch.uint8)


def _refit(m, **prior):
    cfg = EBMPrior(hidden=32, layers=2, lr=3e-3, langevin_steps=30, langevin_step_size=0.4, **prior)
    net, info = refit_prior(_KnownPosterior(m), IMAGES, cfg, iterations=400, batch_size=100, betas=(0.5, 0.999), seed=0)
    return tilt_measures(net, 40_000, torch.Generator().manual_seed(1)), info


def test_a_capped_energy_net_stays_within_half_a_nat_where_an_uncapped_one_goes_further():
    """Codes N((2, 0), I): the best tilt is 2 nats away. With spectral norm the refit stays under 1/2 nat (its
    bound and cap say why); without, and with f scaled x3 (cap 3, bound 4.5 nats), it goes well past 1/2 nat."""
    capped, _ = _refit([2.0, 0.0])
    # here the net reaches its cap (f nearly linear, slope 1), so the bound is tight: within sampling error
    assert capped["kl_from_gaussian"] <= capped["kl_bound"] + 2 * capped["kl_se"] and capped["kl_se"] < 0.05
    assert capped["kl_bound"] <= 0.5 * capped["lipschitz_cap"] ** 2
    assert capped["lipschitz_cap"] == pytest.approx(1.0, rel=0.05) and capped["kl_from_gaussian"] < 0.5 + 2 * capped["kl_se"]
    uncapped, info = _refit([2.0, 0.0], spectral_norm=False)
    assert info["diverged_at"] is None and uncapped["kl_from_gaussian"] > 1.0
    scaled, _ = _refit([2.0, 0.0], scale=3.0)
    assert scaled["lipschitz_cap"] == pytest.approx(3.0, rel=0.05) and scaled["kl_from_gaussian"] > 1.0
    assert scaled["kl_from_gaussian"] <= scaled["kl_bound"] + 2 * scaled["kl_se"]


def test_a_refit_that_diverges_keeps_the_net_of_before():
    cfg = EBMPrior(hidden=32, layers=2, lr=10.0, spectral_norm=False, langevin_steps=5, langevin_step_size=0.4)
    net, info = refit_prior(_KnownPosterior([3.0, 0.0]), IMAGES, cfg, iterations=300, batch_size=50,
                            betas=(0.5, 0.999), seed=0, max_energy_gap=50.0)
    assert info["diverged_at"] is not None
    assert all(torch.isfinite(p).all() for p in net.parameters())


def test_layer_kl_is_the_closed_form():
    """q = N(m, e^lv) per coordinate: KL to N(0, 1) = (m^2 + e^lv - 1 - lv) / 2, per layer."""
    m, lv = [0.5, -2.0], -1.0
    got = layer_kl(_KnownPosterior(m, lv), IMAGES[:10])
    assert got == pytest.approx([0.5 * (mi * mi + math.exp(lv) - 1 - lv) for mi in m], rel=1e-5)


def test_ideal_prior_images_decode_posterior_draws():
    """Codes N((1, 0), I) decoded to tanh(z_1): uint8 pixels whose mean is that of tanh(N(1, 1)) on [0, 255]."""
    images = ideal_prior_images(_KnownPosterior([1.0, 0.0]), IMAGES, torch.Generator().manual_seed(2))
    assert images.dtype == torch.uint8 and images.shape == IMAGES.shape
    expected = ((torch.randn(200_000, generator=torch.Generator().manual_seed(3)) + 1).tanh() + 1) / 2 * 255
    assert images.float().mean().item() == pytest.approx(expected.mean().item(), abs=12)


def test_with_prior_puts_the_model_s_own_prior_back_even_after_an_error():
    model = _KnownPosterior([0.0, 0.0])
    own, other = model.prior, torch.nn.Linear(2, 1)
    with pytest.raises(RuntimeError):
        with with_prior(model, other):
            assert model.prior is other
            raise RuntimeError("inside")
    assert model.prior is own
