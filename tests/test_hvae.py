import torch

from hebm_lib.configs import get_config
from hebm_lib.distributions import gaussian_kl, gaussian_log_prob
from hebm_lib.models import build_model

def _model():
    torch.manual_seed(0)
    return build_model(get_config("mnist_hvae", "smoke")).eval()


def test_gaussian_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mq, lq, mp, lp = (torch.randn(1, 3, generator=g) * 0.5 for _ in range(4))
    z = mq + (0.5 * lq).exp() * torch.randn(200_000, 3, generator=g)
    mc = (gaussian_log_prob(z, mq, lq) - gaussian_log_prob(z, mp, lp)).mean()
    assert torch.allclose(mc, gaussian_kl(mq, lq, mp, lp)[0], atol=0.02)


def test_elbo_is_the_k0_bound_and_analytic_kl_matches_mc():
    model, x = _model(), torch.rand(64, 1, 28, 28) * 2 - 1
    terms = model.neg_elbo_terms(x, torch.Generator().manual_seed(1), kl="mc")
    rec, kl_mc = terms.rec, terms.kl
    elbo = model.likelihood_bound(x, 0, torch.Generator().manual_seed(1))
    assert torch.allclose(elbo.mean(), -(rec + kl_mc), rtol=1e-5)
    mcs = [model.neg_elbo_terms(x, torch.Generator().manual_seed(s), kl="mc")[1] for s in range(200)]
    analytic = [model.neg_elbo_terms(x, torch.Generator().manual_seed(s), kl="analytic")[1] for s in range(200)]
    assert abs(torch.stack(mcs).mean() - torch.stack(analytic).mean()) < 0.05


def test_bound_with_every_layer_from_the_prior_is_deterministic_and_llr_has_shape():
    model, x = _model(), torch.rand(5, 1, 28, 28) * 2 - 1
    L = len(model.latent_dims)
    a = model.likelihood_bound(x, L, torch.Generator().manual_seed(0))
    b = model.likelihood_bound(x, L, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    # LLR^{>k} = L^{>0} - L^{>k}, both drawn in turn from the same generator
    g = torch.Generator().manual_seed(0)
    expected = model.likelihood_bound(x, 0, g) - model.likelihood_bound(x, 1, g)
    assert torch.equal(model.llr(x, 1, torch.Generator().manual_seed(0)), expected)
    assert not torch.equal(expected, torch.zeros(5))


def test_ancestral_sampling_from_given_noise_follows_the_hierarchy():
    """Figure 1's protocol: z_L = eps_L; redrawing a layer's noise moves that layer and those below it only,
    and with eps_i = 0 below the top each z_i is its conditional prior's mean."""
    torch.manual_seed(0)
    model = build_model(get_config("mnist_hvae6", "smoke")).eval()
    eps = torch.randn(5, sum(model.latent_dims))
    z = model.split(model.z_from_noise(eps))
    assert torch.equal(z[-1], model.split(eps)[-1])
    moved = eps.clone()
    moved[:, model.layer_mask(3).bool()] += 1.0   # the noise of z_4
    z2 = model.split(model.z_from_noise(moved))
    assert all(torch.equal(a, b) for a, b in zip(z[4:], z2[4:]))
    assert all(not torch.allclose(a, b) for a, b in zip(z[:4], z2[:4]))
    zero_below = eps * model.layer_mask(5)
    zs = model.split(model.z_from_noise(zero_below))
    with torch.no_grad():
        mu_4, _ = model.generator["p"][4](model.generator["td"][4](zs[5])).chunk(2, 1)
    assert torch.allclose(zs[4], mu_4)


def test_free_bits_hold_each_layers_kl_at_the_floor_and_change_nothing_when_off():
    """BIVA's free bits in the conditional HVAE (Figure 1's stand-in): a layer's KL below the floor counts as the
    floor, so it gets no gradient; without train.free_nats the bound is the plain sum of the layers' KLs."""
    model, x = _model().train(), torch.rand(32, 1, 28, 28) * 2 - 1
    plain = get_config("mnist_hvae", "smoke").train
    off = model.neg_elbo_terms(x, torch.Generator().manual_seed(1))
    model.begin_iteration(0, plain)
    assert torch.equal(model.neg_elbo_terms(x, torch.Generator().manual_seed(1)).kl, off.kl)
    assert torch.allclose(off.kl, off.kl_layers.sum(), rtol=1e-5)
    floor = off.kl_layers.max().item() + 1.0   # above every layer's KL: each counts as the floor
    model.begin_iteration(0, get_config("mnist_hvae", "smoke", {"train.free_nats": [floor, 10, 0]}).train)
    on = model.neg_elbo_terms(x, torch.Generator().manual_seed(1))
    assert torch.allclose(on.kl, torch.tensor(floor * len(model.latent_dims)), rtol=1e-6)
    model.zero_grad()
    on.kl.backward()
    assert all(p.grad is None or p.grad.abs().max() == 0 for p in model.encoder.parameters())   # no KL gradient
    model.begin_iteration(10, get_config("mnist_hvae", "smoke", {"train.free_nats": [floor, 10, 0]}).train)
    assert model.free_nats.item() == 0.0   # past the hold, with no decay: off
