"""Havtorn et al.'s HVAE (Supp. Table 1): the importance-weighted L^{>k} against closed forms, free nats,
binarisation."""
import math

import torch

from hebm_lib.configs import get_config
from hebm_lib.models import build_model
from hebm_lib.distributions import binarise, binarise_uint8
from hebm_lib.models.top_down import TopDownBounds
from hebm_lib.models.hvae_conv import free_nats_at

A, S2, B, SIG2 = 0.8, 0.3, 1.5, 0.2   # z_2 ~ N(0, 1), z_1 | z_2 ~ N(A z_2, S2), x | z_1 ~ N(B z_1, SIG2)


def _log_normal(x, var):
    return -0.5 * (x ** 2 / var + math.log(2 * math.pi * var)).sum(-1)


class LinearGaussian(TopDownBounds):
    """A two-layer linear-Gaussian hierarchy: every L^{>k} is a Gaussian integral."""
    latent_dims = (1, 1)

    def __init__(self, exact_top_posterior: bool = False):
        super().__init__()
        self.exact = exact_top_posterior

    def _bottom_up(self, x):
        return {"x": x}

    def _layer(self, i, feats, zs):
        x = feats["x"]
        if i == 1:
            if self.exact:   # p(z_2 | x) of x = A B z_2 + noise (z_1 at its prior mean)
                v = 1 / (1 + (A * B) ** 2 / SIG2)
                q = (v * A * B * x / SIG2, torch.full_like(x, math.log(v)))
            else:
                q = (0.3 * x, torch.full_like(x, math.log(0.5)))
            return q, (torch.zeros_like(x), torch.zeros_like(x))
        return (0.5 * x + 0.1 * zs[1], torch.full_like(x, math.log(0.2))), (A * zs[1], torch.full_like(x, math.log(S2)))

    def _log_likelihood(self, x, zs, feats):
        return _log_normal(x - B * zs[0], SIG2)


X = torch.tensor([[-1.3], [0.2], [2.1]])


def test_l_above_1_with_the_exact_top_posterior_is_exact_at_one_sample():
    got = LinearGaussian(exact_top_posterior=True).likelihood_bound(X, 1, torch.Generator().manual_seed(0))
    assert torch.allclose(got, _log_normal(X, SIG2 + (A * B) ** 2), atol=1e-5)


def test_importance_weighted_bounds_converge_to_the_integrals():
    model, g = LinearGaussian(), torch.Generator().manual_seed(0)
    log_px = _log_normal(X, SIG2 + B ** 2 * (S2 + A ** 2))                       # L^{>0}: log p(x)
    assert torch.allclose(model.likelihood_bound(X, 0, g, samples=40_000, chunk=40_000), log_px, atol=0.02)
    log_px_mode = _log_normal(X, SIG2 + (A * B) ** 2)                             # z_1 at its prior mean
    assert torch.allclose(model.likelihood_bound(X, 1, g, samples=40_000, chunk=40_000), log_px_mode, atol=0.02)
    # every layer from the prior: z = 0, one deterministic value
    assert torch.allclose(model.likelihood_bound(X, 2, g), _log_normal(X, SIG2), atol=1e-6)
    # one sample: a lower bound in expectation (Jensen), clearly below log p(x) for this poor q
    one = torch.stack([model.likelihood_bound(X, 0, g) for _ in range(4000)]).mean(0)
    assert (one < log_px - 0.05).all()


def test_llr_is_the_difference_of_the_bounds_drawn_in_turn():
    model = LinearGaussian()
    g = torch.Generator().manual_seed(3)
    expected = model.likelihood_bound(X, 0, g, samples=8) - model.likelihood_bound(X, 1, g, samples=8)
    assert torch.equal(model.llr(X, 1, torch.Generator().manual_seed(3), samples=8), expected)


def _conv_model():
    torch.manual_seed(0)
    return build_model(get_config("fmnist_hvae_oodd", "smoke"))


def test_conv_hvae_layers_and_the_bound_with_every_layer_from_the_prior():
    model, x = _conv_model().eval(), binarise(torch.rand(4, 1, 28, 28) * 2 - 1, torch.Generator().manual_seed(0))
    assert model.latent_dims == (8 * 14 * 14, 16, 8)
    z, _ = model.encode(x)
    assert z.shape == (4, sum(model.latent_dims)) and model.decode(z).abs().max() <= 1
    a = model.likelihood_bound(x, 3, torch.Generator().manual_seed(0), samples=4)
    b = model.likelihood_bound(x, 3, torch.Generator().manual_seed(1), samples=4)
    assert torch.allclose(a, b)   # nothing is drawn
    kl = model.kl_per_layer(x)
    assert kl.shape == (3,) and (kl >= 0).all()


def test_free_nats_floor_each_layers_kl_and_stop_its_gradient():
    model, x = _conv_model().train(), torch.rand(8, 1, 28, 28) * 2 - 1
    model.free_nats.fill_(1e6)   # above every layer's KL: the KL term is constant
    terms = model.neg_elbo_terms(x, torch.Generator().manual_seed(0))
    assert torch.allclose(terms.kl, torch.tensor(3e6))
    terms.kl.backward()
    assert all(p.grad is None or p.grad.abs().max() == 0 for p in model.parameters())
    model.free_nats.fill_(0.0)
    terms = model.neg_elbo_terms(x, torch.Generator().manual_seed(0))
    assert torch.allclose(terms.kl, terms.kl_layers.sum(), rtol=1e-5)
    assert [free_nats_at(i, 2.0, 10, 10) for i in (0, 9, 10, 15, 20, 99)] == [2.0, 2.0, 2.0, 1.0, 0.0, 0.0]


def test_binarise_keeps_the_grey_level_as_the_probability_of_white():
    x = torch.full((200_000,), 0.5)   # grey level 0.75 on [0, 1]
    b = binarise(x, torch.Generator().manual_seed(0))
    assert set(b.unique().tolist()) == {-1.0, 1.0}
    assert abs(((b + 1) / 2).mean().item() - 0.75) < 0.005
    u = binarise_uint8(torch.full((200_000,), 51, dtype=torch.uint8), torch.Generator().manual_seed(0))
    assert set(u.unique().tolist()) == {0, 255} and abs((u == 255).float().mean().item() - 0.2) < 0.005
