import torch

from hebm_lib.priors import JointEBMPrior
from hebm_lib.samplers import langevin, resample_layer


def test_langevin_recovers_gaussian_mean_and_variance():
    mean, std = torch.tensor([1.5, -2.0]), torch.tensor([0.5, 1.5])
    grad = lambda z: -(z - mean) / std ** 2
    g = torch.Generator().manual_seed(0)
    # relaxation rate per step is s^2 / (2 std^2): 4000 steps of s = 0.1 forget the start at 0
    z = langevin(grad, torch.zeros(20_000, 2), steps=4000, step_size=0.1, generator=g)
    assert torch.allclose(z.mean(0), mean, atol=0.04)
    # the discretisation inflates the variance by 1 / (1 - s^2 / (4 std^2)): at most 1% here
    assert torch.allclose(z.std(0), std, rtol=0.02)


def test_langevin_mask_moves_only_masked_coordinates():
    z0 = torch.randn(50, 4)
    mask = torch.tensor([0.0, 1.0, 1.0, 0.0])
    z = langevin(lambda z: -z, z0, 20, 0.3, torch.Generator().manual_seed(1), mask=mask)
    assert torch.equal(z[:, [0, 3]], z0[:, [0, 3]])
    assert not torch.allclose(z[:, 1:3], z0[:, 1:3])


def test_fast_mlp_chain_matches_generic_langevin():
    prior = JointEBMPrior(6, hidden=20, layers=3, spectral=True)
    weights = prior.frozen_weights()
    z0 = torch.randn(30, 6)
    for mask in (None, prior_mask := torch.tensor([1.0, 1, 0, 0, 0, 0])):
        generic = langevin(lambda z: prior.grad_log_density(z, weights), z0, 40, 0.4,
                           torch.Generator().manual_seed(3), mask)
        fast = prior.sample(30, 40, 0.4, generator=torch.Generator().manual_seed(3), init=z0, mask=mask)
        # same noise, same maths; only float rounding (TorchScript's kernel order) differs
        assert torch.allclose(generic, fast, atol=2e-3)
    assert torch.equal(fast[:, 2:], z0[:, 2:]) and prior_mask is not None


def test_resample_layer_keeps_other_layers():
    prior = JointEBMPrior(6, hidden=8, layers=2)
    base = torch.randn(1, 6)
    mask = torch.tensor([0.0, 0, 1, 1, 0, 0])
    for protocol in ("conditional", "joint-mix"):
        z = resample_layer(prior, base, mask, 10, 5, 0.4, torch.Generator().manual_seed(0), protocol)
        assert z.shape == (10, 6)
        assert torch.equal(z[:, [0, 1, 4, 5]], base.expand(10, -1)[:, [0, 1, 4, 5]])
        assert z[:, 2:4].std(0).min() > 0
